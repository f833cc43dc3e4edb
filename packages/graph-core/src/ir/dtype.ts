/**
 * Element types. Names follow onnxruntime-web's tensor type names where it has one (`float32`,
 * `int64`, `float16`, `bool`...), so a graph-core dtype can be handed to the runtime unchanged.
 */
import { DataType } from '../proto/onnx-types.ts';

export type DType =
  | 'float32' | 'float16' | 'bfloat16' | 'float64'
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'bool' | 'string' | 'complex64' | 'complex128'
  | 'float8e4m3fn' | 'float8e4m3fnuz' | 'float8e5m2' | 'float8e5m2fnuz' | 'float8e8m0'
  | 'uint4' | 'int4' | 'float4e2m1' | 'uint2' | 'int2';

interface DTypeInfo {
  onnx: DataType;
  /** Bits per element in raw_data (string: 0, variable). */
  bits: number;
  /** Bits per element in the legacy typed field (int32_data holds one storage unit per entry). */
  isFloat: boolean;
  isInteger: boolean;
  isSigned: boolean;
}

const INFO: Record<DType, DTypeInfo> = {
  float32: { onnx: DataType.FLOAT, bits: 32, isFloat: true, isInteger: false, isSigned: true },
  float16: { onnx: DataType.FLOAT16, bits: 16, isFloat: true, isInteger: false, isSigned: true },
  bfloat16: { onnx: DataType.BFLOAT16, bits: 16, isFloat: true, isInteger: false, isSigned: true },
  float64: { onnx: DataType.DOUBLE, bits: 64, isFloat: true, isInteger: false, isSigned: true },
  int8: { onnx: DataType.INT8, bits: 8, isFloat: false, isInteger: true, isSigned: true },
  uint8: { onnx: DataType.UINT8, bits: 8, isFloat: false, isInteger: true, isSigned: false },
  int16: { onnx: DataType.INT16, bits: 16, isFloat: false, isInteger: true, isSigned: true },
  uint16: { onnx: DataType.UINT16, bits: 16, isFloat: false, isInteger: true, isSigned: false },
  int32: { onnx: DataType.INT32, bits: 32, isFloat: false, isInteger: true, isSigned: true },
  uint32: { onnx: DataType.UINT32, bits: 32, isFloat: false, isInteger: true, isSigned: false },
  int64: { onnx: DataType.INT64, bits: 64, isFloat: false, isInteger: true, isSigned: true },
  uint64: { onnx: DataType.UINT64, bits: 64, isFloat: false, isInteger: true, isSigned: false },
  bool: { onnx: DataType.BOOL, bits: 8, isFloat: false, isInteger: false, isSigned: false },
  string: { onnx: DataType.STRING, bits: 0, isFloat: false, isInteger: false, isSigned: false },
  complex64: { onnx: DataType.COMPLEX64, bits: 64, isFloat: false, isInteger: false, isSigned: true },
  complex128: { onnx: DataType.COMPLEX128, bits: 128, isFloat: false, isInteger: false, isSigned: true },
  float8e4m3fn: { onnx: DataType.FLOAT8E4M3FN, bits: 8, isFloat: true, isInteger: false, isSigned: true },
  float8e4m3fnuz: { onnx: DataType.FLOAT8E4M3FNUZ, bits: 8, isFloat: true, isInteger: false, isSigned: true },
  float8e5m2: { onnx: DataType.FLOAT8E5M2, bits: 8, isFloat: true, isInteger: false, isSigned: true },
  float8e5m2fnuz: { onnx: DataType.FLOAT8E5M2FNUZ, bits: 8, isFloat: true, isInteger: false, isSigned: true },
  float8e8m0: { onnx: DataType.FLOAT8E8M0, bits: 8, isFloat: true, isInteger: false, isSigned: false },
  uint4: { onnx: DataType.UINT4, bits: 4, isFloat: false, isInteger: true, isSigned: false },
  int4: { onnx: DataType.INT4, bits: 4, isFloat: false, isInteger: true, isSigned: true },
  float4e2m1: { onnx: DataType.FLOAT4E2M1, bits: 4, isFloat: true, isInteger: false, isSigned: true },
  uint2: { onnx: DataType.UINT2, bits: 2, isFloat: false, isInteger: true, isSigned: false },
  int2: { onnx: DataType.INT2, bits: 2, isFloat: false, isInteger: true, isSigned: true },
};

const BY_ONNX = new Map<number, DType>(Object.entries(INFO).map(([k, v]) => [v.onnx, k as DType]));

export const ALL_DTYPES: readonly DType[] = Object.keys(INFO) as DType[];

/** The DType for an ONNX `TensorProto.DataType` number, or undefined when unknown/UNDEFINED. */
export function dtypeFromOnnx(code: number): DType | undefined {
  return BY_ONNX.get(code);
}

export function dtypeToOnnx(dtype: DType): DataType {
  return INFO[dtype].onnx;
}

/** Bits one element takes in raw_data (4 for int4, 0 for string). */
export function dtypeBits(dtype: DType): number {
  return INFO[dtype].bits;
}

export function isFloatDType(dtype: DType): boolean {
  return INFO[dtype].isFloat;
}

export function isIntegerDType(dtype: DType): boolean {
  return INFO[dtype].isInteger;
}

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.hasOwn(INFO, x);
}

/** Bytes needed for `count` elements in packed raw form (sub-byte types round up). */
export function byteSizeOf(dtype: DType, count: number): number {
  return Math.ceil((count * INFO[dtype].bits) / 8);
}
