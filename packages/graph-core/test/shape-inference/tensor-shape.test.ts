/**
 * Symbolic shapes through the ops that carry shape data: the torchscript shape-subgraph pattern,
 * Reshape with 0 and -1, Slice with INT64_MAX ends, Split with and without sizes, Concat.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, Tensor } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';

const INT64_MAX = 9223372036854775807n;

function builder(opset = 17): GraphBuilder {
  return new GraphBuilder({ opsets: { '': opset } });
}

describe('torchscript shape subgraphs', () => {
  it('Shape → Gather → Unsqueeze → Concat → Reshape gives a symbolic target', () => {
    // x.view(x.size(0), x.size(1), 4, 16), as torch.onnx exports it
    const b = builder();
    const x = b.input('hidden', 'float32', ['batch_size', 'sequence_length', 64]);
    const shape = b.op('Shape', [x]);
    const dim = (i: number) => b.op('Unsqueeze', [b.op('Gather', [shape, b.i64(`i${i}`, [], [i])], { axis: 0 }), b.i64(`ax${i}`, [1], [0])]);
    const target = b.op('Concat', [dim(0), dim(1), b.i64('heads', [1], [4]), b.i64('head', [1], [16])], { axis: 0 });
    const y = b.output(b.op('Reshape', [x, target]), 'y');
    const report = inferShapes(b.build());
    expect(report.errors).toEqual([]);
    expect(target.shape).toEqual([4]);
    expect(y.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['batch_size', 'sequence_length', 4, 16] });
    expect(report.unresolved).toEqual([]);
  });

  it('computes with the dims: Mul/Div/Add/Sub of gathered sizes, Constant nodes, Cast round trips', () => {
    // merge heads: x.view(b, s, h * d) with h and d read from the shape and multiplied
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 4, 'sequence_length', 16]);
    const shape = b.op('Shape', [x]);
    const take = (i: number) => b.op('Gather', [shape, b.op('Constant', [], { value: Tensor.from('int64', [], BigInt64Array.of(BigInt(i))) })]);
    const heads = take(1);
    const size = b.op('Mul', [heads, take(3)]);
    const half = b.op('Div', [b.op('Add', [take(2), take(2)]), b.op('Constant', [], { value_int: 2 })]);
    const asFloat = b.op('Cast', [half], { to: 1 });
    const back = b.op('Cast', [asFloat], { to: 7 });
    const unsq = (v: ReturnType<typeof take>) => b.op('Unsqueeze', [v, b.op('Constant', [], { value_ints: [0] })]);
    const target = b.op('Concat', [unsq(take(0)), unsq(back), unsq(size)], { axis: 0 });
    const y = b.output(b.op('Reshape', [b.op('Transpose', [x], { perm: [0, 2, 1, 3] }), target]), 'y');
    const less = b.output(b.op('Sub', [take(2), b.op('Constant', [], { value_int: 1 })]), 'less');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(less.shape).toEqual([]);
  });

  it('ConstantOfShape / Expand / Range take symbolic shapes from data', () => {
    const b = builder();
    const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
    const past = b.input('past', 'float32', ['batch_size', 4, 'past_sequence_length', 16]);
    const shape = b.op('Shape', [ids]);
    const zeros = b.output(b.op('ConstantOfShape', [shape], { value: Tensor.from('int64', [1], BigInt64Array.of(1n)) }), 'ones');
    const pastLen = b.op('Gather', [b.op('Shape', [past]), b.i64('two', [], [2])]);
    const seqLen = b.op('Gather', [shape, b.i64('one', [], [1])]);
    const total = b.op('Add', [pastLen, seqLen]);
    const positions = b.output(b.op('Range', [pastLen, total, b.i64('step', [], [1])]), 'positions');
    const target = b.op('Concat', [b.op('Slice', [shape, b.i64('s0', [1], [0]), b.i64('e0', [1], [1])]), b.op('Unsqueeze', [total, b.i64('a0', [1], [0])])], { axis: 0 });
    const expanded = b.output(b.op('Expand', [b.f32('m', [1, 1], [1]), target]), 'expanded');
    inferShapes(b.build());
    expect(zeros.type).toEqual({ kind: 'tensor', dtype: 'int64', shape: ['batch_size', 'sequence_length'] });
    expect(positions.shape).toEqual(['sequence_length']);
    expect(expanded.shape).toEqual(['batch_size', 'past_sequence_length + sequence_length']);
  });

  it('the Where(Equal(shape, -1), ones, shape) expand pattern keeps symbols', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 1, 'sequence_length']);
    const target = b.op('Shape', [x]);
    const isNeg = b.op('Equal', [target, b.i64('neg', [3], [-1, -1, -1])]);
    const ones = b.op('ConstantOfShape', [b.i64('three', [1], [3])], { value: Tensor.from('int64', [1], BigInt64Array.of(1n)) });
    const fixed = b.op('Where', [isNeg, ones, target]);
    const y = b.output(b.op('Expand', [b.input('m', 'float32', [1]), fixed]), 'y');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 1, 'sequence_length']);
  });
});

describe('Reshape', () => {
  it('resolves 0 (copy) and -1 (inferred) with symbols', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const y = b.output(b.op('Reshape', [x, b.i64('t', [4], [0, 0, 4, -1])]), 'y');
    const z = b.output(b.op('Reshape', [x, b.i64('t2', [2], [-1, 64])]), 'z');
    const w = b.output(b.op('Reshape', [x, b.i64('t3', [3], [0, -1, 16])]), 'w');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 4, 16]);
    expect(z.shape).toEqual(['batch_size*sequence_length', 64]);
    expect(w.shape).toEqual(['batch_size', '4*sequence_length', 16]);
  });

  it('knows the rank but not the dims when the target is computed from unknown data', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['n', 8]);
    const t = b.input('target', 'int64', [3]);
    const y = b.output(b.op('Reshape', [x, t]), 'y');
    const report = inferShapes(b.build());
    expect(y.shape).toEqual([null, null, null]);
    expect(report.unresolved.find((u) => u.value === y)?.reason).toMatch(/target shape is not a known constant/);
  });

  it('reports element-count contradictions', () => {
    const b = builder();
    const x = b.input('x', 'float32', [2, 3, 4]);
    b.output(b.op('Reshape', [x, b.i64('t', [2], [5, -1])], {}, { name: 'bad_reshape' }), 'y');
    b.output(b.op('Reshape', [x, b.i64('t2', [2], [-1, -1])], {}, { name: 'two_minus_ones' }), 'z');
    const report = inferShapes(b.build());
    expect(report.errors.map((e) => e.message)).toEqual([
      "node 'bad_reshape' (Reshape): cannot reshape [2,3,4] (24 elements) to [5,-1]: 24 is not divisible by 5",
      "node 'two_minus_ones' (Reshape): target [-1,-1] has more than one -1",
    ]);
  });
});

describe('Slice', () => {
  it('handles INT64_MAX ends from bigint initializers, symbolic starts and negative starts', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const ends = b.initializer('ends', 'int64', [1], BigInt64Array.of(INT64_MAX));
    const last = b.output(b.op('Slice', [x, b.i64('s', [1], [-1]), ends, b.i64('a', [1], [1])]), 'last');
    const tail = b.output(b.op('Slice', [x, b.i64('s2', [1], [1]), ends, b.i64('a2', [1], [1])]), 'tail');
    const head = b.output(b.op('Slice', [x, b.i64('s3', [1], [0]), b.i64('e3', [1], [32]), b.i64('a3', [1], [-1])]), 'head');
    const stepped = b.output(b.op('Slice', [x, b.i64('s4', [1], [0]), ends, b.i64('a4', [1], [2]), b.i64('st4', [1], [2])]), 'stepped');
    inferShapes(b.build());
    expect(last.shape).toEqual(['batch_size', 1, 64]);
    expect(tail.shape).toEqual(['batch_size', 'sequence_length - 1', 64]);
    expect(head.shape).toEqual(['batch_size', 'sequence_length', 32]);
    expect(stepped.shape).toEqual(['batch_size', 'sequence_length', 32]);
  });

  it('slices a causal-mask buffer with symbolic bounds (GPT-2 bias[:, :, k - q:k, :k])', () => {
    const b = builder();
    const q = b.input('q', 'float32', ['batch_size', 4, 'sequence_length', 16]);
    const k = b.input('k', 'float32', ['batch_size', 4, 'past_sequence_length + sequence_length', 16]);
    const bias = b.initializer('bias', 'bool', [1, 1, 128, 128], new Uint8Array(128 * 128));
    const qLen = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [q]), b.i64('i2', [], [2])]), b.i64('ax', [1], [0])]);
    const kLen = b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [k]), b.i64('j2', [], [2])]), b.i64('ax2', [1], [0])]);
    const rows = b.op('Slice', [bias, b.op('Sub', [kLen, qLen]), kLen, b.i64('a2', [1], [2]), b.i64('one', [1], [1])]);
    const mask = b.output(b.op('Slice', [rows, b.i64('zero', [1], [0]), kLen, b.i64('a3', [1], [3]), b.i64('one2', [1], [1])]), 'mask');
    inferShapes(b.build());
    expect(mask.type).toEqual({ kind: 'tensor', dtype: 'bool', shape: [1, 1, 'sequence_length', 'past_sequence_length + sequence_length'] });
  });

  it('reads INT64_MAX from bigint attributes (opset 9)', () => {
    const b = builder(9);
    const x = b.input('x', 'float32', ['n', 10]);
    const y = b.output(b.op('Slice', [x], { starts: [0n, 3n], ends: [INT64_MAX, INT64_MAX], axes: [0, 1] }), 'y');
    inferShapes(b.build());
    expect(y.shape).toEqual(['n', 7]);
  });

  it('propagates sliced shape data', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 4, 16]);
    const lead = b.op('Slice', [b.op('Shape', [x]), b.i64('s', [1], [0]), b.i64('e', [1], [-2])]);
    const target = b.op('Concat', [lead, b.i64('c', [1], [64])], { axis: 0 });
    const y = b.output(b.op('Reshape', [x, target]), 'y');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 64]);
  });
});

describe('Split and Concat', () => {
  it('splits with sizes, equally, and with num_outputs', () => {
    const b = builder(18);
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 192]);
    const [q, k, v] = b.opN('Split', [x], { axis: 2, num_outputs: 3 }, 3);
    const [p1, p2] = b.opN('Split', [x, b.i64('sizes', [2], [64, 128])], { axis: -1 }, 2);
    const [h1, h2] = b.opN('Split', [b.input('y', 'float32', ['n', '2*m'])], { axis: 1, num_outputs: 2 }, 2);
    for (const o of [q, k, v, p1, p2, h1, h2]) b.output(o);
    inferShapes(b.build());
    expect([q.shape, k.shape, v.shape]).toEqual([
      ['batch_size', 'sequence_length', 64], ['batch_size', 'sequence_length', 64], ['batch_size', 'sequence_length', 64],
    ]);
    expect([p1.shape, p2.shape]).toEqual([['batch_size', 'sequence_length', 64], ['batch_size', 'sequence_length', 128]]);
    expect([h1.shape, h2.shape]).toEqual([['n', 'm'], ['n', 'm']]);
  });

  it('splits opset 13 without sizes into equal parts, and fails when they cannot be equal', () => {
    const b = builder(13);
    const [a, c] = b.opN('Split', [b.input('x', 'float32', [4, 6])], { axis: 1 }, 2);
    b.opN('Split', [b.input('z', 'float32', [4, 7])], { axis: 1 }, 2, { name: 'odd_split' });
    b.output(a);
    b.output(c);
    const report = inferShapes(b.build());
    expect(a.shape).toEqual([4, 3]);
    expect(report.errors.map((e) => e.node)).toEqual(['odd_split']);
  });

  it('concatenates symbolic dims and reports rank mismatches', () => {
    const b = builder();
    const past = b.input('past', 'float32', ['batch_size', 4, 'past_sequence_length', 16]);
    const cur = b.input('cur', 'float32', ['batch_size', 4, 'sequence_length', 16]);
    const present = b.output(b.op('Concat', [past, cur], { axis: -2 }), 'present');
    b.output(b.op('Concat', [past, b.input('flat', 'float32', [4, 16])], { axis: 0 }, { name: 'bad_concat' }), 'bad');
    const report = inferShapes(b.build());
    expect(present.shape).toEqual(['batch_size', 4, 'past_sequence_length + sequence_length', 16]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0].message).toBe("node 'bad_concat' (Concat): inputs have different ranks: [batch_size,4,past_sequence_length,16], [4,16]");
  });

  it('Squeeze / Unsqueeze / Transpose / Flatten / Tile / Pad keep symbols', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 1, 'sequence_length', 16]);
    const sq = b.output(b.op('Squeeze', [x, b.i64('ax', [1], [1])]), 'sq');
    const un = b.output(b.op('Unsqueeze', [sq, b.i64('ax2', [2], [0, -1])]), 'un');
    const tr = b.output(b.op('Transpose', [x], { perm: [2, 0, 3, 1] }), 'tr');
    const fl = b.output(b.op('Flatten', [x], { axis: 2 }), 'fl');
    const ti = b.output(b.op('Tile', [x, b.i64('reps', [4], [1, 2, 1, 3])]), 'ti');
    const pa = b.output(b.op('Pad', [x, b.i64('pads', [8], [0, 0, 2, 0, 0, 0, 1, 0])]), 'pa');
    inferShapes(b.build());
    expect(sq.shape).toEqual(['batch_size', 'sequence_length', 16]);
    expect(un.shape).toEqual([1, 'batch_size', 'sequence_length', 16, 1]);
    expect(tr.shape).toEqual(['sequence_length', 'batch_size', 16, 1]);
    expect(fl.shape).toEqual(['batch_size', '16*sequence_length']);
    expect(ti.shape).toEqual(['batch_size', 2, 'sequence_length', 48]);
    expect(pa.shape).toEqual(['batch_size', 1, 'sequence_length + 3', 16]);
  });
});
