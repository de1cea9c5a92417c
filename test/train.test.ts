import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Trainer, NonFiniteLossError } from '../src/train/trainer.js';
import { readConfigFile, resolveTraining } from '../src/train/config.js';
import { tinySetup } from './helpers/tiny.js';
import { tinyTransformerSetup } from './helpers/tiny-transformer.js';

test('early stopping keeps the best epoch and stops after `patience` bad epochs; LR decays on plateau', async () => {
  const s = tinySetup(40, { latentDim: 16 }, 3);
  // Held-out validation on a tiny training set: the model overfits, and validation loss turns up.
  const bestCalls: number[] = [];
  const trainer = new Trainer(s.model, { train: s.examples.slice(0, 20), validation: s.examples.slice(20) }, {
    epochs: 200, batchSize: 10, optimizer: 'adam', learningRate: 0.05, clipNorm: 0, seed: 1,
    patience: 3, lrDecay: 0.5, lrPatience: 1, minLearningRate: 0.01,
  }, { onBest: (st) => void bestCalls.push(st.epoch) });
  const final = await trainer.run();
  assert.ok(final.stoppedEarly, 'should stop early');
  assert.ok(final.epoch < 200);
  const best = final.best!;
  const losses = final.history.map((h) => h.valLoss as number);
  assert.equal(best.value, Math.min(...losses));
  assert.equal(final.history[best.epoch - 1].valLoss, best.value);
  assert.equal(final.epoch - best.epoch, 3, 'stops exactly `patience` epochs after the best');
  assert.deepEqual(bestCalls.at(-1), best.epoch);
  // With lrPatience 1 every bad epoch halves the rate (floored at minLearningRate), including the last.
  assert.equal(trainer.optimizer.learningRate, Math.max(0.01, final.history.at(-1)!.learningRate * 0.5));
  const lrs = final.history.map((h) => h.learningRate);
  for (let i = 1; i < lrs.length; i++) assert.ok(lrs[i] <= lrs[i - 1], 'the learning rate never goes up');
  assert.ok(lrs.at(-1)! < 0.05, 'the learning rate decayed');
});

test('Transformer: early stopping keeps the best epoch and stops after `patience` bad epochs; LR decays on plateau', async () => {
  const s = tinyTransformerSetup(40, { modelDim: 32, heads: 4, ffDim: 64 }, 3);
  const trainer = new Trainer(s.model, { train: s.examples.slice(0, 20), validation: s.examples.slice(20) }, {
    epochs: 300, batchSize: 10, optimizer: 'adam', learningRate: 0.01, clipNorm: 0, seed: 1,
    patience: 3, lrDecay: 0.5, lrPatience: 1, minLearningRate: 0.001,
  });
  const final = await trainer.run();
  assert.ok(final.stoppedEarly, 'should stop early');
  assert.ok(final.epoch < 300);
  const best = final.best!;
  const losses = final.history.map((h) => h.valLoss as number);
  assert.equal(best.value, Math.min(...losses));
  assert.equal(final.epoch - best.epoch, 3, 'stops exactly `patience` epochs after the best');
  assert.equal(trainer.optimizer.learningRate, Math.max(0.001, final.history.at(-1)!.learningRate * 0.5));
  const lrs = final.history.map((h) => h.learningRate);
  for (let i = 1; i < lrs.length; i++) assert.ok(lrs[i] <= lrs[i - 1], 'the learning rate never goes up');
  assert.ok(lrs.at(-1)! < 0.01, 'the learning rate decayed');
  // The kept weights are the best epoch's: what onBest saw is what best records.
  assert.ok(final.history[best.epoch - 1].valLoss === best.value);
});

test('a non-finite loss stops training with a message naming the step', async () => {
  const s = tinySetup(8, { latentDim: 8 }, 3);
  s.model.outputBias.data[0] = NaN;
  const trainer = new Trainer(s.model, { train: s.examples, validation: [] }, { epochs: 1, batchSize: 4 });
  await assert.rejects(trainer.run(), (e: Error) => e instanceof NonFiniteLossError && /loss became NaN at step 1;.*lower learning rate/.test(e.message));
  const before = s.model.parameters().map((p) => p.data.slice());
  const skipping = new Trainer(s.model, { train: s.examples, validation: [] }, { epochs: 1, batchSize: 4, nanPolicy: 'skip-batch' });
  const final = await skipping.run();
  assert.equal(final.skippedBatches, 2);
  assert.equal(final.step, 0);
  assert.equal(final.epoch, 1);
  // Skipped batches change no weights: every parameter equals its snapshot, bit for bit (the NaN included).
  s.model.parameters().forEach((p, i) => assert.deepEqual(p.data, before[i], `${p.name} changed`));
  assert.ok(Number.isNaN(s.model.outputBias.data[0]));
});

test('config files: every flag as a key, the command line wins, unknown keys and bad values are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'data: corpus.tsv\nlatent-dim: 64\nattention: general\nbidirectional: true\nepochs: 3\nlr: 0.002\nsamples: all\nbatchSize: 32\n');
  const r = resolveTraining(readConfigFile(file), { epochs: '7' });
  assert.equal(r.data, 'corpus.tsv');
  assert.equal(r.preset.model.latentDim, 64);
  assert.equal(r.preset.model.attention, 'general');
  assert.equal(r.preset.model.bidirectional, true);
  assert.equal(r.preset.train.epochs, 7, 'command line overrides the file');
  assert.equal(r.preset.train.learningRate, 0.002);
  assert.equal(r.preset.train.batchSize, 32);
  assert.equal(r.preset.data.samples, 'all');
  writeFileSync(file, 'latent_dimension: 3\n');
  assert.throws(() => readConfigFile(file), /c\.yaml: unknown option "latent_dimension"/);
  writeFileSync(file, 'latent-dim: many\n');
  assert.throws(() => readConfigFile(file), /c\.yaml: "latent-dim" must be an integer/);
  writeFileSync(file, 'attention: sideways\n');
  assert.throws(() => readConfigFile(file), /must be one of none, dot, general, additive/);
  writeFileSync(file, 'epochs: [1\n');
  assert.throws(() => readConfigFile(file), /c\.yaml: /);
});

test('--max-minutes: the time budget ends the run with a validation of the partial epoch', async () => {
  const s = tinySetup(20, { latentDim: 8 }, 3);
  const trainer = new Trainer(s.model, { train: s.examples, validation: s.examples.slice(0, 4) }, { epochs: 1000, batchSize: 2, maxMinutes: 1e-4 });
  const final = await trainer.run();
  assert.ok(final.stoppedEarly);
  assert.ok(final.epoch < 1000 && final.history.length === final.epoch);
  assert.ok(final.history.at(-1)!.valLoss !== null, 'the last (partial) epoch is validated');
  assert.ok(final.elapsedSeconds >= 0.006);
});
