/**
 * Rebuilding a tokenizer from the spec a bundle stores. This is the one
 * module that knows every implementation; the implementations know only the
 * interface (./tokenizer.ts), so there is no import cycle.
 */
import type { Tokenizer } from './tokenizer.js';
import { CharTokenizer } from './char.js';
import { WordTokenizer } from './word.js';
import { BpeTokenizer } from './bpe.js';
import { ConfigError } from '../errors.js';

/** Rebuilds a tokenizer from its spec (as stored in a model bundle); errors name the bad field. */
export function tokenizerFromJSON(spec: unknown): Tokenizer {
  if (typeof spec !== 'object' || spec === null || !('level' in spec)) {
    throw new ConfigError('tokenizer spec: expected an object with a "level" field');
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
      throw new ConfigError(`tokenizer spec.level: unknown level ${JSON.stringify(level)}`);
  }
}
