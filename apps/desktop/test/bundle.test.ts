/**
 * The built shell (scripts/build.mjs → main.cjs, preload.cjs, runtime-process.cjs): the preload
 * needs nothing but 'electron' (a sandboxed preload can require little else), and the bundled
 * runtime utility process serves the protocol when given a port the way Electron gives it
 * (`process.parentPort` 'message' with `ports[0]`) — run here in a worker thread with stand-ins.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeClient, type PortLike } from '@fuselab/gpu-runtime';

const desktop = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repo = resolve(desktop, '../..');
let out: string;

beforeAll(async () => {
  // inside the repository so the bundle's external imports (onnxruntime-web, webgpu) resolve
  out = mkdtempSync(join(desktop, '.test-build-'));
  const { buildDesktop } = (await import(pathToFileURL(join(desktop, 'scripts/build.mjs')).href)) as { buildDesktop(outdir: string): Promise<string> };
  await buildDesktop(out);
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

const requires = (file: string) => [...new Set([...readFileSync(join(out, file), 'utf8').matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]))].sort();

/** Modules a bundle loads at run time (require or dynamic import), by package name. */
const loads = (file: string) => [...new Set([...readFileSync(join(out, file), 'utf8').matchAll(/\b(?:require|import)\("([^"]+)"\)/g)].map((m) => m[1]))]
  .map((m) => (m.startsWith('@') ? m.split('/').slice(0, 2).join('/') : m.split('/')[0])).sort();

describe('bundled shell', () => {
  it('loads at run time only electron, Node builtins and what package.json lists as dependencies (what electron-builder packs)', () => {
    const pkg = JSON.parse(readFileSync(join(desktop, 'package.json'), 'utf8')) as { main: string; dependencies: Record<string, string> };
    const external = [...new Set(['main.cjs', 'preload.cjs', 'runtime-process.cjs'].flatMap(loads))].filter((m) => m !== 'electron' && !m.startsWith('node:')).sort();
    expect(external).toEqual(Object.keys(pkg.dependencies).sort());
    // package.json's main is the bundled main process; main.ts loads the other two beside it
    expect(pkg.main).toBe('dist/main.cjs');
    const main = readFileSync(join(out, 'main.cjs'), 'utf8');
    expect(main).toContain('"preload.cjs"');
    expect(main).toContain('"runtime-process.cjs"');
  });

  it('has a preload that requires only electron, and a main process that requires only electron and Node builtins', () => {
    expect(requires('preload.cjs')).toEqual(['electron']);
    expect(requires('main.cjs').filter((m) => m !== 'electron' && !m.startsWith('node:'))).toEqual([]);
    expect(readFileSync(join(out, 'preload.cjs'), 'utf8')).toContain('exposeInMainWorld');
  });

  it('runs the runtime utility process entry on a port handed over like Electron does', async () => {
    const { port1, port2 } = new MessageChannel();
    const harness = `
      const { EventEmitter } = require('node:events');
      const { workerData } = require('node:worker_threads');
      const port = workerData.port;
      const main = new EventEmitter();
      let started = false; const queued = [];
      port.on('message', (data) => started ? main.emit('message', { data, ports: [] }) : queued.push(data));
      port.on('close', () => main.emit('close'));
      main.postMessage = (m) => port.postMessage(m);
      main.start = () => { if (!started) { started = true; for (const d of queued.splice(0)) main.emit('message', { data: d, ports: [] }); } };
      main.close = () => port.close();
      process.parentPort = new EventEmitter();
      require(workerData.entry);
      process.parentPort.emit('message', { data: { type: 'fuselab:runtime-connect' }, ports: [main] });
    `;
    const worker = new Worker(harness, { eval: true, workerData: { port: port1, entry: join(out, 'runtime-process.cjs') }, transferList: [port1], env: { ...process.env, FUSELAB_RUNTIME_BACKEND: 'wasm' } });
    try {
      const client = new RuntimeClient(port2 as unknown as PortLike);
      const hello = await client.hello();
      expect(hello.host).toMatch(/^electron-utility \(Electron \?, Node v\d+/);
      expect(hello.webgpuUnavailable).toBe('FUSELAB_RUNTIME_BACKEND=wasm');
      const dir = join(repo, 'examples/models/kjv-llama');
      const greedy = JSON.parse(readFileSync(join(dir, 'greedy.json'), 'utf8')) as { prompt_ids: number[]; new_ids: number[] };
      const loaded = await client.load({ kind: 'onnx', name: 'model.onnx', bytes: readFileSync(join(dir, 'model.onnx')) }, { backend: 'auto' });
      expect(loaded.backend).toBe('wasm');
      const ids: number[] = [];
      for await (const e of client.generate(loaded.engine, { promptIds: greedy.prompt_ids, maxTokens: 4 })) if (e.type === 'token') ids.push(e.id);
      expect(ids).toEqual(greedy.new_ids.slice(0, 4));
    } finally {
      port2.close();
      await worker.terminate();
    }
  });
});
