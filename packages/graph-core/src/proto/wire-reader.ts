/**
 * A fast protobuf wire-format reader, in the spirit of Netron's: hand-unrolled varints, zero-copy
 * `subarray` views for bytes fields when the whole file is in memory, and a sliding window over a
 * `RandomAccessSource` otherwise, so a multi-GB file is never held in memory at once.
 *
 * Positions (`pos`, message limits) are absolute byte offsets in the source. The reader also keeps
 * the stack of messages being decoded (message id, field in progress, element index) so that every
 * `OnnxParseError` names the dotted field path and the byte offset where the bytes went wrong.
 *
 * Bounds: length prefixes and fixed-width values are checked against the enclosing message's limit
 * before they are read. Varints are decoded unchecked while at least 10 bytes are buffered (the hot
 * path) and with per-byte checks near the end of the buffer; a varint that strays past its message's
 * limit is caught by `endMessage`, which requires every message to end exactly at its limit.
 */
import type { RandomAccessSource } from '../io/byte-source.ts';
import { OnnxParseError } from '../errors.ts';
import type { Int64 } from './onnx-types.ts';
import { fieldInfo, formatFieldPath } from './schema.ts';

/** Protobuf wire types. */
export const WireType = {
  VARINT: 0,
  FIXED64: 1,
  LEN: 2,
  START_GROUP: 3,
  END_GROUP: 4,
  FIXED32: 5,
} as const;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', 'invalid (6)', 'invalid (7)'];

const TWO_32 = 4294967296;
/** Largest high word of a value that is still a safe integer (hi * 2^32 + lo <= 2^53 - 1). */
const SAFE_HI = 0x1fffff;
/** Strings up to this many bytes are built with `String.fromCharCode` when ASCII; longer ones use TextDecoder. */
const SHORT_STRING = 12;

/** True on every platform JS engines ship on today; typed-array fast paths depend on it. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Shared decoder. `ignoreBOM` keeps a leading U+FEFF (it is data, not a marker, inside a name). */
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });

/** Two's-complement int64 from its 32-bit halves: a number when it is a safe integer, else a bigint. */
export function int64FromParts(lo: number, hi: number): Int64 {
  if (hi <= SAFE_HI) return hi * TWO_32 + lo;
  if (hi < 0x80000000) return (BigInt(hi) << 32n) | BigInt(lo);
  // Negative: magnitude = two's complement of (hi, lo).
  const nlo = (~lo + 1) >>> 0;
  const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
  if (nhi <= SAFE_HI) return -(nhi * TWO_32 + nlo);
  return -((BigInt(nhi) << 32n) | BigInt(nlo));
}

/** Unsigned uint64 from its 32-bit halves: a number when it is a safe integer, else a bigint. */
export function uint64FromParts(lo: number, hi: number): Int64 {
  if (hi <= SAFE_HI) return hi * TWO_32 + lo;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export interface WireReaderOptions {
  /** Message id of the root message (for error paths). */
  rootType: number;
  /** Maximum nesting of messages below the root. */
  maxDepth: number;
  /** Maximum number of sub-messages in the whole input (bounds memory amplification). */
  maxMessages: number;
  /** Keep the raw bytes of unknown fields (`unknownField` returns them) or skip them without allocating. */
  keepUnknownFields: boolean;
  /** Streaming only: the largest read-ahead window in bytes. Fields larger than it are read on their own. */
  maxWindow: number;
  /** Streaming only: the window size after a jump (a skipped lazy field); it doubles while reading sequentially. */
  minWindow: number;
}

/**
 * Reads protobuf wire data from a `RandomAccessSource`. Decoders call `tag()` in a loop while
 * `pos < limit`, dispatch on the tag, and finish every message with `endMessage(limit)`.
 */
export class WireReader {
  /** Absolute offset of the next byte to read. */
  pos = 0;
  /** Total size of the source. */
  readonly fileEnd: number;
  /** True when the whole source is in memory: bytes fields are zero-copy views. */
  readonly inMemory: boolean;
  /** Number of `source.read` calls made (streaming). */
  readCalls = 0;
  /** Bytes requested through `source.read` (streaming). */
  bytesRead = 0;
  /** Depth of the message being decoded; the root is 0. */
  depth = 0;

  private readonly source: RandomAccessSource;
  private readonly keepUnknown: boolean;
  private readonly maxDepth: number;
  private readonly maxMessages: number;
  /** Sub-messages still allowed before `maxMessages` is exceeded. */
  private messageBudget: number;
  private readonly maxWindow: number;
  private readonly minWindow: number;
  private nextWindow: number;
  /** The buffered window, covering absolute offsets [base, bufEnd). */
  private buf: Uint8Array;
  private base = 0;
  private bufEnd: number;
  private view: DataView;
  /** High 32 bits of the last varint (its low 32 bits are the return value). */
  private hi = 0;
  /** Offset of the tag of the field in progress. */
  private tagPos = 0;
  /** Path stack, indexed by depth. */
  private readonly types: Int32Array;
  private readonly fields: Int32Array;
  private readonly indices: Int32Array;

  constructor(source: RandomAccessSource, options: WireReaderOptions) {
    this.source = source;
    this.fileEnd = source.byteLength;
    this.keepUnknown = options.keepUnknownFields;
    this.maxDepth = options.maxDepth;
    this.maxMessages = options.maxMessages;
    this.messageBudget = options.maxMessages;
    this.maxWindow = Math.max(16, options.maxWindow);
    this.minWindow = Math.max(16, Math.min(options.minWindow, this.maxWindow));
    this.nextWindow = this.minWindow;
    this.types = new Int32Array(options.maxDepth + 2);
    this.fields = new Int32Array(options.maxDepth + 2);
    this.indices = new Int32Array(options.maxDepth + 2).fill(-1);
    this.types[0] = options.rootType;
    const bytes = source.bytes;
    if (bytes !== undefined && bytes.byteLength === source.byteLength) {
      this.inMemory = true;
      this.buf = bytes;
      this.bufEnd = bytes.byteLength;
    } else {
      this.inMemory = false;
      this.buf = new Uint8Array(0);
      this.bufEnd = 0;
    }
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  /** Throws an `OnnxParseError` at `offset`, naming the field path being decoded. */
  fail(reason: string, offset: number): never {
    const field = formatFieldPath(this.types, this.fields, this.indices, this.depth);
    throw new OnnxParseError(reason, { file: this.source.name, offset, field });
  }

  /** Offset of the tag of the field in progress (for errors about a whole field). */
  get fieldStart(): number {
    return this.tagPos;
  }

  // ---------------------------------------------------------------------------------------------
  // Tags and messages

  /**
   * Reads a field tag (`field << 3 | wireType`) and records the field in the path stack.
   * Rejects field number 0 and tags that do not fit in 32 bits.
   */
  tag(): number {
    const start = this.pos;
    const d = this.depth;
    this.tagPos = start;
    this.fields[d] = 0;
    this.indices[d] = -1;
    let tag: number;
    if (start + 2 <= this.bufEnd) {
      const i = start - this.base;
      const b0 = this.buf[i];
      if (b0 < 0x80) {
        tag = b0;
        this.pos = start + 1;
      } else {
        const b1 = this.buf[i + 1];
        if (b1 < 0x80) {
          tag = (b0 & 0x7f) | (b1 << 7);
          this.pos = start + 2;
        } else {
          tag = this.varint();
          if (this.hi !== 0) this.fail('field tag does not fit in 32 bits', start);
        }
      }
    } else {
      tag = this.varint();
      if (this.hi !== 0) this.fail('field tag does not fit in 32 bits', start);
    }
    const field = tag >>> 3;
    if (field === 0) this.fail('field number 0 is not valid protobuf (is this an ONNX file?)', start);
    this.fields[d] = field;
    return tag;
  }

  /**
   * Reads the length prefix of a sub-message and enters it. `index` is the element index for
   * repeated fields (shown in error paths as `node[12]`) or -1. Returns the sub-message's limit.
   */
  beginMessage(limit: number, type: number, index: number): number {
    const d = this.depth;
    this.indices[d] = index;
    const len = this.length(limit);
    if (d >= this.maxDepth) {
      this.fail(`messages are nested deeper than the limit of ${this.maxDepth} levels (maxDepth)`, this.tagPos);
    }
    if (--this.messageBudget < 0) {
      this.fail(`more than ${this.maxMessages} messages (maxMessages); raise the limit if the model is genuine`, this.tagPos);
    }
    const nd = d + 1;
    this.depth = nd;
    this.types[nd] = type;
    this.fields[nd] = 0;
    this.indices[nd] = -1;
    return this.pos + len;
  }

  /** Leaves a message: its last field must have ended exactly at the message's limit. */
  endMessage(limit: number): void {
    if (this.pos !== limit) {
      this.fail(
        limit === this.fileEnd && this.depth === 0
          ? `field runs past the end of the file (${this.pos - limit} bytes missing)`
          : `field runs ${this.pos - limit} bytes past the end of its enclosing message`,
        this.tagPos,
      );
    }
    this.depth--;
  }

  /** Fails naming `field` of the current message (for checks made after the field was read). */
  failField(field: number, reason: string, offset: number): never {
    this.fields[this.depth] = field;
    this.indices[this.depth] = -1;
    return this.fail(reason, offset);
  }

  /** Sets the element index shown in error paths for the field in progress (repeated scalars). */
  setIndex(index: number): void {
    this.indices[this.depth] = index;
  }

  // ---------------------------------------------------------------------------------------------
  // Varints

  /** Reads a varint; returns its low 32 bits unsigned and keeps the high 32 bits in `this.hi`. */
  private varint(): number {
    const pos = this.pos;
    if (pos + 10 > this.bufEnd) return this.varintSlow();
    const buf = this.buf;
    let i = pos - this.base;
    let b = buf[i++];
    let lo = b & 0x7f;
    if (b < 0x80) {
      this.pos = pos + 1;
      this.hi = 0;
      return lo;
    }
    b = buf[i++];
    lo |= (b & 0x7f) << 7;
    if (b < 0x80) {
      this.pos = pos + 2;
      this.hi = 0;
      return lo;
    }
    b = buf[i++];
    lo |= (b & 0x7f) << 14;
    if (b < 0x80) {
      this.pos = pos + 3;
      this.hi = 0;
      return lo;
    }
    b = buf[i++];
    lo |= (b & 0x7f) << 21;
    if (b < 0x80) {
      this.pos = pos + 4;
      this.hi = 0;
      return lo;
    }
    b = buf[i++];
    lo = (lo | ((b & 0x0f) << 28)) >>> 0;
    let hi = (b & 0x7f) >>> 4;
    if (b < 0x80) {
      this.pos = pos + 5;
      this.hi = hi;
      return lo;
    }
    b = buf[i++];
    hi |= (b & 0x7f) << 3;
    if (b < 0x80) {
      this.pos = pos + 6;
      this.hi = hi;
      return lo;
    }
    b = buf[i++];
    hi |= (b & 0x7f) << 10;
    if (b < 0x80) {
      this.pos = pos + 7;
      this.hi = hi;
      return lo;
    }
    b = buf[i++];
    hi |= (b & 0x7f) << 17;
    if (b < 0x80) {
      this.pos = pos + 8;
      this.hi = hi;
      return lo;
    }
    b = buf[i++];
    hi |= (b & 0x7f) << 24;
    if (b < 0x80) {
      this.pos = pos + 9;
      this.hi = hi >>> 0;
      return lo;
    }
    b = buf[i];
    // The 10th byte carries bit 63; protoc ignores its other payload bits, and so do we.
    hi |= (b & 0x01) << 31;
    if (b < 0x80) {
      this.pos = pos + 10;
      this.hi = hi >>> 0;
      return lo;
    }
    return this.fail('varint is longer than 10 bytes', pos);
  }

  /** Varint decoding with a bounds check per byte (near the end of the buffered window). */
  private varintSlow(): number {
    const start = this.pos;
    if (this.bufEnd < this.fileEnd && start < this.fileEnd) {
      this.fill(Math.min(10, this.fileEnd - start));
      if (start + 10 <= this.bufEnd) return this.varint();
    }
    const buf = this.buf;
    const base = this.base;
    const end = this.bufEnd;
    let lo = 0;
    let hi = 0;
    for (let k = 0; k < 10; k++) {
      const p = start + k;
      if (p >= end) return this.fail('truncated varint: the file ends inside it', start);
      const b = buf[p - base];
      if (k < 4) lo |= (b & 0x7f) << (7 * k);
      else if (k === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >>> 4;
      } else hi |= (b & 0x7f) << (7 * k - 32);
      if (b < 0x80) {
        this.pos = p + 1;
        this.hi = hi >>> 0;
        return lo >>> 0;
      }
    }
    return this.fail('varint is longer than 10 bytes', start);
  }

  /** int64 / sint-free varint as a two's-complement signed value (number, or bigint beyond 2^53). */
  int64(): Int64 {
    const lo = this.varint();
    const hi = this.hi;
    return hi === 0 ? lo : int64FromParts(lo, hi);
  }

  /** uint64 varint (number, or bigint beyond 2^53). */
  uint64(): Int64 {
    const lo = this.varint();
    const hi = this.hi;
    return hi === 0 ? lo : uint64FromParts(lo, hi);
  }

  /** int32 / enum varint: the low 32 bits as a signed integer (negative values use 10 bytes). */
  int32(): number {
    return this.varint() | 0;
  }

  /** Reads a varint that must fit in 32 bits unsigned (`what` names it in the error). */
  uint32(what: string): number {
    const start = this.pos;
    const lo = this.varint();
    if (this.hi !== 0) this.fail(`${what} ${uint64FromParts(lo, this.hi)} does not fit in 32 bits`, start);
    return lo;
  }

  // ---------------------------------------------------------------------------------------------
  // Length-delimited and fixed-width values

  /**
   * Reads a length prefix and checks that the payload fits inside `limit` (the enclosing message's
   * end). Returns the length; `pos` is left at the first payload byte.
   */
  length(limit: number): number {
    const start = this.pos;
    let len: number;
    if (start < this.bufEnd && this.buf[start - this.base] < 0x80) {
      len = this.buf[start - this.base];
      this.pos = start + 1;
    } else {
      len = this.varint();
      if (this.hi !== 0) this.lengthPastEnd(uint64FromParts(len, this.hi), start, limit);
    }
    if (len > limit - this.pos) this.lengthPastEnd(len, start, limit);
    return len;
  }

  private lengthPastEnd(len: Int64, start: number, limit: number): never {
    const left = Math.max(0, limit - this.pos);
    const where = this.depth === 0 ? 'the file' : 'its enclosing message';
    return this.fail(`declared length ${len} runs past the end of ${where} (${left} bytes left)`, start);
  }

  /** Advances past `len` bytes already bounds-checked by `length()` (no read when streaming). */
  skip(len: number): void {
    this.pos += len;
  }

  /**
   * Makes `len` bytes at `pos` resident in the window, advances past them and returns their index in
   * the window buffer (`window()` returns that buffer). `len` must have been bounds-checked.
   */
  private take(len: number): number {
    const pos = this.pos;
    if (pos + len > this.bufEnd) this.fill(len);
    this.pos = pos + len;
    return pos - this.base;
  }

  /** Reads a length-prefixed UTF-8 string (invalid sequences become U+FFFD). */
  string(limit: number): string {
    const len = this.length(limit);
    if (len === 0) return '';
    const i = this.take(len);
    return this.utf8(i, len);
  }

  private utf8(i: number, len: number): string {
    const buf = this.buf;
    if (len <= SHORT_STRING) {
      let s = '';
      for (let k = i, end = i + len; k < end; k++) {
        const c = buf[k];
        if (c >= 0x80) return utf8Decoder.decode(buf.subarray(i, i + len));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return utf8Decoder.decode(buf.subarray(i, i + len));
  }

  /** Reads a length-prefixed bytes field: a zero-copy view in memory, a private copy when streaming. */
  bytes(limit: number): Uint8Array {
    return this.bytesOfLength(this.length(limit));
  }

  /** The next `len` bytes (already bounds-checked): a zero-copy view in memory, a copy when streaming. */
  bytesOfLength(len: number): Uint8Array {
    const i = this.take(len);
    return this.inMemory ? this.buf.subarray(i, i + len) : this.buf.slice(i, i + len);
  }

  /** fixed32 float. */
  float(limit: number): number {
    const start = this.pos;
    if (start + 4 > limit) this.fail('truncated fixed32: the enclosing message ends inside it', start);
    const i = this.take(4);
    return this.view.getFloat32(i, true);
  }

  /** fixed64 double. */
  double(limit: number): number {
    const start = this.pos;
    if (start + 8 > limit) this.fail('truncated fixed64: the enclosing message ends inside it', start);
    const i = this.take(8);
    return this.view.getFloat64(i, true);
  }

  // ---------------------------------------------------------------------------------------------
  // Packed repeated numerics

  /** Packed fixed32 floats as a fresh Float32Array. */
  packedFloat32(limit: number): Float32Array {
    const start = this.pos;
    const len = this.length(limit);
    if ((len & 3) !== 0) this.fail(`packed float field of ${len} bytes is not a multiple of 4`, start);
    const i = this.take(len);
    const out = new Float32Array(len >>> 2);
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(this.buf.subarray(i, i + len));
    else for (let k = 0; k < out.length; k++) out[k] = this.view.getFloat32(i + 4 * k, true);
    return out;
  }

  /** Packed fixed32 floats appended to `out`. */
  packedFloat32Into(limit: number, out: number[]): void {
    const start = this.pos;
    const len = this.length(limit);
    if ((len & 3) !== 0) this.fail(`packed float field of ${len} bytes is not a multiple of 4`, start);
    const i = this.take(len);
    const view = this.view;
    for (let k = i, end = i + len; k < end; k += 4) out.push(view.getFloat32(k, true));
  }

  /** Packed fixed64 doubles as a fresh Float64Array. */
  packedFloat64(limit: number): Float64Array {
    const start = this.pos;
    const len = this.length(limit);
    if ((len & 7) !== 0) this.fail(`packed double field of ${len} bytes is not a multiple of 8`, start);
    const i = this.take(len);
    const out = new Float64Array(len >>> 3);
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(this.buf.subarray(i, i + len));
    else for (let k = 0; k < out.length; k++) out[k] = this.view.getFloat64(i + 8 * k, true);
    return out;
  }

  /** Packed int32 varints as an Int32Array (sized by counting terminator bytes first). */
  packedInt32(limit: number): Int32Array {
    const len = this.length(limit);
    const start = this.pos;
    const end = start + len;
    const i = this.take(len);
    const buf = this.buf;
    let count = 0;
    for (let k = i, e = i + len; k < e; k++) if (buf[k] < 0x80) count++;
    this.pos = start;
    const out = new Int32Array(count);
    let n = 0;
    while (this.pos < end && n < count) out[n++] = this.varint() | 0;
    if (this.pos !== end) this.fail('the last varint of a packed field runs past its declared length', start);
    return out;
  }

  /** Packed int64 (or uint64 when `unsigned`) varints appended to `out`. */
  packedInt64Into(limit: number, out: Int64[], unsigned: boolean): void {
    const len = this.length(limit);
    const start = this.pos;
    const end = start + len;
    while (this.pos < end) out.push(unsigned ? this.uint64() : this.int64());
    if (this.pos !== end) this.fail('the last varint of a packed field runs past its declared length', start);
  }

  // ---------------------------------------------------------------------------------------------
  // Unknown fields

  /**
   * Handles a tag the decoder has no case for. A known field number means the wire type is wrong
   * (an error); otherwise the field is skipped and, when unknown fields are kept, its raw bytes
   * (tag + payload) are returned for re-emission.
   */
  unknownField(tag: number, limit: number): Uint8Array | undefined {
    const field = tag >>> 3;
    const wire = tag & 7;
    const known = fieldInfo(this.types[this.depth], field);
    if (known !== undefined) {
      this.fail(`wrong wire type ${WIRE_NAMES[wire]} for this field (expected ${known.encoding})`, this.tagPos);
    }
    const start = this.tagPos;
    this.skipValue(wire, field, limit);
    if (this.pos > limit) this.fail(`unknown field runs ${this.pos - limit} bytes past the end of its enclosing message`, start);
    if (!this.keepUnknown) return undefined;
    return this.range(start, this.pos);
  }

  private skipValue(wire: number, field: number, limit: number): void {
    switch (wire) {
      case WireType.VARINT:
        this.varint();
        return;
      case WireType.FIXED64:
        if (this.pos + 8 > limit) this.fail('truncated fixed64: the enclosing message ends inside it', this.pos);
        this.pos += 8;
        return;
      case WireType.LEN: {
        // Not `this.pos += this.length(limit)`: that would read `pos` before length() advances it.
        const len = this.length(limit);
        this.pos += len;
        return;
      }
      case WireType.FIXED32:
        if (this.pos + 4 > limit) this.fail('truncated fixed32: the enclosing message ends inside it', this.pos);
        this.pos += 4;
        return;
      case WireType.START_GROUP:
        this.skipGroup(field, limit);
        return;
      case WireType.END_GROUP:
        this.fail('end-group tag without a matching start-group', this.tagPos);
        return;
      default:
        this.fail(`invalid wire type ${wire}`, this.tagPos);
    }
  }

  /** Skips a (deprecated) group iteratively: nested groups count against maxDepth. */
  private skipGroup(field: number, limit: number): void {
    const open: number[] = [field];
    while (open.length > 0) {
      if (this.pos >= limit) this.fail(`group ${open[open.length - 1]} is not closed before the end of its enclosing message`, this.tagPos);
      const at = this.pos;
      const tag = this.uint32('group field tag');
      const f = tag >>> 3;
      const w = tag & 7;
      if (f === 0) this.fail('field number 0 is not valid protobuf', at);
      if (w === WireType.END_GROUP) {
        if (open.pop() !== f) this.fail(`end-group tag for field ${f} does not match the open group`, at);
      } else if (w === WireType.START_GROUP) {
        if (this.depth + open.length >= this.maxDepth) {
          this.fail(`groups are nested deeper than the limit of ${this.maxDepth} levels (maxDepth)`, at);
        }
        open.push(f);
      } else {
        this.skipValue(w, f, limit);
      }
    }
  }

  /** Bytes [start, end) of the source: a view in memory, a private copy when streaming. */
  range(start: number, end: number): Uint8Array {
    if (this.inMemory) return this.buf.subarray(start, end);
    if (start >= this.base && end <= this.bufEnd) return this.buf.slice(start - this.base, end - this.base);
    return this.read(start, end - start).slice();
  }

  // ---------------------------------------------------------------------------------------------
  // Streaming window

  /**
   * Refills the window so that at least `n` bytes from `pos` are resident. The window doubles while
   * reading sequentially (up to maxWindow) and shrinks back to minWindow after a jump past it, so
   * skipping lazy tensors does not read their bytes.
   */
  private fill(n: number): void {
    const pos = this.pos;
    const remaining = this.fileEnd - pos;
    if (this.inMemory || n > remaining || remaining <= 0) {
      this.fail('unexpected end of file', pos);
    }
    const sequential = pos >= this.base && pos <= this.bufEnd;
    let size = sequential ? Math.min(this.maxWindow, this.nextWindow * 2) : this.minWindow;
    this.nextWindow = size;
    if (size < n) size = n;
    if (size > remaining) size = remaining;
    const chunk = this.read(pos, size);
    this.buf = chunk;
    this.base = pos;
    this.bufEnd = pos + size;
    this.view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }

  private read(offset: number, length: number): Uint8Array {
    const chunk = this.source.read(offset, length);
    this.readCalls++;
    this.bytesRead += length;
    if (chunk.byteLength !== length) {
      throw new Error(`${this.source.name}: source.read(${offset}, ${length}) returned ${chunk.byteLength} bytes`);
    }
    return chunk;
  }
}
