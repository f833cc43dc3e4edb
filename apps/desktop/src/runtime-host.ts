/**
 * The GPU runtime inside Electron: @fuselab/gpu-runtime's RuntimeHost (the same typed protocol the
 * browser Worker and Node hosts speak) served over an Electron MessagePortMain, in a utility
 * process (runtime-process.ts) that main.ts forks.
 *
 * MessagePortMain is a Node EventEmitter (`on('message', ({ data, ports }) => …)`, transfers only
 * other ports) while RuntimeHost wants a DOM-style PortLike (`addEventListener('message', ({ data })
 * => …)`); `portLikeFromMain` adapts one to the other. Tests drive it with a worker_threads
 * MessageChannel wrapped to look like MessagePortMain.
 */
import type * as ortTypes from 'onnxruntime-web';
import { RuntimeHost, type PortLike } from '@fuselab/gpu-runtime';

/** What the adapter needs of Electron's MessagePortMain (structural, so Node tests can fake it). */
export interface MessagePortMainLike {
  on(event: 'message', listener: (event: { data: unknown; ports?: unknown[] }) => void): unknown;
  off(event: 'message', listener: (event: { data: unknown; ports?: unknown[] }) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  postMessage(message: unknown, transfer?: never[]): void;
  start(): void;
  close(): void;
}

/**
 * A PortLike over a MessagePortMain. ArrayBuffer transfer lists are dropped (MessagePortMain
 * transfers only ports): the bytes are structured-cloned instead, which for the runtime's replies
 * (token events, timings) is small.
 */
export function portLikeFromMain(port: MessagePortMainLike): PortLike & { onClose(listener: () => void): void } {
  const wrapped = new Map<(event: { data: unknown }) => void, (event: { data: unknown; ports?: unknown[] }) => void>();
  return {
    postMessage(message: unknown): void {
      port.postMessage(message);
    },
    addEventListener(_type: 'message', listener: (event: { data: unknown }) => void): void {
      if (wrapped.has(listener)) return;
      const w = (event: { data: unknown; ports?: unknown[] }) => listener({ data: event.data });
      wrapped.set(listener, w);
      port.on('message', w);
    },
    removeEventListener(_type: 'message', listener: (event: { data: unknown }) => void): void {
      const w = wrapped.get(listener);
      if (!w) return;
      wrapped.delete(listener);
      port.off('message', w);
    },
    start(): void {
      port.start();
    },
    onClose(listener: () => void): void {
      port.on('close', listener);
    },
  };
}

export interface ElectronRuntimeOptions {
  /** Names the host in `hello` and in device fingerprints. */
  host: string;
  ort(): Promise<typeof ortTypes>;
  /** The WebGPU adapter, or null (the host runs wasm and says why). */
  adapter(): Promise<GPUAdapter | null>;
  toggles?: string[];
}

/** Serves the runtime protocol on one renderer's port until the port closes. */
export function serveRuntimePort(port: MessagePortMainLike, options: ElectronRuntimeOptions): RuntimeHost {
  const like = portLikeFromMain(port);
  const host = new RuntimeHost(like, { host: options.host, ort: options.ort, adapter: options.adapter, toggles: options.toggles });
  like.onClose(() => port.close());
  return host;
}

/** The first message to the utility process: `{ type: RUNTIME_CONNECT }` with the port in `ports[0]`. */
export const RUNTIME_CONNECT = 'fuselab:runtime-connect';
