import { describe, expect, it } from 'vitest';
import { GraphBuilder, tensorType, type Dim, type Model, type Value } from '@fuselab/graph-core';
import { FP32_FUSION, validateModels } from '@fuselab/gpu-runtime';
import { eliminateDeadCode } from '../src/passes/eliminate-dead-code.ts';
import { fuseBias } from '../src/passes/fuse-bias.ts';

const K = 8;
const N = 12;
const wave = (n: number, f: number, a = 1) => Array.from({ length: n }, (_, i) => a * Math.sin(i * f + 0.3));
const typed = (v: Value, shape: Dim[]) => ((v.type = tensorType('float32', shape)), v);

interface Conv1D {
  transB: boolean;
  withBias: boolean;
  /** x is [B, S, 2, K/2] (heads not merged yet), as in dynamo's GPT-2 attention output projection. */
  heads: boolean;
  /** The Reshape back gives [S, B, N] instead of [B, S, N]: not a no-op pair. */
  scrambled: boolean;
  /** Leave the types of node outputs unknown (no shape inference). */
  untyped: boolean;
  alpha: number;
}

const conv: Conv1D = { transB: false, withBias: true, heads: false, scrambled: false, untyped: false, alpha: 1 };

/** GPT-2's Conv1D as exported: `Reshape(x, [-1, K]) → Gemm(W, B) → Reshape([B, S, N])`, the target shape from Shape/Gather/Concat. */
function conv1d(s: Conv1D): Model {
  const b = new GraphBuilder();
  const xShape: Dim[] = s.heads ? ['batch_size', 'sequence_length', 2, K / 2] : ['batch_size', 'sequence_length', K];
  const x = b.input('x', 'float32', xShape);
  const flat = b.op('Reshape', [x, b.i64('flat_shape', [2], [-1, K])], {}, { name: '/c_fc/Reshape' });
  const w = s.transB ? b.f32('c_fc.weight', [N, K], wave(N * K, 0.7, 0.5)) : b.f32('c_fc.weight', [K, N], wave(K * N, 0.7, 0.5));
  const gemm = b.op('Gemm', s.withBias ? [flat, w, b.f32('c_fc.bias', [N], wave(N, 1.3, 0.2))] : [flat, w], { transB: s.transB ? 1 : 0, alpha: { type: 'float', value: s.alpha } }, { name: '/c_fc/Gemm' });
  const shape = b.op('Shape', [x], {}, { name: '/c_fc/Shape' });
  const dim = (i: number) => b.op('Unsqueeze', [b.op('Gather', [shape, b.i64(`i${i}`, [], [i])], { axis: 0 }), b.i64(`ax${i}`, [1], [0])]);
  const [d0, d1] = s.scrambled ? [dim(1), dim(0)] : [dim(0), dim(1)];
  const target = b.op('Concat', [d0, d1, b.i64('n', [1], [N])], { axis: 0 });
  const y = b.op('Reshape', [gemm, target], {}, { name: '/c_fc/Reshape_1' });
  if (!s.untyped) {
    typed(flat, ['batch_size*sequence_length', K]);
    typed(gemm, ['batch_size*sequence_length', N]);
    typed(y, s.scrambled ? ['sequence_length', 'batch_size', N] : ['batch_size', 'sequence_length', N]);
  }
  b.output(b.op('Tanh', [y], {}, { name: '/after' }), 'out');
  return b.build();
}

async function expectSameOutputs(original: Model, fused: Model): Promise<void> {
  const r = await validateModels(original, fused, { tolerance: FP32_FUSION, inputSpec: { dims: { batch_size: 2, sequence_length: 3 } } });
  expect(r.passed, r.outputs.map((o) => `${o.name}: max abs ${o.maxAbsErr}, cos ${o.cosine}`).join('; ')).toBe(true);
}

const run = (m: Model, params: Record<string, unknown> = {}) => fuseBias.run(m, {}, { unwrapGemm: true, attachBias: true, ...params });
/** Op types after eliminate-dead-code (the pass leaves the Reshapes' shape subgraphs dead, as in the real pipeline). */
const live = (m: Model) => {
  eliminateDeadCode.run(m, {}, {});
  return m.graph.nodes.map((n) => n.qualifiedType);
};

describe('fuse-bias: Reshape → Gemm → Reshape → MatMul + bias', () => {
  it('turns GPT-2 Conv1D back into a 3-D MatMul + Add', async () => {
    const model = conv1d(conv);
    const original = model.clone();
    const r = run(model);
    expect(r.stats).toMatchObject({ fused: { MatMul: 1 }, unwrapped: { Gemm: 1 } });
    expect(live(model)).toEqual(['MatMul', 'Add', 'Tanh']);
    const mm = model.graph.nodes.find((n) => n.opType === 'MatMul')!;
    expect(mm.input(0).name).toBe('x');
    expect(mm.input(1).name).toBe('c_fc.weight');
    expect(mm.output(0).shape).toEqual(['batch_size', 'sequence_length', N]);
    const add = model.graph.nodes.find((n) => n.opType === 'Add')!;
    expect(add.inputs.map((v) => v?.name)).toEqual([mm.output(0).name, 'c_fc.bias']);
    expect(r.provenance.map((p) => p.sources.sort())).toEqual([['/c_fc/Gemm', '/c_fc/Reshape', '/c_fc/Reshape_1'], ['/c_fc/Gemm', '/c_fc/Reshape', '/c_fc/Reshape_1']]);
    await expectSameOutputs(original, model);
  });

  it('transposes a transB=1 weight once, into a new initializer', async () => {
    const model = conv1d({ ...conv, transB: true });
    const original = model.clone();
    run(model);
    const mm = model.graph.nodes.find((n) => n.opType === 'MatMul')!;
    expect(mm.input(1).initializer?.dims).toEqual([K, N]);
    expect(mm.input(1).name).toMatch(/weight_transposed/);
    await expectSameOutputs(original, model);
  });

  it('keeps a Reshape(x, [0, 0, K]) when x still has its heads split', async () => {
    const model = conv1d({ ...conv, heads: true });
    const original = model.clone();
    run(model);
    expect(live(model)).toEqual(['Reshape', 'MatMul', 'Add', 'Tanh']);
    const reshape = model.graph.nodes.find((n) => n.opType === 'Reshape')!;
    expect(Array.from(reshape.input(1).initializer!.data() as BigInt64Array)).toEqual([0n, 0n, BigInt(K)]);
    await expectSameOutputs(original, model);
  });

  it('gives a bare MatMul for a Gemm without C', async () => {
    const model = conv1d({ ...conv, withBias: false });
    const original = model.clone();
    run(model);
    expect(live(model)).toEqual(['MatMul', 'Tanh']);
    await expectSameOutputs(original, model);
  });

  it('unwraps Gemms that share one flattened input (the flatten goes once the last one is done)', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch_size', 'sequence_length', K]);
    const flat = typed(b.op('Reshape', [x, b.i64('flat_shape', [2], [-1, K])], {}, { name: '/flat' }), ['batch_size*sequence_length', K]);
    const target = b.op('Concat', [b.op('Shape', [x], { end: 2 }), b.i64('n', [1], [N])], { axis: 0 });
    for (const p of ['q', 'k']) {
      const g = typed(b.op('Gemm', [flat, b.f32(`${p}.weight`, [K, N], wave(K * N, p === 'q' ? 0.3 : 0.5, 0.5)), b.f32(`${p}.bias`, [N], wave(N, 0.9, 0.1))], {}, { name: `/${p}/Gemm` }), ['batch_size*sequence_length', N]);
      b.output(typed(b.op('Reshape', [g, target], {}, { name: `/${p}/Reshape` }), ['batch_size', 'sequence_length', N]), p);
    }
    const model = b.build();
    const original = model.clone();
    const r = run(model);
    expect(r.stats.fused).toEqual({ MatMul: 2 });
    expect(live(model)).toEqual(['MatMul', 'Add', 'MatMul', 'Add']);
    await expectSameOutputs(original, model);
  });

  it('infers the shapes of an untyped export itself (by default) and unwraps', async () => {
    const model = conv1d({ ...conv, untyped: true });
    const original = model.clone();
    const r = run(model);
    expect(r.stats.inferredTypes).toBeGreaterThan(0);
    expect(live(model)).toEqual(['MatMul', 'Add', 'Tanh']);
    await expectSameOutputs(original, model);
  });

  it.each<[string, Partial<Conv1D>, RegExp]>([
    ['Reshapes that do not cancel', { scrambled: true }, /^the Reshapes around the Gemm do not cancel: input \[batch_size,sequence_length,8\] → output \[sequence_length,batch_size,12\]/],
    ['unknown shapes (shape inference off)', { untyped: true }, /^shapes around the Gemm are unknown \(input \[batch_size,sequence_length,8\], output unknown\): run shape inference first$/],
    ['alpha ≠ 1', { alpha: 0.5 }, /^Gemm alpha 0.5 ≠ 1$/],
  ])('refuses %s and says why', (_label, over, reason) => {
    const model = conv1d({ ...conv, ...over });
    const r = run(model, { inferShapes: false });
    expect(r.modified).toBe(false);
    expect(r.diagnostics.map((d) => d.message)).toEqual([expect.stringMatching(reason)]);
  });
});

/** `op(Add(MatMul(a, W), B), ...)` for a consumer that has a bias slot. */
function biasedConsumer(kind: 'ms-gelu' | 'onnx-gelu' | 'onnx-gelu-tanh' | 'fast-gelu' | 'skip-ln' | 'skip-simplified', leak = false): Model {
  const b = new GraphBuilder({ opsets: { '': kind.startsWith('onnx') ? 20 : 17 } });
  const a = b.input('a', 'float32', ['batch_size', 'sequence_length', K]);
  const mm = typed(b.op('MatMul', [a, b.f32('W', [K, K], wave(K * K, 0.9, 0.6))], {}, { name: '/proj/MatMul' }), ['batch_size', 'sequence_length', K]);
  const x = typed(b.op('Add', [mm, b.f32('proj.bias', [K], wave(K, 2.1, 0.3))], {}, { name: '/proj/Add' }), ['batch_size', 'sequence_length', K]);
  const ms = { domain: 'com.microsoft' };
  const gamma = b.f32('gamma', [K], wave(K, 0.4, 0.1).map((v) => v + 1));
  switch (kind) {
    case 'ms-gelu': b.output(b.op('Gelu', [x], {}, ms), 'y'); break;
    case 'onnx-gelu': b.output(b.op('Gelu', [x], { approximate: 'none' }), 'y'); break;
    case 'onnx-gelu-tanh': b.output(b.op('Gelu', [x], { approximate: 'tanh' }), 'y'); break;
    case 'fast-gelu': b.output(b.op('FastGelu', [x], {}, ms), 'y'); break;
    case 'skip-ln': {
      const [y, , , sum] = b.opN('SkipLayerNormalization', [x, b.input('h', 'float32', ['batch_size', 'sequence_length', K]), gamma, b.f32('beta', [K], wave(K, 0.8, 0.1))], { epsilon: { type: 'float', value: 1e-5 } }, 4, ms);
      b.output(y, 'y');
      b.output(sum, 'sum');
      break;
    }
    case 'skip-simplified': {
      const y = b.op('SkipSimplifiedLayerNormalization', [b.input('h', 'float32', ['batch_size', 'sequence_length', K]), x, gamma], { epsilon: { type: 'float', value: 1e-6 } }, ms);
      b.output(y, 'y');
      break;
    }
  }
  if (leak) b.output(b.op('Neg', [x]), 'leak');
  return b.build();
}

describe('fuse-bias: attach MatMul biases to consumers with a bias input', () => {
  it.each<[Parameters<typeof biasedConsumer>[0], string, string[], string]>([
    ['ms-gelu', 'com.microsoft::BiasGelu', ['/proj/MatMul_out0', 'proj.bias'], 'attach-bias-gelu'],
    ['onnx-gelu', 'com.microsoft::BiasGelu', ['/proj/MatMul_out0', 'proj.bias'], 'attach-bias-onnx-gelu'],
    ['onnx-gelu-tanh', 'com.microsoft::FastGelu', ['/proj/MatMul_out0', 'proj.bias'], 'attach-bias-onnx-gelu-tanh'],
    ['fast-gelu', 'com.microsoft::FastGelu', ['/proj/MatMul_out0', 'proj.bias'], 'attach-bias-fast-gelu'],
    ['skip-ln', 'com.microsoft::SkipLayerNormalization', ['/proj/MatMul_out0', 'h', 'gamma', 'beta', 'proj.bias'], 'attach-bias-skip-layer-norm'],
    ['skip-simplified', 'com.microsoft::SkipSimplifiedLayerNormalization', ['h', '/proj/MatMul_out0', 'gamma', 'proj.bias'], 'attach-bias-skip-simplified-layer-norm'],
  ])('%s: → %s', async (kind, op, inputs, rule) => {
    const model = biasedConsumer(kind);
    const original = model.clone();
    const r = run(model);
    expect(model.graph.nodes.map((n) => n.qualifiedType)).toEqual(['MatMul', op]);
    const fused = model.graph.nodes[1];
    expect(fused.inputs.map((v) => v?.name)).toEqual(inputs);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(original.graph.outputs.map((v) => v.name));
    expect(r.stats.biasAttached).toEqual({ [op.replace('com.microsoft::', '')]: 1 });
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'info', rule, message: expect.stringMatching(/^bias 'proj.bias' of MatMul '\/proj\/MatMul' attached to /) })]);
    expect(model.opset('com.microsoft')).toBe(1);
    await expectSameOutputs(original, model);
  });

  it('leaves the bias where it is when the Add is read elsewhere, or attachBias is off', () => {
    const leaky = biasedConsumer('ms-gelu', true);
    expect(run(leaky).modified).toBe(false);
    expect(run(biasedConsumer('ms-gelu'), { attachBias: false }).modified).toBe(false);
  });
});
