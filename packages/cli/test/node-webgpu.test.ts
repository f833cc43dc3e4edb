/**
 * The KV decode loop on real WebGPU in Node: Dawn (npm `webgpu`) on SwiftShader's Vulkan ICD (Debian
 * `libvulkan1` + `chromium`), against the wasm EP on the same model. Greedy tokens must be equal.
 *
 * The model is a purpose-built one-layer causal decoder with the Optimum KV contract (input_ids,
 * position_ids, past_key_values.0.key/value → logits, present.0.key/value), built in code. It is
 * chosen for the distinct kernels it needs (~12): SwiftShader compiles each distinct shader once per
 * process, and a torchscript export's ~25 op kinds (gpt2-tiny-kv) took 1.5–4 minutes on a loaded
 * 2-core machine, this model a fraction of that.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { GraphBuilder, loadModel, serializeModelToBytes, type Model, type Value } from '@fuselab/graph-core';
import { decoderIo, KvDecoder, ortEnv } from '@fuselab/gpu-runtime';
import { installNodeWebGpu, type NodeWebGpu } from '../src/index.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

/** Seeded uniform weights in [-scale, scale). */
function weights(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  return a;
}

/**
 * One pre-LN attention block with a residual, causal over past + new tokens:
 *   h = LN(tok[input_ids] + pos[position_ids]);  K,V = concat(past, split_heads(h·Wk|h·Wv))
 *   a = softmax(where(causal, Q·Kᵀ/√d, -1e4))·V;  logits = (x + merge_heads(a)·Wo)·Wlm
 */
function buildOneLayerDecoder(cfg = { vocab: 96, positions: 64, d: 32, heads: 2 }): Model {
  const { vocab, positions, d, heads } = cfg;
  const hd = d / heads;
  const b = new GraphBuilder({ opsets: { '': 17 } });
  let seed = 7;
  const w = (name: string, dims: number[], scale: number) => b.f32(name, dims, weights(dims.reduce((x, y) => x * y, 1), seed++, scale));
  const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const pos = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const pastK = b.input('past_key_values.0.key', 'float32', ['batch_size', heads, 'past_sequence_length', hd]);
  const pastV = b.input('past_key_values.0.value', 'float32', ['batch_size', heads, 'past_sequence_length', hd]);
  const x = b.op('Add', [b.op('Gather', [w('tok', [vocab, d], 1), ids]), b.op('Gather', [w('pos', [positions, d], 1), pos])]);
  const h = b.op('LayerNormalization', [x, b.f32('ln_g', [d], new Array(d).fill(1)), b.f32('ln_b', [d], new Array(d).fill(0))], { axis: -1, epsilon: 1e-5 });
  const split = b.i64('split_shape', [4], [0, 0, heads, hd]);
  const heads4 = (v: Value) => b.op('Transpose', [b.op('Reshape', [v, split])], { perm: [0, 2, 1, 3] });
  const q = heads4(b.op('MatMul', [h, w('wq', [d, d], 0.5)]));
  const k = b.op('Concat', [pastK, heads4(b.op('MatMul', [h, w('wk', [d, d], 0.5)]))], { axis: 2 });
  const v = b.op('Concat', [pastV, heads4(b.op('MatMul', [h, w('wv', [d, d], 0.5)]))], { axis: 2 });
  b.output(k, 'present.0.key');
  b.output(v, 'present.0.value');
  // causal mask: query i (absolute position past+i) sees keys 0..past+i
  const total = b.op('Gather', [b.op('Shape', [k]), b.i64('axis2', [], [2])], { axis: 0 });
  const seq = b.op('Gather', [b.op('Shape', [ids]), b.i64('axis1', [], [1])], { axis: 0 });
  const keyPos = b.op('Range', [b.i64('zero', [], [0]), total, b.i64('one', [], [1])]);
  const queryPos = b.op('Unsqueeze', [b.op('Range', [b.op('Sub', [total, seq]), total, b.i64('one_', [], [1])]), b.i64('ax1', [1], [1])]);
  const causal = b.op('LessOrEqual', [keyPos, queryPos]);
  const scores = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), b.f32('scale', [], [1 / Math.sqrt(hd)])]);
  const probs = b.op('Softmax', [b.op('Where', [causal, scores, b.f32('neg', [], [-1e4])])], { axis: -1 });
  const merged = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), b.i64('merge_shape', [3], [0, 0, d])]);
  const y = b.op('Add', [x, b.op('MatMul', [merged, w('wo', [d, d], 0.5)])]);
  b.output(b.op('MatMul', [y, w('lm', [d, vocab], 0.5)]), 'logits');
  return b.build();
}

describe('KvDecoder on WebGPU in Node (Dawn + SwiftShader)', () => {
  let gpu: NodeWebGpu;
  beforeAll(async () => {
    // CI installs libvulkan1 and chromium; point Vulkan at SwiftShader unless the caller chose a driver.
    if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    gpu = await installNodeWebGpu();
  });
  afterAll(() => {
    Reflect.deleteProperty(globalThis, 'navigator');
  });

  it('describes the adapter it installed as navigator.gpu', () => {
    expect(gpu.adapterInfo.vendor).not.toBe('');
    expect(gpu.features.length).toBeGreaterThan(0);
    expect(gpu.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(gpu.fingerprint).toContain(gpu.adapterInfo.vendor);
    expect((globalThis as unknown as { navigator: { gpu: unknown } }).navigator.gpu).toBeTruthy();
  });

  it('greedy tokens with GPU-resident KV equal the wasm EP\'s', async () => {
    const bytes = serializeModelToBytes(buildOneLayerDecoder());
    const io = decoderIo(loadModel(bytes));
    expect(io.kv.map((p) => p.output)).toEqual(['present.0.key', 'present.0.value']);
    const prompt = [5, 17, 42, 3, 77, 11];
    const ref = await KvDecoder.create(ortEnv(), bytes, io, { executionProvider: 'wasm' });
    const expected = await ref.generate({ promptIds: prompt, maxNewTokens: 10 });
    await ref.release();
    // a decoder whose greedy output is one repeated token would prove little
    expect(new Set(expected.tokens).size).toBeGreaterThan(2);

    const ort = await import('onnxruntime-web/webgpu');
    ort.env.wasm.numThreads = 1;
    const dec = await KvDecoder.create(ort, bytes, io, { executionProvider: 'webgpu' });
    try {
      expect(dec.options.gpuKv).toBe(true);
      const first = await dec.generate({ promptIds: prompt, maxNewTokens: 10 }); // compiles the shaders
      expect(first.tokens).toEqual(expected.tokens);
      const second = await dec.generate({ promptIds: prompt, maxNewTokens: 10 });
      expect(second.tokens).toEqual(expected.tokens);
      expect(second.stepMs).toHaveLength(9);
    } finally {
      await dec.release();
    }
  }, 300_000);
});
