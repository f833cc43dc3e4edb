import { describe, expect, it } from 'vitest';
import { Tensor, serializeModelToBytes, type Model, type Node } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { compareTensors, runModel, validateModels, INT4_WEIGHT_ONLY, INT8_WEIGHT_ONLY, NBITS_KERNEL, type HostTensor } from '@fuselab/gpu-runtime';
import { defaultWorkflow } from '../src/default-workflow.ts';
import { runPasses } from '../src/pass-manager.ts';
import { PASSES } from '../src/registry.ts';
import { workflowSteps } from '../src/workflow.ts';
import { quantizeMatMulNBits, type QuantizeNBitsParams } from '../src/passes/quantize-matmul-nbits.ts';
import { dequantizeNBits, MatMulNBitsLayoutError, nbitsSizes, quantizeNBits, readMatMulNBits } from '../src/precision/matmul-nbits.ts';
import { constTensor } from '../src/rewrite/match.ts';
import { matmulModel, matmulRef, randomFloats } from './precision-test-utils.ts';

const defaults: QuantizeNBitsParams = { bits: 4, blockSize: 32, symmetric: true, accuracyLevel: 0, lmHead: true, exclude: [], minElements: 0 };
const quantize = (m: Model, p: Partial<QuantizeNBitsParams> = {}) => quantizeMatMulNBits.run(m, {}, { ...defaults, ...p });
const nbitsNode = (m: Model) => m.graph.nodes.find((n) => n.opType === 'MatMulNBits') as Node;
const read = (n: Node) => readMatMulNBits(n, (i) => constTensor(n.inputs[i]));

describe('MatMulNBits packed layout', () => {
  it('packs 4-bit codes low nibble first along K, one row per output feature', () => {
    // K = 32 (one block), N = 2; column 0 ramps -7..7 scaled, column 1 is zeros
    const K = 32;
    const w = new Float32Array(K * 2);
    for (let k = 0; k < K; k++) w[k * 2] = ((k % 15) - 7) * 0.5;
    const q = quantizeNBits(w, { K, N: 2, bits: 4, blockSize: 32 }, { symmetric: true });
    expect(q.scales[0]).toBeCloseTo(0.5, 7); // max |w| 3.5 / 7
    expect(q.scales[1]).toBe(0);
    // codes are (k % 15) - 7 + 8 = (k % 15) + 1: byte i holds k = 2i (low) and 2i + 1 (high)
    const code = (k: number) => (k % 15) + 1;
    for (let i = 0; i < 16; i++) expect(q.b[i]).toBe(code(2 * i) | (code(2 * i + 1) << 4));
    // row 1 (all zeros) is all zero-point codes: 0x88
    expect([...q.b.subarray(16, 32)].every((x) => x === 0x88)).toBe(true);
    expect(q.zeroPoints).toBeNull();
  });

  it('packs asymmetric 4-bit zero points two blocks per byte, each row padded to a whole byte', () => {
    const K = 96; // 3 blocks of 32 → ceil(3 · 4 / 8) = 2 bytes per row
    const N = 2;
    const w = randomFloats(K * N, 5).map((x, i) => x + (Math.floor(i / N / 32) === 1 ? 0.8 : 0)); // block 1 shifted positive
    const q = quantizeNBits(w, { K, N, bits: 4, blockSize: 32 }, { symmetric: false });
    expect(nbitsSizes(q.layout)).toEqual({ nBlocks: 3, blobSize: 16, zpBytesPerRow: 2 });
    expect(q.zeroPoints?.length).toBe(4);
    const zps = q.zeroPoints as Uint8Array;
    for (let n = 0; n < N; n++) {
      for (let blk = 0; blk < 3; blk++) {
        let lo = 0;
        for (let k = blk * 32; k < blk * 32 + 32; k++) lo = Math.min(lo, w[k * N + n]);
        const scale = q.scales[n * 3 + blk];
        const zp = blk & 1 ? zps[n * 2 + (blk >> 1)] >> 4 : zps[n * 2 + (blk >> 1)] & 15;
        expect(zp).toBe(Math.min(15, Math.max(0, Math.round(-lo / scale))));
      }
      expect(zps[n * 2 + 1] >> 4).toBe(0); // padding nibble
    }
  });

  for (const bits of [4, 8] as const) {
    for (const symmetric of [true, false]) {
      it(`round-trips ${bits}-bit ${symmetric ? 'symmetric' : 'asymmetric'} weights within half a step (K not a block multiple)`, () => {
        const K = 100;
        const N = 7;
        const w = randomFloats(K * N, bits + (symmetric ? 1 : 2));
        const q = quantizeNBits(w, { K, N, bits, blockSize: 32 }, { symmetric });
        const back = dequantizeNBits(q);
        const { nBlocks } = nbitsSizes(q.layout);
        for (let k = 0; k < K; k++) {
          for (let n = 0; n < N; n++) {
            const step = q.scales[n * nBlocks + Math.floor(k / 32)];
            expect(Math.abs(back[k * N + n] - w[k * N + n])).toBeLessThanOrEqual(step / 2 + 1e-6);
          }
        }
      });
    }
  }
});

describe('readMatMulNBits: attributes cross-checked against tensors', () => {
  const quantized = () => {
    const m = matmulModel(64, 16);
    quantize(m, { symmetric: false });
    return m;
  };

  it('reads back what the pass wrote', () => {
    const m = matmulModel(64, 16);
    const w = Float32Array.from(constTensor(m.graph.initializers.get('proj.weight'))?.data() as Float32Array);
    quantize(m, { symmetric: false });
    const r = read(nbitsNode(m));
    expect(r.layout).toEqual({ K: 64, N: 16, bits: 4, blockSize: 32 });
    expect(r.symmetric).toBe(false);
    const want = dequantizeNBits(quantizeNBits(w, r.layout, { symmetric: false }));
    expect(dequantizeNBits(r)).toEqual(want);
  });

  const cases: Array<[string, (n: Node, m: Model) => void, RegExp]> = [
    ['N attribute larger than B', (n) => n.setAttr('N', 32), /B is \[16, 2, 16\].*need \[32, 2, 16\]/],
    ['K attribute implying more blocks', (n) => n.setAttr('K', 100), /need \[16, 4, 16\]/],
    ['bits 8 on a 4-bit blob', (n) => n.setAttr('bits', 8), /need \[16, 2, 32\]/],
    ['bits 3', (n) => n.setAttr('bits', 3), /bits 3 is not supported/],
    ['block_size not a power of two', (n) => n.setAttr('block_size', 48), /power of two/],
    ['missing K', (n) => n.attributes.delete('K'), /attribute 'K' is missing/],
    ['short scales', (n, m) => n.setInput(2, m.graph.addInitializer(Tensor.from('float32', [31], new Float32Array(31)), 'bad_scales')), /scales is \[31\], need \[32\]/],
    ['short zero points', (n, m) => n.setInput(3, m.graph.addInitializer(Tensor.from('uint8', [8], new Uint8Array(8)), 'bad_zp')), /zero_points is \[8\], need 16 packed bytes/],
    ['float zero points', (n, m) => n.setInput(3, m.graph.addInitializer(Tensor.from('float32', [32], new Float32Array(32)), 'float_zp')), /only packed uint8/],
    ['B bytes shorter than its dims', (n, m) => {
      const t = new Tensor({ name: 'trunc', dtype: 'uint8', dims: [16, 2, 16], storage: { kind: 'raw', bytes: new Uint8Array(100) } });
      n.setInput(1, m.graph.addInitializer(t, 'trunc'));
    }, /B holds 100 bytes but \[16, 2, 16\] uint8 needs 512/],
  ];
  for (const [what, corrupt, message] of cases) {
    it(`refuses ${what} with a typed error`, () => {
      const m = quantized();
      const n = nbitsNode(m);
      corrupt(n, m);
      let err: unknown;
      try {
        read(n);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MatMulNBitsLayoutError);
      expect((err as Error).message).toMatch(message);
    });
  }

  it('refuses a dequantize whose tensors do not fit the layout', () => {
    const q = quantizeNBits(randomFloats(64 * 4, 1), { K: 64, N: 4, bits: 4, blockSize: 32 }, { symmetric: true });
    expect(() => dequantizeNBits({ ...q, b: q.b.subarray(0, 10) })).toThrow(MatMulNBitsLayoutError);
    expect(() => dequantizeNBits({ ...q, layout: { ...q.layout, N: 5 } })).toThrow(MatMulNBitsLayoutError);
  });
});

/** x [1, M, K] as a host tensor. */
const input = (M: number, K: number, seed: number): HostTensor => ({ dtype: 'float32', dims: [1, M, K], data: randomFloats(M * K, seed) });

describe('quantize-matmul-nbits in onnxruntime-web (wasm)', () => {
  const K = 200; // not a multiple of any block size: the last block is padded
  const N = 48;
  const M = 5;
  for (const bits of [4, 8] as const) {
    for (const blockSize of [32, 64, 128]) {
      for (const symmetric of [true, false]) {
        it(`bits ${bits}, block ${blockSize}, ${symmetric ? 'symmetric' : 'asymmetric'}: onnxruntime equals our dequantize-then-MatMul (${NBITS_KERNEL.name})`, async () => {
          const m = matmulModel(K, N, bits * 1000 + blockSize);
          const r = quantize(m, { bits, blockSize, symmetric });
          expect(r.stats.quantized).toEqual({ MatMulNBits: 1 });
          expect(r.provenance).toEqual([{ node: nbitsNode(m).name, opType: 'MatMulNBits', sources: ['/proj/MatMul'], pass: 'quantize-matmul-nbits', rule: 'matmul-to-nbits' }]);
          expect(m.graph.initializers.has('proj.weight')).toBe(false);
          const n = nbitsNode(m);
          expect(n.inputs.length).toBe(symmetric ? 3 : 4);
          const { nBlocks, blobSize } = nbitsSizes({ K, N, bits, blockSize });
          expect(n.input(1).initializer?.dims).toEqual([N, nBlocks, blobSize]);
          expect(n.input(2).initializer?.dims).toEqual([N * nBlocks]);
          const x = input(M, K, 7);
          const got = (await runModel(serializeModelToBytes(m), { x })).y;
          const ref: HostTensor = { dtype: 'float32', dims: [1, M, N], data: matmulRef(x.data as Float32Array, dequantizeNBits(read(n)), M, K, N) };
          const c = compareTensors('y', ref, got, NBITS_KERNEL);
          expect(c.passed, `max abs ${c.maxAbsErr}, cos ${c.cosine}`).toBe(true);
        });
      }
    }
  }

  it('bytes: 4-bit block 32 stores 4.5 bits per weight (symmetric), 5 with zero points', () => {
    const sym = matmulModel(256, 64);
    const asym = matmulModel(256, 64);
    const rs = quantize(sym);
    const ra = quantize(asym, { symmetric: false });
    expect(rs.stats.weightBytesBefore).toBe(256 * 64 * 4);
    expect(rs.stats.weightBytesAfter).toBe(64 * 8 * 16 + 64 * 8 * 4);
    expect(ra.stats.weightBytesAfter).toBe(64 * 8 * 16 + 64 * 8 * 4 + 64 * 4);
  });

  it('quantizes a tied weight once and keeps excluded MatMuls, listing why', () => {
    const m = matmulModel(64, 32, 3, { tail: true });
    const g = m.graph;
    const x = g.inputs[0];
    const w = g.initializers.get('proj.weight');
    const second = g.createNode({ opType: 'MatMul', name: '/proj2/MatMul', inputs: [x, w ?? null] });
    const third = g.createNode({ opType: 'MatMul', name: '/keep/MatMul', inputs: [x, w ?? null] });
    const sum = g.createNode({ opType: 'Add', name: '/sum', inputs: [second.output(0), third.output(0)] });
    g.addOutput(sum.output(0)).name = 'z';
    const r = quantize(m, { exclude: ['/keep/MatMul'] });
    expect(r.stats.quantized).toEqual({ MatMulNBits: 2 });
    const nb = g.nodes.filter((n) => n.opType === 'MatMulNBits');
    expect(nb[0].input(1)).toBe(nb[1].input(1));
    expect(g.initializers.has('proj.weight')).toBe(true); // still read by /keep/MatMul
    expect(r.diagnostics).toContainEqual(expect.objectContaining({ kind: 'info', nodes: ['/keep/MatMul'], message: 'kept in float: listed in exclude' }));
  });
});

interface ExampleRow { model: string; variant: string; before: number; after: number; cosine: number; maxAbs: number }
const rows: ExampleRow[] = [];

async function onExample(file: string, variant: string, p: Partial<QuantizeNBitsParams>, tol: typeof INT4_WEIGHT_ONLY): Promise<ExampleRow> {
  const f = openModelFile(file);
  try {
    const original = f.model.clone();
    // what `fuselab optimize --int4` does: the default cleanup + fusion workflow (GPT-2's Conv1D Gemms
    // become MatMuls there), then the precision pass
    runPasses(f.model, workflowSteps(defaultWorkflow(), PASSES));
    const r = quantize(f.model, { lmHead: false, ...p });
    expect((r.stats.quantized as Record<string, number>).MatMulNBits).toBeGreaterThan(0);
    const v = await validateModels(original, f.model, { tolerance: tol });
    const logits = v.outputs.find((o) => o.name === 'logits') ?? v.outputs[0];
    const row = { model: file.replace(/^.*examples\//, ''), variant, before: r.stats.weightBytesBefore as number, after: r.stats.weightBytesAfter as number, cosine: logits.cosine, maxAbs: logits.maxAbsErr };
    rows.push(row);
    expect(v.passed, `${file} ${variant}: ${v.outputs.map((o) => `${o.name} cos ${o.cosine.toFixed(5)}`).join(', ')}`).toBe(true);
    return row;
  } finally {
    f.close();
  }
}

describe('quantize-matmul-nbits on the example decoders', () => {
  const kjv = 'examples/models/kjv-llama/model.onnx';
  it('kjv-llama: int4 block 32 (LM head in float), int4 with the LM head, int8', async () => {
    const int4 = await onExample(kjv, 'int4 b32 sym', {}, INT4_WEIGHT_ONLY);
    const int4head = await onExample(kjv, 'int4 b32 sym +lm_head', { lmHead: true }, INT4_WEIGHT_ONLY);
    const int8 = await onExample(kjv, 'int8 b32 sym', { bits: 8 }, INT8_WEIGHT_ONLY);
    await onExample(kjv, 'int4 b128 asym', { blockSize: 128, symmetric: false }, INT4_WEIGHT_ONLY);
    expect(int4head.after).toBeLessThan(int4.after);
    expect(int8.after).toBeGreaterThan(int4.after);
    // 28 projection weights of 1.97 M floats shrink 7.1×; embedding and LM head stay float32
    expect(int4.before / int4.after).toBeGreaterThan(2);
  });

  for (const name of ['gpt2-tiny-kv', 'llama-tiny-kv', 'qwen2-tiny-kv', 'mistral-tiny-kv', 'phi3-tiny-kv', 'llama-tiny-kv.dynamo']) {
    it(`fixture ${name}: int8 and int4 validate against the float original`, async () => {
      await onExample(`examples/fixtures/${name}.onnx`, 'int8 b32 sym', { bits: 8 }, INT8_WEIGHT_ONLY);
      await onExample(`examples/fixtures/${name}.onnx`, 'int4 b32 sym', {}, INT4_WEIGHT_ONLY);
    });
  }

  it('prints the table', () => {
    console.log(rows.map((r) => `${r.model.padEnd(36)} ${r.variant.padEnd(22)} ${r.before} → ${r.after} (${(r.before / r.after).toFixed(2)}×)  logits cos ${r.cosine.toFixed(5)} max|Δ| ${r.maxAbs.toExponential(2)}`).join('\n'));
    expect(rows.length).toBeGreaterThan(0);
  });
});
