import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, Tensor } from '@fuselab/graph-core';
import type { CompareReport } from '../src/compare.ts';

const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'packages/cli/bin/fuselab.js');
const fixture = join(root, 'examples/fixtures/gpt2-tiny.onnx');
const tmp = mkdtempSync(join(tmpdir(), 'fuselab-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });

describe('fuselab compare', () => {
  it('passes identical models (exit 0) and prints the JSON contract', () => {
    const r = run(['compare', fixture, fixture, '--tolerance', 'fp32-exact', '--seed', '3', '--dims', 'sequence_length=5', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as CompareReport;
    expect(rep).toMatchObject({ version: 1, passed: true, a: { nodes: 521 }, b: { nodes: 521 }, tolerance: { name: 'fp32-exact', atol: 0, rtol: 0 }, firstDivergence: null });
    expect(rep.inputs).toMatchObject({ source: 'random', seed: 3, dims: { batch_size: 1, sequence_length: 5 } });
    expect(rep.outputs).toEqual([expect.objectContaining({ name: 'logits', status: 'pass', dimsA: [1, 5, 256], dimsB: [1, 5, 256], maxAbsErr: 0, cosine: 1 })]);
    expect(rep.intermediates).toMatchObject({ mode: 'auto', ran: false });
  });

  it('passes an optimized model against its original, with recorded inputs and the optimize report', () => {
    const out = join(tmp, 'opt.onnx');
    const report = join(tmp, 'report.json');
    expect(run(['optimize', fixture, '-o', out, '--report', report]).status).toBe(0);
    const r = run(['compare', fixture, out, '--inputs', join(root, 'examples/fixtures/gpt2-tiny.io.json'), '--provenance', report, '--mark', 'all']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/logits\s+2x8x256\s+\S+\s+\S+\s+1\.000000\s+PASS/);
    expect(r.stdout).toMatch(/intermediates: \d+ of 525 values of A compared \(matched by name \d+, provenance [1-9]\d*, consumer \d+\), 0 outside tolerance/);
    expect(r.stdout).toMatch(/PASSED/);
  });

  it('fails a corrupted copy (exit 1) and names the consumer of the corrupted weight', () => {
    const m = loadModel(readFileSync(fixture));
    const w = m.graph.initializers.get('transformer.h.1.attn.c_attn.weight')!;
    const consumer = w.uses[0].node;
    const t = w.initializer!;
    w.initializer = Tensor.from('float32', t.dims, Float32Array.from(t.data() as Float32Array, (x, i) => x + 0.1 * (i % 7)), w.name);
    const bad = join(tmp, 'corrupt.onnx');
    writeFileSync(bad, serializeModelToBytes(m));
    const r = run(['compare', fixture, bad, '--json']);
    expect(r.status).toBe(1);
    const rep = JSON.parse(r.stdout) as CompareReport;
    expect(rep.passed).toBe(false);
    expect(rep.outputs[0]).toMatchObject({ name: 'logits', status: 'fail', passed: false });
    expect(rep.firstDivergence).toMatchObject({ nodeA: { name: consumer.name, opType: 'Gemm' }, nodeB: { name: consumer.name }, match: 'name', status: 'fail' });
    expect(rep.intermediates.ran).toBe(true);
    expect(r.stderr).toContain(`outputs differ beyond tolerance 'fp32-fusion': 'logits' (fail, max abs`);
    expect(r.stderr).toContain(`first divergent node: Gemm '${consumer.name}' in A`);
    const text = run(['compare', fixture, bad]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain(`produced by A: Gemm '${consumer.name}'`);
  });

  it.each([
    [['--tolerance', 'fp33'], /unknown tolerance 'fp33' \(have: fp32-exact, fp32-fusion/],
    [['--seed', 'x'], /--seed must be an integer/],
    [['--dims', 'batch_size'], /--dims: 'batch_size' is not NAME=VALUE/],
    [['--mark', 'some'], /--mark must be auto, all or none/],
    [['--inputs', '/nonexistent/in.json'], /\/nonexistent\/in.json: cannot read \(ENOENT\)/],
  ])('refuses bad options %j with one clear line', (extra, why) => {
    const r = run(['compare', fixture, fixture, ...extra]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(why);
  });

  it('refuses bad recorded inputs, naming the file and field', () => {
    const f = join(tmp, 'in.json');
    writeFileSync(f, JSON.stringify({ input_ids: { dtype: 'int64', dims: [1, 2], data: [1] } }));
    const r = run(['compare', fixture, fixture, '--inputs', f]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${f}: input_ids.data: has 1 elements but dims [1, 2] need 2`);
  });

  it('prints help, and usage on a missing model', () => {
    const h = run(['compare', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/Usage: fuselab compare A.onnx B.onnx/);
    expect(h.stdout).toMatch(/--tolerance NAME\s+fp32-exact \| fp32-fusion/);
    expect(run(['compare', fixture]).status).toBe(2);
    const e = run(['compare', fixture, join(tmp, 'x.engine')]);
    expect(e.status).toBe(1);
    expect(e.stderr).toMatch(/x\.engine: cannot read \(ENOENT\)/);
  });

  it('compares an engine against the ONNX it was built from, through its provenance', () => {
    const engine = join(tmp, 'gpt2.engine');
    expect(run(['build', fixture, '-o', engine, '--device', 'wasm', '--full-logits']).status).toBe(0);
    const r = run(['compare', fixture, engine, '--mark', 'all', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as CompareReport;
    expect(rep.passed).toBe(true);
    expect(rep.b.nodes).toBeLessThan(rep.a.nodes / 5);
    expect(rep.intermediates?.matched.provenance).toBeGreaterThan(0);
  });
});
