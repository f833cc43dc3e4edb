/**
 * Layer hierarchy, after Model Explorer: nodes are grouped into blocks by the name scope exporters
 * write (`/model/layers.3/self_attn/q_proj/MatMul`, `/transformer/h.3/attn/...`). Blocks are
 * collapsed or expanded; the visible graph (leaves, collapsed blocks, frames of expanded blocks and
 * the edges between what is visible) is computed here, as plain data, for the layout worker.
 */
import type { IndexedView, ViewNode } from './view.ts';

export interface GroupNode {
  /** `g:` + scope path (`g:model/layers.3`); the root is `g:`. */
  id: string;
  label: string;
  parent: string | null;
  depth: number;
  /** Child group ids, in graph order. */
  groups: string[];
  /** Node ids directly in this group, in graph order. */
  leaves: string[];
  /** Leaves in this group and all descendants. */
  size: number;
  /** Op type → count, over all descendants. */
  opCounts: Record<string, number>;
}

export interface Hierarchy {
  root: GroupNode;
  groups: Map<string, GroupNode>;
  /** Node id → the group that directly holds it. Hidden nodes are absent. */
  parentOf: Map<string, string>;
  /** Nodes left out of the drawing (Constant ops when constants are hidden). */
  hidden: Set<string>;
}

export const ROOT = 'g:';

/** The scope path of a node: `/model/layers.3/self_attn/MatMul` → `['model', 'layers.3', 'self_attn']`. */
export function scopeOf(node: Pick<ViewNode, 'name' | 'kind'>): string[] {
  if (node.kind !== 'op' || !node.name.startsWith('/')) return [];
  const parts = node.name.split('/').filter(Boolean);
  parts.pop();
  return parts;
}

export interface HierarchyOptions {
  /** Leave Constant nodes out of the drawing (Netron's default); they show as node inputs. */
  hideConstants?: boolean;
}

export function buildHierarchy(view: IndexedView, options: HierarchyOptions = {}): Hierarchy {
  const hideConstants = options.hideConstants ?? true;
  const root: GroupNode = { id: ROOT, label: view.summary.file.split('/').pop() ?? 'model', parent: null, depth: 0, groups: [], leaves: [], size: 0, opCounts: {} };
  const groups = new Map<string, GroupNode>([[ROOT, root]]);
  const parentOf = new Map<string, string>();
  const hidden = new Set<string>();
  for (const n of view.nodes) {
    if (hideConstants && n.kind === 'op' && n.op === 'Constant' && n.domain === '') {
      hidden.add(n.id);
      continue;
    }
    let g = root;
    let path = '';
    for (const seg of scopeOf(n)) {
      path = path ? `${path}/${seg}` : seg;
      const id = `g:${path}`;
      let child = groups.get(id);
      if (!child) {
        child = { id, label: seg, parent: g.id, depth: g.depth + 1, groups: [], leaves: [], size: 0, opCounts: {} };
        groups.set(id, child);
        g.groups.push(id);
      }
      g = child;
    }
    g.leaves.push(n.id);
    parentOf.set(n.id, g.id);
    for (let a: GroupNode | undefined = g; a; a = a.parent === null ? undefined : groups.get(a.parent)) {
      a.size++;
      if (n.kind === 'op') a.opCounts[n.op] = (a.opCounts[n.op] ?? 0) + 1;
    }
  }
  // a block of one node is just that node: hoist it into the parent, where the block was
  const dissolve = (g: GroupNode): void => {
    for (const cid of [...g.groups]) dissolve(groups.get(cid) as GroupNode);
    if (g.parent === null || g.size !== 1) return;
    const parent = groups.get(g.parent) as GroupNode;
    const leaf = g.leaves[0];
    parent.groups = parent.groups.filter((x) => x !== g.id);
    parent.leaves.push(leaf);
    parentOf.set(leaf, parent.id);
    groups.delete(g.id);
  };
  dissolve(root);
  return { root, groups, parentOf, hidden };
}

/** Group ids from the root down to the group holding `nodeId` (all must be expanded to see it). */
export function ancestorsOf(h: Hierarchy, nodeOrGroupId: string): string[] {
  const out: string[] = [];
  let g = h.groups.get(nodeOrGroupId)?.parent ?? h.parentOf.get(nodeOrGroupId) ?? null;
  while (g !== null) {
    out.push(g);
    g = h.groups.get(g)?.parent ?? null;
  }
  return out.reverse();
}

/**
 * The blocks to open first: breadth first from the root, a block opens while the number of visible
 * items stays within `limit` (a 32-layer Llama opens `model` and shows its 32 layers closed).
 */
export function defaultExpanded(h: Hierarchy, limit = 48): Set<string> {
  const expanded = new Set<string>([ROOT]);
  let visible = h.root.groups.length + h.root.leaves.length;
  const queue = [...h.root.groups];
  while (queue.length) {
    const g = h.groups.get(queue.shift() as string) as GroupNode;
    const next = visible - 1 + g.groups.length + g.leaves.length;
    // the only block of its parent (`/model` holding everything) always opens
    const isOnlyBlock = g.parent !== null && (h.groups.get(g.parent) as GroupNode).groups.length === 1;
    if (next > limit && !(isOnlyBlock && next <= limit * 3)) continue;
    expanded.add(g.id);
    visible = next;
    queue.push(...g.groups);
  }
  return expanded;
}

/** Every group expanded (the whole graph, leaf by leaf). */
export function allExpanded(h: Hierarchy): Set<string> {
  return new Set(h.groups.keys());
}

export type VisibleKind = 'node' | 'block' | 'frame';

export interface VisibleItem {
  id: string;
  kind: VisibleKind;
  /** Enclosing frame (an expanded group) or null at the top. */
  parent: string | null;
  depth: number;
}

export interface VisibleEdge {
  source: string;
  target: string;
  /** The first value carried (for the edge label), and how many values the edge bundles. */
  value: string;
  count: number;
}

/** Input to the layout: leaves have a size; expanded groups have children. */
export interface LayoutTreeNode {
  id: string;
  w: number;
  h: number;
  children?: LayoutTreeNode[];
}

export interface VisibleGraph {
  items: VisibleItem[];
  itemById: Map<string, VisibleItem>;
  /** Node id → the visible item standing for it (itself, or its nearest collapsed block). */
  repOf: Map<string, string>;
  edges: VisibleEdge[];
  tree: LayoutTreeNode[];
}

export const NODE_W = 168;
export const NODE_H = 40;
export const IO_H = 30;
export const BLOCK_W = 200;
export const BLOCK_H = 56;

export function visibleGraph(view: IndexedView, h: Hierarchy, expanded: ReadonlySet<string>): VisibleGraph {
  const items: VisibleItem[] = [];
  const itemById = new Map<string, VisibleItem>();
  const repOf = new Map<string, string>();
  const push = (it: VisibleItem) => { items.push(it); itemById.set(it.id, it); };
  const walk = (g: GroupNode, parent: string | null, depth: number): LayoutTreeNode[] => {
    const out: LayoutTreeNode[] = [];
    for (const cid of g.groups) {
      const c = h.groups.get(cid) as GroupNode;
      if (expanded.has(c.id)) {
        push({ id: c.id, kind: 'frame', parent, depth });
        out.push({ id: c.id, w: 0, h: 0, children: walk(c, c.id, depth + 1) });
      } else {
        push({ id: c.id, kind: 'block', parent, depth });
        markRep(c, c.id);
        out.push({ id: c.id, w: BLOCK_W, h: BLOCK_H });
      }
    }
    for (const leaf of g.leaves) {
      push({ id: leaf, kind: 'node', parent, depth });
      repOf.set(leaf, leaf);
      const kind = view.nodeById.get(leaf)?.kind;
      out.push({ id: leaf, w: kind === 'op' ? NODE_W : NODE_W - 24, h: kind === 'op' ? NODE_H : IO_H });
    }
    return out;
  };
  const markRep = (g: GroupNode, rep: string): void => {
    for (const l of g.leaves) repOf.set(l, rep);
    for (const c of g.groups) markRep(h.groups.get(c) as GroupNode, rep);
  };
  const tree = walk(h.root, null, 0);

  const edges: VisibleEdge[] = [];
  const edgeIndex = new Map<string, VisibleEdge>();
  for (const n of view.nodes) {
    const t = repOf.get(n.id);
    if (!t) continue;
    for (const input of n.inputs) {
      if (!input) continue;
      const v = view.valueByName.get(input);
      if (!v || !v.producer) continue;
      const s = repOf.get(v.producer);
      if (!s || s === t) continue;
      const key = `${s}\u0000${t}`;
      const e = edgeIndex.get(key);
      if (e) e.count++;
      else {
        const ne = { source: s, target: t, value: input, count: 1 };
        edgeIndex.set(key, ne);
        edges.push(ne);
      }
    }
  }
  return { items, itemById, repOf, edges, tree };
}

/** Sums per-node numbers up the hierarchy (a collapsed block shows the total of what it holds). */
export function rollup(h: Hierarchy, perNode: ReadonlyMap<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [node, x] of perNode) {
    let g = h.parentOf.get(node);
    while (g !== undefined) {
      out.set(g, (out.get(g) ?? 0) + x);
      g = h.groups.get(g)?.parent ?? undefined;
    }
  }
  return out;
}

/** The most frequent ops of a block, for its subtitle: `MatMul×7 · Add×4`. */
export function topOps(g: GroupNode, n = 3): string {
  return Object.entries(g.opCounts).sort((a, b) => b[1] - a[1]).slice(0, n).map(([op, c]) => `${op}×${c}`).join(' · ');
}
