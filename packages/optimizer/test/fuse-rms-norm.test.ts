import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Model, type Value } from '@fuselab/graph-core';
import { FP32_FUSION, validateModels } from '@fuselab/gpu-runtime';
import { fuseRmsNorm } from '../src/passes/fuse-rms-norm.ts';

const H = 8;
const weight = Array.from({ length: H }, (_, i) => 1 + 0.1 * Math.sin(i));
const FLOAT = 1;

interface Spelling {
  /** HF Llama TorchScript: `Cast Pow ReduceMean Add Sqrt Div(1, ·) Mul Cast Mul(w, ·)`. */
  hfCasts: boolean;
  square: 'pow' | 'mul';
  inverse: 'one-over' | 'reciprocal' | 'div' | 'pow-half';
  /** Whether the (first) Cast's output also feeds a residual Add, as in TorchScript's Llama. */
  residualReadsCast: boolean;
  /** Declare x's dtype (as shape inference or value_info would); without it a Cast can't be proven a no-op. */
  typedInput: boolean;
  axesInput: boolean;
}

const hf: Spelling = { hfCasts: true, square: 'pow', inverse: 'one-over', residualReadsCast: false, typedInput: true, axesInput: false };

/** `y = RMSNorm(h) · w` where h = x + 1 (so the norm's input is a node output, like a residual). */
function rmsNorm(s: Spelling): Model {
  const b = new GraphBuilder({ opsets: { '': s.axesInput ? 18 : 17 } });
  const x = b.input('x', 'float32', ['batch_size', 'sequence_length', H]);
  const h = b.op('Add', [x, b.f32('one', [], [1])], {}, { name: '/h' });
  if (!s.typedInput) h.type = null;
  else h.type = { kind: 'tensor', dtype: 'float32', shape: ['batch_size', 'sequence_length', H] };
  const x32 = s.hfCasts ? b.op('Cast', [h], { to: FLOAT }, { name: '/norm/Cast' }) : h;
  const sq = s.square === 'pow' ? b.op('Pow', [x32, b.f32('two', [], [2])], {}, { name: '/norm/Pow' }) : b.op('Mul', [x32, x32], {}, { name: '/norm/Square' });
  const mean = s.axesInput
    ? b.op('ReduceMean', [sq, b.i64('axes', [1], [-1])], { keepdims: 1 }, { name: '/norm/ReduceMean' })
    : b.op('ReduceMean', [sq], { axes: [-1], keepdims: 1 }, { name: '/norm/ReduceMean' });
  const v = b.op('Add', [mean, b.f32('eps', [], [1e-6])], {}, { name: '/norm/Add' });
  let n: Value;
  if (s.inverse === 'pow-half') n = b.op('Mul', [x32, b.op('Pow', [v, b.f32('mhalf', [], [-0.5])], {}, { name: '/norm/Rsqrt' })], {}, { name: '/norm/Mul' });
  else {
    const std = b.op('Sqrt', [v], {}, { name: '/norm/Sqrt' });
    if (s.inverse === 'div') n = b.op('Div', [x32, std], {}, { name: '/norm/Div' });
    else if (s.inverse === 'reciprocal') n = b.op('Mul', [b.op('Reciprocal', [std], {}, { name: '/norm/Reciprocal' }), x32], {}, { name: '/norm/Mul' });
    else n = b.op('Mul', [x32, b.op('Div', [b.f32('one_f', [], [1]), std], {}, { name: '/norm/Div' })], {}, { name: '/norm/Mul' });
  }
  const back = s.hfCasts ? b.op('Cast', [n], { to: FLOAT }, { name: '/norm/Cast_1' }) : n;
  const y = b.op('Mul', [b.f32('norm.weight', [H], weight), back], {}, { name: '/norm/Mul_1' });
  b.output(y, 'y');
  if (s.residualReadsCast) b.output(b.op('Add', [x32, y], {}, { name: '/residual' }), 'residual');
  return b.build();
}

async function expectSameOutputs(original: Model, fused: Model): Promise<void> {
  const r = await validateModels(original, fused, { tolerance: FP32_FUSION });
  expect(r.passed, r.outputs.map((o) => `${o.name}: max abs ${o.maxAbsErr}, cos ${o.cosine}`).join('; ')).toBe(true);
}

const run = (m: Model) => fuseRmsNorm.run(m, {}, {});
const ops = (m: Model) => m.graph.nodes.map((n) => n.opType).filter((t) => t !== 'Constant');

describe('fuse-rms-norm', () => {
  it('fuses the HF Llama TorchScript form, Cast wrappers included, into SimplifiedLayerNormalization (domain "")', async () => {
    const model = rmsNorm(hf);
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ SimplifiedLayerNormalization: 1 });
    expect(ops(model)).toEqual(['Add', 'SimplifiedLayerNormalization']);
    const n = model.graph.nodes.find((x) => x.opType === 'SimplifiedLayerNormalization')!;
    expect(n.domain).toBe('');
    expect(n.inputs.map((v) => v?.name)).toEqual(['/h_out0', 'norm.weight']);
    expect(n.attrInt('axis')).toBe(-1);
    expect(n.attrInt('stash_type')).toBe(1);
    expect(n.attrFloat('epsilon')).toBeCloseTo(1e-6, 12);
    expect(model.graph.outputs[0].name).toBe('y');
    expect(r.provenance[0].sources.sort()).toEqual(['/norm/Add', '/norm/Cast', '/norm/Cast_1', '/norm/Div', '/norm/Mul', '/norm/Mul_1', '/norm/Pow', '/norm/ReduceMean', '/norm/Sqrt']);
    await expectSameOutputs(original, model);
  });

  it('reads past a no-op Cast that a residual also reads, and keeps the Cast for it', async () => {
    const model = rmsNorm({ ...hf, residualReadsCast: true });
    const original = model.clone();
    run(model);
    expect(ops(model)).toEqual(['Add', 'Cast', 'SimplifiedLayerNormalization', 'Add']);
    const n = model.graph.nodes.find((x) => x.opType === 'SimplifiedLayerNormalization')!;
    expect(n.input(0).name).toBe('/h_out0');
    expect(model.graph.nodes.find((x) => x.name === '/residual')!.input(0).producer?.opType).toBe('Cast');
    await expectSameOutputs(original, model);
  });

  it('reads the Cast when x has no known dtype (the Cast might convert) and shape inference is off', async () => {
    const model = rmsNorm({ ...hf, typedInput: false });
    const original = model.clone();
    fuseRmsNorm.run(model, {}, { inferShapes: false });
    expect(ops(model)).toEqual(['Add', 'Cast', 'SimplifiedLayerNormalization']);
    expect(model.graph.nodes.find((x) => x.opType === 'SimplifiedLayerNormalization')!.input(0).producer?.opType).toBe('Cast');
    await expectSameOutputs(original, model);
  });

  it('infers the missing dtype itself (by default) and then reads past the no-op Cast', async () => {
    const model = rmsNorm({ ...hf, typedInput: false });
    const r = run(model);
    expect(r.stats.inferredTypes).toBeGreaterThan(0);
    expect(ops(model)).toEqual(['Add', 'SimplifiedLayerNormalization']);
  });

  it.each<[string, Partial<Spelling>]>([
    ['dynamo: Pow, ReduceMean(axes input), Sqrt, Reciprocal, Mul(w, ·)', { hfCasts: false, inverse: 'reciprocal', axesInput: true }],
    ['Mul(x, x) and Div(x, sqrt)', { hfCasts: false, square: 'mul', inverse: 'div' }],
    ['Mul(x, Pow(v + eps, -0.5))', { hfCasts: false, inverse: 'pow-half' }],
  ])('fuses %s', async (_label, over) => {
    const model = rmsNorm({ ...hf, ...over });
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ SimplifiedLayerNormalization: 1 });
    expect(ops(model)).toEqual(['Add', 'SimplifiedLayerNormalization']);
    await expectSameOutputs(original, model);
  });

  it('does not take a LayerNorm (mean subtracted) for an RMSNorm', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, H]);
    const d = b.op('Sub', [x, b.op('ReduceMean', [x], { axes: [-1] })]);
    const v = b.op('ReduceMean', [b.op('Pow', [d, b.f32('two', [], [2])])], { axes: [-1] });
    b.output(b.op('Div', [d, b.op('Sqrt', [b.op('Add', [v, b.f32('eps', [], [1e-5])])])]), 'y');
    const r = run(b.build());
    expect(r.modified).toBe(false);
    expect(r.diagnostics).toEqual([]);
  });

  it('says why when the epsilon Add adds a tensor', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, H]);
    const v = b.op('ReduceMean', [b.op('Pow', [x, b.f32('two', [], [2])])], { axes: [-1] });
    const n = b.op('Div', [x, b.op('Sqrt', [b.op('Add', [v, b.f32('eps', [2, 1], [1e-6, 1e-5])])])]);
    b.output(b.op('Mul', [n, b.f32('w', [H], weight)]), 'y');
    const r = run(b.build());
    expect(r.diagnostics.map((d) => d.message)).toEqual(["the epsilon Add's constant is not a scalar (shape [2,1])"]);
  });
});
