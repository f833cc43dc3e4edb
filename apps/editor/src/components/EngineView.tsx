import { useRef } from 'react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { deviceLabel } from '../store/playground.ts';
import { fmtBytes, fmtMs } from '../format.ts';
import { opColor } from '../render/colors.ts';
import type { DesktopState } from '../desktop/desktop-store.ts';
import { useDesktop } from '../desktop/useDesktop.ts';
import { Section } from './PropertiesPanel.tsx';
import { engineContextLimit, tacticCandidateText, tacticValue, type EngineManifest } from '@fuselab/gpu-runtime';

/** Saves bytes as a download (the engine file). */
export function downloadBytes(name: string, bytes: Uint8Array): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const selectDesktop = (s: DesktopState) => s.actions;

/** "Save engine": the desktop shell's save dialog (atomic write) when there is one, else a download. */
export function useSaveEngine(): (() => void) | null {
  const actions = useActions();
  const desktop = useDesktop(selectDesktop);
  const name = useEditor((s) => s.engine.name);
  const ready = useEditor((s) => s.engine.state === 'ready');
  if (!ready) return null;
  return () => {
    if (desktop) { void desktop.saveEngine(); return; }
    const b = actions.engineBytes();
    if (b) downloadBytes(name, b);
  };
}

function Row({ k, v, mono }: { k: string; v: React.ReactNode; mono?: boolean }) {
  return (
    <>
      <dt className="text-slate-500">{k}</dt>
      <dd className={`min-w-0 break-words text-slate-200 ${mono ? 'font-mono text-[10px]' : ''}`}>{v}</dd>
    </>
  );
}

/** The context limit generation uses (engineContextLimit), and where it comes from. */
function contextLabel(m: EngineManifest): string {
  const { positions, from } = engineContextLimit(m);
  if (!positions) return 'unbounded (no profile, trained positions unknown)';
  return `${positions} positions (${from === 'profile' ? 'optimization profile max' : 'trained positions'})`;
}

/** The engine's manifest: what it was built for, by what, what it holds, and how it was checked. */
export function EngineManifestView() {
  const engine = useEditor((s) => s.engine);
  const m = engine.manifest;
  if (!m) return null;
  const fused = Object.entries(m.graph.fused).sort((a, b) => b[1] - a[1]);
  return (
    <div data-testid="engine-manifest">
      <Section title="Engine">
        <div className="flex items-center gap-2">
          <span className="rounded bg-violet-500/20 px-1.5 py-0.5 text-[10px] font-semibold text-violet-200">{engine.origin === 'file' ? 'opened' : 'built'}</span>
          <span className="truncate font-mono text-xs text-slate-100" title={engine.name}>{engine.name}</span>
        </div>
        <dl className="mt-2 grid grid-cols-[88px_1fr] gap-x-2 gap-y-1 text-[11px]">
          <Row k="size" v={fmtBytes(engine.byteLength)} />
          <Row k="device" v={deviceLabel(m.device)} />
          <Row k="host" v={m.device.host} mono />
          <Row k="built" v={`${m.builder.name} ${m.builder.version} · ${new Date(m.createdAt).toLocaleString()}`} />
          <Row k="runtime" v={`onnxruntime-web ${m.runtime.onnxruntimeWeb} (${m.runtime.executionProvider})`} />
          <Row k="source" v={`${m.source.file} · ${m.source.nodes} nodes`} mono />
          <Row k="graph" v={`${m.graph.nodes} nodes · opsets ${Object.entries(m.graph.opsets).map(([d, v]) => `${d || 'ai.onnx'} ${v}`).join(', ')}`} />
          <Row k="precision" v={m.precision.method} />
          <Row k="KV cache" v={`${m.io.kv.length / 2} layers · ${m.io.kvHeads} heads × ${m.io.headDim} · ${tacticValue(m, 'kv', 'gpu') === 'static' ? 'static (one max-length buffer per layer, updated in place)' : m.io.kvLayout}`} />
          <Row k="context" v={contextLabel(m)} />
          {m.requires.features.length > 0 && <Row k="requires" v={m.requires.features.join(', ')} />}
          {engine.ms && <Row k="build time" v={`${fmtMs(engine.ms.validate + engine.ms.build)}${engine.ms.validate >= 1 ? ` (validation ${fmtMs(engine.ms.validate)})` : ' (validation reused from the workflow)'}`} />}
        </dl>
      </Section>
      <Section title="Fused ops">
        {fused.length ? (
          <div className="flex flex-wrap gap-1" data-testid="engine-fused">
            {fused.map(([op, n]) => (
              <span key={op} className="flex items-center gap-1 rounded bg-white/5 px-1.5 py-0.5 text-[10px] text-slate-200"><span className="h-1.5 w-1.5 rounded-full" style={{ background: opColor(op, 'com.microsoft') }} />{op} ×{n}</span>
            ))}
          </div>
        ) : <div className="text-[11px] text-slate-500">none</div>}
      </Section>
      <Section title="Tactics">
        {m.tactics.length ? m.tactics.map((t) => (
          <div key={t.name} className="mb-1 text-[11px]">
            <span className="text-slate-300">{t.name}</span>: <span className="font-semibold text-emerald-300">{t.chosen}</span>
            <span className="text-slate-500"> ({t.candidates.map((c) => tacticCandidateText(t, c)).join(', ')})</span>
          </div>
        )) : <div className="text-[11px] leading-snug text-slate-500">defaults (not tuned: <code className="text-slate-400">fuselab build --tune</code> times the candidates on the device)</div>}
      </Section>
      <Section title="Validation">
        {m.validation ? (
          <div className={`text-[11px] ${m.validation.passed ? 'text-emerald-300' : 'text-rose-300'}`} data-testid="engine-validation">
            {m.validation.passed ? '✓ matches the original' : '✗ differs from the original'} ({m.validation.tolerance}); max |err| {Math.max(0, ...m.validation.outputs.map((o) => o.maxAbsErr)).toExponential(1)} over {m.validation.outputs.length} outputs
          </div>
        ) : <div className="text-[11px] text-slate-500">not validated</div>}
      </Section>
      <Section title="Sections">
        <table className="w-full text-[10px]"><tbody>
          {m.sections.map((s) => (
            <tr key={s.name}><td className="py-0.5 pr-2 font-mono text-slate-300">{s.name}</td><td className="text-right font-mono text-slate-400">{fmtBytes(s.length)}</td><td className="pl-2 font-mono text-slate-600" title={s.sha256}>{s.sha256.slice(0, 10)}…</td></tr>
          ))}
        </tbody></table>
      </Section>
    </div>
  );
}

/** The right panel on the Playground tab: runtime device, model files, the engine. */
export function PlaygroundProperties() {
  const runtime = useEditor((s) => s.runtime);
  const assets = useEditor((s) => s.assets);
  const engine = useEditor((s) => s.engine);
  const hasOptimized = useEditor((s) => !!s.optimized);
  const actions = useActions();
  const save = useSaveEngine();
  const files = useRef<HTMLInputElement>(null);
  const engineFile = useRef<HTMLInputElement>(null);
  const h = runtime.hello;
  const btn = 'rounded-md border border-white/10 px-2.5 py-1 text-[11px] text-slate-200 hover:bg-white/10 disabled:opacity-40';
  return (
    <>
      <Section title="Runtime">
        {h ? (
          <div className="space-y-1 text-[11px]" data-testid="runtime-device">
            <div className="text-slate-100">{h.device ? deviceLabel(h.device) : 'wasm (CPU) only'}</div>
            <div className="font-mono text-[10px] text-slate-500">{h.host}</div>
            {h.device && <div className="text-[10px] text-slate-500">{h.device.features.length} features · max binding {fmtBytes(h.device.limits.maxStorageBufferBindingSize)}</div>}
            {h.webgpuUnavailable && <div className="rounded bg-amber-500/10 p-2 text-amber-200">No WebGPU: {h.webgpuUnavailable}</div>}
          </div>
        ) : runtime.error ? <div className="text-[11px] text-rose-300">{runtime.error}</div>
          : <div className="text-[11px] text-slate-500">{runtime.state === 'starting' ? 'starting the runtime worker…' : 'starts with the first run or build'}</div>}
      </Section>
      <Section title="Model files">
        <dl className="grid grid-cols-[96px_1fr] gap-x-2 gap-y-1 text-[11px]">
          <Row k="tokenizer" v={assets.tokenizer ? fmtBytes(assets.tokenizer.byteLength) : <span className="text-amber-300">missing</span>} />
          <Row k="generation" v={assets.generation ? `eos ${JSON.stringify(assets.generation.eos_token_id ?? '—')}` : '—'} />
          <Row k="context" v={assets.maxPositions ? `${assets.maxPositions} positions` : '—'} />
        </dl>
        {assets.from && <div className="mt-1 truncate font-mono text-[10px] text-slate-600" title={assets.from}>{assets.from}</div>}
        <button type="button" className={`${btn} mt-2`} onClick={() => files.current?.click()}>Pick tokenizer files…</button>
        <input ref={files} type="file" multiple accept=".json" className="hidden" data-testid="assets-input" onChange={(e) => { const f = [...(e.target.files ?? [])]; if (f.length) void actions.pickAssets(f); e.target.value = ''; }} />
      </Section>
      <Section title="Engine file">
        <div className="flex flex-wrap gap-1.5">
          <button type="button" className={btn} disabled={!hasOptimized || engine.state === 'building'} onClick={() => void actions.buildEngine()} data-testid="pg-build-engine">{engine.state === 'building' ? `${engine.stage ?? 'building'}…` : 'Build engine'}</button>
          <button type="button" className={btn} onClick={() => engineFile.current?.click()}>Open .engine…</button>
          <button type="button" className={btn} disabled={!save} onClick={() => save?.()} data-testid="pg-save-engine">Save engine</button>
        </div>
        {engine.state === 'none' && <div className="mt-2 text-[11px] leading-snug text-slate-500">{hasOptimized ? 'The optimized side runs the workflow\'s result as ONNX until you build an engine.' : 'Run the workflow, then build an engine — or open one.'}</div>}
        {engine.error && <div className="mt-2 text-[11px] text-rose-300">{engine.error}</div>}
        <input ref={engineFile} type="file" accept=".engine" className="hidden" onChange={(e) => { const f = e.target.files?.[0]; if (f) void actions.openEngine(f); e.target.value = ''; }} />
      </Section>
      <EngineManifestView />
    </>
  );
}
