/**
 * Reading a corpus file and splitting it exactly as a bundle's data options
 * say, so training, evaluation and resume all see the same pairs on the same
 * side of the split. Vocabularies and tokenizers are not built here
 * (train/prepare.ts does that for training).
 */
import { readFileSync } from 'node:fs';
import { parsePairs, type CorpusStats, type SentencePair } from './corpus.js';
import { splitBySource, kerasSplit, type DataSplit } from './split.js';
import { generateCorpus, formatCorpusTsv } from './synthetic.js';
import type { DataOptions } from './options.js';

/** Name under which the generated corpus is recorded in a bundle. */
export const BUILTIN_CORPUS = '<built-in>';

/** The built-in corpus as TSV text (deterministic). */
export function builtinCorpusText(size = 5000): string {
  return formatCorpusTsv(generateCorpus({ size, seed: 1 }));
}

/**
 * Reads and splits a corpus without building vocabularies (for evaluation).
 * With `options.validData` the corpus is all training data and validation
 * (and test, with `testData`) are read from their own files, with the same
 * reading options but no `samples` limit; `stats` describes the corpus.
 * `testData` without `validData` is ignored here (train() refuses it).
 */
export function readSplit(corpus: string, options: DataOptions): { stats: CorpusStats; split: DataSplit<SentencePair> } {
  const bytes = corpus === BUILTIN_CORPUS ? builtinCorpusText() : readFileSync(corpus);
  const reading = {
    skipBadLines: options.skipBadLines,
    normalizeSpaces: options.normalizeSpaces,
    maxSourceLength: options.maxSourceLength,
    maxTargetLength: options.maxTargetLength,
  };
  const { pairs, stats } = parsePairs(bytes, corpus, { ...reading, samples: options.samples });
  if (options.validData) {
    const heldOut = (file: string): SentencePair[] => parsePairs(readFileSync(file), file, reading).pairs;
    return { stats, split: { train: pairs, validation: heldOut(options.validData), test: options.testData ? heldOut(options.testData) : [] } };
  }
  const split = options.split === 'keras' ? kerasSplit(pairs) : splitBySource(pairs);
  return { stats, split };
}
