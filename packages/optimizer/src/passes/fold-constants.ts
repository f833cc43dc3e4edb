/**
 * Constant folding. Two rules, applied in one topological walk (subgraphs included):
 *
 *   Constant(value) → initializer
 *   op(c₁, …, cₙ) → initializer op(c₁, …, cₙ)   when every input is constant and the result fits
 *
 * "Constant" means an initializer that is not also a graph input (those can be overridden at run
 * time), or the output of a Constant node. Results come from the reference evaluator in
 * `const-eval/`, which is bit-exact with onnxruntime's CPU kernels for integer ops and for the float
 * ops where onnxruntime is exact; anything else is refused with a reason rather than approximated
 * (`exactOnly`).
 *
 * Size guards, so folding never blows a model up:
 * - `maxOutputBytes` (default 1 MiB): no folded constant is bigger; a refused Expand,
 *   ConstantOfShape or Tile is reported as an `info` diagnostic, and never allocated.
 * - `largeInputBytes` / `largeInputMaxOutputBytes`: a node that reads a constant bigger than
 *   `largeInputBytes` (a weight) is folded only when its output is at most
 *   `largeInputMaxOutputBytes` — `Gather(embedding, [0])` folds, `Transpose(embedding)` does not
 *   copy 150 MB. Shape and Size read dims only and are always folded.
 *
 * Folded constants are named after the node they replace (`<node>_output_<i>`); `removed` entries
 * say `folded to constant <name>`.
 */
import type { Graph, Node, Tensor, Value } from '@fuselab/graph-core';
import { CannotFold, canEvaluate, constantNodeTensor, DIMS_ONLY_OPS, evaluateNode } from '../const-eval/evaluator.ts';
import { formatBytes } from '../const-eval/tensor.ts';
import { emptyResult, type Pass, type PassResult } from '../pass.ts';

const PASS = 'fold-constants';
/** Diagnostics kept per rule (the rest are counted in one summary line). */
const MAX_DIAGNOSTICS = 50;

/** Parameters of {@link foldConstants}. */
export interface FoldConstantsParams extends Record<string, unknown> {
  maxOutputBytes: number;
  largeInputBytes: number;
  largeInputMaxOutputBytes: number;
  exactOnly: boolean;
}

/** The constant tensor behind `v` (initializer that is not a graph input), or null. */
export function constantOf(v: Value | null): Tensor | null {
  if (!v || !v.initializer) return null;
  return v.isGraphInput ? null : v.initializer;
}

/**
 * Adds `tensor` to `g` as an initializer named `base` (or a unique variant) and points every use of
 * `old` at it. When `base` is `old`'s own name, `old` is renamed first so the constant keeps it.
 */
export function replaceWithConstant(g: Graph, old: Value, tensor: Tensor, base: string): Value {
  let name = base;
  if (old.name === base) old.name = g.uniqueName(`${base}_folded`);
  else name = g.uniqueName(base);
  const init = g.addInitializer(tensor, name);
  g.replaceAllUsesWith(old, init);
  return init;
}

/** `<node>_output_<i>`, the name a folded output gets (the value's own name for unnamed nodes). */
export function foldedName(node: Node, index: number, v: Value): string {
  return node.name ? `${node.name}_output_${index}` : v.name;
}

/** The constant-folding pass (see the file header for its rules and size guards). */
export const foldConstants: Pass = {
  name: PASS,
  description: 'Evaluate nodes whose inputs are all constants (size-capped, bit-exact with onnxruntime) and turn Constant nodes into initializers',
  category: 'cleanup',
  params: {
    maxOutputBytes: { type: 'number', default: 1024 * 1024, min: 0, doc: 'Largest constant folding may create, in bytes (an Expand/ConstantOfShape/Tile over it stays a node)' },
    largeInputBytes: { type: 'number', default: 1024 * 1024, min: 0, doc: 'Inputs bigger than this count as weights: their nodes fold only into small outputs' },
    largeInputMaxOutputBytes: { type: 'number', default: 64 * 1024, min: 0, doc: 'Largest output of a node that reads a weight-sized constant (e.g. Transpose of an embedding is not folded)' },
    exactOnly: { type: 'boolean', default: true, doc: 'Fold float math only where the result is provably what onnxruntime computes (Pow, float reductions)' },
  },
  run(model, ctx, rawParams) {
    const params = rawParams as FoldConstantsParams;
    const result = emptyResult(model);
    const folded: Record<string, number> = {};
    const skipped: Record<string, number> = {};
    const perRule = new Map<string, number>();
    let initializersCreated = 0;
    let scanned = 0;
    const total = model.graph.nodeCount;

    const note = (rule: string, node: Node, message: string): void => {
      const n = (perRule.get(rule) ?? 0) + 1;
      perRule.set(rule, n);
      if (n <= MAX_DIAGNOSTICS) result.diagnostics.push({ pass: PASS, rule, kind: 'info', nodes: [node.name], message });
    };
    const skip = (key: string): void => {
      skipped[key] = (skipped[key] ?? 0) + 1;
    };

    const replaceOutputs = (g: Graph, node: Node, tensors: ReadonlyArray<Tensor | null>): string[] => {
      const names: string[] = [];
      node.outputs.forEach((v, i) => {
        const t = tensors[i];
        if (!v || !t || v.useCount === 0) return;
        const init = replaceWithConstant(g, v, t, foldedName(node, i, v));
        names.push(init.name);
        initializersCreated++;
      });
      g.removeNode(node);
      return names;
    };

    const visit = (g: Graph): void => {
      for (const node of g.nodes) {
        if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
        if (g === model.graph && ++scanned % 512 === 0) ctx.onProgress?.(PASS, scanned / total);
        for (const sub of node.subgraphs()) visit(sub);
        const isDefault = node.domain === '' || node.domain === 'ai.onnx';
        if (!isDefault) continue;
        if (node.outputs.some((v) => v?.isGraphOutput)) {
          if (node.opType === 'Constant' || (canEvaluate(node) && node.inputs.every((v) => !v || constantOf(v)))) skip(`graph output:${node.opType}`);
          continue;
        }
        if (node.opType === 'Constant') {
          const t = constantNodeTensor(node);
          if (!t) {
            skip('unsupported:Constant');
            continue;
          }
          const names = replaceOutputs(g, node, [t]);
          folded.Constant = (folded.Constant ?? 0) + 1;
          result.removed.push({ node: node.name, opType: 'Constant', pass: PASS, reason: `folded to constant ${names.join(', ') || '(unused)'}` });
          continue;
        }
        if (!canEvaluate(node) || node.subgraphs().length > 0) continue;
        const inputs: Array<Tensor | null> = [];
        let allConstant = true;
        for (const v of node.inputs) {
          if (!v) {
            inputs.push(null);
            continue;
          }
          const t = constantOf(v);
          if (!t) {
            allConstant = false;
            break;
          }
          inputs.push(t);
        }
        if (!allConstant || node.outputs.every((v) => !v || v.useCount === 0)) continue;
        // weights in, big result out: refuse before reading anything
        let budget = params.maxOutputBytes;
        let largest: Tensor | null = null;
        if (!DIMS_ONLY_OPS.has(node.opType)) {
          for (const t of inputs) {
            const bytes = t ? (t.byteLength ?? t.expectedByteLength ?? 0) : 0;
            if (t && bytes > params.largeInputBytes && bytes > (largest?.byteLength ?? 0)) largest = t;
          }
          if (largest) budget = Math.min(budget, params.largeInputMaxOutputBytes);
        }
        let tensors: Array<Tensor | null>;
        try {
          tensors = evaluateNode(node, inputs, { opset: model.opset(node.domain) ?? 1, maxOutputBytes: budget, exactOnly: params.exactOnly });
        } catch (e) {
          if (!(e instanceof CannotFold)) throw e;
          skip(`${e.kind}:${node.opType}`);
          if (e.kind === 'limit') {
            const why = largest
              ? `reads '${largest.name}' (${formatBytes(largest.byteLength ?? 0)} > largeInputBytes): only outputs up to ${formatBytes(params.largeInputMaxOutputBytes)} are folded; ${e.message}`
              : e.message;
            note('size-cap', node, `${node.opType} '${node.name}' not folded: ${why}`);
          } else if (e.kind === 'inexact') {
            note('inexact', node, `${node.opType} '${node.name}' not folded: ${e.message}`);
          } else if (e.kind === 'invalid') {
            note('invalid', node, `${node.opType} '${node.name}' not folded: ${e.message}`);
          }
          continue;
        }
        const names = replaceOutputs(g, node, tensors);
        folded[node.opType] = (folded[node.opType] ?? 0) + 1;
        result.removed.push({ node: node.name, opType: node.opType, pass: PASS, reason: `folded to constant ${names.join(', ')}` });
      }
    };

    visit(model.graph);
    summarize(result, perRule);
    const count = Object.values(folded).reduce((a, b) => a + b, 0);
    result.modified = count > 0;
    result.stats = { folded, skipped, initializersCreated };
    return result;
  },
};

function summarize(result: PassResult, perRule: ReadonlyMap<string, number>): void {
  for (const [rule, n] of perRule) {
    if (n > MAX_DIAGNOSTICS) result.diagnostics.push({ pass: PASS, rule, kind: 'info', nodes: [], message: `${n - MAX_DIAGNOSTICS} more nodes not folded for the same reason` });
  }
}
