/**
 * tokenizer.json and vocab.json of an ONNX export: everything a program in
 * another language needs to turn text into the ids encoder.onnx takes and
 * the ids decoder_step.onnx gives back into text, exactly as s2s does. The
 * word rules are data/word.ts's own (WORD_RULES), the merges the bundle's;
 * the algorithm is described in the export's README (readme.ts).
 */
import type { TokenizerSpec } from '../data/tokenizer.js';
import type { Vocab } from '../data/vocab.js';
import { PAD_ID, BOS_ID, EOS_ID, UNK_ID } from '../data/vocab.js';
import { WORD_RULES } from '../data/word.js';
import { END_OF_WORD, CONTINUATION } from '../data/bpe.js';

export type SideTokenizerJson =
  | { level: 'char' }
  | { level: 'word' }
  | { level: 'bpe'; endOfWord: string; continuation: string; merges: [string, string][] };

export interface TokenizerJson {
  format: 's2s-onnx-tokenizer';
  version: 1;
  /** Unicode normalisation applied to every input before anything else. */
  normalization: 'NFC';
  source: SideTokenizerJson;
  target: SideTokenizerJson;
  /** The word splitter's rules (word and BPE levels). */
  word: typeof WORD_RULES;
}

export interface VocabJson {
  format: 's2s-onnx-vocab';
  version: 1;
  special: { pad: number; bos: number; eos: number; unk: number };
  /** Tokens in id order (ids 0–3 are the special ones; their strings never match text). */
  source: string[];
  target: string[];
}

function side(spec: TokenizerSpec): SideTokenizerJson {
  if (spec.level === 'bpe') return { level: 'bpe', endOfWord: END_OF_WORD, continuation: CONTINUATION, merges: spec.merges.map(([a, b]) => [a, b]) };
  return { level: spec.level };
}

export function tokenizerJson(specs: { source: TokenizerSpec; target: TokenizerSpec }): TokenizerJson {
  return { format: 's2s-onnx-tokenizer', version: 1, normalization: 'NFC', source: side(specs.source), target: side(specs.target), word: WORD_RULES };
}

export function vocabJson(vocabs: { source: Vocab; target: Vocab }): VocabJson {
  return {
    format: 's2s-onnx-vocab', version: 1,
    special: { pad: PAD_ID, bos: BOS_ID, eos: EOS_ID, unk: UNK_ID },
    source: vocabs.source.toJSON().tokens,
    target: vocabs.target.toJSON().tokens,
  };
}
