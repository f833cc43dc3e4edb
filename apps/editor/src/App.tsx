import { useCallback, useEffect, useRef, useState } from 'react';
import { useActions } from './hooks/useActions.ts';
import { useEditor } from './hooks/useEditor.ts';
import { DiffView } from './components/DiffView.tsx';
import { ErrorPanel, StatusBar, Toasts, TopBar, downloadText } from './components/Chrome.tsx';
import { GraphView } from './components/GraphView.tsx';
import { MemoryView } from './components/MemoryView.tsx';
import { Outline } from './components/Outline.tsx';
import { Palette } from './components/Palette.tsx';
import { Playground } from './components/Playground.tsx';
import { PlaygroundControls } from './components/PlaygroundControls.tsx';
import { PropertiesPanel } from './components/PropertiesPanel.tsx';
import { WorkflowCanvas } from './components/WorkflowCanvas.tsx';
import type { Clip } from './workflow/document.ts';
import type { DesktopState } from './desktop/desktop-store.ts';
import { useDesktop } from './desktop/useDesktop.ts';

const selectDesktop = (s: DesktopState) => s.actions;

const isTyping = (e: KeyboardEvent) => {
  const t = e.target as HTMLElement | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable);
};

export function App() {
  const tab = useEditor((s) => s.tab);
  const actions = useActions();
  // inside the desktop shell: native open/save dialogs (null in the browser)
  const desktop = useDesktop(selectDesktop);
  const fileInput = useRef<HTMLInputElement>(null);
  const wfInput = useRef<HTMLInputElement>(null);
  const clip = useRef<Clip | null>(null);
  const [dragOver, setDragOver] = useState(false);

  const openFile = useCallback((f: File) => {
    if (/\.json$/i.test(f.name)) void f.text().then((t) => actions.loadWorkflow(t));
    else if (/\.engine$/i.test(f.name)) void actions.openEngine(f).then(() => actions.setTab('playground'));
    else void actions.open({ kind: 'file', file: f });
  }, [actions]);

  const pickFile = useCallback(() => { if (desktop) void desktop.openModel(); else fileInput.current?.click(); }, [desktop]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      if (mod && e.key.toLowerCase() === 'o') { e.preventDefault(); pickFile(); return; }
      if (mod && e.key.toLowerCase() === 's') { e.preventDefault(); if (desktop) void desktop.saveWorkflow(); else downloadText('workflow.fuselab.json', actions.saveWorkflow()); return; }
      if (mod && e.key === 'Enter') { e.preventDefault(); void (tab === 'playground' ? actions.generate() : actions.runFlow()); return; }
      if (isTyping(e) || tab !== 'workflow') return;
      if (mod && e.key.toLowerCase() === 'z') { e.preventDefault(); if (e.shiftKey) actions.redo(); else actions.undo(); }
      else if (mod && e.key.toLowerCase() === 'y') { e.preventDefault(); actions.redo(); }
      else if (mod && e.key.toLowerCase() === 'c') { clip.current = actions.copy(); if (clip.current) actions.toast(`Copied ${clip.current.nodes.length} node(s)`); }
      else if (mod && e.key.toLowerCase() === 'v') { if (clip.current) actions.paste(clip.current); }
      else if (mod && e.key.toLowerCase() === 'd') { e.preventDefault(); const c = actions.copy(); if (c) actions.paste(c); }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [actions, tab, desktop, pickFile]);

  return (
    <div className="relative flex h-screen w-screen flex-col overflow-hidden bg-[#0b0f14] text-slate-200"
      onDragOver={(e) => { if (e.dataTransfer.types.includes('Files')) { e.preventDefault(); setDragOver(true); } }}
      onDragLeave={(e) => { if (e.currentTarget === e.target) setDragOver(false); }}
      onDrop={(e) => { if (e.dataTransfer.files.length) { e.preventDefault(); setDragOver(false); openFile(e.dataTransfer.files[0]); } }}>
      <TopBar onOpenFile={pickFile} onLoadWorkflow={() => wfInput.current?.click()} />
      <div className="flex min-h-0 flex-1">
        <aside className="flex w-64 shrink-0 flex-col border-r border-white/10 bg-[#0f141b]" data-testid="left-panel">
          <div className="flex h-9 shrink-0 items-center border-b border-white/10 px-4 text-[11px] font-semibold uppercase tracking-wider text-slate-400">{tab === 'workflow' ? 'Nodes' : tab === 'playground' ? 'Prompt & sampling' : 'Outline'}</div>
          <div className="min-h-0 flex-1">{tab === 'workflow' ? <Palette /> : tab === 'playground' ? <PlaygroundControls /> : <Outline />}</div>
        </aside>
        <main className="relative min-w-0 flex-1" data-testid={`view-${tab}`}>
          {tab === 'graph' && <GraphView />}
          {tab === 'workflow' && <WorkflowCanvas />}
          {tab === 'diff' && <DiffView />}
          {tab === 'memory' && <MemoryView />}
          {tab === 'playground' && <Playground />}
        </main>
        <PropertiesPanel />
      </div>
      <StatusBar />
      <ErrorPanel />
      <Toasts />
      {dragOver && (
        <div className="pointer-events-none absolute inset-3 z-50 grid place-items-center rounded-2xl border-2 border-dashed border-indigo-400/70 bg-indigo-500/10">
          <div className="text-sm font-semibold text-indigo-100">Drop an .onnx model, an .engine file or a workflow .json to open it</div>
        </div>
      )}
      <input ref={fileInput} type="file" accept=".onnx,.engine" className="hidden" data-testid="file-input" onChange={(e) => { const f = e.target.files?.[0]; if (f) openFile(f); e.target.value = ''; }} />
      <input ref={wfInput} type="file" accept=".json" className="hidden" onChange={(e) => { const f = e.target.files?.[0]; if (f) void f.text().then((t) => actions.loadWorkflow(t)); e.target.value = ''; }} />
    </div>
  );
}
