/**
 * Text generation with one of the bundled decoders (`examples/models/<name>/`) on onnxruntime-web's
 * wasm execution provider, in Node: tokenizer from `tokenizer.json` (`@huggingface/tokenizers`),
 * prefill of the prompt, then one token per step with the KV cache (`present.*` fed back as
 * `past_key_values.*`), greedy or seeded temperature / top-k sampling.
 *
 *   npx tsx examples/scripts/generate.ts examples/models/kjv-llama --prompt "And the king said unto"
 *   npx tsx examples/scripts/generate.ts examples/models/kjv-gpt2 --sample --seed 7 --max-new-tokens 80
 *   npx tsx examples/scripts/generate.ts --help
 *
 * The model folder holds `model.onnx` (or pick `--model model.dynamo.onnx`), `config.json` (Hugging
 * Face layout: gpt2 or llama keys), `generation_config.json`, `tokenizer.json` and
 * `tokenizer_config.json`, as `examples/scripts/train_tiny_lm.py export` writes them.
 */
import { prng } from '@fuselab/gpu-runtime';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-web';

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

/** The fields of a Hugging Face `config.json` this runner reads (GPT-2 or Llama naming). */
export interface DecoderConfigJson {
  model_type: string;
  vocab_size: number;
  n_layer?: number;
  n_head?: number;
  n_embd?: number;
  n_positions?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  hidden_size?: number;
  head_dim?: number;
  max_position_embeddings?: number;
}

/** The fields of `generation_config.json` this runner reads. */
export interface GenerationConfigJson {
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id?: number;
  max_length: number;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
}

/** KV-cache geometry of a decoder, from its config.json. */
export interface KvGeometry {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Positions the model was trained for (learned positions stop there; rotary degrades). */
  maxPositions: number;
  vocab: number;
}

/** How to pick the next token. */
export type DecodingStrategy =
  | { kind: 'greedy' }
  | {
      kind: 'sample';
      /** Logits are divided by this before the softmax (> 0). */
      temperature: number;
      /** Keep only the k most likely tokens (0: all). */
      topK: number;
      /** Seed of the sampler's PRNG (mulberry32): the same seed gives the same text. */
      seed: number;
    };

export interface GenerateOptions {
  prompt: string;
  maxNewTokens: number;
  strategy: DecodingStrategy;
  /** Stop when the model emits `<|endoftext|>` (default true). */
  stopAtEos?: boolean;
  /** Called with each new token id and the text decoded so far (for streaming output). */
  onToken?: (id: number, textSoFar: string) => void;
}

export interface GenerateResult {
  /** The prompt's ids as the tokenizer gives them (with the BOS it prepends). */
  promptIds: number[];
  newIds: number[];
  /** The new tokens decoded (special tokens kept). */
  text: string;
  /** Milliseconds of the prefill run and of all decode runs. */
  prefillMs: number;
  decodeMs: number;
  stoppedAtEos: boolean;
}

/** A model folder could not be used; the message names the file and what to do. */
export class ModelFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFolderError';
  }
}

/** Reads the KV-cache geometry from a GPT-2- or Llama-style config.json. */
export function kvGeometry(config: DecoderConfigJson, where = 'config.json'): KvGeometry {
  if (config.model_type === 'gpt2') {
    const { n_layer, n_head, n_embd, n_positions } = config;
    if (!n_layer || !n_head || !n_embd || !n_positions) throw new ModelFolderError(`${where}: gpt2 config needs n_layer, n_head, n_embd, n_positions`);
    return { layers: n_layer, kvHeads: n_head, headDim: n_embd / n_head, maxPositions: n_positions, vocab: config.vocab_size };
  }
  if (config.model_type === 'llama') {
    const { num_hidden_layers, num_attention_heads, hidden_size, max_position_embeddings } = config;
    if (!num_hidden_layers || !num_attention_heads || !hidden_size || !max_position_embeddings) {
      throw new ModelFolderError(`${where}: llama config needs num_hidden_layers, num_attention_heads, hidden_size, max_position_embeddings`);
    }
    return {
      layers: num_hidden_layers,
      kvHeads: config.num_key_value_heads ?? num_attention_heads,
      headDim: config.head_dim ?? hidden_size / num_attention_heads,
      maxPositions: max_position_embeddings,
      vocab: config.vocab_size,
    };
  }
  throw new ModelFolderError(`${where}: model_type '${config.model_type}' is not supported (gpt2 or llama)`);
}

/** mulberry32: a small, fast, seedable 32-bit PRNG returning floats in [0, 1) (gpu-runtime's `prng`). */
export const mulberry32 = prng;

/** Index of the largest value (the first one on ties, as numpy/torch argmax). */
export function argmax(values: Float32Array): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Samples an index from logits with temperature and top-k, drawing one number from `random`. */
export function sampleLogits(logits: Float32Array, temperature: number, topK: number, random: () => number): number {
  if (!(temperature > 0)) throw new RangeError(`temperature must be > 0, got ${temperature}`);
  const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const kept = topK > 0 ? order.slice(0, topK) : order;
  const max = logits[kept[0]];
  const weights = kept.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((s, w) => s + w, 0);
  let r = random() * total;
  for (let j = 0; j < kept.length; j++) {
    r -= weights[j];
    if (r < 0) return kept[j];
  }
  return kept[kept.length - 1];
}

function int64Tensor(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

async function readJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new ModelFolderError(`${path}: cannot read (${(e as Error).message}); a model folder needs config.json, generation_config.json, tokenizer.json, tokenizer_config.json and the .onnx file`);
  }
  return JSON.parse(text) as T;
}

/** A loaded model folder: tokenizer, configs and an onnxruntime-web session. */
export class TextGenerator {
  private constructor(
    readonly dir: string,
    readonly tokenizer: Tokenizer,
    readonly config: DecoderConfigJson,
    readonly generationConfig: GenerationConfigJson,
    readonly geometry: KvGeometry,
    private readonly session: ort.InferenceSession,
  ) {}

  /** Loads `<dir>/<modelFile>` (default model.onnx) with its configs and tokenizer. */
  static async load(dir: string, modelFile = 'model.onnx'): Promise<TextGenerator> {
    const config = await readJson<DecoderConfigJson>(join(dir, 'config.json'));
    const generationConfig = await readJson<GenerationConfigJson>(join(dir, 'generation_config.json'));
    const tokenizerJson = await readJson<object>(join(dir, 'tokenizer.json'));
    const tokenizerConfig = await readJson<object>(join(dir, 'tokenizer_config.json'));
    const geometry = kvGeometry(config, join(dir, 'config.json'));
    const bytes = await readFile(join(dir, modelFile));
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
    const missing = ['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key'].filter((n) => !session.inputNames.includes(n));
    if (missing.length) throw new ModelFolderError(`${join(dir, modelFile)}: not a KV-cache decoder export, inputs ${missing.join(', ')} missing`);
    return new TextGenerator(dir, new Tokenizer(tokenizerJson, tokenizerConfig), config, generationConfig, geometry, session);
  }

  /** Token ids of a prompt as the model expects it (the tokenizer prepends `<|endoftext|>` as BOS). */
  encode(prompt: string): number[] {
    return this.tokenizer.encode(prompt).ids;
  }

  /** Text of token ids; `<|endoftext|>` is kept unless `skipSpecialTokens`. */
  decode(ids: number[], skipSpecialTokens = false): string {
    return ids.length ? this.tokenizer.decode(ids, { skip_special_tokens: skipSpecialTokens }) : '';
  }

  /** Prefill + KV-cache decode. Throws a RangeError past the model's trained positions. */
  async generate(options: GenerateOptions): Promise<GenerateResult> {
    const { layers, kvHeads, headDim, maxPositions } = this.geometry;
    const eos = this.generationConfig.eos_token_id;
    const stopAtEos = options.stopAtEos ?? true;
    const promptIds = this.encode(options.prompt);
    if (promptIds.length + options.maxNewTokens > maxPositions) {
      throw new RangeError(`prompt (${promptIds.length} tokens) + ${options.maxNewTokens} new tokens exceed the model's ${maxPositions} positions`);
    }
    const random = options.strategy.kind === 'sample' ? mulberry32(options.strategy.seed) : null;
    const empty = new Float32Array(0);
    let past: Record<string, ort.Tensor> = {};
    for (let i = 0; i < layers; i++) {
      for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', empty, [1, kvHeads, 0, headDim]);
    }
    const newIds: number[] = [];
    let step = promptIds;
    let total = 0;
    let prefillMs = 0;
    let decodeMs = 0;
    let stoppedAtEos = false;
    while (newIds.length < options.maxNewTokens) {
      const positions = step.map((_, j) => total + j);
      total += step.length;
      const feeds: Record<string, ort.Tensor> = {
        input_ids: int64Tensor(step, [1, step.length]),
        attention_mask: int64Tensor(new Array<number>(total).fill(1), [1, total]),
        position_ids: int64Tensor(positions, [1, step.length]),
        ...past,
      };
      const t0 = performance.now();
      const out = await this.session.run(feeds);
      const dt = performance.now() - t0;
      if (newIds.length === 0) prefillMs = dt;
      else decodeMs += dt;
      const logits = out.logits;
      const vocab = logits.dims[2];
      const last = (logits.data as Float32Array).subarray((step.length - 1) * vocab, step.length * vocab);
      const s = options.strategy;
      const next = s.kind === 'greedy' ? argmax(last) : sampleLogits(last, s.temperature, s.topK, random!);
      newIds.push(next);
      options.onToken?.(next, this.decode(newIds));
      if (stopAtEos && next === eos) {
        stoppedAtEos = true;
        break;
      }
      past = {};
      for (let i = 0; i < layers; i++) {
        for (const kv of ['key', 'value']) past[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
      }
      step = [next];
    }
    return { promptIds, newIds, text: this.decode(newIds), prefillMs, decodeMs, stoppedAtEos };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

const HELP = `Usage: npx tsx examples/scripts/generate.ts <model-folder> [options]

Generates text with a bundled decoder on onnxruntime-web (wasm EP, one thread).

Options:
  --prompt TEXT          the prompt (default "And the king said unto")
  --max-new-tokens N     tokens to generate (default 64)
  --greedy               greedy decoding (default unless --sample)
  --sample               temperature / top-k sampling (defaults from generation_config.json)
  --temperature T        sampling temperature
  --top-k K              keep the K most likely tokens (0: all)
  --seed S               sampler seed (default 0)
  --model FILE           the .onnx file in the folder (default model.onnx; e.g. model.dynamo.onnx)
  --ignore-eos           keep going after <|endoftext|>
  --json                 print a JSON object instead of the text
  -h, --help             this help`;

/** The command line: prints the prompt and its continuation (or JSON). Returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      prompt: { type: 'string', default: 'And the king said unto' },
      'max-new-tokens': { type: 'string', default: '64' },
      greedy: { type: 'boolean', default: false },
      sample: { type: 'boolean', default: false },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      seed: { type: 'string', default: '0' },
      model: { type: 'string', default: 'model.onnx' },
      'ignore-eos': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length !== 1) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (values.greedy && values.sample) {
    console.error('--greedy and --sample exclude each other');
    return 2;
  }
  const gen = await TextGenerator.load(resolve(positionals[0]), values.model);
  const gc = gen.generationConfig;
  const strategy: DecodingStrategy = values.sample
    ? {
        kind: 'sample',
        temperature: Number(values.temperature ?? gc.temperature ?? 1),
        topK: Number(values['top-k'] ?? gc.top_k ?? 0),
        seed: Number(values.seed),
      }
    : { kind: 'greedy' };
  const maxNewTokens = Number(values['max-new-tokens']);
  const res = await gen.generate({ prompt: values.prompt, maxNewTokens, strategy, stopAtEos: !values['ignore-eos'] });
  const decodeSteps = Math.max(1, res.newIds.length - 1);
  if (values.json) {
    console.log(JSON.stringify({ model: positionals[0], file: values.model, strategy, prompt: values.prompt, ...res }, null, 2));
  } else {
    console.log(values.prompt + gen.decode(res.newIds, true));
    console.error(
      `[${strategy.kind}${strategy.kind === 'sample' ? ` T=${strategy.temperature} top-k=${strategy.topK} seed=${strategy.seed}` : ''}] ` +
        `${res.promptIds.length} prompt + ${res.newIds.length} new tokens; prefill ${res.prefillMs.toFixed(1)} ms, ` +
        `decode ${(res.decodeMs / decodeSteps).toFixed(2)} ms/token${res.stoppedAtEos ? ', stopped at <|endoftext|>' : ''}`,
    );
  }
  await gen.release();
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
