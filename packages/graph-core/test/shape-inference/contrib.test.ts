/**
 * com.microsoft contrib ops with symbolic dims: the shapes the optimizer's fusions must reproduce
 * (present KV lengths in particular). Concrete shapes are checked against onnxruntime in
 * test/ops/ort-single-node.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../src/index.ts';
import { lookupOp } from '../../src/ops/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';

const MS = { domain: 'com.microsoft' };
const builder = (): GraphBuilder => new GraphBuilder({ opsets: { '': 17, 'com.microsoft': 1 } });
const zeros = (b: GraphBuilder, name: string, dims: number[]): Value => b.f32(name, dims, new Float32Array(dims.reduce((x, y) => x * y, 1)));

describe('contrib attention', () => {
  it('GroupQueryAttention: present grows to total_sequence_length computed from the mask', () => {
    const b = builder();
    const q = b.input('q', 'float32', ['batch_size', 'sequence_length', 64]);
    const k = b.input('k', 'float32', ['batch_size', 'sequence_length', 32]);
    const v = b.input('v', 'float32', ['batch_size', 'sequence_length', 32]);
    const pastK = b.input('past_key', 'float32', ['batch_size', 2, 'past_sequence_length', 16]);
    const pastV = b.input('past_value', 'float32', ['batch_size', 2, 'past_sequence_length', 16]);
    const mask = b.input('attention_mask', 'int64', ['batch_size', 'past_sequence_length + sequence_length']);
    // the optimizer's usual preamble: seqlens_k = ReduceSum(mask) - 1, total = Shape(mask)[1]
    const seqlens = b.op('Cast', [b.op('Sub', [b.op('ReduceSum', [mask, b.i64('ax', [1], [1])], { keepdims: 0 }), b.i64('one', [], [1])])], { to: 6 });
    const total = b.op('Cast', [b.op('Gather', [b.op('Shape', [mask]), b.i64('i1', [], [1])])], { to: 6 });
    const [out, presentK, presentV] = b.opN('GroupQueryAttention', [q, k, v, pastK, pastV, seqlens, total], { num_heads: 4, kv_num_heads: 2 }, 3, MS);
    for (const o of [out, presentK, presentV]) b.output(o);
    const report = inferShapes(b.build());
    expect(report.errors).toEqual([]);
    expect(out.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(presentK.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch_size', 2, 'past_sequence_length + sequence_length', 16] });
    expect(presentV.shape).toEqual(presentK.shape);
    expect(seqlens.type).toEqual({ kind: 'tensor', dtype: 'int32', shape: ['batch_size'] });
  });

  it('GroupQueryAttention: a shared max-length buffer keeps its size; packed QKV splits heads', () => {
    const b = builder();
    const q = b.input('qkv', 'float32', ['batch_size', 1, 128]);
    const past = b.input('past_key', 'float32', ['batch_size', 2, 1024, 16]);
    const pastV = b.input('past_value', 'float32', ['batch_size', 2, 1024, 16]);
    const [out, present] = b.opN('GroupQueryAttention', [q, null, null, past, pastV, b.input('seqlens_k', 'int32', ['batch_size']), b.input('total', 'int32', [])], { num_heads: 4, kv_num_heads: 2 }, 3, MS);
    b.output(out);
    b.output(present);
    inferShapes(b.build());
    expect(out.shape).toEqual(['batch_size', 1, 64]);
    expect(present.shape).toEqual(['batch_size', 2, 1024, 16]);
  });

  it('GroupQueryAttention rejects head counts that do not group', () => {
    const b = builder();
    b.node('GroupQueryAttention', [b.input('q', 'float32', [1, 1, 48]), b.input('k', 'float32', [1, 1, 32]), b.input('v', 'float32', [1, 1, 32]), null, null, b.input('s', 'int32', [1]), b.input('t', 'int32', [])], { num_heads: 3, kv_num_heads: 2 }, { ...MS, name: 'gqa' });
    const report = inferShapes(b.build());
    expect(report.errors[0].message).toBe("node 'gqa' (GroupQueryAttention): num_heads 3 must be a positive multiple of kv_num_heads 2");
  });

  it('MultiHeadAttention: present = past + new, qk scores', () => {
    const b = builder();
    const q = b.input('q', 'float32', ['batch_size', 'sequence_length', 64]);
    const pk = b.input('past_key', 'float32', ['batch_size', 4, 'past_sequence_length', 16]);
    const pv = b.input('past_value', 'float32', ['batch_size', 4, 'past_sequence_length', 16]);
    const [out, presentK, , qk] = b.opN('MultiHeadAttention', [q, q, q, null, null, null, pk, pv], { num_heads: 4 }, 4, MS);
    for (const o of [out, presentK, qk]) b.output(o);
    inferShapes(b.build());
    expect(out.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(presentK.shape).toEqual(['batch_size', 4, 'past_sequence_length + sequence_length', 16]);
    expect(qk.shape).toEqual(['batch_size', 4, 'sequence_length', 'past_sequence_length + sequence_length']);
  });

  it('Attention: output hidden size from the weights; present from past', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const past = b.input('past', 'float32', [2, 'batch_size', 4, 'past_sequence_length', 16]);
    const [out, present] = b.opN('Attention', [x, zeros(b, 'w', [64, 192]), zeros(b, 'bias', [192]), null, past], { num_heads: 4, unidirectional: 1 }, 2, MS);
    b.output(out);
    b.output(present);
    inferShapes(b.build());
    expect(out.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(present.shape).toEqual([2, 'batch_size', 4, 'past_sequence_length + sequence_length', 16]);
  });

  it('RotaryEmbedding keeps the input shape', () => {
    const b = builder();
    const y = b.output(b.op('RotaryEmbedding', [b.input('x', 'float32', ['b', 4, 's', 16]), b.input('pos', 'int64', ['b', 's']), zeros(b, 'cos', [128, 8]), zeros(b, 'sin', [128, 8])], {}, MS), 'y');
    inferShapes(b.build());
    expect(y.shape).toEqual(['b', 4, 's', 16]);
  });
});

describe('contrib normalization and matmuls', () => {
  it('SkipLayerNormalization gives output, statistics and the residual sum', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const [y, mean, inv, sum] = b.opN('SkipLayerNormalization', [x, b.input('skip', 'float32', ['batch_size', 'sequence_length', 64]), zeros(b, 'g', [64]), zeros(b, 'beta', [64])], {}, 4, MS);
    for (const o of [y, mean, inv, sum]) b.output(o);
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(mean.shape).toEqual(['batch_size', 'sequence_length', 1]);
    expect(inv.dtype).toBe('float32');
    expect(sum.shape).toEqual(['batch_size', 'sequence_length', 64]);
  });

  it('MatMulNBits output ends in N; checks K and the packed layout', () => {
    const b = builder();
    const y = b.output(b.op('MatMulNBits', [b.input('a', 'float32', ['batch_size', 'sequence_length', 64]), b.initializer('w', 'uint8', [256, 2, 16], new Uint8Array(8192)), zeros(b, 's', [256, 2])], { K: 64, N: 256, block_size: 32 }, MS), 'y');
    b.node('MatMulNBits', [b.input('a2', 'float32', [1, 32]), b.initializer('w2', 'uint8', [256, 2, 16], new Uint8Array(8192)), zeros(b, 's2', [256, 2])], { K: 64, N: 256, block_size: 32 }, { ...MS, name: 'wrong_k' });
    const report = inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 256]);
    expect(report.errors.map((e) => e.message)).toEqual(["node 'wrong_k' (MatMulNBits): A [1,32] has 32 columns but K is 64"]);
  });

  it('FusedMatMul applies transposes; BiasGelu and FastGelu broadcast the bias', () => {
    const b = builder();
    const f = b.output(b.op('FusedMatMul', [b.input('a', 'float32', ['b', 16, 's']), b.input('c', 'float32', ['b', 16, 8])], { transA: 1 }, MS), 'f');
    const g = b.output(b.op('BiasGelu', [b.input('x', 'float32', ['b', 's', 8]), zeros(b, 'bias', [8])], {}, MS), 'g');
    const h = b.output(b.op('FastGelu', [g, zeros(b, 'bias2', [8])], {}, MS), 'h');
    inferShapes(b.build());
    expect(f.shape).toEqual(['b', 's', 8]);
    expect(g.shape).toEqual(['b', 's', 8]);
    expect(h.shape).toEqual(['b', 's', 8]);
  });

  it('BiasAdd, GroupNorm and SkipGroupNorm keep the input shape (WebGPU-only ops, not run here)', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['n', 'hw', 32]);
    const y = b.output(b.op('BiasAdd', [x, zeros(b, 'bias', [32]), b.input('skip', 'float32', ['n', 'hw', 32])], {}, MS), 'y');
    const img = b.input('img', 'float32', ['n', 8, 8, 32]);
    const g = b.output(b.op('GroupNorm', [img, zeros(b, 'gamma', [32]), zeros(b, 'beta', [32])], { activation: 1, groups: 8 }, MS), 'g');
    const [sg, sum] = b.opN('SkipGroupNorm', [img, zeros(b, 'gamma2', [32]), zeros(b, 'beta2', [32]), b.input('s', 'float32', ['n', 1, 1, 32])], { activation: 0, groups: 8 }, 2, MS);
    b.output(sg);
    b.output(sum);
    b.node('BiasAdd', [b.input('flat', 'float32', ['n', 32]), zeros(b, 'bias2', [32]), b.input('skip2', 'float32', ['n', 32])], {}, { ...MS, name: 'flat_bias_add' });
    const report = inferShapes(b.build());
    expect(y.shape).toEqual(['n', 'hw', 32]);
    expect(g.shape).toEqual(['n', 8, 8, 32]);
    expect([sg.shape, sum.shape]).toEqual([['n', 8, 8, 32], ['n', 8, 8, 32]]);
    expect(report.errors.map((e) => e.message)).toEqual(["node 'flat_bias_add' (BiasAdd): X [n,32] must be 3-D (N, S, C)"]);
  });

  it('LayerNormalization and SimplifiedLayerNormalization live in the ONNX domain, as in onnxruntime', () => {
    expect(lookupOp('', 'SimplifiedLayerNormalization', 17)?.since).toBe(1);
    expect(lookupOp('', 'LayerNormalization', 13)?.since).toBe(1);
    expect(lookupOp('com.microsoft', 'LayerNormalization', 1)).toBeUndefined();
    expect(lookupOp('com.microsoft', 'SimplifiedLayerNormalization', 1)).toBeUndefined();
  });
});
