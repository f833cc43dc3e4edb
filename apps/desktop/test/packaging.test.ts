/**
 * electron-builder.config.cjs against the code: electron-builder itself cannot run here (it
 * downloads Electron and platform tools), so this checks what would break a packaged app quietly —
 * the resources main.ts serves app:// from when packaged, the bundled example the editor opens on
 * start, the file types the shell opens, the fuses, and the run-time modules left unpacked.
 */
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultRoots, resolveAppRequest } from '../src/app-protocol.ts';
import { MODEL_EXTENSIONS } from '../src/file-table.ts';
import { tempDir } from './helpers.ts';

const desktop = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface FileSet { from: string; to: string; filter?: string[] }
interface BuilderConfig {
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  extraResources: FileSet[];
  fileAssociations: Array<{ ext: string }>;
  electronFuses: Record<string, boolean>;
}

const config = createRequire(import.meta.url)(join(desktop, 'electron-builder.config.cjs')) as BuilderConfig;
const pkg = JSON.parse(readFileSync(join(desktop, 'package.json'), 'utf8')) as { main: string; dependencies: Record<string, string>; scripts: Record<string, string> };

/** electron-builder's `filter` for the simple `*.ext` globs this config uses. */
const passes = (name: string, filter?: string[]) => !filter || filter.some((g) => g.startsWith('*.') && extname(name) === g.slice(1));

describe('electron-builder.config.cjs', () => {
  it('is the config `npm run package` uses, ships the bundles as the app, and unpacks every run-time dependency from the asar', () => {
    expect(pkg.scripts.package).toContain('--config electron-builder.config.cjs');
    expect(config.files).toEqual(expect.arrayContaining(['dist/**', 'package.json']));
    expect(pkg.main.startsWith('dist/')).toBe(true);
    expect(config.asar).toBe(true);
    // dawn.node and the wasm files cannot load from inside an asar archive
    for (const dep of Object.keys(pkg.dependencies)) expect(config.asarUnpack.some((p) => p.includes(`node_modules/${dep}/`))).toBe(true);
  });

  it('puts the editor and the kjv-llama example where the packaged app serves app:// from, so the start-up example opens', () => {
    const tmp = tempDir();
    try {
      // lay the resources out as electron-builder would, with a placeholder for the built editor
      const resources = join(tmp.dir, 'resources');
      const editorDist = join(tmp.dir, 'editor-dist');
      mkdirSync(editorDist);
      writeFileSync(join(editorDist, 'index.html'), '<!doctype html>');
      for (const r of config.extraResources) {
        const from = r.from === '../editor/dist' ? editorDist : resolve(desktop, r.from);
        expect(statSync(from).isDirectory()).toBe(true);
        mkdirSync(join(resources, r.to), { recursive: true });
        for (const name of readdirSync(from)) if (passes(name, r.filter)) cpSync(join(from, name), join(resources, r.to, name));
      }
      const roots = defaultRoots(join(resources, 'app.asar'), resources, true);
      expect(resolveAppRequest('app://fuselab/', roots)).toMatchObject({ status: 200, file: join(resources, 'editor', 'index.html') });
      // main.tsx opens EXAMPLES[0] (components/Chrome.tsx) on start, and its tokenizer and configs beside it
      for (const f of ['model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json']) {
        const r = resolveAppRequest(`app://fuselab/examples/models/kjv-llama/${f}`, roots);
        expect(r).toMatchObject({ status: 200, size: statSync(join(desktop, '../../examples/models/kjv-llama', f)).size });
      }
      expect(readFileSync(join(desktop, '../editor/src/components/Chrome.tsx'), 'utf8')).toContain("url: '/examples/models/kjv-llama/model.onnx'");
    } finally {
      tmp.cleanup();
    }
  });

  it('associates exactly the file types the shell opens as models, and locks Electron down with fuses', () => {
    expect(config.fileAssociations.map((a) => `.${a.ext}`).sort()).toEqual([...MODEL_EXTENSIONS].sort());
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
  });
});
