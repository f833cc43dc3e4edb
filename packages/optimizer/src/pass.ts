/**
 * The pass contract. A pass rewrites a model in place and reports what it did: counts, provenance
 * (which new node came from which old ones) and diagnostics (every candidate it rejected, and why).
 * The editor's before/after diff and the per-layer timing overlay are drawn from these records.
 */
import type { Dim, Model } from '@fuselab/graph-core';

/** A new node and the source nodes it replaced. */
export interface ProvenanceEntry {
  /** Name of the node the pass created. */
  node: string;
  opType: string;
  /** Names of the nodes (of the model the pass received) that it replaces. */
  sources: string[];
  pass: string;
  rule: string;
}

/** A node removed without a direct replacement (dead code, folded constant, identity...). */
export interface RemovedEntry {
  node: string;
  opType: string;
  pass: string;
  reason: string;
}

export type DiagnosticKind = 'rejected' | 'warning' | 'info';

/** "Why not fused": a candidate a rule looked at and refused, or something worth telling the user. */
export interface Diagnostic {
  pass: string;
  rule: string;
  kind: DiagnosticKind;
  /** The node the rule was anchored on first, then any others involved. */
  nodes: string[];
  message: string;
}

export type PassStats = Record<string, number | Record<string, number>>;

export interface PassResult {
  model: Model;
  modified: boolean;
  stats: PassStats;
  provenance: ProvenanceEntry[];
  removed: RemovedEntry[];
  diagnostics: Diagnostic[];
  /** When a pass changes the model's IO (e.g. KV layout), the new contract for the runtime. */
  ioContract?: IoContractChange;
}

/** Describes IO changes a fusion made that the runtime must follow (e.g. shared KV buffers). */
export interface IoContractChange {
  description: string;
  inputs?: Record<string, { role: string; note?: string }>;
  outputs?: Record<string, { role: string; note?: string }>;
}

/** One dynamic input's range in a profile: min/opt/max per dimension. */
export interface ProfileInput {
  min: Dim[];
  opt: Dim[];
  max: Dim[];
}

/** A named optimization profile (e.g. prefill, decode): shape ranges for dynamic inputs. */
export interface OptimizationProfile {
  name: string;
  inputs: Record<string, ProfileInput>;
}

export interface PassContext {
  /** The active profile, if any. Passes that freeze dims use the `opt` shapes only where min = max. */
  profile?: OptimizationProfile;
  /** Cancels long passes between steps. */
  signal?: AbortSignal;
  /** Progress for long runs (0..1 within the pass). */
  onProgress?: (pass: string, fraction: number, message?: string) => void;
}

/** Parameter declaration for the editor's pass node and the workflow validator. */
export interface ParamSpec {
  type: 'number' | 'boolean' | 'string' | 'string[]';
  default: number | boolean | string | string[];
  doc: string;
  min?: number;
  max?: number;
  choices?: string[];
}

export interface Pass<P extends Record<string, unknown> = Record<string, unknown>> {
  /** Stable id used in workflow JSON, e.g. `fuse-layer-norm`. */
  readonly name: string;
  /** One line for the palette. */
  readonly description: string;
  readonly category: 'cleanup' | 'fusion' | 'precision' | 'shape' | 'analysis';
  readonly params: Readonly<Record<string, ParamSpec>>;
  run(model: Model, ctx: PassContext, params: P): PassResult;
}

/** Fills parameter defaults and checks types; throws a clear error naming the pass and parameter. */
export function resolveParams(pass: Pass, given: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(given)) {
    if (!(k in pass.params)) throw new Error(`pass '${pass.name}': unknown parameter '${k}' (known: ${Object.keys(pass.params).join(', ') || 'none'})`);
  }
  for (const [k, spec] of Object.entries(pass.params)) {
    const v = given[k] ?? spec.default;
    const ok =
      spec.type === 'string[]' ? Array.isArray(v) && v.every((x) => typeof x === 'string') : typeof v === spec.type;
    if (!ok) throw new Error(`pass '${pass.name}': parameter '${k}' must be ${spec.type}, got ${JSON.stringify(v)}`);
    if (spec.type === 'number' && ((spec.min !== undefined && (v as number) < spec.min) || (spec.max !== undefined && (v as number) > spec.max))) {
      throw new Error(`pass '${pass.name}': parameter '${k}' = ${v} is outside [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}]`);
    }
    if (spec.choices && !spec.choices.includes(v as string)) throw new Error(`pass '${pass.name}': parameter '${k}' must be one of ${spec.choices.join(', ')}`);
    out[k] = v;
  }
  return out;
}

/** An empty result for `model`, to fill in. */
export function emptyResult(model: Model): PassResult {
  return { model, modified: false, stats: {}, provenance: [], removed: [], diagnostics: [] };
}
