/**
 * Static KV cache and WebGPU graph capture for GroupQueryAttention decoders.
 *
 * - `staticKvDecodeModel(model)` rewires a fused GQA decoder for a fixed-shape decode step: every
 *   GroupQueryAttention reads `seqlens_k` (int32 [batch], valid length − 1) and
 *   `total_sequence_length` (int32 [1], the KV buffer length) from graph inputs instead of
 *   computing them from the int64 `attention_mask` (whose Cast/Shape onnxruntime places on the CPU,
 *   outside a captured graph, and whose length changes every step). `attention_mask` and
 *   `position_ids` go away when nothing else reads them (GPT-2's learned position embedding keeps
 *   `position_ids`: the generator writes it in place like the token id); past/present KV are declared
 *   [batch, kv_heads, max_sequence_length, head].
 * - `StaticKvGenerator` allocates the KV buffers once (max length), binds each as both past and
 *   present (GQA updates it in place: `past_present_share_buffer`), keeps the decode step's inputs
 *   at fixed shapes in fixed GPU buffers rewritten in place, and preallocates the logits output, so
 *   onnxruntime-web can record the decode step once and replay it (`enableGraphCapture`). Prefill
 *   runs on a second session without capture (its shape differs), writing into the same buffers.
 *   On wasm it runs the same contract without buffers to share (present fed back as past).
 *
 * onnxruntime-web 1.30 bug worked around here (`keepRegistered`): with graph capture the IO binding
 * is made once, on the first run, but the GPU buffers the caller passed are unregistered (their
 * handle released) after every run, so the second run — the one captured — builds bind groups from
 * dead handles: `{ buffer: undefined }`, which dawn.node reports as "no overload matched for
 * createBindGroup ... member 'resource'" (browsers: "Required member is undefined"). It is not a
 * dawn.node quirk. Keeping the registration alive for the buffers' lifetime fixes it.
 */
import { FuselabError, type Model, type Node, type Value } from '@fuselab/graph-core';
import { castTarget, eliminateDeadCode, MAX_SEQUENCE_DIM } from '@fuselab/optimizer';
import type * as ortTypes from 'onnxruntime-web';
import { emptyPast, Generator, growingStepFeeds, lastRow, type GeneratorIo, type GeneratorOptions, type KvSequence } from './generator.ts';
import { installProfileSink } from './profiling.ts';
import { trackGpuMemory } from './gpu-memory.ts';

/** Graph input names of the static-KV decode contract. */
export const SEQLENS_K = 'seqlens_k';
export const TOTAL_SEQUENCE_LENGTH = 'total_sequence_length';

/** The model cannot take the static-KV contract (no GroupQueryAttention with a past). */
export class StaticKvError extends FuselabError {
  constructor(reason: string) {
    super('STATIC_KV', `static KV cache not possible: ${reason}`);
  }
}

/** True when the model already follows the static-KV decode contract. */
export function isStaticKvModel(model: Model): boolean {
  return model.graph.inputs.some((v) => v.name === SEQLENS_K) && model.graph.inputs.some((v) => v.name === TOTAL_SEQUENCE_LENGTH);
}

/**
 * A clone of a fused GQA decoder with the static-KV decode contract (see the file comment).
 * @throws StaticKvError when no GroupQueryAttention reads a past KV.
 */
export function staticKvDecodeModel(source: Model): Model {
  if (isStaticKvModel(source)) return source.clone();
  const model = source.clone();
  const g = model.graph;
  const gqa = g.nodes.filter((n) => n.opType === 'GroupQueryAttention' && n.domain === 'com.microsoft');
  if (!gqa.length) throw new StaticKvError('the graph has no GroupQueryAttention (MultiHeadAttention has no shared-buffer form): fuse with fuse-attention mhaAsGqa for GPT-2-style blocks');
  if (gqa.some((n) => !n.inputs[3] || !n.inputs[4])) throw new StaticKvError('a GroupQueryAttention has no past key/value input (export the decoder with a KV cache)');
  if (g.valueMap().has(SEQLENS_K) || g.valueMap().has(TOTAL_SEQUENCE_LENGTH)) throw new StaticKvError(`the graph already names a value '${SEQLENS_K}' or '${TOTAL_SEQUENCE_LENGTH}'`);
  const batch = g.inputs.find((v) => v.name.startsWith('past_key_values.'))?.shape?.[0] ?? 'batch_size';
  const seqlens = g.addInput(SEQLENS_K, { kind: 'tensor', dtype: 'int32', shape: [batch] });
  const total = g.addInput(TOTAL_SEQUENCE_LENGTH, { kind: 'tensor', dtype: 'int32', shape: [1] });
  const kvValues = new Set<Value>();
  for (const n of gqa) {
    n.setInput(5, seqlens);
    n.setInput(6, total);
    halfKvIo(model, n);
    for (const i of [3, 4]) kvValues.add(n.input(i));
    for (const o of [1, 2]) if (n.outputs[o]) kvValues.add(n.output(o));
  }
  eliminateDeadCode.run(model, {}, {});
  for (const v of [...g.inputs]) if (!v.initializer && v.useCount === 0 && (v.name === 'attention_mask' || v.name === 'position_ids')) g.removeInput(v);
  for (const v of kvValues) {
    const s = v.shape;
    if ((v.isGraphInput || v.isGraphOutput) && s?.length === 4) v.type = { kind: 'tensor', dtype: v.dtype, shape: [s[0], s[1], MAX_SEQUENCE_DIM, s[3]] };
  }
  return model;
}

/**
 * A float16 graph keeps float32 IO by default (convert-fp16 `keepIO`): a Cast after each past input
 * and before each present output of a GroupQueryAttention. The static contract needs past and present
 * to be one buffer that the attention updates in place, which a Cast in between makes impossible
 * (onnxruntime then allocates a separate present, one position longer than the buffer, and fails).
 * So the KV IO of such a node becomes float16 and those Casts go — half the KV memory too.
 */
function halfKvIo(model: Model, n: Node): void {
  const g = model.graph;
  for (const i of [3, 4]) {
    const cast = n.input(i).producer;
    const source = cast?.inputs[0];
    if (!cast || cast.opType !== 'Cast' || cast.domain !== '' || castTarget(cast) !== 'float16' || !source?.isGraphInput || source.dtype !== 'float32') continue;
    source.type = { kind: 'tensor', dtype: 'float16', shape: source.shape };
    n.setInput(i, source);
    if (cast.outputs.every((v) => !v || (v.useCount === 0 && !v.isGraphOutput))) g.removeNode(cast);
  }
  for (const o of [1, 2]) {
    const present = n.outputs[o];
    const use = present?.uses.length === 1 ? present.uses[0] : null;
    const cast = use?.node;
    const out = cast?.outputs[0];
    if (!present || present.isGraphOutput || !cast || cast.opType !== 'Cast' || cast.domain !== '' || castTarget(cast) !== 'float32' || !out?.isGraphOutput || out.useCount) continue;
    const name = out.name;
    g.setOutput(g.outputs.indexOf(out), present);
    g.removeNode(cast);
    present.name = name;
  }
}

const PINNED = Symbol.for('fuselab.keepRegistered');

/**
 * Keeps onnxruntime-web's registration of a caller-owned GPU buffer alive until the buffer dies, so
 * a graph-capture IO binding (made once) keeps a valid handle. onnxruntime-web registers a buffer on
 * each run by reading `buffer.mapState`, then stores `[handle, refcount]` under its own symbol
 * (description `gpuBufferMetadata`) and releases the handle when the count drops to 0 after the run.
 * We watch the `mapState` read and, right after it (a microtask, before the run's first await
 * returns), make the count NaN — the mark onnxruntime-web itself uses for buffers it owns, which it
 * never releases. Harmless without graph capture (the same handle is reused run after run).
 */
export function keepRegistered(buffer: GPUBuffer): void {
  const b = buffer as GPUBuffer & { [PINNED]?: true };
  if (b[PINNED]) return;
  let proto: object | null = Object.getPrototypeOf(buffer);
  let getter: (() => GPUBufferMapState) | undefined;
  while (proto && !getter) {
    getter = Object.getOwnPropertyDescriptor(proto, 'mapState')?.get as (() => GPUBufferMapState) | undefined;
    proto = Object.getPrototypeOf(proto);
  }
  const pin = () => {
    for (const s of Object.getOwnPropertySymbols(buffer)) {
      const meta = (buffer as unknown as Record<symbol, unknown>)[s];
      if (s.description === 'gpuBufferMetadata' && Array.isArray(meta) && meta.length === 2) meta[1] = NaN;
    }
  };
  Object.defineProperty(buffer, 'mapState', {
    configurable: true,
    get() {
      queueMicrotask(pin);
      return getter ? getter.call(buffer) : 'unmapped';
    },
  });
  Object.defineProperty(b, PINNED, { value: true });
}

export interface StaticKvOptions extends GeneratorOptions {
  /** Positions in each KV buffer (the context limit). Default: `maxContext`, else 1024. */
  maxSequenceLength?: number;
  /**
   * WebGPU: a growing-KV graph of the same weights (same external data, if any) that runs prompts
   * instead of the static one — a prompt's tactic, like a TensorRT profile's own kernels. Its present
   * outputs ([1, heads, prompt, head]) are copied into the static buffers' first positions.
   */
  prefill?: { model: Uint8Array; io: GeneratorIo };
}

interface GpuBinding {
  buffer: GPUBuffer;
  tensor: ortTypes.Tensor;
}

/**
 * Generation with a static KV cache (see the file comment). Same events, sampler, stops and stats as
 * `Generator`; `graphCapture` records the decode step on WebGPU and replays it every token.
 */
export class StaticKvGenerator extends Generator {
  private kvHost: Record<string, ortTypes.Tensor> | null = null;
  private gpu: { device: GPUDevice; kv: Record<string, GpuBinding>; ids: GpuBinding; positions: GpuBinding | null; seqlens: GpuBinding; total: GpuBinding; logits: GpuBinding; staging: GPUBuffer; vocab: number } | null = null;

  private constructor(
    options: StaticKvOptions,
    session: ortTypes.InferenceSession,
    /** Runs prompts (several tokens) when the decode session is captured; else the decode session. */
    private readonly prefillSession: ortTypes.InferenceSession,
    readonly maxSequenceLength: number,
    /** Set when `prefillSession` runs the growing-KV prompt graph (`options.prefill`). */
    private readonly prefillIo: GeneratorIo | null = null,
  ) {
    super(options, session, options.executionProvider === 'webgpu');
  }

  static override async create(options: StaticKvOptions): Promise<StaticKvGenerator> {
    const { ort, io } = options;
    if (!io.kv.length) throw new StaticKvError('the model has no KV cache inputs');
    const max = Math.floor(options.maxSequenceLength ?? (Number.isFinite(options.maxContext ?? Infinity) ? (options.maxContext as number) : 1024));
    if (!(max > 0)) throw new StaticKvError(`maxSequenceLength must be positive (got ${max})`);
    const webgpu = options.executionProvider === 'webgpu';
    const capture = webgpu && !!options.graphCapture;
    if (options.graphCapture && !webgpu) throw new StaticKvError('graph capture needs the WebGPU execution provider');
    if (options.layerTimings) installProfileSink();
    if (webgpu) trackGpuMemory();
    const outputs = [io.logits, ...io.kv.map((k) => k.output)];
    const base = {
      // the WebGPU EP reads enableGraphCapture from its own options, which onnxruntime-web 1.30 fills
      // only when the provider is given as an object (as a string, capture is silently off)
      executionProviders: [webgpu ? { name: 'webgpu' as const } : options.executionProvider],
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      logSeverityLevel: 3 as const,
      ...(options.externalData ? { externalData: options.externalData } : {}),
    };
    const gpuOut = webgpu ? { preferredOutputLocation: Object.fromEntries(outputs.map((o) => [o, 'gpu-buffer' as const])) } : {};
    const session = await ort.InferenceSession.create(options.model, {
      ...base,
      ...gpuOut,
      ...(capture ? { enableGraphCapture: true } : {}),
      ...(options.layerTimings ? { enableProfiling: true } : {}),
    });
    let prefill = session;
    const growingPrefill = webgpu && options.prefill ? options.prefill : null;
    if (growingPrefill) {
      try {
        // its present outputs stay on the GPU, to be copied into the static buffers; logits come back
        const presents = Object.fromEntries(growingPrefill.io.kv.map((k) => [k.output, 'gpu-buffer' as const]));
        prefill = await ort.InferenceSession.create(growingPrefill.model, { ...base, preferredOutputLocation: presents });
      } catch (e) {
        await session.release();
        throw e;
      }
    } else if (capture) {
      try {
        // prompts have another shape than the captured step: a second session (weights loaded twice).
        // One session can't do both: with enableGraphCapture, onnxruntime-web 1.30 binds IO on the first
        // run and never rebinds (its session table's "bound" flag), so a prompt run first would leave the
        // captured step bound to the prompt's buffers; run option gpu_graph_id=-1 alone doesn't help.
        prefill = await ort.InferenceSession.create(options.model, { ...base, ...gpuOut });
      } catch (e) {
        await session.release();
        throw e;
      }
    }
    const gen = new StaticKvGenerator({ ...options, maxContext: Math.min(options.maxContext ?? max, max) }, session, prefill, max, growingPrefill?.io ?? null);
    if (webgpu) {
      try {
        await gen.allocateGpu(ort);
      } catch (e) {
        await gen.release();
        throw e;
      }
    }
    return gen;
  }

  private async allocateGpu(ort: typeof ortTypes): Promise<void> {
    // typed as a Promise; onnxruntime-web 1.30 stores the device itself once a session exists
    const device = await (ort.env.webgpu as unknown as { device?: GPUDevice | Promise<GPUDevice> }).device;
    if (!device) throw new StaticKvError('onnxruntime-web exposes no WebGPU device (ort.env.webgpu.device) after creating the session');
    const { io } = this.options;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const make = (dataType: 'float32' | 'float16' | 'int32' | 'int64', dims: number[], bytesPer: number): GpuBinding => {
      const size = Math.max(16, Math.ceil((dims.reduce((a, b) => a * b, 1) * bytesPer) / 16) * 16);
      const buffer = device.createBuffer({ size, usage });
      keepRegistered(buffer);
      return { buffer, tensor: ort.Tensor.fromGpuBuffer(buffer, { dataType, dims }) as ortTypes.Tensor };
    };
    const kv: Record<string, GpuBinding> = {};
    for (const p of io.kv) {
      const half = (p.dtype ?? 'float32') === 'float16';
      kv[p.input] = make(half ? 'float16' : 'float32', [1, io.kvHeads, this.maxSequenceLength, io.headDim], half ? 2 : 4);
    }
    const vocab = this.vocabSize();
    const total = make('int32', [1], 4);
    device.queue.writeBuffer(total.buffer, 0, Int32Array.of(this.maxSequenceLength));
    const logits = make(this.logitsType(), [1, 1, vocab], this.logitsType() === 'float16' ? 2 : 4);
    // one mappable buffer for every token's logits row: creating and destroying one per token cost
    // ~0.6 ms of host time per step through dawn.node
    const staging = device.createBuffer({ size: logits.buffer.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.gpu = { device, kv, ids: make('int64', [1, 1], 8), positions: io.positionIds ? make('int64', [1, 1], 8) : null, seqlens: make('int32', [1], 4), total, logits, staging, vocab };
  }

  private logitsType(): 'float32' | 'float16' {
    return (this.session as unknown as { outputMetadata?: Array<{ name: string; type?: string }> }).outputMetadata?.find((m) => m.name === this.options.io.logits)?.type === 'float16' ? 'float16' : 'float32';
  }

  private vocabSize(): number {
    const meta = (this.session as unknown as { outputMetadata?: Array<{ name: string; shape?: Array<number | string> }> }).outputMetadata?.find((m) => m.name === this.options.io.logits);
    const last = meta?.shape?.[meta.shape.length - 1];
    if (typeof last !== 'number') throw new StaticKvError(`cannot read the vocabulary size from the declared shape of '${this.options.io.logits}'`);
    return last;
  }

  protected override openSequence(): KvSequence {
    return this.gpu ? this.gpuSequence(this.gpu) : this.hostSequence();
  }

  /** WebGPU: fixed buffers, inputs rewritten in place; the decode step is captured when asked. */
  private gpuSequence(gpu: NonNullable<StaticKvGenerator['gpu']>): KvSequence {
    const { ort, io } = this.options;
    const kvFeeds: Record<string, ortTypes.Tensor> = {};
    const kvFetches: Record<string, ortTypes.Tensor> = {};
    for (const p of io.kv) {
      kvFeeds[p.input] = gpu.kv[p.input].tensor;
      kvFetches[p.output] = gpu.kv[p.input].tensor;
    }
    return {
      run: async (ids, pastLen) => {
        if (pastLen + ids.length > this.maxSequenceLength) throw new StaticKvError(`${pastLen + ids.length} positions do not fit the ${this.maxSequenceLength}-position KV buffers`);
        gpu.device.queue.writeBuffer(gpu.seqlens.buffer, 0, Int32Array.of(pastLen + ids.length - 1));
        if (ids.length === 1) {
          gpu.device.queue.writeBuffer(gpu.ids.buffer, 0, BigInt64Array.of(BigInt(ids[0])));
          const feeds: Record<string, ortTypes.Tensor> = { [io.inputIds]: gpu.ids.tensor, [SEQLENS_K]: gpu.seqlens.tensor, [TOTAL_SEQUENCE_LENGTH]: gpu.total.tensor, ...kvFeeds };
          if (io.positionIds && gpu.positions) {
            gpu.device.queue.writeBuffer(gpu.positions.buffer, 0, BigInt64Array.of(BigInt(pastLen)));
            feeds[io.positionIds] = gpu.positions.tensor;
          }
          await this.session.run(feeds, { [io.logits]: gpu.logits.tensor, ...kvFetches });
          return this.readLogits(gpu);
        }
        // a prompt from position 0 on the growing-KV prompt graph, its KV copied into the static buffers
        if (this.prefillIo && pastLen === 0) return this.growingPrefill(gpu, this.prefillIo, ids);
        // a prompt: its own input shape, logits read back by onnxruntime-web
        // total_sequence_length: the positions the prompt attends to, not the buffer length (onnxruntime
        // reads it on the CPU outside capture, and GroupQueryAttention's QK^T and softmax span it)
        const total = new ort.Tensor('int32', Int32Array.of(pastLen + ids.length), [1]);
        const feeds: Record<string, ortTypes.Tensor> = { [io.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]), [SEQLENS_K]: gpu.seqlens.tensor, [TOTAL_SEQUENCE_LENGTH]: total, ...kvFeeds };
        if (io.positionIds) feeds[io.positionIds] = positionsTensor(ort, pastLen, ids.length);
        const out = await this.prefillSession.run(feeds, { ...kvFetches, [io.logits]: null as unknown as ortTypes.Tensor });
        const logits = out[io.logits];
        const row = lastRow(await logits.getData(), logits.dims, logits.type);
        logits.dispose();
        return row.slice();
      },
      close: () => {},
    };
  }

  /**
   * Runs a prompt on the growing-KV graph (empty past) and copies each present [1, heads, n, head]
   * into its static buffer [1, heads, max, head]: one copy per head, all in one command buffer,
   * queued before the next step's work.
   */
  private async growingPrefill(gpu: NonNullable<StaticKvGenerator['gpu']>, pio: GeneratorIo, ids: number[]): Promise<Float32Array> {
    const { ort, io } = this.options;
    const n = ids.length;
    const out = await this.prefillSession.run({ ...growingStepFeeds(ort, pio, ids, 0), ...emptyPast(ort, pio) });
    try {
      const enc = gpu.device.createCommandEncoder();
      for (let i = 0; i < pio.kv.length; i++) {
        const present = out[pio.kv[i].output];
        // static buffers are keyed by their past input's name, which both graphs share (past_key_values.N.*)
        const target = gpu.kv[pio.kv[i].input];
        if (!target) throw new StaticKvError(`the prompt graph's '${pio.kv[i].input}' has no static KV buffer`);
        const bytesPer = present.type === 'float16' ? 2 : 4;
        const [, heads, len, head] = present.dims;
        if (len !== n || heads !== io.kvHeads || head !== io.headDim) throw new StaticKvError(`the prompt graph's '${pio.kv[i].output}' is [${present.dims.join(', ')}], not [1, ${io.kvHeads}, ${n}, ${io.headDim}]`);
        const row = n * head * bytesPer;
        for (let h = 0; h < heads; h++) enc.copyBufferToBuffer(present.gpuBuffer as GPUBuffer, h * row, target.buffer, h * this.maxSequenceLength * head * bytesPer, row);
      }
      gpu.device.queue.submit([enc.finish()]);
      const logits = out[pio.logits];
      return lastRow(await logits.getData(), logits.dims, logits.type).slice();
    } finally {
      for (const t of Object.values(out)) t.dispose();
    }
  }

  /** Copies the logits row to the mappable staging buffer and reads it (vocab × 4 bytes per token). */
  private async readLogits(gpu: NonNullable<StaticKvGenerator['gpu']>): Promise<Float32Array> {
    const size = gpu.logits.buffer.size;
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(gpu.logits.buffer, 0, gpu.staging, 0, size);
    gpu.device.queue.submit([enc.finish()]);
    await gpu.staging.mapAsync(GPUMapMode.READ);
    try {
      const bytes = gpu.staging.getMappedRange().slice(0);
      return this.logitsType() === 'float16' ? lastRow(new Uint16Array(bytes, 0, gpu.vocab), [1, 1, gpu.vocab], 'float16') : new Float32Array(bytes, 0, gpu.vocab);
    } finally {
      gpu.staging.unmap();
    }
  }

  /** wasm: the same contract with host tensors (present, [.., max, ..], fed back as the next past). */
  private hostSequence(): KvSequence {
    const { ort, io } = this.options;
    if (!this.kvHost) {
      this.kvHost = {};
      for (const p of io.kv) {
        const n = io.kvHeads * this.maxSequenceLength * io.headDim;
        const half = (p.dtype ?? 'float32') === 'float16';
        this.kvHost[p.input] = new ort.Tensor(half ? 'float16' : 'float32', half ? new Uint16Array(n) : new Float32Array(n), [1, io.kvHeads, this.maxSequenceLength, io.headDim]);
      }
    }
    const total = new ort.Tensor('int32', Int32Array.of(this.maxSequenceLength), [1]);
    return {
      run: async (ids, pastLen) => {
        if (pastLen + ids.length > this.maxSequenceLength) throw new StaticKvError(`${pastLen + ids.length} positions do not fit the ${this.maxSequenceLength}-position KV buffers`);
        const kv = this.kvHost as Record<string, ortTypes.Tensor>;
        const feeds: Record<string, ortTypes.Tensor> = {
          [io.inputIds]: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]),
          [SEQLENS_K]: new ort.Tensor('int32', Int32Array.of(pastLen + ids.length - 1), [1]),
          [TOTAL_SEQUENCE_LENGTH]: total,
          ...kv,
        };
        if (io.positionIds) feeds[io.positionIds] = positionsTensor(ort, pastLen, ids.length);
        const out = await this.session.run(feeds);
        for (const p of io.kv) kv[p.input] = out[p.output];
        const logits = out[io.logits];
        return lastRow(await logits.getData(), logits.dims, logits.type).slice();
      },
      close: () => {},
    };
  }

  override async release(): Promise<void> {
    if (this.prefillSession !== this.session) await this.prefillSession.release();
    await super.release();
    if (this.gpu) {
      for (const b of [...Object.values(this.gpu.kv), this.gpu.ids, this.gpu.positions, this.gpu.seqlens, this.gpu.total, this.gpu.logits]) b?.buffer.destroy();
      this.gpu.staging.destroy();
      this.gpu = null;
    }
    this.kvHost = null;
  }
}

/** position_ids [1, n] = pastLen … pastLen + n − 1 (GPT-2's learned positions read them). */
function positionsTensor(ort: typeof ortTypes, pastLen: number, n: number): ortTypes.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(pastLen + i)), [1, n]);
}
