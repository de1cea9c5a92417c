/**
 * Training options with their defaults in one place. The `seed` preset is
 * the Keras lstm_seq2seq example; `demo` is a small model that trains on the
 * built-in corpus in a few minutes.
 */
import { ConfigError, type ModelConfig } from '../model/config.js';
import type { TrainOptions } from '../model/training.js';
import type { DataOptions } from '../data/options.js';
import { LR_SCHEDULES } from './lr-schedule.js';

// The option types live below bundle/ (which records them); re-exported here for existing imports.
export type { TrainOptions, DataOptions };

/** A named set of model, training and data options. */
export interface Preset {
  model: Partial<ModelConfig>;
  train: TrainOptions;
  data: DataOptions;
}

const SEED_TRAIN: TrainOptions = {
  epochs: 100,
  batchSize: 64,
  optimizer: 'rmsprop',
  learningRate: 0.001,
  clipNorm: 0,
  seed: 1,
  checkpointEvery: 0,
  monitor: 'loss',
  patience: 0,
  lrDecay: 1,
  lrPatience: 2,
  minLearningRate: 1e-5,
  bleuSamples: 0,
  nanPolicy: 'stop',
  maxMinutes: 0,
  labelSmoothing: 0,
  lrSchedule: 'constant',
  warmupSteps: 4000,
  batchTokens: 0,
  accumulate: 1,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  keepCheckpoints: 2,
  dataParallel: 1,
};

const SEED_DATA: DataOptions = {
  samples: 10_000,
  maxSourceLength: 200,
  maxTargetLength: 200,
  split: 'hash',
  normalizeSpaces: false,
  skipBadLines: false,
  level: 'char',
  bpeMerges: 8000,
  sharedVocab: false,
};

/** Defaults for any option not given (the seed's). */
export const TRAIN_DEFAULTS: Readonly<TrainOptions> = SEED_TRAIN;

/** The built-in presets (`train({ preset })`, `s2s train --preset`). */
export const PRESETS: Record<string, Preset> = {
  /** The Keras example: char LSTM(256), RMSprop, batch 64, 100 epochs, 10,000 samples. */
  seed: { model: { cell: 'lstm', latentDim: 256, layers: 1, embeddingDim: 0, dropout: 0 }, train: SEED_TRAIN, data: SEED_DATA },
  /** A small attention model for the built-in corpus: trains in a few minutes on two cores. */
  demo: {
    // Attention makes the small corpus learnable in a few epochs (the plain seed model still mixes up words after 12).
    model: { cell: 'lstm', latentDim: 128, layers: 1, embeddingDim: 32, dropout: 0, bidirectional: true, attention: 'general' },
    train: { ...SEED_TRAIN, epochs: 10, optimizer: 'adam', learningRate: 0.003, clipNorm: 5 },
    data: { ...SEED_DATA, samples: 'all' },
  },
};

/** A copy of the preset of that name; ConfigError for an unknown one. */
export function getPreset(name: string): Preset {
  const p = PRESETS[name];
  if (!p) throw new ConfigError(`unknown preset "${name}" (known: ${Object.keys(PRESETS).join(', ')})`);
  return structuredClone(p);
}

export function validateTrainOptions(o: TrainOptions): void {
  const posInt = (k: keyof TrainOptions, min = 1): void => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(`"${k}" must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  posInt('epochs', 0);
  posInt('batchSize');
  posInt('checkpointEvery', 0);
  posInt('seed', 0);
  if (o.optimizer !== 'rmsprop' && o.optimizer !== 'adam') throw new ConfigError(`"optimizer" must be rmsprop or adam, got ${JSON.stringify(o.optimizer)}`);
  if (!(o.learningRate > 0 && o.learningRate < 10)) throw new ConfigError(`"learningRate" must be in (0, 10), got ${o.learningRate}`);
  if (!(o.clipNorm >= 0)) throw new ConfigError(`"clipNorm" must be ≥ 0, got ${o.clipNorm}`);
  if (o.monitor !== 'loss' && o.monitor !== 'bleu') throw new ConfigError(`"monitor" must be loss or bleu, got ${JSON.stringify(o.monitor)}`);
  posInt('patience', 0);
  posInt('lrPatience', 1);
  posInt('bleuSamples', 0);
  if (!(o.lrDecay > 0 && o.lrDecay <= 1)) throw new ConfigError(`"lrDecay" must be in (0, 1], got ${o.lrDecay}`);
  if (!(o.minLearningRate >= 0)) throw new ConfigError(`"minLearningRate" must be ≥ 0, got ${o.minLearningRate}`);
  if (!(o.maxMinutes >= 0)) throw new ConfigError(`"maxMinutes" must be ≥ 0, got ${o.maxMinutes}`);
  if (o.nanPolicy !== 'stop' && o.nanPolicy !== 'skip-batch') throw new ConfigError(`"nanPolicy" must be stop or skip-batch, got ${JSON.stringify(o.nanPolicy)}`);
  if (!(o.labelSmoothing >= 0 && o.labelSmoothing < 1)) throw new ConfigError(`"labelSmoothing" must be in [0, 1), got ${o.labelSmoothing}`);
  if (!LR_SCHEDULES.includes(o.lrSchedule)) throw new ConfigError(`"lrSchedule" must be one of ${LR_SCHEDULES.join(', ')}, got ${JSON.stringify(o.lrSchedule)}`);
  posInt('warmupSteps', o.lrSchedule === 'constant' ? 0 : 1);
  posInt('batchTokens', 0);
  posInt('accumulate');
  posInt('keepCheckpoints');
  posInt('dataParallel');
  if (o.dataParallel > 16) throw new ConfigError(`"dataParallel" must be at most 16, got ${o.dataParallel}`);
  for (const k of ['adamBeta1', 'adamBeta2'] as const) {
    if (!(o[k] >= 0 && o[k] < 1)) throw new ConfigError(`"${k}" must be in [0, 1), got ${o[k]}`);
  }
  if (o.monitor === 'bleu' && o.bleuSamples === 0) throw new ConfigError('"monitor: bleu" needs "bleuSamples" > 0 (validation sentences to translate each epoch)');
}
