import { useEffect, useState } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { topOps } from '../model/hierarchy.ts';
import type { WeightStats } from '../model/weight-stats.ts';
import { MARK_COLORS, opColor } from '../render/colors.ts';
import { fmtNum } from '../format.ts';
import type { ModelRef } from '../worker/protocol.ts';
import { FlowNodeProperties } from './FlowNodeProperties.tsx';
import { PlaygroundProperties } from './EngineView.tsx';

export function Section({ title, children, right }: { title: string; children: React.ReactNode; right?: React.ReactNode }) {
  return (
    <section className="border-b border-white/5 px-4 py-3">
      <div className="mb-2 flex items-center justify-between text-[10px] font-semibold uppercase tracking-wider text-slate-500"><span>{title}</span>{right}</div>
      {children}
    </section>
  );
}

function Histogram({ bins }: { bins: number[] }) {
  const m = Math.max(1, ...bins);
  return (
    <div className="mt-2 flex h-10 items-end gap-px">
      {bins.map((b, i) => <div key={i} className="flex-1 rounded-t-sm bg-indigo-400/70" style={{ height: `${Math.max(2, (100 * b) / m)}%` }} />)}
    </div>
  );
}

function WeightStatsView({ which, value }: { which: ModelRef; value: string }) {
  const actions = useActions();
  const [stats, setStats] = useState<WeightStats | null | 'loading'>('loading');
  useEffect(() => {
    let live = true;
    setStats('loading');
    actions.weightStats(which, value).then((s) => live && setStats(s), () => live && setStats(null));
    return () => { live = false; };
  }, [actions, which, value]);
  if (stats === 'loading') return <div className="mt-1 text-[11px] text-slate-500">computing statistics…</div>;
  if (!stats) return null;
  if (stats.note) return <div className="mt-1 text-[11px] text-slate-500">{stats.note}</div>;
  return (
    <div className="mt-2 rounded-md bg-black/30 p-2" data-testid="weight-stats">
      <div className="grid grid-cols-4 gap-x-2 gap-y-0.5 font-mono text-[10px]">
        {(['min', 'max', 'mean', 'std'] as const).map((k) => (
          <div key={k}><div className="text-slate-500">{k}</div><div className="text-slate-200">{fmtNum(stats[k])}</div></div>
        ))}
      </div>
      <Histogram bins={stats.histogram} />
      <div className="mt-1 text-[10px] text-slate-500">{stats.count.toLocaleString()} values · {stats.zeros.toLocaleString()} zeros</div>
    </div>
  );
}

function ValueRow({ name, which }: { name: string | null; which: ModelRef }) {
  const v = useEditor((s) => (name ? (which === 'optimized' ? s.optimized : s.original)?.valueByName.get(name) : undefined));
  const [open, setOpen] = useState(false);
  if (!name) return <div className="py-1 text-[11px] italic text-slate-600">(omitted)</div>;
  const isWeight = v?.isInitializer;
  return (
    <div className="py-1">
      <div className="flex items-baseline justify-between gap-2">
        <button type="button" className={`truncate text-left font-mono text-[11px] ${isWeight ? 'text-amber-200 hover:underline' : 'text-slate-300'}`} title={name} onClick={() => isWeight && setOpen(!open)}>
          {isWeight ? '◆ ' : ''}{name}
        </button>
        <span className="shrink-0 font-mono text-[10px] text-slate-500">{v?.dtype ?? '?'} {v?.shape ?? ''}</span>
      </div>
      {isWeight && open && <WeightStatsView which={which} value={name} />}
    </div>
  );
}

function GraphProperties() {
  const inspect = useEditor((s) => s.inspect);
  const pane = useEditor((s) => (s.inspect ? s.panes[s.inspect.pane] : null));
  const mainModel = useEditor((s) => s.mainModel);
  const diff = useEditor((s) => s.diff.data);
  const actions = useActions();
  const summary = useEditor((s) => s.original?.summary);
  const overlay = useEditor((s) => s.overlay);
  if (!inspect || !pane?.view) {
    if (!summary) return <div className="p-4 text-xs text-slate-500">Open a model to see its properties.</div>;
    return (
      <>
        <Section title="Model">
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-xs">
            <dt className="text-slate-500">file</dt><dd className="truncate text-slate-200">{summary.file}</dd>
            <dt className="text-slate-500">producer</dt><dd className="text-slate-200">{summary.producer}</dd>
            <dt className="text-slate-500">IR / opsets</dt><dd className="text-slate-200">{summary.irVersion} / {Object.entries(summary.opsets).map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ')}</dd>
            <dt className="text-slate-500">nodes</dt><dd className="text-slate-200">{summary.nodeCount}</dd>
            <dt className="text-slate-500">parameters</dt><dd className="text-slate-200">{summary.paramCount.toLocaleString()}</dd>
          </dl>
        </Section>
        <Section title="Ops">
          <div className="space-y-1">
            {Object.entries(summary.opCounts).sort((a, b) => b[1] - a[1]).slice(0, 16).map(([op, n]) => (
              <div key={op} className="flex items-center gap-2 text-xs">
                <span className="h-2 w-2 rounded-sm" style={{ background: opColor(op) }} />
                <span className="flex-1 text-slate-300">{op}</span><span className="font-mono text-slate-500">{n}</span>
              </div>
            ))}
          </div>
        </Section>
        <div className="px-4 py-3 text-[11px] leading-relaxed text-slate-500">Click a node for its attributes, shapes and weight statistics. Double-click a block to open it.</div>
      </>
    );
  }
  const which: ModelRef = inspect.pane === 'after' || (inspect.pane === 'main' && mainModel === 'optimized') ? 'optimized' : 'original';
  const group = pane.hierarchy?.groups.get(inspect.id);
  if (group) {
    const roll = pane.markRollup?.get(group.id);
    return (
      <>
        <Section title="Block">
          <div className="text-sm font-semibold text-indigo-200">{group.label}</div>
          <div className="mt-1 break-all font-mono text-[10px] text-slate-500">{group.id.slice(2)}</div>
          <div className="mt-2 text-xs text-slate-400">{group.size} nodes · {topOps(group, 4)}</div>
          {overlay.kind !== 'none' && pane.heat?.has(group.id) && <div className="mt-2 text-xs text-slate-300" data-testid="props-heat"><span className="font-mono text-amber-200">{fmtNum(pane.heat.get(group.id) as number)}</span> <span className="text-slate-500">{overlay.label}, summed over the block</span></div>}
          {roll && <div className="mt-2 flex flex-wrap gap-1">{Object.entries(roll).map(([k, n]) => <span key={k} className="rounded px-1.5 py-0.5 text-[10px]" style={{ background: `${MARK_COLORS[k]}33`, color: MARK_COLORS[k] }}>{n} {k}</span>)}</div>}
          <button type="button" className="mt-3 rounded-md bg-indigo-500/20 px-3 py-1 text-xs text-indigo-200 hover:bg-indigo-500/30" onClick={() => actions.toggleGroup(inspect.pane, group.id)}>
            {pane.expanded.has(group.id) ? 'Collapse block' : 'Open block'}
          </button>
        </Section>
        <Section title="Ops inside">
          {Object.entries(group.opCounts).sort((a, b) => b[1] - a[1]).map(([op, n]) => (
            <div key={op} className="flex items-center gap-2 py-0.5 text-xs"><span className="h-2 w-2 rounded-sm" style={{ background: opColor(op) }} /><span className="flex-1 text-slate-300">{op}</span><span className="font-mono text-slate-500">{n}</span></div>
          ))}
        </Section>
      </>
    );
  }
  const n = pane.view.nodeById.get(inspect.id);
  if (!n) return null;
  const mark = pane.marks?.get(n.id);
  const side = inspect.pane === 'after' ? 'after' : 'before';
  const sources = diff && side === 'after' ? diff.sourcesOf.get(n.id) : undefined;
  const replacedBy = diff && side === 'before' ? diff.replacedBy.get(n.id) : undefined;
  const reason = diff && side === 'before' ? diff.reasons.get(n.id) : undefined;
  const whyNot = diff ? diff.whyNot.get(n.id) : undefined;
  const other = inspect.pane === 'before' ? 'after' : 'before';
  return (
    <>
      <Section title={n.kind === 'op' ? 'Node' : n.kind === 'input' ? 'Graph input' : 'Graph output'}>
        <div className="flex items-center gap-2">
          <span className="h-3 w-3 rounded-sm" style={{ background: opColor(n.op, n.domain) }} />
          <span className="text-sm font-semibold text-slate-100" data-testid="props-op">{n.op}</span>
          {n.domain && <span className="rounded bg-amber-500/15 px-1.5 text-[10px] text-amber-300">{n.domain}</span>}
          {mark && mark !== 'kept' && <span className="rounded px-1.5 text-[10px] font-semibold" style={{ background: `${MARK_COLORS[mark]}33`, color: MARK_COLORS[mark] }}>{mark}</span>}
        </div>
        <div className="mt-1 break-all font-mono text-[10px] text-slate-500">{n.name}</div>
      </Section>
      {inspect.pane === 'main' && overlay.values?.has(n.name) && (
        <Section title="Heatmap">
          <div className="text-xs text-slate-300" data-testid="props-heat"><span className="font-mono text-amber-200">{fmtNum(overlay.values.get(n.name) as number)}</span> <span className="text-slate-500">{overlay.label}</span></div>
        </Section>
      )}
      {sources && sources.length > 0 && (
        <Section title={`Fused from ${sources.length} nodes`}>
          <div className="max-h-48 space-y-0.5 overflow-auto" data-testid="fused-sources">
            {sources.map((s) => (
              <button key={s} type="button" className="block w-full truncate text-left font-mono text-[10px] text-emerald-200/80 hover:text-emerald-100" onClick={() => actions.focus('before', s)} title={s}>{s}</button>
            ))}
          </div>
        </Section>
      )}
      {(replacedBy || reason) && (
        <Section title="What happened">
          {replacedBy?.map((r) => <button key={r} type="button" className="block text-left text-xs text-amber-200 hover:underline" onClick={() => actions.focus(other, r)}>replaced by {r}</button>)}
          {reason && <div className="mt-1 text-[11px] text-slate-400">{reason}</div>}
        </Section>
      )}
      {whyNot && (
        <Section title="Why not fused">
          {whyNot.map((d, i) => <div key={i} className="mb-1 rounded bg-rose-500/10 p-2 text-[11px] text-rose-200"><span className="font-semibold">{d.rule}</span>: {d.message}</div>)}
        </Section>
      )}
      {n.attrs.length > 0 && (
        <Section title="Attributes">
          <table className="w-full text-[11px]"><tbody>
            {n.attrs.map(([k, v]) => <tr key={k}><td className="py-0.5 pr-2 align-top text-slate-500">{k}</td><td className="break-all font-mono text-slate-200">{v}</td></tr>)}
          </tbody></table>
        </Section>
      )}
      {n.inputs.length > 0 && <Section title="Inputs">{n.inputs.map((v, i) => <ValueRow key={i} name={v} which={which} />)}</Section>}
      {n.outputs.length > 0 && <Section title="Outputs">{n.outputs.map((v, i) => <ValueRow key={i} name={v} which={which} />)}</Section>}
    </>
  );
}

export function PropertiesPanel() {
  const tab = useEditor((s) => s.tab);
  return (
    <aside className="flex h-full w-80 shrink-0 flex-col overflow-y-auto border-l border-white/10 bg-[#0f141b]" data-testid="properties">
      <div className="flex h-9 shrink-0 items-center border-b border-white/10 px-4 text-[11px] font-semibold uppercase tracking-wider text-slate-400">Properties</div>
      {tab === 'workflow' ? <FlowNodeProperties /> : tab === 'playground' ? <PlaygroundProperties /> : <GraphProperties />}
    </aside>
  );
}
