/// <reference lib="webworker" />
/**
 * The runtime worker: the GPU runtime's host (`startWorkerHost`) on onnxruntime-web's WebGPU bundle.
 * WebGPU through `navigator.gpu` when the worker has an adapter, wasm otherwise (the host reports
 * why). Vite turns onnxruntime-web's `new URL('ort-wasm-….wasm', import.meta.url)` into an emitted
 * asset, as it does for the model worker's validation runs, so no wasmPaths are needed.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { startWorkerHost, type PortLike } from '@fuselab/gpu-runtime';

// Threads need cross-origin isolation (SharedArrayBuffer); without it onnxruntime-web warns and
// falls back to one thread anyway, so ask for what it can do.
if (!(self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated) ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

startWorkerHost(self as unknown as PortLike, ort);
