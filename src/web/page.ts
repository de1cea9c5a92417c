/**
 * The translation page (page.html): live translation as you type, in the
 * browser or on the s2s server next to it, the attention map of the line
 * under the caret, model info with the training curves, and unknown
 * characters marked in the text box. The attention map and the curves are
 * drawn by src/plot/ (the same SVG as `s2s translate --attention-svg` and
 * `s2s plot history`), parsed as XML and imported into the page: nothing a
 * model or a server says is ever written as HTML.
 */
import { attentionSvg } from '../plot/attention.js';
import { historySvg, bestEpoch } from '../plot/history.js';
import { WebModel, useModel, tokenSurface, architectureRows, type AttentionMap, type ModelInfo, type WebTranslation } from './web-model.js';
import { askServer, probeServer } from './server-client.js';
import { S2SError } from '../errors.js';

type Mode = 'browser' | 'server';

const DEBOUNCE_MS = 150;

/** An SVG document from src/plot/ as an element of `doc` (parsed as XML: markup in labels stays text). */
export function svgElement(doc: Document, svg: string): SVGSVGElement {
  const parsed = new DOMParser().parseFromString(svg, 'image/svg+xml');
  const root = parsed.documentElement;
  if (root.localName !== 'svg' || parsed.getElementsByTagName('parsererror').length > 0) throw new Error('plot: not a well-formed SVG document');
  return doc.importNode(root, true) as unknown as SVGSVGElement;
}

/** A token as the page labels it: the end of sentence as ⟨end⟩, BPE markers removed (plot/ makes spaces visible). */
export function pageToken(token: string): string {
  return token === '</s>' || token === '\n' ? '⟨end⟩' : tokenSurface(token);
}

/**
 * The attention map as plot/attention.ts draws it. A map from the server is
 * made rectangular first (missing weights are 0, extra tokens dropped), and
 * cells shrink so a long sentence still fits without scrolling (down to 12 px).
 */
export function attentionFigure(doc: Document, map: AttentionMap): SVGSVGElement {
  const rows = map.weights.length;
  const cols = Math.max(1, ...map.weights.map((r) => r.length));
  const weights = map.weights.map((r) => Array.from({ length: cols }, (_, j) => {
    const w = Number(r[j] ?? 0);
    return Number.isFinite(w) ? Math.min(1, Math.max(0, w)) : 0;
  }));
  const source = Array.from({ length: cols }, (_, j) => pageToken(map.sourceTokens[j] ?? ''));
  const output = Array.from({ length: rows }, (_, i) => pageToken(map.outputTokens[i] ?? ''));
  const cellSize = Math.max(12, Math.min(28, Math.floor(560 / cols), Math.floor(560 / Math.max(rows, 1))));
  const svg = svgElement(doc, attentionSvg(source, output, weights, { cellSize, showTitle: false }));
  svg.classList.add('heatmap');
  return svg;
}

/** The training curves as plot/history.ts draws them, in a figure (null with fewer than two epochs). */
export function historyFigure(doc: Document, info: Pick<ModelInfo, 'history' | 'monitor'>): HTMLElement | null {
  if (info.history.length < 2) return null;
  const fig = doc.createElement('figure');
  fig.className = 'curve';
  fig.appendChild(svgElement(doc, historySvg(info.history, { width: 440, height: 300, showTitle: false, bestEpoch: bestEpoch(info.history, info.monitor) })));
  return fig;
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
    if (model && !model.info.hasAttention) return note('This model has no attention layer, so there is no attention map (train with --attention dot, general or additive, or --arch transformer).');
    if (!map) return note(input.value.trim() ? 'No attention weights for this translation.' : 'Type a sentence to see where the model looks while it translates.');
    const wrap = doc.createElement('div');
    wrap.className = 'heatmap-wrap';
    wrap.appendChild(attentionFigure(doc, map));
    attentionEl.appendChild(wrap);
    const t = model?.info.transformer;
    if (t) note(`Cross-attention of the last decoder layer, averaged over its ${t.heads} heads.`);
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
        if (!model) throw new S2SError('the model is not loaded in this browser');
        let results: WebTranslation[];
        try {
          results = model.translateMany(nonEmpty.map((x) => x.l));
        } catch (err) {
          // The translator refuses inputs longer than the model was trained on; name the line.
          const e = err as Error & { index?: number; length?: number; limit?: number };
          if (e.name === 'InputTooLongError' && typeof e.index === 'number' && nonEmpty[e.index]) {
            throw new S2SError(`line ${nonEmpty[e.index].i + 1} is ${e.length} characters long; this model accepts at most ${e.limit}`);
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
        if (!r) throw new S2SError('no s2s server answers at /translate');
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
      ...architectureRows(info),
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
    // The curves are decoration: a history the chart cannot draw costs the chart, never the page.
    let curve: HTMLElement | null = null;
    try {
      curve = historyFigure(doc, info);
    } catch {
      curve = null;
    }
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
  // ?kernels=js|wasm picks the kernel set (default auto: wasm when it loads); data-kernels on #s2s-app does too.
  const asked = new URLSearchParams(doc.defaultView?.location.search ?? '').get('kernels') ?? app.dataset.kernels ?? 'auto';
  const kernelChoice = asked === 'js' || asked === 'wasm' ? asked : 'auto';
  // ?threads=N sets the wasm kernels' threads in a cross-origin isolated page (default: up to 4).
  const threadsAsked = Number(new URLSearchParams(doc.defaultView?.location.search ?? '').get('threads') ?? NaN);
  const [loaded, server] = await Promise.allSettled([
    WebModel.load(base, { kernels: kernelChoice, ...(threadsAsked >= 1 ? { threads: Math.floor(threadsAsked) } : {}) }),
    probeServer(),
  ]);
  const hasServer = server.status === 'fulfilled' && server.value;
  modeBox.hidden = !hasServer;
  modeServer.disabled = !hasServer;
  app.dataset.server = hasServer ? 'yes' : 'no';
  if (loaded.status === 'fulfilled') {
    model = loaded.value;
    useModel(model);
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
  doc.defaultView?.performance?.mark?.('s2s:ready');
  app.dataset.ready = 'yes';
  if (input.value) void run();
  else showAttention(null);
  input.focus();
  // The model panel (facts and curves) is decoration: drawn after the text box is usable, not before.
  const shown = model;
  if (shown) {
    setTimeout(() => {
      showInfo(shown.info);
      doc.defaultView?.performance?.mark?.('s2s:info-shown');
    }, 0);
  }
}
