import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { MODEL_CONFIG_SCHEMA, parseTextFormat, quoteText, TextFormatError, tritonConfig, TritonConfigError, tritonModelIo, tritonServingFiles, type TextMessage, type TritonModelIo } from '../src/index.ts';

const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;
const io = (name: string) => tritonModelIo(loadModel(readFileSync(join(fixtures, `${name}.onnx`))));
const parse = (text: string) => parseTextFormat(text, MODEL_CONFIG_SCHEMA, 'config.pbtxt');
const list = (m: TextMessage, f: string) => (m[f] ?? []) as TextMessage[];

describe('tritonConfig', () => {
  it('batches a model whose inputs and outputs share a first batch dim, leaving it out of dims', () => {
    const plan = tritonConfig(io('gpt2-tiny'), { name: 'gpt2' });
    const c = parse(plan.text);
    expect(c).toMatchObject({ name: 'gpt2', platform: 'onnxruntime_onnx', max_batch_size: 8 });
    expect(list(c, 'input')).toEqual([
      { name: 'input_ids', data_type: 'TYPE_INT64', dims: [-1] },
      { name: 'attention_mask', data_type: 'TYPE_INT64', dims: [-1] },
    ]);
    expect(list(c, 'output')).toEqual([{ name: 'logits', data_type: 'TYPE_FP32', dims: [-1, 256] }]);
    expect(c.dynamic_batching).toEqual({ preferred_batch_size: [4, 8], max_queue_delay_microseconds: 100 });
    expect(c.instance_group).toEqual([{ count: 1, kind: 'KIND_GPU' }]);
    expect(c.optimization).toMatchObject({ graph: { level: 1 }, input_pinned_memory: { enable: true } });
    expect(plan.batchDim).toEqual({ symbol: 'batch_size' });
  });

  it('exports KV-cache decoders stateless with full dims and no Triton batching by default', () => {
    const plan = tritonConfig(io('llama-tiny-kv'), { name: 'llama', kind: 'KIND_CPU', instances: 2 });
    const c = parse(plan.text);
    expect(plan.kvCache).toBe(true);
    expect(c.max_batch_size).toBe(0);
    expect(c.dynamic_batching).toBeUndefined();
    const inputs = list(c, 'input');
    expect(inputs.find((t) => t.name === 'past_key_values.0.key')).toEqual({ name: 'past_key_values.0.key', data_type: 'TYPE_FP32', dims: [-1, 2, -1, 16] });
    expect(list(c, 'output').map((t) => t.name)).toEqual(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
    expect(list(c, 'output')[0].dims).toEqual([-1, -1, 256]);
    expect(c.instance_group).toEqual([{ count: 2, kind: 'KIND_CPU' }]);
    expect((c.optimization as TextMessage).input_pinned_memory).toBeUndefined();
    // an explicit max batch is honoured: all KV tensors start with batch_size
    const b = parse(tritonConfig(io('llama-tiny-kv'), { name: 'llama', maxBatchSize: 4 }).text);
    expect(list(b, 'input').find((t) => t.name === 'past_key_values.0.key')?.dims).toEqual([2, -1, 16]);
  });

  it('writes scalars and batch-only tensors as dims [1] with an empty reshape', () => {
    const spec: TritonModelIo = {
      inputs: [{ name: 'x', dtype: 'float32', shape: ['n', 4] }, { name: 'temperature', dtype: 'float32', shape: [] }],
      outputs: [{ name: 'y', dtype: 'float16', shape: ['n'] }],
    };
    const plan = tritonConfig(spec, { name: 'm' });
    expect(plan.maxBatchSize).toBe(0); // the scalar input has no batch dim
    const c = parse(plan.text);
    expect(list(c, 'input')[1]).toEqual({ name: 'temperature', data_type: 'TYPE_FP32', dims: [1], reshape: { shape: [] } });
    const batched = parse(tritonConfig({ ...spec, inputs: [spec.inputs[0]] }, { name: 'm', maxBatchSize: 2 }).text);
    expect(list(batched, 'output')[0]).toEqual({ name: 'y', data_type: 'TYPE_FP16', dims: [1], reshape: { shape: [] } });
    expect(batched.dynamic_batching).toEqual({ preferred_batch_size: [1, 2], max_queue_delay_microseconds: 100 });
  });

  it.each([
    [{ maxBatchSize: -1 }, /max_batch_size must be an integer from 0/],
    [{ maxBatchSize: 2.5 }, /max_batch_size must be an integer/],
    [{ instances: 0 }, /instance count must be an integer from 1/],
    [{ name: '../evil' }, /model name '..\/evil'/],
    [{ kind: 'KIND_TPU' }, /KIND_GPU or KIND_CPU/],
    [{ maxBatchSize: 8, preferredBatchSizes: [16] }, /preferred batch size 16/],
  ])('refuses bad options %o', (opts, why) => {
    expect(() => tritonConfig(io('gpt2-tiny'), { name: 'gpt2', ...(opts as object) })).toThrow(why);
  });

  it('refuses max_batch_size > 0 when the tensors do not share a batch dim, naming the tensor', () => {
    const spec: TritonModelIo = { inputs: [{ name: 'ids', dtype: 'int64', shape: [1, 'seq'] }], outputs: [{ name: 'y', dtype: 'float32', shape: [1, 'seq'] }] };
    expect(tritonConfig(spec, { name: 'm' }).maxBatchSize).toBe(0);
    expect(() => tritonConfig(spec, { name: 'm', maxBatchSize: 4 })).toThrow(/input 'ids' has a fixed first dim \(1\); use max_batch_size 0/);
    expect(() => tritonConfig({ ...spec, inputs: [{ name: 'q', dtype: 'float8e4m3fn', shape: [2] }] }, { name: 'm' })).toThrow(TritonConfigError);
    expect(() => tritonConfig({ ...spec, outputs: [{ name: 'z', dtype: 'float32', shape: null }] }, { name: 'm' })).toThrow(/output 'z': unknown rank/);
  });

  it('quotes names that need escaping and reads them back', () => {
    const plan = tritonConfig({ inputs: [{ name: 'a "b"\\c', dtype: 'bool', shape: ['n'] }], outputs: [{ name: 'ö/x:0', dtype: 'int32', shape: ['n'] }] }, { name: 'm' });
    const c = parse(plan.text);
    expect(list(c, 'input')[0].name).toBe('a "b"\\c');
    expect(list(c, 'output')[0].name).toBe('ö/x:0');
    expect(quoteText('tab\there')).toBe('"tab\\there"');
  });

  it('writes serving notes with a valid sample request for the model', () => {
    const plan = tritonConfig(io('llama-tiny-kv'), { name: 'llama' });
    const shapes = Object.fromEntries(io('llama-tiny-kv').inputs.map((t) => [t.name, t.shape ?? []]));
    const s = tritonServingFiles(plan, shapes, 'llama-tiny-kv.onnx');
    expect(s.readme).toMatch(/tritonserver --model-repository=\/models/);
    expect(s.readme).toMatch(/localhost:8000\/v2\/models\/llama\/infer/);
    expect(s.readme).toMatch(/perf_analyzer -m llama/);
    expect(s.readme).toMatch(/stateless/);
    expect(s.readme).toMatch(/\| `past_key_values\.0\.key` \| TYPE_FP32 \| \[batch_size, 2, past_sequence_length, 16\] \| \[-1, 2, -1, 16\] \|/);
    const req = s.sampleRequest as { inputs: Array<{ name: string; datatype: string; shape: number[]; data: number[] }> };
    expect(req.inputs.find((t) => t.name === 'input_ids')).toEqual({ name: 'input_ids', datatype: 'INT64', shape: [1, 4], data: [1, 2, 3, 4] });
    expect(req.inputs.find((t) => t.name === 'past_key_values.1.value')).toMatchObject({ shape: [1, 2, 0, 16], data: [] });
  });
});

describe('parseTextFormat (strict)', () => {
  it('reads comments, lists, nested messages, <> blocks, separators and string concatenation', () => {
    const c = parse(`# top
name: "a" "b"
max_batch_size: 4;
input [ { name: "x", data_type: TYPE_FP32, dims: [ 2, -1 ] }, < name: 'y' data_type: TYPE_BOOL dims: 1 dims: 2 > ]
parameters { key: "k" value: { string_value: "v\\n" } }
optimization: { graph { level: -1 } }
`);
    expect(c).toEqual({
      name: 'ab',
      max_batch_size: 4,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [2, -1] }, { name: 'y', data_type: 'TYPE_BOOL', dims: [1, 2] }],
      parameters: [{ key: 'k', value: { string_value: 'v\n' } }],
      optimization: { graph: { level: -1 } },
    });
  });

  it.each([
    ['name: "a"\nmax_batch: 3\n', /config.pbtxt:2:1: ModelConfig: unknown field 'max_batch' in ModelConfig/],
    ['input [ { name: "x" data_type: TYPE_FLOAT } ]', /1:32: .*data_type' must be one of TYPE_INVALID/],
    ['max_batch_size: 1.5', /max_batch_size' must be an integer/],
    ['max_batch_size: 99999999999', /out of int32 range/],
    ['name: "a"\nname: "b"', /2:1: name: 'name' is set twice/],
    ['name: ["a"]', /not repeated/],
    ['name "a"', /expected ':' after scalar field/],
    ['dynamic_batching { max_queue_delay_microseconds: -5 }', /must not be negative/],
    ['input [ { name: "x" }', /missing '}'|expected/],
    ['name: "open', /unterminated string/],
    ['instance_group [ { kind: KIND_GPU count: 1 } ] @', /unexpected character '@'/],
    ['optimization { graph: 3 }', /expected '\{' for message Graph/],
  ])('refuses %j', (text, why) => {
    expect(() => parse(text)).toThrow(TextFormatError);
    expect(() => parse(text)).toThrow(why);
  });
});
