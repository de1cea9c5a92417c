/**
 * From a pair file (or the built-in corpus) to encoded training examples:
 * read, split, tokenize, build vocabularies from the training split only,
 * encode. Pure data plumbing shared by `s2s train`, resume and benchmarks.
 */
import { readFileSync } from 'node:fs';
import { parsePairs, type CorpusStats, type SentencePair } from '../data/corpus.js';
import { splitBySource, kerasSplit, type DataSplit } from '../data/split.js';
import { CharTokenizer, type Tokenizer } from '../data/tokenizer.js';
import { Vocab } from '../data/vocab.js';
import { encodePairs, type Example } from '../data/batching.js';
import { generateCorpus, formatCorpusTsv } from '../data/synthetic.js';
import type { DataOptions } from './options.js';

/** Name under which the generated corpus is recorded in a bundle. */
export const BUILTIN_CORPUS = '<built-in>';

export interface PreparedData {
  /** File path, or BUILTIN_CORPUS. */
  corpus: string;
  stats: CorpusStats;
  split: DataSplit<SentencePair>;
  tokenizers: { source: Tokenizer; target: Tokenizer };
  vocabs: { source: Vocab; target: Vocab };
  examples: { train: Example[]; validation: Example[]; test: Example[] };
}

/** The built-in corpus as TSV text (deterministic). */
export function builtinCorpusText(size = 5000): string {
  return formatCorpusTsv(generateCorpus({ size, seed: 1 }));
}

/** Reads and splits a corpus without building vocabularies (for evaluation). */
export function readSplit(corpus: string, options: DataOptions): { stats: CorpusStats; split: DataSplit<SentencePair> } {
  const bytes = corpus === BUILTIN_CORPUS ? builtinCorpusText() : readFileSync(corpus);
  const { pairs, stats } = parsePairs(bytes, corpus, {
    samples: options.samples,
    skipBadLines: options.skipBadLines,
    normalizeSpaces: options.normalizeSpaces,
    maxSourceLength: options.maxSourceLength,
    maxTargetLength: options.maxTargetLength,
  });
  const split = options.split === 'keras' ? kerasSplit(pairs) : splitBySource(pairs);
  return { stats, split };
}

/**
 * Prepares a corpus for training. With `vocabs` given (resuming), they are
 * reused instead of rebuilt, so ids match the checkpoint.
 */
export function prepareData(corpus: string, options: DataOptions, vocabs?: { source: Vocab; target: Vocab }): PreparedData {
  const { stats, split } = readSplit(corpus, options);
  if (split.train.length === 0) throw new Error(`${corpus}: no training pairs after reading and splitting (${stats.kept} pairs kept)`);
  const tokenizers = { source: new CharTokenizer(), target: new CharTokenizer() };
  const v = vocabs ?? {
    source: Vocab.build(split.train.map((p) => tokenizers.source.tokenize(p.source))),
    target: Vocab.build(split.train.map((p) => tokenizers.target.tokenize(p.target))),
  };
  const encode = (pairs: SentencePair[]): Example[] => encodePairs(pairs, tokenizers, v).examples;
  return {
    corpus, stats, split, tokenizers, vocabs: v,
    examples: { train: encode(split.train), validation: encode(split.validation), test: encode(split.test) },
  };
}
