/**
 * A small algebra over symbolic dimensions. A `Dim` string is read as an integer polynomial over
 * symbols (`batch_size*sequence_length`, `past_sequence_length + sequence_length - 1`), and every
 * result is written back in one canonical form — terms sorted by their symbols, the constant last —
 * so that two equal expressions are equal strings. Anything the algebra does not model (a division
 * that does not come out exact, a name with spaces) becomes an opaque atom: still comparable for
 * equality, never expanded.
 *
 * Results that would grow past a few terms give up and return `null` (unknown): shapes are small,
 * and an unreadable 40-term expression helps nobody.
 */
import type { Dim } from './ir/shape.ts';

/** Monomial key (atoms sorted, joined with SEP; '' for the constant term) → integer coefficient. */
type Poly = Map<string, number>;

/** Joins atoms inside monomial keys; cannot appear in a dim name (atoms may contain `*`). */
const SEP = '\u0001';

const MAX_TERMS = 12;
const MAX_DEGREE = 6;
const IDENT = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const parseCache = new Map<string, Poly | null>();
const PARSE_CACHE_LIMIT = 4096;

function constPoly(n: number): Poly {
  const p: Poly = new Map();
  if (n !== 0) p.set('', n);
  return p;
}

function atomPoly(atom: string): Poly {
  return new Map([[atom, 1]]);
}

function atomsOf(key: string): string[] {
  return key === '' ? [] : key.split(SEP);
}

/** Canonical text of a polynomial, or its value when constant. */
function polyToDim(p: Poly): Dim {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('') as number;
  const keys = [...p.keys()].sort(compareKeys);
  let out = '';
  for (const k of keys) {
    const c = p.get(k) as number;
    const mag = Math.abs(c);
    const atoms = k.split(SEP).join('*');
    const body = k === '' ? String(mag) : mag === 1 ? atoms : `${mag}*${atoms}`;
    if (out === '') out = c < 0 ? `-${body}` : body;
    else out += c < 0 ? ` - ${body}` : ` + ${body}`;
  }
  return out;
}

/** Higher degree first, then lexicographic; the constant term last. */
function compareKeys(a: string, b: string): number {
  if (a === '') return 1;
  if (b === '') return -1;
  const da = a.split(SEP).length;
  const db = b.split(SEP).length;
  if (da !== db) return db - da;
  return a < b ? -1 : a > b ? 1 : 0;
}

function addInto(p: Poly, key: string, c: number): void {
  const v = (p.get(key) ?? 0) + c;
  if (v === 0) p.delete(key);
  else p.set(key, v);
}

function polyAdd(a: Poly, b: Poly, sign = 1): Poly | null {
  const out: Poly = new Map(a);
  for (const [k, c] of b) addInto(out, k, sign * c);
  return out.size > MAX_TERMS ? null : out;
}

function polyMul(a: Poly, b: Poly): Poly | null {
  const out: Poly = new Map();
  for (const [ka, ca] of a) {
    for (const [kb, cb] of b) {
      const atoms = [...atomsOf(ka), ...atomsOf(kb)];
      if (atoms.length > MAX_DEGREE) return null;
      atoms.sort();
      addInto(out, atoms.join(SEP), ca * cb);
    }
  }
  return out.size > MAX_TERMS ? null : out;
}

/** Exact division: by a monomial (every term divisible), or by a polynomial `a = k·b`. */
function polyDivExact(a: Poly, b: Poly): Poly | null {
  if (b.size === 0) return null;
  if (a.size === 0) return new Map();
  if (b.size === 1) {
    const [[kb, cb]] = [...b];
    const divisorAtoms = atomsOf(kb);
    const out: Poly = new Map();
    for (const [ka, ca] of a) {
      if (ca % cb !== 0) return null;
      const atoms = atomsOf(ka);
      for (const d of divisorAtoms) {
        const i = atoms.indexOf(d);
        if (i < 0) return null;
        atoms.splice(i, 1);
      }
      addInto(out, atoms.join(SEP), ca / cb);
    }
    return out;
  }
  // a = k * b for an integer k?
  if (a.size !== b.size) return null;
  let k: number | null = null;
  for (const [kb, cb] of b) {
    const ca = a.get(kb);
    if (ca === undefined || ca % cb !== 0) return null;
    const r = ca / cb;
    if (k === null) k = r;
    else if (k !== r) return null;
  }
  return k === null ? null : constPoly(k);
}

// ---- parsing ------------------------------------------------------------------------------------

/** Parses a dim into a polynomial. Unparseable text is one opaque atom (never fails). */
function toPoly(d: number | string): Poly | null {
  if (typeof d === 'number') return Number.isSafeInteger(d) ? constPoly(d) : null;
  if (IDENT.test(d)) return atomPoly(d);
  const cached = parseCache.get(d);
  if (cached !== undefined) return cached;
  let p: Poly | null;
  try {
    p = new Parser(d).parse();
  } catch {
    p = null;
  }
  if (!p) p = atomPoly(d);
  if (parseCache.size >= PARSE_CACHE_LIMIT) parseCache.clear();
  parseCache.set(d, p);
  return p;
}

class ParseFailure extends Error {}

/** expr := term (('+'|'-') term)* ; term := unary (('*'|'/'|'//') unary)* ; unary := '-' unary | atom */
class Parser {
  private i = 0;
  constructor(private readonly s: string) {}

  parse(): Poly | null {
    const p = this.expr();
    this.ws();
    if (this.i !== this.s.length) throw new ParseFailure();
    return p;
  }

  private ws(): void {
    while (this.i < this.s.length && this.s[this.i] === ' ') this.i++;
  }

  private expr(): Poly | null {
    let p = this.term();
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c !== '+' && c !== '-') return p;
      this.i++;
      const q = this.term();
      p = p && q ? polyAdd(p, q, c === '+' ? 1 : -1) : null;
    }
  }

  private term(): Poly | null {
    let p = this.unary();
    for (;;) {
      this.ws();
      const c = this.s[this.i];
      if (c === '*') {
        this.i++;
        const q = this.unary();
        p = p && q ? polyMul(p, q) : null;
      } else if (c === '/') {
        this.i += this.s[this.i + 1] === '/' ? 2 : 1;
        const q = this.unary();
        p = p && q ? divOrAtom(p, q) : null;
      } else {
        return p;
      }
    }
  }

  private unary(): Poly | null {
    this.ws();
    if (this.s[this.i] === '-') {
      this.i++;
      const p = this.unary();
      return p ? polyAdd(new Map(), p, -1) : null;
    }
    return this.atom();
  }

  private atom(): Poly | null {
    this.ws();
    const s = this.s;
    if (s[this.i] === '(') {
      this.i++;
      const p = this.expr();
      this.ws();
      if (s[this.i] !== ')') throw new ParseFailure();
      this.i++;
      return p;
    }
    const num = /^[0-9]+/.exec(s.slice(this.i));
    if (num) {
      this.i += num[0].length;
      return constPoly(Number(num[0]));
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(s.slice(this.i));
    if (!id) throw new ParseFailure();
    this.i += id[0].length;
    if (s[this.i] === '(') {
      // a function call such as floor(a/2): kept as one opaque atom
      let depth = 0;
      const start = this.i;
      for (; this.i < s.length; this.i++) {
        if (s[this.i] === '(') depth++;
        else if (s[this.i] === ')' && --depth === 0) break;
      }
      if (depth !== 0) throw new ParseFailure();
      this.i++;
      return atomPoly(id[0] + s.slice(start, this.i).replace(/\s+/g, ''));
    }
    return atomPoly(id[0]);
  }
}

function divOrAtom(a: Poly, b: Poly): Poly {
  return polyDivExact(a, b) ?? atomPoly(floorAtom(polyToDim(a), polyToDim(b)));
}

function floorAtom(a: Dim, b: Dim): string {
  const wrap = (d: Dim): string => (typeof d === 'string' && !IDENT.test(d) ? `(${d.replace(/\s+/g, '')})` : String(d));
  return `floor(${wrap(a)}/${wrap(b)})`;
}

// ---- public API ---------------------------------------------------------------------------------

/** True when `d` is a known dimension (a number or a symbolic expression). */
export function isKnownDim(d: Dim | undefined): d is number | string {
  return d !== null && d !== undefined;
}

/** The canonical form of a dim: `'b + a'` → `'a + b'`, `'2*3'` → `6`, `'n - n'` → `0`. */
export function canonicalDim(d: Dim): Dim {
  if (d === null || typeof d === 'number') return d;
  if (IDENT.test(d)) return d;
  const p = toPoly(d);
  return p ? polyToDim(p) : d;
}

/** Results of symbolic binary operations: shapes repeat the same few expressions thousands of times. */
const memo = new Map<string, Dim>();
const MEMO_LIMIT = 8192;

function binary(op: string, a: Dim, b: Dim, f: (x: Poly, y: Poly) => Poly | null, num: (x: number, y: number) => number): Dim {
  if (a === null || b === null) return null;
  if (typeof a === 'number' && typeof b === 'number') return num(a, b);
  const key = `${op}\u0002${a}\u0002${b}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const pa = toPoly(a);
  const pb = toPoly(b);
  const r = pa && pb ? f(pa, pb) : null;
  const out = r ? polyToDim(r) : null;
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, out);
  return out;
}

const addPoly = (x: Poly, y: Poly): Poly | null => polyAdd(x, y);
const subPoly = (x: Poly, y: Poly): Poly | null => polyAdd(x, y, -1);

/** a + b. */
export function dimAdd(a: Dim, b: Dim): Dim {
  if (a === 0) return b;
  if (b === 0) return a;
  return binary('+', a, b, addPoly, (x, y) => x + y);
}

/** a - b. */
export function dimSub(a: Dim, b: Dim): Dim {
  if (b === 0) return a;
  if (a === b && a !== null) return 0;
  return binary('-', a, b, subPoly, (x, y) => x - y);
}

/** a * b. */
export function dimMul(a: Dim, b: Dim): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  return binary('*', a, b, polyMul, (x, y) => x * y);
}

/** a / b when it divides exactly (as polynomials), else null. */
export function dimDivExact(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return b !== 0 && a % b === 0 ? a / b : null;
  if (b === 1) return a;
  return binary('/', a, b, polyDivExact, () => 0);
}

/**
 * floor(a / b): exact when it divides, numeric when both are numbers, else an opaque
 * `floor(a/b)` atom (comparable, not expandable). Division by zero gives null.
 */
export function dimFloorDiv(a: Dim, b: Dim): Dim {
  if (a === null || b === null || b === 0) return null;
  if (typeof a === 'number' && typeof b === 'number') return Math.floor(a / b);
  const exact = dimDivExact(a, b);
  if (exact !== null) return exact;
  return floorAtom(canonicalDim(a), canonicalDim(b));
}

/** ceil(a / b) for numbers, exact symbolic division, else null. */
export function dimCeilDiv(a: Dim, b: Dim): Dim {
  if (a === null || b === null || b === 0) return null;
  if (typeof a === 'number' && typeof b === 'number') return Math.ceil(a / b);
  return dimDivExact(a, b);
}

/** Product of dims (1 for none); null when any is unknown. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) {
    p = dimMul(p, d);
    if (p === null) return null;
  }
  return p;
}

/**
 * Whether two dims are equal: true (provably), false (provably not: different numbers, or an
 * expression that differs from the other by a non-zero constant), null (cannot tell).
 */
export function dimEquals(a: Dim, b: Dim): boolean | null {
  if (a === null || b === null) return null;
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  const diff = dimSub(a, b);
  if (diff === null) return null;
  if (typeof diff === 'number') return diff === 0;
  return null;
}

/** Substitutes symbol values (`{ batch_size: 2 }`) into a dim and simplifies. */
export function substituteDim(d: Dim, bindings: ReadonlyMap<string, Dim>): Dim {
  if (d === null || typeof d === 'number' || bindings.size === 0) return d;
  const direct = bindings.get(d);
  if (direct !== undefined) return direct;
  const p = toPoly(d);
  if (!p) return d;
  let out: Poly | null = new Map();
  for (const [k, c] of p) {
    let term: Poly | null = constPoly(c);
    for (const atom of atomsOf(k)) {
      const v = bindings.get(atom);
      const ap: Poly | null = v === undefined ? atomPoly(atom) : v === null ? null : toPoly(v);
      if (!ap || !term) return v === null ? null : d;
      term = polyMul(term, ap);
    }
    if (!term || !out) return d;
    out = polyAdd(out, term);
  }
  return out ? polyToDim(out) : d;
}

/** The symbols a dim mentions (`'a*b + 1'` → ['a', 'b']). */
export function dimSymbols(d: Dim): string[] {
  if (d === null || typeof d === 'number') return [];
  const p = toPoly(d);
  if (!p) return [d];
  const out = new Set<string>();
  for (const k of p.keys()) for (const a of atomsOf(k)) out.add(a);
  return [...out].sort();
}
