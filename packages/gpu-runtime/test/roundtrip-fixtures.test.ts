import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { compareTensors, FP32_EXACT, hostFromBase64, runModel, type HostTensor } from '../src/index.ts';

/**
 * graph-core round trip on every fixture: read → IR → write must be lossless for the IR, stable in
 * bytes, and give bit-identical outputs in onnxruntime-web — which also match the PyTorch-recorded
 * outputs within the tolerance recorded with them.
 */
const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;
const manifest = JSON.parse(readFileSync(join(fixtures, 'manifest.json'), 'utf8')) as { fixtures: Array<{ name: string; file: string; io: string }> };
type Rec = Record<string, { dtype: string; dims: number[]; data: string }>;
const decode = (rec: Rec) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, hostFromBase64(v)])) as Record<string, HostTensor>;

function load(file: string): { model: Model; bytes: Uint8Array; close(): void } {
  const f = openModelFile(join(fixtures, file));
  // external tensors are inlined for onnxruntime-web, which takes a single buffer here
  return { model: f.model, bytes: serializeModelToBytes(f.model, { inlineExternal: true }), close: () => f.close() };
}

describe.each(manifest.fixtures.map((f) => [f.name, f] as const))('round trip of %s', (_name, f) => {
  it('is lossless, byte-stable, and runs bit-identically in onnxruntime-web', async () => {
    const { model, bytes, close } = load(f.file);
    try {
      const again = loadModel(bytes);
      expect(again.graph.nodes.map((n) => `${n.name}:${n.qualifiedType}`)).toEqual(model.graph.nodes.map((n) => `${n.name}:${n.qualifiedType}`));
      expect([...again.graph.initializers.keys()].sort()).toEqual([...model.graph.initializers.keys()].sort());
      for (const [name, v] of model.graph.initializers) {
        expect(Buffer.from(again.graph.initializers.get(name)!.initializer!.bytes()).equals(Buffer.from(v.initializer!.bytes())), name).toBe(true);
      }
      expect(again.graph.inputs.map((v) => [v.name, v.dtype, v.shape])).toEqual(model.graph.inputs.map((v) => [v.name, v.dtype, v.shape]));
      expect(again.graph.outputs.map((v) => [v.name, v.dtype, v.shape])).toEqual(model.graph.outputs.map((v) => [v.name, v.dtype, v.shape]));
      // second generation is byte-identical to the first
      expect(Buffer.from(serializeModelToBytes(again)).equals(Buffer.from(bytes))).toBe(true);

      const io = JSON.parse(readFileSync(join(fixtures, f.io), 'utf8')) as { inputs: Rec; outputs: Rec; tolerance: { atol: number; rtol: number } };
      const feeds = decode(io.inputs);
      const originalBytes = f.file.includes('external') ? bytes : readFileSync(join(fixtures, f.file));
      const ref = await runModel(originalBytes, feeds);
      const got = await runModel(bytes, feeds);
      const recorded = decode(io.outputs);
      for (const name of Object.keys(recorded)) {
        const exact = compareTensors(name, ref[name], got[name], FP32_EXACT);
        expect(exact.passed, `${name}: rewritten file differs from the original by ${exact.maxAbsErr}`).toBe(true);
        const vsTorch = compareTensors(name, recorded[name], got[name], { name: 'torch-recorded-fp32', atol: io.tolerance.atol, rtol: io.tolerance.rtol, minCosine: 0.9999 });
        expect(vsTorch.passed, `${name}: vs PyTorch max abs ${vsTorch.maxAbsErr}`).toBe(true);
      }
    } finally {
      close();
    }
  });
});
