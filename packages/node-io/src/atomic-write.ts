/**
 * Atomic file writes: write to a temp file in the same folder, fsync, then rename over the target,
 * so a reader never sees a partial file and a failed write leaves the old file intact.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** A writer for one temp file that becomes `target` on `commit()`. */
export class AtomicFile {
  readonly target: string;
  readonly tempPath: string;
  private fd: number;
  private pos = 0;
  private done = false;

  constructor(target: string) {
    this.target = target;
    this.tempPath = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
    this.fd = openSync(this.tempPath, 'wx', 0o644);
  }

  get bytesWritten(): number {
    return this.pos;
  }

  write(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.byteLength) {
      const n = writeSync(this.fd, chunk, off, Math.min(chunk.byteLength - off, 0x40000000));
      off += n;
    }
    this.pos += chunk.byteLength;
  }

  /** Pads with zeros so the next write starts at a multiple of `alignment`. */
  align(alignment: number): void {
    const pad = (alignment - (this.pos % alignment)) % alignment;
    if (pad) this.write(new Uint8Array(pad));
  }

  commit(): void {
    if (this.done) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    renameSync(this.tempPath, this.target);
    this.done = true;
  }

  abort(): void {
    if (this.done) return;
    try { closeSync(this.fd); } catch { /* already closed */ }
    rmSync(this.tempPath, { force: true });
    this.done = true;
  }
}

/** Writes `chunks` to `target` atomically. */
export function writeFileAtomic(target: string, chunks: Uint8Array | readonly Uint8Array[]): void {
  const f = new AtomicFile(target);
  try {
    for (const c of chunks instanceof Uint8Array ? [chunks] : chunks) f.write(c);
    f.commit();
  } catch (e) {
    f.abort();
    throw e;
  }
}
