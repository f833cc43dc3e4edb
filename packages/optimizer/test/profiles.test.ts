import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { formatProfile, parseProfileArg, parseProfiles, profileDim, profileDimValues, profileShapes, ProfileError, resolveProfile } from '../src/profiles.ts';

const fixture = (name: string) => loadModel(readFileSync(new URL(`../../../examples/fixtures/${name}.onnx`, import.meta.url)));

describe('profiles: the CLI form', () => {
  it('parses NAME:INPUT=MIN,OPT,MAX with several inputs, and formats it back', () => {
    const p = parseProfileArg('prefill:input_ids=1x1,1x128,1x512;attention_mask=1x1,1x128,1x512');
    expect(p).toEqual({
      name: 'prefill',
      inputs: {
        input_ids: { min: [1, 1], opt: [1, 128], max: [1, 512] },
        attention_mask: { min: [1, 1], opt: [1, 128], max: [1, 512] },
      },
    });
    expect(parseProfileArg(formatProfile(p))).toEqual(p);
  });

  it('reads one shape as min = opt = max, symbols as free named dims, `scalar` as rank 0', () => {
    const p = parseProfileArg('decode:input_ids=Bx1;step=scalar');
    expect(p.inputs.input_ids).toEqual({ min: ['B', 1], opt: ['B', 1], max: ['B', 1] });
    expect(profileDim(p.inputs.input_ids, 0)).toEqual({ kind: 'named', symbol: 'B' });
    expect(profileDim(p.inputs.input_ids, 1)).toEqual({ kind: 'frozen', value: 1 });
    expect(p.inputs.step.min).toEqual([]);
    expect(profileDim(parseProfileArg('p:x=1x8,1x64,1x512').inputs.x, 1)).toEqual({ kind: 'range', min: 8, opt: 64, max: 512 });
  });

  it('merges repeated --profile flags of one name', () => {
    const ps = parseProfiles(['decode:input_ids=1x1', 'prefill:input_ids=1x1,1x64,1x128', 'decode:position_ids=1x1']);
    expect(ps.map((p) => [p.name, Object.keys(p.inputs)])).toEqual([['decode', ['input_ids', 'position_ids']], ['prefill', ['input_ids']]]);
  });

  it.each([
    ['decode', /expected NAME:INPUT=MIN,OPT,MAX/],
    ['de code:x=1', /profile name 'de code'/],
    ['p:x=1x1,1x1', /expected one shape or MIN,OPT,MAX, got 2/],
    ['p:x=1x-1', /dim '-1' in '1x-1' is neither a non-negative integer nor a symbol/],
    ['p:x=1x8,1x4,1x16', /dim 1: need 0 ≤ min ≤ opt ≤ max, got 8, 4, 16/],
    ['p:x=Bx1,1x1,1x1', /dim 0: min\/opt\/max B, 1, 1 must be three numbers or the same symbol three times/],
    ['p:x=1x1,1x1x1,1x1', /min\/opt\/max have different ranks/],
    ['p:x=1;x=2', /input 'x': is given twice/],
    ['p:', /names no inputs/],
  ])('rejects %s', (arg, why) => {
    expect(() => parseProfileArg(arg)).toThrow(ProfileError);
    expect(() => parseProfileArg(arg)).toThrow(why);
  });
});

describe('profiles against a model', () => {
  const kv = fixture('gpt2-tiny-kv');

  it('binds frozen symbols across inputs and keeps the rest symbolic', () => {
    const r = resolveProfile(kv, parseProfileArg('decode:input_ids=1x1'));
    expect(r.bindings).toEqual({ batch_size: 1, sequence_length: 1 });
    expect(r.frozen).toEqual({ input_ids: [0, 1] });
    expect(r.inputShapes.input_ids).toEqual([1, 1]);
    expect(r.inputShapes.attention_mask).toEqual([1, 'past_sequence_length + 1']);
    expect(r.inputShapes['past_key_values.0.key']).toEqual([1, 4, 'past_sequence_length', 16]);
  });

  it('renames a symbol a profile names, and leaves ranges symbolic', () => {
    const r = resolveProfile(kv, parseProfileArg('any:input_ids=Bx1,Bx1,Bx1;past_key_values.0.key=Bx4x0x16,Bx4x64x16,Bx4x127x16'));
    expect(r.bindings).toEqual({ batch_size: 'B', sequence_length: 1 });
    expect(r.inputShapes.attention_mask).toEqual(['B', 'past_sequence_length + 1']);
    expect(r.inputShapes['past_key_values.0.key']).toEqual(['B', 4, 'past_sequence_length', 16]);
  });

  it.each([
    ['p:ids=1x1', /input 'ids': is not an input of the model \(inputs: input_ids, attention_mask, position_ids/],
    ['p:input_ids=1x1x1', /has rank 3 but the model declares 2 dims \[batch_size,sequence_length\]/],
    ['p:past_key_values.0.key=1x8x4x16', /dim 1 is 4 in the model; the profile freezes it to 8/],
    ['p:input_ids=1x1;position_ids=2x1', /'batch_size' is 1 for input_ids\[0\] but 2 for position_ids\[0\]/],
    ['p:input_ids=1x1;position_ids=1x1,1x4,1x8', /dim 1 \('sequence_length'\) ranges 1..8 but input_ids\[1\] freezes 'sequence_length' to 1/],
  ])('rejects %s', (arg, why) => {
    expect(() => resolveProfile(kv, parseProfileArg(arg))).toThrow(why);
  });

  it('gives concrete symbol values and shapes for the runtime and for validation inputs', () => {
    const p = parseProfileArg('decode:input_ids=1x1;past_key_values.0.key=1x4x0x16,1x4x64x16,1x4x127x16');
    expect(profileDimValues(kv, p)).toEqual({ batch_size: 1, sequence_length: 1, past_sequence_length: 64 });
    expect(profileDimValues(kv, p, 'max')).toEqual({ batch_size: 1, sequence_length: 1, past_sequence_length: 127 });
    expect(profileShapes(p, 'min')).toEqual({ input_ids: [1, 1], 'past_key_values.0.key': [1, 4, 0, 16] });
  });
});
