/**
 * Prefill and decode optimization profiles for a language model, from the few numbers a user knows
 * (largest batch, context limit, largest prompt per prefill), worked out on the model's own input
 * shapes. The editor's profiles node uses this; the result is ordinary {@link OptimizationProfile}s.
 *
 * The model's symbols are found by role, not by name: `input_ids` is `[batch, sequence]`; a KV-cache
 * input (`past_key_values.N.key`, `past.N`) has the past length as its symbolic dim other than batch;
 * an `attention_mask` whose length is a symbol of its own is past + sequence. Every fed input then
 * gets min/opt/max by substituting those symbols (`past_sequence_length + sequence_length` too):
 *
 *     prefill  batch 1…B (opt 1)   sequence 1…P (opt T)   past 0
 *     decode   batch 1…B (opt 1)   sequence 1             past 1…C−1 (opt min(T, C−1))
 *
 * with B = batch, C = maxContext, P = prefillTokens (at most C), T = typicalPrompt. A model without
 * a KV cache gets one `prefill` profile whose sequence runs to C. Static dims stay as the model
 * declares them (a fixed batch of 1 wins over B, with a note). Each profile is checked with
 * {@link resolveProfile}.
 */
import { substituteDim, type Dim, type Model, type Value } from '@fuselab/graph-core';
import type { OptimizationProfile, ProfileInput } from './pass.ts';
import { ProfileError, resolveProfile } from './profiles.ts';

export interface DecoderProfileOptions {
  /** Largest batch (≥ 1). */
  batch: number;
  /** Largest total length, past + new tokens (≥ 2 with a KV cache): the engine's context limit. */
  maxContext: number;
  /** Largest prompt one prefill takes; more than maxContext is clamped (with a note). */
  prefillTokens: number;
  /** The prompt length to tune for (prefill opt); default min(128, prefillTokens). */
  typicalPrompt?: number;
}

export interface DecoderProfiles {
  /** `prefill` then `decode` (just `prefill` for a model without a KV cache). */
  profiles: OptimizationProfile[];
  /** The model's symbols by role (a number where the model fixes the dim). */
  symbols: { batch: Dim; sequence: string; past: string | null };
  /** The context limit the profiles allow (past + new tokens). */
  maxContext: number;
  /** What was adjusted, for the user. */
  notes: string[];
}

const KV_INPUT = /^past(_key_values)?[._]/;
const isSymbol = (d: Dim): d is string => typeof d === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(d);

function positiveInt(v: number, what: string, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ProfileError(what, `must be an integer ≥ ${min} (got ${v})`);
}

/** Prefill and decode profiles for `model` (see the file header). Throws ProfileError naming what does not fit. */
export function decoderProfiles(model: Model, options: DecoderProfileOptions): DecoderProfiles {
  const notes: string[] = [];
  positiveInt(options.batch, 'batch', 1);
  positiveInt(options.maxContext, 'max context', 1);
  positiveInt(options.prefillTokens, 'prefill tokens', 1);
  const fed = model.graph.inputs.filter((v) => !v.initializer);
  const ids = fed.find((v) => v.name === 'input_ids');
  if (!ids) throw new ProfileError('decoder', `the model has no 'input_ids' input (inputs: ${fed.map((v) => v.name).join(', ') || 'none'}); write profiles by hand`);
  const idsShape = ids.shape;
  if (!idsShape || idsShape.length !== 2) throw new ProfileError(`input 'input_ids'`, `expected [batch, sequence], got ${idsShape ? `rank ${idsShape.length}` : 'an unknown shape'}`);
  const [batch, sequence] = idsShape;
  if (!isSymbol(sequence)) throw new ProfileError(`input 'input_ids'`, `its sequence dim is ${String(sequence)}, not a symbol: the model takes one length only`);
  if (typeof batch === 'number') {
    if (batch !== options.batch) notes.push(`the model fixes the batch at ${batch}`);
  } else if (!isSymbol(batch)) throw new ProfileError(`input 'input_ids'`, `its batch dim is ${String(batch)}: neither a number nor a symbol`);
  const past = pastSymbol(fed, batch);
  const C = options.maxContext;
  if (past && C < 2) throw new ProfileError('max context', `must be ≥ 2 for a KV-cache decoder (got ${C})`);
  let P = options.prefillTokens;
  if (P > C) {
    notes.push(`prefill tokens ${P} > max context ${C}: clamped to ${C}`);
    P = C;
  }
  const T = Math.min(P, Math.max(1, options.typicalPrompt ?? 128));
  const B = typeof batch === 'number' ? batch : options.batch;
  type Point = Record<string, number>;
  const points = (b: [number, number, number], s: [number, number, number], p: [number, number, number]): [Point, Point, Point] =>
    [0, 1, 2].map((i) => ({ ...(isSymbol(batch) ? { [batch]: b[i] } : {}), [sequence]: s[i], ...(past ? { [past]: p[i] } : {}) })) as [Point, Point, Point];
  const batchRange: [number, number, number] = [1, 1, B];
  const specs: Array<{ name: string; at: [Point, Point, Point] }> = past
    ? [
      { name: 'prefill', at: points(batchRange, [1, T, P], [0, 0, 0]) },
      { name: 'decode', at: points(batchRange, [1, 1, 1], [1, Math.min(T, C - 1), C - 1]) },
    ]
    : [{ name: 'prefill', at: points(batchRange, [1, T, C], [0, 0, 0]) }];
  const profiles = specs.map(({ name, at }) => {
    const inputs: Record<string, ProfileInput> = {};
    for (const v of fed) inputs[v.name] = inputRange(v, at, { sequence, past }, name);
    const profile: OptimizationProfile = { name, inputs };
    resolveProfile(model, profile);
    return profile;
  });
  return { profiles, symbols: { batch, sequence, past }, maxContext: C, notes };
}

/** The past length: the symbolic dim of a KV-cache input that is not the batch. */
function pastSymbol(fed: readonly Value[], batch: Dim): string | null {
  for (const v of fed) {
    if (!KV_INPUT.test(v.name)) continue;
    const d = v.shape?.find((x) => isSymbol(x) && x !== batch);
    if (isSymbol(d ?? null)) return d as string;
  }
  return null;
}

function inputRange(v: Value, at: ReadonlyArray<Record<string, number>>, roles: { sequence: string; past: string | null }, profile: string): ProfileInput {
  const shape = v.shape;
  const where = `'${profile}' input '${v.name}'`;
  if (!shape) throw new ProfileError(where, 'has an unknown shape: run shape inference or declare it in the model');
  const [min, opt, max] = at.map((point) => shape.map((d, i) => {
    const bindings = new Map<string, Dim>(Object.entries(point));
    // a mask whose length is a symbol of its own (`total_sequence_length`) covers past + new tokens
    if (/attention_mask/.test(v.name) && i === shape.length - 1 && isSymbol(d) && !bindings.has(d)) return (roles.past ? point[roles.past] : 0) + point[roles.sequence];
    const out = substituteDim(d, bindings);
    if (typeof out === 'number') return out;
    if (isSymbol(out)) return out; // a dim the roles don't cover stays free and named
    throw new ProfileError(where, `dim ${i} (${d === null ? 'unknown' : `'${d}'`}) does not follow from batch, sequence and past lengths`);
  }));
  return { min, opt, max };
}
