/**
 * Page-side helpers for the desktop API: find `window.fuselabDesktop`, and receive the GPU runtime's
 * MessagePort from the shell. Nothing here touches Node or the DOM beyond `postMessage` events.
 */
import { DESKTOP_API_KEY, RUNTIME_PORT_MESSAGE, type FuselabDesktopApi } from './api.ts';

/** `window.fuselabDesktop` when running in the desktop shell, else null (the web editor). */
export function desktopApi(scope: unknown = globalThis): FuselabDesktopApi | null {
  return ((scope as Record<string, unknown>)[DESKTOP_API_KEY] as FuselabDesktopApi | undefined) ?? null;
}

/** What `connectRuntimePort` listens on: the window (a stand-in in Node tests). */
export interface MessageSource {
  addEventListener(type: 'message', listener: (e: { data: unknown; ports: readonly MessagePort[]; origin: string; source: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (e: { data: unknown; ports: readonly MessagePort[]; origin: string; source: unknown }) => void): void;
  location: { origin: string };
}

/**
 * Asks the shell for a port to the GPU runtime and resolves with it: hand it to `new
 * RuntimeClient(port)` from @fuselab/gpu-runtime. Only a message from this window's own origin
 * carrying RUNTIME_PORT_MESSAGE and a port is accepted.
 */
export function connectRuntimePort(api: FuselabDesktopApi, scope: MessageSource = globalThis as unknown as MessageSource, timeoutMs = 30_000): Promise<MessagePort> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { scope.removeEventListener('message', onMessage); reject(new Error(`[RUNTIME_TIMEOUT] the runtime port did not arrive within ${timeoutMs} ms`)); }, timeoutMs);
    function onMessage(e: { data: unknown; ports: readonly MessagePort[]; origin: string; source: unknown }): void {
      if (e.data !== RUNTIME_PORT_MESSAGE || e.origin !== scope.location.origin || !e.ports?.[0]) return;
      clearTimeout(timer);
      scope.removeEventListener('message', onMessage);
      resolve(e.ports[0]);
    }
    scope.addEventListener('message', onMessage);
    api.requestRuntimePort().catch((err: Error) => { clearTimeout(timer); scope.removeEventListener('message', onMessage); reject(err); });
  });
}
