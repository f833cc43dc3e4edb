import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { MARK_COLORS } from '../render/colors.ts';
import { GraphCanvas } from './GraphCanvas.tsx';

function Chip({ label, n, color }: { label: string; n: number; color: string }) {
  return <span className="rounded-full px-2 py-0.5 text-[11px] font-medium" style={{ background: `${color}22`, color }} data-testid={`diff-count-${label}`}>{n} {label}</span>;
}

/** Before/after any pass, side by side, from provenance; selection is synced across the two sides. */
export function DiffView() {
  const record = useEditor((s) => s.flow.record);
  const diff = useEditor((s) => s.diff);
  const afterView = useEditor((s) => s.panes.after.view);
  const actions = useActions();
  if (!record) {
    return (
      <div className="flex h-full items-center justify-center">
        <div className="max-w-sm text-center">
          <div className="text-sm font-semibold text-slate-200">No run yet</div>
          <p className="mt-2 text-xs text-slate-500">Run the workflow (Ctrl+Enter) and the before/after diff of every pass appears here: fused nodes, removed nodes, and why candidates were not fused.</p>
          <button type="button" className="mt-4 rounded-md bg-indigo-500 px-4 py-1.5 text-xs font-medium text-white hover:bg-indigo-400" onClick={() => void actions.runFlow()}>Run workflow</button>
        </div>
      </div>
    );
  }
  const steps = record.steps.filter((s) => s.modified);
  const d = diff.data;
  // fused kernels (contrib ops, norms, attention) first, then by how much they replace
  const rank = (id: string) => (afterView?.nodeById.get(id)?.domain ? 0 : /Norm|Attention|Gelu/.test(afterView?.nodeById.get(id)?.op ?? '') ? 1 : 2);
  const fusedList = d ? [...d.sourcesOf.entries()].filter(([, srcs]) => srcs.length >= 2).sort((a, b) => rank(a[0]) - rank(b[0]) || b[1].length - a[1].length) : [];
  return (
    <div className="flex h-full flex-col">
      <div className="flex h-10 shrink-0 items-center gap-3 border-b border-white/10 bg-[#0f141b] px-3">
        <select className="rounded-md border border-white/10 bg-black/40 px-2 py-1 text-xs text-slate-100 outline-none" value={diff.seq ?? -1} data-testid="diff-step"
          onChange={(e) => void actions.showDiff(Number(e.target.value) < 0 ? null : Number(e.target.value))}>
          <option value={-1}>Whole workflow · {record.nodesBefore} → {record.nodesAfter} nodes</option>
          {steps.map((s) => <option key={s.seq} value={s.seq}>round {s.round + 1} · {s.pass} · {s.nodesBefore} → {s.nodesAfter}</option>)}
        </select>
        {diff.loading && <span className="text-xs text-slate-400">loading…</span>}
        {d && (
          <div className="flex flex-wrap items-center gap-1.5">
            <Chip label="fused" n={d.counts.fused} color={MARK_COLORS.fused} />
            <Chip label="rewritten" n={d.counts.rewritten} color={MARK_COLORS.rewritten} />
            <Chip label="added" n={d.counts.added} color={MARK_COLORS.added} />
            <Chip label="replaced" n={d.counts.replaced} color={MARK_COLORS.replaced} />
            <Chip label="removed" n={d.counts.removed} color={MARK_COLORS.removed} />
            <span className="ml-2 text-[11px] text-slate-500">{d.rejected.length} rejected candidates</span>
          </div>
        )}
      </div>
      <div className="grid min-h-0 flex-1 grid-cols-2 gap-px bg-white/10">
        <GraphCanvas pane="before" label="Before" />
        <GraphCanvas pane="after" label="After" />
      </div>
      <div className="grid h-48 shrink-0 grid-cols-2 gap-px border-t border-white/10 bg-white/10">
        <div className="overflow-y-auto bg-[#0f141b] p-3" data-testid="fused-list">
          <div className="mb-2 text-[10px] font-semibold uppercase tracking-wider text-slate-500">Fused nodes ({fusedList.length})</div>
          {fusedList.map(([id, srcs]) => {
            const n = afterView?.nodeById.get(id);
            return (
              <button key={id} type="button" className="flex w-full items-center gap-2 rounded px-2 py-1 text-left hover:bg-white/5" onClick={() => { actions.focus('after', id); actions.select('after', id); }}>
                <span className="w-56 shrink-0 truncate text-[11px] font-medium text-emerald-300">{n?.op ?? '?'}</span>
                <span className="flex-1 truncate font-mono text-[10px] text-slate-500" title={id}>{id}</span>
                <span className="shrink-0 text-[10px] text-slate-400">← {srcs.length} nodes</span>
              </button>
            );
          })}
          {!fusedList.length && <div className="text-xs text-slate-500">This step fused nothing.</div>}
        </div>
        <div className="overflow-y-auto bg-[#0f141b] p-3" data-testid="why-not-list">
          <div className="mb-2 text-[10px] font-semibold uppercase tracking-wider text-slate-500">Why not fused ({d?.rejected.length ?? 0})</div>
          {d?.rejected.slice(0, 200).map((r, i) => (
            <button key={i} type="button" className="block w-full rounded px-2 py-1 text-left hover:bg-white/5" onClick={() => r.nodes[0] && actions.focus('before', r.nodes[0])}>
              <div className="text-[11px] text-rose-200"><span className="font-semibold">{r.pass}</span> · {r.rule}: {r.message}</div>
              <div className="truncate font-mono text-[10px] text-slate-500">{r.nodes[0]}</div>
            </button>
          ))}
          {d && !d.rejected.length && <div className="text-xs text-slate-500">No candidate was rejected.</div>}
        </div>
      </div>
    </div>
  );
}
