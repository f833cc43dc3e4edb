/**
 * Loading and saving ONNX files on disk, with external data.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { externalizeLarge, loadModel, serializeModel, FuselabError, type LoadModelOptions, type Model, type Tensor } from '@fuselab/graph-core';
import { AtomicFile } from './atomic-write.ts';
import { externalDataResolver, type ExternalDataResolverHandle } from './external-data.ts';
import { openFileSource, type FileSource } from './file-source.ts';

export interface OpenModelOptions extends Omit<LoadModelOptions, 'externalData' | 'file'> {
  /**
   * Read the whole file into memory (zero-copy tensor views) instead of streaming it. Default: files
   * up to 256 MiB are read whole; bigger ones are streamed, their tensor bytes read on demand.
   */
  inMemory?: boolean;
}

/** A model loaded from disk plus the open files behind its lazy tensors. */
export interface ModelFile {
  readonly model: Model;
  readonly path: string;
  readonly byteLength: number;
  /** External-data files referenced by the model (location → bytes on disk, or null if missing). */
  readonly externalFiles: ReadonlyMap<string, number | null>;
  /** Closes the model file and any external-data files. Lazy tensors can't be read afterwards. */
  close(): void;
}

const STREAM_THRESHOLD = 256 * 1024 * 1024;

/** Loads an ONNX file; external data is resolved safely relative to the file's folder. */
export function openModelFile(path: string, options: OpenModelOptions = {}): ModelFile {
  const abs = resolve(path);
  const size = statSync(abs).size;
  const resolver: ExternalDataResolverHandle = externalDataResolver(dirname(abs));
  let source: FileSource | null = null;
  try {
    let model: Model;
    if (options.inMemory ?? size <= STREAM_THRESHOLD) {
      model = loadModel(readFileSync(abs), { ...options, file: path, externalData: resolver });
    } else {
      source = openFileSource(abs);
      model = loadModel({ name: path, byteLength: source.byteLength, read: source.read }, { ...options, externalData: resolver });
    }
    return {
      model,
      path: abs,
      byteLength: size,
      externalFiles: listExternalFiles(model, dirname(abs)),
      close(): void {
        source?.close();
        resolver.close();
      },
    };
  } catch (e) {
    source?.close();
    resolver.close();
    throw e;
  }
}

function listExternalFiles(model: Model, dir: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const t of allTensors(model)) {
    if (t.storage.kind !== 'external' || out.has(t.storage.location)) continue;
    let size: number | null;
    try {
      size = statSync(join(dir, t.storage.location)).size;
    } catch {
      size = null; // missing: reported, not fatal, so inspect can still describe the model
    }
    out.set(t.storage.location, size);
  }
  return out;
}

/** Every tensor of the model: initializers and tensor attributes, in subgraphs and functions too. */
export function* allTensors(model: Model): Iterable<Tensor> {
  const graphs = [model.graph, ...[...model.functions.values()].map((f) => f.body)];
  for (const root of graphs) {
    const stack = [root];
    while (stack.length) {
      const g = stack.pop()!;
      for (const v of g.initializers.values()) if (v.initializer) yield v.initializer;
      for (const n of g.nodes) {
        for (const a of n.attributes.values()) {
          if (a.type === 'tensor') yield a.value;
          else if (a.type === 'tensors') yield* a.value;
        }
        stack.push(...n.subgraphs());
      }
    }
  }
}

export interface SaveModelOptions {
  /**
   * Store tensors of at least `threshold` bytes (default 1024) in one external-data file `location`
   * (relative to the model's folder). Needed for models over 2 GiB.
   */
  externalData?: { location?: string; threshold?: number; alignment?: number };
}

export class SaveModelError extends FuselabError {
  constructor(path: string, reason: string) {
    super('SAVE_MODEL', `${path}: ${reason}`);
  }
}

/**
 * Writes `model` to `path` atomically (temp file + rename). With `externalData`, big tensors are
 * streamed one by one into the data file (never all in memory), then the small protobuf is written.
 */
export function saveModelFile(model: Model, path: string, options: SaveModelOptions = {}): { bytes: number; externalBytes: number } {
  const abs = resolve(path);
  const ext = options.externalData;
  if (!ext) {
    const encoded = serializeModel(model);
    const f = new AtomicFile(abs);
    try {
      for (const c of encoded.chunks) f.write(c);
      f.commit();
    } catch (e) {
      f.abort();
      throw e;
    }
    return { bytes: encoded.byteLength, externalBytes: 0 };
  }
  const location = ext.location ?? `${basename(abs)}.data`;
  if (location.includes('/') || location.includes('\\') || location === '..' || location === '.') {
    throw new SaveModelError(abs, `external data location '${location}' must be a plain file name next to the model`);
  }
  const alignment = ext.alignment ?? 64;
  const data = new AtomicFile(join(dirname(abs), location));
  const proto = new AtomicFile(abs);
  try {
    const encoded = serializeModel(model, {
      inlineExternal: true,
      externalize: externalizeLarge(location, ext.threshold ?? 1024, (bytes) => {
        data.align(alignment);
        const offset = data.bytesWritten;
        data.write(bytes);
        return offset;
      }),
    });
    for (const c of encoded.chunks) proto.write(c);
    const externalBytes = data.bytesWritten;
    data.commit();
    proto.commit();
    return { bytes: encoded.byteLength, externalBytes };
  } catch (e) {
    data.abort();
    proto.abort();
    throw e;
  }
}
