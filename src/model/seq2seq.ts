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
import { Tensor, ops, packedLayout, reverseIndex, glorotUniform, uniform, parameter, Rng, kernels } from '../engine/index.js';
import { Attention, selectMemory, type Memory } from './attention.js';
import { resolveModelConfig, type ModelConfig } from './config.js';
import { RecurrentLayer, gatherState, type LayerState, type LayerInput } from './recurrent.js';
import { countCorrect, type Int8PlanEntry, type IdBatch, type TrainingBatch, type ForwardResult, type RunOptions, type TranslationModel, type StepResult } from './translation-model.js';
import { lengthOrder, packedPositions, pick } from './packing.js';

// The shared model types live in translation-model.ts; re-exported for existing imports.
export type { IdBatch, TrainingBatch, ForwardResult, RunOptions };
export { countCorrect, lengthOrder };

/** Decoder state, rows in the caller's order. */
export interface DecoderState {
  /** One state per decoder layer. */
  layers: LayerState[];
  /** Encoder outputs to attend over (attention models). */
  memory?: Memory;
  /** Previous attentional vector, fed into the next step's input (attention models). */
  feed?: Tensor;
}

/** The encoder-decoder model: its parameters and the training, encoder and one-step decoder computations that share them. */
export class Seq2Seq implements TranslationModel<DecoderState> {
  readonly config: ModelConfig;
  /** With tieEmbeddings, source and target embeddings are one tensor ("embedding/shared"). */
  readonly srcEmbedding: Tensor | null;
  readonly tgtEmbedding: Tensor | null;
  readonly encoder: RecurrentLayer[];
  /** Backward-direction encoder layers (bidirectional only). */
  readonly encoderReverse: RecurrentLayer[];
  /** Per layer: projections of [forward; backward] final states to decoder states (bidirectional only). */
  readonly bridges: { h: [Tensor, Tensor]; c: [Tensor, Tensor] | null }[];
  readonly decoder: RecurrentLayer[];
  readonly attention: Attention | null;
  /** [H, V]; or, when the output layer is tied to the embeddings, the shared embedding [V, H] itself. */
  readonly outputKernel: Tensor;
  /** True when outputKernel is the shared embedding table (logits = h·Eᵀ + b). */
  readonly tiedOutput: boolean;
  readonly outputBias: Tensor;

  /** `seed` null: no initial weights (zeros, nothing drawn), for weights assigned next (see createModel). */
  constructor(config: Partial<ModelConfig> & Pick<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'>, seed: number | null = 0) {
    this.config = resolveModelConfig(config);
    const c = this.config;
    const rng = seed === null ? null : new Rng(seed);
    const H = c.latentDim, D = c.embeddingDim;
    const dirs = c.bidirectional ? 2 : 1;
    if (c.tieEmbeddings) {
      const shared = parameter('embedding/shared', [c.srcVocabSize, D], uniform([c.srcVocabSize, D], rng, 0.05));
      this.srcEmbedding = shared;
      this.tgtEmbedding = shared;
    } else {
      this.srcEmbedding = D > 0 ? parameter('encoder/embedding', [c.srcVocabSize, D], uniform([c.srcVocabSize, D], rng, 0.05)) : null;
      this.tgtEmbedding = D > 0 ? parameter('decoder/embedding', [c.tgtVocabSize, D], uniform([c.tgtVocabSize, D], rng, 0.05)) : null;
    }
    const encoderLayers = (suffix: string): RecurrentLayer[] =>
      Array.from({ length: c.layers }, (_, l) => new RecurrentLayer(`encoder/${c.cell}_${l}${suffix}`, c.cell, l === 0 ? (D > 0 ? D : c.srcVocabSize) : dirs * H, H, rng));
    this.encoder = encoderLayers('');
    this.encoderReverse = c.bidirectional ? encoderLayers('_reverse') : [];
    this.bridges = c.bidirectional
      ? Array.from({ length: c.layers }, (_, l) => {
          const pair = (what: string): [Tensor, Tensor] => [
            parameter(`bridge/${what}_${l}/kernel`, [2 * H, H], glorotUniform([2 * H, H], rng)),
            parameter(`bridge/${what}_${l}/bias`, [H], new Float32Array(H)),
          ];
          return { h: pair('h'), c: c.cell === 'lstm' ? pair('c') : null };
        })
      : [];
    const feed = c.attention === 'none' ? 0 : H;
    this.decoder = Array.from({ length: c.layers }, (_, l) =>
      new RecurrentLayer(`decoder/${c.cell}_${l}`, c.cell, l === 0 ? (D > 0 ? D : c.tgtVocabSize) : H, H, rng, l === 0 ? feed : 0));
    this.attention = c.attention === 'none' ? null : new Attention(c.attention, dirs * H, H, rng);
    this.tiedOutput = c.tieEmbeddings && D === H;
    this.outputKernel = this.tiedOutput ? (this.tgtEmbedding as Tensor) : parameter('output/kernel', [H, c.tgtVocabSize], glorotUniform([H, c.tgtVocabSize], rng));
    this.outputBias = parameter('output/bias', [c.tgtVocabSize], new Float32Array(c.tgtVocabSize));
  }

  /** Every trainable parameter, in a fixed order with unique names. */
  parameters(): Tensor[] {
    const p: Tensor[] = [];
    if (this.srcEmbedding) p.push(this.srcEmbedding);
    for (const l of this.encoder) p.push(...l.parameters());
    for (const l of this.encoderReverse) p.push(...l.parameters());
    for (const b of this.bridges) p.push(...b.h, ...(b.c ?? []));
    if (this.tgtEmbedding && this.tgtEmbedding !== this.srcEmbedding) p.push(this.tgtEmbedding);
    for (const l of this.decoder) p.push(...l.parameters());
    if (this.attention) p.push(...this.attention.parameters());
    if (!this.tiedOutput) p.push(this.outputKernel);
    p.push(this.outputBias);
    return p;
  }

  int8Plan(): Int8PlanEntry[] {
    const plan: Int8PlanEntry[] = [];
    const D = this.config.embeddingDim;
    if (this.srcEmbedding) plan.push({ param: this.srcEmbedding, axis: 0 });
    if (this.tgtEmbedding && this.tgtEmbedding !== this.srcEmbedding) plan.push({ param: this.tgtEmbedding, axis: 0 });
    const layer = (l: RecurrentLayer, first: boolean): void => {
      // Without embeddings the first layer's kernel is only ever gathered by token id: per-row scales.
      plan.push({ param: l.kernel, axis: first && D === 0 ? 0 : 1 }, { param: l.recurrentKernel, axis: 1 });
      if (l.feedKernel) plan.push({ param: l.feedKernel, axis: 1 });
    };
    this.encoder.forEach((l, i) => layer(l, i === 0));
    this.encoderReverse.forEach((l, i) => layer(l, i === 0));
    this.decoder.forEach((l, i) => layer(l, i === 0));
    for (const b of this.bridges) {
      plan.push({ param: b.h[0], axis: 1 });
      if (b.c) plan.push({ param: b.c[0], axis: 1 });
    }
    if (this.attention) for (const p of this.attention.parameters()) plan.push({ param: p, axis: 1 });
    if (!this.tiedOutput) plan.push({ param: this.outputKernel, axis: 1 });
    return plan;
  }

  get hasAttention(): boolean {
    return this.attention !== null;
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  private embed(embedding: Tensor | null, ids: Int32Array, opts: RunOptions): LayerInput {
    return embedding ? { x: ops.dropout(ops.gatherRows(embedding, ids), this.config.dropout, opts.rng ?? new Rng(0), opts.training ?? false) } : { ids };
  }

  private drop(x: Tensor, opts: RunOptions): Tensor {
    return ops.dropout(x, this.config.dropout, opts.rng ?? new Rng(0), opts.training ?? false);
  }

  /**
   * Inference encoder model: source ids → the decoder's initial state (per
   * layer, after the bidirectional bridge) and, with attention, the memory
   * of encoder outputs. Rows follow the input order.
   */
  encode(src: IdBatch, opts: RunOptions = {}): DecoderState {
    const { order, sorted, inverse } = lengthOrder(src.lengths);
    const layout = packedLayout(sorted);
    const ids = pick(src.ids, packedPositions(layout, order, src.maxLen));
    const reverse = this.config.bidirectional ? reverseIndex(layout) : null;
    let input = this.embed(this.srcEmbedding, ids, opts);
    const states: LayerState[] = [];
    let top: Tensor | null = null;
    this.encoder.forEach((layer, l) => {
      const fwd = layer.run(input, layout, layer.zeroState(layout.batch));
      let output = fwd.output;
      let state = fwd.state;
      if (reverse) {
        // The backward RNN reads each sequence reversed within its own length.
        const revInput: LayerInput = 'ids' in input ? { ids: pick(input.ids, reverse) } : { x: ops.gatherRows(input.x, reverse) };
        const back = this.encoderReverse[l].run(revInput, layout, layer.zeroState(layout.batch));
        output = ops.concat([fwd.output, ops.gatherRows(back.output, reverse)]);
        state = this.bridge(l, fwd.state, back.state);
      }
      states.push(state);
      top = output;
      if (l + 1 < this.encoder.length) input = { x: this.drop(output, opts) };
    });
    const result: DecoderState = { layers: states.map((s) => gatherState(s, inverse)) };
    if (this.attention) {
      const values = top as unknown as Tensor;
      const S = src.maxLen, B = src.lengths.length;
      // Unpack to batch-major [B, S] in input order; padding rows are zeros and masked.
      const idx = new Int32Array(B * S).fill(-1);
      const mask = new Uint8Array(B * S);
      for (let b = 0; b < B; b++) {
        const j = inverse[b];
        for (let t = 0; t < src.lengths[b]; t++) {
          idx[b * S + t] = layout.offsets[t] + j;
          mask[b * S + t] = 1;
        }
      }
      const keys = this.attention.keysOf(values);
      const D = values.cols, K = keys.cols;
      const valuesBS = ops.reshape(ops.gatherRows(values, idx), [B, S * D]);
      const keysBS = keys === values ? valuesBS : ops.reshape(ops.gatherRows(keys, idx), [B, S * K]);
      result.memory = { values: valuesBS, keys: keysBS, mask, srcLen: S, valueDim: D, keyDim: K };
      result.feed = Tensor.zeros([B, this.config.latentDim]);
    }
    return result;
  }

  /** Decoder state of one layer from the forward and backward encoders' final states. */
  private bridge(l: number, fwd: LayerState, back: LayerState): LayerState {
    const b = this.bridges[l];
    const h = ops.tanh(ops.add(ops.matmul(ops.concat([fwd.h, back.h]), b.h[0]), b.h[1]));
    if (!b.c) return { h };
    const c = ops.add(ops.matmul(ops.concat([fwd.c as Tensor, back.c as Tensor]), b.c[0]), b.c[1]);
    return { h, c };
  }

  /**
   * The state rows picked by `index` (rows may repeat): how decoders drop
   * finished sentences or expand and reorder beams.
   */
  selectState(state: DecoderState, index: Int32Array): DecoderState {
    const out: DecoderState = { layers: state.layers.map((l) => gatherState(l, index)) };
    if (state.memory) out.memory = selectMemory(state.memory, index);
    if (state.feed) out.feed = ops.gatherRows(state.feed, index);
    return out;
  }

  /**
   * One decoder step for the first n rows of `state` (all rows when n is
   * omitted): tokens → top-layer output (the attentional vector with
   * attention), new states and attention weights.
   */
  private decoderStep(tokens: Int32Array, state: DecoderState, opts: RunOptions): { top: Tensor; state: DecoderState; weights: Tensor | null } {
    const n = tokens.length;
    const layout = packedLayout(new Int32Array(n).fill(1));
    let input = this.embed(this.tgtEmbedding, tokens, opts);
    const layers: LayerState[] = [];
    let top: Tensor | null = null;
    const feed = state.feed ? ops.takeRows(state.feed, n) : undefined;
    this.decoder.forEach((layer, l) => {
      const prev = state.layers[l];
      const initial: LayerState = prev.c ? { h: ops.takeRows(prev.h, n), c: ops.takeRows(prev.c, n) } : { h: ops.takeRows(prev.h, n) };
      const r = layer.run(input, layout, initial, l === 0 ? feed : undefined);
      layers.push(r.state);
      top = r.output;
      if (l + 1 < this.decoder.length) input = { x: this.drop(r.output, opts) };
    });
    const next: DecoderState = { layers, memory: state.memory };
    if (!this.attention) return { top: top as unknown as Tensor, state: next, weights: null };
    const { attentional, weights } = this.attention.step(top as unknown as Tensor, state.memory as Memory);
    const dropped = this.drop(attentional, opts);
    next.feed = dropped;
    return { top: dropped, state: next, weights };
  }

  /**
   * One-step decoder model: the previous token of each row and the states
   * → logits over the target vocabulary [B, V], the new states and, with
   * attention, the attention weights over source positions [B, S].
   */
  decodeStep(tokens: Int32Array, state: DecoderState): StepResult<DecoderState> {
    const r = this.decoderStep(tokens, state, {});
    const logits = this.project(r.top);
    // The log-softmax by the kernels (the decoders rank by it), not by the decoders' own exp loop in JavaScript: that
    // loop over a 5k vocabulary was 14% of a batch-1 int8 translation.
    const logProbs = new Float32Array(logits.data.length);
    kernels().softmaxRows(logits.rows, logits.cols, logits.data, logProbs, true);
    return { logits, logProbs: new Tensor(logProbs, [logits.rows, logits.cols]), state: r.state, attention: r.weights };
  }

  /** Dense softmax layer's pre-activations. */
  project(hidden: Tensor): Tensor {
    return ops.add(ops.matmul(hidden, this.outputKernel, false, this.tiedOutput), this.outputBias);
  }

  /** Training model (teacher forcing): mean cross-entropy over the real target tokens. */
  forward(batch: TrainingBatch, opts: RunOptions = {}): ForwardResult {
    const encoded = this.encode({ ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen }, opts);
    const { order, sorted } = lengthOrder(batch.tgtLengths);
    const layout = packedLayout(sorted);
    const positions = packedPositions(layout, order, batch.tgtMaxLen);
    const initial = this.selectState(encoded, order);
    const inputs = pick(batch.tgtIn, positions);
    let top: Tensor;
    if (!this.attention) {
      // Without input feeding the whole target sequence runs in one fused call per layer.
      let input = this.embed(this.tgtEmbedding, inputs, opts);
      let output: Tensor | null = null;
      this.decoder.forEach((layer, l) => {
        const r = layer.run(input, layout, initial.layers[l]);
        output = r.output;
        if (l + 1 < this.decoder.length) input = { x: this.drop(r.output, opts) };
      });
      top = output as unknown as Tensor;
    } else {
      // Input feeding makes step t depend on step t−1's attentional vector: run step by step
      // over the sequences still active (rows are sorted by target length, so a prefix).
      const outs: Tensor[] = [];
      let state = initial;
      for (let t = 0; t < layout.steps; t++) {
        const off = layout.offsets[t];
        const r = this.decoderStep(inputs.subarray(off, off + layout.batchSizes[t]), state, opts);
        outs.push(r.top);
        state = r.state;
      }
      top = ops.concatRows(outs);
    }
    const logits = this.project(top);
    const targets = pick(batch.tgtOut, positions);
    const loss = ops.softmaxCrossEntropy(logits, targets, opts.labelSmoothing ?? 0);
    return { loss, tokens: targets.length, correct: countCorrect(logits, targets), logits };
  }
}
