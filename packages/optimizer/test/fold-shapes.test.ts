import { describe, expect, it } from 'vitest';
import { dtypeToOnnx, GraphBuilder, tensorType, type Model, type Value } from '@fuselab/graph-core';
import { eliminateDeadCode, resolveParams, runPasses } from '../src/index.ts';
import { foldConstants } from '../src/passes/fold-constants.ts';
import { eliminateCommonSubexpressions } from '../src/passes/eliminate-common-subexpressions.ts';
import { eliminateIdentity } from '../src/passes/eliminate-identity.ts';
import { foldShapes, reshapeTargetFor } from '../src/passes/fold-shapes.ts';
import { parseProfileArg } from '../src/profiles.ts';
import { expectValid, expectWellFormed, opTypes } from './cleanup-test-utils.ts';

const run = (m: Model, profile = undefined as ReturnType<typeof parseProfileArg> | undefined) => foldShapes.run(m, { profile }, resolveParams(foldShapes));
const dce = (m: Model) => eliminateDeadCode.run(m, {}, {});
const constOf = (v: Value | null) => v?.initializer?.toNumbers() ?? null;

/** torchscript's split-heads: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), Unsqueeze(Gather(Shape(x), 1)), [4, 16])). */
function splitHeads(b: GraphBuilder, x: Value, tag: string): Value {
  const shape = b.op('Shape', [x], {}, { name: `${tag}/Shape` });
  const dim = (i: number) => b.op('Unsqueeze', [b.op('Gather', [shape, b.i64(`${tag}/i${i}`, [], [i])], { axis: 0 }, { name: `${tag}/Gather_${i}` }), b.i64(`${tag}/ax${i}`, [1], [0])]);
  const target = b.op('Concat', [dim(0), dim(1), b.i64(`${tag}/tail`, [2], [4, 16])], { axis: 0 }, { name: `${tag}/Concat` });
  return b.op('Reshape', [x, target], {}, { name: `${tag}/Reshape` });
}

describe('fold-shapes: Reshape targets in 0/-1 form', () => {
  it('reshapeTargetFor copies equal dims (0), keeps static ones and infers one (-1)', () => {
    expect(reshapeTargetFor(['b', 's', 64], ['b', 's', 4, 16], false)).toEqual([0, 0, 4, 16]);
    expect(reshapeTargetFor(['b', 's', 64], ['b*s', 64], false)).toEqual([-1, 64]);
    expect(reshapeTargetFor(['b', 's', 4, 16], ['b', 's', 64], false)).toEqual([0, 0, 64]);
    expect(reshapeTargetFor(['b*s', 192], ['b', 's', 192], false)).toMatch(/output dims 0 and 1 .* can infer only one \(-1\)/);
    expect(reshapeTargetFor(['b', 0], ['b', 0], false)).toEqual([0, 0]);
    expect(reshapeTargetFor(['b', 3], ['b', 0], false)).toMatch(/output dims/);
  });

  it('replaces a Shape→Gather→Unsqueeze→Concat target by a constant; the shape subgraph becomes dead', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'sequence_length', 64]);
    b.output(b.op('Relu', [splitHeads(b, x, 'attn')]), 'y');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(r.stats.folded).toEqual({ 'Reshape target': 1 });
    dce(m);
    expect(opTypes(m)).toEqual(['Reshape', 'Relu']);
    expect(constOf(m.graph.nodes[0].inputs[1])).toEqual([0, 0, 4, 16]);
    expect(m.graph.nodes[0].inputs[1]?.name).toBe('attn/Reshape_shape');
    await expectValid(original, m, { inputSpec: { dims: { batch: 2, sequence_length: 5 } } });
  });

  it('says why a target cannot be constant (two symbolic dims that are not copies)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'sequence_length', 64]);
    const flat = b.op('Reshape', [x, b.i64('flat', [2], [-1, 64])]);
    const shape = b.op('Shape', [x]);
    const back = b.op('Concat', [b.op('Slice', [shape, b.i64('s0', [1], [0]), b.i64('s1', [1], [2])]), b.i64('d', [1], [64])], { axis: 0 });
    b.output(b.op('Reshape', [b.op('Relu', [flat]), back], {}, { name: 'reshape_back' }), 'y');
    const m = b.build();
    const r = run(m);
    expect(r.diagnostics.filter((d) => d.kind === 'rejected')).toEqual([{
      pass: 'fold-shapes', rule: 'reshape-target', kind: 'rejected', nodes: ['reshape_back'],
      message: 'output dims 0 and 1 ([batch,sequence_length,64]) are neither static nor copies of input dims [batch*sequence_length,64]; a Reshape target can infer only one (-1)',
    }]);
  });
});

describe('fold-shapes: known contents', () => {
  it('folds Shape of a static value, and Gathers of the static dims of a symbolic shape', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 8, 4]);
    const w = b.input('w', 'float32', [3, 5]);
    const shape = b.op('Shape', [x], {}, { name: 'shape_x' });
    const inner = b.op('Mul', [b.op('Gather', [shape, b.i64('i1', [], [1])], { axis: 0 }, { name: 'g1' }), b.op('Gather', [shape, b.i64('i2', [], [2])], { axis: 0 }, { name: 'g2' })], {}, { name: 'inner' });
    b.output(b.op('ConstantOfShape', [b.op('Shape', [w], {}, { name: 'shape_w' })], {}, { name: 'zeros' }), 'z');
    b.output(b.op('Range', [b.i64('zero', [], [0]), inner, b.i64('one', [], [1])], {}, { name: 'range' }), 'r');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(r.stats.folded).toEqual({ Shape: 1, Mul: 1 });
    dce(m);
    expect(opTypes(m)).toEqual(['ConstantOfShape', 'Range']);
    expect(constOf(m.graph.nodes[0].inputs[0])).toEqual([3, 5]);
    expect(m.graph.nodes[0].inputs[0]?.name).toBe('shape_w_output_0');
    expect(constOf(m.graph.nodes[1].inputs[1])).toEqual([32]);
    // fold-constants then evaluates both (bit-exact), leaving nothing but the outputs' constants
    await expectValid(original, m);
  });

  it('gives repeated symbolic shape values one producer, so CSE merges the chains that read them', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'sequence_length', 64]);
    const q = splitHeads(b, b.op('Relu', [x], {}, { name: 'relu' }), 'q');
    const k = splitHeads(b, b.op('Sigmoid', [x], {}, { name: 'sigmoid' }), 'k');
    b.output(b.op('Add', [q, k]), 'y');
    const m = b.build();
    const original = m.clone();
    // Reshape targets off: only the value numbering is under test here
    const r = foldShapes.run(m, {}, { ...resolveParams(foldShapes), reshapeTargets: false });
    expect(r.stats.folded).toEqual({ 'same symbolic value': 6 });
    expect(r.removed.find((e) => e.node === 'k/Concat')?.reason).toBe("same value as 'q/Concat_out0' (batch, sequence_length, 4, 16)");
    eliminateCommonSubexpressions.run(m, {}, resolveParams(eliminateCommonSubexpressions));
    dce(m);
    expect(opTypes(m).filter((t) => ['Shape', 'Gather', 'Unsqueeze', 'Concat'].includes(t))).toEqual(['Shape', 'Gather', 'Unsqueeze', 'Gather', 'Unsqueeze', 'Concat']);
    await expectValid(original, m, { inputSpec: { dims: { batch: 2, sequence_length: 3 } } });
  });

  it('never points readers at a value nothing reads any more (left for dead-code elimination)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'sequence_length', 64]);
    b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [x], {}, { name: 'dead_shape' }), b.i64('i0', [], [0])], { axis: 0 }), b.i64('a0', [1], [0])]);
    b.output(b.op('Relu', [splitHeads(b, x, 'live')]), 'y');
    const m = b.build();
    const original = m.clone();
    foldShapes.run(m, {}, { ...resolveParams(foldShapes), reshapeTargets: false });
    expectWellFormed(m);
    dce(m);
    await expectValid(original, m, { inputSpec: { dims: { batch: 2, sequence_length: 3 } } });
  });

  it('does not trust declared value_info (traced sizes) nor integer Casts of float math', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 'sequence_length']);
    const relu = b.op('Relu', [x]);
    relu.type = tensorType('float32', [2, 8]); // what a tracer might have recorded
    const n = b.op('Gather', [b.op('Shape', [relu]), b.i64('i', [], [1])], { axis: 0 });
    const root = b.op('Cast', [b.op('Sqrt', [b.op('Cast', [b.op('Shape', [b.input('w', 'float32', [16])])], { to: dtypeToOnnx('float32') })])], { to: dtypeToOnnx('int64') }, { name: 'root' });
    b.output(b.op('Add', [n, root]), 'y');
    const m = b.build();
    const r = run(m);
    expect(relu.shape).toEqual(['batch', 'sequence_length']);
    expect(r.stats.folded).toEqual({ Shape: 1 });
    expect(opTypes(m)).toContain('Sqrt');
    // fold-constants takes it from there, exactly
    foldConstants.run(m, {}, resolveParams(foldConstants));
    expect(opTypes(m)).not.toContain('Sqrt');
  });
});

describe('fold-shapes: Expand and Slice', () => {
  it('writes Expand targets in 1-form, and says why when a dim is neither static nor the input\'s', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 1, 4]);
    const t = b.input('t', 'float32', ['batch', 'sequence_length', 4]);
    const batch = b.op('Slice', [b.op('Shape', [x]), b.i64('z', [1], [0]), b.i64('o', [1], [1])]);
    b.output(b.op('Expand', [x, b.op('Concat', [batch, b.i64('tail', [2], [3, 4])], { axis: 0 })], {}, { name: 'expand' }), 'e');
    b.output(b.op('Expand', [x, b.op('Shape', [t])], {}, { name: 'expand_to_t' }), 'f');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(r.stats.folded).toEqual({ 'Expand target': 1 });
    expect(constOf(m.graph.nodes.find((n) => n.name === 'expand')?.inputs[1] ?? null)).toEqual([1, 3, 4]);
    expect(r.diagnostics.filter((d) => d.kind === 'rejected').map((d) => [d.nodes[0], d.message])).toEqual([
      ['expand_to_t', "output dim 1 (sequence_length) is neither static nor the input's own dim 1"],
    ]);
    dce(m);
    await expectValid(original, m, { inputSpec: { dims: { batch: 2, sequence_length: 3 } } });
  });

  it('writes Slice ends that reach the dim as INT64_MAX; the covering Slice then goes', async () => {
    const b = new GraphBuilder();
    const t = b.input('t', 'float32', ['batch', 'sequence_length', 4]);
    const seq = b.op('Slice', [b.op('Shape', [t]), b.i64('a', [1], [1]), b.i64('b', [1], [2])]);
    b.output(b.op('Slice', [t, b.i64('zero', [1], [0]), seq, b.i64('axis', [1], [1])], {}, { name: 'slice_all' }), 's');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(r.stats.folded).toEqual({ 'Slice ends': 1 });
    const slice = m.graph.nodes.find((n) => n.name === 'slice_all');
    expect(slice?.inputs[2]?.initializer?.data()).toEqual(BigInt64Array.of(2n ** 63n - 1n));
    eliminateIdentity.run(m, {}, {});
    dce(m);
    expect(opTypes(m)).toEqual(['Identity']);
    await expectValid(original, m, { inputSpec: { dims: { batch: 2, sequence_length: 3 } } });
  });
});

describe('fold-shapes: profiles', () => {
  it('freezes the profile\'s fixed dims in the inputs and folds what they decide', async () => {
    const b = new GraphBuilder();
    const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
    const mask = b.input('attention_mask', 'int64', ['batch_size', 'past_sequence_length + sequence_length']);
    const seq = b.op('Gather', [b.op('Shape', [ids]), b.i64('one', [], [1])], { axis: 0 });
    const total = b.op('Gather', [b.op('Shape', [mask]), b.i64('one_b', [], [1])], { axis: 0 });
    const past = b.op('Sub', [total, seq], {}, { name: 'past' });
    b.output(b.op('Add', [b.op('Cast', [ids], { to: dtypeToOnnx('float32') }), b.op('Cast', [b.op('Unsqueeze', [past, b.i64('ax', [1], [0])])], { to: dtypeToOnnx('float32') })]), 'y');
    const m = b.build();
    const original = m.clone();
    const profile = parseProfileArg('decode:input_ids=1x1,1x1,1x1');
    const rec = runPasses(m, [{ pass: foldShapes }, { pass: foldConstants }, { pass: eliminateDeadCode }], { profile });
    expect(m.graph.inputs.map((v) => v.shape)).toEqual([[1, 1], [1, 'past_sequence_length + 1']]);
    expect(rec.diagnostics.find((d) => d.rule === 'profile')?.message).toBe("profile 'decode' froze input shapes: input_ids [1,1], attention_mask [1,past_sequence_length + 1]");
    // seq is 1 now; past = total - 1 stays a (smaller) computation
    expect(opTypes(m)).toEqual(['Shape', 'Gather', 'Sub', 'Cast', 'Unsqueeze', 'Cast', 'Add']);
    expect(constOf(m.graph.nodes[2].inputs[1])).toEqual([1]);
    await expectValid(original, m, { inputSpec: { dims: { batch_size: 1, sequence_length: 1, past_sequence_length: 6 } } });
  });
});
