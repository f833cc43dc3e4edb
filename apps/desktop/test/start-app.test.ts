import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.ts';

type Found = { path: string | null; reason?: string };
const launcher = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), '../../../tools/start-app.mjs')).href;
const load = async () => (await import(launcher)) as { findElectron(root: string, env: Record<string, string | undefined>): Found };

describe('npm start: finding the Electron binary without triggering a download', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('says why when the package, path.txt or the binary is missing, and finds it when present', async () => {
    const { findElectron } = await load();
    expect(findElectron(tmp.dir, {})).toEqual({ path: null, reason: 'the electron package is not installed (npm install)' });
    const pkg = join(tmp.dir, 'node_modules', 'electron');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), '{}');
    expect(findElectron(tmp.dir, {}).reason).toContain("Electron's binary is not installed");
    writeFileSync(join(pkg, 'path.txt'), 'electron');
    expect(findElectron(tmp.dir, {}).reason).toContain('is missing');
    writeFileSync(join(pkg, 'dist', 'electron'), '');
    expect(findElectron(tmp.dir, {})).toEqual({ path: join(pkg, 'dist', 'electron') });
    mkdirSync(join(tmp.dir, 'own'));
    writeFileSync(join(tmp.dir, 'own', 'electron'), '');
    expect(findElectron(tmp.dir, { ELECTRON_OVERRIDE_DIST_PATH: join(tmp.dir, 'own') })).toEqual({ path: join(tmp.dir, 'own', 'electron') });
  });

  it('reports this machine plainly (no binary here)', async () => {
    const { findElectron } = await load();
    const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
    const found = findElectron(repo, {});
    // on machines with the binary this finds it; here (no download possible) it says why
    if (!found.path) expect(found.reason).toMatch(/Electron's binary|electron package/);
  });
});
