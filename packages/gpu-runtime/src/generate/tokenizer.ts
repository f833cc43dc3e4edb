/**
 * Tokenizers from Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) through
 * `@huggingface/tokenizers` (pure JS: runs in a worker, Node and Electron alike).
 */
import { FuselabError } from '@fuselab/graph-core';
import { Tokenizer } from '@huggingface/tokenizers';
import type { TextCodec } from './generator.ts';

export class TokenizerError extends FuselabError {
  constructor(where: string, reason: string) {
    super('TOKENIZER', `${where}: ${reason}`);
  }
}

/** Parses tokenizer.json (bytes, text or object) into a codec; `skipSpecialTokens` applies to decode. */
export function createTokenizer(tokenizerJson: Uint8Array | string | object, tokenizerConfig: Uint8Array | string | object | null = null, options: { skipSpecialTokens?: boolean; where?: string } = {}): TextCodec {
  const where = options.where ?? 'tokenizer.json';
  const asObject = (v: Uint8Array | string | object, name: string): object => {
    if (v instanceof Uint8Array) v = new TextDecoder().decode(v);
    if (typeof v === 'string') {
      try {
        return JSON.parse(v) as object;
      } catch (e) {
        throw new TokenizerError(name, `not valid JSON (${(e as Error).message})`);
      }
    }
    return v;
  };
  const json = asObject(tokenizerJson, where);
  if (!('model' in json)) throw new TokenizerError(where, "no 'model' field: not a Hugging Face tokenizer.json");
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, tokenizerConfig ? asObject(tokenizerConfig, 'tokenizer_config.json') : {});
  } catch (e) {
    throw new TokenizerError(where, `cannot build the tokenizer (${(e as Error).message})`);
  }
  const skip = options.skipSpecialTokens ?? false;
  return {
    encode: (text) => tok.encode(text).ids,
    decode: (ids) => (ids.length ? tok.decode(ids, { skip_special_tokens: skip }) : ''),
  };
}
