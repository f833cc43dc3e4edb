import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { createSession, decoderIo, DecoderIoError, KvDecoder, ortEnv, runSession } from '../src/index.ts';

const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;

/** Greedy reference without a KV cache: rerun the whole sequence each step, take the last argmax. */
async function greedyNoCache(file: string, prompt: number[], n: number): Promise<number[]> {
  const session = await createSession(readFileSync(join(fixtures, file)));
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const feeds = {
      input_ids: { dtype: 'int64', dims: [1, ids.length], data: BigInt64Array.from(ids, (x) => BigInt(x)) },
      attention_mask: { dtype: 'int64', dims: [1, ids.length], data: new BigInt64Array(ids.length).fill(1n) },
    };
    const r = await runSession(session, feeds, ['logits']);
    const logits = r.logits.data as Float32Array;
    const vocab = r.logits.dims[2];
    const last = logits.subarray(logits.length - vocab);
    let best = 0;
    for (let k = 1; k < vocab; k++) if (last[k] > last[best]) best = k;
    out.push(best);
    ids.push(best);
  }
  await session.release();
  return out;
}

describe('KvDecoder (wasm)', () => {
  it.each([['gpt2-tiny-kv.onnx', 'gpt2-tiny.onnx'], ['llama-tiny-kv.onnx', 'llama-tiny.onnx']])('%s greedy output equals the no-cache model rerun each step', async (kvFile, plainFile) => {
    const bytes = readFileSync(join(fixtures, kvFile));
    const io = decoderIo(loadModel(bytes));
    expect(io.kv.length).toBe(4);
    const dec = await KvDecoder.create(ortEnv(), bytes, io, { executionProvider: 'wasm' });
    const prompt = [5, 17, 42, 99, 3];
    const r = await dec.generate({ promptIds: prompt, maxNewTokens: 8 });
    await dec.release();
    expect(r.tokens).toHaveLength(8);
    expect(r.stepMs).toHaveLength(7);
    expect(r.ttftMs).toBeGreaterThan(0);
    expect(r.tokens).toEqual(await greedyNoCache(plainFile, prompt, 8));
  });

  it('explains why a model is not a KV decoder', () => {
    expect(() => decoderIo(loadModel(readFileSync(join(fixtures, 'bert-tiny.onnx'))))).toThrow(DecoderIoError);
    expect(() => decoderIo(loadModel(readFileSync(join(fixtures, 'bert-tiny.onnx'))))).toThrow(/no 'logits' output/);
  });
});
