/**
 * The generation loop: prefill, then one token per step with the KV cache kept where the execution
 * provider computes it (GPU buffers on WebGPU: `preferredOutputLocation: 'gpu-buffer'`, present fed
 * back as past, the previous step's buffers released). The only per-step CPU round trip is the last
 * position's logits, for the sampler.
 *
 * `generate` is an async iterable of events — `start`, a `token` per new token (with its text delta
 * and a timestamp), `layers` (per-node timings mapped to the source graph, when asked for), and
 * `done` with the stop reason and stats (TTFT, prefill/decode tok/s, inter-token p50/p95, GPU memory).
 * Stops on EOS, a stop string, max tokens, the context limit, or an AbortSignal.
 */
import { FuselabError } from '@fuselab/graph-core';
import type * as ortTypes from 'onnxruntime-web';
import { gpuMemoryStats, resetGpuMemoryPeak, trackGpuMemory, type GpuMemoryStats } from './gpu-memory.ts';
import { captureProfile, installProfileSink, layerTimings, type LayerTimings } from './profiling.ts';
import { Sampler, type SamplingOptions } from './sampling.ts';

export interface GeneratorIo {
  inputIds: string;
  attentionMask: string | null;
  positionIds: string | null;
  logits: string;
  kv: ReadonlyArray<{ input: string; output: string; dtype?: string }>;
  kvHeads: number;
  headDim: number;
}

/** What the generator needs of a tokenizer (`@huggingface/tokenizers` fits via `TokenizerCodec`). */
export interface TextCodec {
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export interface GeneratorOptions {
  /** The onnxruntime-web module (`onnxruntime-web` or `onnxruntime-web/webgpu`). */
  ort: typeof ortTypes;
  model: Uint8Array;
  externalData?: Array<{ path: string; data: Uint8Array }>;
  io: GeneratorIo;
  executionProvider: 'webgpu' | 'wasm';
  /** Keep KV on the GPU (WebGPU only; default true there). */
  gpuKv?: boolean;
  graphCapture?: boolean;
  /** Profile the first generation and emit per-node timings (adds profiler overhead to that run). */
  layerTimings?: boolean;
  /** Fused node → original nodes, for mapping timings back. */
  provenance?: ReadonlyArray<{ node: string; sources: string[] }>;
  tokenizer?: TextCodec | null;
  eosTokenIds?: number[];
  /** The most positions a generation may use (profile max or the model's trained positions). */
  maxContext?: number;
  /** onnxruntime graph optimizations (default 'all' for runs; the validator uses 'disabled'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface GenerateRequest {
  /** Text to encode with the tokenizer, or … */
  prompt?: string;
  /** … token ids as they are. */
  promptIds?: number[];
  maxTokens: number;
  sampling?: SamplingOptions;
  /** Stop when the text contains one of these (the stop string is not included). */
  stop?: string[];
  /** Keep going after EOS (benchmarks). */
  ignoreEos?: boolean;
  signal?: AbortSignal;
}

export type StopReason = 'eos' | 'stop-string' | 'max-tokens' | 'max-context' | 'cancelled';

export interface GenerateStats {
  executionProvider: 'webgpu' | 'wasm';
  promptTokens: number;
  generatedTokens: number;
  /** Prompt in → first token sampled, ms. */
  ttftMs: number;
  prefillTokPerSec: number;
  /** Tokens after the first, per second of decode time. */
  decodeTokPerSec: number;
  interTokenMs: { mean: number; p50: number; p95: number };
  totalMs: number;
  gpuMemory: GpuMemoryStats | null;
}

export type GenerateEvent =
  | { type: 'start'; promptTokens: number; executionProvider: 'webgpu' | 'wasm' }
  | { type: 'token'; index: number; id: number; text: string; tMs: number }
  | { type: 'layers'; timings: LayerTimings }
  | { type: 'done'; reason: StopReason; text: string; tokens: number[]; stats: GenerateStats };

/** The prompt does not fit the engine's context (profile max or trained positions). */
export class PromptTooLongError extends FuselabError {
  constructor(tokens: number, max: number) {
    super('PROMPT_TOO_LONG', `prompt is ${tokens} tokens but the engine's context is at most ${max} (profile max): shorten the prompt or rebuild with a larger --profile max`);
  }
}

/** A run failed mid-generation (e.g. the GPU device was lost); the generator is released. */
export class GenerationError extends FuselabError {
  constructor(step: number, cause: unknown) {
    const msg = (cause as Error)?.message ?? String(cause);
    const lost = /device.*lost|lost.*device|DeviceLost/i.test(msg) ? ' (the GPU device was lost: reload the engine)' : '';
    super('GENERATION_FAILED', `generation failed at step ${step}${lost}: ${msg}`);
  }
}

/**
 * One generation's model state (the KV cache) behind two calls: `run(ids, pastLen)` feeds new tokens
 * after `pastLen` cached positions and returns the last position's logits row; `close()` frees the
 * sequence's buffers. The growing-KV generator and the static-KV one differ only here.
 */
export interface KvSequence {
  run(ids: number[], pastLen: number): Promise<Float32Array>;
  close(): void;
}

export class Generator {
  private profilePending: boolean;
  private busy = false;

  protected constructor(
    readonly options: GeneratorOptions,
    readonly session: ortTypes.InferenceSession,
    readonly gpuKv: boolean,
  ) {
    this.profilePending = !!options.layerTimings;
  }

  static async create(options: GeneratorOptions): Promise<Generator> {
    if (options.layerTimings) installProfileSink();
    if (options.executionProvider === 'webgpu') trackGpuMemory();
    const gpuKv = options.executionProvider === 'webgpu' && (options.gpuKv ?? true);
    const preferred: Record<string, 'gpu-buffer'> = {};
    if (gpuKv) for (const p of options.io.kv) preferred[p.output] = 'gpu-buffer';
    const session = await options.ort.InferenceSession.create(options.model, {
      executionProviders: [options.executionProvider],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      logSeverityLevel: 3,
      ...(options.externalData ? { externalData: options.externalData } : {}),
      ...(gpuKv ? { preferredOutputLocation: preferred } : {}),
      ...(options.graphCapture ? { enableGraphCapture: true } : {}),
      ...(options.layerTimings ? { enableProfiling: true } : {}),
    });
    return new Generator(options, session, gpuKv);
  }

  /** Token ids of a prompt (needs a tokenizer). */
  encode(text: string): number[] {
    if (!this.options.tokenizer) throw new FuselabError('NO_TOKENIZER', 'this engine has no tokenizer: pass token ids, or rebuild with --tokenizer tokenizer.json');
    return this.options.tokenizer.encode(text);
  }

  async *generate(req: GenerateRequest): AsyncGenerator<GenerateEvent> {
    if (this.busy) throw new FuselabError('GENERATOR_BUSY', 'a generation is already running on this engine; wait for it or cancel it');
    this.busy = true;
    try {
      yield* this.loop(req);
    } finally {
      this.busy = false;
    }
  }

  /** Runs a generation to the end and returns its `done` event (and the layer timings, if any). */
  async run(req: GenerateRequest): Promise<Extract<GenerateEvent, { type: 'done' }> & { layers?: LayerTimings }> {
    let layers: LayerTimings | undefined;
    for await (const e of this.generate(req)) {
      if (e.type === 'layers') layers = e.timings;
      if (e.type === 'done') return { ...e, ...(layers ? { layers } : {}) };
    }
    throw new Error('generation ended without a done event');
  }

  /** Growing KV: present = past + new, fed back as the next past (GPU buffers on WebGPU, the old ones released). */
  protected openSequence(): KvSequence {
    const { ort, io } = this.options;
    let past = emptyPast(ort, io);
    return {
      run: async (ids, pastLen) => {
        const out = await this.session.run({ ...growingStepFeeds(ort, io, ids, pastLen), ...past });
        const logits = out[io.logits];
        const row = lastRow(await logits.getData(), logits.dims, logits.type);
        logits.dispose();
        for (const t of Object.values(past)) t.dispose();
        const next: Record<string, ortTypes.Tensor> = {};
        for (const p of io.kv) next[p.input] = out[p.output];
        past = next;
        return row;
      },
      close: () => {
        for (const t of Object.values(past)) t.dispose();
        past = {};
      },
    };
  }

  private async *loop(req: GenerateRequest): AsyncGenerator<GenerateEvent> {
    const { tokenizer } = this.options;
    const promptIds = req.promptIds ?? this.encode(req.prompt ?? '');
    if (!promptIds.length) throw new FuselabError('EMPTY_PROMPT', 'the prompt is empty (no tokens)');
    const maxContext = this.options.maxContext ?? Infinity;
    if (promptIds.length > maxContext) throw new PromptTooLongError(promptIds.length, maxContext);
    const sampler = new Sampler(req.sampling);
    const eos = new Set(req.ignoreEos ? [] : this.options.eosTokenIds ?? []);
    const stops = (req.stop ?? []).filter((s) => s.length > 0);
    resetGpuMemoryPeak();
    yield { type: 'start', promptTokens: promptIds.length, executionProvider: this.options.executionProvider };

    const sequence = this.openSequence();
    const context = [...promptIds];
    const tokens: number[] = [];
    const stepMs: number[] = [];
    let ids = promptIds;
    let pastLen = 0;
    let text = '';
    let emitted = 0;
    let reason: StopReason = 'max-tokens';
    const t0 = performance.now();
    let ttftMs = 0;
    let last = t0;
    try {
      while (tokens.length < req.maxTokens) {
        // let a cancel message (a macrotask) in between steps; wasm runs can resolve without one
        if (req.signal && tokens.length) await yieldToEventLoop();
        if (req.signal?.aborted) { reason = 'cancelled'; break; }
        if (pastLen + ids.length > maxContext) { reason = 'max-context'; break; }
        let row: Float32Array;
        try {
          row = await sequence.run(ids, pastLen);
        } catch (e) {
          throw new GenerationError(tokens.length, e);
        }
        pastLen += ids.length;
        const id = sampler.next(row, context);
        const now = performance.now();
        if (tokens.length === 0) ttftMs = now - t0;
        else stepMs.push(now - last);
        last = now;
        tokens.push(id);
        context.push(id);
        ids = [id];
        if (eos.has(id)) { reason = 'eos'; break; }
        if (tokenizer) {
          text = tokenizer.decode(tokens);
          let cut = -1;
          for (const s of stops) {
            const at = text.indexOf(s, Math.max(0, emitted - s.length));
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
          }
          if (cut >= 0) {
            text = text.slice(0, cut);
            if (cut > emitted) yield { type: 'token', index: tokens.length - 1, id, text: text.slice(emitted), tMs: now - t0 };
            emitted = text.length;
            reason = 'stop-string';
            break;
          }
          // hold back an incomplete UTF-8 sequence (byte-level BPE) until the next token completes it
          const ready = text.endsWith('\uFFFD') ? text.length - 1 : text.length;
          const delta = ready > emitted ? text.slice(emitted, ready) : '';
          emitted = Math.max(emitted, ready);
          yield { type: 'token', index: tokens.length - 1, id, text: delta, tMs: now - t0 };
        } else {
          yield { type: 'token', index: tokens.length - 1, id, text: '', tMs: now - t0 };
        }
      }
    } finally {
      sequence.close();
    }
    const totalMs = performance.now() - t0;
    if (this.profilePending) {
      this.profilePending = false;
      const events = captureProfile(() => this.session.endProfiling());
      if (events.length) yield { type: 'layers', timings: layerTimings(events, this.options.provenance) };
    }
    const decodeMs = stepMs.reduce((a, b) => a + b, 0);
    const sorted = [...stepMs].sort((a, b) => a - b);
    const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0);
    yield {
      type: 'done',
      reason,
      text: tokenizer ? text : '',
      tokens,
      stats: {
        executionProvider: this.options.executionProvider,
        promptTokens: promptIds.length,
        generatedTokens: tokens.length,
        ttftMs,
        prefillTokPerSec: ttftMs > 0 ? (promptIds.length * 1000) / ttftMs : 0,
        decodeTokPerSec: decodeMs > 0 ? (stepMs.length * 1000) / decodeMs : 0,
        interTokenMs: { mean: stepMs.length ? decodeMs / stepMs.length : 0, p50: pct(0.5), p95: pct(0.95) },
        totalMs,
        gpuMemory: gpuMemoryStats(),
      },
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Resolves after pending macrotasks (messages) ran: setImmediate in Node, a MessageChannel hop elsewhere (no 4 ms timer clamp). */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (cb: () => void) => unknown };
  if (g.setImmediate) return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); r(); };
    ch.port2.postMessage(null);
  });
}

/** A growing-KV graph's first past: [1, heads, 0, head] per KV input. */
export function emptyPast(ort: typeof ortTypes, io: GeneratorIo): Record<string, ortTypes.Tensor> {
  const past: Record<string, ortTypes.Tensor> = {};
  for (const p of io.kv) {
    const half = (p.dtype ?? 'float32') === 'float16';
    past[p.input] = new ort.Tensor(half ? 'float16' : 'float32', half ? new Uint16Array(0) : new Float32Array(0), [1, io.kvHeads, 0, io.headDim]);
  }
  return past;
}

/** A growing-KV step's inputs besides the past: `ids` after `pastLen` positions, their mask and positions. */
export function growingStepFeeds(ort: typeof ortTypes, io: GeneratorIo, ids: number[], pastLen: number): Record<string, ortTypes.Tensor> {
  const int64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
  const feeds: Record<string, ortTypes.Tensor> = { [io.inputIds]: int64(ids, [1, ids.length]) };
  if (io.attentionMask) feeds[io.attentionMask] = int64(new Array(pastLen + ids.length).fill(1), [1, pastLen + ids.length]);
  if (io.positionIds) feeds[io.positionIds] = int64(ids.map((_, i) => pastLen + i), [1, ids.length]);
  return feeds;
}

/** The last position's row of [batch, seq, vocab] logits, as float32. */
export function lastRow(data: unknown, dims: readonly number[], type: string): Float32Array {
  const vocab = dims[dims.length - 1];
  if (type === 'float32') {
    const d = data as Float32Array;
    return d.subarray(d.length - vocab);
  }
  if (type === 'float16') {
    const d = data as Uint16Array | { length: number; [i: number]: number };
    const out = new Float32Array(vocab);
    const base = d.length - vocab;
    const isBits = d instanceof Uint16Array;
    for (let i = 0; i < vocab; i++) out[i] = isBits ? halfToFloat(d[base + i]) : d[base + i];
    return out;
  }
  throw new FuselabError('LOGITS_DTYPE', `logits of type ${type} are not supported (float32 or float16)`);
}

export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
