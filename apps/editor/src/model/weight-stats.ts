/**
 * Weight statistics of an initializer: min / max / mean / std, zeros, and a 24-bin histogram, in
 * one pass over the raw data (float16/bfloat16 decoded on the fly; packed types are not summarized).
 */
import { bfloat16ToFloat, halfToFloat, type Tensor } from '@fuselab/graph-core';

export interface WeightStats {
  name: string;
  dtype: string;
  dims: number[];
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  zeros: number;
  histogram: number[];
  /** Why no numbers (string, packed 4-bit, external and unreadable...). */
  note?: string;
}

const BINS = 24;

export function weightStats(t: Tensor): WeightStats {
  const base = { name: t.name, dtype: t.dtype, dims: [...t.dims], count: t.size };
  const empty = { ...base, min: NaN, max: NaN, mean: NaN, std: NaN, zeros: 0, histogram: [] };
  if (t.dtype === 'string' || t.dtype === 'bool' || /int4|int2|float8|float4/.test(t.dtype)) return { ...empty, note: `no statistics for ${t.dtype}` };
  let data: ArrayLike<number | bigint>;
  try {
    data = t.data();
  } catch (e) {
    return { ...empty, note: (e as Error).message };
  }
  const decode = t.dtype === 'float16' ? halfToFloat : t.dtype === 'bfloat16' ? bfloat16ToFloat : null;
  const n = data.length;
  const at = (i: number): number => (decode ? decode(data[i] as number) : Number(data[i]));
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let sq = 0;
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    const x = at(i);
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
    sq += x * x;
    if (x === 0) zeros++;
  }
  const mean = n ? sum / n : NaN;
  const std = n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : NaN;
  const histogram = new Array<number>(BINS).fill(0);
  const span = max - min;
  if (n && span > 0) {
    for (let i = 0; i < n; i++) histogram[Math.min(BINS - 1, Math.floor(((at(i) - min) / span) * BINS))]++;
  } else if (n) {
    histogram[0] = n;
  }
  return { ...base, min: n ? min : NaN, max: n ? max : NaN, mean, std, zeros, histogram };
}
