/**
 * `fuselab compare A B`: runs two models on the same inputs in onnxruntime-web and compares every
 * output with a named tolerance; when an output differs, exposes the intermediate values both
 * models share and names the first divergent node (Polygraphy's `--mark all`). Exit 0 when all
 * outputs pass, 1 when they differ. The `--json` report is a stable contract (fields only added).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FuselabError, loadModel, PROTOBUF_LIMIT } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { compareModels, parseEngine, parseRecordedInputs, toleranceByName, TOLERANCES, CompareError, type ComparableModel, type MarkMode, type ModelComparison, type ValueComparison } from '@fuselab/gpu-runtime';

export const COMPARE_USAGE = `Usage: fuselab compare A.onnx B.onnx [options]

Runs A and B in onnxruntime-web (wasm) on the same inputs and compares every output: max abs and
rel error, cosine, pass/fail against a named tolerance. When an output differs, the values both
models share are exposed as extra outputs and the first one (in A's order) outside the tolerance
names the node where the models part ways. Exit 0 when every output passes, 1 when they differ.

Options:
  --inputs FILE.json       recorded inputs: { name: { dtype, dims, data } } with data as base64
                           (little-endian) or an array of numbers; a fixture's io.json works too
  --seed N                 seed of the random inputs (default 1); token ids stay below the vocab,
                           masks are ones, positions follow the past
  --dims NAME=V[,NAME=V]   symbolic dim values for random inputs
                           (default batch_size=1,sequence_length=8,past_sequence_length=4)
  --tolerance NAME         ${Object.keys(TOLERANCES).join(' | ')} (default fp32-fusion)
  --mark auto|all|none     intermediates: only when an output differs (default), always, never
  --provenance FILE.json   the report of \`fuselab optimize --report\` that made B from A: maps
                           fused nodes back to A's values, so more of them can be compared
  --json                   print the report as JSON
`;

/** The report `--json` prints. */
export interface CompareReport {
  version: 1;
  a: { path: string; nodes: number };
  b: { path: string; nodes: number };
  passed: boolean;
  tolerance: { name: string; atol: number; rtol: number; minCosine: number | null };
  inputs: ModelComparison['inputs'];
  /** Per output; `maxAbsErr`/`maxRelErr` are null when not comparable (missing, shape mismatch, NaN). */
  outputs: ValueComparison[];
  firstDivergence: ModelComparison['firstDivergence'];
  intermediates: ModelComparison['intermediates'];
  ms: number;
}

/** A model ready to compare, and what to close afterwards. */
export interface LoadedComparable extends ComparableModel {
  close(): void;
}

/**
 * Opens one side of a comparison: an ONNX file, or an engine (its model section, checked against the
 * manifest's checksums, and its provenance back to the source graph).
 */
export async function loadComparable(path: string): Promise<LoadedComparable> {
  if (/\.engine$/i.test(path)) {
    let raw: Uint8Array;
    try {
      raw = readFileSync(path);
    } catch (e) {
      throw new CompareError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const engine = await parseEngine(raw, { file: path });
    const bytes = engine.section('model') as Uint8Array;
    if (engine.section('weights')) throw new CompareError(`${path}: engines with external weights are not supported by compare yet`);
    return { label: path, model: loadModel(bytes, { file: `${path} (model section)` }), bytes, provenance: engine.manifest.provenance, close: () => {} };
  }
  const file = openModelFile(path);
  try {
    // the file's own bytes when they are the whole model; otherwise the runner re-serializes with weights inline
    const bytes = file.externalFiles.size === 0 && file.byteLength < PROTOBUF_LIMIT ? readFileSync(path) : undefined;
    return { label: path, model: file.model, bytes, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

export async function compareCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      inputs: { type: 'string' },
      seed: { type: 'string' },
      dims: { type: 'string' },
      tolerance: { type: 'string' },
      mark: { type: 'string' },
      provenance: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(COMPARE_USAGE);
    return 0;
  }
  if (positionals.length !== 2) {
    process.stderr.write(`fuselab compare: need two models, A and B\n\n${COMPARE_USAGE}`);
    return 2;
  }
  const tolerance = toleranceByName(values.tolerance ?? 'fp32-fusion');
  const seed = values.seed === undefined ? undefined : parseIntArg('--seed', values.seed, 0);
  const dims = values.dims === undefined ? undefined : parseDims(values.dims);
  const mark = (values.mark ?? 'auto') as MarkMode;
  if (!['auto', 'all', 'none'].includes(mark)) throw new FuselabError('USAGE', `--mark must be auto, all or none (got '${values.mark}')`);
  const inputs = values.inputs ? parseRecordedInputs(readJson(values.inputs), values.inputs) : undefined;
  const provenance = values.provenance ? readProvenance(values.provenance) : undefined;

  const [pathA, pathB] = positionals;
  const a = await loadComparable(pathA);
  let b: LoadedComparable | undefined;
  try {
    b = await loadComparable(pathB);
    const r = await compareModels(a, { ...b, provenance: provenance ?? b.provenance }, { tolerance, seed, dims, inputs, mark });
    const report: CompareReport = {
      version: 1,
      a: { path: pathA, nodes: a.model.graph.nodeCount },
      b: { path: pathB, nodes: b.model.graph.nodeCount },
      passed: r.passed,
      tolerance: { name: tolerance.name, atol: tolerance.atol, rtol: tolerance.rtol, minCosine: tolerance.minCosine ?? null },
      inputs: r.inputs,
      outputs: r.outputs,
      firstDivergence: r.firstDivergence,
      intermediates: r.intermediates,
      ms: +r.ms.toFixed(1),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report, finite, 2)}\n`);
    else process.stdout.write(`${formatCompare(report)}\n`);
    if (!r.passed) process.stderr.write(`fuselab compare: ${failureLine(report)}\n`);
    return r.passed ? 0 : 1;
  } finally {
    a.close();
    b?.close();
  }
}

/** JSON has no Infinity/NaN: write null (the contract says so). */
const finite = (_k: string, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);

function parseIntArg(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min) throw new FuselabError('USAGE', `${flag} must be an integer ≥ ${min} (got '${text}')`);
  return n;
}

function parseDims(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]+)=(\d+)$/.exec(part);
    if (!m) throw new FuselabError('USAGE', `--dims: '${part}' is not NAME=VALUE (e.g. batch_size=1,sequence_length=16)`);
    out[m[1].trim()] = Number(m[2]);
  }
  return out;
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CompareError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CompareError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** The `provenance` array of an optimize report (or a bare array of `{ node, sources }`). */
function readProvenance(path: string): ComparableModel['provenance'] {
  const j = readJson(path) as { provenance?: unknown } | unknown[];
  const list = Array.isArray(j) ? j : (j as { provenance?: unknown }).provenance;
  if (!Array.isArray(list)) throw new CompareError(`${path}: provenance: expected the report of 'fuselab optimize --report' (an object with a 'provenance' array)`);
  list.forEach((p, i) => {
    const e = p as { node?: unknown; sources?: unknown };
    if (typeof e?.node !== 'string' || !Array.isArray(e.sources) || !e.sources.every((s) => typeof s === 'string')) {
      throw new CompareError(`${path}: provenance[${i}]: expected { node: string, sources: string[] }`);
    }
  });
  return list as Array<{ node: string; sources: string[] }>;
}

const num = (x: number, digits = 2) => (Number.isFinite(x) ? x.toExponential(digits) : '—');

function failureLine(r: CompareReport): string {
  const bad = r.outputs.filter((o) => !o.passed).map((o) => `'${o.name}' (${o.status}${o.status === 'fail' ? `, max abs ${num(o.maxAbsErr)}` : ''})`);
  const d = r.firstDivergence;
  const where = d
    ? `; first divergent node: ${d.nodeA.opType} '${d.nodeA.name}' in A${d.nodeB.name !== d.nodeA.name ? ` (${d.nodeB.opType} '${d.nodeB.name}' in B)` : ''}, value '${d.name}'`
    : r.intermediates.ran ? '; no shared intermediate value differs (the divergence is inside a fused or unmatched part)' : '';
  return `outputs differ beyond tolerance '${r.tolerance.name}': ${bad.join(', ')}${where}`;
}

export function formatCompare(r: CompareReport): string {
  const lines = [
    `A ${r.a.path} (${r.a.nodes} nodes)`,
    `B ${r.b.path} (${r.b.nodes} nodes)`,
    r.inputs.source === 'recorded'
      ? `inputs: recorded (${Object.entries(r.inputs.shapes).map(([k, v]) => `${k} ${v.dims.join('x')}`).join(', ')})`
      : `inputs: seed ${r.inputs.seed}, ${Object.entries(r.inputs.dims ?? {}).map(([k, v]) => `${k}=${v}`).join(' ')}`,
    `tolerance ${r.tolerance.name} (atol ${r.tolerance.atol}, rtol ${r.tolerance.rtol}, cosine ≥ ${r.tolerance.minCosine ?? 0.9999})`,
    '',
  ];
  const w = Math.max(6, ...r.outputs.map((o) => o.name.length));
  lines.push(`${'output'.padEnd(w)}  ${'dims'.padEnd(12)} ${'max abs'.padStart(9)} ${'max rel'.padStart(9)} ${'cosine'.padStart(10)}  result`);
  for (const o of r.outputs) {
    const dims = (o.dimsB ?? o.dimsA ?? []).join('x');
    lines.push(`${o.name.padEnd(w)}  ${dims.padEnd(12)} ${num(o.maxAbsErr).padStart(9)} ${num(o.maxRelErr).padStart(9)} ${(Number.isFinite(o.cosine) ? o.cosine.toFixed(6) : '—').padStart(10)}  ${o.status === 'pass' ? 'PASS' : o.status.toUpperCase()}`);
  }
  const im = r.intermediates;
  if (im.ran) {
    const m = im.matched;
    lines.push('', `intermediates: ${im.compared} of ${im.valuesA} values of A compared (matched by name ${m.name}, provenance ${m.provenance}, consumer ${m.consumer}${im.skipped ? `; ${im.skipped} skipped, shapes differ` : ''}), ${im.failed} outside tolerance`);
    const d = r.firstDivergence;
    if (d) {
      lines.push(`first divergent value: '${d.name}'${d.nameB !== d.name ? ` (B: '${d.nameB}', matched by ${d.match})` : ''}  max abs ${num(d.maxAbsErr)}  cosine ${Number.isFinite(d.cosine) ? d.cosine.toFixed(6) : '—'}${d.status !== 'fail' ? `  ${d.status}` : ''}`);
      lines.push(`  produced by A: ${d.nodeA.opType} '${d.nodeA.name}' (node ${d.nodeIndex} in topological order; ${d.matchedBefore} shared values match before it)`);
      lines.push(`           B: ${d.nodeB.opType} '${d.nodeB.name}'`);
    }
  }
  lines.push('', r.passed ? 'PASSED: all outputs within tolerance' : 'FAILED');
  return lines.join('\n');
}
