/**
 * Shared by the precision tests: seeded random weights, small MatMul graphs, a TS reference MatMul,
 * and the dtype invariants every converted graph must keep.
 */
import { GraphBuilder, Tensor, type Model } from '@fuselab/graph-core';
import { prng } from '@fuselab/gpu-runtime';

/** Seeded values in [-amp, amp). */
export function randomFloats(n: number, seed: number, amp = 1): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * amp);
}

/** `y = MatMul(x[batch, seq, K], W[K, N])`, optionally followed by `Add(bias)` and a Tanh. */
export function matmulModel(K: number, N: number, seed = 1, options: { tail?: boolean } = {}): Model {
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const x = b.input('x', 'float32', ['batch_size', 'sequence_length', K]);
  const w = b.initializer('proj.weight', Tensor.from('float32', [K, N], randomFloats(K * N, seed, 0.5)));
  const mm = b.op('MatMul', [x, w], {}, { name: '/proj/MatMul' });
  b.output(options.tail ? b.op('Tanh', [mm], {}, { name: '/act/Tanh' }) : mm, 'y');
  return b.build();
}

/** Reference `x[M, K] · w[K, N]` in float64 accumulation. */
export function matmulRef(x: Float32Array, w: Float32Array, M: number, K: number, N: number): Float32Array {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[k * N + n];
      y[m * N + n] = s;
    }
  }
  return y;
}
