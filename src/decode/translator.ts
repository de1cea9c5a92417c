/**
 * Text in, text out: tokenizes and encodes sentences, decodes them (greedy,
 * or beam search with `beam` > 1) in length-sorted batches and puts the
 * results back in input order. Unknown source tokens become UNK and are
 * reported, never an error. An empty or whitespace-only input translates to
 * the empty string without running the model. An input longer than
 * `maxInputLength` code points (default: the longest source the model was
 * trained on) is rejected with InputTooLongError before anything is decoded.
 */
import type { TranslationModel } from '../model/model.js';
import type { Tokenizer } from '../data/tokenizer.js';
import type { Vocab } from '../data/vocab.js';
import { makeSourceBatch } from '../data/batching.js';
import { greedyDecode, type Hypothesis } from './greedy.js';
import { beamSearch, type ScoredHypothesis } from './beam.js';
import { DECODE_DEFAULTS } from './options.js';
import { forcedAttention } from './attention.js';
import { S2SError } from '../errors.js';

/** Options of `Translator.translate`. */
export interface TranslateOptions {
  /** Sentences decoded together. Default `DECODE_DEFAULTS.batchSize` (64). */
  batchSize?: number;
  /** Longest output in tokens. Default: the model's trained target length limit. */
  maxLength?: number;
  /** Beam size; 1 (the default) is greedy decoding. */
  beam?: number;
  /**
   * GNMT length-penalty exponent α used to rank beam-search results
   * (score = logProb / ((5 + |Y|) / 6)^α, |Y| counting EOS). Default
   * `DECODE_DEFAULTS.lengthPenalty` (0.6);
   * no effect with beam 1. 0.6 is the usual GNMT / Tensor2Tensor value;
   * 0 ranks by raw log-probability, which favours short outputs.
   */
  lengthPenalty?: number;
  /** Size of the n-best list returned in `alternatives` (at most `beam`). Default 1: no list. */
  nBest?: number;
  /** Return attention weights (models with attention). Default false. */
  attention?: boolean;
  /** Longest input in code points (after NFC); longer ones are rejected. Default: the translator's maxInputLength. */
  maxInputLength?: number;
}

/** An input longer than the translator accepts; nothing was translated. */
export class InputTooLongError extends S2SError {
  constructor(readonly index: number, readonly length: number, readonly limit: number) {
    super(`input ${index} is ${length} characters long; this model accepts at most ${limit} (the longest source it was trained on). Split it into sentences, or raise maxInputLength.`);
    this.name = 'InputTooLongError';
  }
}

/** Limit for translators built without one (the longest a bundle may declare). */
export const DEFAULT_MAX_INPUT_LENGTH = DECODE_DEFAULTS.maxInputLength;

/** Where the model looked: weights[outputToken][sourceToken]; the last output row is the end of sentence. */
export interface AttentionMap {
  sourceTokens: string[];
  outputTokens: string[];
  weights: number[][];
}

/** One entry of an n-best list (ranked finished first, then by score). */
export interface Alternative {
  text: string;
  /** Length-normalised score the list is ranked by. */
  score: number;
  /** Log-probability of the output under the model. */
  logProb: number;
  finished: boolean;
}

/** The translation of one input. */
export interface Translation {
  source: string;
  text: string;
  /** Source tokens missing from the vocabulary (translated as UNK). */
  unknown: string[];
  /** Log-probability of the output under the model. */
  logProb: number;
  /** False when the output was cut at maxLength without an end-of-sentence. */
  finished: boolean;
  /** The n-best list, best first (its first entry is this translation); only when nBest > 1. */
  alternatives?: Alternative[];
  /** Attention weights of this translation, when asked for and the model has attention. */
  attention?: AttentionMap;
}

/** What a Translator is made of (a loaded bundle provides them). */
export interface TranslatorParts {
  model: TranslationModel;
  sourceVocab: Vocab;
  targetVocab: Vocab;
  sourceTokenizer: Tokenizer;
  targetTokenizer: Tokenizer;
  /** Default output limit in tokens. */
  maxOutputLength: number;
  /** Default input limit in code points (see TranslateOptions.maxInputLength). Default DEFAULT_MAX_INPUT_LENGTH. */
  maxInputLength?: number;
}

/** Text in, text out: tokenizes, encodes, decodes (greedy or beam) in length-sorted batches; results in input order. */
export class Translator {
  constructor(readonly parts: TranslatorParts) {}

  translate(texts: readonly string[], options: TranslateOptions = {}): Translation[] {
    const { model, sourceVocab, targetVocab, sourceTokenizer, targetTokenizer } = this.parts;
    const batchSize = options.batchSize ?? DECODE_DEFAULTS.batchSize;
    const maxLength = options.maxLength ?? this.parts.maxOutputLength;
    const beam = options.beam ?? DECODE_DEFAULTS.beam;
    const nBest = options.nBest ?? DECODE_DEFAULTS.nBest;
    const lengthPenalty = options.lengthPenalty ?? DECODE_DEFAULTS.lengthPenalty;
    if (!Number.isInteger(beam) || beam < 1) throw new RangeError(`beam must be an integer >= 1, got ${beam}`);
    if (!Number.isInteger(nBest) || nBest < 1) throw new RangeError(`nBest must be an integer >= 1, got ${nBest}`);
    if (nBest > beam) throw new RangeError(`nBest (${nBest}) must not exceed beam (${beam})`);
    const maxInputLength = options.maxInputLength ?? this.parts.maxInputLength ?? DEFAULT_MAX_INPUT_LENGTH;
    if (!(maxInputLength >= 1)) throw new RangeError(`maxInputLength must be >= 1, got ${maxInputLength}`);
    const text = (h: Hypothesis): string => targetTokenizer.detokenize(targetVocab.decode(h.ids));
    const normalized = texts.map((t, i) => {
      if (typeof t !== 'string') throw new TypeError(`input ${i} is not a string`);
      const nfc = t.normalize('NFC');
      // UTF-16 units ≥ code points: count only when the cheap bound is exceeded. A too-long input is never tokenized.
      if (nfc.length > maxInputLength) {
        const n = codePoints(nfc);
        if (n > maxInputLength) throw new InputTooLongError(i, n, maxInputLength);
      }
      return nfc;
    });
    const results: Translation[] = new Array(texts.length);
    const encoded = normalized.map((t) => (t.trim() === '' ? { ids: new Int32Array(0), unknown: [] } : sourceVocab.encode(sourceTokenizer.tokenize(t))));
    const toDecode: number[] = [];
    encoded.forEach((e, i) => {
      if (e.ids.length > 0) return void toDecode.push(i);
      // Nothing to translate (empty, whitespace only, or no tokens): the empty translation, without running the model.
      results[i] = { source: texts[i], text: '', unknown: e.unknown, logProb: 0, finished: true };
      if (nBest > 1) results[i].alternatives = [{ text: '', score: 0, logProb: 0, finished: true }];
    });
    // Sort by length so each batch holds similar lengths; results go back by index.
    const byLength = toDecode.sort((a, b) => encoded[b].ids.length - encoded[a].ids.length);
    for (let start = 0; start < byLength.length; start += batchSize) {
      const chunk = byLength.slice(start, start + batchSize);
      const batch = makeSourceBatch(chunk.map((i) => encoded[i].ids));
      const src = { ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen };
      const nbests: Hypothesis[][] = beam === 1
        ? greedyDecode(model, src, { maxLength }).map((h) => [h])
        : beamSearch(model, src, { beamSize: beam, maxLength, lengthPenalty, nBest });
      const maps = options.attention ? forcedAttention(model, src, nbests.map((l) => l[0].ids)) : null;
      nbests.forEach((list, row) => {
        const i = chunk[batch.order[row]];
        const h = list[0];
        results[i] = {
          source: texts[i],
          text: text(h),
          unknown: encoded[i].unknown,
          logProb: h.logProb,
          finished: h.finished,
        };
        if (maps) {
          results[i].attention = {
            sourceTokens: sourceTokenizer.tokenize(normalized[i]),
            outputTokens: [...Array.from(h.ids, (id) => targetVocab.tokenOf(id)), '</s>'],
            weights: maps[row],
          };
        }
        if (nBest > 1) {
          results[i].alternatives = (list as ScoredHypothesis[]).map((a) => ({
            text: text(a), score: a.score, logProb: a.logProb, finished: a.finished,
          }));
        }
      });
    }
    return results;
  }
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}
