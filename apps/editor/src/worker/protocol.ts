/**
 * The typed request/response union between the UI and the model worker. Every request gets
 * progress messages (stage, fraction, step records) and then one result or one error.
 */
import type { DecoderProfiles, MemoryPlan, OptimizationProfile, Workflow } from '@fuselab/optimizer';
import type { DeviceFingerprint, EngineManifest, GenerationConfig } from '@fuselab/gpu-runtime';
import type { ModelView } from '../model/view.ts';
import type { StepRecord, WorkflowRunRecord } from '../model/run-workflow.ts';
import type { WeightStats } from '../model/weight-stats.ts';

export type ModelRef = 'original' | 'optimized';

export type OpenSource =
  | { kind: 'url'; url: string; name: string }
  | { kind: 'file'; file: File }
  | { kind: 'bytes'; bytes: Uint8Array; name: string };

export interface OpenResult {
  view: ModelView;
  bytes: number;
  ms: { read: number; parse: number; shapes: number; view: number };
  /** Ops shape inference did not know, and contradictions it found (shown as warnings). */
  shapeNotes: string[];
}

export interface RunResult {
  record: WorkflowRunRecord;
  view: ModelView;
}

export interface StepViews {
  before: ModelView;
  after: ModelView;
  step: StepRecord;
}

export interface ValidationSummary {
  passed: boolean;
  tolerance: string;
  outputs: Array<{ name: string; maxAbsErr: number; cosine: number; passed: boolean }>;
  ms: number;
}

/** What `build-engine` needs beyond the workflow's result: the target device and the model's files. */
export interface BuildEngineRequest {
  device: DeviceFingerprint;
  tokenizer: Uint8Array | null;
  tokenizerConfig: Uint8Array | null;
  generation: GenerationConfig | null;
  maxPositions: number | null;
  /** Validate against the original first (reuses the last validation of this optimized model). */
  validate: boolean;
  /** Optimization profiles to record in the manifest (the profiles node's); their max bounds the engine's context. */
  profiles?: OptimizationProfile[];
}

/** The profiles node's parameters, resolved: `maxContext` already defaulted from config.json. */
export interface ProfilesRequest {
  batch: number;
  maxContext: number;
  prefillTokens: number;
  typicalPrompt: number;
}

export type ProfilesResult = DecoderProfiles;

export interface BuiltEngine {
  /** The whole engine file. */
  bytes: Uint8Array;
  manifest: EngineManifest;
  ms: { validate: number; build: number };
}

/**
 * Per-layer INT8 sensitivity of the opened (original) model: calibrate on `text` tokenized with the
 * model's tokenizer when both are given, else on seeded random inputs (which the result flags loudly).
 * Kept small by default (a few short batches) so a small model finishes in seconds on wasm.
 */
export interface SensitivityRequest {
  tokenizer: Uint8Array | null;
  tokenizerConfig: Uint8Array | null;
  text: string | null;
  /** Calibration batches (default 2); evaluation uses the same count, held out from the text when there is enough. */
  batches?: number;
  /** Tokens per row (default 16). */
  sequenceLength?: number;
  /**
   * The passes to run on the original first: the model the quantize-qdq step will see, so the scores'
   * node names and the calibrated ranges are that model's (none or empty: the original as opened).
   */
  workflow?: Workflow | null;
}

export interface SensitivityScore {
  node: string;
  /** 1 − logits cosine with only this MatMul quantized to INT8 (higher = more sensitive). */
  score: number;
  weightSqnrDb: number;
  activationSqnrDb: number | null;
  pplIncreasePct: number | null;
  /** The opened graph's nodes this one stands for (itself, or a fused node's sources). */
  sources: string[];
}

export interface SensitivityResult {
  /** Most sensitive first. */
  scores: SensitivityScore[];
  source: 'text' | 'random';
  /** Set when calibrated on random data (the calibrate module's warning), shown loudly in the UI. */
  warning: string | null;
  ms: number;
  /** The activation ranges calibrated (`encodeCalibration` JSON) and their symmetry: what quantize-qdq needs. */
  calibration: string;
  activationSymmetric: boolean;
  /** What was measured: the opened model, or it after `passes` workflow steps. */
  measured: { passes: number; nodes: number };
}

export type ModelRequest =
  | { type: 'open'; source: OpenSource }
  | { type: 'run'; workflow: Workflow }
  | { type: 'step-views'; seq: number }
  | { type: 'weight-stats'; model: ModelRef; value: string }
  | { type: 'memory-plan'; model: ModelRef; dims: Record<string, number> }
  | { type: 'validate' }
  | { type: 'export'; model: ModelRef }
  | { type: 'source-bytes' }
  | { type: 'build-engine'; build: BuildEngineRequest }
  | { type: 'sensitivity'; sensitivity: SensitivityRequest }
  | { type: 'cancel-sensitivity' }
  | { type: 'profiles'; profiles: ProfilesRequest };

export interface ModelResults {
  open: OpenResult;
  run: RunResult;
  'step-views': StepViews;
  'weight-stats': WeightStats | null;
  'memory-plan': MemoryPlan;
  validate: ValidationSummary;
  export: Uint8Array;
  'source-bytes': Uint8Array;
  'build-engine': BuiltEngine;
  sensitivity: SensitivityResult;
  /** True when a sensitivity run was in flight and has been told to stop. */
  'cancel-sensitivity': boolean;
  profiles: ProfilesResult;
}

export interface Progress {
  stage: string;
  fraction?: number;
  /** Items done of `total` (sensitivity: layers measured). */
  done?: number;
  total?: number;
  step?: StepRecord;
}

/** An error as it crosses the worker boundary: graph-core's typed fields kept. */
export interface ErrorInfo {
  name: string;
  code?: string;
  message: string;
  file?: string;
  offset?: number;
  field?: string;
  where?: string;
}

export function errorInfo(e: unknown): ErrorInfo {
  if (e instanceof Error) {
    const x = e as Error & Partial<Record<'code' | 'file' | 'field' | 'where', string>> & { offset?: number };
    return {
      name: x.name, message: x.message,
      ...(x.code !== undefined ? { code: String(x.code) } : {}),
      ...(x.file !== undefined ? { file: x.file } : {}),
      ...(typeof x.offset === 'number' ? { offset: x.offset } : {}),
      ...(x.field !== undefined ? { field: x.field } : {}),
      ...(x.where !== undefined ? { where: x.where } : {}),
    };
  }
  return { name: 'Error', message: String(e) };
}

export type ToWorker = { id: number; req: ModelRequest };
export type FromWorker =
  | { id: number; kind: 'progress'; progress: Progress }
  | { id: number; kind: 'done'; result: unknown }
  | { id: number; kind: 'error'; error: ErrorInfo };
