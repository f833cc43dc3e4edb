import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { defaultWorkflow, parseWorkflow, PASSES } from '@fuselab/optimizer';
import { applyEdit, chainEnd, connectionError, copyNodes, defaultDoc, EDITOR_BLOCK_VERSION, FlowError, migrateEditorBlock, parseDoc, passChain, pasteEdit, serializeDoc, toWorkflow, type FlowDoc, type FlowEdge, type FlowNode } from '../src/workflow/document.ts';
import { historyOf, pushHistory, redo, undo } from '../src/workflow/history.ts';
import { KINDS } from '../src/workflow/kinds.ts';
import { keepListEdit, QUANTIZE_KIND, quantizeStep, workflowBeforeQuantize } from '../src/workflow/keep-list.ts';

/** A canvas saved by the editor before the profiles node (editor block version 1: export-triton read the model). */
const V1_FIXTURE = readFileSync(new URL('./fixtures/workflow-editor-v1.json', import.meta.url), 'utf8');
const kindOf = (doc: FlowDoc, kind: string) => doc.nodes.find((n) => n.kind === kind) as FlowNode;
const into = (doc: FlowDoc, id: string, handle: string) => doc.edges.filter((e) => e.target === id && e.targetHandle === handle);

describe('workflow document', () => {
  it('has a node kind for every registered pass', () => {
    for (const name of PASSES.keys()) expect(KINDS.some((k) => k.pass === name)).toBe(true);
  });

  it('stands for the default workflow', () => {
    const doc = defaultDoc();
    expect(toWorkflow(doc).passes).toEqual(defaultWorkflow().passes);
    expect(passChain(doc).length).toBe(defaultWorkflow().passes.length);
  });

  it('saves the optimizer workflow format and loads it back, canvas included', () => {
    let doc = defaultDoc();
    const fold = doc.nodes.find((n) => n.kind === 'pass:fuse-attention') as { id: string };
    doc = applyEdit(doc, { type: 'set-param', node: fold.id, key: 'gqa', value: false });
    doc = applyEdit(doc, { type: 'move', positions: { [fold.id]: { x: 5, y: 7 } } });
    const text = serializeDoc(doc);
    // the CLI's parser reads the same file
    const wf = parseWorkflow(text, PASSES);
    expect(wf.passes.find((p) => p.pass === 'fuse-attention')?.params).toEqual({ gqa: false });
    const back = parseDoc(text);
    expect(back.nodes.find((n) => n.id === fold.id)?.position).toEqual({ x: 5, y: 7 });
    expect(toWorkflow(back)).toEqual(toWorkflow(doc));
  });

  it('loads a bare version-0 workflow (migration) into a fresh canvas', () => {
    const doc = parseDoc(JSON.stringify({ format: 'fuselab.workflow', version: 0, passes: ['fold-constants', 'fuse-gelu'] }));
    expect(toWorkflow(doc).passes).toEqual([{ pass: 'fold-constants' }, { pass: 'fuse-gelu' }]);
    expect(doc.nodes.some((n) => n.kind === 'source')).toBe(true);
  });

  it('rejects unknown passes with the step named', () => {
    expect(() => parseDoc(JSON.stringify({ format: 'fuselab.workflow', version: 1, passes: [{ pass: 'nope' }] }))).toThrow(/passes\[0\].*unknown pass 'nope'/);
  });

  it('types connections', () => {
    const doc = defaultDoc();
    const build = doc.nodes.find((n) => n.kind === 'build-engine') as { id: string };
    const gelu = doc.nodes.find((n) => n.kind === 'pass:fuse-gelu') as { id: string };
    expect(connectionError(doc, { source: build.id, sourceHandle: 'out:engine', target: gelu.id, targetHandle: 'in:model' })).toMatch(/engine output cannot feed a model input/);
    const src = doc.nodes.find((n) => n.kind === 'source') as { id: string };
    const first = passChain(doc)[0];
    expect(connectionError(doc, { source: first.id, sourceHandle: 'out:model', target: first.id, targetHandle: 'in:model' })).toMatch(/itself/);
    const last = passChain(doc).at(-1) as { id: string };
    expect(connectionError(doc, { source: last.id, sourceHandle: 'out:model', target: first.id, targetHandle: 'in:model' })).toMatch(/cycle/);
    expect(() => applyEdit(doc, { type: 'connect', edge: { source: build.id, sourceHandle: 'out:engine', target: src.id, targetHandle: 'in:model' } })).toThrow(FlowError);
  });

  it('disabled steps stay in the document but not in the run', () => {
    const doc0 = defaultDoc();
    const gelu = doc0.nodes.find((n) => n.kind === 'pass:fuse-gelu') as { id: string };
    const doc = applyEdit(doc0, { type: 'set-enabled', node: gelu.id, enabled: false });
    expect(toWorkflow(doc).passes.find((p) => p.pass === 'fuse-gelu')).toEqual({ pass: 'fuse-gelu', enabled: false });
  });

  it('removing a pass cuts the chain there; reconnecting restores it', () => {
    const doc0 = defaultDoc();
    const chain = passChain(doc0);
    const mid = chain[3];
    let doc = applyEdit(doc0, { type: 'remove', nodeIds: [mid.id], edgeIds: [] });
    expect(passChain(doc).length).toBe(3);
    doc = applyEdit(doc, { type: 'connect', edge: { source: chain[2].id, sourceHandle: 'out:model', target: chain[4].id, targetHandle: 'in:model' } });
    expect(passChain(doc).length).toBe(chain.length - 1);
  });

  it('copy/paste gives fresh ids and keeps internal edges', () => {
    const doc = defaultDoc();
    const chain = passChain(doc);
    const clip = copyNodes(doc, [chain[0].id, chain[1].id]);
    const e = pasteEdit(doc, clip);
    expect(e.nodes.map((n) => n.id).some((id) => doc.nodes.some((n) => n.id === id))).toBe(false);
    expect(e.edges.length).toBe(1);
    const next = applyEdit(doc, e);
    expect(next.nodes.length).toBe(doc.nodes.length + 2);
  });

  it('undo/redo over edits', () => {
    let h = historyOf(defaultDoc());
    const n = h.present.nodes.find((x) => x.kind === 'pass:fuse-gelu') as { id: string };
    h = pushHistory(h, applyEdit(h.present, { type: 'set-param', node: n.id, key: 'silu', value: false }));
    expect(h.present.nodes.find((x) => x.id === n.id)?.params.silu).toBe(false);
    h = undo(h);
    expect(h.present.nodes.find((x) => x.id === n.id)?.params.silu).toBeUndefined();
    h = redo(h);
    expect(h.present.nodes.find((x) => x.id === n.id)?.params.silu).toBe(false);
  });

  it('wires the profiles node into the build and the engine into export-triton, and saves them', () => {
    const doc = defaultDoc();
    const prof = kindOf(doc, 'profiles');
    const build = kindOf(doc, 'build-engine');
    const tri = kindOf(doc, 'export-triton');
    expect(into(doc, prof.id, 'in:model').map((e) => e.source)).toEqual([chainEnd(doc)]);
    expect(into(doc, build.id, 'in:profiles').map((e) => [e.source, e.sourceHandle])).toEqual([[prof.id, 'out:profiles']]);
    expect(into(doc, tri.id, 'in:engine').map((e) => [e.source, e.sourceHandle])).toEqual([[build.id, 'out:engine']]);
    // typed ports: profiles feed only a profiles input; export-triton takes no model
    expect(connectionError(doc, { source: prof.id, sourceHandle: 'out:profiles', target: tri.id, targetHandle: 'in:engine' })).toMatch(/profiles output cannot feed a engine input/);
    expect(connectionError(doc, { source: chainEnd(doc), sourceHandle: 'out:model', target: tri.id, targetHandle: 'in:model' })).toMatch(/'in:model' is not an input of export-triton/);
    // not a pass: the optimizer's workflow is unchanged, and the canvas (with its parameters) round-trips
    expect(toWorkflow(doc).passes).toEqual(defaultWorkflow().passes);
    const edited = applyEdit(doc, { type: 'set-param', node: prof.id, key: 'max_context', value: 64 });
    const text = serializeDoc(edited);
    expect(JSON.parse(text).editor.version).toBe(EDITOR_BLOCK_VERSION);
    const back = parseDoc(text);
    expect(kindOf(back, 'profiles').params).toEqual({ max_context: 64 });
    expect(back.edges).toEqual(edited.edges);
  });

  it('migrates a version-1 canvas (fixture): export-triton is fed by the engine, the rest kept as saved', () => {
    const saved = JSON.parse(V1_FIXTURE) as { name: string; editor: { version: number; nodes: FlowNode[]; edges: FlowEdge[] } };
    expect(saved.editor.version).toBe(1);
    const tri = saved.editor.nodes.find((n) => n.kind === 'export-triton') as FlowNode;
    const build = saved.editor.nodes.find((n) => n.kind === 'build-engine') as FlowNode;
    const old = saved.editor.edges.find((e) => e.target === tri.id) as FlowEdge;
    expect(old.targetHandle).toBe('in:model');
    const doc = parseDoc(V1_FIXTURE);
    // the canvas was restored (not rebuilt): positions, parameters and the name as saved
    expect(doc.name).toBe(saved.name);
    expect(kindOf(doc, 'memory-plan').position).toEqual({ x: 300, y: 700 });
    expect(kindOf(doc, 'pass:fuse-gelu').params).toEqual({ silu: false });
    expect(doc.nodes.map((n) => n.id)).toEqual(saved.editor.nodes.map((n) => n.id));
    // the one edge that changed meaning
    expect(into(doc, tri.id, 'in:engine')).toEqual([{ source: build.id, sourceHandle: 'out:engine', target: tri.id, targetHandle: 'in:engine', id: `${build.id}.out:engine-${tri.id}.in:engine` }]);
    expect(doc.edges.filter((e) => e.target !== tri.id)).toEqual(saved.editor.edges.filter((e) => e.target !== tri.id));
    for (const e of doc.edges) expect(connectionError({ ...doc, edges: doc.edges.filter((x) => x !== e) }, e), e.id).toBeNull();
    // saved again, it is version 2 and loads to the same canvas
    const again = serializeDoc(doc);
    expect(JSON.parse(again).editor.version).toBe(2);
    expect(parseDoc(again)).toEqual(doc);
    // without a build-engine node the old edge is dropped; a newer block than this editor knows is rebuilt from the passes
    const noBuild = migrateEditorBlock({ version: 1, nodes: saved.editor.nodes.filter((n) => n.id !== build.id), edges: saved.editor.edges.filter((e) => e.source !== build.id && e.target !== build.id) });
    expect(noBuild?.edges.some((e) => e.target === tri.id)).toBe(false);
    expect(migrateEditorBlock({ version: 3, nodes: [], edges: [] })).toBeNull();
    const future = parseDoc(JSON.stringify({ ...saved, editor: { ...saved.editor, version: 3 } }));
    expect(future.nodes.find((n) => n.id === kindOf(doc, 'memory-plan').id)?.position).not.toEqual({ x: 300, y: 700 });
    expect(toWorkflow(future).passes).toEqual(toWorkflow(doc).passes);
  });

  it('applies a keep list as one undoable edit: inserts quantize-qdq after the chain, or updates it', () => {
    const doc0 = defaultDoc();
    const end = chainEnd(doc0);
    const readers = doc0.edges.filter((e) => e.source === end).map((e) => e.target).sort();
    expect(quantizeStep(doc0)).toBeNull();
    const measured = workflowBeforeQuantize(doc0);
    const k = { keep: ['/lm_head/MatMul', '/model/layers.0/mlp/down_proj/MatMul'], calibration: '{"x":[-1,2]}', activationSymmetric: false };
    const first = keepListEdit(doc0, k);
    expect(first.inserted).toBe(true);
    let h = pushHistory(historyOf(doc0), applyEdit(doc0, first.edit));
    const doc1 = h.present;
    const q = quantizeStep(doc1) as FlowNode;
    expect(q.id).toBe(first.node);
    expect(q.params).toEqual({ exclude: k.keep, calibration: k.calibration, activationSymmetric: false, lmHead: true, include: [] });
    // the chain ends with it, and what read the old end reads it now
    expect(passChain(doc1).at(-1)?.id).toBe(q.id);
    expect(doc1.edges.filter((e) => e.source === q.id).map((e) => e.target).sort()).toEqual(readers);
    expect(doc1.edges.filter((e) => e.source === end).map((e) => e.target)).toEqual([q.id]);
    // the optimizer reads it: the keep list is quantize-qdq's exclude
    const wf = parseWorkflow(serializeDoc(doc1), PASSES);
    expect(wf.passes.at(-1)).toEqual({ pass: 'quantize-qdq', params: q.params });
    // sensitivity still measures the passes before it
    expect(workflowBeforeQuantize(doc1)).toEqual(measured);
    // not on top of another node
    for (const n of doc1.nodes) if (n.id !== q.id) expect(Math.abs(n.position.x - q.position.x) >= 250 || Math.abs(n.position.y - q.position.y) >= 190, n.kind).toBe(true);
    // applying again updates that node in place
    const second = keepListEdit(doc1, { ...k, keep: ['/lm_head/MatMul'] });
    expect(second).toMatchObject({ inserted: false, node: q.id });
    h = pushHistory(h, applyEdit(doc1, second.edit));
    expect(quantizeStep(h.present)?.params.exclude).toEqual(['/lm_head/MatMul']);
    expect(h.present.nodes.length).toBe(doc1.nodes.length);
    // each apply is one undo step
    h = undo(h);
    expect(h.present).toBe(doc1);
    h = undo(h);
    expect(h.present).toBe(doc0);
    expect(h.present.nodes.some((n) => n.kind === QUANTIZE_KIND)).toBe(false);
  });
});
