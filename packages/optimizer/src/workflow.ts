/**
 * The workflow document: an ordered list of pass configs plus optimization profiles, as versioned
 * JSON. The CLI's `--workflow` file and the editor's canvas are the same document.
 */
import type { OptimizationProfile, Pass } from './pass.ts';
import { resolveParams } from './pass.ts';
import type { PassStep } from './pass-manager.ts';

export const WORKFLOW_FORMAT = 'fuselab.workflow';
export const WORKFLOW_VERSION = 1;

export interface WorkflowPassConfig {
  pass: string;
  params?: Record<string, unknown>;
  /** Disabled steps stay in the document (the editor shows them greyed) but do not run. */
  enabled?: boolean;
}

export interface Workflow {
  format: typeof WORKFLOW_FORMAT;
  version: typeof WORKFLOW_VERSION;
  name?: string;
  passes: WorkflowPassConfig[];
  profiles?: OptimizationProfile[];
  /** Repeat the pass list until nothing changes (default true). */
  fixedPoint?: boolean;
}

export class WorkflowError extends Error {
  readonly code = 'WORKFLOW';
  constructor(where: string, reason: string) {
    super(`workflow ${where}: ${reason}`);
    this.name = 'WorkflowError';
  }
}

/**
 * Parses and validates a workflow (a JSON string or an already-parsed object), migrating older
 * versions. Unknown passes and bad parameters are errors naming the step.
 */
export function parseWorkflow(input: string | unknown, passes: ReadonlyMap<string, Pass>): Workflow {
  let doc: unknown = input;
  if (typeof input === 'string') {
    try {
      doc = JSON.parse(input);
    } catch (e) {
      throw new WorkflowError('', `not valid JSON (${(e as Error).message})`);
    }
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new WorkflowError('', 'must be a JSON object');
  const o = migrate(doc as Record<string, unknown>);
  if (!Array.isArray(o.passes)) throw new WorkflowError('', "'passes' must be an array");
  const out: Workflow = { format: WORKFLOW_FORMAT, version: WORKFLOW_VERSION, passes: [] };
  if (typeof o.name === 'string') out.name = o.name;
  if (o.fixedPoint !== undefined) {
    if (typeof o.fixedPoint !== 'boolean') throw new WorkflowError('', "'fixedPoint' must be a boolean");
    out.fixedPoint = o.fixedPoint;
  }
  (o.passes as unknown[]).forEach((step, i) => {
    const where = `passes[${i}]`;
    if (!step || typeof step !== 'object') throw new WorkflowError(where, 'must be an object');
    const s = step as Record<string, unknown>;
    if (typeof s.pass !== 'string') throw new WorkflowError(where, "'pass' must be a string");
    const pass = passes.get(s.pass);
    if (!pass) throw new WorkflowError(where, `unknown pass '${s.pass}' (known: ${[...passes.keys()].join(', ')})`);
    if (s.params !== undefined && (typeof s.params !== 'object' || s.params === null || Array.isArray(s.params))) throw new WorkflowError(where, "'params' must be an object");
    try {
      resolveParams(pass, s.params as Record<string, unknown> | undefined);
    } catch (e) {
      throw new WorkflowError(where, (e as Error).message);
    }
    if (s.enabled !== undefined && typeof s.enabled !== 'boolean') throw new WorkflowError(where, "'enabled' must be a boolean");
    out.passes.push({ pass: s.pass, ...(s.params ? { params: s.params as Record<string, unknown> } : {}), ...(s.enabled === false ? { enabled: false } : {}) });
  });
  if (o.profiles !== undefined) {
    if (!Array.isArray(o.profiles)) throw new WorkflowError('', "'profiles' must be an array");
    out.profiles = (o.profiles as unknown[]).map((p, i) => checkProfile(p, `profiles[${i}]`));
  }
  return out;
}

function checkProfile(p: unknown, where: string): OptimizationProfile {
  if (!p || typeof p !== 'object') throw new WorkflowError(where, 'must be an object');
  const o = p as Record<string, unknown>;
  if (typeof o.name !== 'string' || !o.name) throw new WorkflowError(where, "'name' must be a non-empty string");
  if (!o.inputs || typeof o.inputs !== 'object') throw new WorkflowError(where, "'inputs' must be an object");
  for (const [input, r] of Object.entries(o.inputs as Record<string, unknown>)) {
    const rr = r as Record<string, unknown>;
    for (const k of ['min', 'opt', 'max']) {
      if (!Array.isArray(rr?.[k])) throw new WorkflowError(`${where}.inputs.${input}`, `'${k}' must be an array of dims`);
    }
    const [mn, op, mx] = [rr.min, rr.opt, rr.max] as number[][];
    if (mn.length !== op.length || op.length !== mx.length) throw new WorkflowError(`${where}.inputs.${input}`, 'min/opt/max must have the same rank');
    for (let d = 0; d < mn.length; d++) {
      if (typeof mn[d] === 'number' && typeof op[d] === 'number' && typeof mx[d] === 'number' && !(mn[d] <= op[d] && op[d] <= mx[d])) {
        throw new WorkflowError(`${where}.inputs.${input}`, `dim ${d}: need min ≤ opt ≤ max, got ${mn[d]}, ${op[d]}, ${mx[d]}`);
      }
    }
  }
  return o as unknown as OptimizationProfile;
}

/** Upgrades older documents. Version 0 (pre-release) was a bare array of pass names. */
function migrate(o: Record<string, unknown>): Record<string, unknown> {
  if (o.format !== undefined && o.format !== WORKFLOW_FORMAT) throw new WorkflowError('', `format '${String(o.format)}' is not ${WORKFLOW_FORMAT}`);
  const v = o.version ?? 1;
  if (v === 1) return o;
  if (v === 0 && Array.isArray(o.passes)) return { ...o, version: 1, passes: (o.passes as unknown[]).map((p) => (typeof p === 'string' ? { pass: p } : p)) };
  throw new WorkflowError('', `version ${String(v)} is not supported (this build reads versions 0–${WORKFLOW_VERSION}); upgrade fuselab`);
}

/** The enabled steps of a workflow, resolved against the pass registry. */
export function workflowSteps(w: Workflow, passes: ReadonlyMap<string, Pass>): PassStep[] {
  return w.passes.filter((p) => p.enabled !== false).map((p) => ({ pass: passes.get(p.pass) as Pass, params: p.params }));
}
