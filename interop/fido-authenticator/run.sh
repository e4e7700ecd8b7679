#!/usr/bin/env bash
# Runs the Latchkey client against Nitrokey's fido-authenticator (trussed's virtual platform, in
# process). A workspace of its own, with its own Cargo.lock; littlefs2-sys needs libclang for
# bindgen at build time.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! ldconfig -p 2>/dev/null | grep -q 'libclang\(-[0-9.]*\)\?\.so' && ! ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1; then
    echo "== installing libclang-dev (bindgen for littlefs2-sys)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclang-dev >/dev/null
fi

exec cargo test --locked --manifest-path "$here/Cargo.toml" "$@"
