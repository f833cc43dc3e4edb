/**
 * Validation of an optimized model against its original: both run in real onnxruntime-web on the
 * same seeded inputs (and any recorded inputs); every output is compared with a named tolerance.
 */
import { serializeModelSplit, serializeModelToBytes, type Model, type SplitModel } from '@fuselab/graph-core';
import { compareTensors, FP32_FUSION, type OutputComparison, type Tolerance } from './compare.ts';
import type { HostTensor } from './host-tensor.ts';
import { randomInputs, type InputSpec } from './inputs.ts';
import { createSession, runSession, type RunOptions } from './session.ts';

export interface ValidationCase {
  /** `seed:N` for random inputs, or the recorded input set's name. */
  name: string;
  inputs: Record<string, HostTensor>;
}

export interface ValidationReport {
  passed: boolean;
  tolerance: Tolerance;
  cases: Array<{ name: string; outputs: OutputComparison[] }>;
  /** Worst figures per output across all cases. */
  outputs: Array<{ name: string; maxAbsErr: number; maxRelErr: number; cosine: number; passed: boolean }>;
  ms: number;
}

/**
 * Default validation shapes: a multi-token step after a past at batch 1 (prefill continuing a
 * cache), a batch-2 prefill from an empty past, and a batch-2 one-token decode step. Fused
 * GroupQueryAttention cannot run several new tokens after a past at batch > 1, and no real decode
 * loop asks it to, so that combination is not a default case.
 */
export const DEFAULT_VALIDATION_SHAPES: ReadonlyArray<Record<string, number>> = [
  { batch_size: 1, sequence_length: 8, past_sequence_length: 4 },
  { batch_size: 2, sequence_length: 5, past_sequence_length: 0 },
  { batch_size: 2, sequence_length: 1, past_sequence_length: 6 },
];

export interface ValidateOptions {
  tolerance?: Tolerance;
  /** Seeds for random inputs (default [1, 2, 3], one per default shape). */
  seeds?: number[];
  /** Symbolic dim values and vocab for random inputs. */
  inputSpec?: Omit<InputSpec, 'seed'>;
  /** Extra recorded input sets. */
  recorded?: ValidationCase[];
  executionProviders?: string[];
  /** The onnxruntime-web module for those providers (the WebGPU bundle for 'webgpu'). */
  ort?: RunOptions['ort'];
  /** The original model's serialized bytes (or bytes + external weights), when the caller has them (saves re-serializing it). */
  originalBytes?: Uint8Array | SplitModel;
  /**
   * Serialize models given as IR with their weights external (in memory): needed for models over
   * ~1 GB, which onnxruntime-web's 4 GiB wasm heap can't hold twice (inline protobuf + initializers).
   */
  externalWeights?: boolean;
  /**
   * The original model's outputs on `validationCases(original, options)`, computed elsewhere (e.g. in
   * a worker thread while the passes run); validation then only runs the optimized model.
   */
  referenceOutputs?: Promise<Array<Record<string, HostTensor>>>;
}

/** The input sets validation runs: seeded random inputs that respect the model, then recorded ones. */
export function validationCases(original: Model, options: Pick<ValidateOptions, 'seeds' | 'inputSpec' | 'recorded'> = {}): ValidationCase[] {
  return [
    ...(options.seeds ?? [1, 2, 3]).map((seed, i) => {
      // caller-given dims win; otherwise cycle through the default shapes
      const dims = options.inputSpec?.dims ?? DEFAULT_VALIDATION_SHAPES[i % DEFAULT_VALIDATION_SHAPES.length];
      return { name: `seed:${seed} ${JSON.stringify(dims)}`, inputs: randomInputs(original, { ...options.inputSpec, dims, seed }) };
    }),
    ...(options.recorded ?? []),
  ];
}

type SessionSource = Uint8Array | SplitModel;
const isSplit = (x: SessionSource): x is SplitModel => !(x instanceof Uint8Array);

function sessionSource(m: Model | SessionSource, external: boolean): SessionSource {
  if (m instanceof Uint8Array || (typeof (m as SplitModel).location === 'string' && (m as SplitModel).weights instanceof Uint8Array)) return m as SessionSource;
  return external ? serializeModelSplit(m as Model) : serializeModelToBytes(m as Model);
}

export async function validateModels(original: Model, optimized: Model | Uint8Array | SplitModel, options: ValidateOptions = {}): Promise<ValidationReport> {
  const t0 = performance.now();
  const tol = options.tolerance ?? FP32_FUSION;
  const cases = validationCases(original, options);
  const eps = { executionProviders: options.executionProviders, ...(options.ort ? { ort: options.ort } : {}) };
  const report: ValidationReport = { passed: true, tolerance: tol, cases: [], outputs: [], ms: 0 };
  const worst = new Map<string, { name: string; maxAbsErr: number; maxRelErr: number; cosine: number; passed: boolean }>();
  // One model at a time (onnxruntime-web's wasm heap is 4 GiB; two sessions of a 1–2 GB model side by
  // side don't fit): the reference runs, release, then the optimized model's runs, release. When the
  // reference outputs come from elsewhere (a worker), the optimized model runs first, overlapping them.
  const open = (src: SessionSource) => createSession(isSplit(src) ? src.model : src, { ...eps, ...(isSplit(src) ? { externalData: [{ path: src.location, data: src.weights }] } : {}) });
  const runAll = async (src: SessionSource): Promise<Array<Record<string, HostTensor>>> => {
    const session = await open(src);
    try {
      const out: Array<Record<string, HostTensor>> = [];
      for (const c of cases) out.push(await runSession(session, c.inputs));
      return out;
    } finally {
      await session.release();
    }
  };
  let refs: Array<Record<string, HostTensor>>;
  let gots: Array<Record<string, HostTensor>>;
  if (options.referenceOutputs) {
    gots = await runAll(sessionSource(optimized, !!options.externalWeights));
    refs = await options.referenceOutputs;
    if (refs.length !== cases.length) throw new Error(`validation: ${refs.length} reference results for ${cases.length} cases`);
  } else {
    refs = await runAll(options.originalBytes ?? sessionSource(original, !!options.externalWeights));
    gots = await runAll(sessionSource(optimized, !!options.externalWeights));
  }
  for (const [i, c] of cases.entries()) {
    const ref = refs[i];
    const got = gots[i];
    const outputs = Object.keys(ref).map((name) => {
      if (!got[name]) return { name, dims: [], maxAbsErr: Infinity, maxRelErr: Infinity, cosine: 0, mismatches: -1, passed: false };
      return compareTensors(name, ref[name], got[name], tol);
    });
    report.cases.push({ name: c.name, outputs });
    for (const o of outputs) {
      const w = worst.get(o.name) ?? { name: o.name, maxAbsErr: 0, maxRelErr: 0, cosine: 1, passed: true };
      w.maxAbsErr = Math.max(w.maxAbsErr, o.maxAbsErr);
      w.maxRelErr = Math.max(w.maxRelErr, o.maxRelErr);
      w.cosine = Math.min(w.cosine, o.cosine);
      w.passed &&= o.passed;
      worst.set(o.name, w);
      report.passed &&= o.passed;
    }
  }
  report.outputs = [...worst.values()];
  report.ms = performance.now() - t0;
  return report;
}
