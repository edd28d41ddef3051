#!/bin/sh
# Builds the libFuzzer harnesses (make fuzz, clang) and runs each for a
# fixed number of inputs from its seed corpus with a fixed seed, so that
# the smoke test is deterministic (CI must not fail at random): a smoke
# test, not a campaign (see docs/robustness.md).  Usage:
# scripts/fuzz-smoke.sh [RUNS per harness, default 4000].  New inputs and crash reproducers go to tests/fuzz/out/;
# the committed seeds are only read.  Exits non-zero on the first finding.
set -e
cd "$(dirname "$0")/.."
runs="${1:-4000}"
make -s fuzz >/dev/null
for h in safetensors config results tokenizer vocab jsonl; do
    out="tests/fuzz/out/$h"
    rm -rf "$out"   # a fresh corpus each time, or the runs would differ
    mkdir -p "$out"
    if ! tests/fuzz/bin/fuzz_$h -seed=1 -runs="$runs" -rss_limit_mb=2048 -timeout=10 \
            -artifact_prefix="tests/fuzz/out/$h-" -print_final_stats=1 \
            "$out" "tests/fuzz/corpus/$h" >"tests/fuzz/out/$h.log" 2>&1; then
        tail -n 40 "tests/fuzz/out/$h.log" >&2
        echo "fuzz-smoke: fuzz_$h found a problem (reproducer in tests/fuzz/out/)" >&2
        exit 1
    fi
    echo "fuzz-smoke: fuzz_$h: $(grep -m1 'stat::number_of_executed_units' "tests/fuzz/out/$h.log" | \
        awk '{print $2}') runs, no findings"
done
