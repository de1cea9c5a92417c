/**
 * A decoder block's self-attention key/value cache while decoding. Row r's
 * positions are rows r·capacity … of a [rows·capacity, D] matrix, so the
 * attention op reads the cache as a padded batch of `capacity` keys with a
 * mask over the filled positions (the rest are zeros, never attended).
 * Appending a position writes in place, and the capacity doubles when full,
 * so a decoding step copies nothing but the new row.
 *
 * States holding a cache stay immutable to their holders: only the state
 * that filled a cache last may append to it in place (its length equals
 * `filled`); an older state stepped again, or a reordering (selectState),
 * gets a copy of the positions it sees.
 */
import { Tensor } from '../engine/index.js';

/** Capacity of a new cache, in positions (doubling from here). */
const INITIAL_CAPACITY = 16;

export class SelfAttentionCache {
  /** Positions written so far (by the state that owns the in-place appends). */
  private filled: number;
  /** Keys and values as [rows·capacity, D] tensors (views of the buffers). */
  readonly keys: Tensor;
  readonly values: Tensor;

  private constructor(
    readonly rows: number, readonly dim: number, readonly capacity: number,
    private readonly k: Float32Array, private readonly v: Float32Array,
    /** 1 on the filled positions of every row, [rows·capacity]. */
    private readonly mask: Uint8Array, filled: number,
  ) {
    this.filled = filled;
    this.keys = new Tensor(k, [rows * capacity, dim]);
    this.values = new Tensor(v, [rows * capacity, dim]);
  }

  /** The key shape the attention op sees: `capacity` keys per row, masked past the filled positions. */
  keyShape(): { batch: number; length: number; mask: Uint8Array } {
    return { batch: this.rows, length: this.capacity, mask: this.mask };
  }

  /**
   * The cache of the first `length` positions of `cache` (null: none yet)
   * with position `length` appended from k and v [rows, D]. In place when
   * `cache` was last filled to exactly `length` and has room; else a copy.
   */
  static append(cache: SelfAttentionCache | null, length: number, k: Tensor, v: Tensor): SelfAttentionCache {
    const rows = k.rows, D = k.cols;
    let c = cache;
    if (!c) c = SelfAttentionCache.allocate(rows, D, Math.max(INITIAL_CAPACITY, length + 1));
    else if (c.filled !== length || length >= c.capacity || c.rows !== rows) c = c.select(null, length);
    const cap = c.capacity;
    for (let r = 0; r < rows; r++) {
      const at = (r * cap + length) * D;
      c.k.set(k.data.subarray(r * D, (r + 1) * D), at);
      c.v.set(v.data.subarray(r * D, (r + 1) * D), at);
      c.mask[r * cap + length] = 1;
    }
    c.filled = length + 1;
    return c;
  }

  /**
   * A new cache with the first `length` positions of the rows picked by
   * `index` (rows may repeat; null: every row in order), with room for at
   * least one more position.
   */
  select(index: Int32Array | null, length: number): SelfAttentionCache {
    const rows = index ? index.length : this.rows, D = this.dim;
    let cap = INITIAL_CAPACITY;
    while (cap < length + 1) cap *= 2;
    const out = SelfAttentionCache.allocate(rows, D, cap, length);
    const from = this.capacity * D, to = cap * D, n = length * D;
    for (let i = 0; i < rows; i++) {
      const src = (index ? index[i] : i) * from;
      out.k.set(this.k.subarray(src, src + n), i * to);
      out.v.set(this.v.subarray(src, src + n), i * to);
    }
    return out;
  }

  /** Zeroed buffers (masked keys must be finite: they are multiplied by probability 0), the first `filled` positions marked. */
  private static allocate(rows: number, D: number, cap: number, filled = 0): SelfAttentionCache {
    const mask = new Uint8Array(rows * cap);
    for (let r = 0; r < rows; r++) mask.fill(1, r * cap, r * cap + filled);
    return new SelfAttentionCache(rows, D, cap, new Float32Array(rows * cap * D), new Float32Array(rows * cap * D), mask, filled);
  }
}
