/**
 * Bucketed batching in the style of OpenNMT's pooled batching: sentences of
 * similar length share a batch (little padding) while batch order stays
 * random. Batches hold ids only — no one-hot tensors — so a full corpus
 * stays small in memory.
 */
import type { Rng } from '../engine/rng.js';
import type { Tokenizer } from './tokenizer.js';
import { BOS_ID, EOS_ID, PAD_ID, type Vocab } from './vocab.js';

export interface Example {
  src: Int32Array;
  /** Target ids without BOS/EOS; makeBatch adds them. */
  tgt: Int32Array;
  /** Caller's id for the pair (e.g. its position in the corpus). */
  index: number;
}

/**
 * Examples stored in a few flat arrays instead of one object and two small
 * arrays each. A corpus of 150,000 pairs as objects is ~80 MB of heap that
 * V8's full garbage collections must walk, and training allocates enough
 * to trigger one every step or two (each took ~70 ms, a third of the step);
 * packed, the same corpus is a handful of objects.
 */
export class PackedExamples {
  readonly length: number;
  /** Source then target ids of every example, back to back. */
  private readonly ids: Int32Array;
  /** Start of example i's source in `ids`; its target starts at srcStart[i] + srcLengths[i]. */
  private readonly srcStart: Int32Array;
  readonly srcLengths: Int32Array;
  readonly tgtLengths: Int32Array;
  readonly indices: Int32Array;

  constructor(examples: readonly Example[]) {
    this.length = examples.length;
    let total = 0;
    for (const e of examples) total += e.src.length + e.tgt.length;
    this.ids = new Int32Array(total);
    this.srcStart = new Int32Array(examples.length);
    this.srcLengths = new Int32Array(examples.length);
    this.tgtLengths = new Int32Array(examples.length);
    this.indices = new Int32Array(examples.length);
    let at = 0;
    examples.forEach((e, i) => {
      this.srcStart[i] = at;
      this.srcLengths[i] = e.src.length;
      this.tgtLengths[i] = e.tgt.length;
      this.indices[i] = e.index;
      this.ids.set(e.src, at);
      this.ids.set(e.tgt, at + e.src.length);
      at += e.src.length + e.tgt.length;
    });
  }

  *[Symbol.iterator](): IterableIterator<Example> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** Example i, its ids as views into the packed buffer. */
  at(i: number): Example {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new RangeError(`example position ${i} out of range [0, ${this.length})`);
    const s = this.srcStart[i], sl = this.srcLengths[i];
    return { src: this.ids.subarray(s, s + sl), tgt: this.ids.subarray(s + sl, s + sl + this.tgtLengths[i]), index: this.indices[i] };
  }
}

/** Examples as an array or packed. */
export type ExampleList = readonly Example[] | PackedExamples;

function exampleAt(examples: ExampleList, i: number): Example {
  if (examples instanceof PackedExamples) return examples.at(i);
  const example = examples[i];
  if (example === undefined) throw new RangeError(`example position ${i} out of range [0, ${examples.length})`);
  return example;
}

function lengthsOf(examples: ExampleList): { src: Int32Array; tgt: Int32Array } {
  if (examples instanceof PackedExamples) return { src: examples.srcLengths, tgt: examples.tgtLengths };
  return { src: Int32Array.from(examples, (e) => e.src.length), tgt: Int32Array.from(examples, (e) => e.tgt.length) };
}

export interface EpochPlanOptions {
  /** Sentences per batch. Required; not used when `maxTokens` > 0. */
  batchSize: number;
  /**
   * Fill batches to this many padded tokens instead (0 or absent: off). A
   * batch of n sentences costs n × the longest max(source, target + 1) in it
   * (what fairseq's --max-tokens counts: the padded size of the larger side;
   * +1 for BOS/EOS); a sentence longer than the budget gets a batch of its own.
   */
  maxTokens?: number;
  /** Batches' worth of examples sorted together in one pool. Default 100. */
  poolFactor?: number;
  /** Shuffle examples and batch order. Default true; false gives a fixed, sorted plan. */
  shuffle?: boolean;
}

export interface Batch {
  size: number;
  /** size × srcMaxLen, row-major, PAD-padded. */
  srcIds: Int32Array;
  srcLengths: Int32Array;
  srcMaxLen: number;
  /** size × tgtMaxLen: BOS then the target, PAD-padded. */
  tgtIn: Int32Array;
  /** size × tgtMaxLen: the target then EOS, PAD-padded. */
  tgtOut: Int32Array;
  /** Target length + 1 (the BOS/EOS step). */
  tgtLengths: Int32Array;
  tgtMaxLen: number;
  /** Example.index of each row. */
  indices: Int32Array;
  /** Sum of tgtLengths: the number of predicted tokens. */
  tokens: number;
}

export interface SourceBatch {
  size: number;
  /** size × srcMaxLen, row-major, PAD-padded, rows sorted by length descending. */
  srcIds: Int32Array;
  srcLengths: Int32Array;
  srcMaxLen: number;
  /** order[row] = position of that row's sentence in the input list. */
  order: Int32Array;
}

/**
 * Plans one epoch: shuffle, cut into pools of `batchSize × poolFactor`, sort
 * each pool by (source length, target length), cut into batches, shuffle the
 * batches. Returns batches as positions into `examples`; every example
 * appears exactly once. The plan depends only on the examples, the options
 * and the rng state, so a trainer can resume mid-epoch by saving the rng
 * state from before the call plus the batch number.
 */
export function planEpoch(examples: ExampleList, options: EpochPlanOptions, rng: Rng): number[][] {
  const { batchSize } = options;
  const poolFactor = options.poolFactor ?? 100;
  const shuffle = options.shuffle ?? true;
  const maxTokens = options.maxTokens ?? 0;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!(Number.isInteger(poolFactor) && poolFactor >= 1)) throw new RangeError(`poolFactor must be a positive integer, got ${poolFactor}`);
  if (!(Number.isInteger(maxTokens) && maxTokens >= 0)) throw new RangeError(`maxTokens must be an integer ≥ 0, got ${maxTokens}`);

  const order = Array.from({ length: examples.length }, (_, i) => i);
  if (shuffle) rng.shuffle(order);
  const lengths = lengthsOf(examples);
  const cost = (i: number): number => Math.max(lengths.src[i], lengths.tgt[i] + 1);
  // With a token budget, a pool holds about poolFactor batches of sentences of the corpus's mean size.
  let poolSize = batchSize * poolFactor;
  if (maxTokens > 0) {
    let total = 0;
    for (let i = 0; i < examples.length; i++) total += cost(i);
    poolSize = poolFactor * Math.max(1, Math.floor(maxTokens / Math.max(1, total / Math.max(1, examples.length))));
  }
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += poolSize) {
    const pool = order.slice(start, start + poolSize);
    // Array.prototype.sort is stable, so ties keep their shuffled order. Token budgets sort by the padded cost first.
    if (maxTokens > 0) pool.sort((a, b) => cost(a) - cost(b) || lengths.src[a] - lengths.src[b] || lengths.tgt[a] - lengths.tgt[b]);
    else pool.sort((a, b) => lengths.src[a] - lengths.src[b] || lengths.tgt[a] - lengths.tgt[b]);
    if (maxTokens === 0) {
      for (let i = 0; i < pool.length; i += batchSize) batches.push(pool.slice(i, i + batchSize));
      continue;
    }
    let batch: number[] = [], longest = 0;
    for (const i of pool) {
      const len = Math.max(longest, cost(i));
      if (batch.length > 0 && (batch.length + 1) * len > maxTokens) {
        batches.push(batch);
        batch = [];
        longest = cost(i);
      } else longest = len;
      batch.push(i);
    }
    if (batch.length) batches.push(batch);
  }
  if (shuffle) rng.shuffle(batches);
  return batches;
}

/** Pads the chosen examples into a batch, rows sorted by source length descending (stable). */
/**
 * A batch's rows dealt into `parts` groups of about equal work (source plus
 * target tokens; longest first, each to the group with the least so far),
 * for data-parallel training; empty groups are left out.
 */
export function splitIndices(examples: ExampleList, indices: readonly number[], parts: number): number[][] {
  const cost = (i: number): number => {
    const e = exampleAt(examples, i);
    return e.src.length + e.tgt.length + 1;
  };
  const order = [...indices].sort((a, b) => cost(b) - cost(a) || a - b);
  const groups: number[][] = Array.from({ length: parts }, () => []);
  const load = new Array<number>(parts).fill(0);
  for (const i of order) {
    let least = 0;
    for (let g = 1; g < parts; g++) if (load[g] < load[least]) least = g;
    groups[least].push(i);
    load[least] += cost(i);
  }
  return groups.filter((g) => g.length > 0);
}

export function makeBatch(examples: ExampleList, indices: readonly number[]): Batch {
  const rows = sortByLengthDesc(indices.map((i) => exampleAt(examples, i)), (e) => e.src.length);
  const size = rows.length;
  let srcMaxLen = 0;
  let tgtMaxLen = 0;
  for (const e of rows) {
    srcMaxLen = Math.max(srcMaxLen, e.src.length);
    tgtMaxLen = Math.max(tgtMaxLen, e.tgt.length + 1);
  }
  const srcIds = new Int32Array(size * srcMaxLen).fill(PAD_ID);
  const tgtIn = new Int32Array(size * tgtMaxLen).fill(PAD_ID);
  const tgtOut = new Int32Array(size * tgtMaxLen).fill(PAD_ID);
  const srcLengths = new Int32Array(size);
  const tgtLengths = new Int32Array(size);
  const batchIndices = new Int32Array(size);
  let tokens = 0;
  rows.forEach((e, r) => {
    srcIds.set(e.src, r * srcMaxLen);
    srcLengths[r] = e.src.length;
    const t = e.tgt.length;
    tgtIn[r * tgtMaxLen] = BOS_ID;
    tgtIn.set(e.tgt, r * tgtMaxLen + 1);
    tgtOut.set(e.tgt, r * tgtMaxLen);
    tgtOut[r * tgtMaxLen + t] = EOS_ID;
    tgtLengths[r] = t + 1;
    tokens += t + 1;
    batchIndices[r] = e.index;
  });
  return { size, srcIds, srcLengths, srcMaxLen, tgtIn, tgtOut, tgtLengths, tgtMaxLen, indices: batchIndices, tokens };
}

/** Pads source sentences for translation; `order` maps rows back to input positions. */
export function makeSourceBatch(srcList: readonly Int32Array[]): SourceBatch {
  const order = sortByLengthDesc(srcList.map((_, i) => i), (i) => srcList[i].length);
  const size = srcList.length;
  let srcMaxLen = 0;
  for (const src of srcList) srcMaxLen = Math.max(srcMaxLen, src.length);
  const srcIds = new Int32Array(size * srcMaxLen).fill(PAD_ID);
  const srcLengths = new Int32Array(size);
  order.forEach((i, r) => {
    srcIds.set(srcList[i], r * srcMaxLen);
    srcLengths[r] = srcList[i].length;
  });
  return { size, srcIds, srcLengths, srcMaxLen, order: Int32Array.from(order) };
}

export interface EncodeResult {
  examples: Example[];
  /** Distinct source/target tokens that became UNK. */
  unknownSource: string[];
  unknownTarget: string[];
}

/**
 * Tokenizes and encodes pairs into examples; Example.index is the pair's
 * position in `pairs`.
 */
export function encodePairs(
  pairs: readonly { source: string; target: string }[],
  tokenizers: { source: Tokenizer; target: Tokenizer },
  vocabs: { source: Vocab; target: Vocab },
): EncodeResult {
  const unknownSource = new Set<string>();
  const unknownTarget = new Set<string>();
  const examples = pairs.map((pair, index) => {
    const src = vocabs.source.encode(tokenizers.source.tokenize(pair.source));
    const tgt = vocabs.target.encode(tokenizers.target.tokenize(pair.target));
    for (const u of src.unknown) unknownSource.add(u);
    for (const u of tgt.unknown) unknownTarget.add(u);
    return { src: src.ids, tgt: tgt.ids, index };
  });
  return { examples, unknownSource: [...unknownSource], unknownTarget: [...unknownTarget] };
}

function sortByLengthDesc<T>(items: T[], length: (item: T) => number): T[] {
  return items.sort((a, b) => length(b) - length(a));
}
