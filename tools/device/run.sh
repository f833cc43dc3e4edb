#!/usr/bin/env bash
# Runs the decode benchmark on the GPU machine from the .device/ bundle (see tools/device/README.md):
# unpacks Node 22 and the trimmed node_modules, installs the Vulkan loader, exports the GPT-2-small-shaped
# KV decoder with the project's script, runs the PyTorch-eager baseline and then the WebGPU benchmark
# (plain vs optimized) in the same session, and leaves JSON + logs in $OUT.
#
#   bash .device/run.sh                      # on the GPU machine, from the repo root
#   SMOKE=1 bash .device/run.sh              # here: same steps on SwiftShader with the tiny KV fixtures
#
# Knobs (environment): MODELS (comma list of preset[:layers], in order of priority; default
# gpt2-small,qwen2.5-0.5b:12 — the Qwen2.5-0.5B-shaped Llama/GQA decoder at 12 of its 24 layers, the most
# that fits one < 2 GiB file), PROMPT_LEN, CONTEXT, DECODE, REPEATS (first model), CONTEXT2, DECODE2,
# REPEATS2 (later models), BENCH_ARGS (extra decode.mjs flags, e.g.
# "--toggle enable-dawn-features=vulkan_enable_f16_on_nvidia"), DEADLINE, MIN_PHASE, PYTHON, OUT, WORK.
. "$(dirname "$0")/common.sh"
if [ "$SMOKE" = 1 ]; then
  MODELS=${MODELS:-gpt2-tiny,llama-tiny}
  PROMPT_LEN=${PROMPT_LEN:-16,64}; CONTEXT=${CONTEXT:-16,1024}; DECODE=${DECODE:-16}; REPEATS=${REPEATS:-3}
else
  MODELS=${MODELS:-gpt2-small,qwen2.5-0.5b:12}
  PROMPT_LEN=${PROMPT_LEN:-16,512}; CONTEXT=${CONTEXT:-16,1024}; DECODE=${DECODE:-128}; REPEATS=${REPEATS:-5}
fi
CONTEXT2=${CONTEXT2:-16,512}; DECODE2=${DECODE2:-64}; REPEATS2=${REPEATS2:-3}
DEADLINE=${DEADLINE:-540}    # seconds for the whole script: the run tool stops a command at 600
MIN_PHASE=${MIN_PHASE:-150}  # a model starts only with this much of DEADLINE left
mkdir -p "$OUT" "$WORK/models"
exec > >(tee -a "$OUT/run.log") 2>&1
. "$DEV/setup.sh"

BM=$ROOT/docs/BENCHMARKS.md
before=$(stat -c %s "$BM" 2>/dev/null || echo 0)
for spec in ${MODELS//,/ }; do
  left=$((DEADLINE - SECONDS))
  if [ "$left" -lt "$MIN_PHASE" ]; then echo "run: SKIPPED $spec: $left s left of DEADLINE=$DEADLINE"; continue; fi

  step "$spec: export"
  export_model "$spec" || continue

  # the first model gets the full sweep; later (bigger) ones a shorter one, to stay inside DEADLINE
  if [ "$spec" = "${MODELS%%,*}" ]; then args=(--prompt-len "$PROMPT_LEN" --context "$CONTEXT" --decode "$DECODE" --repeats "$REPEATS")
  else args=(--prompt-len "$PROMPT_LEN" --context "$CONTEXT2" --decode "$DECODE2" --repeats "$REPEATS2"); fi

  step "$spec: PyTorch eager baseline"
  FUSELAB_SCRIPTS="$DEV/scripts" "$PYTHON" "$DEV/bench/torch_decode.py" --model "$spec" "${args[@]}" --out "$OUT/torch-$name.json" > /dev/null \
    || echo "run: FAILED torch baseline for $spec"
  torch_arg=(); [ -s "$OUT/torch-$name.json" ] && torch_arg=(--torch "$OUT/torch-$name.json")

  step "$spec: decode benchmark (onnxruntime-web WebGPU via Node + Dawn)"
  # shellcheck disable=SC2086
  timeout $((DEADLINE - SECONDS - 10)) "$NODE" "$DEV/bench/decode.mjs" --model "$model" "${args[@]}" ${torch_arg[@]+"${torch_arg[@]}"} \
    --out "$OUT/decode-$name.json" ${BENCH_ARGS:-} > /dev/null
  echo "decode.mjs exit $?"
  rm -rf "$WORK/models/$name"
done
if [ -f "$BM" ]; then tail -c +$((before + 1)) "$BM" > "$OUT/BENCHMARKS-entry.md"; fi
step "done"
ls -la "$OUT"
