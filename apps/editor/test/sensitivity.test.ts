/**
 * The INT8 sensitivity overlay driven like a user, headless: the model service in process (the same
 * ModelHost the worker wraps, onnxruntime-web on wasm). Open kjv-llama → pick the sensitivity overlay
 * (random data: the warning must be there) → every MatMul the quantize step would see (after the
 * workflow's fusions) has a score, on the graph's heat map through provenance and rolled up on the
 * closed blocks; cancel stops a run; text calibration needs a tokenizer; then measure → keep list →
 * quantize: "apply" writes the keep list into the workflow and the run quantizes the rest.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, type Model } from '@fuselab/graph-core';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { RANDOM_DATA_WARNING } from '@fuselab/gpu-runtime';
import { passChain } from '../src/workflow/document.ts';
import { QUANTIZE_KIND, quantizeStep } from '../src/workflow/keep-list.ts';
import { createEditorStore, SENSITIVITY_LABEL, type EditorStore } from '../src/store/editor-store.ts';
import { localLayoutService, localModelService } from '../src/worker/services.ts';
import { assetsBeside } from '../src/runtime/assets.ts';
import { KJV_LLAMA, readBytes, REPO } from './helpers.ts';

const diskFetcher = async (url: string) => {
  try { return readBytes(join(REPO, url.replace(/^\//, ''))); } catch { return null; }
};

const until = (store: EditorStore, f: (s: ReturnType<EditorStore['getState']>) => boolean, ms = 30_000) => new Promise<void>((resolve, reject) => {
  if (f(store.getState())) return resolve();
  const t = setTimeout(() => { un(); reject(new Error('timed out waiting for the store')); }, ms);
  const un = store.subscribe((s) => { if (f(s)) { clearTimeout(t); un(); resolve(); } });
});

/** The MatMuls quantize-qdq can take: constant 2-D weights (the LM head included). */
function quantizableMatMuls(m: Model): string[] {
  return m.graph.nodes.filter((n) => n.opType === 'MatMul' && n.inputs[1] && (m.graph.initializers.get(n.inputs[1].name)?.initializer?.dims.length === 2)).map((n) => n.name);
}
const original = () => loadModel(readBytes(KJV_LLAMA), { file: KJV_LLAMA });
/** kjv-llama after the default workflow: what a quantize-qdq step at the chain's end sees. */
const fused = () => runPasses(original(), workflowSteps(defaultWorkflow(), PASSES)).model;

describe('INT8 sensitivity overlay (headless user, model host in process)', () => {
  const store = createEditorStore({ model: localModelService(), layout: localLayoutService() });
  const a = () => store.getState().actions;

  it('scores every quantizable MatMul on random data, loudly flagged, into the heat map', async () => {
    await a().open({ kind: 'bytes', bytes: readBytes(KJV_LLAMA), name: 'kjv-llama/model.onnx' });
    const stages: string[] = [];
    const un = store.subscribe((s) => { const p = s.sensitivity.progress; if (p && stages.at(-1) !== p.stage) stages.push(p.stage); });
    await a().setOverlay('sensitivity');
    un();
    const s = store.getState();
    expect(s.sensitivity.state).toBe('done');
    const r = s.sensitivity.result;
    expect(r?.source).toBe('random');
    expect(r?.warning).toBe(RANDOM_DATA_WARNING);
    expect(stages.some((x) => /calibrating/.test(x))).toBe(true);
    expect(stages.some((x) => /one layer at a time/.test(x))).toBe(true);

    // measured on the model the quantize step sees: the default workflow's result (packed QKV, fused norms)
    const expectedFused = quantizableMatMuls(fused());
    expect(expectedFused.length).toBe(21);
    expect(r?.measured.passes).toBe(defaultWorkflow().passes.length);
    expect(r?.measured.nodes).toBe(48);
    const scored = new Set(r?.scores.map((x) => x.node));
    expect([...scored].sort()).toEqual([...expectedFused].sort());
    for (const x of r?.scores ?? []) expect(Number.isFinite(x.score) && x.score >= 0).toBe(true);
    expect((r?.scores[0].score ?? 0)).toBeGreaterThan(0);
    // a packed QKV MatMul stands for the three projections of the opened graph
    const qkv = r?.scores.find((x) => /qkv_proj/.test(x.node));
    expect(qkv?.sources.filter((n) => /[qkv]_proj\/MatMul$/.test(n)).sort()).toEqual(['/model/layers.0/self_attn/k_proj/MatMul', '/model/layers.0/self_attn/q_proj/MatMul', '/model/layers.0/self_attn/v_proj/MatMul'].map((n) => n.replace('layers.0', qkv?.node.match(/layers\.\d/)?.[0] ?? '')));
    // the calibrated ranges come along (what quantize-qdq needs), keyed by the fused model's activations
    const ranges = JSON.parse(r?.calibration ?? '{}') as Record<string, [number, number]>;
    expect(Object.keys(ranges).length).toBeGreaterThan(5);
    expect(Object.keys(ranges).some((k) => /SkipSimplifiedLayerNormalization_fused/.test(k))).toBe(true);
    // on the opened graph every quantizable MatMul gets its (fused) node's score
    const expected = quantizableMatMuls(original());
    expect(expected.length).toBe(29);

    // the overlay: the warning as its note, per-node values, and heat on the drawn graph with blocks rolled up
    expect(s.overlay.kind).toBe('sensitivity');
    expect(s.overlay.label).toBe(SENSITIVITY_LABEL);
    expect(s.overlay.note).toMatch(/RANDOM DATA/);
    expect([...(s.overlay.values?.keys() ?? [])].sort()).toEqual([...expected].sort());
    expect(s.overlay.values?.get(qkv?.sources.find((n) => /q_proj/.test(n)) as string)).toBe(qkv?.score);
    const p = s.panes.main;
    const heat = p.heat as Map<string, number>;
    for (const name of expected) expect(heat.get(p.view?.nodeByName.get(name)?.id as string)).toBe(s.overlay.values?.get(name));
    const blocks = [...(p.hierarchy?.groups.keys() ?? [])].filter((g) => heat.has(g));
    expect(blocks.length).toBeGreaterThan(0);
    expect(s.toasts.some((t) => /RANDOM/.test(t.text))).toBe(true);

    // switching overlays away and back reuses the scores (no second run)
    await a().setOverlay('none');
    expect(store.getState().panes.main.heat).toBeNull();
    await a().setOverlay('sensitivity');
    expect(store.getState().sensitivity.result).toBe(r);
    expect(store.getState().panes.main.heat?.size).toBe(heat.size);
  }, 30_000);

  it('cancel stops a run between layers', async () => {
    const run = a().runSensitivity();
    await until(store, (s) => (s.sensitivity.progress?.done ?? 0) >= 1 && /one layer/.test(s.sensitivity.progress?.stage ?? ''));
    a().cancelSensitivity();
    await run;
    expect(store.getState().sensitivity.state).toBe('cancelled');
    expect(store.getState().sensitivity.error).toBeNull();
  }, 30_000);

  it('calibrates on text with the model\'s tokenizer: no warning', async () => {
    a().setCalibrationText({ name: 'kjv-valid.txt', text: readFileSync(join(REPO, 'examples/data/kjv-valid.txt'), 'utf8').slice(0, 5000) });
    await a().runSensitivity();
    expect(store.getState().sensitivity.state).toBe('cancelled'); // refused (no tokenizer yet): the last state stands
    expect(store.getState().toasts.at(-1)?.text).toMatch(/tokenizer\.json/);
    a().setAssets(await assetsBeside('/examples/models/kjv-llama/model.onnx', diskFetcher));
    await a().runSensitivity({ batches: 1 });
    const s = store.getState();
    expect(s.sensitivity.state).toBe('done');
    expect(s.sensitivity.result?.source).toBe('text');
    expect(s.sensitivity.result?.warning).toBeNull();
    expect(s.overlay.note).toBeUndefined();
  }, 30_000);

  it('applies the keep list to the workflow: quantize-qdq keeps the most sensitive in float, the run quantizes the rest', async () => {
    const s0 = store.getState();
    const r = s0.sensitivity.result;
    expect(r?.source).toBe('text');
    const top = r?.scores.slice(0, 3).map((x) => x.node) ?? [];
    const before = s0.flow.history.present;
    a().applyKeepList(3);
    const doc = store.getState().flow.history.present;
    const q = quantizeStep(doc);
    expect(q?.params).toMatchObject({ exclude: top, calibration: r?.calibration, lmHead: true, include: [] });
    expect(passChain(doc).at(-1)?.id).toBe(q?.id);
    expect(store.getState().flow.selected).toEqual([q?.id]);
    expect(store.getState().toasts.at(-1)?.text).toMatch(/quantize-qdq added at the end of the chain: 3 layers kept in float, 18 to INT8; run the workflow/);

    // quantize: the step quantizes every scored MatMul but the three, and validation holds it to int8-qdq
    await a().runFlow();
    const s = store.getState();
    expect(s.flow.statuses[q?.id as string]).toMatchObject({ state: 'done', stat: 'quantized 18 MatMul' });
    const g = s.optimized;
    expect(g?.nodes.filter((n) => n.op === 'QuantizeLinear').length).toBeGreaterThan(5);
    for (const name of top) expect(g?.nodeByName.get(name)?.op).toBe('MatMul');
    const validate = doc.nodes.find((n) => n.kind === 'validate') as { id: string };
    expect(s.flow.statuses[validate.id].state, s.flow.statuses[validate.id].error).toBe('done');
    expect(s.flow.validation?.tolerance).toBe('int8-qdq');
    expect(s.flow.validation?.passed).toBe(true);
    expect(s.engine.manifest?.precision).toEqual({ method: 'int8-qdq', nodes: Object.fromEntries(top.map((n) => [n, 'fp32'])) });

    // applying again updates the same step; undo takes each apply back whole
    a().applyKeepList(1);
    expect(quantizeStep(store.getState().flow.history.present)?.params.exclude).toEqual(top.slice(0, 1));
    a().undo();
    expect(quantizeStep(store.getState().flow.history.present)?.params.exclude).toEqual(top);
    a().undo();
    expect(store.getState().flow.history.present).toBe(before);
    expect(store.getState().flow.history.present.nodes.some((n) => n.kind === QUANTIZE_KIND)).toBe(false);
  }, 60_000);

  it('refuses to apply scores measured on another workflow', () => {
    const doc = store.getState().flow.history.present;
    const gelu = doc.nodes.find((n) => n.kind === 'pass:fuse-gelu') as { id: string };
    a().edit({ type: 'set-enabled', node: gelu.id, enabled: false });
    a().applyKeepList(2);
    expect(store.getState().toasts.at(-1)?.text).toMatch(/workflow changed since sensitivity was measured/);
    expect(quantizeStep(store.getState().flow.history.present)).toBeNull();
    a().undo();
  });
});
