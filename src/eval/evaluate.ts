/**
 * Scoring, as `s2s eval` does: a model bundle's translations of a corpus
 * (a split of it, read and split exactly as in training, or every line),
 * or a hypothesis file someone already produced, against the corpus's
 * targets; one reference per line, or (`multiRef`) each distinct source
 * once against all its targets. The result holds every score with its
 * sacreBLEU-style signature, the counts, and the speed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { loadBundle, type LoadedBundle } from '../bundle/bundle.js';
import { parsePairs, type SentencePair } from '../data/corpus.js';
import { DECODE_DEFAULTS } from '../decode/options.js';
import { translateLines } from '../decode/stream.js';
import { readSplit, builtinCorpusText, BUILTIN_CORPUS } from '../data/read-split.js';
import { ConfigError } from '../model/config.js';
import { groupBySource, referenceStreams } from './references.js';
import { alignHypotheses, hypothesisLines } from './hypotheses.js';
import { scoreCorpus, type CorpusScores, type MetricOptions } from './score.js';

/** A split of the training corpus as the bundle made it, or 'all': every line of the file. */
export type EvalSplit = 'train' | 'validation' | 'test' | 'all';

/** What evaluate() scores and how; see the fields. */
export interface EvaluateOptions {
  /** A bundle directory, or a bundle already loaded. Needed unless `hypotheses` are given. */
  model?: string | LoadedBundle;
  /** The corpus file, or `'builtin'` for the generated corpus. Default: the corpus the bundle was trained on. */
  data?: string;
  /**
   * Which pairs to score. Default 'test' with a model, 'all' with
   * `hypotheses`. With a bundle trained with validation/test files
   * (`validData`, `testData`), 'validation' and 'test' are every line of
   * those files (`data` is then not needed).
   */
  split?: EvalSplit;
  /** Score these hypotheses (a file path, or the lines) instead of translating: no model needed for split 'all'. */
  hypotheses?: string | readonly string[];
  /** Score each distinct source once against all its targets (sacreBLEU with several references). Default false. */
  multiRef?: boolean;
  /** Score only the first N pairs of the split. */
  limit?: number;
  /** Beam size; 1 = greedy. Default DECODE_DEFAULTS.beam. */
  beam?: number;
  batchSize?: number;
  /** Longest output in tokens (default: the bundle's max target length). */
  maxLength?: number;
  lengthPenalty?: number;
  /** BLEU and chrF options (sacreBLEU's defaults when absent); the signatures follow them. */
  metrics?: MetricOptions;
}

/** One scored sentence: a source, its reference(s), the hypothesis. */
export interface ScoredSegment {
  source: string;
  references: string[];
  hypothesis: string;
  /** 1-based line in the corpus file (the first one, with multiRef). */
  line: number;
}

/** Scores, signatures, counts and speed of an evaluation, with the scored sentences. */
export interface EvaluateResult extends CorpusScores {
  split: EvalSplit;
  /** The corpus as recorded (a path, or the built-in corpus's name). */
  corpus: string;
  /** The hypothesis file scored, when hypotheses were given as a path. */
  hypothesisFile: string | null;
  multiRef: boolean;
  /** Sentence pairs read (equals `sentences` without multiRef). */
  pairCount: number;
  /** Sentences the model could not translate (e.g. longer than it accepts): scored as empty translations. */
  failed: { line: number; message: string }[];
  /** The signature of each metric (also in `bleu.signature`, `chrf.signature`). */
  signatures: { bleu: string; chrf: string };
  /** Wall-clock seconds spent translating and the resulting speed; 0 and null when hypotheses were given. */
  seconds: number;
  sentencesPerSecond: number | null;
  /** The pairs read, in corpus order. */
  pairs: SentencePair[];
  /** One hypothesis per scored sentence, in order (per distinct source with multiRef). */
  hypotheses: string[];
  segments: ScoredSegment[];
}

function corpusOf(options: EvaluateOptions, bundle: LoadedBundle | null): string {
  const data = options.data ?? bundle?.config.data.corpus;
  if (data === undefined) throw new ConfigError('evaluate: no data file given (and no model bundle to take its corpus from)');
  const corpus = data === 'builtin' ? BUILTIN_CORPUS : data;
  if (corpus !== BUILTIN_CORPUS && !existsSync(corpus)) {
    // Exported and quantized bundles keep only the corpus's file name, not its path on the training machine.
    const hint = options.data === undefined ? ` (the corpus recorded in the model bundle; pass --data with its path)` : '';
    throw new ConfigError(`${corpus}: no such file${hint}`);
  }
  return corpus;
}

/** Every pair of the file, read the way the bundle reads text (or with the defaults without a bundle). */
function readAll(corpus: string, bundle: LoadedBundle | null): SentencePair[] {
  const bytes = corpus === BUILTIN_CORPUS ? builtinCorpusText() : readFileSync(corpus);
  const data = bundle?.config.data;
  return parsePairs(bytes, corpus, { skipBadLines: data?.skipBadLines ?? false, normalizeSpaces: data?.normalizeSpaces ?? false }).pairs;
}

/** Scores a model's translations, or given hypotheses, on a corpus; see EvaluateOptions. */
export function evaluate(options: EvaluateOptions): EvaluateResult {
  const bundle = options.model === undefined ? null : typeof options.model === 'string' ? loadBundle(options.model) : options.model;
  if (!bundle && options.hypotheses === undefined) throw new ConfigError('evaluate: give a model to translate with, or hypotheses to score');
  const split = options.split ?? (options.hypotheses === undefined ? 'test' : 'all');
  // A bundle trained with its own validation/test files scores those files, every line.
  const data = bundle?.config.data;
  const recorded = !data?.validData ? undefined : split === 'validation' ? data.validData : split === 'test' ? data.testData : undefined;
  if (data?.validData && split === 'test' && !recorded) {
    throw new ConfigError(`the model was trained with a validation file (${data.validData}) and no test file, so it has no test split; score a test file with split "all" and that file as data`);
  }
  if (recorded && !existsSync(recorded)) throw new ConfigError(`${recorded} (the ${split} file recorded in the model bundle): no such file`);
  const corpus = recorded ?? corpusOf(options, bundle);
  let pairs: SentencePair[];
  if (split === 'all' || recorded) pairs = readAll(corpus, bundle);
  else {
    if (!bundle) throw new ConfigError(`evaluate: split "${split}" needs the model bundle (it records how the corpus was split); use split "all" to score every line`);
    pairs = readSplit(corpus, bundle.config.data).split[split];
  }
  // A hypothesis file covers all the pairs: its length is checked against them before any limit applies.
  const allPairs = pairs.length;
  if (options.limit !== undefined) pairs = pairs.slice(0, options.limit);
  const what = split === 'all' || recorded ? corpus : `the ${split} split of ${corpus}`;
  if (pairs.length === 0) throw new ConfigError(`${what} is empty`);
  const multiRef = options.multiRef ?? false;
  const groups = multiRef ? groupBySource(pairs) : null;
  const sources = groups ? groups.map((g) => pairs[g.first]) : pairs;

  let hypotheses: string[];
  const failed: EvaluateResult['failed'] = [];
  let seconds = 0;
  let hypothesisFile: string | null = null;
  if (options.hypotheses !== undefined) {
    let lines: readonly string[];
    if (typeof options.hypotheses === 'string') {
      hypothesisFile = options.hypotheses;
      if (!existsSync(hypothesisFile)) throw new ConfigError(`${hypothesisFile}: no such file`);
      lines = hypothesisLines(readFileSync(hypothesisFile, 'utf8'));
    } else lines = options.hypotheses;
    const names = { hypothesis: hypothesisFile ?? 'the hypotheses', data: what };
    if (pairs.length < allPairs) {
      alignHypotheses(lines, allPairs, names);
      lines = lines.slice(0, pairs.length);
    }
    hypotheses = alignHypotheses(lines, pairs.length, names, groups ?? undefined);
  } else {
    const t0 = performance.now();
    const results = translateLines(sources.map((p) => p.source), (bundle as LoadedBundle).translator, {
      batchSize: options.batchSize ?? DECODE_DEFAULTS.batchSize,
      maxLength: options.maxLength,
      beam: options.beam ?? DECODE_DEFAULTS.beam,
      lengthPenalty: options.lengthPenalty ?? DECODE_DEFAULTS.lengthPenalty,
      lineNumbers: sources.map((p) => p.line),
    });
    seconds = (performance.now() - t0) / 1000;
    // An untranslatable sentence still counts, as an empty translation: dropping it would inflate the score.
    hypotheses = results.map((r) => {
      if (r instanceof Error) {
        failed.push({ line: r.line, message: `${corpus}: ${r.message}` });
        return '';
      }
      return r.text;
    });
  }
  const references = groups ? referenceStreams(groups.map((g) => g.references)) : pairs.map((p) => p.target);
  const scores = scoreCorpus(hypotheses, references, options.metrics);
  const segments: ScoredSegment[] = sources.map((p, i) => ({
    source: p.source, references: groups ? groups[i].references : [p.target], hypothesis: hypotheses[i], line: p.line,
  }));
  return {
    ...scores,
    split, corpus, hypothesisFile, multiRef, pairCount: pairs.length, failed,
    signatures: { bleu: scores.bleu.signature, chrf: scores.chrf.signature },
    seconds, sentencesPerSecond: options.hypotheses === undefined && seconds > 0 ? sources.length / seconds : null,
    pairs, hypotheses, segments,
  };
}
