/**
 * The preload (sandboxed, context-isolated): exposes `window.fuselabDesktop`, one method per
 * capability, each a fixed IPC call with its arguments passed through as they are (main validates
 * them). `ipcRenderer` itself never reaches the page.
 *
 * Drops: the preload listens for files dropped on the window, takes their paths with
 * `webUtils.getPathForFile` (only real dropped files have one; a page cannot forge it) and asks
 * main to open them; results reach `onOpenFiles` listeners like files opened from the OS.
 * The runtime port arrives by IPC and is passed on to the page with `window.postMessage`.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { CHANNELS, DESKTOP_API_KEY, EVENTS, RUNTIME_PORT_MESSAGE, type FuselabDesktopApi, type IpcResult, type OpenFilesBatch } from './api.ts';

async function call<T>(channel: string, ...args: unknown[]): Promise<T> {
  const r = (await ipcRenderer.invoke(channel, ...args)) as IpcResult<T>;
  if (r.ok) return r.value;
  throw new Error(`[${r.code}] ${r.message}`);
}

const openListeners = new Set<(batch: OpenFilesBatch) => void>();
const deliver = (batch: OpenFilesBatch) => { for (const l of openListeners) l(batch); };

ipcRenderer.on(EVENTS.openFiles, (_e: IpcRendererEvent, batch: OpenFilesBatch) => deliver(batch));

ipcRenderer.on(EVENTS.runtimePort, (e: IpcRendererEvent) => {
  // a MessagePort cannot cross the context bridge; window.postMessage can carry it into the page
  window.postMessage(RUNTIME_PORT_MESSAGE, location.origin, e.ports);
});

window.addEventListener('dragover', (e) => { e.preventDefault(); }, true);
window.addEventListener('drop', (e) => {
  const files = [...(e.dataTransfer?.files ?? [])];
  const paths = files.map((f) => webUtils.getPathForFile(f)).filter((p) => /\.(onnx|engine)$/i.test(p));
  if (!paths.length) return;
  e.preventDefault();
  e.stopPropagation();
  call<OpenFilesBatch>(CHANNELS.openDropped, paths.slice(0, 32)).then(deliver, (err: Error) => deliver({ reason: 'drop', files: [], refused: [err.message] }));
}, true);

const api: FuselabDesktopApi = {
  platform: process.platform,
  versions: { electron: process.versions.electron ?? '', chrome: process.versions.chrome ?? '', node: process.versions.node ?? '' },
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
    openListeners.add(l);
    return () => { openListeners.delete(l); };
  },
  requestRuntimePort: () => call(CHANNELS.runtimePort),
};

contextBridge.exposeInMainWorld(DESKTOP_API_KEY, api);
