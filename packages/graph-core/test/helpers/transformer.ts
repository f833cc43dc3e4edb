/**
 * Builds a torchscript-style GPT-2 decoder in code (Constant nodes, `Shape → Gather → Unsqueeze →
 * Concat → Reshape` for every view, Gemm for Conv1D, gelu_new as Pow/Tanh arithmetic, a causal
 * mask sliced from a buffer), for tests and benchmarks that need big realistic graphs.
 */
import { GraphBuilder, Tensor, type Model, type Value } from '../../src/index.ts';

export interface TransformerOptions {
  layers: number;
  /** Model width (default 64); heads of 16. */
  hidden?: number;
  /** Extra parallel MLP branches per block (summed into the residual), to scale the node count (default 0). */
  extraMlps?: number;
}

/** A GPT-2-shaped torchscript-style decoder with symbolic batch_size / sequence_length. */
export function buildTransformer(options: TransformerOptions): Model {
  const hidden = options.hidden ?? 64;
  const heads = hidden / 16;
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const c64 = (values: number[], dims: number[] = [values.length]): Value =>
    b.op('Constant', [], { value: Tensor.from('int64', dims, BigInt64Array.from(values, (v) => BigInt(v))) });
  const cf = (v: number): Value => b.op('Constant', [], { value: Tensor.from('float32', [], Float32Array.of(v)) });
  const weight = (name: string, dims: number[]): Value => b.initializer(name, Tensor.from('float32', dims, new Float32Array(dims.reduce((x, y) => x * y, 1))));
  /** x.size(i) as a 1-element int64 vector, the way torch.onnx emits it. */
  const size = (x: Value, i: number): Value => b.op('Unsqueeze', [b.op('Gather', [b.op('Shape', [x]), c64([i], [])], { axis: 0 }), c64([0])]);
  const view = (x: Value, parts: Array<number | { of: Value; dim: number }>): Value =>
    b.op('Reshape', [x, b.op('Concat', parts.map((p) => (typeof p === 'number' ? c64([p]) : size(p.of, p.dim))), { axis: 0 })]);
  /** Conv1D: view(-1, in) → Gemm → view(b, s, out). */
  const linear = (x: Value, name: string, inDim: number, outDim: number): Value => {
    const flat = b.op('Reshape', [x, c64([-1, inDim])]);
    const y = b.op('Gemm', [flat, weight(`${name}.w`, [inDim, outDim]), weight(`${name}.b`, [outDim])]);
    return view(y, [{ of: x, dim: 0 }, { of: x, dim: 1 }, outDim]);
  };
  const geluNew = (x: Value): Value => {
    const cube = b.op('Mul', [b.op('Pow', [x, cf(3)]), cf(0.044715)]);
    const inner = b.op('Mul', [b.op('Add', [x, cube]), cf(Math.sqrt(2 / Math.PI))]);
    return b.op('Mul', [b.op('Mul', [x, cf(0.5)]), b.op('Add', [b.op('Tanh', [inner]), cf(1)])]);
  };

  const ids = b.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const mask = b.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const wte = weight('wte', [256, hidden]);
  const positions = b.op('Unsqueeze', [b.op('Range', [c64([0], []), b.op('Gather', [b.op('Shape', [ids]), c64([1], [])]), c64([1], [])]), c64([0])]);
  let h = b.op('Add', [b.op('Gather', [wte, ids]), b.op('Gather', [weight('wpe', [128, hidden]), positions])]);
  // extended mask: (1 - mask[:, None, None, :]) * finfo.min
  const ext = b.op('Unsqueeze', [b.op('Unsqueeze', [b.op('Cast', [mask], { to: 1 }), c64([1])]), c64([2])]);
  const addMask = b.op('Mul', [b.op('Sub', [cf(1), ext]), cf(-3.4028234663852886e38)]);
  const causal = b.initializer('bias', Tensor.from('bool', [1, 1, 128, 128], new Uint8Array(128 * 128)));

  const ln = (x: Value, name: string): Value => b.op('LayerNormalization', [x, weight(`${name}.g`, [hidden]), weight(`${name}.b`, [hidden])], { axis: -1, epsilon: 1e-5 });
  for (let l = 0; l < options.layers; l++) {
    const x1 = ln(h, `h${l}.ln_1`);
    const qkv = linear(x1, `h${l}.attn.c_attn`, hidden, 3 * hidden);
    const [q, k, v] = b.opN('Split', [qkv, c64([hidden, hidden, hidden])], { axis: 2 }, 3);
    const splitHeads = (t: Value, perm: number[]): Value => b.op('Transpose', [view(t, [{ of: t, dim: 0 }, { of: t, dim: 1 }, heads, 16])], { perm });
    const qh = splitHeads(q, [0, 2, 1, 3]);
    const kh = splitHeads(k, [0, 2, 3, 1]);
    const vh = splitHeads(v, [0, 2, 1, 3]);
    let scores = b.op('Div', [b.op('MatMul', [qh, kh]), cf(4)]);
    const qLen = size(qh, 2);
    const kLen = size(vh, 2);
    const rows = b.op('Slice', [causal, b.op('Sub', [kLen, qLen]), kLen, c64([2]), c64([1])]);
    const m = b.op('Slice', [rows, c64([0]), kLen, c64([3]), c64([1])]);
    scores = b.op('Add', [b.op('Where', [m, scores, cf(-3.4028234663852886e38)]), addMask]);
    const ctx = b.op('MatMul', [b.op('Softmax', [scores], { axis: -1 }), vh]);
    const merged = b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] });
    const attn = linear(view(merged, [{ of: merged, dim: 0 }, { of: merged, dim: 1 }, hidden]), `h${l}.attn.c_proj`, hidden, hidden);
    h = b.op('Add', [h, attn]);
    const x2 = ln(h, `h${l}.ln_2`);
    let mlp = linear(geluNew(linear(x2, `h${l}.mlp.c_fc`, hidden, 4 * hidden)), `h${l}.mlp.c_proj`, 4 * hidden, hidden);
    for (let e = 0; e < (options.extraMlps ?? 0); e++) {
      mlp = b.op('Add', [mlp, linear(geluNew(linear(x2, `h${l}.mlp${e}.c_fc`, hidden, 4 * hidden)), `h${l}.mlp${e}.c_proj`, 4 * hidden, hidden)]);
    }
    h = b.op('Add', [h, mlp]);
  }
  const logits = b.op('MatMul', [ln(h, 'ln_f'), b.op('Transpose', [wte], { perm: [1, 0] })]);
  b.output(logits, 'logits');
  return b.build();
}
