/**
 * The interface every tokenizer implements and the spec a model bundle
 * stores to rebuild one. Tokenizers turn a sentence into the token strings a
 * Vocab numbers, and back. Three levels share this interface: characters
 * (./char.ts), words (./word.ts) and BPE subwords learned from the training
 * split (./bpe.ts). All three round-trip exactly: detokenize(tokenize(s)) === s.
 * This module imports no implementation, so the implementations can import
 * it; rebuilding a tokenizer from its spec is ./tokenizer-factory.ts.
 */

export type TokenizerLevel = 'char' | 'word' | 'bpe';

/** Text ↔ tokens for one language side; `toJSON()` is what a bundle records to rebuild it. */
export interface Tokenizer {
  readonly level: TokenizerLevel;
  tokenize(text: string): string[];
  /** Inverse of tokenize for text the tokenizer produced. */
  detokenize(tokens: string[]): string;
  /** What a model bundle stores to rebuild this tokenizer. */
  toJSON(): TokenizerSpec;
}

/** A BPE tokenizer's settings: its learned merges in rank order. */
export interface BpeSpec {
  level: 'bpe';
  /** How text is split into words before BPE; only 'word' exists. */
  pretokenizer: 'word';
  merges: [string, string][];
}

/** Serialised tokenizer settings; `level` is the discriminant. */
export type TokenizerSpec = { level: 'char' } | { level: 'word' } | BpeSpec;
