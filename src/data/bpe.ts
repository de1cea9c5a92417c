/**
 * Byte-pair-encoding subwords (Sennrich et al., 2016) learned by s2s itself.
 *
 * Text is first split by the {@link WordTokenizer} (its tokens, spacing codes
 * included, are the "words" here). A word is a sequence of code points with
 * an end-of-word mark on the last one ("t" "o" "m</w>"), and learning
 * repeatedly merges the most frequent adjacent pair of symbols, counted over
 * word frequencies, never across words. Ties go to the pair whose left symbol
 * comes first in code-point order, then the right symbol. Learning stops after
 * `merges` merges, or earlier when the best pair occurs fewer than
 * `minFrequency` times (default 2).
 *
 * Applying the merges to a word follows subword-nmt: repeatedly merge the
 * adjacent pair with the lowest merge rank (every occurrence, left to right)
 * until no learned pair is left. Pieces other than a word's last one get the
 * continuation mark "@@" ("incroyable" → "incroy@@" "able"); detokenize joins
 * pieces up to one without "@@", then detokenizes the words. Word tokens never
 * end in "@@", so this is exact: detokenize(tokenize(s)) === s for every s.
 *
 * Learning keeps pair counts and an index from each pair to the words that
 * contain it, updating only the words touched by each merge, with a lazy
 * max-heap over the counts — no recount per merge.
 */
import type { BpeSpec, Tokenizer, TokenizerSpec } from './tokenizer.js';
import { compareCodePoints } from './vocab.js';
import { WordTokenizer } from './word.js';
import { ConfigError } from '../errors.js';

/** Appended to a word's last symbol while learning and applying. */
export const END_OF_WORD = '</w>';
/** Appended to every piece that does not end its word. */
export const CONTINUATION = '@@';

/** Learned BPE merges, in the order they apply. */
export interface BpeModel {
  /** Merges in rank order: [left symbol, right symbol]. */
  merges: [string, string][];
}

/** Options of `learnBpe`. */
export interface LearnBpeOptions {
  /** Number of merges to learn (fewer if the data runs out of pairs). */
  merges: number;
  /** Stop when the most frequent pair occurs fewer times. Default 2. */
  minFrequency?: number;
}

export type { BpeSpec } from './tokenizer.js';

// Pair keys pack two symbol ids into one safe integer.
const SYMBOL_LIMIT = 2 ** 26;

/** Learns BPE merges from raw sentences (word-tokenized here). Deterministic. */
export function learnBpe(texts: Iterable<string>, options: LearnBpeOptions, words = new WordTokenizer()): BpeModel {
  const wordFreq = new Map<string, number>();
  for (const text of texts) {
    for (const w of words.tokenize(text)) wordFreq.set(w, (wordFreq.get(w) ?? 0) + 1);
  }
  return learnBpeFromCounts(wordFreq, options);
}

/** Learns BPE merges from word frequencies (words as the word tokenizer emits them). */
export function learnBpeFromCounts(wordFreq: ReadonlyMap<string, number>, options: LearnBpeOptions): BpeModel {
  const target = options.merges;
  const minFrequency = options.minFrequency ?? 2;
  if (!(Number.isInteger(target) && target >= 0)) throw new RangeError(`merges must be an integer ≥ 0, got ${target}`);
  if (!(Number.isInteger(minFrequency) && minFrequency >= 1)) throw new RangeError(`minFrequency must be an integer ≥ 1, got ${minFrequency}`);

  const symbols: string[] = [];
  const symbolId = new Map<string, number>();
  const intern = (s: string): number => {
    let id = symbolId.get(s);
    if (id === undefined) {
      id = symbols.length;
      if (id >= SYMBOL_LIMIT) throw new RangeError('learnBpe: too many distinct symbols');
      symbols.push(s);
      symbolId.set(s, id);
    }
    return id;
  };

  // Words in code-point order so ids (and everything after) do not depend on input order.
  const entries = [...wordFreq].filter(([w, f]) => w !== '' && f > 0);
  entries.sort((a, b) => compareCodePoints(a[0], b[0]));
  const seqs: number[][] = [];
  const freqs: number[] = [];
  for (const [w, f] of entries) {
    const chars = Array.from(w);
    chars[chars.length - 1] += END_OF_WORD;
    seqs.push(chars.map(intern));
    freqs.push(f);
  }

  const counts = new Map<number, number>();
  const where = new Map<number, number[]>();
  const addPair = (key: number, delta: number): void => {
    counts.set(key, (counts.get(key) ?? 0) + delta);
  };
  const indexPair = (key: number, word: number): void => {
    const list = where.get(key);
    if (list === undefined) where.set(key, [word]);
    else if (list[list.length - 1] !== word) list.push(word);
  };
  for (let w = 0; w < seqs.length; w++) {
    const s = seqs[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * SYMBOL_LIMIT + s[i + 1];
      addPair(key, freqs[w]);
      indexPair(key, w);
    }
  }

  // Max-heap of [count, key]; entries go stale when a count changes and are skipped on pop.
  const heapCount: number[] = [];
  const heapKey: number[] = [];
  const better = (i: number, j: number): boolean => {
    if (heapCount[i] !== heapCount[j]) return heapCount[i] > heapCount[j];
    const a = heapKey[i];
    const b = heapKey[j];
    const la = Math.floor(a / SYMBOL_LIMIT);
    const lb = Math.floor(b / SYMBOL_LIMIT);
    const c = la === lb ? 0 : compareCodePoints(symbols[la], symbols[lb]);
    if (c !== 0) return c < 0;
    return compareCodePoints(symbols[a % SYMBOL_LIMIT], symbols[b % SYMBOL_LIMIT]) < 0;
  };
  const swap = (i: number, j: number): void => {
    const c = heapCount[i];
    heapCount[i] = heapCount[j];
    heapCount[j] = c;
    const k = heapKey[i];
    heapKey[i] = heapKey[j];
    heapKey[j] = k;
  };
  const push = (count: number, key: number): void => {
    heapCount.push(count);
    heapKey.push(key);
    let i = heapCount.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!better(i, parent)) break;
      swap(i, parent);
      i = parent;
    }
  };
  const pop = (): void => {
    const last = heapCount.length - 1;
    swap(0, last);
    heapCount.pop();
    heapKey.pop();
    let i = 0;
    const n = heapCount.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && better(l, best)) best = l;
      if (r < n && better(r, best)) best = r;
      if (best === i) break;
      swap(i, best);
      i = best;
    }
  };
  for (const [key, count] of counts) push(count, key);

  const merges: [string, string][] = [];
  const visited = new Int32Array(seqs.length).fill(-1);
  const before = new Map<number, number>();
  const touch = (key: number, delta: number): void => {
    const old = counts.get(key) ?? 0;
    if (!before.has(key)) before.set(key, old);
    counts.set(key, old + delta);
  };

  while (merges.length < target && heapCount.length > 0) {
    const count = heapCount[0];
    const key = heapKey[0];
    pop();
    if (counts.get(key) !== count) continue; // stale
    if (count < minFrequency) break;
    const a = Math.floor(key / SYMBOL_LIMIT);
    const b = key % SYMBOL_LIMIT;
    const merged = intern(symbols[a] + symbols[b]);
    const step = merges.length;
    merges.push([symbols[a], symbols[b]]);
    before.clear();
    const list = where.get(key) ?? [];
    where.delete(key);
    for (const w of list) {
      if (visited[w] === step) continue;
      visited[w] = step;
      const s = seqs[w];
      let found = false;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] === a && s[i + 1] === b) {
          found = true;
          break;
        }
      }
      if (!found) continue; // the index is append-only; this word no longer has the pair
      const f = freqs[w];
      for (let i = 0; i + 1 < s.length; i++) touch(s[i] * SYMBOL_LIMIT + s[i + 1], -f);
      const t: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          t.push(merged);
          i++;
        } else {
          t.push(s[i]);
        }
      }
      seqs[w] = t;
      for (let i = 0; i + 1 < t.length; i++) {
        const k = t[i] * SYMBOL_LIMIT + t[i + 1];
        touch(k, f);
        if (t[i] === merged || t[i + 1] === merged) indexPair(k, w);
      }
    }
    for (const [k, old] of before) {
      const now = counts.get(k)!;
      if (now === 0) counts.delete(k);
      else if (now !== old) push(now, k);
    }
  }
  return { merges };
}

/** Applies learned BPE merges; see the module comment. */
export class BpeTokenizer implements Tokenizer {
  readonly level = 'bpe' as const;
  readonly merges: readonly (readonly [string, string])[];
  private readonly ranks = new Map<string, Map<string, number>>();
  private readonly cache = new Map<string, string[]>();
  /** UTF-16 units held by the cache, words and pieces (about 2 bytes each, plus ~100 bytes per entry). */
  private cacheUnits = 0;
  /** The cache is emptied when it would hold more than this many units (keys + pieces, ≈ 4 MB of text). */
  static readonly CACHE_MAX_UNITS = 2_000_000;
  /** Also at most this many words (the per-entry overhead of a Map and arrays). */
  static readonly CACHE_MAX_ENTRIES = 100_000;
  /** Words longer than this (code points) are segmented each time, never cached: client text must not fill memory. */
  static readonly MAX_CACHED_WORD = 64;

  /** Forgets memoised word segmentations (they are recomputed on demand). */
  clearCache(): void {
    this.cache.clear();
    this.cacheUnits = 0;
  }

  /** What the segmentation cache holds: words and UTF-16 units (words + pieces). */
  get cacheSize(): { entries: number; units: number } {
    return { entries: this.cache.size, units: this.cacheUnits };
  }

  constructor(
    model: BpeModel,
    private readonly words: WordTokenizer = new WordTokenizer(),
  ) {
    this.merges = model.merges.map(([a, b]) => [a, b] as const);
    model.merges.forEach(([a, b], rank) => {
      let m = this.ranks.get(a);
      if (m === undefined) this.ranks.set(a, (m = new Map()));
      if (!m.has(b)) m.set(b, rank);
    });
  }

  /** Splits one word token into pieces (without continuation marks). */
  segmentWord(word: string): string[] {
    return [...this.segment(word)];
  }

  /** Cached segmentation; the returned array is shared and must not be modified. */
  private segment(word: string): readonly string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const syms = Array.from(word);
    if (syms.length === 0) return [];
    syms[syms.length - 1] += END_OF_WORD;
    let current = syms;
    while (current.length > 1) {
      let bestRank = Infinity;
      let bestLeft = '';
      let bestRight = '';
      for (let i = 0; i + 1 < current.length; i++) {
        const r = this.ranks.get(current[i])?.get(current[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          bestLeft = current[i];
          bestRight = current[i + 1];
        }
      }
      if (bestRank === Infinity) break;
      const next: string[] = [];
      for (let i = 0; i < current.length; i++) {
        if (i + 1 < current.length && current[i] === bestLeft && current[i + 1] === bestRight) {
          next.push(bestLeft + bestRight);
          i++;
        } else {
          next.push(current[i]);
        }
      }
      current = next;
    }
    const last = current.length - 1;
    current[last] = current[last].slice(0, -END_OF_WORD.length);
    if (syms.length <= BpeTokenizer.MAX_CACHED_WORD) {
      // Pieces concatenate to the word: an entry holds twice its length.
      const units = 2 * word.length;
      if (this.cache.size >= BpeTokenizer.CACHE_MAX_ENTRIES || this.cacheUnits + units > BpeTokenizer.CACHE_MAX_UNITS) this.clearCache();
      this.cache.set(word, current);
      this.cacheUnits += units;
    }
    return current;
  }

  tokenize(text: string): string[] {
    const out: string[] = [];
    for (const word of this.words.tokenize(text)) {
      const pieces = this.segment(word);
      for (let i = 0; i < pieces.length - 1; i++) out.push(pieces[i] + CONTINUATION);
      out.push(pieces[pieces.length - 1]);
    }
    return out;
  }

  /** Joins pieces into words (a piece without "@@" ends its word), then detokenizes the words. */
  detokenize(tokens: string[]): string {
    const wordsOut: string[] = [];
    let current = '';
    for (const piece of tokens) {
      if (piece.length > CONTINUATION.length && piece.endsWith(CONTINUATION)) {
        current += piece.slice(0, -CONTINUATION.length);
      } else {
        wordsOut.push(current + piece);
        current = '';
      }
    }
    if (current !== '') wordsOut.push(current);
    return this.words.detokenize(wordsOut);
  }

  toJSON(): TokenizerSpec {
    return { level: 'bpe', pretokenizer: 'word', merges: this.merges.map(([a, b]) => [a, b]) } satisfies BpeSpec;
  }

  /** Validates a BPE spec; errors name the offending field. */
  static fromJSON(spec: unknown): BpeTokenizer {
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new ConfigError('tokenizer spec: expected an object');
    const o = spec as Record<string, unknown>;
    if (o.level !== 'bpe') throw new ConfigError(`tokenizer spec.level: expected "bpe", got ${JSON.stringify(o.level)}`);
    if (o.pretokenizer !== undefined && o.pretokenizer !== 'word') {
      throw new ConfigError(`tokenizer spec.pretokenizer: expected "word", got ${JSON.stringify(o.pretokenizer)}`);
    }
    if (!Array.isArray(o.merges)) throw new ConfigError(`tokenizer spec.merges: expected an array of [left, right] string pairs, got ${describe(o.merges)}`);
    // Every merge must join two symbols that exist by then: single characters
    // (the last one of a word with END_OF_WORD) or earlier merge results.
    const known = new Set<string>();
    // One code point (a surrogate pair counts as one), without building an array per check.
    const isChar = (s: string, allowEnd: boolean): boolean => {
      const n = allowEnd && s.endsWith(END_OF_WORD) ? s.length - END_OF_WORD.length : s.length;
      return n === 1 || (n === 2 && (s.codePointAt(0) as number) > 0xffff);
    };
    // Pairs seen, by left then right symbol (a page loads thousands of merges per side; no string keys built).
    const seen = new Map<string, Set<string>>();
    const merges: [string, string][] = [];
    (o.merges as unknown[]).forEach((m, i) => {
      const where = `tokenizer spec.merges[${i}]`;
      if (!Array.isArray(m) || m.length !== 2) throw new ConfigError(`${where}: expected a [left, right] pair, got ${describe(m)}`);
      const [a, b] = m as unknown[];
      if (typeof a !== 'string' || a === '') throw new ConfigError(`${where}[0]: expected a non-empty string, got ${describe(a)}`);
      if (typeof b !== 'string' || b === '') throw new ConfigError(`${where}[1]: expected a non-empty string, got ${describe(b)}`);
      if (a.endsWith(END_OF_WORD) || !(known.has(a) || isChar(a, false))) {
        throw new ConfigError(`${where}[0]: ${JSON.stringify(a)} is neither a character nor the result of an earlier merge`);
      }
      if (!(known.has(b) || isChar(b, true))) {
        throw new ConfigError(`${where}[1]: ${JSON.stringify(b)} is neither a character nor the result of an earlier merge`);
      }
      let rights = seen.get(a);
      if (!rights) seen.set(a, (rights = new Set()));
      if (rights.has(b)) throw new ConfigError(`${where}: duplicate merge ${JSON.stringify([a, b])}`);
      rights.add(b);
      known.add(a + b);
      merges.push([a, b]);
    });
    return new BpeTokenizer({ merges });
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
