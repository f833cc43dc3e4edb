#!/usr/bin/env bash
# The engine benchmark on the GPU machine (issue #6), from the .device/ bundle: for each model, export it,
# run the PyTorch-eager baseline, `fuselab build --tune` an engine for this GPU, `fuselab bench` the plain
# export against the engine in one process (TTFT per prompt length, decode tok/s per context, GPU memory),
# and `fuselab run --layer-timings` for per-node GPU time mapped to the source graph. Results in $OUT.
#
#   bash .device/engine.sh                   # on the GPU machine (run tool, carry .device)
#   SMOKE=1 bash .device/engine.sh           # here, on SwiftShader, with the tiny fixtures
. "$(dirname "$0")/common.sh"
if [ "$SMOKE" = 1 ]; then
  MODELS=${MODELS:-gpt2-tiny}; PROMPT_LEN=${PROMPT_LEN:-16,64}; CONTEXT=${CONTEXT:-16,128}; DECODE=${DECODE:-16}; REPEAT=${REPEAT:-1}
else
  MODELS=${MODELS:-gpt2-small,qwen2.5-0.5b:12}; PROMPT_LEN=${PROMPT_LEN:-16,512}; CONTEXT=${CONTEXT:-16,1024}; DECODE=${DECODE:-128}; REPEAT=${REPEAT:-3}
fi
DEADLINE=${DEADLINE:-560}; MIN_PHASE=${MIN_PHASE:-150}
start_run engine.log

for spec in ${MODELS//,/ }; do
  if [ $((DEADLINE - SECONDS)) -lt "$MIN_PHASE" ]; then echo "SKIPPED $spec: $((DEADLINE - SECONDS)) s left"; continue; fi
  step "$spec: export"
  export_model "$spec" || continue
  if [ "$spec" = "${MODELS%%,*}" ]; then ctx=$CONTEXT; dec=$DECODE; else ctx=${CONTEXT2:-16,512}; dec=${DECODE2:-64}; fi
  step "$spec: PyTorch eager baseline"
  FUSELAB_SCRIPTS="$DEV/scripts" "$PYTHON" "$DEV/bench/torch_decode.py" --model "$spec" --prompt-len "$PROMPT_LEN" --context "$ctx" --decode "$dec" --repeats "$REPEAT" --out "$OUT/torch-$name.json" > /dev/null || echo "FAILED torch baseline"
  step "$spec: fuselab build --tune"
  timeout $((DEADLINE - SECONDS - 5)) "${FL[@]}" build "$model" -o "$WORK/$name.engine" --device webgpu --tune --report "$OUT/build-$name.json" ${BUILD_ARGS:-} || { echo "FAILED build"; continue; }
  ls -la "$WORK/$name.engine"
  engines=("$WORK/$name.engine")
  # precision variants (PRECISIONS=fp16,int4): one engine each, benched in the same process as the rest
  for prec in ${PRECISIONS:+${PRECISIONS//,/ }}; do
    case $prec in
      # f16 needs Dawn's vulkan_enable_f16_on_nvidia; when BUILD_ARGS already names it (with other toggles,
      # so that every engine of the run shares one device for bench), it isn't added again
      fp16) flags=(--fp16); [[ "${BUILD_ARGS:-}" == *vulkan_enable_f16_on_nvidia* ]] || flags+=(--toggle enable-dawn-features=vulkan_enable_f16_on_nvidia) ;;
      int4) flags=(--int4 --block 32) ;;
      int8w) flags=(--int4 --int8-weights --block 32) ;;
      *) echo "unknown precision $prec"; continue ;;
    esac
    step "$spec: fuselab build --$prec"
    timeout $((DEADLINE - SECONDS - 5)) "${FL[@]}" build "$model" -o "$WORK/$name-$prec.engine" --device webgpu --tune "${flags[@]}" --report "$OUT/build-$name-$prec.json" ${BUILD_ARGS:-} \
      && engines+=("$WORK/$name-$prec.engine") || echo "FAILED build --$prec"
  done
  step "$spec: fuselab bench plain vs engines"
  timeout $((DEADLINE - SECONDS - 5)) "${FL[@]}" bench "$model" "${engines[@]}" --device webgpu ${BENCH_TOGGLE:+--toggle $BENCH_TOGGLE} --prompt-len "$PROMPT_LEN" --context "$ctx" --decode "$dec" --repeat "$REPEAT" --json > "$OUT/bench-$name.json"
  echo "bench exit $?"
  step "$spec: fuselab run --layer-timings"
  timeout $((DEADLINE - SECONDS - 5)) "${FL[@]}" run "$WORK/$name.engine" --prompt-ids 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 --max-tokens 32 --ignore-eos --layer-timings --json > "$OUT/run-$name.json"
  echo "run exit $?"
  # the same greedy tokens without graph capture (capture and skipped validation must not change results)
  timeout $((DEADLINE - SECONDS - 5)) "${FL[@]}" run "$WORK/$name.engine" --prompt-ids 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 --max-tokens 32 --ignore-eos --graph-capture off --json > "$OUT/run-$name-nocapture.json"
  "$NODE" -e "const [a,b]=process.argv.slice(1).map((f)=>JSON.parse(require('fs').readFileSync(f,'utf8')).tokens); console.log('greedy tokens equal with and without capture:', JSON.stringify(a)===JSON.stringify(b), a.length)" "$OUT/run-$name.json" "$OUT/run-$name-nocapture.json" || true
  rm -rf "$WORK/models/$name" "$WORK/$name"*.engine
done
tar -C "$OUT" -czf "$OUT/results.tgz" --exclude results.tgz . 2>/dev/null
step done
ls -la "$OUT"
