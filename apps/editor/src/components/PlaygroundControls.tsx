import { useState } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { GREEDY, type SamplingState } from '../store/playground.ts';

interface Knob {
  key: keyof SamplingState;
  label: string;
  min: number;
  max: number;
  step: number;
  doc: string;
}

const KNOBS: Knob[] = [
  { key: 'temperature', label: 'Temperature', min: 0, max: 2, step: 0.05, doc: '0 is greedy: always the most likely token' },
  { key: 'topK', label: 'Top-k', min: 0, max: 200, step: 1, doc: 'keep the k most likely tokens (0: off)' },
  { key: 'topP', label: 'Top-p', min: 0.05, max: 1, step: 0.05, doc: 'keep the most likely tokens up to this probability mass (1: off)' },
  { key: 'minP', label: 'Min-p', min: 0, max: 0.5, step: 0.01, doc: 'drop tokens less likely than min-p × the top one (0: off)' },
  { key: 'repetitionPenalty', label: 'Repetition penalty', min: 1, max: 2, step: 0.05, doc: 'make tokens already in the context less likely (1: off)' },
];

/** The left panel on the Playground tab: prompt, sampling, limits, stops. */
export function PlaygroundControls() {
  const p = useEditor((s) => s.playground);
  const generation = useEditor((s) => s.assets.generation);
  const actions = useActions();
  const input = 'w-full rounded-md border border-white/10 bg-black/40 px-2 py-1 text-xs text-slate-100 outline-none focus:border-indigo-400';
  const greedy = p.sampling.temperature === 0;
  // the raw text is kept while typing ("a," must not lose its comma); the parsed list goes to the store
  const [stops, setStops] = useState(() => p.stop.map((x) => JSON.stringify(x).slice(1, -1)).join(', '));
  return (
    <div className="flex h-full flex-col overflow-y-auto" data-testid="pg-controls">
      <div className="space-y-3 p-3">
        <label className="block">
          <span className="mb-1 block text-[10px] font-semibold uppercase tracking-wider text-slate-500">Prompt</span>
          <textarea className={`${input} min-h-[96px] resize-y font-mono leading-relaxed`} value={p.prompt} onChange={(e) => actions.setPlayground({ prompt: e.target.value })} data-testid="pg-prompt" placeholder="Type a prompt…" />
        </label>
        <div className="grid grid-cols-2 gap-2">
          <label className="block">
            <span className="mb-1 block text-[10px] text-slate-400">Max tokens</span>
            <input type="number" className={`${input} font-mono`} min={1} max={4096} value={p.maxTokens} onChange={(e) => e.target.value && actions.setPlayground({ maxTokens: Math.max(1, Math.floor(Number(e.target.value))) })} data-testid="pg-max-tokens" />
          </label>
          <label className="block">
            <span className="mb-1 block text-[10px] text-slate-400">Seed</span>
            <input type="number" className={`${input} font-mono`} value={p.sampling.seed} onChange={(e) => e.target.value && actions.setSampling({ seed: Math.floor(Number(e.target.value)) })} data-testid="pg-seed" />
          </label>
        </div>
      </div>
      <div className="border-t border-white/5 p-3">
        <div className="mb-2 flex items-center justify-between">
          <span className="text-[10px] font-semibold uppercase tracking-wider text-slate-500">Sampling</span>
          <span className="flex gap-1">
            <button type="button" className={`rounded px-1.5 py-0.5 text-[10px] ${greedy ? 'bg-indigo-500/25 text-indigo-100' : 'text-slate-400 hover:bg-white/10'}`} onClick={() => actions.setSampling({ ...GREEDY, seed: p.sampling.seed })} data-testid="pg-greedy">Greedy</button>
            <button type="button" className={`rounded px-1.5 py-0.5 text-[10px] ${!greedy ? 'bg-indigo-500/25 text-indigo-100' : 'text-slate-400 hover:bg-white/10'}`} title={generation ? 'from generation_config.json' : 'temperature 0.8, top-k 40'}
              onClick={() => actions.setSampling({ temperature: generation?.temperature ?? 0.8, topK: generation?.top_k ?? 40, topP: generation?.top_p ?? 1, minP: 0, repetitionPenalty: 1.1 })}>Sample</button>
          </span>
        </div>
        <div className="space-y-2.5">
          {KNOBS.map((k) => (
            <label key={k.key} className="block" title={k.doc}>
              <span className="flex items-center justify-between text-[11px]">
                <span className="text-slate-300">{k.label}</span>
                <input type="number" className="w-16 rounded border border-white/10 bg-black/40 px-1 text-right font-mono text-[11px] text-slate-100 outline-none focus:border-indigo-400" min={k.min} max={k.max} step={k.step} value={p.sampling[k.key]}
                  onChange={(e) => e.target.value !== '' && actions.setSampling({ [k.key]: Number(e.target.value) })} data-testid={`pg-${k.key}`} />
              </span>
              <input type="range" className="mt-1 w-full accent-indigo-500" min={k.min} max={k.max} step={k.step} value={p.sampling[k.key]} onChange={(e) => actions.setSampling({ [k.key]: Number(e.target.value) })} />
            </label>
          ))}
        </div>
      </div>
      <div className="border-t border-white/5 p-3">
        <label className="block">
          <span className="mb-1 block text-[10px] font-semibold uppercase tracking-wider text-slate-500">Stop strings</span>
          <input className={`${input} font-mono`} value={stops} placeholder='e.g. \n, "And"' data-testid="pg-stop-strings"
            onChange={(e) => { setStops(e.target.value); actions.setPlayground({ stop: parseStops(e.target.value) }); }} />
          <span className="mt-1 block text-[10px] leading-snug text-slate-500">comma separated; \n for a newline. Generation also stops at the tokenizer's end-of-sequence token.</span>
        </label>
      </div>
    </div>
  );
}

/** "\n, And" → ["\n", "And"] (escapes as in JSON strings). */
export function parseStops(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    try { return JSON.parse(`"${s.replace(/"/g, '\\"')}"`) as string; } catch { return s; }
  });
}
