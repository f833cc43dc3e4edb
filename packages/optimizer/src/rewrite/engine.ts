/**
 * Applies rewrite rules to every graph of a model (subgraphs included), in topological order, and
 * records provenance and the reasons candidates were rejected.
 */
import { Tensor, type Graph, type Model, type Node, type Value } from '@fuselab/graph-core';
import { emptyResult, type Pass, type PassContext, type PassResult, type ParamSpec } from '../pass.ts';
import type { MatchContext, RewriteBuilder, RewriteMatch, RewriteRule } from './rule.ts';

/** Diagnostics kept per rule and reason (the rest are counted), so a 10k-node graph stays readable. */
const MAX_DIAGNOSTICS_PER_REASON = 50;

export function applyRewrites(model: Model, rules: readonly RewriteRule[], passName: string, ctx: PassContext = {}): PassResult {
  const result = emptyResult(model);
  const fused: Record<string, number> = {};
  const rejected: Record<string, number> = {};
  const byAnchor = new Map<string, RewriteRule[]>();
  for (const r of rules) for (const a of r.anchors) byAnchor.set(a, [...(byAnchor.get(a) ?? []), r]);
  const mctx: MatchContext = { model };
  const reasonCount = new Map<string, number>();

  const visit = (g: Graph): void => {
    const nodes = g.nodes;
    nodes.forEach((node, i) => {
      if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
      if (g === model.graph && i % 256 === 0) ctx.onProgress?.(passName, i / nodes.length);
      for (const sub of node.subgraphs()) visit(sub);
      for (const rule of byAnchor.get(node.qualifiedType) ?? []) {
        if (!g.hasNode(node)) return;
        const outcome = rule.match(node, mctx);
        if (!outcome) continue;
        if (!outcome.ok) {
          noteRejection(rule, node, outcome.reason, outcome.nodes ?? []);
          continue;
        }
        const problem = checkMatch(g, outcome.match);
        if (problem) {
          noteRejection(rule, node, problem, []);
          continue;
        }
        apply(g, rule, node, outcome.match);
        break;
      }
    });
  };

  const noteRejection = (rule: RewriteRule, node: Node, reason: string, others: Node[]): void => {
    const key = `${rule.name}\u0000${reason}`;
    const n = (reasonCount.get(key) ?? 0) + 1;
    reasonCount.set(key, n);
    rejected[rule.name] = (rejected[rule.name] ?? 0) + 1;
    if (n <= MAX_DIAGNOSTICS_PER_REASON) {
      result.diagnostics.push({ pass: passName, rule: rule.name, kind: 'rejected', nodes: [node.name, ...others.map((o) => o.name)], message: reason });
    }
  };

  const apply = (g: Graph, rule: RewriteRule, anchor: Node, m: RewriteMatch): void => {
    const created: Node[] = [];
    const scope = commonScope(m.nodes.map(scopedName)) || scopedName(anchor);
    const builder: RewriteBuilder = {
      op(opType, inputs, attributes = {}, options = {}) {
        const name = g.uniqueName(`${scope}/${opType}_fused`);
        const n = g.createNode({ opType, domain: options.domain ?? '', name, inputs, attributes, outputCount: options.outputs ?? 1 });
        created.push(n);
        return n.outputs.map((v) => v as Value);
      },
      f32(base, dims, values) {
        return g.addInitializer(Tensor.from('float32', dims, Float32Array.from(values)), g.uniqueName(`${scope}/${base}`));
      },
      i64(base, dims, values) {
        return g.addInitializer(Tensor.from('int64', dims, BigInt64Array.from(Array.from(values, (v) => BigInt(v)))), g.uniqueName(`${scope}/${base}`));
      },
    };
    const replacements = m.build(builder);
    m.outputs.forEach((old, i) => {
      const rep = replacements[i];
      if (!rep.type && old.type) rep.type = old.type;
      if (old.isGraphOutput) {
        // graph outputs keep their names: the model's interface does not change
        const name = old.name;
        old.name = g.uniqueName(`${name}_replaced`);
        rep.name = name;
      }
      g.replaceAllUsesWith(old, rep, { replaceGraphOutputs: true });
    });
    // remove the matched nodes once nothing reads their outputs: sweep until no progress (a match
    // has a handful of nodes, so this beats re-sorting the whole graph for every match)
    let pending = m.nodes.filter((n) => g.hasNode(n));
    for (let progress = true; progress && pending.length; ) {
      progress = false;
      pending = pending.filter((n) => {
        if (!n.outputs.every((v) => !v || (v.useCount === 0 && !v.isGraphOutput))) return true;
        g.removeNode(n);
        progress = true;
        return false;
      });
    }
    const sources = m.nodes.map((n) => n.name);
    for (const n of created) {
      result.provenance.push({ node: n.name, opType: n.opType, sources, pass: passName, rule: rule.name });
    }
    fused[rule.produces] = (fused[rule.produces] ?? 0) + 1;
    result.modified = true;
  };

  visit(model.graph);
  result.stats = { fused, rejected };
  if (Object.keys(rejected).length === 0) delete result.stats.rejected;
  for (const [key, n] of reasonCount) {
    if (n > MAX_DIAGNOSTICS_PER_REASON) {
      const [rule, reason] = key.split('\u0000');
      result.diagnostics.push({ pass: passName, rule, kind: 'info', nodes: [], message: `${n - MAX_DIAGNOSTICS_PER_REASON} more candidates rejected for: ${reason}` });
    }
  }
  return result;
}

/** Rejects a match whose intermediate values are read outside the pattern (fusing would change them). */
function checkMatch(g: Graph, m: RewriteMatch): string | null {
  const inside = new Set(m.nodes);
  for (const n of m.nodes) {
    if (!g.hasNode(n)) return `node '${n.name}' is not in graph '${g.name}' (already rewritten?)`;
  }
  const exported = new Set(m.outputs);
  for (const n of m.nodes) {
    for (const v of n.outputs) {
      if (!v || exported.has(v)) continue;
      if (v.isGraphOutput) return `intermediate '${v.name}' is a graph output`;
      for (const u of v.uses) {
        if (!inside.has(u.node)) return `intermediate '${v.name}' of '${n.name}' is also read by '${u.node.name}' (${u.node.opType}) outside the pattern`;
      }
    }
  }
  return null;
}

/** The longest common `/`-separated prefix of node names (torch exports scope names like `/h.0/attn/...`). */
/**
 * A node's name with its module scope, torchscript style (`/model/layers.0/self_attn/Softmax`). The
 * dynamo exporter names nodes flatly (`node_Softmax_246`) and records the module path in the
 * `pkg.torch.onnx.name_scopes` metadata (`['', 'model', 'model.layers.0', 'model.layers.0.self_attn',
 * 'softmax']`): that path is turned into the same `/model/layers.0/self_attn/` prefix.
 */
export function scopedName(node: Node): string {
  if (node.name.includes('/')) return node.name;
  const raw = node.metadata.get('pkg.torch.onnx.name_scopes');
  if (!raw) return node.name;
  let scopes: string[];
  try {
    scopes = JSON.parse(raw.replace(/'/g, '"')) as string[];
  } catch {
    return node.name;
  }
  const segments: string[] = [];
  // the last scope is the op itself (e.g. 'softmax'); the ones before are modules, each extending the previous
  for (let i = 1; i < scopes.length - 1; i++) {
    const prev = scopes[i - 1];
    const cur = scopes[i];
    segments.push(prev && cur.startsWith(`${prev}.`) ? cur.slice(prev.length + 1) : cur);
  }
  return segments.length ? `/${segments.join('/')}/${node.name}` : node.name;
}

export function commonScope(names: readonly string[]): string {
  if (names.length === 0) return '';
  const split = names.map((n) => n.split('/'));
  const first = split[0];
  let k = 0;
  // never include the last segment (the node's own name)
  while (k < first.length - 1 && split.every((s) => s.length - 1 > k && s[k] === first[k])) k++;
  return first.slice(0, k).join('/');
}

/** Makes a pass out of a list of rules. */
export function rewritePass(spec: { name: string; description: string; category?: Pass['category']; rules: readonly RewriteRule[]; params?: Record<string, ParamSpec> }): Pass {
  return {
    name: spec.name,
    description: spec.description,
    category: spec.category ?? 'fusion',
    params: spec.params ?? {},
    run(model, ctx) {
      return applyRewrites(model, spec.rules, spec.name, ctx);
    },
  };
}
