import { useEffect } from 'react';
import type { MemoryPlan } from '@fuselab/optimizer';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { fmtBytes } from '../format.ts';

function Timeline({ plan, color, title }: { plan: MemoryPlan; color: string; title: string }) {
  const W = 900;
  const H = 140;
  const steps = plan.steps;
  const max = Math.max(1, ...steps.map((s) => s.liveBytes), plan.arenaBytes);
  const pts = steps.map((s, i) => `${(i / Math.max(1, steps.length - 1)) * W},${H - (s.liveBytes / max) * H}`).join(' ');
  const peak = steps.reduce((a, s) => (s.liveBytes > a.liveBytes ? s : a), steps[0] ?? { liveBytes: 0, node: '', step: 0, opType: '' });
  return (
    <div className="rounded-xl border border-white/10 bg-[#111720] p-4">
      <div className="mb-3 flex items-baseline justify-between">
        <div className="text-sm font-semibold text-slate-200">{title}</div>
        <div className="flex gap-4 text-[11px] text-slate-400">
          <span>arena <b className="text-slate-100">{fmtBytes(plan.arenaBytes)}</b></span>
          <span>peak live <b className="text-slate-100">{fmtBytes(plan.peakLiveBytes)}</b></span>
          <span>naive <b className="text-slate-100">{fmtBytes(plan.naiveBytes)}</b></span>
          <span>weights <b className="text-slate-100">{fmtBytes(plan.weightsBytes)}</b></span>
          {plan.kvCacheBytes && <span>KV / token <b className="text-slate-100">{fmtBytes(plan.kvCacheBytes.perToken)}</b></span>}
        </div>
      </div>
      <svg viewBox={`0 0 ${W} ${H + 4}`} className="h-36 w-full" preserveAspectRatio="none">
        <line x1={0} x2={W} y1={H - (plan.arenaBytes / max) * H} y2={H - (plan.arenaBytes / max) * H} stroke="#f59e0b" strokeDasharray="4 4" strokeWidth={1} />
        <polyline points={`0,${H} ${pts} ${W},${H}`} fill={`${color}33`} stroke={color} strokeWidth={1.5} vectorEffect="non-scaling-stroke" />
      </svg>
      <div className="mt-1 flex justify-between text-[10px] text-slate-500">
        <span>step 0</span>
        <span>peak at step {peak.step}: {peak.opType} <span className="font-mono">{peak.node}</span></span>
        <span>step {steps.length - 1}</span>
      </div>
      {plan.unknownSizes.length > 0 && <div className="mt-2 text-[10px] text-amber-300/80">{plan.unknownSizes.length} activations of unknown size are left out (never guessed).</div>}
    </div>
  );
}

/** The memory-plan overlay: live activation bytes over the execution order, before and after. */
export function MemoryView() {
  const memory = useEditor((s) => s.memory);
  const hasModel = useEditor((s) => !!s.original);
  const hasOptimized = useEditor((s) => !!s.optimized);
  const actions = useActions();
  useEffect(() => {
    if (hasModel && !memory.original && !memory.loading && !memory.error) void actions.computeMemory().catch(() => {});
  }, [hasModel, memory.original, memory.loading, memory.error, actions]);
  useEffect(() => {
    if (hasOptimized && memory.original && !memory.optimized && !memory.loading) void actions.computeMemory().catch(() => {});
  }, [hasOptimized, memory.original, memory.optimized, memory.loading, actions]);
  return (
    <div className="h-full overflow-y-auto p-6" data-testid="memory-view">
      <div className="mb-4 flex items-center gap-3">
        <div className="text-base font-semibold text-slate-100">Memory plan</div>
        <div className="flex items-center gap-2 text-xs text-slate-400">
          {Object.entries(memory.dims).map(([k, v]) => (
            <label key={k} className="flex items-center gap-1">{k}
              <input type="number" min={0} className="w-16 rounded border border-white/10 bg-black/40 px-1 py-0.5 font-mono text-slate-100" value={v} onChange={(e) => void actions.computeMemory({ ...memory.dims, [k]: Number(e.target.value) }).catch(() => {})} />
            </label>
          ))}
        </div>
        {memory.loading && <span className="text-xs text-slate-400">planning…</span>}
      </div>
      {memory.error && <div className="mb-4 rounded-md bg-rose-500/10 p-3 text-xs text-rose-200">{memory.error}</div>}
      <div className="space-y-4">
        {memory.original && <Timeline plan={memory.original} color="#60a5fa" title="Original" />}
        {memory.optimized && <Timeline plan={memory.optimized} color="#34d399" title="Optimized" />}
        {!memory.optimized && memory.original && <div className="text-xs text-slate-500">Run the workflow to compare with the optimized model.</div>}
      </div>
    </div>
  );
}
