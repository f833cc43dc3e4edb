/**
 * Accuracy of a (quantized) language model against its float reference on the same batches: logits
 * cosine and max error, and — on text batches — perplexity of the next token.
 */
import { serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { hostNumbers, type HostTensor } from '../ort/host-tensor.ts';
import { createSession, runSession } from '../ort/session.ts';
import type { CalibrationData } from './batches.ts';
import { checkAbort } from './collect.ts';

export interface LogitsRun {
  /** Logits per batch, as float64. */
  logits: Float64Array[];
  dims: number[][];
  /** Mean next-token negative log-likelihood over all text rows (null without token ids). */
  nll: number | null;
  ppl: number | null;
}

/** The name of the logits output: `logits` when present, else the first output. */
export function logitsName(outputs: readonly string[]): string {
  return outputs.includes('logits') ? 'logits' : outputs[0];
}

/** Runs `model` over the batches and keeps the logits (and perplexity when batches carry tokens). */
export async function runLogits(model: Model | Uint8Array, data: CalibrationData, options: { signal?: AbortSignal; executionProviders?: string[] } = {}): Promise<LogitsRun> {
  const session = await createSession(model instanceof Uint8Array ? model : serializeModelToBytes(model), { executionProviders: options.executionProviders });
  const name = logitsName(session.outputNames);
  const run: LogitsRun = { logits: [], dims: [], nll: null, ppl: null };
  let nllSum = 0;
  let count = 0;
  try {
    for (const batch of data.batches) {
      checkAbort(options.signal);
      const out = (await runSession(session, batch.feeds, [name]))[name] as HostTensor;
      const x = hostNumbers(out);
      run.logits.push(x);
      run.dims.push(out.dims);
      if (batch.tokens) {
        const [rows, seq, vocab] = out.dims;
        for (let r = 0; r < rows; r++) {
          for (let t = 0; t + 1 < seq; t++) {
            nllSum += -logSoftmaxAt(x, (r * seq + t) * vocab, vocab, batch.tokens[r][t + 1]);
            count++;
          }
        }
      }
    }
  } finally {
    await session.release();
  }
  if (count) {
    run.nll = nllSum / count;
    run.ppl = Math.exp(run.nll);
  }
  return run;
}

function logSoftmaxAt(x: Float64Array, base: number, n: number, target: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, x[base + i]);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(x[base + i] - m);
  return x[base + target] - m - Math.log(s);
}

export interface Accuracy {
  /** Cosine similarity of all logits against the reference (1 = identical direction). */
  cosine: number;
  maxAbsErr: number;
  ppl: number | null;
  pplReference: number | null;
  /** Perplexity increase over the reference, in percent. */
  pplIncreasePct: number | null;
}

/** Compares a run against the reference run on the same batches. */
export function compareRuns(reference: LogitsRun, got: LogitsRun): Accuracy {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbs = 0;
  for (let b = 0; b < reference.logits.length; b++) {
    const x = reference.logits[b];
    const y = got.logits[b];
    for (let i = 0; i < x.length; i++) {
      dot += x[i] * y[i];
      na += x[i] * x[i];
      nb += y[i] * y[i];
      maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
    }
  }
  const ppl = got.ppl;
  const ref = reference.ppl;
  return {
    cosine: na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb),
    maxAbsErr: maxAbs,
    ppl,
    pplReference: ref,
    pplIncreasePct: ppl !== null && ref !== null ? (100 * (ppl - ref)) / ref : null,
  };
}

/** An accuracy target: logits cosine at least `minCosine` and/or perplexity increase at most `maxPplIncreasePct`. */
export interface AccuracyTarget {
  minCosine?: number;
  maxPplIncreasePct?: number;
}

export function meetsTarget(a: Accuracy, t: AccuracyTarget): boolean {
  if (t.minCosine !== undefined && !(a.cosine >= t.minCosine)) return false;
  if (t.maxPplIncreasePct !== undefined && (a.pplIncreasePct === null || !(a.pplIncreasePct <= t.maxPplIncreasePct))) return false;
  return true;
}
