import { memo } from 'react';
import { Handle, Position, type NodeProps, type Node } from '@xyflow/react';
import { CATEGORY_COLORS, KIND_BY_ID, type PortType } from '../workflow/kinds.ts';
import type { NodeRunStatus } from '../store/editor-store.ts';
import { fmtMs } from '../format.ts';
import { ParamField } from './ParamField.tsx';

export interface FlowCardData extends Record<string, unknown> {
  kind: string;
  params: Record<string, unknown>;
  enabled: boolean;
  status?: NodeRunStatus;
  subtitle?: string;
  onParam: (key: string, value: unknown) => void;
  onRun: () => void;
  /** Extra lines and buttons under the status (the built engine: size, sections, validation, Save). */
  detail?: { lines: Array<{ text: string; tone?: 'ok' | 'bad' | 'dim' }>; buttons: Array<{ label: string; onClick: () => void; testId: string }> };
}

export type FlowCardNode = Node<FlowCardData, 'card'>;

export const PORT_COLORS: Record<PortType, string> = { model: '#60a5fa', engine: '#a78bfa', report: '#fbbf24', profiles: '#2dd4bf' };

const STATE_STYLE: Record<NodeRunStatus['state'], string> = {
  idle: 'text-slate-500',
  queued: 'text-slate-400',
  running: 'text-sky-300',
  done: 'text-emerald-300',
  error: 'text-rose-300',
  skipped: 'text-slate-500',
  unavailable: 'text-violet-300',
};

/** One data-driven card for every node kind: header, ports, inline parameters, run status. */
export const FlowNodeCard = memo(function FlowNodeCard({ id, data, selected }: NodeProps<FlowCardNode>) {
  const spec = KIND_BY_ID.get(data.kind);
  if (!spec) return null;
  const color = CATEGORY_COLORS[spec.category];
  const st = data.status;
  const params = Object.entries(spec.params);
  return (
    <div data-testid={`flow-node-${spec.pass ?? spec.kind}`} data-node-id={id} data-state={st?.state ?? 'idle'}
      className={`w-[236px] rounded-xl border bg-[#141a23]/95 shadow-xl shadow-black/40 transition-[border-color,opacity] ${selected ? 'border-indigo-400' : st?.state === 'running' ? 'border-sky-400/70' : st?.state === 'error' ? 'border-rose-500/70' : 'border-white/10'} ${!data.enabled || !spec.available ? 'opacity-60' : ''}`}>
      <div className="flex items-center gap-2 rounded-t-xl border-b border-white/5 px-3 py-2" style={{ background: `linear-gradient(90deg, ${color}26, transparent)` }}>
        <span className="h-2 w-2 shrink-0 rounded-full" style={{ background: color }} />
        <span className="flex-1 truncate text-[12px] font-semibold text-slate-100">{spec.title}</span>
        {st?.state === 'running' && <span className="h-3 w-3 animate-spin rounded-full border-2 border-sky-300 border-t-transparent" />}
        {spec.available && (
          <button type="button" title="Run to here" className="nodrag rounded px-1 text-[11px] text-slate-400 hover:bg-white/10 hover:text-emerald-300" onClick={data.onRun}>▶</button>
        )}
      </div>
      <div className="space-y-1.5 px-3 py-2">
        {data.subtitle && <div className="truncate text-[11px] text-sky-200/90">{data.subtitle}</div>}
        {!spec.available && <div className="text-[10px] leading-snug text-violet-300/80">{spec.note}</div>}
        {params.map(([k, p]) => <ParamField key={k} name={k} spec={p} value={data.params[k] ?? p.default} onChange={(v) => data.onParam(k, v)} compact />)}
        {!data.enabled && <div className="text-[10px] text-slate-500">disabled</div>}
        <div className="flex items-center justify-between pt-0.5 text-[10px]">
          <span className={`truncate ${STATE_STYLE[st?.state ?? 'idle']}`} data-testid="flow-node-stat" title={st?.error ?? st?.stat}>
            {st?.error ? st.error : st?.stat ?? (st?.state && st.state !== 'idle' ? st.state : spec.category)}
          </span>
          {st?.ms !== undefined && <span className="shrink-0 pl-2 font-mono text-slate-500">{fmtMs(st.ms)}</span>}
        </div>
        {data.detail && (
          <div className="space-y-0.5 rounded-md bg-black/30 px-2 py-1.5" data-testid="flow-node-detail">
            {data.detail.lines.map((l) => <div key={l.text} className={`truncate font-mono text-[10px] ${l.tone === 'ok' ? 'text-emerald-300' : l.tone === 'bad' ? 'text-rose-300' : 'text-slate-400'}`} title={l.text}>{l.text}</div>)}
            {data.detail.buttons.length > 0 && (
              <div className="flex gap-1 pt-1">
                {data.detail.buttons.map((b) => <button key={b.label} type="button" className="nodrag rounded bg-violet-500/20 px-2 py-0.5 text-[10px] font-medium text-violet-100 hover:bg-violet-500/35" onClick={b.onClick} data-testid={b.testId}>{b.label}</button>)}
              </div>
            )}
          </div>
        )}
        {st?.nodesBefore !== undefined && st.nodesAfter !== undefined && st.nodesBefore !== st.nodesAfter && (
          <div className="font-mono text-[10px] text-slate-500">{st.nodesBefore} → {st.nodesAfter} nodes</div>
        )}
      </div>
      {spec.inputs.map((p, i) => (
        <Handle key={p.id} id={p.id} type="target" position={Position.Left} title={`${p.label} (${p.type})`}
          style={{ top: 18 + i * 16, background: PORT_COLORS[p.type], width: 10, height: 10, border: '2px solid #0b0f14' }} />
      ))}
      {spec.outputs.map((p, i) => (
        <Handle key={p.id} id={p.id} type="source" position={Position.Right} title={`${p.label} (${p.type})`}
          style={{ top: 18 + i * 16, background: PORT_COLORS[p.type], width: 10, height: 10, border: '2px solid #0b0f14' }} />
      ))}
    </div>
  );
});
