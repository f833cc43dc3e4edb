/**
 * The default workflow on the Qwen2-, Mistral- and Phi-3-style decoder fixtures (TorchScript exports,
 * with and without KV inputs; examples/scripts/make_fixtures.py): norms and attention fused, and the
 * optimized model agrees with the original in onnxruntime-web and with the outputs PyTorch recorded.
 *
 * The attention expectations state what happens today (one GroupQueryAttention per layer, no rejected
 * candidate, one contract warning): a change in either direction fails here, loudly.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes } from '@fuselab/graph-core';
import {
  compareTensors, hostFromBase64, runModel, validateModels,
} from '@fuselab/gpu-runtime';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '../src/index.ts';
import { batchRow } from './attention-test-utils.ts';

const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;

interface Recorded {
  inputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  outputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  tolerance: { atol: number; rtol: number };
}


const TORCHSCRIPT = ['qwen2-tiny', 'qwen2-tiny-kv', 'mistral-tiny', 'mistral-tiny-kv', 'phi3-tiny', 'phi3-tiny-kv'];
// the same architectures from torch.onnx's dynamo exporter (torch 2.11, made on the GPU machine)
const FILES = [...TORCHSCRIPT, ...TORCHSCRIPT.map((f) => `${f}.dynamo`)];

describe.each(FILES)('default workflow on %s', (file) => {
  const kv = file.replace('.dynamo', '').endsWith('-kv');
  const original = loadModel(readFileSync(join(fixtures, `${file}.onnx`)));
  const recorded = JSON.parse(readFileSync(join(fixtures, `${file}.io.json`), 'utf8')) as Recorded;
  const optimized = original.clone();
  const rec = runPasses(optimized, workflowSteps(defaultWorkflow(), PASSES));
  const ops = optimized.graph.nodes.map((n) => n.opType);
  const count = (t: string): number => ops.filter((o) => o === t).length;

  it('fuses the norms: one SimplifiedLayerNormalization, four SkipSimplifiedLayerNormalization, no RMSNorm pieces left', () => {
    expect(count('SimplifiedLayerNormalization')).toBe(1);
    expect(count('SkipSimplifiedLayerNormalization')).toBe(4);
    for (const gone of ['ReduceMean', 'Pow', 'Sqrt', 'Reciprocal']) expect(count(gone), `${gone} left`).toBe(0);
  });

  it('fuses attention: one GroupQueryAttention per layer, no rejected candidate, one contract warning', () => {
    expect(count('GroupQueryAttention')).toBe(2);
    expect(rec.fused.GroupQueryAttention).toBe(2);
    const attn = rec.diagnostics.filter((d) => d.pass === 'fuse-attention');
    expect(attn.filter((d) => d.kind === 'rejected').map((d) => d.message)).toEqual([]);
    expect(attn.filter((d) => d.kind === 'warning').map((d) => d.message)).toHaveLength(1);
    for (const gone of ['Softmax', 'Neg', 'Cos', 'Sin', 'Expand']) expect(count(gone), `${gone} left`).toBe(0);
    expect(optimized.graph.nodes.filter((n) => n.opType === 'GroupQueryAttention').map((n) => n.name))
      .toEqual([0, 1].map((l) => `/model/layers.${l}/self_attn/GroupQueryAttention_fused`));
    expect(rec.nodesAfter).toBeLessThanOrEqual(36);
  });

  it('validates against the original in onnxruntime-web', async () => {
    const r = await validateModels(original, serializeModelToBytes(optimized));
    expect(r.passed, r.outputs.map((o) => `${o.name} ${o.maxAbsErr}`).join(', ')).toBe(true);
  });

  it('reproduces the outputs PyTorch recorded (io.json tolerance)', async () => {
    const tol = { name: 'torch-vs-optimized', atol: recorded.tolerance.atol, rtol: recorded.tolerance.rtol };
    const inputs = Object.fromEntries(Object.entries(recorded.inputs).map(([k, v]) => [k, hostFromBase64(v)]));
    const bytes = serializeModelToBytes(optimized);
    // GroupQueryAttention takes several new tokens after a past only at batch size 1: run the rows apart
    const rowwise = kv && inputs.input_ids.dims[1] > 1;
    const runs = rowwise ? Array.from({ length: inputs.input_ids.dims[0] }, (_, b) => batchRow(inputs, b)) : [inputs];
    const outs = await Promise.all(runs.map((f) => runModel(bytes, f)));
    for (const [name, rw] of Object.entries(recorded.outputs)) {
      const want = hostFromBase64(rw);
      const data = new Float32Array(want.data.length);
      let off = 0;
      for (const o of outs) { data.set(o[name].data as Float32Array, off); off += o[name].data.length; }
      const c = compareTensors(name, want, { dtype: 'float32', dims: want.dims, data }, tol);
      expect(c.passed, `${name}: max abs ${c.maxAbsErr}`).toBe(true);
    }
  });
});
