/**
 * The record of how a model was trained: the training options and the
 * per-epoch history. train/ produces them and bundle/ stores them
 * (config.json's "train", history.json), so they live below both. Defaults,
 * presets and validation are in train/options.ts.
 */
import type { OptimizerName } from '../engine/index.js';

// The data options are the data layer's concept; re-exported so everything a bundle records has one import.
export type { DataOptions } from '../data/options.js';

/** Options of the training loop (the `train` part of a bundle's config.json). */
export interface TrainOptions {
  /** Passes over the training split. */
  epochs: number;
  /** Sentence pairs per batch. */
  batchSize: number;
  optimizer: OptimizerName;
  learningRate: number;
  /** Clip gradients to this global L2 norm; 0 disables. */
  clipNorm: number;
  /** Seeds weights, data order and dropout. */
  seed: number;
  /** Save a checkpoint every this many steps (0: only at epoch ends). */
  checkpointEvery: number;
  /** Validation metric that picks the best model and drives early stopping / LR decay. */
  monitor: 'loss' | 'bleu';
  /** Stop after this many epochs without improvement of the monitored metric (0: never). */
  patience: number;
  /** Multiply the learning rate by this after `lrPatience` epochs without improvement (1: off). */
  lrDecay: number;
  lrPatience: number;
  /** Learning rate floor for decay. */
  minLearningRate: number;
  /** Validation sentences translated (greedy) for BLEU each epoch (0: no BLEU). */
  bleuSamples: number;
  /** On a NaN/infinite loss or gradient: stop (keeping the last checkpoint) or skip the batch. */
  nanPolicy: 'stop' | 'skip-batch';
  /** Wall-clock budget for training and validation, over all resumes (0: none). */
  maxMinutes: number;
  /** Label smoothing ε of the training loss (0: plain cross-entropy); validation loss is always the plain NLL. */
  labelSmoothing: number;
  /** Per-update learning-rate schedule (train/lr-schedule.ts); 'constant' is --lr throughout (plateau decay aside). */
  lrSchedule: LrScheduleName;
  /** Linear warmup updates of the inverse-sqrt and noam schedules. */
  warmupSteps: number;
  /** Fill training batches to this many padded tokens instead of `batchSize` sentences (0: off). */
  batchTokens: number;
  /** Batches whose gradients are summed (weighted by tokens) into one optimizer update. */
  accumulate: number;
  /** Adam's moment decays. */
  adamBeta1: number;
  adamBeta2: number;
  /** Step checkpoints kept on disk (the last K, for `s2s average`). */
  keepCheckpoints: number;
  /**
   * Model replicas training each batch's parts at once, one thread each with
   * single-threaded kernels (1: one model, multithreaded kernels).
   */
  dataParallel: number;
}

/** Learning-rate schedules (formulas in train/lr-schedule.ts). */
export type LrScheduleName = 'constant' | 'inverse-sqrt' | 'noam';

/** What one epoch of training did: losses, accuracy, BLEU, speed (one entry of history.json). */
export interface EpochRecord {
  epoch: number;
  step: number;
  trainLoss: number;
  valLoss: number | null;
  valAccuracy: number | null;
  /** Validation BLEU on `bleuSamples` sentences (greedy), when enabled. */
  valBleu: number | null;
  seconds: number;
  tokensPerSecond: number;
  learningRate: number;
}
