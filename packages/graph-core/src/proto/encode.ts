/**
 * ONNX ModelProto encoder: the plain objects of `onnx-types.ts` → protobuf wire bytes, as a rope of
 * chunks in which large tensors are the caller's own buffers (zero-copy).
 *
 * Fields are written in ascending field-number order, as protoc does; unknown fields follow at the
 * end of their message, verbatim. Optional fields are written when they are not `undefined`;
 * non-optional scalars are skipped when they hold their default (`''`, `0`), as are empty repeated
 * fields. Repeated numerics are written packed. With the decoder's conventions this makes
 * `encode(decode(encode(x)))` byte-identical to `encode(x)`.
 */
import type {
  AttributeProto,
  DimensionProto,
  FunctionProto,
  GraphProto,
  Int64,
  LazyBytes,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  SparseTensorProto,
  StringStringEntryProto,
  TensorAnnotationProto,
  TensorProto,
  TensorShapeProto,
  TypeProto,
  ValueInfoProto,
} from './onnx-types.ts';
import { Msg } from './schema.ts';
import { type EncodedModel, type FieldSink, SizeSink, WriteSink } from './wire-writer.ts';

export { OnnxEncodeError, type EncodedModel } from './wire-writer.ts';

/** Options of `encodeModel`. */
export interface EncodeOptions {
  /**
   * Reads the bytes of a `LazyBytes` raw_data (left in the source by a streaming decode), e.g.
   * `(lazy) => source.read(lazy.offset, lazy.length)`. Without it, a model holding LazyBytes cannot
   * be encoded. It must return exactly `lazy.length` bytes; the result is used without copying.
   */
  resolveLazy?: (lazy: LazyBytes) => Uint8Array;
  /** Byte fields at least this long are referenced as their own chunk instead of copied. Default 4 KiB. */
  zeroCopyThreshold?: number;
}

const DEFAULT_ZERO_COPY = 4096;
/** Deeper nesting than this is refused: it can only come from a cycle in the objects. */
const ENCODE_MAX_DEPTH = 1000;

/**
 * Encodes a ModelProto. The result's `chunks` concatenate to the protobuf bytes; byte fields of at
 * least `zeroCopyThreshold` bytes (raw_data, large float_data...) are the model's own arrays, not
 * copies, so writing a 650 MB model allocates only its small fields. Write the chunks in order (or
 * use `encodeModelToBytes` for small models).
 *
 * @throws OnnxEncodeError for values that cannot be encoded (non-integer or out-of-range int64,
 *   LazyBytes without `resolveLazy`, wrong value types), naming the field path.
 */
export function encodeModel(model: ModelProto, options: EncodeOptions = {}): EncodedModel {
  const zeroCopyThreshold = options.zeroCopyThreshold ?? DEFAULT_ZERO_COPY;
  if (!(zeroCopyThreshold >= 1)) throw new RangeError(`encodeModel: zeroCopyThreshold must be >= 1, got ${zeroCopyThreshold}`);
  const sizer = new SizeSink({
    rootType: Msg.Model,
    zeroCopyThreshold,
    canResolveLazy: options.resolveLazy !== undefined,
    maxDepth: ENCODE_MAX_DEPTH,
  });
  emitModel(sizer, model);
  const writer = new WriteSink(sizer.size - sizer.big, sizer.slots, zeroCopyThreshold, options.resolveLazy);
  emitModel(writer, model);
  return writer.finish(sizer.size);
}

/** Encodes a ModelProto into one contiguous buffer (copies large fields; fine for small models). */
export function encodeModelToBytes(model: ModelProto, options: EncodeOptions = {}): Uint8Array {
  return concatChunks(encodeModel(model, options));
}

/** Concatenates an encoded rope into one buffer. */
export function concatChunks(encoded: EncodedModel): Uint8Array {
  const out = new Uint8Array(encoded.byteLength);
  let offset = 0;
  for (const chunk of encoded.chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

// -------------------------------------------------------------------------------------------------
// Emit functions: one per message, fields in ascending number order. Shared by both passes.

function isDefaultInt(v: Int64): boolean {
  return v === 0 || v === 0n;
}

function emitEntries(s: FieldSink, field: number, list: readonly StringStringEntryProto[]): void {
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    s.begin(field, Msg.StringStringEntry, i);
    if (e.key !== '') s.string(1, e.key);
    if (e.value !== '') s.string(2, e.value);
    s.unknown(e.unknownFields);
    s.end();
  }
}

function emitOpsets(s: FieldSink, field: number, list: readonly OperatorSetIdProto[]): void {
  for (let i = 0; i < list.length; i++) {
    const o = list[i];
    s.begin(field, Msg.OperatorSetId, i);
    if (o.domain !== '') s.string(1, o.domain);
    if (!isDefaultInt(o.version)) s.int64(2, o.version);
    s.unknown(o.unknownFields);
    s.end();
  }
}

function emitStrings(s: FieldSink, field: number, list: readonly string[]): void {
  for (let i = 0; i < list.length; i++) s.string(field, list[i]);
}

function emitValueInfos(s: FieldSink, field: number, list: readonly ValueInfoProto[]): void {
  for (let i = 0; i < list.length; i++) {
    s.begin(field, Msg.ValueInfo, i);
    emitValueInfo(s, list[i]);
    s.end();
  }
}

function emitNodes(s: FieldSink, field: number, list: readonly NodeProto[]): void {
  for (let i = 0; i < list.length; i++) {
    s.begin(field, Msg.Node, i);
    emitNode(s, list[i]);
    s.end();
  }
}

function emitAttributes(s: FieldSink, field: number, list: readonly AttributeProto[]): void {
  for (let i = 0; i < list.length; i++) {
    s.begin(field, Msg.Attribute, i);
    emitAttribute(s, list[i]);
    s.end();
  }
}

function emitTensors(s: FieldSink, field: number, list: readonly TensorProto[]): void {
  for (let i = 0; i < list.length; i++) {
    s.begin(field, Msg.Tensor, i);
    emitTensor(s, list[i]);
    s.end();
  }
}

function emitSparseTensors(s: FieldSink, field: number, list: readonly SparseTensorProto[]): void {
  for (let i = 0; i < list.length; i++) {
    s.begin(field, Msg.SparseTensor, i);
    emitSparseTensor(s, list[i]);
    s.end();
  }
}

function emitModel(s: FieldSink, m: ModelProto): void {
  if (!isDefaultInt(m.irVersion)) s.int64(1, m.irVersion);
  if (m.producerName !== undefined) s.string(2, m.producerName);
  if (m.producerVersion !== undefined) s.string(3, m.producerVersion);
  if (m.domain !== undefined) s.string(4, m.domain);
  if (m.modelVersion !== undefined) s.int64(5, m.modelVersion);
  if (m.docString !== undefined) s.string(6, m.docString);
  if (m.graph !== undefined) {
    s.begin(7, Msg.Graph, -1);
    emitGraph(s, m.graph);
    s.end();
  }
  emitOpsets(s, 8, m.opsetImport);
  emitEntries(s, 14, m.metadataProps);
  for (let i = 0; i < m.functions.length; i++) {
    s.begin(25, Msg.Function, i);
    emitFunction(s, m.functions[i]);
    s.end();
  }
  s.unknown(m.unknownFields);
}

function emitGraph(s: FieldSink, g: GraphProto): void {
  emitNodes(s, 1, g.node);
  if (g.name !== '') s.string(2, g.name);
  emitTensors(s, 5, g.initializer);
  if (g.docString !== undefined) s.string(10, g.docString);
  emitValueInfos(s, 11, g.input);
  emitValueInfos(s, 12, g.output);
  emitValueInfos(s, 13, g.valueInfo);
  for (let i = 0; i < g.quantizationAnnotation.length; i++) {
    s.begin(14, Msg.TensorAnnotation, i);
    emitTensorAnnotation(s, g.quantizationAnnotation[i]);
    s.end();
  }
  emitSparseTensors(s, 15, g.sparseInitializer);
  emitEntries(s, 16, g.metadataProps);
  s.unknown(g.unknownFields);
}

function emitNode(s: FieldSink, n: NodeProto): void {
  emitStrings(s, 1, n.input);
  emitStrings(s, 2, n.output);
  if (n.name !== '') s.string(3, n.name);
  if (n.opType !== '') s.string(4, n.opType);
  emitAttributes(s, 5, n.attribute);
  if (n.docString !== undefined) s.string(6, n.docString);
  if (n.domain !== '') s.string(7, n.domain);
  if (n.overload !== undefined) s.string(8, n.overload);
  emitEntries(s, 9, n.metadataProps);
  s.unknown(n.unknownFields);
}

function emitFunction(s: FieldSink, f: FunctionProto): void {
  if (f.name !== '') s.string(1, f.name);
  emitStrings(s, 4, f.input);
  emitStrings(s, 5, f.output);
  emitStrings(s, 6, f.attribute);
  emitNodes(s, 7, f.node);
  if (f.docString !== undefined) s.string(8, f.docString);
  emitOpsets(s, 9, f.opsetImport);
  if (f.domain !== '') s.string(10, f.domain);
  emitAttributes(s, 11, f.attributeProto);
  emitValueInfos(s, 12, f.valueInfo);
  if (f.overload !== undefined) s.string(13, f.overload);
  emitEntries(s, 14, f.metadataProps);
  s.unknown(f.unknownFields);
}

function emitAttribute(s: FieldSink, a: AttributeProto): void {
  if (a.name !== '') s.string(1, a.name);
  if (a.f !== undefined) s.float(2, a.f);
  if (a.i !== undefined) s.int64(3, a.i);
  if (a.s !== undefined) s.bytes(4, a.s);
  if (a.t !== undefined) {
    s.begin(5, Msg.Tensor, -1);
    emitTensor(s, a.t);
    s.end();
  }
  if (a.g !== undefined) {
    s.begin(6, Msg.Graph, -1);
    emitGraph(s, a.g);
    s.end();
  }
  if (a.floats !== undefined && a.floats.length > 0) s.packedFloat32(7, a.floats);
  if (a.ints !== undefined && a.ints.length > 0) s.packedInt64(8, a.ints);
  if (a.strings !== undefined) for (const b of a.strings) s.bytes(9, b);
  if (a.tensors !== undefined) emitTensors(s, 10, a.tensors);
  if (a.graphs !== undefined) {
    for (let i = 0; i < a.graphs.length; i++) {
      s.begin(11, Msg.Graph, i);
      emitGraph(s, a.graphs[i]);
      s.end();
    }
  }
  if (a.docString !== undefined) s.string(13, a.docString);
  if (a.tp !== undefined) {
    s.begin(14, Msg.Type, -1);
    emitType(s, a.tp);
    s.end();
  }
  if (a.typeProtos !== undefined) {
    for (let i = 0; i < a.typeProtos.length; i++) {
      s.begin(15, Msg.Type, i);
      emitType(s, a.typeProtos[i]);
      s.end();
    }
  }
  if (a.type !== 0) s.int32(20, a.type);
  if (a.refAttrName !== undefined) s.string(21, a.refAttrName);
  if (a.sparseTensor !== undefined) {
    s.begin(22, Msg.SparseTensor, -1);
    emitSparseTensor(s, a.sparseTensor);
    s.end();
  }
  if (a.sparseTensors !== undefined) emitSparseTensors(s, 23, a.sparseTensors);
  s.unknown(a.unknownFields);
}

function emitTensor(s: FieldSink, t: TensorProto): void {
  if (t.dims.length > 0) s.packedInt64(1, t.dims);
  if (t.dataType !== 0) s.int32(2, t.dataType);
  if (t.segment !== undefined) {
    s.begin(3, Msg.TensorSegment, -1);
    if (!isDefaultInt(t.segment.begin)) s.int64(1, t.segment.begin);
    if (!isDefaultInt(t.segment.end)) s.int64(2, t.segment.end);
    s.unknown(t.segment.unknownFields);
    s.end();
  }
  if (t.floatData !== undefined && t.floatData.length > 0) s.packedFloat32(4, t.floatData);
  if (t.int32Data !== undefined && t.int32Data.length > 0) s.packedInt32(5, t.int32Data);
  if (t.stringData !== undefined) for (const b of t.stringData) s.bytes(6, b);
  if (t.int64Data !== undefined && t.int64Data.length > 0) s.packedInt64(7, t.int64Data);
  if (t.name !== '') s.string(8, t.name);
  if (t.rawData !== undefined) s.bytes(9, t.rawData);
  if (t.doubleData !== undefined && t.doubleData.length > 0) s.packedFloat64(10, t.doubleData);
  if (t.uint64Data !== undefined && t.uint64Data.length > 0) s.packedUint64(11, t.uint64Data);
  if (t.docString !== undefined) s.string(12, t.docString);
  emitEntries(s, 13, t.externalData);
  if (t.dataLocation !== undefined) s.int32(14, t.dataLocation);
  emitEntries(s, 16, t.metadataProps);
  s.unknown(t.unknownFields);
}

function emitSparseTensor(s: FieldSink, t: SparseTensorProto): void {
  if (t.values !== undefined) {
    s.begin(1, Msg.Tensor, -1);
    emitTensor(s, t.values);
    s.end();
  }
  if (t.indices !== undefined) {
    s.begin(2, Msg.Tensor, -1);
    emitTensor(s, t.indices);
    s.end();
  }
  if (t.dims.length > 0) s.packedInt64(3, t.dims);
  s.unknown(t.unknownFields);
}

function emitValueInfo(s: FieldSink, v: ValueInfoProto): void {
  if (v.name !== '') s.string(1, v.name);
  if (v.type !== undefined) {
    s.begin(2, Msg.Type, -1);
    emitType(s, v.type);
    s.end();
  }
  if (v.docString !== undefined) s.string(3, v.docString);
  emitEntries(s, 4, v.metadataProps);
  s.unknown(v.unknownFields);
}

function emitType(s: FieldSink, t: TypeProto): void {
  if (t.tensorType !== undefined) {
    s.begin(1, Msg.TypeTensor, -1);
    if (t.tensorType.elemType !== 0) s.int32(1, t.tensorType.elemType);
    if (t.tensorType.shape !== undefined) emitShape(s, 2, t.tensorType.shape);
    s.unknown(t.tensorType.unknownFields);
    s.end();
  }
  if (t.sequenceType !== undefined) {
    s.begin(4, Msg.TypeSequence, -1);
    emitElemType(s, t.sequenceType.elemType);
    s.unknown(t.sequenceType.unknownFields);
    s.end();
  }
  if (t.mapType !== undefined) {
    s.begin(5, Msg.TypeMap, -1);
    if (t.mapType.keyType !== 0) s.int32(1, t.mapType.keyType);
    if (t.mapType.valueType !== undefined) {
      s.begin(2, Msg.Type, -1);
      emitType(s, t.mapType.valueType);
      s.end();
    }
    s.unknown(t.mapType.unknownFields);
    s.end();
  }
  if (t.denotation !== undefined) s.string(6, t.denotation);
  if (t.sparseTensorType !== undefined) {
    s.begin(8, Msg.TypeSparseTensor, -1);
    if (t.sparseTensorType.elemType !== 0) s.int32(1, t.sparseTensorType.elemType);
    if (t.sparseTensorType.shape !== undefined) emitShape(s, 2, t.sparseTensorType.shape);
    s.unknown(t.sparseTensorType.unknownFields);
    s.end();
  }
  if (t.optionalType !== undefined) {
    s.begin(9, Msg.TypeOptional, -1);
    emitElemType(s, t.optionalType.elemType);
    s.unknown(t.optionalType.unknownFields);
    s.end();
  }
  s.unknown(t.unknownFields);
}

function emitElemType(s: FieldSink, elem: TypeProto | undefined): void {
  if (elem === undefined) return;
  s.begin(1, Msg.Type, -1);
  emitType(s, elem);
  s.end();
}

function emitShape(s: FieldSink, field: number, shape: TensorShapeProto): void {
  s.begin(field, Msg.TensorShape, -1);
  for (let i = 0; i < shape.dim.length; i++) {
    s.begin(1, Msg.Dimension, i);
    emitDimension(s, shape.dim[i]);
    s.end();
  }
  s.unknown(shape.unknownFields);
  s.end();
}

function emitDimension(s: FieldSink, d: DimensionProto): void {
  if (d.dimValue !== undefined) s.int64(1, d.dimValue);
  if (d.dimParam !== undefined) s.string(2, d.dimParam);
  if (d.denotation !== undefined) s.string(3, d.denotation);
  s.unknown(d.unknownFields);
}

function emitTensorAnnotation(s: FieldSink, a: TensorAnnotationProto): void {
  if (a.tensorName !== '') s.string(1, a.tensorName);
  emitEntries(s, 2, a.quantParameterTensorNames);
  s.unknown(a.unknownFields);
}
