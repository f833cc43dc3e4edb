/**
 * The files one window may read: opaque handles to open file descriptors, read by range
 * (positional reads through @fuselab/node-io's FileSource, so a multi-GB model is never copied
 * whole). A handle belongs to the window it was issued to; closing the window closes its files.
 *
 * The file stays open while its handle lives, so an atomic replace of the file on disk (rename over
 * it) does not change what the handle reads.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute } from 'node:path';
import { ExternalDataError } from '@fuselab/graph-core';
import { externalDataResolver, openFileSource, type FileSource } from '@fuselab/node-io';
import type { FileHandle, FileKind, OpenedFile } from '@fuselab/editor';
import { FileAccessError, PathRefusedError, UnknownHandleError } from './errors.ts';

/** Files a user opens directly (dialog, OS, drop, recent). */
export const MODEL_EXTENSIONS: ReadonlySet<string> = new Set(['.onnx', '.engine']);
/** Files beside a model the renderer may open (tokenizer and configs, external data). */
const COMPANION_LIMIT = 256;

interface Entry {
  owner: number;
  path: string;
  source: FileSource;
  info: OpenedFile;
}

export function fileKind(path: string): FileKind {
  const ext = extname(path).toLowerCase();
  return ext === '.onnx' ? 'onnx' : ext === '.engine' ? 'engine' : ext === '.json' ? 'json' : 'data';
}

export const HANDLE_PATTERN = /^f_[0-9a-f]{32}$/;

export class FileTable {
  private readonly entries = new Map<FileHandle, Entry>();

  /**
   * Opens a model the user chose (dialog, OS, drop, recent): an absolute path to a regular .onnx or
   * .engine file. A symlink the user picked is followed (their choice); its target must be a file.
   */
  openModel(owner: number, path: string): OpenedFile {
    if (typeof path !== 'string' || !isAbsolute(path) || path.includes('\0')) throw new PathRefusedError(String(path), 'not an absolute path');
    if (!MODEL_EXTENSIONS.has(extname(path).toLowerCase())) throw new PathRefusedError(path, `only ${[...MODEL_EXTENSIONS].join(', ')} files open as models`);
    let real: string;
    try {
      real = realpathSync(path);
      if (!statSync(real).isFile()) throw new PathRefusedError(path, 'is not a regular file');
    } catch (e) {
      if (e instanceof PathRefusedError) throw e;
      throw new FileAccessError(path, 'open', e);
    }
    return this.add(owner, real, () => openFileSource(real), listCompanions(dirname(real), basename(real)));
  }

  /**
   * Opens `name` beside an opened model: a relative path inside the model's folder with no `..`,
   * no absolute path, no symlink on the way and one hard link (the rules of node-io's external-data
   * resolver, since a model names these files itself and is untrusted).
   */
  openCompanion(owner: number, model: FileHandle, name: string): OpenedFile {
    const entry = this.get(owner, model);
    const dir = dirname(entry.path);
    const resolver = externalDataResolver(dir);
    let source: FileSource;
    try {
      source = resolver.open(name, basename(entry.path)) as FileSource;
    } catch (e) {
      if (e instanceof ExternalDataError) throw new PathRefusedError(`${dir}/${name}`, e.message.replace(/^tensor '[^']*': external data /, ''));
      throw new FileAccessError(`${dir}/${name}`, 'open', e);
    }
    return this.add(owner, source.path, () => source, []);
  }

  /** `length` bytes at `offset` of an open file. */
  read(owner: number, handle: FileHandle, offset: number, length: number): Uint8Array {
    const entry = this.get(owner, handle);
    if (offset + length > entry.info.size) throw new RangeError(`${entry.info.name}: read of ${length} bytes at ${offset} is past the end (${entry.info.size} bytes)`);
    try {
      return entry.source.read(offset, length);
    } catch (e) {
      throw new FileAccessError(entry.path, `read ${length} bytes at ${offset}`, e);
    }
  }

  /** The path behind a handle (main process only: for recent files, never sent to the renderer). */
  pathOf(owner: number, handle: FileHandle): string {
    return this.get(owner, handle).path;
  }

  close(owner: number, handle: FileHandle): void {
    const entry = this.get(owner, handle);
    entry.source.close();
    this.entries.delete(handle);
  }

  /** Closes every file of a window (when it closes or reloads). */
  closeAll(owner: number): number {
    let n = 0;
    for (const [h, e] of this.entries) {
      if (e.owner !== owner) continue;
      e.source.close();
      this.entries.delete(h);
      n++;
    }
    return n;
  }

  get openCount(): number {
    return this.entries.size;
  }

  private get(owner: number, handle: FileHandle): Entry {
    const entry = this.entries.get(handle);
    // another window's handle reads as unknown: handles do not leak between windows
    if (!entry || entry.owner !== owner) throw new UnknownHandleError(handle);
    return entry;
  }

  private add(owner: number, path: string, open: () => FileSource, companions: string[]): OpenedFile {
    let source: FileSource;
    try {
      source = open();
    } catch (e) {
      throw new FileAccessError(path, 'open', e);
    }
    const handle = `f_${randomBytes(16).toString('hex')}`;
    const info: OpenedFile = { handle, name: basename(path), kind: fileKind(path), size: source.byteLength, companions };
    this.entries.set(handle, { owner, path, source, info });
    return info;
  }
}

/** Regular files (not symlinks) beside a model, other than itself, as the renderer may open them. */
function listCompanions(dir: string, self: string): string[] {
  try {
    return readdirSync(dir)
      .filter((n) => n !== self && !n.startsWith('.'))
      .filter((n) => {
        try {
          return lstatSync(`${dir}/${n}`).isFile();
        } catch {
          return false;
        }
      })
      .sort()
      .slice(0, COMPANION_LIMIT);
  } catch {
    return [];
  }
}
