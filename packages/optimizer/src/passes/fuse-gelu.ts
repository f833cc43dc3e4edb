/**
 * `fuse-gelu`: GELU and SiLU spelled out in elementwise ops become single onnxruntime kernels.
 *
 *   erf GELU   0.5·x·(1 + erf(x/√2))                     → com.microsoft.Gelu(x)
 *              with x = Add(MatMul, B) read by nothing else → com.microsoft.BiasGelu(MatMul, B)
 *   tanh GELU  0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))  → com.microsoft.FastGelu(x)
 *              with x = Add(MatMul, B)                    → com.microsoft.FastGelu(MatMul, B)
 *   SiLU       x·Sigmoid(x)                              → com.microsoft.QuickGelu(x, alpha=1.0)
 *
 * `com.microsoft.Gelu` is chosen over ONNX `Gelu` (opset 20): both run on onnxruntime-web's WebGPU
 * EP, the contrib op loads at any opset and pairs with BiasGelu. QuickGelu computes
 * `x·sigmoid(alpha·x)`, so alpha=1 is exactly SiLU (checked against x/(1+e^-x) on wasm and WebGPU).
 * The `0.5·x·(1+act)` tail is matched in all three orders exporters produce (see
 * `matchGeluTail`); `x/√2` may be `Mul(x, 1/√2)`, `x³` may be `Mul(Mul(x, x), x)`.
 */
import type { Node, Value } from '@fuselab/graph-core';
import { matched, reject, type RewriteRule } from '../rewrite/rule.ts';
import { producer } from '../rewrite/match.ts';
import {
  absorbableBias, floatAttr, fusionPass, hasOp, isNear, isWhy, matchGeluTail, MS_DOMAIN,
  type BiasedMatMul, type RuleContext,
} from '../rewrite/patterns.ts';

interface GeluParams extends Record<string, unknown> {
  absorbBias: boolean;
  silu: boolean;
}

const SQRT2 = Math.SQRT2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/** The x of `Div(x, √2)` / `Mul(x, 1/√2)` (either order), or null. */
function erfArgument(v: Value | null | undefined): { x: Value; node: Node } | null {
  const n = producer(v, ['Div', 'Mul']);
  if (!n || !n.inputs[0] || !n.inputs[1]) return null;
  if (hasOp(n, 'Div')) return isNear(n.inputs[1], SQRT2) ? { x: n.inputs[0], node: n } : null;
  if (isNear(n.inputs[1], 1 / SQRT2)) return { x: n.inputs[0], node: n };
  if (isNear(n.inputs[0], 1 / SQRT2)) return { x: n.inputs[1], node: n };
  return null;
}

/** The nodes of `x³` as `Pow(x, 3)`, `Mul(Mul(x, x), x)` or `Mul(x, Mul(x, x))` — null when `v` is not x³. */
function cubeOf(v: Value | null | undefined, x: Value): Node[] | null {
  const n = producer(v, ['Pow', 'Mul']);
  if (!n) return null;
  if (hasOp(n, 'Pow')) return n.inputs[0] === x && isNear(n.inputs[1], 3) ? [n] : null;
  const sq = (s: Value | null) => {
    const m = producer(s, 'Mul');
    return m && m.inputs[0] === x && m.inputs[1] === x ? m : null;
  };
  if (n.inputs[1] === x && sq(n.inputs[0])) return [sq(n.inputs[0]) as Node, n];
  if (n.inputs[0] === x && sq(n.inputs[1])) return [sq(n.inputs[1]) as Node, n];
  return null;
}

/** `√(2/π)·(x + 0.044715·x³)` (every product and sum in either order) → x and its nodes, or null. */
function tanhArgument(v: Value | null | undefined): { x: Value; nodes: Node[] } | null {
  const scale = producer(v, 'Mul');
  if (!scale) return null;
  const inner = isNear(scale.inputs[1], SQRT_2_OVER_PI) ? scale.inputs[0] : isNear(scale.inputs[0], SQRT_2_OVER_PI) ? scale.inputs[1] : null;
  const sum = producer(inner, 'Add');
  if (!sum) return null;
  for (const i of [0, 1]) {
    const x = sum.inputs[i];
    const term = producer(sum.inputs[1 - i], 'Mul');
    if (!x || !term) continue;
    const cube = isNear(term.inputs[1], GELU_CUBIC) ? term.inputs[0] : isNear(term.inputs[0], GELU_CUBIC) ? term.inputs[1] : null;
    const cubeNodes = cubeOf(cube, x);
    if (cubeNodes) return { x, nodes: [...cubeNodes, term, sum, scale] };
  }
  return null;
}

/** The two GELU spellings: which activation anchors them and how its argument is matched. */
interface GeluForm {
  kind: 'erf' | 'tanh';
  anchor: 'Erf' | 'Tanh';
  /** x and the nodes between x and the activation, or null when the activation's input is not the form's. */
  head(act: Node): { x: Value; nodes: Node[] } | null;
  plain: string;
  biased: string;
  statement: string;
}

const FORMS: readonly GeluForm[] = [
  {
    kind: 'erf', anchor: 'Erf', plain: 'Gelu', biased: 'BiasGelu',
    statement: '0.5·x·(1 + erf(x/√2))',
    head(erf) {
      const arg = erfArgument(erf.inputs[0]);
      return arg ? { x: arg.x, nodes: [arg.node, erf] } : null;
    },
  },
  {
    kind: 'tanh', anchor: 'Tanh', plain: 'FastGelu', biased: 'FastGelu',
    statement: '0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))',
    head(tanh) {
      const arg = tanhArgument(tanh.inputs[0]);
      return arg ? { x: arg.x, nodes: [...arg.nodes, tanh] } : null;
    },
  },
];

/**
 * Rule, one per form and bias variant:
 * `0.5·x·(1 + erf(x/√2)) → Gelu(x)`, with `x = Add(MatMul, B)` → `BiasGelu(MatMul, B)`;
 * `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) → FastGelu(x)`, with `x = Add(MatMul, B)` → `FastGelu(MatMul, B)`.
 * The biased variant stays silent when x has no bias it may take; the plain one then fires.
 */
function geluRule(form: GeluForm, withBias: boolean, { count, note }: RuleContext<GeluParams>): RewriteRule {
  const op = withBias ? form.biased : form.plain;
  const name = `gelu-${form.kind}${withBias ? '-bias' : ''}`;
  return {
    name,
    description: withBias ? `${form.statement} with x = MatMul + B → ${op}(MatMul, B)` : `${form.statement} → ${op}(x)`,
    anchors: [form.anchor],
    produces: op,
    match(act: Node) {
      const head = form.head(act);
      if (!head) return null;
      const tail = matchGeluTail(act.output(0), head.x);
      if (!tail) return null;
      // the plain variant, tried next, reports the refusal (once)
      if (isWhy(tail)) return withBias ? null : tail.outcome();
      const nodes = [...head.nodes, ...tail.nodes];
      const bias: BiasedMatMul | null = withBias ? absorbableBias(head.x, new Set(nodes)) : null;
      if (withBias && !bias) return null;
      return matched({
        nodes: bias ? [bias.add, ...nodes] : nodes,
        outputs: [tail.output],
        build: (b) => {
          const out = b.op(op, bias ? [bias.product, bias.bias] : [head.x], {}, { domain: MS_DOMAIN });
          if (bias) {
            count('biasAbsorbed', op);
            note(name, [out[0].producer?.name ?? act.name, bias.add.name], `bias '${bias.bias.name}' of MatMul '${bias.matmul.name}' moved into ${op} '${out[0].producer?.name}'`);
          }
          return out;
        },
      });
    },
  };
}

/** Rule: `Mul(x, Sigmoid(x)) → QuickGelu(x, alpha=1.0)` (SiLU / Swish, the gate of SwiGLU). */
const siluRule: RewriteRule = {
  name: 'silu',
  description: 'Mul(x, Sigmoid(x)) → QuickGelu(x, alpha=1.0)',
  anchors: ['Mul'],
  produces: 'QuickGelu',
  match(mul: Node) {
    for (const i of [0, 1]) {
      const sig = producer(mul.inputs[i], 'Sigmoid');
      const x = mul.inputs[1 - i];
      if (!sig || !x || sig.inputs[0] !== x) continue;
      if (sig.output(0).useCount > 1 || sig.output(0).isGraphOutput) return reject(`Sigmoid '${sig.name}' is also read outside x·sigmoid(x)`, sig);
      return matched({
        nodes: [sig, mul],
        outputs: [mul.output(0)],
        build: (b) => b.op('QuickGelu', [x], { alpha: floatAttr(1) }, { domain: MS_DOMAIN }),
      });
    }
    return null;
  },
};

/** The `fuse-gelu` pass. */
export const fuseGelu = fusionPass<GeluParams>({
  name: 'fuse-gelu',
  description: 'Fuse erf GELU → Gelu/BiasGelu, tanh GELU → FastGelu (+bias), x·sigmoid(x) → QuickGelu(alpha=1)',
  params: {
    absorbBias: { type: 'boolean', default: true, doc: 'Take the bias of an Add(MatMul, B) input into BiasGelu / FastGelu' },
    silu: { type: 'boolean', default: true, doc: 'Also fuse SiLU x·sigmoid(x) into QuickGelu with alpha=1.0' },
  },
  domains: [MS_DOMAIN],
  rules: (ctx) => [
    ...FORMS.flatMap((f) => [...(ctx.params.absorbBias ? [geluRule(f, true, ctx)] : []), geluRule(f, false, ctx)]),
    ...(ctx.params.silu ? [siluRule] : []),
  ],
});
