/**
 * The Transformer encoder–decoder (Vaswani et al. 2017) on the s2s engine,
 * pre-layer-norm by default with a final layer norm after each stack (as
 * torch.nn.Transformer with norm_first=True), post-LN with `postNorm`.
 * Token embeddings are scaled by √D and added to sinusoidal or learned
 * positions. With `tieEmbeddings` one [V, D] table serves the source, the
 * target and the output projection (logits = h·Eᵀ, no bias); otherwise the
 * output layer is a kernel [D, V] and a bias.
 *
 * Training runs whole padded batches [B·T, D] (key-padding masks on the
 * source, a causal mask on the target). Decoding keeps a key/value cache:
 * `encode` projects the memory's keys and values for every decoder block
 * once per sentence; `decodeStep` runs one position and grows each block's
 * self-attention cache; `selectState` gathers cache rows. By default the
 * step is the tape-free incremental decoder of transformer-step.ts
 * (`stepMode` 'fused'); 'tape' runs the same computation through the
 * autodiff ops (the reference the fused step is tested against, and the
 * path int8 bundles take). A sentence gets the same result alone or in a
 * batch: padding is masked and every other computation is per row.
 */
import { Tensor, ops, parameter, glorotUniform, sinusoidalPositions, Rng, packedLayout, longLivedFloat32, noGrad, projectedCrossEntropy, dequantize } from '../engine/index.js';
import { resolveModelConfig, encoderLayerCount, decoderLayerCount, type ModelConfig } from './config.js';
import { EncoderBlock, DecoderBlock, LayerNorm, type BlockCache, type BlockRun, type SequenceShape } from './transformer-layers.js';
import type { Int8PlanEntry, IdBatch, TrainingBatch, ForwardResult, RunOptions, TranslationModel, StepResult } from './translation-model.js';
import { lengthOrder, packedPositions, pick } from './packing.js';
import { S2SError } from '../errors.js';
import { Session, current, encodeMemory, meanOverHeads, type IncrementalState, type StepWeights, type StepMatrix, type StepDense } from './transformer-step.js';

/** Decoder state of a Transformer: rows in the caller's order. Opaque outside the model. */
export type TransformerState = TapeState | IncrementalState;

/** Decoder state of the tape step (stepMode 'tape'). */
export interface TapeState {
  readonly kind: 'tape';
  /** Per decoder block: self-attention cache of the `steps` positions so far, cross-attention keys/values. */
  caches: BlockCache[];
  /** The encoded sentence each row's cross-attention keys/values (and srcMask rows) come from. */
  origin: Int32Array;
  /** Real source positions, [rows·srcLen]. */
  srcMask: Uint8Array;
  srcLen: number;
  /** Positions decoded so far (the next token's position). */
  steps: number;
}

/** A sequence longer than the learned positions cover. */
export class PositionLimitError extends S2SError {
  constructor(length: number, limit: number) {
    super(`sequence of ${length} tokens is longer than the model's ${limit} learned positions (maxPositions)`);
    this.name = 'PositionLimitError';
  }
}

function maskOf(lengths: Int32Array, maxLen: number): Uint8Array {
  const mask = new Uint8Array(lengths.length * maxLen);
  for (let b = 0; b < lengths.length; b++) mask.fill(1, b * maxLen, b * maxLen + Math.min(lengths[b], maxLen));
  return mask;
}

/** Position ids t for the rows b·T + t of a padded batch. */
function positionIds(batch: number, length: number): Int32Array {
  const ids = new Int32Array(batch * length);
  for (let b = 0; b < batch; b++) for (let t = 0; t < length; t++) ids[b * length + t] = t;
  return ids;
}

/** Row indices selecting whole blocks of `len` rows: block index[i] → block i. */
function blockIndex(index: Int32Array, len: number): Int32Array {
  const out = new Int32Array(index.length * len);
  for (let i = 0; i < index.length; i++) for (let t = 0; t < len; t++) out[i * len + t] = index[i] * len + t;
  return out;
}

/** The Transformer encoder–decoder (see the module comment): training graph, encoder, and KV-cached one-step decoder. */
export class Transformer implements TranslationModel<TransformerState> {
  readonly config: ModelConfig;
  readonly hasAttention = true;
  /** Source embedding [Vs, D] (the shared table when tied). */
  readonly srcEmbedding: Tensor;
  /** Target embedding [Vt, D] (the shared table when tied). */
  readonly tgtEmbedding: Tensor;
  /** Learned positions [maxPositions, D] per side, or null (sinusoidal). */
  readonly srcPositions: Tensor | null;
  readonly tgtPositions: Tensor | null;
  readonly encoder: EncoderBlock[];
  readonly decoder: DecoderBlock[];
  /** Final layer norms of the pre-LN stacks (null with postNorm). */
  readonly encoderNorm: LayerNorm | null;
  readonly decoderNorm: LayerNorm | null;
  /** Untied output layer [D, V] and bias (null when tied to the embedding). */
  readonly outputKernel: Tensor | null;
  readonly outputBias: Tensor | null;
  /**
   * How decodeStep runs: 'fused' (default), the tape-free incremental step;
   * 'tape', the autodiff ops (the reference the tests hold 'fused' to).
   */
  stepMode: 'fused' | 'tape' = 'fused';
  private sinusoids: Tensor | null = null;

  /** `seed` null: no initial weights (zeros, nothing drawn), for weights assigned next (see createModel). */
  constructor(config: Partial<ModelConfig> & Pick<ModelConfig, 'srcVocabSize' | 'tgtVocabSize'>, seed: number | null = 0) {
    this.config = resolveModelConfig({ ...config, arch: 'transformer' });
    const c = this.config;
    const rng = seed === null ? null : new Rng(seed);
    const D = c.modelDim;
    // Embeddings ~ N(0, D^-1/2) (fairseq's), so √D-scaled inputs have unit variance.
    const normal = (rows: number): Float32Array => {
      if (!rng) return longLivedFloat32(rows * D);
      const a = new Float32Array(rows * D);
      const std = 1 / Math.sqrt(D);
      for (let i = 0; i < a.length; i++) a[i] = rng.normal() * std;
      return a;
    };
    if (c.tieEmbeddings) {
      this.srcEmbedding = this.tgtEmbedding = parameter('embedding/shared', [c.srcVocabSize, D], normal(c.srcVocabSize));
    } else {
      this.srcEmbedding = parameter('encoder/embedding', [c.srcVocabSize, D], normal(c.srcVocabSize));
      this.tgtEmbedding = parameter('decoder/embedding', [c.tgtVocabSize, D], normal(c.tgtVocabSize));
    }
    const learned = c.positions === 'learned';
    this.srcPositions = learned ? parameter('encoder/positions', [c.maxPositions, D], normal(c.maxPositions)) : null;
    this.tgtPositions = learned ? parameter('decoder/positions', [c.maxPositions, D], normal(c.maxPositions)) : null;
    this.encoder = Array.from({ length: encoderLayerCount(c) }, (_, l) => new EncoderBlock(`encoder/layer_${l}`, D, c.heads, c.ffDim, c.activation, c.postNorm, rng));
    this.decoder = Array.from({ length: decoderLayerCount(c) }, (_, l) => new DecoderBlock(`decoder/layer_${l}`, D, c.heads, c.ffDim, c.activation, c.postNorm, rng));
    this.encoderNorm = c.postNorm ? null : new LayerNorm('encoder/final_norm', D);
    this.decoderNorm = c.postNorm ? null : new LayerNorm('decoder/final_norm', D);
    this.outputKernel = c.tieEmbeddings ? null : parameter('output/kernel', [D, c.tgtVocabSize], glorotUniform([D, c.tgtVocabSize], rng));
    this.outputBias = c.tieEmbeddings ? null : parameter('output/bias', [c.tgtVocabSize], new Float32Array(c.tgtVocabSize));
  }

  /** Every trainable parameter, in a fixed order with unique names. */
  parameters(): Tensor[] {
    const p: Tensor[] = [this.srcEmbedding];
    if (this.tgtEmbedding !== this.srcEmbedding) p.push(this.tgtEmbedding);
    if (this.srcPositions) p.push(this.srcPositions);
    if (this.tgtPositions) p.push(this.tgtPositions);
    for (const b of this.encoder) p.push(...b.parameters());
    if (this.encoderNorm) p.push(...this.encoderNorm.parameters());
    for (const b of this.decoder) p.push(...b.parameters());
    if (this.decoderNorm) p.push(...this.decoderNorm.parameters());
    if (this.outputKernel) p.push(this.outputKernel);
    if (this.outputBias) p.push(this.outputBias);
    return p;
  }

  int8Plan(): Int8PlanEntry[] {
    const tables = new Set([this.srcEmbedding, this.tgtEmbedding, this.srcPositions, this.tgtPositions].filter((t): t is Tensor => t !== null));
    // Tables (the tied one serving as output layer too) per row; every other matrix is a kernel used as x·W.
    return this.parameters().filter((p) => p.rank === 2).map((p) => ({ param: p, axis: tables.has(p) ? 0 : 1 }));
  }

  parameterCount(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  private run(opts: RunOptions): BlockRun {
    const training = opts.training ?? false;
    return { training, rng: opts.rng ?? new Rng(0), dropout: training ? this.config.dropout : 0, attentionDropout: training ? this.config.attentionDropout : 0 };
  }

  /**
   * The position table covering `length` positions of one side. Sinusoids
   * are computed for the lengths actually seen (doubling), never for all of
   * maxPositions up front: a bundle's config alone must not make the loader allocate.
   */
  private positionTable(learned: Tensor | null, length: number): Tensor {
    if (learned) {
      if (length > this.config.maxPositions) throw new PositionLimitError(length, this.config.maxPositions);
      return learned;
    }
    if (!this.sinusoids || this.sinusoids.rows < length) {
      this.sinusoids = sinusoidalPositions(Math.max(length, this.sinusoids ? 2 * this.sinusoids.rows : 64), this.config.modelDim);
    }
    return this.sinusoids as Tensor;
  }

  /** Scaled token embeddings plus positions, with embedding dropout. */
  private embed(table: Tensor, learned: Tensor | null, ids: Int32Array, positions: Int32Array, maxPosition: number, run: BlockRun): Tensor {
    const x = ops.embedPositions(table, ids, Math.sqrt(this.config.modelDim), this.positionTable(learned, maxPosition + 1), positions);
    return ops.dropout(x, run.dropout, run.rng, run.training);
  }

  /** The encoder stack on embedded inputs x [B·S, D] (exposed for parity tests against torch.nn.Transformer). */
  encodeEmbedded(x: Tensor, src: SequenceShape, run: BlockRun): Tensor {
    let h = x;
    for (const block of this.encoder) h = block.apply(h, src, run);
    return this.encoderNorm ? this.encoderNorm.apply(h) : h;
  }

  /** The decoder stack on embedded targets y [B·T, D] over the memory [B·S, D] (training; exposed for parity tests). */
  decodeEmbedded(y: Tensor, tgt: SequenceShape, memory: Tensor, src: SequenceShape, run: BlockRun): Tensor {
    let h = y;
    for (const block of this.decoder) {
      const [k, v] = block.crossAttention.projectKV(memory);
      h = block.apply(h, tgt, k, v, src, run).out;
    }
    return this.decoderNorm ? this.decoderNorm.apply(h) : h;
  }

  /**
   * The encoder over a padded source batch. `clamp`: learned positions past
   * the table reuse the last one (inference: a source longer than anything
   * trained on is translated, badly, rather than refused); training refuses it.
   */
  private encodeMemory(src: IdBatch, run: BlockRun, clamp: boolean): { memory: Tensor; shape: SequenceShape } {
    const B = src.lengths.length, S = src.maxLen;
    const shape: SequenceShape = { batch: B, length: S, mask: maskOf(src.lengths, S) };
    const limit = this.config.maxPositions;
    const positions = positionIds(B, S);
    let maxPosition = S - 1;
    if (clamp && this.srcPositions && S > limit) {
      for (let i = 0; i < positions.length; i++) positions[i] = Math.min(positions[i], limit - 1);
      maxPosition = limit - 1;
    }
    const x = this.embed(this.srcEmbedding, this.srcPositions, src.ids.subarray(0, B * S), positions, maxPosition, run);
    return { memory: this.encodeEmbedded(x, shape, run), shape };
  }

  /** Source ids → the decoding state: cross-attention keys/values of every decoder block, an empty self-attention cache. */
  encode(src: IdBatch, opts: RunOptions = {}): TransformerState {
    const run = this.run(opts);
    const { memory, shape } = this.encodeMemory(src, run, true);
    const B = src.lengths.length;
    const weights = this.stepWeights();
    if (weights) {
      const session = new Session(weights, encodeMemory(weights, memory.data, B, src.maxLen, shape.mask as Uint8Array), Math.max(1, B));
      return session.start(Int32Array.from({ length: B }, (_, i) => i));
    }
    const caches = this.decoder.map((block) => {
      const [crossK, crossV] = block.crossAttention.projectKV(memory);
      return { self: null, crossK, crossV };
    });
    const origin = Int32Array.from({ length: src.lengths.length }, (_, i) => i);
    return { kind: 'tape', caches, origin, srcMask: shape.mask as Uint8Array, srcLen: src.maxLen, steps: 0 };
  }

  private stepCache: { key: unknown[]; weights: StepWeights | null } | null = null;

  /**
   * The fused step's view of the weights (float32 or int8), or null when
   * the tape must run (stepMode 'tape'). Rebuilt when a parameter's array was
   * replaced (loading a bundle, quantizing); values updated in place (training) are seen as they are.
   */
  private stepWeights(): StepWeights | null {
    if (this.stepMode !== 'fused' || this.decoder.length === 0) return null;
    const params = this.parameters();
    const key = params.map((p) => p.int8 ?? p.data);
    if (this.stepCache && this.stepCache.key.length === key.length && this.stepCache.key.every((k, i) => k === key[i])) return this.stepCache.weights;
    const weights = this.buildStepWeights();
    this.stepCache = { key, weights };
    return weights;
  }

  private buildStepWeights(): StepWeights {
    const c = this.config;
    const matrix = (t: Tensor): StepMatrix => t.int8 ?? t.data;
    const learnedInt8 = this.tgtPositions?.int8 ? dequantize(this.tgtPositions) : null;
    const dense = (d: { kernel: Tensor; bias: Tensor }): StepDense => ({ kernel: matrix(d.kernel), bias: d.bias.data });
    const norm = (n: LayerNorm): { gain: Float32Array; bias: Float32Array } => ({ gain: n.gain.data, bias: n.bias.data });
    return {
      dim: c.modelDim, heads: c.heads, ffDim: c.ffDim, vocab: c.tgtVocabSize, activation: c.activation, postNorm: c.postNorm,
      blocks: this.decoder.map((b) => ({
        norm1: norm(b.norm1), norm2: norm(b.norm2), norm3: norm(b.norm3),
        qkv: dense(b.selfAttention.qkv as { kernel: Tensor; bias: Tensor }), selfOut: dense(b.selfAttention.out),
        crossQuery: dense(b.crossAttention.query as { kernel: Tensor; bias: Tensor }),
        crossKV: dense(b.crossAttention.kv as { kernel: Tensor; bias: Tensor }), crossOut: dense(b.crossAttention.out),
        inner: dense(b.feedForward.inner), outer: dense(b.feedForward.outer),
      })),
      finalNorm: this.decoderNorm ? norm(this.decoderNorm) : null,
      embedding: matrix(this.tgtEmbedding),
      output: this.outputKernel ? { kernel: matrix(this.outputKernel), bias: (this.outputBias as Tensor).data } : null,
      position: (p: number) => {
        // Learned positions past the table (only reachable past the trained lengths) reuse the last one.
        const row = this.tgtPositions ? Math.min(p, this.config.maxPositions - 1) : p;
        // An int8 learned table is dequantized once (it is small: positions × D).
        if (learnedInt8) return { table: learnedInt8, row };
        return { table: this.positionTable(this.tgtPositions, row + 1).data, row };
      },
    };
  }

  /**
   * The state rows picked by `index` (rows may repeat). Cross-attention
   * keys/values are shared, not copied, when every row keeps its sentence
   * (a beam reordering its hypotheses).
   */
  selectState(state: TransformerState, index: Int32Array): TransformerState {
    if (state.kind === 'incremental') {
      const s = current(state);
      return s.session.select(s, index);
    }
    const S = state.srcLen, T = state.steps;
    const origin = index.map((i) => state.origin[i]);
    const sameSources = origin.length === state.origin.length && origin.every((o, i) => o === state.origin[i]);
    let srcMask = state.srcMask;
    let srcRows: Int32Array | null = null;
    if (!sameSources) {
      srcRows = blockIndex(index, S);
      srcMask = new Uint8Array(index.length * S);
      for (let i = 0; i < index.length; i++) srcMask.set(state.srcMask.subarray(index[i] * S, (index[i] + 1) * S), i * S);
    }
    const caches = state.caches.map((c) => ({
      self: c.self ? c.self.select(index, T) : null,
      crossK: srcRows ? ops.gatherRows(c.crossK, srcRows) : c.crossK,
      crossV: srcRows ? ops.gatherRows(c.crossV, srcRows) : c.crossV,
    }));
    return { kind: 'tape', caches, origin, srcMask, srcLen: S, steps: T };
  }

  /**
   * One position for every row: the previous tokens → logits [rows, V], the
   * state with every self-attention cache one position longer, and the last
   * block's cross-attention weights averaged over heads [rows, S].
   */
  decodeStep(tokens: Int32Array, state: TransformerState): StepResult<TransformerState> {
    if (state.kind === 'incremental') {
      const s = current(state);
      const r = s.session.step(tokens, s);
      const n = tokens.length, V = this.config.tgtVocabSize;
      return {
        logits: new Tensor(r.logits, [n, V]), logProbs: new Tensor(r.logProbs, [n, V]), state: r.state,
        attention: new Tensor(r.attention, [n, s.session.memory.srcLen]),
      };
    }
    const run = this.run({});
    const n = tokens.length, T = state.steps, S = state.srcLen;
    // Learned positions past the table (only reachable past the trained lengths) reuse the last one.
    const position = this.tgtPositions ? Math.min(T, this.config.maxPositions - 1) : T;
    let h = this.embed(this.tgtEmbedding, this.tgtPositions, tokens, new Int32Array(n).fill(position), position, run);
    const src: SequenceShape = { batch: n, length: S, mask: state.srcMask };
    const caches: BlockCache[] = [];
    let weights: Float32Array | null = null;
    for (let l = 0; l < this.decoder.length; l++) {
      const last = l === this.decoder.length - 1;
      const r = this.decoder[l].step(h, state.caches[l], n, T, src, run, last);
      h = r.out;
      caches.push(r.cache);
      if (last) weights = r.weights;
    }
    if (this.decoderNorm) h = this.decoderNorm.apply(h);
    return { logits: this.project(h), state: { kind: 'tape', caches, origin: state.origin, srcMask: state.srcMask, srcLen: S, steps: T + 1 }, attention: averageHeads(weights, n, this.config.heads, S) };
  }

  /** Output-layer pre-activations [n, V]. */
  project(h: Tensor): Tensor {
    if (!this.outputKernel) return ops.matmul(h, this.tgtEmbedding, false, true);
    return ops.linear(h, this.outputKernel, this.outputBias, 'none');
  }

  /** Training model (teacher forcing): mean (label-smoothed) cross-entropy over the real target tokens. */
  forward(batch: TrainingBatch, opts: RunOptions = {}): ForwardResult {
    const run = this.run(opts);
    const { memory, shape: src } = this.encodeMemory({ ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen }, run, false);
    const B = batch.size, T = batch.tgtMaxLen;
    const tgt: SequenceShape = { batch: B, length: T, mask: maskOf(batch.tgtLengths, T) };
    const y = this.embed(this.tgtEmbedding, this.tgtPositions, batch.tgtIn.subarray(0, B * T), positionIds(B, T), T - 1, run);
    const out = this.decodeEmbedded(y, tgt, memory, src, run);
    // Only real target positions reach the output layer, in the packed order both architectures report.
    const { order, sorted } = lengthOrder(batch.tgtLengths);
    const positions = packedPositions(packedLayout(sorted), order, T);
    const rows = ops.gatherRows(out, positions);
    const targets = pick(batch.tgtOut, positions);
    // The output layer and the loss fused (the [tokens, V] logits never exist whole); logits only when read.
    const { loss, predictions } = projectedCrossEntropy(rows, this.outputKernel ?? this.tgtEmbedding, targets, {
      transposed: !this.outputKernel, bias: this.outputBias, labelSmoothing: opts.labelSmoothing ?? 0,
    });
    let correct = 0;
    for (let r = 0; r < targets.length; r++) if (predictions[r] === targets[r]) correct++;
    let logits: Tensor | null = null;
    const project = (): Tensor => (logits ??= noGrad(() => this.project(rows)));
    return { loss, tokens: targets.length, correct, get logits(): Tensor { return project(); } };
  }
}

/** Attention probabilities [n, heads, 1, S] → their mean over heads, [n, S]. */
function averageHeads(weights: Float32Array | null, n: number, heads: number, S: number): Tensor | null {
  return weights ? new Tensor(meanOverHeads(weights, n, heads, S), [n, S]) : null;
}
