import { useEffect, useMemo, useRef, useState } from 'react';
import { MARK_COLORS, heatColor } from '../render/colors.ts';
import { GraphRenderer } from '../render/graph-renderer.ts';
import { buildScene, sceneToSvg } from '../render/scene.ts';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import type { PaneId } from '../store/panes.ts';
import { fmtMs } from '../format.ts';

function download(name: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export function ToolButton({ title, onClick, children, active, testId }: { title: string; onClick: () => void; children: React.ReactNode; active?: boolean; testId?: string }) {
  return (
    <button type="button" title={title} data-testid={testId} onClick={onClick}
      className={`h-7 min-w-7 px-2 rounded-md text-xs font-medium transition-colors ${active ? 'bg-indigo-500/25 text-indigo-200' : 'text-slate-300 hover:bg-white/10 hover:text-white'}`}>
      {children}
    </button>
  );
}

/** One graph pane on a canvas: the renderer, its toolbar, layout progress and legend. */
export function GraphCanvas({ pane, label }: { pane: PaneId; label?: string }) {
  const p = useEditor((s) => s.panes[pane]);
  const actions = useActions();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const rendererRef = useRef<GraphRenderer | null>(null);
  const [ready, setReady] = useState(false);
  const lastFitFor = useRef<unknown>(null);

  const scene = useMemo(() => (p.view && p.hierarchy && p.layout && p.laidOut ? buildScene(p.view, p.hierarchy, p.laidOut, p.layout) : null), [p.view, p.hierarchy, p.layout, p.laidOut]);

  useEffect(() => {
    const c = canvasRef.current;
    if (!c) return;
    const r = new GraphRenderer(c, {
      onSelect: (id) => actions.select(pane, id),
      onToggle: (id) => actions.toggleGroup(pane, id),
      // frame times for the benchmark (a bounded ring; reading it costs nothing when nobody does)
      onFrame: (ms) => { const f = ((window as unknown as { __fuselabFrames?: number[] }).__fuselabFrames ??= []); f.push(ms); if (f.length > 600) f.shift(); },
    });
    rendererRef.current = r;
    return () => { r.destroy(); rendererRef.current = null; };
  }, [actions, pane]);

  useEffect(() => {
    const r = rendererRef.current;
    if (!r) return;
    // fit on a new model, keep the camera when a block opens or closes
    const fit = lastFitFor.current !== p.view;
    lastFitFor.current = p.view;
    r.setScene(scene, { fit });
    setReady(!!scene);
  }, [scene, p.view]);

  useEffect(() => {
    rendererRef.current?.setDecor({ selected: p.selected, highlighted: p.highlighted, marks: p.marks, markRollup: p.markRollup, heat: p.heat });
  }, [p.selected, p.highlighted, p.marks, p.markRollup, p.heat, scene]);

  useEffect(() => {
    if (p.focus && scene) rendererRef.current?.focus(p.focus.id);
  }, [p.focus, scene]);

  const ls = p.layoutState;
  const exportPng = () => {
    const c = rendererRef.current?.renderImage();
    c?.toBlob((b) => b && download(`${pane}-graph.png`, b), 'image/png');
  };
  const exportSvg = () => scene && download(`${pane}-graph.svg`, new Blob([sceneToSvg(scene, p.marks, MARK_COLORS)], { type: 'image/svg+xml' }));

  return (
    <div className="relative h-full w-full overflow-hidden bg-[#0b0f14]" data-testid={`graph-${pane}`} data-ready={ready && ls.state === 'done' ? 'true' : 'false'} data-items={scene?.items.length ?? 0}>
      <canvas ref={canvasRef} className="absolute inset-0 h-full w-full cursor-grab" tabIndex={0}
        onKeyDown={(e) => {
          if (e.key === 'f') rendererRef.current?.fit();
          if (e.key === '+' || e.key === '=') rendererRef.current?.zoomBy(1.25);
          if (e.key === '-') rendererRef.current?.zoomBy(0.8);
          if (e.key === 'Escape') actions.select(pane, null);
        }} />
      <div className="absolute left-3 top-3 flex items-center gap-1 rounded-lg border border-white/10 bg-slate-900/85 p-1 shadow-lg backdrop-blur">
        {label && <span className="px-2 text-xs font-semibold text-slate-200">{label}</span>}
        <ToolButton title="Fit to view (F)" onClick={() => rendererRef.current?.fit()}>Fit</ToolButton>
        <ToolButton title="Zoom in (+)" onClick={() => rendererRef.current?.zoomBy(1.25)}>+</ToolButton>
        <ToolButton title="Zoom out (−)" onClick={() => rendererRef.current?.zoomBy(0.8)}>−</ToolButton>
        <span className="mx-1 h-4 w-px bg-white/10" />
        <ToolButton title="Expand every block" onClick={() => actions.expandAll(pane)} testId={`expand-all-${pane}`}>Expand all</ToolButton>
        <ToolButton title="Collapse to the top level" onClick={() => actions.collapseAll(pane)}>Collapse</ToolButton>
        <span className="mx-1 h-4 w-px bg-white/10" />
        <ToolButton title="Export PNG" onClick={exportPng}>PNG</ToolButton>
        <ToolButton title="Export SVG" onClick={exportSvg}>SVG</ToolButton>
      </div>
      {ls.state === 'running' && (
        <div className="absolute left-1/2 top-3 flex -translate-x-1/2 items-center gap-3 rounded-lg border border-indigo-400/30 bg-slate-900/90 px-3 py-1.5 text-xs text-slate-200 shadow-lg" data-testid="layout-progress">
          <span className="h-3 w-3 animate-spin rounded-full border-2 border-indigo-300 border-t-transparent" />
          <span>Laying out {ls.total > 1 ? `${ls.done}/${ls.total} blocks` : '…'}</span>
          <div className="h-1 w-24 overflow-hidden rounded bg-white/10"><div className="h-full bg-indigo-400" style={{ width: `${ls.total ? (100 * ls.done) / ls.total : 0}%` }} /></div>
          <button type="button" className="rounded px-2 py-0.5 text-rose-300 hover:bg-rose-500/20" onClick={() => actions.cancelLayout(pane)}>Cancel</button>
        </div>
      )}
      {ls.state === 'cancelled' && <div className="absolute left-1/2 top-3 -translate-x-1/2 rounded-lg bg-slate-900/90 px-3 py-1.5 text-xs text-amber-300">Layout cancelled — collapse some blocks and it runs again.</div>}
      {ls.state === 'error' && <div className="absolute left-1/2 top-3 -translate-x-1/2 rounded-lg bg-rose-950/90 px-3 py-1.5 text-xs text-rose-200">Layout failed: {ls.message}</div>}
      <div className="pointer-events-none absolute bottom-3 left-3 flex items-center gap-3 rounded-md bg-slate-900/80 px-2.5 py-1 text-[10px] text-slate-400">
        {p.marks ? (
          Object.entries(MARK_COLORS).map(([k, c]) => <span key={k} className="flex items-center gap-1"><span className="h-2 w-2 rounded-sm" style={{ background: c }} />{k}</span>)
        ) : p.heat ? (
          <span className="flex items-center gap-1.5">low<span className="h-2 w-24 rounded" style={{ background: `linear-gradient(90deg, ${heatColor(0)}, ${heatColor(0.33)}, ${heatColor(0.66)}, ${heatColor(1)})` }} />high</span>
        ) : (
          <span>{scene ? `${scene.items.length} items · ${scene.edges.length} edges` : ''}{ls.ms !== undefined ? ` · layout ${fmtMs(ls.ms)}` : ''} · drag to pan · wheel to zoom · double-click a block to open it</span>
        )}
      </div>
    </div>
  );
}
