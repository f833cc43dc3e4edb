/**
 * The registry's op signatures against the official ones: `reference-schemas.json` holds every
 * version of every covered op as onnx 1.23.1 (`onnx.defs`) and onnxruntime 1.30.0 (contrib ops,
 * and its ONNX-domain LayerNormalization/SimplifiedLayerNormalization) define them; it is made by
 * `scripts/dump_op_schemas.py`. For each registered schema, every official version from its `since`
 * up to the next registered one must have the same input/output names, optionality and attributes
 * (names, types, required flags, defaults) — so a signature change the registry missed fails here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { listOps, type OpSchema } from '../../src/ops/index.ts';

interface RefPort {
  name: string;
  option: 'single' | 'optional' | 'variadic';
}

interface RefSchema {
  source: string;
  domain: string;
  opType: string;
  since: number;
  inputs: RefPort[];
  outputs: RefPort[];
  attrs: Record<string, { type: string; required: boolean; default: number | string | number[] | string[] | null }>;
}

const ref = JSON.parse(readFileSync(new URL('./reference-schemas.json', import.meta.url), 'utf8')) as { onnx: string; onnxruntime: string; schemas: RefSchema[] };

/** Official versions newer than this (ONNX 1.23's preview opsets) are not compared. */
const MAX_OPSET = 25;

function sameDefault(mine: unknown, theirs: unknown): boolean {
  if (typeof mine === 'number' && typeof theirs === 'number') return Math.fround(mine) === Math.fround(theirs);
  if (Array.isArray(mine) && Array.isArray(theirs)) return mine.length === theirs.length && mine.every((x, i) => sameDefault(x, theirs[i]));
  return mine === theirs;
}

/** Differences between a registered schema and one official version of it. */
function diff(mine: OpSchema, theirs: RefSchema): string[] {
  const out: string[] = [];
  const ports = (a: OpSchema['inputs'], b: RefPort[], what: string): void => {
    if (a.length !== b.length) out.push(`${what}: ${a.map((p) => p.name).join(',')} vs official ${b.map((p) => p.name).join(',')}`);
    b.forEach((p, i) => {
      const m = a[i];
      if (!m) return;
      if (m.name !== p.name) out.push(`${what} ${i}: '${m.name}' vs official '${p.name}'`);
      if (!!m.variadic !== (p.option === 'variadic')) out.push(`${what} '${p.name}': variadic ${!!m.variadic} vs official ${p.option}`);
      if (p.option !== 'variadic' && !!m.optional !== (p.option === 'optional')) out.push(`${what} '${p.name}': optional ${!!m.optional} vs official ${p.option}`);
    });
  };
  ports(mine.inputs, theirs.inputs, 'input');
  ports(mine.outputs, theirs.outputs, 'output');
  const names = new Set([...Object.keys(mine.attrs), ...Object.keys(theirs.attrs)]);
  for (const name of names) {
    const m = mine.attrs[name];
    const t = theirs.attrs[name];
    if (!m) out.push(`attribute '${name}' is missing`);
    else if (!t) out.push(`attribute '${name}' is not in the official schema`);
    else {
      if (m.type !== t.type) out.push(`attribute '${name}': type ${m.type} vs official ${t.type}`);
      if (!!m.required !== t.required) out.push(`attribute '${name}': required ${!!m.required} vs official ${t.required}`);
      if (t.default !== null && !sameDefault(m.default, t.default)) out.push(`attribute '${name}': default ${JSON.stringify(m.default)} vs official ${JSON.stringify(t.default)}`);
    }
  }
  return out;
}

describe(`op signatures match onnx ${ref.onnx} / onnxruntime ${ref.onnxruntime}`, () => {
  const all = listOps({ allVersions: true });
  const byKey = new Map<string, OpSchema[]>();
  for (const s of all) byKey.set(s.key, [...(byKey.get(s.key) ?? []), s]);

  it('every registered op has an official schema', () => {
    const known = new Set(ref.schemas.map((r) => `${r.domain}::${r.opType}`));
    const missing = [...new Set(all.map((s) => `${s.domain}::${s.opType}`))].filter((k) => !known.has(k));
    expect(missing).toEqual([]);
  });

  for (const [key, versions] of byKey) {
    it(key, () => {
      const problems: string[] = [];
      versions.forEach((mine, i) => {
        const next = versions[i + 1]?.since ?? Infinity;
        const official = ref.schemas.filter((r) => (r.domain ? `${r.domain}::${r.opType}` : r.opType) === key && r.since >= mine.since && r.since < next && r.since <= MAX_OPSET);
        if (!official.some((r) => r.since === mine.since)) problems.push(`@${mine.since}: there is no official version ${mine.since}`);
        for (const r of official) for (const d of diff(mine, r)) problems.push(`@${mine.since} vs official @${r.since} (${r.source}): ${d}`);
      });
      // an official version older than the oldest registered one is fine (not supported); newer
      // official versions are covered by the newest registered schema and were compared above
      expect(problems).toEqual([]);
    });
  }
});
