#!/usr/bin/env node
/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`): self time by function and by where the code lives
 * (our code, onnxruntime-web's JS, its wasm, native calls such as dawn.node's WebGPU methods, GC, idle).
 *
 *   node tools/bench/cpuprofile-summary.mjs PROFILE.cpuprofile [--top 40] [--last-ms 2000]
 *
 * `--last-ms` keeps only the samples of the profile's final N ms (e.g. the decode loop, after the
 * engine load and shader compilation that a whole-process profile also holds).
 *
 * Prints JSON. Plain JS so it runs on the GPU machine's bare Node.
 */
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const topIdx = process.argv.indexOf('--top');
const TOP = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 40;
const lastIdx = process.argv.indexOf('--last-ms');
const LAST_US = lastIdx > 0 ? Number(process.argv[lastIdx + 1]) * 1000 : Infinity;
if (!file) {
  console.error('usage: cpuprofile-summary.mjs PROFILE.cpuprofile [--top N]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
const spanUs = prof.timeDeltas.reduce((a, b) => a + b, 0);
let at = 0;
let totalUs = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i] ?? 0;
  at += dt;
  if (at < spanUs - LAST_US) continue;
  const id = prof.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  totalUs += dt;
}

function area(cf) {
  const url = cf.url ?? '';
  const fn = cf.functionName ?? '';
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (url.includes('.wasm') || /^(wasm-function|\$)/.test(fn) || url.startsWith('wasm://')) return 'onnxruntime wasm';
  if (/ort[.-]/.test(url) || url.includes('onnxruntime-web')) return 'onnxruntime js';
  if (!url) return 'native/builtin';
  if (url.includes('node:') || url.startsWith('node:')) return 'node internals';
  return 'our code';
}

const byFn = new Map();
const byArea = new Map();
for (const [id, t] of selfUs) {
  const n = byId.get(id);
  const cf = n.callFrame;
  const key = `${cf.functionName || '(anonymous)'} ${cf.url ? `${cf.url.split('/').slice(-1)[0]}:${cf.lineNumber + 1}` : ''}`.trim();
  byFn.set(key, (byFn.get(key) ?? 0) + t);
  const a = area(cf);
  byArea.set(a, (byArea.get(a) ?? 0) + t);
}
const ms = (us) => +(us / 1000).toFixed(1);
const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
console.log(JSON.stringify({
  file,
  totalMs: ms(totalUs),
  byArea: Object.fromEntries(sorted(byArea).map(([k, v]) => [k, { ms: ms(v), pct: +((100 * v) / totalUs).toFixed(1) }])),
  topSelf: sorted(byFn).slice(0, TOP).map(([k, v]) => ({ fn: k, ms: ms(v), pct: +((100 * v) / totalUs).toFixed(1) })),
}, null, 1));
