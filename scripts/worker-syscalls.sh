#!/usr/bin/env bash
# Measures the system calls the sandboxed platform authenticator worker makes: runs the test
# suites that drive it (file store, TPM through swtpm's TCP TCTI, PINs, management, restarts,
# cancels) with every test binary under `strace -f -ff`, then prints the calls each worker made
# once its seccomp filters were on (scripts/worker-syscalls.py), with their counts and the
# arguments the profile filters on. The allow-list in crates/worker/src/sandbox/profile.rs is
# this set; re-run after upgrading the toolchain, glibc, aws-lc or libtss2 and compare.
#
# Needs strace, swtpm and libtss2-dev (the `tpm` feature). Usage: scripts/worker-syscalls.sh
# [TRACE_DIR] (default: a new temporary directory, kept and named at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${1:-$(mktemp -d /tmp/worker-syscalls.XXXXXX)}"
mkdir -p "$dir"
features=(--features latchkey-worker/tpm,latchkey-daemon/tpm)
# The worker's own suites, then latchkeyd's that run it (--test names apply to every -p).
worker=(-p latchkey-worker)
daemon=(
    -p latchkey-daemon --test worker_tpm --test platform_worker --test platform_pin
    --test platform --test routing --test store_owner
)
cargo test "${features[@]}" "${worker[@]}" --no-run
cargo test "${features[@]}" "${daemon[@]}" --no-run
# Every test binary (and what it starts: latchkeyd, the worker) runs under strace, one output
# file per thread. -qq: no attach/detach or exit notes but "killed by" ones.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="strace -f -ff -qq -o $dir/t"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER"
for suite in worker daemon; do
    declare -n args="$suite"
    cargo test "${features[@]}" "${args[@]}" -- --test-threads=2 ||
        echo "worker-syscalls.sh: some $suite tests failed (see above); the set below is what ran" >&2
done
python3 scripts/worker-syscalls.py "$dir"
echo "# traces in $dir" >&2
