import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, Tensor } from '@fuselab/graph-core';
import { compareTensors, detectVocab, FP32_EXACT, hostFromBase64, randomInputs, runModel, validateModels, type HostTensor } from '../src/index.ts';

const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;
const io = (name: string) => JSON.parse(readFileSync(join(fixtures, `${name}.io.json`), 'utf8')) as {
  inputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  outputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  tolerance: { atol: number; rtol: number };
};
const decode = (rec: Record<string, { dtype: string; dims: number[]; data: string }>) =>
  Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, hostFromBase64(v)])) as Record<string, HostTensor>;

describe('onnxruntime-web reference runs', () => {
  it('reproduces the PyTorch-recorded outputs of gpt2-tiny-kv within the recorded tolerance', async () => {
    const rec = io('gpt2-tiny-kv');
    const bytes = readFileSync(join(fixtures, 'gpt2-tiny-kv.onnx'));
    const out = await runModel(bytes, decode(rec.inputs));
    const tol = { name: 'torch-vs-ort-fp32', atol: rec.tolerance.atol, rtol: rec.tolerance.rtol };
    for (const [name, want] of Object.entries(decode(rec.outputs))) {
      const c = compareTensors(name, want, out[name], tol);
      expect(c.passed, `${name}: max abs ${c.maxAbsErr}`).toBe(true);
    }
  });
});

describe('randomInputs', () => {
  it('respects the model: token ids below vocab, masks of ones, positions after the past', () => {
    const m = loadModel(readFileSync(join(fixtures, 'llama-tiny-kv.onnx')));
    expect(detectVocab(m)).toBe(256);
    const f = randomInputs(m, { seed: 3, dims: { batch_size: 1, sequence_length: 3, past_sequence_length: 5 } });
    expect(f.input_ids.dims).toEqual([1, 3]);
    expect(Array.from(f.input_ids.data as BigInt64Array).every((x) => x >= 0n && x < 256n)).toBe(true);
    expect(f.attention_mask.dims).toEqual([1, 8]);
    expect(Array.from(f.attention_mask.data as BigInt64Array)).toEqual(Array(8).fill(1n));
    expect(Array.from(f.position_ids.data as BigInt64Array)).toEqual([5n, 6n, 7n]);
    expect(f['past_key_values.0.key'].dims).toEqual([1, 2, 5, 16]);
    const g = randomInputs(m, { seed: 3, dims: { batch_size: 1, sequence_length: 3, past_sequence_length: 5 } });
    expect(g.input_ids.data).toEqual(f.input_ids.data);
  });
});

describe('validateModels', () => {
  it('passes a lossless round trip exactly', async () => {
    const m = loadModel(readFileSync(join(fixtures, 'gpt2-tiny-kv.onnx')));
    const again = loadModel(serializeModelToBytes(m));
    const r = await validateModels(m, again, { tolerance: FP32_EXACT, inputSpec: { dims: { batch_size: 1, sequence_length: 4, past_sequence_length: 3 } } });
    expect(r.passed).toBe(true);
    expect(r.outputs.map((o) => o.name)).toEqual(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
    expect(r.outputs.every((o) => o.maxAbsErr === 0 && o.cosine === 1)).toBe(true);
  });

  it('fails, with per-output figures, when a weight is perturbed', async () => {
    const m = loadModel(readFileSync(join(fixtures, 'gpt2-tiny.onnx')));
    const broken = m.clone();
    const [name, v] = [...broken.graph.initializers].find(([, x]) => x.initializer!.dtype === 'float32' && x.initializer!.size > 1000)!;
    const data = Float32Array.from(v.initializer!.data() as Float32Array, (x) => x * 1.5);
    v.initializer!.storage = Tensor.from('float32', v.initializer!.dims, data).storage;
    const r = await validateModels(m, broken);
    expect(r.passed, `perturbed ${name}`).toBe(false);
    expect(r.outputs[0].name).toBe('logits');
    expect(r.outputs[0].maxAbsErr).toBeGreaterThan(1e-3);
    expect(r.outputs[0].cosine).toBeLessThan(1);
  });
});
