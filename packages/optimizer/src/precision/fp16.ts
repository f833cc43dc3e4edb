/**
 * float16 helpers: the default keep-list, overflow detection from calibration ranges, tensor
 * conversion, and the graph invariants a converted model must keep (no Cast pairs that cancel, one
 * float dtype per node).
 */
import { Tensor, dtypeFromOnnx, floatToHalf, int64ToNumber, type DType, type Model, type Node, type Value } from '@fuselab/graph-core';

/** Largest finite float16. */
export const FP16_MAX = 65504;

/**
 * Ops kept in float32 by default: normalization statistics (their means of squares overflow or lose
 * digits in fp16), Softmax, and reductions. `Pow` is here because the decomposed norms square
 * activations with it.
 */
export const FP16_DEFAULT_KEEP: readonly string[] = [
  'LayerNormalization', 'SimplifiedLayerNormalization', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization', 'RMSNormalization',
  'GroupNormalization', 'BatchNormalization', 'InstanceNormalization', 'GroupNorm', 'SkipGroupNorm',
  'Softmax', 'LogSoftmax',
  'ReduceMean', 'ReduceSum', 'ReduceSumSquare', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceProd', 'ReduceMax', 'ReduceMin',
  'Pow',
];

/** Float inputs that stay float32 whatever the node's precision (the op's schema fixes them). */
export const FLOAT32_ONLY_INPUTS: Readonly<Record<string, readonly number[]>> = { Resize: [1, 2], Upsample: [1] };
/** Float outputs that are float32 whatever the node's precision (saved statistics). */
export const FLOAT32_ONLY_OUTPUTS: Readonly<Record<string, readonly number[]>> = {
  LayerNormalization: [1, 2], SimplifiedLayerNormalization: [1], SkipLayerNormalization: [1, 2], SkipSimplifiedLayerNormalization: [1, 2],
};

/** An activation range observed during calibration. */
export interface ValueRange {
  min: number;
  max: number;
}

/**
 * Nodes whose calibration activations leave the float16 range: any output (or float input) whose
 * observed |value| exceeds `FP16_MAX / margin`. Detected from data, not guessed.
 */
export function fp16OverflowNodes(model: Model, ranges: ReadonlyMap<string, ValueRange> | Record<string, ValueRange>, margin = 1): Array<{ node: string; value: string; absMax: number }> {
  const get = (name: string) => (ranges instanceof Map ? ranges.get(name) : (ranges as Record<string, ValueRange>)[name]);
  const out: Array<{ node: string; value: string; absMax: number }> = [];
  const limit = FP16_MAX / margin;
  for (const n of model.graph.nodes) {
    for (const v of [...n.outputs, ...n.inputs]) {
      if (!v || v.initializer) continue;
      const r = get(v.name);
      if (!r) continue;
      const absMax = Math.max(Math.abs(r.min), Math.abs(r.max));
      if (absMax > limit || !Number.isFinite(absMax)) {
        out.push({ node: n.name, value: v.name, absMax });
        break;
      }
    }
  }
  return out;
}

/**
 * A float32 (or float64) tensor as float16, same dims and name. Finite values beyond ±65504 are
 * clamped to ±65504 (not rounded to ±Inf): exporters write attention masks with float32's lowest
 * value, and `0 · -Inf` would make NaN where `0 · -65504` stays 0. `clamped` counts them.
 */
export function toFloat16Tensor(t: Tensor, name = t.name): Tensor & { clamped?: number } {
  const src = t.toNumbers();
  const bits = new Uint16Array(src.length);
  let clamped = 0;
  for (let i = 0; i < src.length; i++) {
    let x = src[i];
    if (Number.isFinite(x) && Math.abs(x) > FP16_MAX) {
      x = Math.sign(x) * FP16_MAX;
      clamped++;
    }
    bits[i] = floatToHalf(x);
  }
  const out: Tensor & { clamped?: number } = Tensor.from('float16', t.dims, bits, name);
  if (clamped) out.clamped = clamped;
  return out;
}

/** The dtype a Cast node converts to. */
export function castTarget(n: Node): DType | null {
  const to = n.attrInt('to');
  if (to === undefined) return null;
  try {
    return dtypeFromOnnx(int64ToNumber(to)) ?? null;
  } catch {
    return null;
  }
}

const FLOATS = new Set<DType>(['float32', 'float16', 'bfloat16', 'float64']);

/**
 * Cast pairs that cancel: `Cast(Cast(x, to=B), to=A)` where x is already A and A, B are float types
 * — the round trip adds two kernels and (for A wider than B) only loses precision. A converted
 * graph must have none.
 */
export function cancellingCasts(model: Model): Array<{ first: string; second: string; dtypes: [DType, DType] }> {
  const out: Array<{ first: string; second: string; dtypes: [DType, DType] }> = [];
  for (const n of model.graph.allNodes()) {
    if (n.opType !== 'Cast') continue;
    const inner = n.inputs[0]?.producer;
    if (!inner || inner.opType !== 'Cast') continue;
    const a = inner.inputs[0]?.dtype ?? inner.inputs[0]?.initializer?.dtype ?? null;
    const b = castTarget(inner);
    const c = castTarget(n);
    if (a && b && c && a === c && FLOATS.has(a) && FLOATS.has(b)) out.push({ first: inner.name, second: n.name, dtypes: [a, b] });
  }
  return out;
}

/** The element type of `v` (declared or from its initializer). */
export function dtypeOfValue(v: Value | null | undefined): DType | null {
  return v ? v.dtype ?? v.initializer?.dtype ?? null : null;
}
