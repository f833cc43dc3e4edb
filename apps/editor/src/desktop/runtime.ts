/**
 * The Playground's runtime inside the desktop shell: the GPU runtime host runs in the shell's utility
 * process (WebGPU through dawn.node, or wasm with the reason), reached through a MessagePort the
 * shell hands the page (`connectRuntimePort`), speaking the same `RuntimeClient` protocol as the
 * browser's runtime worker. Connected on first use. When the port closes (the process ended), calls
 * in flight reject with `RuntimeClosedError` and the next call asks the shell for a fresh process.
 */
import { RuntimeClient, type PortLike } from '@fuselab/gpu-runtime';
import type { RuntimeApi } from '../worker/runtime-service.ts';
import type { FuselabDesktopApi } from './api.ts';
import { connectRuntimePort, type MessageSource } from './page.ts';

/** The runtime process behind the port went away mid-call. */
export class RuntimeClosedError extends Error {
  readonly code = 'RUNTIME_CLOSED';
  constructor() {
    super('the GPU runtime process ended (its port closed); run again to start a new one');
    this.name = 'RuntimeClosedError';
  }
}

interface Connection {
  client: RuntimeClient;
  /** Rejects when the port closes. */
  closed: Promise<never>;
}

/** A RuntimeApi over the desktop shell's runtime port (`scope`: the window; a stand-in in Node tests). */
export function desktopRuntime(api: Pick<FuselabDesktopApi, 'requestRuntimePort'>, scope: MessageSource = globalThis as unknown as MessageSource, connectTimeoutMs?: number): RuntimeApi {
  let current: Promise<Connection> | null = null;
  const ensure = (): Promise<Connection> => {
    if (current) return current;
    const p: Promise<Connection> = (async () => {
      const port = await connectRuntimePort(api as FuselabDesktopApi, scope, connectTimeoutMs);
      const closed = new Promise<never>((_, reject) => {
        // MessagePort's 'close' event (Chromium, Node): the other end is gone
        (port as unknown as EventTarget).addEventListener('close', () => {
          if (current === p) current = null;
          reject(new RuntimeClosedError());
        });
      });
      closed.catch(() => {});
      return { client: new RuntimeClient(port as unknown as PortLike), closed };
    })();
    current = p;
    // a failed connection is not kept: the next call asks again
    p.catch(() => { if (current === p) current = null; });
    return p;
  };
  const call = async <T>(f: (client: RuntimeClient) => Promise<T>): Promise<T> => {
    const { client, closed } = await ensure();
    return Promise.race([f(client), closed]);
  };
  return {
    hello: () => call(async (c) => {
      const h = await c.hello();
      return { host: h.host, device: h.device, webgpuUnavailable: h.webgpuUnavailable };
    }),
    // the port crosses into another process, so the bytes are copied anyway: never detach the page's buffer
    load: (source, options) => call((c) => c.load(source, { ...options, transfer: false })),
    unload: (engine) => call((c) => c.unload(engine)),
    async *generate(engine, request) {
      const { client, closed } = await ensure();
      const it = client.generate(engine, request)[Symbol.asyncIterator]();
      let lost = false;
      try {
        for (;;) {
          const r = await Promise.race([it.next(), closed.catch((e: unknown) => { lost = true; throw e; })]);
          if (r.done) return;
          yield r.value;
        }
      } finally {
        // with the port gone the client's pending next() never settles, and return() would wait for it
        if (lost) void it.return?.(undefined).catch(() => {});
        else await it.return?.(undefined);
      }
    },
  };
}
