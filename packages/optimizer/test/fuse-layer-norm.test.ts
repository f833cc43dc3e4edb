import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Model, type Value } from '@fuselab/graph-core';
import { FP32_FUSION, validateModels } from '@fuselab/gpu-runtime';
import { fuseLayerNorm } from '../src/passes/fuse-layer-norm.ts';

const H = 8;
const gammaValues = Array.from({ length: H }, (_, i) => 1 + 0.05 * i);
const betaValues = Array.from({ length: H }, (_, i) => 0.1 - 0.02 * i);

/** Spelling of one decomposed LayerNorm. */
interface Spelling {
  square: 'pow' | 'mul';
  inverse: 'div' | 'reciprocal' | 'one-over' | 'pow-half';
  affine: 'gamma-beta' | 'gamma' | 'none';
  /** Put constants first in commutative ops and the variance second in the epsilon Add. */
  swapped: boolean;
  /** Epsilon from a Constant node rather than an initializer. */
  constantNode: boolean;
  opset: number;
  /** ReduceMean axes: [-1], or the positive last axis. */
  axes: number;
}

const base: Spelling = { square: 'pow', inverse: 'div', affine: 'gamma-beta', swapped: false, constantNode: false, opset: 17, axes: -1 };

/** Builds `y = LayerNorm(x)` spelled out in elementwise ops, x: [2, 3, 8] float32. */
function decomposed(s: Spelling, eps: number | number[] = 1e-5): Model {
  const b = new GraphBuilder({ opsets: { '': s.opset } });
  const x = b.input('x', 'float32', [2, 3, H]);
  const bin = (op: string, p: Value, q: Value, name: string) => b.op(op, s.swapped ? [q, p] : [p, q], {}, { name: `/ln/${name}` });
  const reduce = (v: Value, name: string) => s.opset >= 18
    ? b.op('ReduceMean', [v, b.i64(`${name}_axes`, [1], [s.axes])], { keepdims: 1 }, { name: `/ln/${name}` })
    : b.op('ReduceMean', [v], { axes: [s.axes], keepdims: 1 }, { name: `/ln/${name}` });
  const mean = reduce(x, 'mean');
  const d = b.op('Sub', [x, mean], {}, { name: '/ln/Sub' });
  const sq = s.square === 'pow' ? b.op('Pow', [d, b.f32('two', [], [2])], {}, { name: '/ln/Pow' }) : b.op('Mul', [d, d], {}, { name: '/ln/Square' });
  const variance = reduce(sq, 'var');
  const epsV = Array.isArray(eps) ? b.f32('eps', [eps.length], eps)
    : s.constantNode ? b.op('Constant', [], { value_float: { type: 'float', value: eps } }, { name: '/ln/eps' }) : b.f32('eps', [], [eps]);
  const sum = s.swapped ? b.op('Add', [epsV, variance], {}, { name: '/ln/AddEps' }) : b.op('Add', [variance, epsV], {}, { name: '/ln/AddEps' });
  let n: Value;
  if (s.inverse === 'pow-half') {
    n = bin('Mul', d, b.op('Pow', [sum, b.f32('minus_half', [], [-0.5])], {}, { name: '/ln/Rsqrt' }), 'Normalize');
  } else {
    const std = b.op('Sqrt', [sum], {}, { name: '/ln/Sqrt' });
    if (s.inverse === 'div') n = b.op('Div', [d, std], {}, { name: '/ln/Normalize' });
    else if (s.inverse === 'reciprocal') n = bin('Mul', d, b.op('Reciprocal', [std], {}, { name: '/ln/Reciprocal' }), 'Normalize');
    else n = bin('Mul', d, b.op('Div', [b.f32('one', [], [1]), std], {}, { name: '/ln/OneOver' }), 'Normalize');
  }
  let y = n;
  if (s.affine !== 'none') y = bin('Mul', y, b.f32('gamma', [H], gammaValues), 'Gamma');
  if (s.affine === 'gamma-beta') y = bin('Add', y, b.f32('beta', [H], betaValues), 'Beta');
  b.output(b.op('Relu', [y], {}, { name: '/after' }), 'y');
  return b.build();
}

async function expectSameOutputs(original: Model, fused: Model): Promise<void> {
  const r = await validateModels(original, fused, { tolerance: FP32_FUSION });
  expect(r.passed, r.outputs.map((o) => `${o.name}: max abs ${o.maxAbsErr}, cos ${o.cosine}`).join('; ')).toBe(true);
}

const variants: Array<[string, Partial<Spelling>]> = [
  ['Pow(d, 2) and Div(d, sqrt)', {}],
  ['Mul(d, d) and Mul(d, Reciprocal(sqrt)), constants first', { square: 'mul', inverse: 'reciprocal', swapped: true }],
  ['Mul(d, Div(1, sqrt)), epsilon from a Constant node', { inverse: 'one-over', constantNode: true }],
  ['Mul(d, Pow(var + eps, -0.5))', { inverse: 'pow-half' }],
  ['gamma only', { affine: 'gamma' }],
  ['no affine (unit scale is created)', { affine: 'none' }],
  ['opset 18: ReduceMean axes as an input, positive last axis', { opset: 18, axes: 2 }],
];

describe('fuse-layer-norm', () => {
  it.each(variants)('fuses %s into one LayerNormalization and matches in onnxruntime-web', async (_label, over) => {
    const s = { ...base, ...over };
    const model = decomposed(s);
    const original = model.clone();
    const r = fuseLayerNorm.run(model, {}, { allowBelowOpset17: false });
    expect(r.stats.fused).toEqual({ LayerNormalization: 1 });
    // a Constant node feeding the pattern is left for eliminate-dead-code (it may be shared)
    expect(model.graph.nodes.map((n) => n.opType).filter((t) => t !== 'Constant')).toEqual(['LayerNormalization', 'Relu']);
    const ln = model.graph.nodes.find((n) => n.opType === 'LayerNormalization')!;
    expect(ln.domain).toBe('');
    expect(ln.input(0).name).toBe('x');
    expect(ln.attrInt('axis')).toBe(-1);
    expect(ln.attrFloat('epsilon')).toBeCloseTo(1e-5, 10);
    expect(ln.attr('epsilon')?.type).toBe('float');
    expect(ln.inputs.length).toBe(s.affine === 'gamma-beta' ? 3 : 2);
    if (s.affine !== 'none') expect(ln.input(1).name).toBe('gamma');
    else expect(Array.from(ln.input(1).initializer?.data() as Float32Array)).toEqual(new Array(H).fill(1));
    expect(r.provenance).toHaveLength(1);
    expect(r.provenance[0].sources).toContain('/ln/mean');
    expect(r.provenance[0].sources).toContain('/ln/Sub');
    expect(r.provenance[0].rule).toBe('layer-norm');
    await expectSameOutputs(original, model);
  });

  it('refuses below opset 17 and says why, unless allowBelowOpset17 (onnxruntime still runs it)', async () => {
    const model = decomposed({ ...base, opset: 13 });
    const r = fuseLayerNorm.run(model, {}, { allowBelowOpset17: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(/^opset 13 < 17: LayerNormalization is not an ONNX op before opset 17/)]);
    const original = model.clone();
    const r2 = fuseLayerNorm.run(model, {}, { allowBelowOpset17: true });
    expect(r2.stats.fused).toEqual({ LayerNormalization: 1 });
    await expectSameOutputs(original, model);
  });

  it('refuses an epsilon that is not a scalar', () => {
    const model = decomposed(base, new Array(H).fill(1e-5));
    const r = fuseLayerNorm.run(model, {}, { allowBelowOpset17: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics).toEqual([expect.objectContaining({ rule: 'layer-norm', kind: 'rejected', message: "the epsilon Add's constant is not a scalar (shape [8])" })]);
  });

  it('refuses a normalization over another axis', () => {
    const model = decomposed({ ...base, axes: 1 });
    const r = fuseLayerNorm.run(model, {}, { allowBelowOpset17: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toBe('ReduceMean axes [1] is not the last axis (rank 3)');
  });

  it('leaves the pattern alone when an intermediate is read elsewhere', () => {
    const model = decomposed(base);
    const sub = model.graph.nodes.find((n) => n.name === '/ln/Sub');
    const b = new GraphBuilder({ graph: model.graph });
    b.output(b.op('Neg', [sub!.output(0)], {}, { name: '/spy' }), 'spy');
    const r = fuseLayerNorm.run(model, {}, { allowBelowOpset17: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toMatch(/is also read by '\/spy' \(Neg\) outside the pattern/);
  });

  it('does not take an RMSNorm for a LayerNorm', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, H]);
    const v = b.op('ReduceMean', [b.op('Pow', [x, b.f32('two', [], [2])])], { axes: [-1] });
    const n = b.op('Div', [x, b.op('Sqrt', [b.op('Add', [v, b.f32('eps', [], [1e-6])])])]);
    b.output(b.op('Mul', [n, b.f32('w', [H], gammaValues)]), 'y');
    const r = fuseLayerNorm.run(b.build(), {}, { allowBelowOpset17: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics).toEqual([]);
  });
});
