/**
 * Model-vs-model comparison, after Polygraphy's `run --onnxrt A B --mark all`: both models run in
 * onnxruntime-web on the same seeded (or recorded) inputs, every output is compared with a named
 * tolerance, and — when an output differs, or when asked — the intermediate values the two models
 * share are exposed as extra graph outputs, so the first value (in A's topological order) that
 * leaves the tolerance names the node where the models part ways.
 *
 * Matching A's values to B's: by name first (cleanup passes keep the names of the values they do
 * not remove); then, for a B value with a new name, through the optimizer's provenance when the
 * caller has it (the B node's sources in A; their single output read outside the pattern is the
 * value it stands for); then through consumers (a B value read by a node that A also has, under
 * the same name and op, stands for what that node reads in A at the same input index). The rewrite
 * engine gives fused nodes' outputs fresh names (`<scope>/<Op>_fused_out0`); only graph outputs keep
 * theirs, which is why the last two rules exist.
 */
import { FuselabError, serializeModelToBytes, type Model, type Node, type Value } from '@fuselab/graph-core';
import { compareTensors, FP32_EXACT, FP32_FUSION, type Tolerance } from './compare.ts';
import { hostFromBase64, type HostData, type HostTensor } from './host-tensor.ts';
import { randomInputs } from './inputs.ts';
import { FP16, INT4_WEIGHT_ONLY, INT8_QDQ, INT8_WEIGHT_ONLY, NBITS_KERNEL } from './precision-tolerances.ts';
import { createSession, runSession } from './session.ts';

/** A comparison could not be set up: bad tolerance name, incompatible model inputs, bad recorded inputs. */
export class CompareError extends FuselabError {
  constructor(message: string) {
    super('COMPARE', message);
  }
}

/**
 * Named tolerances for `fuselab compare --tolerance`: the validator's fp32 bounds and the precision
 * passes' (cosine-only for fp16 / int8 / int4 against a float original).
 */
export const TOLERANCES: Readonly<Record<string, Tolerance>> = Object.fromEntries(
  [FP32_EXACT, FP32_FUSION, NBITS_KERNEL, FP16, INT8_WEIGHT_ONLY, INT4_WEIGHT_ONLY, INT8_QDQ].map((t) => [t.name, t]),
);

/** Looks up a named tolerance; the error lists the names there are. */
export function toleranceByName(name: string): Tolerance {
  const t = TOLERANCES[name];
  if (!t) throw new CompareError(`unknown tolerance '${name}' (have: ${Object.keys(TOLERANCES).join(', ')})`);
  return t;
}

/** One side of a comparison. */
export interface ComparableModel {
  /** Shown in reports and errors (a file path, or `A` / `B`). */
  label: string;
  model: Model;
  /** The serialized model as given, when the caller has it (saves re-serializing for the plain run). */
  bytes?: Uint8Array;
  /**
   * Optimizer provenance of this model's nodes (`runPasses(...).provenance`, or the `provenance` of
   * `fuselab optimize --report`): new node → the other model's nodes it replaces.
   */
  provenance?: ReadonlyArray<{ node: string; sources: readonly string[] }>;
}

export type MarkMode =
  /** Compare outputs; expose intermediates only when an output differs (default). */
  | 'auto'
  /** Always expose and compare intermediates. */
  | 'all'
  /** Outputs only. */
  | 'none';

export interface CompareModelsOptions {
  tolerance?: Tolerance;
  /** Seed of the random inputs (default 1). Ignored with `inputs`. */
  seed?: number;
  /** Symbolic dim values for random inputs (default batch 1, 8 new tokens after a past of 4). */
  dims?: Record<string, number>;
  /** Vocabulary size for token ids (detected from A's embedding table when omitted). */
  vocab?: number;
  /** Recorded inputs to use instead of random ones. */
  inputs?: Record<string, HostTensor>;
  mark?: MarkMode;
  executionProviders?: string[];
}

/** Default dims: the validator's first shape (batch 1, a multi-token step after a past). */
export const DEFAULT_COMPARE_DIMS: Readonly<Record<string, number>> = { batch_size: 1, batch: 1, sequence_length: 8, past_sequence_length: 4 };

export type ValueStatus = 'pass' | 'fail' | 'missing-in-a' | 'missing-in-b' | 'shape-mismatch';

/** One compared tensor. Errors are `Infinity` (written `null` in JSON) when shapes differ or a side is missing. */
export interface ValueComparison {
  name: string;
  status: ValueStatus;
  dimsA: number[] | null;
  dimsB: number[] | null;
  maxAbsErr: number;
  maxRelErr: number;
  cosine: number;
  /** Elements outside `atol + rtol * |a|`. */
  mismatches: number;
  passed: boolean;
}

export interface NodeRef {
  name: string;
  opType: string;
  domain: string;
}

export type MatchKind = 'name' | 'provenance' | 'consumer';

/** The first intermediate value of A, in topological order, whose B counterpart is outside the tolerance. */
export interface Divergence extends ValueComparison {
  /** The value's name in B (differs from `name` for provenance/consumer matches). */
  nameB: string;
  match: MatchKind;
  /** Producing node in A and in B. */
  nodeA: NodeRef;
  nodeB: NodeRef;
  /** Position of `nodeA` in A's topological order. */
  nodeIndex: number;
  /** Values compared (and within tolerance) before this one. */
  matchedBefore: number;
}

export interface IntermediatesReport {
  mode: MarkMode;
  /** False when outputs passed in `auto` mode, or in `none` mode. */
  ran: boolean;
  /** Node-produced values of A (top-level graph). */
  valuesA: number;
  /** Values with a counterpart in B, by how they were matched. */
  matched: Record<MatchKind, number>;
  compared: number;
  failed: number;
  /** Provenance/consumer matches whose shapes differ: taken as a wrong match and left out. */
  skipped: number;
}

export interface ModelComparison {
  passed: boolean;
  tolerance: Tolerance;
  inputs: {
    source: 'random' | 'recorded';
    seed: number | null;
    dims: Record<string, number> | null;
    shapes: Record<string, { dtype: string; dims: number[] }>;
  };
  outputs: ValueComparison[];
  firstDivergence: Divergence | null;
  intermediates: IntermediatesReport;
  ms: number;
}

/** A's value ↔ B's value, with how the pair was found. */
export interface ValueMatch {
  a: Value;
  b: Value;
  how: MatchKind;
}

const producedTopLevel = (v: Value | null | undefined, m: Model): v is Value => !!v && !!v.producer && v.graph === m.graph && !!v.name;

/**
 * Pairs A's node-produced values with B's: by name, then through B's provenance, then through
 * shared consumers (see the module comment). Keys are A's values, in no particular order.
 */
export function matchValues(a: Model, b: Model, provenance?: ComparableModel['provenance']): Map<Value, ValueMatch> {
  const out = new Map<Value, ValueMatch>();
  const matchedB = new Set<Value>();
  const aValues = a.graph.valueMap();
  const aNodes = new Map<string, Node>();
  for (const n of a.graph.nodes) if (n.name) aNodes.set(n.name, n);
  const add = (va: Value, vb: Value, how: MatchKind) => {
    if (out.has(va) || matchedB.has(vb)) return;
    if (va.dtype && vb.dtype && va.dtype !== vb.dtype) return;
    out.set(va, { a: va, b: vb, how });
    matchedB.add(vb);
  };
  const bNodes = b.graph.nodes;
  // 1. by name
  for (const n of bNodes) {
    for (const vb of n.outputs) {
      if (!producedTopLevel(vb, b)) continue;
      const va = aValues.get(vb.name);
      if (producedTopLevel(va, a)) add(va, vb, 'name');
    }
  }
  // 2. provenance: a rewrite's new nodes (one group per source set) stand for their sources in A; the
  //    group's one output read outside it is the sources' one output read outside them
  if (provenance?.length) {
    const byNode = new Map(provenance.map((p) => [p.node, p.sources]));
    const groups = new Map<string, { sources: readonly string[]; nodes: Set<Node> }>();
    for (const n of bNodes) {
      const sources = byNode.get(n.name);
      if (!sources?.length) continue;
      const key = [...sources].sort().join('\u0000');
      const g = groups.get(key) ?? { sources, nodes: new Set<Node>() };
      g.nodes.add(n);
      groups.set(key, g);
    }
    const exitsOf = (nodes: Set<Node>, m: Model) => {
      const exits: Value[] = [];
      for (const n of nodes) {
        for (const v of n.outputs) if (producedTopLevel(v, m) && (v.isGraphOutput || v.uses.some((u) => !nodes.has(u.node)))) exits.push(v);
      }
      return exits;
    };
    // a group whose sources another, larger group also claims (a fused MatMul whose bias Add was
    // later absorbed into a SkipLayerNorm) stands for only part of them: leave it to the larger one
    const claimedBy = new Map<string, number>();
    for (const g of groups.values()) for (const s of g.sources) claimedBy.set(s, Math.max(claimedBy.get(s) ?? 0, g.sources.length));
    for (const g of groups.values()) {
      if (g.sources.some((s) => (claimedBy.get(s) ?? 0) > g.sources.length)) continue;
      const inside = new Set(g.sources.map((s) => aNodes.get(s)).filter((x): x is Node => !!x));
      const exitsA = exitsOf(inside, a).filter((v) => !out.has(v));
      const exitsB = exitsOf(g.nodes, b).filter((v) => !matchedB.has(v));
      if (exitsA.length === 1 && exitsB.length === 1) add(exitsA[0], exitsB[0], 'provenance');
    }
  }
  // 3. consumers that both models have: B's value stands for what A's same-named node reads there
  for (const n of bNodes) {
    for (const vb of n.outputs) {
      if (!producedTopLevel(vb, b) || matchedB.has(vb)) continue;
      const candidates = new Set<Value>();
      for (const u of vb.uses) {
        const ua = u.node.name ? aNodes.get(u.node.name) : undefined;
        if (!ua || ua.opType !== u.node.opType || ua.domain !== u.node.domain) continue;
        const va = ua.inputs[u.index];
        if (producedTopLevel(va, a)) candidates.add(va);
      }
      if (candidates.size === 1) {
        const [va] = candidates;
        if (!out.has(va)) add(va, vb, 'consumer');
      }
    }
  }
  return out;
}

const ref = (n: Node | null): NodeRef => ({ name: n?.name ?? '', opType: n?.opType ?? '', domain: n?.domain ?? '' });

/** `compareTensors` plus shapes and a status; a missing side is a failure. */
export function compareValues(name: string, a: HostTensor | undefined, b: HostTensor | undefined, tol: Tolerance): ValueComparison {
  const base = { name, dimsA: a?.dims ?? null, dimsB: b?.dims ?? null, maxAbsErr: Infinity, maxRelErr: Infinity, cosine: 0, passed: false };
  if (!a) return { ...base, status: 'missing-in-a', mismatches: b?.data.length ?? 0 };
  if (!b) return { ...base, status: 'missing-in-b', mismatches: a.data.length };
  if (a.dims.join(',') !== b.dims.join(',')) return { ...base, status: 'shape-mismatch', mismatches: Math.max(a.data.length, b.data.length) };
  const c = compareTensors(name, a, b, tol);
  return { ...base, status: c.passed ? 'pass' : 'fail', maxAbsErr: c.maxAbsErr, maxRelErr: c.maxRelErr, cosine: c.cosine, mismatches: c.mismatches, passed: c.passed };
}

const graphInputs = (m: Model) => m.graph.inputs.filter((v) => !v.initializer);

/** Symbolic dims of A's inputs that B fixes (a model optimized under a frozen profile), as dim values. */
function dimsFixedByB(a: Model, b: Model): Record<string, number> {
  const out: Record<string, number> = {};
  const bIn = new Map(graphInputs(b).map((v) => [v.name, v]));
  for (const va of graphInputs(a)) {
    const sb = bIn.get(va.name)?.shape;
    va.shape?.forEach((d, i) => {
      const db = sb?.[i];
      if (typeof d === 'string' && typeof db === 'number') out[d] = db;
    });
  }
  return out;
}

function checkInputs(a: ComparableModel, b: ComparableModel, feeds: Record<string, HostTensor>, recorded: boolean): void {
  const namesA = graphInputs(a.model).map((v) => v.name);
  const namesB = new Set(graphInputs(b.model).map((v) => v.name));
  const onlyA = namesA.filter((n) => !namesB.has(n));
  const onlyB = [...namesB].filter((n) => !namesA.includes(n));
  if (onlyA.length || onlyB.length) {
    const parts = [onlyA.length ? `only ${a.label} has ${onlyA.map((n) => `'${n}'`).join(', ')}` : '', onlyB.length ? `only ${b.label} has ${onlyB.map((n) => `'${n}'`).join(', ')}` : ''].filter(Boolean);
    throw new CompareError(`the models take different inputs (${parts.join('; ')}); compare models with the same input names`);
  }
  if (recorded) {
    const missing = namesA.filter((n) => !feeds[n]);
    if (missing.length) throw new CompareError(`recorded inputs lack ${missing.map((n) => `'${n}'`).join(', ')} (have: ${Object.keys(feeds).join(', ') || 'none'})`);
  }
}

const toBytes = (c: ComparableModel) => c.bytes ?? serializeModelToBytes(c.model, { inlineExternal: true });

/** A copy of `m` whose graph also outputs the values named `names` (in order, without duplicates). */
function withOutputs(m: Model, names: readonly string[]): Uint8Array {
  const c = m.clone();
  const values = c.graph.valueMap();
  const have = new Set(c.graph.outputs.map((v) => v.name));
  for (const name of names) {
    const v = values.get(name);
    if (v && !have.has(name)) {
      c.graph.addOutput(v);
      have.add(name);
    }
  }
  return serializeModelToBytes(c, { inlineExternal: true });
}

async function run(bytes: Uint8Array, feeds: Record<string, HostTensor>, label: string, eps: string[] | undefined): Promise<Record<string, HostTensor>> {
  let session;
  try {
    session = await createSession(bytes, { executionProviders: eps });
  } catch (e) {
    throw new CompareError(`${label}: onnxruntime-web could not load the model: ${(e as Error).message}`);
  }
  try {
    return await runSession(session, feeds);
  } catch (e) {
    throw new CompareError(`${label}: onnxruntime-web failed to run the model: ${(e as Error).message}`);
  } finally {
    await session.release();
  }
}

/**
 * Runs A and B on the same inputs and compares every output (and, per `mark`, the intermediates
 * they share). B's outputs are matched to A's by name; an output only one model has fails.
 */
export async function compareModels(a: ComparableModel, b: ComparableModel, options: CompareModelsOptions = {}): Promise<ModelComparison> {
  const t0 = performance.now();
  const tol = options.tolerance ?? FP32_FUSION;
  const mark = options.mark ?? 'auto';
  const recorded = !!options.inputs;
  const seed = options.seed ?? 1;
  const dims = recorded ? null : { ...DEFAULT_COMPARE_DIMS, ...dimsFixedByB(a.model, b.model), ...options.dims };
  // the dims the report lists: those A's inputs use, and any the caller set
  const used = new Set(graphInputs(a.model).flatMap((v) => (v.shape ?? []).flatMap((d) => (typeof d === 'string' ? d.split(/[^A-Za-z0-9_.]+/) : []))));
  const shownDims = dims && Object.fromEntries(Object.entries(dims).filter(([k]) => used.has(k) || (options.dims && k in options.dims)));
  const feeds = options.inputs ?? randomInputs(a.model, { seed, dims: dims ?? undefined, vocab: options.vocab });
  checkInputs(a, b, feeds, recorded);
  const eps = options.executionProviders;

  const outputNames = [...new Set([...a.model.graph.outputs.map((v) => v.name), ...b.model.graph.outputs.map((v) => v.name)])];
  const matches = mark === 'none' ? new Map<Value, ValueMatch>() : matchValues(a.model, b.model, b.provenance);
  const report: ModelComparison = {
    passed: true,
    tolerance: tol,
    inputs: { source: recorded ? 'recorded' : 'random', seed: recorded ? null : seed, dims: shownDims, shapes: Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { dtype: v.dtype, dims: v.dims }])) },
    outputs: [],
    firstDivergence: null,
    intermediates: { mode: mark, ran: false, valuesA: 0, matched: { name: 0, provenance: 0, consumer: 0 }, compared: 0, failed: 0, skipped: 0 },
    ms: 0,
  };
  for (const m of matches.values()) report.intermediates.matched[m.how]++;
  for (const n of a.model.graph.nodes) report.intermediates.valuesA += n.outputs.filter((v) => producedTopLevel(v, a.model)).length;

  // A's topological order of matched values: the order the divergence search walks
  const order: ValueMatch[] = [];
  const nodeIndex = new Map<Node, number>();
  a.model.graph.nodes.forEach((n, i) => {
    nodeIndex.set(n, i);
    for (const v of n.outputs) {
      const m = v ? matches.get(v) : undefined;
      if (m) order.push(m);
    }
  });

  const compareOutputs = (ra: Record<string, HostTensor>, rb: Record<string, HostTensor>) => {
    report.outputs = outputNames.map((name) => compareValues(name, ra[name], rb[name], tol));
    report.passed = report.outputs.every((o) => o.passed);
  };

  let ra: Record<string, HostTensor>;
  let rb: Record<string, HostTensor>;
  if (mark === 'all') {
    ra = await run(withOutputs(a.model, order.map((m) => m.a.name)), feeds, a.label, eps);
    rb = await run(withOutputs(b.model, order.map((m) => m.b.name)), feeds, b.label, eps);
    compareOutputs(ra, rb);
  } else {
    ra = await run(toBytes(a), feeds, a.label, eps);
    rb = await run(toBytes(b), feeds, b.label, eps);
    compareOutputs(ra, rb);
    if (mark === 'auto' && !report.passed && order.length) {
      ra = await run(withOutputs(a.model, order.map((m) => m.a.name)), feeds, a.label, eps);
      rb = await run(withOutputs(b.model, order.map((m) => m.b.name)), feeds, b.label, eps);
    } else {
      report.ms = performance.now() - t0;
      return report;
    }
  }

  const im = report.intermediates;
  im.ran = true;
  for (const m of order) {
    const c = compareValues(m.a.name, ra[m.a.name], rb[m.b.name], tol);
    if (c.status === 'shape-mismatch' && m.how !== 'name') {
      im.skipped++;
      continue;
    }
    im.compared++;
    if (c.passed) continue;
    im.failed++;
    if (!report.firstDivergence) {
      report.firstDivergence = { ...c, nameB: m.b.name, match: m.how, nodeA: ref(m.a.producer), nodeB: ref(m.b.producer), nodeIndex: nodeIndex.get(m.a.producer as Node) ?? -1, matchedBefore: im.compared - 1 };
    }
  }
  report.ms = performance.now() - t0;
  return report;
}

/** One recorded tensor in JSON: `data` is base64 (little-endian, the fixtures' io.json) or an array of numbers. */
export interface RecordedTensorJson {
  dtype: string;
  dims: number[];
  data: string | Array<number | string>;
}

const ARRAYS: Record<string, (n: number) => HostData> = {
  float32: (n) => new Float32Array(n), float64: (n) => new Float64Array(n), int32: (n) => new Int32Array(n), int64: (n) => new BigInt64Array(n),
  uint8: (n) => new Uint8Array(n), bool: (n) => new Uint8Array(n), int8: (n) => new Int8Array(n), uint16: (n) => new Uint16Array(n),
  int16: (n) => new Int16Array(n), uint32: (n) => new Uint32Array(n), uint64: (n) => new BigUint64Array(n),
};

/**
 * Reads recorded inputs: `{ name: { dtype, dims, data } }`, or the fixtures' io.json
 * (`{ inputs: { ... }, outputs, ... }`). `file` names the source in errors, with the field path.
 */
export function parseRecordedInputs(json: unknown, file: string): Record<string, HostTensor> {
  const bad = (field: string, why: string): never => {
    throw new CompareError(`${file}: ${field}: ${why}`);
  };
  if (!json || typeof json !== 'object' || Array.isArray(json)) bad('(top level)', 'expected an object of inputs { name: { dtype, dims, data } }');
  const root = json as Record<string, unknown>;
  const isTensor = (x: unknown) => !!x && typeof x === 'object' && 'dtype' in (x as object);
  const [prefix, map] = root.inputs && typeof root.inputs === 'object' && !isTensor(root.inputs) ? ['inputs.', root.inputs as Record<string, unknown>] : ['', root];
  const out: Record<string, HostTensor> = {};
  for (const [name, rec] of Object.entries(map)) {
    const at = `${prefix}${name}`;
    if (!rec || typeof rec !== 'object') bad(at, 'expected { dtype, dims, data }');
    const { dtype, dims, data } = rec as Partial<RecordedTensorJson>;
    if (typeof dtype !== 'string' || !ARRAYS[dtype]) bad(`${at}.dtype`, `unsupported dtype ${JSON.stringify(dtype)} (have: ${Object.keys(ARRAYS).join(', ')})`);
    if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0)) bad(`${at}.dims`, 'expected an array of non-negative integers');
    const size = (dims as number[]).reduce((p, d) => p * d, 1);
    let t: HostTensor;
    if (typeof data === 'string') {
      try {
        t = hostFromBase64({ dtype: dtype as string, dims: dims as number[], data });
      } catch (e) {
        return bad(`${at}.data`, `not valid base64 (${(e as Error).message})`);
      }
    } else if (Array.isArray(data)) {
      const arr = ARRAYS[dtype as string](data.length);
      data.forEach((x, i) => {
        if (typeof x !== 'number' && !(typeof x === 'string' && /^-?\d+$/.test(x))) bad(`${at}.data[${i}]`, `expected a number, got ${JSON.stringify(x)}`);
        if (arr instanceof BigInt64Array || arr instanceof BigUint64Array) {
          if (typeof x === 'number' && !Number.isInteger(x)) bad(`${at}.data[${i}]`, `expected an integer for ${dtype}, got ${x}`);
          arr[i] = BigInt(x);
        } else {
          arr[i] = Number(x);
        }
      });
      t = { dtype: dtype as string, dims: dims as number[], data: arr };
    } else {
      return bad(`${at}.data`, 'expected base64 text or an array of numbers');
    }
    if (t.data.length !== size) bad(`${at}.data`, `has ${t.data.length} elements but dims [${(dims as number[]).join(', ')}] need ${size}`);
    out[name] = t;
  }
  if (Object.keys(out).length === 0) bad('(top level)', 'no inputs');
  return out;
}
