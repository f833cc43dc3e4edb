/**
 * Pattern helpers shared by the norm, GELU and bias fusions (`fuse-layer-norm`, `fuse-rms-norm`,
 * `fuse-skip-layer-norm`, `fuse-gelu`, `fuse-bias`): constants with a tolerance, ReduceMean axes,
 * per-feature parameters, `MatMul + bias`, the normalization chain both norm passes share, the
 * GELU tail both GELU forms share, the Skip*Normalization input roles, and a pass factory whose
 * rules see the pass parameters.
 *
 * Matchers return what they matched, `null` when the node is simply not a candidate (no noise in
 * the "why not fused" list), or a {@link Why} that says in words why a candidate was refused.
 */
import {
  inferShapes, int64ToNumber, sameDim, tensorType,
  type Attribute, type Dim, type DType, type Graph, type Model, type Node, type Shape, type Value,
} from '@fuselab/graph-core';
import { resolveParams, type Diagnostic, type ParamSpec, type Pass, type PassResult } from '../pass.ts';
import { applyRewrites } from './engine.ts';
import { reject, type MatchOutcome, type RewriteRule } from './rule.ts';
import { constNumbers, constTensor, isOp, otherInput, producer, soleConsumer } from './match.ts';

/** The onnxruntime contrib domain. */
export const MS_DOMAIN = 'com.microsoft';

// ---- rejections ----------------------------------------------------------------------------------

/** Why a candidate was refused; `nodes` are the nodes the reason is about (besides the anchor). */
export class Why {
  constructor(readonly reason: string, readonly nodes: readonly Node[] = []) {}

  /** The rule outcome for this refusal. */
  outcome(): MatchOutcome {
    return reject(this.reason, ...this.nodes);
  }
}

/** Shorthand for `new Why(reason, ...nodes)`. */
export function why(reason: string, ...nodes: Node[]): Why {
  return new Why(reason, nodes);
}

export function isWhy(x: unknown): x is Why {
  return x instanceof Why;
}

// ---- attributes and constants --------------------------------------------------------------------

/**
 * A float attribute, also for integral values: the builder's inference would make `1.0` an int
 * attribute, and onnxruntime then refuses the model ("Mismatched attribute type in 'QuickGelu : alpha'").
 */
export function floatAttr(value: number): Attribute {
  return { type: 'float', value };
}

/** The single element of a one-element constant (any rank), or null. */
export function scalarOf(v: Value | null | undefined): number | null {
  const xs = constNumbers(v, 1);
  return xs && xs.length === 1 ? xs[0] : null;
}

/** True when `v` is a one-element constant within `rtol` of `x`. */
export function isNear(v: Value | null | undefined, x: number, rtol = 1e-4): boolean {
  const s = scalarOf(v);
  return s !== null && Math.abs(s - x) <= Math.max(1e-12, rtol * Math.abs(x));
}

/** `[value, constant]` of a binary node with exactly one constant operand (either order), or null. */
export function splitConstant(n: Node): { value: Value; constant: Value } | null {
  const [a, b] = n.inputs;
  if (!a || !b) return null;
  const ca = constTensor(a) !== null;
  const cb = constTensor(b) !== null;
  if (ca === cb) return null;
  return ca ? { value: b, constant: a } : { value: a, constant: b };
}

/** True when `n` is `opType` of the default domain (not a type guard, so it narrows nothing away). */
export function hasOp(n: Node, opType: string): boolean {
  return isOp(n, opType);
}

/** The consumer of `v` if it is the only one and of type `opType` (default domain). */
export function soleConsumerOp(v: Value, opType: string | readonly string[]): Node | null {
  const c = soleConsumer(v);
  const types = typeof opType === 'string' ? [opType] : opType;
  return c && types.some((t) => hasOp(c, t)) ? c : null;
}

/** True when every reader of `v` is one of `nodes` and `v` is not a graph output. */
export function usedOnlyBy(v: Value, nodes: ReadonlySet<Node>): boolean {
  return !v.isGraphOutput && v.uses.every((u) => nodes.has(u.node));
}

// ---- shapes --------------------------------------------------------------------------------------

/** The shape of `v`: its type's, or its initializer's dims. Null when unknown. */
export function shapeOf(v: Value | null | undefined): Shape | null {
  if (!v) return null;
  return v.shape ?? (v.initializer ? v.initializer.dims : null);
}

/** The element type of `v` (type or initializer), or null. */
export function dtypeOf(v: Value | null | undefined): DType | null {
  if (!v) return null;
  return v.dtype ?? v.initializer?.dtype ?? null;
}

/** The rank of `v`, or null when unknown. */
export function rankOf(v: Value | null | undefined): number | null {
  return shapeOf(v)?.length ?? null;
}

/** Every dim known (number or symbol) — what a shape comparison needs to prove anything. */
export function isFullyKnown(s: Shape | null): s is readonly (number | string)[] {
  return !!s && s.every((d) => d !== null);
}

/** Dim-by-dim equality of two shapes whose dims are all known (symbols compare by name). */
export function sameKnownShape(a: Shape | null, b: Shape | null): boolean {
  return !!a && !!b && a.length === b.length && a.every((d, i) => sameDim(d, b[i]));
}

/** `[1, 2, 3]` / `[batch_size,sequence_length,64]` for messages. */
export function fmtShape(s: Shape | null): string {
  return s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]` : 'unknown';
}

/** Assigns a tensor type to a value the rewrite created (so later rules can reason about it). */
export function setType(v: Value, dtype: DType | null, shape: Shape | null): Value {
  v.type = tensorType(dtype, shape);
  return v;
}

// ---- reductions and per-feature parameters -------------------------------------------------------

/** Axes of a ReduceMean: the attribute (before opset 18) or the constant second input (18+). */
export function reduceAxes(n: Node): number[] | null {
  const a = n.attr('axes');
  if (a?.type === 'ints') return a.value.map(int64ToNumber);
  const v = n.inputs[1];
  return v ? constNumbers(v, 16) : null;
}

/**
 * Null when `rm` reduces exactly the last axis of its input with keepdims=1; otherwise why not.
 * `rankHint` is the input's rank when the caller knows it better than the input's type does (the
 * variance of `x - mean(x)` has x's rank).
 */
export function checkLastAxisReduce(rm: Node, rankHint: number | null = null): Why | null {
  if (rm.attrInt('keepdims', 1) !== 1) return why(`${rm.opType} '${rm.name}' has keepdims=0; normalization needs keepdims=1`, rm);
  const axes = reduceAxes(rm);
  if (!axes) return why(`${rm.opType} '${rm.name}' has no constant axes (it would reduce every axis)`, rm);
  if (axes.length !== 1) return why(`${rm.opType} axes [${axes.join(',')}] is not the last axis alone`, rm);
  if (axes[0] === -1) return null;
  const rank = rankOf(rm.inputs[0]) ?? rankHint;
  if (rank === null) return why(`${rm.opType} axes [${axes[0]}] may not be the last axis: the input's rank is unknown (run shape inference first)`, rm);
  return axes[0] === rank - 1 ? null : why(`${rm.opType} axes [${axes[0]}] is not the last axis (rank ${rank})`, rm);
}

/** Size of a 1-D value (shape [H]) — gamma, beta, biases — or null when it is not known to be 1-D. */
export function oneDimSize(v: Value | null | undefined): number | null {
  const s = shapeOf(v);
  return s && s.length === 1 && typeof s[0] === 'number' ? s[0] : null;
}

/** Last dim of `v` when it is a number. */
export function lastDimOf(v: Value | null | undefined): number | null {
  const s = shapeOf(v);
  const d = s && s.length ? s[s.length - 1] : null;
  return typeof d === 'number' ? d : null;
}

// ---- MatMul + bias -------------------------------------------------------------------------------

/** `Add(MatMul(X, W), B)` with B a constant 1-D bias of W's output width. */
export interface BiasedMatMul {
  add: Node;
  matmul: Node;
  /** The MatMul's output: what the consumer reads once the bias moves into it. */
  product: Value;
  bias: Value;
  width: number;
}

/**
 * Matches `v = Add(MatMul(X, W), B)` (either operand order) where B is a constant 1-D tensor whose
 * length equals the MatMul's output width (W's last dim), so adding it never broadcasts the product
 * to a new shape. Null when `v` is not such a value.
 */
export function matmulBias(v: Value | null | undefined): BiasedMatMul | null {
  const add = producer(v, 'Add');
  if (!add || add.inputs.length !== 2) return null;
  for (const i of [0, 1]) {
    const product = add.inputs[i];
    const bias = add.inputs[1 - i];
    const matmul = producer(product, 'MatMul');
    if (!matmul || !product || !bias || constTensor(bias) === null) continue;
    const width = oneDimSize(bias);
    const w = shapeOf(matmul.inputs[1]);
    const n = w && w.length >= 2 ? w[w.length - 1] : null;
    if (width === null || n !== width) continue;
    return { add, matmul, product, bias, width };
  }
  return null;
}

/**
 * The bias a fused consumer can take over from `v = Add(MatMul, B)`: only when the Add's result is
 * read by nothing but `consumers` (the nodes the fusion replaces). Null otherwise.
 */
export function absorbableBias(v: Value | null | undefined, consumers: ReadonlySet<Node>): BiasedMatMul | null {
  const m = matmulBias(v);
  return m && usedOnlyBy(m.add.output(0), consumers) ? m : null;
}

// ---- the normalization chain (LayerNorm and RMSNorm) --------------------------------------------

/** A decomposed normalization, from the variance ReduceMean to the last affine node. */
export interface NormMatch {
  /** The normalized tensor (the `x` of `x - mean(x)` for LayerNorm, of `x * rsqrt(...)` for RMSNorm). */
  input: Value;
  epsilon: number;
  /** Per-feature scale (1-D), or null when the chain has no scale Mul. */
  scale: Value | null;
  /** Per-feature shift (1-D, LayerNorm only), or null. */
  shift: Value | null;
  /** The value the fused node replaces. */
  output: Value;
  /** Every node of the chain (removed once the fused node reads their inputs). */
  nodes: Node[];
  /** Hidden size from the scale/shift or the input's last dim, when known. */
  hidden: number | null;
}

/**
 * Matches the normalization whose variance is `variance` (a ReduceMean over the last axis):
 *
 *   centered (LayerNorm): d = Sub(x, ReduceMean(x));  RMSNorm: d = x
 *   var = ReduceMean(Pow(d, 2) | Mul(d, d));  s = Add(var, eps)
 *   n = Div(d, Sqrt(s)) | Mul(d, Reciprocal(Sqrt(s))) | Mul(d, Div(1, Sqrt(s))) | Mul(d, Pow(s, -0.5))
 *   [Cast back (RMSNorm, HF's `.to(input_dtype)`)] → [Mul(·, gamma)] → [Add(·, beta) (LayerNorm)]
 *
 * Binary ops match in either operand order. Returns null when `variance` is not the variance of a
 * normalization of the requested kind, a {@link Why} when it is one but cannot be fused.
 */
export function matchNormalization(variance: Node, centered: boolean): NormMatch | Why | null {
  const sq = producer(variance.inputs[0], ['Pow', 'Mul']);
  if (!sq) return null;
  let d: Value | null = null;
  if (hasOp(sq, 'Pow') && isNear(sq.inputs[1], 2)) d = sq.inputs[0];
  else if (hasOp(sq, 'Mul') && sq.inputs[0] && sq.inputs[0] === sq.inputs[1]) d = sq.inputs[0];
  if (!d) return null;
  const sub = producer(d, 'Sub');
  const mean = sub ? producer(sub.inputs[1], 'ReduceMean') : null;
  const isCentered = !!sub && !!mean && mean.inputs[0] === sub.inputs[0];
  if (isCentered !== centered) return null;
  const nodes: Node[] = [sq, variance];
  let x: Value = d;
  if (centered && sub && mean) {
    x = sub.input(0);
    const bad = checkLastAxisReduce(mean);
    if (bad) return bad;
    nodes.unshift(mean, sub);
  }
  // Sub, Pow and Mul keep x's rank (mean(x) has it too, with keepdims=1)
  const badVar = checkLastAxisReduce(variance, rankOf(x));
  if (badVar) return badVar;

  // variance + eps
  const addEps = soleConsumerOp(variance.output(0), 'Add');
  if (!addEps) return why(`the variance '${variance.name}' is not followed by an epsilon Add alone`);
  const epsV = otherInput(addEps, variance.output(0));
  if (!epsV || constTensor(epsV) === null) return why(`the epsilon Add '${addEps.name}' does not add a constant`, addEps);
  const epsilon = scalarOf(epsV);
  if (epsilon === null) return why(`the epsilon Add's constant is not a scalar (shape ${fmtShape(shapeOf(epsV))})`, addEps);
  nodes.push(addEps);

  // 1/sqrt(var + eps), then the normalizing product/quotient with d
  const s = addEps.output(0);
  let n: Node | null = null;
  const sqrt = soleConsumerOp(s, 'Sqrt');
  const powHalf = soleConsumerOp(s, 'Pow');
  if (sqrt) {
    nodes.push(sqrt);
    const std = sqrt.output(0);
    const next = soleConsumer(std);
    if (next && hasOp(next, 'Div') && next.inputs[1] === std && next.inputs[0] === d) {
      n = next;
    } else if (next && (hasOp(next, 'Reciprocal') || (hasOp(next, 'Div') && next.inputs[1] === std && isNear(next.inputs[0], 1)))) {
      nodes.push(next);
      n = mulWith(next.output(0), d);
    }
  } else if (powHalf && powHalf.inputs[0] === s && isNear(powHalf.inputs[1], -0.5)) {
    nodes.push(powHalf);
    n = mulWith(powHalf.output(0), d);
  }
  if (!n) return why(`'${addEps.name}' (variance + epsilon) does not feed 1/sqrt(·) multiplied into the ${centered ? 'centered ' : ''}input`, addEps);
  nodes.push(n);

  // optional affine tail
  let output = n.output(0);
  let scale: Value | null = null;
  let shift: Value | null = null;
  let hidden = lastDimOf(x);
  const castBack = centered ? null : soleConsumerOp(output, 'Cast');
  const afterCast = castBack ? castBack.output(0) : output;
  const gammaMul = soleConsumerOp(afterCast, 'Mul');
  const gamma = gammaMul ? otherInput(gammaMul, afterCast) : null;
  const gammaSize = oneDimSize(gamma);
  if (gammaMul && gamma && gamma !== afterCast && gammaSize !== null && (hidden === null || hidden === gammaSize)
    && (!castBack || castBack.attrInt('to', 0) === onnxTypeOf(dtypeOf(gamma)))) {
    if (castBack) nodes.push(castBack);
    nodes.push(gammaMul);
    scale = gamma;
    hidden = gammaSize;
    output = gammaMul.output(0);
    const betaAdd = centered ? soleConsumerOp(output, 'Add') : null;
    const beta = betaAdd ? otherInput(betaAdd, output) : null;
    if (betaAdd && beta && beta !== output && oneDimSize(beta) === gammaSize) {
      nodes.push(betaAdd);
      shift = beta;
      output = betaAdd.output(0);
    }
  }
  return { input: x, epsilon, scale, shift, output, nodes, hidden };
}

/** The Mul that multiplies `r` with `d` (either order), when it is `r`'s only reader. */
function mulWith(r: Value, d: Value): Node | null {
  const m = soleConsumerOp(r, 'Mul');
  return m && otherInput(m, r) === d ? m : null;
}

/** ONNX `TensorProto.DataType` of the float dtypes a Cast-back may target (0 when unknown). */
function onnxTypeOf(dtype: DType | null): number {
  switch (dtype) {
    case 'float32': return 1;
    case 'float16': return 10;
    case 'float64': return 11;
    case 'bfloat16': return 16;
    default: return 0;
  }
}

/**
 * `v` itself, or the input of the Cast producing `v` when that Cast does not change the element type
 * (`Cast(x: float32, to=FLOAT)`, which HF's RMSNorm exports in fp32 models). Needs `x`'s dtype.
 */
export function throughIdentityCast(v: Value): Value {
  const c = producer(v, 'Cast');
  const src = c?.inputs[0];
  return c && src && onnxTypeOf(dtypeOf(src)) !== 0 && onnxTypeOf(dtypeOf(src)) === c.attrInt('to', 0) ? src : v;
}

// ---- GELU ------------------------------------------------------------------------------------------

/** The multiplications that turn `act = erf(·)` or `tanh(·)` into `0.5 · x · (1 + act)`. */
export interface GeluTail {
  nodes: Node[];
  output: Value;
}

/**
 * Matches `0.5 · x · (1 + act)` below `act` in the three orders exporters use:
 * `Mul(Mul(x, 1+act), 0.5)` (or `Div(·, 2)`), `Mul(Mul(0.5, 1+act), x)` and `Mul(Mul(x, 0.5), 1+act)`;
 * every Mul in either operand order. Null when `act` is not followed by `1 + act`.
 */
export function matchGeluTail(act: Value, x: Value): GeluTail | Why | null {
  const plus = soleConsumerOp(act, 'Add');
  if (!plus || !isNear(otherInput(plus, act), 1)) return null;
  const onePlus = plus.output(0);
  const m1 = soleConsumerOp(onePlus, 'Mul');
  if (!m1) return why(`1 + ${act.producer?.opType ?? 'act'}(·) ('${plus.name}') is not multiplied by x`, plus);
  const o = otherInput(m1, onePlus);
  if (o === x) {
    const m2 = soleConsumerOp(m1.output(0), ['Mul', 'Div']);
    const half = m2 && (hasOp(m2, 'Mul') ? isNear(otherInput(m2, m1.output(0)), 0.5) : m2.inputs[0] === m1.output(0) && isNear(m2.inputs[1], 2));
    if (!m2 || !half) return why(`x · (1 + ${act.producer?.opType}(·)) ('${m1.name}') is not halved`, m1);
    return { nodes: [plus, m1, m2], output: m2.output(0) };
  }
  if (isNear(o, 0.5)) {
    const m2 = soleConsumerOp(m1.output(0), 'Mul');
    if (!m2 || otherInput(m2, m1.output(0)) !== x) return why(`0.5 · (1 + ${act.producer?.opType}(·)) ('${m1.name}') is not multiplied by x`, m1);
    return { nodes: [plus, m1, m2], output: m2.output(0) };
  }
  const halfX = producer(o, 'Mul');
  if (halfX && ((halfX.inputs[0] === x && isNear(halfX.inputs[1], 0.5)) || (halfX.inputs[1] === x && isNear(halfX.inputs[0], 0.5)))) {
    return { nodes: [halfX, plus, m1], output: m1.output(0) };
  }
  return why(`'${m1.name}' multiplies 1 + ${act.producer?.opType}(·) by something other than x or 0.5·x`, m1);
}

// ---- Skip*Normalization input roles --------------------------------------------------------------

/** Which operand of the residual Add becomes SkipLayerNormalization's `input` and which its `skip`. */
export interface SkipRoles {
  input: Value;
  skip: Value;
}

/**
 * Assigns `input` and `skip` for `sum = Add(a, b)` from their shapes, as onnxruntime's kernels need
 * them: `input` is 2-D or 3-D with the sum's shape; `skip` has the same shape, or (when
 * `allowBroadcast`) is `(1, S, H)` / `(S, H)` against a 3-D `(B, S, H)` input. `prefer` breaks a tie
 * (the operand whose bias the fused node absorbs). Every dim must be known: onnxruntime's WebGPU
 * kernel indexes `skip` modulo its size and would silently read the wrong rows otherwise.
 */
export function skipRoles(sum: Value, a: Value, b: Value, allowBroadcast: boolean, prefer: Value | null): SkipRoles | Why {
  const s = shapeOf(sum);
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  if (!isFullyKnown(s) || !isFullyKnown(sa) || !isFullyKnown(sb)) {
    return why(`shapes of the residual Add are unknown (sum ${fmtShape(s)}, operands ${fmtShape(sa)} and ${fmtShape(sb)}): run shape inference first`);
  }
  if (s.length !== 2 && s.length !== 3) return why(`the residual sum ${fmtShape(s)} is ${s.length}-D; Skip*Normalization takes 2-D or 3-D input`);
  const full = (v: Shape) => sameKnownShape(v, s);
  const broadcastSkip = (v: Shape): boolean =>
    allowBroadcast && s.length === 3 && ((v.length === 3 && v[0] === 1 && sameDim(v[1], s[1]) && sameDim(v[2], s[2])) || (v.length === 2 && sameDim(v[0], s[1]) && sameDim(v[1], s[2])));
  if (full(sa) && full(sb)) return prefer === b ? { input: b, skip: a } : { input: a, skip: b };
  if (full(sa) && broadcastSkip(sb)) return { input: a, skip: b };
  if (full(sb) && broadcastSkip(sa)) return { input: b, skip: a };
  return why(`residual Add operands ${fmtShape(sa)} and ${fmtShape(sb)} do not fit Skip*Normalization (input ${fmtShape(s)}; skip the same${allowBroadcast ? ', (1,S,H) or (S,H)' : ''})`);
}

// ---- passes whose rules see their parameters -----------------------------------------------------

/** What a rule factory gets: the resolved parameters and a log for extra stats and notes. */
export interface RuleContext<P> {
  params: P;
  /** Bumps `stats[stat][key]` of the pass result (e.g. `biasAbsorbed.SkipLayerNormalization`). */
  count(stat: string, key: string): void;
  /** Adds an `info` diagnostic (e.g. which bias went into which fused node). */
  note(rule: string, nodes: string[], message: string): void;
}

/** The parameter of passes whose proofs need shapes (see {@link fusionPass}'s `needsShapes`). */
const INFER_SHAPES_PARAM: ParamSpec = {
  type: 'boolean',
  default: true,
  doc: 'Run shape inference first when node outputs have no type (TorchScript exports carry none); the proofs need shapes',
};

/** True when some node output that is read (or is a graph output) has no type, in `g` or its subgraphs. */
export function hasUntypedValues(g: Graph): boolean {
  for (const n of g.allNodes()) {
    for (const o of n.outputs) if (o && !o.type && (o.useCount > 0 || o.isGraphOutput)) return true;
  }
  return false;
}

/**
 * A fusion pass built from rules that depend on its parameters. Like `rewritePass`, plus: rules are
 * made per run from the resolved parameters; the model imports the contrib domains the rules emit
 * (`com.microsoft` version 1) when something was fused; extra counts and notes land in the result.
 * With `needsShapes`, the pass gets an `inferShapes` parameter (default on) and annotates the model
 * with graph-core's shape inference before matching whenever a used value has no type — an
 * analysis that only fills in `Value.type` (declared types are kept), so raw exports need no
 * separate step; its count lands in `stats.inferredTypes`.
 */
export function fusionPass<P extends Record<string, unknown>>(spec: {
  name: string;
  description: string;
  params: Record<string, ParamSpec>;
  /** Domains of the ops the rules create, imported (version 1) when the pass changed the model. */
  domains?: readonly string[];
  /** The rules prove things from shapes: offer (and default to) shape inference before matching. */
  needsShapes?: boolean;
  rules(ctx: RuleContext<P>): readonly RewriteRule[];
}): Pass {
  const pass: Pass = {
    name: spec.name,
    description: spec.description,
    category: 'fusion',
    params: spec.needsShapes ? { ...spec.params, inferShapes: INFER_SHAPES_PARAM } : spec.params,
    run(model: Model, ctx, given): PassResult {
      // idempotent on parameters the pass manager already resolved; fills defaults for direct calls
      const params = resolveParams(pass, given);
      const extra: Record<string, Record<string, number>> = {};
      const notes: Diagnostic[] = [];
      let inferred = -1;
      if (params.inferShapes === true && hasUntypedValues(model.graph)) {
        const report = inferShapes(model);
        inferred = report.inferred;
        if (report.errors.length) {
          notes.push({ pass: spec.name, rule: 'infer-shapes', kind: 'warning', nodes: [], message: `shape inference found ${report.errors.length} contradiction(s), first: ${report.errors[0].message}` });
        }
      }
      const rctx: RuleContext<P> = {
        params: params as P,
        count(stat, key) {
          const s = (extra[stat] ??= {});
          s[key] = (s[key] ?? 0) + 1;
        },
        note(rule, nodes, message) {
          notes.push({ pass: spec.name, rule, kind: 'info', nodes, message });
        },
      };
      const result = applyRewrites(model, spec.rules(rctx), spec.name, ctx);
      if (result.modified) {
        for (const d of spec.domains ?? []) if (model.opset(d) === undefined) model.opsetImports.set(d, 1);
      }
      Object.assign(result.stats, extra);
      if (inferred >= 0) result.stats.inferredTypes = inferred;
      result.diagnostics.push(...notes);
      return result;
    },
  };
  return pass;
}

/** Product of static dims. */
export function product(dims: readonly Dim[]): number | null {
  let p = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}
