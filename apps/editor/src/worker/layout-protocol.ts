/** Messages to and from the layout worker. */
import type { LayoutTreeNode } from '../model/hierarchy.ts';
import type { LayoutResult } from '../layout/layout.ts';

export interface LayoutRequest {
  id: number;
  tree: LayoutTreeNode[];
  edges: Array<{ source: string; target: string }>;
  useElk: boolean;
  elkMaxNodes: number;
}

export type LayoutFromWorker =
  | { id: number; kind: 'progress'; done: number; total: number }
  | { id: number; kind: 'done'; result: LayoutResult }
  | { id: number; kind: 'error'; message: string };
