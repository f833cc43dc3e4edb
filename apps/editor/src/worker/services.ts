/**
 * The services the store talks to: the model service (parse, run, stats...) and the layout service.
 * In the app they are Web Workers; in headless tests the same code runs in process.
 */
import { layoutGraph, type LayoutResult } from '../layout/layout.ts';
import type { LayoutTreeNode } from '../model/hierarchy.ts';
import { ModelHost } from './model-host.ts';
import type { LayoutFromWorker, LayoutRequest } from './layout-protocol.ts';
import type { ErrorInfo, FromWorker, ModelRequest, ModelResults, Progress, ToWorker } from './protocol.ts';

export interface ModelService {
  request<T extends ModelRequest['type']>(req: Extract<ModelRequest, { type: T }>, onProgress?: (p: Progress) => void): Promise<ModelResults[T]>;
}

export interface LayoutJob {
  promise: Promise<LayoutResult>;
  cancel(): void;
}

export interface LayoutService {
  layout(tree: LayoutTreeNode[], edges: Array<{ source: string; target: string }>, options: { useElk: boolean; elkMaxNodes?: number; onProgress?: (done: number, total: number) => void }): LayoutJob;
}

/** An error from the worker, with graph-core's fields (file, offset, field) kept. */
export class WorkerError extends Error {
  readonly info: ErrorInfo;
  constructor(info: ErrorInfo) {
    super(info.message);
    this.name = info.name;
    this.info = info;
  }
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

export function workerModelService(factory: () => Worker): ModelService {
  const worker = factory();
  let next = 1;
  const pending = new Map<number, { resolve: (x: unknown) => void; reject: (e: Error) => void; onProgress?: (p: Progress) => void }>();
  worker.addEventListener('message', (ev: MessageEvent<FromWorker>) => {
    const m = ev.data;
    const p = pending.get(m.id);
    if (!p) return;
    if (m.kind === 'progress') p.onProgress?.(m.progress);
    else {
      pending.delete(m.id);
      if (m.kind === 'done') p.resolve(m.result);
      else p.reject(new WorkerError(m.error));
    }
  });
  worker.addEventListener('error', (ev) => {
    for (const p of pending.values()) p.reject(new WorkerError({ name: 'WorkerError', message: ev.message || 'the model worker failed to start' }));
    pending.clear();
  });
  return {
    request(req, onProgress) {
      const id = next++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (x: unknown) => void, reject, onProgress });
        const msg: ToWorker = { id, req };
        worker.postMessage(msg);
      });
    },
  };
}

export function localModelService(host = new ModelHost()): ModelService {
  return {
    async request(req, onProgress = () => {}) {
      const r = req as ModelRequest;
      let out: unknown;
      switch (r.type) {
        case 'open': out = await host.open(r.source, onProgress); break;
        case 'run': out = host.run(r.workflow, onProgress); break;
        case 'step-views': out = host.stepViews(r.seq); break;
        case 'weight-stats': out = host.weightStats(r.model, r.value); break;
        case 'memory-plan': out = host.memoryPlan(r.model, r.dims); break;
        case 'validate': out = await host.validate(); break;
        case 'export': out = host.exportModel(r.model); break;
        case 'source-bytes': out = host.sourceBytes(); break;
        case 'build-engine': out = await host.buildEngine(r.build, onProgress); break;
        case 'sensitivity': out = await host.sensitivity(r.sensitivity, onProgress); break;
        case 'cancel-sensitivity': out = host.cancelSensitivity(); break;
        case 'profiles': out = host.profiles(r.profiles); break;
      }
      return out as never;
    },
  };
}

/** The worker-backed layout service. It starts its worker at once and warms ELK up (a tiny layout) while the model is still parsing. */
export function workerLayoutService(factory: () => Worker): LayoutService {
  let worker: Worker | null = null;
  let next = 1;
  // rejects of the jobs in flight on the current worker (a cancel ends them all)
  let inFlight = new Set<(e: Error) => void>();
  const ensure = () => (worker ??= factory());
  const service: LayoutService = {
    layout(tree, edges, options) {
      const id = next++;
      const w = ensure();
      const jobs = inFlight;
      const promise = new Promise<LayoutResult>((resolve, reject) => {
        jobs.add(reject);
        const onMessage = (ev: MessageEvent<LayoutFromWorker>) => {
          const m = ev.data;
          if (m.id !== id) return;
          if (m.kind === 'progress') options.onProgress?.(m.done, m.total);
          else {
            w.removeEventListener('message', onMessage);
            jobs.delete(reject);
            if (m.kind === 'done') resolve(m.result);
            else reject(new Error(m.message));
          }
        };
        w.addEventListener('message', onMessage);
        const req: LayoutRequest = { id, tree, edges, useElk: options.useElk, elkMaxNodes: options.elkMaxNodes ?? 250 };
        w.postMessage(req);
      });
      return {
        promise,
        cancel() {
          // ELK cannot be interrupted: drop the worker, the next layout starts a fresh one
          if (worker !== w) return;
          w.terminate();
          worker = null;
          for (const r of jobs) r(new CancelledError());
          inFlight = new Set();
        },
      };
    },
  };
  service.layout([{ id: 'a', w: 10, h: 10 }, { id: 'b', w: 10, h: 10 }], [{ source: 'a', target: 'b' }], { useElk: true }).promise.catch(() => {});
  return service;
}

export function localLayoutService(): LayoutService {
  return {
    layout(tree, edges, options) {
      let cancelled = false;
      const promise = layoutGraph(tree, edges, { onProgress: options.onProgress, isCancelled: () => cancelled });
      return { promise, cancel: () => { cancelled = true; } };
    },
  };
}
