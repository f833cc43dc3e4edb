/// <reference lib="webworker" />
/**
 * The layout worker: ELK for small levels, the built-in layered engine for big ones, with progress
 * per level. Cancel = the UI terminates this worker (ELK cannot be interrupted) and starts another.
 */
import { createElk, elkEngine } from '../layout/elk-engine.ts';
import { layoutGraph } from '../layout/layout.ts';
import type { LayoutRequest, LayoutFromWorker } from './layout-protocol.ts';

const elk = createElk();
// elk.bundled.js, created inside a worker, installs its own self.onmessage: take it back
(self as unknown as { onmessage: unknown }).onmessage = null;
const small = elkEngine(elk);
const post = (m: LayoutFromWorker) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);

self.addEventListener('message', (ev: MessageEvent<LayoutRequest>) => {
  const { id, tree, edges, useElk, elkMaxNodes } = ev.data;
  layoutGraph(tree, edges, {
    ...(useElk ? { small } : {}),
    elkMaxNodes,
    onProgress: (done, total) => post({ id, kind: 'progress', done, total }),
  }).then(
    (result) => post({ id, kind: 'done', result }),
    (e: Error) => post({ id, kind: 'error', message: e.message }),
  );
});
