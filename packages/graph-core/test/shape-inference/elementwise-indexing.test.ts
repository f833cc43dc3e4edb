/**
 * Broadcasting with symbols, comparison/logic types, casts, and Gather (negative axes and indices,
 * data propagation through shape vectors).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';

const builder = (opset = 17): GraphBuilder => new GraphBuilder({ opsets: { '': opset } });

describe('elementwise', () => {
  it('broadcasts symbolic dims', () => {
    const b = builder();
    const scores = b.input('scores', 'float32', ['batch_size', 4, 'sequence_length', 'past_sequence_length + sequence_length']);
    const mask = b.input('mask', 'float32', ['batch_size', 1, 1, 'sequence_length + past_sequence_length']);
    const y = b.output(b.op('Add', [scores, mask]), 'y');
    const z = b.output(b.op('Mul', [b.input('a', 'float32', ['n', 1]), b.input('c', 'float32', [5])]), 'z');
    const u = b.output(b.op('Add', [b.input('p', 'float32', ['n']), b.input('q', 'float32', ['m'])]), 'u');
    const v = b.output(b.op('Add', [b.input('r', 'float32', [null, 3]), b.input('s', 'float32', ['k', 1])]), 'v');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 4, 'sequence_length', 'past_sequence_length + sequence_length']);
    expect(z.shape).toEqual(['n', 5]);
    expect(u.shape).toEqual([null]); // n vs m: either could be 1
    expect(v.shape).toEqual(['k', 3]);
  });

  it('reports dims that cannot broadcast', () => {
    const b = builder();
    b.output(b.op('Add', [b.input('a', 'float32', [2, 3]), b.input('c', 'float32', [4])], {}, { name: 'bad_add' }), 'y');
    const report = inferShapes(b.build());
    expect(report.errors.map((e) => e.message)).toEqual(["node 'bad_add' (Add): cannot broadcast [2,3] with [4]: dimension 1 is 3 vs 4"]);
  });

  it('gives comparisons and logic bool outputs, casts their target type, Where the value type', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['n', 3]);
    const lt = b.output(b.op('Less', [x, b.f32('zero', [], [0])]), 'lt');
    const notLt = b.output(b.op('Not', [lt]), 'not_lt');
    const asHalf = b.output(b.op('Cast', [x], { to: 10 }), 'half');
    const like = b.output(b.op('CastLike', [x, b.input('t', 'int32', [1])]), 'like');
    const w = b.output(b.op('Where', [lt, x, b.f32('m', [1], [-1])]), 'w');
    inferShapes(b.build());
    expect(lt.type).toEqual({ kind: 'tensor', dtype: 'bool', shape: ['n', 3] });
    expect(notLt.dtype).toBe('bool');
    expect(asHalf.dtype).toBe('float16');
    expect(like.dtype).toBe('int32');
    expect(w.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['n', 3] });
  });

  it('reports a Cast to an unknown type and mixed input types', () => {
    const b = builder();
    b.output(b.op('Cast', [b.input('x', 'float32', [2])], { to: 99 }, { name: 'bad_cast' }), 'y');
    b.output(b.op('Add', [b.input('a', 'float32', [2]), b.input('i', 'int64', [2])], {}, { name: 'mixed_add' }), 'z');
    const report = inferShapes(b.build());
    expect(report.errors.map((e) => e.message)).toEqual([
      "node 'bad_cast' (Cast): attribute 'to' is 99, not a known ONNX data type",
      "node 'mixed_add' (Add): input types differ: float32 and int64",
    ]);
  });
});

describe('Gather', () => {
  it('gathers on a negative axis with negative indices', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const y = b.output(b.op('Gather', [x, b.i64('idx', [2], [-1, 0])], { axis: -2 }), 'y');
    const last = b.output(b.op('Gather', [x, b.i64('i', [], [-1])], { axis: 1 }), 'last_token');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 2, 64]);
    expect(last.shape).toEqual(['batch_size', 64]);
  });

  it('reads dims out of shape vectors, with negative indices', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const shape = b.op('Shape', [x]);
    const seq = b.op('Gather', [shape, b.i64('m2', [], [-2])]);
    const pair = b.op('Gather', [shape, b.i64('pair', [2], [0, -2])]);
    const flat = b.op('Concat', [pair, b.i64('c', [1], [-1])], { axis: 0 });
    const y = b.output(b.op('Reshape', [x, flat]), 'y');
    const z = b.output(b.op('ConstantOfShape', [b.op('Unsqueeze', [seq, b.i64('ax', [1], [0])])]), 'z');
    inferShapes(b.build());
    expect(y.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(z.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: ['sequence_length'] });
  });

  it('reports indices out of range of a static dim', () => {
    const b = builder();
    b.output(b.op('Gather', [b.input('x', 'float32', [3, 4]), b.i64('i', [1], [4])], { axis: 1 }, { name: 'oob' }), 'y');
    const report = inferShapes(b.build());
    expect(report.errors[0].message).toBe("node 'oob' (Gather): index 4 is out of range for axis 1 of [3,4] (size 4)");
  });

  it('GatherElements / GatherND / ScatterND shapes', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['n', 4, 5]);
    const ge = b.output(b.op('GatherElements', [x, b.input('gi', 'int64', ['n', 4, 2])], { axis: 2 }), 'ge');
    const gnd = b.output(b.op('GatherND', [x, b.input('ni', 'int64', ['k', 2])]), 'gnd');
    const snd = b.output(b.op('ScatterND', [x, b.input('si', 'int64', [3, 1]), b.input('u', 'float32', [3, 4, 5])]), 'snd');
    inferShapes(b.build());
    expect(ge.shape).toEqual(['n', 4, 2]);
    expect(gnd.shape).toEqual(['k', 5]);
    expect(snd.shape).toEqual(['n', 4, 5]);
  });
});
