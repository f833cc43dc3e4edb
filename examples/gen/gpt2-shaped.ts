/**
 * Builds a GPT-2-shaped decoder in code with the op pattern torchscript exports produce (decomposed
 * LayerNorm, tanh GELU, Conv1D MatMul+Add, causal mask with Where, split heads with Reshape/Transpose).
 * Random weights from a seeded PRNG. Used for parse/shape benchmarks and big-graph tests without torch;
 * the PyTorch export of the same shape is `examples/scripts/make_gpt2_small.py`.
 */
import { GraphBuilder, type Model, type Value } from '@fuselab/graph-core';

export interface Gpt2ShapeConfig {
  layers: number;
  dModel: number;
  heads: number;
  vocab: number;
  positions: number;
  seed?: number;
  /** Fill weights with random values (default true); false leaves zeros (fast, for graph-only tests). */
  randomWeights?: boolean;
}

export const GPT2_SMALL: Gpt2ShapeConfig = { layers: 12, dModel: 768, heads: 12, vocab: 50257, positions: 1024 };

/** xorshift32 → uniform floats in [-scale, scale). Fast enough for 650 MB of weights. */
function fill(n: number, seed: number, scale: number, random: boolean): Float32Array {
  const a = new Float32Array(n);
  if (!random) return a;
  let s = seed >>> 0 || 1;
  const k = (2 * scale) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    a[i] = (s >>> 0) * k - scale;
  }
  return a;
}

export function buildGpt2Shaped(cfg: Gpt2ShapeConfig): Model {
  const { layers, dModel: d, heads, vocab, positions } = cfg;
  const hd = d / heads;
  const random = cfg.randomWeights ?? true;
  let seed = cfg.seed ?? 1234;
  const w = (name: string, dims: number[], scale = 0.02) => b.f32(name, dims, fill(dims.reduce((x, y) => x * y, 1), seed++, scale, random));
  const ones = (name: string, n: number) => b.f32(name, [n], new Float32Array(n).fill(1));
  const zeros = (name: string, n: number) => b.f32(name, [n], new Float32Array(n));

  const b = new GraphBuilder({ opsets: { '': 17 } });
  const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const wte = w('transformer.wte.weight', [vocab, d]);
  const wpe = w('transformer.wpe.weight', [positions, d]);
  const c = {
    eps: b.f32('eps', [], [1e-5]),
    two: b.f32('two', [], [2]),
    half: b.f32('half', [], [0.5]),
    one: b.f32('one', [], [1]),
    k0: b.f32('gelu_k0', [], [0.044715]),
    k1: b.f32('gelu_k1', [], [Math.sqrt(2 / Math.PI)]),
    scale: b.f32('attn_scale', [], [Math.sqrt(hd)]),
    neg: b.f32('mask_value', [], [-3.4028234663852886e38]),
    i0: b.i64('c0', [1], [0]),
    i1: b.i64('c1', [1], [1]),
    shapeHeads: b.i64('split_heads_tail', [2], [heads, hd]),
    shapeMerge: b.i64('merge_heads_tail', [1], [d]),
    causal: b.initializer('causal_bias', 'bool', [1, 1, positions, positions], (() => {
      const m = new Uint8Array(positions * positions);
      for (let i = 0; i < positions; i++) for (let j = 0; j <= i; j++) m[i * positions + j] = 1;
      return m;
    })()),
  };
  const shape = b.op('Shape', [ids]);
  const seqLen = b.op('Gather', [shape, c.i1], { axis: 0 });
  const batch = b.op('Gather', [shape, c.i0], { axis: 0 });
  const pos = b.op('Range', [b.op('Squeeze', [b.i64('r0', [1], [0])]), b.op('Squeeze', [seqLen]), b.op('Squeeze', [c.i1])]);
  const posIds = b.op('Unsqueeze', [pos, c.i0]);
  let h = b.op('Add', [b.op('Gather', [wte, ids]), b.op('Gather', [wpe, posIds])]);

  const layerNorm = (x: Value, p: string) => {
    const mean = b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 });
    const xc = b.op('Sub', [x, mean]);
    const v = b.op('ReduceMean', [b.op('Pow', [xc, c.two])], { axes: [-1], keepdims: 1 });
    const n = b.op('Div', [xc, b.op('Sqrt', [b.op('Add', [v, c.eps])])]);
    return b.op('Add', [b.op('Mul', [n, ones(`${p}.weight`, d)]), zeros(`${p}.bias`, d)]);
  };
  const linear = (x: Value, p: string, din: number, dout: number) => b.op('Add', [b.op('MatMul', [x, w(`${p}.weight`, [din, dout])]), zeros(`${p}.bias`, dout)]);
  const splitHeads = (x: Value) => {
    const target = b.op('Concat', [b.op('Unsqueeze', [b.op('Squeeze', [batch]), c.i0]), b.op('Unsqueeze', [b.op('Squeeze', [seqLen]), c.i0]), c.shapeHeads], { axis: 0 });
    return b.op('Transpose', [b.op('Reshape', [x, target])], { perm: [0, 2, 1, 3] });
  };

  for (let l = 0; l < layers; l++) {
    const p = `transformer.h.${l}`;
    const x = layerNorm(h, `${p}.ln_1`);
    const qkv = linear(x, `${p}.attn.c_attn`, d, 3 * d);
    const [q, k, v] = b.opN('Split', [qkv, b.i64(`${p}.split`, [3], [d, d, d])], { axis: 2 }, 3);
    const qh = splitHeads(q);
    const kh = b.op('Transpose', [splitHeads(k)], { perm: [0, 1, 3, 2] });
    const vh = splitHeads(v);
    const scores = b.op('Div', [b.op('MatMul', [qh, kh]), c.scale]);
    const end = b.op('Unsqueeze', [b.op('Squeeze', [seqLen]), c.i0]);
    const maskSl = b.op('Slice', [b.op('Slice', [c.causal, c.i0, end, b.i64(`${p}.ax2`, [1], [2])]), c.i0, end, b.i64(`${p}.ax3`, [1], [3])]);
    const masked = b.op('Where', [maskSl, scores, c.neg]);
    const probs = b.op('Softmax', [masked], { axis: -1 });
    const ctx = b.op('Transpose', [b.op('MatMul', [probs, vh])], { perm: [0, 2, 1, 3] });
    const merged = b.op('Reshape', [ctx, b.op('Concat', [b.op('Unsqueeze', [b.op('Squeeze', [batch]), c.i0]), b.op('Unsqueeze', [b.op('Squeeze', [seqLen]), c.i0]), c.shapeMerge], { axis: 0 })]);
    h = b.op('Add', [h, linear(merged, `${p}.attn.c_proj`, d, d)]);
    const x2 = layerNorm(h, `${p}.ln_2`);
    const up = linear(x2, `${p}.mlp.c_fc`, d, 4 * d);
    // gelu_new: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
    const inner = b.op('Mul', [c.k1, b.op('Add', [up, b.op('Mul', [c.k0, b.op('Pow', [up, b.f32(`${p}.three`, [], [3])])])])]);
    const gelu = b.op('Mul', [b.op('Mul', [c.half, up]), b.op('Add', [c.one, b.op('Tanh', [inner])])]);
    h = b.op('Add', [h, linear(gelu, `${p}.mlp.c_proj`, 4 * d, d)]);
  }
  const hf = layerNorm(h, 'transformer.ln_f');
  const logits = b.op('MatMul', [hf, b.op('Transpose', [wte], { perm: [1, 0] })]);
  b.output(logits, 'logits');
  return b.build({ producerName: 'fuselab-examples' });
}
