/**
 * Layout ops: Concat, Split, Transpose, Expand, Tile, Trilu. Each output element is copied from one
 * input element (Trilu writes zeros outside its triangle); the output size is checked against the
 * budget before anything is allocated, so a huge Expand or Tile is refused, not computed.
 */
import {
  allocate, broadcastDims, broadcastIndex, CannotFold, evalTensor, intList, normAxis, reserve, sizeOf, stridesOf, take,
  type EvalTensor, type NumericArray,
} from './tensor.ts';
import type { OpEvaluator } from './types.ts';

interface Indexable {
  [i: number]: number | bigint;
}

const need = (inputs: ReadonlyArray<EvalTensor | null>, i: number, what: string): EvalTensor => {
  const t = inputs[i];
  if (!t) throw new CannotFold('invalid', `${what} is missing`);
  return t;
};

/** Concat(xs..., axis). */
const concat: OpEvaluator = (node, inputs, ctx) => {
  const xs = inputs.filter((t): t is EvalTensor => !!t);
  if (xs.length === 0) throw new CannotFold('invalid', 'Concat has no inputs');
  const r = xs[0].dims.length;
  const axis = normAxis(node.attrInt('axis', 0), r, 'Concat axis');
  const dtype = xs[0].dtype;
  for (const x of xs) {
    if (x.dtype !== dtype) throw new CannotFold('invalid', `Concat mixes ${dtype} and ${x.dtype}`);
    if (x.dims.length !== r || x.dims.some((d, i) => i !== axis && d !== xs[0].dims[i])) {
      throw new CannotFold('invalid', `Concat inputs [${xs.map((t) => t.dims.join(',')).join('] [')}] do not match outside axis ${axis}`);
    }
  }
  const outDims = xs[0].dims.slice();
  outDims[axis] = xs.reduce((n, x) => n + x.dims[axis], 0);
  const n = sizeOf(outDims);
  reserve(ctx, dtype, n);
  const out = allocate(dtype, n);
  const o = out as unknown as Indexable;
  const outer = sizeOf(outDims.slice(0, axis));
  const inner = sizeOf(outDims.slice(axis + 1));
  let k = 0;
  for (let a = 0; a < outer; a++) {
    for (const x of xs) {
      const chunk = x.dims[axis] * inner;
      const src = x.data as unknown as Indexable;
      const base = a * chunk;
      for (let j = 0; j < chunk; j++) o[k++] = src[base + j];
    }
  }
  return [evalTensor(dtype, outDims, out)];
};

/** Split(x, split?, axis, num_outputs?) — sizes from `split` (attribute before opset 13, input after), else equal parts. */
const split: OpEvaluator = (node, inputs, ctx) => {
  const x = need(inputs, 0, 'Split input');
  const r = x.dims.length;
  const axis = normAxis(node.attrInt('axis', 0), r, 'Split axis');
  const d = x.dims[axis];
  const outputs = node.outputs.length;
  let sizes: number[];
  const attr = node.attrInts('split');
  if (attr) sizes = attr;
  else if (inputs[1]) sizes = intList(inputs[1], 'Split split');
  else {
    const parts = node.attrInt('num_outputs', outputs);
    const chunk = ctx.opset >= 18 ? Math.ceil(d / parts) : d / parts;
    if (!Number.isInteger(chunk)) throw new CannotFold('invalid', `Split of ${d} into ${parts} equal parts`);
    sizes = Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
  }
  if (sizes.length !== outputs || sizes.reduce((a, b) => a + b, 0) !== d || sizes.some((s) => s < 0)) {
    throw new CannotFold('invalid', `Split sizes [${sizes.join(',')}] do not split ${d} into ${outputs} outputs`);
  }
  reserve(ctx, x.dtype, sizeOf(x.dims));
  const outer = sizeOf(x.dims.slice(0, axis));
  const inner = sizeOf(x.dims.slice(axis + 1));
  let offset = 0;
  return sizes.map((s) => {
    const dims = x.dims.slice();
    dims[axis] = s;
    const index = new Int32Array(sizeOf(dims));
    let k = 0;
    for (let a = 0; a < outer; a++) {
      const base = (a * d + offset) * inner;
      for (let j = 0; j < s * inner; j++) index[k++] = base + j;
    }
    offset += s;
    return evalTensor(x.dtype, dims, take(x.dtype, x.data, index));
  });
};

/** Transpose(x, perm) (perm defaults to reversing the dims). */
const transpose: OpEvaluator = (node, inputs, ctx) => {
  const x = need(inputs, 0, 'Transpose input');
  const r = x.dims.length;
  const perm = node.attrInts('perm') ?? Array.from({ length: r }, (_, i) => r - 1 - i);
  if (perm.length !== r || new Set(perm).size !== r || perm.some((p) => p < 0 || p >= r)) {
    throw new CannotFold('invalid', `Transpose perm [${perm.join(',')}] is not a permutation of rank ${r}`);
  }
  const outDims = perm.map((p) => x.dims[p]);
  const n = sizeOf(outDims);
  reserve(ctx, x.dtype, n);
  const inStrides = stridesOf(x.dims);
  const st = perm.map((p) => inStrides[p]);
  return [evalTensor(x.dtype, outDims, take(x.dtype, x.data, walk(outDims, st)))];
};

/** Input offsets of a row-major walk over `dims` with per-axis input strides `st`. */
function walk(dims: readonly number[], st: readonly number[]): Int32Array {
  const n = sizeOf(dims);
  const r = dims.length;
  const index = new Int32Array(n);
  const counter = new Array<number>(r).fill(0);
  let cur = 0;
  for (let k = 0; k < n; k++) {
    index[k] = cur;
    for (let a = r - 1; a >= 0; a--) {
      counter[a]++;
      cur += st[a];
      if (counter[a] < dims[a]) break;
      cur -= st[a] * counter[a];
      counter[a] = 0;
    }
  }
  return index;
}

/** Expand(x, shape): numpy broadcast of x against shape. */
const expand: OpEvaluator = (_node, inputs, ctx) => {
  const x = need(inputs, 0, 'Expand input');
  const shape = intList(inputs[1], 'Expand shape');
  const outDims = broadcastDims([x.dims, shape]);
  reserve(ctx, x.dtype, sizeOf(outDims));
  return [evalTensor(x.dtype, outDims, take(x.dtype, x.data, broadcastIndex(x.dims, outDims)))];
};

/** Tile(x, repeats). */
const tile: OpEvaluator = (_node, inputs, ctx) => {
  const x = need(inputs, 0, 'Tile input');
  const repeats = intList(inputs[1], 'Tile repeats');
  const r = x.dims.length;
  if (repeats.length !== r || repeats.some((k) => k < 0)) throw new CannotFold('invalid', `Tile repeats [${repeats.join(',')}] for rank ${r}`);
  const outDims = x.dims.map((d, i) => d * repeats[i]);
  const n = sizeOf(outDims);
  reserve(ctx, x.dtype, n);
  const inStrides = stridesOf(x.dims);
  const index = new Int32Array(n);
  const counter = new Array<number>(r).fill(0);
  for (let k = 0; k < n; k++) {
    let off = 0;
    for (let a = 0; a < r; a++) off += (counter[a] % x.dims[a]) * inStrides[a];
    index[k] = off;
    for (let a = r - 1; a >= 0; a--) {
      if (++counter[a] < outDims[a]) break;
      counter[a] = 0;
    }
  }
  return [evalTensor(x.dtype, outDims, take(x.dtype, x.data, index))];
};

/** Trilu(x, k?, upper): keeps the upper (j - i ≥ k) or lower (j - i ≤ k) triangle of the last two dims. */
const trilu: OpEvaluator = (node, inputs, ctx) => {
  const x = need(inputs, 0, 'Trilu input');
  const r = x.dims.length;
  if (r < 2) throw new CannotFold('invalid', `Trilu needs rank ≥ 2, got ${r}`);
  const k = inputs[1] ? intList(inputs[1], 'Trilu k')[0] ?? 0 : 0;
  const upper = node.attrInt('upper', 1) === 1;
  const n = sizeOf(x.dims);
  reserve(ctx, x.dtype, n);
  const rows = x.dims[r - 2];
  const cols = x.dims[r - 1];
  const out: NumericArray = allocate(x.dtype, n);
  const o = out as unknown as Indexable;
  const src = x.data as unknown as Indexable;
  for (let idx = 0; idx < n; idx++) {
    const j = idx % cols;
    const i = Math.floor(idx / cols) % rows;
    if (upper ? j - i >= k : j - i <= k) o[idx] = src[idx];
  }
  return [evalTensor(x.dtype, x.dims, out)];
};

/** Op type → evaluator for this family (registered in `evaluator.ts`). */
export const layoutEvaluators: ReadonlyArray<readonly [string, OpEvaluator]> = [
  ['Concat', concat],
  ['Split', split],
  ['Transpose', transpose],
  ['Expand', expand],
  ['Tile', tile],
  ['Trilu', trilu],
];
