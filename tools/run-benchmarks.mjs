#!/usr/bin/env node
// `npm run bench`: runs every benchmark script in tools/bench (not in CI). Each prints JSON and
// appends its result to docs/BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const only = process.argv.slice(2);
for (const f of readdirSync(new URL('./bench/', import.meta.url)).sort()) {
  if (!f.endsWith('.ts') || f === 'record.ts') continue;
  if (only.length && !only.some((o) => f.includes(o))) continue;
  console.error(`bench: ${f}`);
  execFileSync('npx', ['tsx', `tools/bench/${f}`], { stdio: 'inherit' });
}
