/**
 * Ops that make tensors from attributes or shapes: Constant, ConstantOfShape, Range, EyeLike.
 * Their outputs are the seeds of data propagation (small constants become known contents).
 */
import { dtypeFromOnnx, type DType } from '../ir/dtype.ts';
import type { Dim } from '../ir/shape.ts';
import { dimCeilDiv, dimSub } from '../symbolic.ts';
import { count, MAX_DATA_ELEMENTS, tensorData, unknownShape } from './infer-utils.ts';
import { defineOp, type InferenceContext, type OpSchema } from './schema.ts';

function constantInfer(ctx: InferenceContext): void {
  const t = ctx.attrTensor('value');
  if (t) return ctx.setOutput(0, t.dtype, t.dims, () => tensorData(t));
  if (ctx.hasAttr('value_int')) return ctx.setOutput(0, 'int64', [], { dtype: 'int64', dims: [], values: [ctx.attrInt('value_int')] });
  if (ctx.hasAttr('value_ints')) {
    const v = ctx.attrInts('value_ints') ?? [];
    return ctx.setOutput(0, 'int64', [v.length], { dtype: 'int64', dims: [v.length], values: v });
  }
  if (ctx.hasAttr('value_float')) return ctx.setOutput(0, 'float32', [], { dtype: 'float32', dims: [], values: [ctx.attrFloat('value_float')] });
  if (ctx.hasAttr('value_floats')) {
    const v = ctx.attrFloats('value_floats') ?? [];
    return ctx.setOutput(0, 'float32', [v.length], { dtype: 'float32', dims: [v.length], values: v });
  }
  if (ctx.hasAttr('value_string')) return ctx.setOutput(0, 'string', []);
  if (ctx.hasAttr('value_strings')) return ctx.setOutput(0, 'string', [ctx.attrStrings('value_strings')?.length ?? null]);
  const sparse = ctx.node.attributes.get('sparse_value');
  if (sparse?.type === 'sparse_tensor') return ctx.setOutput(0, sparse.value.values.dtype, sparse.value.dims);
  ctx.fail('has none of value, value_float(s), value_int(s), value_string(s), sparse_value');
}

const CONSTANT_ATTRS = {
  sparse_value: { type: 'sparse_tensor', doc: 'The value, as a sparse tensor.' },
  value: { type: 'tensor', doc: 'The value.' },
  value_float: { type: 'float', doc: 'The value, a float32 scalar.' },
  value_floats: { type: 'floats', doc: 'The value, a 1-D float32 tensor.' },
  value_int: { type: 'int', doc: 'The value, an int64 scalar.' },
  value_ints: { type: 'ints', doc: 'The value, a 1-D int64 tensor.' },
  value_string: { type: 'string', doc: 'The value, a string scalar.' },
  value_strings: { type: 'strings', doc: 'The value, a 1-D string tensor.' },
} as const;

/** Tensor-making op schemas. */
export const constantOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'Constant', since: 12, doc: 'A constant tensor given by exactly one of its attributes.',
    inputs: [], outputs: [{ name: 'output' }], attrs: CONSTANT_ATTRS, inferShape: constantInfer,
  }),
  defineOp({
    domain: '', opType: 'Constant', since: 11, doc: 'A constant tensor (value or sparse_value).',
    inputs: [], outputs: [{ name: 'output' }],
    attrs: { sparse_value: CONSTANT_ATTRS.sparse_value, value: CONSTANT_ATTRS.value },
    inferShape: constantInfer,
  }),
  defineOp({
    domain: '', opType: 'Constant', since: 1, doc: 'A constant tensor.',
    inputs: [], outputs: [{ name: 'output' }],
    attrs: { value: { type: 'tensor', required: true, doc: 'The value.' } },
    inferShape: constantInfer,
  }),
  defineOp({
    domain: '', opType: 'ConstantOfShape', since: 9, doc: 'A tensor of the given shape filled with one value (float32 0 by default).',
    inputs: [{ name: 'input' }], outputs: [{ name: 'output' }],
    attrs: { value: { type: 'tensor', doc: 'One-element tensor: the fill value and element type. Default: float32 0.' } },
    inferShape(ctx) {
      const t = ctx.attrTensor('value');
      const dtype: DType = t?.dtype ?? 'float32';
      const fill = t ? tensorData(t, 1)?.values[0] ?? null : 0;
      const dims = ctx.inputDims(0);
      if (!dims) {
        const s = ctx.inputShape(0);
        ctx.note('the shape is not a known constant');
        return ctx.setOutput(0, dtype, s && typeof s[0] === 'number' ? unknownShape(s[0]) : null);
      }
      for (const d of dims) if (typeof d === 'number' && d < 0) ctx.fail(`shape [${dims.join(',')}] has a negative dim`);
      const isStatic = dims.every((d): d is number => typeof d === 'number');
      const data = isStatic && count(dims) <= MAX_DATA_ELEMENTS ? { dtype, dims, values: new Array<Dim>(count(dims)).fill(fill) } : null;
      ctx.setOutput(0, dtype, dims, data);
    },
  }),
  defineOp({
    domain: '', opType: 'Range', since: 11, doc: 'The sequence start, start+delta, ... up to (excluding) limit.',
    inputs: [{ name: 'start' }, { name: 'limit' }, { name: 'delta' }], outputs: [{ name: 'output' }],
    inferShape(ctx) {
      const dtype = ctx.inputDType(0) ?? ctx.inputDType(1) ?? ctx.inputDType(2);
      const start = ctx.inputDims(0)?.[0] ?? null;
      const limit = ctx.inputDims(1)?.[0] ?? null;
      const delta = ctx.inputDims(2)?.[0] ?? null;
      if (delta === 0) ctx.fail('delta is 0');
      let n: Dim = null;
      if (typeof start === 'number' && typeof limit === 'number' && typeof delta === 'number') {
        n = Math.max(Math.ceil((limit - start) / delta), 0);
      } else if (typeof delta === 'number' && delta > 0) {
        const span = dimSub(limit, start);
        n = delta === 1 ? span : dimCeilDiv(span, delta);
        if (typeof n === 'number') n = Math.max(n, 0);
      }
      let data = null;
      if (typeof n === 'number' && n <= MAX_DATA_ELEMENTS && typeof start === 'number' && typeof delta === 'number' && dtype) {
        data = { dtype, dims: [n], values: Array.from({ length: n }, (_, i) => start + i * delta) };
      }
      ctx.setOutput(0, dtype, [n], data);
    },
  }),
  defineOp({
    domain: '', opType: 'EyeLike', since: 9, doc: 'A 2-D tensor of the input shape with ones on the k-th diagonal.',
    inputs: [{ name: 'input' }], outputs: [{ name: 'output' }],
    attrs: {
      dtype: { type: 'int', doc: 'Element type (TensorProto.DataType). Default: the input type.' },
      k: { type: 'int', default: 0, doc: 'Diagonal offset: 0 main, > 0 upper, < 0 lower.' },
    },
    inferShape(ctx) {
      const dtype = ctx.hasAttr('dtype') ? dtypeFromOnnx(ctx.attrInt('dtype')) ?? null : ctx.inputDType(0);
      const s = ctx.inputShape(0);
      if (s && s.length !== 2) ctx.fail(`input must be 2-D, got rank ${s.length}`);
      ctx.setOutput(0, dtype, s);
    },
  }),
];
