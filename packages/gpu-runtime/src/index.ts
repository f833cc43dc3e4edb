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
export { validateModels, validationCases, DEFAULT_VALIDATION_SHAPES, type ValidationReport, type ValidateOptions, type ValidationCase } from './ort/validate.ts';
export { decoderIo, DecoderIoError, type DecoderIo, type KvPair } from './decode/kv-io.ts';
export { KvDecoder, type DecoderOptions, type DecodeRunOptions, type DecodeRunResult } from './decode/decoder.ts';
// precision
export { NBITS_KERNEL, FP16, INT8_WEIGHT_ONLY, INT4_WEIGHT_ONLY, INT8_QDQ } from './ort/precision-tolerances.ts';
export { textBatches, tokenFeeds, randomBatches, recordedBatches, RANDOM_DATA_WARNING, type CalibrationBatch, type CalibrationData, type TextBatchOptions } from './calibrate/batches.ts';
export { calibrate, collectActivationStats, matmulActivationInputs, checkAbort, CalibrationCancelled, type CalibrationProgress, type CollectOptions, type ActivationStats, type CalibrationResult, type CalibrateOptions } from './calibrate/collect.ts';
export { runLogits, compareRuns, meetsTarget, logitsName, type LogitsRun, type Accuracy, type AccuracyTarget } from './calibrate/evaluate.ts';
export { layerSensitivity, mixedPrecision, quantizableMatMuls, quantizedClone, type LayerSensitivity, type SensitivityOptions, type MixedPrecisionResult, type MixedPrecisionStep } from './calibrate/sensitivity.ts';
// compare, triton
export { compareModels, matchValues, compareValues, parseRecordedInputs, toleranceByName, TOLERANCES, DEFAULT_COMPARE_DIMS, CompareError, type ComparableModel, type CompareModelsOptions, type ModelComparison, type ValueComparison, type Divergence, type IntermediatesReport, type MarkMode, type MatchKind, type NodeRef, type ValueMatch, type ValueStatus, type RecordedTensorJson } from './ort/compare-models.ts';
// engine, generation
export { encodeEngine, parseEngine, peekEngineManifest, sha256Hex, tacticCandidateText, EngineFormatError, EngineChecksumError, EngineVersionError, ENGINE_FORMAT_VERSION, type EngineManifest, type EngineIoContract, type EngineProfile, type EngineTactic, type EngineSection, type EngineSectionName, type GenerationConfig, type ParsedEngine } from './engine/format.ts';
export { fingerprintAdapter, wasmFingerprint, deviceName, deviceKey, checkDevice, EngineDeviceMismatchError, type DeviceFingerprint } from './engine/device.ts';
export { buildEngine, openEngine, engineGenerator, engineContextLimit, engineIo, deviceRequirements, tacticValue, ortWebVersion, BUILDER_VERSION, type BuildEngineInput, type LoadedEngine, type OpenEngineOptions } from './engine/engine.ts';
export { Generator, GenerationError, PromptTooLongError, halfToFloat, type GeneratorOptions, type GeneratorIo, type GenerateRequest, type GenerateEvent, type GenerateStats, type StopReason, type TextCodec } from './generate/generator.ts';
export { Sampler, normalizeSampling, argmax, SamplingOptionsError, type SamplingOptions } from './generate/sampling.ts';
export { createTokenizer, TokenizerError } from './generate/tokenizer.ts';
export { layerTimings, captureProfile, installProfileSink, type LayerTimings, type NodeTiming } from './generate/profiling.ts';
export { trackGpuMemory, gpuMemoryStats, resetGpuMemoryPeak, type GpuMemoryStats } from './generate/gpu-memory.ts';
// compare, triton (continued)
export { tritonConfig, tritonModelIo, tritonDataType, sharedBatchDim, checkModelName, isKvCacheInput, TritonConfigError, type TritonConfigOptions, type TritonConfigPlan, type TritonModelIo, type TritonTensorSpec, type TritonTensorConfig, type TritonInstanceKind } from './triton/config.ts';
export { parseTextFormat, quoteText, TextFormatError, type MessageSchema, type FieldSpec, type TextMessage, type TextValue } from './triton/text-format.ts';
export { MODEL_CONFIG_SCHEMA, TRITON_DATA_TYPES, TRITON_INSTANCE_KINDS, type TritonDataType } from './triton/model-config-schema.ts';
export { tritonServingFiles, v2Datatype, SAMPLE_DIMS, type ServingFiles } from './triton/readme.ts';
/** A Triton model repository entry as files in memory (config, model, README, samples). */
export { tritonRepository, type TritonRepository, type TritonRepositoryFile, type TritonRepositoryOptions } from './triton/repository.ts';
/** A POSIX ustar archive writer (a rope of chunks; file contents are not copied). */
export { tarArchive, TarError, type TarEntry, type TarOptions, type TarArchive } from './archive/tar.ts';
// runtime hosts (browser worker, Node, Electron) and their client
export { PROTOCOL_VERSION, RuntimeHostError, type HostRequest, type HostMessage, type LoadSource, type LoadedInfo, type PortLike, type BackendRequest } from './host/protocol.ts';
export { RuntimeHost, startWorkerHost, type HostEnvironment } from './host/host.ts';
export { RuntimeClient } from './host/client.ts';
/** Static KV cache + WebGPU graph capture for GroupQueryAttention decoders (decode step recorded once, replayed per token). */
export { StaticKvGenerator, StaticKvError, staticKvDecodeModel, isStaticKvModel, keepRegistered, SEQLENS_K, TOTAL_SEQUENCE_LENGTH, type StaticKvOptions } from './generate/static-kv.ts';
export { type KvSequence } from './generate/generator.ts';
