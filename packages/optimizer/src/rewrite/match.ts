/**
 * Helpers for writing rewrite rules: walk producers and consumers, read constants (initializers and
 * Constant nodes), compare scalars with tolerances.
 */
import type { Node, Tensor, Value } from '@fuselab/graph-core';
import { Tensor as TensorClass } from '@fuselab/graph-core';

/** The node producing `v` if its op type is one of `opTypes` (default domain unless `domain`). */
export function producer(v: Value | null | undefined, opTypes: string | readonly string[], domain = ''): Node | null {
  const p = v?.producer;
  if (!p) return null;
  const types = typeof opTypes === 'string' ? [opTypes] : opTypes;
  return types.includes(p.opType) && normDomain(p.domain) === normDomain(domain) ? p : null;
}

const normDomain = (d: string) => (d === 'ai.onnx' ? '' : d);

/** True when `n` is `opType` in the default domain (or `domain`). */
export function isOp(n: Node | null | undefined, opType: string, domain = ''): n is Node {
  return !!n && n.opType === opType && normDomain(n.domain) === normDomain(domain);
}

/** The nodes reading `v`. */
export function consumers(v: Value): Node[] {
  const out: Node[] = [];
  for (const u of v.uses) if (!out.includes(u.node)) out.push(u.node);
  return out;
}

/** The single node reading `v`, or null when there are zero or several (or it is a graph output). */
export function soleConsumer(v: Value): Node | null {
  if (v.isGraphOutput) return null;
  const c = consumers(v);
  return c.length === 1 ? c[0] : null;
}

/**
 * The constant tensor behind `v`: an initializer that is not an overridable graph input, or the
 * output of a Constant node (value / value_float(s) / value_int(s)). Null when not constant.
 */
export function constTensor(v: Value | null | undefined): Tensor | null {
  if (!v) return null;
  if (v.initializer) return v.isGraphInput ? null : v.initializer;
  const p = v.producer;
  if (!p || p.opType !== 'Constant' || (p.domain && p.domain !== 'ai.onnx')) return null;
  const a = p.attr('value') ?? p.attr('value_float') ?? p.attr('value_floats') ?? p.attr('value_int') ?? p.attr('value_ints');
  if (!a) return null;
  switch (a.type) {
    case 'tensor': return a.value;
    case 'float': return TensorClass.from('float32', [], new Float32Array([a.value]));
    case 'floats': return TensorClass.from('float32', [a.value.length], Float32Array.from(a.value));
    case 'int': return TensorClass.from('int64', [], new BigInt64Array([BigInt(a.value)]));
    case 'ints': return TensorClass.from('int64', [a.value.length], BigInt64Array.from(a.value.map((x) => BigInt(x))));
    default: return null;
  }
}

/** The numbers of a small constant (≤ `maxSize` elements), or null. */
export function constNumbers(v: Value | null | undefined, maxSize = 64): number[] | null {
  const t = constTensor(v);
  if (!t || t.dtype === 'string' || t.size > maxSize) return null;
  try {
    return t.toNumbers();
  } catch {
    return null;
  }
}

/** The value of a one-element constant, or null. */
export function constScalar(v: Value | null | undefined): number | null {
  const xs = constNumbers(v, 1);
  return xs && xs.length === 1 ? xs[0] : null;
}

/** True when `v` is a one-element constant within `rtol` of `x` (relative, with a 1e-12 floor). */
export function isScalarNear(v: Value | null | undefined, x: number, rtol = 1e-3): boolean {
  const s = constScalar(v);
  return s !== null && Math.abs(s - x) <= Math.max(1e-12, rtol * Math.abs(x));
}

/** The input of a binary node that is not `v` (for commutative Add/Mul matching). */
export function otherInput(n: Node, v: Value): Value | null {
  if (n.inputs[0] === v) return n.inputs[1] ?? null;
  if (n.inputs[1] === v) return n.inputs[0] ?? null;
  return null;
}

/** Last-axis size of a value when known statically. */
export function lastDim(v: Value | null | undefined): number | null {
  const s = v?.shape;
  if (!s || s.length === 0) return null;
  const d = s[s.length - 1];
  return typeof d === 'number' ? d : null;
}
