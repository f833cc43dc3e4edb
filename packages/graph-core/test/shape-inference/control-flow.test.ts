/**
 * If / Loop / Scan: output types from the subgraphs, inferred symbolically, and checked against
 * onnxruntime-web for concrete inputs.
 */
import { describe, expect, it } from 'vitest';
import { Graph, GraphBuilder, Tensor, serializeModelToBytes, type Model, type Value } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';
import { runOrt, type OrtTensorValue } from '../helpers/ort.ts';

const sub = (name: string): GraphBuilder => new GraphBuilder({ graph: new Graph(name) });
const f32 = (dims: number[]): OrtTensorValue => ({ dtype: 'float32', dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.5) });

/** Runs the model on onnxruntime and returns output dims by name. */
async function ortDims(model: Model, feeds: Record<string, OrtTensorValue>): Promise<Record<string, number[]>> {
  const out = await runOrt(serializeModelToBytes(model, { valueInfo: false }), feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.dims]));
}

/** A model whose If picks between x and concat(x, x). */
function ifModel(dims: Array<number | string>, cond: Value | 'input', b = new GraphBuilder({ opsets: { '': 17 } })): { model: Model; y: Value; z: Value } {
  const x = b.input('x', 'float32', dims);
  const c = cond === 'input' ? b.input('cond', 'bool', []) : cond;
  const t = sub('then');
  t.output(t.op('Identity', [x]), 'then_out');
  t.output(t.op('Relu', [x]), 'then_aux');
  const e = sub('else');
  e.output(e.op('Concat', [x, x], { axis: 0 }), 'else_out');
  e.output(e.op('Neg', [x]), 'else_aux');
  const [y, z] = b.opN('If', [c], { then_branch: t.graph, else_branch: e.graph }, 2);
  b.output(y, 'y');
  b.output(z, 'z');
  return { model: b.build(), y, z };
}

describe('If', () => {
  it('joins the branches: equal dims kept, differing dims unknown', async () => {
    const { model, y, z } = ifModel(['n', 4], 'input');
    const report = inferShapes(model);
    expect(report.errors).toEqual([]);
    expect(y.type).toEqual({ kind: 'tensor', dtype: 'float32', shape: [null, 4] });
    expect(z.shape).toEqual(['n', 4]);
    // the branch values themselves are typed
    const elseOut = model.graph.nodes[0].subgraphs()[1].outputs[0];
    expect(elseOut.shape).toEqual(['2*n', 4]);

    const concrete = ifModel([3, 4], 'input').model;
    inferShapes(concrete);
    const dims = await ortDims(concrete, { x: f32([3, 4]), cond: { dtype: 'bool', dims: [], data: Uint8Array.of(1) } });
    expect(dims.z).toEqual([3, 4]);
    expect(concrete.graph.outputs[1].shape).toEqual([3, 4]);
  });

  it('takes the known branch when the condition is a constant', () => {
    const b = new GraphBuilder({ opsets: { '': 17 } });
    const cond = b.initializer('c', Tensor.from('bool', [], Uint8Array.of(0)));
    const { model, y } = ifModel(['n', 4], cond, b);
    inferShapes(model);
    expect(y.shape).toEqual(['2*n', 4]);
  });
});

/** sum = x; for i < M: sum = sum + x, scan_i = sum * 2 */
function loopModel(m: number | 'input', xDims: Array<number | string>, grow = false): { model: Model; final: Value; scans: Value } {
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const x = b.input('x', 'float32', xDims);
  const trips = m === 'input' ? b.input('M', 'int64', []) : b.i64('M', [], [m]);
  const cond = b.initializer('cond', Tensor.from('bool', [], Uint8Array.of(1)));
  const body = sub('body');
  body.input('i', 'int64', []);
  const condIn = body.input('cond_in', 'bool', []);
  const acc = body.input('acc_in', 'float32', null);
  const next = grow ? body.op('Concat', [acc, x], { axis: 0 }) : body.op('Add', [acc, x]);
  body.output(body.op('Identity', [condIn]), 'cond_out');
  body.output(next, 'acc_out');
  body.output(body.op('Mul', [x, body.f32('two', [], [2])]), 'scan_out');
  const [final, scans] = b.opN('Loop', [trips, cond, x], { body: body.graph }, 2);
  b.output(final, 'final');
  b.output(scans, 'scans');
  return { model: b.build(), final, scans };
}

describe('Loop', () => {
  it('stacks scan outputs by the trip count and keeps loop-carried shapes', async () => {
    const { model, final, scans } = loopModel(5, ['n', 4]);
    const report = inferShapes(model);
    expect(report.errors).toEqual([]);
    expect(final.shape).toEqual(['n', 4]);
    expect(scans.shape).toEqual([5, 'n', 4]);

    const concrete = loopModel(5, [3, 4]).model;
    inferShapes(concrete);
    const dims = await ortDims(concrete, { x: f32([3, 4]) });
    expect(dims).toEqual({ final: [3, 4], scans: [5, 3, 4] });
    expect(concrete.graph.outputs.map((v) => v.shape)).toEqual([[3, 4], [5, 3, 4]]);
  });

  it('a carried value that changes shape becomes unknown along the changing dim; an unknown M leaves the scan length unknown', () => {
    const { model, final } = loopModel(3, ['n', 4], true);
    inferShapes(model);
    expect(final.shape).toEqual([null, 4]);
    const { model: m2, scans } = loopModel('input', ['n', 4]);
    const report = inferShapes(m2);
    expect(scans.shape).toEqual([null, 'n', 4]);
    expect(report.unresolved.find((u) => u.value === scans)?.reason).toBe('the loop trip count is not known');
  });
});

describe('Scan', () => {
  it('slices scan inputs for the body and stacks scan outputs', async () => {
    const build = (len: number | string): { model: Model; state: Value; ys: Value } => {
      const b = new GraphBuilder({ opsets: { '': 17 } });
      const init = b.input('init', 'float32', [4]);
      const xs = b.input('xs', 'float32', [len, 4]);
      const body = sub('body');
      const s = body.input('s_in', 'float32', null);
      const xt = body.input('x_t', 'float32', null);
      body.output(body.op('Add', [s, xt]), 's_out');
      body.output(body.op('Mul', [s, xt]), 'y_t');
      const [state, ys] = b.opN('Scan', [init, xs], { body: body.graph, num_scan_inputs: 1 }, 2);
      b.output(state, 'state');
      b.output(ys, 'ys');
      return { model: b.build(), state, ys };
    };
    const { model, state, ys } = build('steps');
    inferShapes(model);
    expect(state.shape).toEqual([4]);
    expect(ys.shape).toEqual(['steps', 4]);
    const concrete = build(6);
    inferShapes(concrete.model);
    const dims = await ortDims(concrete.model, { init: f32([4]), xs: f32([6, 4]) });
    expect(dims).toEqual({ state: [4], ys: [6, 4] });
    expect(concrete.ys.shape).toEqual([6, 4]);
  });
});
