/**
 * `quantize-matmul-nbits`: weight-only INT4/INT8.
 *
 *   MatMul(A, W[K, N] constant) → com.microsoft.MatMulNBits(A, B, scales[, zero_points])
 *
 * with W quantized block-wise along K (`precision/matmul-nbits.ts` has the packed layout). A stays in
 * its float dtype; the kernel dequantizes on the fly. Weights shared by several MatMuls (tied
 * projections) are quantized once. The LM head (the MatMul whose output becomes the logits) and
 * node names listed in `exclude` stay in float unless asked; the embedding Gather is never touched
 * here (onnxruntime-web's wasm and WebGPU backends have no quantized gather we could validate), and
 * that choice is reported as an `info` diagnostic so it is visible.
 *
 * Stats: `quantized: { MatMulNBits: n }`, `weightBytesBefore` / `weightBytesAfter` (all initializers).
 */
import { Tensor, type Node, type Value } from '@fuselab/graph-core';
import { emptyResult, type Diagnostic, type Pass } from '../pass.ts';
import { constTensor } from '../rewrite/match.ts';
import { MS_DOMAIN } from '../rewrite/patterns.ts';
import { dropIfUnused, isLmHead, swapNode, weightBytes } from '../precision/graph-edit.ts';
import { NBITS_BLOCK_SIZES, quantizeNBits, readMatMulNBits, scalesTensorData, type NBits } from '../precision/matmul-nbits.ts';

export interface QuantizeNBitsParams extends Record<string, unknown> {
  bits: number;
  blockSize: number;
  symmetric: boolean;
  accuracyLevel: number;
  /** Quantize the LM head too. */
  lmHead: boolean;
  /** MatMul node names to keep in float (mixed precision, sensitive layers). */
  exclude: string[];
  /** Skip weights with fewer elements than this (tiny projections gain nothing). */
  minElements: number;
}

const PASS = 'quantize-matmul-nbits';
const RULE = 'matmul-to-nbits';

export const quantizeMatMulNBits: Pass<QuantizeNBitsParams> = {
  name: PASS,
  description: 'Weight-only INT4/INT8: MatMul with a constant 2-D weight → com.microsoft.MatMulNBits (block-wise, packed)',
  category: 'precision',
  params: {
    bits: { type: 'number', default: 4, min: 4, max: 8, doc: 'Bits per weight: 4 or 8' },
    blockSize: { type: 'number', default: 32, min: 16, max: 256, doc: 'Quantization block along K: 16, 32, 64, 128 or 256' },
    symmetric: { type: 'boolean', default: true, doc: 'Symmetric blocks (no zero points); false stores packed uint8 zero points' },
    accuracyLevel: { type: 'number', default: 0, min: 0, max: 4, doc: "MatMulNBits accuracy_level: 0 unset (fp32 math), 4 lets the CPU kernel quantize A to int8" },
    lmHead: { type: 'boolean', default: false, doc: 'Also quantize the LM head (the MatMul producing the logits)' },
    exclude: { type: 'string[]', default: [], doc: 'MatMul node names kept in float' },
    minElements: { type: 'number', default: 0, min: 0, doc: 'Leave weights with fewer elements than this in float' },
  },
  run(model, ctx, params) {
    const result = emptyResult(model);
    const bits = params.bits as NBits;
    if (bits !== 4 && bits !== 8) throw new Error(`pass '${PASS}': parameter 'bits' must be 4 or 8, got ${params.bits}`);
    if (!(NBITS_BLOCK_SIZES as readonly number[]).includes(params.blockSize)) throw new Error(`pass '${PASS}': parameter 'blockSize' must be one of ${NBITS_BLOCK_SIZES.join(', ')}, got ${params.blockSize}`);
    const g = model.graph;
    const before = weightBytes(model);
    const exclude = new Set(params.exclude);
    const note = (kind: Diagnostic['kind'], n: Node, message: string) => result.diagnostics.push({ pass: PASS, rule: RULE, kind, nodes: [n.name], message });
    // one quantized copy per weight tensor (and scale dtype): tied weights stay tied
    const cache = new Map<string, { b: Value; scales: Value; zp: Value | null }>();
    const candidates = g.nodes.filter((n) => n.opType === 'MatMul' && (n.domain === '' || n.domain === 'ai.onnx'));
    let count = 0;
    candidates.forEach((mm, i) => {
      if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
      ctx.onProgress?.(PASS, i / Math.max(1, candidates.length), mm.name);
      const [a, wv] = mm.inputs;
      const w = constTensor(wv);
      if (!a || !wv || !w) return;
      if (w.dims.length !== 2) return note('rejected', mm, `weight '${wv.name}' is ${w.dims.length}-D [${w.dims.join(', ')}], MatMulNBits takes a 2-D [K, N] weight`);
      if (w.dtype !== 'float32' && w.dtype !== 'float16') return note('rejected', mm, `weight '${wv.name}' is ${w.dtype}, not float32/float16`);
      const aType = a.dtype ?? w.dtype;
      if (aType !== 'float32' && aType !== 'float16') return note('rejected', mm, `input A is ${aType}, MatMulNBits needs float32/float16`);
      if (a.shape && a.shape.length < 2) return note('rejected', mm, `input A has rank ${a.shape.length}; MatMulNBits needs rank ≥ 2`);
      if (exclude.has(mm.name)) return note('info', mm, 'kept in float: listed in exclude');
      if (!params.lmHead && isLmHead(mm)) return note('info', mm, 'kept in float: LM head (set lmHead to quantize it)');
      const [K, N] = w.dims;
      if (K * N < params.minElements) return note('info', mm, `kept in float: ${K * N} weights < minElements ${params.minElements}`);
      const key = `${wv.name}|${aType}`;
      let q = cache.get(key);
      if (!q) {
        const floats = w.dtype === 'float32' ? (w.data() as Float32Array) : Float32Array.from(w.toNumbers());
        const qw = quantizeNBits(floats, { K, N, bits, blockSize: params.blockSize }, { symmetric: params.symmetric, scaleDType: aType });
        const base = `${wv.name}_Q${bits}`;
        q = {
          b: g.addInitializer(Tensor.from('uint8', [N, Math.ceil(K / params.blockSize), (params.blockSize * bits) / 8], qw.b), g.uniqueName(base)),
          scales: g.addInitializer(Tensor.from(aType, [qw.scales.length], scalesTensorData(qw.scales, aType)), g.uniqueName(`${base}_scales`)),
          zp: qw.zeroPoints ? g.addInitializer(Tensor.from('uint8', [qw.zeroPoints.length], qw.zeroPoints), g.uniqueName(`${base}_zero_points`)) : null,
        };
        cache.set(key, q);
      }
      const created = swapNode(g, mm, {
        opType: 'MatMulNBits',
        domain: MS_DOMAIN,
        name: g.uniqueName(`${mm.name}_Q${bits}`),
        inputs: q.zp ? [a, q.b, q.scales, q.zp] : [a, q.b, q.scales],
        attributes: { K, N, bits, block_size: params.blockSize, accuracy_level: params.accuracyLevel },
      });
      // what we wrote must read back: attributes against tensor shapes (a bug here is a typed error, not a bad model)
      readMatMulNBits(created, (k) => constTensor(created.inputs[k]));
      dropIfUnused(g, wv);
      result.provenance.push({ node: created.name, opType: 'MatMulNBits', sources: [mm.name], pass: PASS, rule: RULE });
      count++;
    });
    for (const n of g.nodes) {
      if (n.opType === 'Gather' && constTensor(n.inputs[0])?.dims.length === 2 && (constTensor(n.inputs[0])?.size ?? 0) >= 1024) {
        note('info', n, `embedding table '${n.inputs[0]?.name}' kept in float: no quantized gather is validated on onnxruntime-web`);
      }
    }
    if (count) {
      result.modified = true;
      if (model.opset(MS_DOMAIN) === undefined) model.opsetImports.set(MS_DOMAIN, 1);
    }
    result.stats = { quantized: { MatMulNBits: count }, weightBytesBefore: before, weightBytesAfter: weightBytes(model) };
    return result;
  },
};
