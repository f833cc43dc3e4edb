/**
 * The optimization step `optimize` and `build` share: the workflow's passes to a fixed point, then
 * the precision steps once on the fused graph (calibration sees the tensors that get quantized),
 * with one progress line per modifying pass.
 */
import type { Model } from '@fuselab/graph-core';
import { PASSES, runPasses, workflowSteps, type OptimizationProfile, type OptimizeRecord, type Workflow } from '@fuselab/optimizer';
import { appendRecord, planPrecision, type PrecisionPlan, type PrecisionRequest } from './precision-flags.ts';

export interface PipelineResult {
  record: OptimizeRecord;
  /** The precision plan, when a precision flag was given. */
  precision: PrecisionPlan | null;
  /** The fused graph before the precision steps (the precision report's "before"). */
  fusedOnly: Model | null;
}

export async function runPipeline(model: Model, modelPath: string, workflow: Workflow, profile: OptimizationProfile | undefined, precisionRequest: PrecisionRequest | null, progress: (msg: string) => void): Promise<PipelineResult> {
  const onPass = (r: { modified: boolean; name: string; round: number; nodesBefore: number; nodesAfter: number; ms: number }) => {
    if (r.modified) progress(`  ${r.name.padEnd(34)} round ${r.round}  ${String(r.nodesBefore).padStart(6)} → ${String(r.nodesAfter).padEnd(6)} ${r.ms.toFixed(0)} ms`);
  };
  let record = runPasses(model, workflowSteps(workflow, PASSES), { fixedPoint: workflow.fixedPoint ?? true, profile, onPass });
  if (!precisionRequest) return { record, precision: null, fusedOnly: null };
  const fusedOnly = record.model.clone();
  const precision = await planPrecision(precisionRequest, record.model, { modelPath, onProgress: (p) => progress(`  ${p.stage} ${p.done}/${p.total}${p.message ? `  ${p.message}` : ''}`) });
  record = appendRecord(record, runPasses(record.model, workflowSteps({ ...workflow, passes: precision.steps }, PASSES), { fixedPoint: false, profile, onPass }));
  return { record, precision, fusedOnly };
}
