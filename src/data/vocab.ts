/**
 * Token ↔ id mapping with four reserved ids. BOS and EOS are the tab and
 * newline characters the Keras character-level example uses as start and end
 * of sequence.
 */
import { ConfigError } from '../errors.js';

/** Id of the padding token in every vocabulary. */
export const PAD_ID = 0;
/** Id of the start-of-sequence token (Keras's `\t`). */
export const BOS_ID = 1;
/** Id of the end-of-sequence token (Keras's `\n`). */
export const EOS_ID = 2;
/** Id of the unknown token: tokens missing from the vocabulary encode to it. */
export const UNK_ID = 3;
export const PAD_TOKEN = '<pad>';
export const BOS_TOKEN = '\t';
export const EOS_TOKEN = '\n';
export const UNK_TOKEN = '<unk>';
/** Reserved tokens in id order. */
export const SPECIAL_TOKENS: readonly string[] = [PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, UNK_TOKEN];

/** How `Vocab.build` chooses tokens. */
export interface VocabBuildOptions {
  /** Tokens seen fewer times are left out (they encode as UNK). Default 1. */
  minCount?: number;
  /** Largest vocabulary size, counting the 4 reserved tokens. Default Infinity. */
  maxSize?: number;
}

/** A vocabulary as stored in a bundle's vocab.json. */
export interface VocabJSON {
  format: 's2s-vocab';
  version: 1;
  /** Every token in id order, starting with SPECIAL_TOKENS. */
  tokens: string[];
}

/** A token sequence as ids, with the tokens that became UNK. */
export interface Encoded {
  ids: Int32Array;
  /** Distinct tokens that were mapped to UNK, in first-seen order. */
  unknown: string[];
}

/** Token ↔ id table; ids 0–3 are PAD, BOS, EOS and UNK, the rest in a fixed order. */
export class Vocab {
  private readonly tokens: readonly string[];
  /** Content tokens only: reserved strings in the text are not special. */
  private readonly idByToken: Map<string, number>;

  private constructor(tokens: string[]) {
    this.tokens = tokens;
    this.idByToken = new Map();
    for (let id = SPECIAL_TOKENS.length; id < tokens.length; id++) this.idByToken.set(tokens[id], id);
  }

  /**
   * Builds a vocabulary from training token lists only. Order is frequency
   * descending, ties broken by code-point order, so the same data always
   * yields the same ids.
   */
  static build(tokenLists: Iterable<readonly string[]>, options: VocabBuildOptions = {}): Vocab {
    const minCount = options.minCount ?? 1;
    const maxSize = options.maxSize ?? Infinity;
    if (!(minCount >= 1)) throw new RangeError(`minCount must be >= 1, got ${minCount}`);
    if (!(maxSize >= SPECIAL_TOKENS.length)) {
      throw new RangeError(`maxSize must be >= ${SPECIAL_TOKENS.length} (the reserved tokens), got ${maxSize}`);
    }
    const counts = new Map<string, number>();
    for (const tokens of tokenLists) {
      for (const token of tokens) counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    // A data token equal to a reserved string would alias PAD/BOS/EOS/UNK.
    for (const special of SPECIAL_TOKENS) counts.delete(special);
    const kept = [...counts].filter(([, count]) => count >= minCount);
    kept.sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]));
    const room = maxSize - SPECIAL_TOKENS.length;
    return new Vocab([...SPECIAL_TOKENS, ...kept.slice(0, room).map(([token]) => token)]);
  }

  /** Builds a vocabulary with exactly these content tokens, in this order. */
  static fromTokens(contentTokens: readonly string[]): Vocab {
    return Vocab.fromJSON({ format: 's2s-vocab', version: 1, tokens: [...SPECIAL_TOKENS, ...contentTokens] });
  }

  /** Validates and loads a vocabulary saved with toJSON. */
  static fromJSON(obj: unknown): Vocab {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new ConfigError('vocab: expected an object');
    }
    const o = obj as Record<string, unknown>;
    if (o.format !== 's2s-vocab') throw new ConfigError(`vocab.format: expected "s2s-vocab", got ${JSON.stringify(o.format)}`);
    if (o.version !== 1) throw new ConfigError(`vocab.version: expected 1, got ${JSON.stringify(o.version)}`);
    if (!Array.isArray(o.tokens)) throw new ConfigError('vocab.tokens: expected an array of strings');
    const tokens = o.tokens as unknown[];
    if (tokens.length < SPECIAL_TOKENS.length) {
      throw new ConfigError(`vocab.tokens: expected at least ${SPECIAL_TOKENS.length} entries, got ${tokens.length}`);
    }
    const seen = new Set<string>();
    tokens.forEach((token, id) => {
      if (typeof token !== 'string') throw new ConfigError(`vocab.tokens[${id}]: expected a string, got ${typeof token}`);
      if (id < SPECIAL_TOKENS.length && token !== SPECIAL_TOKENS[id]) {
        throw new ConfigError(`vocab.tokens[${id}]: expected reserved token ${JSON.stringify(SPECIAL_TOKENS[id])}, got ${JSON.stringify(token)}`);
      }
      if (token === '') throw new ConfigError(`vocab.tokens[${id}]: empty token`);
      if (seen.has(token)) throw new ConfigError(`vocab.tokens[${id}]: duplicate token ${JSON.stringify(token)}`);
      seen.add(token);
    });
    return new Vocab(tokens as string[]);
  }

  toJSON(): VocabJSON {
    return { format: 's2s-vocab', version: 1, tokens: [...this.tokens] };
  }

  /** Number of ids, reserved ones included. */
  get size(): number {
    return this.tokens.length;
  }

  /** Id of a content token, or UNK_ID. */
  idOf(token: string): number {
    return this.idByToken.get(token) ?? UNK_ID;
  }

  has(token: string): boolean {
    return this.idByToken.has(token);
  }

  tokenOf(id: number): string {
    if (!(Number.isInteger(id) && id >= 0 && id < this.tokens.length)) {
      throw new RangeError(`token id ${id} out of range [0, ${this.tokens.length})`);
    }
    return this.tokens[id];
  }

  /** Maps tokens to ids; unknown tokens become UNK and are reported, never thrown. */
  encode(tokens: readonly string[]): Encoded {
    const ids = new Int32Array(tokens.length);
    const unknown: string[] = [];
    let unknownSet: Set<string> | undefined;
    for (let i = 0; i < tokens.length; i++) {
      const id = this.idByToken.get(tokens[i]);
      if (id !== undefined) {
        ids[i] = id;
        continue;
      }
      ids[i] = UNK_ID;
      unknownSet ??= new Set();
      if (!unknownSet.has(tokens[i])) {
        unknownSet.add(tokens[i]);
        unknown.push(tokens[i]);
      }
    }
    return { ids, unknown };
  }

  /** Ids to tokens: stops at EOS, skips PAD and BOS, keeps UNK as `<unk>`. */
  decode(ids: ArrayLike<number>): string[] {
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      out.push(this.tokenOf(id));
    }
    return out;
  }
}

/** Orders strings by Unicode code point (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}
