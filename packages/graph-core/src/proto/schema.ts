/**
 * The onnx.proto field table shared by the decoder and the encoder: message ids, protobuf names and
 * the wire type each known field may use. It is only consulted off the hot path: to tell a known field
 * with a wrong wire type from an unknown field, and to name the dotted field path in error messages
 * (`ModelProto.graph.node[12].attribute[0].t.raw_data`).
 */

/** Message ids used by the reader's and writer's path stacks. */
export const Msg = {
  Model: 0,
  Graph: 1,
  Node: 2,
  Attribute: 3,
  Tensor: 4,
  TensorSegment: 5,
  SparseTensor: 6,
  ValueInfo: 7,
  Type: 8,
  TypeTensor: 9,
  TypeSequence: 10,
  TypeMap: 11,
  TypeOptional: 12,
  TypeSparseTensor: 13,
  TensorShape: 14,
  Dimension: 15,
  OperatorSetId: 16,
  StringStringEntry: 17,
  TensorAnnotation: 18,
  Function: 19,
} as const;

export type MsgId = (typeof Msg)[keyof typeof Msg];

/** Which wire encodings a known field accepts (for error messages). */
export type FieldEncoding =
  | 'varint'
  | 'fixed32'
  | 'length-delimited'
  | 'varint or packed'
  | 'fixed32 or packed'
  | 'fixed64 or packed';

export interface FieldInfo {
  readonly name: string;
  readonly encoding: FieldEncoding;
}

export interface MessageInfo {
  readonly name: string;
  /** Indexed by field number; `undefined` for numbers this schema does not know. */
  readonly fields: readonly (FieldInfo | undefined)[];
}

type FieldSpec = readonly [number, string, FieldEncoding];

const V = 'varint' as const;
const L = 'length-delimited' as const;

function message(name: string, specs: readonly FieldSpec[]): MessageInfo {
  const fields: (FieldInfo | undefined)[] = [];
  for (const [num, fieldName, encoding] of specs) fields[num] = { name: fieldName, encoding };
  return { name, fields };
}

/** Indexed by `MsgId`. */
export const MESSAGES: readonly MessageInfo[] = [
  message('ModelProto', [
    [1, 'ir_version', V], [2, 'producer_name', L], [3, 'producer_version', L], [4, 'domain', L],
    [5, 'model_version', V], [6, 'doc_string', L], [7, 'graph', L], [8, 'opset_import', L],
    [14, 'metadata_props', L], [25, 'functions', L],
  ]),
  message('GraphProto', [
    [1, 'node', L], [2, 'name', L], [5, 'initializer', L], [10, 'doc_string', L], [11, 'input', L],
    [12, 'output', L], [13, 'value_info', L], [14, 'quantization_annotation', L],
    [15, 'sparse_initializer', L], [16, 'metadata_props', L],
  ]),
  message('NodeProto', [
    [1, 'input', L], [2, 'output', L], [3, 'name', L], [4, 'op_type', L], [5, 'attribute', L],
    [6, 'doc_string', L], [7, 'domain', L], [8, 'overload', L], [9, 'metadata_props', L],
  ]),
  message('AttributeProto', [
    [1, 'name', L], [2, 'f', 'fixed32'], [3, 'i', V], [4, 's', L], [5, 't', L], [6, 'g', L],
    [7, 'floats', 'fixed32 or packed'], [8, 'ints', 'varint or packed'], [9, 'strings', L],
    [10, 'tensors', L], [11, 'graphs', L], [13, 'doc_string', L], [14, 'tp', L], [15, 'type_protos', L],
    [20, 'type', V], [21, 'ref_attr_name', L], [22, 'sparse_tensor', L], [23, 'sparse_tensors', L],
  ]),
  message('TensorProto', [
    [1, 'dims', 'varint or packed'], [2, 'data_type', V], [3, 'segment', L],
    [4, 'float_data', 'fixed32 or packed'], [5, 'int32_data', 'varint or packed'], [6, 'string_data', L],
    [7, 'int64_data', 'varint or packed'], [8, 'name', L], [9, 'raw_data', L],
    [10, 'double_data', 'fixed64 or packed'], [11, 'uint64_data', 'varint or packed'], [12, 'doc_string', L],
    [13, 'external_data', L], [14, 'data_location', V], [16, 'metadata_props', L],
  ]),
  message('TensorProto.Segment', [[1, 'begin', V], [2, 'end', V]]),
  message('SparseTensorProto', [[1, 'values', L], [2, 'indices', L], [3, 'dims', 'varint or packed']]),
  message('ValueInfoProto', [[1, 'name', L], [2, 'type', L], [3, 'doc_string', L], [4, 'metadata_props', L]]),
  message('TypeProto', [
    [1, 'tensor_type', L], [4, 'sequence_type', L], [5, 'map_type', L], [6, 'denotation', L],
    [8, 'sparse_tensor_type', L], [9, 'optional_type', L],
  ]),
  message('TypeProto.Tensor', [[1, 'elem_type', V], [2, 'shape', L]]),
  message('TypeProto.Sequence', [[1, 'elem_type', L]]),
  message('TypeProto.Map', [[1, 'key_type', V], [2, 'value_type', L]]),
  message('TypeProto.Optional', [[1, 'elem_type', L]]),
  message('TypeProto.SparseTensor', [[1, 'elem_type', V], [2, 'shape', L]]),
  message('TensorShapeProto', [[1, 'dim', L]]),
  message('TensorShapeProto.Dimension', [[1, 'dim_value', V], [2, 'dim_param', L], [3, 'denotation', L]]),
  message('OperatorSetIdProto', [[1, 'domain', L], [2, 'version', V]]),
  message('StringStringEntryProto', [[1, 'key', L], [2, 'value', L]]),
  message('TensorAnnotation', [[1, 'tensor_name', L], [2, 'quant_parameter_tensor_names', L]]),
  message('FunctionProto', [
    [1, 'name', L], [4, 'input', L], [5, 'output', L], [6, 'attribute', L], [7, 'node', L],
    [8, 'doc_string', L], [9, 'opset_import', L], [10, 'domain', L], [11, 'attribute_proto', L],
    [12, 'value_info', L], [13, 'overload', L], [14, 'metadata_props', L],
  ]),
];

/** The known field `field` of message `msg`, or undefined. */
export function fieldInfo(msg: number, field: number): FieldInfo | undefined {
  const info = MESSAGES[msg];
  return info === undefined ? undefined : info.fields[field];
}

/** The protobuf name of a field for error paths; unknown numbers print as `#20`. */
export function fieldLabel(msg: number, field: number): string {
  return fieldInfo(msg, field)?.name ?? `#${field}`;
}

/** Builds `ModelProto.graph.node[12].attribute[0].t.raw_data` from a reader's or writer's path stack. */
export function formatFieldPath(
  types: ArrayLike<number>,
  fields: ArrayLike<number>,
  indices: ArrayLike<number>,
  depth: number,
): string {
  let path = MESSAGES[types[0]]?.name ?? '?';
  for (let d = 0; d <= depth; d++) {
    const field = fields[d];
    if (field === 0) break;
    path += '.' + fieldLabel(types[d], field);
    const index = indices[d];
    if (index >= 0) path += `[${index}]`;
  }
  return path;
}
