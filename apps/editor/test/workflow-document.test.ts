import { describe, expect, it } from 'vitest';
import { defaultWorkflow, parseWorkflow, PASSES } from '@fuselab/optimizer';
import { applyEdit, connectionError, copyNodes, defaultDoc, FlowError, parseDoc, passChain, pasteEdit, serializeDoc, toWorkflow } from '../src/workflow/document.ts';
import { historyOf, pushHistory, redo, undo } from '../src/workflow/history.ts';
import { KINDS } from '../src/workflow/kinds.ts';

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
});
