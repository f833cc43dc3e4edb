/**
 * The host-side floors of a decode step on this WebGPU host (Dawn through dawn.node in Node, or
 * SwiftShader here): what one GPU round trip, one compute dispatch, one bind group and one
 * onnxruntime-web `session.run` cost before any model work. A decode step of a 12-layer model makes
 * ~150–250 dispatches and one round trip, so these numbers bound what any runtime on this host can reach.
 *
 *   npx tsx tools/bench/webgpu-floor.ts [--json] [--toggle T]
 *
 * Prints JSON (medians over repeated trials, microseconds). A benchmark, not a test.
 */
import { parseArgs } from 'node:util';
import { GraphBuilder, serializeModelToBytes } from '@fuselab/graph-core';
import { installNodeWebGpu } from '@fuselab/node-io';

const { values } = parseArgs({ options: { toggle: { type: 'string', multiple: true }, iterations: { type: 'string', default: '200' } } });
const N = Number(values.iterations);
const gpu = await installNodeWebGpu({ toggles: values.toggle ?? [] });
const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) throw new Error('no adapter');
const device = await adapter.requestDevice();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const us = (ms: number) => +(ms * 1000).toFixed(1);

// 1. round trip: write 4 bytes, copy to a staging buffer, submit, map, read
const src = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
const staging = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const roundTrip: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  device.queue.writeBuffer(src, 0, Int32Array.of(i));
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, 16);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const v = new Int32Array(staging.getMappedRange())[0];
  staging.unmap();
  if (v !== i) throw new Error(`round trip read ${v}, wrote ${i}`);
  roundTrip.push(performance.now() - t);
}

// 2. dispatches: a trivial kernel, K dispatches in one pass, each with its own bind group set
const module = device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> b: array<u32>; @compute @workgroup_size(1) fn main() { b[0] = b[0] + 1u; }' });
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
const K = 200;
const bindGroupUs: number[] = [];
const encodeUs: number[] = [];
const gpuDoneUs: number[] = [];
for (let trial = 0; trial < 20; trial++) {
  let t = performance.now();
  const groups = Array.from({ length: K }, () => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }] }));
  bindGroupUs.push((performance.now() - t) / K);
  t = performance.now();
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  for (const g of groups) {
    pass.setBindGroup(0, g);
    pass.dispatchWorkgroups(1);
  }
  pass.end();
  device.queue.submit([enc.finish()]);
  encodeUs.push((performance.now() - t) / K);
  await device.queue.onSubmittedWorkDone();
  gpuDoneUs.push(performance.now() - t);
}

// 3. onnxruntime-web: one Add on GPU buffers, session.run per call (its fixed cost per run)
const ort = await import('onnxruntime-web/webgpu');
ort.env.logLevel = 'error';
ort.env.wasm.numThreads = 1; // as the CLI runs it (no worker threads to fetch)
const model = tinyAddModel();
const session = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer' });
const x = new ort.Tensor('float32', new Float32Array(16), [16]);
const runUs: number[] = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  const out = await session.run({ x });
  runUs.push(performance.now() - t);
  out.y.dispose();
}
await session.release();

console.log(JSON.stringify({
  bench: 'webgpu-floor',
  date: new Date().toISOString(),
  device: gpu.fingerprint,
  iterations: N,
  roundTripUs: us(median(roundTrip)),
  createBindGroupUs: us(median(bindGroupUs)),
  encodeSetBindGroupDispatchUs: us(median(encodeUs)),
  [`gpuDone${K}DispatchesMs`]: +median(gpuDoneUs).toFixed(3),
  ortRunAddUs: us(median(runUs)),
}, null, 2));
process.exit(0);

/** y = x + x, float32 [16] (opset 17). */
function tinyAddModel(): Uint8Array {
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const x = b.input('x', 'float32', [16]);
  b.output(b.op('Add', [x, x]), 'y');
  return serializeModelToBytes(b.build());
}
