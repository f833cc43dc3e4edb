/**
 * The reference CPU evaluator: op type (default ONNX domain) → evaluator, one op family per file.
 * `evaluateNode` runs one node on constant inputs and returns graph-core Tensors, or throws
 * {@link CannotFold} saying why it would not (unsupported op or type, over the size budget, not
 * provably bit-exact with onnxruntime, or an input that would make the node fail at run time).
 */
import { Tensor, type Node } from '@fuselab/graph-core';
import { castEvaluators } from './cast.ts';
import { elementwiseEvaluators } from './elementwise.ts';
import { generatorEvaluators } from './generators.ts';
import { indexingEvaluators } from './indexing.ts';
import { layoutEvaluators } from './layout.ts';
import { reduceEvaluators } from './reduce.ts';
import { shapeEvaluators } from './shape-ops.ts';
import { CannotFold, lazyTensor, toTensor, type EvalContext, type EvalTensor } from './tensor.ts';
import type { OpEvaluator } from './types.ts';

/** Every op the evaluator folds (default ONNX domain). */
export const EVALUATORS: ReadonlyMap<string, OpEvaluator> = new Map([
  ...shapeEvaluators,
  ...indexingEvaluators,
  ...layoutEvaluators,
  ...elementwiseEvaluators,
  ...castEvaluators,
  ...generatorEvaluators,
  ...reduceEvaluators,
]);

/** Ops whose evaluation reads only the dims of their inputs, never the bytes. */
export const DIMS_ONLY_OPS: ReadonlySet<string> = new Set(['Shape', 'Size']);

/** True when `node` is an op the evaluator knows (default domain, no subgraphs). */
export function canEvaluate(node: Node): boolean {
  return (node.domain === '' || node.domain === 'ai.onnx') && EVALUATORS.has(node.opType);
}

/**
 * Evaluates `node` on constant inputs (null for omitted ones). Returns one Tensor per node output
 * (null where the output is omitted). Throws CannotFold.
 */
export function evaluateNode(node: Node, inputs: ReadonlyArray<Tensor | null>, ctx: EvalContext): Array<Tensor | null> {
  const fn = canEvaluate(node) ? EVALUATORS.get(node.opType) : undefined;
  if (!fn) throw new CannotFold('unsupported', `no reference evaluator for ${node.qualifiedType}`);
  const args: Array<EvalTensor | null> = inputs.map((t) => (t ? lazyTensor(t) : null));
  const out = fn(node, args, ctx);
  return node.outputs.map((v, i) => (v && out[i] ? toTensor(out[i] as EvalTensor) : null));
}

/**
 * The tensor a `Constant` node holds (value, value_float(s), value_int(s), value_string(s)), or
 * null for forms it does not convert (sparse_value, attribute references in function bodies).
 */
export function constantNodeTensor(node: Node): Tensor | null {
  for (const [name, a] of node.attributes) {
    switch (name) {
      case 'value': return a.type === 'tensor' ? a.value.clone('') : null;
      case 'value_float': return a.type === 'float' ? Tensor.from('float32', [], Float32Array.of(a.value)) : null;
      case 'value_floats': return a.type === 'floats' ? Tensor.from('float32', [a.value.length], Float32Array.from(a.value)) : null;
      case 'value_int': return a.type === 'int' ? Tensor.from('int64', [], BigInt64Array.of(BigInt(a.value))) : null;
      case 'value_ints': return a.type === 'ints' ? Tensor.from('int64', [a.value.length], BigInt64Array.from(a.value, (x) => BigInt(x))) : null;
      case 'value_string': return a.type === 'string' ? Tensor.from('string', [], [a.value]) : null;
      case 'value_strings': return a.type === 'strings' ? Tensor.from('string', [a.value.length], a.value) : null;
      default: break;
    }
  }
  return null;
}

export { CannotFold, type EvalContext } from './tensor.ts';
