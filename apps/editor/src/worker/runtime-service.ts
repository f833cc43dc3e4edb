/**
 * The runtime service the store talks to: the GPU runtime's `RuntimeClient` on a Web Worker (the app)
 * or on a MessageChannel to an in-process `RuntimeHost` (headless tests). Started lazily: the worker
 * (and onnxruntime-web's wasm) loads on the first call. A worker that fails to start rejects every
 * call with the reason instead of leaving them pending.
 */
import { RuntimeClient, type GenerateEvent, type GenerateRequest, type LoadedInfo, type LoadSource, type BackendRequest, type DeviceFingerprint } from '@fuselab/gpu-runtime';

export interface RuntimeHello {
  host: string;
  device: DeviceFingerprint | null;
  webgpuUnavailable: string | null;
}

export interface RuntimeLoadOptions {
  backend?: BackendRequest;
  allowOtherDevice?: boolean;
  layerTimings?: boolean;
  transfer?: boolean;
}

/** What the editor needs of a runtime host (RuntimeClient's shape). */
export interface RuntimeApi {
  hello(): Promise<RuntimeHello>;
  load(source: LoadSource, options?: RuntimeLoadOptions): Promise<LoadedInfo>;
  generate(engine: string, request: GenerateRequest): AsyncIterable<GenerateEvent>;
  unload(engine: string): Promise<void>;
}

/** A RuntimeClient over a Web Worker made on first use; worker errors reject what is in flight. */
export function workerRuntime(factory: () => Worker): RuntimeApi {
  let client: RuntimeClient | null = null;
  let failed: Promise<never> | null = null;
  const ensure = (): { client: RuntimeClient; failed: Promise<never> } => {
    if (!client || !failed) {
      const worker = factory();
      failed = new Promise<never>((_, reject) => {
        worker.addEventListener('error', (ev) => reject(new Error(`the runtime worker failed: ${ev.message || 'it could not start (see the console)'}`)));
      });
      failed.catch(() => {});
      client = new RuntimeClient(worker);
    }
    return { client, failed };
  };
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, ensure().failed]);
  return {
    async hello() {
      const h = await race(ensure().client.hello());
      return { host: h.host, device: h.device, webgpuUnavailable: h.webgpuUnavailable };
    },
    load: (source, options) => race(ensure().client.load(source, options)),
    unload: (engine) => race(ensure().client.unload(engine)),
    async *generate(engine, request) {
      const it = ensure().client.generate(engine, request)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const r = await race(it.next());
          if (r.done) return;
          yield r.value;
        }
      } finally {
        await it.return?.(undefined);
      }
    },
  };
}

/** The client on any port (tests: a MessageChannel to an in-process RuntimeHost). */
export function clientRuntime(client: RuntimeClient): RuntimeApi {
  return {
    async hello() {
      const h = await client.hello();
      return { host: h.host, device: h.device, webgpuUnavailable: h.webgpuUnavailable };
    },
    load: (source, options) => client.load(source, options),
    unload: (engine) => client.unload(engine),
    generate: (engine, request) => client.generate(engine, request),
  };
}
