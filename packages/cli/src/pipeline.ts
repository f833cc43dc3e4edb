/**
 * The optimization step `optimize` and `build` share: the workflow's passes to a fixed point, then
 * the precision steps once on the fused graph (calibration sees the tensors that get quantized),
 * with one progress line per modifying pass.
 */
import type { Model } from '@fuselab/graph-core';
import { lastTokenLogits, PASSES, runPasses, workflowSteps, type OptimizationProfile, type OptimizeRecord, type Workflow } from '@fuselab/optimizer';
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

/** A fused graph the build can offer the tuner, with what the engine manifest records about it. */
export interface FusedVariant {
  model: Model;
  fused: Record<string, number>;
  provenance: Array<{ node: string; opType: string; sources: string[] }>;
}

/**
 * The workflow again on a copy of `original` with fuse-attention's `mhaAsGqa` on (GPT-2 style blocks
 * as GroupQueryAttention, the form a static KV cache needs), the LM head sliced like the main graph,
 * then `check` (validation against the reference: null or why it failed). Null when no block became
 * GroupQueryAttention or the check failed; the reason goes to `progress`.
 */
export async function gqaVariant(original: Model, modelPath: string, workflow: Workflow, profile: OptimizationProfile | undefined, precisionRequest: PrecisionRequest | null, lastToken: boolean, check: (m: Model) => Promise<string | null>, progress: (msg: string) => void): Promise<FusedVariant | null> {
  const passes = workflow.passes.map((p) => (p.pass === 'fuse-attention' ? { ...p, params: { ...p.params, mhaAsGqa: true } } : p));
  if (!passes.some((p) => p.pass === 'fuse-attention' && p.enabled !== false)) return null;
  progress('  GroupQueryAttention variant (fuse-attention mhaAsGqa) for a static KV cache...');
  const { record } = await runPipeline(original.clone(), modelPath, { ...workflow, passes }, profile, precisionRequest, () => {});
  if (!record.model.graph.nodes.some((n) => n.opType === 'GroupQueryAttention')) {
    progress('  GroupQueryAttention variant not made: no attention block fused that way (see fuse-attention\'s rejections)');
    return null;
  }
  if (lastToken) lastTokenLogits.run(record.model, {}, { output: 'logits' });
  const why = await check(record.model);
  if (why) {
    progress(`  GroupQueryAttention variant dropped: ${why}`);
    return null;
  }
  return { model: record.model, fused: record.fused, provenance: record.provenance.map((p) => ({ node: p.node, opType: p.opType, sources: p.sources })) };
}
