import { describe, expect, it } from 'vitest';
import {
  canonicalDim, dimAdd, dimCeilDiv, dimDivExact, dimEquals, dimFloorDiv, dimMul, dimProduct, dimSub, dimSymbols, substituteDim,
} from '../../src/symbolic.ts';

describe('symbolic dims', () => {
  it('canonicalizes so that equal expressions are equal strings', () => {
    expect(canonicalDim('sequence_length + past_sequence_length')).toBe('past_sequence_length + sequence_length');
    expect(canonicalDim('past_sequence_length + sequence_length')).toBe('past_sequence_length + sequence_length');
    expect(canonicalDim('b*a')).toBe('a*b');
    expect(canonicalDim('2*3')).toBe(6);
    expect(canonicalDim('n - n')).toBe(0);
    expect(canonicalDim('(a + 1) * 2')).toBe('2*a + 2');
    expect(canonicalDim('batch_size')).toBe('batch_size');
    expect(canonicalDim(null)).toBe(null);
    expect(canonicalDim(7)).toBe(7);
  });

  it('adds, subtracts and multiplies symbols and numbers', () => {
    expect(dimAdd('past_sequence_length', 'sequence_length')).toBe('past_sequence_length + sequence_length');
    expect(dimAdd('sequence_length', 'past_sequence_length')).toBe('past_sequence_length + sequence_length');
    expect(dimSub('past_sequence_length + sequence_length', 'sequence_length')).toBe('past_sequence_length');
    expect(dimSub('s', 1)).toBe('s - 1');
    expect(dimAdd('s - 1', 1)).toBe('s');
    expect(dimMul('batch_size', 'sequence_length')).toBe('batch_size*sequence_length');
    expect(dimMul('sequence_length', 'batch_size')).toBe('batch_size*sequence_length');
    expect(dimMul(4, 16)).toBe(64);
    expect(dimMul('s', 0)).toBe(0);
    expect(dimAdd('s', null)).toBe(null);
  });

  it('divides exactly or not at all', () => {
    expect(dimDivExact('64*batch_size*sequence_length', '4*batch_size*sequence_length')).toBe(16);
    expect(dimDivExact('2*s + 2', 2)).toBe('s + 1');
    expect(dimDivExact('2*s + 2', 's + 1')).toBe(2);
    expect(dimDivExact('s', 2)).toBe(null);
    expect(dimDivExact(10, 3)).toBe(null);
    expect(dimDivExact(12, 3)).toBe(4);
    expect(dimFloorDiv('s', 2)).toBe('floor(s/2)');
    expect(dimFloorDiv('a + b', 2)).toBe('floor((a+b)/2)');
    expect(dimFloorDiv(7, 2)).toBe(3);
    expect(dimCeilDiv(7, 2)).toBe(4);
    expect(dimFloorDiv('s', 0)).toBe(null);
  });

  it('reads its own output back (opaque atoms survive a round trip)', () => {
    const f = dimFloorDiv('a + b', 2) as string;
    expect(canonicalDim(f)).toBe(f);
    expect(dimSub(dimAdd(f, 3), 3)).toBe(f);
    expect(canonicalDim('weird name with spaces')).toBe('weird name with spaces');
  });

  it('compares: provably equal, provably different, or unknown', () => {
    expect(dimEquals('a + b', 'b + a')).toBe(true);
    expect(dimEquals('s + 1', 's')).toBe(false);
    expect(dimEquals('s', 't')).toBe(null);
    expect(dimEquals(3, 3)).toBe(true);
    expect(dimEquals(3, 4)).toBe(false);
    expect(dimEquals(null, 3)).toBe(null);
  });

  it('multiplies lists and substitutes symbol values', () => {
    expect(dimProduct(['batch_size', 'sequence_length', 64])).toBe('64*batch_size*sequence_length');
    expect(dimProduct([])).toBe(1);
    expect(dimProduct([2, null])).toBe(null);
    const b = new Map<string, number | string | null>([['batch_size', 2], ['sequence_length', 3], ['past_sequence_length', 5]]);
    expect(substituteDim('past_sequence_length + sequence_length', b)).toBe(8);
    expect(substituteDim('batch_size*sequence_length', b)).toBe(6);
    expect(substituteDim('other', b)).toBe('other');
    expect(substituteDim('2*other + sequence_length', b)).toBe('2*other + 3');
    expect(dimSymbols('past_sequence_length + 2*sequence_length')).toEqual(['past_sequence_length', 'sequence_length']);
  });

  it('gives up (null) instead of building huge expressions', () => {
    let d: string | number | null = 'a';
    for (let i = 0; i < 10; i++) d = dimMul(d, `s${i} + 1`);
    expect(d).toBe(null);
  });
});
