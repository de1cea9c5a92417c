/**
 * Architecture diagrams as SVG: each graph of ./model-graph.ts, placed by
 * ./graph-layout.ts, drawn as coloured boxes (by layer kind) with shaped
 * edges, a dashed input-feeding loop and, for Transformers, a frame around
 * the layer drawn once for the stack ("× 3 encoder layers").
 */
import type { ModelConfig } from '../model/config.js';
import { el, svgDocument, textWidth, FONT_MONO, type SvgElement } from './svg.js';
import { modelGraphs } from './model-graph.js';
import type { GraphName, ModelGraph, NodeKind } from './graph.js';
import { layoutModelGraph, TITLE_SIZE, SUB_SIZE, LABEL_SIZE, MARGIN, GROUP_LABEL_SIZE } from './graph-layout.js';

const STYLE: Record<NodeKind, { fill: string; stroke: string; dash?: string }> = {
  input: { fill: '#e9eef6', stroke: '#60789a' },
  embedding: { fill: '#e4f2e1', stroke: '#5b8f51' },
  dropout: { fill: '#ffffff', stroke: '#9a9a9a', dash: '4 3' },
  rnn: { fill: '#fdf1d6', stroke: '#bf8a1f' },
  bridge: { fill: '#efe7f7', stroke: '#8762a6' },
  attention: { fill: '#fbe4e5', stroke: '#b4525a' },
  dense: { fill: '#e1eefa', stroke: '#3e7bb2' },
  output: { fill: '#f3f3f3', stroke: '#7a7a7a' },
  positions: { fill: '#eef6e0', stroke: '#7f9a3e' },
  norm: { fill: '#fff8e6', stroke: '#c9a13b' },
  add: { fill: '#f4f4f4', stroke: '#8a8a8a' },
};

/** One graph as a complete SVG document. */
export function renderModelGraph(g: ModelGraph): string {
  const lay = layoutModelGraph(g);
  const title = g.title;
  const width = Math.max(lay.width, textWidth(title, 16, { bold: true }) + 2 * MARGIN, textWidth(g.summary, 11) + 2 * MARGIN);
  const arrow = `arrow-${g.name}`;
  const edges: SvgElement[] = lay.edges.map((pe) =>
    el('path', {
      class: pe.edge.back ? 'edge loop' : 'edge',
      'data-from': pe.edge.from,
      'data-to': pe.edge.to,
      d: pe.d,
      fill: 'none',
      stroke: pe.edge.back ? '#b4525a' : '#6f6f6f',
      'stroke-width': 1.3,
      'stroke-dasharray': pe.edge.back ? '5 3' : null,
      'marker-end': `url(#${arrow})`,
    }),
  );
  const nodes: SvgElement[] = lay.nodes.map((p) => {
    const s = STYLE[p.node.kind];
    const cx = p.x + p.w / 2;
    const small = p.node.kind === 'output' || p.node.kind === 'dropout';
    return el('g', { class: `node ${p.node.kind}`, 'data-id': p.node.id },
      el('title', {}, [p.node.title, p.node.subtitle, p.node.detail].filter(Boolean).join(' — ')),
      el('rect', { x: p.x, y: p.y, width: p.w, height: p.h, rx: p.node.kind === 'output' ? p.h / 2 : 6, fill: s.fill, stroke: s.stroke, 'stroke-width': 1.2, 'stroke-dasharray': s.dash ?? null }),
      p.node.subtitle
        ? [
          el('text', { x: cx, y: p.y + 18, 'text-anchor': 'middle', 'font-size': TITLE_SIZE, 'font-weight': 'bold', fill: '#222' }, p.node.title),
          el('text', { x: cx, y: p.y + 33, 'text-anchor': 'middle', 'font-size': SUB_SIZE, fill: '#555' }, p.node.subtitle),
        ]
        : el('text', { x: cx, y: p.y + p.h / 2 + 4.5, 'text-anchor': 'middle', 'font-size': small ? 12 : TITLE_SIZE, 'font-weight': p.node.kind === 'dropout' ? null : 'bold', fill: '#222' }, p.node.title),
    );
  });
  const labels: SvgElement[] = lay.edges.map((pe) => {
    const l = pe.label;
    const lines = pe.edge.back ? [pe.edge.shape, pe.edge.note ?? ''] : [pe.edge.shape];
    return el('g', { class: 'shape', 'font-family': FONT_MONO, 'font-size': LABEL_SIZE },
      el('rect', { x: l.x, y: l.y, width: l.w, height: l.h, rx: 3, fill: '#ffffff', 'fill-opacity': 0.92 }),
      lines.map((t, k) =>
        el('text', { x: pe.edge.back ? l.x + 4 : l.x + l.w / 2, y: l.y + LABEL_SIZE + 0.5 + k * (LABEL_SIZE + 5), 'text-anchor': pe.edge.back ? 'start' : 'middle', fill: pe.edge.back && k === 1 ? '#b4525a' : '#333' }, t)),
    );
  });
  const frames: SvgElement[] = lay.groups.map((pg) =>
    el('rect', { class: 'group-frame', 'data-group': pg.group.id, x: pg.frame.x, y: pg.frame.y, width: pg.frame.w, height: pg.frame.h, rx: 10, fill: '#fafafa', stroke: '#b9b9b9', 'stroke-width': 1.2, 'stroke-dasharray': '6 4' }));
  const chips: SvgElement[] = lay.groups.map((pg) =>
    el('g', { class: 'group-label', 'data-group': pg.group.id },
      el('rect', { x: pg.label.x, y: pg.label.y, width: pg.label.w, height: pg.label.h, rx: pg.label.h / 2, fill: '#ffffff', stroke: '#b9b9b9', 'stroke-width': 1 }),
      el('text', { x: pg.label.x + pg.label.w / 2, y: pg.label.y + pg.label.h / 2 + GROUP_LABEL_SIZE * 0.36, 'text-anchor': 'middle', 'font-size': GROUP_LABEL_SIZE, 'font-weight': 'bold', fill: '#555' }, pg.group.label)));
  return svgDocument(
    { width, height: lay.height, title: `${title}: ${g.summary}` },
    el('defs', {},
      el('marker', { id: arrow, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
        el('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#6f6f6f' }))),
    el('text', { x: MARGIN, y: 26, 'font-size': 16, 'font-weight': 'bold', fill: '#222' }, title),
    el('text', { x: MARGIN, y: 45, 'font-size': 11, fill: '#666' }, g.summary),
    frames.length ? el('g', { class: 'groups' }, frames) : null,
    el('g', { class: 'edges' }, edges),
    el('g', { class: 'nodes' }, nodes),
    el('g', { class: 'shapes' }, labels),
    chips.length ? el('g', { class: 'group-labels' }, chips) : null,
  );
}

/** The three diagrams of a model as SVG documents. */
export function modelDiagrams(c: ModelConfig): Record<GraphName, string> {
  const g = modelGraphs(c);
  return { training: renderModelGraph(g.training), encoder: renderModelGraph(g.encoder), decoder: renderModelGraph(g.decoder) };
}
