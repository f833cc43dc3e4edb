import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { runModel, hostFromBase64, compareTensors } from '@fuselab/gpu-runtime';
import type { OptimizeReport } from '../src/optimize.ts';

const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'packages/cli/bin/fuselab.js');
const fixtures = join(root, 'examples/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'fuselab-opt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('fuselab optimize', () => {
  it('writes a validated, smaller standard ONNX file and the report contract', async () => {
    const out = join(tmp, 'gpt2-opt.onnx');
    const report = join(tmp, 'report.json');
    const r = run(['optimize', join(fixtures, 'gpt2-tiny.onnx'), '-o', out, '--report', report]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/nodes 521 → \d+/);
    expect(r.stdout).toMatch(/validation passed/);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as OptimizeReport;
    expect(rep.nodesBefore).toBe(521);
    expect(rep.nodesAfter).toBeLessThan(200);
    expect(rep.validation.passed).toBe(true);
    expect(rep.validation.outputs[0]).toMatchObject({ name: 'logits', passed: true });
    expect(rep.passes.length).toBeGreaterThan(0);
    expect(rep.passes[0]).toEqual(expect.objectContaining({ name: expect.any(String), modified: expect.any(Boolean), ms: expect.any(Number), stats: expect.any(Object) }));
    expect(Array.isArray(rep.diagnostics)).toBe(true);
    // static memory plan of activations: fusion shrinks the arena; no KV inputs on this export
    expect(rep.memory.dims.sequence_length).toBe(128);
    expect(rep.memory.after.unknownSizes).toBe(0);
    expect(rep.memory.after.arenaBytes).toBeLessThan(rep.memory.before.arenaBytes);
    expect(rep.memory.after.arenaBytes).toBeLessThanOrEqual(rep.memory.after.naiveBytes);
    expect(rep.memory.kvCacheBytesPerToken).toBeNull();
    expect(r.stdout).toMatch(/activations at batch_size=1 sequence_length=128 past_sequence_length=128: arena [\d.]+ MiB → [\d.]+ MiB/);
    // the output is a standard ONNX file that onnxruntime runs, matching PyTorch's recorded logits
    const m = loadModel(readFileSync(out));
    expect(m.graph.nodeCount).toBe(rep.nodesAfter);
    const io = JSON.parse(readFileSync(join(fixtures, 'gpt2-tiny.io.json'), 'utf8'));
    const feeds = Object.fromEntries(Object.entries(io.inputs).map(([k, v]) => [k, hostFromBase64(v as never)]));
    const got = await runModel(readFileSync(out), feeds);
    const c = compareTensors('logits', hostFromBase64(io.outputs.logits), got.logits, { name: 'torch-recorded', atol: io.tolerance.atol, rtol: io.tolerance.rtol });
    expect(c.passed, `max abs ${c.maxAbsErr}`).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('--fp16-norms gives the fused norms float16 IO: fewer Casts, still within the fp16 tolerance', () => {
    const casts: number[] = [];
    for (const extra of [[], ['--fp16-norms']]) {
      const out = join(tmp, `f16${extra.length}.onnx`);
      const r = run(['optimize', join(fixtures, 'gpt2-tiny-kv.onnx'), '-o', out, '--fp16', ...extra]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/validation passed \(fp16\)/);
      const m = loadModel(readFileSync(out));
      casts.push(m.graph.nodes.filter((n) => n.opType === 'Cast').length);
      const norms = m.graph.nodes.filter((n) => n.opType === 'SkipLayerNormalization');
      expect(norms.length).toBe(5);
      for (const n of norms) expect(n.input(0).dtype, n.name).toBe(extra.length ? 'float16' : 'float32');
    }
    expect(casts[1]).toBeLessThan(casts[0]);
    expect(run(['optimize', join(fixtures, 'gpt2-tiny-kv.onnx'), '-o', join(tmp, 'x.onnx'), '--fp16-norms']).stderr).toMatch(/--fp16-norms .*--fp16/);
  });

  it('freezes dims with a profile and validates at the profile shapes', () => {
    const out = join(tmp, 'kv-decode.onnx');
    const r = run(['optimize', join(fixtures, 'gpt2-tiny-kv.onnx'), '-o', out, '--profile', 'decode:input_ids=1x1;position_ids=1x1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as OptimizeReport;
    expect(rep.workflow.profiles?.[0].name).toBe('decode');
    // planned at the profile's shapes; 2 layers × K,V × 4 heads × 16 × 4 bytes per token
    expect(rep.memory.dims.sequence_length).toBe(1);
    expect(rep.memory.kvCacheBytesPerToken).toBe(1024);
    expect(rep.validation.passed).toBe(true);
    const ids = loadModel(readFileSync(out)).graph.inputs.find((v) => v.name === 'input_ids')!;
    expect(ids.shape).toEqual([1, 1]);
  });

  it.each([
    [['{"passes":[{"pass":"no-such-pass"}]}'], /unknown pass 'no-such-pass'/],
    [['{"passes":[{"pass":"fold-constants","params":{"maxOutputBytes":"big"}}]}'], /maxOutputBytes' must be number/],
  ])('refuses a bad workflow with a clear message and writes nothing', (doc, why) => {
    const wf = join(tmp, 'bad.json');
    writeFileSync(wf, doc[0]);
    const out = join(tmp, 'never.onnx');
    const r = run(['optimize', join(fixtures, 'gpt2-tiny.onnx'), '-o', out, '--workflow', wf]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(why);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a profile that does not fit the model', () => {
    const r = run(['optimize', join(fixtures, 'gpt2-tiny.onnx'), '-o', join(tmp, 'x.onnx'), '--profile', 'p:nope=1x1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nope/);
  });
});
