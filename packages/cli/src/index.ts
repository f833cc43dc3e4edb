/**
 * @packageDocumentation
 * `@fuselab/cli`: the command line as a library (for tests and other tools).
 */
export { main } from './main.ts';
export { inspectModel, formatInspect, type InspectReport, type InspectIO } from './inspect.ts';
export { installNodeWebGpu, NoWebGpuAdapterError, type NodeWebGpu, type NodeWebGpuOptions, type NodeAdapterInfo } from './node-webgpu.ts';
