import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { useTritonExport } from '../hooks/useTritonExport.ts';
import { profileRows } from '../model/profile-rows.ts';
import { fmtBytes } from '../format.ts';
import { Section } from './PropertiesPanel.tsx';

const btn = 'rounded-md bg-indigo-500 px-3 py-1 text-xs font-medium text-white hover:bg-indigo-400 disabled:opacity-40';

/** The profiles node's result: per profile, each input's min / opt / max (KV-cache inputs folded). */
export function ProfilesProperties({ nodeId }: { nodeId: string }) {
  const r = useEditor((s) => s.deploy.profiles[nodeId]);
  const hasModel = useEditor((s) => !!s.original);
  const actions = useActions();
  return (
    <Section title="Profiles" right={<button type="button" className="text-[10px] normal-case text-slate-400 hover:text-white disabled:opacity-40" disabled={!hasModel} onClick={() => void actions.computeProfiles(nodeId)}>recompute</button>}>
      {!r ? <div className="text-[11px] text-slate-500">{hasModel ? 'Computed when the workflow runs (or recompute).' : 'Open a model first.'}</div> : (
        <div className="space-y-3" data-testid="profiles-table">
          <div className="text-[11px] text-slate-300">context ≤ <span className="font-mono text-teal-200">{r.maxContext}</span> tokens · symbols <span className="font-mono text-slate-400">{[r.symbols.batch, r.symbols.sequence, r.symbols.past].filter((x) => x !== null).join(', ')}</span></div>
          {r.profiles.map((p) => (
            <div key={p.name}>
              <div className="mb-1 text-[11px] font-semibold text-teal-200">{p.name}</div>
              <div className="grid grid-cols-3 gap-x-2 border-b border-white/5 pb-0.5 text-[9px] uppercase tracking-wider text-slate-500"><span>min</span><span>opt</span><span>max</span></div>
              {profileRows(p).map((row) => (
                <div key={row.input} className="border-b border-white/5 py-1 font-mono text-[10px]" data-testid="profile-row">
                  <div className="truncate text-slate-300" title={row.input}>{row.input}{row.count > 1 ? <span className="text-slate-500"> ×{row.count}</span> : null}</div>
                  <div className="grid grid-cols-3 gap-x-2">
                    <span className="truncate text-slate-400" title={row.min}>{row.min}</span>
                    <span className="truncate text-slate-100" title={row.opt}>{row.opt}</span>
                    <span className="truncate text-slate-400" title={row.max}>{row.max}</span>
                  </div>
                </div>
              ))}
            </div>
          ))}
          {r.notes.map((n) => <div key={n} className="rounded bg-white/5 px-2 py-1 text-[10px] text-slate-400">{n}</div>)}
        </div>
      )}
    </Section>
  );
}

/** The export-triton node: what the repository holds and the button that downloads it as one .tar. */
export function TritonProperties({ nodeId }: { nodeId: string }) {
  const t = useEditor((s) => s.deploy.triton[nodeId]);
  const engine = useEditor((s) => (s.engine.state === 'ready' ? s.engine.name : null));
  const exportTriton = useTritonExport();
  return (
    <Section title="Triton repository">
      {!engine ? <div className="text-[11px] text-slate-500">Needs an engine: run the workflow (its build engine node feeds this one) or open an .engine file.</div> : (
        <>
          {t && (
            <table className="mb-2 w-full text-[10px]" data-testid="triton-files"><tbody>
              {t.files.map((f) => <tr key={f.path}><td className="truncate py-0.5 pr-2 font-mono text-slate-300">{f.path}</td><td className="text-right font-mono text-slate-500">{fmtBytes(f.bytes)}</td></tr>)}
            </tbody></table>
          )}
          {t && <div className="mb-2 text-[11px] text-slate-400">max_batch_size {t.maxBatchSize}{t.kvCache ? ' · KV-cache decoder served stateless (the client sends past, gets present)' : ''}</div>}
          <button type="button" className={btn} onClick={() => void exportTriton(nodeId)} data-testid="triton-export">Export {t?.fileName ?? '.tar'}</button>
          <div className="mt-2 text-[10px] leading-snug text-slate-500">From {engine}; untar it in the model repository and see README.md for docker run, curl and perf_analyzer.</div>
        </>
      )}
    </Section>
  );
}
