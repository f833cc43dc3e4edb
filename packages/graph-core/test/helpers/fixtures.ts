/**
 * The project's fixture models (`examples/fixtures/`): the manifest, each model's bytes, its
 * recorded inputs/outputs (`<name>.io.json`: base64 little-endian data, see
 * examples/scripts/README.md#io-json) and its external data files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OrtData, OrtTensorValue } from './ort.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const FIXTURES_DIR = join(REPO_ROOT, 'examples/fixtures');

/** One input or output as the manifest declares it. */
export interface FixtureIO {
  name: string;
  dtype: string;
  /** Declared dims: numbers and symbols (`batch_size`, `past_sequence_length + sequence_length`). */
  dims: Array<number | string | null> | null;
  /** The concrete dims of the recorded io.json data. */
  recorded_dims?: number[];
}

export interface FixtureEntry {
  name: string;
  /** Model path relative to the fixtures folder. */
  file: string;
  architecture: string;
  exporter: string;
  opset: number;
  opset_imports: Record<string, number>;
  has_kv: boolean;
  io: string;
  node_count: number;
  inputs: FixtureIO[];
  outputs: FixtureIO[];
  /** Set when the model keeps its weights in one external file. */
  external_data?: { location: string; file: string };
}

export interface FixtureManifest {
  generator: string;
  fixtures: FixtureEntry[];
}

/** A recorded run: inputs, expected outputs, tolerance. */
export interface FixtureIo {
  inputs: Record<string, OrtTensorValue>;
  outputs: Record<string, OrtTensorValue>;
  tolerance: { atol: number; rtol: number };
  note?: string;
}

interface RawTensor {
  dtype: string;
  dims: number[];
  data: string;
}

/** The manifest, or null when the fixtures have not been generated. */
export function readManifest(): FixtureManifest | null {
  const path = join(FIXTURES_DIR, 'manifest.json');
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, 'utf8')) as FixtureManifest;
}

/** The fixtures listed in the manifest (empty when there is none). */
export function listFixtures(): FixtureEntry[] {
  return readManifest()?.fixtures ?? [];
}

export function fixturePath(entry: FixtureEntry): string {
  return join(FIXTURES_DIR, entry.file);
}

/** The model file's bytes. */
export function fixtureBytes(entry: FixtureEntry): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(entry)));
}

/**
 * External-data files of a fixture, as onnxruntime-web's `externalData` option wants them
 * (`{ path: location, data }`), from the manifest's `external_data` entry.
 */
export function fixtureExternalData(entry: FixtureEntry): Array<{ path: string; data: Uint8Array }> | undefined {
  const ext = entry.external_data;
  if (!ext) return undefined;
  return [{ path: ext.location, data: new Uint8Array(readFileSync(join(FIXTURES_DIR, ext.file))) }];
}

/** Reads `<name>.io.json` and decodes its tensors. */
export function readFixtureIo(entry: FixtureEntry): FixtureIo {
  const raw = JSON.parse(readFileSync(join(FIXTURES_DIR, entry.io), 'utf8')) as {
    inputs: Record<string, RawTensor>;
    outputs: Record<string, RawTensor>;
    tolerance: { atol: number; rtol: number };
    note?: string;
  };
  const decode = (m: Record<string, RawTensor>): Record<string, OrtTensorValue> =>
    Object.fromEntries(Object.entries(m).map(([k, t]) => [k, decodeTensor(t)]));
  return { inputs: decode(raw.inputs), outputs: decode(raw.outputs), tolerance: raw.tolerance, note: raw.note };
}

/** Decodes one io.json tensor (base64 little-endian bytes). */
export function decodeTensor(t: RawTensor): OrtTensorValue {
  const bytes = Buffer.from(t.data, 'base64');
  const buf = new Uint8Array(bytes.byteLength);
  buf.set(bytes);
  const ab = buf.buffer;
  let data: OrtData;
  switch (t.dtype) {
    case 'float32': data = new Float32Array(ab); break;
    case 'float64': data = new Float64Array(ab); break;
    case 'float16': data = new Uint16Array(ab); break;
    case 'int64': data = new BigInt64Array(ab); break;
    case 'int32': data = new Int32Array(ab); break;
    case 'int8': data = new Int8Array(ab); break;
    case 'uint8': case 'bool': data = new Uint8Array(ab); break;
    default: throw new Error(`io.json tensor type '${t.dtype}' is not handled by the fixture helper`);
  }
  return { dtype: t.dtype, dims: t.dims, data };
}
