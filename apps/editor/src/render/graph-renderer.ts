/**
 * A 2D-canvas graph renderer: pan, zoom at the cursor, level of detail (text only when readable,
 * plain rectangles when zoomed far out), viewport culling, and a uniform-grid index for hit tests.
 * Draws tens of thousands of boxes and edges per frame; DOM nodes would not keep up.
 */
import { heatColor, MARK_COLORS } from './colors.ts';
import type { Scene, SceneItem } from './scene.ts';

export interface Decor {
  selected: string | null;
  highlighted: ReadonlySet<string>;
  marks: ReadonlyMap<string, string> | null;
  markRollup: ReadonlyMap<string, Record<string, number>> | null;
  heat: ReadonlyMap<string, number> | null;
}

export interface RendererCallbacks {
  onSelect(id: string | null): void;
  onToggle(id: string): void;
  onHover?(id: string | null): void;
  /** After each frame, with its duration (ms). */
  onFrame?(ms: number): void;
}

export interface Camera {
  x: number;
  y: number;
  k: number;
}

const CELL = 320;
const BG = '#0b0f14';

export class GraphRenderer {
  private ctx: CanvasRenderingContext2D;
  private scene: Scene | null = null;
  private decor: Decor = { selected: null, highlighted: new Set(), marks: null, markRollup: null, heat: null };
  private heatMax = 1;
  private cam: Camera = { x: 0, y: 0, k: 1 };
  private grid = new Map<number, SceneItem[]>();
  private frames: SceneItem[] = [];
  private raf = 0;
  private pendingFit = false;
  private drag: { x: number; y: number; cx: number; cy: number; moved: boolean } | null = null;
  private hover: string | null = null;
  private ro: ResizeObserver;
  private disposers: Array<() => void> = [];
  /** Frames drawn so far (tests read it). */
  frameCount = 0;

  constructor(private canvas: HTMLCanvasElement, private cb: RendererCallbacks) {
    this.ctx = canvas.getContext('2d', { alpha: false }) as CanvasRenderingContext2D;
    this.ro = new ResizeObserver(() => this.invalidate());
    this.ro.observe(canvas);
    const on = <K extends keyof HTMLElementEventMap>(t: K, f: (e: HTMLElementEventMap[K]) => void, o?: AddEventListenerOptions) => {
      canvas.addEventListener(t, f as EventListener, o);
      this.disposers.push(() => canvas.removeEventListener(t, f as EventListener));
    };
    on('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.drag = { x: e.clientX, y: e.clientY, cx: this.cam.x, cy: this.cam.y, moved: false };
    });
    on('pointermove', (e) => {
      if (this.drag) {
        const dx = e.clientX - this.drag.x;
        const dy = e.clientY - this.drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) this.drag.moved = true;
        if (this.drag.moved) {
          this.cam = { ...this.cam, x: this.drag.cx + dx, y: this.drag.cy + dy };
          this.invalidate();
        }
        return;
      }
      const hit = this.hitAt(e.offsetX, e.offsetY);
      const id = hit?.id ?? null;
      if (id !== this.hover) {
        this.hover = id;
        canvas.style.cursor = id ? 'pointer' : 'grab';
        this.cb.onHover?.(id);
        this.invalidate();
      }
    });
    on('pointerup', (e) => {
      const d = this.drag;
      this.drag = null;
      if (d && !d.moved) {
        const hit = this.hitAt(e.offsetX, e.offsetY);
        if (hit && (hit.kind === 'block' || hit.kind === 'frame') && this.onChevron(hit, e.offsetX, e.offsetY)) this.cb.onToggle(hit.id);
        else this.cb.onSelect(hit?.id ?? null);
      }
    });
    on('dblclick', (e) => {
      const hit = this.hitAt(e.offsetX, e.offsetY);
      if (hit && (hit.kind === 'block' || hit.kind === 'frame')) this.cb.onToggle(hit.id);
    });
    on('wheel', (e) => {
      e.preventDefault();
      const f = Math.exp(-e.deltaY * (e.ctrlKey ? 0.01 : 0.0015));
      this.zoomAt(e.offsetX, e.offsetY, f);
    }, { passive: false });
  }

  destroy(): void {
    cancelAnimationFrame(this.raf);
    this.ro.disconnect();
    for (const d of this.disposers) d();
  }

  get camera(): Camera {
    return this.cam;
  }

  setScene(scene: Scene | null, options: { fit?: boolean } = {}): void {
    this.scene = scene;
    this.grid.clear();
    this.frames = [];
    if (scene) {
      for (const it of scene.items) {
        if (it.kind === 'frame') { this.frames.push(it); continue; }
        const x0 = Math.floor(it.x / CELL);
        const x1 = Math.floor((it.x + it.w) / CELL);
        const y0 = Math.floor(it.y / CELL);
        const y1 = Math.floor((it.y + it.h) / CELL);
        for (let gx = x0; gx <= x1; gx++) for (let gy = y0; gy <= y1; gy++) {
          const key = gx * 100003 + gy;
          const cell = this.grid.get(key);
          if (cell) cell.push(it);
          else this.grid.set(key, [it]);
        }
      }
      this.frames.sort((a, b) => b.depth - a.depth);
    }
    if (options.fit) this.fit();
    this.invalidate();
  }

  setDecor(decor: Decor): void {
    this.decor = decor;
    let m = 0;
    if (decor.heat && this.scene) for (const it of this.scene.items) { const v = decor.heat.get(it.id); if (v !== undefined && it.kind !== 'frame') m = Math.max(m, v); }
    this.heatMax = m || 1;
    this.invalidate();
  }

  fit(): void {
    const s = this.scene;
    if (!s) return;
    const { width, height } = this.canvas.getBoundingClientRect();
    // not laid out yet (a tab just opened): fit on the first frame that has a size
    if (!width || !height) { this.pendingFit = true; return; }
    this.pendingFit = false;
    const pad = 32;
    const k = Math.min(1.2, Math.max(0.01, Math.min((width - 2 * pad) / Math.max(1, s.width), (height - 2 * pad) / Math.max(1, s.height))));
    this.cam = { k, x: (width - s.width * k) / 2, y: (height - s.height * k) / 2 };
    this.invalidate();
  }

  zoomAt(px: number, py: number, f: number): void {
    const k = Math.min(4, Math.max(0.01, this.cam.k * f));
    const r = k / this.cam.k;
    this.cam = { k, x: px - (px - this.cam.x) * r, y: py - (py - this.cam.y) * r };
    this.invalidate();
  }

  zoomBy(f: number): void {
    const { width, height } = this.canvas.getBoundingClientRect();
    this.zoomAt(width / 2, height / 2, f);
  }

  /** Centers `id` at a readable zoom. */
  focus(id: string): void {
    const it = this.scene?.itemById.get(id);
    if (!it) return;
    const { width, height } = this.canvas.getBoundingClientRect();
    const k = Math.max(this.cam.k, 0.8);
    this.cam = { k, x: width / 2 - (it.x + it.w / 2) * k, y: height / 2 - (it.y + it.h / 2) * k };
    this.invalidate();
  }

  hitAt(px: number, py: number): SceneItem | null {
    const x = (px - this.cam.x) / this.cam.k;
    const y = (py - this.cam.y) / this.cam.k;
    const cell = this.grid.get(Math.floor(x / CELL) * 100003 + Math.floor(y / CELL));
    if (cell) for (let i = cell.length - 1; i >= 0; i--) {
      const it = cell[i];
      if (x >= it.x && x <= it.x + it.w && y >= it.y && y <= it.y + it.h) return it;
    }
    for (const f of this.frames) if (x >= f.x && x <= f.x + f.w && y >= f.y && y <= f.y + 30) return f;
    return null;
  }

  private onChevron(it: SceneItem, px: number, py: number): boolean {
    const x = (px - this.cam.x) / this.cam.k - it.x;
    const y = (py - this.cam.y) / this.cam.k - it.y;
    return it.kind === 'frame' ? x < 28 && y < 30 : x > it.w - 30 && y < 28;
  }

  invalidate(): void {
    if (this.raf) return;
    this.raf = requestAnimationFrame(() => {
      this.raf = 0;
      this.draw();
    });
  }

  /** Draws the whole scene into a fresh canvas (PNG export), at most `maxSide` pixels a side. */
  renderImage(maxSide = 8192): HTMLCanvasElement | null {
    const s = this.scene;
    if (!s) return null;
    const pad = 24;
    const k = Math.min(2, maxSide / Math.max(s.width + 2 * pad, s.height + 2 * pad));
    const c = document.createElement('canvas');
    c.width = Math.ceil((s.width + 2 * pad) * k);
    c.height = Math.ceil((s.height + 2 * pad) * k);
    const ctx = c.getContext('2d', { alpha: false }) as CanvasRenderingContext2D;
    this.paint(ctx, c.width, c.height, 1, { x: pad * k, y: pad * k, k });
    return c;
  }

  private draw(): void {
    const t0 = performance.now();
    const dpr = window.devicePixelRatio || 1;
    if (this.pendingFit) this.fit();
    const { width, height } = this.canvas.getBoundingClientRect();
    const W = Math.max(1, Math.round(width * dpr));
    const H = Math.max(1, Math.round(height * dpr));
    if (this.canvas.width !== W || this.canvas.height !== H) {
      this.canvas.width = W;
      this.canvas.height = H;
    }
    this.paint(this.ctx, W, H, dpr, this.cam);
    this.frameCount++;
    this.cb.onFrame?.(performance.now() - t0);
  }

  private paint(ctx: CanvasRenderingContext2D, W: number, H: number, dpr: number, cam: Camera): void {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = BG;
    ctx.fillRect(0, 0, W, H);
    const s = this.scene;
    if (!s) return;
    const k = cam.k;
    ctx.setTransform(dpr * k, 0, 0, dpr * k, dpr * cam.x, dpr * cam.y);
    const vx0 = -cam.x / k;
    const vy0 = -cam.y / k;
    const vx1 = vx0 + W / dpr / k;
    const vy1 = vy0 + H / dpr / k;
    const inView = (x: number, y: number, w: number, h: number) => x + w >= vx0 && x <= vx1 && y + h >= vy0 && y <= vy1;
    const d = this.decor;
    const showText = k > 0.42;
    const px = 1 / k;

    // frames (outermost first)
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i];
      if (!inView(f.x, f.y, f.w, f.h)) continue;
      ctx.fillStyle = f.depth % 2 ? 'rgba(148,163,184,0.045)' : 'rgba(129,140,248,0.06)';
      roundRect(ctx, f.x, f.y, f.w, f.h, 10);
      ctx.fill();
      const roll = d.markRollup?.get(f.id);
      ctx.strokeStyle = f.id === d.selected ? '#818cf8' : d.highlighted.has(f.id) ? '#facc15' : roll ? '#64748b' : '#243041';
      ctx.lineWidth = (f.id === d.selected ? 2 : 1) * px;
      ctx.stroke();
      if (k * 30 > 8) {
        ctx.fillStyle = '#a5b4fc';
        ctx.font = '600 12px Inter, system-ui, sans-serif';
        ctx.fillText(`▾  ${f.title}`, f.x + 10, f.y + 19);
        if (roll) drawBadges(ctx, roll, f.x + f.w - 10, f.y + 8, true);
      }
    }

    // edges
    const sel = d.selected;
    ctx.lineWidth = Math.max(1, 1.2) * px;
    ctx.strokeStyle = '#3b4a5e';
    ctx.beginPath();
    const straight = k < 0.12;
    const hot: typeof s.edges = [];
    for (const e of s.edges) {
      const x0 = Math.min(e.x1, e.x2);
      const y0 = Math.min(e.y1, e.y2);
      if (!inView(x0, y0, Math.abs(e.x2 - e.x1) + 1, Math.abs(e.y2 - e.y1) + 1)) continue;
      if (sel && (e.source === sel || e.target === sel)) { hot.push(e); continue; }
      ctx.moveTo(e.x1, e.y1);
      if (straight) ctx.lineTo(e.x2, e.y2);
      else {
        const dy = Math.max(18, Math.abs(e.y2 - e.y1) / 2);
        ctx.bezierCurveTo(e.x1, e.y1 + dy, e.x2, e.y2 - dy, e.x2, e.y2);
      }
    }
    ctx.stroke();
    if (hot.length) {
      ctx.strokeStyle = '#818cf8';
      ctx.lineWidth = 2 * px;
      ctx.beginPath();
      for (const e of hot) {
        const dy = Math.max(18, Math.abs(e.y2 - e.y1) / 2);
        ctx.moveTo(e.x1, e.y1);
        ctx.bezierCurveTo(e.x1, e.y1 + dy, e.x2, e.y2 - dy, e.x2, e.y2);
      }
      ctx.stroke();
      if (showText) {
        ctx.font = '10px "JetBrains Mono", ui-monospace, monospace';
        ctx.fillStyle = '#c7d2fe';
        for (const e of hot) if (e.label) ctx.fillText(e.label, (e.x1 + e.x2) / 2 + 6, (e.y1 + e.y2) / 2);
      }
    }

    // nodes and blocks
    const heat = d.heat;
    for (const it of s.items) {
      if (it.kind === 'frame' || !inView(it.x, it.y, it.w, it.h)) continue;
      const mark = d.marks?.get(it.id);
      const hv = heat?.get(it.id);
      const isSel = it.id === sel;
      const isHl = d.highlighted.has(it.id);
      const isHover = it.id === this.hover;
      if (k * it.h < 7) {
        // far away: a colored rectangle says enough
        ctx.fillStyle = hv !== undefined ? heatColor(hv / this.heatMax) : mark && mark !== 'kept' ? MARK_COLORS[mark] ?? it.color : isSel || isHl ? '#facc15' : it.kind === 'block' ? '#6366f1' : it.color;
        ctx.fillRect(it.x, it.y, it.w, it.h);
        continue;
      }
      const r = it.kind === 'io' ? it.h / 2 : 7;
      ctx.fillStyle = hv !== undefined ? mix(heatColor(hv / this.heatMax), 0.55) : it.kind === 'block' ? '#151b2e' : mark === 'removed' || mark === 'replaced' ? '#1a1216' : '#111827';
      roundRect(ctx, it.x, it.y, it.w, it.h, r);
      ctx.fill();
      const roll = it.kind === 'block' ? d.markRollup?.get(it.id) : undefined;
      const markColor = mark && mark !== 'kept' ? MARK_COLORS[mark] : undefined;
      ctx.strokeStyle = isSel ? '#a5b4fc' : isHl ? '#facc15' : markColor ?? (roll ? '#94a3b8' : isHover ? '#64748b' : '#263244');
      ctx.lineWidth = (isSel || isHl || markColor ? 2 : 1) * px;
      if (it.kind === 'block') ctx.setLineDash([]);
      ctx.stroke();
      if (it.kind !== 'io') {
        // color stripe
        ctx.fillStyle = it.color;
        roundRect(ctx, it.x, it.y, 4, it.h, 2);
        ctx.fill();
      }
      if (!showText) continue;
      const dim = mark === 'removed' || mark === 'replaced';
      ctx.fillStyle = dim ? '#9ca3af' : '#e5e7eb';
      ctx.font = `${it.kind === 'block' ? '600 13px' : '600 12px'} Inter, system-ui, sans-serif`;
      const tx = it.x + (it.kind === 'io' ? 14 : 12);
      ctx.fillText(clip(ctx, it.kind === 'io' ? it.title : it.title, it.w - 44), tx, it.y + (it.kind === 'io' ? it.h / 2 - 1 : 16));
      if (dim) {
        ctx.fillRect(tx, it.y + 12, Math.min(ctx.measureText(it.title).width, it.w - 44), 1);
      }
      ctx.font = '10px "JetBrains Mono", ui-monospace, monospace';
      ctx.fillStyle = '#8b9ab0';
      if (it.kind === 'io') ctx.fillText(clip(ctx, it.subtitle, it.w - 28), tx, it.y + it.h / 2 + 10);
      else ctx.fillText(clip(ctx, it.subtitle, it.w - 18), tx, it.y + (it.kind === 'block' ? 36 : 30));
      if (it.kind === 'block') {
        ctx.fillStyle = '#a5b4fc';
        ctx.font = '600 12px Inter, system-ui, sans-serif';
        ctx.fillText('▸', it.x + it.w - 20, it.y + 17);
        if (roll) drawBadges(ctx, roll, it.x + it.w - 10, it.y + it.h - 15, true);
      } else if (mark && markColor) {
        drawBadges(ctx, { [mark]: 0 }, it.x + it.w - 6, it.y + 4, false);
      }
      if (hv !== undefined) {
        ctx.fillStyle = '#fde68a';
        ctx.font = '600 10px "JetBrains Mono", ui-monospace, monospace';
        const t = fmtHeat(hv);
        ctx.fillText(t, it.x + it.w - 8 - ctx.measureText(t).width, it.y + it.h - 6);
      }
    }
  }
}

function fmtHeat(v: number): string {
  if (v >= 2 ** 20) return `${(v / 2 ** 20).toFixed(1)}M`;
  if (v >= 1024) return `${(v / 1024).toFixed(0)}K`;
  return v >= 100 ? v.toFixed(0) : v.toPrecision(2);
}

function mix(rgb: string, a: number): string {
  return rgb.replace('rgb(', 'rgba(').replace(')', `,${a})`);
}

function clip(ctx: CanvasRenderingContext2D, s: string, w: number): string {
  if (ctx.measureText(s).width <= w) return s;
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const m = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${s.slice(0, m)}…`).width <= w) lo = m;
    else hi = m - 1;
  }
  return `${s.slice(0, lo)}…`;
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, Math.min(r, w / 2, h / 2));
}

/** Small pills ("12 fused"), right-aligned at (x, y). */
function drawBadges(ctx: CanvasRenderingContext2D, counts: Record<string, number>, x: number, y: number, withCounts: boolean): void {
  ctx.font = '600 9px Inter, system-ui, sans-serif';
  let cx = x;
  for (const key of ['fused', 'rewritten', 'added', 'replaced', 'removed']) {
    if (!(key in counts)) continue;
    const text = withCounts ? `${counts[key]} ${key}` : key;
    const w = ctx.measureText(text).width + 10;
    cx -= w;
    ctx.fillStyle = MARK_COLORS[key];
    ctx.globalAlpha = 0.2;
    roundRect(ctx, cx, y, w, 13, 6);
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.fillStyle = MARK_COLORS[key];
    ctx.fillText(text, cx + 5, y + 9.5);
    cx -= 4;
  }
}
