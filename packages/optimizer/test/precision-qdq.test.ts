import { describe, expect, it } from 'vitest';
import { serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { compareTensors, runModel, validateModels, FP32_FUSION, INT8_QDQ, type HostTensor } from '@fuselab/gpu-runtime';
import { quantizeQdq, decodeCalibration, encodeCalibration, quantizeWeightPerChannel, type QdqParams } from '../src/passes/quantize-qdq.ts';
import { quantParams } from '../src/precision/calibration.ts';
import { constTensor } from '../src/rewrite/match.ts';
import { matmulModel, matmulRef, randomFloats } from './precision-test-utils.ts';

const K = 48;
const N = 20;
const M = 6;
const defaults: QdqParams = { calibration: encodeCalibration({ x: { min: -1, max: 1 } }), activationSymmetric: false, lmHead: true, exclude: [], include: [] };
const quantize = (m: Model, p: Partial<QdqParams> = {}) => quantizeQdq.run(m, {}, { ...defaults, ...p });

/** Our reference of the QDQ graph: fake-quantize x per tensor, dequantized per-channel weight, float MatMul. */
function referenceQdq(x: Float32Array, w: Float32Array, symmetric: boolean, range: { min: number; max: number }): Float32Array {
  const p = quantParams(range, symmetric);
  const [lo, hi] = p.dtype === 'int8' ? [-128, 127] : [0, 255];
  // QuantizeLinear rounds half to even (ONNX spec)
  const rne = (v: number) => {
    const f = Math.floor(v);
    const d = v - f;
    return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
  };
  const xq = x.map((v) => (Math.min(hi, Math.max(lo, rne(v / Math.fround(p.scale)) + p.zeroPoint)) - p.zeroPoint) * Math.fround(p.scale));
  return matmulRef(xq, quantizeWeightPerChannel(w, K, N).dequantized, M, K, N);
}

describe('quantize-qdq', () => {
  for (const symmetric of [false, true]) {
    it(`${symmetric ? 'int8 symmetric' : 'uint8 asymmetric'} activations: onnxruntime-web runs the QDQ graph as our reference computes it (${FP32_FUSION.name})`, async () => {
      const m = matmulModel(K, N, 9);
      const w = Float32Array.from(constTensor(m.graph.initializers.get('proj.weight'))?.data() as Float32Array);
      const range = { min: -0.8, max: 1.1 };
      const r = quantize(m, { calibration: encodeCalibration({ x: range }), activationSymmetric: symmetric });
      expect(r.stats.quantized).toEqual({ MatMul: 1 });
      expect(m.graph.nodes.map((n) => n.opType).sort()).toEqual(['DequantizeLinear', 'DequantizeLinear', 'MatMul', 'QuantizeLinear']);
      const wdq = m.graph.nodes.find((n) => n.name.includes('weight_DequantizeLinear'));
      expect(wdq?.input(0).initializer?.dtype).toBe('int8');
      expect(wdq?.input(1).initializer?.dims).toEqual([N]);
      expect(wdq?.attrInt('axis')).toBe(1);
      const q = m.graph.nodes.find((n) => n.opType === 'QuantizeLinear');
      expect(q?.input(2).initializer?.dtype).toBe(symmetric ? 'int8' : 'uint8');
      expect(r.provenance.every((p) => p.sources[0] === '/proj/MatMul')).toBe(true);
      expect((r.stats.sqnrDb as Record<string, number>)['/proj/MatMul']).toBeGreaterThan(35);
      // weights: 4 bytes → 1 byte each, plus per-column scales and zero points
      expect(r.stats.weightBytesAfter).toBe(K * N + N * 4 + N + 4 + 1);

      const x: HostTensor = { dtype: 'float32', dims: [1, M, K], data: randomFloats(M * K, 4) };
      const got = (await runModel(serializeModelToBytes(m), { x })).y;
      const ref: HostTensor = { dtype: 'float32', dims: [1, M, N], data: referenceQdq(x.data as Float32Array, w, symmetric, range) };
      const c = compareTensors('y', ref, got, FP32_FUSION);
      expect(c.passed, `max abs ${c.maxAbsErr}`).toBe(true);
    });
  }

  it('stays within the int8 tolerance of the float model', async () => {
    const m = matmulModel(K, N, 9);
    const original = m.clone();
    quantize(m);
    const v = await validateModels(original, m, { tolerance: INT8_QDQ, inputSpec: { dims: { batch_size: 2, sequence_length: 4 } } });
    expect(v.passed, `cos ${v.outputs[0].cosine}`).toBe(true);
    expect(v.outputs[0].cosine).toBeGreaterThan(0.999);
  });

  it('shares one Q/DQ pair per activation tensor, and honours exclude / include', () => {
    const m = matmulModel(K, N, 2);
    const g = m.graph;
    const x = g.inputs[0];
    const w = g.initializers.get('proj.weight') ?? null;
    const b2 = g.createNode({ opType: 'MatMul', name: '/b/MatMul', inputs: [x, w] });
    const b3 = g.createNode({ opType: 'MatMul', name: '/c/MatMul', inputs: [x, w] });
    g.addOutput(b2.output(0)).name = 'y2';
    g.addOutput(b3.output(0)).name = 'y3';
    const r = quantize(m, { exclude: ['/c/MatMul'] });
    expect(r.stats.quantized).toEqual({ MatMul: 2 });
    expect(g.nodes.filter((n) => n.opType === 'QuantizeLinear').length).toBe(1);
    expect(b3.input(0)).toBe(x);
    const only = matmulModel(K, N, 2);
    expect(quantize(only, { include: ['/nothing'] }).stats.quantized).toEqual({ MatMul: 0 });
  });

  it('says why a MatMul was not quantized, and refuses malformed calibration', () => {
    const m = matmulModel(K, N, 2);
    const r = quantize(m, { calibration: encodeCalibration({ other: { min: 0, max: 1 } }) });
    expect(r.modified).toBe(false);
    expect(r.diagnostics[0]).toMatchObject({ kind: 'rejected', nodes: ['/proj/MatMul'], message: "no calibration range for its input 'x': calibrate the model first" });
    expect(() => decodeCalibration('{"x": [1, 0]}')).toThrow(/calibration entry 'x' must be \[min, max\]/);
    expect(() => decodeCalibration('nope')).toThrow(/not JSON/);
    expect(decodeCalibration(encodeCalibration(new Map([['a', { min: -1, max: 2 }]])))).toEqual(new Map([['a', { min: -1, max: 2 }]]));
  });
});
