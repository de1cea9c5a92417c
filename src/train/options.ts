/**
 * Training options with their defaults in one place. The `seed` preset is
 * the Keras lstm_seq2seq example; `demo` is a small model that trains on the
 * built-in corpus in a few minutes.
 */
import type { OptimizerName } from '../engine/index.js';
import { ConfigError, type ModelConfig } from '../model/config.js';

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
}

export interface DataOptions {
  /** First N pairs of the file (Keras's num_samples), or 'all'. */
  samples: number | 'all';
  /** Longest source/target in characters (tokens for word/BPE); longer pairs are skipped and counted. */
  maxSourceLength: number;
  maxTargetLength: number;
  /** 'hash' = 90/5/5 keyed by source sentence; 'keras' = last 20% for validation, no test set. */
  split: 'hash' | 'keras';
  /** Fold U+202F/U+00A0/U+2009 to plain spaces. */
  normalizeSpaces: boolean;
  /** Skip malformed lines (counted) instead of failing. */
  skipBadLines: boolean;
  /** Token level: characters (the seed), words, or BPE subwords. */
  level: 'char' | 'word' | 'bpe';
  /** BPE merges learned from the training split (level 'bpe'). */
  bpeMerges: number;
}

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
};

/** Defaults for any option not given (the seed's). */
export const TRAIN_DEFAULTS: Readonly<TrainOptions> = SEED_TRAIN;

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
  if (o.monitor === 'bleu' && o.bleuSamples === 0) throw new ConfigError('"monitor: bleu" needs "bleuSamples" > 0 (validation sentences to translate each epoch)');
}
