/**
 * Optimization profiles as the profiles node shows them: one row per input with min / opt / max,
 * the KV-cache inputs (all alike) folded into one `past_key_values.*` row, and a one-line headline
 * per profile (its first input that varies).
 */
import type { Dim } from '@fuselab/graph-core';
import type { OptimizationProfile } from '@fuselab/optimizer';

export interface ProfileRow {
  input: string;
  /** Inputs folded into this row (KV-cache pairs). */
  count: number;
  min: string;
  opt: string;
  max: string;
}

/** `[1, 128]` → `1×128`; a scalar is `scalar`. */
export const fmtDims = (dims: readonly Dim[]): string => (dims.length ? dims.map((d) => (d === null ? '?' : String(d))).join('×') : 'scalar');

const KV = /^(past(?:_key_values)?)[._]/;

export function profileRows(p: OptimizationProfile): ProfileRow[] {
  const rows: ProfileRow[] = [];
  const folded = new Map<string, ProfileRow>();
  for (const [name, r] of Object.entries(p.inputs)) {
    const row: ProfileRow = { input: name, count: 1, min: fmtDims(r.min), opt: fmtDims(r.opt), max: fmtDims(r.max) };
    const kv = KV.exec(name);
    if (!kv) { rows.push(row); continue; }
    const key = `${kv[1]}|${row.min}|${row.opt}|${row.max}`;
    const prev = folded.get(key);
    if (prev) { prev.count++; prev.input = `${kv[1]}.*`; continue; }
    folded.set(key, row);
    rows.push(row);
  }
  return rows;
}

/** `prefill: input_ids 1×1 … 1×512` — the profile's first input whose shape varies. */
export function profileHeadline(p: OptimizationProfile): string {
  const rows = profileRows(p);
  const r = rows.find((x) => x.min !== x.max) ?? rows[0];
  return r ? `${p.name}: ${r.input} ${r.min === r.max ? r.min : `${r.min} … ${r.max}`}` : p.name;
}
