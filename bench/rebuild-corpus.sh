#!/usr/bin/env bash
# Rebuilds every release in bench/corpus/releases.txt from its sdist (`hermit rebuild -r -j N`),
# then merges the records with `hermit report`: the verdict tables go to stderr, the summary to
# OUT/report.json. Prints the wall time of the rebuilds. Needs network access to the package index
# (found from pip's settings, as `hermit rebuild` does) and a container engine.
#   bench/rebuild-corpus.sh [-j N] [HERMIT_BINARY]     N defaults to 2; OUT=dir sets the output
# Without HERMIT_BINARY it builds hermit (`cargo build --locked`) and uses target/debug/hermit.
# The exit code is hermit report's: a release that is not bit-identical does not fail the script.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=2
if [[ "${1:-}" == "-j" ]]; then jobs=$2; shift 2; fi
if [[ -n "${1:-}" ]]; then
  hermit=$(realpath "$1")
else
  cargo build --locked -q
  hermit=${CARGO_TARGET_DIR:-$PWD/target}/debug/hermit
fi
out=${OUT:-$(mktemp -d -t hermit-corpus.XXXXXX)}
mkdir -p "$out"
start=$(date +%s)
"$hermit" rebuild -r bench/corpus/releases.txt -j "$jobs" --out "$out" || true   # 1: some not identical
wall=$(( $(date +%s) - start ))
"$hermit" report "$out"
"$hermit" report "$out" --json > "$out/report.json"
echo "corpus: $(grep -c '==' bench/corpus/releases.txt) releases, -j $jobs, wall time ${wall} s (${out})"
