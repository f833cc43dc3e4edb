/**
 * A Llama-8B-shaped graph for the graph-view benchmark: 32 decoder layers with the op pattern and
 * torch name scopes of a torchscript export (`/model/layers.N/self_attn/...`: RMSNorm as
 * Pow/ReduceMean/Add/Sqrt/Div/Mul, q/k/v/o projections, Shape→Gather→Unsqueeze→Concat→Reshape head
 * splits, rotary embedding, KV concat with the past, GQA repeat_kv, softmax attention, SwiGLU MLP,
 * Constant nodes), about 10k nodes. Widths are tiny (d = 64): it is for drawing, not for running.
 */
import { GraphBuilder, type Model, type Value } from '@fuselab/graph-core';

export function buildLlamaShaped(layers = 32, d = 64): Model {
  const b = new GraphBuilder({ opsets: { '': 17 } });
  let k = 0;
  const w = (name: string, dims: number[]) => b.f32(name, dims, new Float32Array(dims.reduce((x, y) => x * y, 1)).map(() => ((k = (k * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.04));
  const counters = new Map<string, number>();
  const op = (scope: string, type: string, inputs: Array<Value | null>, attrs: Record<string, number | number[]> = {}) => {
    const key = `${scope}/${type}`;
    const i = counters.get(key) ?? 0;
    counters.set(key, i + 1);
    const name = `${scope}/${type}${i ? `_${i}` : ''}`;
    return b.op(type, inputs, attrs, { name, outputNames: [`${name}_output_0`] });
  };
  const constant = (scope: string, v: number[]) => {
    const t = b.i64(`${scope}/c${counters.size}_${k++}`, [v.length], v);
    return op(scope, 'Identity', [t]);
  };
  // Shape → Gather → Unsqueeze → Concat → Reshape, the way torchscript spells view()
  const view = (scope: string, x: Value, tail: number[]) => {
    const g0 = op(scope, 'Gather', [op(scope, 'Shape', [x]), constant(scope, [0])], { axis: 0 });
    const g1 = op(scope, 'Gather', [op(scope, 'Shape', [x]), constant(scope, [1])], { axis: 0 });
    const u0 = op(scope, 'Unsqueeze', [g0, constant(scope, [0])]);
    const u1 = op(scope, 'Unsqueeze', [g1, constant(scope, [0])]);
    const shape = op(scope, 'Concat', [u0, u1, constant(scope, tail)], { axis: 0 });
    return op(scope, 'Reshape', [x, shape]);
  };
  const rms = (scope: string, x: Value, weight: string) => {
    const c = op(scope, 'Cast', [x], { to: 1 });
    const p = op(scope, 'Pow', [c, b.f32(`${scope}/two`, [], [2])]);
    const m = op(scope, 'ReduceMean', [p], { axes: [-1], keepdims: 1 });
    const a = op(scope, 'Add', [m, b.f32(`${scope}/eps`, [], [1e-5])]);
    const r = op(scope, 'Sqrt', [a]);
    const dv = op(scope, 'Div', [b.f32(`${scope}/one`, [], [1]), r]);
    const n = op(scope, 'Mul', [c, dv]);
    return op(scope, 'Mul', [w(weight, [d]), op(scope, 'Cast', [n], { to: 1 })]);
  };
  const rotary = (scope: string, x: Value, cos: Value, sin: Value) => {
    const half = op(scope, 'Slice', [x, constant(scope, [0]), constant(scope, [d / 4]), constant(scope, [-1])]);
    const rest = op(scope, 'Slice', [x, constant(scope, [d / 4]), constant(scope, [d / 2]), constant(scope, [-1])]);
    const rot = op(scope, 'Concat', [op(scope, 'Neg', [rest]), half], { axis: -1 });
    return op(scope, 'Add', [op(scope, 'Mul', [x, cos]), op(scope, 'Mul', [rot, sin])]);
  };
  const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const pos = b.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  let h = op('/model/embed_tokens', 'Gather', [w('model.embed_tokens.weight', [128, d]), ids]);
  const cosT = op('/model/rotary_emb', 'Gather', [w('model.rotary_emb.cos', [256, d / 2]), pos]);
  const sinT = op('/model/rotary_emb', 'Gather', [w('model.rotary_emb.sin', [256, d / 2]), pos]);
  const mask = op('/model', 'Trilu', [op('/model', 'Expand', [b.f32('/model/neg', [1, 1], [-1e9]), op('/model', 'Shape', [ids])])], { upper: 1 });
  for (let l = 0; l < layers; l++) {
    const L = `/model/layers.${l}`;
    const pasts = new Map<string, Value>();
    const past = (name: string) => {
      let p = pasts.get(name);
      if (!p) { p = b.input(`past_key_values.${l}.${name}`, 'float32', ['batch_size', 2, 'past_sequence_length', d / 8]); pasts.set(name, p); }
      return p;
    };
    const A = `${L}/self_attn`;
    const x = rms(`${L}/input_layernorm`, h, `model.layers.${l}.input_layernorm.weight`);
    const proj = (name: string, out: number) => op(`${A}/${name}`, 'MatMul', [x, w(`model.layers.${l}.self_attn.${name}.weight`, [d, out])]);
    const q = op(A, 'Transpose', [view(A, proj('q_proj', d / 2), [4, d / 8])], { perm: [0, 2, 1, 3] });
    const kk = op(A, 'Transpose', [view(A, proj('k_proj', d / 4), [2, d / 8])], { perm: [0, 2, 1, 3] });
    const v = op(A, 'Transpose', [view(A, proj('v_proj', d / 4), [2, d / 8])], { perm: [0, 2, 1, 3] });
    // rotary tables sliced to the sequence per layer, and the causal mask sliced per layer
    const R = `${A}/rotary_emb`;
    const seq = op(R, 'Gather', [op(R, 'Shape', [v]), constant(R, [2])], { axis: 0 });
    const end = op(R, 'Add', [seq, op(R, 'Gather', [op(R, 'Shape', [past('key')]), constant(R, [2])], { axis: 0 })]);
    const cosS = op(R, 'Cast', [op(R, 'Slice', [cosT, constant(R, [0]), op(R, 'Unsqueeze', [end, constant(R, [0])]), constant(R, [1])])], { to: 1 });
    const sinS = op(R, 'Cast', [op(R, 'Slice', [sinT, constant(R, [0]), op(R, 'Unsqueeze', [end, constant(R, [0])]), constant(R, [1])])], { to: 1 });
    const cos = op(A, 'Unsqueeze', [cosS, constant(A, [1])]);
    const sin = op(A, 'Unsqueeze', [sinS, constant(A, [1])]);
    let lm = mask;
    for (let i = 0; i < 4; i++) lm = op(A, 'Slice', [lm, constant(A, [0]), op(A, 'Unsqueeze', [end, constant(A, [0])]), constant(A, [i])]);
    lm = op(A, 'Where', [op(A, 'Equal', [lm, b.f32(`${A}/zero`, [], [0])]), b.f32(`${A}/zero_f`, [], [0]), lm]);
    const qr = rotary(A, q, cos, sin);
    const kr = rotary(A, kk, cos, sin);
    const kc = op(A, 'Concat', [past('key'), kr], { axis: -2 });
    const vc = op(A, 'Concat', [past('value'), v], { axis: -2 });
    b.output(kc, `present.${l}.key`);
    b.output(vc, `present.${l}.value`);
    // repeat_kv: Unsqueeze → Expand → Reshape with its shape arithmetic
    const repeat = (t: Value) => {
      const u = op(A, 'Unsqueeze', [t, constant(A, [2])]);
      const s = op(A, 'Shape', [t]);
      const parts = [0, 1, 2, 3].map((i) => op(A, 'Unsqueeze', [op(A, 'Gather', [i === 0 ? s : op(A, 'Shape', [t]), constant(A, [i])], { axis: 0 }), constant(A, [0])]));
      const e = op(A, 'Expand', [u, op(A, 'Concat', [parts[0], parts[1], constant(A, [2]), parts[2], parts[3]], { axis: 0 })]);
      return op(A, 'Reshape', [e, op(A, 'Concat', [parts[0], constant(A, [4]), parts[2], parts[3]], { axis: 0 })]);
    };
    const kv = repeat(kc);
    const vv = repeat(vc);
    const scores = op(A, 'Div', [op(A, 'MatMul', [qr, op(A, 'Transpose', [kv], { perm: [0, 1, 3, 2] })]), b.f32(`${A}/scale`, [], [Math.sqrt(d / 8)])]);
    const probs = op(A, 'Cast', [op(A, 'Softmax', [op(A, 'Cast', [op(A, 'Add', [scores, lm])], { to: 1 })], { axis: -1 })], { to: 1 });
    const ctx = view(A, op(A, 'Transpose', [op(A, 'MatMul', [probs, vv])], { perm: [0, 2, 1, 3] }), [d / 2]);
    h = op(L, 'Add', [h, op(`${A}/o_proj`, 'MatMul', [ctx, w(`model.layers.${l}.self_attn.o_proj.weight`, [d / 2, d])])]);
    const y = rms(`${L}/post_attention_layernorm`, h, `model.layers.${l}.post_attention_layernorm.weight`);
    const M = `${L}/mlp`;
    const gate = op(`${M}/gate_proj`, 'MatMul', [y, w(`model.layers.${l}.mlp.gate_proj.weight`, [d, 2 * d])]);
    const up = op(`${M}/up_proj`, 'MatMul', [y, w(`model.layers.${l}.mlp.up_proj.weight`, [d, 2 * d])]);
    const act = op(`${M}/act_fn`, 'Mul', [gate, op(`${M}/act_fn`, 'Sigmoid', [gate])]);
    h = op(L, 'Add', [h, op(`${M}/down_proj`, 'MatMul', [op(M, 'Mul', [act, up]), w(`model.layers.${l}.mlp.down_proj.weight`, [2 * d, d])])]);
  }
  const out = op('/lm_head', 'MatMul', [rms('/model/norm', h, 'model.norm.weight'), w('lm_head.weight', [d, 128])]);
  b.output(out, 'logits');
  return b.build({ producerName: 'fuselab-bench' });
}
