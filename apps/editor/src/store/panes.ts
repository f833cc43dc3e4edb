/** A graph pane: one model view, its hierarchy, what is expanded, the visible graph and its layout. */
import { ancestorsOf, buildHierarchy, defaultExpanded, rollup, visibleGraph, type Hierarchy, type VisibleGraph } from '../model/hierarchy.ts';
import type { LayoutResult } from '../layout/layout.ts';
import type { IndexedView } from '../model/view.ts';

export type PaneId = 'main' | 'before' | 'after';

export interface LayoutState {
  state: 'idle' | 'running' | 'done' | 'cancelled' | 'error';
  done: number;
  total: number;
  ms?: number;
  message?: string;
}

export interface PaneState {
  view: IndexedView | null;
  hierarchy: Hierarchy | null;
  expanded: ReadonlySet<string>;
  visible: VisibleGraph | null;
  layout: LayoutResult | null;
  /** The visible graph `layout` was computed for (the canvas pairs them). */
  laidOut: VisibleGraph | null;
  layoutState: LayoutState;
  /** Selected node or block id. */
  selected: string | null;
  /** Ids to outline (search hits, the counterpart of a selection on the other side). */
  highlighted: ReadonlySet<string>;
  /** Diff marks: node id → mark; blocks get counts. */
  marks: ReadonlyMap<string, string> | null;
  markRollup: ReadonlyMap<string, Record<string, number>> | null;
  /** Heatmap overlay: item id → value (blocks roll up their nodes). */
  heat: ReadonlyMap<string, number> | null;
  /** Bumped to ask the canvas to bring `id` into view. */
  focus: { id: string; n: number } | null;
}

export const emptyPane = (): PaneState => ({
  view: null, hierarchy: null, expanded: new Set(), visible: null, layout: null, laidOut: null,
  layoutState: { state: 'idle', done: 0, total: 0 }, selected: null, highlighted: new Set(),
  marks: null, markRollup: null, heat: null, focus: null,
});

/** A pane showing `view`, with the default blocks open. */
export function paneFor(view: IndexedView, hideConstants = true): PaneState {
  const hierarchy = buildHierarchy(view, { hideConstants });
  const expanded = defaultExpanded(hierarchy);
  return { ...emptyPane(), view, hierarchy, expanded, visible: visibleGraph(view, hierarchy, expanded) };
}

export function withExpanded(p: PaneState, expanded: ReadonlySet<string>): PaneState {
  if (!p.view || !p.hierarchy) return p;
  return { ...p, expanded, visible: visibleGraph(p.view, p.hierarchy, expanded) };
}

/** Expands the blocks above `ids` so they are visible. */
export function reveal(p: PaneState, ids: readonly string[]): PaneState {
  if (!p.hierarchy) return p;
  const next = new Set(p.expanded);
  let changed = false;
  for (const id of ids) for (const g of ancestorsOf(p.hierarchy, id)) if (!next.has(g)) { next.add(g); changed = true; }
  return changed ? withExpanded(p, next) : p;
}

/** Per-block counts of the marks of the nodes inside. */
export function rollupMarks(h: Hierarchy, marks: ReadonlyMap<string, string>): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const [node, m] of marks) {
    if (m === 'kept') continue;
    let g = h.parentOf.get(node);
    while (g !== undefined) {
      const r = out.get(g) ?? {};
      r[m] = (r[m] ?? 0) + 1;
      out.set(g, r);
      g = h.groups.get(g)?.parent ?? undefined;
    }
  }
  return out;
}

/** Heat values for items: nodes by id, blocks as the sum of what they hold. */
export function heatFor(p: PaneState, perNodeName: ReadonlyMap<string, number>): Map<string, number> {
  if (!p.view || !p.hierarchy) return new Map();
  const byId = new Map<string, number>();
  for (const [name, x] of perNodeName) {
    const n = p.view.nodeByName.get(name);
    if (n) byId.set(n.id, x);
  }
  const out = rollup(p.hierarchy, byId);
  for (const [k, v] of byId) out.set(k, v);
  return out;
}
