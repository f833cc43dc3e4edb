import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Node } from '@fuselab/graph-core';
import {
  applyRewrites, commonScope, eliminateDeadCode, matched, parseWorkflow, PASSES, reject, rewritePass, runPasses, WorkflowError,
  type RewriteRule,
} from '../src/index.ts';

/** Rule under test: `Neg(Neg(x)) → Identity(x)`, rejecting when the inner Neg is read elsewhere. */
const doubleNeg: RewriteRule = {
  name: 'double-neg',
  description: 'Neg(Neg(x)) → Identity(x)',
  anchors: ['Neg'],
  produces: 'Identity',
  match(outer: Node) {
    const inner = outer.inputs[0]?.producer;
    if (!inner || inner.opType !== 'Neg') return null;
    if (inner.output(0).useCount > 1) return reject(`inner Neg '${inner.name}' has other consumers`, inner);
    return matched({ nodes: [inner, outer], outputs: [outer.output(0)], build: (b) => b.op('Identity', [inner.input(0)]) });
  },
};

function chain(extraUse = false) {
  const b = new GraphBuilder();
  const x = b.input('x', 'float32', ['n']);
  const n1 = b.op('Neg', [x], {}, { name: '/blk/n1' });
  const n2 = b.op('Neg', [n1], {}, { name: '/blk/n2' });
  const y = b.op('Relu', [n2], {}, { name: '/blk/relu' });
  b.output(y, 'y');
  if (extraUse) b.output(b.op('Abs', [n1], {}, { name: 'abs' }), 'z');
  return b.build();
}

describe('rewrite engine', () => {
  it('replaces a match, records provenance and a stable scoped name', () => {
    const m = chain();
    const r = applyRewrites(m, [doubleNeg], 'test-pass');
    expect(r.modified).toBe(true);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Identity', 'Relu']);
    expect(r.provenance).toEqual([{ node: '/blk/Identity_fused', opType: 'Identity', sources: ['/blk/n1', '/blk/n2'], pass: 'test-pass', rule: 'double-neg' }]);
    expect(r.stats.fused).toEqual({ Identity: 1 });
  });

  it('records why a candidate was rejected and leaves the graph alone', () => {
    const m = chain(true);
    const r = applyRewrites(m, [doubleNeg], 'test-pass');
    expect(r.modified).toBe(false);
    expect(m.graph.nodeCount).toBe(4);
    expect(r.diagnostics).toEqual([{ pass: 'test-pass', rule: 'double-neg', kind: 'rejected', nodes: ['/blk/n2', '/blk/n1'], message: "inner Neg '/blk/n1' has other consumers" }]);
  });

  it('refuses a match whose intermediate is read outside the pattern even if the rule forgot to check', () => {
    const sloppy: RewriteRule = { ...doubleNeg, match: (outer) => {
      const inner = outer.inputs[0]?.producer;
      if (!inner || inner.opType !== 'Neg') return null;
      return matched({ nodes: [inner, outer], outputs: [outer.output(0)], build: (b) => b.op('Identity', [inner.input(0)]) });
    } };
    const r = applyRewrites(chain(true), [sloppy], 'p');
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toMatch(/intermediate .* is also read by 'abs' \(Abs\) outside the pattern/);
  });

  it('keeps graph output names when the replaced value is a graph output', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Neg', [b.op('Neg', [x])]), 'y');
    const m = b.build();
    applyRewrites(m, [doubleNeg], 'p');
    expect(m.graph.outputs.map((v) => v.name)).toEqual(['y']);
    expect(m.graph.outputs[0].producer?.opType).toBe('Identity');
  });

  it('commonScope takes the shared torch scope of node names', () => {
    expect(commonScope(['/h.0/attn/MatMul', '/h.0/attn/Softmax', '/h.0/attn/Div'])).toBe('/h.0/attn');
    expect(commonScope(['/h.0/ln/Add', '/h.1/ln/Add'])).toBe('');
    expect(commonScope(['a'])).toBe('');
  });
});

describe('pass manager', () => {
  it('runs to a fixed point and composes provenance back to the original nodes', () => {
    // Neg^4: the first round folds pairs, later rounds clean up; DCE removes nothing here
    const b = new GraphBuilder();
    let v = b.input('x', 'float32', [2]);
    for (let i = 0; i < 4; i++) v = b.op('Neg', [v], {}, { name: `/s/neg${i}` });
    b.output(v, 'y');
    const m = b.build();
    const idRule: RewriteRule = {
      name: 'drop-identity', description: 'Identity(x) → x', anchors: ['Identity'], produces: 'Relu',
      // replaces Identity by Relu(Relu) → just to create a second-generation node whose provenance must compose
      match: (n) => matched({ nodes: [n], outputs: [n.output(0)], build: (bb) => bb.op('Abs', [n.input(0)]) }),
    };
    const rec = runPasses(m, [{ pass: rewritePass({ name: 'neg', description: '', rules: [doubleNeg] }) }, { pass: rewritePass({ name: 'id', description: '', rules: [idRule] }) }, { pass: eliminateDeadCode }]);
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Abs', 'Abs']);
    expect(rec.nodesBefore).toBe(4);
    expect(rec.nodesAfter).toBe(2);
    // net: the Identity nodes made in round 0 were replaced by Abs in round 1, so only Abs counts
    expect(rec.fused).toEqual({ Abs: 2 });
    expect(rec.rounds).toBe(2);
    const sources = rec.provenance.map((p) => p.sources.sort()).sort();
    expect(sources).toEqual([['/s/neg0', '/s/neg1'], ['/s/neg2', '/s/neg3']]);
    expect(rec.provenance[0].passes.sort()).toEqual(['id', 'neg']);
    expect(rec.removed.map((r) => r.node).sort()).toEqual(['/s/neg0', '/s/neg1', '/s/neg2', '/s/neg3']);
  });
});

describe('eliminate-dead-code', () => {
  it('removes dead chains and unused initializers, keeps graph outputs', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    const w = b.f32('w', [2], [1, 2]);
    b.op('Relu', [b.op('Mul', [x, w])]);
    b.output(b.op('Neg', [x]), 'y');
    const m = b.build();
    const r = eliminateDeadCode.run(m, {}, {});
    expect(r.stats).toEqual({ removedNodes: 2, removedInitializers: 1 });
    expect(m.graph.nodes.map((n) => n.opType)).toEqual(['Neg']);
    expect(r.removed.map((x) => x.opType).sort()).toEqual(['Mul', 'Relu']);
  });
});

describe('workflow documents', () => {
  it('parses, fills defaults and migrates version 0', () => {
    const w = parseWorkflow('{"format":"fuselab.workflow","version":1,"passes":[{"pass":"eliminate-dead-code"}]}', PASSES);
    expect(w.passes).toEqual([{ pass: 'eliminate-dead-code' }]);
    const v0 = parseWorkflow({ version: 0, passes: ['eliminate-dead-code'] }, PASSES);
    expect(v0.version).toBe(1);
    expect(v0.passes[0].pass).toBe('eliminate-dead-code');
  });

  it.each([
    ['not json', /not valid JSON/],
    ['{"passes":[{"pass":"nope"}]}', /passes\[0\]: unknown pass 'nope'/],
    ['{"passes":[{"pass":"eliminate-dead-code","params":{"x":1}}]}', /unknown parameter 'x'/],
    ['{"version":9,"passes":[]}', /version 9 is not supported/],
    ['{"passes":[],"profiles":[{"name":"p","inputs":{"ids":{"min":[1,8],"opt":[1,4],"max":[1,16]}}}]}', /need min ≤ opt ≤ max/],
  ])('rejects %s', (doc, why) => {
    expect(() => parseWorkflow(doc, PASSES)).toThrow(WorkflowError);
    expect(() => parseWorkflow(doc, PASSES)).toThrow(why);
  });
});
