/**
 * Static KV + graph capture on real WebGPU in Node (Dawn + SwiftShader): the trained kjv-llama,
 * fused and rewired by `staticKvDecodeModel`, decodes with the decode step captured once and
 * replayed, and gives the growing-KV Generator's greedy tokens. Prints growing vs static vs
 * static+capture tok/s (SwiftShader: a CPU rasterizer, not a GPU figure). Slow: SwiftShader compiles
 * each session's shaders (~30–60 s each on 2 cores).
 */
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { serializeModelsSplit, serializeModelToBytes } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { defaultWorkflow, lastTokenLogits, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { buildEngine, decoderIo, engineGenerator, Generator, openEngine, ortWebVersion, staticKvDecodeModel, StaticKvGenerator, type GeneratorOptions } from '@fuselab/gpu-runtime';
import { installNodeWebGpu } from '../src/index.ts';
import { nodeRuntime } from '../src/runtime-node.ts';

const concat = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
};

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const kjv = new URL('../../../examples/models/kjv-llama/', import.meta.url).pathname;
const greedy = JSON.parse(readFileSync(`${kjv}greedy.json`, 'utf8')) as { prompt_ids: number[]; new_ids: number[] };
const TOKENS = 16;

describe('static KV + graph capture on WebGPU in Node (Dawn + SwiftShader, kjv-llama)', () => {
  let ort: GeneratorOptions['ort'];
  beforeAll(async () => {
    if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    await installNodeWebGpu();
    ort = (await import('onnxruntime-web/webgpu')) as unknown as GeneratorOptions['ort'];
    ort.env.wasm.numThreads = 1;
  }, 60_000);

  it('greedy tokens equal the growing-KV generator, with and without graph capture', async () => {
    const file = openModelFile(`${kjv}model.onnx`);
    const fused = runPasses(file.model, workflowSteps(defaultWorkflow(), PASSES), { fixedPoint: true }).model;
    file.close();
    lastTokenLogits.run(fused, {}, { output: 'logits' });
    const req = { promptIds: greedy.prompt_ids, maxTokens: TOKENS, ignoreEos: true };
    const want = greedy.new_ids.slice(0, TOKENS);
    const rates: Record<string, number> = {};

    const growing = await Generator.create({ ort, model: serializeModelToBytes(fused), io: decoderIo(fused), executionProvider: 'webgpu' });
    await growing.run({ ...req, maxTokens: 2 }); // warm-up: shader compilation
    const g = await growing.run(req);
    await growing.release();
    expect(g.tokens).toEqual(want);
    rates.growing = g.stats.decodeTokPerSec;

    const m = staticKvDecodeModel(fused);
    const bytes = serializeModelToBytes(m);
    // bind groups made per decode step: onnxruntime-web makes one per dispatch when it runs kernels,
    // none when it replays a captured graph — the proof that capture is on, not just requested
    const proto = Object.getPrototypeOf(await (await navigator.gpu.requestAdapter())!.requestDevice()) as GPUDevice;
    const createBindGroup = proto.createBindGroup;
    let bindGroups = 0;
    proto.createBindGroup = function (this: GPUDevice, d: GPUBindGroupDescriptor) {
      bindGroups++;
      return createBindGroup.call(this, d);
    };
    try {
      for (const graphCapture of [false, true]) {
        const gen = await StaticKvGenerator.create({ ort, model: bytes, io: decoderIo(m), executionProvider: 'webgpu', maxSequenceLength: 64, graphCapture });
        await gen.run({ ...req, maxTokens: 3 }); // warm-up (and, with capture, the recording run)
        const perStep: number[] = [];
        let tokens: number[] = [];
        let rate = 0;
        for await (const e of gen.generate(req)) {
          if (e.type === 'token') perStep.push(bindGroups);
          if (e.type === 'done') {
            tokens = e.tokens;
            rate = e.stats.decodeTokPerSec;
          }
        }
        await gen.release();
        const label = graphCapture ? 'static + capture' : 'static';
        expect(tokens, label).toEqual(want);
        const decodeSteps = perStep.slice(1).map((n, i) => n - perStep[i]);
        if (graphCapture) expect(decodeSteps.every((n) => n === 0), `${label}: bind groups per decode step ${decodeSteps.join(',')}`).toBe(true);
        else expect(Math.min(...decodeSteps), `${label}: bind groups per decode step`).toBeGreaterThan(10);
        rates[graphCapture ? 'static+capture' : 'static'] = rate;
      }
    } finally {
      proto.createBindGroup = createBindGroup;
    }
    process.stdout.write(`kjv-llama decode on SwiftShader (not a GPU figure), ${TOKENS} tokens: ${Object.entries(rates).map(([k, v]) => `${k} ${v.toFixed(1)} tok/s`).join(', ')}\n`);
  }, 600_000);

  it('kjv-gpt2 engine with a prompt graph: prompts on the MultiHeadAttention graph, KV copied into the captured GroupQueryAttention step\'s buffers, gives PyTorch\'s greedy tokens', async () => {
    const dir = new URL('../../../examples/models/kjv-gpt2/', import.meta.url).pathname;
    const ref = JSON.parse(readFileSync(`${dir}greedy.json`, 'utf8')) as { prompt_ids: number[]; new_ids: number[] };
    const fuse = (mhaAsGqa: boolean) => {
      const file = openModelFile(`${dir}model.onnx`);
      const w = defaultWorkflow();
      const passes = w.passes.map((p) => (p.pass === 'fuse-attention' ? { ...p, params: { ...p.params, mhaAsGqa } } : p));
      const m = runPasses(file.model, workflowSteps({ ...w, passes }, PASSES), { fixedPoint: true }).model;
      file.close();
      lastTokenLogits.run(m, {}, { output: 'logits' });
      return m;
    };
    const mha = fuse(false);
    expect(mha.graph.nodes.some((n) => n.opType === 'MultiHeadAttention')).toBe(true);
    const decode = staticKvDecodeModel(fuse(true));
    // an engine as `build --tune` writes it when the prefill tactic picks the growing graph: both
    // graphs over one weights section, tactics kv=static, graphCapture=on, prefill=growing
    const rt = await nodeRuntime('webgpu');
    const { models, weights, location } = serializeModelsSplit([decode, mha], { location: 'weights.bin' });
    const tactic = (name: string, chosen: string) => ({ name, chosen, candidates: [], measuredOn: 'test' });
    const source = readFileSync(`${dir}model.onnx`);
    const { chunks } = await buildEngine({
      source: { file: 'model.onnx', bytes: source, nodes: 0 },
      optimized: decode,
      modelBytes: models[0],
      weights: { location, bytes: weights },
      prefill: { model: mha, modelBytes: models[1], fused: {} },
      device: rt.device,
      ortVersion: ortWebVersion(rt.ort),
      fused: {},
      provenance: [],
      tactics: [tactic('kv', 'static'), tactic('graphCapture', 'on'), tactic('prefill', 'growing')],
    });
    const engine = await openEngine(concat(chunks), { device: rt.device, ortVersion: ortWebVersion(rt.ort) });
    expect(engine.manifest.prefill?.io.attentionMask).toBe('attention_mask');
    expect(engine.manifest.sections.map((s) => s.name)).toContain('prefill_model');
    // the two graphs share the weights: the section is one copy (the decode graph's and the prompt graph's are the same tensors)
    expect(weights.byteLength).toBeLessThan(1.02 * (await import('@fuselab/graph-core')).serializeModelSplit(mha).weights.byteLength);
    const gen = await engineGenerator(engine, rt.ort, 'webgpu', { maxContext: 64 });
    try {
      expect(gen).toBeInstanceOf(StaticKvGenerator);
      const req = { promptIds: ref.prompt_ids, maxTokens: ref.new_ids.length, ignoreEos: true };
      expect((await gen.run(req)).tokens).toEqual(ref.new_ids);
      // again on the same buffers (the copy overwrites the first prompt's positions), and a shorter prompt
      expect((await gen.run(req)).tokens).toEqual(ref.new_ids);
      const short = await gen.run({ promptIds: ref.prompt_ids.slice(0, 3), maxTokens: 4, ignoreEos: true });
      expect(short.tokens).toHaveLength(4);
    } finally {
      await gen.release();
    }
  }, 600_000);
});
