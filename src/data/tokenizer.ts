/**
 * Tokenizers turn a sentence into the token strings a Vocab numbers, and back.
 * Only the character level exists so far; word and BPE tokenizers will slot
 * in behind the same interface and the same serialised spec.
 */

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
 * Serialised tokenizer settings. Word/BPE specs will carry their own fields
 * (e.g. BPE merges); `level` is the discriminant.
 */
export type TokenizerSpec = { level: 'char' } | { level: 'word' } | { level: 'bpe'; [key: string]: unknown };

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
    case 'bpe':
      throw new Error(`tokenizer spec.level: '${level}' tokenizers are not implemented yet`);
    default:
      throw new Error(`tokenizer spec.level: unknown level ${JSON.stringify(level)}`);
  }
}
