#!/usr/bin/env bash
# `hermit compare` against diffoscope on the same pair of large wheels (~20 MB each, thousands
# of members, a few modules changed and the order shuffled), timed in one hyperfine run.
# Prints the ratio; the target is hermit at least 20x faster.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
command -v diffoscope >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends diffoscope-minimal; }
cargo build --locked --release -q
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work" <<'PY'
import base64, hashlib, os, random, sys, zipfile

def wheel(path, changed, order_seed):
    rng = random.Random(7)
    members = []
    for i in range(4000):
        body = base64.b64encode(rng.randbytes(3600)).decode()
        text = f'"""module {i}"""\nDATA = """{body}"""\n'
        if i in changed:
            text += f"CHANGED = {i}\n"
        members.append((f"bigpkg/sub{i % 40}/mod{i}.py", text.encode()))
    random.Random(order_seed).shuffle(members)
    di = "bigpkg-1.0.dist-info"
    members.append((f"{di}/METADATA", b"Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\n"))
    members.append((f"{di}/WHEEL", b"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = []
    for name, data in members:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{di}/RECORD,,")
    members.append((f"{di}/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)

os.makedirs(sys.argv[1] + "/a"); os.makedirs(sys.argv[1] + "/b")
wheel(sys.argv[1] + "/a/bigpkg-1.0-py3-none-any.whl", set(), 1)
wheel(sys.argv[1] + "/b/bigpkg-1.0-py3-none-any.whl", {5, 500, 3999}, 2)
PY
a=$work/a/bigpkg-1.0-py3-none-any.whl
b=$work/b/bigpkg-1.0-py3-none-any.whl
ls -l "$a" "$b" | awk '{print $5, $9}'
hyperfine --runs "${RUNS:-3}" -i --export-json "$work/bench.json" \
  -n hermit-compare "target/release/hermit compare $a $b > /dev/null" \
  -n diffoscope "diffoscope --no-progress --text /dev/null $a $b"
python3 - "$work/bench.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"diffoscope {r['diffoscope']:.2f} s / hermit compare {r['hermit-compare']:.3f} s = {r['diffoscope'] / r['hermit-compare']:.0f}x faster (target >= 20x)")
PY
