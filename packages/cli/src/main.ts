/**
 * The `fuselab` command line. Each command returns an exit code; errors print one clear line.
 */
import { parseArgs } from 'node:util';
import { FuselabError } from '@fuselab/graph-core';
import { openModelFile } from '@fuselab/node-io';
import { formatInspect, inspectModel } from './inspect.ts';
import { optimizeCommand } from './optimize.ts';
import { buildCommand } from './build.ts';
import { runCommand } from './run.ts';
import { benchCommand } from './bench.ts';
import { compareCommand } from './compare.ts';
import { exportTritonCommand } from './export-triton.ts';

const HELP = `fuselab — a TensorRT you can see: inspect, optimize and run ONNX language models on WebGPU

Usage: fuselab <command> [options]

Commands:
  inspect MODEL [--json]     op histogram, inputs/outputs with dtypes and symbolic shapes,
                             parameters by dtype, opsets, producer, external-data files
  optimize MODEL -o OUT      run the cleanup + fusion workflow, validate against the original in
                             onnxruntime-web, write a standard ONNX file (--report R.json)
  help                       this text

Coming with their issues: build, run, bench, compare, export-triton.

Examples:
  fuselab inspect examples/models/kjv-llama/model.onnx
  fuselab optimize examples/models/kjv-llama/model.onnx -o /tmp/kjv-llama-opt.onnx --report /tmp/report.json
  fuselab inspect examples/fixtures/gpt2-tiny-kv.onnx
  fuselab inspect examples/fixtures/external/gpt2-tiny-external.onnx --json
  fuselab optimize examples/fixtures/gpt2-tiny.onnx -o /tmp/gpt2-opt.onnx --report /tmp/report.json
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(HELP);
        return 0;
      case 'inspect':
        return await inspect(rest);
      case 'optimize':
        return await optimizeCommand(rest);
      case 'build':
        return await buildCommand(rest);
      case 'run':
        return await runCommand(rest);
      case 'bench':
        return await benchCommand(rest);
      case 'compare':
        return await compareCommand(rest);
      case 'export-triton':
        return await exportTritonCommand(rest);
      default:
        process.stderr.write(`fuselab: unknown command '${cmd}'\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof FuselabError || (e instanceof Error && 'code' in e && typeof (e as { code: unknown }).code === 'string')) {
      process.stderr.write(`fuselab ${cmd}: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

async function inspect(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || positionals.length !== 1) {
    process.stdout.write('Usage: fuselab inspect MODEL.onnx [--json]\n');
    return values.help ? 0 : 2;
  }
  const file = openModelFile(positionals[0]);
  try {
    const report = inspectModel(file);
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatInspect(report)}\n`);
    return 0;
  } finally {
    file.close();
  }
}
