import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  corpusBleu,
  sentenceBleu,
  computeBleu,
  exactMatch,
  tokenize13a,
  splitWhitespace,
  type BleuOptions,
} from '../src/eval/index.js';

const close = (actual: number, expected: number, tol = 1e-9, msg?: string): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${msg ?? ''} expected ${expected}, got ${actual}`);
};

// ---------------------------------------------------------------- 13a tokenizer

test('tokenize13a: punctuation, numbers and dashes as mteval-v13a', () => {
  assert.equal(tokenize13a('Hello, world!'), 'Hello , world !');
  // Period/comma between digits stay; trailing period splits.
  assert.equal(tokenize13a('café, 1990-1995 well-known 3.14 1,000.'), 'café , 1990 - 1995 well-known 3.14 1,000 .');
  assert.equal(tokenize13a('It costs $5.'), 'It costs $ 5 .');
  assert.equal(tokenize13a("It's (x) {y} [z] a/b: c;"), "It's ( x ) { y } [ z ] a / b : c ;");
  // Apostrophes (ASCII ' is 0x27, outside the padded ranges) are not split.
  assert.equal(tokenize13a("l'an dernier"), "l'an dernier");
});

test('tokenize13a: <skipped>, hyphenated line breaks and HTML entities', () => {
  assert.equal(tokenize13a('hyphen-\nated <skipped>x'), 'hyphenated x');
  assert.equal(tokenize13a('two\nlines'), 'two lines');
  // Entities are unescaped once, in order: &amp;amp; -> &amp; (then & is padded).
  assert.equal(tokenize13a('&quot;hi&quot; &amp;amp; &lt;b&gt;'), '" hi " & amp ; < b >');
});

test('tokenize13a/splitWhitespace: Python whitespace, code points', () => {
  // U+0085 is whitespace to Python, U+FEFF is not (unlike JS \s).
  assert.equal(tokenize13a('a\u0085b\ufeffc'), 'a b\ufeffc');
  assert.deepEqual(splitWhitespace('  a\u00a0b\tc\u3000 '), ['a', 'b', 'c']);
  assert.deepEqual(splitWhitespace(''), []);
  assert.equal(tokenize13a('Merci 🙂!'), 'Merci 🙂 !');
  assert.equal(tokenize13a(''), '');
});

// ---------------------------------------------------------------- hand-computed BLEU

test('corpusBleu: perfect match is 100', () => {
  const r = corpusBleu(['the cat sat on the mat', 'Où est-il ?'], ['the cat sat on the mat', 'Où est-il ?']);
  close(r.score, 100);
  assert.deepEqual(r.precisions.map((p) => Math.round(p * 1e9) / 1e9), [100, 100, 100, 100]);
  assert.equal(r.bp, 1);
});

// hyp "the cat sat on the mat" vs ref "the cat is on the mat" (6 tokens each, BP = 1)
//   1-grams: hyp the×2 cat sat on mat (6); clipped matches the×2 cat on mat = 5  -> 5/6
//   2-grams: the_cat cat_sat sat_on on_the the_mat (5); matches the_cat on_the the_mat = 3 -> 3/5
//   3-grams: the_cat_sat cat_sat_on sat_on_the on_the_mat (4); matches on_the_mat = 1 -> 1/4
//   4-grams: the_cat_sat_on cat_sat_on_the sat_on_the_mat (3); matches 0 -> 0/3
const HYP = 'the cat sat on the mat';
const REF = 'the cat is on the mat';

test('corpusBleu: hand-computed counts and exp smoothing', () => {
  const r = corpusBleu([HYP], [REF]);
  assert.deepEqual(r.counts, [5, 3, 1, 0]);
  assert.deepEqual(r.totals, [6, 5, 4, 3]);
  assert.equal(r.sysLen, 6);
  assert.equal(r.refLen, 6);
  assert.equal(r.bp, 1);
  // exp: first zero-match order gets 1/(2·total) = 1/6.
  close(r.precisions[3], 100 / 6);
  // (5/6 · 3/5 · 1/4 · 1/6)^(1/4) = (1/48)^(1/4)
  close(r.score, 100 * (1 / 48) ** 0.25);
  close(r.score, 37.99178428257963);
});

test('corpusBleu: none, floor and add-k smoothing', () => {
  // none: a zero precision makes the geometric mean 0.
  close(corpusBleu([HYP], [REF], { smoothMethod: 'none' }).score, 0);
  // floor 0.1: p4 = 0.1/3 -> (5/6 · 3/5 · 1/4 · 0.1/3)^(1/4) = (1/240)^(1/4)
  close(corpusBleu([HYP], [REF], { smoothMethod: 'floor' }).score, 100 * (1 / 240) ** 0.25);
  // add-k 1 (orders ≥ 2 only): 5/6 · 4/6 · 2/5 · 1/4 = 1/18
  const addk = corpusBleu([HYP], [REF], { smoothMethod: 'add-k' });
  close(addk.score, 100 * (1 / 18) ** 0.25);
  assert.deepEqual(addk.counts, [5, 3, 1, 0], 'reported counts stay unsmoothed');
  // add-k 2: 5/6 · (3+2)/(5+2) · (1+2)/(4+2) · (0+2)/(3+2) = 5/42
  close(corpusBleu([HYP], [REF], { smoothMethod: 'add-k', smoothValue: 2 }).score, 100 * (5 / 6 * 5 / 7 * 3 / 6 * 2 / 5) ** 0.25);
});

test('corpusBleu: brevity penalty', () => {
  // hyp 5 tokens, ref 6: every n-gram matches (5/5, 4/4, 3/3, 2/2); BP = exp(1 - 6/5)
  const r = corpusBleu(['the cat sat on the'], ['the cat sat on the mat']);
  close(r.bp, Math.exp(-0.2));
  close(r.score, 100 * Math.exp(-0.2));
  // Longer hypothesis: no penalty. 6/7 · 5/6 · 4/5 · 3/4 = 3/7
  const long = corpusBleu(['the cat sat on the mat today'], ['the cat sat on the mat']);
  assert.equal(long.bp, 1);
  close(long.score, 100 * (3 / 7) ** 0.25);
});

test('corpusBleu: multiple references (streams) clip against the max count in any reference', () => {
  // refs "the cat is on the mat" / "a cat sat on a mat":
  //   1-grams 6/6 (sat from ref 2), 2-grams 5/5 (cat_sat, sat_on from ref 2),
  //   3-grams cat_sat_on + on_the_mat = 2/4, 4-grams 0/3 -> exp 1/6
  //   (1 · 1 · 1/2 · 1/6)^(1/4) = (1/12)^(1/4)
  const r = corpusBleu([HYP], [[REF], ['a cat sat on a mat']]);
  assert.deepEqual(r.counts, [6, 5, 2, 0]);
  close(r.score, 100 * (1 / 12) ** 0.25);
  // A null drops a reference for that segment only.
  const v = corpusBleu([HYP, 'a b'], [[REF, 'a b'], ['a cat sat on a mat', null]]);
  assert.deepEqual(v.counts, [6 + 2, 5 + 1, 2, 0]);
});

test('corpusBleu: closest reference length, shorter on ties', () => {
  const r = corpusBleu(['a b c d e'], [['a b c d'], ['a b c d e f']]);
  assert.equal(r.sysLen, 5);
  assert.equal(r.refLen, 4);
  assert.equal(r.bp, 1);
  assert.equal(corpusBleu(['a b c d e'], [['a b c'], ['a b c d e f g h']]).refLen, 3);
});

test('corpusBleu: statistics are summed over the corpus before precisions', () => {
  const a = corpusBleu([HYP], [REF]);
  const b = corpusBleu(['the cat sat on the'], ['the cat sat on the mat']);
  const both = corpusBleu([HYP, 'the cat sat on the'], [REF, 'the cat sat on the mat']);
  assert.deepEqual(both.counts, a.counts.map((c, i) => c + b.counts[i]));
  assert.deepEqual(both.totals, a.totals.map((c, i) => c + b.totals[i]));
  // 10/11 · 7/9 · 4/7 · 2/5, BP exp(1 - 12/11)
  close(both.score, 100 * Math.exp(1 - 12 / 11) * ((10 / 11) * (7 / 9) * (4 / 7) * (2 / 5)) ** 0.25);
});

test('corpusBleu: empty hypothesis and empty corpus', () => {
  const r = corpusBleu([''], ['the cat']);
  assert.equal(r.score, 0);
  assert.equal(r.sysLen, 0);
  assert.equal(r.refLen, 2);
  assert.equal(r.bp, 0);
  assert.deepEqual(r.counts, [0, 0, 0, 0]);
  const e = corpusBleu([], []);
  assert.equal(e.score, 0);
  assert.equal(e.sysLen, 0);
  // An empty hypothesis among others only costs length and matches.
  close(corpusBleu(['', HYP], ['x', HYP]).bp, Math.exp(1 - 7 / 6));
});

test('corpusBleu: tokenization, lowercase, argument checks', () => {
  // 13a splits the final period, so "mat." matches "mat ."
  close(corpusBleu(['the cat sat on the mat.'], ['the cat sat on the mat .']).score, 100);
  assert.ok(corpusBleu(['the cat sat on the mat.'], ['the cat sat on the mat .'], { tokenize: 'none' }).score < 100);
  close(corpusBleu(['THE CAT SAT DOWN'], ['the cat sat down'], { lowercase: true }).score, 100);
  assert.equal(corpusBleu(['THE CAT SAT DOWN'], ['the cat sat down']).score, 0);
  assert.throws(() => corpusBleu(['a', 'b'], ['a']), /reference stream 0 has 1 segments/);
  assert.throws(() => corpusBleu(['a'], ['a'], { smoothMethod: 'bogus' as never }), /unknown BLEU smoothing/);
});

test('sentenceBleu: effective order by default', () => {
  // "the cat" vs "the cat sat on the mat": 2/2, 1/1, no 3- or 4-grams.
  // Effective order 2: BP exp(1 - 6/2) · (1 · 1)^(1/2)
  close(sentenceBleu('the cat', 'the cat sat on the mat').score, 100 * Math.exp(-2));
  // Without effective order the missing orders zero it, as corpusBleu does.
  assert.equal(sentenceBleu('the cat', 'the cat sat on the mat', { effectiveOrder: false }).score, 0);
  assert.equal(corpusBleu(['the cat'], ['the cat sat on the mat']).score, 0);
  close(sentenceBleu(HYP, [REF, 'a cat sat on a mat']).score, 100 * (1 / 12) ** 0.25);
});

test('computeBleu: from sufficient statistics', () => {
  close(computeBleu([5, 3, 1, 0], [6, 5, 4, 3], 6, 6).score, 100 * (1 / 48) ** 0.25);
  assert.equal(computeBleu([0, 0, 0, 0], [3, 2, 1, 0], 3, 4).score, 0);
});

// ---------------------------------------------------------------- exact match

test('exactMatch: rate of identical outputs', () => {
  assert.equal(exactMatch(['a', 'b', 'c'], ['a', 'x', 'c']), 2 / 3);
  assert.equal(exactMatch(['a', 'b'], [['x', 'b'], ['a', null]]), 1);
  assert.equal(exactMatch(['a b '], ['a  b']), 0);
  assert.equal(exactMatch(['a b '], ['a  b'], { normalizeWhitespace: true }), 1);
  assert.equal(exactMatch(['Été'], ['été'], { ignoreCase: true }), 1);
  assert.equal(exactMatch([], []), 0);
});

// ---------------------------------------------------------------- sacreBLEU fixtures

interface Fixtures {
  sacrebleu: string;
  tokenize13a: { input: string; output: string }[];
  corpora: Record<string, { hyps: string[]; refs: (string | null)[][] }>;
  corpusBleu: { corpus: string; options: BleuOptions; expected: ExpectedBleu }[];
  sentenceBleu: { hyp: string; refs: string[]; options: BleuOptions; expected: ExpectedBleu }[];
}
interface ExpectedBleu {
  score: number;
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  counts?: number[];
  totals?: number[];
}

// Generated by scripts/sacrebleu_fixtures.py and committed, so no Python is needed here.
const fixtures = JSON.parse(
  readFileSync(new URL('../../test/fixtures/sacrebleu.json', import.meta.url), 'utf8'),
) as Fixtures;

function checkBleu(actual: ReturnType<typeof corpusBleu>, expected: ExpectedBleu, what: string): void {
  close(actual.score, expected.score, 1e-6, `${what} score`);
  close(actual.bp, expected.bp, 1e-9, `${what} bp`);
  assert.equal(actual.sysLen, expected.sysLen, `${what} sysLen`);
  assert.equal(actual.refLen, expected.refLen, `${what} refLen`);
  expected.precisions.forEach((p, i) => close(actual.precisions[i], p, 1e-9, `${what} p${i + 1}`));
  if (expected.counts) assert.deepEqual(actual.counts, expected.counts, `${what} counts`);
  if (expected.totals) assert.deepEqual(actual.totals, expected.totals, `${what} totals`);
}

test(`tokenize13a matches sacreBLEU ${fixtures.sacrebleu}`, () => {
  assert.ok(fixtures.tokenize13a.length >= 20);
  for (const { input, output } of fixtures.tokenize13a) assert.equal(tokenize13a(input), output, JSON.stringify(input));
});

test(`corpusBleu matches sacreBLEU ${fixtures.sacrebleu} to 1e-6`, () => {
  assert.ok(fixtures.corpusBleu.length > 0);
  for (const c of fixtures.corpusBleu) {
    const { hyps, refs } = fixtures.corpora[c.corpus];
    checkBleu(corpusBleu(hyps, refs, c.options), c.expected, `${c.corpus} ${JSON.stringify(c.options)}`);
  }
});

test(`sentenceBleu matches sacreBLEU ${fixtures.sacrebleu} to 1e-6`, () => {
  assert.ok(fixtures.sentenceBleu.length >= 20);
  for (const c of fixtures.sentenceBleu) {
    checkBleu(sentenceBleu(c.hyp, c.refs, c.options), c.expected, `${JSON.stringify(c.hyp)} ${JSON.stringify(c.options)}`);
  }
});
