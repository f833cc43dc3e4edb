/**
 * The `.engine` file: one self-describing file holding an optimized model, its weights, tokenizer,
 * generation config, profiles, tactics and a manifest, with checksums. Layout (little endian):
 *
 *   0   magic "FUSELAB\0"           8 bytes
 *   8   format version              u32
 *   12  manifest byte length        u32
 *   16  manifest (UTF-8 JSON)
 *       zero padding to 64 bytes
 *       sections, each at a 64-byte aligned offset the manifest records (offset, length, sha256)
 *   end trailer: "FLENGINE" (8 bytes) + SHA-256 of the manifest bytes (32 bytes)
 *
 * The manifest names every section with its SHA-256, so the trailer's hash of the manifest covers
 * the whole file. Parsing never copies a section: each one is a view into the bytes given, so a
 * 1 GB engine read into one buffer is loaded without further copies.
 *
 * Loading checks, in this order, and stops at the first problem with a typed error that says what
 * differs and what to do: magic → format version → truncation → manifest checksum → manifest fields
 * → builder/runtime versions → device (see `checkDevice`) → section checksums.
 */
import { FuselabError } from '@fuselab/graph-core';
import type { DeviceFingerprint } from './device.ts';

export const ENGINE_MAGIC = 'FUSELAB\0';
export const ENGINE_TRAILER_MAGIC = 'FLENGINE';
/** The format this code writes; it reads this version only (older engines must be rebuilt). */
export const ENGINE_FORMAT_VERSION = 1;
export const ENGINE_ALIGNMENT = 64;
const HEADER_BYTES = 16;
const TRAILER_BYTES = 40;
/** A manifest larger than this is refused before it is decoded (it is JSON metadata, not weights). */
const MAX_MANIFEST_BYTES = 64 * 2 ** 20;

/** One tactic candidate as text: "static 312.5 tok/s", "growing 31178 prompt tok/s", "on failed: …". */
export function tacticCandidateText(t: Pick<EngineTactic, 'name'>, c: EngineTactic['candidates'][number]): string {
  if (c.tokPerSec === undefined) return `${c.value} failed${c.error ? `: ${c.error}` : ''}`;
  return t.name === 'prefill' ? `${c.value} ${c.tokPerSec.toFixed(0)} prompt tok/s` : `${c.value} ${c.tokPerSec.toFixed(1)} tok/s`;
}

/**
 * What an engine's sections are for. `model` is required; the rest are optional. `prefill_model`: a
 * second graph over the same weights that runs prompts (the `prefill` tactic; see `EngineManifest.prefill`).
 */
export type EngineSectionName = 'model' | 'weights' | 'tokenizer' | 'tokenizer_config' | 'source_graph' | 'prefill_model';

export interface EngineSection {
  name: EngineSectionName;
  offset: number;
  length: number;
  sha256: string;
  /** For `weights`: the external-data `location` the model refers to. */
  location?: string;
}

/** How the runtime drives the model: input/output names and the KV cache layout. */
export interface EngineIoContract {
  inputIds: string;
  attentionMask: string | null;
  positionIds: string | null;
  logits: string;
  kv: Array<{ layer: number; kind: 'key' | 'value'; input: string; output: string; dtype: string }>;
  kvHeads: number;
  headDim: number;
  /** 'growing': present = past + new (Optimum); fused GQA models keep that contract too. */
  kvLayout: 'growing';
  /** Extra constraints recorded by passes (e.g. "right padding only"). */
  notes: string[];
  /** Positions the model was trained for (config.json), when known: the context limit without a profile. */
  maxPositions: number | null;
}

/** An optimization profile as the optimizer defines it: per input, min/opt/max shapes (numbers or symbols). */
export interface EngineProfile {
  name: string;
  inputs: Record<string, { min: Array<number | string | null>; opt: Array<number | string | null>; max: Array<number | string | null> }>;
}

export interface EngineTactic {
  /** e.g. 'graph' (fused|unfused), 'kv' (gpu|cpu), 'graphCapture' (on|off). */
  name: string;
  chosen: string;
  /** Each candidate with its measured decode tok/s ('prefill': prompt tok/s), or the error it failed with. */
  candidates: Array<{ value: string; tokPerSec?: number; error?: string }>;
  measuredOn: string;
}

export interface EngineManifest {
  format: typeof ENGINE_FORMAT_VERSION;
  builder: { name: 'fuselab'; version: string };
  runtime: { onnxruntimeWeb: string; executionProvider: 'webgpu' | 'wasm' };
  createdAt: string;
  source: { file: string; sha256: string; bytes: number; nodes: number };
  /** The device the engine was built and tuned for. */
  device: DeviceFingerprint;
  /** What the device must have (features, limits), whatever its name. */
  requires: { features: string[]; limits: Record<string, number> };
  graph: { nodes: number; fused: Record<string, number>; opsets: Record<string, number> };
  io: EngineIoContract;
  /**
   * The prompt graph (section `prefill_model`), when the `prefill` tactic chose one: a growing-KV graph
   * of the same weights whose presents are copied into the static KV buffers. Absent: prompts run `model`.
   */
  prefill?: { io: EngineIoContract; nodes: number; fused: Record<string, number> };
  profiles: EngineProfile[];
  /** Per node name → precision ('fp32' unless a precision pass changed it). */
  precision: { method: string; nodes: Record<string, string> };
  tactics: EngineTactic[];
  /** Fused node → source nodes of the original graph (maps per-layer timings back). */
  provenance: Array<{ node: string; opType: string; sources: string[] }>;
  generation: GenerationConfig | null;
  validation: { passed: boolean; tolerance: string; outputs: Array<{ name: string; maxAbsErr: number; maxRelErr: number; cosine: number }> } | null;
  sections: EngineSection[];
}

/** The fields of Hugging Face's generation_config.json the runtime uses. */
export interface GenerationConfig {
  bos_token_id?: number;
  eos_token_id?: number | number[];
  pad_token_id?: number;
  max_length?: number;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  do_sample?: boolean;
}

/** The engine bytes are not an engine, are cut short, or were altered. */
export class EngineFormatError extends FuselabError {
  constructor(file: string, reason: string, what = 'rebuild it with `fuselab build`') {
    super('ENGINE_FORMAT', `${file}: ${reason}; ${what}`);
  }
}

/** A checksum does not match: the file was altered or damaged after it was written. */
export class EngineChecksumError extends FuselabError {
  constructor(file: string, what: string, expected: string, actual: string) {
    super('ENGINE_CHECKSUM', `${file}: ${what} checksum mismatch (manifest says ${expected.slice(0, 16)}…, bytes hash to ${actual.slice(0, 16)}…): the file is damaged or was modified after it was built; rebuild it with \`fuselab build\``);
  }
}

/** The engine was written by another format/builder/runtime version than this one reads. */
export class EngineVersionError extends FuselabError {
  constructor(file: string, message: string) {
    super('ENGINE_VERSION', `${file}: ${message}`);
  }
}

export interface EngineParts {
  manifest: Omit<EngineManifest, 'sections' | 'format'>;
  sections: Array<{ name: EngineSectionName; bytes: Uint8Array; location?: string }>;
}

export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const utf8 = new TextEncoder();

/**
 * Lays out an engine. Returns the chunks to write in order (no concatenation: sections stay the
 * caller's buffers) and the final manifest.
 */
export async function encodeEngine(parts: EngineParts): Promise<{ chunks: Uint8Array[]; manifest: EngineManifest; byteLength: number }> {
  if (!parts.sections.some((s) => s.name === 'model')) throw new FuselabError('ENGINE_BUILD', "an engine needs a 'model' section");
  const hashes = await Promise.all(parts.sections.map((s) => sha256Hex(s.bytes)));
  // The manifest's length depends on the offsets it records: lay out with a guess, re-encode until stable.
  let manifestBytes = new Uint8Array(0);
  let manifest: EngineManifest | null = null;
  for (let guess = 4096, round = 0; round < 8; round++) {
    let offset = align(HEADER_BYTES + guess);
    const sections: EngineSection[] = parts.sections.map((s, i) => {
      const entry: EngineSection = { name: s.name, offset, length: s.bytes.byteLength, sha256: hashes[i], ...(s.location ? { location: s.location } : {}) };
      offset = align(offset + s.bytes.byteLength);
      return entry;
    });
    manifest = { format: ENGINE_FORMAT_VERSION, ...parts.manifest, sections };
    manifestBytes = utf8.encode(JSON.stringify(manifest));
    if (align(HEADER_BYTES + manifestBytes.byteLength) === align(HEADER_BYTES + guess)) break;
    guess = manifestBytes.byteLength;
  }
  if (!manifest) throw new Error('unreachable');
  const header = new Uint8Array(HEADER_BYTES);
  header.set(utf8.encode(ENGINE_MAGIC), 0);
  const dv = new DataView(header.buffer);
  dv.setUint32(8, ENGINE_FORMAT_VERSION, true);
  dv.setUint32(12, manifestBytes.byteLength, true);
  const chunks: Uint8Array[] = [header, manifestBytes];
  let pos = HEADER_BYTES + manifestBytes.byteLength;
  for (let i = 0; i < parts.sections.length; i++) {
    const at = manifest.sections[i].offset;
    if (at > pos) chunks.push(new Uint8Array(at - pos));
    chunks.push(parts.sections[i].bytes);
    pos = at + parts.sections[i].bytes.byteLength;
  }
  const end = align(pos);
  if (end > pos) chunks.push(new Uint8Array(end - pos));
  const trailer = new Uint8Array(TRAILER_BYTES);
  trailer.set(utf8.encode(ENGINE_TRAILER_MAGIC), 0);
  trailer.set(hexBytes(await sha256Hex(manifestBytes)), 8);
  chunks.push(trailer);
  return { chunks, manifest, byteLength: end + TRAILER_BYTES };
}

export interface ParsedEngine {
  manifest: EngineManifest;
  /** Views into the engine bytes (no copies). */
  section(name: EngineSectionName): Uint8Array | null;
  byteLength: number;
}

export interface ParseEngineOptions {
  /** Name used in errors (the file path). */
  file?: string;
  /** Verify every section's SHA-256 (default true; the manifest is always verified). */
  verifySections?: boolean;
  /** Called after the manifest is trusted and before sections are hashed (version/device checks). */
  checkManifest?: (manifest: EngineManifest) => void;
}

/**
 * The manifest of an engine from the first bytes of its file, unverified (null when they don't hold
 * one): enough to choose a runtime (backend, Dawn toggles) before reading and checking the whole file
 * with `parseEngine`. `read(offset, length)` returns up to `length` bytes from `offset`.
 */
export function peekEngineManifest(read: (offset: number, length: number) => Uint8Array): EngineManifest | null {
  const head = read(0, HEADER_BYTES);
  if (head.byteLength < HEADER_BYTES || ascii(head, 0, 8) !== ENGINE_MAGIC) return null;
  const manifestLength = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(12, true);
  if (manifestLength > MAX_MANIFEST_BYTES) return null;
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(read(HEADER_BYTES, manifestLength))) as EngineManifest;
  } catch {
    return null;
  }
}

/** Reads an engine; see the file comment for the order of checks. */
export async function parseEngine(bytes: Uint8Array, options: ParseEngineOptions = {}): Promise<ParsedEngine> {
  const file = options.file ?? '<engine>';
  if (bytes.byteLength < HEADER_BYTES || ascii(bytes, 0, 8) !== ENGINE_MAGIC) {
    const hint = bytes.byteLength >= 8 && bytes[0] === 0x08 ? ' (it looks like an ONNX model: pass it to `fuselab build` first)' : '';
    throw new EngineFormatError(file, `not a Fuselab engine: the file does not start with the magic "FUSELAB"${hint}`, 'pass an .engine file written by `fuselab build`');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = dv.getUint32(8, true);
  if (version > ENGINE_FORMAT_VERSION) throw new EngineVersionError(file, `engine format ${version} is newer than this Fuselab reads (format ${ENGINE_FORMAT_VERSION}): upgrade Fuselab, or rebuild the engine with this version`);
  if (version < ENGINE_FORMAT_VERSION) throw new EngineVersionError(file, `engine format ${version} is older than this Fuselab reads (format ${ENGINE_FORMAT_VERSION}): rebuild it with \`fuselab build\``);
  const manifestLength = dv.getUint32(12, true);
  if (manifestLength > MAX_MANIFEST_BYTES) throw new EngineFormatError(file, `manifest length ${manifestLength} is implausible (over ${MAX_MANIFEST_BYTES} bytes)`);
  if (bytes.byteLength < HEADER_BYTES + manifestLength + TRAILER_BYTES) throw new EngineFormatError(file, `truncated: ${bytes.byteLength} bytes, but the header announces a ${manifestLength}-byte manifest plus a trailer`);
  const trailerAt = bytes.byteLength - TRAILER_BYTES;
  if (ascii(bytes, trailerAt, 8) !== ENGINE_TRAILER_MAGIC) throw new EngineFormatError(file, `truncated or extended: no end marker "${ENGINE_TRAILER_MAGIC}" in the last ${TRAILER_BYTES} bytes (${bytes.byteLength} bytes in all)`);
  const manifestBytes = bytes.subarray(HEADER_BYTES, HEADER_BYTES + manifestLength);
  const expected = hex(bytes.subarray(trailerAt + 8, trailerAt + TRAILER_BYTES));
  const actual = await sha256Hex(manifestBytes);
  if (expected !== actual) throw new EngineChecksumError(file, 'manifest', expected, actual);
  let manifest: EngineManifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes)) as EngineManifest;
  } catch (e) {
    throw new EngineFormatError(file, `manifest is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  checkManifestShape(file, manifest, trailerAt);
  options.checkManifest?.(manifest);
  const views = new Map<EngineSectionName, Uint8Array>();
  for (const s of manifest.sections) views.set(s.name, bytes.subarray(s.offset, s.offset + s.length));
  if (options.verifySections ?? true) {
    for (const s of manifest.sections) {
      const got = await sha256Hex(views.get(s.name) as Uint8Array);
      if (got !== s.sha256) throw new EngineChecksumError(file, `section '${s.name}'`, s.sha256, got);
    }
  }
  return { manifest, section: (name) => views.get(name) ?? null, byteLength: bytes.byteLength };
}

function checkManifestShape(file: string, m: EngineManifest, limit: number): void {
  const need = (cond: unknown, field: string) => { if (!cond) throw new EngineFormatError(file, `manifest field '${field}' is missing or malformed`); };
  need(m && typeof m === 'object', '(root)');
  need(m.format === ENGINE_FORMAT_VERSION, 'format');
  need(m.builder && typeof m.builder.version === 'string', 'builder.version');
  need(m.runtime && typeof m.runtime.onnxruntimeWeb === 'string', 'runtime.onnxruntimeWeb');
  need(m.device && typeof m.device.backend === 'string', 'device');
  need(m.io && typeof m.io.inputIds === 'string' && Array.isArray(m.io.kv), 'io');
  need(Array.isArray(m.sections), 'sections');
  const seen = new Set<string>();
  for (const [i, s] of m.sections.entries()) {
    need(typeof s.name === 'string' && !seen.has(s.name), `sections[${i}].name`);
    seen.add(s.name);
    need(Number.isSafeInteger(s.offset) && Number.isSafeInteger(s.length) && s.offset >= HEADER_BYTES && s.length >= 0, `sections[${i}].offset/length`);
    if (s.offset + s.length > limit) throw new EngineFormatError(file, `truncated: section '${s.name}' ends at byte ${s.offset + s.length} but the data ends at ${limit}`);
    need(typeof s.sha256 === 'string' && /^[0-9a-f]{64}$/.test(s.sha256), `sections[${i}].sha256`);
  }
  need(seen.has('model'), "sections (no 'model')");
}

function align(n: number): number {
  return Math.ceil(n / ENGINE_ALIGNMENT) * ENGINE_ALIGNMENT;
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function hexBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}
