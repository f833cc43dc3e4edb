/**
 * `fuselab run X.engine --prompt "..."`: loads an engine (checking format, checksums, versions and
 * device), streams the generated text to stdout as it is sampled, and prints TTFT, tok/s and
 * inter-token latency to stderr (or everything as JSON with --json). Ctrl-C stops cleanly.
 */
import { parseArgs } from 'node:util';
import { FuselabError } from '@fuselab/graph-core';
import { deviceName, engineGenerator, type GenerateEvent, type GenerateStats, type LayerTimings, type SamplingOptions } from '@fuselab/gpu-runtime';
import { engineRuntimeChoice, loadEngineFile, nodeRuntime, type BackendChoice } from './runtime-node.ts';

export const RUN_USAGE = `Usage: fuselab run X.engine --prompt TEXT [options]

Options:
  --prompt TEXT              the prompt (encoded with the engine's tokenizer)
  --prompt-ids 1,2,3         token ids instead of text (engines without a tokenizer)
  --max-tokens N             tokens to generate (default 64)
  --temperature T            0 = greedy (default); > 0 samples
  --top-k K  --top-p P  --min-p P  --repetition-penalty R  --seed S
  --stop TEXT                stop when the text contains TEXT (repeatable)
  --ignore-eos               keep generating after the end-of-text token
  --device auto|webgpu|wasm  default: the engine's own backend
  --toggle T                 Dawn toggle for Node WebGPU (repeatable; default: the engine's own)
  --allow-other-device       run an engine built/tuned for another device (with a warning)
  --allow-other-runtime      run an engine built for another onnxruntime-web version
  --layer-timings            profile the run and print the slowest nodes, mapped to the source graph
  --graph-capture on|off     override the engine's graph-capture tactic (static-KV engines on WebGPU)
  --json                     print one JSON object (text, tokens, stats, layer timings)
`;

export interface SamplingFlags {
  temperature?: string;
  'top-k'?: string;
  'top-p'?: string;
  'min-p'?: string;
  'repetition-penalty'?: string;
  seed?: string;
}

export const SAMPLING_OPTIONS = {
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
} as const;

export function samplingFromFlags(v: SamplingFlags): SamplingOptions {
  const num = (k: keyof SamplingFlags): number | undefined => {
    const s = v[k];
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n)) throw new FuselabError('USAGE', `--${k} must be a number (got '${s}')`);
    return n;
  };
  const o: SamplingOptions = {};
  const set = <K extends keyof SamplingOptions>(key: K, flag: keyof SamplingFlags) => { const n = num(flag); if (n !== undefined) o[key] = n as SamplingOptions[K]; };
  set('temperature', 'temperature');
  set('topK', 'top-k');
  set('topP', 'top-p');
  set('minP', 'min-p');
  set('repetitionPenalty', 'repetition-penalty');
  set('seed', 'seed');
  return o;
}

/** `--graph-capture on|off` as generator options (nothing when the flag is absent: the engine's tactic). */
export function graphCaptureOverride(flag: string | undefined): { graphCapture?: boolean } {
  if (flag === undefined) return {};
  if (flag !== 'on' && flag !== 'off') throw new FuselabError('USAGE', `--graph-capture must be on or off (got '${flag}')`);
  return { graphCapture: flag === 'on' };
}

export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      prompt: { type: 'string' },
      'prompt-ids': { type: 'string' },
      'max-tokens': { type: 'string', default: '64' },
      ...SAMPLING_OPTIONS,
      stop: { type: 'string', multiple: true },
      'ignore-eos': { type: 'boolean' },
      device: { type: 'string' },
      toggle: { type: 'string', multiple: true },
      'allow-other-device': { type: 'boolean' },
      'allow-other-runtime': { type: 'boolean' },
      'layer-timings': { type: 'boolean' },
      'graph-capture': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || (values.prompt === undefined && values['prompt-ids'] === undefined)) {
    process.stderr.write(`fuselab run: need X.engine and --prompt (or --prompt-ids)\n\n${RUN_USAGE}`);
    return 2;
  }
  const maxTokens = Number(values['max-tokens']);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new FuselabError('USAGE', `--max-tokens must be a positive integer (got '${values['max-tokens']}')`);
  const sampling = samplingFromFlags(values);
  const path = positionals[0];
  const device = values.device as BackendChoice | undefined;
  if (device && !['auto', 'webgpu', 'wasm'].includes(device)) throw new FuselabError('USAGE', `--device must be auto, webgpu or wasm (got '${device}')`);
  // the engine's own backend and Dawn toggles unless told otherwise (from its manifest alone)
  const choice = engineRuntimeChoice(path, device, values.toggle);
  const rt = await nodeRuntime(choice.device, choice.toggles);
  const engine = await loadEngineFile(path, rt, { allowOtherDevice: values['allow-other-device'], allowOtherRuntime: values['allow-other-runtime'] });
  for (const w of engine.warnings) process.stderr.write(`warning: ${w}\n`);
  if (rt.fallbackReason) process.stderr.write(`note: running on wasm (WebGPU unavailable: ${rt.fallbackReason})\n`);
  const gen = await engineGenerator(engine, rt.ort, rt.backend, { layerTimings: !!values['layer-timings'], ...graphCaptureOverride(values['graph-capture']) });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let layers: LayerTimings | null = null;
  let done: Extract<GenerateEvent, { type: 'done' }> | null = null;
  try {
    const promptIds = values['prompt-ids'] !== undefined ? parseIds(values['prompt-ids']) : undefined;
    if (!values.json) process.stdout.write(values.prompt ?? '');
    for await (const e of gen.generate({ prompt: values.prompt, promptIds, maxTokens, sampling, stop: values.stop, ignoreEos: values['ignore-eos'], signal: abort.signal })) {
      if (e.type === 'token' && !values.json) process.stdout.write(engine.tokenizer ? e.text : `${e.index ? ',' : ' '}${e.id}`);
      if (e.type === 'layers') layers = e.timings;
      if (e.type === 'done') done = e;
    }
  } finally {
    process.off('SIGINT', onSigint);
    await gen.release();
  }
  if (!done) throw new Error('generation ended without a result');
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ engine: path, device: deviceName(rt.device), reason: done.reason, text: done.text, tokens: done.tokens, stats: done.stats, layers, warnings: engine.warnings }, null, 2)}\n`);
  } else {
    process.stdout.write('\n');
    process.stderr.write(`${formatStats(done.stats, done.reason, deviceName(rt.device))}\n`);
    if (layers) process.stderr.write(`${formatLayers(layers)}\n`);
  }
  return 0;
}

function parseIds(s: string): number[] {
  const ids = s.split(',').map((x) => Number(x.trim()));
  if (!ids.length || ids.some((x) => !Number.isInteger(x) || x < 0)) throw new FuselabError('USAGE', `--prompt-ids must be comma-separated token ids (got '${s}')`);
  return ids;
}

export function formatStats(s: GenerateStats, reason: string, device: string): string {
  const mem = s.gpuMemory ? `, GPU memory ${(s.gpuMemory.peakBytes / 2 ** 20).toFixed(1)} MiB peak` : '';
  return `— ${s.generatedTokens} tokens (${reason}) on ${device}: TTFT ${s.ttftMs.toFixed(1)} ms (${s.promptTokens}-token prompt, ${s.prefillTokPerSec.toFixed(0)} tok/s), ` +
    `decode ${s.decodeTokPerSec.toFixed(1)} tok/s, inter-token p50 ${s.interTokenMs.p50.toFixed(2)} ms p95 ${s.interTokenMs.p95.toFixed(2)} ms${mem}`;
}

export function formatLayers(t: LayerTimings, top = 12): string {
  const lines = [`per-node time per decode step (${t.nodes[0]?.source === 'gpu' ? 'GPU timestamps' : 'kernel time'}; ${t.decodeMs.toFixed(3)} ms total):`];
  for (const n of t.nodes.slice(0, top)) {
    const src = n.sources.length > 1 || n.sources[0] !== n.node ? `  ← ${n.sources.length} source nodes (${n.sources.slice(0, 3).join(', ')}${n.sources.length > 3 ? ', …' : ''})` : '';
    lines.push(`  ${n.decodeMs.toFixed(3).padStart(8)} ms  ${n.opType.padEnd(26)} ${n.node}${src}`);
  }
  return lines.join('\n');
}
