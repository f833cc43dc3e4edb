/**
 * The inference driver: the report, unknown ops, odd graphs (never a raw TypeError), strict mode,
 * merging with declared types, input-shape substitution, and model-local functions.
 */
import { describe, expect, it } from 'vitest';
import { Graph, GraphBuilder, Node, ShapeInferenceError, Tensor, Value, functionKey, tensorType, type Model, type ModelFunction } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';

const builder = (opset = 17): GraphBuilder => new GraphBuilder({ opsets: { '': opset } });

describe('the report', () => {
  it('counts inferred values and lists unknown ops; inference continues downstream', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 64]);
    const mystery = b.op('FancyOp', [x], {}, { domain: 'acme', name: 'fancy' });
    const after = b.output(b.op('Relu', [mystery]), 'after');
    const other = b.output(b.op('Tanh', [x]), 'other');
    const report = inferShapes(b.build());
    expect(report.unknownOps.map((u) => ({ node: u.node.name, opType: u.opType, domain: u.domain }))).toEqual([{ node: 'fancy', opType: 'FancyOp', domain: 'acme' }]);
    expect(mystery.type).toBe(null);
    expect(after.type).toBe(null);
    expect(other.shape).toEqual(['batch_size', 64]);
    expect(report.inferred).toBe(1);
    expect(report.unresolved.map((u) => [u.value.name, u.reason])).toEqual([
      [mystery.name, 'produced by acme::FancyOp, an op without a schema'],
      ['after', `input '${mystery.name}' of Relu 'Relu' is not fully known`],
    ]);
    expect(report.errors).toEqual([]);
  });

  it('uses the declared type of an unknown op output, so inference goes on', () => {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 64]);
    const mystery = b.op('FancyOp', [x], {}, { domain: 'acme' });
    mystery.type = tensorType('float32', ['batch_size', 32]);
    const y = b.output(b.op('MatMul', [mystery, b.f32('w', [32, 8], new Float32Array(256))]), 'y');
    inferShapes(b.build());
    expect(mystery.shape).toEqual(['batch_size', 32]);
    expect(y.shape).toEqual(['batch_size', 8]);
  });

  it('flags an op used below the opset that introduced it', () => {
    const b = builder(17);
    b.output(b.op('Gelu', [b.input('x', 'float32', [2])]), 'y');
    const report = inferShapes(b.build());
    expect(report.unknownOps.map((u) => u.opType)).toEqual(['Gelu']);
    expect(report.unresolved[0].reason).toBe("Gelu needs opset 20+ of 'ai.onnx', the model imports 17");
  });
});

describe('odd graphs', () => {
  it('never throws a raw error: missing inputs, wrong attribute types, extra inputs, untyped inputs', () => {
    const b = builder();
    const x = b.input('x', 'float32', [2, 3]);
    const untyped = b.graph.addInput(new Value('untyped'));
    b.node('Add', [x, null], {}, { name: 'half_add' });
    b.node('Softmax', [x], { axis: 'last' }, { name: 'string_axis' });
    b.node('Relu', [x, x], {}, { name: 'two_inputs' });
    b.node('Transpose', [x], { perm: [0, 0] }, { name: 'bad_perm' });
    b.node('Concat', [x], {}, { name: 'no_axis' });
    b.node('Reshape', [untyped, untyped], {}, { name: 'untyped_reshape' });
    b.node('Slice', [x, b.i64('s', [1], [0]), b.i64('e', [2], [1, 2])], {}, { name: 'ragged_slice' });
    b.node('If', [b.input('c', 'bool', [])], {}, { name: 'branchless_if' });
    const report = inferShapes(b.build());
    expect(report.errors.every((e) => e instanceof ShapeInferenceError)).toBe(true);
    expect(report.errors.map((e) => e.message)).toEqual([
      "node 'half_add' (Add): required input 1 ('B') is missing",
      "node 'string_axis' (Softmax): attribute 'axis' is string, expected int",
      "node 'two_inputs' (Relu): has 2 inputs; Relu@6 takes at most 1",
      "node 'bad_perm' (Transpose): perm [0,0] is not a permutation of the 2 dims of [2,3]",
      "node 'no_axis' (Concat): required attribute 'axis' is missing",
      "node 'ragged_slice' (Slice): starts has 1 entries but ends has 2",
      "node 'branchless_if' (If): needs then_branch and else_branch graphs",
    ]);
  });

  it('reports a cycle instead of throwing', () => {
    const b = builder();
    const x = b.input('x', 'float32', [2]);
    const a = b.node('Add', [x, x], {}, { name: 'a' });
    const c = b.node('Relu', [a.output(0)], {}, { name: 'c' });
    a.setInput(1, c.output(0));
    b.graph.invalidateOrder();
    const report = inferShapes(b.build());
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0].message).toMatch(/cannot be ordered: .*cycle between nodes/);
  });

  it('strict mode throws the first error', () => {
    const b = builder();
    b.node('MatMul', [b.input('a', 'float32', [2, 64]), b.input('w', 'float32', [32, 8])], {}, { name: 'mm' });
    expect(() => inferShapes(b.build(), { strict: true })).toThrow(ShapeInferenceError);
    expect(() => inferShapes(b.build(), { strict: true })).toThrow("node 'mm' (MatMul): inner dims differ");
  });
});

describe('declared types and substitution', () => {
  function declaredModel(): { model: Model; h: Value; y: Value } {
    const b = builder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const h = b.op('Relu', [x]);
    h.type = tensorType('float32', ['batch_size', 'unk__0', 64]);
    const y = b.output(b.op('FancyOp', [h], {}, { domain: 'acme' }), 'y');
    y.type = tensorType('float32', ['batch_size', 'unk__1', 10]);
    return { model: b.build(), h, y };
  }

  it('merges: inferred dims win, declared ones fill what inference cannot know', () => {
    const { model, h, y } = declaredModel();
    inferShapes(model);
    expect(h.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(y.shape).toEqual(['batch_size', 'unk__1', 10]);
  });

  it('overwrite: only what inference finds', () => {
    const { model, h, y } = declaredModel();
    inferShapes(model, { overwrite: true });
    expect(h.shape).toEqual(['batch_size', 'sequence_length', 64]);
    expect(y.type).toBe(null);
  });

  it('reports declared types that contradict inference', () => {
    const b = builder();
    const x = b.input('x', 'float32', [2, 64]);
    const y = b.output(b.op('MatMul', [x, b.f32('w', [64, 32], new Float32Array(2048))], {}, { name: 'mm' }), 'y');
    y.type = tensorType('float32', [2, 16]);
    const report = inferShapes(b.build());
    expect(report.errors.map((e) => e.message)).toEqual(["node 'mm' (MatMul): value 'y' is declared float32[2,16] but inferred float32[2,32] (dim 1 is 16 vs 32)"]);
    expect(y.shape).toEqual([2, 32]);
  });

  it('substitutes input shapes and the symbols they bind in the other inputs', () => {
    const b = builder();
    const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
    const mask = b.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
    const y = b.output(b.op('Add', [ids, mask]), 'y');
    const report = inferShapes(b.build(), { inputShapes: { input_ids: [2, 7] } });
    expect(report.errors).toEqual([]);
    expect(ids.shape).toEqual([2, 7]);
    expect(mask.shape).toEqual([2, 7]);
    expect(y.shape).toEqual([2, 7]);
  });

  it('rejects input shapes for inputs that do not exist', () => {
    const b = builder();
    b.input('x', 'float32', [2]);
    expect(() => inferShapes(b.build(), { inputShapes: { y: [2] } })).toThrow("inputShapes names 'y', which is not a graph input (inputs: x)");
  });
});

describe('model-local functions', () => {
  /** custom::SplitHeads(x) = Reshape(x, Constant(value_ints = @target)) * Constant(value_float = @scale) */
  function splitHeads(): ModelFunction {
    const body = new Graph('SplitHeads');
    const fb = new GraphBuilder({ graph: body });
    const x = body.addInput(new Value('x'));
    const target = fb.op('Constant', [], { value_ints: { type: 'ref', ref: 'target', refType: 'ints' } });
    const scale = fb.op('Constant', [], { value_float: { type: 'ref', ref: 'scale', refType: 'float' } });
    body.addOutput(fb.op('Mul', [fb.op('Reshape', [x, target]), scale]));
    return {
      domain: 'custom', name: 'SplitHeads', attributes: ['target', 'scale'],
      attributeDefaults: new Map([['scale', { type: 'float', value: 1 }]]),
      opsetImports: new Map([['', 17]]), body, metadata: new Map(),
    };
  }

  it('infers each call by inferring the body with the call attributes', () => {
    const b = new GraphBuilder({ opsets: { '': 17, custom: 1 } });
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', 64]);
    const four = b.output(b.op('SplitHeads', [x], { target: [0, 0, 4, -1] }, { domain: 'custom' }), 'four');
    const two = b.output(b.op('SplitHeads', [x], { target: [0, 0, 2, -1], scale: 0.5 }, { domain: 'custom' }), 'two');
    const model = b.build();
    const fn = splitHeads();
    model.functions.set(functionKey(fn.domain, fn.name), fn);
    const report = inferShapes(model);
    expect(report.errors).toEqual([]);
    expect(report.unknownOps).toEqual([]);
    expect(four.shape).toEqual(['batch_size', 'sequence_length', 4, 16]);
    expect(two.shape).toEqual(['batch_size', 'sequence_length', 2, 32]);
    // the body's values get the join over both calls
    expect(fn.body.outputs[0].shape).toEqual(['batch_size', 'sequence_length', null, null]);
  });

  it('infers nested calls and reports errors inside bodies with the call chain', () => {
    const outer = new Graph('Outer');
    const ob = new GraphBuilder({ graph: outer });
    const x = outer.addInput(new Value('x'));
    outer.addOutput(ob.op('SplitHeads', [x], { target: { type: 'ref', ref: 'shape', refType: 'ints' } }, { domain: 'custom' }));
    const outerFn: ModelFunction = {
      domain: 'custom', name: 'Outer', attributes: ['shape'], attributeDefaults: new Map(),
      opsetImports: new Map([['', 17], ['custom', 1]]), body: outer, metadata: new Map(),
    };
    const b = new GraphBuilder({ opsets: { '': 17, custom: 1 } });
    const input = b.input('x', 'float32', [2, 8, 64]);
    const ok = b.output(b.op('Outer', [input], { shape: [2, 8, 8, 8] }, { domain: 'custom', name: 'call_ok' }), 'ok');
    b.output(b.op('Outer', [input], { shape: [3, -1, 7] }, { domain: 'custom', name: 'call_bad' }), 'bad');
    const model = b.build();
    const inner = splitHeads();
    model.functions.set(functionKey('custom', 'SplitHeads'), inner);
    model.functions.set(functionKey('custom', 'Outer'), outerFn);
    const report = inferShapes(model);
    expect(ok.shape).toEqual([2, 8, 8, 8]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0].message).toBe(
      `node '${inner.body.nodes[2].name}' (Reshape): cannot reshape [2,8,64] (1024 elements) to [3,-1,7]: 1024 is not divisible by 21 (in function 'custom::SplitHeads' called by '${outer.nodes[0].name}', in function 'custom::Outer' called by 'call_bad')`,
    );
  });

  it('reports recursion instead of overflowing the stack', () => {
    const body = new Graph('Loopy');
    const fb = new GraphBuilder({ graph: body });
    body.addOutput(fb.op('Loopy', [body.addInput(new Value('x'))], {}, { domain: 'custom' }));
    const b = new GraphBuilder({ opsets: { '': 17, custom: 1 } });
    b.output(b.op('Loopy', [b.input('x', 'float32', [1])], {}, { domain: 'custom' }), 'y');
    const model = b.build();
    model.functions.set(functionKey('custom', 'Loopy'), { domain: 'custom', name: 'Loopy', attributes: [], attributeDefaults: new Map(), opsetImports: new Map([['custom', 1]]), body, metadata: new Map() });
    const report = inferShapes(model);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0].message).toMatch(/function calls nest deeper than 32/);
  });
});

describe('constants', () => {
  it('reads Constant attributes of every kind and small initializers', () => {
    const b = builder();
    const t = b.output(b.op('Constant', [], { value: Tensor.from('float32', [2, 2], new Float32Array(4)) }), 't');
    const s = b.output(b.op('Constant', [], { value_strings: ['a', 'b', 'c'] }), 's');
    const f = b.output(b.op('Constant', [], { value_floats: [1.5, 2] }), 'f');
    const n = new Node({ opType: 'Constant', name: 'empty_constant', outputs: [new Value('nothing')] });
    b.graph.addNode(n);
    const report = inferShapes(b.build());
    expect(t.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: [2, 2] });
    expect(s.type).toEqual({ kind: 'tensor', dtype: 'string', shape: [3] });
    expect(f.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: [2] });
    expect(report.errors.map((e) => e.node)).toEqual(['empty_constant']);
  });
});
