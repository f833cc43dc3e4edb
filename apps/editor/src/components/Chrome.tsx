import { useEffect, useRef } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import type { Tab } from '../store/editor-store.ts';
import { fmtBytes, fmtCount, fmtMs } from '../format.ts';
import type { DesktopState } from '../desktop/desktop-store.ts';
import { RecentFiles } from '../desktop/RecentFiles.tsx';
import { useDesktop } from '../desktop/useDesktop.ts';
import { downloadBytes } from './EngineView.tsx';

export const EXAMPLES = [
  { label: 'kjv-llama (Llama, 4 layers)', url: '/examples/models/kjv-llama/model.onnx', name: 'kjv-llama/model.onnx' },
  { label: 'kjv-gpt2 (GPT-2, 4 layers)', url: '/examples/models/kjv-gpt2/model.onnx', name: 'kjv-gpt2/model.onnx' },
  { label: 'kjv-llama (dynamo export)', url: '/examples/models/kjv-llama/model.dynamo.onnx', name: 'kjv-llama/model.dynamo.onnx' },
  { label: 'qwen2-tiny-kv fixture', url: '/examples/fixtures/qwen2-tiny-kv.onnx', name: 'qwen2-tiny-kv.onnx' },
  { label: 'phi3-tiny-kv fixture', url: '/examples/fixtures/phi3-tiny-kv.onnx', name: 'phi3-tiny-kv.onnx' },
  { label: 'bert-tiny fixture', url: '/examples/fixtures/bert-tiny.onnx', name: 'bert-tiny.onnx' },
];

const selectDesktop = (s: DesktopState) => s.actions;
const selectReading = (s: DesktopState) => s.reading;

const TABS: Array<[Tab, string]> = [['graph', 'Model'], ['workflow', 'Workflow'], ['diff', 'Diff'], ['memory', 'Memory'], ['playground', 'Playground']];

export function downloadText(name: string, text: string, type = 'application/json'): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/**
 * `onOpenFile`: the native dialog in the desktop shell, the hidden file input in the browser (App
 * decides). Saves go through the desktop shell's save dialog (atomic writes) when there is one, else
 * they are downloads.
 */
export function TopBar({ onOpenFile, onLoadWorkflow }: { onOpenFile: () => void; onLoadWorkflow: () => void }) {
  const tab = useEditor((s) => s.tab);
  const running = useEditor((s) => s.flow.running);
  const source = useEditor((s) => s.source);
  const canUndo = useEditor((s) => s.flow.history.past.length > 0);
  const canRedo = useEditor((s) => s.flow.history.future.length > 0);
  const hasOptimized = useEditor((s) => !!s.optimized);
  const actions = useActions();
  const desktop = useDesktop(selectDesktop);
  const menu = useRef<HTMLDetailsElement>(null);
  const saveWorkflow = () => (desktop ? void desktop.saveWorkflow() : downloadText('workflow.fuselab.json', actions.saveWorkflow()));
  const exportOnnx = () => {
    if (desktop) { void desktop.saveOptimizedModel(); return; }
    void actions.exportOptimized().then((b) => downloadBytes(`${(source?.name ?? 'model').replace(/\.onnx$/, '').split('/').pop()}.optimized.onnx`, b));
  };
  const btn = 'h-8 rounded-md px-3 text-xs font-medium text-slate-300 hover:bg-white/10 hover:text-white disabled:opacity-40 disabled:hover:bg-transparent';
  return (
    <header className="flex h-12 shrink-0 items-center gap-2 border-b border-white/10 bg-[#0d1218] px-3">
      <div className="flex items-center gap-2 pr-3">
        <div className="grid h-7 w-7 place-items-center rounded-lg bg-gradient-to-br from-indigo-500 to-emerald-400 text-[13px] font-black text-white shadow-lg shadow-indigo-500/20">F</div>
        <div className="leading-tight">
          <div className="text-[13px] font-semibold text-slate-100">Fuselab</div>
          <div className="text-[10px] text-slate-500">a TensorRT you can see</div>
        </div>
      </div>
      <details ref={menu} className="relative" onToggle={(e) => { if (desktop && (e.currentTarget as HTMLDetailsElement).open) void desktop.refreshRecent(); }}>
        <summary className={`${btn} flex cursor-pointer list-none items-center`} data-testid="open-menu">Open ▾</summary>
        <div className="absolute left-0 top-9 z-50 w-72 rounded-lg border border-white/10 bg-[#151b24] p-1 shadow-2xl" onClick={() => menu.current?.removeAttribute('open')}>
          <button type="button" className="w-full rounded px-3 py-2 text-left text-xs text-slate-200 hover:bg-white/10" onClick={onOpenFile} data-testid="open-file">Open ONNX or .engine file… <span className="float-right text-slate-500">Ctrl+O</span></button>
          <RecentFiles />
          <div className="px-3 pb-1 pt-2 text-[10px] font-semibold uppercase tracking-wider text-slate-500">Bundled examples</div>
          {EXAMPLES.map((e) => (
            <button key={e.url} type="button" className="w-full rounded px-3 py-1.5 text-left text-xs text-slate-300 hover:bg-white/10" onClick={() => void actions.open({ kind: 'url', url: e.url, name: e.name })}>{e.label}</button>
          ))}
        </div>
      </details>
      <button type="button" className={btn} onClick={onLoadWorkflow} title="Load a workflow JSON">Load workflow</button>
      <button type="button" className={btn} onClick={saveWorkflow} title="Save the workflow JSON (Ctrl+S)" data-testid="save-workflow">Save workflow</button>
      <button type="button" className={btn} disabled={!hasOptimized} onClick={exportOnnx} data-testid="export-onnx">Export ONNX</button>
      <span className="mx-1 h-5 w-px bg-white/10" />
      <button type="button" className={btn} disabled={!canUndo} onClick={actions.undo} title="Undo (Ctrl+Z)">↶</button>
      <button type="button" className={btn} disabled={!canRedo} onClick={actions.redo} title="Redo (Ctrl+Shift+Z)">↷</button>
      <nav className="mx-auto flex items-center gap-0.5 rounded-lg bg-black/30 p-0.5" data-testid="tabs">
        {TABS.map(([id, label]) => (
          <button key={id} type="button" data-testid={`tab-${id}`} onClick={() => actions.setTab(id)}
            className={`h-7 rounded-md px-3.5 text-xs font-medium transition-colors ${tab === id ? 'bg-white/10 text-white shadow' : 'text-slate-400 hover:text-slate-200'}`}>{label}</button>
        ))}
      </nav>
      <button type="button" data-testid="run-workflow" disabled={running || !source} onClick={() => void actions.runFlow()}
        className="flex h-8 items-center gap-2 rounded-md bg-emerald-500 px-4 text-xs font-semibold text-emerald-950 shadow-lg shadow-emerald-500/20 hover:bg-emerald-400 disabled:opacity-50">
        {running ? <span className="h-3 w-3 animate-spin rounded-full border-2 border-emerald-950 border-t-transparent" /> : '▶'} {running ? 'Running…' : 'Run workflow'}
      </button>
    </header>
  );
}

export function StatusBar() {
  const source = useEditor((s) => s.source);
  const summary = useEditor((s) => s.original?.summary);
  const optimized = useEditor((s) => s.optimized?.summary);
  const loading = useEditor((s) => s.loading);
  const layout = useEditor((s) => s.panes.main.layoutState);
  const record = useEditor((s) => s.flow.record);
  const reading = useDesktop(selectReading);
  return (
    <footer className="flex h-7 shrink-0 items-center gap-4 border-t border-white/10 bg-[#0d1218] px-3 text-[11px] text-slate-500" data-testid="status-bar">
      {reading ? (
        <span className="flex items-center gap-2 text-sky-300" data-testid="desktop-reading"><span className="h-2.5 w-2.5 animate-spin rounded-full border-2 border-sky-300 border-t-transparent" />reading {reading.name} {fmtBytes(reading.done)} / {fmtBytes(reading.total)}…</span>
      ) : loading ? (
        <span className="flex items-center gap-2 text-sky-300"><span className="h-2.5 w-2.5 animate-spin rounded-full border-2 border-sky-300 border-t-transparent" />{loading.stage}…</span>
      ) : source && summary ? (
        <>
          <span className="flex items-center gap-1.5"><span className="h-1.5 w-1.5 rounded-full bg-emerald-400" /><span className="text-slate-300">{source.name}</span></span>
          <span>{fmtBytes(source.bytes)}</span>
          <span>{summary.nodeCount} nodes</span>
          <span>{fmtCount(summary.paramCount)} params</span>
          <span>opened in {fmtMs(source.openMs)}</span>
        </>
      ) : <span>No model</span>}
      {record && optimized && <span className="text-emerald-300/90">optimized {record.nodesBefore} → {record.nodesAfter} nodes · {fmtMs(record.ms)}</span>}
      <span className="ml-auto">{layout.state === 'running' ? `layout ${layout.done}/${layout.total}` : layout.ms !== undefined ? `layout ${fmtMs(layout.ms)}` : ''}</span>
      <span>parse + passes in a worker · layout in a worker (ELK)</span>
    </footer>
  );
}

export function ErrorPanel() {
  const error = useEditor((s) => s.error);
  const actions = useActions();
  if (!error) return null;
  return (
    <div className="absolute inset-0 z-40 grid place-items-center bg-black/60 backdrop-blur-sm" data-testid="error-panel">
      <div className="w-[560px] max-w-[90vw] rounded-2xl border border-rose-500/30 bg-[#16121a] p-6 shadow-2xl">
        <div className="flex items-center gap-2">
          <span className="grid h-7 w-7 place-items-center rounded-full bg-rose-500/20 text-sm text-rose-300">!</span>
          <h2 className="text-base font-semibold text-slate-100">This file could not be opened</h2>
        </div>
        <p className="mt-3 break-words text-sm text-rose-200">{error.message}</p>
        <dl className="mt-4 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 rounded-lg bg-black/30 p-3 font-mono text-[11px]">
          <dt className="text-slate-500">error</dt><dd className="text-slate-200">{error.name}{error.code ? ` (${error.code})` : ''}</dd>
          {error.file && <><dt className="text-slate-500">file</dt><dd className="text-slate-200">{error.file}</dd></>}
          {error.offset !== undefined && <><dt className="text-slate-500">byte offset</dt><dd className="text-slate-200">{error.offset}</dd></>}
          {error.field && <><dt className="text-slate-500">field</dt><dd className="break-all text-slate-200">{error.field}</dd></>}
          {error.where && <><dt className="text-slate-500">where</dt><dd className="break-all text-slate-200">{error.where}</dd></>}
        </dl>
        {error.name === 'DesktopError' ? (
          <p className="mt-3 text-xs text-slate-400">The desktop shell opens only .onnx and .engine files you pick, drop or open from the system, and the plain files beside them.</p>
        ) : <p className="mt-3 text-xs text-slate-400">Fuselab reads ONNX ModelProto files (.onnx). If this is one, it may be truncated or saved with external data that was not included.</p>}
        <div className="mt-5 flex justify-end gap-2">
          <button type="button" className="rounded-md px-4 py-1.5 text-xs text-slate-300 hover:bg-white/10" onClick={actions.dismissError} data-testid="error-dismiss">Dismiss</button>
          <button type="button" className="rounded-md bg-indigo-500 px-4 py-1.5 text-xs font-medium text-white hover:bg-indigo-400" onClick={() => { actions.dismissError(); void actions.open({ kind: 'url', url: EXAMPLES[0].url, name: EXAMPLES[0].name }); }}>Open the example instead</button>
        </div>
      </div>
    </div>
  );
}

export function Toasts() {
  const toasts = useEditor((s) => s.toasts);
  const actions = useActions();
  // info and success toasts fade on their own; errors stay until dismissed
  useEffect(() => {
    const timers = toasts.filter((t) => t.kind !== 'error').map((t) => setTimeout(() => actions.dropToast(t.id), 6000));
    return () => timers.forEach(clearTimeout);
  }, [toasts, actions]);
  return (
    <div className="pointer-events-none absolute bottom-10 right-4 z-50 flex flex-col gap-2">
      {toasts.map((t) => (
        <div key={t.id} className={`pointer-events-auto flex max-w-sm items-start gap-3 rounded-lg border px-3 py-2 text-xs shadow-xl ${t.kind === 'error' ? 'border-rose-500/30 bg-rose-950/90 text-rose-100' : t.kind === 'success' ? 'border-emerald-500/30 bg-emerald-950/90 text-emerald-100' : 'border-white/10 bg-slate-900/95 text-slate-200'}`} data-testid="toast">
          <span className="flex-1">{t.text}</span>
          <button type="button" className="text-slate-400 hover:text-white" onClick={() => actions.dropToast(t.id)}>×</button>
        </div>
      ))}
    </div>
  );
}
