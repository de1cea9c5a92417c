import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { encodePairs, makeBatch, makeSourceBatch, planEpoch, PackedExamples, type Example } from '../src/data/batching.js';
import { CharTokenizer } from '../src/data/char.js';
import { BOS_ID, EOS_ID, PAD_ID, Vocab } from '../src/data/vocab.js';

function randomExamples(n: number, seed: number): Example[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    src: Int32Array.from({ length: 1 + rng.int(30) }, () => 4 + rng.int(50)),
    tgt: Int32Array.from({ length: 1 + rng.int(30) }, () => 4 + rng.int(50)),
    index: 1000 + i,
  }));
}

test('planEpoch is deterministic for a seed and differs across seeds', () => {
  const examples = randomExamples(1000, 1);
  const options = { batchSize: 16, poolFactor: 4 };
  const a = planEpoch(examples, options, new Rng(7));
  const b = planEpoch(examples, options, new Rng(7));
  const c = planEpoch(examples, options, new Rng(8));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('planEpoch is resumable from a saved rng state', () => {
  const examples = randomExamples(300, 2);
  const rng = new Rng(3);
  planEpoch(examples, { batchSize: 8 }, rng); // epoch 1
  const saved = rng.getState();
  const epoch2 = planEpoch(examples, { batchSize: 8 }, rng);
  const resumed = new Rng(0);
  resumed.setState(saved);
  assert.deepEqual(planEpoch(examples, { batchSize: 8 }, resumed), epoch2);
});

test('every example appears exactly once per epoch', () => {
  for (const [n, batchSize, poolFactor] of [[1000, 16, 4], [37, 5, 100], [1, 8, 1], [0, 8, 1]]) {
    const examples = randomExamples(n, n);
    const plan = planEpoch(examples, { batchSize, poolFactor }, new Rng(1));
    const seen = plan.flat().sort((x, y) => x - y);
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => i));
    for (const batch of plan) assert.ok(batch.length >= 1 && batch.length <= batchSize);
    assert.equal(plan.length, Math.ceil(n / batchSize));
  }
});

test('pooling groups similar source lengths into batches', () => {
  const examples = randomExamples(2000, 4);
  const padding = (plan: number[][]): number =>
    plan.reduce((sum, batch) => {
      const lengths = batch.map((i) => examples[i].src.length);
      return sum + batch.length * Math.max(...lengths) - lengths.reduce((x, y) => x + y, 0);
    }, 0);
  const pooled = planEpoch(examples, { batchSize: 20, poolFactor: 50 }, new Rng(1));
  const unpooled = planEpoch(examples, { batchSize: 20, poolFactor: 1 }, new Rng(1));
  assert.ok(padding(pooled) * 3 < padding(unpooled), `pooled ${padding(pooled)} vs ${padding(unpooled)}`);
  // Within a pool, batches come from a (src, tgt)-sorted run.
  for (const batch of pooled) {
    for (let k = 1; k < batch.length; k++) {
      const [p, q] = [examples[batch[k - 1]], examples[batch[k]]];
      assert.ok(p.src.length < q.src.length || (p.src.length === q.src.length && p.tgt.length <= q.tgt.length));
    }
  }
  assert.throws(() => planEpoch(examples, { batchSize: 0 }, new Rng(1)), RangeError);
});

test('makeBatch pads, adds BOS/EOS and sorts rows by source length', () => {
  const examples: Example[] = [
    { src: Int32Array.of(10, 11), tgt: Int32Array.of(20), index: 7 },
    { src: Int32Array.of(12, 13, 14, 15), tgt: Int32Array.of(21, 22, 23), index: 8 },
    { src: Int32Array.of(16, 17), tgt: Int32Array.of(24, 25), index: 9 },
    { src: Int32Array.of(18), tgt: Int32Array.of(26), index: 10 },
  ];
  const batch = makeBatch(examples, [0, 1, 2]);
  assert.equal(batch.size, 3);
  // Longest source first; equal lengths keep their given order (stable).
  assert.deepEqual([...batch.indices], [8, 7, 9]);
  assert.deepEqual([...batch.srcLengths], [4, 2, 2]);
  assert.equal(batch.srcMaxLen, 4);
  assert.deepEqual([...batch.srcIds], [12, 13, 14, 15, 10, 11, PAD_ID, PAD_ID, 16, 17, PAD_ID, PAD_ID]);
  assert.equal(batch.tgtMaxLen, 4);
  assert.deepEqual([...batch.tgtLengths], [4, 2, 3]);
  assert.deepEqual([...batch.tgtIn], [BOS_ID, 21, 22, 23, BOS_ID, 20, PAD_ID, PAD_ID, BOS_ID, 24, 25, PAD_ID]);
  assert.deepEqual([...batch.tgtOut], [21, 22, 23, EOS_ID, 20, EOS_ID, PAD_ID, PAD_ID, 24, 25, EOS_ID, PAD_ID]);
  assert.equal(batch.tokens, 9);
  assert.ok(batch.srcIds instanceof Int32Array && batch.tgtIn instanceof Int32Array && batch.indices instanceof Int32Array);
  assert.throws(() => makeBatch(examples, [4]), RangeError);
});

test('batches from a planned epoch are internally consistent', () => {
  const examples = randomExamples(500, 5);
  for (const indices of planEpoch(examples, { batchSize: 32, poolFactor: 3 }, new Rng(9))) {
    const b = makeBatch(examples, indices);
    for (let r = 0; r < b.size; r++) {
      if (r > 0) assert.ok(b.srcLengths[r - 1] >= b.srcLengths[r], 'rows sorted by source length desc');
      const e = examples[b.indices[r] - 1000];
      assert.equal(b.srcLengths[r], e.src.length);
      assert.deepEqual([...b.srcIds.subarray(r * b.srcMaxLen, r * b.srcMaxLen + e.src.length)], [...e.src]);
      assert.ok(b.srcIds.subarray(r * b.srcMaxLen + e.src.length, (r + 1) * b.srcMaxLen).every((x) => x === PAD_ID));
      const row = (a: Int32Array): number[] => [...a.subarray(r * b.tgtMaxLen, (r + 1) * b.tgtMaxLen)];
      const pad = Array(b.tgtMaxLen - e.tgt.length - 1).fill(PAD_ID);
      assert.deepEqual(row(b.tgtIn), [BOS_ID, ...e.tgt, ...pad]);
      assert.deepEqual(row(b.tgtOut), [...e.tgt, EOS_ID, ...pad]);
      assert.equal(b.tgtLengths[r], e.tgt.length + 1);
    }
  }
});

test('makeSourceBatch sorts by length and reports the permutation', () => {
  const srcList = [Int32Array.of(5), Int32Array.of(6, 7, 8), Int32Array.of(9, 10), Int32Array.of(11, 12, 13)];
  const b = makeSourceBatch(srcList);
  assert.deepEqual([...b.order], [1, 3, 2, 0]);
  assert.deepEqual([...b.srcLengths], [3, 3, 2, 1]);
  assert.equal(b.srcMaxLen, 3);
  assert.deepEqual([...b.srcIds], [6, 7, 8, 11, 12, 13, 9, 10, PAD_ID, 5, PAD_ID, PAD_ID]);
  // Putting rows back by `order` restores the input.
  const restored: number[][] = [];
  b.order.forEach((input, row) => {
    restored[input] = [...b.srcIds.subarray(row * b.srcMaxLen, row * b.srcMaxLen + b.srcLengths[row])];
  });
  assert.deepEqual(restored, srcList.map((s) => [...s]));
});

test('encodePairs tokenizes, encodes and reports unknown tokens', () => {
  const tok = new CharTokenizer();
  const pairs = [{ source: 'Hi.', target: 'Salut !' }, { source: 'Go!', target: 'Va !' }];
  const source = Vocab.build(pairs.slice(0, 1).map((p) => tok.tokenize(p.source)));
  const target = Vocab.build(pairs.map((p) => tok.tokenize(p.target)));
  const { examples, unknownSource, unknownTarget } = encodePairs(pairs, { source: tok, target: tok }, { source, target });
  assert.deepEqual(examples.map((e) => e.index), [0, 1]);
  assert.equal(tok.detokenize(target.decode(examples[1].tgt)), 'Va !');
  assert.deepEqual(unknownSource, ['G', 'o', '!']);
  assert.deepEqual(unknownTarget, []);
});

test('PackedExamples hold the same examples and give the same plans and batches as the array', () => {
  const examples = randomExamples(500, 9);
  examples.push({ src: new Int32Array(0), tgt: Int32Array.of(5), index: 7 }); // empty source
  const packed = new PackedExamples(examples);
  assert.equal(packed.length, examples.length);
  examples.forEach((e, i) => assert.deepEqual(packed.at(i), e));
  assert.deepEqual([...packed], examples);
  const plan = planEpoch(examples, { batchSize: 16, poolFactor: 4 }, new Rng(5));
  assert.deepEqual(planEpoch(packed, { batchSize: 16, poolFactor: 4 }, new Rng(5)), plan);
  for (const indices of plan) assert.deepEqual(makeBatch(packed, indices), makeBatch(examples, indices));
  assert.throws(() => packed.at(examples.length), /example position 501 out of range \[0, 501\)/);
  assert.throws(() => makeBatch(packed, [-1]), /example position -1 out of range/);
  assert.equal(new PackedExamples([]).length, 0);
});
