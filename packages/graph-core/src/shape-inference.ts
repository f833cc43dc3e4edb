/**
 * Shape and type inference over the IR. Walks each graph in topological order (If/Loop/Scan
 * subgraphs included; calls of model-local functions are inferred by inferring the function body
 * with the call's input types and attributes), asks the op registry for each node's output types,
 * and writes them to `Value.type`.
 *
 * Besides types, it tracks the *contents* of small integer tensors — shape vectors and the
 * arithmetic on them — so the `Shape → Gather → Unsqueeze → Concat → Reshape` chains of exported
 * graphs give symbolic shapes (`[batch_size, sequence_length, 4, 16]`) instead of unknowns.
 *
 * It never throws on odd graphs (unless `strict`): contradictions become ShapeInferenceErrors in
 * the report, ops it does not know are listed and their outputs left unknown, and inference goes on
 * downstream wherever it can.
 */
import { ShapeInferenceError } from './errors.ts';
import { int64ToNumber, type Attribute } from './ir/attribute.ts';
import type { DType } from './ir/dtype.ts';
import type { Graph } from './ir/graph.ts';
import type { Model, ModelFunction } from './ir/model.ts';
import type { Node } from './ir/node.ts';
import type { Dim, Shape } from './ir/shape.ts';
import type { Tensor } from './ir/tensor.ts';
import { tensorType, type Value, type ValueType } from './ir/value.ts';
import { joinTypes, MAX_DATA_ELEMENTS, tensorData } from './ops/infer-utils.ts';
import { defaultOpRegistry, type OpRegistry } from './ops/registry.ts';
import { normalizeDomain, type AttrDefault, type InferenceContext, type LazyTensorData, type OpSchema, type SubgraphResult, type TensorData, type TensorInfo } from './ops/schema.ts';
import { canonicalDim, substituteDim } from './symbolic.ts';

/** Options of {@link inferShapes}. */
export interface ShapeInferenceOptions {
  /**
   * Concrete (or renamed) dims for graph inputs, by input name: `{ input_ids: [2, 7] }`. The graph
   * inputs' types are rewritten to these shapes, and symbols they bind (`batch_size` = 2) are
   * substituted in the other inputs' declared shapes too.
   */
  inputShapes?: Record<string, readonly Dim[]>;
  /**
   * Replace existing types of node outputs with what inference finds, even where it finds less.
   * Default false: inferred dims win where known, declared ones (value_info) fill the gaps.
   */
  overwrite?: boolean;
  /** Throw the first ShapeInferenceError instead of collecting it. */
  strict?: boolean;
  /** Op schemas to use (default: the built-in registry). */
  registry?: OpRegistry;
}

/** A node whose op has no schema (nor model-local function) at the model's opset. */
export interface UnknownOp {
  node: Node;
  opType: string;
  domain: string;
}

/** A value whose type, rank or some dims stay unknown, and why. */
export interface UnresolvedValue {
  value: Value;
  reason: string;
}

/** What {@link inferShapes} did and could not do. */
export interface ShapeInferenceReport {
  /** Number of node outputs (main graph and its subgraphs) that now have a type. */
  inferred: number;
  unknownOps: UnknownOp[];
  unresolved: UnresolvedValue[];
  errors: ShapeInferenceError[];
}

/** Function calls nested deeper than this are reported, not followed (recursive functions). */
const MAX_FUNCTION_DEPTH = 32;
/** Subgraphs nested deeper than this are reported, not followed. */
const SUBGRAPH_DEPTH_LIMIT = 64;

/** Carries contradictions out of a shape function. */
class InferenceFailure extends Error {}

/** What inference knows about one value in one scope. */
interface Slot {
  type: ValueType | null;
  /** Known contents; undefined until asked for; a function until first asked for. */
  data: TensorData | LazyTensorData | null | undefined;
  /** Why the type is incomplete ('' when complete or not a node output). */
  reason: string;
  /** 'output' for node outputs, 'bound' for graph/subgraph inputs given a type, 'read' for data lookups. */
  kind: 'output' | 'bound' | 'read';
}

/** Where a graph is being inferred: its values' slots, opsets and (in functions) call attributes. */
class Scope {
  readonly slots = new Map<Value, Slot>();
  constructor(
    readonly opsets: ReadonlyMap<string, number>,
    /** True for the main graph and its subgraphs: types are written back to the IR. */
    readonly commit: boolean,
    /** Attributes of the function call being inferred (resolves `ref` attributes). */
    readonly callAttrs: ReadonlyMap<string, Attribute> | null,
    /** Text appended to error reasons inside function bodies. */
    readonly where: string,
    readonly depth: number,
  ) {}

  type(v: Value): ValueType | null {
    const slot = this.slots.get(v);
    return slot && slot.kind !== 'read' ? slot.type : v.type;
  }
}

/**
 * Infers the type of every value of the model (main graph, subgraphs, function calls) and writes it
 * to `Value.type`. See {@link ShapeInferenceOptions}; returns what it could not do.
 */
export function inferShapes(model: Model, options: ShapeInferenceOptions = {}): ShapeInferenceReport {
  return new Session(model, options).run();
}

class Session {
  readonly report: ShapeInferenceReport = { inferred: 0, unknownOps: [], unresolved: [], errors: [] };
  readonly registry: OpRegistry;
  private readonly errorKeys = new Set<string>();
  private readonly unknownNodes = new Set<Node>();
  /** Joined types of function-body values over all calls. */
  private readonly functionTypes = new Map<Value, ValueType | null>();
  private subgraphDepth = 0;

  constructor(readonly model: Model, readonly options: ShapeInferenceOptions) {
    this.registry = options.registry ?? defaultOpRegistry;
  }

  run(): ShapeInferenceReport {
    const main = new Scope(this.model.opsetImports, true, null, '', 0);
    this.bindInputs(main);
    this.inferGraph(this.model.graph, main);
    this.commit(main);
    return this.report;
  }

  // ---- inputs ------------------------------------------------------------------------------------

  private bindInputs(scope: Scope): void {
    const shapes = this.options.inputShapes;
    if (!shapes) return;
    const graph = this.model.graph;
    const byName = new Map(graph.inputs.map((v) => [v.name, v]));
    const bindings = new Map<string, Dim>();
    for (const [name, dims] of Object.entries(shapes)) {
      const v = byName.get(name);
      if (!v) {
        throw new ShapeInferenceError(name, 'graph input', `inputShapes names '${name}', which is not a graph input (inputs: ${graph.inputs.map((i) => i.name).join(', ') || 'none'})`);
      }
      const declared = v.shape;
      if (declared && declared.length === dims.length) {
        declared.forEach((d, i) => {
          if (typeof d === 'string' && dims[i] !== null && !bindings.has(d)) bindings.set(d, dims[i]);
        });
      }
      scope.slots.set(v, { type: tensorType(v.dtype, dims.map(canonicalDim)), data: undefined, reason: '', kind: 'bound' });
    }
    for (const v of graph.inputs) {
      if (Object.hasOwn(shapes, v.name)) continue;
      const s = v.shape;
      if (s && s.some((d) => typeof d === 'string')) scope.slots.set(v, { type: tensorType(v.dtype, s.map((d) => substituteDim(d, bindings))), data: undefined, reason: '', kind: 'bound' });
    }
  }

  // ---- graphs and nodes --------------------------------------------------------------------------

  private inferGraph(graph: Graph, scope: Scope): void {
    let nodes: readonly Node[];
    try {
      nodes = graph.nodes;
    } catch (e) {
      this.error(null, 'Graph', `graph '${graph.name}' cannot be ordered: ${errorText(e)}`, scope);
      return;
    }
    for (const node of nodes) this.inferNode(node, scope);
  }

  private inferNode(node: Node, scope: Scope): void {
    const domain = normalizeDomain(node.domain);
    const fn = this.model.functions.size === 0 ? undefined : this.model.functionFor(node.domain, node.opType, node.overload) ?? (domain !== node.domain ? this.model.functionFor(domain, node.opType, node.overload) : undefined);
    if (fn) {
      this.inferCall(node, fn, scope);
      return;
    }
    const version = scope.opsets.get(domain) ?? (domain === '' ? scope.opsets.get('ai.onnx') : undefined);
    const schema = this.registry.lookup(domain, node.opType, version);
    if (!schema) {
      if (!this.unknownNodes.has(node)) {
        this.unknownNodes.add(node);
        this.report.unknownOps.push({ node, opType: node.opType, domain });
      }
      const older = this.registry.versions(domain, node.opType);
      const why = older.length
        ? `${node.qualifiedType} needs opset ${older[0].since}+ of '${domain || 'ai.onnx'}', the model imports ${version}`
        : `produced by ${node.qualifiedType}, an op without a schema`;
      for (const v of node.outputs) if (v) this.setType(v, null, null, scope, why);
      return;
    }
    const ctx = new NodeContext(this, node, schema, version ?? schema.since, scope);
    const arity = this.checkArity(node, schema);
    if (arity) {
      this.error(node, node.opType, arity, scope);
    } else {
      try {
        schema.inferShape(ctx);
      } catch (e) {
        if (e instanceof InferenceFailure) this.error(node, node.opType, e.message, scope);
        else if (e instanceof ShapeInferenceError) throw e;
        else this.error(node, node.opType, `internal error in the shape function (please report): ${errorText(e)}`, scope);
      }
    }
    const outputs = node.outputs;
    for (let i = 0; i < outputs.length; i++) {
      const v = outputs[i];
      if (!v) continue;
      const set = ctx.results[i];
      const type = set ? set.type : null;
      this.setType(v, type, set ? set.data : null, scope, isComplete(type) ? '' : this.reasonFor(node, ctx, scope));
    }
  }

  private checkArity(node: Node, schema: OpSchema): string | null {
    const n = node.inputs.length;
    if (n > schema.maxInputs) return `has ${n} inputs; ${schema.key}@${schema.since} takes at most ${schema.maxInputs}`;
    for (let i = 0; i < schema.minInputs; i++) {
      if (!node.inputs[i] && !schema.inputs[Math.min(i, schema.inputs.length - 1)]?.optional) {
        return `required input ${i} ('${schema.inputs[Math.min(i, schema.inputs.length - 1)]?.name}') is missing`;
      }
    }
    if (node.outputs.length > schema.maxOutputs) return `has ${node.outputs.length} outputs; ${schema.key}@${schema.since} gives at most ${schema.maxOutputs}`;
    return null;
  }

  private reasonFor(node: Node, ctx: NodeContext, scope: Scope): string {
    if (ctx.noteText) return ctx.noteText;
    for (const v of node.inputs) {
      if (v && !isComplete(scope.type(v))) return `input '${v.name}' of ${node.qualifiedType} '${node.name}' is not fully known`;
    }
    return `${node.qualifiedType} '${node.name}' could not infer it`;
  }

  /** Infers a call of a model-local function by inferring its body with the call's types. */
  private inferCall(node: Node, fn: ModelFunction, scope: Scope): void {
    const where = `in function '${fn.domain}::${fn.name}' called by '${node.name}'`;
    if (scope.depth >= MAX_FUNCTION_DEPTH) {
      this.error(node, node.opType, `function calls nest deeper than ${MAX_FUNCTION_DEPTH} (recursive function?)`, scope);
      for (const v of node.outputs) if (v) this.setType(v, null, null, scope, 'function call too deep');
      return;
    }
    const attrs = new Map<string, Attribute>(fn.attributeDefaults);
    for (const [k, a] of node.attributes) {
      const resolved = a.type === 'ref' ? scope.callAttrs?.get(a.ref) : a;
      if (resolved) attrs.set(k, resolved);
    }
    const opsets = new Map(this.model.opsetImports);
    for (const [d, v] of fn.opsetImports) opsets.set(d, v);
    const child = new Scope(opsets, false, attrs, scope.where ? `${where}, ${scope.where}` : where, scope.depth + 1);
    fn.body.inputs.forEach((p, i) => {
      const arg = node.inputs[i];
      child.slots.set(p, { type: arg ? scope.type(arg) : null, data: arg ? this.dataOf(arg, scope) : null, reason: '', kind: 'bound' });
    });
    this.inferGraph(fn.body, child);
    for (const [v, slot] of child.slots) {
      if (slot.kind !== 'output') continue;
      const t = slot.type;
      this.functionTypes.set(v, this.functionTypes.has(v) ? joinTypes(this.functionTypes.get(v) ?? null, t) : t);
    }
    node.outputs.forEach((v, i) => {
      if (!v) return;
      const out = fn.body.outputs[i];
      if (!out) {
        this.error(node, node.opType, `the function has ${fn.body.outputs.length} outputs; output ${i} has none`, scope);
        this.setType(v, null, null, scope, 'missing function output');
        return;
      }
      const t = child.type(out);
      this.setType(v, t, this.dataOf(out, child), scope, isComplete(t) ? '' : `output '${out.name}' of function '${fn.name}' is not fully known`);
    });
  }

  /** Infers a subgraph in the enclosing scope (it may read outer values). */
  inferSubgraph(graph: Graph, inputs: ReadonlyArray<ValueType | null>, inputData: ReadonlyArray<TensorData | null> | undefined, scope: Scope): SubgraphResult {
    if (this.subgraphDepth >= SUBGRAPH_DEPTH_LIMIT) throw new InferenceFailure(`subgraphs nest deeper than ${SUBGRAPH_DEPTH_LIMIT}`);
    if (inputs.length !== graph.inputs.length) {
      throw new InferenceFailure(`subgraph '${graph.name}' has ${graph.inputs.length} inputs but ${inputs.length} are bound`);
    }
    graph.inputs.forEach((v, i) => {
      this.setType(v, inputs[i], inputData?.[i] ?? null, scope, '', true);
    });
    this.subgraphDepth++;
    try {
      this.inferGraph(graph, scope);
    } finally {
      this.subgraphDepth--;
    }
    return { outputs: graph.outputs.map((v) => scope.type(v)), data: graph.outputs.map((v) => this.dataOf(v, scope)) };
  }

  // ---- types and data ----------------------------------------------------------------------------

  /** Records an inferred type (merged with the declared one unless overwriting). */
  private setType(v: Value, inferred: ValueType | null, data: TensorData | LazyTensorData | null, scope: Scope, reason: string, isInput = false): void {
    const type = this.options.overwrite && !isInput ? inferred : this.merge(v, inferred, scope);
    const slot = scope.slots.get(v);
    const why = reason && !isComplete(type) ? reason : '';
    if (slot) {
      slot.type = type;
      slot.data = data;
      slot.reason = why;
      if (slot.kind === 'read') slot.kind = isInput ? 'bound' : 'output';
    } else {
      scope.slots.set(v, { type, data, reason: why, kind: isInput ? 'bound' : 'output' });
    }
  }

  private merge(v: Value, inferred: ValueType | null, scope: Scope): ValueType | null {
    const existing = v.type;
    if (!inferred) return existing;
    if (!existing || existing.kind !== 'tensor' || inferred.kind !== 'tensor') return inferred;
    let conflict = '';
    const dtype: DType | null = inferred.dtype ?? existing.dtype;
    if (inferred.dtype && existing.dtype && inferred.dtype !== existing.dtype) conflict = `element type ${existing.dtype} vs ${inferred.dtype}`;
    let shape: Shape | null = inferred.shape ?? existing.shape;
    if (inferred.shape && existing.shape) {
      if (inferred.shape.length !== existing.shape.length) {
        conflict ||= `rank ${existing.shape.length} vs ${inferred.shape.length}`;
      } else {
        const ex = existing.shape;
        shape = inferred.shape.map((d, i) => {
          const e = ex[i];
          if (typeof d === 'number' && typeof e === 'number' && d !== e) conflict ||= `dim ${i} is ${e} vs ${d}`;
          return d ?? e;
        });
      }
    }
    if (conflict && scope.commit) {
      const p = v.producer;
      this.error(p, p?.opType ?? 'value', `value '${v.name}' is declared ${fmtType(existing)} but inferred ${fmtType(inferred)} (${conflict})`, scope);
    }
    return tensorType(dtype, shape);
  }

  /** Known contents of a value: propagated, or read from a small initializer. */
  dataOf(v: Value, scope: Scope): TensorData | null {
    const slot = scope.slots.get(v);
    if (slot && slot.data !== undefined) {
      if (typeof slot.data === 'function') slot.data = checkData(slot.data(), slot.type);
      return slot.data;
    }
    let d: TensorData | null = null;
    if (v.initializer) d = tensorData(v.initializer);
    else {
      const t = slot && slot.kind !== 'read' ? slot.type : v.type;
      if (t?.kind === 'tensor' && t.dtype && t.shape && t.shape.some((x) => x === 0) && t.shape.every((x) => typeof x === 'number')) {
        d = { dtype: t.dtype, dims: t.shape as number[], values: [] };
      }
    }
    if (slot) slot.data = d;
    else scope.slots.set(v, { type: null, data: d, reason: '', kind: 'read' });
    return d;
  }

  // ---- report ------------------------------------------------------------------------------------

  error(node: Node | null, opType: string, reason: string, scope: Scope): void {
    const full = scope.where ? `${reason} (${scope.where})` : reason;
    const err = new ShapeInferenceError(node?.name ?? '', opType, full);
    if (this.options.strict) throw err;
    const key = `${node?.name ?? ''}\u0000${full}`;
    if (this.errorKeys.has(key)) return;
    this.errorKeys.add(key);
    this.report.errors.push(err);
  }

  private commit(main: Scope): void {
    for (const [v, slot] of main.slots) {
      if (slot.kind === 'read') continue;
      v.type = slot.type;
      if (slot.kind !== 'output') continue;
      if (slot.type) this.report.inferred++;
      if (!isComplete(slot.type)) this.report.unresolved.push({ value: v, reason: slot.reason || describeIncomplete(slot.type) });
    }
    for (const [v, t] of this.functionTypes) {
      if (!v.producer) continue;
      v.type = this.options.overwrite ? t : t ?? v.type;
    }
  }
}

/** The InferenceContext a shape function sees for one node. */
class NodeContext implements InferenceContext {
  readonly results: Array<{ type: ValueType | null; data: TensorData | LazyTensorData | null } | undefined> = [];
  noteText = '';
  readonly inputCount: number;
  readonly outputCount: number;

  constructor(
    private readonly session: Session,
    readonly node: Node,
    readonly schema: OpSchema,
    readonly opset: number,
    private readonly scope: Scope,
  ) {
    this.inputCount = node.inputs.length;
    this.outputCount = node.outputs.length;
  }

  hasInput(i: number): boolean {
    return !!this.node.inputs[i];
  }

  hasOutput(i: number): boolean {
    return !!this.node.outputs[i];
  }

  inputType(i: number): ValueType | null {
    const v = this.node.inputs[i];
    return v ? this.scope.type(v) : null;
  }

  input(i: number): TensorInfo | null {
    const t = this.inputType(i);
    return t && (t.kind === 'tensor' || t.kind === 'sparse') ? t : null;
  }

  inputShape(i: number): Shape | null {
    return this.input(i)?.shape ?? null;
  }

  inputDType(i: number): DType | null {
    return this.input(i)?.dtype ?? null;
  }

  inputRank(i: number): number | null {
    return this.input(i)?.shape?.length ?? null;
  }

  inputData(i: number): TensorData | null {
    const v = this.node.inputs[i];
    return v ? this.session.dataOf(v, this.scope) : null;
  }

  inputDims(i: number): Dim[] | null {
    const d = this.inputData(i);
    if (!d || d.dims.length > 1 || d.values.length > MAX_DATA_ELEMENTS) return null;
    return d.values.slice();
  }

  inputNumbers(i: number): number[] | null {
    const d = this.inputDims(i);
    if (!d) return null;
    for (const x of d) if (typeof x !== 'number') return null;
    return d as number[];
  }

  // ---- attributes ----

  private attr(name: string): Attribute | undefined {
    const a = this.node.attributes.get(name);
    if (a?.type === 'ref') return this.scope.callAttrs?.get(a.ref);
    return a;
  }

  private fallback(name: string): AttrDefault | undefined {
    const spec = this.schema.attrs[name];
    if (spec?.default !== undefined) return spec.default;
    if (spec?.required) this.fail(`required attribute '${name}' is missing`);
    return undefined;
  }

  private wrongType(name: string, a: Attribute, want: string): never {
    this.fail(`attribute '${name}' is ${a.type}, expected ${want}`);
  }

  hasAttr(name: string): boolean {
    return this.attr(name) !== undefined;
  }

  attrInt(name: string): number {
    const a = this.attr(name);
    if (a) {
      if (a.type === 'int') return int64ToNumber(a.value);
      this.wrongType(name, a, 'int');
    }
    const d = this.fallback(name);
    if (typeof d === 'number') return d;
    this.fail(`attribute '${name}' is not set and has no default`);
  }

  attrIntOr(name: string, fallback: number): number {
    return this.hasAttr(name) || this.schema.attrs[name]?.default !== undefined ? this.attrInt(name) : fallback;
  }

  attrInts(name: string): number[] | null {
    const a = this.attr(name);
    if (a) {
      if (a.type === 'ints') return a.value.map(int64ToNumber);
      this.wrongType(name, a, 'ints');
    }
    const d = this.fallback(name);
    return Array.isArray(d) ? (d as number[]).slice() : null;
  }

  attrFloat(name: string): number {
    const a = this.attr(name);
    if (a) {
      if (a.type === 'float') return a.value;
      if (a.type === 'int') return int64ToNumber(a.value);
      this.wrongType(name, a, 'float');
    }
    const d = this.fallback(name);
    if (typeof d === 'number') return d;
    this.fail(`attribute '${name}' is not set and has no default`);
  }

  attrFloats(name: string): number[] | null {
    const a = this.attr(name);
    if (a) {
      if (a.type === 'floats') return a.value.slice();
      if (a.type === 'ints') return a.value.map(int64ToNumber);
      this.wrongType(name, a, 'floats');
    }
    const d = this.fallback(name);
    return Array.isArray(d) ? (d as number[]).slice() : null;
  }

  attrString(name: string): string {
    const a = this.attr(name);
    if (a) {
      if (a.type === 'string') return a.value;
      this.wrongType(name, a, 'string');
    }
    const d = this.fallback(name);
    if (typeof d === 'string') return d;
    this.fail(`attribute '${name}' is not set and has no default`);
  }

  attrStrings(name: string): string[] | null {
    const a = this.attr(name);
    if (a) {
      if (a.type === 'strings') return a.value.slice();
      this.wrongType(name, a, 'strings');
    }
    return null;
  }

  attrTensor(name: string): Tensor | null {
    const a = this.attr(name);
    if (!a) return null;
    if (a.type === 'tensor') return a.value;
    this.wrongType(name, a, 'tensor');
  }

  attrGraph(name: string): Graph | null {
    const a = this.attr(name);
    if (!a) return null;
    if (a.type === 'graph') return a.value;
    this.wrongType(name, a, 'graph');
  }

  // ---- outputs ----

  setOutput(i: number, dtype: DType | null, shape: Shape | null, data: TensorData | LazyTensorData | null = null): void {
    if (i < 0 || i >= this.outputCount) return;
    const type = dtype === null && shape === null ? null : tensorType(dtype, shape);
    this.results[i] = { type, data: typeof data === 'function' ? data : checkData(data, type) };
  }

  setOutputType(i: number, type: ValueType | null): void {
    if (i < 0 || i >= this.outputCount) return;
    this.results[i] = { type, data: null };
  }

  note(reason: string): void {
    this.noteText ||= reason;
  }

  fail(reason: string): never {
    throw new InferenceFailure(reason);
  }

  inferSubgraph(graph: Graph, inputs: ReadonlyArray<ValueType | null>, inputData?: ReadonlyArray<TensorData | null>): SubgraphResult {
    return this.session.inferSubgraph(graph, inputs, inputData, this.scope);
  }
}

// ---- helpers ----------------------------------------------------------------------------------------

/** Drops contents that are too big or do not fit the type's rank. */
function checkData(data: TensorData | null, type: ValueType | null): TensorData | null {
  if (!data) return null;
  if (data.values.length > MAX_DATA_ELEMENTS) return null;
  const shape = type?.kind === 'tensor' ? type.shape : null;
  return shape && shape.length !== data.dims.length ? null : data;
}

/** A tensor type with dtype and every dim known (non-tensor types count as complete when typed). */
function isComplete(t: ValueType | null): boolean {
  if (!t) return false;
  if (t.kind !== 'tensor' && t.kind !== 'sparse') return true;
  return t.dtype !== null && t.shape !== null && t.shape.every((d) => d !== null);
}

function describeIncomplete(t: ValueType | null): string {
  if (!t) return 'no type could be inferred';
  if (t.kind === 'tensor' && !t.dtype) return 'the element type is unknown';
  if (t.kind === 'tensor' && !t.shape) return 'the rank is unknown';
  return 'some dims are unknown';
}

function fmtType(t: ValueType): string {
  if (t.kind !== 'tensor') return t.kind;
  return `${t.dtype ?? '?'}${t.shape ? `[${t.shape.map((d) => (d === null ? '?' : d)).join(',')}]` : '[?]'}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
