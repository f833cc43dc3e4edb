/**
 * Loading and serializing whole models: bytes/sources ↔ IR. File-system access lives in
 * `@fuselab/node-io` (Node) or the browser worker; this module only sees byte sources.
 */
import { memorySource, type RandomAccessSource } from './io/byte-source.ts';
import { modelFromProto } from './ir/from-proto.ts';
import type { Model } from './ir/model.ts';
import type { ExternalDataResolver } from './ir/tensor.ts';
import { modelToProto, type ToProtoOptions } from './ir/to-proto.ts';
import { concatChunks, decodeModel, encodeModel, type DecodeOptions, type EncodedModel } from './proto/index.ts';
import { FuselabError } from './errors.ts';

export interface LoadModelOptions extends DecodeOptions {
  /** Name used in error messages when `input` is a byte array. */
  file?: string;
  /** Opens external-data files relative to the model (see `@fuselab/node-io`). */
  externalData?: ExternalDataResolver;
}

/** The largest protobuf message onnxruntime (and protobuf itself) accepts: 2 GiB - 1. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

/** The serialized model would exceed protobuf's 2 GiB limit. */
export class ModelTooLargeError extends FuselabError {
  constructor(bytes: number) {
    super('MODEL_TOO_LARGE', `the serialized model would be ${bytes} bytes, over protobuf's 2 GiB limit; save it with external data (saveModel(..., { externalData: { location } }))`);
  }
}

/**
 * Parses an ONNX model from bytes or a random-access source. In-memory bytes give zero-copy tensor
 * views; a source without `bytes` is streamed (big raw_data stays on disk until read).
 */
export function loadModel(input: Uint8Array | RandomAccessSource, options: LoadModelOptions = {}): Model {
  const source = input instanceof Uint8Array ? memorySource(input, options.file ?? '<memory>') : input;
  const proto = decodeModel(source, options);
  return modelFromProto(proto, { file: source.name, source, externalData: options.externalData });
}

/** Serializes a model to a rope of byte chunks (big tensors are not copied). */
export function serializeModel(model: Model, options: ToProtoOptions & { allowOversize?: boolean } = {}): EncodedModel {
  const encoded = encodeModel(modelToProto(model, options));
  if (encoded.byteLength > PROTOBUF_LIMIT && !options.allowOversize) throw new ModelTooLargeError(encoded.byteLength);
  return encoded;
}

/** Serializes a model into one contiguous buffer (small models, tests, browser downloads). */
export function serializeModelToBytes(model: Model, options: ToProtoOptions = {}): Uint8Array {
  return concatChunks(serializeModel(model, options));
}

/** A model serialized with its big tensors in one external-data blob (both in memory). */
export interface SplitModel {
  /** The ONNX protobuf, its big tensors referring to `location`. */
  model: Uint8Array;
  /** The external data: the referred tensors, each at a 64-byte aligned offset. */
  weights: Uint8Array;
  location: string;
}

/**
 * Serializes a model with every tensor of `threshold` bytes or more moved to one in-memory external
 * blob (onnxruntime-web's `externalData` option takes it as `{ path: location, data: weights }`).
 * onnxruntime-web copies an inline model into its wasm heap and then copies each initializer out of
 * it: a 1.5 GB single-file model needs ~3 GB of a 4 GiB heap. With the weights external they are
 * copied once.
 */
export function serializeModelSplit(model: Model, options: { location?: string; threshold?: number; alignment?: number } = {}): SplitModel {
  const { models, weights, location } = serializeModelsSplit([model], options);
  return { model: models[0], weights, location };
}

/**
 * `serializeModelSplit` for several models over one weights blob: a tensor whose bytes another model
 * already put there is referred to, not stored again (e.g. an engine's decode graph and its prompt
 * graph, two fusions of the same weights).
 */
export function serializeModelsSplit(models: readonly Model[], options: { location?: string; threshold?: number; alignment?: number } = {}): { models: Uint8Array[]; weights: Uint8Array; location: string } {
  const location = options.location ?? 'model.onnx.data';
  const alignment = options.alignment ?? 64;
  const parts: Array<{ offset: number; bytes: Uint8Array }> = [];
  // stored tensors by length and a sampled hash; equal bytes share one offset
  const stored = new Map<string, Array<{ offset: number; bytes: Uint8Array }>>();
  let size = 0;
  const place = (bytes: Uint8Array): number => {
    const key = `${bytes.byteLength}:${sampledHash(bytes)}`;
    const same = stored.get(key)?.find((p) => sameBytes(p.bytes, bytes));
    if (same) return same.offset;
    const offset = Math.ceil(size / alignment) * alignment;
    const part = { offset, bytes };
    parts.push(part);
    stored.set(key, [...(stored.get(key) ?? []), part]);
    size = offset + bytes.byteLength;
    return offset;
  };
  const encoded = models.map((model) => concatChunks(serializeModel(model, { inlineExternal: true, externalize: externalizeLarge(location, options.threshold ?? 1024, place) })));
  const weights = new Uint8Array(size);
  for (const p of parts) weights.set(p.bytes, p.offset);
  return { models: encoded, weights, location };
}

/** FNV-1a over up to 4096 evenly spaced bytes (a bucket key; `sameBytes` decides). */
function sampledHash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  const step = Math.max(1, Math.floor(b.byteLength / 4096));
  for (let i = 0; i < b.byteLength; i += step) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  if (a.buffer === b.buffer && a.byteOffset === b.byteOffset) return true;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The `externalize` rule both external-data writers share (the in-memory split above, node-io's
 * `saveModelFile` on disk): tensors of `threshold` bytes or more, never strings, go to `location`,
 * at the offset `place` gives their bytes.
 */
export function externalizeLarge(location: string, threshold: number, place: (bytes: Uint8Array) => number): NonNullable<ToProtoOptions['externalize']> {
  return (t) => {
    if (t.dtype === 'string') return undefined;
    const len = t.byteLength ?? t.expectedByteLength ?? 0;
    if (len < threshold) return undefined;
    const bytes = t.bytes();
    return { location, offset: place(bytes), length: bytes.byteLength };
  };
}
