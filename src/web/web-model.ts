/**
 * s2s in the browser, the model API: fetches a model bundle's files over
 * HTTP, rebuilds the translator with the file-system free bundle format and
 * translates on the WebAssembly SIMD kernels (s2s-kernels.wasm beside
 * s2s-web.js), or on the TypeScript kernels where those cannot load or when
 * asked (`kernels: 'js'`). Runs anywhere there is a fetch (browsers; Node
 * given one).
 *
 *   import { loadModel, translate } from './s2s-web.js';
 *   await loadModel('model/');
 *   translate('I am happy.').text;
 *
 * Only modules free of Node built-ins are imported here (never
 * src/data/index.ts or src/bundle/bundle.ts); test/architecture.test.ts
 * checks it. The page that uses this is ./page.ts.
 */
import { bundleFromFiles, makeTranslator, weightsDtype, BundleError, type BundleConfig } from '../bundle/format.js';
import { setKernels, loadWasmKernels, jsKernels, type Kernels } from '../engine/kernels/index.js';
import type { Translator, Translation, TranslateOptions } from '../decode/translator.js';
import type { Tokenizer } from '../data/tokenizer.js';
import type { Vocab } from '../data/vocab.js';
import type { EpochRecord } from '../model/training.js';
import { describeArchitecture, encoderLayerCount, decoderLayerCount, type ModelConfig } from '../model/config.js';
import { StreamChecksums, type BlockChecksums } from '../engine/io.js';
import { S2SError } from '../errors.js';

/** What the page shows about a model. */
export interface ModelInfo {
  /** Where the files came from (absolute URL of the folder). */
  baseUrl: string;
  /** 'rnn' or 'transformer'. */
  arch: string;
  /** One line describing the architecture (e.g. "Transformer 3+3 layers, d 256, 4 heads, ff 1024"). */
  architecture: string;
  /** Whether translations come with attention weights (Transformers, RNNs with attention). */
  hasAttention: boolean;
  /** Transformer fields; null for RNN models. */
  transformer: TransformerInfo | null;
  /** RNN fields (ignored by Transformers). */
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
  /** How the weights are stored: 'float32', or 'int8' for a quantized bundle (s2s quantize). */
  weights: 'float32' | 'int8';
  /** Size of the weights blob in bytes. */
  weightsBytes: number;
  /** Longest translation in tokens. */
  maxOutputLength: number;
  /** Epochs in the training history, and the last validation loss/accuracy if any. */
  epochs: number;
  valLoss: number | null;
  valAccuracy: number | null;
  /** The training history (history.json), for the training curves. */
  history: EpochRecord[];
  /** The validation metric that picked the kept weights ('loss' or 'bleu'). */
  monitor: 'loss' | 'bleu';
  createdBy: string;
  /** The kernels the browser computes with (their description). */
  engine: string;
  /** Which kernel set that is. */
  kernels: Kernels['name'];
  /** Why `kernels: 'auto'` fell back to js (null when it did not). */
  kernelsFallback: string | null;
}

/** What the page shows of a Transformer's architecture. */
export interface TransformerInfo {
  encoderLayers: number;
  decoderLayers: number;
  modelDim: number;
  heads: number;
  ffDim: number;
  activation: string;
  postNorm: boolean;
  positions: string;
  tieEmbeddings: boolean;
}

function transformerInfo(m: ModelConfig): TransformerInfo | null {
  if (m.arch !== 'transformer') return null;
  return {
    encoderLayers: encoderLayerCount(m), decoderLayers: decoderLayerCount(m), modelDim: m.modelDim, heads: m.heads, ffDim: m.ffDim,
    activation: m.activation, postNorm: m.postNorm, positions: m.positions, tieEmbeddings: m.tieEmbeddings,
  };
}

/** The architecture lines of the model info panel, as [label, value]. */
export function architectureRows(info: Pick<ModelInfo, 'transformer' | 'bidirectional' | 'cell' | 'layers' | 'latentDim' | 'attention' | 'embeddingDim'>): [string, string][] {
  const t = info.transformer;
  if (t) {
    const layers = t.encoderLayers === t.decoderLayers ? `${t.encoderLayers} + ${t.decoderLayers} layers` : `${t.encoderLayers} encoder + ${t.decoderLayers} decoder layers`;
    return [
      ['Architecture', `Transformer, ${layers} × ${t.modelDim} (d_model), ${t.postNorm ? 'post-LN' : 'pre-LN'}`],
      ['Attention', `${t.heads} heads of ${t.modelDim / t.heads}: self-attention, cross-attention`],
      ['Feed-forward', `${t.ffDim}, ${t.activation === 'gelu' ? 'GELU' : 'ReLU'}`],
      ['Embeddings', `${t.modelDim} dimensions, ${t.tieEmbeddings ? 'one table for source, target and output' : 'separate tables'}; ${t.positions} positions`],
    ];
  }
  return [
    ['Architecture', `${info.bidirectional ? 'bidirectional ' : ''}${info.cell.toUpperCase()}, ${info.layers} × ${info.latentDim} units`],
    ['Attention', info.attention],
    ['Embeddings', info.embeddingDim ? `${info.embeddingDim} dimensions` : 'one-hot'],
  ];
}

/** Attention weights: weights[outputToken][sourceToken]. */
export interface AttentionMap {
  sourceTokens: string[];
  outputTokens: string[];
  weights: number[][];
}

/** A translation as the page shows it (greedy, with attention when the model has it). */
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

/** Options of `WebModel.load`. */
export interface LoadOptions {
  /** The fetch to use (default: globalThis.fetch); lets Node tests serve files from disk. */
  fetch?: (url: string) => Promise<{
    ok: boolean; status: number; statusText?: string; json(): Promise<unknown>; arrayBuffer(): Promise<ArrayBuffer>;
    /** Read as it arrives when present (the weights blob is checksummed chunk by chunk). */
    body?: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }> } } | null;
  }>;
  /**
   * Which kernels compute: 'wasm' (an error when they cannot load), 'js', or
   * 'auto' (default): wasm when it loads (over a shared memory when the page
   * is cross-origin isolated), else js.
   */
  kernels?: 'auto' | 'wasm' | 'js';
  /**
   * The folder the .wasm kernels are fetched from (default: the folder of
   * s2s-web.js, where export-web puts them; in Node without it they are read
   * from disk).
   */
  wasmUrl?: string;
  /**
   * Threads for the wasm kernels when the page is cross-origin isolated
   * (default: the browser's hardwareConcurrency, at most 4; 1 = one thread).
   * Elsewhere they run on one thread.
   */
  threads?: number;
}

/** Room the kernels' memory keeps for staged operands once the weights are in (a plain memory cannot grow after). */
const WASM_WORKING_BYTES = 64 << 20;

/** The folder of this script (s2s-web.js), or null when it has no URL of its own. */
function scriptFolder(): string | null {
  try {
    return new URL('.', import.meta.url).href;
  } catch {
    return null;
  }
}

/** The kernels a load will use, loaded but not yet active (chooseKernels runs while the model downloads). */
interface KernelChoice {
  kernels: Kernels;
  fallback: string | null;
}

/**
 * Fetches and compiles the kernel set `choice` asks for (wasm with its
 * threads where the memory is shared), without making it active; with the
 * reason when auto fell back to js. Started before the model's files are
 * fetched, so compiling the .wasm overlaps the download.
 */
async function chooseKernels(options: LoadOptions): Promise<KernelChoice> {
  const choice = options.kernels ?? 'auto';
  if (choice !== 'auto' && choice !== 'wasm' && choice !== 'js') throw new S2SError(`loadModel: kernels must be "auto", "wasm" or "js", got ${JSON.stringify(choice)}`);
  if (choice === 'js') return { kernels: jsKernels, fallback: null };
  try {
    // In Node (tests, scripts) the .wasm is read from disk unless a URL is given; pages fetch it beside s2s-web.js.
    const inNode = typeof (globalThis as { process?: { getBuiltinModule?: unknown } }).process?.getBuiltinModule === 'function';
    const url = options.wasmUrl ?? (inNode ? null : scriptFolder());
    const here = (globalThis as { location?: { href: string } }).location?.href;
    const wasm = await loadWasmKernels(url ? { url: new URL(url, here).href, fetch: options.fetch } : {});
    // Threads where the memory is shared (a cross-origin isolated page); one thread when workers cannot start.
    const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
    const threads = options.threads ?? (inNode ? 1 : Math.min(4, nav?.hardwareConcurrency ?? 1));
    if (wasm.shared && threads !== wasm.threads) await loadWasmKernels({ threads }).catch(() => loadWasmKernels({ threads: 1 }));
    return { kernels: wasm, fallback: null };
  } catch (err) {
    if (choice === 'wasm') throw new S2SError(`loadModel: the wasm kernels cannot be loaded: ${(err as Error).message}`);
    return { kernels: jsKernels, fallback: (err as Error).message };
  }
}

/** Makes the chosen kernels active; weights are allocated in a wasm memory, which must hold them and the working room without growing later. */
function activate(choice: KernelChoice, weightsBytes: number): Kernels {
  const k = choice.kernels as Kernels & { reserve?(bytes: number): void };
  k.reserve?.(weightsBytes + WASM_WORKING_BYTES);
  return setKernels(k);
}

/** What a fetch answers (window.fetch's Response fits; a test's fetch may leave out `body`). */
type FetchResponse = Awaited<ReturnType<NonNullable<LoadOptions['fetch']>>>;

/**
 * The weights blob as it downloads: each chunk is checksummed on arrival
 * (block CRCs, engine/io.ts StreamChecksums), so the checks after the last
 * byte cost no pass over 25 MB of their own. Without a readable body, the
 * whole response, checksummed later.
 */
async function readBlob(res: FetchResponse, url: string): Promise<{ bytes: Uint8Array; checksums?: BlockChecksums }> {
  const reader = res.body?.getReader?.();
  if (!reader) return { bytes: new Uint8Array(await res.arrayBuffer()) };
  const sums = new StreamChecksums();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value) continue;
      sums.update(value);
      chunks.push(value);
      total += value.length;
    }
  } catch (err) {
    throw new BundleError(`${url}: ${(err as Error).message}`);
  }
  if (chunks.length === 1) return { bytes: chunks[0], checksums: sums.finish() };
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return { bytes, checksums: sums.finish() };
}

/** A performance mark for each step of a load (the page's timeline; bench:browser prints them). */
function mark(name: string): void {
  (globalThis as { performance?: { mark?(name: string): unknown } }).performance?.mark?.(`s2s:${name}`);
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
    if (!doFetch) throw new S2SError('no fetch available to load the model');
    const base = folderUrl(baseUrl);
    const get = async (name: string): Promise<FetchResponse> => {
      const url = new URL(name, base).href;
      let res;
      try {
        res = await doFetch(url);
      } catch (err) {
        throw new BundleError(`${url}: ${(err as Error).message}`);
      }
      if (!res.ok) throw new BundleError(`${url}: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
      return res;
    };
    const json = async (name: string): Promise<unknown> => {
      const res = await get(name);
      try {
        return await res.json();
      } catch (err) {
        throw new BundleError(`${new URL(name, base).href}: invalid JSON (${(err as Error).message})`);
      }
    };
    mark('load-start');
    // The kernels load while the files download (an auto fallback never rejects; a refused choice is awaited below).
    const kernelsReady = chooseKernels(options);
    kernelsReady.then(() => mark('kernels-compiled'), () => undefined);
    const [config, vocab, weightsIndex] = await Promise.all([json('config.json'), json('vocab.json'), json('weights.json')]);
    const file = (weightsIndex as { file?: unknown } | null)?.file;
    if (typeof file !== 'string' || !/^weights-[0-9a-f]{8}\.bin$/.test(file)) {
      throw new BundleError(`${new URL('weights.json', base).href}: field "file" must name the weights blob (weights-XXXXXXXX.bin)`);
    }
    const [{ bytes: blob, checksums }, history] = await Promise.all([
      get(file).then((r) => readBlob(r, new URL(file, base).href)),
      json('history.json').catch(() => []),
    ]);
    // The model is built in float32 first (int8 payloads replace those weights after), so the wasm memory needs room for both.
    const tensors = (weightsIndex as { tensors?: { shape?: unknown }[] }).tensors;
    const elements = Array.isArray(tensors) ? tensors.reduce((n, t) => n + (Array.isArray(t.shape) ? t.shape.reduce((a: number, d: unknown) => a * (Number(d) || 0), 1) : 0), 0) : 0;
    mark('files-fetched');
    const choice = await kernelsReady;
    const k = activate(choice, Math.max(blob.byteLength, 4 * elements) + (elements * 4 > blob.byteLength ? blob.byteLength : 0));
    const fallback = choice.fallback;
    mark('kernels-ready');
    const where = base.replace(/\/$/, '');
    // The float32 tensors are views of `blob` (no copy) until assignWeights puts them in the model.
    const parts = bundleFromFiles({ config, vocab, weightsIndex, weightsBlob: blob, weightsChecksums: checksums, history }, where);
    mark('bundle-checked');
    const translator = makeTranslator(parts);
    mark('model-built');
    const m = parts.config.model;
    const last = parts.history[parts.history.length - 1];
    const info: ModelInfo = {
      baseUrl: base,
      arch: m.arch,
      architecture: describeArchitecture(m),
      hasAttention: parts.model.hasAttention,
      transformer: transformerInfo(m),
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
      weights: weightsDtype(parts.model),
      weightsBytes: blob.byteLength,
      maxOutputLength: translator.parts.maxOutputLength,
      epochs: parts.history.length,
      valLoss: last?.valLoss ?? null,
      valAccuracy: last?.valAccuracy ?? null,
      history: parts.history,
      monitor: parts.config.train?.monitor === 'bleu' ? 'bleu' : 'loss',
      createdBy: String(parts.config.createdBy ?? ''),
      engine: k.description,
      kernels: k.name,
      kernelsFallback: fallback,
    };
    mark('loaded');
    return new WebModel(translator, parts.config, info);
  }

  /** Translates one sentence exactly as the Node translator does (greedy decoding). */
  translate(text: string): WebTranslation {
    return this.translateMany([text])[0];
  }

  /** Translates several sentences in one batch (same results as one by one). */
  translateMany(texts: readonly string[]): WebTranslation[] {
    const hasAttention = this.info.hasAttention;
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

/** Makes `model` the one translate() and modelInfo() use (the page does this with the model it loaded). */
export function useModel(model: WebModel): void {
  current = model;
}

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
  if (!current) throw new S2SError('no model loaded: call loadModel(baseUrl) first');
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
export function tokenSurface(token: string): string {
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
    const piece = tokenSurface(token);
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
