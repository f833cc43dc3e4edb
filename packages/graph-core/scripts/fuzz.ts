/**
 * Long-running decoder fuzz (on demand; CI runs the bounded `test/proto/fuzz.test.ts`).
 *
 *   npx tsx packages/graph-core/scripts/fuzz.ts [iterations=200000] [--seed N] [--out DIR] [model.onnx ...]
 *
 * Mutates the built-in corpus (plus any ONNX files given) and random bytes; every input must decode
 * (and re-encode stably) or throw OnnxParseError. Prints JSON stats; inputs that fail otherwise are
 * written to DIR (default out/fuzz) and the exit code is 1.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encodeModelToBytes } from '../src/proto/index.ts';
import { fullModel, nestedGraphModel, smallModel, syntheticModel } from '../test/proto/fixtures.ts';
import { type DecodeMode, mutate, randomBytes, reasonKey, Rng, runCase } from '../test/proto/fuzz-helpers.ts';

/** Every other case also cross-checks a streaming decode against the in-memory one. */
const MODES: readonly DecodeMode[] = ['memory', 'stream', 'memory', 'stream-lazy'];

interface Args {
  iterations: number;
  seed: number;
  out: string;
  files: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { iterations: 200_000, seed: Date.now() >>> 0, out: 'out/fuzz', files: [] };
  let sawCount = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--seed') args.seed = Number(argv[++i]) >>> 0;
    else if (a === '--out') args.out = argv[++i];
    else if (!sawCount && /^\d+$/.test(a)) {
      args.iterations = Number(a);
      sawCount = true;
    } else args.files.push(a);
  }
  return args;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const corpus: { name: string; bytes: Uint8Array }[] = [
    { name: 'small', bytes: encodeModelToBytes(smallModel()) },
    { name: 'full', bytes: encodeModelToBytes(fullModel()) },
    { name: 'synthetic', bytes: encodeModelToBytes(syntheticModel(40, 4, 256)) },
    { name: 'nested99', bytes: nestedGraphModel(99) },
  ];
  for (const f of args.files) corpus.push({ name: basename(f), bytes: new Uint8Array(readFileSync(f)) });
  const corpusBytes = corpus.map((c) => c.bytes);

  // Files given on the command line: each must decode (or fail cleanly) as it is, first.
  const fileResults: Record<string, string> = {};
  for (const c of corpus.slice(4)) {
    const r = runCase(c.bytes, 'memory');
    fileResults[c.name] = r.kind === 'ok' ? 'ok' : `parse error: ${r.reason}`;
  }

  const rng = new Rng(args.seed);
  const reasons = new Map<string, number>();
  const crashes: { iteration: number; file: string; error: string }[] = [];
  let ok = 0;
  let parseErrors = 0;
  let maxMs = 0;
  let slowest = -1;
  const started = performance.now();
  for (let i = 0; i < args.iterations; i++) {
    const input = i % 10 === 9 ? randomBytes(rng, rng.int(512)) : mutate(rng.pick(corpusBytes), rng, corpusBytes);
    const mode = MODES[i % 4];
    const t0 = performance.now();
    try {
      const r = runCase(input, mode);
      if (r.kind === 'ok') ok++;
      else {
        parseErrors++;
        const key = reasonKey(r.reason);
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }
    } catch (e) {
      mkdirSync(args.out, { recursive: true });
      const file = join(args.out, `crash-${args.seed}-${i}.bin`);
      writeFileSync(file, input);
      crashes.push({ iteration: i, file, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
    const ms = performance.now() - t0;
    if (ms > maxMs) {
      maxMs = ms;
      slowest = i;
    }
  }
  const totalMs = performance.now() - started;
  const stats = {
    seed: args.seed,
    iterations: args.iterations,
    corpus: corpus.map((c) => ({ name: c.name, bytes: c.bytes.length })),
    files: fileResults,
    ok,
    parseErrors,
    crashes,
    totalMs: Math.round(totalMs),
    meanUs: Math.round((totalMs * 1000) / Math.max(1, args.iterations)),
    maxMs: Number(maxMs.toFixed(2)),
    slowestIteration: slowest,
    reasons: Object.fromEntries([...reasons].sort((a, b) => b[1] - a[1])),
  };
  console.log(JSON.stringify(stats, null, 2));
  return crashes.length === 0 ? 0 : 1;
}

process.exitCode = main();
