import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../src/index.ts';
import { OpRegistry, OpSchemaError, builtinOps, defineOp, listOps, lookupOp } from '../../src/ops/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';

/** The ops transformer/CNN exports (torchscript and dynamo, opsets 13-21) and onnxruntime fusions use. */
const REQUIRED = {
  '': [
    'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Sqrt', 'Reciprocal', 'Neg', 'Abs', 'Exp', 'Log', 'Erf', 'Tanh', 'Sigmoid', 'Relu', 'Gelu',
    'Softmax', 'LogSoftmax', 'Where', 'Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor',
    'Cast', 'CastLike', 'Clip', 'Min', 'Max', 'Mod', 'IsNaN', 'IsInf', 'Identity', 'Dropout', 'Constant', 'ConstantOfShape',
    'Shape', 'Size', 'Gather', 'GatherElements', 'GatherND', 'ScatterND', 'Unsqueeze', 'Squeeze', 'Concat', 'Split', 'Slice',
    'Reshape', 'Transpose', 'Expand', 'Tile', 'Flatten', 'Range', 'Trilu', 'CumSum', 'TopK', 'ArgMax', 'ReduceMean', 'ReduceSum',
    'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL2', 'MatMul', 'Gemm', 'Einsum', 'LayerNormalization', 'SimplifiedLayerNormalization',
    'RMSNormalization', 'BatchNormalization', 'InstanceNormalization', 'GroupNormalization', 'Conv', 'ConvTranspose', 'MaxPool',
    'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Pad', 'Resize', 'If', 'Loop', 'Scan',
  ],
  'com.microsoft': [
    'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization', 'Gelu', 'FastGelu', 'BiasGelu', 'QuickGelu', 'BiasAdd', 'Attention',
    'MultiHeadAttention', 'GroupQueryAttention', 'RotaryEmbedding', 'MatMulNBits', 'FusedMatMul', 'SkipGroupNorm',
  ],
};

describe('the op registry', () => {
  it('covers every op transformer and CNN exports use, at opsets 13-21 where the op exists', () => {
    const missing: string[] = [];
    for (const [domain, ops] of Object.entries(REQUIRED)) {
      for (const op of ops) {
        const newest = lookupOp(domain, op);
        if (!newest) missing.push(`${domain}::${op}`);
        else if (domain === '' && newest.since <= 13 && !lookupOp(domain, op, 13)) missing.push(`${op}@13`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('picks the version in force at an opset', () => {
    expect(lookupOp('', 'Squeeze', 12)?.inputs.map((p) => p.name)).toEqual(['data']);
    expect(lookupOp('', 'Squeeze', 13)?.inputs.map((p) => p.name)).toEqual(['data', 'axes']);
    expect(lookupOp('', 'ReduceSum', 13)?.inputs.map((p) => p.name)).toEqual(['data', 'axes']);
    expect(lookupOp('', 'ReduceMean', 17)?.attrs.axes?.type).toBe('ints');
    expect(lookupOp('', 'ReduceMean', 18)?.attrs.axes).toBeUndefined();
    expect(lookupOp('', 'Split', 18)?.attrs.num_outputs?.type).toBe('int');
    expect(lookupOp('', 'Softmax', 12)?.attrs.axis?.default).toBe(1);
    expect(lookupOp('', 'Softmax', 13)?.attrs.axis?.default).toBe(-1);
    expect(lookupOp('ai.onnx', 'Add', 14)?.since).toBe(7);
    expect(lookupOp('', 'Gelu', 19)).toBeUndefined();
    expect(lookupOp('', 'Gelu', 20)?.attrs.approximate?.default).toBe('none');
    expect(lookupOp('', 'NoSuchOp', 17)).toBeUndefined();
  });

  it('carries palette metadata: docs, port names, attribute types and defaults', () => {
    for (const s of builtinOps) {
      expect(s.doc.length, s.key).toBeGreaterThan(5);
      for (const p of [...s.inputs, ...s.outputs]) expect(p.name, s.key).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      for (const [name, a] of Object.entries(s.attrs)) expect(a.doc, `${s.key}.${name}`).toBeTruthy();
    }
    const gqa = lookupOp('com.microsoft', 'GroupQueryAttention', 1);
    expect(gqa?.inputs.map((p) => p.name).slice(0, 9)).toEqual(['query', 'key', 'value', 'past_key', 'past_value', 'seqlens_k', 'total_sequence_length', 'cos_cache', 'sin_cache']);
    expect(gqa?.minInputs).toBe(7);
    expect(gqa?.attrs.kv_num_heads).toMatchObject({ type: 'int', required: true });
    const concat = lookupOp('', 'Concat', 13);
    expect([concat?.minInputs, concat?.maxInputs]).toEqual([1, Infinity]);
  });

  it('lists the newest versions by default, every version on request, or those in force at given opsets', () => {
    const newest = listOps();
    expect(new Set(newest.map((s) => s.key)).size).toBe(newest.length);
    expect(listOps({ allVersions: true }).length).toBeGreaterThan(newest.length);
    const at13 = listOps({ opsets: { '': 13 } });
    expect(at13.find((s) => s.opType === 'Squeeze')?.since).toBe(13);
    expect(at13.find((s) => s.opType === 'Gelu' && s.domain === '')).toBeUndefined();
    expect(newest[0].domain).toBe('');
  });

  it('rejects malformed schemas', () => {
    const base = { domain: 'acme', opType: 'X', since: 1, doc: 'x', outputs: [{ name: 'y' }], inferShape: () => undefined };
    expect(() => defineOp({ ...base, inputs: [{ name: 'a', variadic: true }, { name: 'b' }] })).toThrow(OpSchemaError);
    expect(() => defineOp({ ...base, inputs: [{ name: 'a' }, { name: 'a' }] })).toThrow("op schema 'acme::X': input 'a' is declared twice");
    expect(() => defineOp({ ...base, inputs: [], attrs: { n: { type: 'int', required: true, default: 1 } } })).toThrow(/required and has a default/);
    expect(() => defineOp({ ...base, inputs: [], since: 0 })).toThrow(/since must be a positive integer/);
  });

  it('takes custom ops, in a registry of your own', () => {
    const registry = new OpRegistry(builtinOps);
    const double = defineOp({
      domain: 'acme', opType: 'DoubleLast', since: 1, doc: 'Concatenates X with itself along the last axis.',
      inputs: [{ name: 'X' }], outputs: [{ name: 'Y' }],
      inferShape(ctx) {
        const s = ctx.inputShape(0);
        ctx.setOutput(0, ctx.inputDType(0), s ? [...s.slice(0, -1), typeof s[s.length - 1] === 'number' ? (s[s.length - 1] as number) * 2 : null] : null);
      },
    });
    registry.register(double);
    expect(() => registry.register(double)).toThrow(/already registered/);
    registry.register(double, { replace: true });
    const b = new GraphBuilder({ opsets: { '': 17, acme: 1 } });
    const y = b.output(b.op('DoubleLast', [b.input('x', 'float32', ['n', 8])], {}, { domain: 'acme' }), 'y');
    const report = inferShapes(b.build(), { registry });
    expect(report.unknownOps).toEqual([]);
    expect(y.shape).toEqual(['n', 16]);
    expect(lookupOp('acme', 'DoubleLast')).toBeUndefined();
  });
});
