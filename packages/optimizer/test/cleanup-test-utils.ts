/**
 * Shared by the cleanup-pass tests: run a model before and after a pass in real onnxruntime-web
 * (wasm) and compare — bit for bit, or through `validateModels` with a named tolerance.
 */
import { expect } from 'vitest';
import { serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { runModel, validateModels, FP32_EXACT, type HostTensor, type Tolerance, type ValidateOptions } from '@fuselab/gpu-runtime';

/** Runs `model` once and returns every output. */
export async function outputsOf(model: Model | Uint8Array, feeds: Record<string, HostTensor> = {}): Promise<Record<string, HostTensor>> {
  return runModel(model instanceof Uint8Array ? model : serializeModelToBytes(model), feeds);
}

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Asserts that `after` gives byte-identical outputs (dtype, dims, bits) to the serialized `before`. */
export async function expectBitExact(before: Uint8Array, after: Model, feeds: Record<string, HostTensor> = {}): Promise<void> {
  const want = await outputsOf(before, feeds);
  const got = await outputsOf(after, feeds);
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const [name, w] of Object.entries(want)) {
    const g = got[name];
    expect(g.dtype, `${name} dtype`).toBe(w.dtype);
    expect(g.dims, `${name} dims`).toEqual(w.dims);
    expect(Buffer.from(bytesOf(g)).equals(Buffer.from(bytesOf(w))), `${name}: ${Array.from(g.data as ArrayLike<number>).slice(0, 8)} vs ${Array.from(w.data as ArrayLike<number>).slice(0, 8)}`).toBe(true);
  }
}

/** Asserts that `validateModels(original, optimized)` passes with `tolerance` (default fp32-exact). */
export async function expectValid(original: Model, optimized: Model, options: ValidateOptions & { tolerance?: Tolerance } = {}): Promise<void> {
  const r = await validateModels(original, optimized, { tolerance: FP32_EXACT, ...options });
  const detail = r.outputs.map((o) => `${o.name}: maxAbs ${o.maxAbsErr} cos ${o.cosine}`).join('; ');
  expect(r.passed, detail).toBe(true);
}

/**
 * Asserts the graph is well formed: every node input is a graph input, an initializer (of this or an
 * enclosing graph) or the output of a node still in the graph.
 */
export function expectWellFormed(m: Model): void {
  const dangling: string[] = [];
  for (const n of m.graph.allNodes()) {
    for (const v of n.inputs) {
      if (!v || v.initializer || v.isGraphInput) continue;
      const p = v.producer;
      if (!p || !p.graph || !p.graph.hasNode(p)) dangling.push(`${n.name} reads '${v.name}'`);
    }
  }
  expect(dangling, 'dangling inputs').toEqual([]);
}

/** Op types of the graph's nodes, in order. */
export function opTypes(m: Model): string[] {
  return m.graph.nodes.map((n) => n.opType);
}
