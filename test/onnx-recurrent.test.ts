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
import { Adam, Rng, clearTape, noGrad, type Tensor } from '../src/engine/index.js';
import { makeBatch, encodePairs } from '../src/data/batching.js';
import { Vocab } from '../src/data/vocab.js';
import { Seq2Seq as Seq2SeqModel } from '../src/model/seq2seq.js';
import { BOS_ID } from '../src/data/vocab.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { beamSearch } from '../src/decode/beam.js';
import type { ModelConfig } from '../src/model/config.js';
import type { IdBatch } from '../src/model/model.js';
import type { Seq2Seq, DecoderState as S2SState } from '../src/model/seq2seq.js';
import { exportOnnx, ONNX_EXPORT_FILES } from '../src/onnx/export.js';
import { tinySetup, bundlePartsFor, type TinySetup } from './helpers/tiny.js';
import { loadSession, checkModelHeader, maxAbsDiff, type Session } from './helpers/onnx.js';
import { greedy, readContract, type Runner, type PlainTensor } from './helpers/onnx-decode.js';
import { SyncOnnxModel } from './helpers/onnx-sync.js';
import ort from 'onnxruntime-node';

const MAX_LENGTH = 16;

function runner(session: Session): Runner {
  return async (feeds) => {
    const f: Record<string, ort.Tensor> = {};
    for (const [k, t] of Object.entries(feeds)) f[k] = new ort.Tensor(t.type, t.data as Float32Array, [...t.dims]);
    const out = await session.run(f);
    const plain: Record<string, PlainTensor> = {};
    for (const [k, t] of Object.entries(out)) plain[k] = { type: t.type as PlainTensor['type'], data: t.data as PlainTensor['data'], dims: t.dims };
    return plain;
  };
}

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

function idBatch(sources: readonly Int32Array[]): IdBatch {
  const maxLen = Math.max(...sources.map((s) => s.length));
  const ids = new Int32Array(sources.length * maxLen);
  sources.forEach((s, b) => ids.set(s, b * maxLen));
  return { ids, lengths: Int32Array.from(sources, (s) => s.length), maxLen };
}

/** s2s's logits at every step of the given outputs (teacher-forced on them), per sentence. */
function s2sStepLogits(model: Seq2Seq, src: IdBatch, outputs: number[][], steps: number[]): Float32Array[][] {
  return noGrad(() => {
    const B = outputs.length;
    const result: Float32Array[][] = outputs.map(() => []);
    let state: S2SState = model.encode(src);
    const T = Math.max(...steps);
    for (let t = 0; t < T; t++) {
      // Rows that have ended are fed BOS: rows never influence each other.
      const tokens = Int32Array.from(outputs, (o) => (t === 0 ? BOS_ID : (o[t - 1] ?? BOS_ID)));
      const r = model.decodeStep(tokens, state);
      const V = (r.logits as Tensor).cols;
      for (let b = 0; b < B; b++) if (t < steps[b]) result[b].push(r.logits.data.slice(b * V, (b + 1) * V));
      state = r.state;
    }
    return result;
  });
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
      const src = idBatch(sources);
      const ref = greedyDecode(setup.model, src, { maxLength: MAX_LENGTH });
      const got = await greedy(contract, runner(enc), runner(dec), sources.map((s) => Array.from(s)), { maxLength: MAX_LENGTH, recordLogits: true });
      ref.forEach((h, i) => {
        assert.deepEqual(got.ids[i], Array.from(h.ids), `tokens of "${texts[i]}"`);
        assert.equal(got.finished[i], h.finished, `finished, "${texts[i]}"`);
        assert.ok(Math.abs(got.logProb[i] - h.logProb) < 1e-3, `log-prob of "${texts[i]}": ${got.logProb[i]} vs ${h.logProb}`);
      });
      if (c.train > 0) {
        const distinct = new Set(got.ids.map((ids) => ids.join(','))).size;
        assert.ok(distinct >= 2, `outputs differ between sentences (${distinct} distinct)`);
      }

      const steps = got.steps as Float32Array[][];
      const expected = s2sStepLogits(setup.model, src, got.ids, steps.map((s) => s.length));
      let worst = 0;
      steps.forEach((rows, i) => rows.forEach((row, t) => (worst = Math.max(worst, maxAbsDiff(row, expected[i][t])))));
      assert.ok(worst < 1e-4, `logits within 1e-4 at every step (worst ${worst})`);

      // Alone = in the batch.
      for (let i = 0; i < sources.length; i++) {
        const alone = await greedy(contract, runner(enc), runner(dec), [Array.from(sources[i])], { maxLength: MAX_LENGTH, recordLogits: true });
        assert.deepEqual(alone.ids[0], got.ids[i], `"${texts[i]}" alone`);
        const d = Math.max(...(alone.steps as Float32Array[][])[0].map((row, t) => maxAbsDiff(row, steps[i][t])));
        assert.ok(d < 1e-5, `"${texts[i]}" alone: logits within 1e-5 of the batch's (${d})`);
      }

      // s2s's beam search over the ONNX graphs.
      const sync = new SyncOnnxModel(dir);
      try {
        const opts = { beamSize: 4, maxLength: MAX_LENGTH, nBest: 3 };
        const beamRef = beamSearch(setup.model, src, opts);
        const beamGot = beamSearch(sync, src, opts);
        beamRef.forEach((list, i) => {
          assert.deepEqual(beamGot[i].map((h) => Array.from(h.ids)), list.map((h) => Array.from(h.ids)), `n-best of "${texts[i]}"`);
          list.forEach((h, k) => assert.ok(Math.abs(beamGot[i][k].score - h.score) < 1e-3, `score ${k} of "${texts[i]}"`));
        });
      } finally {
        await sync.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
