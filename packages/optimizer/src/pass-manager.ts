/**
 * Runs an ordered list of passes, repeated to a fixed point, and composes what they report into one
 * record: per-pass timings and stats, fused-op totals, and provenance traced back to the nodes of the
 * model as it was before the first pass.
 */
import type { Model } from '@fuselab/graph-core';
import { resolveParams, type Diagnostic, type Pass, type PassContext, type PassResult, type PassStats, type ProvenanceEntry, type RemovedEntry } from './pass.ts';

export interface PassStep {
  pass: Pass;
  params?: Record<string, unknown>;
}

export interface PassRunRecord {
  name: string;
  /** Fixed-point round (0-based). */
  round: number;
  modified: boolean;
  ms: number;
  nodesBefore: number;
  nodesAfter: number;
  stats: PassStats;
}

export interface OptimizeRecord {
  model: Model;
  nodesBefore: number;
  nodesAfter: number;
  /**
   * Op type → count of the nodes the passes created that are still in the final model (net: a
   * SimplifiedLayerNormalization later absorbed into a Skip* op is not counted).
   */
  fused: Record<string, number>;
  passes: PassRunRecord[];
  /** Every node of the final model that did not exist before, with the original nodes it stands for. */
  provenance: Array<{ node: string; opType: string; sources: string[]; passes: string[] }>;
  /** Original nodes that are gone, and the pass that removed or replaced them. */
  removed: RemovedEntry[];
  diagnostics: Diagnostic[];
  rounds: number;
}

export interface RunPassesOptions extends PassContext {
  /** Repeat the list until no pass modifies the model (default true). */
  fixedPoint?: boolean;
  /** Upper bound on rounds (default 8). */
  maxRounds?: number;
  /**
   * Called after each pass with the model state (for before/after snapshots in the editor), and, with
   * `stepDetails`, that pass's own net result (what a one-step `runPasses` would report).
   */
  onPass?: (record: PassRunRecord, model: Model, step?: PassStepDetail) => void;
  /** Compute `PassStepDetail` for `onPass` (the editor's per-pass diff); off by default. */
  stepDetails?: boolean;
}

/** One pass's net result, relative to the model it received. */
export interface PassStepDetail {
  fused: Record<string, number>;
  provenance: OptimizeRecord['provenance'];
  removed: RemovedEntry[];
  diagnostics: Diagnostic[];
}

type Origin = Map<string, { sources: Set<string>; passes: Set<string> }>;

/** Removals a pass reported, plus the originals its rewrites replaced (both only for nodes in `originals`). */
function removals(r: PassResult, originals: ReadonlySet<string>): RemovedEntry[] {
  const out = r.removed.filter((rm) => originals.has(rm.node));
  for (const p of r.provenance) for (const s of p.sources) if (originals.has(s)) out.push({ node: s, opType: '', pass: p.pass, reason: `replaced by ${p.opType} '${p.node}' (${p.rule})` });
  return out;
}

/** Adds diagnostics not seen before (same pass, rule, nodes and message) to `into`. */
function addDiagnostics(into: Diagnostic[], seen: Set<string>, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) {
    const key = `${d.pass}|${d.rule}|${d.nodes.join(',')}|${d.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      into.push(d);
    }
  }
}

/** New nodes still in `model` with the original nodes they stand for, their op counts, and removals deduplicated. */
function netResult(model: Model, originals: ReadonlySet<string>, origin: Origin, removed: RemovedEntry[]): Pick<PassStepDetail, 'fused' | 'provenance' | 'removed'> {
  const provenance: OptimizeRecord['provenance'] = [];
  const fused: Record<string, number> = {};
  const live = new Map(model.graph.nodes.map((n) => [n.name, n]));
  for (const [node, o] of origin) {
    const n = live.get(node);
    if (!n || originals.has(node)) continue;
    provenance.push({ node, opType: n.opType, sources: [...o.sources].filter((s) => originals.has(s)), passes: [...o.passes] });
    fused[n.opType] = (fused[n.opType] ?? 0) + 1;
  }
  // a removed original may be listed by several passes (replaced, then the replacement folded): keep the first
  const seen = new Set<string>();
  return { provenance, fused, removed: removed.filter((r) => (seen.has(r.node) ? false : (seen.add(r.node), true))) };
}

export function runPasses(model: Model, steps: readonly PassStep[], options: RunPassesOptions = {}): OptimizeRecord {
  const resolved = steps.map((s) => ({ pass: s.pass, params: resolveParams(s.pass, s.params) }));
  const originals = new Set(model.graph.nodes.map((n) => n.name));
  // current node name → original node names it stands for, and the passes that touched it
  const origin: Origin = new Map();
  const record: OptimizeRecord = { model, nodesBefore: model.graph.nodeCount, nodesAfter: 0, fused: {}, passes: [], provenance: [], removed: [], diagnostics: [], rounds: 0 };
  const seenDiag = new Set<string>();
  const maxRounds = options.fixedPoint === false ? 1 : options.maxRounds ?? 8;
  for (let round = 0; round < maxRounds; round++) {
    let anyModified = false;
    for (const { pass, params } of resolved) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('cancelled');
      const before = model.graph.nodeCount;
      const stepOriginals = options.stepDetails ? new Set(model.graph.nodes.map((n) => n.name)) : null;
      const t0 = performance.now();
      const r = pass.run(model, options, params);
      const ms = performance.now() - t0;
      model = r.model;
      record.model = model;
      anyModified ||= r.modified;
      const rec: PassRunRecord = { name: pass.name, round, modified: r.modified, ms, nodesBefore: before, nodesAfter: model.graph.nodeCount, stats: r.stats };
      record.passes.push(rec);
      let detail: PassStepDetail | undefined;
      if (stepOriginals) {
        const stepOrigin: Origin = new Map();
        composeProvenance(stepOrigin, r.provenance);
        const diagnostics: Diagnostic[] = [];
        addDiagnostics(diagnostics, new Set(), r.diagnostics);
        detail = { ...netResult(model, stepOriginals, stepOrigin, removals(r, stepOriginals)), diagnostics };
      }
      options.onPass?.(rec, model, detail);
      composeProvenance(origin, r.provenance);
      record.removed.push(...removals(r, originals));
      addDiagnostics(record.diagnostics, seenDiag, r.diagnostics);
    }
    record.rounds = round + 1;
    if (!anyModified) break;
  }
  record.nodesAfter = model.graph.nodeCount;
  Object.assign(record, netResult(model, originals, origin, record.removed));
  return record;
}

function composeProvenance(origin: Origin, entries: readonly ProvenanceEntry[]): void {
  for (const e of entries) {
    const o = origin.get(e.node) ?? { sources: new Set<string>(), passes: new Set<string>() };
    for (const s of e.sources) {
      const prior = origin.get(s);
      if (prior) {
        prior.sources.forEach((x) => o.sources.add(x));
        prior.passes.forEach((x) => o.passes.add(x));
      } else {
        o.sources.add(s);
      }
    }
    o.passes.add(e.pass);
    origin.set(e.node, o);
  }
}
