/**
 * The KV-cache IO contract of a decoder model, read from its input/output names (Optimum naming:
 * `past_key_values.N.key|value` → `present.N.key|value`), with the shapes of the past tensors.
 */
import type { Dim, Model } from '@fuselab/graph-core';

export interface KvPair {
  layer: number;
  kind: 'key' | 'value';
  input: string;
  output: string;
  /** Declared dims of the past input, e.g. [batch_size, 12, past_sequence_length, 64]. */
  dims: Dim[];
  dtype: string;
}

export interface DecoderIo {
  inputIds: string;
  attentionMask: string | null;
  positionIds: string | null;
  logits: string;
  kv: KvPair[];
  /** Heads and head size of each KV tensor (from the declared dims). */
  kvHeads: number;
  headDim: number;
}

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

export class DecoderIoError extends Error {
  readonly code = 'DECODER_IO';
  constructor(reason: string) {
    super(`not a KV-cache decoder: ${reason}`);
    this.name = 'DecoderIoError';
  }
}

/** Reads the decoder contract or throws DecoderIoError naming what is missing. */
export function decoderIo(model: Model): DecoderIo {
  const inputs = model.graph.inputs.filter((v) => !v.initializer);
  const outputs = model.graph.outputs;
  const find = (re: RegExp) => inputs.find((v) => re.test(v.name))?.name ?? null;
  const inputIds = find(/^input_ids$/);
  if (!inputIds) throw new DecoderIoError("no 'input_ids' input");
  const logits = outputs.find((v) => v.name === 'logits')?.name;
  if (!logits) throw new DecoderIoError("no 'logits' output");
  const kv: KvPair[] = [];
  for (const v of inputs) {
    const m = PAST.exec(v.name);
    if (!m) continue;
    const output = `present.${m[1]}.${m[2]}`;
    if (!outputs.some((o) => o.name === output)) throw new DecoderIoError(`input '${v.name}' has no matching output '${output}'`);
    kv.push({ layer: Number(m[1]), kind: m[2] as 'key' | 'value', input: v.name, output, dims: [...(v.shape ?? [])], dtype: v.dtype ?? 'float32' });
  }
  kv.sort((a, b) => a.layer - b.layer || a.kind.localeCompare(b.kind));
  const first = kv[0];
  const kvHeads = typeof first?.dims[1] === 'number' ? first.dims[1] : 0;
  const headDim = typeof first?.dims[3] === 'number' ? first.dims[3] : 0;
  if (kv.length && (!kvHeads || !headDim)) throw new DecoderIoError(`cannot read heads/head size from '${first.input}' dims ${JSON.stringify(first.dims)}`);
  return { inputIds, attentionMask: find(/^attention_mask$/), positionIds: find(/^position_ids$/), logits, kv, kvHeads, headDim };
}
