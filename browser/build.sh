#!/bin/sh
# Builds the extension: target/browser/chromium (unpacked, for --load-extension) and
# target/browser/latchkey-firefox.xpi (unsigned; Firefox ESR with
# xpinstall.signatures.required=false). Usage: browser/build.sh [OUTDIR]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../target/browser}
rm -rf "$out/chromium" "$out/firefox"
mkdir -p "$out/chromium" "$out/firefox"
for b in chromium firefox; do
  cp "$here"/src/*.js "$out/$b/"
  cp "$here/manifest.$b.json" "$out/$b/manifest.json"
done
rm -f "$out/latchkey-firefox.xpi"
(cd "$out/firefox" && python3 -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for f in sorted(sys.argv[2:]): z.write(f)' "$out/latchkey-firefox.xpi" manifest.json *.js)
echo "$out"
