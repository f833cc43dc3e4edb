/**
 * The preload (sandboxed, context-isolated): exposes `window.fuselabDesktop` (preload-api.ts: one
 * method per capability over `ipcRenderer.invoke`); `ipcRenderer` itself never reaches the page.
 *
 * Drops: the preload listens for files dropped on the window, takes their paths with
 * `webUtils.getPathForFile` (only real dropped files have one; a page cannot forge it) and asks
 * main to open them; results reach `onOpenFiles` listeners like files opened from the OS.
 * The runtime port arrives by IPC and is passed on to the page with `window.postMessage`.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { DESKTOP_API_KEY, EVENTS, RUNTIME_PORT_MESSAGE, type OpenFilesBatch } from '@fuselab/editor';
import { createPreloadApi } from './preload-api.ts';

const { api, deliver, openDropped } = createPreloadApi({
  invoke: (channel, ...args) => ipcRenderer.invoke(channel, ...args),
  platform: process.platform,
  versions: { electron: process.versions.electron ?? '', chrome: process.versions.chrome ?? '', node: process.versions.node ?? '' },
});

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
  void openDropped(paths);
}, true);

contextBridge.exposeInMainWorld(DESKTOP_API_KEY, api);
