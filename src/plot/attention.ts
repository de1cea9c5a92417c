/**
 * Attention heatmap of one translation: source tokens along the top (x),
 * output tokens down the left side (y), each cell shaded by the weight the
 * decoder gave that source token when it produced that output token.
 * Tokens are shown as they are — a space as ␣, control characters as their
 * control pictures — and any token, `<` `&` `"` included, is safe.
 */
import { el, svgDocument, textWidth, visibleToken, truncate, num, type SvgElement } from './svg.js';

/** Options of `attentionSvg`. */
export interface AttentionPlotOptions {
  /** Default 'Attention'. */
  title?: string;
  /** A smaller second line, e.g. the sentence and its translation. */
  subtitle?: string;
  /** Side of a cell in pixels. Default: 28, smaller for long sentences. */
  cellSize?: number;
  /** Longer labels are cut with an ellipsis (the full token is in the tooltip). Default 18. */
  maxLabelChars?: number;
  /** Draw the title (and subtitle) above the map. Default true; a page with its own heading turns it off (the title stays the accessible name). */
  showTitle?: boolean;
}

// A light-to-dark blue ramp (weight 0 → 1).
const RAMP: [number, [number, number, number]][] = [
  [0, [247, 251, 255]],
  [0.25, [198, 219, 239]],
  [0.5, [107, 174, 214]],
  [0.75, [33, 113, 181]],
  [1, [8, 48, 107]],
];

/** Fill colour of a weight in [0, 1] (values outside are clamped; non-finite is 0). */
export function weightColor(w: number): string {
  const v = Number.isFinite(w) ? Math.min(1, Math.max(0, w)) : 0;
  let k = 1;
  while (k < RAMP.length - 1 && RAMP[k][0] < v) k++;
  const [t0, c0] = RAMP[k - 1], [t1, c1] = RAMP[k];
  const t = (v - t0) / (t1 - t0);
  const hex = c0.map((c, i) => Math.round(c + (c1[i] - c) * t).toString(16).padStart(2, '0')).join('');
  return `#${hex}`;
}

const SIN = Math.sin(Math.PI / 3), COS = Math.cos(Math.PI / 3);

/**
 * The heatmap as an SVG document. `weights[i][j]` is the attention of
 * output token i on source token j; rows must match the tokens.
 */
export function attentionSvg(sourceTokens: string[], outputTokens: string[], weights: number[][], o: AttentionPlotOptions = {}): string {
  const S = sourceTokens.length, T = outputTokens.length;
  if (weights.length !== T) throw new RangeError(`attentionSvg: ${weights.length} weight rows for ${T} output tokens`);
  weights.forEach((row, i) => {
    if (!row || row.length !== S) throw new RangeError(`attentionSvg: weight row ${i} has ${row ? row.length : 'no'} entries for ${S} source tokens`);
  });
  const title = o.title ?? 'Attention';
  const cell = o.cellSize ?? (Math.max(S, T) > 60 ? 14 : Math.max(S, T) > 30 ? 20 : 28);
  const font = Math.max(8, Math.min(12, cell * 0.45));
  const maxChars = o.maxLabelChars ?? 18;
  const label = (t: string): { text: string; full: string; cut: boolean } => {
    const full = visibleToken(t);
    const text = truncate(full, maxChars);
    return { text, full, cut: text !== full };
  };
  const src = sourceTokens.map(label), out = outputTokens.map(label);
  const srcW = Math.max(20, ...src.map((l) => textWidth(l.text, font)));
  const outW = Math.max(20, ...out.map((l) => textWidth(l.text, font)));

  // Source labels stand upright when they fit their column, else rotated 60° up-right from its top edge.
  const rotate = srcW > cell - 4;
  const left = 20 + 18 + outW + 10;
  const showTitle = o.showTitle ?? true;
  const head = !showTitle ? 6 : o.subtitle !== undefined ? 58 : 40;
  const top = head + 18 + (rotate ? srcW * SIN + font : font) + 8;
  const gridW = S * cell, gridH = T * cell;
  const barX = left + gridW + 24, barH = Math.max(80, gridH);
  const width = Math.max(barX + 12 + 44, left + (rotate ? srcW * COS : 0) + 20 + (S ? (S - 0.5) * cell : 0),
    showTitle ? textWidth(title, 16, { bold: true }) + 40 : 0, showTitle && o.subtitle !== undefined ? textWidth(o.subtitle, 12) + 40 : 0);
  const height = Math.max(top + gridH, top + barH) + 24;

  const children: (SvgElement | null)[] = [
    showTitle ? el('text', { x: 20, y: 26, 'font-size': 16, 'font-weight': 'bold', fill: '#222' }, title) : null,
    showTitle && o.subtitle !== undefined ? el('text', { x: 20, y: 46, 'font-size': 12, fill: '#555' }, o.subtitle) : null,
    el('text', { class: 'axis-label x', x: left + gridW / 2, y: head + 10, 'text-anchor': 'middle', 'font-size': 12, fill: '#555' }, 'source'),
    el('text', { class: 'axis-label y', x: 26, y: top + gridH / 2, transform: `rotate(-90 26 ${num(top + gridH / 2)})`, 'text-anchor': 'middle', 'font-size': 12, fill: '#555' }, 'output'),
  ];
  if (S === 0 || T === 0) {
    children.push(el('text', { x: 20, y: top, 'font-size': 13, fill: '#888' }, 'no attention weights'));
  }
  const cells: SvgElement[] = [];
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < S; j++) {
      const w = weights[i][j];
      cells.push(el('rect', { class: 'cell', 'data-row': i, 'data-col': j, x: left + j * cell, y: top + i * cell, width: cell, height: cell, fill: weightColor(w), stroke: '#ffffff', 'stroke-width': 0.5 },
        el('title', {}, `${out[i].full} ← ${src[j].full}: ${Number.isFinite(w) ? w.toFixed(3) : 'n/a'}`)));
    }
  }
  const srcLabels = src.map((l, j) => {
    const x = left + (j + 0.5) * cell + (rotate ? font * 0.3 : 0), y = top - 6;
    return el('text', { class: 'label source', x, y, transform: rotate ? `rotate(-60 ${num(x)} ${num(y)})` : null, 'text-anchor': rotate ? null : 'middle', 'font-size': font, fill: '#222' },
      l.cut ? el('title', {}, l.full) : null, l.text);
  });
  const outLabels = out.map((l, i) =>
    el('text', { class: 'label output', x: left - 6, y: top + (i + 0.5) * cell + font * 0.35, 'text-anchor': 'end', 'font-size': font, fill: '#222' },
      l.cut ? el('title', {}, l.full) : null, l.text));

  // Colour bar.
  const gradId = 'attention-ramp';
  const bar = el('g', { class: 'colorbar' },
    el('defs', {},
      el('linearGradient', { id: gradId, x1: 0, y1: 1, x2: 0, y2: 0 },
        RAMP.map(([t]) => el('stop', { offset: t, 'stop-color': weightColor(t) })))),
    el('rect', { x: barX, y: top, width: 12, height: barH, fill: `url(#${gradId})`, stroke: '#999', 'stroke-width': 0.5 }),
    [0, 0.5, 1].map((v) => el('text', { x: barX + 16, y: top + barH - v * barH + 4, 'font-size': 10.5, fill: '#444' }, v.toFixed(1))),
  );
  children.push(el('g', { class: 'cells' }, cells), el('g', { class: 'labels' }, srcLabels, outLabels), bar);
  return svgDocument({ width, height, title: `${title}: ${T} output × ${S} source tokens` }, children);
}
