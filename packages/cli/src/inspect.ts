/**
 * `fuselab inspect`: what is in a model — op histogram, IO with dtypes and symbolic shapes,
 * parameters by dtype, opsets, producer, external-data files. `--json` is a stable contract.
 */
import { formatShape, lookupOp, type Model, type Value, type Dim } from '@fuselab/graph-core';
import type { ModelFile } from '@fuselab/node-io';

export interface InspectIO {
  name: string;
  dtype: string | null;
  /** Dims: numbers, symbol strings, or null when unknown; null for unknown rank. */
  shape: Dim[] | null;
}

/** The `inspect --json` contract (version 1). Fields are only ever added. */
export interface InspectReport {
  version: 1;
  file: string;
  fileBytes: number;
  /** Nodes of the main graph. */
  nodes: number;
  /** Nodes including subgraphs (If/Loop/Scan bodies) and local function bodies. */
  nodesTotal: number;
  /** opType (prefixed `domain::` outside the default domain) → count, over all graphs. */
  ops: Record<string, number>;
  inputs: InspectIO[];
  outputs: InspectIO[];
  /** Number of initializers (main graph and subgraphs). */
  initializers: number;
  /** Total parameter (element) count of initializers and Constant tensors. */
  parameters: number;
  parameterBytes: number;
  parametersByDType: Record<string, { count: number; bytes: number }>;
  opsets: Record<string, number>;
  irVersion: number;
  producer: { name: string; version: string };
  functions: string[];
  metadata: Record<string, string>;
  externalData: Array<{ location: string; bytes: number | null; tensors: number; tensorBytes: number }>;
  /** Ops the registry doesn't know at the imported opset (kept in the model, flagged here), with counts. */
  unknownOps: Record<string, number>;
}

const io = (v: Value): InspectIO => ({ name: v.name, dtype: v.dtype, shape: v.shape ? [...v.shape] : null });

export function inspectModel(file: ModelFile): InspectReport {
  const model: Model = file.model;
  const ops: Record<string, number> = {};
  let nodesTotal = 0;
  const unknownOps: Record<string, number> = {};
  let initializers = 0;
  const ext = new Map<string, { tensors: number; tensorBytes: number }>();
  const graphs = [model.graph, ...[...model.functions.values()].map((f) => f.body)];
  const stack = [...graphs];
  while (stack.length) {
    const g = stack.pop()!;
    initializers += g.initializers.size;
    for (const v of g.initializers.values()) {
      const s = v.initializer?.storage;
      if (s?.kind === 'external') {
        const e = ext.get(s.location) ?? { tensors: 0, tensorBytes: 0 };
        e.tensors++;
        e.tensorBytes += v.initializer?.expectedByteLength ?? 0;
        ext.set(s.location, e);
      }
    }
    for (const n of g.nodes) {
      nodesTotal++;
      ops[n.qualifiedType] = (ops[n.qualifiedType] ?? 0) + 1;
      const isLocalFunction = !!model.functionFor(n.domain, n.opType, n.overload);
      if (!isLocalFunction && !lookupOp(n.domain, n.opType, model.opset(n.domain))) unknownOps[n.qualifiedType] = (unknownOps[n.qualifiedType] ?? 0) + 1;
      stack.push(...n.subgraphs());
    }
  }
  const params = model.parameterStats();
  return {
    version: 1,
    file: file.path,
    fileBytes: file.byteLength,
    nodes: model.graph.nodeCount,
    nodesTotal,
    ops: Object.fromEntries(Object.entries(ops).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    inputs: model.graph.inputs.filter((v) => !v.initializer).map(io),
    outputs: model.graph.outputs.map(io),
    initializers,
    parameters: params.count,
    parameterBytes: params.bytes,
    parametersByDType: params.byDType,
    opsets: Object.fromEntries([...model.opsetImports].map(([d, v]) => [d || 'ai.onnx', v])),
    irVersion: model.irVersion,
    producer: { name: model.producerName, version: model.producerVersion },
    functions: [...model.functions.keys()],
    metadata: Object.fromEntries(model.metadata),
    externalData: [...ext].map(([location, e]) => ({ location, bytes: file.externalFiles.get(location) ?? null, ...e })),
    unknownOps,
  };
}

const fmtBytes = (n: number): string =>
  n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
const fmtCount = (n: number): string => (n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n));

/** Human-readable form of the report. */
export function formatInspect(r: InspectReport): string {
  const lines: string[] = [];
  const ioLine = (x: InspectIO) => `  ${x.name.padEnd(32)} ${String(x.dtype ?? '?').padEnd(8)} ${formatShape(x.shape)}`;
  lines.push(`${r.file}  (${fmtBytes(r.fileBytes)})`);
  lines.push(`producer   ${r.producer.name} ${r.producer.version}`.trimEnd());
  lines.push(`ir         ${r.irVersion}   opsets ${Object.entries(r.opsets).map(([d, v]) => `${d}=${v}`).join(' ')}`);
  lines.push(`nodes      ${r.nodes}${r.nodesTotal !== r.nodes ? ` (${r.nodesTotal} with subgraphs/functions)` : ''}`);
  lines.push(`parameters ${fmtCount(r.parameters)} in ${r.initializers} initializers, ${fmtBytes(r.parameterBytes)}`);
  for (const [dt, s] of Object.entries(r.parametersByDType)) lines.push(`  ${dt.padEnd(10)} ${fmtCount(s.count).padStart(8)}  ${fmtBytes(s.bytes)}`);
  lines.push('inputs');
  lines.push(...r.inputs.map(ioLine));
  lines.push('outputs');
  lines.push(...r.outputs.map(ioLine));
  lines.push('ops');
  for (const [op, n] of Object.entries(r.ops)) lines.push(`  ${op.padEnd(32)} ${String(n).padStart(6)}`);
  const unknown = Object.entries(r.unknownOps);
  if (unknown.length) lines.push(`unknown ops (kept as is; no schema at this opset): ${unknown.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  if (r.functions.length) lines.push(`functions  ${r.functions.join(', ')}`);
  if (r.externalData.length) {
    lines.push('external data');
    for (const e of r.externalData) lines.push(`  ${e.location}  ${e.bytes === null ? 'MISSING' : fmtBytes(e.bytes)}  (${e.tensors} tensors, ${fmtBytes(e.tensorBytes)})`);
  }
  return lines.join('\n');
}
