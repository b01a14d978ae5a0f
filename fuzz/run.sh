#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes (one libFuzzer target each, see `cargo fuzz list`).
#
#   fuzz/run.sh [SECONDS_PER_TARGET]      default 600
#   JOBS=2 fuzz/run.sh                    targets run side by side (default 1)
#   TARGETS="zip tar" fuzz/run.sh 60      a subset
#
# Needs a nightly toolchain and cargo-fuzz. Each target starts from its committed seeds
# (fuzz/seeds/<target>/, never written to) plus what earlier runs found (fuzz/corpus/<target>/,
# not committed); crashes, timeouts and out-of-memory inputs land in fuzz/artifacts/<target>/
# and the log of each run in fuzz/logs/<target>.log. Everything runs at `nice -n 19`: the
# fuzzer is a background job on a shared machine. Prints one line per target and exits 1 when
# any target found anything.
set -euo pipefail

cd "$(dirname "$0")"
secs=${1:-600}
jobs=${JOBS:-1}
# A parser that needs more than 10 s or 2 GiB for one input is a bug here: every input is
# small, so either is a hang or an allocation sized by the input's own claims.
flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1)
build=(-O -a -s none)

if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
    echo "usage: fuzz/run.sh [SECONDS_PER_TARGET]" >&2
    exit 2
fi
targets=${TARGETS:-$(cargo +nightly fuzz list)}

nice -n 19 cargo +nightly fuzz build "${build[@]}" >&2
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p logs
started=$(mktemp)
trap 'rm -f "$started"' EXIT

run_one() {
    local t=$1
    mkdir -p "corpus/$t" "artifacts/$t" "seeds/$t"
    local rc=0
    nice -n 19 "$bin/$t" "${flags[@]}" -max_total_time="$secs" \
        -artifact_prefix="artifacts/$t/" "corpus/$t" "seeds/$t" >"logs/$t.log" 2>&1 || rc=$?
    echo "$rc" >"logs/$t.rc"
}

for t in $targets; do
    run_one "$t" &
    while (($(jobs -rp | wc -l) >= jobs)); do
        wait -n || true
    done
done
wait

failed=0
printf '%-14s %14s %8s %8s  %s\n' target executions corpus found seconds
for t in $targets; do
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    corpus=$(find "corpus/$t" "seeds/$t" -type f | wc -l)
    found=$(find "artifacts/$t" -type f -newer "$started" | wc -l)
    rc=$(cat "logs/$t.rc")
    if ((rc != 0 || found != 0)); then
        failed=1
        found="$found (exit $rc)"
    fi
    printf '%-14s %14s %8s %8s  %s\n' "$t" "${execs:-?}" "$corpus" "$found" "$secs"
done
if ((failed)); then
    echo "fuzz: some target found an input it cannot handle; see fuzz/artifacts/ and fuzz/logs/" >&2
    exit 1
fi
