import { useMemo, useState } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { deviceLabel, optimizedKind, type SideId, type SideState } from '../store/playground.ts';
import type { EditorState } from '../store/editor-store.ts';
import { ratio, type LiveStats } from '../runtime/live-stats.ts';
import { byOpType, topNodes, type TimingBar } from '../runtime/timings.ts';
import { fmtBytes, fmtMs } from '../format.ts';
import { opColor } from '../render/colors.ts';

const SIDE_STYLE: Record<SideId, { label: string; chip: string; accent: string; bar: string }> = {
  plain: { label: 'Plain', chip: 'bg-slate-500/20 text-slate-200', accent: 'border-slate-500/30', bar: 'bg-slate-400/70' },
  optimized: { label: 'Optimized', chip: 'bg-emerald-500/20 text-emerald-200', accent: 'border-emerald-500/30', bar: 'bg-emerald-400/80' },
};

const fmtRate = (x: number | null) => (x === null ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const fmtLat = (x: number | null | undefined) => (x === null || x === undefined ? '—' : fmtMs(x));

/** What a side runs, in words: file, node count, kind. */
function useSideSubject(id: SideId): { title: string; meta: string; available: boolean } {
  const source = useEditor((s) => s.source);
  const original = useEditor((s) => s.original?.summary.nodeCount);
  const optimized = useEditor((s) => s.optimized?.summary.nodeCount);
  const engine = useEditor((s) => s.engine);
  const kind = useEditor((s) => (id === 'plain' ? (s.original ? 'onnx' : null) : optimizedKind(s)));
  const file = source?.name.split('/').pop() ?? '';
  // the baseline runs with onnxruntime's graph optimizations disabled (PLAIN_GRAPH_OPTIMIZATION): plain vs optimized, not ORT vs ORT
  if (id === 'plain') return { title: file || 'no model', meta: original ? `${original} nodes · ONNX as opened` : 'open a model', available: !!kind };
  if (kind === 'engine' && engine.manifest) return { title: engine.name, meta: `${engine.manifest.graph.nodes} nodes · engine ${fmtBytes(engine.byteLength)}`, available: true };
  if (kind === 'optimized-onnx') return { title: file.replace(/\.onnx$/, '.optimized.onnx'), meta: `${optimized} nodes · workflow result (ONNX) — build an engine to run it`, available: true };
  return { title: 'nothing to run yet', meta: 'run the workflow, or open an .engine file', available: false };
}

function LoadBadge({ side }: { side: SideState }) {
  const l = side.load;
  if (l.state === 'loading') return <span className="flex items-center gap-1.5 text-[10px] text-sky-300"><span className="h-2.5 w-2.5 animate-spin rounded-full border-2 border-sky-300 border-t-transparent" />loading · compiling kernels</span>;
  if (l.state === 'error') return <span className="text-[10px] text-rose-300">load failed</span>;
  if (l.state === 'ready' && l.info) {
    return (
      <span className="flex items-center gap-1.5 text-[10px] text-slate-400" data-testid="side-backend" data-backend={l.info.backend}>
        <span className={`rounded px-1.5 py-0.5 font-semibold uppercase ${l.info.backend === 'webgpu' ? 'bg-indigo-500/20 text-indigo-200' : 'bg-amber-500/20 text-amber-200'}`}>{l.info.backend}</span>
        loaded in {fmtMs(l.ms ?? 0)}
      </span>
    );
  }
  return <span className="text-[10px] text-slate-500">loads on Generate</span>;
}

function Stat({ label, value, unit, delta, testId }: { label: string; value: string; unit?: string; delta?: number | null; testId: string }) {
  return (
    <div className="rounded-lg bg-black/30 px-2.5 py-2" data-testid={testId}>
      <div className="text-[9px] font-semibold uppercase tracking-wider text-slate-500">{label}</div>
      <div className="mt-0.5 flex items-baseline gap-1">
        <span className="font-mono text-[15px] font-semibold tabular-nums text-slate-100" data-testid={`${testId}-value`}>{value}</span>
        {unit && <span className="text-[10px] text-slate-500">{unit}</span>}
        {delta !== undefined && delta !== null && (
          <span className={`ml-auto rounded px-1 font-mono text-[10px] ${delta >= 1 ? 'bg-emerald-500/15 text-emerald-300' : 'bg-rose-500/15 text-rose-300'}`} title="relative to the plain side">{delta.toFixed(2)}×</span>
        )}
      </div>
    </div>
  );
}

function StatsGrid({ id, stats, other }: { id: SideId; stats: LiveStats; other: LiveStats | null }) {
  // speedups shown on the optimized side: higher is better for rates, lower for latencies
  const up = (a: number | null | undefined, b: number | null | undefined) => (other && id === 'optimized' ? ratio(a ?? null, b ?? null) : null);
  const down = (a: number | null | undefined, b: number | null | undefined) => (other && id === 'optimized' ? ratio(b ?? null, a ?? null) : null);
  return (
    <div className="grid grid-cols-3 gap-1.5" data-testid={`stats-${id}`}>
      <Stat testId={`stat-${id}-ttft`} label="Time to first token" value={fmtLat(stats.ttftMs)} delta={down(other?.ttftMs, stats.ttftMs)} />
      <Stat testId={`stat-${id}-prefill`} label="Prefill" value={fmtRate(stats.prefillTokPerSec)} unit="tok/s" delta={up(other?.prefillTokPerSec, stats.prefillTokPerSec)} />
      <Stat testId={`stat-${id}-decode`} label="Decode" value={fmtRate(stats.decodeTokPerSec)} unit="tok/s" delta={up(other?.decodeTokPerSec, stats.decodeTokPerSec)} />
      <Stat testId={`stat-${id}-p50`} label="Inter-token p50" value={fmtLat(stats.interTokenMs?.p50)} delta={down(other?.interTokenMs?.p50, stats.interTokenMs?.p50)} />
      <Stat testId={`stat-${id}-p95`} label="Inter-token p95" value={fmtLat(stats.interTokenMs?.p95)} delta={down(other?.interTokenMs?.p95, stats.interTokenMs?.p95)} />
      <Stat testId={`stat-${id}-memory`} label="GPU memory (peak)" value={stats.gpuMemoryBytes === null ? '—' : fmtBytes(stats.gpuMemoryBytes)} delta={down(other?.gpuMemoryBytes, stats.gpuMemoryBytes)} />
    </div>
  );
}

function TimingRow({ bar, max, accent }: { bar: TimingBar; max: number; accent: string }) {
  const [open, setOpen] = useState(false);
  const shown = open ? bar.sources : bar.sources.slice(0, 2);
  return (
    <div className="group" data-testid="timing-bar">
      <button type="button" className="grid w-full grid-cols-[minmax(0,1fr)_120px_56px] items-center gap-2 text-left" onClick={() => setOpen(!open)} title={bar.node}>
        <span className="flex min-w-0 items-center gap-1.5">
          <span className="h-2 w-2 shrink-0 rounded-sm" style={{ background: opColor(bar.opType, 'com.microsoft') }} />
          <span className="shrink-0 text-[11px] font-medium text-slate-200">{bar.opType}</span>
          <span className="truncate font-mono text-[10px] text-slate-500">{bar.node}</span>
        </span>
        <span className="h-2 overflow-hidden rounded-full bg-white/5"><span className={`block h-full rounded-full ${accent}`} style={{ width: `${Math.max(2, (100 * bar.decodeMs) / max)}%` }} /></span>
        <span className="text-right font-mono text-[10px] tabular-nums text-slate-300">{bar.decodeMs >= 1 ? bar.decodeMs.toFixed(2) : bar.decodeMs.toFixed(3)} ms</span>
      </button>
      {bar.sources.length > 0 && (
        <div className="ml-3.5 mt-0.5 flex flex-wrap items-center gap-1 pb-1" data-testid="timing-sources">
          <span className="text-[9px] text-slate-500">← {bar.sources.length} source node{bar.sources.length > 1 ? 's' : ''}</span>
          {shown.map((s) => <span key={s} className="max-w-[220px] truncate rounded bg-white/5 px-1 font-mono text-[9px] text-slate-400" title={s}>{s}</span>)}
          {!open && bar.sources.length > 2 && <button type="button" className="text-[9px] text-indigo-300 hover:underline" onClick={() => setOpen(true)}>+{bar.sources.length - 2} more</button>}
        </div>
      )}
    </div>
  );
}

/** One stacked bar: the step's time by op type (fused ops included), with a legend of the largest. */
function OpBreakdown({ ops }: { ops: Array<{ opType: string; decodeMs: number; count: number }> }) {
  const total = ops.reduce((a, o) => a + o.decodeMs, 0);
  if (total <= 0) return null;
  return (
    <div className="mb-2" data-testid="op-breakdown">
      <div className="flex h-2.5 overflow-hidden rounded-full bg-white/5">
        {ops.map((o) => <span key={o.opType} className="h-full" style={{ width: `${(100 * o.decodeMs) / total}%`, background: opColor(o.opType, 'com.microsoft') }} title={`${o.opType} ×${o.count}: ${o.decodeMs.toFixed(2)} ms`} />)}
      </div>
      <div className="mt-1 flex flex-wrap gap-x-3 gap-y-0.5 text-[10px] text-slate-400">
        {ops.slice(0, 5).map((o) => <span key={o.opType} className="flex items-center gap-1"><span className="h-1.5 w-1.5 rounded-full" style={{ background: opColor(o.opType, 'com.microsoft') }} />{o.opType} ×{o.count} <span className="font-mono text-slate-500">{((100 * o.decodeMs) / total).toFixed(0)}%</span></span>)}
      </div>
    </div>
  );
}

function LayerTimingsView({ id, side }: { id: SideId; side: SideState }) {
  const actions = useActions();
  const bars = useMemo(() => (side.layers ? topNodes(side.layers, 10) : []), [side.layers]);
  const ops = useMemo(() => (side.layers ? byOpType(side.layers) : []), [side.layers]);
  if (!side.layers) {
    return <div className="rounded-lg border border-dashed border-white/10 p-3 text-[11px] text-slate-500">Per-layer timings appear after the first run of a freshly loaded model (onnxruntime's profiler, mapped back through provenance).</div>;
  }
  const t = side.layers;
  const max = Math.max(1e-9, ...bars.map((b) => b.decodeMs));
  const gpu = t.nodes.some((n) => n.source === 'gpu');
  return (
    <div data-testid={`timings-${id}`}>
      <div className="mb-1.5 flex items-center gap-2 text-[10px] text-slate-500">
        <span className="font-semibold uppercase tracking-wider">Per-layer time</span>
        <span>{gpu ? 'GPU timestamps' : 'kernel time'} · {t.nodes.length} nodes · {t.decodeMs.toFixed(2)} ms/token</span>
        <button type="button" className="ml-auto rounded px-1.5 py-0.5 text-indigo-300 hover:bg-indigo-500/10" data-testid={`show-heat-${id}`} onClick={() => { actions.setMainModel('original'); void actions.setOverlay('timing', id); actions.setTab('graph'); }}>Show on graph →</button>
      </div>
      <OpBreakdown ops={ops} />
      <div className="space-y-1">{bars.map((b) => <TimingRow key={b.node} bar={b} max={max} accent={SIDE_STYLE[id].bar} />)}</div>
    </div>
  );
}

function SideCard({ id }: { id: SideId }) {
  const side = useEditor((s) => s.playground.sides[id]);
  const other = useEditor((s) => (id === 'optimized' && s.playground.sides.plain.run.stats.tokens > 0 ? s.playground.sides.plain.run.stats : null));
  const prompt = useEditor((s) => s.playground.prompt);
  const allowOther = useEditor((s) => s.playground.allowOtherDevice);
  const actions = useActions();
  const subject = useSideSubject(id);
  const st = SIDE_STYLE[id];
  const r = side.run;
  const streaming = r.state === 'running';
  return (
    <section className={`flex min-w-0 flex-col gap-3 rounded-2xl border ${st.accent} bg-[#111821] p-4 shadow-xl shadow-black/30`} data-testid={`side-${id}`} data-state={r.state}>
      <header className="flex items-start gap-2">
        <span className={`rounded px-1.5 py-0.5 text-[10px] font-bold uppercase tracking-wider ${st.chip}`}>{st.label}</span>
        <div className="min-w-0 flex-1">
          <div className="truncate font-mono text-[12px] text-slate-100" title={subject.title}>{subject.title}</div>
          <div className="truncate text-[10px] text-slate-500" title={subject.meta} data-testid={`side-${id}-meta`}>{subject.meta}</div>
        </div>
        <LoadBadge side={side} />
      </header>
      <div className="-mt-1 flex items-center gap-1.5 text-[10px] text-slate-500" data-testid={`side-${id}-baseline`}>
        <span className={`h-1.5 w-1.5 rounded-full ${id === 'plain' ? 'bg-slate-500' : 'bg-emerald-400'}`} />
        {id === 'plain' ? 'Baseline: onnxruntime graph optimizations off — the comparison is plain vs optimized' : 'The workflow\'s passes, with onnxruntime graph optimizations on top'}
      </div>
      {side.load.info?.warnings.map((w) => <div key={w} className="rounded bg-amber-500/10 px-2 py-1 text-[10px] text-amber-200">{w}</div>)}
      {side.load.state === 'error' && (
        <div className="rounded-lg bg-rose-500/10 p-2 text-[11px] text-rose-200" data-testid={`load-error-${id}`}>
          {side.load.error}
          {side.load.errorCode === 'ENGINE_DEVICE' && !allowOther && (
            <button type="button" className="ml-2 rounded bg-rose-500/20 px-2 py-0.5 text-[10px] text-rose-100 hover:bg-rose-500/30" onClick={() => { actions.setPlayground({ allowOtherDevice: true }); void actions.generate(); }}>Run on this device anyway</button>
          )}
        </div>
      )}
      <div className="relative h-44 shrink-0 resize-y overflow-auto rounded-xl border border-white/5 bg-black/40 p-3 text-[13px] leading-relaxed" data-testid={`output-${id}`}>
        {subject.available ? (
          <p className="whitespace-pre-wrap break-words">
            <span className="text-slate-500">{prompt}</span>
            <span className="text-slate-100" data-testid={`text-${id}`}>{r.text}</span>
            {(streaming || r.state === 'waiting') && <span className={`ml-0.5 inline-block h-4 w-1.5 translate-y-0.5 rounded-sm ${streaming ? 'animate-pulse bg-emerald-300' : 'bg-slate-600'}`} />}
          </p>
        ) : <div className="grid h-full place-items-center text-center text-[12px] text-slate-500">{subject.meta}</div>}
        {r.error && <div className="mt-2 rounded bg-rose-500/10 p-2 text-[11px] text-rose-200">{r.error}</div>}
      </div>
      <div className="flex items-center gap-3 text-[10px] text-slate-500">
        <span data-testid={`tokens-${id}`}>{r.stats.tokens} tokens{r.stats.promptTokens ? ` · prompt ${r.stats.promptTokens}` : ''}</span>
        {r.reason && <span>stopped: {r.reason.replace('-', ' ')}</span>}
        {r.state === 'waiting' && <span className="text-slate-400">waiting for its turn…</span>}
        {r.profiled && <span className="ml-auto text-amber-300/80" title="the first run after loading is profiled for per-layer timings; the profiler slows it">profiled run</span>}
      </div>
      <StatsGrid id={id} stats={r.stats} other={other} />
      <LayerTimingsView id={id} side={side} />
    </section>
  );
}

function WasmNotice() {
  const notes = useEditor((s) => {
    const out: string[] = [];
    for (const id of ['plain', 'optimized'] as const) {
      const i = s.playground.sides[id].load.info;
      if (i?.backend === 'wasm') out.push(i.fallbackReason ? `WebGPU unavailable: ${i.fallbackReason}` : 'wasm was chosen');
    }
    if (!out.length && s.runtime.hello && !s.runtime.hello.device && s.playground.backend !== 'wasm') out.push(`WebGPU unavailable: ${s.runtime.hello.webgpuUnavailable ?? 'no adapter'}`);
    return [...new Set(out)].join(' · ');
  });
  if (!notes) return null;
  return (
    <div className="flex items-center gap-2 rounded-lg border border-amber-500/30 bg-amber-500/10 px-3 py-2 text-[12px] text-amber-100" data-testid="wasm-notice">
      <span className="grid h-5 w-5 shrink-0 place-items-center rounded-full bg-amber-500/25 text-[11px] font-bold">!</span>
      <span>Running on <b>wasm (CPU)</b> — {notes}. Timings are CPU kernel times, not GPU times.</span>
    </div>
  );
}

const selectRuntimeLabel = (s: EditorState) => (s.runtime.hello ? (s.runtime.hello.device ? deviceLabel(s.runtime.hello.device) : 'wasm (CPU)') : s.runtime.state === 'starting' ? 'starting runtime…' : s.runtime.error ? 'runtime failed' : 'runtime idle');

/** The token playground: two engines side by side on the same prompt, LM Studio meets Nsight. */
export function Playground() {
  const running = useEditor((s) => s.playground.running);
  const backend = useEditor((s) => s.playground.backend);
  const mode = useEditor((s) => s.playground.mode);
  const device = useEditor(selectRuntimeLabel);
  const hasModel = useEditor((s) => !!s.original);
  const actions = useActions();
  const seg = (on: boolean) => `h-6 rounded px-2.5 text-[11px] font-medium ${on ? 'bg-white/10 text-white' : 'text-slate-400 hover:text-slate-200'}`;
  return (
    <div className="flex h-full flex-col overflow-hidden" data-testid="playground">
      <div className="flex h-12 shrink-0 items-center gap-3 border-b border-white/10 bg-[#0d1218] px-4">
        <h2 className="text-sm font-semibold text-slate-100">Playground</h2>
        <span className="flex items-center gap-1.5 rounded-full bg-white/5 px-2.5 py-1 text-[11px] text-slate-300" data-testid="pg-device"><span className="h-1.5 w-1.5 rounded-full bg-indigo-400" />{device}</span>
        <div className="flex rounded-md bg-black/30 p-0.5" title="Execution provider">
          {(['auto', 'webgpu', 'wasm'] as const).map((b) => <button key={b} type="button" className={seg(backend === b)} disabled={running} onClick={() => actions.setPlayground({ backend: b })} data-testid={`pg-backend-${b}`}>{b === 'auto' ? 'Auto' : b === 'webgpu' ? 'WebGPU' : 'wasm'}</button>)}
        </div>
        <div className="flex rounded-md bg-black/30 p-0.5" title="One side after the other gives clean timings; together interleaves them on one device">
          <button type="button" className={seg(mode === 'sequential')} disabled={running} onClick={() => actions.setPlayground({ mode: 'sequential' })}>One after the other</button>
          <button type="button" className={seg(mode === 'parallel')} disabled={running} onClick={() => actions.setPlayground({ mode: 'parallel' })}>Together</button>
        </div>
        <button type="button" className="text-[11px] text-slate-400 hover:text-slate-200" disabled={running} onClick={actions.reprofile} title="Reload both sides so the next run is profiled again">Re-profile</button>
        <div className="ml-auto flex items-center gap-2">
          {running ? (
            <button type="button" className="flex h-8 items-center gap-2 rounded-md bg-rose-500 px-4 text-xs font-semibold text-white shadow-lg shadow-rose-500/20 hover:bg-rose-400" onClick={actions.stop} data-testid="pg-stop">■ Stop</button>
          ) : (
            <button type="button" className="flex h-8 items-center gap-2 rounded-md bg-indigo-500 px-4 text-xs font-semibold text-white shadow-lg shadow-indigo-500/25 hover:bg-indigo-400 disabled:opacity-40" disabled={!hasModel} onClick={() => void actions.generate()} data-testid="pg-generate">▶ Generate <span className="text-[10px] font-normal text-indigo-200">Ctrl+Enter</span></button>
          )}
        </div>
      </div>
      <div className="flex min-h-0 flex-1 flex-col gap-3 overflow-auto p-4">
        <WasmNotice />
        <div className="grid grid-cols-2 items-start gap-4">
          <SideCard id="plain" />
          <SideCard id="optimized" />
        </div>
      </div>
    </div>
  );
}
