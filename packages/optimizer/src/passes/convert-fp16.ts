/**
 * `convert-fp16`: weights and compute to float16, except a keep-list.
 *
 * Every node that reads or writes float32 tensors is put in one of two sets: *half* (computes in
 * float16) or *kept* (its op is in `keepOps` — by default normalization statistics, Softmax and
 * reductions — or its name is in `keepNodes`, e.g. the nodes whose calibration activations exceed
 * the float16 range, see `fp16OverflowNodes`). Then each float32 value gets a home dtype (float16
 * when a half node produces it) and each use the dtype its reader computes in; where they differ,
 * ONE Cast per (value, dtype) is inserted and shared by all readers — so the graph gets a Cast only
 * at a real precision boundary, and never a pair that cancels. Float32 weights read by half nodes
 * become float16 initializers (a weight read by both kinds is stored in both).
 *
 * `keepIO` (default true) keeps the model's float inputs and outputs float32: a Cast after each
 * input and before each output; with `keepIO: false` float inputs become float16 and outputs are
 * whatever their producer computes in.
 *
 * The pass is idempotent: a second run finds only boundary Casts and kept nodes and changes nothing.
 */
import { dtypeToOnnx, inferShapes, tensorType, Tensor, Value, type Graph, type Node } from '@fuselab/graph-core';
import { emptyResult, type Pass } from '../pass.ts';
import { dropIfUnused, weightBytes } from '../precision/graph-edit.ts';
import { castTarget, dtypeOfValue, FLOAT32_ONLY_INPUTS, FLOAT32_ONLY_OUTPUTS, FP16_DEFAULT_KEEP, toFloat16Tensor } from '../precision/fp16.ts';

export interface Fp16Params extends Record<string, unknown> {
  keepOps: string[];
  keepNodes: string[];
  keepIO: boolean;
}

const PASS = 'convert-fp16';
/** Ops whose output dtype comes from an attribute we do not rewrite: left in float32. */
const DTYPE_ATTR_OPS = new Set(['EyeLike', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli']);

type Prec = 'float32' | 'float16';

export const convertFp16: Pass<Fp16Params> = {
  name: PASS,
  description: 'float16 weights and compute, with a keep-list (norm statistics, Softmax, reductions, overflowing nodes) and minimal Casts',
  category: 'precision',
  params: {
    keepOps: { type: 'string[]', default: [...FP16_DEFAULT_KEEP], doc: 'Op types computed in float32' },
    keepNodes: { type: 'string[]', default: [], doc: 'Node names computed in float32 (e.g. where calibration activations exceed ±65504)' },
    keepIO: { type: 'boolean', default: true, doc: 'Keep the model inputs and outputs float32 (Casts at the edges)' },
  },
  run(model, ctx, params) {
    const result = emptyResult(model);
    const g = model.graph;
    inferShapes(model);
    const before = weightBytes(model);
    const keepOps = new Set(params.keepOps);
    const keepNodes = new Set(params.keepNodes);
    const isF32 = (v: Value | null | undefined) => dtypeOfValue(v) === 'float32';
    const nodes = g.nodes;
    const half = new Set<Node>();
    const kept = new Map<string, string[]>();
    let changes = 0;
    for (const n of nodes) {
      const floatOut = n.opType === 'Constant' ? constantIsF32(n) : n.opType === 'ConstantOfShape' ? constantOfShapeIsF32(n) : false;
      if (!(floatOut || n.inputs.some(isF32) || n.outputs.some(isF32))) continue;
      // a Cast from a float16 value to float32 is a precision boundary (ours, or the model's): leave it
      if (n.opType === 'Cast' && castTarget(n) === 'float32' && dtypeOfValue(n.inputs[0]) === 'float16') continue;
      const why = keepOps.has(n.opType) ? `${n.opType} is in the keep-list` : keepNodes.has(n.name) ? 'listed in keepNodes' : n.subgraphs().length ? 'has subgraphs' : DTYPE_ATTR_OPS.has(n.opType) ? 'output dtype set by an attribute' : null;
      if (why) {
        const list = kept.get(why) ?? [];
        list.push(n.name);
        kept.set(why, list);
        continue;
      }
      half.add(n);
    }

    // values that are float32 now, and where their float16 / float32 versions live
    const versions = new Map<Value, { float16?: Value; float32?: Value }>();
    const home = (v: Value): Prec => {
      if (v.initializer) return 'float32';
      if (v.isGraphInput) return params.keepIO ? 'float32' : 'float16';
      const p = v.producer;
      if (p && half.has(p) && !FLOAT32_ONLY_OUTPUTS[p.opType]?.includes(v.producerIndex)) return 'float16';
      return 'float32';
    };
    const f32Values = new Set<Value>();
    for (const n of nodes) for (const v of [...n.inputs, ...n.outputs]) if (v && isF32(v)) f32Values.add(v);
    for (const v of g.inputs) if (isF32(v)) f32Values.add(v);
    for (const n of half) {
      if (n.opType === 'Constant' && constantIsF32(n)) f32Values.add(n.output(0));
      if (n.opType === 'ConstantOfShape' && constantOfShapeIsF32(n)) f32Values.add(n.output(0));
    }
    let castsInserted = 0;
    const homes = new Map<Value, Prec>();
    for (const v of f32Values) homes.set(v, home(v));

    // graph outputs computed in float16 but kept float32: the producer writes a new value, a Cast writes the output
    for (const [i, v] of g.outputs.entries()) {
      if (homes.get(v) !== 'float16') continue;
      if (!params.keepIO) continue;
      const p = v.producer as Node;
      const { node: np, value: v16 } = retargetOutput(g, p, v.producerIndex, `${v.name}_fp16`);
      half.delete(p);
      half.add(np);
      homes.set(v16, 'float16');
      homes.set(v, 'float32');
      versions.set(v, { float16: v16, float32: v });
      // readers inside the graph that compute in float16 read v16 directly
      for (const u of v.uses) if (half.has(u.node)) u.node.setInput(u.index, v16);
      const cast = castInto(g, v16, v, `${p.name}/output_${i}_to_fp32`);
      result.provenance.push({ node: cast.name, opType: 'Cast', sources: [], pass: PASS, rule: 'keep-io' });
      castsInserted++;
    }
    for (const [v, h] of homes) {
      if (h === 'float16' && v.dtype !== 'float16') {
        v.type = tensorType('float16', v.shape);
        changes++;
      }
      if (!versions.has(v)) versions.set(v, { [h]: v });
    }

    let weightsConverted = 0;
    const clampedIn: string[] = [];
    const half16 = (t: Tensor, name?: string) => {
      const out = toFloat16Tensor(t, name);
      if (out.clamped) clampedIn.push(`${name || t.name} (${out.clamped})`);
      return out;
    };
    const version = (v: Value, want: Prec): Value => {
      const vs = versions.get(v) as { float16?: Value; float32?: Value };
      const have = vs[want];
      if (have) return have;
      let made: Value;
      if (v.initializer) {
        made = g.addInitializer(half16(v.initializer, `${v.name}_fp16`), g.uniqueName(`${v.name}_fp16`));
        weightsConverted++;
      } else {
        const cast = g.createNode({ opType: 'Cast', name: g.uniqueName(`${v.name}_to_${want === 'float16' ? 'fp16' : 'fp32'}`), inputs: [v], attributes: { to: dtypeToOnnx(want) } });
        made = cast.output(0);
        made.type = tensorType(want, v.shape);
        result.provenance.push({ node: cast.name, opType: 'Cast', sources: [], pass: PASS, rule: want === 'float16' ? 'cast-to-fp16' : 'cast-to-fp32' });
        castsInserted++;
      }
      vs[want] = made;
      return made;
    };
    for (const n of g.nodes) {
      if (n.opType === 'Cast') continue; // a Cast reads any dtype
      n.inputs.forEach((v, i) => {
        if (!v || !homes.has(v)) return;
        const want: Prec = half.has(n) && !FLOAT32_ONLY_INPUTS[n.opType]?.includes(i) ? 'float16' : 'float32';
        const target = version(v, want);
        if (target !== v) n.setInput(i, target);
      });
    }
    // attributes that carry a float32 dtype
    for (const n of half) {
      if (n.opType === 'Cast' && castTarget(n) === 'float32') {
        const input = n.inputs[0];
        const out = n.output(0);
        if (input && dtypeOfValue(input) === 'float16' && !out.isGraphOutput) {
          // was float32 → float32 (HF norms cast to the compute dtype): now a float16 no-op, drop it
          g.replaceAllUsesWith(out, input);
          g.removeNode(n);
          result.removed.push({ node: n.name, opType: 'Cast', pass: PASS, reason: 'float32→float32 Cast became a float16 no-op' });
        } else {
          n.setAttr('to', dtypeToOnnx('float16'));
        }
        changes++;
      } else if (n.opType === 'Constant' && constantIsF32(n)) {
        const a = n.attr('value');
        if (a?.type === 'tensor') n.setAttr('value', half16(a.value));
        else n.setAttr('value', half16(Tensor.from('float32', a?.type === 'floats' ? [a.value.length] : [], Float32Array.from(a?.type === 'floats' ? a.value : [a?.type === 'float' ? a.value : 0]))));
        for (const k of ['value_float', 'value_floats']) n.attributes.delete(k);
        changes++;
      } else if (n.opType === 'ConstantOfShape' && constantOfShapeIsF32(n)) {
        const a = n.attr('value');
        n.setAttr('value', half16(a?.type === 'tensor' ? a.value : Tensor.from('float32', [1], new Float32Array(1))));
        changes++;
      }
    }
    for (const v of [...g.initializers.values()]) dropIfUnused(g, v);
    if (clampedIn.length) result.diagnostics.push({ pass: PASS, rule: 'clamp', kind: 'warning', nodes: [], message: `constants beyond the float16 range were clamped to ±65504: ${clampedIn.join(', ')}` });
    for (const [why, names] of kept) result.diagnostics.push({ pass: PASS, rule: 'keep-list', kind: 'info', nodes: names, message: `${names.length} node(s) kept in float32: ${why}` });
    const unknown = [...half].filter((n) => n.inputs.some((v) => v && !v.initializer && dtypeOfValue(v) === null));
    if (unknown.length) result.diagnostics.push({ pass: PASS, rule: 'dtype', kind: 'warning', nodes: unknown.map((n) => n.name), message: 'inputs of unknown element type were left as they are: run shape inference (or give the model value_info) so they can be converted' });
    result.modified = changes + castsInserted + weightsConverted > 0;
    result.stats = {
      converted: { nodes: result.modified ? half.size : 0 },
      kept: Object.fromEntries([...kept].map(([why, names]) => [why, names.length])),
      castsInserted,
      weightsConverted,
      weightBytesBefore: before,
      weightBytesAfter: weightBytes(model),
    };
    if (ctx.signal?.aborted) throw ctx.signal.reason ?? new Error('cancelled');
    return result;
  },
};

function constantIsF32(n: Node): boolean {
  const a = n.attr('value') ?? n.attr('value_float') ?? n.attr('value_floats');
  return !!a && (a.type === 'float' || a.type === 'floats' || (a.type === 'tensor' && a.value.dtype === 'float32'));
}

function constantOfShapeIsF32(n: Node): boolean {
  const a = n.attr('value');
  return !a || (a.type === 'tensor' && a.value.dtype === 'float32');
}

/** Makes output `index` of `p` a fresh float16 value (returned); the old value is left without a producer. */
function retargetOutput(g: Graph, p: Node, index: number, base: string): { node: Node; value: Value } {
  const old = p.output(index);
  const v16 = new Value(g.uniqueName(base), tensorType('float16', old.shape));
  const init = { opType: p.opType, domain: p.domain, name: p.name, overload: p.overload, attributes: new Map(p.attributes), docString: p.docString };
  const inputs = [...p.inputs];
  const outputs = p.outputs.map((v, i) => (i === index ? v16 : v));
  g.removeNode(p, true);
  return { node: g.createNode({ ...init, inputs, outputs }), value: v16 };
}

/** `dst = Cast(src, to=dst's dtype)` with `dst` an existing value (a graph output) that has no producer. */
function castInto(g: Graph, src: Value, dst: Value, name: string): Node {
  return g.createNode({ opType: 'Cast', name: g.uniqueName(name), inputs: [src], outputs: [dst], attributes: { to: dtypeToOnnx('float32') } });
}
