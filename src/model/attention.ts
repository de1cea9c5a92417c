/**
 * Attention over the encoder outputs (Luong dot/general, Bahdanau additive)
 * and Luong's attentional vector ã = tanh(W_c [context; h]), which feeds the
 * output layer and, through input feeding, the next decoder step.
 *
 * The memory is kept batch-major and padded: values [B, S·D] and keys
 * [B, S·K] as 2-D tensors (so selecting rows for beams is a row gather),
 * plus a mask of real source positions.
 */
import { Tensor, ops, glorotUniform, parameter, type Rng } from '../engine/index.js';
import type { AttentionType } from './config.js';

export interface Memory {
  /** Encoder outputs, [B, S·D]. */
  values: Tensor;
  /** Precomputed keys, [B, S·K] (the values themselves for dot attention). */
  keys: Tensor;
  /** 1 where a source position is real, [B·S]. */
  mask: Uint8Array;
  srcLen: number;
  valueDim: number;
  keyDim: number;
}

export class Attention {
  /** general: W_a [D, H]; additive: W_k [D, H]. */
  readonly keyKernel: Tensor | null;
  /** additive: W_q [H, H] and v [H, 1]. */
  readonly queryKernel: Tensor | null;
  readonly scoreVector: Tensor | null;
  /** W_c [D + H, H]. */
  readonly combineKernel: Tensor;

  constructor(readonly type: Exclude<AttentionType, 'none'>, readonly valueDim: number, readonly hidden: number, rng: Rng | null) {
    const H = hidden, D = valueDim;
    this.keyKernel = type === 'dot' ? null : parameter('attention/key_kernel', [D, H], glorotUniform([D, H], rng));
    this.queryKernel = type === 'additive' ? parameter('attention/query_kernel', [H, H], glorotUniform([H, H], rng)) : null;
    this.scoreVector = type === 'additive' ? parameter('attention/score_vector', [H, 1], glorotUniform([H, 1], rng)) : null;
    this.combineKernel = parameter('attention/combine_kernel', [D + H, H], glorotUniform([D + H, H], rng));
  }

  parameters(): Tensor[] {
    return [this.keyKernel, this.queryKernel, this.scoreVector, this.combineKernel].filter((p): p is Tensor => p !== null);
  }

  get keyDim(): number {
    return this.type === 'dot' ? this.valueDim : this.hidden;
  }

  /** Keys for packed encoder outputs [N, D] → [N, K]. */
  keysOf(packedValues: Tensor): Tensor {
    return this.keyKernel ? ops.matmul(packedValues, this.keyKernel) : packedValues;
  }

  /**
   * One decoder step for the first n rows of the memory: query h [n, H] →
   * attentional vector [n, H] and attention weights [n, S].
   */
  step(h: Tensor, memory: Memory): { attentional: Tensor; weights: Tensor } {
    const n = h.shape[0], S = memory.srcLen, D = memory.valueDim, K = memory.keyDim;
    const values = ops.reshape(ops.takeRows(memory.values, n), [n, S, D]);
    const keys = ops.takeRows(memory.keys, n);
    let scores: Tensor;
    if (this.type === 'additive') {
      const q = ops.matmul(h, this.queryKernel as Tensor); // [n, H]
      const expand = new Int32Array(n * S);
      for (let j = 0; j < n; j++) expand.fill(j, j * S, (j + 1) * S);
      const energy = ops.tanh(ops.add(ops.reshape(keys, [n * S, K]), ops.gatherRows(q, expand)));
      scores = ops.reshape(ops.matmul(energy, this.scoreVector as Tensor), [n, 1, S]);
    } else {
      scores = ops.bmm(ops.reshape(h, [n, 1, K]), ops.reshape(keys, [n, S, K]), false, true); // [n, 1, S]
    }
    const weights = ops.softmax(scores, memory.mask.subarray(0, n * S));
    const context = ops.reshape(ops.bmm(weights, values), [n, D]);
    const attentional = ops.tanh(ops.matmul(ops.concat([context, h]), this.combineKernel));
    return { attentional, weights: ops.reshape(weights, [n, S]) };
  }
}

/** Picks memory rows (sentences) by index, e.g. to reorder a batch or expand beams. */
export function selectMemory(memory: Memory, index: Int32Array): Memory {
  const S = memory.srcLen;
  const mask = new Uint8Array(index.length * S);
  for (let i = 0; i < index.length; i++) mask.set(memory.mask.subarray(index[i] * S, (index[i] + 1) * S), i * S);
  const values = ops.gatherRows(memory.values, index);
  const keys = memory.keys === memory.values ? values : ops.gatherRows(memory.keys, index);
  return { ...memory, values, keys, mask };
}
