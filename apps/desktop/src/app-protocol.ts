/**
 * The app:// protocol: maps `app://fuselab/<path>` to a file of the built editor (or, read-only, a
 * bundled example model under `/examples/`), refusing anything outside those folders (`..`,
 * encoded separators, symlinks out, non-files). main.ts streams the file with `securityHeaders()`.
 */
import { realpathSync, statSync } from 'node:fs';
import { extname, join, resolve, sep } from 'node:path';
import { APP_HOST, APP_SCHEME } from './security.ts';

export interface AppRoots {
  /** The built editor (apps/editor/dist, or resources/editor when packaged). */
  editor: string;
  /** The bundled example models (examples/), or null when not shipped. */
  examples: string | null;
}

export type AppResponse = { status: 200; file: string; size: number; mime: string } | { status: 404 | 400; reason: string };

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.onnx': 'application/octet-stream',
  '.data': 'application/octet-stream',
  '.engine': 'application/octet-stream',
};
const EXAMPLE_TYPES = new Set(['.onnx', '.json', '.data']);

/** Resolves an app:// request URL to a file under one of `roots`. */
export function resolveAppRequest(url: string, roots: AppRoots): AppResponse {
  let u: URL;
  try { u = new URL(url); } catch { return { status: 400, reason: 'invalid URL' }; }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return { status: 404, reason: `not an ${APP_SCHEME}://${APP_HOST} URL` };
  let path: string;
  try { path = decodeURIComponent(u.pathname); } catch { return { status: 400, reason: 'bad percent-encoding' }; }
  if (path.includes('\0') || path.includes('\\')) return { status: 400, reason: 'bad characters in path' };
  if (path === '/' || path === '') path = '/index.html';
  const isExample = path.startsWith('/examples/');
  const root = isExample ? roots.examples : roots.editor;
  if (!root) return { status: 404, reason: 'examples are not bundled with this build' };
  const rel = isExample ? path.slice('/examples/'.length) : path.slice(1);
  if (rel.split('/').some((p) => p === '..')) return { status: 400, reason: "'..' in path" };
  if (isExample && !EXAMPLE_TYPES.has(extname(rel))) return { status: 404, reason: 'only model and JSON files are served from examples' };
  let base: string;
  let file: string;
  let size: number;
  try {
    base = realpathSync(root);
    file = realpathSync(resolve(base, rel));
    const st = statSync(file);
    if (!st.isFile()) return { status: 404, reason: 'not a file' };
    size = st.size;
  } catch {
    return { status: 404, reason: 'not found' };
  }
  if (!file.startsWith(base + sep)) return { status: 404, reason: 'outside the app folder' };
  return { status: 200, file, size, mime: MIME[extname(file).toLowerCase()] ?? 'application/octet-stream' };
}

/** Where the built editor lives: beside the app when packaged, apps/editor/dist in the repository. */
export function defaultRoots(appDir: string, resourcesPath: string | null, isPackaged: boolean): AppRoots {
  if (isPackaged && resourcesPath) return { editor: join(resourcesPath, 'editor'), examples: join(resourcesPath, 'examples') };
  return { editor: resolve(appDir, '../editor/dist'), examples: resolve(appDir, '../../examples') };
}
