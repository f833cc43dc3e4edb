import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ortEnv, RuntimeClient, RuntimeHostError, type GenerateEvent, type PortLike } from '@fuselab/gpu-runtime';
import { CHANNELS, RUNTIME_PORT_MESSAGE, type IpcResult, type OpenedFile } from '@fuselab/editor';
import { readDesktopFile } from '../../editor/src/desktop/read-file.ts';
import { desktopRuntime, RuntimeClosedError } from '../../editor/src/desktop/runtime.ts';
import { FileTable } from '../src/file-table.ts';
import { createIpcHandlers } from '../src/ipc.ts';
import { RecentFiles } from '../src/recent-files.ts';
import { portLikeFromMain, serveRuntimePort } from '../src/runtime-host.ts';
import { APP_PAGE, FakeDialogs, fakeWindow, inProcessPreload, tempDir } from './helpers.ts';
import { FakeMessagePortMain } from './port-main.ts';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const modelDir = join(repo, 'examples/models/kjv-llama');
const greedy = JSON.parse(readFileSync(join(modelDir, 'greedy.json'), 'utf8')) as { prompt: string; prompt_ids: number[]; new_ids: number[]; text: string };

describe('MessagePortMain → PortLike adapter', () => {
  it('delivers data (not the event) to listeners, removes them, starts the port, and never passes transfer lists', async () => {
    const { port1, port2 } = new MessageChannel();
    const main = new FakeMessagePortMain(port1);
    const like = portLikeFromMain(main);
    const got: unknown[] = [];
    const listener = (e: { data: unknown }) => got.push(e.data);
    like.addEventListener('message', listener);
    like.addEventListener('message', listener); // once only, like EventTarget
    port2.postMessage({ n: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([]); // queued until start(), as MessagePortMain does
    like.start?.();
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([{ n: 1 }]);
    like.removeEventListener?.('message', listener);
    port2.postMessage({ n: 2 });
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toEqual([{ n: 1 }]);
    const bytes = new Uint8Array([1, 2, 3]);
    like.postMessage({ bytes }, [bytes.buffer]);
    expect(main.posted).toEqual([{ message: { bytes }, transfer: undefined }]);
    port1.close();
  });
});

describe('the runtime host over a MessagePortMain (worker_threads MessageChannel)', () => {
  let client: RuntimeClient;
  let channel: MessageChannel;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(() => {
    tmp = tempDir();
    channel = new MessageChannel();
    serveRuntimePort(new FakeMessagePortMain(channel.port1), {
      host: 'electron-utility (test: Node worker_threads)',
      ort: async () => ortEnv(),
      adapter: async () => { throw new Error('no WebGPU in this test host'); },
    });
    client = new RuntimeClient(channel.port2 as unknown as PortLike);
  });
  afterAll(() => {
    channel.port2.close();
    tmp.cleanup();
  });

  it('says hello with the host name and why WebGPU is unavailable', async () => {
    const hello = await client.hello();
    expect(hello).toMatchObject({ protocol: 1, host: 'electron-utility (test: Node worker_threads)', device: null, webgpuUnavailable: 'no WebGPU in this test host' });
  });

  it('loads kjv-llama read by range through the desktop IPC and streams the reference greedy tokens on wasm', async () => {
    // the renderer's path: open the model (dialog), read it in ranges, open the tokenizer beside it
    const dialogs = new FakeDialogs();
    const files = new FileTable();
    const ipc = createIpcHandlers({ files, recent: new RecentFiles(join(tmp.dir, 'recent.json')), dialogs, connectRuntime: () => {} });
    const call = async <T>(channel: string, ...args: unknown[]): Promise<T> => {
      const r = (await ipc.invoke(channel, APP_PAGE, args)) as IpcResult<T>;
      if (!r.ok) throw new Error(`[${r.code}] ${r.message}`);
      return r.value;
    };
    const readAll = async (f: OpenedFile): Promise<Uint8Array> => {
      const out = new Uint8Array(f.size);
      for (let o = 0; o < f.size; o += 4 << 20) out.set(await call<Uint8Array>(CHANNELS.readFileRange, f.handle, o, Math.min(4 << 20, f.size - o)), o);
      return out;
    };
    dialogs.opens.push(join(modelDir, 'model.onnx'));
    const model = await call<OpenedFile>(CHANNELS.openModel);
    expect(model.companions).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']));
    const tokenizer = await readAll(await call<OpenedFile>(CHANNELS.openCompanion, model.handle, 'tokenizer.json'));
    const tokenizerConfig = await readAll(await call<OpenedFile>(CHANNELS.openCompanion, model.handle, 'tokenizer_config.json'));
    const generation = JSON.parse(new TextDecoder().decode(await readAll(await call<OpenedFile>(CHANNELS.openCompanion, model.handle, 'generation_config.json'))));
    const bytes = await readAll(model);
    ipc.forgetSender(APP_PAGE.id);

    const loaded = await client.load({ kind: 'onnx', name: 'kjv-llama/model.onnx', bytes, tokenizer, tokenizerConfig, generation }, { backend: 'auto', transfer: true });
    expect(loaded).toMatchObject({ name: 'kjv-llama/model.onnx', backend: 'wasm', fallbackReason: 'no WebGPU in this test host', hasTokenizer: true, manifest: null });

    const events: GenerateEvent[] = [];
    for await (const e of client.generate(loaded.engine, { prompt: greedy.prompt, maxTokens: 8 })) events.push(e);
    expect(events[0]).toMatchObject({ type: 'start', promptTokens: greedy.prompt_ids.length, executionProvider: 'wasm' });
    const tokens = events.filter((e): e is Extract<GenerateEvent, { type: 'token' }> => e.type === 'token');
    expect(tokens.map((t) => t.id)).toEqual(greedy.new_ids.slice(0, 8));
    expect(tokens.map((t) => t.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const done = events.at(-1) as Extract<GenerateEvent, { type: 'done' }>;
    expect(done).toMatchObject({ type: 'done', reason: 'max-tokens', tokens: greedy.new_ids.slice(0, 8) });
    expect(greedy.text.startsWith(done.text)).toBe(true);
    expect(done.stats.generatedTokens).toBe(8);

    // cancelling mid-stream (breaking out of the loop) stops the host, which then serves the next request
    let n = 0;
    for await (const e of client.generate(loaded.engine, { prompt: greedy.prompt, maxTokens: 200, ignoreEos: true })) if (e.type === 'token' && ++n === 2) break;
    // the client's cancel is fire-and-forget: the host may still be finishing its step, so retry while busy
    const again: number[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        again.length = 0;
        for await (const e of client.generate(loaded.engine, { promptIds: greedy.prompt_ids, maxTokens: 3 })) if (e.type === 'token') again.push(e.id);
        break;
      } catch (e) {
        if (attempt > 100 || (e as RuntimeHostError).code !== 'GENERATOR_BUSY') throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(again).toEqual(greedy.new_ids.slice(0, 3));

    await client.unload(loaded.engine);
    await expect(async () => { for await (const _e of client.generate(loaded.engine, { prompt: 'x', maxTokens: 1 })); }).rejects.toThrow(RuntimeHostError);
  });

  it('answers a WebGPU-only load with a typed error when the host has no adapter', async () => {
    await expect(client.load({ kind: 'onnx', name: 'x.onnx', bytes: new Uint8Array(4) }, { backend: 'webgpu' })).rejects.toMatchObject({ code: 'NO_WEBGPU_ADAPTER' });
  });
});

describe('the editor\'s desktop runtime (apps/editor/src/desktop/runtime.ts) on the shell\'s port', () => {
  it('connects on first use through requestRuntimePort, loads kjv-llama read by range with the editor\'s reader, streams the greedy tokens; a closed port rejects what is in flight and the next call gets a fresh host', async () => {
    const tmp = tempDir();
    const win = fakeWindow('app://fuselab');
    const hosts: MessageChannel[] = [];
    const dialogs = new FakeDialogs();
    const files = new FileTable();
    const ipc = createIpcHandlers({
      files,
      recent: new RecentFiles(join(tmp.dir, 'recent.json')),
      dialogs,
      // main.ts: a fresh runtime process per request, one end of a channel to it, the other to the page
      // (the preload re-posts it with window.postMessage, which is what win.dispatch stands for)
      connectRuntime: () => {
        const ch = new MessageChannel();
        hosts.push(ch);
        serveRuntimePort(new FakeMessagePortMain(ch.port1), {
          host: `electron-utility (test host ${hosts.length})`,
          ort: async () => ortEnv(),
          adapter: async () => { throw new Error('no WebGPU in this test host'); },
        });
        win.dispatch({ data: RUNTIME_PORT_MESSAGE, ports: [ch.port2 as unknown as MessagePort], origin: 'app://fuselab', source: null });
      },
    });
    const { api } = inProcessPreload(ipc);
    const runtime = desktopRuntime(api, win, 10_000);
    try {
      expect(hosts).toHaveLength(0);
      expect(await runtime.hello()).toEqual({ host: 'electron-utility (test host 1)', device: null, webgpuUnavailable: 'no WebGPU in this test host' });
      expect(hosts).toHaveLength(1);
      expect(win.listenerCount).toBe(0);

      // the model and its tokenizer as the editor reads them: the dialog, then ranges of at most 1 MiB
      dialogs.opens.push(join(modelDir, 'model.onnx'));
      const model = (await api.openModel()) as OpenedFile;
      const lengths: number[] = [];
      const counting = { readFileRange: (h: string, o: number, l: number) => { lengths.push(l); return api.readFileRange(h, o, l); } };
      const file = await readDesktopFile(counting, model, { chunkBytes: 1 << 20 });
      expect(lengths).toHaveLength(Math.ceil(model.size / (1 << 20)));
      expect(Math.max(...lengths)).toBe(1 << 20);
      const bytes = new Uint8Array(await file.arrayBuffer());
      expect(Buffer.from(bytes).equals(readFileSync(join(modelDir, 'model.onnx')))).toBe(true);
      const companion = async (name: string) => new Uint8Array(await (await readDesktopFile(api, await api.openCompanion(model.handle, name))).arrayBuffer());
      const tokenizer = await companion('tokenizer.json');
      const tokenizerConfig = await companion('tokenizer_config.json');

      const loaded = await runtime.load({ kind: 'onnx', name: 'model.onnx', bytes, tokenizer, tokenizerConfig }, { backend: 'auto', transfer: true });
      expect(loaded).toMatchObject({ backend: 'wasm', fallbackReason: 'no WebGPU in this test host', hasTokenizer: true });
      // the port leads to another process: the desktop runtime never detaches the page's buffer
      expect(bytes.byteLength).toBe(model.size);
      const ids: number[] = [];
      for await (const e of runtime.generate(loaded.engine, { prompt: greedy.prompt, maxTokens: 6 })) if (e.type === 'token') ids.push(e.id);
      expect(ids).toEqual(greedy.new_ids.slice(0, 6));

      // the runtime process ends mid-generation: the stream rejects, and the next call asks the shell again
      const stream = runtime.generate(loaded.engine, { promptIds: greedy.prompt_ids, maxTokens: 200, ignoreEos: true });
      let seen = 0;
      await expect((async () => {
        for await (const e of stream) if (e.type === 'token' && ++seen === 2) hosts[0].port1.close();
      })()).rejects.toBeInstanceOf(RuntimeClosedError);
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(await runtime.hello()).toMatchObject({ host: 'electron-utility (test host 2)' });
      expect(hosts).toHaveLength(2);
      // the new host has nothing loaded
      await expect(async () => { for await (const _e of runtime.generate(loaded.engine, { prompt: 'x', maxTokens: 1 })); }).rejects.toThrow(RuntimeHostError);
    } finally {
      for (const ch of hosts) { ch.port1.close(); ch.port2.close(); }
      files.closeAll(APP_PAGE.id);
      tmp.cleanup();
    }
  });

  it('rejects with the shell\'s error when it cannot start a runtime, and tries again on the next call', async () => {
    const win = fakeWindow('app://fuselab');
    let asked = 0;
    const api = { requestRuntimePort: async () => { asked++; throw new Error('[NO_RUNTIME] the utility process could not start'); } };
    const runtime = desktopRuntime(api, win, 1000);
    await expect(runtime.hello()).rejects.toThrow('[NO_RUNTIME] the utility process could not start');
    await expect(runtime.hello()).rejects.toThrow('[NO_RUNTIME]');
    expect(asked).toBe(2);
    expect(win.listenerCount).toBe(0);
  });
});
