import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { GraphCanvas } from './GraphCanvas.tsx';
import { SensitivityPanel } from './SensitivityPanel.tsx';

/** The model tab: the graph canvas with its model switch (original / optimized) and overlays. */
export function GraphView() {
  const mainModel = useEditor((s) => s.mainModel);
  const hasOptimized = useEditor((s) => !!s.optimized);
  const overlay = useEditor((s) => s.overlay);
  const hasModel = useEditor((s) => !!s.original);
  const loading = useEditor((s) => s.loading);
  const hasTimings = {
    plain: useEditor((s) => !!s.playground.sides.plain.layers),
    optimized: useEditor((s) => !!s.playground.sides.optimized.layers),
  };
  const actions = useActions();
  if (!hasModel) {
    return (
      <div className="flex h-full items-center justify-center text-sm text-slate-500">
        {loading ? (
          <div className="w-72">
            <div className="mb-2 text-center text-slate-300">{loading.stage}…</div>
            <div className="h-1 overflow-hidden rounded bg-white/10"><div className="h-full bg-indigo-400 transition-all" style={{ width: `${Math.round((loading.fraction ?? 0.1) * 100)}%` }} /></div>
          </div>
        ) : 'Open an ONNX model or drop one on the window.'}
      </div>
    );
  }
  return (
    <div className="relative h-full">
      <GraphCanvas pane="main" />
      <div className="absolute right-3 top-3 flex items-center gap-2">
        <div className="flex rounded-lg border border-white/10 bg-slate-900/85 p-0.5 text-xs shadow-lg backdrop-blur">
          {(['original', 'optimized'] as const).map((m) => (
            <button key={m} type="button" disabled={m === 'optimized' && !hasOptimized} onClick={() => actions.setMainModel(m)} data-testid={`show-${m}`}
              className={`h-7 rounded-md px-3 font-medium capitalize disabled:opacity-40 ${mainModel === m ? 'bg-indigo-500/30 text-indigo-100' : 'text-slate-400 hover:text-slate-200'}`}>{m}</button>
          ))}
        </div>
        <select value={overlay.kind === 'timing' ? `timing:${overlay.label.includes('plain') ? 'plain' : 'optimized'}` : overlay.kind} data-testid="overlay-select"
          onChange={(e) => { const [k, side] = e.target.value.split(':'); if (k !== 'external') void actions.setOverlay(k as 'none' | 'memory' | 'timing' | 'sensitivity', side as 'plain' | 'optimized' | undefined); }}
          className="h-8 rounded-lg border border-white/10 bg-slate-900/85 px-2 text-xs text-slate-200 shadow-lg outline-none">
          <option value="none">No overlay</option>
          <option value="memory">Heatmap: activation memory</option>
          {overlay.kind === 'external' && <option value="external">Heatmap: {overlay.label}</option>}
          <option value="timing:optimized" disabled={!hasTimings.optimized} data-testid="overlay-timing">Heatmap: GPU time per layer — optimized run{hasTimings.optimized ? '' : ' (generate in the Playground)'}</option>
          <option value="timing:plain" disabled={!hasTimings.plain}>Heatmap: GPU time per layer — plain run</option>
          <option value="sensitivity" data-testid="overlay-sensitivity">Heatmap: INT8 sensitivity per layer (runs on wasm)</option>
        </select>
      </div>
      <SensitivityPanel />
      {overlay.kind === 'timing' && (
        <div className="absolute right-3 top-14 max-w-xs rounded-lg border border-white/10 bg-slate-900/85 px-3 py-2 text-[11px] text-slate-300 shadow-lg backdrop-blur" data-testid="timing-overlay-note">
          <div className="font-medium text-slate-100">{overlay.label}</div>
          <div className="mt-0.5 text-slate-400">Fused nodes' time is split evenly among their source nodes; blocks show the sum.</div>
          {overlay.note && <div className="mt-0.5 text-amber-300/90">{overlay.note}</div>}
        </div>
      )}
    </div>
  );
}
