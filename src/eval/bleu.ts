/**
 * Corpus and sentence BLEU computed the way sacreBLEU 2.x does: 13a
 * tokenization, clipped n-gram counts against the per-n-gram maximum over the
 * references, closest reference length (shorter wins ties), statistics summed
 * over the corpus before precisions are taken, and its smoothing methods.
 */
import { getTokenizer, splitWhitespace, rstripWhitespace, type BleuTokenizer } from './tokenizer13a.js';
import { ConfigError } from '../errors.js';

/** BLEU smoothing methods, as sacreBLEU names them. */
export type SmoothMethod = 'none' | 'floor' | 'add-k' | 'exp';

/** sacreBLEU's defaults for the methods that take a value (Chen & Cherry, 2014). */
const SMOOTH_DEFAULTS: Record<SmoothMethod, number | null> = {
  none: null,
  floor: 0.1,
  'add-k': 1,
  exp: null,
};

/** Options of `corpusBleu` and `sentenceBleu` (sacreBLEU's defaults). */
export interface BleuOptions {
  /** Smoothing method; sacreBLEU's default is 'exp'. */
  smoothMethod?: SmoothMethod;
  /** Value for 'floor' (default 0.1) and 'add-k' (default 1). */
  smoothValue?: number;
  /** Tokenizer; default '13a'. */
  tokenize?: BleuTokenizer;
  /** Lowercase hypotheses and references first. */
  lowercase?: boolean;
  /** Maximum n-gram order; default 4. */
  maxNgramOrder?: number;
  /**
   * Stop at the highest n-gram order that has any hypothesis n-grams instead
   * of always averaging over maxNgramOrder. Default false for corpus BLEU and
   * true for sentence BLEU, as in sacreBLEU.
   */
  effectiveOrder?: boolean;
}

/** A BLEU score with the statistics it was computed from, as sacreBLEU reports them. */
export interface BleuResult {
  /** BLEU on the 0–100 scale. */
  score: number;
  /** Modified n-gram precisions (0–100), one per order. */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Total hypothesis length in tokens. */
  sysLen: number;
  /** Total effective reference length in tokens. */
  refLen: number;
  /** Clipped matching n-gram counts per order (before any add-k smoothing). */
  counts: number[];
  /** Hypothesis n-gram counts per order (before any add-k smoothing). */
  totals: number[];
}

/**
 * References for a corpus: either one reference per hypothesis (`string[]`),
 * or several reference streams in sacreBLEU's layout, `refs[k][i]` being the
 * k-th reference of hypothesis i. A `null` entry drops that reference for
 * that segment, allowing a variable number of references per segment.
 */
export type CorpusReferences = ReadonlyArray<string> | ReadonlyArray<ReadonlyArray<string | null>>;

/** Normalizes references to streams and checks their lengths. */
export function toReferenceStreams(
  numHyps: number,
  references: CorpusReferences,
  who: string,
): ReadonlyArray<ReadonlyArray<string | null>> {
  if (references.length === 0) {
    if (numHyps === 0) return [[]];
    throw new ConfigError(`${who}: no references given`);
  }
  const streams: ReadonlyArray<ReadonlyArray<string | null>> =
    typeof references[0] === 'string'
      ? [references as ReadonlyArray<string>]
      : (references as ReadonlyArray<ReadonlyArray<string | null>>);
  streams.forEach((stream, k) => {
    if (!Array.isArray(stream)) throw new TypeError(`${who}: references must be string[] or string[][]`);
    if (stream.length !== numHyps) {
      throw new ConfigError(
        `${who}: reference stream ${k} has ${stream.length} segments but there are ${numHyps} hypotheses ` +
          '(multiple references are given as streams: refs[k][i] is the k-th reference of hypothesis i)',
      );
    }
  });
  return streams;
}

/** All 1..maxOrder n-grams of a token list; keys join tokens with a space (tokens never contain one). */
function extractNgrams(tokens: string[], maxOrder: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function closestRefLen(hypLen: number, refLens: number[]): number {
  let bestDiff = -1;
  let bestLen = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (bestDiff === -1 || diff < bestDiff) {
      bestDiff = diff;
      bestLen = len;
    } else if (diff === bestDiff && len < bestLen) {
      bestLen = len;
    }
  }
  return bestLen;
}

/** sacreBLEU's floored log: log(0) is a huge negative number, not -Infinity. */
function myLog(x: number): number {
  return x === 0 ? -9999999999 : Math.log(x);
}

interface Resolved {
  smoothMethod: SmoothMethod;
  smoothValue: number | null;
  tokenize: (line: string) => string;
  lowercase: boolean;
  maxOrder: number;
  effectiveOrder: boolean;
}

function resolve(options: BleuOptions | undefined, effectiveDefault: boolean): Resolved {
  const smoothMethod = options?.smoothMethod ?? 'exp';
  if (!(smoothMethod in SMOOTH_DEFAULTS)) throw new ConfigError(`unknown BLEU smoothing method: ${smoothMethod}`);
  const maxOrder = options?.maxNgramOrder ?? 4;
  if (!Number.isInteger(maxOrder) || maxOrder < 1) throw new ConfigError(`maxNgramOrder must be a positive integer, got ${maxOrder}`);
  return {
    smoothMethod,
    smoothValue: options?.smoothValue ?? SMOOTH_DEFAULTS[smoothMethod],
    tokenize: getTokenizer(options?.tokenize ?? '13a'),
    lowercase: options?.lowercase ?? false,
    maxOrder,
    effectiveOrder: options?.effectiveOrder ?? effectiveDefault,
  };
}

function preprocess(sent: string, o: Resolved): string {
  const s = o.lowercase ? sent.toLowerCase() : sent;
  return o.tokenize(rstripWhitespace(s));
}

/** BLEU from summed sufficient statistics (sacreBLEU's `compute_bleu`). */
export function computeBleu(
  counts: readonly number[],
  totals: readonly number[],
  sysLen: number,
  refLen: number,
  options?: Pick<BleuOptions, 'smoothMethod' | 'smoothValue' | 'effectiveOrder' | 'maxNgramOrder'>,
): BleuResult {
  const o = resolve(options, false);
  return computeFromStats(counts, totals, sysLen, refLen, o);
}

function computeFromStats(
  counts: readonly number[],
  totals: readonly number[],
  sysLen: number,
  refLen: number,
  o: Resolved,
): BleuResult {
  let bp = 1.0;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0.0;

  const precisions = new Array<number>(o.maxOrder).fill(0);
  const result = (score: number): BleuResult => ({
    score,
    precisions,
    bp,
    sysLen,
    refLen,
    counts: counts.slice(),
    totals: totals.slice(),
  });

  // No match at any order: 0, whatever the smoothing (sacreBLEU #141).
  if (!counts.some((c) => c !== 0)) return result(0.0);

  // Smoothing works on copies so the reported counts stay the raw ones.
  const correct = counts.slice();
  const total = totals.slice();
  let smoothMteval = 1.0;
  let effOrder = o.maxOrder;
  const k = o.smoothValue ?? 0;
  for (let n = 1; n <= o.maxOrder; n++) {
    if (o.smoothMethod === 'add-k' && n > 1) {
      correct[n - 1] += k;
      total[n - 1] += k;
    }
    if (total[n - 1] === 0) break;
    if (o.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (o.smoothMethod === 'exp') {
        // NIST/mteval: each further zero-match order gets half the previous credit.
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]);
      } else if (o.smoothMethod === 'floor') {
        precisions[n - 1] = (100 * k) / total[n - 1];
      }
    } else {
      precisions[n - 1] = (100 * correct[n - 1]) / total[n - 1];
    }
  }

  let logSum = 0;
  for (let i = 0; i < effOrder; i++) logSum += myLog(precisions[i]);
  return result(bp * Math.exp(logSum / effOrder));
}

interface RefInfo {
  ngrams: Map<string, number>;
  lens: number[];
}

function referenceInfo(refs: string[], o: Resolved): RefInfo {
  const ngrams = new Map<string, number>();
  const lens: number[] = [];
  for (const ref of refs) {
    const tokens = splitWhitespace(ref);
    lens.push(tokens.length);
    // Clip against the largest count of each n-gram in any single reference.
    for (const [g, c] of extractNgrams(tokens, o.maxOrder)) {
      if (c > (ngrams.get(g) ?? 0)) ngrams.set(g, c);
    }
  }
  return { ngrams, lens };
}

/** Per-segment statistics: [hypLen, refLen, ...correct, ...total]. */
function segmentStats(hyp: string, ref: RefInfo, o: Resolved): number[] {
  const tokens = splitWhitespace(hyp);
  const refLen = closestRefLen(tokens.length, ref.lens);
  const correct = new Array<number>(o.maxOrder).fill(0);
  const total = new Array<number>(o.maxOrder).fill(0);
  for (const [g, c] of extractNgrams(tokens, o.maxOrder)) {
    // Order = number of tokens in the key.
    let n = 0;
    for (let i = g.indexOf(' '); i !== -1; i = g.indexOf(' ', i + 1)) n++;
    total[n] += c;
    const r = ref.ngrams.get(g);
    if (r !== undefined) correct[n] += Math.min(c, r);
  }
  return [tokens.length, refLen, ...correct, ...total];
}

function corpusStats(
  hypotheses: ReadonlyArray<string>,
  streams: ReadonlyArray<ReadonlyArray<string | null>>,
  o: Resolved,
): BleuResult {
  const sums = new Array<number>(2 + 2 * o.maxOrder).fill(0);
  for (let i = 0; i < hypotheses.length; i++) {
    const refs: string[] = [];
    for (const stream of streams) {
      const r = stream[i];
      if (r !== null && r !== undefined) refs.push(preprocess(r, o));
    }
    const stats = segmentStats(preprocess(hypotheses[i], o), referenceInfo(refs, o), o);
    for (let j = 0; j < sums.length; j++) sums[j] += stats[j];
  }
  const m = o.maxOrder;
  return computeFromStats(sums.slice(2, 2 + m), sums.slice(2 + m), sums[0], sums[1], o);
}

/**
 * Corpus BLEU (0–100), matching `sacrebleu.corpus_bleu`.
 *
 * @param hypotheses one system output per segment (detokenized text)
 * @param references `string[]` for one reference per segment, or reference
 *   streams `refs[k][i]` (sacreBLEU's layout) for several
 */
export function corpusBleu(
  hypotheses: ReadonlyArray<string>,
  references: CorpusReferences,
  options?: BleuOptions,
): BleuResult {
  const o = resolve(options, false);
  const streams = toReferenceStreams(hypotheses.length, references, 'corpusBleu');
  return corpusStats(hypotheses, streams, o);
}

/**
 * Sentence BLEU (0–100), matching `sacrebleu.sentence_bleu`: 'exp' smoothing
 * and effective order by default.
 *
 * @param references one reference or several for this hypothesis
 */
export function sentenceBleu(
  hypothesis: string,
  references: string | ReadonlyArray<string>,
  options?: BleuOptions,
): BleuResult {
  const o = resolve(options, true);
  const refs = typeof references === 'string' ? [references] : references;
  if (refs.length === 0) throw new ConfigError('sentenceBleu: no references given');
  return corpusStats([hypothesis], refs.map((r) => [r]), o);
}
