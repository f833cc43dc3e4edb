/**
 * Cast, matching onnxruntime's CPU kernel value for value:
 * - integer → integer wraps (C++ `static_cast` on two's complement);
 * - float → integer truncates toward zero; NaN and out-of-range values (undefined behaviour in
 *   C++) are refused;
 * - integer → float rounds to nearest even, int64 beyond 2^53 included (no double rounding);
 * - float → float16 rounds to nearest even (float64 goes through float32 first, as onnxruntime's
 *   `MLFloat16(static_cast<float>(x))` does);
 * - anything → bool is `x != 0`; bool → anything is 0/1.
 * Casts to bfloat16, strings and 8-bit floats are not folded.
 */
import { bfloat16ToFloat, floatToHalf, halfToFloat, type DType, dtypeFromOnnx } from '@fuselab/graph-core';
import { allocate, CannotFold, evalTensor, reserve, sizeOf, type EvalTensor } from './tensor.ts';
import type { OpEvaluator } from './types.ts';

const RANGE: Partial<Record<DType, readonly [number, number]>> = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
};
const BIG_RANGE: Partial<Record<DType, readonly [bigint, bigint]>> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n], uint64: [0n, 2n ** 64n - 1n],
};
const FLOATS = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);
const TARGETS = new Set<DType>(['float32', 'float64', 'float16', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool']);

/** Correctly rounded float32 value of an integer (no double rounding beyond 2^53). */
export function bigintToFloat32(x: bigint): number {
  const n = Number(x);
  if (Math.abs(n) <= 2 ** 53) return Math.fround(n);
  const neg = x < 0n;
  const m = neg ? -x : x;
  const shift = BigInt(m.toString(2).length - 24);
  let q = m >> shift;
  const rem = m & ((1n << shift) - 1n);
  const half = 1n << (shift - 1n);
  if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  const r = Number(q) * 2 ** Number(shift);
  return Math.fround(neg ? -r : r);
}

const cast: OpEvaluator = (node, inputs, ctx) => {
  const x = inputs[0];
  if (!x) throw new CannotFold('invalid', 'Cast input is missing');
  const code = node.attrInt('to', 0);
  const to = dtypeFromOnnx(code);
  if (!to) throw new CannotFold('invalid', `Cast to unknown type code ${code}`);
  if (!TARGETS.has(to)) throw new CannotFold('unsupported', `Cast to ${to} is not folded`);
  return [castTensor(x, to, (n) => reserve(ctx, to, n))];
};

/** Casts an EvalTensor (exported for tests and for other passes that need onnxruntime's Cast values). */
export function castTensor(x: EvalTensor, to: DType, budget: (count: number) => void = () => {}): EvalTensor {
  const from = x.dtype;
  const n = sizeOf(x.dims);
  budget(n);
  if (from === to) return evalTensor(to, x.dims, x.data);
  const out = allocate(to, n);
  const src = x.data;
  const read: (i: number) => number | bigint =
    from === 'float16' ? (i) => halfToFloat(src[i] as number) : from === 'bfloat16' ? (i) => bfloat16ToFloat(src[i] as number) : (i) => src[i];
  const w = out as unknown as { [i: number]: number | bigint };
  for (let i = 0; i < n; i++) w[i] = convert(read(i), from, to);
  return evalTensor(to, x.dims, out);
}

function convert(v: number | bigint, from: DType, to: DType): number | bigint {
  if (to === 'bool') return (typeof v === 'bigint' ? v !== 0n : v !== 0) ? 1 : 0;
  if (FLOATS.has(to)) {
    let f: number;
    if (typeof v === 'bigint') f = to === 'float64' ? Number(v) : bigintToFloat32(v);
    else f = v;
    if (to === 'float32') return Math.fround(f);
    if (to === 'float16') return floatToHalf(Math.fround(f));
    return f;
  }
  // integer targets
  if (typeof v === 'bigint') {
    const big = BIG_RANGE[to];
    if (big) return to === 'int64' ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v);
    const bits = to.endsWith('8') ? 8 : to.endsWith('16') ? 16 : 32;
    return Number(to.startsWith('u') ? BigInt.asUintN(bits, v) : BigInt.asIntN(bits, v));
  }
  let t = v;
  if (FLOATS.has(from)) {
    if (!Number.isFinite(v)) throw new CannotFold('invalid', `Cast of ${v} to ${to} is undefined behaviour`);
    t = Math.trunc(v);
    const r = RANGE[to];
    const br = BIG_RANGE[to];
    if ((r && (t < r[0] || t > r[1])) || (br && (BigInt(t) < br[0] || BigInt(t) > br[1]))) {
      throw new CannotFold('invalid', `Cast of ${v} to ${to} is out of range (undefined behaviour in C++)`);
    }
  }
  if (BIG_RANGE[to]) return to === 'int64' ? BigInt.asIntN(64, BigInt(t)) : BigInt.asUintN(64, BigInt(t));
  return t; // typed-array stores wrap narrower integers
}

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const castEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [['Cast', cast]];
