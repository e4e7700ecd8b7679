#!/bin/sh
# Runs every browser test: installs what they need (Debian's chromium and firefox-esr, npm
# packages, the python venv), builds the native host, the test latchkeyd and the latchkey command
# (the Firefox test installs the native messaging manifest with it), then runs node's test runner.
# The last line is "N passed, N failed"; the exit status is non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1
need=""
[ -x /usr/bin/chromium ] || need="$need chromium"
[ -x /usr/lib/firefox-esr/firefox-esr ] || need="$need firefox-esr"
if [ -n "$need" ]; then
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y $need >/dev/null || { echo "0 passed, 1 failed"; exit 1; }
fi
if [ ! -x tests/python/.venv/bin/python ]; then
  python3 -m venv tests/python/.venv && tests/python/.venv/bin/pip install -q -r tests/python/requirements.txt \
    || { echo "0 passed, 1 failed"; exit 1; }
fi
for d in "$here" "$root/bridges/electron"; do
  (cd "$d" && npm ci --no-audit --no-fund >/dev/null 2>&1) || { echo "0 passed, 1 failed"; exit 1; }
done
# scripts/test.sh has built every binary and example with every feature into target/debug and
# says so through LATCHKEY_BIN_DIR: building the two packages again here, with their default
# features, would put a `latchkey` without NFC support in its place for every later test.
if [ "${LATCHKEY_BIN_DIR:-}" != "$root/target/debug" ]; then
  cargo build -q -p latchkey-native-host --bin latchkey-native-host --examples -p latchkey-cli --bin latchkey \
    || { echo "0 passed, 1 failed"; exit 1; }
fi
out=$(mktemp)
(cd "$here" && node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$out" ./*.test.mjs)
status=$?
pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out" | tail -1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$out" | tail -1)
rm -f "$out"
pass=${pass:-0}
fail=${fail:-0}
if [ "$status" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$status" -eq 0 ]
