/**
 * Decode benchmark: the plain export against Fuselab's optimized model, in one process, on one
 * onnxruntime-web execution provider (WebGPU through Node + Dawn, or wasm), batch 1, greedy.
 *
 *   npx tsx tools/bench/decode.ts [--model PATH ...] [--ep webgpu|wasm] [--prompt-len 16,512]
 *       [--context 16,1024] [--decode 128] [--repeats 5] [--torch TORCH.json] [--toggle DAWN_TOGGLE ...]
 *       [--max-positions N] [--variants plain,optimized] [--no-gpu-kv] [--graph-capture] [--out FILE] [--no-record]
 *
 *   # smoke check on SwiftShader (no GPU):
 *   npx tsx tools/bench/decode.ts --model examples/fixtures/gpt2-tiny-kv.onnx --prompt-len 16,64 --context 16,96 --decode 16
 *
 * Per model: load → optimize in memory with the default workflow (nodes before/after, fused ops, which
 * default passes are not registered yet) → for each variant: create a KvDecoder, warm up every shape
 * outside the timed region, count GPU work per token (compute dispatches, queue submits, buffer
 * maps/writes, by wrapping Dawn's prototypes in an untimed run), then time TTFT per prompt length (median of
 * --repeats) and decode tok/s per context (the context is the prompt, i.e. the past length before the
 * timed steps; clamped so that context + decode fits the model's position table), with inter-token
 * p50/p95. Greedy tokens of plain and optimized are compared; with --torch, the PyTorch baseline's JSON
 * (tools/bench/torch_decode.py, same prompts) is merged in and the ratios computed. GPU memory comes
 * from nvidia-smi where present (device-wide, sampled between runs), host RSS always.
 *
 * Model files must be single-file ONNX (< 2 GiB, no external data): KvDecoder takes bytes.
 * Prompt token ids: id[i] = (i * 7919 + 13) % vocab (the same in torch_decode.py).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type * as ortTypes from 'onnxruntime-web';
import { loadModel, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { DEFAULT_PASS_ORDER, defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { decoderIo, detectVocab, gatherTableRows, KvDecoder, type DecodeRunResult, type DecoderIo } from '@fuselab/gpu-runtime';
import { installNodeWebGpu, type NodeWebGpu } from '@fuselab/cli';
import { machineDescription, recordBenchmark } from './record.ts';

const DEFAULT_MODEL = 'examples/generated/gpt2-small-kv.onnx';
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

const { values: opt } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    ep: { type: 'string', default: 'webgpu' },
    'prompt-len': { type: 'string', default: '16,512' },
    context: { type: 'string', default: '16,1024' },
    decode: { type: 'string', default: '128' },
    repeats: { type: 'string', default: '5' },
    torch: { type: 'string' },
    toggle: { type: 'string', multiple: true },
    'max-positions': { type: 'string' },
    variants: { type: 'string', default: 'plain,optimized' },
    'no-gpu-kv': { type: 'boolean' },
    'graph-capture': { type: 'boolean' },
    out: { type: 'string' },
    'no-record': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (opt.help) {
  process.stdout.write(`Usage: tools/bench/decode.ts [--model PATH ...] [--ep webgpu|wasm] [--prompt-len 16,512] [--context 16,1024]
       [--decode 128] [--repeats 5] [--torch TORCH.json] [--toggle DAWN_TOGGLE ...] [--max-positions N]
       [--variants plain,optimized] [--no-gpu-kv] [--graph-capture] [--out FILE] [--no-record]
Default model: ${DEFAULT_MODEL} (examples/scripts/make_gpt2_small.py --variants kv). See the file's header.
`);
  process.exit(0);
}
const ep = opt.ep as 'webgpu' | 'wasm';
if (ep !== 'webgpu' && ep !== 'wasm') throw new Error(`--ep must be webgpu or wasm, not '${opt.ep}'`);
const list = (s: string) => s.split(',').filter(Boolean).map(Number);
const promptLens = list(opt['prompt-len']);
const contexts = list(opt.context);
const decodeSteps = Number(opt.decode);
const repeats = Number(opt.repeats);
const variantNames = opt.variants.split(',').filter(Boolean) as Array<'plain' | 'optimized'>;
const modelPaths = opt.model?.length ? opt.model : [DEFAULT_MODEL];
const log = (msg: string) => process.stderr.write(`decode: ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// helpers

const promptIds = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 13) % vocab);
const round = (x: number, d = 3) => +x.toFixed(d);
const median = (xs: number[]) => percentile(xs, 50);
function percentile(xs: number[], q: number): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.round((q / 100) * (s.length - 1)))] : 0;
}
function opHistogram(m: Model): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of m.graph.nodes) h[n.opType] = (h[n.opType] ?? 0) + 1;
  return Object.fromEntries(Object.entries(h).sort((a, b) => b[1] - a[1]));
}

/** Rows of the table that position_ids index (learned positions), or null (rotary, in-graph). */
function detectMaxPositions(m: Model, io: DecoderIo): number | null {
  return io.positionIds ? gatherTableRows(m, io.positionIds) : null;
}

let smiAvailable: boolean | null = null;
/** Device-wide GPU memory in use (MiB) from nvidia-smi, or null where there is none. */
function gpuMemoryMiB(): number | null {
  if (smiAvailable === false) return null;
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    smiAvailable = true;
    return Number(out.trim().split('\n')[0]);
  } catch {
    smiAvailable = false;
    return null;
  }
}
const rssMiB = () => round(process.memoryUsage().rss / 2 ** 20, 1);

interface GpuCounts { dispatches: number; submits: number; mapAsync: number; writeBuffer: number; copies: number }
/** Counts GPU API calls made while `fn` runs, by wrapping Dawn's prototypes (untimed runs only). */
async function countGpuCalls(fn: () => Promise<unknown>): Promise<GpuCounts | null> {
  const g = globalThis as unknown as Record<string, { prototype: Record<string, unknown> } | undefined>;
  const targets: Array<[string, string, keyof GpuCounts]> = [
    ['GPUComputePassEncoder', 'dispatchWorkgroups', 'dispatches'],
    ['GPUComputePassEncoder', 'dispatchWorkgroupsIndirect', 'dispatches'],
    ['GPUQueue', 'submit', 'submits'],
    ['GPUBuffer', 'mapAsync', 'mapAsync'],
    ['GPUQueue', 'writeBuffer', 'writeBuffer'],
    ['GPUCommandEncoder', 'copyBufferToBuffer', 'copies'],
  ];
  if (!g.GPUComputePassEncoder) return null;
  const counts: GpuCounts = { dispatches: 0, submits: 0, mapAsync: 0, writeBuffer: 0, copies: 0 };
  const restore: Array<() => void> = [];
  for (const [cls, method, key] of targets) {
    const proto = g[cls]?.prototype;
    const original = proto?.[method];
    if (!proto || typeof original !== 'function') continue;
    proto[method] = function (this: unknown, ...a: unknown[]) {
      counts[key]++;
      return (original as (...x: unknown[]) => unknown).apply(this, a);
    };
    restore.push(() => { proto[method] = original; });
  }
  try {
    await fn();
  } finally {
    for (const r of restore) r();
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// setup

let gpu: NodeWebGpu | null = null;
if (ep === 'webgpu') {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && existsSync(SWIFTSHADER_ICD)) {
    log(`no Vulkan driver chosen: using SwiftShader (${SWIFTSHADER_ICD})`);
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  gpu = await installNodeWebGpu({ toggles: opt.toggle ?? [] });
  log(`adapter: ${gpu.fingerprint}`);
}
// the WebGPU build of onnxruntime-web; it also runs the wasm EP, so both EPs use one module
const ort = (await import('onnxruntime-web/webgpu')) as unknown as typeof ortTypes;
ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';

interface Torch { device?: { name?: string }; models?: Array<{ model: string; variants: Record<string, VariantResult> }> }
const torch: Torch | null = opt.torch ? JSON.parse(readFileSync(opt.torch, 'utf8')) as Torch : null;

interface TtftResult { promptLen: number; requestedPromptLen?: number; ms: number; minMs: number; runsMs: number[]; prefillTokPerSec: number }
interface DecodeResult { context: number; requestedContext: number; steps: number; tokPerSec: number; meanMs: number; p50Ms: number; p95Ms: number; tokens: number[] }
interface VariantResult {
  ttft: TtftResult[];
  decode: DecodeResult[];
  sessionCreateMs?: number;
  warmupMs?: number;
  modelBytes?: number;
  gpuCallsPerDecodeStep?: GpuCounts | null;
  gpuCallsPrefill16?: GpuCounts | null;
  gpuMemory?: { beforeCreateMiB: number | null; afterCreateMiB: number | null; peakMiB: number | null; deltaMiB: number | null; hostRssMiB: number } | null;
  error?: string;
}

async function measureVariant(bytes: Uint8Array, io: DecoderIo, vocab: number, maxPos: number | null): Promise<VariantResult> {
  const fitPrompt = (n: number) => (maxPos ? Math.min(n, maxPos) : n);
  const fitContext = (c: number) => (maxPos ? Math.max(1, Math.min(c, maxPos - decodeSteps)) : c);
  const mem0 = gpuMemoryMiB();
  let peak = mem0;
  const sample = () => { const m = gpuMemoryMiB(); if (m !== null && (peak === null || m > peak)) peak = m; };
  let t0 = performance.now();
  const dec = await KvDecoder.create(ort, bytes, io, { executionProvider: ep, gpuKv: !opt['no-gpu-kv'], graphCapture: !!opt['graph-capture'] });
  const sessionCreateMs = performance.now() - t0;
  const memCreated = gpuMemoryMiB();
  sample();
  try {
    const gen = (n: number, newTokens: number): Promise<DecodeRunResult> => dec.generate({ promptIds: promptIds(n, vocab), maxNewTokens: newTokens });
    // warm-up: every prefill shape once, then a few decode steps (shader compilation, buffer pools)
    t0 = performance.now();
    for (const n of [...new Set([...promptLens.map(fitPrompt), ...contexts.map(fitContext)])].sort((a, b) => a - b)) {
      await gen(n, !maxPos || n + 2 <= maxPos ? 3 : 1); // decode steps only where positions stay in the table
    }
    const warmupMs = performance.now() - t0;
    sample();
    // GPU calls per token, in untimed runs: (prefill + 1 + K steps) − (prefill alone), over K
    let gpuCallsPerDecodeStep: GpuCounts | null = null;
    let gpuCallsPrefill16: GpuCounts | null = null;
    if (ep === 'webgpu') {
      const K = 8;
      const base = await countGpuCalls(() => gen(fitPrompt(16), 1));
      const more = await countGpuCalls(() => gen(fitPrompt(16), 1 + K));
      if (base && more) {
        gpuCallsPrefill16 = base;
        gpuCallsPerDecodeStep = Object.fromEntries(Object.keys(base).map((k) => [k, round((more[k as keyof GpuCounts] - base[k as keyof GpuCounts]) / K, 2)])) as unknown as GpuCounts;
      }
    }
    const ttft: TtftResult[] = [];
    for (const requested of promptLens) {
      const n = fitPrompt(requested);
      const runs: number[] = [];
      for (let r = 0; r < repeats; r++) runs.push((await gen(n, 1)).ttftMs);
      const ms = median(runs);
      ttft.push({ promptLen: n, ...(n !== requested ? { requestedPromptLen: requested } : {}), ms: round(ms), minMs: round(Math.min(...runs)), runsMs: runs.map((x) => round(x)), prefillTokPerSec: round((n * 1000) / ms, 1) });
      sample();
    }
    const decode: DecodeResult[] = [];
    for (const requested of contexts) {
      const c = fitContext(requested);
      const r = await gen(c, decodeSteps + 1);
      const total = r.stepMs.reduce((a, b) => a + b, 0);
      decode.push({
        context: c, requestedContext: requested, steps: r.stepMs.length,
        tokPerSec: round((r.stepMs.length * 1000) / total, 2), meanMs: round(total / r.stepMs.length),
        p50Ms: round(percentile(r.stepMs, 50)), p95Ms: round(percentile(r.stepMs, 95)), tokens: r.tokens,
      });
      sample();
    }
    return {
      ttft, decode, sessionCreateMs: round(sessionCreateMs, 1), warmupMs: round(warmupMs, 1), modelBytes: bytes.byteLength,
      gpuCallsPerDecodeStep, gpuCallsPrefill16,
      gpuMemory: { beforeCreateMiB: mem0, afterCreateMiB: memCreated, peakMiB: peak, deltaMiB: mem0 !== null && peak !== null ? peak - mem0 : null, hostRssMiB: rssMiB() },
    };
  } finally {
    await dec.release();
  }
}

/** gpt2-small-kv.onnx → gpt2-small; qwen2.5-0.5b/model.onnx (make_llama_shaped.py) → qwen2.5-0.5b */
function modelLabel(path: string): string {
  return (basename(path) === 'model.onnx' ? basename(dirname(path)) : basename(path)).replace(/\.onnx$/, '').replace(/-kv$/, '');
}

/** The record in docs/BENCHMARKS.md: the JSON without token lists, op histograms and feature lists (--out keeps all). */
function compact(r: unknown): unknown {
  return JSON.parse(JSON.stringify(r, (k, v) => (['tokens', 'opsBefore', 'opsAfter', 'features', 'runsMs', 'adapterInfo'].includes(k) ? undefined : v)));
}

function firstDifference(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

// ---------------------------------------------------------------------------------------------
// run

const registered = defaultWorkflow().passes.map((p) => p.pass);
const results: Array<Record<string, unknown>> = [];
// Dawn's `device` names the card on NVIDIA ('nvidia-h200'); `description` is the driver there, the name on SwiftShader
const deviceName = gpu ? [gpu.adapterInfo.device || gpu.adapterInfo.architecture || gpu.adapterInfo.vendor, gpu.adapterInfo.description && `(${gpu.adapterInfo.description})`].filter(Boolean).join(' ') : 'CPU (wasm)';
const report = (partial: boolean) => ({
  bench: 'decode',
  ...(partial ? { partial: true } : {}),
  date: new Date().toISOString(),
  machine: machineDescription(),
  device: gpu ? { ep, name: deviceName, fingerprint: gpu.fingerprint, adapterInfo: gpu.adapterInfo, features: gpu.features, maxStorageBufferBindingSize: gpu.limits.maxStorageBufferBindingSize } : { ep, name: deviceName },
  torchDevice: torch?.device ?? null,
  config: {
    ep, promptLens, contexts, decode: decodeSteps, repeats, variants: variantNames,
    gpuKv: ep === 'webgpu' && !opt['no-gpu-kv'], graphCapture: !!opt['graph-capture'], toggles: opt.toggle ?? [],
    runtime: 'onnxruntime-web 1.30 (webgpu bundle), wasm threads 1, session graphOptimizationLevel default (all)',
    promptIds: '(i * 7919 + 13) % vocab',
  },
  models: results,
});
/** Partial results survive a run killed at its time limit. */
const flush = () => { if (opt.out) writeFileSync(opt.out, `${JSON.stringify(report(true), null, 2)}\n`); };
for (const path of modelPaths) {
  if (!existsSync(path)) {
    throw new Error(`${path} does not exist${path === DEFAULT_MODEL ? ': make it with `/usr/bin/python3 examples/scripts/make_gpt2_small.py --variants kv` (needs torch), or pass --model' : ''}`);
  }
  log(`${path}: loading`);
  const fileBytes = readFileSync(path);
  const plainModel = loadModel(fileBytes, { file: path });
  const io = decoderIo(plainModel);
  const vocab = detectVocab(plainModel) ?? (plainModel.graph.outputs.find((o) => o.name === io.logits)?.shape?.at(-1) as number | undefined);
  if (typeof vocab !== 'number') throw new Error(`${path}: cannot tell the vocabulary size (no embedding Gather on input_ids, no static logits dim)`);
  const maxPos = opt['max-positions'] ? Number(opt['max-positions']) : detectMaxPositions(plainModel, io);

  const t0 = performance.now();
  const record = runPasses(loadModel(fileBytes, { file: path }), workflowSteps(defaultWorkflow(), PASSES));
  const optimizeMs = performance.now() - t0;
  const optimizedBytes = serializeModelToBytes(record.model);
  log(`${path}: optimized ${record.nodesBefore} → ${record.nodesAfter} nodes in ${optimizeMs.toFixed(0)} ms (${registered.length} passes registered)`);

  const variants: Record<string, VariantResult> = {};
  const entry: Record<string, unknown> = {
    model: path,
    fileBytes: fileBytes.byteLength,
    vocab,
    maxPositions: maxPos,
    kvLayers: io.kv.length / 2,
    optimize: {
      ms: round(optimizeMs, 1),
      nodesBefore: record.nodesBefore,
      nodesAfter: record.nodesAfter,
      fused: record.fused,
      passesRegistered: registered,
      passesNotRegistered: DEFAULT_PASS_ORDER.filter((p) => !registered.includes(p)),
      opsBefore: opHistogram(plainModel),
      opsAfter: opHistogram(record.model),
      optimizedBytes: optimizedBytes.byteLength,
    },
    variants,
  };
  results.push(entry);
  flush();
  for (const name of variantNames) {
    log(`${path}: ${name} on ${ep}`);
    try {
      const model = name === 'plain' ? plainModel : record.model;
      variants[name] = await measureVariant(name === 'plain' ? fileBytes : optimizedBytes, decoderIo(model), vocab, maxPos);
      const v = variants[name];
      log(`  ${name}: TTFT ${v.ttft.map((t) => `${t.promptLen}:${t.ms.toFixed(1)}ms`).join(' ')}; decode ${v.decode.map((d) => `ctx ${d.context}: ${d.tokPerSec} tok/s`).join(', ')}`);
    } catch (e) {
      variants[name] = { ttft: [], decode: [], error: (e as Error).message };
      log(`  ${name}: FAILED ${(e as Error).message}`);
    }
    flush();
  }

  // greedy agreement: optimized vs plain, and torch vs each (same prompts)
  const agreement: Record<string, unknown> = {};
  const { plain, optimized } = variants;
  if (plain?.decode.length && optimized?.decode.length) {
    agreement.optimizedVsPlain = plain.decode.map((d, i) => {
      const diff = firstDifference(d.tokens, optimized.decode[i]?.tokens ?? []);
      return { context: d.context, equal: diff < 0, ...(diff >= 0 ? { firstDifferentToken: diff } : {}) };
    });
  }
  const stem = modelLabel(path);
  const torchModel = torch?.models?.find((m) => m.model === stem) ?? (torch?.models?.length === 1 && modelPaths.length === 1 ? torch.models[0] : undefined);
  const ratios: Record<string, unknown> = {};
  if (torchModel) {
    const te = torchModel.variants['pytorch-eager'];
    variants['pytorch-eager'] = te;
    for (const [name, v] of Object.entries(variants)) {
      if (name === 'pytorch-eager' || !v.decode.length) continue;
      agreement[`${name}VsTorch`] = v.decode.map((d) => {
        const t = te.decode.find((x) => x.context === d.context);
        if (!t) return { context: d.context, equal: null, note: 'torch has no run at this context' };
        const diff = firstDifference(d.tokens, t.tokens);
        return { context: d.context, equal: diff < 0, ...(diff >= 0 ? { firstDifferentToken: diff } : {}) };
      });
    }
  }
  for (const d of variants.optimized?.decode ?? []) {
    const p = variants.plain?.decode.find((x) => x.context === d.context);
    const t = variants['pytorch-eager']?.decode.find((x) => x.context === d.context);
    ratios[`decodeCtx${d.context}`] = {
      optimizedOverPlain: p ? round(d.tokPerSec / p.tokPerSec, 2) : null,
      optimizedOverTorch: t ? round(d.tokPerSec / t.tokPerSec, 3) : null,
      plainOverTorch: p && t ? round(p.tokPerSec / t.tokPerSec, 3) : null,
    };
  }
  for (const [name, v] of Object.entries(variants)) {
    const ds = v.decode;
    if (ds.length >= 2) ratios[`${name}DecodeSlowdownCtx${ds.at(-1)?.context}Over${ds[0].context}`] = round(ds[0].tokPerSec / (ds.at(-1)?.tokPerSec ?? 1), 2);
  }

  entry.agreement = agreement;
  entry.ratios = ratios;
  flush();
}

const result = report(false);
const json = JSON.stringify(result, null, 2);
console.log(json);
if (opt.out) writeFileSync(opt.out, `${json}\n`);
const failed = results.flatMap((m) => Object.entries(m.variants as Record<string, VariantResult>).filter(([, v]) => v.error).map(([k]) => `${m.model}: ${k}`));
const succeeded = results.some((m) => variantNames.some((k) => { const v = (m.variants as Record<string, VariantResult>)[k]; return v && !v.error && v.decode.length > 0; }));
if (failed.length) log(`FAILED variants (see "error" in the JSON): ${failed.join('; ')}`);
if (!opt['no-record'] && succeeded) {
  const names = modelPaths.map(modelLabel).join(', ');
  recordBenchmark(
    `Decode: ${names}, plain vs optimized${torch ? ' vs PyTorch eager' : ''}, ${ep} on ${deviceName}`,
    `tools/bench/decode.ts ${process.argv.slice(2).join(' ')}`.trim(),
    compact(result),
    `device: ${gpu?.fingerprint ?? 'wasm EP on the CPU'}${torch ? `; PyTorch eager on ${torch.device?.name ?? '?'} in the same session` : ''}; ` +
      `default passes not registered at run time: ${DEFAULT_PASS_ORDER.filter((p) => !registered.includes(p)).join(', ') || 'none'}. ` +
      'Token lists, op histograms and adapter features are in the --out JSON.',
  );
}
// dawn.node can keep the event loop alive after the last session is released
process.exit(failed.length ? 1 : 0);
