/**
 * A greedy KV-cache decode loop on onnxruntime-web: prefill, then one token per step, with the KV
 * cache kept on the GPU (`preferredOutputLocation: 'gpu-buffer'`, present → past, old buffers
 * released) when the execution provider is WebGPU. Reports TTFT and per-step latency.
 * (Sampling, streaming, stop conditions and engines come with issue #6; this is the measured core.)
 */
import type * as ortTypes from 'onnxruntime-web';
import type { DecoderIo } from './kv-io.ts';

export interface DecodeRunOptions {
  promptIds: number[];
  maxNewTokens: number;
}

export interface DecodeRunResult {
  tokens: number[];
  /** Prefill (first token) latency, ms. */
  ttftMs: number;
  /** Each decode step's latency, ms. */
  stepMs: number[];
  decodeTokPerSec: number;
  prefillTokPerSec: number;
}

export interface DecoderOptions {
  /** GPU-resident KV (WebGPU only). Default true on WebGPU. */
  gpuKv?: boolean;
  executionProvider: 'webgpu' | 'wasm';
  graphCapture?: boolean;
}

export class KvDecoder {
  private constructor(
    private readonly ort: typeof ortTypes,
    readonly session: ortTypes.InferenceSession,
    readonly io: DecoderIo,
    readonly options: DecoderOptions,
  ) {}

  static async create(ort: typeof ortTypes, bytes: Uint8Array, io: DecoderIo, options: DecoderOptions): Promise<KvDecoder> {
    const gpuKv = options.executionProvider === 'webgpu' && (options.gpuKv ?? true);
    const preferred: Record<string, 'gpu-buffer' | 'cpu'> = {};
    if (gpuKv) for (const p of io.kv) preferred[p.output] = 'gpu-buffer';
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [options.executionProvider],
      ...(gpuKv ? { preferredOutputLocation: preferred } : {}),
      ...(options.graphCapture ? { enableGraphCapture: true } : {}),
    });
    return new KvDecoder(ort, session, io, { ...options, gpuKv });
  }

  private int64(values: number[], dims: number[]): ortTypes.Tensor {
    return new this.ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
  }

  /** Greedy generation; the only per-step CPU round trip is the logits of the last position. */
  async generate(opts: DecodeRunOptions): Promise<DecodeRunResult> {
    const { io } = this;
    let past: Record<string, ortTypes.Tensor> = {};
    for (const p of io.kv) {
      const dims = [1, io.kvHeads, 0, io.headDim];
      past[p.input] = new this.ort.Tensor('float32', new Float32Array(0), dims);
    }
    const tokens: number[] = [];
    const stepMs: number[] = [];
    let ttftMs = 0;
    let pastLen = 0;
    let ids = opts.promptIds;
    for (let step = 0; step <= opts.maxNewTokens - 1; step++) {
      const t0 = performance.now();
      const feeds: Record<string, ortTypes.Tensor> = { [io.inputIds]: this.int64(ids, [1, ids.length]), ...past };
      if (io.attentionMask) feeds[io.attentionMask] = this.int64(new Array(pastLen + ids.length).fill(1), [1, pastLen + ids.length]);
      if (io.positionIds) feeds[io.positionIds] = this.int64(ids.map((_, i) => pastLen + i), [1, ids.length]);
      const out = await this.session.run(feeds);
      const logits = out[io.logits];
      const data = (await logits.getData()) as Float32Array;
      const vocab = logits.dims[logits.dims.length - 1];
      const last = data.subarray(data.length - vocab);
      let best = 0;
      for (let i = 1; i < vocab; i++) if (last[i] > last[best]) best = i;
      logits.dispose();
      // present → past; release the previous step's buffers
      for (const t of Object.values(past)) t.dispose();
      const next: Record<string, ortTypes.Tensor> = {};
      for (const p of io.kv) next[p.input] = out[p.output];
      past = next;
      pastLen += ids.length;
      ids = [best];
      tokens.push(best);
      const ms = performance.now() - t0;
      if (step === 0) ttftMs = ms;
      else stepMs.push(ms);
    }
    for (const t of Object.values(past)) t.dispose();
    const decodeMs = stepMs.reduce((a, b) => a + b, 0);
    return {
      tokens,
      ttftMs,
      stepMs,
      decodeTokPerSec: stepMs.length ? (stepMs.length * 1000) / decodeMs : 0,
      prefillTokPerSec: (opts.promptIds.length * 1000) / ttftMs,
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
