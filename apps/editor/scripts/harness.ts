/**
 * Test and benchmark harness: builds the editor with Vite's JS API and serves it (vite preview, with
 * the examples folder), and launches Debian's Chromium headless through playwright-core with
 * WebGPU (SwiftShader) flags and a fresh profile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, preview } from 'vite';
import { chromium, type BrowserContext } from 'playwright-core';

export const EDITOR_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const REPO_DIR = resolve(EDITOR_DIR, '../..');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface ServedEditor {
  url: string;
  close(): Promise<void>;
}

/**
 * Builds the app (production bundle) and serves it on a free local port. `outDir` builds somewhere
 * other than apps/editor/dist, so suites running at the same time do not overwrite each other's build.
 */
export async function serveEditor(options: { skipBuild?: boolean; outDir?: string } = {}): Promise<ServedEditor> {
  const configFile = join(EDITOR_DIR, 'vite.config.ts');
  const out = options.outDir ? { build: { outDir: options.outDir, emptyOutDir: true } } : {};
  if (!options.skipBuild) await build({ configFile, logLevel: 'error', ...out });
  const server = await preview({ configFile, logLevel: 'error', ...out, preview: { host: '127.0.0.1', port: 0, strictPort: false, open: false } });
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('vite preview did not report a URL');
  return { url, close: () => new Promise<void>((r) => server.httpServer.close(() => r())) };
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh --user-data-dir (removed on close). */
export async function launchBrowser(viewport = { width: 1600, height: 960 }): Promise<Browser> {
  const dir = mkdtempSync(join(tmpdir(), 'fuselab-chromium-'));
  const context = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport, deviceScaleFactor: 1 });
  return {
    context,
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
