/**
 * A graph: inputs, outputs, initializers and nodes, iterated in a stable topological order. Subgraphs
 * (If/Loop/Scan bodies) are graphs whose `parent` is the enclosing graph; their nodes may read values
 * of enclosing graphs directly (outer-scope captures).
 */
import { GraphMutationError, OnnxModelError } from '../errors.ts';
import type { Attribute } from './attribute.ts';
import { Node, type NodeInit } from './node.ts';
import type { Tensor } from './tensor.ts';
import { Value, tensorType, type ValueType } from './value.ts';

export interface ReplaceOptions {
  /** Also rewire graph outputs that are `old` (the output then becomes `replacement`). Default false. */
  replaceGraphOutputs?: boolean;
}

export class Graph {
  name: string;
  docString: string | undefined;
  metadata = new Map<string, string>();
  /** The graph this one is nested in (a subgraph of an If/Loop/Scan node), or null for a main graph. */
  parent: Graph | null = null;
  /** Kept for round trips: raw encoded fields the IR doesn't model (sparse initializers, quantization annotations...). */
  unknownFields: Uint8Array[] | undefined;
  /** Opaque round-trip data the proto layer stores here (sparse initializers, quantization annotations). */
  extras: Record<string, unknown> = {};

  private readonly _inputs: Value[] = [];
  private readonly _outputs: Value[] = [];
  private readonly _initializers = new Map<string, Value>();
  private readonly _nodes = new Set<Node>();
  private _order: Node[] | null = null;
  private _seq = 0;
  private _names: Set<string> | null = null;
  private readonly _suffix = new Map<string, number>();

  constructor(name = 'main_graph') {
    this.name = name;
  }

  // ---- inputs / outputs / initializers ---------------------------------------------------------

  get inputs(): readonly Value[] {
    return this._inputs;
  }

  get outputs(): readonly Value[] {
    return this._outputs;
  }

  /** Initializers by name (each a Value whose `initializer` is its tensor). */
  get initializers(): ReadonlyMap<string, Value> {
    return this._initializers;
  }

  /** Adds a graph input. `type` may be omitted when the value already has one. */
  addInput(nameOrValue: string | Value, type?: ValueType): Value {
    const v = typeof nameOrValue === 'string' ? new Value(nameOrValue, type ?? null) : nameOrValue;
    if (type) v.type = type;
    this.adopt(v);
    this._inputs.push(v);
    return v;
  }

  removeInput(v: Value): void {
    const i = this._inputs.indexOf(v);
    if (i < 0) throw new GraphMutationError(`'${v.name}' is not an input of graph '${this.name}'`);
    if (v.useCount > 0 && !v.initializer) throw new GraphMutationError(`cannot remove input '${v.name}': it still has ${v.useCount} uses`);
    this._inputs.splice(i, 1);
  }

  addOutput(v: Value): Value {
    this._outputs.push(v);
    return v;
  }

  /** Replaces output `i` by `v`. */
  setOutput(i: number, v: Value): void {
    if (i < 0 || i >= this._outputs.length) throw new GraphMutationError(`graph '${this.name}' has no output ${i}`);
    this._outputs[i] = v;
  }

  removeOutput(v: Value): void {
    const i = this._outputs.indexOf(v);
    if (i < 0) throw new GraphMutationError(`'${v.name}' is not an output of graph '${this.name}'`);
    this._outputs.splice(i, 1);
  }

  /** Adds a constant. The value's name is the tensor's name unless `name` is given. */
  addInitializer(tensor: Tensor, name = tensor.name): Value {
    if (!name) throw new GraphMutationError('an initializer needs a name');
    if (this._initializers.has(name)) throw new GraphMutationError(`graph '${this.name}' already has an initializer '${name}'`);
    tensor.name = name;
    const v = new Value(name, tensorType(tensor.dtype, tensor.dims));
    v.initializer = tensor;
    this.adopt(v);
    this._initializers.set(name, v);
    return v;
  }

  /** Removes an initializer that nothing uses any more. */
  removeInitializer(v: Value): void {
    if (this._initializers.get(v.name) !== v) throw new GraphMutationError(`'${v.name}' is not an initializer of graph '${this.name}'`);
    if (v.useCount > 0 || this._outputs.includes(v)) throw new GraphMutationError(`cannot remove initializer '${v.name}': it is still used`);
    this._initializers.delete(v.name);
    const i = this._inputs.indexOf(v);
    if (i >= 0) this._inputs.splice(i, 1);
    v.graph = null;
  }

  // ---- nodes --------------------------------------------------------------------------------------

  /** Nodes in stable topological order (a snapshot: mutating the graph while iterating is safe). */
  get nodes(): readonly Node[] {
    return (this._order ??= this.topologicalSort()).slice();
  }

  get nodeCount(): number {
    return this._nodes.size;
  }

  hasNode(node: Node): boolean {
    return this._nodes.has(node);
  }

  /** Adds a node (and adopts its outputs into this graph). */
  addNode(node: Node): Node {
    if (node.graph && node.graph !== this) throw new GraphMutationError(`node '${node.name}' already belongs to graph '${node.graph.name}'`);
    if (this._nodes.has(node)) return node;
    node.graph = this;
    node._seq = this._seq++;
    if (!node.name) node.name = this.uniqueName(node.opType);
    else this._names?.add(node.name);
    for (const v of node.outputs) if (v) this.adopt(v);
    for (const g of node.subgraphs()) g.parent = this;
    this._nodes.add(node);
    this._order = null;
    return node;
  }

  /** Creates a node, its output values (named `<node>_out<i>` unless given) and adds it. */
  createNode(init: NodeInit & { outputCount?: number; outputNames?: string[] }): Node {
    const outputs = init.outputs ?? Array.from({ length: init.outputNames?.length ?? init.outputCount ?? 1 }, (_, i) =>
      new Value(init.outputNames?.[i] ?? this.uniqueName(`${init.name || init.opType}_out${i}`)),
    );
    const node = new Node({ ...init, outputs });
    return this.addNode(node);
  }

  /**
   * Removes a node. Its outputs must be unused (not read by nodes, not graph outputs) unless
   * `force` is set, in which case the caller takes responsibility for the dangling values.
   */
  removeNode(node: Node, force = false): void {
    if (!this._nodes.has(node)) throw new GraphMutationError(`node '${node.name}' is not in graph '${this.name}'`);
    if (!force) {
      for (const v of node.outputs) {
        if (!v) continue;
        if (v.useCount > 0) throw new GraphMutationError(`cannot remove node '${node.name}': its output '${v.name}' is still used by '${v._uses[0].node.name}'`);
        if (this._outputs.includes(v)) throw new GraphMutationError(`cannot remove node '${node.name}': its output '${v.name}' is a graph output`);
      }
    }
    node._detachInputs();
    for (const v of node.outputs) {
      if (v && v._producer === node) {
        v._producer = null;
        v._producerIndex = -1;
      }
    }
    this._nodes.delete(node);
    node.graph = null;
    this._order = null;
  }

  /**
   * Points every use of `old` at `replacement`. Graph outputs equal to `old` are only rewired when
   * `replaceGraphOutputs` is set; otherwise such a call throws, since it would change the model's
   * interface. Uses inside subgraphs are rewired too.
   */
  replaceAllUsesWith(old: Value, replacement: Value, options: ReplaceOptions = {}): void {
    if (old === replacement) return;
    const outputIndex = this._outputs.indexOf(old);
    if (outputIndex >= 0 && !options.replaceGraphOutputs) {
      throw new GraphMutationError(`'${old.name}' is an output of graph '${this.name}'; pass { replaceGraphOutputs: true } to rewire it`);
    }
    for (const use of old.uses) use.node.setInput(use.index, replacement);
    if (outputIndex >= 0) {
      for (let i = 0; i < this._outputs.length; i++) if (this._outputs[i] === old) this._outputs[i] = replacement;
    }
    this._order = null;
  }

  /** Marks the cached order stale (called by passes that rewire node inputs directly). */
  invalidateOrder(): void {
    this._order = null;
  }

  // ---- names and lookup ------------------------------------------------------------------------

  /** A name not used by any value or node of this graph (or its ancestors), based on `base`. */
  uniqueName(base: string): string {
    const names = this.nameSet();
    let name = base;
    // resume numbering where the last call for this base stopped: O(1) amortized, not O(n) per call
    for (let i = this._suffix.get(base) ?? 1; names.has(name) || this.parent?.hasName(name); i++) {
      name = `${base}_${i}`;
      this._suffix.set(base, i + 1);
    }
    names.add(name);
    return name;
  }

  /** @internal */
  hasName(name: string): boolean {
    return this.nameSet().has(name) || !!this.parent?.hasName(name);
  }

  /** All values defined in this graph's scope: inputs, initializers, node outputs. */
  *values(): Iterable<Value> {
    const seen = new Set<Value>();
    for (const v of this._inputs) if (!seen.has(v)) { seen.add(v); yield v; }
    for (const v of this._initializers.values()) if (!seen.has(v)) { seen.add(v); yield v; }
    for (const n of this._nodes) for (const v of n.outputs) if (v && !seen.has(v)) { seen.add(v); yield v; }
  }

  /** A name → value map of this graph's scope (a snapshot; O(n)). */
  valueMap(): Map<string, Value> {
    const m = new Map<string, Value>();
    for (const v of this.values()) m.set(v.name, v);
    return m;
  }

  /** Nodes of this graph and, recursively, of all subgraphs (depth first, topological per graph). */
  *allNodes(): Iterable<Node> {
    for (const n of this.nodes) {
      yield n;
      for (const g of n.subgraphs()) yield* g.allNodes();
    }
  }

  /** True if `g` is this graph or nested inside it. */
  contains(g: Graph | null): boolean {
    for (let p = g; p; p = p.parent) if (p === this) return true;
    return false;
  }

  /**
   * Values read by this graph's nodes (recursively) that belong to an enclosing scope. These are
   * implicit inputs of the node that owns the graph.
   */
  capturedValues(): Set<Value> {
    const out = new Set<Value>();
    for (const n of this.allNodes()) {
      for (const v of n.inputs) if (v && v.graph && !this.contains(v.graph)) out.add(v);
    }
    return out;
  }

  // ---- order ---------------------------------------------------------------------------------------

  /**
   * Stable topological order: a depth-first post-order that visits nodes in insertion (file) order, so
   * an already sorted graph keeps its order. Outer-scope captures of subgraphs count as dependencies of
   * the owning node. A cycle throws OnnxModelError naming the nodes on it.
   */
  topologicalSort(): Node[] {
    const state = new Map<Node, 1 | 2>();
    const order: Node[] = [];
    const deps = (n: Node): Node[] => {
      const out: Node[] = [];
      for (const v of n.inputs) {
        const p = v?._producer;
        if (p && p.graph === this) out.push(p);
      }
      for (const g of n.subgraphs()) {
        for (const v of g.capturedValues()) {
          // a captured value may come from a deeper ancestor; only same-graph producers order this graph
          const p = v._producer;
          if (p && p.graph === this) out.push(p);
        }
      }
      return out;
    };
    for (const root of this._nodes) {
      if (state.has(root)) continue;
      const stack: Array<{ node: Node; deps: Node[]; i: number }> = [{ node: root, deps: deps(root), i: 0 }];
      state.set(root, 1);
      while (stack.length) {
        const top = stack[stack.length - 1];
        if (top.i < top.deps.length) {
          const d = top.deps[top.i++];
          const s = state.get(d);
          if (s === 2) continue;
          if (s === 1) {
            const start = stack.findIndex((f) => f.node === d);
            const cycle = stack.slice(start).map((f) => `'${f.node.name}' (${f.node.opType})`);
            throw new OnnxModelError(`graph '${this.name}'`, `cycle between nodes ${cycle.join(' -> ')} -> '${d.name}'`);
          }
          state.set(d, 1);
          stack.push({ node: d, deps: deps(d), i: 0 });
        } else {
          state.set(top.node, 2);
          order.push(top.node);
          stack.pop();
        }
      }
    }
    return order;
  }

  // ---- clone ---------------------------------------------------------------------------------------

  /**
   * Deep copy: new nodes and values, tensors shared (their bytes are immutable by convention).
   * `valueMap` maps outer-scope values for subgraph clones; the returned graph's `parent` is `parent`.
   */
  clone(parent: Graph | null = this.parent, valueMap = new Map<Value, Value>()): Graph {
    const g = new Graph(this.name);
    g.docString = this.docString;
    g.metadata = new Map(this.metadata);
    g.unknownFields = this.unknownFields;
    g.extras = { ...this.extras };
    g.parent = parent;
    const map = (v: Value | null): Value | null => {
      if (!v) return null;
      const m = valueMap.get(v);
      if (m) return m;
      if (v.graph && !this.contains(v.graph)) return v; // outer scope, not remapped
      return copyValue(v);
    };
    const copyValue = (v: Value): Value => {
      const c = new Value(v.name, v.type);
      c.docString = v.docString;
      c.metadata = new Map(v.metadata);
      c.unknownFields = v.unknownFields;
      valueMap.set(v, c);
      return c;
    };
    for (const [name, v] of this._initializers) {
      const t = v.initializer as Tensor;
      const c = g.addInitializer(t.clone(name), name);
      c.type = v.type;
      c.docString = v.docString;
      c.metadata = new Map(v.metadata);
      valueMap.set(v, c);
    }
    for (const v of this._inputs) {
      const c = valueMap.get(v) ?? copyValue(v);
      g._inputs.push(c);
      c.graph = g;
    }
    for (const n of this.nodes) {
      const attributes = new Map<string, Attribute>();
      for (const [k, a] of n.attributes) {
        if (a.type === 'graph') attributes.set(k, { type: 'graph', value: a.value.clone(g, valueMap) });
        else if (a.type === 'graphs') attributes.set(k, { type: 'graphs', value: a.value.map((s) => s.clone(g, valueMap)) });
        else attributes.set(k, a);
      }
      const c = new Node({
        opType: n.opType,
        domain: n.domain,
        name: n.name,
        overload: n.overload,
        docString: n.docString,
        attributes,
        inputs: n.inputs.map(map),
        outputs: n.outputs.map((v) => (v ? valueMap.get(v) ?? copyValue(v) : null)),
      });
      c.metadata = new Map(n.metadata);
      c.unknownFields = n.unknownFields;
      g.addNode(c);
    }
    for (const v of this._outputs) g._outputs.push(map(v) as Value);
    return g;
  }

  // ---- internals -----------------------------------------------------------------------------------

  private adopt(v: Value): void {
    if (v.graph && v.graph !== this) throw new GraphMutationError(`value '${v.name}' already belongs to graph '${v.graph.name}'`);
    v.graph = this;
    if (!v.name) v.name = this.uniqueName('value');
    else this._names?.add(v.name);
  }

  private nameSet(): Set<string> {
    if (!this._names) {
      const names = new Set<string>();
      for (const v of this.values()) names.add(v.name);
      for (const n of this._nodes) names.add(n.name);
      this._names = names;
    }
    return this._names;
  }
}
