import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  groupBySource, referenceStreams, scoreCorpus, corpusBleu, corpusChrf,
  alignHypotheses, hypothesisLines, LineCountError,
} from '../src/eval/index.js';

interface Fixtures {
  sacrebleu: string;
  corpora: Record<string, { hyps: string[]; refs: (string | null)[][] }>;
  corpusBleu: { corpus: string; options: Record<string, unknown>; expected: { score: number } }[];
  corpusChrf: { corpus: string; options: Record<string, unknown>; expected: { score: number } }[];
}
const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/sacrebleu.json', import.meta.url), 'utf8')) as Fixtures;

test('groupBySource keeps first-appearance order and every target, duplicates included', () => {
  const groups = groupBySource([
    { source: 'Go.', target: 'Va !' },
    { source: 'Hi.', target: 'Salut !' },
    { source: 'Go.', target: 'Marche.' },
    { source: 'Go.', target: 'Va !' },
    { source: 'Run!', target: 'Cours !' },
    { source: 'Hi.', target: 'Bonjour.' },
  ]);
  assert.deepEqual(groups, [
    { source: 'Go.', references: ['Va !', 'Marche.', 'Va !'], first: 0 },
    { source: 'Hi.', references: ['Salut !', 'Bonjour.'], first: 1 },
    { source: 'Run!', references: ['Cours !'], first: 4 },
  ]);
  assert.deepEqual(referenceStreams(groups.map((g) => g.references)), [
    ['Va !', 'Salut !', 'Cours !'],
    ['Marche.', 'Bonjour.', null],
    ['Va !', null, null],
  ]);
  assert.throws(() => referenceStreams([['a'], []]), /no reference/);
});

test(`multi-reference scores from grouped pairs equal sacreBLEU ${fixtures.sacrebleu} with two reference streams (missing ones allowed)`, () => {
  const { hyps, refs } = fixtures.corpora.multi;
  // The fixture corpus as a pair file would hold it: one line per (source, reference), second references later in the file.
  const pairs = [
    ...hyps.map((_, i) => ({ source: `source ${i}`, target: refs[0][i] as string })),
    ...hyps.flatMap((_, i) => (refs[1][i] === null ? [] : [{ source: `source ${i}`, target: refs[1][i] as string }])),
  ];
  const groups = groupBySource(pairs);
  assert.equal(groups.length, hyps.length);
  const streams = referenceStreams(groups.map((g) => g.references));
  const groupedHyps = groups.map((g) => hyps[Number(g.source.split(' ')[1])]);
  const bleuCase = fixtures.corpusBleu.find((c) => c.corpus === 'multi' && Object.keys(c.options).length === 0);
  const chrfCase = fixtures.corpusChrf.find((c) => c.corpus === 'multi' && Object.keys(c.options).length === 0);
  assert.ok(bleuCase && chrfCase);
  const s = scoreCorpus(groupedHyps, streams);
  assert.ok(Math.abs(s.bleu.score - bleuCase.expected.score) < 1e-6, `BLEU ${s.bleu.score} vs ${bleuCase.expected.score}`);
  assert.ok(Math.abs(s.chrf.score - chrfCase.expected.score) < 1e-6, `chrF ${s.chrf.score} vs ${chrfCase.expected.score}`);
  assert.equal(s.nrefs, 'var');
  assert.equal(s.sentences, hyps.length);
  assert.equal(s.references, pairs.length);
  assert.match(s.bleu.signature, /^nrefs:var\|/);
});

test('multi-reference BLEU on a hand-checkable example: each distinct source once, clipped against its best reference', () => {
  // Source A has references "the cat" and "a cat"; hypothesis "a cat" matches the second exactly.
  // Line by line: (a cat | the cat) and (a cat | a cat) and (the dog | the dog).
  const pairs = [
    { source: 'A', target: 'the cat' },
    { source: 'A', target: 'a cat' },
    { source: 'B', target: 'the dog' },
  ];
  const hypFor: Record<string, string> = { A: 'a cat', B: 'the dog' };
  const groups = groupBySource(pairs);
  const multi = scoreCorpus(groups.map((g) => hypFor[g.source]), referenceStreams(groups.map((g) => g.references)), { bleu: { maxNgramOrder: 2 } });
  // Multi-ref: every unigram and bigram of both hypotheses matches: BLEU-2 = 100.
  assert.ok(Math.abs(multi.bleu.score - 100) < 1e-9, String(multi.bleu.score));
  assert.equal(multi.sentences, 2);
  const single = corpusBleu(pairs.map((p) => hypFor[p.source]), pairs.map((p) => p.target), { maxNgramOrder: 2 });
  // Line by line: unigrams 5/6 (the first "a" misses), bigrams 2/3: sqrt(5/6 * 2/3) = sqrt(5/9).
  assert.ok(Math.abs(single.score - 100 * Math.sqrt(5 / 9)) < 1e-9, String(single.score));
  assert.ok(Math.abs(corpusChrf(['a cat'], [['the cat'], ['a cat']]).score - 100) < 1e-9);
});

test('hypothesis files: every line counts, counts must match, with clear errors naming both files', () => {
  assert.deepEqual(hypothesisLines('a\n\nb\r\n'), ['a', '', 'b']);
  assert.deepEqual(hypothesisLines('a\nb'), ['a', 'b']);
  assert.deepEqual(hypothesisLines(''), []);
  const names = { hypothesis: 'hyp.txt', data: 'test.tsv' };
  assert.deepEqual(alignHypotheses(['x', 'y'], 2, names), ['x', 'y']);
  assert.throws(() => alignHypotheses(['x'], 2, names), (e: unknown) =>
    e instanceof LineCountError && /hyp\.txt has 1 lines but test\.tsv has 2 sentence pairs/.test(e.message));
  const groups = groupBySource([{ source: 'A', target: '1' }, { source: 'B', target: '2' }, { source: 'A', target: '3' }]);
  // One line per pair: each source takes its first line's hypothesis; one per distinct source: as given.
  assert.deepEqual(alignHypotheses(['ha', 'hb', 'ha2'], 3, names, groups), ['ha', 'hb']);
  assert.deepEqual(alignHypotheses(['ha', 'hb'], 3, names, groups), ['ha', 'hb']);
  assert.throws(() => alignHypotheses(['h'], 3, names, groups), /3 \(one per sentence pair\) or 2 \(one per distinct source\)/);
});

test('evaluate() without a model: hypotheses against every line of a file, single and multi-reference, typed counts and signatures', async () => {
  const { evaluate } = await import('../src/eval/evaluate.js');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 's2s-evalref-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, 'A\tthe cat\nB\tthe dog\nA\ta cat\n');
  const single = evaluate({ data, hypotheses: ['a cat', 'the dog', 'a cat'], metrics: { bleu: { maxNgramOrder: 2 } } });
  assert.equal(single.split, 'all');
  assert.equal(single.sentences, 3);
  assert.equal(single.nrefs, 1);
  assert.equal(single.sentencesPerSecond, null);
  assert.deepEqual(single.segments.map((s) => s.line), [1, 2, 3]);
  const multi = evaluate({ data, hypotheses: ['a cat', 'the dog', 'ignored: not the first line of A'], multiRef: true, metrics: { bleu: { maxNgramOrder: 2 } } });
  assert.equal(multi.sentences, 2);
  assert.equal(multi.pairCount, 3);
  assert.equal(multi.nrefs, 'var');
  assert.deepEqual(multi.segments[0].references, ['the cat', 'a cat']);
  assert.ok(Math.abs(multi.bleu.score - 100) < 1e-9);
  assert.equal(multi.signatures.bleu, multi.bleu.signature);
  assert.match(multi.signatures.chrf, /^nrefs:var\|case:mixed\|eff:yes\|nc:6\|nw:0\|space:no\|version:/);
  assert.throws(() => evaluate({ data, hypotheses: ['x'], split: 'test' }), /split "test" needs the model bundle/);
  assert.throws(() => evaluate({ data: join(dir, 'none.tsv'), hypotheses: [] }), /none\.tsv: no such file/);
  rmSync(dir, { recursive: true });
});

test('evaluate() with a limit checks the hypothesis file against all pairs, then scores the first N', async () => {
  const { evaluate } = await import('../src/eval/evaluate.js');
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 's2s-evallimit-'));
  const data = join(dir, 'pairs.tsv');
  writeFileSync(data, 'A\tone\nB\ttwo\nC\tthree\n');
  const r = evaluate({ data, hypotheses: ['one', 'two', 'wrong'], limit: 2 });
  assert.equal(r.sentences, 2);
  assert.equal(r.exactMatch, 1);
  assert.throws(() => evaluate({ data, hypotheses: ['one', 'two'], limit: 2 }), /2 lines but .*pairs\.tsv has 3 sentence pairs/);
  rmSync(dir, { recursive: true });
});
