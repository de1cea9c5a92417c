/**
 * s2s in the browser: fetches a model bundle's files over HTTP, rebuilds the
 * translator with the file-system free bundle format and translates on the
 * TypeScript kernels. Bundled by esbuild (scripts/build-web.mjs) into
 * dist/web/s2s-web.js, an ES module that also runs in Node given a fetch.
 *
 *   import { loadModel, translate } from './s2s-web.js';
 *   await loadModel('model/');
 *   translate('I am happy.').text;
 *
 * When the document has an element #s2s-app (page.html), the module also
 * drives the page: live translation as you type, in the browser or on the
 * server, attention map, model info and unknown characters.
 *
 * Only modules free of Node built-ins are imported here (never
 * src/data/index.ts or src/bundle/bundle.ts).
 */
import { bundleFromFiles, makeTranslator, type BundleConfig } from '../bundle/format.js';
import { setKernels } from '../engine/kernels/index.js';
import type { Translator, Translation, TranslateOptions } from '../decode/translator.js';
import type { Tokenizer } from '../data/tokenizer.js';
import type { Vocab } from '../data/vocab.js';

// ---------------------------------------------------------------------------
// The API
// ---------------------------------------------------------------------------

/** What the page shows about a model. */
export interface ModelInfo {
  /** Where the files came from (absolute URL of the folder). */
  baseUrl: string;
  cell: string;
  layers: number;
  latentDim: number;
  embeddingDim: number;
  bidirectional: boolean;
  /** 'none', 'dot', 'general' or 'additive'. */
  attention: string;
  sourceVocabSize: number;
  targetVocabSize: number;
  /** Token levels of the tokenizers: 'char', 'word' or 'bpe'. */
  sourceLevel: string;
  targetLevel: string;
  parameters: number;
  /** Size of the weights blob in bytes. */
  weightsBytes: number;
  /** Longest translation in tokens. */
  maxOutputLength: number;
  /** Epochs in the training history, and the last validation loss/accuracy if any. */
  epochs: number;
  valLoss: number | null;
  valAccuracy: number | null;
  /** Loss per epoch, for the training curve. */
  lossCurve: { train: number[]; validation: (number | null)[] };
  createdBy: string;
  /** The kernels the browser computes with. */
  engine: string;
}

/** Attention weights: weights[outputToken][sourceToken]. */
export interface AttentionMap {
  sourceTokens: string[];
  outputTokens: string[];
  weights: number[][];
}

export interface WebTranslation {
  source: string;
  text: string;
  /** Source tokens the model does not know (translated as UNK). */
  unknown: string[];
  logProb: number;
  finished: boolean;
  /** Null when the model has no attention (or the translator does not report it). */
  attention: AttentionMap | null;
}

/** A piece of the source text, flagged when the model does not know it. */
export interface TextSegment {
  text: string;
  unknown: boolean;
}

export interface LoadOptions {
  /** The fetch to use (default: globalThis.fetch); lets Node tests serve files from disk. */
  fetch?: (url: string) => Promise<{ ok: boolean; status: number; statusText?: string; json(): Promise<unknown>; arrayBuffer(): Promise<ArrayBuffer> }>;
}

/** A model loaded from a folder URL (config.json, vocab.json, weights.json, the weights blob, history.json). */
export class WebModel {
  private constructor(
    readonly translator: Translator,
    readonly config: BundleConfig,
    readonly info: ModelInfo,
  ) {}

  static async load(baseUrl: string, options: LoadOptions = {}): Promise<WebModel> {
    const doFetch = options.fetch ?? (globalThis.fetch?.bind(globalThis) as LoadOptions['fetch']);
    if (!doFetch) throw new Error('no fetch available to load the model');
    const base = folderUrl(baseUrl);
    const get = async (name: string): Promise<{ json(): Promise<unknown>; arrayBuffer(): Promise<ArrayBuffer> }> => {
      const url = new URL(name, base).href;
      let res;
      try {
        res = await doFetch(url);
      } catch (err) {
        throw new Error(`${url}: ${(err as Error).message}`);
      }
      if (!res.ok) throw new Error(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      return res;
    };
    const json = async (name: string): Promise<unknown> => {
      const res = await get(name);
      try {
        return await res.json();
      } catch (err) {
        throw new Error(`${new URL(name, base).href}: invalid JSON (${(err as Error).message})`);
      }
    };
    const [config, vocab, weightsIndex] = await Promise.all([json('config.json'), json('vocab.json'), json('weights.json')]);
    const file = (weightsIndex as { file?: unknown } | null)?.file;
    if (typeof file !== 'string' || !/^weights-[0-9a-f]{8}\.bin$/.test(file)) {
      throw new Error(`${new URL('weights.json', base).href}: field "file" must name the weights blob (weights-XXXXXXXX.bin)`);
    }
    const [blob, history] = await Promise.all([
      get(file).then((r) => r.arrayBuffer()),
      json('history.json').catch(() => []),
    ]);
    // The browser always computes with the TypeScript kernels.
    const k = setKernels('js');
    const where = base.replace(/\/$/, '');
    const parts = bundleFromFiles({ config, vocab, weightsIndex, weightsBlob: new Uint8Array(blob), history }, where);
    const translator = makeTranslator(parts);
    const m = parts.config.model;
    const last = parts.history[parts.history.length - 1];
    const info: ModelInfo = {
      baseUrl: base,
      cell: m.cell,
      layers: m.layers,
      latentDim: m.latentDim,
      embeddingDim: m.embeddingDim,
      bidirectional: m.bidirectional,
      attention: m.attention,
      sourceVocabSize: parts.vocabs.source.size,
      targetVocabSize: parts.vocabs.target.size,
      sourceLevel: translator.parts.sourceTokenizer.level,
      targetLevel: translator.parts.targetTokenizer.level,
      parameters: parts.model.parameterCount(),
      weightsBytes: blob.byteLength,
      maxOutputLength: translator.parts.maxOutputLength,
      epochs: parts.history.length,
      valLoss: last?.valLoss ?? null,
      valAccuracy: last?.valAccuracy ?? null,
      lossCurve: { train: parts.history.map((h) => h.trainLoss), validation: parts.history.map((h) => h.valLoss ?? null) },
      createdBy: String(parts.config.createdBy ?? ''),
      engine: k.description,
    };
    return new WebModel(translator, parts.config, info);
  }

  /** Translates one sentence exactly as the Node translator does (greedy decoding). */
  translate(text: string): WebTranslation {
    return this.translateMany([text])[0];
  }

  /** Translates several sentences in one batch (same results as one by one). */
  translateMany(texts: readonly string[]): WebTranslation[] {
    const hasAttention = this.info.attention !== 'none';
    // `attention` asks translators that support it for the weights; others ignore it.
    const options: TranslateOptions & { attention?: boolean } = { batchSize: 64, attention: hasAttention };
    return this.translator.translate(texts, options).map((t) => toWebTranslation(t));
  }

  /**
   * Splits a text into runs the model knows and runs it does not (unknown
   * characters/tokens). Lines are translated separately, so line breaks are
   * never unknown.
   */
  segments(text: string): TextSegment[] {
    const out: TextSegment[] = [];
    const push = (seg: TextSegment): void => {
      const last = out[out.length - 1];
      if (last && last.unknown === seg.unknown) last.text += seg.text;
      else out.push({ ...seg });
    };
    text.split('\n').forEach((line, i) => {
      if (i) push({ text: '\n', unknown: false });
      for (const seg of unknownSegments(line, this.translator.parts.sourceTokenizer, this.translator.parts.sourceVocab)) push(seg);
    });
    return out;
  }
}

let current: WebModel | null = null;

/** Loads the model whose files are in the folder at baseUrl (relative URLs resolve against the page). */
export async function loadModel(baseUrl = 'model/', options: LoadOptions = {}): Promise<ModelInfo> {
  current = await WebModel.load(baseUrl, options);
  return current.info;
}

/** The loaded model (null before loadModel). */
export function currentModel(): WebModel | null {
  return current;
}

function need(): WebModel {
  if (!current) throw new Error('no model loaded: call loadModel(baseUrl) first');
  return current;
}

/** Translates with the model loaded by loadModel. */
export function translate(text: string): WebTranslation {
  return need().translate(text);
}

/** Model info of the model loaded by loadModel. */
export function modelInfo(): ModelInfo {
  return need().info;
}

function folderUrl(baseUrl: string): string {
  const here = (globalThis as { location?: { href: string } }).location?.href;
  const url = here ? new URL(baseUrl, here) : new URL(baseUrl);
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url.href;
}

function toWebTranslation(t: Translation): WebTranslation {
  const raw = (t as Translation & { attention?: unknown }).attention;
  return {
    source: t.source,
    text: t.text,
    unknown: t.unknown,
    logProb: t.logProb,
    finished: t.finished,
    attention: asAttentionMap(raw),
  };
}

/** Accepts the translator's (or the server's) attention map when it has the expected shape. */
export function asAttentionMap(raw: unknown): AttentionMap | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const a = raw as Partial<AttentionMap>;
  if (!Array.isArray(a.weights) || !Array.isArray(a.sourceTokens) || !Array.isArray(a.outputTokens)) return null;
  if (a.weights.length === 0 || !a.weights.every((row) => Array.isArray(row))) return null;
  return { sourceTokens: a.sourceTokens.map(String), outputTokens: a.outputTokens.map(String), weights: a.weights };
}

/** Strips BPE markers so a token can be found in the text it came from. */
function surface(token: string): string {
  return token.replace(/@@$/, '').replace(/<\/w>$/, '');
}

/**
 * Splits the (NFC-normalised) text into known and unknown runs. Tokens are
 * located in the text in order; a token whose surface cannot be found (a
 * tokenizer's spacing codes) is skipped, so highlighting is best effort for
 * word and BPE levels and exact for characters.
 */
export function unknownSegments(text: string, tokenizer: Tokenizer, vocab: Vocab): TextSegment[] {
  const s = text.normalize('NFC');
  const flags = new Uint8Array(s.length);
  let cursor = 0;
  for (const token of tokenizer.tokenize(s)) {
    const piece = surface(token);
    if (!piece) continue;
    const at = s.indexOf(piece, cursor);
    if (at < 0) continue;
    if (!vocab.has(token)) flags.fill(1, at, at + piece.length);
    cursor = at + piece.length;
  }
  const out: TextSegment[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j < s.length && flags[j] === flags[i]) j++;
    out.push({ text: s.slice(i, j), unknown: flags[i] === 1 });
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------

type Mode = 'browser' | 'server';

interface ServerResult {
  /** One translation per line sent. */
  texts: string[];
  attention: (AttentionMap | null)[];
  engine: string;
}

const DEBOUNCE_MS = 150;

/** Shows a token in the attention map: spaces and invisible characters made visible. */
export function displayToken(token: string): string {
  if (token === '</s>' || token === '\n') return '⟨end⟩';
  return surface(token).replace(/ /g, '␣').replace(/\t/g, '⇥') || '∅';
}

/** Builds the attention heatmap as an SVG element (rows: output tokens, columns: source tokens). */
export function attentionHeatmap(doc: Document, map: AttentionMap): SVGSVGElement {
  const NS = 'http://www.w3.org/2000/svg';
  const src = map.sourceTokens.map(displayToken);
  const out = map.outputTokens.slice(0, map.weights.length).map(displayToken);
  const cols = Math.max(1, ...map.weights.map((r) => r.length));
  const rows = map.weights.length;
  // Cells shrink so a long sentence still fits without scrolling (down to 12 px).
  const cell = Math.max(12, Math.min(28, Math.floor(560 / cols), Math.floor(560 / Math.max(rows, 1))));
  const label = (t: string): number => Math.min(120, 10 + 8 * [...t].length);
  // Characters fit above their column; longer tokens are written at a slant.
  const slant = src.some((t) => [...t].length > 2);
  const left = Math.max(28, ...out.map(label));
  const top = slant ? Math.max(28, ...src.map((t) => label(t) * 0.87)) : 24;
  const width = left + cols * cell + 4;
  const height = top + rows * cell + 4;
  const svg = doc.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  svg.setAttribute('role', 'img');
  svg.setAttribute('class', 'heatmap');
  svg.setAttribute('aria-label', `Attention map: ${rows} output tokens (rows) by ${cols} source tokens (columns); darker cells got more attention`);
  const el = (name: string, attrs: Record<string, string | number>, text?: string): SVGElement => {
    const e = doc.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  for (let j = 0; j < cols; j++) {
    const x = left + j * cell + cell / 2;
    if (slant) el('text', { x, y: top - 6, class: 'tok src', transform: `rotate(-60 ${x} ${top - 6})` }, src[j] ?? '');
    else el('text', { x, y: top - 10, class: 'tok src short' }, src[j] ?? '');
  }
  for (let i = 0; i < rows; i++) {
    el('text', { x: left - 6, y: top + i * cell + cell / 2, class: 'tok out' }, out[i] ?? '');
    const row = map.weights[i];
    for (let j = 0; j < cols; j++) {
      const w = Math.max(0, Math.min(1, Number(row[j] ?? 0)));
      const rect = el('rect', { x: left + j * cell, y: top + i * cell, width: cell - 1, height: cell - 1, rx: 2, class: 'cell', style: `fill-opacity:${(0.04 + 0.96 * w).toFixed(3)}` });
      const title = doc.createElementNS(NS, 'title');
      title.textContent = `${out[i] ?? ''} ← ${src[j] ?? ''}: ${w.toFixed(2)}`;
      rect.appendChild(title);
    }
  }
  return svg;
}

/** A small chart of training and validation loss per epoch (null with fewer than two epochs). */
export function lossChart(doc: Document, curve: ModelInfo['lossCurve']): HTMLElement | null {
  const n = curve.train.length;
  if (n < 2) return null;
  const NS = 'http://www.w3.org/2000/svg';
  const W = 320, H = 120, P = { l: 34, r: 8, t: 8, b: 22 };
  const values = [...curve.train, ...curve.validation.filter((v): v is number => v !== null)].filter(Number.isFinite);
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || 1;
  const x = (i: number): number => P.l + (i / (n - 1)) * (W - P.l - P.r);
  const y = (v: number): number => P.t + (1 - (v - lo) / span) * (H - P.t - P.b);
  const fig = doc.createElement('figure');
  fig.className = 'curve';
  const svg = doc.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('role', 'img');
  const lastVal = [...curve.validation].reverse().find((v) => v !== null);
  svg.setAttribute('aria-label', `Loss over ${n} epochs: training ${curve.train[0].toFixed(2)} to ${curve.train[n - 1].toFixed(2)}` +
    (lastVal != null ? `, validation ending at ${lastVal.toFixed(2)}` : ''));
  const add = (name: string, attrs: Record<string, string | number>, text?: string): void => {
    const e = doc.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
  };
  add('line', { x1: P.l, y1: H - P.b, x2: W - P.r, y2: H - P.b, class: 'axis' });
  add('text', { x: P.l - 4, y: y(hi), class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, hi.toFixed(2));
  add('text', { x: P.l - 4, y: y(lo), class: 'tick', 'text-anchor': 'end', 'dominant-baseline': 'middle' }, lo.toFixed(2));
  add('text', { x: P.l, y: H - 6, class: 'tick' }, '1');
  add('text', { x: W - P.r, y: H - 6, class: 'tick', 'text-anchor': 'end' }, `epoch ${n}`);
  const line = (vals: (number | null)[], cls: string): void => {
    const pts = vals.map((v, i) => (v === null ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`)).filter((p): p is string => p !== null);
    if (pts.length > 1) add('polyline', { points: pts.join(' '), class: cls });
  };
  line(curve.train, 'train');
  line(curve.validation, 'val');
  fig.appendChild(svg);
  const cap = doc.createElement('figcaption');
  cap.innerHTML = '<span class="key train"></span>training loss <span class="key val"></span>validation loss';
  fig.appendChild(cap);
  return fig;
}

/**
 * Asks the s2s server to translate non-empty lines (`{"text"}` for one,
 * `{"texts"}` for several); null when no s2s server answers (a static host
 * answers with an error page, not JSON).
 */
async function askServer(lines: readonly string[], signal?: AbortSignal): Promise<ServerResult | null> {
  const body = lines.length === 1 ? { text: lines[0], attention: true } : { texts: lines, attention: true };
  const res = await fetch('/translate', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  if (!(res.headers.get('content-type') ?? '').includes('json')) return null;
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(typeof json.error === 'string' ? json.error : `server: HTTP ${res.status}`);
  const items = Array.isArray(json.translations) ? (json.translations as unknown[]) : [];
  const texts = items.map((t) => (typeof t === 'string' ? t : String((t as { text?: unknown } | null)?.text ?? '')));
  if (texts.length !== lines.length) {
    if (lines.length === 1 && typeof json.translation === 'string') texts.splice(0, texts.length, json.translation);
    else throw new Error(`the server answered ${texts.length} translations for ${lines.length} lines`);
  }
  const attention = items.map((t) => asAttentionMap((t as { attention?: unknown } | null)?.attention));
  const engine = typeof json.model === 'string' ? `s2s serve, model ${json.model}` : 's2s serve';
  return { texts, attention, engine };
}

/** True when an s2s server answers here (GET /health gives JSON; a static host has no such file). */
async function probeServer(): Promise<boolean> {
  try {
    const res = await fetch('/health', { headers: { accept: 'application/json' } });
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('json')) return false;
    const json = (await res.json()) as { status?: unknown };
    return json.status === 'ok';
  } catch {
    return false;
  }
}

function fmtInt(n: number): string {
  return n.toLocaleString('en');
}

function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Wires page.html: call once with the document (done automatically when #s2s-app exists). */
export async function mountPage(doc: Document): Promise<void> {
  const $ = <T extends HTMLElement>(id: string): T => {
    const e = doc.getElementById(id);
    if (!e) throw new Error(`page.html lacks #${id}`);
    return e as T;
  };
  const app = $('s2s-app');
  const input = $<HTMLTextAreaElement>('source');
  const backdrop = $('source-marks');
  const output = $('translation');
  const status = $('status');
  const engineEl = $('engine');
  const timing = $('timing');
  const modeBox = $<HTMLFieldSetElement>('mode');
  const modeBrowser = $<HTMLInputElement>('mode-browser');
  const modeServer = $<HTMLInputElement>('mode-server');
  const unknownEl = $('unknown');
  const attentionEl = $('attention');
  const infoEl = $('model-info');

  let model: WebModel | null = null;
  let serverEngine: string | null = null;
  let mode: Mode = 'browser';
  let seq = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let inflight: AbortController | null = null;

  const setStatus = (text: string, kind: 'ok' | 'busy' | 'error' = 'ok'): void => {
    status.textContent = text;
    status.dataset.kind = kind;
  };

  const showEngine = (): void => {
    const kernels = model?.info.engine ?? 'TypeScript kernels';
    engineEl.textContent = mode === 'browser'
      ? `in this browser · ${kernels.replace(/\s*\(.*\)$/, '')}`
      : `on the server${serverEngine ? ` · ${serverEngine}` : ''}`;
    engineEl.title = mode === 'browser' ? kernels : '';
    app.dataset.mode = mode;
  };

  const renderMarks = (): void => {
    backdrop.replaceChildren();
    const text = input.value;
    if (!model) {
      backdrop.textContent = text;
    } else {
      for (const seg of model.segments(text)) {
        if (seg.unknown) {
          const m = doc.createElement('mark');
          m.textContent = seg.text;
          backdrop.appendChild(m);
        } else {
          backdrop.appendChild(doc.createTextNode(seg.text));
        }
      }
    }
    // A trailing newline needs a character after it to take up a line.
    backdrop.appendChild(doc.createTextNode('\u200b'));
    backdrop.scrollTop = input.scrollTop;
    const unknown = model ? [...new Set(model.segments(text).filter((s) => s.unknown).flatMap((s) => [...s.text]))] : [];
    if (unknown.length) {
      unknownEl.hidden = false;
      unknownEl.replaceChildren(doc.createTextNode(unknown.length === 1 ? 'Unknown to the model: ' : `${unknown.length} characters unknown to the model: `));
      unknown.forEach((u, i) => {
        if (i) unknownEl.appendChild(doc.createTextNode(' '));
        const k = doc.createElement('kbd');
        k.textContent = u === ' ' ? '␣' : u;
        unknownEl.appendChild(k);
      });
    } else {
      unknownEl.hidden = true;
      unknownEl.textContent = '';
    }
  };

  const showAttention = (map: AttentionMap | null): void => {
    attentionEl.replaceChildren();
    const note = (text: string): void => {
      const p = doc.createElement('p');
      p.className = 'note';
      p.textContent = text;
      attentionEl.appendChild(p);
    };
    if (model && model.info.attention === 'none') return note('This model has no attention layer, so there is no attention map (train with --attention dot, general or additive).');
    if (!map) return note(input.value.trim() ? 'No attention weights for this translation.' : 'Type a sentence to see where the model looks while it translates.');
    const wrap = doc.createElement('div');
    wrap.className = 'heatmap-wrap';
    wrap.appendChild(attentionHeatmap(doc, map));
    attentionEl.appendChild(wrap);
  };

  /** Lines are translated one by one (as `s2s translate` does with stdin); the attention map is the caret's line. */
  const caretLine = (lines: string[]): number => {
    const before = input.value.slice(0, input.selectionStart ?? 0);
    return Math.min(lines.length - 1, before.split('\n').length - 1);
  };

  const run = async (): Promise<void> => {
    const id = ++seq;
    const text = input.value;
    renderMarks();
    inflight?.abort();
    inflight = null;
    if (!text.trim()) {
      output.textContent = '';
      output.dataset.state = 'empty';
      output.dataset.source = text;
      timing.textContent = '';
      showAttention(null);
      setStatus(model || mode === 'server' ? 'Ready' : status.textContent ?? '');
      return;
    }
    const lines = text.split('\n');
    const focus = caretLine(lines);
    const t0 = performance.now();
    output.dataset.state = 'busy';
    setStatus('Translating…', 'busy');
    try {
      const nonEmpty = lines.map((l, i) => ({ l, i })).filter((x) => x.l.trim() !== '');
      const texts = lines.map(() => '');
      let maps: (AttentionMap | null)[];
      if (mode === 'browser') {
        if (!model) throw new Error('the model is not loaded in this browser');
        let results: WebTranslation[];
        try {
          results = model.translateMany(nonEmpty.map((x) => x.l));
        } catch (err) {
          // The translator refuses inputs longer than the model was trained on; name the line.
          const e = err as Error & { index?: number; length?: number; limit?: number };
          if (e.name === 'InputTooLongError' && typeof e.index === 'number' && nonEmpty[e.index]) {
            throw new Error(`line ${nonEmpty[e.index].i + 1} is ${e.length} characters long; this model accepts at most ${e.limit}`);
          }
          throw err;
        }
        results.forEach((r, k) => { texts[nonEmpty[k].i] = r.text; });
        maps = results.map((r) => r.attention);
      } else {
        const ctl = new AbortController();
        inflight = ctl;
        const r = await askServer(nonEmpty.map((x) => x.l), ctl.signal);
        if (id !== seq) return;
        if (!r) throw new Error('no s2s server answers at /translate');
        serverEngine = r.engine;
        showEngine();
        r.texts.forEach((t, k) => { texts[nonEmpty[k].i] = t; });
        maps = r.attention;
      }
      if (id !== seq) return;
      const k = nonEmpty.findIndex((x) => x.i === focus);
      output.textContent = texts.join('\n');
      output.dataset.engine = mode;
      // The text this translation is of (tests wait for it to match the box).
      output.dataset.source = text;
      showAttention(maps[k >= 0 ? k : maps.length - 1] ?? null);
      output.dataset.state = 'done';
      timing.textContent = `${Math.max(1, Math.round(performance.now() - t0))} ms`;
      setStatus('Ready');
    } catch (err) {
      if (id !== seq || (err as Error).name === 'AbortError') return;
      output.dataset.state = 'error';
      setStatus(`Error: ${(err as Error).message}`, 'error');
    }
  };

  const schedule = (): void => {
    renderMarks();
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; void run(); }, DEBOUNCE_MS);
  };

  const setMode = (m: Mode): void => {
    mode = m;
    modeBrowser.checked = m === 'browser';
    modeServer.checked = m === 'server';
    showEngine();
    if (timer) clearTimeout(timer);
    void run();
  };

  const showInfo = (info: ModelInfo): void => {
    const rows: [string, string][] = [
      ['Architecture', `${info.bidirectional ? 'bidirectional ' : ''}${info.cell.toUpperCase()}, ${info.layers} × ${info.latentDim} units`],
      ['Attention', info.attention],
      ['Embeddings', info.embeddingDim ? `${info.embeddingDim} dimensions` : 'one-hot'],
      ['Source vocabulary', `${fmtInt(info.sourceVocabSize)} ${info.sourceLevel === 'char' ? 'characters' : `${info.sourceLevel} tokens`}`],
      ['Target vocabulary', `${fmtInt(info.targetVocabSize)} ${info.targetLevel === 'char' ? 'characters' : `${info.targetLevel} tokens`}`],
      ['Parameters', `${fmtInt(info.parameters)} (${fmtBytes(info.weightsBytes)})`],
      ['Training', info.epochs ? `${info.epochs} epoch${info.epochs === 1 ? '' : 's'}${info.valLoss !== null ? `, val loss ${info.valLoss.toFixed(3)}` : ''}${info.valAccuracy !== null ? `, val acc ${(info.valAccuracy * 100).toFixed(1)}%` : ''}` : 'no history'],
      ['Made by', info.createdBy || 'unknown'],
    ];
    infoEl.replaceChildren();
    for (const [k, v] of rows) {
      const dt = doc.createElement('dt');
      dt.textContent = k;
      const dd = doc.createElement('dd');
      dd.textContent = v;
      infoEl.append(dt, dd);
    }
    const curve = lossChart(doc, info.lossCurve);
    if (curve) infoEl.after(curve);
  };

  input.addEventListener('input', schedule);
  input.addEventListener('scroll', () => { backdrop.scrollTop = input.scrollTop; });
  input.addEventListener('keyup', (e) => { if (e.key.startsWith('Arrow')) schedule(); });
  modeBrowser.addEventListener('change', () => { if (modeBrowser.checked) setMode('browser'); });
  modeServer.addEventListener('change', () => { if (modeServer.checked) setMode('server'); });

  setStatus('Loading the model…', 'busy');
  input.disabled = true;
  const base = app.dataset.model ?? 'model/';
  const [loaded, server] = await Promise.allSettled([
    WebModel.load(base),
    probeServer(),
  ]);
  const hasServer = server.status === 'fulfilled' && server.value;
  modeBox.hidden = !hasServer;
  modeServer.disabled = !hasServer;
  app.dataset.server = hasServer ? 'yes' : 'no';
  if (loaded.status === 'fulfilled') {
    model = loaded.value;
    current = model;
    showInfo(model.info);
    setMode('browser');
    setStatus('Ready');
  } else {
    const why = (loaded.reason as Error).message;
    modeBrowser.disabled = true;
    if (hasServer) {
      setMode('server');
      setStatus(`The model could not be loaded in this browser (${why}); translating on the server.`, 'error');
    } else {
      setStatus(`The model could not be loaded: ${why}`, 'error');
    }
  }
  input.disabled = false;
  app.dataset.ready = 'yes';
  if (input.value) void run();
  else showAttention(null);
  input.focus();
}

if (typeof document !== 'undefined' && document.getElementById('s2s-app')) {
  void mountPage(document).catch((err: unknown) => {
    const s = document.getElementById('status');
    if (s) {
      s.textContent = `Error: ${(err as Error).message}`;
      s.dataset.kind = 'error';
    }
  });
}
