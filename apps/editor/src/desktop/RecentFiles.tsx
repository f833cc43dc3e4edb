import type { DesktopState } from './desktop-store.ts';
import { useDesktop } from './useDesktop.ts';

const selectRecent = (s: DesktopState) => s.recent;
const selectActions = (s: DesktopState) => s.actions;

/** The desktop shell's recent files, for the Open menu (nothing in the browser). */
export function RecentFiles() {
  const recent = useDesktop(selectRecent);
  const actions = useDesktop(selectActions);
  if (!recent || !actions) return null;
  return (
    <div data-testid="recent-files">
      <div className="px-3 pb-1 pt-2 text-[10px] font-semibold uppercase tracking-wider text-slate-500">Recent files</div>
      {recent.length === 0 && <div className="px-3 py-1.5 text-xs text-slate-500">None yet</div>}
      {recent.map((r) => (
        <button key={r.id} type="button" disabled={!r.exists} data-testid="recent-file" title={r.exists ? `${r.folder}/${r.name}` : `${r.folder}/${r.name} (no longer there)`}
          className="flex w-full items-baseline gap-2 rounded px-3 py-1.5 text-left text-xs text-slate-300 hover:bg-white/10 disabled:opacity-40 disabled:hover:bg-transparent"
          onClick={() => void actions.openRecent(r.id)}>
          <span className="shrink-0 text-slate-200">{r.name}</span>
          <span className="min-w-0 truncate text-[10px] text-slate-500">{r.folder}</span>
          {!r.exists && <span className="shrink-0 text-[10px] text-rose-300">missing</span>}
        </button>
      ))}
    </div>
  );
}
