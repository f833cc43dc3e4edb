/**
 * ONNX ModelProto decoder: protobuf wire bytes → the plain objects of `onnx-types.ts`.
 *
 * One hand-written function per message, each a `switch` on the full tag (field number and wire
 * type), so the hot loop does no table lookups, allocates nothing for skipped fields and never
 * creates closures. Unknown fields are kept verbatim in `unknownFields` (tag + payload) so a newer
 * model survives a round trip. Every malformed input ends in an `OnnxParseError` that names the file,
 * the byte offset and the dotted field path.
 *
 * Conventions of the decoded objects (the encoder follows the same ones, so decode ∘ encode is the
 * identity on them):
 * - Optional (`?`) fields are set only when present on the wire; non-optional scalars default to
 *   `''` / `0` and repeated fields to `[]`.
 * - Int64 values are numbers when they are safe integers, bigints otherwise.
 * - A repeated field may arrive packed, unpacked or in several pieces; the pieces are concatenated.
 * - A singular message field that appears twice keeps the last occurrence (protobuf would merge).
 * - Nothing is defaulted beyond that: an AttributeProto of type FLOATS with no elements has no
 *   `floats` (the wire cannot tell an empty list from an absent one), and a reference attribute
 *   (`ref_attr_name`) has no value at all. Consumers apply `?? []` / `?? 0` themselves.
 */
import type { RandomAccessSource } from '../io/byte-source.ts';
import { memorySource } from '../io/byte-source.ts';
import { AttributeType } from './onnx-types.ts';
import type {
  AttributeProto,
  DimensionProto,
  FunctionProto,
  GraphProto,
  Int64,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  SparseTensorProto,
  StringStringEntryProto,
  TensorAnnotationProto,
  TensorProto,
  TensorSegmentProto,
  TensorShapeProto,
  TypeProto,
  TypeProtoMap,
  TypeProtoOptional,
  TypeProtoSequence,
  TypeProtoSparseTensor,
  TypeProtoTensor,
  UnknownFields,
  ValueInfoProto,
} from './onnx-types.ts';
import { Msg } from './schema.ts';
import { WireReader } from './wire-reader.ts';

/** Options of `decodeModel`. */
export interface DecodeOptions {
  /**
   * When the source is not in memory, `TensorProto.raw_data` of at least this many bytes is returned
   * as `LazyBytes` (offset + length in the source) without being read. Default 1 MiB. In-memory
   * sources always give zero-copy views.
   */
  lazyThreshold?: number;
  /**
   * Maximum nesting of messages below the ModelProto (graphs in attributes in graphs, TypeProto in
   * TypeProto, ...). Deeper input is rejected before the JS stack is at risk. Default 100 (protobuf's
   * own default), at most 1000.
   */
  maxDepth?: number;
  /**
   * Maximum number of messages (nodes, attributes, tensors, dims, ...) in the model. An empty message
   * costs 2 bytes on the wire but ~100+ bytes as an object, so this bounds how far a crafted file can
   * amplify memory. Default 10 million (large real models have well under 1 million).
   */
  maxMessages?: number;
  /** Keep unknown fields in `unknownFields` (default true); false skips them without allocating. */
  keepUnknownFields?: boolean;
  /** Streaming read-ahead window in bytes (default 4 MiB; it starts at 64 KiB and doubles). */
  windowSize?: number;
}

/** The largest accepted `maxDepth`: deeper recursion could overflow the JS stack. */
export const MAX_DEPTH_LIMIT = 1000;

const DEFAULT_LAZY_THRESHOLD = 1 << 20;
const DEFAULT_MAX_DEPTH = 100;
const DEFAULT_MAX_MESSAGES = 10_000_000;
const DEFAULT_WINDOW = 4 << 20;
const MIN_WINDOW = 64 << 10;

/** A WireReader plus the decoder's own settings. */
class ModelReader extends WireReader {
  lazyThreshold = DEFAULT_LAZY_THRESHOLD;
}

/**
 * Decodes an ONNX ModelProto from a random-access source. With `source.bytes` set the whole buffer is
 * parsed in place and bytes fields are zero-copy views into it; otherwise the source is read through
 * a sliding window and large `raw_data` stays unread as `LazyBytes`.
 *
 * @throws OnnxParseError when the bytes are not a well-formed ModelProto (the message names the file,
 *   byte offset and field path). Errors thrown by `source.read` itself propagate unchanged.
 */
export function decodeModel(source: RandomAccessSource, options: DecodeOptions = {}): ModelProto {
  const maxDepth = options.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (!Number.isInteger(maxDepth) || maxDepth < 1 || maxDepth > MAX_DEPTH_LIMIT) {
    throw new RangeError(`decodeModel: maxDepth must be an integer from 1 to ${MAX_DEPTH_LIMIT}, got ${maxDepth}`);
  }
  const lazyThreshold = options.lazyThreshold ?? DEFAULT_LAZY_THRESHOLD;
  if (!(lazyThreshold >= 0)) throw new RangeError(`decodeModel: lazyThreshold must be >= 0, got ${lazyThreshold}`);
  const maxMessages = options.maxMessages ?? DEFAULT_MAX_MESSAGES;
  if (!(maxMessages >= 0)) throw new RangeError(`decodeModel: maxMessages must be >= 0, got ${maxMessages}`);
  const windowSize = options.windowSize ?? DEFAULT_WINDOW;
  if (!(windowSize >= 16)) throw new RangeError(`decodeModel: windowSize must be >= 16, got ${windowSize}`);
  const r = new ModelReader(source, {
    rootType: Msg.Model,
    maxDepth,
    maxMessages,
    keepUnknownFields: options.keepUnknownFields ?? true,
    maxWindow: windowSize,
    minWindow: Math.min(MIN_WINDOW, windowSize),
  });
  r.lazyThreshold = lazyThreshold;
  return decodeModelProto(r, r.fileEnd);
}

/** Decodes an ONNX model held in memory; bytes fields are zero-copy views into `bytes`. */
export function decodeModelBytes(bytes: Uint8Array, name = '<memory>', options: DecodeOptions = {}): ModelProto {
  return decodeModel(memorySource(bytes, name), options);
}

function addUnknown(r: ModelReader, tag: number, end: number, msg: { unknownFields?: UnknownFields }): void {
  const raw = r.unknownField(tag, end);
  if (raw === undefined) return;
  if (msg.unknownFields === undefined) msg.unknownFields = [raw];
  else msg.unknownFields.push(raw);
}

// -------------------------------------------------------------------------------------------------
// ModelProto, GraphProto, NodeProto, FunctionProto

function decodeModelProto(r: ModelReader, end: number): ModelProto {
  const m: ModelProto = { irVersion: 0, opsetImport: [], metadataProps: [], functions: [] };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 8: m.irVersion = r.int64(); break;
      case 18: m.producerName = r.string(end); break;
      case 26: m.producerVersion = r.string(end); break;
      case 34: m.domain = r.string(end); break;
      case 40: m.modelVersion = r.int64(); break;
      case 50: m.docString = r.string(end); break;
      case 58: m.graph = decodeGraph(r, r.beginMessage(end, Msg.Graph, -1)); break;
      case 66: m.opsetImport.push(decodeOpsetId(r, r.beginMessage(end, Msg.OperatorSetId, m.opsetImport.length))); break;
      case 114: m.metadataProps.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, m.metadataProps.length))); break;
      case 202: m.functions.push(decodeFunction(r, r.beginMessage(end, Msg.Function, m.functions.length))); break;
      default: addUnknown(r, tag, end, m);
    }
  }
  r.endMessage(end);
  return m;
}

function decodeGraph(r: ModelReader, end: number): GraphProto {
  const g: GraphProto = {
    node: [], name: '', initializer: [], sparseInitializer: [], input: [], output: [], valueInfo: [],
    quantizationAnnotation: [], metadataProps: [],
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: g.node.push(decodeNode(r, r.beginMessage(end, Msg.Node, g.node.length))); break;
      case 18: g.name = r.string(end); break;
      case 42: g.initializer.push(decodeTensor(r, r.beginMessage(end, Msg.Tensor, g.initializer.length))); break;
      case 82: g.docString = r.string(end); break;
      case 90: g.input.push(decodeValueInfo(r, r.beginMessage(end, Msg.ValueInfo, g.input.length))); break;
      case 98: g.output.push(decodeValueInfo(r, r.beginMessage(end, Msg.ValueInfo, g.output.length))); break;
      case 106: g.valueInfo.push(decodeValueInfo(r, r.beginMessage(end, Msg.ValueInfo, g.valueInfo.length))); break;
      case 114: g.quantizationAnnotation.push(decodeTensorAnnotation(r, r.beginMessage(end, Msg.TensorAnnotation, g.quantizationAnnotation.length))); break;
      case 122: g.sparseInitializer.push(decodeSparseTensor(r, r.beginMessage(end, Msg.SparseTensor, g.sparseInitializer.length))); break;
      case 130: g.metadataProps.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, g.metadataProps.length))); break;
      default: addUnknown(r, tag, end, g);
    }
  }
  r.endMessage(end);
  return g;
}

function decodeNode(r: ModelReader, end: number): NodeProto {
  const n: NodeProto = { input: [], output: [], name: '', opType: '', domain: '', attribute: [], metadataProps: [] };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: n.input.push(r.string(end)); break;
      case 18: n.output.push(r.string(end)); break;
      case 26: n.name = r.string(end); break;
      case 34: n.opType = r.string(end); break;
      case 42: n.attribute.push(decodeAttribute(r, r.beginMessage(end, Msg.Attribute, n.attribute.length))); break;
      case 50: n.docString = r.string(end); break;
      case 58: n.domain = r.string(end); break;
      case 66: n.overload = r.string(end); break;
      case 74: n.metadataProps.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, n.metadataProps.length))); break;
      default: addUnknown(r, tag, end, n);
    }
  }
  r.endMessage(end);
  return n;
}

function decodeFunction(r: ModelReader, end: number): FunctionProto {
  const f: FunctionProto = {
    name: '', input: [], output: [], attribute: [], attributeProto: [], node: [], opsetImport: [], domain: '',
    valueInfo: [], metadataProps: [],
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: f.name = r.string(end); break;
      case 34: f.input.push(r.string(end)); break;
      case 42: f.output.push(r.string(end)); break;
      case 50: f.attribute.push(r.string(end)); break;
      case 58: f.node.push(decodeNode(r, r.beginMessage(end, Msg.Node, f.node.length))); break;
      case 66: f.docString = r.string(end); break;
      case 74: f.opsetImport.push(decodeOpsetId(r, r.beginMessage(end, Msg.OperatorSetId, f.opsetImport.length))); break;
      case 82: f.domain = r.string(end); break;
      case 90: f.attributeProto.push(decodeAttribute(r, r.beginMessage(end, Msg.Attribute, f.attributeProto.length))); break;
      case 98: f.valueInfo.push(decodeValueInfo(r, r.beginMessage(end, Msg.ValueInfo, f.valueInfo.length))); break;
      case 106: f.overload = r.string(end); break;
      case 114: f.metadataProps.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, f.metadataProps.length))); break;
      default: addUnknown(r, tag, end, f);
    }
  }
  r.endMessage(end);
  return f;
}

// -------------------------------------------------------------------------------------------------
// AttributeProto

function decodeAttribute(r: ModelReader, end: number): AttributeProto {
  const a: AttributeProto = { name: '', type: AttributeType.UNDEFINED };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: a.name = r.string(end); break;
      case 21: a.f = r.float(end); break;
      case 24: a.i = r.int64(); break;
      case 34: a.s = r.bytes(end); break;
      case 42: a.t = decodeTensor(r, r.beginMessage(end, Msg.Tensor, -1)); break;
      case 50: a.g = decodeGraph(r, r.beginMessage(end, Msg.Graph, -1)); break;
      case 58: r.packedFloat32Into(end, a.floats ??= []); break;
      case 61: (a.floats ??= []).push(r.float(end)); break;
      case 64: (a.ints ??= []).push(r.int64()); break;
      case 66: r.packedInt64Into(end, a.ints ??= [], false); break;
      case 74: (a.strings ??= []).push(r.bytes(end)); break;
      case 82: {
        const list = (a.tensors ??= []);
        list.push(decodeTensor(r, r.beginMessage(end, Msg.Tensor, list.length)));
        break;
      }
      case 90: {
        const list = (a.graphs ??= []);
        list.push(decodeGraph(r, r.beginMessage(end, Msg.Graph, list.length)));
        break;
      }
      case 106: a.docString = r.string(end); break;
      case 114: a.tp = decodeType(r, r.beginMessage(end, Msg.Type, -1)); break;
      case 122: {
        const list = (a.typeProtos ??= []);
        list.push(decodeType(r, r.beginMessage(end, Msg.Type, list.length)));
        break;
      }
      case 160: a.type = r.int32(); break;
      case 170: a.refAttrName = r.string(end); break;
      case 178: a.sparseTensor = decodeSparseTensor(r, r.beginMessage(end, Msg.SparseTensor, -1)); break;
      case 186: {
        const list = (a.sparseTensors ??= []);
        list.push(decodeSparseTensor(r, r.beginMessage(end, Msg.SparseTensor, list.length)));
        break;
      }
      default: addUnknown(r, tag, end, a);
    }
  }
  r.endMessage(end);
  return a;
}

// -------------------------------------------------------------------------------------------------
// TensorProto, SparseTensorProto

/** Reads one TensorProto / SparseTensorProto dimension: a non-negative safe integer. */
function readDim(r: ModelReader): number {
  const at = r.pos;
  const v = r.int64();
  if (typeof v !== 'number') {
    return r.fail(v < 0n ? `negative dimension ${v}` : `dimension ${v} is larger than 2^53 - 1`, at);
  }
  if (v < 0) return r.fail(`negative dimension ${v}`, at);
  return v;
}

function readPackedDims(r: ModelReader, end: number, dims: Int64[]): void {
  const len = r.length(end);
  const stop = r.pos + len;
  while (r.pos < stop) {
    r.setIndex(dims.length);
    dims.push(readDim(r));
  }
  if (r.pos !== stop) r.fail('the last varint of a packed field runs past its declared length', r.fieldStart);
}

/** Rejects dims whose element count cannot be a real tensor (more than 2^53 - 1 elements). */
function checkElementCount(r: ModelReader, dims: Int64[], dimsField: number, at: number): void {
  let count = 1;
  for (const d of dims) {
    if (d === 0) return;
    count *= d as number;
  }
  if (count > Number.MAX_SAFE_INTEGER) {
    const shown = dims.length <= 8 ? dims.join(', ') : `${dims.slice(0, 8).join(', ')}, … (${dims.length} dims)`;
    r.failField(dimsField, `dims [${shown}] describe more than 2^53 - 1 elements`, at);
  }
}

function decodeTensor(r: ModelReader, end: number): TensorProto {
  const start = r.pos;
  const t: TensorProto = { dims: [], dataType: 0, name: '', externalData: [], metadataProps: [] };
  // Accumulators for the rare case of a typed-array field arriving in several pieces or unpacked.
  let floats: number[] | undefined;
  let int32s: number[] | undefined;
  let doubles: number[] | undefined;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 8: r.setIndex(t.dims.length); t.dims.push(readDim(r)); break;
      case 10: readPackedDims(r, end, t.dims); break;
      case 16: t.dataType = r.int32(); break;
      case 26: t.segment = decodeSegment(r, r.beginMessage(end, Msg.TensorSegment, -1)); break;
      case 34: {
        const piece = r.packedFloat32(end);
        if (t.floatData === undefined && floats === undefined) t.floatData = piece;
        else {
          floats = spill(floats, t.floatData);
          t.floatData = undefined;
          for (let k = 0; k < piece.length; k++) floats.push(piece[k]);
        }
        break;
      }
      case 37: {
        floats = spill(floats, t.floatData);
        t.floatData = undefined;
        floats.push(r.float(end));
        break;
      }
      case 40: {
        int32s = spill(int32s, t.int32Data);
        t.int32Data = undefined;
        int32s.push(r.int32());
        break;
      }
      case 42: {
        const piece = r.packedInt32(end);
        if (t.int32Data === undefined && int32s === undefined) t.int32Data = piece;
        else {
          int32s = spill(int32s, t.int32Data);
          t.int32Data = undefined;
          for (let k = 0; k < piece.length; k++) int32s.push(piece[k]);
        }
        break;
      }
      case 50: (t.stringData ??= []).push(r.bytes(end)); break;
      case 56: (t.int64Data ??= []).push(r.int64()); break;
      case 58: r.packedInt64Into(end, t.int64Data ??= [], false); break;
      case 66: t.name = r.string(end); break;
      case 74: {
        const len = r.length(end);
        if (!r.inMemory && len >= r.lazyThreshold) {
          t.rawData = { kind: 'lazy', offset: r.pos, length: len };
          r.skip(len);
        } else {
          t.rawData = r.bytesOfLength(len);
        }
        break;
      }
      case 81: {
        doubles = spill(doubles, t.doubleData);
        t.doubleData = undefined;
        doubles.push(r.double(end));
        break;
      }
      case 82: {
        const piece = r.packedFloat64(end);
        if (t.doubleData === undefined && doubles === undefined) t.doubleData = piece;
        else {
          doubles = spill(doubles, t.doubleData);
          t.doubleData = undefined;
          for (let k = 0; k < piece.length; k++) doubles.push(piece[k]);
        }
        break;
      }
      case 88: (t.uint64Data ??= []).push(r.uint64()); break;
      case 90: r.packedInt64Into(end, t.uint64Data ??= [], true); break;
      case 98: t.docString = r.string(end); break;
      case 106: t.externalData.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, t.externalData.length))); break;
      case 112: t.dataLocation = r.int32(); break;
      case 130: t.metadataProps.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, t.metadataProps.length))); break;
      default: addUnknown(r, tag, end, t);
    }
  }
  if (floats !== undefined) t.floatData = Float32Array.from(floats);
  if (int32s !== undefined) t.int32Data = Int32Array.from(int32s);
  if (doubles !== undefined) t.doubleData = Float64Array.from(doubles);
  checkElementCount(r, t.dims, 1, start);
  r.endMessage(end);
  return t;
}

/** Moves a typed-array field's first piece into a plain accumulator. */
function spill(acc: number[] | undefined, first: ArrayLike<number> | undefined): number[] {
  if (acc !== undefined) return acc;
  return first === undefined ? [] : Array.from(first);
}

function decodeSegment(r: ModelReader, end: number): TensorSegmentProto {
  const s: TensorSegmentProto = { begin: 0, end: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 8: s.begin = r.int64(); break;
      case 16: s.end = r.int64(); break;
      default: addUnknown(r, tag, end, s);
    }
  }
  r.endMessage(end);
  return s;
}

function decodeSparseTensor(r: ModelReader, end: number): SparseTensorProto {
  const start = r.pos;
  const s: SparseTensorProto = { dims: [] };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: s.values = decodeTensor(r, r.beginMessage(end, Msg.Tensor, -1)); break;
      case 18: s.indices = decodeTensor(r, r.beginMessage(end, Msg.Tensor, -1)); break;
      case 24: r.setIndex(s.dims.length); s.dims.push(readDim(r)); break;
      case 26: readPackedDims(r, end, s.dims); break;
      default: addUnknown(r, tag, end, s);
    }
  }
  checkElementCount(r, s.dims, 3, start);
  r.endMessage(end);
  return s;
}

// -------------------------------------------------------------------------------------------------
// ValueInfoProto, TypeProto, TensorShapeProto

function decodeValueInfo(r: ModelReader, end: number): ValueInfoProto {
  const v: ValueInfoProto = { name: '', metadataProps: [] };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: v.name = r.string(end); break;
      case 18: v.type = decodeType(r, r.beginMessage(end, Msg.Type, -1)); break;
      case 26: v.docString = r.string(end); break;
      case 34: v.metadataProps.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, v.metadataProps.length))); break;
      default: addUnknown(r, tag, end, v);
    }
  }
  r.endMessage(end);
  return v;
}

function decodeType(r: ModelReader, end: number): TypeProto {
  const t: TypeProto = {};
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: t.tensorType = decodeTypeTensor(r, r.beginMessage(end, Msg.TypeTensor, -1)); break;
      case 34: t.sequenceType = decodeTypeSequence(r, r.beginMessage(end, Msg.TypeSequence, -1)); break;
      case 42: t.mapType = decodeTypeMap(r, r.beginMessage(end, Msg.TypeMap, -1)); break;
      case 50: t.denotation = r.string(end); break;
      case 66: t.sparseTensorType = decodeTypeSparseTensor(r, r.beginMessage(end, Msg.TypeSparseTensor, -1)); break;
      case 74: t.optionalType = decodeTypeOptional(r, r.beginMessage(end, Msg.TypeOptional, -1)); break;
      default: addUnknown(r, tag, end, t);
    }
  }
  r.endMessage(end);
  return t;
}

function decodeTypeTensor(r: ModelReader, end: number): TypeProtoTensor {
  const t: TypeProtoTensor = { elemType: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 8: t.elemType = r.int32(); break;
      case 18: t.shape = decodeShape(r, r.beginMessage(end, Msg.TensorShape, -1)); break;
      default: addUnknown(r, tag, end, t);
    }
  }
  r.endMessage(end);
  return t;
}

function decodeTypeSparseTensor(r: ModelReader, end: number): TypeProtoSparseTensor {
  const t: TypeProtoSparseTensor = { elemType: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 8: t.elemType = r.int32(); break;
      case 18: t.shape = decodeShape(r, r.beginMessage(end, Msg.TensorShape, -1)); break;
      default: addUnknown(r, tag, end, t);
    }
  }
  r.endMessage(end);
  return t;
}

function decodeTypeSequence(r: ModelReader, end: number): TypeProtoSequence {
  const t: TypeProtoSequence = {};
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) t.elemType = decodeType(r, r.beginMessage(end, Msg.Type, -1));
    else addUnknown(r, tag, end, t);
  }
  r.endMessage(end);
  return t;
}

function decodeTypeOptional(r: ModelReader, end: number): TypeProtoOptional {
  const t: TypeProtoOptional = {};
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) t.elemType = decodeType(r, r.beginMessage(end, Msg.Type, -1));
    else addUnknown(r, tag, end, t);
  }
  r.endMessage(end);
  return t;
}

function decodeTypeMap(r: ModelReader, end: number): TypeProtoMap {
  const t: TypeProtoMap = { keyType: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 8: t.keyType = r.int32(); break;
      case 18: t.valueType = decodeType(r, r.beginMessage(end, Msg.Type, -1)); break;
      default: addUnknown(r, tag, end, t);
    }
  }
  r.endMessage(end);
  return t;
}

function decodeShape(r: ModelReader, end: number): TensorShapeProto {
  const s: TensorShapeProto = { dim: [] };
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) s.dim.push(decodeDimension(r, r.beginMessage(end, Msg.Dimension, s.dim.length)));
    else addUnknown(r, tag, end, s);
  }
  r.endMessage(end);
  return s;
}

function decodeDimension(r: ModelReader, end: number): DimensionProto {
  const d: DimensionProto = {};
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      // Kept as written, even negative: some exporters write -1 for "unknown".
      case 8: d.dimValue = r.int64(); break;
      case 18: d.dimParam = r.string(end); break;
      case 26: d.denotation = r.string(end); break;
      default: addUnknown(r, tag, end, d);
    }
  }
  r.endMessage(end);
  return d;
}

// -------------------------------------------------------------------------------------------------
// Small messages

function decodeOpsetId(r: ModelReader, end: number): OperatorSetIdProto {
  const o: OperatorSetIdProto = { domain: '', version: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: o.domain = r.string(end); break;
      case 16: o.version = r.int64(); break;
      default: addUnknown(r, tag, end, o);
    }
  }
  r.endMessage(end);
  return o;
}

function decodeEntry(r: ModelReader, end: number): StringStringEntryProto {
  const e: StringStringEntryProto = { key: '', value: '' };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: e.key = r.string(end); break;
      case 18: e.value = r.string(end); break;
      default: addUnknown(r, tag, end, e);
    }
  }
  r.endMessage(end);
  return e;
}

function decodeTensorAnnotation(r: ModelReader, end: number): TensorAnnotationProto {
  const a: TensorAnnotationProto = { tensorName: '', quantParameterTensorNames: [] };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: a.tensorName = r.string(end); break;
      case 18: a.quantParameterTensorNames.push(decodeEntry(r, r.beginMessage(end, Msg.StringStringEntry, a.quantParameterTensorNames.length))); break;
      default: addUnknown(r, tag, end, a);
    }
  }
  r.endMessage(end);
  return a;
}
