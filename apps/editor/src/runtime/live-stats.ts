/**
 * Generation stats while tokens stream in (before the runtime's final `done` stats arrive): TTFT,
 * prefill and decode tok/s and inter-token percentiles from the token timestamps. The runtime's own
 * numbers replace these when the run ends.
 */
import type { GenerateStats } from '@fuselab/gpu-runtime';

export interface LiveStats {
  promptTokens: number;
  tokens: number;
  ttftMs: number | null;
  prefillTokPerSec: number | null;
  decodeTokPerSec: number | null;
  interTokenMs: { p50: number; p95: number } | null;
  gpuMemoryBytes: number | null;
  /** True once the runtime's final stats replaced the live estimate. */
  final: boolean;
}

export const EMPTY_LIVE: LiveStats = { promptTokens: 0, tokens: 0, ttftMs: null, prefillTokPerSec: null, decodeTokPerSec: null, interTokenMs: null, gpuMemoryBytes: null, final: false };

function percentile(sorted: number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0;
}

/** Stats from the token timestamps so far (ms since the prompt went in), as the runtime computes them. */
export function liveStats(promptTokens: number, tokenTimes: readonly number[]): LiveStats {
  if (!tokenTimes.length) return { ...EMPTY_LIVE, promptTokens };
  const ttft = tokenTimes[0];
  const steps: number[] = [];
  for (let i = 1; i < tokenTimes.length; i++) steps.push(tokenTimes[i] - tokenTimes[i - 1]);
  const decodeMs = steps.reduce((a, b) => a + b, 0);
  const sorted = [...steps].sort((a, b) => a - b);
  return {
    promptTokens,
    tokens: tokenTimes.length,
    ttftMs: ttft,
    prefillTokPerSec: ttft > 0 ? (promptTokens * 1000) / ttft : null,
    decodeTokPerSec: decodeMs > 0 ? (steps.length * 1000) / decodeMs : null,
    interTokenMs: steps.length ? { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95) } : null,
    gpuMemoryBytes: null,
    final: false,
  };
}

/** The runtime's final stats in the same shape. */
export function finalStats(s: GenerateStats): LiveStats {
  return {
    promptTokens: s.promptTokens,
    tokens: s.generatedTokens,
    ttftMs: s.ttftMs,
    prefillTokPerSec: s.prefillTokPerSec,
    decodeTokPerSec: s.generatedTokens > 1 ? s.decodeTokPerSec : null,
    interTokenMs: s.generatedTokens > 1 ? { p50: s.interTokenMs.p50, p95: s.interTokenMs.p95 } : null,
    gpuMemoryBytes: s.gpuMemory ? s.gpuMemory.peakBytes : null,
    final: true,
  };
}

/** b relative to a (e.g. 1.8 for "1.8× faster"); null when either is missing. */
export function ratio(a: number | null, b: number | null): number | null {
  return a && b && a > 0 ? b / a : null;
}
