/**
 * A POSIX ustar archive writer, pure TypeScript: a Triton model repository as one download in the
 * browser, or one file from the CLI. It returns a rope of chunks whose file contents are the views
 * given (no copy of a model's bytes); `new Blob(chunks)` or writing them in order gives the archive.
 *
 * Layout (POSIX.1-1988 ustar): per entry a 512-byte header (name, octal mode/size/mtime, checksum,
 * type `0` file or `5` directory, magic `ustar\0` + version `00`, a 155-byte name prefix for paths
 * over 100 bytes), the contents padded to 512 bytes; then two zero blocks; the whole padded to a
 * 10240-byte record as tar(1) writes it. Sizes are limited to ustar's 11 octal digits (8 GiB − 1).
 *
 * Paths are checked before anything is laid out: relative, `/`-separated, no empty, `.` or `..`
 * segments, no backslash or NUL, and unique — an archive never writes outside the folder it is
 * extracted into.
 */
import { FuselabError } from '@fuselab/graph-core';

export interface TarEntry {
  /** `dir/file.txt`; a directory ends with `/` and has no data. */
  path: string;
  data?: Uint8Array;
  /** Permission bits (default 0o644 for files, 0o755 for directories). */
  mode?: number;
}

export interface TarOptions {
  /** Modification time of every entry, seconds since 1970 (default 0: reproducible archives). */
  mtime?: number;
  /** Add an entry for each parent folder not listed, before its first child (default true). */
  parents?: boolean;
}

export interface TarArchive {
  chunks: Uint8Array[];
  byteLength: number;
  /** The entries in archive order (parents added). */
  paths: string[];
}

/** An entry that a ustar archive cannot hold, or that would extract outside its folder. */
export class TarError extends FuselabError {
  constructor(path: string, reason: string) {
    super('TAR', `tar entry '${path}': ${reason}`);
  }
}

const BLOCK = 512;
const RECORD = 20 * BLOCK;
const MAX_SIZE = 8 ** 11 - 1;
const ZEROS = new Uint8Array(RECORD);
const utf8 = new TextEncoder();

function checkPath(path: string): void {
  const isDir = path.endsWith('/');
  const body = isDir ? path.slice(0, -1) : path;
  if (!body) throw new TarError(path, 'empty path');
  if (path.startsWith('/')) throw new TarError(path, 'absolute paths are not allowed; use a path relative to the archive root');
  if (/[\\\0]/.test(path)) throw new TarError(path, 'backslashes and NUL are not allowed in paths');
  for (const seg of body.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw new TarError(path, `segment '${seg}' is not allowed (no empty, '.' or '..' segments)`);
  }
}

/** Writes `value` as zero-padded octal in `len - 1` digits plus NUL. */
function octal(h: Uint8Array, at: number, len: number, value: number, path: string, field: string): void {
  const s = value.toString(8);
  if (!Number.isSafeInteger(value) || value < 0 || s.length > len - 1) throw new TarError(path, `${field} ${value} does not fit a ustar header (at most ${len - 1} octal digits)`);
  h.set(utf8.encode(s.padStart(len - 1, '0')), at);
  h[at + len - 1] = 0;
}

/** Splits a path into ustar's name (≤ 100 bytes) and prefix (≤ 155 bytes) at a '/'. */
function splitName(path: string): { name: Uint8Array; prefix: Uint8Array } {
  const bytes = utf8.encode(path);
  if (bytes.length <= 100) return { name: bytes, prefix: new Uint8Array(0) };
  // the last '/' (ignoring a directory's trailing one) such that both parts fit
  for (let i = bytes.length - 2; i > 0; i--) {
    if (bytes[i] !== 0x2f) continue;
    if (bytes.length - i - 1 > 100) break;
    if (i <= 155) return { name: bytes.subarray(i + 1), prefix: bytes.subarray(0, i) };
  }
  throw new TarError(path, `${bytes.length} bytes: too long for ustar (a 155-byte folder prefix plus a 100-byte name)`);
}

function header(path: string, size: number, mode: number, mtime: number, dir: boolean): Uint8Array {
  const h = new Uint8Array(BLOCK);
  const { name, prefix } = splitName(path);
  h.set(name, 0);
  octal(h, 100, 8, mode & 0o7777, path, 'mode');
  octal(h, 108, 8, 0, path, 'uid');
  octal(h, 116, 8, 0, path, 'gid');
  octal(h, 124, 12, size, path, 'size');
  octal(h, 136, 12, Math.floor(mtime), path, 'mtime');
  h[156] = dir ? 0x35 : 0x30;
  h.set(utf8.encode('ustar\0'), 257);
  h.set(utf8.encode('00'), 263);
  h.set(prefix, 345);
  // checksum: the header's bytes summed with the checksum field read as eight spaces
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  h.set(utf8.encode(sum.toString(8).padStart(6, '0')), 148);
  h[154] = 0;
  h[155] = 0x20;
  return h;
}

/** Lays out a ustar archive of `entries` (see the file header); throws TarError before writing anything bad. */
export function tarArchive(entries: readonly TarEntry[], options: TarOptions = {}): TarArchive {
  const mtime = options.mtime ?? 0;
  const list: TarEntry[] = [];
  const seen = new Set<string>();
  const add = (e: TarEntry) => {
    checkPath(e.path);
    const key = e.path.replace(/\/$/, '');
    if (seen.has(key)) throw new TarError(e.path, 'listed twice');
    seen.add(key);
    list.push(e);
  };
  for (const e of entries) {
    checkPath(e.path);
    if (e.path.endsWith('/') && e.data && e.data.byteLength > 0) throw new TarError(e.path, 'a directory entry cannot have data');
    if (options.parents !== false) {
      const parts = e.path.replace(/\/$/, '').split('/');
      for (let i = 1; i < parts.length; i++) {
        const dir = `${parts.slice(0, i).join('/')}/`;
        if (!seen.has(dir.slice(0, -1))) add({ path: dir });
      }
    }
    add(e);
  }
  const chunks: Uint8Array[] = [];
  let byteLength = 0;
  const push = (c: Uint8Array) => { chunks.push(c); byteLength += c.byteLength; };
  for (const e of list) {
    const dir = e.path.endsWith('/');
    const data = dir ? null : e.data ?? new Uint8Array(0);
    const size = data?.byteLength ?? 0;
    if (size > MAX_SIZE) throw new TarError(e.path, `${size} bytes is over ustar's 8 GiB limit`);
    push(header(e.path, size, e.mode ?? (dir ? 0o755 : 0o644), mtime, dir));
    if (data && size) {
      push(data);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if (pad) push(ZEROS.subarray(0, pad));
    }
  }
  // end of archive: two zero blocks, then up to a whole record
  const end = 2 * BLOCK + ((RECORD - ((byteLength + 2 * BLOCK) % RECORD)) % RECORD);
  for (let left = end; left > 0; left -= RECORD) push(ZEROS.subarray(0, Math.min(RECORD, left)));
  return { chunks, byteLength, paths: list.map((e) => e.path) };
}
