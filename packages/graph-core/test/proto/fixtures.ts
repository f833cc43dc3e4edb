/**
 * ModelProtos built in code for the proto tests, plus a tiny protobuf byte builder for hand-made
 * (often malformed) inputs. Int64 values are in canonical form (number when safe, else bigint), the
 * form the decoder returns, so decode(encode(x)) deep-equals x.
 */
import type { RandomAccessSource } from '../../src/io/byte-source.ts';
import type { EncodedModel } from '../../src/proto/index.ts';
import {
  AttributeType,
  DataLocation,
  DataType,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
  type TypeProto,
  type ValueInfoProto,
} from '../../src/proto/onnx-types.ts';

export const INT64_MIN = -(1n << 63n);
export const INT64_MAX = (1n << 63n) - 1n;
export const UINT64_MAX = (1n << 64n) - 1n;
export const TWO_53_PLUS_1 = (1n << 53n) + 1n;

const enc = new TextEncoder();
export const utf8 = (s: string): Uint8Array => enc.encode(s);

/** Deterministic bytes (xorshift) for raw_data. */
export function pseudoBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

// -------------------------------------------------------------------------------------------------
// Protobuf byte builder (for hand-made inputs)

/** Varint bytes of a non-negative number or any bigint (two's complement for negatives). */
export function varint(v: number | bigint): number[] {
  let u = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  while (u > 0x7fn) {
    out.push(Number(u & 0x7fn) | 0x80);
    u >>= 7n;
  }
  out.push(Number(u));
  return out;
}

export function tag(field: number, wire: number): number[] {
  return varint(field * 8 + wire);
}

/** A length-delimited field. */
export function ld(field: number, payload: ArrayLike<number>): number[] {
  return [...tag(field, 2), ...varint(payload.length), ...Array.from(payload)];
}

export function vf(field: number, v: number | bigint): number[] {
  return [...tag(field, 0), ...varint(v)];
}

export function str(field: number, s: string): number[] {
  return ld(field, utf8(s));
}

export function bytesOf(...parts: number[][]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

// -------------------------------------------------------------------------------------------------
// Types and value infos

export function tensorType(elemType: DataType, dims?: (number | string)[]): TypeProto {
  if (dims === undefined) return { tensorType: { elemType } };
  return {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
    },
  };
}

export function valueInfo(name: string, type?: TypeProto): ValueInfoProto {
  return type === undefined ? { name, metadataProps: [] } : { name, type, metadataProps: [] };
}

export function node(opType: string, input: string[], output: string[], extra: Partial<NodeProto> = {}): NodeProto {
  return { input, output, name: extra.name ?? `${opType}_${output[0] ?? ''}`, opType, domain: '', attribute: [], metadataProps: [], ...extra };
}

export function tensor(name: string, dataType: DataType, dims: (number | bigint)[], extra: Partial<TensorProto> = {}): TensorProto {
  return { dims, dataType, name, externalData: [], metadataProps: [], ...extra };
}

export function graph(name: string, extra: Partial<GraphProto> = {}): GraphProto {
  return {
    node: [], name, initializer: [], sparseInitializer: [], input: [], output: [], valueInfo: [],
    quantizationAnnotation: [], metadataProps: [], ...extra,
  };
}

export function model(g: GraphProto | undefined, extra: Partial<ModelProto> = {}): ModelProto {
  const m: ModelProto = { irVersion: 10, opsetImport: [{ domain: '', version: 21 }], metadataProps: [], functions: [], ...extra };
  if (g !== undefined) m.graph = g;
  return m;
}

// -------------------------------------------------------------------------------------------------
// A model that exercises every field of onnx-types.ts

/** A small graph for GRAPH / GRAPHS attributes. */
function branch(name: string, depthLeft = 1): GraphProto {
  const g = graph(name, {
    node: [node('Identity', ['x'], [`${name}_out`])],
    output: [valueInfo(`${name}_out`, tensorType(DataType.FLOAT, [2]))],
  });
  if (depthLeft > 0) {
    g.node.push(
      node('If', ['cond'], [`${name}_if`], {
        attribute: [
          { name: 'then_branch', type: AttributeType.GRAPH, g: branch(`${name}_then`, depthLeft - 1) },
          { name: 'else_branch', type: AttributeType.GRAPH, g: branch(`${name}_else`, depthLeft - 1) },
        ],
      }),
    );
  }
  return g;
}

function allDtypeInitializers(): TensorProto[] {
  const ts: TensorProto[] = [];
  // Raw-data tensors of every dtype, including the sub-byte and 8-bit float ones.
  const rawSpecs: [DataType, number][] = [
    [DataType.FLOAT, 4], [DataType.UINT8, 1], [DataType.INT8, 1], [DataType.UINT16, 2], [DataType.INT16, 2],
    [DataType.INT32, 4], [DataType.INT64, 8], [DataType.BOOL, 1], [DataType.FLOAT16, 2], [DataType.DOUBLE, 8],
    [DataType.UINT32, 4], [DataType.UINT64, 8], [DataType.COMPLEX64, 8], [DataType.COMPLEX128, 16],
    [DataType.BFLOAT16, 2], [DataType.FLOAT8E4M3FN, 1], [DataType.FLOAT8E4M3FNUZ, 1], [DataType.FLOAT8E5M2, 1],
    [DataType.FLOAT8E5M2FNUZ, 1], [DataType.FLOAT8E8M0, 1],
  ];
  rawSpecs.forEach(([dt, size], i) => {
    ts.push(tensor(`raw_${DataType[dt]}`, dt, [2, 3], { rawData: pseudoBytes(6 * size, i + 7) }));
  });
  // Sub-byte types: 7 elements in ceil(7 * bits / 8) bytes.
  ts.push(tensor('raw_INT4', DataType.INT4, [7], { rawData: Uint8Array.from([0x12, 0x34, 0x56, 0xf7]) }));
  ts.push(tensor('raw_UINT4', DataType.UINT4, [7], { rawData: Uint8Array.from([0x21, 0x43, 0x65, 0x07]) }));
  ts.push(tensor('raw_FLOAT4E2M1', DataType.FLOAT4E2M1, [7], { rawData: Uint8Array.from([0x9a, 0xbc, 0xde, 0x0f]) }));
  ts.push(tensor('raw_INT2', DataType.INT2, [7], { rawData: Uint8Array.from([0b11100100, 0b00111001]) }));
  ts.push(tensor('raw_UINT2', DataType.UINT2, [7], { rawData: Uint8Array.from([0b00011011, 0b00101101]) }));
  // A big raw tensor (zero-copy chunk on encode).
  ts.push(tensor('big_weight', DataType.FLOAT, [64, 64], { rawData: pseudoBytes(64 * 64 * 4, 99) }));
  // Typed data fields.
  ts.push(tensor('float_data', DataType.FLOAT, [4], { floatData: Float32Array.from([1.5, -2.25, Number.NaN, Infinity]) }));
  ts.push(tensor('complex_data', DataType.COMPLEX64, [2], { floatData: Float32Array.from([1, 2, 3, 4]) }));
  ts.push(tensor('int32_data', DataType.INT32, [5], { int32Data: Int32Array.from([0, 1, -1, 2147483647, -2147483648]) }));
  ts.push(tensor('fp16_in_int32', DataType.FLOAT16, [3], { int32Data: Int32Array.from([0x3c00, 0xbc00, 0x7e00]) }));
  ts.push(
    tensor('int64_data', DataType.INT64, [8], {
      int64Data: [0, 1, -1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, TWO_53_PLUS_1, INT64_MIN, INT64_MAX],
    }),
  );
  ts.push(tensor('uint64_data', DataType.UINT64, [4], { uint64Data: [0, 1, TWO_53_PLUS_1, UINT64_MAX] }));
  ts.push(tensor('double_data', DataType.DOUBLE, [3], { doubleData: Float64Array.from([Math.PI, -1e300, 5e-324]) }));
  ts.push(tensor('string_data', DataType.STRING, [3], { stringData: [utf8('hello'), utf8('wörld ✓'), new Uint8Array(0)] }));
  ts.push(tensor('scalar', DataType.FLOAT, [], { rawData: Uint8Array.from([0, 0, 128, 63]) }));
  ts.push(tensor('empty', DataType.FLOAT, [0, 3], { rawData: new Uint8Array(0) }));
  ts.push(
    tensor('external', DataType.FLOAT, [1024], {
      dataLocation: DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: 'weights.bin' },
        { key: 'offset', value: '4096' },
        { key: 'length', value: '4096' },
      ],
    }),
  );
  ts.push(
    tensor('segmented', DataType.FLOAT, [2], {
      segment: { begin: 3, end: INT64_MAX },
      rawData: pseudoBytes(8, 3),
      docString: 'a segment of a larger tensor',
      dataLocation: DataLocation.DEFAULT,
      metadataProps: [{ key: 'quant', value: 'none' }],
      unknownFields: [bytesOf(vf(77, 5))],
    }),
  );
  ts.push(tensor('huge_dims', DataType.FLOAT, [Number.MAX_SAFE_INTEGER, 0]));
  return ts;
}

function allAttributes(): AttributeProto[] {
  const small = tensor('attr_t', DataType.INT64, [2], { int64Data: [-1, INT64_MAX] });
  const sparse = {
    values: tensor('sv', DataType.FLOAT, [2], { floatData: Float32Array.from([1, 2]) }),
    indices: tensor('si', DataType.INT64, [2], { int64Data: [0, 5] }),
    dims: [2, 3],
  };
  return [
    { name: 'alpha', type: AttributeType.FLOAT, f: 0.25, docString: 'a float' },
    { name: 'neg_zero', type: AttributeType.FLOAT, f: -0.5 },
    { name: 'axis', type: AttributeType.INT, i: -1 },
    { name: 'int_min', type: AttributeType.INT, i: INT64_MIN },
    { name: 'int_max', type: AttributeType.INT, i: INT64_MAX },
    { name: 'beyond_safe', type: AttributeType.INT, i: TWO_53_PLUS_1 },
    { name: 'mode', type: AttributeType.STRING, s: utf8('constant') },
    { name: 'binary', type: AttributeType.STRING, s: Uint8Array.from([0, 255, 128, 10]) },
    { name: 'value', type: AttributeType.TENSOR, t: small },
    { name: 'body', type: AttributeType.GRAPH, g: branch('body', 2) },
    { name: 'scales', type: AttributeType.FLOATS, floats: [1, 0.5, -2, 3.25] },
    { name: 'no_floats', type: AttributeType.FLOATS },
    { name: 'ends', type: AttributeType.INTS, ints: [0, -1, INT64_MAX, INT64_MIN, TWO_53_PLUS_1, 2 ** 40] },
    { name: 'no_ints', type: AttributeType.INTS },
    { name: 'names', type: AttributeType.STRINGS, strings: [utf8('a'), utf8('ü'), new Uint8Array(0)] },
    { name: 'ts', type: AttributeType.TENSORS, tensors: [small, tensor('t2', DataType.FLOAT, [1], { floatData: Float32Array.from([7]) })] },
    { name: 'gs', type: AttributeType.GRAPHS, graphs: [branch('g0', 0), branch('g1', 1)] },
    { name: 'sparse', type: AttributeType.SPARSE_TENSOR, sparseTensor: sparse },
    { name: 'sparses', type: AttributeType.SPARSE_TENSORS, sparseTensors: [sparse, { dims: [4], values: sparse.values }] },
    { name: 'tp', type: AttributeType.TYPE_PROTO, tp: tensorType(DataType.BFLOAT16, [1, 'n']) },
    { name: 'tps', type: AttributeType.TYPE_PROTOS, typeProtos: [tensorType(DataType.INT4), { sequenceType: { elemType: tensorType(DataType.FLOAT) } }] },
    { name: 'unknown_kind', type: AttributeType.INT, i: 3, unknownFields: [bytesOf(vf(30, 1)), bytesOf(ld(31, [1, 2, 3]))] },
  ];
}

function allTypes(): ValueInfoProto[] {
  return [
    valueInfo('t_shape', tensorType(DataType.FLOAT, [1, 'batch', 768])),
    valueInfo('t_scalar', { tensorType: { elemType: DataType.FLOAT16, shape: { dim: [] } } }),
    valueInfo('t_unknown_rank', tensorType(DataType.INT64)),
    valueInfo('t_denoted', {
      tensorType: {
        elemType: DataType.UINT8,
        shape: { dim: [{ dimValue: 3, denotation: 'DATA_CHANNEL' }, { dimParam: 'h' }, {}, { dimValue: -1 }, { dimValue: INT64_MAX }] },
      },
      denotation: 'IMAGE',
    }),
    valueInfo('seq', { sequenceType: { elemType: tensorType(DataType.FLOAT, ['n']) } }),
    valueInfo('map', { mapType: { keyType: DataType.INT64, valueType: tensorType(DataType.FLOAT) } }),
    valueInfo('opt', { optionalType: { elemType: { sequenceType: { elemType: tensorType(DataType.INT8) } } } }),
    valueInfo('sparse', { sparseTensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 10 }, { dimValue: 10 }] } } }),
    valueInfo('untyped'),
    { name: 'documented', type: tensorType(DataType.INT4, [8]), docString: 'doc', metadataProps: [{ key: 'k', value: 'v' }] },
    { name: 'opaque', type: { unknownFields: [bytesOf(ld(7, [...str(1, 'ai.onnx.ml'), ...str(2, 'Opaque')]))] }, metadataProps: [] },
  ];
}

/** A model touching every field of onnx-types.ts, every attribute kind and every dtype. */
export function fullModel(): ModelProto {
  const main = graph('main', {
    node: [
      node('Custom', ['x', '', 'w'], ['y', 'y_aux'], {
        name: 'n0',
        domain: 'com.example',
        overload: 'v2',
        attribute: allAttributes(),
        docString: 'does everything',
        metadataProps: [{ key: 'source', value: 'layer.0' }],
        // NodeProto.device_configurations (10), unknown to this schema.
        unknownFields: [bytesOf(ld(10, [...str(1, 'cfg')]))],
      }),
      node('MyFn', ['y'], ['z'], { domain: 'local', name: 'call' }),
      node('Relu', ['z'], ['out']),
    ],
    initializer: allDtypeInitializers(),
    sparseInitializer: [
      {
        values: tensor('sp_values', DataType.FLOAT, [3], { floatData: Float32Array.from([1, 2, 3]) }),
        indices: tensor('sp_indices', DataType.INT64, [3, 2], { int64Data: [0, 0, 1, 1, 2, 2] }),
        dims: [3, 3],
      },
    ],
    docString: 'the main graph — ünïcödé 🚀',
    input: [valueInfo('x', tensorType(DataType.FLOAT, ['batch', 4])), valueInfo('cond', tensorType(DataType.BOOL, []))],
    output: [valueInfo('out', tensorType(DataType.FLOAT, ['batch', 4]))],
    valueInfo: allTypes(),
    quantizationAnnotation: [
      {
        tensorName: 'y',
        quantParameterTensorNames: [
          { key: 'SCALE_TENSOR', value: 'y_scale' },
          { key: 'ZERO_POINT_TENSOR', value: 'y_zp' },
        ],
      },
    ],
    metadataProps: [{ key: 'graph_key', value: 'graph_value' }],
    unknownFields: [bytesOf(vf(40, 1)), bytesOf(tag(41, 5), [1, 2, 3, 4]), bytesOf(tag(42, 1), [1, 2, 3, 4, 5, 6, 7, 8])],
  });
  return {
    irVersion: 11,
    producerName: 'fuselab-tests',
    producerVersion: '0.1.0',
    domain: 'dev.fuselab',
    modelVersion: TWO_53_PLUS_1,
    docString: 'every field',
    graph: main,
    opsetImport: [
      { domain: '', version: 21 },
      { domain: 'com.microsoft', version: 1 },
      { domain: 'local', version: 1 },
    ],
    metadataProps: [
      { key: 'author', value: 'tests' },
      { key: 'empty', value: '' },
    ],
    functions: [
      {
        name: 'MyFn',
        input: ['a'],
        output: ['b'],
        attribute: ['alpha'],
        attributeProto: [{ name: 'beta', type: AttributeType.FLOAT, f: 1 }],
        node: [
          node('LeakyRelu', ['a'], ['b'], {
            attribute: [{ name: 'alpha', type: AttributeType.FLOAT, refAttrName: 'alpha' }],
          }),
        ],
        docString: 'a local function',
        opsetImport: [{ domain: '', version: 21 }],
        domain: 'local',
        overload: 'o1',
        valueInfo: [valueInfo('b', tensorType(DataType.FLOAT))],
        metadataProps: [{ key: 'fn', value: 'meta' }],
        unknownFields: [bytesOf(vf(99, 1))],
      },
    ],
    // ModelProto.training_info (20) and configuration (26) are unknown to this schema.
    unknownFields: [bytesOf(ld(20, [...ld(1, [...str(2, 'train')])])), bytesOf(ld(26, str(1, 'device')))],
  };
}

/**
 * A transformer-shaped model: `nodes` nodes in a chain and `inits` initializers of `initBytes` raw
 * bytes each (the bytes are one shared buffer, so building a 600 MB model costs only `initBytes`).
 */
export function syntheticModel(nodes: number, inits: number, initBytes: number): ModelProto {
  const shared = pseudoBytes(initBytes, 5);
  const g = graph('synthetic', {
    input: [valueInfo('x0', tensorType(DataType.FLOAT, ['batch', 'seq', 768]))],
  });
  for (let i = 0; i < inits; i++) {
    g.initializer.push(tensor(`model.layers.${i}.weight`, DataType.FLOAT, [initBytes / 4], { rawData: shared }));
  }
  for (let i = 0; i < nodes; i++) {
    g.node.push(
      node(i % 3 === 0 ? 'MatMul' : i % 3 === 1 ? 'Add' : 'Softmax', [`/model/layers.${i}/x`, `model.layers.${i % inits}.weight`], [`/model/layers.${i + 1}/x`], {
        name: `/model/layers.${i}/op`,
        attribute: i % 3 === 2 ? [{ name: 'axis', type: AttributeType.INT, i: -1 }] : [],
      }),
    );
    if (i % 10 === 0) g.valueInfo.push(valueInfo(`/model/layers.${i + 1}/x`, tensorType(DataType.FLOAT, ['batch', 'seq', 768])));
  }
  g.output.push(valueInfo(`/model/layers.${nodes}/x`, tensorType(DataType.FLOAT, ['batch', 'seq', 768])));
  return model(g, { producerName: 'synthetic' });
}

// -------------------------------------------------------------------------------------------------
// Sources

/** A streaming source (no `bytes`) that counts its reads. Reads are copies, as from a file. */
export interface CountingSource extends RandomAccessSource {
  reads: number;
  bytesRead: number;
}

/** Serves `bytes` as if from a file: no `bytes` property, every read counted and copied. */
export function countingSource(bytes: Uint8Array, name = 'stream.onnx'): CountingSource {
  const src: CountingSource = {
    name,
    byteLength: bytes.byteLength,
    reads: 0,
    bytesRead: 0,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) throw new RangeError(`read past end: ${offset}+${length}`);
      src.reads++;
      src.bytesRead += length;
      return bytes.slice(offset, offset + length);
    },
  };
  return src;
}

/** Serves an encoded rope as a streaming source without concatenating it (big models, little memory). */
export function ropeSource(encoded: EncodedModel, name = 'rope.onnx'): CountingSource {
  const starts: number[] = [];
  let total = 0;
  for (const c of encoded.chunks) {
    starts.push(total);
    total += c.byteLength;
  }
  const src: CountingSource = {
    name,
    byteLength: total,
    reads: 0,
    bytesRead: 0,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > total) throw new RangeError(`read past end: ${offset}+${length}`);
      src.reads++;
      src.bytesRead += length;
      const out = new Uint8Array(length);
      // Binary search for the chunk holding `offset`.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= offset) lo = mid;
        else hi = mid - 1;
      }
      let written = 0;
      for (let i = lo; written < length; i++) {
        const chunk = encoded.chunks[i];
        const from = offset + written - starts[i];
        const n = Math.min(chunk.byteLength - from, length - written);
        out.set(chunk.subarray(from, from + n), written);
        written += n;
      }
      return out;
    },
  };
  return src;
}

/**
 * ModelProto bytes whose messages nest exactly `depth` levels below the root: graph → node →
 * attribute → g (graph) → node → ... with an empty innermost message. Built bottom-up by sizes and
 * written top-down, so 100k levels take linear time.
 */
export function nestedGraphModel(depth: number): Uint8Array {
  // Tag byte of the field that holds the message at nesting level d (1-based).
  const tagAt = (d: number): number => (d === 1 ? 0x3a /* Model.graph */ : [0x0a /* Graph.node */, 0x2a /* Node.attribute */, 0x32 /* Attribute.g */][(d - 2) % 3]);
  const varintLen = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
  // bodySize[d] = size of the body of the message at level d (level `depth` is empty).
  const bodySize = new Float64Array(depth + 1);
  for (let d = depth - 1; d >= 0; d--) bodySize[d] = 1 + varintLen(bodySize[d + 1]) + bodySize[d + 1];
  const out = new Uint8Array(bodySize[0]);
  let pos = 0;
  for (let d = 1; d <= depth; d++) {
    out[pos++] = tagAt(d);
    for (const b of varint(bodySize[d])) out[pos++] = b;
  }
  return out;
}

/** A small but varied model (for exhaustive prefix and mutation tests). */
export function smallModel(): ModelProto {
  return model(
    graph('small', {
      node: [
        node('Conv', ['x', 'w', 'b'], ['c'], {
          attribute: [
            { name: 'pads', type: AttributeType.INTS, ints: [1, 1, -1, 300] },
            { name: 'alpha', type: AttributeType.FLOAT, f: 0.5 },
            { name: 'mode', type: AttributeType.STRING, s: utf8('same') },
          ],
        }),
        node('If', ['cond'], ['y'], {
          attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g: graph('then', { node: [node('Identity', ['c'], ['y'])] }) }],
        }),
      ],
      initializer: [
        tensor('w', DataType.FLOAT, [2, 2], { rawData: pseudoBytes(16, 4) }),
        tensor('b', DataType.INT64, [2], { int64Data: [-1, INT64_MAX] }),
        tensor('f', DataType.FLOAT, [2], { floatData: Float32Array.from([1, 2]) }),
      ],
      input: [valueInfo('x', tensorType(DataType.FLOAT, ['n', 2])), valueInfo('cond', tensorType(DataType.BOOL, []))],
      output: [valueInfo('y', { sequenceType: { elemType: tensorType(DataType.FLOAT16, [3]) } })],
      unknownFields: [bytesOf(vf(40, 1))],
    }),
    { producerName: 'small', metadataProps: [{ key: 'k', value: 'v' }] },
  );
}
