/**
 * Entry of the GPU runtime utility process (`utilityProcess.fork('runtime-process.cjs')` in
 * main.ts). The parent sends `{ type: RUNTIME_CONNECT }` with a MessagePortMain whose other end is
 * in the renderer; this process serves the runtime protocol on it.
 *
 * Backend: WebGPU through Dawn (dawn.node) when it loads and finds an adapter, wasm otherwise (the
 * reason is reported to the client). `FUSELAB_RUNTIME_BACKEND=wasm` skips WebGPU;
 * `FUSELAB_DAWN_TOGGLES` passes Dawn toggles (space-separated).
 */
import fs from 'node:fs';
import type * as ortTypes from 'onnxruntime-web';
import { installProfileSink } from '@fuselab/gpu-runtime';
import { installDawn } from './dawn.ts';
import { RUNTIME_CONNECT, serveRuntimePort, type MessagePortMainLike } from './runtime-host.ts';

const wasmOnly = process.env.FUSELAB_RUNTIME_BACKEND === 'wasm';
const toggles = (process.env.FUSELAB_DAWN_TOGGLES ?? '').split(/\s+/).filter(Boolean);

installProfileSink(fs);

let gpu: Promise<Awaited<ReturnType<typeof installDawn>>> | null = null;
const dawn = () => (gpu ??= wasmOnly ? Promise.resolve({ gpu: null, reason: 'FUSELAB_RUNTIME_BACKEND=wasm' }) : installDawn(toggles));

let ortModule: Promise<typeof ortTypes> | null = null;
const ort = () => (ortModule ??= (async () => {
  const d = await dawn();
  // onnxruntime-web/webgpu must be imported after navigator.gpu exists
  const m = (d.gpu ? await import('onnxruntime-web/webgpu') : await import('onnxruntime-web')) as unknown as typeof ortTypes;
  m.env.wasm.numThreads = 1;
  m.env.logLevel = 'error';
  return m;
})());

const hostName = `electron-utility (Electron ${process.versions.electron ?? '?'}, Node ${process.version}, dawn.node)`;

process.parentPort.on('message', (e) => {
  const data = e.data as { type?: unknown } | null;
  if (data?.type !== RUNTIME_CONNECT || !e.ports[0]) return;
  serveRuntimePort(e.ports[0] as unknown as MessagePortMainLike, {
    host: hostName,
    ort,
    adapter: async () => {
      const d = await dawn();
      if (!d.gpu) throw new Error(d.reason);
      return d.adapter;
    },
    toggles,
  });
});
