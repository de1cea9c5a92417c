import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { corpusChrf, sentenceChrf, type ChrfOptions } from '../src/eval/index.js';

const close = (actual: number, expected: number, tol = 1e-9, msg?: string): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${msg ?? ''} expected ${expected}, got ${actual}`);
};

// ---------------------------------------------------------------- hand-computed chrF (beta 2)

test('corpusChrf: perfect match is 100, whitespace ignored', () => {
  close(corpusChrf(['Le chat dort.', 'ab'], ['Le chat dort.', 'ab']).score, 100);
  // Whitespace is removed before character n-grams: "a b" and "ab" both become "ab".
  close(corpusChrf(['a b'], ['ab']).score, 100);
  assert.ok(corpusChrf(['a b'], ['ab'], { whitespace: true }).score < 100);
});

// hyp "abc" vs ref "abd" ([hyp, ref, match] per order):
//   1: {a,b,c} vs {a,b,d} -> [3, 3, 2]  P = R = 2/3
//   2: {ab,bc} vs {ab,bd} -> [2, 2, 1]  P = R = 1/2
//   3: {abc}   vs {abd}   -> [1, 1, 0]  P = R = 0
//   4-6: no n-grams on either side -> not in the effective order
// avg P = avg R = (2/3 + 1/2 + 0) / 3 = 7/18, and F_beta(P, P) = P.
test('corpusChrf: averaged precision/recall over the effective order', () => {
  const r = corpusChrf(['abc'], ['abd']);
  assert.deepEqual(r.stats.slice(0, 9), [3, 3, 2, 2, 2, 1, 1, 1, 0]);
  assert.deepEqual(r.stats.slice(9), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  close(r.score, (100 * 7) / 18);
});

// hyp "ab" vs ref "abc":
//   1: [2, 3, 2]  P = 1, R = 2/3
//   2: [1, 2, 1]  P = 1, R = 1/2
//   3: [0, 1, 0]  no hypothesis 3-grams -> not effective
// avg P = 1, avg R = 7/12; F2 = 5·P·R / (4P + R) = (35/12) / (55/12) = 7/11
test('corpusChrf: recall weighted by beta = 2', () => {
  close(corpusChrf(['ab'], ['abc']).score, (100 * 7) / 11);
  // beta 1 gives the harmonic mean: 2·1·(7/12) / (1 + 7/12) = 14/19
  close(corpusChrf(['ab'], ['abc'], { beta: 1 }).score, (100 * 14) / 19);
});

// sacreBLEU counts no hypothesis n-grams for an order the reference lacks:
// hyp "abcd" vs ref "ab": 1: [4, 2, 2] P 1/2 R 1; 2: [3, 1, 1] P 1/3 R 1;
// 3: hyp has {abc, bcd} but ref has none -> [0, 0, 0].
// avg P = 5/12, avg R = 1; F2 = 5·(5/12) / (4·5/12 + 1) = 25/32
test('corpusChrf: orders missing from the reference are skipped', () => {
  const r = corpusChrf(['abcd'], ['ab']);
  assert.deepEqual(r.stats.slice(0, 9), [4, 2, 2, 3, 1, 1, 0, 0, 0]);
  close(r.score, (100 * 25) / 32);
});

// Corpus = summed statistics, not the mean of sentence scores.
//   seg 1 "abc"/"abd": [3,3,2] [2,2,1] [1,1,0]
//   seg 2 "ab"/"abc":  [2,3,2] [1,2,1] [0,1,0]
//   sum:               [5,6,4] [3,4,2] [1,2,0]
// avg P = (4/5 + 2/3 + 0)/3 = 22/45, avg R = (2/3 + 1/2 + 0)/3 = 7/18
// F2 = 5·(22/45)·(7/18) / (4·22/45 + 7/18) = (77/81) / (211/90) = 770/1899
test('corpusChrf: sums statistics over the corpus', () => {
  const r = corpusChrf(['abc', 'ab'], ['abd', 'abc']);
  assert.deepEqual(r.stats.slice(0, 9), [5, 6, 4, 3, 4, 2, 1, 2, 0]);
  close(r.score, 77000 / 1899);
  const meanOfSentences = (sentenceChrf('abc', 'abd').score + sentenceChrf('ab', 'abc').score) / 2;
  assert.ok(Math.abs(r.score - meanOfSentences) > 1);
});

// eps smoothing averages per-order F-scores over all 6 orders:
// "abc"/"abd": F = 2/3, 1/2, then 1e-16 for order 3 (P = R = 0) and for orders 4-6.
test('corpusChrf: eps smoothing', () => {
  close(corpusChrf(['abc'], ['abd'], { epsSmoothing: true }).score, (100 * (2 / 3 + 1 / 2)) / 6);
});

test('corpusChrf: chrF++ word n-grams and punctuation splitting', () => {
  // charOrder 1 + wordOrder 2, hyp "a b" vs ref "a c":
  //   chars {a,b} vs {a,c}: P = R = 1/2; words {a,b} vs {a,c}: 1/2; bigrams "a b" vs "a c": 0
  //   avg P = avg R = (1/2 + 1/2 + 0)/3 = 1/3
  close(corpusChrf(['a b'], ['a c'], { charOrder: 1, wordOrder: 2 }).score, 100 / 3);
  // A trailing mark is split from its word: "hi!" -> "hi" "!", which matches "hi !".
  close(corpusChrf(['hi!'], ['hi !'], { charOrder: 1, wordOrder: 1 }).score, 100);
  // Default chrF++ on identical text is 100.
  close(corpusChrf(['Bonjour, le monde !'], ['Bonjour, le monde !'], { wordOrder: 2 }).score, 100);
});

test('corpusChrf: multiple references keep the best-scoring one per segment', () => {
  close(corpusChrf(['abc'], [['xyz'], ['abc']]).score, 100);
  const r = corpusChrf(['abc', 'ab'], [['abd', 'zz'], [null, 'abc']]);
  close(r.score, 77000 / 1899);
  close(sentenceChrf('abc', ['xyz', 'abc']).score, 100);
});

test('corpusChrf: code points, not UTF-16 units', () => {
  // charOrder 1: {🙂, a} vs {🙂, b} -> P = R = 1/2 (surrogate halves would give 2/3).
  close(corpusChrf(['🙂a'], ['🙂b'], { charOrder: 1 }).score, 50);
  // Precomposed é is one character.
  close(corpusChrf(['é'], ['e'], { charOrder: 1 }).score, 0);
  close(corpusChrf(['ÉTÉ'], ['été'], { lowercase: true }).score, 100);
});

test('corpusChrf: empty hypothesis and empty corpus', () => {
  // No hypothesis n-grams at any order: the effective order is 0 and the score 0.
  const r = corpusChrf([''], ['abc']);
  assert.equal(r.score, 0);
  assert.deepEqual(r.stats.slice(0, 3), [0, 3, 0]);
  assert.equal(corpusChrf([], []).score, 0);
  assert.equal(corpusChrf([''], ['']).score, 0);
  assert.throws(() => corpusChrf(['a', 'b'], ['a']), /reference stream 0/);
});

// ---------------------------------------------------------------- sacreBLEU fixtures

interface Fixtures {
  sacrebleu: string;
  corpora: Record<string, { hyps: string[]; refs: (string | null)[][] }>;
  corpusChrf: { corpus: string; options: ChrfOptions; expected: { score: number } }[];
  sentenceChrf: { hyp: string; refs: string[]; options: ChrfOptions; expected: { score: number } }[];
}

// Generated by scripts/sacrebleu_fixtures.py and committed, so no Python is needed here.
const fixtures = JSON.parse(
  readFileSync(new URL('../../test/fixtures/sacrebleu.json', import.meta.url), 'utf8'),
) as Fixtures;

test(`corpusChrf matches sacreBLEU ${fixtures.sacrebleu} to 1e-6`, () => {
  assert.ok(fixtures.corpusChrf.length > 0);
  for (const c of fixtures.corpusChrf) {
    const { hyps, refs } = fixtures.corpora[c.corpus];
    close(corpusChrf(hyps, refs, c.options).score, c.expected.score, 1e-6, `${c.corpus} ${JSON.stringify(c.options)}`);
  }
});

test(`sentenceChrf matches sacreBLEU ${fixtures.sacrebleu} to 1e-6`, () => {
  assert.ok(fixtures.sentenceChrf.length >= 20);
  for (const c of fixtures.sentenceChrf) {
    const what = `${JSON.stringify(c.hyp)} ${JSON.stringify(c.options)}`;
    close(sentenceChrf(c.hyp, c.refs, c.options).score, c.expected.score, 1e-6, what);
  }
});
