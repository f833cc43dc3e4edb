import { describe, expect, it } from 'vitest';
import { memorySource } from '../../src/io/byte-source.ts';
import { concatChunks, decodeModel, decodeModelBytes, encodeModel, encodeModelToBytes, type LazyBytes, type TensorProto } from '../../src/proto/index.ts';
import { AttributeType, DataType } from '../../src/proto/onnx-types.ts';
import { countingSource, fullModel, graph, model, node, pseudoBytes, ropeSource, syntheticModel, tensor, utf8 } from './fixtures.ts';

const isLazy = (b: unknown): b is LazyBytes => typeof b === 'object' && b !== null && (b as LazyBytes).kind === 'lazy';
/** Fast byte equality (vitest's deep equality walks MB-sized arrays element by element). */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('zero-copy decoding from memory', () => {
  it('returns raw_data and bytes attributes as views of the input buffer', () => {
    const bytes = encodeModelToBytes(fullModel());
    const m = decodeModelBytes(bytes);
    const big = m.graph?.initializer.find((t) => t.name === 'big_weight')?.rawData;
    expect(big).toBeInstanceOf(Uint8Array);
    expect((big as Uint8Array).buffer).toBe(bytes.buffer);
    expect(sameBytes(big as Uint8Array, pseudoBytes(64 * 64 * 4, 99))).toBe(true);
    const s = m.graph?.node[0].attribute.find((a) => a.name === 'mode')?.s;
    expect(s?.buffer).toBe(bytes.buffer);
    // Also when the input is itself a view into a larger buffer.
    const padded = new Uint8Array(bytes.byteLength + 10);
    padded.set(bytes, 7);
    const view = padded.subarray(7, 7 + bytes.byteLength);
    const m2 = decodeModelBytes(view);
    const big2 = m2.graph?.initializer.find((t) => t.name === 'big_weight')?.rawData as Uint8Array;
    expect(big2.buffer).toBe(padded.buffer);
    expect(sameBytes(big2, big as Uint8Array)).toBe(true);
  });

  it('never returns LazyBytes for an in-memory source, whatever the threshold', () => {
    const m = decodeModel(memorySource(encodeModelToBytes(fullModel())), { lazyThreshold: 0 });
    for (const t of m.graph?.initializer ?? []) expect(isLazy(t.rawData)).toBe(false);
  });
});

describe('streaming decode (source without bytes)', () => {
  it('leaves big raw_data unread as LazyBytes with correct offsets and reads little of the file', () => {
    const big = pseudoBytes(3 << 20, 11);
    const small = pseudoBytes(1000, 12);
    const m = model(
      graph('g', {
        node: [node('MatMul', ['x', 'w0'], ['y'], { attribute: [{ name: 'note', type: AttributeType.STRING, s: utf8('kept') }] })],
        initializer: [
          tensor('w0', DataType.FLOAT, [big.length / 4], { rawData: big }),
          tensor('b0', DataType.FLOAT, [250], { rawData: small }),
          tensor('w1', DataType.FLOAT, [big.length / 4], { rawData: big.subarray(0, 2 << 20) }),
        ],
      }),
    );
    const encoded = encodeModel(m);
    const file = concatChunks(encoded);
    const source = countingSource(file);
    const decoded = decodeModel(source);

    const [w0, b0, w1] = decoded.graph?.initializer ?? [];
    expect(isLazy(w0.rawData)).toBe(true);
    expect(isLazy(w1.rawData)).toBe(true);
    const lazy0 = w0.rawData as LazyBytes;
    const lazy1 = w1.rawData as LazyBytes;
    expect(lazy0.length).toBe(big.length);
    expect(lazy1.length).toBe(2 << 20);
    expect(sameBytes(file.subarray(lazy0.offset, lazy0.offset + lazy0.length), big)).toBe(true);
    expect(sameBytes(file.subarray(lazy1.offset, lazy1.offset + lazy1.length), big.subarray(0, 2 << 20))).toBe(true);
    // Small fields are decoded, and are private copies (not views of a reused read buffer).
    expect(b0.rawData).toEqual(small);
    expect((b0.rawData as Uint8Array).buffer).not.toBe(file.buffer);
    expect(decoded.graph?.node[0].attribute[0].s).toEqual(utf8('kept'));
    expect(decoded.graph?.node[0].input).toEqual(['x', 'w0']);

    expect(source.bytesRead).toBeLessThan(file.byteLength / 20);

    // Everything else equals the in-memory decode.
    const inMemory = decodeModelBytes(file);
    const strip = (ts: TensorProto[]): unknown[] => ts.map(({ rawData: _r, ...rest }) => rest);
    expect(strip(decoded.graph?.initializer ?? [])).toEqual(strip(inMemory.graph?.initializer ?? []));
    expect(decoded.graph?.node).toEqual(inMemory.graph?.node);
  });

  it('re-encodes a streamed model byte-identically with resolveLazy', () => {
    const file = concatChunks(encodeModel(syntheticModel(50, 8, 2 << 20)));
    const source = countingSource(file);
    const decoded = decodeModel(source);
    expect(decoded.graph?.initializer.every((t) => isLazy(t.rawData))).toBe(true);
    const again = encodeModelToBytes(decoded, { resolveLazy: (l) => source.read(l.offset, l.length) });
    expect(Buffer.from(again).equals(Buffer.from(file))).toBe(true);
  });

  it('streams a 600 MB, 1300-node model reading only a few MB', () => {
    const encoded = encodeModel(syntheticModel(1300, 200, 3 << 20));
    const source = ropeSource(encoded);
    const decoded = decodeModel(source);
    expect(decoded.graph?.node).toHaveLength(1300);
    expect(decoded.graph?.initializer).toHaveLength(200);
    const lazies = (decoded.graph?.initializer ?? []).map((t) => t.rawData as LazyBytes);
    expect(lazies.every(isLazy)).toBe(true);
    // Offsets point at the right bytes (spot check first and last).
    for (const l of [lazies[0], lazies[199]]) {
      expect(source.read(l.offset, 64)).toEqual(pseudoBytes(3 << 20, 5).subarray(0, 64));
    }
    expect(source.byteLength).toBeGreaterThan(600e6);
    expect(source.bytesRead).toBeLessThan(20e6);
  });

  it('honours lazyThreshold and a smaller window', () => {
    const file = encodeModelToBytes(fullModel());
    const decoded = decodeModel(countingSource(file), { lazyThreshold: 100, windowSize: 256 });
    const inits = decoded.graph?.initializer ?? [];
    expect(isLazy(inits.find((t) => t.name === 'big_weight')?.rawData)).toBe(true);
    expect(isLazy(inits.find((t) => t.name === 'raw_FLOAT')?.rawData)).toBe(false);
    // Only raw_data becomes lazy; other large bytes fields stay decoded.
    expect(decoded.graph?.node[0].attribute.find((a) => a.name === 'body')?.g?.node.length).toBeGreaterThan(0);
  });
});
