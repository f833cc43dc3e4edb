/**
 * One store per open document, made by a factory (no module singletons) and handed to React through
 * context. Slices by domain: model, panes (graph views), flow (the workflow canvas), run, diff,
 * overlay, ui. Actions are thin: they call the pure modules and the services (workers). Side effects
 * (autosave, layouts) live in subscribers set up by `startEffects`.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { MemoryPlan } from '@fuselab/optimizer';
import { computeDiff, counterpart, type Diff } from '../model/diff.ts';
import { allExpanded, ROOT } from '../model/hierarchy.ts';
import { describeStep, type StepRecord, type WorkflowRunRecord } from '../model/run-workflow.ts';
import { searchNodes, type SearchHit } from '../model/search.ts';
import { indexView, type IndexedView, type ModelView } from '../model/view.ts';
import type { WeightStats } from '../model/weight-stats.ts';
import { applyEdit, copyNodes, defaultDoc, parseDoc, passChain, pasteEdit, serializeDoc, toWorkflow, type Clip, type Edit, type FlowDoc } from '../workflow/document.ts';
import { historyOf, pushHistory, redo, replacePresent, undo, type History } from '../workflow/history.ts';
import { KIND_BY_ID } from '../workflow/kinds.ts';
import { errorInfo, type ErrorInfo, type ModelRef, type OpenSource, type Progress, type SensitivityResult, type ValidationSummary } from '../worker/protocol.ts';
import type { RuntimeApi } from '../worker/runtime-service.ts';
import { CancelledError, WorkerError, type LayoutJob, type LayoutService, type ModelService } from '../worker/services.ts';
import { timingHeat } from '../runtime/timings.ts';
import { httpFetcher, NO_ASSETS, type Fetcher } from '../runtime/assets.ts';
import { assetsForUrl, createRuntimeActions, initialRuntimeSlices, SIDES, type RuntimeActions, type RuntimeSlices, type SideId } from './playground.ts';
import { createDeployActions, emptyDeploy, type DeployActions, type DeployState } from './deploy.ts';
import { keepListEdit, workflowBeforeQuantize } from '../workflow/keep-list.ts';
import { emptyPane, heatFor, paneFor, reveal, rollupMarks, withExpanded, type PaneId, type PaneState } from './panes.ts';

export type Tab = 'graph' | 'workflow' | 'diff' | 'memory' | 'playground';

export interface NodeRunStatus {
  state: 'idle' | 'queued' | 'running' | 'done' | 'error' | 'skipped' | 'unavailable';
  ms?: number;
  stat?: string;
  nodesBefore?: number;
  nodesAfter?: number;
  error?: string;
}

export interface Toast {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
}

export interface SourceInfo {
  name: string;
  bytes: number;
  openMs: number;
  shapeNotes: string[];
}

export type OverlayKind = 'none' | 'memory' | 'timing' | 'sensitivity' | 'external';

/** Per-layer INT8 sensitivity of the opened model (computed in the model worker). */
export interface SensitivityState {
  state: 'idle' | 'running' | 'done' | 'error' | 'cancelled';
  progress: Progress | null;
  result: SensitivityResult | null;
  error: string | null;
  /** Calibration text the user picked (tokenized with the model's tokenizer); none: random data. */
  text: { name: string; text: string } | null;
  /** The passes measured (the workflow before its quantize step, as JSON): "apply" refuses a stale result. */
  measuredFor: string | null;
}

export const SENSITIVITY_LABEL = 'INT8 sensitivity (1 − logits cosine)';

const idleSensitivity = (text: SensitivityState['text'] = null): SensitivityState => ({ state: 'idle', progress: null, result: null, error: null, text, measuredFor: null });
const passesKey = (doc: FlowDoc) => JSON.stringify(workflowBeforeQuantize(doc).passes);

export interface EditorState extends RuntimeSlices {
  source: SourceInfo | null;
  loading: Progress | null;
  error: ErrorInfo | null;
  original: IndexedView | null;
  optimized: IndexedView | null;
  mainModel: ModelRef;
  panes: Record<PaneId, PaneState>;
  search: { query: string; hits: SearchHit[] };
  flow: {
    history: History<FlowDoc>;
    selected: string[];
    statuses: Record<string, NodeRunStatus>;
    running: boolean;
    record: WorkflowRunRecord | null;
    validation: ValidationSummary | null;
    notice: string | null;
  };
  diff: { seq: number | null; data: Diff | null; loading: boolean; step: StepRecord | null };
  memory: { original: MemoryPlan | null; optimized: MemoryPlan | null; dims: Record<string, number>; loading: boolean; error: string | null };
  overlay: { kind: OverlayKind; label: string; values: ReadonlyMap<string, number> | null; note?: string };
  sensitivity: SensitivityState;
  deploy: DeployState;
  tab: Tab;
  /** What the properties panel shows: a node or block of a graph pane. */
  inspect: { pane: PaneId; id: string } | null;
  toasts: Toast[];
  actions: EditorActions;
}

export interface EditorActions extends RuntimeActions, DeployActions {
  open(source: OpenSource): Promise<void>;
  dismissError(): void;
  setTab(tab: Tab): void;
  setMainModel(which: ModelRef): void;
  toggleGroup(pane: PaneId, id: string): void;
  expandAll(pane: PaneId): void;
  collapseAll(pane: PaneId): void;
  select(pane: PaneId, id: string | null): void;
  focus(pane: PaneId, id: string): void;
  setSearch(query: string): void;
  cancelLayout(pane: PaneId): void;
  weightStats(which: ModelRef, value: string): Promise<WeightStats | null>;
  // workflow
  edit(edit: Edit, options?: { history?: boolean }): void;
  beginDrag(): void;
  commitPositions(): void;
  undo(): void;
  redo(): void;
  selectFlow(ids: string[]): void;
  copy(): Clip | null;
  paste(clip: Clip): void;
  resetWorkflow(): void;
  loadWorkflow(text: string): void;
  saveWorkflow(): string;
  runFlow(until?: string): Promise<void>;
  // diff, overlays
  showDiff(seq: number | null): Promise<void>;
  computeMemory(dims?: Record<string, number>): Promise<void>;
  /** 'timing': the playground's per-layer times on the graph shown (fused nodes' time split among their sources). */
  setOverlay(kind: 'none' | 'memory' | 'timing' | 'sensitivity', side?: SideId): Promise<void>;
  /**
   * Per-layer INT8 sensitivity of the original model in the model worker (calibrate, then quantize
   * each MatMul alone), shown as the 'sensitivity' heatmap. Calibrates on the picked text with the
   * model's tokenizer, else on random data (with a loud warning). Small by default: 2 batches of 16 tokens.
   */
  runSensitivity(options?: { batches?: number; sequenceLength?: number }): Promise<void>;
  cancelSensitivity(): void;
  /**
   * Writes the `count` most sensitive layers as the quantize-qdq step's keep-higher list (`exclude`),
   * with the ranges sensitivity calibrated, into the chain — inserting the step at its end when there
   * is none. One undoable edit; refused when the workflow changed since the measurement.
   */
  applyKeepList(count: number): void;
  setCalibrationText(text: { name: string; text: string } | null): void;
  /** Hook for per-node numbers (runtime timings, precision sensitivity): node name → value. */
  setHeat(label: string, values: ReadonlyMap<string, number> | null): void;
  toast(text: string, kind?: Toast['kind']): void;
  dropToast(id: number): void;
  exportOptimized(): Promise<Uint8Array>;
}

export interface StoreDeps {
  model: ModelService;
  layout: LayoutService;
  /** Autosave target (localStorage in the app); none in tests unless given. */
  /** The GPU runtime host (a worker in the app; a MessageChannel host in tests); none disables the playground. */
  runtime?: RuntimeApi | null;
  storage?: Pick<Storage, 'getItem' | 'setItem'> | null;
  /** Reads the files beside a model URL (tokenizer.json...); fetch() in the app. */
  fetcher?: Fetcher;
}

export const AUTOSAVE_KEY = 'fuselab.workflow.v1';
/** Above this many visible items the built-in layered layout replaces ELK everywhere. */
export const ELK_VISIBLE_LIMIT = 1500;

export type EditorStore = StoreApi<EditorState>;

function initialDoc(storage: StoreDeps['storage']): FlowDoc {
  const saved = storage?.getItem(AUTOSAVE_KEY);
  if (saved) {
    try { return parseDoc(saved); } catch { /* a broken autosave falls back to the default */ }
  }
  return defaultDoc();
}

export function createEditorStore(deps: StoreDeps): EditorStore {
  let toastId = 1;
  let dragBase: FlowDoc | null = null;
  const layoutJobs: Partial<Record<PaneId, LayoutJob>> = {};
  const seqs = { open: 0, run: 0, sensitivity: 0 };
  let timingSide: SideId = 'optimized';
  const store = createStore<EditorState>()((set, get) => {
    const setPane = (id: PaneId, f: (p: PaneState) => PaneState) => set((s) => ({ panes: { ...s.panes, [id]: f(s.panes[id]) } }));
    const toast = (text: string, kind: Toast['kind'] = 'info') => {
      const id = toastId++;
      set((s) => ({ toasts: [...s.toasts.slice(-3), { id, kind, text }] }));
    };
    const errorOf = (e: unknown): ErrorInfo => (e instanceof WorkerError ? e.info : errorInfo(e));
    const setStatus = (id: string, st: NodeRunStatus) => set((s) => ({ flow: { ...s.flow, statuses: { ...s.flow.statuses, [id]: st } } }));
    const doc = () => get().flow.history.present;
    const runtimeActions = createRuntimeActions({
      get, set, model: deps.model, runtime: deps.runtime ?? null, toast,
      setNodeStatus: (id, st) => setStatus(id, st),
      seqs: () => seqs,
      onTimings: () => { if (get().overlay.kind === 'timing') void actions.setOverlay('timing', timingSide); },
    });
    const deployActions = createDeployActions({ get, set, model: deps.model, engineBytes: () => runtimeActions.engineBytes(), toast, setNodeStatus: (id, st) => setStatus(id, st) });

    const actions: EditorActions = {
      ...runtimeActions,
      ...deployActions,
      async open(source) {
        set({ loading: { stage: 'opening', fraction: 0 }, error: null });
        const t0 = performance.now();
        try {
          const r = await deps.model.request({ type: 'open', source }, (p) => set({ loading: p }));
          const view = indexView(r.view);
          seqs.open++;
          const pg = get().playground;
          const sides = { ...pg.sides };
          for (const id of SIDES) sides[id] = { ...sides[id], layers: null, run: { ...sides[id].run, state: 'idle', text: '', error: null } };
          // an engine built from the previous model goes with it; an opened .engine file stays
          const engine = get().engine.origin === 'built' ? { ...initialRuntimeSlices().engine, seq: get().engine.seq + 1 } : get().engine;
          set({
            playground: { ...pg, sides },
            engine,
            assets: NO_ASSETS,
            loading: null, original: view, optimized: null, mainModel: 'original',
            source: { name: r.view.summary.file, bytes: r.bytes, openMs: performance.now() - t0, shapeNotes: r.shapeNotes },
            panes: { main: paneFor(view), before: emptyPane(), after: emptyPane() },
            diff: { seq: null, data: null, loading: false, step: null },
            memory: { ...get().memory, original: null, optimized: null, error: null },
            overlay: { kind: 'none', label: '', values: null },
            sensitivity: idleSensitivity(get().sensitivity.text),
            deploy: emptyDeploy(),
            search: { query: '', hits: [] },
            inspect: null,
            flow: { ...get().flow, statuses: {}, record: null, validation: null },
          });
        } catch (e) {
          set({ loading: null, error: errorOf(e) });
          return;
        }
        // the tokenizer and configs beside a served model (bundled examples); picked by hand otherwise
        if (source.kind === 'url') {
          const opened = seqs.open;
          const assets = await assetsForUrl(source.url, deps.fetcher ?? httpFetcher);
          if (seqs.open === opened) set({ assets });
        }
      },
      dismissError: () => set({ error: null }),
      setTab: (tab) => set({ tab }),
      setMainModel(which) {
        const s = get();
        const view = which === 'optimized' ? s.optimized : s.original;
        if (!view) return;
        set({ mainModel: which, panes: { ...s.panes, main: paneFor(view) }, search: { query: '', hits: [] } });
        if (s.overlay.kind === 'memory') void actions.setOverlay('memory');
        if (s.overlay.kind === 'timing') void actions.setOverlay('timing', timingSide);
        if (s.overlay.kind === 'sensitivity') void actions.setOverlay('sensitivity');
      },
      toggleGroup(pane, id) {
        setPane(pane, (p) => {
          if (id === ROOT) return p;
          const next = new Set(p.expanded);
          if (next.has(id)) {
            // collapsing a block collapses what is inside it too
            next.delete(id);
            for (const g of [...next]) if (g.startsWith(`${id}/`)) next.delete(g);
          } else next.add(id);
          return withExpanded(p, next);
        });
      },
      expandAll: (pane) => setPane(pane, (p) => (p.hierarchy ? withExpanded(p, allExpanded(p.hierarchy)) : p)),
      collapseAll: (pane) => setPane(pane, (p) => withExpanded(p, new Set([ROOT]))),
      select(pane, id) {
        setPane(pane, (p) => ({ ...p, selected: id }));
        set({ inspect: id ? { pane, id } : null });
        const s = get();
        if ((pane === 'before' || pane === 'after') && s.diff.data) {
          const other: PaneId = pane === 'before' ? 'after' : 'before';
          const ids = id ? counterpart(s.diff.data, pane, id) : [];
          setPane(other, (p) => {
            const q = reveal(p, ids);
            return { ...q, selected: ids[0] ?? null, highlighted: new Set(ids), focus: ids[0] ? { id: ids[0], n: (p.focus?.n ?? 0) + 1 } : p.focus };
          });
        }
      },
      focus(pane, id) {
        setPane(pane, (p) => ({ ...reveal(p, [id]), selected: id, focus: { id, n: (p.focus?.n ?? 0) + 1 } }));
        set({ inspect: { pane, id } });
      },
      setSearch(query) {
        const s = get();
        const view = s.panes.main.view;
        const hits = view ? searchNodes(view, query) : [];
        set({ search: { query, hits } });
        setPane('main', (p) => {
          const ids = hits.map((h) => h.id);
          // outline the hits and the closed blocks that hold them
          const hl = new Set(ids);
          for (const id of ids) { const r = p.visible?.repOf.get(id); if (r) hl.add(r); }
          return { ...p, highlighted: hl };
        });
      },
      cancelLayout(pane) {
        layoutJobs[pane]?.cancel();
      },
      weightStats: (which, value) => deps.model.request({ type: 'weight-stats', model: which, value }),

      edit(e, options = {}) {
        set((s) => {
          const next = applyEdit(s.flow.history.present, e);
          const history = options.history === false ? replacePresent(s.flow.history, next) : pushHistory(s.flow.history, next);
          return { flow: { ...s.flow, history } };
        });
      },
      beginDrag() {
        dragBase = get().flow.history.present;
      },
      commitPositions() {
        // a drag ended: the whole move is one undo step, from where the drag began
        const base = dragBase;
        dragBase = null;
        set((s) => {
          const h = s.flow.history;
          if (!base || base === h.present) return {};
          return { flow: { ...s.flow, history: { past: [...h.past, base].slice(-200), present: h.present, future: [] } } };
        });
      },
      undo: () => set((s) => ({ flow: { ...s.flow, history: undo(s.flow.history) } })),
      redo: () => set((s) => ({ flow: { ...s.flow, history: redo(s.flow.history) } })),
      selectFlow: (ids) => set((s) => ({ flow: { ...s.flow, selected: ids } })),
      copy() {
        const s = get();
        if (!s.flow.selected.length) return null;
        return copyNodes(doc(), s.flow.selected);
      },
      paste(clip) {
        const e = pasteEdit(doc(), clip);
        if (!e.nodes.length) return;
        actions.edit(e);
        actions.selectFlow(e.nodes.map((n) => n.id));
      },
      resetWorkflow() {
        actions.edit({ type: 'replace', doc: defaultDoc() });
        set((s) => ({ flow: { ...s.flow, statuses: {} } }));
      },
      loadWorkflow(text) {
        try {
          actions.edit({ type: 'replace', doc: parseDoc(text) });
          set((s) => ({ flow: { ...s.flow, statuses: {} } }));
          toast('Workflow loaded', 'success');
        } catch (e) {
          toast(`Could not load the workflow: ${(e as Error).message}`, 'error');
        }
      },
      saveWorkflow: () => serializeDoc(doc()),

      async runFlow(until) {
        const s = get();
        if (s.flow.running) return;
        if (!s.original) { toast('Open a model first', 'error'); return; }
        const d = doc();
        let chain;
        try { chain = passChain(d, until); } catch (e) { toast((e as Error).message, 'error'); return; }
        const enabled = chain.filter((n) => n.enabled);
        const statuses: Record<string, NodeRunStatus> = {};
        for (const n of d.nodes) {
          const k = KIND_BY_ID.get(n.kind);
          statuses[n.id] = k && !k.available ? { state: 'unavailable', stat: k.note } : { state: 'idle' };
        }
        for (const n of chain) statuses[n.id] = n.enabled ? { state: 'queued' } : { state: 'skipped', stat: 'disabled' };
        const srcId = d.nodes.find((n) => n.kind === 'source')?.id;
        if (srcId) statuses[srcId] = { state: 'done', stat: `${s.original.summary.nodeCount} nodes` };
        set({ flow: { ...s.flow, statuses, running: true, notice: null }, deploy: emptyDeploy() });
        const acc = new Map<string, { ms: number; fused: Record<string, number>; quantized: Record<string, number>; before: number; after: number }>();
        try {
          const r = await deps.model.request({ type: 'run', workflow: toWorkflow(d, until) }, (p) => {
            const st = p.step;
            if (!st) return;
            const node = enabled[st.step];
            if (!node) return;
            const a = acc.get(node.id) ?? { ms: 0, fused: {}, quantized: {}, before: st.nodesBefore, after: st.nodesAfter };
            a.ms += st.ms;
            a.after = st.nodesAfter;
            for (const [op, c] of Object.entries(st.fused)) a.fused[op] = (a.fused[op] ?? 0) + c;
            for (const [op, c] of Object.entries(st.quantized)) a.quantized[op] = (a.quantized[op] ?? 0) + c;
            acc.set(node.id, a);
            setStatus(node.id, { state: 'running', ms: a.ms, nodesBefore: a.before, nodesAfter: a.after, stat: describeStep(a) });
            const next = enabled[st.step + 1];
            if (next && get().flow.statuses[next.id]?.state === 'queued') setStatus(next.id, { state: 'running' });
          });
          const optimized = indexView(r.view);
          const statusesDone = { ...get().flow.statuses };
          for (const n of enabled) {
            const a = acc.get(n.id);
            statusesDone[n.id] = { state: 'done', ms: a?.ms ?? 0, nodesBefore: a?.before, nodesAfter: a?.after, stat: a ? describeStep(a) : 'no change' };
          }
          seqs.run++;
          set((x) => ({ optimized, flow: { ...x.flow, statuses: statusesDone, running: false, record: r.record } }));
          await actions.showDiff(null);
          toast(`Optimized: ${r.record.nodesBefore} → ${r.record.nodesAfter} nodes in ${r.record.ms.toFixed(0)} ms`, 'success');
          // analysis nodes fed by the end of the chain
          const end = chain.length ? chain[chain.length - 1].id : srcId;
          const tail = d.edges.filter((e) => e.source === end).map((e) => d.nodes.find((n) => n.id === e.target)).filter((n): n is NonNullable<typeof n> => !!n);
          const plans = tail.filter((n) => n.kind === 'memory-plan');
          for (const n of plans) {
            setStatus(n.id, { state: 'running' });
            const t0 = performance.now();
            const dims = { batch_size: 1, sequence_length: Number(n.params.sequence_length ?? 128), past_sequence_length: Number(n.params.past_sequence_length ?? 0) };
            try {
              await actions.computeMemory(dims);
              const m = get().memory;
              const mb = (b?: number) => (b === undefined ? '?' : `${(b / 2 ** 20).toFixed(1)} MiB`);
              setStatus(n.id, { state: 'done', ms: performance.now() - t0, stat: `arena ${mb(m.original?.arenaBytes)} → ${mb(m.optimized?.arenaBytes)}` });
            } catch (e) {
              setStatus(n.id, { state: 'error', error: (e as Error).message });
            }
          }
          for (const n of tail.filter((x) => x.kind === 'validate')) {
            setStatus(n.id, { state: 'running', stat: 'onnxruntime-web (wasm)…' });
            const t0 = performance.now();
            try {
              const v = await deps.model.request({ type: 'validate' });
              set((x) => ({ flow: { ...x.flow, validation: v } }));
              const worst = v.outputs.reduce((m, o) => Math.max(m, o.maxAbsErr), 0);
              setStatus(n.id, { state: v.passed ? 'done' : 'error', ms: performance.now() - t0, stat: `${v.passed ? 'passed' : 'FAILED'} (${v.tolerance}); max |err| ${worst.toExponential(1)}` });
            } catch (e) {
              setStatus(n.id, { state: 'error', ms: performance.now() - t0, error: errorOf(e).message });
            }
          }
          for (const n of tail.filter((x) => x.kind === 'profiles')) await actions.computeProfiles(n.id);
          // build engine nodes (after validate: the build reuses its result) with their profiles, then what they feed
          for (const n of tail.filter((x) => x.kind === 'build-engine')) {
            const target = String(n.params.target ?? 'auto') as 'auto' | 'webgpu' | 'wasm';
            let profiles;
            try {
              profiles = await actions.profilesFor(n.id);
            } catch (e) {
              setStatus(n.id, { state: 'error', error: (e as Error).message });
              continue;
            }
            await actions.buildEngine({ target, nodeId: n.id, ...(profiles ? { profiles } : {}) });
            const built = get().engine.state === 'ready';
            for (const e of d.edges.filter((x) => x.source === n.id)) {
              const next = d.nodes.find((x) => x.id === e.target);
              if (next?.kind === 'playground') setStatus(next.id, built ? { state: 'done', stat: 'engine ready: open the Playground' } : { state: 'error', error: 'no engine (the build failed)' });
              if (next?.kind === 'export-triton') {
                if (built) await actions.planTriton(next.id);
                else setStatus(next.id, { state: 'error', error: 'no engine (the build failed)' });
              }
            }
          }
        } catch (e) {
          const info = errorOf(e);
          const st = { ...get().flow.statuses };
          for (const [id, x] of Object.entries(st)) if (x.state === 'running' || x.state === 'queued') st[id] = { state: 'error', error: info.message };
          set((x) => ({ flow: { ...x.flow, statuses: st, running: false } }));
          toast(`Run failed: ${info.message}`, 'error');
        }
      },

      async showDiff(seq) {
        const s = get();
        if (!s.original) return;
        set({ diff: { ...s.diff, seq, loading: true } });
        try {
          let before: IndexedView;
          let after: IndexedView;
          let prov, removed, diags;
          let step: StepRecord | null = null;
          if (seq === null) {
            const rec = s.flow.record;
            if (!rec || !s.optimized) { set({ diff: { seq, data: null, loading: false, step: null } }); return; }
            before = s.original;
            after = s.optimized;
            prov = rec.provenance;
            removed = rec.removed;
            diags = rec.diagnostics;
          } else {
            const r = await deps.model.request({ type: 'step-views', seq });
            before = indexView(r.before as ModelView);
            after = indexView(r.after as ModelView);
            step = r.step;
            prov = r.step.provenance;
            removed = r.step.removed;
            diags = r.step.diagnostics;
          }
          const data = computeDiff({ before, after, provenance: prov, removed, diagnostics: diags });
          const left = paneFor(before);
          const right = paneFor(after);
          const mark = (p: PaneState, marks: ReadonlyMap<string, string>): PaneState => ({ ...p, marks, markRollup: p.hierarchy ? rollupMarks(p.hierarchy, marks) : null });
          set((x) => ({ diff: { seq, data, loading: false, step }, panes: { ...x.panes, before: mark(left, data.before), after: mark(right, data.after) } }));
        } catch (e) {
          set((x) => ({ diff: { ...x.diff, loading: false } }));
          toast(`Diff failed: ${errorOf(e).message}`, 'error');
        }
      },

      async computeMemory(dims) {
        const s = get();
        const d = dims ?? s.memory.dims;
        set({ memory: { ...s.memory, dims: d, loading: true, error: null } });
        try {
          const original = await deps.model.request({ type: 'memory-plan', model: 'original', dims: d });
          const optimized = get().optimized ? await deps.model.request({ type: 'memory-plan', model: 'optimized', dims: d }) : null;
          set((x) => ({ memory: { ...x.memory, original, optimized, loading: false } }));
        } catch (e) {
          set((x) => ({ memory: { ...x.memory, loading: false, error: errorOf(e).message } }));
          throw e;
        }
      },

      async setOverlay(kind, side) {
        if (kind === 'timing') {
          const s = get();
          const pick = side ?? (s.playground.sides.optimized.layers ? 'optimized' : 'plain');
          const t = s.playground.sides[pick].layers;
          if (!t) { toast('Generate in the Playground first: per-layer timings come from a run', 'info'); return; }
          timingSide = pick;
          const { view, hierarchy } = s.panes.main;
          // the optimized engine's nodes roll back onto the source graph; on its own graph they are shown as measured.
          // Time goes to drawn nodes only (hidden Constants would swallow their share of a fused node).
          const onSources = !(s.mainModel === 'optimized' && pick === 'optimized');
          const drawn = (name: string) => { const n = view?.nodeByName.get(name); return !!n && !!hierarchy?.parentOf.has(n.id); };
          const { values, unmatchedMs } = timingHeat(t, { onSources, known: drawn });
          actions.setHeat(`GPU time per token, ${pick} (ms)`, values);
          const total = t.decodeMs || t.nodes.reduce((a, x) => a + x.decodeMs, 0);
          const note = unmatchedMs > 0.005 * total ? `${((100 * unmatchedMs) / total).toFixed(0)}% of the time is in nodes onnxruntime created itself (not in this graph)` : undefined;
          set((x) => ({ overlay: { ...x.overlay, kind: 'timing', ...(note ? { note } : {}) } }));
          return;
        }
        if (kind === 'sensitivity') {
          const r = get().sensitivity.result;
          if (!r) { await actions.runSensitivity(); return; }
          // scores are by node name of the model measured (the workflow's passes before quantize-qdq); on the
          // opened graph a fused MatMul's score goes to each MatMul it stands for
          const s = get();
          const onOriginal = s.mainModel === 'original';
          const values = new Map<string, number>();
          for (const x of r.scores) {
            for (const name of onOriginal ? x.sources : [x.node]) {
              if (onOriginal && !s.original?.nodeByName.has(name)) continue;
              values.set(name, Math.max(values.get(name) ?? 0, x.score));
            }
          }
          actions.setHeat(SENSITIVITY_LABEL, values);
          set((x) => ({ overlay: { ...x.overlay, kind: 'sensitivity', ...(r.warning ? { note: r.warning } : {}) } }));
          return;
        }
        if (kind === 'none') {
          set({ overlay: { kind, label: '', values: null } });
          setPane('main', (p) => ({ ...p, heat: null }));
          return;
        }
        const s = get();
        let plan = s.mainModel === 'optimized' ? s.memory.optimized : s.memory.original;
        if (!plan) {
          try { await actions.computeMemory(); } catch { return; }
          plan = get().mainModel === 'optimized' ? get().memory.optimized : get().memory.original;
        }
        if (!plan) return;
        const perNode = new Map<string, number>();
        for (const t of plan.tensors) perNode.set(t.node, (perNode.get(t.node) ?? 0) + t.bytes);
        actions.setHeat('activation bytes', perNode);
        set((x) => ({ overlay: { ...x.overlay, kind: 'memory' } }));
      },

      async runSensitivity(options = {}) {
        const s = get();
        if (!s.original) { toast('Open a model first', 'error'); return; }
        if (s.sensitivity.state === 'running') return;
        const text = s.sensitivity.text;
        if (text && !s.assets.tokenizer) { toast('Calibration text needs the model\'s tokenizer.json: pick it in the Playground\'s model files, or clear the text to calibrate on random data', 'error'); return; }
        const run = ++seqs.sensitivity;
        const opened = seqs.open;
        const current = () => seqs.sensitivity === run && seqs.open === opened;
        // measured on what the quantize step sees: the chain's passes before it (names and ranges must match)
        const workflow = workflowBeforeQuantize(doc());
        set({ sensitivity: { ...idleSensitivity(text), state: 'running', progress: { stage: 'starting', fraction: 0 }, measuredFor: JSON.stringify(workflow.passes) } });
        try {
          const result = await deps.model.request({
            type: 'sensitivity',
            sensitivity: { tokenizer: text ? s.assets.tokenizer : null, tokenizerConfig: text ? s.assets.tokenizerConfig : null, text: text?.text ?? null, workflow, ...options },
          }, (p) => { if (current()) set((x) => ({ sensitivity: { ...x.sensitivity, progress: p } })); });
          if (!current()) return;
          set((x) => ({ sensitivity: { ...x.sensitivity, state: 'done', progress: null, result } }));
          await actions.setOverlay('sensitivity');
          if (result.warning) toast('INT8 sensitivity calibrated on RANDOM data: treat the ranking as rough', 'error');
          else toast(`INT8 sensitivity: ${result.scores.length} MatMuls in ${(result.ms / 1000).toFixed(1)} s`, 'success');
        } catch (e) {
          if (!current()) return;
          const info = errorOf(e);
          const cancelled = info.name === 'CalibrationCancelled';
          set((x) => ({ sensitivity: { ...x.sensitivity, state: cancelled ? 'cancelled' : 'error', progress: null, error: cancelled ? null : info.message } }));
          toast(cancelled ? 'INT8 sensitivity cancelled' : `Sensitivity failed: ${info.message}`, cancelled ? 'info' : 'error');
        }
      },
      cancelSensitivity() {
        if (get().sensitivity.state !== 'running') return;
        void deps.model.request({ type: 'cancel-sensitivity' });
      },
      applyKeepList(count) {
        const sens = get().sensitivity;
        const r = sens.result;
        if (!r || sens.state !== 'done') { toast('Measure INT8 sensitivity first (Overlay → INT8 sensitivity)', 'error'); return; }
        if (sens.measuredFor !== passesKey(doc())) { toast('The workflow changed since sensitivity was measured: run it again so the layer names and ranges match what quantize-qdq sees', 'error'); return; }
        const keep = r.scores.slice(0, Math.max(0, Math.min(count, r.scores.length))).map((x) => x.node);
        const { edit, node, inserted } = keepListEdit(doc(), { keep, calibration: r.calibration, activationSymmetric: r.activationSymmetric });
        actions.edit(edit);
        set((x) => ({ flow: { ...x.flow, selected: [node] } }));
        toast(`quantize-qdq${inserted ? ' added at the end of the chain' : ' updated'}: ${keep.length} layer${keep.length === 1 ? '' : 's'} kept in float, ${r.scores.length - keep.length} to INT8${r.warning ? ' — ranges from RANDOM data' : ''}; run the workflow`, r.warning ? 'error' : 'success');
      },
      setCalibrationText(text) {
        // new data, new scores: the old ones stay on the graph until the next run replaces them
        set((x) => ({ sensitivity: { ...x.sensitivity, text } }));
      },
      setHeat(label, values) {
        set({ overlay: { kind: values ? 'external' : 'none', label, values } });
        setPane('main', (p) => ({ ...p, heat: values ? heatFor(p, values) : null }));
      },
      toast,
      dropToast: (id) => set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) })),
      exportOptimized: () => deps.model.request({ type: 'export', model: 'optimized' }),
    };

    return {
      source: null, loading: null, error: null, original: null, optimized: null, mainModel: 'original',
      panes: { main: emptyPane(), before: emptyPane(), after: emptyPane() },
      search: { query: '', hits: [] },
      flow: { history: historyOf(initialDoc(deps.storage)), selected: [], statuses: {}, running: false, record: null, validation: null, notice: null },
      diff: { seq: null, data: null, loading: false, step: null },
      memory: { original: null, optimized: null, dims: { batch_size: 1, sequence_length: 128, past_sequence_length: 0 }, loading: false, error: null },
      overlay: { kind: 'none', label: '', values: null },
      sensitivity: idleSensitivity(),
      deploy: emptyDeploy(),
      ...initialRuntimeSlices(),
      tab: 'graph',
      inspect: null,
      toasts: [],
      actions,
    };
  });

  // effects: layout whenever a pane's visible graph changes; autosave the workflow
  const layoutPane = (id: PaneId) => {
    const p = store.getState().panes[id];
    const visible = p.visible;
    if (!visible) return;
    layoutJobs[id]?.cancel();
    const useElk = visible.items.length <= ELK_VISIBLE_LIMIT;
    const setPane = (f: (p: PaneState) => PaneState) => store.setState((s) => ({ panes: { ...s.panes, [id]: f(s.panes[id]) } }));
    setPane((q) => ({ ...q, layoutState: { state: 'running', done: 0, total: 1 } }));
    const job = deps.layout.layout(visible.tree, visible.edges, {
      useElk,
      onProgress: (done, total) => setPane((q) => (q.visible === visible ? { ...q, layoutState: { state: 'running', done, total } } : q)),
    });
    layoutJobs[id] = job;
    job.promise.then(
      (layout) => setPane((q) => (q.visible === visible ? { ...q, layout, laidOut: visible, layoutState: { state: 'done', done: 1, total: 1, ms: layout.ms } } : q)),
      (e: Error) => setPane((q) => (q.visible === visible ? { ...q, layoutState: { state: e instanceof CancelledError ? 'cancelled' : 'error', done: 0, total: 0, message: e.message } } : q)),
    );
  };
  let autosaveTimer: ReturnType<typeof setTimeout> | null = null;
  store.subscribe((s, prev) => {
    for (const id of ['main', 'before', 'after'] as const) {
      if (s.panes[id].visible !== prev.panes[id].visible) layoutPane(id);
    }
    if (deps.storage && s.flow.history.present !== prev.flow.history.present) {
      if (autosaveTimer) clearTimeout(autosaveTimer);
      const storage = deps.storage;
      autosaveTimer = setTimeout(() => storage.setItem(AUTOSAVE_KEY, serializeDoc(store.getState().flow.history.present)), 300);
    }
  });
  return store;
}
