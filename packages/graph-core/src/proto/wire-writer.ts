/**
 * Protobuf wire-format writing in two passes over the same emit code (see `encode.ts`):
 *
 * 1. `SizeSink` validates every value, computes the byte size of each sub-message, string and packed
 *    varint field, and records them in pre-order in `slots`;
 * 2. `WriteSink` replays the same calls, takes each length prefix from `slots`, and writes into one
 *    exactly-sized buffer. Byte fields of at least `zeroCopyThreshold` bytes are not copied: they
 *    become chunks of their own in the output rope, between views of that buffer.
 *
 * Both passes are O(n); nothing is copied twice and a 650 MB model costs only its small fields in new
 * memory. Because the writer is driven by the same emit functions as the sizer, the two cannot
 * disagree about order; a final check turns any drift (a model mutated by `resolveLazy`) into an error.
 */
import { FuselabError } from '../errors.ts';
import type { Bytes, Int64, LazyBytes, UnknownFields } from './onnx-types.ts';
import { formatFieldPath } from './schema.ts';
import { LITTLE_ENDIAN } from './wire-reader.ts';

/** The model cannot be encoded (a value out of range, a LazyBytes without a resolver, ...). */
export class OnnxEncodeError extends FuselabError {
  /** Dotted field path of the offending value, e.g. `ModelProto.graph.node[3].attribute[0].i`. */
  readonly field: string;
  constructor(reason: string, field: string) {
    super('ONNX_ENCODE', `cannot encode ${field}: ${reason}`);
    this.field = field;
  }
}

/** The output of an encoder: the bytes are the concatenation of `chunks`. */
export interface EncodedModel {
  readonly chunks: Uint8Array[];
  readonly byteLength: number;
}

const TWO_32 = 4294967296;
const TWO_63 = 2 ** 63;
const TWO_64 = 2 ** 64;
const INT64_MIN_BIG = -(1n << 63n);
const INT64_MAX_BIG = (1n << 63n) - 1n;
const UINT64_MAX_BIG = (1n << 64n) - 1n;

const LEN = 2;

const utf8Encoder = new TextEncoder();

/** The calls an emit function makes; implemented by the sizing pass and the writing pass. */
export interface FieldSink {
  /** int64 varint (two's complement, 10 bytes when negative). */
  int64(field: number, v: Int64): void;
  /** uint64 varint. */
  uint64(field: number, v: Int64): void;
  /** int32 / enum varint. */
  int32(field: number, v: number): void;
  /** fixed32 float. */
  float(field: number, v: number): void;
  string(field: number, s: string): void;
  bytes(field: number, b: Bytes): void;
  /** Packed repeated fields; callers skip empty lists (protoc writes nothing for them). */
  packedInt64(field: number, vs: readonly Int64[]): void;
  packedUint64(field: number, vs: readonly Int64[]): void;
  packedInt32(field: number, vs: ArrayLike<number>): void;
  packedFloat32(field: number, vs: Float32Array | readonly number[]): void;
  packedFloat64(field: number, vs: Float64Array): void;
  /** Opens a sub-message of message type `type` (schema id) in `field`; `index` is its list index or -1. */
  begin(field: number, type: number, index: number): void;
  end(): void;
  /** Raw unknown fields, re-emitted verbatim. */
  unknown(raw: UnknownFields | undefined): void;
}

// -------------------------------------------------------------------------------------------------
// Varint arithmetic

let splitLo = 0;
let splitHi = 0;

/** Splits a validated int64/uint64 into two's-complement 32-bit halves (`splitLo`, `splitHi`). */
function split64(v: Int64): void {
  if (typeof v === 'number') {
    if (v >= 0) {
      splitLo = v % TWO_32;
      splitHi = Math.floor(v / TWO_32) >>> 0;
    } else {
      const m = -v;
      const lo = m % TWO_32;
      const hi = Math.floor(m / TWO_32);
      splitLo = (~lo + 1) >>> 0;
      splitHi = (~hi + (splitLo === 0 ? 1 : 0)) >>> 0;
    }
  } else {
    const u = BigInt.asUintN(64, v);
    splitLo = Number(u & 0xffffffffn);
    splitHi = Number(u >> 32n);
  }
}

/** Bytes of a varint < 2^32. */
export function varintSize32(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

/** Bytes of a varint given its 32-bit halves. */
function varintSize64(lo: number, hi: number): number {
  if (hi === 0) return varintSize32(lo);
  return Math.ceil((64 - Math.clz32(hi)) / 7);
}

/** Bytes of a non-negative integer (< 2^53) as a varint: lengths. */
export function varintSizeNumber(v: number): number {
  if (v < TWO_32) return varintSize32(v);
  return varintSize64(v % TWO_32, Math.floor(v / TWO_32));
}

/** Bytes of an int64 varint (10 for any negative value). */
export function int64Size(v: Int64): number {
  if (typeof v === 'number' && v >= 0 && v < TWO_32) return varintSize32(v);
  split64(v);
  return varintSize64(splitLo, splitHi);
}

function int32Size(v: number): number {
  return v >= 0 ? varintSize32(v) : 10;
}

function tagSize(field: number): number {
  return varintSize32(field * 8);
}

/** UTF-8 byte length of a JS string (lone surrogates count as U+FFFD, as TextEncoder writes them). */
export function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) len += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      len += 2; // 4 bytes for 2 UTF-16 units
      i++;
    } else len += 2;
  }
  return len;
}

function isLazy(b: unknown): b is LazyBytes {
  return typeof b === 'object' && b !== null && (b as { kind?: unknown }).kind === 'lazy';
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  return v === null ? 'null' : typeof v;
}

// -------------------------------------------------------------------------------------------------
// Pass 1: sizes and validation

/** Options shared by both passes. */
export interface WirePassOptions {
  /** Message id of the root (for error paths). */
  rootType: number;
  /** Byte fields at least this long become zero-copy chunks. */
  zeroCopyThreshold: number;
  /** Whether LazyBytes can be resolved in pass 2. */
  canResolveLazy: boolean;
  /** Refuse deeper message nesting (guards against cyclic object graphs). */
  maxDepth: number;
}

/** Pass 1: validates values and computes sizes (see the file comment). */
export class SizeSink implements FieldSink {
  /** Total encoded size of everything emitted so far (the root message's body at the end). */
  size = 0;
  /** Bytes that will be emitted as zero-copy chunks rather than copied. */
  big = 0;
  /** Pre-order sizes of sub-messages, strings and packed varint fields, consumed by `WriteSink`. */
  readonly slots: number[] = [];

  private depth = 0;
  private readonly threshold: number;
  private readonly canResolveLazy: boolean;
  private readonly maxDepth: number;
  private readonly starts: number[] = [];
  private readonly slotIndex: number[] = [];
  private readonly types: Int32Array;
  private readonly fields: Int32Array;
  private readonly indices: Int32Array;

  constructor(options: WirePassOptions) {
    this.threshold = options.zeroCopyThreshold;
    this.canResolveLazy = options.canResolveLazy;
    this.maxDepth = options.maxDepth;
    this.types = new Int32Array(options.maxDepth + 2);
    this.fields = new Int32Array(options.maxDepth + 2);
    this.indices = new Int32Array(options.maxDepth + 2).fill(-1);
    this.types[0] = options.rootType;
  }

  private fail(field: number, reason: string): never {
    this.fields[this.depth] = field;
    this.indices[this.depth] = -1;
    throw new OnnxEncodeError(reason, formatFieldPath(this.types, this.fields, this.indices, this.depth));
  }

  private checkInt64(field: number, v: Int64, unsigned: boolean): void {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) this.fail(field, `${describe(v)} is not an integer`);
      if (unsigned ? v < 0 || v >= TWO_64 : v < -TWO_63 || v >= TWO_63) {
        this.fail(field, `${describe(v)} is outside the ${unsigned ? 'uint64' : 'int64'} range`);
      }
    } else if (typeof v === 'bigint') {
      if (unsigned ? v < 0n || v > UINT64_MAX_BIG : v < INT64_MIN_BIG || v > INT64_MAX_BIG) {
        this.fail(field, `${describe(v)} is outside the ${unsigned ? 'uint64' : 'int64'} range`);
      }
    } else {
      this.fail(field, `expected an integer (number or bigint), got ${describe(v)}`);
    }
  }

  int64(field: number, v: Int64): void {
    this.checkInt64(field, v, false);
    this.size += tagSize(field) + int64Size(v);
  }

  uint64(field: number, v: Int64): void {
    this.checkInt64(field, v, true);
    this.size += tagSize(field) + int64Size(v);
  }

  int32(field: number, v: number): void {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
      this.fail(field, `expected a 32-bit integer, got ${describe(v)}`);
    }
    this.size += tagSize(field) + int32Size(v);
  }

  float(field: number, v: number): void {
    if (typeof v !== 'number') this.fail(field, `expected a number, got ${describe(v)}`);
    this.size += tagSize(field) + 4;
  }

  string(field: number, s: string): void {
    if (typeof s !== 'string') this.fail(field, `expected a string, got ${describe(s)}`);
    const len = utf8Length(s);
    this.slots.push(len);
    this.size += tagSize(field) + varintSizeNumber(len) + len;
  }

  bytes(field: number, b: Bytes): void {
    let len: number;
    if (b instanceof Uint8Array) len = b.byteLength;
    else if (isLazy(b)) {
      if (!this.canResolveLazy) {
        this.fail(field, `it is LazyBytes (offset ${b.offset}, length ${b.length}) that was not read from the source; pass options.resolveLazy to read it, e.g. (lazy) => source.read(lazy.offset, lazy.length)`);
      }
      len = b.length;
      if (!Number.isSafeInteger(len) || len < 0) this.fail(field, `LazyBytes length ${describe(len)} is not a valid length`);
    } else {
      return this.fail(field, `expected a Uint8Array or LazyBytes, got ${describe(b)}`);
    }
    if (len >= this.threshold) this.big += len;
    this.size += tagSize(field) + varintSizeNumber(len) + len;
  }

  packedInt64(field: number, vs: readonly Int64[]): void {
    let len = 0;
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      this.checkInt64(field, v, false);
      len += int64Size(v);
    }
    this.packed(field, len);
  }

  packedUint64(field: number, vs: readonly Int64[]): void {
    let len = 0;
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      this.checkInt64(field, v, true);
      len += int64Size(v);
    }
    this.packed(field, len);
  }

  packedInt32(field: number, vs: ArrayLike<number>): void {
    let len = 0;
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        this.fail(field, `element ${i}: expected a 32-bit integer, got ${describe(v)}`);
      }
      len += int32Size(v);
    }
    this.packed(field, len);
  }

  private packed(field: number, len: number): void {
    this.slots.push(len);
    this.size += tagSize(field) + varintSizeNumber(len) + len;
  }

  packedFloat32(field: number, vs: Float32Array | readonly number[]): void {
    const len = vs.length * 4;
    if (vs instanceof Float32Array) {
      if (LITTLE_ENDIAN && len >= this.threshold) this.big += len;
    } else {
      for (let i = 0; i < vs.length; i++) {
        if (typeof vs[i] !== 'number') this.fail(field, `element ${i}: expected a number, got ${describe(vs[i])}`);
      }
    }
    this.size += tagSize(field) + varintSizeNumber(len) + len;
  }

  packedFloat64(field: number, vs: Float64Array): void {
    if (!(vs instanceof Float64Array)) this.fail(field, `expected a Float64Array, got ${describe(vs)}`);
    const len = vs.length * 8;
    if (LITTLE_ENDIAN && len >= this.threshold) this.big += len;
    this.size += tagSize(field) + varintSizeNumber(len) + len;
  }

  begin(field: number, type: number, index: number): void {
    const d = this.depth;
    if (d >= this.maxDepth) this.fail(field, `messages are nested deeper than ${this.maxDepth} levels (a cycle in the model objects?)`);
    this.fields[d] = field;
    this.indices[d] = index;
    this.slotIndex.push(this.slots.length);
    this.slots.push(0);
    this.starts.push(this.size);
    this.depth = d + 1;
    this.types[d + 1] = type;
    this.fields[d + 1] = 0;
    this.indices[d + 1] = -1;
  }

  end(): void {
    this.depth--;
    const field = this.fields[this.depth];
    const len = this.size - (this.starts.pop() as number);
    this.slots[this.slotIndex.pop() as number] = len;
    this.size += tagSize(field) + varintSizeNumber(len);
  }

  unknown(raw: UnknownFields | undefined): void {
    if (raw === undefined) return;
    if (!Array.isArray(raw)) this.fail(0, `unknownFields must be an array of Uint8Array, got ${describe(raw)}`);
    for (const r of raw) {
      if (!(r instanceof Uint8Array)) this.fail(0, `unknownFields must hold Uint8Array, got ${describe(r)}`);
      if (r.byteLength >= this.threshold) this.big += r.byteLength;
      this.size += r.byteLength;
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Pass 2: writing

/** Pass 2: writes the bytes (see the file comment). */
export class WriteSink implements FieldSink {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private pos = 0;
  private segStart = 0;
  private cursor = 0;
  private readonly chunks: Uint8Array[] = [];
  private readonly slots: readonly number[];
  private readonly threshold: number;
  private readonly resolveLazy: ((lazy: LazyBytes) => Uint8Array) | undefined;

  /**
   * @param smallBytes size of the copied part (`SizeSink.size - SizeSink.big`)
   * @param slots `SizeSink.slots`
   */
  constructor(smallBytes: number, slots: readonly number[], zeroCopyThreshold: number, resolveLazy?: (lazy: LazyBytes) => Uint8Array) {
    this.buf = new Uint8Array(smallBytes);
    this.view = new DataView(this.buf.buffer);
    this.slots = slots;
    this.threshold = zeroCopyThreshold;
    this.resolveLazy = resolveLazy;
  }

  /** Ends writing and returns the rope; checks that both passes agreed. */
  finish(expectedSize: number): EncodedModel {
    if (this.pos !== this.buf.byteLength || this.cursor !== this.slots.length) {
      throw new OnnxEncodeError(
        `internal size mismatch (wrote ${this.pos} of ${this.buf.byteLength} bytes, ${this.cursor} of ${this.slots.length} sizes): was the model changed while it was being encoded?`,
        'ModelProto',
      );
    }
    if (this.pos > this.segStart) this.chunks.push(this.buf.subarray(this.segStart, this.pos));
    return { chunks: this.chunks, byteLength: expectedSize };
  }

  private varint32(v: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  private varint64(lo: number, hi: number): void {
    const buf = this.buf;
    let pos = this.pos;
    while (hi !== 0 || lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  /** A non-negative length (< 2^53). */
  private len(v: number): void {
    if (v < TWO_32) this.varint32(v);
    else this.varint64(v % TWO_32, Math.floor(v / TWO_32));
  }

  private tag(field: number, wire: number): void {
    this.varint32(field * 8 + wire);
  }

  /** Appends bytes: copied when small, as their own chunk (zero-copy) when large. */
  private payload(b: Uint8Array): void {
    if (b.byteLength >= this.threshold) {
      if (this.pos > this.segStart) this.chunks.push(this.buf.subarray(this.segStart, this.pos));
      this.chunks.push(b);
      this.segStart = this.pos;
    } else {
      this.buf.set(b, this.pos);
      this.pos += b.byteLength;
    }
  }

  int64(field: number, v: Int64): void {
    this.tag(field, 0);
    if (typeof v === 'number' && v >= 0 && v < TWO_32) this.varint32(v);
    else {
      split64(v);
      this.varint64(splitLo, splitHi);
    }
  }

  uint64(field: number, v: Int64): void {
    this.int64(field, v);
  }

  int32(field: number, v: number): void {
    this.tag(field, 0);
    if (v >= 0) this.varint32(v);
    else this.varint64(v >>> 0, 0xffffffff);
  }

  float(field: number, v: number): void {
    this.tag(field, 5);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  string(field: number, s: string): void {
    this.tag(field, LEN);
    const len = this.slots[this.cursor++];
    this.len(len);
    const buf = this.buf;
    let pos = this.pos;
    if (len === s.length) {
      for (let i = 0; i < len; i++) buf[pos++] = s.charCodeAt(i);
    } else {
      const { written } = utf8Encoder.encodeInto(s, buf.subarray(pos, pos + len));
      pos += written;
    }
    this.pos = pos;
  }

  bytes(field: number, b: Bytes): void {
    this.tag(field, LEN);
    if (b instanceof Uint8Array) {
      this.len(b.byteLength);
      this.payload(b);
      return;
    }
    const resolve = this.resolveLazy;
    const data = resolve === undefined ? undefined : resolve(b);
    if (!(data instanceof Uint8Array) || data.byteLength !== b.length) {
      throw new OnnxEncodeError(
        `resolveLazy returned ${data instanceof Uint8Array ? `${data.byteLength} bytes` : describe(data)} for LazyBytes of length ${b.length} at offset ${b.offset}`,
        'ModelProto (a LazyBytes field)',
      );
    }
    this.len(data.byteLength);
    this.payload(data);
  }

  packedInt64(field: number, vs: readonly Int64[]): void {
    this.tag(field, LEN);
    this.len(this.slots[this.cursor++]);
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      if (typeof v === 'number' && v >= 0 && v < TWO_32) this.varint32(v);
      else {
        split64(v);
        this.varint64(splitLo, splitHi);
      }
    }
  }

  packedUint64(field: number, vs: readonly Int64[]): void {
    this.packedInt64(field, vs);
  }

  packedInt32(field: number, vs: ArrayLike<number>): void {
    this.tag(field, LEN);
    this.len(this.slots[this.cursor++]);
    for (let i = 0; i < vs.length; i++) {
      const v = vs[i];
      if (v >= 0) this.varint32(v);
      else this.varint64(v >>> 0, 0xffffffff);
    }
  }

  packedFloat32(field: number, vs: Float32Array | readonly number[]): void {
    const len = vs.length * 4;
    this.tag(field, LEN);
    this.len(len);
    if (vs instanceof Float32Array && LITTLE_ENDIAN) {
      this.payload(new Uint8Array(vs.buffer, vs.byteOffset, len));
      return;
    }
    const view = this.view;
    let pos = this.pos;
    for (let i = 0; i < vs.length; i++, pos += 4) view.setFloat32(pos, vs[i], true);
    this.pos = pos;
  }

  packedFloat64(field: number, vs: Float64Array): void {
    const len = vs.length * 8;
    this.tag(field, LEN);
    this.len(len);
    if (LITTLE_ENDIAN) {
      this.payload(new Uint8Array(vs.buffer, vs.byteOffset, len));
      return;
    }
    const view = this.view;
    let pos = this.pos;
    for (let i = 0; i < vs.length; i++, pos += 8) view.setFloat64(pos, vs[i], true);
    this.pos = pos;
  }

  begin(field: number): void {
    this.tag(field, LEN);
    this.len(this.slots[this.cursor++]);
  }

  end(): void {
    // Sizes were known up front: nothing to patch.
  }

  unknown(raw: UnknownFields | undefined): void {
    if (raw === undefined) return;
    for (const r of raw) this.payload(r);
  }
}
