/**
 * Random-access byte sources. The ONNX reader pulls bytes through this interface so the same decoder
 * reads an in-memory buffer (zero-copy views), a Node file (positional reads, adapter in
 * `@fuselab/node-io`) or a browser `File` in a worker (`FileReaderSync`), and never needs the whole file
 * in memory when it is streamed.
 */
export interface RandomAccessSource {
  /** Name used in error messages (file path or `File.name`). */
  readonly name: string;
  readonly byteLength: number;
  /**
   * Reads exactly `length` bytes at `offset`. Throws when the range is outside the source.
   * The returned array may be a view into a shared cache: copy it before mutating.
   */
  read(offset: number, length: number): Uint8Array;
  /** Set when the whole source is already in memory: the reader then hands out zero-copy views. */
  readonly bytes?: Uint8Array;
}

/** A source over bytes already in memory. Reads are zero-copy `subarray` views. */
export function memorySource(bytes: Uint8Array, name = '<memory>'): RandomAccessSource {
  return {
    name,
    byteLength: bytes.byteLength,
    bytes,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > bytes.byteLength) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${bytes.byteLength} bytes)`);
      }
      return bytes.subarray(offset, offset + length);
    },
  };
}

/**
 * A source over a browser `Blob`/`File`, for use inside a Web Worker (FileReaderSync is worker-only).
 * Each read copies just the requested range.
 */
export function blobSource(blob: Blob, name = (blob as File).name ?? '<blob>'): RandomAccessSource {
  const Reader = (globalThis as unknown as { FileReaderSync?: new () => { readAsArrayBuffer(b: Blob): ArrayBuffer } }).FileReaderSync;
  if (!Reader) throw new Error(`${name}: blobSource needs FileReaderSync (run it in a Web Worker)`);
  const reader = new Reader();
  return {
    name,
    byteLength: blob.size,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > blob.size) {
        throw new RangeError(`${name}: read of ${length} bytes at ${offset} is past the end (${blob.size} bytes)`);
      }
      return new Uint8Array(reader.readAsArrayBuffer(blob.slice(offset, offset + length)));
    },
  };
}
