import { useMemo, useState } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { chainEnd, nextId } from '../workflow/document.ts';
import { CATEGORY_COLORS, KINDS, type KindCategory } from '../workflow/kinds.ts';
import { KIND_MIME } from './WorkflowCanvas.tsx';

const ORDER: KindCategory[] = ['cleanup', 'shape', 'fusion', 'precision', 'analysis', 'runtime', 'export'];

/** The node palette: search, click to append after the chain, or drag onto the canvas. */
export function Palette() {
  const [q, setQ] = useState('');
  const actions = useActions();
  const doc = useEditor((s) => s.flow.history.present);
  const groups = useMemo(() => {
    const t = q.trim().toLowerCase();
    const list = KINDS.filter((k) => k.kind !== 'source' && (!t || k.title.toLowerCase().includes(t) || k.description.toLowerCase().includes(t) || k.category.includes(t)));
    return ORDER.map((c) => [c, list.filter((k) => k.category === c)] as const).filter(([, l]) => l.length);
  }, [q]);
  const add = (kind: string) => {
    const end = doc.nodes.find((n) => n.id === chainEnd(doc));
    const position = end ? { x: end.position.x + 40, y: end.position.y + 230 } : { x: 0, y: 0 };
    const id = nextId(doc);
    actions.edit({ type: 'add-node', node: { id, kind, position, params: {}, enabled: true }, ...(kind.startsWith('pass:') && end ? { connectFrom: end.id } : {}) });
    actions.selectFlow([id]);
  };
  return (
    <div className="flex h-full flex-col" data-testid="palette">
      <div className="p-3">
        <input value={q} onChange={(e) => setQ(e.target.value)} placeholder="Search nodes…" data-testid="palette-search"
          className="w-full rounded-md border border-white/10 bg-black/30 px-2.5 py-1.5 text-xs text-slate-100 outline-none placeholder:text-slate-500 focus:border-indigo-400" />
      </div>
      <div className="flex-1 overflow-y-auto px-2 pb-3">
        {groups.map(([cat, kinds]) => (
          <div key={cat} className="mb-2">
            <div className="flex items-center gap-2 px-2 py-1 text-[10px] font-semibold uppercase tracking-wider text-slate-500">
              <span className="h-1.5 w-1.5 rounded-full" style={{ background: CATEGORY_COLORS[cat] }} />{cat}
            </div>
            {kinds.map((k) => (
              <button key={k.kind} type="button" draggable onDragStart={(e) => { e.dataTransfer.setData(KIND_MIME, k.kind); e.dataTransfer.effectAllowed = 'copy'; }}
                onClick={() => add(k.kind)} title={k.description} data-testid={`palette-${k.pass ?? k.kind}`}
                className="group flex w-full flex-col rounded-md px-2 py-1.5 text-left hover:bg-white/5">
                <span className={`text-xs font-medium ${k.available ? 'text-slate-200' : 'text-slate-500'}`}>{k.title}{!k.available && <span className="ml-1.5 rounded bg-violet-500/15 px-1 text-[9px] text-violet-300">soon</span>}</span>
                <span className="line-clamp-2 text-[10px] leading-snug text-slate-500 group-hover:text-slate-400">{k.description}</span>
              </button>
            ))}
          </div>
        ))}
      </div>
    </div>
  );
}
