/**
 * Shared matchers for the attention fusions (`fuse-attention`): the pieces every exporter spells a
 * little differently — the head split `Transpose(Reshape(x, [B,S,N,H]))`, the KV-cache `Concat`,
 * `repeat_kv`, the rotate_half rotary embedding and its cos/sin source, the score path between
 * `MatMul(Q, Kᵀ)` and `Softmax`, GPT-2's causal-mask slice — plus a small evaluator for the shape
 * arithmetic that feeds them (`x.shape[-1] // 2`, `sqrt(v.shape[-1])`) and the bookkeeping that
 * decides which neighbouring nodes a fusion takes with it.
 *
 * Matchers return what they matched, or a {@link Mismatch} that says why not, in words the editor
 * shows next to the node ("why not fused").
 */
import { int64ToNumber, type Node, type Value } from '@fuselab/graph-core';
import { constNumbers, constTensor } from './match.ts';

/** True when `n` is `opType` of the default ONNX domain (no type narrowing, unlike match.isOp). */
export function opIs(n: Node | null | undefined, opType: string): boolean {
  return !!n && n.opType === opType && (n.domain === '' || n.domain === 'ai.onnx');
}

/** Why a candidate did not match; `nodes` are the nodes the reason is about (besides the anchor). */
export class Mismatch {
  constructor(readonly reason: string, readonly nodes: readonly Node[] = []) {}
}

export function isMismatch(x: unknown): x is Mismatch {
  return x instanceof Mismatch;
}

/** ONNX element types that `Cast` may convert between on an attention path without changing its role. */
const FLOAT_TYPES = new Set([1, 10, 11, 16]); // FLOAT, FLOAT16, DOUBLE, BFLOAT16
const INT_TYPES = new Set([2, 3, 4, 5, 6, 7, 12, 13]); // UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64

/** Integer value of an int attribute or the single/first element of a constant input. */
function intAttrOrInput(node: Node, attr: string, inputIndex: number): number[] | null {
  const a = node.attr(attr);
  if (a) {
    if (a.type === 'ints') return a.value.map(int64ToNumber);
    if (a.type === 'int') return [int64ToNumber(a.value)];
  }
  const v = node.inputs[inputIndex];
  return v ? constNumbers(v, 64) : null;
}

/** Axes of Unsqueeze/Squeeze/ReduceX: attribute before opset 13, input after. */
export function axesOf(node: Node): number[] | null {
  return intAttrOrInput(node, 'axes', 1);
}

/** The perm of a Transpose (default: reversed dims, which needs the rank; null then). */
export function permOf(node: Node): number[] | null {
  return node.attrInts('perm') ?? null;
}

export function samePerm(a: readonly number[] | null, b: readonly number[]): boolean {
  return !!a && a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---- casts ---------------------------------------------------------------------------------------

/** Walks up through Casts to float types (no-ops on an fp32 attention path), collecting them. */
export function skipCastsUp(v: Value, taken: Node[]): Value {
  for (let p = v.producer; p && opIs(p, 'Cast') && FLOAT_TYPES.has(p.attrInt('to', 0)); p = v.producer) {
    taken.push(p);
    v = p.input(0);
  }
  return v;
}

/** Walks down through sole-consumer Casts to float types, collecting them. Returns the last value. */
export function skipCastsDown(v: Value, taken: Node[]): Value {
  for (;;) {
    const uses = v.uses;
    if (uses.length !== 1 || v.isGraphOutput) return v;
    const c = uses[0].node;
    if (!opIs(c, 'Cast') || !FLOAT_TYPES.has(c.attrInt('to', 0))) return v;
    taken.push(c);
    v = c.output(0);
  }
}

/** Walks up through Cast/Identity/Unsqueeze/Squeeze/Reshape/Expand (value-preserving views). */
function skipViewsUp(v: Value, taken: Node[], ops: readonly string[]): Value {
  for (let p = v.producer; p && ops.includes(p.opType) && (p.domain === '' || p.domain === 'ai.onnx'); p = v.producer) {
    taken.push(p);
    v = p.input(0);
  }
  return v;
}

// ---- shape arithmetic ----------------------------------------------------------------------------

/** A known dim or element, or null. */
export type Known = number | null;

/** Contents of a small tensor: known elements (null where unknown) and whether they are integers. */
export interface SmallTensor {
  values: Known[];
  isInt: boolean;
}

const MAX_SMALL = 64;
const MAX_DEPTH = 600;
const SAME_SHAPE_OPS = new Set([
  'Cast', 'Neg', 'Identity', 'Sigmoid', 'Tanh', 'Relu', 'Erf', 'Sqrt', 'Reciprocal', 'Exp', 'Log', 'Abs', 'Cos', 'Sin',
  'Softmax', 'LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization',
  'Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'BiasAdd', 'RotaryEmbedding',
]);
const BROADCAST_OPS = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Max', 'Min', 'Where', 'Equal', 'Less', 'Greater', 'And', 'Or']);

/**
 * A lazy, memoized evaluator for the shape arithmetic exporters leave in attention blocks. It knows
 * the dims of a value from its declared shape, constants, and the layout ops between (Reshape
 * targets, Transpose perms, Concat, Split...), and the contents of small integer/float tensors
 * computed from them (Shape → Gather → Div → Cast...). Unknown stays null; it never throws.
 */
export class ShapeArithmetic {
  private readonly dimsMemo = new Map<Value, Known[] | null>();
  private readonly valuesMemo = new Map<Value, SmallTensor | null>();
  private depth = 0;
  private truncated = false;

  /** Dims of `v` (null entries unknown), or null when the rank is unknown. */
  dims(v: Value | null | undefined): Known[] | null {
    if (!v) return null;
    if (this.dimsMemo.has(v)) return this.dimsMemo.get(v) ?? null;
    if (this.depth > MAX_DEPTH) {
      this.truncated = true;
      return declaredDims(v);
    }
    const outer = this.truncated;
    this.truncated = false;
    this.depth++;
    let out: Known[] | null;
    try {
      out = mergeDims(declaredDims(v), this.structuralDims(v));
    } finally {
      this.depth--;
    }
    // a result cut short by the depth limit may be incomplete: do not remember it
    if (!this.truncated) this.dimsMemo.set(v, out);
    this.truncated ||= outer;
    return out;
  }

  /** Contents of a small tensor, or null when not computable. */
  values(v: Value | null | undefined): SmallTensor | null {
    if (!v) return null;
    if (this.valuesMemo.has(v)) return this.valuesMemo.get(v) ?? null;
    if (this.depth > MAX_DEPTH) {
      this.truncated = true;
      return null;
    }
    const outer = this.truncated;
    this.truncated = false;
    this.depth++;
    let out: SmallTensor | null;
    try {
      out = this.computeValues(v);
    } finally {
      this.depth--;
    }
    if (out && out.values.length > MAX_SMALL) out = null;
    if (!this.truncated) this.valuesMemo.set(v, out);
    this.truncated ||= outer;
    return out;
  }

  /** The value of a one-element tensor when known. */
  scalar(v: Value | null | undefined): number | null {
    const t = this.values(v);
    return t && t.values.length === 1 ? t.values[0] : null;
  }

  private structuralDims(v: Value): Known[] | null {
    const t = constTensor(v);
    if (t) return [...t.dims];
    const p = v.producer;
    if (!p || (p.domain !== '' && p.domain !== 'ai.onnx' && !SAME_SHAPE_OPS.has(p.opType))) return null;
    const inDims = (i: number) => this.dims(p.inputs[i]);
    const op = p.opType;
    if (SAME_SHAPE_OPS.has(op)) return p.outputs[0] === v ? inDims(0) : null;
    switch (op) {
      case 'Transpose': {
        const d = inDims(0);
        if (!d) return null;
        const perm = permOf(p) ?? d.map((_, i) => d.length - 1 - i);
        return perm.length === d.length ? perm.map((i) => d[i] ?? null) : null;
      }
      case 'Reshape': {
        const target = this.values(p.inputs[1]);
        if (!target) {
          const sd = this.dims(p.inputs[1]);
          return sd && typeof sd[0] === 'number' ? new Array<Known>(sd[0]).fill(null) : null;
        }
        const src = inDims(0);
        const allowZero = p.attrInt('allowzero', 0) === 1;
        const out = target.values.map((x, i): Known => (x === 0 && !allowZero ? src?.[i] ?? null : x === -1 ? null : x));
        const minus = target.values.indexOf(-1);
        if (minus >= 0 && src && src.every((x) => x !== null) && out.every((x, i) => i === minus || x !== null)) {
          const total = (src as number[]).reduce((a, b) => a * b, 1);
          const rest = out.reduce<number>((a, b, i) => (i === minus ? a : a * (b as number)), 1);
          if (rest > 0 && total % rest === 0) out[minus] = total / rest;
        }
        return out;
      }
      case 'Concat': {
        const all = p.inputs.map((x) => this.dims(x));
        const rank = all.find((d) => d)?.length;
        if (rank === undefined) return null;
        const axis = normAxis(p.attrInt('axis', 0), rank);
        const out: Known[] = [];
        for (let i = 0; i < rank; i++) {
          if (i === axis) {
            out.push(all.every((d) => d && typeof d[i] === 'number') ? all.reduce((a, d) => a + (d?.[i] as number), 0) : null);
          } else {
            out.push(all.map((d) => d?.[i] ?? null).find((x) => x !== null) ?? null);
          }
        }
        return out;
      }
      case 'Unsqueeze': {
        const d = inDims(0);
        const axes = axesOf(p);
        if (!d || !axes) return null;
        const rank = d.length + axes.length;
        const set = new Set(axes.map((a) => normAxis(a, rank)));
        const out: Known[] = [];
        for (let i = 0, j = 0; i < rank; i++) out.push(set.has(i) ? 1 : d[j++] ?? null);
        return out;
      }
      case 'Squeeze': {
        const d = inDims(0);
        const axes = axesOf(p);
        if (!d || !axes) return null;
        const set = new Set(axes.map((a) => normAxis(a, d.length)));
        return d.filter((_, i) => !set.has(i));
      }
      case 'Expand': {
        const d = inDims(0);
        const shape = this.values(p.inputs[1]);
        if (!shape) return null;
        return broadcast([d ?? shape.values.map(() => null), shape.values]);
      }
      case 'MatMul': {
        const a = inDims(0);
        const b = inDims(1);
        if (!a || !b || a.length < 2 || b.length < 2) return null;
        const batch = broadcast([a.slice(0, -2), b.slice(0, -2)]);
        return batch ? [...batch, a[a.length - 2], b[b.length - 1]] : null;
      }
      case 'Gemm': {
        const a = inDims(0);
        const b = inDims(1);
        if (!a || !b) return null;
        return [p.attrInt('transA', 0) ? a[1] : a[0], p.attrInt('transB', 0) ? b[0] : b[1]];
      }
      case 'Split': {
        const d = inDims(0);
        if (!d) return null;
        const axis = normAxis(p.attrInt('axis', 0), d.length);
        const k = p.outputs.indexOf(v);
        const split = intAttrOrInput(p, 'split', 1);
        const out = [...d];
        if (split) out[axis] = split[k] ?? null;
        else out[axis] = typeof d[axis] === 'number' && (d[axis] as number) % p.outputs.length === 0 ? (d[axis] as number) / p.outputs.length : null;
        return out;
      }
      case 'Gather': {
        const idx = inDims(1);
        // a 1-D source (a shape vector) needs no dims: the result has the index's shape
        const d = inDims(0) ?? (p.inputs[0]?.producer && opIs(p.inputs[0].producer, 'Shape') ? [null] : null);
        if (!d || !idx) return null;
        const axis = normAxis(p.attrInt('axis', 0), d.length);
        return [...d.slice(0, axis), ...idx, ...d.slice(axis + 1)];
      }
      case 'Shape': {
        const d = inDims(0);
        if (!d) return null;
        const [s, e] = shapeRange(p, d.length);
        return [Math.max(0, e - s)];
      }
      case 'Slice': {
        const d = inDims(0);
        if (!d) return null;
        const axes = p.inputs[3] ? this.values(p.inputs[3])?.values : d.map((_, i) => i);
        const starts = this.values(p.inputs[1])?.values;
        const ends = this.values(p.inputs[2])?.values;
        const steps = p.inputs[4] ? this.values(p.inputs[4])?.values : null;
        const out = [...d];
        if (!axes) return d.map(() => null);
        axes.forEach((a, i) => {
          if (a === null) return;
          const ax = normAxis(a, d.length);
          const [n, s0, e0, st] = [d[ax], starts?.[i] ?? null, ends?.[i] ?? null, p.inputs[4] ? steps?.[i] ?? null : 1];
          if (n === null || s0 === null || e0 === null || st !== 1) {
            out[ax] = null;
            return;
          }
          const clamp = (x: number) => Math.min(n, Math.max(0, x < 0 ? x + n : x));
          out[ax] = Math.max(0, clamp(e0) - clamp(s0));
        });
        return out;
      }
      default:
        if (BROADCAST_OPS.has(op)) {
          const ins = p.inputs.map((x) => this.dims(x));
          return ins.every((x) => x) ? broadcast(ins as Known[][]) : null;
        }
        return null;
    }
  }

  private computeValues(v: Value): SmallTensor | null {
    const t = constTensor(v);
    if (t) {
      if (t.dtype === 'string' || t.size > MAX_SMALL) return null;
      const nums = constNumbers(v, MAX_SMALL);
      return nums ? { values: nums, isInt: !t.dtype.startsWith('float') && t.dtype !== 'bfloat16' } : null;
    }
    const p = v.producer;
    if (!p || (p.domain !== '' && p.domain !== 'ai.onnx')) return null;
    const arg = (i: number) => this.values(p.inputs[i]);
    switch (p.opType) {
      case 'Shape': {
        const d = this.dims(p.input(0));
        if (!d) return null;
        const [s, e] = shapeRange(p, d.length);
        return { values: d.slice(s, e), isInt: true };
      }
      case 'Size': {
        const d = this.dims(p.input(0));
        return d && d.every((x) => x !== null) ? { values: [(d as number[]).reduce((a, b) => a * b, 1)], isInt: true } : null;
      }
      case 'Identity': case 'Squeeze': case 'Unsqueeze': case 'Reshape': case 'Flatten':
        return arg(0);
      case 'Cast': {
        const x = arg(0);
        if (!x) return null;
        const to = p.attrInt('to', 1);
        if (INT_TYPES.has(to)) return { values: x.values.map((e) => (e === null ? null : Math.trunc(e))), isInt: true };
        if (to === 9) return { values: x.values.map((e) => (e === null ? null : e !== 0 ? 1 : 0)), isInt: true };
        return { values: x.values, isInt: false };
      }
      case 'Concat': {
        // a piece of unknown contents but known length still places the pieces after it
        const parts = p.inputs.map((x): SmallTensor | null => {
          const t = this.values(x);
          if (t) return t;
          const d = this.dims(x);
          return d && d.length === 1 && typeof d[0] === 'number' ? { values: new Array<Known>(d[0]).fill(null), isInt: true } : null;
        });
        if (parts.some((x) => !x)) return null;
        return { values: parts.flatMap((x) => (x as SmallTensor).values), isInt: parts.every((x) => (x as SmallTensor).isInt) };
      }
      case 'Gather': {
        const data = arg(0);
        const idx = arg(1);
        if (!data || !idx || normAxis(p.attrInt('axis', 0), 1) !== 0) return null;
        const n = data.values.length;
        return { values: idx.values.map((i) => (i === null ? null : data.values[i < 0 ? i + n : i] ?? null)), isInt: data.isInt };
      }
      case 'Slice': {
        const data = arg(0);
        const starts = arg(1);
        const ends = arg(2);
        const axes = p.inputs[3] ? arg(3) : { values: [0], isInt: true };
        const steps = p.inputs[4] ? arg(4) : { values: [1], isInt: true };
        if (!data || !starts || !ends || !axes || !steps) return null;
        const [s, e, a, st] = [starts.values[0], ends.values[0], axes.values[0], steps.values[0]];
        if (s === null || e === null || a === null || st === null || st !== 1 || normAxis(a, 1) !== 0) return null;
        const n = data.values.length;
        const clamp = (x: number) => Math.min(n, Math.max(0, x < 0 ? x + n : x));
        return { values: data.values.slice(clamp(s), clamp(e)), isInt: data.isInt };
      }
      case 'ConstantOfShape': {
        const shape = arg(0);
        if (!shape || shape.values.some((x) => x === null)) return null;
        const count = (shape.values as number[]).reduce((a, b) => a * b, 1);
        if (count > MAX_SMALL) return null;
        const a = p.attr('value');
        const fill = a && a.type === 'tensor' ? a.value.toNumbers()[0] ?? 0 : 0;
        const isInt = a && a.type === 'tensor' ? !a.value.dtype.startsWith('float') : false;
        return { values: new Array<Known>(count).fill(fill), isInt };
      }
      case 'Range': {
        const [s, l, d] = [this.scalar(p.inputs[0]), this.scalar(p.inputs[1]), this.scalar(p.inputs[2])];
        if (s === null || l === null || d === null || d === 0) return null;
        const n = Math.max(0, Math.ceil((l - s) / d));
        if (n > MAX_SMALL) return null;
        return { values: Array.from({ length: n }, (_, i) => s + i * d), isInt: !!arg(0)?.isInt };
      }
      case 'Neg': case 'Sqrt': case 'Reciprocal': case 'Abs': case 'Floor': case 'Ceil': {
        const x = arg(0);
        if (!x) return null;
        const f = UNARY[p.opType];
        return { values: x.values.map((e) => (e === null ? null : f(e))), isInt: x.isInt && p.opType !== 'Sqrt' && p.opType !== 'Reciprocal' };
      }
      case 'Add': case 'Sub': case 'Mul': case 'Div': case 'Pow': case 'Max': case 'Min': case 'Mod': case 'Equal': case 'Less': case 'Greater': {
        const a = arg(0);
        const b = arg(1);
        if (!a || !b) return null;
        const isInt = a.isInt && b.isInt;
        const f = binary(p.opType, isInt);
        const n = Math.max(a.values.length, b.values.length);
        if ((a.values.length !== n && a.values.length !== 1) || (b.values.length !== n && b.values.length !== 1)) return null;
        const at = (x: SmallTensor, i: number) => x.values[x.values.length === 1 ? 0 : i];
        const values = Array.from({ length: n }, (_, i) => {
          const x = at(a, i);
          const y = at(b, i);
          return x === null || y === null ? null : f(x, y);
        });
        const cmp = p.opType === 'Equal' || p.opType === 'Less' || p.opType === 'Greater';
        return { values, isInt: isInt || cmp };
      }
      case 'Where': {
        const c = arg(0);
        const a = arg(1);
        const b = arg(2);
        if (!c || !a || !b) return null;
        const n = Math.max(c.values.length, a.values.length, b.values.length);
        const at = (x: SmallTensor, i: number) => x.values[x.values.length === 1 ? 0 : i] ?? null;
        return { values: Array.from({ length: n }, (_, i) => (at(c, i) === null ? null : at(c, i) ? at(a, i) : at(b, i))), isInt: a.isInt && b.isInt };
      }
      default:
        return null;
    }
  }
}

const UNARY: Record<string, (x: number) => number> = {
  Neg: (x) => -x, Sqrt: Math.sqrt, Reciprocal: (x) => 1 / x, Abs: Math.abs, Floor: Math.floor, Ceil: Math.ceil,
};

function binary(op: string, isInt: boolean): (a: number, b: number) => number {
  switch (op) {
    case 'Add': return (a, b) => a + b;
    case 'Sub': return (a, b) => a - b;
    case 'Mul': return (a, b) => a * b;
    case 'Div': return isInt ? (a, b) => Math.trunc(a / b) : (a, b) => a / b;
    case 'Pow': return (a, b) => a ** b;
    case 'Max': return Math.max;
    case 'Min': return Math.min;
    case 'Mod': return isInt ? (a, b) => ((a % b) + b) % b : (a, b) => a % b; // integer Mod takes the divisor's sign (fmod=0)
    case 'Equal': return (a, b) => (a === b ? 1 : 0);
    case 'Less': return (a, b) => (a < b ? 1 : 0);
    default: return (a, b) => (a > b ? 1 : 0);
  }
}

function declaredDims(v: Value): Known[] | null {
  const s = v.shape;
  return s ? s.map((d) => (typeof d === 'number' ? d : null)) : null;
}

function mergeDims(a: Known[] | null, b: Known[] | null): Known[] | null {
  if (!a) return b;
  if (!b || a.length !== b.length) return a;
  return a.map((x, i) => x ?? b[i]);
}

function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** [start, end) of a Shape node (opset 15 start/end attributes), clamped to the rank. */
function shapeRange(p: Node, rank: number): [number, number] {
  const clamp = (x: number) => Math.min(rank, Math.max(0, x < 0 ? x + rank : x));
  return [clamp(p.attrInt('start', 0)), clamp(p.attrInt('end', rank))];
}

/** Numpy broadcasting of partially known shapes; null when ranks are unknown. */
function broadcast(shapes: ReadonlyArray<readonly Known[] | null>): Known[] | null {
  if (shapes.some((s) => !s)) return null;
  const rank = Math.max(...shapes.map((s) => (s as Known[]).length));
  const out: Known[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Known = 1;
    let unknown = false;
    for (const s of shapes as Known[][]) {
      const x = s[i - (rank - s.length)];
      if (x === undefined || x === 1) continue;
      if (x === null) unknown = true;
      else d = x;
    }
    out.push(d !== 1 ? d : unknown ? null : 1);
  }
  return out;
}

// ---- head split / merge, KV cache, repeat_kv -------------------------------------------------------

/** `Transpose(Reshape(x, [B, S, N, H]))`: the projection `x` split into N heads of H. */
export interface HeadSplit {
  /** The [batch, sequence, N·H] projection the heads were cut from. */
  input: Value;
  heads: number;
  headSize: number;
  /** `BNSH` for perm (0,2,1,3); `BNHS` for perm (0,2,3,1), keys already transposed for Q·Kᵀ. */
  layout: 'BNSH' | 'BNHS';
  nodes: Node[];
}

/** Matches the head split that produces `v` (`what` names the operand in failure reasons). */
export function matchHeadSplit(v: Value, ar: ShapeArithmetic, what: string): HeadSplit | Mismatch {
  const t = v.producer;
  if (!t || !opIs(t, 'Transpose')) return new Mismatch(`${what} is not Transpose(Reshape(x, [B,S,N,H])) (found ${t ? t.qualifiedType : 'a graph input'} '${t?.name ?? v.name}')`);
  const perm = permOf(t);
  const layout = samePerm(perm, [0, 2, 1, 3]) ? 'BNSH' : samePerm(perm, [0, 2, 3, 1]) ? 'BNHS' : null;
  if (!layout) return new Mismatch(`${what}: Transpose '${t.name}' has perm [${perm?.join(',') ?? 'reversed'}], expected [0,2,1,3] (or [0,2,3,1] for keys)`, [t]);
  const r = t.input(0).producer;
  if (!r || !opIs(r, 'Reshape')) return new Mismatch(`${what}: the head split Transpose '${t.name}' does not read a Reshape`, [t]);
  const target = ar.values(r.inputs[1]);
  const out = ar.dims(r.output(0));
  const inDims = ar.dims(r.input(0));
  let n = target?.values.length === 4 ? target.values[2] : out?.length === 4 ? out[2] : null;
  let h = target?.values.length === 4 ? target.values[3] : out?.length === 4 ? out[3] : null;
  // HF ≥ 4.48 splits with `view(*input_shape, -1, head_dim)`: the head count follows from the projection width
  const width = inDims?.length === 3 ? inDims[2] : null;
  if (n === -1 && typeof h === 'number' && h > 0 && typeof width === 'number' && width % h === 0) n = width / h;
  if (h === -1 && typeof n === 'number' && n > 0 && typeof width === 'number' && width % n === 0) h = width / n;
  if (typeof n !== 'number' || typeof h !== 'number' || n <= 0 || h <= 0) {
    return new Mismatch(`${what}: cannot read the head count and size from the target shape of Reshape '${r.name}' (need a rank-4 target ending in N, H, at most one of them -1 with a known projection width)`, [r]);
  }
  if (inDims && inDims.length !== 3) return new Mismatch(`${what}: the projection '${r.input(0).name}' has rank ${inDims.length}; the fused op takes [batch, sequence, hidden]`, [r]);
  if (inDims && typeof inDims[2] === 'number' && inDims[2] !== n * h) {
    return new Mismatch(`${what}: the projection's last dim ${inDims[2]} is not heads × head size (${n} × ${h})`, [r]);
  }
  return { input: r.input(0), heads: n, headSize: h, layout, nodes: [t, r] };
}

/** `Concat(past, fresh, axis=2)`: the KV cache append. */
export interface CacheAppend {
  past: Value;
  fresh: Value;
  present: Value;
  node: Node;
}

export function matchCacheAppend(v: Value, ar: ShapeArithmetic): CacheAppend | null {
  const c = v.producer;
  if (!c || !opIs(c, 'Concat') || c.inputs.length !== 2) return null;
  const rank = ar.dims(v)?.length ?? 4;
  if (normAxis(c.attrInt('axis', 0), rank) !== 2) return null;
  return { past: c.input(0), fresh: c.input(1), present: v, node: c };
}

/** HF `repeat_kv`: `Reshape(Expand(Unsqueeze(x, 2), [B, KV, n_rep, T, H]), [B, KV·n_rep, T, H])`. */
export interface RepeatKv {
  input: Value;
  /** n_rep when the Expand target is readable. */
  factor: number | null;
  nodes: Node[];
}

export function matchRepeatKv(v: Value, ar: ShapeArithmetic): RepeatKv | null {
  const r = v.producer;
  if (!r || !opIs(r, 'Reshape')) return null;
  const e = r.input(0).producer;
  if (!e || !opIs(e, 'Expand')) return null;
  const u = e.input(0).producer;
  if (!u || !opIs(u, 'Unsqueeze')) return null;
  const axes = axesOf(u);
  if (!axes || axes.length !== 1 || normAxis(axes[0], 5) !== 2) return null;
  const target = ar.values(e.inputs[1]);
  const factor = target && target.values.length === 5 ? target.values[2] : null;
  return { input: u.input(0), factor, nodes: [r, e, u] };
}

// ---- rotary ----------------------------------------------------------------------------------------

/** `x·cos + rotate_half(x)·sin` with `rotate_half(x) = Concat(-x[..., h:], x[..., :h])`. */
export interface RotateHalfRotary {
  input: Value;
  cos: Value;
  sin: Value;
  nodes: Node[];
}

/**
 * Matches HF's rotate_half rotary on `v` (null when `v` is not an Add at all). The Slice bounds may
 * be constants or `x.shape[-1] // 2` arithmetic.
 */
export function matchRotary(v: Value, ar: ShapeArithmetic): RotateHalfRotary | Mismatch | null {
  const add = v.producer;
  if (!add || !opIs(add, 'Add')) return null;
  const muls = add.inputs.map((x) => (x?.producer && opIs(x.producer, 'Mul') ? x.producer : null));
  if (!muls[0] || !muls[1]) return new Mismatch(`Add '${add.name}' on the query/key path is not x·cos + rotate_half(x)·sin (an operand is not a Mul)`, [add]);
  for (const [a, b] of [[muls[0], muls[1]], [muls[1], muls[0]]] as const) {
    for (let k = 0; k < 2; k++) {
      const rot = matchRotateHalf(b.input(k), ar);
      if (!rot) continue;
      const sin = b.input(1 - k);
      const xi = a.inputs.indexOf(rot.input);
      if (xi < 0) return new Mismatch(`rotary '${add.name}': the cos term does not multiply the same tensor that rotate_half reads`, [add, a]);
      const cos = a.input(1 - xi);
      return { input: rot.input, cos, sin, nodes: [add, a, b, ...rot.nodes] };
    }
  }
  return new Mismatch(`Add '${add.name}' on the query/key path is not x·cos + rotate_half(x)·sin (no Concat(-x2, x1) operand)`, [add]);
}

function matchRotateHalf(v: Value, ar: ShapeArithmetic): { input: Value; nodes: Node[] } | null {
  const cat = v.producer;
  if (!cat || !opIs(cat, 'Concat') || cat.inputs.length !== 2) return null;
  const rank = ar.dims(v)?.length ?? 4;
  if (normAxis(cat.attrInt('axis', 0), rank) !== rank - 1) return null;
  const neg = cat.input(0).producer;
  if (!neg || !opIs(neg, 'Neg')) return null;
  const hi = neg.input(0).producer;
  const lo = cat.input(1).producer;
  if (!hi || !lo || !opIs(hi, 'Slice') || !opIs(lo, 'Slice') || hi.input(0) !== lo.input(0)) return null;
  const x = lo.input(0);
  const size = ar.dims(x)?.[rank - 1] ?? null;
  const bounds = (s: Node) => {
    const axes = s.inputs[3] ? ar.values(s.inputs[3])?.values : [0];
    const steps = s.inputs[4] ? ar.values(s.inputs[4])?.values : [1];
    if (!axes || axes.length !== 1 || axes[0] === null || normAxis(axes[0], rank) !== rank - 1) return null;
    if (!steps || steps[0] !== 1) return null;
    return [ar.scalar(s.inputs[1]), ar.scalar(s.inputs[2])] as const;
  };
  const b1 = bounds(lo);
  const b2 = bounds(hi);
  if (!b1 || !b2) return null;
  const half = b1[1];
  if (b1[0] !== 0 || half === null || half <= 0 || b2[0] !== half || b2[1] === null) return null;
  if (size !== null && (size !== 2 * half || (b2[1] < size && b2[1] >= 0))) return null;
  if (size === null && b2[1] < 2 * half) return null;
  return { input: x, nodes: [cat, neg, hi, lo] };
}

/** Where the rotary cos/sin come from. */
export interface RotaryCache {
  /** cos/sin of position p for frequency i, p < positions, i < headSize/2, row-major; null = compute from invFreq. */
  table: { cos: Float32Array; sin: Float32Array; positions: number } | null;
  /** Inverse frequencies (headSize/2 of them) of `cos(p · invFreq[i])`, when computed in-graph. */
  invFreq: number[] | null;
  /** HF's `attention_scaling` multiplied into cos and sin (1 for default RoPE). */
  scaling: number;
  /** The positions the graph fed in (a graph input, or an in-graph arange). */
  positions: Value;
  /** Per-layer view nodes between the shared cos/sin and the rotary (e.g. `Unsqueeze(cos, 1)`). */
  nodes: Node[];
}

/**
 * Reads the rotary tables behind `cos`/`sin` (the operands of a matched rotary): either computed in
 * graph as `cos(Concat(f, f))` with `f = Transpose(MatMul(inv_freq, positions))` (HF ≥ 4.38), or
 * gathered from constant cos/sin tables by position (older HF).
 */
export function matchRotaryCache(cos: Value, sin: Value, headSize: number): RotaryCache | Mismatch {
  const nodes: Node[] = [];
  const views = ['Unsqueeze', 'Cast', 'Identity'];
  const c = skipViewsUp(cos, nodes, views);
  const s = skipViewsUp(sin, nodes, views);
  const half = headSize / 2;
  // variant: Gather(table, positions)
  const gc = c.producer;
  const gs = s.producer;
  if (gc && gs && opIs(gc, 'Gather') && opIs(gs, 'Gather') && gc.input(1) === gs.input(1)) {
    const tc = constTensor(gc.input(0));
    const ts = constTensor(gs.input(0));
    if (!tc || !ts || tc.dims.length !== 2 || tc.dims[1] !== headSize || ts.dims.join() !== tc.dims.join()) {
      return new Mismatch(`rotary cos/sin are gathered from '${gc.input(0).name}', which is not a constant [positions, ${headSize}] table`, [gc]);
    }
    const positions = tc.dims[0];
    const cd = tc.toNumbers();
    const sd = ts.toNumbers();
    const cosT = new Float32Array(positions * half);
    const sinT = new Float32Array(positions * half);
    for (let p = 0; p < positions; p++) {
      for (let i = 0; i < half; i++) {
        const a = p * headSize + i;
        if (cd[a] !== cd[a + half] || sd[a] !== sd[a + half]) {
          return new Mismatch(`rotary table '${gc.input(0).name}' is not in rotate_half layout (its two halves differ)`, [gc]);
        }
        cosT[p * half + i] = cd[a];
        sinT[p * half + i] = sd[a];
      }
    }
    return { table: { cos: cosT, sin: sinT, positions }, invFreq: null, scaling: 1, positions: skipViewsUp(gc.input(1), [], ['Cast']), nodes };
  }
  // variant: [scaling ·] Cos/Sin(Concat(f, f))
  const trig = (v: Value, op: 'Cos' | 'Sin'): { emb: Value; scaling: number } | null => {
    const p = v.producer;
    if (p && opIs(p, op)) return { emb: p.input(0), scaling: 1 };
    if (p && opIs(p, 'Mul')) {
      for (let k = 0; k < 2; k++) {
        const q = skipCastsUp(p.input(k), []).producer;
        const sc = constNumbers(p.input(1 - k), 1);
        if (q && opIs(q, op) && sc) return { emb: q.input(0), scaling: sc[0] };
      }
    }
    return null;
  };
  const tc = trig(c, 'Cos');
  const ts = trig(s, 'Sin');
  if (!tc || !ts) return new Mismatch(`rotary cos/sin ('${cos.name}', '${sin.name}') are neither Cos/Sin of an angle tensor nor gathered from constant tables`);
  if (tc.emb !== ts.emb) return new Mismatch(`rotary cos and sin are computed from different angle tensors ('${tc.emb.name}' vs '${ts.emb.name}')`);
  if (Math.abs(tc.scaling - ts.scaling) > 1e-7 * Math.abs(tc.scaling)) return new Mismatch('rotary cos and sin are scaled differently');
  const cat = tc.emb.producer;
  if (!cat || !opIs(cat, 'Concat') || cat.inputs.length !== 2 || cat.inputs[0] !== cat.inputs[1]) {
    return new Mismatch(`rotary angles '${tc.emb.name}' are not Concat(freqs, freqs) (rotate_half layout)`);
  }
  const tr = cat.input(0).producer;
  if (!tr || !opIs(tr, 'Transpose') || !samePerm(permOf(tr), [0, 2, 1])) return new Mismatch(`rotary freqs '${cat.input(0).name}' are not Transpose(MatMul(inv_freq, positions), [0,2,1])`);
  const mm = tr.input(0).producer;
  if (!mm || !opIs(mm, 'MatMul')) return new Mismatch(`rotary freqs '${cat.input(0).name}' are not Transpose(MatMul(inv_freq, positions), [0,2,1])`);
  const inv = skipViewsUp(mm.input(0), [], ['Cast', 'Expand', 'Identity']);
  const invFreq = constNumbers(inv, 4096);
  if (!invFreq || invFreq.length !== half) {
    return new Mismatch(`rotary inv_freq '${inv.name}' is not a constant of ${half} frequencies (head size ${headSize})`);
  }
  const positions = skipViewsUp(mm.input(1), [], ['Cast', 'Unsqueeze', 'Identity']);
  return { table: null, invFreq, scaling: tc.scaling, positions, nodes };
}

// ---- score path ------------------------------------------------------------------------------------

/** A mask applied to the scores: an additive term, or `Where(condition, scores, fill)`. */
export type MaskTerm =
  | { kind: 'add'; value: Value; node: Node }
  | { kind: 'where'; condition: Value; fill: number; /** true: scores kept where the condition holds */ keepWhenTrue: boolean; node: Node };

/** Everything between `MatMul(Q, Kᵀ)` and `Softmax`. */
export interface ScorePath {
  matmul: Node;
  /** Product of the scale factors applied to the raw scores. */
  scale: number;
  masks: MaskTerm[];
  nodes: Node[];
}

/** Fill values at or below this count as "masked out" (HF uses finfo.min, older code -10000). */
export const MASK_FILL_LIMIT = -1e4;

/**
 * Walks from the Softmax input back to `MatMul(Q, Kᵀ)`: float Casts, masks (`Add` of a mask term,
 * `Where(mask, scores, fill)`) and scaling (`Div` by or `Mul` with a scalar, which may be shape
 * arithmetic such as `sqrt(v.shape[-1])`). Masks must come after the scaling.
 */
export function matchScorePath(v: Value, ar: ShapeArithmetic): ScorePath | Mismatch {
  const nodes: Node[] = [];
  const masks: MaskTerm[] = [];
  let scale = 1;
  let scaled = false;
  for (let steps = 0; steps < 16; steps++) {
    v = skipCastsUp(v, nodes);
    const p = v.producer;
    if (!p) return new Mismatch(`the Softmax input traces back to graph input '${v.name}', not to MatMul(Q, Kᵀ)`);
    if (opIs(p, 'MatMul')) return { matmul: p, scale, masks, nodes };
    if (opIs(p, 'Add')) {
      const side = [0, 1].filter((k) => leadsToScores(p.input(k)));
      if (side.length !== 1) return new Mismatch(`cannot tell the scores from the mask in Add '${p.name}'`, [p]);
      if (scaled) return new Mismatch(`mask Add '${p.name}' is applied before the scaling; only masks after it are fused`, [p]);
      masks.push({ kind: 'add', value: p.input(1 - side[0]), node: p });
      nodes.push(p);
      v = p.input(side[0]);
      continue;
    }
    if (opIs(p, 'Where')) {
      const keep = leadsToScores(p.input(1)) ? 1 : leadsToScores(p.input(2)) ? 2 : 0;
      if (!keep) return new Mismatch(`Where '${p.name}' on the score path has no score operand`, [p]);
      const fill = constNumbers(p.input(keep === 1 ? 2 : 1), 1);
      if (!fill || !(fill[0] <= MASK_FILL_LIMIT)) return new Mismatch(`Where '${p.name}' fills with ${fill ? fill[0] : 'a non-constant'}, not a large negative mask value (≤ ${MASK_FILL_LIMIT})`, [p]);
      if (scaled) return new Mismatch(`mask Where '${p.name}' is applied before the scaling; only masks after it are fused`, [p]);
      masks.push({ kind: 'where', condition: p.input(0), fill: fill[0], keepWhenTrue: keep === 1, node: p });
      nodes.push(p);
      v = p.input(keep);
      continue;
    }
    if (opIs(p, 'Div') || opIs(p, 'Mul')) {
      const k = opIs(p, 'Div') ? 0 : leadsToScores(p.input(0)) ? 0 : 1;
      const s = ar.scalar(p.input(1 - k));
      if (s === null || !Number.isFinite(s) || s === 0) return new Mismatch(`${p.opType} '${p.name}' scales the scores by '${p.input(1 - k).name}', which is not a known scalar`, [p]);
      scale = opIs(p, 'Div') ? scale / s : scale * s;
      scaled = true;
      nodes.push(p);
      v = p.input(k);
      continue;
    }
    return new Mismatch(`unexpected ${p.qualifiedType} '${p.name}' between MatMul(Q, Kᵀ) and Softmax`, [p]);
  }
  return new Mismatch('the score path between MatMul(Q, Kᵀ) and Softmax is longer than 16 nodes');
}

/** True when `v` reaches a MatMul through the ops a score path is made of. */
function leadsToScores(v: Value | null | undefined, depth = 0): boolean {
  const p = v?.producer;
  if (!p || depth > 16) return false;
  if (opIs(p, 'MatMul')) return true;
  if (opIs(p, 'Cast') || opIs(p, 'Div')) return leadsToScores(p.inputs[0], depth + 1);
  if (opIs(p, 'Mul') || opIs(p, 'Add')) return leadsToScores(p.inputs[0], depth + 1) || leadsToScores(p.inputs[1], depth + 1);
  if (opIs(p, 'Where')) return leadsToScores(p.inputs[1], depth + 1) || leadsToScores(p.inputs[2], depth + 1);
  return false;
}

// ---- GPT-2 causal mask -----------------------------------------------------------------------------

/** GPT-2's causal mask: rows [T−S, T) and columns [0, T) of a lower-triangular bool buffer. */
export interface CausalSlice {
  /** The [1, 1, M, M] lower-triangular bool constant. */
  table: Value;
  size: number;
  nodes: Node[];
}

/** Largest causal buffer whose triangle is checked element by element. */
const MAX_TRIL_CHECK = 8192;

/**
 * Matches `Slice(Slice(tril, rows, axis 2), [0, T), axis 3)` (in either order, or one Slice over
 * both axes) of a lower-triangular [1, 1, M, M] bool constant. The row offset is taken to be
 * T − S (HF's `bias[:, :, T-S:T, :T]`); validation checks the result.
 */
export function matchCausalSlice(cond: Value, ar: ShapeArithmetic): CausalSlice | Mismatch {
  const nodes: Node[] = [];
  const axesSeen = new Set<number>();
  let v = cond;
  while (v.producer && opIs(v.producer, 'Slice')) {
    const s = v.producer;
    const axes = s.inputs[3] ? ar.values(s.inputs[3])?.values : null;
    const starts = ar.values(s.inputs[1])?.values;
    const steps = s.inputs[4] ? ar.values(s.inputs[4])?.values : null;
    if (!axes || axes.some((a) => a === null)) return new Mismatch(`mask Slice '${s.name}' has no constant axes`, [s]);
    if (steps && steps.some((x) => x !== 1)) return new Mismatch(`mask Slice '${s.name}' has steps other than 1`, [s]);
    axes.forEach((a, i) => {
      const ax = normAxis(a as number, 4);
      axesSeen.add(ax);
      if (ax === 3 && starts?.[i] !== 0) axesSeen.add(-1);
    });
    nodes.push(s);
    v = s.input(0);
  }
  const t = constTensor(v);
  if (!t || t.dtype !== 'bool' || t.dims.length !== 4 || t.dims[0] !== 1 || t.dims[1] !== 1 || t.dims[2] !== t.dims[3]) {
    return new Mismatch(`the Where mask '${cond.name}' is not a Slice of a [1,1,M,M] bool causal buffer`);
  }
  if (axesSeen.has(-1) || !axesSeen.has(2)) return new Mismatch(`the causal buffer '${v.name}' is sliced in an unexpected way (need rows on axis 2, columns from 0 on axis 3)`, nodes);
  const m = t.dims[2];
  if (m > MAX_TRIL_CHECK) return new Mismatch(`causal buffer '${v.name}' is ${m}×${m}, larger than the ${MAX_TRIL_CHECK} this pass checks`);
  const bits = t.data() as Uint8Array;
  for (let i = 0; i < m; i++) {
    const row = i * m;
    for (let j = 0; j < m; j++) {
      if ((bits[row + j] !== 0) !== (j <= i)) return new Mismatch(`buffer '${v.name}' is not lower-triangular (element [${i}, ${j}]); not a causal mask`);
    }
  }
  return { table: v, size: m, nodes };
}

// ---- which nodes a fusion takes ----------------------------------------------------------------------

/**
 * Completes the set of nodes a fusion replaces. Starting from `core` (the nodes the pattern names),
 * it adds (1) side readers: nodes outside `core` that read a core intermediate and whose results
 * only flow back into the pattern (the `Shape → Gather → Concat` arithmetic exporters hang off
 * intermediates), and (2) exclusive producers: upstream nodes whose every output is read only by
 * the set and is small (≤ 64 elements: shape targets, scale arithmetic). Values in `keep` (what the
 * replacement reads) are never taken. Constant nodes and larger model-level computations that die
 * with the block (a shared rotary table, the 4-D mask) are left to dead-code elimination, so fused
 * nodes keep their layer's scope name and provenance stays per layer.
 *
 * `shared` carries, across the blocks of one run, the producers earlier blocks also read: once an
 * earlier block is fused they look exclusive to the later one, but they belong to the model (the
 * shape arithmetic of the inputs), so they are left alone too. This function adds to it.
 *
 * Returns a Mismatch naming the first intermediate that is read outside the pattern.
 */
export function collectFusionNodes(core: Iterable<Node>, exported: ReadonlySet<Value>, keep: ReadonlySet<Value>, ar: ShapeArithmetic, shared = new Set<Node>()): Node[] | Mismatch {
  const set = new Set<Node>(core);
  const memo = new Map<Node, boolean>();
  const absorbable = (n: Node, depth: number): boolean => {
    if (set.has(n)) return true;
    const known = memo.get(n);
    if (known !== undefined) return known;
    if (depth > 32 || n.subgraphs().length > 0) return false;
    memo.set(n, false); // a DAG has no cycles; this guards re-entry only
    let ok = true;
    for (const o of n.outputs) {
      if (!o) continue;
      if (o.isGraphOutput || keep.has(o) || exported.has(o)) { ok = false; break; }
      for (const u of o.uses) if (!absorbable(u.node, depth + 1)) { ok = false; break; }
      if (!ok) break;
    }
    memo.set(n, ok);
    return ok;
  };
  const take = (n: Node): void => {
    if (set.has(n)) return;
    set.add(n);
    for (const o of n.outputs) if (o) for (const u of o.uses) take(u.node);
  };
  for (const n of [...set]) {
    for (const o of n.outputs) {
      if (!o || exported.has(o)) continue;
      if (o.isGraphOutput) return new Mismatch(`intermediate '${o.name}' of '${n.name}' is a graph output`, [n]);
      for (const u of o.uses) {
        if (set.has(u.node)) continue;
        if (!absorbable(u.node, 0)) return new Mismatch(`intermediate '${o.name}' of '${n.name}' is also read by '${u.node.name}' (${u.node.opType}) outside the attention pattern`, [n, u.node]);
        take(u.node);
      }
    }
  }
  // exclusive producers, to a fixed point
  for (let changed = true; changed;) {
    changed = false;
    for (const n of [...set]) {
      for (const x of n.inputs) {
        const p = x?.producer;
        if (!p || set.has(p) || shared.has(p) || p.graph !== n.graph || opIs(p, 'Constant') || p.subgraphs().length > 0) continue;
        const exclusive = p.outputs.every((o) => !o || (!o.isGraphOutput && !keep.has(o) && !exported.has(o) && o.uses.every((u) => set.has(u.node)) && isSmall(ar.dims(o))));
        if (exclusive) {
          set.add(p);
          changed = true;
        }
      }
    }
  }
  for (const n of set) for (const x of n.inputs) if (x?.producer && !set.has(x.producer)) shared.add(x.producer);
  return [...set];
}

function isSmall(dims: Known[] | null): boolean {
  if (!dims) return false;
  let n = 1;
  for (const d of dims) {
    if (d === null) return false;
    n *= d;
  }
  return n <= MAX_SMALL;
}

/** Names the first value in `reads` that a node of `nodes` produces (a replacement must not read those). */
export function readsReplaced(reads: Iterable<Value | null>, nodes: readonly Node[]): Value | null {
  const set = new Set(nodes);
  for (const v of reads) if (v?.producer && set.has(v.producer)) return v;
  return null;
}
