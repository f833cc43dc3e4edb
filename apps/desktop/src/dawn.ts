/**
 * WebGPU for the runtime utility process: Dawn through the npm `webgpu` package (dawn.node),
 * installed as `navigator.gpu` before onnxruntime-web/webgpu is imported — the recipe of
 * packages/cli/src/node-webgpu.ts, kept to what a host needs (that module lives in @fuselab/cli,
 * which apps may not import; moving it to @fuselab/node-io would let both share one copy).
 *
 * Returns null with the reason when dawn.node cannot load or finds no adapter; the host then runs
 * wasm and reports that reason in `hello` and `loaded`.
 */
interface DawnModule {
  create(toggles: string[]): GPU;
  globals: Record<string, unknown>;
}

const SHIMMED = Symbol.for('fuselab.writeBufferSharedArrayBufferShim');

export async function installDawn(toggles: string[] = []): Promise<{ gpu: GPU; adapter: GPUAdapter } | { gpu: null; reason: string }> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    return { gpu: null, reason: `the 'webgpu' package (dawn.node) failed to load on ${process.platform}-${process.arch}: ${(e as Error).message}` };
  }
  Object.assign(globalThis, dawn.globals);
  shimWriteBuffer(dawn.globals.GPUQueue as { prototype: GPUQueue } | undefined);
  const gpu = dawn.create(toggles);
  const old = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  const nav: Record<string, unknown> = { gpu };
  for (const k of ['hardwareConcurrency', 'language', 'userAgent']) {
    try {
      if (old && old[k] !== undefined) nav[k] = old[k];
    } catch { /* a getter that refuses */ }
  }
  Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true, enumerable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { gpu: null, reason: 'Dawn found no GPU adapter (on Linux it needs a Vulkan loader and driver)' };
  return { gpu, adapter };
}

/** dawn.node rejects `writeBuffer` from a SharedArrayBuffer view (threaded ORT wasm): copy first. */
function shimWriteBuffer(GPUQueueClass: { prototype: GPUQueue } | undefined): void {
  const proto = GPUQueueClass?.prototype as (GPUQueue & { [SHIMMED]?: boolean }) | undefined;
  if (!proto || proto[SHIMMED]) return;
  type WriteBuffer = (buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number) => void;
  const original = proto.writeBuffer as WriteBuffer;
  const shimmed: WriteBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset, size) {
    const isView = ArrayBuffer.isView(data);
    const backing = isView ? (data as ArrayBufferView).buffer : data;
    if (typeof SharedArrayBuffer === 'undefined' || !(backing instanceof SharedArrayBuffer)) return original.call(this, buffer, offset, data, dataOffset, size);
    const view = isView ? (data as ArrayBufferView) : new Uint8Array(backing);
    const el = (view as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const start = (dataOffset ?? 0) * el;
    const length = size !== undefined ? size * el : view.byteLength - start;
    const copy = new Uint8Array(length);
    copy.set(new Uint8Array(backing, view.byteOffset + start, length));
    return original.call(this, buffer, offset, copy, 0, length);
  };
  proto.writeBuffer = shimmed as GPUQueue['writeBuffer'];
  Object.defineProperty(proto, SHIMMED, { value: true });
}
