/**
 * Each case is a one-node model: inferred output types must equal what onnxruntime-web (wasm EP)
 * produces, and onnxruntime must accept the node as built from the registry's names (attribute
 * names it does not know make it fail). Contrib ops the wasm EP lacks are inferred only.
 */
import { describe, expect, it } from 'vitest';
import { serializeModelToBytes, type DType, type Model } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';
import { runOrt } from '../helpers/ort.ts';
import { buildCase, type InputSpec, type NodeCase } from '../helpers/single-node.ts';

const INT64_MAX = 9223372036854775807n;
const F = (...dims: number[]): InputSpec => ({ dtype: 'float32', dims });
const T = (dtype: DType, ...dims: number[]): InputSpec => ({ dtype, dims });
const I64 = (values: ReadonlyArray<number | bigint>, dims: number[] = [values.length]): InputSpec => ({ dtype: 'int64', dims, value: values });
const I32 = (values: number[], dims: number[] = [values.length]): InputSpec => ({ dtype: 'int32', dims, value: values });
const CF = (values: number[], dims: number[] = [values.length]): InputSpec => ({ dtype: 'float32', dims, value: values });
const W = (...dims: number[]): InputSpec => ({ dtype: 'float32', dims, value: Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 7919) % 13) / 13 - 0.5) });
const MS = 'com.microsoft';

const cases: NodeCase[] = [
  // elementwise
  { title: 'Add broadcasts [2,1,4] with [3,1]', opType: 'Add', inputs: [F(2, 1, 4), F(3, 1)] },
  { opType: 'Pow', inputs: [F(2, 3), CF([2])] },
  { title: 'Where broadcasts three ways', opType: 'Where', inputs: [T('bool', 2, 1), F(1, 3), F(2, 1, 1)] },
  { opType: 'Equal', inputs: [T('int64', 4, 1), T('int64', 5)] },
  { opType: 'And', inputs: [T('bool', 3), T('bool', 2, 3)] },
  { opType: 'Not', inputs: [T('bool', 3)] },
  { opType: 'Cast', inputs: [F(2, 3)], attrs: { to: 7 } },
  { opType: 'CastLike', inputs: [F(2, 3), T('int32', 1)] },
  { title: 'Clip with constant bounds', opType: 'Clip', opset: 13, inputs: [F(2, 3), CF([-0.5], []), CF([0.5], [])] },
  { title: 'Clip with only a max', opType: 'Clip', opset: 13, inputs: [F(2, 3), null, CF([0.5], [])] },
  { opType: 'Softmax', opset: 13, inputs: [F(2, 3, 4)], attrs: { axis: 1 } },
  { opType: 'LogSoftmax', opset: 11, inputs: [F(2, 3, 4)] },
  { opType: 'Gelu', opset: 20, inputs: [F(2, 3)], attrs: { approximate: 'tanh' } },
  { opType: 'IsNaN', inputs: [F(2, 3)] },
  { opType: 'IsInf', inputs: [F(2, 3)], attrs: { detect_negative: 0 } },
  { opType: 'Mod', inputs: [T('int64', 2, 3), I64([2])] },
  { opType: 'Max', inputs: [F(2, 1), F(3), F(1, 1)] },
  { opType: 'Dropout', opset: 13, inputs: [F(2, 3)], outputs: 2 },
  { opType: 'Trilu', inputs: [F(2, 4, 5), I64([1], [])], attrs: { upper: 0 } },
  { opType: 'Erf', inputs: [F(2, 3)] },
  { opType: 'Sigmoid', inputs: [F(2, 3)] },
  { opType: 'LeakyRelu', inputs: [F(2, 3)], attrs: { alpha: 0.2 } },
  { opType: 'PRelu', inputs: [F(2, 3, 4), W(3, 1)] },
  // tensor shape
  { title: 'Reshape with 0 and -1', opType: 'Reshape', inputs: [F(2, 3, 4), I64([0, -1, 2])] },
  { title: 'Reshape with allowzero', opType: 'Reshape', opset: 14, inputs: [F(0, 3), I64([3, 0])], attrs: { allowzero: 1 } },
  { title: 'Slice to INT64_MAX with a negative start', opType: 'Slice', opset: 13, inputs: [F(4, 10), I64([-3]), I64([INT64_MAX]), I64([1])] },
  { title: 'Slice backwards (step -1, INT64_MIN end)', opType: 'Slice', opset: 13, inputs: [F(4, 10), I64([-1]), I64([-INT64_MAX - 1n]), I64([1]), I64([-1])] },
  { title: 'Slice with step 3 over two axes', opType: 'Slice', opset: 13, inputs: [F(4, 10), I64([1, 0]), I64([100, 10]), I64([0, 1]), I64([1, 3])] },
  { title: 'Slice (opset 9) with INT64_MAX in the ends attribute', opType: 'Slice', opset: 9, inputs: [F(4, 10)], attrs: { starts: [2], ends: [INT64_MAX], axes: [1] } },
  { title: 'Split with sizes', opType: 'Split', opset: 13, inputs: [F(2, 6), I64([1, 5])], attrs: { axis: 1 }, outputs: 2 },
  { title: 'Split into equal parts', opType: 'Split', opset: 13, inputs: [F(2, 6)], attrs: { axis: -1 }, outputs: 3 },
  { title: 'Split with num_outputs, uneven', opType: 'Split', opset: 18, inputs: [F(7, 2)], attrs: { num_outputs: 3 }, outputs: 3 },
  { title: 'Split (opset 11) with the split attribute', opType: 'Split', opset: 11, inputs: [F(2, 6)], attrs: { axis: 1, split: [2, 4] }, outputs: 2 },
  { opType: 'Squeeze', opset: 13, inputs: [F(1, 3, 1, 2), I64([0, -2])] },
  { title: 'Squeeze without axes', opType: 'Squeeze', opset: 13, inputs: [F(1, 3, 1, 2)] },
  { opType: 'Unsqueeze', opset: 13, inputs: [F(3, 2), I64([0, -1])] },
  { opType: 'Unsqueeze', opset: 11, inputs: [F(3, 2)], attrs: { axes: [1] } },
  { opType: 'Concat', inputs: [F(2, 3), F(2, 5), F(2, 0)], attrs: { axis: -1 } },
  { opType: 'Transpose', inputs: [F(2, 3, 4)], attrs: { perm: [1, 2, 0] } },
  { title: 'Transpose (default perm)', opType: 'Transpose', inputs: [F(2, 3, 4)] },
  { opType: 'Expand', inputs: [F(3, 1), I64([2, 1, 4])] },
  { opType: 'Tile', inputs: [F(2, 3), I64([2, 1])] },
  { opType: 'Flatten', inputs: [F(2, 3, 4, 5)], attrs: { axis: -2 } },
  { opType: 'Pad', opset: 18, inputs: [F(2, 3, 4), I64([1, 2, 0, 3]), null, I64([0, 2])] },
  { opType: 'Pad', opset: 13, inputs: [F(2, 3), I64([0, 1, 1, 0])], attrs: { mode: 'reflect' } },
  { title: 'Shape with start/end', opType: 'Shape', opset: 15, inputs: [F(2, 3, 4, 5)], attrs: { start: 1, end: -1 } },
  { opType: 'Size', inputs: [F(2, 3, 4)] },
  // constants
  { opType: 'ConstantOfShape', inputs: [I64([2, 3])] },
  { opType: 'Range', inputs: [I64([2], []), I64([11], []), I64([3], [])] },
  { title: 'Range of floats', opType: 'Range', inputs: [CF([0], []), CF([1], []), CF([0.25], [])] },
  // indexing
  { title: 'Gather on a negative axis', opType: 'Gather', inputs: [F(2, 5, 3), I64([-1, 0, 4, -5], [2, 2])], attrs: { axis: -2 } },
  { title: 'Gather with a scalar index', opType: 'Gather', inputs: [F(4, 3), I64([-1], [])] },
  { opType: 'GatherElements', inputs: [F(3, 4), I64([0, 1, 2, 0, 1, 2], [3, 2])], attrs: { axis: 1 } },
  { opType: 'GatherND', inputs: [F(2, 3, 4), I64([0, 1, 1, 2], [2, 1, 2])], attrs: { batch_dims: 0 } },
  { title: 'GatherND with batch_dims', opType: 'GatherND', inputs: [F(2, 3, 4), I64([0, 2], [2, 1])], attrs: { batch_dims: 1 } },
  { opType: 'ScatterND', inputs: [F(4, 3), I64([1, 3], [2, 1]), F(2, 3)] },
  { opType: 'ScatterElements', opset: 16, inputs: [F(3, 3), I64([1, 0, 2], [1, 3]), F(1, 3)], attrs: { axis: 0, reduction: 'add' } },
  { opType: 'OneHot', inputs: [I64([0, 2, 1], [3]), I64([4], []), CF([0, 1])], attrs: { axis: 0 } },
  // matmul
  { title: 'MatMul with batch broadcasting', opType: 'MatMul', inputs: [F(2, 1, 3, 4), F(5, 4, 6)] },
  { title: 'MatMul of a vector and a batch', opType: 'MatMul', inputs: [F(4), F(2, 4, 6)] },
  { title: 'MatMul of a batch and a vector', opType: 'MatMul', inputs: [F(2, 3, 4), F(4)] },
  { title: 'Gemm with transB and a row bias', opType: 'Gemm', inputs: [F(3, 4), W(5, 4), W(5)], attrs: { transB: 1 } },
  { title: 'Gemm with transA and no C', opType: 'Gemm', inputs: [F(4, 3), W(4, 5)], attrs: { transA: 1 } },
  { title: 'Einsum attention scores', opType: 'Einsum', inputs: [F(2, 4, 3, 8), F(2, 4, 5, 8)], attrs: { equation: 'bhqd,bhkd->bhqk' } },
  { title: 'Einsum implicit output', opType: 'Einsum', inputs: [F(3, 4), F(4, 5)], attrs: { equation: 'ij,jk' } },
  { title: 'Einsum with an ellipsis', opType: 'Einsum', inputs: [F(2, 3, 4, 5), F(5, 6)], attrs: { equation: '...ij,jk->...ik' } },
  // normalization
  { title: 'LayerNormalization with Mean and InvStdDev', opType: 'LayerNormalization', inputs: [F(2, 3, 8), W(8), W(8)], attrs: { axis: -1 }, outputs: 3 },
  { title: 'LayerNormalization over two dims', opType: 'LayerNormalization', inputs: [F(2, 3, 4), W(3, 4)], attrs: { axis: 1 } },
  { opType: 'BatchNormalization', opset: 15, inputs: [F(2, 3, 4, 4), W(3), W(3), W(3), CF([1, 1.5, 2])] },
  { opType: 'InstanceNormalization', inputs: [F(2, 3, 5), W(3), W(3)] },
  { opType: 'GroupNormalization', opset: 21, inputs: [F(2, 4, 3, 3), W(4), W(4)], attrs: { num_groups: 2 } },
  { opType: 'RMSNormalization', opset: 23, inputs: [F(2, 3, 8), W(8)] },
  { title: 'SimplifiedLayerNormalization (onnxruntime, ONNX domain)', opType: 'SimplifiedLayerNormalization', inputs: [F(2, 3, 8), W(8)], attrs: { epsilon: 1e-6 } },
  // reduce
  { title: 'ReduceMean (attribute axes)', opType: 'ReduceMean', opset: 13, inputs: [F(2, 3, 4)], attrs: { axes: [1, -1], keepdims: 0 } },
  { title: 'ReduceMean (input axes)', opType: 'ReduceMean', opset: 18, inputs: [F(2, 3, 4), I64([-1])] },
  { title: 'ReduceSum with no axes (all)', opType: 'ReduceSum', opset: 13, inputs: [F(2, 3, 4)], attrs: { keepdims: 0 } },
  { title: 'ReduceSum with empty axes and noop', opType: 'ReduceSum', opset: 13, inputs: [F(2, 3, 4), I64([])], attrs: { noop_with_empty_axes: 1 } },
  { opType: 'ReduceMax', opset: 18, inputs: [F(2, 3, 4), I64([0, 2])], attrs: { keepdims: 0 } },
  { opType: 'ReduceL2', opset: 13, inputs: [F(2, 3, 4)], attrs: { axes: [2] } },
  { opType: 'ReduceProd', opset: 18, inputs: [F(2, 3), I64([1])] },
  { opType: 'ArgMax', inputs: [F(2, 3, 4)], attrs: { axis: -1, keepdims: 0 } },
  { opType: 'TopK', inputs: [F(2, 7), I64([3])], outputs: 2 },
  { opType: 'CumSum', inputs: [F(2, 3), I64([1], [])] },
  // nn
  { title: 'Conv with strides, pads and dilations', opType: 'Conv', inputs: [F(2, 3, 11, 9), W(6, 3, 3, 2), W(6)], attrs: { strides: [2, 1], pads: [1, 0, 1, 2], dilations: [1, 2] } },
  { title: 'Conv grouped, SAME_UPPER', opType: 'Conv', inputs: [F(1, 4, 7, 7), W(8, 2, 3, 3)], attrs: { group: 2, auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  { title: 'ConvTranspose with output_padding', opType: 'ConvTranspose', inputs: [F(1, 3, 5, 5), W(3, 2, 3, 3)], attrs: { strides: [2, 2], pads: [1, 1, 1, 1], output_padding: [1, 0] } },
  { title: 'MaxPool with ceil_mode and Indices', opType: 'MaxPool', inputs: [F(1, 2, 7, 8)], attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 }, outputs: 2 },
  { opType: 'AveragePool', inputs: [F(1, 2, 7, 8)], attrs: { kernel_shape: [2, 3], pads: [1, 1, 1, 1], count_include_pad: 1 } },
  { opType: 'GlobalAveragePool', inputs: [F(2, 3, 5, 4)] },
  { opType: 'GlobalMaxPool', inputs: [F(2, 3, 5)] },
  { title: 'Resize to sizes', opType: 'Resize', opset: 13, inputs: [F(1, 3, 4, 5), null, null, I64([1, 3, 8, 7])] },
  { title: 'Resize by scales', opType: 'Resize', opset: 13, inputs: [F(1, 3, 4, 5), null, CF([1, 1, 2, 1.5])], attrs: { mode: 'linear' } },
  { title: 'Resize (opset 11) with empty roi and scales', opType: 'Resize', opset: 11, inputs: [F(1, 3, 4, 5), CF([], [0]), CF([], [0]), I64([1, 3, 2, 10])] },
  { title: 'Resize on axes, not_larger', opType: 'Resize', opset: 18, inputs: [F(1, 3, 4, 6), null, null, I64([8, 8])], attrs: { axes: [2, 3], keep_aspect_ratio_policy: 'not_larger' } },
  // contrib (wasm EP)
  { title: 'SkipLayerNormalization with all outputs', opType: 'SkipLayerNormalization', domain: MS, inputs: [F(2, 3, 8), F(2, 3, 8), W(8), W(8), W(8)], outputs: 4 },
  { title: 'SkipLayerNormalization, sum output only', opType: 'SkipLayerNormalization', domain: MS, inputs: [F(2, 3, 8), F(2, 3, 8), W(8), W(8)], outputs: 4, omitOutputs: [1, 2] },
  { title: 'SkipSimplifiedLayerNormalization', opType: 'SkipSimplifiedLayerNormalization', domain: MS, inputs: [F(2, 3, 8), F(2, 3, 8), W(8)], outputs: 4, omitOutputs: [1, 2] },
  { title: 'Gelu (com.microsoft)', opType: 'Gelu', domain: MS, inputs: [F(2, 3)] },
  { opType: 'FastGelu', domain: MS, inputs: [F(2, 3, 8), W(8)] },
  { opType: 'BiasGelu', domain: MS, inputs: [F(2, 3, 8), W(8)] },
  { opType: 'QuickGelu', domain: MS, inputs: [F(2, 3)], attrs: { alpha: 1.5 } },
  { title: 'FusedMatMul with transA', opType: 'FusedMatMul', domain: MS, inputs: [F(2, 4, 3), F(4, 5)], attrs: { transA: 1, alpha: 0.5 } },
  {
    title: 'MatMulNBits (4-bit, block 32)', opType: 'MatMulNBits', domain: MS,
    inputs: [F(2, 3, 64), { dtype: 'uint8', dims: [16, 2, 16], value: Array.from({ length: 512 }, (_, i) => (i * 37) % 256) }, W(16, 2)],
    attrs: { K: 64, N: 16, bits: 4, block_size: 32, accuracy_level: 4 },
  },
  {
    title: 'Attention with past and present', opType: 'Attention', domain: MS,
    inputs: [F(2, 3, 16), W(16, 48), W(48), null, F(2, 2, 4, 5, 4)], attrs: { num_heads: 4, unidirectional: 1 }, outputs: 2,
  },
  { title: 'Attention without past', opType: 'Attention', domain: MS, inputs: [F(2, 3, 16), W(16, 48), W(48)], attrs: { num_heads: 4 }, outputs: 2 },
  {
    title: 'MultiHeadAttention with past and present', opType: 'MultiHeadAttention', domain: MS,
    inputs: [F(2, 3, 16), F(2, 3, 16), F(2, 3, 16), null, null, null, F(2, 4, 5, 4), F(2, 4, 5, 4)], attrs: { num_heads: 4 }, outputs: 3,
  },
  { title: 'MultiHeadAttention, cross attention', opType: 'MultiHeadAttention', domain: MS, inputs: [F(2, 3, 16), F(2, 6, 16), F(2, 6, 24)], attrs: { num_heads: 4 } },
  {
    title: 'GroupQueryAttention: 3 new tokens after 5 past ones', opType: 'GroupQueryAttention', domain: MS,
    inputs: [F(1, 3, 64), F(1, 3, 32), F(1, 3, 32), F(1, 2, 5, 16), F(1, 2, 5, 16), I32([7]), I32([8], [])],
    attrs: { num_heads: 4, kv_num_heads: 2 }, outputs: 3,
  },
  {
    title: 'GroupQueryAttention: batched one-token decode', opType: 'GroupQueryAttention', domain: MS,
    inputs: [F(2, 1, 64), F(2, 1, 32), F(2, 1, 32), F(2, 2, 5, 16), F(2, 2, 5, 16), I32([5, 5]), I32([6], [])],
    attrs: { num_heads: 4, kv_num_heads: 2 }, outputs: 3,
  },
  {
    title: 'GroupQueryAttention prompt without past, rotary from caches', opType: 'GroupQueryAttention', domain: MS,
    inputs: [F(1, 4, 64), F(1, 4, 32), F(1, 4, 32), null, null, I32([3]), I32([4], []), F(16, 8), F(16, 8)],
    attrs: { num_heads: 4, kv_num_heads: 2, do_rotary: 1 }, outputs: 3,
  },
  {
    title: 'GroupQueryAttention with a shared max-length KV buffer', opType: 'GroupQueryAttention', domain: MS,
    inputs: [F(2, 1, 64), F(2, 1, 32), F(2, 1, 32), F(2, 2, 16, 16), F(2, 2, 16, 16), I32([7, 7]), I32([8], [])],
    attrs: { num_heads: 4, kv_num_heads: 2 }, outputs: 3,
  },
  {
    title: 'GroupQueryAttention with packed QKV', opType: 'GroupQueryAttention', domain: MS,
    inputs: [F(1, 4, 128), null, null, null, null, I32([3]), I32([4], [])], attrs: { num_heads: 4, kv_num_heads: 2 }, outputs: 3,
  },
  {
    title: 'RotaryEmbedding on a 3-D input', opType: 'RotaryEmbedding', domain: MS,
    inputs: [F(2, 3, 64), { dtype: 'int64', dims: [2, 3], data: [0, 1, 2, 5, 6, 7] }, F(16, 8), F(16, 8)],
  },
];

describe('one-node models: inferred types equal onnxruntime-web', () => {
  for (const c of cases) {
    it(c.title ?? `${c.domain ? `${c.domain}::` : ''}${c.opType}`, async () => {
      const { model, feeds, outputs } = buildCase(c);
      const report = inferShapes(model, { strict: true });
      expect(report.unknownOps).toEqual([]);
      const fetched = await runOrt(modelBytes(model), feeds);
      for (const v of outputs) {
        const actual = fetched[v.name];
        expect(actual, `onnxruntime output ${v.name}`).toBeDefined();
        expect({ dtype: v.dtype, dims: v.shape }, v.name).toEqual({ dtype: actual.dtype, dims: actual.dims });
      }
    });
  }
});

function modelBytes(model: Model): Uint8Array {
  return serializeModelToBytes(model, { valueInfo: false });
}
