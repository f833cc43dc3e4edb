import { describe, expect, it } from 'vitest';
import { dtypeToOnnx, GraphBuilder, serializeModelToBytes, Tensor, type DType, type Value } from '@fuselab/graph-core';
import { resolveParams } from '../src/index.ts';
import { foldConstants } from '../src/passes/fold-constants.ts';
import { expectBitExact, opTypes } from './cleanup-test-utils.ts';

const defaults = resolveParams(foldConstants);
const run = (m: Parameters<typeof foldConstants.run>[0], params: Record<string, unknown> = {}) => foldConstants.run(m, {}, { ...defaults, ...params });

const I64_MAX = 2n ** 63n - 1n;
const I64_MIN = -(2n ** 63n);

type Build = (b: GraphBuilder, c: Consts) => Value;

/** Constant makers: initializers by default, Constant nodes with `node: true`. */
class Consts {
  private k = 0;
  constructor(private readonly b: GraphBuilder) {}
  t(dtype: DType, dims: number[], data: ArrayBufferView, node = false): Value {
    const tensor = Tensor.from(dtype, dims, data);
    const name = `c${this.k++}`;
    return node ? this.b.op('Constant', [], { value: tensor }, { name }) : this.b.initializer(name, tensor);
  }
  i64(dims: number[], vals: Array<number | bigint>, node = false): Value {
    return this.t('int64', dims, BigInt64Array.from(vals, (v) => BigInt(v)), node);
  }
  i32(dims: number[], vals: number[]): Value {
    return this.t('int32', dims, Int32Array.from(vals));
  }
  f32(dims: number[], vals: number[], node = false): Value {
    return this.t('float32', dims, Float32Array.from(vals), node);
  }
  f64(dims: number[], vals: number[]): Value {
    return this.t('float64', dims, Float64Array.from(vals));
  }
  bool(dims: number[], vals: number[]): Value {
    return this.t('bool', dims, Uint8Array.from(vals));
  }
}

const to = (d: DType) => dtypeToOnnx(d);

/** Op-zoo cases: each folds to one constant and must give onnxruntime's exact bits. */
const CASES: Array<[string, Build, number?]> = [
  ['Add int64 wraps', (b, c) => b.op('Add', [c.i64([2], [I64_MAX, 5]), c.i64([2], [1, -7])])],
  ['Sub int32 wraps', (b, c) => b.op('Sub', [c.i32([2], [-2147483648, 3]), c.i32([1], [1])])],
  ['Mul int32 wraps', (b, c) => b.op('Mul', [c.i32([3], [65536, 123456789, -7]), c.i32([3], [65536, 987654321, 3])])],
  ['Mul int64 wraps', (b, c) => b.op('Mul', [c.i64([2], [2n ** 62n, -3]), c.i64([2], [4, 3])])],
  ['Div int64 truncates toward zero', (b, c) => b.op('Div', [c.i64([4], [-7, 7, -7, 7]), c.i64([4], [2, -2, -2, 2])])],
  ['Div int32', (b, c) => b.op('Div', [c.i32([2], [2147483647, -9]), c.i32([1], [4])])],
  ['Div float32 rounds once', (b, c) => b.op('Div', [c.f32([3], [1, 2, 3]), c.f32([3], [3, 7, 10])])],
  ['Add float32 broadcast', (b, c) => b.op('Add', [c.f32([2, 1], [0.1, 1e8]), c.f32([3], [0.2, 1, 3.3])])],
  ['Mod int64 (Python sign)', (b, c) => b.op('Mod', [c.i64([4], [-7, 7, -7, 7]), c.i64([4], [3, -3, -3, 3])])],
  ['Mod int64 fmod', (b, c) => b.op('Mod', [c.i64([2], [-7, 7]), c.i64([2], [3, -3])], { fmod: 1 })],
  ['Pow float32 exact results', (b, c) => b.op('Pow', [c.f32([3], [4, 16, 9]), c.f32([], [0.5])])],
  ['Pow float32 squares', (b, c) => b.op('Pow', [c.f32([3], [1.5, -3, 0.25]), c.f32([], [2])])],
  ['Pow int64', (b, c) => b.op('Pow', [c.i64([3], [3, -2, 10]), c.i64([3], [4, 3, 0])])],
  ['Sqrt float32', (b, c) => b.op('Sqrt', [c.f32([3], [2, 3, 0.5])])],
  ['Neg int32 wraps', (b, c) => b.op('Neg', [c.i32([2], [-2147483648, 5])])],
  ['Neg/Abs float32', (b, c) => b.op('Abs', [b.op('Neg', [c.f32([2], [-1.5, 2])])])],
  ['Reciprocal float32', (b, c) => b.op('Reciprocal', [c.f32([2], [3, 7])])],
  ['Floor/Ceil float32', (b, c) => b.op('Add', [b.op('Floor', [c.f32([2], [-1.5, 2.5])]), b.op('Ceil', [c.f32([2], [-1.5, 2.5])])])],
  ['Equal int64', (b, c) => b.op('Equal', [c.i64([3], [1, 2, 3]), c.i64([3], [1, 0, 3])])],
  ['Less/Greater float32', (b, c) => b.op('And', [b.op('Less', [c.f32([3], [1, 2, 3]), c.f32([], [2.5])]), b.op('Not', [b.op('Greater', [c.f32([3], [1, 2, 3]), c.f32([], [1.5])])])])],
  ['Or/Xor bool', (b, c) => b.op('Xor', [b.op('Or', [c.bool([4], [0, 1, 0, 1]), c.bool([4], [0, 0, 1, 1])]), c.bool([], [1])])],
  ['Where broadcasts', (b, c) => b.op('Where', [c.bool([2, 1], [1, 0]), c.f32([1, 3], [1, 2, 3]), c.f32([], [-1])])],
  ['Min float32 variadic', (b, c) => b.op('Min', [c.f32([3], [1, 5, -2]), c.f32([1], [0]), c.f32([3], [2, -7, 3])])],
  ['Max int64', (b, c) => b.op('Max', [c.i64([3], [1, 5, -2]), c.i64([3], [I64_MIN, 9, -1])])],
  ['Cast float32 → int64 truncates', (b, c) => b.op('Cast', [c.f32([4], [-2.7, 2.7, 1e10, -0.5])], { to: to('int64') })],
  ['Cast int64 → float32 rounds once', (b, c) => b.op('Cast', [c.i64([4], [2n ** 53n + 1n, 2n ** 60n + 2n ** 36n + 1n, -(2n ** 62n + 3n), 16777217])], { to: to('float32') })],
  ['Cast float32 → float16', (b, c) => b.op('Cast', [c.f32([5], [0.1, 65504, 1e-8, 70000, -2.5e-5])], { to: to('float16') })],
  ['Cast int64 → int32 wraps', (b, c) => b.op('Cast', [c.i64([3], [2n ** 40n + 5n, -1, 2n ** 31n])], { to: to('int32') })],
  ['Cast float32 → bool', (b, c) => b.op('Cast', [c.f32([3], [0, -0, 0.5])], { to: to('bool') })],
  ['Cast bool → float32', (b, c) => b.op('Cast', [c.bool([2], [1, 0])], { to: to('float32') })],
  ['Cast int32 → uint8 wraps', (b, c) => b.op('Cast', [c.i32([3], [300, -1, 7])], { to: to('uint8') })],
  ['Cast float64 → float32', (b, c) => b.op('Cast', [c.f64([2], [0.1, 1e-40])], { to: to('float32') })],
  ['Cast float16 → float32', (b, c) => b.op('Cast', [b.op('Cast', [c.f32([2], [0.1, 3])], { to: to('float16') })], { to: to('float32') })],
  ['Range float32 accumulates', (b, c) => b.op('Range', [c.f32([], [0]), c.f32([], [1]), c.f32([], [0.1])])],
  ['Range int64 descending', (b, c) => b.op('Range', [c.i64([], [10]), c.i64([], [-3]), c.i64([], [-4])])],
  ['ConstantOfShape int64', (b, c) => b.op('ConstantOfShape', [c.i64([2], [2, 3])], { value: Tensor.from('int64', [1], BigInt64Array.of(7n)) })],
  ['ConstantOfShape default float zero', (b, c) => b.op('ConstantOfShape', [c.i64([1], [4])])],
  ['Expand', (b, c) => b.op('Expand', [c.f32([3, 1], [1, 2, 3]), c.i64([3], [2, 3, 4])])],
  ['Tile', (b, c) => b.op('Tile', [c.i64([2, 3], [1, 2, 3, 4, 5, 6]), c.i64([2], [2, 2])])],
  ['Trilu upper k=1', (b, c) => b.op('Trilu', [c.f32([3, 4], Array.from({ length: 12 }, (_, i) => i + 1)), c.i64([], [1])])],
  ['Trilu lower k=-1', (b, c) => b.op('Trilu', [c.i64([2, 3, 3], Array.from({ length: 18 }, (_, i) => i)), c.i64([], [-1])], { upper: 0 })],
  ['Split sizes (opset 13)', (b, c) => b.op('Concat', b.opN('Split', [c.f32([2, 3], [1, 2, 3, 4, 5, 6]), c.i64([2], [1, 2])], { axis: 1 }, 2).reverse(), { axis: 1 })],
  ['Split num_outputs (opset 18)', (b, c) => b.op('Concat', b.opN('Split', [c.i64([7], [1, 2, 3, 4, 5, 6, 7])], { num_outputs: 3 }, 3).reverse(), { axis: 0 }), 18],
  ['Slice negative step', (b, c) => b.op('Slice', [c.i64([10], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), c.i64([1], [-1]), c.i64([1], [I64_MIN]), c.i64([1], [0]), c.i64([1], [-2])])],
  ['Slice clamps with axes', (b, c) => b.op('Slice', [c.f32([3, 4], Array.from({ length: 12 }, (_, i) => i)), c.i64([2], [1, -100]), c.i64([2], [1000, 2]), c.i64([2], [0, -1])])],
  ['Gather negative indices', (b, c) => b.op('Gather', [c.f32([2, 3], [1, 2, 3, 4, 5, 6]), c.i64([2, 2], [0, -1, 1, 1])], { axis: 1 })],
  ['Transpose', (b, c) => b.op('Transpose', [c.i64([2, 3, 4], Array.from({ length: 24 }, (_, i) => i))], { perm: [2, 0, 1] })],
  ['Concat axis -1', (b, c) => b.op('Concat', [c.i64([2, 1], [1, 2]), c.i64([2, 2], [3, 4, 5, 6])], { axis: -1 })],
  ['Unsqueeze/Squeeze/Reshape/Flatten', (b, c) => {
    const u = b.op('Unsqueeze', [c.f32([2, 3], [1, 2, 3, 4, 5, 6], true), c.i64([2], [0, -1], true)]);
    const s = b.op('Squeeze', [u, c.i64([1], [0])]);
    const r = b.op('Reshape', [s, c.i64([3], [0, -1, 1])]);
    return b.op('Flatten', [r], { axis: 2 });
  }],
  ['Shape(start,end) and Size of a constant (opset 15)', (b, c) => {
    const x = c.f32([2, 3, 4], new Array(24).fill(0));
    return b.op('Concat', [b.op('Shape', [x], { start: 1, end: -1 }), b.op('Unsqueeze', [b.op('Size', [x]), c.i64([1], [0])])], { axis: 0 });
  }, 15],
  ['ReduceSum int64 (axes input)', (b, c) => b.op('ReduceSum', [c.i64([2, 3], [1, 2, 3, 4, 5, 2n ** 40n]), c.i64([1], [1])], { keepdims: 0 })],
  ['ReduceProd int64 (axes attribute)', (b, c) => b.op('ReduceProd', [c.i64([2, 3], [1, 2, 3, 4, 5, 6])], { axes: [0] })],
  ['ReduceSum float32 of integers', (b, c) => b.op('ReduceSum', [c.f32([4], [1, 2, 3, 1e6])])],
  ['Identity of a Constant node', (b, c) => b.op('Identity', [c.f32([2], [1, 2], true)])],
  ['Shape → Gather → Unsqueeze → Concat chain', (b, c) => {
    const shape = b.op('Shape', [c.f32([2, 3, 4], new Array(24).fill(1))]);
    const d1 = b.op('Unsqueeze', [b.op('Gather', [shape, c.i64([], [1], true)], { axis: 0 }), c.i64([1], [0], true)]);
    return b.op('Concat', [d1, c.i64([1], [-1], true)], { axis: 0 });
  }],
];

describe('fold-constants: reference evaluator is bit-exact with onnxruntime', () => {
  it.each(CASES)('%s', async (_name, build, opset = 17) => {
    const b = new GraphBuilder({ opsets: { '': opset } });
    b.output(b.op('Identity', [build(b, new Consts(b))], {}, { name: 'out' }), 'y');
    const m = b.build();
    const before = serializeModelToBytes(m);
    const r = run(m);
    expect(r.modified).toBe(true);
    expect(opTypes(m)).toEqual(['Identity']);
    expect(m.graph.nodes[0].input(0).initializer).not.toBeNull();
    await expectBitExact(before, m);
  });
});

describe('fold-constants: rules and reports', () => {
  it('turns Constant nodes into initializers named after the node, and counts per op type', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 4]);
    const shift = b.op('Constant', [], { value: Tensor.from('float32', [4], Float32Array.of(1, 2, 3, 4)) }, { name: '/blk/Constant' });
    const axes = b.op('Constant', [], { value_ints: [0] }, { name: '/blk/Constant_1' });
    const bias = b.op('Unsqueeze', [shift, axes], {}, { name: '/blk/Unsqueeze' });
    b.output(b.op('Add', [x, bias], {}, { name: '/blk/Add' }), 'y');
    const m = b.build();
    const r = run(m);
    expect(opTypes(m)).toEqual(['Add']);
    expect(r.stats.folded).toEqual({ Constant: 2, Unsqueeze: 1 });
    expect(m.graph.nodes[0].input(1).name).toBe('/blk/Unsqueeze_output_0');
    expect(m.graph.nodes[0].input(1).initializer?.dims).toEqual([1, 4]);
    expect(r.removed.map((e) => [e.node, e.reason])).toEqual([
      ['/blk/Constant', 'folded to constant /blk/Constant_output_0'],
      ['/blk/Constant_1', 'folded to constant /blk/Constant_1_output_0'],
      ['/blk/Unsqueeze', 'folded to constant /blk/Unsqueeze_output_0'],
    ]);
  });

  it('never folds over maxOutputBytes: a big ConstantOfShape stays a node, with an info diagnostic', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1024, 1024]);
    const zeros = b.op('ConstantOfShape', [b.i64('shape', [2], [1024, 1024])], {}, { name: 'zeros' });
    b.output(b.op('Add', [x, zeros]), 'y');
    const m = b.build();
    const r = run(m);
    expect(opTypes(m)).toEqual(['ConstantOfShape', 'Add']);
    expect(r.modified).toBe(false);
    expect(r.stats.skipped).toEqual({ 'limit:ConstantOfShape': 1 });
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ pass: 'fold-constants', rule: 'size-cap', kind: 'info', nodes: ['zeros'] });
    expect(r.diagnostics[0].message).toMatch(/4\.0 MiB .* over maxOutputBytes 1\.0 MiB/);
    // the cap is a parameter
    const m2 = b.build();
    expect(run(m2, { maxOutputBytes: 8 * 1024 * 1024 }).stats.folded).toEqual({ ConstantOfShape: 1 });
  });

  it('does not copy weights: Transpose of a large table is skipped, Gather of one row folds', () => {
    const b = new GraphBuilder();
    const ids = b.input('ids', 'int64', ['n']);
    const table = b.f32('wte', [600, 512], new Float32Array(600 * 512).map((_, i) => i % 97));
    const lmHead = b.op('Transpose', [table], { perm: [1, 0] }, { name: 'lm_head_T' });
    const row = b.op('Gather', [table, b.i64('bos', [1], [3])], { axis: 0 }, { name: 'bos_row' });
    b.output(b.op('Gather', [table, ids], { axis: 0 }), 'emb');
    b.output(b.op('MatMul', [row, lmHead]), 'logits');
    const m = b.build();
    const r = run(m);
    expect(r.stats.folded).toEqual({ Gather: 1 });
    expect(opTypes(m)).toEqual(['Transpose', 'Gather', 'MatMul']);
    expect(r.diagnostics[0].message).toMatch(/reads 'wte' \(1\.2 MiB > largeInputBytes\)/);
    // opting in folds it (the output is under maxOutputBytes once that is raised)
    const again = b.build();
    expect(run(again, { largeInputMaxOutputBytes: 2 ** 21, maxOutputBytes: 2 ** 21 }).stats.folded).toEqual({ Transpose: 1 });
  });

  it('refuses float math it cannot prove exact, and says why', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1]);
    const p = b.op('Pow', [b.f32('two', [1], [2]), b.f32('half', [], [0.5])], {}, { name: 'sqrt2' });
    b.output(b.op('Mul', [x, p]), 'y');
    const m = b.build();
    const r = run(m);
    expect(r.stats.skipped).toEqual({ 'inexact:Pow': 1 });
    expect(r.diagnostics[0]).toMatchObject({ rule: 'inexact', nodes: ['sqrt2'] });
    expect(r.diagnostics[0].message).toMatch(/not exactly representable in float32/);
    expect(run(m, { exactOnly: false }).stats.folded).toEqual({ Pow: 1 });
  });

  it('refuses int64 reductions beyond 2^53 (onnxruntime accumulates them in float64)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'int64', [1]);
    const big = b.op('ReduceSum', [b.initializer('v', Tensor.from('int64', [2], BigInt64Array.of(2n ** 60n + 1n, 2n)))], { keepdims: 1 }, { name: 'big_sum' });
    const small = b.op('ReduceSum', [b.i64('w', [2], [2 ** 40, 5])], { keepdims: 1 }, { name: 'small_sum' });
    b.output(b.op('Add', [x, big]), 'y');
    b.output(b.op('Add', [x, small]), 'z');
    const m = b.build();
    const before = serializeModelToBytes(m);
    const r = run(m);
    expect(r.stats.folded).toEqual({ ReduceSum: 1 });
    expect(r.stats.skipped).toEqual({ 'inexact:ReduceSum': 1 });
    expect(r.diagnostics[0].message).toMatch(/beyond 2\^53 \(onnxruntime accumulates them in float64\)/);
    await expectBitExact(before, m, { x: { dtype: 'int64', dims: [1], data: BigInt64Array.of(3n) } });
  });

  it('leaves nodes that would fail at run time, graph outputs and overridable initializers alone', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'int64', [2]);
    const divZero = b.op('Div', [b.i64('a', [1], [1]), b.i64('zero', [1], [0])], {}, { name: 'div0' });
    b.output(b.op('Add', [x, divZero]), 'y');
    b.output(b.op('Neg', [b.i64('k', [1], [5])]), 'graph_out');
    const overridable = b.i64('override_me', [1], [1]);
    b.graph.addInput(overridable);
    b.output(b.op('Neg', [overridable]), 'z');
    const m = b.build();
    const r = run(m);
    expect(r.modified).toBe(false);
    expect(r.stats.skipped).toEqual({ 'invalid:Div': 1, 'graph output:Neg': 1 });
    expect(r.diagnostics.map((d) => d.message)).toEqual(["Div 'div0' not folded: integer Div by zero"]);
  });

  it('folds inside subgraphs, reading outer-scope constants', async () => {
    const body = new GraphBuilder({ name: 'then' });
    const outer = new GraphBuilder();
    const cond = outer.input('cond', 'bool', []);
    const k = outer.i64('k', [2], [3, 4]);
    const inner = body.graph;
    inner.parent = outer.graph;
    const y = body.op('Mul', [k, body.i64('two', [1], [2])], {}, { name: 'then/mul' });
    body.output(body.op('Identity', [y]), 'then_out');
    const els = new GraphBuilder({ name: 'else' });
    els.output(els.op('Identity', [k]), 'else_out');
    outer.output(outer.op('If', [cond], { then_branch: inner, else_branch: els.graph }), 'y');
    const m = outer.build();
    const before = serializeModelToBytes(m);
    const r = run(m);
    expect(r.stats.folded).toEqual({ Mul: 1 });
    expect(inner.nodes.map((n) => n.opType)).toEqual(['Identity']);
    await expectBitExact(before, m, { cond: { dtype: 'bool', dims: [], data: Uint8Array.of(1) } });
  });
});
