/**
 * Scoring a model bundle on a corpus, as `s2s eval` does: the corpus is read
 * and split exactly as it was for training (the bundle records how), the
 * chosen split translated, and BLEU, chrF and exact match computed.
 */
import { existsSync } from 'node:fs';
import { loadBundle, type LoadedBundle } from '../bundle/bundle.js';
import type { SentencePair } from '../data/corpus.js';
import { DECODE_DEFAULTS } from '../decode/options.js';
import { readSplit, BUILTIN_CORPUS } from '../data/read-split.js';
import { ConfigError } from '../model/config.js';
import { corpusBleu, type BleuResult } from './bleu.js';
import { corpusChrf, type ChrfResult } from './chrf.js';
import { exactMatch } from './index.js';

export type EvalSplit = 'train' | 'validation' | 'test';

export interface EvaluateOptions {
  /** A bundle directory, or a bundle already loaded. */
  model: string | LoadedBundle;
  /** The corpus file, or `'builtin'` for the generated corpus. */
  data: string;
  /** Which split to score. Default 'test'. */
  split?: EvalSplit;
  /** Score only the first N sentences of the split. */
  limit?: number;
  /** Beam size; 1 = greedy. Default DECODE_DEFAULTS.beam. */
  beam?: number;
  batchSize?: number;
  /** Longest output in tokens (default: the bundle's max target length). */
  maxLength?: number;
  lengthPenalty?: number;
}

export interface EvaluateResult {
  split: EvalSplit;
  /** The corpus as recorded (a path, or the built-in corpus's name). */
  corpus: string;
  /** Sentences scored. */
  sentences: number;
  bleu: BleuResult;
  chrf: ChrfResult;
  /** Fraction (0..1) of hypotheses equal to their reference. */
  exactMatch: number;
  /** Wall-clock seconds spent translating, and the resulting speed. */
  seconds: number;
  sentencesPerSecond: number;
  /** The scored pairs and their translations, in corpus order. */
  pairs: SentencePair[];
  hypotheses: string[];
}

/** Translates a split of a corpus with a bundle and scores it. */
export function evaluate(options: EvaluateOptions): EvaluateResult {
  const bundle = typeof options.model === 'string' ? loadBundle(options.model) : options.model;
  const split = options.split ?? 'test';
  const corpus = options.data === 'builtin' ? BUILTIN_CORPUS : options.data;
  if (corpus !== BUILTIN_CORPUS && !existsSync(corpus)) throw new ConfigError(`${corpus}: no such file`);
  let pairs = readSplit(corpus, bundle.config.data).split[split];
  if (options.limit !== undefined) pairs = pairs.slice(0, options.limit);
  if (pairs.length === 0) throw new ConfigError(`the ${split} split of ${corpus} is empty`);
  const t0 = performance.now();
  const hypotheses = bundle.translator.translate(pairs.map((p) => p.source), {
    batchSize: options.batchSize ?? DECODE_DEFAULTS.batchSize,
    maxLength: options.maxLength,
    beam: options.beam ?? DECODE_DEFAULTS.beam,
    lengthPenalty: options.lengthPenalty ?? DECODE_DEFAULTS.lengthPenalty,
  }).map((t) => t.text);
  const seconds = (performance.now() - t0) / 1000;
  const refs = pairs.map((p) => p.target);
  return {
    split, corpus, sentences: pairs.length,
    bleu: corpusBleu(hypotheses, refs), chrf: corpusChrf(hypotheses, refs), exactMatch: exactMatch(hypotheses, refs),
    seconds, sentencesPerSecond: pairs.length / seconds, pairs, hypotheses,
  };
}
