import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { RUNTIME_PORT_MESSAGE, type FuselabDesktopApi } from '../src/api.ts';
import { connectRuntimePort, desktopApi } from '../src/renderer.ts';

type Listener = (e: { data: unknown; ports: readonly MessagePort[]; origin: string; source: unknown }) => void;

function fakeWindow(origin = 'app://fuselab') {
  const listeners = new Set<Listener>();
  return {
    location: { origin },
    addEventListener: (_t: 'message', l: Listener) => { listeners.add(l); },
    removeEventListener: (_t: 'message', l: Listener) => { listeners.delete(l); },
    dispatch: (e: Parameters<Listener>[0]) => { for (const l of [...listeners]) l(e); },
    get listenerCount() { return listeners.size; },
  };
}

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
