/**
 * Triton Inference Server model configuration (`config.pbtxt`) for the onnxruntime backend, made
 * from a model's IO: names, dtypes and symbolic dims. Pure: no files; the CLI writes what this plans.
 *
 * Triton's rules followed here (model_configuration.md):
 * - `max_batch_size > 0` means Triton owns the first dim of every input and output: all of them
 *   must start with the same batch dim, and `dims` lists the rest. `0` means no Triton batching
 *   and `dims` is the full shape.
 * - A dynamic dim is `-1`. A tensor whose `dims` would be empty (a scalar, or just `[batch]`) is
 *   written `dims: [ 1 ]` with `reshape { shape: [ ] }`.
 * - `dynamic_batching` only with `max_batch_size > 1`.
 * - KV-cache decoders (inputs `past_key_values.*` / `past.*`) are exported stateless: the client
 *   sends the past and gets `present.*` back each step. Triton batches requests only when all
 *   non-batch dims agree, i.e. the same past length, so their default is `max_batch_size: 0`.
 */
import { FuselabError, inferShapes, type Dim, type Model } from '@fuselab/graph-core';
import type { TritonDataType } from './model-config-schema.ts';
import { quoteText } from './text-format.ts';

/** The options or the model cannot make a valid Triton configuration. */
export class TritonConfigError extends FuselabError {
  constructor(message: string) {
    super('TRITON_CONFIG', message);
  }
}

/** One model input or output as Triton sees it. */
export interface TritonTensorSpec {
  name: string;
  /** onnxruntime-web / graph-core dtype name (`float32`, `int64`...). */
  dtype: string | null;
  /** Dims: numbers, symbols, or null (unknown). Null shape = unknown rank. */
  shape: readonly Dim[] | null;
}

export interface TritonModelIo {
  inputs: TritonTensorSpec[];
  outputs: TritonTensorSpec[];
}

export type TritonInstanceKind = 'KIND_GPU' | 'KIND_CPU';

export interface TritonConfigOptions {
  /** Model name: the repository folder's name. Letters, digits, `_`, `-`, `.`. */
  name: string;
  /** Default: 8 when every input and output starts with one shared batch dim (and no KV cache), else 0. */
  maxBatchSize?: number;
  /** Instances per device (default 1). */
  instances?: number;
  /** Default KIND_GPU. */
  kind?: TritonInstanceKind;
  /** Default: half the max and the max (e.g. [4, 8]). */
  preferredBatchSizes?: number[];
  /** How long the dynamic batcher may hold a request to form a bigger batch (default 100 µs). */
  maxQueueDelayMicroseconds?: number;
  /** A comment line at the top (e.g. where the model came from). */
  comment?: string;
}

/** A tensor as written into config.pbtxt. */
export interface TritonTensorConfig {
  name: string;
  dataType: TritonDataType;
  /** The model's full shape, `-1` for dynamic dims. */
  modelDims: number[];
  /** `dims` in the config (without the batch dim when max_batch_size > 0). */
  dims: number[];
  /** Set when `dims` is `[1]` standing for a scalar (or a batch-only tensor). */
  reshape: number[] | null;
}

export interface TritonConfigPlan {
  /** The config.pbtxt text. */
  text: string;
  name: string;
  maxBatchSize: number;
  /** The shared first dim (a symbol such as `batch_size`), or why there is none. */
  batchDim: { symbol: string } | { none: string };
  kvCache: boolean;
  inputs: TritonTensorConfig[];
  outputs: TritonTensorConfig[];
  dynamicBatching: { preferredBatchSizes: number[]; maxQueueDelayMicroseconds: number } | null;
  instanceGroup: { count: number; kind: TritonInstanceKind };
}

const DATA_TYPES: Record<string, TritonDataType> = {
  bool: 'TYPE_BOOL', uint8: 'TYPE_UINT8', uint16: 'TYPE_UINT16', uint32: 'TYPE_UINT32', uint64: 'TYPE_UINT64',
  int8: 'TYPE_INT8', int16: 'TYPE_INT16', int32: 'TYPE_INT32', int64: 'TYPE_INT64',
  float16: 'TYPE_FP16', float32: 'TYPE_FP32', float64: 'TYPE_FP64', bfloat16: 'TYPE_BF16', string: 'TYPE_STRING',
};

/** Triton's data type for a dtype; the error names the tensor. */
export function tritonDataType(dtype: string | null, where: string): TritonDataType {
  const t = dtype ? DATA_TYPES[dtype] : undefined;
  if (!t) throw new TritonConfigError(`${where}: dtype ${dtype ?? 'unknown'} has no Triton data type (supported: ${Object.keys(DATA_TYPES).join(', ')})`);
  return t;
}

/** KV-cache decoder inputs (Optimum's `past_key_values.N.key`, older exports' `past.N` / `past_N`). */
export const isKvCacheInput = (name: string): boolean => /^past(_key_values)?[._]/.test(name);

/**
 * The model's IO for Triton. Output shapes the file does not declare are inferred (on a copy: the
 * model is not changed).
 */
export function tritonModelIo(model: Model): TritonModelIo {
  let m = model;
  if (model.graph.outputs.some((v) => !v.shape || !v.dtype)) {
    m = model.clone();
    inferShapes(m);
  }
  const spec = (v: { name: string; dtype: string | null; shape: readonly Dim[] | null }): TritonTensorSpec => ({ name: v.name, dtype: v.dtype, shape: v.shape });
  return { inputs: m.graph.inputs.filter((v) => !v.initializer).map(spec), outputs: m.graph.outputs.map(spec) };
}

const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Checks a Triton model name (it is also a folder name). */
export function checkModelName(name: string): void {
  if (!MODEL_NAME.test(name) || name.length > 200) {
    throw new TritonConfigError(`model name '${name}': use letters, digits, '_', '-' and '.', starting with a letter, digit or '_' (it is the repository folder's name)`);
  }
}

/** The batch dim every input and output starts with, or why there is none. */
export function sharedBatchDim(io: TritonModelIo): { symbol: string } | { none: string } {
  let symbol: string | null = null;
  for (const [role, list] of [['input', io.inputs], ['output', io.outputs]] as const) {
    for (const t of list) {
      const d = t.shape?.[0];
      if (!t.shape || t.shape.length === 0) return { none: `${role} '${t.name}' has ${t.shape ? 'rank 0' : 'an unknown shape'}` };
      if (typeof d === 'number') return { none: `${role} '${t.name}' has a fixed first dim (${d})` };
      if (d === null || d === undefined) {
        if (role === 'input') return { none: `input '${t.name}' has an unknown first dim` };
        continue; // an output's unknown first dim follows the inputs
      }
      if (symbol === null) symbol = d;
      else if (d !== symbol) return { none: `${role} '${t.name}' starts with '${d}', not '${symbol}'` };
    }
  }
  return symbol === null ? { none: 'no input has a symbolic first dim' } : { symbol };
}

const checkInt = (v: number | undefined, field: string, min: number, max = 2 ** 31 - 1) => {
  if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) throw new TritonConfigError(`${field} must be an integer from ${min} to ${max} (got ${v})`);
};

/** Plans and writes config.pbtxt for `io`. */
export function tritonConfig(io: TritonModelIo, options: TritonConfigOptions): TritonConfigPlan {
  checkModelName(options.name);
  checkInt(options.maxBatchSize, 'max_batch_size', 0);
  checkInt(options.instances, 'instance count', 1, 1024);
  checkInt(options.maxQueueDelayMicroseconds, 'max_queue_delay_microseconds', 0, Number.MAX_SAFE_INTEGER);
  const kind = options.kind ?? 'KIND_GPU';
  if (kind !== 'KIND_GPU' && kind !== 'KIND_CPU') throw new TritonConfigError(`instance kind must be KIND_GPU or KIND_CPU (got '${kind as string}')`);
  if (io.inputs.length === 0) throw new TritonConfigError('the model has no inputs (all are initializers?): Triton needs at least one');
  if (io.outputs.length === 0) throw new TritonConfigError('the model has no outputs');

  const kvCache = io.inputs.some((t) => isKvCacheInput(t.name));
  const batchDim = sharedBatchDim(io);
  let maxBatchSize: number;
  if (options.maxBatchSize === undefined) {
    maxBatchSize = 'symbol' in batchDim && !kvCache ? 8 : 0;
  } else {
    maxBatchSize = options.maxBatchSize;
    if (maxBatchSize > 0 && 'none' in batchDim) {
      throw new TritonConfigError(`max_batch_size ${maxBatchSize} needs every input and output to start with the same batch dim, but ${batchDim.none}; use max_batch_size 0`);
    }
  }

  const tensor = (t: TritonTensorSpec, role: string): TritonTensorConfig => {
    if (!t.shape) throw new TritonConfigError(`${role} '${t.name}': unknown rank; Triton needs dims (run shape inference or export with static output shapes)`);
    const modelDims = t.shape.map((d) => (typeof d === 'number' ? d : -1));
    const dims = maxBatchSize > 0 ? modelDims.slice(1) : modelDims;
    return { name: t.name, dataType: tritonDataType(t.dtype, `${role} '${t.name}'`), modelDims, dims: dims.length ? dims : [1], reshape: dims.length ? null : [] };
  };
  const inputs = io.inputs.map((t) => tensor(t, 'input'));
  const outputs = io.outputs.map((t) => tensor(t, 'output'));

  let dynamicBatching: TritonConfigPlan['dynamicBatching'] = null;
  if (maxBatchSize > 1) {
    const preferred = options.preferredBatchSizes ?? [...new Set([Math.max(1, Math.floor(maxBatchSize / 2)), maxBatchSize])];
    for (const p of preferred) if (!Number.isInteger(p) || p < 1 || p > maxBatchSize) throw new TritonConfigError(`preferred batch size ${p} must be an integer from 1 to max_batch_size ${maxBatchSize}`);
    dynamicBatching = { preferredBatchSizes: preferred, maxQueueDelayMicroseconds: options.maxQueueDelayMicroseconds ?? 100 };
  }
  const instanceGroup = { count: options.instances ?? 1, kind };

  const L: string[] = [];
  if (options.comment) for (const line of options.comment.split('\n')) L.push(`# ${line}`);
  L.push(`name: ${quoteText(options.name)}`, 'platform: "onnxruntime_onnx"', `max_batch_size: ${maxBatchSize}`);
  if (kvCache) L.push('# KV-cache decoder, served stateless: send past_key_values.* with each request, keep present.* for the next');
  const block = (field: string, list: TritonTensorConfig[]) => {
    L.push(`${field} [`);
    list.forEach((t, i) => {
      L.push('  {', `    name: ${quoteText(t.name)}`, `    data_type: ${t.dataType}`, `    dims: [ ${t.dims.join(', ')} ]`);
      if (t.reshape) L.push(`    reshape { shape: [ ${t.reshape.join(', ')} ] }`);
      L.push(i === list.length - 1 ? '  }' : '  },');
    });
    L.push(']');
  };
  block('input', inputs);
  block('output', outputs);
  if (dynamicBatching) {
    L.push('dynamic_batching {', `  preferred_batch_size: [ ${dynamicBatching.preferredBatchSizes.join(', ')} ]`, `  max_queue_delay_microseconds: ${dynamicBatching.maxQueueDelayMicroseconds}`, '}');
  }
  L.push('instance_group [', '  {', `    count: ${instanceGroup.count}`, `    kind: ${kind}`, '  }', ']');
  // Fuselab already fused the graph: onnxruntime's basic + extended optimizations are enough
  // (level 1; -1 = basic only, 2 = none). Pinned host buffers speed up the host↔GPU copies.
  L.push('optimization {', '  graph { level: 1 }');
  if (kind === 'KIND_GPU') L.push('  input_pinned_memory { enable: true }', '  output_pinned_memory { enable: true }');
  L.push('}');
  return { text: `${L.join('\n')}\n`, name: options.name, maxBatchSize, batchDim, kvCache, inputs, outputs, dynamicBatching, instanceGroup };
}
