/**
 * End to end in real Chromium (Debian's /usr/bin/chromium through playwright-core, headless, WebGPU
 * flags, fresh profile): build and serve the editor with Vite's JS API, open the bundled kjv-llama
 * example, browse it, run the default fusion workflow (its build-engine node builds a real engine for
 * the runtime worker's WebGPU adapter), check the diff shows fused nodes, stream greedy tokens on
 * both sides of the Playground on WebGPU (SwiftShader), put the per-layer timings on the source graph,
 * save the engine and open it again, open a bad file. Screenshots land in test-results/editor/. Without Chromium the suite is skipped locally
 * and FAILS under CI=true (it must never pass by skipping there).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchBrowser, REPO_DIR, serveEditor, type Browser, type ServedEditor } from '../scripts/harness.ts';

const SHOTS = join(REPO_DIR, 'test-results', 'editor');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium && process.env.CI) throw new Error(`e2e: no Chromium at ${CHROMIUM}; CI must install it (apt-get install -y chromium)`);
if (!hasChromium) console.warn(`e2e: skipped, no Chromium at ${CHROMIUM}`);

describe.skipIf(!hasChromium)('editor e2e (Chromium)', () => {
  let served: ServedEditor;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const shot = (name: string) => page.screenshot({ path: join(SHOTS, name) });
  const text = async (sel: string) => (await page.textContent(sel)) ?? '';
  const state = <T>(f: string) => page.evaluate((src) => (new Function('s', `return (${src})(s)`) as (s: unknown) => T)((window as unknown as { __fuselab: { getState(): unknown } }).__fuselab.getState()), f);

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [served, browser] = await Promise.all([serveEditor(), launchBrowser()]);
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('pageerror', (e) => errors.push(e.message));
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await served?.close();
  });

  it('opens the bundled example with its layer hierarchy', async () => {
    const t0 = Date.now();
    await page.goto(served.url);
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]', { timeout: 30_000 });
    const ms = Date.now() - t0;
    console.log(`e2e: kjv-llama interactive in ${ms} ms`);
    await expect.poll(() => page.textContent('[data-testid="status-bar"]')).toContain('1105 nodes');
    expect(Number(await page.getAttribute('[data-testid="graph-main"]', 'data-items'))).toBeGreaterThan(10);
    // the outline lists the four decoder layers
    const outline = await page.textContent('[data-testid="left-panel"]');
    for (const l of ['layers.0', 'layers.1', 'layers.2', 'layers.3']) expect(outline).toContain(l);
    await shot('01-model.png');

    // open a layer, search, inspect a node with its weight statistics
    await page.evaluate(() => (window as unknown as { __fuselab: { getState(): { actions: { toggleGroup(p: string, id: string): void } } } }).__fuselab.getState().actions.toggleGroup('main', 'g:model/layers.0'));
    await page.fill('[data-testid="graph-search"]', 'q_proj');
    await expect.poll(() => page.textContent('[data-testid="search-count"]')).toMatch(/[1-9]\d* matches/);
    await page.click('[data-testid="left-panel"] button:has-text("MatMul")');
    await expect.poll(() => page.textContent('[data-testid="props-op"]')).toBe('MatMul');
    await page.click('[data-testid="properties"] button:has-text("◆")');
    await page.waitForSelector('[data-testid="weight-stats"]', { timeout: 10_000 });
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]');
    await shot('02-model-search-properties.png');
  });

  it('runs the default fusion workflow with per-node stats', async () => {
    await page.fill('[data-testid="graph-search"]', '');
    await page.click('[data-testid="tab-workflow"]');
    await page.waitForSelector('[data-testid="flow-node-fuse-attention"]');
    await page.click('[data-testid="run-workflow"]');
    const skip = '[data-testid="flow-node-fuse-skip-layer-norm"]';
    await page.waitForSelector(`${skip}[data-state="done"]`, { timeout: 60_000 });
    expect(await page.textContent(`${skip} [data-testid="flow-node-stat"]`)).toMatch(/fused \d+ SkipSimplifiedLayerNormalization/);
    expect(await page.textContent('[data-testid="flow-node-fuse-attention"] [data-testid="flow-node-stat"]')).toMatch(/GroupQueryAttention/);
    await expect.poll(() => page.textContent('[data-testid="status-bar"]')).toMatch(/optimized 1105 → 48 nodes/);
    await page.waitForSelector('[data-testid="flow-node-memory-plan"][data-state="done"]', { timeout: 30_000 });
    await shot('03-workflow-run.png');
  });

  it('builds a validated engine for the runtime worker\'s WebGPU device on the build node', async () => {
    const t0 = Date.now();
    await page.waitForSelector('[data-testid="flow-node-build-engine"][data-state="done"]', { timeout: 90_000 });
    console.log(`e2e: engine built ${Date.now() - t0} ms after the passes finished`);
    const detail = await text('[data-testid="flow-node-build-engine"] [data-testid="flow-node-detail"]');
    expect(detail).toMatch(/kjv-llama-model\.engine · \d+\.\d MiB/);
    expect(detail).toContain('sections: model, tokenizer, tokenizer_config');
    expect(detail).toMatch(/48 nodes · \d+ fused · webgpu swiftshader/);
    expect(detail).toContain('✓ validated');
    expect(await text('[data-testid="flow-node-playground"] [data-testid="flow-node-stat"]')).toMatch(/engine ready/);
    await page.click('[data-testid="flow-node-build-engine"]');
    await page.waitForSelector('[data-testid="properties"] :text("Save engine")');
    await shot('07-workflow-engine.png');
  });

  it('shows fused nodes in the diff, with their sources', async () => {
    await page.click('[data-testid="tab-diff"]');
    await page.waitForSelector('[data-testid="graph-before"][data-ready="true"]', { timeout: 30_000 });
    await page.waitForSelector('[data-testid="graph-after"][data-ready="true"]', { timeout: 30_000 });
    const fused = Number((await page.textContent('[data-testid="diff-count-fused"]'))?.split(' ')[0]);
    expect(fused).toBeGreaterThan(0);
    const list = await page.textContent('[data-testid="fused-list"]');
    expect(list).toContain('GroupQueryAttention');
    expect(list).toContain('SkipSimplifiedLayerNormalization');
    await page.click('[data-testid="fused-list"] button:has-text("GroupQueryAttention")');
    await page.waitForSelector('[data-testid="fused-sources"]');
    const sources = await page.$$eval('[data-testid="fused-sources"] button', (b) => b.length);
    expect(sources).toBeGreaterThan(10);
    // selection is synced: the sources are outlined on the before side
    const highlighted = await state<number>('(s) => s.panes.before.highlighted.size');
    expect(highlighted).toBe(sources);
    await page.waitForSelector('[data-testid="graph-before"][data-ready="true"]', { timeout: 30_000 });
    await page.waitForTimeout(300);
    await shot('04-diff.png');
  });

  it('plots the memory plan', async () => {
    await page.click('[data-testid="tab-memory"]');
    await expect.poll(() => page.textContent('[data-testid="memory-view"]'), { timeout: 20_000 }).toContain('Optimized');
    await shot('05-memory.png');
  });

  it('streams the same greedy tokens from the plain model and the engine on WebGPU, with stats and layer timings', async () => {
    // the runtime worker found SwiftShader's adapter
    const hello = await page.evaluate('window.__fuselabRuntime.hello()') as { device: { backend: string; architecture: string } | null };
    expect(hello.device?.backend).toBe('webgpu');
    await page.click('[data-testid="tab-playground"]');
    await page.waitForSelector('[data-testid="playground"]');
    await page.fill('[data-testid="pg-prompt"]', 'And the king said unto');
    await page.fill('[data-testid="pg-max-tokens"]', '24');
    await page.click('[data-testid="pg-greedy"]');
    expect(await page.inputValue('[data-testid="pg-temperature"]')).toBe('0');
    const t0 = Date.now();
    await page.click('[data-testid="pg-generate"]');
    await page.waitForSelector('[data-testid="pg-stop"]');
    // tokens stream: the plain side shows text before it is done
    await page.waitForFunction('document.querySelector(\'[data-testid="text-plain"]\')?.textContent.length > 0', undefined, { timeout: 120_000 });
    const partial = await text('[data-testid="text-plain"]');
    await page.waitForSelector('[data-testid="side-plain"][data-state="done"]', { timeout: 120_000 });
    console.log(`e2e: plain side (load + compile + 24 tokens) ${Date.now() - t0} ms`);
    await page.waitForSelector('[data-testid="side-optimized"][data-state="done"]', { timeout: 120_000 });
    console.log(`e2e: both sides done in ${Date.now() - t0} ms`);
    await page.waitForSelector('[data-testid="pg-generate"]');
    const plain = await text('[data-testid="text-plain"]');
    const optimized = await text('[data-testid="text-optimized"]');
    expect(plain.length).toBeGreaterThan(10);
    expect(plain.startsWith(partial)).toBe(true);
    expect(optimized).toBe(plain);
    for (const id of ['plain', 'optimized']) {
      expect(await page.getAttribute(`[data-testid="side-${id}"] [data-testid="side-backend"]`, 'data-backend')).toBe('webgpu');
      expect(await text(`[data-testid="tokens-${id}"]`)).toMatch(/^24 tokens · prompt 6/);
      for (const k of ['ttft', 'prefill', 'decode', 'p50', 'p95', 'memory']) expect(await text(`[data-testid="stat-${id}-${k}-value"]`)).not.toBe('—');
      expect(await page.$$eval(`[data-testid="timings-${id}"] [data-testid="timing-bar"]`, (b) => b.length)).toBeGreaterThan(3);
    }
    // the optimized side ran the engine, and its fused nodes name their source nodes
    expect(await text('[data-testid="side-optimized"]')).toContain('kjv-llama-model.engine');
    // (which nodes make the top ten depends on the run; the GQA nodes always carry 45 sources)
    expect(await state<number>('(s) => Math.max(...s.playground.sides.optimized.layers.nodes.map((n) => n.sources.length))')).toBeGreaterThan(10);
    expect(await page.$('[data-testid="wasm-notice"]')).toBeNull();
    expect(await text('[data-testid="engine-manifest"]')).toContain('GroupQueryAttention ×4');
    const stats = await state<Record<string, number>>('(s) => ({ plain: s.playground.sides.plain.run.stats.decodeTokPerSec, optimized: s.playground.sides.optimized.run.stats.decodeTokPerSec, nodes: s.playground.sides.optimized.layers.nodes.length })');
    console.log(`e2e: decode tok/s on SwiftShader (profiled first run): plain ${stats.plain.toFixed(1)}, optimized ${stats.optimized.toFixed(1)}; ${stats.nodes} timed engine nodes`);
    await shot('08-playground.png');
  });

  it('shows the run\'s per-layer times as a heatmap on the source graph', async () => {
    // the optimized side's "Show on graph" opens the source graph with the heatmap on
    await page.click('[data-testid="show-heat-optimized"]');
    await page.waitForSelector('[data-testid="timing-overlay-note"]');
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]', { timeout: 30_000 });
    expect(await page.$eval('[data-testid="overlay-select"] option[value="timing:optimized"]', (o) => (o as HTMLOptionElement).disabled)).toBe(false);
    expect(await page.inputValue('[data-testid="overlay-select"]')).toBe('timing:optimized');
    // the menu switches between the two runs
    await page.selectOption('[data-testid="overlay-select"]', 'timing:plain');
    await expect.poll(() => state<string>('(s) => s.overlay.label')).toMatch(/plain/);
    await page.selectOption('[data-testid="overlay-select"]', 'timing:optimized');
    await expect.poll(() => state<string>('(s) => s.overlay.label')).toMatch(/optimized/);
    // blocks collapsed (their heat is the sum inside), the first layer open
    await page.click('[data-testid="graph-main"] button:has-text("Collapse")');
    await page.evaluate('window.__fuselab.getState().actions.toggleGroup("main", "g:model")');
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]', { timeout: 30_000 });
    await page.click('[data-testid="graph-main"] button:has-text("Fit")');
    await page.evaluate('window.__fuselab.getState().actions.select("main", "g:model/layers.0")');
    expect(Number((await text('[data-testid="props-heat"]')).split(' ')[0])).toBeGreaterThan(0);
    const heat = await state<{ kind: string; n: number; root: number }>('(s) => ({ kind: s.overlay.kind, n: s.overlay.values.size, root: s.panes.main.heat.get("g:") })');
    expect(heat.kind).toBe('timing');
    expect(heat.n).toBeGreaterThan(100);
    expect(heat.root).toBeGreaterThan(0);
    await page.waitForSelector('[data-testid="graph-main"][data-ready="true"]', { timeout: 30_000 });
    await page.waitForTimeout(300);
    await shot('09-timing-heatmap.png');
  });

  it('saves the engine and opens the .engine file again, showing its manifest', async () => {
    await page.click('[data-testid="tab-playground"]');
    const dir = mkdtempSync(join(tmpdir(), 'fuselab-engine-'));
    try {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid="pg-save-engine"]')]);
      expect(download.suggestedFilename()).toBe('kjv-llama-model.engine');
      const path = join(dir, 'saved.engine');
      await download.saveAs(path);
      await page.setInputFiles('[data-testid="file-input"]', path);
      await expect.poll(() => state<string>('(s) => s.engine.origin + " " + s.engine.name')).toBe('file saved.engine');
      const manifest = await text('[data-testid="engine-manifest"]');
      expect(manifest).toContain('opened');
      expect(manifest).toMatch(/WebGPU google \/ swiftshader/);
      expect(manifest).toContain('onnxruntime-web 1.30');
      expect(manifest).toContain('✓ matches the original');
      // the optimized side now stands for the opened file and loads it on the next Generate
      expect(await text('[data-testid="side-optimized"]')).toContain('saved.engine');
      expect(await page.getAttribute('[data-testid="side-optimized"]', 'data-state')).toBe('idle');
      await shot('10-engine-opened.png');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('explains a file that is not ONNX', async () => {
    await page.click('[data-testid="tab-graph"]');
    await page.setInputFiles('[data-testid="file-input"]', { name: 'broken.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from([0x08, 0x07, 0x12, 0xff, 0xff, 0xff, 0x0f, 0x01]) });
    await page.waitForSelector('[data-testid="error-panel"]', { timeout: 15_000 });
    const text = await page.textContent('[data-testid="error-panel"]');
    expect(text).toContain('broken.onnx');
    expect(text).toContain('byte offset');
    await shot('06-error.png');
    await page.click('[data-testid="error-dismiss"]');
    expect(errors).toEqual([]);
  });
});
