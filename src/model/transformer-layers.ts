/**
 * The blocks of the Transformer ("Attention is all you need", with the
 * pre-layer-norm arrangement of Xiong et al. 2020 by default): multi-head
 * attention projections, the feed-forward sublayer, layer norms, and the
 * encoder and decoder blocks built from them. Weights are [in, out] (x·W),
 * named `{prefix}/{sublayer}/{weight}`; sequences are padded batches
 * [B·T, D], rows b-major.
 */
import { Tensor, ops, glorotUniform, parameter, Rng } from '../engine/index.js';
import type { ActivationType } from './config.js';
import { SelfAttentionCache } from './kv-cache.js';

/** Dropout settings and randomness of one run of the stack. */
export interface BlockRun {
  training: boolean;
  rng: Rng;
  /** Residual dropout (on each sublayer's output before the residual add). */
  dropout: number;
  attentionDropout: number;
}

/** A padded batch of sequences: `batch` rows of `length` positions, and which keys are real. */
export interface SequenceShape {
  batch: number;
  length: number;
  /** 1 = real position, [batch·length]; absent: all real. */
  mask?: Uint8Array;
}

export function dense(name: string, inDim: number, outDim: number, rng: Rng | null): { kernel: Tensor; bias: Tensor } {
  return {
    kernel: parameter(`${name}_kernel`, [inDim, outDim], glorotUniform([inDim, outDim], rng)),
    bias: parameter(`${name}_bias`, [outDim], new Float32Array(outDim)),
  };
}

/** Layer normalisation with learned gain (1) and bias (0). */
export class LayerNorm {
  readonly gain: Tensor;
  readonly bias: Tensor;
  constructor(readonly name: string, dim: number) {
    this.gain = parameter(`${name}/gain`, [dim], new Float32Array(dim).fill(1));
    this.bias = parameter(`${name}/bias`, [dim], new Float32Array(dim));
  }
  parameters(): Tensor[] {
    return [this.gain, this.bias];
  }
  apply(x: Tensor): Tensor {
    return ops.layerNorm(x, this.gain, this.bias, 1e-5);
  }
}

/**
 * Multi-head attention. Self-attention projects q, k, v with one fused
 * [D, 3D] kernel; cross-attention projects the query [D, D] and the memory's
 * keys and values with one [D, 2D] kernel (computed once per sentence when decoding).
 */
export class MultiHeadAttention {
  /** Self-attention: [D, 3D]; cross-attention: null. */
  readonly qkv: { kernel: Tensor; bias: Tensor } | null;
  /** Cross-attention: query [D, D] and key/value [D, 2D]. */
  readonly query: { kernel: Tensor; bias: Tensor } | null;
  readonly kv: { kernel: Tensor; bias: Tensor } | null;
  readonly out: { kernel: Tensor; bias: Tensor };

  constructor(readonly name: string, readonly dim: number, readonly heads: number, readonly cross: boolean, rng: Rng | null) {
    const D = dim;
    if (cross) {
      this.qkv = null;
      this.query = dense(`${name}/query`, D, D, rng);
      this.kv = dense(`${name}/kv`, D, 2 * D, rng);
    } else {
      // Glorot limits of the fused kernel as torch's in_proj_weight ([3D, D] as one matrix).
      this.qkv = dense(`${name}/qkv`, D, 3 * D, rng);
      this.query = null;
      this.kv = null;
    }
    this.out = dense(`${name}/output`, D, D, rng);
  }

  parameters(): Tensor[] {
    const p: Tensor[] = [];
    for (const d of [this.qkv, this.query, this.kv, this.out]) if (d) p.push(d.kernel, d.bias);
    return p;
  }

  /** Self-attention: x [n, D] → q, k, v [n, D]. */
  projectQKV(x: Tensor): [Tensor, Tensor, Tensor] {
    const qkv = this.qkv as { kernel: Tensor; bias: Tensor };
    const [q, k, v] = ops.linearSplit(x, qkv.kernel, qkv.bias, [this.dim, this.dim, this.dim]);
    return [q, k, v];
  }

  /** Cross-attention: the query of x [n, D]. */
  projectQuery(x: Tensor): Tensor {
    const d = this.query as { kernel: Tensor; bias: Tensor };
    return ops.linear(x, d.kernel, d.bias, 'none');
  }

  /** Cross-attention: keys and values of the memory [n, D]. */
  projectKV(memory: Tensor): [Tensor, Tensor] {
    const d = this.kv as { kernel: Tensor; bias: Tensor };
    const [k, v] = ops.linearSplit(memory, d.kernel, d.bias, [this.dim, this.dim]);
    return [k, v];
  }

  /** Attention of projected queries over projected keys/values, then the output projection. */
  attend(q: Tensor, k: Tensor, v: Tensor, queries: SequenceShape, keys: SequenceShape, causal: boolean, run: BlockRun, returnWeights = false): { out: Tensor; weights: Float32Array | null } {
    const r = ops.multiHeadAttention(q, k, v, {
      batch: queries.batch, heads: this.heads, queryLen: queries.length, keyLen: keys.length,
      keyMask: keys.mask, causal, dropout: run.attentionDropout, rng: run.rng, training: run.training, returnWeights,
    });
    return { out: ops.linear(r.out, this.out.kernel, this.out.bias, 'none'), weights: r.weights };
  }
}

/** Position-wise feed-forward sublayer: act(x·W1 + b1)·W2 + b2. */
export class FeedForward {
  readonly inner: { kernel: Tensor; bias: Tensor };
  readonly outer: { kernel: Tensor; bias: Tensor };
  constructor(readonly name: string, dim: number, ffDim: number, readonly activation: ActivationType, rng: Rng | null) {
    this.inner = dense(`${name}/inner`, dim, ffDim, rng);
    this.outer = dense(`${name}/outer`, ffDim, dim, rng);
  }
  parameters(): Tensor[] {
    return [this.inner.kernel, this.inner.bias, this.outer.kernel, this.outer.bias];
  }
  apply(x: Tensor): Tensor {
    return ops.linear(ops.linear(x, this.inner.kernel, this.inner.bias, this.activation), this.outer.kernel, this.outer.bias, 'none');
  }
}

/**
 * One residual sublayer: pre-LN x + drop(f(LN(x))), or post-LN LN(x + drop(f(x))).
 */
export function residual(x: Tensor, norm: LayerNorm, postNorm: boolean, run: BlockRun, f: (h: Tensor) => Tensor): Tensor {
  // x + dropout(y) as one op (the same keep-mask draws as ops.dropout then ops.add).
  if (postNorm) return norm.apply(ops.residualAdd(x, f(x), run.dropout, run.rng, run.training));
  return ops.residualAdd(x, f(norm.apply(x)), run.dropout, run.rng, run.training);
}

/** Encoder block: self-attention over the (masked) source, then feed-forward. */
export class EncoderBlock {
  readonly selfAttention: MultiHeadAttention;
  readonly feedForward: FeedForward;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  constructor(readonly name: string, dim: number, heads: number, ffDim: number, activation: ActivationType, readonly postNorm: boolean, rng: Rng | null) {
    this.selfAttention = new MultiHeadAttention(`${name}/self_attention`, dim, heads, false, rng);
    this.feedForward = new FeedForward(`${name}/feed_forward`, dim, ffDim, activation, rng);
    this.norm1 = new LayerNorm(`${name}/norm_1`, dim);
    this.norm2 = new LayerNorm(`${name}/norm_2`, dim);
  }
  parameters(): Tensor[] {
    return [...this.selfAttention.parameters(), ...this.feedForward.parameters(), ...this.norm1.parameters(), ...this.norm2.parameters()];
  }
  apply(x: Tensor, src: SequenceShape, run: BlockRun): Tensor {
    const h = residual(x, this.norm1, this.postNorm, run, (y) => {
      const [q, k, v] = this.selfAttention.projectQKV(y);
      return this.selfAttention.attend(q, k, v, src, src, false, run).out;
    });
    return residual(h, this.norm2, this.postNorm, run, (y) => this.feedForward.apply(y));
  }
}

/** Cached keys and values of one decoder block while decoding. */
export interface BlockCache {
  /** Self-attention keys/values of the positions so far (null before the first step). */
  self: SelfAttentionCache | null;
  /** Cross-attention keys/values of the memory, [rows·S, D]. */
  crossK: Tensor;
  crossV: Tensor;
}

/** Decoder block: causal self-attention, attention over the memory, then feed-forward. */
export class DecoderBlock {
  readonly selfAttention: MultiHeadAttention;
  readonly crossAttention: MultiHeadAttention;
  readonly feedForward: FeedForward;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm;
  readonly norm3: LayerNorm;
  constructor(readonly name: string, dim: number, heads: number, ffDim: number, activation: ActivationType, readonly postNorm: boolean, rng: Rng | null) {
    this.selfAttention = new MultiHeadAttention(`${name}/self_attention`, dim, heads, false, rng);
    this.crossAttention = new MultiHeadAttention(`${name}/cross_attention`, dim, heads, true, rng);
    this.feedForward = new FeedForward(`${name}/feed_forward`, dim, ffDim, activation, rng);
    this.norm1 = new LayerNorm(`${name}/norm_1`, dim);
    this.norm2 = new LayerNorm(`${name}/norm_2`, dim);
    this.norm3 = new LayerNorm(`${name}/norm_3`, dim);
  }
  parameters(): Tensor[] {
    return [
      ...this.selfAttention.parameters(), ...this.crossAttention.parameters(), ...this.feedForward.parameters(),
      ...this.norm1.parameters(), ...this.norm2.parameters(), ...this.norm3.parameters(),
    ];
  }

  /**
   * The whole target sequence at once (training): y [B·T, D], causal
   * self-attention, cross-attention over memory keys/values [B·S, D].
   */
  apply(y: Tensor, tgt: SequenceShape, crossK: Tensor, crossV: Tensor, src: SequenceShape, run: BlockRun, returnWeights = false): { out: Tensor; weights: Float32Array | null } {
    let h = residual(y, this.norm1, this.postNorm, run, (x) => {
      const [q, k, v] = this.selfAttention.projectQKV(x);
      return this.selfAttention.attend(q, k, v, tgt, tgt, true, run).out;
    });
    const got: { weights: Float32Array | null } = { weights: null };
    h = residual(h, this.norm2, this.postNorm, run, (x) => {
      const r = this.crossAttention.attend(this.crossAttention.projectQuery(x), crossK, crossV, tgt, src, false, run, returnWeights);
      got.weights = r.weights;
      return r.out;
    });
    return { out: residual(h, this.norm3, this.postNorm, run, (x) => this.feedForward.apply(x)), weights: got.weights };
  }

  /**
   * One new position per row (decoding): y [rows, D], the cache of the T
   * positions before it → output [rows, D], the cache grown to T + 1.
   */
  step(y: Tensor, cache: BlockCache, rows: number, T: number, src: SequenceShape, run: BlockRun, returnWeights: boolean): { out: Tensor; cache: BlockCache; weights: Float32Array | null } {
    let self = cache.self;
    const one: SequenceShape = { batch: rows, length: 1 };
    let h = residual(y, this.norm1, this.postNorm, run, (x) => {
      const [q, k, v] = this.selfAttention.projectQKV(x);
      self = SelfAttentionCache.append(cache.self, T, k, v);
      // The one query sees the T + 1 filled positions; the rest of the capacity is masked.
      return this.selfAttention.attend(q, self.keys, self.values, one, self.keyShape(), false, run).out;
    });
    const got: { weights: Float32Array | null } = { weights: null };
    h = residual(h, this.norm2, this.postNorm, run, (x) => {
      const r = this.crossAttention.attend(this.crossAttention.projectQuery(x), cache.crossK, cache.crossV, one, src, false, run, returnWeights);
      got.weights = r.weights;
      return r.out;
    });
    const out = residual(h, this.norm3, this.postNorm, run, (x) => this.feedForward.apply(x));
    return { out, cache: { self, crossK: cache.crossK, crossV: cache.crossV }, weights: got.weights };
  }
}
