/**
 * onnxruntime contrib ops (domain `com.microsoft`) that its WebGPU backend runs, with signatures as
 * onnxruntime 1.30's registered schemas define them (input/output names and order, attribute names,
 * types and defaults). These are what the optimizer's fusions emit, so they must match exactly.
 *
 * Note: onnxruntime registers LayerNormalization and SimplifiedLayerNormalization in the ONNX
 * domain, not in com.microsoft; they live in `normalization.ts`.
 */
import type { DType } from '../ir/dtype.ts';
import type { Dim, Shape } from '../ir/shape.ts';
import { dimAdd, dimDivExact, dimEquals, dimMul } from '../symbolic.ts';
import { broadcastShapes, fmt, passThrough, unifyDim } from './infer-utils.ts';
import { matmulShape } from './matmul.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema, type PortSpec } from './schema.ts';

const MS = 'com.microsoft';

function need3D(ctx: InferenceContext, i: number, what: string): Shape | null {
  const s = ctx.inputShape(i);
  if (s && s.length !== 3) ctx.fail(`${what} ${fmt(s)} must be 3-D (batch_size, sequence_length, hidden_size)`);
  return s;
}

// ---- normalization fusions ----------------------------------------------------------------------

function skipNormInfer(ctx: InferenceContext, biasIndex: number): void {
  const x = ctx.inputShape(0);
  const skip = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  if (x && x.length !== 2 && x.length !== 3) ctx.fail(`input ${fmt(x)} must be 2-D or 3-D`);
  if (x && skip) {
    const hidden = x[x.length - 1];
    if (unifyDim(hidden, skip[skip.length - 1]) === undefined) ctx.fail(`skip ${fmt(skip)} has hidden size ${skip[skip.length - 1]}, input ${fmt(x)} has ${hidden}`);
  }
  const gamma = ctx.inputShape(2);
  if (x && gamma && (gamma.length !== 1 || unifyDim(gamma[0], x[x.length - 1]) === undefined)) ctx.fail(`gamma ${fmt(gamma)} must be [hidden_size] = [${x[x.length - 1]}]`);
  const bias = ctx.hasInput(biasIndex) ? ctx.inputShape(biasIndex) : null;
  if (x && bias && (bias.length !== 1 || unifyDim(bias[0], x[x.length - 1]) === undefined)) ctx.fail(`bias ${fmt(bias)} must be [hidden_size] = [${x[x.length - 1]}]`);
  ctx.setOutput(0, dtype, x);
  const stats: Shape | null = x ? [...x.slice(0, -1), 1] : null;
  if (ctx.hasOutput(1)) ctx.setOutput(1, 'float32', stats);
  if (ctx.hasOutput(2)) ctx.setOutput(2, 'float32', stats);
  if (ctx.hasOutput(3)) ctx.setOutput(3, dtype, x);
}

const GROUP_NORM_ATTRS: Record<string, AttrSpec> = {
  activation: { type: 'int', required: true, doc: 'Activation after normalization: 0 none, 1 SiLU.' },
  channels_last: { type: 'int', default: 1, doc: '1: NHWC layout; 0: NCHW.' },
  epsilon: { type: 'float', default: 1e-5, doc: 'Added to the variance to avoid division by zero.' },
  groups: { type: 'int', required: true, doc: 'Number of channel groups (divides C).' },
};

// ---- attention ----------------------------------------------------------------------------------

/** Present KV length: past + new, unless past and present share one max-length buffer. */
function presentLength(past: Dim, added: Dim, shared: boolean): Dim {
  return shared ? past : dimAdd(past, added);
}

function attentionInfer(ctx: InferenceContext): void {
  const x = need3D(ctx, 0, 'input');
  const w = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  const numHeads = ctx.attrInt('num_heads');
  if (w && w.length !== 2) ctx.fail(`weights ${fmt(w)} must be 2-D`);
  if (x && w && unifyDim(x[2], w[0]) === undefined) ctx.fail(`weights ${fmt(w)} expect input hidden size ${w[0]}, input ${fmt(x)} has ${x[2]}`);
  const sizes = ctx.attrInts('qkv_hidden_sizes');
  if (sizes && sizes.length !== 3) ctx.fail(`qkv_hidden_sizes has ${sizes.length} entries; 3 expected`);
  const bias = ctx.hasInput(2) ? ctx.inputShape(2) : null;
  const total = w ? w[1] : bias ? bias[0] : null;
  const hidden: Dim = sizes ? sizes[0] : dimDivExact(total, 3);
  const vHidden: Dim = sizes ? sizes[2] : hidden;
  ctx.setOutput(0, dtype, x ? [x[0], x[1], vHidden] : null);
  if (!ctx.hasOutput(1)) return;
  const headSize = dimDivExact(hidden, numHeads);
  const past = ctx.hasInput(4) ? ctx.inputShape(4) : null;
  if (past && past.length !== 5) ctx.fail(`past ${fmt(past)} must be 5-D (2, batch_size, num_heads, past_sequence_length, head_size)`);
  const shared = ctx.attrIntOr('past_present_share_buffer', 0) !== 0;
  const seq = x ? x[1] : null;
  if (past) ctx.setOutput(1, dtype, [2, past[1], past[2], presentLength(past[3], seq, shared), past[4]]);
  else if (ctx.hasInput(4)) ctx.setOutput(1, dtype, null);
  else ctx.setOutput(1, dtype, [2, x ? x[0] : null, numHeads, seq, headSize]);
}

function mhaInfer(ctx: InferenceContext): void {
  const q = ctx.inputShape(0);
  const k = ctx.hasInput(1) ? ctx.inputShape(1) : null;
  const v = ctx.hasInput(2) ? ctx.inputShape(2) : null;
  const dtype = ctx.inputDType(0);
  const numHeads = ctx.attrInt('num_heads');
  if (q && q.length !== 3 && q.length !== 5) ctx.fail(`query ${fmt(q)} must be 3-D, or 5-D packed QKV`);
  let out: Shape | null = null;
  let headSize: Dim = null;
  let kvSeq: Dim = null;
  let kvIsPast = false;
  if (q?.length === 5) {
    out = [q[0], q[1], dimMul(q[2], q[4])];
    headSize = q[4];
    kvSeq = q[1];
  } else if (q) {
    headSize = dimDivExact(q[2], numHeads);
    if (v && v.length === 3) {
      out = [q[0], q[1], v[2]];
      kvSeq = v[1];
    } else if (v && v.length === 4) {
      out = [q[0], q[1], dimMul(v[1], v[3])];
      kvSeq = v[2];
      kvIsPast = true;
    } else if (k && k.length === 5) {
      out = [q[0], q[1], q[2]];
      kvSeq = k[1];
    } else if (!ctx.hasInput(1) && !ctx.hasInput(2)) {
      out = [q[0], q[1], q[2]];
      kvSeq = q[1];
    }
    if (k && k.length === 3) kvSeq = k[1];
  }
  ctx.setOutput(0, dtype, out);
  const pastKey = ctx.hasInput(6) ? ctx.inputShape(6) : null;
  if (pastKey && pastKey.length !== 4) ctx.fail(`past_key ${fmt(pastKey)} must be 4-D (batch_size, num_heads, past_sequence_length, head_size)`);
  const shared = ctx.hasInput(8);
  const batch = q ? q[0] : null;
  let present: Shape | null;
  if (pastKey) present = [pastKey[0], pastKey[1], presentLength(pastKey[2], kvSeq, shared), pastKey[3]];
  else if (ctx.hasInput(6)) present = null;
  else if (kvIsPast && v) present = v;
  else present = [batch, numHeads, kvSeq, headSize];
  if (ctx.hasOutput(1)) ctx.setOutput(1, dtype, present);
  if (ctx.hasOutput(2)) ctx.setOutput(2, dtype, present);
  if (ctx.hasOutput(3)) ctx.setOutput(3, dtype, [batch, numHeads, q ? q[1] : null, present ? present[2] : null]);
}

/**
 * GroupQueryAttention's present KV length, as onnxruntime 1.30 computes it: the larger of the past
 * buffer and total_sequence_length (a shared max-length buffer keeps its size; otherwise the
 * buffer grows to the total). Symbolic totals are assumed to cover a symbolic past.
 */
function gqaPresentLength(past: Dim | undefined, total: Dim, kvSeq: Dim): Dim {
  if (past === undefined) return total ?? kvSeq;
  if (typeof past === 'number' && typeof total === 'number') return Math.max(past, total);
  if (total === null) return past === 0 ? null : past;
  if (typeof past === 'number') return past === 0 ? total : past;
  return dimEquals(past, total) === true ? past : total;
}

function gqaInfer(ctx: InferenceContext): void {
  const q = need3D(ctx, 0, 'query');
  const dtype = ctx.inputDType(0);
  const numHeads = ctx.attrInt('num_heads');
  const kvHeads = ctx.attrInt('kv_num_heads');
  if (numHeads <= 0 || kvHeads <= 0 || numHeads % kvHeads !== 0) ctx.fail(`num_heads ${numHeads} must be a positive multiple of kv_num_heads ${kvHeads}`);
  const packed = !ctx.hasInput(1) && !ctx.hasInput(2);
  let headSize: Dim = null;
  let out: Shape | null = null;
  let kvSeq: Dim = null;
  if (q) {
    if (packed) {
      headSize = dimDivExact(q[2], numHeads + 2 * kvHeads);
      out = [q[0], q[1], dimMul(headSize, numHeads)];
      kvSeq = q[1];
    } else {
      headSize = dimDivExact(q[2], numHeads);
      out = q;
      const k = ctx.inputShape(1);
      const v = ctx.inputShape(2);
      if (k && k.length === 3 && unifyDim(k[2], dimMul(headSize, kvHeads)) === undefined) ctx.fail(`key ${fmt(k)} must have hidden size kv_num_heads * head_size = ${kvHeads} * ${headSize}`);
      if (v && v.length === 3) kvSeq = v[1];
      else if (k && k.length === 3) kvSeq = k[1];
    }
  }
  ctx.setOutput(0, dtype, out);
  const total = ctx.inputDims(6)?.[0] ?? null;
  const past = ctx.hasInput(3) ? ctx.inputShape(3) : null;
  if (past && past.length !== 4) ctx.fail(`past_key ${fmt(past)} must be 4-D (batch_size, kv_num_heads, past_sequence_length, head_size)`);
  const windowed = ctx.attrInt('sliding_window_cache') === 1;
  const presentType: DType | null = ctx.hasInput(3) ? ctx.inputDType(3) : dtype;
  let present: Shape | null;
  if (past) present = [past[0], past[1], windowed ? past[2] : gqaPresentLength(past[2], total, kvSeq), past[3]];
  else if (ctx.hasInput(3)) present = null;
  else present = [q ? q[0] : null, kvHeads, gqaPresentLength(undefined, total, kvSeq), headSize];
  if (ctx.hasOutput(1)) ctx.setOutput(1, presentType, present);
  if (ctx.hasOutput(2)) ctx.setOutput(2, ctx.hasInput(4) ? ctx.inputDType(4) : presentType, present);
  if (ctx.hasOutput(3)) ctx.setOutput(3, dtype, [q ? q[0] : null, numHeads, q ? q[1] : null, total]);
}

function rotaryInfer(ctx: InferenceContext): void {
  const x = ctx.inputShape(0);
  if (x && x.length !== 3 && x.length !== 4) ctx.fail(`input ${fmt(x)} must be 3-D or 4-D`);
  const cos = ctx.inputShape(2);
  const sin = ctx.inputShape(3);
  if (cos && cos.length !== 2) ctx.fail(`cos_cache ${fmt(cos)} must be 2-D (max_sequence_length, head_size / 2)`);
  if (cos && sin && (cos.length !== sin.length || cos.some((d, i) => unifyDim(d, sin[i]) === undefined))) ctx.fail(`cos_cache ${fmt(cos)} and sin_cache ${fmt(sin)} differ`);
  passThrough(ctx);
}

// ---- matmuls ------------------------------------------------------------------------------------

function fusedMatMulInfer(ctx: InferenceContext): void {
  const prep = (s: Shape | null, trans: boolean, transBatch: boolean): Shape | null => {
    if (!s || s.length < 2) return s;
    let d = s.slice();
    if (transBatch) d = [...d.slice(1, -1), d[0], d[d.length - 1]];
    if (trans) [d[d.length - 2], d[d.length - 1]] = [d[d.length - 1], d[d.length - 2]];
    return d;
  };
  const a = prep(ctx.inputShape(0), ctx.attrInt('transA') !== 0, ctx.attrInt('transBatchA') !== 0);
  const b = prep(ctx.inputShape(1), ctx.attrInt('transB') !== 0, ctx.attrInt('transBatchB') !== 0);
  ctx.setOutput(0, ctx.inputDType(0), matmulShape(ctx, a, b));
}

function matMulNBitsInfer(ctx: InferenceContext): void {
  const a = ctx.inputShape(0);
  const k = ctx.attrInt('K');
  const n = ctx.attrInt('N');
  const blockSize = ctx.attrInt('block_size');
  const bits = ctx.attrInt('bits');
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) ctx.fail(`block_size ${blockSize} must be a power of two >= 16`);
  if (a && a.length === 0) ctx.fail('A must have rank >= 1');
  if (a && typeof a[a.length - 1] === 'number' && a[a.length - 1] !== k) ctx.fail(`A ${fmt(a)} has ${a[a.length - 1]} columns but K is ${k}`);
  const b = ctx.inputShape(1);
  const kBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  if (b && b.length === 3 && !ctx.attrInt('weight_prepacked')) {
    const want = [n, kBlocks, blob];
    if (b.some((d, i) => typeof d === 'number' && d !== want[i])) ctx.fail(`B ${fmt(b)} must be [N, k_blocks, blob_size] = [${want.join(',')}] for K=${k}, N=${n}, block_size=${blockSize}, bits=${bits}`);
  }
  const bias = ctx.hasInput(5) ? ctx.inputShape(5) : null;
  if (bias && (bias.length !== 1 || (typeof bias[0] === 'number' && bias[0] !== n))) ctx.fail(`bias ${fmt(bias)} must be [N] = [${n}]`);
  ctx.setOutput(0, ctx.inputDType(0), a ? [...a.slice(0, -1), n] : null);
}

const XY: PortSpec[] = [{ name: 'X' }];
const SKIP_OUTPUTS: PortSpec[] = [
  { name: 'output', doc: 'Normalized sum, same shape as input.' },
  { name: 'mean', optional: true, doc: 'Saved mean (training).' },
  { name: 'inv_std_var', optional: true, doc: 'Saved inverse standard deviation (training).' },
  { name: 'input_skip_bias_sum', optional: true, doc: 'input + skip (+ bias), before normalization.' },
];
const EPS_12: AttrSpec = { type: 'float', default: 1e-12, doc: 'Added to the variance to avoid division by zero.' };

/** com.microsoft contrib op schemas. */
export const contribOps: readonly OpSchema[] = [
  defineOp({
    domain: MS, opType: 'SkipLayerNormalization', since: 1, doc: 'LayerNorm(input + skip + bias) * gamma + beta, in one kernel.',
    inputs: [
      { name: 'input', doc: '(batch_size, sequence_length, hidden_size).' },
      { name: 'skip', doc: 'Residual, same shape as input (or broadcastable over batch).' },
      { name: 'gamma', doc: '(hidden_size).' },
      { name: 'beta', optional: true, doc: '(hidden_size).' },
      { name: 'bias', optional: true, doc: '(hidden_size), added before normalization.' },
    ],
    outputs: SKIP_OUTPUTS,
    attrs: { epsilon: EPS_12 },
    inferShape: (ctx) => skipNormInfer(ctx, 4),
  }),
  defineOp({
    domain: MS, opType: 'SkipSimplifiedLayerNormalization', since: 1, doc: 'RMSNorm(input + skip + bias) * gamma, in one kernel.',
    inputs: [
      { name: 'input', doc: '(batch_size, sequence_length, hidden_size) or (token_count, hidden_size).' },
      { name: 'skip', doc: 'Residual, same shape as input.' },
      { name: 'gamma', doc: '(hidden_size).' },
      { name: 'bias', optional: true, doc: '(hidden_size), added before normalization.' },
    ],
    outputs: SKIP_OUTPUTS,
    attrs: { epsilon: EPS_12 },
    inferShape: (ctx) => skipNormInfer(ctx, 3),
  }),
  defineOp({
    domain: MS, opType: 'GroupNorm', since: 1, doc: 'Group normalization (NHWC by default) with optional SiLU.',
    inputs: [{ name: 'X' }, { name: 'gamma' }, { name: 'beta' }], outputs: [{ name: 'Y' }],
    attrs: GROUP_NORM_ATTRS,
    inferShape: (ctx) => passThrough(ctx),
  }),
  defineOp({
    domain: MS, opType: 'SkipGroupNorm', since: 1, doc: 'GroupNorm(X + skip + bias) (NHWC by default) with optional SiLU; S is the sum.',
    inputs: [{ name: 'X' }, { name: 'gamma' }, { name: 'beta' }, { name: 'skip' }, { name: 'bias', optional: true }],
    outputs: [{ name: 'Y' }, { name: 'S', optional: true }],
    attrs: GROUP_NORM_ATTRS,
    inferShape(ctx) {
      passThrough(ctx);
      if (ctx.hasOutput(1)) passThrough(ctx, 0, 1);
    },
  }),
  defineOp({
    domain: MS, opType: 'Gelu', since: 1, doc: 'Exact GELU: x * Phi(x).',
    inputs: XY, outputs: [{ name: 'Y' }], inferShape: (ctx) => passThrough(ctx),
  }),
  defineOp({
    domain: MS, opType: 'FastGelu', since: 1, doc: 'tanh-approximated GELU of X (+ bias).',
    inputs: [{ name: 'X' }, { name: 'bias', optional: true }], outputs: [{ name: 'Y' }],
    inferShape: (ctx) => ctx.setOutput(0, ctx.inputDType(0), ctx.hasInput(1) ? broadcastShapes(ctx, [ctx.inputShape(0), ctx.inputShape(1)]) : ctx.inputShape(0)),
  }),
  defineOp({
    domain: MS, opType: 'BiasGelu', since: 1, doc: 'Exact GELU of A + B (B a 1-D bias).',
    inputs: [{ name: 'A' }, { name: 'B' }], outputs: [{ name: 'C' }],
    inferShape: (ctx) => ctx.setOutput(0, ctx.inputDType(0), broadcastShapes(ctx, [ctx.inputShape(0), ctx.inputShape(1)])),
  }),
  defineOp({
    domain: MS, opType: 'QuickGelu', since: 1, doc: 'x * sigmoid(alpha * x).',
    inputs: XY, outputs: [{ name: 'Y' }],
    attrs: { alpha: { type: 'float', default: 1.7020000219345093, doc: 'Alpha.' } },
    inferShape: (ctx) => passThrough(ctx),
  }),
  defineOp({
    domain: MS, opType: 'BiasAdd', since: 1, doc: 'X + bias + skip for (N, S, C) tensors (WebGPU only in onnxruntime-web).',
    inputs: [{ name: 'X', doc: '(N, S, C).' }, { name: 'bias', doc: '(C).' }, { name: 'skip', doc: '(N, S, C).' }], outputs: [{ name: 'Y' }],
    inferShape(ctx) {
      const x = ctx.inputShape(0);
      if (x && x.length !== 3) ctx.fail(`X ${fmt(x)} must be 3-D (N, S, C)`);
      ctx.setOutput(0, ctx.inputDType(0), broadcastShapes(ctx, [x, ctx.inputShape(1), ctx.inputShape(2)]));
    },
  }),
  defineOp({
    domain: MS, opType: 'Attention', since: 1, doc: 'Multi-head self attention with merged QKV projection weights, optional past/present state.',
    inputs: [
      { name: 'input', doc: '(batch_size, sequence_length, input_hidden_size).' },
      { name: 'weights', doc: '(input_hidden_size, hidden_size + hidden_size + v_hidden_size).' },
      { name: 'bias', optional: true, doc: '(hidden_size + hidden_size + v_hidden_size).' },
      { name: 'mask_index', optional: true, doc: 'Attention mask or mask index (int32).' },
      { name: 'past', optional: true, doc: '(2, batch_size, num_heads, past_sequence_length, head_size).' },
      { name: 'attention_bias', optional: true, doc: '(batch_size or 1, num_heads or 1, sequence_length, total_sequence_length).' },
      { name: 'past_sequence_length', optional: true, doc: 'Past length when past_present_share_buffer is set (int32).' },
    ],
    outputs: [
      { name: 'output', doc: '(batch_size, sequence_length, v_hidden_size).' },
      { name: 'present', optional: true, doc: '(2, batch_size, num_heads, total_sequence_length, head_size).' },
    ],
    attrs: {
      do_rotary: { type: 'int', default: 0, doc: 'Apply rotary position embedding.' },
      mask_filter_value: { type: 'float', default: -10000, doc: 'Value used for masked positions.' },
      num_heads: { type: 'int', required: true, doc: 'Number of attention heads.' },
      past_present_share_buffer: { type: 'int', default: 0, doc: '1: past and present are one max-length buffer.' },
      qkv_hidden_sizes: { type: 'ints', doc: 'Hidden sizes of Q, K, V when they differ.' },
      rotary_embedding_dim: { type: 'int', doc: 'Rotary dimension (32, 64 or 128). Default: head_size.' },
      scale: { type: 'float', doc: 'Scale of Q*K\'. Default: 1/sqrt(head_size).' },
      unidirectional: { type: 'int', default: 0, doc: '1: causal (each token attends to earlier ones only).' },
    },
    inferShape: attentionInfer,
  }),
  defineOp({
    domain: MS, opType: 'MultiHeadAttention', since: 1, doc: 'Multi-head self/cross attention on projected Q, K, V, with optional past/present KV.',
    inputs: [
      { name: 'query', doc: '(batch_size, sequence_length, hidden_size), or packed QKV (batch_size, sequence_length, num_heads, 3, head_size).' },
      { name: 'key', optional: true, doc: '(batch_size, kv_sequence_length, hidden_size), packed KV, or past key (batch_size, num_heads, kv_sequence_length, head_size).' },
      { name: 'value', optional: true, doc: '(batch_size, kv_sequence_length, v_hidden_size), or past value (BNSH).' },
      { name: 'bias', optional: true, doc: '(hidden_size + hidden_size + v_hidden_size) input projection bias.' },
      { name: 'key_padding_mask', optional: true, doc: 'Key padding mask (int32).' },
      { name: 'attention_bias', optional: true, doc: '(batch_size or 1, num_heads or 1, sequence_length, total_sequence_length).' },
      { name: 'past_key', optional: true, doc: '(batch_size, num_heads, past_sequence_length, head_size).' },
      { name: 'past_value', optional: true, doc: '(batch_size, num_heads, past_sequence_length, head_size).' },
      { name: 'past_sequence_length', optional: true, doc: 'Past length when past and present share a buffer (int32).' },
      { name: 'cache_indirection', optional: true, doc: '(batch_size, beam_width, max_sequence_length) beam indices (int32).' },
    ],
    outputs: [
      { name: 'output', doc: '(batch_size, sequence_length, v_hidden_size).' },
      { name: 'present_key', optional: true, doc: '(batch_size, num_heads, total_sequence_length, head_size).' },
      { name: 'present_value', optional: true, doc: '(batch_size, num_heads, total_sequence_length, head_size).' },
      { name: 'qk', optional: true, doc: '(batch_size, num_heads, sequence_length, total_sequence_length).' },
    ],
    attrs: {
      mask_filter_value: { type: 'float', default: -10000, doc: 'Value used for masked positions.' },
      num_heads: { type: 'int', required: true, doc: 'Number of attention heads.' },
      scale: { type: 'float', doc: 'Scale of Q*K\'. Default: 1/sqrt(head_size).' },
      unidirectional: { type: 'int', default: 0, doc: '1: causal (each token attends to earlier ones only).' },
    },
    inferShape: mhaInfer,
  }),
  defineOp({
    domain: MS, opType: 'GroupQueryAttention', since: 1, doc: 'Grouped-query attention with KV cache (BNSH), seqlens_k, optional rotary from cos/sin caches.',
    inputs: [
      { name: 'query', doc: '(batch_size, sequence_length, hidden_size), or packed QKV.' },
      { name: 'key', optional: true, doc: '(batch_size, kv_sequence_length, kv_hidden_size).' },
      { name: 'value', optional: true, doc: '(batch_size, kv_sequence_length, kv_hidden_size).' },
      { name: 'past_key', optional: true, doc: '(batch_size, kv_num_heads, past_or_max_sequence_length, head_size).' },
      { name: 'past_value', optional: true, doc: '(batch_size, kv_num_heads, past_or_max_sequence_length, head_size).' },
      { name: 'seqlens_k', doc: '(batch_size) int32: total sequence length of each batch entry minus 1.' },
      { name: 'total_sequence_length', doc: 'int32 scalar: the maximum total (past + new) sequence length.' },
      { name: 'cos_cache', optional: true, doc: '(max_sequence_length, head_size / 2).' },
      { name: 'sin_cache', optional: true, doc: '(max_sequence_length, head_size / 2).' },
      { name: 'position_ids', optional: true, doc: '(batch_size, sequence_length) int64.' },
      { name: 'attention_bias', optional: true, doc: '(batch_size or 1, num_heads or 1, sequence_length, total_sequence_length).' },
      { name: 'head_sink', optional: true, doc: '(num_heads) softmax sink per head.' },
      { name: 'k_scale', optional: true, doc: 'Scale of a quantized past_key.' },
      { name: 'v_scale', optional: true, doc: 'Scale of a quantized past_value.' },
      { name: 'q_norm_weight', optional: true, doc: '(head_size) per-head RMS norm weight for Q.' },
      { name: 'k_norm_weight', optional: true, doc: '(head_size) per-head RMS norm weight for K.' },
    ],
    outputs: [
      { name: 'output', doc: '(batch_size, sequence_length, hidden_size).' },
      { name: 'present_key', optional: true, doc: '(batch_size, kv_num_heads, present_sequence_length, head_size).' },
      { name: 'present_value', optional: true, doc: '(batch_size, kv_num_heads, present_sequence_length, head_size).' },
      { name: 'output_qk', optional: true, doc: '(batch_size, num_heads, sequence_length, total_sequence_length).' },
    ],
    attrs: {
      causal: { type: 'int', default: 1, doc: '1: causal mask; 0: bidirectional.' },
      do_rotary: { type: 'int', default: 0, doc: 'Apply rotary embedding to Q and K using cos_cache/sin_cache.' },
      k_quant_type: { type: 'string', default: 'NONE', doc: "K cache quantization: 'NONE', 'PER_TENSOR', 'PER_CHANNEL'." },
      kv_cache_bit_width: { type: 'int', doc: 'Bit width of a quantized KV cache (8 or 4).' },
      kv_num_heads: { type: 'int', required: true, doc: 'Number of K/V heads.' },
      local_window_size: { type: 'int', default: -1, doc: 'Left window for local attention; -1: unused.' },
      num_heads: { type: 'int', required: true, doc: 'Number of Q heads.' },
      qk_norm_epsilon: { type: 'float', default: 1e-6, doc: 'Epsilon of the per-head Q/K RMS norm.' },
      qk_output: { type: 'int', default: 0, doc: 'Output Q*K\' before (1) or after (2) softmax; 0: no output.' },
      rotary_interleaved: { type: 'int', default: 0, doc: '1: interleaved rotary pattern.' },
      scale: { type: 'float', doc: 'Scale of Q*K\'. Default: 1/sqrt(head_size).' },
      sliding_window_cache: { type: 'int', default: 0, doc: '1: past/present are window-sized buffers.' },
      smooth_softmax: { type: 'int', default: -1, doc: 'Use a smooth factor in softmax.' },
      softcap: { type: 'float', default: 0, doc: 'Softcap of attention weights; 0: none.' },
      v_quant_type: { type: 'string', default: 'NONE', doc: "V cache quantization: 'NONE', 'PER_TENSOR', 'PER_CHANNEL'." },
    },
    inferShape: gqaInfer,
  }),
  defineOp({
    domain: MS, opType: 'RotaryEmbedding', since: 1, doc: 'Rotary position embedding of input from cos/sin caches at position_ids.',
    inputs: [
      { name: 'input', doc: '(batch_size, sequence_length, hidden_size) or (batch_size, num_heads, sequence_length, head_size).' },
      { name: 'position_ids', doc: '(1) start position, or (batch_size, sequence_length).' },
      { name: 'cos_cache', doc: '(max_sequence_length, rotary_embedding_dim / 2).' },
      { name: 'sin_cache', doc: '(max_sequence_length, rotary_embedding_dim / 2).' },
    ],
    outputs: [{ name: 'output' }],
    attrs: {
      interleaved: { type: 'int', default: 0, doc: '1: real and imaginary parts interleaved.' },
      is_packed_batching: { type: 'int', default: 0, doc: '1: ragged (packed) batch.' },
      num_heads: { type: 'int', default: 0, doc: 'Number of heads (with rotary_embedding_dim, for 3-D input).' },
      rotary_embedding_dim: { type: 'int', default: 0, doc: 'Rotary dimension; 0: head_size.' },
      scale: { type: 'float', default: 1, doc: 'Scale of the position ids.' },
    },
    inferShape: rotaryInfer,
  }),
  defineOp({
    domain: MS, opType: 'FusedMatMul', since: 1, doc: 'alpha * matmul(A\', B\') with optional transposes (CPU-only on onnxruntime-web WebGPU).',
    inputs: [{ name: 'A' }, { name: 'B' }], outputs: [{ name: 'Y' }],
    attrs: {
      alpha: { type: 'float', default: 1, doc: 'Scale of the product.' },
      transA: { type: 'int', default: 0, doc: 'Transpose the last two dims of A.' },
      transB: { type: 'int', default: 0, doc: 'Transpose the last two dims of B.' },
      transBatchA: { type: 'int', default: 0, doc: 'Move A\'s first dim behind its batch dims.' },
      transBatchB: { type: 'int', default: 0, doc: 'Move B\'s first dim behind its batch dims.' },
    },
    inferShape: fusedMatMulInfer,
  }),
  defineOp({
    domain: MS, opType: 'MatMulNBits', since: 1, doc: 'A times a block-quantized (2/4/8-bit) constant weight [N, K]: Y = A · dequant(B)ᵀ (+ bias).',
    inputs: [
      { name: 'A', doc: 'Input (..., K), not quantized.' },
      { name: 'B', doc: 'uint8 packed weights (N, k_blocks, blob_size).' },
      { name: 'scales', doc: '(N, k_blocks) (or N * k_blocks), same type as A.' },
      { name: 'zero_points', optional: true, doc: 'Packed uint8 (N, ceil(k_blocks * bits / 8)) or unpacked (N, k_blocks).' },
      { name: 'g_idx', optional: true, doc: 'Deprecated group index.' },
      { name: 'bias', optional: true, doc: '(N).' },
    ],
    outputs: [{ name: 'Y', doc: '(..., N).' }],
    attrs: {
      K: { type: 'int', required: true, doc: 'Input feature count.' },
      N: { type: 'int', required: true, doc: 'Output feature count.' },
      accuracy_level: { type: 'int', default: 0, doc: 'Minimum accuracy of A: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8.' },
      bits: { type: 'int', default: 4, doc: 'Bits per weight (2, 4 or 8).' },
      block_size: { type: 'int', required: true, doc: 'Quantization block size along K (power of two >= 16).' },
      weight_prepacked: { type: 'int', default: 0, doc: '1: B is already in an EP-specific layout.' },
    },
    inferShape: matMulNBitsInfer,
  }),
];
