/**
 * onnxruntime-web sessions for validation and reference runs (wasm EP by default: exact, available
 * everywhere). Works unchanged in Node and in a browser worker.
 */
import * as ort from 'onnxruntime-web';
import { fromOrt, type HostTensor } from './host-tensor.ts';

let configured = false;

/** One-time onnxruntime-web setup: single-threaded wasm (workers are not needed for validation). */
export function ortEnv(): typeof ort {
  if (!configured) {
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    configured = true;
  }
  return ort;
}

export interface RunOptions {
  executionProviders?: string[];
  /** The onnxruntime-web module to use (default: this package's wasm-configured one); e.g. the WebGPU bundle. */
  ort?: typeof ort;
  /** Output names to fetch (default all). */
  outputs?: string[];
  /** External-data files the model refers to, by their `location` path. */
  externalData?: Array<{ path: string; data: Uint8Array }>;
  /** Extra session options, passed through (they override the defaults above). */
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

/** Creates a session from model bytes. Release it with `session.release()`. */
export async function createSession(bytes: Uint8Array, options: RunOptions = {}): Promise<ort.InferenceSession> {
  const o = options.ort ?? ortEnv();
  return o.InferenceSession.create(bytes, {
    executionProviders: options.executionProviders ?? ['wasm'],
    // onnxruntime's own fusions off: we validate and time *our* graph, not what ORT makes of it
    graphOptimizationLevel: 'disabled',
    logSeverityLevel: 3,
    ...(options.externalData ? { externalData: options.externalData } : {}),
    ...options.sessionOptions,
  });
}

export function toOrt(t: HostTensor): ort.Tensor {
  const o = ortEnv();
  return new o.Tensor(t.dtype as 'float32', t.data as Float32Array, t.dims);
}

/** Runs `bytes` once on `feeds` and returns every (or the requested) output as host tensors. */
export async function runModel(bytes: Uint8Array, feeds: Record<string, HostTensor>, options: RunOptions = {}): Promise<Record<string, HostTensor>> {
  const session = await createSession(bytes, options);
  try {
    return await runSession(session, feeds, options.outputs);
  } finally {
    await session.release();
  }
}

export async function runSession(session: ort.InferenceSession, feeds: Record<string, HostTensor>, outputs?: string[]): Promise<Record<string, HostTensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    const f = feeds[name];
    if (!f) throw new Error(`no feed for model input '${name}' (have: ${Object.keys(feeds).join(', ')})`);
    ortFeeds[name] = toOrt(f);
  }
  const res = await session.run(ortFeeds, outputs ?? session.outputNames);
  const out: Record<string, HostTensor> = {};
  for (const [k, v] of Object.entries(res)) {
    out[k] = fromOrt(v);
    v.dispose();
  }
  return out;
}
