import { useRef, useState } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import type { EditorState } from '../store/editor-store.ts';
import { quantizeStep } from '../workflow/keep-list.ts';

const selectSensitivity = (s: EditorState) => s.sensitivity;
const selectKind = (s: EditorState) => s.overlay.kind;
const selectHasTokenizer = (s: EditorState) => !!s.assets.tokenizer;
const selectQuantizeStep = (s: EditorState) => { try { return quantizeStep(s.flow.history.present)?.id ?? null; } catch { return null; } };

/** Measure → keep list → quantize: the N most sensitive layers stay float, the rest go to INT8 in the workflow. */
function KeepListApply({ layers }: { layers: number }) {
  const actions = useActions();
  const target = useEditor(selectQuantizeStep);
  const [keep, setKeep] = useState(() => Math.min(3, layers));
  return (
    <div className="mt-2 rounded border border-pink-400/20 bg-pink-500/5 px-2 py-1.5" data-testid="keep-list">
      <label className="flex items-center gap-2">
        <span>Keep the</span>
        <input type="number" min={0} max={layers} value={keep} onChange={(e) => e.target.value !== '' && setKeep(Math.max(0, Math.min(layers, Number(e.target.value))))}
          className="w-12 rounded border border-white/10 bg-black/40 px-1 py-0.5 font-mono text-slate-100 outline-none focus:border-pink-300" data-testid="keep-count" />
        <span>most sensitive in float</span>
      </label>
      <div className="mt-1 flex items-center gap-2">
        <span className="flex-1 text-[10px] text-slate-500">{target ? `updates quantize-qdq (${target}) in the workflow` : 'adds quantize-qdq at the end of the workflow'}; {layers - keep} layers to INT8</span>
        <button type="button" className="rounded bg-pink-500/25 px-2 py-0.5 font-medium text-pink-100 hover:bg-pink-500/40" data-testid="sensitivity-apply" onClick={() => actions.applyKeepList(keep)}>Apply</button>
      </div>
    </div>
  );
}

/**
 * The INT8 sensitivity overlay's panel: progress and cancel while the model worker measures, the
 * most sensitive layers, the calibration data used — and, for random data, a warning nobody can miss.
 */
export function SensitivityPanel() {
  const sens = useEditor(selectSensitivity);
  const kind = useEditor(selectKind);
  const hasTokenizer = useEditor(selectHasTokenizer);
  const actions = useActions();
  const file = useRef<HTMLInputElement>(null);
  if (kind !== 'sensitivity' && sens.state !== 'running') return null;
  const r = sens.result;
  const p = sens.progress;
  return (
    <div className="absolute right-3 top-14 w-80 rounded-lg border border-white/10 bg-slate-900/90 px-3 py-2 text-[11px] text-slate-300 shadow-lg backdrop-blur" data-testid="sensitivity-panel">
      <div className="flex items-center gap-2">
        <div className="font-medium text-slate-100">INT8 sensitivity per MatMul</div>
        {sens.state === 'running'
          ? <button type="button" className="ml-auto rounded px-1.5 py-0.5 text-rose-300 hover:bg-rose-500/10" data-testid="sensitivity-cancel" onClick={() => actions.cancelSensitivity()}>Cancel</button>
          : <button type="button" className="ml-auto rounded px-1.5 py-0.5 text-indigo-300 hover:bg-indigo-500/10" data-testid="sensitivity-rerun" onClick={() => void actions.runSensitivity()}>Run again</button>}
      </div>
      {sens.state === 'running' && p && (
        <div className="mt-1.5" data-testid="sensitivity-progress">
          <div className="truncate text-slate-400">{p.stage}{p.total ? ` (${p.done}/${p.total})` : ''}</div>
          <div className="mt-1 h-1 overflow-hidden rounded bg-white/10"><div className="h-full bg-pink-400 transition-all" style={{ width: `${Math.round((p.fraction ?? 0.05) * 100)}%` }} /></div>
        </div>
      )}
      {r?.warning && (
        <div className="mt-2 rounded border border-rose-500/60 bg-rose-950/70 px-2 py-1.5 font-semibold text-rose-200" role="alert" data-testid="sensitivity-warning">⚠ {r.warning}</div>
      )}
      {r && (
        <>
          <div className="mt-1.5 text-slate-400">1 − logits cosine with only that layer in INT8 (QDQ); blocks show the sum. {r.scores.length} layers in {(r.ms / 1000).toFixed(1)} s, calibrated on {r.source === 'text' ? `text (${sens.text?.name ?? 'picked'})` : 'random data'}, measured on {r.measured.passes ? `the workflow's result before quantize-qdq (${r.measured.nodes} nodes)` : 'the model as opened'}.</div>
          <ol className="mt-1 space-y-0.5 font-mono" data-testid="sensitivity-top">
            {r.scores.slice(0, 5).map((x) => (
              <li key={x.node} className="flex gap-2"><span className="truncate text-slate-300" title={x.node}>{x.node}</span><span className="ml-auto shrink-0 text-amber-200">{x.score.toExponential(2)}</span></li>
            ))}
          </ol>
          {sens.state === 'done' && <KeepListApply layers={r.scores.length} />}
        </>
      )}
      <div className="mt-2 flex items-center gap-2 border-t border-white/10 pt-1.5 text-slate-400">
        <span className="truncate">Calibration: {sens.text ? sens.text.name : 'random data'}</span>
        <button type="button" className="ml-auto rounded px-1.5 py-0.5 text-indigo-300 hover:bg-indigo-500/10 disabled:opacity-40" disabled={!hasTokenizer || sens.state === 'running'}
          title={hasTokenizer ? 'Tokenized with the model\'s tokenizer.json' : 'Needs the model\'s tokenizer.json (Playground → model files)'} onClick={() => file.current?.click()}>Text…</button>
        {sens.text && <button type="button" className="rounded px-1.5 py-0.5 hover:bg-white/5" disabled={sens.state === 'running'} onClick={() => actions.setCalibrationText(null)}>Random</button>}
        <input ref={file} type="file" accept=".txt,text/plain" className="hidden" onChange={(e) => {
          const f = e.target.files?.[0];
          e.target.value = '';
          if (!f) return;
          void f.text().then((text) => { actions.setCalibrationText({ name: f.name, text }); return actions.runSensitivity(); });
        }} />
      </div>
    </div>
  );
}
