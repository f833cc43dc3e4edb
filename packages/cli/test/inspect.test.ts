import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { InspectReport } from '../src/index.ts';

/**
 * Runs the real `fuselab` bin (the same file `npx fuselab` links) and checks `inspect` against what
 * Python's onnx recorded in examples/fixtures/manifest.json when the fixtures were exported.
 */
const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'packages/cli/bin/fuselab.js');
const fixturesDir = join(root, 'examples/fixtures');

interface ManifestEntry {
  name: string;
  file: string;
  node_count: number;
  op_histogram: Record<string, number>;
  opset_imports: Record<string, number>;
  ir_version: number;
  producer: string;
  inputs: Array<{ name: string; dtype: string; dims: Array<number | string> }>;
  outputs: Array<{ name: string; dtype: string; dims: Array<number | string> }>;
  initializers: { count: number; bytes: number; external: number };
}
const manifest = JSON.parse(readFileSync(join(fixturesDir, 'manifest.json'), 'utf8')) as { fixtures: ManifestEntry[] };

const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
const tmp = mkdtempSync(join(tmpdir(), 'fuselab-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('fuselab inspect --json on every fixture', () => {
  it.each(manifest.fixtures.map((f) => [f.name, f] as const))('%s matches the exporter manifest', (_name, f) => {
    const out = execFileSync(process.execPath, [bin, 'inspect', join(fixturesDir, f.file), '--json'], { cwd: root, encoding: 'utf8' });
    const r = JSON.parse(out) as InspectReport;
    expect(r.version).toBe(1);
    expect(r.unknownOps).toEqual({});
    expect(r.nodes).toBe(f.node_count);
    expect(r.ops).toEqual(f.op_histogram);
    expect(r.opsets).toEqual(f.opset_imports);
    expect(r.irVersion).toBe(f.ir_version);
    expect(`${r.producer.name} ${r.producer.version}`).toBe(f.producer);
    expect(r.inputs).toEqual(f.inputs.map((i) => ({ name: i.name, dtype: i.dtype, shape: i.dims })));
    expect(r.outputs).toEqual(f.outputs.map((o) => ({ name: o.name, dtype: o.dtype, shape: o.dims })));
    expect(r.initializers).toBe(f.initializers.count);
    // parameter bytes include Constant-node tensors; initializer bytes alone are a lower bound
    expect(r.parameterBytes).toBeGreaterThanOrEqual(f.initializers.bytes);
    expect(r.externalData.length > 0).toBe(f.initializers.external > 0);
    if (f.initializers.external > 0) {
      const e = r.externalData[0];
      expect(e.bytes).toBeGreaterThan(0);
      expect(e.tensors).toBe(f.initializers.external);
    }
  });
});

describe('fuselab CLI behaviour', () => {
  it('prints help with exit 0, and exit 2 for an unknown command', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/inspect MODEL/);
    const bad = run(['frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('prints a human-readable summary', () => {
    const r = run(['inspect', join(fixturesDir, 'llama-tiny-kv.onnx')]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/past_key_values\.0\.key\s+float32\s+\[batch_size,2,past_sequence_length,16\]/);
    expect(r.stdout).toMatch(/MatMul\s+20/);
  });

  it('reports a truncated file as one clear line naming the file and byte offset, exit 1', () => {
    const src = readFileSync(join(fixturesDir, 'gpt2-tiny.onnx'));
    const p = join(tmp, 'truncated.onnx');
    writeFileSync(p, src.subarray(0, Math.floor(src.byteLength / 2)));
    const r = run(['inspect', p]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/truncated\.onnx: .* at byte \d+ \(field ModelProto\./);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('lists a missing external-data file instead of failing', () => {
    const p = join(tmp, 'gpt2-tiny-external.onnx');
    copyFileSync(join(fixturesDir, 'external/gpt2-tiny-external.onnx'), p);
    const r = run(['inspect', p]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/gpt2-tiny-external\.onnx\.data\s+MISSING/);
  });

  it('reports a missing model file clearly', () => {
    const r = run(['inspect', join(tmp, 'nope.onnx')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nope\.onnx/);
  });
});

describe('fuselab inspect flags unknown ops', () => {
  it('keeps and reports ops no schema knows', async () => {
    const { GraphBuilder, serializeModelToBytes } = await import('@fuselab/graph-core');
    const b = new GraphBuilder({ opsets: { '': 17, 'com.example': 1 } });
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Frobnicate', [b.op('Relu', [x])], {}, { domain: 'com.example' }), 'y');
    const p = join(tmp, 'unknown.onnx');
    writeFileSync(p, serializeModelToBytes(b.build()));
    const r = JSON.parse(execFileSync(process.execPath, [bin, 'inspect', p, '--json'], { cwd: root, encoding: 'utf8' })) as InspectReport;
    expect(r.unknownOps).toEqual({ 'com.example::Frobnicate': 1 });
    expect(r.ops).toEqual({ 'com.example::Frobnicate': 1, Relu: 1 });
    const text = run(['inspect', p]);
    expect(text.stdout).toMatch(/unknown ops \(kept as is; no schema at this opset\): com\.example::Frobnicate×1/);
  });
});
