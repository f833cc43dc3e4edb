// The reference runner's worker thread (see ../reference-runner.ts): runs the ORIGINAL model on the
// validation cases with onnxruntime-web's wasm EP, with the same session options as gpu-runtime's
// createSession (graph optimizations off, one thread). Plain JavaScript on purpose: a worker thread does
// not inherit the main thread's tsx registration, and compiling TypeScript here would cost a second of
// the time this worker exists to save.
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-web';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

const { path, cases } = workerData;
try {
  const session = await ort.InferenceSession.create(readFileSync(path), { executionProviders: ['wasm'], graphOptimizationLevel: 'disabled', logSeverityLevel: 3 });
  const outputs = [];
  try {
    for (const c of cases) {
      const feeds = {};
      for (const name of session.inputNames) {
        const t = c.inputs[name];
        if (!t) throw new Error(`no feed for model input '${name}'`);
        feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
      }
      const res = await session.run(feeds, session.outputNames);
      const out = {};
      for (const [k, v] of Object.entries(res)) {
        out[k] = { dtype: v.type, dims: [...v.dims], data: v.data };
        v.dispose();
      }
      outputs.push(out);
    }
  } finally {
    await session.release();
  }
  parentPort?.postMessage({ ok: true, outputs });
} catch (e) {
  parentPort?.postMessage({ ok: false, message: e instanceof Error ? e.message : String(e) });
}
