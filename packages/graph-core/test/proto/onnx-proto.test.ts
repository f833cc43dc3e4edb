/**
 * Cross-check against the official schema as compiled by protobufjs (npm `onnx-proto`, onnx.proto of
 * ONNX 1.10.2): it must read what we write, and we must read what it writes. Fields newer than 1.10
 * (metadata_props, overload, FunctionProto.attribute_proto / value_info) are dropped by it, so the
 * comparison strips them from our side.
 */
import { createRequire } from 'node:module';
import type * as OnnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { decodeModelBytes, encodeModelToBytes, type ModelProto } from '../../src/proto/index.ts';
import { bytesOf, fullModel, ld, smallModel, str } from './fixtures.ts';

// onnx-proto is CommonJS (`module.exports = $root`) while its typings declare ES named exports:
// load it through require and take the types from the typings.
const { onnx } = createRequire(import.meta.url)('onnx-proto') as typeof OnnxProto;

const TO_OBJECT = { longs: Number, enums: Number, bytes: Array, defaults: false, arrays: false } as const;

/** Keys that ONNX 1.10's schema does not have (ModelProto.metadata_props is older and stays). */
const NEWER_KEYS = new Set(['metadataProps', 'overload', 'attributeProto', 'unknownFields']);

/** Our model restricted to what onnx.proto 1.10 knows. */
function asOnnx110(m: ModelProto): ModelProto {
  const copy = structuredClone(m);
  const strip = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(strip);
    else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        if (NEWER_KEYS.has(k) && !((o as unknown) === copy && k === 'metadataProps')) delete o[k];
        else strip(o[k]);
      }
    }
  };
  strip(copy);
  for (const f of copy.functions) f.valueInfo = [];
  return copy;
}

/**
 * A comparable form of either side: int64 as numbers, bytes and typed arrays as number arrays, and
 * protobuf defaults ('' / 0 / empty lists / empty messages) dropped, since presence of those is
 * exactly what the two implementations may legitimately differ on.
 */
function normalize(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (ArrayBuffer.isView(v)) return normalize(Array.from(v as Uint8Array));
  if (Array.isArray(v)) {
    // Empty elements are dropped: protobufjs' fromObject silently drops empty `bytes` list
    // elements (our own codec keeps them; round-trip.test.ts checks that).
    const a = v.map(normalize).filter((x) => x !== undefined);
    return a.length > 0 ? a : undefined;
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = normalize(x);
      if (n === undefined || n === '' || n === 0) continue;
      if (typeof n === 'object' && n !== null && !Array.isArray(n) && Object.keys(n).length === 0) continue;
      out[k] = n;
    }
    return out;
  }
  return v;
}

/** Our model in the shape protobufjs' fromObject accepts (int64 beyond 2^53 as decimal strings). */
function toProtobufjsInput(m: ModelProto): Record<string, unknown> {
  const conv = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return v;
    if (ArrayBuffer.isView(v)) return Array.from(v as Float32Array);
    if (Array.isArray(v)) return v.map(conv);
    if (typeof v === 'object' && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = conv(x);
      return out;
    }
    return v;
  };
  return conv(m) as Record<string, unknown>;
}

describe('cross-check with onnx-proto (protobufjs, onnx.proto 1.10.2)', () => {
  for (const [label, build] of [['full model', fullModel], ['small model', smallModel]] as const) {
    it(`onnx-proto decodes what we encode (${label})`, () => {
      const m = build();
      const bytes = encodeModelToBytes(m);
      const theirs = onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), TO_OBJECT);
      const { trainingInfo: _t, ...theirsNoTraining } = theirs as Record<string, unknown>;
      expect(normalize(theirsNoTraining)).toEqual(normalize(asOnnx110(m)));
    });

    it(`we decode what onnx-proto encodes (${label})`, () => {
      const expected = asOnnx110(build());
      const msg = onnx.ModelProto.fromObject(toProtobufjsInput(expected));
      const bytes = onnx.ModelProto.encode(msg).finish();
      const ours = decodeModelBytes(bytes, 'onnx-proto.onnx');
      expect(normalize(ours)).toEqual(normalize(expected));
      // And our re-encoding reads back the same through onnx-proto (up to the presence of defaults:
      // protobufjs writes `domain: ""` when it was set, we omit default values).
      const again = onnx.ModelProto.toObject(onnx.ModelProto.decode(encodeModelToBytes(ours)), TO_OBJECT);
      expect(normalize(again)).toEqual(normalize(onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), TO_OBJECT)));
    });
  }

  it('checks a few values explicitly (int64 edges, floats, bytes)', () => {
    const m = fullModel();
    const theirs = onnx.ModelProto.decode(encodeModelToBytes(m));
    const attrs = theirs.graph?.node?.[0].attribute ?? [];
    const byName = (n: string): (typeof attrs)[number] | undefined => attrs.find((a) => a.name === n);
    expect(String(byName('int_min')?.i)).toBe('-9223372036854775808');
    expect(String(byName('int_max')?.i)).toBe('9223372036854775807');
    expect(String(byName('axis')?.i)).toBe('-1');
    expect(String(byName('beyond_safe')?.i)).toBe('9007199254740993');
    expect(byName('alpha')?.f).toBe(0.25);
    expect(Array.from(byName('binary')?.s ?? [])).toEqual([0, 255, 128, 10]);
    expect(String(theirs.modelVersion)).toBe('9007199254740993');
    const u64 = theirs.graph?.initializer?.find((t) => t.name === 'uint64_data')?.uint64Data ?? [];
    expect(u64.map(String)).toEqual(['0', '1', '9007199254740993', '18446744073709551615']);
  });

  it('keeps a field unknown to us (training_info) that onnx-proto knows', () => {
    const msg = onnx.ModelProto.fromObject({
      irVersion: 7,
      graph: { name: 'g' },
      trainingInfo: [{ initialization: { name: 'init', node: [{ opType: 'Identity', input: ['a'], output: ['b'] }] }, algorithm: { name: 'algo' } }],
    });
    const bytes = onnx.ModelProto.encode(msg).finish();
    const ours = decodeModelBytes(bytes);
    expect(ours.unknownFields).toHaveLength(1);
    const back = onnx.ModelProto.toObject(onnx.ModelProto.decode(encodeModelToBytes(ours)), TO_OBJECT);
    expect(back).toEqual(onnx.ModelProto.toObject(msg, TO_OBJECT));
    // Our own fixture's training_info bytes are what protobufjs expects, too.
    const fromFixture = onnx.ModelProto.decode(bytesOf(ld(20, ld(1, str(2, 'train')))));
    expect(fromFixture.trainingInfo[0].initialization?.name).toBe('train');
  });
});
