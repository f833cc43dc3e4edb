/**
 * The evaluator contract: one function per op type, given the node, its constant inputs (null for
 * omitted optional inputs) and the budget; returns one tensor per node output (null for outputs it
 * does not compute).
 */
import type { Node } from '@fuselab/graph-core';
import type { EvalContext, EvalTensor } from './tensor.ts';

export type OpEvaluator = (node: Node, inputs: ReadonlyArray<EvalTensor | null>, ctx: EvalContext) => Array<EvalTensor | null>;
