/**
 * Matrix products: MatMul (numpy semantics with batch broadcasting), Gemm, Einsum.
 */
import type { Dim, Shape } from '../ir/shape.ts';
import { broadcastDim, broadcastShapes, fmt, unifyDim, unknownShape } from './infer-utils.ts';
import { defineOp, type AttrSpec, type InferenceContext, type OpSchema } from './schema.ts';

/**
 * numpy.matmul output shape: 1-D operands are promoted (and the added dim removed after), batch
 * dims broadcast, inner dims must agree. Shared with FusedMatMul and MatMulNBits.
 */
export function matmulShape(ctx: InferenceContext, a: Shape | null, b: Shape | null, what = 'A'): Shape | null {
  if (!a || !b) return null;
  if (a.length === 0 || b.length === 0) ctx.fail(`MatMul operands must have rank >= 1, got ${fmt(a)} and ${fmt(b)}`);
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const b2 = b.length === 1 ? [b[0], 1] : b;
  const k1 = a2[a2.length - 1];
  const k2 = b2[b2.length - 2];
  if (unifyDim(k1, k2) === undefined) {
    ctx.fail(`inner dims differ: ${what} ${fmt(a)} has ${k1} columns but B ${fmt(b)} has ${k2} rows`);
  }
  const batch = broadcastShapes(ctx, [a2.slice(0, -2), b2.slice(0, -2)]) ?? [];
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]);
  if (b.length > 1) out.push(b2[b2.length - 1]);
  return out;
}

/** Gemm's attributes, unchanged across its opset versions. */
const GEMM_ATTRS = {
  alpha: { type: 'float', default: 1, doc: 'Scale of A * B.' },
  beta: { type: 'float', default: 1, doc: 'Scale of C.' },
  transA: { type: 'int', default: 0, doc: 'Transpose A first.' },
  transB: { type: 'int', default: 0, doc: 'Transpose B first.' },
} as const satisfies Record<string, AttrSpec>;

function gemmInfer(ctx: InferenceContext): void {
  const a = ctx.inputShape(0);
  const b = ctx.inputShape(1);
  const dtype = ctx.inputDType(0);
  if (a && a.length !== 2) ctx.fail(`A must be 2-D, got ${fmt(a)}`);
  if (b && b.length !== 2) ctx.fail(`B must be 2-D, got ${fmt(b)}`);
  const ta = ctx.attrInt('transA') !== 0;
  const tb = ctx.attrInt('transB') !== 0;
  const m = a ? a[ta ? 1 : 0] : null;
  const ka = a ? a[ta ? 0 : 1] : null;
  const kb = b ? b[tb ? 1 : 0] : null;
  const n = b ? b[tb ? 0 : 1] : null;
  if (unifyDim(ka, kb) === undefined) ctx.fail(`inner dims differ: A${ta ? 'ᵀ' : ''} ${fmt(a)} has ${ka} columns, B${tb ? 'ᵀ' : ''} ${fmt(b)} has ${kb} rows`);
  const c = ctx.hasInput(2) ? ctx.inputShape(2) : null;
  if (c) {
    if (c.length > 2) ctx.fail(`C ${fmt(c)} must have rank <= 2`);
    const mn = [m, n];
    for (let i = 0; i < c.length; i++) {
      const d = c[i];
      const t = mn[2 - c.length + i];
      if (typeof d === 'number' && d !== 1 && typeof t === 'number' && d !== t) ctx.fail(`C ${fmt(c)} does not broadcast to [${m},${n}]`);
    }
  }
  ctx.setOutput(0, dtype, [m, n]);
}

interface EinsumTerm {
  letters: string[];
  /** Index of '...' among the letters, or -1. */
  ellipsis: number;
}

function parseTerm(ctx: InferenceContext, s: string): EinsumTerm {
  const t = s.trim();
  const letters: string[] = [];
  let ellipsis = -1;
  for (let i = 0; i < t.length; i++) {
    if (t.startsWith('...', i)) {
      if (ellipsis >= 0) ctx.fail(`equation term '${s}' has two ellipses`);
      ellipsis = letters.length;
      i += 2;
    } else if (/[a-zA-Z]/.test(t[i])) {
      letters.push(t[i]);
    } else if (t[i] !== ' ') {
      ctx.fail(`equation term '${s}' has an unexpected character '${t[i]}'`);
    }
  }
  return { letters, ellipsis };
}

function einsumInfer(ctx: InferenceContext): void {
  const eq = ctx.attrString('equation').replace(/\s+/g, '');
  const dtype = ctx.inputDType(0);
  const arrow = eq.indexOf('->');
  const lhs = arrow >= 0 ? eq.slice(0, arrow) : eq;
  const terms = lhs.split(',').map((t) => parseTerm(ctx, t));
  if (terms.length !== ctx.inputCount) ctx.fail(`equation '${eq}' has ${terms.length} operands but the node has ${ctx.inputCount} inputs`);
  const dims = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ell: Shape | null = [];
  let ranksKnown = true;
  terms.forEach((term, i) => {
    const s = ctx.inputShape(i);
    for (const l of term.letters) counts.set(l, (counts.get(l) ?? 0) + 1);
    if (!s) {
      ranksKnown = false;
      return;
    }
    const ellRank = s.length - term.letters.length;
    if (term.ellipsis < 0 && ellRank !== 0) ctx.fail(`operand ${i} ${fmt(s)} has rank ${s.length} but its term has ${term.letters.length} letters`);
    if (ellRank < 0) ctx.fail(`operand ${i} ${fmt(s)} has rank ${s.length}, fewer than the ${term.letters.length} letters of its term`);
    term.letters.forEach((l, k) => {
      const d = s[k < term.ellipsis || term.ellipsis < 0 ? k : k + ellRank];
      const prev = dims.get(l);
      if (prev === undefined) {
        dims.set(l, d);
        return;
      }
      const u = prev === 1 ? d : d === 1 ? prev : unifyDim(prev, d);
      if (u === undefined) ctx.fail(`letter '${l}' is ${prev} in one operand and ${d} in operand ${i}`);
      dims.set(l, u);
    });
    if (term.ellipsis >= 0 && ell) {
      const part = s.slice(term.ellipsis, term.ellipsis + ellRank);
      const r = Math.max(ell.length, part.length);
      const merged: Dim[] = [];
      for (let k = 0; k < r; k++) {
        const x = ell[k - (r - ell.length)] ?? 1;
        const y = part[k - (r - part.length)] ?? 1;
        const d = broadcastDim(x, y);
        if (d === undefined) ctx.fail(`the '...' dims of the operands do not broadcast: ${fmt(ell)} vs ${fmt(part)}`);
        merged.push(d);
      }
      ell = merged;
    }
  });
  let out: EinsumTerm;
  if (arrow >= 0) {
    out = parseTerm(ctx, eq.slice(arrow + 2));
  } else {
    const letters = [...counts.entries()].filter(([, c]) => c === 1).map(([l]) => l).sort();
    out = { letters, ellipsis: terms.some((t) => t.ellipsis >= 0) ? 0 : -1 };
  }
  for (const l of out.letters) if (!counts.has(l)) ctx.fail(`output letter '${l}' does not appear in any operand`);
  if (!ranksKnown) {
    ctx.setOutput(0, dtype, out.ellipsis >= 0 ? null : unknownShape(out.letters.length));
    return;
  }
  const shape: Dim[] = [];
  out.letters.forEach((l, k) => {
    if (k === out.ellipsis) shape.push(...(ell ?? []));
    shape.push(dims.get(l) ?? null);
  });
  if (out.ellipsis === out.letters.length) shape.push(...(ell ?? []));
  ctx.setOutput(0, dtype, shape);
}

/** Matrix product op schemas. */
export const matmulOps: readonly OpSchema[] = [
  defineOp({
    domain: '', opType: 'MatMul', since: 1, doc: 'Matrix product with numpy.matmul semantics (batch dims broadcast).',
    inputs: [{ name: 'A' }, { name: 'B' }], outputs: [{ name: 'Y' }],
    inferShape(ctx) {
      const da = ctx.inputDType(0);
      const db = ctx.inputDType(1);
      if (da && db && da !== db) ctx.fail(`input types differ: ${da} and ${db}`);
      ctx.setOutput(0, da ?? db, matmulShape(ctx, ctx.inputShape(0), ctx.inputShape(1)));
    },
  }),
  defineOp({
    domain: '', opType: 'Gemm', since: 11, doc: 'alpha * A\' * B\' + beta * C, with optional transposes and C broadcast to [M, N].',
    inputs: [{ name: 'A' }, { name: 'B' }, { name: 'C', optional: true }], outputs: [{ name: 'Y' }],
    attrs: GEMM_ATTRS,
    inferShape: gemmInfer,
  }),
  defineOp({
    domain: '', opType: 'Gemm', since: 7, doc: 'alpha * A\' * B\' + beta * C, with optional transposes and C broadcast to [M, N].',
    inputs: [{ name: 'A' }, { name: 'B' }, { name: 'C' }], outputs: [{ name: 'Y' }],
    attrs: GEMM_ATTRS,
    inferShape: gemmInfer,
  }),
  defineOp({
    domain: '', opType: 'Einsum', since: 12, doc: "Einstein summation over the operands (e.g. 'bhqd,bhkd->bhqk').",
    inputs: [{ name: 'Inputs', variadic: true }], outputs: [{ name: 'Output' }],
    attrs: { equation: { type: 'string', required: true, doc: "Subscripts, e.g. 'ij,jk->ik' or '...ij,...jk'." } },
    inferShape: einsumInfer,
  }),
];
