/**
 * A small structure-aware mutation fuzzer for the ONNX decoder, shared by the bounded CI test
 * (`fuzz.test.ts`) and the long on-demand run (`scripts/fuzz.ts`).
 *
 * Mutations: bit flips, interesting-byte overwrites, byte insertion and deletion, edits of protobuf
 * length prefixes found by a tolerant scan (small deltas, zero, huge values), over-long varints,
 * truncation, range duplication and splices from other corpus inputs. Every case must either decode
 * or throw `OnnxParseError`; a decoded case must also re-encode stably.
 */
import { OnnxParseError } from '../../src/errors.ts';
import { memorySource, type RandomAccessSource } from '../../src/io/byte-source.ts';
import { decodeModel, encodeModelToBytes, type LazyBytes, type ModelProto } from '../../src/proto/index.ts';

/** Seeded PRNG (mulberry32): uniform uint32s. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** A uniform uint32. */
  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** A uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.u32() % n;
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

export function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.u32() & 0xff;
  return out;
}

function encodeVarint(v: number): number[] {
  const out: number[] = [];
  let x = v;
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
  return out;
}

/** Position and size of a length prefix found in the input. */
interface LengthField {
  offset: number;
  size: number;
  value: number;
}

/**
 * Tolerantly scans protobuf bytes for length prefixes, recursing into payloads that parse as
 * messages. Stops quietly at the first thing that does not look like protobuf.
 */
export function findLengthFields(bytes: Uint8Array, start = 0, end = bytes.length, out: LengthField[] = [], depth = 0): LengthField[] {
  let pos = start;
  const readVarint = (): number | undefined => {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10; k++) {
      if (pos >= end) return undefined;
      const b = bytes[pos++];
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    return undefined;
  };
  while (pos < end && out.length < 10_000) {
    const tag = readVarint();
    if (tag === undefined || tag < 8) return out;
    const wire = tag % 8;
    if (wire === 0) {
      if (readVarint() === undefined) return out;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const offset = pos;
      const len = readVarint();
      if (len === undefined || pos + len > end) return out;
      out.push({ offset, size: pos - offset, value: len });
      if (depth < 64 && len > 0) findLengthFields(bytes, pos, pos + len, out, depth + 1);
      pos += len;
    } else return out;
  }
  return out;
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x08, 0x0a, 0x12, 0x3a, 0x42];
const HUGE_LENGTHS = [2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53 - 1];

export const MUTATIONS = ['bitflip', 'byte', 'insert', 'delete', 'length', 'varint', 'truncate', 'duplicate', 'splice'] as const;
export type Mutation = (typeof MUTATIONS)[number];

/** Applies one mutation; `corpus` feeds splices. */
export function mutateOnce(input: Uint8Array, rng: Rng, corpus: readonly Uint8Array[], kind: Mutation = rng.pick(MUTATIONS)): Uint8Array {
  const n = input.length;
  if (n === 0) return randomBytes(rng, 1 + rng.int(16));
  switch (kind) {
    case 'bitflip': {
      const out = input.slice();
      for (let k = 1 + rng.int(4); k > 0; k--) out[rng.int(n)] ^= 1 << rng.int(8);
      return out;
    }
    case 'byte': {
      const out = input.slice();
      for (let k = 1 + rng.int(3); k > 0; k--) out[rng.int(n)] = rng.chance(0.5) ? rng.pick(INTERESTING) : rng.u32() & 0xff;
      return out;
    }
    case 'insert':
      return splice(input, rng.int(n + 1), 0, rng.chance(0.5) ? randomBytes(rng, 1 + rng.int(16)) : [rng.pick(INTERESTING)]);
    case 'delete': {
      const at = rng.int(n);
      return splice(input, at, 1 + rng.int(Math.min(32, n - at)), []);
    }
    case 'length': {
      const fields = findLengthFields(input);
      if (fields.length === 0) return mutateOnce(input, rng, corpus, 'bitflip');
      const f = rng.pick(fields);
      const r = rng.int(4);
      const value = r === 0 ? 0 : r === 1 ? rng.pick(HUGE_LENGTHS) : Math.max(0, f.value + rng.int(9) - 4);
      return splice(input, f.offset, f.size, encodeVarint(value));
    }
    case 'varint': {
      // An over-long run of continuation bytes.
      const run = new Array<number>(8 + rng.int(6)).fill(0xff);
      return splice(input, rng.int(n), 0, run);
    }
    case 'truncate':
      return input.subarray(0, rng.int(n));
    case 'duplicate': {
      const from = rng.int(n);
      const len = 1 + rng.int(Math.min(64, n - from));
      return splice(input, rng.int(n + 1), 0, input.subarray(from, from + len));
    }
    case 'splice': {
      const other = rng.pick(corpus);
      if (other.length === 0) return input;
      const from = rng.int(other.length);
      const len = 1 + rng.int(Math.min(256, other.length - from));
      const at = rng.int(n + 1);
      return splice(input, at, rng.chance(0.5) ? rng.int(Math.min(len, n - at) + 1) : 0, other.subarray(from, from + len));
    }
  }
}

/** One to four stacked mutations. */
export function mutate(input: Uint8Array, rng: Rng, corpus: readonly Uint8Array[]): Uint8Array {
  let out = input;
  for (let k = 1 + (rng.chance(0.3) ? rng.int(4) : 0); k > 0; k--) out = mutateOnce(out, rng, corpus);
  return out;
}

/** A streaming source over `bytes` (no `bytes` property): exercises the window refill paths. */
export function streamingSource(bytes: Uint8Array): RandomAccessSource {
  return {
    name: 'fuzz-stream',
    byteLength: bytes.byteLength,
    read: (offset: number, length: number): Uint8Array => bytes.slice(offset, offset + length),
  };
}

export type CaseResult = { kind: 'ok' } | { kind: 'parse-error'; reason: string };

/** How a case is decoded: from memory, streamed through a 64-byte window, or streamed with lazy raw_data. */
export type DecodeMode = 'memory' | 'stream' | 'stream-lazy';

interface Outcome {
  model?: ModelProto;
  error?: OnnxParseError;
}

function decodeOutcome(bytes: Uint8Array, mode: DecodeMode): Outcome {
  try {
    if (mode === 'memory') return { model: decodeModel(memorySource(bytes, 'fuzz')) };
    const lazyThreshold = mode === 'stream-lazy' ? 16 : Number.POSITIVE_INFINITY;
    return { model: decodeModel(streamingSource(bytes), { windowSize: 64, lazyThreshold }) };
  } catch (e) {
    if (e instanceof OnnxParseError) return { error: e };
    throw e;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Decodes one input. Returns 'ok' or the parse error's reason; throws on anything that is a bug:
 * an error other than `OnnxParseError`, a decoded model that does not re-encode stably, or (for the
 * streaming modes) any disagreement with the in-memory decode (same error at the same offset and
 * field, or models that encode to the same bytes).
 */
export function runCase(bytes: Uint8Array, mode: DecodeMode): CaseResult {
  const mem = decodeOutcome(bytes, 'memory');
  if (mode !== 'memory') {
    const other = decodeOutcome(bytes, mode);
    if (mem.error !== undefined || other.error !== undefined) {
      const describe = (e: OnnxParseError | undefined): string => (e === undefined ? 'decoded' : `${e.reason} at byte ${e.offset} (${e.field})`);
      const a = describe(mem.error);
      const b = describe(other.error);
      if (a !== b) throw new Error(`memory and ${mode} decodes disagree:\n  memory: ${a}\n  ${mode}: ${b}`);
    } else if (mem.model !== undefined && other.model !== undefined) {
      const resolveLazy = (l: LazyBytes): Uint8Array => bytes.subarray(l.offset, l.offset + l.length);
      if (!sameBytes(encodeModelToBytes(mem.model), encodeModelToBytes(other.model, { resolveLazy }))) {
        throw new Error(`memory and ${mode} decodes give different models`);
      }
    }
  }
  if (mem.error !== undefined) return { kind: 'parse-error', reason: mem.error.reason };
  const once = encodeModelToBytes(mem.model as ModelProto);
  const twice = encodeModelToBytes(decodeModel(memorySource(once, 'fuzz-reencoded')));
  if (!sameBytes(once, twice)) throw new Error('re-encoding a decoded fuzz case is not stable');
  return { kind: 'ok' };
}

/** Groups parse-error reasons by their text without numbers (for stats). */
export function reasonKey(reason: string): string {
  return reason.replace(/\[[^\]]*\]/g, '[…]').replace(/-?\d+/g, 'N');
}
