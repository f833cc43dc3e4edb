/**
 * Building an engine from an optimized model and opening one for generation. Pure TypeScript: the
 * bytes come from the host (node-io in the CLI, a File in the browser, a range reader in Electron).
 */
import type { Model } from '@fuselab/graph-core';
import type * as ortTypes from 'onnxruntime-web';
import { decoderIo } from '../decode/kv-io.ts';
import { Generator, type GeneratorOptions, type TextCodec } from '../generate/generator.ts';
import { StaticKvGenerator } from '../generate/static-kv.ts';
import { createTokenizer } from '../generate/tokenizer.ts';
import { checkDevice, type DeviceFingerprint } from './device.ts';
import { EngineFormatError, EngineVersionError, encodeEngine, parseEngine, sha256Hex, type EngineIoContract, type EngineManifest, type EngineParts, type EngineSectionName, type GenerationConfig } from './format.ts';

/** The version of the builder that writes engines (this package's). */
export const BUILDER_VERSION = '0.1.0';

/** onnxruntime-web's version as the module reports it. */
export function ortWebVersion(ort: typeof ortTypes): string {
  return ort.env.versions?.web ?? ort.env.versions?.common ?? 'unknown';
}

/** The KV-cache IO contract of a decoder model, as the engine records it. */
export function engineIo(model: Model, notes: string[] = [], maxPositions: number | null = null): EngineIoContract {
  const io = decoderIo(model);
  return {
    inputIds: io.inputIds,
    attentionMask: io.attentionMask,
    positionIds: io.positionIds,
    logits: io.logits,
    kv: io.kv.map((k) => ({ layer: k.layer, kind: k.kind, input: k.input, output: k.output, dtype: k.dtype })),
    kvHeads: io.kvHeads,
    headDim: io.headDim,
    kvLayout: 'growing',
    notes,
    maxPositions,
  };
}

/** What the device must offer to run `model` (fp16 needs shader-f16; the largest tensor must bind). */
export function deviceRequirements(model: Model): EngineManifest['requires'] {
  let largest = 0;
  let f16 = false;
  for (const v of model.graph.valueMap().values()) {
    if (v.dtype === 'float16') f16 = true;
    const n = v.initializer?.byteLength ?? v.initializer?.expectedByteLength ?? 0;
    if (n > largest) largest = n;
  }
  return { features: f16 ? ['shader-f16'] : [], limits: largest ? { maxStorageBufferBindingSize: largest } : {} };
}

export interface BuildEngineInput {
  source: { file: string; bytes: Uint8Array; nodes: number };
  optimized: Model;
  /** The optimized model serialized (the bytes that were validated). */
  modelBytes: Uint8Array;
  /** External data for models over 2 GB: one weights blob and its location name. */
  weights?: { location: string; bytes: Uint8Array };
  device: DeviceFingerprint;
  ortVersion: string;
  fused: Record<string, number>;
  provenance: EngineManifest['provenance'];
  notes?: string[];
  maxPositions?: number | null;
  profiles?: EngineManifest['profiles'];
  precision?: EngineManifest['precision'];
  tactics?: EngineManifest['tactics'];
  generation?: GenerationConfig | null;
  tokenizer?: { json: Uint8Array; config?: Uint8Array | null } | null;
  validation?: EngineManifest['validation'];
  /** A growing-KV prompt graph over the same weights (`weights`, when external), for static-KV engines. */
  prefill?: { model: Model; modelBytes: Uint8Array; fused: Record<string, number> };
}

/** Lays out an engine file (returns chunks to write in order; see `encodeEngine`). */
export async function buildEngine(input: BuildEngineInput): ReturnType<typeof encodeEngine> {
  const m = input.optimized;
  const sections: EngineParts['sections'] = [{ name: 'model', bytes: input.modelBytes }];
  if (input.prefill) sections.push({ name: 'prefill_model', bytes: input.prefill.modelBytes });
  if (input.weights) sections.push({ name: 'weights', bytes: input.weights.bytes, location: input.weights.location });
  if (input.tokenizer) {
    sections.push({ name: 'tokenizer', bytes: input.tokenizer.json });
    if (input.tokenizer.config) sections.push({ name: 'tokenizer_config', bytes: input.tokenizer.config });
  }
  return encodeEngine({
    manifest: {
      builder: { name: 'fuselab', version: BUILDER_VERSION },
      runtime: { onnxruntimeWeb: input.ortVersion, executionProvider: input.device.backend },
      createdAt: new Date().toISOString(),
      source: { file: input.source.file, sha256: await sha256Hex(input.source.bytes), bytes: input.source.bytes.byteLength, nodes: input.source.nodes },
      device: input.device,
      requires: deviceRequirements(m),
      graph: { nodes: m.graph.nodeCount, fused: input.fused, opsets: Object.fromEntries(m.opsetImports) },
      io: engineIo(m, input.notes ?? [], input.maxPositions ?? null),
      ...(input.prefill ? { prefill: { io: engineIo(input.prefill.model, [], input.maxPositions ?? null), nodes: input.prefill.model.graph.nodeCount, fused: input.prefill.fused } } : {}),
      profiles: input.profiles ?? [],
      precision: input.precision ?? { method: 'fp32', nodes: {} },
      tactics: input.tactics ?? [],
      provenance: input.provenance,
      generation: input.generation ?? null,
      validation: input.validation ?? null,
    },
    sections,
  });
}

export interface OpenEngineOptions {
  file?: string;
  /** The device this process will run on (from `fingerprintAdapter` or `wasmFingerprint`). */
  device: DeviceFingerprint;
  ortVersion: string;
  /** Run an engine tuned for another device (or built for WebGPU, on wasm) with a warning. */
  allowOtherDevice?: boolean;
  /** Accept another onnxruntime-web minor version with a warning. */
  allowOtherRuntime?: boolean;
  verifySections?: boolean;
}

export interface LoadedEngine {
  file: string;
  manifest: EngineManifest;
  model: Uint8Array;
  /** The prompt graph (`manifest.prefill`), when the engine has one. */
  prefillModel?: Uint8Array;
  externalData?: Array<{ path: string; data: Uint8Array }>;
  tokenizer: TextCodec | null;
  /** Overridden mismatches, to show the user. */
  warnings: string[];
}

/** Parses and checks an engine (format → checksum of manifest → versions → device → sections). */
export async function openEngine(bytes: Uint8Array, options: OpenEngineOptions): Promise<LoadedEngine> {
  const file = options.file ?? '<engine>';
  const warnings: string[] = [];
  const parsed = await parseEngine(bytes, {
    file,
    verifySections: options.verifySections,
    checkManifest: (m) => {
      const [bMaj] = m.builder.version.split('.');
      const [oMaj] = BUILDER_VERSION.split('.');
      if (bMaj !== oMaj) throw new EngineVersionError(file, `built by Fuselab ${m.builder.version}, this is ${BUILDER_VERSION}: rebuild the engine with this version`);
      const mm = (v: string) => v.split('.').slice(0, 2).join('.');
      if (mm(m.runtime.onnxruntimeWeb) !== mm(options.ortVersion)) {
        const msg = `built for onnxruntime-web ${m.runtime.onnxruntimeWeb}, this runtime has ${options.ortVersion}: operator support and tactic timings may differ; rebuild the engine (\`fuselab build\`), or pass --allow-other-runtime`;
        if (!options.allowOtherRuntime) throw new EngineVersionError(file, msg);
        warnings.push(msg);
      }
      warnings.push(...checkDevice(file, m.device, m.requires, options.device, options.allowOtherDevice));
    },
  });
  const model = parsed.section('model') as Uint8Array;
  const weights = parsed.section('weights');
  const location = parsed.manifest.sections.find((s) => s.name === 'weights')?.location;
  const tokJson = parsed.section('tokenizer');
  const prefillModel = parsed.section('prefill_model');
  if (prefillModel && !parsed.manifest.prefill) throw new EngineFormatError(file, "a 'prefill_model' section without the manifest's prefill contract");
  return {
    file,
    manifest: parsed.manifest,
    model,
    ...(prefillModel ? { prefillModel } : {}),
    ...(weights && location ? { externalData: [{ path: location, data: weights }] } : {}),
    tokenizer: tokJson ? createTokenizer(tokJson, parsed.section('tokenizer_config'), { where: `${file} (tokenizer section)` }) : null,
    warnings,
  };
}

/** The tactic value chosen at build time, or `fallback` when the engine was not tuned for it. */
export function tacticValue(manifest: EngineManifest, name: string, fallback: string): string {
  return manifest.tactics.find((t) => t.name === name)?.chosen ?? fallback;
}

/**
 * The most positions a generation on this engine may use, and where the limit comes from: the largest
 * total length (attention mask axis 1) any optimization profile allows, else the positions the model was
 * trained for (config.json), else none known.
 */
export function engineContextLimit(m: EngineManifest): { positions: number | null; from: 'profile' | 'trained' | null } {
  // static-KV graphs have no attention mask input: their profiles still name the source model's
  const mask = m.io.attentionMask ?? m.prefill?.io.attentionMask ?? 'attention_mask';
  const fromProfiles = Math.max(0, ...m.profiles.map((p) => (typeof p.inputs[mask]?.max[1] === 'number' ? (p.inputs[mask].max[1] as number) : 0)));
  if (fromProfiles > 0) return { positions: fromProfiles, from: 'profile' };
  if (m.io.maxPositions) return { positions: m.io.maxPositions, from: 'trained' };
  return { positions: null, from: null };
}

/** A Generator for an opened engine, driven by its IO contract, tactics and generation config. */
export async function engineGenerator(engine: LoadedEngine, ort: typeof ortTypes, executionProvider: 'webgpu' | 'wasm', extra: Partial<GeneratorOptions> = {}): Promise<Generator> {
  const m = engine.manifest;
  const eos = m.generation?.eos_token_id;
  const maxContext = engineContextLimit(m).positions ?? 0;
  const kv = tacticValue(m, 'kv', 'gpu');
  // kv 'static': the engine holds the static-KV decode model (staticKvDecodeModel); graph capture applies to its decode step
  const create = kv === 'static' ? StaticKvGenerator.create.bind(StaticKvGenerator) : Generator.create.bind(Generator);
  return create({
    ort,
    model: engine.model,
    ...(engine.externalData ? { externalData: engine.externalData } : {}),
    io: m.io,
    executionProvider,
    gpuKv: kv !== 'cpu',
    graphCapture: tacticValue(m, 'graphCapture', 'off') === 'on',
    // prompts on the engine's growing-KV prompt graph (the `prefill` tactic), KV copied into the static buffers
    ...(kv === 'static' && engine.prefillModel && m.prefill && tacticValue(m, 'prefill', 'static') === 'growing' ? { prefill: { model: engine.prefillModel, io: m.prefill.io } } : {}),
    provenance: m.provenance,
    tokenizer: engine.tokenizer,
    eosTokenIds: eos === undefined ? [] : Array.isArray(eos) ? eos : [eos],
    ...(maxContext > 0 ? { maxContext } : {}),
    ...extra,
  });
}

/** The section names of an engine (for inspect). */
export function engineSections(m: EngineManifest): Array<{ name: EngineSectionName; bytes: number }> {
  return m.sections.map((s) => ({ name: s.name, bytes: s.length }));
}

