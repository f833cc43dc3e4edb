/**
 * Shape folding: runs graph-core's shape inference (with the active optimization profile's frozen
 * dims substituted, symbols elsewhere) and replaces shape computations by constants wherever the
 * inferred shapes decide them. Rules:
 *
 *   v (int data known in full, e.g. Shape(x) with x static)  → constant v
 *   Reshape(x, s) with s computed                            → Reshape(x, c), c in 0/−1 form
 *   Expand(x, s) with s computed                             → Expand(x, c), c in 1-form
 *   Slice(x, st, en, ax, sp) with en[i] = dim(x, ax[i])      → en[i] = INT64_MAX
 *
 * The 0/−1 form of a Reshape target, from the inferred output shape: an output dim equal to the
 * same-position input dim is 0 (copy), a static one is its number, and at most one remaining dim is
 * −1 (inferred from the element count). `[batch, seq, 64] → [batch·seq, 64]` gets `[-1, 64]`;
 * `[batch, seq, 64] → [batch, seq, 4, 16]` gets `[0, 0, 4, 16]`. The Expand analogue writes 1 where
 * the output dim equals the input's (broadcast keeps it). Once the targets are constants, the
 * `Shape → Gather → Unsqueeze → Concat` subgraphs that computed them are dead code, and fusion
 * patterns see constant shapes.
 *
 * "Known in full" comes from the contents shape inference propagates for small integer tensors:
 * `Shape(x)` of a static x, `Gather(Shape(x), 2)` of a static dim, `seq − seq`. Only selections and
 * integer ring arithmetic are trusted (Shape, Size, Gather, Slice, Concat, (Un)Squeeze, Reshape,
 * Flatten, Identity, Add, Sub, Mul, Neg and integer Casts); everything else is left to
 * fold-constants' bit-exact evaluator once its inputs are constants. Frontier values only: a known
 * value whose readers are all known too is skipped (the readers' outputs are folded instead).
 *
 * Declared value_info shapes of intermediate values are not trusted (exporters record traced sizes
 * there): they are cleared and re-inferred. With a profile whose dims are frozen, the graph inputs'
 * types are rewritten to the frozen shapes — the optimized model then only accepts those sizes.
 */
import {
  defaultOpRegistry, inferShapes, OpRegistry, Tensor,
  type DType, type Graph, type InferenceContext, type LazyTensorData, type Node, type OpSchema, type Shape, type TensorData, type Value,
} from '@fuselab/graph-core';
import { emptyResult, type Pass, type PassResult } from '../pass.ts';
import { resolveProfile } from '../profiles.ts';
import { constNumbers } from '../rewrite/match.ts';
import { foldedName, replaceWithConstant } from './fold-constants.ts';

const PASS = 'fold-shapes';
const INT64_MAX = 2n ** 63n - 1n;
const MAX_DIAGNOSTICS_PER_RULE = 50;
/** Contents bigger than this are not folded from inference (shape vectors are tiny). */
const MAX_KNOWN_ELEMENTS = 1024;
/** Producers whose propagated contents are selections or integer ring arithmetic of dims. */
const TRUSTED = new Set(['Shape', 'Size', 'Gather', 'Slice', 'Concat', 'Unsqueeze', 'Squeeze', 'Reshape', 'Flatten', 'Identity', 'Add', 'Sub', 'Mul', 'Neg', 'Cast']);
const INT_TYPES = new Set<DType>(['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64']);

/** Parameters of {@link foldShapes}. */
export interface FoldShapesParams extends Record<string, unknown> {
  reshapeTargets: boolean;
  expandTargets: boolean;
}

/** The shape-folding pass (see the file header for its rules). Reads the active profile from the pass context. */
export const foldShapes: Pass = {
  name: PASS,
  description: 'Infer shapes (with the profile\'s frozen dims) and replace shape computations and Reshape/Expand targets by constants',
  category: 'shape',
  params: {
    reshapeTargets: { type: 'boolean', default: true, doc: 'Replace computed Reshape targets by constants in 0/−1 form' },
    expandTargets: { type: 'boolean', default: true, doc: 'Replace computed Expand shapes by constants in 1-form' },
  },
  run(model, ctx, rawParams) {
    const params = rawParams as FoldShapesParams;
    const result = emptyResult(model);
    const g = model.graph;
    const folded: Record<string, number> = {};
    const perRule = new Map<string, number>();
    const reject = (rule: string, node: Node, message: string): void => {
      const n = (perRule.get(rule) ?? 0) + 1;
      perRule.set(rule, n);
      if (n <= MAX_DIAGNOSTICS_PER_RULE) result.diagnostics.push({ pass: PASS, rule, kind: 'rejected', nodes: [node.name], message });
    };
    const count = (key: string) => {
      folded[key] = (folded[key] ?? 0) + 1;
      result.modified = true;
    };

    // 1. shape inference from scratch, recording propagated contents of main-graph values
    const inputTypesBefore = g.inputs.map((v) => JSON.stringify(v.type));
    const resolved = ctx.profile ? resolveProfile(model, ctx.profile) : null;
    for (const n of g.allNodes()) {
      // values inference will recompute start from scratch; outputs of ops it does not know keep their types
      const knownOp = defaultOpRegistry.lookup(n.domain, n.opType, model.opset(n.domain)) ?? model.functionFor(n.domain, n.opType, n.overload);
      if (knownOp) for (const v of n.outputs) if (v && !v.isGraphOutput) v.type = null;
    }
    const recorded = new Map<Value, RecordedData>();
    const report = inferShapes(model, { inputShapes: resolved?.inputShapes, registry: recordingRegistry(g, recorded) });
    const known = new KnownContents(recorded);
    const specialized = resolved ? g.inputs.filter((v, i) => JSON.stringify(v.type) !== inputTypesBefore[i]).map((v) => v.name) : [];
    if (ctx.profile && specialized.length) {
      result.modified = true;
      result.diagnostics.push({ pass: PASS, rule: 'profile', kind: 'info', nodes: [], message: `profile '${ctx.profile.name}' froze input shapes: ${specialized.map((n) => `${n} ${fmtShape(g.inputs.find((v) => v.name === n)?.shape ?? null)}`).join(', ')}` });
    }
    for (const e of report.errors.slice(0, MAX_DIAGNOSTICS_PER_RULE)) result.diagnostics.push({ pass: PASS, rule: 'shape-inference', kind: 'warning', nodes: e.node ? [e.node] : [], message: e.message });

    // 2. values whose integer contents are known in full → constants (frontier only)
    const numeric = (v: Value | null): boolean => {
      const d = v ? known.get(v) : undefined;
      return !!d && INT_TYPES.has(d.dtype) && d.values.every((x) => typeof x === 'number');
    };
    const trust = new Map<Value, boolean>();
    const trusted = (v: Value): boolean => {
      const memo = trust.get(v);
      if (memo !== undefined) return memo;
      trust.set(v, false); // cycles cannot happen in a DAG; this only guards re-entry
      const ok = isTrusted(v, g, known, trusted);
      trust.set(v, ok);
      return ok;
    };
    const fullyKnown = (n: Node): boolean => n.outputs.every((o) => !o || (numeric(o) && trusted(o) && !o.isGraphOutput));
    for (const node of g.nodes) {
      if (!TRUSTED.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) continue;
      const names: string[] = [];
      node.outputs.forEach((v, i) => {
        if (!v || v.isGraphOutput || v.useCount === 0 || !numeric(v) || !trusted(v)) return;
        if (v.uses.every((u) => u.node.graph === g && fullyKnown(u.node))) return;
        const data = known.get(v) as TensorData;
        names.push(replaceWithConstant(g, v, toTensor(data), foldedName(node, i, v)).name);
        count(node.opType);
      });
      if (names.length && node.outputs.every((o) => !o || (o.useCount === 0 && !o.isGraphOutput))) {
        g.removeNode(node);
        result.removed.push({ node: node.name, opType: node.opType, pass: PASS, reason: `folded to constant ${names.join(', ')}` });
      }
    }

    // 3. values with the same symbolic contents (Shape(a)[0] and Shape(b)[0] are both `batch_size`)
    //    → the first of them; CSE then merges the identical chains that read them
    const symbolic = new Map<string, Value>();
    for (const node of g.nodes) {
      if (!TRUSTED.has(node.opType) || (node.domain !== '' && node.domain !== 'ai.onnx')) continue;
      let replaced = false;
      node.outputs.forEach((v) => {
        const d = v ? known.get(v) : undefined;
        // unread values (left for dead-code elimination) never stand in for others
        if (!v || !d || v.useCount === 0 || !INT_TYPES.has(d.dtype) || d.values.some((x) => x === null) || !trusted(v)) return;
        const key = keyOf(d);
        const first = symbolic.get(key);
        if (!first) {
          symbolic.set(key, v);
          return;
        }
        if (v.isGraphOutput) return;
        g.replaceAllUsesWith(v, first);
        replaced = true;
        count('same symbolic value');
      });
      if (replaced && node.outputs.every((o) => !o || (o.useCount === 0 && !o.isGraphOutput))) {
        const first = node.outputs[0] ? symbolic.get(keyOf(known.get(node.outputs[0]))) : undefined;
        g.removeNode(node);
        result.removed.push({ node: node.name, opType: node.opType, pass: PASS, reason: `same value as '${first?.name ?? '?'}' (${known.get(node.outputs[0] as Value)?.values.join(', ')})` });
      }
    }

    // 4. computed Reshape / Expand targets and Slice ends → constants
    for (const node of g.nodes) {
      if (node.domain !== '' && node.domain !== 'ai.onnx') continue;
      if (node.opType === 'Reshape' && params.reshapeTargets) foldReshapeTarget(g, node, count, reject);
      else if (node.opType === 'Expand' && params.expandTargets) foldExpandTarget(g, node, count, reject);
      else if (node.opType === 'Slice') foldSliceEnds(g, node, known, count);
    }
    summarize(result, perRule);
    result.stats = { folded, inputsSpecialized: specialized.length, unresolved: report.unresolved.length, inferenceErrors: report.errors.length };
    return result;
  },
};

type Count = (key: string) => void;
type Reject = (rule: string, node: Node, message: string) => void;

const isConst = (v: Value | null | undefined) => !!v && !!v.initializer && !v.isGraphInput;

/** Contents a shape function set for an output (possibly computed on demand) and the rank it set. */
interface RecordedData {
  data: TensorData | LazyTensorData;
  rank: number | null;
}

/** Recorded contents, resolved (and size-checked like inference does) on first read. */
class KnownContents {
  private readonly resolved = new Map<Value, TensorData | null>();
  constructor(private readonly recorded: ReadonlyMap<Value, RecordedData>) {}

  has(v: Value): boolean {
    return this.get(v) !== undefined;
  }

  get(v: Value): TensorData | undefined {
    if (!this.resolved.has(v)) {
      const r = this.recorded.get(v);
      let d: TensorData | null = null;
      if (r) d = typeof r.data === 'function' ? r.data() : r.data;
      if (d && (d.values.length > MAX_KNOWN_ELEMENTS || (r?.rank !== null && r?.rank !== d.dims.length))) d = null;
      this.resolved.set(v, d);
    }
    return this.resolved.get(v) ?? undefined;
  }
}

/**
 * Whether the contents inference propagated for `v` can be trusted: Shape/Size read only dims; the
 * other trusted ops must have every input constant or itself trusted (an integer Cast of a float
 * computed in float64 by inference is not).
 */
function isTrusted(v: Value, g: Graph, known: KnownContents, trusted: (v: Value) => boolean): boolean {
  const p = v.producer;
  if (!p || p.graph !== g || (p.domain !== '' && p.domain !== 'ai.onnx')) return false;
  if (p.opType === 'Shape' || p.opType === 'Size') return true;
  if (!TRUSTED.has(p.opType)) return false;
  if (p.opType === 'Cast' && !INT_TYPES.has(p.inputs[0]?.dtype ?? 'float32')) return false;
  return p.inputs.every((u) => !u || isConst(u) || (known.has(u) && trusted(u)));
}

/** The 0/−1 form of a Reshape target, or why there is none. */
export function reshapeTargetFor(input: Shape, output: Shape, allowzero: boolean): number[] | string {
  const target: number[] = [];
  let infer = -1;
  for (let i = 0; i < output.length; i++) {
    const d = output[i];
    if (d === null) return `output dim ${i} is unknown`;
    if (typeof d === 'number' && (d !== 0 || allowzero)) target.push(d);
    else if (d === 0 && i < input.length && input[i] === 0) target.push(0);
    else if (!allowzero && i < input.length && input[i] === d) target.push(0);
    else if (infer < 0 && d !== 0) {
      infer = i;
      target.push(-1);
    } else {
      return `output dims ${infer} and ${i} (${fmtShape(output)}) are neither static nor copies of input dims ${fmtShape(input)}; a Reshape target can infer only one (-1)`;
    }
  }
  return target;
}

function foldReshapeTarget(g: Graph, node: Node, count: Count, reject: Reject): void {
  const target = node.inputs[1];
  if (!target || isConst(target)) return;
  const x = node.inputs[0];
  const out = node.outputs[0];
  if (!x?.shape || !out?.shape) {
    reject('reshape-target', node, `the ${x?.shape ? 'output' : 'input'} shape of '${node.name}' is not known after shape inference`);
    return;
  }
  // the new target is written with allowzero=0 semantics (0 copies), whatever the node had: it
  // replaces the computed target entirely, so the old literal-zero reading no longer applies
  const t = reshapeTargetFor(x.shape, out.shape, false);
  if (typeof t === 'string') {
    reject('reshape-target', node, t);
    return;
  }
  const c = g.addInitializer(Tensor.from('int64', [t.length], BigInt64Array.from(t, (d) => BigInt(d))), g.uniqueName(`${node.name}_shape`));
  node.setInput(1, c);
  if (node.attributes.has('allowzero')) node.attributes.delete('allowzero');
  g.invalidateOrder();
  count('Reshape target');
}

function foldExpandTarget(g: Graph, node: Node, count: Count, reject: Reject): void {
  const shapeIn = node.inputs[1];
  if (!shapeIn || isConst(shapeIn)) return;
  const x = node.inputs[0];
  const out = node.outputs[0]?.shape;
  if (!x?.shape || !out) {
    reject('expand-target', node, `the ${x?.shape ? 'output' : 'input'} shape of '${node.name}' is not known after shape inference`);
    return;
  }
  const off = out.length - x.shape.length;
  if (off < 0) return;
  const t: number[] = [];
  for (let i = 0; i < out.length; i++) {
    const d = out[i];
    const xd = i >= off ? x.shape[i - off] : undefined;
    if (typeof d === 'number') t.push(d);
    else if (d !== null && xd === d) t.push(1);
    else {
      reject('expand-target', node, `output dim ${i} (${d === null ? '?' : d}) is neither static nor the input's own dim ${xd === undefined ? '(none)' : String(xd)}`);
      return;
    }
  }
  const c = g.addInitializer(Tensor.from('int64', [t.length], BigInt64Array.from(t, (d) => BigInt(d))), g.uniqueName(`${node.name}_shape`));
  node.setInput(1, c);
  g.invalidateOrder();
  count('Expand target');
}

/** Slice ends that are the sliced dim itself (symbolic) mean "to the end": INT64_MAX says so as a constant. */
function foldSliceEnds(g: Graph, node: Node, known: KnownContents, count: Count): void {
  const ends = node.inputs[2];
  const x = node.inputs[0];
  if (!ends || isConst(ends) || !x?.shape) return;
  const e = known.get(ends);
  const axesV = node.inputs[3];
  const axes = axesV ? constNumbers(axesV, 64) : e ? e.values.map((_, i) => i) : null;
  if (!e || !axes || e.values.length !== axes.length) return;
  const out: bigint[] = [];
  for (let i = 0; i < e.values.length; i++) {
    const v = e.values[i];
    const axis = axes[i] < 0 ? axes[i] + x.shape.length : axes[i];
    if (typeof v === 'number') out.push(BigInt(v));
    else if (v !== null && x.shape[axis] === v) out.push(INT64_MAX);
    else return;
  }
  const dtype = e.dtype === 'int32' ? 'int32' : 'int64';
  const tensor = dtype === 'int64' ? Tensor.from('int64', e.dims, BigInt64Array.from(out)) : Tensor.from('int32', e.dims, Int32Array.from(out, (b) => (b === INT64_MAX ? 2147483647 : Number(b))));
  const c = g.addInitializer(tensor, g.uniqueName(`${node.name}_ends`));
  node.setInput(2, c);
  g.invalidateOrder();
  count('Slice ends');
}

/** A value-numbering key for known contents. */
function keyOf(d: TensorData | undefined): string {
  return d ? `${d.dtype}[${d.dims.join(',')}]${d.values.join('|')}` : '';
}

/** Known integer contents → a Tensor. */
function toTensor(d: TensorData): Tensor {
  const vals = d.values as number[];
  switch (d.dtype) {
    case 'int64': return Tensor.from('int64', d.dims, BigInt64Array.from(vals, (x) => BigInt(x)));
    case 'uint64': return Tensor.from('uint64', d.dims, BigUint64Array.from(vals, (x) => BigInt(x)));
    case 'int32': return Tensor.from('int32', d.dims, Int32Array.from(vals));
    case 'uint32': return Tensor.from('uint32', d.dims, Uint32Array.from(vals));
    case 'int16': return Tensor.from('int16', d.dims, Int16Array.from(vals));
    case 'uint16': return Tensor.from('uint16', d.dims, Uint16Array.from(vals));
    case 'int8': return Tensor.from('int8', d.dims, Int8Array.from(vals));
    default: return Tensor.from('uint8', d.dims, Uint8Array.from(vals));
  }
}

/**
 * The default op registry with every shape function wrapped to record the contents it propagates
 * for values of `graph` (shape inference keeps them internal).
 */
function recordingRegistry(graph: Graph, known: Map<Value, RecordedData>): OpRegistry {
  const wrap = (s: OpSchema): OpSchema => ({ ...s, inferShape: (c: InferenceContext) => s.inferShape(recorder(c, graph, known)) });
  return new OpRegistry(defaultOpRegistry.list({ allVersions: true }).map(wrap));
}

/**
 * `c` with `setOutput` intercepted (a Proxy, so the wrapper follows the context's interface as it
 * grows): contents set for values of `graph` are recorded, lazily computed ones resolved on demand.
 */
function recorder(c: InferenceContext, graph: Graph, known: Map<Value, RecordedData>): InferenceContext {
  const setOutput: InferenceContext['setOutput'] = (i, dtype, shape, data) => {
    const v = c.node.outputs[i];
    if (v && data && c.node.graph === graph) known.set(v, { data, rank: shape ? shape.length : null });
    c.setOutput(i, dtype, shape, data);
  };
  return new Proxy(c, {
    get(target, prop) {
      if (prop === 'setOutput') return setOutput;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function fmtShape(s: Shape | null): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '?';
}

function summarize(result: PassResult, perRule: ReadonlyMap<string, number>): void {
  for (const [rule, n] of perRule) {
    if (n > MAX_DIAGNOSTICS_PER_RULE) result.diagnostics.push({ pass: PASS, rule, kind: 'info', nodes: [], message: `${n - MAX_DIAGNOSTICS_PER_RULE} more rejected for similar reasons` });
  }
}

