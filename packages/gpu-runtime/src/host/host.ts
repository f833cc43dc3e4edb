/**
 * The host side of the runtime protocol: owns onnxruntime-web sessions (as Generators), picks the
 * backend (WebGPU when an adapter exists, wasm otherwise, with the reason), checks engines against
 * this device and streams generation events back. The same class serves a browser Worker, a Node
 * MessagePort and Electron; each host passes its environment (how to get onnxruntime-web and the
 * WebGPU adapter).
 */
import { loadModel } from '@fuselab/graph-core';
import type * as ortTypes from 'onnxruntime-web';
import { decoderIo } from '../decode/kv-io.ts';
import { fingerprintAdapter, wasmFingerprint, type DeviceFingerprint } from '../engine/device.ts';
import { engineGenerator, openEngine, ortWebVersion } from '../engine/engine.ts';
import { Generator } from '../generate/generator.ts';
import { createTokenizer } from '../generate/tokenizer.ts';
import { installProfileSink } from '../generate/profiling.ts';
import { PROTOCOL_VERSION, type BackendRequest, type HostMessage, type HostRequest, type LoadedInfo, type LoadSource, type PortLike } from './protocol.ts';

export interface HostEnvironment {
  /** Names the host in `hello` and in fingerprints, e.g. "browser-worker (Chrome/156)". */
  host: string;
  /** The onnxruntime-web module to use (a bundle with the WebGPU EP; wasm runs on it too). */
  ort(): Promise<typeof ortTypes>;
  /** The WebGPU adapter, or null with no WebGPU (the host then runs wasm). */
  adapter(): Promise<GPUAdapter | null>;
  /** Dawn toggles in effect (Node), for the fingerprint. */
  toggles?: string[];
}

interface Loaded {
  generator: Generator;
  info: LoadedInfo;
}

export class RuntimeHost {
  private readonly engines = new Map<string, Loaded>();
  private readonly running = new Map<number, AbortController>();
  private next = 1;
  private device: Promise<{ webgpu: DeviceFingerprint | null; reason: string | null }> | null = null;

  private readonly listener = (e: { data: unknown }) => { void this.handle(e.data as HostRequest); };

  constructor(private readonly port: PortLike, private readonly env: HostEnvironment) {
    port.addEventListener('message', this.listener);
    port.start?.();
  }

  /** Stops listening, cancels running generations and releases every loaded engine. */
  async dispose(): Promise<void> {
    this.port.removeEventListener?.('message', this.listener);
    for (const a of this.running.values()) a.abort();
    const loaded = [...this.engines.values()];
    this.engines.clear();
    await Promise.all(loaded.map((l) => l.generator.release().catch(() => {})));
  }

  private send(msg: HostMessage): void {
    this.port.postMessage(msg);
  }

  private probe(): Promise<{ webgpu: DeviceFingerprint | null; reason: string | null }> {
    this.device ??= (async () => {
      try {
        const adapter = await this.env.adapter();
        if (!adapter) return { webgpu: null, reason: 'navigator.gpu.requestAdapter() returned no adapter' };
        return { webgpu: fingerprintAdapter(adapter, this.env.host, this.env.toggles ?? []), reason: null };
      } catch (e) {
        return { webgpu: null, reason: (e as Error).message };
      }
    })();
    return this.device;
  }

  private async handle(req: HostRequest): Promise<void> {
    try {
      switch (req.type) {
        case 'hello': {
          const d = await this.probe();
          this.send({ type: 'hello', id: req.id, protocol: PROTOCOL_VERSION, host: this.env.host, ortVersion: ortWebVersion(await this.env.ort()), device: d.webgpu, webgpuUnavailable: d.reason });
          return;
        }
        case 'load': {
          const info = await this.load(req.source, req.backend, !!req.allowOtherDevice, !!req.layerTimings);
          this.send({ type: 'loaded', id: req.id, ...info });
          return;
        }
        case 'generate': {
          const loaded = this.engines.get(req.engine);
          if (!loaded) throw Object.assign(new Error(`no engine '${req.engine}' is loaded here (it was unloaded, or the host restarted): load it again`), { code: 'NO_ENGINE' });
          const abort = new AbortController();
          this.running.set(req.id, abort);
          try {
            for await (const event of loaded.generator.generate({ ...req.request, signal: abort.signal })) this.send({ type: 'event', id: req.id, event });
          } finally {
            this.running.delete(req.id);
          }
          return;
        }
        case 'cancel':
          this.running.get(req.target)?.abort();
          this.send({ type: 'ok', id: req.id });
          return;
        case 'unload': {
          const loaded = this.engines.get(req.engine);
          this.engines.delete(req.engine);
          await loaded?.generator.release();
          this.send({ type: 'ok', id: req.id });
          return;
        }
        default:
          throw Object.assign(new Error(`unknown request type '${(req as { type: string }).type}'`), { code: 'PROTOCOL' });
      }
    } catch (e) {
      const err = e as Error & { code?: string; overridable?: boolean };
      this.send({ type: 'error', id: (req as { id: number }).id, code: typeof err.code === 'string' ? err.code : 'HOST_ERROR', message: err.message, ...(err.overridable !== undefined ? { overridable: err.overridable } : {}) });
    }
  }

  private async load(source: LoadSource, backendReq: BackendRequest, allowOtherDevice: boolean, layerTimings: boolean): Promise<LoadedInfo> {
    const ort = await this.env.ort();
    const probe = backendReq === 'wasm' ? { webgpu: null, reason: null } : await this.probe();
    if (backendReq === 'webgpu' && !probe.webgpu) throw Object.assign(new Error(`WebGPU was requested but is unavailable here: ${probe.reason}`), { code: 'NO_WEBGPU_ADAPTER' });
    const backend: 'webgpu' | 'wasm' = probe.webgpu ? 'webgpu' : 'wasm';
    const device = probe.webgpu ?? wasmFingerprint(this.env.host);
    const fallbackReason = backend === 'wasm' && backendReq === 'auto' ? probe.reason : null;
    const id = `e${this.next++}`;
    let generator: Generator;
    let info: LoadedInfo;
    if (source.kind === 'engine') {
      const engine = await openEngine(source.bytes, { file: source.name, device, ortVersion: ortWebVersion(ort), allowOtherDevice });
      generator = await engineGenerator(engine, ort, backend, { layerTimings });
      info = { engine: id, name: source.name, backend, fallbackReason, warnings: engine.warnings, manifest: engine.manifest, hasTokenizer: !!engine.tokenizer, device };
    } else {
      const model = loadModel(source.bytes, { file: source.name });
      const tokenizer = source.tokenizer ? createTokenizer(source.tokenizer, source.tokenizerConfig ?? null, { where: `${source.name} tokenizer` }) : null;
      const eos = source.generation?.eos_token_id;
      generator = await Generator.create({
        ort,
        model: source.bytes,
        io: decoderIo(model),
        executionProvider: backend,
        layerTimings,
        tokenizer,
        eosTokenIds: eos === undefined ? [] : Array.isArray(eos) ? eos : [eos],
        ...(source.provenance ? { provenance: source.provenance } : {}),
        ...(source.maxContext ? { maxContext: source.maxContext } : {}),
        ...(source.graphOptimizationLevel ? { graphOptimizationLevel: source.graphOptimizationLevel } : {}),
      });
      info = { engine: id, name: source.name, backend, fallbackReason, warnings: [], manifest: null, hasTokenizer: !!tokenizer, device };
    }
    this.engines.set(id, { generator, info });
    return info;
  }
}

/**
 * Starts a host in a Web Worker (or on any port) with the given onnxruntime-web module: WebGPU
 * through `navigator.gpu` when the worker has it, wasm otherwise.
 *
 *   // runtime.worker.ts
 *   import * as ort from 'onnxruntime-web/webgpu';
 *   startWorkerHost(self as unknown as PortLike, ort);
 */
export function startWorkerHost(scope: PortLike, ort: typeof ortTypes, host?: string): RuntimeHost {
  installProfileSink();
  const nav = (globalThis as { navigator?: { gpu?: GPU; userAgent?: string } }).navigator;
  return new RuntimeHost(scope, {
    host: host ?? `browser-worker (${nav?.userAgent?.match(/(Chrome|Firefox|Safari)\/[\d.]+/)?.[0] ?? 'unknown browser'})`,
    ort: async () => ort,
    adapter: async () => (nav?.gpu ? nav.gpu.requestAdapter({ powerPreference: 'high-performance' }) : null),
  });
}
