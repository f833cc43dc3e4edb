/**
 * WebGPU for the runtime utility process: Dawn through dawn.node, installed as `navigator.gpu` before
 * onnxruntime-web/webgpu is imported, by the same `installNodeWebGpu` the CLI uses (@fuselab/node-io).
 *
 * Returns null with the reason when dawn.node cannot load or finds no adapter; the host then runs
 * wasm and reports that reason in `hello` and `loaded`.
 */
import { installNodeWebGpu } from '@fuselab/node-io';

export async function installDawn(toggles: string[] = []): Promise<{ gpu: GPU; adapter: GPUAdapter } | { gpu: null; reason: string }> {
  try {
    await installNodeWebGpu({ toggles });
    const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) return { gpu: null, reason: 'Dawn found no GPU adapter (on Linux it needs a Vulkan loader and driver)' };
    return { gpu, adapter };
  } catch (e) {
    return { gpu: null, reason: (e as Error).message };
  }
}
