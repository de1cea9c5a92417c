import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPairs } from '../src/data/corpus.js';
import { formatCorpusTsv, generateCorpus, writeCorpusTsv } from '../src/data/synthetic.js';

const corpus = generateCorpus();
const translations = new Map(corpus.map((p) => [p.source, p.target]));

test('generateCorpus is deterministic and seed-dependent', () => {
  assert.equal(corpus.length, 5000);
  assert.deepEqual(generateCorpus({ size: 5000, seed: 1 }), corpus);
  assert.notDeepEqual(generateCorpus({ size: 200, seed: 2 }), corpus.slice(0, 200));
  assert.equal(generateCorpus({ size: 0 }).length, 0);
});

test('pairs are distinct and each source has one translation', () => {
  assert.equal(new Set(corpus.map((p) => p.source + '\t' + p.target)).size, corpus.length);
  assert.equal(translations.size, corpus.length);
});

test('sentences are short and punctuated like fra.txt', () => {
  for (const { source, target } of corpus) {
    assert.ok(source.length <= 40, source);
    assert.match(source, /^[A-Z].*[.?!]$/);
    assert.match(target, /^[A-ZÀ-Ý].*(\S\.| \?| !)$/, target);
    assert.ok(!/[\t\n\u00a0\u202f]/.test(source + target));
    assert.equal(source.endsWith('?'), target.endsWith(' ?'), `${source} / ${target}`);
    assert.equal(source.endsWith('!'), target.endsWith(' !'), `${source} / ${target}`);
  }
  const mean = corpus.reduce((sum, p) => sum + p.source.length, 0) / corpus.length;
  assert.ok(mean > 15 && mean < 35, `mean source length ${mean}`);
});

test('French has no missed elisions or elided words before consonants', () => {
  for (const { target } of corpus) {
    assert.doesNotMatch(target, /\b(je|ne|le|la|de|que) [aeiouéèêœ]/i, target);
    assert.doesNotMatch(target, /\b(ma|ta|sa) [aeiouéœ]/i, target);
    assert.doesNotMatch(target, /\b(j|n|l|d|qu)' /, target);
  }
});

/** Generates a large corpus so that specific sentences can be looked up. */
const big = new Map(generateCorpus({ size: 30000, seed: 3 }).map((p) => [p.source, p.target]));

function expectIfPresent(source: string, target: string): boolean {
  const actual = big.get(source);
  if (actual === undefined) return false;
  assert.equal(actual, target, source);
  return true;
}

test('agreement spot checks', () => {
  const checks: [string, string][] = [
    ['She is happy.', 'Elle est heureuse.'],
    ['He is happy.', 'Il est heureux.'],
    ['The girls are tired.', 'Les filles sont fatiguées.'],
    ['My friends are ready.', 'Mes amis sont prêts.'],
    ["I'm not tired.", 'Je ne suis pas fatigué.'],
    ["She isn't old.", "Elle n'est pas vieille."],
    ['Is she happy?', "Est-ce qu'elle est heureuse ?"],
    ['I am hungry.', "J'ai faim."],
    ["We aren't hungry.", "Nous n'avons pas faim."],
    ['We eat apples.', 'Nous mangeons des pommes.'],
    ['They see the cat.', 'Ils voient le chat.'],
    ['I like cats.', "J'aime les chats."],
    ['She drinks water.', "Elle boit de l'eau."],
    ["I don't have a car.", "Je n'ai pas de voiture."],
    ['Do you like milk?', 'Est-ce que tu aimes le lait ?'],
    ['Open the door!', 'Ouvre la porte !'],
    ["Don't open the door!", "N'ouvre pas la porte !"],
  ];
  let found = 0;
  for (const [source, target] of checks) if (expectIfPresent(source, target)) found++;
  assert.ok(found >= checks.length / 2, `only ${found} of ${checks.length} spot-check sentences were generated`);
  assert.equal(big.get('She is happy.'), 'Elle est heureuse.');
});

test('noun phrase agreement across the corpus', () => {
  for (const [source, target] of big) {
    if (/\ba (white|red|black|green|blue) car\b/.test(source)) assert.match(target, /\b(une|de) voiture (blanche|rouge|noire|verte|bleue)\b/, source);
    if (/\ban old (bird|computer)\b/.test(source)) assert.match(target, /\b(un|de) vieil (oiseau|ordinateur)\b/, source);
    if (/\ban old (house|car|watch)\b/.test(source)) assert.match(target, /\b(une|de) vieille (maison|voiture|montre)\b/, source);
    if (/\bthe apple\b/.test(source)) assert.match(target, /\bla pomme\b/, source);
    if (/\bthe orange\b/.test(source)) assert.match(target, /\bl'orange\b/, source);
    if (/\bmy orange\b/.test(source)) assert.match(target, /\bmon orange\b/, source);
    if (/\bthis (egg|bird|computer)\b/.test(source)) assert.match(target, /\bcet (œuf|oiseau|ordinateur)\b/, source);
    if (/^I (have|eat|want|see) [a-z ]*(cats|dogs|books|cars)\.$/.test(source) && !/\b(the|my|your|his|her|these)\b/.test(source)) {
      assert.match(target, /\b(des|de) /, source);
    }
  }
});

test('writeCorpusTsv writes a file that readPairs reads back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-synth-'));
  try {
    const file = join(dir, 'demo.tsv');
    const pairs = corpus.slice(0, 50);
    await writeCorpusTsv(file, pairs);
    const read = await readPairs(file);
    assert.deepEqual(read.pairs.map(({ source, target }) => ({ source, target })), pairs);
    assert.throws(() => formatCorpusTsv([{ source: 'a\tb', target: 'c' }]), /tab or newline/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
