#!/usr/bin/env bash
# Peak RSS of hermit under memory attacks (issue 8), for one or more hermit binaries given as
# arguments (e.g. an older build and this one, measured in the same run):
#   compare-bomb      `hermit compare` of two 11 MB wheels with three members of 4 GB each
#   compare-largest   `hermit compare` of two wheels inflating to 500 MiB each (the most hermit accepts)
#   build-bomb        `hermit build` of a project whose backend returns a 2 GB-inflating wheel
#   build-largest     `hermit build` whose backend returns a 500 MiB-inflating wheel
# Prints one line per case and binary: exit code and peak RSS (GNU time's %M).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time; }
if [ $# -eq 0 ]; then
  cargo build --locked -q
  set -- "$PWD/target/debug/hermit"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import os, sys, zipfile, zlib
sys.path.insert(0, "tests/fixtures/hostile/backend")
import hostile_backend as h
work = sys.argv[1]
# Side B has one member fewer, so the two differ and compare reads both.
for side, fewer in (("a", 0), ("b", 1)):
    for case, members, size in (("bomb", 3 - fewer, 4 << 30), ("largest", 2 - fewer, 250 << 20)):
        d = os.path.join(work, f"{case}-{side}")
        os.makedirs(d)
        h._bomb(os.path.join(d, "x-1.0-py3-none-any.whl"), members, size)
PY
project() {
  local dir=$work/project-$1
  cp -r tests/fixtures/hostile "$dir"
  echo "$1" > "$dir/attack.txt"
  git -C "$dir" init -q && git -C "$dir" add -A
  git -C "$dir" -c user.name=bench -c user.email=bench@hermit.invalid commit -qm bench
  echo "$dir"
}
bomb=$(project bomb)
largest=$(project bigwheel)
measure() {
  local label=$1 bin=$2; shift 2
  /usr/bin/time -o "$work/time" -f "%x %M" "$bin" -q "$@" >/dev/null 2>&1 || true
  read -r code kib < <(tail -1 "$work/time")
  printf '%-16s %-40s exit %3s  peak RSS %6d MiB\n' "$label" "$bin" "$code" $((kib / 1024))
}
for bin in "$@"; do
  measure compare-bomb "$bin" compare "$work/bomb-a" "$work/bomb-b"
  measure compare-largest "$bin" compare "$work/largest-a" "$work/largest-b"
  measure build-bomb "$bin" build "$bomb" --out "$work/out-bomb"
  measure build-largest "$bin" build "$largest" --out "$work/out-largest"
done
