#!/usr/bin/env bash
# Where a long prompt's time goes on the GPU machine (issue #6, TTFT@512): for gpt2-small, the tuned
# engine (GroupQueryAttention, static KV, capture) and the untuned one (MultiHeadAttention, growing KV),
# both with Dawn's skip_validation; `fuselab bench` of both at several prompt lengths; per-node GPU time
# of a PROMPT-token prefill (`run --layer-timings`, capture off so the prefill runs on the profiled
# session); and `node --cpu-prof` over a loop of prefills. Results in $OUT (results.tgz).
#
#   bash .device/ttft.sh                     # on the GPU machine (run tool, carry .device)
#   SMOKE=1 bash .device/ttft.sh             # here, on SwiftShader, with the tiny fixture
. "$(dirname "$0")/common.sh"
if [ "$SMOKE" = 1 ]; then MODEL=${MODEL:-gpt2-tiny}; PROMPT=${PROMPT:-64}; LENS=${LENS:-16,64}; REPEAT=${REPEAT:-2}; LOOPS=${LOOPS:-3}; GEMV_ARGS=${GEMV_ARGS:---m 1 --shapes 64x96}
else MODEL=${MODEL:-gpt2-small}; PROMPT=${PROMPT:-512}; LENS=${LENS:-16,128,512}; REPEAT=${REPEAT:-5}; LOOPS=${LOOPS:-30}; fi
TOGGLE=${TOGGLE:-enable-dawn-features=skip_validation,vulkan_enable_f16_on_nvidia}
DEADLINE=${DEADLINE:-560}
start_run ttft.log
left() { echo $((DEADLINE - SECONDS - 5)); }

if [ "${GEMV_S:-100}" -gt 0 ]; then
  step "matrix-product forms (gemv.mjs)"
  timeout "${GEMV_S:-100}" "$NODE" "$DEV/bench/gemv.mjs" --toggle "$TOGGLE" --runs "${GEMV_RUNS:-8}" ${GEMV_ARGS:-} > "$OUT/gemv.json" 2> "$OUT/gemv.log"; echo "gemv exit $?"; tail -3 "$OUT/gemv.log"
fi
step "$MODEL: model"
export_model "$MODEL" || exit 1
step "$MODEL: build --tune (static KV + capture candidate)"
timeout "$(left)" "${FL[@]}" build "$model" -o "$WORK/tuned.engine" --device webgpu --tune --toggle "$TOGGLE" --report "$OUT/build-tuned.json" ${BUILD_ARGS:-} || echo "FAILED build --tune"
step "$MODEL: build (untuned)"
timeout "$(left)" "${FL[@]}" build "$model" -o "$WORK/plain.engine" --device webgpu --toggle "$TOGGLE" --report "$OUT/build-plain.json" ${BUILD_ARGS:-} || echo "FAILED build"
engines=(); for e in tuned plain; do [ -f "$WORK/$e.engine" ] && engines+=("$WORK/$e.engine"); done
step "bench ${engines[*]}"
timeout "$(left)" "${FL[@]}" bench "${engines[@]}" --device webgpu --prompt-len "$LENS" --context 16 --decode 32 --repeat "$REPEAT" --json > "$OUT/bench.json"
echo "bench exit $?"
ids=$(seq -s, 1 "$PROMPT")
for e in tuned plain; do
  [ -f "$WORK/$e.engine" ] || continue
  step "$e: $PROMPT-token prefill, --layer-timings (capture off)"
  timeout "$(left)" "${FL[@]}" run "$WORK/$e.engine" --prompt-ids "$ids" --max-tokens 2 --ignore-eos --graph-capture off --layer-timings --json > "$OUT/layers-$e.json" 2> "$OUT/layers-$e.txt"
  echo "run exit $?"; head -40 "$OUT/layers-$e.txt"
done
if [ -f "$WORK/tuned.engine" ]; then
  step "tuned: cpu profile of $LOOPS prefills of $PROMPT tokens"
  rm -rf "$WORK/prof" && mkdir -p "$WORK/prof"
  timeout "$(left)" "$NODE" --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir="$WORK/prof" "$DEV/bench/fuselab.mjs" bench "$WORK/tuned.engine" --device webgpu --prompt-len "$PROMPT" --context 2 --decode 1 --repeat "$LOOPS" --json > "$OUT/bench-prof.json"
  echo "profiled bench exit $?"
  "$NODE" "$DEV/bench/cpuprofile-summary.mjs" "$WORK"/prof/*.cpuprofile --top 40 --last-ms "${PROF_MS:-2000}" > "$OUT/cpu-prefill.json" || true
fi
# fp16 with a static KV cache and capture (float16 KV IO; session 3's fp16 capture failed in GroupQueryAttention)
if [ "$SMOKE" != 1 ] && [ "$(left)" -gt 90 ]; then
  step "$MODEL: build --tune --fp16"
  timeout "$(left)" "${FL[@]}" build "$model" -o "$WORK/fp16.engine" --device webgpu --tune --fp16 --toggle "$TOGGLE" --report "$OUT/build-fp16.json" || echo "FAILED build --fp16"
  if [ -f "$WORK/fp16.engine" ] && [ "$(left)" -gt 30 ]; then
    timeout "$(left)" "${FL[@]}" bench "$WORK/fp16.engine" --device webgpu --prompt-len "$LENS" --context 16,1024 --decode 64 --repeat 3 --json > "$OUT/bench-fp16.json"; echo "bench fp16 exit $?"
  fi
fi
tar -C "$OUT" -czf "$OUT/results.tgz" --exclude results.tgz . 2>/dev/null
step done
