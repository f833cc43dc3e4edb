/**
 * What the model worker does, as a class with no messaging: parse (with shape inference), run a
 * workflow keeping per-step snapshots, weight statistics, memory plans, validation and export. The
 * worker wraps it; headless tests call it directly.
 */
import { blobSource, inferShapes, loadModel, serializeModelToBytes, type Model, type Tensor } from '@fuselab/graph-core';
import { PASSES, planMemory, workflowSteps, type Workflow } from '@fuselab/optimizer';
import { buildModelView, type ModelView } from '../model/view.ts';
import { runWorkflow, type StepRecord } from '../model/run-workflow.ts';
import { weightStats, type WeightStats } from '../model/weight-stats.ts';
import type { ModelRef, OpenResult, OpenSource, Progress, RunResult, StepViews, ValidationSummary } from './protocol.ts';

export class ModelHost {
  private original: Model | null = null;
  private originalBytes: Uint8Array | null = null;
  private originalView: ModelView | null = null;
  private optimized: Model | null = null;
  private file = '';
  /** seq → view after that step (modified steps only) and the step records. */
  private snapshots = new Map<number, ModelView>();
  private steps: StepRecord[] = [];

  async open(source: OpenSource, progress: (p: Progress) => void = () => {}): Promise<OpenResult> {
    const t0 = performance.now();
    progress({ stage: 'reading', fraction: 0 });
    let model: Model;
    let bytes: Uint8Array | null = null;
    let name: string;
    let size: number;
    let tRead: number;
    if (source.kind === 'file') {
      name = source.file.name;
      size = source.file.size;
      tRead = performance.now();
      progress({ stage: 'parsing', fraction: 0.3 });
      // FileReaderSync exists in workers: stream the file; on the main thread (tests) read it whole
      if (typeof (globalThis as { FileReaderSync?: unknown }).FileReaderSync === 'function') {
        model = loadModel(blobSource(source.file, name));
      } else {
        bytes = new Uint8Array(await source.file.arrayBuffer());
        model = loadModel(bytes, { file: name });
      }
    } else {
      if (source.kind === 'url') {
        name = source.name;
        const res = await fetch(source.url);
        if (!res.ok) throw new Error(`could not fetch ${source.url}: HTTP ${res.status} ${res.statusText}`);
        bytes = new Uint8Array(await res.arrayBuffer());
      } else {
        name = source.name;
        bytes = source.bytes;
      }
      size = bytes.byteLength;
      tRead = performance.now();
      progress({ stage: 'parsing', fraction: 0.3 });
      model = loadModel(bytes, { file: name });
    }
    const tParse = performance.now();
    progress({ stage: 'inferring shapes', fraction: 0.6 });
    const shapeNotes: string[] = [];
    try {
      const rep = inferShapes(model);
      if (rep.unknownOps.length) shapeNotes.push(`shape inference does not know ${rep.unknownOps.length} op(s): ${[...new Set(rep.unknownOps.map((u) => u.opType))].join(', ')}`);
      for (const e of rep.errors.slice(0, 5)) shapeNotes.push(e.message);
    } catch (e) {
      shapeNotes.push(`shape inference failed: ${(e as Error).message}`);
    }
    const tShapes = performance.now();
    progress({ stage: 'building view', fraction: 0.85 });
    const view = buildModelView(model, name);
    this.original = model;
    this.originalBytes = bytes;
    this.originalView = view;
    this.optimized = null;
    this.file = name;
    this.snapshots.clear();
    this.steps = [];
    const tView = performance.now();
    return { view, bytes: size, ms: { read: tRead - t0, parse: tParse - tRead, shapes: tShapes - tParse, view: tView - tShapes }, shapeNotes };
  }

  run(workflow: Workflow, progress: (p: Progress) => void = () => {}): RunResult {
    const original = this.need();
    const steps = workflowSteps(workflow, PASSES);
    const model = original.clone();
    this.snapshots.clear();
    this.steps = [];
    const { model: out, record } = runWorkflow(model, steps, {
      fixedPoint: workflow.fixedPoint ?? true,
      onStep: (rec, m) => {
        if (rec.modified) this.snapshots.set(rec.seq, buildModelView(m, this.file));
        this.steps.push(rec);
        progress({ stage: `${rec.pass} (round ${rec.round + 1})`, step: rec });
      },
    });
    try { inferShapes(out); } catch { /* shapes stay as the passes left them */ }
    this.optimized = out;
    return { record, view: buildModelView(out, `${this.file} (optimized)`) };
  }

  /** The model before and after step `seq` of the last run. */
  stepViews(seq: number): StepViews {
    const step = this.steps[seq];
    if (!step) throw new Error(`no step ${seq} in the last run (${this.steps.length} steps)`);
    let before: ModelView = this.originalView as ModelView;
    for (let s = seq - 1; s >= 0; s--) {
      const v = this.snapshots.get(s);
      if (v) { before = v; break; }
    }
    const after = this.snapshots.get(seq) ?? before;
    return { before, after, step };
  }

  weightStats(which: ModelRef, valueName: string): WeightStats | null {
    const m = which === 'optimized' ? this.optimized ?? this.need() : this.need();
    const v = m.graph.initializers.get(valueName);
    let t: Tensor | undefined | null = v?.initializer;
    if (!t) {
      const p = m.graph.valueMap().get(valueName)?.producer;
      const a = p?.opType === 'Constant' ? p.attr('value') : undefined;
      if (a?.type === 'tensor') t = a.value;
    }
    return t ? weightStats(t) : null;
  }

  memoryPlan(which: ModelRef, dims: Record<string, number>) {
    const m = which === 'optimized' ? this.optimized : this.original;
    if (!m) throw new Error(which === 'optimized' ? 'run the workflow first: there is no optimized model yet' : 'open a model first');
    return planMemory(m, { dims });
  }

  async validate(): Promise<ValidationSummary> {
    const original = this.need();
    if (!this.optimized) throw new Error('run the workflow first: there is no optimized model to validate');
    const { validateModels } = await import('@fuselab/gpu-runtime');
    const r = await validateModels(original, this.optimized, this.originalBytes ? { originalBytes: this.originalBytes } : {});
    return { passed: r.passed, tolerance: r.tolerance.name, outputs: r.outputs.map((o) => ({ name: o.name, maxAbsErr: o.maxAbsErr, cosine: o.cosine, passed: o.passed })), ms: r.ms };
  }

  exportModel(which: ModelRef): Uint8Array {
    const m = which === 'optimized' ? this.optimized : this.original;
    if (!m) throw new Error('nothing to export yet');
    return serializeModelToBytes(m);
  }

  private need(): Model {
    if (!this.original) throw new Error('open a model first');
    return this.original;
  }
}
