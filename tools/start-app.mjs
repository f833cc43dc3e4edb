// `npm start`: the desktop app when the Electron binary is installed, otherwise the web editor
// (Vite dev server), saying why in one line.
//
//   npm start [-- args]        args go to Electron (e.g. a model path) or to Vite (e.g. --port 5174)
//   FUSELAB_WEB=1 npm start    always the web editor
//
// The binary is looked up the way node_modules/electron/index.js does (ELECTRON_OVERRIDE_DIST_PATH,
// or path.txt → dist/<path>) but without `require('electron')`, which starts a download when the
// binary is missing (it cannot succeed on machines without internet access).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `{ path }` of the Electron executable, or `{ path: null, reason }` saying why there is none. */
export function findElectron(root = repo, env = process.env) {
  const pkg = join(root, 'node_modules', 'electron');
  if (!existsSync(join(pkg, 'package.json'))) return { path: null, reason: 'the electron package is not installed (npm install)' };
  const pathFile = join(pkg, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const p = join(env.ELECTRON_OVERRIDE_DIST_PATH, rel || 'electron');
    return existsSync(p) ? { path: p } : { path: null, reason: `ELECTRON_OVERRIDE_DIST_PATH is set but ${p} does not exist` };
  }
  if (!rel) return { path: null, reason: "Electron's binary is not installed (its postinstall download failed or was skipped; apps/desktop/README.md says how to get one)" };
  const p = join(pkg, 'dist', rel);
  return existsSync(p) ? { path: p } : { path: null, reason: `Electron's binary ${p} is missing (reinstall electron)` };
}

/** True when some file under `dir` changed after `than` (ms). */
function newerThan(dir, than) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory() ? newerThan(p, than) : statSync(p).mtimeMs > than) return true;
  }
  return false;
}

function run(cmd, args) {
  const child = spawn(cmd, args, { cwd: repo, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  return new Promise((res) => child.on('exit', (code, signal) => res(code ?? (signal ? 1 : 0))));
}

async function main(args) {
  const vite = join(repo, 'node_modules', '.bin', 'vite');
  const electron = process.env.FUSELAB_WEB ? { path: null, reason: 'FUSELAB_WEB is set' } : findElectron();
  if (!electron.path) {
    console.log(`fuselab: serving the web editor instead of the desktop app: ${electron.reason}.`);
    return run(vite, ['--config', 'apps/editor/vite.config.ts', ...args]);
  }
  const index = join(repo, 'apps/editor/dist/index.html');
  if (!existsSync(index) || newerThan(join(repo, 'apps/editor/src'), statSync(index).mtimeMs)) {
    console.log('fuselab: building the editor for the desktop app (vite build)…');
    const code = await run(vite, ['build', '--config', 'apps/editor/vite.config.ts', '--logLevel', 'warn']);
    if (code) return code;
  }
  const { buildDesktop } = await import(pathToFileURL(join(repo, 'apps/desktop/scripts/build.mjs')).href);
  await buildDesktop(join(repo, 'apps/desktop/dist'));
  console.log(`fuselab: starting the desktop app (${electron.path})`);
  return run(electron.path, [join(repo, 'apps/desktop'), ...args]);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
