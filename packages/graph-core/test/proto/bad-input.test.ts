import { describe, expect, it } from 'vitest';
import { OnnxParseError } from '../../src/errors.ts';
import type { RandomAccessSource } from '../../src/io/byte-source.ts';
import { memorySource } from '../../src/io/byte-source.ts';
import { decodeModel, encodeModelToBytes, type DecodeOptions } from '../../src/proto/index.ts';
import { bytesOf, countingSource, fullModel, ld, nestedGraphModel, smallModel, str, tag, varint, vf } from './fixtures.ts';

const sources: [string, (b: Uint8Array) => RandomAccessSource][] = [
  ['memory', (b) => memorySource(b, 'bad.onnx')],
  ['stream', (b) => countingSource(b, 'bad.onnx')],
];

/** Decodes and returns the OnnxParseError it must throw. */
function parseError(bytes: Uint8Array, source: (b: Uint8Array) => RandomAccessSource, options?: DecodeOptions): OnnxParseError {
  try {
    decodeModel(source(bytes), options);
  } catch (e) {
    if (e instanceof OnnxParseError) return e;
    throw e;
  }
  throw new Error('expected an OnnxParseError, but the bytes decoded');
}

function withNode(...fields: number[][]): Uint8Array {
  return bytesOf(ld(7, ld(1, fields.flat())));
}
function withTensor(...fields: number[][]): Uint8Array {
  return bytesOf(ld(7, ld(5, fields.flat())));
}

describe.each(sources)('malformed input (%s source)', (label, source) => {
  it('truncation at every prefix either decodes or throws OnnxParseError', () => {
    // Every prefix of both models in memory; the streaming source steps through the big one.
    const step = label === 'memory' ? 1 : 7;
    for (const [full, stride] of [[encodeModelToBytes(smallModel()), 1], [encodeModelToBytes(fullModel()), step]] as const) {
      let errors = 0;
      let tried = 0;
      for (let n = 0; n < full.byteLength; n += stride) {
        tried++;
        const prefix = full.subarray(0, n);
        try {
          decodeModel(source(prefix));
        } catch (e) {
          if (!(e instanceof OnnxParseError)) throw new Error(`prefix ${n}: ${String(e)}`, { cause: e });
          expect(e.offset).toBeLessThanOrEqual(n);
          expect(e.field.startsWith('ModelProto')).toBe(true);
          errors++;
        }
      }
      expect(errors).toBeGreaterThan(tried * 0.9);
    }
  });

  it('wrong wire type for a known field', () => {
    const e = parseError(withNode(str(4, 'Relu'), vf(3, 5)), source);
    expect(e.reason).toMatch(/wrong wire type varint .*expected length-delimited/);
    expect(e.field).toBe('ModelProto.graph.node[0].name');
    expect(e.offset).toBe(10);
    expect(e.message).toContain('bad.onnx');
    expect(e.message).toContain('at byte 10');
  });

  it('declared length past the end of the enclosing message', () => {
    // graph { node { op_type: length 50, 4 bytes present } }
    const bytes = bytesOf(ld(7, ld(1, [...tag(4, 2), 50, 0x52, 0x65, 0x6c, 0x75])));
    const e = parseError(bytes, source);
    expect(e.field).toBe('ModelProto.graph.node[0].op_type');
    expect(e.reason).toBe('declared length 50 runs past the end of its enclosing message (4 bytes left)');
    expect(e.offset).toBe(5);
  });

  it('declared length past the end of the file', () => {
    const e = parseError(bytesOf([0x3a, 0x05, 0x0a]), source);
    expect(e.field).toBe('ModelProto.graph');
    expect(e.reason).toMatch(/runs past the end of the file \(1 bytes left\)/);
    expect(e.offset).toBe(1);
  });

  it('absurd declared lengths (2^40, 2^64 - 1)', () => {
    const e = parseError(bytesOf([0x3a, ...varint(2 ** 40)]), source);
    expect(e.reason).toMatch(/declared length 1099511627776 runs past the end/);
    expect(e.field).toBe('ModelProto.graph');
    expect(e.offset).toBe(1);
    const e2 = parseError(withTensor([...tag(9, 2), ...varint(2 ** 40)]), source);
    expect(e2.field).toBe('ModelProto.graph.initializer[0].raw_data');
    const e3 = parseError(bytesOf([0x3a, ...varint(-1)]), source);
    expect(e3.reason).toMatch(/declared length 18446744073709551615/);
  });

  it('varint longer than 10 bytes (slow path at the end, fast path in the middle)', () => {
    const e = parseError(bytesOf([0x08, ...new Array<number>(10).fill(0xff), 0x01]), source);
    expect(e.reason).toBe('varint is longer than 10 bytes');
    expect(e.field).toBe('ModelProto.ir_version');
    expect(e.offset).toBe(1);
    const e2 = parseError(bytesOf(str(2, 'p'), [0x08, ...new Array<number>(11).fill(0x80), 0x01], str(2, 'padding bytes')), source);
    expect(e2.reason).toBe('varint is longer than 10 bytes');
    expect(e2.offset).toBe(4);
  });

  it('truncated varint at the end of the file', () => {
    const e = parseError(bytesOf([0x08, 0x80, 0x80]), source);
    expect(e.reason).toMatch(/truncated varint/);
    expect(e.offset).toBe(1);
  });

  it('field number 0', () => {
    const e = parseError(bytesOf([0x00]), source);
    expect(e.reason).toMatch(/field number 0/);
    expect(e.field).toBe('ModelProto');
    expect(e.offset).toBe(0);
    const e2 = parseError(withNode([0x00, 0x00]), source);
    expect(e2.field).toBe('ModelProto.graph.node[0]');
    expect(e2.offset).toBe(4);
  });

  it('a tag wider than 32 bits', () => {
    const e = parseError(bytesOf([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), source);
    expect(e.reason).toMatch(/tag does not fit in 32 bits/);
  });

  it('a varint that runs past the end of its message', () => {
    // opset_import { version: <0x80 ...> } with the varint's last byte outside the message.
    const e = parseError(bytesOf([0x42, 0x02, 0x10, 0x80, 0x01]), source);
    expect(e.field).toBe('ModelProto.opset_import[0].version');
    expect(e.reason).toMatch(/runs 1 bytes past the end of its enclosing message/);
    expect(e.offset).toBe(2);
  });

  it('truncated fixed32 and bad packed lengths', () => {
    const e = parseError(withNode(ld(5, [...tag(2, 5), 1, 2])), source);
    expect(e.field).toBe('ModelProto.graph.node[0].attribute[0].f');
    expect(e.reason).toMatch(/truncated fixed32/);
    const e2 = parseError(withTensor(ld(4, [0, 0, 0, 0, 0])), source);
    expect(e2.field).toBe('ModelProto.graph.initializer[0].float_data');
    expect(e2.reason).toMatch(/not a multiple of 4/);
    const e3 = parseError(withTensor(ld(10, [0, 0, 0, 0])), source);
    expect(e3.reason).toMatch(/not a multiple of 8/);
    const e4 = parseError(withTensor(ld(7, [0x80])), source);
    expect(e4.field).toBe('ModelProto.graph.initializer[0].int64_data');
  });

  it('negative dims, dims beyond 2^53 and absurd element counts', () => {
    const e = parseError(withTensor(vf(1, 2), vf(1, -3)), source);
    expect(e.reason).toBe('negative dimension -3');
    expect(e.field).toBe('ModelProto.graph.initializer[0].dims[1]');
    const e2 = parseError(withTensor(ld(1, [...varint(4), ...varint(2 ** 53)])), source);
    expect(e2.reason).toBe('dimension 9007199254740992 is larger than 2^53 - 1');
    expect(e2.field).toBe('ModelProto.graph.initializer[0].dims[1]');
    const e3 = parseError(withTensor(ld(1, [...varint(2 ** 30), ...varint(2 ** 30), ...varint(2 ** 30)])), source);
    expect(e3.reason).toMatch(/describe more than 2\^53 - 1 elements/);
    expect(e3.field).toBe('ModelProto.graph.initializer[0].dims');
    const e4 = parseError(bytesOf(ld(7, ld(15, vf(3, -1)))), source);
    expect(e4.field).toBe('ModelProto.graph.sparse_initializer[0].dims[0]');
    const e5 = parseError(withTensor(vf(1, -(2n ** 60n))), source);
    expect(e5.reason).toMatch(/negative dimension/);
  });

  it('invalid wire types and broken groups in unknown fields', () => {
    expect(parseError(withNode([...tag(50, 6)]), source).reason).toBe('invalid wire type 6');
    expect(parseError(withNode([...tag(50, 7)]), source).reason).toBe('invalid wire type 7');
    expect(parseError(withNode([...tag(3, 6)]), source).reason).toMatch(/wrong wire type invalid \(6\)/);
    expect(parseError(withNode([...tag(50, 4)]), source).reason).toMatch(/end-group tag without/);
    expect(parseError(withNode([...tag(50, 3), ...vf(1, 1)]), source).reason).toMatch(/not closed/);
    expect(parseError(withNode([...tag(50, 3), ...tag(51, 4)]), source).reason).toMatch(/does not match/);
  });

  it('nesting: 100 levels decode, 101 fail with the path, maxDepth is configurable', () => {
    expect(() => decodeModel(source(nestedGraphModel(100)))).not.toThrow();
    const e = parseError(nestedGraphModel(101), source);
    expect(e.reason).toMatch(/nested deeper than the limit of 100 levels/);
    expect(e.field.startsWith('ModelProto.graph.node[0].attribute[0].g.node[0].attribute[0].g.')).toBe(true);
    expect(e.field.split('.').length).toBe(102);
    expect(() => decodeModel(source(nestedGraphModel(10)), { maxDepth: 10 })).not.toThrow();
    expect(parseError(nestedGraphModel(11), source, { maxDepth: 10 }).reason).toMatch(/limit of 10 levels/);
  });

  it('maxMessages bounds the number of messages (memory amplification)', () => {
    // 1000 empty nodes: 2 bytes each on the wire.
    const bytes = bytesOf(ld(7, new Array<number>(1000).fill(0).flatMap(() => [0x0a, 0x00])));
    expect(decodeModel(source(bytes)).graph?.node).toHaveLength(1000);
    const e = parseError(bytes, source, { maxMessages: 500 });
    expect(e.reason).toMatch(/more than 500 messages/);
    expect(e.field).toBe('ModelProto.graph.node[499]');
  });

  it('100k levels of nesting fail cleanly, without a stack overflow', () => {
    const bytes = nestedGraphModel(100_000);
    const e = parseError(bytes, source);
    expect(e.reason).toMatch(/nested deeper/);
    expect(parseError(bytes, source, { maxDepth: 1000 }).reason).toMatch(/limit of 1000 levels/);
  });

  it('deep TypeProto nesting is counted too', () => {
    // value_info { type { sequence_type { elem_type { sequence_type { ... } } } } }
    let inner: number[] = [];
    for (let i = 0; i < 60; i++) inner = ld(4, ld(1, inner));
    const bytes = bytesOf(ld(7, ld(13, ld(2, inner))));
    const e = parseError(bytes, source);
    expect(e.field).toMatch(/^ModelProto\.graph\.value_info\[0\]\.type\.sequence_type\.elem_type\./);
  });
});

describe('options', () => {
  it('rejects invalid options with a RangeError (a programming error, not bad input)', () => {
    const src = memorySource(new Uint8Array(0));
    expect(() => decodeModel(src, { maxDepth: 0 })).toThrow(RangeError);
    expect(() => decodeModel(src, { maxDepth: 100_000 })).toThrow(RangeError);
    expect(() => decodeModel(src, { lazyThreshold: -1 })).toThrow(RangeError);
  });

  it('an empty file is an empty ModelProto (protobuf semantics)', () => {
    expect(decodeModel(memorySource(new Uint8Array(0))).graph).toBeUndefined();
  });
});
