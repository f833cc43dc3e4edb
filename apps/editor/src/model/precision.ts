/**
 * What a workflow's precision steps change, as `fuselab build --int8/--int4/--fp16` records it: the
 * validation tolerance to hold the result to (a quantized model is not expected to match its float
 * original element by element) and the engine manifest's precision block. Names only: the model
 * worker looks the tolerance up in gpu-runtime when it validates.
 */
import type { Workflow } from '@fuselab/optimizer';

export interface WorkflowPrecision {
  /** `fp32` when no precision step is enabled. */
  method: 'fp32' | 'fp16' | 'int8-weight-only' | 'int8-qdq' | 'int4-weight-only';
  /** A gpu-runtime tolerance name, or null for the fusion default. */
  tolerance: string | null;
  /** MatMuls the steps keep in float (their `exclude` lists). */
  keptFloat: string[];
}

/** Loosest last: with several precision steps the result is held to the loosest. */
const RANK: ReadonlyArray<WorkflowPrecision['method']> = ['fp32', 'fp16', 'int8-weight-only', 'int8-qdq', 'int4-weight-only'];

export function workflowPrecision(w: Workflow | null): WorkflowPrecision {
  let method: WorkflowPrecision['method'] = 'fp32';
  const kept = new Set<string>();
  for (const step of w?.passes ?? []) {
    if (step.enabled === false) continue;
    const p = step.params ?? {};
    let m: WorkflowPrecision['method'] | null = null;
    if (step.pass === 'quantize-qdq') m = 'int8-qdq';
    else if (step.pass === 'quantize-matmul-nbits') m = Number(p.bits ?? 4) === 8 ? 'int8-weight-only' : 'int4-weight-only';
    else if (step.pass === 'convert-fp16') m = 'fp16';
    if (!m) continue;
    if (RANK.indexOf(m) > RANK.indexOf(method)) method = m;
    if (Array.isArray(p.exclude)) for (const n of p.exclude) kept.add(String(n));
  }
  return { method, tolerance: method === 'fp32' ? null : method, keptFloat: [...kept] };
}
