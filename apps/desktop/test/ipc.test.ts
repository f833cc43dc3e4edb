import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHANNELS, MAX_READ_BYTES, desktopErrorCode, type IpcResult, type OpenedFile, type OpenFilesBatch, type RecentFile, type SavedFile } from '@fuselab/editor';
import { FileTable } from '../src/file-table.ts';
import { checkSender, createIpcHandlers, type IpcHandlers, type SenderInfo } from '../src/ipc.ts';
import { MAX_RECENT, RecentFiles } from '../src/recent-files.ts';
import { APP_PAGE, FakeDialogs, OTHER_WINDOW, tempDir } from './helpers.ts';

let tmp: ReturnType<typeof tempDir>;
let dialogs: FakeDialogs;
let files: FileTable;
let recentPath: string;
let ipc: IpcHandlers;
let connected: SenderInfo[];

beforeEach(() => {
  tmp = tempDir();
  dialogs = new FakeDialogs();
  files = new FileTable();
  recentPath = join(tmp.dir, 'user', 'recent-files.json');
  mkdirSync(join(tmp.dir, 'user'));
  connected = [];
  ipc = createIpcHandlers({ files, recent: new RecentFiles(recentPath), dialogs, connectRuntime: (s) => { connected.push(s); } });
});
afterEach(() => {
  files.closeAll(APP_PAGE.id);
  files.closeAll(OTHER_WINDOW.id);
  tmp.cleanup();
});

/** A model folder: model.onnx with 1 MiB of patterned bytes, and its tokenizer. */
function modelFolder(name = 'models'): { dir: string; model: string; bytes: Uint8Array } {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  const bytes = new Uint8Array(1 << 20).map((_, i) => (i * 31 + (i >> 8)) & 0xff);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(join(dir, 'tokenizer.json'), '{"model":{}}');
  return { dir, model: join(dir, 'model.onnx'), bytes };
}

async function ok<T>(p: Promise<IpcResult<unknown>>): Promise<T> {
  const r = await p;
  if (!r.ok) throw new Error(`[${r.code}] ${r.message}`);
  return r.value as T;
}

async function fails(p: Promise<IpcResult<unknown>>): Promise<{ code: string; message: string }> {
  const r = await p;
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r;
}

async function openModel(path: string, sender = APP_PAGE): Promise<OpenedFile> {
  dialogs.opens.push(path);
  return ok<OpenedFile>(ipc.invoke(CHANNELS.openModel, sender, []));
}

describe('opening and reading by range', () => {
  it('opens a model from the dialog and reads exact ranges from disk', async () => {
    const { model, bytes } = modelFolder();
    const f = await openModel(model);
    expect(f).toMatchObject({ name: 'model.onnx', kind: 'onnx', size: bytes.length, companions: ['tokenizer.json'] });
    expect(f.handle).toMatch(/^f_[0-9a-f]{32}$/);
    const mid = await ok<Uint8Array>(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 12345, 4096]));
    expect(mid).toEqual(bytes.subarray(12345, 12345 + 4096));
    const tail = await ok<Uint8Array>(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, bytes.length - 10, 10]));
    expect(tail).toEqual(bytes.subarray(bytes.length - 10));
    // whole file assembled from 256 KiB pieces, as the editor reads big models
    const pieces: Uint8Array[] = [];
    for (let o = 0; o < f.size; o += 1 << 18) pieces.push(await ok<Uint8Array>(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, o, Math.min(1 << 18, f.size - o)])));
    expect(Buffer.concat(pieces).equals(Buffer.from(bytes))).toBe(true);
  });

  it('keeps reading the opened file when it is replaced on disk (atomic rename)', async () => {
    const { dir, model, bytes } = modelFolder();
    const f = await openModel(model);
    writeFileSync(join(dir, 'new.onnx'), new Uint8Array(10));
    const { renameSync } = await import('node:fs');
    renameSync(join(dir, 'new.onnx'), model);
    expect(await ok<Uint8Array>(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 0, 16]))).toEqual(bytes.subarray(0, 16));
  });

  it('refuses reads past the end, negative or fractional offsets, and oversized lengths', async () => {
    const { model } = modelFolder();
    const f = await openModel(model);
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, f.size - 4, 8]))).toMatchObject({ code: 'OUT_OF_RANGE', message: expect.stringContaining('past the end') });
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, -1, 8]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining("'offset' must be between 0") });
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 1.5, 8]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining("'offset' must be an integer") });
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, '0', 8]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('(got string "0")') });
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 0, MAX_READ_BYTES + 1]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining("'length' must be between 0 and 67108864") });
  });

  it('validates handles and argument counts', async () => {
    const { model } = modelFolder();
    const f = await openModel(model);
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [model, 0, 8]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining("'handle' must be a file handle") });
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 0]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('expected 3 arguments, got 2') });
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [`f_${'0'.repeat(32)}`, 0, 8]))).toMatchObject({ code: 'UNKNOWN_HANDLE' });
    expect(await fails(ipc.invoke(CHANNELS.openModel, APP_PAGE, ['/etc/passwd']))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('expected 0 arguments, got 1') });
    expect(await fails(ipc.invoke('fuselab:exec', APP_PAGE, []))).toMatchObject({ code: 'UNKNOWN_CHANNEL' });
  });

  it('scopes handles to the window that opened them and closes them with it', async () => {
    const { model } = modelFolder();
    const f = await openModel(model);
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, OTHER_WINDOW, [f.handle, 0, 8]))).toMatchObject({ code: 'UNKNOWN_HANDLE' });
    await ok(ipc.invoke(CHANNELS.closeFile, APP_PAGE, [f.handle]));
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 0, 8]))).toMatchObject({ code: 'UNKNOWN_HANDLE' });
    const g = await openModel(model);
    expect(files.openCount).toBe(1);
    ipc.forgetSender(APP_PAGE.id);
    expect(files.openCount).toBe(0);
    expect(await fails(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [g.handle, 0, 8]))).toMatchObject({ code: 'UNKNOWN_HANDLE' });
  });

  it('returns null when the open dialog is cancelled, and opens only model files', async () => {
    expect(await ok(ipc.invoke(CHANNELS.openModel, APP_PAGE, []))).toBeNull();
    const { dir } = modelFolder();
    dialogs.opens.push(join(dir, 'tokenizer.json'));
    expect(await fails(ipc.invoke(CHANNELS.openModel, APP_PAGE, []))).toMatchObject({ code: 'PATH_REFUSED', message: expect.stringContaining('only .onnx, .engine files open as models') });
    dialogs.opens.push(join(dir, 'missing.onnx'));
    expect(await fails(ipc.invoke(CHANNELS.openModel, APP_PAGE, []))).toMatchObject({ code: 'FILE_ACCESS', message: expect.stringContaining('ENOENT') });
    mkdirSync(join(dir, 'folder.onnx'));
    dialogs.opens.push(join(dir, 'folder.onnx'));
    expect(await fails(ipc.invoke(CHANNELS.openModel, APP_PAGE, []))).toMatchObject({ code: 'PATH_REFUSED', message: expect.stringContaining('not a regular file') });
  });
});

describe('companion files (tokenizer, external data) beside a model', () => {
  it('opens a file beside the model and reads it', async () => {
    const { model } = modelFolder();
    const f = await openModel(model);
    const t = await ok<OpenedFile>(ipc.invoke(CHANNELS.openCompanion, APP_PAGE, [f.handle, 'tokenizer.json']));
    expect(t).toMatchObject({ name: 'tokenizer.json', kind: 'json', size: 12 });
    expect(new TextDecoder().decode(await ok<Uint8Array>(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [t.handle, 0, 12])))).toBe('{"model":{}}');
  });

  it('refuses paths that escape the model folder', async () => {
    const { model } = modelFolder();
    writeFileSync(join(tmp.dir, 'secret.json'), 'secret');
    const f = await openModel(model);
    for (const [name, why] of [['../secret.json', "'..'"], [join(tmp.dir, 'secret.json'), 'absolute path'], ['sub/../../secret.json', "'..'"], ['', 'empty']] as const) {
      const e = await fails(ipc.invoke(CHANNELS.openCompanion, APP_PAGE, [f.handle, name]));
      expect(e.code, name).toBe('PATH_REFUSED');
      expect(e.message).toContain(why);
    }
  });

  it('refuses symbolic links (to files outside or inside the folder) and hard links', async () => {
    const { dir, model } = modelFolder();
    writeFileSync(join(tmp.dir, 'secret.json'), 'secret');
    symlinkSync(join(tmp.dir, 'secret.json'), join(dir, 'config.json'));
    symlinkSync(join(dir, 'tokenizer.json'), join(dir, 'alias.json'));
    mkdirSync(join(tmp.dir, 'elsewhere'));
    writeFileSync(join(tmp.dir, 'elsewhere', 'x.data'), 'x');
    symlinkSync(join(tmp.dir, 'elsewhere'), join(dir, 'weights'));
    linkSync(join(tmp.dir, 'secret.json'), join(dir, 'hard.json'));
    const f = await openModel(model);
    expect(f.companions).toEqual(['hard.json', 'tokenizer.json']); // symlinks are not offered
    for (const [name, why] of [['config.json', 'symbolic link'], ['alias.json', 'symbolic link'], ['weights/x.data', 'symbolic link'], ['hard.json', 'hard links']] as const) {
      const e = await fails(ipc.invoke(CHANNELS.openCompanion, APP_PAGE, [f.handle, name]));
      expect(e.code, name).toBe('PATH_REFUSED');
      expect(e.message).toContain(why);
    }
  });

  it('follows a symlink the user picked as the model itself (their choice), reading the target', async () => {
    const { model, bytes } = modelFolder('real');
    mkdirSync(join(tmp.dir, 'linked'));
    symlinkSync(model, join(tmp.dir, 'linked', 'model.onnx'));
    const f = await openModel(join(tmp.dir, 'linked', 'model.onnx'));
    expect(await ok<Uint8Array>(ipc.invoke(CHANNELS.readFileRange, APP_PAGE, [f.handle, 0, 4]))).toEqual(bytes.subarray(0, 4));
    // companions are then looked up beside the real file
    expect(f.companions).toEqual(['tokenizer.json']);
  });
});

describe('atomic saves', () => {
  const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp'));

  it('writes an engine through the save dialog, adding the extension, and remembers it', async () => {
    const out = join(tmp.dir, 'out');
    mkdirSync(out);
    dialogs.saves.push(join(out, 'kjv'));
    const data = new Uint8Array(300_000).fill(7);
    const saved = await ok<SavedFile>(ipc.invoke(CHANNELS.saveEngine, APP_PAGE, [data, 'kjv-llama.engine']));
    expect(saved).toEqual({ name: 'kjv.engine', bytes: 300_000 });
    expect(dialogs.asked).toEqual([{ kind: 'engine', suggestedName: 'kjv-llama.engine' }]);
    expect(readFileSync(join(out, 'kjv.engine')).equals(Buffer.from(data))).toBe(true);
    expect(leftovers(out)).toEqual([]);
    expect((await ok<RecentFile[]>(ipc.invoke(CHANNELS.recentFiles, APP_PAGE, [])))[0]).toMatchObject({ name: 'kjv.engine', kind: 'engine', folder: out, exists: true });
  });

  it('replaces an existing file whole, and a failed save leaves neither a partial file nor a temp file', async () => {
    const out = join(tmp.dir, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'flow.json'), '{"old":true}');
    dialogs.saves.push(join(out, 'flow.json'));
    await ok(ipc.invoke(CHANNELS.saveWorkflow, APP_PAGE, ['{"version":1,"steps":[]}', 'flow.json']));
    expect(readFileSync(join(out, 'flow.json'), 'utf8')).toBe('{"version":1,"steps":[]}');
    // the target is a folder: rename fails after the data was written and synced → temp removed
    mkdirSync(join(out, 'taken.engine'));
    writeFileSync(join(out, 'taken.engine', 'keep'), 'x');
    dialogs.saves.push(join(out, 'taken.engine'));
    const e = await fails(ipc.invoke(CHANNELS.saveEngine, APP_PAGE, [new Uint8Array(1 << 20).fill(1), 'taken.engine']));
    expect(e.code).toBe('SAVE_FAILED');
    expect(e.message).toMatch(/could not save .*taken\.engine \(E[A-Z]+\); nothing was written there/);
    expect(leftovers(out)).toEqual([]);
    expect(readdirSync(join(out, 'taken.engine'))).toEqual(['keep']);
    // a folder that does not exist: nothing created
    dialogs.saves.push(join(out, 'nope', 'x.engine'));
    expect((await fails(ipc.invoke(CHANNELS.saveEngine, APP_PAGE, [new Uint8Array(4), 'x.engine']))).code).toBe('SAVE_FAILED');
    expect(existsSync(join(out, 'nope'))).toBe(false);
  });

  it('returns null when the save dialog is cancelled, writing nothing', async () => {
    expect(await ok(ipc.invoke(CHANNELS.saveModel, APP_PAGE, [new Uint8Array(4), 'm.onnx']))).toBeNull();
  });

  it('validates what is saved before asking where', async () => {
    const c = CHANNELS.saveEngine;
    expect(await fails(ipc.invoke(c, APP_PAGE, [[1, 2, 3], 'a.engine']))).toMatchObject({ code: 'BAD_ARGUMENT', message: `${c}: argument 'bytes' must be a Uint8Array (got an array)` });
    expect(await fails(ipc.invoke(c, APP_PAGE, [new Uint8Array(0), 'a.engine']))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('is empty') });
    expect(await fails(ipc.invoke(c, APP_PAGE, [new Uint8Array(4), '../../etc/a.engine']))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('plain file name without folders') });
    expect(await fails(ipc.invoke(c, APP_PAGE, [new Uint8Array(4), 'a\u0000.engine']))).toMatchObject({ code: 'BAD_ARGUMENT' });
    expect(await fails(ipc.invoke(CHANNELS.saveWorkflow, APP_PAGE, ['{not json', 'w.json']))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('is not valid JSON') });
    expect(await fails(ipc.invoke(CHANNELS.saveWorkflow, APP_PAGE, [{ steps: [] }, 'w.json']))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining("'json' must be a string (got an object)") });
    expect(dialogs.asked).toEqual([]);
  });
});

describe('recent files', () => {
  it('lists opened files newest first, reopens by id, and persists across restarts', async () => {
    const a = modelFolder('a');
    const b = modelFolder('b');
    await openModel(a.model);
    await openModel(b.model);
    await openModel(a.model);
    const list = await ok<RecentFile[]>(ipc.invoke(CHANNELS.recentFiles, APP_PAGE, []));
    expect(list.map((r) => r.folder)).toEqual([a.dir, b.dir]);
    expect(JSON.stringify(list)).not.toContain('"path"');
    const reopened = await ok<OpenedFile>(ipc.invoke(CHANNELS.openRecent, APP_PAGE, [list[1].id]));
    expect(reopened.size).toBe(b.bytes.length);
    // a fresh process reads the saved list
    const again = new RecentFiles(recentPath);
    expect(again.loadProblem).toBeNull();
    expect(again.list().map((r) => r.folder)).toEqual([b.dir, a.dir]);
    expect(readdirSync(join(tmp.dir, 'user'))).toEqual(['recent-files.json']);
    expect(await fails(ipc.invoke(CHANNELS.openRecent, APP_PAGE, ['0123456789abcdef']))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('not in the recent-files list') });
  });

  it(`keeps the newest ${MAX_RECENT}, marks missing files, and survives a corrupt list`, () => {
    let t = 0;
    const r = new RecentFiles(recentPath, () => new Date(Date.UTC(2025, 0, 1, 0, 0, t++)));
    for (let i = 0; i < MAX_RECENT + 3; i++) r.add(join(tmp.dir, `m${i}.onnx`));
    const list = r.list();
    expect(list).toHaveLength(MAX_RECENT);
    expect(list[0]).toMatchObject({ name: `m${MAX_RECENT + 2}.onnx`, exists: false, openedAt: '2025-01-01T00:00:14.000Z' });
    writeFileSync(recentPath, '{"version":1,"files":[{"path":');
    const broken = new RecentFiles(recentPath);
    expect(broken.list()).toEqual([]);
    expect(broken.loadProblem).toContain('unreadable');
    writeFileSync(recentPath, JSON.stringify({ version: 1, files: [{ path: 42 }, { path: '/x/y.onnx', openedAt: 'then' }] }));
    expect(new RecentFiles(recentPath).list().map((f) => f.name)).toEqual(['y.onnx']);
  });
});

describe('files from the OS and drops', () => {
  it('opens dropped model paths and says why others were refused', async () => {
    const { dir, model } = modelFolder();
    const batch = await ok<OpenFilesBatch>(ipc.invoke(CHANNELS.openDropped, APP_PAGE, [[model, join(dir, 'tokenizer.json'), 'relative/model.onnx']]));
    expect(batch.reason).toBe('drop');
    expect(batch.files.map((f) => f.name)).toEqual(['model.onnx']);
    expect(batch.refused).toEqual([expect.stringContaining('only .onnx, .engine files open as models'), expect.stringContaining('not an absolute path')]);
    expect(await fails(ipc.invoke(CHANNELS.openDropped, APP_PAGE, [model]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining('must be an array of 1 to 32 paths') });
    expect(await fails(ipc.invoke(CHANNELS.openDropped, APP_PAGE, [[model, 3]]))).toMatchObject({ code: 'BAD_ARGUMENT', message: expect.stringContaining("'paths[1]' must be a string") });
  });

  it('opens OS paths for a window (argv, open-file)', () => {
    const { model } = modelFolder();
    const batch = ipc.openPaths(APP_PAGE.id, [model], 'os');
    expect(batch).toMatchObject({ reason: 'os', refused: [], files: [{ name: 'model.onnx' }] });
  });
});

describe('sender checks', () => {
  const untrusted: Array<[string, SenderInfo, string]> = [
    ['a remote page', { id: 1, url: 'https://evil.example/', isMainFrame: true }, "only the app's own pages"],
    ['a file: page', { id: 1, url: 'file:///tmp/x.html', isMainFrame: true }, "only the app's own pages"],
    ['a look-alike host', { id: 1, url: 'app://fuselab.evil/index.html', isMainFrame: true }, "only the app's own pages"],
    ['a subframe of the app', { id: 1, url: 'app://fuselab/index.html', isMainFrame: false }, 'not a subframe'],
    ['a destroyed frame', { id: 1, url: null, isMainFrame: true }, 'no longer exists'],
  ];
  it.each(untrusted)('refuses %s on every channel, before touching arguments or dialogs', async (_what, sender, why) => {
    dialogs.opens.push('/never/opened.onnx');
    for (const channel of ipc.channels) {
      const e = await fails(ipc.invoke(channel, sender, []));
      expect(e.code, channel).toBe('UNTRUSTED_SENDER');
      expect(e.message).toContain(why);
    }
    expect(dialogs.opens).toEqual(['/never/opened.onnx']);
    expect(connected).toEqual([]);
  });

  it('accepts the app page (and asks main for a runtime port for it)', async () => {
    expect(() => checkSender('x', APP_PAGE)).not.toThrow();
    await ok(ipc.invoke(CHANNELS.runtimePort, APP_PAGE, []));
    expect(connected).toEqual([APP_PAGE]);
  });

  it('reads codes back out of API error messages', () => {
    expect(desktopErrorCode(new Error('[PATH_REFUSED] x'))).toBe('PATH_REFUSED');
    expect(desktopErrorCode(new Error('plain'))).toBeNull();
  });
});
