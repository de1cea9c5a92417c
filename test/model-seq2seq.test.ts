import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, Rng, ops } from '../src/engine/index.js';
import { makeBatch, makeSourceBatch } from '../src/data/batching.js';
import { BOS_ID, EOS_ID, UNK_ID } from '../src/data/vocab.js';
import { greedyDecode, argmaxRows } from '../src/decode/greedy.js';
import { lengthOrder } from '../src/model/seq2seq.js';
import { Translator } from '../src/decode/translator.js';
import { Trainer } from '../src/train/trainer.js';
import { tinySetup } from './helpers/tiny.js';
import { assertSameGreedy, assertSameValues, REORDERED_ATOL, REORDERED_RTOL } from './helpers/same-translation.js';

const ARCHS = [
  { name: 'seed lstm', model: {} },
  { name: 'gru', model: { cell: 'gru' as const } },
  { name: 'stacked lstm with embeddings', model: { layers: 2, embeddingDim: 8 } },
  { name: 'bidirectional gru, 2 layers', model: { cell: 'gru' as const, layers: 2, bidirectional: true } },
  { name: 'dot attention', model: { attention: 'dot' as const } },
  { name: 'general attention, bidirectional lstm', model: { attention: 'general' as const, bidirectional: true, embeddingDim: 8 } },
  { name: 'additive attention, 2 layers gru', model: { attention: 'additive' as const, layers: 2, cell: 'gru' as const } },
];

for (const arch of ARCHS) {
  test(`${arch.name}: the one-step decoder reproduces the teacher-forced training model`, () => {
    const { model, examples } = tinySetup(6, arch.model);
    const batch = makeBatch(examples, [0, 1, 2, 3, 4, 5]);
    noGrad(() => {
      const enc = model.encode({ ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen });
      let state = enc;
      // Whole-sequence check: summed step-wise CE equals the training model's loss.
      let sum = 0, count = 0;
      for (let t = 0; t < batch.tgtMaxLen; t++) {
        const tokens = new Int32Array(batch.size);
        const targets = new Int32Array(batch.size);
        for (let b = 0; b < batch.size; b++) {
          tokens[b] = t < batch.tgtLengths[b] ? batch.tgtIn[b * batch.tgtMaxLen + t] : BOS_ID;
          targets[b] = t < batch.tgtLengths[b] ? batch.tgtOut[b * batch.tgtMaxLen + t] : -1;
        }
        const step = model.decodeStep(tokens, state);
        state = step.state;
        const n = targets.filter((x) => x >= 0).length;
        if (n) {
          sum += ops.softmaxCrossEntropy(step.logits, targets).item() * n;
          count += n;
        }
      }
      const trainingLoss = model.forward(batch).loss.item();
      assert.ok(Math.abs(sum / count - trainingLoss) < 1e-5, `step-wise ${sum / count} vs training ${trainingLoss}`);
      // And position by position, the inference models predict the training
      // model's argmax. The training model runs packed sequences (other row
      // counts), so a different token is allowed only at a near-tie of the two
      // logits, within the reordered-sum tolerance.
      const training = model.forward(batch);
      const V = training.logits.cols;
      const logitsOf = (row: number): Float32Array => training.logits.data.subarray(row * V, (row + 1) * V);
      const predicted = argmaxRows(training.logits).ids;
      const { order } = lengthOrder(batch.tgtLengths);
      let p = 0;
      state = enc;
      const perStep: Int32Array[] = [];
      for (let t = 0; t < batch.tgtMaxLen; t++) {
        const tokens = Int32Array.from({ length: batch.size }, (_, b) => (t < batch.tgtLengths[b] ? batch.tgtIn[b * batch.tgtMaxLen + t] : BOS_ID));
        const step = model.decodeStep(tokens, state);
        state = step.state;
        perStep.push(argmaxRows(step.logits).ids);
      }
      // Training logits are packed: step-major, rows in target-length order.
      for (let t = 0; t < batch.tgtMaxLen; t++) {
        for (const b of order) {
          if (t >= batch.tgtLengths[b]) continue;
          const want = predicted[p], got = perStep[t][b], l = logitsOf(p++);
          if (got !== want) {
            const gap = Math.abs(l[want] - l[got]), bound = REORDERED_ATOL + REORDERED_RTOL * Math.max(Math.abs(l[want]), Math.abs(l[got]));
            assert.ok(gap <= bound, `step ${t}, row ${b}: predicted ${got}, the training model ${want} (logit gap ${gap.toExponential(2)} > ${bound.toExponential(2)})`);
          }
        }
      }
      assert.equal(p, predicted.length);
    });
  });
}

// Alone, the sentence is a batch of one; among others, its rows go through
// products with more rows (which BLAS may sum in another order) and padded
// positions: the same tokens, and values within the reordered-sum tolerance.
for (const arch of ARCHS) test(`padding changes nothing (${arch.name}): a sentence translates the same alone or among longer ones`, () => {
  const { model, examples } = tinySetup(12, arch.model);
  const short = examples.reduce((a, b) => (a.src.length <= b.src.length ? a : b));
  const others = examples.filter((e) => e !== short).map((e) => e.src);
  const alone = makeSourceBatch([short.src]);
  const mixed = makeSourceBatch([...others, short.src]);
  assert.ok(mixed.srcMaxLen > alone.srcMaxLen, 'the others are longer: the sentence is padded');
  const a = greedyDecode(model, { ids: alone.srcIds, lengths: alone.srcLengths, maxLen: alone.srcMaxLen }, { maxLength: 20 });
  const m = greedyDecode(model, { ids: mixed.srcIds, lengths: mixed.srcLengths, maxLen: mixed.srcMaxLen }, { maxLength: 20 });
  const row = Array.from(mixed.order).indexOf(others.length);
  assertSameGreedy(m[row], a[0], 'greedy output', { model, source: short.src });
  // Encoder states too: every layer's h (and c), after the bidirectional
  // bridge, and with attention the memory of both directions' outputs.
  noGrad(() => {
    const sa = model.encode({ ids: alone.srcIds, lengths: alone.srcLengths, maxLen: alone.srcMaxLen });
    const sm = model.encode({ ids: mixed.srcIds, lengths: mixed.srcLengths, maxLen: mixed.srcMaxLen });
    const H = model.config.latentDim;
    const isLstm = (model.config.cell ?? 'lstm') === 'lstm';
    assert.equal(sm.layers.length, model.config.layers ?? 1);
    sm.layers.forEach((layer, l) => {
      assertSameValues(layer.h.data.subarray(row * H, (row + 1) * H), sa.layers[l].h.data, `layer ${l} h`);
      assert.equal(layer.c !== undefined, isLstm, `layer ${l}: a cell state exactly for LSTMs`);
      if (layer.c) assertSameValues(layer.c.data.subarray(row * H, (row + 1) * H), sa.layers[l].c!.data, `layer ${l} c`);
    });
    assert.equal(sm.memory !== undefined, (model.config.attention ?? 'none') !== 'none');
    if (sm.memory && sa.memory) {
      const len = short.src.length, S = sm.memory.srcLen, D = sm.memory.valueDim, K = sm.memory.keyDim;
      assert.equal(D, (model.config.bidirectional ? 2 : 1) * H, 'memory holds both directions');
      assert.deepEqual(Array.from(sm.memory.mask.subarray(row * S, (row + 1) * S)), Array.from({ length: S }, (_, t) => (t < len ? 1 : 0)));
      assertSameValues(sm.memory.values.data.subarray(row * S * D, row * S * D + len * D), sa.memory.values.data.subarray(0, len * D), 'memory values');
      assertSameValues(sm.memory.keys.data.subarray(row * S * K, row * S * K + len * K), sa.memory.keys.data.subarray(0, len * K), 'memory keys');
    }
  });
});

test('the padding tests\' tolerance is tight enough to tell two sentences\' encoder states apart', () => {
  const { model, examples } = tinySetup(12, { layers: 2, embeddingDim: 8 });
  noGrad(() => {
    const batch = makeSourceBatch(examples.slice(0, 2).map((e) => e.src));
    const st = model.encode({ ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen });
    const H = model.config.latentDim, h = st.layers[1].h.data;
    assert.throws(() => assertSameValues(h.subarray(0, H), h.subarray(H, 2 * H), 'two sentences'), /two sentences/);
  });
});

for (const arch of ARCHS) test(`the training loss ignores padding (${arch.name}): batch loss equals the token-weighted mean of single-sentence losses`, () => {
  const { model, examples } = tinySetup(5, arch.model);
  noGrad(() => {
    const all = model.forward(makeBatch(examples, [0, 1, 2, 3, 4]));
    let sum = 0, tokens = 0;
    for (let i = 0; i < 5; i++) {
      const r = model.forward(makeBatch(examples, [i]));
      sum += r.loss.item() * r.tokens;
      tokens += r.tokens;
    }
    assert.equal(all.tokens, tokens);
    assert.ok(Math.abs(all.loss.item() - sum / tokens) < 1e-5);
  });
});

test('a small model overfits a tiny corpus exactly (greedy translations equal the targets)', async () => {
  const setup = tinySetup(16, { latentDim: 64 }, 5);
  const trainer = new Trainer(setup.model, { train: setup.examples, validation: [] }, {
    epochs: 150, batchSize: 16, optimizer: 'adam', learningRate: 0.01, clipNorm: 5, seed: 1, checkpointEvery: 0,
  });
  await trainer.run();
  const translator = new Translator({
    model: setup.model, sourceVocab: setup.vocabs.source, targetVocab: setup.vocabs.target,
    sourceTokenizer: setup.tokenizers.source, targetTokenizer: setup.tokenizers.target, maxOutputLength: 60,
  });
  const out = translator.translate(setup.pairs.map((p) => p.source));
  const wrong = out.filter((o, i) => o.text !== setup.pairs[i].target);
  assert.equal(wrong.length, 0, `mistranslated: ${wrong.map((w) => `${w.source} → ${w.text}`).join('; ')}`);
  assert.ok(out.every((o) => o.finished));
});

test('dropout is active only in training and is seeded', () => {
  const { model, examples } = tinySetup(4, { layers: 2, embeddingDim: 8, dropout: 0.3 });
  const batch = makeBatch(examples, [0, 1, 2, 3]);
  noGrad(() => {
    const evalA = model.forward(batch).loss.item();
    const evalB = model.forward(batch).loss.item();
    assert.equal(evalA, evalB);
    const trA = model.forward(batch, { training: true, rng: new Rng(9) }).loss.item();
    const trB = model.forward(batch, { training: true, rng: new Rng(9) }).loss.item();
    assert.equal(trA, trB);
    assert.notEqual(trA, evalA);
  });
});

test('unknown characters become UNK and are reported, never an error', () => {
  const s = tinySetup(6);
  // A model that records the source ids it is given.
  const seen: Int32Array[] = [];
  const spy = Object.create(s.model) as typeof s.model;
  spy.encode = (src, opts) => {
    seen.push(src.ids.slice(0, src.lengths[0]));
    return s.model.encode(src, opts);
  };
  const translator = new Translator({
    model: spy, sourceVocab: s.vocabs.source, targetVocab: s.vocabs.target,
    sourceTokenizer: s.tokenizers.source, targetTokenizer: s.tokenizers.target, maxOutputLength: 10,
  });
  const space = s.vocabs.source.idOf(' ');
  assert.notEqual(space, UNK_ID, 'the space is a known character');
  const [r] = translator.translate(['Zß€ 🙂€']);
  assert.equal(seen.length, 1);
  assert.deepEqual(Array.from(seen[0]), [UNK_ID, UNK_ID, UNK_ID, space, UNK_ID, UNK_ID], 'every unknown character is fed as UNK, the known one as itself');
  assert.deepEqual(r.unknown, ['Z', 'ß', '€', '🙂'], 'each unknown reported once, in order');
  assert.ok(r.text.length <= 10);
  assert.equal(UNK_ID, 3);
  assert.equal(EOS_ID, 2);
});

test('attention weights come back with translations: one row per output token plus EOS, each a distribution over the source', () => {
  const s = tinySetup(6, { attention: 'general', bidirectional: true });
  const translator = new Translator({
    model: s.model, sourceVocab: s.vocabs.source, targetVocab: s.vocabs.target,
    sourceTokenizer: s.tokenizers.source, targetTokenizer: s.tokenizers.target, maxOutputLength: 12,
  });
  for (const beam of [1, 3]) {
    const out = translator.translate(s.pairs.map((p) => p.source), { attention: true, beam });
    out.forEach((t, i) => {
      const map = t.attention!;
      assert.equal(map.sourceTokens.length, Array.from(s.pairs[i].source).length);
      assert.equal(map.weights.length, map.outputTokens.length);
      assert.equal(map.outputTokens.filter((x) => !['<pad>', '\t', '</s>'].includes(x)).join(''), t.text);
      for (const row of map.weights) {
        assert.equal(row.length, map.sourceTokens.length);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5);
      }
    });
  }
  const none = tinySetup(3).model;
  const plain = new Translator({ ...translator.parts, model: none });
  assert.equal(plain.translate(['a'], { attention: true })[0].attention, undefined);
});
