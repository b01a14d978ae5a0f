#!/usr/bin/env bash
# Warm `hermit build` of the example project against the same build run with a bare
# `docker run --network none` (on Podman: `podman run`) in the same build environment image
# (requirements installed and byte-compiled), timed in the same run by hyperfine. Prints the
# ratio; the target is <= 1.2.
# Also times one cold build (empty cache, no image) when run with --cold.
# PROJECT=DIR times another project, e.g. PROJECT=tests/fixtures/cext, which builds on the
# toolchain image; the bare run then gets the same CFLAGS hermit records.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --locked --release -q
hermit=${CARGO_TARGET_DIR:-$PWD/target}/release/hermit
project=$(realpath "${PROJECT:-examples/hello}")
runs=${RUNS:-10}

if [[ "${1:-}" == "--cold" ]]; then
  cache=$(mktemp -d)
  for img in $(docker images -q --filter label=org.hermit.managed) $(docker images -q 'hermit/*'); do
    docker rmi -f "$img" >/dev/null 2>&1 || true
  done
  echo "cold build (empty cache, no image):"
  /usr/bin/time -f "  %e s wall" "$hermit" build "$project" --out "$(mktemp -d)" --cache-dir "$cache"
  rm -rf "$cache"
fi

out=$(mktemp -d)
"$hermit" -q build "$project" --out "$out"     # warm up: image and cache present
env_image=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['image']['build_env_id'])" "$out/hermit-manifest.json")
sde=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['source_date_epoch'])" "$out/hermit-manifest.json")
# Whatever the manifest's environment adds to the fixed one (CFLAGS on the toolchain image).
extra_env=$(python3 -c "import json,sys,shlex; e=json.load(open(sys.argv[1]))['environment']; print(' '.join('-e '+shlex.quote(k+'='+v) for k,v in sorted(e.items()) if k.endswith('FLAGS')))" "$out/hermit-manifest.json")

# The bare run gets the rlimits hermit pins (src/engine/portable.rs): without them Podman's
# defaults fail where its process cannot raise its hard limits. Podman's service is driven
# with its own client: the Docker CLI cannot attach to it (HTTP 409 on the upgrade).
runner="docker run"
if docker version --format '{{range .Server.Components}}{{.Name}} {{end}}' 2>/dev/null | grep -q Podman; then
  runner="podman --remote --url ${DOCKER_HOST} run"
fi
bare="$runner --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges \
  --ulimit core=0 --ulimit memlock=65536 --ulimit nofile=4096 --ulimit nproc=4096 \
  --ulimit stack=8388608 --shm-size 64m --user 1000:1000 --tmpfs /tmp:rw,mode=1777 -e HOME=/tmp -e SOURCE_DATE_EPOCH=$sde $extra_env \
  -v $project:/project:ro $env_image python3 -c \"import shutil,subprocess,sys; \
shutil.copytree('/project','/tmp/p',ignore=shutil.ignore_patterns('dist')); \
subprocess.check_call([sys.executable,'-m','build','--no-isolation','--outdir','/tmp/o','/tmp/p'],stdout=subprocess.DEVNULL)\""

hyperfine --warmup 2 --runs "$runs" --export-json "$out/bench.json" \
  -n bare-docker-run "$bare" \
  -n hermit-build "$hermit -q build $project --out $out"
python3 - "$out/bench.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
ratio = r["hermit-build"] / r["bare-docker-run"]
print(f"warm hermit build {r['hermit-build']:.2f} s / bare docker run {r['bare-docker-run']:.2f} s = {ratio:.2f}x (target <= 1.2x)")
PY
rm -rf "$out"
