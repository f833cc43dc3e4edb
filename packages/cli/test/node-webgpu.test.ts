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
import { loadModel, serializeModelToBytes } from '@fuselab/graph-core';
import { buildOneLayerDecoder } from './one-layer-decoder.ts';
import { decoderIo, KvDecoder, ortEnv } from '@fuselab/gpu-runtime';
import { installNodeWebGpu, type NodeWebGpu } from '../src/index.ts';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

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

  it('writeBuffer takes views of a SharedArrayBuffer (onnxruntime-web\'s threaded wasm heap), small and large', async () => {
    const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
    const shared = new Uint8Array(new SharedArrayBuffer(3 * 65536));
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 7 + 3) & 255;
    // a small write at an offset view, then one larger than the shim's first scratch buffer, then a
    // typed-array view with element offsets
    const cases: Array<[ArrayBufferView, number | undefined, number | undefined, Uint8Array]> = [
      [shared.subarray(100, 164), undefined, undefined, shared.slice(100, 164)],
      [shared.subarray(1000, 1000 + 2 * 65536), undefined, undefined, shared.slice(1000, 1000 + 2 * 65536)],
      [new Uint32Array(shared.buffer, 256, 64), 4, 16, shared.slice(256 + 16, 256 + 16 + 64)],
    ];
    for (const [data, dataOffset, size, want] of cases) {
      const dst = device.createBuffer({ size: want.byteLength, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
      device.queue.writeBuffer(dst, 0, data as BufferSource, dataOffset, size);
      await dst.mapAsync(GPUMapMode.READ);
      expect(new Uint8Array(dst.getMappedRange().slice(0))).toEqual(want);
      dst.destroy();
    }
    device.destroy();
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
