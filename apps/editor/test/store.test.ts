/**
 * The store driven like a user (open → browse → run the default workflow → diff → undo), headless:
 * the model and layout services run in process instead of in workers.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { createEditorStore, AUTOSAVE_KEY, type EditorStore } from '../src/store/editor-store.ts';
import { localLayoutService, localModelService } from '../src/worker/services.ts';
import { runWorkflow } from '../src/model/run-workflow.ts';
import { passChain } from '../src/workflow/document.ts';
import { KJV_LLAMA, readBytes } from './helpers.ts';

const until = (store: EditorStore, f: (s: ReturnType<EditorStore['getState']>) => boolean, ms = 20_000) => new Promise<void>((resolve, reject) => {
  if (f(store.getState())) return resolve();
  const t = setTimeout(() => { un(); reject(new Error('timed out waiting for the store')); }, ms);
  const un = store.subscribe((s) => { if (f(s)) { clearTimeout(t); un(); resolve(); } });
});

function memoryStorage() {
  const m = new Map<string, string>();
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), map: m };
}

describe('editor store (headless user)', () => {
  it('opens, browses, runs the default workflow, diffs and undoes', async () => {
    const storage = memoryStorage();
    const store = createEditorStore({ model: localModelService(), layout: localLayoutService(), storage });
    const a = store.getState().actions;
    await a.open({ kind: 'bytes', bytes: readBytes(KJV_LLAMA), name: 'kjv-llama/model.onnx' });
    let s = store.getState();
    expect(s.error).toBeNull();
    expect(s.original?.summary.nodeCount).toBe(1105);
    await until(store, (x) => x.panes.main.layoutState.state === 'done');
    expect(store.getState().panes.main.layout?.boxes.length).toBe(store.getState().panes.main.visible?.items.length);

    // open a layer block, then search for q_proj
    a.toggleGroup('main', 'g:model/layers.1');
    expect(store.getState().panes.main.visible?.itemById.get('g:model/layers.1')?.kind).toBe('frame');
    a.setSearch('op:MatMul');
    expect(store.getState().search.hits.length).toBe(38);

    // run the default workflow
    await a.runFlow();
    s = store.getState();
    expect(s.optimized?.summary.nodeCount).toBe(48);
    const chain = passChain(s.flow.history.present);
    const skip = chain.find((n) => n.kind === 'pass:fuse-skip-layer-norm') as { id: string };
    expect(s.flow.statuses[skip.id].state).toBe('done');
    expect(s.flow.statuses[skip.id].stat).toMatch(/fused \d+ SkipSimplifiedLayerNormalization/);
    const attn = chain.find((n) => n.kind === 'pass:fuse-attention') as { id: string };
    expect(s.flow.statuses[attn.id].stat).toMatch(/4 GroupQueryAttention/);
    const mem = s.flow.history.present.nodes.find((n) => n.kind === 'memory-plan') as { id: string };
    expect(s.flow.statuses[mem.id].stat).toMatch(/arena/);

    // the whole-run diff: fused nodes marked, their sources listed, selection synced
    const d = s.diff.data;
    expect(d).not.toBeNull();
    expect(d?.counts.fused).toBeGreaterThan(0);
    const gqa = s.optimized?.nodes.find((n) => n.op === 'GroupQueryAttention');
    expect(d?.after.get(gqa?.id as string)).toBe('fused');
    const srcs = d?.sourcesOf.get(gqa?.id as string) ?? [];
    expect(srcs.length).toBeGreaterThan(10);
    a.select('after', gqa?.id as string);
    s = store.getState();
    expect([...s.panes.before.highlighted]).toEqual(srcs);
    // and back: a source node selects its fused node
    a.select('before', srcs[0]);
    expect(store.getState().panes.after.highlighted.has(gqa?.id as string)).toBe(true);

    // per-step diff
    const step = s.flow.record?.steps.find((x) => x.pass === 'fuse-skip-layer-norm' && x.modified);
    await a.showDiff(step?.seq as number);
    expect(Object.keys(store.getState().diff.data?.byOp ?? {})).toContain('SkipSimplifiedLayerNormalization');

    // overlay hook: per-node numbers roll up to blocks
    a.setMainModel('original');
    a.setHeat('test', new Map([[srcs[0], 5], [srcs[1], 7]]));
    const heat = store.getState().panes.main.heat;
    expect(heat?.get('g:model')).toBe(12);

    // edits, undo/redo and autosave
    const gelu = chain.find((n) => n.kind === 'pass:fuse-gelu') as { id: string };
    a.edit({ type: 'set-param', node: gelu.id, key: 'silu', value: false });
    expect(store.getState().flow.history.present.nodes.find((n) => n.id === gelu.id)?.params.silu).toBe(false);
    a.undo();
    expect(store.getState().flow.history.present.nodes.find((n) => n.id === gelu.id)?.params.silu).toBeUndefined();
    a.redo();
    await new Promise((r) => setTimeout(r, 400));
    expect(storage.map.get(AUTOSAVE_KEY)).toMatch(/"silu": false/);
    // a new store restores the autosaved workflow
    const again = createEditorStore({ model: localModelService(), layout: localLayoutService(), storage });
    expect(again.getState().flow.history.present.nodes.find((n) => n.id === gelu.id)?.params.silu).toBe(false);
  });

  it('shows a typed error for a bad file', async () => {
    const store = createEditorStore({ model: localModelService(), layout: localLayoutService() });
    const bytes = readBytes(KJV_LLAMA).slice(0, 5000);
    await store.getState().actions.open({ kind: 'bytes', bytes, name: 'truncated.onnx' });
    const e = store.getState().error;
    expect(e?.code).toBe('ONNX_PARSE');
    expect(e?.file).toBe('truncated.onnx');
    expect(typeof e?.offset).toBe('number');
    expect(e?.field).toMatch(/ModelProto/);
  });

  it('step-by-step runs compose to what runPasses reports', () => {
    const bytes = readBytes(KJV_LLAMA);
    const steps = workflowSteps(defaultWorkflow(), PASSES);
    const a = runPasses(loadModel(bytes, { file: 'a' }), steps);
    const b = runWorkflow(loadModel(bytes, { file: 'b' }), steps).record;
    expect(b.nodesAfter).toBe(a.nodesAfter);
    expect(b.fused).toEqual(a.fused);
    const key = (p: { node: string; sources: string[] }) => `${p.node}<-${[...p.sources].sort().join(',')}`;
    expect(b.provenance.map(key).sort()).toEqual(a.provenance.map(key).sort());
    expect(new Set(b.removed.map((r) => r.node))).toEqual(new Set(a.removed.map((r) => r.node)));
  });
});
