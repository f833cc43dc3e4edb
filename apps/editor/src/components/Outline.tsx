import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { ROOT, type GroupNode, type Hierarchy } from '../model/hierarchy.ts';
import { opColor } from '../render/colors.ts';

function Row({ h, g, depth }: { h: Hierarchy; g: GroupNode; depth: number }) {
  const expanded = useEditor((s) => s.panes.main.expanded.has(g.id));
  const selected = useEditor((s) => s.panes.main.selected === g.id);
  const actions = useActions();
  return (
    <>
      <div className={`flex cursor-pointer items-center gap-1 rounded py-0.5 pr-2 text-xs ${selected ? 'bg-indigo-500/20 text-indigo-100' : 'text-slate-300 hover:bg-white/5'}`} style={{ paddingLeft: 6 + depth * 12 }}>
        <button type="button" className="w-4 text-slate-500 hover:text-white" onClick={() => actions.toggleGroup('main', g.id)}>{expanded ? '▾' : '▸'}</button>
        <span className="flex-1 truncate" onClick={() => actions.focus('main', g.id)}>{g.label}</span>
        <span className="font-mono text-[10px] text-slate-600">{g.size}</span>
      </div>
      {expanded && g.groups.map((c) => <Row key={c} h={h} g={h.groups.get(c) as GroupNode} depth={depth + 1} />)}
    </>
  );
}

/** Left panel of the graph view: search results, then the layer outline. */
export function Outline() {
  const h = useEditor((s) => s.panes.main.hierarchy);
  const view = useEditor((s) => s.panes.main.view);
  const search = useEditor((s) => s.search);
  const actions = useActions();
  return (
    <div className="flex h-full flex-col">
      <div className="p-3">
        <input value={search.query} onChange={(e) => actions.setSearch(e.target.value)} placeholder="Search name, op:MatMul, shape:[1,…" data-testid="graph-search"
          className="w-full rounded-md border border-white/10 bg-black/30 px-2.5 py-1.5 text-xs text-slate-100 outline-none placeholder:text-slate-500 focus:border-indigo-400" />
        {search.query && <div className="mt-1.5 text-[10px] text-slate-500" data-testid="search-count">{search.hits.length >= 500 ? '500+' : search.hits.length} matches</div>}
      </div>
      {search.query && view ? (
        <div className="flex-1 overflow-y-auto px-2 pb-3">
          {search.hits.slice(0, 300).map((hit) => {
            const n = view.nodeById.get(hit.id);
            if (!n) return null;
            return (
              <button key={hit.id} type="button" onClick={() => actions.focus('main', hit.id)} className="flex w-full items-center gap-2 rounded px-2 py-1 text-left hover:bg-white/5">
                <span className="h-2 w-2 shrink-0 rounded-sm" style={{ background: opColor(n.op, n.domain) }} />
                <span className="w-24 shrink-0 truncate text-[11px] font-medium text-slate-200">{n.op}</span>
                <span className="truncate font-mono text-[10px] text-slate-500" title={n.name}>{n.name}</span>
              </button>
            );
          })}
        </div>
      ) : (
        <div className="flex-1 overflow-y-auto px-1 pb-3">
          <div className="px-3 pb-1 text-[10px] font-semibold uppercase tracking-wider text-slate-500">Layers</div>
          {h && h.root.groups.map((c) => <Row key={c} h={h} g={h.groups.get(c) as GroupNode} depth={0} />)}
          {h && h.root.leaves.length > 0 && <div className="px-3 pt-2 text-[10px] text-slate-600">+ {h.root.leaves.length} top-level nodes</div>}
          {!h && <div className="px-3 text-xs text-slate-500">No model open.</div>}
          {h && h.root.groups.length === 0 && h.groups.size === 1 && h.groups.has(ROOT) && <div className="px-3 text-[11px] text-slate-500">This model has no name scopes: it is shown flat.</div>}
        </div>
      )}
    </div>
  );
}
