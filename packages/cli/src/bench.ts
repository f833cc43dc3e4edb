/**
 * `fuselab bench A [B ...]`: like trtexec for decoders. For each plain ONNX decoder or engine, in one
 * process on one device: TTFT per prompt length, decode tok/s (and inter-token p50/p95) per context
 * length, GPU memory (measured from the WebGPU buffers onnxruntime allocates), file bytes. With two or
 * more models it prints the ratios against the first (the baseline), all measured in the same run.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openModelFile } from '@fuselab/node-io';
import { parseArgs } from 'node:util';
import { FuselabError, loadModel } from '@fuselab/graph-core';
import { graphCaptureOverride } from './run.ts';
import { decoderIo, deviceName, engineGenerator, Generator, prng, type GenerateStats } from '@fuselab/gpu-runtime';
import { engineRuntimeChoice, loadEngineFile, nodeRuntime, type BackendChoice, type NodeRuntime } from './runtime-node.ts';

export const BENCH_USAGE = `Usage: fuselab bench MODEL.onnx|X.engine [more ...] [options]

Options:
  --prompt-len 16,512        prompt lengths for TTFT (default 16,512)
  --decode N                 tokens generated per decode measurement (default 128)
  --context 16,1024          decode speed with the KV cache filled to these lengths (the prompt is
                             context − decode − 1 tokens; default 16,1024)
  --repeat N                 repetitions per point; the median is reported (default 3)
  --device auto|webgpu|wasm  default auto
  --toggle T                 Dawn toggle for Node WebGPU (repeatable; default: the first engine's)
  --allow-other-device       bench engines built for another device
  --graph-capture on|off     override the engines' graph-capture tactic (static-KV engines on WebGPU)
  --json                     print the JSON result only
`;

export interface BenchPoint {
  promptLen?: number;
  context?: number;
  ttftMs?: number;
  decodeTokPerSec?: number;
  interTokenP50Ms?: number;
  interTokenP95Ms?: number;
}

export interface BenchModelResult {
  path: string;
  kind: 'onnx' | 'engine';
  fileBytes: number;
  nodes: number;
  ttft: BenchPoint[];
  decode: BenchPoint[];
  gpuMemoryPeakBytes: number | null;
  error?: string;
}

export interface BenchResult {
  version: 1;
  date: string;
  device: string;
  backend: 'webgpu' | 'wasm';
  fallbackReason: string | null;
  settings: { promptLens: number[]; contexts: number[]; decodeTokens: number; repeat: number };
  models: BenchModelResult[];
  /** Against the first model: decode speedup per context, TTFT ratio per prompt length. */
  ratios: Array<{ path: string; decodeSpeedup: Record<string, number>; ttftRatio: Record<string, number> }>;
}

function list(s: string, flag: string): number[] {
  const v = s.split(',').map((x) => Number(x.trim()));
  if (!v.length || v.some((x) => !Number.isInteger(x) || x < 1)) throw new FuselabError('USAGE', `--${flag} must be comma-separated positive integers (got '${s}')`);
  return v;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      'prompt-len': { type: 'string', default: '16,512' },
      decode: { type: 'string', default: '128' },
      context: { type: 'string', default: '16,1024' },
      repeat: { type: 'string', default: '3' },
      device: { type: 'string', default: 'auto' },
      toggle: { type: 'string', multiple: true },
      'allow-other-device': { type: 'boolean' },
      'graph-capture': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  if (!positionals.length) {
    process.stderr.write(`fuselab bench: need at least one MODEL.onnx or X.engine\n\n${BENCH_USAGE}`);
    return 2;
  }
  const promptLens = list(values['prompt-len'] as string, 'prompt-len');
  const contexts = list(values.context as string, 'context');
  const decodeTokens = list(values.decode as string, 'decode')[0];
  const repeat = list(values.repeat as string, 'repeat')[0];
  const choice = values.device as BackendChoice;
  if (!['auto', 'webgpu', 'wasm'].includes(choice)) throw new FuselabError('USAGE', `--device must be auto, webgpu or wasm (got '${choice}')`);
  // one process, one WebGPU device: the toggles the first engine was built with, unless given
  const firstEngine = positionals.find((p) => p.endsWith('.engine'));
  const toggles = values.toggle ?? (firstEngine ? engineRuntimeChoice(firstEngine, choice, undefined).toggles : []);
  const rt = await nodeRuntime(choice, toggles);
  const log = (m: string) => { if (!values.json) process.stderr.write(`${m}\n`); };
  log(`device ${deviceName(rt.device)}${rt.fallbackReason ? ` (WebGPU unavailable: ${rt.fallbackReason})` : ''}`);
  const models: BenchModelResult[] = [];
  for (const path of positionals) {
    log(`\n${path}`);
    models.push(await benchOne(path, rt, { promptLens, contexts, decodeTokens, repeat, allowOtherDevice: !!values['allow-other-device'], graphCapture: graphCaptureOverride(values['graph-capture']) }, log));
  }
  const base = models[0];
  const ratios = models.slice(1).map((m) => ({
    path: m.path,
    decodeSpeedup: Object.fromEntries(m.decode.map((p) => [String(p.context), +((p.decodeTokPerSec ?? 0) / (base.decode.find((b) => b.context === p.context)?.decodeTokPerSec ?? NaN)).toFixed(3)])),
    ttftRatio: Object.fromEntries(m.ttft.map((p) => [String(p.promptLen), +((p.ttftMs ?? 0) / (base.ttft.find((b) => b.promptLen === p.promptLen)?.ttftMs ?? NaN)).toFixed(3)])),
  }));
  const result: BenchResult = {
    version: 1,
    date: new Date().toISOString(),
    device: deviceName(rt.device),
    backend: rt.backend,
    fallbackReason: rt.fallbackReason,
    settings: { promptLens, contexts, decodeTokens, repeat },
    models,
    ratios,
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    for (const r of ratios) log(`\n${r.path} vs ${base.path}: decode ×${Object.entries(r.decodeSpeedup).map(([c, x]) => `${x} @ctx${c}`).join(', ')}; TTFT ×${Object.entries(r.ttftRatio).map(([p, x]) => `${x} @${p}`).join(', ')}`);
  }
  return models.some((m) => m.error) ? 1 : 0;
}

interface BenchSettings {
  promptLens: number[];
  contexts: number[];
  decodeTokens: number;
  repeat: number;
  allowOtherDevice: boolean;
  graphCapture: { graphCapture?: boolean };
}

async function benchOne(path: string, rt: NodeRuntime, s: BenchSettings, log: (m: string) => void): Promise<BenchModelResult> {
  const fileBytes = statSync(path).size;
  const isEngine = path.endsWith('.engine');
  const result: BenchModelResult = { path, kind: isEngine ? 'engine' : 'onnx', fileBytes, nodes: 0, ttft: [], decode: [], gpuMemoryPeakBytes: null };
  let gen: Generator;
  let vocab = 100;
  try {
    if (isEngine) {
      const engine = await loadEngineFile(path, rt, { allowOtherDevice: s.allowOtherDevice });
      for (const w of engine.warnings) log(`  warning: ${w}`);
      result.nodes = engine.manifest.graph.nodes;
      vocab = vocabOf(loadModel(engine.model));
      gen = await engineGenerator(engine, rt.ort, rt.backend, s.graphCapture);
    } else {
      const bytes = readFileSync(path);
      const model = loadModel(bytes, { file: path });
      result.nodes = model.graph.nodeCount;
      vocab = vocabOf(model);
      // external-data files beside the model, checked by node-io's rules (no escapes, no links)
      const file = openModelFile(path);
      const externalData = [...file.externalFiles.keys()].map((location) => ({ path: location, data: readFileSync(join(dirname(path), location)) }));
      file.close();
      result.fileBytes += externalData.reduce((n, e) => n + e.data.byteLength, 0);
      // the plain export as a user would run it: onnxruntime's default graph optimizations on
      gen = await Generator.create({ ort: rt.ort, model: bytes, ...(externalData.length ? { externalData } : {}), io: decoderIo(model), executionProvider: rt.backend });
    }
  } catch (e) {
    result.error = (e as Error).message;
    log(`  failed to load: ${result.error}`);
    return result;
  }
  const random = prng(1234);
  const ids = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(random() * (Math.min(vocab, 5000) - 1)));
  const run = async (promptLen: number, maxTokens: number): Promise<GenerateStats> => (await gen.run({ promptIds: ids(promptLen), maxTokens, ignoreEos: true })).stats;
  try {
    await run(Math.min(8, s.promptLens[0]), 4); // warm-up: shader compilation, allocator
    for (const p of s.promptLens) {
      await run(p, 1); // compile the prefill shapes once
      const ms = [];
      for (let i = 0; i < s.repeat; i++) ms.push((await run(p, 1)).ttftMs);
      result.ttft.push({ promptLen: p, ttftMs: +median(ms).toFixed(2) });
      log(`  TTFT @${p} tokens: ${median(ms).toFixed(2)} ms`);
    }
    for (const c of s.contexts) {
      // decode at context c: the KV cache ends at c positions (prompt c − decode − 1, then decode + 1 tokens)
      const promptLen = Math.max(1, c - s.decodeTokens - 1);
      const runs: GenerateStats[] = [];
      for (let i = 0; i < s.repeat; i++) runs.push(await run(promptLen, s.decodeTokens + 1));
      const best = runs.sort((a, b) => a.decodeTokPerSec - b.decodeTokPerSec)[Math.floor(runs.length / 2)];
      if (rt.backend === 'webgpu') result.gpuMemoryPeakBytes = Math.max(result.gpuMemoryPeakBytes ?? 0, ...runs.map((r) => r.gpuMemory?.peakBytes ?? 0));
      result.decode.push({ context: c, decodeTokPerSec: +best.decodeTokPerSec.toFixed(2), interTokenP50Ms: +best.interTokenMs.p50.toFixed(3), interTokenP95Ms: +best.interTokenMs.p95.toFixed(3) });
      log(`  decode @ctx ${c}: ${best.decodeTokPerSec.toFixed(1)} tok/s (p50 ${best.interTokenMs.p50.toFixed(2)} ms, p95 ${best.interTokenMs.p95.toFixed(2)} ms)`);
    }
    if (result.gpuMemoryPeakBytes) log(`  GPU memory peak ${(result.gpuMemoryPeakBytes / 2 ** 20).toFixed(1)} MiB`);
  } catch (e) {
    result.error = (e as Error).message;
    log(`  failed: ${result.error}`);
  } finally {
    await gen.release();
  }
  return result;
}

function vocabOf(model: ReturnType<typeof loadModel>): number {
  const logits = model.graph.outputs.find((o) => o.name === 'logits');
  const last = logits?.shape?.[logits.shape.length - 1];
  return typeof last === 'number' ? last : 100;
}
