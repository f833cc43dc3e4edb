import { describe, expect, it } from 'vitest';
import { decodeModelBytes, encodeModel, encodeModelToBytes, OnnxEncodeError, type ModelProto } from '../../src/proto/index.ts';
import { AttributeType, DataType } from '../../src/proto/onnx-types.ts';
import { fullModel, graph, INT64_MAX, INT64_MIN, model, node, syntheticModel, tensor, TWO_53_PLUS_1, UINT64_MAX } from './fixtures.ts';

function roundTrip(m: ModelProto): { bytes: Uint8Array; decoded: ModelProto } {
  const bytes = encodeModelToBytes(m);
  return { bytes, decoded: decodeModelBytes(bytes, 'round-trip.onnx') };
}

describe('encode → decode round trip', () => {
  it('reproduces a model that uses every field, attribute kind and dtype', () => {
    const m = fullModel();
    const { decoded } = roundTrip(m);
    expect(decoded).toEqual(m);
  });

  it('re-encodes the decoded model to identical bytes', () => {
    const first = encodeModelToBytes(fullModel());
    const second = encodeModelToBytes(decodeModelBytes(first));
    expect(second.byteLength).toBe(first.byteLength);
    expect(Buffer.from(second).equals(Buffer.from(first))).toBe(true);
  });

  it('keeps int64 edge values exact (number when safe, bigint beyond 2^53)', () => {
    const edges = [0, 1, -1, 127, 128, -128, 2 ** 31 - 1, -(2 ** 31), 2 ** 32, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, TWO_53_PLUS_1, -TWO_53_PLUS_1, INT64_MIN, INT64_MAX];
    const m = model(
      graph('g', {
        node: [node('Slice', ['x'], ['y'], { attribute: edges.map((i, k) => ({ name: `a${k}`, type: AttributeType.INT, i })) })],
        initializer: [tensor('t', DataType.INT64, [edges.length], { int64Data: edges })],
      }),
      { modelVersion: INT64_MIN },
    );
    const { decoded } = roundTrip(m);
    expect(decoded.graph?.node[0].attribute.map((a) => a.i)).toEqual(edges);
    expect(decoded.graph?.initializer[0].int64Data).toEqual(edges);
    expect(decoded.modelVersion).toBe(INT64_MIN);
    expect(typeof decoded.graph?.node[0].attribute[9].i).toBe('number'); // MAX_SAFE_INTEGER
    expect(typeof decoded.graph?.node[0].attribute[11].i).toBe('bigint'); // 2^53 + 1
  });

  it('encodes -1 as the 10-byte two\'s-complement varint protoc writes', () => {
    const bytes = encodeModelToBytes(model(undefined, { irVersion: -1, opsetImport: [] }));
    expect(Array.from(bytes)).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });

  it('reads uint64 values as unsigned', () => {
    const m = model(graph('g', { initializer: [tensor('u', DataType.UINT64, [3], { uint64Data: [UINT64_MAX, 2 ** 63 - 2 ** 11, 5] })] }));
    expect(roundTrip(m).decoded.graph?.initializer[0].uint64Data).toEqual([UINT64_MAX, 9223372036854773760n, 5]);
  });

  it('accepts numbers beyond 2^53 and bigints for small values (decoded in canonical form)', () => {
    const m = model(graph('g', { node: [node('N', [], [], { attribute: [{ name: 'a', type: AttributeType.INTS, ints: [2 ** 60, 5n, -(2 ** 63)] }] })] }));
    expect(roundTrip(m).decoded.graph?.node[0].attribute[0].ints).toEqual([1n << 60n, 5, INT64_MIN]);
  });

  it('keeps presence: scalar shape vs unknown rank, empty raw_data, empty strings in lists', () => {
    const { decoded } = roundTrip(fullModel());
    const vi = decoded.graph?.valueInfo ?? [];
    expect(vi.find((v) => v.name === 't_scalar')?.type?.tensorType?.shape).toEqual({ dim: [] });
    expect(vi.find((v) => v.name === 't_unknown_rank')?.type?.tensorType).not.toHaveProperty('shape');
    const empty = decoded.graph?.initializer.find((t) => t.name === 'empty');
    expect(empty?.rawData).toEqual(new Uint8Array(0));
    expect(decoded.graph?.node[0].input).toEqual(['x', '', 'w']);
  });

  it('writes fields in ascending field-number order with unknown fields last', () => {
    const bytes = encodeModelToBytes(fullModel());
    const fields: number[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      let tag = 0;
      let shift = 0;
      let b: number;
      do {
        b = bytes[pos++];
        tag += (b & 0x7f) * 2 ** shift;
        shift += 7;
      } while (b >= 0x80);
      fields.push(Math.floor(tag / 8));
      const wire = tag & 7;
      if (wire === 0) while (bytes[pos++] >= 0x80);
      else if (wire === 2) {
        let len = 0;
        shift = 0;
        do {
          b = bytes[pos++];
          len += (b & 0x7f) * 2 ** shift;
          shift += 7;
        } while (b >= 0x80);
        pos += len;
      }
    }
    // Known fields ascending, then the unknown ones (20 = training_info, 26 = configuration).
    expect(fields).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 14, 14, 25, 20, 26]);
  });

  it('round-trips a transformer-sized synthetic model', () => {
    const m = syntheticModel(300, 20, 4096);
    expect(roundTrip(m).decoded).toEqual(m);
  });
});

describe('encodeModel rope', () => {
  it('references large byte fields without copying them', () => {
    const m = fullModel();
    const big = m.graph?.initializer.find((t) => t.name === 'big_weight')?.rawData as Uint8Array;
    const { chunks, byteLength } = encodeModel(m);
    expect(chunks.some((c) => c === big)).toBe(true);
    expect(chunks.reduce((n, c) => n + c.byteLength, 0)).toBe(byteLength);
  });

  it('honours zeroCopyThreshold (and copies everything when it is huge)', () => {
    const m = fullModel();
    const all = encodeModel(m, { zeroCopyThreshold: Number.MAX_SAFE_INTEGER });
    expect(all.chunks).toHaveLength(1);
    const many = encodeModel(m, { zeroCopyThreshold: 16 });
    expect(many.chunks.length).toBeGreaterThan(10);
    expect(Buffer.concat(many.chunks).equals(Buffer.from(all.chunks[0]))).toBe(true);
  });

  it('does not copy 3 MB initializers of a 600 MB model', () => {
    const m = syntheticModel(1300, 200, 3 << 20);
    const shared = m.graph?.initializer[0].rawData as Uint8Array;
    const { chunks, byteLength } = encodeModel(m);
    expect(byteLength).toBeGreaterThan(600e6);
    const copied = chunks.filter((c) => c !== shared).reduce((n, c) => n + c.byteLength, 0);
    expect(copied).toBeLessThan(1e6);
  });
});

describe('encodeModel errors', () => {
  const withInt = (i: number | bigint): ModelProto =>
    model(graph('g', { node: [node('N', [], [], { attribute: [{ name: 'a', type: AttributeType.INT, i }] })] }));

  it('rejects non-integer and out-of-range int64 values with the field path', () => {
    expect(() => encodeModel(withInt(1.5))).toThrow(OnnxEncodeError);
    expect(() => encodeModel(withInt(1.5))).toThrow(/ModelProto\.graph\.node\[0\]\.attribute\[0\]\.i/);
    expect(() => encodeModel(withInt(INT64_MAX + 1n))).toThrow(/outside the int64 range/);
    expect(() => encodeModel(withInt(2 ** 63))).toThrow(/outside the int64 range/);
  });

  it('rejects LazyBytes without resolveLazy and uses it when given', () => {
    const lazy = { kind: 'lazy', offset: 100, length: 4 } as const;
    const m = model(graph('g', { initializer: [tensor('w', DataType.FLOAT, [1], { rawData: lazy })] }));
    expect(() => encodeModel(m)).toThrow(/LazyBytes .*resolveLazy/);
    expect(() => encodeModel(m)).toThrow(/ModelProto\.graph\.initializer\[0\]\.raw_data/);
    const bytes = encodeModelToBytes(m, { resolveLazy: () => Uint8Array.from([1, 2, 3, 4]) });
    expect(decodeModelBytes(bytes).graph?.initializer[0].rawData).toEqual(Uint8Array.from([1, 2, 3, 4]));
    expect(() => encodeModel(m, { resolveLazy: () => new Uint8Array(3) })).toThrow(OnnxEncodeError);
  });

  it('refuses a cyclic object graph instead of overflowing the stack', () => {
    const g = graph('loop');
    g.node.push(node('If', [], [], { attribute: [{ name: 'then_branch', type: AttributeType.GRAPH, g }] }));
    expect(() => encodeModel(model(g))).toThrow(/nested deeper/);
  });
});
