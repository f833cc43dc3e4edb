/**
 * The bundled KJV decoders on onnxruntime-web (wasm EP): greedy ids equal the PyTorch-recorded ones
 * (greedy.json) for both architectures and both exporters, the recorded decoder step reproduces
 * PyTorch's logits and cache within the recorded tolerance, and sampled text is made of the
 * training text's words.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, kvGeometry, mulberry32, sampleLogits, TextGenerator, type DecoderConfigJson } from '../scripts/generate.ts';

const examples = new URL('../', import.meta.url);
const path = (rel: string): string => fileURLToPath(new URL(rel, examples));
const readJson = <T>(rel: string): T => JSON.parse(readFileSync(path(rel), 'utf8')) as T;

interface GreedyRecord {
  prompt: string;
  prompt_ids: number[];
  new_ids: number[];
  text: string;
  min_top2_logit_margin: number;
}
interface IoTensor {
  dtype: 'float32' | 'int64';
  dims: number[];
  data: string;
}
interface IoRecord {
  inputs: Record<string, IoTensor>;
  outputs: Record<string, IoTensor>;
  tolerance: { atol: number; rtol: number };
}

/** Below this top-1/top-2 logit gap, fp32 runtimes may legitimately pick different greedy tokens. */
const MIN_GREEDY_MARGIN = 1e-3;
/** Share of sampled words that must be words of the training text ("recognisably English"). */
const MIN_KNOWN_WORD_SHARE = 0.9;
const MODELS = ['kjv-gpt2', 'kjv-llama'] as const;
const FILES = ['model.onnx', 'model.dynamo.onnx'] as const;

function ioTensor(e: IoTensor): ort.Tensor {
  const b = Buffer.from(e.data, 'base64');
  const bytes = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return e.dtype === 'int64' ? new ort.Tensor('int64', new BigInt64Array(bytes), e.dims) : new ort.Tensor('float32', new Float32Array(bytes), e.dims);
}

const trainingWords = new Set(readFileSync(path('data/kjv-train.txt'), 'utf8').toLowerCase().match(/[a-z]+/g));

describe.each(MODELS)('%s', (model) => {
  const greedy = readJson<GreedyRecord>(`models/${model}/greedy.json`);
  const generators = new Map<string, TextGenerator>();

  beforeAll(async () => {
    for (const file of FILES) generators.set(file, await TextGenerator.load(path(`models/${model}`), file));
  });
  afterAll(async () => {
    for (const g of generators.values()) await g.release();
  });

  it('has a greedy record without near-ties, so an exact comparison is fair', () => {
    expect(greedy.new_ids).toHaveLength(32);
    expect(greedy.min_top2_logit_margin).toBeGreaterThan(MIN_GREEDY_MARGIN);
  });

  it.each(FILES)('%s: greedy ids equal the PyTorch-recorded ids, and decode to the recorded text', async (file) => {
    const gen = generators.get(file)!;
    const res = await gen.generate({ prompt: greedy.prompt, maxNewTokens: greedy.new_ids.length, strategy: { kind: 'greedy' }, stopAtEos: false });
    expect(res.promptIds).toEqual(greedy.prompt_ids);
    expect(res.newIds).toEqual(greedy.new_ids);
    expect(res.text).toBe(greedy.text);
  });

  it.each(FILES)('%s: the recorded decoder step (batch 2, past 5, 3 new) reproduces PyTorch within its tolerance', async (file) => {
    const io = readJson<IoRecord>(`models/${model}/model.io.json`);
    const session = await ort.InferenceSession.create(readFileSync(path(`models/${model}/${file}`)), { executionProviders: ['wasm'], logSeverityLevel: 3 });
    const feeds = Object.fromEntries(Object.entries(io.inputs).map(([k, v]) => [k, ioTensor(v)]));
    const out = await session.run(feeds);
    await session.release();
    const { atol, rtol } = io.tolerance;
    for (const [name, rec] of Object.entries(io.outputs)) {
      const want = ioTensor(rec).data as Float32Array;
      const got = out[name].data as Float32Array;
      expect(out[name].dims, name).toEqual(rec.dims);
      let beyond = 0;
      for (let i = 0; i < want.length; i++) if (Math.abs(got[i] - want[i]) > atol + rtol * Math.abs(want[i])) beyond++;
      expect(beyond, `${name}: elements beyond atol ${atol} + rtol ${rtol}`).toBe(0);
    }
  });

  it('samples reproducibly from a seed, and top-k 1 sampling is greedy', async () => {
    const gen = generators.get('model.onnx')!;
    const sample = (seed: number) => gen.generate({ prompt: greedy.prompt, maxNewTokens: 24, strategy: { kind: 'sample', temperature: 0.8, topK: 40, seed }, stopAtEos: false });
    const [a, b, c] = [await sample(1), await sample(1), await sample(2)];
    expect(b.newIds).toEqual(a.newIds);
    expect(c.newIds).not.toEqual(a.newIds);
    const topOne = await gen.generate({ prompt: greedy.prompt, maxNewTokens: 12, strategy: { kind: 'sample', temperature: 1, topK: 1, seed: 5 }, stopAtEos: false });
    expect(topOne.newIds).toEqual(greedy.new_ids.slice(0, 12));
  });

  it('samples text made of the training text\'s words (recognisably English)', async () => {
    const gen = generators.get('model.onnx')!;
    const words: string[] = [];
    for (const seed of [11, 12, 13]) {
      const res = await gen.generate({ prompt: 'And he said', maxNewTokens: 48, strategy: { kind: 'sample', temperature: 0.8, topK: 40, seed } });
      words.push(...(gen.decode(res.newIds, true).toLowerCase().match(/[a-z]+/g) ?? []));
    }
    const known = words.filter((w) => trainingWords.has(w)).length;
    expect(words.length).toBeGreaterThan(60);
    expect(known / words.length).toBeGreaterThanOrEqual(MIN_KNOWN_WORD_SHARE);
  });

  it('refuses to run past the positions the model was trained for', async () => {
    const gen = generators.get('model.onnx')!;
    await expect(gen.generate({ prompt: 'And', maxNewTokens: gen.geometry.maxPositions, strategy: { kind: 'greedy' } })).rejects.toThrow(RangeError);
  });
});

describe('generate.ts helpers', () => {
  it('reads the KV geometry of both config.json layouts', () => {
    expect(kvGeometry(readJson<DecoderConfigJson>('models/kjv-gpt2/config.json'))).toEqual({ layers: 4, kvHeads: 6, headDim: 32, maxPositions: 256, vocab: 2048 });
    expect(kvGeometry(readJson<DecoderConfigJson>('models/kjv-llama/config.json'))).toEqual({ layers: 4, kvHeads: 2, headDim: 32, maxPositions: 256, vocab: 2048 });
    expect(() => kvGeometry({ model_type: 'bert', vocab_size: 3 })).toThrow(/not supported/);
  });

  it('argmax takes the first of equal maxima; top-k sampling never leaves the top k', () => {
    expect(argmax(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    const logits = Float32Array.from([0, 5, 4, 3, 2, 1]);
    const rand = mulberry32(42);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(sampleLogits(logits, 1, 2, rand));
    expect([...seen].sort()).toEqual([1, 2]);
    expect(() => sampleLogits(logits, 0, 2, rand)).toThrow(RangeError);
  });

  it('mulberry32 is deterministic per seed and uniform enough', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(xs.slice(0, 5));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
