import { describe, expect, it } from 'vitest';
import { ancestorsOf, buildHierarchy, defaultExpanded, rollup, scopeOf, visibleGraph, ROOT } from '../src/model/hierarchy.ts';
import { searchNodes } from '../src/model/search.ts';
import { KJV_GPT2, KJV_LLAMA, viewOf } from './helpers.ts';

describe('layer hierarchy', () => {
  it('reads torch name scopes', () => {
    expect(scopeOf({ name: '/model/layers.3/self_attn/q_proj/MatMul', kind: 'op' })).toEqual(['model', 'layers.3', 'self_attn', 'q_proj']);
    expect(scopeOf({ name: '/transformer/h.3/attn/Add', kind: 'op' })).toEqual(['transformer', 'h.3', 'attn']);
    expect(scopeOf({ name: 'node_MatMul_12', kind: 'op' })).toEqual([]);
    expect(scopeOf({ name: 'input_ids', kind: 'input' })).toEqual([]);
  });

  it('groups kjv-llama into its 4 decoder layers and opens /model by default', () => {
    const view = viewOf(KJV_LLAMA);
    const h = buildHierarchy(view);
    const model = h.groups.get('g:model');
    expect(model).toBeDefined();
    const layers = (model?.groups ?? []).filter((g) => /layers\.\d+$/.test(g));
    expect(layers).toEqual(['g:model/layers.0', 'g:model/layers.1', 'g:model/layers.2', 'g:model/layers.3']);
    // constants are hidden, every other node sits in exactly one group
    const constants = view.nodes.filter((n) => n.op === 'Constant').length;
    expect(h.hidden.size).toBe(constants);
    expect(h.root.size).toBe(view.nodes.length - constants);
    const expanded = defaultExpanded(h);
    expect(expanded.has('g:model')).toBe(true);
    expect(expanded.has('g:model/layers.0')).toBe(false);
    const vis = visibleGraph(view, h, expanded);
    expect(vis.itemById.get('g:model')?.kind).toBe('frame');
    expect(vis.itemById.get('g:model/layers.2')?.kind).toBe('block');
    // a node inside a closed layer is represented by that layer
    const q = view.nodes.find((n) => n.name.startsWith('/model/layers.2/self_attn/'));
    expect(vis.repOf.get(q?.id as string)).toBe('g:model/layers.2');
    // layers are chained: an edge runs from layer 0 to layer 1
    expect(vis.edges.some((e) => e.source === 'g:model/layers.0' && e.target === 'g:model/layers.1')).toBe(true);
    expect(vis.edges.every((e) => e.source !== e.target)).toBe(true);
    expect(ancestorsOf(h, q?.id as string).slice(0, 3)).toEqual([ROOT, 'g:model', 'g:model/layers.2']);
  });

  it('rolls numbers up to blocks', () => {
    const view = viewOf(KJV_GPT2);
    const h = buildHierarchy(view);
    const ids = view.nodes.filter((n) => n.name.startsWith('/transformer/h.1/')).map((n) => n.id).filter((id) => !h.hidden.has(id));
    const r = rollup(h, new Map(ids.map((id) => [id, 2])));
    expect(r.get('g:transformer/h.1')).toBe(ids.length * 2);
    expect(r.get(ROOT)).toBe(ids.length * 2);
  });

  it('searches by name, op and shape', () => {
    const view = viewOf(KJV_LLAMA);
    expect(searchNodes(view, 'q_proj').length).toBeGreaterThan(0);
    const mm = searchNodes(view, 'op:MatMul');
    expect(mm.length).toBe(view.summary.opCounts.MatMul);
    expect(searchNodes(view, 'shape:[batch_size,sequence_length,').length).toBeGreaterThan(0);
  });
});
