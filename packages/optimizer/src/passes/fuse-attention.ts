/**
 * fuse-attention: replaces each exported attention block (head split → Q·Kᵀ → scale → masks →
 * Softmax → ·V → head merge, with its KV-cache Concat, rotary and repeat_kv) by one onnxruntime
 * contrib op that onnxruntime-web's WebGPU backend runs as a single kernel:
 *
 * - GPT-2 style (no rotary, as many KV heads as query heads) → `com.microsoft.MultiHeadAttention`.
 *   The WebGPU kernel refuses `unidirectional=1` and `key_padding_mask`, so causality and padding go
 *   in as one additive `attention_bias` [B, 1, S, T]: the causal rows of the model's own triangle
 *   plus its padding term, built once per model and shared by the layers. IO is unchanged: past
 *   and present KV stay BNSH under their names.
 * - Llama style (rotate_half rotary and/or fewer KV heads) → `com.microsoft.GroupQueryAttention`
 *   with `do_rotary=1` and cos/sin caches computed from the graph's `inv_freq`, and `seqlens_k` /
 *   `total_sequence_length` computed in-graph from `attention_mask`. IO names and shapes are
 *   unchanged, but the op assumes what HF's mask and positions encode only for right-padded
 *   (contiguous) masks; the pass says so in a warning and in `ioContract`.
 *
 * Variants (exporter spellings, with or without cache, fused or separate q/k/v projections) are
 * handled by the shared matchers in `rewrite/attention-patterns.ts`; candidates that do not fit
 * are rejected with the reason.
 */
import { floatToHalf, Tensor, type DType, type Graph, type Model, type Node, type Value } from '@fuselab/graph-core';
import type { Diagnostic, IoContractChange, Pass, PassContext, PassResult } from '../pass.ts';
import { applyRewrites } from '../rewrite/engine.ts';
import { constTensor } from '../rewrite/match.ts';
import { matched, reject, type MatchOutcome, type RewriteBuilder, type RewriteRule } from '../rewrite/rule.ts';
import {
  collectFusionNodes, isMismatch, matchCacheAppend, matchCausalSlice, matchHeadSplit, matchRepeatKv, matchRotary, matchRotaryCache,
  matchScorePath, Mismatch, opIs, permOf, readsReplaced, samePerm, ShapeArithmetic, skipCastsDown, skipCastsUp,
  type CausalSlice, type MaskTerm, type RotaryCache,
} from '../rewrite/attention-patterns.ts';

/** Parameters of the pass (see {@link fuseAttention}'s `params` for the docs the editor shows). */
export interface FuseAttentionParams extends Record<string, unknown> {
  mha: boolean;
  gqa: boolean;
  packQkv: boolean;
  mhaAsGqa: boolean;
  staticKv: boolean;
  rotaryCacheLength: number;
}

const MS = 'com.microsoft';
const PASS = 'fuse-attention';

// ---- the parsed pattern ----------------------------------------------------------------------------

/** One operand (query, key or value) of an attention block, traced back to its projection. */
interface Operand {
  /** The [batch, sequence, heads·headSize] projection. */
  input: Value;
  heads: number;
  headSize: number;
}

/** Key/value operand: the projection, its cache append, and repeat_kv. */
interface CacheOperand extends Operand {
  /** The past cache (BNSH) when the block appends to one. */
  past: Value | null;
  /** The tensor holding every key/value of the step in BNSH (the cache append's output, or the fresh heads). */
  present: Value | null;
  /** repeat_kv factor (1 when absent). */
  repeat: number;
}

/** An attention block as matched from its Softmax. */
interface AttentionBlock {
  softmax: Node;
  q: Operand;
  k: CacheOperand;
  v: CacheOperand;
  rotary: { cos: Value; sin: Value } | null;
  scale: number;
  masks: MaskTerm[];
  /** The value the block's output replaces, and the constant target to re-apply when it is not [B, S, N·H]. */
  merge: { output: Value; reshapeTo: Value | null };
  /** The nodes the pattern names (the fusion takes their side arithmetic too). */
  core: Node[];
}

type Style = 'mha' | 'gqa';

/** A parse failure, tagged with the rule that should report it. */
class BlockMismatch extends Mismatch {
  constructor(m: Mismatch, readonly style: Style | null) {
    super(m.reason, m.nodes);
  }
}

function fail(reason: string, style: Style | null, nodes: readonly Node[] = []): BlockMismatch {
  return new BlockMismatch(new Mismatch(reason, nodes), style);
}

/** Parses the attention block around `softmax`. */
function parseBlock(softmax: Node, ar: ShapeArithmetic, opset: number): AttentionBlock | BlockMismatch {
  const core: Node[] = [softmax];
  const axis = softmax.attrInt('axis', opset >= 13 ? -1 : 1);
  if (axis !== -1 && axis !== 3) return fail(`Softmax '${softmax.name}' is over axis ${axis}, not the key axis (-1)`, null);
  const scores = matchScorePath(softmax.input(0), ar);
  if (isMismatch(scores)) return new BlockMismatch(scores, null);
  core.push(scores.matmul, ...scores.nodes);

  // probabilities · V → Transpose(0,2,1,3) → Reshape (head merge)
  const probs = skipCastsDown(softmax.output(0), core);
  const pv = mainConsumer(probs, 'MatMul', 0);
  if (!pv) return fail(`the Softmax output is not the left operand of a MatMul with V`, null);
  core.push(pv);
  const tr = mainConsumer(pv.output(0), 'Transpose', 0);
  if (!tr || !samePerm(permOf(tr), [0, 2, 1, 3])) return fail(`the attention output of '${pv.name}' is not merged by Transpose(perm 0,2,1,3)`, null, [pv]);
  const merge = mainConsumer(tr.output(0), 'Reshape', 0);
  if (!merge) return fail(`the merged heads of '${tr.name}' are not reshaped back to [batch, sequence, hidden]`, null, [tr]);
  core.push(tr, merge);

  // query: [rotary] ∘ head split
  let qv = skipCastsUp(scores.matmul.input(0), core);
  const qRot = matchRotary(qv, ar);
  if (isMismatch(qRot)) return new BlockMismatch(qRot, 'gqa');
  if (qRot) {
    core.push(...qRot.nodes);
    qv = qRot.input;
  }
  const qs = matchHeadSplit(qv, ar, 'query');
  if (isMismatch(qs)) return new BlockMismatch(qs, qRot ? 'gqa' : null);
  if (qs.layout !== 'BNSH') return fail(`query heads of '${qs.nodes[0].name}' are not in BNSH layout`, null, qs.nodes);
  core.push(...qs.nodes);
  const style: Style | null = qRot ? 'gqa' : null;

  // key: Transpose(0,1,3,2) of [repeat_kv ∘] [cache append ∘] [rotary ∘] head split — or a direct BNHS split
  const kt = skipCastsUp(scores.matmul.input(1), core);
  const k = parseCacheOperand(kt, ar, 'key', core);
  if (isMismatch(k)) return new BlockMismatch(k, style);
  const v = parseCacheOperand(skipCastsUp(pv.input(1), core), ar, 'value', core);
  if (isMismatch(v)) return new BlockMismatch(v, style);
  if (!!qRot !== !!k.rotary) return fail(`rotary is applied to the ${qRot ? 'query but not the key' : 'key but not the query'}`, 'gqa');
  if (qRot && k.rotary && (qRot.cos !== k.rotary.cos || qRot.sin !== k.rotary.sin)) return fail('query and key use different rotary cos/sin tensors', 'gqa');
  if (v.rotary) return fail('rotary is applied to the value', style);
  const blockStyle: Style | null = qRot || k.heads !== qs.heads ? 'gqa' : 'mha';

  if (k.headSize !== qs.headSize || v.headSize !== qs.headSize) return fail(`head sizes differ (query ${qs.headSize}, key ${k.headSize}, value ${v.headSize})`, blockStyle);
  if (k.heads !== v.heads) return fail(`key and value have different head counts (${k.heads} vs ${v.heads})`, blockStyle);
  if (qs.heads % k.heads !== 0) return fail(`${qs.heads} query heads are not a multiple of ${k.heads} KV heads`, blockStyle);
  const rep = qs.heads / k.heads;
  for (const [name, op] of [['key', k], ['value', v]] as const) {
    if (op.repeat !== rep && !(op.repeat === 0 && rep > 1)) {
      return fail(`${name} heads are repeated ×${op.repeat === 0 ? '?' : op.repeat} but ${qs.heads} query heads over ${k.heads} KV heads need ×${rep}`, blockStyle);
    }
  }
  if (!!k.past !== !!v.past) return fail('only one of key and value appends to a past cache', blockStyle);

  // the merge target: [B, S, N·H] is the fused op's own output; another constant target is re-applied
  const target = ar.values(merge.inputs[1]);
  const hidden = qs.heads * qs.headSize;
  let reshapeTo: Value | null = null;
  const t = target?.values;
  // [B, S, N·H], [0, 0, N·H] or HF's `reshape(*input_shape, -1)`: three dims, none but the last inferred
  const direct = !!t && t.length === 3 && (t[2] === hidden || t[2] === -1) && t[0] !== -1 && t[1] !== -1;
  if (!direct) {
    if (!constTensor(merge.inputs[1])) return fail(`head merge Reshape '${merge.name}' has a computed target that is not [batch, sequence, ${hidden}]`, blockStyle, [merge]);
    reshapeTo = merge.input(1);
  }
  return {
    softmax,
    q: { input: qs.input, heads: qs.heads, headSize: qs.headSize },
    k,
    v,
    rotary: qRot ? { cos: qRot.cos, sin: qRot.sin } : null,
    scale: scores.scale,
    masks: scores.masks,
    merge: { output: merge.output(0), reshapeTo },
    core,
  };
}

interface ParsedCacheOperand extends CacheOperand {
  rotary: { cos: Value; sin: Value } | null;
}

/** Parses a key (`Transpose(·, 0,1,3,2)` or a direct BNHS head split) or value operand. */
function parseCacheOperand(x: Value, ar: ShapeArithmetic, what: 'key' | 'value', core: Node[]): ParsedCacheOperand | Mismatch {
  if (what === 'key') {
    const t = x.producer;
    if (!t || !opIs(t, 'Transpose')) return new Mismatch(`the key operand of Q·Kᵀ is not a Transpose (found ${t ? t.qualifiedType : 'a graph input'} '${t?.name ?? x.name}')`);
    const perm = permOf(t);
    if (samePerm(perm, [0, 2, 3, 1])) {
      // keys split straight into BNHS (GPT-2 without cache)
      const ks = matchHeadSplit(x, ar, 'key');
      if (isMismatch(ks)) return ks;
      core.push(...ks.nodes);
      return { input: ks.input, heads: ks.heads, headSize: ks.headSize, past: null, present: null, repeat: 1, rotary: null };
    }
    if (!samePerm(perm, [0, 1, 3, 2])) return new Mismatch(`the key Transpose '${t.name}' has perm [${perm?.join(',') ?? 'reversed'}], expected [0,1,3,2]`, [t]);
    core.push(t);
    x = t.input(0);
  }
  let repeat = 1;
  const r = matchRepeatKv(x, ar);
  if (r) {
    core.push(...r.nodes);
    repeat = r.factor ?? 0;
    x = r.input;
  }
  const present = x;
  let past: Value | null = null;
  const cat = matchCacheAppend(x, ar);
  if (cat) {
    core.push(cat.node);
    past = cat.past;
    x = cat.fresh;
  }
  let rotary: ParsedCacheOperand['rotary'] = null;
  const rot = matchRotary(x, ar);
  if (isMismatch(rot)) return rot;
  if (rot) {
    core.push(...rot.nodes);
    rotary = { cos: rot.cos, sin: rot.sin };
    x = rot.input;
  }
  const hs = matchHeadSplit(x, ar, what);
  if (isMismatch(hs)) return hs;
  if (hs.layout !== 'BNSH') return new Mismatch(`${what} heads of '${hs.nodes[0].name}' are not in BNSH layout before the cache`, hs.nodes);
  core.push(...hs.nodes);
  return { input: hs.input, heads: hs.heads, headSize: hs.headSize, past, present, repeat, rotary };
}

/**
 * The one node of `opType` reading `v` at input `index`. Other readers may exist (shape arithmetic
 * the fusion takes along); whether they can go is decided when the nodes are collected.
 */
function mainConsumer(v: Value, opType: string, index: number): Node | null {
  const found = v.uses.filter((u) => u.index === index && opIs(u.node, opType));
  return found.length === 1 ? found[0].node : null;
}

// ---- per-run state: parse cache and the model-level values layers share ------------------------------

/** What one run of the pass shares between its rules and matches. */
class FusionState {
  readonly ar = new ShapeArithmetic();
  /** Nodes that feed more than one block (model-level shape arithmetic): never taken by a fusion. */
  readonly modelNodes = new Set<Node>();
  private readonly parsed = new WeakMap<Node, AttentionBlock | BlockMismatch>();
  /** Model-level values built once and reused by every layer, keyed per graph. */
  private readonly sharedValues = new Map<Graph, Map<string, unknown>>();
  /** GQA facts for the warning and the IO contract. */
  readonly gqa = { maskInputs: new Set<string>(), positionInputs: new Set<string>(), cacheLength: 0, hasPast: false, caches: [] as Array<{ past: Value; present: Value }> };

  constructor(readonly model: Model, readonly params: FuseAttentionParams) {}

  parse(softmax: Node): AttentionBlock | BlockMismatch {
    let p = this.parsed.get(softmax);
    if (!p) {
      p = parseBlock(softmax, this.ar, this.model.opset('') ?? 17);
      this.parsed.set(softmax, p);
    }
    return p;
  }

  /** A model-level value (or values) of `graph`, built by `make` on first use and shared after. */
  shared<T>(graph: Graph, key: string, make: () => T): T {
    let m = this.sharedValues.get(graph);
    if (!m) this.sharedValues.set(graph, (m = new Map()));
    if (!m.has(key)) m.set(key, make());
    return m.get(key) as T;
  }

  get opset(): number {
    return this.model.opset('') ?? 17;
  }
}

/**
 * Names a node the fusion created `<scope of the Softmax>/<suffix>`: the engine names new nodes by
 * the common scope of everything replaced, which model-level shape arithmetic (merged across layers
 * by CSE) can widen to the model; the attention op should carry its layer's scope, which profiling
 * and the editor map back to.
 */
function nameInScope(graph: Graph, node: Node | null, anchor: Node, suffix: string): void {
  const cut = anchor.name.lastIndexOf('/');
  if (!node || cut <= 0) return;
  const name = `${anchor.name.slice(0, cut)}/${suffix}`;
  if (node.name !== name) node.name = graph.uniqueName(name);
}

/** Emits `v.shape[axis:axis+1]` as an int64 [1] tensor. */
function emitDim(b: RewriteBuilder, st: FusionState, v: Value, axis: number): Value {
  if (st.opset >= 15) return b.op('Shape', [v], { start: axis, end: axis + 1 })[0];
  return b.op('Gather', [b.op('Shape', [v])[0], b.i64('axis', [1], [axis])], { axis: 0 })[0];
}

/** A float initializer of `dtype` (float32 or float16) from numbers. */
function floatConst(graph: Graph, base: string, dtype: DType, dims: readonly number[], values: ArrayLike<number>): Value {
  const t = dtype === 'float16'
    ? Tensor.from('float16', dims, Uint16Array.from(Array.from(values, (x) => floatToHalf(x))))
    : Tensor.from('float32', dims, Float32Array.from(values));
  return graph.addInitializer(t, graph.uniqueName(base));
}

/** The float element type of an attention block: from declared types, then the projection weights. */
function attentionDType(v: Value): DType | null {
  if (v.dtype) return v.dtype;
  const p = v.producer;
  if (!p) return null;
  for (const x of p.inputs) {
    const t = x ? constTensor(x) : null;
    if (t && (t.dtype === 'float32' || t.dtype === 'float16')) return t.dtype;
  }
  return opIs(p, 'Split') || opIs(p, 'Reshape') || opIs(p, 'Cast') ? attentionDType(p.input(0)) : null;
}

/** Which of the block's present tensors the outside world reads (graph outputs first). */
function presentsRead(block: AttentionBlock, all: boolean): Value[] {
  const out: Value[] = [];
  for (const p of [block.k.present, block.v.present]) {
    if (!p) continue;
    if (p.isGraphOutput || (all && p.uses.some((u) => !block.core.includes(u.node)))) out.push(p);
  }
  return out;
}

/** Takes the block's nodes; retries with every present exported when a reader outside needs them. */
function fusionNodes(block: AttentionBlock, keep: ReadonlySet<Value>, st: FusionState, extra: readonly Node[] = []): { nodes: Node[]; presents: Value[] } | Mismatch {
  const core = [...block.core, ...extra];
  let presents = presentsRead(block, false);
  let nodes = collectFusionNodes(core, new Set([block.merge.output, ...presents]), keep, st.ar, st.modelNodes);
  if (isMismatch(nodes)) {
    presents = presentsRead(block, true);
    nodes = collectFusionNodes(core, new Set([block.merge.output, ...presents]), keep, st.ar, st.modelNodes);
  }
  if (isMismatch(nodes)) return nodes;
  const bad = readsReplaced(keep, nodes);
  if (bad) return new Mismatch(`the fused op would read '${bad.name}', which the fusion removes`);
  return { nodes, presents };
}

// ---- rule: GPT-2 style → MultiHeadAttention ------------------------------------------------------------

/**
 * `Reshape(Transpose(Softmax(Where(causal, Q·Kᵀ·s, -∞) + pad) · V))` with Q, K, V head splits of
 * three projections and optional `Concat(past, ·)` caches → `MultiHeadAttention(q, k, v,
 * attention_bias = causal ⊕ pad, past_key, past_value)`.
 */
function mhaRule(st: FusionState): RewriteRule {
  return {
    name: 'multi-head-attention',
    description: 'Reshape(Transpose(Softmax(Where(causal, Q·Kᵀ·scale, -inf) + pad)·V)) over Q/K/V head splits [+ Concat(past, ·)] → com.microsoft.MultiHeadAttention(q, k, v, attention_bias, past_key, past_value)',
    anchors: ['Softmax'],
    produces: 'MultiHeadAttention',
    match(softmax: Node): MatchOutcome {
      const block = st.parse(softmax);
      if (block instanceof BlockMismatch) return block.style === 'gqa' ? null : reject(block.reason, ...block.nodes);
      if (block.rotary || block.k.heads !== block.q.heads) return null;
      if (!st.params.mha) return null;
      // masks: at most one causal Where (a slice of the model's triangle) plus additive terms
      let causal: (CausalSlice & { fill: number; keepWhenTrue: boolean }) | null = null;
      const adds: Value[] = [];
      for (const m of block.masks) {
        if (m.kind === 'add') {
          adds.push(m.value);
          continue;
        }
        if (causal) return reject(`more than one Where mask on the scores ('${m.node.name}')`, m.node);
        const c = matchCausalSlice(m.condition, st.ar);
        if (isMismatch(c)) return reject(`${c.reason}; MultiHeadAttention needs the mask as attention_bias [B, 1, S, T]`, m.node, ...c.nodes);
        causal = { ...c, fill: m.fill, keepWhenTrue: m.keepWhenTrue };
      }
      // without a causal triangle, the additive terms themselves must span [.., S, T]: a 4-D mask whose
      // row axis is not a broadcast 1 (HF's 4-D causal mask; a wrong guess fails loudly in the kernel)
      if (adds.length > 0 && !causal && !adds.some((a) => { const d = st.ar.dims(a); return d?.length === 4 && d[2] !== 1; })) {
        return reject('the only masks are additive terms broadcast over the query rows ([B, 1, 1, T]) and no causal mask was found; MultiHeadAttention needs attention_bias of [B|1, N|1, S, T]');
      }
      const dtype = attentionDType(block.q.input) ?? 'float32';
      if (dtype !== 'float32' && dtype !== 'float16') return reject(`attention in ${dtype} is not fused`);
      const keep = new Set<Value>([block.q.input, block.k.input, block.v.input, ...adds]);
      if (block.k.past) keep.add(block.k.past);
      if (block.v.past) keep.add(block.v.past);
      if (causal) keep.add(causal.table);
      const taken = fusionNodes(block, keep, st);
      if (isMismatch(taken)) return reject(taken.reason, ...taken.nodes);
      const graph = softmax.graph as Graph;
      const outputs = [block.merge.output, ...taken.presents];
      return matched({
        nodes: taken.nodes,
        outputs,
        build: (b) => {
          const bias = causal ? causalBias(b, st, graph, block, causal, adds, dtype) : adds.length ? sumTerms(b, adds) : null;
          const hasPast = !!block.k.past;
          const wantPresent = taken.presents.length > 0;
          const count = hasPast || wantPresent ? 3 : 1;
          const outs = b.op('MultiHeadAttention', [block.q.input, block.k.input, block.v.input, null, null, bias, block.k.past, block.v.past], { num_heads: block.q.heads, scale: block.scale }, { domain: MS, outputs: count });
          outs[0].producer?.trimInputs();
          nameInScope(graph, outs[0].producer, softmax, 'MultiHeadAttention_fused');
          const out = block.merge.reshapeTo ? b.op('Reshape', [outs[0], block.merge.reshapeTo])[0] : outs[0];
          return [out, ...taken.presents.map((p) => (p === block.k.present ? outs[1] : outs[2]))];
        },
      });
    },
  };
}

/** The sum of additive mask terms (one term: itself). */
function sumTerms(b: RewriteBuilder, terms: readonly Value[]): Value {
  return terms.slice(1).reduce((acc, t) => b.op('Add', [acc, t])[0], terms[0]);
}

/**
 * The additive mask MultiHeadAttention takes: rows [P, P+S) and columns [0, P+S) of the causal
 * triangle as 0 / fill, plus the model's additive terms (padding), as [B|1, 1, S, T]. Built once
 * per graph (all layers share S and the past length P).
 */
function causalBias(b: RewriteBuilder, st: FusionState, graph: Graph, block: AttentionBlock, causal: CausalSlice & { fill: number; keepWhenTrue: boolean }, adds: readonly Value[], dtype: DType): Value {
  const key = `mha-bias|${causal.size}|${causal.fill}|${causal.keepWhenTrue}|${!!block.k.past}|${adds.map((a) => a.name).join(',')}|${dtype}`;
  return st.shared(graph, key, () => {
    const s = emitDim(b, st, block.q.input, 1);
    let starts: Value;
    let ends: Value;
    if (block.k.past) {
      const p = emitDim(b, st, block.k.past, 2);
      const t = b.op('Add', [p, s])[0];
      starts = b.op('Concat', [p, b.i64('zero', [1], [0])], { axis: 0 })[0];
      ends = b.op('Concat', [t, t], { axis: 0 })[0];
    } else {
      starts = b.i64('starts', [2], [0, 0]);
      ends = b.op('Concat', [s, s], { axis: 0 })[0];
    }
    const rows = b.op('Slice', [causal.table, starts, ends, b.i64('axes', [2], [2, 3])])[0];
    const zero = floatConst(graph, 'attention_bias_zero', dtype, [], [0]);
    const fill = floatConst(graph, 'attention_bias_fill', dtype, [], [causal.fill]);
    let bias = b.op('Where', causal.keepWhenTrue ? [rows, zero, fill] : [rows, fill, zero])[0];
    for (const a of adds) bias = b.op('Add', [bias, a])[0];
    return bias;
  });
}

// ---- rule: Llama style → GroupQueryAttention ----------------------------------------------------------

/**
 * `Reshape(Transpose(Softmax(rope(Q)·repeat_kv(Concat(past_k, rope(K)))ᵀ·s + mask) ·
 * repeat_kv(Concat(past_v, V))))` → `GroupQueryAttention(q, k, v, past_key, past_value, seqlens_k,
 * total_sequence_length, cos_cache, sin_cache)` with `do_rotary=1`.
 */
function gqaRule(st: FusionState): RewriteRule {
  return {
    name: 'group-query-attention',
    description: 'Reshape(Transpose(Softmax(rope(Q)·repeat_kv(Concat(past_k, rope(K)))ᵀ·scale + mask)·repeat_kv(Concat(past_v, V)))) → com.microsoft.GroupQueryAttention(do_rotary=1, seqlens_k and total_sequence_length from attention_mask)',
    anchors: ['Softmax'],
    produces: 'GroupQueryAttention',
    match(softmax: Node): MatchOutcome {
      const block = st.parse(softmax);
      if (block instanceof BlockMismatch) return block.style === 'gqa' ? reject(block.reason, ...block.nodes) : null;
      // GPT-2 style blocks (no rotary, as many KV heads as query heads) come here only with mhaAsGqa
      const mhaStyle = !block.rotary && block.k.heads === block.q.heads;
      if (mhaStyle && !st.params.mhaAsGqa) return null;
      if (!st.params.gqa) return null;
      const h = block.q.headSize;
      if (h % 8 !== 0) return reject(`head size ${h} is not a multiple of 8 (GroupQueryAttention requires it)`);
      if (block.rotary && h % 16 !== 0) return reject(`head size ${h} is not a multiple of 16 (GroupQueryAttention's rotary requires it)`);
      // GQA is always causal and masks keys past seqlens_k: the graph's masks must be that, derived from attention_mask
      if (block.masks.length === 0) return reject('no mask on the scores: GroupQueryAttention is always causal, so a bidirectional block cannot use it');
      let mask: Value | null = null;
      let causalWhere = false;
      for (const m of block.masks) {
        // a GPT-2 causal triangle (Where over a slice of the model's buffer) is what GQA does itself
        if (mhaStyle && m.kind !== 'add' && !isMismatch(matchCausalSlice(m.condition, st.ar))) {
          causalWhere = true;
          continue;
        }
        const src = m.kind === 'add' ? m.value : m.condition;
        if (src.producer && block.core.includes(src.producer)) return reject(`mask '${src.name}' is computed inside the attention block`, m.node);
        const found = findMaskInput(src);
        if (found) mask = found;
      }
      if (!mask) return reject('GroupQueryAttention derives seqlens_k from the attention mask, but no attention_mask graph input feeds this block\'s mask');
      if (mhaStyle && !causalWhere) return reject('no causal triangle among the masks: GroupQueryAttention is always causal, so this block stays MultiHeadAttention');
      let cache: RotaryCache | null = null;
      if (block.rotary) {
        const c = matchRotaryCache(block.rotary.cos, block.rotary.sin, h);
        if (isMismatch(c)) return reject(c.reason, ...c.nodes);
        cache = c;
      }
      const dtype = attentionDType(block.q.input) ?? 'float32';
      if (dtype !== 'float32' && dtype !== 'float16') return reject(`attention in ${dtype} is not fused`);
      const pasts = [block.k.past, block.v.past].filter((x): x is Value => !!x);
      // packed: one MatMul with the concatenated q/k/v weights feeds the op (falls back when a projection is read elsewhere)
      let pack = st.params.packQkv ? matchQkvProjections([block.q.input, block.k.input, block.v.input]) : null;
      let taken = pack ? fusionNodes(block, new Set([pack.input, mask, ...pasts]), st, pack.nodes) : null;
      // GPT-2's c_attn: one projection Split three ways along the hidden axis is already the packed layout
      let split = !pack && st.params.packQkv ? matchPackedSplit([block.q.input, block.k.input, block.v.input], block.q.heads * h, block.k.heads * h, st.ar) : null;
      if (split) taken = fusionNodes(block, new Set([split.input, mask, ...pasts]), st, [split.node]);
      if (!taken || isMismatch(taken)) {
        pack = null;
        split = null;
        taken = fusionNodes(block, new Set([block.q.input, block.k.input, block.v.input, mask, ...pasts]), st);
      }
      if (isMismatch(taken)) return reject(taken.reason, ...taken.nodes);
      const graph = softmax.graph as Graph;
      const maskInput = mask;
      const presents = taken.presents;
      const packed = pack;
      const packedSplit = split;
      return matched({
        nodes: taken.nodes,
        outputs: [block.merge.output, ...presents],
        build: (b) => {
          const { seqlensK, total } = sequenceInfo(b, st, graph, maskInput);
          const caches = cache ? rotaryCaches(st, graph, cache, h, dtype) : null;
          const hasPast = !!block.k.past;
          const count = hasPast || presents.length > 0 ? 3 : 1;
          const qkv = packed ? packedProjection(b, graph, packed, block.softmax) : packedSplit ? [packedSplit.input, null, null] : [block.q.input, block.k.input, block.v.input];
          const outs = b.op('GroupQueryAttention', [
            ...qkv, block.k.past, block.v.past, seqlensK, total, caches?.cos ?? null, caches?.sin ?? null,
          ], {
            num_heads: block.q.heads, kv_num_heads: block.k.heads, scale: block.scale, do_rotary: cache ? 1 : 0, rotary_interleaved: 0,
          }, { domain: MS, outputs: count });
          outs[0].producer?.trimInputs();
          nameInScope(graph, outs[0].producer, softmax, 'GroupQueryAttention_fused');
          st.gqa.maskInputs.add(maskInput.name);
          if (cache && cache.positions.isGraphInput) st.gqa.positionInputs.add(cache.positions.name);
          st.gqa.hasPast ||= hasPast;
          if (block.k.past && block.v.past) st.gqa.caches.push({ past: block.k.past, present: outs[1] }, { past: block.v.past, present: outs[2] });
          const out = block.merge.reshapeTo ? b.op('Reshape', [outs[0], block.merge.reshapeTo])[0] : outs[0];
          return [out, ...presents.map((p) => (p === block.k.present ? outs[1] : outs[2]))];
        },
      });
    },
  };
}

/**
 * `q, k, v = Split(x, [Hq, Hk, Hk], axis=-1)` with x [B, S, Hq + 2·Hk]: x is GroupQueryAttention's
 * packed query as it stands (null when the three are not that Split's outputs 0, 1, 2).
 */
function matchPackedSplit(values: readonly Value[], qHidden: number, kvHidden: number, ar: ShapeArithmetic): { input: Value; node: Node } | null {
  const node = values[0].producer;
  if (!node || !opIs(node, 'Split') || node.outputs.length !== 3) return null;
  if (values.some((v, i) => v.producer !== node || node.outputs[i] !== v)) return null;
  const x = node.input(0);
  const rank = x.shape?.length ?? ar.dims(x)?.length;
  const axis = node.attrInt('axis', 0);
  if (rank !== 3 || (axis !== 2 && axis !== -1)) return null;
  const sizes = node.inputs[1] ? constTensor(node.inputs[1]) : null;
  const given = sizes ? Array.from(sizes.toNumbers()) : null;
  if (given ? given.join() !== [qHidden, kvHidden, kvHidden].join() : qHidden !== kvHidden) return null;
  return { input: x, node };
}

/** The q, k and v projections of one input, `[Add(]MatMul(x, W)[, b)]` with constant W (and b). */
interface QkvProjections {
  input: Value;
  weights: Tensor[];
  biases: Tensor[] | null;
  nodes: Node[];
}

/** Matches three projections of the same input that can be packed into one MatMul (null when not). */
function matchQkvProjections(values: readonly Value[]): QkvProjections | null {
  let input: Value | null = null;
  const weights: Tensor[] = [];
  const biases: Tensor[] = [];
  const nodes: Node[] = [];
  for (const v of values) {
    let p = v.producer;
    let bias: Tensor | null = null;
    if (p && opIs(p, 'Add')) {
      const k = [0, 1].find((i) => opIs(p?.inputs[i]?.producer, 'MatMul') && constTensor(p?.inputs[1 - i]));
      if (k === undefined) return null;
      bias = constTensor(p.input(1 - k));
      nodes.push(p);
      p = p.input(k).producer;
    }
    if (!p || !opIs(p, 'MatMul')) return null;
    const w = constTensor(p.inputs[1]);
    if (!w || w.dims.length !== 2 || (w.dtype !== 'float32' && w.dtype !== 'float16')) return null;
    if (bias && (bias.dtype !== w.dtype || bias.dims.length !== 1 || bias.dims[0] !== w.dims[1])) return null;
    if (input && p.input(0) !== input) return null;
    input = p.input(0);
    nodes.push(p);
    weights.push(w);
    if (bias) biases.push(bias);
  }
  if (!input || weights.some((w) => w.dtype !== weights[0].dtype || w.dims[0] !== weights[0].dims[0])) return null;
  if (biases.length !== 0 && biases.length !== weights.length) return null;
  return { input, weights, biases: biases.length ? biases : null, nodes };
}

/** Concatenates 2-D tensors along their columns (axis 1), or 1-D tensors, byte for byte. */
function concatColumns(parts: readonly Tensor[], name: string): Tensor {
  const rows = parts[0].dims.length === 2 ? parts[0].dims[0] : 1;
  const elem = parts[0].dtype === 'float16' ? 2 : 4;
  const cols = parts.map((t) => t.dims[t.dims.length - 1]);
  const total = cols.reduce((a, c) => a + c, 0);
  const out = new Uint8Array(rows * total * elem);
  let offset = 0;
  parts.forEach((t, i) => {
    const src = t.bytes();
    const w = cols[i] * elem;
    for (let r = 0; r < rows; r++) out.set(src.subarray(r * w, (r + 1) * w), r * total * elem + offset);
    offset += w;
  });
  const dims = parts[0].dims.length === 2 ? [rows, total] : [total];
  return new Tensor({ name, dtype: parts[0].dtype, dims, storage: { kind: 'raw', bytes: out } });
}

/** `MatMul(x, [Wq | Wk | Wv]) [+ [bq | bk | bv]]`: the packed QKV input of GroupQueryAttention. */
function packedProjection(b: RewriteBuilder, graph: Graph, p: QkvProjections, softmax: Node): [Value, null, null] {
  const scope = softmax.name.includes('/') ? softmax.name.slice(0, softmax.name.lastIndexOf('/')) : softmax.name;
  const wName = graph.uniqueName(`${scope}/qkv_proj.weight`);
  const w = graph.addInitializer(concatColumns(p.weights, wName), wName);
  let qkv = b.op('MatMul', [p.input, w])[0];
  nameInScope(graph, qkv.producer, softmax, 'qkv_proj/MatMul_fused');
  if (p.biases) {
    const bName = graph.uniqueName(`${scope}/qkv_proj.bias`);
    qkv = b.op('Add', [qkv, graph.addInitializer(concatColumns(p.biases, bName), bName)])[0];
  }
  return [qkv, null, null];
}

/** The attention_mask graph input a mask is computed from (breadth-first, bounded), or null. */
function findMaskInput(v: Value): Value | null {
  const seen = new Set<Value>([v]);
  const queue: Value[] = [v];
  let fallback: Value | null = null;
  for (let i = 0; i < queue.length && i < 512; i++) {
    const x = queue[i];
    if (x.isGraphInput && !x.initializer) {
      if (/attention_mask/i.test(x.name)) return x;
      if (/mask/i.test(x.name) && x.shape?.length === 2) fallback ??= x;
      continue;
    }
    for (const y of x.producer?.inputs ?? []) {
      if (y && !seen.has(y)) {
        seen.add(y);
        queue.push(y);
      }
    }
  }
  return fallback;
}

/**
 * `seqlens_k = ReduceSum(attention_mask, 1) − 1` (int32 [B]) and `total_sequence_length =
 * attention_mask.shape[1]` (int32 [1]), built once per graph.
 */
function sequenceInfo(b: RewriteBuilder, st: FusionState, graph: Graph, mask: Value): { seqlensK: Value; total: Value } {
  const seqlensK = st.shared(graph, `seqlens_k|${mask.name}`, () => {
    const m32 = b.op('Cast', [mask], { to: 6 })[0];
    const sum = st.opset >= 13
      ? b.op('ReduceSum', [m32, b.i64('axes', [1], [1])], { keepdims: 0 })[0]
      : b.op('ReduceSum', [m32], { axes: [1], keepdims: 0 })[0];
    const one = graph.addInitializer(Tensor.from('int32', [], Int32Array.of(1)), graph.uniqueName('seqlens_k_one'));
    return b.op('Sub', [sum, one])[0];
  });
  const total = st.shared(graph, `total_sequence_length|${mask.name}`, () => b.op('Cast', [emitDim(b, st, mask, 1)], { to: 6 })[0]);
  return { seqlensK, total };
}

/** cos/sin caches [positions, headSize/2] for GroupQueryAttention, built once per graph and table. */
function rotaryCaches(st: FusionState, graph: Graph, cache: RotaryCache, headSize: number, dtype: DType): { cos: Value; sin: Value } {
  const half = headSize / 2;
  const key = `rotary|${dtype}|${cache.scaling}|${cache.invFreq ? cache.invFreq.join(',') : `table:${cache.positions.name}:${cache.table?.positions}`}`;
  return st.shared(graph, key, () => {
    let cosData: Float32Array;
    let sinData: Float32Array;
    let positions: number;
    if (cache.table) {
      ({ cos: cosData, sin: sinData, positions } = cache.table);
    } else {
      positions = st.params.rotaryCacheLength;
      cosData = new Float32Array(positions * half);
      sinData = new Float32Array(positions * half);
      const inv = Float32Array.from(cache.invFreq as number[]);
      for (let p = 0; p < positions; p++) {
        for (let i = 0; i < half; i++) {
          // the graph forms the angle as a float32 product (MatMul with K = 1), then takes Cos/Sin of it
          const angle = Math.fround(p * inv[i]);
          cosData[p * half + i] = cache.scaling * Math.cos(angle);
          sinData[p * half + i] = cache.scaling * Math.sin(angle);
        }
      }
    }
    st.gqa.cacheLength = st.gqa.cacheLength ? Math.min(st.gqa.cacheLength, positions) : positions;
    return {
      cos: floatConst(graph, 'rotary_cos_cache', dtype, [positions, half], cosData),
      sin: floatConst(graph, 'rotary_sin_cache', dtype, [positions, half], sinData),
    };
  });
}

// ---- the pass ------------------------------------------------------------------------------------------

/** The dim name of the shared past/present KV buffers' sequence axis (static KV). */
export const MAX_SEQUENCE_DIM = 'max_sequence_length';

/**
 * Static KV: past and present of each GroupQueryAttention become one buffer of
 * [batch, kv_heads, max_sequence_length, head_size] (`past_present_share_buffer`). Rewrites the
 * declared shapes of those graph inputs/outputs and returns the IO contract the runtime follows.
 */
function makeKvStatic(st: FusionState): IoContractChange {
  const inputs: NonNullable<IoContractChange['inputs']> = {};
  const outputs: NonNullable<IoContractChange['outputs']> = {};
  const staticShape = (v: Value) => {
    const s = v.shape;
    if (s && s.length === 4) v.type = { kind: 'tensor', dtype: v.dtype, shape: [s[0], s[1], MAX_SEQUENCE_DIM, s[3]] };
  };
  for (const { past, present } of st.gqa.caches) {
    if (past.isGraphInput) {
      staticShape(past);
      inputs[past.name] = { role: 'kv cache buffer', note: `[batch, kv_heads, ${MAX_SEQUENCE_DIM}, head_size]; positions [0, past length) hold the cache, the rest is free space; pass the same buffer as '${present.name}'` };
    }
    if (present.isGraphOutput) {
      staticShape(present);
      outputs[present.name] = { role: 'kv cache buffer', note: `the same buffer as '${past.name}', updated in place at positions [past length, past length + sequence_length)` };
    }
  }
  for (const m of st.gqa.maskInputs) inputs[m] = { role: 'sequence lengths', note: `[batch, past length + sequence_length] (not ${MAX_SEQUENCE_DIM}): ones for the valid cache and the new tokens, right-padded` };
  return {
    description: `static KV cache: each past_key_values/present pair is one buffer of ${MAX_SEQUENCE_DIM} (≤ ${st.gqa.cacheLength}) positions shared by input and output (GroupQueryAttention past_present_share_buffer); the attention mask still covers only the valid positions`,
    inputs,
    outputs,
  };
}

/** The IO contract and warning a GroupQueryAttention fusion brings. */
function gqaContract(st: FusionState): { contract: IoContractChange; warning: string } {
  const masks = [...st.gqa.maskInputs];
  const positions = [...st.gqa.positionInputs];
  const limit = st.gqa.cacheLength;
  const warning =
    `GroupQueryAttention derives each sequence's length from ${masks.join(', ')} (seqlens_k = sum − 1) and its rotary positions from that ` +
    `length: masks must be right-padded (ones, then zeros — no left padding) and positions must continue from the past length` +
    (positions.length ? ` (${positions.join(', ')} ${positions.length > 1 ? 'are' : 'is'} no longer read)` : '') +
    `; it is always causal; with a past, more than one new token needs batch size 1; total length ≤ ${limit} (rotary cache).`;
  const inputs: IoContractChange['inputs'] = {};
  for (const m of masks) inputs[m] = { role: 'sequence lengths', note: 'right-padded only: seqlens_k = sum(mask) − 1, total_sequence_length = mask.shape[1]' };
  for (const p of positions) inputs[p] = { role: 'unused', note: 'rotary positions are derived from the mask and past length (past_len + i)' };
  return {
    contract: {
      description: `GroupQueryAttention: names and shapes unchanged; masks right-padded, positions contiguous from the past length, sequence length ≤ ${limit}${st.gqa.hasPast ? ', and multi-token steps with a past need batch 1' : ''}`,
      inputs,
    },
    warning,
  };
}

export const fuseAttention: Pass<FuseAttentionParams> = {
  name: PASS,
  description: 'Fuse attention blocks into MultiHeadAttention (GPT-2 style) or GroupQueryAttention with rotary (Llama style)',
  category: 'fusion',
  params: {
    mha: { type: 'boolean', default: true, doc: 'Fuse blocks without rotary into com.microsoft.MultiHeadAttention (causal and padding masks as attention_bias).' },
    gqa: { type: 'boolean', default: true, doc: 'Fuse rotary / grouped-KV blocks into com.microsoft.GroupQueryAttention (assumes right-padded masks).' },
    packQkv: { type: 'boolean', default: true, doc: 'Feed GroupQueryAttention one packed q/k/v projection (a single MatMul with concatenated weights, or the projection a Split divides) instead of three.' },
    mhaAsGqa: { type: 'boolean', default: false, doc: 'Fuse GPT-2 style blocks (no rotary, causal triangle + attention_mask padding) into GroupQueryAttention (do_rotary=0, kv_num_heads = num_heads) instead of MultiHeadAttention: the form a static KV cache and graph capture need (assumes right-padded masks).' },
    staticKv: { type: 'boolean', default: false, doc: 'Static KV cache for GroupQueryAttention: past and present become one [batch, kv_heads, max_sequence_length, head] buffer the runtime binds to both (changes the model IO; see ioContract).' },
    rotaryCacheLength: { type: 'number', default: 4096, min: 16, max: 1 << 20, doc: 'Positions in the cos/sin caches made for GroupQueryAttention when the graph computes rotary angles (the longest sequence the fused model accepts).' },
  },
  run(model: Model, ctx: PassContext, params: FuseAttentionParams): PassResult {
    const st = new FusionState(model, params);
    // with mhaAsGqa, GPT-2 style blocks try GroupQueryAttention first and fall back to MultiHeadAttention
    const rules = params.mhaAsGqa ? [gqaRule(st), mhaRule(st)] : [mhaRule(st), gqaRule(st)];
    const result = applyRewrites(model, rules, PASS, ctx);
    const fused = (result.stats.fused ?? {}) as Record<string, number>;
    if ((fused.MultiHeadAttention ?? 0) + (fused.GroupQueryAttention ?? 0) > 0 && !model.opsetImports.has(MS)) model.opsetImports.set(MS, 1);
    if (fused.GroupQueryAttention) {
      const { contract, warning } = gqaContract(st);
      const nodes = result.provenance.filter((p) => p.opType === 'GroupQueryAttention').map((p) => p.node);
      const diag: Diagnostic = { pass: PASS, rule: 'group-query-attention', kind: 'warning', nodes, message: warning };
      result.diagnostics.push(diag);
      result.ioContract = contract;
      if (params.staticKv && st.gqa.caches.length) {
        const kv = makeKvStatic(st);
        result.ioContract = {
          description: `${contract.description}; ${kv.description}`,
          inputs: { ...contract.inputs, ...kv.inputs },
          outputs: kv.outputs,
        };
      }
    }
    return result;
  },
};
