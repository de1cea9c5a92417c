/**
 * The training-recipe options: LR schedules (formulas, history, plateau
 * decay, exact resume), token-budget batches, gradient accumulation, Adam
 * betas, label smoothing plumbing, and their validation naming the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Adam, Rng } from '../src/engine/index.js';
import { planEpoch, makeBatch, PackedExamples, type Batch } from '../src/data/batching.js';
import { Seq2Seq, type RunOptions } from '../src/model/seq2seq.js';
import type { TranslationModel } from '../src/model/model.js';
import { Trainer, evaluateLoss, type TrainerState } from '../src/train/trainer.js';
import { lrFactor } from '../src/train/lr-schedule.js';
import { resolveTraining } from '../src/train/config.js';
import { saveCheckpoint, loadLatestCheckpoint } from '../src/train/checkpoint.js';
import { TRAIN_DEFAULTS, type TrainOptions } from '../src/train/options.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('lrFactor: constant is 1; inverse-sqrt warms up linearly to 1 at warmup then falls as √(warmup/step); noam is the same curve', () => {
  for (const s of [1, 10, 4000, 1e6]) assert.equal(lrFactor('constant', s, 4000), 1);
  assert.equal(lrFactor('inverse-sqrt', 1, 100), 0.01);
  assert.equal(lrFactor('inverse-sqrt', 50, 100), 0.5);
  assert.equal(lrFactor('inverse-sqrt', 100, 100), 1);
  assert.equal(lrFactor('inverse-sqrt', 400, 100), 0.5);
  for (const s of [1, 7, 99, 100, 101, 400, 12345]) {
    const noam = lrFactor('noam', s, 100);
    assert.ok(Math.abs(noam - lrFactor('inverse-sqrt', s, 100)) < 1e-12, `step ${s}`);
    assert.ok(Math.abs(noam - Math.min(s ** -0.5, s * 100 ** -1.5) * 10) < 1e-12);
  }
  assert.ok(lrFactor('noam', 100, 100) >= lrFactor('noam', 99, 100) && lrFactor('noam', 100, 100) >= lrFactor('noam', 101, 100), 'the peak is at warmup');
});

test('the schedule sets every update\'s rate: history records the last update\'s, and plateau decay scales the whole curve', async () => {
  const s = tinySetup(24, { latentDim: 8 }, 3);
  // 24 examples in batches of 6: 4 updates per epoch.
  const trainer = new Trainer(s.model, { train: s.examples, validation: s.examples.slice(0, 4) }, {
    epochs: 3, batchSize: 6, optimizer: 'adam', learningRate: 0.01, lrSchedule: 'inverse-sqrt', warmupSteps: 6, seed: 2,
  });
  const final = await trainer.run();
  assert.deepEqual(final.history.map((h) => h.step), [4, 8, 12]);
  final.history.forEach((h) => assert.equal(h.learningRate, 0.01 * lrFactor('inverse-sqrt', h.step, 6)));
  // A plateau decay lowers the base: the next update's rate is the decayed base times the schedule.
  const decaying = tinySetup(24, { latentDim: 8 }, 3);
  const overfit = new Trainer(decaying.model, { train: decaying.examples.slice(0, 8), validation: decaying.examples.slice(8) }, {
    epochs: 40, batchSize: 4, optimizer: 'adam', learningRate: 0.05, lrSchedule: 'noam', warmupSteps: 4, seed: 2,
    lrDecay: 0.5, lrPatience: 1, minLearningRate: 1e-4, patience: 2,
  });
  const r = await overfit.run();
  assert.ok(r.stoppedEarly, 'validation loss turned up');
  assert.ok(r.baseLearningRate! < 0.05, 'the base rate decayed');
  assert.equal(overfit.optimizer.learningRate, r.baseLearningRate! * lrFactor('noam', r.step, 4));
});

/** Trains `options` on a fixed tiny setup; stops (with a checkpoint in dir) after `stopAt` updates when given. */
async function run(options: Partial<TrainOptions>, stopAt: number | null, dir: string | null, resumeFrom?: TrainerState, model?: TranslationModel) {
  const setup = tinySetup(40, { layers: 1, embeddingDim: 8, dropout: 0.1, attention: 'general' }, 11);
  const m = model ?? setup.model;
  const parts = { ...bundlePartsFor(setup), model: m };
  const trainer = new Trainer(m, { train: new PackedExamples(setup.examples), validation: setup.examples.slice(0, 5) }, options, {
    onCheckpoint: (st): void => {
      if (dir) saveCheckpoint(dir, { ...parts, history: st.history }, st);
    },
    shouldStop: (): boolean => stopAt !== null && trainer.state.step >= stopAt,
  });
  if (resumeFrom) trainer.restore(resumeFrom);
  const state = await trainer.run();
  return { weights: m.parameters().map((p) => p.data.slice()), state };
}

test('a run with a schedule, token batches and accumulation, stopped at any update and resumed, ends bit-identical to an uninterrupted one', async () => {
  const options: Partial<TrainOptions> = {
    epochs: 3, batchSize: 8, batchTokens: 60, accumulate: 2, optimizer: 'adam', learningRate: 0.01, adamBeta2: 0.98,
    lrSchedule: 'inverse-sqrt', warmupSteps: 3, clipNorm: 1, seed: 4, checkpointEvery: 2, labelSmoothing: 0.1,
  };
  const reference = await run(options, null, null);
  assert.ok(reference.state.step >= 6, `${reference.state.step} updates`);
  for (const stopAt of [1, 4]) {
    const dir = mkdtempSync(join(tmpdir(), 's2s-recipe-'));
    await run(options, stopAt, dir);
    const ckpt = loadLatestCheckpoint(dir);
    assert.ok(ckpt);
    assert.equal(ckpt.state.step, stopAt);
    assert.equal(ckpt.state.batchInEpoch % 2, 0, 'checkpoints fall between accumulation groups');
    const resumed = await run(options, null, null, ckpt.state, ckpt.bundle.model);
    assert.equal(resumed.state.step, reference.state.step);
    resumed.weights.forEach((w, i) => assert.deepEqual(w, reference.weights[i], `parameter ${i} differs after resuming at update ${stopAt}`));
    assert.deepEqual(resumed.state.history.map((h) => [h.trainLoss, h.learningRate]), reference.state.history.map((h) => [h.trainLoss, h.learningRate]));
    rmSync(dir, { recursive: true });
  }
});

test('--batch-tokens: every example once per epoch, batches within the padded-token budget, bucketed, deterministic given the seed', () => {
  const s = tinySetup(300, { latentDim: 8 }, 3);
  const examples = new PackedExamples(s.examples);
  const cost = (i: number): number => Math.max(examples.srcLengths[i], examples.tgtLengths[i] + 1);
  const budget = 200;
  const plan = planEpoch(examples, { batchSize: 1, maxTokens: budget, poolFactor: 4 }, new Rng(9));
  assert.deepEqual(plan.flat().sort((a, b) => a - b), Array.from({ length: examples.length }, (_, i) => i));
  let padded = 0, real = 0;
  for (const b of plan) {
    const longest = Math.max(...b.map(cost));
    if (b.length > 1) assert.ok(b.length * longest <= budget, `batch of ${b.length} × ${longest} > ${budget}`);
    // Greedy filling: a batch of a pool's sorted run could not have taken one sentence more (except at pool ends).
    padded += b.length * longest;
    real += b.reduce((n, i) => n + cost(i), 0);
  }
  assert.ok(real / padded > 0.8, `bucketing keeps padding low: ${(real / padded).toFixed(3)} real`);
  const mean = padded / plan.length;
  assert.ok(mean > budget * 0.6, `batches are filled: mean ${mean.toFixed(1)} of ${budget} padded tokens`);
  assert.deepEqual(planEpoch(examples, { batchSize: 1, maxTokens: budget, poolFactor: 4 }, new Rng(9)), plan, 'same seed, same plan');
  assert.notDeepEqual(planEpoch(examples, { batchSize: 1, maxTokens: budget, poolFactor: 4 }, new Rng(10)), plan);
  // A sentence longer than the budget gets a batch of its own.
  const tiny = planEpoch(examples, { batchSize: 1, maxTokens: 3 }, new Rng(1));
  assert.ok(tiny.every((b) => b.length === 1));
  assert.throws(() => planEpoch(examples, { batchSize: 1, maxTokens: -1 }, new Rng(1)), /maxTokens must be an integer ≥ 0/);
  // Validation with token batches gives the same loss as with sentence batches (sums over the same tokens).
  const byTokens = evaluateLoss(s.model, examples, 16, 200), bySentences = evaluateLoss(s.model, examples, 16);
  assert.equal(byTokens.tokens, bySentences.tokens);
  assert.ok(Math.abs(byTokens.loss - bySentences.loss) < 1e-5 * bySentences.loss);
});

test('--accumulate 2 of half batches gives the update of one whole batch (token-weighted), within float tolerance', async () => {
  const results = [];
  for (const [batchSize, accumulate] of [[8, 1], [4, 2]]) {
    const s = tinySetup(8, { latentDim: 12, embeddingDim: 6, attention: 'dot' }, 5);
    const trainer = new Trainer(s.model, { train: s.examples, validation: [] }, {
      epochs: 1, batchSize, accumulate, optimizer: 'rmsprop', learningRate: 0.01, clipNorm: 0, seed: 3,
    });
    const final = await trainer.run();
    assert.equal(final.step, 1, 'one optimizer update');
    // After the last update the parameters still hold the gradient it used.
    results.push({ grads: s.model.parameters().map((p) => Float32Array.from(p.grad!)), weights: s.model.parameters().map((p) => p.data.slice()), loss: final.history[0].trainLoss });
  }
  // The two halves have different token counts, so an unweighted mean of their losses would give another gradient.
  const s = tinySetup(8, { latentDim: 12, embeddingDim: 6, attention: 'dot' }, 5);
  const halvesPlan = planEpoch(s.examples, { batchSize: 4 }, new Rng(3 * 2 + 1));
  assert.notEqual(makeBatch(s.examples, halvesPlan[0]).tokens, makeBatch(s.examples, halvesPlan[1]).tokens);
  const [whole, halves] = results;
  let maxDiff = 0, maxGrad = 0;
  whole.grads.forEach((g, i) => g.forEach((v, j) => {
    maxDiff = Math.max(maxDiff, Math.abs(v - halves.grads[i][j]));
    maxGrad = Math.max(maxGrad, Math.abs(v));
  }));
  assert.ok(maxGrad > 1e-3, 'gradients are not trivially zero');
  assert.ok(maxDiff <= 1e-5 * Math.max(1, maxGrad), `gradients differ by ${maxDiff} (largest ${maxGrad})`);
  whole.weights.forEach((w, i) => w.forEach((v, j) => assert.ok(Math.abs(v - halves.weights[i][j]) <= 1e-5, `weight ${i}[${j}]`)));
  assert.ok(Math.abs(whole.loss - halves.loss) <= 1e-6 * whole.loss, `train loss ${whole.loss} vs ${halves.loss}`);
});

test('Adam β1/β2 reach the optimizer; the trainer passes label smoothing to training forwards only (validation is the plain NLL)', async () => {
  const calls: Array<RunOptions & { labelSmoothing?: number }> = [];
  class Spy extends Seq2Seq {
    override forward(batch: Batch, opts: RunOptions = {}) {
      calls.push(opts);
      return super.forward(batch, opts);
    }
  }
  const s = tinySetup(12, { latentDim: 8 }, 3);
  const model = new Spy(s.model.config, 3);
  const trainer = new Trainer(model, { train: s.examples, validation: s.examples.slice(0, 4) }, {
    epochs: 1, batchSize: 6, optimizer: 'adam', adamBeta1: 0.8, adamBeta2: 0.98, labelSmoothing: 0.1,
  });
  assert.ok(trainer.optimizer instanceof Adam);
  assert.equal(trainer.optimizer.beta1, 0.8);
  assert.equal(trainer.optimizer.beta2, 0.98);
  await trainer.run();
  const training = calls.filter((c) => c.training), validation = calls.filter((c) => !c.training);
  assert.equal(training.length, 2);
  assert.ok(training.every((c) => c.labelSmoothing === 0.1));
  assert.ok(validation.length > 0 && validation.every((c) => !c.labelSmoothing));
  // The model honours it: smoothed = (1−ε)·NLL + ε·U, U the mean over rows and classes of −log p (order-free).
  const batch = makeBatch(s.examples, [0, 1, 2, 3]);
  const r = model.forward(batch);
  const plain = r.loss.item(), smoothed = model.forward(batch, { labelSmoothing: 0.1 }).loss.item();
  const V = r.logits.cols, rows = r.logits.rows, d = r.logits.data;
  let u = 0;
  for (let i = 0; i < rows; i++) {
    let max = -Infinity, sum = 0, mean = 0;
    for (let j = 0; j < V; j++) max = Math.max(max, d[i * V + j]);
    for (let j = 0; j < V; j++) { sum += Math.exp(d[i * V + j] - max); mean += d[i * V + j] / V; }
    u += max + Math.log(sum) - mean;
  }
  u /= rows;
  assert.ok(Math.abs(smoothed - (0.9 * plain + 0.1 * u)) < 1e-5, `smoothed ${smoothed} vs ${0.9 * plain + 0.1 * u}`);
  // Defaults are Adam's usual 0.9 / 0.999 and no smoothing.
  assert.equal(TRAIN_DEFAULTS.adamBeta1, 0.9);
  assert.equal(TRAIN_DEFAULTS.adamBeta2, 0.999);
  assert.equal(TRAIN_DEFAULTS.labelSmoothing, 0);
});

test('recipe options from the command line and YAML keys; bad values are errors naming the field', () => {
  const r = resolveTraining({ 'lr-schedule': 'noam', 'warmup-steps': 100 }, {
    labelSmoothing: '0.1', batchTokens: '3000', accumulate: '2', adamBeta1: '0.9', adamBeta2: '0.98', keepCheckpoints: '5', sharedVocab: true,
  });
  assert.equal(r.preset.train.lrSchedule, 'noam');
  assert.equal(r.preset.train.warmupSteps, 100);
  assert.equal(r.preset.train.labelSmoothing, 0.1);
  assert.equal(r.preset.train.batchTokens, 3000);
  assert.equal(r.preset.train.accumulate, 2);
  assert.equal(r.preset.train.adamBeta2, 0.98);
  assert.equal(r.preset.train.keepCheckpoints, 5);
  assert.equal(r.preset.data.sharedVocab, true);
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ labelSmoothing: 1 }, /"labelSmoothing" must be in \[0, 1\)/],
    [{ labelSmoothing: -0.1 }, /"labelSmoothing"/],
    [{ adamBeta2: 1 }, /"adamBeta2" must be in \[0, 1\)/],
    [{ adamBeta1: -1 }, /"adamBeta1"/],
    [{ lrSchedule: 'cosine' }, /"lr-schedule" must be one of constant, inverse-sqrt, noam/],
    [{ lrSchedule: 'inverse-sqrt', warmupSteps: 0 }, /"warmupSteps" must be an integer ≥ 1/],
    [{ accumulate: 0 }, /"accumulate" must be an integer ≥ 1/],
    [{ batchTokens: -5 }, /"batch-tokens" must be an integer ≥ 0/],
    [{ keepCheckpoints: 0 }, /"keep-checkpoints" must be an integer ≥ 1/],
  ];
  for (const [given, re] of bad) assert.throws(() => resolveTraining({}, given), re, JSON.stringify(given));
  // constant needs no warmup; 0 is fine there.
  assert.equal(resolveTraining({}, { warmupSteps: 0 }).preset.train.warmupSteps, 0);
});

test('s2s train --help lists the recipe flags with their defaults and the schedule formulas', () => {
  const r = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'train', '--help'], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const help = r.stdout.replace(/\s+/g, ' ');
  for (const flag of ['--label-smoothing', '--lr-schedule', '--warmup-steps', '--batch-tokens', '--accumulate', '--adam-beta1', '--adam-beta2', '--shared-vocab', '--keep-checkpoints']) {
    assert.ok(help.includes(flag), `train --help lacks ${flag}`);
  }
  assert.match(help, /validation loss stays the plain NLL/);
  assert.match(help, /--lr·√\(warmup\/step\)/);
  assert.match(help, /min\(step\^-0\.5, step·warmup\^-1\.5\)·warmup\^0\.5/);
  const avg = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'average', '--help'], { encoding: 'utf8', cwd: root, timeout: 60_000 });
  assert.match(avg.stdout, /--last <k>/);
});
