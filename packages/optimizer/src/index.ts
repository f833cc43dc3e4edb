/**
 * @packageDocumentation
 * `@fuselab/optimizer`: passes over the graph-core IR that report what they did — stats, provenance
 * (new node ← source nodes) and diagnostics ("why not fused") — a pass manager that runs a workflow
 * to a fixed point, and the workflow document itself.
 */
export type { Pass, PassContext, PassResult, PassStats, ProvenanceEntry, RemovedEntry, Diagnostic, DiagnosticKind, ParamSpec, OptimizationProfile, ProfileInput, IoContractChange } from './pass.ts';
export { resolveParams, emptyResult } from './pass.ts';
export { runPasses, type PassStep, type PassRunRecord, type PassStepDetail, type OptimizeRecord, type RunPassesOptions } from './pass-manager.ts';
export { parseWorkflow, workflowSteps, WorkflowError, WORKFLOW_FORMAT, WORKFLOW_VERSION, type Workflow, type WorkflowPassConfig } from './workflow.ts';
export { PASSES, getPass } from './registry.ts';
export { applyRewrites, rewritePass, commonScope } from './rewrite/engine.ts';
export { reject, matched, type RewriteRule, type RewriteMatch, type RewriteBuilder, type MatchOutcome, type MatchContext } from './rewrite/rule.ts';
export * as match from './rewrite/match.ts';
export { eliminateDeadCode } from './passes/eliminate-dead-code.ts';
export { defaultWorkflow, DEFAULT_PASS_ORDER } from './default-workflow.ts';
export { foldConstants, type FoldConstantsParams } from './passes/fold-constants.ts';
export { eliminateIdentity, identityVerdict, type IdentityVerdict } from './passes/eliminate-identity.ts';
export { simplifyChains, holdsExactly, CHAIN_RULES } from './passes/simplify-chains.ts';
export { eliminateCommonSubexpressions, type CseParams } from './passes/eliminate-common-subexpressions.ts';
export { foldShapes, reshapeTargetFor, type FoldShapesParams } from './passes/fold-shapes.ts';
export { parseProfileArg, parseProfiles, formatProfile, resolveProfile, profileDim, profileDimValues, profileShapes, ProfileError, type ProfileDim, type ResolvedProfile } from './profiles.ts';
/** Prefill/decode profiles of a KV-cache decoder from max batch, context and prompt length (the editor's profiles node). */
export { decoderProfiles, type DecoderProfileOptions, type DecoderProfiles } from './decoder-profiles.ts';
export { evaluateNode, canEvaluate, constantNodeTensor, EVALUATORS, CannotFold, type EvalContext } from './const-eval/evaluator.ts';
export { fuseBias } from './passes/fuse-bias.ts';
export { fuseLayerNorm, LAYER_NORM_OPSET } from './passes/fuse-layer-norm.ts';
export { fuseRmsNorm } from './passes/fuse-rms-norm.ts';
export { fuseSkipLayerNorm } from './passes/fuse-skip-layer-norm.ts';
export { fuseGelu } from './passes/fuse-gelu.ts';
export { fuseAttention, MAX_SEQUENCE_DIM, type FuseAttentionParams } from './passes/fuse-attention.ts';
export * as attentionPatterns from './rewrite/attention-patterns.ts';
export { planMemory, kvCacheBytes, type MemoryPlan, type MemoryPlanOptions, type PlannedTensor, type UnknownSize, type MemoryStep, type KvCacheSize } from './memory-plan.ts';
// precision
export { quantizeNBits, dequantizeNBits, readMatMulNBits, scalesTensorData, nbitsSizes, checkLayout as checkNBitsLayout, MatMulNBitsLayoutError, NBITS_BLOCK_SIZES, type NBits, type NBitsLayout, type NBitsSizes, type QuantizedNBits, type MatMulNBitsWeights } from './precision/matmul-nbits.ts';
export { quantizeMatMulNBits, type QuantizeNBitsParams } from './passes/quantize-matmul-nbits.ts';
export { isLmHead, weightBytes } from './precision/graph-edit.ts';
export { convertFp16, type Fp16Params } from './passes/convert-fp16.ts';
export { FP16_MAX, FP16_DEFAULT_KEEP, FLOAT32_ONLY_INPUTS, FLOAT32_ONLY_OUTPUTS, fp16OverflowNodes, toFloat16Tensor, cancellingCasts, castTarget, type ValueRange } from './precision/fp16.ts';
export { Histogram, calibrateRange, entropyThreshold, quantParams, sqnrDb, histogramSqnrDb, CALIBRATION_METHODS, type CalibrationMethod, type Range, type RangeOptions, type QuantParams } from './precision/calibration.ts';
export { quantizeQdq, encodeCalibration, decodeCalibration, quantizeWeightPerChannel, type QdqParams } from './passes/quantize-qdq.ts';
export { lastTokenLogits } from './passes/last-token-logits.ts';
