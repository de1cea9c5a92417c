/**
 * Train/validation/test splits.
 *
 * `splitBySource` assigns each pair by a hash of its source sentence, so a
 * source that appears with several translations (common in fra.txt) lands
 * wholly on one side and validation scores are not inflated by leakage. The
 * hash is salted with a fixed constant, not the training seed, so the split
 * of a corpus never changes between runs.
 */

export interface DataSplit<T> {
  train: T[];
  validation: T[];
  /** Empty for `kerasSplit`. */
  test: T[];
}

/** Options of `splitBySource`: split fractions and the hash salt. */
export interface SplitOptions {
  /** Fraction of distinct sources sent to validation. Default 0.05. */
  validation?: number;
  /** Fraction of distinct sources sent to test. Default 0.05. */
  test?: number;
  /** Changes which sources land where; keep the default for comparable runs. */
  salt?: string;
}

export const DEFAULT_SPLIT_SALT = 's2s-split-v1';

/**
 * Deterministic split keyed by source sentence; train gets the remaining
 * fraction. File order is preserved within each part.
 */
export function splitBySource<T extends { source: string }>(
  pairs: readonly T[],
  options: SplitOptions = {},
): DataSplit<T> {
  const validation = options.validation ?? 0.05;
  const test = options.test ?? 0.05;
  checkFraction('validation', validation);
  checkFraction('test', test);
  if (validation + test > 1) {
    throw new RangeError(`validation + test fractions exceed 1 (${validation} + ${test})`);
  }
  const saltBytes = utf8.encode(options.salt ?? DEFAULT_SPLIT_SALT);
  const out: DataSplit<T> = { train: [], validation: [], test: [] };
  const cache = new Map<string, number>();
  for (const pair of pairs) {
    let u = cache.get(pair.source);
    if (u === undefined) {
      u = sourceBucket(pair.source, saltBytes);
      cache.set(pair.source, u);
    }
    // Test takes the top of [0,1), validation the band below it.
    if (u >= 1 - test) out.test.push(pair);
    else if (u >= 1 - test - validation) out.validation.push(pair);
    else out.train.push(pair);
  }
  return out;
}

/**
 * Keras `validation_split`: the last `validationFraction` of the samples
 * (floor of the train share, as Keras computes it) become validation; no test.
 */
export function kerasSplit<T>(pairs: readonly T[], validationFraction = 0.2): DataSplit<T> {
  checkFraction('validationFraction', validationFraction);
  const splitAt = Math.floor(pairs.length * (1 - validationFraction));
  return { train: pairs.slice(0, splitAt), validation: pairs.slice(splitAt), test: [] };
}

/** FNV-1a 32-bit hash of bytes, continuing from `hash` (default offset basis). */
export function fnv1a32(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const utf8 = new TextEncoder();

/** Maps a source sentence to [0, 1). */
function sourceBucket(source: string, saltBytes: Uint8Array): number {
  let h = fnv1a32(saltBytes);
  h = fnv1a32(utf8.encode(source), h);
  // FNV's low and high bits are poorly mixed for short inputs; a murmur3
  // finaliser spreads them so the fractions come out as requested.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

function checkFraction(name: string, value: number): void {
  if (!(Number.isFinite(value) && value >= 0 && value <= 1)) {
    throw new RangeError(`${name} fraction must be in [0, 1], got ${value}`);
  }
}

/**
 * n items spread evenly over the list, in order (all of them when n ≥
 * length): a sample that covers every part of a corpus sorted by length.
 */
export function evenlySpaced<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return items.slice();
  if (n <= 0) return [];
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]);
}
