/**
 * int8 bundles (issue 13): `quantizeBundle` → load → translate round trips
 * for every RNN cell/attention/embedding/tying variant and for Transformers
 * (tied and untied, learned positions); int8 logits against float32 within
 * a stated tolerance; the same int8 model on the TypeScript and native
 * kernels; no float32 copy kept of a quantized matrix; training refused;
 * float32 bundles still written and read as version 1.
 *
 * Tolerance: the models are seeded, untrained (random weights); per-row
 * int8 activations and per-channel int8 weights keep each product within
 * about 1% of its float value, so logits agree within 3% of the largest
 * logit magnitude of the step (INT8_RTOL below; measured: under 1%).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saveBundle, loadBundle } from '../src/bundle/bundle.js';
import { quantizeBundle, quantizeModel } from '../src/bundle/quantize.js';
import { noGrad, Int8TrainingError, setKernels, loadNativeKernels, kernels, type Kernels } from '../src/engine/index.js';
import type { TranslationModel } from '../src/model/translation-model.js';
import type { ModelConfig } from '../src/model/config.js';
import { makeBatch } from '../src/data/batching.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';
import { tinyTransformer } from './helpers/tiny-transformer.js';

const INT8_RTOL = 0.03;
const tmp = (): string => mkdtempSync(join(tmpdir(), 's2s-int8-'));
const SENTENCES = ['I am happy.', 'Is the dog hungry?', 'We see the cat.'];

/** Logits of a few decoder steps (teacher tokens 3, 4, 5, …) for a batch of sources, as one array per step. */
function stepLogits(model: TranslationModel, steps = 4): Float32Array[] {
  return noGrad(() => {
    const ids = Int32Array.of(4, 5, 6, 7, 8, 5, 6, 0, 0, 0, 7, 8, 9, 10, 0);
    let state = model.encode({ ids, lengths: Int32Array.of(5, 3, 4), maxLen: 5 });
    const out: Float32Array[] = [];
    let tokens = Int32Array.of(1, 1, 1);
    for (let t = 0; t < steps; t++) {
      const r = model.decodeStep(tokens, state);
      out.push(r.logits.data.slice());
      state = r.state;
      tokens = Int32Array.of(3 + t, 4 + t, 5 + t);
    }
    return out;
  });
}

function assertClose(actual: Float32Array[], expected: Float32Array[], rtol: number, label: string): number {
  let worst = 0;
  expected.forEach((e, t) => {
    const scale = e.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    for (let i = 0; i < e.length; i++) {
      const err = Math.abs(actual[t][i] - e[i]) / scale;
      worst = Math.max(worst, err);
      assert.ok(err <= rtol, `${label}: step ${t} logit ${i}: ${actual[t][i]} vs ${e[i]} (${(err * 100).toFixed(2)}% of ${scale.toFixed(3)})`);
    }
  });
  return worst;
}

const RNN_VARIANTS: [string, Partial<ModelConfig>][] = [
  ['LSTM, general attention, bidirectional, embeddings', { cell: 'lstm', attention: 'general', bidirectional: true, embeddingDim: 16 }],
  ['GRU, additive attention, one-hot input', { cell: 'gru', attention: 'additive', embeddingDim: 0 }],
  ['LSTM, dot attention, 2 layers, one-hot input', { cell: 'lstm', attention: 'dot', layers: 2, embeddingDim: 0 }],
  ['GRU, no attention, bidirectional 2 layers', { cell: 'gru', attention: 'none', bidirectional: true, layers: 2, embeddingDim: 12 }],
  ['LSTM, general attention, tied embeddings and output (D = H)', { cell: 'lstm', attention: 'general', embeddingDim: 32, tieEmbeddings: true }],
];

for (const [label, config] of RNN_VARIANTS) {
  test(`quantize → load → translate, RNN: ${label}`, () => {
    const setup = config.tieEmbeddings ? sharedVocabRnn(config) : tinySetup(24, config);
    const dir = tmp();
    saveBundle(join(dir, 'f32'), bundlePartsFor(setup));
    const r = quantizeBundle(join(dir, 'f32'), join(dir, 'i8'));
    assert.ok(r.tensors >= 4, `${r.tensors} matrices quantized`);
    const f = loadBundle(join(dir, 'f32')), q = loadBundle(join(dir, 'i8'));
    assert.equal(f.config.version, 1);
    assert.equal(q.config.version, 2);
    // Every planned matrix is int8 and keeps no float32 copy; biases stay float32.
    for (const { param } of q.model.int8Plan()) {
      assert.ok(param.int8, `${param.name} is int8`);
      assert.equal(param.data.length, 0, `${param.name} keeps no float32 data`);
    }
    assert.ok(q.model.parameters().some((p) => !p.int8 && p.data.length > 0), 'biases stay float32');
    assertClose(stepLogits(q.model), stepLogits(f.model), INT8_RTOL, label);
    const a = f.translator.translate(SENTENCES), b = q.translator.translate(SENTENCES);
    assert.equal(b.length, SENTENCES.length);
    // Untrained models: a near-tie can send free-running greedy output elsewhere; where the outputs agree, so do their scores.
    for (let i = 0; i < a.length; i++) {
      if (a[i].text === b[i].text) assert.ok(Math.abs(a[i].logProb - b[i].logProb) <= 0.05 * Math.abs(a[i].logProb) + 0.5, `${label}: log-probs ${a[i].logProb} vs ${b[i].logProb}`);
    }
    const beam = q.translator.translate(SENTENCES, { beam: 3 });
    assert.equal(beam.length, SENTENCES.length);
  });
}

/** An RNN fixture with one vocabulary for both sides (what tied embeddings need). */
function sharedVocabRnn(config: Partial<ModelConfig>): ReturnType<typeof tinySetup> {
  const t = tinyTransformer(24, { tieEmbeddings: true });
  const base = tinySetup(24, {});
  const model = new (base.model.constructor as new (c: Partial<ModelConfig> & { srcVocabSize: number; tgtVocabSize: number }, seed: number) => typeof base.model)(
    { latentDim: 32, ...config, srcVocabSize: t.vocabs.source.size, tgtVocabSize: t.vocabs.target.size }, 3);
  return { ...base, vocabs: t.vocabs, model };
}

const TRANSFORMER_VARIANTS: [string, Partial<ModelConfig>][] = [
  ['untied, sinusoidal positions', { modelDim: 16, heads: 2, ffDim: 32, layers: 2 }],
  ['tied embeddings (one int8 table: embedding and output projection), learned positions, GELU', { modelDim: 16, heads: 2, ffDim: 32, tieEmbeddings: true, positions: 'learned', activation: 'gelu' }],
];

for (const [label, config] of TRANSFORMER_VARIANTS) {
  test(`quantize → load → translate, Transformer: ${label}`, () => {
    const setup = tinyTransformer(24, config);
    const dir = tmp();
    saveBundle(join(dir, 'f32'), bundlePartsFor(setup));
    quantizeBundle(join(dir, 'f32'), join(dir, 'i8'));
    const f = loadBundle(join(dir, 'f32')), q = loadBundle(join(dir, 'i8'));
    const index = JSON.parse(readFileSync(join(dir, 'i8', 'weights.json'), 'utf8')) as { version: number; tensors: { name: string; dtype: string; scaleAxis?: number }[] };
    assert.equal(index.version, 2);
    if (config.tieEmbeddings) {
      const shared = index.tensors.filter((t) => t.name === 'embedding/shared');
      assert.deepEqual(shared.map((t) => [t.dtype, t.scaleAxis]), [['int8', 0]], 'one int8 table, per-row scales');
      assert.ok(!index.tensors.some((t) => t.name === 'output/kernel'));
    }
    assert.ok(index.tensors.filter((t) => t.dtype === 'float32').every((t) => /bias|norm|gain/.test(t.name)), 'only biases and layer norms stay float32');
    assertClose(stepLogits(q.model), stepLogits(f.model), INT8_RTOL, label);
    assert.equal(q.translator.translate(SENTENCES).length, SENTENCES.length);
    assert.equal(q.translator.translate(SENTENCES, { beam: 3 }).length, SENTENCES.length);
  });
}

const native = loadNativeKernels();

test('an int8 model gives the same logits on the TypeScript and native kernels (int8 products bit-equal; float parts within 1e-4)', { skip: native ? false : 'native addon not built' }, () => {
  const before = kernels();
  try {
    for (const setup of [tinySetup(24, { cell: 'lstm', attention: 'general', bidirectional: true, embeddingDim: 16 }), tinyTransformer(24, { modelDim: 16, heads: 2, ffDim: 32 })]) {
      quantizeModel(setup.model);
      setKernels('js');
      const js = stepLogits(setup.model);
      setKernels(native as Kernels);
      const nat = stepLogits(setup.model);
      assertClose(nat, js, 1e-4, `${setup.model.config.arch} js vs native`);
    }
  } finally {
    setKernels(before);
  }
});

test('an int8 model refuses training (gradients through int8 weights) with an error naming the parameter', () => {
  const setup = tinySetup(8, { attention: 'general', embeddingDim: 8 });
  quantizeModel(setup.model);
  const batch = makeBatch(setup.examples, [0, 1, 2, 3]);
  assert.throws(() => setup.model.forward(batch), (err: unknown) => err instanceof Int8TrainingError && /int8 weights.*inference only/.test((err as Error).message) && /"encoder\/embedding"/.test((err as Error).message));
});

test('float32 bundles are still written and read as version 1 (no dtype fields), so s2s before int8 bundles reads them', () => {
  const dir = tmp();
  saveBundle(dir, bundlePartsFor(tinySetup(8)));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { version: number };
  const index = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as { version: number; dtype: string; tensors: object[] };
  assert.equal(config.version, 1);
  assert.equal(index.version, 1);
  assert.equal(index.dtype, 'float32');
  assert.ok(index.tensors.every((t) => !('dtype' in t)));
  assert.equal(loadBundle(dir).config.version, 1);
});

test('quantizeBundle: refuses an already int8 bundle; the int8 bundle re-exports as int8', () => {
  const dir = tmp();
  saveBundle(join(dir, 'f32'), bundlePartsFor(tinySetup(8, { embeddingDim: 8 })));
  quantizeBundle(join(dir, 'f32'), join(dir, 'i8'));
  assert.throws(() => quantizeBundle(join(dir, 'i8'), join(dir, 'again')), /already quantized/);
  const q = loadBundle(join(dir, 'i8'));
  saveBundle(join(dir, 'copy'), q);
  assert.equal(JSON.parse(readFileSync(join(dir, 'copy', 'weights.json'), 'utf8')).version, 2);
  assert.deepEqual(loadBundle(join(dir, 'copy')).translator.translate(SENTENCES).map((t) => t.text), q.translator.translate(SENTENCES).map((t) => t.text));
  assert.ok(readdirSync(join(dir, 'i8')).some((f) => /^weights-[0-9a-f]{8}\.bin$/.test(f)));
});
