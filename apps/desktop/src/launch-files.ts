/**
 * Files the OS asks the app to open: command-line arguments (Windows/Linux "open with", and a
 * second instance's argv) and macOS `open-file` events. Pure: picks .onnx/.engine paths out of argv.
 */
import { isAbsolute, resolve } from 'node:path';
import { MODEL_EXTENSIONS } from './file-table.ts';

/**
 * The model paths in `argv` (absolute, resolved against `cwd`). Skips Electron's and Chromium's own
 * arguments (`--flag`, `-x`), the executable and the app path (`skip` leading entries: 1 when
 * packaged, 2 when run as `electron .`).
 */
export function modelPathsFromArgv(argv: readonly string[], cwd: string, skip: number): string[] {
  const out: string[] = [];
  for (const a of argv.slice(skip)) {
    if (!a || a.startsWith('-')) continue;
    const dot = a.lastIndexOf('.');
    if (dot < 0 || !MODEL_EXTENSIONS.has(a.slice(dot).toLowerCase())) continue;
    const p = isAbsolute(a) ? a : resolve(cwd, a);
    if (!out.includes(p)) out.push(p);
  }
  return out;
}
