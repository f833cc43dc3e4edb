/**
 * The Node host of the GPU runtime: picks the backend (WebGPU through Dawn when an adapter exists,
 * wasm otherwise, with the reason), loads the matching onnxruntime-web bundle, describes the device,
 * and reads engines and model folders from disk.
 */
import fs, { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import type * as ortTypes from 'onnxruntime-web';
import { FuselabError } from '@fuselab/graph-core';
import { fingerprintAdapter, installProfileSink, openEngine, ortEnv, peekEngineManifest, ortWebVersion, wasmFingerprint, type DeviceFingerprint, type EngineManifest, type GenerationConfig, type LoadedEngine } from '@fuselab/gpu-runtime';
import { installNodeWebGpu, NoWebGpuAdapterError } from './node-webgpu.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';

export interface NodeRuntime {
  ort: typeof ortTypes;
  backend: 'webgpu' | 'wasm';
  device: DeviceFingerprint;
  /** Why wasm was used when WebGPU was possible in principle ('auto'). */
  fallbackReason: string | null;
}

let webgpuOrt: Promise<typeof ortTypes> | null = null;

/** Sets up the runtime for `choice`. 'webgpu' fails (typed) without an adapter; 'auto' falls back to wasm. */
export async function nodeRuntime(choice: BackendChoice, toggles: string[] = []): Promise<NodeRuntime> {
  // onnxruntime-web's wasm prints profiles with fs.writeSync(1, …): let the profiler divert them
  installProfileSink(fs);
  if (choice !== 'wasm') {
    try {
      const gpu = await installNodeWebGpu({ toggles });
      const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      if (!adapter) throw new NoWebGpuAdapterError('requestAdapter returned null');
      webgpuOrt ??= import('onnxruntime-web/webgpu').then((m) => {
        const o = m as unknown as typeof ortTypes;
        o.env.wasm.numThreads = 1;
        o.env.logLevel = 'error';
        return o;
      });
      const ort = await webgpuOrt;
      return { ort, backend: 'webgpu', device: fingerprintAdapter(adapter, `node-dawn (webgpu@${dawnVersion()}, Node ${process.version})`, gpu.toggles), fallbackReason: null };
    } catch (e) {
      if (choice === 'webgpu') throw e;
      return { ort: ortEnv(), backend: 'wasm', device: wasmFingerprint(`node ${process.version}`), fallbackReason: (e as Error).message };
    }
  }
  return { ort: ortEnv(), backend: 'wasm', device: wasmFingerprint(`node ${process.version}`), fallbackReason: null };
}

function dawnVersion(): string {
  try {
    return (createRequire(import.meta.url)('webgpu/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export interface EngineLoadFlags {
  allowOtherDevice?: boolean;
  allowOtherRuntime?: boolean;
}

/** Reads and checks an engine file for this runtime (one read; sections are views of that buffer). */
export async function loadEngineFile(path: string, rt: NodeRuntime, flags: EngineLoadFlags = {}): Promise<LoadedEngine> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new FuselabError('ENGINE_READ', `${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return openEngine(bytes, { file: path, device: rt.device, ortVersion: ortWebVersion(rt.ort), allowOtherDevice: flags.allowOtherDevice, allowOtherRuntime: flags.allowOtherRuntime });
}

/**
 * The runtime an engine asks for: its own backend and Dawn toggles (e.g. skip_validation, f16 on
 * NVIDIA) unless the caller chose them — the way a TensorRT plan carries its build configuration.
 * Reads only the file's header and manifest (unverified: `loadEngineFile` checks everything after).
 */
export function engineRuntimeChoice(path: string, device: BackendChoice | undefined, toggles: string[] | undefined): { device: BackendChoice; toggles: string[] } {
  if (device && toggles) return { device, toggles };
  let manifest: EngineManifest | null = null;
  try {
    const fd = openSync(path, 'r');
    try {
      manifest = peekEngineManifest((offset, length) => {
        const buf = new Uint8Array(length);
        return buf.subarray(0, readSync(fd, buf, 0, length, offset));
      });
    } finally {
      closeSync(fd);
    }
  } catch { /* unreadable: loadEngineFile reports it */ }
  return { device: device ?? manifest?.device.backend ?? 'auto', toggles: toggles ?? manifest?.device.toggles ?? [] };
}

/** Files beside a model that an engine carries: tokenizer, generation config, trained positions. */
export interface ModelFolderFiles {
  tokenizer: { json: Uint8Array; config: Uint8Array | null; path: string } | null;
  generation: GenerationConfig | null;
  maxPositions: number | null;
}

/** Looks for tokenizer.json, tokenizer_config.json, generation_config.json and config.json beside `modelPath` (or in `tokenizerPath`). */
export function modelFolderFiles(modelPath: string, tokenizerPath?: string): ModelFolderFiles {
  const dir = dirname(modelPath);
  let tokFile: string | null = null;
  if (tokenizerPath) {
    tokFile = tokenizerPath.endsWith('.json') ? tokenizerPath : join(tokenizerPath, 'tokenizer.json');
    if (!existsSync(tokFile)) throw new FuselabError('USAGE', `--tokenizer ${tokenizerPath}: ${tokFile} does not exist`);
  } else if (existsSync(join(dir, 'tokenizer.json'))) tokFile = join(dir, 'tokenizer.json');
  const tokConfig = tokFile && existsSync(join(dirname(tokFile), 'tokenizer_config.json')) ? readFileSync(join(dirname(tokFile), 'tokenizer_config.json')) : null;
  const json = <T>(p: string): T | null => {
    if (!existsSync(p)) return null;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as T;
    } catch (e) {
      throw new FuselabError('BAD_JSON', `${p}: not valid JSON (${(e as Error).message})`);
    }
  };
  const config = json<Record<string, unknown>>(join(dir, 'config.json'));
  const pos = config?.n_positions ?? config?.max_position_embeddings;
  return {
    tokenizer: tokFile ? { json: readFileSync(tokFile), config: tokConfig, path: tokFile } : null,
    generation: json<GenerationConfig>(join(dir, 'generation_config.json')),
    maxPositions: typeof pos === 'number' ? pos : null,
  };
}
