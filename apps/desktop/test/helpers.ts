/**
 * Shared fixtures for the desktop tests: temp folders with real files, a trusted sender, fake
 * dialogs, the preload's API over the real IPC handlers called in-process, and a window stand-in
 * for the page-side helpers.
 */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MessageSource } from '@fuselab/editor';
import type { Dialogs, IpcHandlers, SaveKind, SenderInfo } from '../src/ipc.ts';
import { createPreloadApi, type PreloadApi } from '../src/preload-api.ts';

export function tempDir(prefix = 'fuselab-desktop-'): { dir: string; cleanup(): void } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const APP_PAGE: SenderInfo = { id: 1, url: 'app://fuselab/index.html', isMainFrame: true };
export const OTHER_WINDOW: SenderInfo = { id: 2, url: 'app://fuselab/index.html', isMainFrame: true };

/** Dialogs that answer from queues (null = the user cancelled). */
export class FakeDialogs implements Dialogs {
  opens: Array<string | null> = [];
  saves: Array<string | null> = [];
  readonly asked: Array<{ kind: SaveKind; suggestedName: string }> = [];
  async openModel(): Promise<string | null> {
    return this.opens.shift() ?? null;
  }
  async save(kind: SaveKind, suggestedName: string): Promise<string | null> {
    this.asked.push({ kind, suggestedName });
    return this.saves.shift() ?? null;
  }
}

/** The preload's API (preload-api.ts) with Electron's IPC transport replaced by a direct call of the real handlers. */
export function inProcessPreload(ipc: IpcHandlers, sender: SenderInfo = APP_PAGE): PreloadApi {
  return createPreloadApi({ invoke: (channel, ...args) => ipc.invoke(channel, sender, args), platform: process.platform, versions: { electron: '', chrome: '', node: process.versions.node } });
}

type WindowMessage = Parameters<Parameters<MessageSource['addEventListener']>[1]>[0];

/** A window's `message` events and origin, for connectRuntimePort in Node. */
export function fakeWindow(origin = 'app://fuselab') {
  const listeners = new Set<(e: WindowMessage) => void>();
  return {
    location: { origin },
    addEventListener: (_t: 'message', l: (e: WindowMessage) => void) => { listeners.add(l); },
    removeEventListener: (_t: 'message', l: (e: WindowMessage) => void) => { listeners.delete(l); },
    dispatch: (e: WindowMessage) => { for (const l of [...listeners]) l(e); },
    get listenerCount() { return listeners.size; },
  };
}
