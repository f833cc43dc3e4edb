import { describe, expect, it } from 'vitest';
import { encodeModelToBytes } from '../../src/proto/index.ts';
import { fullModel, nestedGraphModel, smallModel, syntheticModel } from './fixtures.ts';
import { type DecodeMode, mutate, randomBytes, reasonKey, Rng, runCase } from './fuzz-helpers.ts';

/** Every other case also cross-checks a streaming decode against the in-memory one. */
const MODES: readonly DecodeMode[] = ['memory', 'stream', 'memory', 'stream-lazy'];

/**
 * Hang guards, not speed targets: cases take microseconds (the 1M-case fuzz script measured a 37 ms
 * worst case), but CI shares 2 cores with other test files and GC pauses, so the bounds are loose.
 */
const CASE_BOUND_MS = 1000;
const TOTAL_BOUND_MS = 60_000;

describe('bounded decoder fuzz (seeded)', () => {
  const corpus = [
    encodeModelToBytes(smallModel()),
    encodeModelToBytes(fullModel()),
    encodeModelToBytes(syntheticModel(20, 3, 64)),
    nestedGraphModel(99),
  ];

  it('mutated models and random bytes either decode or throw OnnxParseError', () => {
    const rng = new Rng(0x5eed);
    const stats = { ok: 0, parseErrors: 0, maxMs: 0 };
    const reasons = new Map<string, number>();
    const started = performance.now();
    const iterations = 10_000;
    for (let i = 0; i < iterations; i++) {
      const input = i % 10 === 9 ? randomBytes(rng, rng.int(256)) : mutate(rng.pick(corpus), rng, corpus);
      const mode = MODES[i % 4];
      const t0 = performance.now();
      let result;
      try {
        result = runCase(input, mode);
      } catch (e) {
        throw new Error(`case ${i} (${mode}, ${input.length} bytes, ${Buffer.from(input.subarray(0, 64)).toString('hex')}…): ${String(e)}`, { cause: e });
      }
      const ms = performance.now() - t0;
      stats.maxMs = Math.max(stats.maxMs, ms);
      expect(ms, `case ${i} took ${ms.toFixed(1)} ms`).toBeLessThan(CASE_BOUND_MS);
      if (result.kind === 'ok') stats.ok++;
      else {
        stats.parseErrors++;
        const key = reasonKey(result.reason);
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
    }
    const totalMs = performance.now() - started;
    // Both outcomes must be well represented, and many distinct checks must have fired.
    expect(stats.ok).toBeGreaterThan(iterations * 0.05);
    expect(stats.parseErrors).toBeGreaterThan(iterations * 0.3);
    expect(reasons.size).toBeGreaterThan(10);
    expect(totalMs).toBeLessThan(TOTAL_BOUND_MS);
  });
});
