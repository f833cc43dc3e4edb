/**
 * The runtime protocol end to end over a real MessageChannel (Node's worker_threads ports behave
 * like a browser Worker's and Electron's): hello, load an engine and an ONNX decoder, stream tokens,
 * cancel mid-generation, and typed errors for bad requests.
 */
import fs, { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes } from '@fuselab/graph-core';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import type { RuntimeHostError} from '../src/index.ts';
import { buildEngine, installProfileSink, ortEnv, ortWebVersion, RuntimeClient, RuntimeHost, wasmFingerprint, type GenerateEvent, type PortLike } from '../src/index.ts';

installProfileSink(fs);
const dir = new URL('../../../examples/models/kjv-llama/', import.meta.url).pathname;
const greedy = JSON.parse(readFileSync(join(dir, 'greedy.json'), 'utf8')) as { prompt: string; prompt_ids: number[]; new_ids: number[] };
const channel = new MessageChannel();
// a Node host without WebGPU: 'auto' must fall back to wasm and say why
new RuntimeHost(channel.port1 as unknown as PortLike, { host: 'node-test', ort: async () => ortEnv(), adapter: async () => null });
const client = new RuntimeClient(channel.port2 as unknown as PortLike);
afterAll(() => { channel.port1.close(); channel.port2.close(); });

async function engineBytes(device = wasmFingerprint('node-test')): Promise<Uint8Array> {
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const model = loadModel(bytes);
  const rec = runPasses(model.clone(), workflowSteps(defaultWorkflow(), PASSES));
  const { chunks, byteLength } = await buildEngine({
    source: { file: 'model.onnx', bytes, nodes: model.graph.nodeCount }, optimized: rec.model, modelBytes: serializeModelToBytes(rec.model),
    device, ortVersion: ortWebVersion(ortEnv()), fused: rec.fused, provenance: rec.provenance, maxPositions: 256,
    generation: JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')),
    tokenizer: { json: readFileSync(join(dir, 'tokenizer.json')), config: readFileSync(join(dir, 'tokenizer_config.json')) },
  });
  const out = new Uint8Array(byteLength);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

describe('runtime host protocol over a MessageChannel', () => {
  it('says hello with the reason WebGPU is unavailable', async () => {
    const h = await client.hello();
    expect(h.protocol).toBe(1);
    expect(h.ortVersion).toMatch(/^1\.\d+/);
    expect(h.device).toBeNull();
    expect(h.webgpuUnavailable).toMatch(/no adapter/);
  });

  it('loads an engine (bytes transferred) and streams the reference greedy tokens with text', async () => {
    const info = await client.load({ kind: 'engine', name: 'kjv.engine', bytes: await engineBytes() }, { transfer: true, layerTimings: true });
    expect(info.backend).toBe('wasm');
    expect(info.fallbackReason).toMatch(/no adapter/);
    expect(info.hasTokenizer).toBe(true);
    expect(info.manifest?.graph.fused.GroupQueryAttention).toBe(4);
    const events: GenerateEvent[] = [];
    for await (const e of client.generate(info.engine, { prompt: greedy.prompt, maxTokens: greedy.new_ids.length, ignoreEos: true })) events.push(e);
    const done = events.at(-1);
    if (done?.type !== 'done') throw new Error('no done event');
    expect(done.tokens).toEqual(greedy.new_ids);
    expect(events.filter((e) => e.type === 'token').map((e) => (e.type === 'token' ? e.text : '')).join('')).toBe(done.text);
    expect(events.some((e) => e.type === 'layers')).toBe(true);
    await client.unload(info.engine);
    await expect(client.generate(info.engine, { prompt: 'x', maxTokens: 1 }).next()).rejects.toThrow(/no engine/);
  });

  it('cancels a running generation on abort, and on break', async () => {
    const info = await client.load({ kind: 'onnx', name: 'model.onnx', bytes: readFileSync(join(dir, 'model.onnx')), tokenizer: readFileSync(join(dir, 'tokenizer.json')), tokenizerConfig: readFileSync(join(dir, 'tokenizer_config.json')) });
    const abort = new AbortController();
    let tokens = 0;
    let reason = '';
    for await (const e of client.generate(info.engine, { prompt: greedy.prompt, maxTokens: 200, ignoreEos: true, signal: abort.signal })) {
      if (e.type === 'token' && ++tokens === 3) abort.abort();
      if (e.type === 'done') reason = e.reason;
    }
    expect(reason).toBe('cancelled');
    expect(tokens).toBeLessThan(10);
    for await (const e of client.generate(info.engine, { prompt: greedy.prompt, maxTokens: 200, ignoreEos: true })) if (e.type === 'token') break;
    // the host is free again once the cancelled run has stopped
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      try {
        for await (const e of client.generate(info.engine, { prompt: greedy.prompt, maxTokens: 2 })) if (e.type === 'done') ok = true;
      } catch (e) {
        if ((e as RuntimeHostError).code !== 'GENERATOR_BUSY') throw e;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    expect(ok).toBe(true);
  });

  it('says whether a device mismatch can be overridden, and runs the engine when told to', async () => {
    const h100 = { backend: 'webgpu' as const, vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100', features: [], limits: {}, host: 'node-dawn', toggles: [] };
    const bytes = await engineBytes(h100);
    const err = await client.load({ kind: 'engine', name: 'h100.engine', bytes }).catch((e: RuntimeHostError) => e);
    expect(err).toMatchObject({ code: 'ENGINE_DEVICE', overridable: true });
    const info = await client.load({ kind: 'engine', name: 'h100.engine', bytes }, { allowOtherDevice: true });
    expect(info.warnings[0]).toMatch(/built for webgpu nvidia\/hopper/);
    await client.unload(info.engine);
  });

  it('answers bad requests with typed errors', async () => {
    await expect(client.load({ kind: 'engine', name: 'bad.engine', bytes: new Uint8Array(64) })).rejects.toMatchObject({ code: 'ENGINE_FORMAT' });
    await expect(client.load({ kind: 'onnx', name: 'x.onnx', bytes: readFileSync(join(dir, 'model.onnx')) }, { backend: 'webgpu' })).rejects.toMatchObject({ code: 'NO_WEBGPU_ADAPTER' });
    const info = await client.load({ kind: 'onnx', name: 'no-tokenizer.onnx', bytes: readFileSync(join(dir, 'model.onnx')) });
    await expect(client.generate(info.engine, { prompt: 'And', maxTokens: 2 }).next()).rejects.toMatchObject({ code: 'NO_TOKENIZER' });
    await expect(client.generate(info.engine, { promptIds: [1, 2], maxTokens: 2, sampling: { topP: 2 } }).next()).rejects.toThrow(/topP = 2/);
  });
});
