/**
 * ELK (layered, top to bottom) as a per-level engine. Runs wherever it is imported; the editor
 * imports it only in the layout worker. Note: elk.bundled.js, when created inside a worker, takes
 * over `self.onmessage`; the worker listens with addEventListener and clears it (see layout-worker.ts).
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { LevelEdge, LevelNode, Positions } from './layered.ts';

export interface ElkLike {
  layout(graph: unknown): Promise<{ children?: Array<{ id: string; x?: number; y?: number }> }>;
}

export function createElk(): ElkLike {
  return new ELK() as unknown as ElkLike;
}

const OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'POLYLINE',
  'elk.layered.spacing.nodeNodeBetweenLayers': '36',
  'elk.spacing.nodeNode': '24',
  'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.crossingMinimization.greedySwitch.type': 'OFF',
};

export function elkEngine(elk: ElkLike) {
  return async (nodes: LevelNode[], edges: LevelEdge[]): Promise<Positions> => {
    const g = await elk.layout({
      id: 'level',
      layoutOptions: OPTIONS,
      children: nodes.map((n) => ({ id: n.id, width: n.w, height: n.h })),
      edges: edges.map((e, i) => ({ id: `e${i}`, sources: [e.source], targets: [e.target] })),
    });
    const out: Positions = new Map();
    for (const c of g.children ?? []) out.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
    return out;
  };
}
