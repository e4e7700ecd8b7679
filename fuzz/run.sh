#!/bin/sh
# Builds and runs every fuzz target for SECONDS seconds each (default 60).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The machine has only stable Rust, so
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly-only flags. AddressSanitizer is used when
# it builds; otherwise (FUZZ_SANITIZER=none, or on failure) the targets run without one.
# Seed inputs in seeds/<target>/ are read alongside the working corpus in corpus/<target>/.
set -eu

seconds="${1:-60}"
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

sanitizer="${FUZZ_SANITIZER:-address}"
if ! cargo fuzz build -s "$sanitizer" >/dev/null 2>&1; then
    echo "run.sh: building with -s $sanitizer failed; falling back to -s none" >&2
    sanitizer=none
    cargo fuzz build -s none
fi

status=0
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target" "seeds/$target"
    echo "== $target: ${seconds}s, sanitizer $sanitizer"
    if ! cargo fuzz run -s "$sanitizer" "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=7609 -rss_limit_mb=2048 -malloc_limit_mb=256 \
        -print_final_stats=1; then
        echo "== $target: FAILED (see artifacts/$target)" >&2
        status=1
    fi
done
exit "$status"
