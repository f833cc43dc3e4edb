/**
 * @packageDocumentation
 * `@fuselab/node-io`: the Node.js edge of graph-core — file sources for streaming big models, safe
 * external-data resolution, atomic writes, and `openModelFile` / `saveModelFile`.
 */
export { openFileSource, type FileSource } from './file-source.ts';
export { externalDataResolver, type ExternalDataResolverHandle } from './external-data.ts';
export { AtomicFile, writeFileAtomic } from './atomic-write.ts';
export { openModelFile, saveModelFile, allTensors, SaveModelError, type ModelFile, type OpenModelOptions, type SaveModelOptions } from './model-file.ts';
export { installNodeWebGpu, NoWebGpuAdapterError, type NodeWebGpu, type NodeWebGpuOptions, type NodeAdapterInfo } from './node-webgpu.ts';
