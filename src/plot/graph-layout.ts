/**
 * Layout of a model graph: a small layered (Sugiyama-style) drawing. Ranks
 * by longest path, long edges split by dummy points so they pass between
 * boxes, boxes kept in lanes (encoder left, decoder right), edge labels
 * placed where they overlap nothing. Input feeding, the one loop in the
 * training model, is routed around the right side. Groups (a Transformer's
 * layer stack drawn once) get a frame and a label chip. Produces positions
 * and path data only; ./model-diagram.ts turns them into SVG.
 */
import type { DiagramNode, DiagramEdge, DiagramGroup, ModelGraph } from './graph.js';
import { textWidth, num } from './svg.js';

export interface Rect { x: number; y: number; w: number; h: number }

export interface PlacedNode extends Rect {
  node: DiagramNode;
  rank: number;
}

export interface PlacedEdge {
  edge: DiagramEdge;
  /** SVG path data. */
  d: string;
  /** Points along the drawn curve (for hit tests). */
  samples: [number, number][];
  label: Rect;
}

/** The frame around a group's nodes and the chip with its label. */
export interface PlacedGroup {
  group: DiagramGroup;
  frame: Rect;
  label: Rect;
}

export interface GraphLayout {
  width: number;
  height: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  groups: PlacedGroup[];
}

/** Font sizes the boxes and labels are measured at; the renderer draws with the same. */
export const TITLE_SIZE = 13, SUB_SIZE = 10.5, LABEL_SIZE = 10.5;
/** Left/right margin of the drawing. */
export const MARGIN = 20;
const RANK_GAP = 50, LANE_GAP = 44, TOP = 66;
/** Group frames: padding around their nodes; the label chip's font size. */
const FRAME_PAD = 12;
export const GROUP_LABEL_SIZE = 11.5;

function nodeSize(n: DiagramNode): { w: number; h: number } {
  if (n.kind === 'output') return { w: Math.max(90, textWidth(n.title, 12, { bold: true }) + 28), h: 26 };
  if (n.kind === 'dropout') return { w: Math.max(90, textWidth(n.title, 12) + 24), h: 26 };
  const w = Math.max(textWidth(n.title, TITLE_SIZE, { bold: true }), n.subtitle ? textWidth(n.subtitle, SUB_SIZE) : 0) + 24;
  return { w: Math.max(110, w), h: n.subtitle ? 42 : 28 };
}

function labelSize(e: DiagramEdge): { w: number; h: number } {
  return { w: textWidth(e.shape, LABEL_SIZE, { mono: true }) + 8, h: LABEL_SIZE + 5 };
}

/** Minimises Σ w(x − desired)² subject to x[i+1] − x[i] ≥ sep[i] (pool-adjacent-violators). */
function placeRow(desired: number[], weight: number[], sep: number[]): number[] {
  const n = desired.length;
  const offset = new Array<number>(n).fill(0);
  for (let i = 1; i < n; i++) offset[i] = offset[i - 1] + sep[i - 1];
  const blocks: { w: number; wt: number; start: number; end: number }[] = [];
  for (let i = 0; i < n; i++) {
    blocks.push({ w: weight[i], wt: weight[i] * (desired[i] - offset[i]), start: i, end: i });
    while (blocks.length > 1) {
      const a = blocks[blocks.length - 2], bl = blocks[blocks.length - 1];
      if (a.wt / a.w <= bl.wt / bl.w) break;
      blocks.splice(blocks.length - 2, 2, { w: a.w + bl.w, wt: a.wt + bl.wt, start: a.start, end: bl.end });
    }
  }
  const x = new Array<number>(n);
  for (const bl of blocks) for (let i = bl.start; i <= bl.end; i++) x[i] = bl.wt / bl.w + offset[i];
  return x;
}

interface Item {
  /** Real node index, or -1 for a dummy point of a long edge. */
  node: number;
  edge: number;
  rank: number;
  lane: number;
  w: number;
  h: number;
  x: number;
}

function cubic(p0: [number, number], p3: [number, number], t: number): [number, number] {
  // Vertical tangents at both ends: control points straight below p0 and above p3.
  const ym = (p0[1] + p3[1]) / 2;
  const u = 1 - t;
  const x = u * u * u * p0[0] + 3 * u * u * t * p0[0] + 3 * u * t * t * p3[0] + t * t * t * p3[0];
  const y = u * u * u * p0[1] + 3 * u * u * t * ym + 3 * u * t * t * ym + t * t * t * p3[1];
  return [x, y];
}

function overlaps(a: Rect, b: Rect, pad = 0): boolean {
  return a.x < b.x + b.w + pad && b.x < a.x + a.w + pad && a.y < b.y + b.h + pad && b.y < a.y + a.h + pad;
}

interface Route {
  i: number;
  d: string;
  samples: [number, number][];
  /** [from, to, straight]: curves cross the gaps between ranks, straight parts run through dummy points. */
  segments: [[number, number], [number, number], boolean][];
}

/** An edge's path: from the source's bottom port through its dummy points ([x, top, bottom]) to the target's top port. */
function route(i: number, a: Rect, b: Rect, fromX: number, toX: number, dummies: [number, number, number][]): Route {
  const pts: [number, number][] = [[fromX, a.y + a.h]];
  for (const [x, top, bottom] of dummies) pts.push([x, top], [x, bottom]);
  pts.push([toX, b.y - 1.5]);
  let d = `M${num(pts[0][0])},${num(pts[0][1])}`;
  const samples: [number, number][] = [];
  const segments: Route['segments'] = [];
  for (let k = 1; k < pts.length; k++) {
    const p = pts[k - 1], q = pts[k];
    const straight = k % 2 === 0;
    segments.push([p, q, straight]);
    if (straight) {
      d += ` L${num(q[0])},${num(q[1])}`;
      for (let s = 0; s <= 4; s++) samples.push([p[0], p[1] + ((q[1] - p[1]) * s) / 4]);
    } else {
      const ym = (p[1] + q[1]) / 2;
      d += ` C${num(p[0])},${num(ym)} ${num(q[0])},${num(ym)} ${num(q[0])},${num(q[1])}`;
      for (let s = 0; s <= 16; s++) samples.push(cubic(p, q, s / 16));
    }
  }
  return { i, d, samples, segments };
}

/**
 * Each edge's shape label where it covers no box and no other label, and as
 * little of other edges as possible: centred on the curve, else beside it.
 * `crowded` hears of labels that found no free spot.
 */
function placeLabels(g: ModelGraph, routes: Route[], placed: Rect[], crowded: (r: Route) => void): Map<number, Rect> {
  const labels = new Map<number, Rect>();
  const order = [...routes].sort((p, q) => p.segments.length - q.segments.length || p.i - q.i);
  for (const r of order) {
    const { w, h } = labelSize(g.edges[r.i]);
    const points: [number, number][] = [];
    const gaps = r.segments.filter((s) => !s[2]);
    const bands = r.segments.filter((s) => s[2]);
    const mid = Math.floor((gaps.length - 1) / 2);
    const gapOrder = gaps.map((_, k) => k).sort((p, q) => Math.abs(p - mid) - Math.abs(q - mid) || p - q);
    for (const t of [0.5, 0.35, 0.65, 0.22, 0.78]) for (const k of gapOrder) points.push(cubic(gaps[k][0], gaps[k][1], t));
    for (const s of bands) points.push([s[0][0], (s[0][1] + s[1][1]) / 2]);
    let best: Rect = { x: 0, y: 0, w, h }, bestScore = Infinity;
    for (const shift of [0, 1, -1]) {
      points.forEach(([px, py], k) => {
        const rect = { x: shift === 0 ? px - w / 2 : shift > 0 ? px + 5 : px - 5 - w, y: py - h / 2, w, h };
        let score = k * 0.01 + (shift === 0 ? 0 : 4);
        for (const bx of placed) if (overlaps(rect, bx, 3)) score += 1000;
        for (const l of labels.values()) if (overlaps(rect, l, 2)) score += 1000;
        for (const other of routes) {
          if (other === r) continue;
          for (const [sx, sy] of other.samples) if (sx > rect.x - 2 && sx < rect.x + rect.w + 2 && sy > rect.y - 2 && sy < rect.y + rect.h + 2) score += 2;
        }
        if (score < bestScore) {
          bestScore = score;
          best = rect;
        }
      });
    }
    if (bestScore >= 4) crowded(r);
    labels.set(r.i, best);
  }
  return labels;
}

/** Positions of boxes, edge paths and label boxes for a graph. */
export function layoutModelGraph(g: ModelGraph): GraphLayout {
  const index = new Map(g.nodes.map((n, i) => [n.id, i]));
  for (const e of g.edges) {
    if (!index.has(e.from) || !index.has(e.to)) throw new Error(`model diagram: edge ${e.from} → ${e.to} names an unknown node`);
  }
  const fwd = g.edges.map((e, i) => ({ e, i })).filter(({ e }) => !e.back);
  const N = g.nodes.length;
  const preds: number[][] = Array.from({ length: N }, () => []);
  const succs: number[][] = Array.from({ length: N }, () => []);
  for (const { e } of fwd) {
    preds[index.get(e.to) as number].push(index.get(e.from) as number);
    succs[index.get(e.from) as number].push(index.get(e.to) as number);
  }
  // Ranks: longest path from the inputs (Kahn's order), then inputs pulled down next to their first consumer.
  const rank = new Array<number>(N).fill(0);
  const indeg = preds.map((p) => p.length);
  const queue = indeg.flatMap((d, i) => (d === 0 ? [i] : []));
  const topo: number[] = [];
  while (queue.length) {
    const u = queue.shift() as number;
    topo.push(u);
    for (const v of succs[u]) {
      rank[v] = Math.max(rank[v], rank[u] + 1);
      if (--indeg[v] === 0) queue.push(v);
    }
  }
  if (topo.length !== N) throw new Error(`model diagram ${g.name}: the forward edges form a cycle`);
  for (let i = 0; i < N; i++) {
    if (preds[i].length === 0 && succs[i].length > 0) rank[i] = Math.min(...succs[i].map((s) => rank[s])) - 1;
  }
  if (g.compact) {
    // As late as the consumers allow, last node first: side chains end right above where they are consumed.
    for (let k = topo.length - 1; k >= 0; k--) {
      const u = topo[k];
      if (succs[u].length > 0) rank[u] = Math.min(...succs[u].map((s) => rank[s])) - 1;
    }
    const lowest = Math.min(...rank);
    for (let i = 0; i < N; i++) rank[i] -= lowest;
  }
  const ranks = Math.max(...rank) + 1;

  // Items per rank: real nodes and the dummy points of edges spanning more than one rank.
  const items: Item[] = g.nodes.map((n, i) => ({ node: i, edge: -1, rank: rank[i], lane: n.lane, ...nodeSize(n), x: 0 }));
  const chains = new Map<number, Item[]>();
  for (const { e, i } of fwd) {
    const a = index.get(e.from) as number, b = index.get(e.to) as number;
    const span = rank[b] - rank[a];
    const chain: Item[] = [];
    for (let k = 1; k < span; k++) {
      const t = k / span;
      const item: Item = { node: -1, edge: i, rank: rank[a] + k, lane: g.nodes[a].lane * (1 - t) + g.nodes[b].lane * t, w: 10, h: 0, x: 0 };
      chain.push(item);
      items.push(item);
    }
    chains.set(i, chain);
  }
  const rows: Item[][] = Array.from({ length: ranks }, () => []);
  for (const it of items) rows[it.rank].push(it);
  for (const row of rows) row.sort((p, q) => p.lane - q.lane || (p.node < 0 ? 1 : 0) - (q.node < 0 ? 1 : 0));

  // Columns: every whole lane as wide as its widest box; boxes in fractional lanes sit in between.
  const lanes = [...new Set(g.nodes.map((n) => Math.round(n.lane)))].sort((p, q) => p - q);
  const laneWidth = new Map(lanes.map((l) => [l, Math.max(...items.filter((it) => it.node >= 0 && Math.round(it.lane) === l).map((it) => it.w))]));
  const laneX = new Map<number, number>();
  lanes.forEach((l, k) => {
    const w = laneWidth.get(l) as number;
    laneX.set(l, k === 0 ? w / 2 : (laneX.get(lanes[k - 1]) as number) + (laneWidth.get(lanes[k - 1]) as number) / 2 + LANE_GAP + w / 2);
  });
  const laneAt = (lane: number): number => {
    const lo = [...lanes].reverse().find((l) => l <= lane) ?? lanes[0];
    const hi = lanes.find((l) => l >= lane) ?? lanes[lanes.length - 1];
    if (lo === hi) return laneX.get(lo) as number;
    const t = (lane - lo) / (hi - lo);
    return (laneX.get(lo) as number) * (1 - t) + (laneX.get(hi) as number) * t;
  };
  for (const it of items) it.x = laneAt(it.lane);
  const xOf = (node: number): number => items[node].x;
  for (let iter = 0; iter < 4; iter++) {
    for (const row of rows) {
      const desired = row.map((it) => {
        if (it.node >= 0) return laneAt(it.lane);
        const e = g.edges[it.edge];
        const a = index.get(e.from) as number, b = index.get(e.to) as number;
        const t = (it.rank - rank[a]) / (rank[b] - rank[a]);
        return xOf(a) * (1 - t) + xOf(b) * t;
      });
      const weight = row.map((it) => (it.node >= 0 ? 1000 : 1));
      const sep = row.slice(1).map((it, k) => (row[k].w + it.w) / 2 + (row[k].node >= 0 && it.node >= 0 ? 28 : 14));
      const xs = placeRow(desired, weight, sep);
      row.forEach((it, k) => (it.x = xs[k]));
    }
  }
  const minX = Math.min(...items.map((it) => it.x - it.w / 2));
  for (const it of items) it.x += MARGIN - minX;

  const rankH = rows.map((row) => Math.max(26, ...row.filter((it) => it.node >= 0).map((it) => it.h)));

  // Ports: edges leave a box's bottom and enter its top spread out in the order of where they go.
  const outPort = new Map<number, number>(), inPort = new Map<number, number>();
  const firstX = (i: number): number => {
    const chain = chains.get(i) as Item[];
    return chain.length ? chain[0].x : xOf(index.get(g.edges[i].to) as number);
  };
  const lastX = (i: number): number => {
    const chain = chains.get(i) as Item[];
    return chain.length ? chain[chain.length - 1].x : xOf(index.get(g.edges[i].from) as number);
  };
  const spread = (node: number, edgeIds: number[], key: (i: number) => number, into: Map<number, number>): void => {
    const sorted = [...edgeIds].sort((p, q) => key(p) - key(q) || p - q);
    const w = items[node].w, n = sorted.length;
    const pitch = n > 1 ? Math.min(22, (w - 24) / (n - 1)) : 0;
    sorted.forEach((e, k) => into.set(e, xOf(node) + (k - (n - 1) / 2) * pitch));
  };
  for (let i = 0; i < N; i++) {
    spread(i, fwd.filter(({ e }) => index.get(e.from) === i).map(({ i: k }) => k), firstX, outPort);
    spread(i, fwd.filter(({ e }) => index.get(e.to) === i).map(({ i: k }) => k), lastX, inPort);
  }

  // Vertical placement; a gap between ranks grows while some label there finds no free spot.
  const extra = new Array<number>(ranks).fill(0);
  let rankY: number[] = [], placed: PlacedNode[] = [], routes: Route[] = [], labels = new Map<number, Rect>(), groups: PlacedGroup[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    rankY = [];
    let y = TOP;
    for (let r = 0; r < ranks; r++) {
      rankY.push(y);
      y += rankH[r] + RANK_GAP + extra[r];
    }
    placed = g.nodes.map((n, i) => {
      const it = items[i];
      return { node: n, rank: rank[i], x: it.x - it.w / 2, y: rankY[rank[i]] + (rankH[rank[i]] - it.h) / 2, w: it.w, h: it.h };
    });
    routes = fwd.map(({ e, i }) => route(i, placed[index.get(e.from) as number], placed[index.get(e.to) as number], outPort.get(i) as number, inPort.get(i) as number,
      (chains.get(i) as Item[]).map((it) => [it.x, rankY[it.rank], rankY[it.rank] + rankH[it.rank]] as [number, number, number])));
    groups = placeGroups(g, placed, routes, index);
    const crowded = new Set<number>();
    labels = placeLabels(g, routes, [...placed, ...groups.map((pg) => pg.label)], (rt) => {
      for (const [p, q, straight] of rt.segments) {
        if (straight) continue;
        const cy = (p[1] + q[1]) / 2;
        for (let r = 0; r + 1 < ranks; r++) if (cy > rankY[r] + rankH[r] && cy < rankY[r + 1]) crowded.add(r);
      }
    });
    if (crowded.size === 0) break;
    for (const r of crowded) extra[r] += 16;
  }
  // Frames also take in the shape labels of the edges inside them, where that reaches no other box or frame.
  for (const pg of groups) {
    for (const r of routes) {
      const e = g.edges[r.i];
      if (placed[index.get(e.from) as number].node.group !== pg.group.id || placed[index.get(e.to) as number].node.group !== pg.group.id) continue;
      const l = labels.get(r.i) as Rect;
      const x0 = Math.min(pg.frame.x, l.x - FRAME_PAD / 2), x1 = Math.max(pg.frame.x + pg.frame.w, l.x + l.w + FRAME_PAD / 2);
      const wider = { ...pg.frame, x: x0, w: x1 - x0 };
      const clash = placed.some((p) => p.node.group !== pg.group.id && overlaps(wider, p)) || groups.some((o) => o !== pg && overlaps(wider, o.frame));
      if (!clash && x0 >= 0) pg.frame = wider;
    }
  }
  const placedEdges: PlacedEdge[] = routes.map((r) => ({ edge: g.edges[r.i], d: r.d, samples: r.samples, label: labels.get(r.i) as Rect }));

  // Loops (input feeding): out of the source's right side, up past everything, into the target's right side.
  let right = Math.max(...placed.map((p) => p.x + p.w), ...[...labels.values()].map((l) => l.x + l.w));
  for (const e of g.edges.filter((e) => e.back)) {
    const a = placed[index.get(e.from) as number], b = placed[index.get(e.to) as number];
    const y0 = a.y + a.h / 2, y1 = b.y + b.h / 2;
    const lo = Math.min(a.y, b.y), hi = Math.max(a.y + a.h, b.y + b.h);
    const inRange = (rc: Rect): boolean => rc.y < hi && rc.y + rc.h > lo;
    const routeX = Math.max(...placed.filter(inRange).map((p) => p.x + p.w), ...[...labels.values()].filter(inRange).map((l) => l.x + l.w)) + 26;
    const x0 = a.x + a.w, x1 = b.x + b.w + 1.5, rr = 10;
    const d = `M${num(x0)},${num(y0)} L${num(routeX - rr)},${num(y0)} Q${num(routeX)},${num(y0)} ${num(routeX)},${num(y0 - rr)} ` +
      `L${num(routeX)},${num(y1 + rr)} Q${num(routeX)},${num(y1)} ${num(routeX - rr)},${num(y1)} L${num(x1)},${num(y1)}`;
    const samples: [number, number][] = [];
    for (let s = 0; s <= 8; s++) samples.push([x0 + ((routeX - x0) * s) / 8, y0], [routeX, y0 + ((y1 - y0) * s) / 8], [routeX + ((x1 - routeX) * s) / 8, y1]);
    const text = [e.shape, e.note ?? ''];
    const lw = Math.max(...text.map((t) => textWidth(t, LABEL_SIZE, { mono: true }))) + 8;
    const label = { x: routeX + 6, y: (y0 + y1) / 2 - (LABEL_SIZE + 5), w: lw, h: 2 * (LABEL_SIZE + 5) };
    placedEdges.push({ edge: e, d, samples, label });
    right = Math.max(right, label.x + label.w);
  }
  for (const pg of groups) right = Math.max(right, pg.frame.x + pg.frame.w, pg.label.x + pg.label.w);
  const bottom = Math.max(...placed.map((p) => p.y + p.h), ...groups.map((pg) => pg.frame.y + pg.frame.h));
  return { width: right + MARGIN, height: bottom + MARGIN, nodes: placed, edges: placedEdges, groups };
}

/**
 * Frames around each group's boxes and the edges between them, with the
 * label chip on the frame's top or bottom border where it covers no box and
 * the fewest edges (corners first). Shape labels are placed afterwards,
 * around the chips; then the frames widen to take in their edges' labels.
 */
function placeGroups(g: ModelGraph, placed: PlacedNode[], routes: Route[], index: Map<string, number>): PlacedGroup[] {
  const out: PlacedGroup[] = [];
  for (const group of g.groups ?? []) {
    const members = placed.filter((p) => p.node.group === group.id);
    if (members.length === 0) continue;
    let x0 = Math.min(...members.map((p) => p.x)), x1 = Math.max(...members.map((p) => p.x + p.w));
    const y0 = Math.min(...members.map((p) => p.y)), y1 = Math.max(...members.map((p) => p.y + p.h));
    for (const r of routes) {
      const e = g.edges[r.i];
      if (placed[index.get(e.from) as number].node.group !== group.id || placed[index.get(e.to) as number].node.group !== group.id) continue;
      x0 = Math.min(x0, ...r.samples.map(([sx]) => sx));
      x1 = Math.max(x1, ...r.samples.map(([sx]) => sx));
    }
    const frame = { x: x0 - FRAME_PAD, y: y0 - FRAME_PAD, w: x1 - x0 + 2 * FRAME_PAD, h: y1 - y0 + 2 * FRAME_PAD };
    const w = textWidth(group.label, GROUP_LABEL_SIZE, { bold: true }) + 12, h = GROUP_LABEL_SIZE + 7;
    const candidates: Rect[] = [];
    const xs = [frame.x + frame.w - w - 8, frame.x + 8];
    for (let x = frame.x + frame.w - w - 20; x > frame.x + 8; x -= 12) xs.push(x);
    for (const x of xs) for (const y of [frame.y - h / 2, frame.y + frame.h - h / 2]) candidates.push({ x, y, w, h });
    let best = candidates[0], bestScore = Infinity;
    candidates.forEach((rect, k) => {
      let score = k * 0.01;
      for (const p of placed) if (overlaps(rect, p, 3)) score += 1000;
      for (const pg of out) if (overlaps(rect, pg.label, 3)) score += 1000;
      for (const r of routes) for (const [sx, sy] of r.samples) if (sx > rect.x - 2 && sx < rect.x + rect.w + 2 && sy > rect.y - 2 && sy < rect.y + rect.h + 2) score += 2;
      if (score < bestScore) {
        bestScore = score;
        best = rect;
      }
    });
    out.push({ group, frame, label: best });
  }
  return out;
}
