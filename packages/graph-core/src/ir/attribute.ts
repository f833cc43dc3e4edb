/**
 * Node attributes as a discriminated union. Int64 attributes are numbers when they fit in 2^53 and
 * bigints otherwise (INT64_MAX in Slice `ends` survives a round trip).
 */
import type { Int64 } from '../proto/onnx-types.ts';
import type { Tensor } from './tensor.ts';
import type { Graph } from './graph.ts';
import type { ValueType } from './value.ts';

export type Attribute =
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'int'; readonly value: Int64 }
  | { readonly type: 'string'; readonly value: string; readonly raw?: Uint8Array }
  | { readonly type: 'tensor'; readonly value: Tensor }
  | { readonly type: 'graph'; readonly value: Graph }
  | { readonly type: 'sparse_tensor'; readonly value: SparseTensor }
  | { readonly type: 'type_proto'; readonly value: ValueType | null }
  | { readonly type: 'floats'; readonly value: readonly number[] }
  | { readonly type: 'ints'; readonly value: readonly Int64[] }
  | { readonly type: 'strings'; readonly value: readonly string[] }
  | { readonly type: 'tensors'; readonly value: readonly Tensor[] }
  | { readonly type: 'graphs'; readonly value: readonly Graph[] }
  | { readonly type: 'sparse_tensors'; readonly value: readonly SparseTensor[] }
  | { readonly type: 'type_protos'; readonly value: ReadonlyArray<ValueType | null> }
  /** Inside a function body: the value comes from the calling node's attribute `name`. */
  | { readonly type: 'ref'; readonly ref: string; readonly refType: Exclude<Attribute['type'], 'ref'> };

export type AttributeType = Attribute['type'];

/** A sparse tensor (COO): `values` at `indices` of a tensor of `dims`; indices may be absent. */
export interface SparseTensor {
  values: Tensor;
  indices: Tensor | null;
  dims: readonly number[];
}

/** Plain JS values accepted by the builder; the attribute type is inferred. */
export type AttributeInput = number | bigint | string | Tensor | Graph | readonly number[] | readonly bigint[] | readonly string[] | Attribute;

export function isAttribute(x: unknown): x is Attribute {
  return typeof x === 'object' && x !== null && 'type' in x && typeof (x as { type: unknown }).type === 'string' && ('value' in x || 'ref' in x);
}

/** Converts an int64 attribute value to a JS number (clamped to ±MAX_SAFE for huge magnitudes). */
export function int64ToNumber(v: Int64): number {
  if (typeof v === 'number') return v;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}
