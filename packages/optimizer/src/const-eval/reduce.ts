/**
 * Reductions of small tensors: ReduceSum, ReduceProd, ReduceMax, ReduceMin (shape arithmetic such as
 * the element count of a shape slice). Integer reductions are exact (int64 in BigInt) within ±2^53;
 * beyond that they are refused, because onnxruntime accumulates int64 reductions in float64 (measured:
 * ReduceSum([2^60 + 1, 2]) gives 2^60, and overflow saturates instead of wrapping).
 * Float sums and products depend on the kernel's summation order, so with `exactOnly` they are
 * folded only when every partial result is an exactly representable integer — then every order
 * gives the same answer. Max/Min are exact in any order (NaN inputs are refused).
 */
import type { DType } from '@fuselab/graph-core';
import { allocate, CannotFold, evalTensor, intList, normAxis, reserve, sizeOf, stridesOf, type EvalTensor } from './tensor.ts';
import type { OpEvaluator } from './types.ts';

type Kind = 'sum' | 'prod' | 'max' | 'min';

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** axes from the attribute (ReduceSum < 13, others < 18) or the optional input. */
function axesOf(node: Parameters<OpEvaluator>[0], inputs: ReadonlyArray<EvalTensor | null>): number[] | null {
  const attr = node.attrInts('axes');
  if (attr) return attr;
  return inputs[1] ? intList(inputs[1], `${node.opType} axes`) : null;
}

function reduce(kind: Kind): OpEvaluator {
  return (node, inputs, ctx) => {
    const x = inputs[0];
    if (!x) throw new CannotFold('invalid', `${node.opType} input is missing`);
    const dtype: DType = x.dtype;
    if (dtype === 'bool' || dtype === 'float16' || dtype === 'bfloat16') throw new CannotFold('unsupported', `${node.opType} on ${dtype}`);
    const r = x.dims.length;
    const keep = node.attrInt('keepdims', 1) === 1;
    let axes = axesOf(node, inputs);
    if (!axes || axes.length === 0) {
      if (node.attrInt('noop_with_empty_axes', 0) === 1) {
        reserve(ctx, dtype, sizeOf(x.dims));
        return [evalTensor(dtype, x.dims, x.data)];
      }
      axes = Array.from({ length: r }, (_, i) => i);
    }
    const set = new Set(axes.map((a) => normAxis(a, r, `${node.opType} axis`)));
    const outKeep = x.dims.map((d, i) => (set.has(i) ? 1 : d));
    const outDims = keep ? outKeep : x.dims.filter((_, i) => !set.has(i));
    const n = sizeOf(outKeep);
    reserve(ctx, dtype, n);
    if (sizeOf(x.dims) === 0 && (kind === 'max' || kind === 'min')) throw new CannotFold('invalid', `${node.opType} of an empty tensor`);
    const outStrides = stridesOf(outKeep);
    const inStrides = stridesOf(x.dims);
    const total = sizeOf(x.dims);
    const isBig = dtype === 'int64' || dtype === 'uint64';
    const isFloat = dtype === 'float32' || dtype === 'float64';
    const acc: Array<number | bigint> = new Array(n).fill(isBig ? (kind === 'prod' ? 1n : 0n) : kind === 'prod' ? 1 : 0);
    const started = new Uint8Array(n);
    const src = x.data as unknown as { [i: number]: number | bigint };
    for (let i = 0; i < total; i++) {
      let o = 0;
      let rem = i;
      for (let a = 0; a < r; a++) {
        const c = Math.floor(rem / inStrides[a]);
        rem -= c * inStrides[a];
        if (!set.has(a)) o += c * outStrides[a];
      }
      const v = src[i];
      if (typeof v === 'number' && Number.isNaN(v)) throw new CannotFold('inexact', `${node.opType} over NaN`);
      const prev = acc[o];
      let next: number | bigint;
      if (kind === 'max' || kind === 'min') next = !started[o] || (kind === 'max' ? v > prev : v < prev) ? v : prev;
      else if (typeof v === 'bigint') {
        next = kind === 'sum' ? (prev as bigint) + v : (prev as bigint) * v;
        if (next > SAFE || next < -SAFE || v > SAFE || v < -SAFE) {
          throw new CannotFold('inexact', `${node.opType} over ${dtype} values beyond 2^53 (onnxruntime accumulates them in float64)`);
        }
      }
      else next = kind === 'sum' ? (prev as number) + v : (prev as number) * v;
      if (isFloat && (kind === 'sum' || kind === 'prod') && ctx.exactOnly) {
        const f = next as number;
        const limit = dtype === 'float32' ? 2 ** 24 : 2 ** 53;
        if (!Number.isInteger(v) || !Number.isInteger(f) || Math.abs(f) > limit) {
          throw new CannotFold('inexact', `${node.opType} over non-integer or large floats depends on the kernel's summation order (set exactOnly: false to fold anyway)`);
        }
      }
      started[o] = 1;
      acc[o] = next;
    }
    const out = allocate(dtype, n);
    const w = out as unknown as { [i: number]: number | bigint };
    for (let i = 0; i < n; i++) w[i] = acc[i];
    return [evalTensor(dtype, outDims, out)];
  };
}

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const reduceEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [
  ['ReduceSum', reduce('sum')],
  ['ReduceProd', reduce('prod')],
  ['ReduceMax', reduce('max')],
  ['ReduceMin', reduce('min')],
];
