/**
 * The runtime side of the store driven like a user, headless: the GPU runtime's RuntimeHost runs in
 * process behind a MessageChannel (wasm: Node has no WebGPU here, so it also checks the fallback
 * reason is reported), the model service in process. Open → run the workflow (its build-engine node
 * builds a real engine) → generate greedy on both sides → timings → heatmap on the source graph;
 * then open an engine file, a damaged one, and the pure helpers behind the panels.
 */
import fs, { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { installProfileSink, ortEnv, RuntimeClient, RuntimeHost, type LayerTimings, type PortLike } from '@fuselab/gpu-runtime';
import { createEditorStore, type EditorStore } from '../src/store/editor-store.ts';
import { localLayoutService, localModelService } from '../src/worker/services.ts';
import { clientRuntime } from '../src/worker/runtime-service.ts';
import { assetsBeside, assetsFromFiles } from '../src/runtime/assets.ts';
import { finalStats, liveStats, ratio } from '../src/runtime/live-stats.ts';
import { byOpType, timingHeat, topNodes } from '../src/runtime/timings.ts';
import { parseStops } from '../src/components/PlaygroundControls.tsx';
import { KJV_LLAMA, readBytes, REPO } from './helpers.ts';

installProfileSink(fs);
const DIR = join(REPO, 'examples/models/kjv-llama');
const greedy = JSON.parse(readFileSync(join(DIR, 'greedy.json'), 'utf8')) as { prompt: string; new_ids: number[]; text: string };

const channel = new MessageChannel();
new RuntimeHost(channel.port1 as unknown as PortLike, { host: 'node-test', ort: async () => ortEnv(), adapter: async () => null });
const runtime = clientRuntime(new RuntimeClient(channel.port2 as unknown as PortLike));
afterAll(() => { channel.port1.close(); channel.port2.close(); });

/** Serves the example folder to `assetsBeside` as the Vite middleware would. */
const diskFetcher = async (url: string) => {
  const rel = url.replace(/^\/examples\//, '');
  try { return readBytes(join(REPO, 'examples', rel)); } catch { return null; }
};

const until = (store: EditorStore, f: (s: ReturnType<EditorStore['getState']>) => boolean, ms = 60_000) => new Promise<void>((resolve, reject) => {
  if (f(store.getState())) return resolve();
  const t = setTimeout(() => { un(); reject(new Error('timed out waiting for the store')); }, ms);
  const un = store.subscribe((s) => { if (f(s)) { clearTimeout(t); un(); resolve(); } });
});

describe('playground store (headless user, runtime host over a MessageChannel)', () => {
  const store = createEditorStore({ model: localModelService(), layout: localLayoutService(), runtime, fetcher: diskFetcher });
  const a = () => store.getState().actions;

  it('opens the example with its tokenizer and configs, builds an engine from the workflow', async () => {
    // (the app opens the URL and reads the folder beside it; Node's fetch can't read a relative URL)
    await a().open({ kind: 'bytes', bytes: readBytes(KJV_LLAMA), name: 'kjv-llama/model.onnx' });
    a().setAssets(await assetsBeside('/examples/models/kjv-llama/model.onnx', diskFetcher));
    const assets = store.getState().assets;
    expect(assets.tokenizer?.byteLength).toBeGreaterThan(1000);
    expect(assets.generation?.eos_token_id).toBe(2047);
    expect(assets.maxPositions).toBe(256);

    await a().runFlow();
    const s = store.getState();
    expect(s.optimized?.summary.nodeCount).toBe(48);
    // the hello said why there is no WebGPU; the engine was built for wasm
    expect(s.runtime.hello?.webgpuUnavailable).toMatch(/no adapter/);
    expect(s.engine.state).toBe('ready');
    expect(s.engine.origin).toBe('built');
    const m = s.engine.manifest;
    expect(m?.device.backend).toBe('wasm');
    expect(m?.graph.fused.GroupQueryAttention).toBe(4);
    expect(m?.validation?.passed).toBe(true);
    expect(m?.sections.map((x) => x.name)).toEqual(['model', 'tokenizer', 'tokenizer_config']);
    expect(m?.generation?.eos_token_id).toBe(2047);
    expect(m?.io.maxPositions).toBe(256);
    expect(m?.provenance.length).toBeGreaterThan(10);
    const build = s.flow.history.present.nodes.find((n) => n.kind === 'build-engine') as { id: string };
    expect(s.flow.statuses[build.id].state).toBe('done');
    expect(s.flow.statuses[build.id].stat).toMatch(/MiB · 3 sections · validated/);
    const play = s.flow.history.present.nodes.find((n) => n.kind === 'playground') as { id: string };
    expect(s.flow.statuses[play.id].stat).toMatch(/engine ready/);
    expect(a().engineBytes()?.byteLength).toBe(s.engine.byteLength);
  }, 120_000);

  it('streams the same greedy text on both sides, with stats and per-layer timings', async () => {
    a().setPlayground({ prompt: greedy.prompt, maxTokens: 12 });
    const seen: string[] = [];
    const un = store.subscribe((x) => { const t = x.playground.sides.optimized.run.text; if (t && t !== seen.at(-1)) seen.push(t); });
    await a().generate();
    un();
    const pg = store.getState().playground;
    expect(pg.running).toBe(false);
    for (const id of ['plain', 'optimized'] as const) {
      const side = pg.sides[id];
      expect(side.load.state, side.load.error ?? '').toBe('ready');
      expect(side.load.info?.backend).toBe('wasm');
      expect(side.load.info?.fallbackReason).toMatch(/no adapter/);
      expect(side.run.state, side.run.error ?? '').toBe('done');
      expect(side.run.reason).toBe('max-tokens');
      expect(side.run.stats.final).toBe(true);
      expect(side.run.stats.tokens).toBe(12);
      expect(side.run.stats.ttftMs).toBeGreaterThan(0);
      expect(side.run.stats.decodeTokPerSec).toBeGreaterThan(0);
      expect(side.run.stats.interTokenMs?.p95).toBeGreaterThanOrEqual(side.run.stats.interTokenMs?.p50 ?? Infinity);
      expect(side.run.profiled).toBe(true);
      expect(side.layers?.nodes.length).toBeGreaterThan(0);
    }
    expect(pg.sides.plain.load.info?.manifest).toBeNull();
    expect(pg.sides.optimized.load.info?.manifest?.graph.nodes).toBe(48);
    // greedy: both sides say what the reference model said
    expect(pg.sides.optimized.run.text).toBe(pg.sides.plain.run.text);
    expect(greedy.text.startsWith(pg.sides.plain.run.text)).toBe(true);
    expect(pg.sides.plain.run.text.length).toBeGreaterThan(10);
    // it streamed: the text grew token by token
    expect(seen.length).toBeGreaterThan(5);
    // the optimized side's fused nodes name their sources
    const gqa = pg.sides.optimized.layers?.nodes.find((n) => n.opType === 'GroupQueryAttention');
    expect(gqa?.sources.length).toBeGreaterThan(10);

    // a second run reuses the loaded sessions (no reload) and is not profiled again
    const engineId = pg.sides.optimized.load.info?.engine;
    await a().generate();
    expect(store.getState().playground.sides.optimized.load.info?.engine).toBe(engineId);
    expect(store.getState().playground.sides.optimized.run.profiled).toBe(false);
    expect(store.getState().playground.sides.optimized.layers).not.toBeNull();
  }, 120_000);

  it('runs the plain side as an honest baseline: onnxruntime\'s own graph optimizations off', async () => {
    const s = store.getState();
    const original = s.original as NonNullable<typeof s.original>;
    // every node onnxruntime timed on the plain side is a node of the opened graph: it fused nothing
    const plain = s.playground.sides.plain.layers as LayerTimings;
    expect(plain.nodes.length).toBeGreaterThan(100);
    expect(plain.nodes.filter((n) => !original.nodeByName.has(n.node)).map((n) => n.node)).toEqual([]);
    // the same bytes with onnxruntime's default ('all') level: it fuses on its own, so the baseline would not be plain
    const bytes = readBytes(KJV_LLAMA);
    const info = await runtime.load({ kind: 'onnx', name: 'model.onnx', bytes, tokenizer: s.assets.tokenizer, graphOptimizationLevel: 'all' }, { backend: 'wasm', layerTimings: true });
    let timed: LayerTimings | null = null;
    for await (const e of runtime.generate(info.engine, { prompt: greedy.prompt, maxTokens: 3 })) if (e.type === 'layers') timed = e.timings;
    await runtime.unload(info.engine);
    const ortMade = (timed?.nodes ?? []).filter((n) => !original.nodeByName.has(n.node));
    expect(ortMade.length).toBeGreaterThan(0);
    expect(timed?.nodes.length).toBeLessThan(plain.nodes.length);
  }, 60_000);

  it('puts the optimized run\'s timings on the source graph as a heatmap, fused time split among sources', async () => {
    const s0 = store.getState();
    expect(s0.mainModel).toBe('original');
    await a().setOverlay('timing', 'optimized');
    const s = store.getState();
    expect(s.overlay.kind).toBe('timing');
    expect(s.overlay.label).toMatch(/optimized/);
    const values = s.overlay.values as ReadonlyMap<string, number>;
    // values are on the ORIGINAL graph's node names
    for (const name of [...values.keys()].slice(0, 50)) expect(s.original?.nodeByName.has(name)).toBe(true);
    const layers = s.playground.sides.optimized.layers as LayerTimings;
    const gqa = layers.nodes.find((n) => n.opType === 'GroupQueryAttention');
    const src = gqa?.sources.find((x) => s.original?.nodeByName.has(x)) as string;
    expect(values.get(src)).toBeGreaterThan(0);
    // the root block rolls the whole step up (minus what onnxruntime's own nodes took: none here)
    expect(s.overlay.note).toBeUndefined();
    const total = [...values.values()].reduce((x, y) => x + y, 0);
    expect(s.panes.main.heat?.get('g:')).toBeCloseTo(total, 6);
    // switching the graph to the optimized model shows the engine's nodes as measured
    a().setMainModel('optimized');
    await until(store, (x) => x.overlay.kind === 'timing' && !!x.overlay.values && [...x.overlay.values.keys()].includes(gqa?.node as string));
    a().setMainModel('original');
    await a().setOverlay('none');
    expect(store.getState().overlay.kind).toBe('none');
  });

  it('opens an engine file (manifest shown, optimized side reloads) and refuses a damaged one', async () => {
    const bytes = (a().engineBytes() as Uint8Array).slice();
    const seq = store.getState().engine.seq;
    await a().openEngine({ name: 'kjv.engine', arrayBuffer: async () => bytes.slice().buffer });
    let s = store.getState();
    expect(s.engine.origin).toBe('file');
    expect(s.engine.name).toBe('kjv.engine');
    expect(s.engine.seq).toBe(seq + 1);
    expect(s.engine.manifest?.graph.fused.GroupQueryAttention).toBe(4);
    // the optimized side's text, stats and timings were the old engine's
    expect(s.playground.sides.optimized.run.state).toBe('idle');
    expect(s.playground.sides.optimized.run.text).toBe('');
    expect(s.playground.sides.optimized.layers).toBeNull();
    expect(s.playground.sides.plain.run.text).not.toBe('');
    a().setPlayground({ maxTokens: 3 });
    await a().generate();
    s = store.getState();
    expect(s.playground.sides.optimized.load.info?.name).toBe('kjv.engine');
    expect(s.playground.sides.optimized.run.state).toBe('done');

    const bad = bytes.slice();
    bad[bad.length - 100] ^= 0xff;
    await a().openEngine({ name: 'bad.engine', arrayBuffer: async () => bad.buffer });
    s = store.getState();
    expect(s.engine.name).toBe('kjv.engine');
    expect(s.toasts.at(-1)?.kind).toBe('error');
    expect(s.toasts.at(-1)?.text).toMatch(/bad\.engine.*(checksum|damaged)/);
  }, 60_000);

  it('stops a generation when asked', async () => {
    a().setPlayground({ maxTokens: 200 });
    const run = a().generate();
    await until(store, (x) => x.playground.sides.plain.run.stats.tokens >= 2);
    a().stop();
    await run;
    const pg = store.getState().playground;
    expect(pg.sides.plain.run.state).toBe('cancelled');
    expect(pg.sides.plain.run.stats.tokens).toBeLessThan(200);
    expect(pg.sides.optimized.run.state).toBe('cancelled');
    expect(pg.running).toBe(false);
  }, 60_000);

  it('builds for WebGPU only where there is an adapter, and says why not', async () => {
    await a().buildEngine({ target: 'webgpu' });
    const s = store.getState();
    expect(s.engine.state).toBe('error');
    expect(s.engine.error).toMatch(/WebGPU is unavailable here: .*no adapter/);
  });
});

describe('playground helpers', () => {
  const t: LayerTimings = {
    decodeMs: 10, prefillMs: 30, runs: 5,
    nodes: [
      { node: 'gqa_0', opType: 'GroupQueryAttention', provider: 'webgpu', decodeMs: 6, prefillMs: 20, source: 'gpu', sources: ['a', 'b', 'c'] },
      { node: 'mm', opType: 'MatMul', provider: 'webgpu', decodeMs: 3, prefillMs: 8, source: 'gpu', sources: ['mm'] },
      { node: 'ort_fused', opType: 'FusedThing', provider: 'webgpu', decodeMs: 1, prefillMs: 2, source: 'gpu', sources: ['ort_fused'] },
    ],
  };

  it('orders nodes by decode time and keeps their sources', () => {
    const bars = topNodes(t, 2);
    expect(bars.map((b) => b.node)).toEqual(['gqa_0', 'mm']);
    expect(bars[0].share).toBeCloseTo(0.6);
    expect(bars[0].sources).toEqual(['a', 'b', 'c']);
    expect(bars[1].sources).toEqual([]);
    expect(byOpType(t)[0]).toEqual({ opType: 'GroupQueryAttention', decodeMs: 6, count: 1 });
  });

  it('splits fused time evenly among source nodes, and counts what the graph does not have', () => {
    const known = new Set(['a', 'b', 'c', 'mm']);
    const { values, unmatchedMs } = timingHeat(t, { onSources: true, known: (n) => known.has(n) });
    expect(Object.fromEntries(values)).toEqual({ a: 2, b: 2, c: 2, mm: 3 });
    expect(unmatchedMs).toBe(1);
    const own = timingHeat(t, { onSources: false });
    expect(own.values.get('gqa_0')).toBe(6);
    expect(own.unmatchedMs).toBe(0);
  });

  it('computes live stats from token timestamps like the runtime does', () => {
    const s = liveStats(6, [120, 150, 170, 200, 210]);
    expect(s.ttftMs).toBe(120);
    expect(s.prefillTokPerSec).toBeCloseTo(50);
    expect(s.decodeTokPerSec).toBeCloseTo(4000 / 90);
    expect(s.interTokenMs).toEqual({ p50: 30, p95: 30 });
    expect(liveStats(6, []).ttftMs).toBeNull();
    const f = finalStats({ executionProvider: 'webgpu', promptTokens: 6, generatedTokens: 1, ttftMs: 5, prefillTokPerSec: 1200, decodeTokPerSec: 0, interTokenMs: { mean: 0, p50: 0, p95: 0 }, totalMs: 5, gpuMemory: { liveBytes: 1, peakBytes: 9, buffers: 1 } });
    expect(f.decodeTokPerSec).toBeNull();
    expect(f.gpuMemoryBytes).toBe(9);
    expect(ratio(10, 25)).toBe(2.5);
    expect(ratio(null, 3)).toBeNull();
  });

  it('reads picked model files by name and parses stop strings', async () => {
    const file = (name: string, text: string) => ({ name, arrayBuffer: async () => new TextEncoder().encode(text).buffer as ArrayBuffer });
    const got = await assetsFromFiles([file('tokenizer.json', '{}'), file('generation_config.json', '{"eos_token_id": 7}'), file('config.json', '{"n_positions": 1024}')]);
    expect(got.tokenizer?.byteLength).toBe(2);
    expect(got.generation?.eos_token_id).toBe(7);
    expect(got.maxPositions).toBe(1024);
    await expect(assetsFromFiles([file('weights.bin', '')])).rejects.toThrow(/expected tokenizer.json/);
    await expect(assetsFromFiles([file('config.json', '{nope')])).rejects.toThrow(/config.json: not valid JSON/);
    expect(parseStops('\\n, And ,, "x"')).toEqual(['\n', 'And', '"x"']);
  });
});
