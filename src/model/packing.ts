/**
 * Packed order of a padded batch: rows sorted by length (longest first) and
 * taken step-major, so step t's active sequences are a prefix. Both
 * architectures report their training logits in this order.
 */
import type { PackedLayout } from '../engine/index.js';

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
export function packedPositions(layout: PackedLayout, order: Int32Array, stride: number): Int32Array {
  const pos = new Int32Array(layout.total);
  for (let t = 0; t < layout.steps; t++) {
    const off = layout.offsets[t];
    for (let j = 0; j < layout.batchSizes[t]; j++) pos[off + j] = order[j] * stride + t;
  }
  return pos;
}

/** ids[positions[i]] for every i. */
export function pick(ids: Int32Array, positions: Int32Array): Int32Array {
  const out = new Int32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = ids[positions[i]];
  return out;
}
