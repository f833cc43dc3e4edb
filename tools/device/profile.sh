#!/usr/bin/env bash
# Where a decode step's time goes on the GPU machine (issue #6): the WebGPU host's floors
# (tools/bench/webgpu-floor.ts: round trip, dispatch, bind group, onnxruntime-web's per-run cost), then
# for each model an engine built with --tune and a long `fuselab run` under `node --cpu-prof`, summarized
# over the decode loop's final seconds by tools/bench/cpuprofile-summary.mjs. Results in $OUT (results.tgz).
#
#   bash .device/profile.sh                  # on the GPU machine (run tool, carry .device)
#   SMOKE=1 bash .device/profile.sh          # here, on SwiftShader, with the tiny fixtures
. "$(dirname "$0")/common.sh"
if [ "$SMOKE" = 1 ]; then MODELS=${MODELS:-llama-tiny}; TOKENS=${TOKENS:-32}; LAST_MS=${LAST_MS:-1000}
else MODELS=${MODELS:-gpt2-small,llama-tiny}; TOKENS=${TOKENS:-400}; LAST_MS=${LAST_MS:-2500}; fi
DEADLINE=${DEADLINE:-560}
start_run profile.log

step floors
timeout 120 "$NODE" "$DEV/bench/webgpu-floor.mjs" ${TOGGLE:+--toggle $TOGGLE} > "$OUT/floor.json"; cat "$OUT/floor.json"
ids=$(seq -s, 1 16)
for spec in ${MODELS//,/ }; do
  if [ $((DEADLINE - SECONDS)) -lt 60 ]; then echo "SKIPPED $spec"; continue; fi
  step "$spec: model"
  export_model "$spec" || continue
  step "$spec: build --tune"
  timeout $((DEADLINE - SECONDS - 5)) "${FL[@]}" build "$model" -o "$WORK/$name.engine" --device webgpu --tune --report "$OUT/build-$name.json" ${BUILD_ARGS:-} || { echo "FAILED build"; continue; }
  # RUNS: space-separated label:flags entries (commas inside flags stand for spaces): the engine's own tactics, capture forced on/off,
  # and Dawn's skip_validation toggle (the engine then runs on another fingerprint: --allow-other-device)
  for r in ${RUNS:-engine: capture-on:--graph-capture,on capture-off:--graph-capture,off skipval-on:--graph-capture,on,--toggle,enable-dawn-features=skip_validation,--allow-other-device}; do
    label=${r%%:*}; flags=${r#*:}; flags=${flags//,/ }
    step "$spec: run [$label] under --cpu-prof"
    rm -rf "$WORK/prof" && mkdir -p "$WORK/prof"
    timeout $((DEADLINE - SECONDS - 5)) "$NODE" --cpu-prof --cpu-prof-dir="$WORK/prof" "$DEV/bench/fuselab.mjs" run "$WORK/$name.engine" --device webgpu --prompt-ids "$ids" --max-tokens "$TOKENS" --ignore-eos --json $flags > "$OUT/run-$name-$label.json"
    echo "run exit $?"
    "$NODE" -e "const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')); console.log('$label', JSON.stringify({decode: r.stats.decodeTokPerSec, ttft: r.stats.ttftMs, p50: r.stats.interTokenMs.p50}))" "$OUT/run-$name-$label.json" || true
    "$NODE" "$DEV/bench/cpuprofile-summary.mjs" "$WORK"/prof/*.cpuprofile --top 30 --last-ms "$LAST_MS" > "$OUT/cpu-$name-$label.json"
  done
  rm -rf "$WORK/models/$name" "$WORK/$name.engine" "$WORK/prof"
done
tar -C "$OUT" -czf "$OUT/results.tgz" --exclude results.tgz . 2>/dev/null
step done
