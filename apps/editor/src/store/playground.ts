/**
 * The runtime slices of the editor's store: the runtime host (hello: device or why not WebGPU), the
 * engine (built from the workflow's result in the model worker, or opened from a `.engine` file),
 * and the token playground — two sides (plain: the opened ONNX; optimized: the engine, or the
 * workflow's result as ONNX) generating the same prompt with streaming text, live stats and
 * per-layer timings. Actions are thin: the model worker builds, the runtime worker loads and
 * generates; this file sequences them and keeps the state.
 */
import { parseEngine, RuntimeHostError, wasmFingerprint, type BackendRequest, type DeviceFingerprint, type EngineManifest, type LayerTimings, type LoadedInfo, type LoadSource, type StopReason } from '@fuselab/gpu-runtime';
import { assetsBeside, assetsFromFiles, NO_ASSETS, type Fetcher, type ModelAssets } from '../runtime/assets.ts';
import { EMPTY_LIVE, finalStats, liveStats, type LiveStats } from '../runtime/live-stats.ts';
import type { RuntimeApi, RuntimeHello } from '../worker/runtime-service.ts';
import type { ModelService } from '../worker/services.ts';
import type { Progress } from '../worker/protocol.ts';
import type { OptimizationProfile } from '@fuselab/optimizer';

export type SideId = 'plain' | 'optimized';

/** The plain side runs the model as opened, with onnxruntime's graph optimizations off (the engine side keeps them on). */
export const PLAIN_GRAPH_OPTIMIZATION = 'disabled';
export const SIDES: readonly SideId[] = ['plain', 'optimized'];

export interface SideLoad {
  state: 'idle' | 'loading' | 'ready' | 'error';
  /** What is loaded (changes when the model, engine or backend does: the side is reloaded). */
  key: string | null;
  info: LoadedInfo | null;
  ms: number | null;
  error: string | null;
  errorCode: string | null;
}

export interface SideRun {
  state: 'idle' | 'waiting' | 'running' | 'done' | 'error' | 'cancelled';
  text: string;
  reason: StopReason | null;
  error: string | null;
  stats: LiveStats;
  /** This run was profiled (its stats include the profiler's overhead). */
  profiled: boolean;
}

export interface SideState {
  load: SideLoad;
  run: SideRun;
  /** Per-node timings of the last profiled run on this side. */
  layers: LayerTimings | null;
}

export interface SamplingState {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  seed: number;
}

export interface PlaygroundState {
  prompt: string;
  maxTokens: number;
  sampling: SamplingState;
  stop: string[];
  backend: BackendRequest;
  /** One side after the other (clean timings) or both at once (interleaved on one device). */
  mode: 'sequential' | 'parallel';
  /** Run engines built for another device anyway (after the user said so). */
  allowOtherDevice: boolean;
  running: boolean;
  runs: number;
  sides: Record<SideId, SideState>;
}

export interface EngineState {
  state: 'none' | 'building' | 'ready' | 'error';
  origin: 'built' | 'file' | null;
  name: string;
  byteLength: number;
  manifest: EngineManifest | null;
  error: string | null;
  stage: string | null;
  ms: { validate: number; build: number } | null;
  /** Bumped for every new engine (the playground reloads its optimized side). */
  seq: number;
}

export interface RuntimeState {
  state: 'idle' | 'starting' | 'ready' | 'error';
  hello: RuntimeHello | null;
  error: string | null;
}

export interface RuntimeSlices {
  assets: ModelAssets;
  runtime: RuntimeState;
  engine: EngineState;
  playground: PlaygroundState;
}

export const GREEDY: SamplingState = { temperature: 0, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, seed: 1 };

const idleSide = (): SideState => ({
  load: { state: 'idle', key: null, info: null, ms: null, error: null, errorCode: null },
  run: { state: 'idle', text: '', reason: null, error: null, stats: EMPTY_LIVE, profiled: false },
  layers: null,
});

export function initialRuntimeSlices(): RuntimeSlices {
  return {
    assets: NO_ASSETS,
    runtime: { state: 'idle', hello: null, error: null },
    engine: { state: 'none', origin: null, name: '', byteLength: 0, manifest: null, error: null, stage: null, ms: null, seq: 0 },
    playground: {
      prompt: 'And the king said unto',
      maxTokens: 48,
      sampling: GREEDY,
      stop: [],
      backend: 'auto',
      mode: 'sequential',
      allowOtherDevice: false,
      running: false,
      runs: 0,
      sides: { plain: idleSide(), optimized: idleSide() },
    },
  };
}

export interface RuntimeActions {
  /** Starts the runtime worker (once) and returns its hello: the device, or why WebGPU is unavailable. */
  connectRuntime(): Promise<RuntimeHello | null>;
  /** Tokenizer, tokenizer config, generation config, config.json picked by the user. */
  pickAssets(files: ReadonlyArray<{ name: string; arrayBuffer(): Promise<ArrayBuffer> }>): Promise<void>;
  setAssets(assets: ModelAssets): void;
  /** Builds an engine from the workflow's result for the runtime's device (`target` overrides it), recording `profiles`. */
  buildEngine(options?: { target?: 'auto' | 'webgpu' | 'wasm'; nodeId?: string; profiles?: OptimizationProfile[] }): Promise<void>;
  /** Opens a `.engine` file: checks its format and checksums, shows its manifest, feeds the playground. */
  openEngine(file: { name: string; arrayBuffer(): Promise<ArrayBuffer> }): Promise<void>;
  /** The engine file's bytes (for "Save engine"). */
  engineBytes(): Uint8Array | null;
  setPlayground(patch: Partial<Pick<PlaygroundState, 'prompt' | 'maxTokens' | 'stop' | 'backend' | 'mode' | 'allowOtherDevice'>>): void;
  setSampling(patch: Partial<SamplingState>): void;
  /** Generates the prompt on every side that has a model, streaming into the state. */
  generate(): Promise<void>;
  stop(): void;
  /** Reload both sides on the next run, so that run is profiled again (per-layer timings). */
  reprofile(): void;
}

export interface RuntimeContext {
  get(): RuntimeSlices & {
    source: { name: string } | null;
    original: { summary: { nodeCount: number } } | null;
    optimized: { summary: { nodeCount: number } } | null;
    flow: { record: { provenance: ReadonlyArray<{ node: string; opType: string; sources: string[] }> } | null };
  };
  set(patch: Partial<RuntimeSlices>): void;
  model: ModelService;
  runtime: RuntimeApi | null;
  toast(text: string, kind?: 'info' | 'error' | 'success'): void;
  setNodeStatus(id: string, st: { state: 'running' | 'done' | 'error'; stat?: string; ms?: number; error?: string }): void;
  /** Bumped by the store when a model is opened / the workflow produced a new result. */
  seqs(): { open: number; run: number };
  /** Called after a run with new layer timings (the store refreshes the GPU-time overlay). */
  onTimings(): void;
}

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** What the optimized side will run right now. */
export function optimizedKind(s: Pick<RuntimeSlices, 'engine'> & { optimized: unknown }): 'engine' | 'optimized-onnx' | null {
  if (s.engine.state === 'ready') return 'engine';
  return s.optimized ? 'optimized-onnx' : null;
}

export function createRuntimeActions(ctx: RuntimeContext): RuntimeActions {
  let engineBytes: Uint8Array | null = null;
  let hello: Promise<RuntimeHello | null> | null = null;
  let abort: AbortController | null = null;

  const pg = () => ctx.get().playground;
  const setPg = (patch: Partial<PlaygroundState>) => ctx.set({ playground: { ...pg(), ...patch } });
  const setSide = (id: SideId, f: (x: SideState) => SideState) => setPg({ sides: { ...pg().sides, [id]: f(pg().sides[id]) } });
  const setLoad = (id: SideId, patch: Partial<SideLoad>) => setSide(id, (x) => ({ ...x, load: { ...x.load, ...patch } }));
  const setRun = (id: SideId, patch: Partial<SideRun>) => setSide(id, (x) => ({ ...x, run: { ...x.run, ...patch } }));
  const setEngine = (patch: Partial<EngineState>) => ctx.set({ engine: { ...ctx.get().engine, ...patch } });
  const message = (e: unknown) => (e as Error)?.message ?? String(e);
  /** A new engine: the optimized side's text, stats and timings were the old one's (its session is unloaded on the next run). */
  const resetOptimized = () => setSide('optimized', (x) => ({ load: { ...x.load, state: 'idle', key: null, error: null, errorCode: null }, run: { state: 'idle', text: '', reason: null, error: null, stats: EMPTY_LIVE, profiled: false }, layers: null }));

  const loadKey = (id: SideId): string | null => {
    const s = ctx.get();
    const { open, run } = ctx.seqs();
    const b = s.playground.backend;
    if (id === 'plain') return s.original ? `onnx:${open}:${b}` : null;
    const kind = optimizedKind(s);
    if (kind === 'engine') return `engine:${s.engine.seq}:${b}:${s.playground.allowOtherDevice}`;
    return kind ? `optimized:${run}:${b}` : null;
  };

  const loadSource = async (id: SideId): Promise<LoadSource> => {
    const s = ctx.get();
    const a = s.assets;
    const extras = { tokenizer: a.tokenizer, tokenizerConfig: a.tokenizerConfig, generation: a.generation, ...(a.maxPositions ? { maxContext: a.maxPositions } : {}) };
    const base = (s.source?.name ?? 'model.onnx').split('/').pop() as string;
    // the plain side is the baseline: onnxruntime's own graph optimizations off, so the comparison is plain vs optimized
    if (id === 'plain') return { kind: 'onnx', name: base, bytes: await ctx.model.request({ type: 'source-bytes' }), ...extras, graphOptimizationLevel: PLAIN_GRAPH_OPTIMIZATION };
    if (optimizedKind(s) === 'engine' && engineBytes) return { kind: 'engine', name: s.engine.name, bytes: engineBytes.slice() };
    const provenance = (s.flow.record?.provenance ?? []).map((p) => ({ node: p.node, opType: p.opType, sources: p.sources }));
    return { kind: 'onnx', name: base.replace(/\.onnx$/, '.optimized.onnx'), bytes: await ctx.model.request({ type: 'export', model: 'optimized' }), provenance, ...extras };
  };

  /** Loads the side's model if what is loaded is stale; returns the host's engine id. */
  const ensureLoaded = async (rt: RuntimeApi, id: SideId): Promise<string> => {
    const key = loadKey(id);
    if (!key) throw new Error(id === 'plain' ? 'open a model first' : 'run the workflow or open an .engine file first');
    const cur = pg().sides[id].load;
    if (cur.state === 'ready' && cur.key === key && cur.info) return cur.info.engine;
    if (cur.info) await rt.unload(cur.info.engine).catch(() => {});
    setLoad(id, { state: 'loading', key, info: null, error: null, errorCode: null, ms: null });
    const t0 = performance.now();
    try {
      const source = await loadSource(id);
      const info = await rt.load(source, { backend: pg().backend, layerTimings: true, transfer: true, allowOtherDevice: pg().allowOtherDevice });
      setLoad(id, { state: 'ready', info, ms: performance.now() - t0 });
      return info.engine;
    } catch (e) {
      setLoad(id, { state: 'error', key: null, error: message(e), errorCode: e instanceof RuntimeHostError ? e.code : null, ms: null });
      throw e;
    }
  };

  const runSide = async (rt: RuntimeApi, id: SideId, signal: AbortSignal): Promise<void> => {
    let engine: string;
    try {
      engine = await ensureLoaded(rt, id);
    } catch (e) {
      setRun(id, { state: 'error', error: message(e) });
      return;
    }
    if (signal.aborted) { setRun(id, { state: 'cancelled' }); return; }
    const p = pg();
    setRun(id, { state: 'running' });
    const times: number[] = [];
    let promptTokens = 0;
    let text = '';
    try {
      const stream = rt.generate(engine, {
        prompt: p.prompt, maxTokens: p.maxTokens, stop: p.stop, signal,
        sampling: { temperature: p.sampling.temperature, topK: p.sampling.topK, topP: p.sampling.topP, minP: p.sampling.minP, repetitionPenalty: p.sampling.repetitionPenalty, seed: p.sampling.seed },
      });
      for await (const e of stream) {
        if (e.type === 'start') {
          promptTokens = e.promptTokens;
          setRun(id, { stats: liveStats(promptTokens, times) });
        } else if (e.type === 'token') {
          times.push(e.tMs);
          text += e.text;
          setRun(id, { text, stats: liveStats(promptTokens, times) });
        } else if (e.type === 'layers') {
          setSide(id, (x) => ({ ...x, layers: e.timings, run: { ...x.run, profiled: true } }));
        } else if (e.type === 'done') {
          setRun(id, { state: e.reason === 'cancelled' ? 'cancelled' : 'done', text: e.text || text, reason: e.reason, stats: finalStats(e.stats) });
        }
      }
    } catch (e) {
      setRun(id, { state: 'error', error: message(e) });
      // a failed host session is not reused
      setLoad(id, { state: 'idle', key: null });
    }
  };

  const actions: RuntimeActions = {
    connectRuntime() {
      const rt = ctx.runtime;
      if (!rt) return Promise.resolve(null);
      hello ??= (async () => {
        ctx.set({ runtime: { state: 'starting', hello: null, error: null } });
        try {
          const h = await rt.hello();
          ctx.set({ runtime: { state: 'ready', hello: h, error: null } });
          return h;
        } catch (e) {
          hello = null;
          ctx.set({ runtime: { state: 'error', hello: null, error: message(e) } });
          return null;
        }
      })();
      return hello;
    },

    async pickAssets(files) {
      try {
        const assets = await assetsFromFiles(files, ctx.get().assets);
        ctx.set({ assets });
        // what the sides were loaded with changed
        for (const id of SIDES) setLoad(id, { key: null });
        ctx.toast(`Using ${assets.from}${assets.tokenizer ? '' : ' (still no tokenizer.json)'}`, assets.tokenizer ? 'success' : 'info');
      } catch (e) {
        ctx.toast(message(e), 'error');
      }
    },
    setAssets(assets) {
      ctx.set({ assets });
      for (const id of SIDES) setLoad(id, { key: null });
    },

    async buildEngine(options = {}) {
      const s = ctx.get();
      const node = options.nodeId;
      if (!s.optimized) {
        const why = 'run the workflow first: there is no optimized model to build';
        if (node) ctx.setNodeStatus(node, { state: 'error', error: why });
        ctx.toast(why, 'error');
        return;
      }
      const t0 = performance.now();
      setEngine({ state: 'building', error: null, stage: 'finding the device' });
      if (node) ctx.setNodeStatus(node, { state: 'running', stat: 'finding the device…' });
      try {
        const h = await actions.connectRuntime();
        const target = options.target ?? 'auto';
        let device: DeviceFingerprint;
        if (target === 'wasm' || (target === 'auto' && !h?.device)) device = wasmFingerprint(h?.host ?? 'no runtime host');
        else if (h?.device) device = h.device;
        else throw new Error(`target webgpu, but WebGPU is unavailable here: ${h?.webgpuUnavailable ?? ctx.get().runtime.error ?? 'no runtime host'}; build for wasm (target auto or wasm)`);
        const a = ctx.get().assets;
        const onProgress = (p: Progress) => {
          setEngine({ stage: p.stage });
          if (node) ctx.setNodeStatus(node, { state: 'running', stat: `${p.stage}…` });
        };
        const r = await ctx.model.request({ type: 'build-engine', build: { device, tokenizer: a.tokenizer, tokenizerConfig: a.tokenizerConfig, generation: a.generation, maxPositions: a.maxPositions, validate: true, ...(options.profiles ? { profiles: options.profiles } : {}) } }, onProgress);
        engineBytes = r.bytes;
        const base = (ctx.get().source?.name ?? 'model.onnx').split('/').slice(-2).join('-').replace(/\.onnx$/, '');
        resetOptimized();
        setEngine({ state: 'ready', origin: 'built', name: `${base}.engine`, byteLength: r.bytes.byteLength, manifest: r.manifest, error: null, stage: null, ms: r.ms, seq: ctx.get().engine.seq + 1 });
        if (node) ctx.setNodeStatus(node, { state: 'done', ms: performance.now() - t0, stat: engineSummary(r.manifest, r.bytes.byteLength) });
        ctx.toast(`Engine built: ${mib(r.bytes.byteLength)} for ${deviceLabel(device)}`, 'success');
      } catch (e) {
        setEngine({ state: 'error', error: message(e), stage: null });
        if (node) ctx.setNodeStatus(node, { state: 'error', ms: performance.now() - t0, error: message(e) });
        ctx.toast(`Engine build failed: ${message(e)}`, 'error');
      }
    },

    async openEngine(file) {
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        const parsed = await parseEngine(bytes, { file: file.name, verifySections: true });
        engineBytes = bytes;
        resetOptimized();
        setEngine({ state: 'ready', origin: 'file', name: file.name, byteLength: bytes.byteLength, manifest: parsed.manifest, error: null, stage: null, ms: null, seq: ctx.get().engine.seq + 1 });
        ctx.toast(`Opened ${file.name}: ${engineSummary(parsed.manifest, bytes.byteLength)}`, 'success');
      } catch (e) {
        ctx.toast(`Could not open the engine: ${message(e)}`, 'error');
      }
    },
    engineBytes: () => engineBytes,

    setPlayground(patch) {
      setPg(patch);
    },
    setSampling(patch) {
      setPg({ sampling: { ...pg().sampling, ...patch } });
    },

    async generate() {
      const rt = ctx.runtime;
      if (pg().running) return;
      if (!rt) { ctx.toast('No runtime host in this build', 'error'); return; }
      const s = ctx.get();
      const sides = SIDES.filter((id) => (id === 'plain' ? !!s.original : !!optimizedKind(s)));
      if (!sides.length) { ctx.toast('Open a model first', 'error'); return; }
      if (!pg().prompt.trim()) { ctx.toast('Type a prompt first', 'error'); return; }
      void actions.connectRuntime();
      abort = new AbortController();
      const signal = abort.signal;
      const reset: Record<SideId, SideState> = { ...pg().sides };
      for (const id of SIDES) reset[id] = { ...reset[id], run: { state: sides.includes(id) ? 'waiting' : 'idle', text: '', reason: null, error: null, stats: EMPTY_LIVE, profiled: false } };
      setPg({ running: true, runs: pg().runs + 1, sides: reset });
      try {
        if (pg().mode === 'parallel') await Promise.all(sides.map((id) => runSide(rt, id, signal)));
        else for (const id of sides) await runSide(rt, id, signal);
      } finally {
        abort = null;
        setPg({ running: false });
        if (SIDES.some((id) => pg().sides[id].run.profiled)) ctx.onTimings();
      }
    },
    stop() {
      abort?.abort();
    },
    reprofile() {
      for (const id of SIDES) setLoad(id, { key: null });
    },
  };
  return actions;
}

export function deviceLabel(d: DeviceFingerprint): string {
  if (d.backend === 'wasm') return 'wasm (CPU)';
  return `WebGPU ${[d.vendor, d.architecture].filter(Boolean).join(' / ') || 'adapter'}${d.description ? ` (${d.description})` : ''}`;
}

export function engineSummary(m: EngineManifest, bytes: number): string {
  const v = m.validation ? (m.validation.passed ? 'validated' : 'validation FAILED') : 'not validated';
  return `${mib(bytes)} · ${m.sections.length} sections · ${v}`;
}

/** Helpers the store uses when a model is opened. */
export async function assetsForUrl(url: string, fetcher?: Fetcher): Promise<ModelAssets> {
  try {
    return await assetsBeside(url, fetcher);
  } catch {
    return NO_ASSETS;
  }
}
