import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusError, codePointLength, parsePairs, readPairs, readPairsSync } from '../src/data/corpus.js';

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

test('parses simple pairs with 1-based line numbers', () => {
  const { pairs, stats } = parsePairs('Go.\tVa !\nHi.\tSalut !\n', 'x.tsv');
  assert.deepEqual(pairs, [
    { source: 'Go.', target: 'Va !', line: 1 },
    { source: 'Hi.', target: 'Salut !', line: 2 },
  ]);
  assert.deepEqual(stats, { lines: 2, blank: 0, badLines: 0, tooLong: 0, kept: 2 });
});

test('strips a UTF-8 BOM from bytes and from strings', () => {
  const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...utf8('A.\tB.\n')]);
  assert.equal(parsePairs(bytes, 'bom.tsv').pairs[0].source, 'A.');
  assert.equal(parsePairs('\ufeffA.\tB.\n', 'bom.tsv').pairs[0].source, 'A.');
});

test('handles CRLF line endings and a missing final newline', () => {
  const { pairs } = parsePairs('A.\tB.\r\nC.\tD.', 'crlf.tsv');
  assert.deepEqual(
    pairs.map((p) => [p.source, p.target, p.line]),
    [['A.', 'B.', 1], ['C.', 'D.', 2]],
  );
});

test('ignores extra columns (Tatoeba attribution)', () => {
  const { pairs } = parsePairs('Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n', 'x.tsv');
  assert.deepEqual(pairs[0], { source: 'Go.', target: 'Va !', line: 1 });
});

test('skips blank and whitespace-only lines but keeps line numbers', () => {
  const { pairs, stats } = parsePairs('\nA.\tB.\n   \r\n\nC.\tD.\n', 'x.tsv');
  assert.deepEqual(pairs.map((p) => p.line), [2, 5]);
  assert.equal(stats.blank, 3);
  assert.equal(stats.lines, 5);
});

test('a line without a TAB is an error naming file and line', () => {
  const text = 'A.\tB.\n'.repeat(16) + 'no tab here\n';
  assert.throws(
    () => parsePairs(text, 'data/x.tsv'),
    (err: unknown) => {
      assert.ok(err instanceof CorpusError);
      assert.equal(err.message, 'data/x.tsv:17: no TAB between source and target');
      assert.equal(err.line, 17);
      assert.equal(err.file, 'data/x.tsv');
      return true;
    },
  );
});

test('an empty side after trimming is an error', () => {
  assert.throws(() => parsePairs('A.\tB.\n  \tB.\n', 'e.tsv'), /^CorpusError: e\.tsv:2: empty source/);
  assert.throws(() => parsePairs('A.\t \u00a0\tattribution\n', 'e.tsv'), /e\.tsv:1: empty target/);
});

test('skipBadLines skips and counts malformed lines', () => {
  const { pairs, stats } = parsePairs('A.\tB.\nbroken\n\tB.\nC.\t\nD.\tE.\n', 'x.tsv', { skipBadLines: true });
  assert.deepEqual(pairs.map((p) => p.source), ['A.', 'D.']);
  assert.equal(stats.badLines, 3);
  assert.equal(stats.kept, 2);
});

test('invalid UTF-8 is an error naming the line, or skipped with skipBadLines', () => {
  const bytes = new Uint8Array([...utf8('A.\tB.\nC.\t'), 0xc3, 0x28, ...utf8('\nÉté.\tÉté.\n')]);
  assert.throws(() => parsePairs(bytes, 'bad.tsv'), /^CorpusError: bad\.tsv:2: invalid UTF-8/);
  const { pairs, stats } = parsePairs(bytes, 'bad.tsv', { skipBadLines: true });
  assert.deepEqual(pairs.map((p) => [p.source, p.line]), [['A.', 1], ['Été.', 3]]);
  assert.equal(stats.badLines, 1);
});

test('lone surrogates in string input are reported', () => {
  assert.throws(() => parsePairs('A.\tB\ud800.\n', 's.tsv'), /s\.tsv:1: invalid text/);
});

test('text is NFC-normalised', () => {
  const decomposed = 'e\u0301te\u0301';
  const { pairs } = parsePairs(`${decomposed}\t${decomposed}\n`, 'x.tsv');
  assert.equal(pairs[0].source, '\u00e9t\u00e9');
  assert.equal(pairs[0].target, '\u00e9t\u00e9');
});

test('French spaces are kept by default and folded with normalizeSpaces', () => {
  const line = 'Run!\tCours\u202f! Va\u00a0! Un\u2009: cou\u00adcou\u200b.\n';
  assert.equal(parsePairs(line, 'x.tsv').pairs[0].target, 'Cours\u202f! Va\u00a0! Un\u2009: cou\u00adcou\u200b.');
  assert.equal(parsePairs(line, 'x.tsv', { normalizeSpaces: true }).pairs[0].target, 'Cours ! Va ! Un : coucou.');
});

test('samples keeps the first N valid pairs and stops', () => {
  const { pairs, stats } = parsePairs('A.\tB.\n\nbad\nC.\tD.\nE.\tF.\n', 'x.tsv', { samples: 2, skipBadLines: true });
  assert.deepEqual(pairs.map((p) => p.source), ['A.', 'C.']);
  assert.equal(stats.lines, 4);
  assert.equal(stats.kept, 2);
  assert.equal(parsePairs('A.\tB.\nC.\tD.\n', 'x.tsv', { samples: 'all' }).pairs.length, 2);
  assert.equal(parsePairs('A.\tB.\n', 'x.tsv', { samples: 0 }).pairs.length, 0);
  assert.throws(() => parsePairs('A.\tB.\n', 'x.tsv', { samples: -1 }), RangeError);
});

test('too-long pairs are skipped and counted, measured in code points', () => {
  const text = 'abc\tde\nabcd\tde\nab\tdef\n😀😀😀\tx\n';
  const { pairs, stats } = parsePairs(text, 'x.tsv', { maxSourceLength: 3, maxTargetLength: 2 });
  assert.deepEqual(pairs.map((p) => p.source), ['abc', '😀😀😀']);
  assert.equal(stats.tooLong, 2);
  assert.equal(codePointLength('😀é'), 2);
});

test('readPairs and readPairsSync read a file and report its path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-corpus-'));
  try {
    const file = join(dir, 'pairs.tsv');
    writeFileSync(file, '\ufeffGo.\tVa !\r\nHi.\tSalut !\r\n');
    const fromAsync = await readPairs(file);
    assert.deepEqual(fromAsync.pairs.map((p) => p.target), ['Va !', 'Salut !']);
    assert.deepEqual(readPairsSync(file), fromAsync);
    writeFileSync(file, 'Go.\tVa !\nno tab\n');
    await assert.rejects(readPairs(file), (err: unknown) => err instanceof CorpusError && err.message === `${file}:2: no TAB between source and target`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
