/**
 * Parse benchmark: a GPT-2-small-shaped ONNX file (~650 MB fp32, ~1300 nodes), parsed by Fuselab from
 * memory and streamed from disk, against protobufjs (`onnx-proto`) decoding the same bytes, in one run.
 *
 *   npx tsx tools/bench/parse.ts [MODEL.onnx] [--runs N] [--no-record]
 *
 * Without MODEL it uses examples/generated/gpt2-small.onnx (the PyTorch export, if made by
 * examples/scripts/make_gpt2_small.py), else builds a GPT-2-shaped model in code and saves it to
 * examples/generated/gpt2-shaped.onnx.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { decodeModel, loadModel, memorySource } from '@fuselab/graph-core';
import { openModelFile, saveModelFile } from '@fuselab/node-io';
import { buildGpt2Shaped, GPT2_SMALL } from '@fuselab/examples';
import { recordBenchmark } from './record.ts';

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 0) || 7;
const record = !args.includes('--no-record');
let path = args.find((a) => a.endsWith('.onnx'));
if (!path) {
  const torchExport = 'examples/generated/gpt2-small.onnx';
  path = existsSync(torchExport) ? torchExport : 'examples/generated/gpt2-shaped.onnx';
  if (!existsSync(path)) {
    mkdirSync('examples/generated', { recursive: true });
    const t0 = performance.now();
    const model = buildGpt2Shaped(GPT2_SMALL);
    const t1 = performance.now();
    const { bytes } = saveModelFile(model, path);
    console.error(`generated ${path}: ${(bytes / 2 ** 20).toFixed(0)} MiB, build ${(t1 - t0).toFixed(0)} ms, write ${(performance.now() - t1).toFixed(0)} ms`);
  }
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn: () => unknown): number[] {
  fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

const require = createRequire(import.meta.url);
const onnxProto = require('onnx-proto') as { onnx: { ModelProto: { decode(b: Uint8Array): { graph: { node: unknown[] } } } } };

const bytes = readFileSync(path);
const readFile = time(() => readFileSync(path));
const decodeOnly = time(() => decodeModel(memorySource(bytes, path)));
const loadFromMemory = time(() => loadModel(bytes, { file: path }));
const protobufjs = time(() => onnxProto.onnx.ModelProto.decode(bytes));
const readPlusLoad = time(() => loadModel(readFileSync(path), { file: path }));
const streamed = time(() => openModelFile(path, { inMemory: false }).close());

const m = loadModel(bytes, { file: path });
const result = {
  model: path,
  fileBytes: bytes.byteLength,
  nodes: m.graph.nodeCount,
  initializers: m.graph.initializers.size,
  runs,
  medianMs: {
    readFile: +median(readFile).toFixed(2),
    fuselabDecodeFromMemory: +median(decodeOnly).toFixed(2),
    fuselabLoadFromMemory: +median(loadFromMemory).toFixed(2),
    protobufjsDecodeFromMemory: +median(protobufjs).toFixed(2),
    fuselabReadFilePlusLoad: +median(readPlusLoad).toFixed(2),
    fuselabStreamedOpenFromDisk: +median(streamed).toFixed(2),
  },
  ratio: {
    protobufjsOverFuselabDecode: +(median(protobufjs) / median(decodeOnly)).toFixed(2),
  },
  targetMs: 500,
};
console.log(JSON.stringify(result, null, 2));
if (record) recordBenchmark('ONNX parse, GPT-2-small shape', `npx tsx tools/bench/parse.ts ${args.join(' ')}`.trim(), result,
  'fuselabStreamedOpenFromDisk reads only the protobuf structure (tensor bytes stay on disk until used); fuselabReadFilePlusLoad reads the whole file then decodes with zero-copy views.');
