/**
 * The target device of an engine: what the WebGPU adapter says it is (vendor, architecture,
 * features, limits) and the host it runs in, or the wasm backend. An engine is tuned for one device;
 * loading it elsewhere is refused with an explanation, like TensorRT's plan files, except where the
 * difference cannot matter.
 */
import { FuselabError } from '@fuselab/graph-core';

export interface DeviceFingerprint {
  backend: 'webgpu' | 'wasm';
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** Adapter features, sorted. */
  features: string[];
  /** The adapter limits that decide whether a model fits. */
  limits: Record<string, number>;
  /** Where WebGPU comes from, e.g. "node-dawn (webgpu@0.6.2)", "browser (Chrome/156)". */
  host: string;
  /** Dawn toggles the GPU was created with (unsafe ones are named in `fingerprint`). */
  toggles: string[];
}

/** The limits recorded in fingerprints (others vary by driver and don't decide fit). */
export const FINGERPRINT_LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];

/** Describes an adapter (browser or Dawn) as a fingerprint. */
export function fingerprintAdapter(adapter: GPUAdapter, host: string, toggles: string[] = []): DeviceFingerprint {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  const raw = adapter.limits as unknown as Record<string, unknown>;
  for (const k of FINGERPRINT_LIMITS) if (typeof raw[k] === 'number') limits[k] = raw[k] as number;
  return {
    backend: 'webgpu',
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    features: [...adapter.features].map(String).sort(),
    limits,
    host,
    toggles: [...toggles],
  };
}

export function wasmFingerprint(host: string): DeviceFingerprint {
  return { backend: 'wasm', vendor: 'cpu', architecture: 'wasm', device: '', description: 'onnxruntime-web wasm (CPU)', features: [], limits: {}, host, toggles: [] };
}

/** One line naming a device, e.g. `webgpu nvidia/hopper "NVIDIA H200"`. */
export function deviceName(d: DeviceFingerprint): string {
  if (d.backend === 'wasm') return 'wasm (CPU)';
  const id = [d.vendor, d.architecture].filter(Boolean).join('/') || 'unknown adapter';
  return `webgpu ${id}${d.description ? ` "${d.description}"` : ''}`;
}

/** A short stable key for caches (tactic timings) keyed by device. */
export function deviceKey(d: DeviceFingerprint): string {
  return [d.backend, d.vendor, d.architecture, d.device, d.description, d.features.join('+'), d.toggles.join('+')].join('|');
}

/** The engine cannot run on this device, or was tuned for another one. */
export class EngineDeviceMismatchError extends FuselabError {
  /** True when running anyway is possible (tuned elsewhere) rather than impossible (missing feature). */
  readonly overridable: boolean;
  constructor(file: string, message: string, overridable: boolean) {
    super('ENGINE_DEVICE', `${file}: ${message}`);
    this.overridable = overridable;
  }
}

export interface DeviceRequirements {
  features: string[];
  limits: Record<string, number>;
}

/**
 * Checks an engine's device against the current one. Missing features or too-small limits are hard
 * errors; another vendor/architecture/backend is an overridable mismatch (`allowOtherDevice`).
 */
export function checkDevice(file: string, built: DeviceFingerprint, requires: DeviceRequirements, current: DeviceFingerprint, allowOtherDevice = false): string[] {
  const warnings: string[] = [];
  const rebuild = `rebuild it on this device (\`fuselab build MODEL -o ENGINE\` here)`;
  if (built.backend === 'webgpu' && current.backend === 'wasm') {
    const msg = `engine was built for ${deviceName(built)} but no WebGPU adapter is available here (running on wasm): ${rebuild}, or pass --allow-other-device to run its graph on wasm`;
    if (!allowOtherDevice) throw new EngineDeviceMismatchError(file, msg, true);
    warnings.push(msg);
  }
  if (current.backend === 'webgpu') {
    const missing = requires.features.filter((f) => !current.features.includes(f));
    if (missing.length) {
      const hint = missing.includes('shader-f16') ? ' (fp16 engines need shader-f16: in Node on NVIDIA enable Dawn toggle vulkan_enable_f16_on_nvidia; SwiftShader has none) ' : ' ';
      throw new EngineDeviceMismatchError(file, `this device (${deviceName(current)}) lacks WebGPU feature(s) ${missing.join(', ')} that the engine needs${hint}— rebuild without them (e.g. fp32) for this device`, false);
    }
    for (const [k, need] of Object.entries(requires.limits)) {
      const have = current.limits[k];
      if (typeof have === 'number' && have < need) {
        throw new EngineDeviceMismatchError(file, `this device's ${k} is ${have} but the engine needs ${need} (its largest tensor): rebuild with a smaller profile or precision (e.g. --int4) for this device`, false);
      }
    }
  }
  if (built.backend === current.backend && (built.vendor !== current.vendor || built.architecture !== current.architecture || built.description !== current.description)) {
    const msg = `engine was built and tuned for ${deviceName(built)}, this device is ${deviceName(current)}: its tactics were timed on the other device; ${rebuild}, or pass --allow-other-device to run it anyway`;
    if (!allowOtherDevice) throw new EngineDeviceMismatchError(file, msg, true);
    warnings.push(msg);
  }
  return warnings;
}
