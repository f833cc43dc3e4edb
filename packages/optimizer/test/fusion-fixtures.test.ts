/**
 * The norm, GELU and bias fusions on every transformer fixture of examples/fixtures (GPT-2, Llama,
 * BERT; TorchScript and dynamo exports; with and without KV inputs; external data): the expected
 * fused ops per architecture, node counts, and outputs checked against the original model in
 * onnxruntime-web and against the PyTorch-recorded io.json outputs.
 *
 * The passes run on the raw exports — no constant or shape folding. TorchScript files carry no
 * intermediate shapes, and Skip*Normalization and the Conv1D unwrap must prove theirs, so those
 * passes run graph-core's shape inference themselves (parameter `inferShapes`, default on: an
 * analysis that only fills in types). A second block turns it off and checks that the shape-free
 * fusions still happen and the others say why not.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { compareTensors, FP32_FUSION, hostFromBase64, runModel, validateModels, type HostTensor } from '@fuselab/gpu-runtime';
import { runPasses, type OptimizeRecord, type PassStep } from '../src/pass-manager.ts';
import { eliminateDeadCode } from '../src/passes/eliminate-dead-code.ts';
import { fuseBias } from '../src/passes/fuse-bias.ts';
import { fuseGelu } from '../src/passes/fuse-gelu.ts';
import { fuseLayerNorm } from '../src/passes/fuse-layer-norm.ts';
import { fuseRmsNorm } from '../src/passes/fuse-rms-norm.ts';
import { fuseSkipLayerNorm } from '../src/passes/fuse-skip-layer-norm.ts';

const FIXTURES = new URL('../../../examples/fixtures/', import.meta.url).pathname;

interface ManifestEntry {
  name: string;
  file: string;
  io: string;
  architecture: string;
  exporter: string;
  has_kv: boolean;
  config: { layers: number };
}
interface IoRecord {
  inputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  outputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  tolerance: { atol: number; rtol: number };
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { fixtures: ManifestEntry[] };
const transformers = manifest.fixtures.filter((f) => ['gpt2', 'llama', 'bert'].includes(f.architecture));

/** The pipeline in `DEFAULT_PASS_ORDER` order, these passes only (parameters at their defaults, or shape inference off). */
function steps(inferShapes: boolean): PassStep[] {
  return [fuseBias, fuseLayerNorm, fuseRmsNorm, fuseSkipLayerNorm, fuseGelu, eliminateDeadCode].map((pass) => ({
    pass,
    ...('inferShapes' in pass.params ? { params: { inferShapes } } : {}),
  }));
}

/**
 * What each architecture's 2-layer fixture must come out as (qualified op type → count), derived
 * from the module code:
 * - GPT-2 (pre-LN): ln_1 of layer 0 normalizes wte + wpe (wpe is [1, S, H] without KV: a broadcast
 *   skip), then every norm reads `residual + projection(+bias)`: 5 SkipLayerNormalization, 4 of them
 *   taking a c_proj bias and 4 emitting the residual sum (ln_f's is read by nothing else); both
 *   gelu_new → FastGelu with the c_fc bias; all 8 Conv1D Gemms → MatMul.
 * - Llama (pre-RMSNorm): layer 0's input_layernorm reads the embedding alone (plain
 *   SimplifiedLayerNormalization), the other 4 read a residual Add (Skip…, 3 emitting the sum); SiLU
 *   → QuickGelu; no biases.
 * - BERT (post-LN): the embedding norm reads (word + type) + position ([1, S, H]: broadcast skip);
 *   the 4 layer norms read `dense(+bias) + residual`, bias absorbed; no residual sum is read again;
 *   both erf GELUs take the intermediate dense bias (BiasGelu; dynamo's ONNX Gelu via fuse-bias).
 */
const EXPECTED_OPS: Record<string, Record<string, number>> = {
  gpt2: { 'com.microsoft::SkipLayerNormalization': 5, 'com.microsoft::FastGelu': 2, LayerNormalization: 0, Gemm: 0, Tanh: 0, MatMul: 13 },
  llama: { SimplifiedLayerNormalization: 1, 'com.microsoft::SkipSimplifiedLayerNormalization': 4, 'com.microsoft::QuickGelu': 2, Sigmoid: 0, ReduceMean: 0, Sqrt: 0 },
  bert: { 'com.microsoft::SkipLayerNormalization': 5, 'com.microsoft::BiasGelu': 2, LayerNormalization: 0, Erf: 0, Gelu: 0 },
};
/** Fused nodes with a bias input / with output 3 (the residual sum) read, per architecture. */
const EXPECTED_BIAS_INPUTS: Record<string, number> = { gpt2: 4 + 2, llama: 0, bert: 4 + 2 };
const EXPECTED_RESIDUAL_OUTPUTS: Record<string, number> = { gpt2: 4, llama: 3, bert: 0 };

/** Node counts before → after, per fixture (measured; any change in a pass shows up here). */
const EXPECTED_NODES: Record<string, [number, number]> = {
  'gpt2-tiny': [521, 294],
  'gpt2-tiny.dynamo': [106, 72],
  'gpt2-tiny-kv': [514, 287],
  'gpt2-tiny-kv.dynamo': [117, 83],
  'gpt2-tiny-external': [521, 294],
  'llama-tiny': [626, 569],
  'llama-tiny.dynamo': [164, 128],
  'llama-tiny-kv': [635, 578],
  'llama-tiny-kv.dynamo': [187, 151],
  'bert-tiny': [207, 182],
  'bert-tiny.dynamo': [78, 67],
};

/** Loads a fixture with its tensors in memory (external data read in), so it can be serialized for onnxruntime. */
function load(f: ManifestEntry): Model {
  if (!f.file.includes('/')) return loadModel(readFileSync(join(FIXTURES, f.file)), { file: f.file });
  const handle = openModelFile(join(FIXTURES, f.file));
  try {
    for (const v of handle.model.graph.initializers.values()) v.initializer?.materialize();
    return handle.model;
  } finally {
    handle.close();
  }
}

function histogram(m: Model): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of m.graph.nodes) h[n.qualifiedType] = (h[n.qualifiedType] ?? 0) + 1;
  return h;
}

const decode = (rec: IoRecord['inputs']) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, hostFromBase64(v)])) as Record<string, HostTensor>;

function optimize(f: ManifestEntry, inferShapes: boolean): { original: Model; model: Model; record: OptimizeRecord } {
  const model = load(f);
  const original = model.clone();
  const record = runPasses(model, steps(inferShapes));
  return { original, model, record };
}

describe('norm / GELU / bias fusions on every transformer fixture', () => {
  it('covers every GPT-2, Llama and BERT fixture of the manifest', () => {
    expect(transformers.map((f) => f.name).sort()).toEqual(Object.keys(EXPECTED_NODES).sort());
  });

  it.each(transformers.map((f) => [f.name, f] as const))('%s: norms and GELUs fused, outputs match the original and PyTorch', async (_name, f) => {
    const { original, model, record } = optimize(f, true);
    const hist = histogram(model);
    for (const [op, n] of Object.entries(EXPECTED_OPS[f.architecture])) expect(hist[op] ?? 0, `${op} in ${f.name}`).toBe(n);
    const fused = model.graph.nodes.filter((n) => n.domain === 'com.microsoft');
    const withBias = fused.filter((n) => ['BiasGelu'].includes(n.opType) || (n.opType === 'FastGelu' && n.inputs[1]) || (n.opType === 'SkipLayerNormalization' && n.inputs[4]) || (n.opType === 'SkipSimplifiedLayerNormalization' && n.inputs[3]));
    expect(withBias.length, 'fused nodes with a bias input').toBe(EXPECTED_BIAS_INPUTS[f.architecture]);
    expect(fused.filter((n) => n.opType.startsWith('Skip') && (n.outputs[3]?.useCount ?? 0) > 0).length, 'Skip* nodes whose residual output is read').toBe(EXPECTED_RESIDUAL_OUTPUTS[f.architecture]);
    expect(model.graph.nodes.some((n) => n.opType === 'FusedMatMul')).toBe(false);
    expect([record.nodesBefore, record.nodesAfter]).toEqual(EXPECTED_NODES[f.name]);
    expect(record.diagnostics.filter((d) => d.kind === 'rejected')).toEqual([]);

    const dims = { batch_size: 2, sequence_length: 5, past_sequence_length: 3 };
    const report = await validateModels(original, model, { tolerance: FP32_FUSION, inputSpec: { dims } });
    expect(report.passed, report.outputs.map((o) => `${o.name}: max abs ${o.maxAbsErr}, cos ${o.cosine}`).join('; ')).toBe(true);

    const io = JSON.parse(readFileSync(join(FIXTURES, f.io), 'utf8')) as IoRecord;
    const got = await runModel(serializeModelToBytes(model), decode(io.inputs));
    const tol = { name: 'pytorch-recorded', atol: io.tolerance.atol, rtol: io.tolerance.rtol };
    for (const [name, want] of Object.entries(decode(io.outputs))) {
      const c = compareTensors(name, want, got[name], tol);
      expect(c.passed, `${f.name} ${name} vs PyTorch: max abs ${c.maxAbsErr}`).toBe(true);
    }
  });

  it('with shape inference off: dynamo exports (value_info) fuse fully; TorchScript ones fuse what needs no shapes and say why not for the rest', async () => {
    const byName = new Map(transformers.map((f) => [f.name, f]));
    const dyn = optimize(byName.get('gpt2-tiny.dynamo') as ManifestEntry, false);
    expect(histogram(dyn.model)['com.microsoft::SkipLayerNormalization']).toBe(5);

    const gpt2 = optimize(byName.get('gpt2-tiny') as ManifestEntry, false);
    const h = histogram(gpt2.model);
    expect([h['com.microsoft::FastGelu'], h.LayerNormalization, h.Gemm]).toEqual([2, 5, 8]);
    const reasons = new Set(gpt2.record.diagnostics.filter((d) => d.kind === 'rejected').map((d) => d.message.replace(/\(.*\)/, '(…)')));
    expect([...reasons].sort()).toEqual([
      'shapes around the Gemm are unknown (…): run shape inference first',
      'shapes of the residual Add are unknown (…): run shape inference first',
    ]);

    const llama = optimize(byName.get('llama-tiny') as ManifestEntry, false);
    const hl = histogram(llama.model);
    expect([hl.SimplifiedLayerNormalization, hl['com.microsoft::QuickGelu']]).toEqual([5, 2]);
    expect(llama.record.diagnostics.filter((d) => d.kind === 'rejected').map((d) => d.message)).toContain(
      "SimplifiedLayerNormalization reads Cast(Add(…)) and the sum's element type is unknown, so the Cast may not be a no-op: run shape inference first",
    );
    const r = await validateModels(gpt2.original, gpt2.model, { tolerance: FP32_FUSION });
    expect(r.passed).toBe(true);
  });
});
