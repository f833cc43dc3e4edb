/**
 * Static KV + graph capture on real WebGPU in Node (Dawn + SwiftShader): the trained kjv-llama,
 * fused and rewired by `staticKvDecodeModel`, decodes with the decode step captured once and
 * replayed, and gives the growing-KV Generator's greedy tokens. Prints growing vs static vs
 * static+capture tok/s (SwiftShader: a CPU rasterizer, not a GPU figure). Slow: SwiftShader compiles
 * each session's shaders (~30–60 s each on 2 cores).
 */
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { serializeModelToBytes } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { defaultWorkflow, lastTokenLogits, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { decoderIo, Generator, staticKvDecodeModel, StaticKvGenerator, type GeneratorOptions } from '@fuselab/gpu-runtime';
import { installNodeWebGpu } from '../src/index.ts';

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
    for (const graphCapture of [false, true]) {
      const gen = await StaticKvGenerator.create({ ort, model: bytes, io: decoderIo(m), executionProvider: 'webgpu', maxSequenceLength: 64, graphCapture });
      await gen.run({ ...req, maxTokens: 3 }); // warm-up (and, with capture, the recording run)
      const r = await gen.run(req);
      await gen.release();
      expect(r.tokens, graphCapture ? 'static + capture' : 'static').toEqual(want);
      rates[graphCapture ? 'static+capture' : 'static'] = r.stats.decodeTokPerSec;
    }
    process.stdout.write(`kjv-llama decode on SwiftShader (not a GPU figure), ${TOKENS} tokens: ${Object.entries(rates).map(([k, v]) => `${k} ${v.toFixed(1)} tok/s`).join(', ')}\n`);
  }, 600_000);
});
