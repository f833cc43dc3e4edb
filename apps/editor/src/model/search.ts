/**
 * Search by name, op or shape. `q_proj` matches names; `op:MatMul` matches an op exactly;
 * `shape:[1,4` matches output shapes; plain text matches any of the three (case-insensitive).
 */
import type { IndexedView } from './view.ts';

export interface SearchHit {
  id: string;
  /** What matched: 'name' | 'op' | 'shape'. */
  field: 'name' | 'op' | 'shape';
}

export function searchNodes(view: IndexedView, query: string, limit = 500): SearchHit[] {
  const q = query.trim();
  if (!q) return [];
  const m = /^(op|name|shape):(.*)$/i.exec(q);
  const field = m ? (m[1].toLowerCase() as SearchHit['field']) : null;
  const text = (m ? m[2] : q).trim().toLowerCase().replace(/\s+/g, '');
  if (!text) return [];
  const hits: SearchHit[] = [];
  for (const n of view.nodes) {
    if (hits.length >= limit) break;
    if ((field === null || field === 'name') && n.name.toLowerCase().includes(text)) { hits.push({ id: n.id, field: 'name' }); continue; }
    if (field === 'op' ? n.op.toLowerCase() === text : field === null && n.op.toLowerCase().includes(text)) { hits.push({ id: n.id, field: 'op' }); continue; }
    if (field === null || field === 'shape') {
      for (const o of n.outputs) {
        const v = o ? view.valueByName.get(o) : undefined;
        if (v && v.shape.toLowerCase().replace(/\s+/g, '').includes(text)) { hits.push({ id: n.id, field: 'shape' }); break; }
      }
    }
  }
  return hits;
}
