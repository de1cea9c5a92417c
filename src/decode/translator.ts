/**
 * Text in, text out: tokenizes and encodes sentences, decodes them in
 * length-sorted batches and puts the results back in input order. Unknown
 * source tokens become UNK and are reported, never an error.
 */
import type { Seq2Seq } from '../model/seq2seq.js';
import type { Tokenizer } from '../data/tokenizer.js';
import type { Vocab } from '../data/vocab.js';
import { makeSourceBatch } from '../data/batching.js';
import { greedyDecode } from './greedy.js';

export interface TranslateOptions {
  /** Sentences decoded together. Default 64. */
  batchSize?: number;
  /** Longest output in tokens. Default: the model's trained target length limit. */
  maxLength?: number;
}

export interface Translation {
  source: string;
  text: string;
  /** Source tokens missing from the vocabulary (translated as UNK). */
  unknown: string[];
  /** Log-probability of the output under the model. */
  logProb: number;
  /** False when the output was cut at maxLength without an end-of-sentence. */
  finished: boolean;
}

export interface TranslatorParts {
  model: Seq2Seq;
  sourceVocab: Vocab;
  targetVocab: Vocab;
  sourceTokenizer: Tokenizer;
  targetTokenizer: Tokenizer;
  /** Default output limit in tokens. */
  maxOutputLength: number;
}

export class Translator {
  constructor(readonly parts: TranslatorParts) {}

  translate(texts: readonly string[], options: TranslateOptions = {}): Translation[] {
    const { model, sourceVocab, targetVocab, sourceTokenizer, targetTokenizer } = this.parts;
    const batchSize = options.batchSize ?? 64;
    const maxLength = options.maxLength ?? this.parts.maxOutputLength;
    const encoded = texts.map((t) => sourceVocab.encode(sourceTokenizer.tokenize(t.normalize('NFC'))));
    // Sort by length so each batch holds similar lengths; results go back by index.
    const byLength = encoded.map((_, i) => i).sort((a, b) => encoded[b].ids.length - encoded[a].ids.length);
    const results: Translation[] = new Array(texts.length);
    for (let start = 0; start < byLength.length; start += batchSize) {
      const chunk = byLength.slice(start, start + batchSize);
      const batch = makeSourceBatch(chunk.map((i) => encoded[i].ids));
      const hyps = greedyDecode(model, { ids: batch.srcIds, lengths: batch.srcLengths, maxLen: batch.srcMaxLen }, { maxLength });
      hyps.forEach((h, row) => {
        const i = chunk[batch.order[row]];
        results[i] = {
          source: texts[i],
          text: targetTokenizer.detokenize(targetVocab.decode(h.ids)),
          unknown: encoded[i].unknown,
          logProb: h.logProb,
          finished: h.finished,
        };
      });
    }
    return results;
  }
}
