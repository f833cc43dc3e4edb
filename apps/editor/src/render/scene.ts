/**
 * The scene the canvas draws: absolute boxes with titles and colors, and edges, from a pane's
 * layout and view. Pure, so SVG export and tests use it too.
 */
import type { LayoutResult } from '../layout/layout.ts';
import { topOps, type Hierarchy, type VisibleGraph } from '../model/hierarchy.ts';
import type { IndexedView } from '../model/view.ts';
import { opColor } from './colors.ts';

export type SceneKind = 'node' | 'io' | 'block' | 'frame';

export interface SceneItem {
  id: string;
  kind: SceneKind;
  x: number;
  y: number;
  w: number;
  h: number;
  title: string;
  subtitle: string;
  color: string;
  depth: number;
}

export interface SceneEdge {
  source: string;
  target: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  label: string;
}

export interface Scene {
  items: SceneItem[];
  itemById: Map<string, SceneItem>;
  edges: SceneEdge[];
  width: number;
  height: number;
}

function shortName(name: string): string {
  const i = name.lastIndexOf('/');
  return i >= 0 ? name.slice(i + 1) : name;
}

export function buildScene(view: IndexedView, h: Hierarchy, visible: VisibleGraph, layout: LayoutResult): Scene {
  const items: SceneItem[] = [];
  const itemById = new Map<string, SceneItem>();
  for (const b of layout.boxes) {
    const it = visible.itemById.get(b.id);
    if (!it) continue;
    let s: SceneItem;
    if (it.kind === 'node') {
      const n = view.nodeById.get(b.id);
      const io = n?.kind !== 'op';
      const outV = n?.outputs[0] ? view.valueByName.get(n.outputs[0] as string) : n?.inputs[0] ? view.valueByName.get(n.inputs[0] as string) : undefined;
      s = {
        id: b.id, kind: io ? 'io' : 'node', x: b.x, y: b.y, w: b.w, h: b.h,
        title: io ? n?.name ?? b.id : n?.op ?? b.id,
        subtitle: io ? `${outV?.dtype ?? ''} ${outV?.shape ?? ''}`.trim() : `${shortName(n?.name ?? '')}${outV ? `  ${outV.shape}` : ''}`,
        color: opColor(n?.op ?? '', n?.domain), depth: b.depth,
      };
    } else {
      const g = h.groups.get(b.id);
      s = {
        id: b.id, kind: it.kind === 'frame' ? 'frame' : 'block', x: b.x, y: b.y, w: b.w, h: b.h,
        title: g?.label ?? b.id, subtitle: g ? `${g.size} nodes · ${topOps(g, 2)}` : '', color: '#818cf8', depth: b.depth,
      };
    }
    items.push(s);
    itemById.set(s.id, s);
  }
  const label = new Map<string, string>();
  for (const e of visible.edges) label.set(`${e.source}\u0000${e.target}`, view.valueByName.get(e.value)?.shape ?? '');
  const edges: SceneEdge[] = layout.edges.map((e) => ({
    source: e.source, target: e.target, x1: e.points[0], y1: e.points[1], x2: e.points[2], y2: e.points[3],
    label: label.get(`${e.source}\u0000${e.target}`) ?? '',
  }));
  return { items, itemById, edges, width: layout.width, height: layout.height };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The scene as a standalone SVG document (dark theme, like the canvas). */
export function sceneToSvg(scene: Scene, marks?: ReadonlyMap<string, string> | null, markColors: Record<string, string> = {}): string {
  const pad = 24;
  const W = Math.ceil(scene.width + 2 * pad);
  const H = Math.ceil(scene.height + 2 * pad);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="${-pad} ${-pad} ${W} ${H}" font-family="Inter, system-ui, sans-serif">`,
    `<rect x="${-pad}" y="${-pad}" width="${W}" height="${H}" fill="#0b0f14"/>`,
  ];
  for (const it of scene.items) if (it.kind === 'frame') {
    out.push(`<g><rect x="${it.x}" y="${it.y}" width="${it.w}" height="${it.h}" rx="10" fill="rgba(129,140,248,0.05)" stroke="#334155"/><text x="${it.x + 12}" y="${it.y + 19}" font-size="12" font-weight="600" fill="#a5b4fc">${esc(it.title)}</text></g>`);
  }
  out.push('<g fill="none" stroke="#475569" stroke-width="1.2">');
  for (const e of scene.edges) {
    const dy = Math.max(20, Math.abs(e.y2 - e.y1) / 2);
    out.push(`<path d="M${e.x1},${e.y1} C${e.x1},${e.y1 + dy} ${e.x2},${e.y2 - dy} ${e.x2},${e.y2}"/>`);
  }
  out.push('</g>');
  for (const it of scene.items) {
    if (it.kind === 'frame') continue;
    const m = marks?.get(it.id);
    const stroke = m && markColors[m] ? markColors[m] : '#334155';
    out.push(`<g><rect x="${it.x}" y="${it.y}" width="${it.w}" height="${it.h}" rx="6" fill="#111827" stroke="${stroke}" stroke-width="${m ? 2 : 1}"/>` +
      `<rect x="${it.x}" y="${it.y}" width="4" height="${it.h}" rx="2" fill="${it.color}"/>` +
      `<text x="${it.x + 12}" y="${it.y + 16}" font-size="12" font-weight="600" fill="#e5e7eb">${esc(it.title)}</text>` +
      `<text x="${it.x + 12}" y="${it.y + 30}" font-size="10" fill="#94a3b8">${esc(it.subtitle.slice(0, 34))}</text></g>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
