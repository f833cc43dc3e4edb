/**
 * WebGPU in Node: Dawn through the npm `webgpu` package (`dawn.node`), installed as `navigator.gpu`
 * so onnxruntime-web's WebGPU execution provider finds it, exactly as it would in a browser.
 *
 *   const gpu = await installNodeWebGpu();                 // SwiftShader here, NVIDIA on the GPU machine
 *   const ort = await import('onnxruntime-web/webgpu');    // import ORT *after* installing
 *
 * What it does, in order: imports `webgpu` lazily (so code paths that never touch WebGPU never load a
 * 21 MB native module), copies its globals (GPUBufferUsage, GPUMapMode, …) onto `globalThis`, wraps
 * `GPUQueue.prototype.writeBuffer` (dawn.node rejects views of a SharedArrayBuffer, which the threaded
 * onnxruntime-web wasm passes), installs `navigator.gpu` with `Object.defineProperty` (Node ≥ 21 defines
 * `navigator` as a getter), requests the adapter and describes it. The description's `fingerprint` is
 * what benchmark reports and engine manifests name the device by.
 *
 * Vulkan setup (Dawn's backend on Linux):
 * - no GPU: `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp` (Debian
 *   packages `libvulkan1` and `chromium`);
 * - NVIDIA: `VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json` (or the driver's
 *   `nvidia_icd.json`), and toggle `enable-dawn-features=vulkan_enable_f16_on_nvidia` for fp16 graphs
 *   (Dawn blocklists f16 on that driver; unsafe for browsing, fine for a Node host — the fingerprint
 *   says so when it is on).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { FuselabError } from '@fuselab/graph-core';

export interface NodeWebGpuOptions {
  /** Dawn toggles for `create()`, e.g. `['enable-dawn-features=vulkan_enable_f16_on_nvidia']`. */
  toggles?: string[];
  /** Passed to `requestAdapter` (default 'high-performance'). */
  powerPreference?: 'low-power' | 'high-performance';
}

export interface NodeAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface NodeWebGpu {
  adapterInfo: NodeAdapterInfo;
  /** Adapter features, sorted (e.g. `shader-f16`, `subgroups`, `timestamp-query`). */
  features: string[];
  /** Adapter limits by name. */
  limits: Record<string, number>;
  /** Dawn toggles the GPU was created with. */
  toggles: string[];
  /** One line naming the device, its driver, the host (dawn.node version) and any toggles. */
  fingerprint: string;
}

/** No WebGPU adapter in this process: the message carries the reason and the environment to set. */
export class NoWebGpuAdapterError extends FuselabError {
  constructor(reason: string) {
    super('NO_WEBGPU_ADAPTER', `no WebGPU adapter: ${reason}. ${VULKAN_HINT}`);
  }
}

const VULKAN_HINT =
  'Dawn needs a Vulkan loader (Debian: apt-get install libvulkan1) and a Vulkan driver: without a GPU set ' +
  'VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp (SwiftShader from the chromium package); ' +
  'on an NVIDIA machine set VK_DRIVER_FILES to its nvidia_icd.json (e.g. /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json)';

const LIMIT_NAMES = [
  'maxTextureDimension2D', 'maxBindGroups', 'maxBindingsPerBindGroup', 'maxDynamicStorageBuffersPerPipelineLayout',
  'maxStorageBuffersPerShaderStage', 'maxUniformBufferBindingSize', 'maxStorageBufferBindingSize', 'maxBufferSize',
  'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension', 'maxImmediateSize', 'maxStorageBuffersInFragmentStage',
];

interface DawnModule {
  create(toggles: string[]): GPU;
  globals: Record<string, unknown>;
}

const SHIMMED = Symbol.for('fuselab.writeBufferSharedArrayBufferShim');
let scratch = new Uint8Array(4096);
let installed: { key: string; result: Promise<NodeWebGpu> } | null = null;

/**
 * Installs Dawn's WebGPU as `navigator.gpu` and describes the adapter. Idempotent for the same
 * options; a call with other toggles creates a new GPU object and installs that one.
 * @throws NoWebGpuAdapterError when `webgpu` cannot load or Dawn offers no adapter.
 */
export function installNodeWebGpu(options: NodeWebGpuOptions = {}): Promise<NodeWebGpu> {
  const toggles = [...(options.toggles ?? [])];
  const key = JSON.stringify([toggles, options.powerPreference ?? 'high-performance']);
  if (installed?.key !== key) {
    const result = install(toggles, options.powerPreference ?? 'high-performance');
    installed = { key, result };
    result.catch(() => { if (installed?.result === result) installed = null; });
  }
  return installed.result;
}

async function install(toggles: string[], powerPreference: 'low-power' | 'high-performance'): Promise<NodeWebGpu> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new NoWebGpuAdapterError(`the 'webgpu' package (dawn.node) failed to load on ${process.platform}-${process.arch}: ${(e as Error).message}`);
  }
  Object.assign(globalThis, dawn.globals);
  shimWriteBuffer(dawn.globals.GPUQueue as { prototype: GPUQueue } | undefined);
  const gpu = dawn.create(toggles);
  const old = (globalThis as unknown as { navigator?: Record<string, unknown> }).navigator;
  // Keep what Node's navigator offers (onnxruntime-web reads hardwareConcurrency) beside `gpu`.
  const nav: Record<string, unknown> = { gpu };
  for (const k of ['hardwareConcurrency', 'language', 'languages', 'platform', 'userAgent']) {
    try {
      if (old && old[k] !== undefined) nav[k] = old[k];
    } catch { /* a getter that refuses: leave it out */ }
  }
  Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true, enumerable: true });

  const adapter = await gpu.requestAdapter({ powerPreference });
  if (!adapter) throw new NoWebGpuAdapterError(`Dawn found no Vulkan device${environmentReport()}`);
  const info = adapter.info;
  const adapterInfo: NodeAdapterInfo = {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
  };
  const features = [...adapter.features].map(String).sort();
  const limits: Record<string, number> = {};
  const raw = adapter.limits as unknown as Record<string, unknown>;
  for (const k of LIMIT_NAMES) if (typeof raw[k] === 'number') limits[k] = raw[k] as number;
  for (const k in raw) if (typeof raw[k] === 'number' && !(k in limits)) limits[k] = raw[k] as number;
  return { adapterInfo, features, limits, toggles, fingerprint: fingerprint(adapterInfo, features, toggles) };
}

function fingerprint(a: NodeAdapterInfo, features: string[], toggles: string[]): string {
  let version = 'unknown';
  try {
    version = (createRequire(import.meta.url)('webgpu/package.json') as { version: string }).version;
  } catch { /* bundled without package.json */ }
  const name = [a.vendor, a.architecture, a.device].filter(Boolean).join('/') || 'unknown adapter';
  const unsafe = toggles.some((t) => t.includes('vulkan_enable_f16_on_nvidia')) ? ' (f16 on NVIDIA Vulkan force-enabled: unsafe for browsing)' : '';
  return `${name}${a.description ? ` "${a.description}"` : ''}; shader-f16 ${features.includes('shader-f16') ? 'yes' : 'no'}; ` +
    `Node ${process.version} + Dawn (webgpu@${version})${toggles.length ? `; toggles ${toggles.join(' ')}${unsafe}` : ''}`;
}

/** dawn.node rejects `writeBuffer` from a SharedArrayBuffer view: copy such data into a plain buffer. */
function shimWriteBuffer(GPUQueueClass: { prototype: GPUQueue } | undefined): void {
  const proto = GPUQueueClass?.prototype as (GPUQueue & { [SHIMMED]?: boolean }) | undefined;
  if (!proto || proto[SHIMMED]) return;
  const original = proto.writeBuffer;
  type WriteBuffer = (buffer: GPUBuffer, offset: number, data: BufferSource, dataOffset?: number, size?: number) => void;
  const shimmed: WriteBuffer = function (this: GPUQueue, buffer, offset, data, dataOffset, size) {
    const isView = ArrayBuffer.isView(data);
    const backing = isView ? (data as ArrayBufferView).buffer : data;
    if (typeof SharedArrayBuffer === 'undefined' || !(backing instanceof SharedArrayBuffer)) {
      return (original as WriteBuffer).call(this, buffer, offset, data, dataOffset, size);
    }
    // dataOffset and size count elements of a typed array, bytes otherwise
    const view = isView ? (data as ArrayBufferView) : new Uint8Array(backing);
    const el = (view as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const start = (dataOffset ?? 0) * el;
    const length = size !== undefined ? size * el : view.byteLength - start;
    // writeBuffer copies synchronously, so one scratch buffer serves every call (no garbage per write:
    // onnxruntime-web writes uniforms for each dispatch)
    if (scratch.byteLength < length) scratch = new Uint8Array(Math.max(length, scratch.byteLength * 2));
    scratch.set(new Uint8Array(backing, view.byteOffset + start, length));
    return (original as WriteBuffer).call(this, buffer, offset, scratch, 0, length);
  };
  proto.writeBuffer = shimmed as GPUQueue['writeBuffer'];
  Object.defineProperty(proto, SHIMMED, { value: true });
}

function environmentReport(): string {
  const parts: string[] = [];
  const icd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;
  if (!icd) parts.push('neither VK_ICD_FILENAMES nor VK_DRIVER_FILES is set');
  else for (const f of icd.split(':')) if (f && !existsSync(f)) parts.push(`ICD file ${f} does not exist`);
  const loaders = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1', '/usr/lib/libvulkan.so.1'];
  if (process.platform === 'linux' && !loaders.some((p) => existsSync(p))) parts.push('no libvulkan.so.1 found');
  if (process.platform === 'linux' && !process.env.XDG_RUNTIME_DIR) parts.push('XDG_RUNTIME_DIR is unset');
  return parts.length ? ` (${parts.join('; ')})` : '';
}
