/** Test helper shared by the attention tests. */
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
