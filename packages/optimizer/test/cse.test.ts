import { describe, expect, it } from 'vitest';
import { GraphBuilder, Tensor, type Model } from '@fuselab/graph-core';
import { resolveParams } from '../src/index.ts';
import { eliminateCommonSubexpressions as cse } from '../src/passes/eliminate-common-subexpressions.ts';
import { expectValid, opTypes } from './cleanup-test-utils.ts';

const run = (m: Model, p: Record<string, unknown> = {}) => cse.run(m, {}, { ...resolveParams(cse), ...p });
const i64 = (...v: number[]) => Tensor.from('int64', [v.length], BigInt64Array.from(v, BigInt));

/** The torchscript pattern: Shape → Gather(Constant) → Unsqueeze(Constant) → Concat → Reshape, written out twice. */
function repeatedShapeChains(): Model {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 'sequence_length', 8]);
  const heads = (k: number) => {
    const shape = b.op('Shape', [x], {}, { name: `shape${k}` });
    const idx = b.op('Constant', [], { value: Tensor.from('int64', [], BigInt64Array.of(0n)) }, { name: `c_idx${k}` });
    const d0 = b.op('Gather', [shape, idx], { axis: 0 }, { name: `gather${k}` });
    const axes = b.op('Constant', [], { value: i64(0) }, { name: `c_axes${k}` });
    const u = b.op('Unsqueeze', [d0, axes], {}, { name: `unsqueeze${k}` });
    const rest = b.op('Constant', [], { value: i64(-1, 2, 4) }, { name: `c_rest${k}` });
    const target = b.op('Concat', [u, rest], { axis: 0 }, { name: `concat${k}` });
    return b.op('Reshape', [x, target], {}, { name: `reshape${k}` });
  };
  const a = heads(1);
  const c = heads(2);
  b.output(b.op('Add', [b.op('Mul', [a, c], {}, { name: 'ac' }), b.op('Mul', [c, a], {}, { name: 'ca' })]), 'y');
  return b.build();
}

describe('eliminate-common-subexpressions', () => {
  it('collapses repeated Shape/Constant/Unsqueeze/Concat chains in one walk (commutative inputs too)', async () => {
    const m = repeatedShapeChains();
    const original = m.clone();
    const r = run(m);
    expect(opTypes(m)).toEqual(['Shape', 'Constant', 'Gather', 'Constant', 'Unsqueeze', 'Constant', 'Concat', 'Reshape', 'Mul', 'Add']);
    expect(r.stats.merged).toEqual({ Shape: 1, Constant: 3, Gather: 1, Unsqueeze: 1, Concat: 1, Reshape: 1, Mul: 1 });
    expect(r.removed.find((e) => e.node === 'reshape2')?.reason).toBe("same as 'reshape1'");
    const add = m.graph.nodes[9];
    expect(add.input(0)).toBe(add.input(1));
    await expectValid(original, m, { inputSpec: { dims: { batch: 2, sequence_length: 3 } } });
  });

  it('deduplicates small identical constants, not different dtypes, big ones or graph outputs', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'int64', [3]);
    const k1 = b.i64('k1', [3], [1, 2, 3]);
    const k2 = b.i64('k2', [3], [1, 2, 3]);
    const k3 = b.initializer('k3', 'int32', [3], Int32Array.of(1, 2, 3));
    const big1 = b.f32('big1', [2048], new Float32Array(2048));
    const big2 = b.f32('big2', [2048], new Float32Array(2048));
    b.output(b.op('Add', [x, k1]), 'a');
    b.output(b.op('Sub', [x, k2]), 'b');
    b.output(b.op('Cast', [k3], { to: 7 }), 'c');
    b.output(b.op('Concat', [big1, big2], { axis: 0 }), 'd');
    b.output(b.op('Neg', [x]), 'n1');
    b.output(b.op('Neg', [x]), 'n2');
    const m = b.build();
    const r = run(m);
    expect([...m.graph.initializers.keys()].sort()).toEqual(['big1', 'big2', 'k1', 'k3']);
    expect(r.stats).toEqual({ merged: {}, constants: 1, keptForOutputs: 1 });
    expect(run(m, { maxConstantBytes: 16384 }).stats.constants).toBe(1);
    expect([...m.graph.initializers.keys()].sort()).toEqual(['big1', 'k1', 'k3']);
  });

  it('never merges nondeterministic ops or nodes whose attributes differ', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3]);
    const r1 = b.op('RandomNormalLike', [x]);
    const r2 = b.op('RandomNormalLike', [x]);
    const t1 = b.op('Transpose', [x], { perm: [1, 0] });
    const s1 = b.op('Softmax', [x], { axis: 0 });
    const s2 = b.op('Softmax', [x], { axis: 1 });
    b.output(b.op('Sum', [r1, r2, s1, s2]), 'y');
    b.output(t1, 't');
    const m = b.build();
    expect(run(m).modified).toBe(false);
  });
});
