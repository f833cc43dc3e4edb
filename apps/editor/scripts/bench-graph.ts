/**
 * Graph-view benchmark: time to interactive for a ~10k-node Llama-shaped graph in headless Chromium.
 *
 *   npx tsx apps/editor/scripts/bench-graph.ts [--layers 45] [--skip-build]
 *
 * Generates the graph (scripts/llama-shaped.ts) into examples/generated/ (git-ignored), builds and
 * serves the editor, opens it on that file and prints JSON: time to interactive (navigation →
 * parsed in the worker → hierarchy → layout in the worker → first frame drawn), the same with every
 * block expanded (all nodes drawn), and canvas frame times while zooming and panning.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serializeModelToBytes } from '@fuselab/graph-core';
import { buildLlamaShaped } from './llama-shaped.ts';
import { launchBrowser, REPO_DIR, serveEditor } from './harness.ts';

const { values } = parseArgs({ options: { layers: { type: 'string', default: '45' }, 'skip-build': { type: 'boolean', default: false } } });
const layers = Number(values.layers);
const model = buildLlamaShaped(layers);
const dir = join(REPO_DIR, 'examples', 'generated');
mkdirSync(dir, { recursive: true });
const file = `bench-llama-${layers}l.onnx`;
const bytes = serializeModelToBytes(model);
writeFileSync(join(dir, file), bytes);

const served = await serveEditor({ skipBuild: values['skip-build'] });
const browser = await launchBrowser();
try {
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const ready = '[data-testid="graph-main"][data-ready="true"]';
  const t0 = Date.now();
  await page.goto(`${served.url}?model=/examples/generated/${file}`);
  await page.waitForSelector(ready, { timeout: 60_000 });
  const tti = Date.now() - t0;
  const collapsedItems = Number(await page.getAttribute('[data-testid="graph-main"]', 'data-items'));
  const open = await page.evaluate(() => {
    const s = (window as unknown as { __fuselab: { getState(): { source: { openMs: number }; panes: { main: { layoutState: { ms?: number } } } } } }).__fuselab.getState();
    return { openMs: s.source.openMs, layoutMs: s.panes.main.layoutState.ms };
  });

  // every block open: all nodes on the canvas
  const t1 = Date.now();
  await page.click('[data-testid="expand-all-main"]');
  await page.waitForSelector('[data-testid="graph-main"][data-ready="false"]', { timeout: 5_000 }).catch(() => {});
  await page.waitForSelector(ready, { timeout: 120_000 });
  const expandMs = Date.now() - t1;
  const expandedItems = Number(await page.getAttribute('[data-testid="graph-main"]', 'data-items'));
  const expandedLayoutMs = await page.evaluate(() => (window as unknown as { __fuselab: { getState(): { panes: { main: { layoutState: { ms?: number } } } } } }).__fuselab.getState().panes.main.layoutState.ms);

  // zoom and pan: frame times of the canvas renderer (fit view = everything visible, the worst case)
  const box = await page.locator('[data-testid="graph-main"] canvas').boundingBox();
  const cx = (box?.x ?? 0) + (box?.width ?? 800) / 2;
  const cy = (box?.y ?? 0) + (box?.height ?? 600) / 2;
  await page.evaluate(() => { (window as unknown as { __fuselabFrames: number[] }).__fuselabFrames = []; });
  await page.mouse.move(cx, cy);
  const tz = Date.now();
  for (let i = 0; i < 20; i++) await page.mouse.wheel(0, i < 10 ? -120 : 120);
  await page.mouse.down();
  for (let i = 0; i < 20; i++) await page.mouse.move(cx + i * 10, cy + i * 6);
  await page.mouse.up();
  await page.waitForTimeout(100);
  const interactionMs = Date.now() - tz;
  const frames = await page.evaluate(() => (window as unknown as { __fuselabFrames: number[] }).__fuselabFrames);
  const sorted = [...frames].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? null;
  console.log(JSON.stringify({
    graph: { file: `examples/generated/${file}`, layers, nodes: model.graph.nodeCount, bytes: bytes.byteLength },
    browser: 'chromium headless (SwiftShader), 2-core machine',
    timeToInteractiveMs: tti,
    openInWorkerMs: Math.round(open.openMs),
    layoutMs: Math.round(open.layoutMs ?? 0),
    itemsDrawnCollapsed: collapsedItems,
    expandAll: { ms: expandMs, layoutMs: Math.round(expandedLayoutMs ?? 0), itemsDrawn: expandedItems },
    zoomPan: { events: 40, wallMs: interactionMs, frames: frames.length, frameMsMedian: pct(0.5), frameMsP95: pct(0.95), frameMsMax: sorted.at(-1) ?? null },
  }, null, 2));
} finally {
  await browser.close();
  await served.close();
}
