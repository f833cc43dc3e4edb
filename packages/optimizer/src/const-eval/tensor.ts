/**
 * The reference evaluator's tensors: dims plus a typed array in onnxruntime's element layout
 * (int64 as BigInt64Array, bool as 0/1 bytes, float16/bfloat16 as raw 16-bit patterns), and the
 * helpers the op families share — allocation under a byte budget, broadcasting, axis handling.
 *
 * Inputs are lazy: an evaluator that only needs dims (Shape, Size) never reads the bytes of the
 * constant behind them, so `Shape(embedding)` costs nothing even for external data.
 */
import { byteSizeOf, Tensor, type DType } from '@fuselab/graph-core';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** A constant as the evaluator sees it. `data` may be read lazily (see {@link lazyTensor}). */
export interface EvalTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: NumericArray;
}

/** Why a node could not be folded; `kind` groups the reasons in the pass report. */
export type CannotFoldKind = 'unsupported' | 'limit' | 'inexact' | 'invalid';

/** Thrown by evaluators when a node cannot (or must not) be folded. */
export class CannotFold extends Error {
  constructor(readonly kind: CannotFoldKind, reason: string) {
    super(reason);
    this.name = 'CannotFold';
  }
}

/** What evaluators get besides the node and its inputs. */
export interface EvalContext {
  /** Opset of the node's domain. */
  readonly opset: number;
  /** Largest output (bytes, all outputs together) an evaluation may allocate. */
  readonly maxOutputBytes: number;
  /**
   * Only fold float math whose result is provably the one onnxruntime computes (IEEE-exact
   * operations, or inexact ones whose result is exactly representable). Default true.
   */
  readonly exactOnly: boolean;
}

/** Dtypes the evaluator can hold (strings and packed sub-byte types are not supported). */
const SUPPORTED = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

/** True for element types the evaluator holds (not strings, 8-bit floats or packed 4/2-bit types). */
export function isSupportedDType(dtype: DType): boolean {
  return SUPPORTED.has(dtype);
}

/** Element count of dims (1 for a scalar). */
export function sizeOf(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Throws a `limit` CannotFold when `count` elements of `dtype` would exceed the budget. */
export function reserve(ctx: EvalContext, dtype: DType, count: number, what = 'output'): void {
  const bytes = byteSizeOf(dtype, count);
  if (bytes > ctx.maxOutputBytes) {
    throw new CannotFold('limit', `${what} would be ${formatBytes(bytes)} (${count} × ${dtype}), over maxOutputBytes ${formatBytes(ctx.maxOutputBytes)}`);
  }
}

/** `1.5 MiB`, `12.0 KiB`, `8 B`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A zeroed typed array for `count` elements of `dtype`. */
export function allocate(dtype: DType, count: number): NumericArray {
  switch (dtype) {
    case 'float32': return new Float32Array(count);
    case 'float64': return new Float64Array(count);
    case 'float16': case 'bfloat16': case 'uint16': return new Uint16Array(count);
    case 'int8': return new Int8Array(count);
    case 'uint8': case 'bool': return new Uint8Array(count);
    case 'int16': return new Int16Array(count);
    case 'int32': return new Int32Array(count);
    case 'uint32': return new Uint32Array(count);
    case 'int64': return new BigInt64Array(count);
    case 'uint64': return new BigUint64Array(count);
    default: throw new CannotFold('unsupported', `element type ${dtype} is not supported by the constant evaluator`);
  }
}

/** An EvalTensor over a graph-core Tensor; the bytes are read (zero-copy where possible) on first use. */
export function lazyTensor(t: Tensor): EvalTensor {
  if (!isSupportedDType(t.dtype)) throw new CannotFold('unsupported', `element type ${t.dtype} is not supported by the constant evaluator`);
  let data: NumericArray | null = null;
  return {
    dtype: t.dtype,
    dims: t.dims,
    get data(): NumericArray {
      return (data ??= t.data() as NumericArray);
    },
  };
}

/** A new EvalTensor. */
export function evalTensor(dtype: DType, dims: readonly number[], data: NumericArray): EvalTensor {
  return { dtype, dims, data };
}

/** Converts an evaluation result into a graph-core Tensor (no copy: the typed array is owned by the result). */
export function toTensor(t: EvalTensor, name = ''): Tensor {
  return Tensor.from(t.dtype, t.dims, t.data, name);
}

/** Indexable view used by the copy loops (every NumericArray matches it element-wise). */
interface Indexable {
  readonly length: number;
  [i: number]: number | bigint;
}

/** out[i] = src[index[i]] for arrays of the same element kind. */
export function take(dtype: DType, src: NumericArray, index: ArrayLike<number>): NumericArray {
  const out = allocate(dtype, index.length);
  const s = src as unknown as Indexable;
  const o = out as unknown as Indexable;
  for (let i = 0; i < index.length; i++) o[i] = s[index[i]];
  return out;
}

/** The elements of a small integer tensor as numbers (int64 clamped to ±2^53). */
export function toNumberList(t: EvalTensor): number[] {
  const d = t.data;
  const out = new Array<number>(d.length);
  for (let i = 0; i < d.length; i++) out[i] = clampNumber(d[i]);
  return out;
}

function clampNumber(x: number | bigint): number {
  if (typeof x === 'number') return x;
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (x < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(x);
}

/** Reads an integer input (indices, axes, shape vectors): must be int32 or int64. */
export function intList(t: EvalTensor | null, what: string): number[] {
  if (!t) throw new CannotFold('invalid', `${what} is missing`);
  if (t.dtype !== 'int64' && t.dtype !== 'int32') throw new CannotFold('invalid', `${what} must be int32/int64, got ${t.dtype}`);
  return toNumberList(t);
}

/** Row-major strides. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= dims[i];
  }
  return s;
}

/** Normalizes an axis against rank; CannotFold('invalid') when out of range. */
export function normAxis(axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new CannotFold('invalid', `${what} ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Numpy broadcasting of several shapes. */
export function broadcastDims(shapes: ReadonlyArray<readonly number[]>): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    const off = rank - s.length;
    for (let i = 0; i < s.length; i++) {
      const a = out[off + i];
      const b = s[i];
      if (a === b || b === 1) continue;
      if (a === 1) out[off + i] = b;
      else throw new CannotFold('invalid', `cannot broadcast [${shapes.map((x) => x.join(',')).join('] with [')}]`);
    }
  }
  return out;
}

/**
 * For every element of `outDims` (row-major), the index of the element of a tensor of `inDims`
 * that numpy broadcasting reads. `inDims` must broadcast to `outDims`.
 */
export function broadcastIndex(inDims: readonly number[], outDims: readonly number[]): Int32Array {
  const n = sizeOf(outDims);
  const idx = new Int32Array(n);
  const rank = outDims.length;
  const off = rank - inDims.length;
  const inStrides = stridesOf(inDims);
  // stride of each output axis in the input (0 where broadcast)
  const st = new Array<number>(rank).fill(0);
  for (let i = 0; i < inDims.length; i++) st[off + i] = inDims[i] === 1 ? 0 : inStrides[i];
  if (n === 0) return idx;
  const counter = new Array<number>(rank).fill(0);
  let cur = 0;
  for (let k = 0; k < n; k++) {
    idx[k] = cur;
    for (let ax = rank - 1; ax >= 0; ax--) {
      counter[ax]++;
      cur += st[ax];
      if (counter[ax] < outDims[ax]) break;
      cur -= st[ax] * counter[ax];
      counter[ax] = 0;
    }
  }
  return idx;
}
