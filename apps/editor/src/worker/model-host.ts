/**
 * What the model worker does, as a class with no messaging: parse (with shape inference), run a
 * workflow keeping per-step snapshots, weight statistics, memory plans, optimization profiles,
 * validation (held to the workflow's precision tolerance), engine builds, INT8 sensitivity and export.
 * The worker wraps it; headless tests call it directly.
 */
import { blobSource, inferShapes, loadModel, serializeModelToBytes, type Model, type Tensor } from '@fuselab/graph-core';
import { decoderProfiles, encodeCalibration, PASSES, planMemory, runPasses, workflowSteps, type Workflow } from '@fuselab/optimizer';
import { buildModelView, type ModelView } from '../model/view.ts';
import { runWorkflow, type StepRecord } from '../model/run-workflow.ts';
import { weightStats, type WeightStats } from '../model/weight-stats.ts';
import { workflowPrecision } from '../model/precision.ts';
import type { BuildEngineRequest, BuiltEngine, ModelRef, OpenResult, OpenSource, ProfilesRequest, ProfilesResult, Progress, RunResult, SensitivityRequest, SensitivityResult, StepViews, ValidationSummary } from './protocol.ts';
import type { WorkflowRunRecord } from '../model/run-workflow.ts';
import type { CalibrationData, CalibrationProgress, EngineManifest } from '@fuselab/gpu-runtime';

export class ModelHost {
  private original: Model | null = null;
  private originalBytes: Uint8Array | null = null;
  private originalView: ModelView | null = null;
  private optimized: Model | null = null;
  private file = '';
  /** seq → view after that step (modified steps only) and the step records. */
  private snapshots = new Map<number, ModelView>();
  private steps: StepRecord[] = [];
  private record: WorkflowRunRecord | null = null;
  /** The workflow that made `optimized` (its precision steps set the validation tolerance). */
  private workflow: Workflow | null = null;
  /** The last validation, for the optimized model it was run on. */
  private validation: { of: Model; result: NonNullable<EngineManifest['validation']>; ms: number } | null = null;
  /** Stops the sensitivity run in flight (one at a time). */
  private sensitivityAbort: AbortController | null = null;

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
    this.record = null;
    this.workflow = null;
    this.validation = null;
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
    this.record = record;
    this.workflow = workflow;
    this.validation = null;
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
    const { validateModels, toleranceByName } = await import('@fuselab/gpu-runtime');
    const optimized = this.optimized;
    // a precision step is held to its named tolerance (logits cosine), as `fuselab build --int8` does
    const named = workflowPrecision(this.workflow).tolerance;
    const r = await validateModels(original, optimized, { ...(this.originalBytes ? { originalBytes: this.originalBytes } : {}), ...(named ? { tolerance: toleranceByName(named) } : {}) });
    this.validation = { of: optimized, ms: r.ms, result: { passed: r.passed, tolerance: r.tolerance.name, outputs: r.outputs.map((o) => ({ name: o.name, maxAbsErr: o.maxAbsErr, maxRelErr: o.maxRelErr, cosine: o.cosine })) } };
    return { passed: r.passed, tolerance: r.tolerance.name, outputs: r.outputs.map((o) => ({ name: o.name, maxAbsErr: o.maxAbsErr, cosine: o.cosine, passed: o.passed })), ms: r.ms };
  }

  exportModel(which: ModelRef): Uint8Array {
    const m = which === 'optimized' ? this.optimized : this.original;
    if (!m) throw new Error('nothing to export yet');
    return serializeModelToBytes(m);
  }

  /**
   * Prefill and decode optimization profiles for the current model (the workflow's result when there
   * is one: it keeps the original's inputs), from the profiles node's parameters.
   */
  profiles(req: ProfilesRequest): ProfilesResult {
    const model = this.optimized ?? this.need();
    return decoderProfiles(model, { batch: req.batch, maxContext: req.maxContext, prefillTokens: req.prefillTokens, typicalPrompt: req.typicalPrompt });
  }

  /** The opened file's bytes (a copy: the caller may transfer it), or the model serialized. */
  sourceBytes(): Uint8Array {
    const m = this.need();
    return this.originalBytes ? this.originalBytes.slice() : serializeModelToBytes(m);
  }

  /**
   * Packs the workflow's result into one engine file, as `fuselab build` does: validate against the
   * original (unless told not to; a failed validation stops the build), serialize, and lay out the
   * engine for `device` with the tokenizer, generation config and provenance. Returns the file whole.
   */
  async buildEngine(req: BuildEngineRequest, progress: (p: Progress) => void = () => {}): Promise<BuiltEngine> {
    const original = this.need();
    const optimized = this.optimized;
    const record = this.record;
    if (!optimized || !record) throw new Error('run the workflow first: there is no optimized model to build an engine from');
    const rt = await import('@fuselab/gpu-runtime');
    const t0 = performance.now();
    let validation: EngineManifest['validation'] = null;
    if (req.validate) {
      if (this.validation?.of !== optimized) {
        progress({ stage: 'validating against the original (wasm)', fraction: 0.1 });
        await this.validate();
      }
      validation = this.validation?.result ?? null;
      if (validation && !validation.passed) {
        const worst = validation.outputs.reduce((m, o) => Math.max(m, o.maxAbsErr), 0);
        throw new Error(`validation failed (${validation.tolerance}; max |err| ${worst.toExponential(2)}): the optimized model does not match the original, so no engine was built — find the pass with the per-step diff, or disable it`);
      }
    }
    const t1 = performance.now();
    progress({ stage: 'serializing', fraction: 0.6 });
    const sourceBytes = this.originalBytes ?? serializeModelToBytes(original);
    const modelBytes = serializeModelToBytes(optimized);
    progress({ stage: 'laying out the engine', fraction: 0.8 });
    const notes = record.diagnostics.filter((d) => d.kind === 'warning').map((d) => `${d.pass}: ${d.message}`);
    const precision = workflowPrecision(this.workflow);
    const { chunks, manifest, byteLength } = await rt.buildEngine({
      source: { file: this.file, bytes: sourceBytes, nodes: original.graph.nodeCount },
      optimized,
      modelBytes,
      device: req.device,
      ortVersion: rt.ortWebVersion(rt.ortEnv()),
      fused: record.fused,
      provenance: record.provenance.map((p) => ({ node: p.node, opType: p.opType, sources: p.sources })),
      notes,
      maxPositions: req.maxPositions,
      profiles: req.profiles ?? [],
      ...(precision.method !== 'fp32' ? { precision: { method: precision.method, nodes: Object.fromEntries(precision.keptFloat.map((n) => [n, 'fp32'])) } } : {}),
      generation: req.generation,
      tokenizer: req.tokenizer ? { json: req.tokenizer, config: req.tokenizerConfig } : null,
      validation,
    });
    const bytes = new Uint8Array(byteLength);
    let at = 0;
    for (const c of chunks) { bytes.set(c, at); at += c.byteLength; }
    return { bytes, manifest, ms: { validate: t1 - t0, build: performance.now() - t1 } };
  }

  /**
   * Per-layer INT8 sensitivity of the original model (gpu-runtime's calibrate module, wasm): calibrate
   * activation ranges, then quantize each MatMul alone and compare the logits with the float model's.
   * Text (with the model's tokenizer) when given, else seeded random inputs and the module's warning.
   * Half of the batches calibrate, the other half evaluate. Stops between runs on `cancelSensitivity`.
   */
  async sensitivity(req: SensitivityRequest, progress: (p: Progress) => void = () => {}): Promise<SensitivityResult> {
    const original = this.need();
    const rt = await import('@fuselab/gpu-runtime');
    this.sensitivityAbort?.abort();
    const abort = new AbortController();
    this.sensitivityAbort = abort;
    const t0 = performance.now();
    const n = Math.max(1, req.batches ?? 2);
    const seq = Math.max(2, req.sequenceLength ?? 16);
    try {
      // the model the quantize step sees: the workflow's passes first (fused names, fused activations)
      let model = original;
      const sourcesOf = new Map<string, string[]>();
      const steps = req.workflow ? workflowSteps(req.workflow, PASSES) : [];
      if (steps.length) {
        progress({ stage: `running ${steps.length} workflow steps (the model quantize-qdq sees)`, fraction: 0 });
        const r = runPasses(original.clone(), steps, { fixedPoint: req.workflow?.fixedPoint ?? true, signal: abort.signal });
        model = r.model;
        // a fused MatMul stands for the weight MatMuls among its sources (not the attention's own QK / AV)
        const weightMatMuls = new Set(original.graph.nodes.filter((n) => n.opType === 'MatMul' && n.inputs[1]?.initializer?.dims.length === 2).map((n) => n.name));
        for (const p of r.provenance) sourcesOf.set(p.node, p.sources.filter((x) => weightMatMuls.has(x)));
      }
      progress({ stage: 'preparing calibration batches', fraction: 0.02 });
      let all: CalibrationData;
      if (req.text && req.tokenizer) {
        const json = (b: Uint8Array | null) => (b ? JSON.parse(new TextDecoder().decode(b)) as object : {});
        all = rt.textBatches(model, json(req.tokenizer), json(req.tokenizerConfig), req.text, { batchSize: 1, sequenceLength: seq, maxBatches: 2 * n, maxChars: 20_000 });
      } else {
        all = rt.randomBatches(model, 2 * n, { batch_size: 1, batch: 1, sequence_length: seq, past_sequence_length: 0, total_sequence_length: seq });
      }
      const half = all.batches.length > 1 ? Math.ceil(all.batches.length / 2) : 1;
      const calibData = { ...all, batches: all.batches.slice(0, half) };
      const evalData = { ...all, batches: all.batches.length > 1 ? all.batches.slice(half) : all.batches };
      const onProgress = (p: CalibrationProgress) => {
        const share = p.stage === 'calibrate' ? [0, 0.15] : [0.2, 0.8];
        progress({ stage: p.stage === 'calibrate' ? 'calibrating activation ranges' : `quantizing one layer at a time: ${p.message ?? ''}`, fraction: share[0] + (share[1] * p.done) / Math.max(1, p.total), done: p.done, total: p.total });
      };
      const calibration = await rt.calibrate(model, calibData, { signal: abort.signal, onProgress });
      progress({ stage: 'running the float reference', fraction: 0.17 });
      const scores = await rt.layerSensitivity(model, calibration, evalData, { signal: abort.signal, onProgress });
      return {
        scores: scores.map((x) => ({ node: x.node, score: x.score, weightSqnrDb: x.weightSqnrDb, activationSqnrDb: x.activationSqnrDb, pplIncreasePct: x.pplIncreasePct, sources: sourcesOf.get(x.node)?.length ? (sourcesOf.get(x.node) as string[]) : [x.node] })),
        source: all.source === 'text' ? 'text' : 'random',
        warning: all.warning ?? null,
        ms: performance.now() - t0,
        calibration: encodeCalibration(calibration.ranges),
        activationSymmetric: calibration.symmetric,
        measured: { passes: steps.length, nodes: model.graph.nodeCount },
      };
    } finally {
      if (this.sensitivityAbort === abort) this.sensitivityAbort = null;
    }
  }

  /** Stops the sensitivity run in flight; false when none was running. */
  cancelSensitivity(): boolean {
    const a = this.sensitivityAbort;
    if (!a) return false;
    a.abort();
    this.sensitivityAbort = null;
    return true;
  }

  private need(): Model {
    if (!this.original) throw new Error('open a model first');
    return this.original;
  }
}
