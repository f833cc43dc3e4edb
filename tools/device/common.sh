# Sourced first by every GPU-machine runner (run.sh, engine.sh, profile.sh), from the .device/ bundle:
# strict mode, the paths and knobs they share, and `export_model`. setup.sh (Node, Vulkan) comes after
# each runner has set up its log.
set -uo pipefail
DEV=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$DEV/.." && pwd)
OUT=${OUT:-$DEV/out}
WORK=${WORK:-/tmp/fuselab-device}
PYTHON=${PYTHON:-python3}
SMOKE=${SMOKE:-0}

# export_model SPEC: sets `name`, `layers` and `model` (the ONNX file) for `preset[:layers]` — a committed
# `*-kv` fixture, gpt2-small from make_gpt2_small.py, anything else from make_llama_shaped.py (one file
# < 2 GiB: qwen2.5-0.5b fits at <= 12 layers). Returns 1, saying why, when there is no model.
export_model() {
  name=${1%%:*}; layers=; [ "$1" != "$name" ] && layers=${1#*:}
  if [ -f "$ROOT/examples/fixtures/$name-kv.onnx" ] && [ -z "$layers" ]; then
    model=$ROOT/examples/fixtures/$name-kv.onnx
  elif [ "$name" = gpt2-small ]; then
    "$PYTHON" "$DEV/scripts/make_gpt2_small.py" --out "$WORK/models/$name" --variants kv --no-io --no-check ${layers:+--layers $layers} \
      || { echo "FAILED make_gpt2_small.py"; return 1; }
    model=$WORK/models/$name/gpt2-small-kv.onnx
  elif [ -f "$DEV/scripts/make_llama_shaped.py" ]; then
    "$PYTHON" "$DEV/scripts/make_llama_shaped.py" --preset "$name" --out "$WORK/models/$name" --single-file --no-io --no-check \
      ${layers:+--layers $layers} || { echo "FAILED make_llama_shaped.py --preset $name"; return 1; }
    model=$WORK/models/$name/model.onnx
  else
    echo "SKIPPED $1: no export script for it in the bundle"; return 1
  fi
  ls -la "$model"
}

# start_run LOG: the shared start of engine.sh, profile.sh and ttft.sh — everything below goes to $OUT/LOG
# as well as the terminal, setup.sh unpacks Node and sets up Vulkan, tuning caches land in $OUT, and FL is
# the fuselab CLI command.
start_run() {
  mkdir -p "$OUT"
  exec > >(tee -a "$OUT/$1") 2>&1
  . "$DEV/setup.sh"
  export FUSELAB_CACHE_DIR=$OUT/cache
  FL=("$NODE" "$DEV/bench/fuselab.mjs")
}
