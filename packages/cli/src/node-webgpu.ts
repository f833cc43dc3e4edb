/** Dawn WebGPU for Node lives in @fuselab/node-io (shared with the desktop's runtime process). */
export { installNodeWebGpu, NoWebGpuAdapterError, type NodeWebGpu, type NodeWebGpuOptions, type NodeAdapterInfo } from '@fuselab/node-io';
