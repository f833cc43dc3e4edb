import { describe, expect, it } from 'vitest';
import { GraphBuilder, tensorType, type Dim, type Model, type Value } from '@fuselab/graph-core';
import { FP32_FUSION, validateModels } from '@fuselab/gpu-runtime';
import { fuseSkipLayerNorm } from '../src/passes/fuse-skip-layer-norm.ts';

const H = 8;
const BSH: Dim[] = ['batch_size', 'sequence_length', H];
const ramp = (n: number, a: number, b: number) => Array.from({ length: n }, (_, i) => a + b * i);
const weights = (k: number, n: number) => Array.from({ length: k * n }, (_, i) => Math.sin(i * 0.37) / Math.sqrt(k));

/** Gives `v` the type shape inference would (the builder leaves node outputs untyped). */
function typed(v: Value, shape: Dim[] | null): Value {
  v.type = tensorType('float32', shape);
  return v;
}

interface Block {
  /** 'ln': LayerNormalization, 'rms': SimplifiedLayerNormalization. */
  norm: 'ln' | 'rms';
  /** The attention-output operand is `Add(MatMul(a, W), B)`. */
  biased: boolean;
  /** The residual sum also feeds a second Add (pre-LN transformer). */
  residualRead: boolean;
  /** The skip is [1, S, H] (learned position embedding) instead of [B, S, H]. */
  broadcastSkip: boolean;
  /** Leave intermediate types unknown (a TorchScript export before shape inference). */
  untyped: boolean;
  /** Put the residual first in the Add. */
  residualFirst: boolean;
}

const block: Block = { norm: 'ln', biased: false, residualRead: false, broadcastSkip: false, untyped: false, residualFirst: false };

/** `y = Norm(h + f(a))` (+ `z = h + f(a) + y` when the residual is read again). */
function residualNorm(s: Block): Model {
  const b = new GraphBuilder();
  const a = b.input('a', 'float32', BSH);
  const h = b.input('h', 'float32', s.broadcastSkip ? [1, 'sequence_length', H] : BSH);
  let f = typed(b.op('Tanh', [a], {}, { name: '/attn/out' }), BSH);
  if (s.biased) {
    const mm = typed(b.op('MatMul', [f, b.f32('W', [H, H], weights(H, H))], {}, { name: '/attn/proj/MatMul' }), BSH);
    f = typed(b.op('Add', [b.f32('proj.bias', [H], ramp(H, -0.2, 0.05)), mm], {}, { name: '/attn/proj/Add' }), BSH);
  }
  const sum = typed(b.op('Add', s.residualFirst ? [h, f] : [f, h], {}, { name: '/block/Add' }), BSH);
  const gamma = b.f32('ln.weight', [H], ramp(H, 0.9, 0.03));
  const y = s.norm === 'ln'
    ? b.op('LayerNormalization', [sum, gamma, b.f32('ln.bias', [H], ramp(H, 0.1, -0.02))], { axis: -1, epsilon: { type: 'float', value: 1e-5 } }, { name: '/block/ln/LayerNormalization' })
    : b.op('SimplifiedLayerNormalization', [sum, gamma], { axis: -1, epsilon: { type: 'float', value: 1e-6 }, stash_type: 1 }, { name: '/block/ln/SimplifiedLayerNormalization' });
  typed(y, BSH);
  b.output(y, 'y');
  if (s.residualRead) b.output(b.op('Add', [sum, y], {}, { name: '/next/Add' }), 'z');
  if (s.untyped) for (const n of b.graph.nodes) for (const o of n.outputs) if (o && !o.isGraphOutput) o.type = null;
  return b.build();
}

async function expectSameOutputs(original: Model, fused: Model): Promise<void> {
  const r = await validateModels(original, fused, { tolerance: FP32_FUSION, inputSpec: { dims: { batch_size: 2, sequence_length: 5 } } });
  expect(r.passed, r.outputs.map((o) => `${o.name}: max abs ${o.maxAbsErr}, cos ${o.cosine}`).join('; ')).toBe(true);
}

const run = (m: Model, params: Record<string, unknown> = {}) => fuseSkipLayerNorm.run(m, {}, { absorbBias: true, allowSkipBroadcast: true, inferShapes: true, ...params });
const fusedNode = (m: Model) => m.graph.nodes.find((n) => n.opType.startsWith('Skip'))!;

describe('fuse-skip-layer-norm', () => {
  it('LayerNormalization(Add(a, b)) → SkipLayerNormalization(a, b, γ, β) with one output', async () => {
    const model = residualNorm(block);
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ SkipLayerNormalization: 1 });
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Tanh', 'SkipLayerNormalization']);
    const sln = fusedNode(model);
    expect(sln.domain).toBe('com.microsoft');
    expect(sln.inputs.map((v) => v?.name)).toEqual(['/attn/out_out0', 'h', 'ln.weight', 'ln.bias']);
    expect(sln.outputs).toHaveLength(1);
    expect(sln.attr('epsilon')).toEqual({ type: 'float', value: 1e-5 });
    expect(model.opset('com.microsoft')).toBe(1);
    await expectSameOutputs(original, model);
  });

  it('emits output 3 (input + skip) for a residual that is read again, and absorbs the MatMul bias', async () => {
    const model = residualNorm({ ...block, biased: true, residualRead: true });
    const original = model.clone();
    const r = run(model);
    expect(r.stats).toMatchObject({ fused: { SkipLayerNormalization: 1 }, biasAbsorbed: { SkipLayerNormalization: 1 }, residualOutput: { SkipLayerNormalization: 1 } });
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Tanh', 'MatMul', 'SkipLayerNormalization', 'Add']);
    const sln = fusedNode(model);
    expect(sln.inputs.map((v) => v?.name)).toEqual(['/attn/proj/MatMul_out0', 'h', 'ln.weight', 'ln.bias', 'proj.bias']);
    expect(sln.outputs).toHaveLength(4);
    const next = model.graph.nodes.find((n) => n.name === '/next/Add')!;
    expect(next.input(0)).toBe(sln.output(3));
    expect(r.provenance[0].sources.sort()).toEqual(['/attn/proj/Add', '/block/Add', '/block/ln/LayerNormalization']);
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'info', message: expect.stringMatching(/^bias 'proj.bias' of MatMul '\/attn\/proj\/MatMul' moved into SkipLayerNormalization/) })]);
    await expectSameOutputs(original, model);
  });

  it('keeps the bias Add when absorbBias is off', async () => {
    const model = residualNorm({ ...block, biased: true });
    const original = model.clone();
    run(model, { absorbBias: false });
    expect(model.graph.nodes.map((n) => n.opType)).toEqual(['Tanh', 'MatMul', 'Add', 'SkipLayerNormalization']);
    expect(fusedNode(model).inputs).toHaveLength(4);
    await expectSameOutputs(original, model);
  });

  it('takes a [1, S, H] operand as the broadcast skip, whichever side of the Add it is on', async () => {
    for (const [norm, residualFirst] of [['ln', false], ['ln', true], ['rms', true]] as const) {
      const model = residualNorm({ ...block, norm, broadcastSkip: true, residualFirst });
      const original = model.clone();
      run(model);
      expect(fusedNode(model).inputs.slice(0, 2).map((v) => v?.name)).toEqual(['/attn/out_out0', 'h']);
      await expectSameOutputs(original, model);
    }
  });

  it('refuses a broadcast skip when allowSkipBroadcast is off', () => {
    const model = residualNorm({ ...block, broadcastSkip: true });
    const r = run(model, { allowSkipBroadcast: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toMatch(/^residual Add operands \[batch_size,sequence_length,8\] and \[1,sequence_length,8\] do not fit/);
  });

  it('SimplifiedLayerNormalization(Add) → SkipSimplifiedLayerNormalization with bias (input 3) and output 3', async () => {
    const model = residualNorm({ ...block, norm: 'rms', biased: true, residualRead: true });
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ SkipSimplifiedLayerNormalization: 1 });
    const sln = fusedNode(model);
    expect(sln.qualifiedType).toBe('com.microsoft::SkipSimplifiedLayerNormalization');
    expect(sln.inputs.map((v) => v?.name)).toEqual(['/attn/proj/MatMul_out0', 'h', 'ln.weight', 'proj.bias']);
    expect(sln.attr('epsilon')).toEqual({ type: 'float', value: 1e-6 });
    await expectSameOutputs(original, model);
  });

  it('keeps graph output names when the residual sum is itself a graph output', async () => {
    const model = residualNorm(block);
    const sum = model.graph.nodes.find((n) => n.name === '/block/Add')!.output(0);
    model.graph.addOutput(sum);
    sum.name = 'hidden';
    const original = model.clone();
    run(model);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(['y', 'hidden']);
    expect(model.graph.outputs[1]).toBe(fusedNode(model).output(3));
    await expectSameOutputs(original, model);
  });

  it('infers missing shapes itself by default', async () => {
    const model = residualNorm({ ...block, biased: true, residualRead: true, untyped: true });
    const original = model.clone();
    const r = run(model);
    expect(r.stats).toMatchObject({ fused: { SkipLayerNormalization: 1 }, biasAbsorbed: { SkipLayerNormalization: 1 } });
    expect(r.stats.inferredTypes).toBeGreaterThan(0);
    await expectSameOutputs(original, model);
  });

  it('refuses when the shapes are unknown and shape inference is off, naming it', () => {
    const r = run(residualNorm({ ...block, untyped: true }), { inferShapes: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toBe('shapes of the residual Add are unknown (sum unknown, operands unknown and [batch_size,sequence_length,8]): run shape inference first');
  });

  it('refuses a 4-D residual', () => {
    const b = new GraphBuilder();
    const a = b.input('a', 'float32', [2, 2, 3, H]);
    const c = b.input('c', 'float32', [2, 2, 3, H]);
    const sum = typed(b.op('Add', [a, c]), [2, 2, 3, H]);
    b.output(b.op('LayerNormalization', [sum, b.f32('g', [H], ramp(H, 1, 0))], { axis: -1 }), 'y');
    const r = run(b.build());
    expect(r.diagnostics[0].message).toBe('the residual sum [2,2,3,8] is 4-D; Skip*Normalization takes 2-D or 3-D input');
  });

  it('leaves a norm whose input is not an Add alone, silently', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3, H]);
    b.output(b.op('LayerNormalization', [x, b.f32('g', [H], ramp(H, 1, 0))], { axis: -1 }), 'y');
    const r = run(b.build());
    expect(r.modified).toBe(false);
    expect(r.diagnostics).toEqual([]);
  });
});
