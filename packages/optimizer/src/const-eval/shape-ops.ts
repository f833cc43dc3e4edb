/**
 * Shape-only ops: Shape, Size, Reshape, Flatten, Squeeze, Unsqueeze, Identity. None of them copies
 * data: results are new dims over the input's typed array (Shape and Size read dims only, never
 * bytes).
 */
import type { Node } from '@fuselab/graph-core';
import { CannotFold, evalTensor, intList, normAxis, reserve, sizeOf, type EvalContext, type EvalTensor } from './tensor.ts';
import type { OpEvaluator } from './types.ts';

const one = (inputs: ReadonlyArray<EvalTensor | null>, i = 0): EvalTensor => {
  const t = inputs[i];
  if (!t) throw new CannotFold('invalid', `input ${i} is missing`);
  return t;
};

/** Shape(x, start?, end?) → int64 dims (opset 15 start/end clamp like Python slicing). */
const shape: OpEvaluator = (node, inputs) => {
  const dims = one(inputs).dims;
  const r = dims.length;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
  const start = clamp(node.attrInt('start', 0));
  const end = clamp(node.attrInt('end', r));
  const out = dims.slice(start, Math.max(start, end));
  return [evalTensor('int64', [out.length], BigInt64Array.from(out, (d) => BigInt(d)))];
};

/** Size(x) → int64 scalar element count. */
const size: OpEvaluator = (_node, inputs) => [evalTensor('int64', [], BigInt64Array.of(BigInt(sizeOf(one(inputs).dims))))];

/** Reshape(x, shape): 0 copies the input dim (unless allowzero), one -1 is inferred. */
const reshape: OpEvaluator = (node, inputs, ctx) => {
  const x = one(inputs);
  const target = intList(inputs[1], 'Reshape shape');
  const allowzero = node.attrInt('allowzero', 0) === 1;
  const dims = resolveReshape(x.dims, target, allowzero);
  return [view(x, dims, ctx)];
};

/** The output dims of Reshape(x, target) for a static input shape (throws when invalid). */
export function resolveReshape(inDims: readonly number[], target: readonly number[], allowzero: boolean): number[] {
  const total = sizeOf(inDims);
  let infer = -1;
  const dims = target.map((d, i) => {
    if (d === 0 && !allowzero) {
      if (i >= inDims.length) throw new CannotFold('invalid', `Reshape target copies dim ${i} (0) but the input has rank ${inDims.length}`);
      return inDims[i];
    }
    if (d === -1) {
      if (infer >= 0) throw new CannotFold('invalid', 'Reshape target has more than one -1');
      infer = i;
      return 1;
    }
    if (d < 0) throw new CannotFold('invalid', `Reshape target has a negative dim ${d}`);
    return d;
  });
  const known = sizeOf(dims);
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) throw new CannotFold('invalid', `cannot infer the -1 of Reshape [${target.join(',')}] for input [${inDims.join(',')}]`);
    dims[infer] = total / known;
  } else if (known !== total) {
    throw new CannotFold('invalid', `Reshape [${target.join(',')}] does not match the ${total} elements of input [${inDims.join(',')}]`);
  }
  return dims;
}

/** Flatten(x, axis) → 2-D. */
const flatten: OpEvaluator = (node, inputs, ctx) => {
  const x = one(inputs);
  const r = x.dims.length;
  let axis = node.attrInt('axis', 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) throw new CannotFold('invalid', `Flatten axis ${axis} out of range for rank ${r}`);
  return [view(x, [sizeOf(x.dims.slice(0, axis)), sizeOf(x.dims.slice(axis))], ctx)];
};

/** Axes from the attribute (older opsets) or the optional second input (opset 13+). */
function axesOf(node: Node, inputs: ReadonlyArray<EvalTensor | null>): number[] | null {
  const attr = node.attrInts('axes');
  if (attr) return attr;
  const t = inputs[1];
  return t ? intList(t, `${node.opType} axes`) : null;
}

/** Squeeze(x, axes?) removes the given size-1 dims (all size-1 dims without axes). */
const squeeze: OpEvaluator = (node, inputs, ctx) => {
  const x = one(inputs);
  const r = x.dims.length;
  const axes = axesOf(node, inputs);
  let drop: Set<number>;
  if (axes) {
    drop = new Set(axes.map((a) => normAxis(a, r, 'Squeeze axis')));
    for (const a of drop) if (x.dims[a] !== 1) throw new CannotFold('invalid', `Squeeze axis ${a} has size ${x.dims[a]}, not 1`);
  } else {
    drop = new Set(x.dims.flatMap((d, i) => (d === 1 ? [i] : [])));
  }
  return [view(x, x.dims.filter((_, i) => !drop.has(i)), ctx)];
};

/** Unsqueeze(x, axes) inserts size-1 dims at the given output positions. */
const unsqueeze: OpEvaluator = (node, inputs, ctx) => {
  const x = one(inputs);
  const axes = axesOf(node, inputs);
  if (!axes) throw new CannotFold('invalid', 'Unsqueeze has no axes');
  const r = x.dims.length + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, r, 'Unsqueeze axis')));
  if (at.size !== axes.length) throw new CannotFold('invalid', `Unsqueeze axes [${axes.join(',')}] repeat`);
  const dims: number[] = [];
  let k = 0;
  for (let i = 0; i < r; i++) dims.push(at.has(i) ? 1 : x.dims[k++]);
  return [view(x, dims, ctx)];
};

/** Identity(x) → x. */
const identity: OpEvaluator = (_node, inputs, ctx) => [view(one(inputs), one(inputs).dims, ctx)];

/** The same data under new dims (no copy), charged to the output budget like any new constant. */
function view(x: EvalTensor, dims: readonly number[], ctx: EvalContext): EvalTensor {
  reserve(ctx, x.dtype, sizeOf(dims));
  return evalTensor(x.dtype, dims, x.data);
}

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const shapeEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [
  ['Shape', shape],
  ['Size', size],
  ['Reshape', reshape],
  ['Flatten', flatten],
  ['Squeeze', squeeze],
  ['Unsqueeze', unsqueeze],
  ['Identity', identity],
];
