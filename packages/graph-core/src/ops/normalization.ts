/**
 * Normalization ops of the default domain: LayerNormalization, SimplifiedLayerNormalization
 * (onnxruntime's RMS norm, registered in the ONNX domain), RMSNormalization (opset 23),
 * BatchNormalization, InstanceNormalization, GroupNormalization.
 */
import { dtypeFromOnnx, type DType } from '../ir/dtype.ts';
import type { Dim, Shape } from '../ir/shape.ts';
import { fmt, normalizeAxis, passThrough } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema } from './schema.ts';

/** Shape of the saved statistics: X's dims before axis, 1 from axis on. */
export function statsShape(ctx: InferenceContext, x: Shape | null, axisAttr: number): Shape | null {
  if (!x) return null;
  const axis = normalizeAxis(ctx, axisAttr, x.length);
  return x.map((d, i): Dim => (i < axis ? d : 1));
}

function stashType(ctx: InferenceContext): DType {
  return dtypeFromOnnx(ctx.attrInt('stash_type')) ?? 'float32';
}

/** Checks that a per-feature parameter (scale, bias) matches the normalized dims of X. */
function checkParam(ctx: InferenceContext, index: number, x: Shape | null, axisAttr: number, name: string): void {
  const p = ctx.inputShape(index);
  if (!p || !x) return;
  const axis = normalizeAxis(ctx, axisAttr, x.length);
  const normalized = x.slice(axis);
  if (p.length > normalized.length) ctx.fail(`${name} ${fmt(p)} has more dims than the normalized part ${fmt(normalized)} of X ${fmt(x)}`);
  for (let i = 1; i <= p.length; i++) {
    const a = p[p.length - i];
    const b = normalized[normalized.length - i];
    if (typeof a === 'number' && typeof b === 'number' && a !== b && a !== 1) {
      ctx.fail(`${name} ${fmt(p)} does not match the normalized dims ${fmt(normalized)} of X ${fmt(x)}`);
    }
  }
}

function layerNormInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  const axis = ctx.attrInt('axis');
  checkParam(ctx, 1, x, axis, 'Scale');
  if (ctx.hasInput(2)) checkParam(ctx, 2, x, axis, 'B');
  ctx.setOutput(0, ctx.inputDType(0) ?? ctx.inputDType(1), x);
  const stats = statsShape(ctx, x, axis);
  if (ctx.hasOutput(1)) ctx.setOutput(1, stashType(ctx), stats);
  if (ctx.hasOutput(2)) ctx.setOutput(2, stashType(ctx), stats);
}

function simplifiedInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  const axis = ctx.attrInt('axis');
  checkParam(ctx, 1, x, axis, 'scale');
  ctx.setOutput(0, ctx.inputDType(1) ?? ctx.inputDType(0), x);
  if (ctx.hasOutput(1)) ctx.setOutput(1, stashType(ctx), statsShape(ctx, x, axis));
}

const EPSILON: AttrSpec = { type: 'float', default: 9.999999747378752e-6, doc: 'Added to the variance to avoid division by zero.' };
const LN_ATTRS: Record<string, AttrSpec> = {
  axis: { type: 'int', default: -1, doc: 'First normalized dim; normalization runs over dims axis..rank-1.' },
  epsilon: EPSILON,
  stash_type: { type: 'int', default: 1, doc: 'Element type of the saved statistics and of the computation (1: float32).' },
};

function channelCheck(ctx: InferenceContext, x: Shape | null, index: number, name: string): void {
  const p = ctx.inputShape(index);
  if (!x || !p || x.length < 2) return;
  if (p.length !== 1) ctx.fail(`${name} ${fmt(p)} must be 1-D`);
  if (typeof p[0] === 'number' && typeof x[1] === 'number' && p[0] !== x[1]) ctx.fail(`${name} ${fmt(p)} does not match the ${x[1]} channels of X ${fmt(x)}`);
}

/** Normalization op schemas of the default domain. */
export const normalizationOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'LayerNormalization', since: 1,
    doc: 'Normalizes over dims axis.. to zero mean and unit variance, then scales and shifts (ONNX since 17; onnxruntime accepts it at any opset).',
    inputs: [{ name: 'X' }, { name: 'Scale' }, { name: 'B', optional: true }],
    outputs: [{ name: 'Y' }, { name: 'Mean', optional: true }, { name: 'InvStdDev', optional: true }],
    attrs: LN_ATTRS,
    inferShape: layerNormInfer,
  }),
  defineOp({
    domain: '', opType: 'SimplifiedLayerNormalization', since: 1,
    doc: 'RMS normalization over dims axis.. (no mean subtraction), then scale (onnxruntime op in the ONNX domain).',
    inputs: [{ name: 'X' }, { name: 'scale' }], outputs: [{ name: 'Y' }, { name: 'inv_std_var', optional: true }],
    attrs: LN_ATTRS,
    inferShape: simplifiedInfer,
  }),
  defineOp({
    domain: '', opType: 'RMSNormalization', since: 23, doc: 'RMS normalization over dims axis.., then scale.',
    inputs: [{ name: 'X' }, { name: 'scale' }], outputs: [{ name: 'Y' }],
    attrs: LN_ATTRS,
    inferShape(ctx) {
      checkParam(ctx, 1, ctx.inputShape(0), ctx.attrInt('axis'), 'scale');
      passThrough(ctx);
    },
  }),
  defineOp({
    domain: '', opType: 'BatchNormalization', since: 14, doc: 'Normalizes each channel with running (inference) or batch (training) statistics.',
    inputs: [{ name: 'X' }, { name: 'scale' }, { name: 'B' }, { name: 'input_mean' }, { name: 'input_var' }],
    outputs: [{ name: 'Y' }, { name: 'running_mean', optional: true }, { name: 'running_var', optional: true }],
    attrs: {
      epsilon: EPSILON,
      momentum: { type: 'float', default: 0.8999999761581421, doc: 'Running statistics update factor (training).' },
      training_mode: { type: 'int', default: 0, doc: '1: use and update batch statistics.' },
    },
    inferShape(ctx) {
      const x = ctx.inputShape(0);
      for (const [i, n] of [[1, 'scale'], [2, 'B'], [3, 'input_mean'], [4, 'input_var']] as const) channelCheck(ctx, x, i, n);
      passThrough(ctx);
      const c: Shape | null = x && x.length > 1 ? [x[1]] : null;
      if (ctx.hasOutput(1)) ctx.setOutput(1, ctx.inputDType(3), c);
      if (ctx.hasOutput(2)) ctx.setOutput(2, ctx.inputDType(4), c);
    },
  }),
  defineOp({
    domain: '', opType: 'BatchNormalization', since: 9, doc: 'Normalizes each channel with running (inference) or batch (training) statistics.',
    inputs: [{ name: 'X' }, { name: 'scale' }, { name: 'B' }, { name: 'mean' }, { name: 'var' }],
    outputs: [{ name: 'Y' }, { name: 'mean', optional: true }, { name: 'var', optional: true }, { name: 'saved_mean', optional: true }, { name: 'saved_var', optional: true }],
    attrs: { epsilon: EPSILON, momentum: { type: 'float', default: 0.8999999761581421, doc: 'Running statistics update factor (training).' } },
    inferShape(ctx) {
      const x = ctx.inputShape(0);
      for (const [i, n] of [[1, 'scale'], [2, 'B'], [3, 'mean'], [4, 'var']] as const) channelCheck(ctx, x, i, n);
      passThrough(ctx);
      const c: Shape | null = x && x.length > 1 ? [x[1]] : null;
      for (let i = 1; i < ctx.outputCount; i++) if (ctx.hasOutput(i)) ctx.setOutput(i, ctx.inputDType(0), c);
    },
  }),
  defineOp({
    domain: '', opType: 'InstanceNormalization', since: 6, doc: 'Normalizes each (sample, channel) over its spatial dims, then scales and shifts.',
    inputs: [{ name: 'input' }, { name: 'scale' }, { name: 'B' }], outputs: [{ name: 'output' }],
    attrs: { epsilon: EPSILON },
    inferShape(ctx) {
      const x = ctx.inputShape(0);
      channelCheck(ctx, x, 1, 'scale');
      channelCheck(ctx, x, 2, 'B');
      passThrough(ctx);
    },
  }),
  defineOp({
    domain: '', opType: 'GroupNormalization', since: 18, doc: 'Normalizes groups of channels, then scales and shifts (scale/bias per group before opset 21).',
    inputs: [{ name: 'X' }, { name: 'scale' }, { name: 'bias' }], outputs: [{ name: 'Y' }],
    attrs: { epsilon: EPSILON, num_groups: { type: 'int', required: true, doc: 'Number of channel groups.' } },
    inferShape(ctx) {
      const x = ctx.inputShape(0);
      const g = ctx.attrInt('num_groups');
      if (x && typeof x[1] === 'number' && (g <= 0 || x[1] % g !== 0)) ctx.fail(`${x[1]} channels do not split into ${g} groups`);
      passThrough(ctx);
    },
  }),
  defineOp({
    domain: '', opType: 'GroupNormalization', since: 21, doc: 'Normalizes groups of channels, then scales and shifts per channel.',
    inputs: [{ name: 'X' }, { name: 'scale' }, { name: 'bias' }], outputs: [{ name: 'Y' }],
    attrs: {
      epsilon: EPSILON,
      num_groups: { type: 'int', required: true, doc: 'Number of channel groups.' },
      stash_type: { type: 'int', default: 1, doc: 'Element type of the computation (1: float32).' },
    },
    inferShape(ctx) {
      const x = ctx.inputShape(0);
      const g = ctx.attrInt('num_groups');
      if (x && typeof x[1] === 'number' && (g <= 0 || x[1] % g !== 0)) ctx.fail(`${x[1]} channels do not split into ${g} groups`);
      channelCheck(ctx, x, 1, 'scale');
      channelCheck(ctx, x, 2, 'bias');
      passThrough(ctx);
    },
  }),
];
