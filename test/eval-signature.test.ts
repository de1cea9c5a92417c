import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  bleuSignature, chrfSignature, chrfName, referenceCount, scoreCorpus,
  SACREBLEU_VERSION, SIGNATURE_VERSION,
} from '../src/eval/index.js';
import { S2S_VERSION } from '../src/bundle/format.js';

const V = SIGNATURE_VERSION;
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/sacrebleu.json', import.meta.url), 'utf8')) as { sacrebleu: string };

test('the signature version names this s2s release and the sacreBLEU release the fixtures come from', () => {
  assert.equal(S2S_VERSION, pkg.version, 'S2S_VERSION must follow package.json');
  assert.equal(SACREBLEU_VERSION, fixtures.sacrebleu, 'SACREBLEU_VERSION must be the release test/fixtures/sacrebleu.json was generated with');
  assert.equal(V, `s2s-${pkg.version}+sacrebleu-${fixtures.sacrebleu}`);
});

test('BLEU signatures spell the options as sacreBLEU 2.x does, fields in its order', () => {
  assert.equal(bleuSignature(), `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:${V}`);
  assert.equal(bleuSignature({ lowercase: true, tokenize: 'none', smoothMethod: 'none' }, 4),
    `nrefs:4|case:lc|eff:no|tok:none|smooth:none|version:${V}`);
  assert.equal(bleuSignature({ smoothMethod: 'floor' }), `nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:${V}`);
  assert.equal(bleuSignature({ smoothMethod: 'add-k', smoothValue: 2 }, 'var'), `nrefs:var|case:mixed|eff:no|tok:13a|smooth:add-k[2.00]|version:${V}`);
  assert.equal(bleuSignature({ effectiveOrder: true }), `nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:${V}`);
  // Sentence BLEU turns effective order on by default.
  assert.equal(bleuSignature({}, 1, true), `nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:${V}`);
});

test('chrF signatures and names (β is in the name, not a field)', () => {
  assert.equal(chrfSignature(), `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:${V}`);
  assert.equal(chrfSignature({ wordOrder: 2, epsSmoothing: true, lowercase: true, whitespace: true, charOrder: 4 }, 2),
    `nrefs:2|case:lc|eff:no|nc:4|nw:2|space:yes|version:${V}`);
  assert.equal(chrfName(), 'chrF2');
  assert.equal(chrfName({ wordOrder: 2 }), 'chrF2++');
  assert.equal(chrfName({ beta: 1 }), 'chrF1');
});

test('referenceCount: 1 for a string list, the count for full streams, var when segments differ', () => {
  assert.equal(referenceCount(['a', 'b']), 1);
  assert.equal(referenceCount([['a', 'b'], ['c', 'd']]), 2);
  assert.equal(referenceCount([['a', 'b'], ['c', null]]), 'var');
  assert.equal(referenceCount([['a', 'b'], [null, null]]), 1);
});

test('scoreCorpus carries the signature of the options it scored with', () => {
  const s = scoreCorpus(['the cat sat on the mat', 'a dog ran far away'], [['the cat sat on the mat', 'a dog ran far away'], ['the cat sits', null]], { bleu: { lowercase: true }, chrf: { wordOrder: 2 } });
  assert.equal(s.sentences, 2);
  assert.equal(s.references, 3);
  assert.equal(s.nrefs, 'var');
  assert.equal(s.bleu.signature, `nrefs:var|case:lc|eff:no|tok:13a|smooth:exp|version:${V}`);
  assert.equal(s.chrf.name, 'chrF2++');
  assert.equal(s.chrf.signature, `nrefs:var|case:mixed|eff:yes|nc:6|nw:2|space:no|version:${V}`);
  assert.equal(s.exactMatch, 1);
  assert.ok(Math.abs(s.bleu.score - 100) < 1e-9);
});
