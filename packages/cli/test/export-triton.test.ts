import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, tensorType } from '@fuselab/graph-core';
import { MODEL_CONFIG_SCHEMA, parseTextFormat, runModel, type HostTensor, type TextMessage } from '@fuselab/gpu-runtime';
import type { ExportTritonReport } from '../src/export-triton.ts';

const root = new URL('../../../', import.meta.url).pathname;
const bin = join(root, 'packages/cli/bin/fuselab.js');
const fixtures = join(root, 'examples/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'fuselab-triton-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const run = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
const list = (m: TextMessage, f: string) => (m[f] ?? []) as TextMessage[];

/** The sample request's inputs as host tensors (KServe v2 JSON → typed arrays). */
function feeds(req: { inputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }> }): Record<string, HostTensor> {
  return Object.fromEntries(req.inputs.map((t) => [t.name, {
    dtype: t.datatype === 'INT64' ? 'int64' : 'float32',
    dims: t.shape,
    data: t.datatype === 'INT64' ? BigInt64Array.from(t.data, (x) => BigInt(x)) : Float32Array.from(t.data),
  }]));
}

describe('fuselab export-triton', () => {
  it('writes a model repository whose config parses strictly and whose model runs on the sample request', async () => {
    const out = join(tmp, 'repo');
    const r = run(['export-triton', join(fixtures, 'llama-tiny-kv.onnx'), '--out', out, '--name', 'llama', '--instances', '2', '--kind', 'KIND_CPU', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as ExportTritonReport;
    expect(rep).toMatchObject({ version: 1, name: 'llama', maxBatchSize: 0, kvCache: true, batchDim: 'batch_size', dynamicBatching: null, instanceGroup: { count: 2, kind: 'KIND_CPU' } });
    const dir = join(out, 'llama');
    expect(readdirSync(dir).sort()).toEqual(['1', 'README.md', 'config.pbtxt', 'perf_data.json', 'sample_request.json']);
    expect(readdirSync(join(dir, '1'))).toEqual(['model.onnx']);
    const c = parseTextFormat(readFileSync(join(dir, 'config.pbtxt'), 'utf8'), MODEL_CONFIG_SCHEMA, 'config.pbtxt');
    expect(c).toMatchObject({ name: 'llama', platform: 'onnxruntime_onnx', max_batch_size: 0, instance_group: [{ count: 2, kind: 'KIND_CPU' }] });
    expect(list(c, 'input').map((t) => [t.name, t.data_type, t.dims])).toEqual([
      ['input_ids', 'TYPE_INT64', [-1, -1]], ['attention_mask', 'TYPE_INT64', [-1, -1]], ['position_ids', 'TYPE_INT64', [-1, -1]],
      ...[0, 1].flatMap((l) => ['key', 'value'].map((k) => [`past_key_values.${l}.${k}`, 'TYPE_FP32', [-1, 2, -1, 16]])),
    ]);
    expect(list(c, 'output')[0]).toEqual({ name: 'logits', data_type: 'TYPE_FP32', dims: [-1, -1, 256] });
    // the copied model is the source, byte for byte, and runs on the README's sample request
    const model = readFileSync(join(dir, '1/model.onnx'));
    expect(model.equals(readFileSync(join(fixtures, 'llama-tiny-kv.onnx')))).toBe(true);
    const req = JSON.parse(readFileSync(join(dir, 'sample_request.json'), 'utf8'));
    const res = await runModel(model, feeds(req));
    expect(res.logits.dims).toEqual([1, 4, 256]);
    expect(res['present.0.key'].dims).toEqual([1, 2, 4, 16]);
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/docker run --rm -p 8000:8000/);
    expect(readme).toMatch(/curl -s -X POST localhost:8000\/v2\/models\/llama\/infer/);
    expect(readme).toMatch(/stateless/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('batches a plain model and writes external data beside model.onnx', async () => {
    const out = join(tmp, 'repo2');
    const r = run(['export-triton', join(fixtures, 'external/gpt2-tiny-external.onnx'), '--out', out, '--max-batch', '4']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/max_batch_size 4, dynamic batching \(preferred 2, 4, 100 µs\)/);
    const dir = join(out, 'gpt2-tiny-external');
    expect(readdirSync(join(dir, '1')).sort()).toEqual(['model.onnx', 'model.onnx.data']);
    const c = parseTextFormat(readFileSync(join(dir, 'config.pbtxt'), 'utf8'), MODEL_CONFIG_SCHEMA);
    expect(c.max_batch_size).toBe(4);
    expect(list(c, 'input')[0]).toEqual({ name: 'input_ids', data_type: 'TYPE_INT64', dims: [-1] });
    expect(c.dynamic_batching).toEqual({ preferred_batch_size: [2, 4], max_queue_delay_microseconds: 100 });
    const req = JSON.parse(readFileSync(join(dir, 'sample_request.json'), 'utf8'));
    const res = await runModel(readFileSync(join(dir, '1/model.onnx')), feeds(req), { externalData: [{ path: 'model.onnx.data', data: readFileSync(join(dir, '1/model.onnx.data')) }] });
    expect(res.logits.dims).toEqual([1, 4, 256]);
  });

  it('refuses an existing non-empty model folder unless --force', () => {
    const out = join(tmp, 'repo3');
    mkdirSync(join(out, 'gpt2-tiny'), { recursive: true });
    writeFileSync(join(out, 'gpt2-tiny', 'keep.txt'), 'x');
    const r = run(['export-triton', join(fixtures, 'gpt2-tiny.onnx'), '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/repo3\/gpt2-tiny already exists and is not empty; pass --force/);
    expect(existsSync(join(out, 'gpt2-tiny', 'config.pbtxt'))).toBe(false);
    const f = run(['export-triton', join(fixtures, 'gpt2-tiny.onnx'), '--out', out, '--force']);
    expect(f.status, f.stderr).toBe(0);
    expect(existsSync(join(out, 'gpt2-tiny', 'config.pbtxt'))).toBe(true);
  });

  it.each([
    [['--max-batch=-1'], /--max-batch must be an integer ≥ 0 \(got '-1'\)/],
    [['--max-batch', 'lots'], /--max-batch must be an integer/],
    [['--instances', '0'], /--instances must be an integer ≥ 1/],
    [['--kind', 'KIND_TPU'], /--kind must be KIND_GPU or KIND_CPU/],
    [['--name', '../up'], /model name '..\/up'/],
  ])('refuses %j with one clear line and writes nothing', (extra, why) => {
    const out = join(tmp, 'never');
    const r = run(['export-triton', join(fixtures, 'gpt2-tiny.onnx'), '--out', out, ...extra]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(why);
    expect(existsSync(out)).toBe(false);
  });

  it('refuses a batch size the model cannot take, naming the tensor', () => {
    const m = loadModel(readFileSync(join(fixtures, 'gpt2-tiny.onnx')));
    const ids = m.graph.inputs.find((v) => v.name === 'input_ids')!;
    ids.type = tensorType('int64', [1, 'sequence_length']);
    const f = join(tmp, 'fixed-batch.onnx');
    writeFileSync(f, serializeModelToBytes(m));
    const r = run(['export-triton', f, '--out', join(tmp, 'fixed'), '--max-batch', '4']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/max_batch_size 4 needs every input and output to start with the same batch dim, but input 'input_ids' has a fixed first dim \(1\); use max_batch_size 0/);
    const ok = run(['export-triton', f, '--out', join(tmp, 'fixed'), '--json']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ maxBatchSize: 0, batchDim: null, inputs: [{ name: 'input_ids', dims: [1, -1] }, { name: 'attention_mask', dims: [-1, -1] }] });
  });

  it('prints help', () => {
    const h = run(['export-triton', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/Usage: fuselab export-triton MODEL.onnx --out DIR/);
    expect(run(['export-triton', join(fixtures, 'gpt2-tiny.onnx')]).status).toBe(2);
  });
});
