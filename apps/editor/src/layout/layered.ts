/**
 * A fast layered (Sugiyama-style) layout for one level of the hierarchy, top to bottom: longest-path
 * layers (sources pulled down next to their first consumer), barycenter ordering sweeps, and x
 * placement by isotonic regression (pool adjacent violators) so chains stay straight and nothing
 * overlaps. O((V + E) · sweeps); thousands of nodes take milliseconds. ELK is nicer on small levels;
 * this is what keeps a 10k-node level interactive.
 */

export interface LevelNode {
  id: string;
  w: number;
  h: number;
}

export interface LevelEdge {
  source: string;
  target: string;
}

export interface LevelOptions {
  /** Gap between layers. */
  rankGap?: number;
  /** Gap between neighbours in a layer. */
  nodeGap?: number;
  sweeps?: number;
}

export type Positions = Map<string, { x: number; y: number }>;

export function layeredLayout(nodes: readonly LevelNode[], edges: readonly LevelEdge[], options: LevelOptions = {}): Positions {
  const rankGap = options.rankGap ?? 36;
  const nodeGap = options.nodeGap ?? 24;
  const sweeps = options.sweeps ?? 4;
  const n = nodes.length;
  const index = new Map<string, number>();
  nodes.forEach((x, i) => index.set(x.id, i));
  const succ: number[][] = Array.from({ length: n }, () => []);
  const pred: number[][] = Array.from({ length: n }, () => []);
  for (const e of edges) {
    const s = index.get(e.source);
    const t = index.get(e.target);
    if (s === undefined || t === undefined || s === t) continue;
    succ[s].push(t);
    pred[t].push(s);
  }
  // break cycles: iterative DFS in input order, edges to nodes on the stack are ignored for ranking
  const state = new Uint8Array(n); // 0 new, 1 on stack, 2 done
  const forward: number[][] = Array.from({ length: n }, () => []);
  const order: number[] = [];
  for (let r = 0; r < n; r++) {
    if (state[r]) continue;
    const stack: Array<[number, number]> = [[r, 0]];
    state[r] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [v, i] = top;
      if (i < succ[v].length) {
        top[1]++;
        const w = succ[v][i];
        if (state[w] === 1) continue;
        forward[v].push(w);
        if (state[w] === 0) { state[w] = 1; stack.push([w, 0]); }
      } else {
        state[v] = 2;
        order.push(v);
        stack.pop();
      }
    }
  }
  order.reverse(); // topological order of the acyclic `forward` graph
  const rank = new Int32Array(n);
  for (const v of order) for (const w of forward[v]) if (rank[w] < rank[v] + 1) rank[w] = rank[v] + 1;
  // pull sources down next to their first consumer
  const hasForwardPred = new Uint8Array(n);
  for (let v = 0; v < n; v++) for (const w of forward[v]) hasForwardPred[w] = 1;
  for (let v = 0; v < n; v++) {
    if (hasForwardPred[v] || forward[v].length === 0) continue;
    let m = Infinity;
    for (const w of forward[v]) m = Math.min(m, rank[w]);
    rank[v] = Math.max(0, m - 1);
  }
  let maxRank = 0;
  for (let v = 0; v < n; v++) maxRank = Math.max(maxRank, rank[v]);
  const layers: number[][] = Array.from({ length: maxRank + 1 }, () => []);
  for (const v of order) layers[rank[v]].push(v);

  // ordering: barycenter sweeps down (on predecessors) and up (on successors)
  const pos = new Float64Array(n);
  const setPos = () => { for (const L of layers) L.forEach((v, i) => { pos[v] = i; }); };
  setPos();
  const sortBy = (L: number[], nb: number[][]) => {
    const key = new Map<number, number>();
    for (const v of L) {
      const ns = nb[v];
      if (!ns.length) { key.set(v, pos[v]); continue; }
      let s = 0;
      for (const w of ns) s += pos[w];
      key.set(v, s / ns.length);
    }
    L.sort((a, b) => (key.get(a) as number) - (key.get(b) as number) || pos[a] - pos[b]);
    L.forEach((v, i) => { pos[v] = i; });
  };
  for (let s = 0; s < sweeps; s++) {
    for (let r = 1; r < layers.length; r++) sortBy(layers[r], pred);
    for (let r = layers.length - 2; r >= 0; r--) sortBy(layers[r], succ);
  }

  // y by layer
  const y = new Float64Array(n);
  let top = 0;
  for (const L of layers) {
    let hMax = 0;
    for (const v of L) hMax = Math.max(hMax, nodes[v].h);
    for (const v of L) y[v] = top + (hMax - nodes[v].h) / 2;
    top += hMax + rankGap;
  }
  // x: centers pulled toward neighbours' centers, separated by isotonic regression
  const cx = new Float64Array(n);
  for (const L of layers) {
    let x = 0;
    for (const v of L) { cx[v] = x + nodes[v].w / 2; x += nodes[v].w + nodeGap; }
  }
  const place = (L: number[], nb: number[][]) => {
    const want = L.map((v) => {
      const ns = nb[v];
      if (!ns.length) return cx[v];
      let s = 0;
      for (const w of ns) s += cx[w];
      return s / ns.length;
    });
    const xs = separate(want, L.map((v) => nodes[v].w), nodeGap);
    L.forEach((v, i) => { cx[v] = xs[i]; });
  };
  for (let s = 0; s < 3; s++) {
    for (let r = 1; r < layers.length; r++) place(layers[r], pred);
    for (let r = layers.length - 2; r >= 0; r--) place(layers[r], succ);
  }
  let minX = Infinity;
  for (let v = 0; v < n; v++) minX = Math.min(minX, cx[v] - nodes[v].w / 2);
  const out: Positions = new Map();
  for (let v = 0; v < n; v++) out.set(nodes[v].id, { x: cx[v] - nodes[v].w / 2 - (Number.isFinite(minX) ? minX : 0), y: y[v] });
  return out;
}

/**
 * Centers as close as possible (least squares) to `want`, in the given order, with
 * `center[i+1] - center[i] ≥ (w[i] + w[i+1]) / 2 + gap`: isotonic regression by pool adjacent violators.
 */
export function separate(want: readonly number[], widths: readonly number[], gap: number): number[] {
  const k = want.length;
  const off = new Float64Array(k);
  for (let i = 1; i < k; i++) off[i] = off[i - 1] + (widths[i - 1] + widths[i]) / 2 + gap;
  // blocks of pooled values
  const sum: number[] = [];
  const cnt: number[] = [];
  for (let i = 0; i < k; i++) {
    sum.push(want[i] - off[i]);
    cnt.push(1);
    while (sum.length > 1 && sum[sum.length - 2] / cnt[cnt.length - 2] > sum[sum.length - 1] / cnt[cnt.length - 1]) {
      const s = sum.pop() as number;
      const c = cnt.pop() as number;
      sum[sum.length - 1] += s;
      cnt[cnt.length - 1] += c;
    }
  }
  const out: number[] = [];
  for (let b = 0; b < sum.length; b++) {
    const m = sum[b] / cnt[b];
    for (let j = 0; j < cnt[b]; j++) out.push(m + off[out.length]);
  }
  return out;
}
