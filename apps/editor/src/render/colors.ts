/** Op colors by family (Netron-like), diff mark colors and the heat ramp. */

const FAMILY: Array<[RegExp, string]> = [
  [/Attention|Rotary/, '#f59e0b'],
  [/LayerNorm|Normalization|RMS/i, '#a78bfa'],
  [/^(MatMul|Gemm|Conv|MatMulNBits|FusedMatMul|Einsum)$/, '#60a5fa'],
  [/Gelu|Relu|Sigmoid|Tanh|Softmax|Silu|Erf|QuickGelu|Swish|LogSoftmax/, '#f87171'],
  [/^(Add|Sub|Mul|Div|Pow|Sqrt|Neg|Reciprocal|Exp|Log|Cos|Sin|Where|Equal|Less|Greater|And|Or|Not|Max|Min|Abs|BiasAdd)$/, '#34d399'],
  [/^(Reshape|Transpose|Squeeze|Unsqueeze|Concat|Split|Slice|Gather|GatherElements|Expand|Flatten|Tile|Pad|ScatterND|Range|Trilu)$/, '#94a3b8'],
  [/^(Shape|Size|ConstantOfShape|Constant|Cast|CastLike|Identity)$/, '#64748b'],
  [/^Reduce/, '#2dd4bf'],
  [/^(QuantizeLinear|DequantizeLinear|DynamicQuantizeLinear)$/, '#f472b6'],
];

export function opColor(op: string, domain = ''): string {
  if (op === 'Input') return '#38bdf8';
  if (op === 'Output') return '#fb923c';
  for (const [re, c] of FAMILY) if (re.test(op)) return c;
  return domain && domain !== 'ai.onnx' ? '#fbbf24' : '#9ca3af';
}

export const MARK_COLORS: Record<string, string> = {
  fused: '#10b981',
  rewritten: '#2dd4bf',
  added: '#38bdf8',
  removed: '#f43f5e',
  replaced: '#f59e0b',
};

/** 0..1 → a perceptual-ish ramp from deep blue through amber to red. */
export function heatColor(t: number): string {
  const x = Math.max(0, Math.min(1, t));
  const stops: Array<[number, number, number]> = [[30, 58, 138], [8, 145, 178], [250, 204, 21], [239, 68, 68]];
  const f = x * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(f));
  const u = f - i;
  const c = stops[i].map((v, k) => Math.round(v + (stops[i + 1][k] - v) * u));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
