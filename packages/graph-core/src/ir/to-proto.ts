/**
 * IR → ModelProto. Tensor bytes are passed through as views (no copy); lazy tensors are read from
 * their source, and external tensors stay external unless `inlineExternal` is set. A hook lets the
 * file writer move big tensors into an external-data file while the proto is built.
 */
import {
  AttributeType, DataLocation,
  type AttributeProto, type FunctionProto, type GraphProto, type ModelProto, type NodeProto, type SparseTensorProto,
  type StringStringEntryProto, type TensorProto, type TypeProto, type ValueInfoProto,
} from '../proto/onnx-types.ts';
import type { Attribute, SparseTensor } from './attribute.ts';
import { dtypeToOnnx } from './dtype.ts';
import type { Graph } from './graph.ts';
import type { Model, ModelFunction } from './model.ts';
import type { Node } from './node.ts';
import type { Tensor } from './tensor.ts';
import type { Value, ValueType } from './value.ts';

export interface ExternalPlacement {
  location: string;
  offset: number;
  length: number;
}

export interface ToProtoOptions {
  /**
   * Called for each initializer / tensor attribute; return a placement to store the tensor as external
   * data (the callback writes the bytes), or undefined to keep it inline.
   */
  externalize?: (tensor: Tensor) => ExternalPlacement | undefined;
  /** Read external tensors and store them inline. Default false (references are kept). */
  inlineExternal?: boolean;
  /** Write value_info for typed intermediate values. Default true. */
  valueInfo?: boolean;
}

const enc = new TextEncoder();

export function modelToProto(model: Model, options: ToProtoOptions = {}): ModelProto {
  const c = new Converter(options);
  return {
    irVersion: model.irVersion,
    opsetImport: [...model.opsetImports].map(([domain, version]) => ({ domain, version })),
    producerName: model.producerName || undefined,
    producerVersion: model.producerVersion || undefined,
    domain: model.domain,
    modelVersion: model.modelVersion,
    docString: model.docString,
    graph: c.graph(model.graph),
    metadataProps: entries(model.metadata),
    functions: [...model.functions.values()].map((f) => c.fn(f)),
    unknownFields: model.unknownFields,
  };
}

function entries(m: ReadonlyMap<string, string>): StringStringEntryProto[] {
  return [...m].map(([key, value]) => ({ key, value }));
}

class Converter {
  constructor(readonly options: ToProtoOptions) {}

  graph(g: Graph, isFunction = false): GraphProto {
    const nodes = g.nodes;
    const initializerValues = [...g.initializers.values()];
    // function inputs/outputs are bare names, so their types can only travel in value_info
    const declared = new Set<Value>(isFunction ? [] : [...g.inputs, ...g.outputs, ...initializerValues]);
    const valueInfo: ValueInfoProto[] = [];
    if (this.options.valueInfo !== false) {
      if (isFunction) for (const v of g.inputs) if (v.type) valueInfo.push(this.valueInfo(v));
      for (const n of nodes) for (const v of n.outputs) if (v && v.type && !declared.has(v)) valueInfo.push(this.valueInfo(v));
    }
    const extras = g.extras as { sparseInitializer?: SparseTensorProto[]; quantizationAnnotation?: GraphProto['quantizationAnnotation'] };
    return {
      node: nodes.map((n) => this.node(n)),
      name: g.name,
      initializer: initializerValues.map((v) => this.tensor(v.initializer as Tensor, v.name)),
      sparseInitializer: extras.sparseInitializer ?? [],
      docString: g.docString,
      input: g.inputs.map((v) => this.valueInfo(v)),
      output: g.outputs.map((v) => this.valueInfo(v)),
      valueInfo,
      quantizationAnnotation: extras.quantizationAnnotation ?? [],
      metadataProps: entries(g.metadata),
      unknownFields: g.unknownFields,
    };
  }

  node(n: Node): NodeProto {
    return {
      input: trimTrailingEmpty(n.inputs.map((v) => v?.name ?? '')),
      output: n.outputs.map((v) => v?.name ?? ''),
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      overload: n.overload,
      attribute: [...n.attributes].map(([name, a]) => this.attribute(name, a)),
      docString: n.docString,
      metadataProps: entries(n.metadata),
      unknownFields: n.unknownFields,
    };
  }

  attribute(name: string, a: Attribute): AttributeProto {
    const base = { name, docString: undefined };
    switch (a.type) {
      case 'float': return { ...base, type: AttributeType.FLOAT, f: a.value };
      case 'int': return { ...base, type: AttributeType.INT, i: a.value };
      case 'string': return { ...base, type: AttributeType.STRING, s: a.raw ?? enc.encode(a.value) };
      case 'tensor': return { ...base, type: AttributeType.TENSOR, t: this.tensor(a.value, a.value.name, false) };
      case 'graph': return { ...base, type: AttributeType.GRAPH, g: this.graph(a.value) };
      case 'sparse_tensor': return { ...base, type: AttributeType.SPARSE_TENSOR, sparseTensor: this.sparse(a.value) };
      case 'type_proto': return { ...base, type: AttributeType.TYPE_PROTO, tp: typeToProto(a.value) };
      case 'floats': return { ...base, type: AttributeType.FLOATS, floats: a.value.slice() };
      case 'ints': return { ...base, type: AttributeType.INTS, ints: a.value.slice() };
      case 'strings': return { ...base, type: AttributeType.STRINGS, strings: a.value.map((s) => enc.encode(s)) };
      case 'tensors': return { ...base, type: AttributeType.TENSORS, tensors: a.value.map((t) => this.tensor(t, t.name, false)) };
      case 'graphs': return { ...base, type: AttributeType.GRAPHS, graphs: a.value.map((g) => this.graph(g)) };
      case 'sparse_tensors': return { ...base, type: AttributeType.SPARSE_TENSORS, sparseTensors: a.value.map((s) => this.sparse(s)) };
      case 'type_protos': return { ...base, type: AttributeType.TYPE_PROTOS, typeProtos: a.value.map(typeToProto) };
      case 'ref': return { ...base, type: ATTR_CODES[a.refType], refAttrName: a.ref };
    }
  }

  sparse(s: SparseTensor): SparseTensorProto {
    return { values: this.tensor(s.values, s.values.name, false), indices: s.indices ? this.tensor(s.indices, s.indices.name, false) : undefined, dims: s.dims.slice() };
  }

  tensor(t: Tensor, name: string, mayExternalize = true): TensorProto {
    const tp: TensorProto = {
      dims: t.dims.slice(),
      dataType: dtypeToOnnx(t.dtype),
      name,
      docString: t.docString,
      externalData: [],
      metadataProps: entries(t.metadata),
    };
    const s = t.storage;
    if (s.kind === 'strings') {
      tp.stringData = s.values.slice();
      return tp;
    }
    if (mayExternalize && this.options.externalize) {
      const placement = this.options.externalize(t);
      if (placement) {
        tp.dataLocation = DataLocation.EXTERNAL;
        tp.externalData = [
          { key: 'location', value: placement.location },
          { key: 'offset', value: String(placement.offset) },
          { key: 'length', value: String(placement.length) },
        ];
        return tp;
      }
    }
    if (s.kind === 'external' && !this.options.inlineExternal) {
      tp.dataLocation = DataLocation.EXTERNAL;
      tp.externalData = [{ key: 'location', value: s.location }];
      if (s.offset) tp.externalData.push({ key: 'offset', value: String(s.offset) });
      if (s.length !== null) tp.externalData.push({ key: 'length', value: String(s.length) });
      if (s.checksum) tp.externalData.push({ key: 'checksum', value: s.checksum });
      for (const [key, value] of s.extra ?? []) tp.externalData.push({ key, value });
      return tp;
    }
    tp.rawData = t.bytes();
    return tp;
  }

  valueInfo(v: Value): ValueInfoProto {
    return { name: v.name, type: v.type ? typeToProto(v.type) : undefined, docString: v.docString, metadataProps: entries(v.metadata), unknownFields: v.unknownFields };
  }

  fn(f: ModelFunction): FunctionProto {
    const body = f.body;
    const g = this.graph(body, true);
    return {
      name: f.name,
      input: body.inputs.map((v) => v.name),
      output: body.outputs.map((v) => v.name),
      attribute: f.attributes.slice(),
      attributeProto: [...f.attributeDefaults].map(([name, a]) => this.attribute(name, a)),
      node: g.node,
      docString: f.docString,
      opsetImport: [...f.opsetImports].map(([domain, version]) => ({ domain, version })),
      domain: f.domain,
      overload: f.overload,
      valueInfo: g.valueInfo,
      metadataProps: entries(f.metadata),
      unknownFields: f.unknownFields,
    };
  }
}

const ATTR_CODES: Record<Exclude<Attribute['type'], 'ref'>, AttributeType> = {
  float: AttributeType.FLOAT, int: AttributeType.INT, string: AttributeType.STRING, tensor: AttributeType.TENSOR,
  graph: AttributeType.GRAPH, sparse_tensor: AttributeType.SPARSE_TENSOR, type_proto: AttributeType.TYPE_PROTO,
  floats: AttributeType.FLOATS, ints: AttributeType.INTS, strings: AttributeType.STRINGS, tensors: AttributeType.TENSORS,
  graphs: AttributeType.GRAPHS, sparse_tensors: AttributeType.SPARSE_TENSORS, type_protos: AttributeType.TYPE_PROTOS,
};

function trimTrailingEmpty(names: string[]): string[] {
  let n = names.length;
  while (n > 0 && names[n - 1] === '') n--;
  return n === names.length ? names : names.slice(0, n);
}

export function typeToProto(t: ValueType | null): TypeProto {
  if (!t) return {};
  const shape = (s: ValueType & { shape: unknown }) =>
    s.shape === null ? undefined : { dim: (s.shape as ReadonlyArray<number | string | null>).map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})) };
  const elem = (d: string | null) => {
    if (d === null) return 0;
    return dtypeToOnnx(d as Parameters<typeof dtypeToOnnx>[0]);
  };
  switch (t.kind) {
    case 'tensor': return { tensorType: { elemType: elem(t.dtype), shape: shape(t) } };
    case 'sparse': return { sparseTensorType: { elemType: elem(t.dtype), shape: shape(t) } };
    case 'sequence': return { sequenceType: { elemType: t.elem ? typeToProto(t.elem) : undefined } };
    case 'optional': return { optionalType: { elemType: t.elem ? typeToProto(t.elem) : undefined } };
    case 'map': return { mapType: { keyType: elem(t.key), valueType: t.value ? typeToProto(t.value) : undefined } };
  }
}

