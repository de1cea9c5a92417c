/**
 * Evaluation metrics: sacreBLEU-compatible BLEU and chrF, plus exact match.
 */
export {
  corpusBleu,
  sentenceBleu,
  computeBleu,
  type BleuOptions,
  type BleuResult,
  type SmoothMethod,
  type CorpusReferences,
} from './bleu.js';
export { corpusChrf, sentenceChrf, type ChrfOptions, type ChrfResult } from './chrf.js';
export { tokenize13a, splitWhitespace, type BleuTokenizer } from './tokenizer13a.js';

export { exactMatch, type ExactMatchOptions } from './exact-match.js';
export { bleuSignature, chrfSignature, chrfName, referenceCount, SACREBLEU_VERSION, SIGNATURE_VERSION, type ReferenceCount } from './signature.js';
export { groupBySource, referenceStreams, type SourceGroup } from './references.js';
export { scoreCorpus, type CorpusScores, type BleuScore, type ChrfScore, type MetricOptions } from './score.js';
export { hypothesisLines, alignHypotheses, LineCountError } from './hypotheses.js';
