/**
 * A purpose-built one-layer causal decoder with the Optimum KV contract (input_ids, position_ids,
 * past_key_values.0.key/value → logits, present.0.key/value), built in code, for WebGPU tests on
 * SwiftShader: it needs ~12 distinct kernels, so shader compilation stays short on a 2-core machine.
 */
import { GraphBuilder, type Model, type Value } from '@fuselab/graph-core';

/** Seeded uniform weights in [-scale, scale). */
function weights(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    a[i] = ((s >>> 0) / 4294967296 * 2 - 1) * scale;
  }
  return a;
}

/**
 * One pre-LN attention block with a residual, causal over past + new tokens:
 *   h = LN(tok[input_ids] + pos[position_ids]);  K,V = concat(past, split_heads(h·Wk|h·Wv))
 *   a = softmax(where(causal, Q·Kᵀ/√d, -1e4))·V;  logits = (x + merge_heads(a)·Wo)·Wlm
 */
export function buildOneLayerDecoder(cfg = { vocab: 96, positions: 64, d: 32, heads: 2 }): Model {
  const { vocab, positions, d, heads } = cfg;
  const hd = d / heads;
  const b = new GraphBuilder({ opsets: { '': 17 } });
  let seed = 7;
  const w = (name: string, dims: number[], scale: number) => b.f32(name, dims, weights(dims.reduce((x, y) => x * y, 1), seed++, scale));
  const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const pos = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  const pastK = b.input('past_key_values.0.key', 'float32', ['batch_size', heads, 'past_sequence_length', hd]);
  const pastV = b.input('past_key_values.0.value', 'float32', ['batch_size', heads, 'past_sequence_length', hd]);
  const x = b.op('Add', [b.op('Gather', [w('tok', [vocab, d], 1), ids]), b.op('Gather', [w('pos', [positions, d], 1), pos])]);
  const h = b.op('LayerNormalization', [x, b.f32('ln_g', [d], new Array(d).fill(1)), b.f32('ln_b', [d], new Array(d).fill(0))], { axis: -1, epsilon: 1e-5 });
  const split = b.i64('split_shape', [4], [0, 0, heads, hd]);
  const heads4 = (v: Value) => b.op('Transpose', [b.op('Reshape', [v, split])], { perm: [0, 2, 1, 3] });
  const q = heads4(b.op('MatMul', [h, w('wq', [d, d], 0.5)]));
  const k = b.op('Concat', [pastK, heads4(b.op('MatMul', [h, w('wk', [d, d], 0.5)]))], { axis: 2 });
  const v = b.op('Concat', [pastV, heads4(b.op('MatMul', [h, w('wv', [d, d], 0.5)]))], { axis: 2 });
  b.output(k, 'present.0.key');
  b.output(v, 'present.0.value');
  // causal mask: query i (absolute position past+i) sees keys 0..past+i
  const total = b.op('Gather', [b.op('Shape', [k]), b.i64('axis2', [], [2])], { axis: 0 });
  const seq = b.op('Gather', [b.op('Shape', [ids]), b.i64('axis1', [], [1])], { axis: 0 });
  const keyPos = b.op('Range', [b.i64('zero', [], [0]), total, b.i64('one', [], [1])]);
  const queryPos = b.op('Unsqueeze', [b.op('Range', [b.op('Sub', [total, seq]), total, b.i64('one_', [], [1])]), b.i64('ax1', [1], [1])]);
  const causal = b.op('LessOrEqual', [keyPos, queryPos]);
  const scores = b.op('Mul', [b.op('MatMul', [q, b.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), b.f32('scale', [], [1 / Math.sqrt(hd)])]);
  const probs = b.op('Softmax', [b.op('Where', [causal, scores, b.f32('neg', [], [-1e4])])], { axis: -1 });
  const merged = b.op('Reshape', [b.op('Transpose', [b.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }), b.i64('merge_shape', [3], [0, 0, d])]);
  const y = b.op('Add', [x, b.op('MatMul', [merged, w('wo', [d, d], 0.5)])]);
  b.output(b.op('MatMul', [y, w('lm', [d, vocab], 0.5)]), 'logits');
  return b.build();
}

