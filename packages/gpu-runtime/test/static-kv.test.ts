/**
 * Static KV cache on wasm: the trained kjv-llama, fused (GroupQueryAttention) and rewired by
 * `staticKvDecodeModel`, decodes from max-length KV buffers with the same greedy tokens as the
 * growing-KV Generator (and PyTorch's, recorded in greedy.json).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { serializeModelToBytes } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { convertFp16, defaultWorkflow, FP16_DEFAULT_KEEP, lastTokenLogits, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { decoderIo, Generator, isStaticKvModel, ortEnv, StaticKvError, staticKvDecodeModel, StaticKvGenerator } from '../src/index.ts';

const kjv = new URL('../../../examples/models/kjv-llama/', import.meta.url).pathname;
const greedy = JSON.parse(readFileSync(`${kjv}greedy.json`, 'utf8')) as { prompt_ids: number[]; new_ids: number[] };

/** The default workflow, fuse-attention's parameters overridden. */
function workflowWith(attention: Record<string, unknown>) {
  const w = defaultWorkflow();
  return { ...w, passes: w.passes.map((p) => (p.pass === 'fuse-attention' ? { ...p, params: { ...p.params, ...attention } } : p)) };
}

function fusedKjv(dir = kjv, attention: Record<string, unknown> = {}) {
  const file = openModelFile(`${dir}model.onnx`);
  try {
    const record = runPasses(file.model, workflowSteps(workflowWith(attention), PASSES), { fixedPoint: true });
    lastTokenLogits.run(record.model, {}, { output: 'logits' });
    return record.model;
  } finally {
    file.close();
  }
}

describe('static KV cache (wasm, kjv-llama)', () => {
  const fused = fusedKjv();

  it('staticKvDecodeModel feeds GroupQueryAttention seqlens_k / total_sequence_length from inputs', () => {
    const m = staticKvDecodeModel(fused);
    expect(isStaticKvModel(m)).toBe(true);
    const names = m.graph.inputs.filter((v) => !v.initializer).map((v) => v.name);
    expect(names).toContain('seqlens_k');
    expect(names).not.toContain('attention_mask');
    expect(m.graph.nodes.some((n) => n.opType === 'Shape' || n.opType === 'ReduceSum')).toBe(false);
    expect(m.graph.inputs.find((v) => v.name === 'past_key_values.0.key')?.shape?.[2]).toBe('max_sequence_length');
    expect(() => staticKvDecodeModel(m)).not.toThrow();
    expect(fused.graph.inputs.some((v) => v.name === 'attention_mask')).toBe(true); // the source is untouched
  });

  it('refuses a model without GroupQueryAttention', () => {
    const m = fused.clone();
    for (const n of m.graph.nodes) if (n.opType === 'GroupQueryAttention') n.opType = 'NotGqa';
    expect(() => staticKvDecodeModel(m)).toThrow(StaticKvError);
  });

  it('decodes the same greedy tokens as the growing-KV generator', async () => {
    const ort = ortEnv();
    const growingBytes = serializeModelToBytes(fused);
    const growing = await Generator.create({ ort, model: growingBytes, io: decoderIo(fused), executionProvider: 'wasm' });
    const want = await growing.run({ promptIds: greedy.prompt_ids, maxTokens: greedy.new_ids.length, ignoreEos: true });
    await growing.release();
    expect(want.tokens).toEqual(greedy.new_ids);

    const m = staticKvDecodeModel(fused);
    const gen = await StaticKvGenerator.create({ ort, model: serializeModelToBytes(m), io: decoderIo(m), executionProvider: 'wasm', maxSequenceLength: 64 });
    const got = await gen.run({ promptIds: greedy.prompt_ids, maxTokens: greedy.new_ids.length, ignoreEos: true });
    expect(got.tokens).toEqual(want.tokens);
    // a second generation reuses the buffers (stale positions past seqlens_k are never read)
    const again = await gen.run({ promptIds: greedy.prompt_ids.slice(0, 3), maxTokens: 5, ignoreEos: true });
    const ref = await Generator.create({ ort, model: growingBytes, io: decoderIo(fused), executionProvider: 'wasm' });
    expect(again.tokens).toEqual((await ref.run({ promptIds: greedy.prompt_ids.slice(0, 3), maxTokens: 5, ignoreEos: true })).tokens);
    await ref.release();
    // the buffers bound the context
    const long = await gen.run({ promptIds: greedy.prompt_ids, maxTokens: 100, ignoreEos: true });
    expect(long.reason).toBe('max-context');
    expect(long.tokens.length).toBe(64 - greedy.prompt_ids.length + 1);
    await gen.release();
  }, 120_000);
});

describe('static KV cache (wasm, kjv-gpt2: GPT-2 blocks as GroupQueryAttention)', () => {
  const dir = new URL('../../../examples/models/kjv-gpt2/', import.meta.url).pathname;
  const ref = JSON.parse(readFileSync(`${dir}greedy.json`, 'utf8')) as { prompt_ids: number[]; new_ids: number[] };

  it('mhaAsGqa + staticKvDecodeModel keeps position_ids and decodes PyTorch\'s greedy tokens', async () => {
    const fused = fusedKjv(dir, { mhaAsGqa: true });
    expect(fused.graph.nodes.filter((n) => n.opType === 'GroupQueryAttention').length).toBeGreaterThan(0);
    expect(fused.graph.nodes.some((n) => n.opType === 'MultiHeadAttention')).toBe(false);
    const m = staticKvDecodeModel(fused);
    const io = decoderIo(m);
    expect(io.positionIds).toBe('position_ids');
    expect(io.attentionMask).toBeNull();
    const gen = await StaticKvGenerator.create({ ort: ortEnv(), model: serializeModelToBytes(m), io, executionProvider: 'wasm', maxSequenceLength: 64 });
    try {
      const got = await gen.run({ promptIds: ref.prompt_ids, maxTokens: ref.new_ids.length, ignoreEos: true });
      expect(got.tokens).toEqual(ref.new_ids);
    } finally {
      await gen.release();
    }
  }, 120_000);
});

describe('static KV cache of a float16 graph (wasm, kjv-llama)', () => {
  it('takes float16 KV IO in place of the Casts around each GroupQueryAttention, with the same greedy tokens', async () => {
    const fp16 = fusedKjv();
    convertFp16.run(fp16, {}, { keepOps: [...FP16_DEFAULT_KEEP], keepNodes: [], keepIO: true });
    const kvIn = fp16.graph.inputs.find((v) => v.name === 'past_key_values.0.key');
    expect(kvIn?.dtype).toBe('float32'); // fp32 IO, a Cast to float16 before the attention
    expect(kvIn?.uses.every((u) => u.node.opType === 'Cast')).toBe(true);

    const m = staticKvDecodeModel(fp16);
    const gqa = m.graph.nodes.filter((n) => n.opType === 'GroupQueryAttention');
    for (const n of gqa) {
      for (const i of [3, 4]) expect(n.input(i).isGraphInput && n.input(i).dtype).toBe('float16');
      for (const o of [1, 2]) expect(n.output(o).isGraphOutput).toBe(true);
    }
    const io = decoderIo(m);
    expect(io.kv.every((k) => k.dtype === 'float16')).toBe(true);
    expect(m.graph.outputs.find((v) => v.name === 'present.0.key')?.producer?.opType).toBe('GroupQueryAttention');
    // the KV values are float16 on both sides of the old Casts, so generation is the same computation
    const ort = ortEnv();
    const growing = await Generator.create({ ort, model: serializeModelToBytes(fp16), io: decoderIo(fp16), executionProvider: 'wasm' });
    const want = await growing.run({ promptIds: greedy.prompt_ids, maxTokens: 8, ignoreEos: true });
    await growing.release();
    const gen = await StaticKvGenerator.create({ ort, model: serializeModelToBytes(m), io, executionProvider: 'wasm', maxSequenceLength: 64 });
    try {
      expect((await gen.run({ promptIds: greedy.prompt_ids, maxTokens: 8, ignoreEos: true })).tokens).toEqual(want.tokens);
    } finally {
      await gen.release();
    }
  }, 120_000);
});
