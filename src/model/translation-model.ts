/**
 * What every architecture offers the rest of s2s (decode, bundle, train and
 * the applications): the training graph (`forward`) and the inference
 * models (`encode` → `decodeStep` … with `selectState` to reorder rows).
 * The decoder state `S` is opaque outside the model: decoders only pass it
 * back or reorder it, so they never branch on the architecture.
 */
import { kernels, type Tensor, type Rng } from '../engine/index.js';
import type { Batch } from '../data/batching.js';
import type { ModelConfig } from './config.js';

/** Token ids of a batch, row-major [size, maxLen], PAD-padded, with lengths. */
export interface IdBatch {
  ids: Int32Array;
  lengths: Int32Array;
  maxLen: number;
}

/** What the training graph needs of a batch. */
export type TrainingBatch = Pick<Batch, 'size' | 'srcIds' | 'srcLengths' | 'srcMaxLen' | 'tgtIn' | 'tgtOut' | 'tgtLengths' | 'tgtMaxLen'>;

export interface ForwardResult {
  /** Mean cross-entropy over real target tokens (label-smoothed when asked). */
  loss: Tensor;
  /** Number of real target tokens (EOS included, padding excluded). */
  tokens: number;
  /** Tokens whose argmax prediction equals the target. */
  correct: number;
  /** Output-layer pre-activations of every real target position, packed (step-major, rows by target length); the Transformer computes them on first read (its loss never materialises them). */
  logits: Tensor;
}

export interface RunOptions {
  /** Enables dropout. Default false. */
  training?: boolean;
  /** Dropout randomness (required when training with dropout > 0). */
  rng?: Rng;
  /** Label smoothing ε of the cross-entropy (as torch's label_smoothing). Default 0. */
  labelSmoothing?: number;
}

/** A weight matrix and the axis of its int8 scales (see TranslationModel.int8Plan). */
export interface Int8PlanEntry {
  param: Tensor;
  axis: 0 | 1;
}

/** One step of the one-step decoder. */
export interface StepResult<S> {
  /** Next-token logits [rows, V]. */
  logits: Tensor;
  /**
   * Their log-softmax [rows, V], when the model computes it (fused with the
   * output layer); decoders then rank by these values instead of normalising the logits themselves.
   */
  logProbs?: Tensor;
  /** The state after this step (the given one is left unchanged). */
  state: S;
  /** Attention weights over the source positions [rows, S], or null for models without attention. */
  attention: Tensor | null;
}

/** An encoder–decoder translation model (RNN Seq2Seq or Transformer). */
export interface TranslationModel<S = unknown> {
  readonly config: ModelConfig;
  /** True when decodeStep returns attention weights. */
  readonly hasAttention: boolean;
  /** Every trainable parameter, in a fixed order with unique, stable names (checkpoints and bundles use them). */
  parameters(): Tensor[];
  parameterCount(): number;
  /** Source batch → decoder state with one row per sentence, in batch order. */
  encode(src: IdBatch, opts?: RunOptions): S;
  /** The previous token of each row → next-token logits, the new state and attention weights. */
  decodeStep(tokens: Int32Array, state: S): StepResult<S>;
  /** The rows of `state` picked by `index` (rows may repeat): drops finished sentences, expands and reorders beams. */
  selectState(state: S, index: Int32Array): S;
  /** Training graph (teacher forcing). */
  forward(batch: TrainingBatch, opts?: RunOptions): ForwardResult;
  /**
   * The weight matrices int8 quantization stores (`s2s quantize`), each with
   * the axis its output channels run along: 0 for tables read by row and
   * used as x·Wᵀ (embeddings, tied output layers, id-input kernels), 1 for
   * kernels used as x·W. Biases and layer norms are not listed (they stay float32).
   */
  int8Plan(): Int8PlanEntry[];
}

/** Rows whose argmax equals the target. */
export function countCorrect(logits: Tensor, targets: Int32Array): number {
  const best = new Int32Array(targets.length);
  if (targets.length > 0) kernels().argmaxRows(targets.length, logits.cols, logits.data, best);
  let correct = 0;
  for (let r = 0; r < targets.length; r++) if (best[r] === targets[r]) correct++;
  return correct;
}
