// Bundles the desktop shell for Electron with esbuild (already in the workspace through tsx/vite):
//   dist/main.cjs             the main process
//   dist/preload.cjs          the sandboxed preload (one file: sandboxed preloads can require only 'electron')
//   dist/runtime-process.cjs  the GPU runtime utility process
// onnxruntime-web and webgpu stay external (wasm files and dawn.node are loaded from node_modules).
//
//   node apps/desktop/scripts/build.mjs [--outdir DIR]
import { build } from 'esbuild';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const { values } = parseArgs({ options: { outdir: { type: 'string', default: resolve(root, 'dist') } } });

export async function buildDesktop(outdir = values.outdir) {
  const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: true, logLevel: 'warning', outExtension: { '.js': '.cjs' }, outdir };
  await build({ ...common, entryPoints: { main: resolve(root, 'src/main.ts'), 'runtime-process': resolve(root, 'src/runtime-process.ts') }, external: ['electron', 'onnxruntime-web', 'onnxruntime-web/*', 'webgpu'] });
  // the preload runs in a sandboxed renderer: browser-ish, no Node modules but 'electron'
  await build({ ...common, platform: 'browser', entryPoints: { preload: resolve(root, 'src/preload.ts') }, external: ['electron'] });
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const out = await buildDesktop();
  console.log(`desktop shell built into ${out}`);
}
