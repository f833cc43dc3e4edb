/**
 * Recursive layout of the visible graph, after Model Explorer: each expanded block is laid out on its
 * own (children first, so a frame knows its size), then its parent level places it as one box. An
 * edge is used at the level of its endpoints' lowest common ancestor. The per-level engine is
 * pluggable: ELK (layered) for small levels, the built-in layered layout for big ones.
 * Output is absolute boxes plus edge end points; the canvas draws edges as curves.
 */
import type { LayoutTreeNode } from '../model/hierarchy.ts';
import { layeredLayout, type LevelEdge, type LevelNode, type Positions } from './layered.ts';

export interface Box {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
  /** True for the frame of an expanded block. */
  isFrame: boolean;
  depth: number;
}

export interface LaidEdge {
  source: string;
  target: string;
  /** x1, y1 (source bottom) and x2, y2 (target top). */
  points: [number, number, number, number];
}

export interface LayoutResult {
  boxes: Box[];
  edges: LaidEdge[];
  width: number;
  height: number;
  ms: number;
  /** Levels laid out by ELK and by the built-in engine. */
  engines: { elk: number; fast: number };
}

export type LevelEngine = (nodes: LevelNode[], edges: LevelEdge[]) => Positions | Promise<Positions>;

export interface LayoutOptions {
  /** Engine for levels of at most `elkMaxNodes` nodes (default: the built-in one). */
  small?: LevelEngine;
  /** Levels bigger than this use the built-in engine (default 250). */
  elkMaxNodes?: number;
  /** Called after each level: done, total. */
  onProgress?: (done: number, total: number) => void;
  /** Checked between levels. */
  isCancelled?: () => boolean;
}

export const FRAME_PAD = 16;
export const FRAME_HEADER = 30;

export class LayoutCancelled extends Error {
  constructor() {
    super('layout cancelled');
    this.name = 'LayoutCancelled';
  }
}

export async function layoutGraph(tree: LayoutTreeNode[], edges: ReadonlyArray<{ source: string; target: string }>, options: LayoutOptions = {}): Promise<LayoutResult> {
  const t0 = performance.now();
  const elkMax = options.elkMaxNodes ?? 250;
  // parent chain of every item, to find each edge's level
  const parent = new Map<string, string>();
  const depth = new Map<string, number>();
  const frames: LayoutTreeNode[] = [];
  const ROOT = '\u0000root';
  const index = (list: LayoutTreeNode[], p: string, d: number) => {
    for (const c of list) {
      parent.set(c.id, p);
      depth.set(c.id, d);
      if (c.children) { frames.push(c); index(c.children, c.id, d + 1); }
    }
  };
  index(tree, ROOT, 0);
  const levelEdges = new Map<string, LevelEdge[]>();
  const seen = new Set<string>();
  for (const e of edges) {
    let a = e.source;
    let b = e.target;
    if (!parent.has(a) || !parent.has(b)) continue;
    let da = depth.get(a) as number;
    let db = depth.get(b) as number;
    while (da > db) { a = parent.get(a) as string; da--; }
    while (db > da) { b = parent.get(b) as string; db--; }
    while (parent.get(a) !== parent.get(b)) { a = parent.get(a) as string; b = parent.get(b) as string; }
    if (a === b) continue;
    const lvl = parent.get(a) as string;
    const key = `${a}\u0000${b}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const list = levelEdges.get(lvl);
    if (list) list.push({ source: a, target: b });
    else levelEdges.set(lvl, [{ source: a, target: b }]);
  }

  const total = frames.length + 1;
  let done = 0;
  const engines = { elk: 0, fast: 0 };
  const rel = new Map<string, { x: number; y: number }>();
  const size = new Map<string, { w: number; h: number }>();
  const layoutLevel = async (id: string, children: LayoutTreeNode[]): Promise<{ w: number; h: number }> => {
    for (const c of children) {
      if (c.children) size.set(c.id, await layoutLevel(c.id, c.children));
      else size.set(c.id, { w: c.w, h: c.h });
    }
    if (options.isCancelled?.()) throw new LayoutCancelled();
    const nodes = children.map((c) => ({ id: c.id, ...(size.get(c.id) as { w: number; h: number }) }));
    const es = levelEdges.get(id) ?? [];
    let pos: Positions;
    if (options.small && nodes.length <= elkMax && nodes.length > 1) {
      pos = await options.small(nodes, es);
      engines.elk++;
    } else {
      pos = layeredLayout(nodes, es);
      engines.fast++;
    }
    let w = 0;
    let h = 0;
    for (const nd of nodes) {
      const p = pos.get(nd.id) ?? { x: 0, y: 0 };
      rel.set(nd.id, p);
      w = Math.max(w, p.x + nd.w);
      h = Math.max(h, p.y + nd.h);
    }
    done++;
    options.onProgress?.(done, total);
    return { w: w + 2 * FRAME_PAD, h: h + FRAME_HEADER + FRAME_PAD };
  };
  const rootSize = await layoutLevel(ROOT, tree);

  const boxes: Box[] = [];
  const abs = new Map<string, Box>();
  const place = (list: LayoutTreeNode[], ox: number, oy: number, d: number) => {
    for (const c of list) {
      const p = rel.get(c.id) as { x: number; y: number };
      const s = size.get(c.id) as { w: number; h: number };
      const b: Box = { id: c.id, x: ox + p.x, y: oy + p.y, w: s.w, h: s.h, isFrame: !!c.children, depth: d };
      boxes.push(b);
      abs.set(c.id, b);
      if (c.children) place(c.children, b.x + FRAME_PAD, b.y + FRAME_HEADER, d + 1);
    }
  };
  place(tree, 0, 0, 0);
  const laid: LaidEdge[] = [];
  for (const e of edges) {
    const a = abs.get(e.source);
    const b = abs.get(e.target);
    if (!a || !b) continue;
    laid.push({ source: e.source, target: e.target, points: [a.x + a.w / 2, a.y + a.h, b.x + b.w / 2, b.y] });
  }
  return { boxes, edges: laid, width: rootSize.w - 2 * FRAME_PAD, height: rootSize.h - FRAME_HEADER - FRAME_PAD, ms: performance.now() - t0, engines };
}
