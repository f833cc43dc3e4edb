/**
 * The cleanup pipeline (fold-constants, fold-shapes, eliminate-identity, simplify-chains, CSE, dead
 * code) over every fixture of examples/fixtures/manifest.json, both exporters: node counts must drop,
 * and every result must give onnxruntime-web's outputs bit for bit (fp32-exact) on seeded random
 * inputs and on the recorded inputs, and match PyTorch's recorded outputs within their tolerance.
 * Then the same with a decode profile on the KV fixtures, and the timing on a GPT-2-small-shaped model.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '@fuselab/graph-core';
import { allTensors, openModelFile } from '@fuselab/node-io';
import { compareTensors, FP32_EXACT, hostFromBase64, runModel, validateModels, type HostTensor } from '@fuselab/gpu-runtime';
import { buildGpt2Shaped, GPT2_SMALL } from '@fuselab/examples';
import { serializeModelToBytes } from '@fuselab/graph-core';
import { eliminateDeadCode, runPasses, type PassStep } from '../src/index.ts';
import { eliminateCommonSubexpressions } from '../src/passes/eliminate-common-subexpressions.ts';
import { eliminateIdentity } from '../src/passes/eliminate-identity.ts';
import { foldConstants } from '../src/passes/fold-constants.ts';
import { foldShapes } from '../src/passes/fold-shapes.ts';
import { simplifyChains } from '../src/passes/simplify-chains.ts';
import { parseProfileArg, profileDimValues } from '../src/profiles.ts';
import { expectValid, expectWellFormed } from './cleanup-test-utils.ts';

const FIXTURES = new URL('../../../examples/fixtures/', import.meta.url).pathname;
const GPT2_SMALL_FILE = new URL('../../../examples/generated/gpt2-small.onnx', import.meta.url).pathname;

/** The cleanup pipeline, in the order a workflow runs it (to a fixed point). */
const CLEANUP: PassStep[] = [foldConstants, foldShapes, eliminateIdentity, simplifyChains, eliminateCommonSubexpressions, eliminateDeadCode].map((pass) => ({ pass }));
/** The same passes in the default workflow's order (src/default-workflow.ts): the result must not depend on it. */
const CLEANUP_DEFAULT_ORDER: PassStep[] = [foldConstants, eliminateIdentity, eliminateCommonSubexpressions, simplifyChains, foldShapes, eliminateDeadCode].map((pass) => ({ pass }));

interface FixtureEntry {
  name: string;
  file: string;
  architecture: string;
  exporter: string;
  has_kv: boolean;
  io: string;
  node_count: number;
}
interface IoRecord {
  inputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  outputs: Record<string, { dtype: string; dims: number[]; data: string }>;
  tolerance: { atol: number; rtol: number };
}

const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as { fixtures: FixtureEntry[] };
const decode = (rec: IoRecord['inputs']) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, hostFromBase64(v)])) as Record<string, HostTensor>;

/** Loads a fixture; external data is read through node-io and then inlined for onnxruntime-web. */
function load(entry: FixtureEntry): { model: Model; close: () => void } {
  const path = join(FIXTURES, entry.file);
  if (dirname(entry.file) === '.') return { model: loadModel(readFileSync(path), { file: entry.file }), close: () => {} };
  const f = openModelFile(path);
  return { model: f.model, close: () => f.close() };
}

/** Reads every external/lazy tensor into memory (onnxruntime-web gets the model as one buffer). */
function inline(model: Model): void {
  for (const t of allTensors(model)) t.materialize();
}

interface Row { fixture: string; exporter: string; profile: string; before: number; after: number; rounds: number; ms: number; maxAbsErr: number; vsTorch: number | null }
const rows: Row[] = [];

afterAll(() => {
  if (rows.length === 0) return;
  const line = (r: Row) =>
    `| ${r.fixture.padEnd(22)} | ${r.exporter.padEnd(11)} | ${r.profile.padEnd(7)} | ${String(r.before).padStart(6)} | ${String(r.after).padStart(5)} | ${`${Math.round((100 * r.after) / r.before)}%`.padStart(5)} | ${String(r.rounds).padStart(6)} | ${r.ms.toFixed(0).padStart(5)} | ${r.maxAbsErr === 0 ? '0 (exact)' : r.maxAbsErr.toExponential(1)} | ${r.vsTorch === null ? '-' : r.vsTorch.toExponential(1)} |`;
  console.log(['', '| fixture | exporter | profile | before | after | kept | rounds | ms | ORT before vs after | vs PyTorch |', '|---|---|---|---:|---:|---:|---:|---:|---|---|', ...rows.map(line)].join('\n'));
});

describe('cleanup pipeline on every fixture (validated in onnxruntime-web)', () => {
  it.each(manifest.fixtures.map((f) => [f.name, f] as const))('%s', async (_name, entry) => {
    const { model, close } = load(entry);
    try {
      const original = model.clone();
      const bigBefore = [...model.graph.initializers.values()].filter((v) => v.initializer?.isExternal).length;
      const t0 = performance.now();
      const rec = runPasses(model, CLEANUP);
      const ms = performance.now() - t0;
      expect(rec.nodesBefore).toBe(entry.node_count);
      if (entry.architecture.includes('cnn')) {
        expect(rec.nodesAfter).toBeLessThanOrEqual(rec.nodesBefore); // nothing to clean in a conv net
      } else if (entry.exporter === 'torchscript') {
        expect(rec.nodesAfter, 'torchscript shape arithmetic should mostly fold away').toBeLessThan(rec.nodesBefore * 0.5);
      } else {
        expect(rec.nodesAfter).toBeLessThan(rec.nodesBefore);
      }
      expectWellFormed(model);
      // passes never read weights into memory: external tensors are still external
      expect([...model.graph.initializers.values()].filter((v) => v.initializer?.isExternal).length).toBe(bigBefore);
      // graph interface unchanged
      expect(model.graph.inputs.map((v) => v.name)).toEqual(original.graph.inputs.map((v) => v.name));
      expect(model.graph.outputs.map((v) => v.name)).toEqual(original.graph.outputs.map((v) => v.name));

      inline(original);
      inline(model);
      const io = JSON.parse(readFileSync(join(FIXTURES, entry.io), 'utf8')) as IoRecord;
      const recorded = decode(io.inputs);
      const report = await validateModels(original, model, { tolerance: FP32_EXACT, recorded: [{ name: 'recorded', inputs: recorded }] });
      expect(report.passed, report.outputs.map((o) => `${o.name}: ${o.maxAbsErr}`).join(', ')).toBe(true);
      // and against what PyTorch computed for the recorded inputs
      const got = await runModel(serializeModelToBytes(model), recorded);
      const tol = { name: 'torch-vs-ort-fp32', atol: io.tolerance.atol, rtol: io.tolerance.rtol };
      let vsTorch = 0;
      for (const [name, want] of Object.entries(decode(io.outputs))) {
        const c = compareTensors(name, want, got[name], tol);
        expect(c.passed, `${name} vs PyTorch: max abs ${c.maxAbsErr}`).toBe(true);
        vsTorch = Math.max(vsTorch, c.maxAbsErr);
      }
      rows.push({ fixture: entry.name, exporter: entry.exporter, profile: '-', before: rec.nodesBefore, after: rec.nodesAfter, rounds: rec.rounds, ms, maxAbsErr: Math.max(0, ...report.outputs.map((o) => o.maxAbsErr)), vsTorch });
    } finally {
      close();
    }
  });

  it.each(manifest.fixtures.filter((f) => f.has_kv).map((f) => [f.name, f] as const))('%s with a decode profile (batch 1, one new token)', async (_name, entry) => {
    const { model, close } = load(entry);
    try {
      const original = model.clone();
      const profile = parseProfileArg('decode:input_ids=1x1,1x1,1x1');
      const t0 = performance.now();
      const rec = runPasses(model, CLEANUP, { profile });
      const ms = performance.now() - t0;
      expect(model.graph.inputs.find((v) => v.name === 'input_ids')?.shape).toEqual([1, 1]);
      expectWellFormed(model);
      inline(original);
      inline(model);
      const dims = { ...profileDimValues(original, profile), past_sequence_length: 7 };
      const report = await validateModels(original, model, { tolerance: FP32_EXACT, inputSpec: { dims } });
      expect(report.passed, report.outputs.map((o) => `${o.name}: ${o.maxAbsErr}`).join(', ')).toBe(true);
      rows.push({ fixture: entry.name, exporter: entry.exporter, profile: 'decode', before: rec.nodesBefore, after: rec.nodesAfter, rounds: rec.rounds, ms, maxAbsErr: Math.max(0, ...report.outputs.map((o) => o.maxAbsErr)), vsTorch: null });
    } finally {
      close();
    }
  });
});

describe('cleanup pipeline: pass order', () => {
  it.each(['gpt2-tiny', 'llama-tiny-kv', 'gpt2-tiny-kv.dynamo'])('%s gives the same graph in the default workflow\'s order', async (name) => {
    const entry = manifest.fixtures.find((f) => f.name === name) as FixtureEntry;
    const a = load(entry).model;
    const b = load(entry).model;
    const original = b.clone();
    runPasses(a, CLEANUP);
    runPasses(b, CLEANUP_DEFAULT_ORDER);
    expectWellFormed(b);
    const histogram = (m: Model) => m.graph.nodes.map((n) => n.opType).sort().join(',');
    expect(histogram(b)).toBe(histogram(a));
    await expectValid(original, b);
  });
});

describe('cleanup pipeline performance on a GPT-2-small-shaped model', () => {
  const haveFile = existsSync(GPT2_SMALL_FILE);
  const ci = process.env.CI === 'true';
  if (!haveFile && !ci) {
    console.log(`cleanup-fixtures: SKIPPED the GPT-2-small timing: ${GPT2_SMALL_FILE} is absent (make it with examples/scripts/make_gpt2_small.py)`);
  }

  // In CI the file is never there: the same shape is then built in code, so the timing always runs.
  it.runIf(haveFile || ci)('cleans up in well under 10 s without copying weights', () => {
    const t0 = performance.now();
    const opened = haveFile ? openModelFile(GPT2_SMALL_FILE) : null;
    const model = opened?.model ?? buildGpt2Shaped({ ...GPT2_SMALL, randomWeights: false });
    const loadMs = performance.now() - t0;
    try {
      const namesBefore = new Set(model.graph.initializers.keys());
      const paramBytesBefore = model.parameterStats().bytes;
      const t1 = performance.now();
      const rec = runPasses(model, CLEANUP);
      const ms = performance.now() - t1;
      console.log(`cleanup-fixtures: GPT-2-small (${haveFile ? 'torchscript export' : 'built in code'}): load ${loadMs.toFixed(0)} ms, cleanup ${ms.toFixed(0)} ms, ${rec.nodesBefore} → ${rec.nodesAfter} nodes in ${rec.rounds} rounds`);
      for (const p of rec.passes.filter((x) => x.round === 0)) console.log(`  ${p.name.padEnd(34)} ${p.ms.toFixed(1).padStart(7)} ms  ${p.nodesBefore} → ${p.nodesAfter}`);
      expect(ms).toBeLessThan(5000);
      expect(rec.nodesAfter).toBeLessThan(rec.nodesBefore);
      // folding created no weight-sized constants (Constant nodes became initializers: same bytes)
      const created = [...model.graph.initializers.values()].filter((v) => !namesBefore.has(v.name) && v.producer === null);
      const biggest = Math.max(0, ...created.map((v) => v.initializer?.byteLength ?? 0));
      expect(biggest).toBeLessThanOrEqual(1024 * 1024);
      expect(model.parameterStats().bytes).toBeLessThanOrEqual(paramBytesBefore + 64 * 1024);
    } finally {
      opened?.close();
    }
  });
});
