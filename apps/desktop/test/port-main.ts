/**
 * A stand-in for Electron's MessagePortMain over a worker_threads MessagePort: an EventEmitter that
 * emits `message` with `{ data, ports }`, queues messages until `start()` (as MessagePortMain
 * does), and transfers nothing but ports.
 */
import { EventEmitter } from 'node:events';
import type { MessagePort as NodeMessagePort } from 'node:worker_threads';
import type { MessagePortMainLike } from '../src/runtime-host.ts';

export class FakeMessagePortMain extends EventEmitter implements MessagePortMainLike {
  private started = false;
  private readonly queued: unknown[] = [];
  readonly posted: Array<{ message: unknown; transfer: unknown }> = [];

  constructor(private readonly port: NodeMessagePort) {
    super();
    port.on('message', (data: unknown) => {
      if (this.started) this.emit('message', { data, ports: [] });
      else this.queued.push(data);
    });
    port.on('close', () => this.emit('close'));
  }

  postMessage(message: unknown, transfer?: never[]): void {
    this.posted.push({ message, transfer });
    if (transfer?.length) throw new TypeError('MessagePortMain transfers only MessagePortMain objects');
    this.port.postMessage(message);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (const data of this.queued.splice(0)) this.emit('message', { data, ports: [] });
  }

  close(): void {
    this.port.close();
  }
}
