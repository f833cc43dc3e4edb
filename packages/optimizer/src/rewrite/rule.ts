/**
 * Rewrite rules: a pattern anchored on one op type, a check that says why a candidate does not
 * match, and a replacement. Variants (bias or no bias, transposed weights) are parameters of one
 * rule, not copies.
 */
import type { AttributeInput, Model, Node, Value } from '@fuselab/graph-core';

/** Creates replacement nodes in the graph being rewritten. */
export interface RewriteBuilder {
  /** Adds a node; returns its outputs (count from `outputs`, default 1). */
  op(opType: string, inputs: ReadonlyArray<Value | null>, attributes?: Record<string, AttributeInput>, options?: { domain?: string; outputs?: number }): Value[];
  /** Adds a float32 constant initializer. */
  f32(base: string, dims: readonly number[], values: ArrayLike<number>): Value;
  /** Adds an int64 constant initializer. */
  i64(base: string, dims: readonly number[], values: ArrayLike<number>): Value;
}

export interface RewriteMatch {
  /** Every node the replacement stands for; they are removed once their outputs are unused. */
  nodes: Node[];
  /** Values of the pattern that the outside world reads; `build` returns replacements in this order. */
  outputs: Value[];
  /** Builds the replacement; returns one value per entry of `outputs`. */
  build(b: RewriteBuilder): Value[];
}

/** `null`: not a candidate (silent). `{ok:false}`: a candidate that was rejected, with the reason. */
export type MatchOutcome = { ok: true; match: RewriteMatch } | { ok: false; reason: string; nodes?: Node[] } | null;

export interface MatchContext {
  model: Model;
}

export interface RewriteRule {
  /** Stable id, e.g. `skip-layer-norm`. */
  readonly name: string;
  /** The rule statement, e.g. `Add(MatMul(X, W), B) → MatMul+bias`. */
  readonly description: string;
  /** Qualified op types (`domain::op` outside the default domain) the match starts from. */
  readonly anchors: readonly string[];
  /** The op type the rule produces, for stats (`fused: { LayerNormalization: 25 }`). */
  readonly produces: string;
  match(node: Node, ctx: MatchContext): MatchOutcome;
}

/** Shorthand for a rejection. */
export function reject(reason: string, ...nodes: Node[]): MatchOutcome {
  return { ok: false, reason, nodes };
}

/** Shorthand for a match. */
export function matched(match: RewriteMatch): MatchOutcome {
  return { ok: true, match };
}
