/**
 * Tensor constants (initializers, Constant values, tensor attributes). Bytes are kept in their raw
 * little-endian ONNX layout and are never copied on import: they are views into the file buffer, lazy
 * ranges of a streamed source, or lazy external-data references resolved on first use.
 */
import { OnnxModelError, ExternalDataError } from '../errors.ts';
import type { RandomAccessSource } from '../io/byte-source.ts';
import { byteSizeOf, dtypeBits, type DType } from './dtype.ts';
import { shapeSize } from './shape.ts';

/** Resolves an external-data `location` (relative to the model's folder) to a readable source. */
export interface ExternalDataResolver {
  /** Must refuse locations that escape the model folder; graph-core pre-checks the path text. */
  open(location: string, tensorName: string): RandomAccessSource;
}

export type TensorStorage =
  /** Raw little-endian bytes in memory (possibly a zero-copy view into the model file). */
  | { readonly kind: 'raw'; readonly bytes: Uint8Array }
  /** A byte range of the (streamed) model file itself, read on demand. */
  | { readonly kind: 'lazy'; readonly source: RandomAccessSource; readonly offset: number; readonly length: number }
  /** External data: a file next to the model. `length` null means "to the end of the file". */
  | {
      readonly kind: 'external';
      readonly location: string;
      readonly offset: number;
      readonly length: number | null;
      readonly checksum?: string;
      /** Extra external_data keys we don't interpret, kept for round trips. */
      readonly extra?: ReadonlyArray<readonly [string, string]>;
      readonly resolver?: ExternalDataResolver;
    }
  /** STRING tensors: one UTF-8 byte string per element. */
  | { readonly kind: 'strings'; readonly values: readonly Uint8Array[] };

export interface TensorInit {
  name?: string;
  dtype: DType;
  dims: readonly number[];
  storage: TensorStorage;
  docString?: string;
  metadata?: ReadonlyMap<string, string>;
}

/** Checks an external-data location as text: relative, no `..`, no drive letters or NUL bytes. */
export function checkExternalLocation(location: string, tensorName: string): void {
  const unsafe = (why: string): never => {
    throw new ExternalDataError(tensorName, location, `${why}; external data must be a relative path inside the model's folder`);
  };
  if (location.length === 0) unsafe('empty location');
  if (location.includes('\0')) unsafe('NUL byte in path');
  if (location.startsWith('/') || location.startsWith('\\') || /^[a-zA-Z]:/.test(location)) unsafe('absolute path');
  for (const part of location.split(/[\\/]/)) if (part === '..') unsafe("path contains '..'");
}

export class Tensor {
  name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  storage: TensorStorage;
  docString: string | undefined;
  metadata: Map<string, string>;

  constructor(init: TensorInit) {
    this.name = init.name ?? '';
    this.dtype = init.dtype;
    this.dims = init.dims;
    this.storage = init.storage;
    this.docString = init.docString;
    this.metadata = new Map(init.metadata ?? []);
  }

  /** Makes a tensor from a typed array (copied only when it is not already little-endian raw). */
  static from(dtype: DType, dims: readonly number[], data: ArrayBufferView | readonly string[], name = ''): Tensor {
    if (Array.isArray(data)) {
      const enc = new TextEncoder();
      return new Tensor({ name, dtype: 'string', dims, storage: { kind: 'strings', values: data.map((s) => enc.encode(s)) } });
    }
    const view = data as ArrayBufferView;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const t = new Tensor({ name, dtype, dims, storage: { kind: 'raw', bytes } });
    t.validate();
    return t;
  }

  get size(): number {
    return shapeSize(this.dims);
  }

  /** Expected raw byte length from dims and dtype (null for strings). */
  get expectedByteLength(): number | null {
    return this.dtype === 'string' ? null : byteSizeOf(this.dtype, this.size);
  }

  /** Byte length without reading anything (external data of unknown length: null). */
  get byteLength(): number | null {
    const s = this.storage;
    switch (s.kind) {
      case 'raw': return s.bytes.byteLength;
      case 'lazy': return s.length;
      case 'external': return s.length;
      case 'strings': return s.values.reduce((n, v) => n + v.byteLength, 0);
    }
  }

  get isExternal(): boolean {
    return this.storage.kind === 'external';
  }

  /** Throws OnnxModelError when the stored byte count does not match dims × dtype. */
  validate(where = `initializer '${this.name}'`): void {
    for (const d of this.dims) {
      if (!Number.isSafeInteger(d) || d < 0) throw new OnnxModelError(where, `invalid dimension ${d} in dims [${this.dims.join(',')}]`);
    }
    if (this.storage.kind === 'strings') {
      if (this.storage.values.length !== this.size) {
        throw new OnnxModelError(where, `${this.storage.values.length} strings for dims [${this.dims.join(',')}] (${this.size} elements)`);
      }
      return;
    }
    const expected = byteSizeOf(this.dtype, this.size);
    const actual = this.byteLength;
    if (actual !== null && actual !== expected) {
      throw new OnnxModelError(where, `has ${actual} bytes of ${this.dtype} data but dims [${this.dims.join(',')}] need ${expected}`);
    }
  }

  /**
   * The raw little-endian bytes. In-memory tensors return a zero-copy view; lazy and external
   * tensors are read from their source (external data through the resolver given at load time).
   */
  bytes(): Uint8Array {
    const s = this.storage;
    switch (s.kind) {
      case 'raw': return s.bytes;
      case 'lazy': return s.source.read(s.offset, s.length);
      case 'external': {
        if (!s.resolver) {
          throw new ExternalDataError(this.name, s.location, 'no external-data resolver: load the model from a file path (or pass a resolver) to read external data');
        }
        checkExternalLocation(s.location, this.name);
        const src = s.resolver.open(s.location, this.name);
        const length = s.length ?? src.byteLength - s.offset;
        if (s.offset < 0 || length < 0 || s.offset + length > src.byteLength) {
          throw new ExternalDataError(this.name, s.location, `range offset=${s.offset} length=${length} is past the end of the file (${src.byteLength} bytes)`);
        }
        return src.read(s.offset, length);
      }
      case 'strings': throw new OnnxModelError(`tensor '${this.name}'`, 'string tensors have no raw bytes; use strings()');
    }
  }

  /** Reads the data into memory once and keeps it (turns lazy/external storage into raw). */
  materialize(): this {
    if (this.storage.kind === 'lazy' || this.storage.kind === 'external') {
      const bytes = this.bytes();
      this.storage = { kind: 'raw', bytes: new Uint8Array(bytes) };
    }
    return this;
  }

  strings(): string[] {
    if (this.storage.kind !== 'strings') throw new OnnxModelError(`tensor '${this.name}'`, `is ${this.dtype}, not string`);
    const dec = new TextDecoder();
    return this.storage.values.map((v) => dec.decode(v));
  }

  /**
   * The data as a typed array of the natural JS type: Float32Array, Int32Array, BigInt64Array,
   * Uint16Array (raw bits) for float16/bfloat16, Uint8Array for bool, 8-bit floats and packed 4/2-bit
   * types. Copies only when the bytes are not aligned for the element type.
   */
  data(): Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array {
    const bytes = this.bytes();
    const bits = dtypeBits(this.dtype);
    const elemBytes = bits >= 8 ? bits / 8 : 1;
    // copy into a fresh buffer when misaligned (new Uint8Array copies; Buffer#slice would not)
    const src = bytes.byteOffset % elemBytes === 0 ? bytes : new Uint8Array(bytes);
    const { buffer, byteOffset, byteLength } = src;
    const n = byteLength / elemBytes;
    switch (this.dtype) {
      case 'float32': return new Float32Array(buffer, byteOffset, n);
      case 'float64': return new Float64Array(buffer, byteOffset, n);
      case 'int8': return new Int8Array(buffer, byteOffset, n);
      case 'int16': return new Int16Array(buffer, byteOffset, n);
      case 'uint16': case 'float16': case 'bfloat16': return new Uint16Array(buffer, byteOffset, n);
      case 'int32': return new Int32Array(buffer, byteOffset, n);
      case 'uint32': return new Uint32Array(buffer, byteOffset, n);
      case 'int64': return new BigInt64Array(buffer, byteOffset, n);
      case 'uint64': return new BigUint64Array(buffer, byteOffset, n);
      case 'complex64': return new Float32Array(buffer, byteOffset, n * 2);
      case 'complex128': return new Float64Array(buffer, byteOffset, n * 2);
      case 'string': throw new OnnxModelError(`tensor '${this.name}'`, 'string tensor: use strings()');
      default: return new Uint8Array(buffer, byteOffset, byteLength);
    }
  }

  /** Integer or float values as JS numbers (int64 beyond 2^53 lose precision). Small tensors only. */
  toNumbers(): number[] {
    const d = this.data();
    const out = new Array<number>(d.length);
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
    if (this.dtype === 'float16') for (let i = 0; i < out.length; i++) out[i] = halfToFloat(out[i]);
    if (this.dtype === 'bfloat16') for (let i = 0; i < out.length; i++) out[i] = bfloat16ToFloat(out[i]);
    return out;
  }

  /** A shallow copy sharing storage (bytes are immutable by convention). */
  clone(name = this.name): Tensor {
    return new Tensor({ name, dtype: this.dtype, dims: this.dims.slice(), storage: this.storage, docString: this.docString, metadata: this.metadata });
  }
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const s = (h & 0x8000) >> 15;
  const e = (h & 0x7c00) >> 10;
  const f = h & 0x03ff;
  let v: number;
  if (e === 0) v = f * 2 ** -24;
  else if (e === 0x1f) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

/** Round-to-nearest-even float32 → float16 bits. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  e = half;
  return sign | e;
}

export function bfloat16ToFloat(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}
