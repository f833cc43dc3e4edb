/**
 * `fuselab build MODEL -o X.engine`: optimize (the workflow's passes to a fixed point), validate
 * against the original in onnxruntime-web, optionally time tactic candidates on this device
 * (`--tune`), and write one engine file (atomically) with the model, tokenizer, generation config,
 * profiles, tactics, provenance and a manifest naming the device and versions.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FuselabError, loadModel, serializeModelSplit, serializeModelsSplit, serializeModelToBytes, type SplitModel } from '@fuselab/graph-core';
import { AtomicFile, openModelFile, writeFileAtomic } from '@fuselab/node-io';
import { defaultWorkflow, lastTokenLogits, parseProfiles, parseWorkflow, PASSES, profileDimValues, type OptimizationProfile } from '@fuselab/optimizer';
import { buildEngine, decoderIo, deviceKey, deviceName, engineIo, Generator, ortWebVersion, sha256Hex, staticKvDecodeModel, StaticKvGenerator, tacticCandidateText, validateModels, type EngineManifest, type EngineTactic, type GenerateStats, type GeneratorIo } from '@fuselab/gpu-runtime';
import { modelFolderFiles, nodeRuntime, type BackendChoice, type NodeRuntime } from './runtime-node.ts';
import { ValidationFailedError } from './optimize.ts';
import { finishPrecisionReport, formatPrecision, parsePrecisionFlags, PRECISION_OPTIONS, PRECISION_USAGE, type PrecisionReport } from './precision-flags.ts';
import { gqaVariant, runPipeline } from './pipeline.ts';

export const BUILD_USAGE = `Usage: fuselab build MODEL.onnx -o X.engine [options]

Optimizes, validates and packs a decoder into one engine file for this device.

Options:
  -o, --output FILE        the engine to write
  --workflow FILE          workflow JSON (default: the built-in cleanup + fusion workflow)
  --profile NAME:INPUT=MIN,OPT,MAX[;INPUT=...]
                           optimization profile (repeatable); its max bounds the prompt + generation
  --tokenizer PATH         tokenizer.json (or its folder); default: the one beside MODEL
  --device auto|webgpu|wasm
                           target device (default auto: WebGPU when an adapter exists, else wasm)
  --toggle T               Dawn toggle for Node WebGPU (repeatable), e.g.
                           enable-dawn-features=vulkan_enable_f16_on_nvidia
  --tune                   time tactic candidates on this device (fused vs unfused graph, GPU- vs
                           CPU-resident vs static KV, graph capture, and for static KV which graph
                           runs prompts) and keep the fastest; timings are cached
                           per device in $FUSELAB_CACHE_DIR (default ~/.cache/fuselab)
  --report FILE            write the JSON build report
  --external-weights       keep weights outside the ONNX protobuf, in the engine's weights section
                           (automatic above 768 MiB of weights: onnxruntime-web then copies them once)
  --full-logits            keep logits for every position (default: the engine computes the last
                           position only, which is all generation needs — a 512-token prompt then
                           reads back one row instead of 512)
  --validate-on wasm|target
                           where validation runs (default wasm: exact, but its 4 GiB heap can't hold
                           two copies of a model over ~1.5 GB; 'target' validates on the engine's device)
  --no-validate            skip validation against the original (not recommended)
  --json                   print the report instead of the summary

${PRECISION_USAGE}`;

const EXTERNAL_WEIGHTS_ABOVE = 768 * 2 ** 20;

export interface BuildReport {
  version: 1;
  input: string;
  output: string;
  engineBytes: number;
  backend: 'webgpu' | 'wasm';
  device: string;
  fallbackReason: string | null;
  nodesBefore: number;
  nodesAfter: number;
  fused: Record<string, number>;
  validation: EngineManifest['validation'] & { ms?: number; skipped?: string };
  tactics: EngineTactic[];
  tokenizer: string | null;
  precision?: PrecisionReport;
  manifest: { format: number; builder: string; onnxruntimeWeb: string; sections: Array<{ name: string; bytes: number }> };
  totalMs: number;
}

export async function buildCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      workflow: { type: 'string' },
      profile: { type: 'string', multiple: true },
      // --tokenizer comes with PRECISION_OPTIONS (calibration text uses it too)
      device: { type: 'string', default: 'auto' },
      toggle: { type: 'string', multiple: true },
      tune: { type: 'boolean' },
      report: { type: 'string' },
      'no-validate': { type: 'boolean' },
      'full-logits': { type: 'boolean' },
      'external-weights': { type: 'boolean' },
      'validate-on': { type: 'string', default: 'wasm' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...PRECISION_OPTIONS,
    },
  });
  if (values.help) {
    process.stdout.write(BUILD_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.output) {
    process.stderr.write(`fuselab build: need MODEL and -o X.engine\n\n${BUILD_USAGE}`);
    return 2;
  }
  const device = values.device as BackendChoice;
  if (!['auto', 'webgpu', 'wasm'].includes(device)) throw new FuselabError('USAGE', `--device must be auto, webgpu or wasm (got '${device}')`);
  const progress = (msg: string) => { if (!values.json) process.stderr.write(`${msg}\n`); };
  const t0 = performance.now();
  const input = positionals[0];
  const workflow = values.workflow ? parseWorkflow(readFileSync(values.workflow, 'utf8'), PASSES) : defaultWorkflow();
  if (values.profile?.length) workflow.profiles = [...(workflow.profiles ?? []), ...parseProfiles(values.profile)];
  const profile: OptimizationProfile | undefined = workflow.profiles?.[0];
  const folder = modelFolderFiles(input, values.tokenizer);
  const precisionRequest = parsePrecisionFlags(values);

  const file = openModelFile(input);
  let sourceBytes: Uint8Array;
  try {
    // the protobuf file as given (with external data: its graph only; the source hash covers that file)
    sourceBytes = readFileSync(input);
    const sourceInline = file.externalFiles.size === 0;
    const original = file.model.clone();
    progress(`optimizing ${input} (${original.graph.nodeCount} nodes)`);
    // the passes, then precision once on the fused graph (pipeline.ts, shared with `optimize`)
    const { record, precision, fusedOnly } = await runPipeline(file.model, input, workflow, profile, precisionRequest, progress);
    const precisionReport: PrecisionReport | undefined = precision && fusedOnly ? await finishPrecisionReport(precision, fusedOnly, record.model, record) : undefined;
    const notes = record.diagnostics.filter((d) => d.kind === 'warning').map((d) => `${d.pass}: ${d.message}`);
    // generation reads the last position's logits only: slice before the LM head, in both models,
    // so the validation below compares exactly what the engine will compute
    let reference = original;
    // big models keep their weights outside the protobuf (in the engine's `weights` section): onnxruntime-web
    // copies an inline model into its 4 GiB wasm heap and then each initializer out of it
    const externalWeights = !!values['external-weights'] || (record.model.parameterStats().bytes ?? 0) > EXTERNAL_WEIGHTS_ABOVE;
    let referenceBytes: Uint8Array | undefined = sourceInline && !externalWeights ? sourceBytes : undefined;
    if (!values['full-logits']) {
      const sliced = lastTokenLogits.run(record.model, {}, { output: 'logits' });
      if (sliced.modified) {
        reference = original.clone();
        lastTokenLogits.run(reference, {}, { output: 'logits' });
        referenceBytes = undefined;
        notes.push('last-token-logits: logits hold the last position only ([batch, 1, vocab])');
        progress('  last-token-logits: the LM head computes the last position only');
      } else {
        progress(`  last-token-logits: not applied (${sliced.diagnostics[0]?.message ?? 'no change'})`);
      }
    }
    // every graph the engine may hold is serialized the same way: weights external (one section) or inline
    const serializeForEngine = (m: typeof record.model): Uint8Array | SplitModel => (externalWeights ? serializeModelSplit(m, { location: 'weights.bin' }) : serializeModelToBytes(m));
    const serialized = serializeForEngine(record.model);
    const split: SplitModel | null = serialized instanceof Uint8Array ? null : serialized;
    const optimizedBytes = serialized instanceof Uint8Array ? serialized : serialized.model;
    if (split) progress(`  weights external: ${(split.weights.byteLength / 2 ** 20).toFixed(1)} MiB in the engine's weights section`);
    const rt = await nodeRuntime(device, values.toggle ?? []);
    if (precisionRequest?.method === 'fp16' && rt.backend === 'webgpu' && !rt.device.features.includes('shader-f16')) {
      throw new FuselabError('ENGINE_BUILD', `--fp16 needs the WebGPU feature shader-f16, which ${deviceName(rt.device)} lacks (SwiftShader has none; on NVIDIA through Dawn pass --toggle enable-dawn-features=vulkan_enable_f16_on_nvidia), or build with --device wasm`);
    }
    const validateOn = values['validate-on'] as string;
    if (validateOn !== 'wasm' && validateOn !== 'target') throw new FuselabError('USAGE', `--validate-on must be wasm or target (got '${validateOn}')`);
    // the options every candidate graph is validated with (the fused graph, and the GroupQueryAttention variant)
    const validationOptions = {
      ...(referenceBytes ? { originalBytes: referenceBytes } : {}),
      externalWeights,
      ...(profile ? { inputSpec: { dims: profileDimValues(original, profile) } } : {}),
      ...(validateOn === 'target' ? { ort: rt.ort, executionProviders: [rt.backend] } : {}),
      ...(precision ? { tolerance: precision.tolerance } : {}),
    };
    let validation: BuildReport['validation'];
    if (values['no-validate']) {
      validation = { passed: true, tolerance: 'none', outputs: [], skipped: '--no-validate' };
    } else {
      progress(`  validating against the original (onnxruntime-web, ${validateOn === 'target' ? rt.backend : 'wasm'})...`);
      const v = await validateModels(reference, serialized, validationOptions);
      validation = { passed: v.passed, tolerance: v.tolerance.name, outputs: v.outputs.map((o) => ({ name: o.name, maxAbsErr: o.maxAbsErr, maxRelErr: o.maxRelErr, cosine: o.cosine })), ms: v.ms };
      if (!v.passed) throw new ValidationFailedError(v);
    }

    progress(`target ${deviceName(rt.device)}${rt.fallbackReason ? ` (WebGPU unavailable: ${rt.fallbackReason})` : ''}`);
    if (rt.backend === 'webgpu' && rt.device.host.startsWith('node-dawn') && !rt.device.toggles.some((t) => t.includes('skip_validation'))) {
      progress('  note: Dawn validates every WebGPU command in this process; for a trusted engine, --toggle enable-dawn-features=skip_validation removes that host cost (recorded in the engine, applied by run/bench; see docs/BENCHMARKS.md)');
    }
    const io = engineIo(record.model);
    let chosen: { bytes: Uint8Array; model: typeof record.model; fused: Record<string, number>; provenance: EngineManifest['provenance']; weights?: { location: string; bytes: Uint8Array } } = {
      bytes: optimizedBytes,
      model: record.model,
      fused: record.fused,
      provenance: record.provenance.map((p) => ({ node: p.node, opType: p.opType, sources: p.sources })),
      ...(split ? { weights: { location: split.location, bytes: split.weights } } : {}),
    };
    const tactics: EngineTactic[] = [];
    let prefill: { model: typeof record.model; modelBytes: Uint8Array; fused: Record<string, number> } | undefined;
    if (values.tune) {
      progress('  tuning tactics on this device...');
      // with a precision flag the user chose the graph: only its runtime tactics are tuned
      // static KV variant (tune + model variant selection): GroupQueryAttention graphs with inline weights also get the
      // static-KV decode form (seqlens_k/total_sequence_length inputs, one max-length KV buffer per past/present pair),
      // the only form graph capture can record
      let staticVariant: { model: typeof record.model; bytes: Uint8Array | SplitModel; fused: Record<string, number>; provenance: EngineManifest['provenance'] } | null = null;
      // GPT-2 style graphs (MultiHeadAttention with a past) get a second fusion with their blocks as
      // GroupQueryAttention (fuse-attention mhaAsGqa), validated like the first, as the static form's source
      let gqaSource: { model: typeof record.model; fused: Record<string, number>; provenance: EngineManifest['provenance'] } | null = null;
      if (record.model.graph.nodes.some((n) => n.opType === 'GroupQueryAttention')) gqaSource = chosen;
      else if (record.model.graph.nodes.some((n) => n.opType === 'MultiHeadAttention' && n.inputs[6])) {
        gqaSource = await gqaVariant(original, input, workflow, profile, precisionRequest, !values['full-logits'], async (m) => {
          const v = await validateModels(reference, serializeForEngine(m), validationOptions);
          return v.passed ? null : `validation failed (${v.outputs.filter((o) => !o.passed).map((o) => o.name).join(', ')})`;
        }, progress);
      }
      if (gqaSource) {
        try {
          const m = staticKvDecodeModel(gqaSource.model);
          staticVariant = { model: m, bytes: serializeForEngine(m), fused: gqaSource.fused, provenance: gqaSource.provenance };
        } catch (e) {
          progress(`  static KV variant not made: ${(e as Error).message}`);
        }
      }
      // the prompt tactic's pair: the static decode graph and the fused growing one over one weights blob
      let pairMemo: ReturnType<typeof serializeModelsSplit> | null = null;
      const sv = staticVariant;
      const pair = sv ? () => (pairMemo ??= serializeModelsSplit([sv.model, record.model], { location: 'weights.bin' })) : null;
      const promptLen = Math.max(2, Math.min(512, Math.floor((folder.maxPositions ?? 1024) / 2)));
      const tuned = await tune(rt, { fused: serialized, unfused: precisionRequest || !sourceInline || externalWeights ? null : sourceBytes, static: staticVariant?.bytes ?? null, pair, promptLen }, io, progress);
      tactics.push(...tuned);
      if (tuned.find((t) => t.name === 'graph')?.chosen === 'unfused') {
        chosen = { bytes: sourceBytes, model: original, fused: {}, provenance: [] };
      } else if (staticVariant && tuned.find((t) => t.name === 'kv')?.chosen === 'static') {
        const v = staticVariant.bytes;
        chosen = { ...chosen, bytes: v instanceof Uint8Array ? v : v.model, model: staticVariant.model, fused: staticVariant.fused, provenance: staticVariant.provenance, ...(v instanceof Uint8Array ? {} : { weights: { location: v.location, bytes: v.weights } }) };
        notes.push('static KV: GroupQueryAttention reads seqlens_k (int32 [batch], valid length − 1) and total_sequence_length (int32 [1], the KV buffer length) from inputs; each past/present pair is one max_sequence_length buffer bound to both (StaticKvGenerator)');
        if (pair && tuned.find((t) => t.name === 'prefill')?.chosen === 'growing') {
          // prompts run the fused growing-KV graph; both graphs refer to one weights section
          const { models, weights, location } = pair();
          chosen = { ...chosen, bytes: models[0], weights: { location, bytes: weights } };
          prefill = { model: record.model, modelBytes: models[1], fused: record.fused };
          notes.push('prefill: prompts run the growing-KV graph (section prefill_model), its present KV copied into the static buffers');
        }
      }
    }
    const { chunks, manifest, byteLength } = await buildEngine({
      ...(chosen.weights ? { weights: chosen.weights } : {}),
      source: { file: input, bytes: sourceBytes, nodes: original.graph.nodeCount },
      optimized: chosen.model,
      modelBytes: chosen.bytes,
      device: rt.device,
      ortVersion: ortWebVersion(rt.ort),
      fused: chosen.fused,
      provenance: chosen.provenance,
      notes,
      maxPositions: folder.maxPositions,
      profiles: workflow.profiles ?? [],
      tactics,
      generation: folder.generation,
      tokenizer: folder.tokenizer,
      ...(precisionReport ? { precision: { method: precisionReport.method, nodes: Object.fromEntries(precisionReport.keptHigher.map((k) => [k.node, 'fp32'])) } } : {}),
      validation: validation.skipped ? null : validation,
      ...(prefill ? { prefill } : {}),
    });
    const out = new AtomicFile(values.output);
    try {
      for (const c of chunks) out.write(c);
      out.commit();
    } catch (e) {
      out.abort();
      throw e;
    }
    const report: BuildReport = {
      version: 1,
      input,
      output: values.output,
      engineBytes: byteLength,
      backend: rt.backend,
      device: deviceName(rt.device),
      fallbackReason: rt.fallbackReason,
      nodesBefore: record.nodesBefore,
      nodesAfter: chosen.model.graph.nodeCount,
      fused: chosen.fused,
      validation,
      tactics,
      tokenizer: folder.tokenizer?.path ?? null,
      ...(precisionReport ? { precision: precisionReport } : {}),
      manifest: { format: manifest.format, builder: manifest.builder.version, onnxruntimeWeb: manifest.runtime.onnxruntimeWeb, sections: manifest.sections.map((s) => ({ name: s.name, bytes: s.length })) },
      totalMs: +(performance.now() - t0).toFixed(1),
    };
    if (values.report) writeFileAtomic(values.report, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatBuild(report)}\n`);
    return 0;
  } finally {
    file.close();
  }
}

function formatBuild(r: BuildReport): string {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
  const lines = [
    `${r.input} → ${r.output} (${mib(r.engineBytes)}, ${r.totalMs.toFixed(0)} ms)`,
    `device ${r.device}${r.fallbackReason ? ` — WebGPU unavailable: ${r.fallbackReason}` : ''}`,
    `nodes ${r.nodesBefore} → ${r.nodesAfter}${Object.keys(r.fused).length ? `; fused ${Object.entries(r.fused).map(([k, v]) => `${k}×${v}`).join(', ')}` : ''}`,
    r.validation.skipped ? `validation skipped (${r.validation.skipped})` : `validation ${r.validation.passed ? 'passed' : 'FAILED'} (${r.validation.tolerance})`,
  ];
  for (const t of r.tactics) lines.push(`tactic ${t.name}: ${t.chosen}  (${t.candidates.map((c) => tacticCandidateText(t, c)).join(', ')})`);
  if (r.precision) lines.push(formatPrecision(r.precision));
  lines.push(`tokenizer ${r.tokenizer ?? 'none (run takes token ids only)'}; sections ${r.manifest.sections.map((s) => `${s.name} ${mib(s.bytes)}`).join(', ')}`);
  return lines.join('\n');
}

// ---- tactic tuning -------------------------------------------------------------------------------

interface TacticCache {
  version: 1;
  entries: Record<string, { tokPerSec?: number; error?: string; at: string }>;
}

function cachePath(): string {
  return join(process.env.FUSELAB_CACHE_DIR ?? join(homedir(), '.cache', 'fuselab'), 'tactics.json');
}

function readCache(): TacticCache {
  try {
    const c = JSON.parse(readFileSync(cachePath(), 'utf8')) as TacticCache;
    if (c.version === 1 && c.entries) return c;
  } catch { /* no cache yet, or unreadable: start a new one */ }
  return { version: 1, entries: {} };
}

function writeCache(c: TacticCache): void {
  try {
    const path = cachePath();
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(c, null, 1)}\n`));
  } catch { /* a cache that can't be written only costs re-timing next time */ }
}

/** Decode tok/s of one configuration: warm-up, then the best of three 16-token prompt + 32-step decodes (noise only slows runs down). */
async function timeCandidate(rt: NodeRuntime, graph: Uint8Array | SplitModel, io: GeneratorIo, gpuKv: boolean, graphCapture: boolean, staticKv = false): Promise<number> {
  const model = graph instanceof Uint8Array ? { model: graph } : { model: graph.model, externalData: [{ path: graph.location, data: graph.weights }] };
  const gen = staticKv
    ? await StaticKvGenerator.create({ ort: rt.ort, ...model, io: decoderIo(loadModel(model.model)), executionProvider: rt.backend, graphCapture, maxSequenceLength: 128 })
    : await Generator.create({ ort: rt.ort, ...model, io, executionProvider: rt.backend, gpuKv, graphCapture });
  return bestOfThree(gen, 16, 33, (s) => s.decodeTokPerSec);
}

/** Warm-up (shader compilation at this prompt length), then the best of three runs by `figure`; releases `gen`. */
async function bestOfThree(gen: Generator, promptLen: number, maxTokens: number, figure: (s: GenerateStats) => number): Promise<number> {
  try {
    const promptIds = Array.from({ length: promptLen }, (_, i) => 1 + ((i * 7) % 50));
    await gen.run({ promptIds, maxTokens: 4, ignoreEos: true });
    let best = 0;
    for (let i = 0; i < 3; i++) best = Math.max(best, figure((await gen.run({ promptIds, maxTokens, ignoreEos: true })).stats));
    return best;
  } finally {
    await gen.release();
  }
}

/**
 * Prompt tok/s of a static-KV engine's prompt path: the static graph itself, or (`growing`) the fused
 * growing-KV graph with its KV copied into the static buffers. Warm-up at the same length (shaders),
 * then the best of three prompts of `promptLen` tokens.
 */
async function timePrefill(rt: NodeRuntime, pair: { models: Uint8Array[]; weights: Uint8Array; location: string }, growing: boolean, graphCapture: boolean, promptLen: number): Promise<number> {
  const externalData = [{ path: pair.location, data: pair.weights }];
  const gen = await StaticKvGenerator.create({
    ort: rt.ort,
    model: pair.models[0],
    externalData,
    io: decoderIo(loadModel(pair.models[0])),
    executionProvider: rt.backend,
    graphCapture,
    maxSequenceLength: promptLen + 8,
    ...(growing ? { prefill: { model: pair.models[1], io: decoderIo(loadModel(pair.models[1])) } } : {}),
  });
  return bestOfThree(gen, promptLen, 1, (s) => s.prefillTokPerSec);
}

/** The candidate with the highest figure, or undefined when every one failed. */
function fastest(candidates: EngineTactic['candidates']): EngineTactic['candidates'][number] | undefined {
  return candidates.filter((c) => c.tokPerSec !== undefined).sort((a, b) => (b.tokPerSec ?? 0) - (a.tokPerSec ?? 0))[0];
}

async function tune(rt: NodeRuntime, graphs: { fused: Uint8Array | SplitModel; unfused: Uint8Array | null; static: Uint8Array | SplitModel | null; pair?: (() => { models: Uint8Array[]; weights: Uint8Array; location: string }) | null; promptLen?: number }, io: GeneratorIo, progress: (m: string) => void): Promise<EngineTactic[]> {
  const cache = readCache();
  const dev = deviceKey(rt.device);
  const hashes = { fused: await sha256Hex(graphs.fused instanceof Uint8Array ? graphs.fused : graphs.fused.model), unfused: graphs.unfused ? await sha256Hex(graphs.unfused) : '', static: graphs.static ? await sha256Hex(graphs.static instanceof Uint8Array ? graphs.static : graphs.static.model) : '' };
  const measuredOn = deviceName(rt.device);
  const state = { graph: 'fused' as 'fused' | 'unfused', kv: rt.backend === 'webgpu' ? 'gpu' : 'cpu', graphCapture: 'off' };
  /** One candidate's figure: from the cache when this device timed these bytes before, else `time()` (then cached). */
  const timed = async (key: string, tactic: string, value: string, time: () => Promise<number>): Promise<EngineTactic['candidates'][number]> => {
    const say = (c: EngineTactic['candidates'][number], cached: boolean) => progress(`    ${tactic}=${tacticCandidateText({ name: tactic }, c)}${cached ? ' (cached)' : ''}`);
    const hit = cache.entries[key];
    if (hit) {
      const c = { value, ...(hit.tokPerSec !== undefined ? { tokPerSec: hit.tokPerSec } : { error: hit.error }) };
      say(c, true);
      return c;
    }
    let c: EngineTactic['candidates'][number];
    try {
      c = { value, tokPerSec: await time() };
      cache.entries[key] = { tokPerSec: c.tokPerSec, at: new Date().toISOString() };
    } catch (e) {
      c = { value, error: (e as Error).message.split('\n')[0].slice(0, 200) };
      cache.entries[key] = { error: c.error, at: new Date().toISOString() };
    }
    say(c, false);
    return c;
  };
  const measure = (tactic: string, value: string, cfg: typeof state) => {
    // kv=static times the static-KV variant of the fused graph (StaticKvGenerator)
    const variant = cfg.kv === 'static' && cfg.graph === 'fused' ? 'static' : cfg.graph;
    return timed(`${dev}|${hashes[variant]}|graph=${cfg.graph},kv=${cfg.kv},capture=${cfg.graphCapture}`, tactic, value, async () => {
      if (variant === 'static' && !graphs.static) throw new Error('no static KV variant (GroupQueryAttention graphs only)');
      return timeCandidate(rt, graphs[variant] as Uint8Array | SplitModel, io, cfg.kv === 'gpu', cfg.graphCapture === 'on', variant === 'static');
    });
  };
  const tactics: EngineTactic[] = [];
  const pick = async (name: 'graph' | 'kv' | 'graphCapture', values: string[]) => {
    const candidates = [];
    for (const v of values) candidates.push(await measure(name, v, { ...state, [name]: v }));
    const best = fastest(candidates);
    if (best) (state as Record<string, string>)[name] = best.value;
    tactics.push({ name, chosen: (state as Record<string, string>)[name], candidates, measuredOn });
  };
  await pick('graph', graphs.unfused ? ['fused', 'unfused'] : ['fused']);
  const staticKv = !!graphs.static && state.graph === 'fused';
  if (rt.backend === 'webgpu') {
    await pick('kv', staticKv ? ['gpu', 'cpu', 'static'] : ['gpu', 'cpu']);
    // graph capture records only the static-KV decode step: time static + capture even when static alone lost
    if (staticKv && state.kv !== 'static') {
      const on = await measure('kv', 'static+capture', { ...state, kv: 'static', graphCapture: 'on' });
      const kvTactic = tactics[tactics.length - 1];
      if ((on.tokPerSec ?? 0) > Math.max(...kvTactic.candidates.map((c) => c.tokPerSec ?? 0))) state.kv = kvTactic.chosen = 'static';
      kvTactic.candidates.push(on);
    }
    await pick('graphCapture', ['off', 'on']);
    // a static-KV engine's prompts: on the static graph, or on the growing-KV graph with the KV copied over
    // (the `prefill` tactic; its figure is prompt tok/s at promptLen tokens, not decode)
    if (state.kv === 'static' && graphs.pair) {
      const { pair } = graphs;
      const len = graphs.promptLen ?? 512;
      const candidates: EngineTactic['candidates'] = [];
      for (const value of ['static', 'growing']) {
        const key = `${dev}|${hashes.static}+${hashes.fused}|prefill=${value},capture=${state.graphCapture},prompt=${len}`;
        candidates.push(await timed(key, 'prefill', value, () => timePrefill(rt, pair(), value === 'growing', state.graphCapture === 'on', len)));
      }
      tactics.push({ name: 'prefill', chosen: fastest(candidates)?.value ?? 'static', candidates, measuredOn });
    }
  }
  writeCache(cache);
  return tactics;
}
