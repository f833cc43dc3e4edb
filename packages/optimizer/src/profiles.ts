/**
 * Optimization profiles: named shape ranges for a model's dynamic inputs (`prefill`, `decode`), as
 * TensorRT has them. A profile freezes some dims (fold-shapes then folds the shape arithmetic that
 * depends on them) and gives the runtime its shape overrides (min/opt/max).
 *
 * ## CLI form
 *
 *     --profile NAME:INPUT=MIN,OPT,MAX[;INPUT=MIN,OPT,MAX ...]
 *
 * MIN, OPT and MAX are shapes written `d0xd1x…` (`1x128`); a scalar input is written `scalar`. Each
 * dim is a non-negative integer or a symbol (`[A-Za-z_][A-Za-z0-9_]*`). `INPUT=SHAPE` alone means
 * MIN = OPT = MAX. Repeating `--profile` with the same NAME adds inputs to that profile.
 *
 *     --profile decode:input_ids=1x1,1x1,1x1
 *     --profile prefill:input_ids=1x1,1x128,1x512;attention_mask=1x1,1x128,1x512
 *     --profile decode-any-batch:input_ids=Bx1,Bx1,Bx1     (batch stays symbolic, named B)
 *
 * ## What each dim means
 *
 * - min = opt = max = N: **frozen**. Shape folding substitutes N, and the model's symbol for that
 *   dim (`sequence_length`) is N in every other input too (`past_sequence_length + sequence_length`
 *   becomes `past_sequence_length + 1`). The optimized model then only accepts N there.
 * - numbers with min ≤ opt ≤ max, not all equal: a **range**. The dim stays symbolic (the model's
 *   own name); the runtime gets the range.
 * - a symbol, the same in min, opt and max: **free and named**. Nothing is frozen; the model's
 *   symbol is renamed to it (two inputs naming the same symbol share the dim). Where min = max is not
 *   required this is how you say "any size" explicitly, e.g. a decode profile with any batch.
 * - a symbol mixed with numbers, or different symbols, is an error.
 *
 * Profiles are checked against the model: unknown inputs, wrong ranks, frozen values that contradict
 * a static dim or each other (`batch_size` frozen to 1 by one input and 2 by another) are errors that
 * say what to fix.
 */
import { substituteDim, type Dim, type Model, type Value } from '@fuselab/graph-core';
import type { OptimizationProfile, ProfileInput } from './pass.ts';

const SYMBOL = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A malformed profile, or one that does not fit the model. */
export class ProfileError extends Error {
  readonly code = 'PROFILE';
  constructor(where: string, reason: string) {
    super(`profile ${where}: ${reason}`);
    this.name = 'ProfileError';
  }
}

/** Parses one shape `1x128`, `Bx1`, or `scalar`. */
function parseShape(text: string, where: string): Dim[] {
  const t = text.trim();
  if (t === 'scalar') return [];
  if (!t) throw new ProfileError(where, 'empty shape (write a scalar as `scalar`)');
  return t.split('x').map((d) => {
    if (/^\d+$/.test(d)) return Number(d);
    if (SYMBOL.test(d)) return d;
    throw new ProfileError(where, `dim '${d}' in '${text}' is neither a non-negative integer nor a symbol`);
  });
}

/**
 * Parses one `--profile` argument (`NAME:INPUT=MIN,OPT,MAX;...`) into a profile, checking each
 * dim's min/opt/max (see the file header for the rules).
 */
export function parseProfileArg(arg: string): OptimizationProfile {
  const colon = arg.indexOf(':');
  if (colon <= 0) throw new ProfileError(`'${arg}'`, 'expected NAME:INPUT=MIN,OPT,MAX (e.g. decode:input_ids=1x1,1x1,1x1)');
  const name = arg.slice(0, colon).trim();
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new ProfileError(`'${arg}'`, `profile name '${name}' may use letters, digits, '_', '-' and '.' only`);
  const inputs: Record<string, ProfileInput> = {};
  for (const part of arg.slice(colon + 1).split(';')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ProfileError(`'${name}'`, `'${part}' should be INPUT=MIN,OPT,MAX`);
    const input = part.slice(0, eq).trim();
    const where = `'${name}' input '${input}'`;
    if (Object.hasOwn(inputs, input)) throw new ProfileError(where, 'is given twice');
    const shapes = part.slice(eq + 1).split(',').map((s) => parseShape(s, where));
    if (shapes.length !== 1 && shapes.length !== 3) throw new ProfileError(where, `expected one shape or MIN,OPT,MAX, got ${shapes.length} shapes`);
    const [min, opt, max] = shapes.length === 1 ? [shapes[0], shapes[0], shapes[0]] : shapes;
    inputs[input] = { min, opt, max };
    checkInput(inputs[input], where);
  }
  if (Object.keys(inputs).length === 0) throw new ProfileError(`'${name}'`, 'names no inputs');
  return { name, inputs };
}

/** Parses several `--profile` arguments; arguments with the same NAME are merged into one profile. */
export function parseProfiles(args: readonly string[]): OptimizationProfile[] {
  const byName = new Map<string, OptimizationProfile>();
  for (const a of args) {
    const p = parseProfileArg(a);
    const prev = byName.get(p.name);
    if (!prev) {
      byName.set(p.name, p);
      continue;
    }
    for (const [input, r] of Object.entries(p.inputs)) {
      if (Object.hasOwn(prev.inputs, input)) throw new ProfileError(`'${p.name}' input '${input}'`, 'is given twice');
      prev.inputs[input] = r;
    }
  }
  return [...byName.values()];
}

/** The CLI form of a profile (`parseProfileArg(formatProfile(p))` gives `p` back). */
export function formatProfile(p: OptimizationProfile): string {
  const shape = (s: readonly Dim[]) => (s.length === 0 ? 'scalar' : s.map((d) => String(d)).join('x'));
  const parts = Object.entries(p.inputs).map(([input, r]) => `${input}=${shape(r.min)},${shape(r.opt)},${shape(r.max)}`);
  return `${p.name}:${parts.join(';')}`;
}

/** How one dim of a profile input behaves. */
export type ProfileDim =
  | { kind: 'frozen'; value: number }
  | { kind: 'range'; min: number; opt: number; max: number }
  | { kind: 'named'; symbol: string };

/** Classifies dim `i` of a profile input (throws ProfileError for an invalid min/opt/max). */
export function profileDim(r: ProfileInput, i: number, where = 'input'): ProfileDim {
  const [a, b, c] = [r.min[i], r.opt[i], r.max[i]];
  if (typeof a === 'number' && typeof b === 'number' && typeof c === 'number') {
    if (!(Number.isInteger(a) && a >= 0 && a <= b && b <= c)) throw new ProfileError(where, `dim ${i}: need 0 ≤ min ≤ opt ≤ max, got ${a}, ${b}, ${c}`);
    return a === c ? { kind: 'frozen', value: a } : { kind: 'range', min: a, opt: b, max: c };
  }
  if (typeof a === 'string' && a === b && a === c && SYMBOL.test(a)) return { kind: 'named', symbol: a };
  throw new ProfileError(where, `dim ${i}: min/opt/max ${String(a)}, ${String(b)}, ${String(c)} must be three numbers or the same symbol three times`);
}

function checkInput(r: ProfileInput, where: string): void {
  if (r.min.length !== r.opt.length || r.opt.length !== r.max.length) throw new ProfileError(where, `min/opt/max have different ranks (${r.min.length}, ${r.opt.length}, ${r.max.length})`);
  for (let i = 0; i < r.min.length; i++) profileDim(r, i, where);
}

/** What a profile does to a model's inputs (see {@link resolveProfile}). */
export interface ResolvedProfile {
  /** Shapes for shape inference, one per non-initializer graph input: frozen dims as numbers, others symbolic. */
  inputShapes: Record<string, Dim[]>;
  /** The model's symbols the profile fixes (`sequence_length` → 1) or renames (`batch_size` → `B`). */
  bindings: Record<string, number | string>;
  /** Frozen dims per input: `{ input_ids: [0, 1] }`. */
  frozen: Record<string, number[]>;
}

/** The graph inputs a runtime feeds (initializers that are also inputs are overridable constants, not fed). */
function fedInputs(model: Model): Value[] {
  return model.graph.inputs.filter((v) => !v.initializer);
}

/**
 * Checks `profile` against `model` and works out the input shapes shape inference should use:
 * frozen dims substituted, the model's symbols bound consistently across inputs. Throws
 * ProfileError naming the input and dim when the profile does not fit the model.
 */
export function resolveProfile(model: Model, profile: OptimizationProfile): ResolvedProfile {
  const inputs = new Map(fedInputs(model).map((v) => [v.name, v]));
  const bindings = new Map<string, { value: number | string; by: string }>();
  const frozen: Record<string, number[]> = {};
  const bind = (symbol: string, value: number | string, by: string): void => {
    const prev = bindings.get(symbol);
    if (prev && prev.value !== value) {
      throw new ProfileError(`'${profile.name}'`, `'${symbol}' is ${prev.value} for ${prev.by} but ${value} for ${by}; a dim shared by several inputs must agree`);
    }
    bindings.set(symbol, { value, by });
  };
  // pass 1: check ranks and collect what each profile dim says about the model's symbols
  const classified = new Map<string, ProfileDim[]>();
  for (const [name, r] of Object.entries(profile.inputs)) {
    const where = `'${profile.name}' input '${name}'`;
    const v = inputs.get(name);
    if (!v) throw new ProfileError(where, `is not an input of the model (inputs: ${[...inputs.keys()].join(', ') || 'none'})`);
    checkInput(r, where);
    const declared = v.shape;
    if (declared && declared.length !== r.min.length) throw new ProfileError(where, `has rank ${r.min.length} but the model declares ${declared.length} dims ${fmt(declared)}`);
    const dims = r.min.map((_, i) => profileDim(r, i, where));
    classified.set(name, dims);
    dims.forEach((d, i) => {
      const decl = declared?.[i] ?? null;
      const at = `${name}[${i}]`;
      if (typeof decl === 'number') {
        if (d.kind === 'frozen' && d.value !== decl) throw new ProfileError(where, `dim ${i} is ${decl} in the model; the profile freezes it to ${d.value}`);
        if (d.kind === 'range' && (decl < d.min || decl > d.max)) throw new ProfileError(where, `dim ${i} is ${decl} in the model, outside the profile's range ${d.min}..${d.max}`);
        if (d.kind === 'named') throw new ProfileError(where, `dim ${i} is ${decl} in the model; it cannot be a free symbol '${d.symbol}'`);
        return;
      }
      if (d.kind === 'frozen') {
        (frozen[name] ??= []).push(i);
        if (typeof decl === 'string' && SYMBOL.test(decl)) bind(decl, d.value, at);
      } else if (d.kind === 'named' && typeof decl === 'string' && SYMBOL.test(decl) && decl !== d.symbol) {
        bind(decl, d.symbol, at);
      }
    });
  }
  // a range on a dim whose symbol another input froze is a contradiction
  for (const [name, dims] of classified) {
    const declared = inputs.get(name)?.shape;
    dims.forEach((d, i) => {
      const decl = declared?.[i];
      if (d.kind === 'range' && typeof decl === 'string' && bindings.has(decl) && typeof bindings.get(decl)?.value === 'number') {
        const b = bindings.get(decl) as { value: number | string; by: string };
        throw new ProfileError(`'${profile.name}' input '${name}'`, `dim ${i} ('${decl}') ranges ${d.min}..${d.max} but ${b.by} freezes '${decl}' to ${b.value}`);
      }
    });
  }
  // pass 2: shapes for every fed input
  const flat = new Map([...bindings].map(([k, b]) => [k, b.value]));
  const inputShapes: Record<string, Dim[]> = {};
  for (const v of inputs.values()) {
    const declared = v.shape;
    const dims = classified.get(v.name);
    if (!declared) {
      if (dims) inputShapes[v.name] = dims.map((d) => (d.kind === 'frozen' ? d.value : d.kind === 'named' ? d.symbol : null));
      continue;
    }
    inputShapes[v.name] = declared.map((decl, i) => {
      const d = dims?.[i];
      if (d?.kind === 'frozen') return d.value;
      if (d?.kind === 'named') return d.symbol;
      return substituteDim(decl, flat);
    });
  }
  return { inputShapes, bindings: Object.fromEntries(flat), frozen };
}

/**
 * Concrete values of the model's symbols under one of the profile's shapes (`'opt'` by default), for
 * seeded validation inputs and runtime overrides: `{ batch_size: 1, sequence_length: 128 }`.
 */
export function profileDimValues(model: Model, profile: OptimizationProfile, which: 'min' | 'opt' | 'max' = 'opt'): Record<string, number> {
  const out: Record<string, number> = {};
  const inputs = new Map(fedInputs(model).map((v) => [v.name, v]));
  for (const [name, r] of Object.entries(profile.inputs)) {
    const declared = inputs.get(name)?.shape;
    r[which].forEach((d, i) => {
      const decl = declared?.[i];
      if (typeof d === 'number' && typeof decl === 'string' && SYMBOL.test(decl)) out[decl] = d;
    });
  }
  return out;
}

/** Concrete input shapes for one of the profile's points (min/opt/max); symbols stay as written. */
export function profileShapes(profile: OptimizationProfile, which: 'min' | 'opt' | 'max' = 'opt'): Record<string, Dim[]> {
  return Object.fromEntries(Object.entries(profile.inputs).map(([k, r]) => [k, r[which].slice()]));
}

function fmt(s: readonly Dim[]): string {
  return `[${s.map((d) => (d === null ? '?' : String(d))).join(',')}]`;
}
