import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, Tensor, type Model, type Value } from '@fuselab/graph-core';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { compareModels, CompareError, FP32_EXACT, matchValues, parseRecordedInputs, toleranceByName } from '../src/index.ts';

const fixtures = new URL('../../../examples/fixtures/', import.meta.url).pathname;
const load = (name: string) => loadModel(readFileSync(join(fixtures, `${name}.onnx`)));
const optimize = (m: Model) => runPasses(m.clone(), workflowSteps(defaultWorkflow(), PASSES));

/** Scales a float initializer in place (tensors are shared by clone(), so give it new storage). */
function perturb(v: Value, f: (x: number, i: number) => number): void {
  const t = v.initializer as Tensor;
  v.initializer = Tensor.from('float32', t.dims, Float32Array.from(t.data() as Float32Array, f), v.name);
}

/** A 2-D float weight read by exactly one node in the middle of the graph, and that node. */
function midWeight(m: Model) {
  const nodes = m.graph.nodes;
  const cands = [...m.graph.initializers.values()].filter((v) => v.initializer?.dtype === 'float32' && v.initializer.dims.length === 2 && v.uses.length === 1);
  cands.sort((a, b) => Math.abs(nodes.indexOf(a.uses[0].node) / nodes.length - 0.5) - Math.abs(nodes.indexOf(b.uses[0].node) / nodes.length - 0.5));
  return { weight: cands[0], consumer: cands[0].uses[0].node };
}

describe('compareModels', () => {
  it('passes identical models exactly, intermediates included', async () => {
    const m = load('gpt2-tiny-kv');
    const again = loadModel(serializeModelToBytes(m));
    const r = await compareModels({ label: 'A', model: m }, { label: 'B', model: again }, { tolerance: FP32_EXACT, mark: 'all' });
    expect(r.passed).toBe(true);
    expect(r.outputs.map((o) => [o.name, o.status, o.maxAbsErr])).toEqual(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value'].map((n) => [n, 'pass', 0]));
    expect(r.inputs).toMatchObject({ source: 'random', seed: 1, dims: { batch_size: 1, sequence_length: 8, past_sequence_length: 4 } });
    expect(r.intermediates.ran).toBe(true);
    expect(r.intermediates.matched.name).toBe(r.intermediates.valuesA);
    expect(r.intermediates.compared).toBe(r.intermediates.valuesA);
    expect(r.firstDivergence).toBeNull();
  });

  it('passes an optimized model against its original, matching fused values through provenance and consumers', async () => {
    const m = load('gpt2-tiny');
    const rec = optimize(m);
    expect(rec.model.graph.nodeCount).toBeLessThan(100);
    const withProv = await compareModels({ label: 'A', model: m }, { label: 'B', model: rec.model, provenance: rec.provenance }, { mark: 'all' });
    expect(withProv.passed).toBe(true);
    expect(withProv.firstDivergence).toBeNull();
    expect(withProv.intermediates.matched.provenance).toBeGreaterThan(0);
    expect(withProv.intermediates.failed).toBe(0);
    // no provenance: shared consumers still map fused outputs back
    const plain = await compareModels({ label: 'A', model: m }, { label: 'B', model: rec.model }, { mark: 'all' });
    expect(plain.passed).toBe(true);
    expect(plain.intermediates.matched.consumer).toBeGreaterThan(0);
    expect(plain.firstDivergence).toBeNull();
    // auto mode does not expose intermediates when the outputs pass
    const auto = await compareModels({ label: 'A', model: m }, { label: 'B', model: rec.model });
    expect(auto.intermediates.ran).toBe(false);
  });

  it('names the consumer of a perturbed mid-graph weight as the first divergent node', async () => {
    const m = load('gpt2-tiny');
    const broken = m.clone();
    const { weight, consumer } = midWeight(broken);
    // not a uniform shift: LayerNorm would cancel that
    perturb(weight, (x, i) => x + 0.1 * (i % 7));
    const r = await compareModels({ label: 'A', model: m }, { label: 'B', model: broken });
    expect(r.passed).toBe(false);
    expect(r.outputs[0]).toMatchObject({ name: 'logits', status: 'fail' });
    expect(r.intermediates.ran).toBe(true);
    const d = r.firstDivergence!;
    expect(d.nodeA).toEqual({ name: consumer.name, opType: consumer.opType, domain: consumer.domain });
    expect(d.nodeB.name).toBe(consumer.name);
    expect(d.name).toBe(consumer.outputs[0]!.name);
    expect(d.match).toBe('name');
    expect(d.matchedBefore).toBeGreaterThan(10);
  });

  it('finds a broken fused node in an optimized model through provenance', async () => {
    const m = load('gpt2-tiny');
    const rec = optimize(m);
    // a fused node whose output stands for one of A's values, with a float weight to break
    const matched = [...matchValues(m, rec.model, rec.provenance).values()].filter((x) => x.how !== 'name');
    const target = matched.map((x) => x.b.producer!).find((n) => n.inputs.some((v) => v?.initializer?.dtype === 'float32' && v.initializer.size > 1))!;
    expect(target.name).toMatch(/_fused$/);
    const w = target.inputs.find((v) => v?.initializer?.dtype === 'float32' && v.initializer.size > 1)!;
    perturb(w, (x, i) => x + 0.1 * (i % 5));
    const r = await compareModels({ label: 'A', model: m }, { label: 'B', model: rec.model, provenance: rec.provenance });
    expect(r.passed).toBe(false);
    const d = r.firstDivergence!;
    expect(d.nodeB).toEqual({ name: target.name, opType: target.opType, domain: target.domain });
    expect(d.match).not.toBe('name');
    expect(d.nameB).toMatch(/_fused_out0$/);
    // A's side is one of the nodes the fused node replaced
    expect(rec.provenance.find((p) => p.node === target.name)!.sources).toContain(d.nodeA.name);
  });

  it('uses recorded inputs, and refuses models with different inputs', async () => {
    const m = load('gpt2-tiny');
    const io = JSON.parse(readFileSync(join(fixtures, 'gpt2-tiny.io.json'), 'utf8'));
    const inputs = parseRecordedInputs(io, 'gpt2-tiny.io.json');
    expect(inputs.input_ids.dims).toEqual([2, 8]);
    const r = await compareModels({ label: 'A', model: m }, { label: 'B', model: m }, { inputs, tolerance: FP32_EXACT });
    expect(r.passed).toBe(true);
    expect(r.inputs).toMatchObject({ source: 'recorded', seed: null, dims: null, shapes: { input_ids: { dtype: 'int64', dims: [2, 8] } } });
    await expect(compareModels({ label: 'a.onnx', model: m }, { label: 'b.onnx', model: load('gpt2-tiny-kv') })).rejects.toThrow(/only b.onnx has 'position_ids'/);
    await expect(compareModels({ label: 'A', model: m }, { label: 'B', model: m }, { inputs: { input_ids: inputs.input_ids } })).rejects.toThrow(/recorded inputs lack 'attention_mask'/);
  });

  it('matches values by name first and never pairs one B value twice', () => {
    const m = load('bert-tiny');
    const matches = matchValues(m, m.clone());
    const bs = [...matches.values()].map((x) => x.b);
    expect(new Set(bs).size).toBe(bs.length);
    expect([...matches.values()].every((x) => x.how === 'name' && x.a.name === x.b.name)).toBe(true);
  });
});

describe('parseRecordedInputs and tolerances', () => {
  it('reads number arrays (int64 as numbers or strings) and base64', () => {
    const t = parseRecordedInputs({ ids: { dtype: 'int64', dims: [1, 3], data: [1, '2', 3] }, x: { dtype: 'float32', dims: [2], data: 'AACAPwAAAEA=' } }, 'in.json');
    expect(Array.from(t.ids.data as BigInt64Array)).toEqual([1n, 2n, 3n]);
    expect(Array.from(t.x.data as Float32Array)).toEqual([1, 2]);
  });

  it.each([
    [[], /in.json: \(top level\): expected an object/],
    [{ ids: { dtype: 'int65', dims: [1], data: [1] } }, /in.json: ids.dtype: unsupported dtype "int65"/],
    [{ ids: { dtype: 'int64', dims: [2], data: [1] } }, /ids.data: has 1 elements but dims \[2\] need 2/],
    [{ ids: { dtype: 'int64', dims: [-1], data: [] } }, /ids.dims: expected an array of non-negative integers/],
    [{ ids: { dtype: 'int64', dims: [1], data: [1.5] } }, /ids.data\[0\]: expected an integer/],
    [{ inputs: { ids: { dtype: 'float32', dims: [1], data: 'AAA' } } }, /inputs.ids.data/],
  ])('refuses bad recorded inputs %j', (json, why) => {
    expect(() => parseRecordedInputs(json, 'in.json')).toThrow(CompareError);
    expect(() => parseRecordedInputs(json, 'in.json')).toThrow(why);
  });

  it('names tolerances and lists them on a typo', () => {
    expect(toleranceByName('fp32-fusion')).toMatchObject({ atol: 1e-4, rtol: 1e-3 });
    expect(toleranceByName('fp16').name).toBe('fp16');
    expect(() => toleranceByName('fp33')).toThrow(/unknown tolerance 'fp33' \(have: fp32-exact, fp32-fusion/);
  });
});
