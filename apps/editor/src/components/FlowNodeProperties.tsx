import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { CATEGORY_COLORS, KIND_BY_ID } from '../workflow/kinds.ts';
import { fmtMs } from '../format.ts';
import { ParamField } from './ParamField.tsx';
import { Section } from './PropertiesPanel.tsx';
import { EngineManifestView, useSaveEngine } from './EngineView.tsx';
import { ProfilesProperties, TritonProperties } from './DeployProperties.tsx';

export function FlowNodeProperties() {
  const selected = useEditor((s) => (s.flow.selected.length === 1 ? s.flow.history.present.nodes.find((n) => n.id === s.flow.selected[0]) : undefined));
  const status = useEditor((s) => (selected ? s.flow.statuses[selected.id] : undefined));
  const doc = useEditor((s) => s.flow.history.present);
  const validation = useEditor((s) => s.flow.validation);
  const engineState = useEditor((s) => s.engine.state);
  const hasOptimized = useEditor((s) => !!s.optimized);
  const actions = useActions();
  const save = useSaveEngine();
  if (!selected) {
    return (
      <>
        <Section title="Workflow">
          <input className="w-full rounded border border-white/10 bg-black/40 px-2 py-1 text-xs text-slate-100 outline-none focus:border-indigo-400" value={doc.name} onChange={(e) => actions.edit({ type: 'rename', name: e.target.value })} />
          <label className="mt-3 flex items-center gap-2 text-xs text-slate-300">
            <input type="checkbox" className="accent-indigo-500" checked={doc.fixedPoint} onChange={(e) => actions.edit({ type: 'set-fixed-point', value: e.target.checked })} />
            Repeat passes to a fixed point
          </label>
          <div className="mt-2 text-[11px] text-slate-500">{doc.nodes.length} nodes · {doc.edges.length} connections</div>
        </Section>
        <Section title="Shortcuts">
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-[11px] text-slate-400">
            {[['Ctrl+Enter', 'run the workflow'], ['Ctrl+Z / Ctrl+Shift+Z', 'undo / redo'], ['Ctrl+C / Ctrl+V', 'copy / paste nodes'], ['Delete', 'remove selection'], ['Ctrl+S', 'save workflow JSON'], ['Ctrl+O', 'open a model']].flatMap(([k, v]) => [
              <dt key={k} className="font-mono text-slate-300">{k}</dt>, <dd key={`${k}:d`}>{v}</dd>,
            ])}
          </dl>
        </Section>
      </>
    );
  }
  const spec = KIND_BY_ID.get(selected.kind);
  if (!spec) return null;
  return (
    <>
      <Section title={spec.category}>
        <div className="flex items-center gap-2">
          <span className="h-3 w-3 rounded-sm" style={{ background: CATEGORY_COLORS[spec.category] }} />
          <span className="text-sm font-semibold text-slate-100">{spec.title}</span>
        </div>
        <p className="mt-2 text-[11px] leading-relaxed text-slate-400">{spec.description}</p>
        {spec.note && <p className="mt-2 rounded bg-violet-500/10 p-2 text-[11px] text-violet-200">Coming: {spec.note}</p>}
      </Section>
      {Object.keys(spec.params).length > 0 && (
        <Section title="Parameters" right={<button type="button" className="text-[10px] normal-case text-slate-400 hover:text-white" onClick={() => Object.keys(selected.params).forEach((k) => actions.edit({ type: 'reset-param', node: selected.id, key: k }))}>reset</button>}>
          <div className="space-y-2">
            {Object.entries(spec.params).map(([k, p]) => (
              <div key={k}>
                <ParamField name={k} spec={p} value={selected.params[k] ?? p.default} onChange={(v) => actions.edit({ type: 'set-param', node: selected.id, key: k, value: v })} />
                <div className="mt-0.5 text-[10px] leading-snug text-slate-500">{p.doc}</div>
              </div>
            ))}
          </div>
        </Section>
      )}
      {spec.pass && (
        <Section title="Step">
          <label className="flex items-center gap-2 text-xs text-slate-300">
            <input type="checkbox" className="accent-indigo-500" checked={selected.enabled} onChange={(e) => actions.edit({ type: 'set-enabled', node: selected.id, enabled: e.target.checked })} />
            Enabled
          </label>
        </Section>
      )}
      <Section title="Run">
        <div className="text-xs text-slate-300">{status ? `${status.state}${status.ms !== undefined ? ` · ${fmtMs(status.ms)}` : ''}` : 'not run yet'}</div>
        {status?.stat && <div className="mt-1 text-[11px] text-emerald-300">{status.stat}</div>}
        {status?.error && <div className="mt-1 text-[11px] text-rose-300">{status.error}</div>}
        {selected.kind === 'validate' && validation && (
          <table className="mt-2 w-full text-[10px]"><tbody>
            {validation.outputs.slice(0, 12).map((o) => <tr key={o.name}><td className="truncate pr-2 font-mono text-slate-400">{o.name}</td><td className={`font-mono ${o.passed ? 'text-emerald-300' : 'text-rose-300'}`}>{o.maxAbsErr.toExponential(1)}</td></tr>)}
          </tbody></table>
        )}
        {spec.available && selected.kind !== 'build-engine' && selected.kind !== 'playground' && selected.kind !== 'export-triton' && <button type="button" className="mt-3 rounded-md bg-indigo-500 px-3 py-1 text-xs font-medium text-white hover:bg-indigo-400" onClick={() => void actions.runFlow(selected.kind.startsWith('pass:') ? selected.id : undefined)}>Run to here</button>}
        {selected.kind === 'build-engine' && (
          <div className="mt-3 flex flex-wrap gap-1.5">
            <button type="button" className="rounded-md bg-indigo-500 px-3 py-1 text-xs font-medium text-white hover:bg-indigo-400 disabled:opacity-40" disabled={!hasOptimized || engineState === 'building'}
              onClick={() => void actions.buildEngine({ target: String(selected.params.target ?? 'auto') as 'auto', nodeId: selected.id })}>{engineState === 'ready' ? 'Rebuild' : 'Build engine'}</button>
            <button type="button" className="rounded-md border border-white/10 px-3 py-1 text-xs text-slate-200 hover:bg-white/10 disabled:opacity-40" disabled={!save} onClick={() => save?.()}>Save engine</button>
            <button type="button" className="rounded-md border border-white/10 px-3 py-1 text-xs text-slate-200 hover:bg-white/10" onClick={() => actions.setTab('playground')}>Playground →</button>
          </div>
        )}
        {selected.kind === 'playground' && <button type="button" className="mt-3 rounded-md bg-indigo-500 px-3 py-1 text-xs font-medium text-white hover:bg-indigo-400" onClick={() => actions.setTab('playground')}>Open the Playground</button>}
      </Section>
      {selected.kind === 'profiles' && <ProfilesProperties nodeId={selected.id} />}
      {selected.kind === 'export-triton' && <TritonProperties nodeId={selected.id} />}
      {selected.kind === 'build-engine' && <EngineManifestView />}
    </>
  );
}
