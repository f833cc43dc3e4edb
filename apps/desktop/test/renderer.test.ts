import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { connectRuntimePort, desktopApi, desktopErrorCode, RUNTIME_PORT_MESSAGE, type FuselabDesktopApi, type OpenFilesBatch } from '@fuselab/editor';
import { FileTable } from '../src/file-table.ts';
import { createIpcHandlers } from '../src/ipc.ts';
import { RecentFiles } from '../src/recent-files.ts';
import { APP_PAGE, FakeDialogs, fakeWindow, inProcessPreload, tempDir } from './helpers.ts';

describe('page-side helpers', () => {
  it('finds the desktop API only when the preload exposed it', () => {
    expect(desktopApi({})).toBeNull();
    const api = { platform: 'linux' } as FuselabDesktopApi;
    expect(desktopApi({ fuselabDesktop: api })).toBe(api);
  });

  it('resolves the runtime port from a same-origin window message and ignores others', async () => {
    const win = fakeWindow();
    const { port1, port2 } = new MessageChannel();
    const api = { requestRuntimePort: async () => {
      win.dispatch({ data: RUNTIME_PORT_MESSAGE, ports: [port2 as unknown as MessagePort], origin: 'https://evil.example', source: null });
      win.dispatch({ data: 'other', ports: [port2 as unknown as MessagePort], origin: 'app://fuselab', source: null });
      win.dispatch({ data: RUNTIME_PORT_MESSAGE, ports: [], origin: 'app://fuselab', source: null });
      win.dispatch({ data: RUNTIME_PORT_MESSAGE, ports: [port1 as unknown as MessagePort], origin: 'app://fuselab', source: null });
    } } as unknown as FuselabDesktopApi;
    await expect(connectRuntimePort(api, win)).resolves.toBe(port1);
    expect(win.listenerCount).toBe(0);
    port1.close();
  });

  it('rejects with the shell error, or after a timeout', async () => {
    const win = fakeWindow();
    const failing = { requestRuntimePort: async () => { throw new Error('[UNTRUSTED_SENDER] no'); } } as unknown as FuselabDesktopApi;
    await expect(connectRuntimePort(failing, win)).rejects.toThrow('[UNTRUSTED_SENDER] no');
    const silent = { requestRuntimePort: async () => {} } as unknown as FuselabDesktopApi;
    await expect(connectRuntimePort(silent, win, 30)).rejects.toThrow('[RUNTIME_TIMEOUT]');
    expect(win.listenerCount).toBe(0);
  });
});

describe('the preload API (preload-api.ts) over the real IPC handlers', () => {
  it('unwraps replies, raises [CODE] errors, delivers OS/drop batches to listeners until they unsubscribe', async () => {
    const tmp = tempDir();
    try {
      mkdirSync(join(tmp.dir, 'm'));
      const model = join(tmp.dir, 'm', 'model.onnx');
      writeFileSync(model, new Uint8Array(1000).map((_, i) => i & 0xff));
      writeFileSync(join(tmp.dir, 'm', 'notes.txt'), 'x');
      const dialogs = new FakeDialogs();
      const files = new FileTable();
      const ipc = createIpcHandlers({ files, recent: new RecentFiles(join(tmp.dir, 'recent.json')), dialogs, connectRuntime: () => {} });
      const { api, deliver, openDropped } = inProcessPreload(ipc);

      expect(await api.openModel()).toBeNull();
      dialogs.opens.push(model);
      const f = await api.openModel();
      expect(f).toMatchObject({ name: 'model.onnx', kind: 'onnx', size: 1000, companions: ['notes.txt'] });
      expect(await api.readFileRange(f!.handle, 998, 2)).toEqual(new Uint8Array([998 & 0xff, 999 & 0xff]));
      const err = await api.readFileRange(f!.handle, 999, 2).catch((e: Error) => e);
      expect(desktopErrorCode(err)).toBe('OUT_OF_RANGE');
      expect((err as Error).message).toMatch(/^\[OUT_OF_RANGE\] model\.onnx: read of 2 bytes at 999 is past the end/);
      await expect(api.openCompanion(f!.handle, '../m/model.onnx')).rejects.toThrow(/^\[PATH_REFUSED\]/);
      expect((await api.recentFiles()).map((r) => r.name)).toEqual(['model.onnx']);

      const got: OpenFilesBatch[] = [];
      const stop = api.onOpenFiles((b) => got.push(b));
      deliver(ipc.openPaths(APP_PAGE.id, [model], 'os'));
      await openDropped([join(tmp.dir, 'm', 'notes.txt')]);
      await openDropped(Array.from({ length: 40 }, () => model));
      stop();
      deliver({ reason: 'os', files: [], refused: [] });
      expect(got.map((b) => `${b.reason}: ${b.files.length} opened, ${b.refused.length} refused`)).toEqual(['os: 1 opened, 0 refused', 'drop: 0 opened, 1 refused', 'drop: 32 opened, 0 refused']);
      expect(got[1].refused[0]).toContain('only .onnx, .engine files open as models');
      expect(files.openCount).toBe(1 + 1 + 32);
      await api.closeFile(f!.handle);
      expect(files.openCount).toBe(33);
      files.closeAll(APP_PAGE.id);
    } finally {
      tmp.cleanup();
    }
  });
});
