/**
 * One typed message protocol for every host of the GPU runtime: a browser Web Worker, a Node
 * worker thread or in-process MessageChannel, and Electron (a hidden renderer or utility process
 * behind a MessagePort). The client sends requests with ids; the host answers each with one reply
 * (`hello`, `loaded`, `ok`, `error`) or, for `generate`, a stream of `event`s ending with the
 * generator's `done` event (or an `error`).
 *
 * Messages are plain structured-clone data; model bytes travel as transferables where the host
 * allows (the caller decides: `transfer: true` hands its buffer over).
 */
import type { DeviceFingerprint } from '../engine/device.ts';
import type { EngineManifest, GenerationConfig } from '../engine/format.ts';
import type { GenerateEvent, GenerateRequest } from '../generate/generator.ts';

export const PROTOCOL_VERSION = 1;

export type BackendRequest = 'auto' | 'webgpu' | 'wasm';

/** An engine file, or a plain ONNX decoder with what an engine would carry beside it. */
export type LoadSource =
  | { kind: 'engine'; name: string; bytes: Uint8Array }
  | {
      kind: 'onnx';
      name: string;
      bytes: Uint8Array;
      tokenizer?: Uint8Array | null;
      tokenizerConfig?: Uint8Array | null;
      generation?: GenerationConfig | null;
      provenance?: Array<{ node: string; opType: string; sources: string[] }>;
      maxContext?: number;
      /** onnxruntime's own graph optimizations for this model (default 'all'; 'disabled' for an honest baseline). */
      graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
    };

export type HostRequest =
  | { type: 'hello'; id: number }
  | { type: 'load'; id: number; source: LoadSource; backend: BackendRequest; allowOtherDevice?: boolean; layerTimings?: boolean }
  | { type: 'generate'; id: number; engine: string; request: Omit<GenerateRequest, 'signal'> }
  | { type: 'cancel'; id: number; target: number }
  | { type: 'unload'; id: number; engine: string };

export interface LoadedInfo {
  engine: string;
  name: string;
  backend: 'webgpu' | 'wasm';
  /** Why wasm runs it although WebGPU was asked for or possible ('auto'). */
  fallbackReason: string | null;
  /** Overridden engine checks (other device, other runtime). */
  warnings: string[];
  manifest: EngineManifest | null;
  hasTokenizer: boolean;
  device: DeviceFingerprint;
}

export type HostMessage =
  | { type: 'hello'; id: number; protocol: typeof PROTOCOL_VERSION; host: string; ortVersion: string; device: DeviceFingerprint | null; webgpuUnavailable: string | null }
  | ({ type: 'loaded'; id: number } & LoadedInfo)
  | { type: 'event'; id: number; event: GenerateEvent }
  | { type: 'ok'; id: number }
  | { type: 'error'; id: number; code: string; message: string; overridable?: boolean };

/** What both ends need of a port: Web Worker, `self` in a worker, MessagePort (browser, Node, Electron). */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener?(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** MessagePorts need start() when listened to with addEventListener. */
  start?(): void;
}

/** A reply of type `error`, raised on the client side with the host's code and message. */
export class RuntimeHostError extends Error {
  readonly code: string;
  /** For ENGINE_DEVICE: true when loading with allowOtherDevice would work (tuned elsewhere, not missing a feature). */
  readonly overridable: boolean;
  constructor(code: string, message: string, overridable = false) {
    super(message);
    this.name = 'RuntimeHostError';
    this.code = code;
    this.overridable = overridable;
  }
}
