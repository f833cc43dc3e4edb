/**
 * Calibration and evaluation batches: text tokenized with the model's own tokenizer (Hugging Face
 * `tokenizer.json`, through `@huggingface/tokenizers`), recorded model inputs, or — allowed, but
 * flagged loudly — random inputs. A batch is one set of feeds for a single forward pass from an empty
 * KV cache; text batches also carry their token ids, so perplexity can be measured on them.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import type { Model } from '@fuselab/graph-core';
import type { HostTensor } from '../ort/host-tensor.ts';
import { randomInputs } from '../ort/inputs.ts';

export interface CalibrationBatch {
  name: string;
  feeds: Record<string, HostTensor>;
  /** Token ids per row (text batches), for perplexity. */
  tokens?: number[][];
}

export interface CalibrationData {
  batches: CalibrationBatch[];
  /** Where the data came from: `text`, `recorded` or `random`. */
  source: 'text' | 'recorded' | 'random';
  /** Set for random data: shown in reports and the UI. */
  warning?: string;
}

export const RANDOM_DATA_WARNING = 'CALIBRATED ON RANDOM DATA: activation ranges come from random token ids, not real text; quantization ranges and any accuracy figures may be far from what real inputs give. Calibrate with --calib TEXT (tokenized with the model\'s tokenizer) or recorded inputs.';

export interface TextBatchOptions {
  /** Tokens per row (default 64). */
  sequenceLength?: number;
  /** Rows per batch (default 4). */
  batchSize?: number;
  /** At most this many batches (default 8). */
  maxBatches?: number;
  /** Only the first this-many characters of the text are tokenized (default 200 000). */
  maxChars?: number;
}

/**
 * Tokenizes `text` with the model's tokenizer and cuts the token stream into rows of
 * `sequenceLength`, `batchSize` rows a batch. Feeds besides `input_ids` (mask, positions, an empty
 * past) follow the model's inputs.
 */
export function textBatches(model: Model, tokenizerJson: object, tokenizerConfig: object, text: string, options: TextBatchOptions = {}): CalibrationData {
  const seq = options.sequenceLength ?? 64;
  const rows = options.batchSize ?? 4;
  const max = options.maxBatches ?? 8;
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  const ids = tokenizer.encode(text.slice(0, options.maxChars ?? 200_000)).ids;
  const batches: CalibrationBatch[] = [];
  for (let b = 0; b < max && (b + 1) * rows * seq <= ids.length; b++) {
    const tokens = Array.from({ length: rows }, (_, r) => ids.slice((b * rows + r) * seq, (b * rows + r + 1) * seq));
    batches.push({ name: `text:${b}`, feeds: tokenFeeds(model, tokens), tokens });
  }
  if (!batches.length) throw new Error(`calibration text gives ${ids.length} tokens, fewer than one batch of ${rows} × ${seq}: give more text or smaller --calib shapes`);
  return { batches, source: 'text' };
}

/** Feeds for rows of token ids from an empty cache (the same number of tokens per row). */
export function tokenFeeds(model: Model, tokens: number[][]): Record<string, HostTensor> {
  const rows = tokens.length;
  const seq = tokens[0].length;
  const feeds = randomInputs(model, { dims: { batch_size: rows, batch: rows, sequence_length: seq, past_sequence_length: 0, total_sequence_length: seq } });
  for (const [name, t] of Object.entries(feeds)) {
    if (!/input_ids/.test(name)) continue;
    const flat = tokens.flat();
    feeds[name] = { dtype: t.dtype, dims: [rows, seq], data: t.dtype === 'int64' ? BigInt64Array.from(flat, (x) => BigInt(x)) : Int32Array.from(flat) };
  }
  return feeds;
}

/** Seeded random batches: allowed for calibration, always with {@link RANDOM_DATA_WARNING}. */
export function randomBatches(model: Model, count = 4, dims: Record<string, number> = { batch_size: 2, batch: 2, sequence_length: 32, past_sequence_length: 0 }): CalibrationData {
  const batches = Array.from({ length: count }, (_, i) => ({ name: `random:${i + 1}`, feeds: randomInputs(model, { dims, seed: i + 1 }) }));
  return { batches, source: 'random', warning: RANDOM_DATA_WARNING };
}

/** Recorded feeds (e.g. from an io.json file) as calibration data. */
export function recordedBatches(sets: Array<{ name: string; feeds: Record<string, HostTensor> }>): CalibrationData {
  return { batches: sets.map((s) => ({ name: s.name, feeds: s.feeds })), source: 'recorded' };
}
