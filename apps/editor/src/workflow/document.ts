/**
 * The workflow canvas document and its edits. Edits are data (a discriminated union) applied by a
 * pure function, so undo/redo, autosave and tests fall out of it. The saved file IS the optimizer's
 * versioned workflow JSON (`fuselab.workflow`, what `fuselab optimize --workflow` reads) plus an
 * `editor` block with the canvas (positions, extra nodes); the CLI ignores that block. The block is
 * versioned on its own (`EDITOR_BLOCK_VERSION`) and older blocks are migrated (`migrateEditorBlock`).
 */
import { defaultWorkflow, parseWorkflow, PASSES, WORKFLOW_FORMAT, WORKFLOW_VERSION, type Workflow, type WorkflowPassConfig } from '@fuselab/optimizer';
import { KIND_BY_ID, PASS_PREFIX, portType } from './kinds.ts';

export interface XY {
  x: number;
  y: number;
}

export interface FlowNode {
  id: string;
  kind: string;
  position: XY;
  /** Parameter overrides (defaults come from the kind's spec). */
  params: Record<string, unknown>;
  enabled: boolean;
}

export interface FlowEdge {
  id: string;
  source: string;
  sourceHandle: string;
  target: string;
  targetHandle: string;
}

export interface FlowDoc {
  name: string;
  fixedPoint: boolean;
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export type Edit =
  | { type: 'add-node'; node: FlowNode; connectFrom?: string }
  | { type: 'remove'; nodeIds: string[]; edgeIds: string[] }
  | { type: 'connect'; edge: Omit<FlowEdge, 'id'> & { id?: string } }
  | { type: 'move'; positions: Record<string, XY> }
  | { type: 'set-param'; node: string; key: string; value: unknown }
  | { type: 'reset-param'; node: string; key: string }
  | { type: 'set-enabled'; node: string; enabled: boolean }
  | { type: 'paste'; nodes: FlowNode[]; edges: FlowEdge[] }
  | { type: 'set-fixed-point'; value: boolean }
  | { type: 'rename'; name: string }
  | { type: 'replace'; doc: FlowDoc }
  /** Several edits as one undo step (e.g. insert a node into the chain and set its parameters). */
  | { type: 'group'; edits: Edit[] };

export class FlowError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowError';
  }
}

export function edgeId(e: Omit<FlowEdge, 'id'>): string {
  return `${e.source}.${e.sourceHandle}-${e.target}.${e.targetHandle}`;
}

/** Why a connection is refused, or null when it is fine (typed ports, no self loops, no cycles). */
export function connectionError(doc: FlowDoc, e: Omit<FlowEdge, 'id'>): string | null {
  const s = doc.nodes.find((n) => n.id === e.source);
  const t = doc.nodes.find((n) => n.id === e.target);
  if (!s || !t) return 'unknown node';
  if (s.id === t.id) return 'a node cannot feed itself';
  const a = portType(s.kind, e.sourceHandle);
  const b = portType(t.kind, e.targetHandle);
  if (!a || !e.sourceHandle.startsWith('out:')) return `'${e.sourceHandle}' is not an output of ${s.kind}`;
  if (!b || !e.targetHandle.startsWith('in:')) return `'${e.targetHandle}' is not an input of ${t.kind}`;
  if (a !== b) return `a ${a} output cannot feed a ${b} input`;
  // reachable target → source means a cycle
  const next = new Map<string, string[]>();
  for (const x of doc.edges) next.set(x.source, [...(next.get(x.source) ?? []), x.target]);
  const stack = [t.id];
  const seen = new Set<string>();
  while (stack.length) {
    const v = stack.pop() as string;
    if (v === s.id) return 'that connection would make a cycle';
    if (seen.has(v)) continue;
    seen.add(v);
    stack.push(...(next.get(v) ?? []));
  }
  return null;
}

export function applyEdit(doc: FlowDoc, edit: Edit): FlowDoc {
  switch (edit.type) {
    case 'add-node': {
      if (!KIND_BY_ID.has(edit.node.kind)) throw new FlowError(`unknown node kind '${edit.node.kind}'`);
      let next: FlowDoc = { ...doc, nodes: [...doc.nodes, edit.node] };
      if (edit.connectFrom) {
        const e = { source: edit.connectFrom, sourceHandle: 'out:model', target: edit.node.id, targetHandle: 'in:model' };
        if (!connectionError(next, e)) next = applyEdit(next, { type: 'connect', edge: e });
      }
      return next;
    }
    case 'remove': {
      const ids = new Set(edit.nodeIds);
      const eids = new Set(edit.edgeIds);
      return { ...doc, nodes: doc.nodes.filter((n) => !ids.has(n.id)), edges: doc.edges.filter((e) => !eids.has(e.id) && !ids.has(e.source) && !ids.has(e.target)) };
    }
    case 'connect': {
      const why = connectionError(doc, edit.edge);
      if (why) throw new FlowError(why);
      const e: FlowEdge = { ...edit.edge, id: edit.edge.id ?? edgeId(edit.edge) };
      // an input takes one edge: a new connection replaces the old one
      return { ...doc, edges: [...doc.edges.filter((x) => !(x.target === e.target && x.targetHandle === e.targetHandle)), e] };
    }
    case 'move':
      return { ...doc, nodes: doc.nodes.map((n) => (edit.positions[n.id] ? { ...n, position: edit.positions[n.id] } : n)) };
    case 'set-param':
      return mapNode(doc, edit.node, (n) => ({ ...n, params: { ...n.params, [edit.key]: edit.value } }));
    case 'reset-param':
      return mapNode(doc, edit.node, (n) => {
        const params = { ...n.params };
        delete params[edit.key];
        return { ...n, params };
      });
    case 'set-enabled':
      return mapNode(doc, edit.node, (n) => ({ ...n, enabled: edit.enabled }));
    case 'paste':
      return { ...doc, nodes: [...doc.nodes, ...edit.nodes], edges: [...doc.edges, ...edit.edges] };
    case 'set-fixed-point':
      return { ...doc, fixedPoint: edit.value };
    case 'rename':
      return { ...doc, name: edit.name };
    case 'replace':
      return edit.doc;
    case 'group':
      return edit.edits.reduce(applyEdit, doc);
  }
}

function mapNode(doc: FlowDoc, id: string, f: (n: FlowNode) => FlowNode): FlowDoc {
  if (!doc.nodes.some((n) => n.id === id)) throw new FlowError(`no node '${id}'`);
  return { ...doc, nodes: doc.nodes.map((n) => (n.id === id ? f(n) : n)) };
}

/** A fresh id not used in `doc` (`n1`, `n2`...). */
export function nextId(doc: FlowDoc, taken: ReadonlySet<string> = new Set()): string {
  let max = 0;
  for (const n of doc.nodes) {
    const m = /^n(\d+)$/.exec(n.id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  let i = max + 1;
  while (taken.has(`n${i}`)) i++;
  return `n${i}`;
}

/**
 * The pass chain: pass nodes reached from the source along model edges, in order, up to and
 * including `until` when given. A branch follows the first edge (in document order).
 */
export function passChain(doc: FlowDoc, until?: string): FlowNode[] {
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));
  const src = doc.nodes.find((n) => n.kind === 'source');
  if (!src) throw new FlowError('the workflow has no model source node');
  const out: FlowNode[] = [];
  const seen = new Set<string>([src.id]);
  let cur = src;
  if (until === src.id) return out;
  while (true) {
    const e = doc.edges.find((x) => x.source === cur.id && x.sourceHandle === 'out:model' && byId.get(x.target)?.kind.startsWith(PASS_PREFIX) && !seen.has(x.target));
    if (!e) break;
    cur = byId.get(e.target) as FlowNode;
    seen.add(cur.id);
    out.push(cur);
    if (cur.id === until) break;
  }
  return out;
}

/** Nodes reached downstream of the chain's end (validate, memory plan...) in document order. */
export function chainEnd(doc: FlowDoc): string {
  const chain = passChain(doc);
  return chain.length ? chain[chain.length - 1].id : (doc.nodes.find((n) => n.kind === 'source') as FlowNode).id;
}

/** The optimizer workflow the canvas stands for (up to `until`). */
export function toWorkflow(doc: FlowDoc, until?: string): Workflow {
  const passes: WorkflowPassConfig[] = passChain(doc, until).map((n) => ({
    pass: n.kind.slice(PASS_PREFIX.length),
    ...(Object.keys(n.params).length ? { params: { ...n.params } } : {}),
    ...(n.enabled ? {} : { enabled: false }),
  }));
  return { format: WORKFLOW_FORMAT, version: WORKFLOW_VERSION, name: doc.name, passes, fixedPoint: doc.fixedPoint };
}

/**
 * 2: export-triton takes the engine (`in:engine`), not the model; build-engine gained an
 * `in:profiles` input (optional, so version-1 canvases need nothing for it).
 */
export const EDITOR_BLOCK_VERSION = 2;

interface EditorBlock {
  version: number;
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/**
 * Upgrades a saved canvas to `EDITOR_BLOCK_VERSION`; null when the block is from a newer editor (the
 * canvas is then rebuilt from the pass list). Version 1 → 2: an export-triton node fed with a model
 * is fed with the engine instead — by the build-engine node reading the same model, else the first
 * build-engine node; with none, the edge is dropped.
 */
export function migrateEditorBlock(block: EditorBlock): EditorBlock | null {
  const { nodes } = block;
  let { version, edges } = block;
  if (version === 1) {
    const kind = new Map(nodes.map((n) => [n.id, n.kind]));
    const builds = nodes.filter((n) => n.kind === 'build-engine');
    const modelFrom = (id: string) => edges.find((e) => e.target === id && e.targetHandle === 'in:model')?.source;
    edges = edges.flatMap((e) => {
      if (kind.get(e.target) !== 'export-triton' || e.targetHandle !== 'in:model') return [e];
      const build = builds.find((b) => modelFrom(b.id) === e.source) ?? builds[0];
      if (!build) return [];
      const ne = { source: build.id, sourceHandle: 'out:engine', target: e.target, targetHandle: 'in:engine' };
      return [{ ...ne, id: edgeId(ne) }];
    });
    version = 2;
  }
  return version === EDITOR_BLOCK_VERSION ? { version, nodes, edges } : null;
}

/** The saved file: the optimizer's workflow JSON plus the canvas. */
export function serializeDoc(doc: FlowDoc): string {
  return `${JSON.stringify({ ...toWorkflow(doc), editor: { version: EDITOR_BLOCK_VERSION, nodes: doc.nodes, edges: doc.edges } }, null, 2)}\n`;
}

/**
 * Reads a saved workflow. The optimizer validates and migrates the pass list (errors name the step);
 * when the `editor` block agrees with that list it restores the canvas, else the canvas is rebuilt.
 */
export function parseDoc(text: string | unknown): FlowDoc {
  const wf = parseWorkflow(text, PASSES);
  const raw = (typeof text === 'string' ? JSON.parse(text) : text) as { editor?: { version?: number; nodes?: unknown; edges?: unknown } };
  const ed = raw?.editor;
  if (ed && typeof ed.version === 'number' && Array.isArray(ed.nodes) && Array.isArray(ed.edges)) {
    const savedNodes = ed.nodes as FlowNode[];
    const savedEdges = ed.edges as FlowEdge[];
    const ok = savedNodes.every((n) => n && typeof n.id === 'string' && KIND_BY_ID.has(n.kind) && n.position && typeof n.position.x === 'number') &&
      savedEdges.every((e) => e && typeof e.source === 'string' && typeof e.target === 'string' && typeof e.sourceHandle === 'string' && typeof e.targetHandle === 'string');
    const block = ok ? migrateEditorBlock({ version: ed.version, nodes: savedNodes, edges: savedEdges }) : null;
    const nodes = block?.nodes ?? [];
    const edges = block?.edges ?? [];
    // every edge joins typed ports of nodes that exist (what connectionError checks on each connect)
    const byId = new Map(nodes.map((n) => [n.id, n]));
    const typed = edges.every((e) => {
      const s = byId.get(e.source);
      const t = byId.get(e.target);
      return !!s && !!t && portType(s.kind, e.sourceHandle) !== undefined && portType(s.kind, e.sourceHandle) === portType(t.kind, e.targetHandle);
    });
    if (block && typed) {
      const doc: FlowDoc = { name: wf.name ?? 'workflow', fixedPoint: wf.fixedPoint ?? true, nodes: nodes.map((n) => ({ ...n, params: n.params ?? {}, enabled: n.enabled !== false })), edges };
      const same = JSON.stringify(toWorkflow(doc).passes) === JSON.stringify(wf.passes.map((p) => ({ pass: p.pass, ...(p.params && Object.keys(p.params).length ? { params: p.params } : {}), ...(p.enabled === false ? { enabled: false } : {}) })));
      if (same) return doc;
    }
  }
  return docFromWorkflow(wf);
}

const COL_W = 280;
const GAP_Y = 36;
const PER_ROW = 4;

/** A card's height, roughly: header, one row per parameter, the status line, and the result block some kinds show. */
function cardHeight(kind: string): number {
  const params = Object.keys(KIND_BY_ID.get(kind)?.params ?? {}).length;
  return 96 + 28 * params + (kind === 'build-engine' || kind === 'profiles' || kind === 'export-triton' ? 110 : 0);
}

/**
 * A canvas for a workflow: source and the pass chain in rows of four, then a row of analysis nodes
 * (validate, memory plan, profiles) and a row of runtime and export nodes (build engine, playground,
 * export Triton); each row sits below the tallest card of the one above.
 */
export function docFromWorkflow(wf: Workflow): FlowDoc {
  const nodes: FlowNode[] = [];
  const edges: FlowEdge[] = [];
  const rows: FlowNode[][] = [[]];
  const add = (kind: string, params: Record<string, unknown> = {}, enabled = true, newRow = false): FlowNode => {
    if ((newRow && rows[rows.length - 1].length) || rows[rows.length - 1].length === PER_ROW) rows.push([]);
    const n: FlowNode = { id: `n${nodes.length + 1}`, kind, position: { x: 0, y: 0 }, params, enabled };
    nodes.push(n);
    rows[rows.length - 1].push(n);
    return n;
  };
  const link = (a: FlowNode, b: FlowNode, out = 'out:model', inp = 'in:model') => {
    const e = { source: a.id, sourceHandle: out, target: b.id, targetHandle: inp };
    edges.push({ ...e, id: edgeId(e) });
  };
  let prev = add('source');
  for (const p of wf.passes) {
    const n = add(`${PASS_PREFIX}${p.pass}`, { ...(p.params ?? {}) }, p.enabled !== false);
    link(prev, n);
    prev = n;
  }
  const last = prev;
  // the tail: analysis, then runtime and export, hanging off the last pass
  const v = add('validate', {}, true, true);
  link(last, v);
  const mem = add('memory-plan');
  link(last, mem);
  const prof = add('profiles');
  link(last, prof);
  const build = add('build-engine', {}, true, true);
  link(last, build);
  link(prof, build, 'out:profiles', 'in:profiles');
  const play = add('playground');
  link(build, play, 'out:engine', 'in:engine');
  const tri = add('export-triton');
  link(build, tri, 'out:engine', 'in:engine');
  let y = 0;
  for (const row of rows) {
    row.forEach((n, i) => { n.position = { x: i * COL_W, y }; });
    y += Math.max(...row.map((n) => cardHeight(n.kind))) + GAP_Y;
  }
  return { name: wf.name ?? 'workflow', fixedPoint: wf.fixedPoint ?? true, nodes, edges };
}

export function defaultDoc(): FlowDoc {
  return docFromWorkflow(defaultWorkflow());
}

export interface Clip {
  format: 'fuselab.clip';
  nodes: FlowNode[];
  edges: FlowEdge[];
}

/** The selected nodes and the edges among them. */
export function copyNodes(doc: FlowDoc, ids: readonly string[]): Clip {
  const set = new Set(ids);
  return { format: 'fuselab.clip', nodes: doc.nodes.filter((n) => set.has(n.id) && n.kind !== 'source'), edges: doc.edges.filter((e) => set.has(e.source) && set.has(e.target)) };
}

/** A paste edit: fresh ids, positions offset, internal edges kept. */
export function pasteEdit(doc: FlowDoc, clip: Clip, offset: XY = { x: 40, y: 40 }): Extract<Edit, { type: 'paste' }> {
  const map = new Map<string, string>();
  const taken = new Set<string>();
  const nodes = clip.nodes.filter((n) => KIND_BY_ID.has(n.kind)).map((n) => {
    const id = nextId(doc, taken);
    taken.add(id);
    map.set(n.id, id);
    return { ...n, id, position: { x: n.position.x + offset.x, y: n.position.y + offset.y } };
  });
  const edges = clip.edges.filter((e) => map.has(e.source) && map.has(e.target)).map((e) => {
    const ne = { ...e, source: map.get(e.source) as string, target: map.get(e.target) as string };
    return { ...ne, id: edgeId(ne) };
  });
  return { type: 'paste', nodes, edges };
}
