/**
 * `fuse-skip-layer-norm`: a normalization of a residual sum becomes one onnxruntime contrib op that
 * adds and normalizes in a single kernel:
 *
 *   LayerNormalization(Add(a, b), γ, β)        → com.microsoft.SkipLayerNormalization(input, skip, γ, β[, bias])
 *   SimplifiedLayerNormalization(Add(a, b), γ) → com.microsoft.SkipSimplifiedLayerNormalization(input, skip, γ[, bias])
 *
 * - When the sum is also read elsewhere — the residual stream of a pre-LN transformer, where the
 *   same `h + attn(h)` feeds both the next norm and the next residual Add — the fused node emits it
 *   as output 3 (`input_skip_bias_sum`) and those readers move to it; without that output the Add
 *   could not go away.
 * - When one operand is `Add(MatMul(X, W), B)` read by nothing else, B moves into the optional
 *   `bias` input and the bias Add disappears too (parameter `absorbBias`).
 * - `input` and `skip` are assigned from shapes (onnxruntime's kernels want `input` 2-D or 3-D,
 *   `skip` the same shape or `(1, S, H)` / `(S, H)`); candidates whose shapes are unknown are
 *   refused with that reason — run shape inference first.
 *
 * Inputs, outputs and attributes follow onnxruntime 1.30's registered schemas: SkipLayerNormalization
 * (input, skip, gamma, beta?, bias?) and SkipSimplifiedLayerNormalization (input, skip, gamma, bias?),
 * outputs (output, mean?, inv_std_var?, input_skip_bias_sum?), float attribute `epsilon`.
 */
import type { Node, Value } from '@fuselab/graph-core';
import { matched, reject, type RewriteRule } from '../rewrite/rule.ts';
import { producer } from '../rewrite/match.ts';
import {
  absorbableBias, dtypeOf, floatAttr, fusionPass, isWhy, MS_DOMAIN, oneDimSize, rankOf, skipRoles,
  type BiasedMatMul, type RuleContext,
} from '../rewrite/patterns.ts';

interface SkipNormParams extends Record<string, unknown> {
  absorbBias: boolean;
  allowSkipBroadcast: boolean;
}

/** The two shapes of the rule: plain LayerNorm and RMSNorm (ORT's "simplified" layer norm). */
interface SkipVariant {
  anchor: 'LayerNormalization' | 'SimplifiedLayerNormalization';
  produces: 'SkipLayerNormalization' | 'SkipSimplifiedLayerNormalization';
  /** Whether the anchor and the fused op carry a shift (beta). */
  hasShift: boolean;
}

const VARIANTS: readonly SkipVariant[] = [
  { anchor: 'LayerNormalization', produces: 'SkipLayerNormalization', hasShift: true },
  { anchor: 'SimplifiedLayerNormalization', produces: 'SkipSimplifiedLayerNormalization', hasShift: false },
];

/** ONNX's default epsilon for LayerNormalization (and onnxruntime's for SimplifiedLayerNormalization). */
const DEFAULT_EPSILON = 1e-5;

/**
 * Rule: `LayerNormalization(Add(a, b)) → SkipLayerNormalization(a, b)` (and its RMS twin), with
 * output 3 for a residual that is read again and the bias of `Add(MatMul, B)` absorbed.
 */
function skipNormRule(v: SkipVariant, { params, count, note }: RuleContext<SkipNormParams>): RewriteRule {
  const name = v.hasShift ? 'skip-layer-norm' : 'skip-simplified-layer-norm';
  return {
    name,
    description: `${v.anchor}(Add(a, b)) → ${v.produces}(a, b) (+ bias of Add(MatMul, B); output 3 = a + b when the sum is read again)`,
    anchors: [v.anchor],
    produces: v.produces,
    match(ln: Node) {
      const sum = ln.inputs[0];
      const add = producer(sum, 'Add');
      if (!add) {
        const cast = producer(sum, 'Cast');
        if (cast && producer(cast.inputs[0], 'Add')) {
          const from = dtypeOf(cast.inputs[0]);
          return reject(from
            ? `${v.anchor} reads Cast(Add(…), to=${cast.attrInt('to', 0)}) of a ${from} sum: the Cast converts, so the sum cannot move into the norm`
            : `${v.anchor} reads Cast(Add(…)) and the sum's element type is unknown, so the Cast may not be a no-op: run shape inference first`, cast);
        }
        return null;
      }
      if (!sum || add.inputs.length !== 2 || !add.inputs[0] || !add.inputs[1]) return null;
      const axis = ln.attrInt('axis', -1);
      const rank = rankOf(sum);
      if (axis !== -1 && (rank === null || axis !== rank - 1)) return reject(`${v.anchor} axis ${axis} is not the last axis${rank === null ? ' (rank unknown)' : ` of a rank-${rank} input`}`, add);
      if (ln.attrInt('stash_type', 1) !== 1) return reject(`${v.anchor} stash_type ${ln.attrInt('stash_type', 1)} is not 1 (float32 statistics)`, add);
      if (ln.outputs.slice(1).some((o) => o && (o.useCount > 0 || o.isGraphOutput))) return reject(`${v.anchor} '${ln.name}' has its saved statistics read; ${v.produces} computes them only for training`, add);
      const gamma = ln.inputs[1];
      const hidden = oneDimSize(gamma);
      if (!gamma || hidden === null) return reject(`${v.anchor} scale is not a 1-D tensor of known size; ${v.produces} needs gamma of shape [hidden]`, add);
      const beta = v.hasShift ? ln.inputs[2] ?? null : null;
      if (beta && oneDimSize(beta) !== hidden) return reject(`${v.anchor} bias is not 1-D [${hidden}]`, add);
      // the Skip* ops take input, skip and gamma of one type (SimplifiedLayerNormalization allows a scale of another)
      const [sumType, gammaType] = [dtypeOf(sum), dtypeOf(gamma)];
      if (sumType && gammaType && sumType !== gammaType) return reject(`${v.anchor} scales a ${sumType} input by a ${gammaType} gamma; ${v.produces} needs one type`, add);

      const [a, b] = add.inputs as [Value, Value];
      let bias: BiasedMatMul | null = null;
      if (params.absorbBias) {
        const readers = new Set([add]);
        bias = [a, b].map((o) => absorbableBias(o, readers)).find((m) => m && m.width === hidden) ?? null;
      }
      const roles = skipRoles(sum, a, b, params.allowSkipBroadcast, bias ? bias.add.output(0) : null);
      if (isWhy(roles)) return reject(roles.reason, add, ...roles.nodes);
      const swap = (x: Value) => (bias && x === bias.add.output(0) ? bias.product : x);
      const input = swap(roles.input);
      const skip = swap(roles.skip);
      const sumIsRead = sum.isGraphOutput || sum.uses.some((u) => u.node !== ln);
      const nodes = bias ? [bias.add, add, ln] : [add, ln];
      return matched({
        nodes,
        outputs: sumIsRead ? [ln.output(0), sum] : [ln.output(0)],
        build: (bb) => {
          const inputs: Array<Value | null> = v.hasShift ? [input, skip, gamma, beta, bias?.bias ?? null] : [input, skip, gamma, bias?.bias ?? null];
          while (inputs.length > 3 && inputs[inputs.length - 1] === null) inputs.pop();
          const outs = bb.op(v.produces, inputs, { epsilon: floatAttr(ln.attrFloat('epsilon', DEFAULT_EPSILON)) }, { domain: MS_DOMAIN, outputs: sumIsRead ? 4 : 1 });
          if (bias) {
            count('biasAbsorbed', v.produces);
            note(name, [outs[0].producer?.name ?? ln.name, bias.add.name], `bias '${bias.bias.name}' of MatMul '${bias.matmul.name}' moved into ${v.produces} '${outs[0].producer?.name}' (input ${v.hasShift ? 4 : 3})`);
          }
          if (sumIsRead) count('residualOutput', v.produces);
          return sumIsRead ? [outs[0], outs[3]] : [outs[0]];
        },
      });
    },
  };
}

/** The `fuse-skip-layer-norm` pass. */
export const fuseSkipLayerNorm = fusionPass<SkipNormParams>({
  name: 'fuse-skip-layer-norm',
  description: 'Fuse LayerNorm/RMSNorm of a residual Add (+ MatMul bias) into SkipLayerNormalization / SkipSimplifiedLayerNormalization',
  params: {
    absorbBias: { type: 'boolean', default: true, doc: 'Move the bias of an Add(MatMul, B) operand into the fused node\'s bias input' },
    allowSkipBroadcast: { type: 'boolean', default: true, doc: 'Accept a (1, S, H) or (S, H) skip against a (B, S, H) input (e.g. learned position embeddings)' },
  },
  needsShapes: true,
  domains: [MS_DOMAIN],
  rules: (ctx) => VARIANTS.map((v) => skipNormRule(v, ctx)),
});
