/** The character-level tokenizer (the Keras seed's). */
import type { Tokenizer, TokenizerSpec } from './tokenizer.js';

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
