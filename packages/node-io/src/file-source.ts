/**
 * Random-access sources over files: positional `readSync`, so a multi-GB model is never read whole.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { RandomAccessSource } from '@fuselab/graph-core';

export interface FileSource extends RandomAccessSource {
  readonly path: string;
  close(): void;
}

/** Opens `path` for positional reads. Call `close()` when done (the CLI relies on process exit). */
export function openFileSource(path: string): FileSource {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  let closed = false;
  return {
    name: path,
    path,
    byteLength: size,
    read(offset: number, length: number): Uint8Array {
      if (closed) throw new Error(`${path}: read after close`);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
        throw new RangeError(`${path}: read of ${length} bytes at ${offset} is past the end (${size} bytes)`);
      }
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        // readSync reads at most 2 GiB at a time
        const n = readSync(fd, out, done, Math.min(length - done, 0x7fff0000), offset + done);
        if (n === 0) throw new RangeError(`${path}: unexpected end of file at ${offset + done} (file shrank while reading?)`);
        done += n;
      }
      return out;
    },
    close(): void {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
