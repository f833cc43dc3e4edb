/**
 * ModelProto → IR. Resolves names to values through nested scopes (subgraphs see outer values),
 * checks SSA (one producer per name), tensor sizes and external-data paths, and keeps raw bytes as
 * zero-copy views or lazy references.
 */
import { OnnxModelError } from '../errors.ts';
import type { RandomAccessSource } from '../io/byte-source.ts';
import {
  AttributeType, DataLocation, DataType,
  type AttributeProto, type FunctionProto, type GraphProto, type Int64, type ModelProto, type NodeProto,
  type SparseTensorProto, type TensorProto, type TypeProto, type ValueInfoProto,
} from '../proto/onnx-types.ts';
import type { Attribute, SparseTensor } from './attribute.ts';
import { dtypeBits, dtypeFromOnnx, type DType } from './dtype.ts';
import { Graph } from './graph.ts';
import { functionKey, Model, type ModelFunction } from './model.ts';
import { Node } from './node.ts';
import type { Dim } from './shape.ts';
import { checkExternalLocation, Tensor, type ExternalDataResolver, type TensorStorage } from './tensor.ts';
import { Value, type ValueType } from './value.ts';

export interface FromProtoOptions {
  /** Name used in error messages. */
  file?: string;
  /** Source that LazyBytes offsets refer to (the streamed model file). */
  source?: RandomAccessSource;
  /** Opens external-data files; without it, external tensors can be inspected but not read. */
  externalData?: ExternalDataResolver;
}

const utf8 = new TextDecoder();

class Scope {
  readonly values = new Map<string, Value>();
  constructor(readonly parent: Scope | null) {}
  lookup(name: string): Value | undefined {
    return this.values.get(name) ?? this.parent?.lookup(name);
  }
}

export function modelFromProto(p: ModelProto, options: FromProtoOptions = {}): Model {
  const ctx = new Ctx(options);
  const opsets: Array<[string, number]> = p.opsetImport.map((o) => [o.domain === 'ai.onnx' ? '' : o.domain, toInt(o.version, 'opset_import.version')]);
  if (!p.graph) throw new OnnxModelError(ctx.file, 'ModelProto has no graph');
  const graph = ctx.graph(p.graph, null, 'graph');
  const model = new Model({ graph, irVersion: toInt(p.irVersion, 'ir_version'), opsetImports: opsets, producerName: p.producerName ?? '', producerVersion: p.producerVersion ?? '' });
  model.domain = p.domain;
  model.modelVersion = p.modelVersion;
  model.docString = p.docString;
  model.metadata = new Map(p.metadataProps.map((e) => [e.key, e.value]));
  model.unknownFields = p.unknownFields;
  for (const f of p.functions) {
    const fn = ctx.fn(f);
    const key = functionKey(fn.domain, fn.name, fn.overload);
    if (model.functions.has(key)) throw new OnnxModelError(ctx.file, `duplicate local function '${key}'`);
    model.functions.set(key, fn);
  }
  return model;
}

function toInt(v: Int64, field: string): number {
  if (typeof v === 'bigint') throw new OnnxModelError(field, `value ${v} is out of range`);
  return v;
}

class Ctx {
  readonly file: string;
  constructor(readonly options: FromProtoOptions) {
    this.file = options.file ?? '<model>';
  }

  graph(gp: GraphProto, parent: Scope | null, where: string, parentGraph: Graph | null = null, isFunction = false): Graph {
    const g = new Graph(gp.name);
    g.parent = parentGraph;
    g.docString = gp.docString;
    g.metadata = new Map(gp.metadataProps.map((e) => [e.key, e.value]));
    g.unknownFields = gp.unknownFields;
    if (gp.sparseInitializer.length) g.extras.sparseInitializer = gp.sparseInitializer;
    if (gp.quantizationAnnotation.length) g.extras.quantizationAnnotation = gp.quantizationAnnotation;
    const scope = new Scope(parent);
    const gwhere = `${this.file}: graph '${gp.name || where}'`;
    const define = (v: Value, what: string): void => {
      if (scope.values.has(v.name)) throw new OnnxModelError(gwhere, `'${v.name}' is defined twice (${what}); ONNX graphs are single-assignment`);
      scope.values.set(v.name, v);
    };

    gp.initializer.forEach((tp, i) => {
      const t = this.tensor(tp, `${where}.initializer[${i}] '${tp.name}'`);
      if (!tp.name) throw new OnnxModelError(gwhere, `initializer[${i}] has no name`);
      if (scope.values.has(tp.name)) throw new OnnxModelError(gwhere, `initializer '${tp.name}' is defined twice`);
      const v = g.addInitializer(t, tp.name);
      scope.values.set(v.name, v);
    });
    for (const vi of gp.input) {
      const init = scope.values.get(vi.name);
      if (init && init.initializer) {
        // legacy form: an initializer also listed as a graph input (an overridable default)
        applyValueInfo(init, vi, this);
        g.addInput(init);
        continue;
      }
      const v = new Value(vi.name);
      applyValueInfo(v, vi, this);
      if (!isFunction && !vi.name) throw new OnnxModelError(gwhere, 'a graph input has no name');
      define(v, 'graph input');
      g.addInput(v);
    }
    // Outputs of all nodes first: files are not always topologically sorted.
    const nodeOutputs: Array<Array<Value | null>> = gp.node.map((np) =>
      np.output.map((name) => {
        if (!name) return null;
        const v = new Value(name);
        define(v, `output of node '${np.name}' (${np.opType})`);
        return v;
      }),
    );
    gp.node.forEach((np, i) => {
      const nwhere = `${where}.node[${i}]`;
      const node = this.node(np, scope, nodeOutputs[i], nwhere, g);
      g.addNode(node);
    });
    for (const vi of gp.valueInfo) {
      const v = scope.values.get(vi.name);
      if (v) applyValueInfo(v, vi, this);
    }
    for (const vi of gp.output) {
      const v = scope.lookup(vi.name);
      if (!v) throw new OnnxModelError(gwhere, `graph output '${vi.name}' is not produced by any node, input or initializer`);
      applyValueInfo(v, vi, this, true);
      g.addOutput(v);
    }
    g.topologicalSort(); // throws on cycles, naming them
    return g;
  }

  node(np: NodeProto, scope: Scope, outputs: Array<Value | null>, where: string, g: Graph): Node {
    const attributes = new Map<string, Attribute>();
    np.attribute.forEach((ap, i) => {
      if (attributes.has(ap.name)) throw new OnnxModelError(`${this.file}: node '${np.name}' (${np.opType})`, `attribute '${ap.name}' appears twice`);
      attributes.set(ap.name, this.attribute(ap, scope, `${where}.attribute[${i}]`, g));
    });
    const inputs = np.input.map((name) => {
      if (!name) return null;
      const v = scope.lookup(name);
      if (!v) throw new OnnxModelError(`${this.file}: node '${np.name}' (${np.opType})`, `input '${name}' is not produced by any node, graph input or initializer`);
      return v;
    });
    const node = new Node({ opType: np.opType, domain: np.domain === 'ai.onnx' ? '' : np.domain, name: np.name, overload: np.overload, docString: np.docString, attributes, inputs, outputs });
    node.metadata = new Map(np.metadataProps.map((e) => [e.key, e.value]));
    node.unknownFields = np.unknownFields;
    return node;
  }

  attribute(ap: AttributeProto, scope: Scope, where: string, g: Graph): Attribute {
    const type = ap.type !== AttributeType.UNDEFINED ? ap.type : inferAttributeType(ap);
    if (ap.refAttrName) return { type: 'ref', ref: ap.refAttrName, refType: ATTR_NAMES[type] ?? 'int' } as Attribute;
    const sub = (gp: GraphProto, k: number | null): Graph => this.graph(gp, scope, `${where}.${k === null ? 'g' : `graphs[${k}]`}`, g);
    switch (type) {
      case AttributeType.FLOAT: return { type: 'float', value: ap.f ?? 0 };
      case AttributeType.INT: return { type: 'int', value: ap.i ?? 0 };
      case AttributeType.STRING: return { type: 'string', value: utf8.decode(ap.s ?? new Uint8Array()), raw: ap.s };
      case AttributeType.TENSOR: return { type: 'tensor', value: this.tensor(req(ap.t, where, 't'), `${where}.t`) };
      case AttributeType.GRAPH: return { type: 'graph', value: sub(req(ap.g, where, 'g'), null) };
      case AttributeType.SPARSE_TENSOR: return { type: 'sparse_tensor', value: this.sparse(req(ap.sparseTensor, where, 'sparse_tensor'), `${where}.sparse_tensor`) };
      case AttributeType.TYPE_PROTO: return { type: 'type_proto', value: this.type(req(ap.tp, where, 'tp')) };
      case AttributeType.FLOATS: return { type: 'floats', value: ap.floats ?? [] };
      case AttributeType.INTS: return { type: 'ints', value: ap.ints ?? [] };
      case AttributeType.STRINGS: return { type: 'strings', value: (ap.strings ?? []).map((s) => utf8.decode(s)) };
      case AttributeType.TENSORS: return { type: 'tensors', value: (ap.tensors ?? []).map((t, k) => this.tensor(t, `${where}.tensors[${k}]`)) };
      case AttributeType.GRAPHS: return { type: 'graphs', value: (ap.graphs ?? []).map((gp, k) => sub(gp, k)) };
      case AttributeType.SPARSE_TENSORS: return { type: 'sparse_tensors', value: (ap.sparseTensors ?? []).map((s, k) => this.sparse(s, `${where}.sparse_tensors[${k}]`)) };
      case AttributeType.TYPE_PROTOS: return { type: 'type_protos', value: (ap.typeProtos ?? []).map((t) => this.type(t)) };
      default: throw new OnnxModelError(`${this.file}: ${where}`, `attribute '${ap.name}' has unknown type ${type}`);
    }
  }

  sparse(sp: SparseTensorProto, where: string): SparseTensor {
    return {
      values: this.tensor(req(sp.values, where, 'values'), `${where}.values`),
      indices: sp.indices ? this.tensor(sp.indices, `${where}.indices`) : null,
      dims: sp.dims.map((d) => dimToNumber(d, `${this.file}: ${where}.dims`)),
    };
  }

  tensor(tp: TensorProto, where: string): Tensor {
    const loc = `${this.file}: ${where}`;
    const dtype = dtypeFromOnnx(tp.dataType);
    if (!dtype) throw new OnnxModelError(loc, `unsupported or undefined data_type ${tp.dataType}`);
    const dims = tp.dims.map((d) => dimToNumber(d, loc));
    const t = new Tensor({ name: tp.name, dtype, dims, storage: this.storage(tp, dtype, dims, loc), docString: tp.docString, metadata: new Map(tp.metadataProps.map((e) => [e.key, e.value])) });
    t.validate(loc);
    return t;
  }

  storage(tp: TensorProto, dtype: DType, dims: number[], loc: string): TensorStorage {
    if (tp.dataLocation === DataLocation.EXTERNAL) {
      let location = '';
      let offset = 0;
      let length: number | null = null;
      let checksum: string | undefined;
      const extra: Array<[string, string]> = [];
      for (const { key, value } of tp.externalData) {
        if (key === 'location') location = value;
        else if (key === 'offset') offset = parseExtInt(value, key, loc);
        else if (key === 'length') length = parseExtInt(value, key, loc);
        else if (key === 'checksum') checksum = value;
        else extra.push([key, value]);
      }
      checkExternalLocation(location, tp.name);
      return { kind: 'external', location, offset, length, checksum, extra: extra.length ? extra : undefined, resolver: this.options.externalData };
    }
    if (dtype === 'string') return { kind: 'strings', values: tp.stringData ?? [] };
    const raw = tp.rawData;
    if (raw) {
      if (raw instanceof Uint8Array) return { kind: 'raw', bytes: raw };
      if (!this.options.source) throw new OnnxModelError(loc, 'lazy raw_data without a source');
      return { kind: 'lazy', source: this.options.source, offset: raw.offset, length: raw.length };
    }
    return { kind: 'raw', bytes: typedFieldsToRaw(tp, dtype, dims.reduce((a, b) => a * b, 1), loc) };
  }

  type(tp: TypeProto): ValueType | null {
    return typeFromProto(tp, this);
  }

  fn(f: FunctionProto): ModelFunction {
    const where = `function '${f.domain}::${f.name}'`;
    const gp: GraphProto = {
      name: f.name,
      node: f.node,
      initializer: [],
      sparseInitializer: [],
      input: f.input.map((name) => ({ name, metadataProps: [] })),
      output: f.output.map((name) => ({ name, metadataProps: [] })),
      valueInfo: f.valueInfo,
      quantizationAnnotation: [],
      metadataProps: [],
    };
    const body = this.graph(gp, null, where, null, true);
    const attributeDefaults = new Map<string, Attribute>();
    for (const ap of f.attributeProto) attributeDefaults.set(ap.name, this.attribute(ap, new Scope(null), `${where}.attribute_proto`, body));
    return {
      domain: f.domain,
      name: f.name,
      overload: f.overload,
      attributes: f.attribute.slice(),
      attributeDefaults,
      opsetImports: new Map(f.opsetImport.map((o) => [o.domain === 'ai.onnx' ? '' : o.domain, toInt(o.version, `${where}.opset_import`)])),
      body,
      docString: f.docString,
      metadata: new Map(f.metadataProps.map((e) => [e.key, e.value])),
      unknownFields: f.unknownFields,
    };
  }
}

const ATTR_NAMES: Record<number, Exclude<Attribute['type'], 'ref'>> = {
  [AttributeType.FLOAT]: 'float', [AttributeType.INT]: 'int', [AttributeType.STRING]: 'string', [AttributeType.TENSOR]: 'tensor',
  [AttributeType.GRAPH]: 'graph', [AttributeType.SPARSE_TENSOR]: 'sparse_tensor', [AttributeType.TYPE_PROTO]: 'type_proto',
  [AttributeType.FLOATS]: 'floats', [AttributeType.INTS]: 'ints', [AttributeType.STRINGS]: 'strings', [AttributeType.TENSORS]: 'tensors',
  [AttributeType.GRAPHS]: 'graphs', [AttributeType.SPARSE_TENSORS]: 'sparse_tensors', [AttributeType.TYPE_PROTOS]: 'type_protos',
};

/** Very old exporters leave `type` unset; infer it from the field that carries a value. */
function inferAttributeType(ap: AttributeProto): AttributeType {
  if (ap.floats?.length) return AttributeType.FLOATS;
  if (ap.ints?.length) return AttributeType.INTS;
  if (ap.strings?.length) return AttributeType.STRINGS;
  if (ap.tensors?.length) return AttributeType.TENSORS;
  if (ap.graphs?.length) return AttributeType.GRAPHS;
  if (ap.t) return AttributeType.TENSOR;
  if (ap.g) return AttributeType.GRAPH;
  if (ap.s) return AttributeType.STRING;
  if (ap.f !== undefined) return AttributeType.FLOAT;
  if (ap.i !== undefined) return AttributeType.INT;
  return AttributeType.UNDEFINED;
}

function req<T>(x: T | undefined, where: string, field: string): T {
  if (x === undefined) throw new OnnxModelError(where, `attribute field '${field}' is missing for its declared type`);
  return x;
}

function dimToNumber(d: Int64, loc: string): number {
  if (typeof d === 'bigint' || !Number.isSafeInteger(d) || d < 0) throw new OnnxModelError(loc, `invalid tensor dimension ${d}`);
  return d;
}

function parseExtInt(s: string, key: string, loc: string): number {
  if (!/^\d+$/.test(s)) throw new OnnxModelError(loc, `external_data ${key} '${s}' is not a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new OnnxModelError(loc, `external_data ${key} ${s} is too large`);
  return n;
}

export function typeFromProto(tp: TypeProto, ctx: { file: string }): ValueType | null {
  const shape = (s: TypeProto['tensorType']): Dim[] | null =>
    s?.shape ? s.shape.dim.map((d) => (d.dimValue !== undefined ? Number(d.dimValue) : d.dimParam ? d.dimParam : null)) : null;
  if (tp.tensorType) return { kind: 'tensor', dtype: dtypeFromOnnx(tp.tensorType.elemType) ?? null, shape: shape(tp.tensorType) };
  if (tp.sparseTensorType) return { kind: 'sparse', dtype: dtypeFromOnnx(tp.sparseTensorType.elemType) ?? null, shape: shape(tp.sparseTensorType) };
  if (tp.sequenceType) return { kind: 'sequence', elem: tp.sequenceType.elemType ? typeFromProto(tp.sequenceType.elemType, ctx) : null };
  if (tp.optionalType) return { kind: 'optional', elem: tp.optionalType.elemType ? typeFromProto(tp.optionalType.elemType, ctx) : null };
  if (tp.mapType) return { kind: 'map', key: dtypeFromOnnx(tp.mapType.keyType) ?? null, value: tp.mapType.valueType ? typeFromProto(tp.mapType.valueType, ctx) : null };
  return null;
}

function applyValueInfo(v: Value, vi: ValueInfoProto, ctx: { file: string }, keepExisting = false): void {
  if (vi.type) {
    const t = typeFromProto(vi.type, ctx);
    if (t && !(keepExisting && v.type && !t)) v.type = t;
  }
  if (vi.docString) v.docString = vi.docString;
  for (const e of vi.metadataProps) v.metadata.set(e.key, e.value);
  if (vi.unknownFields) v.unknownFields = vi.unknownFields;
}

/** Converts the legacy typed fields (float_data, int32_data...) to packed little-endian raw bytes. */
function typedFieldsToRaw(tp: TensorProto, dtype: DType, count: number, loc: string): Uint8Array {
  const bits = dtypeBits(dtype);
  const asBytes = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
  switch (dtype) {
    case 'float32': case 'complex64':
      return asBytes(tp.floatData ?? new Float32Array());
    case 'float64': case 'complex128':
      return asBytes(tp.doubleData ?? new Float64Array());
    case 'int32':
      return asBytes(tp.int32Data ?? new Int32Array());
    case 'int64':
      return asBytes(BigInt64Array.from((tp.int64Data ?? []).map((x) => BigInt(x))));
    case 'uint32': {
      const src = tp.uint64Data ?? [];
      return asBytes(Uint32Array.from(src.map((x) => Number(x))));
    }
    case 'uint64':
      return asBytes(BigUint64Array.from((tp.uint64Data ?? []).map((x) => BigInt.asUintN(64, BigInt(x)))));
    default: {
      // int8/uint8/int16/uint16/bool/float16/bfloat16/float8/4-bit/2-bit: one storage unit per int32_data entry
      const src = tp.int32Data ?? new Int32Array();
      if (bits === 16) return asBytes(Uint16Array.from(src, (x) => x & 0xffff));
      if (bits === 8 || bits < 8) {
        const units = bits < 8 ? Math.ceil((count * bits) / 8) : src.length;
        if (bits < 8 && src.length !== units && src.length !== 0) {
          throw new OnnxModelError(loc, `int32_data has ${src.length} entries but ${count} ${dtype} elements pack into ${units} bytes`);
        }
        return Uint8Array.from(src, (x) => x & 0xff);
      }
      throw new OnnxModelError(loc, `cannot read ${dtype} from typed fields (data_type ${DataType[tp.dataType]})`);
    }
  }
}
