/**
 * The whole loop through the real CLI, as a user runs it: `fuselab build` → engine file on disk →
 * `fuselab run` (load, checks, generate with streaming and per-node timings) → same greedy tokens as
 * the reference model. On wasm with the trained kjv-llama (tokenizer, text) and on WebGPU (Dawn +
 * SwiftShader) with a one-layer decoder; plus `bench`, and the bad-input paths.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes } from '@fuselab/graph-core';
import { decoderIo, KvDecoder, ortEnv, parseEngine } from '@fuselab/gpu-runtime';
import { buildOneLayerDecoder } from './one-layer-decoder.ts';

const run = promisify(execFile);
const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'packages/cli/bin/fuselab.js');
const kjv = join(root, 'examples/models/kjv-llama');
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

interface CliResult { code: number; stdout: string; stderr: string }

async function fuselab(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 280_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === 'number' ? x.code : -1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
  }
}

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'fuselab-engine-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('build → engine → run on wasm (kjv-llama, tokenizer)', () => {
  const greedy = JSON.parse(readFileSync(join(kjv, 'greedy.json'), 'utf8')) as { prompt: string; prompt_ids: number[]; new_ids: number[] };
  let engine: string;

  beforeAll(async () => {
    engine = join(dir, 'kjv.engine');
    const r = await fuselab(['build', join(kjv, 'model.onnx'), '-o', engine, '--device', 'wasm', '--report', join(dir, 'build.json')]);
    expect(r.stderr).toContain('validating');
    expect(r.code).toBe(0);
  }, 300_000);

  it('writes an engine whose manifest names device, versions, tactics, tokenizer and the fused graph', async () => {
    const report = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8'));
    expect(report.validation.passed).toBe(true);
    expect(report.fused.GroupQueryAttention).toBe(4);
    const { manifest } = await parseEngine(readFileSync(engine));
    expect(manifest.device.backend).toBe('wasm');
    expect(manifest.runtime.onnxruntimeWeb).toMatch(/^1\.\d+/);
    expect(manifest.sections.map((s) => s.name)).toEqual(['model', 'tokenizer', 'tokenizer_config']);
    expect(manifest.tactics).toEqual([]);
    expect(manifest.io.maxPositions).toBe(256);
    expect(manifest.provenance.some((p) => p.opType === 'GroupQueryAttention' && p.sources.length > 10)).toBe(true);
  });

  it('--tune times the candidates on this device, keeps the fastest and caches the timings', async () => {
    const tuned = join(dir, 'tuned.engine');
    const env = { FUSELAB_CACHE_DIR: join(dir, 'cache') };
    const r = await fuselab(['build', join(kjv, 'model.onnx'), '-o', tuned, '--device', 'wasm', '--tune', '--json'], env);
    expect(r.code).toBe(0);
    const { manifest } = await parseEngine(readFileSync(tuned));
    expect(manifest.tactics.map((t) => t.name)).toEqual(['graph']);
    const [graph] = manifest.tactics;
    expect(graph.candidates.map((c) => c.value)).toEqual(['fused', 'unfused']);
    expect(graph.candidates.every((c) => (c.tokPerSec ?? 0) > 0)).toBe(true);
    const best = [...graph.candidates].sort((a, b) => (b.tokPerSec ?? 0) - (a.tokPerSec ?? 0))[0];
    expect(graph.chosen).toBe(best.value);
    // the engine holds the graph that won
    expect(manifest.graph.nodes).toBe(graph.chosen === 'fused' ? JSON.parse(r.stdout).nodesAfter : 1105);
    // the timings are cached per device: a second build reuses them
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'cache', 'tactics.json'), 'utf8')).entries)).toHaveLength(2);
    const again = await fuselab(['build', join(kjv, 'model.onnx'), '-o', tuned, '--device', 'wasm', '--tune'], env);
    expect(again.stderr.match(/\(cached\)/g)).toHaveLength(2);
  }, 300_000);

  it('streams the same greedy text as PyTorch, with stats and per-node timings', async () => {
    const r = await fuselab(['run', engine, '--prompt', greedy.prompt, '--max-tokens', String(greedy.new_ids.length), '--ignore-eos', '--layer-timings', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.tokens).toEqual(greedy.new_ids);
    expect(out.reason).toBe('max-tokens');
    expect(out.stats.ttftMs).toBeGreaterThan(0);
    expect(out.stats.decodeTokPerSec).toBeGreaterThan(0);
    expect(out.stats.interTokenMs.p95).toBeGreaterThanOrEqual(out.stats.interTokenMs.p50);
    const gqa = out.layers.nodes.filter((n: { opType: string }) => n.opType === 'GroupQueryAttention');
    expect(gqa).toHaveLength(4);
    expect(gqa[0].sources.some((s: string) => s.includes('/self_attn/'))).toBe(true);
    // streaming text: the plain run prints prompt + continuation as it goes
    const plain = await fuselab(['run', engine, '--prompt', greedy.prompt, '--max-tokens', '12']);
    expect(plain.code).toBe(0);
    expect(plain.stdout.startsWith(greedy.prompt)).toBe(true);
    expect(plain.stdout.length).toBeGreaterThan(greedy.prompt.length + 12);
    expect(plain.stderr).toMatch(/TTFT [\d.]+ ms.*decode [\d.]+ tok\/s/);
  }, 120_000);

  it('samples deterministically for a seed and stops on a stop string', async () => {
    const args = ['run', engine, '--prompt', greedy.prompt, '--max-tokens', '24', '--temperature', '0.9', '--top-p', '0.9', '--top-k', '40', '--seed', '7', '--json'];
    const [a, b] = await Promise.all([fuselab(args), fuselab(args)]);
    expect(JSON.parse(a.stdout).tokens).toEqual(JSON.parse(b.stdout).tokens);
    const other = JSON.parse((await fuselab([...args.slice(0, -3), '--seed', '8', '--json'])).stdout);
    expect(other.tokens).not.toEqual(JSON.parse(a.stdout).tokens);
    const stopped = JSON.parse((await fuselab(['run', engine, '--prompt', greedy.prompt, '--max-tokens', '40', '--stop', ',', '--json'])).stdout);
    expect(stopped.reason).toBe('stop-string');
    expect(stopped.text).not.toContain(',');
  }, 120_000);

  it('refuses tampered, truncated and non-engine files, and prompts past the context, with clear errors', async () => {
    const bytes = readFileSync(engine);
    const tampered = join(dir, 'tampered.engine');
    const t = bytes.slice();
    t[t.length - 5000] ^= 0xff;
    writeFileSync(tampered, t);
    const r1 = await fuselab(['run', tampered, '--prompt', 'And']);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toMatch(/checksum mismatch.*rebuild/);
    const truncated = join(dir, 'truncated.engine');
    writeFileSync(truncated, bytes.subarray(0, bytes.length >> 1));
    expect((await fuselab(['run', truncated, '--prompt', 'And'])).stderr).toMatch(/truncated/);
    expect((await fuselab(['run', join(kjv, 'model.onnx'), '--prompt', 'And'])).stderr).toMatch(/not a Fuselab engine.*looks like an ONNX model/);
    const long = 'And the king said unto '.repeat(60);
    const r2 = await fuselab(['run', engine, '--prompt', long]);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/prompt is \d+ tokens but the engine's context is at most 256/);
  }, 120_000);

  it('builds an int4 (MatMulNBits) engine that validates, records its precision and generates', async () => {
    const int4 = join(dir, 'kjv-int4.engine');
    const r = await fuselab(['build', join(kjv, 'model.onnx'), '-o', int4, '--device', 'wasm', '--int4', '--block', '32', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.validation).toMatchObject({ passed: true, tolerance: 'int4-weight-only' });
    expect(report.fused.MatMulNBits).toBeGreaterThan(10);
    expect(report.precision.bytes.after).toBeLessThan(report.precision.bytes.before * 0.6);
    const { manifest } = await parseEngine(readFileSync(int4));
    expect(manifest.precision.method).toBe('int4-weight-only');
    const out = JSON.parse((await fuselab(['run', int4, '--prompt', greedy.prompt, '--max-tokens', '8', '--json'])).stdout);
    expect(out.tokens).toHaveLength(8);
    expect(out.text.length).toBeGreaterThan(8);
    // fp16 needs shader-f16: on a device without it the build says so instead of writing an engine that can't load
    const f = await fuselab(['build', join(kjv, 'model.onnx'), '-o', join(dir, 'f16.engine'), '--device', 'webgpu', '--fp16'], { VK_ICD_FILENAMES: '/nonexistent.json' });
    expect(f.code).toBe(1);
    expect(existsSync(join(dir, 'f16.engine'))).toBe(false);
  }, 180_000);

  it('keeps weights in a separate section with --external-weights and still generates the reference', async () => {
    const ext = join(dir, 'kjv-ext.engine');
    const b = await fuselab(['build', join(kjv, 'model.onnx'), '-o', ext, '--device', 'wasm', '--external-weights']);
    expect(b.code, b.stderr).toBe(0);
    const { manifest } = await parseEngine(readFileSync(ext));
    const weights = manifest.sections.find((x) => x.name === 'weights');
    expect(weights?.location).toBe('weights.bin');
    expect(weights?.length).toBeGreaterThan(9e6);
    expect(manifest.sections.find((x) => x.name === 'model')?.length).toBeLessThan(200_000);
    const out = JSON.parse((await fuselab(['run', ext, '--prompt', greedy.prompt, '--max-tokens', '12', '--ignore-eos', '--json'])).stdout);
    expect(out.tokens).toEqual(greedy.new_ids.slice(0, 12));
  }, 120_000);

  it('bench measures the plain export and the engine in one run', async () => {
    const r = await fuselab(['bench', join(kjv, 'model.onnx'), engine, '--device', 'wasm', '--prompt-len', '8,32', '--context', '8,32', '--decode', '8', '--repeat', '1', '--json']);
    expect(r.code).toBe(0);
    const b = JSON.parse(r.stdout);
    expect(b.backend).toBe('wasm');
    expect(b.models.map((m: { kind: string }) => m.kind)).toEqual(['onnx', 'engine']);
    for (const m of b.models) {
      expect(m.ttft.map((p: { promptLen: number }) => p.promptLen)).toEqual([8, 32]);
      expect(m.decode.every((p: { decodeTokPerSec: number }) => p.decodeTokPerSec > 0)).toBe(true);
    }
    expect(b.ratios[0].decodeSpeedup['8']).toBeGreaterThan(0);
  }, 180_000);
});

describe('build → engine → run on WebGPU (Dawn + SwiftShader in Node)', () => {
  const env: Record<string, string> = { XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;

  it('greedy tokens from the engine equal the wasm reference; the engine records the adapter', async () => {
    const model = join(dir, 'one-layer.onnx');
    const bytes = serializeModelToBytes(buildOneLayerDecoder());
    writeFileSync(model, bytes);
    const prompt = [5, 17, 42, 3, 77, 11];
    const ref = await KvDecoder.create(ortEnv(), bytes, decoderIo(loadModel(bytes)), { executionProvider: 'wasm' });
    const expected = (await ref.generate({ promptIds: prompt, maxNewTokens: 10 })).tokens;
    await ref.release();

    const engine = join(dir, 'one-layer.engine');
    // built with Dawn's validation skipped: the engine records the toggle and run applies it unasked
    const b = await fuselab(['build', model, '-o', engine, '--device', 'webgpu', '--toggle', 'enable-dawn-features=skip_validation', '--json'], env);
    expect(b.stderr).not.toMatch(/Error/);
    expect(b.code).toBe(0);
    const report = JSON.parse(b.stdout);
    expect(report.backend).toBe('webgpu');
    const { manifest } = await parseEngine(readFileSync(engine));
    expect(manifest.device.vendor).not.toBe('');
    expect(manifest.device.backend).toBe('webgpu');
    expect(manifest.device.toggles).toEqual(['enable-dawn-features=skip_validation']);

    const r = await fuselab(['run', engine, '--prompt-ids', prompt.join(','), '--max-tokens', '10', '--layer-timings', '--json'], env);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.stats.executionProvider).toBe('webgpu');
    expect(out.tokens).toEqual(expected);
    expect(out.stats.gpuMemory.peakBytes).toBeGreaterThan(0);
    expect(out.layers.nodes.length).toBeGreaterThan(3);

    // the same engine on a host without WebGPU: refused with the reason, allowed on request
    const wasm = await fuselab(['run', engine, '--prompt-ids', prompt.join(','), '--max-tokens', '10', '--device', 'wasm']);
    expect(wasm.code).toBe(1);
    expect(wasm.stderr).toMatch(/built for webgpu .* no WebGPU adapter.*--allow-other-device/);
    const anyway = await fuselab(['run', engine, '--prompt-ids', prompt.join(','), '--max-tokens', '10', '--device', 'wasm', '--allow-other-device', '--json']);
    expect(JSON.parse(anyway.stdout).tokens).toEqual(expected);
  }, 300_000);
});
