/**
 * Plain-object mirror of onnx.proto (IR version 11, ONNX 1.18+), as decoded from and encoded to the
 * protobuf wire format by `decode.ts` / `encode.ts`. Field numbers are in the comments.
 *
 * - int64 fields are `Int64`: a `number` when it fits in 2^53, else a `bigint` (lossless round-trip of
 *   INT64_MAX in Slice attributes and the like).
 * - Byte fields (`raw_data`, attribute `s`) are zero-copy views into the source buffer, or a lazy
 *   `LazyBytes` range when the model is streamed from a random-access source.
 * - Fields this schema does not know are kept as raw encoded field bytes in `unknownFields` (on every
 *   message type) and written back unchanged, so a newer model survives a round trip through an
 *   older reader.
 * - Presence: optional (`?`) fields are set by the decoder only when present on the wire and written by
 *   the encoder whenever they are not `undefined`; non-optional scalars default to `''` / `0` and are
 *   not written when they hold that default; empty repeated fields are not written.
 */

export type Int64 = number | bigint;

/** A byte range of the source that was not read into memory (streaming path). */
export interface LazyBytes {
  readonly kind: 'lazy';
  /** Absolute byte offset of the first byte in the source. */
  readonly offset: number;
  readonly length: number;
}

export type Bytes = Uint8Array | LazyBytes;

/** Raw encoded fields (tag + payload) that the schema does not name; re-emitted verbatim. */
export type UnknownFields = Uint8Array[];

export enum DataType {
  UNDEFINED = 0,
  FLOAT = 1,
  UINT8 = 2,
  INT8 = 3,
  UINT16 = 4,
  INT16 = 5,
  INT32 = 6,
  INT64 = 7,
  STRING = 8,
  BOOL = 9,
  FLOAT16 = 10,
  DOUBLE = 11,
  UINT32 = 12,
  UINT64 = 13,
  COMPLEX64 = 14,
  COMPLEX128 = 15,
  BFLOAT16 = 16,
  FLOAT8E4M3FN = 17,
  FLOAT8E4M3FNUZ = 18,
  FLOAT8E5M2 = 19,
  FLOAT8E5M2FNUZ = 20,
  UINT4 = 21,
  INT4 = 22,
  FLOAT4E2M1 = 23,
  FLOAT8E8M0 = 24,
  UINT2 = 25,
  INT2 = 26,
}

export enum AttributeType {
  UNDEFINED = 0,
  FLOAT = 1,
  INT = 2,
  STRING = 3,
  TENSOR = 4,
  GRAPH = 5,
  FLOATS = 6,
  INTS = 7,
  STRINGS = 8,
  TENSORS = 9,
  GRAPHS = 10,
  SPARSE_TENSOR = 11,
  SPARSE_TENSORS = 12,
  TYPE_PROTO = 13,
  TYPE_PROTOS = 14,
}

export enum DataLocation {
  DEFAULT = 0,
  EXTERNAL = 1,
}

/** StringStringEntryProto: key=1, value=2 */
export interface StringStringEntryProto {
  key: string;
  value: string;
  unknownFields?: UnknownFields;
}

/** OperatorSetIdProto: domain=1, version=2 */
export interface OperatorSetIdProto {
  domain: string;
  version: Int64;
  unknownFields?: UnknownFields;
}

/** TensorShapeProto.Dimension: dim_value=1, dim_param=2, denotation=3 */
export interface DimensionProto {
  dimValue?: Int64;
  dimParam?: string;
  denotation?: string;
  unknownFields?: UnknownFields;
}

/** TensorShapeProto: dim=1. A present shape with no dims is a scalar; an absent shape is unknown rank. */
export interface TensorShapeProto {
  dim: DimensionProto[];
  unknownFields?: UnknownFields;
}

/**
 * TypeProto: tensor_type=1, sequence_type=4, map_type=5, optional_type=9, sparse_tensor_type=8,
 * denotation=6. Tensor: elem_type=1, shape=2. Sequence/Optional: elem_type=1. Map: key_type=1,
 * value_type=2. SparseTensor: elem_type=1, shape=2.
 */
export interface TypeProto {
  tensorType?: TypeProtoTensor;
  sequenceType?: TypeProtoSequence;
  mapType?: TypeProtoMap;
  optionalType?: TypeProtoOptional;
  sparseTensorType?: TypeProtoSparseTensor;
  denotation?: string;
  /** Also holds ONNX-ML's `opaque_type` (field 7), which this schema does not model. */
  unknownFields?: UnknownFields;
}

/** TypeProto.Tensor: elem_type=1, shape=2 */
export interface TypeProtoTensor {
  elemType: DataType;
  shape?: TensorShapeProto;
  unknownFields?: UnknownFields;
}

/** TypeProto.Sequence: elem_type=1 */
export interface TypeProtoSequence {
  elemType?: TypeProto;
  unknownFields?: UnknownFields;
}

/** TypeProto.Map: key_type=1, value_type=2 */
export interface TypeProtoMap {
  keyType: DataType;
  valueType?: TypeProto;
  unknownFields?: UnknownFields;
}

/** TypeProto.Optional: elem_type=1 */
export interface TypeProtoOptional {
  elemType?: TypeProto;
  unknownFields?: UnknownFields;
}

/** TypeProto.SparseTensor: elem_type=1, shape=2 */
export interface TypeProtoSparseTensor {
  elemType: DataType;
  shape?: TensorShapeProto;
  unknownFields?: UnknownFields;
}

/** ValueInfoProto: name=1, type=2, doc_string=3, metadata_props=4 */
export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
  docString?: string;
  metadataProps: StringStringEntryProto[];
  unknownFields?: UnknownFields;
}

/**
 * TensorProto: dims=1, data_type=2, segment=3 {begin=1,end=2}, float_data=4, int32_data=5,
 * string_data=6, int64_data=7, name=8, raw_data=9, double_data=10, uint64_data=11, doc_string=12,
 * external_data=13, data_location=14, metadata_props=16.
 * Repeated numeric fields are accepted packed or unpacked and written packed.
 */
export interface TensorProto {
  dims: Int64[];
  dataType: DataType;
  segment?: TensorSegmentProto;
  floatData?: Float32Array;
  int32Data?: Int32Array;
  stringData?: Uint8Array[];
  int64Data?: Int64[];
  name: string;
  docString?: string;
  rawData?: Bytes;
  externalData: StringStringEntryProto[];
  dataLocation?: DataLocation;
  doubleData?: Float64Array;
  uint64Data?: Int64[];
  metadataProps: StringStringEntryProto[];
  unknownFields?: UnknownFields;
}

/** TensorProto.Segment: begin=1, end=2 */
export interface TensorSegmentProto {
  begin: Int64;
  end: Int64;
  unknownFields?: UnknownFields;
}

/** SparseTensorProto: values=1, indices=2, dims=3 */
export interface SparseTensorProto {
  values?: TensorProto;
  indices?: TensorProto;
  dims: Int64[];
  unknownFields?: UnknownFields;
}

/**
 * AttributeProto: name=1, f=2, i=3, s=4, t=5, g=6, floats=7, ints=8, strings=9, tensors=10, graphs=11,
 * doc_string=13, tp=14, type_protos=15, type=20, ref_attr_name=21, sparse_tensor=22, sparse_tensors=23.
 */
export interface AttributeProto {
  name: string;
  refAttrName?: string;
  docString?: string;
  type: AttributeType;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  sparseTensor?: SparseTensorProto;
  tp?: TypeProto;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
  sparseTensors?: SparseTensorProto[];
  typeProtos?: TypeProto[];
  unknownFields?: UnknownFields;
}

/**
 * NodeProto: input=1, output=2, name=3, op_type=4, attribute=5, doc_string=6, domain=7, overload=8,
 * metadata_props=9. (device_configurations=10 is kept as an unknown field.)
 */
export interface NodeProto {
  input: string[];
  output: string[];
  name: string;
  opType: string;
  domain: string;
  overload?: string;
  attribute: AttributeProto[];
  docString?: string;
  metadataProps: StringStringEntryProto[];
  unknownFields?: UnknownFields;
}

/** TensorAnnotation: tensor_name=1, quant_parameter_tensor_names=2 */
export interface TensorAnnotationProto {
  tensorName: string;
  quantParameterTensorNames: StringStringEntryProto[];
  unknownFields?: UnknownFields;
}

/**
 * GraphProto: node=1, name=2, initializer=5, doc_string=10, input=11, output=12, value_info=13,
 * quantization_annotation=14, sparse_initializer=15, metadata_props=16.
 */
export interface GraphProto {
  node: NodeProto[];
  name: string;
  initializer: TensorProto[];
  sparseInitializer: SparseTensorProto[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
  quantizationAnnotation: TensorAnnotationProto[];
  metadataProps: StringStringEntryProto[];
  unknownFields?: UnknownFields;
}

/**
 * FunctionProto: name=1, input=4, output=5, attribute=6, node=7, doc_string=8, opset_import=9,
 * domain=10, attribute_proto=11, value_info=12, overload=13, metadata_props=14.
 */
export interface FunctionProto {
  name: string;
  input: string[];
  output: string[];
  attribute: string[];
  attributeProto: AttributeProto[];
  node: NodeProto[];
  docString?: string;
  opsetImport: OperatorSetIdProto[];
  domain: string;
  overload?: string;
  valueInfo: ValueInfoProto[];
  metadataProps: StringStringEntryProto[];
  unknownFields?: UnknownFields;
}

/**
 * ModelProto: ir_version=1, producer_name=2, producer_version=3, domain=4, model_version=5,
 * doc_string=6, graph=7, opset_import=8, metadata_props=14, training_info=20 (kept as unknown),
 * functions=25.
 */
export interface ModelProto {
  irVersion: Int64;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProto;
  metadataProps: StringStringEntryProto[];
  functions: FunctionProto[];
  unknownFields?: UnknownFields;
}
