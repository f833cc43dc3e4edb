/**
 * The before/after diff of a pass (or a whole workflow), drawn from provenance: which nodes were
 * fused into which, what was removed and why, what was added, and the rejected candidates
 * ("why not fused"). Selection maps across the two sides through the same records.
 */
import type { IndexedView } from './view.ts';

export type BeforeMark = 'kept' | 'replaced' | 'removed';
export type AfterMark = 'kept' | 'fused' | 'rewritten' | 'added';

export interface ProvenanceRecord {
  node: string;
  opType: string;
  sources: string[];
  passes?: string[];
}

export interface RemovedRecord {
  node: string;
  pass: string;
  reason: string;
}

export interface DiagnosticRecord {
  pass: string;
  rule: string;
  kind: 'rejected' | 'warning' | 'info';
  nodes: string[];
  message: string;
}

export interface DiffInput {
  before: IndexedView;
  after: IndexedView;
  provenance: readonly ProvenanceRecord[];
  removed: readonly RemovedRecord[];
  diagnostics: readonly DiagnosticRecord[];
}

export interface Diff {
  before: Map<string, BeforeMark>;
  after: Map<string, AfterMark>;
  /** After id → the before ids it stands for. */
  sourcesOf: Map<string, string[]>;
  /** Before id → the after ids that stand for it (a node can feed several fusions, e.g. packed QKV and attention). */
  replacedBy: Map<string, string[]>;
  /** Before id → why it is gone. */
  reasons: Map<string, string>;
  /** Before id → rejected-candidate messages anchored on it. */
  whyNot: Map<string, DiagnosticRecord[]>;
  counts: { fused: number; rewritten: number; added: number; removed: number; replaced: number; kept: number };
  /** Op type → new nodes of that type. */
  byOp: Record<string, number>;
  rejected: DiagnosticRecord[];
}

export function computeDiff(input: DiffInput): Diff {
  const { before, after } = input;
  const beforeId = (name: string) => before.nodeByName.get(name)?.id;
  const afterId = (name: string) => after.nodeByName.get(name)?.id;
  const sourcesOf = new Map<string, string[]>();
  const replacedBy = new Map<string, string[]>();
  const afterMarks = new Map<string, AfterMark>();
  const beforeMarks = new Map<string, BeforeMark>();
  const byOp: Record<string, number> = {};
  for (const p of input.provenance) {
    const a = afterId(p.node);
    if (!a) continue;
    const srcs = p.sources.map(beforeId).filter((x): x is string => !!x);
    sourcesOf.set(a, srcs);
    for (const s of srcs) {
      const list = replacedBy.get(s);
      if (list) list.push(a);
      else replacedBy.set(s, [a]);
    }
    afterMarks.set(a, srcs.length >= 2 ? 'fused' : srcs.length === 1 ? 'rewritten' : 'added');
    byOp[p.opType] = (byOp[p.opType] ?? 0) + 1;
  }
  for (const n of after.nodes) {
    if (afterMarks.has(n.id)) continue;
    afterMarks.set(n.id, before.nodeById.has(n.id) ? 'kept' : 'added');
  }
  const reasons = new Map<string, string>();
  for (const r of input.removed) {
    const b = beforeId(r.node);
    if (b && !reasons.has(b)) reasons.set(b, `${r.pass}: ${r.reason}`);
  }
  for (const n of before.nodes) {
    if (replacedBy.has(n.id)) beforeMarks.set(n.id, 'replaced');
    else if (after.nodeById.has(n.id)) beforeMarks.set(n.id, 'kept');
    else beforeMarks.set(n.id, 'removed');
  }
  const rejected = input.diagnostics.filter((d) => d.kind === 'rejected');
  const whyNot = new Map<string, DiagnosticRecord[]>();
  for (const d of rejected) {
    const b = d.nodes.length ? beforeId(d.nodes[0]) ?? afterId(d.nodes[0]) : undefined;
    if (!b) continue;
    const list = whyNot.get(b);
    if (list) list.push(d);
    else whyNot.set(b, [d]);
  }
  const counts = { fused: 0, rewritten: 0, added: 0, removed: 0, replaced: 0, kept: 0 };
  for (const m of afterMarks.values()) if (m !== 'kept') counts[m]++;
  for (const m of beforeMarks.values()) {
    if (m === 'removed') counts.removed++;
    else if (m === 'replaced') counts.replaced++;
    else counts.kept++;
  }
  return { before: beforeMarks, after: afterMarks, sourcesOf, replacedBy, reasons, whyNot, counts, byOp, rejected };
}

/** The ids on the other side that correspond to `id` (a fused node ↔ all its sources). */
export function counterpart(diff: Diff, side: 'before' | 'after', id: string): string[] {
  if (side === 'after') {
    const srcs = diff.sourcesOf.get(id);
    if (srcs && srcs.length) return srcs;
    return diff.before.has(id) ? [id] : [];
  }
  const r = diff.replacedBy.get(id);
  if (r) return r;
  return diff.after.has(id) && diff.after.get(id) === 'kept' ? [id] : [];
}
