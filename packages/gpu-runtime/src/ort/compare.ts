/**
 * Output comparison with named tolerances: max absolute error, max relative error, cosine similarity.
 */
import { hostNumbers, type HostTensor } from './host-tensor.ts';

export interface Tolerance {
  /** Name shown in reports, e.g. `fp32-exact`, `fp32-fusion`, `fp16`, `int8`. */
  name: string;
  atol: number;
  rtol: number;
  /** Minimum cosine similarity (default 0.9999). */
  minCosine?: number;
}

/** Fusion reorders float math; these bounds hold for fp32 graphs with fused kernels. */
export const FP32_FUSION: Tolerance = { name: 'fp32-fusion', atol: 1e-4, rtol: 1e-3, minCosine: 0.99999 };
export const FP32_EXACT: Tolerance = { name: 'fp32-exact', atol: 0, rtol: 0, minCosine: 1 };

export interface OutputComparison {
  name: string;
  dims: number[];
  maxAbsErr: number;
  maxRelErr: number;
  cosine: number;
  /** Elements outside `atol + rtol * |ref|`. */
  mismatches: number;
  passed: boolean;
}

export function compareTensors(name: string, ref: HostTensor, got: HostTensor, tol: Tolerance): OutputComparison {
  if (ref.dims.join(',') !== got.dims.join(',')) {
    return { name, dims: got.dims, maxAbsErr: Infinity, maxRelErr: Infinity, cosine: 0, mismatches: Math.max(ref.data.length, got.data.length), passed: false };
  }
  const a = hostNumbers(ref);
  const b = hostNumbers(got);
  let maxAbs = 0;
  let maxRel = 0;
  let dot = 0;
  let na = 0;
  let nb = 0;
  let mismatches = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) !== Number.isNaN(y)) {
      mismatches++;
      maxAbs = Infinity;
      continue;
    }
    if (Number.isNaN(x) || x === y) continue;
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(x), 1e-12));
    if (d > tol.atol + tol.rtol * Math.abs(x)) mismatches++;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  // equal elements were skipped above for speed; add them back into the cosine
  for (let i = 0; i < a.length; i++) if (a[i] === b[i] && Number.isFinite(a[i])) { dot += a[i] * a[i]; na += a[i] * a[i]; nb += a[i] * a[i]; }
  const cosine = na === 0 && nb === 0 ? 1 : dot / Math.sqrt(na * nb || 1);
  const passed = mismatches === 0 && cosine >= (tol.minCosine ?? 0.9999);
  return { name, dims: got.dims, maxAbsErr: maxAbs, maxRelErr: maxRel, cosine, mismatches, passed };
}
