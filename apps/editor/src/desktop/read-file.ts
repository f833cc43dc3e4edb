/**
 * Reads a file the shell opened (an `OpenedFile` handle) into a `File`, range by range through
 * `readFileRange`: no call asks for more than `chunkBytes`, so a multi-GB model never crosses IPC as
 * one message. Each range becomes a Blob at once (Chromium's blob store holds it, and pages big
 * blobs to disk), so the page never holds the model as one ArrayBuffer; the model worker then reads
 * the File by range with FileReaderSync, as it does a file picked in the browser.
 *
 * The whole file is still read once. Reading only what the parser touches (weights left on disk
 * until used) would need a synchronous byte source inside the model worker — a SharedArrayBuffer +
 * Atomics bridge to this API — which the worker's open request does not have yet.
 */
import { MAX_READ_BYTES, type FuselabDesktopApi, type OpenedFile } from './api.ts';

/** Bytes per `readFileRange` call (4 MiB: a few hundred calls per GB, each well under IPC limits). */
export const DESKTOP_READ_CHUNK = 4 * 1024 * 1024;

export interface ReadOptions {
  /** Bytes per call (at most MAX_READ_BYTES). */
  chunkBytes?: number;
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

/** The shell answered a range read with the wrong number of bytes (the file changed under its handle?). */
export class DesktopReadError extends Error {
  readonly code = 'SHORT_READ';
  constructor(file: string, offset: number, asked: number, got: number) {
    super(`${file}: asked the desktop shell for ${asked} bytes at offset ${offset} and got ${got}; open the file again`);
    this.name = 'DesktopReadError';
  }
}

/** The whole of `file` as a `File` named after it, read in ranges of at most `chunkBytes`. */
export async function readDesktopFile(api: Pick<FuselabDesktopApi, 'readFileRange'>, file: OpenedFile, options: ReadOptions = {}): Promise<File> {
  const chunk = Math.max(1, Math.min(options.chunkBytes ?? DESKTOP_READ_CHUNK, MAX_READ_BYTES));
  const parts: Blob[] = [];
  for (let offset = 0; offset < file.size; offset += chunk) {
    options.signal?.throwIfAborted();
    const length = Math.min(chunk, file.size - offset);
    const bytes = await api.readFileRange(file.handle, offset, length);
    if (bytes.byteLength !== length) throw new DesktopReadError(file.name, offset, length, bytes.byteLength);
    parts.push(new Blob([bytes as BlobPart]));
    options.onProgress?.(offset + length, file.size);
  }
  return new File(parts, file.name, { type: 'application/octet-stream' });
}
