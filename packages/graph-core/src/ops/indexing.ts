/**
 * Indexing ops: Gather (with data propagation: `Gather(Shape(x), 1)` is how exports read a dim),
 * GatherElements, GatherND, ScatterND, ScatterElements, NonZero, OneHot.
 */
import type { Dim } from '../ir/shape.ts';
import { count, fmt, MAX_DATA_ELEMENTS, normalizeAxis, passThrough } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema, type TensorData } from './schema.ts';

function gatherInfer(ctx: InferenceContext): void {
  const data = ctx.inputShape(0);
  const indices = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  if (!data || !indices) {
    ctx.setOutput(0, dtype, null);
    return;
  }
  if (data.length === 0) ctx.fail('cannot gather from a scalar');
  const axis = normalizeAxis(ctx, ctx.attrInt('axis'), data.length);
  const out: Dim[] = [...data.slice(0, axis), ...indices, ...data.slice(axis + 1)];
  const n = data[axis];
  const idx = ctx.inputNumbers(1);
  if (idx && typeof n === 'number') {
    for (const i of idx) if (i < -n || i >= n) ctx.fail(`index ${i} is out of range for axis ${axis} of ${fmt(data)} (size ${n})`);
  }
  const known = ctx.inputData(0);
  const idxData = ctx.inputData(1);
  let outData: TensorData | null = null;
  if (known && idx && idxData) {
    const size = known.dims[axis];
    const outer = count(known.dims.slice(0, axis));
    const inner = count(known.dims.slice(axis + 1));
    if (outer * idx.length * inner <= MAX_DATA_ELEMENTS) {
      const values: Dim[] = [];
      for (let o = 0; o < outer; o++) {
        for (const raw of idx) {
          const k = raw < 0 ? raw + size : raw;
          for (let i = 0; i < inner; i++) values.push(known.values[(o * size + k) * inner + i] ?? null);
        }
      }
      outData = { dtype: known.dtype, dims: [...known.dims.slice(0, axis), ...idxData.dims, ...known.dims.slice(axis + 1)], values };
    }
  }
  ctx.setOutput(0, dtype, out, outData);
}

function gatherNDInfer(ctx: InferenceContext): void {
  const data = ctx.inputShape(0);
  const indices = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  const b = ctx.attrIntOr('batch_dims', 0);
  if (!data || !indices) return ctx.setOutput(0, dtype, null);
  if (indices.length < 1) ctx.fail('indices must have rank >= 1');
  const k = indices[indices.length - 1];
  if (typeof k !== 'number') {
    ctx.note('the last dim of indices is not static');
    return ctx.setOutput(0, dtype, null);
  }
  if (b + k > data.length) ctx.fail(`batch_dims ${b} + index depth ${k} exceeds the data rank ${data.length}`);
  ctx.setOutput(0, dtype, [...indices.slice(0, -1), ...data.slice(b + k)]);
}

const REDUCTION: AttrSpec = { type: 'string', default: 'none', doc: "How updates combine with data: 'none', 'add', 'mul', 'max', 'min'." };

function scatter(opType: 'ScatterND' | 'ScatterElements', since: number, doc: string, attrs: Record<string, AttrSpec>): OpSchema {
  return defineOp({
    domain: '', opType, since, doc,
    inputs: [{ name: 'data' }, { name: 'indices' }, { name: 'updates' }], outputs: [{ name: 'output' }],
    attrs,
    inferShape: (ctx) => passThrough(ctx),
  });
}

const SCATTER_AXIS: AttrSpec = { type: 'int', default: 0, doc: 'The axis indices refer to.' };

/** Indexing op schemas. */
export const indexingOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'Gather', since: 1, doc: 'Takes entries of data along axis at the given indices (negative indices count from the end).',
    inputs: [{ name: 'data' }, { name: 'indices' }], outputs: [{ name: 'output' }],
    attrs: { axis: { type: 'int', default: 0, doc: 'The axis to gather along; negative counts from the back.' } },
    inferShape: gatherInfer,
  }),
  defineOp({
    domain: '', opType: 'GatherElements', since: 11, doc: 'Takes data entries along axis at per-element indices; output has the shape of indices.',
    inputs: [{ name: 'data' }, { name: 'indices' }], outputs: [{ name: 'output' }],
    attrs: { axis: { type: 'int', default: 0, doc: 'The axis indices refer to.' } },
    inferShape(ctx) {
      const d = ctx.inputShape(0);
      const i = ctx.inputShape(1);
      if (d && i && d.length !== i.length) ctx.fail(`data ${fmt(d)} and indices ${fmt(i)} must have the same rank`);
      if (d) normalizeAxis(ctx, ctx.attrInt('axis'), d.length);
      ctx.setOutput(0, ctx.inputDType(0), i);
    },
  }),
  defineOp({
    domain: '', opType: 'GatherND', since: 11, doc: 'Gathers slices of data addressed by the last dim of indices.',
    inputs: [{ name: 'data' }, { name: 'indices' }], outputs: [{ name: 'output' }],
    inferShape: gatherNDInfer,
  }),
  defineOp({
    domain: '', opType: 'GatherND', since: 12, doc: 'Gathers slices of data addressed by the last dim of indices, after batch_dims shared dims.',
    inputs: [{ name: 'data' }, { name: 'indices' }], outputs: [{ name: 'output' }],
    attrs: { batch_dims: { type: 'int', default: 0, doc: 'Number of leading dims shared by data and indices.' } },
    inferShape: gatherNDInfer,
  }),
  scatter('ScatterND', 11, 'Copies data, then writes updates at the index tuples in indices.', {}),
  scatter('ScatterND', 16, 'Copies data, then writes (or reduces) updates at the index tuples in indices.', { reduction: REDUCTION }),
  scatter('ScatterElements', 11, 'Copies data, then writes updates at per-element indices along axis.', { axis: SCATTER_AXIS }),
  scatter('ScatterElements', 16, 'Copies data, then writes (or reduces) updates at per-element indices along axis.', { axis: SCATTER_AXIS, reduction: REDUCTION }),
  defineOp({
    domain: '', opType: 'NonZero', since: 9, doc: 'Indices of the non-zero elements, as [rank, count] int64.',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }],
    inferShape(ctx) {
      const r = ctx.inputRank(0);
      ctx.note('the number of non-zero elements depends on the data');
      ctx.setOutput(0, 'int64', [r, null]);
    },
  }),
  defineOp({
    domain: '', opType: 'OneHot', since: 9, doc: 'One-hot encodes indices with depth classes, inserting the class dim at axis.',
    inputs: [{ name: 'indices' }, { name: 'depth' }, { name: 'values' }], outputs: [{ name: 'output' }],
    attrs: { axis: { type: 'int', default: -1, doc: 'Where the new dim goes; negative counts from the back of the output.' } },
    inferShape(ctx) {
      const s = ctx.inputShape(0);
      const dtype = ctx.inputDType(2);
      if (!s) return ctx.setOutput(0, dtype, null);
      const depth = ctx.inputNumbers(1);
      const axis = normalizeAxis(ctx, ctx.attrInt('axis'), s.length + 1);
      const out: Dim[] = s.slice();
      out.splice(axis, 0, depth ? Math.trunc(depth[0]) : null);
      ctx.setOutput(0, dtype, out);
    },
  }),
];
