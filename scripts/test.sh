#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Rust: installs what the tests need
# (system packages, a pinned Python environment), then runs the Rust and Python suites.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each section says when it began (seconds since the start), so a slow run shows where; the disk
# left is printed first and again if the build fails (a linker killed by SIGBUS is how a full disk
# shows itself).
section() { echo "== $* (at ${SECONDS}s)"; }
disk() { df -h --output=avail,target . | awk -v said="$*" 'NR == 2 {print "== " said "disk: " $1 " free on " $2}'; }
disk

need_apt=()
# pcscd, vsmartcard-vpcd: NFC keys through a private pcscd and a virtual contactless reader;
# libpcsclite-dev: the `pcsc` feature (and pyscard, built from source with swig and python3-dev).
# The graphical prompt (crates/ui): GTK 4 and libadwaita to build it, gettext for its translations;
# its tests run it under Xvfb, read it through AT-SPI (python3-pyatspi) and take screenshots
# (imagemagick, x11-utils). iproute2 (`ss`): which process holds a key's connection.
for pkg in dbus-daemon swtpm swtpm-tools libtss2-dev libssl-dev pkg-config python3-venv python3-dev \
    libclang-dev chromium firefox-esr pcscd libpcsclite-dev vsmartcard-vpcd swig systemd \
    libgtk-4-dev libadwaita-1-dev gettext xvfb at-spi2-core python3-pyatspi imagemagick x11-utils adwaita-icon-theme iproute2; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
# The browser tests run under Node.js; use the machine's if it has one.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    section "installing system packages: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

venv=tests/python/.venv
if [ ! -x "$venv/bin/pytest" ] || ! cmp -s tests/python/requirements.txt "$venv/requirements.txt"; then
    section "preparing the Python environment (pinned in tests/python/requirements.txt)"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/python/requirements.txt
    cp tests/python/requirements.txt "$venv/requirements.txt"
fi

# One build from scratch gains nothing from incremental state, which would double the disk the
# build takes; a developer's own setting wins.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
section "the crate graph in ARCHITECTURE.md against cargo metadata"
status=0
python3 scripts/check-crate-graph.py || status=1

# The CLI built on its own has its own feature set (no other package's features unified into it):
# the README's first command must compile and work that way, and without GTK (nothing it builds
# links latchkey-ui; pkg-config finding nothing makes a GTK dependency fail the build). It runs
# before the workspace build, which then rebuilds target/debug/latchkey with every feature: the
# binary the tests, and a developer's later runs of single suites, use.
section "the README's first command: latchkey demo, the CLI built on its own"
PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH="" cargo run -q -p latchkey-cli -- demo || status=1

section "building"
cargo build --workspace --all-features --all-targets || {
    rc=$?
    disk "the build failed; "
    exit $rc
}

# The browser tests' packages (playwright-core, pinned in tests/browser/package-lock.json): the
# graphical prompt's browser end to end (crates/ui/tests/ui_browser.rs) runs with the Rust tests.
(cd tests/browser && npm ci --no-audit --no-fund >/dev/null) || status=1

# Tests that drive a third-party peer fail, rather than skip, when it is missing.
export LATCHKEY_REQUIRE_PEERS=1
# Tests that run another package's binaries (latchkeyd, the worker, the prompts), and the
# benchmark's smoke test, use the binaries just built (with every feature) instead of rebuilding
# them with their own feature set, which would replace them under the tests running alongside.
export LATCHKEY_BIN_DIR="${LATCHKEY_BIN_DIR:-$PWD/target/debug}"
section "Rust tests"
cargo test --workspace --all-features --no-fail-fast 2>&1 | tee target/rust-tests.log || status=1

section "our client against Nitrokey's fido-authenticator (trussed virtual platform)"
interop/fido-authenticator/run.sh --no-fail-fast 2>&1 | tee -a target/rust-tests.log || status=1

section "browsers: the WebExtension in headless Chromium, the Electron bridge (Node)"
tests/browser/run.sh || status=1

grep -E "^test result:" target/rust-tests.log |
    awk '{p+=$4; f+=$6; i+=$8} END {printf "rust: %d passed, %d failed, %d skipped\n", p, f, i}'
# The graphical prompt's suites (crates/ui: its unit tests and tests/ui_*.rs, under Xvfb through
# AT-SPI; screenshots in target/ui-screenshots/) are counted in the line above and on their own.
awk '/^ +(Running|Doc-tests) /{ui = ($0 ~ /deps\/(latchkey_ui|ui_[a-z_]+)-[0-9a-f]+\)|Doc-tests latchkey_ui$/)}
    /^test result:/ && ui {p+=$4; f+=$6; i+=$8; n++}
    END {printf "ui (latchkey-ui, %d suites): %d passed, %d failed, %d skipped\n", n, p, f, i}' target/rust-tests.log

section "Python interoperability tests (python-fido2 as the peer)"
export LATCHKEY_BIN="$PWD/target/debug/latchkey"
"$venv/bin/pytest" -q -p no:cacheprovider tests/python || status=1

section "finished, exit status $status"
exit $status
