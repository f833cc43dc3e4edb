import { describe, expect, it } from 'vitest';
import { decodeModel, decodeModelBytes, encodeModelToBytes } from '../../src/proto/index.ts';
import { int64FromParts, uint64FromParts } from '../../src/proto/wire-reader.ts';
import { int64Size, utf8Length } from '../../src/proto/wire-writer.ts';
import { bytesOf, countingSource, fullModel, INT64_MAX, INT64_MIN, ld, str, tag, TWO_53_PLUS_1, varint, vf } from './fixtures.ts';

/** ModelProto bytes with one node (field graph=7 → node=1) built from raw NodeProto field bytes. */
function withNode(...nodeFields: number[][]): Uint8Array {
  return bytesOf(ld(7, ld(1, nodeFields.flat())));
}

/** ModelProto bytes with one initializer built from raw TensorProto field bytes. */
function withTensor(...tensorFields: number[][]): Uint8Array {
  return bytesOf(ld(7, ld(5, tensorFields.flat())));
}

/** ModelProto bytes with one node holding one attribute built from raw AttributeProto field bytes. */
function withAttribute(...attrFields: number[][]): Uint8Array {
  return withNode(ld(5, attrFields.flat()));
}

describe('varints', () => {
  const cases: [string, number | bigint][] = [
    ['0', 0], ['1', 1], ['127', 127], ['128', 128], ['16383', 16383], ['16384', 16384],
    ['2^28 - 1', 2 ** 28 - 1], ['2^28', 2 ** 28], ['2^31', 2 ** 31], ['2^32 - 1', 2 ** 32 - 1], ['2^32', 2 ** 32],
    ['2^35', 2 ** 35], ['2^53 - 1', Number.MAX_SAFE_INTEGER], ['2^53', 1n << 53n], ['2^53 + 1', TWO_53_PLUS_1],
    ['INT64_MAX', INT64_MAX], ['-1', -1], ['-2', -2], ['-(2^31)', -(2 ** 31)], ['-(2^53 - 1)', -Number.MAX_SAFE_INTEGER],
    ['-(2^53)', -(1n << 53n)], ['INT64_MIN', INT64_MIN],
  ];
  for (const [label, v] of cases) {
    it(`decodes int64 ${label} exactly`, () => {
      // model_version (5) is optional, so it is written even when 0.
      const decoded = decodeModelBytes(bytesOf(vf(5, v)));
      expect(decoded.modelVersion).toBe(v);
      // The encoder writes the same minimal bytes.
      expect(Array.from(encodeModelToBytes(decoded))).toEqual(vf(5, v));
      expect(int64Size(v)).toBe(varint(v).length);
    });
  }

  it('decodes INT64_MIN and -1 from their 10-byte forms', () => {
    expect(decodeModelBytes(bytesOf([0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])).irVersion).toBe(INT64_MIN);
    expect(decodeModelBytes(bytesOf([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).irVersion).toBe(-1);
  });

  it('accepts non-minimal (padded) varints, as protobuf does', () => {
    expect(decodeModelBytes(bytesOf([0x08, 0x85, 0x80, 0x80, 0x00])).irVersion).toBe(5);
    // A padded tag: field 1, varint, written in 3 bytes.
    expect(decodeModelBytes(bytesOf([0x88, 0x80, 0x00, 0x07])).irVersion).toBe(7);
  });

  it('decodes varints at the very end of the buffer (slow path)', () => {
    for (const v of [1, 300, 2 ** 40, -1, INT64_MIN]) {
      const bytes = bytesOf(vf(1, v));
      expect(decodeModelBytes(bytes).irVersion).toBe(v);
      expect(decodeModel(countingSource(bytes), { windowSize: 16 }).irVersion).toBe(v);
    }
  });

  it('splits and joins 64-bit halves', () => {
    expect(int64FromParts(0xffffffff, 0xffffffff)).toBe(-1);
    expect(int64FromParts(0, 0x80000000)).toBe(INT64_MIN);
    expect(int64FromParts(0xffffffff, 0x7fffffff)).toBe(INT64_MAX);
    expect(int64FromParts(0xffffffff, 0x1fffff)).toBe(Number.MAX_SAFE_INTEGER);
    expect(int64FromParts(1, 0xffe00000)).toBe(-(2 ** 53) + 1);
    expect(int64FromParts(0, 0xffe00000)).toBe(-(1n << 53n));
    expect(uint64FromParts(0xffffffff, 0xffffffff)).toBe((1n << 64n) - 1n);
  });

  it('reads int32 enums written as 10-byte negatives', () => {
    const m = decodeModelBytes(withTensor(vf(2, -5), vf(5, -7)));
    expect(m.graph?.initializer[0].dataType).toBe(-5);
    expect(Array.from(m.graph?.initializer[0].int32Data ?? [])).toEqual([-7]);
  });
});

describe('repeated fields', () => {
  it('accepts unpacked and packed encodings, in several pieces, in order', () => {
    const f32 = (x: number): number[] => Array.from(new Uint8Array(Float32Array.of(x).buffer));
    const f64 = (x: number): number[] => Array.from(new Uint8Array(Float64Array.of(x).buffer));
    const bytes = withTensor(
      vf(1, 2), ld(1, [...varint(3), ...varint(4)]), vf(1, 5), // dims: unpacked, packed, unpacked
      [...tag(4, 5), ...f32(1.5)], ld(4, [...f32(2.5), ...f32(3.5)]), [...tag(4, 5), ...f32(4.5)], // float_data
      vf(5, 1), ld(5, [...varint(2), ...varint(-3)]), // int32_data
      vf(7, -1), ld(7, [...varint(INT64_MAX)]), // int64_data
      [...tag(10, 1), ...f64(0.25)], ld(10, f64(0.5)), // double_data
      ld(11, [...varint(1), ...varint((1n << 64n) - 1n)]), vf(11, 2), // uint64_data
    );
    const t = decodeModelBytes(bytes).graph?.initializer[0];
    expect(t?.dims).toEqual([2, 3, 4, 5]);
    expect(t?.floatData).toEqual(Float32Array.from([1.5, 2.5, 3.5, 4.5]));
    expect(t?.int32Data).toEqual(Int32Array.from([1, 2, -3]));
    expect(t?.int64Data).toEqual([-1, INT64_MAX]);
    expect(t?.doubleData).toEqual(Float64Array.from([0.25, 0.5]));
    expect(t?.uint64Data).toEqual([1, (1n << 64n) - 1n, 2]);
  });

  it('accepts unpacked attribute floats and ints', () => {
    const f32 = (x: number): number[] => Array.from(new Uint8Array(Float32Array.of(x).buffer));
    const a = decodeModelBytes(withAttribute(str(1, 'a'), [...tag(7, 5), ...f32(1)], ld(7, f32(2)), vf(8, -1), ld(8, varint(7)), vf(20, 6)))
      .graph?.node[0].attribute[0];
    expect(a?.floats).toEqual([1, 2]);
    expect(a?.ints).toEqual([-1, 7]);
  });
});

describe('strings and bytes', () => {
  const names = ['', 'x', 'MatMul', 'ünïcödé', '名前', '🚀 rocket', '\uFEFFbom', 'a'.repeat(12), 'b'.repeat(13), '/model/layers.11/self_attn/q_proj/MatMul_output_0', 'ß'.repeat(1000)];
  for (const name of names) {
    it(`decodes ${JSON.stringify(name.length > 20 ? name.slice(0, 20) + '…' : name)}`, () => {
      const m = decodeModelBytes(withNode(str(3, name)));
      expect(m.graph?.node[0].name).toBe(name);
      expect(utf8Length(name)).toBe(new TextEncoder().encode(name).length);
    });
  }

  it('replaces invalid UTF-8 with U+FFFD instead of failing', () => {
    expect(decodeModelBytes(withNode(ld(3, [0x61, 0xff, 0x62]))).graph?.node[0].name).toBe('a\uFFFDb');
  });

  it('encodes lone surrogates as U+FFFD (what TextEncoder does)', () => {
    const bytes = encodeModelToBytes({ irVersion: 1, opsetImport: [], metadataProps: [], functions: [], docString: 'a\uD800b' });
    expect(decodeModelBytes(bytes).docString).toBe('a\uFFFDb');
  });
});

describe('unknown fields', () => {
  it('keeps every wire type verbatim, including groups, and re-emits them', () => {
    const unknown = [
      vf(50, 300),
      [...tag(51, 1), 1, 2, 3, 4, 5, 6, 7, 8],
      ld(52, [9, 9, 9]),
      [...tag(53, 5), 1, 2, 3, 4],
      [...tag(54, 3), ...vf(1, 1), ...tag(2, 3), ...tag(2, 4), ...tag(54, 4)], // group with a nested group
    ];
    const bytes = withNode(str(4, 'Relu'), ...unknown);
    const n = decodeModelBytes(bytes).graph?.node[0];
    expect(n?.opType).toBe('Relu');
    expect(n?.unknownFields?.map((u) => Array.from(u))).toEqual(unknown);
    // Known fields first, unknown after: here the input already has that order, so bytes are identical.
    expect(Buffer.from(encodeModelToBytes(decodeModelBytes(bytes))).equals(Buffer.from(bytes))).toBe(true);
  });

  it('skips unknown fields without keeping them when keepUnknownFields is false', () => {
    const n = decodeModelBytes(withNode(str(4, 'Relu'), vf(50, 1)), 'm.onnx', { keepUnknownFields: false }).graph?.node[0];
    expect(n).not.toHaveProperty('unknownFields');
    expect(n?.opType).toBe('Relu');
  });

  it('keeps the unknown fields of every message in the full model', () => {
    const m = decodeModelBytes(encodeModelToBytes(fullModel()));
    expect(m.unknownFields).toHaveLength(2);
    expect(m.graph?.unknownFields).toHaveLength(3);
    expect(m.graph?.node[0].unknownFields).toHaveLength(1);
    expect(m.functions[0].unknownFields).toHaveLength(1);
  });
});

describe('streaming window', () => {
  it('decodes identically through tiny windows (every refill boundary)', () => {
    const bytes = encodeModelToBytes(fullModel());
    const expected = decodeModelBytes(bytes);
    for (const windowSize of [16, 17, 31, 64, 100, 1000, 4096]) {
      const decoded = decodeModel(countingSource(bytes), { windowSize, lazyThreshold: Number.POSITIVE_INFINITY });
      expect(decoded).toEqual(expected);
    }
  });
});
