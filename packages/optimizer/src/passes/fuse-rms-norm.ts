/**
 * `fuse-rms-norm`: RMSNorm (`x · rsqrt(mean(x²) + eps) · w`) becomes onnxruntime's
 * `SimplifiedLayerNormalization` — a contrib op that onnxruntime registers in the *ONNX* domain
 * (domain "", since version 1), not in `com.microsoft`; its WebGPU kernel is one dispatch.
 *
 * Matched spellings (binary ops in either operand order), anchored on the ReduceMean:
 *
 *   v = ReduceMean(Pow(x, 2) | Mul(x, x), [-1])
 *   n = Mul(x, Div(1, Sqrt(Add(v, eps))))     (HF Llama, TorchScript)
 *     | Mul(x, Reciprocal(Sqrt(Add(v, eps)))) (dynamo's rsqrt)
 *     | Div(x, Sqrt(Add(v, eps)))             | Mul(x, Pow(Add(v, eps), -0.5))
 *   y = Mul(Cast(n, to=type(w)), w)           (the Cast back, HF's `.to(input_dtype)`, is optional)
 *
 * HF exports wrap the norm in `Cast(x, to=float32)`. When that Cast provably changes nothing (x is
 * already float32: shape inference or value_info says so) the fused node reads x itself, so a
 * residual Add before it stays visible to `fuse-skip-layer-norm`; otherwise it reads the Cast.
 * SimplifiedLayerNormalization's output takes the scale's type, so a Cast back to w's type is
 * absorbed too (fp16 weights over an fp32 computation).
 */
import type { Node } from '@fuselab/graph-core';
import { matched, reject, type RewriteRule } from '../rewrite/rule.ts';
import { dtypeOf, floatAttr, fusionPass, isWhy, matchNormalization, throughIdentityCast, usedOnlyBy } from '../rewrite/patterns.ts';

/** Rule: `Mul(Cast(Mul(x, 1/sqrt(mean(x²) + eps))), w) → SimplifiedLayerNormalization(x, w)`. */
const rmsNormRule: RewriteRule = {
  name: 'rms-norm',
  description: 'Mul(x · 1/sqrt(mean(x²) + eps), w) → SimplifiedLayerNormalization(x, w)',
  anchors: ['ReduceMean'],
  produces: 'SimplifiedLayerNormalization',
  match(variance: Node) {
    const m = matchNormalization(variance, false);
    if (!m) return null;
    if (isWhy(m)) return m.outcome();
    const input = throughIdentityCast(m.input);
    // the no-op Cast goes too when only the norm read it (otherwise it stays for its other readers)
    const cast = input !== m.input ? m.input.producer : null;
    const nodes = cast && usedOnlyBy(m.input, new Set(m.nodes)) ? [cast, ...m.nodes] : m.nodes;
    let unit: number[] | null = null;
    if (!m.scale) {
      if (m.hidden === null || dtypeOf(input) !== 'float32') {
        return reject('the RMS normalization has no scale Mul, and a unit scale needs a known hidden size and float32 input', ...m.nodes.filter((n) => n !== variance));
      }
      unit = new Array<number>(m.hidden).fill(1);
    }
    return matched({
      nodes,
      outputs: [m.output],
      build: (b) => {
        const scale = m.scale ?? b.f32('rms_unit_scale', [unit?.length ?? 0], unit ?? []);
        return b.op('SimplifiedLayerNormalization', [input, scale], { axis: -1, epsilon: floatAttr(m.epsilon), stash_type: 1 });
      },
    });
  },
};

/** The `fuse-rms-norm` pass. */
export const fuseRmsNorm = fusionPass({
  name: 'fuse-rms-norm',
  description: 'Fuse RMSNorm (Pow/ReduceMean/Add/Sqrt/Div/Mul, HF Cast wrappers) into SimplifiedLayerNormalization',
  needsShapes: true,
  params: {},
  rules: () => [rmsNormRule],
});
