import { describe, expect, it } from 'vitest';
import { GraphBuilder, inferShapes, isFloatDType, type DType, type Model } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { validateModels, FP16 } from '@fuselab/gpu-runtime';
import { defaultWorkflow } from '../src/default-workflow.ts';
import { runPasses } from '../src/pass-manager.ts';
import { convertFp16, type Fp16Params } from '../src/passes/convert-fp16.ts';
import { cancellingCasts, castTarget, FLOAT32_ONLY_INPUTS, FLOAT32_ONLY_OUTPUTS, FP16_DEFAULT_KEEP, fp16OverflowNodes } from '../src/precision/fp16.ts';
import { PASSES } from '../src/registry.ts';
import { workflowSteps } from '../src/workflow.ts';
import { randomFloats } from './precision-test-utils.ts';

const defaults: Fp16Params = { keepOps: [...FP16_DEFAULT_KEEP], keepNodes: [], keepIO: true };
const convert = (m: Model, p: Partial<Fp16Params> = {}) => convertFp16.run(m, {}, { ...defaults, ...p });

/**
 * The dtype invariant: re-infer every intermediate type from the graph inputs and initializers alone
 * (graph-core's inferShapes), then check that inference agrees with the declared types, that every
 * node's float inputs and outputs share one float dtype (Casts and the ops whose schemas fix a port to
 * float32 excepted), and that no Cast pair cancels.
 */
function expectConsistentDtypes(m: Model): { fp16Values: number; fp32Values: number } {
  const declared = new Map<string, DType | null>();
  const copy = m.clone();
  for (const n of copy.graph.nodes) for (const v of n.outputs) if (v) declared.set(v.name, v.dtype);
  for (const n of copy.graph.nodes) for (const v of n.outputs) if (v && !v.isGraphOutput) v.type = null;
  const report = inferShapes(copy);
  expect(report.errors.map((e) => e.message)).toEqual([]);
  const problems: string[] = [];
  let fp16Values = 0;
  let fp32Values = 0;
  for (const n of copy.graph.nodes) {
    for (const v of n.outputs) {
      if (!v) continue;
      if (v.dtype !== declared.get(v.name)) problems.push(`${n.name}: '${v.name}' declared ${declared.get(v.name)}, inferred ${v.dtype}`);
      if (v.dtype === 'float16') fp16Values++;
      if (v.dtype === 'float32') fp32Values++;
    }
    if (n.opType === 'Cast' || n.opType === 'CastLike') continue;
    const floats = new Set<DType>();
    n.inputs.forEach((v, i) => {
      const d = v?.dtype ?? v?.initializer?.dtype;
      if (d && isFloatDType(d) && !FLOAT32_ONLY_INPUTS[n.opType]?.includes(i)) floats.add(d);
    });
    n.outputs.forEach((v, i) => {
      if (v?.dtype && isFloatDType(v.dtype) && !FLOAT32_ONLY_OUTPUTS[n.opType]?.includes(i) && v.useCount + (v.isGraphOutput ? 1 : 0) > 0) floats.add(v.dtype);
    });
    if (floats.size > 1) problems.push(`${n.name} (${n.opType}) mixes ${[...floats].join(' and ')}`);
  }
  expect(problems).toEqual([]);
  expect(cancellingCasts(m)).toEqual([]);
  return { fp16Values, fp32Values };
}

const floatIO = (m: Model) => [...m.graph.inputs.filter((v) => !v.initializer), ...m.graph.outputs].filter((v) => v.dtype && isFloatDType(v.dtype)).map((v) => `${v.name}:${v.dtype}`);

describe('convert-fp16: structure', () => {
  /** x → MatMul(W) → Softmax → Mul(c) → Add(x) → y, plus a second output straight from the MatMul. */
  function small(): Model {
    const b = new GraphBuilder({ opsets: { '': 17 } });
    const x = b.input('x', 'float32', ['batch', 8]);
    const mm = b.op('MatMul', [x, b.f32('w', [8, 8], randomFloats(64, 2))], {}, { name: '/mm' });
    const sm = b.op('Softmax', [mm], { axis: -1 }, { name: '/softmax' });
    const mul = b.op('Mul', [sm, b.f32('c', [1], [3])], {}, { name: '/mul' });
    b.output(b.op('Add', [mul, x], {}, { name: '/add' }), 'y');
    b.output(mm, 'scores');
    return b.build();
  }

  it('keeps Softmax in float32 with exactly one Cast at each precision boundary, IO float32', () => {
    const m = small();
    const r = convert(m);
    expect(r.stats).toMatchObject({ castsInserted: 4, weightsConverted: 2, kept: { 'Softmax is in the keep-list': 1 } });
    const ops = m.graph.nodes.map((n) => `${n.opType}${n.opType === 'Cast' ? `→${castTarget(n)}` : ''}`);
    // x→fp16 (shared by MatMul and Add); MatMul's output 'scores' →fp32 (read by Softmax too); Softmax →fp16 for Mul; Add →fp32 for y
    expect(ops.filter((o) => o.startsWith('Cast')).sort()).toEqual(['Cast→float16', 'Cast→float16', 'Cast→float32', 'Cast→float32']);
    expect(floatIO(m)).toEqual(['x:float32', 'y:float32', 'scores:float32']);
    const softmax = m.graph.nodes.find((n) => n.opType === 'Softmax');
    expect(softmax?.input(0).dtype).toBe('float32');
    expect(m.graph.nodes.find((n) => n.opType === 'MatMul')?.input(1).initializer?.dtype).toBe('float16');
    expectConsistentDtypes(m);
  });

  it('is idempotent: a second run changes nothing', () => {
    const m = small();
    convert(m);
    const count = m.graph.nodeCount;
    const again = convert(m);
    expect(again.modified).toBe(false);
    expect(m.graph.nodeCount).toBe(count);
  });

  it('keepIO: false makes float inputs and outputs float16', () => {
    const m = small();
    convert(m, { keepIO: false });
    expect(floatIO(m)).toEqual(['x:float16', 'y:float16', 'scores:float16']);
    expectConsistentDtypes(m);
  });

  it('keeps the nodes whose calibration activations exceed the float16 range (detected, not guessed)', () => {
    const m = small();
    const ranges = { '/mm_out0': { min: -10, max: 10 }, '/mul_out0': { min: -7e4, max: 9e4 }, y: { min: -2, max: 2 } };
    const over = fp16OverflowNodes(m, ranges);
    // the producer and its reader: an fp16 Add could not even receive the value
    expect(over.map((o) => o.node)).toEqual(['/mul', '/add']);
    convert(m, { keepNodes: over.map((o) => o.node) });
    const mul = m.graph.nodes.find((n) => n.name === '/mul');
    expect(mul?.output(0).dtype).toBe('float32');
    expectConsistentDtypes(m);
  });

  it('refuses a cancelling Cast pair when it sees one (the invariant checker itself)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [2]);
    b.output(b.op('Cast', [b.op('Cast', [x], { to: 10 }, { name: 'down' })], { to: 1 }, { name: 'up' }), 'y');
    expect(cancellingCasts(b.build())).toEqual([{ first: 'down', second: 'up', dtypes: ['float32', 'float16'] }]);
  });
});

describe('convert-fp16 on kjv-llama', () => {
  const file = 'examples/models/kjv-llama/model.onnx';
  const rows: string[] = [];

  for (const fused of [false, true]) {
    it(`${fused ? 'after the default fusion workflow' : 'as exported'}: weight bytes halve, dtypes consistent, logits within ${FP16.name} in onnxruntime-web (wasm)`, async () => {
      const f = openModelFile(file);
      try {
        const original = f.model.clone();
        if (fused) runPasses(f.model, workflowSteps(defaultWorkflow(), PASSES));
        const r = convert(f.model);
        const before = r.stats.weightBytesBefore as number;
        const after = r.stats.weightBytesAfter as number;
        expect(after / before).toBeGreaterThan(0.49);
        expect(after / before).toBeLessThan(0.51);
        expect(floatIO(f.model).every((s) => s.endsWith(':float32'))).toBe(true);
        const { fp16Values, fp32Values } = expectConsistentDtypes(f.model);
        expect(fp16Values).toBeGreaterThan(fp32Values);
        const v = await validateModels(original, f.model, { tolerance: FP16 });
        const logits = v.outputs.find((o) => o.name === 'logits');
        rows.push(`${fused ? 'fused' : 'export'}: ${before} → ${after} bytes, ${r.stats.castsInserted} casts, logits max|Δ| ${logits?.maxAbsErr.toExponential(2)} cos ${logits?.cosine.toFixed(7)}`);
        expect(v.passed, v.outputs.map((o) => `${o.name} ${o.maxAbsErr} ${o.cosine}`).join('; ')).toBe(true);
      } finally {
        f.close();
      }
    });
  }

  it('keepIO: false gives float16 KV cache and logits', () => {
    const f = openModelFile(file);
    try {
      convert(f.model, { keepIO: false });
      const io = floatIO(f.model);
      expect(io.length).toBe(17);
      expect(io.every((s) => s.endsWith(':float16'))).toBe(true);
      expectConsistentDtypes(f.model);
      console.log(rows.join('\n'));
    } finally {
      f.close();
    }
  });
});

describe('convert-fp16 on the fixtures', () => {
  for (const name of ['gpt2-tiny-kv', 'gpt2-tiny-kv.dynamo', 'llama-tiny-kv', 'llama-tiny-kv.dynamo', 'qwen2-tiny-kv', 'mistral-tiny-kv', 'phi3-tiny-kv', 'bert-tiny', 'cnn-tiny']) {
    it(`${name}: dtypes consistent, no cancelling Casts, IO float32, within ${FP16.name}`, async () => {
      const f = openModelFile(`examples/fixtures/${name}.onnx`);
      try {
        const original = f.model.clone();
        const r = convert(f.model);
        expect(r.modified).toBe(true);
        expect(floatIO(f.model).every((s) => s.endsWith(':float32'))).toBe(true);
        expectConsistentDtypes(f.model);
        const v = await validateModels(original, f.model, { tolerance: FP16 });
        expect(v.passed, v.outputs.map((o) => `${o.name} ${o.maxAbsErr.toExponential(2)} ${o.cosine}`).join('; ')).toBe(true);
      } finally {
        f.close();
      }
    });
  }
});
