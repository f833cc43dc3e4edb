/**
 * Helpers shared by the op families' shape functions: broadcasting with symbolic dims, axis
 * normalization, dim merging, and elementwise evaluation of small known tensors (the shape
 * arithmetic torchscript exports are full of).
 */
import { dtypeBits, isFloatDType, type DType } from '../ir/dtype.ts';
import type { Tensor } from '../ir/tensor.ts';
import { tensorType, type ValueType } from '../ir/value.ts';
import type { Dim, Shape } from '../ir/shape.ts';
import { dimAdd, dimDivExact, dimEquals, dimFloorDiv, dimMul, dimSub } from '../symbolic.ts';
import type { InferenceContext, TensorData } from './schema.ts';

/** Contents bigger than this are not tracked (shape data is tiny; weights are not data to us). */
export const MAX_DATA_ELEMENTS = 1024;

/** Slice/Pad ends of this magnitude or more mean "to the end" (INT64_MAX clamps to 2^53). */
export const HUGE = 2 ** 52;

/**
 * Broadcasts one dim pair (numpy rules). Equal dims and 1s resolve; a number > 1 against a symbol
 * is taken to be that number (the only way the model can run); two different symbols give null;
 * two different numbers (neither 1) are a contradiction: returns undefined.
 */
export function broadcastDim(a: Dim, b: Dim): Dim | undefined {
  if (a === b) return a;
  if (a === 1) return b;
  if (b === 1) return a;
  if (typeof a === 'number' && typeof b === 'number') return undefined;
  // an unknown dim against a known one: the known one is what any valid run has (or the other is 1)
  if (a === null) return b;
  if (b === null) return a;
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return dimEquals(a, b) === true ? a : null;
}

/** Broadcasts shapes (numpy rules); null when a rank is unknown; fails on contradictions. */
export function broadcastShapes(ctx: InferenceContext, shapes: ReadonlyArray<Shape | null>): Shape | null {
  let rank = 0;
  for (const s of shapes) {
    if (!s) return null;
    rank = Math.max(rank, s.length);
  }
  const out: Dim[] = new Array<Dim>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s!.length;
    for (let i = 0; i < s!.length; i++) {
      const d = broadcastDim(out[off + i], s![i]);
      if (d === undefined) {
        ctx.fail(`cannot broadcast ${shapes.map(fmt).join(' with ')}: dimension ${off + i} is ${out[off + i]} vs ${s![i]}`);
      }
      out[off + i] = d;
    }
  }
  return out;
}

/**
 * Unifies two dims that must be equal (Concat's other axes, MatMul's batch dims after
 * broadcasting, attention head sizes). Prefers the known one; two different numbers are a
 * contradiction (undefined).
 */
export function unifyDim(a: Dim, b: Dim): Dim | undefined {
  if (a === b) return a;
  if (a === null) return b;
  if (b === null) return a;
  const eq = dimEquals(a, b);
  if (eq === false) return undefined;
  if (typeof a === 'number') return a;
  return b;
}

/** Normalizes a possibly negative axis against `rank`; fails when out of range. */
export function normalizeAxis(ctx: InferenceContext, axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) ctx.fail(`${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Normalizes a list of axes; fails on duplicates or out-of-range entries. */
export function normalizeAxes(ctx: InferenceContext, axes: readonly number[], rank: number, what = 'axes'): number[] {
  const out = axes.map((a) => normalizeAxis(ctx, a, rank, what));
  if (new Set(out).size !== out.length) ctx.fail(`${what} [${axes.join(',')}] has duplicates`);
  return out;
}

/** `[batch_size,4,?]` for messages; `?` for an unknown rank. */
export function fmt(s: Shape | null | undefined): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '?';
}

/** A shape of `rank` unknown dims. */
export function unknownShape(rank: number): Dim[] {
  return new Array<Dim>(rank).fill(null);
}

/** Data of a 1-D int64 vector (what Shape produces). */
export function vectorData(values: readonly Dim[], dtype: DType = 'int64'): TensorData {
  return { dtype, dims: [values.length], values };
}

/** Data of a scalar. */
export function scalarData(value: Dim, dtype: DType = 'int64'): TensorData {
  return { dtype, dims: [], values: [value] };
}

/** Same shape and type as input 0. */
export function passThrough(ctx: InferenceContext, from = 0, to = 0): void {
  const t = ctx.input(from);
  ctx.setOutput(to, t?.dtype ?? null, t?.shape ?? null);
}

/** Number of elements of a static dims list. */
export function count(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

// ---- elementwise evaluation of known data -------------------------------------------------------

/** An elementwise operation on two known elements (null: not known). */
export type ScalarFn = (a: Dim, b: Dim) => Dim;

/** Evaluates an elementwise op over broadcast known inputs; null when shapes are not static. */
export function evalBroadcast(inputs: ReadonlyArray<TensorData | null>, dtype: DType, f: (args: Dim[]) => Dim): TensorData | null {
  const datas: TensorData[] = [];
  for (const d of inputs) {
    if (!d) return null;
    datas.push(d);
  }
  let rank = 0;
  for (const d of datas) rank = Math.max(rank, d.dims.length);
  const dims = new Array<number>(rank).fill(1);
  for (const d of datas) {
    const off = rank - d.dims.length;
    for (let i = 0; i < d.dims.length; i++) {
      const x = d.dims[i];
      if (dims[off + i] === 1) dims[off + i] = x;
      else if (x !== 1 && x !== dims[off + i]) return null;
    }
  }
  const n = count(dims);
  if (n > MAX_DATA_ELEMENTS) return null;
  const values = new Array<Dim>(n);
  const idx = new Array<number>(rank).fill(0);
  const args = new Array<Dim>(datas.length);
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < datas.length; j++) {
      const d = datas[j];
      const off = rank - d.dims.length;
      let flat = 0;
      for (let i = 0; i < d.dims.length; i++) flat = flat * d.dims[i] + (d.dims[i] === 1 ? 0 : idx[off + i]);
      args[j] = d.values[flat];
    }
    values[k] = f(args);
    for (let i = rank - 1; i >= 0; i--) {
      if (++idx[i] < dims[i]) break;
      idx[i] = 0;
    }
  }
  return { dtype, dims, values };
}

/** Integer/float arithmetic on known elements; symbolic for integer + - *, floor division. */
export function arith(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Mod' | 'Max' | 'Min' | 'Pow', dtype: DType): ScalarFn {
  const isFloat = isFloatDType(dtype);
  const num = (a: Dim, b: Dim): [number, number] | null => (typeof a === 'number' && typeof b === 'number' ? [a, b] : null);
  switch (op) {
    // symbolic elements are integer-valued dims, also inside float tensors (torchscript casts them)
    case 'Add': return dimAdd;
    case 'Sub': return dimSub;
    case 'Mul': return dimMul;
    case 'Div':
      return (a, b) => {
        if (isFloat) return typeof a === 'number' && typeof b === 'number' ? a / b : dimDivExact(a, b);
        const n = num(a, b);
        if (n) return n[1] === 0 ? null : Math.trunc(n[0] / n[1]);
        // dims are non-negative and divisors positive in shape code: truncation is floor
        return typeof b === 'number' && b <= 0 ? null : dimFloorDiv(a, b);
      };
    case 'Mod':
      return (a, b) => {
        const n = num(a, b);
        if (!n || n[1] === 0) return null;
        if (isFloat) return n[0] % n[1];
        const r = n[0] % n[1];
        return r !== 0 && Math.sign(r) !== Math.sign(n[1]) ? r + n[1] : r;
      };
    case 'Max':
      return (a, b) => {
        const n = num(a, b);
        if (n) return Math.max(n[0], n[1]);
        return a === b ? a : symbolicMax(a, b);
      };
    case 'Min':
      return (a, b) => {
        const n = num(a, b);
        if (n) return Math.min(n[0], n[1]);
        return a === b ? a : symbolicMin(a, b);
      };
    case 'Pow': return (a, b) => numOnly(a, b, (x, y) => (isFloat ? x ** y : Math.trunc(x ** y)));
  }
}

function numOnly(a: Dim, b: Dim, f: (x: number, y: number) => number): Dim {
  return typeof a === 'number' && typeof b === 'number' ? f(a, b) : null;
}

/** max(d, c) for a dim d ≥ 0 and a constant c ≤ 0 is d; more is not known. */
function symbolicMax(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && a <= 0 && typeof b === 'string') return b;
  if (typeof b === 'number' && b <= 0 && typeof a === 'string') return a;
  const d = dimSub(a, b);
  if (typeof d === 'number') return d >= 0 ? a : b;
  return null;
}

function symbolicMin(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && a <= 0 && typeof b === 'string') return a;
  if (typeof b === 'number' && b <= 0 && typeof a === 'string') return b;
  const d = dimSub(a, b);
  if (typeof d === 'number') return d <= 0 ? a : b;
  return null;
}

/** Comparison of known elements: 1/0, or null when it cannot be decided. */
export function compare(op: 'Equal' | 'Less' | 'Greater' | 'LessOrEqual' | 'GreaterOrEqual'): ScalarFn {
  return (a, b) => {
    if (op === 'Equal') {
      if (typeof a === 'string' && typeof b === 'number' && b < 0) return 0; // dims are never negative
      if (typeof b === 'string' && typeof a === 'number' && a < 0) return 0;
      const eq = dimEquals(a, b);
      return eq === null ? null : eq ? 1 : 0;
    }
    const d = dimSub(a, b);
    if (typeof d !== 'number') return null;
    switch (op) {
      case 'Less': return d < 0 ? 1 : 0;
      case 'Greater': return d > 0 ? 1 : 0;
      case 'LessOrEqual': return d <= 0 ? 1 : 0;
      case 'GreaterOrEqual': return d >= 0 ? 1 : 0;
    }
  };
}

/** Converts known elements to `to` (floats truncate toward zero for integer targets). */
export function castValue(v: Dim, to: DType): Dim {
  if (v === null) return null;
  // a symbolic dim is an integer: it survives casts to any integer or float type
  if (typeof v === 'string') return to === 'bool' || to === 'string' ? null : v;
  if (to === 'bool') return v !== 0 ? 1 : 0;
  if (isFloatDType(to)) return to === 'float32' ? Math.fround(v) : v;
  if (!Number.isFinite(v)) return null;
  return Math.trunc(v);
}

/**
 * Known contents of a constant tensor (initializer, Constant value) when it is small and numeric;
 * null for big, string, packed sub-byte or unreadable (external, unresolved) tensors.
 */
export function tensorData(t: Tensor, limit = MAX_DATA_ELEMENTS): TensorData | null {
  if (t.size > limit || t.dtype === 'string' || dtypeBits(t.dtype) < 8 || t.dtype.startsWith('float8') || t.dtype.startsWith('complex')) return null;
  const cached = dataCache.get(t);
  if (cached && cached.storage === t.storage) return cached.data;
  let data: TensorData | null = null;
  try {
    const nums = t.toNumbers();
    if (nums.length === t.size) data = { dtype: t.dtype, dims: t.dims.slice(), values: nums };
  } catch {
    data = null;
  }
  dataCache.set(t, { storage: t.storage, data });
  return data;
}

/** Decoded contents per tensor (tensors are immutable by convention; a storage swap invalidates). */
const dataCache = new WeakMap<Tensor, { storage: Tensor['storage']; data: TensorData | null }>();

// ---- types ----------------------------------------------------------------------------------------

/** The least specific type covering both: equal dims kept, differing dims unknown. */
export function joinTypes(a: ValueType | null, b: ValueType | null): ValueType | null {
  if (!a || !b) return null;
  if (a.kind !== b.kind) return null;
  if (a.kind === 'tensor' && b.kind === 'tensor') {
    const dtype = a.dtype === b.dtype ? a.dtype : null;
    return tensorType(dtype, joinShapes(a.shape, b.shape));
  }
  if (a.kind === 'sequence' && b.kind === 'sequence') return { kind: 'sequence', elem: joinTypes(a.elem, b.elem) };
  if (a.kind === 'optional' && b.kind === 'optional') return { kind: 'optional', elem: joinTypes(a.elem, b.elem) };
  return sameType(a, b) ? a : null;
}

function joinShapes(a: Shape | null, b: Shape | null): Shape | null {
  if (!a || !b || a.length !== b.length) return null;
  return a.map((d, i): Dim => (d === b[i] ? d : null));
}

/** Structural equality of two types. */
export function sameType(a: ValueType | null, b: ValueType | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.kind !== b.kind) return false;
  if ((a.kind === 'tensor' || a.kind === 'sparse') && (b.kind === 'tensor' || b.kind === 'sparse')) {
    if (a.dtype !== b.dtype) return false;
    if (!a.shape || !b.shape) return a.shape === b.shape;
    return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape![i]);
  }
  if ((a.kind === 'sequence' || a.kind === 'optional') && (b.kind === 'sequence' || b.kind === 'optional')) return sameType(a.elem, b.elem);
  if (a.kind === 'map' && b.kind === 'map') return a.key === b.key && sameType(a.value, b.value);
  return false;
}
