/**
 * Chain simplification: two data-movement or conversion nodes in a row become one (or none). Each
 * rule keeps the inner node when something else reads it, and says why it refused a near miss.
 *
 *   Cast(Cast(x: T, a), b)        → Cast(x, b)          when every T value is exact in a (T ⊆ a); → x when also b = T
 *   Reshape(Reshape(x, s1), s2)   → Reshape(x, s2)      when s2 is constant (its 0s resolved against the intermediate)
 *   Transpose(Transpose(x, p), q) → Transpose(x, p∘q)   → x when p∘q is the identity
 *   Squeeze(Unsqueeze(x, a), a)   → x                   same axes (normalized against the unsqueezed rank)
 *   Unsqueeze(Squeeze(x, a), a)   → x                   same axes (normalized against x's rank)
 *
 * Why `T ⊆ a` and not `a ⊇ b`: Cast(Cast(x, a), b) equals Cast(x, b) exactly when the inner Cast
 * keeps x's value; int64→int32→int64 drops the high bits of large values, and float32→float16→float32
 * rounds, however wide b is. (Conversions depend only on the value, so once a holds x exactly the
 * second Cast sees what the direct one would.)
 */
import { dtypeFromOnnx, type DType, type Graph, type Node, type Value } from '@fuselab/graph-core';
import { applyRewrites } from '../rewrite/engine.ts';
import { constNumbers, producer } from '../rewrite/match.ts';
import { matched, reject, type RewriteBuilder, type RewriteRule } from '../rewrite/rule.ts';
import type { Pass } from '../pass.ts';

const PASS = 'simplify-chains';

/** Significant bits of the integers a type holds exactly (`null` for non-integers). */
const INT_BITS: Partial<Record<DType, { bits: number; signed: boolean }>> = {
  bool: { bits: 1, signed: false },
  int8: { bits: 8, signed: true }, uint8: { bits: 8, signed: false },
  int16: { bits: 16, signed: true }, uint16: { bits: 16, signed: false },
  int32: { bits: 32, signed: true }, uint32: { bits: 32, signed: false },
  int64: { bits: 64, signed: true }, uint64: { bits: 64, signed: false },
};
/** Significand precision (bits, implicit one included) of float types. */
const FLOAT_PRECISION: Partial<Record<DType, number>> = { float16: 11, bfloat16: 8, float32: 24, float64: 53 };
/** Float types ordered by range and precision: each holds the ones before it exactly. */
const FLOAT_CHAIN: Partial<Record<DType, readonly DType[]>> = {
  float16: ['float16', 'float32', 'float64'],
  bfloat16: ['bfloat16', 'float32', 'float64'],
  float32: ['float32', 'float64'],
  float64: ['float64'],
};

/** True when every value of `from` is represented exactly in `to` (so Cast(x, to) loses nothing). */
export function holdsExactly(from: DType, to: DType): boolean {
  if (from === to) return true;
  const fi = INT_BITS[from];
  if (fi) {
    const ti = INT_BITS[to];
    if (to === 'bool') return false;
    if (ti) {
      if (from === 'bool') return true;
      if (fi.signed && !ti.signed) return false;
      return ti.bits >= fi.bits + (!fi.signed && ti.signed ? 1 : 0);
    }
    const p = FLOAT_PRECISION[to];
    // the largest magnitude of a signed N-bit type is 2^(N-1), exact when N-1 ≤ precision
    return p !== undefined && (fi.signed ? fi.bits - 1 : fi.bits) <= p;
  }
  return FLOAT_CHAIN[from]?.includes(to) ?? false;
}

const castTo = (n: Node): DType | undefined => dtypeFromOnnx(n.attrInt('to', 0));

/** The inner node is dropped only when the outer one is its sole reader. */
function nodesFor(inner: Node, outer: Node): Node[] {
  const v = inner.output(0);
  return v.useCount === 1 && !v.isGraphOutput ? [inner, outer] : [outer];
}

/** `x` itself, or an Identity of it when the replaced value is a graph output (whose name must stay). */
function passThrough(b: RewriteBuilder, x: Value, outer: Node): Value[] {
  return outer.output(0).isGraphOutput ? b.op('Identity', [x]) : [x];
}

const castCast: RewriteRule = {
  name: 'cast-cast',
  description: 'Cast(Cast(x: T, a), b) → Cast(x, b) when T ⊆ a; → x when also b = T',
  anchors: ['Cast'],
  produces: 'Cast',
  match(outer) {
    const inner = producer(outer.inputs[0], 'Cast');
    if (!inner) return null;
    const x = inner.input(0);
    const t = x.dtype;
    const a = castTo(inner);
    const b = castTo(outer);
    if (!a || !b) return reject('a Cast has an unknown target type', inner);
    if (!t) return reject(`the element type of '${x.name}' is unknown, so whether ${a} holds it exactly cannot be checked`, inner);
    if (!holdsExactly(t, a)) {
      return reject(`${t}→${a}→${b} is not lossless: ${a} cannot hold every ${t} value, so the inner Cast changes values that Cast(x, ${b}) would keep`, inner);
    }
    return matched({
      nodes: nodesFor(inner, outer),
      outputs: [outer.output(0)],
      build: (bb) => (b === t ? passThrough(bb, x, outer) : bb.op('Cast', [x], { to: outer.attrInt('to', 0) })),
    });
  },
};

const reshapeReshape: RewriteRule = {
  name: 'reshape-reshape',
  description: 'Reshape(Reshape(x, s1), s2) → Reshape(x, s2) when s2 is constant',
  anchors: ['Reshape'],
  produces: 'Reshape',
  match(outer) {
    const inner = producer(outer.inputs[0], 'Reshape');
    if (!inner) return null;
    const x = inner.input(0);
    const s2 = constNumbers(outer.inputs[1], 64);
    if (!s2) return reject('the outer target shape is computed at run time (it may read the intermediate shape); fold shapes first', inner);
    const allowzero = outer.attrInt('allowzero', 0) === 1;
    const mid = inner.output(0).shape;
    const target = s2.slice();
    let changed = false;
    if (!allowzero) {
      for (let i = 0; i < target.length; i++) {
        if (target[i] !== 0) continue;
        const m = mid?.[i];
        const xd = x.shape?.[i];
        if (typeof m === 'number' && m > 0) {
          target[i] = m;
          changed = true;
        } else if (m !== undefined && m !== null && i < (x.shape?.length ?? 0) && xd === m) {
          // x's dim i is the intermediate's dim i: 0 still copies the right value
        } else {
          return reject(`the outer target copies dim ${i} of the intermediate (0), which is not known to equal dim ${i} of '${x.name}'`, inner);
        }
      }
    }
    return matched({
      nodes: nodesFor(inner, outer),
      outputs: [outer.output(0)],
      build: (b) => {
        const shape = changed ? b.i64('shape', [target.length], target) : outer.input(1);
        return b.op('Reshape', [x, shape], allowzero ? { allowzero: 1 } : {});
      },
    });
  },
};

/** The perm of a Transpose, defaulting to reversed dims when the input rank is known. */
function permOf(n: Node): number[] | null {
  const p = n.attrInts('perm');
  if (p) return p;
  const r = n.inputs[0]?.shape?.length;
  return r === undefined ? null : Array.from({ length: r }, (_, i) => r - 1 - i);
}

const transposeTranspose: RewriteRule = {
  name: 'transpose-transpose',
  description: 'Transpose(Transpose(x, p), q) → Transpose(x, p∘q), or x when p∘q is the identity',
  anchors: ['Transpose'],
  produces: 'Transpose',
  match(outer) {
    const inner = producer(outer.inputs[0], 'Transpose');
    if (!inner) return null;
    const p = permOf(inner);
    const q = permOf(outer);
    if (!p || !q) return reject('a Transpose has no perm and its input rank is unknown', inner);
    if (p.length !== q.length) return reject(`perms [${p.join(',')}] and [${q.join(',')}] have different ranks`, inner);
    const composed = q.map((i) => p[i]);
    const x = inner.input(0);
    const isIdentity = composed.every((v, i) => v === i);
    return matched({
      nodes: nodesFor(inner, outer),
      outputs: [outer.output(0)],
      build: (b) => (isIdentity ? passThrough(b, x, outer) : b.op('Transpose', [x], { perm: composed })),
    });
  },
};

/** Squeeze/Unsqueeze axes: the attribute (opset < 13) or a constant second input; 'dynamic' when computed. */
function axesOf(n: Node): number[] | null | 'dynamic' {
  const attr = n.attrInts('axes');
  if (attr) return attr;
  const v = n.inputs[1];
  if (!v) return null;
  return constNumbers(v, 64) ?? 'dynamic';
}

function normalize(axes: readonly number[], rank: number | undefined): number[] | null {
  const out: number[] = [];
  for (const a of axes) {
    if (a < 0 && rank === undefined) return null;
    out.push(a < 0 ? a + (rank as number) : a);
  }
  return out.sort((x, y) => x - y);
}

const sameAxes = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

const unsqueezeSqueeze: RewriteRule = {
  name: 'unsqueeze-squeeze',
  description: 'Squeeze(Unsqueeze(x, axes), axes) → x',
  anchors: ['Squeeze'],
  produces: 'Identity',
  match(outer) {
    const inner = producer(outer.inputs[0], 'Unsqueeze');
    if (!inner) return null;
    const x = inner.input(0);
    const ua = axesOf(inner);
    const sa = axesOf(outer);
    if (ua === 'dynamic' || ua === null) return reject('the Unsqueeze axes are not constant', inner);
    if (sa === 'dynamic') return reject('the Squeeze axes are not constant', inner);
    const rank = x.shape ? x.shape.length + ua.length : undefined;
    const u = normalize(ua, rank);
    let s: number[] | null;
    if (sa === null) {
      // Squeeze without axes drops every size-1 dim: only the inserted ones when x has none of its own
      if (!x.shape || x.shape.some((d) => typeof d !== 'number' || d === 1)) {
        return reject(`Squeeze has no axes and '${x.name}' may have size-1 dims of its own`, inner);
      }
      s = u;
    } else {
      s = normalize(sa, rank);
    }
    if (!u || !s) return reject(`negative axes need the rank of '${x.name}', which is unknown`, inner);
    if (!sameAxes(u, s)) return reject(`Unsqueeze axes [${u.join(',')}] and Squeeze axes [${s.join(',')}] differ`, inner);
    return matched({ nodes: nodesFor(inner, outer), outputs: [outer.output(0)], build: (b) => passThrough(b, x, outer) });
  },
};

const squeezeUnsqueeze: RewriteRule = {
  name: 'squeeze-unsqueeze',
  description: 'Unsqueeze(Squeeze(x, axes), axes) → x',
  anchors: ['Unsqueeze'],
  produces: 'Identity',
  match(outer) {
    const inner = producer(outer.inputs[0], 'Squeeze');
    if (!inner) return null;
    const x = inner.input(0);
    let sa = axesOf(inner);
    const ua = axesOf(outer);
    if (sa === 'dynamic') return reject('the Squeeze axes are not constant', inner);
    if (ua === 'dynamic' || ua === null) return reject('the Unsqueeze axes are not constant', inner);
    const rank = x.shape?.length;
    if (sa === null) {
      if (!x.shape || x.shape.some((d) => d === null || (typeof d === 'string'))) {
        return reject(`Squeeze has no axes and which dims of '${x.name}' are 1 is not known`, inner);
      }
      sa = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
    }
    const s = normalize(sa, rank);
    const u = normalize(ua, rank);
    if (!u || !s) return reject(`negative axes need the rank of '${x.name}', which is unknown`, inner);
    if (!sameAxes(u, s)) return reject(`Squeeze axes [${s.join(',')}] and Unsqueeze axes [${u.join(',')}] differ`, inner);
    return matched({ nodes: nodesFor(inner, outer), outputs: [outer.output(0)], build: (b) => passThrough(b, x, outer) });
  },
};

/** The rules of {@link simplifyChains}, for reuse in workflows that pick rules individually. */
export const CHAIN_RULES: readonly RewriteRule[] = [castCast, reshapeReshape, transposeTranspose, unsqueezeSqueeze, squeezeUnsqueeze];

/** The chain-simplification pass: {@link CHAIN_RULES} through the rewrite engine, counted under `simplified`. */
export const simplifyChains: Pass = {
  name: PASS,
  description: 'Merge Cast→Cast (when lossless), Reshape→Reshape, Transpose→Transpose; cancel Unsqueeze↔Squeeze',
  category: 'cleanup',
  params: {},
  run(model, ctx) {
    const before = new Set(allNodes(model.graph));
    const r = applyRewrites(model, CHAIN_RULES, PASS, ctx);
    // counts under `simplified`, not `fused`: these are cleanups, not new kernels
    r.stats = { simplified: r.stats.fused ?? {}, ...(r.stats.rejected ? { rejected: r.stats.rejected } : {}) };
    const replaced = new Set(r.provenance.flatMap((p) => p.sources));
    const after = new Set(allNodes(model.graph));
    for (const n of before) {
      if (!after.has(n) && !replaced.has(n.name)) r.removed.push({ node: n.name, opType: n.opType, pass: PASS, reason: 'chain simplified: the pair cancels out' });
    }
    return r;
  },
};

function allNodes(g: Graph): Node[] {
  return [...g.allNodes()];
}
