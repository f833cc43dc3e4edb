import { describe, expect, it } from 'vitest';
import { prng } from '@fuselab/gpu-runtime';
import { calibrateRange, entropyThreshold, Histogram, histogramSqnrDb, quantParams, sqnrDb } from '../src/precision/calibration.ts';

/** Standard normal samples (Box–Muller), seeded. */
function gaussian(n: number, seed: number): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()));
}

describe('Histogram', () => {
  it('keeps exact min/max and counts, and grows its range by doubling without losing data', () => {
    const h = new Histogram(512);
    h.add([0, 0, 0]);
    h.add([0.5, -0.25]);
    h.add([100, -3]);
    h.add([NaN, Infinity]);
    expect(h.min).toBe(-3);
    expect(h.max).toBe(100);
    expect(h.total).toBe(7);
    expect(h.nonFinite).toBe(2);
    expect(h.range).toBe(128);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(7);
    // range 1 → 128 by seven doublings, bin width 0.5: -0.25 in [-0.5, 0), the zeros in [0, 0.5),
    // 0.5 in [0.5, 1), 100 in [100, 100.5)
    expect([h.counts[255], h.counts[256], h.counts[257], h.counts[456]]).toEqual([1, 3, 1, 1]);
  });

  it('gives the same ranges (within a bin) whether data comes in one batch or many', () => {
    const data = gaussian(20000, 3);
    const one = new Histogram();
    one.add(data);
    const many = new Histogram();
    for (let i = 0; i < 20; i++) many.add(data.subarray(i * 1000, (i + 1) * 1000));
    for (const method of ['minmax', 'percentile', 'entropy'] as const) {
      const a = calibrateRange(one, { method, symmetric: true });
      const b = calibrateRange(many, { method, symmetric: true });
      expect(Math.abs(a.max - b.max), method).toBeLessThanOrEqual(2 * Math.max(one.binWidth, many.binWidth));
    }
  });

  it('merges histograms', () => {
    const a = new Histogram(256);
    const b = new Histogram(256);
    a.add([1, 2, 3]);
    b.add([-50, 7]);
    a.merge(b);
    expect([a.min, a.max, a.total]).toEqual([-50, 7, 5]);
    expect(a.counts.reduce((x, y) => x + y, 0)).toBe(5);
  });
});

describe('calibrateRange', () => {
  // a Gaussian body with a few large outliers: the case the three methods disagree on
  const body = gaussian(50000, 7);
  const data = Float32Array.from([...body, 40, -35, 38]);
  const h = new Histogram();
  h.add(data);

  it('minmax is the exact extremes (asymmetric) or the larger magnitude (symmetric)', () => {
    expect(calibrateRange(h, { method: 'minmax', symmetric: false })).toEqual({ min: -35, max: 40 });
    expect(calibrateRange(h, { method: 'minmax', symmetric: true })).toEqual({ min: -40, max: 40 });
  });

  it('percentile clips the outliers: 99.99% of |x| lies below ~3.9σ', () => {
    const r = calibrateRange(h, { method: 'percentile', symmetric: true, percentile: 0.9999 });
    expect(r.max).toBeGreaterThan(3.3);
    expect(r.max).toBeLessThan(4.8);
    // compare with the exact order statistic of the data
    const sorted = Float64Array.from(data, Math.abs).sort();
    expect(Math.abs(r.max - sorted[Math.floor(0.9999 * sorted.length)])).toBeLessThan(2 * h.binWidth);
  });

  it('entropy picks a threshold inside the body, far below the outliers', () => {
    const r = calibrateRange(h, { method: 'entropy', symmetric: true });
    expect(r.max).toBeGreaterThan(2);
    expect(r.max).toBeLessThan(20);
  });

  it('entropy keeps the full range of uniform data (nothing to clip)', () => {
    const r = prng(11);
    const u = new Histogram();
    u.add(Float32Array.from({ length: 50000 }, () => r() * 2 - 1));
    const t = calibrateRange(u, { method: 'entropy', symmetric: true }).max;
    expect(t).toBeGreaterThan(0.9);
    expect(t).toBeLessThanOrEqual(1);
  });

  it('entropy on a histogram narrower than the target levels keeps everything', () => {
    const abs = new Float64Array(1024);
    abs.fill(1, 0, 100);
    expect(entropyThreshold(abs, 0.01, 128)).toBeCloseTo(1, 10);
  });
});

describe('quantParams and SQNR', () => {
  it('symmetric int8 uses ±127 with zero point 0; asymmetric uint8 covers [min, max] including 0', () => {
    expect(quantParams({ min: -2, max: 1 }, true)).toEqual({ scale: 2 / 127, zeroPoint: 0, dtype: 'int8' });
    const p = quantParams({ min: -1, max: 3 }, false);
    expect(p.dtype).toBe('uint8');
    expect(p.scale).toBeCloseTo(4 / 255, 12);
    expect(p.zeroPoint).toBe(64);
    expect(quantParams({ min: 1, max: 3 }, false).zeroPoint).toBe(0); // range widened to include 0
  });

  it('SQNR of an 8-bit uniform quantizer on uniform data is ~6 dB per bit', () => {
    const r = prng(5);
    const x = Float32Array.from({ length: 10000 }, () => r() * 2 - 1);
    const s = 1 / 127;
    const xq = x.map((v) => Math.round(v / s) * s);
    expect(sqnrDb(x, xq)).toBeGreaterThan(45);
    expect(sqnrDb(x, xq)).toBeLessThan(50);
    expect(sqnrDb(x, x)).toBe(Infinity);
  });
});

describe('histogramSqnrDb', () => {
  it('agrees with the SQNR of actually quantizing the data, and counts clipping error', () => {
    const data = Float32Array.from([...gaussian(50000, 9), 40, -35]);
    const h = new Histogram();
    h.add(data);
    for (const method of ['minmax', 'percentile'] as const) {
      const p = quantParams(calibrateRange(h, { method, symmetric: true }), true);
      const xq = data.map((v) => (Math.min(127, Math.max(-128, Math.round(v / p.scale))) * p.scale));
      expect(Math.abs(histogramSqnrDb(h, p) - sqnrDb(data, xq)), method).toBeLessThan(1.5);
    }
    const mm = histogramSqnrDb(h, quantParams(calibrateRange(h, { method: 'minmax', symmetric: true }), true));
    const pc = histogramSqnrDb(h, quantParams(calibrateRange(h, { method: 'percentile', symmetric: true }), true));
    // two outliers clipped by ~35 dominate the squared error: by SQNR alone min-max wins here, while
    // on kjv-llama percentile gave the better perplexity; both figures are reported, neither decides alone
    expect(pc).toBeLessThan(mm);
  });
});
