import fs, { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes } from '@fuselab/graph-core';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import {
  buildEngine, engineContextLimit, EngineChecksumError, EngineDeviceMismatchError, EngineFormatError, EngineVersionError, engineGenerator, ortEnv, ortWebVersion,
  installProfileSink, openEngine, parseEngine, peekEngineManifest, tacticCandidateText, wasmFingerprint, type DeviceFingerprint,
} from '../src/index.ts';

// the Node host's part of per-layer timings: onnxruntime-web's wasm prints its profile with fs.writeSync(1)
installProfileSink(fs);

const dir = new URL('../../../examples/models/kjv-llama/', import.meta.url).pathname;
const greedy = JSON.parse(readFileSync(join(dir, 'greedy.json'), 'utf8')) as { prompt: string; prompt_ids: number[]; new_ids: number[] };

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  return out;
}

const H100: DeviceFingerprint = { backend: 'webgpu', vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100', features: ['subgroups', 'timestamp-query'], limits: { maxStorageBufferBindingSize: 2 ** 31 }, host: 'node-dawn', toggles: [] };

async function kjvEngine(device: DeviceFingerprint = wasmFingerprint('node')): Promise<Uint8Array> {
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const model = loadModel(bytes);
  const rec = runPasses(model.clone(), workflowSteps(defaultWorkflow(), PASSES));
  const { chunks } = await buildEngine({
    source: { file: 'kjv-llama/model.onnx', bytes, nodes: model.graph.nodeCount },
    optimized: rec.model,
    modelBytes: serializeModelToBytes(rec.model),
    device,
    ortVersion: ortWebVersion(ortEnv()),
    fused: rec.fused,
    provenance: rec.provenance,
    maxPositions: 256,
    generation: JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8')),
    tokenizer: { json: readFileSync(join(dir, 'tokenizer.json')), config: readFileSync(join(dir, 'tokenizer_config.json')) },
  });
  return concat(chunks);
}

describe('engine file', () => {
  it('round-trips and generates the PyTorch greedy reference on wasm', async () => {
    const bytes = await kjvEngine();
    const engine = await openEngine(bytes, { file: 'kjv.engine', device: wasmFingerprint('node'), ortVersion: ortWebVersion(ortEnv()) });
    expect(engine.manifest.graph.fused.GroupQueryAttention).toBeGreaterThan(0);
    expect(engine.manifest.io.kv.length).toBeGreaterThan(0);
    // sections are views into the engine bytes, not copies
    expect(engine.model.buffer).toBe(bytes.buffer);
    const gen = await engineGenerator(engine, ortEnv(), 'wasm', { layerTimings: true });
    const c = greedy;
    const events = [];
    for await (const e of gen.generate({ promptIds: c.prompt_ids, maxTokens: c.new_ids.length, ignoreEos: true })) events.push(e);
    await gen.release();
    const done = events.at(-1);
    if (done?.type !== 'done') throw new Error('no done event');
    expect(done.tokens).toEqual(c.new_ids);
    const tokens = events.filter((e) => e.type === 'token');
    expect(tokens).toHaveLength(c.new_ids.length);
    expect(tokens.map((t) => (t.type === 'token' ? t.text : '')).join('')).toBe(done.text);
    expect(done.stats.ttftMs).toBeGreaterThan(0);
    expect(done.stats.decodeTokPerSec).toBeGreaterThan(0);
    const layers = events.find((e) => e.type === 'layers');
    if (layers?.type !== 'layers') throw new Error('no layer timings');
    const gqa = layers.timings.nodes.find((n) => n.opType === 'GroupQueryAttention');
    expect(gqa?.sources.length).toBeGreaterThan(3);
    expect(layers.timings.runs).toBe(c.new_ids.length);
  });

  it('says which context limit generation uses: the profile max over the trained positions', async () => {
    const engine = await openEngine(await kjvEngine(), { device: wasmFingerprint('node'), ortVersion: ortWebVersion(ortEnv()) });
    const m = engine.manifest;
    expect(engineContextLimit(m)).toEqual({ positions: 256, from: 'trained' });
    const profile = { name: 'decode', inputs: { attention_mask: { min: [1, 1], opt: [1, 64], max: [1, 128] } } };
    expect(engineContextLimit({ ...m, profiles: [profile] as typeof m.profiles })).toEqual({ positions: 128, from: 'profile' });
    // a static-KV graph has no attention_mask input; its profiles still name the source model's
    expect(engineContextLimit({ ...m, io: { ...m.io, attentionMask: null }, profiles: [profile] as typeof m.profiles })).toEqual({ positions: 128, from: 'profile' });
    expect(engineContextLimit({ ...m, io: { ...m.io, maxPositions: null } })).toEqual({ positions: null, from: null });
    // the generator takes that limit: a prompt past it is refused
    const gen = await engineGenerator(engine, ortEnv(), 'wasm');
    await expect(gen.run({ promptIds: new Array(300).fill(1), maxTokens: 1 })).rejects.toThrow(/256/);
    await gen.release();
  });

  it('writes tactic candidates with their unit (prompt tok/s for the prefill tactic)', () => {
    expect(tacticCandidateText({ name: 'graphCapture' }, { value: 'on', tokPerSec: 312.46 })).toBe('on 312.5 tok/s');
    expect(tacticCandidateText({ name: 'prefill' }, { value: 'growing', tokPerSec: 31177.6 })).toBe('growing 31178 prompt tok/s');
    expect(tacticCandidateText({ name: 'kv' }, { value: 'cpu', error: 'no adapter' })).toBe('cpu failed: no adapter');
  });

  it('peeks at the manifest from the header alone, reading only the bytes it needs', async () => {
    const bytes = await kjvEngine(H100);
    const reads: Array<[number, number]> = [];
    const read = (b: Uint8Array) => (offset: number, length: number) => {
      reads.push([offset, length]);
      return b.subarray(offset, offset + length);
    };
    const peeked = peekEngineManifest(read(bytes));
    expect(peeked?.device).toEqual(H100);
    const manifestEnd = reads.reduce((end, [o, l]) => Math.max(end, o + l), 0);
    expect(manifestEnd).toBeLessThan(bytes.byteLength / 100);
    expect(peekEngineManifest(read(readFileSync(join(dir, 'model.onnx'))))).toBeNull();
    expect(peekEngineManifest(read(bytes.subarray(0, 10)))).toBeNull();
    expect(peekEngineManifest(read(bytes.subarray(0, 200)))).toBeNull(); // the manifest cut short
  });

  it('refuses bad, truncated and tampered files with typed errors', async () => {
    const bytes = await kjvEngine();
    const opts = { file: 'x.engine', device: wasmFingerprint('node'), ortVersion: ortWebVersion(ortEnv()) };
    await expect(openEngine(readFileSync(join(dir, 'model.onnx')), opts)).rejects.toThrow(EngineFormatError);
    await expect(openEngine(bytes.subarray(0, bytes.length - 100), opts)).rejects.toThrow(/truncated/);
    const tampered = bytes.slice();
    tampered[tampered.length - 4096] ^= 1; // inside the last section
    await expect(openEngine(tampered, opts)).rejects.toThrow(EngineChecksumError);
    const badManifest = bytes.slice();
    badManifest[40] ^= 1;
    await expect(openEngine(badManifest, opts)).rejects.toThrow(/manifest checksum/);
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(8, 99, true);
    await expect(openEngine(newer, opts)).rejects.toThrow(/upgrade Fuselab/);
    await expect(openEngine(bytes, { ...opts, ortVersion: '1.99.0' })).rejects.toThrow(EngineVersionError);
    await expect(openEngine(bytes, { ...opts, ortVersion: '1.99.0', allowOtherRuntime: true })).resolves.toMatchObject({ warnings: [expect.stringContaining('1.99.0')] });
  });

  it('explains device mismatches', async () => {
    const bytes = await kjvEngine(H100);
    const base = { file: 'h100.engine', ortVersion: ortWebVersion(ortEnv()) };
    const swiftshader: DeviceFingerprint = { ...H100, vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader' };
    await expect(openEngine(bytes, { ...base, device: swiftshader })).rejects.toThrow(/built and tuned for webgpu nvidia\/hopper.*rebuild/);
    await expect(openEngine(bytes, { ...base, device: wasmFingerprint('node') })).rejects.toThrow(EngineDeviceMismatchError);
    const e = await openEngine(bytes, { ...base, device: swiftshader, allowOtherDevice: true });
    expect(e.warnings[0]).toMatch(/swiftshader/);
    const small = { ...H100, limits: { maxStorageBufferBindingSize: 1024 } };
    await expect(openEngine(bytes, { ...base, device: small, allowOtherDevice: true })).rejects.toThrow(/maxStorageBufferBindingSize is 1024/);
    const parsed = await parseEngine(bytes);
    expect(parsed.manifest.requires.limits.maxStorageBufferBindingSize).toBeGreaterThan(1024);
  });
});
