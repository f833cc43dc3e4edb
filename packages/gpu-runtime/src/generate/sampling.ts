/**
 * Next-token selection from one row of logits: greedy, or seeded sampling with temperature, top-k,
 * top-p (nucleus), min-p and a repetition penalty, applied in the order Hugging Face's
 * `generate` applies them (penalty → temperature → top-k → top-p → min-p). The same seed and
 * logits give the same tokens on every host.
 */
import { prng } from '../ort/inputs.ts';

export interface SamplingOptions {
  /** 0 (default) means greedy: always the most likely token. */
  temperature?: number;
  /** Keep only the k most likely tokens (0: no limit). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1: no limit). */
  topP?: number;
  /** Drop tokens less likely than minP × the most likely one (0: no limit). */
  minP?: number;
  /** > 1 makes tokens already in the context less likely (CTRL-style; 1: off). */
  repetitionPenalty?: number;
  /** Seed of the sampler's PRNG (mulberry32). */
  seed?: number;
}

export class SamplingOptionsError extends RangeError {
  readonly code = 'SAMPLING_OPTIONS';
}

/** Checks ranges and fills defaults; throws SamplingOptionsError naming the field. */
export function normalizeSampling(o: SamplingOptions = {}): Required<SamplingOptions> {
  const s = { temperature: o.temperature ?? 0, topK: o.topK ?? 0, topP: o.topP ?? 1, minP: o.minP ?? 0, repetitionPenalty: o.repetitionPenalty ?? 1, seed: o.seed ?? 0 };
  const bad = (field: string, v: number, range: string) => { throw new SamplingOptionsError(`sampling option ${field} = ${v}: must be ${range}`); };
  if (!(s.temperature >= 0) || !Number.isFinite(s.temperature)) bad('temperature', s.temperature, '≥ 0 (0 = greedy)');
  if (!Number.isInteger(s.topK) || s.topK < 0) bad('topK', s.topK, 'an integer ≥ 0');
  if (!(s.topP > 0 && s.topP <= 1)) bad('topP', s.topP, 'in (0, 1]');
  if (!(s.minP >= 0 && s.minP < 1)) bad('minP', s.minP, 'in [0, 1)');
  if (!(s.repetitionPenalty > 0) || !Number.isFinite(s.repetitionPenalty)) bad('repetitionPenalty', s.repetitionPenalty, '> 0');
  if (!Number.isInteger(s.seed)) bad('seed', s.seed, 'an integer');
  return s;
}

/** Index of the largest value (the first on ties, like torch.argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** A stateful sampler: one per generation (its PRNG advances with each sampled token). */
export class Sampler {
  readonly options: Required<SamplingOptions>;
  private readonly random: () => number;

  constructor(options: SamplingOptions = {}) {
    this.options = normalizeSampling(options);
    this.random = prng(this.options.seed);
  }

  get greedy(): boolean {
    return this.options.temperature === 0;
  }

  /**
   * Picks the next token from `logits` (one vocabulary row; not modified). `context` is the ids
   * seen so far (prompt + generated), used by the repetition penalty.
   */
  next(logits: Float32Array, context: readonly number[] = []): number {
    const { temperature, topK, topP, minP, repetitionPenalty } = this.options;
    let row = logits;
    if (repetitionPenalty !== 1 && context.length) {
      row = Float32Array.from(logits);
      for (const id of new Set(context)) {
        if (id < 0 || id >= row.length) continue;
        row[id] = row[id] > 0 ? row[id] / repetitionPenalty : row[id] * repetitionPenalty;
      }
    }
    if (temperature === 0) return argmax(row);
    // candidates, most likely first (ties by lower id, so results don't depend on sort stability)
    let ids = topK > 0 && topK < row.length ? topKIndices(row, topK) : Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b);
    const max = row[ids[0]];
    let weights = ids.map((i) => Math.exp((row[i] - max) / temperature));
    let total = weights.reduce((a, b) => a + b, 0);
    if (topP < 1) {
      let acc = 0;
      let keep = ids.length;
      for (let j = 0; j < ids.length; j++) {
        acc += weights[j] / total;
        if (acc >= topP) { keep = j + 1; break; }
      }
      ids = ids.slice(0, keep);
      weights = weights.slice(0, keep);
      total = weights.reduce((a, b) => a + b, 0);
    }
    if (minP > 0) {
      // weights[0] is the most likely token's (unnormalized) probability
      const cut = minP * weights[0];
      const keep = weights.findIndex((w) => w < cut);
      if (keep > 0) {
        ids = ids.slice(0, keep);
        weights = weights.slice(0, keep);
        total = weights.reduce((a, b) => a + b, 0);
      }
    }
    let r = this.random() * total;
    for (let j = 0; j < ids.length; j++) {
      r -= weights[j];
      if (r < 0) return ids[j];
    }
    return ids[ids.length - 1];
  }
}

/** The k largest entries' indices, largest first (ties: lower index first). O(n log k). */
function topKIndices(row: Float32Array, k: number): number[] {
  const heap: number[] = []; // min-heap by (value, -index)
  const less = (a: number, b: number) => row[a] < row[b] || (row[a] === row[b] && a > b);
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]];
      i = p;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l], heap[m])) m = l;
      if (r < heap.length && less(heap[r], heap[m])) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let i = 0; i < row.length; i++) {
    if (heap.length < k) { heap.push(i); up(heap.length - 1); }
    else if (less(heap[0], i)) { heap[0] = i; down(0); }
  }
  return heap.sort((a, b) => row[b] - row[a] || a - b);
}
