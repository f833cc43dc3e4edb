/**
 * serializeModelsSplit: several models over one external-data blob, a tensor two models share stored
 * once; each model loads back with its weights from that blob.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, loadModel, memorySource, serializeModelSplit, serializeModelsSplit, type Model } from '../../src/index.ts';

function model(name: string, weights: Record<string, Float32Array>): Model {
  const b = new GraphBuilder({ name, opsets: { '': 17 } });
  let x = b.input('x', 'float32', [1, 256]);
  for (const [w, data] of Object.entries(weights)) x = b.op('Add', [x, b.initializer(w, 'float32', [1, 256], data)]);
  b.output(x, 'y');
  return b.build();
}

const shared = Float32Array.from({ length: 256 }, (_, i) => i / 7);
const decode = model('decode', { shared, only_decode: Float32Array.from({ length: 256 }, (_, i) => -i) });
// the same bytes in another array (a second fusion of the same weights holds its own copy)
const prompt = model('prompt', { shared_copy: Float32Array.from(shared), only_prompt: Float32Array.from({ length: 256 }, (_, i) => i * i) });

function weightsOf(bytes: Uint8Array, blob: Uint8Array, location: string): Record<string, number[]> {
  const m = loadModel(bytes, { externalData: { open: (loc) => { expect(loc).toBe(location); return memorySource(blob); } } });
  return Object.fromEntries([...m.graph.initializers].map(([name, v]) => [name, Array.from(new Float32Array(v.initializer!.bytes().slice().buffer))]));
}

describe('serializeModelsSplit', () => {
  it('stores a tensor two models share once, and each model reads its own weights back', () => {
    const { models, weights, location } = serializeModelsSplit([decode, prompt], { location: 'weights.bin' });
    expect(models).toHaveLength(2);
    // three distinct 1 KiB tensors at 64-byte alignment (four if the shared one were stored twice)
    expect(weights.byteLength).toBe(3 * 1024);
    const a = weightsOf(models[0], weights, location);
    const b = weightsOf(models[1], weights, location);
    expect(a.shared).toEqual(Array.from(shared));
    expect(b.shared_copy).toEqual(Array.from(shared));
    expect(b.only_prompt[3]).toBe(9);
    expect(a.only_decode[3]).toBe(-3);
  });

  it('serializeModelSplit of one model is the one-model case', () => {
    const one = serializeModelSplit(decode, { location: 'w.bin' });
    const many = serializeModelsSplit([decode], { location: 'w.bin' });
    expect(one.weights).toEqual(many.weights);
    expect(one.model).toEqual(many.models[0]);
  });
});
