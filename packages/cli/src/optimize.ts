/**
 * `fuselab optimize MODEL -o OUT.onnx`: runs a workflow of passes to a fixed point, validates the
 * result against the original in onnxruntime-web, and only then writes it (atomically). The report
 * JSON is a stable contract (fields are only ever added).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PROTOBUF_LIMIT, FuselabError, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { openModelFile, saveModelFile, writeFileAtomic } from '@fuselab/node-io';
import { defaultWorkflow, parseProfiles, planMemory, parseWorkflow, PASSES, profileDimValues, type Diagnostic, type OptimizationProfile, type OptimizeRecord, type Workflow } from '@fuselab/optimizer';
import { validateModels, validationCases, type ValidationReport } from '@fuselab/gpu-runtime';
import { startReferenceRun, type ReferenceRun } from './reference-runner.ts';
import { finishPrecisionReport, formatPrecision, parsePrecisionFlags, PRECISION_OPTIONS, PRECISION_USAGE, type PrecisionReport } from './precision-flags.ts';
import { runPipeline } from './pipeline.ts';

export interface OptimizeReport {
  version: 1;
  input: string;
  output: string | null;
  workflow: Workflow;
  nodesBefore: number;
  nodesAfter: number;
  fused: Record<string, number>;
  passes: Array<{ name: string; round: number; modified: boolean; ms: number; nodesBefore: number; nodesAfter: number; stats: unknown }>;
  validation: { passed: boolean; skipped?: string; tolerance?: string; outputs: Array<{ name: string; maxAbsErr: number; maxRelErr: number; cosine: number; passed: boolean }>; ms?: number };
  provenance: OptimizeRecord['provenance'];
  diagnostics: Diagnostic[];
  /** Static memory plan of activations before and after, at `dims` (the profile's opt shapes, or a decode-like default). */
  memory: {
    dims: Record<string, number>;
    before: MemorySummary;
    after: MemorySummary;
    kvCacheBytesPerToken: number | null;
  };
  /** Present when a precision flag (--fp16, --int8, --int4) was given. */
  precision?: PrecisionReport;
  totalMs: number;
}

export interface MemorySummary {
  naiveBytes: number;
  arenaBytes: number;
  peakLiveBytes: number;
  weightsBytes: number;
  unknownSizes: number;
}

/** Memory-plan shapes when no profile is given: one 128-token prefill after a 128-token past. */
const DEFAULT_PLAN_DIMS = { batch_size: 1, batch: 1, sequence_length: 128, past_sequence_length: 128 };

export class ValidationFailedError extends FuselabError {
  constructor(report: ValidationReport) {
    const bad = report.outputs.filter((o) => !o.passed).map((o) => `${o.name} (max abs ${o.maxAbsErr.toExponential(2)}, cosine ${o.cosine.toFixed(6)})`);
    super('VALIDATION_FAILED', `optimized model does not match the original within tolerance '${report.tolerance.name}' (atol ${report.tolerance.atol}, rtol ${report.tolerance.rtol}): ${bad.join('; ')}; no output written`);
  }
}

export const OPTIMIZE_USAGE = `Usage: fuselab optimize MODEL.onnx -o OUT.onnx [options]

Options:
  -o, --output FILE        where to write the optimized model (standard ONNX)
  --workflow FILE          workflow JSON (default: the built-in cleanup + fusion workflow)
  --profile NAME:INPUT=MIN,OPT,MAX[;INPUT=...]
                           optimization profile (repeatable); shapes as 1x128, symbols allowed.
                           Dims with MIN=OPT=MAX are frozen and their shape math is folded.
  --optimize-for NAME      the profile whose frozen dims the passes may use (default: the first)
  --report FILE            write the JSON report (nodes, fused ops, passes, validation, diagnostics)
  --no-validate            skip validation against the original (not recommended)
  --external-data          store weights in OUT.onnx.data (automatic above 2 GiB)
  --json                   print the report to stdout instead of the summary

${PRECISION_USAGE}`;

export async function optimizeCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      workflow: { type: 'string' },
      profile: { type: 'string', multiple: true },
      'optimize-for': { type: 'string' },
      report: { type: 'string' },
      'no-validate': { type: 'boolean' },
      'external-data': { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      ...PRECISION_OPTIONS,
    },
  });
  if (values.help) {
    process.stdout.write(OPTIMIZE_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.output) {
    process.stderr.write(`fuselab optimize: need MODEL and -o OUT.onnx\n\n${OPTIMIZE_USAGE}`);
    return 2;
  }
  const t0 = performance.now();
  const precisionRequest = parsePrecisionFlags(values);
  const workflow = values.workflow ? parseWorkflow(readFileSync(values.workflow, 'utf8'), PASSES) : defaultWorkflow();
  if (values.profile?.length) workflow.profiles = [...(workflow.profiles ?? []), ...parseProfiles(values.profile)];
  const profile = pickProfile(workflow.profiles ?? [], values['optimize-for']);
  const file = openModelFile(positionals[0]);
  let reference: ReferenceRun | null = null;
  try {
    const original = file.model.clone();
    // the original's validation runs start now, in a worker thread, while the passes run here
    const inline = file.externalFiles.size === 0 && file.byteLength < PROTOBUF_LIMIT;
    const validateSpec = profile ? { inputSpec: { dims: profileDimValues(original, profile) } } : {};
    if (!values['no-validate'] && inline) reference = startReferenceRun(positionals[0], validationCases(original, validateSpec));
    const progress = (msg: string) => { if (!values.json) process.stderr.write(`${msg}\n`); };
    // the passes, then precision once on the fused graph (pipeline.ts, shared with `build`)
    const { record, precision, fusedOnly: fused } = await runPipeline(file.model, positionals[0], workflow, profile, precisionRequest, progress);
    const planDims = { ...DEFAULT_PLAN_DIMS, ...(profile ? profileDimValues(original, profile) : {}) };
    const memory = memorySummary(original, record.model, planDims);
    const big = (record.model.parameterStats().bytes ?? 0) > PROTOBUF_LIMIT * 0.9;
    const external = values['external-data'] || big;
    // serialize once: the bytes that are validated are the bytes that get written
    const optimizedBytes = external ? null : serializeModelToBytes(record.model);
    let validation: OptimizeReport['validation'];
    if (values['no-validate']) {
      validation = { passed: true, skipped: '--no-validate', outputs: [] };
    } else {
      progress('  validating against the original (onnxruntime-web, wasm)...');
      // the original file's own bytes, when it has no external data, instead of re-serializing it
      const originalBytes = inline && !reference ? readFileSync(positionals[0]) : undefined;
      const v = await validateModels(original, optimizedBytes ?? record.model, {
        originalBytes,
        ...(reference ? { referenceOutputs: reference.outputs } : {}),
        ...(precision ? { tolerance: precision.tolerance } : {}),
        // validate at the profile's opt shapes: a frozen model only accepts those
        ...(profile ? { inputSpec: { dims: profileDimValues(original, profile) } } : {}),
      });
      validation = { passed: v.passed, tolerance: v.tolerance.name, outputs: v.outputs, ms: v.ms };
      if (!v.passed) {
        writeReport(values.report, buildReport(positionals[0], null, workflow, record, validation, memory, t0, precision?.report));
        throw new ValidationFailedError(v);
      }
    }
    const precisionReport = precision && fused ? await finishPrecisionReport(precision, fused, record.model, record) : undefined;
    if (optimizedBytes) writeFileAtomic(values.output, optimizedBytes);
    else saveModelFile(record.model, values.output, { externalData: {} });
    const report = buildReport(positionals[0], values.output, workflow, record, validation, memory, t0, precisionReport);
    writeReport(values.report, report);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatSummary(report)}\n`);
    return 0;
  } finally {
    reference?.cancel();
    file.close();
  }
}

function pickProfile(profiles: OptimizationProfile[], name: string | undefined): OptimizationProfile | undefined {
  if (!name) return profiles[0];
  const p = profiles.find((x) => x.name === name);
  if (!p) throw new FuselabError('USAGE', `--optimize-for '${name}': no such profile (have: ${profiles.map((x) => x.name).join(', ') || 'none'})`);
  return p;
}

function memorySummary(before: Model, after: Model, dims: Record<string, number>): OptimizeReport['memory'] {
  const sum = (m: Model): MemorySummary => {
    const p = planMemory(m, { dims });
    return { naiveBytes: p.naiveBytes, arenaBytes: p.arenaBytes, peakLiveBytes: p.peakLiveBytes, weightsBytes: p.weightsBytes, unknownSizes: p.unknownSizes.length };
  };
  const plan = planMemory(after, { dims });
  return {
    dims,
    before: sum(before),
    after: { naiveBytes: plan.naiveBytes, arenaBytes: plan.arenaBytes, peakLiveBytes: plan.peakLiveBytes, weightsBytes: plan.weightsBytes, unknownSizes: plan.unknownSizes.length },
    kvCacheBytesPerToken: plan.kvCacheBytes?.perToken ?? null,
  };
}

function buildReport(input: string, output: string | null, workflow: Workflow, r: OptimizeRecord, validation: OptimizeReport['validation'], memory: OptimizeReport['memory'], t0: number, precision?: PrecisionReport): OptimizeReport {
  return {
    version: 1,
    input,
    output,
    workflow,
    nodesBefore: r.nodesBefore,
    nodesAfter: r.nodesAfter,
    fused: r.fused,
    passes: r.passes.map((p) => ({ name: p.name, round: p.round, modified: p.modified, ms: +p.ms.toFixed(2), nodesBefore: p.nodesBefore, nodesAfter: p.nodesAfter, stats: p.stats })),
    validation,
    provenance: r.provenance,
    diagnostics: r.diagnostics,
    memory,
    ...(precision ? { precision } : {}),
    totalMs: +(performance.now() - t0).toFixed(1),
  };
}

function writeReport(path: string | undefined, report: OptimizeReport): void {
  if (path) writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`));
}

function formatSummary(r: OptimizeReport): string {
  const lines = [`${r.input} → ${r.output}`, `nodes ${r.nodesBefore} → ${r.nodesAfter}  (${r.totalMs.toFixed(0)} ms)`];
  const fused = Object.entries(r.fused);
  if (fused.length) lines.push(`fused ${fused.map(([k, v]) => `${k}×${v}`).join(', ')}`);
  if (r.validation.skipped) lines.push(`validation skipped (${r.validation.skipped})`);
  else lines.push(`validation ${r.validation.passed ? 'passed' : 'FAILED'} (${r.validation.tolerance}): ${r.validation.outputs.map((o) => `${o.name} max|Δ| ${o.maxAbsErr.toExponential(1)} cos ${o.cosine.toFixed(6)}`).join(', ')}`);
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(2)} MiB`;
  const m = r.memory;
  lines.push(`activations at ${Object.entries(m.dims).filter(([k]) => k !== 'batch').map(([k, v]) => `${k}=${v}`).join(' ')}: arena ${mb(m.before.arenaBytes)} → ${mb(m.after.arenaBytes)} (naive ${mb(m.after.naiveBytes)})${m.kvCacheBytesPerToken ? `; KV cache ${(m.kvCacheBytesPerToken / 1024).toFixed(1)} KiB/token` : ''}`);
  if (r.precision) lines.push(formatPrecision(r.precision));
  const rejected = r.diagnostics.filter((d) => d.kind === 'rejected').length;
  if (rejected) lines.push(`${rejected} rewrite candidates rejected (see --report for why)`);
  return lines.join('\n');
}
