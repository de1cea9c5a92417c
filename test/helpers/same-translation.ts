/**
 * "The same translation" across arithmetic paths: equal token sequences (and
 * n-best lists, in order), equal finished flags and unknown tokens, and float
 * values within a stated tolerance.
 *
 * Why not bit for bit: a sentence decoded alone and the same sentence in a
 * batch go through matrix products with a different number of rows, and a
 * BLAS library may sum them in a different order for each shape (OpenBLAS
 * picks its kernel by row count and by OPENBLAS_CORETYPE). The fallback GEMM
 * and the TypeScript kernels sum in yet other orders. Each float32 sum then
 * differs by a few units in the last place; nothing else may differ.
 * Bit-exact comparisons stay where s2s itself controls all the arithmetic:
 * the same kernel set on the same shapes (a bundle round trip, kill/resume).
 */
import assert from 'node:assert/strict';
import { assertClose } from './gradcheck.js';
import { noGrad } from '../../src/engine/index.js';
import { BOS_ID, EOS_ID } from '../../src/data/vocab.js';
import type { TranslationModel } from '../../src/model/model.js';
import type { Hypothesis } from '../../src/decode/greedy.js';
import type { ScoredHypothesis } from '../../src/decode/beam.js';
import type { Alternative, AttentionMap, Translation } from '../../src/decode/translator.js';

/**
 * A log-probability summed over a decoded sentence (float64 sum of float32
 * log-softmax values, up to ~60 steps). One float32 rounding is 2^-24 ≈ 6e-8
 * relative; the measured differences between paths are ~1e-7 absolute on
 * sentences of 20 steps (log-prob ≈ −65). 1e-4 leaves three orders of
 * magnitude of room and is still far below any real change (a different
 * token, a mask that lets padding in: ≥ 1e-2).
 */
export const LOG_PROB_ATOL = 1e-4;

/**
 * Elementwise float32 values that went through reordered sums: encoder and
 * decoder states, attention weights, losses. Measured differences are < 1e-6
 * relative; a real error (padding leaking into a state) is ≥ 1e-3.
 */
export const REORDERED_RTOL = 1e-4;
/** Absolute floor for REORDERED_RTOL, for values near zero (tanh states ~1e-3). */
export const REORDERED_ATOL = 1e-6;

/**
 * Two next-token log-probabilities this close are a tie: reordered sums
 * (measured ≤ 1e-6 on logits of magnitude ~5) may make either the argmax.
 * The untrained fixtures do have such near-ties (gaps down to 3e-7), so a
 * greedy output may legitimately diverge there, and only there.
 */
export const TIE_NATS = 1e-5;

/** Asserts |a − b| ≤ LOG_PROB_ATOL. */
export function assertSameLogProb(actual: number, expected: number, label: string): void {
  assert.ok(Math.abs(actual - expected) <= LOG_PROB_ATOL, `${label}: log-probability ${actual} vs ${expected} (|diff| ${Math.abs(actual - expected).toExponential(2)} > ${LOG_PROB_ATOL})`);
}

/** Asserts two float arrays agree within the reordered-sum tolerance. */
export function assertSameValues(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assertClose(actual, expected, label, REORDERED_RTOL, REORDERED_ATOL);
}

/** The model and the one source sentence two greedy outputs were decoded from. */
export interface TieJudge {
  model: TranslationModel;
  source: Int32Array;
}

/**
 * Where two greedy outputs of the same sentence first differ, the model
 * (run on the common prefix, alone) must give both chosen tokens (EOS for
 * an output that ended there) log-probabilities within TIE_NATS of each other
 * and of the best token: a near-tie that reordered sums may break either way.
 * Returns a description of the tie; fails for any real difference.
 */
export function assertGreedyTie(judge: TieJudge, actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): string {
  let k = 0;
  while (k < actual.length && k < expected.length && actual[k] === expected[k]) k++;
  assert.ok(k < actual.length || k < expected.length, `${label}: the outputs do not differ`);
  const chosenA = k < actual.length ? actual[k] : EOS_ID, chosenE = k < expected.length ? expected[k] : EOS_ID;
  const lp = noGrad(() => {
    const { model, source } = judge;
    let state = model.encode({ ids: source, lengths: Int32Array.of(source.length), maxLen: source.length });
    let logits: Float32Array = new Float32Array(0);
    for (let t = 0; t <= k; t++) {
      const r = model.decodeStep(Int32Array.of(t === 0 ? BOS_ID : expected[t - 1]), state);
      state = r.state;
      logits = r.logits.data;
    }
    let max = -Infinity;
    for (const x of logits) max = Math.max(max, x);
    let z = 0;
    for (const x of logits) z += Math.exp(x - max);
    return Array.from(logits, (x) => x - max - Math.log(z));
  });
  const best = Math.max(...lp);
  const gap = Math.abs(lp[chosenA] - lp[chosenE]), fromBest = best - Math.min(lp[chosenA], lp[chosenE]);
  assert.ok(gap <= TIE_NATS && fromBest <= TIE_NATS,
    `${label}: outputs differ at token ${k} (${chosenA} vs ${chosenE}), and that is no tie: log-probs ${lp[chosenA]} vs ${lp[chosenE]}, best ${best}`);
  return `tie at token ${k} (${chosenA} vs ${chosenE}, ${gap.toExponential(1)} nats apart)`;
}

/**
 * Greedy outputs of one sentence computed through different shapes: the
 * same hypothesis, or (with a judge) a divergence at a near-tie, reported.
 */
export function assertSameGreedy(actual: Hypothesis, expected: Hypothesis, label: string, judge?: TieJudge): void {
  const same = actual.ids.length === expected.ids.length && actual.ids.every((t, i) => t === expected.ids[i]);
  if (!same && judge) {
    console.log(`# ${label}: ${assertGreedyTie(judge, actual.ids, expected.ids, label)}; the rest is not compared`);
    return;
  }
  assertSameHypothesis(actual, expected, label);
}

/** Same tokens, same finished flag, log-probability (and score, when ranked) within tolerance. */
export function assertSameHypothesis(actual: Hypothesis | ScoredHypothesis, expected: Hypothesis | ScoredHypothesis, label: string): void {
  assert.deepEqual(Array.from(actual.ids), Array.from(expected.ids), `${label}: tokens`);
  assert.equal(actual.finished, expected.finished, `${label}: finished`);
  assertSameLogProb(actual.logProb, expected.logProb, label);
  const a = actual as Partial<ScoredHypothesis>, e = expected as Partial<ScoredHypothesis>;
  assert.equal(a.score === undefined, e.score === undefined, `${label}: both or neither ranked`);
  if (a.score !== undefined && e.score !== undefined) assertSameLogProb(a.score, e.score, `${label}: score`);
}

/**
 * Per sentence, the same n-best list in the same order. A rank may hold a
 * different hypothesis only when the two scores are a tie (within TIE_NATS,
 * both finished or both not): reordered sums may rank either first.
 */
export function assertSameHypothesisLists(actual: readonly (readonly ScoredHypothesis[])[], expected: readonly (readonly ScoredHypothesis[])[], label: string): void {
  assert.equal(actual.length, expected.length, `${label}: number of sentences`);
  const key = (h: ScoredHypothesis): string => Array.from(h.ids).join(' ');
  actual.forEach((list, s) => {
    const want = expected[s];
    assert.equal(list.length, want.length, `${label}: sentence ${s} n-best size`);
    list.forEach((h, k) => {
      const at = `${label}: sentence ${s} rank ${k}`;
      if (key(h) === key(want[k])) return assertSameHypothesis(h, want[k], at);
      assert.ok(h.finished === want[k].finished && Math.abs(h.score - want[k].score) <= TIE_NATS,
        `${at}: [${key(h)}] (score ${h.score}) instead of [${key(want[k])}] (score ${want[k].score}), and that is no tie`);
      console.log(`# ${at}: a tie ranked the other way (scores ${Math.abs(h.score - want[k].score).toExponential(1)} apart)`);
    });
  });
}

function assertSameAlternatives(actual: Alternative[] | undefined, expected: Alternative[] | undefined, label: string): void {
  assert.equal(actual === undefined, expected === undefined, `${label}: alternatives present in both or neither`);
  if (!actual || !expected) return;
  assert.deepEqual(actual.map((a) => [a.text, a.finished]), expected.map((a) => [a.text, a.finished]), `${label}: n-best texts`);
  actual.forEach((a, k) => {
    assertSameLogProb(a.logProb, expected[k].logProb, `${label}: alternative ${k}`);
    assertSameLogProb(a.score, expected[k].score, `${label}: alternative ${k} score`);
  });
}

function assertSameAttention(actual: AttentionMap | undefined, expected: AttentionMap | undefined, label: string): void {
  assert.equal(actual === undefined, expected === undefined, `${label}: attention present in both or neither`);
  if (!actual || !expected) return;
  assert.deepEqual(actual.sourceTokens, expected.sourceTokens, `${label}: attention source tokens`);
  assert.deepEqual(actual.outputTokens, expected.outputTokens, `${label}: attention output tokens`);
  assert.equal(actual.weights.length, expected.weights.length, `${label}: attention rows`);
  actual.weights.forEach((row, r) => assertSameValues(row, expected.weights[r], `${label}: attention row ${r}`));
}

/** For greedy translations: sentence i's judge, and the target ids of a translated text. */
export interface TranslationTieJudge {
  judge: (index: number) => TieJudge;
  targetIds: (text: string) => ArrayLike<number>;
}

/**
 * The same translations, sentence by sentence: every field equal, floats
 * within tolerance. With `ties` (greedy decoding only), a text may differ
 * where assertGreedyTie finds a near-tie; that sentence is then not compared further.
 */
export function assertSameTranslations(actual: readonly Translation[], expected: readonly Translation[], label: string, ties?: TranslationTieJudge): void {
  assert.equal(actual.length, expected.length, `${label}: number of translations`);
  actual.forEach((t, i) => {
    const e = expected[i], at = `${label}: sentence ${i}`;
    assert.equal(t.source, e.source, `${at}: source`);
    if (t.text !== e.text && ties) {
      console.log(`# ${at}: ${assertGreedyTie(ties.judge(i), ties.targetIds(t.text), ties.targetIds(e.text), at)}; the rest is not compared`);
      return;
    }
    assert.equal(t.text, e.text, `${at}: text`);
    assert.deepEqual(t.unknown, e.unknown, `${at}: unknown`);
    assert.equal(t.finished, e.finished, `${at}: finished`);
    assertSameLogProb(t.logProb, e.logProb, at);
    assertSameAlternatives(t.alternatives, e.alternatives, at);
    assertSameAttention(t.attention, e.attention, at);
    const known = new Set(['source', 'text', 'unknown', 'finished', 'logProb', 'alternatives', 'attention']);
    assert.deepEqual(Object.keys(t).filter((k) => !known.has(k)), Object.keys(e).filter((k) => !known.has(k)), `${at}: other fields`);
  });
}
