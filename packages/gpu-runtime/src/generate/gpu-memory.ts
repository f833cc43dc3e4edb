/**
 * GPU memory in use, measured: wraps `GPUDevice.prototype.createBuffer` and `GPUBuffer.prototype.destroy`
 * (the WebGPU globals of a browser, a worker, or Dawn in Node) and counts live buffer bytes and the
 * peak. onnxruntime-web's WebGPU EP allocates every tensor, weight and KV buffer through
 * `createBuffer`, so this is the EP's footprint (its buffer cache included), not an estimate.
 */

export interface GpuMemoryStats {
  liveBytes: number;
  peakBytes: number;
  buffers: number;
}

const state = { live: 0, peak: 0, buffers: 0, installed: false };
const sizes = new WeakMap<object, number>();

/** Installs the counters if WebGPU's globals exist; returns false where there is no WebGPU. Idempotent. */
export function trackGpuMemory(): boolean {
  if (state.installed) return true;
  const g = globalThis as unknown as { GPUDevice?: { prototype: GPUDevice }; GPUBuffer?: { prototype: GPUBuffer } };
  if (!g.GPUDevice?.prototype || !g.GPUBuffer?.prototype) return false;
  const create = g.GPUDevice.prototype.createBuffer;
  const destroy = g.GPUBuffer.prototype.destroy;
  g.GPUDevice.prototype.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    const buf = create.call(this, desc);
    sizes.set(buf, desc.size);
    state.live += desc.size;
    state.buffers++;
    if (state.live > state.peak) state.peak = state.live;
    return buf;
  };
  g.GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    const size = sizes.get(this);
    if (size !== undefined) {
      sizes.delete(this);
      state.live -= size;
      state.buffers--;
    }
    return destroy.call(this);
  };
  state.installed = true;
  return true;
}

export function gpuMemoryStats(): GpuMemoryStats | null {
  return state.installed ? { liveBytes: state.live, peakBytes: state.peak, buffers: state.buffers } : null;
}

/** Starts a new peak window at the current live bytes. */
export function resetGpuMemoryPeak(): void {
  state.peak = state.live;
}
