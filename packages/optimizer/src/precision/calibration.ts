/**
 * Activation calibration on histograms, in pure TypeScript: a streaming histogram per tensor, and the
 * three ways to turn it into a quantization range — min-max, percentile, and entropy (the KL-divergence
 * search TensorRT popularized: the clipping threshold whose 128-level quantized distribution loses the
 * least information against the observed one).
 *
 * The histogram is signed and symmetric around 0, `[-R, R]` in `bins` equal bins; when a batch brings
 * a larger |x| the range doubles (adjacent bins merge pairwise), so one pass over the data suffices
 * and the result does not depend on how the data was split into batches more than one bin width.
 */

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';
export const CALIBRATION_METHODS: readonly CalibrationMethod[] = ['minmax', 'percentile', 'entropy'];

export interface Range {
  min: number;
  max: number;
}

export class Histogram {
  /** Counts of `[-R + i·w, -R + (i+1)·w)`, `w = 2R / bins`. */
  counts: Float64Array;
  /** Half-width of the covered range (0 until the first non-zero value). */
  range = 0;
  min = Infinity;
  max = -Infinity;
  total = 0;
  /** Non-finite values seen (NaN, ±Inf): they are not binned. */
  nonFinite = 0;

  constructor(readonly bins = 2048) {
    if (bins < 256 || bins % 2) throw new Error(`histogram bins must be an even number ≥ 256, got ${bins}`);
    this.counts = new Float64Array(bins);
  }

  add(data: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    let absMax = 0;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (!Number.isFinite(x)) continue;
      if (x < lo) lo = x;
      if (x > hi) hi = x;
      const a = x < 0 ? -x : x;
      if (a > absMax) absMax = a;
    }
    this.min = lo;
    this.max = hi;
    if (absMax > 0) this.grow(absMax);
    const { bins, counts } = this;
    const r = this.range;
    const inv = r > 0 ? bins / (2 * r) : 0;
    for (let i = 0; i < data.length; i++) {
      const x = data[i];
      if (!Number.isFinite(x)) {
        this.nonFinite++;
        continue;
      }
      let b = r > 0 ? Math.floor((x + r) * inv) : bins / 2;
      if (b >= bins) b = bins - 1;
      if (b < 0) b = 0;
      counts[b]++;
      this.total++;
    }
  }

  /** Widens the range to cover `absMax`, doubling and merging bins pairwise (keeps 0 on a bin edge). */
  private grow(absMax: number): void {
    if (this.range === 0) {
      // first data: a power of two just above absMax, so later doublings stay exact
      // a power of two just above absMax, so later doublings stay exact; earlier data was all
      // exactly 0 and sits in the centre bin, where it stays
      this.range = 2 ** Math.ceil(Math.log2(absMax * (1 + 1e-7)));
      return;
    }
    const { bins } = this;
    while (absMax > this.range) {
      const next = new Float64Array(bins);
      const quarter = bins / 4;
      // bin i of the old [-R, R] lands in bin quarter + floor(i / 2) of [-2R, 2R]
      for (let i = 0; i < bins; i++) next[quarter + (i >> 1)] += this.counts[i];
      this.counts = next;
      this.range *= 2;
    }
  }

  get binWidth(): number {
    return (2 * this.range) / this.bins;
  }

  /** Merges another histogram of the same bin count. */
  merge(other: Histogram): void {
    if (other.bins !== this.bins) throw new Error('cannot merge histograms with different bin counts');
    if (other.total === 0) return;
    this.grow(Math.max(Math.abs(other.min), Math.abs(other.max), other.range));
    const { bins } = this;
    for (let i = 0; i < bins; i++) {
      if (!other.counts[i]) continue;
      const centre = -other.range + (i + 0.5) * other.binWidth;
      const b = Math.min(bins - 1, Math.max(0, Math.floor(((centre + this.range) * bins) / (2 * this.range))));
      this.counts[b] += other.counts[i];
    }
    this.min = Math.min(this.min, other.min);
    this.max = Math.max(this.max, other.max);
    this.total += other.total;
    this.nonFinite += other.nonFinite;
  }

  /** |x| histogram: `bins / 2` bins over `[0, R]`. */
  absCounts(): Float64Array {
    const half = this.bins / 2;
    const out = new Float64Array(half);
    for (let i = 0; i < half; i++) out[i] = this.counts[half + i] + this.counts[half - 1 - i];
    return out;
  }

  /** The value below which a fraction `q` of the data lies (linear within a bin, clamped to [min, max]). */
  quantile(q: number): number {
    if (this.total === 0) return 0;
    const target = q * this.total;
    let acc = 0;
    for (let i = 0; i < this.bins; i++) {
      const c = this.counts[i];
      if (acc + c >= target && c > 0) {
        const x = -this.range + (i + (target - acc) / c) * this.binWidth;
        return Math.min(this.max, Math.max(this.min, x));
      }
      acc += c;
    }
    return this.max;
  }

  /** The |x| below which a fraction `q` of the data lies. */
  absQuantile(q: number): number {
    if (this.total === 0) return 0;
    const abs = this.absCounts();
    const w = this.binWidth;
    const target = q * this.total;
    let acc = 0;
    for (let i = 0; i < abs.length; i++) {
      if (acc + abs[i] >= target && abs[i] > 0) return Math.min(Math.max(Math.abs(this.min), Math.abs(this.max)), (i + (target - acc) / abs[i]) * w);
      acc += abs[i];
    }
    return Math.max(Math.abs(this.min), Math.abs(this.max));
  }
}

export interface RangeOptions {
  method: CalibrationMethod;
  /** Symmetric ranges are `[-t, t]`. */
  symmetric: boolean;
  /** Percentile method: the fraction of values inside the range (default 0.9999). */
  percentile?: number;
  /** Entropy method: quantization levels of the target (default 128, i.e. int8 magnitudes). */
  levels?: number;
}

/** The quantization range a histogram calls for. */
export function calibrateRange(h: Histogram, options: RangeOptions): Range {
  if (h.total === 0) return { min: 0, max: 0 };
  const lo = Math.min(0, h.min);
  const hi = Math.max(0, h.max);
  switch (options.method) {
    case 'minmax':
      return options.symmetric ? sym(Math.max(-lo, hi)) : { min: lo, max: hi };
    case 'percentile': {
      const p = options.percentile ?? 0.9999;
      if (options.symmetric) return sym(h.absQuantile(p));
      return { min: Math.min(0, h.quantile(1 - p)), max: Math.max(0, h.quantile(p)) };
    }
    case 'entropy': {
      const t = entropyThreshold(h.absCounts(), h.binWidth, options.levels ?? 128);
      const absMax = Math.max(-lo, hi);
      const c = Math.min(t, absMax);
      return options.symmetric ? sym(c) : { min: Math.max(lo, -c), max: Math.min(hi, c) };
    }
  }
}

const sym = (t: number): Range => ({ min: -t, max: t });

/**
 * The KL-optimal clipping threshold over an |x| histogram: for each candidate i (≥ `levels` bins),
 * P is the first i bins with the clipped tail added to the last; Q is the first i bins *without* the
 * tail, squeezed into `levels` bins and spread back evenly over P's non-empty bins (so clipping
 * costs what it moves); the i minimizing KL(P‖Q) wins.
 * Candidates are stepped so at most ~512 are tried.
 */
export function entropyThreshold(abs: Float64Array, binWidth: number, levels = 128): number {
  const n = abs.length;
  let last = n - 1;
  while (last > 0 && abs[last] === 0) last--;
  if (last + 1 <= levels) return (last + 1) * binWidth;
  let best = Infinity;
  let bestI = last + 1;
  const p = new Float64Array(n);
  const qv = new Float64Array(n);
  // the tail beyond i, summed once from the right
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + abs[i];
  const step = Math.max(1, Math.floor((last + 1 - levels) / 512));
  for (let i = levels; i <= last + 1; i += step) {
    for (let k = 0; k < i; k++) p[k] = abs[k];
    p[i - 1] += suffix[i];
    // squeeze into `levels` bins: bin j covers [j·i/levels, (j+1)·i/levels)
    for (let j = 0; j < levels; j++) {
      const start = Math.floor((j * i) / levels);
      const end = j === levels - 1 ? i : Math.floor(((j + 1) * i) / levels);
      let sum = 0;
      let nonZero = 0;
      for (let k = start; k < end; k++) {
        sum += abs[k];
        if (p[k] > 0) nonZero++;
      }
      for (let k = start; k < end; k++) qv[k] = p[k] > 0 && nonZero ? sum / nonZero : 0;
    }
    const kl = klDivergence(p, qv, i);
    if (kl < best) {
      best = kl;
      bestI = i;
    }
  }
  return bestI * binWidth;
}

/** KL(P‖Q) of the first `n` bins, both normalized; bins where P > 0 and Q = 0 cost a large finite penalty. */
function klDivergence(p: Float64Array, q: Float64Array, n: number): number {
  let sp = 0;
  let sq = 0;
  for (let k = 0; k < n; k++) {
    sp += p[k];
    sq += q[k];
  }
  if (sp === 0 || sq === 0) return Infinity;
  let kl = 0;
  for (let k = 0; k < n; k++) {
    if (p[k] === 0) continue;
    const pk = p[k] / sp;
    const qk = q[k] / sq;
    kl += qk > 0 ? pk * Math.log(pk / qk) : pk * 20;
  }
  return kl;
}

export interface QuantParams {
  scale: number;
  zeroPoint: number;
  dtype: 'int8' | 'uint8';
}

/** int8 (symmetric, zero point 0) or uint8 (asymmetric) parameters covering `range` (which always includes 0). */
export function quantParams(range: Range, symmetric: boolean): QuantParams {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  if (symmetric) {
    const t = Math.max(-lo, hi);
    return { scale: t > 0 ? t / 127 : 1, zeroPoint: 0, dtype: 'int8' };
  }
  const scale = hi - lo > 0 ? (hi - lo) / 255 : 1;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-lo / scale))), dtype: 'uint8' };
}

/** Signal-to-quantization-noise ratio in dB: 10·log10(Σx² / Σ(x − x̂)²); Infinity when exact. */
export function sqnrDb(x: ArrayLike<number>, xq: ArrayLike<number>): number {
  let s = 0;
  let e = 0;
  for (let i = 0; i < x.length; i++) {
    s += x[i] * x[i];
    const d = x[i] - xq[i];
    e += d * d;
  }
  return e === 0 ? Infinity : 10 * Math.log10(s / e);
}

/**
 * SQNR (dB) of quantizing the histogram's data with `params`, estimated from bin centres: clipping
 * and rounding error both count. What a calibration method trades (clip less, round coarser).
 */
export function histogramSqnrDb(h: Histogram, params: QuantParams): number {
  const [lo, hi] = params.dtype === 'int8' ? [-128, 127] : [0, 255];
  let signal = 0;
  let noise = 0;
  const w = h.binWidth;
  for (let i = 0; i < h.bins; i++) {
    const c = h.counts[i];
    if (!c) continue;
    const x = -h.range + (i + 0.5) * w;
    const q = Math.min(hi, Math.max(lo, Math.round(x / params.scale) + params.zeroPoint));
    const d = x - (q - params.zeroPoint) * params.scale;
    signal += c * x * x;
    noise += c * d * d;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}
