/**
 * Runs a workflow with the optimizer's `runPasses` and keeps every step's own record (its provenance,
 * removals and diagnostics: what the per-pass diff draws) beside the whole run's (provenance traced
 * back to the original model's nodes).
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
  /** Ops a precision step quantized (`stats.quantized` of quantize-qdq / quantize-matmul-nbits). */
  quantized: Record<string, number>;
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
  const records: StepRecord[] = [];
  // the pass manager reports each pass's own net result (stepDetails) beside the composed whole-run record
  const r = runPasses(model, steps, {
    fixedPoint: options.fixedPoint,
    maxRounds: options.maxRounds,
    signal: options.signal,
    stepDetails: true,
    onPass: (run, m, detail) => {
      if (!detail) throw new Error('runPasses gave no step detail');
      const seq = records.length;
      // every enabled step runs once per round, in order
      const rec: StepRecord = {
        seq, round: run.round, step: seq - run.round * steps.length, pass: run.name, modified: run.modified, ms: run.ms,
        nodesBefore: run.nodesBefore, nodesAfter: run.nodesAfter, fused: detail.fused, quantized: countsOf(run.stats.quantized), provenance: detail.provenance, removed: detail.removed, diagnostics: detail.diagnostics,
      };
      records.push(rec);
      options.onStep?.(rec, m);
    },
  });
  return {
    model: r.model,
    record: {
      steps: records, nodesBefore: r.nodesBefore, nodesAfter: r.nodesAfter, rounds: r.rounds, fused: r.fused,
      provenance: r.provenance, removed: r.removed, diagnostics: r.diagnostics, ms: performance.now() - t0,
    },
  };
}

function countsOf(x: unknown): Record<string, number> {
  return x && typeof x === 'object' ? Object.fromEntries(Object.entries(x as Record<string, unknown>).filter(([, v]) => typeof v === 'number' && v > 0)) as Record<string, number> : {};
}

/** The per-node stat line of a pass node: what it quantized, else fused, else removed. */
export function describeStep(a: { fused: Record<string, number>; quantized: Record<string, number>; before: number; after: number }): string {
  const q = Object.entries(a.quantized).map(([op, n]) => `${n} ${op}`);
  if (q.length) return `quantized ${q.join(', ')}`;
  const removed = a.before - a.after;
  return describeFused(a.fused) || (removed > 0 ? `removed ${removed} nodes` : 'no change');
}

/** "fused 8 SkipSimplifiedLayerNormalization, 4 GroupQueryAttention" — the per-node stat line. */
export function describeFused(fused: Record<string, number>): string {
  const parts = Object.entries(fused).sort((a, b) => b[1] - a[1]).map(([op, n]) => `${n} ${op}`);
  return parts.length ? `fused ${parts.join(', ')}` : '';
}
