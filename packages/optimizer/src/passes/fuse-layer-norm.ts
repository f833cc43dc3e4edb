/**
 * `fuse-layer-norm`: a LayerNorm spelled out in elementwise ops becomes one ONNX
 * `LayerNormalization` (axis -1, stash_type 1), which onnxruntime-web runs as one WebGPU kernel.
 *
 * Matched spellings (binary ops in either operand order), anchored on the variance ReduceMean:
 *
 *   d = Sub(x, ReduceMean(x, [-1]))
 *   v = ReduceMean(Pow(d, 2) | Mul(d, d), [-1])
 *   n = Div(d, Sqrt(Add(v, eps)))
 *     | Mul(d, Reciprocal(Sqrt(Add(v, eps))))   | Mul(d, Div(1, Sqrt(Add(v, eps))))
 *     | Mul(d, Pow(Add(v, eps), -0.5))
 *   y = Add(Mul(n, gamma), beta)   (beta, or gamma and beta, may be absent)
 *
 * LayerNormalization is an ONNX op from opset 17. Below that the rule refuses, unless
 * `allowBelowOpset17` is set: onnxruntime registers LayerNormalization in the ONNX domain for every
 * opset (a contrib op from before ONNX had one), so it still loads there — other runtimes and the
 * ONNX checker would not accept it. There is no `com.microsoft` LayerNormalization.
 */
import type { Node } from '@fuselab/graph-core';
import { matched, reject, type RewriteRule } from '../rewrite/rule.ts';
import { dtypeOf, floatAttr, fusionPass, isWhy, matchNormalization, type RuleContext } from '../rewrite/patterns.ts';

/** The first opset in which LayerNormalization is a standard ONNX op. */
export const LAYER_NORM_OPSET = 17;

interface LayerNormParams extends Record<string, unknown> {
  allowBelowOpset17: boolean;
}

/**
 * Rule: `Add(Mul(Div(x - mean(x), sqrt(var(x) + eps)), gamma), beta) → LayerNormalization(x, gamma, beta)`,
 * the variants listed in the file header being parameters of one matcher.
 */
function layerNormRule({ params }: RuleContext<LayerNormParams>): RewriteRule {
  return {
    name: 'layer-norm',
    description: 'Add(Mul((x - mean(x)) / sqrt(mean((x - mean(x))²) + eps), γ), β) → LayerNormalization(x, γ, β)',
    anchors: ['ReduceMean'],
    produces: 'LayerNormalization',
    match(variance: Node, { model }) {
      const m = matchNormalization(variance, true);
      if (!m) return null;
      if (isWhy(m)) return m.outcome();
      const opset = model.opset('') ?? 0;
      if (opset < LAYER_NORM_OPSET && !params.allowBelowOpset17) {
        return reject(`opset ${opset} < ${LAYER_NORM_OPSET}: LayerNormalization is not an ONNX op before opset 17 (onnxruntime accepts it anyway; set allowBelowOpset17)`, ...m.nodes.filter((n) => n !== variance));
      }
      let scaleValues: number[] | null = null;
      if (!m.scale) {
        if (m.hidden === null || dtypeOf(m.input) !== 'float32') {
          return reject('the normalization has no scale Mul, and a unit scale needs a known hidden size and float32 input', ...m.nodes.filter((n) => n !== variance));
        }
        scaleValues = new Array<number>(m.hidden).fill(1);
      }
      return matched({
        nodes: m.nodes,
        outputs: [m.output],
        build: (b) => {
          const scale = m.scale ?? b.f32('ln_unit_scale', [scaleValues?.length ?? 0], scaleValues ?? []);
          return b.op('LayerNormalization', m.shift ? [m.input, scale, m.shift] : [m.input, scale], { axis: -1, epsilon: floatAttr(m.epsilon), stash_type: 1 });
        },
      });
    },
  };
}

/** The `fuse-layer-norm` pass. */
export const fuseLayerNorm = fusionPass<LayerNormParams>({
  name: 'fuse-layer-norm',
  description: 'Fuse decomposed LayerNorm (ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add) into LayerNormalization',
  params: {
    allowBelowOpset17: {
      type: 'boolean',
      default: false,
      doc: 'Emit LayerNormalization below opset 17 too (onnxruntime accepts it as an ONNX-domain contrib op; the ONNX checker does not)',
    },
  },
  needsShapes: true,
  rules: (ctx) => [layerNormRule(ctx)],
});
