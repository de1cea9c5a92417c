import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readPairsSync, type SentencePair } from '../src/data/corpus.js';
import { evenlySpaced, fnv1a32, kerasSplit, splitBySource } from '../src/data/split.js';

// Compiled to dist/test/, so the repo root is two levels up.
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fraPath = join(repoRoot, '..', 'shared', 'data', 'fra-eng', 'fra.txt');

function makePairs(n: number, translationsPerSource = 1): SentencePair[] {
  const pairs: SentencePair[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < translationsPerSource; k++) {
      pairs.push({ source: `sentence ${i}`, target: `phrase ${i}/${k}`, line: pairs.length + 1 });
    }
  }
  return pairs;
}

function assertNoSourceOverlap<T extends { source: string }>(split: { train: T[]; validation: T[]; test: T[] }): void {
  const side = new Map<string, string>();
  for (const name of ['train', 'validation', 'test'] as const) {
    for (const p of split[name]) {
      const previous = side.get(p.source);
      assert.ok(previous === undefined || previous === name, `source ${JSON.stringify(p.source)} in ${previous} and ${name}`);
      side.set(p.source, name);
    }
  }
}

test('fnv1a32 matches reference values', () => {
  const enc = new TextEncoder();
  assert.equal(fnv1a32(enc.encode('')), 0x811c9dc5);
  assert.equal(fnv1a32(enc.encode('a')), 0xe40c292c);
  assert.equal(fnv1a32(enc.encode('foobar')), 0xbf9cf968);
});

test('splitBySource is deterministic, complete and order-preserving', () => {
  const pairs = makePairs(4000, 2);
  const a = splitBySource(pairs);
  const b = splitBySource([...pairs]);
  assert.deepEqual(a, b);
  assert.equal(a.train.length + a.validation.length + a.test.length, pairs.length);
  for (const part of [a.train, a.validation, a.test]) {
    for (let i = 1; i < part.length; i++) assert.ok(part[i - 1].line < part[i].line, 'file order kept');
  }
  // 4000 sources at 5%: expect ~200 each; allow generous sampling noise.
  const sources = (xs: SentencePair[]): number => new Set(xs.map((p) => p.source)).size;
  assert.ok(Math.abs(sources(a.validation) - 200) < 60, `validation sources ${sources(a.validation)}`);
  assert.ok(Math.abs(sources(a.test) - 200) < 60, `test sources ${sources(a.test)}`);
  assertNoSourceOverlap(a);
});

test('a source with several translations lands on one side', () => {
  const split = splitBySource(makePairs(2000, 3));
  assertNoSourceOverlap(split);
  for (const part of [split.train, split.validation, split.test]) assert.equal(part.length % 3, 0);
});

test('fractions and salt are configurable and validated', () => {
  const pairs = makePairs(2000);
  const all = splitBySource(pairs, { validation: 0, test: 0 });
  assert.equal(all.train.length, 2000);
  const half = splitBySource(pairs, { validation: 0.5, test: 0 });
  assert.ok(Math.abs(half.validation.length - 1000) < 120);
  assert.equal(half.test.length, 0);
  const salted = splitBySource(pairs, { salt: 'other' });
  assert.notDeepEqual(salted.validation, splitBySource(pairs).validation);
  assert.throws(() => splitBySource(pairs, { validation: 0.7, test: 0.4 }), RangeError);
  assert.throws(() => splitBySource(pairs, { test: -0.1 }), RangeError);
});

test('kerasSplit takes the last 20% as validation', () => {
  const pairs = makePairs(10);
  const split = kerasSplit(pairs);
  assert.deepEqual(split.train, pairs.slice(0, 8));
  assert.deepEqual(split.validation, pairs.slice(8));
  assert.deepEqual(split.test, []);
  // Keras floors the training share: 7 * 0.8 = 5.6 → 5 train, 2 validation.
  assert.equal(kerasSplit(makePairs(7)).train.length, 5);
  assert.equal(kerasSplit(makePairs(10), 0.5).validation.length, 5);
});

test('fra.txt: deterministic split without source overlap', (t) => {
  if (!existsSync(fraPath)) {
    t.skip(`fra.txt not found at ${fraPath} (expected ../shared/data/fra-eng/fra.txt from the repo root)`);
    return;
  }
  const { pairs, stats } = readPairsSync(fraPath);
  assert.ok(stats.kept > 100_000, `only ${stats.kept} pairs`);
  const a = splitBySource(pairs);
  const b = splitBySource(pairs);
  assert.deepEqual(a.validation.map((p) => p.line), b.validation.map((p) => p.line));
  assert.deepEqual(a.test.map((p) => p.line), b.test.map((p) => p.line));
  assert.equal(a.train.length + a.validation.length + a.test.length, pairs.length);
  assertNoSourceOverlap(a);
  const repeated = pairs.length - new Set(pairs.map((p) => p.source)).size;
  assert.ok(repeated > 0, 'fra.txt repeats sources, which this test relies on');
  for (const part of [a.validation, a.test]) {
    const share = part.length / pairs.length;
    assert.ok(share > 0.04 && share < 0.06, `share ${share}`);
  }
});

test('evenlySpaced samples across the whole list, in order', () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  assert.deepEqual(evenlySpaced(items, 5), [0, 2, 4, 6, 8]);
  assert.deepEqual(evenlySpaced(items, 3), [0, 3, 6]);
  assert.deepEqual(evenlySpaced(items, 10), items);
  assert.deepEqual(evenlySpaced(items, 50), items);
  assert.deepEqual(evenlySpaced(items, 0), []);
  assert.deepEqual(evenlySpaced([], 4), []);
});
