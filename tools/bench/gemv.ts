/**
 * GPU time of the decode step's matrix products (M = 1) and the prompt's (M = 512) per operator form
 * onnxruntime-web's WebGPU EP offers for `y = x · W` with a constant W: MatMul, Gemm, Gemm with a
 * transposed weight (transB), and MatMulNBits (8- and 4-bit weights, for reference). GPT-2-small's
 * shapes. A decode step of an fp32 engine spends most of its GPU time in these products, so this
 * says which form a decode graph should use (a tactic, not a precision change, for the fp32 forms).
 *
 *   npx tsx tools/bench/gemv.ts [--device webgpu] [--toggle T] [--runs 20] [--m 1,512]
 *
 * Each model holds R independent products (own weights, so they stream from memory as in a model,
 * not from L2) and is run `runs` times with onnxruntime's profiler on; GPU time per product comes
 * from WebGPU timestamp queries (the profile's kernel events), wall time per run from the host clock.
 * Prints JSON. A benchmark, not a test.
 */
import { parseArgs } from 'node:util';
import { GraphBuilder, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { quantizeMatMulNBits } from '@fuselab/optimizer';
import { captureProfile, deviceName, layerTimings } from '@fuselab/gpu-runtime';
import { nodeRuntime, type BackendChoice } from '../../packages/cli/src/runtime-node.ts';

const { values } = parseArgs({ options: { device: { type: 'string', default: 'webgpu' }, toggle: { type: 'string', multiple: true }, runs: { type: 'string', default: '20' }, m: { type: 'string', default: '1,512' }, shapes: { type: 'string' } } });
const RUNS = Number(values.runs);
const rt = await nodeRuntime(values.device as BackendChoice, values.toggle ?? []);
const ort = rt.ort;

// GPT-2-small: qkv, attention out, mlp up, mlp down, LM head
const SHAPES: Array<[number, number]> = values.shapes ? values.shapes.split(';').map((s) => s.split('x').map(Number) as [number, number]) : [[768, 2304], [768, 768], [768, 3072], [3072, 768], [768, 50257]];
const VARIANTS = ['matmul', 'gemm', 'gemm-transB', 'nbits8', 'nbits4'] as const;
type Variant = (typeof VARIANTS)[number];

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

function model(variant: Variant, m: number, k: number, n: number, r: number): Model {
  const b = new GraphBuilder({ opsets: { '': 17, 'com.microsoft': 1 } });
  const gemm = variant === 'gemm' || variant === 'gemm-transB';
  const x = b.input('x', 'float32', gemm ? [m, k] : [1, m, k]);
  const rand = prng(k * 7 + n);
  for (let i = 0; i < r; i++) {
    const w = new Float32Array(k * n);
    for (let j = 0; j < w.length; j++) w[j] = rand() * 0.05;
    if (variant === 'gemm-transB') {
      const wt = new Float32Array(k * n);
      for (let kk = 0; kk < k; kk++) for (let nn = 0; nn < n; nn++) wt[nn * k + kk] = w[kk * n + nn];
      b.output(b.op('Gemm', [x, b.initializer(`w${i}`, 'float32', [n, k], wt)], { transB: 1 }), `y${i}`);
    } else {
      b.output(b.op(gemm ? 'Gemm' : 'MatMul', [x, b.initializer(`w${i}`, 'float32', [k, n], w)]), `y${i}`);
    }
  }
  const built = b.build();
  if (variant === 'nbits8' || variant === 'nbits4') quantizeMatMulNBits.run(built, {}, { bits: variant === 'nbits8' ? 8 : 4, blockSize: 32, symmetric: true, accuracyLevel: 0, lmHead: true, exclude: [], minElements: 0 });
  return built;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows: Array<Record<string, unknown>> = [];
for (const m of values.m.split(',').map(Number)) {
  for (const [k, n] of SHAPES) {
    const r = n > 10000 ? 2 : 8;
    for (const variant of VARIANTS) {
      const bytes = serializeModelToBytes(model(variant, m, k, n, r));
      const session = await ort.InferenceSession.create(bytes, { executionProviders: [rt.backend === 'webgpu' ? { name: 'webgpu' } : 'wasm'], enableProfiling: true, preferredOutputLocation: 'gpu-buffer', logSeverityLevel: 3 });
      const xData = new Float32Array(m * k).map((_, i) => Math.sin(i));
      const x = new ort.Tensor('float32', xData, variant.startsWith('gemm') ? [m, k] : [1, m, k]);
      const wall: number[] = [];
      let error: string | undefined;
      try {
        for (let i = 0; i < RUNS + 1; i++) {
          const t = performance.now();
          const out = await session.run({ x });
          // wait for the GPU: read one output back
          await out.y0.getData();
          for (const o of Object.values(out)) o.dispose();
          if (i) wall.push(performance.now() - t);
        }
      } catch (e) {
        error = (e as Error).message.slice(0, 200);
      }
      const timings = layerTimings(captureProfile(() => session.endProfiling()));
      await session.release();
      // the first run is the timings' "prefill"; per product: mean over the other runs / r
      const row = { m, k, n, variant, products: r, gpuUsPerProduct: +((timings.decodeMs * 1000) / r).toFixed(1), gpuSource: timings.nodes[0]?.source ?? null, wallMsPerRun: wall.length ? +median(wall).toFixed(3) : null, weightMB: +((k * n * 4) / 1e6).toFixed(1), ...(error ? { error } : {}) };
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
  }
}
console.log(JSON.stringify({ bench: 'gemv', date: new Date().toISOString(), device: deviceName(rt.device), features: rt.device.features, runs: RUNS, rows }, null, 2));
process.exit(0);
