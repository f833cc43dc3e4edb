/**
 * Seeded random inputs that respect the model: token ids below the vocabulary size, attention masks
 * of ones covering past + new tokens, position ids continuing after the past, past KV of the right
 * length, token types of zero. Symbolic dims take values from `dims` (with LLM-style defaults).
 */
import type { Dim, Model, Value } from '@fuselab/graph-core';
import type { HostData, HostTensor } from './host-tensor.ts';

export interface InputSpec {
  /** Seed of the PRNG (default 1). */
  seed?: number;
  /** Values of symbolic dims, e.g. `{ batch_size: 2, sequence_length: 8, past_sequence_length: 4 }`. */
  dims?: Record<string, number>;
  /** Vocabulary size for token ids; detected from the embedding table when omitted. */
  vocab?: number;
}

export const DEFAULT_DIMS: Record<string, number> = { batch_size: 2, batch: 2, sequence_length: 8, past_sequence_length: 4, total_sequence_length: 12 };

/** mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves a dim: numbers as is, symbols from `dims`, `a + b` / `a - b` / `a * b` expressions term by term. */
export function resolveDim(d: Dim, dims: Record<string, number>, fallback = 1): number {
  if (typeof d === 'number') return d;
  if (d === null) return fallback;
  if (d in dims) return dims[d];
  const expr = d.replace(/\s+/g, '');
  const m = /^(.+?)([+\-*])(.+)$/.exec(expr);
  if (m) {
    const a = resolveDim(m[1], dims, fallback);
    const b = resolveDim(m[3], dims, fallback);
    return m[2] === '+' ? a + b : m[2] === '-' ? a - b : a * b;
  }
  if (/^\d+$/.test(expr)) return Number(expr);
  return fallback;
}

/**
 * Rows of the embedding-style table that graph input `inputName` indexes: follows the input through
 * shape-only ops (Cast, Reshape, Unsqueeze...) to a Gather that uses it as indices and returns the
 * data input's first dim. Null when there is no such table (e.g. rotary positions computed in-graph).
 */
export function gatherTableRows(model: Model, inputName: string | RegExp): number | null {
  const start = model.graph.inputs.find((v) => (typeof inputName === 'string' ? v.name === inputName : inputName.test(v.name)));
  if (!start) return null;
  const seen = new Set<Value>();
  const queue: Value[] = [start];
  while (queue.length) {
    const v = queue.shift() as Value;
    if (seen.has(v) || seen.size > 64) continue;
    seen.add(v);
    for (const u of v.uses) {
      const n = u.node;
      if (n.opType === 'Gather' && u.index === 1) {
        const table = n.inputs[0];
        const rows = table?.initializer ? table.initializer.dims[0] : table?.shape?.[0];
        if (typeof rows === 'number') return rows;
      }
      if (['Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Identity', 'Expand'].includes(n.opType) && u.index === 0) {
        for (const o of n.outputs) if (o) queue.push(o);
      }
    }
  }
  return null;
}

/** Detects the vocabulary size: the row count of the table that `input_ids` indexes. */
export function detectVocab(model: Model): number | null {
  return gatherTableRows(model, /input_ids/);
}

const typed = (dtype: string, n: number): HostData => {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'bool': case 'uint8': return new Uint8Array(n);
    case 'int8': return new Int8Array(n);
    case 'float16': case 'uint16': return new Uint16Array(n);
    default: throw new Error(`cannot make random input of dtype '${dtype}'`);
  }
};

/** Makes one feed per non-initializer graph input. */
export function randomInputs(model: Model, spec: InputSpec = {}): Record<string, HostTensor> {
  const rand = prng(spec.seed ?? 1);
  const dims = { ...DEFAULT_DIMS, ...spec.dims };
  if (!('total_sequence_length' in (spec.dims ?? {}))) dims.total_sequence_length = dims.past_sequence_length + dims.sequence_length;
  const vocab = spec.vocab ?? detectVocab(model) ?? 100;
  const past = dims.past_sequence_length;
  const feeds: Record<string, HostTensor> = {};
  for (const v of model.graph.inputs) {
    if (v.initializer) continue;
    const dtype = v.dtype ?? 'float32';
    const shape = (v.shape ?? []).map((d) => resolveDim(d, dims));
    const n = shape.reduce((a, b) => a * b, 1);
    const data = typed(dtype, n);
    const name = v.name;
    const set = (i: number, x: number) => {
      if (data instanceof BigInt64Array) data[i] = BigInt(Math.trunc(x));
      else data[i] = x;
    };
    const last = shape[shape.length - 1] ?? 1;
    for (let i = 0; i < n; i++) {
      if (/input_ids/.test(name)) set(i, Math.floor(rand() * vocab));
      else if (/attention_mask/.test(name)) set(i, 1);
      else if (/position_ids/.test(name)) set(i, past + (i % last));
      else if (/token_type_ids/.test(name)) set(i, 0);
      else if (dtype === 'bool') set(i, rand() < 0.5 ? 1 : 0);
      else if (dtype.startsWith('int') || dtype.startsWith('uint')) set(i, Math.floor(rand() * 4));
      else set(i, (rand() * 2 - 1) * 1.0);
    }
    feeds[name] = { dtype, dims: shape, data };
  }
  return feeds;
}
