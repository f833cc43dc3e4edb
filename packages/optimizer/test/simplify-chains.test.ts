import { describe, expect, it } from 'vitest';
import { dtypeToOnnx, GraphBuilder, tensorType, type DType, type Model } from '@fuselab/graph-core';
import { holdsExactly, simplifyChains } from '../src/passes/simplify-chains.ts';
import { expectValid, opTypes } from './cleanup-test-utils.ts';

const run = (m: Model) => simplifyChains.run(m, {}, {});
const to = (d: DType) => ({ to: dtypeToOnnx(d) });

describe('simplify-chains: Cast → Cast', () => {
  it('holdsExactly knows which casts lose nothing', () => {
    expect(holdsExactly('int32', 'int64')).toBe(true);
    expect(holdsExactly('int64', 'int32')).toBe(false);
    expect(holdsExactly('uint8', 'int16')).toBe(true);
    expect(holdsExactly('uint8', 'int8')).toBe(false);
    expect(holdsExactly('int16', 'float32')).toBe(true);
    expect(holdsExactly('int32', 'float32')).toBe(false);
    expect(holdsExactly('int32', 'float64')).toBe(true);
    expect(holdsExactly('float16', 'float32')).toBe(true);
    expect(holdsExactly('float32', 'float16')).toBe(false);
    expect(holdsExactly('bfloat16', 'float16')).toBe(false);
    expect(holdsExactly('bool', 'float16')).toBe(true);
    expect(holdsExactly('float32', 'bool')).toBe(false);
  });

  it('int32 → int64 → int32 cancels; uint8 → int32 → float32 → int64 becomes one Cast', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'int32', ['batch', 3]);
    b.output(b.op('Neg', [b.op('Cast', [b.op('Cast', [x], to('int64'), { name: 'up' })], to('int32'), { name: 'down' })]), 'y');
    const u = b.input('u', 'uint8', ['batch']);
    const c1 = b.op('Cast', [u], to('int32'), { name: 'c1' });
    const c2 = b.op('Cast', [c1], to('float32'), { name: 'c2' });
    b.output(b.op('Cast', [c2], to('int64'), { name: 'c3' }), 'z');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(opTypes(m)).toEqual(['Neg', 'Cast']);
    const cast = m.graph.nodes[1];
    expect(cast.input(0)).toBe(u);
    expect(cast.attrInt('to')).toBe(dtypeToOnnx('int64'));
    expect(m.graph.outputs.map((o) => o.name)).toEqual(['y', 'z']);
    expect(r.stats.simplified).toEqual({ Cast: 3 });
    await expectValid(original, m);
  });

  it('refuses a lossy middle type and says why', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'int64', ['batch']);
    b.output(b.op('Cast', [b.op('Cast', [x], to('int32'), { name: 'narrow' })], to('int64'), { name: 'widen' }), 'y');
    const m = b.build();
    const r = run(m);
    expect(r.modified).toBe(false);
    expect(r.diagnostics).toEqual([{
      pass: 'simplify-chains', rule: 'cast-cast', kind: 'rejected', nodes: ['widen', 'narrow'],
      message: 'int64→int32→int64 is not lossless: int32 cannot hold every int64 value, so the inner Cast changes values that Cast(x, int64) would keep',
    }]);
  });

  it('keeps the inner Cast when something else reads it', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'int32', ['batch']);
    const wide = b.op('Cast', [x], to('int64'), { name: 'wide' });
    b.output(b.op('Cast', [wide], to('float32'), { name: 'as_float' }), 'f');
    b.output(b.op('Neg', [wide]), 'n');
    const m = b.build();
    const original = m.clone();
    run(m);
    expect(opTypes(m).sort()).toEqual(['Cast', 'Cast', 'Neg']);
    expect(m.graph.outputs[0].producer?.input(0)).toBe(x);
    await expectValid(original, m);
  });
});

describe('simplify-chains: shape movement', () => {
  it('Reshape → Reshape: one Reshape, a 0 resolved against the intermediate', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3, 4]);
    const mid = b.op('Reshape', [x, b.i64('s1', [2], [6, 4])], {}, { name: 'r1' });
    mid.type = tensorType('float32', [6, 4]);
    b.output(b.op('Relu', [b.op('Reshape', [mid, b.i64('s2', [3], [0, 2, 2])], {}, { name: 'r2' })]), 'y');
    const m = b.build();
    const original = m.clone();
    run(m);
    expect(opTypes(m)).toEqual(['Reshape', 'Relu']);
    const r = m.graph.nodes[0];
    expect(r.input(0)).toBe(x);
    expect(r.input(1).initializer?.toNumbers()).toEqual([6, 2, 2]);
    await expectValid(original, m);
  });

  it('Reshape → Reshape with a computed outer shape is a near miss', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 4]);
    const mid = b.op('Reshape', [x, b.i64('s1', [1], [-1])], {}, { name: 'flat' });
    b.output(b.op('Reshape', [mid, b.op('Shape', [x])], {}, { name: 'back' }), 'y');
    const m = b.build();
    const r = run(m);
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0].message).toMatch(/outer target shape is computed at run time/);
  });

  it('Transpose → Transpose composes, and cancels to nothing', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2, 3, 4, 5]);
    const t1 = b.op('Transpose', [x], { perm: [0, 2, 1, 3] });
    const back = b.op('Transpose', [t1], { perm: [0, 2, 1, 3] });
    const t2 = b.op('Transpose', [back], { perm: [1, 0, 2, 3] });
    b.output(b.op('Transpose', [t2], { perm: [3, 0, 2, 1] }, { name: 'last' }), 'y');
    const m = b.build();
    const original = m.clone();
    run(m);
    expect(opTypes(m)).toEqual(['Transpose']);
    const t = m.graph.nodes[0];
    expect(t.input(0)).toBe(x);
    expect(t.attrInts('perm')).toEqual([3, 1, 2, 0]);
    await expectValid(original, m);
  });

  it('Unsqueeze → Squeeze and Squeeze → Unsqueeze of the same axes cancel; different axes do not', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', ['batch', 1, 4]);
    const u = b.op('Unsqueeze', [x, b.i64('a0', [1], [0])]);
    const s = b.op('Squeeze', [u, b.i64('a0b', [1], [-4])]);
    const sq = b.op('Squeeze', [s, b.i64('a1', [1], [1])]);
    const un = b.op('Unsqueeze', [sq, b.i64('a1b', [1], [-2])]);
    const other = b.op('Squeeze', [b.op('Unsqueeze', [x, b.i64('a3', [1], [3])], {}, { name: 'u3' }), b.i64('a1c', [1], [1])], {}, { name: 's1' });
    b.output(b.op('Relu', [un]), 'y');
    b.output(other, 'z');
    const m = b.build();
    const original = m.clone();
    const r = run(m);
    expect(m.graph.outputs[0].producer?.input(0)).toBe(x);
    expect(opTypes(m)).toEqual(['Unsqueeze', 'Squeeze', 'Relu']);
    expect(r.diagnostics.map((d) => [d.rule, d.message])).toEqual([['unsqueeze-squeeze', 'Unsqueeze axes [3] and Squeeze axes [1] differ']]);
    await expectValid(original, m);
  });
});
