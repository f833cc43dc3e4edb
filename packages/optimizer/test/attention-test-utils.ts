/** Test helpers shared by the attention tests. */
import type { HostTensor } from '@fuselab/gpu-runtime';

/** Max |a − b| over the (batch, position) rows where `keep` holds (e.g. only unpadded positions). */
export function rowsMaxErr(a: HostTensor, b: HostTensor, keep: (bi: number, si: number) => boolean): number {
  const [batch, seq] = a.dims;
  const inner = a.data.length / (batch * seq);
  let worst = 0;
  for (let bi = 0; bi < batch; bi++) for (let si = 0; si < seq; si++) {
    if (!keep(bi, si)) continue;
    for (let k = 0; k < inner; k++) {
      const i = (bi * seq + si) * inner + k;
      worst = Math.max(worst, Math.abs(Number(a.data[i]) - Number(b.data[i])));
    }
  }
  return worst;
}

/** Row `b` of every batch-major tensor (past KV included). */
export function batchRow(feeds: Record<string, HostTensor>, b: number): Record<string, HostTensor> {
  const out: Record<string, HostTensor> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const n = t.data.length / t.dims[0];
    out[k] = { dtype: t.dtype, dims: [1, ...t.dims.slice(1)], data: t.data.slice(b * n, (b + 1) * n) as HostTensor['data'] };
  }
  return out;
}
