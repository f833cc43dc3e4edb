/**
 * The ustar writer against the system's tar(1): archives written to disk, listed and extracted by
 * `tar`, contents compared byte for byte; then a Triton repository packed, extracted, its
 * config.pbtxt parsed with the strict text-format reader and its model run on the sample request.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { MODEL_CONFIG_SCHEMA, parseTextFormat, runModel, tarArchive, TarError, tritonRepository, type HostTensor, type TarArchive, type TextMessage } from '../src/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'fuselab-tar-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;

let n = 0;
/** Writes the archive's chunks to a file, as a download or the CLI would. */
function writeArchive(a: TarArchive): string {
  const path = join(tmp, `a${++n}.tar`);
  writeFileSync(path, Buffer.concat(a.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
  return path;
}

function tar(args: string[]): string {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  expect(r.status, `tar ${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout;
}

function extract(path: string): string {
  const dir = join(tmp, `x${++n}`);
  mkdirSync(dir);
  tar(['-xf', path, '-C', dir]);
  return dir;
}

const bytes = (len: number, seed: number) => Uint8Array.from({ length: len }, (_, i) => (i * 31 + seed) & 0xff);

describe('tarArchive (read back by the system tar)', () => {
  it('writes files and folders tar lists and extracts byte for byte, with modes', () => {
    const long = `${'deep/'.repeat(24)}${'n'.repeat(90)}.bin`; // 210 bytes: needs the ustar prefix
    const files: Record<string, Uint8Array> = {
      'repo/empty.txt': new Uint8Array(0),
      'repo/one-block.bin': bytes(512, 1),
      'repo/odd.bin': bytes(1000, 2),
      'repo/1/model.onnx': bytes(70_000, 3),
      'repo/naïve — ünïcode.md': new TextEncoder().encode('# ünïcode\n'),
      [long]: bytes(5, 4),
    };
    const a = tarArchive([...Object.entries(files).map(([path, data]) => ({ path, data })), { path: 'repo/run.sh', data: new TextEncoder().encode('#!/bin/sh\n'), mode: 0o755 }], { mtime: 1_700_000_000 });
    expect(a.byteLength % 10240).toBe(0);
    expect(a.byteLength).toBe(a.chunks.reduce((s, c) => s + c.byteLength, 0));
    // parent folders come first, once each
    expect(a.paths.slice(0, 3)).toEqual(['repo/', 'repo/empty.txt', 'repo/one-block.bin']);
    expect(a.paths.filter((p) => p === 'repo/1/')).toHaveLength(1);
    const path = writeArchive(a);
    const listed = tar(['-tf', path]).trim().split('\n');
    expect(listed).toEqual(a.paths);
    const dir = extract(path);
    for (const [p, data] of Object.entries(files)) expect(Buffer.from(readFileSync(join(dir, p))).equals(Buffer.from(data)), p).toBe(true);
    expect(statSync(join(dir, 'repo/run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'repo/odd.bin')).mode & 0o777).toBe(0o644);
    expect(statSync(join(dir, 'repo/1')).isDirectory()).toBe(true);
    expect(Math.round(statSync(join(dir, 'repo/odd.bin')).mtimeMs / 1000)).toBe(1_700_000_000);
    // the verbose listing agrees on sizes
    expect(tar(['-tvf', path])).toMatch(/70000 .* repo\/1\/model\.onnx/);
  });

  it('does not copy file contents: the chunks are the views given', () => {
    const data = bytes(4096, 9);
    const a = tarArchive([{ path: 'x.bin', data }]);
    expect(a.chunks.includes(data)).toBe(true);
  });

  it('refuses entries that would leave the folder or do not fit ustar, naming them', () => {
    const f = (path: string) => () => tarArchive([{ path, data: new Uint8Array(1) }]);
    expect(f('/etc/passwd')).toThrow(/'\/etc\/passwd': absolute paths/);
    expect(f('a/../../b')).toThrow(/segment '\.\.'/);
    expect(f('a//b')).toThrow(/segment ''/);
    expect(f('a\\b')).toThrow(/backslashes/);
    expect(f('')).toThrow(TarError);
    expect(f(`${'x'.repeat(101)}`)).toThrow(/too long for ustar/);
    expect(() => tarArchive([{ path: 'a', data: new Uint8Array(1) }, { path: 'a', data: new Uint8Array(2) }])).toThrow(/'a': listed twice/);
    expect(() => tarArchive([{ path: 'd/', data: new Uint8Array(1) }])).toThrow(/directory entry cannot have data/);
  });
});

describe('a Triton repository as one archive', () => {
  it('extracts to a repository whose config parses strictly and whose model runs on the sample request', async () => {
    const file = readFileSync(join(fixtures, 'llama-tiny-kv.onnx'));
    const model = loadModel(file);
    const repo = tritonRepository(model, file, { name: 'llama_tiny', source: 'llama-tiny-kv.onnx', kind: 'KIND_CPU' });
    const dir = extract(writeArchive(tarArchive(repo.files)));
    expect(readdirSync(dir)).toEqual(['llama_tiny']);
    expect(readdirSync(join(dir, 'llama_tiny')).sort()).toEqual(['1', 'README.md', 'config.pbtxt', 'perf_data.json', 'sample_request.json']);
    const c = parseTextFormat(readFileSync(join(dir, 'llama_tiny/config.pbtxt'), 'utf8'), MODEL_CONFIG_SCHEMA, 'config.pbtxt');
    expect(c).toMatchObject({ name: 'llama_tiny', platform: 'onnxruntime_onnx', max_batch_size: 0, instance_group: [{ count: 1, kind: 'KIND_CPU' }] });
    expect((c.input as TextMessage[]).map((t) => t.name)).toEqual(model.graph.inputs.filter((v) => !v.initializer).map((v) => v.name));
    const onnx = readFileSync(join(dir, 'llama_tiny/1/model.onnx'));
    expect(onnx.equals(file)).toBe(true);
    const req = JSON.parse(readFileSync(join(dir, 'llama_tiny/sample_request.json'), 'utf8')) as { inputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }> };
    const feeds: Record<string, HostTensor> = Object.fromEntries(req.inputs.map((t) => [t.name, { dtype: t.datatype === 'INT64' ? 'int64' : 'float32', dims: t.shape, data: t.datatype === 'INT64' ? BigInt64Array.from(t.data, (x) => BigInt(x)) : Float32Array.from(t.data) }]));
    const out = await runModel(onnx, feeds);
    expect(out.logits.dims).toEqual([1, 4, 256]);
    expect(readFileSync(join(dir, 'llama_tiny/README.md'), 'utf8')).toMatch(/curl -s -X POST localhost:8000\/v2\/models\/llama_tiny\/infer/);
  });
});
