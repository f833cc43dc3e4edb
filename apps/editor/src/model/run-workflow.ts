/**
 * Runs a workflow step by step so that every step has its own record (its provenance, removals and
 * diagnostics: what the per-pass diff draws), and composes them the way the optimizer's `runPasses`
 * does for the whole run (provenance traced back to the original model's nodes). Each step is one
 * `runPasses` call; the fixed-point loop is the same as the pass manager's.
 */
import type { Model } from '@fuselab/graph-core';
import { runPasses, type Diagnostic, type PassStep, type RemovedEntry } from '@fuselab/optimizer';
import type { ProvenanceRecord } from './diff.ts';

export interface StepRecord {
  /** Position in the run (0-based, across rounds). */
  seq: number;
  round: number;
  /** Index of the step in the workflow's enabled steps. */
  step: number;
  pass: string;
  modified: boolean;
  ms: number;
  nodesBefore: number;
  nodesAfter: number;
  fused: Record<string, number>;
  provenance: ProvenanceRecord[];
  removed: RemovedEntry[];
  diagnostics: Diagnostic[];
}

export interface WorkflowRunRecord {
  steps: StepRecord[];
  nodesBefore: number;
  nodesAfter: number;
  rounds: number;
  fused: Record<string, number>;
  provenance: ProvenanceRecord[];
  removed: RemovedEntry[];
  diagnostics: Diagnostic[];
  ms: number;
}

export interface RunWorkflowOptions {
  fixedPoint?: boolean;
  maxRounds?: number;
  signal?: AbortSignal;
  /** After each step, with the model as it is then. */
  onStep?: (record: StepRecord, model: Model) => void;
}

export function runWorkflow(model: Model, steps: readonly PassStep[], options: RunWorkflowOptions = {}): { model: Model; record: WorkflowRunRecord } {
  const t0 = performance.now();
  const originals = new Set(model.graph.nodes.map((n) => n.name));
  const origin = new Map<string, { sources: Set<string>; passes: Set<string> }>();
  const record: WorkflowRunRecord = { steps: [], nodesBefore: model.graph.nodeCount, nodesAfter: 0, rounds: 0, fused: {}, provenance: [], removed: [], diagnostics: [], ms: 0 };
  const seenDiag = new Set<string>();
  const maxRounds = options.fixedPoint === false ? 1 : options.maxRounds ?? 8;
  for (let round = 0; round < maxRounds; round++) {
    let any = false;
    for (let i = 0; i < steps.length; i++) {
      if (options.signal?.aborted) throw new Error('cancelled');
      const r = runPasses(model, [steps[i]], { fixedPoint: false, signal: options.signal });
      model = r.model;
      const run = r.passes[0];
      any ||= run.modified;
      const rec: StepRecord = {
        seq: record.steps.length, round, step: i, pass: steps[i].pass.name, modified: run.modified, ms: run.ms,
        nodesBefore: run.nodesBefore, nodesAfter: run.nodesAfter, fused: r.fused, provenance: r.provenance, removed: r.removed, diagnostics: r.diagnostics,
      };
      record.steps.push(rec);
      compose(origin, r.provenance);
      for (const rm of r.removed) if (originals.has(rm.node)) record.removed.push(rm);
      for (const d of r.diagnostics) {
        const key = `${d.pass}|${d.rule}|${d.nodes.join(',')}|${d.message}`;
        if (!seenDiag.has(key)) { seenDiag.add(key); record.diagnostics.push(d); }
      }
      options.onStep?.(rec, model);
    }
    record.rounds = round + 1;
    if (!any) break;
  }
  record.nodesAfter = model.graph.nodeCount;
  for (const n of model.graph.nodes) {
    if (originals.has(n.name)) continue;
    const o = origin.get(n.name);
    if (!o) continue;
    record.provenance.push({ node: n.name, opType: n.opType, sources: [...o.sources].filter((s) => originals.has(s)), passes: [...o.passes] });
    record.fused[n.opType] = (record.fused[n.opType] ?? 0) + 1;
  }
  const seen = new Set<string>();
  record.removed = record.removed.filter((r) => (seen.has(r.node) ? false : (seen.add(r.node), true)));
  record.ms = performance.now() - t0;
  return { model, record };
}

function compose(origin: Map<string, { sources: Set<string>; passes: Set<string> }>, entries: readonly ProvenanceRecord[]): void {
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
    for (const p of e.passes ?? []) o.passes.add(p);
    origin.set(e.node, o);
  }
}

/** "fused 8 SkipSimplifiedLayerNormalization, 4 GroupQueryAttention" — the per-node stat line. */
export function describeFused(fused: Record<string, number>): string {
  const parts = Object.entries(fused).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${n} ${op}`);
  return parts.length ? `fused ${parts.join(', ')}` : '';
}
