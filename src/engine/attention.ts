/**
 * Multi-head scaled dot-product attention as one op (ops.multiHeadAttention):
 * every (batch, head) pair in one kernel call forward and one backward, with
 * key-padding and causal masks and dropout on the probabilities.
 */
import { Tensor, ShapeError, needsGrad, record, shapeString } from './tensor.js';
import { kernels } from './kernels/index.js';
import { uninitializedFloat32 } from './buffers.js';
import type { Rng } from './rng.js';

export interface AttentionOptions {
  batch: number;
  heads: number;
  queryLen: number;
  keyLen: number;
  /** [batch·keyLen], 1 = real key, 0 = padding (never attended). Default: every key is real. */
  keyMask?: Uint8Array;
  /** Query i sees keys j ≤ i + (keyLen − queryLen). Default false. */
  causal?: boolean;
  /** Dropout on the attention probabilities, applied only when training with an rng. Default 0. */
  dropout?: number;
  rng?: Rng;
  training?: boolean;
  /** Also return the probabilities [batch, heads, queryLen, keyLen] (before dropout). Default false. */
  returnWeights?: boolean;
}

export interface AttentionResult {
  /** [batch·queryLen, heads·headDim], heads concatenated. */
  out: Tensor;
  /** The probabilities when asked for (a query with no visible key has all zeros), else null. */
  weights: Float32Array | null;
}

/**
 * softmax(q·kᵀ/√headDim + masks)·v per head, q [B·Tq, D], k and v [B·Tk, D]
 * with D = heads·headDim (head h owns columns h·headDim …). Differentiable
 * in q, k and v.
 */
export function multiHeadAttention(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): AttentionResult {
  const { batch: B, heads: H, queryLen: tq, keyLen: tk } = o;
  for (const [name, n] of [['batch', B], ['heads', H], ['queryLen', tq], ['keyLen', tk]] as const) {
    if (!Number.isInteger(n) || n < (name === 'heads' ? 1 : 0)) throw new ShapeError(`multiHeadAttention: ${name} must be a ${name === 'heads' ? 'positive' : 'non-negative'} integer, got ${n}`);
  }
  const D = q.cols;
  if (q.rank !== 2 || k.rank !== 2 || v.rank !== 2 || k.cols !== D || v.cols !== D) {
    throw new ShapeError(`multiHeadAttention: q, k, v must be matrices of equal width, got ${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`);
  }
  if (D % H !== 0) throw new ShapeError(`multiHeadAttention: width ${D} is not divisible by ${H} heads`);
  if (q.shape[0] !== B * tq) throw new ShapeError(`multiHeadAttention: q has ${q.shape[0]} rows, expected batch·queryLen = ${B * tq}`);
  if (k.shape[0] !== B * tk || v.shape[0] !== B * tk) throw new ShapeError(`multiHeadAttention: k and v need batch·keyLen = ${B * tk} rows, got ${k.shape[0]} and ${v.shape[0]}`);
  if (o.keyMask && o.keyMask.length !== B * tk) throw new ShapeError(`multiHeadAttention: keyMask has ${o.keyMask.length} entries, expected batch·keyLen = ${B * tk}`);
  const p = o.dropout ?? 0;
  if (!(p >= 0 && p < 1)) throw new RangeError(`multiHeadAttention: dropout must be in [0, 1), got ${p}`);
  const hd = D / H;
  const causal = o.causal ?? false;
  const keyMask = o.keyMask ?? null;
  const K = kernels();

  const nProbs = B * H * tq * tk;
  let dropMask: Uint8Array | null = null;
  if (p > 0 && o.training && o.rng) {
    dropMask = o.rng.keepMask(nProbs, p);
  }
  const keepScale = Math.fround(1 / (1 - p));
  // The kernel writes every probability and every output element.
  const probs = uninitializedFloat32(nProbs);
  const out = new Tensor(uninitializedFloat32(B * tq * D), [B * tq, D]);
  K.attentionForward(B, H, tq, tk, hd, q.data, k.data, v.data, keyMask, causal, dropMask, keepScale, probs, out.data);
  const recording = needsGrad(q, k, v);
  if (recording) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      K.attentionBackward(B, H, tq, tk, hd, q.data, k.data, v.data, probs, dropMask, keepScale, g,
        q.requiresGrad ? q.gradBuffer() : null, k.requiresGrad ? k.gradBuffer() : null, v.requiresGrad ? v.gradBuffer() : null);
    });
  }
  // The backward reads probs, so callers get their own copy then.
  const weights = o.returnWeights ? (recording ? probs.slice() : probs) : null;
  return { out, weights };
}
