/**
 * Tokenizers turn a sentence into the token strings a Vocab numbers, and back.
 * Three levels share one interface and one serialised spec: characters
 * (here), words ({@link WordTokenizer}, ./word.ts) and BPE subwords learned
 * from the training split ({@link BpeTokenizer}, ./bpe.ts). All three
 * round-trip exactly: detokenize(tokenize(s)) === s.
 */
import { BpeTokenizer, type BpeSpec } from './bpe.js';
import { WordTokenizer } from './word.js';

export type TokenizerLevel = 'char' | 'word' | 'bpe';

export interface Tokenizer {
  readonly level: TokenizerLevel;
  tokenize(text: string): string[];
  /** Inverse of tokenize for text the tokenizer produced. */
  detokenize(tokens: string[]): string;
  /** What a model bundle stores to rebuild this tokenizer. */
  toJSON(): TokenizerSpec;
}

/**
 * Serialised tokenizer settings; `level` is the discriminant. BPE specs carry
 * their learned merges in rank order.
 */
export type TokenizerSpec = { level: 'char' } | { level: 'word' } | BpeSpec;

/** One token per Unicode code point, so an emoji or astral letter is one token. */
export class CharTokenizer implements Tokenizer {
  readonly level = 'char' as const;

  tokenize(text: string): string[] {
    return Array.from(text);
  }

  detokenize(tokens: string[]): string {
    return tokens.join('');
  }

  toJSON(): TokenizerSpec {
    return { level: 'char' };
  }
}

/** Rebuilds a tokenizer from its spec (as stored in a model bundle). */
export function tokenizerFromJSON(spec: unknown): Tokenizer {
  if (typeof spec !== 'object' || spec === null || !('level' in spec)) {
    throw new Error('tokenizer spec: expected an object with a "level" field');
  }
  const level = (spec as { level: unknown }).level;
  switch (level) {
    case 'char':
      return new CharTokenizer();
    case 'word':
      return new WordTokenizer();
    case 'bpe':
      return BpeTokenizer.fromJSON(spec);
    default:
      throw new Error(`tokenizer spec.level: unknown level ${JSON.stringify(level)}`);
  }
}
