/**
 * chrF / chrF++ computed the way sacreBLEU 2.x does.
 *
 * Per segment, and per n-gram order, we count [hyp n-grams, ref n-grams,
 * matches] (character n-grams 1..charOrder with whitespace removed, then word
 * n-grams 1..wordOrder). With several references the one giving the best
 * segment F-score is kept. The corpus score sums these counts over all
 * segments and computes the F-score once from the sums.
 *
 * How orders are combined (sacreBLEU's two modes):
 * - default (`epsSmoothing: false`): precision and recall are each averaged
 *   over the orders where both hypothesis and reference have n-grams (the
 *   "effective order"), then F-beta is taken of the two averages;
 * - `epsSmoothing: true`: per-order F-beta scores (precision/recall replaced
 *   by 1e-16 when undefined) are averaged over all orders, as chrF++.py,
 *   Moses and NLTK do.
 *
 * Everything works on code points, as Python strings do.
 */
import { removeWhitespace, splitWhitespace } from './tokenizer13a.js';
import { toReferenceStreams, type CorpusReferences } from './bleu.js';
import { ConfigError } from '../errors.js';

/** Options of `corpusChrf` and `sentenceChrf` (sacreBLEU's chrF defaults; `wordOrder: 2` is chrF++). */
export interface ChrfOptions {
  /** Character n-gram order; default 6. */
  charOrder?: number;
  /** Word n-gram order; default 0 (chrF). 2 gives chrF++. */
  wordOrder?: number;
  /** Recall weight; default 2. */
  beta?: number;
  /** Lowercase hypotheses and references first. */
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams; default false, as sacreBLEU. */
  whitespace?: boolean;
  /** Average per-order F-scores with epsilon smoothing instead; default false. */
  epsSmoothing?: boolean;
}

/** A chrF score with its parameters and summed statistics. */
export interface ChrfResult {
  /** chrF on the 0–100 scale. */
  score: number;
  charOrder: number;
  wordOrder: number;
  beta: number;
  /** Summed statistics, a [hyp, ref, match] triple per order (char orders first). */
  stats: number[];
}

// string.punctuation, used by chrF++'s primitive word tokenization.
const PUNCTS = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
const EPS = 1e-16;

interface Resolved {
  charOrder: number;
  wordOrder: number;
  beta: number;
  lowercase: boolean;
  whitespace: boolean;
  epsSmoothing: boolean;
}

function resolve(options: ChrfOptions | undefined): Resolved {
  const o: Resolved = {
    charOrder: options?.charOrder ?? 6,
    wordOrder: options?.wordOrder ?? 0,
    beta: options?.beta ?? 2,
    lowercase: options?.lowercase ?? false,
    whitespace: options?.whitespace ?? false,
    epsSmoothing: options?.epsSmoothing ?? false,
  };
  if (!Number.isInteger(o.charOrder) || o.charOrder < 0) throw new ConfigError(`charOrder must be a non-negative integer`);
  if (!Number.isInteger(o.wordOrder) || o.wordOrder < 0) throw new ConfigError(`wordOrder must be a non-negative integer`);
  if (o.charOrder + o.wordOrder === 0) throw new ConfigError('chrF needs at least one n-gram order');
  return o;
}

function countStrings(items: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of items) m.set(s, (m.get(s) ?? 0) + 1);
  return m;
}

function charNgrams(line: string, n: number): Map<string, number> {
  const cps = Array.from(line);
  const grams: string[] = [];
  for (let i = 0; i + n <= cps.length; i++) grams.push(cps.slice(i, i + n).join(''));
  return countStrings(grams);
}

function wordNgrams(tokens: string[], n: number): Map<string, number> {
  const grams: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) grams.push(tokens.slice(i, i + n).join(' '));
  return countStrings(grams);
}

/** Splits one punctuation mark off the end (else the start) of each word; '(hi)' -> '(hi', ')' as sacreBLEU. */
function removePunctuation(sent: string): string[] {
  const out: string[] = [];
  for (const w of splitWhitespace(sent)) {
    const cps = Array.from(w);
    if (cps.length === 1) {
      out.push(w);
    } else if (PUNCTS.has(cps[cps.length - 1])) {
      out.push(cps.slice(0, -1).join(''), cps[cps.length - 1]);
    } else if (PUNCTS.has(cps[0])) {
      out.push(cps[0], cps.slice(1).join(''));
    } else {
      out.push(w);
    }
  }
  return out;
}

function allNgrams(sent: string, o: Resolved): Map<string, number>[] {
  const line = o.whitespace ? sent : removeWhitespace(sent);
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= o.charOrder; n++) out.push(charNgrams(line, n));
  if (o.wordOrder > 0) {
    const words = removePunctuation(sent);
    for (let n = 1; n <= o.wordOrder; n++) out.push(wordNgrams(words, n));
  }
  return out;
}

function matchStats(hyp: Map<string, number>, ref: Map<string, number>): [number, number, number] {
  let hypCount = 0;
  let match = 0;
  for (const [g, c] of hyp) {
    hypCount += c;
    const r = ref.get(g);
    if (r !== undefined) match += Math.min(c, r);
  }
  let refCount = 0;
  for (const c of ref.values()) refCount += c;
  // Hypothesis n-grams of an order the reference lacks entirely are not counted.
  return [ref.size > 0 ? hypCount : 0, refCount, match];
}

/** chrF (0–100) from [hyp, ref, match] triples, one per order. */
function fScore(stats: readonly number[], o: Resolved): number {
  const order = o.charOrder + o.wordOrder;
  const factor = o.beta ** 2;
  let score = 0;
  let effectiveOrder = 0;
  let avgPrec = 0;
  let avgRec = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = stats[3 * i];
    const nRef = stats[3 * i + 1];
    const nMatch = stats[3 * i + 2];
    const prec = nHyp > 0 ? nMatch / nHyp : EPS;
    const rec = nRef > 0 ? nMatch / nRef : EPS;
    const denom = factor * prec + rec;
    score += denom > 0 ? ((1 + factor) * prec * rec) / denom : EPS;
    if (nHyp > 0 && nRef > 0) {
      avgPrec += prec;
      avgRec += rec;
      effectiveOrder++;
    }
  }
  if (o.epsSmoothing) return (100 * score) / order;

  if (effectiveOrder === 0) {
    avgPrec = 0;
    avgRec = 0;
  } else {
    avgPrec /= effectiveOrder;
    avgRec /= effectiveOrder;
  }
  if (avgPrec + avgRec === 0) return 0;
  let f = (1 + factor) * avgPrec * avgRec;
  f /= factor * avgPrec + avgRec;
  return 100 * f;
}

function segmentStats(hyp: string, refs: string[], o: Resolved): number[] {
  const hypNgrams = allNgrams(hyp, o);
  let best: number[] = [];
  let bestF = -1;
  for (const ref of refs) {
    const refNgrams = allNgrams(ref, o);
    const stats: number[] = [];
    for (let i = 0; i < hypNgrams.length; i++) stats.push(...matchStats(hypNgrams[i], refNgrams[i]));
    const f = fScore(stats, o);
    if (f > bestF) {
      bestF = f;
      best = stats;
    }
  }
  return best;
}

function corpusStats(
  hypotheses: ReadonlyArray<string>,
  streams: ReadonlyArray<ReadonlyArray<string | null>>,
  o: Resolved,
): ChrfResult {
  const prep = (s: string): string => (o.lowercase ? s.toLowerCase() : s);
  const sums = new Array<number>(3 * (o.charOrder + o.wordOrder)).fill(0);
  for (let i = 0; i < hypotheses.length; i++) {
    const refs: string[] = [];
    for (const stream of streams) {
      const r = stream[i];
      if (r !== null && r !== undefined) refs.push(prep(r));
    }
    const stats = segmentStats(prep(hypotheses[i]), refs, o);
    // A segment with no reference at all contributes nothing.
    for (let j = 0; j < stats.length; j++) sums[j] += stats[j];
  }
  return { score: fScore(sums, o), charOrder: o.charOrder, wordOrder: o.wordOrder, beta: o.beta, stats: sums };
}

/**
 * Corpus chrF (0–100), matching `sacrebleu.corpus_chrf` / `CHRF().corpus_score`.
 *
 * @param references `string[]` for one reference per segment, or reference
 *   streams `refs[k][i]` (sacreBLEU's layout) for several
 */
export function corpusChrf(
  hypotheses: ReadonlyArray<string>,
  references: CorpusReferences,
  options?: ChrfOptions,
): ChrfResult {
  const o = resolve(options);
  const streams = toReferenceStreams(hypotheses.length, references, 'corpusChrf');
  return corpusStats(hypotheses, streams, o);
}

/** Sentence chrF (0–100) against one or several references, matching `sacrebleu.sentence_chrf`. */
export function sentenceChrf(
  hypothesis: string,
  references: string | ReadonlyArray<string>,
  options?: ChrfOptions,
): ChrfResult {
  const o = resolve(options);
  const refs = typeof references === 'string' ? [references] : references;
  if (refs.length === 0) throw new ConfigError('sentenceChrf: no references given');
  return corpusStats([hypothesis], refs.map((r) => [r]), o);
}
