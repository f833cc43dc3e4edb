/**
 * The IPC handlers as plain functions: the main process calls `invoke(channel, sender, args)` from
 * `ipcMain.handle`, and tests call it the same way with plain objects. Every call checks its sender
 * (the app's own top-level page), validates each argument (type, range, count) with a typed error,
 * and answers an `IpcResult` so the code survives the trip (Electron keeps only a thrown error's
 * message).
 *
 * Files cross as handles (file-table.ts); reads are ranges; saves are atomic (temp file, fsync,
 * rename: node-io's writeFileAtomic); recent files persist atomically (recent-files.ts).
 */
import { extname } from 'node:path';
import { writeFileAtomic } from '@fuselab/node-io';
import { CHANNELS, MAX_READ_BYTES, MAX_SAVE_BYTES, MAX_WORKFLOW_CHARS, type Channel, type IpcResult, type OpenedFile, type OpenFilesBatch, type RecentFile, type SavedFile } from '@fuselab/editor';
import { DesktopError, IpcArgumentError, IpcSenderError } from './errors.ts';
import { HANDLE_PATTERN, type FileTable } from './file-table.ts';
import type { RecentFiles } from './recent-files.ts';
import { isAppUrl } from './security.ts';

/** What a handler knows of the sender: the webContents id and the sending frame (`event.senderFrame`). */
export interface SenderInfo {
  /** webContents id: handles belong to it. */
  id: number;
  /** The sending frame's URL; null when the frame is gone. */
  url: string | null;
  isMainFrame: boolean;
}

export type SaveKind = 'engine' | 'model' | 'workflow';

export const SAVE_EXTENSIONS: Readonly<Record<SaveKind, string>> = { engine: '.engine', model: '.onnx', workflow: '.json' };

/** The native dialogs (Electron's `dialog` in main.ts; fakes in tests). */
export interface Dialogs {
  /** An absolute path to an .onnx/.engine file, or null when cancelled. */
  openModel(): Promise<string | null>;
  /** An absolute path to save to, or null when cancelled. */
  save(kind: SaveKind, suggestedName: string): Promise<string | null>;
}

export interface IpcDeps {
  files: FileTable;
  recent: RecentFiles;
  dialogs: Dialogs;
  /** Sends the sender a MessagePort to the runtime host (main.ts). */
  connectRuntime(sender: SenderInfo): void | Promise<void>;
}

/** Refuses a sender that is not the app's own top-level page. */
export function checkSender(channel: string, sender: SenderInfo): void {
  if (!sender.url) throw new IpcSenderError(channel, null, 'the frame no longer exists');
  if (!sender.isMainFrame) throw new IpcSenderError(channel, sender.url, 'only the top-level page may use the desktop API (not a subframe)');
  if (!isAppUrl(sender.url)) throw new IpcSenderError(channel, sender.url, 'only the app\'s own pages (app://fuselab/) may use the desktop API');
}

// ---- argument validation ---------------------------------------------------------------------------

function arity(channel: string, args: readonly unknown[], n: number): void {
  if (args.length !== n) throw new IpcArgumentError(channel, 'arguments', `expected ${n} argument${n === 1 ? '' : 's'}, got ${args.length}`);
}

function handleArg(channel: string, name: string, v: unknown): string {
  if (typeof v !== 'string' || !HANDLE_PATTERN.test(v)) throw new IpcArgumentError(channel, name, `must be a file handle from openModel/openCompanion (got ${describe(v)})`);
  return v;
}

function intArg(channel: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new IpcArgumentError(channel, name, `must be an integer (got ${describe(v)})`);
  if (v < min || v > max) throw new IpcArgumentError(channel, name, `must be between ${min} and ${max} (got ${v})`);
  return v;
}

function stringArg(channel: string, name: string, v: unknown, maxChars: number): string {
  if (typeof v !== 'string') throw new IpcArgumentError(channel, name, `must be a string (got ${describe(v)})`);
  if (v.length > maxChars) throw new IpcArgumentError(channel, name, `is ${v.length} characters; the limit is ${maxChars}`);
  return v;
}

function bytesArg(channel: string, name: string, v: unknown, max: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw new IpcArgumentError(channel, name, `must be a Uint8Array (got ${describe(v)})`);
  if (v.byteLength === 0) throw new IpcArgumentError(channel, name, 'is empty: nothing to save');
  if (v.byteLength > max) throw new IpcArgumentError(channel, name, `is ${v.byteLength} bytes; the limit is ${max}`);
  return v;
}

/** A file name to suggest in the save dialog: one path segment, no control characters. */
function fileNameArg(channel: string, name: string, v: unknown): string {
  const s = stringArg(channel, name, v, 255).trim();
  // eslint-disable-next-line no-control-regex
  if (!s || s === '.' || s === '..' || /[/\\\x00-\x1f]/.test(s)) throw new IpcArgumentError(channel, name, `must be a plain file name without folders or control characters (got ${JSON.stringify(s)})`);
  return s;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Uint8Array) return `${v.constructor.name}(${v.byteLength})`;
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return `an object`;
  return `${typeof v} ${String(v)}`;
}

// ---- handlers --------------------------------------------------------------------------------------

type Handler = (sender: SenderInfo, args: readonly unknown[]) => Promise<unknown>;

export interface IpcHandlers {
  /** Runs a channel's handler: sender check, validation, work. Never throws; errors come back coded. */
  invoke(channel: string, sender: SenderInfo, args: readonly unknown[]): Promise<IpcResult<unknown>>;
  /** Opens paths from the OS (argv, open-file) or a drop for a window, recording them as recent. */
  openPaths(owner: number, paths: readonly string[], reason: OpenFilesBatch['reason']): OpenFilesBatch;
  /** A window closed or navigated: close its files. */
  forgetSender(id: number): void;
  readonly channels: readonly Channel[];
}

export function createIpcHandlers(deps: IpcDeps): IpcHandlers {
  const { files, recent, dialogs } = deps;

  const openAndRemember = (owner: number, path: string): OpenedFile => {
    const info = files.openModel(owner, path);
    recent.add(files.pathOf(owner, info.handle));
    return info;
  };

  const save = async (kind: SaveKind, channel: string, data: Uint8Array | string, suggestedName: string): Promise<SavedFile | null> => {
    let path = await dialogs.save(kind, suggestedName);
    if (path === null) return null;
    if (!extname(path)) path += SAVE_EXTENSIONS[kind];
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    try {
      writeFileAtomic(path, bytes);
    } catch (e) {
      throw new DesktopError('SAVE_FAILED', `${channel}: could not save ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); nothing was written there — pick another folder or free some space`);
    }
    if (kind !== 'workflow') recent.add(path);
    return { name: path.split(/[\\/]/).pop() as string, bytes: bytes.byteLength };
  };

  const openPaths = (owner: number, paths: readonly string[], reason: OpenFilesBatch['reason']): OpenFilesBatch => {
    const batch: OpenFilesBatch = { reason, files: [], refused: [] };
    for (const p of paths) {
      try {
        batch.files.push(openAndRemember(owner, p));
      } catch (e) {
        batch.refused.push((e as Error).message);
      }
    }
    return batch;
  };

  const handlers: Record<Channel, Handler> = {
    [CHANNELS.openModel]: async (s, a) => {
      arity(CHANNELS.openModel, a, 0);
      const path = await dialogs.openModel();
      return path === null ? null : openAndRemember(s.id, path);
    },
    [CHANNELS.openCompanion]: async (s, a) => {
      const c = CHANNELS.openCompanion;
      arity(c, a, 2);
      return files.openCompanion(s.id, handleArg(c, 'model', a[0]), stringArg(c, 'name', a[1], 1024));
    },
    [CHANNELS.readFileRange]: async (s, a) => {
      const c = CHANNELS.readFileRange;
      arity(c, a, 3);
      const handle = handleArg(c, 'handle', a[0]);
      const offset = intArg(c, 'offset', a[1], 0, Number.MAX_SAFE_INTEGER);
      const length = intArg(c, 'length', a[2], 0, MAX_READ_BYTES);
      return files.read(s.id, handle, offset, length);
    },
    [CHANNELS.closeFile]: async (s, a) => {
      arity(CHANNELS.closeFile, a, 1);
      files.close(s.id, handleArg(CHANNELS.closeFile, 'handle', a[0]));
      return null;
    },
    [CHANNELS.saveEngine]: async (_s, a) => {
      const c = CHANNELS.saveEngine;
      arity(c, a, 2);
      return save('engine', c, bytesArg(c, 'bytes', a[0], MAX_SAVE_BYTES), fileNameArg(c, 'suggestedName', a[1]));
    },
    [CHANNELS.saveModel]: async (_s, a) => {
      const c = CHANNELS.saveModel;
      arity(c, a, 2);
      return save('model', c, bytesArg(c, 'bytes', a[0], MAX_SAVE_BYTES), fileNameArg(c, 'suggestedName', a[1]));
    },
    [CHANNELS.saveWorkflow]: async (_s, a) => {
      const c = CHANNELS.saveWorkflow;
      arity(c, a, 2);
      const json = stringArg(c, 'json', a[0], MAX_WORKFLOW_CHARS);
      try {
        JSON.parse(json);
      } catch (e) {
        throw new IpcArgumentError(c, 'json', `is not valid JSON (${(e as Error).message}); nothing was saved`);
      }
      return save('workflow', c, json, fileNameArg(c, 'suggestedName', a[1]));
    },
    [CHANNELS.recentFiles]: async (_s, a) => {
      arity(CHANNELS.recentFiles, a, 0);
      return recent.list() satisfies RecentFile[];
    },
    [CHANNELS.openRecent]: async (s, a) => {
      const c = CHANNELS.openRecent;
      arity(c, a, 1);
      const id = stringArg(c, 'id', a[0], 64);
      const path = recent.pathOf(id);
      if (!path) throw new IpcArgumentError(c, 'id', `is not in the recent-files list (${JSON.stringify(id)}): list them again`);
      return openAndRemember(s.id, path);
    },
    [CHANNELS.openDropped]: async (s, a) => {
      const c = CHANNELS.openDropped;
      arity(c, a, 1);
      if (!Array.isArray(a[0]) || a[0].length === 0 || a[0].length > 32) throw new IpcArgumentError(c, 'paths', `must be an array of 1 to 32 paths (got ${describe(a[0])})`);
      // the only place a path comes from the renderer: the preload's own drop listener (webUtils.getPathForFile
      // of a File the user dropped). It may only open model files, by the same rules as the open dialog.
      const paths = a[0].map((p, i) => stringArg(c, `paths[${i}]`, p, 4096));
      return openPaths(s.id, paths, 'drop');
    },
    [CHANNELS.runtimePort]: async (s, a) => {
      arity(CHANNELS.runtimePort, a, 0);
      await deps.connectRuntime(s);
      return null;
    },
  };

  return {
    channels: Object.keys(handlers) as Channel[],
    openPaths,
    forgetSender: (id) => { files.closeAll(id); },
    async invoke(channel, sender, args) {
      try {
        const handler = (handlers as Record<string, Handler | undefined>)[channel];
        if (!handler) throw new DesktopError('UNKNOWN_CHANNEL', `no handler for IPC channel '${channel}'`);
        checkSender(channel, sender);
        return { ok: true, value: await handler(sender, args) };
      } catch (e) {
        const err = e as Error & { code?: unknown };
        const code = e instanceof DesktopError ? e.code : e instanceof RangeError ? 'OUT_OF_RANGE' : typeof err.code === 'string' && /^[A-Z_]+$/.test(err.code) ? err.code : 'INTERNAL';
        return { ok: false, code, message: err.message };
      }
    },
  };
}
