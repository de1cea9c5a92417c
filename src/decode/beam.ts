/**
 * Batched beam search with the inference models (encode / decodeStep /
 * selectState). Every live beam of every live sentence goes through one
 * decodeStep call per step; sentences leave the batch as soon as they are
 * done, so they cost nothing afterwards. The decoder state is opaque: it is
 * only ever passed back to the model, or reordered with selectState.
 *
 * The search (the shrinking beam of dl4mt / Nematus):
 *   - A sentence starts with a single live beam (BOS), not K copies of it.
 *   - At each step the live beams of a sentence propose every next token;
 *     the best `K − finished` candidates by raw cumulative log-probability
 *     are kept. A kept candidate ending in EOS becomes a finished hypothesis;
 *     the others are the sentence's live beams for the next step. So live
 *     plus finished never exceeds K, and the beam narrows as hypotheses end.
 *   - Length normalisation (GNMT, Wu et al. 2016) only ranks the results:
 *     score(Y) = logP(Y) / lp(Y), lp(Y) = ((5 + |Y|) / 6)^α, where |Y|
 *     counts the output tokens plus the EOS of a finished hypothesis. Which
 *     beams stay live is decided on raw log-probabilities, as in GNMT.
 *   - A live beam that has `maxLength` tokens gets one last step, taken as
 *     in greedy decoding: it ends with EOS when EOS is its most likely next
 *     token, otherwise it is returned unfinished (`finished: false`, its
 *     log-probability and |Y| without the rejected token).
 *   - Results are ordered finished first, then by score (best first), ties
 *     in the order the hypotheses ended.
 *   - A sentence is done when it has no live beam, or (early stop) when it
 *     has at least nBest finished hypotheses and no live beam can reach the
 *     score of the nBest-th best: a live beam's log-probability only falls,
 *     so its best possible final score is logP / max(lp(n + 1), lp(maxLength
 *     + 1)) for n tokens so far. The early stop therefore never changes the
 *     returned n-best list; it only saves steps.
 *
 * With K = 1 this is greedy decoding exactly (same tokens, same log-prob,
 * same `finished`), whatever the length penalty: one candidate is kept per
 * step, the argmax, with the same first-index tie break.
 */
import { noGrad, type Tensor } from '../engine/index.js';
import type { IdBatch } from '../model/model.js';
import { BOS_ID, EOS_ID } from '../data/vocab.js';
import type { Hypothesis } from './greedy.js';
import { DECODE_DEFAULTS } from './options.js';

/** What beam search needs of a model (every TranslationModel has it); `S` is its decoder state, never looked into. */
export interface StepModel<S> {
  /** Source batch → decoder state with one row per sentence, in batch order. */
  encode(src: IdBatch): S;
  /** Previous token of each row → next-token logits [rows, V] and the new state. */
  decodeStep(tokens: Int32Array, state: S): { logits: Tensor; logProbs?: Tensor; state: S };
  /** The rows of `state` picked by `index` (rows may repeat). */
  selectState(state: S, index: Int32Array): S;
}

export interface BeamOptions {
  /** Beams per sentence (K). Default 5. */
  beamSize?: number;
  /** Longest output in tokens (EOS excluded). Default 100. */
  maxLength?: number;
  /** GNMT length-penalty exponent α; 0 ranks by raw log-probability. Default 0.6. */
  lengthPenalty?: number;
  /** Hypotheses returned per sentence, at most beamSize. Default 1. */
  nBest?: number;
  /**
   * Stop a sentence once no live beam can enter its n-best list (see the
   * module comment). Turning it off only costs time. Default true.
   */
  earlyStop?: boolean;
}

export interface ScoredHypothesis extends Hypothesis {
  /** logProb / lp(Y): the length-normalised score the n-best list is ranked by. */
  score: number;
}

export const DEFAULT_BEAM_SIZE = DECODE_DEFAULTS.beamSearchSize;
export const DEFAULT_LENGTH_PENALTY = DECODE_DEFAULTS.lengthPenalty;

/** GNMT length penalty ((5 + length) / 6)^alpha; `length` counts EOS for finished hypotheses. */
export function lengthPenalty(length: number, alpha: number): number {
  return alpha === 0 ? 1 : Math.pow((5 + length) / 6, alpha);
}

/** A token of a beam, linked to the token before it (shared prefixes are shared). */
interface Node {
  token: number;
  prev: Node | null;
}

interface Beam {
  last: Node | null;
  logProb: number;
}

interface Ended {
  last: Node | null;
  length: number;
  logProb: number;
  finished: boolean;
  score: number;
}

interface Sentence {
  /** Row of the sentence in the source batch. */
  index: number;
  /** Live beams, best raw log-probability first; their rows are contiguous in the decoder batch. */
  beams: Beam[];
  /** Ended hypotheses, in the order they ended. */
  ended: Ended[];
  finishedCount: number;
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

function tokensOf(last: Node | null, length: number): Int32Array {
  const ids = new Int32Array(length);
  for (let n = last, i = length - 1; n; n = n.prev, i--) ids[i] = n.token;
  return ids;
}

/** Finished before unfinished, then best score first, then the earlier one (stable sort). */
function byRank(a: Ended, b: Ended): number {
  if (a.finished !== b.finished) return a.finished ? -1 : 1;
  return a.score > b.score ? -1 : a.score < b.score ? 1 : 0;
}

/**
 * Per-row log-softmax normaliser: the row maximum and log Σ exp(x − max),
 * computed as greedy decoding does so that K = 1 reproduces it bit for bit.
 */
function rowNormalisers(logits: Tensor): { max: Float64Array; logSum: Float64Array } {
  const V = logits.cols, rows = logits.rows, d = logits.data;
  const max = new Float64Array(rows), logSum = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * V;
    let m = -Infinity;
    for (let j = 0; j < V; j++) if (d[base + j] > m) m = d[base + j];
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(d[base + j] - m);
    max[r] = m;
    logSum[r] = Math.log(sum);
  }
  return { max, logSum };
}

/**
 * The best `m` candidates over rows [row0, row0 + count) of the logits, a
 * candidate being (row, token) with score prev[row] + log-softmax. Partial
 * selection with a size-m min-heap: one pass over count × V values, no sort
 * of the whole set. Ties go to the smaller (row, token), i.e. the better
 * beam, then the smaller token id. Returns the flat indices (row − row0) × V
 * + token and scores, best first.
 */
export function topCandidates(
  logits: Tensor, row0: number, count: number, prev: ArrayLike<number>,
  max: Float64Array, logSum: Float64Array, m: number,
): { index: Int32Array; score: Float64Array } {
  const V = logits.cols, d = logits.data;
  const size = Math.min(m, count * V);
  const hs = new Float64Array(size), hi = new Int32Array(size);
  let n = 0;
  // Heap root = worst kept candidate: lowest score, then largest index.
  const worse = (a: number, b: number): boolean => hs[a] < hs[b] || (hs[a] === hs[b] && hi[a] > hi[b]);
  const swap = (a: number, b: number): void => {
    const s = hs[a]; hs[a] = hs[b]; hs[b] = s;
    const i = hi[a]; hi[a] = hi[b]; hi[b] = i;
  };
  const siftDown = (p: number): void => {
    for (;;) {
      const l = 2 * p + 1, r = l + 1;
      let w = p;
      if (l < n && worse(l, w)) w = l;
      if (r < n && worse(r, w)) w = r;
      if (w === p) return;
      swap(p, w);
      p = w;
    }
  };
  if (size > 0) {
    for (let k = 0; k < count; k++) {
      const r = row0 + k, base = r * V;
      const mx = max[r], ls = logSum[r], p = prev[k];
      for (let j = 0; j < V; j++) {
        const s = p + ((d[base + j] - mx) - ls);
        if (n < size) {
          hs[n] = s; hi[n] = k * V + j;
          for (let c = n++; c > 0;) {
            const parent = (c - 1) >> 1;
            if (!worse(c, parent)) break;
            swap(c, parent);
            c = parent;
          }
        } else if (s > hs[0]) {
          // Candidates come in increasing index order, so an equal score never wins.
          hs[0] = s; hi[0] = k * V + j;
          siftDown(0);
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (hs[a] !== hs[b] ? hs[b] - hs[a] : hi[a] - hi[b]));
  return { index: Int32Array.from(order, (i) => hi[i]), score: Float64Array.from(order, (i) => hs[i]) };
}

/**
 * Beam search over a batch of sources. Returns, per source row (in batch
 * order), up to nBest hypotheses best first (see the module comment for
 * the ordering); `logProb` is the raw sum of token log-probabilities (EOS
 * included when produced), `score` the length-normalised one.
 */
export function beamSearch<S>(model: StepModel<S>, src: IdBatch, options: BeamOptions = {}): ScoredHypothesis[][] {
  const K = options.beamSize ?? DEFAULT_BEAM_SIZE;
  const maxLength = options.maxLength ?? DECODE_DEFAULTS.maxLength;
  const alpha = options.lengthPenalty ?? DEFAULT_LENGTH_PENALTY;
  const nBest = options.nBest ?? 1;
  const earlyStop = options.earlyStop ?? true;
  checkInteger('beamSize', K, 1);
  checkInteger('maxLength', maxLength, 0);
  checkInteger('nBest', nBest, 1);
  if (nBest > K) throw new RangeError(`nBest (${nBest}) must not exceed beamSize (${K})`);
  if (!Number.isFinite(alpha)) throw new RangeError(`lengthPenalty must be a finite number, got ${alpha}`);

  return noGrad(() => {
    const B = src.lengths.length;
    const results: ScoredHypothesis[][] = new Array(B);
    let live: Sentence[] = Array.from({ length: B }, (_, index) => ({ index, beams: [{ last: null, logProb: 0 }], ended: [], finishedCount: 0 }));
    let state = model.encode(src);
    let tokens = new Int32Array(B).fill(BOS_ID);
    const end = (s: Sentence, last: Node | null, length: number, logProb: number, finished: boolean): void => {
      const size = finished ? length + 1 : length;
      s.ended.push({ last, length, logProb, finished, score: logProb / lengthPenalty(size, alpha) });
      if (finished) s.finishedCount++;
    };
    const finish = (s: Sentence): void => {
      results[s.index] = s.ended.slice().sort(byRank).slice(0, nBest).map((h) => ({
        ids: tokensOf(h.last, h.length), logProb: h.logProb, finished: h.finished, score: h.score,
      }));
    };
    // The best final score a live beam with `length` tokens and log-prob `logProb` could still reach.
    const bestReachable = (logProb: number, length: number): number =>
      logProb / Math.max(lengthPenalty(length + 1, alpha), lengthPenalty(maxLength + 1, alpha));

    for (let step = 0; live.length > 0; step++) {
      const r = model.decodeStep(tokens, state);
      const next = r.state;
      // Log-probabilities from the model rank as they are (normaliser 0), else the logits are normalised here.
      const logits = r.logProbs ?? r.logits;
      const { max, logSum } = r.logProbs ? { max: new Float64Array(logits.rows), logSum: new Float64Array(logits.rows) } : rowNormalisers(logits);
      const V = logits.cols, d = logits.data;
      const parents: number[] = [];
      const nextTokens: number[] = [];
      const stillLive: Sentence[] = [];
      let row0 = 0;
      for (const s of live) {
        const count = s.beams.length;
        if (step === maxLength) {
          // Last step: as greedy, a beam ends with EOS only if EOS is its argmax.
          s.beams.forEach((beam, k) => {
            const r = row0 + k, base = r * V;
            let best = 0;
            for (let j = 1; j < V; j++) if (d[base + j] > d[base + best]) best = j;
            if (best === EOS_ID) end(s, beam.last, step, beam.logProb + ((d[base + best] - max[r]) - logSum[r]), true);
            else end(s, beam.last, step, beam.logProb, false);
          });
          s.beams = [];
        } else {
          const prev = s.beams.map((b) => b.logProb);
          const cand = topCandidates(logits, row0, count, prev, max, logSum, K - s.finishedCount);
          const beams: Beam[] = [];
          for (let c = 0; c < cand.index.length; c++) {
            const k = Math.floor(cand.index[c] / V), token = cand.index[c] - k * V;
            const parent = s.beams[k];
            if (token === EOS_ID) {
              end(s, parent.last, step, cand.score[c], true);
            } else {
              beams.push({ last: { token, prev: parent.last }, logProb: cand.score[c] });
              parents.push(row0 + k);
              nextTokens.push(token);
            }
          }
          s.beams = beams;
        }
        row0 += count;
        let done = s.beams.length === 0;
        if (!done && earlyStop && s.finishedCount >= nBest) {
          const finished = s.ended.filter((h) => h.finished).sort(byRank);
          const bar = finished[nBest - 1].score;
          done = s.beams.every((b) => bestReachable(b.logProb, step + 1) <= bar);
          if (done) {
            // Its beams were the last rows queued for the next step: unqueue them.
            parents.length -= s.beams.length;
            nextTokens.length -= s.beams.length;
          }
        }
        if (done) finish(s);
        else stillLive.push(s);
      }
      live = stillLive;
      if (live.length === 0) break;
      const index = Int32Array.from(parents);
      const identity = index.length === logits.rows && index.every((v, i) => v === i);
      state = identity ? next : model.selectState(next, index);
      tokens = Int32Array.from(nextTokens);
    }
    return results;
  });
}
