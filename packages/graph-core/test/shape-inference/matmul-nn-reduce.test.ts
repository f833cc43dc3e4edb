/**
 * MatMul/Gemm/Einsum, normalization, reductions (attribute and input axes) and convolution/pooling
 * with symbolic dims, and the contradictions they report.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';

const builder = (opset = 17): GraphBuilder => new GraphBuilder({ opsets: { '': opset } });

describe('matrix products', () => {
  it('MatMul broadcasts symbolic batch dims', () => {
    const b = builder();
    const q = b.input('q', 'float32', ['batch_size', 4, 'sequence_length', 16]);
    const k = b.input('kT', 'float32', ['batch_size', 4, 16, 'past_sequence_length + sequence_length']);
    const w = b.f32('w', [64, 256], new Float32Array(64 * 256));
    const scores = b.output(b.op('MatMul', [q, k]), 'scores');
    const proj = b.output(b.op('MatMul', [b.input('h', 'float32', ['batch_size', 'sequence_length', 64]), w]), 'proj');
    inferShapes(b.build());
    expect(scores.shape).toEqual(['batch_size', 4, 'sequence_length', 'past_sequence_length + sequence_length']);
    expect(proj.shape).toEqual(['batch_size', 'sequence_length', 256]);
  });

  it('reports inner dims 64 vs 32', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const w = b.f32('w', [32, 16], new Float32Array(32 * 16));
    const y = b.output(b.op('MatMul', [x, w], {}, { name: 'proj' }), 'y');
    const z = b.output(b.op('Relu', [y]), 'z');
    const report = inferShapes(b.build());
    expect(report.errors.map((e) => e.message)).toEqual([
      "node 'proj' (MatMul): inner dims differ: A [batch_size,sequence_length,64] has 64 columns but B [32,16] has 32 rows",
    ]);
    expect(report.errors[0].code).toBe('SHAPE_INFERENCE');
    expect(y.type).toBe(null);
    expect(z.type).toBe(null);
    expect(report.unresolved.map((u) => u.value.name)).toEqual(['y', 'z']);
  });

  it('Gemm applies transposes; Einsum maps letters to symbolic dims', () => {
    const b = builder();
    const g = b.output(b.op('Gemm', [b.input('a', 'float32', ['n', 64]), b.f32('w', [128, 64], new Float32Array(128 * 64)), b.f32('c', [128], new Float32Array(128))], { transB: 1 }), 'g');
    const e = b.output(b.op('Einsum', [b.input('q', 'float32', ['b', 4, 's', 16]), b.input('k', 'float32', ['b', 4, 't', 16])], { equation: 'bhqd,bhkd->bhqk' }), 'e');
    const f = b.output(b.op('Einsum', [b.input('x', 'float32', ['b', 's', 8])], { equation: '...ij->...ji' }), 'f');
    inferShapes(b.build());
    expect(g.shape).toEqual(['n', 128]);
    expect(e.shape).toEqual(['b', 4, 's', 't']);
    expect(f.shape).toEqual(['b', 8, 's']);
  });
});

describe('normalization', () => {
  it('LayerNormalization statistics keep the leading dims', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const [y, mean, inv] = b.opN('LayerNormalization', [x, b.f32('g', [64], new Float32Array(64))], { axis: -1 }, 3);
    for (const v of [y, mean, inv]) b.output(v);
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(mean.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch_size', 'sequence_length', 1] });
    expect(inv.shape).toEqual(['batch_size', 'sequence_length', 1]);
  });

  it('reports a scale that does not fit the normalized dims', () => {
    const b = builder();
    b.output(b.op('LayerNormalization', [b.input('x', 'float32', ['n', 64]), b.f32('g', [32], new Float32Array(32))], {}, { name: 'ln' }), 'y');
    const report = inferShapes(b.build());
    expect(report.errors[0].message).toBe("node 'ln' (LayerNormalization): Scale [32] does not match the normalized dims [64] of X [n,64]");
  });
});

describe('reductions', () => {
  it('takes axes from the attribute before opset 18 and from the input after', () => {
    const b13 = builder(13);
    const x13 = b13.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const m13 = b13.output(b13.op('ReduceMean', [x13], { axes: [-1] }), 'm');
    inferShapes(b13.build());
    expect(m13.shape).toEqual(['batch_size', 'sequence_length', 1]);

    const b18 = builder(18);
    const x18 = b18.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const m18 = b18.output(b18.op('ReduceMean', [x18, b18.i64('axes', [1], [-1])], { keepdims: 0 }), 'm');
    const all = b18.output(b18.op('ReduceMax', [x18], { keepdims: 0 }), 'all');
    const unknownAxes = b18.output(b18.op('ReduceSum', [x18, b18.input('ax', 'int64', [1])], { keepdims: 0 }), 'u');
    inferShapes(b18.build());
    expect(m18.shape).toEqual(['batch_size', 'sequence_length']);
    expect(all.shape).toEqual([]);
    expect(unknownAxes.shape).toEqual([null, null]);
  });

  it('evaluates ReduceProd of a shape slice (flattening trailing dims)', () => {
    const b = builder(18);
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 4, 16]);
    const shape = b.op('Shape', [x]);
    const lead = b.op('Slice', [shape, b.i64('s', [1], [0]), b.i64('e', [1], [2])]);
    const inner = b.op('ReduceProd', [b.op('Slice', [shape, b.i64('s2', [1], [2]), b.i64('e2', [1], [4])])], { keepdims: 1 });
    const y = b.output(b.op('Reshape', [x, b.op('Concat', [lead, inner], { axis: 0 })]), 'y');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 64]);
  });

  it('TopK and ArgMax', () => {
    const b = builder();
    const x = b.input('logits', 'float32', ['batch_size', 256]);
    const [values, indices] = b.opN('TopK', [x, b.i64('k', [1], [5])], {}, 2);
    const am = b.output(b.op('ArgMax', [x], { axis: 1, keepdims: 0 }), 'am');
    b.output(values);
    b.output(indices);
    inferShapes(b.build());
    expect(values.shape).toEqual(['batch_size', 5]);
    expect(indices.dtype).toBe('int64');
    expect(am.type).toEqual({ kind: 'tensor', dtype: 'int64', shape: ['batch_size'] });
  });
});

describe('convolution and pooling', () => {
  it('keeps a symbolic batch and computes spatial sizes; symbolic spatial dims with stride 1', () => {
    const b = builder();
    const x = b.input('pixel_values', 'float32', ['batch_size', 3, 32, 32]);
    const c = b.op('Conv', [x, b.f32('w', [16, 3, 3, 3], new Float32Array(432))], { strides: [2, 2], pads: [1, 1, 1, 1] });
    const p = b.op('MaxPool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
    const g = b.output(b.op('GlobalAveragePool', [p]), 'g');
    const seq = b.output(b.op('Conv', [b.input('audio', 'float32', ['batch_size', 8, 'frames']), b.f32('k', [8, 8, 3], new Float32Array(192))]), 'seq');
    const up = b.output(b.op('Resize', [c, null, b.f32('scales', [4], [1, 1, 2, 2])], { mode: 'nearest' }), 'up');
    inferShapes(b.build());
    expect(c.shape).toEqual(['batch_size', 16, 16, 16]);
    expect(p.shape).toEqual(['batch_size', 16, 8, 8]);
    expect(g.shape).toEqual(['batch_size', 16, 1, 1]);
    expect(seq.shape).toEqual(['batch_size', 8, 'frames - 2']);
    expect(up.shape).toEqual(['batch_size', 16, 32, 32]);
  });

  it('reports channel mismatches', () => {
    const b = builder();
    b.output(b.op('Conv', [b.input('x', 'float32', [1, 4, 8, 8]), b.f32('w', [8, 3, 3, 3], new Float32Array(216))], {}, { name: 'conv' }), 'y');
    const report = inferShapes(b.build());
    expect(report.errors[0].message).toBe("node 'conv' (Conv): X has 4 channels but W [8,3,3,3] with group=1 expects 3");
  });
});
