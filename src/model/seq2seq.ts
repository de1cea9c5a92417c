/**
 * The encoder–decoder of the Keras lstm_seq2seq example, generalised to
 * stacked LSTM/GRU layers and learned embeddings. One set of parameter
 * objects serves three graphs, as in the seed:
 *   - the training model (teacher forcing): `forward(batch)` → loss;
 *   - the inference encoder model: `encode(source)` → per-layer states;
 *   - the one-step decoder model: `decodeStep(tokens, states)` → next-token
 *     logits and new states.
 * Sequences run packed (sorted by length, padding never computed), so a
 * sentence gets the same result alone or in a batch of longer ones.
 */
import { Tensor, ops, packedLayout, glorotUniform, uniform, parameter, Rng, type PackedLayout } from '../engine/index.js';
import { resolveModelConfig, type ModelConfig } from './config.js';
import { RecurrentLayer, gatherState, type LayerState, type LayerInput } from './recurrent.js';

/** Token ids of a batch, row-major [size, maxLen], PAD-padded, with lengths. */
export interface IdBatch {
  ids: Int32Array;
  lengths: Int32Array;
  maxLen: number;
}

/** What the training graph needs of a batch (the data layer's Batch fits). */
export interface TrainingBatch {
  size: number;
  srcIds: Int32Array;
  srcLengths: Int32Array;
  srcMaxLen: number;
  tgtIn: Int32Array;
  tgtOut: Int32Array;
  tgtLengths: Int32Array;
  tgtMaxLen: number;
}

/** Decoder state: one LayerState per layer, rows in the caller's order. */
export interface DecoderState {
  layers: LayerState[];
}

export interface ForwardResult {
  /** Mean cross-entropy over real target tokens. */
  loss: Tensor;
  /** Number of real target tokens (EOS included, padding excluded). */
  tokens: number;
  /** Tokens whose argmax prediction equals the target. */
  correct: number;
}

export interface RunOptions {
  /** Enables dropout. Default false. */
  training?: boolean;
  /** Dropout randomness (required when training with dropout > 0). */
  rng?: Rng;
}

/** Stable order of rows by length, longest first, and the sorted lengths. */
export function lengthOrder(lengths: Int32Array): { order: Int32Array; sorted: Int32Array; inverse: Int32Array } {
  const order = Int32Array.from({ length: lengths.length }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const sorted = new Int32Array(lengths.length);
  const inverse = new Int32Array(lengths.length);
  for (let j = 0; j < order.length; j++) {
    sorted[j] = lengths[order[j]];
    inverse[order[j]] = j;
  }
  return { order, sorted, inverse };
}

/** Packed positions of a padded [B, stride] id array for rows taken in `order`. */
function packedPositions(layout: PackedLayout, order: Int32Array, stride: number): Int32Array {
  const pos = new Int32Array(layout.total);
  for (let t = 0; t < layout.steps; t++) {
    const off = layout.offsets[t];
    for (let j = 0; j < layout.batchSizes[t]; j++) pos[off + j] = order[j] * stride + t;
  }
  return pos;
}

function pick(ids: Int32Array, positions: Int32Array): Int32Array {
  const out = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = ids[positions[i]];
  return out;
}

export class Seq2Seq {
  readonly config: ModelConfig;
  readonly srcEmbedding: Tensor | null;
  readonly tgtEmbedding: Tensor | null;
  readonly encoder: RecurrentLayer[];
  readonly decoder: RecurrentLayer[];
  readonly outputKernel: Tensor;
  readonly outputBias: Tensor;

  constructor(config: Partial<ModelConfig> & Pick<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'>, seed = 0) {
    this.config = resolveModelConfig(config);
    const c = this.config;
    const rng = new Rng(seed);
    const H = c.latentDim, D = c.embeddingDim;
    this.srcEmbedding = D > 0 ? parameter('encoder/embedding', [c.srcVocabSize, D], uniform([c.srcVocabSize, D], rng, 0.05)) : null;
    this.tgtEmbedding = D > 0 ? parameter('decoder/embedding', [c.tgtVocabSize, D], uniform([c.tgtVocabSize, D], rng, 0.05)) : null;
    const layers = (side: 'encoder' | 'decoder', vocab: number): RecurrentLayer[] =>
      Array.from({ length: c.layers }, (_, l) => new RecurrentLayer(`${side}/${c.cell}_${l}`, c.cell, l === 0 ? (D > 0 ? D : vocab) : H, H, rng));
    this.encoder = layers('encoder', c.srcVocabSize);
    this.decoder = layers('decoder', c.tgtVocabSize);
    this.outputKernel = parameter('output/kernel', [H, c.tgtVocabSize], glorotUniform([H, c.tgtVocabSize], rng));
    this.outputBias = parameter('output/bias', [c.tgtVocabSize], new Float32Array(c.tgtVocabSize));
  }

  /** Every trainable parameter, in a fixed order with unique names. */
  parameters(): Tensor[] {
    const p: Tensor[] = [];
    if (this.srcEmbedding) p.push(this.srcEmbedding);
    for (const l of this.encoder) p.push(...l.parameters());
    if (this.tgtEmbedding) p.push(this.tgtEmbedding);
    for (const l of this.decoder) p.push(...l.parameters());
    p.push(this.outputKernel, this.outputBias);
    return p;
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Runs a stack of layers over packed ids; returns the top output and every layer's final state. */
  private runStack(
    stack: RecurrentLayer[], embedding: Tensor | null, ids: Int32Array, layout: PackedLayout,
    initial: LayerState[] | null, opts: RunOptions,
  ): { output: Tensor; states: LayerState[] } {
    const training = opts.training ?? false;
    const p = this.config.dropout;
    const rng = opts.rng ?? new Rng(0);
    let input: LayerInput = embedding ? { x: ops.dropout(ops.gatherRows(embedding, ids), p, rng, training) } : { ids };
    const states: LayerState[] = [];
    let output: Tensor | null = null;
    stack.forEach((layer, l) => {
      const r = layer.run(input, layout, initial ? initial[l] : layer.zeroState(layout.batch));
      states.push(r.state);
      output = r.output;
      if (l + 1 < stack.length) input = { x: ops.dropout(r.output, p, rng, training) };
    });
    return { output: output as unknown as Tensor, states };
  }

  /** Inference encoder model: source ids → per-layer final states, rows in input order. */
  encode(src: IdBatch, opts: RunOptions = {}): DecoderState {
    const { order, sorted, inverse } = lengthOrder(src.lengths);
    const layout = packedLayout(sorted);
    const ids = pick(src.ids, packedPositions(layout, order, src.maxLen));
    const { states } = this.runStack(this.encoder, this.srcEmbedding, ids, layout, null, opts);
    return { layers: states.map((s) => gatherState(s, inverse)) };
  }

  /**
   * One-step decoder model: the previous token of each row and the states
   * → logits over the target vocabulary [B, V] and the new states.
   */
  decodeStep(tokens: Int32Array, state: DecoderState): { logits: Tensor; state: DecoderState } {
    const layout = packedLayout(new Int32Array(tokens.length).fill(1));
    const { output, states } = this.runStack(this.decoder, this.tgtEmbedding, tokens, layout, state.layers, {});
    return { logits: this.project(output), state: { layers: states } };
  }

  /**
   * The state rows picked by `index` (rows may repeat): how decoders drop
   * finished sentences or expand and reorder beams.
   */
  selectState(state: DecoderState, index: Int32Array): DecoderState {
    return { layers: state.layers.map((l) => gatherState(l, index)) };
  }

  /** Dense softmax layer's pre-activations. */
  project(hidden: Tensor): Tensor {
    return ops.add(ops.matmul(hidden, this.outputKernel), this.outputBias);
  }

  /** Training model (teacher forcing): mean cross-entropy over the real target tokens. */
  forward(batch: TrainingBatch, opts: RunOptions = {}): ForwardResult {
    const encoded = this.encode({ ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen }, opts);
    const { order, sorted } = lengthOrder(batch.tgtLengths);
    const layout = packedLayout(sorted);
    const positions = packedPositions(layout, order, batch.tgtMaxLen);
    const initial = encoded.layers.map((s) => gatherState(s, order));
    const { output } = this.runStack(this.decoder, this.tgtEmbedding, pick(batch.tgtIn, positions), layout, initial, opts);
    const logits = this.project(output);
    const targets = pick(batch.tgtOut, positions);
    const loss = ops.softmaxCrossEntropy(logits, targets);
    return { loss, tokens: targets.length, correct: countCorrect(logits, targets) };
  }
}

/** Rows whose argmax equals the target. */
export function countCorrect(logits: Tensor, targets: Int32Array): number {
  const V = logits.cols, d = logits.data;
  let correct = 0;
  for (let r = 0; r < targets.length; r++) {
    let best = 0, bestV = -Infinity;
    for (let j = 0; j < V; j++) {
      if (d[r * V + j] > bestV) {
        bestV = d[r * V + j];
        best = j;
      }
    }
    if (best === targets[r]) correct++;
  }
  return correct;
}
