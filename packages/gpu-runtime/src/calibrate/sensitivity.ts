/**
 * Per-layer sensitivity and mixed precision for INT8 QDQ. Each quantizable MatMul is quantized ALONE
 * and the model's logits compared with the float model's on held-out batches (score = 1 − cosine,
 * plus the perplexity change and the weight's SQNR); the ranking drives mixed precision: keep the
 * most sensitive layers in float, one more at a time, until the accuracy target is met. The scores
 * are what the editor's heatmap draws (node name → score).
 */
import type { Model } from '@fuselab/graph-core';
import { encodeCalibration, isLmHead, match, quantizeQdq, type QdqParams } from '@fuselab/optimizer';
import type { CalibrationData } from './batches.ts';
import { checkAbort, type CalibrationProgress, type CalibrationResult } from './collect.ts';
import { compareRuns, meetsTarget, runLogits, type Accuracy, type AccuracyTarget, type LogitsRun } from './evaluate.ts';

export interface LayerSensitivity {
  node: string;
  /** 1 − logits cosine with only this layer quantized (higher = more sensitive). */
  score: number;
  cosine: number;
  pplIncreasePct: number | null;
  /** Weight signal-to-quantization-noise ratio (per-channel int8), dB. */
  weightSqnrDb: number;
  /** The input activation's SQNR with its calibrated per-tensor range, dB. */
  activationSqnrDb: number | null;
}

export interface SensitivityOptions {
  activationSymmetric?: boolean;
  /** Include the LM head among the candidates (default true: let the data say). */
  lmHead?: boolean;
  onProgress?: (p: CalibrationProgress) => void;
  signal?: AbortSignal;
  /** The float model's run on `evalData`, when the caller has it. */
  reference?: LogitsRun;
}

/** The MatMuls `quantize-qdq` can quantize (constant 2-D float32 weight, calibrated input). */
export function quantizableMatMuls(model: Model, calibration: CalibrationResult, lmHead = true): string[] {
  const out: string[] = [];
  for (const n of model.graph.nodes) {
    if (n.opType !== 'MatMul' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const w = match.constTensor(n.inputs[1]);
    if (!w || w.dims.length !== 2 || w.dtype !== 'float32' || !n.inputs[0] || !calibration.ranges.has(n.inputs[0].name)) continue;
    if (!lmHead && isLmHead(n)) continue;
    out.push(n.name);
  }
  return out;
}

function qdqParams(calibration: CalibrationResult, options: { activationSymmetric?: boolean; lmHead?: boolean }, extra: Partial<QdqParams>): QdqParams {
  return { calibration: encodeCalibration(calibration.ranges), activationSymmetric: options.activationSymmetric ?? calibration.symmetric, lmHead: options.lmHead ?? true, exclude: [], include: [], ...extra };
}

/** Quantizes a clone of `model` with `params` and returns it with the pass result. */
export function quantizedClone(model: Model, params: QdqParams): { model: Model; sqnrDb: Record<string, number> } {
  const m = model.clone();
  const r = quantizeQdq.run(m, {}, params);
  return { model: m, sqnrDb: (r.stats.sqnrDb as Record<string, number>) ?? {} };
}

/** Ranks every quantizable MatMul by the logits error it causes when quantized alone. */
export async function layerSensitivity(model: Model, calibration: CalibrationResult, evalData: CalibrationData, options: SensitivityOptions = {}): Promise<LayerSensitivity[]> {
  const reference = options.reference ?? (await runLogits(model, evalData, options));
  const nodes = quantizableMatMuls(model, calibration, options.lmHead ?? true);
  const out: LayerSensitivity[] = [];
  for (const [i, node] of nodes.entries()) {
    checkAbort(options.signal);
    const q = quantizedClone(model, qdqParams(calibration, options, { include: [node] }));
    const acc = compareRuns(reference, await runLogits(q.model, evalData, options));
    const input = model.graph.nodes.find((n) => n.name === node)?.inputs[0]?.name ?? '';
    out.push({ node, score: Math.max(0, 1 - acc.cosine), cosine: acc.cosine, pplIncreasePct: acc.pplIncreasePct, weightSqnrDb: q.sqnrDb[node] ?? Infinity, activationSqnrDb: calibration.sqnrDb.get(input) ?? null });
    options.onProgress?.({ stage: 'sensitivity', done: i + 1, total: nodes.length, message: node });
  }
  return out.sort((a, b) => b.score - a.score || a.node.localeCompare(b.node));
}

export interface MixedPrecisionStep {
  keptFloat: number;
  accuracy: Accuracy;
  met: boolean;
}

export interface MixedPrecisionResult {
  /** The quantized model that met the target (when none did: the last one tried, every candidate kept in float). */
  model: Model;
  /** MatMuls kept in float, most sensitive first. */
  keptHigher: string[];
  quantized: string[];
  accuracy: Accuracy;
  met: boolean;
  target: AccuracyTarget;
  sensitivity: LayerSensitivity[];
  steps: MixedPrecisionStep[];
}

/**
 * Keeps the most sensitive layers in float, one more at a time, until `target` is met on `evalData`
 * (held-out text). Stops at the first count that meets it: the fewest layers kept under this ranking.
 */
export async function mixedPrecision(model: Model, calibration: CalibrationResult, evalData: CalibrationData, target: AccuracyTarget, options: SensitivityOptions = {}): Promise<MixedPrecisionResult> {
  const reference = options.reference ?? (await runLogits(model, evalData, options));
  const sensitivity = await layerSensitivity(model, calibration, evalData, { ...options, reference });
  const ranked = sensitivity.map((s) => s.node);
  const steps: MixedPrecisionStep[] = [];
  let last: { model: Model; accuracy: Accuracy; k: number } | null = null;
  for (let k = 0; k <= ranked.length; k++) {
    checkAbort(options.signal);
    const keep = ranked.slice(0, k);
    const q = quantizedClone(model, qdqParams(calibration, options, { exclude: keep }));
    const accuracy = compareRuns(reference, await runLogits(q.model, evalData, options));
    const met = meetsTarget(accuracy, target);
    steps.push({ keptFloat: k, accuracy, met });
    options.onProgress?.({ stage: 'mixed-precision', done: k + 1, total: ranked.length + 1, message: `${k} kept in float: cosine ${accuracy.cosine.toFixed(6)}` });
    last = { model: q.model, accuracy, k };
    if (met) break;
  }
  const done = last as { model: Model; accuracy: Accuracy; k: number };
  return {
    model: done.model,
    keptHigher: ranked.slice(0, done.k),
    quantized: ranked.slice(done.k),
    accuracy: done.accuracy,
    met: steps[steps.length - 1].met,
    target,
    sensitivity,
    steps,
  };
}
