/**
 * `fuselab export-triton MODEL --out DIR`: writes a Triton Inference Server model repository entry
 * for the onnxruntime backend — DIR/NAME/config.pbtxt, DIR/NAME/1/model.onnx (+ model.onnx.data when
 * the model has external data), DIR/NAME/README.md and the sample files it uses. Every file is
 * written atomically; an existing non-empty DIR/NAME is refused unless --force.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { FuselabError, loadModel, PROTOBUF_LIMIT, type Model } from '@fuselab/graph-core';
import { openModelFile, saveModelFile, writeFileAtomic, type ModelFile } from '@fuselab/node-io';
import { parseEngine, tritonRepository, checkModelName, TritonConfigError, type TritonConfigPlan, type TritonInstanceKind } from '@fuselab/gpu-runtime';

export const EXPORT_TRITON_USAGE = `Usage: fuselab export-triton MODEL.onnx --out DIR [options]

Writes a Triton Inference Server model repository entry (onnxruntime backend):
  DIR/NAME/config.pbtxt     platform "onnxruntime_onnx", inputs/outputs with types and dims,
                            dynamic batching, instance group
  DIR/NAME/1/model.onnx     the model (+ model.onnx.data when it has external data)
  DIR/NAME/README.md        how to serve it: docker run, a curl request, perf_analyzer

Options:
  --out DIR                 the model repository folder (created if missing)
  --name NAME               model name (default: the file name without .onnx)
  --max-batch N             Triton's max_batch_size; 0 = no Triton batching (default: 8 when every
                            input and output starts with one batch dim, 0 for KV-cache decoders)
  --instances N             model instances (default 1)
  --kind KIND_GPU|KIND_CPU  where instances run (default KIND_GPU)
  --max-queue-delay-us N    dynamic batcher's wait for a fuller batch (default 100)
  --force                   replace an existing DIR/NAME
  --json                    print what was written as JSON
`;

/** What `--json` prints. A stable contract: fields are only ever added. */
export interface ExportTritonReport {
  version: 1;
  input: string;
  modelDir: string;
  name: string;
  maxBatchSize: number;
  kvCache: boolean;
  batchDim: string | null;
  dynamicBatching: TritonConfigPlan['dynamicBatching'];
  instanceGroup: TritonConfigPlan['instanceGroup'];
  inputs: Array<{ name: string; dataType: string; dims: number[] }>;
  outputs: Array<{ name: string; dataType: string; dims: number[] }>;
  files: Array<{ path: string; bytes: number }>;
}

/** The model repository entry exists and holds files; nothing was written. */
export class TritonRepositoryExistsError extends FuselabError {
  constructor(dir: string) {
    super('TRITON_EXISTS', `${dir} already exists and is not empty; pass --force to replace it, or choose another --out / --name`);
  }
}

/** The model to export: an ONNX file, or an engine's model section (checked against its checksums). */
export interface Exportable {
  model: Model;
  /** The ONNX bytes to copy as they are, when the model has no external data. */
  bytes: Uint8Array | null;
  close(): void;
}

export async function loadExportable(path: string): Promise<Exportable> {
  if (/\.engine$/i.test(path)) {
    const engine = await parseEngine(readFileSync(path), { file: path });
    if (engine.section('weights')) throw new TritonConfigError(`${path}: engines with external weights are not exported yet; export the ONNX model it was built from`);
    const bytes = engine.section('model') as Uint8Array;
    return { model: loadModel(bytes, { file: `${path} (model section)` }), bytes, close: () => {} };
  }
  const file: ModelFile = openModelFile(path);
  const inline = file.externalFiles.size === 0 && file.byteLength < PROTOBUF_LIMIT;
  return { model: file.model, bytes: inline ? readFileSync(path) : null, close: () => file.close() };
}

function parseCount(flag: string, text: string | undefined, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > 2 ** 31 - 1) {
    throw new TritonConfigError(`${flag} must be an integer ≥ ${min} (got '${text}')`);
  }
  return n;
}

export async function exportTritonCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string', short: 'o' },
      name: { type: 'string' },
      'max-batch': { type: 'string' },
      instances: { type: 'string' },
      kind: { type: 'string' },
      'max-queue-delay-us': { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(EXPORT_TRITON_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !values.out) {
    process.stderr.write(`fuselab export-triton: need MODEL and --out DIR\n\n${EXPORT_TRITON_USAGE}`);
    return 2;
  }
  const input = positionals[0];
  const maxBatchSize = parseCount('--max-batch', values['max-batch'], 0);
  const instances = parseCount('--instances', values.instances, 1);
  const maxQueueDelayMicroseconds = parseCount('--max-queue-delay-us', values['max-queue-delay-us'], 0);
  const kind = (values.kind ?? 'KIND_GPU').toUpperCase() as TritonInstanceKind;
  if (kind !== 'KIND_GPU' && kind !== 'KIND_CPU') throw new TritonConfigError(`--kind must be KIND_GPU or KIND_CPU (got '${values.kind}')`);
  const name = values.name ?? basename(input).replace(/\.(onnx|engine)$/i, '').replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]+/, '');
  checkModelName(name);

  const modelDir = join(values.out, name);
  if (existsSync(modelDir)) {
    if (!statSync(modelDir).isDirectory()) throw new TritonConfigError(`${modelDir} exists and is not a folder`);
    if (readdirSync(modelDir).length > 0 && !values.force) throw new TritonRepositoryExistsError(modelDir);
  }

  const file = await loadExportable(input);
  try {
    // the text files (config.pbtxt, README, samples) as the editor's archive has them; the model is written below
    const { plan, files: texts } = tritonRepository(file.model, null, { name, maxBatchSize, instances, kind, maxQueueDelayMicroseconds, source: basename(input), comment: `Generated by fuselab export-triton from ${basename(input)}` });

    // everything is planned and checked: now write
    const versionDir = join(modelDir, '1');
    mkdirSync(versionDir, { recursive: true });
    const files: Array<{ path: string; bytes: number }> = [];
    const write = (path: string, data: Uint8Array) => {
      writeFileAtomic(path, data);
      files.push({ path, bytes: data.byteLength });
    };
    const modelPath = join(versionDir, 'model.onnx');
    const dataPath = `${modelPath}.data`;
    if (file.bytes) {
      write(modelPath, file.bytes);
      if (values.force) rmSync(dataPath, { force: true }); // a previous export's weights
    } else {
      // one data file beside model.onnx, whatever the source's external files were called
      const r = saveModelFile(file.model, modelPath, { externalData: { location: 'model.onnx.data' } });
      files.push({ path: modelPath, bytes: r.bytes });
      if (r.externalBytes > 0) files.push({ path: dataPath, bytes: r.externalBytes });
      else if (values.force) rmSync(dataPath, { force: true });
    }
    for (const t of texts) write(join(values.out, ...t.path.split('/')), t.data);

    const report: ExportTritonReport = {
      version: 1,
      input,
      modelDir,
      name,
      maxBatchSize: plan.maxBatchSize,
      kvCache: plan.kvCache,
      batchDim: 'symbol' in plan.batchDim ? plan.batchDim.symbol : null,
      dynamicBatching: plan.dynamicBatching,
      instanceGroup: plan.instanceGroup,
      inputs: plan.inputs.map((t) => ({ name: t.name, dataType: t.dataType, dims: t.dims })),
      outputs: plan.outputs.map((t) => ({ name: t.name, dataType: t.dataType, dims: t.dims })),
      files,
    };
    if (values.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const io2 = (l: ExportTritonReport['inputs']) => l.map((t) => `${t.name} ${t.dataType} [${t.dims.join(', ')}]`).join(', ');
      process.stdout.write([
        `${input} → ${modelDir}`,
        `max_batch_size ${plan.maxBatchSize}${plan.dynamicBatching ? `, dynamic batching (preferred ${plan.dynamicBatching.preferredBatchSizes.join(', ')}, ${plan.dynamicBatching.maxQueueDelayMicroseconds} µs)` : ''}${plan.kvCache ? ', KV-cache decoder served stateless' : ''}; ${plan.instanceGroup.count} × ${plan.instanceGroup.kind}`,
        `inputs: ${io2(report.inputs)}`,
        `outputs: ${io2(report.outputs)}`,
        `wrote ${files.map((f) => f.path).join(', ')}`,
        `serve: see ${join(modelDir, 'README.md')}`,
      ].join('\n') + '\n');
    }
    return 0;
  } finally {
    file.close();
  }
}
