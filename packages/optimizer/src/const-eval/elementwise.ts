/**
 * Elementwise ops with numpy broadcasting: Add, Sub, Mul, Div, Pow, Mod, Min, Max; Equal, Less,
 * Greater, LessOrEqual, GreaterOrEqual; And, Or, Xor, Not; Neg, Abs, Sqrt, Reciprocal, Floor, Ceil;
 * Where.
 *
 * Bit-exact with onnxruntime's CPU kernels:
 * - float32: computed in float64 and rounded once to float32. For +, −, ×, ÷ and √ this is the
 *   correctly rounded float32 result (float64 has more than 2·24+2 bits, so the double rounding
 *   is innocuous), which is what IEEE float32 hardware gives.
 * - Pow on floats is not an IEEE-exact operation (libm `powf` may differ by an ulp): with
 *   `exactOnly` it is folded only when every result is exactly representable, in which case any
 *   faithful `powf` returns that value.
 * - Integers wrap like C++ (typed-array stores are modular); int64 uses BigInt. Division by zero
 *   and INT_MIN / −1 (a crash in C++) are refused, not folded.
 * - NaN results are refused (their sign bit differs between libm and JS), as are NaN inputs of
 *   Min/Max (NaN propagation differs between kernels).
 * - float16/bfloat16 arithmetic is refused (onnxruntime's rounding path differs by kernel);
 *   comparisons and Where work on them.
 */
import { halfToFloat, type DType, bfloat16ToFloat } from '@fuselab/graph-core';
import {
  allocate, broadcastDims, broadcastIndex, CannotFold, evalTensor, reserve, sizeOf,
  type EvalContext, type EvalTensor, type NumericArray,
} from './tensor.ts';
import type { OpEvaluator } from './types.ts';

interface Indexable {
  [i: number]: number | bigint;
}

const INT_MIN: Partial<Record<DType, number>> = { int8: -128, int16: -32768, int32: -2147483648 };
const INT64_MIN = -(2n ** 63n);
const isFloat = (d: DType) => d === 'float32' || d === 'float64';
const isHalf = (d: DType) => d === 'float16' || d === 'bfloat16';
const isBig = (d: DType) => d === 'int64' || d === 'uint64';

/** Reads element i as a JS number (float16/bfloat16 decoded; bigints converted). */
function reader(t: EvalTensor): (i: number) => number {
  const d = t.data as unknown as Indexable;
  if (t.dtype === 'float16') return (i) => halfToFloat(d[i] as number);
  if (t.dtype === 'bfloat16') return (i) => bfloat16ToFloat(d[i] as number);
  if (isBig(t.dtype)) return (i) => Number(d[i]);
  return (i) => d[i] as number;
}

function need(inputs: ReadonlyArray<EvalTensor | null>, i: number, op: string): EvalTensor {
  const t = inputs[i];
  if (!t) throw new CannotFold('invalid', `${op} input ${i} is missing`);
  return t;
}

function sameDType(op: string, ts: readonly EvalTensor[]): DType {
  const d = ts[0].dtype;
  for (const t of ts) if (t.dtype !== d) throw new CannotFold('invalid', `${op} mixes ${d} and ${t.dtype}`);
  return d;
}

/** Output dims and, per input, the broadcast source index of every output element. */
function broadcast(ts: readonly EvalTensor[], outDType: DType, ctx: EvalContext): { dims: number[]; idx: Int32Array[] } {
  const dims = broadcastDims(ts.map((t) => t.dims));
  reserve(ctx, outDType, sizeOf(dims));
  return { dims, idx: ts.map((t) => broadcastIndex(t.dims, dims)) };
}

type NumFn = (x: number, y: number, dtype: DType) => number;
type BigFn = (x: bigint, y: bigint) => bigint;

/** A binary arithmetic op (same dtype in and out). */
function arithmetic(op: string, num: NumFn, big: BigFn, options: { check?: (x: number, y: number, dtype: DType, ctx: EvalContext) => void; checkBig?: (x: bigint, y: bigint) => void } = {}): OpEvaluator {
  return (_node, inputs, ctx) => {
    const a = need(inputs, 0, op);
    const b = need(inputs, 1, op);
    const dtype = sameDType(op, [a, b]);
    if (isHalf(dtype)) throw new CannotFold('unsupported', `${op} on ${dtype} is not folded (onnxruntime's ${dtype} rounding differs by kernel)`);
    if (dtype === 'bool') throw new CannotFold('invalid', `${op} on bool`);
    const { dims, idx } = broadcast([a, b], dtype, ctx);
    const out = allocate(dtype, sizeOf(dims));
    const o = out as unknown as Indexable;
    const [ia, ib] = idx;
    if (isBig(dtype)) {
      const da = a.data as BigInt64Array | BigUint64Array;
      const db = b.data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < ia.length; i++) {
        const x = da[ia[i]];
        const y = db[ib[i]];
        options.checkBig?.(x, y);
        o[i] = big(x, y);
      }
    } else {
      const da = a.data as unknown as ArrayLike<number>;
      const db = b.data as unknown as ArrayLike<number>;
      for (let i = 0; i < ia.length; i++) {
        const x = da[ia[i]];
        const y = db[ib[i]];
        options.check?.(x, y, dtype, ctx);
        const r = num(x, y, dtype);
        if (Number.isNaN(r) && !Number.isNaN(x) && !Number.isNaN(y)) throw new CannotFold('inexact', `${op}(${x}, ${y}) is NaN (its sign bit is platform-dependent)`);
        o[i] = r;
      }
    }
    return [evalTensor(dtype, dims, out)];
  };
}

const intDivCheck = (op: string) => (x: number, y: number, dtype: DType): void => {
  if (isFloat(dtype)) return;
  if (y === 0) throw new CannotFold('invalid', `integer ${op} by zero`);
  if (INT_MIN[dtype] !== undefined && x === INT_MIN[dtype] && y === -1) throw new CannotFold('invalid', `${dtype} ${op} overflow (INT_MIN / -1)`);
};
const bigDivCheck = (op: string) => (x: bigint, y: bigint): void => {
  if (y === 0n) throw new CannotFold('invalid', `integer ${op} by zero`);
  if (x === INT64_MIN && y === -1n) throw new CannotFold('invalid', `int64 ${op} overflow (INT64_MIN / -1)`);
};

const add = arithmetic('Add', (x, y) => x + y, (x, y) => x + y);
const sub = arithmetic('Sub', (x, y) => x - y, (x, y) => x - y);
const mul = arithmetic('Mul', (x, y, d) => (d === 'int32' || d === 'uint32' ? Math.imul(x, y) : x * y), (x, y) => x * y);
const div = arithmetic('Div', (x, y, d) => (isFloat(d) ? x / y : Math.trunc(x / y)), (x, y) => x / y, { check: intDivCheck('Div'), checkBig: bigDivCheck('Div') });

/** Mod(a, b, fmod): integer Mod takes the divisor's sign (Python); fmod=1 is C fmod (exact). */
const mod: OpEvaluator = (node, inputs, ctx) => {
  const fmod = node.attrInt('fmod', 0) === 1;
  const a = need(inputs, 0, 'Mod');
  if (isFloat(a.dtype) && !fmod) throw new CannotFold('invalid', 'Mod on floats needs fmod=1');
  const python = (r: number, y: number) => (r !== 0 && r < 0 !== y < 0 ? r + y : r);
  const pythonBig = (r: bigint, y: bigint) => (r !== 0n && r < 0n !== y < 0n ? r + y : r);
  return arithmetic('Mod', (x, y, d) => (isFloat(d) || fmod ? x % y : python(x % y, y)), (x, y) => (fmod ? x % y : pythonBig(x % y, y)), {
    check: (x, y, d) => {
      if (!isFloat(d) && y === 0) throw new CannotFold('invalid', 'integer Mod by zero');
    },
    checkBig: (_x, y) => {
      if (y === 0n) throw new CannotFold('invalid', 'integer Mod by zero');
    },
  })(node, inputs, ctx);
};

/** Pow(x, y): output has x's type; y may be of another numeric type. */
const pow: OpEvaluator = (_node, inputs, ctx) => {
  const a = need(inputs, 0, 'Pow');
  const b = need(inputs, 1, 'Pow');
  const dtype = a.dtype;
  if (isHalf(dtype)) throw new CannotFold('unsupported', `Pow on ${dtype} is not folded`);
  if (dtype === 'bool' || b.dtype === 'bool') throw new CannotFold('invalid', 'Pow on bool');
  const { dims, idx } = broadcast([a, b], dtype, ctx);
  const out = allocate(dtype, sizeOf(dims));
  const o = out as unknown as Indexable;
  const ra = reader(a);
  const rb = reader(b);
  for (let i = 0; i < idx[0].length; i++) {
    const x = ra(idx[0][i]);
    const y = rb(idx[1][i]);
    const r = Math.pow(x, y);
    if (isFloat(dtype)) {
      if (Number.isNaN(r)) throw new CannotFold('inexact', `Pow(${x}, ${y}) is NaN`);
      if (ctx.exactOnly && dtype === 'float32' && Math.fround(r) !== r) {
        throw new CannotFold('inexact', `Pow(${x}, ${y}) = ${r} is not exactly representable in float32; onnxruntime's powf may round it differently (set exactOnly: false to fold anyway)`);
      }
      if (ctx.exactOnly && dtype === 'float64' && !Number.isInteger(r)) {
        throw new CannotFold('inexact', `Pow(${x}, ${y}) in float64 is not provably exact`);
      }
      o[i] = r;
    } else {
      if (!Number.isFinite(r) || Math.abs(r) > Number.MAX_SAFE_INTEGER) throw new CannotFold('inexact', `integer Pow(${x}, ${y}) overflows 2^53`);
      const t = Math.trunc(r);
      o[i] = isBig(dtype) ? BigInt(t) : t;
    }
  }
  return [evalTensor(dtype, dims, out)];
};

/** A comparison op → bool. */
function comparison(op: string, num: (x: number, y: number) => boolean, big: (x: bigint, y: bigint) => boolean): OpEvaluator {
  return (_node, inputs, ctx) => {
    const a = need(inputs, 0, op);
    const b = need(inputs, 1, op);
    const dtype = sameDType(op, [a, b]);
    const { dims, idx } = broadcast([a, b], 'bool', ctx);
    const out = new Uint8Array(sizeOf(dims));
    if (isBig(dtype)) {
      const da = a.data as BigInt64Array | BigUint64Array;
      const db = b.data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < out.length; i++) out[i] = big(da[idx[0][i]], db[idx[1][i]]) ? 1 : 0;
    } else {
      const ra = reader(a);
      const rb = reader(b);
      for (let i = 0; i < out.length; i++) out[i] = num(ra(idx[0][i]), rb(idx[1][i])) ? 1 : 0;
    }
    return [evalTensor('bool', dims, out)];
  };
}

/** A bool logic op. */
function logic(op: string, f: (x: boolean, y: boolean) => boolean): OpEvaluator {
  return (_node, inputs, ctx) => {
    const a = need(inputs, 0, op);
    const b = need(inputs, 1, op);
    if (a.dtype !== 'bool' || b.dtype !== 'bool') throw new CannotFold('invalid', `${op} needs bool inputs`);
    const { dims, idx } = broadcast([a, b], 'bool', ctx);
    const out = new Uint8Array(sizeOf(dims));
    const da = a.data as Uint8Array;
    const db = b.data as Uint8Array;
    for (let i = 0; i < out.length; i++) out[i] = f(da[idx[0][i]] !== 0, db[idx[1][i]] !== 0) ? 1 : 0;
    return [evalTensor('bool', dims, out)];
  };
}

/** Not(x) on bool. */
const not: OpEvaluator = (_node, inputs, ctx) => {
  const a = need(inputs, 0, 'Not');
  if (a.dtype !== 'bool') throw new CannotFold('invalid', 'Not needs a bool input');
  reserve(ctx, 'bool', sizeOf(a.dims));
  const d = a.data as Uint8Array;
  return [evalTensor('bool', a.dims, Uint8Array.from(d, (x) => (x ? 0 : 1)))];
};

/** A unary numeric op (same dtype in and out). */
function unary(op: string, num: (x: number, dtype: DType) => number, big: ((x: bigint) => bigint) | null, options: { floatOnly?: boolean } = {}): OpEvaluator {
  return (_node, inputs, ctx) => {
    const a = need(inputs, 0, op);
    const dtype = a.dtype;
    if (isHalf(dtype)) throw new CannotFold('unsupported', `${op} on ${dtype} is not folded`);
    if (dtype === 'bool' || (options.floatOnly && !isFloat(dtype))) throw new CannotFold('invalid', `${op} on ${dtype}`);
    const n = sizeOf(a.dims);
    reserve(ctx, dtype, n);
    const out = allocate(dtype, n);
    const o = out as unknown as Indexable;
    if (isBig(dtype)) {
      if (!big) throw new CannotFold('invalid', `${op} on ${dtype}`);
      const d = a.data as BigInt64Array | BigUint64Array;
      for (let i = 0; i < n; i++) o[i] = big(d[i]);
    } else {
      const d = a.data as unknown as ArrayLike<number>;
      for (let i = 0; i < n; i++) {
        const r = num(d[i], dtype);
        if (Number.isNaN(r) && !Number.isNaN(d[i])) throw new CannotFold('inexact', `${op}(${d[i]}) is NaN (its sign bit is platform-dependent)`);
        o[i] = r;
      }
    }
    return [evalTensor(dtype, a.dims, out)];
  };
}

/** Where(cond, x, y). */
const where: OpEvaluator = (_node, inputs, ctx) => {
  const c = need(inputs, 0, 'Where');
  const x = need(inputs, 1, 'Where');
  const y = need(inputs, 2, 'Where');
  if (c.dtype !== 'bool') throw new CannotFold('invalid', 'Where condition must be bool');
  const dtype = sameDType('Where', [x, y]);
  const { dims, idx } = broadcast([c, x, y], dtype, ctx);
  const out = allocate(dtype, sizeOf(dims));
  const o = out as unknown as Indexable;
  const dc = c.data as Uint8Array;
  const dx = x.data as unknown as Indexable;
  const dy = y.data as unknown as Indexable;
  for (let i = 0; i < idx[0].length; i++) o[i] = dc[idx[0][i]] ? dx[idx[1][i]] : dy[idx[2][i]];
  return [evalTensor(dtype, dims, out)];
};

/** Min/Max over any number of inputs. */
function extremum(op: 'Min' | 'Max'): OpEvaluator {
  return (_node, inputs, ctx) => {
    const ts = inputs.filter((t): t is EvalTensor => !!t);
    if (ts.length === 0) throw new CannotFold('invalid', `${op} has no inputs`);
    const dtype = sameDType(op, ts);
    if (dtype === 'bool') throw new CannotFold('invalid', `${op} on bool`);
    const { dims, idx } = broadcast(ts, dtype, ctx);
    const n = sizeOf(dims);
    const out: NumericArray = allocate(dtype, n);
    const o = out as unknown as Indexable;
    const better = op === 'Min' ? (a: number | bigint, b: number | bigint) => b < a : (a: number | bigint, b: number | bigint) => b > a;
    const srcs = ts.map((t) => t.data as unknown as Indexable);
    const readers = isHalf(dtype) ? ts.map(reader) : null;
    for (let i = 0; i < n; i++) {
      let best: number | bigint = readers ? readers[0](idx[0][i]) : srcs[0][idx[0][i]];
      let bestK = 0;
      for (let k = 1; k < ts.length; k++) {
        const v: number | bigint = readers ? readers[k](idx[k][i]) : srcs[k][idx[k][i]];
        if (typeof v === 'number' && Number.isNaN(v)) throw new CannotFold('inexact', `${op} with a NaN input (NaN propagation differs between kernels)`);
        if (better(best, v)) {
          best = v;
          bestK = k;
        }
      }
      if (typeof best === 'number' && Number.isNaN(best)) throw new CannotFold('inexact', `${op} with a NaN input (NaN propagation differs between kernels)`);
      o[i] = srcs[bestK][idx[bestK][i]];
    }
    return [evalTensor(dtype, dims, out)];
  };
}

const f32Check = (op: string) => (x: number, dtype: DType): number => {
  if (!isFloat(dtype)) throw new CannotFold('invalid', `${op} on ${dtype}`);
  return x;
};

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const elementwiseEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [
  ['Add', add],
  ['Sub', sub],
  ['Mul', mul],
  ['Div', div],
  ['Mod', mod],
  ['Pow', pow],
  ['Min', extremum('Min')],
  ['Max', extremum('Max')],
  ['Equal', comparison('Equal', (x, y) => x === y, (x, y) => x === y)],
  ['Less', comparison('Less', (x, y) => x < y, (x, y) => x < y)],
  ['Greater', comparison('Greater', (x, y) => x > y, (x, y) => x > y)],
  ['LessOrEqual', comparison('LessOrEqual', (x, y) => x <= y, (x, y) => x <= y)],
  ['GreaterOrEqual', comparison('GreaterOrEqual', (x, y) => x >= y, (x, y) => x >= y)],
  ['And', logic('And', (x, y) => x && y)],
  ['Or', logic('Or', (x, y) => x || y)],
  ['Xor', logic('Xor', (x, y) => x !== y)],
  ['Not', not],
  ['Where', where],
  ['Neg', unary('Neg', (x) => -x, (x) => -x)],
  ['Abs', unary('Abs', (x) => Math.abs(x), (x) => (x < 0n ? -x : x))],
  ['Sqrt', unary('Sqrt', (x, d) => Math.sqrt(f32Check('Sqrt')(x, d)), null, { floatOnly: true })],
  ['Reciprocal', unary('Reciprocal', (x, d) => 1 / f32Check('Reciprocal')(x, d), null, { floatOnly: true })],
  ['Floor', unary('Floor', (x) => Math.floor(x), null, { floatOnly: true })],
  ['Ceil', unary('Ceil', (x) => Math.ceil(x), null, { floatOnly: true })],
];
