/**
 * @packageDocumentation
 * `@fuselab/gpu-runtime`: onnxruntime-web sessions, seeded model inputs, output comparison with
 * named tolerances, and validation of optimized models. (Engine files and the WebGPU decode loop
 * land with issue #6.)
 */
export { type HostTensor, type HostData, hostNumbers, hostFromBase64, fromOrt } from './ort/host-tensor.ts';
export { ortEnv, createSession, runModel, runSession, toOrt, type RunOptions } from './ort/session.ts';
export { randomInputs, detectVocab, gatherTableRows, resolveDim, prng, DEFAULT_DIMS, type InputSpec } from './ort/inputs.ts';
export { compareTensors, FP32_FUSION, FP32_EXACT, type Tolerance, type OutputComparison } from './ort/compare.ts';
export { validateModels, DEFAULT_VALIDATION_SHAPES, type ValidationReport, type ValidateOptions, type ValidationCase } from './ort/validate.ts';
export { decoderIo, DecoderIoError, type DecoderIo, type KvPair } from './decode/kv-io.ts';
export { KvDecoder, type DecoderOptions, type DecodeRunOptions, type DecodeRunResult } from './decode/decoder.ts';
