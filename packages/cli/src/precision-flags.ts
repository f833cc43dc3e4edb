/**
 * Precision flags shared by `fuselab optimize` (and, later, `fuselab build`):
 *
 *   --fp16 [--keep OP|NODE,...] [--fp16-io] [--calib FILE]
 *   --int8 --calib FILE|random [--calib-method minmax|percentile|entropy] [--accuracy-target cosine>=X|ppl<=Y%] [--eval FILE] [--act-symmetric]
 *   --int4 [--block 32] [--asym] [--int8-weights]
 *   [--quantize-lm-head] [--tokenizer tokenizer.json]
 *
 * `parsePrecisionFlags` checks the parsed values; `planPrecision` turns them, for a model that has been
 * through the fusion workflow, into extra workflow steps (after calibration and mixed-precision search
 * where asked), the validation tolerance, and the report's `precision` block, which
 * `finishPrecisionReport` completes once the steps ran. Self-contained: Node file access lives here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FuselabError, type Model } from '@fuselab/graph-core';
import {
  CALIBRATION_METHODS, encodeCalibration, fp16OverflowNodes, FP16_DEFAULT_KEEP, NBITS_BLOCK_SIZES,
  type CalibrationMethod, type Diagnostic, type OptimizeRecord, type WorkflowPassConfig,
} from '@fuselab/optimizer';
import {
  calibrate, collectActivationStats, compareRuns, FP16, hostFromBase64, INT4_WEIGHT_ONLY, INT8_QDQ, INT8_WEIGHT_ONLY, mixedPrecision, randomBatches,
  recordedBatches, runLogits, textBatches, type Accuracy, type AccuracyTarget, type CalibrationData, type CalibrationProgress, type Tolerance,
} from '@fuselab/gpu-runtime';

/** Option definitions for `node:util` parseArgs (spread them into a command's `options`). */
export const PRECISION_OPTIONS = {
  fp16: { type: 'boolean' },
  keep: { type: 'string' },
  'fp16-io': { type: 'boolean' },
  'fp16-norms': { type: 'boolean' },
  int8: { type: 'boolean' },
  calib: { type: 'string' },
  'calib-method': { type: 'string' },
  'accuracy-target': { type: 'string' },
  eval: { type: 'string' },
  'act-symmetric': { type: 'boolean' },
  int4: { type: 'boolean' },
  block: { type: 'string' },
  asym: { type: 'boolean' },
  'int8-weights': { type: 'boolean' },
  'quantize-lm-head': { type: 'boolean' },
  tokenizer: { type: 'string' },
} as const;

export const PRECISION_USAGE = `Precision (after the fusion workflow; validation uses the precision's named tolerance):
  --fp16                   float16 weights and compute; norms, Softmax, reductions stay float32
    --keep OP|NODE,...     more op types / node names to keep in float32
    --fp16-io              float16 model inputs and outputs too (default: kept float32)
    --fp16-norms           fused norms (LayerNorm, SkipLayerNorm, RMS forms) take float16 IO too: onnxruntime's
                           WebGPU kernels keep their statistics in float32 (saves the Casts around them)
    --calib FILE           also keep nodes whose activations on FILE exceed the float16 range
  --int8                   INT8 QDQ: per-channel int8 weights, calibrated per-tensor activations
    --calib FILE|random    text (.txt, tokenized with the model's tokenizer.json), recorded inputs
                           (.io.json), or 'random' (allowed, loudly flagged in the report)
    --calib-method M       minmax (default) | percentile | entropy
    --accuracy-target T    cosine>=0.999 or ppl<=1%: keep the most sensitive MatMuls in float
                           until met on held-out text (--eval FILE, default: the last fifth of --calib)
    --act-symmetric        int8 activations with zero point 0 (default: asymmetric uint8)
  --int4                   weight-only MatMulNBits (com.microsoft), 4-bit
    --block N              block size along K: 16, 32 (default), 64, 128, 256
    --asym                 asymmetric blocks (packed zero points)
    --int8-weights         8-bit MatMulNBits instead of 4-bit
  --quantize-lm-head       quantize the LM head too (int8/int4; default: kept float)
  --tokenizer FILE         tokenizer.json for --calib/--eval text (default: beside the model)
`;

export type PrecisionMethod = 'fp16' | 'int8-qdq' | 'int4-weight-only' | 'int8-weight-only';

/** Parsed values of {@link PRECISION_OPTIONS}. */
export interface PrecisionFlagValues {
  fp16?: boolean;
  keep?: string;
  'fp16-io'?: boolean;
  'fp16-norms'?: boolean;
  int8?: boolean;
  calib?: string;
  'calib-method'?: string;
  'accuracy-target'?: string;
  eval?: string;
  'act-symmetric'?: boolean;
  int4?: boolean;
  block?: string;
  asym?: boolean;
  'int8-weights'?: boolean;
  'quantize-lm-head'?: boolean;
  tokenizer?: string;
}

export interface PrecisionRequest {
  method: PrecisionMethod;
  keep: string[];
  keepIO: boolean;
  /** Fused norms take float16 IO (their kernels keep statistics in float32). */
  fp16Norms: boolean;
  calib: string | null;
  calibMethod: CalibrationMethod;
  target: AccuracyTarget | null;
  targetText: string | null;
  evalFile: string | null;
  activationSymmetric: boolean;
  blockSize: number;
  symmetric: boolean;
  lmHead: boolean;
  tokenizer: string | null;
}

/** The report's `precision` block (fields are only ever added). */
export interface PrecisionReport {
  method: PrecisionMethod;
  /** Nodes computed in higher precision than the method's, and why. */
  keptHigher: Array<{ node: string; reason: string }>;
  /** Per-node sensitivity (1 − logits cosine with only that node quantized), most sensitive first: the editor's heatmap. */
  sensitivity: Array<{ node: string; score: number; weightSqnrDb?: number; activationSqnrDb?: number | null; pplIncreasePct?: number | null }>;
  /** Measured on held-out text (or the calibration data) against the float model after fusion; null when nothing was measured. */
  accuracy: (Partial<Accuracy> & { target?: string; met?: boolean; on?: string }) | null;
  bytes: { before: number; after: number };
  calibration?: { source: string; file: string; method: CalibrationMethod; batches: number; randomData: boolean };
  /** The steps that ran (with their parameters, calibration ranges included). */
  steps: WorkflowPassConfig[];
  tolerance: string;
  /** Loud warnings (random calibration data first). */
  warnings: string[];
}

const usage = (msg: string): never => {
  throw new FuselabError('USAGE', msg);
};

/** Parses `cosine>=0.999`, `ppl<=1%` (or both, comma-separated). */
export function parseAccuracyTarget(text: string): AccuracyTarget {
  const t: AccuracyTarget = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    let m = /^cos(?:ine)?\s*>=\s*([0-9.]+)$/i.exec(part);
    if (m) {
      t.minCosine = Number(m[1]);
      if (!(t.minCosine > 0 && t.minCosine <= 1)) usage(`--accuracy-target: cosine must be in (0, 1], got ${m[1]}`);
      continue;
    }
    m = /^ppl\s*<=\s*([0-9.]+)\s*%$/i.exec(part);
    if (m) {
      t.maxPplIncreasePct = Number(m[1]);
      continue;
    }
    usage(`--accuracy-target '${part}': expected cosine>=X or ppl<=Y%`);
  }
  if (t.minCosine === undefined && t.maxPplIncreasePct === undefined) usage('--accuracy-target is empty');
  return t;
}

/** Checks the flags; null when no precision was asked for. Conflicts and missing values are USAGE errors. */
export function parsePrecisionFlags(v: PrecisionFlagValues): PrecisionRequest | null {
  const chosen = (['fp16', 'int8', 'int4'] as const).filter((k) => v[k]);
  if (chosen.length > 1) usage(`choose one of --fp16, --int8, --int4 (got ${chosen.map((c) => `--${c}`).join(', ')})`);
  const only = (flag: keyof PrecisionFlagValues, with_: string) => {
    if (v[flag] !== undefined && !chosen.includes(with_ as never)) usage(`--${flag} goes with --${with_}`);
  };
  only('keep', 'fp16');
  only('fp16-io', 'fp16');
  only('fp16-norms', 'fp16');
  only('calib-method', 'int8');
  only('accuracy-target', 'int8');
  only('act-symmetric', 'int8');
  only('block', 'int4');
  only('asym', 'int4');
  only('int8-weights', 'int4');
  if (!chosen.length) {
    for (const k of ['calib', 'eval', 'quantize-lm-head', 'tokenizer'] as const) if (v[k] !== undefined) usage(`--${k} needs --fp16, --int8 or --int4`);
    return null;
  }
  if (v.int8 && !v.calib) usage('--int8 needs --calib FILE (text, recorded .io.json, or "random")');
  const calibMethod = (v['calib-method'] ?? 'minmax') as CalibrationMethod;
  if (!CALIBRATION_METHODS.includes(calibMethod)) usage(`--calib-method must be one of ${CALIBRATION_METHODS.join(', ')}`);
  const blockSize = v.block === undefined ? 32 : Number(v.block);
  if (!(NBITS_BLOCK_SIZES as readonly number[]).includes(blockSize)) usage(`--block must be one of ${NBITS_BLOCK_SIZES.join(', ')}`);
  const method: PrecisionMethod = v.fp16 ? 'fp16' : v.int8 ? 'int8-qdq' : v['int8-weights'] ? 'int8-weight-only' : 'int4-weight-only';
  return {
    method,
    keep: (v.keep ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    keepIO: !v['fp16-io'],
    fp16Norms: !!v['fp16-norms'],
    calib: v.calib ?? null,
    calibMethod,
    target: v['accuracy-target'] ? parseAccuracyTarget(v['accuracy-target']) : null,
    targetText: v['accuracy-target'] ?? null,
    evalFile: v.eval ?? null,
    activationSymmetric: !!v['act-symmetric'],
    blockSize,
    symmetric: !v.asym,
    lmHead: !!v['quantize-lm-head'],
    tokenizer: v.tokenizer ?? null,
  };
}

/** Fused norm ops whose onnxruntime kernels (WebGPU, CPU) accumulate mean/variance in float32 for float16 IO. */
const FUSED_NORMS: ReadonlySet<string> = new Set(['LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization']);

export const TOLERANCES: Record<PrecisionMethod, Tolerance> = {
  fp16: FP16,
  'int8-qdq': INT8_QDQ,
  'int4-weight-only': INT4_WEIGHT_ONLY,
  'int8-weight-only': INT8_WEIGHT_ONLY,
};

export interface PrecisionPlan {
  steps: WorkflowPassConfig[];
  tolerance: Tolerance;
  report: PrecisionReport;
  /** Held-out data to measure the final model on (text: perplexity too), when there is any. */
  evalData: CalibrationData | null;
}

interface PlanContext {
  modelPath: string;
  onProgress?: (p: CalibrationProgress) => void;
  signal?: AbortSignal;
}

/** Reads calibration data: `random`, recorded `.json` inputs, or text tokenized with the model's tokenizer. */
function loadData(model: Model, file: string, req: PrecisionRequest, modelPath: string, part: 'head' | 'tail' | 'all'): CalibrationData {
  if (file === 'random') return randomBatches(model, 4);
  if (!existsSync(file)) usage(`--calib/--eval: no such file '${file}'`);
  if (file.endsWith('.json')) {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { inputs?: Record<string, { dtype: string; dims: number[]; data: string }> };
    if (!doc.inputs) usage(`${file}: a recorded-inputs file needs an "inputs" object (the io.json format)`);
    const feeds = Object.fromEntries(Object.entries(doc.inputs as object).map(([k, t]) => [k, hostFromBase64(t)]));
    return recordedBatches([{ name: file, feeds }]);
  }
  const tokPath = req.tokenizer ?? join(dirname(modelPath), 'tokenizer.json');
  if (!existsSync(tokPath)) usage(`text calibration needs the model's tokenizer: no ${tokPath} (give --tokenizer FILE)`);
  const cfgPath = join(dirname(tokPath), 'tokenizer_config.json');
  const tokenizerJson = JSON.parse(readFileSync(tokPath, 'utf8')) as object;
  const tokenizerConfig = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as object) : {};
  const text = readFileSync(file, 'utf8');
  const cut = Math.floor(text.length * 0.8);
  const slice = part === 'head' ? text.slice(0, cut) : part === 'tail' ? text.slice(cut) : text;
  return textBatches(model, tokenizerJson, tokenizerConfig, slice, { maxChars: 60_000, batchSize: 4, sequenceLength: 64, maxBatches: part === 'tail' ? 2 : 4 });
}

/**
 * Plans the precision steps for `model` (already through the fusion workflow): calibrates and runs
 * the sensitivity / mixed-precision search where the flags ask for it.
 */
export async function planPrecision(req: PrecisionRequest, model: Model, ctx: PlanContext): Promise<PrecisionPlan> {
  const tolerance = TOLERANCES[req.method];
  const report: PrecisionReport = { method: req.method, keptHigher: [], sensitivity: [], accuracy: null, bytes: { before: model.parameterStats().bytes, after: 0 }, steps: [], tolerance: tolerance.name, warnings: [] };
  const sameFile = !req.evalFile && req.calib && req.calib !== 'random' && !req.calib.endsWith('.json');
  const calibData = req.calib ? loadData(model, req.calib, req, ctx.modelPath, sameFile ? 'head' : 'all') : null;
  const evalData = req.evalFile ? loadData(model, req.evalFile, req, ctx.modelPath, 'all') : sameFile && req.calib ? loadData(model, req.calib, req, ctx.modelPath, 'tail') : calibData;
  if (calibData?.warning) report.warnings.push(calibData.warning);
  const opts = { onProgress: ctx.onProgress, signal: ctx.signal };
  let steps: WorkflowPassConfig[];
  switch (req.method) {
    case 'fp16': {
      const keepNodes: string[] = [];
      if (calibData) {
        const stats = await collectActivationStats(model, calibData, { ...opts, tensors: 'all-float' });
        const ranges = new Map([...stats.histograms].map(([k, h]) => [k, { min: h.min, max: h.max }]));
        for (const o of fp16OverflowNodes(model, ranges)) {
          keepNodes.push(o.node);
          report.keptHigher.push({ node: o.node, reason: `calibration: '${o.value}' reaches |x| = ${o.absMax.toExponential(2)} > 65504` });
        }
        report.calibration = { source: calibData.source, file: req.calib as string, method: 'minmax', batches: stats.batches, randomData: calibData.source === 'random' };
      }
      const ops = new Set(model.graph.nodes.map((n) => n.opType));
      const extraOps = req.keep.filter((k) => ops.has(k));
      const extraNodes = req.keep.filter((k) => !ops.has(k));
      const baseKeep = req.fp16Norms ? FP16_DEFAULT_KEEP.filter((op) => !FUSED_NORMS.has(op)) : FP16_DEFAULT_KEEP;
      steps = [{ pass: 'convert-fp16', params: { keepOps: [...baseKeep, ...extraOps], keepNodes: [...keepNodes, ...extraNodes], keepIO: req.keepIO } }];
      break;
    }
    case 'int8-qdq': {
      const c = await calibrate(model, calibData as CalibrationData, { ...opts, method: req.calibMethod, symmetric: req.activationSymmetric });
      report.warnings.push(...c.warnings.filter((w) => !report.warnings.includes(w)));
      report.calibration = { source: c.source, file: req.calib as string, method: c.method, batches: c.batches, randomData: c.randomData };
      let exclude: string[] = [];
      if (req.target) {
        const mp = await mixedPrecision(model, c, evalData as CalibrationData, req.target, { ...opts, activationSymmetric: req.activationSymmetric, lmHead: true });
        exclude = mp.keptHigher;
        report.sensitivity = mp.sensitivity.map((s) => ({ node: s.node, score: s.score, weightSqnrDb: s.weightSqnrDb, activationSqnrDb: s.activationSqnrDb, pplIncreasePct: s.pplIncreasePct }));
        for (const n of exclude) report.keptHigher.push({ node: n, reason: 'mixed precision: among the most sensitive layers' });
        report.accuracy = { ...mp.accuracy, target: req.targetText ?? undefined, met: mp.met, on: evalName(evalData) };
        if (!mp.met) report.warnings.push(`accuracy target ${req.targetText} not met even with every quantizable MatMul in float`);
      }
      steps = [{ pass: 'quantize-qdq', params: { calibration: encodeCalibration(c.ranges), activationSymmetric: req.activationSymmetric, lmHead: req.target ? true : req.lmHead, exclude, include: [] } }];
      break;
    }
    default:
      steps = [{ pass: 'quantize-matmul-nbits', params: { bits: req.method === 'int8-weight-only' ? 8 : 4, blockSize: req.blockSize, symmetric: req.symmetric, lmHead: req.lmHead } }];
  }
  report.steps = steps;
  return { steps, tolerance, report, evalData };
}

const evalName = (d: CalibrationData | null) => (d ? `${d.source}, ${d.batches.length} batches` : undefined);

/**
 * Completes the block after the steps ran: bytes after, kept-higher nodes from the passes'
 * diagnostics, and (when not measured by the mixed-precision search) accuracy on the held-out data.
 */
export async function finishPrecisionReport(plan: PrecisionPlan, before: Model, after: Model, record: Pick<OptimizeRecord, 'diagnostics'>, signal?: AbortSignal): Promise<PrecisionReport> {
  const r = plan.report;
  r.bytes.after = after.parameterStats().bytes;
  const seen = new Set(r.keptHigher.map((k) => k.node));
  for (const d of record.diagnostics as Diagnostic[]) {
    if (!['convert-fp16', 'quantize-qdq', 'quantize-matmul-nbits'].includes(d.pass) || d.kind !== 'info' || !/kept in float/.test(d.message)) continue;
    for (const node of d.nodes) {
      if (seen.has(node) || d.message.startsWith('embedding')) continue;
      seen.add(node);
      r.keptHigher.push({ node, reason: d.message.replace(/^\d+ node\(s\) /, '') });
    }
  }
  if (!r.accuracy && plan.evalData) {
    const ref = await runLogits(before, plan.evalData, { signal });
    const got = await runLogits(after, plan.evalData, { signal });
    r.accuracy = { ...compareRuns(ref, got), on: evalName(plan.evalData) };
  }
  return r;
}

/** One line for the CLI summary (warnings on their own lines, first). */
export function formatPrecision(r: PrecisionReport): string {
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
  const a = r.accuracy;
  const acc = a ? `; logits cos ${a.cosine?.toFixed(6)}${a.ppl != null ? `, ppl ${a.ppl.toFixed(3)} (${(a.pplIncreasePct ?? 0) >= 0 ? '+' : ''}${a.pplIncreasePct?.toFixed(2)}%)` : ''}${a.target ? `, target ${a.target} ${a.met ? 'met' : 'NOT met'}` : ''} on ${a.on}` : '';
  const lines = r.warnings.map((w) => `WARNING: ${w}`);
  lines.push(`precision ${r.method}: weights ${mb(r.bytes.before)} → ${mb(r.bytes.after)}; ${r.keptHigher.length} nodes kept higher${acc}`);
  return lines.join('\n');
}

/**
 * Appends a second pass-manager record (the precision steps, run on the fused model) to the first:
 * provenance sources that name fused nodes are traced back to the original nodes they came from.
 */
export function appendRecord(first: OptimizeRecord, second: OptimizeRecord): OptimizeRecord {
  const origin = new Map(first.provenance.map((p) => [p.node, p]));
  const live = new Set(second.model.graph.nodes.map((n) => n.name));
  const provenance = [
    ...first.provenance.filter((p) => live.has(p.node)),
    ...second.provenance.map((p) => ({ ...p, sources: [...new Set(p.sources.flatMap((s) => origin.get(s)?.sources ?? [s]))], passes: [...new Set([...p.sources.flatMap((s) => origin.get(s)?.passes ?? []), ...p.passes])] })),
  ];
  const fused: Record<string, number> = {};
  for (const p of provenance) fused[p.opType] = (fused[p.opType] ?? 0) + 1;
  return {
    model: second.model,
    nodesBefore: first.nodesBefore,
    nodesAfter: second.nodesAfter,
    fused,
    passes: [...first.passes, ...second.passes.map((p) => ({ ...p, round: p.round + first.rounds }))],
    provenance,
    removed: [...first.removed, ...second.removed],
    diagnostics: [...first.diagnostics, ...second.diagnostics],
    rounds: first.rounds + second.rounds,
  };
}
