/**
 * The project's byte-level BPE (trained and implemented in Python, examples/scripts/bpe_tokenizer.py)
 * loaded by `@huggingface/tokenizers` (pure JS): same ids, same decoded text, for every recorded case
 * and for the whole validation text.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';

const examples = new URL('../', import.meta.url);
const readText = (rel: string): string => readFileSync(new URL(rel, examples), 'utf8');

interface TokenizerCase {
  text: string;
  ids: number[];
  ids_without_special: number[];
  decoded: string;
  decoded_skip_special: string;
}
interface TokenizerCases {
  cases: TokenizerCase[];
  whole_file: { file: string; ids_count: number; ids_sha256: string };
}

const cases = JSON.parse(readText('data/tokenizer-cases.json')) as TokenizerCases;
const EOT = '<|endoftext|>';
const VOCAB = 2048;

function load(model: string): Tokenizer {
  return new Tokenizer(JSON.parse(readText(`models/${model}/tokenizer.json`)) as object, JSON.parse(readText(`models/${model}/tokenizer_config.json`)) as object);
}
const tok = load('kjv-gpt2');

describe('tokenizer.json of the KJV models in @huggingface/tokenizers', () => {
  it('is the same file for both models, with <|endoftext|> as the last id', () => {
    expect(readText('models/kjv-llama/tokenizer.json')).toBe(readText('models/kjv-gpt2/tokenizer.json'));
    expect(readText('models/kjv-llama/tokenizer_config.json')).toBe(readText('models/kjv-gpt2/tokenizer_config.json'));
    expect(tok.token_to_id(EOT)).toBe(VOCAB - 1);
    expect(tok.get_vocab().size).toBe(VOCAB);
    // ids 0..255 are the bytes (id = byte value), in GPT-2's printable byte alphabet: space is 'Ġ'
    expect([tok.id_to_token(65), tok.id_to_token(32), tok.id_to_token(10)]).toEqual(['A', 'Ġ', 'Ċ']);
  });

  it('prepends <|endoftext|> as BOS unless asked not to', () => {
    expect(tok.encode('In the beginning').ids[0]).toBe(VOCAB - 1);
    expect(tok.encode('In the beginning', { add_special_tokens: false }).ids[0]).not.toBe(VOCAB - 1);
    expect(tok.encode('').ids).toEqual([VOCAB - 1]);
  });

  it(`encodes all ${cases.cases.length} recorded texts to the Python implementation's ids`, () => {
    const mismatches = cases.cases.filter((c) => JSON.stringify(tok.encode(c.text).ids) !== JSON.stringify(c.ids)).map((c) => c.text);
    expect(mismatches).toEqual([]);
    const noSpecial = cases.cases.filter((c) => JSON.stringify(tok.encode(c.text, { add_special_tokens: false }).ids) !== JSON.stringify(c.ids_without_special));
    expect(noSpecial.map((c) => c.text)).toEqual([]);
  });

  it('decodes the ids to the Python decodings, with and without special tokens', () => {
    for (const c of cases.cases) {
      expect(tok.decode(c.ids), JSON.stringify(c.text)).toBe(c.decoded);
      expect(tok.decode(c.ids, { skip_special_tokens: true }), JSON.stringify(c.text)).toBe(c.decoded_skip_special);
    }
  });

  it('round-trips every text exactly (byte-level: no normalization, no clean-up of spaces)', () => {
    for (const c of cases.cases.filter((x) => x.text.length > 0)) {
      expect(tok.decode(tok.encode(c.text, { add_special_tokens: false }).ids)).toBe(c.text);
    }
    // Clean-up of tokenization spaces (" ." -> ".") is off in tokenizer_config.json.
    expect(tok.decode(tok.encode('word , word . word !', { add_special_tokens: false }).ids)).toBe('word , word . word !');
  });

  it('encodes the whole validation text to the same ids as Python', () => {
    const text = readText(cases.whole_file.file.replace(/^examples\//, ''));
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    expect(ids.length).toBe(cases.whole_file.ids_count);
    expect(createHash('sha256').update(ids.join(',')).digest('hex')).toBe(cases.whole_file.ids_sha256);
    expect(text.length / ids.length).toBeGreaterThan(3); // BPE merges words: > 3 characters per token
  });
});
