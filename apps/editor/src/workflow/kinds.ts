/**
 * The node kinds of the workflow canvas, data-driven: one entry per optimizer pass (from the pass
 * registry: name, description, category, parameters) plus the source, analysis, runtime and export
 * kinds. Ports are typed (`model`, `engine`, `report`, `profiles`); handle ids are short and stable
 * (`in:model`).
 */
import { PASSES, type ParamSpec } from '@fuselab/optimizer';

export type PortType = 'model' | 'engine' | 'report' | 'profiles';

export interface PortSpec {
  /** Handle id: `in:model`, `out:report`... */
  id: string;
  type: PortType;
  label: string;
}

export type KindCategory = 'source' | 'cleanup' | 'fusion' | 'precision' | 'shape' | 'analysis' | 'runtime' | 'export';

export interface KindSpec {
  kind: string;
  title: string;
  category: KindCategory;
  description: string;
  inputs: PortSpec[];
  outputs: PortSpec[];
  params: Readonly<Record<string, ParamSpec>>;
  /** The pass this kind runs (pass kinds only). */
  pass?: string;
  /** False when the capability is not in this build yet (shown, greyed, with `note`). */
  available: boolean;
  note?: string;
}

const modelIn: PortSpec = { id: 'in:model', type: 'model', label: 'model' };
const modelOut: PortSpec = { id: 'out:model', type: 'model', label: 'model' };
const engineIn: PortSpec = { id: 'in:engine', type: 'engine', label: 'engine' };
const engineOut: PortSpec = { id: 'out:engine', type: 'engine', label: 'engine' };
const profilesOut: PortSpec = { id: 'out:profiles', type: 'profiles', label: 'profiles' };

export const PASS_PREFIX = 'pass:';

function passKinds(): KindSpec[] {
  return [...PASSES.values()].map((p) => ({
    kind: `${PASS_PREFIX}${p.name}`, title: p.name, category: p.category, description: p.description,
    inputs: [modelIn], outputs: [modelOut], params: p.params, pass: p.name, available: true,
  }));
}


export const KINDS: readonly KindSpec[] = [
  { kind: 'source', title: 'Model source', category: 'source', description: 'The ONNX model to optimize: a bundled example, a file you open, or one you drop on the window.', inputs: [], outputs: [modelOut], params: {}, available: true },
  ...passKinds(),
  { kind: 'memory-plan', title: 'memory plan', category: 'analysis', description: 'Activation lifetimes and one reusable arena (planMemory): arena vs naive vs peak bytes, KV cache per token.', inputs: [modelIn], outputs: [{ id: 'out:report', type: 'report', label: 'plan' }], params: { sequence_length: { type: 'number', default: 128, min: 1, doc: 'tokens in the planned step' }, past_sequence_length: { type: 'number', default: 0, min: 0, doc: 'cached tokens before the step' } }, available: true },
  { kind: 'validate', title: 'validate', category: 'analysis', description: 'Runs the original and the optimized model on seeded inputs in onnxruntime-web (wasm) and compares every output with the fusion tolerance — or, after a precision step, its named tolerance (int8-qdq, int4-weight-only, fp16: logits cosine).', inputs: [modelIn], outputs: [{ id: 'out:report', type: 'report', label: 'report' }], params: {}, available: true },
  { kind: 'profiles', title: 'profiles', category: 'shape', description: 'Dynamic-shape optimization profiles for the model\'s inputs, worked out on its own symbols: prefill (a prompt of 1…prefill_tokens, empty past) and decode (one new token after 1…max_context−1 past), batch 1…batch. The build engine node records them; the engine\'s context limit is the largest total length they allow.', inputs: [modelIn], outputs: [profilesOut], params: {
    batch: { type: 'number', default: 1, min: 1, doc: 'largest batch (min 1, opt 1)' },
    max_context: { type: 'number', default: 0, min: 0, doc: 'largest past + new tokens; 0 = the positions the model was trained for (config.json), else 1024' },
    prefill_tokens: { type: 'number', default: 0, min: 0, doc: 'largest prompt one prefill takes; 0 = up to max_context (more is clamped to it)' },
    typical_prompt: { type: 'number', default: 128, min: 1, doc: 'the prompt length to tune for (prefill opt)' },
  }, available: true },
  { kind: 'build-engine', title: 'build engine', category: 'runtime', description: 'Validates the optimized model against the original, then packs it into one .engine file for the runtime\'s device: model, tokenizer, generation config, profiles, provenance and a manifest with checksums (what `fuselab build` writes).', inputs: [modelIn, { id: 'in:profiles', type: 'profiles', label: 'profiles' }], outputs: [engineOut], params: { target: { type: 'string', default: 'auto', choices: ['auto', 'webgpu', 'wasm'], doc: 'device to build for: auto = WebGPU when the runtime worker has an adapter, else wasm' } }, available: true },
  { kind: 'playground', title: 'playground', category: 'runtime', description: 'Streams tokens from the engine beside the plain model (onnxruntime\'s own graph optimizations off, so the comparison is plain vs optimized): TTFT, tok/s, inter-token latency, per-layer timings.', inputs: [engineIn], outputs: [], params: {}, available: true },
  { kind: 'export-triton', title: 'export Triton', category: 'export', description: 'Packs the engine\'s model into a Triton Inference Server model repository (config.pbtxt, 1/model.onnx, README with docker run / curl / perf_analyzer, sample request) as one .tar download — what `fuselab export-triton X.engine` writes.', inputs: [engineIn], outputs: [], params: {
    name: { type: 'string', default: '', doc: 'Triton model name (the repository folder); empty = from the engine\'s file name' },
    max_batch: { type: 'string', default: 'auto', doc: 'max_batch_size: auto (8 when every tensor shares a batch dim, 0 for KV-cache decoders) or a number' },
    instances: { type: 'number', default: 1, min: 1, doc: 'model instances' },
    kind: { type: 'string', default: 'KIND_GPU', choices: ['KIND_GPU', 'KIND_CPU'], doc: 'where instances run' },
  }, available: true },
];

export const KIND_BY_ID: ReadonlyMap<string, KindSpec> = new Map(KINDS.map((k) => [k.kind, k]));

export function kindSpec(kind: string): KindSpec {
  const k = KIND_BY_ID.get(kind);
  if (!k) throw new Error(`unknown node kind '${kind}' (known: ${[...KIND_BY_ID.keys()].join(', ')})`);
  return k;
}

export function portType(kind: string, handle: string): PortType | undefined {
  const k = KIND_BY_ID.get(kind);
  return [...(k?.inputs ?? []), ...(k?.outputs ?? [])].find((p) => p.id === handle)?.type;
}

export const CATEGORY_COLORS: Record<KindCategory, string> = {
  source: '#38bdf8',
  cleanup: '#a3a3a3',
  shape: '#94a3b8',
  fusion: '#34d399',
  precision: '#f472b6',
  analysis: '#fbbf24',
  runtime: '#a78bfa',
  export: '#fb923c',
};
