import { describe, expect, it } from 'vitest';
import { layeredLayout, separate } from '../src/layout/layered.ts';
import { layoutGraph } from '../src/layout/layout.ts';
import { createElk, elkEngine } from '../src/layout/elk-engine.ts';
import { allExpanded, buildHierarchy, defaultExpanded, visibleGraph } from '../src/model/hierarchy.ts';
import { KJV_LLAMA, viewOf } from './helpers.ts';

const overlaps = (boxes: Array<{ x: number; y: number; w: number; h: number; isFrame: boolean; id: string }>, parentOf: (id: string) => string | null) => {
  const leaves = boxes.filter((b) => !b.isFrame);
  let n = 0;
  for (let i = 0; i < leaves.length; i++) for (let j = i + 1; j < leaves.length; j++) {
    const a = leaves[i];
    const b = leaves[j];
    if (parentOf(a.id) !== parentOf(b.id)) continue;
    if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) n++;
  }
  return n;
};

describe('layout', () => {
  it('separates boxes in order with least movement (isotonic regression)', () => {
    expect(separate([0, 0, 0], [10, 10, 10], 0)).toEqual([-10, 0, 10]);
    expect(separate([0, 100], [10, 10], 5)).toEqual([0, 100]);
  });

  it('ranks a chain top to bottom and keeps it straight', () => {
    const nodes = ['a', 'b', 'c'].map((id) => ({ id, w: 100, h: 40 }));
    const pos = layeredLayout(nodes, [{ source: 'a', target: 'b' }, { source: 'b', target: 'c' }]);
    expect((pos.get('a') as { y: number }).y).toBeLessThan((pos.get('b') as { y: number }).y);
    expect((pos.get('b') as { y: number }).y).toBeLessThan((pos.get('c') as { y: number }).y);
    expect(pos.get('a')?.x).toBe(pos.get('c')?.x);
  });

  it('survives cycles (edges between blocks can go both ways)', () => {
    const nodes = ['a', 'b'].map((id) => ({ id, w: 50, h: 20 }));
    const pos = layeredLayout(nodes, [{ source: 'a', target: 'b' }, { source: 'b', target: 'a' }]);
    expect(pos.size).toBe(2);
  });

  it('lays out kjv-llama fully expanded without overlaps, frames containing their children', async () => {
    const view = viewOf(KJV_LLAMA);
    const h = buildHierarchy(view);
    const vis = visibleGraph(view, h, allExpanded(h));
    const r = await layoutGraph(vis.tree, vis.edges);
    expect(r.boxes.length).toBe(vis.items.length);
    const byId = new Map(r.boxes.map((b) => [b.id, b]));
    for (const it of vis.items) {
      if (!it.parent) continue;
      const b = byId.get(it.id) as { x: number; y: number; w: number; h: number };
      const f = byId.get(it.parent) as { x: number; y: number; w: number; h: number };
      expect(b.x >= f.x && b.y >= f.y && b.x + b.w <= f.x + f.w + 0.5 && b.y + b.h <= f.y + f.h + 0.5).toBe(true);
    }
    expect(overlaps(r.boxes, (id) => vis.itemById.get(id)?.parent ?? null)).toBe(0);
    expect(r.edges.length).toBe(vis.edges.length);
  });

  it('uses ELK for small levels', async () => {
    const view = viewOf(KJV_LLAMA);
    const h = buildHierarchy(view);
    const vis = visibleGraph(view, h, defaultExpanded(h));
    const r = await layoutGraph(vis.tree, vis.edges, { small: elkEngine(createElk()) });
    expect(r.engines.elk).toBeGreaterThan(0);
    expect(overlaps(r.boxes, (id) => vis.itemById.get(id)?.parent ?? null)).toBe(0);
  });
});
