/**
 * fuse-attention on the smallest graphs that still look like the exports: one GPT-2-style block
 * (fused q/k/v projection + Split, causal slice of a triangle, padding term) and one Llama-style
 * block (rotate_half rotary, repeat_kv, 4-D additive mask), each with and without a KV cache and
 * in the variants the exporters produce. Structure first, then before/after in onnxruntime-web.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, serializeModelToBytes, Tensor, tensorType, type Model, type Node, type Value } from '@fuselab/graph-core';
import { compareTensors, FP32_FUSION, prng, runModel, type HostTensor } from '@fuselab/gpu-runtime';
import { fuseAttention, type FuseAttentionParams } from '../src/passes/fuse-attention.ts';
import { eliminateDeadCode } from '../src/passes/eliminate-dead-code.ts';
import { runPasses } from '../src/pass-manager.ts';
import { ShapeArithmetic } from '../src/rewrite/attention-patterns.ts';
import { rowsMaxErr } from './attention-test-utils.ts';

const D = 64;
const MIN = -3.4028234663852886e38;
const INT64_MAX = 9223372036854775807n;

/** Seeded N(0, 1/fan_in)-ish weights so every parameter matters. */
function weights(b: GraphBuilder, name: string, rows: number, cols: number, seed: number): Value {
  const r = prng(seed);
  return b.f32(name, [rows, cols], Array.from({ length: rows * cols }, () => (r() * 2 - 1) * Math.sqrt(3 / rows)));
}

/** A [1, 1, m, m] lower-triangular bool buffer (GPT-2's `bias`). */
function tril(b: GraphBuilder, m: number): Value {
  const bits = new Uint8Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) bits[i * m + j] = 1;
  return b.initializer('causal_bias', 'bool', [1, 1, m, m], bits);
}

/** A node name unique in the graph, under `scope` (exporters scope every node by module). */
const named = (b: GraphBuilder, scope: string, op: string) => ({ name: b.graph.uniqueName(`${scope}/${op}`) });

/** `v.shape[axis:axis+1]` the way exporters spell it: Gather(Shape(v), [axis]). */
function dim(b: GraphBuilder, v: Value, axis: number, scope: string): Value {
  return b.op('Gather', [b.op('Shape', [v], {}, named(b, scope, 'Shape')), b.i64(`axis${axis}`, [1], [axis])], { axis: 0 }, named(b, scope, 'Gather'));
}

/** Transpose(Reshape(x, [0, 0, heads, size]), perm); `n` = -1 as HF ≥ 4.48 writes it. */
function heads(b: GraphBuilder, x: Value, n: number, h: number, scope: string, perm = [0, 2, 1, 3]): Value {
  const r = b.op('Reshape', [x, b.i64('heads', [4], [0, 0, n, h])], {}, { name: `${scope}/Reshape` });
  return b.op('Transpose', [r], { perm }, { name: `${scope}/Transpose` });
}

/** Rows [T−S, T), columns [0, T) of the triangle; S and T are dims of `sv` and `tv` (axes `sa`, `ta`). */
function causalSlice(b: GraphBuilder, sv: Value, sa: number, tv: Value, ta: number, m: number, scope: string): Value {
  const t = dim(b, tv, ta, scope);
  const s = dim(b, sv, sa, scope);
  const rows = b.op('Slice', [tril(b, m), b.op('Sub', [t, s], {}, named(b, scope, 'Sub')), t, b.i64('ax2', [1], [2])], {}, named(b, scope, 'Slice'));
  return b.op('Slice', [rows, b.i64('zero', [1], [0]), t, b.i64('ax3', [1], [3])], {}, named(b, scope, 'Slice'));
}

/** `(1 − mask) · min` as [B, 1, 1, T] (HF's extended attention mask). */
function paddingTerm(b: GraphBuilder, mask: Value): Value {
  const u = b.op('Unsqueeze', [mask, b.i64('ax12', [2], [1, 2])], {}, named(b, '/model', 'Unsqueeze'));
  const m = b.op('Cast', [u], { to: 1 }, named(b, '/model', 'Cast'));
  return b.op('Mul', [b.op('Sub', [b.f32('one', [], [1]), m], {}, named(b, '/model', 'Sub')), b.f32('min', [], [MIN])], {}, { name: '/model/pad' });
}

interface Gpt2Options {
  past?: boolean;
  /** Keys split straight into BNHS (perm 0,2,3,1), as GPT-2 exports without a cache. */
  bnhsKeys?: boolean;
  /** How the scores are scaled: Div by 4, Mul by 0.25, or Div by sqrt(v.shape[-1]) computed at run time. */
  scale?: 'div' | 'mul' | 'shape';
  /** Merge heads to [-1, 64] (2-D, as dynamo's Gemm input) instead of [0, 0, 64]. */
  merge2d?: boolean;
  /** Fill value of the causal Where (default finfo.min). */
  fill?: number;
  /** Also output the attention probabilities. */
  exportProbs?: boolean;
  /** Add the padding mask before scaling (not fusable). */
  maskBeforeScale?: boolean;
  /** The causal Where on the scores (default true; false: a bidirectional block). */
  causal?: boolean;
}

/** GPT-2 attention blocks: c_attn → Split → heads → [cache] → scores → masks → Softmax → ·V → merge → c_proj (+ residual). */
function gpt2Block(o: Gpt2Options & { layers?: number } = {}): Model {
  const N = 4;
  const H = 16;
  const b = new GraphBuilder({ opsets: { '': 17 } });
  let x = b.input('hidden', 'float32', ['batch', 'seq', D]);
  const mask = b.input('attention_mask', 'int64', ['batch', 'total']);
  const pad = paddingTerm(b, mask);
  for (let layer = 0; layer < (o.layers ?? 1); layer++) {
    const s = layer === 0 ? '/blk/attn' : `/blk${layer}/attn`;
    const sfx = layer === 0 ? '' : `_${layer}`;
    const pastK = o.past ? b.input(`past_key${sfx}`, 'float32', ['batch', N, 'past', H]) : null;
    const pastV = o.past ? b.input(`past_value${sfx}`, 'float32', ['batch', N, 'past', H]) : null;
    const qkv = b.op('Add', [b.op('MatMul', [x, weights(b, 'c_attn.w', D, 3 * D, 1 + layer)]), weights(b, 'c_attn.b', 1, 3 * D, 2 + layer)], {}, { name: `${s}/c_attn` });
    const [q, k, v] = b.opN('Split', [qkv, b.i64('split', [3], [D, D, D])], { axis: 2 }, 3, { name: `${s}/Split` });
    const q4 = heads(b, q, N, H, `${s}/q`);
    const v4 = heads(b, v, N, H, `${s}/v`);
    let kT: Value;
    let presentK: Value | null = null;
    const presentV = pastV ? b.op('Concat', [pastV, v4], { axis: -2 }, { name: `${s}/Concat_v` }) : v4;
    if (o.bnhsKeys) {
      kT = heads(b, k, N, H, `${s}/k`, [0, 2, 3, 1]);
    } else {
      const k4 = heads(b, k, N, H, `${s}/k`);
      presentK = pastK ? b.op('Concat', [pastK, k4], { axis: -2 }, { name: `${s}/Concat_k` }) : k4;
      kT = b.op('Transpose', [presentK], { perm: [0, 1, 3, 2] }, { name: `${s}/Transpose_k` });
    }
    let scores = b.op('MatMul', [q4, kT], {}, { name: `${s}/MatMul` });
    if (o.maskBeforeScale) scores = b.op('Add', [scores, pad], {}, { name: `${s}/Add_early` });
    if (o.scale === 'mul') scores = b.op('Mul', [scores, b.f32('scale', [], [0.25])], {}, { name: `${s}/Mul` });
    else if (o.scale === 'shape') {
      const last = b.op('Gather', [b.op('Shape', [presentV], {}, named(b, s, 'Shape')), b.i64('last', [], [-1])], { axis: 0 }, named(b, s, 'Gather'));
      const h = b.op('Pow', [b.op('Cast', [last], { to: 1 }, named(b, s, 'Cast')), b.f32('half', [], [0.5])], {}, named(b, s, 'Pow'));
      scores = b.op('Div', [scores, h], {}, { name: `${s}/Div` });
    } else scores = b.op('Div', [scores, b.f32('sqrt_h', [], [4])], {}, { name: `${s}/Div` });
    if (o.causal !== false) {
      const causal = causalSlice(b, q4, 2, presentK ?? presentV, 2, 32, s);
      scores = b.op('Where', [causal, scores, b.f32('fill', [], [o.fill ?? MIN])], {}, { name: `${s}/Where` });
    }
    if (!o.maskBeforeScale) scores = b.op('Add', [scores, pad], {}, { name: `${s}/Add` });
    const probs = b.op('Softmax', [scores], { axis: -1 }, { name: `${s}/Softmax` });
    const ctx = b.op('Transpose', [b.op('MatMul', [probs, presentV], {}, { name: `${s}/MatMul_1` })], { perm: [0, 2, 1, 3] }, { name: `${s}/Transpose_out` });
    const merged = b.op('Reshape', [ctx, b.i64('merge', o.merge2d ? [2] : [3], o.merge2d ? [-1, D] : [0, 0, D])], {}, { name: `${s}/Reshape_out` });
    const proj = b.op('MatMul', [merged, weights(b, 'c_proj.w', D, D, 3 + layer)], {}, { name: `${s}/c_proj` });
    x = o.merge2d ? proj : b.op('Add', [x, proj], {}, { name: `${s}/residual` });
    if (presentK) b.output(presentK, `present_key${sfx}`);
    if (o.past) b.output(presentV, `present_value${sfx}`);
    if (o.exportProbs) b.output(probs, `probs${sfx}`);
    if (o.merge2d) break;
  }
  b.output(x, 'out');
  return b.build();
}

interface LlamaOptions {
  past?: boolean;
  /** cos/sin computed from inv_freq (HF ≥ 4.38) or gathered from constant tables (older HF). */
  rotary?: 'computed' | 'table' | 'none';
  heads?: number;
  kvHeads?: number;
  headSize?: number;
  /** Leave the scores unmasked (bidirectional). */
  noMask?: boolean;
  /** HF ≥ 4.48 spelling: `view(*input_shape, -1, head_dim)`, `reshape(*input_shape, -1)`, `* scaling`. */
  inferredHeads?: boolean;
  /** q/k/v projections with biases (Qwen2). */
  qkvBias?: boolean;
}

/** Rotary inverse frequencies, base 10000. */
function invFreq(h: number): number[] {
  return Array.from({ length: h / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / h));
}

/** One Llama attention block: q/k/v MatMuls → heads → rope → [cache] → repeat_kv → scores + mask → Softmax → ·V → merge → o_proj. */
function llamaBlock(o: LlamaOptions = {}): Model {
  const N = o.heads ?? 4;
  const KV = o.kvHeads ?? 2;
  const H = o.headSize ?? 16;
  const dm = N * H;
  const rep = N / KV;
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const x = b.input('hidden', 'float32', ['batch', 'seq', dm]);
  const mask = b.input('attention_mask', 'int64', ['batch', 'total']);
  const pos = b.input('position_ids', 'int64', ['batch', 'seq']);
  const pastK = o.past ? b.input('past_key', 'float32', ['batch', KV, 'past', H]) : null;
  const pastV = o.past ? b.input('past_value', 'float32', ['batch', KV, 'past', H]) : null;
  const s = '/model/layers.0/self_attn';
  const proj = (name: string, width: number, seed: number): Value => {
    const y = b.op('MatMul', [x, weights(b, `w${name}`, dm, width, seed)], {}, { name: `${s}/${name}_proj/MatMul` });
    if (!o.qkvBias) return y;
    const r = prng(seed + 100);
    return b.op('Add', [b.f32(`b${name}`, [width], Array.from({ length: width }, () => r() - 0.5)), y], {}, { name: `${s}/${name}_proj/Add` });
  };
  const q4 = heads(b, proj('q', N * H, 11), o.inferredHeads ? -1 : N, H, `${s}/q`);
  const k4 = heads(b, proj('k', KV * H, 12), o.inferredHeads ? -1 : KV, H, `${s}/k`);
  const v4 = heads(b, proj('v', KV * H, 13), o.inferredHeads ? -1 : KV, H, `${s}/v`);
  let qr = q4;
  let kr = k4;
  if (o.rotary !== 'none') {
    let cos: Value;
    let sin: Value;
    if (o.rotary === 'table') {
      const m = 64;
      const inv = invFreq(H);
      const c: number[] = [];
      const sn: number[] = [];
      for (let p = 0; p < m; p++) for (let j = 0; j < H; j++) {
        c.push(Math.cos(p * inv[j % (H / 2)]));
        sn.push(Math.sin(p * inv[j % (H / 2)]));
      }
      cos = b.op('Gather', [b.f32('cos_cached', [m, H], c), pos], { axis: 0 }, { name: '/model/rotary_emb/Gather' });
      sin = b.op('Gather', [b.f32('sin_cached', [m, H], sn), pos], { axis: 0 }, { name: '/model/rotary_emb/Gather_1' });
    } else {
      const r = '/model/rotary_emb';
      const batch = b.op('Concat', [dim(b, pos, 0, r), b.i64('ones2', [2], [1, 1])], { axis: 0 }, named(b, r, 'Concat'));
      const inv = b.op('Expand', [b.f32('inv_freq', [1, H / 2, 1], invFreq(H)), batch], {}, named(b, r, 'Expand'));
      const p = b.op('Cast', [b.op('Unsqueeze', [pos, b.i64('ax1', [1], [1])], {}, named(b, r, 'Unsqueeze'))], { to: 1 }, named(b, r, 'Cast'));
      const f = b.op('Transpose', [b.op('MatMul', [inv, p], {}, named(b, r, 'MatMul'))], { perm: [0, 2, 1] }, named(b, r, 'Transpose'));
      const emb = b.op('Concat', [f, f], { axis: -1 }, named(b, r, 'Concat'));
      cos = b.op('Cos', [emb], {}, { name: '/model/rotary_emb/Cos' });
      sin = b.op('Sin', [emb], {}, { name: '/model/rotary_emb/Sin' });
    }
    const cosU = b.op('Unsqueeze', [cos, b.i64('ax1u', [1], [1])], {}, { name: `${s}/Unsqueeze_cos` });
    const sinU = b.op('Unsqueeze', [sin, b.i64('ax1u', [1], [1])], {}, { name: `${s}/Unsqueeze_sin` });
    const rope = (t: Value, name: string): Value => {
      const lo = b.op('Slice', [t, b.i64('s0', [1], [0]), b.i64('sh', [1], [H / 2]), b.i64('ax3', [1], [3])], {}, { name: `${s}/${name}/Slice` });
      const end = b.initializer('smax', Tensor.from('int64', [1], BigInt64Array.of(INT64_MAX)));
      const hi = b.op('Slice', [t, b.i64('sh', [1], [H / 2]), end, b.i64('ax3', [1], [3])], {}, { name: `${s}/${name}/Slice_1` });
      const rot = b.op('Concat', [b.op('Neg', [hi], {}, { name: `${s}/${name}/Neg` }), lo], { axis: -1 }, { name: `${s}/${name}/Concat` });
      return b.op('Add', [b.op('Mul', [t, cosU], {}, { name: `${s}/${name}/Mul` }), b.op('Mul', [rot, sinU], {}, { name: `${s}/${name}/Mul_1` })], {}, { name: `${s}/${name}/Add` });
    };
    qr = rope(q4, 'rope_q');
    kr = rope(k4, 'rope_k');
  }
  const presentK = pastK ? b.op('Concat', [pastK, kr], { axis: 2 }, { name: `${s}/Concat_k` }) : kr;
  const presentV = pastV ? b.op('Concat', [pastV, v4], { axis: 2 }, { name: `${s}/Concat_v` }) : v4;
  const repeat = (t: Value, name: string): Value => {
    if (rep === 1) return t;
    const sc = `${s}/${name}`;
    const sh = b.op('Shape', [t], {}, named(b, sc, 'Shape'));
    const part = (from: number, to: number) => b.op('Slice', [sh, b.i64('from', [1], [from]), b.i64('to', [1], [to])], {}, named(b, sc, 'Slice'));
    const five = b.op('Concat', [part(0, 2), b.i64('rep', [1], [rep]), part(2, 4)], { axis: 0 }, named(b, sc, 'Concat'));
    const e = b.op('Expand', [b.op('Unsqueeze', [t, b.i64('ax2', [1], [2])], {}, { name: `${s}/${name}/Unsqueeze` }), five], {}, { name: `${s}/${name}/Expand` });
    const four = b.op('Concat', [part(0, 1), b.i64('n', [1], [N]), part(2, 4)], { axis: 0 }, named(b, sc, 'Concat'));
    return b.op('Reshape', [e, four], {}, { name: `${s}/${name}/Reshape` });
  };
  const kRep = repeat(presentK, 'repeat_k');
  let scores = b.op('MatMul', [qr, b.op('Transpose', [kRep], { perm: [0, 1, 3, 2] }, { name: `${s}/Transpose_k` })], {}, { name: `${s}/MatMul` });
  scores = o.inferredHeads
    ? b.op('Mul', [scores, b.f32('scaling', [], [1 / Math.sqrt(H)])], {}, { name: `${s}/Mul_scale` })
    : b.op('Div', [scores, b.f32('sqrt_h', [], [Math.sqrt(H)])], {}, { name: `${s}/Div` });
  if (!o.noMask) {
    // model-level 4-D mask [B, 1, S, T] from the input shapes: causal rows of a triangle, padded keys filled
    const causal = causalSlice(b, pos, 1, mask, 1, 64, '/model');
    const mask4d = b.op('Where', [causal, paddingTerm(b, mask), b.f32('min4d', [], [MIN])], {}, { name: '/model/mask4d' });
    scores = b.op('Add', [scores, mask4d], {}, { name: `${s}/Add_mask` });
  }
  const probs = b.op('Softmax', [scores], { axis: -1 }, { name: `${s}/Softmax` });
  const ctx = b.op('Transpose', [b.op('MatMul', [probs, repeat(presentV, 'repeat_v')], {}, { name: `${s}/MatMul_1` })], { perm: [0, 2, 1, 3] }, { name: `${s}/Transpose_out` });
  const merged = b.op('Reshape', [ctx, b.i64('merge', [3], [0, 0, o.inferredHeads ? -1 : N * H])], {}, { name: `${s}/Reshape_out` });
  b.output(b.op('MatMul', [merged, weights(b, 'wo', N * H, dm, 14)], {}, { name: `${s}/o_proj/MatMul` }), 'out');
  if (o.past) {
    b.output(presentK, 'present_key', tensorType('float32', ['batch', KV, 'total', H]));
    b.output(presentV, 'present_value', tensorType('float32', ['batch', KV, 'total', H]));
  }
  return b.build();
}

interface FeedOptions {
  batch: number;
  seq: number;
  past: number;
  /** Valid tokens per batch row (right padding); default all. */
  lengths?: number[];
  seed?: number;
}

/** Feeds for the test blocks: hidden states, a right-padded mask, positions past..past+seq, past KV. */
function feedsFor(m: Model, o: FeedOptions): Record<string, HostTensor> {
  const r = prng(o.seed ?? 7);
  const total = o.past + o.seq;
  const feeds: Record<string, HostTensor> = {};
  for (const v of m.graph.inputs) {
    const shape = (v.shape ?? []).map((d) => (d === 'batch' ? o.batch : d === 'seq' ? o.seq : d === 'past' ? o.past : d === 'total' ? total : (d as number)));
    const n = shape.reduce((a, b) => a * b, 1);
    if (v.name === 'attention_mask') {
      const data = new BigInt64Array(n);
      for (let bi = 0; bi < o.batch; bi++) for (let t = 0; t < total; t++) data[bi * total + t] = t < (o.lengths?.[bi] ?? total) ? 1n : 0n;
      feeds[v.name] = { dtype: 'int64', dims: shape, data };
    } else if (v.name === 'position_ids') {
      feeds[v.name] = { dtype: 'int64', dims: shape, data: BigInt64Array.from({ length: n }, (_, i) => BigInt(o.past + (i % o.seq))) };
    } else {
      feeds[v.name] = { dtype: 'float32', dims: shape, data: Float32Array.from({ length: n }, () => r() * 2 - 1) };
    }
  }
  return feeds;
}


/** Fuses (plus dead-code elimination) and returns the pass record. */
function fuse(m: Model, params: Partial<FuseAttentionParams> = {}) {
  return runPasses(m, [{ pass: fuseAttention, params }, { pass: eliminateDeadCode }], { fixedPoint: false });
}

/** Runs `before` and `after` on `feeds`; every output must agree within FP32_FUSION. */
async function expectSameOutputs(before: Uint8Array, after: Model, feeds: Record<string, HostTensor>): Promise<number> {
  const want = await runModel(before, feeds);
  const got = await runModel(serializeModelToBytes(after), feeds);
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  let worst = 0;
  for (const [name, w] of Object.entries(want)) {
    const c = compareTensors(name, w, got[name], FP32_FUSION);
    expect(c.passed, `${name}: max abs ${c.maxAbsErr}, cosine ${c.cosine}`).toBe(true);
    worst = Math.max(worst, c.maxAbsErr);
  }
  return worst;
}

const byType = (m: Model, opType: string): Node[] => m.graph.nodes.filter((n) => n.opType === opType);
const attentionOps = (m: Model): string[] => m.graph.nodes.filter((n) => n.domain === 'com.microsoft').map((n) => n.opType);
const ioOf = (m: Model) => ({ inputs: m.graph.inputs.map((v) => `${v.name}:${v.dtype}[${v.shape?.join(',')}]`), outputs: m.graph.outputs.map((v) => `${v.name}:[${v.shape?.join(',') ?? '?'}]`) });

describe('fuse-attention: GPT-2 style → MultiHeadAttention', () => {
  it('fuses a cached block into one MultiHeadAttention with the causal+padding mask as attention_bias', async () => {
    const m = gpt2Block({ past: true, scale: 'shape' });
    const before = serializeModelToBytes(m);
    const io = ioOf(m);
    const rec = fuse(m);
    expect(rec.fused.MultiHeadAttention).toBe(1);
    const [mha] = byType(m, 'MultiHeadAttention');
    expect(mha.domain).toBe('com.microsoft');
    expect(mha.name).toBe('/blk/attn/MultiHeadAttention_fused');
    expect(mha.attrInt('num_heads')).toBe(4);
    expect(mha.attrFloat('scale')).toBeCloseTo(0.25, 7);
    expect(mha.attr('unidirectional')).toBeUndefined();
    expect(mha.inputs.map((v) => v?.name ?? '')).toEqual(['/blk/attn/Split_out0', '/blk/attn/Split_out1', '/blk/attn/Split_out2', '', '', mha.input(5).name, 'past_key', 'past_value']);
    expect(mha.outputs.map((v) => v?.name)).toEqual([mha.output(0).name, 'present_key', 'present_value']);
    // IO unchanged: names, dtypes, symbolic shapes
    expect(ioOf(m)).toEqual(io);
    expect(m.opsetImports.get('com.microsoft')).toBe(1);
    // the bias is causal rows of the triangle + the padding term, [B, 1, S, T]
    const bias = mha.input(5).producer as Node;
    expect(bias.opType).toBe('Add');
    expect(bias.inputs[1]?.producer?.name).toBe('/model/pad');
    expect(m.graph.nodes.map((n) => n.opType).filter((t) => ['Softmax', 'Transpose', 'Concat', 'Div'].includes(t))).toEqual(['Concat', 'Concat']);
    expect(rec.provenance.find((p) => p.opType === 'MultiHeadAttention')?.sources).toEqual(expect.arrayContaining(['/blk/attn/Softmax', '/blk/attn/MatMul', '/blk/attn/Where', '/blk/attn/Div', '/blk/attn/q/Transpose']));
    expect(rec.diagnostics).toEqual([]);
    for (const [batch, seq, past] of [[2, 3, 5], [2, 1, 7], [1, 4, 0]]) {
      await expectSameOutputs(before, m, feedsFor(m, { batch, seq, past }));
    }
    // padded keys (right and left) are honoured exactly: every output equal, padded rows too
    await expectSameOutputs(before, m, feedsFor(m, { batch: 3, seq: 2, past: 4, lengths: [6, 4, 3] }));
    const left = feedsFor(m, { batch: 2, seq: 3, past: 3 });
    (left.attention_mask.data as BigInt64Array).set([0n, 0n, 1n, 1n, 1n, 1n], 0);
    await expectSameOutputs(before, m, left);
  });

  it('fuses the uncached export: BNHS keys, Mul scale, 2-D head merge', async () => {
    const m = gpt2Block({ bnhsKeys: true, scale: 'mul', merge2d: true });
    const before = serializeModelToBytes(m);
    const rec = fuse(m);
    expect(rec.fused.MultiHeadAttention).toBe(1);
    const [mha] = byType(m, 'MultiHeadAttention');
    expect(mha.outputs).toHaveLength(1);
    expect(mha.inputs).toHaveLength(6);
    // the 2-D target [-1, 64] is re-applied to the fused output
    const reshape = mha.output(0).uses[0].node;
    expect(reshape.opType).toBe('Reshape');
    expect(Array.from(reshape.input(1).initializer?.toNumbers() ?? [])).toEqual([-1, 64]);
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 5, past: 0 }));
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 5, past: 0, lengths: [5, 2] }));
  });

  it('builds the attention_bias once and shares it between layers', async () => {
    const m = gpt2Block({ past: true, layers: 3 });
    const before = serializeModelToBytes(m);
    const rec = fuse(m);
    expect(rec.fused.MultiHeadAttention).toBe(3);
    const mhas = byType(m, 'MultiHeadAttention');
    expect(mhas.map((n) => n.name)).toEqual(['/blk/attn/MultiHeadAttention_fused', '/blk1/attn/MultiHeadAttention_fused', '/blk2/attn/MultiHeadAttention_fused']);
    expect(new Set(mhas.map((n) => n.input(5))).size).toBe(1);
    expect(byType(m, 'Where')).toHaveLength(1);
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 2, past: 3, lengths: [5, 4] }));
  });

  it('says why a block is not fused', () => {
    const cases: Array<[Gpt2Options, RegExp]> = [
      [{ exportProbs: true }, /intermediate '.*' of '\/blk\/attn\/Softmax' is a graph output/],
      [{ fill: -1 }, /Where '\/blk\/attn\/Where' fills with -1, not a large negative mask value/],
      [{ maskBeforeScale: true }, /mask Add '\/blk\/attn\/Add_early' is applied before the scaling/],
    ];
    for (const [opts, why] of cases) {
      const m = gpt2Block(opts);
      const n = m.graph.nodeCount;
      const rec = fuse(m);
      expect(attentionOps(m), JSON.stringify(opts)).toEqual([]);
      expect(m.graph.nodeCount).toBe(n);
      const d = rec.diagnostics.find((x) => x.pass === 'fuse-attention');
      expect(d?.kind).toBe('rejected');
      expect(d?.rule).toBe('multi-head-attention');
      expect(d?.nodes[0]).toBe('/blk/attn/Softmax');
      expect(d?.message).toMatch(why);
    }
  });

  it('mhaAsGqa: fuses a cached block into GroupQueryAttention fed by the packed c_attn projection', async () => {
    const m = gpt2Block({ past: true, scale: 'shape' });
    const before = serializeModelToBytes(m);
    const io = ioOf(m);
    const rec = fuse(m, { mhaAsGqa: true });
    expect(rec.fused).toMatchObject({ GroupQueryAttention: 1 });
    expect(rec.fused.MultiHeadAttention).toBeUndefined();
    const [gqa] = byType(m, 'GroupQueryAttention');
    expect(gqa.attrInt('num_heads')).toBe(4);
    expect(gqa.attrInt('kv_num_heads')).toBe(4);
    expect(gqa.attrInt('do_rotary')).toBe(0);
    expect(gqa.attrFloat('scale')).toBeCloseTo(0.25, 7);
    // the Split's input is the packed query; key/value are empty, the Split is gone
    expect(gqa.inputs[1] ?? null).toBeNull();
    expect(gqa.inputs[2] ?? null).toBeNull();
    expect(byType(m, 'Split')).toEqual([]);
    expect(gqa.input(3).name).toBe('past_key');
    expect(ioOf(m)).toEqual(io);
    // right-padded and full batches agree on every valid row (GQA's contract: right padding)
    for (const f of [{ batch: 1, seq: 1, past: 7 }, { batch: 1, seq: 5, past: 0 }, { batch: 2, seq: 1, past: 5 }]) {
      await expectSameOutputs(before, m, feedsFor(m, f));
    }
  });

  it('mhaAsGqa: a bidirectional block is not made GroupQueryAttention (always causal), with the reason', () => {
    const m = gpt2Block({ past: true, causal: false });
    const rec = fuse(m, { mhaAsGqa: true });
    expect(attentionOps(m)).toEqual([]);
    const d = rec.diagnostics.find((x) => x.rule === 'group-query-attention');
    expect(d?.kind).toBe('rejected');
    expect(d?.message).toMatch(/no causal triangle/);
  });

  it('leaves GPT-2 blocks alone when the mha variant is off', () => {
    const m = gpt2Block({ past: true });
    const rec = fuse(m, { mha: false });
    expect(attentionOps(m)).toEqual([]);
    expect(rec.diagnostics).toEqual([]);
  });
});

describe('fuse-attention: Llama style → GroupQueryAttention', () => {
  it('fuses a cached GQA block with rotary into one GroupQueryAttention and records its assumptions', async () => {
    const m = llamaBlock({ past: true });
    const before = serializeModelToBytes(m);
    const io = ioOf(m);
    const rec = fuse(m);
    expect(rec.fused.GroupQueryAttention).toBe(1);
    const [gqa] = byType(m, 'GroupQueryAttention');
    expect(gqa.name).toBe('/model/layers.0/self_attn/GroupQueryAttention_fused');
    expect(Object.fromEntries([...gqa.attributes].map(([k, a]) => [k, 'value' in a ? a.value : null]))).toEqual({
      num_heads: 4, kv_num_heads: 2, scale: 0.25, do_rotary: 1, rotary_interleaved: 0,
    });
    // q/k/v packed into one MatMul with the weights side by side: [64, 64 + 32 + 32]
    const qkv = gqa.input(0).producer as Node;
    expect(qkv.name).toBe('/model/layers.0/self_attn/qkv_proj/MatMul_fused');
    expect(qkv.input(0).name).toBe('hidden');
    expect(qkv.input(1).initializer?.dims).toEqual([64, 128]);
    expect(gqa.inputs.map((v) => v?.name ?? null)).toEqual([
      qkv.output(0).name, null, null, 'past_key', 'past_value', gqa.input(5).name, gqa.input(6).name, 'rotary_cos_cache', 'rotary_sin_cache',
    ]);
    expect(gqa.outputs.map((v) => v?.name)).toEqual([gqa.output(0).name, 'present_key', 'present_value']);
    expect(gqa.input(7).initializer?.dims).toEqual([4096, 8]);
    // seqlens_k = ReduceSum(int32 mask) − 1; total_sequence_length = mask.shape[1] as int32
    expect(gqa.input(5).producer?.opType).toBe('Sub');
    expect(gqa.input(6).producer?.opType).toBe('Cast');
    expect(ioOf(m)).toEqual(io);
    // nothing of the rotary, repeat_kv or mask is left
    expect(m.graph.nodes.map((n) => n.opType).sort()).toEqual(['Cast', 'Cast', 'GroupQueryAttention', 'MatMul', 'MatMul', 'ReduceSum', 'Shape', 'Sub']);
    const warning = rec.diagnostics.find((d) => d.kind === 'warning');
    expect(warning?.nodes).toEqual([gqa.name]);
    expect(warning?.message).toMatch(/right-padded .* no left padding/);
    expect(warning?.message).toMatch(/position_ids is no longer read/);
    const contract = rec.passes.find((p) => p.name === 'fuse-attention');
    expect(contract?.modified).toBe(true);
    const result = fuseAttention.run(llamaBlock({ past: true }), {}, { mha: true, gqa: true, packQkv: false, mhaAsGqa: false, staticKv: false, rotaryCacheLength: 256 });
    expect(result.ioContract?.inputs?.attention_mask.role).toBe('sequence lengths');
    expect(result.ioContract?.inputs?.position_ids.role).toBe('unused');
    expect(result.ioContract?.description).toMatch(/sequence length ≤ 256/);
    for (const [batch, seq, past] of [[2, 1, 5], [1, 3, 4], [2, 4, 0], [1, 1, 0]]) {
      await expectSameOutputs(before, m, feedsFor(m, { batch, seq, past }));
    }
  });

  it('packs biased q/k/v projections (Qwen2) into one MatMul + Add', async () => {
    const m = llamaBlock({ past: true, qkvBias: true });
    const before = serializeModelToBytes(m);
    fuse(m);
    const [gqa] = byType(m, 'GroupQueryAttention');
    const add = gqa.input(0).producer as Node;
    expect(add.opType).toBe('Add');
    expect(add.input(1).initializer?.dims).toEqual([128]);
    expect(add.input(0).producer?.opType).toBe('MatMul');
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 1, past: 5 }));
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 4, past: 0 }));
  });

  it('keeps q, k and v separate when packQkv is off', async () => {
    const m = llamaBlock({ past: true });
    const before = serializeModelToBytes(m);
    fuse(m, { packQkv: false });
    const [gqa] = byType(m, 'GroupQueryAttention');
    expect(gqa.inputs.slice(0, 3).map((v) => v?.producer?.name)).toEqual(['q_proj', 'k_proj', 'v_proj'].map((p) => `/model/layers.0/self_attn/${p}/MatMul`));
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 1, past: 5 }));
  });

  it('staticKv: past and present become one max-length buffer, recorded in the IO contract', async () => {
    const m = llamaBlock({ past: true });
    const before = serializeModelToBytes(m);
    const result = fuseAttention.run(m, {}, { mha: true, gqa: true, packQkv: true, mhaAsGqa: false, staticKv: true, rotaryCacheLength: 64 });
    const shapeOf = (name: string) => [...m.graph.inputs, ...m.graph.outputs].find((v) => v.name === name)?.shape;
    for (const name of ['past_key', 'past_value', 'present_key', 'present_value']) expect(shapeOf(name)).toEqual(['batch', 2, 'max_sequence_length', 16]);
    expect(result.ioContract?.inputs?.past_key.role).toBe('kv cache buffer');
    expect(result.ioContract?.outputs?.present_value.note).toMatch(/the same buffer as 'past_value'/);
    expect(result.ioContract?.description).toMatch(/max_sequence_length \(≤ 64\)/);
    // one decode step: the original sees the 5 cached positions; the fused model a 12-long buffer holding them
    const max = 12;
    for (const [batch, seq, past] of [[2, 1, 5], [1, 3, 4], [2, 4, 0]]) {
      const ref = feedsFor(llamaBlock({ past: true }), { batch, seq, past });
      const feeds: Record<string, HostTensor> = { ...ref };
      for (const name of ['past_key', 'past_value']) {
        const src = ref[name].data as Float32Array;
        const buf = new Float32Array(batch * 2 * max * 16);
        for (let bh = 0; bh < batch * 2; bh++) buf.set(src.subarray(bh * past * 16, (bh + 1) * past * 16), bh * max * 16);
        feeds[name] = { dtype: 'float32', dims: [batch, 2, max, 16], data: buf };
      }
      const want = await runModel(before, ref);
      const got = await runModel(serializeModelToBytes(m), feeds);
      expect(compareTensors('out', want.out, got.out, FP32_FUSION).passed).toBe(true);
      expect(got.present_key.dims).toEqual([batch, 2, max, 16]);
      for (const name of ['present_key', 'present_value']) {
        const total = past + seq;
        const head = (t: HostTensor, len: number) => Float32Array.from({ length: batch * 2 * total * 16 }, (_, i) => {
          const bh = Math.floor(i / (total * 16));
          return (t.data as Float32Array)[bh * len * 16 + (i % (total * 16))];
        });
        const c = compareTensors(name, { dtype: 'float32', dims: [batch, 2, total, 16], data: head(want[name], total) }, { dtype: 'float32', dims: [batch, 2, total, 16], data: head(got[name], max) }, FP32_FUSION);
        expect(c.passed, `${name}: ${c.maxAbsErr}`).toBe(true);
      }
    }
  });

  it('honours right padding through seqlens_k (the valid positions agree)', async () => {
    const m = llamaBlock({ past: true });
    const before = serializeModelToBytes(m);
    fuse(m);
    for (const f of [{ batch: 3, seq: 1, past: 5, lengths: [6, 6, 6] }, { batch: 3, seq: 4, past: 0, lengths: [4, 2, 3] }]) {
      const feeds = feedsFor(m, f);
      const want = await runModel(before, feeds);
      const got = await runModel(serializeModelToBytes(m), feeds);
      const valid = (bi: number, si: number) => f.past + si < (f.lengths?.[bi] ?? Infinity);
      expect(rowsMaxErr(want.out, got.out, valid)).toBeLessThan(FP32_FUSION.atol);
    }
  });

  it('fuses the uncached form with rotary tables gathered by position', async () => {
    const m = llamaBlock({ rotary: 'table' });
    const before = serializeModelToBytes(m);
    const rec = fuse(m);
    expect(rec.fused.GroupQueryAttention).toBe(1);
    const [gqa] = byType(m, 'GroupQueryAttention');
    expect(gqa.outputs).toHaveLength(1);
    expect(gqa.inputs[3]).toBeNull();
    expect(gqa.input(7).initializer?.dims).toEqual([64, 8]);
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 6, past: 0 }));
  });

  it('fuses grouped KV heads without rotary (do_rotary = 0)', async () => {
    const m = llamaBlock({ rotary: 'none', past: true });
    const before = serializeModelToBytes(m);
    fuse(m);
    const [gqa] = byType(m, 'GroupQueryAttention');
    expect(gqa.attrInt('do_rotary')).toBe(0);
    expect(gqa.inputs.length).toBeLessThanOrEqual(9);
    expect(gqa.inputs[7] ?? null).toBeNull();
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 1, past: 3 }));
  });

  it('reads the head count from the projection when the split says -1 (HF ≥ 4.48)', async () => {
    const m = llamaBlock({ past: true, inferredHeads: true });
    const before = serializeModelToBytes(m);
    expect(fuse(m).fused.GroupQueryAttention).toBe(1);
    const [gqa] = byType(m, 'GroupQueryAttention');
    expect([gqa.attrInt('num_heads'), gqa.attrInt('kv_num_heads')]).toEqual([4, 2]);
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 1, past: 5 }));
  });

  it('fuses a block with as many KV heads and no rotary into MultiHeadAttention with its 4-D mask as attention_bias', async () => {
    const m = llamaBlock({ past: true, rotary: 'none', kvHeads: 4 });
    const before = serializeModelToBytes(m);
    const rec = fuse(m);
    expect(rec.diagnostics).toEqual([]);
    expect(rec.fused.MultiHeadAttention).toBe(1);
    const [mha] = byType(m, 'MultiHeadAttention');
    expect(mha.input(5).producer?.name).toBe('/model/mask4d');
    for (const [batch, seq, past] of [[2, 1, 5], [2, 3, 2], [1, 4, 0]]) await expectSameOutputs(before, m, feedsFor(m, { batch, seq, past }));
    await expectSameOutputs(before, m, feedsFor(m, { batch: 2, seq: 2, past: 3, lengths: [5, 3] }));
  });

  it('says why a block is not fused', () => {
    const cases: Array<[LlamaOptions, RegExp]> = [
      [{ headSize: 8, heads: 8, kvHeads: 4 }, /head size 8 is not a multiple of 16 \(GroupQueryAttention's rotary requires it\)/],
      [{ noMask: true }, /no mask on the scores: GroupQueryAttention is always causal/],
    ];
    for (const [opts, why] of cases) {
      const m = llamaBlock(opts);
      const rec = fuse(m);
      expect(attentionOps(m)).toEqual([]);
      const d = rec.diagnostics.find((x) => x.pass === 'fuse-attention');
      expect(d?.rule).toBe('group-query-attention');
      expect(d?.message).toMatch(why);
    }
  });
});

describe('ShapeArithmetic', () => {
  it('evaluates the shape arithmetic exporters leave behind', () => {
    const b = new GraphBuilder({ opsets: { '': 17 } });
    const x = b.input('x', 'float32', ['batch', 'seq', 64]);
    const x4 = b.op('Transpose', [b.op('Reshape', [x, b.i64('s', [4], [0, 0, 4, 16])])], { perm: [0, 2, 1, 3] });
    const last = b.op('Gather', [b.op('Shape', [x4]), b.i64('i', [], [3])], { axis: 0 });
    const half = b.op('Div', [last, b.i64('two', [], [2])]);
    const sqrt = b.op('Pow', [b.op('Cast', [last], { to: 1 }), b.f32('p', [], [0.5])]);
    const seq = b.op('Shape', [x4], { start: 2, end: 3 });
    const ar = new ShapeArithmetic();
    expect(ar.dims(x4)).toEqual([null, 4, null, 16]);
    expect(ar.scalar(half)).toBe(8);
    expect(ar.scalar(sqrt)).toBe(4);
    expect(ar.values(seq)).toEqual({ values: [null], isInt: true });
    expect(ar.scalar(b.op('Div', [b.i64('seven', [], [7]), b.i64('two2', [], [2])]))).toBe(3);
    expect(ar.values(b.initializer('t', Tensor.from('float32', [2], Float32Array.of(1.5, 2))))).toEqual({ values: [1.5, 2], isInt: false });
  });
});
