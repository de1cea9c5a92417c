import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CharTokenizer } from '../src/data/char.js';
import { tokenizerFromJSON } from '../src/data/tokenizer-factory.js';
import {
  BOS_ID,
  EOS_ID,
  PAD_ID,
  SPECIAL_TOKENS,
  UNK_ID,
  UNK_TOKEN,
  Vocab,
  compareCodePoints,
} from '../src/data/vocab.js';

const chars = new CharTokenizer();

test('CharTokenizer splits into code points and round-trips', () => {
  assert.deepEqual(chars.tokenize('Ça va ?'), ['Ç', 'a', ' ', 'v', 'a', ' ', '?']);
  // One token per emoji / astral character, not per UTF-16 unit.
  assert.deepEqual(chars.tokenize('a😀𝒳'), ['a', '😀', '𝒳']);
  assert.equal(chars.detokenize(chars.tokenize('Cours\u202f! 😀')), 'Cours\u202f! 😀');
  assert.equal(chars.level, 'char');
  assert.equal(tokenizerFromJSON(chars.toJSON()).level, 'char');
  assert.throws(() => tokenizerFromJSON({ level: 'bpe' }), /spec\.merges/);
  assert.throws(() => tokenizerFromJSON({ level: 'morse' }), /spec\.level/);
});

test('reserved ids are fixed', () => {
  assert.deepEqual([PAD_ID, BOS_ID, EOS_ID, UNK_ID], [0, 1, 2, 3]);
  assert.deepEqual(SPECIAL_TOKENS, ['<pad>', '\t', '\n', '<unk>']);
  const v = Vocab.build([]);
  assert.equal(v.size, 4);
  assert.equal(v.tokenOf(BOS_ID), '\t');
  assert.equal(v.tokenOf(EOS_ID), '\n');
});

test('build orders by frequency, then code point, deterministically', () => {
  const data = ['baba', 'cab', 'a😀\uffff'].map((s) => chars.tokenize(s));
  const v = Vocab.build(data);
  // a:4, b:3, then c, U+FFFF, 😀 (code-point order puts U+FFFF before U+1F600).
  assert.deepEqual(v.toJSON().tokens.slice(4), ['a', 'b', 'c', '\uffff', '😀']);
  assert.deepEqual(Vocab.build([...data].reverse()).toJSON(), v.toJSON());
  assert.ok(compareCodePoints('\uffff', '😀') < 0);
  assert.ok('\uffff' > '😀', 'UTF-16 order differs, which is why compareCodePoints exists');
});

test('minCount and maxSize limit the vocabulary', () => {
  const data = ['aaab', 'bc'].map((s) => chars.tokenize(s));
  assert.deepEqual(Vocab.build(data, { minCount: 2 }).toJSON().tokens.slice(4), ['a', 'b']);
  const capped = Vocab.build(data, { maxSize: 5 });
  assert.equal(capped.size, 5);
  assert.equal(capped.tokenOf(4), 'a');
  assert.throws(() => Vocab.build(data, { maxSize: 3 }), RangeError);
});

test('reserved strings in the data are not given their own ids', () => {
  const v = Vocab.build([['<pad>', 'x', '<unk>', '\t']]);
  assert.equal(v.size, 5);
  const { ids, unknown } = v.encode(['<unk>', 'x']);
  assert.deepEqual([...ids], [UNK_ID, 4]);
  assert.deepEqual(unknown, ['<unk>']);
});

test('encode maps unknown tokens to UNK and reports them; decode round-trips', () => {
  const v = Vocab.build(['hello world'].map((s) => chars.tokenize(s)));
  const { ids, unknown } = v.encode(chars.tokenize('hey, world!'));
  assert.ok(ids instanceof Int32Array);
  assert.equal(ids.length, 11);
  assert.deepEqual(unknown, ['y', ',', '!']);
  assert.equal(ids[2], UNK_ID);
  assert.equal(chars.detokenize(v.decode(ids)), `he${UNK_TOKEN}${UNK_TOKEN} world${UNK_TOKEN}`);

  const known = v.encode(chars.tokenize('hello'));
  assert.deepEqual(known.unknown, []);
  assert.equal(chars.detokenize(v.decode(known.ids)), 'hello');
});

test('decode skips PAD and BOS and stops at EOS', () => {
  const v = Vocab.fromTokens(['a', 'b']);
  assert.deepEqual(v.decode([BOS_ID, 4, PAD_ID, 5, EOS_ID, 4, 4]), ['a', 'b']);
  assert.deepEqual(v.decode(new Int32Array([EOS_ID, 4])), []);
  assert.throws(() => v.decode([99]), RangeError);
});

test('JSON round trip preserves ids', () => {
  const v = Vocab.build(['Va !', 'Salut !', 'Cours\u202f!'].map((s) => chars.tokenize(s)));
  const restored = Vocab.fromJSON(JSON.parse(JSON.stringify(v)));
  assert.deepEqual(restored.toJSON(), v.toJSON());
  assert.equal(restored.size, v.size);
  for (const token of v.toJSON().tokens.slice(4)) assert.equal(restored.idOf(token), v.idOf(token));
});

test('fromJSON rejects malformed objects with the field named', () => {
  const good = Vocab.fromTokens(['a', 'b']).toJSON();
  assert.throws(() => Vocab.fromJSON(null), /vocab: expected an object/);
  assert.throws(() => Vocab.fromJSON({ ...good, format: 'other' }), /vocab\.format/);
  assert.throws(() => Vocab.fromJSON({ ...good, version: 2 }), /vocab\.version/);
  assert.throws(() => Vocab.fromJSON({ ...good, tokens: 'abc' }), /vocab\.tokens: expected an array/);
  assert.throws(() => Vocab.fromJSON({ ...good, tokens: ['<pad>', '\t'] }), /vocab\.tokens: expected at least 4/);
  assert.throws(() => Vocab.fromJSON({ ...good, tokens: [...good.tokens, 7] }), /vocab\.tokens\[6\]: expected a string/);
  assert.throws(() => Vocab.fromJSON({ ...good, tokens: [...good.tokens, 'a'] }), /vocab\.tokens\[6\]: duplicate token "a"/);
  assert.throws(() => Vocab.fromJSON({ ...good, tokens: ['<pad>', '<s>', '\n', '<unk>'] }), /vocab\.tokens\[1\]: expected reserved token/);
  assert.throws(() => Vocab.fromJSON({ ...good, tokens: [...good.tokens, ''] }), /vocab\.tokens\[6\]: empty token/);
});
