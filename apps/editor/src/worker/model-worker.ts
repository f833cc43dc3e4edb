/// <reference lib="webworker" />
/**
 * The model worker: parses ONNX with graph-core, runs optimizer workflows, computes statistics and
 * plans, off the UI thread. Messages follow `protocol.ts`.
 */
import { ModelHost } from './model-host.ts';
import { errorInfo, type FromWorker, type ModelRequest, type ToWorker } from './protocol.ts';

const host = new ModelHost();
const post = (m: FromWorker, transfer: Transferable[] = []) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m, transfer);

async function handle(id: number, req: ModelRequest): Promise<unknown> {
  const progress = (p: Parameters<Parameters<ModelHost['open']>[1] & object>[0]) => post({ id, kind: 'progress', progress: p });
  switch (req.type) {
    case 'open': return host.open(req.source, progress);
    case 'run': return host.run(req.workflow, progress);
    case 'step-views': return host.stepViews(req.seq);
    case 'weight-stats': return host.weightStats(req.model, req.value);
    case 'memory-plan': return host.memoryPlan(req.model, req.dims);
    case 'validate': return host.validate();
    case 'export': return host.exportModel(req.model);
    case 'source-bytes': return host.sourceBytes();
    case 'build-engine': return host.buildEngine(req.build, progress);
    case 'sensitivity': return host.sensitivity(req.sensitivity, progress);
    case 'cancel-sensitivity': return host.cancelSensitivity();
    case 'profiles': return host.profiles(req.profiles);
  }
}

/** Byte results travel as transferables (the host keeps no reference to them). */
function transferables(result: unknown): Transferable[] {
  if (result instanceof Uint8Array) return [result.buffer as ArrayBuffer];
  const bytes = (result as { bytes?: unknown } | null)?.bytes;
  return bytes instanceof Uint8Array ? [bytes.buffer as ArrayBuffer] : [];
}

self.addEventListener('message', (ev: MessageEvent<ToWorker>) => {
  const { id, req } = ev.data;
  handle(id, req).then(
    (result) => post({ id, kind: 'done', result }, transferables(result)),
    (e) => post({ id, kind: 'error', error: errorInfo(e) }),
  );
});
