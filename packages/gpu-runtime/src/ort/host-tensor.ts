/**
 * Host-side tensors: plain `{ dtype, dims, data }` records that cross worker boundaries and JSON
 * (base64) without onnxruntime types, plus conversion to and from onnxruntime-web tensors.
 */
import type { Tensor as OrtTensor } from 'onnxruntime-web';

export type HostData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | BigUint64Array;

export interface HostTensor {
  dtype: string;
  dims: number[];
  data: HostData;
}

/** Elements as JS numbers (bigint converted; bool as 0/1). */
export function hostNumbers(t: HostTensor): Float64Array {
  const out = new Float64Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) out[i] = Number(t.data[i]);
  return out;
}

export function fromOrt(t: OrtTensor): HostTensor {
  return { dtype: t.type, dims: [...t.dims], data: t.data as HostData };
}

const ARRAY: Record<string, new (buf: ArrayBuffer) => HostData> = {
  float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, uint8: Uint8Array, bool: Uint8Array,
  int8: Int8Array, uint16: Uint16Array, float16: Uint16Array, int16: Int16Array, uint32: Uint32Array, uint64: BigUint64Array,
};

/** Decodes `{ dtype, dims, data: base64 }` (the fixtures' io.json format, little-endian). */
export function hostFromBase64(rec: { dtype: string; dims: number[]; data: string }): HostTensor {
  const C = ARRAY[rec.dtype];
  if (!C) throw new Error(`unsupported dtype '${rec.dtype}' in recorded tensor`);
  const bin = atob(rec.data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return { dtype: rec.dtype, dims: rec.dims, data: new C(bytes.buffer) };
}
