/**
 * The model view: a plain, structured-clone-friendly snapshot of a graph-core `Model` that the UI
 * draws (names, ops, value shapes, attributes as short strings). Built in the model worker; the main
 * thread never holds the IR.
 */
import { formatShape, int64ToNumber, type Attribute, type Model, type Node } from '@fuselab/graph-core';

export type ViewNodeKind = 'op' | 'input' | 'output';

export interface ViewNode {
  /** Stable id: the node name when unique, else `op#index`; graph IO as `in:name` / `out:name`. */
  id: string;
  name: string;
  kind: ViewNodeKind;
  op: string;
  domain: string;
  /** Value names (null for an omitted optional input). */
  inputs: Array<string | null>;
  outputs: Array<string | null>;
  attrs: Array<[string, string]>;
}

export interface ViewValue {
  name: string;
  dtype: string | null;
  shape: string;
  /** Producer node id ('' for graph inputs and initializers). */
  producer: string;
  isInitializer: boolean;
  isGraphInput: boolean;
  isGraphOutput: boolean;
  /** Element count of an initializer, when it is one. */
  initSize?: number;
}

export interface ModelSummary {
  file: string;
  producer: string;
  irVersion: number;
  opsets: Record<string, number>;
  nodeCount: number;
  paramCount: number;
  paramBytes: number;
  inputs: string[];
  outputs: string[];
  opCounts: Record<string, number>;
}

export interface ModelView {
  summary: ModelSummary;
  nodes: ViewNode[];
  values: ViewValue[];
}

const MAX_ATTR_CHARS = 120;

/** A short, readable form of an attribute value (tensors and graphs summarized, long lists cut). */
export function formatAttribute(a: Attribute): string {
  const cut = (s: string) => (s.length > MAX_ATTR_CHARS ? `${s.slice(0, MAX_ATTR_CHARS - 1)}…` : s);
  switch (a.type) {
    case 'float': return String(Number(a.value.toPrecision(6)));
    case 'int': return String(int64ToNumber(a.value));
    case 'string': return cut(JSON.stringify(a.value));
    case 'floats': return cut(`[${a.value.map((x) => Number(x.toPrecision(6))).join(', ')}]`);
    case 'ints': return cut(`[${a.value.map((x) => int64ToNumber(x)).join(', ')}]`);
    case 'strings': return cut(`[${a.value.map((x) => JSON.stringify(x)).join(', ')}]`);
    case 'tensor': {
      const t = a.value;
      if (t.size <= 8 && t.dtype !== 'string') {
        try { return `${t.dtype}${formatShape(t.dims)} ${JSON.stringify(t.toNumbers().map((x) => Number(Number(x).toPrecision(6))))}`; } catch { /* fall through */ }
      }
      return `tensor ${t.dtype}${formatShape(t.dims)}`;
    }
    case 'graph': return `graph '${a.value.name}' (${a.value.nodeCount} nodes)`;
    case 'graphs': return `${a.value.length} graphs`;
    case 'tensors': return `${a.value.length} tensors`;
    case 'sparse_tensor': return `sparse tensor ${formatShape(a.value.dims)}`;
    case 'sparse_tensors': return `${a.value.length} sparse tensors`;
    case 'type_proto': return 'type';
    case 'type_protos': return `${a.value.length} types`;
    case 'ref': return `@${a.ref}`;
  }
}

/** Assigns every node a unique, stable id (its name when possible). */
export function nodeIds(nodes: readonly Node[]): string[] {
  const seen = new Map<string, number>();
  for (const n of nodes) if (n.name) seen.set(n.name, (seen.get(n.name) ?? 0) + 1);
  return nodes.map((n, i) => (n.name && seen.get(n.name) === 1 ? n.name : `${n.opType}#${i}`));
}

/** Builds the view of `model`'s main graph. */
export function buildModelView(model: Model, file: string): ModelView {
  const g = model.graph;
  const ops = g.nodes;
  const ids = nodeIds(ops);
  const producerId = new Map<string, string>();
  const nodes: ViewNode[] = [];
  for (const v of g.inputs) {
    if (v.isConstant) continue;
    nodes.push({ id: `in:${v.name}`, name: v.name, kind: 'input', op: 'Input', domain: '', inputs: [], outputs: [v.name], attrs: [] });
    producerId.set(v.name, `in:${v.name}`);
  }
  const opCounts: Record<string, number> = {};
  ops.forEach((n, i) => {
    const id = ids[i];
    for (const o of n.outputs) if (o) producerId.set(o.name, id);
    opCounts[n.opType] = (opCounts[n.opType] ?? 0) + 1;
    nodes.push({
      id, name: n.name || id, kind: 'op', op: n.opType, domain: n.domain,
      inputs: n.inputs.map((v) => v?.name ?? null),
      outputs: n.outputs.map((v) => v?.name ?? null),
      attrs: [...n.attributes].map(([k, a]) => [k, formatAttribute(a)]),
    });
  });
  for (const v of g.outputs) nodes.push({ id: `out:${v.name}`, name: v.name, kind: 'output', op: 'Output', domain: '', inputs: [v.name], outputs: [], attrs: [] });

  const values: ViewValue[] = [];
  const seen = new Set<string>();
  const add = (v: { name: string; dtype: string | null; shape: readonly (string | number | null)[] | null; isGraphInput: boolean; isGraphOutput: boolean; initializer?: { size: number } | null }) => {
    if (seen.has(v.name)) return;
    seen.add(v.name);
    values.push({
      name: v.name, dtype: v.dtype, shape: formatShape(v.shape as never), producer: producerId.get(v.name) ?? '',
      isInitializer: !!v.initializer, isGraphInput: v.isGraphInput, isGraphOutput: v.isGraphOutput,
      ...(v.initializer ? { initSize: v.initializer.size } : {}),
    });
  };
  for (const v of g.inputs) add(v);
  for (const v of g.initializers.values()) add(v);
  for (const n of ops) {
    for (const v of n.inputs) if (v) add(v);
    for (const v of n.outputs) if (v) add(v);
  }
  const p = model.parameterStats();
  return {
    summary: {
      file, producer: `${model.producerName} ${model.producerVersion}`.trim(), irVersion: model.irVersion,
      opsets: Object.fromEntries(model.opsetImports), nodeCount: ops.length, paramCount: p.count, paramBytes: p.bytes,
      inputs: g.inputs.filter((v) => !v.isConstant).map((v) => v.name), outputs: g.outputs.map((v) => v.name), opCounts,
    },
    nodes, values,
  };
}

/** Lookup maps beside the arrays (built once per view on the main thread). */
export interface IndexedView extends ModelView {
  nodeById: Map<string, ViewNode>;
  nodeByName: Map<string, ViewNode>;
  valueByName: Map<string, ViewValue>;
  /** value name → ids of the nodes that read it. */
  consumers: Map<string, string[]>;
}

export function indexView(view: ModelView): IndexedView {
  const nodeById = new Map<string, ViewNode>();
  const nodeByName = new Map<string, ViewNode>();
  const consumers = new Map<string, string[]>();
  for (const n of view.nodes) {
    nodeById.set(n.id, n);
    if (n.kind === 'op') nodeByName.set(n.name, n);
    for (const i of n.inputs) {
      if (!i) continue;
      const list = consumers.get(i);
      if (list) list.push(n.id);
      else consumers.set(i, [n.id]);
    }
  }
  return { ...view, nodeById, nodeByName, valueByName: new Map(view.values.map((v) => [v.name, v])), consumers };
}
