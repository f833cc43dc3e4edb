/**
 * What a decoder needs beside its graph to be a chat-able model — tokenizer.json,
 * tokenizer_config.json, generation_config.json and config.json (its context length) — fetched from
 * the model's folder (bundled examples are served under /examples/) or picked by the user.
 */
import type { GenerationConfig } from '@fuselab/gpu-runtime';

export interface ModelAssets {
  /** Where they came from (a folder URL, or "picked files"). */
  from: string;
  tokenizer: Uint8Array | null;
  tokenizerConfig: Uint8Array | null;
  generation: GenerationConfig | null;
  /** The model's trained positions (config.json), the context limit without a profile. */
  maxPositions: number | null;
}

export const NO_ASSETS: ModelAssets = { from: '', tokenizer: null, tokenizerConfig: null, generation: null, maxPositions: null };

export type Fetcher = (url: string) => Promise<Uint8Array | null>;

/** fetch() that answers null for a missing file instead of throwing. */
export const httpFetcher: Fetcher = async (url) => {
  try {
    const r = await fetch(url);
    return r.ok ? new Uint8Array(await r.arrayBuffer()) : null;
  } catch {
    return null;
  }
};

function parseJson<T>(bytes: Uint8Array | null, what: string): T | null {
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (e) {
    throw new Error(`${what}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

function maxPositionsOf(config: Record<string, unknown> | null): number | null {
  const pos = config?.n_positions ?? config?.max_position_embeddings;
  return typeof pos === 'number' ? pos : null;
}

/** The files beside a model URL (`/examples/models/kjv-llama/model.onnx` → that folder's files). */
export async function assetsBeside(modelUrl: string, fetcher: Fetcher = httpFetcher): Promise<ModelAssets> {
  const dir = modelUrl.slice(0, modelUrl.lastIndexOf('/') + 1);
  const [tokenizer, tokenizerConfig, generation, config] = await Promise.all(['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json'].map((f) => fetcher(dir + f)));
  return {
    from: dir,
    tokenizer,
    tokenizerConfig,
    generation: parseJson<GenerationConfig>(generation, `${dir}generation_config.json`),
    maxPositions: maxPositionsOf(parseJson(config, `${dir}config.json`)),
  };
}

/** Files the user picked (any of the four, by name). */
export async function assetsFromFiles(files: ReadonlyArray<{ name: string; arrayBuffer(): Promise<ArrayBuffer> }>, base: ModelAssets = NO_ASSETS): Promise<ModelAssets> {
  const out: ModelAssets = { ...base, from: files.map((f) => f.name).join(', ') };
  for (const f of files) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    const name = f.name.split(/[\\/]/).pop() ?? f.name;
    if (name === 'tokenizer_config.json') out.tokenizerConfig = bytes;
    else if (name === 'generation_config.json') out.generation = parseJson(bytes, name);
    else if (name === 'config.json') out.maxPositions = maxPositionsOf(parseJson(bytes, name));
    else if (/tokenizer.*\.json$/.test(name)) out.tokenizer = bytes;
    else throw new Error(`${name}: expected tokenizer.json, tokenizer_config.json, generation_config.json or config.json`);
  }
  return out;
}
