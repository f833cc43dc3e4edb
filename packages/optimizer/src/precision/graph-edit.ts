/**
 * Small graph edits the precision passes share: swap a node for another that produces the same
 * output values (names, types and uses stay), find the LM head, and count weight bytes.
 */
import type { AttributeInput, Graph, Model, Node, Value } from '@fuselab/graph-core';

/**
 * Replaces `old` by a new node producing `old`'s output values (so consumers, graph outputs and value
 * names are untouched). Returns the new node; `old` leaves the graph.
 */
export function swapNode(g: Graph, old: Node, init: { opType: string; domain?: string; name?: string; inputs: ReadonlyArray<Value | null>; attributes?: Record<string, AttributeInput> }): Node {
  const outputs = [...old.outputs];
  g.removeNode(old, true);
  return g.createNode({ opType: init.opType, domain: init.domain ?? '', name: init.name ?? g.uniqueName(old.name), inputs: init.inputs, attributes: init.attributes ?? {}, outputs });
}

/** Removes `v` when it is an initializer nothing reads any more. */
export function dropIfUnused(g: Graph, v: Value | null | undefined): void {
  if (v && v.initializer && v.useCount === 0 && !v.isGraphOutput && !v.isGraphInput && g.initializers.get(v.name) === v) g.removeInitializer(v);
}

/** Ops that pass a MatMul's output to the logits unchanged in meaning (bias, reshapes, casts, soft-capping). */
const HEAD_TAIL = new Set(['Identity', 'Cast', 'Reshape', 'Add', 'Transpose', 'Squeeze', 'Unsqueeze', 'Tanh', 'Mul', 'Div']);

/** True when `n`'s output reaches a graph output through at most three single-reader tail ops: the LM head. */
export function isLmHead(n: Node): boolean {
  let v = n.outputs[0];
  for (let hops = 0; v && hops <= 3; hops++) {
    if (v.isGraphOutput) return true;
    if (v.useCount !== 1) return false;
    const next = v.uses[0].node;
    if (!HEAD_TAIL.has(next.opType)) return false;
    v = next.outputs[0];
  }
  return false;
}

/** Bytes of all initializers of the model (what the weights file holds). */
export function weightBytes(model: Model): number {
  return model.parameterStats().bytes;
}
