import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Model, type Value } from '@fuselab/graph-core';
import { FP32_FUSION, validateModels } from '@fuselab/gpu-runtime';
import { fuseGelu } from '../src/passes/fuse-gelu.ts';

const K = 8;
const N = 16;
const weights = Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.61) * 0.6);
const biasValues = Array.from({ length: N }, (_, i) => 0.3 * Math.sin(i));

/** How `0.5 · x · (1 + act)` is multiplied out. */
type Tail = 'x-then-half' | 'half-then-x' | 'half-x-first';

interface Spelling {
  form: 'erf' | 'tanh';
  tail: Tail;
  /** Constants on the left of commutative ops. */
  swapped: boolean;
  /** erf: x·(1/√2) instead of x/√2; tanh: x·x·x instead of Pow(x, 3). */
  alt: boolean;
  /** x = Add(MatMul(a, W), B). */
  biased: boolean;
  /** The bias Add's output is also read outside the GELU. */
  biasLeaks: boolean;
}

const base: Spelling = { form: 'erf', tail: 'x-then-half', swapped: false, alt: false, biased: false, biasLeaks: false };

function gelu(s: Spelling): Model {
  const b = new GraphBuilder();
  const a = b.input('a', 'float32', ['batch_size', 'sequence_length', K]);
  const c = (name: string, v: number) => b.f32(name, [], [v]);
  const mul = (p: Value, q: Value) => b.op('Mul', s.swapped ? [q, p] : [p, q]);
  const add = (p: Value, q: Value) => b.op('Add', s.swapped ? [q, p] : [p, q]);
  const mm = b.op('MatMul', [a, b.f32('W', [K, N], weights)], {}, { name: '/fc/MatMul' });
  const x = s.biased ? b.op('Add', [mm, b.f32('fc.bias', [N], biasValues)], {}, { name: '/fc/Add' }) : mm;
  let act: Value;
  if (s.form === 'erf') {
    act = b.op('Erf', [s.alt ? mul(x, c('inv_sqrt2', Math.SQRT1_2)) : b.op('Div', [x, c('sqrt2', Math.SQRT2)])]);
  } else {
    const cube = s.alt ? b.op('Mul', [b.op('Mul', [x, x]), x]) : b.op('Pow', [x, c('three', 3)]);
    act = b.op('Tanh', [mul(add(x, mul(cube, c('k', 0.044715))), c('s', Math.sqrt(2 / Math.PI)))]);
  }
  const onePlus = add(act, c('one', 1));
  let y: Value;
  if (s.tail === 'x-then-half') y = mul(mul(x, onePlus), c('half', 0.5));
  else if (s.tail === 'half-then-x') y = mul(mul(onePlus, c('half', 0.5)), x);
  else y = mul(mul(x, c('half', 0.5)), onePlus);
  b.output(y, 'y');
  if (s.biasLeaks) b.output(b.op('Neg', [x]), 'leak');
  return b.build();
}

async function expectSameOutputs(original: Model, fused: Model): Promise<void> {
  const r = await validateModels(original, fused, { tolerance: FP32_FUSION, inputSpec: { dims: { batch_size: 2, sequence_length: 3 } } });
  expect(r.passed, r.outputs.map((o) => `${o.name}: max abs ${o.maxAbsErr}, cos ${o.cosine}`).join('; ')).toBe(true);
}

const run = (m: Model, params: Record<string, unknown> = {}) => fuseGelu.run(m, {}, { absorbBias: true, silu: true, ...params });
const ops = (m: Model) => m.graph.nodes.map((n) => n.qualifiedType);

const tails: Tail[] = ['x-then-half', 'half-then-x', 'half-x-first'];

describe('fuse-gelu', () => {
  it.each(tails.flatMap((tail) => [false, true].map((swapped) => [tail, swapped] as const)))('erf GELU, tail %s, constants first: %s → Gelu', async (tail, swapped) => {
    const model = gelu({ ...base, tail, swapped, alt: swapped });
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ Gelu: 1 });
    expect(ops(model)).toEqual(['MatMul', 'com.microsoft::Gelu']);
    expect(model.opset('com.microsoft')).toBe(1);
    await expectSameOutputs(original, model);
  });

  it.each(tails.flatMap((tail) => [false, true].map((alt) => [tail, alt] as const)))('tanh GELU, tail %s, x·x·x: %s → FastGelu', async (tail, alt) => {
    const model = gelu({ ...base, form: 'tanh', tail, alt, swapped: alt });
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ FastGelu: 1 });
    expect(ops(model)).toEqual(['MatMul', 'com.microsoft::FastGelu']);
    await expectSameOutputs(original, model);
  });

  it('erf GELU of MatMul + B → BiasGelu(MatMul, B), and says where the bias went', async () => {
    const model = gelu({ ...base, biased: true });
    const original = model.clone();
    const r = run(model);
    expect(r.stats).toMatchObject({ fused: { BiasGelu: 1 }, biasAbsorbed: { BiasGelu: 1 } });
    expect(ops(model)).toEqual(['MatMul', 'com.microsoft::BiasGelu']);
    const n = model.graph.nodes[1];
    expect(n.inputs.map((v) => v?.name)).toEqual(['/fc/MatMul_out0', 'fc.bias']);
    expect(r.provenance[0].sources).toContain('/fc/Add');
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'info', rule: 'gelu-erf-bias', message: expect.stringMatching(/^bias 'fc.bias' of MatMul '\/fc\/MatMul' moved into BiasGelu/) })]);
    await expectSameOutputs(original, model);
  });

  it('tanh GELU of MatMul + B → FastGelu(MatMul, B)', async () => {
    const model = gelu({ ...base, form: 'tanh', tail: 'half-x-first', biased: true });
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ FastGelu: 1 });
    expect(model.graph.nodes[1].inputs.map((v) => v?.name)).toEqual(['/fc/MatMul_out0', 'fc.bias']);
    await expectSameOutputs(original, model);
  });

  it('keeps the bias Add when something else reads it (plain Gelu), or when absorbBias is off', async () => {
    const leaky = gelu({ ...base, biased: true, biasLeaks: true });
    const original = leaky.clone();
    run(leaky);
    expect(ops(leaky).sort()).toEqual(['Add', 'MatMul', 'Neg', 'com.microsoft::Gelu']);
    await expectSameOutputs(original, leaky);
    const off = gelu({ ...base, biased: true });
    run(off, { absorbBias: false });
    expect(ops(off)).toEqual(['MatMul', 'Add', 'com.microsoft::Gelu']);
  });

  it('says why when the product is not halved', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4]);
    const act = b.op('Erf', [b.op('Div', [x, b.f32('r2', [], [Math.SQRT2])])]);
    const m = b.op('Mul', [x, b.op('Add', [act, b.f32('one', [], [1])])], {}, { name: '/m' });
    b.output(b.op('Mul', [m, b.f32('c', [], [0.6])]), 'y');
    const r = run(b.build());
    expect(r.modified).toBe(false);
    expect(r.diagnostics.map((d) => [d.rule, d.message])).toEqual([['gelu-erf', "x · (1 + Erf(·)) ('/m') is not halved"]]);
  });

  it('x · Sigmoid(x) → QuickGelu(x, alpha=1.0 as a float attribute), either order', async () => {
    for (const order of [0, 1]) {
      const b = new GraphBuilder();
      const x = b.input('x', 'float32', ['batch_size', 16]);
      const g = b.op('MatMul', [x, b.f32('W', [16, 16], Array.from({ length: 256 }, (_, i) => Math.sin(i * 0.29) * 2.5))]);
      const s = b.op('Sigmoid', [g]);
      const silu = b.op('Mul', order ? [s, g] : [g, s]);
      b.output(b.op('Mul', [silu, x]), 'y');
      const model = b.build();
      const original = model.clone();
      const r = run(model);
      expect(r.stats.fused).toEqual({ QuickGelu: 1 });
      const q = model.graph.nodes.find((n) => n.opType === 'QuickGelu')!;
      expect(q.domain).toBe('com.microsoft');
      expect(q.attr('alpha')).toEqual({ type: 'float', value: 1 });
      await expectSameOutputs(original, model);
    }
  });

  it('leaves SiLU alone when silu is off, and refuses a Sigmoid read elsewhere', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4]);
    const s = b.op('Sigmoid', [x], {}, { name: '/sig' });
    b.output(b.op('Mul', [x, s]), 'y');
    b.output(s, 'gate');
    expect(run(b.build(), { silu: false }).diagnostics).toEqual([]);
    const r = run(b.build());
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toBe("Sigmoid '/sig' is also read outside x·sigmoid(x)");
  });
});
