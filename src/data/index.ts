/** Public API of the data layer: corpus reading, splits, tokenizers, vocabularies, batching, demo corpus. */
export { CorpusError, codePointLength, parsePairs, readPairs, readPairsSync } from './corpus.js';
export type { Corpus, CorpusStats, ReadPairsOptions, SentencePair } from './corpus.js';
export { BUILTIN_CORPUS, builtinCorpusText, readSplit } from './read-split.js';
export type { DataOptions } from './options.js';
export { DEFAULT_SPLIT_SALT, evenlySpaced, fnv1a32, kerasSplit, splitBySource } from './split.js';
export type { DataSplit, SplitOptions } from './split.js';
export type { BpeSpec, Tokenizer, TokenizerLevel, TokenizerSpec } from './tokenizer.js';
export { CharTokenizer } from './char.js';
export { tokenizerFromJSON } from './tokenizer-factory.js';
export { GLUE, SPACE, WordTokenizer, segmentWords, wordCore } from './word.js';
export { BpeTokenizer, CONTINUATION, END_OF_WORD, learnBpe, learnBpeFromCounts } from './bpe.js';
export type { BpeModel, LearnBpeOptions } from './bpe.js';
export {
  BOS_ID,
  BOS_TOKEN,
  EOS_ID,
  EOS_TOKEN,
  PAD_ID,
  PAD_TOKEN,
  SPECIAL_TOKENS,
  UNK_ID,
  UNK_TOKEN,
  Vocab,
  compareCodePoints,
} from './vocab.js';
export type { Encoded, VocabBuildOptions, VocabJSON } from './vocab.js';
export { encodePairs, makeBatch, makeSourceBatch, planEpoch, splitIndices, PackedExamples } from './batching.js';
export type { Batch, EncodeResult, EpochPlanOptions, Example, ExampleList, SourceBatch } from './batching.js';
export { formatCorpusTsv, generateCorpus, generateSentence, writeCorpusTsv } from './synthetic.js';
export type { GenerateCorpusOptions, GeneratedPair } from './synthetic.js';
