/**
 * The client side of the runtime protocol: typed calls over any PortLike (a Worker, a MessagePort
 * from Node or Electron). `generate` is an async iterable of the host's events; breaking out of the
 * loop or aborting the signal cancels the generation on the host.
 */
import type { GenerateEvent, GenerateRequest } from '../generate/generator.ts';
import { RuntimeHostError, type BackendRequest, type HostMessage, type HostRequest, type LoadedInfo, type LoadSource, type PortLike } from './protocol.ts';

type Reply = Exclude<HostMessage, { type: 'event' }>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export class RuntimeClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (m: Reply) => void>();
  private readonly streams = new Map<number, (m: HostMessage) => void>();

  constructor(private readonly port: PortLike) {
    port.addEventListener('message', (e) => this.dispatch(e.data as HostMessage));
    port.start?.();
  }

  private dispatch(m: HostMessage): void {
    const stream = this.streams.get(m.id);
    if (stream) return stream(m);
    const w = this.waiting.get(m.id);
    if (w) {
      this.waiting.delete(m.id);
      w(m as Reply);
    }
  }

  private request<T extends Reply['type']>(req: DistributiveOmit<HostRequest, 'id'>, expect: T, transfer: Transferable[] = []): Promise<Extract<Reply, { type: T }>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (m) => {
        if (m.type === 'error') reject(new RuntimeHostError(m.code, m.message, m.overridable));
        else if (m.type === expect) resolve(m as Extract<Reply, { type: T }>);
        else reject(new RuntimeHostError('PROTOCOL', `expected '${expect}' but the host replied '${m.type}'`));
      });
      this.port.postMessage({ ...req, id }, transfer);
    });
  }

  hello(): Promise<Extract<Reply, { type: 'hello' }>> {
    return this.request({ type: 'hello' }, 'hello');
  }

  /** Loads an engine or ONNX decoder on the host. `transfer` hands the bytes' buffer over (no copy). */
  async load(source: LoadSource, options: { backend?: BackendRequest; allowOtherDevice?: boolean; layerTimings?: boolean; transfer?: boolean } = {}): Promise<LoadedInfo> {
    const transfer = options.transfer ? [source.bytes.buffer as ArrayBuffer] : [];
    const { type: _type, id: _id, ...info } = await this.request({ type: 'load', source, backend: options.backend ?? 'auto', allowOtherDevice: options.allowOtherDevice, layerTimings: options.layerTimings }, 'loaded', transfer);
    return info;
  }

  async unload(engine: string): Promise<void> {
    await this.request({ type: 'unload', engine }, 'ok');
  }

  /** Streams a generation's events; ends after `done`. Throws RuntimeHostError if the host fails. */
  async *generate(engine: string, request: GenerateRequest): AsyncGenerator<GenerateEvent> {
    const id = this.nextId++;
    const queue: HostMessage[] = [];
    let wake: (() => void) | null = null;
    this.streams.set(id, (m) => {
      queue.push(m);
      wake?.();
    });
    const { signal, ...req } = request;
    const cancel = () => { void this.request({ type: 'cancel', target: id }, 'ok').catch(() => {}); };
    signal?.addEventListener('abort', cancel, { once: true });
    let finished = false;
    try {
      this.port.postMessage({ type: 'generate', id, engine, request: req } satisfies HostRequest);
      for (;;) {
        while (!queue.length) await new Promise<void>((r) => { wake = r; });
        wake = null;
        const m = queue.shift() as HostMessage;
        if (m.type === 'error') throw new RuntimeHostError(m.code, m.message, m.overridable);
        if (m.type !== 'event') continue;
        yield m.event;
        if (m.event.type === 'done') { finished = true; return; }
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      // the consumer stopped early: stop the host too (its remaining events are dropped)
      if (!finished) cancel();
      this.streams.delete(id);
    }
  }
}
