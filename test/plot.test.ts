import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  el, svgDocument, escapeXmlText, escapeXmlAttr, cleanXmlChars, visibleToken, num, SVG_NS,
  modelGraphs, modelDiagrams, layoutModelGraph, renderModelGraph, formatShape, formatShapes,
  historySvg, bestEpoch, niceTicks, formatTick, attentionSvg, weightColor, modelDiagramPaths,
  type ModelGraph, type Rect,
} from '../src/plot/index.js';
import { resolveModelConfig, type ModelConfig, type CellType, type AttentionType } from '../src/model/config.js';
import { Seq2Seq } from '../src/model/seq2seq.js';
import { createModel } from '../src/model/model.js';
import { generateCorpus, formatCorpusTsv } from '../src/data/synthetic.js';

// ---------------------------------------------------------------- a strict little XML reader

interface XNode {
  name: string;
  attrs: Record<string, string>;
  children: (XNode | string)[];
}

const XML_CHAR = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
const NAME = /^[A-Za-z_:][A-Za-z0-9_.:-]*/;

function decodeRefs(s: string, where: string): string {
  return s.replace(/&([^;]*);?/g, (m, body: string) => {
    if (!m.endsWith(';')) throw new Error(`${where}: bare '&' in ${JSON.stringify(s)}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (body in named) return named[body];
    const dec = /^#([0-9]+)$/.exec(body), hex = /^#x([0-9a-fA-F]+)$/.exec(body);
    if (dec || hex) {
      const cp = dec ? parseInt(dec[1], 10) : parseInt((hex as RegExpExecArray)[1], 16);
      const ch = String.fromCodePoint(cp);
      if (!XML_CHAR.test(ch)) throw new Error(`${where}: reference to a character XML forbids (${body})`);
      return ch;
    }
    throw new Error(`${where}: unknown entity &${body};`);
  });
}

/**
 * Parses a whole document strictly: optional XML declaration, exactly one
 * root element, balanced and matching tags, attributes quoted and unique,
 * no raw '<' in attribute values, '&' only as a known reference, only
 * characters XML allows, nothing but whitespace around the root.
 */
function parseXml(doc: string): XNode {
  if (!XML_CHAR.test(doc)) throw new Error('document contains characters XML forbids');
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`XML at ${i} (${JSON.stringify(doc.slice(i, i + 30))}): ${msg}`);
  };
  const skipWs = (): void => {
    while (i < doc.length && /\s/.test(doc[i])) i++;
  };
  const skipMisc = (): void => {
    for (;;) {
      skipWs();
      if (doc.startsWith('<!--', i)) {
        const end = doc.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        if (doc.slice(i + 4, end).includes('--')) fail("'--' inside a comment");
        i = end + 3;
      } else return;
    }
  };
  if (doc.startsWith('<?xml')) {
    const end = doc.indexOf('?>');
    if (end < 0) fail('unterminated declaration');
    if (!/^<\?xml version="1\.0"( encoding="UTF-8")?\?>$/.test(doc.slice(0, end + 2))) fail('bad XML declaration');
    i = end + 2;
  }
  skipMisc();
  const element = (): XNode => {
    if (doc[i] !== '<') fail('expected an element');
    i++;
    const m = NAME.exec(doc.slice(i));
    if (!m) return fail('bad element name');
    const name = m[0];
    i += name.length;
    const attrs: Record<string, string> = {};
    for (;;) {
      const before = i;
      skipWs();
      if (doc.startsWith('/>', i)) {
        i += 2;
        return { name, attrs, children: [] };
      }
      if (doc[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('attributes must be separated by whitespace');
      const a = NAME.exec(doc.slice(i));
      if (!a) return fail('bad attribute name');
      i += a[0].length;
      skipWs();
      if (doc[i] !== '=') fail(`attribute ${a[0]} without '='`);
      i++;
      skipWs();
      const q = doc[i];
      if (q !== '"' && q !== "'") fail(`attribute ${a[0]} value is not quoted`);
      const end = doc.indexOf(q, i + 1);
      if (end < 0) fail('unterminated attribute value');
      const raw = doc.slice(i + 1, end);
      if (raw.includes('<')) fail(`raw '<' in attribute ${a[0]}`);
      if (a[0] in attrs) fail(`duplicate attribute ${a[0]}`);
      attrs[a[0]] = decodeRefs(raw, `attribute ${a[0]}`);
      i = end + 1;
    }
    const children: (XNode | string)[] = [];
    for (;;) {
      if (i >= doc.length) fail(`<${name}> is never closed`);
      if (doc.startsWith('</', i)) {
        i += 2;
        const m2 = NAME.exec(doc.slice(i));
        if (!m2 || m2[0] !== name) fail(`</${m2 ? m2[0] : '?'}> closes <${name}>`);
        i += name.length;
        skipWs();
        if (doc[i] !== '>') fail('bad end tag');
        i++;
        return { name, attrs, children };
      }
      if (doc.startsWith('<!--', i)) {
        skipMisc();
        continue;
      }
      if (doc.startsWith('<![CDATA[', i) || doc.startsWith('<?', i) || doc.startsWith('<!', i)) fail('unexpected markup');
      if (doc[i] === '<') {
        children.push(element());
        continue;
      }
      const next = doc.indexOf('<', i);
      const raw = doc.slice(i, next < 0 ? doc.length : next);
      if (raw.includes(']]>')) fail("']]>' in text");
      if (raw.includes('>')) fail("raw '>' in text (we always escape it)");
      children.push(decodeRefs(raw, 'text'));
      i += raw.length;
    }
  };
  const root = element();
  skipMisc();
  if (i !== doc.length) fail('content after the root element');
  return root;
}

function all(n: XNode, pred: (x: XNode) => boolean, out: XNode[] = []): XNode[] {
  if (pred(n)) out.push(n);
  for (const c of n.children) if (typeof c !== 'string') all(c, pred, out);
  return out;
}

/** Text of an element, without the text of its <title> children (tooltips). */
function textOf(n: XNode): string {
  return n.children.map((c) => (typeof c === 'string' ? c : c.name === 'title' ? '' : textOf(c))).join('');
}

const hasClass = (n: XNode, cls: string): boolean => (n.attrs.class ?? '').split(/\s+/).includes(cls);
const texts = (root: XNode): string[] => all(root, (n) => n.name === 'text').map(textOf);

const NUMERIC = ['x', 'y', 'width', 'height', 'cx', 'cy', 'r', 'x1', 'x2', 'y1', 'y2', 'rx', 'font-size', 'stroke-width'];

/** Parses and checks what every SVG of ours must be. */
function checkSvg(doc: string): XNode {
  const root = parseXml(doc);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, SVG_NS);
  const vb = /^0 0 (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(root.attrs.viewBox ?? '');
  assert.ok(vb, `viewBox ${root.attrs.viewBox}`);
  assert.equal(Number(root.attrs.width), Number(vb[1]));
  assert.equal(Number(root.attrs.height), Number(vb[2]));
  for (const n of all(root, () => true)) {
    for (const a of NUMERIC) if (a in n.attrs) assert.ok(Number.isFinite(Number(n.attrs[a])), `<${n.name} ${a}="${n.attrs[a]}">`);
    if (n.attrs.d !== undefined) assert.doesNotMatch(n.attrs.d, /NaN|Infinity|undefined/);
  }
  return root;
}

// ---------------------------------------------------------------- the SVG builder

test('XML reader rejects what is not well-formed', () => {
  const bad = [
    '<svg><g></svg>', '<svg a=1/>', '<svg a="1" a="2"/>', '<svg>a & b</svg>', '<svg>a < b</svg>', '<svg/><svg/>',
    '<svg a="<"/>', '<svg>\u0001</svg>', '<svg>&bogus;</svg>', '<svg><!-- a -- b --></svg>', '<svg>x</g>', 'text<svg/>',
  ];
  for (const doc of bad) assert.throws(() => parseXml(doc), Error, doc);
  const ok = parseXml('<?xml version="1.0" encoding="UTF-8"?>\n<svg a="&quot;&#10;"><t>&lt;&amp;&#x263A;</t><!-- c --></svg>\n');
  assert.equal(ok.attrs.a, '"\n');
  assert.equal(textOf(ok), '<&☺');
});

test('escaping: XML specials, control characters and lone surrogates', () => {
  assert.equal(escapeXmlText('a<b>&c"d\'e'), 'a&lt;b&gt;&amp;c"d\'e');
  assert.equal(escapeXmlAttr('a<b>&c"d\te\nf'), 'a&lt;b&gt;&amp;c&quot;d&#9;e&#10;f');
  assert.equal(cleanXmlChars('a\u0000b\u0007c\u001bd\u007fe\u0085f\uFFFEg\uFFFF'), 'abcdefg');
  assert.equal(cleanXmlChars('x\uD800y\uDC00z'), 'xyz', 'lone surrogates go');
  assert.equal(cleanXmlChars('😀\t\n'), '😀\t\n', 'pairs and tab/newline stay');
  const nasty = ['<', '&', '"', "'", ']]>', '&amp;', '\u0000', '\u0008', '\uD83D', 'a\u2028b', '--', '<!--', '😀', '\r\n'];
  const doc = svgDocument({ width: 10, height: 10, title: nasty.join('') },
    nasty.map((t, k) => el('text', { x: 0, y: k, 'data-token': t }, t)));
  const root = checkSvg(doc);
  const ts = all(root, (n) => n.name === 'text');
  ts.forEach((n, k) => {
    assert.equal(textOf(n), cleanXmlChars(nasty[k]), `text of ${JSON.stringify(nasty[k])}`);
    assert.equal(n.attrs['data-token'], cleanXmlChars(nasty[k]), `attribute of ${JSON.stringify(nasty[k])}`);
  });
});

test('builder: numbers, names and structure', () => {
  assert.equal(num(1.23456), '1.23');
  assert.equal(num(-0.001), '0');
  assert.equal(num(12), '12');
  assert.throws(() => num(NaN), RangeError);
  assert.throws(() => el('rect', { x: Infinity }).toString(), RangeError);
  assert.throws(() => el('bad tag'), /invalid element name/);
  assert.throws(() => el('rect', { 'on"click': 'x' }), /invalid attribute name/);
  const g = el('g', { class: 'a', hidden: false, missing: undefined, on: true }, null, false, ['x', [el('rect')]]);
  assert.equal(g.toString(), '<g class="a" on="true">x<rect/></g>');
  assert.equal(visibleToken(' '), '␣');
  assert.equal(visibleToken('\t'), '␉');
  assert.equal(visibleToken('\n'), '␊');
  assert.equal(visibleToken('\u0000'), '␀');
  assert.equal(visibleToken('\u007f'), '␡');
  assert.equal(visibleToken(''), '∅');
  assert.equal(visibleToken('a b'), 'a␣b');
});

// ---------------------------------------------------------------- model diagrams

const SEED: ModelConfig = resolveModelConfig({ srcVocabSize: 71, tgtVocabSize: 93 });

function edgeShape(g: ModelGraph, from: string, to: string): string {
  const e = g.edges.find((x) => x.from === from && x.to === to);
  assert.ok(e, `${g.name}: edge ${from} → ${to}`);
  return e.shape;
}

test('shapes are written as Keras writes them', () => {
  assert.equal(formatShape([null, null, 71]), '(None, None, 71)');
  assert.equal(formatShape([null]), '(None,)');
  assert.equal(formatShapes([[null, 256], [null, 256]]), '[(None, 256), (None, 256)]');
  assert.equal(formatShapes([[null, 256]]), '(None, 256)');
});

test('seed diagrams: InputLayer → OneHot(71) → (None, None, 71) → LSTM(256) → [(None, 256), (None, 256)] → decoder → Dense(93)', () => {
  const g = modelGraphs(SEED);
  assert.equal(edgeShape(g.training, 'encoder_inputs', 'encoder_one_hot'), '(None, None)');
  assert.equal(edgeShape(g.training, 'encoder_one_hot', 'encoder/lstm_0'), '(None, None, 71)');
  assert.equal(edgeShape(g.training, 'encoder/lstm_0', 'decoder/lstm_0'), '[(None, 256), (None, 256)]');
  assert.equal(edgeShape(g.training, 'decoder_one_hot', 'decoder/lstm_0'), '(None, None, 93)');
  assert.equal(edgeShape(g.training, 'decoder/lstm_0', 'output'), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'output', 'decoder_outputs'), '(None, None, 93)');
  assert.equal(edgeShape(g.encoder, 'encoder/lstm_0', 'encoder_states'), '[(None, 256), (None, 256)]');
  assert.equal(edgeShape(g.decoder, 'decoder_inputs', 'decoder_one_hot'), '(None,)');
  assert.equal(edgeShape(g.decoder, 'decoder_states_in', 'decoder/lstm_0'), '[(None, 256), (None, 256)]');
  assert.equal(edgeShape(g.decoder, 'decoder/lstm_0', 'decoder_states_out'), '[(None, 256), (None, 256)]');
  assert.equal(edgeShape(g.decoder, 'output', 'probabilities'), '(None, 93)');

  const svgs = modelDiagrams(SEED);
  const training = checkSvg(svgs.training);
  const t = texts(training);
  for (const s of ['InputLayer', 'OneHot(71)', 'OneHot(93)', 'LSTM(256)', 'Dense(93)', '(None, None, 71)', '(None, None, 93)', '[(None, 256), (None, 256)]', 'decoder_outputs']) {
    assert.ok(t.includes(s), `training diagram lacks ${s}`);
  }
  for (const s of ['Bidirectional', 'Attention', 'Dropout', 'Bridge', 'Embedding', 'GRU']) assert.ok(!svgs.training.includes(s + '('), `seed diagram shows ${s}`);
  assert.equal(t.filter((s) => s === 'LSTM(256)').length, 2);
  assert.ok(texts(checkSvg(svgs.encoder)).includes('encoder_states'));
  const dec = texts(checkSvg(svgs.decoder));
  for (const s of ['decoder_states_in', 'decoder_states_out', 'probabilities', '(None, 93)', '(None,)']) assert.ok(dec.includes(s), `decoder diagram lacks ${s}`);
  assert.ok(!svgs.encoder.includes('Dense('), 'the encoder model has no output layer');
});

test('bidirectional + general attention + embeddings + dropout + 2 layers: every option shows', () => {
  const c = resolveModelConfig({ srcVocabSize: 71, tgtVocabSize: 93, layers: 2, bidirectional: true, attention: 'general', embeddingDim: 64, dropout: 0.2 });
  const g = modelGraphs(c);
  const svgs = modelDiagrams(c);
  const tr = texts(checkSvg(svgs.training));
  for (const s of ['Embedding(71, 64)', 'Embedding(93, 64)', 'Dropout(0.2)', 'Bidirectional(LSTM(256))', 'Bridge(256)', 'Attention(general)', 'Dense(256)', 'Dense(93)', '(None, None, 512)', '[(None, 512), (None, 512)]']) {
    assert.ok(tr.includes(s), `training diagram lacks ${s}`);
  }
  assert.match(svgs.training, /bidirectional encoder \+ bridge · general attention, input feeding · dropout 0\.2/);
  assert.equal(tr.filter((s) => s === 'Bidirectional(LSTM(256))').length, 2, 'one box per encoder layer');
  assert.equal(tr.filter((s) => s === 'Bridge(256)').length, 2, 'one bridge per layer');
  // Dropout: after both embeddings, between layers on both sides, on the attentional vector.
  assert.equal(tr.filter((s) => s === 'Dropout(0.2)').length, 5);
  assert.equal(edgeShape(g.training, 'encoder/lstm_0', 'bridge_0'), '[(None, 512), (None, 512)]');
  assert.equal(edgeShape(g.training, 'bridge_1', 'decoder/lstm_1'), '[(None, 256), (None, 256)]');
  assert.equal(edgeShape(g.training, 'encoder/lstm_1', 'attention'), '(None, None, 512)');
  assert.equal(edgeShape(g.training, 'attention/keys', 'attention'), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'attention', 'attention/combine'), '(None, None, 512)');
  const loop = g.training.edges.filter((e) => e.back);
  assert.deepEqual(loop.map((e) => [e.from, e.to, e.shape]), [['attention/dropout', 'decoder/lstm_0', '(None, None, 256)']], 'input feeding loop');
  assert.equal(all(checkSvg(svgs.training), (n) => hasClass(n, 'loop')).length, 1);

  // Inference models: no dropout; memory (values and keys) out of the encoder, into the decoder step.
  for (const k of ['encoder', 'decoder'] as const) assert.ok(!svgs[k].includes('Dropout('), `${k} model shows dropout`);
  const enc = texts(checkSvg(svgs.encoder));
  for (const s of ['memory_values', 'memory_keys', 'encoder_states_0', 'encoder_states_1', 'Bridge(256)']) assert.ok(enc.includes(s), `encoder model lacks ${s}`);
  const dec = texts(checkSvg(svgs.decoder));
  for (const s of ['feed_input', 'feed_output', 'attention_weights', 'memory_values', 'memory_keys', 'Attention(general)', 'decoder_states_in_1', 'decoder_states_out_1']) {
    assert.ok(dec.includes(s), `decoder model lacks ${s}`);
  }
  assert.equal(edgeShape(g.decoder, 'attention', 'attention_weights'), '(None, None)');
  assert.equal(edgeShape(g.decoder, 'feed_input', 'decoder/lstm_0'), '(None, 256)');
  assert.equal(edgeShape(g.decoder, 'memory_values', 'attention'), '(None, None, 512)');
  assert.equal(edgeShape(g.decoder, 'decoder_inputs', 'decoder/embedding'), '(None,)');
});

test('GRU, 3 layers, dot attention: single-tensor states, no keys, no bridge', () => {
  const c = resolveModelConfig({ srcVocabSize: 40, tgtVocabSize: 50, cell: 'gru', layers: 3, latentDim: 128, attention: 'dot' });
  const g = modelGraphs(c);
  const svgs = modelDiagrams(c);
  const tr = texts(checkSvg(svgs.training));
  assert.equal(tr.filter((s) => s === 'GRU(128)').length, 6);
  assert.ok(tr.includes('Attention(dot)'));
  for (let l = 0; l < 3; l++) assert.equal(edgeShape(g.training, `encoder/gru_${l}`, `decoder/gru_${l}`), '(None, 128)');
  assert.ok(!svgs.training.includes('Bridge(') && !svgs.training.includes('attention/keys') && !svgs.training.includes('LSTM'));
  assert.ok(texts(checkSvg(svgs.encoder)).includes('memory'));
  assert.ok(!svgs.encoder.includes('memory_keys'), 'dot attention attends with the encoder outputs themselves');
  assert.equal(edgeShape(g.decoder, 'decoder_states_in_2', 'decoder/gru_2'), '(None, 128)');
});

/** Every combination of options, kept small enough to run quickly. */
function* configs(): Generator<ModelConfig> {
  for (const cell of ['lstm', 'gru'] as CellType[]) {
    for (const layers of [1, 2, 3]) {
      for (const bidirectional of [false, true]) {
        for (const attention of ['none', 'dot', 'general', 'additive'] as AttentionType[]) {
          if (attention === 'dot' && bidirectional) continue;
          for (const [embeddingDim, dropout] of [[0, 0], [16, 0.25]]) {
            yield resolveModelConfig({ srcVocabSize: 23, tgtVocabSize: 29, latentDim: 12, cell, layers, bidirectional, attention, embeddingDim, dropout });
          }
        }
      }
    }
  }
}

const inside = (x: number, y: number, r: Rect, inset: number): boolean => x > r.x + inset && x < r.x + r.w - inset && y > r.y + inset && y < r.y + r.h - inset;
const overlap = (a: Rect, b: Rect): boolean => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * Geometry and rendering of one graph: boxes apart, labels on free ground,
 * edges around the boxes they do not connect, group frames around their
 * members only; the SVG has a box per node, a path and a shape label per edge.
 */
function checkLayout(g: ModelGraph, where: string): void {
  const lay = layoutModelGraph(g);
  const boxes = lay.nodes;
  for (let a = 0; a < boxes.length; a++) {
    for (let b = a + 1; b < boxes.length; b++) assert.ok(!overlap(boxes[a], boxes[b]), `${where} ${g.name}: ${boxes[a].node.id} overlaps ${boxes[b].node.id}`);
  }
  lay.edges.forEach((pe, k) => {
    for (const bx of boxes) assert.ok(!overlap(pe.label, bx), `${where} ${g.name}: label ${pe.edge.shape} of ${pe.edge.from} → ${pe.edge.to} covers ${bx.node.id}`);
    for (const other of lay.edges.slice(k + 1)) assert.ok(!overlap(pe.label, other.label), `${where} ${g.name}: labels of ${pe.edge.from} → ${pe.edge.to} and ${other.edge.from} → ${other.edge.to} overlap`);
    for (const pg of lay.groups) assert.ok(!overlap(pe.label, pg.label), `${where} ${g.name}: label of ${pe.edge.from} → ${pe.edge.to} covers the ${pg.group.id} frame's label`);
    for (const bx of boxes) {
      if (bx.node.id === pe.edge.from || bx.node.id === pe.edge.to) continue;
      for (const [x, y] of pe.samples) assert.ok(!inside(x, y, bx, 2), `${where} ${g.name}: edge ${pe.edge.from} → ${pe.edge.to} crosses ${bx.node.id}`);
    }
    assert.ok(pe.label.x >= 0 && pe.label.x + pe.label.w <= lay.width && pe.label.y + pe.label.h <= lay.height);
  });
  for (const bx of boxes) assert.ok(bx.x >= 0 && bx.x + bx.w <= lay.width && bx.y + bx.h <= lay.height);
  assert.deepEqual(lay.groups.map((pg) => pg.group.id), (g.groups ?? []).map((gr) => gr.id), `${where} ${g.name}: a frame per group`);
  lay.groups.forEach((pg, k) => {
    const contains = (r: Rect): boolean => r.x >= pg.frame.x && r.y >= pg.frame.y && r.x + r.w <= pg.frame.x + pg.frame.w && r.y + r.h <= pg.frame.y + pg.frame.h;
    for (const bx of boxes) {
      if (bx.node.group === pg.group.id) assert.ok(contains(bx), `${where} ${g.name}: ${bx.node.id} outside the ${pg.group.id} frame`);
      else assert.ok(!overlap(bx, pg.frame), `${where} ${g.name}: ${bx.node.id} inside the ${pg.group.id} frame`);
      assert.ok(!overlap(pg.label, bx), `${where} ${g.name}: the ${pg.group.id} frame's label covers ${bx.node.id}`);
    }
    for (const other of lay.groups.slice(k + 1)) assert.ok(!overlap(pg.frame, other.frame), `${where} ${g.name}: frames ${pg.group.id} and ${other.group.id} overlap`);
    assert.ok(pg.frame.x >= 0 && pg.frame.x + pg.frame.w <= lay.width && pg.frame.y + pg.frame.h <= lay.height && pg.label.x + pg.label.w <= lay.width);
  });

  const root = checkSvg(renderModelGraph(g));
  const ids = all(root, (n) => hasClass(n, 'node')).map((n) => n.attrs['data-id']);
  assert.deepEqual(ids.sort(), g.nodes.map((n) => n.id).sort());
  const shapeTexts = all(root, (n) => hasClass(n, 'shape')).map((n) => all(n, (x) => x.name === 'text').map(textOf).join(''));
  assert.equal(shapeTexts.length, g.edges.length, 'a shape label per edge');
  assert.deepEqual(shapeTexts.sort(), g.edges.map((e) => e.shape + (e.note ?? '')).sort());
  assert.equal(all(root, (n) => hasClass(n, 'edge')).length, g.edges.length);
  assert.deepEqual(all(root, (n) => hasClass(n, 'group-label')).map((n) => all(n, (x) => x.name === 'text').map(textOf).join('')), (g.groups ?? []).map((gr) => gr.label));
}

test('every architecture: graphs agree with the real model, layouts are clean, SVGs well-formed', () => {
  let count = 0;
  for (const c of configs()) {
    const where = JSON.stringify({ ...c, srcVocabSize: undefined, tgtVocabSize: undefined });
    const model = new Seq2Seq(c);
    const params = new Map(model.parameters().map((p) => [p.name as string, p.shape]));
    const graphs = modelGraphs(c);
    for (const g of Object.values(graphs)) {
      // Layer names are the weights' names; input widths are the kernels' rows.
      for (const n of g.nodes) {
        if (n.kind === 'rnn') {
          assert.ok(params.has(`${n.id}/kernel`), `${where} ${g.name}: ${n.id} is not a layer of the model`);
          // The data input comes from the same side (embedding, dropout or the layer below); states come from elsewhere.
          const side = n.id.split('/')[0];
          const kindOf = (id: string): string | undefined => g.nodes.find((x) => x.id === id)?.kind;
          const into = g.edges.filter((e) => e.to === n.id && !e.back && e.from.startsWith(side) && ['embedding', 'dropout', 'rnn'].includes(kindOf(e.from) as string));
          assert.equal(into.length, 1, `${where} ${g.name}: one data input into ${n.id}`);
          const width = Number(/(\d+)\)$/.exec(into[0].shape)?.[1]);
          assert.equal(width, (params.get(`${n.id}/kernel`) as number[])[0], `${where} ${g.name}: ${n.id} input width`);
          if (c.bidirectional && n.id.startsWith('encoder/')) assert.ok(params.has(`${n.id}_reverse/kernel`));
        }
        if (n.kind === 'bridge') assert.ok(params.has(`bridge/h_${n.id.slice(7)}/kernel`));
        if (n.kind === 'embedding' && c.embeddingDim > 0) assert.ok(params.has(`${n.id}`), `${n.id}`);
        if (n.id === 'output') {
          assert.equal(n.title, `Dense(${c.tgtVocabSize})`);
          assert.equal(edgeShape(g, g.edges.find((e) => e.to === 'output')?.from as string, 'output').endsWith(`${c.latentDim})`), true);
        }
        if (n.id === 'attention/keys') assert.ok(params.has('attention/key_kernel'));
      }
      assert.equal(g.nodes.some((n) => n.kind === 'attention'), c.attention !== 'none' && g.name !== 'encoder');
      assert.equal(g.nodes.some((n) => n.kind === 'dropout'), g.name === 'training' && c.dropout > 0 && (c.embeddingDim > 0 || c.layers > 1 || c.attention !== 'none'));
      assert.equal(g.nodes.filter((n) => n.kind === 'bridge').length, g.name !== 'decoder' && c.bidirectional ? c.layers : 0);
      assert.equal(g.nodes.filter((n) => n.kind === 'rnn').length, g.name === 'training' ? 2 * c.layers : c.layers);

      checkLayout(g, where);
      count++;
    }
  }
  assert.equal(count, 3 * 2 * 3 * 7 * 2);
});

// ---------------------------------------------------------------- Transformer diagrams

/** A Transformer config: the reference model unless overridden. */
function transformer(extra: Partial<ModelConfig> = {}): ModelConfig {
  return resolveModelConfig({ srcVocabSize: 8000, tgtVocabSize: 8000, arch: 'transformer', layers: 3, dropout: 0.1, modelDim: 256, heads: 4, ffDim: 1024, tieEmbeddings: true, ...extra });
}

test('Transformer (pre-LN, tied, 3 + 3 × 256, 4 heads, ff 1024): one framed layer per stack, shapes on every edge', () => {
  const c = transformer();
  const g = modelGraphs(c);
  const svgs = modelDiagrams(c);
  const tr = texts(checkSvg(svgs.training));
  for (const s of [
    'Embedding(8000, 256)', '+ SinusoidalPositions(256)', 'embedding/shared · × 16', 'Dropout(0.1)', 'LayerNorm(256)',
    'MultiHeadAttention(4 × 64)', 'MaskedMultiHeadAttention(4 × 64)', 'Add', 'Dense(1024, relu)', 'Dense(256)', 'Dense(8000)',
    'tied: embedding/sharedᵀ · softmax', '× 3 encoder layers', '× 3 decoder layers', 'decoder_outputs',
    '(None, None)', '(None, None, 256)', '(None, None, 1024)', '(None, None, 8000)',
  ]) assert.ok(tr.includes(s), `training diagram lacks ${s}`);
  assert.match(svgs.training, /Transformer, 3 \+ 3 layers × 256 · 4 heads · feed-forward 1024 ReLU · pre-LN · sinusoidal positions · tied embeddings · dropout 0\.1/);
  for (const s of ['LSTM', 'GRU', 'Bridge', 'OneHot', 'Add & LayerNorm']) assert.ok(!tr.some((x) => x.includes(s)), `Transformer diagram shows ${s}`);
  // One layer drawn per stack: two self-attentions (encoder, masked decoder) and one cross-attention.
  assert.equal(tr.filter((s) => s === 'MultiHeadAttention(4 × 64)').length, 2);
  assert.equal(tr.filter((s) => s === 'MaskedMultiHeadAttention(4 × 64)').length, 1);
  // Pre-LN: LayerNorm → sublayer → (dropout) → Add ← residual; a final LayerNorm after each stack.
  const E = 'encoder/layer_0', D = 'decoder/layer_0';
  assert.equal(edgeShape(g.training, 'encoder_inputs', 'encoder/embedding'), '(None, None)');
  assert.equal(edgeShape(g.training, 'encoder/embedding', 'encoder/positions'), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'encoder/embedding_dropout', `${E}/norm_1`), '(None, None, 256)');
  assert.equal(edgeShape(g.training, `${E}/norm_1`, `${E}/self_attention`), '(None, None, 256)');
  assert.equal(edgeShape(g.training, `${E}/dropout_1`, `${E}/add_1`), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'encoder/embedding_dropout', `${E}/add_1`), '(None, None, 256)', 'residual');
  assert.equal(edgeShape(g.training, `${E}/feed_forward/inner`, `${E}/feed_forward/outer`), '(None, None, 1024)');
  assert.equal(edgeShape(g.training, `${E}/add_2`, 'encoder/final_norm'), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'encoder/final_norm', `${D}/cross_attention`), '(None, None, 256)', 'memory into cross-attention');
  assert.equal(edgeShape(g.training, `${D}/norm_2`, `${D}/cross_attention`), '(None, None, 256)', 'queries from the decoder');
  assert.equal(edgeShape(g.training, `${D}/add_3`, 'decoder/final_norm'), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'decoder/final_norm', 'output'), '(None, None, 256)');
  assert.equal(edgeShape(g.training, 'output', 'decoder_outputs'), '(None, None, 8000)');
  assert.deepEqual(g.training.groups?.map((x) => x.label), ['× 3 encoder layers', '× 3 decoder layers']);
  assert.equal(g.training.nodes.filter((n) => n.group === 'encoder').length, 9);

  // The encoder model projects the cross-attention keys and values once; no dropout at inference.
  const enc = texts(checkSvg(svgs.encoder));
  for (const s of ['cross_keys_values', 'Dense(2 × 256) × 3', '× 3 encoder layers']) assert.ok(enc.includes(s), `encoder model lacks ${s}`);
  assert.equal(edgeShape(g.encoder, 'cross_attention/kv', 'cross_keys_values'), '3 × [(None, None, 256), (None, None, 256)]');
  for (const k of ['encoder', 'decoder'] as const) assert.ok(!svgs[k].includes('Dropout('), `${k} model shows dropout`);
  assert.ok(!svgs.encoder.includes('decoder_inputs'));

  // The one-step decoder: one token in, the self-attention cache grows by one, cross K/V from the encoder model.
  const dec = texts(checkSvg(svgs.decoder));
  for (const s of ['self_cache_in', 'self_cache_out', 'cross_keys_values', 'attention_weights', 'probabilities', '(None,)', '(None, 256)', '(None, 8000)', 'fixed sin/cos · position t']) {
    assert.ok(dec.includes(s), `decoder model lacks ${s}`);
  }
  assert.equal(edgeShape(g.decoder, 'decoder_inputs', 'decoder/embedding'), '(None,)');
  assert.equal(edgeShape(g.decoder, 'self_cache_in', `${D}/self_attention`), '[(None, t, 256), (None, t, 256)]');
  assert.equal(edgeShape(g.decoder, `${D}/self_attention`, 'self_cache_out'), '[(None, t + 1, 256), (None, t + 1, 256)]');
  assert.equal(edgeShape(g.decoder, 'cross_keys_values', `${D}/cross_attention`), '[(None, None, 256), (None, None, 256)]');
  assert.equal(edgeShape(g.decoder, `${D}/cross_attention`, 'attention_weights'), '(None, None)');
  assert.equal(edgeShape(g.decoder, 'output', 'probabilities'), '(None, 8000)');
  assert.ok(!g.decoder.nodes.some((n) => n.id.startsWith('encoder')), 'the step model has no encoder');
});

test('Transformer post-LN, learned positions, GELU, 2 + 1 layers, separate embeddings: drawn as computed', () => {
  const c = transformer({ srcVocabSize: 71, tgtVocabSize: 93, postNorm: true, positions: 'learned', activation: 'gelu', encoderLayers: 2, decoderLayers: 1, tieEmbeddings: false, modelDim: 96, heads: 8, ffDim: 384, attentionDropout: 0.2 });
  const g = modelGraphs(c);
  const svgs = modelDiagrams(c);
  const tr = texts(checkSvg(svgs.training));
  for (const s of ['Embedding(71, 96)', 'Embedding(93, 96)', '+ PositionEmbedding(1024, 96)', 'encoder/embedding · × √96', 'Add & LayerNorm(96)', 'Dense(384, gelu)', 'MultiHeadAttention(8 × 12)', 'output · softmax', '× 2 encoder layers', '× 1 decoder layer']) {
    assert.ok(tr.includes(s), `training diagram lacks ${s}`);
  }
  assert.match(svgs.training, /post-LN · learned positions ≤ 1024 · separate embeddings · dropout 0\.1, attention 0\.2/);
  // Post-LN: the sublayer reads the residual stream itself; Add & LayerNorm after it; no final LayerNorm.
  assert.ok(!tr.includes('LayerNorm(96)'), 'no LayerNorm before a sublayer');
  assert.equal(edgeShape(g.training, 'encoder/embedding_dropout', 'encoder/layer_0/self_attention'), '(None, None, 96)');
  assert.equal(edgeShape(g.training, 'encoder/layer_0/add_norm_2', 'decoder/layer_0/cross_attention'), '(None, None, 96)');
  assert.equal(edgeShape(g.training, 'decoder/layer_0/add_norm_3', 'output'), '(None, None, 96)');
  assert.ok(!g.training.nodes.some((n) => n.id.endsWith('final_norm')));
  const attNode = g.training.nodes.find((n) => n.id === 'encoder/layer_0/self_attention');
  assert.match(attNode?.detail ?? '', /dropout 0\.2 on the probabilities/);
  assert.equal(edgeShape(g.encoder, 'cross_attention/kv', 'cross_keys_values'), '1 × [(None, None, 96), (None, None, 96)]');
  assert.ok(!svgs.decoder.includes('attention dropout'), 'no attention dropout at inference');
});

/** Transformer configs over every option, small. */
function* transformerConfigs(): Generator<ModelConfig> {
  for (const postNorm of [false, true]) {
    for (const [encoderLayers, decoderLayers] of [[1, 1], [2, 3]]) {
      for (const positions of ['sinusoidal', 'learned']) {
        for (const [tieEmbeddings, dropout] of [[true, 0], [false, 0.1]] as const) {
          const V = tieEmbeddings ? 31 : 29;
          yield transformer({ srcVocabSize: tieEmbeddings ? V : 23, tgtVocabSize: V, modelDim: 16, heads: 2, ffDim: 24, layers: 1, encoderLayers, decoderLayers, postNorm, positions: positions as 'sinusoidal' | 'learned', tieEmbeddings, dropout, maxPositions: 64 });
        }
      }
    }
  }
}

test('every Transformer option: graphs agree with the real model, clean layouts, groups framed, SVGs well-formed', () => {
  let count = 0;
  for (const c of transformerConfigs()) {
    const where = JSON.stringify({ postNorm: c.postNorm, layers: [c.encoderLayers, c.decoderLayers], positions: c.positions, tie: c.tieEmbeddings, dropout: c.dropout });
    // Every drawn layer with weights names them: node id = parameter name prefix (layer_0 stands for every layer).
    const params = new Map(createModel(c, 1).parameters().map((p) => [p.name as string, p.shape]));
    const prefixed = (id: string): string[] => [...params.keys()].filter((n) => n.startsWith(id + '/') || n.startsWith(id + '_') || n === id);
    const graphs = modelGraphs(c);
    for (const n of graphs.training.nodes) {
      if (['attention', 'norm', 'dense'].includes(n.kind) && n.id !== 'output') assert.ok(prefixed(n.id).length > 0, `${where}: ${n.id} names no weights`);
      if (n.kind === 'add' && c.postNorm) assert.ok(prefixed(n.subtitle as string).length > 0, `${where}: ${n.subtitle} names no weights`);
      if (n.kind === 'embedding') assert.ok(params.has(c.tieEmbeddings ? 'embedding/shared' : n.id), `${where}: ${n.id}`);
      if (n.kind === 'positions') assert.equal(params.has(n.id), c.positions === 'learned', `${where}: ${n.id}`);
    }
    assert.equal(graphs.training.nodes.some((n) => n.id === 'output') && params.has('output/kernel'), !c.tieEmbeddings);
    for (const side of ['encoder', 'decoder']) assert.equal(params.has(`${side}/final_norm/gain`), !c.postNorm, `${where}: ${side} final norm`);
    // Inner widths: the feed-forward kernel rows/cols are what the edges say.
    const ff = edgeShape(graphs.training, 'encoder/layer_0/feed_forward/inner', 'encoder/layer_0/feed_forward/outer');
    assert.equal(ff, `(None, None, ${(params.get('encoder/layer_0/feed_forward/inner_kernel') as number[])[1]})`);
    const kv = params.get('decoder/layer_0/cross_attention/kv_kernel') as number[];
    assert.equal(edgeShape(graphs.encoder, 'cross_attention/kv', 'cross_keys_values'), `${c.decoderLayers} × [(None, None, ${kv[1] / 2}), (None, None, ${kv[1] / 2})]`);
    for (const g of Object.values(graphs)) {
      assert.equal(g.nodes.some((n) => n.kind === 'dropout'), g.name === 'training' && c.dropout > 0, `${where} ${g.name}: dropout nodes`);
      assert.equal(g.nodes.filter((n) => n.kind === 'attention').length, g.name === 'training' ? 3 : g.name === 'encoder' ? 1 : 2);
      checkLayout(g, where);
      count++;
    }
  }
  assert.equal(count, 2 * 2 * 2 * 2 * 3);
});

// ---------------------------------------------------------------- history

test('niceTicks and tick labels', () => {
  assert.deepEqual(niceTicks(0.31, 2.9, 5).values, [0, 1, 2, 3]);
  assert.deepEqual(niceTicks(0.31, 2.9, 8).values, [0, 0.5, 1, 1.5, 2, 2.5, 3]);
  assert.deepEqual(niceTicks(1.02, 1.13, 5).values, [1, 1.025, 1.05, 1.075, 1.1, 1.125, 1.15]);
  assert.deepEqual(niceTicks(3, 3).values.length > 1, true, 'a flat range still gets an axis');
  assert.equal(formatTick(0.5, 0.5), '0.5');
  assert.equal(formatTick(0.25, 0.25), '0.25');
  assert.equal(formatTick(20, 10), '20');
  assert.equal(formatTick(-0.0001, 0.1), '0.0');
});

test('history: a point per recorded epoch and series, gaps for nulls, axes, legend, BLEU on a right axis', () => {
  const history = [
    { epoch: 1, trainLoss: 3.1, valLoss: 2.9, valAccuracy: 0.2, valBleu: 1.5 },
    { epoch: 2, trainLoss: 2.2, valLoss: 2.1, valAccuracy: 0.35, valBleu: 6.25 },
    { epoch: 3, trainLoss: 1.7, valLoss: null, valAccuracy: null, valBleu: null },
    { epoch: 4, trainLoss: 1.4, valLoss: 1.6, valAccuracy: 0.5, valBleu: 12 },
    { epoch: 5, trainLoss: NaN, valLoss: 1.65, valAccuracy: 0.52, valBleu: 11 },
  ];
  const svg = historySvg(history, { bestEpoch: bestEpoch(history), subtitle: 'models/<x & y>' });
  const root = checkSvg(svg);
  const pts = (cls: string): XNode[] => all(root, (n) => n.name === 'circle' && hasClass(n, 'point') && hasClass(n, cls));
  assert.deepEqual(pts('train-loss').map((n) => n.attrs['data-epoch']), ['1', '2', '3', '4']);
  assert.deepEqual(pts('val-loss').map((n) => n.attrs['data-epoch']), ['1', '2', '4', '5']);
  assert.deepEqual(pts('val-bleu').map((n) => n.attrs['data-epoch']), ['1', '2', '4', '5']);
  assert.deepEqual(pts('val-accuracy').map((n) => n.attrs['data-epoch']), ['1', '2', '4', '5']);
  // Later epochs to the right; lower loss lower on the screen means a larger y.
  const tl = pts('train-loss');
  for (let k = 1; k < tl.length; k++) {
    assert.ok(Number(tl[k].attrs.cx) > Number(tl[k - 1].attrs.cx));
    assert.ok(Number(tl[k].attrs.cy) > Number(tl[k - 1].attrs.cy));
  }
  // The validation line breaks at epoch 3: two runs in one path.
  const valPath = all(root, (n) => n.name === 'path' && n.attrs.stroke === '#ff7f0e')[0];
  assert.equal((valPath.attrs.d.match(/M/g) ?? []).length, 2);
  const t = texts(root);
  for (const s of ['epoch', 'loss (cross-entropy per token)', 'BLEU / accuracy (%)', 'training loss', 'validation loss', 'best (epoch 4)', 'models/<x & y>']) {
    assert.ok(t.some((x) => x.startsWith(s)), `history plot lacks ${s}`);
  }
  const xTicks = all(root, (n) => hasClass(n, 'tick') && hasClass(n, 'x')).map(textOf);
  assert.deepEqual(xTicks, ['1', '2', '3', '4', '5']);
  assert.ok(all(root, (n) => hasClass(n, 'y-left') && hasClass(n, 'tick')).length >= 3);
  assert.ok(all(root, (n) => hasClass(n, 'y-right') && hasClass(n, 'tick')).length >= 3);
  assert.equal(bestEpoch(history, 'bleu'), 4);
});

test('history: one epoch, no validation, nothing recorded', () => {
  const one = checkSvg(historySvg([{ epoch: 1, trainLoss: 2.5, valLoss: null, valAccuracy: null, valBleu: null }]));
  assert.equal(all(one, (n) => n.name === 'circle' && hasClass(n, 'point')).length, 1);
  assert.equal(all(one, (n) => hasClass(n, 'y-right')).length, 0, 'no right axis without BLEU or accuracy');
  assert.deepEqual(all(one, (n) => hasClass(n, 'tick') && hasClass(n, 'x')).map(textOf), ['1']);
  const point = all(one, (n) => n.name === 'circle' && hasClass(n, 'point'))[0];
  assert.ok(Math.abs(Number(point.attrs.cx) - 72 - (760 - 72 - 28) / 2) < 1, 'a single epoch sits in the middle');
  const many = checkSvg(historySvg(Array.from({ length: 137 }, (_, k) => ({ epoch: k + 1, trainLoss: 1 / (k + 1), valLoss: 1.1 / (k + 1), valAccuracy: null, valBleu: null }))));
  assert.equal(all(many, (n) => hasClass(n, 'point') && hasClass(n, 'train-loss')).length, 137);
  assert.ok(all(many, (n) => hasClass(n, 'tick') && hasClass(n, 'x')).length <= 12, 'epoch ticks thinned');
  const none = checkSvg(historySvg([]));
  assert.ok(texts(none).includes('no epochs recorded'));
  assert.equal(bestEpoch([]), null);
});

// ---------------------------------------------------------------- attention

test('attention heatmap: |out| × |src| cells shaded by weight, every token escaped and visible', () => {
  const src = ['<', '&', '"', ' ', 'a\u0000b', "'", '</text>'];
  const out = ['x', '&amp;', '<eos>'];
  const weights = out.map((_, i) => src.map((_, j) => (j === i ? 0.7 : 0.3 / (src.length - 1))));
  const svg = attentionSvg(src, out, weights);
  const root = checkSvg(svg);
  const cells = all(root, (n) => n.name === 'rect' && hasClass(n, 'cell'));
  assert.equal(cells.length, src.length * out.length);
  const cell = (i: number, j: number): XNode => cells.find((c) => c.attrs['data-row'] === String(i) && c.attrs['data-col'] === String(j)) as XNode;
  assert.equal(cell(1, 1).attrs.fill, weightColor(0.7));
  assert.notEqual(cell(1, 1).attrs.fill, cell(1, 2).attrs.fill);
  // Columns left to right follow the source, rows top to bottom the output.
  assert.ok(Number(cell(0, 1).attrs.x) > Number(cell(0, 0).attrs.x));
  assert.ok(Number(cell(1, 0).attrs.y) > Number(cell(0, 0).attrs.y));
  const srcLabels = all(root, (n) => hasClass(n, 'label') && hasClass(n, 'source')).map(textOf);
  const outLabels = all(root, (n) => hasClass(n, 'label') && hasClass(n, 'output')).map(textOf);
  assert.deepEqual(srcLabels, ['<', '&', '"', '␣', 'a␀b', "'", '</text>']);
  assert.deepEqual(outLabels, ['x', '&amp;', '<eos>']);
  assert.ok(svg.includes('&lt;/text&gt;') && svg.includes('&amp;amp;'));
  assert.ok(!svg.includes('\u0000'));
});

test('attention heatmap: colours, long tokens, mismatched weights', () => {
  assert.equal(weightColor(0), '#f7fbff');
  assert.equal(weightColor(1), '#08306b');
  assert.equal(weightColor(2), weightColor(1));
  assert.equal(weightColor(NaN), weightColor(0));
  const dark = (c: string): number => parseInt(c.slice(1, 3), 16) + parseInt(c.slice(3, 5), 16) + parseInt(c.slice(5, 7), 16);
  for (let w = 0.1; w <= 1; w += 0.1) assert.ok(dark(weightColor(w)) < dark(weightColor(w - 0.1)), 'darker for larger weights');
  const long = 'x'.repeat(50);
  const root = checkSvg(attentionSvg([long, 'b'], ['c'], [[0.5, 0.5]]));
  const label = all(root, (n) => hasClass(n, 'source'))[0];
  assert.ok(textOf(label).endsWith('…') && textOf(label).length <= 18);
  assert.ok(label.children.some((c) => typeof c !== 'string' && c.name === 'title'), 'full token in a tooltip');
  assert.throws(() => attentionSvg(['a', 'b'], ['c'], [[1]]), RangeError);
  assert.throws(() => attentionSvg(['a'], ['c', 'd'], [[1]]), RangeError);
  const titled = checkSvg(attentionSvg(['a'], ['b'], [[1]], { title: 'T & t', subtitle: 'a <b> → "c"' }));
  assert.ok(texts(titled).includes('T & t') && texts(titled).includes('a <b> → "c"'));
  const empty = checkSvg(attentionSvg([], [], []));
  assert.equal(all(empty, (n) => hasClass(n, 'cell')).length, 0);
  const big = checkSvg(attentionSvg(Array.from({ length: 80 }, (_, k) => `s${k}`), Array.from({ length: 70 }, (_, k) => `t${k}`), Array.from({ length: 70 }, () => new Array(80).fill(1 / 80))));
  assert.equal(all(big, (n) => hasClass(n, 'cell')).length, 5600);
});

test('what the web page draws: no drawn title (still the accessible name), a narrow history legend wraps inside the width', () => {
  const att = checkSvg(attentionSvg(['a', '<b>'], ['c', '</s>'], [[0.2, 0.8], [1, 0]], { showTitle: false, cellSize: 12, title: 'Attention' }));
  assert.ok(!texts(att).includes('Attention'), 'no drawn title');
  assert.match(textOf(all(att, (n) => n.name === 'title')[0]), /^Attention: 2 output × 2 source tokens$/);
  assert.equal(all(att, (n) => hasClass(n, 'cell')).length, 4);
  const history = [1, 2, 3].map((epoch) => ({ epoch, trainLoss: 3 / epoch, valLoss: 3.2 / epoch, valAccuracy: 0.1 * epoch, valBleu: 2 * epoch }));
  const W = 440;
  const root = checkSvg(historySvg(history, { width: W, height: 300, showTitle: false, title: 'Training history' }));
  assert.ok(!texts(root).includes('Training history'), 'no drawn title');
  const items = all(root, (n) => n.name === 'g' && hasClass(n, 'legend') && n.attrs.class !== 'legend');
  assert.equal(items.length, 4);
  const rows = new Set(items.map((g) => all(g, (n) => n.name === 'line')[0].attrs.y1));
  assert.ok(rows.size >= 2, 'the legend wraps onto a second row');
  for (const g of items) {
    const label = all(g, (n) => n.name === 'text')[0];
    assert.ok(Number(label.attrs.x) + 0.55 * 12 * textOf(label).length < W, `legend "${textOf(label)}" fits`);
  }
  // The plot frame starts below the last legend row.
  const frame = all(root, (n) => hasClass(n, 'frame'))[0];
  assert.ok(Number(frame.attrs.y) > Math.max(...[...rows].map(Number)) + 10);
});

// ---------------------------------------------------------------- CLI

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

function s2s(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('modelDiagramPaths: a directory or a prefix', () => {
  assert.deepEqual(modelDiagramPaths('out/', true), { training: 'out/model-training.svg', encoder: 'out/model-encoder.svg', decoder: 'out/model-decoder.svg' });
  assert.deepEqual(modelDiagramPaths('.', true).training, './model-training.svg');
  assert.deepEqual(modelDiagramPaths('docs/img/seed', false).decoder, 'docs/img/seed-decoder.svg');
  assert.deepEqual(modelDiagramPaths('docs/img/seed_', false).encoder, 'docs/img/seed_encoder.svg');
});

test('s2s plot model / plot history on a trained bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-plot-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 80, seed: 4 })));
  const model = join(dir, 'model');
  const train = s2s(['train', '--data', data, '--out', model, '--epochs', '2', '--latent-dim', '8', '--embedding-dim', '6', '--batch-size', '32', '--samples', 'all',
    '--bidirectional', '--attention', 'additive', '--max-target-length', '30', '--examples', '0']);
  assert.equal(train.code, 0, train.err);
  const config = JSON.parse(readFileSync(join(model, 'config.json'), 'utf8')).model as ModelConfig;

  const plots = join(dir, 'plots', 'nested');
  const r = s2s(['plot', 'model', '--model', model, '--out', plots + '/']);
  assert.equal(r.code, 0, r.err);
  for (const f of ['model-training.svg', 'model-encoder.svg', 'model-decoder.svg']) {
    assert.ok(r.out.includes(join(plots, f)), r.out);
    const t = texts(checkSvg(readFileSync(join(plots, f), 'utf8')));
    assert.ok(t.includes('Bidirectional(LSTM(8))') || f === 'model-decoder.svg', `${f}: bidirectional encoder`);
  }
  const tr = texts(checkSvg(readFileSync(join(plots, 'model-training.svg'), 'utf8')));
  for (const s of ['Attention(additive)', `Embedding(${config.srcVocabSize}, 6)`, `Dense(${config.tgtVocabSize})`, '(None, None, 16)']) assert.ok(tr.includes(s), s);

  const prefix = s2s(['plot', 'model', '--model', model, '--out', join(dir, 'arch')]);
  assert.equal(prefix.code, 0, prefix.err);
  for (const k of ['training', 'encoder', 'decoder']) assert.ok(existsSync(join(dir, `arch-${k}.svg`)));

  const h = join(dir, 'h', 'history.svg');
  const hr = s2s(['plot', 'history', '--model', model, '--out', h]);
  assert.equal(hr.code, 0, hr.err);
  const hist = checkSvg(readFileSync(h, 'utf8'));
  assert.equal(all(hist, (n) => hasClass(n, 'point') && hasClass(n, 'train-loss')).length, 2);
  assert.equal(all(hist, (n) => hasClass(n, 'point') && hasClass(n, 'val-loss')).length, 2);

  const missing = s2s(['plot', 'history', '--model', join(dir, 'nope')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.err, /nope/);
});
