/**
 * The deploy nodes driven like a user, headless: the model service in process, the GPU runtime's
 * RuntimeHost in process behind a MessageChannel (wasm). Open kjv-llama → set the profiles node's
 * context → run the workflow: the profiles reach the engine's manifest and the runtime honours their
 * context limit; then the export-triton node's archive is written to disk, extracted by the system
 * tar, its config.pbtxt parsed strictly and its model run on the sample request.
 */
import { spawnSync } from 'node:child_process';
import fs, { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { installProfileSink, MODEL_CONFIG_SCHEMA, ortEnv, parseEngine, parseTextFormat, RuntimeClient, RuntimeHost, runModel, type HostTensor, type PortLike, type TextMessage } from '@fuselab/gpu-runtime';
import { createEditorStore } from '../src/store/editor-store.ts';
import { localLayoutService, localModelService } from '../src/worker/services.ts';
import { clientRuntime } from '../src/worker/runtime-service.ts';
import { assetsBeside } from '../src/runtime/assets.ts';
import { KJV_LLAMA, readBytes, REPO } from './helpers.ts';

installProfileSink(fs);
const channel = new MessageChannel();
new RuntimeHost(channel.port1 as unknown as PortLike, { host: 'node-test', ort: async () => ortEnv(), adapter: async () => null });
const runtime = clientRuntime(new RuntimeClient(channel.port2 as unknown as PortLike));
const tmp = mkdtempSync(join(tmpdir(), 'fuselab-deploy-'));
afterAll(() => { channel.port1.close(); channel.port2.close(); rmSync(tmp, { recursive: true, force: true }); });
const diskFetcher = async (url: string) => {
  try { return readBytes(join(REPO, url.replace(/^\//, ''))); } catch { return null; }
};

describe('profiles and Triton export nodes (headless user)', () => {
  const store = createEditorStore({ model: localModelService(), layout: localLayoutService(), runtime, fetcher: diskFetcher });
  const a = () => store.getState().actions;
  const node = (kind: string) => store.getState().flow.history.present.nodes.find((n) => n.kind === kind) as { id: string };
  const status = (kind: string) => store.getState().flow.statuses[node(kind).id];

  it('computes prefill/decode profiles on the model and the engine keeps them, with their context limit', async () => {
    await a().open({ kind: 'bytes', bytes: readBytes(KJV_LLAMA), name: 'kjv-llama/model.onnx' });
    a().setAssets(await assetsBeside('/examples/models/kjv-llama/model.onnx', diskFetcher));
    const prof = node('profiles').id;
    // edited on the node like any parameter (one undoable edit each)
    a().edit({ type: 'set-param', node: prof, key: 'max_context', value: 24 });
    a().edit({ type: 'set-param', node: prof, key: 'prefill_tokens', value: 16 });
    a().edit({ type: 'set-param', node: prof, key: 'typical_prompt', value: 8 });
    await a().runFlow();
    const s = store.getState();
    expect(status('profiles')).toMatchObject({ state: 'done', stat: '2 profiles, ctx ≤ 24' });
    const r = s.deploy.profiles[prof];
    expect(r.profiles.map((p) => p.name)).toEqual(['prefill', 'decode']);
    expect(r.profiles[0].inputs.input_ids).toEqual({ min: [1, 1], opt: [1, 8], max: [1, 16] });
    expect(r.profiles[1].inputs.attention_mask).toEqual({ min: [1, 2], opt: [1, 9], max: [1, 24] });
    expect(r.profiles[1].inputs['past_key_values.3.value']).toEqual({ min: [1, 2, 1, 32], opt: [1, 2, 8, 32], max: [1, 2, 23, 32] });
    expect(r.notes).toEqual([]);
    // the build node recorded exactly these profiles in the engine's manifest (read back from the file's bytes)
    expect(s.engine.state).toBe('ready');
    expect(s.engine.manifest?.profiles).toEqual(r.profiles);
    const parsed = await parseEngine(a().engineBytes() as Uint8Array);
    expect(parsed.manifest.profiles).toEqual(r.profiles);

    // the runtime loads the engine and stops at the profiles' context, the plain model at its own 256
    a().setPlayground({ prompt: 'And the king said unto', maxTokens: 40 });
    await a().generate();
    const pg = store.getState().playground;
    const opt = pg.sides.optimized.run;
    expect(opt.state, opt.error ?? '').toBe('done');
    expect(opt.reason).toBe('max-context');
    // the model saw 24 positions; the last token is sampled from the 24th position's logits
    expect((opt.stats.promptTokens ?? 0) + opt.stats.tokens).toBe(24 + 1);
    expect(pg.sides.plain.run.reason).toBe('max-tokens');
    expect(pg.sides.plain.run.stats.tokens).toBe(40);
    // greedy: the tokens they both made agree
    expect(pg.sides.plain.run.text.startsWith(opt.text)).toBe(true);
  }, 120_000);

  it('says when the context is past what the model was trained for, and when a profile cannot fit', async () => {
    const prof = node('profiles').id;
    a().edit({ type: 'set-param', node: prof, key: 'max_context', value: 2048 });
    await a().computeProfiles(prof);
    expect(store.getState().deploy.profiles[prof].notes).toContain('max_context 2048 is beyond the 256 positions the model was trained for');
    a().edit({ type: 'set-param', node: prof, key: 'max_context', value: 1 });
    expect(await a().computeProfiles(prof)).toBeNull();
    expect(status('profiles')).toMatchObject({ state: 'error' });
    expect(status('profiles').error).toMatch(/max context.*≥ 2 for a KV-cache decoder/);
    // a build fed by a failed profiles node does not build without them
    const seq = store.getState().engine.seq;
    await a().runFlow();
    expect(status('build-engine')).toMatchObject({ state: 'error', error: 'its profiles node failed (the node says why)' });
    expect(store.getState().engine.seq).toBe(seq);
    a().undo();
    a().undo();
    expect(store.getState().flow.history.present.nodes.find((n) => n.id === prof)?.params.max_context).toBe(24);
  }, 120_000);

  it('exports the engine as a Triton repository archive that tar extracts and Triton\'s config parser and onnxruntime accept', async () => {
    await a().runFlow();
    expect(status('export-triton')).toMatchObject({ state: 'done', stat: 'ready: kjv-llama-model.tar · max_batch_size 0 (KV decoder, stateless)' });
    const tri = node('export-triton').id;
    a().edit({ type: 'set-param', node: tri, key: 'kind', value: 'KIND_CPU' });
    a().edit({ type: 'set-param', node: tri, key: 'instances', value: 2 });
    const r = await a().exportTriton(tri);
    expect(r?.fileName).toBe('kjv-llama-model.tar');
    expect(status('export-triton').stat).toMatch(/^exported kjv-llama-model\.tar \(\d+\.\d MiB, 5 files\)$/);
    const path = join(tmp, r?.fileName as string);
    writeFileSync(path, Buffer.concat((r?.archive.chunks ?? []).map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
    const list = spawnSync('tar', ['-tf', path], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(list.stdout.trim().split('\n')).toEqual(['kjv-llama-model/', 'kjv-llama-model/config.pbtxt', 'kjv-llama-model/1/', 'kjv-llama-model/1/model.onnx', 'kjv-llama-model/README.md', 'kjv-llama-model/sample_request.json', 'kjv-llama-model/perf_data.json']);
    const x = spawnSync('tar', ['-xf', path, '-C', tmp], { encoding: 'utf8' });
    expect(x.status, x.stderr).toBe(0);
    const dir = join(tmp, 'kjv-llama-model');
    expect(readdirSync(dir).sort()).toEqual(['1', 'README.md', 'config.pbtxt', 'perf_data.json', 'sample_request.json']);
    const c = parseTextFormat(readFileSync(join(dir, 'config.pbtxt'), 'utf8'), MODEL_CONFIG_SCHEMA, 'config.pbtxt');
    expect(c).toMatchObject({ name: 'kjv-llama-model', platform: 'onnxruntime_onnx', max_batch_size: 0, instance_group: [{ count: 2, kind: 'KIND_CPU' }] });
    expect((c.input as TextMessage[]).map((t) => t.name)).toEqual(['input_ids', 'attention_mask', 'position_ids', ...[0, 1, 2, 3].flatMap((l) => [`past_key_values.${l}.key`, `past_key_values.${l}.value`])]);
    expect((c.output as TextMessage[])[0]).toEqual({ name: 'logits', data_type: 'TYPE_FP32', dims: [-1, -1, 2048] });
    // model.onnx is the engine's model section byte for byte: the validated, fused graph
    const onnx = readFileSync(join(dir, '1/model.onnx'));
    const section = (await parseEngine(a().engineBytes() as Uint8Array)).section('model') as Uint8Array;
    expect(onnx.equals(Buffer.from(section))).toBe(true);
    const req = JSON.parse(readFileSync(join(dir, 'sample_request.json'), 'utf8')) as { inputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }> };
    const feeds: Record<string, HostTensor> = Object.fromEntries(req.inputs.map((t) => [t.name, { dtype: t.datatype === 'INT64' ? 'int64' : 'float32', dims: t.shape, data: t.datatype === 'INT64' ? BigInt64Array.from(t.data, (v) => BigInt(v)) : Float32Array.from(t.data) }]));
    const out = await runModel(onnx, feeds);
    expect(out.logits.dims).toEqual([1, 4, 2048]);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/exported by the Fuselab editor\s+from `kjv-llama-model\.engine`/);
    expect(readme).toMatch(/stateless/);
  }, 120_000);

  it('refuses a bad max_batch with the node saying why', async () => {
    const tri = node('export-triton').id;
    a().edit({ type: 'set-param', node: tri, key: 'max_batch', value: 'lots' });
    expect(await a().exportTriton(tri)).toBeNull();
    expect(status('export-triton').error).toMatch(/max_batch must be 'auto' or an integer ≥ 0 \(got 'lots'\)/);
    expect(store.getState().toasts.at(-1)?.kind).toBe('error');
  });
});
