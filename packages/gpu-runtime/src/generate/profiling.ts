/**
 * Per-node timings from onnxruntime-web's own profiler, mapped back to the source graph.
 *
 * onnxruntime-web (1.30) writes its Chrome-trace profile through the wasm module's stdout when
 * `session.endProfiling()` is called: `console.log` in a browser (bound when the wasm module starts),
 * `process.stdout` in Node. `captureProfile` swaps a sink in for the duration of that call, so the
 * trace is parsed rather than printed. `installProfileSink` must run before the first session is
 * created for the browser path (it wraps `console.log` before onnxruntime binds it).
 *
 * Events: per node a `"cat":"Node"` event named `<node>_kernel_time` (host-side kernel time, all
 * providers) and, on WebGPU with timestamp queries, `"cat":"Api"` events named
 * `<node>&<opType>&<program>` carrying GPU time per program. GPU time wins where present.
 */

interface TraceEvent {
  cat: string;
  name: string;
  dur: number;
  ts: number;
  args?: { op_name?: string; provider?: string };
}

export interface NodeTiming {
  /** Node name in the engine's (optimized) graph. */
  node: string;
  opType: string;
  provider: string;
  /** Mean time per decode step (one new token), ms. */
  decodeMs: number;
  /** Time in the prefill run, ms. */
  prefillMs: number;
  /** 'gpu' when from WebGPU timestamp queries, 'kernel' when host-side kernel time. */
  source: 'gpu' | 'kernel';
  /** The original graph's nodes this one came from (itself when not rewritten). */
  sources: string[];
}

export interface LayerTimings {
  nodes: NodeTiming[];
  /** Sum over nodes per decode step and in prefill, ms. */
  decodeMs: number;
  prefillMs: number;
  runs: number;
}

type Sink = (text: string) => void;
let sink: Sink | null = null;
let installed = false;

/** The part of Node's `fs` module onnxruntime-web's wasm writes its stdout through (`writeSync(1, …)`). */
export interface NodeFsLike {
  writeSync: (...args: never[]) => number;
}

/**
 * Wraps console.log once so profile output can be diverted (browsers and workers: onnxruntime-web's
 * wasm binds console.log when it starts). Node hosts pass their `fs` module: there the wasm writes
 * to fd 1 with `fs.writeSync`, which is wrapped too. Idempotent per target.
 */
export function installProfileSink(nodeFs?: NodeFsLike): void {
  if (!installed) {
    installed = true;
    const original = console.log.bind(console);
    console.log = (...args: unknown[]) => {
      if (sink) sink(args.map(String).join(' ') + '\n');
      else original(...args);
    };
  }
  if (nodeFs && !fsWrapped.has(nodeFs)) {
    fsWrapped.add(nodeFs);
    const write = nodeFs.writeSync as unknown as (fd: unknown, data: unknown, ...rest: unknown[]) => number;
    (nodeFs as { writeSync: unknown }).writeSync = (fd: unknown, data: unknown, ...rest: unknown[]): number => {
      if (sink && fd === 1 && (typeof data === 'string' || data instanceof Uint8Array)) {
        const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
        sink(text);
        return typeof data === 'string' ? new TextEncoder().encode(data).byteLength : data.byteLength;
      }
      return write(fd, data, ...rest);
    };
  }
}

const fsWrapped = new WeakSet<object>();

/** Runs `endProfiling` with output diverted and returns the trace events (empty if none came). */
export function captureProfile(endProfiling: () => void): TraceEvent[] {
  let text = '';
  sink = (t) => { text += t; };
  try {
    endProfiling();
  } finally {
    sink = null;
  }
  const start = text.indexOf('[');
  const end = text.lastIndexOf(']');
  if (start < 0 || end < start) return [];
  try {
    return JSON.parse(text.slice(start, end + 1)) as TraceEvent[];
  } catch {
    return [];
  }
}

/**
 * Aggregates trace events per node: the first `model_run` is the prefill, the rest are decode
 * steps (averaged). `provenance` maps fused nodes to their source nodes.
 */
export function layerTimings(events: TraceEvent[], provenance: ReadonlyArray<{ node: string; sources: string[] }> = []): LayerTimings {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => a.ts - b.ts);
  const runOf = (ts: number) => {
    for (let i = runs.length - 1; i >= 0; i--) if (ts >= runs[i].ts) return i;
    return 0;
  };
  const bySource = new Map(provenance.map((p) => [p.node, p.sources]));
  const gpu = events.some((e) => e.cat === 'Api' && e.name.includes('&'));
  const acc = new Map<string, { opType: string; provider: string; prefill: number; decode: number }>();
  for (const e of events) {
    let node: string;
    let opType: string;
    let provider: string;
    if (gpu && e.cat === 'Api' && e.name.includes('&')) {
      [node, opType] = e.name.split('&');
      provider = 'WebGpuExecutionProvider';
    } else if (e.cat === 'Node' && e.name.endsWith('_kernel_time')) {
      node = e.name.slice(0, -'_kernel_time'.length);
      opType = e.args?.op_name ?? '';
      provider = e.args?.provider ?? '';
      // with GPU times available, host kernel times of GPU nodes would double count
      if (gpu && provider === 'WebGpuExecutionProvider') continue;
    } else continue;
    let a = acc.get(node);
    if (!a) acc.set(node, (a = { opType, provider, prefill: 0, decode: 0 }));
    if (runOf(e.ts) === 0) a.prefill += e.dur;
    else a.decode += e.dur;
  }
  const steps = Math.max(1, runs.length - 1);
  const nodes: NodeTiming[] = [...acc].map(([node, a]) => ({
    node,
    opType: a.opType,
    provider: a.provider,
    decodeMs: a.decode / steps / 1000,
    prefillMs: a.prefill / 1000,
    source: gpu && a.provider === 'WebGpuExecutionProvider' ? 'gpu' : 'kernel',
    sources: bySource.get(node) ?? [node],
  }));
  nodes.sort((x, y) => y.decodeMs - x.decodeMs || y.prefillMs - x.prefillMs);
  return { nodes, decodeMs: nodes.reduce((s, n) => s + n.decodeMs, 0), prefillMs: nodes.reduce((s, n) => s + n.prefillMs, 0), runs: runs.length };
}
