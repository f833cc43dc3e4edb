/**
 * Memory plan: activation lifetimes over the graph's topological order, one arena with reuse
 * ("greedy by size" offset planning, as in TFLite and ONNX Runtime), the numbers to judge it by (naive
 * total, peak of live bytes: the lower bound) and KV-cache bytes. Plain JSON out: the editor draws it
 * as a timeline.
 *
 * Read-only: the model is never mutated (shape inference, when needed, runs on a clone).
 */
import { byteSizeOf, inferShapes, isStaticShape, shapeSize, substituteDim } from '@fuselab/graph-core';
import type { Dim, DType, Graph, Model, Node, Value } from '@fuselab/graph-core';

export interface MemoryPlanOptions {
  /** Symbol values (`{ batch_size: 1, sequence_length: 16 }`), e.g. from `profileDimValues`. */
  dims: Record<string, number>;
  /** Offsets and sizes are rounded up to this many bytes (default 256). */
  alignment?: number;
  /** Reuse strategy; the only one so far. */
  reuse?: 'greedy-by-size';
  /** Context length (past + new tokens) for `kvCacheBytes.atMax`. */
  maxContext?: number;
}

/** One activation placed in the arena. `start`/`end` are inclusive steps. */
export interface PlannedTensor {
  value: string;
  /** Producer node name. */
  node: string;
  dtype: DType;
  shape: number[];
  /** Exact bytes of the tensor. */
  bytes: number;
  /** `bytes` rounded up to the alignment: what the arena reserves. */
  alignedBytes: number;
  start: number;
  end: number;
  offset: number;
}

export interface UnknownSize {
  value: string;
  node: string;
  reason: string;
}

export interface MemoryStep {
  step: number;
  node: string;
  opType: string;
  /** Aligned bytes of the activations alive during this step. */
  liveBytes: number;
}

export interface KvCacheSize {
  /** Bytes of K and V for one token of context, at the planned batch. */
  perToken: number;
  /** Bytes for `maxContext` tokens, when asked. */
  atMax?: number;
  /** How many KV inputs (`past_key_values.N.key|value`) were summed. */
  inputs: number;
}

export interface MemoryPlan {
  alignment: number;
  reuse: 'greedy-by-size';
  /** Activations in graph order of their producers. */
  tensors: PlannedTensor[];
  /** Activations whose size stays unknown: excluded from every number, never guessed. */
  unknownSizes: UnknownSize[];
  /** Arena size with reuse. */
  arenaBytes: number;
  /** Sum of all (aligned) activations: an allocator that never reuses. */
  naiveBytes: number;
  /** Max over steps of (aligned) bytes alive: no placement can do better. */
  peakLiveBytes: number;
  /** Initializer bytes of the main graph and its subgraphs. */
  weightsBytes: number;
  /** Null when the model has no Optimum KV inputs or their size is not known. */
  kvCacheBytes: KvCacheSize | null;
  steps: MemoryStep[];
}

const KV_INPUT = /^past_key_values\.(\d+)\.(key|value)$/;

/** Plans activation memory for `model` at the symbol values `options.dims`. */
export function planMemory(model: Model, options: MemoryPlanOptions): MemoryPlan {
  const alignment = options.alignment ?? 256;
  if (!Number.isInteger(alignment) || alignment < 1) throw new RangeError(`alignment must be a positive integer, got ${alignment}`);
  const reuse = options.reuse ?? 'greedy-by-size';
  if (reuse !== 'greedy-by-size') throw new RangeError(`unknown reuse strategy '${String(reuse)}'`);
  const bindings = bindingsOf(options.dims);

  const needsTypes = model.graph.nodes.some((n) => n.outputs.some((v) => v !== null && v.shape === null));
  if (needsTypes) {
    model = model.clone();
    inferShapes(model);
  }
  const graph = model.graph;
  const nodes = graph.nodes;
  const last = nodes.length - 1;
  const stepOf = new Map<Node, number>();
  nodes.forEach((n, i) => stepOf.set(n, i));

  // lifetimes: born at the producer, dies after the last consumer (or the owner of a capturing subgraph)
  const endOf = new Map<Value, number>();
  const touch = (v: Value, step: number) => {
    const e = endOf.get(v);
    if (e !== undefined && step > e) endOf.set(v, step);
  };
  const candidates: Value[] = [];
  nodes.forEach((n, i) => {
    for (const v of n.outputs) {
      if (v && !endOf.has(v)) {
        endOf.set(v, i);
        candidates.push(v);
      }
    }
  });
  nodes.forEach((n, i) => {
    for (const v of n.inputs) if (v) touch(v, i);
    for (const g of n.subgraphs()) for (const v of g.capturedValues()) touch(v, i);
  });
  for (const v of graph.outputs) touch(v, last);

  const align = (b: number) => Math.ceil(b / alignment) * alignment;
  const tensors: PlannedTensor[] = [];
  const unknownSizes: UnknownSize[] = [];
  for (const v of candidates) {
    const producer = v.producer;
    const nodeName = producer?.name ?? '';
    const sized = sizeOf(v, bindings);
    if (typeof sized === 'string') {
      unknownSizes.push({ value: v.name, node: nodeName, reason: sized });
      continue;
    }
    const bytes = byteSizeOf(sized.dtype, shapeSize(sized.shape));
    tensors.push({
      value: v.name,
      node: nodeName,
      dtype: sized.dtype,
      shape: sized.shape,
      bytes,
      alignedBytes: align(bytes),
      start: producer ? (stepOf.get(producer) ?? 0) : 0,
      end: endOf.get(v) ?? last,
      offset: 0,
    });
  }

  const arenaBytes = greedyBySize(tensors);

  // live bytes per step by a difference array
  const delta = new Float64Array(nodes.length + 1);
  let naiveBytes = 0;
  for (const t of tensors) {
    naiveBytes += t.alignedBytes;
    delta[t.start] += t.alignedBytes;
    delta[t.end + 1] -= t.alignedBytes;
  }
  const steps: MemoryStep[] = [];
  let live = 0;
  let peakLiveBytes = 0;
  nodes.forEach((n, i) => {
    live += delta[i];
    if (live > peakLiveBytes) peakLiveBytes = live;
    steps.push({ step: i, node: n.name, opType: n.opType, liveBytes: live });
  });

  let kv: KvCacheSize | null = null;
  const perToken = kvBytesPerToken(graph, bindings);
  if (perToken) {
    kv = { perToken: perToken.bytes, inputs: perToken.inputs };
    if (options.maxContext !== undefined) kv.atMax = perToken.bytes * options.maxContext;
  }

  return { alignment, reuse, tensors, unknownSizes, arenaBytes, naiveBytes, peakLiveBytes, weightsBytes: weightsBytesOf(graph), kvCacheBytes: kv, steps };
}

/**
 * KV-cache bytes of a model with Optimum KV inputs (`past_key_values.N.key|value`) for `batch`
 * sequences of `context` tokens each. `dims` binds any other symbol of the KV inputs' shapes. Null
 * when the model has no KV inputs or a dim other than batch and past length is unknown.
 */
export function kvCacheBytes(model: Model, options: { batch: number; context: number; dims?: Record<string, number> }): { perToken: number; total: number; inputs: number } | null {
  const bindings = bindingsOf(options.dims ?? {});
  const per = kvBytesPerToken(model.graph, bindings, options.batch);
  return per ? { perToken: per.bytes, total: per.bytes * options.context, inputs: per.inputs } : null;
}

// ---- internals -------------------------------------------------------------------------------------

function bindingsOf(dims: Record<string, number>): Map<string, Dim> {
  const m = new Map<string, Dim>();
  for (const [k, v] of Object.entries(dims)) m.set(k, v);
  return m;
}

/** The value's dtype and static shape at `bindings`, or why not. */
function sizeOf(v: Value, bindings: ReadonlyMap<string, Dim>): { dtype: DType; shape: number[] } | string {
  const t = v.type;
  if (!t) return 'no type';
  if (t.kind !== 'tensor') return `${t.kind} value`;
  if (!t.dtype) return 'unknown dtype';
  if (!t.shape) return 'unknown rank';
  const shape = t.shape.map((d) => substituteDim(d, bindings));
  if (!isStaticShape(shape)) {
    const open = shape.filter((d) => typeof d !== 'number').map((d) => (d === null ? '?' : d));
    return `dims not bound: ${open.join(', ')}`;
  }
  if (t.dtype === 'string') return 'string tensor';
  return { dtype: t.dtype, shape: [...shape] };
}

/**
 * Greedy by size: largest first (ties: earlier birth, then graph order), each at the lowest aligned
 * offset free of every already placed tensor that overlaps it in time. Sets `offset`; returns the
 * arena size. Placed tensors are kept sorted by offset, so finding a gap is one linear scan.
 */
function greedyBySize(tensors: PlannedTensor[]): number {
  const order = tensors.map((_, i) => i);
  order.sort((a, b) => tensors[b].alignedBytes - tensors[a].alignedBytes || tensors[a].start - tensors[b].start || a - b);
  const placed: PlannedTensor[] = [];
  let arena = 0;
  for (const i of order) {
    const t = tensors[i];
    let offset = 0;
    if (t.alignedBytes > 0) {
      for (const p of placed) {
        if (p.start > t.end || t.start > p.end || p.alignedBytes === 0) continue;
        if (p.offset >= offset + t.alignedBytes) break;
        offset = Math.max(offset, p.offset + p.alignedBytes);
      }
    }
    t.offset = offset;
    // insert after every tensor with offset <= this one (stable for equal offsets)
    let lo = 0;
    let hi = placed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (placed[mid].offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    placed.splice(lo, 0, t);
    arena = Math.max(arena, offset + t.alignedBytes);
  }
  return arena;
}

/** Sum over KV inputs of (all dims but the past-length one) × element size, at `batch` if given. */
function kvBytesPerToken(graph: Graph, bindings: ReadonlyMap<string, Dim>, batch?: number): { bytes: number; inputs: number } | null {
  let bytes = 0;
  let inputs = 0;
  for (const v of graph.inputs) {
    if (!KV_INPUT.test(v.name)) continue;
    const shape = v.shape;
    const dtype = v.dtype;
    if (!shape || !dtype || dtype === 'string') return null;
    const past = pastAxis(shape);
    let elems = 1;
    for (let i = 0; i < shape.length; i++) {
      if (i === past) continue;
      const d = i === 0 && batch !== undefined ? batch : substituteDim(shape[i], bindings);
      if (typeof d !== 'number') return null;
      elems *= d;
    }
    bytes += byteSizeOf(dtype, elems);
    inputs++;
  }
  return inputs ? { bytes, inputs } : null;
}

/** The axis named like a past length; else axis 2 (Optimum's [batch, heads, past, head_dim]). */
function pastAxis(shape: readonly Dim[]): number {
  const named = shape.findIndex((d) => typeof d === 'string' && /past/i.test(d));
  if (named >= 0) return named;
  return shape.length === 4 ? 2 : shape.length - 2;
}

function weightsBytesOf(graph: Graph): number {
  let total = 0;
  const visit = (g: Graph) => {
    for (const v of g.initializers.values()) {
      const t = v.initializer;
      if (t) total += t.expectedByteLength ?? t.byteLength ?? 0;
    }
  };
  visit(graph);
  const seen = new Set<Graph>([graph]);
  for (const n of graph.allNodes()) {
    for (const g of n.subgraphs()) {
      if (!seen.has(g)) {
        seen.add(g);
        visit(g);
      }
    }
  }
  return total;
}
