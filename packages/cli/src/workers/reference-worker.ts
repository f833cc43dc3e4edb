/**
 * Runs the original model on the validation cases in a worker thread, so that its onnxruntime-web
 * session (the slowest part of `fuselab optimize` on big exports: seconds for a 650 MB, 2.8k-node
 * file) is built while the main thread runs the passes and serializes the result.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, runSession, type HostTensor } from '@fuselab/gpu-runtime';

interface Job {
  path: string;
  cases: Array<{ name: string; inputs: Record<string, HostTensor> }>;
}

const job = workerData as Job;
try {
  const session = await createSession(readFileSync(job.path));
  const outputs: Array<Record<string, HostTensor>> = [];
  try {
    for (const c of job.cases) outputs.push(await runSession(session, c.inputs));
  } finally {
    await session.release();
  }
  parentPort?.postMessage({ ok: true, outputs });
} catch (e) {
  parentPort?.postMessage({ ok: false, message: (e as Error).message });
}
