import { describe, expect, it } from 'vitest';
import { Graph, GraphBuilder, GraphMutationError, Node, OnnxModelError, Tensor, Value, tensorType } from '../../src/index.ts';

function mlp() {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['batch', 4]);
  const w = b.f32('w', [4, 4], Array.from({ length: 16 }, (_, i) => i / 16));
  const bias = b.f32('b', [4], [0.1, 0.2, 0.3, 0.4]);
  const mm = b.op('MatMul', [x, w], {}, { name: 'mm' });
  const add = b.op('Add', [mm, bias], {}, { name: 'add' });
  const y = b.op('Relu', [add], {}, { name: 'relu' });
  b.output(y, 'y');
  return { b, x, w, bias, mm, add, y, model: b.build() };
}

describe('Value uses and producers', () => {
  it('tracks producer and uses through the builder', () => {
    const { x, mm, add, y } = mlp();
    expect(mm.producer?.opType).toBe('MatMul');
    expect(x.producer).toBeNull();
    expect(x.uses.map((u) => [u.node.name, u.index])).toEqual([['mm', 0]]);
    expect(mm.uses.map((u) => u.node.name)).toEqual(['add']);
    expect(add.producerIndex).toBe(0);
    expect(y.isGraphOutput).toBe(true);
  });

  it('setInput keeps use lists right, including repeated use of one value', () => {
    const g = new Graph();
    const a = g.addInput('a', tensorType('float32', [2]));
    const n = g.createNode({ opType: 'Mul', inputs: [a, a] });
    expect(a.uses.map((u) => u.index)).toEqual([0, 1]);
    const b2 = g.addInput('b', tensorType('float32', [2]));
    n.setInput(1, b2);
    expect(a.uses.map((u) => u.index)).toEqual([0]);
    expect(b2.uses.map((u) => u.index)).toEqual([1]);
  });
});

describe('replaceAllUsesWith', () => {
  it('rewires every use and refuses to touch graph outputs unless asked', () => {
    const { model, mm, add, y } = mlp();
    const g = model.graph;
    g.replaceAllUsesWith(add, mm);
    expect(add.useCount).toBe(0);
    expect(mm.uses.map((u) => u.node.name).sort()).toEqual(['add', 'relu']);
    const other = g.addInput('z', tensorType('float32', ['batch', 4]));
    expect(() => g.replaceAllUsesWith(y, other)).toThrow(GraphMutationError);
    g.replaceAllUsesWith(y, other, { replaceGraphOutputs: true });
    expect(g.outputs[0]).toBe(other);
  });

  it('rewires uses inside subgraphs (outer-scope captures)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    const c = b.input('c', 'bool', []);
    const then = new Graph('then');
    const t = then.createNode({ opType: 'Neg', inputs: [x] });
    then.addOutput(t.output(0));
    const els = new Graph('else');
    const e = els.createNode({ opType: 'Abs', inputs: [x] });
    els.addOutput(e.output(0));
    const ifOut = b.op('If', [c], { then_branch: then, else_branch: els });
    b.output(ifOut, 'y');
    const g = b.graph;
    expect(then.parent).toBe(g);
    expect(g.capturedValues().size).toBe(0);
    expect([...then.capturedValues()]).toEqual([x]);
    const x2 = g.addInput('x2', tensorType('float32', [2]));
    g.replaceAllUsesWith(x, x2);
    expect(t.input(0)).toBe(x2);
    expect(e.input(0)).toBe(x2);
  });
});

describe('topological order', () => {
  it('is stable for sorted graphs and repairs unsorted insertion', () => {
    const g = new Graph();
    const a = g.addInput('a', tensorType('float32', [1]));
    const v1 = new Value('v1');
    const v2 = new Value('v2');
    // consumer added before producer
    const n2 = g.addNode(new Node({ opType: 'Relu', name: 'second', inputs: [v1], outputs: [v2] }));
    const n1 = g.addNode(new Node({ opType: 'Neg', name: 'first', inputs: [a], outputs: [v1] }));
    g.addOutput(v2);
    expect(g.nodes).toEqual([n1, n2]);
    // snapshot: removing while iterating is safe
    for (const n of g.nodes) if (n === n2) { g.removeOutput(v2); g.removeNode(n2); }
    expect(g.nodes).toEqual([n1]);
  });

  it('names the nodes of a cycle', () => {
    const g = new Graph('cyc');
    const v1 = new Value('v1');
    const v2 = new Value('v2');
    g.addNode(new Node({ opType: 'Relu', name: 'A', inputs: [v2], outputs: [v1] }));
    g.addNode(new Node({ opType: 'Neg', name: 'B', inputs: [v1], outputs: [v2] }));
    expect(() => g.nodes).toThrow(OnnxModelError);
    expect(() => g.nodes).toThrow(/cycle between nodes 'A' \(Relu\) -> 'B' \(Neg\) -> 'A'/);
  });

  it('orders a 20k-node chain without recursion limits', () => {
    const b = new GraphBuilder();
    let v = b.input('x', 'float32', [1]);
    for (let i = 0; i < 20000; i++) v = b.op('Relu', [v]);
    b.output(v);
    const t0 = performance.now();
    expect(b.graph.nodes.length).toBe(20000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('removeNode and initializers', () => {
  it('refuses to remove a node whose output is still used or is a graph output', () => {
    const { model } = mlp();
    const g = model.graph;
    const mmNode = g.nodes.find((n) => n.name === 'mm')!;
    expect(() => g.removeNode(mmNode)).toThrow(/still used by 'add'/);
    const relu = g.nodes.find((n) => n.name === 'relu')!;
    expect(() => g.removeNode(relu)).toThrow(/graph output/);
  });

  it('removes dead nodes and unused initializers', () => {
    const { model, add, mm } = mlp();
    const g = model.graph;
    const relu = g.nodes.find((n) => n.name === 'relu')!;
    relu.setInput(0, mm);
    const addNode = add.producer!;
    g.removeNode(addNode);
    const bias = g.initializers.get('b')!;
    expect(bias.useCount).toBe(0);
    g.removeInitializer(bias);
    expect(g.initializers.has('b')).toBe(false);
    expect(g.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Relu']);
  });
});

describe('clone', () => {
  it('copies nodes and values, shares tensors, and keeps subgraph captures pointing at the copy', () => {
    const { model } = mlp();
    const c = model.clone();
    expect(c.graph.nodes.map((n) => n.name)).toEqual(model.graph.nodes.map((n) => n.name));
    expect(c.graph.nodes[0]).not.toBe(model.graph.nodes[0]);
    expect(c.graph.initializers.get('w')!.initializer!.bytes()).toBe(model.graph.initializers.get('w')!.initializer!.bytes());
    const cx = c.graph.inputs[0];
    expect(cx.uses[0].node.graph).toBe(c.graph);
    expect(model.graph.inputs[0].uses[0].node.graph).toBe(model.graph);
  });
});

describe('Tensor', () => {
  it('checks that byte count matches dims and dtype', () => {
    expect(() => new Tensor({ name: 't', dtype: 'float32', dims: [2, 3], storage: { kind: 'raw', bytes: new Uint8Array(20) } }).validate()).toThrow(/has 20 bytes of float32 data but dims \[2,3\] need 24/);
    expect(() => new Tensor({ name: 'q', dtype: 'int4', dims: [3], storage: { kind: 'raw', bytes: new Uint8Array(2) } }).validate()).not.toThrow();
  });

  it('converts float16 both ways with round-to-nearest-even', async () => {
    const { floatToHalf, halfToFloat } = await import('../../src/index.ts');
    for (const x of [0, 1, -2.5, 65504, 6.103515625e-5, 5.960464477539063e-8, 0.1]) {
      expect(halfToFloat(floatToHalf(x))).toBeCloseTo(x, 3);
    }
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(70000)).toBe(0x7c00);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });
});
