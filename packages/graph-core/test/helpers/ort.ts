/**
 * Runs models on onnxruntime-web (wasm EP, one thread) in Node, for tests that compare graph-core's
 * view of a model with what onnxruntime actually does. A thin alias of gpu-runtime's session helpers
 * (test-only dependency on a higher layer; shipped graph-core code never imports it).
 *
 *   const out = await runOrt(bytes, { x: { dtype: 'float32', dims: [2, 3], data: new Float32Array(6) } });
 *   out.y.dims // [2, 3]
 */
export { runModel as runOrt, createSession as createOrtSession, runSession, type HostTensor as OrtTensorValue, type HostData as OrtData, type RunOptions as RunOrtOptions } from '@fuselab/gpu-runtime';
