/**
 * The node kinds of the workflow canvas, data-driven: one entry per optimizer pass (from the pass
 * registry: name, description, category, parameters) plus the source, analysis, runtime and export
 * kinds. Ports are typed (`model`, `engine`, `report`); handle ids are short and stable (`in:model`).
 */
import { PASSES, type ParamSpec } from '@fuselab/optimizer';

export type PortType = 'model' | 'engine' | 'report';

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
  { kind: 'validate', title: 'validate', category: 'analysis', description: 'Runs the original and the optimized model on seeded inputs in onnxruntime-web (wasm) and compares every output with the fusion tolerance.', inputs: [modelIn], outputs: [{ id: 'out:report', type: 'report', label: 'report' }], params: {}, available: true },
  { kind: 'build-engine', title: 'build engine', category: 'runtime', description: 'Validates the optimized model against the original, then packs it into one .engine file for the runtime\'s device: model, tokenizer, generation config, provenance and a manifest with checksums (what `fuselab build` writes).', inputs: [modelIn], outputs: [{ id: 'out:engine', type: 'engine', label: 'engine' }], params: { target: { type: 'string', default: 'auto', choices: ['auto', 'webgpu', 'wasm'], doc: 'device to build for: auto = WebGPU when the runtime worker has an adapter, else wasm' } }, available: true },
  { kind: 'playground', title: 'playground', category: 'runtime', description: 'Streams tokens from the engine beside the plain model: TTFT, tok/s, inter-token latency, per-layer timings.', inputs: [{ id: 'in:engine', type: 'engine', label: 'engine' }], outputs: [], params: {}, available: true },
  { kind: 'export-triton', title: 'export Triton', category: 'export', description: 'Writes a Triton model repository (config.pbtxt + model) for the optimized model.', inputs: [modelIn], outputs: [], params: {}, available: false, note: 'from the command line for now: `fuselab export-triton X.engine --out DIR` (save the engine first); the editor cannot write a folder yet' },
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
