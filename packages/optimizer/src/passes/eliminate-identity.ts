/**
 * Identity elimination: nodes that return their input unchanged are removed and their readers
 * rewired to the input.
 *
 *   Identity(x)                          → x
 *   Dropout(x, ratio?, training_mode?)   → x   in inference (training_mode absent or constant false), mask unused
 *   Cast(x, to = dtype(x))               → x
 *   Reshape(x, s)                        → x   when s gives x's own shape (0 copies, equal static dims, one -1 for the rest)
 *   Expand(x, s)                         → x   when broadcasting s onto x keeps x's shape (1s and equal dims, rank(s) ≤ rank(x))
 *   Transpose(x, perm = [0, 1, …])       → x
 *   Slice(x, starts, ends, axes, steps)  → x   when every sliced axis is taken whole (start 0, end ≥ dim, step 1)
 *   Concat(x)                            → x   (one input)
 *
 * Graph outputs keep their names: when the eliminated node's output is a graph output, its input
 * takes over the output's name, unless that input is itself a graph input, initializer, another
 * graph output or a value of an enclosing graph — then the node becomes (or stays) an Identity, the
 * only way to give one value a second name.
 *
 * An end of 2^31 − 1 or more counts as "to the end" for a symbolic dim (exporters write INT64_MAX or
 * INT32_MAX there; no tensor dim that large fits in memory).
 */
import type { Graph, Node, Value } from '@fuselab/graph-core';
import { dtypeFromOnnx, Node as NodeClass } from '@fuselab/graph-core';
import { constNumbers } from '../rewrite/match.ts';
import { emptyResult, type Pass, type PassResult } from '../pass.ts';

const PASS = 'eliminate-identity';
const TO_END = 2 ** 31 - 1;
const MAX_DIAGNOSTICS_PER_RULE = 50;

/** Why a node is an identity (`input` is what it returns), why it is a near miss, or null. */
export type IdentityVerdict = { ok: true; input: Value; rule: string } | { ok: false; rule: string; reason: string } | null;

const isDefault = (n: Node) => n.domain === '' || n.domain === 'ai.onnx';
const same = (input: Value, rule: string): IdentityVerdict => ({ ok: true, input, rule });
const near = (rule: string, reason: string): IdentityVerdict => ({ ok: false, rule, reason });

/** Decides whether `node` returns its first input unchanged. Exported for the editor's "why" panel. */
export function identityVerdict(node: Node, opset: number): IdentityVerdict {
  if (!isDefault(node)) return null;
  const x = node.inputs[0];
  if (!x) return null;
  switch (node.opType) {
    case 'Identity':
      return same(x, 'identity');
    case 'Dropout': {
      if (opset < 7 && node.attrInt('is_test', 0) !== 1) return near('dropout', 'Dropout before opset 7 without is_test=1 is in training mode');
      const training = node.inputs[2];
      if (training) {
        const t = constNumbers(training, 1);
        if (!t || t[0] !== 0) return near('dropout', `training_mode '${training.name}' is not a constant false`);
      }
      const mask = node.outputs[1];
      if (mask && (mask.useCount > 0 || mask.isGraphOutput)) return near('dropout', `the mask output '${mask.name}' is used`);
      return same(x, 'dropout');
    }
    case 'Cast': {
      const to = dtypeFromOnnx(node.attrInt('to', 0));
      if (!x.dtype) return near('cast-same-type', `the element type of '${x.name}' is unknown (run shape inference first)`);
      return x.dtype === to ? same(x, 'cast-same-type') : null;
    }
    case 'Reshape':
      return reshapeVerdict(node, x);
    case 'Expand':
      return expandVerdict(node, x);
    case 'Transpose': {
      const perm = node.attrInts('perm');
      if (!perm) {
        const r = x.shape?.length;
        if (r === undefined) return null;
        return r <= 1 ? same(x, 'transpose-identity-perm') : null;
      }
      return perm.every((p, i) => p === i) ? same(x, 'transpose-identity-perm') : null;
    }
    case 'Slice':
      return sliceVerdict(node, x, opset);
    case 'Concat':
      return node.inputs.filter((v) => v).length === 1 ? same(x, 'concat-single') : null;
    default:
      return null;
  }
}

function reshapeVerdict(node: Node, x: Value): IdentityVerdict {
  const xs = x.shape;
  // a computed target is left to fold-shapes (it turns it into a constant when shapes decide it)
  const target = constNumbers(node.inputs[1], 64);
  if (!xs || !target || target.length !== xs.length) return null;
  const allowzero = node.attrInt('allowzero', 0) === 1;
  let minusOne = -1;
  for (let i = 0; i < target.length; i++) {
    const t = target[i];
    const d = xs[i];
    if (t === 0 && !allowzero) continue;
    if (t === -1) {
      if (minusOne >= 0) return null;
      minusOne = i;
      continue;
    }
    if (typeof d !== 'number' || d !== t) return null;
  }
  // a -1 resolves to x's own dim when every other dim matches and none of them is 0
  if (minusOne >= 0 && xs.some((d, i) => i !== minusOne && (d === 0 || d === null))) return null;
  return same(x, 'reshape-same-shape');
}

function expandVerdict(node: Node, x: Value): IdentityVerdict {
  const xs = x.shape;
  const s = constNumbers(node.inputs[1], 64);
  if (!xs || !s || s.length > xs.length) return null;
  const off = xs.length - s.length;
  for (let j = 0; j < s.length; j++) {
    const d = xs[off + j];
    if (s[j] !== 1 && !(typeof d === 'number' && d === s[j])) return null;
  }
  return same(x, 'expand-same-shape');
}

function sliceVerdict(node: Node, x: Value, opset: number): IdentityVerdict {
  const xs = x.shape;
  let starts: number[] | null;
  let ends: number[] | null;
  let axes: number[] | null;
  let steps: number[] | null = null;
  if (opset < 10) {
    starts = node.attrInts('starts') ?? null;
    ends = node.attrInts('ends') ?? null;
    axes = node.attrInts('axes') ?? null;
  } else {
    starts = constNumbers(node.inputs[1], 64);
    ends = constNumbers(node.inputs[2], 64);
    axes = node.inputs[3] ? constNumbers(node.inputs[3], 64) : null;
    if (node.inputs[3] && !axes) return null;
    steps = node.inputs[4] ? constNumbers(node.inputs[4], 64) : null;
    if (node.inputs[4] && !steps) return null;
  }
  if (!starts || !ends || starts.length !== ends.length) return null;
  const rank = xs?.length;
  for (let i = 0; i < starts.length; i++) {
    let axis = axes ? axes[i] : i;
    if (axis < 0) {
      if (rank === undefined) return null;
      axis += rank;
    }
    const d = xs?.[axis];
    if ((steps?.[i] ?? 1) !== 1) return null;
    const s = starts[i];
    const e = ends[i];
    const startsAtZero = s === 0 || (s < 0 && typeof d === 'number' && -s >= d);
    const endsAtEnd = typeof d === 'number' ? e >= d : e >= TO_END;
    if (!startsAtZero || !endsAtEnd) return null;
  }
  return same(x, 'slice-covers-all');
}

/** The identity-elimination pass (see the file header for its rules). */
export const eliminateIdentity: Pass = {
  name: PASS,
  description: 'Remove nodes that return their input unchanged (Identity, inference Dropout, no-op Cast/Reshape/Expand/Transpose/Slice)',
  category: 'cleanup',
  params: {},
  run(model, ctx) {
    const result = emptyResult(model);
    const eliminated: Record<string, number> = {};
    const perRule = new Map<string, number>();
    let keptAsIdentity = 0;
    const opset = model.opset('') ?? 1;

    const visit = (g: Graph): void => {
      for (const node of g.nodes) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
        for (const sub of node.subgraphs()) visit(sub);
        const v = identityVerdict(node, opset);
        if (!v) continue;
        if (!v.ok) {
          const n = (perRule.get(v.rule) ?? 0) + 1;
          perRule.set(v.rule, n);
          if (n <= MAX_DIAGNOSTICS_PER_RULE) result.diagnostics.push({ pass: PASS, rule: v.rule, kind: 'rejected', nodes: [node.name], message: v.reason });
          continue;
        }
        const outcome = bypass(g, node, v.input, v.rule, result);
        if (outcome === 'kept') continue;
        if (outcome === 'identity') keptAsIdentity++;
        eliminated[node.opType] = (eliminated[node.opType] ?? 0) + 1;
        result.modified = true;
      }
    };
    visit(model.graph);
    result.stats = { eliminated, keptAsIdentity };
    return result;
  },
};

/**
 * Rewires the readers of `node`'s output to `input` and removes the node. Returns 'removed', or
 * 'identity' when a graph output forced an Identity in its place, or 'kept' when the node already
 * is that Identity.
 */
function bypass(g: Graph, node: Node, input: Value, rule: string, result: PassResult): 'removed' | 'identity' | 'kept' {
  const out = node.output(0);
  if (out.isGraphOutput) {
    const mustKeepName = input.isGraphInput || input.initializer !== null || input.isGraphOutput || input.graph !== g;
    if (mustKeepName) {
      if (node.opType === 'Identity') return 'kept';
      g.removeNode(node, true);
      const id = new NodeClass({ opType: 'Identity', name: g.uniqueName(`${node.name}/Identity`), inputs: [input], outputs: [out] });
      g.addNode(id);
      result.provenance.push({ node: id.name, opType: 'Identity', sources: [node.name], pass: PASS, rule });
      return 'identity';
    }
    const name = out.name;
    out.name = g.uniqueName(`${name}_eliminated`);
    input.name = name;
    if (!input.type) input.type = out.type;
    g.replaceAllUsesWith(out, input, { replaceGraphOutputs: true });
  } else {
    g.replaceAllUsesWith(out, input);
  }
  g.removeNode(node, node.outputs.length > 1);
  result.removed.push({ node: node.name, opType: node.opType, pass: PASS, reason: `${rule}: output replaced by its input '${input.name}'` });
  return 'removed';
}
