/**
 * ONNX export of every recurrent architecture, verified against s2s: for
 * LSTM and GRU, stacked, bidirectional, one-hot and embedded inputs, and
 * every attention type with input feeding (small seeded models, some trained
 * a few steps on the built-in corpus so outputs are not trivial):
 *   - both graphs load in onnxruntime with every optimisation on; opset and
 *     IR version recorded;
 *   - a greedy decoder written against model.json only
 *     (helpers/onnx-decode.ts) gives s2s's greedy token sequences, with
 *     logits within 1e-4 of s2s's at every step;
 *   - each sentence decoded alone gives what it gives in the batch;
 *   - s2s's own beam search run over the ONNX graphs (helpers/onnx-sync.ts)
 *     gives s2s's n-best lists.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Adam, Rng, clearTape } from '../src/engine/index.js';
import { makeBatch, encodePairs } from '../src/data/batching.js';
import { Vocab } from '../src/data/vocab.js';
import { Seq2Seq as Seq2SeqModel } from '../src/model/seq2seq.js';
import type { ModelConfig } from '../src/model/config.js';
import { exportOnnx, ONNX_EXPORT_FILES } from '../src/onnx/export.js';
import { tinySetup, bundlePartsFor, type TinySetup } from './helpers/tiny.js';
import { loadSession, checkModelHeader } from './helpers/onnx.js';
import { readContract } from './helpers/onnx-decode.js';
import { assertGreedyEqualsS2s, assertAloneEqualsBatch, assertBeamOverOnnx, checkInt8Export } from './helpers/onnx-agree.js';

const MAX_LENGTH = 16;

/** A few Adam steps on the tiny corpus, so the model's outputs depend on its input. */
function trainBriefly(setup: TinySetup, steps: number): void {
  if (steps === 0) return;
  const opt = new Adam(setup.model.parameters(), { learningRate: 0.01 });
  const rng = new Rng(11);
  for (let s = 0; s < steps; s++) {
    const idx = Array.from({ length: 16 }, () => rng.int(setup.examples.length));
    clearTape();
    opt.zeroGrad();
    setup.model.forward(makeBatch(setup.examples, idx)).loss.backward();
    opt.update();
  }
  clearTape();
}

const CASES: { name: string; model: Partial<ModelConfig>; train: number }[] = [
  { name: 'LSTM, one-hot inputs, no attention (the seed)', model: { cell: 'lstm' }, train: 40 },
  { name: 'GRU ×2, embeddings, no attention', model: { cell: 'gru', layers: 2, embeddingDim: 12 }, train: 80 },
  { name: 'bidirectional LSTM ×2, embeddings, general attention', model: { cell: 'lstm', layers: 2, bidirectional: true, embeddingDim: 12, attention: 'general' }, train: 80 },
  { name: 'bidirectional GRU, one-hot, additive attention', model: { cell: 'gru', bidirectional: true, attention: 'additive' }, train: 25 },
  { name: 'LSTM ×2, embeddings, dot attention', model: { cell: 'lstm', layers: 2, embeddingDim: 12, attention: 'dot' }, train: 0 },
  { name: 'GRU, embeddings, general attention (untrained)', model: { cell: 'gru', embeddingDim: 12, attention: 'general' }, train: 0 },
  { name: 'LSTM, tied embeddings and output layer (shared vocabulary), additive attention', model: { cell: 'lstm', embeddingDim: 20, tieEmbeddings: true, attention: 'additive' }, train: 80 },
];

/** tinySetup, with one vocabulary for both sides when the model ties its embeddings. */
function setupFor(model: Partial<ModelConfig>): TinySetup {
  const setup = tinySetup(48, { latentDim: 20, ...(model.tieEmbeddings ? {} : model) }, 5);
  if (!model.tieEmbeddings) return setup;
  const shared = Vocab.build(setup.pairs.flatMap((p) => [setup.tokenizers.source.tokenize(p.source), setup.tokenizers.target.tokenize(p.target)]));
  const vocabs = { source: shared, target: shared };
  const { examples } = encodePairs(setup.pairs, setup.tokenizers, vocabs);
  return { ...setup, vocabs, examples, model: new Seq2SeqModel({ latentDim: 20, ...model, srcVocabSize: shared.size, tgtVocabSize: shared.size }, 5) };
}

const NOVEL = ['I am happy.', 'The cat is not hungry?', 'We see the big dog.', 'x'];

for (const c of CASES) {
  test(`ONNX export = s2s: ${c.name}`, async () => {
    const setup = setupFor(c.model);
    trainBriefly(setup, c.train);
    const dir = mkdtempSync(join(tmpdir(), 's2s-onnx-'));
    try {
      const result = exportOnnx(bundlePartsFor(setup), dir);
      assert.deepEqual(result.files, [...ONNX_EXPORT_FILES]);
      for (const f of ONNX_EXPORT_FILES) assert.ok(existsSync(join(dir, f)), f);
      const encBytes = readFileSync(join(dir, 'encoder.onnx')), decBytes = readFileSync(join(dir, 'decoder_step.onnx'));
      checkModelHeader(encBytes);
      checkModelHeader(decBytes);
      const [enc, dec] = await Promise.all([loadSession(encBytes), loadSession(decBytes)]);
      const contract = readContract(dir);

      const texts = [...setup.pairs.slice(0, 5).map((p) => p.source), ...NOVEL];
      const sources = texts.map((t) => setup.vocabs.source.encode(setup.tokenizers.source.tokenize(t)).ids);
      const onnx = { contract, encoder: enc, decoder: dec };
      const { got } = await assertGreedyEqualsS2s(setup.model, onnx, texts, sources, MAX_LENGTH);
      if (c.train > 0) {
        const distinct = new Set(got.ids.map((ids) => ids.join(','))).size;
        assert.ok(distinct >= 2, `outputs differ between sentences (${distinct} distinct)`);
      }
      await assertAloneEqualsBatch(onnx, texts, sources, got, MAX_LENGTH);
      await assertBeamOverOnnx(dir, setup.model, texts, sources, MAX_LENGTH);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

// int8 bundles (s2s quantize): INT8 initializers + DequantizeLinear; the graphs = s2s on the dequantized weights.
const INT8_CASES: { name: string; model: Partial<ModelConfig>; train: number }[] = [
  { name: 'LSTM ×2, embeddings, general attention (input feeding)', model: { cell: 'lstm', layers: 2, embeddingDim: 12, attention: 'general' }, train: 80 },
  { name: 'bidirectional GRU ×2, embeddings, no attention', model: { cell: 'gru', layers: 2, bidirectional: true, embeddingDim: 12 }, train: 80 },
  { name: 'bidirectional LSTM, one-hot inputs, additive attention', model: { cell: 'lstm', bidirectional: true, attention: 'additive' }, train: 40 },
  { name: 'LSTM, tied embeddings and output layer, dot attention', model: { cell: 'lstm', embeddingDim: 20, tieEmbeddings: true, attention: 'dot' }, train: 80 },
];

for (const c of INT8_CASES) {
  test(`ONNX export of an int8 bundle = s2s on its dequantized weights: ${c.name}`, async (t) => {
    const setup = setupFor(c.model);
    trainBriefly(setup, c.train);
    const texts = [...setup.pairs.slice(0, 20).map((p) => p.source), ...NOVEL];
    const sources = texts.map((x) => setup.vocabs.source.encode(setup.tokenizers.source.tokenize(x)).ids);
    await checkInt8Export(t, bundlePartsFor(setup), texts, sources, MAX_LENGTH);
  });
}
