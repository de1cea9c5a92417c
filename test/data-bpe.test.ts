import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer, CONTINUATION, END_OF_WORD, learnBpe, learnBpeFromCounts } from '../src/data/bpe.js';
import { WordTokenizer } from '../src/data/word.js';
import { tokenizerFromJSON } from '../src/data/tokenizer-factory.js';
import { compareCodePoints } from '../src/data/vocab.js';
import { readPairsSync } from '../src/data/corpus.js';
import { splitBySource } from '../src/data/split.js';
import { generateCorpus } from '../src/data/synthetic.js';
import { Rng } from '../src/engine/rng.js';
import { UNK_ID } from '../src/data/vocab.js';
import { prepareData } from '../src/train/prepare.js';
import { BUILTIN_CORPUS, readSplit } from '../src/data/read-split.js';
import { getPreset } from '../src/train/options.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fraPath = join(repoRoot, '..', 'shared', 'data', 'fra-eng', 'fra.txt');

/** The toy corpus of Sennrich et al.: low ×5, lower ×2, newest ×6, widest ×3. */
const TOY = [
  ...Array<string>(5).fill('low'),
  ...Array<string>(2).fill('lower'),
  ...Array<string>(6).fill('newest'),
  ...Array<string>(3).fill('widest'),
];
const toyText = [TOY.join(' ')];

test('toy corpus: merges by hand', () => {
  // Initial counts: (e,s)=9, (s,t</w>)=9, (w,e)=8, (l,o)=7, (n,e)=(e,w)=6, (o,w</w>)=5, (i,d)=(w,i)=(d,e)=3, ...
  // 1. (e,s) 9 — ties with (s,t</w>) 9, "e" < "s".   2. (es,t</w>) 9.   3. (l,o) 7.
  // 4. (e,w) 6 — ties with (n,e) and (w,est</w>) 6, "e" < "n" < "w".   5. (ew,est</w>) 6, "ew" < "n".
  // 6. (n,ewest</w>) 6.   7. (lo,w</w>) 5.   8. (d,est</w>) 3 — ties with (i,d) and (w,i), "d" < "i" < "w".
  const { merges } = learnBpe(toyText, { merges: 8 });
  assert.deepEqual(merges, [
    ['e', 's'],
    ['es', 't</w>'],
    ['l', 'o'],
    ['e', 'w'],
    ['ew', 'est</w>'],
    ['n', 'ewest</w>'],
    ['lo', 'w</w>'],
    ['d', 'est</w>'],
  ]);
  // All pairs left occur 3 times or fewer; minFrequency stops learning.
  assert.equal(learnBpe(toyText, { merges: 100, minFrequency: 4 }).merges.length, 7);
  assert.equal(learnBpe(toyText, { merges: 0 }).merges.length, 0);
  // minFrequency 1 merges until every word is one symbol: 4 words, 19 characters → 15 merges at most.
  const all = learnBpe(toyText, { merges: 1000, minFrequency: 1 }).merges;
  const tok = new BpeTokenizer({ merges: all });
  for (const w of ['low', 'lower', 'newest', 'widest']) assert.deepEqual(tok.tokenize(w), [w]);
});

test('toy corpus: applying merges by rank', () => {
  const bpe = new BpeTokenizer(learnBpe(toyText, { merges: 7 }));
  // lowest: l o w e s t</w> → (e,s) → (es,t</w>) → (l,o); no merge joins "lo", "w" or "est</w>" further.
  assert.deepEqual(bpe.tokenize('lowest'), ['lo@@', 'w@@', 'est']);
  // newer: n e w e r</w> → (e,w) at the first "e w"; "ew e r" has no learned pair.
  assert.deepEqual(bpe.tokenize('newer'), ['n@@', 'ew@@', 'e@@', 'r']);
  assert.deepEqual(bpe.tokenize('newest low'), ['newest', 'low']);
  assert.deepEqual(bpe.tokenize('slow.'), ['s@@', 'low', '.']);
  assert.deepEqual(bpe.segmentWord('widest'), ['w', 'i', 'd', 'est']);
  assert.equal(bpe.detokenize(bpe.tokenize('lowest newer, slow.')), 'lowest newer, slow.');
});

/** Straightforward learner (recount every pair after every merge) with the same tie rule. */
function naiveLearn(wordFreq: Map<string, number>, count: number, minFrequency = 2): [string, string][] {
  const words = [...wordFreq].map(([w, f]) => {
    const syms = Array.from(w);
    syms[syms.length - 1] += END_OF_WORD;
    return { syms, f };
  });
  const merges: [string, string][] = [];
  while (merges.length < count) {
    const counts = new Map<string, { a: string; b: string; n: number }>();
    for (const { syms, f } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = JSON.stringify([syms[i], syms[i + 1]]);
        const e = counts.get(key) ?? { a: syms[i], b: syms[i + 1], n: 0 };
        e.n += f;
        counts.set(key, e);
      }
    }
    let best: { a: string; b: string; n: number } | undefined;
    for (const e of counts.values()) {
      if (
        !best ||
        e.n > best.n ||
        (e.n === best.n && (compareCodePoints(e.a, best.a) < 0 || (e.a === best.a && compareCodePoints(e.b, best.b) < 0)))
      ) {
        best = e;
      }
    }
    if (!best || best.n < minFrequency) break;
    merges.push([best.a, best.b]);
    for (const w of words) {
      const out: string[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === best.a && w.syms[i + 1] === best.b) {
          out.push(best.a + best.b);
          i++;
        } else {
          out.push(w.syms[i]);
        }
      }
      w.syms = out;
    }
  }
  return merges;
}

function wordCounts(texts: string[]): Map<string, number> {
  const words = new WordTokenizer();
  const m = new Map<string, number>();
  for (const t of texts) for (const w of words.tokenize(t)) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

test('incremental learning matches a from-scratch recount', () => {
  const pairs = generateCorpus({ size: 400, seed: 3 });
  for (const side of ['source', 'target'] as const) {
    const counts = wordCounts(pairs.map((p) => p[side]));
    assert.deepEqual(learnBpeFromCounts(counts, { merges: 300 }).merges, naiveLearn(counts, 300), side);
  }
  // Repeated letters exercise overlapping pairs ("a a a" merges as "aa a").
  const rng = new Rng(9);
  const texts = Array.from({ length: 300 }, () =>
    Array.from({ length: 1 + rng.int(4) }, () => Array.from({ length: 1 + rng.int(9) }, () => 'aab'[rng.int(3)]).join('')).join(' '),
  );
  const counts = wordCounts(texts);
  assert.deepEqual(learnBpeFromCounts(counts, { merges: 200, minFrequency: 1 }).merges, naiveLearn(counts, 200, 1));
});

test('learning is deterministic and independent of sentence order', () => {
  const texts = generateCorpus({ size: 300, seed: 5 }).map((p) => p.target);
  const a = learnBpe(texts, { merges: 150 });
  const b = learnBpe(texts, { merges: 150 });
  const shuffled = [...texts];
  new Rng(1).shuffle(shuffled);
  const c = learnBpe(shuffled, { merges: 150 });
  assert.equal(a.merges.length, 150);
  assert.deepEqual(a, b);
  assert.deepEqual(a, c);
  assert.throws(() => learnBpe(texts, { merges: -1 }), /merges/);
  assert.throws(() => learnBpe(texts, { merges: 10, minFrequency: 0 }), /minFrequency/);
});

test('round trips exactly, including unseen characters and odd spacing', () => {
  const training = [
    "J'aime l'été ! Qu'est-ce que c'est\u202F? Aujourd'hui, peut-être.",
    "I don't know. It's 3.5 km, 1,000 yen. « Bonjour », dit-il.",
  ];
  const bpe = new BpeTokenizer(learnBpe(training, { merges: 60, minFrequency: 1 }));
  const samples = [
    ...training,
    'Completely unseen wörds 😀 and ½ symbols!',
    '  spaces\u00A0\u202Fand\ttabs  ',
    '@@ a@@ b @@@ x@@y',
    '▁ ￭ ▁▁ x￭',
    "l'",
    '',
    ' ',
  ];
  for (const s of samples) {
    const tokens = bpe.tokenize(s);
    assert.equal(bpe.detokenize(tokens), s, JSON.stringify(s));
    for (const t of tokens) assert.ok(t !== '' && t !== CONTINUATION, JSON.stringify(tokens));
  }
  const rng = new Rng(4);
  const alphabet = ['a', 'é', 'l', "'", ' ', '\u202F', '!', '?', '.', '@', '@@', '▁', '￭', '😀', '-', '1', ',', '"', 'qu'];
  for (let trial = 0; trial < 3000; trial++) {
    let s = '';
    for (let i = rng.int(12); i > 0; i--) s += alphabet[rng.int(alphabet.length)];
    assert.equal(bpe.detokenize(bpe.tokenize(s)), s, JSON.stringify(s));
  }
  // A dangling continuation (e.g. from a model) still yields text.
  assert.equal(bpe.detokenize(['lo@@']), 'lo');
});

test('JSON round trip rebuilds the same tokenizer', () => {
  const texts = generateCorpus({ size: 200, seed: 2 }).map((p) => p.source);
  const bpe = new BpeTokenizer(learnBpe(texts, { merges: 80 }));
  const spec = bpe.toJSON();
  assert.equal(spec.level, 'bpe');
  assert.ok('merges' in spec && spec.merges.length === 80);
  const again = tokenizerFromJSON(JSON.parse(JSON.stringify(spec)));
  assert.ok(again instanceof BpeTokenizer);
  assert.deepEqual(again.toJSON(), spec);
  for (const t of texts.slice(0, 50)) assert.deepEqual(again.tokenize(t), bpe.tokenize(t));
  // Without a pretokenizer field the word pretokenizer is assumed.
  assert.ok(tokenizerFromJSON({ level: 'bpe', merges: [['a', 'b']] }) instanceof BpeTokenizer);
  assert.deepEqual(new BpeTokenizer({ merges: [] }).tokenize('ab'), ['a@@', 'b']);
});

test('invalid specs are rejected with the field named', () => {
  const bad: [unknown, RegExp][] = [
    [{ level: 'bpe' }, /spec\.merges: expected an array/],
    [{ level: 'bpe', merges: 'a b' }, /spec\.merges: expected an array/],
    [{ level: 'bpe', merges: [['a', 'b']], pretokenizer: 'space' }, /spec\.pretokenizer/],
    [{ level: 'bpe', merges: [['a']] }, /spec\.merges\[0\]: expected a \[left, right\] pair/],
    [{ level: 'bpe', merges: [['a', 'b'], 'ab'] }, /spec\.merges\[1\]: expected a \[left, right\] pair/],
    [{ level: 'bpe', merges: [[1, 'b']] }, /spec\.merges\[0\]\[0\]: expected a non-empty string/],
    [{ level: 'bpe', merges: [['a', '']] }, /spec\.merges\[0\]\[1\]: expected a non-empty string/],
    [{ level: 'bpe', merges: [['ab', 'c']] }, /spec\.merges\[0\]\[0\]: "ab" is neither a character nor the result of an earlier merge/],
    [{ level: 'bpe', merges: [['a', 'b'], ['c', 'bd</w>']] }, /spec\.merges\[1\]\[1\]/],
    [{ level: 'bpe', merges: [['a</w>', 'b']] }, /spec\.merges\[0\]\[0\]/],
    [{ level: 'bpe', merges: [['a', 'b'], ['a', 'b']] }, /spec\.merges\[1\]: duplicate merge/],
    [{ level: 'morse' }, /spec\.level/],
    [null, /tokenizer spec/],
  ];
  for (const [spec, message] of bad) assert.throws(() => tokenizerFromJSON(spec), message, JSON.stringify(spec));
  // Chained merges are valid.
  assert.ok(tokenizerFromJSON({ level: 'bpe', merges: [['a', 'b'], ['ab', 'c</w>'], ['x', 'abc</w>']] }));
});

test('fra.txt: learning speed and exact round trips', (t) => {
  if (!existsSync(fraPath)) {
    t.skip(`corpus not found at ${fraPath}`);
    return;
  }
  const { pairs } = readPairsSync(fraPath);
  const french = pairs.slice(0, 50_000).map((p) => p.target);
  let start = performance.now();
  const model = learnBpe(french, { merges: 8000 });
  const learnSeconds = (performance.now() - start) / 1000;
  t.diagnostic(`learned ${model.merges.length} merges on the French side of the first 50k pairs in ${learnSeconds.toFixed(2)} s`);
  assert.equal(model.merges.length, 8000);
  assert.ok(learnSeconds < 60, `learning took ${learnSeconds} s`);

  const { train } = splitBySource(pairs);
  for (const side of ['source', 'target'] as const) {
    start = performance.now();
    const bpe = new BpeTokenizer(learnBpe(train.map((p) => p[side]), { merges: 8000 }));
    const seconds = (performance.now() - start) / 1000;
    const vocab = new Set<string>();
    let pieces = 0;
    let exact = 0;
    for (const p of pairs) {
      const tokens = bpe.tokenize(p[side]);
      if (bpe.detokenize(tokens) === p[side]) exact++;
    }
    for (const p of train) {
      const tokens = bpe.tokenize(p[side]);
      pieces += tokens.length;
      for (const tok of tokens) vocab.add(tok);
    }
    t.diagnostic(
      `${side}: ${bpe.merges.length} merges learned on the training split (${train.length} pairs) in ${seconds.toFixed(2)} s; ` +
        `${vocab.size} piece types, ${(pieces / train.length).toFixed(2)} pieces per sentence; round trip ${exact}/${pairs.length} exact`,
    );
    assert.equal(exact, pairs.length); // the learning time is in the diagnostic above: speed is reported, not asserted
  }
});

test('prepareData: tokenizer level, BPE learned per side on the training split, resume with stored tokenizers', () => {
  const base = getPreset('demo').data;
  const char = prepareData(BUILTIN_CORPUS, { ...base, level: 'char' });
  assert.equal(char.tokenizers.source.level, 'char');
  const word = prepareData(BUILTIN_CORPUS, { ...base, level: 'word' });
  assert.ok(word.tokenizers.target instanceof WordTokenizer);
  assert.ok(word.vocabs.target.size > char.vocabs.target.size);

  const bpe = prepareData(BUILTIN_CORPUS, { ...base, level: 'bpe', bpeMerges: 300 });
  const src = bpe.tokenizers.source as BpeTokenizer;
  const tgt = bpe.tokenizers.target as BpeTokenizer;
  assert.ok(src instanceof BpeTokenizer && tgt instanceof BpeTokenizer);
  assert.deepEqual(src.toJSON(), new BpeTokenizer(learnBpe(readSplit(BUILTIN_CORPUS, { ...base, level: 'bpe', bpeMerges: 300 }).split.train.map((p) => p.source), { merges: 300 })).toJSON());
  assert.notDeepEqual(src.merges, tgt.merges);
  for (const p of bpe.heldOut.test) assert.equal(tgt.detokenize(tgt.tokenize(p.target)), p.target);
  // Every training piece is in the vocabulary.
  for (const ex of bpe.examples.train) assert.ok(!ex.tgt.includes(UNK_ID) && !ex.src.includes(UNK_ID));

  // Resume: stored vocabularies and tokenizer specs give identical examples.
  const specs = JSON.parse(JSON.stringify({ source: src.toJSON(), target: tgt.toJSON() }));
  const stored = { source: tokenizerFromJSON(specs.source), target: tokenizerFromJSON(specs.target) };
  const again = prepareData(BUILTIN_CORPUS, { ...base, level: 'bpe', bpeMerges: 300 }, bpe.vocabs, stored);
  assert.deepEqual(again.examples.train, bpe.examples.train);
  assert.throws(() => prepareData(BUILTIN_CORPUS, { ...base, level: 'word' }, bpe.vocabs, stored), /source tokenizer is bpe-level but data\.level is "word"/);
  assert.throws(() => prepareData(BUILTIN_CORPUS, { ...base, level: 'bpe', bpeMerges: -2 }), /data\.bpeMerges/);
  // Options saved before `level` existed mean characters.
  const legacy = { ...base } as Partial<typeof base>;
  delete legacy.level;
  delete legacy.bpeMerges;
  assert.equal(prepareData(BUILTIN_CORPUS, legacy as typeof base).tokenizers.source.level, 'char');
});

test('the word cache stays within its size bound on a stream of distinct long words, and never changes a segmentation', () => {
  // A client can send any words: each distinct one used to stay cached (up to 500,000 of them, ~6.9 KB per long CJK word).
  const text = 'lower lowest newer newest wider widest 低低低 新新 低新';
  const model = learnBpe(text, { merges: 12 });
  const cached = new BpeTokenizer(model);
  const uncached = new BpeTokenizer(model);
  const rng = new Rng(11);
  const alphabet = Array.from('lowenstidr低新高大小中');
  const word = (n: number): string => Array.from({ length: n }, () => alphabet[Math.floor(rng.next() * alphabet.length)]).join('');
  let largest = 0;
  const words = 40_000;
  for (let i = 0; i < words; i++) {
    const w = word(40) + String(i); // distinct, 40+ code points, beyond what the bound holds
    const got = cached.segmentWord(w);
    uncached.clearCache();
    if (i % 97 === 0) assert.deepEqual(got, uncached.segmentWord(w), `word ${i}`);
    largest = Math.max(largest, cached.cacheSize.units);
    assert.ok(cached.cacheSize.units <= BpeTokenizer.CACHE_MAX_UNITS, `cache holds ${cached.cacheSize.units} units after ${i + 1} words`);
    assert.ok(cached.cacheSize.entries <= BpeTokenizer.CACHE_MAX_ENTRIES);
  }
  assert.ok(largest > BpeTokenizer.CACHE_MAX_UNITS / 2, `the cache was used (${largest} units at most)`);
  // Words longer than MAX_CACHED_WORD code points are never cached.
  cached.clearCache();
  const long = word(BpeTokenizer.MAX_CACHED_WORD + 1);
  assert.deepEqual(cached.segmentWord(long), uncached.segmentWord(long));
  assert.equal(cached.cacheSize.entries, 0, 'a long word is not cached');
  const short = word(BpeTokenizer.MAX_CACHED_WORD);
  cached.segmentWord(short);
  assert.equal(cached.cacheSize.entries, 1, 'a word of MAX_CACHED_WORD code points is');
  // Whole sentences: the same tokens with and without the cache.
  const sentence = `${word(10)} ${long} ${word(5)}, ${short}.`;
  uncached.clearCache();
  assert.deepEqual(cached.tokenize(sentence), uncached.tokenize(sentence));
});
