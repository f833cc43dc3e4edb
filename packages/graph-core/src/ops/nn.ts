/**
 * Convolution, pooling and resizing: Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool,
 * GlobalMaxPool, Resize, Upsample.
 */
import type { Dim, Shape } from '../ir/shape.ts';
import { dimAdd, dimFloorDiv, dimMul, dimSub } from '../symbolic.ts';
import { fmt, normalizeAxes, unifyDim, unknownShape } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema } from './schema.ts';

interface WindowAttrs {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  autoPad: string;
}

function windowAttrs(ctx: InferenceContext, n: number, kernel: number[] | null): WindowAttrs | null {
  if (!kernel) return null;
  if (kernel.length !== n) ctx.fail(`kernel_shape has ${kernel.length} entries for ${n} spatial dims`);
  const strides = ctx.attrInts('strides') ?? new Array<number>(n).fill(1);
  const dilations = ctx.attrInts('dilations') ?? new Array<number>(n).fill(1);
  const pads = ctx.attrInts('pads') ?? new Array<number>(2 * n).fill(0);
  if (strides.length !== n) ctx.fail(`strides has ${strides.length} entries for ${n} spatial dims`);
  if (dilations.length !== n) ctx.fail(`dilations has ${dilations.length} entries for ${n} spatial dims`);
  if (pads.length !== 2 * n) ctx.fail(`pads has ${pads.length} entries; ${2 * n} expected`);
  if (strides.some((s) => s <= 0)) ctx.fail(`strides [${strides.join(',')}] must be positive`);
  return { kernel, strides, dilations, pads, autoPad: ctx.attrString('auto_pad') };
}

/** Output length of a sliding window along one spatial dim (Conv and pooling). */
function windowOut(ctx: InferenceContext, input: Dim, w: WindowAttrs, i: number, ceilMode: boolean): Dim {
  const n = w.kernel.length;
  const s = w.strides[i];
  const ext = (w.kernel[i] - 1) * w.dilations[i] + 1;
  if (w.autoPad === 'SAME_UPPER' || w.autoPad === 'SAME_LOWER') {
    return typeof input === 'number' ? Math.ceil(input / s) : s === 1 ? input : null;
  }
  const pb = w.autoPad === 'VALID' ? 0 : w.pads[i];
  const pe = w.autoPad === 'VALID' ? 0 : w.pads[i + n];
  if (typeof input === 'number') {
    const span = input + pb + pe - ext;
    if (span < 0) ctx.fail(`the window (extent ${ext}) is larger than the padded input (${input + pb + pe}) on spatial dim ${i}`);
    let out = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
    if (ceilMode && (out - 1) * s >= input + pb) out--;
    return out;
  }
  const span = dimSub(dimAdd(input, pb + pe), ext);
  if (s === 1) return dimAdd(span, 1);
  return ceilMode ? null : dimAdd(dimFloorDiv(span, s), 1);
}

function convInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  const w = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  if (!x) return ctx.setOutput(0, dtype, null);
  if (x.length < 3) ctx.fail(`X ${fmt(x)} must have rank >= 3 (N, C, spatial...)`);
  const n = x.length - 2;
  if (w && w.length !== x.length) ctx.fail(`W ${fmt(w)} must have the rank of X ${fmt(x)}`);
  const group = ctx.attrInt('group');
  if (w && typeof w[1] === 'number' && typeof x[1] === 'number' && w[1] * group !== x[1]) {
    ctx.fail(`X has ${x[1]} channels but W ${fmt(w)} with group=${group} expects ${w[1] * group}`);
  }
  const kernel = ctx.attrInts('kernel_shape') ?? (w ? staticOrNull(w.slice(2)) : null);
  const attrs = windowAttrs(ctx, n, kernel);
  const out: Dim[] = [x[0], w ? w[0] : null];
  for (let i = 0; i < n; i++) out.push(attrs ? windowOut(ctx, x[i + 2], attrs, i, false) : null);
  ctx.setOutput(0, dtype, out);
}

function convTransposeInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  const w = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  if (!x) return ctx.setOutput(0, dtype, null);
  if (x.length < 3) ctx.fail(`X ${fmt(x)} must have rank >= 3 (N, C, spatial...)`);
  const n = x.length - 2;
  const group = ctx.attrInt('group');
  if (w && unifyDim(w[0], x[1]) === undefined) ctx.fail(`X has ${x[1]} channels but W ${fmt(w)} expects ${w[0]}`);
  const channels = w ? dimMul(w[1], group) : null;
  const outputShape = ctx.attrInts('output_shape');
  if (outputShape) {
    const spatial = outputShape.slice(outputShape.length - n);
    return ctx.setOutput(0, dtype, [x[0], channels, ...spatial]);
  }
  const kernel = ctx.attrInts('kernel_shape') ?? (w ? staticOrNull(w.slice(2)) : null);
  const attrs = windowAttrs(ctx, n, kernel);
  const outputPadding = ctx.attrInts('output_padding') ?? new Array<number>(n).fill(0);
  const out: Dim[] = [x[0], channels];
  for (let i = 0; i < n; i++) {
    if (!attrs) {
      out.push(null);
      continue;
    }
    const s = attrs.strides[i];
    const input = x[i + 2];
    if (attrs.autoPad === 'SAME_UPPER' || attrs.autoPad === 'SAME_LOWER') {
      out.push(dimMul(input, s));
      continue;
    }
    const ext = (attrs.kernel[i] - 1) * attrs.dilations[i] + 1;
    const pads = attrs.autoPad === 'VALID' ? 0 : attrs.pads[i] + attrs.pads[i + n];
    out.push(dimAdd(dimMul(dimSub(input, 1), s), outputPadding[i] + ext - pads));
  }
  ctx.setOutput(0, dtype, out);
}

function staticOrNull(dims: readonly Dim[]): number[] | null {
  return dims.every((d): d is number => typeof d === 'number') ? (dims as number[]) : null;
}

function poolInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  let out: Shape | null = null;
  if (x) {
    if (x.length < 3) ctx.fail(`X ${fmt(x)} must have rank >= 3 (N, C, spatial...)`);
    const n = x.length - 2;
    const attrs = windowAttrs(ctx, n, ctx.attrInts('kernel_shape'));
    const ceilMode = ctx.hasAttr('ceil_mode') && ctx.attrInt('ceil_mode') !== 0;
    out = [x[0], x[1], ...x.slice(2).map((d, i) => (attrs ? windowOut(ctx, d, attrs, i, ceilMode) : null))];
  }
  ctx.setOutput(0, dtype, out);
  if (ctx.outputCount > 1 && ctx.hasOutput(1)) ctx.setOutput(1, 'int64', out);
}

function globalPoolInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  if (x && x.length < 3) ctx.fail(`X ${fmt(x)} must have rank >= 3 (N, C, spatial...)`);
  ctx.setOutput(0, ctx.inputDType(0), x ? [x[0], x[1], ...x.slice(2).map(() => 1)] : null);
}

/** Resize/Upsample output dims from scales or sizes over `axes` (all by default). */
function resizeInfer(ctx: InferenceContext, scalesIndex: number, sizesIndex: number): void {
  const x = ctx.inputShape(0);
  const dtype = ctx.inputDType(0);
  if (!x) return ctx.setOutput(0, dtype, null);
  const r = x.length;
  const axes = ctx.hasAttr('axes') ? normalizeAxes(ctx, ctx.attrInts('axes') ?? [], r) : Array.from({ length: r }, (_, i) => i);
  const isEmpty = (i: number): boolean => {
    if (i < 0 || !ctx.hasInput(i)) return true;
    const s = ctx.inputShape(i);
    return !!s && s.length === 1 && s[0] === 0;
  };
  const out: Dim[] = x.slice();
  if (!isEmpty(sizesIndex)) {
    const sizes = ctx.inputDims(sizesIndex);
    if (!sizes) {
      ctx.note('the sizes are not a known constant');
      return ctx.setOutput(0, dtype, unknownShape(r));
    }
    if (sizes.length !== axes.length) ctx.fail(`sizes has ${sizes.length} entries for ${axes.length} axes`);
    const policy = ctx.hasAttr('keep_aspect_ratio_policy') ? ctx.attrString('keep_aspect_ratio_policy') : 'stretch';
    if (policy === 'stretch') {
      axes.forEach((a, k) => (out[a] = sizes[k]));
    } else {
      const ratios = axes.map((a, k) => {
        const s = sizes[k];
        const d = x[a];
        return typeof s === 'number' && typeof d === 'number' ? s / d : null;
      });
      if (ratios.some((q) => q === null)) axes.forEach((a) => (out[a] = null));
      else {
        const scale = policy === 'not_larger' ? Math.min(...(ratios as number[])) : Math.max(...(ratios as number[]));
        axes.forEach((a) => (out[a] = Math.floor((x[a] as number) * scale + 0.5)));
      }
    }
    return ctx.setOutput(0, dtype, out);
  }
  if (!isEmpty(scalesIndex)) {
    const scales = ctx.inputNumbers(scalesIndex);
    if (!scales) {
      ctx.note('the scales are not a known constant');
      return ctx.setOutput(0, dtype, unknownShape(r));
    }
    if (scales.length !== axes.length) ctx.fail(`scales has ${scales.length} entries for ${axes.length} axes`);
    axes.forEach((a, k) => (out[a] = scaleDim(x[a], scales[k])));
    return ctx.setOutput(0, dtype, out);
  }
  ctx.fail('needs either scales or sizes');
}

function scaleDim(d: Dim, scale: number): Dim {
  if (typeof d === 'number') return Math.floor(d * scale);
  if (Number.isInteger(scale)) return dimMul(d, scale);
  return null;
}

const COUNT_INCLUDE_PAD: AttrSpec = { type: 'int', default: 0, doc: '1: padded elements count in the divisor.' };
const AUTO_PAD: AttrSpec = { type: 'string', default: 'NOTSET', doc: "'NOTSET' (use pads), 'SAME_UPPER', 'SAME_LOWER' or 'VALID'." };
const DILATIONS: AttrSpec = { type: 'ints', doc: 'Dilation per spatial axis. Default: 1s.' };
const KERNEL_SHAPE: AttrSpec = { type: 'ints', doc: 'Kernel size per spatial axis. Default: from W.' };
const PADS: AttrSpec = { type: 'ints', doc: 'Begin pads of each spatial axis, then end pads. Default: 0s.' };
const STRIDES: AttrSpec = { type: 'ints', doc: 'Stride per spatial axis. Default: 1s.' };
const CEIL_MODE: AttrSpec = { type: 'int', default: 0, doc: '1: round output sizes up instead of down.' };
const POOL_KERNEL: AttrSpec = { type: 'ints', required: true, doc: 'Window size per spatial axis.' };

const RESIZE_ATTRS_11: Record<string, AttrSpec> = {
  coordinate_transformation_mode: { type: 'string', default: 'half_pixel', doc: 'How output coordinates map to input coordinates.' },
  cubic_coeff_a: { type: 'float', default: -0.75, doc: 'Cubic interpolation coefficient.' },
  exclude_outside: { type: 'int', default: 0, doc: '1: weights outside the input are zeroed and renormalized.' },
  extrapolation_value: { type: 'float', default: 0, doc: 'Value outside the input for tf_crop_and_resize.' },
  mode: { type: 'string', default: 'nearest', doc: "'nearest', 'linear' or 'cubic'." },
  nearest_mode: { type: 'string', default: 'round_prefer_floor', doc: 'Rounding for nearest mode.' },
};

/** Convolution, pooling and resize op schemas. */
export const nnOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'Conv', since: 1, doc: 'N-D convolution of X [N, C, ...] with W [M, C/group, k...], plus optional bias B [M].',
    inputs: [{ name: 'X' }, { name: 'W' }, { name: 'B', optional: true }], outputs: [{ name: 'Y' }],
    attrs: { auto_pad: AUTO_PAD, dilations: DILATIONS, group: { type: 'int', default: 1, doc: 'Number of channel groups.' }, kernel_shape: KERNEL_SHAPE, pads: PADS, strides: STRIDES },
    inferShape: convInfer,
  }),
  defineOp({
    domain: '', opType: 'ConvTranspose', since: 1, doc: 'N-D transposed convolution of X [N, C, ...] with W [C, M/group, k...].',
    inputs: [{ name: 'X' }, { name: 'W' }, { name: 'B', optional: true }], outputs: [{ name: 'Y' }],
    attrs: {
      auto_pad: AUTO_PAD, dilations: DILATIONS, group: { type: 'int', default: 1, doc: 'Number of channel groups.' }, kernel_shape: KERNEL_SHAPE,
      output_padding: { type: 'ints', doc: 'Extra size added to one side of each spatial output dim.' },
      output_shape: { type: 'ints', doc: 'Explicit output spatial shape (pads are then computed).' },
      pads: PADS, strides: STRIDES,
    },
    inferShape: convTransposeInfer,
  }),
  defineOp({
    domain: '', opType: 'MaxPool', since: 10, doc: 'Max over sliding windows; optional flat Indices of the maxima.',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }, { name: 'Indices', optional: true }],
    attrs: {
      auto_pad: AUTO_PAD, ceil_mode: CEIL_MODE, dilations: DILATIONS, kernel_shape: POOL_KERNEL, pads: PADS,
      storage_order: { type: 'int', default: 0, doc: 'Indices order: 0 row major, 1 column major.' }, strides: STRIDES,
    },
    inferShape: poolInfer,
  }),
  defineOp({
    domain: '', opType: 'MaxPool', since: 8, doc: 'Max over sliding windows; optional flat Indices of the maxima.',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }, { name: 'Indices', optional: true }],
    attrs: {
      auto_pad: AUTO_PAD, kernel_shape: POOL_KERNEL, pads: PADS,
      storage_order: { type: 'int', default: 0, doc: 'Indices order: 0 row major, 1 column major.' }, strides: STRIDES,
    },
    inferShape: poolInfer,
  }),
  defineOp({
    domain: '', opType: 'AveragePool', since: 19, doc: 'Average over sliding windows.',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }],
    attrs: {
      auto_pad: AUTO_PAD, ceil_mode: CEIL_MODE,
      count_include_pad: COUNT_INCLUDE_PAD,
      dilations: DILATIONS, kernel_shape: POOL_KERNEL, pads: PADS, strides: STRIDES,
    },
    inferShape: poolInfer,
  }),
  defineOp({
    domain: '', opType: 'AveragePool', since: 10, doc: 'Average over sliding windows.',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }],
    attrs: {
      auto_pad: AUTO_PAD, ceil_mode: CEIL_MODE,
      count_include_pad: COUNT_INCLUDE_PAD,
      kernel_shape: POOL_KERNEL, pads: PADS, strides: STRIDES,
    },
    inferShape: poolInfer,
  }),
  defineOp({
    domain: '', opType: 'GlobalAveragePool', since: 1, doc: 'Average over all spatial dims: [N, C, 1, ...].',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }], inferShape: globalPoolInfer,
  }),
  defineOp({
    domain: '', opType: 'GlobalMaxPool', since: 1, doc: 'Max over all spatial dims: [N, C, 1, ...].',
    inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }], inferShape: globalPoolInfer,
  }),
  defineOp({
    domain: '', opType: 'Resize', since: 11, doc: 'Resizes X to sizes, or by scales (floor(dim * scale)).',
    inputs: [{ name: 'X' }, { name: 'roi' }, { name: 'scales' }, { name: 'sizes', optional: true }], outputs: [{ name: 'Y' }],
    attrs: RESIZE_ATTRS_11,
    inferShape: (ctx) => resizeInfer(ctx, 2, 3),
  }),
  defineOp({
    domain: '', opType: 'Resize', since: 13, doc: 'Resizes X to sizes, or by scales (floor(dim * scale)).',
    inputs: [{ name: 'X' }, { name: 'roi', optional: true }, { name: 'scales', optional: true }, { name: 'sizes', optional: true }], outputs: [{ name: 'Y' }],
    attrs: RESIZE_ATTRS_11,
    inferShape: (ctx) => resizeInfer(ctx, 2, 3),
  }),
  defineOp({
    domain: '', opType: 'Resize', since: 18, doc: 'Resizes X (on the given axes) to sizes, or by scales (floor(dim * scale)).',
    inputs: [{ name: 'X' }, { name: 'roi', optional: true }, { name: 'scales', optional: true }, { name: 'sizes', optional: true }], outputs: [{ name: 'Y' }],
    attrs: {
      ...RESIZE_ATTRS_11,
      antialias: { type: 'int', default: 0, doc: '1: antialiasing filter when downsampling.' },
      axes: { type: 'ints', doc: 'Axes that scales/sizes refer to. Default: all.' },
      keep_aspect_ratio_policy: { type: 'string', default: 'stretch', doc: "With sizes: 'stretch', 'not_larger' or 'not_smaller'." },
    },
    inferShape: (ctx) => resizeInfer(ctx, 2, 3),
  }),
  defineOp({
    domain: '', opType: 'Resize', since: 10, doc: 'Resizes X by scales (floor(dim * scale)).',
    inputs: [{ name: 'X' }, { name: 'scales' }], outputs: [{ name: 'Y' }],
    attrs: { mode: { type: 'string', default: 'nearest', doc: "'nearest' or 'linear'." } },
    inferShape: (ctx) => resizeInfer(ctx, 1, -1),
  }),
  defineOp({
    domain: '', opType: 'Upsample', since: 9, doc: 'Deprecated: resizes X by scales (floor(dim * scale)).',
    inputs: [{ name: 'X' }, { name: 'scales' }], outputs: [{ name: 'Y' }],
    attrs: { mode: { type: 'string', default: 'nearest', doc: "'nearest' or 'linear'." } },
    inferShape: (ctx) => resizeInfer(ctx, 1, -1),
  }),
];
