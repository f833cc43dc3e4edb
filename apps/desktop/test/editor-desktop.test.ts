/**
 * The editor's desktop path in real headless Chromium (Debian's /usr/bin/chromium through
 * playwright-core; Electron's binary cannot be downloaded here). The page gets the real preload API
 * (src/preload-api.ts, bundled with esbuild and injected as an init script) whose `invoke` goes
 * through Playwright's exposeBinding to the real main-process IPC handlers (src/ipc.ts: FileTable,
 * RecentFiles, atomic saves) running in this Node process on real files. The only parts replaced
 * are Electron's IPC transport and the native dialogs (which answer with real paths the test picks).
 *
 * Chromium here cannot serve the editor from the shell's app:// scheme, so the transport reports the
 * served editor's top-level page as app://fuselab/ (the sender check itself is the real one: a
 * frame from anywhere else would be refused).
 *
 * Without Chromium the suite is skipped locally and FAILS under CI=true.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import type { Frame, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '@fuselab/graph-core';
import { buildEngine, wasmFingerprint } from '@fuselab/gpu-runtime';
import { CHANNELS, type Channel, type OpenedFile, type OpenFilesBatch } from '@fuselab/editor';
import { CHROMIUM, launchBrowser, REPO_DIR, serveEditor, type Browser, type ServedEditor } from '../../editor/scripts/harness.ts';
import { DESKTOP_READ_CHUNK } from '../../editor/src/desktop/read-file.ts';
import { DesktopError } from '../src/errors.ts';
import { FileTable } from '../src/file-table.ts';
import { createIpcHandlers, type IpcHandlers, type SenderInfo } from '../src/ipc.ts';
import { RecentFiles } from '../src/recent-files.ts';
import { FakeDialogs, tempDir } from './helpers.ts';

const DESKTOP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHOTS = join(REPO_DIR, 'test-results', 'desktop');
const LLAMA = join(REPO_DIR, 'examples/models/kjv-llama');
const GPT2 = join(REPO_DIR, 'examples/models/kjv-gpt2');
const PAGE_ID = 7;
/** How long to wait for the page to catch up (a 2-core machine under load is slow). */
const POLL = { timeout: 15_000 };

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI) throw new Error(`editor-desktop: no Chromium at ${CHROMIUM}; CI must install it (apt-get install -y chromium)`);
if (!hasChromium) console.warn(`editor-desktop: skipped, no Chromium at ${CHROMIUM}`);

/** The preload's API over `window.__fuselabIpc` (the test transport), as an init script. */
async function preloadScript(): Promise<string> {
  const entry = `
    import { createPreloadApi } from ${JSON.stringify(join(DESKTOP_DIR, 'src/preload-api.ts'))};
    const w = window;
    const preload = createPreloadApi({ invoke: (channel, ...args) => w.__fuselabIpc(channel, args), platform: 'linux', versions: { electron: '', chrome: '', node: '' } });
    w.fuselabDesktop = preload.api;
    // what main → preload events do in the shell: ipcRenderer.on(EVENTS.openFiles) and the drop listener
    w.__fuselabShell = { deliver: preload.deliver, openDropped: preload.openDropped };
  `;
  const out = await esbuild({ stdin: { contents: entry, resolveDir: DESKTOP_DIR, loader: 'ts' }, bundle: true, format: 'iife', platform: 'browser', target: 'es2022', write: false, logLevel: 'warning' });
  return out.outputFiles[0].text;
}

/** A small real engine of kjv-llama (unoptimized graph, wasm fingerprint) on disk. */
async function writeEngine(path: string): Promise<Uint8Array> {
  const bytes = readFileSync(join(LLAMA, 'model.onnx'));
  const model = loadModel(bytes);
  const { chunks, byteLength } = await buildEngine({
    source: { file: 'model.onnx', bytes, nodes: model.graph.nodeCount }, optimized: model, modelBytes: bytes,
    device: wasmFingerprint('editor-desktop test'), ortVersion: '1.30.0', fused: {}, provenance: [], maxPositions: 256,
    tokenizer: { json: readFileSync(join(LLAMA, 'tokenizer.json')), config: readFileSync(join(LLAMA, 'tokenizer_config.json')) },
  });
  const out = new Uint8Array(byteLength);
  let at = 0;
  for (const c of chunks) { out.set(c, at); at += c.byteLength; }
  writeFileSync(path, out);
  return out;
}

/** One IPC call as the handlers answered it (arguments kept for reads and companions). */
interface Call { channel: string; args: unknown[]; ok: boolean; code?: string; opened?: OpenedFile }

describe.skipIf(!hasChromium)('the editor inside the desktop shell (real Chromium, real IPC handlers)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let served: ServedEditor;
  let browser: Browser;
  let page: Page;
  let files: FileTable;
  let ipc: IpcHandlers;
  let enginePath: string;
  let engineBytes: Uint8Array;
  const dialogs = new FakeDialogs();
  const calls: Call[] = [];
  const errors: string[] = [];
  const state = <T>(f: string) => page.evaluate((src) => (new Function('s', `return (${src})(s)`) as (s: unknown) => T)((window as unknown as { __fuselab: { getState(): unknown } }).__fuselab.getState()), f);
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, name) });
  /** The reads of one handle, in order. */
  const readsOf = (handle: string) => calls.filter((c) => c.channel === CHANNELS.readFileRange && c.args[0] === handle).map((c) => ({ offset: c.args[1] as number, length: c.args[2] as number }));
  const openedFiles = () => calls.flatMap((c) => (c.opened ? [c.opened] : []));

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    tmp = tempDir('fuselab-editor-desktop-');
    mkdirSync(join(tmp.dir, 'user'));
    mkdirSync(join(tmp.dir, 'out'));
    enginePath = join(tmp.dir, 'kjv.engine');
    engineBytes = await writeEngine(enginePath);
    files = new FileTable();
    ipc = createIpcHandlers({
      files,
      recent: new RecentFiles(join(tmp.dir, 'user', 'recent-files.json')),
      dialogs,
      // no utility process in a browser test: the runtime port is covered in Node (runtime-host.test.ts)
      connectRuntime: () => { throw new DesktopError('NO_RUNTIME', 'no runtime process in this browser test'); },
    });
    const [s, b, script] = await Promise.all([serveEditor({ outDir: join(tmp.dir, 'editor-dist') }), launchBrowser(), preloadScript()]);
    served = s;
    browser = b;
    const sender = (frame: Frame): SenderInfo => {
      const url = frame.url();
      return { id: PAGE_ID, url: url.startsWith(served.url) ? `app://fuselab/${url.slice(served.url.length)}` : url, isMainFrame: frame.parentFrame() === null };
    };
    await browser.context.exposeBinding('__fuselabIpc', async (source, channel: Channel, args: unknown[]) => {
      const r = await ipc.invoke(channel, sender(source.frame), args);
      const call: Call = { channel, args: channel === CHANNELS.readFileRange || channel === CHANNELS.openCompanion || channel === CHANNELS.closeFile ? args : [], ok: r.ok };
      if (r.ok && r.value && typeof r.value === 'object' && 'handle' in r.value) call.opened = r.value as OpenedFile;
      if (!r.ok) call.code = r.code;
      calls.push(call);
      return r;
    });
    await browser.context.addInitScript({ content: script });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('pageerror', (e) => errors.push(e.message));
    // start on a small model served by URL, so what the shell opens is easy to tell apart
    await page.goto(`${served.url}?model=/examples/fixtures/bert-tiny.onnx`);
    await page.waitForFunction('window.__fuselab?.getState().original?.summary.nodeCount === 207', undefined, { timeout: 30_000 });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
    files?.closeAll(PAGE_ID);
    tmp?.cleanup();
  });

  it('opens a bundled example through the native dialog, reading it by range, with its tokenizer beside it', async () => {
    expect(await page.evaluate(() => typeof (window as unknown as { fuselabDesktop?: unknown }).fuselabDesktop)).toBe('object');
    const model = join(LLAMA, 'model.onnx');
    const size = statSync(model).size;
    dialogs.opens.push(model);
    await page.click('[data-testid="open-menu"]');
    await page.click('[data-testid="open-file"]');
    await expect.poll(() => state<string>('(s) => `${s.source?.name} ${s.original?.summary.nodeCount}`'), { timeout: 30_000 }).toBe('model.onnx 1105');
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]', { timeout: 30_000 });
    expect(Number(await page.getAttribute('[data-testid="graph-main"]', 'data-items'))).toBeGreaterThan(10);
    expect(await page.textContent('[data-testid="status-bar"]')).toContain('1105 nodes');

    // read in ranges: contiguous, none above the chunk size, the whole file exactly once
    const opened = openedFiles().find((f) => f.name === 'model.onnx' && f.size === size) as OpenedFile;
    expect(opened.companions).toEqual(expect.arrayContaining(['tokenizer.json', 'config.json']));
    const reads = readsOf(opened.handle);
    expect(reads.length).toBe(Math.ceil(size / DESKTOP_READ_CHUNK));
    expect(reads.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...reads.map((r) => r.length))).toBe(DESKTOP_READ_CHUNK);
    expect(Math.max(...reads.map((r) => r.length))).toBeLessThan(size / 2);
    let at = 0;
    for (const r of reads) { expect(r.offset).toBe(at); at += r.length; }
    expect(at).toBe(size);

    // the tokenizer and configs came along through openCompanion, so the Playground can chat
    const companions = calls.filter((c) => c.channel === CHANNELS.openCompanion && c.ok).map((c) => c.args[1]);
    expect(companions).toEqual(['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json']);
    await expect.poll(() => state<string>('(s) => s.assets.from'), POLL).toMatch(/^beside model\.onnx: tokenizer\.json/);
    expect(await state<number>('(s) => s.assets.tokenizer?.byteLength ?? 0')).toBe(statSync(join(LLAMA, 'tokenizer.json')).size);
    expect(await state<number | null>('(s) => s.assets.maxPositions')).toBeGreaterThan(0);
    // every handle the page got is closed again
    await expect.poll(() => files.openCount, POLL).toBe(0);

    // the recent-files list shows it in the Open menu
    await page.click('[data-testid="open-menu"]');
    await expect.poll(() => page.textContent('[data-testid="recent-files"]'), POLL).toContain('model.onnx');
    expect(await page.textContent('[data-testid="recent-files"]')).toContain('kjv-llama');
    await shot('01-open-menu-recent.png');
    await page.click('[data-testid="open-menu"]');
    expect(JSON.parse(readFileSync(join(tmp.dir, 'user', 'recent-files.json'), 'utf8')).files.map((i: { path: string }) => i.path)).toEqual([model]);
  });

  it('refuses a path outside the allowed set with a visible error, reading nothing', async () => {
    const notes = join(tmp.dir, 'notes.txt');
    writeFileSync(notes, 'not a model');
    const before = calls.length;
    dialogs.opens.push(notes);
    await page.click('[data-testid="open-menu"]');
    await page.click('[data-testid="open-file"]');
    await page.waitForSelector('[data-testid="error-panel"]', { timeout: 10_000 });
    const text = await page.textContent('[data-testid="error-panel"]');
    expect(text).toContain('PATH_REFUSED');
    expect(text).toContain(`${notes}: only .onnx, .engine files open as models`);
    const after = calls.slice(before).filter((c) => c.channel !== CHANNELS.recentFiles);
    expect(after.map((c) => `${c.channel} ${c.ok ? 'ok' : c.code}`)).toEqual([`${CHANNELS.openModel} PATH_REFUSED`]);
    await shot('02-path-refused.png');
    await page.click('[data-testid="error-dismiss"]');
    // the model shown before is still there
    expect(await state<string>('(s) => `${s.source?.name} ${s.original?.summary.nodeCount}`')).toBe('model.onnx 1105');
  });

  it('opens files from the OS (with refusals as toasts) and dropped on the window through the API', async () => {
    const notes = join(tmp.dir, 'notes.txt');
    // main.ts: app 'open-file' / argv → handlers.openPaths → webContents.send(EVENTS.openFiles, batch)
    const batch: OpenFilesBatch = ipc.openPaths(PAGE_ID, [join(GPT2, 'model.onnx'), notes], 'os');
    expect(batch.files.map((f) => f.name)).toEqual(['model.onnx']);
    await page.evaluate((b) => (window as unknown as { __fuselabShell: { deliver(b: OpenFilesBatch): void } }).__fuselabShell.deliver(b), batch);
    await expect.poll(() => state<string>('(s) => `${s.source?.name} ${s.original?.summary.nodeCount}`'), { timeout: 30_000 }).toBe('model.onnx 982');
    await expect.poll(() => page.textContent('body'), POLL).toContain('Not opened (from the system)');
    expect(await page.$$eval('[data-testid="toast"]', (t) => t.map((x) => x.textContent).join('\n'))).toContain(`${notes}: only .onnx, .engine files open as models`);
    const gpt2 = batch.files[0];
    expect(readsOf(gpt2.handle).reduce((a, r) => a + r.length, 0)).toBe(gpt2.size);

    // a drop: the preload's drop listener hands webUtils.getPathForFile paths to main (openDropped)
    await page.evaluate((p) => (window as unknown as { __fuselabShell: { openDropped(p: string[]): Promise<void> } }).__fuselabShell.openDropped(p), [enginePath]);
    await expect.poll(() => state<string>('(s) => `${s.engine.origin} ${s.engine.name} ${s.engine.byteLength} ${s.tab}`'), { timeout: 30_000 }).toBe(`file kjv.engine ${engineBytes.byteLength} playground`);
    await page.waitForSelector('[data-testid="engine-manifest"]');
    expect(calls.some((c) => c.channel === CHANNELS.openDropped && c.ok)).toBe(true);
    await expect.poll(() => files.openCount, POLL).toBe(0);
  });

  it('saves the engine through the native save dialog with an atomic write that reads back', async () => {
    const target = join(tmp.dir, 'out', 'saved.engine');
    dialogs.saves.push(target);
    await page.click('[data-testid="pg-save-engine"]');
    await expect.poll(() => page.textContent('body'), POLL).toContain('Saved engine saved.engine');
    expect(dialogs.asked.at(-1)).toEqual({ kind: 'engine', suggestedName: 'kjv.engine' });
    expect(Buffer.from(readFileSync(target)).equals(Buffer.from(engineBytes))).toBe(true);
    expect(readdirSync(join(tmp.dir, 'out'))).toEqual(['saved.engine']);
    await shot('03-engine-saved.png');
  });

  it('saves the workflow through the native save dialog, replacing the old file atomically', async () => {
    const target = join(tmp.dir, 'out', 'my-flow.json');
    writeFileSync(target, '{"old": true}');
    const oldInode = statSync(target).ino;
    dialogs.saves.push(target);
    await page.click('[data-testid="save-workflow"]');
    await expect.poll(() => page.textContent('body'), POLL).toContain('Saved workflow my-flow.json');
    expect(dialogs.asked.at(-1)).toEqual({ kind: 'workflow', suggestedName: 'workflow.fuselab.json' });
    const saved = readFileSync(target, 'utf8');
    const doc = JSON.parse(saved) as { format: string; passes: unknown[] };
    expect(doc.format).toBe('fuselab.workflow');
    expect(doc.passes.length).toBeGreaterThan(3);
    expect(saved).toBe(await state<string>('(s) => s.actions.saveWorkflow()'));
    // written to a temp file and renamed over the old one: a new inode, no temp file left
    expect(statSync(target).ino).not.toBe(oldInode);
    expect(readdirSync(join(tmp.dir, 'out')).sort()).toEqual(['my-flow.json', 'saved.engine']);
    // a cancelled dialog writes nothing
    const before = readdirSync(join(tmp.dir, 'out')).length;
    await page.click('[data-testid="save-workflow"]');
    await expect.poll(() => dialogs.asked.length, POLL).toBeGreaterThanOrEqual(3);
    expect(readdirSync(join(tmp.dir, 'out')).length).toBe(before);
  });

  it('reopens a model from the recent-files list', async () => {
    await page.click('[data-testid="tab-graph"]');
    await page.click('[data-testid="open-menu"]');
    // newest first: the saved engine, the dropped engine, kjv-gpt2 from the OS, kjv-llama from the dialog
    const items = page.locator('[data-testid="recent-file"]');
    await expect.poll(() => items.allTextContents(), POLL).toEqual([
      expect.stringMatching(/^saved\.engine/), expect.stringMatching(/^kjv\.engine/), expect.stringMatching(/^model\.onnx.*kjv-gpt2/), expect.stringMatching(/^model\.onnx.*kjv-llama/),
    ]);
    await items.filter({ hasText: 'kjv-llama' }).first().click();
    await expect.poll(() => state<string>('(s) => `${s.source?.name} ${s.original?.summary.nodeCount}`'), { timeout: 30_000 }).toBe('model.onnx 1105');
    expect(calls.filter((c) => c.channel === CHANNELS.openRecent).map((c) => c.ok)).toEqual([true]);
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]', { timeout: 30_000 });
    await shot('04-reopened-from-recent.png');
    expect(errors).toEqual([]);
  });
});
