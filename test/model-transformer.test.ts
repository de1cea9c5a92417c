/**
 * The Transformer: whole-model finite-difference gradients (pre-LN and
 * post-LN, tied and untied embeddings, sinusoidal and learned positions,
 * ReLU and GELU, dropout); KV-cached decoding against the teacher-forced
 * training graph at every step; beam 1 = greedy; padding invariance; the
 * config fields and createModel; bundle round trips (and old RNN bundles).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad, Rng, packedLayout } from '../src/engine/index.js';
import { makeBatch, makeSourceBatch } from '../src/data/batching.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { beamSearch } from '../src/decode/beam.js';
import { lengthOrder } from '../src/model/packing.js';
import { createModel } from '../src/model/model.js';
import { Transformer } from '../src/model/transformer.js';
import { Seq2Seq } from '../src/model/seq2seq.js';
import { resolveModelConfig, MODEL_DEFAULTS, ConfigError, type ModelConfig } from '../src/model/config.js';
import { saveBundle, loadBundle, makeTranslator } from '../src/bundle/bundle.js';
import { minimumParameterCount } from '../src/bundle/format.js';
import { tinyTransformer, transformerBundleParts } from './helpers/tiny-transformer.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';
import { kernelName } from './helpers/gradcheck.js';
import { assertSameGreedy, assertSameHypothesis, assertSameTranslations, assertSameValues } from './helpers/same-translation.js';

// ------------------------------------------------------------------ gradients

const ARCHS: Partial<ModelConfig>[] = [
  { activation: 'gelu' },
  { activation: 'gelu', postNorm: true, tieEmbeddings: true },
  { activation: 'gelu', positions: 'learned', layers: 2, tieEmbeddings: true },
  { activation: 'gelu', encoderLayers: 2, decoderLayers: 1, postNorm: true, positions: 'learned' },
  { activation: 'gelu', dropout: 0.2, attentionDropout: 0.2 },
];

// As test/model-gradcheck.test.ts: float32 throughout, central differences with a step of 1e-2.
// GELU only: a step of 1e-2 moves some of the many ReLU inputs of a whole model across the kink, so
// central differences of a ReLU model are off by a few percent. ReLU models are checked against
// torch.nn.Transformer's float64 gradients instead (test/model-transformer-torch.test.ts, 1e-4).
const EPS = 1e-2, ATOL = 5e-5, RTOL = 5e-3;

for (const arch of ARCHS) {
  test(`Transformer gradients match finite differences: ${JSON.stringify(arch)} (${kernelName()} kernels)`, () => {
    const { model, examples } = tinyTransformer(5, arch, 2);
    const batch = makeBatch(examples, [0, 1, 2, 3, 4]);
    assert.ok(new Set(examples.map((e) => e.src.length)).size > 1, 'the batch has padding');
    const dropout = (arch.dropout ?? 0) > 0;
    const run = () => model.forward(batch, dropout ? { training: true, rng: new Rng(11) } : {});
    const params = model.parameters();
    const names = params.map((p) => p.name as string);
    assert.equal(new Set(names).size, names.length, 'parameter names are unique');
    assert.equal(names.includes('embedding/shared'), Boolean(arch.tieEmbeddings));
    assert.equal(names.includes('output/kernel'), !arch.tieEmbeddings);
    assert.equal(names.includes('encoder/final_norm/gain'), !arch.postNorm);
    assert.equal(names.includes('decoder/positions'), arch.positions === 'learned');
    for (const p of params) p.zeroGrad();
    run().loss.backward();
    const rng = new Rng(5);
    const failures: string[] = [];
    for (const p of params) {
      assert.ok(p.grad, `${p.name}: no gradient computed`);
      const grad = (p.grad as Float32Array).slice();
      assert.ok(grad.every(Number.isFinite), `${p.name}: non-finite gradient`);
      const nonZero = Array.from(grad.keys()).filter((i) => grad[i] !== 0);
      assert.ok(nonZero.length > 0, `${p.name}: the analytic gradient is identically zero`);
      const byMagnitude = [...nonZero].sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a]));
      const rest = byMagnitude.slice(2);
      rng.shuffle(rest);
      for (const i of [...byMagnitude.slice(0, 2), ...rest.slice(0, 1)]) {
        const orig = p.data[i];
        const lossAt = (v: number): [number, number] => {
          p.data[i] = v;
          const actual = p.data[i];
          const l = noGrad(() => run().loss.item());
          p.data[i] = orig;
          return [actual, l];
        };
        const [up, fUp] = lossAt(orig + EPS), [down, fDown] = lossAt(orig - EPS);
        const numeric = (fUp - fDown) / (up - down);
        const err = Math.abs(numeric - grad[i]);
        if (!(err <= ATOL + RTOL * Math.max(Math.abs(numeric), Math.abs(grad[i])))) failures.push(`${p.name}[${i}]: analytic ${grad[i]} vs numeric ${numeric}`);
      }
    }
    assert.deepEqual(failures, []);
  });
}

test('label smoothing: ε = 0 is the plain loss, ε > 0 raises a confident model\'s loss and its gradient exists', () => {
  const { model, examples } = tinyTransformer(4, {}, 2);
  const batch = makeBatch(examples, [0, 1, 2, 3]);
  const plain = noGrad(() => model.forward(batch).loss.item());
  assert.equal(noGrad(() => model.forward(batch, { labelSmoothing: 0 }).loss.item()), plain);
  const smoothed = model.forward(batch, { labelSmoothing: 0.1 });
  assert.ok(Number.isFinite(smoothed.loss.item()) && smoothed.loss.item() !== plain);
  smoothed.loss.backward();
  assert.ok(model.parameters().every((p) => p.grad && p.grad.some((g) => g !== 0)));
});

// ------------------------------------------------------------------ inference

const DECODE_ARCHS: { name: string; model: Partial<ModelConfig> }[] = [
  { name: 'pre-LN, 2+2 blocks', model: { layers: 2, modelDim: 16, heads: 4, ffDim: 32 } },
  { name: 'post-LN, tied, learned positions, 1+2 blocks', model: { postNorm: true, tieEmbeddings: true, positions: 'learned', encoderLayers: 1, decoderLayers: 2, activation: 'gelu' } },
];

for (const arch of DECODE_ARCHS) {
  test(`${arch.name}: KV-cached decodeStep reproduces the teacher-forced logits at every step`, () => {
    const { model, examples } = tinyTransformer(7, arch.model);
    const batch = makeBatch(examples, [0, 1, 2, 3, 4, 5, 6]);
    noGrad(() => {
      const training = model.forward(batch);
      const V = training.logits.cols;
      const { sorted, inverse } = lengthOrder(batch.tgtLengths);
      const layout = packedLayout(sorted);
      let state = model.encode({ ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen });
      // Reorder rows once (as a beam would) to check selectState keeps every cache consistent.
      const reversed = Int32Array.from({ length: batch.size }, (_, i) => batch.size - 1 - i);
      let rows = Int32Array.from({ length: batch.size }, (_, i) => i);
      for (let t = 0; t < batch.tgtMaxLen; t++) {
        if (t === 2) {
          state = model.selectState(state, reversed);
          rows = reversed.map((i) => rows[i]);
        }
        const tokens = rows.map((b) => (t < batch.tgtLengths[b] ? batch.tgtIn[b * batch.tgtMaxLen + t] : 0));
        const step = model.decodeStep(tokens, state);
        state = step.state;
        assert.ok(step.attention, 'a Transformer returns attention weights');
        assert.deepEqual(step.attention.shape, [batch.size, batch.srcMaxLen]);
        rows.forEach((b, r) => {
          if (t >= batch.tgtLengths[b]) return;
          const packed = layout.offsets[t] + inverse[b];
          assertSameValues(step.logits.data.subarray(r * V, (r + 1) * V), training.logits.data.subarray(packed * V, (packed + 1) * V), `sentence ${b} step ${t} logits`);
          const w = (step.attention as { data: Float32Array }).data.subarray(r * batch.srcMaxLen, (r + 1) * batch.srcMaxLen);
          const real = w.subarray(0, batch.srcLengths[b]).reduce((s, x) => s + x, 0);
          assert.ok(Math.abs(real - 1) < 1e-5, `attention over real source positions sums to 1 (${real})`);
          assert.ok(w.subarray(batch.srcLengths[b]).every((x) => x === 0), 'no attention on padding');
        });
      }
    });
  });

  test(`${arch.name}: beam 1 equals greedy, and a sentence decodes the same alone or in a batch`, () => {
    const { model, examples } = tinyTransformer(8, arch.model);
    const srcs = examples.map((e) => e.src);
    const batch = makeSourceBatch(srcs);
    const src = { ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen };
    const greedy = greedyDecode(model, src, { maxLength: 12 });
    const beam1 = beamSearch(model, src, { beamSize: 1, maxLength: 12 });
    greedy.forEach((g, i) => assertSameHypothesis({ ...beam1[i][0], score: undefined } as never, g, `row ${i}: beam 1 vs greedy`));
    greedy.forEach((g, row) => {
      const s = srcs[batch.order[row]];
      const alone = greedyDecode(model, { ids: s, lengths: Int32Array.of(s.length), maxLen: s.length }, { maxLength: 12 })[0];
      assertSameGreedy(g, alone, `sentence ${batch.order[row]} in a batch vs alone`, { model, source: s });
    });
    const beamBatch = beamSearch(model, src, { beamSize: 3, maxLength: 12, nBest: 2 });
    beamBatch.forEach((list, row) => {
      const s = srcs[batch.order[row]];
      const alone = beamSearch(model, { ids: s, lengths: Int32Array.of(s.length), maxLen: s.length }, { beamSize: 3, maxLength: 12, nBest: 2 })[0];
      assert.deepEqual(list.map((h) => Array.from(h.ids)), alone.map((h) => Array.from(h.ids)), `sentence ${batch.order[row]}: beam 3 in a batch vs alone`);
    });
  });
}

// ------------------------------------------------------------------ config and factory

test('ModelConfig: defaults, validation naming the field, createModel dispatch on arch', () => {
  const old = resolveModelConfig({ cell: 'gru', latentDim: 8, srcVocabSize: 10, tgtVocabSize: 12 });
  assert.equal(old.arch, 'rnn', 'a config without arch is an RNN');
  assert.equal(old.tieEmbeddings, false);
  assert.equal(MODEL_DEFAULTS.modelDim, 256);
  assert.ok(createModel(old) instanceof Seq2Seq);
  const t = createModel({ arch: 'transformer', modelDim: 8, heads: 2, ffDim: 8, srcVocabSize: 10, tgtVocabSize: 12 });
  assert.ok(t instanceof Transformer);
  assert.equal(t.hasAttention, true);
  assert.equal(createModel(old).hasAttention, false);
  const bad = (c: Partial<ModelConfig>, field: string): void =>
    assert.throws(() => resolveModelConfig({ srcVocabSize: 10, tgtVocabSize: 10, ...c }), (e: Error) => e instanceof ConfigError && e.message.includes(field), field);
  bad({ arch: 'lstm' as never }, '"arch"');
  bad({ arch: 'transformer', modelDim: 10, heads: 4 }, '"modelDim"');
  bad({ heads: 0 }, '"heads"');
  bad({ activation: 'tanh' as never }, '"activation"');
  bad({ positions: 'rotary' as never }, '"positions"');
  bad({ attentionDropout: 1 }, '"attentionDropout"');
  bad({ tieEmbeddings: true, embeddingDim: 0 }, '"tieEmbeddings"');
  assert.throws(() => resolveModelConfig({ tieEmbeddings: true, arch: 'transformer', srcVocabSize: 10, tgtVocabSize: 11 }), /tieEmbeddings.*shared-vocab/);
  // Same seed, same weights.
  const a = createModel({ arch: 'transformer', modelDim: 8, heads: 2, ffDim: 8, srcVocabSize: 10, tgtVocabSize: 12 }, 4);
  const b = createModel({ arch: 'transformer', modelDim: 8, heads: 2, ffDim: 8, srcVocabSize: 10, tgtVocabSize: 12 }, 4);
  a.parameters().forEach((p, i) => assert.deepEqual(p.data, b.parameters()[i].data));
});

test('RNN tieEmbeddings: one table for both sides, and the output kernel when embeddingDim = latentDim', () => {
  const shared = resolveModelConfig({ srcVocabSize: 10, tgtVocabSize: 10 });
  const untiedOut = new Seq2Seq({ ...shared, latentDim: 8, embeddingDim: 4, tieEmbeddings: true });
  const names = untiedOut.parameters().map((p) => p.name);
  assert.ok(names.includes('embedding/shared') && !names.includes('encoder/embedding') && names.includes('output/kernel'));
  const tiedOut = new Seq2Seq({ ...shared, latentDim: 8, embeddingDim: 8, tieEmbeddings: true });
  assert.ok(!tiedOut.parameters().some((p) => p.name === 'output/kernel'));
  assert.equal(tiedOut.outputKernel, tiedOut.srcEmbedding);
});

// ------------------------------------------------------------------ bundles

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 's2s-transformer-'));
}

test('Transformer bundle: save → load gives the same weights and translations; the parameter lower bound holds', () => {
  for (const model of [{ layers: 2, tieEmbeddings: true }, { positions: 'learned' as const, postNorm: true }]) {
    const setup = tinyTransformer(12, model, 5);
    const parts = transformerBundleParts(setup);
    assert.ok(minimumParameterCount(setup.model.config) <= setup.model.parameterCount());
    const dir = tmp();
    try {
      saveBundle(dir, parts);
      const loaded = loadBundle(dir);
      assert.ok(loaded.model instanceof Transformer);
      assert.deepEqual(loaded.config.model, setup.model.config);
      loaded.model.parameters().forEach((p, i) => assert.deepEqual(p.data, setup.model.parameters()[i].data, `${p.name}`));
      const texts = setup.pairs.slice(0, 6).map((p) => p.source);
      for (const opts of [{}, { beam: 3, nBest: 2 }, { attention: true }]) {
        assertSameTranslations(loaded.translator.translate(texts, opts), makeTranslator(parts).translate(texts, opts), `round trip ${JSON.stringify(opts)}`);
      }
      const withAttention = loaded.translator.translate([texts[0]], { attention: true })[0];
      assert.ok(withAttention.attention, 'attention maps for Transformers');
      assert.equal(withAttention.attention.weights.length, withAttention.attention.outputTokens.length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('an RNN bundle written before the Transformer (no arch or Transformer fields in config.json) still loads, as the same RNN', () => {
  const setup = tinySetup(10, { attention: 'general', embeddingDim: 6 });
  const parts = bundlePartsFor(setup);
  const dir = tmp();
  try {
    saveBundle(dir, parts);
    const path = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8'));
    for (const k of ['arch', 'modelDim', 'heads', 'ffDim', 'encoderLayers', 'decoderLayers', 'attentionDropout', 'activation', 'postNorm', 'positions', 'maxPositions', 'tieEmbeddings']) {
      assert.ok(k in config.model, `a new bundle records ${k}`);
      delete config.model[k];
    }
    writeFileSync(path, JSON.stringify(config));
    const loaded = loadBundle(dir);
    assert.ok(loaded.model instanceof Seq2Seq);
    assert.equal(loaded.config.model.arch, 'rnn');
    const texts = setup.pairs.slice(0, 4).map((p) => p.source);
    assertSameTranslations(loaded.translator.translate(texts, { attention: true }), makeTranslator(parts).translate(texts, { attention: true }), 'old RNN bundle');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
