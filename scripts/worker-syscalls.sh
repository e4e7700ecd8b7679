#!/usr/bin/env bash
# Measures the system calls the sandboxed workers make: runs the test suites that drive them and
# prints the calls each worker made once its seccomp filters were on (scripts/worker-syscalls.py),
# with their counts and the arguments the profiles filter on. The platform worker's allow-list in
# crates/worker/src/sandbox/profile.rs is its set; the device worker's is
# crates/worker/src/device_worker/profile.rs.
# Re-run after upgrading the toolchain, glibc, aws-lc, libtss2 or libpcsclite and compare.
#
# Only the workers run under strace. The worker crate's own suites start the workers from their
# test binaries, which run under `strace -f -ff` (the cargo runner). latchkeyd's suites start the
# real latchkeyd, which finds its workers next to its own executable, and tests find the binaries
# through the test kit's LATCHKEY_BIN_DIR: that directory gets copies of the workspace's
# binaries, with each worker replaced by a wrapper that runs the real one under strace (latchkeyd
# itself under strace waits on its children's traces and the suites hang). Four of those tests
# fail under the wrappers, and only under them: latchkeyd's child is then strace, not the
# worker, and they look for the worker among latchkeyd's children by name
# (device_worker's latchkeyd_holds_no_key_the_sandboxed_device_worker_does,
# a_device_worker_killed_mid_ceremony_fails_it_clearly_and_the_next_one_restarts_it and
# a_key_that_made_its_socket_anew_is_reached_through_the_same_worker, routing's
# platform_create_lands_on_the_platform_authenticator_not_the_key); the workers they start are
# still traced. --no-fail-fast: the suites after a failing one run too.
#
# Needs strace, swtpm, libtss2-dev (the `tpm` feature), pcscd and vsmartcard-vpcd (PC/SC cards).
# Usage: scripts/worker-syscalls.sh [platform|device|both] [TRACE_DIR] (default both, and a new
# temporary directory, kept and named at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

which="${1:-both}"
dir="${2:-$(mktemp -d /tmp/worker-syscalls.XXXXXX)}"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# Each cargo run names features of the packages it selects only (cargo refuses others).
worker_features=(--features latchkey-worker/tpm,latchkey-worker/pcsc)
daemon_features=(--features latchkey-daemon/tpm,latchkey-daemon/pcsc)
case "$which" in
platform)
    worker=(-p latchkey-worker --test worker --test sandbox --test sandbox_limits)
    daemon=(
        -p latchkey-daemon --test worker_tpm --test platform_worker --test platform_pin
        --test platform --test routing --test store_owner
    )
    ;;
device)
    worker=(-p latchkey-worker --test device_worker)
    daemon=(-p latchkey-daemon --test device_worker --test routing --test nfc)
    ;;
both)
    worker=(-p latchkey-worker)
    daemon=(
        -p latchkey-daemon --test worker_tpm --test platform_worker --test platform_pin
        --test platform --test routing --test store_owner --test device_worker --test nfc
    )
    ;;
*)
    echo "usage: $0 [platform|device|both] [TRACE_DIR]" >&2
    exit 2
    ;;
esac

# The binaries latchkeyd's suites run, built as the test kit builds them, then copied next to
# the wrappers (a copy, not a link: latchkeyd looks for its workers beside /proc/self/exe).
cargo build --quiet --bins -p latchkey-daemon -p latchkey-worker -p latchkey-prompt -p latchkey-cli \
    -p latchkey-native-host --features latchkey-worker/tpm,latchkey-daemon/pcsc,latchkey-cli/pcsc
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
bins="$dir/bin"
mkdir -p "$bins/real"
for b in latchkeyd latchkey latchkey-test-prompt latchkey-tty-prompt latchkey-native-host; do
    cp -f "$target/debug/$b" "$bins/$b"
done
for w in latchkey-platform-worker latchkey-device-worker; do
    cp -f "$target/debug/$w" "$bins/real/$w"
    printf '#!/bin/sh\nexec strace -f -ff -qq -o %q/t %q/real/%s "$@"\n' "$dir" "$bins" "$w" >"$bins/$w"
    chmod +x "$bins/$w"
done

cargo test "${worker_features[@]}" "${worker[@]}" --no-run
cargo test "${daemon_features[@]}" "${daemon[@]}" --no-run
status=0
# The worker crate's test binaries (and the workers they start) run under strace, one output file
# per thread. -qq: no attach/detach or exit notes but "killed by" ones.
CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="strace -f -ff -qq -o $dir/t" \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="strace -f -ff -qq -o $dir/t" \
    cargo test --no-fail-fast "${worker_features[@]}" "${worker[@]}" -- --test-threads=2 || status=1
LATCHKEY_BIN_DIR="$bins" cargo test --no-fail-fast "${daemon_features[@]}" "${daemon[@]}" -- --test-threads=2 || status=1
if [ "$status" -ne 0 ]; then
    echo "worker-syscalls.sh: some tests failed (see above); the sets below are what ran" >&2
fi
case "$which" in
platform) python3 scripts/worker-syscalls.py "$dir" latchkey-platform-worker ;;
device) python3 scripts/worker-syscalls.py "$dir" latchkey-device-worker ;;
both)
    python3 scripts/worker-syscalls.py "$dir" latchkey-platform-worker
    python3 scripts/worker-syscalls.py "$dir" latchkey-device-worker
    ;;
esac
echo "# traces in $dir" >&2
