/**
 * Starts the original model's validation runs in a worker thread (see workers/reference-entry.js)
 * and returns a promise of its outputs, or null where a worker can't start (e.g. a bundled CLI): the
 * caller then validates in-thread as before. The cases are computed here, so both sides run exactly
 * the same inputs.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { HostTensor, ValidationCase } from '@fuselab/gpu-runtime';

export interface ReferenceRun {
  outputs: Promise<Array<Record<string, HostTensor>>>;
  /** Stops the worker (when the run is abandoned, e.g. a pass failed). */
  cancel(): void;
}

export function startReferenceRun(path: string, cases: ValidationCase[]): ReferenceRun | null {
  const entry = new URL('./workers/reference-entry.js', import.meta.url);
  // a bundled CLI (tools/device) has no worker file beside it: validate in-thread there
  if (entry.protocol !== 'file:' || !existsSync(fileURLToPath(entry))) return null;
  let worker: Worker;
  try {
    worker = new Worker(entry, { workerData: { path, cases } });
  } catch {
    return null;
  }
  const outputs = new Promise<Array<Record<string, HostTensor>>>((resolve, reject) => {
    worker.once('message', (m: { ok: boolean; outputs?: Array<Record<string, HostTensor>>; message?: string }) => {
      void worker.terminate();
      if (m.ok && m.outputs) resolve(m.outputs);
      else reject(new Error(`reference run of ${path} failed: ${m.message}`));
    });
    worker.once('error', (e) => reject(new Error(`reference run of ${path} failed: ${e.message}`)));
    worker.once('exit', (code) => { if (code !== 0) reject(new Error(`reference worker for ${path} exited with code ${code}`)); });
  });
  outputs.catch(() => {}); // observed by the caller when it awaits; never an unhandled rejection
  return { outputs, cancel: () => { void worker.terminate(); } };
}
