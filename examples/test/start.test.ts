import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** `npm start` (tools/start.ts): the terminal tour on the bundled KJV model must work end to end. */
const root = new URL('../../', import.meta.url).pathname;

describe('npm start', () => {
  it('inspects, optimizes, validates and generates identical text from the plain and optimized kjv-llama', () => {
    const r = spawnSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'tools/start.ts', '--max-new-tokens', '12'], { cwd: root, encoding: 'utf8', timeout: 180_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1105 nodes, 2\.36 M parameters/);
    expect(r.stdout).toMatch(/nodes 1105 → \d+; GroupQueryAttention×4/);
    expect(r.stdout).toMatch(/validation passed \(fp32-fusion\)/);
    expect(r.stdout).toMatch(/plain \(onnxruntime-web, wasm\) › And the king said unto\n +\S+ \S+/);
    expect(r.stdout).toMatch(/greedy tokens identical between plain and optimized/);
    expect(r.stdout).toMatch(/decode \d+\.\d tok\/s/);
  });
});
