/**
 * Model architecture options with their defaults in one place. The defaults
 * are the Keras lstm_seq2seq seed: one LSTM layer of 256 units on each side,
 * inputs fed one-hot (as an embedding whose rows are the input weights).
 * `arch: 'transformer'` selects the Transformer; its fields (modelDim, heads,
 * …) are ignored by RNN models and the RNN-only ones (cell, latentDim, …) by
 * Transformers. A config without `arch` (every bundle written before the
 * Transformer) is an RNN.
 */
import { ConfigError } from '../errors.js';

/** Recurrent cell of encoder and decoder. */
export type CellType = 'lstm' | 'gru';
/** Attention of the decoder over the encoder states. */
export type AttentionType = 'none' | 'dot' | 'general' | 'additive';
/** Model family. */
export type ArchType = 'rnn' | 'transformer';
/** Transformer feed-forward activation (GELU is the exact erf one, as torch's default). */
export type ActivationType = 'relu' | 'gelu';
/** Transformer position encoding. */
export type PositionsType = 'sinusoidal' | 'learned';

/** Architecture of a model (RNN Seq2Seq or Transformer); every field is validated by `resolveModelConfig`. */
export interface ModelConfig {
  /** Model family. Default 'rnn'. */
  arch: ArchType;
  /** Recurrent cell. Default 'lstm'. */
  cell: CellType;
  /** Units per recurrent layer (Keras latent_dim). Default 256. */
  latentDim: number;
  /** Layers in encoder and decoder (recurrent layers, or Transformer blocks unless encoderLayers/decoderLayers say otherwise). Default 1. */
  layers: number;
  /** Learned embedding size; 0 feeds one-hot-equivalent inputs as the seed does. Default 0. */
  embeddingDim: number;
  /** Dropout between layers and on embeddings during training (Transformer: on embeddings and every residual branch). Default 0. */
  dropout: number;
  /** Forward and backward encoder RNNs; decoder states from a learned projection of both. Default false. */
  bidirectional: boolean;
  /** Luong dot/general or Bahdanau additive attention with input feeding; 'none' is the seed. Default 'none'. */
  attention: AttentionType;
  /** Transformer: width of every block (d_model). Default 256. */
  modelDim: number;
  /** Transformer: attention heads (modelDim must be a multiple). Default 4. */
  heads: number;
  /** Transformer: inner width of the feed-forward sublayer. Default 1024. */
  ffDim: number;
  /** Transformer encoder blocks; 0 = `layers`. Default 0. */
  encoderLayers: number;
  /** Transformer decoder blocks; 0 = `layers`. Default 0. */
  decoderLayers: number;
  /** Transformer: dropout on attention probabilities. Default 0. */
  attentionDropout: number;
  /** Transformer feed-forward activation. Default 'relu'. */
  activation: ActivationType;
  /** Transformer: layer norm after each residual add (the original paper) instead of before each sublayer. Default false (pre-LN). */
  postNorm: boolean;
  /** Transformer position encoding. Default 'sinusoidal'. */
  positions: PositionsType;
  /** Transformer: longest sequence (tokens, BOS/EOS included) the positions cover. Default 1024. */
  maxPositions: number;
  /**
   * One embedding table for source and target (needs srcVocabSize === tgtVocabSize, i.e. a shared vocabulary).
   * Transformer: also the output projection (logits = h·Eᵀ). RNN: needs embeddingDim > 0; the output layer's kernel
   * is tied too when embeddingDim === latentDim. Default false.
   */
  tieEmbeddings: boolean;
  /** Source vocabulary size (from the data). */
  srcVocabSize: number;
  /** Target vocabulary size (from the data). */
  tgtVocabSize: number;
}

/** Defaults of every architecture field (the Keras seed). */
export const MODEL_DEFAULTS: Omit<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'> = {
  arch: 'rnn',
  cell: 'lstm',
  latentDim: 256,
  layers: 1,
  embeddingDim: 0,
  dropout: 0,
  bidirectional: false,
  attention: 'none',
  modelDim: 256,
  heads: 4,
  ffDim: 1024,
  encoderLayers: 0,
  decoderLayers: 0,
  attentionDropout: 0,
  activation: 'relu',
  postNorm: false,
  positions: 'sinusoidal',
  maxPositions: 1024,
  tieEmbeddings: false,
};

/** Transformer encoder blocks (`encoderLayers`, or `layers` when 0). */
export function encoderLayerCount(c: ModelConfig): number {
  return c.encoderLayers > 0 ? c.encoderLayers : c.layers;
}

/** Transformer decoder blocks (`decoderLayers`, or `layers` when 0). */
export function decoderLayerCount(c: ModelConfig): number {
  return c.decoderLayers > 0 ? c.decoderLayers : c.layers;
}

/** Whether the model returns attention weights over the source (Transformers always; RNNs with an attention layer). */
export function configHasAttention(c: Pick<ModelConfig, 'arch' | 'attention'>): boolean {
  return c.arch === 'transformer' || c.attention !== 'none';
}

/** A one-line description of the architecture, for logs and model info. */
export function describeArchitecture(c: ModelConfig): string {
  if (c.arch === 'transformer') {
    const enc = encoderLayerCount(c), dec = decoderLayerCount(c);
    return `Transformer ${enc}+${dec} layers, d ${c.modelDim}, ${c.heads} heads, ff ${c.ffDim}${c.postNorm ? ', post-LN' : ''}${c.tieEmbeddings ? ', tied embeddings' : ''}`;
  }
  return `${c.bidirectional ? 'bidirectional ' : ''}${c.cell.toUpperCase()} ${c.layers}×${c.latentDim}${c.attention !== 'none' ? `, ${c.attention} attention` : ''}${c.tieEmbeddings ? ', tied embeddings' : ''}`;
}

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
  if (c.arch !== 'rnn' && c.arch !== 'transformer') throw new ConfigError(`${where}: "arch" must be "rnn" or "transformer", got ${JSON.stringify(c.arch)}`);
  int('modelDim', 1, 16384);
  int('heads', 1, 1024);
  int('ffDim', 1, 65536);
  int('encoderLayers', 0, 64);
  int('decoderLayers', 0, 64);
  int('maxPositions', 2, 1_000_000);
  if (typeof c.attentionDropout !== 'number' || !(c.attentionDropout >= 0 && c.attentionDropout < 1)) {
    throw new ConfigError(`${where}: "attentionDropout" must be in [0, 1), got ${JSON.stringify(c.attentionDropout)}`);
  }
  if (c.activation !== 'relu' && c.activation !== 'gelu') throw new ConfigError(`${where}: "activation" must be "relu" or "gelu", got ${JSON.stringify(c.activation)}`);
  if (typeof c.postNorm !== 'boolean') throw new ConfigError(`${where}: "postNorm" must be true or false, got ${JSON.stringify(c.postNorm)}`);
  if (c.positions !== 'sinusoidal' && c.positions !== 'learned') throw new ConfigError(`${where}: "positions" must be "sinusoidal" or "learned", got ${JSON.stringify(c.positions)}`);
  if (typeof c.tieEmbeddings !== 'boolean') throw new ConfigError(`${where}: "tieEmbeddings" must be true or false, got ${JSON.stringify(c.tieEmbeddings)}`);
  if (c.arch === 'transformer' && c.modelDim % c.heads !== 0) {
    throw new ConfigError(`${where}: "modelDim" (${c.modelDim}) must be a multiple of "heads" (${c.heads})`);
  }
  if (c.tieEmbeddings && c.srcVocabSize !== c.tgtVocabSize) {
    throw new ConfigError(`${where}: "tieEmbeddings" needs one vocabulary for both sides (srcVocabSize ${c.srcVocabSize} ≠ tgtVocabSize ${c.tgtVocabSize}); train with --shared-vocab`);
  }
  if (c.tieEmbeddings && c.arch === 'rnn' && c.embeddingDim === 0) {
    throw new ConfigError(`${where}: "tieEmbeddings" for an RNN model needs learned embeddings ("embeddingDim" > 0)`);
  }
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
