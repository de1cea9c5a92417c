/**
 * The model interface and the factory: `createModel(config, seed)` builds
 * the architecture `config.arch` names (an RNN Seq2Seq or a Transformer).
 * Everything outside model/ builds and uses models through these.
 */
import { Seq2Seq } from './seq2seq.js';
import { Transformer } from './transformer.js';
import { resolveModelConfig, type ModelConfig } from './config.js';
import type { TranslationModel } from './translation-model.js';

export type { TranslationModel, IdBatch, TrainingBatch, ForwardResult, RunOptions, StepResult } from './translation-model.js';

/**
 * A freshly initialised model of the architecture the config names (default
 * RNN), weights seeded by `seed`; with `seed` null, no initial weights are
 * drawn (all zero) — for a model whose weights are assigned next, as
 * loading a bundle does.
 */
export function createModel(config: Partial<ModelConfig> & Pick<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'>, seed: number | null = 0): TranslationModel {
  const c = resolveModelConfig(config);
  return c.arch === 'transformer' ? new Transformer(c, seed) : new Seq2Seq(c, seed);
}
