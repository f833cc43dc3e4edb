/**
 * Vite config of the editor. Serves the repository's `examples/` folder read-only under
 * `/examples/` (models, fixtures and generated benchmark graphs) in dev and preview, so the app
 * opens the bundled kjv-llama example on start.
 */
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import tailwindcss from '@tailwindcss/vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const repo = resolve(root, '../..');
const examples = resolve(repo, 'examples');
const SERVED = new Set(['.onnx', '.json', '.data']);

/** GET /examples/<path> → the file under examples/ (no `..`, only model and JSON files). */
export function examplesMiddleware(dir = examples) {
  return (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    const url = req.url ?? '';
    if (!url.startsWith('/examples/')) return next();
    let rel: string;
    try { rel = decodeURIComponent(url.slice('/examples/'.length).split('?')[0]); } catch { rel = ''; }
    const file = resolve(dir, rel);
    let size = -1;
    try { const st = statSync(file); if (st.isFile()) size = st.size; } catch { /* not found */ }
    if (!rel || !file.startsWith(dir + sep) || !SERVED.has(extname(file)) || size < 0) {
      res.statusCode = 404;
      res.end(`not found: ${url}`);
      return;
    }
    res.setHeader('Content-Type', extname(file) === '.json' ? 'application/json' : 'application/octet-stream');
    res.setHeader('Content-Length', String(size));
    res.setHeader('Cache-Control', 'no-cache');
    createReadStream(file).pipe(res);
  };
}

function serveExamples(): Plugin {
  return {
    name: 'fuselab-examples',
    configureServer(server) { server.middlewares.use(examplesMiddleware()); },
    configurePreviewServer(server) { server.middlewares.use(examplesMiddleware()); },
  };
}

export default defineConfig({
  root,
  plugins: [react(), tailwindcss(), serveExamples()],
  worker: { format: 'es' },
  server: { fs: { allow: [repo] } },
  optimizeDeps: {
    include: ['react', 'react-dom/client', 'react/jsx-runtime', 'react/jsx-dev-runtime', '@xyflow/react', 'zustand', 'zustand/vanilla', 'elkjs/lib/elk.bundled.js'],
    exclude: ['onnxruntime-web'],
  },
  build: { outDir: resolve(root, 'dist'), emptyOutDir: true, chunkSizeWarningLimit: 4000, target: 'es2022' },
});
