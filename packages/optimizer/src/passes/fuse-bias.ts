/**
 * `fuse-bias`: puts linear-layer biases where one kernel can apply them.
 *
 * 1. `Reshape(Gemm(Reshape(x, [-1, K]), W, B), [..., N]) → Add(MatMul(x, W), B)`. GPT-2's Conv1D is
 *    `addmm` on a 2-D view, which both exporters spell as a Reshape → Gemm → Reshape sandwich; as a
 *    plain 3-D `MatMul + Add` the bias becomes visible to the fusions below (and the Reshapes' shape
 *    subgraphs go dead). Shapes prove the sandwich is a no-op: the outer Reshape's leading dims must
 *    equal x's (when x has more dims than that — heads not merged yet — a `Reshape(x, [0, …, 0, K])`
 *    stays in front of the MatMul). `transB=1` weights are transposed once, into a new initializer.
 * 2. `Op(Add(MatMul(X, W), B), …) → Op'(MatMul(X, W), …, bias=B)` for the consumers that take a bias:
 *    Gelu → BiasGelu, ONNX Gelu (opset 20) → BiasGelu / FastGelu, FastGelu → FastGelu(x, bias),
 *    SkipLayerNormalization → bias input 4, SkipSimplifiedLayerNormalization → bias input 3.
 *    `fuse-gelu` and `fuse-skip-layer-norm` absorb biases themselves when they fuse; this catches
 *    the ops that were already there (ONNX Gelu in dynamo exports, models fused elsewhere) or that
 *    were fused before their MatMul was unwrapped. Each move is listed as an `info` diagnostic and
 *    counted under `stats.biasAttached`.
 *
 * FusedMatMul is never emitted: onnxruntime-web's WebGPU EP runs it on the CPU.
 */
import type { AttributeInput, Node, Tensor, Value } from '@fuselab/graph-core';
import { matched, reject, type RewriteRule } from '../rewrite/rule.ts';
import { constTensor, producer } from '../rewrite/match.ts';
import {
  absorbableBias, dtypeOf, fmtShape, fusionPass, isFullyKnown, MS_DOMAIN, oneDimSize, product as dimProduct,
  sameKnownShape, setType, shapeOf, soleConsumerOp, usedOnlyBy, type RuleContext,
} from '../rewrite/patterns.ts';

interface BiasParams extends Record<string, unknown> {
  unwrapGemm: boolean;
  attachBias: boolean;
}

// ---- 1. Reshape → Gemm → Reshape ------------------------------------------------------------------

/** Transposes a 2-D float32 constant [R, C] into [C, R]. */
function transpose2d(t: Tensor): Float32Array {
  const [rows, cols] = t.dims;
  const src = t.data() as Float32Array;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

/** Rule: `Reshape(Gemm(Reshape(x, [-1, K]), W, B), [..., N]) → Add(MatMul(x, W), B)` when shapes prove the Reshapes undo each other. */
function gemmToMatMulRule({ count }: RuleContext<BiasParams>): RewriteRule {
  return {
    name: 'gemm-to-matmul',
    description: 'Reshape(Gemm(Reshape(x, [-1, K]), W, B), [..., N]) → Add(MatMul(x, W), B)',
    anchors: ['Gemm'],
    produces: 'MatMul',
    match(gemm: Node) {
      const flatten = producer(gemm.inputs[0], 'Reshape');
      const unflatten = soleConsumerOp(gemm.output(0), 'Reshape');
      if (!flatten || !unflatten) return null;
      const w = gemm.inputs[1];
      const c = gemm.inputs[2] ?? null;
      if (!w) return null;
      if (gemm.attrInt('transA', 0) !== 0) return reject('Gemm has transA=1', flatten, unflatten);
      if (gemm.attrFloat('alpha', 1) !== 1) return reject(`Gemm alpha ${gemm.attrFloat('alpha', 1)} ≠ 1`, flatten, unflatten);
      if (c && gemm.attrFloat('beta', 1) !== 1) return reject(`Gemm beta ${gemm.attrFloat('beta', 1)} ≠ 1`, flatten, unflatten);
      const transB = gemm.attrInt('transB', 0) !== 0;
      const ws = shapeOf(w);
      if (!ws || ws.length !== 2 || typeof ws[0] !== 'number' || typeof ws[1] !== 'number') return reject(`Gemm weight shape ${fmtShape(ws)} is not a known 2-D shape`, flatten, unflatten);
      const [k, n] = transB ? [ws[1], ws[0]] : [ws[0], ws[1]];
      const wt = constTensor(w);
      if (transB && (!wt || wt.dtype !== 'float32')) return reject('Gemm has transB=1 and its weight is not a float32 constant to transpose', flatten, unflatten);
      const ct = c ? constTensor(c) : null;
      if (c && (!ct || ct.size !== n || ct.dims.some((d, i) => i < ct.dims.length - 1 && d !== 1))) {
        return reject(`Gemm C ${fmtShape(shapeOf(c))} is not a constant per-column bias [${n}]`, flatten, unflatten);
      }
      const x = flatten.input(0);
      const y = unflatten.output(0);
      const xs = shapeOf(x);
      const ys = shapeOf(y);
      if (!isFullyKnown(xs) || !isFullyKnown(ys)) return reject(`shapes around the Gemm are unknown (input ${fmtShape(xs)}, output ${fmtShape(ys)}): run shape inference first`, flatten, unflatten);
      if (ys.length < 2 || ys[ys.length - 1] !== n) return reject(`the Reshape after the Gemm gives ${fmtShape(ys)}, not [..., ${n}]`, flatten, unflatten);
      const lead = ys.slice(0, -1);
      const rest = xs.slice(lead.length);
      if (xs.length < ys.length || !sameKnownShape(xs.slice(0, lead.length), lead) || dimProduct(rest) !== k) {
        return reject(`the Reshapes around the Gemm do not cancel: input ${fmtShape(xs)} → output ${fmtShape(ys)} is not [leading dims..., ${k}] → [leading dims..., ${n}]`, flatten, unflatten);
      }
      const dtype = dtypeOf(x);
      // a flattened input shared by several Gemms (q/k/v of one x) stays until the last one is unwrapped
      const nodes = usedOnlyBy(flatten.output(0), new Set([gemm])) ? [flatten, gemm, unflatten] : [gemm, unflatten];
      return matched({
        nodes,
        outputs: [y],
        build: (b) => {
          let input: Value = x;
          if (rest.length !== 1) {
            const target = b.i64('matmul_input_shape', [lead.length + 1], [...lead.map(() => 0), k]);
            input = setType(b.op('Reshape', [x, target])[0], dtype, [...lead, k]);
          }
          const weight = transB && wt ? b.f32('weight_transposed', [k, n], transpose2d(wt)) : w;
          const mm = setType(b.op('MatMul', [input, weight])[0], dtype, [...lead, n]);
          count('unwrapped', 'Gemm');
          if (!c || !ct) return [mm];
          const bias = ct.dims.length === 1 || ct.dtype !== 'float32' ? c : b.f32('bias', [n], ct.data() as Float32Array);
          return [setType(b.op('Add', [mm, bias])[0], dtype, [...lead, n])];
        },
      });
    },
  };
}

// ---- 2. attach a MatMul bias to a consumer that takes one ----------------------------------------

/** A consumer that can take over the bias of `Add(MatMul, B)` feeding one of its inputs. */
interface BiasTaker {
  /** Rule name. */
  name: string;
  /** Qualified anchor op type. */
  anchor: string;
  /** The op it becomes. */
  produces: string;
  /** Whether this node qualifies (bias slot free, right attributes). */
  accepts(n: Node): boolean;
  /** Inputs that may carry the biased MatMul. */
  operands: readonly number[];
  /** Where the bias goes. */
  biasIndex: number;
  /** Width the bias must have (the hidden size), or null for "the MatMul's width". */
  width(n: Node): number | null;
  /** Attributes of the new node. */
  attributes(n: Node): Record<string, AttributeInput>;
}

const freeSlot = (n: Node, i: number) => !n.inputs[i];
const sameAttributes = (n: Node): Record<string, AttributeInput> => Object.fromEntries(n.attributes);

const TAKERS: readonly BiasTaker[] = [
  { name: 'attach-bias-gelu', anchor: `${MS_DOMAIN}::Gelu`, produces: 'BiasGelu', accepts: () => true, operands: [0], biasIndex: 1, width: () => null, attributes: () => ({}) },
  { name: 'attach-bias-onnx-gelu', anchor: 'Gelu', produces: 'BiasGelu', accepts: (n) => n.attrString('approximate', 'none') === 'none', operands: [0], biasIndex: 1, width: () => null, attributes: () => ({}) },
  { name: 'attach-bias-onnx-gelu-tanh', anchor: 'Gelu', produces: 'FastGelu', accepts: (n) => n.attrString('approximate', 'none') === 'tanh', operands: [0], biasIndex: 1, width: () => null, attributes: () => ({}) },
  { name: 'attach-bias-fast-gelu', anchor: `${MS_DOMAIN}::FastGelu`, produces: 'FastGelu', accepts: (n) => freeSlot(n, 1), operands: [0], biasIndex: 1, width: () => null, attributes: () => ({}) },
  {
    name: 'attach-bias-skip-layer-norm', anchor: `${MS_DOMAIN}::SkipLayerNormalization`, produces: 'SkipLayerNormalization', accepts: (n) => freeSlot(n, 4),
    operands: [0, 1], biasIndex: 4, width: (n) => oneDimSize(n.inputs[2]), attributes: sameAttributes,
  },
  {
    name: 'attach-bias-skip-simplified-layer-norm', anchor: `${MS_DOMAIN}::SkipSimplifiedLayerNormalization`, produces: 'SkipSimplifiedLayerNormalization', accepts: (n) => freeSlot(n, 3),
    operands: [0, 1], biasIndex: 3, width: (n) => oneDimSize(n.inputs[2]), attributes: sameAttributes,
  },
];

/** Rule, one per taker: `Op(Add(MatMul(X, W), B), …) → Op'(MatMul(X, W), …, bias=B)`. */
function attachBiasRule(t: BiasTaker, { count, note }: RuleContext<BiasParams>): RewriteRule {
  return {
    name: t.name,
    description: `${t.anchor.replace(/^.*::/, '')}(Add(MatMul(X, W), B), …) → ${t.produces}(MatMul(X, W), …, bias=B)`,
    anchors: [t.anchor],
    produces: t.produces,
    match(node: Node) {
      if (!t.accepts(node)) return null;
      const width = t.width(node);
      for (const i of t.operands) {
        const m = absorbableBias(node.inputs[i], new Set([node]));
        if (!m || (width !== null && m.width !== width)) continue;
        const outputs = node.outputs.filter((o): o is Value => !!o);
        return matched({
          nodes: [m.add, node],
          outputs,
          build: (b) => {
            const inputs: Array<Value | null> = [...node.inputs];
            inputs[i] = m.product;
            while (inputs.length < t.biasIndex) inputs.push(null);
            inputs[t.biasIndex] = m.bias;
            const outs = b.op(t.produces, inputs, t.attributes(node), { domain: MS_DOMAIN, outputs: node.outputs.length });
            const fused = outs[0].producer?.name ?? node.name;
            count('biasAttached', t.produces);
            note(t.name, [fused, m.add.name], `bias '${m.bias.name}' of MatMul '${m.matmul.name}' attached to ${t.produces} '${fused}' (input ${t.biasIndex})`);
            return node.outputs.flatMap((o, k) => (o ? [outs[k]] : []));
          },
        });
      }
      return null;
    },
  };
}

/** The `fuse-bias` pass. */
export const fuseBias = fusionPass<BiasParams>({
  name: 'fuse-bias',
  description: 'Turn Reshape→Gemm→Reshape back into MatMul + bias, and attach MatMul biases to BiasGelu / FastGelu / Skip*Normalization',
  params: {
    unwrapGemm: { type: 'boolean', default: true, doc: 'Rewrite Reshape→Gemm→Reshape (GPT-2 Conv1D) as a 3-D MatMul + Add' },
    attachBias: { type: 'boolean', default: true, doc: 'Move Add(MatMul, B) biases into consumers with a bias input' },
  },
  needsShapes: true,
  domains: [MS_DOMAIN],
  rules: (ctx) => [
    ...(ctx.params.unwrapGemm ? [gemmToMatMulRule(ctx)] : []),
    ...(ctx.params.attachBias ? TAKERS.map((t) => attachBiasRule(t, ctx)) : []),
  ],
});
