/**
 * Activation statistics: runs the model in onnxruntime-web (wasm) over calibration batches with the
 * tensors of interest added as graph outputs, and streams each into a histogram
 * (`@fuselab/optimizer`'s `Histogram`). Reports progress per batch and stops between batches when
 * its AbortSignal fires.
 */
import { inferShapes, serializeModelToBytes, tensorType, type Model, type Value } from '@fuselab/graph-core';
import { calibrateRange, Histogram, histogramSqnrDb, match, quantParams, type CalibrationMethod, type Range } from '@fuselab/optimizer';
import { createSession, runSession } from '../ort/session.ts';
import type { CalibrationData } from './batches.ts';

export interface CalibrationProgress {
  stage: 'calibrate' | 'evaluate' | 'sensitivity' | 'mixed-precision';
  done: number;
  total: number;
  message?: string;
}

export interface CollectOptions {
  /** Value names to observe; default: the activation inputs of MatMuls with a constant weight. */
  tensors?: string[] | 'all-float';
  bins?: number;
  onProgress?: (p: CalibrationProgress) => void;
  signal?: AbortSignal;
  executionProviders?: string[];
}

export interface ActivationStats {
  histograms: Map<string, Histogram>;
  source: CalibrationData['source'];
  batches: number;
  warnings: string[];
}

/** Calibration, evaluation or sensitivity analysis was cancelled through its AbortSignal (`cause`: the signal's reason). */
export class CalibrationCancelled extends Error {
  constructor(cause?: unknown) {
    super('calibration cancelled', { cause });
    this.name = 'CalibrationCancelled';
  }
}

/** Throws {@link CalibrationCancelled} when `signal` has fired. */
export function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CalibrationCancelled(signal.reason);
}

/** The activation inputs of MatMuls whose weight is constant: what INT8 QDQ needs ranges for. */
export function matmulActivationInputs(model: Model): string[] {
  const out = new Set<string>();
  for (const n of model.graph.nodes) {
    if (n.opType !== 'MatMul' || (n.domain !== '' && n.domain !== 'ai.onnx')) continue;
    const [a, w] = n.inputs;
    if (a && w && match.constTensor(w)) out.add(a.name);
  }
  return [...out];
}

function floatValues(model: Model): string[] {
  const out: string[] = [];
  for (const n of model.graph.nodes) for (const v of n.outputs) if (v && v.dtype === 'float32') out.push(v.name);
  return out;
}

/** Runs the batches and fills one histogram per observed float32 tensor. */
export async function collectActivationStats(model: Model, data: CalibrationData, options: CollectOptions = {}): Promise<ActivationStats> {
  const probe = model.clone();
  inferShapes(probe);
  const names = options.tensors === 'all-float' ? floatValues(probe) : options.tensors ?? matmulActivationInputs(probe);
  const values = probe.graph.valueMap();
  const outputs: string[] = [];
  const warnings: string[] = data.warning ? [data.warning] : [];
  for (const name of names) {
    const v = values.get(name) as Value | undefined;
    if (!v) {
      warnings.push(`tensor '${name}' is not in the model: not calibrated`);
      continue;
    }
    if (v.dtype && v.dtype !== 'float32') continue;
    if (!v.isGraphOutput) {
      if (!v.type) v.type = tensorType('float32', null);
      probe.graph.addOutput(v);
    }
    outputs.push(name);
  }
  const histograms = new Map(outputs.map((n) => [n, new Histogram(options.bins ?? 2048)]));
  checkAbort(options.signal);
  const session = await createSession(serializeModelToBytes(probe), { executionProviders: options.executionProviders });
  try {
    for (const [i, batch] of data.batches.entries()) {
      checkAbort(options.signal);
      const got = await runSession(session, batch.feeds, outputs);
      for (const name of outputs) histograms.get(name)?.add(got[name].data as Float32Array);
      options.onProgress?.({ stage: 'calibrate', done: i + 1, total: data.batches.length, message: batch.name });
    }
  } finally {
    await session.release();
  }
  for (const [name, h] of histograms) if (h.nonFinite) warnings.push(`tensor '${name}': ${h.nonFinite} non-finite values seen during calibration`);
  return { histograms, source: data.source, batches: data.batches.length, warnings };
}

export interface CalibrationResult {
  method: CalibrationMethod;
  symmetric: boolean;
  ranges: Map<string, Range>;
  /** Per-tensor SQNR (dB) of quantizing each activation with its range (estimated on the histogram). */
  sqnrDb: Map<string, number>;
  source: CalibrationData['source'];
  /** True when calibrated on random data: every report that uses these ranges must say so. */
  randomData: boolean;
  warnings: string[];
  batches: number;
}

export interface CalibrateOptions extends CollectOptions {
  method?: CalibrationMethod;
  symmetric?: boolean;
  percentile?: number;
}

/** Collects statistics and turns each histogram into a range with `method` (default min-max). */
export async function calibrate(model: Model, data: CalibrationData, options: CalibrateOptions = {}): Promise<CalibrationResult> {
  const stats = await collectActivationStats(model, data, options);
  const method = options.method ?? 'minmax';
  const symmetric = options.symmetric ?? false;
  const ranges = new Map<string, Range>();
  const sqnrDb = new Map<string, number>();
  for (const [name, h] of stats.histograms) {
    const r = calibrateRange(h, { method, symmetric, percentile: options.percentile });
    ranges.set(name, r);
    sqnrDb.set(name, +histogramSqnrDb(h, quantParams(r, symmetric)).toFixed(2));
  }
  return { method, symmetric, ranges, sqnrDb, source: stats.source, randomData: stats.source === 'random', warnings: stats.warnings, batches: stats.batches };
}
