/**
 * Generators: ConstantOfShape and Range. Their output size comes from input *values*, so the size is
 * checked against the budget before anything is allocated (a ConstantOfShape of [50257, 768] is
 * refused, not built and then dropped).
 */
import { lazyTensor, allocate, CannotFold, evalTensor, intList, reserve, sizeOf, type EvalTensor } from './tensor.ts';
import type { OpEvaluator } from './types.ts';

/** ConstantOfShape(shape, value = float32 0). */
const constantOfShape: OpEvaluator = (node, inputs, ctx) => {
  const dims = intList(inputs[0], 'ConstantOfShape shape');
  if (dims.some((d) => d < 0)) throw new CannotFold('invalid', `ConstantOfShape of negative dims [${dims.join(',')}]`);
  const a = node.attr('value');
  const value = a && a.type === 'tensor' ? lazyTensor(a.value) : evalTensor('float32', [1], new Float32Array(1));
  if (sizeOf(value.dims) !== 1) throw new CannotFold('invalid', 'ConstantOfShape value must have one element');
  const n = sizeOf(dims);
  reserve(ctx, value.dtype, n);
  const out = allocate(value.dtype, n);
  (out as unknown as { fill(v: number | bigint): void }).fill(value.data[0]);
  return [evalTensor(value.dtype, dims, out)];
};

/**
 * Range(start, limit, delta), as onnxruntime computes it: n = ceil((limit − start) / delta) with
 * the difference taken in the element type, then `start` accumulated by `delta` in the element type
 * (not start + i·delta: float results differ).
 */
const range: OpEvaluator = (_node, inputs, ctx) => {
  const [s, l, d] = [0, 1, 2].map((i) => {
    const t = inputs[i];
    if (!t) throw new CannotFold('invalid', `Range input ${i} is missing`);
    if (sizeOf(t.dims) !== 1) throw new CannotFold('invalid', 'Range inputs must be scalars');
    return t;
  }) as [EvalTensor, EvalTensor, EvalTensor];
  const dtype = s.dtype;
  if (l.dtype !== dtype || d.dtype !== dtype) throw new CannotFold('invalid', `Range mixes ${dtype}, ${l.dtype}, ${d.dtype}`);
  if (dtype === 'int64') {
    const start = (s.data as BigInt64Array)[0];
    const limit = (l.data as BigInt64Array)[0];
    const delta = (d.data as BigInt64Array)[0];
    if (delta === 0n) throw new CannotFold('invalid', 'Range delta is 0');
    const n = Math.max(0, Math.ceil(Number(limit - start) / Number(delta)));
    reserve(ctx, dtype, n);
    const out = new BigInt64Array(n);
    let v = start;
    for (let i = 0; i < n; i++, v += delta) out[i] = v;
    return [evalTensor(dtype, [n], out)];
  }
  if (dtype !== 'int32' && dtype !== 'int16' && dtype !== 'float32' && dtype !== 'float64') throw new CannotFold('unsupported', `Range of ${dtype}`);
  const start = s.data[0] as number;
  const limit = l.data[0] as number;
  const delta = d.data[0] as number;
  if (delta === 0) throw new CannotFold('invalid', 'Range delta is 0');
  const round = dtype === 'float32' ? Math.fround : (x: number) => x;
  const n = Math.max(0, Math.ceil(round(limit - start) / delta));
  if (!Number.isFinite(n)) throw new CannotFold('invalid', 'Range length is not finite');
  reserve(ctx, dtype, n);
  const out = allocate(dtype, n) as Float32Array | Float64Array | Int32Array | Int16Array;
  let v = start;
  for (let i = 0; i < n; i++) {
    out[i] = v;
    v = round(v + delta);
  }
  return [evalTensor(dtype, [n], out)];
};

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const generatorEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [
  ['ConstantOfShape', constantOfShape],
  ['Range', range],
];
