/**
 * The training curves of a bundle's history.json: training and validation
 * loss per epoch on the left axis; validation BLEU and per-token accuracy
 * (in %) on a right axis when they were recorded. Missing or non-finite
 * values leave a gap in their line; a single epoch is a single point.
 */
import type { EpochRecord } from '../model/training.js';
import { el, svgDocument, textWidth, num, type SvgElement } from './svg.js';

/** The fields of an epoch record the plot reads. */
export type HistoryPoint = Pick<EpochRecord, 'epoch' | 'trainLoss'> & Partial<Pick<EpochRecord, 'valLoss' | 'valAccuracy' | 'valBleu'>>;

/** Options of `historySvg`. */
export interface HistoryPlotOptions {
  /** Default 'Training history'. */
  title?: string;
  /** A second line under the title (e.g. the model directory). */
  subtitle?: string;
  /** Epoch whose weights the bundle keeps; marked with a vertical line. */
  bestEpoch?: number | null;
  /** Draw the title (and subtitle) above the plot. Default true; a page with its own heading turns it off (the title stays the accessible name). */
  showTitle?: boolean;
  /** Default 760 × 440. */
  width?: number;
  height?: number;
}

export interface Ticks {
  lo: number;
  hi: number;
  step: number;
  values: number[];
}

/** Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 × 10^k, about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 5): Ticks {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`niceTicks: non-finite range [${lo}, ${hi}]`);
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(Number((k * step).toPrecision(12)));
  return { lo: values[0], hi: values[values.length - 1], step, values };
}

/** A tick label with as many decimals as the step needs. */
export function formatTick(v: number, step: number): string {
  const decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9) + (Math.abs(step / 10 ** Math.floor(Math.log10(step)) - 2.5) < 1e-9 ? 1 : 0));
  const s = v.toFixed(Math.min(decimals, 10));
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

interface Series {
  key: string;
  label: string;
  color: string;
  dash?: string;
  axis: 'left' | 'right';
  values: (number | null)[];
}

const finite = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The training history as an SVG document: losses on the left axis, validation BLEU and accuracy on the right, the best epoch marked when given. */
export function historySvg(history: readonly HistoryPoint[], o: HistoryPlotOptions = {}): string {
  const W = o.width ?? 760, H = o.height ?? 440;
  const title = o.title ?? 'Training history';
  const records = [...history].filter((r) => Number.isFinite(r.epoch)).sort((a, b) => a.epoch - b.epoch);
  const series: Series[] = [
    { key: 'train-loss', label: 'training loss', color: '#1f77b4', axis: 'left', values: records.map((r) => finite(r.trainLoss)) },
    { key: 'val-loss', label: 'validation loss', color: '#ff7f0e', axis: 'left', values: records.map((r) => finite(r.valLoss)) },
    { key: 'val-bleu', label: 'validation BLEU', color: '#2ca02c', dash: '6 3', axis: 'right', values: records.map((r) => finite(r.valBleu)) },
    { key: 'val-accuracy', label: 'validation accuracy (%)', color: '#9467bd', dash: '2 3', axis: 'right', values: records.map((r) => { const a = finite(r.valAccuracy); return a === null ? null : a * 100; }) },
  ].filter((s) => s.values.some((v) => v !== null)) as Series[];
  const left = series.filter((s) => s.axis === 'left');
  const right = series.filter((s) => s.axis === 'right');

  const showTitle = o.showTitle ?? true;
  const children: SvgElement[] = [];
  if (showTitle) children.push(el('text', { x: 20, y: 26, 'font-size': 16, 'font-weight': 'bold', fill: '#222' }, title));
  if (showTitle && o.subtitle) children.push(el('text', { x: 20, y: 44, 'font-size': 11, fill: '#666' }, o.subtitle));

  // Legend: rows under the title (as many as the width needs), never over the curves.
  let lx = 20;
  let ly = !showTitle ? 16 : o.subtitle ? 64 : 50;
  const legend: SvgElement[] = series.map((s) => {
    const itemWidth = 32 + textWidth(s.label + ' →', 12);
    if (lx > 20 && lx + itemWidth > W - 20) {
      lx = 20;
      ly += 20;
    }
    const g = el('g', { class: `legend ${s.key}` },
      el('line', { x1: lx, y1: ly, x2: lx + 26, y2: ly, stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash ?? null }),
      el('circle', { cx: lx + 13, cy: ly, r: 3, fill: s.color }),
      el('text', { x: lx + 32, y: ly + 4, 'font-size': 12, fill: '#333' }, s.label + (s.axis === 'right' && left.length ? ' →' : '')),
    );
    lx += itemWidth + 18;
    return g;
  });
  children.push(el('g', { class: 'legend' }, legend));

  const top = ly + 26, bottom = 52;
  const leftM = 72, rightM = right.length ? 72 : 28;
  const px = leftM, py = top, pw = W - leftM - rightM, ph = H - top - bottom;

  // Plot frame.
  children.push(el('rect', { class: 'frame', x: px, y: py, width: pw, height: ph, fill: 'none', stroke: '#bbb' }));
  if (records.length === 0 || series.length === 0) {
    children.push(el('text', { x: px + pw / 2, y: py + ph / 2, 'text-anchor': 'middle', 'font-size': 14, fill: '#888' }, 'no epochs recorded'));
    return svgDocument({ width: W, height: H, title }, children);
  }

  // x: epochs, with a little room at the ends; one epoch sits in the middle.
  const e0 = records[0].epoch, e1 = records[records.length - 1].epoch;
  const span = e1 - e0;
  const xlo = span > 0 ? e0 - span * 0.03 : e0 - 1, xhi = span > 0 ? e1 + span * 0.03 : e1 + 1;
  const X = (e: number): number => px + ((e - xlo) / (xhi - xlo)) * pw;
  const xStep = span > 0 ? Math.max(1, Math.ceil(niceTicks(e0, e1, 8).step)) : 1;
  const xTicks = [e0];
  for (let v = Math.ceil((e0 + 1) / xStep) * xStep; v <= e1; v += xStep) if (v - e0 >= xStep / 2 || xStep === 1) xTicks.push(v);

  const axis = (ss: Series[], clamp?: [number, number]): { Y: (v: number) => number; ticks: Ticks } | null => {
    const vs = ss.flatMap((s) => s.values.filter((v): v is number => v !== null));
    if (vs.length === 0) return null;
    let lo = Math.min(...vs), hi = Math.max(...vs);
    const pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
    if (clamp) {
      lo = Math.max(clamp[0], lo);
      hi = Math.min(clamp[1], hi);
    }
    const ticks = niceTicks(lo, hi, 5);
    if (clamp) {
      ticks.values = ticks.values.filter((v) => v >= clamp[0] && v <= clamp[1]);
      ticks.lo = Math.max(ticks.lo, clamp[0]);
      ticks.hi = Math.min(ticks.hi, clamp[1]);
      if (!(ticks.hi > ticks.lo)) ticks.hi = ticks.lo + ticks.step;
    }
    return { Y: (v: number) => py + ph - ((v - ticks.lo) / (ticks.hi - ticks.lo)) * ph, ticks };
  };
  const minLoss = Math.min(...left.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  const yl = axis(left, minLoss >= 0 ? [0, Infinity] : undefined);
  const yr = axis(right, [0, 100]);

  // Grid and ticks.
  const grid: SvgElement[] = [];
  const tickEls: SvgElement[] = [];
  for (const e of xTicks) {
    const x = X(e);
    grid.push(el('line', { x1: x, y1: py, x2: x, y2: py + ph, stroke: '#eee' }));
    tickEls.push(el('line', { x1: x, y1: py + ph, x2: x, y2: py + ph + 5, stroke: '#888' }));
    tickEls.push(el('text', { class: 'tick x', x, y: py + ph + 18, 'text-anchor': 'middle', 'font-size': 11, fill: '#444' }, String(e)));
  }
  if (yl) {
    for (const v of yl.ticks.values) {
      const y = yl.Y(v);
      grid.push(el('line', { x1: px, y1: y, x2: px + pw, y2: y, stroke: '#eee' }));
      tickEls.push(el('line', { x1: px - 5, y1: y, x2: px, y2: y, stroke: '#888' }));
      tickEls.push(el('text', { class: 'tick y-left', x: px - 8, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#444' }, formatTick(v, yl.ticks.step)));
    }
  }
  if (yr) {
    for (const v of yr.ticks.values) {
      const y = yr.Y(v);
      if (!yl) grid.push(el('line', { x1: px, y1: y, x2: px + pw, y2: y, stroke: '#eee' }));
      tickEls.push(el('line', { x1: px + pw, y1: y, x2: px + pw + 5, y2: y, stroke: '#888' }));
      tickEls.push(el('text', { class: 'tick y-right', x: px + pw + 8, y: y + 4, 'font-size': 11, fill: '#444' }, formatTick(v, yr.ticks.step)));
    }
  }
  children.splice(children.length - 1, 0, el('g', { class: 'grid' }, grid));
  children.push(el('g', { class: 'ticks' }, tickEls));

  // Axis labels.
  children.push(el('text', { class: 'axis-label x', x: px + pw / 2, y: H - 12, 'text-anchor': 'middle', 'font-size': 12, fill: '#333' }, 'epoch'));
  if (yl) {
    const cy = py + ph / 2;
    children.push(el('text', { class: 'axis-label y-left', x: 18, y: cy, transform: `rotate(-90 18 ${num(cy)})`, 'text-anchor': 'middle', 'font-size': 12, fill: '#333' }, 'loss (cross-entropy per token)'));
  }
  if (yr) {
    const cx = W - 16, cy = py + ph / 2;
    const label = right.map((s) => (s.key === 'val-bleu' ? 'BLEU' : 'accuracy (%)')).join(' / ');
    children.push(el('text', { class: 'axis-label y-right', x: cx, y: cy, transform: `rotate(90 ${num(cx)} ${num(cy)})`, 'text-anchor': 'middle', 'font-size': 12, fill: '#333' }, label));
  }

  // Best epoch.
  if (o.bestEpoch !== undefined && o.bestEpoch !== null && records.some((r) => r.epoch === o.bestEpoch)) {
    const x = X(o.bestEpoch);
    children.push(el('g', { class: 'best' },
      el('line', { x1: x, y1: py, x2: x, y2: py + ph, stroke: '#999', 'stroke-dasharray': '3 3' }),
      // Above the frame, where no curve can be.
      el('text', { x, y: py - 5, 'text-anchor': x > px + pw * 0.85 ? 'end' : x < px + pw * 0.15 ? 'start' : 'middle', 'font-size': 10.5, fill: '#777' }, `best (epoch ${o.bestEpoch})`)));
  }

  // Curves: a path per run of consecutive recorded values, a point per recorded epoch.
  const pointR = records.length > 60 ? 1.6 : records.length > 25 ? 2.4 : 3.2;
  for (const s of series) {
    const ax = s.axis === 'left' ? yl : yr;
    if (!ax) continue;
    const runs: string[] = [];
    let run: string[] = [];
    s.values.forEach((v, k) => {
      if (v === null) {
        if (run.length > 1) runs.push(run.join(' '));
        run = [];
        return;
      }
      run.push(`${run.length ? 'L' : 'M'}${num(X(records[k].epoch))},${num(ax.Y(v))}`);
    });
    if (run.length > 1) runs.push(run.join(' '));
    const points = s.values.flatMap((v, k) => (v === null ? [] : [
      el('circle', { class: `point ${s.key}`, 'data-epoch': records[k].epoch, cx: X(records[k].epoch), cy: ax.Y(v), r: pointR, fill: s.color },
        el('title', {}, `epoch ${records[k].epoch}: ${s.label} ${v.toFixed(s.axis === 'left' ? 4 : 2)}`)),
    ]));
    children.push(el('g', { class: `series ${s.key}` },
      runs.length ? el('path', { d: runs.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2, 'stroke-dasharray': s.dash ?? null, 'stroke-linejoin': 'round' }) : null,
      points));
  }
  return svgDocument({ width: W, height: H, title: `${title}: ${series.map((s) => s.label).join(', ')} over ${records.length} epoch${records.length === 1 ? '' : 's'}` }, children);
}

/**
 * The epoch whose weights a bundle keeps: the first with the best validation
 * loss (lowest) or BLEU (highest), as the trainer picks it; null when the
 * metric was never recorded.
 */
export function bestEpoch(history: readonly HistoryPoint[], monitor: 'loss' | 'bleu' = 'loss'): number | null {
  let best: { epoch: number; value: number } | null = null;
  for (const r of history) {
    const v = finite(monitor === 'bleu' ? r.valBleu : r.valLoss);
    if (v === null) continue;
    if (!best || (monitor === 'bleu' ? v > best.value : v < best.value)) best = { epoch: r.epoch, value: v };
  }
  return best ? best.epoch : null;
}
