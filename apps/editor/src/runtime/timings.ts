/**
 * Per-layer timings from a playground run, shaped for the UI: the top nodes by decode time for the
 * timing bars, and the roll-back onto the SOURCE graph for the heatmap overlay (a fused node's time
 * split evenly among the source nodes it replaced). Pure: no React, no store.
 */
import type { LayerTimings, NodeTiming } from '@fuselab/gpu-runtime';

export interface TimingBar {
  node: string;
  opType: string;
  decodeMs: number;
  prefillMs: number;
  /** Share of the step's decode time, 0..1. */
  share: number;
  /** Source-graph nodes this one stands for (empty when it is one itself). */
  sources: string[];
  /** ms per token on the GPU ('gpu') or host-side kernel time ('kernel'). */
  source: NodeTiming['source'];
}

/** The `n` nodes with the most decode time per token, largest first. */
export function topNodes(t: LayerTimings, n = 12): TimingBar[] {
  const total = t.decodeMs > 0 ? t.decodeMs : t.nodes.reduce((a, x) => a + x.decodeMs, 0);
  return [...t.nodes]
    .sort((a, b) => b.decodeMs - a.decodeMs || b.prefillMs - a.prefillMs)
    .slice(0, n)
    .map((x) => ({
      node: x.node, opType: x.opType, decodeMs: x.decodeMs, prefillMs: x.prefillMs,
      share: total > 0 ? x.decodeMs / total : 0,
      sources: x.sources.length === 1 && x.sources[0] === x.node ? [] : x.sources,
      source: x.source,
    }));
}

/** Time per op type (fused ops included), largest first: what the engine spends its step on. */
export function byOpType(t: LayerTimings): Array<{ opType: string; decodeMs: number; count: number }> {
  const acc = new Map<string, { decodeMs: number; count: number }>();
  for (const x of t.nodes) {
    const a = acc.get(x.opType) ?? { decodeMs: 0, count: 0 };
    a.decodeMs += x.decodeMs;
    a.count++;
    acc.set(x.opType, a);
  }
  return [...acc].map(([opType, a]) => ({ opType, ...a })).sort((a, b) => b.decodeMs - a.decodeMs);
}

/**
 * Decode ms per node of the graph the heatmap is drawn on. `onSources` (the source graph): each
 * engine node's time split evenly among its sources, so blocks roll up to the engine's real time.
 * Otherwise (the heatmap is on the engine's own graph): node → its time as measured.
 * `known` restricts the result to names that exist in the drawn graph (onnxruntime's own fused
 * nodes have names the editor has never seen; their time is reported in `unmatchedMs`).
 */
export function timingHeat(t: LayerTimings, options: { onSources: boolean; known?: (name: string) => boolean }): { values: Map<string, number>; unmatchedMs: number } {
  const values = new Map<string, number>();
  let unmatchedMs = 0;
  const add = (name: string, ms: number) => {
    if (options.known && !options.known(name)) { unmatchedMs += ms; return; }
    values.set(name, (values.get(name) ?? 0) + ms);
  };
  for (const x of t.nodes) {
    if (options.onSources && x.sources.length) {
      const known = options.known ? x.sources.filter(options.known) : x.sources;
      if (!known.length) { unmatchedMs += x.decodeMs; continue; }
      const share = x.decodeMs / known.length;
      for (const s of known) values.set(s, (values.get(s) ?? 0) + share);
    } else add(x.node, x.decodeMs);
  }
  return { values, unmatchedMs };
}
