/**
 * Common subexpression elimination.
 *
 *   op(a, b){attrs} … op(a, b){attrs}   → computed once, the copy's readers rewired to the first
 *   constant c₁ … constant c₂ (same dtype, dims and bytes, ≤ maxConstantBytes) → one constant
 *
 * TorchScript exports repeat `Shape(x)` and identical Constant → Unsqueeze → Concat chains dozens of
 * times; deduplicating the constants first makes their readers identical, and one walk in
 * topological order then merges whole repeated chains.
 *
 * Two nodes are the same when op type, domain, overload, attributes and input values match (for
 * commutative ops — Add, Mul, And, Or, Xor, Equal, Max, Min, Sum, Mean — in any order). Nodes with
 * subgraphs, nondeterministic ops (Random*, Multinomial, Bernoulli, Dropout) and nodes whose output
 * is a graph output are left alone (a graph output's name must stay). Tensor attributes are compared
 * by bytes up to `maxConstantBytes`, by identity beyond.
 */
import type { Attribute, Graph, Node, Tensor, Value } from '@fuselab/graph-core';
import { emptyResult, type Pass } from '../pass.ts';

const PASS = 'eliminate-common-subexpressions';

const COMMUTATIVE = new Set(['Add', 'Mul', 'And', 'Or', 'Xor', 'Equal', 'Max', 'Min', 'Sum', 'Mean', 'BitwiseAnd', 'BitwiseOr', 'BitwiseXor']);
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

/** Parameters of {@link eliminateCommonSubexpressions}. */
export interface CseParams extends Record<string, unknown> {
  maxConstantBytes: number;
}

/** The CSE pass (see the file header): small identical constants first, then identical nodes in topological order. */
export const eliminateCommonSubexpressions: Pass = {
  name: PASS,
  description: 'Compute repeated identical nodes once and deduplicate identical small constants',
  category: 'cleanup',
  params: {
    maxConstantBytes: { type: 'number', default: 4096, min: 0, doc: 'Constants up to this size are compared by value (bigger ones only by identity)' },
  },
  run(model, ctx, rawParams) {
    const params = rawParams as CseParams;
    const result = emptyResult(model);
    const merged: Record<string, number> = {};
    let constants = 0;
    let keptForOutputs = 0;

    const visit = (g: Graph): void => {
      const ids = new Map<Value, number>();
      const tensorIds = new Map<Tensor, number>();
      const id = (v: Value | null): string => {
        if (!v) return '_';
        let k = ids.get(v);
        if (k === undefined) ids.set(v, (k = ids.size));
        return String(k);
      };
      const tensorKey = (t: Tensor): string => {
        const small = (t.byteLength ?? Infinity) <= params.maxConstantBytes && t.storage.kind !== 'external' && t.storage.kind !== 'lazy';
        if (small) return `${t.dtype}[${t.dims.join(',')}]${bytesKey(t)}`;
        let k = tensorIds.get(t);
        if (k === undefined) tensorIds.set(t, (k = tensorIds.size));
        return `tensor#${k}`;
      };

      // 1. identical small constants → one initializer
      const byValue = new Map<string, Value>();
      for (const v of [...g.initializers.values()]) {
        const t = v.initializer as Tensor;
        if (v.isGraphInput || v.isGraphOutput || t.dtype === 'string') continue;
        if ((t.byteLength ?? Infinity) > params.maxConstantBytes || t.storage.kind === 'external' || t.storage.kind === 'lazy') continue;
        const key = tensorKey(t);
        const first = byValue.get(key);
        if (!first) {
          byValue.set(key, v);
          continue;
        }
        g.replaceAllUsesWith(v, first);
        g.removeInitializer(v);
        constants++;
      }

      // 2. identical nodes, in topological order (so repeated chains collapse in one walk)
      const seen = new Map<string, Node>();
      for (const node of g.nodes) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
        const subs = node.subgraphs();
        if (subs.length) {
          for (const s of subs) visit(s);
          continue;
        }
        if (NONDETERMINISTIC.has(node.opType)) continue;
        const inputs = node.inputs.map(id);
        if (COMMUTATIVE.has(node.opType) && (node.domain === '' || node.domain === 'ai.onnx')) inputs.sort();
        const key = `${node.domain}|${node.opType}|${node.overload ?? ''}|${node.outputs.map((o) => (o ? 1 : 0)).join('')}|${inputs.join(',')}|${attributesKey(node, tensorKey)}`;
        const first = seen.get(key);
        if (!first) {
          seen.set(key, node);
          continue;
        }
        if (node.outputs.some((v) => v?.isGraphOutput)) {
          keptForOutputs++;
          continue;
        }
        node.outputs.forEach((v, i) => {
          const keep = first.outputs[i];
          if (v && keep) g.replaceAllUsesWith(v, keep);
        });
        g.removeNode(node);
        merged[node.opType] = (merged[node.opType] ?? 0) + 1;
        result.removed.push({ node: node.name, opType: node.opType, pass: PASS, reason: `same as '${first.name}'` });
      }
    };

    visit(model.graph);
    const nodes = Object.values(merged).reduce((a, b) => a + b, 0);
    result.modified = nodes + constants > 0;
    result.stats = { merged, constants, keptForOutputs };
    return result;
  },
};

/** Attributes in a canonical text form (sorted by name). */
function attributesKey(node: Node, tensorKey: (t: Tensor) => string): string {
  if (node.attributes.size === 0) return '';
  const parts: string[] = [];
  for (const name of [...node.attributes.keys()].sort()) parts.push(`${name}=${attributeKey(node.attributes.get(name) as Attribute, tensorKey)}`);
  return parts.join(';');
}

function attributeKey(a: Attribute, tensorKey: (t: Tensor) => string): string {
  switch (a.type) {
    case 'float': return `f${Object.is(a.value, -0) ? '-0' : a.value}`;
    case 'int': return `i${a.value}`;
    case 'string': return `s${JSON.stringify(a.value)}`;
    case 'floats': return `F${a.value.join(',')}`;
    case 'ints': return `I${a.value.join(',')}`;
    case 'strings': return `S${JSON.stringify(a.value)}`;
    case 'tensor': return a.value.dtype === 'string' ? `T${JSON.stringify(a.value.strings())}` : `T${tensorKey(a.value)}`;
    case 'ref': return `R${a.ref}`;
    // graphs are excluded earlier; anything else (sparse, type protos, lists of tensors) is never equal
    default: return `U${uniqueToken++}`;
  }
}

let uniqueToken = 0;

/** The bytes of a small in-memory tensor as a string key. */
function bytesKey(t: Tensor): string {
  const b = t.bytes();
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}
