/**
 * The INT8 sensitivity overlay driven like a user, headless: the model service in process (the same
 * ModelHost the worker wraps, onnxruntime-web on wasm). Open kjv-llama → pick the sensitivity overlay
 * (random data: the warning must be there) → every quantizable MatMul has a score, on the graph's
 * heat map and rolled up on the closed blocks; cancel stops a run; text calibration needs a tokenizer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { RANDOM_DATA_WARNING } from '@fuselab/gpu-runtime';
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

/** The MatMuls quantize-qdq can take in kjv-llama: constant 2-D weights (the LM head included). */
function quantizableMatMuls(): string[] {
  const m = loadModel(readBytes(KJV_LLAMA), { file: KJV_LLAMA });
  return m.graph.nodes.filter((n) => n.opType === 'MatMul' && n.inputs[1] && (m.graph.initializers.get(n.inputs[1].name)?.initializer?.dims.length === 2)).map((n) => n.name);
}

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

    const expected = quantizableMatMuls();
    expect(expected.length).toBeGreaterThan(20);
    const scored = new Set(r?.scores.map((x) => x.node));
    expect([...scored].sort()).toEqual([...expected].sort());
    for (const x of r?.scores ?? []) expect(Number.isFinite(x.score) && x.score >= 0).toBe(true);
    expect((r?.scores[0].score ?? 0)).toBeGreaterThan(0);

    // the overlay: the warning as its note, per-node values, and heat on the drawn graph with blocks rolled up
    expect(s.overlay.kind).toBe('sensitivity');
    expect(s.overlay.label).toBe(SENSITIVITY_LABEL);
    expect(s.overlay.note).toMatch(/RANDOM DATA/);
    expect(s.overlay.values?.size).toBe(expected.length);
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
});
