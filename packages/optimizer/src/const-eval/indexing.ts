/**
 * Indexing ops: Gather and Slice. Both copy only the selected elements, so gathering a few rows of a
 * large table reads those rows and nothing else.
 */
import { CannotFold, evalTensor, intList, normAxis, reserve, sizeOf, stridesOf, take, type EvalTensor } from './tensor.ts';
import type { OpEvaluator } from './types.ts';

const need = (inputs: ReadonlyArray<EvalTensor | null>, i: number, what: string): EvalTensor => {
  const t = inputs[i];
  if (!t) throw new CannotFold('invalid', `${what} is missing`);
  return t;
};

/** Gather(data, indices, axis): out = data.dims[:axis] + indices.dims + data.dims[axis+1:]. */
const gather: OpEvaluator = (node, inputs, ctx) => {
  const data = need(inputs, 0, 'Gather data');
  const indicesT = need(inputs, 1, 'Gather indices');
  const r = data.dims.length;
  const axis = normAxis(node.attrInt('axis', 0), r, 'Gather axis');
  const dim = data.dims[axis];
  const indices = intList(indicesT, 'Gather indices').map((i) => {
    const k = i < 0 ? i + dim : i;
    if (k < 0 || k >= dim) throw new CannotFold('invalid', `Gather index ${i} is out of range for axis ${axis} of size ${dim}`);
    return k;
  });
  const outer = sizeOf(data.dims.slice(0, axis));
  const inner = sizeOf(data.dims.slice(axis + 1));
  const outDims = [...data.dims.slice(0, axis), ...indicesT.dims, ...data.dims.slice(axis + 1)];
  const n = sizeOf(outDims);
  reserve(ctx, data.dtype, n);
  const index = new Int32Array(n);
  let o = 0;
  for (let a = 0; a < outer; a++) {
    for (const k of indices) {
      const base = (a * dim + k) * inner;
      for (let j = 0; j < inner; j++) index[o++] = base + j;
    }
  }
  return [evalTensor(data.dtype, outDims, take(data.dtype, data.data, index))];
};

/** One axis of a slice, normalized: the first index, the step and the count. */
export interface SliceAxis {
  axis: number;
  start: number;
  step: number;
  count: number;
}

/**
 * Normalizes Slice bounds for a static input shape (ONNX clamping rules: negative bounds count
 * from the end, starts/ends clamp into range, the direction follows the step).
 */
export function sliceAxes(dims: readonly number[], starts: readonly number[], ends: readonly number[], axes: readonly number[] | null, steps: readonly number[] | null): SliceAxis[] {
  const r = dims.length;
  if (starts.length !== ends.length) throw new CannotFold('invalid', `Slice has ${starts.length} starts but ${ends.length} ends`);
  const ax = axes ?? starts.map((_, i) => i);
  if (ax.length !== starts.length || (steps && steps.length !== starts.length)) throw new CannotFold('invalid', 'Slice starts/ends/axes/steps lengths differ');
  const seen = new Set<number>();
  return ax.map((a, i) => {
    const axis = normAxis(a, r, 'Slice axis');
    if (seen.has(axis)) throw new CannotFold('invalid', `Slice axis ${axis} repeats`);
    seen.add(axis);
    const d = dims[axis];
    const step = steps ? steps[i] : 1;
    if (step === 0) throw new CannotFold('invalid', 'Slice step is 0');
    let s = starts[i];
    let e = ends[i];
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
    } else {
      s = Math.min(Math.max(s, 0), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
    }
    const count = Math.max(0, Math.ceil((e - s) / step));
    return { axis, start: s, step, count };
  });
}

/** Slice(data, starts, ends, axes?, steps?) (opset 10+), or with attributes (opset 1–9). */
const slice: OpEvaluator = (node, inputs, ctx) => {
  const data = need(inputs, 0, 'Slice data');
  let starts: number[];
  let ends: number[];
  let axes: number[] | null;
  let steps: number[] | null = null;
  if (ctx.opset < 10) {
    starts = node.attrInts('starts') ?? [];
    ends = node.attrInts('ends') ?? [];
    axes = node.attrInts('axes') ?? null;
  } else {
    starts = intList(inputs[1], 'Slice starts');
    ends = intList(inputs[2], 'Slice ends');
    axes = inputs[3] ? intList(inputs[3], 'Slice axes') : null;
    steps = inputs[4] ? intList(inputs[4], 'Slice steps') : null;
  }
  const r = data.dims.length;
  const spec = sliceAxes(data.dims, starts, ends, axes, steps);
  const start = new Array<number>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  const outDims = data.dims.slice();
  for (const s of spec) {
    start[s.axis] = s.start;
    step[s.axis] = s.step;
    outDims[s.axis] = s.count;
  }
  const n = sizeOf(outDims);
  reserve(ctx, data.dtype, n);
  const inStrides = stridesOf(data.dims);
  const index = new Int32Array(n);
  if (n > 0) {
    const counter = new Array<number>(r).fill(0);
    let base = 0;
    for (let a = 0; a < r; a++) base += start[a] * inStrides[a];
    let cur = base;
    for (let k = 0; k < n; k++) {
      index[k] = cur;
      for (let a = r - 1; a >= 0; a--) {
        counter[a]++;
        cur += step[a] * inStrides[a];
        if (counter[a] < outDims[a]) break;
        cur -= step[a] * inStrides[a] * counter[a];
        counter[a] = 0;
      }
    }
  }
  return [evalTensor(data.dtype, outDims, take(data.dtype, data.data, index))];
};

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const indexingEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [
  ['Gather', gather],
  ['Slice', slice],
];
