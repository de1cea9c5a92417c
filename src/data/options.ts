/**
 * How a corpus file becomes training data: which lines are read, how long a
 * sentence may be, how pairs are split and tokenized. A model bundle records
 * these (config.json's "data") so evaluation re-reads the same split.
 * Defaults and presets are in train/options.ts.
 */
import type { TokenizerLevel } from './tokenizer.js';

/** How a corpus is read, split and tokenized (the `data` part of a bundle's config.json). */
export interface DataOptions {
  /** First N pairs of the file (Keras's num_samples), or 'all'. */
  samples: number | 'all';
  /** Longest source/target in characters (tokens for word/BPE); longer pairs are skipped and counted. */
  maxSourceLength: number;
  maxTargetLength: number;
  /** 'hash' = 90/5/5 keyed by source sentence; 'keras' = last 20% for validation, no test set. */
  split: 'hash' | 'keras';
  /** Fold U+202F/U+00A0/U+2009 to plain spaces. */
  normalizeSpaces: boolean;
  /** Skip malformed lines (counted) instead of failing. */
  skipBadLines: boolean;
  /** Token level: characters (the seed), words, or BPE subwords. */
  level: TokenizerLevel;
  /** BPE merges learned from the training split (level 'bpe'). */
  bpeMerges: number;
  /**
   * A validation (dev) file of pairs. When set, every pair of the corpus is
   * training data (no split is made: `split` is not used) and validation
   * comes from this file.
   */
  validData?: string;
  /** A test file of pairs, with `validData` (the test split is empty without it). */
  testData?: string;
  /**
   * One vocabulary (and one tokenizer: BPE merges learned on both sides
   * together) for source and target. Absent in bundles made before it: false.
   */
  sharedVocab?: boolean;
}
