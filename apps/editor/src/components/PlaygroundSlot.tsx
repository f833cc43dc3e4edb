/**
 * PLAYGROUND SLOT. The token playground (prompt, sampling, streaming, TTFT / tok/s, per-layer timing
 * bars, two engines side by side) lands when packages/gpu-runtime exposes its engine/decode API
 * (issue #6, in progress). Wire it here: run the engine in a worker, stream tokens into this panel,
 * and feed per-layer timings to `actions.setHeat('GPU time', perNodeMs)` for the graph heatmap.
 */
export function PlaygroundSlot() {
  return (
    <div className="flex h-full items-center justify-center p-8" data-testid="playground-slot">
      <div className="w-full max-w-2xl rounded-2xl border border-dashed border-violet-400/30 bg-violet-500/5 p-8">
        <div className="flex items-center gap-2">
          <span className="rounded bg-violet-500/20 px-2 py-0.5 text-[10px] font-semibold uppercase tracking-wider text-violet-200">Coming with the runtime</span>
        </div>
        <h2 className="mt-3 text-lg font-semibold text-slate-100">Playground</h2>
        <p className="mt-2 text-sm leading-relaxed text-slate-400">
          Prompt the built engine and watch tokens stream, with time to first token, prefill and decode tokens per second,
          inter-token latency and per-layer GPU timings — plain and optimized side by side. The engine runtime is being
          written now in <code className="text-violet-200">packages/gpu-runtime</code>.
        </p>
        <div className="mt-5 grid grid-cols-2 gap-3 opacity-60">
          {['Plain', 'Optimized'].map((t) => (
            <div key={t} className="rounded-lg border border-white/10 bg-black/30 p-3">
              <div className="text-xs font-semibold text-slate-300">{t}</div>
              <div className="mt-2 h-16 rounded bg-white/5" />
              <div className="mt-2 flex gap-3 font-mono text-[10px] text-slate-500"><span>TTFT —</span><span>tok/s —</span></div>
            </div>
          ))}
        </div>
      </div>
    </div>
  );
}
