import type { ParamSpec } from '@fuselab/optimizer';

/** One pass parameter as an input, data-driven from its spec (number, boolean, string, choices, list). */
export function ParamField({ name, spec, value, onChange, compact }: { name: string; spec: ParamSpec; value: unknown; onChange: (v: unknown) => void; compact?: boolean }) {
  const cls = 'nodrag w-full rounded border border-white/10 bg-black/40 px-1.5 py-0.5 font-mono text-[11px] text-slate-100 outline-none focus:border-indigo-400';
  const isDefault = JSON.stringify(value) === JSON.stringify(spec.default);
  let input: React.ReactNode;
  if (spec.type === 'boolean') {
    input = <input type="checkbox" className="nodrag h-3.5 w-3.5 accent-indigo-500" checked={value as boolean} onChange={(e) => onChange(e.target.checked)} />;
  } else if (spec.choices) {
    input = <select className={cls} value={String(value)} onChange={(e) => onChange(e.target.value)}>{spec.choices.map((c) => <option key={c}>{c}</option>)}</select>;
  } else if (spec.type === 'number') {
    input = <input type="number" className={cls} value={Number(value)} min={spec.min} max={spec.max} onChange={(e) => e.target.value !== '' && onChange(Number(e.target.value))} />;
  } else if (spec.type === 'string[]') {
    input = <input className={cls} value={(value as string[]).join(', ')} placeholder="comma separated" onChange={(e) => onChange(e.target.value.split(',').map((x) => x.trim()).filter(Boolean))} />;
  } else {
    input = <input className={cls} value={String(value)} placeholder={spec.default === '' ? 'auto' : undefined} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <label className={`grid items-center gap-2 ${compact ? 'grid-cols-[1fr_88px] text-[10px]' : 'grid-cols-[1fr_120px] text-[11px]'}`} title={spec.doc}>
      <span className={`truncate ${isDefault ? 'text-slate-400' : 'text-indigo-200'}`}>{name}</span>
      <span className="flex justify-end">{input}</span>
    </label>
  );
}
