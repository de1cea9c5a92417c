/**
 * Model architecture options with their defaults in one place. The defaults
 * are the Keras lstm_seq2seq seed: one LSTM layer of 256 units on each side,
 * inputs fed one-hot (as an embedding whose rows are the input weights).
 */
import { ConfigError } from '../errors.js';

/** Recurrent cell of encoder and decoder. */
export type CellType = 'lstm' | 'gru';
/** Attention of the decoder over the encoder states. */
export type AttentionType = 'none' | 'dot' | 'general' | 'additive';

/** Architecture of a Seq2Seq model; every field is validated by `resolveModelConfig`. */
export interface ModelConfig {
  /** Recurrent cell. Default 'lstm'. */
  cell: CellType;
  /** Units per recurrent layer (Keras latent_dim). Default 256. */
  latentDim: number;
  /** Recurrent layers in encoder and decoder. Default 1. */
  layers: number;
  /** Learned embedding size; 0 feeds one-hot-equivalent inputs as the seed does. Default 0. */
  embeddingDim: number;
  /** Dropout between layers and on embeddings during training. Default 0. */
  dropout: number;
  /** Forward and backward encoder RNNs; decoder states from a learned projection of both. Default false. */
  bidirectional: boolean;
  /** Luong dot/general or Bahdanau additive attention with input feeding; 'none' is the seed. Default 'none'. */
  attention: AttentionType;
  /** Source vocabulary size (from the data). */
  srcVocabSize: number;
  /** Target vocabulary size (from the data). */
  tgtVocabSize: number;
}

/** Defaults of every architecture field (the Keras seed). */
export const MODEL_DEFAULTS: Omit<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'> = {
  cell: 'lstm',
  latentDim: 256,
  layers: 1,
  embeddingDim: 0,
  dropout: 0,
  bidirectional: false,
  attention: 'none',
};

// Declared below every layer (data and engine raise it too); re-exported here, where it began.
export { ConfigError };

/** Fills defaults and validates every field, naming the bad one. */
export function resolveModelConfig(partial: Partial<ModelConfig> & Pick<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'>, where = 'model config'): ModelConfig {
  const c: ModelConfig = { ...MODEL_DEFAULTS, ...stripUndefined(partial) } as ModelConfig;
  const int = (field: keyof ModelConfig, min: number, max: number): void => {
    const v = c[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ConfigError(`${where}: "${field}" must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
    }
  };
  if (c.cell !== 'lstm' && c.cell !== 'gru') throw new ConfigError(`${where}: "cell" must be "lstm" or "gru", got ${JSON.stringify(c.cell)}`);
  int('latentDim', 1, 8192);
  int('layers', 1, 16);
  int('embeddingDim', 0, 8192);
  int('srcVocabSize', 4, 1_000_000);
  int('tgtVocabSize', 4, 1_000_000);
  if (typeof c.bidirectional !== 'boolean') throw new ConfigError(`${where}: "bidirectional" must be true or false, got ${JSON.stringify(c.bidirectional)}`);
  if (!['none', 'dot', 'general', 'additive'].includes(c.attention)) {
    throw new ConfigError(`${where}: "attention" must be none, dot, general or additive, got ${JSON.stringify(c.attention)}`);
  }
  if (c.attention === 'dot' && c.bidirectional) {
    throw new ConfigError(`${where}: dot attention needs encoder and decoder states of one size; with "bidirectional" use general or additive attention`);
  }
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout < 1)) throw new ConfigError(`${where}: "dropout" must be in [0, 1), got ${JSON.stringify(c.dropout)}`);
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
