import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad, Rng, ops } from '../src/engine/index.js';
import { makeBatch, makeSourceBatch } from '../src/data/batching.js';
import { BOS_ID, EOS_ID } from '../src/data/vocab.js';
import { greedyDecode, argmaxRows } from '../src/decode/greedy.js';
import { lengthOrder } from '../src/model/seq2seq.js';
import { Translator } from '../src/decode/translator.js';
import { Trainer } from '../src/train/trainer.js';
import { tinySetup } from './helpers/tiny.js';

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
      // And position by position, the inference models predict exactly the training model's argmax.
      const training = model.forward(batch);
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
          assert.equal(predicted[p++], perStep[t][b], `step ${t}, row ${b}`);
        }
      }
      assert.equal(p, predicted.length);
    });
  });
}

for (const arch of ARCHS) test(`padding changes nothing (${arch.name}): a sentence translates the same alone or among longer ones`, () => {
  const { model, examples } = tinySetup(12, arch.model);
  const short = examples.reduce((a, b) => (a.src.length <= b.src.length ? a : b));
  const others = examples.filter((e) => e !== short).map((e) => e.src);
  const alone = makeSourceBatch([short.src]);
  const mixed = makeSourceBatch([...others, short.src]);
  const a = greedyDecode(model, { ids: alone.srcIds, lengths: alone.srcLengths, maxLen: alone.srcMaxLen }, { maxLength: 20 });
  const m = greedyDecode(model, { ids: mixed.srcIds, lengths: mixed.srcLengths, maxLen: mixed.srcMaxLen }, { maxLength: 20 });
  const row = Array.from(mixed.order).indexOf(others.length);
  assert.deepEqual(Array.from(m[row].ids), Array.from(a[0].ids));
  assert.ok(Math.abs(m[row].logProb - a[0].logProb) < 1e-4);
  // Encoder states too, exactly.
  const sa = model.encode({ ids: alone.srcIds, lengths: alone.srcLengths, maxLen: alone.srcMaxLen });
  const sm = model.encode({ ids: mixed.srcIds, lengths: mixed.srcLengths, maxLen: mixed.srcMaxLen });
  const H = model.config.latentDim;
  assert.deepEqual(Array.from(sm.layers[0].h.data.subarray(row * H, (row + 1) * H)), Array.from(sa.layers[0].h.data));
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
  const translator = new Translator({
    model: s.model, sourceVocab: s.vocabs.source, targetVocab: s.vocabs.target,
    sourceTokenizer: s.tokenizers.source, targetTokenizer: s.tokenizers.target, maxOutputLength: 10,
  });
  const [r] = translator.translate(['Zß€ 🙂']);
  assert.ok(r.unknown.includes('€') && r.unknown.includes('🙂'));
  assert.ok(r.text.length <= 10);
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
