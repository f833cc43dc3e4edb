/**
 * Reductions and their relatives: ReduceMean/Sum/Max/Min/Prod/L1/L2/SumSquare/LogSumExp (axes as
 * an attribute before opset 18 — 13 for ReduceSum — and as an input after), ArgMax, ArgMin, TopK,
 * CumSum. ReduceProd/ReduceSum of a known shape vector is evaluated (flattening patterns).
 */
import type { Dim, Shape } from '../ir/shape.ts';
import { dimAdd, dimMul } from '../symbolic.ts';
import { arith, fmt, normalizeAxes, normalizeAxis, passThrough, unknownShape } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema, type TensorData } from './schema.ts';

type ReduceKind = 'Mean' | 'Sum' | 'Max' | 'Min' | 'Prod' | 'L1' | 'L2' | 'SumSquare' | 'LogSumExp';

/** Output shape of a reduction; axes null = all. */
function reducedShape(ctx: InferenceContext, x: Shape, axes: number[] | null, keepdims: boolean): Shape {
  const set = new Set(axes ? normalizeAxes(ctx, axes, x.length) : x.map((_, i) => i));
  const out: Dim[] = [];
  x.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

function reduceData(kind: ReduceKind, data: TensorData | null, keepdims: boolean, all: boolean): TensorData | null {
  if (!data || !all) return null;
  let acc: Dim;
  if (kind === 'Prod') acc = data.values.reduce<Dim>((a, b) => dimMul(a, b), 1);
  else if (kind === 'Sum') acc = data.values.reduce<Dim>((a, b) => dimAdd(a, b), 0);
  else if (kind === 'Max' || kind === 'Min') {
    if (data.values.length === 0) return null;
    const f = arith(kind, data.dtype);
    acc = data.values.slice(1).reduce<Dim>((a, b) => f(a, b), data.values[0]);
  } else return null;
  return { dtype: data.dtype, dims: keepdims ? data.dims.map(() => 1) : [], values: [acc] };
}

function reduceInfer(ctx: InferenceContext, kind: ReduceKind, axesInput: boolean): void {
  const x = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  const keepdims = ctx.attrInt('keepdims') !== 0;
  let axes: number[] | null;
  if (axesInput) {
    if (ctx.hasInput(1)) {
      axes = ctx.inputNumbers(1);
      if (!axes) {
        ctx.note('the axes are not a known constant');
        const as = ctx.inputShape(1);
        const n = as && typeof as[0] === 'number' ? as[0] : null;
        const rank = !x ? null : keepdims ? x.length : n === null ? null : x.length - n;
        return ctx.setOutput(0, dtype, rank === null ? null : unknownShape(rank));
      }
    } else {
      axes = [];
    }
    if (axes.length === 0) {
      if (ctx.attrInt('noop_with_empty_axes') !== 0) return ctx.setOutput(0, dtype, x, ctx.inputData(0));
      axes = null;
    }
  } else {
    axes = ctx.attrInts('axes');
    if (axes && axes.length === 0) axes = null;
  }
  if (!x) return ctx.setOutput(0, dtype, null);
  const data = ctx.inputData(0);
  const all = axes === null || (x.length === 1 && axes.length === 1);
  ctx.setOutput(0, dtype, reducedShape(ctx, x, axes, keepdims), reduceData(kind, data, keepdims, all));
}

const KEEPDIMS: AttrSpec = { type: 'int', default: 1, doc: '1: keep reduced dims as size 1.' };

function reduceFamily(kind: ReduceKind, doc: string, inputSince: number): OpSchema[] {
  const opType = `Reduce${kind}`;
  return [
    defineOp({
      domain: '', opType, since: 1, doc: `${doc} over the given axes (all by default).`,
      inputs: [{ name: 'data' }], outputs: [{ name: 'reduced' }],
      attrs: { axes: { type: 'ints', doc: 'Axes to reduce. Default: all.' }, keepdims: KEEPDIMS },
      inferShape: (ctx) => reduceInfer(ctx, kind, false),
    }),
    defineOp({
      domain: '', opType, since: inputSince, doc: `${doc} over the given axes (all by default).`,
      inputs: [{ name: 'data' }, { name: 'axes', optional: true }], outputs: [{ name: 'reduced' }],
      attrs: {
        keepdims: KEEPDIMS,
        noop_with_empty_axes: { type: 'int', default: 0, doc: '1: empty axes mean no reduction (identity) instead of all.' },
      },
      inferShape: (ctx) => reduceInfer(ctx, kind, true),
    }),
  ];
}

function argInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  if (!x) return ctx.setOutput(0, 'int64', null);
  const axis = normalizeAxis(ctx, ctx.attrInt('axis'), x.length);
  ctx.setOutput(0, 'int64', reducedShape(ctx, x, [axis], ctx.attrInt('keepdims') !== 0));
}

function topkInfer(ctx: InferenceContext, k: Dim): void {
  const x = ctx.inputShape(0);
  let out: Shape | null = null;
  if (x) {
    const axis = normalizeAxis(ctx, ctx.attrInt('axis'), x.length);
    const d = x[axis];
    if (typeof k === 'number' && typeof d === 'number' && k > d) ctx.fail(`k = ${k} is larger than axis ${axis} of ${fmt(x)}`);
    out = x.map((v, i) => (i === axis ? k : v));
  }
  ctx.setOutput(0, ctx.inputDType(0), out);
  ctx.setOutput(1, 'int64', out);
}

const ARG_ATTRS: Record<string, AttrSpec> = {
  axis: { type: 'int', default: 0, doc: 'The axis to search.' },
  keepdims: KEEPDIMS,
  select_last_index: { type: 'int', default: 0, doc: '1: on ties, the last index.' },
};

/** Reduction op schemas. */
export const reduceOps: readonly OpSchema[] = [
  ...reduceFamily('Mean', 'Mean', 18),
  ...reduceFamily('Sum', 'Sum', 13),
  ...reduceFamily('Max', 'Maximum', 18),
  ...reduceFamily('Min', 'Minimum', 18),
  ...reduceFamily('Prod', 'Product', 18),
  ...reduceFamily('L1', 'Sum of absolute values', 18),
  ...reduceFamily('L2', 'Euclidean norm', 18),
  ...reduceFamily('SumSquare', 'Sum of squares', 18),
  ...reduceFamily('LogSumExp', 'log(sum(exp(x)))', 18),
  defineOp({
    domain: '', opType: 'ArgMax', since: 12, doc: 'Index of the maximum along axis (int64).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'reduced' }], attrs: ARG_ATTRS, inferShape: argInfer,
  }),
  defineOp({
    domain: '', opType: 'ArgMin', since: 12, doc: 'Index of the minimum along axis (int64).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'reduced' }], attrs: ARG_ATTRS, inferShape: argInfer,
  }),
  defineOp({
    domain: '', opType: 'ArgMax', since: 1, doc: 'Index of the maximum along axis (int64).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'reduced' }],
    attrs: { axis: ARG_ATTRS.axis, keepdims: KEEPDIMS }, inferShape: argInfer,
  }),
  defineOp({
    domain: '', opType: 'ArgMin', since: 1, doc: 'Index of the minimum along axis (int64).',
    inputs: [{ name: 'data' }], outputs: [{ name: 'reduced' }],
    attrs: { axis: ARG_ATTRS.axis, keepdims: KEEPDIMS }, inferShape: argInfer,
  }),
  defineOp({
    domain: '', opType: 'TopK', since: 1, doc: 'The k largest entries along axis and their indices.',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Values' }, { name: 'Indices' }],
    attrs: { axis: { type: 'int', default: -1, doc: 'Axis to search.' }, k: { type: 'int', required: true, doc: 'Number of entries.' } },
    inferShape: (ctx) => topkInfer(ctx, ctx.attrInt('k')),
  }),
  defineOp({
    domain: '', opType: 'TopK', since: 10, doc: 'The K largest entries along axis and their indices.',
    inputs: [{ name: 'X' }, { name: 'K' }], outputs: [{ name: 'Values' }, { name: 'Indices' }],
    attrs: { axis: { type: 'int', default: -1, doc: 'Axis to search.' } },
    inferShape: (ctx) => topkInfer(ctx, ctx.inputDims(1)?.[0] ?? null),
  }),
  defineOp({
    domain: '', opType: 'TopK', since: 11, doc: 'The K largest (or smallest) entries along axis and their indices.',
    inputs: [{ name: 'X' }, { name: 'K' }], outputs: [{ name: 'Values' }, { name: 'Indices' }],
    attrs: {
      axis: { type: 'int', default: -1, doc: 'Axis to search.' },
      largest: { type: 'int', default: 1, doc: '1: largest entries; 0: smallest.' },
      sorted: { type: 'int', default: 1, doc: '1: results sorted.' },
    },
    inferShape: (ctx) => topkInfer(ctx, ctx.inputDims(1)?.[0] ?? null),
  }),
  defineOp({
    domain: '', opType: 'CumSum', since: 11, doc: 'Cumulative sum along axis.',
    inputs: [{ name: 'x' }, { name: 'axis' }], outputs: [{ name: 'y' }],
    attrs: {
      exclusive: { type: 'int', default: 0, doc: '1: exclude the current element.' },
      reverse: { type: 'int', default: 0, doc: '1: sum from the end.' },
    },
    inferShape(ctx) {
      const r = ctx.inputRank(0);
      const axis = ctx.inputNumbers(1);
      if (r !== null && axis && axis.length === 1) normalizeAxis(ctx, axis[0], r);
      passThrough(ctx);
    },
  }),
];

