/**
 * `quantize-qdq`: INT8 post-training quantization in QDQ form.
 *
 *   MatMul(A, W) → MatMul(DequantizeLinear(QuantizeLinear(A, s_A, z_A)), DequantizeLinear(W_q, s_W[N], 0, axis=1))
 *
 * Weights are per-channel symmetric int8 (one scale per output column, computed here); activations
 * are per-tensor, symmetric int8 or asymmetric uint8, from calibrated ranges (`calibration`: JSON
 * `{ "<value name>": [min, max] }`, as `encodeCalibration` writes it — the workflow document then
 * records exactly what was calibrated). One Q/DQ pair per activation tensor, shared by its readers
 * (q/k/v projections of one input share it).
 *
 * Only MatMuls with a constant 2-D weight are quantized: normalization, Softmax and attention stay
 * in float by construction. `exclude` keeps named MatMuls in float (mixed precision); `include`,
 * when not empty, quantizes only those (per-layer sensitivity). Weight SQNR per node is in
 * `stats.sqnrDb`.
 *
 * onnxruntime-web's WebGPU EP has no int8 MatMul kernel: there, QDQ is for size and for export to
 * runtimes that fuse Q/DQ into int8 kernels (TensorRT, Triton); wasm runs it as float "fake quant",
 * which is what validation measures.
 */
import { Tensor, tensorType, type Graph, type Node, type Value } from '@fuselab/graph-core';
import { emptyResult, type Diagnostic, type Pass } from '../pass.ts';
import { constTensor } from '../rewrite/match.ts';
import { quantParams, sqnrDb, type Range } from '../precision/calibration.ts';
import { dropIfUnused, isLmHead, weightBytes } from '../precision/graph-edit.ts';

export interface QdqParams extends Record<string, unknown> {
  calibration: string;
  activationSymmetric: boolean;
  lmHead: boolean;
  exclude: string[];
  include: string[];
}

const PASS = 'quantize-qdq';
const RULE = 'matmul-qdq';

/** Serializes activation ranges for the `calibration` parameter. */
export function encodeCalibration(ranges: ReadonlyMap<string, Range> | Record<string, Range>): string {
  const entries = ranges instanceof Map ? [...ranges] : Object.entries(ranges);
  return JSON.stringify(Object.fromEntries(entries.map(([k, r]) => [k, [r.min, r.max]])));
}

/** Parses the `calibration` parameter; a malformed document is an error naming the entry. */
export function decodeCalibration(text: string): Map<string, Range> {
  const out = new Map<string, Range>();
  if (!text) return out;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new Error(`pass '${PASS}': 'calibration' is not JSON (${(e as Error).message})`, { cause: e });
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`pass '${PASS}': 'calibration' must be an object { "<value>": [min, max] }`);
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x)) || v[0] > v[1]) {
      throw new Error(`pass '${PASS}': calibration entry '${k}' must be [min, max] with finite min ≤ max, got ${JSON.stringify(v)}`);
    }
    out.set(k, { min: v[0], max: v[1] });
  }
  return out;
}

/** Per-column symmetric int8 of a `[K, N]` weight: codes, scales, and the dequantized weight. */
export function quantizeWeightPerChannel(w: Float32Array, K: number, N: number): { q: Int8Array; scales: Float32Array; dequantized: Float32Array } {
  const scales = new Float32Array(N);
  for (let n = 0; n < N; n++) {
    let m = 0;
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(w[k * N + n]));
    scales[n] = m > 0 ? m / 127 : 1;
  }
  const q = new Int8Array(K * N);
  const dequantized = new Float32Array(K * N);
  for (let i = 0; i < K * N; i++) {
    const s = scales[i % N];
    const c = Math.max(-127, Math.min(127, Math.round(w[i] / s)));
    q[i] = c;
    dequantized[i] = c * s;
  }
  return { q, scales, dequantized };
}

export const quantizeQdq: Pass<QdqParams> = {
  name: PASS,
  description: 'INT8 PTQ: QuantizeLinear/DequantizeLinear around MatMuls — per-channel symmetric weights, calibrated per-tensor activations',
  category: 'precision',
  params: {
    calibration: { type: 'string', default: '', doc: 'Activation ranges as JSON { "<value>": [min, max] } (from calibration)' },
    activationSymmetric: { type: 'boolean', default: false, doc: 'Symmetric int8 activations (zero point 0) instead of asymmetric uint8' },
    lmHead: { type: 'boolean', default: false, doc: 'Also quantize the LM head' },
    exclude: { type: 'string[]', default: [], doc: 'MatMul node names kept in float (mixed precision)' },
    include: { type: 'string[]', default: [], doc: 'When not empty, quantize only these MatMuls (sensitivity analysis)' },
  },
  run(model, ctx, params) {
    const result = emptyResult(model);
    const g = model.graph;
    const ranges = decodeCalibration(params.calibration);
    const before = weightBytes(model);
    const exclude = new Set(params.exclude);
    const include = new Set(params.include);
    const note = (kind: Diagnostic['kind'], n: Node, message: string) => result.diagnostics.push({ pass: PASS, rule: RULE, kind, nodes: [n.name], message });
    if ((model.opset('') ?? 0) < 13) {
      result.diagnostics.push({ pass: PASS, rule: RULE, kind: 'rejected', nodes: [], message: `opset ${model.opset('')} < 13: per-axis DequantizeLinear needs opset 13` });
      return result;
    }
    const actCache = new Map<Value, Value>();
    const weightCache = new Map<Value, Value>();
    const sqnr: Record<string, number> = {};
    let count = 0;
    for (const mm of g.nodes) {
      if (mm.opType !== 'MatMul' || (mm.domain !== '' && mm.domain !== 'ai.onnx')) continue;
      if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
      const [a, wv] = mm.inputs;
      const w = constTensor(wv);
      if (!a || !wv || !w) continue;
      if (a.producer?.opType === 'DequantizeLinear') continue; // already quantized
      if (w.dims.length !== 2 || w.dtype !== 'float32') {
        note('rejected', mm, `weight '${wv.name}' is ${w.dtype} [${w.dims.join(', ')}], not a float32 [K, N] matrix`);
        continue;
      }
      if (include.size && !include.has(mm.name)) continue;
      if (exclude.has(mm.name)) {
        note('info', mm, 'kept in float: listed in exclude');
        continue;
      }
      if (!params.lmHead && isLmHead(mm)) {
        note('info', mm, 'kept in float: LM head (set lmHead to quantize it)');
        continue;
      }
      const range = ranges.get(a.name);
      if (!range) {
        note('rejected', mm, `no calibration range for its input '${a.name}': calibrate the model first`);
        continue;
      }
      const [K, N] = w.dims;
      let wdq = weightCache.get(wv);
      if (!wdq) {
        const floats = w.data() as Float32Array;
        const pq = quantizeWeightPerChannel(floats, K, N);
        sqnr[mm.name] = +sqnrDb(floats, pq.dequantized).toFixed(2);
        const wq = g.addInitializer(Tensor.from('int8', [K, N], pq.q), g.uniqueName(`${wv.name}_quantized`));
        const ws = g.addInitializer(Tensor.from('float32', [N], pq.scales), g.uniqueName(`${wv.name}_scale`));
        const wz = g.addInitializer(Tensor.from('int8', [N], new Int8Array(N)), g.uniqueName(`${wv.name}_zero_point`));
        const dq = g.createNode({ opType: 'DequantizeLinear', name: g.uniqueName(`${mm.name}/weight_DequantizeLinear`), inputs: [wq, ws, wz], attributes: { axis: 1 } });
        wdq = dq.output(0);
        wdq.type = tensorType('float32', [K, N]);
        weightCache.set(wv, wdq);
        result.provenance.push({ node: dq.name, opType: 'DequantizeLinear', sources: [mm.name], pass: PASS, rule: RULE });
      }
      let adq = actCache.get(a);
      if (!adq) {
        adq = qdqPair(g, a, quantParams(range, params.activationSymmetric), mm.name, (n) => result.provenance.push({ node: n.name, opType: n.opType, sources: [mm.name], pass: PASS, rule: RULE }));
        actCache.set(a, adq);
      }
      mm.setInput(0, adq);
      mm.setInput(1, wdq);
      dropIfUnused(g, wv);
      count++;
    }
    result.modified = count > 0;
    result.stats = { quantized: { MatMul: count }, sqnrDb: sqnr, weightBytesBefore: before, weightBytesAfter: weightBytes(model) };
    return result;
  },
};

/** `DequantizeLinear(QuantizeLinear(a, scale, zp), scale, zp)`, returning the float output. */
function qdqPair(g: Graph, a: Value, p: ReturnType<typeof quantParams>, at: string, created: (n: Node) => void): Value {
  const base = a.name.replace(/_output_0$/, '');
  const scale = g.addInitializer(Tensor.from('float32', [], new Float32Array([p.scale])), g.uniqueName(`${base}_scale`));
  const zp = g.addInitializer(p.dtype === 'int8' ? Tensor.from('int8', [], new Int8Array([p.zeroPoint])) : Tensor.from('uint8', [], new Uint8Array([p.zeroPoint])), g.uniqueName(`${base}_zero_point`));
  const q = g.createNode({ opType: 'QuantizeLinear', name: g.uniqueName(`${at}/input_QuantizeLinear`), inputs: [a, scale, zp] });
  q.output(0).type = tensorType(p.dtype, a.shape);
  const dq = g.createNode({ opType: 'DequantizeLinear', name: g.uniqueName(`${at}/input_DequantizeLinear`), inputs: [q.output(0), scale, zp] });
  dq.output(0).type = tensorType('float32', a.shape);
  created(q);
  created(dq);
  return dq.output(0);
}
