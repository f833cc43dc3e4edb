/**
 * One-node models for checking an op's inferred output types against onnxruntime: inputs are graph
 * inputs fed with deterministic pseudo-random data, or (with `value`) constant initializers.
 */
import { prng } from '@fuselab/gpu-runtime';
import { GraphBuilder, Tensor, Value, type AttributeInput, type DType, type Model } from '../../src/index.ts';
import type { OrtData, OrtTensorValue } from './ort.ts';

export interface InputSpec {
  dtype: DType;
  dims: number[];
  /** Makes the input a constant initializer with these values. */
  value?: ReadonlyArray<number | bigint>;
  /** Feeds these values (default: pseudo-random data suited to the dtype). */
  data?: readonly number[];
}

export interface NodeCase {
  /** Test title (default: the op type). */
  title?: string;
  opType: string;
  domain?: string;
  /** Default-domain opset (default 17). */
  opset?: number;
  /** Omitted optional inputs are null. */
  inputs: Array<InputSpec | null>;
  attrs?: Record<string, AttributeInput>;
  /** Number of outputs (default 1); null entries of `omitOutputs` are left out. */
  outputs?: number;
  /** Output indices to leave out (written as '' in ONNX). */
  omitOutputs?: number[];
}

export interface BuiltCase {
  model: Model;
  feeds: Record<string, OrtTensorValue>;
  outputs: Value[];
}

/** A small deterministic generator (mulberry32, gpu-runtime's `prng`). */
export const rng = prng;

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Typed data for a dtype from plain numbers. */
export function typedData(dtype: DType, values: ReadonlyArray<number | bigint>): OrtData {
  switch (dtype) {
    case 'float32': return Float32Array.from(values, Number);
    case 'float64': return Float64Array.from(values, Number);
    case 'int64': return BigInt64Array.from(values, (v) => BigInt(v));
    case 'int32': return Int32Array.from(values, Number);
    case 'int8': return Int8Array.from(values, Number);
    case 'uint8': case 'bool': return Uint8Array.from(values, Number);
    case 'float16': return Uint16Array.from(values, Number);
    default: throw new Error(`single-node helper: no typed data for ${dtype}`);
  }
}

function randomValues(dtype: DType, n: number, next: () => number): number[] {
  return Array.from({ length: n }, () => {
    if (dtype === 'bool') return next() < 0.5 ? 0 : 1;
    if (dtype === 'float32' || dtype === 'float64') return next() * 2 - 1;
    if (dtype === 'uint8') return Math.floor(next() * 256);
    return Math.floor(next() * 3);
  });
}

/** Builds the one-node model of a case. */
export function buildCase(c: NodeCase, seed = 1): BuiltCase {
  const opsets: Record<string, number> = { '': c.opset ?? 17 };
  if (c.domain) opsets[c.domain] = 1;
  const b = new GraphBuilder({ opsets });
  const next = rng(seed);
  const feeds: Record<string, OrtTensorValue> = {};
  const inputs = c.inputs.map((spec, i) => {
    if (!spec) return null;
    const name = `in${i}`;
    if (spec.value) return b.initializer(name, Tensor.from(spec.dtype, spec.dims, typedData(spec.dtype, spec.value)));
    const values = spec.data ?? randomValues(spec.dtype, count(spec.dims), next);
    feeds[name] = { dtype: spec.dtype, dims: spec.dims, data: typedData(spec.dtype, values) };
    return b.input(name, spec.dtype, spec.dims);
  });
  const n = c.outputs ?? 1;
  const outs = Array.from({ length: n }, (_, i) => (c.omitOutputs?.includes(i) ? null : new Value(`out${i}`)));
  b.graph.createNode({ opType: c.opType, domain: c.domain ?? '', inputs, attributes: c.attrs ?? {}, outputs: outs });
  const outputs = outs.filter((v): v is Value => v !== null).map((v) => b.output(v));
  return { model: b.build(), feeds, outputs };
}
