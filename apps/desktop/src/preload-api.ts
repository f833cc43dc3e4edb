/**
 * The object the preload exposes as `window.fuselabDesktop`, built over an `invoke` function: one
 * method per capability, each a fixed channel with its arguments passed through as they are (main
 * validates them), each reply unwrapped from its `IpcResult` (an error becomes `Error('[CODE]
 * message')`). preload.ts gives it `ipcRenderer.invoke`; tests give it the real IPC handlers over
 * another transport (a Node call, or Playwright's exposeBinding into real Chromium).
 */
import { CHANNELS, type Channel, type FuselabDesktopApi, type IpcResult, type OpenFilesBatch } from '@fuselab/editor';

export interface PreloadHost {
  /** `ipcRenderer.invoke` (the transport). */
  invoke(channel: Channel, ...args: unknown[]): Promise<unknown>;
  platform: string;
  versions: FuselabDesktopApi['versions'];
}

export interface PreloadApi {
  api: FuselabDesktopApi;
  /** Hands a batch of files from main (OS "open with", a drop) to the page's `onOpenFiles` listeners. */
  deliver(batch: OpenFilesBatch): void;
  /** Asks main to open dropped files (paths from `webUtils.getPathForFile`) and delivers the result. */
  openDropped(paths: readonly string[]): Promise<void>;
}

/** At most this many dropped files per drop (main refuses more). */
export const MAX_DROPPED = 32;

export function createPreloadApi(host: PreloadHost): PreloadApi {
  async function call<T>(channel: Channel, ...args: unknown[]): Promise<T> {
    const r = (await host.invoke(channel, ...args)) as IpcResult<T>;
    if (r.ok) return r.value;
    throw new Error(`[${r.code}] ${r.message}`);
  }

  const listeners = new Set<(batch: OpenFilesBatch) => void>();
  const deliver = (batch: OpenFilesBatch) => { for (const l of listeners) l(batch); };

  const api: FuselabDesktopApi = {
    platform: host.platform,
    versions: { ...host.versions },
    openModel: () => call(CHANNELS.openModel),
    openCompanion: (model, name) => call(CHANNELS.openCompanion, model, name),
    readFileRange: (handle, offset, length) => call(CHANNELS.readFileRange, handle, offset, length),
    closeFile: (handle) => call(CHANNELS.closeFile, handle),
    saveEngine: (bytes, suggestedName) => call(CHANNELS.saveEngine, bytes, suggestedName),
    saveModel: (bytes, suggestedName) => call(CHANNELS.saveModel, bytes, suggestedName),
    saveWorkflow: (json, suggestedName) => call(CHANNELS.saveWorkflow, json, suggestedName),
    recentFiles: () => call(CHANNELS.recentFiles),
    openRecent: (id) => call(CHANNELS.openRecent, id),
    onOpenFiles: (listener) => {
      const l = (batch: OpenFilesBatch) => listener(batch);
      listeners.add(l);
      return () => { listeners.delete(l); };
    },
    requestRuntimePort: () => call(CHANNELS.runtimePort),
  };

  return {
    api,
    deliver,
    openDropped: (paths) => call<OpenFilesBatch>(CHANNELS.openDropped, paths.slice(0, MAX_DROPPED)).then(deliver, (err: Error) => deliver({ reason: 'drop', files: [], refused: [err.message] })),
  };
}
