/**
 * Data-parallel training (--data-parallel N): the replicas' summed gradient
 * is the whole batch's (token-weighted), runs repeat exactly and resume
 * exactly, dropout works in the replicas, and the kernels get their threads
 * back afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernels, setNativeThreads } from '../src/engine/index.js';
import { PackedExamples, makeBatch, splitIndices } from '../src/data/batching.js';
import { createModel } from '../src/model/model.js';
import type { ModelConfig } from '../src/model/config.js';
import type { TranslationModel } from '../src/model/model.js';
import { Trainer, type TrainerState } from '../src/train/trainer.js';
import { saveCheckpoint, loadLatestCheckpoint } from '../src/train/checkpoint.js';
import type { TrainOptions } from '../src/train/options.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';

const TRANSFORMER: Partial<ModelConfig> = { arch: 'transformer', modelDim: 16, heads: 2, ffDim: 32, layers: 1, encoderLayers: 1, decoderLayers: 2, dropout: 0 };
const RNN: Partial<ModelConfig> = { latentDim: 12, embeddingDim: 6, attention: 'general', bidirectional: true };

function setup(model: Partial<ModelConfig>, n = 16) {
  const s = tinySetup(n, { latentDim: 8 }, 5);
  const m = createModel({ ...model, srcVocabSize: s.vocabs.source.size, tgtVocabSize: s.vocabs.target.size }, 5);
  return { ...s, model: m };
}

test('splitIndices deals a batch into parts of about equal work, every row once', () => {
  const s = tinySetup(40, { latentDim: 8 }, 3);
  const examples = new PackedExamples(s.examples);
  const indices = Array.from({ length: 40 }, (_, i) => i);
  const cost = (i: number): number => examples.srcLengths[i] + examples.tgtLengths[i] + 1;
  for (const parts of [2, 3]) {
    const split = splitIndices(examples, indices, parts);
    assert.equal(split.length, parts);
    assert.deepEqual(split.flat().sort((a, b) => a - b), indices);
    const loads = split.map((g) => g.reduce((n, i) => n + cost(i), 0));
    assert.ok(Math.max(...loads) - Math.min(...loads) <= Math.max(...indices.map(cost)), `loads ${loads}`);
  }
  assert.equal(splitIndices(examples, [3], 2).length, 1, 'no empty parts');
});

for (const [name, model] of [['Transformer', TRANSFORMER], ['RNN with attention', RNN]] as const) {
  test(`--data-parallel 2 and 3: the gradient of one update is the whole batch's (${name}), within float tolerance`, async () => {
    const results = [];
    for (const dataParallel of [1, 2, 3]) {
      const s = setup(model);
      const trainer = new Trainer(s.model, { train: s.examples, validation: [] }, {
        epochs: 1, batchSize: 16, optimizer: 'rmsprop', learningRate: 0.01, clipNorm: 0, seed: 3, dataParallel,
      });
      const final = await trainer.run();
      assert.equal(final.step, 1, 'one optimizer update');
      results.push({ grads: s.model.parameters().map((p) => Float32Array.from(p.grad!)), loss: final.history[0].trainLoss });
    }
    const [one, ...parallel] = results;
    for (const [k, other] of parallel.entries()) {
      let maxDiff = 0, maxGrad = 0;
      one.grads.forEach((g, i) => g.forEach((v, j) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - other.grads[i][j]));
        maxGrad = Math.max(maxGrad, Math.abs(v));
      }));
      assert.ok(maxGrad > 1e-3, 'gradients are not trivially zero');
      assert.ok(maxDiff <= 1e-5 * Math.max(1, maxGrad), `data-parallel ${k + 2}: gradients differ by ${maxDiff} (largest ${maxGrad})`);
      assert.ok(Math.abs(one.loss - other.loss) <= 1e-5 * one.loss, `train loss ${one.loss} vs ${other.loss}`);
    }
  });
}

/** Trains a tiny Transformer with dropout; stops (with a checkpoint in dir) after `stopAt` updates when given. */
async function run(options: Partial<TrainOptions>, stopAt: number | null, dir: string | null, resumeFrom?: TrainerState, model?: TranslationModel) {
  const s = setup({ ...TRANSFORMER, dropout: 0.2, attentionDropout: 0.1 }, 40);
  const m = model ?? s.model;
  const parts = { ...bundlePartsFor({ vocabs: s.vocabs, model: m }), model: m };
  const trainer = new Trainer(m, { train: new PackedExamples(s.examples), validation: s.examples.slice(0, 5) }, options, {
    onCheckpoint: (st): void => {
      if (dir) saveCheckpoint(dir, { ...parts, history: st.history }, st);
    },
    shouldStop: (): boolean => stopAt !== null && trainer.state.step >= stopAt,
  });
  if (resumeFrom) trainer.restore(resumeFrom);
  const state = await trainer.run();
  return { weights: m.parameters().map((p) => p.data.slice()), state };
}

test('a data-parallel run with dropout repeats exactly, and stopped and resumed ends bit-identical to an uninterrupted one', async () => {
  const options: Partial<TrainOptions> = {
    epochs: 2, batchSize: 10, optimizer: 'adam', learningRate: 0.01, seed: 4, checkpointEvery: 2, labelSmoothing: 0.1, dataParallel: 2,
  };
  const reference = await run(options, null, null);
  assert.ok(reference.state.step >= 8, `${reference.state.step} updates`);
  assert.ok(reference.state.history.every((h) => Number.isFinite(h.trainLoss)));
  const again = await run(options, null, null);
  again.weights.forEach((w, i) => assert.deepEqual(w, reference.weights[i], `parameter ${i} differs between two identical runs`));
  const single = await run({ ...options, dataParallel: 1 }, null, null);
  assert.notDeepEqual(single.weights[0], reference.weights[0], 'the replicas draw their own dropout masks');
  const dir = mkdtempSync(join(tmpdir(), 's2s-parallel-'));
  try {
    await run(options, 3, dir);
    const ckpt = loadLatestCheckpoint(dir);
    assert.ok(ckpt);
    assert.equal(ckpt.state.step, 3);
    const resumed = await run(options, null, null, ckpt.state, ckpt.bundle.model);
    assert.equal(resumed.state.step, reference.state.step);
    resumed.weights.forEach((w, i) => assert.deepEqual(w, reference.weights[i], `parameter ${i} differs after resuming`));
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('data-parallel training learns: a tiny Transformer\'s training loss falls', async () => {
  const s = setup(TRANSFORMER, 40);
  const trainer = new Trainer(s.model, { train: s.examples, validation: s.examples.slice(0, 8) }, {
    epochs: 12, batchSize: 8, optimizer: 'adam', learningRate: 0.01, seed: 1, dataParallel: 2,
  });
  const final = await trainer.run();
  const losses = final.history.map((h) => h.trainLoss);
  assert.ok(losses[losses.length - 1] < 0.6 * losses[0], `loss ${losses[0]} → ${losses[losses.length - 1]}`);
});

test('the native kernels get their threads back after a data-parallel run', { skip: kernels().name !== 'native' && 'native kernels not in use' }, async () => {
  const before = setNativeThreads(2);
  try {
    const s = setup(TRANSFORMER);
    await new Trainer(s.model, { train: s.examples, validation: [] }, { epochs: 1, batchSize: 16, dataParallel: 2 }).run();
    assert.equal(setNativeThreads(2), 2, 'restored to the count before the run');
  } finally {
    if (before !== null) setNativeThreads(before);
  }
});

test('a batch split for data parallelism holds every target token of the whole batch', () => {
  const s = tinySetup(12, { latentDim: 8 }, 3);
  const indices = Array.from({ length: 12 }, (_, i) => i);
  const whole = makeBatch(s.examples, indices);
  const parts = splitIndices(s.examples, indices, 3).map((p) => makeBatch(s.examples, p));
  assert.equal(parts.reduce((n, p) => n + p.tokens, 0), whole.tokens);
});
