import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GraphBuilder, inferShapes, loadModel } from '@fuselab/graph-core';
import type { Model } from '@fuselab/graph-core';
import { kvCacheBytes, planMemory, type MemoryPlan } from '../src/memory-plan.ts';

const fixturePath = (rel: string) => new URL(`../../../examples/${rel}`, import.meta.url);
const load = (rel: string): Model => loadModel(readFileSync(fixturePath(rel)));
const DIMS = { batch_size: 1, sequence_length: 16, past_sequence_length: 32 };

/** name → [offset, start, end] */
const layout = (p: MemoryPlan) => Object.fromEntries(p.tensors.map((t) => [t.value, [t.offset, t.start, t.end]]));

function checkInvariants(p: MemoryPlan): void {
  const ts = p.tensors;
  for (let i = 0; i < ts.length; i++) {
    const a = ts[i];
    expect(a.offset % p.alignment).toBe(0);
    expect(a.offset + a.alignedBytes).toBeLessThanOrEqual(p.arenaBytes);
    for (let j = i + 1; j < ts.length; j++) {
      const b = ts[j];
      const time = a.start <= b.end && b.start <= a.end;
      const space = a.offset < b.offset + b.alignedBytes && b.offset < a.offset + a.alignedBytes;
      if (time && space) throw new Error(`${a.value} and ${b.value} overlap in time and space`);
    }
  }
  expect(p.arenaBytes).toBeGreaterThanOrEqual(p.peakLiveBytes);
  expect(p.arenaBytes).toBeLessThanOrEqual(p.naiveBytes);
  expect(Math.max(...p.steps.map((s) => s.liveBytes))).toBe(p.peakLiveBytes);
  expect(JSON.parse(JSON.stringify(p))).toEqual(p);
}

describe('planMemory: hand-computed small graphs', () => {
  it('chain: two buffers ping-pong', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 16]);
    const a = b.op('Relu', [x], {}, { outputNames: ['a'] });
    const m = b.op('Relu', [a], {}, { outputNames: ['m'] });
    b.output(b.op('Relu', [m], {}, { outputNames: ['c'] }));
    const p = planMemory(b.build(), { dims: {}, alignment: 64 });
    expect(layout(p)).toEqual({ a: [0, 0, 1], m: [64, 1, 2], c: [0, 2, 2] });
    expect(p.tensors.map((t) => t.bytes)).toEqual([64, 64, 64]);
    expect([p.arenaBytes, p.naiveBytes, p.peakLiveBytes]).toEqual([128, 192, 128]);
    expect(p.steps.map((s) => s.liveBytes)).toEqual([64, 128, 128]);
    expect(p.unknownSizes).toEqual([]);
    checkInvariants(p);
  });

  it('diamond: the fork stays alive until its second branch', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 32]);
    const a = b.op('Relu', [x], {}, { outputNames: ['a'] });
    const l = b.op('Sigmoid', [a], {}, { outputNames: ['l'] });
    const r = b.op('Tanh', [a], {}, { outputNames: ['r'] });
    b.output(b.op('Add', [l, r], {}, { outputNames: ['d'] }));
    const p = planMemory(b.build(), { dims: {}, alignment: 128 });
    expect(layout(p)).toEqual({ a: [0, 0, 2], l: [128, 1, 3], r: [256, 2, 3], d: [0, 3, 3] });
    expect([p.arenaBytes, p.naiveBytes, p.peakLiveBytes]).toEqual([384, 512, 384]);
    expect(p.steps.map((s) => s.liveBytes)).toEqual([128, 256, 384, 384]);
    checkInvariants(p);
  });

  it('late consumer, mixed sizes: largest placed first, small one fills above', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 16]);
    const a = b.op('Relu', [x], {}, { outputNames: ['a'] }); // 64 B, read again at step 3
    const w = b.op('Concat', [a, a], { axis: 1 }, { outputNames: ['w'] }); // 128 B
    const c = b.op('Relu', [w], {}, { outputNames: ['c'] }); // 128 B
    b.output(b.op('Concat', [c, a], { axis: 1 }, { outputNames: ['d'] })); // 192 B
    const p = planMemory(b.build(), { dims: {}, alignment: 64 });
    // d@0 first (largest); w@0 (no time overlap with d); c clears d and w → 192; a clears all → 320
    expect(layout(p)).toEqual({ a: [320, 0, 3], w: [0, 1, 2], c: [192, 2, 3], d: [0, 3, 3] });
    expect([p.arenaBytes, p.naiveBytes, p.peakLiveBytes]).toEqual([384, 512, 384]);
    expect(p.steps.map((s) => s.liveBytes)).toEqual([64, 192, 320, 384]);
    checkInvariants(p);
  });

  it('graph outputs live to the end; dead values live one step', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [1, 16]);
    b.output(b.op('Relu', [x], {}, { outputNames: ['early'] }));
    b.op('Neg', [x], {}, { outputNames: ['dead'] });
    const s = b.op('Sigmoid', [x], {}, { outputNames: ['s'] });
    b.output(b.op('Tanh', [s], {}, { outputNames: ['late'] }));
    const p = planMemory(b.build(), { dims: {}, alignment: 64 });
    expect(layout(p)).toEqual({ early: [0, 0, 3], dead: [64, 1, 1], s: [64, 2, 3], late: [128, 3, 3] });
    expect([p.arenaBytes, p.naiveBytes, p.peakLiveBytes]).toEqual([192, 256, 192]);
    checkInvariants(p);
  });

  it('symbolic dims come from options.dims; unbound ones are listed, excluded, never guessed', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['n', 16]);
    const y = b.input('y', 'float32', ['k', 16]);
    const a = b.op('Relu', [x], {}, { outputNames: ['a'] });
    const u = b.op('Relu', [y], {}, { outputNames: ['u'] });
    b.output(b.op('Add', [a, a], {}, { outputNames: ['o'] }));
    b.output(u);
    const model = b.build();
    const p = planMemory(model, { dims: { n: 3 }, alignment: 1 });
    expect(p.tensors.map((t) => [t.value, t.shape, t.bytes])).toEqual([
      ['a', [3, 16], 192],
      ['o', [3, 16], 192],
    ]);
    expect(p.unknownSizes).toEqual([{ value: 'u', node: expect.any(String), reason: 'dims not bound: k' }]);
    expect([p.arenaBytes, p.naiveBytes, p.peakLiveBytes]).toEqual([384, 384, 384]);
    // the caller's model is not touched (inference ran on a clone)
    expect(model.graph.nodes[0].outputs[0]?.type).toBeNull();
    checkInvariants(p);
  });

  it('rejects a bad alignment', () => {
    const b = new GraphBuilder();
    b.output(b.op('Relu', [b.input('x', 'float32', [1])]));
    expect(() => planMemory(b.build(), { dims: {}, alignment: 0 })).toThrow(/alignment/);
  });
});

describe('planMemory: real fixtures', () => {
  const cases = [
    { file: 'fixtures/gpt2-tiny-kv.onnx', kvHeads: 4 },
    { file: 'fixtures/llama-tiny-kv.onnx', kvHeads: 2 },
  ];
  for (const { file, kvHeads } of cases) {
    it(`${file}: no overlaps, arena between peak and naive, real reuse, KV bytes by hand`, () => {
      const model = load(file);
      const p = planMemory(model, { dims: DIMS, maxContext: 48 });
      checkInvariants(p);
      expect(p.tensors.length).toBeGreaterThan(100);
      expect(p.arenaBytes).toBeLessThan(p.naiveBytes / 3);
      expect(p.steps).toHaveLength(model.graph.nodeCount);
      expect(p.weightsBytes).toBeGreaterThan(0);
      // 2 layers × (K and V) × heads × head_dim 16 × 4 bytes, batch 1
      const perToken = 2 * 2 * kvHeads * 16 * 4;
      expect(p.kvCacheBytes).toEqual({ perToken, inputs: 4, atMax: perToken * 48 });
      expect(kvCacheBytes(model, { batch: 3, context: 100 })).toEqual({ perToken: 3 * perToken, total: 300 * perToken, inputs: 4 });
      // present.* outputs live to the last step
      const present = p.tensors.find((t) => t.value === 'present.1.value');
      expect(present?.end).toBe(p.steps.length - 1);
      expect(present?.bytes).toBe(1 * kvHeads * 48 * 16 * 4);
      console.log(`${file}: naive ${p.naiveBytes} arena ${p.arenaBytes} peak ${p.peakLiveBytes} tensors ${p.tensors.length} unknown ${p.unknownSizes.length} weights ${p.weightsBytes} kv/token ${p.kvCacheBytes?.perToken}`);
    });
  }

  it('a model without KV inputs has no KV size', () => {
    const b = new GraphBuilder();
    b.output(b.op('Relu', [b.input('x', 'float32', [1])]));
    const m = b.build();
    expect(planMemory(m, { dims: {} }).kvCacheBytes).toBeNull();
    expect(kvCacheBytes(m, { batch: 1, context: 1 })).toBeNull();
  });

  // the PyTorch export when it has been generated here; otherwise (always in CI) the same shape built
  // in code with zero weights — the test runs either way, never skips
  const big = 'generated/gpt2-small-kv.onnx';
  it('GPT-2-small shape: planning a ~3000-node graph is fast', async () => {
    const { buildGpt2Shaped, GPT2_SMALL } = await import('@fuselab/examples');
    const model = existsSync(fixturePath(big)) ? load(big) : buildGpt2Shaped({ ...GPT2_SMALL, randomWeights: false });
    const typed = model.clone();
    inferShapes(typed);
    planMemory(typed, { dims: DIMS }); // warm-up
    let t0 = performance.now();
    const p = planMemory(typed, { dims: DIMS });
    const planMs = performance.now() - t0;
    t0 = performance.now();
    planMemory(model, { dims: DIMS });
    const withInference = performance.now() - t0;
    checkInvariants(p);
    expect(planMs).toBeLessThan(250); // budget is 50 ms; slack for a loaded CI-less machine
    console.log(`GPT-2-small shape: ${model.graph.nodeCount} nodes, naive ${p.naiveBytes} arena ${p.arenaBytes} peak ${p.peakLiveBytes} kv/token ${p.kvCacheBytes?.perToken}, plan ${planMs.toFixed(1)} ms, ${withInference.toFixed(1)} ms with clone + shape inference`);
  });
});
