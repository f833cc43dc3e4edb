import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, loadModel, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { randomInputs, runModel } from '@fuselab/gpu-runtime';
import { decoderProfiles } from '../src/decoder-profiles.ts';
import { ProfileError, profileDimValues, resolveProfile } from '../src/profiles.ts';

const fixture = (name: string) => loadModel(readFileSync(new URL(`../../../examples/fixtures/${name}.onnx`, import.meta.url)));

/** input_ids → Gather → logits, with the inputs a decoder declares (shapes given per test). */
function tinyDecoder(shapes: { ids: Array<string | number>; mask: Array<string | number>; past?: Array<string | number> }): Model {
  const b = new GraphBuilder();
  const ids = b.input('input_ids', 'int64', shapes.ids);
  b.input('attention_mask', 'int64', shapes.mask);
  if (shapes.past) b.input('past_key_values.0.key', 'float32', shapes.past);
  const table = b.f32('embed', [16, 4], Array.from({ length: 64 }, (_, i) => i / 64));
  b.output(b.op('Gather', [table, ids]), 'logits');
  return b.build();
}

describe('decoderProfiles', () => {
  it('makes prefill and decode profiles on a KV decoder\'s own symbols, past + sequence included', () => {
    const m = fixture('llama-tiny-kv');
    const r = decoderProfiles(m, { batch: 2, maxContext: 64, prefillTokens: 48, typicalPrompt: 16 });
    expect(r.symbols).toEqual({ batch: 'batch_size', sequence: 'sequence_length', past: 'past_sequence_length' });
    expect(r.profiles.map((p) => p.name)).toEqual(['prefill', 'decode']);
    const [prefill, decode] = r.profiles;
    expect(prefill.inputs.input_ids).toEqual({ min: [1, 1], opt: [1, 16], max: [2, 48] });
    expect(prefill.inputs.attention_mask).toEqual({ min: [1, 1], opt: [1, 16], max: [2, 48] });
    expect(prefill.inputs['past_key_values.0.key']).toEqual({ min: [1, 2, 0, 16], opt: [1, 2, 0, 16], max: [2, 2, 0, 16] });
    expect(decode.inputs.input_ids).toEqual({ min: [1, 1], opt: [1, 1], max: [2, 1] });
    expect(decode.inputs.attention_mask).toEqual({ min: [1, 2], opt: [1, 17], max: [2, 64] });
    expect(decode.inputs['past_key_values.1.value']).toEqual({ min: [1, 2, 1, 16], opt: [1, 2, 16, 16], max: [2, 2, 63, 16] });
    // every fed input is covered and the optimizer's checker accepts them
    for (const p of r.profiles) {
      expect(Object.keys(p.inputs).sort()).toEqual(m.graph.inputs.filter((v) => !v.initializer).map((v) => v.name).sort());
      expect(resolveProfile(m, p).frozen).toBeDefined();
    }
    // decode freezes one new token; prefill freezes an empty past
    expect(resolveProfile(m, decode).bindings).toEqual({ sequence_length: 1 });
    expect(resolveProfile(m, prefill).bindings).toEqual({ past_sequence_length: 0 });
    expect(r.maxContext).toBe(64);
  });

  it('gives shapes onnxruntime-web runs at every profile point', async () => {
    const m = fixture('gpt2-tiny-kv');
    const bytes = serializeModelToBytes(m);
    const { profiles } = decoderProfiles(m, { batch: 2, maxContext: 24, prefillTokens: 12 });
    for (const p of profiles) {
      for (const which of ['min', 'opt', 'max'] as const) {
        const dims = profileDimValues(m, p, which);
        const out = await runModel(bytes, randomInputs(m, { dims }));
        const past = dims.past_sequence_length ?? 0;
        expect(out.logits.dims, `${p.name} ${which}`).toEqual([dims.batch_size, dims.sequence_length, 256]);
        expect(out['present.0.key'].dims[2], `${p.name} ${which}`).toBe(past + dims.sequence_length);
        expect(out['present.0.key'].dims[2]).toBeLessThanOrEqual(24);
      }
    }
  });

  it('clamps the prefill to the context, and runs a model without KV cache to the full context', () => {
    const m = fixture('gpt2-tiny');
    const r = decoderProfiles(m, { batch: 1, maxContext: 32, prefillTokens: 100 });
    expect(r.notes).toEqual(['prefill tokens 100 > max context 32: clamped to 32']);
    expect(r.profiles.map((p) => p.name)).toEqual(['prefill']);
    expect(r.symbols.past).toBeNull();
    expect(r.profiles[0].inputs.input_ids).toEqual({ min: [1, 1], opt: [1, 32], max: [1, 32] });
  });

  it('reads a mask length of its own as past + sequence, and keeps a static batch', () => {
    const m = tinyDecoder({ ids: [1, 'seq'], mask: [1, 'total'], past: [1, 2, 'past', 4] });
    const r = decoderProfiles(m, { batch: 4, maxContext: 10, prefillTokens: 8, typicalPrompt: 3 });
    expect(r.notes).toEqual(['the model fixes the batch at 1']);
    const [prefill, decode] = r.profiles;
    expect(prefill.inputs.attention_mask).toEqual({ min: [1, 1], opt: [1, 3], max: [1, 8] });
    expect(decode.inputs.attention_mask).toEqual({ min: [1, 2], opt: [1, 4], max: [1, 10] });
    expect(decode.inputs['past_key_values.0.key']).toEqual({ min: [1, 2, 1, 4], opt: [1, 2, 3, 4], max: [1, 2, 9, 4] });
  });

  it('says what does not fit', () => {
    const m = fixture('llama-tiny-kv');
    expect(() => decoderProfiles(m, { batch: 0, maxContext: 8, prefillTokens: 4 })).toThrow(ProfileError);
    expect(() => decoderProfiles(m, { batch: 1, maxContext: 1, prefillTokens: 1 })).toThrow(/max context.*≥ 2 for a KV-cache decoder/);
    expect(() => decoderProfiles(fixture('cnn-tiny'), { batch: 1, maxContext: 8, prefillTokens: 4 })).toThrow(/no 'input_ids' input/);
    const fixedSeq = tinyDecoder({ ids: ['b', 8], mask: ['b', 8] });
    expect(() => decoderProfiles(fixedSeq, { batch: 1, maxContext: 8, prefillTokens: 4 })).toThrow(/sequence dim is 8, not a symbol/);
    const odd = tinyDecoder({ ids: ['b', 's'], mask: ['b', 's * 2 + other'] });
    expect(() => decoderProfiles(odd, { batch: 1, maxContext: 8, prefillTokens: 4 })).toThrow(/'attention_mask'.*does not follow/);
  });
});
