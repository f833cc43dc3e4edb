import { describe, expect, it } from 'vitest';
import { dtypeToOnnx, GraphBuilder, type Model } from '@fuselab/graph-core';
import { eliminateIdentity } from '../src/passes/eliminate-identity.ts';
import { expectValid, opTypes } from './cleanup-test-utils.ts';

const run = (m: Model) => eliminateIdentity.run(m, {}, {});
const I64_MAX = 2n ** 63n - 1n;

describe('eliminate-identity', () => {
  it('removes a chain of no-op nodes and rewires readers to the input', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 4]);
    let v = b.op('Identity', [x], {}, { name: 'id' });
    v = b.op('Dropout', [v], {}, { name: 'drop' });
    v = b.opN('Dropout', [v, null, b.initializer('train', 'bool', [], Uint8Array.of(0))], {}, 2, { name: 'drop_mask' })[0];
    v = b.op('Cast', [v], { to: dtypeToOnnx('float32') }, { name: 'cast' });
    v = b.op('Reshape', [v, b.i64('s', [2], [0, -1])], {}, { name: 'reshape' });
    v = b.op('Transpose', [v], { perm: [0, 1] }, { name: 'transpose' });
    v = b.op('Slice', [v, b.i64('st', [1], [0]), b.initializer('en', 'int64', [1], BigInt64Array.of(I64_MAX)), b.i64('ax', [1], [-1])], {}, { name: 'slice' });
    v = b.op('Expand', [v, b.i64('e', [2], [1, 4])], {}, { name: 'expand' });
    v = b.op('Concat', [v], { axis: 0 }, { name: 'concat' });
    b.output(b.op('Relu', [v], {}, { name: 'relu' }), 'y');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(opTypes(m)).toEqual(['Relu']);
    expect(m.graph.nodes[0].input(0)).toBe(x);
    expect(r.stats.eliminated).toEqual({ Identity: 1, Dropout: 2, Cast: 1, Reshape: 1, Transpose: 1, Slice: 1, Expand: 1, Concat: 1 });
    expect(r.removed.find((e) => e.node === 'slice')?.reason).toBe("slice-covers-all: output replaced by its input 'x'");
    await expectValid(original, m);
  });

  it('keeps graph output names: the producer takes the name, or an Identity stays', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 3]);
    const relu = b.op('Relu', [x], {}, { name: 'relu' });
    relu.type = x.type;
    b.output(b.op('Identity', [relu], {}, { name: 'id' }), 'y');
    b.output(b.op('Cast', [x], { to: dtypeToOnnx('float32') }, { name: 'cast_input' }), 'x_copy');
    b.output(b.op('Identity', [x], {}, { name: 'id_input' }), 'x_copy2');
    b.output(b.op('Reshape', [relu, b.i64('s', [2], [0, 3])], {}, { name: 'reshape_to_output' }), 'y2');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(m.graph.outputs.map((o) => o.name)).toEqual(['y', 'x_copy', 'x_copy2', 'y2']);
    // relu's output became 'y'; the Cast of a graph input became an Identity; y2 needs an Identity of y
    expect(m.graph.outputs[0].producer?.name).toBe('relu');
    expect(opTypes(m)).toEqual(['Relu', 'Identity', 'Identity', 'Identity']);
    expect(r.stats).toEqual({ eliminated: { Identity: 1, Cast: 1, Reshape: 1 }, keptAsIdentity: 2 });
    expect(r.provenance.map((p) => [p.opType, p.sources])).toEqual([['Identity', ['cast_input']], ['Identity', ['reshape_to_output']]]);
    await expectValid(original, m);
    // a second run changes nothing (no ping-pong between Identity and rename)
    expect(run(m).modified).toBe(false);
  });

  it('explains near misses and leaves real work alone', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 4]);
    const [d, mask] = b.opN('Dropout', [x], {}, 2, { name: 'drop_used_mask' });
    const t = b.op('Dropout', [x, b.f32('ratio', [], [0.5]), b.initializer('training', 'bool', [], Uint8Array.of(1))], {}, { name: 'drop_training' });
    const untyped = b.op('Relu', [x]);
    untyped.type = null;
    const c = b.op('Cast', [untyped], { to: dtypeToOnnx('float32') }, { name: 'cast_unknown' });
    const r1 = b.op('Reshape', [x, b.i64('s', [2], [-1, 2])], {}, { name: 'real_reshape' });
    const s1 = b.op('Slice', [x, b.i64('st', [1], [1]), b.i64('en', [1], [4]), b.i64('ax', [1], [1])], {}, { name: 'real_slice' });
    const t1 = b.op('Transpose', [x], { perm: [1, 0] }, { name: 'real_transpose' });
    const e1 = b.op('Expand', [x, b.i64('e', [3], [2, 1, 4])], {}, { name: 'real_expand' });
    for (const [i, v] of [d, mask, t, c, r1, s1, t1, e1].entries()) b.output(v, `o${i}`);
    const m = b.build();
    const before = opTypes(m);
    const r = run(m);
    expect(r.modified).toBe(false);
    expect(opTypes(m)).toEqual(before);
    expect(r.diagnostics.map((x) => [x.rule, x.nodes[0], x.message])).toEqual([
      ['dropout', 'drop_used_mask', "the mask output 'o1' is used"],
      ['dropout', 'drop_training', "training_mode 'training' is not a constant false"],
      ['cast-same-type', 'cast_unknown', "the element type of 'Relu_out0' is unknown (run shape inference first)"],
    ]);
  });
});
