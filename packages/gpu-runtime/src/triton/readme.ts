/**
 * The serving notes written beside a Triton model: README.md (docker run, a curl request, a
 * perf_analyzer run, the inputs and outputs, the batching choice) plus the two sample files those
 * commands use. Pure text; the CLI writes it.
 */
import { resolveDim } from '../ort/inputs.ts';
import type { TritonConfigPlan, TritonTensorConfig } from './config.ts';

/** Symbol values for the sample request: one sequence of 4 tokens, no past. */
export const SAMPLE_DIMS: Readonly<Record<string, number>> = { batch_size: 1, batch: 1, sequence_length: 4, past_sequence_length: 0, total_sequence_length: 4 };

/** KServe v2 protocol datatype of a Triton config data type. */
export const v2Datatype = (t: string): string => (t === 'TYPE_STRING' ? 'BYTES' : t.replace(/^TYPE_/, ''));

export interface ServingFiles {
  readme: string;
  /** Body of the curl example (KServe v2 JSON). */
  sampleRequest: unknown;
  /** perf_analyzer `--input-data` file. */
  perfData: unknown;
}

interface SampleTensor {
  name: string;
  datatype: string;
  /** Full shape (with the batch dim). */
  shape: number[];
  data: Array<number | boolean>;
}

function sampleTensor(t: TritonTensorConfig, symbolic: ReadonlyArray<string | number | null>, dims: Record<string, number>): SampleTensor {
  const shape = symbolic.map((d) => resolveDim(d, dims));
  const n = shape.reduce((a, b) => a * b, 1);
  const last = shape[shape.length - 1] ?? 1;
  const past = dims.past_sequence_length ?? 0;
  const data: Array<number | boolean> = [];
  for (let i = 0; i < n; i++) {
    if (/input_ids/.test(t.name)) data.push(1 + (i % 7));
    else if (/attention_mask/.test(t.name)) data.push(1);
    else if (/position_ids/.test(t.name)) data.push(past + (i % last));
    else if (t.dataType === 'TYPE_BOOL') data.push(true);
    else data.push(0);
  }
  return { name: t.name, datatype: v2Datatype(t.dataType), shape, data };
}

const md = (s: string) => s.replace(/\|/g, '\\|');

/**
 * Serving notes for `plan`. `shapes` are the model's symbolic input shapes (by name), used to size
 * the sample request; `source` is where the model came from, `exporter` what wrote it (markdown).
 */
export function tritonServingFiles(plan: TritonConfigPlan, shapes: Record<string, ReadonlyArray<string | number | null>>, source: string, exporter = '`fuselab export-triton`'): ServingFiles {
  const samples = plan.inputs.map((t) => sampleTensor(t, shapes[t.name] ?? t.modelDims, { ...SAMPLE_DIMS }));
  const batched = plan.maxBatchSize > 0;
  const sampleRequest = { inputs: samples, outputs: plan.outputs.map((o) => ({ name: o.name })) };
  const perfData = { data: [Object.fromEntries(samples.map((s) => [s.name, { content: s.data, shape: batched ? s.shape.slice(1) : s.shape }]))] };
  const name = plan.name;
  const dimText = (t: TritonTensorConfig) => `[${t.modelDims.map((d, i) => (d === -1 ? String(shapes[t.name]?.[i] ?? '?') : String(d))).join(', ')}]`;
  const table = (list: TritonTensorConfig[], role: 'input' | 'output') => [
    '| name | type | model shape | config dims |',
    '|---|---|---|---|',
    ...list.map((t) => `| \`${md(t.name)}\` | ${t.dataType} | ${md(role === 'input' ? dimText(t) : `[${t.modelDims.map((d) => (d === -1 ? '-1' : d)).join(', ')}]`)} | [${t.dims.join(', ')}]${t.reshape ? ' (scalar, reshape [])' : ''} |`),
  ];
  const batching = plan.kvCache
    ? [
      'This is a **KV-cache decoder**, exported **stateless**: each request carries the past keys and',
      'values (`past_key_values.*`, past length 0 for the prompt) and each response returns `present.*`,',
      'which the client sends back as the next step\'s past. Triton keeps no state between requests.',
      '',
      `Why not sequence batching: Triton's implicit state would keep the cache on the server, but every`,
      'request then needs a sequence id and control flags, and the server holds cache memory per live',
      'sequence; a stateless model works with any client. Dynamic batching only merges requests whose',
      'non-batch dims agree (the same past length and the same number of new tokens), which decode',
      `requests rarely share, so \`max_batch_size\` is ${plan.maxBatchSize}${plan.maxBatchSize > 0 ? ' (set explicitly)' : ' and each request is one model run'}.`,
      'For many concurrent users, run more instances (`--instances`) or put a scheduler that groups equal',
      'past lengths in front of it.',
    ]
    : plan.maxBatchSize > 0
      ? [
        `Triton owns the batch dim (\`${'symbol' in plan.batchDim ? plan.batchDim.symbol : ''}\`): \`max_batch_size\` is ${plan.maxBatchSize}, \`dims\` leave it out,`,
        `and requests still send it in their shape. The dynamic batcher merges requests (preferred sizes`,
        `${plan.dynamicBatching?.preferredBatchSizes.join(', ') ?? '—'}, waiting at most ${plan.dynamicBatching?.maxQueueDelayMicroseconds ?? 0} µs) whose other dims agree — e.g. the same`,
        'sequence length; pad on the client to make more of them batch together.',
      ]
      : [
        `No Triton batching (\`max_batch_size: 0\`${'none' in plan.batchDim ? `: ${plan.batchDim.none}` : ''}); \`dims\` are the full shapes, \`-1\` where dynamic.`,
      ];
  const shapeArgs = samples.filter((s) => s.shape.length).map((s) => `--shape ${s.name}:${(batched ? s.shape.slice(1) : s.shape).join(',')}`).join(' ');
  const readme = `# ${name}

A Triton Inference Server model for the onnxruntime backend, exported by ${exporter}
from \`${source}\`.

\`\`\`
${name}/
  config.pbtxt          platform "onnxruntime_onnx", max_batch_size ${plan.maxBatchSize}, ${plan.instanceGroup.count} × ${plan.instanceGroup.kind}
  1/model.onnx          version 1 of the model
  sample_request.json   the curl example's body
  perf_data.json        perf_analyzer's --input-data
\`\`\`

## Serve

From the folder that contains \`${name}/\` (the model repository), with a Triton release whose
ONNX Runtime is 1.20 or newer (the container release notes list it):

\`\`\`sh
docker run --rm ${plan.instanceGroup.kind === 'KIND_GPU' ? '--gpus all ' : ''}-p 8000:8000 -p 8001:8001 -p 8002:8002 \\
  -v "$PWD":/models nvcr.io/nvidia/tritonserver:\${TRITON_TAG:-24.12}-py3 \\
  tritonserver --model-repository=/models
curl -s localhost:8000/v2/health/ready && curl -s localhost:8000/v2/models/${name}/config
\`\`\`

## Request

\`\`\`sh
curl -s -X POST localhost:8000/v2/models/${name}/infer \\
  -H 'Content-Type: application/json' -d @${name}/sample_request.json
\`\`\`

The sample is one sequence of ${SAMPLE_DIMS.sequence_length} tokens${plan.kvCache ? ' with an empty past' : ''}; token ids must stay below the vocabulary size.

## Measure

\`\`\`sh
docker run --rm --net=host -v "$PWD":/models nvcr.io/nvidia/tritonserver:\${TRITON_TAG:-24.12}-py3-sdk \\
  perf_analyzer -m ${name} --input-data /models/${name}/perf_data.json ${shapeArgs}${batched ? ' -b 1' : ''} --concurrency-range 1:4
\`\`\`

perf_analyzer's own random data would put token ids past the vocabulary; perf_data.json holds valid ones.

## Inputs

${table(plan.inputs, 'input').join('\n')}

## Outputs

${table(plan.outputs, 'output').join('\n')}

## Batching

${batching.join('\n')}

## Notes

- Instances: ${plan.instanceGroup.count} × ${plan.instanceGroup.kind}. onnxruntime's graph optimizations run at level 1 (basic +
  extended); Fuselab has already fused the graph. To try TensorRT, add to \`optimization\`:
  \`execution_accelerators { gpu_execution_accelerator [ { name: "tensorrt" } ] }\`.
- Fused \`com.microsoft\` ops (MultiHeadAttention, GroupQueryAttention, SkipLayerNormalization...) run in
  onnxruntime's CPU and CUDA providers; onnxruntime's CUDA GroupQueryAttention kernels are fp16/bf16 (as of 1.20), so an fp32
  model with it falls back to the CPU for those nodes on KIND_GPU.
`;
  return { readme, sampleRequest, perfData };
}
