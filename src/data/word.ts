/**
 * Word-level tokenizer for English and French (and other space-separated
 * scripts) whose detokenizer is the exact inverse of the tokenizer on any
 * input string.
 *
 * Segmentation
 * ------------
 * - A word is a run of letters, marks and digits; hyphens (- ‐ ‑) and
 *   apostrophes (' ’) between two such characters keep the word together
 *   ("peut-être", "aujourd'hui", "est-ce", "quelqu'un", "o'clock"). Between
 *   digits, "." "," ":" and a no-break space before exactly three digits also
 *   stay inside ("3.5", "1,000", "10:30", "10\u202f000").
 * - French elisions are split after the apostrophe: l' d' j' m' n' s' t' c'
 *   ç' qu' jusqu' lorsqu' puisqu' quoiqu' (any case, ' or ’), repeatedly:
 *   "Qu'est-ce" → "Qu'" "est-ce", "jusqu'à" → "jusqu'" "à". Words such as
 *   "aujourd'hui", "quelqu'un" and "prud'homme" are not elisions and stay whole.
 * - English contractions are split Penn-Treebank style, the clitic going to
 *   the right-hand token: "don't" → "do" "n't", "can't" → "ca" "n't",
 *   "I'm" → "I" "'m", "Tom's" → "Tom" "'s" (likewise 're 've 'll 'd). This
 *   keeps "n't"/"'s" as a handful of shared tokens instead of doubling the
 *   vocabulary with every "X's" form.
 * - Everything else that is not whitespace is one token per character, with
 *   combining marks, emoji modifiers and zero-width-joiner sequences kept on
 *   their base character (so "👍🏽" or "👨‍👩‍👧" is one token); runs of the same
 *   "." "!" "?" stay together ("...", "!!").
 * - Case is kept; nothing is normalised.
 *
 * Spacing: exact round trips with a small vocabulary
 * -------------------------------------------------
 * Between two tokens there is a gap: "", one ASCII space, or some other
 * whitespace run (U+00A0 / U+202F before French ? ! : ;, double spaces…).
 * Every gap has a default that depends only on the two tokens: nothing
 * before closing punctuation (. , ; : ! ? … ) ] } ” ’ ' %), after opening
 * punctuation (( [ { “ ‘ ¿ ¡ $ £ # @), after an elision ("l'"), before a
 * contraction ("n't"), on both sides of "/", and around a straight double
 * quote by parity (odd ones open, even ones close); a space otherwise,
 * including inside « » (French style); nothing at the start and end.
 *
 * A gap that differs from its default is written into exactly one of the two
 * tokens next to it, as a prefix or suffix code:
 *   "￭" (U+FFED) = no space, "▁" (U+2581) = one ASCII space, and any other
 *   whitespace run is written literally (e.g. "\u202f?").
 * The gap belongs to the punctuation side: it is a suffix of the left token
 * when the left token is not a word and the right one is (elisions and
 * contractions count as non-words here), otherwise a prefix of the right
 * token. Words therefore carry codes only after unusual spacing between two
 * words (double or no-break spaces), so the vocabulary holds plain words
 * plus a few dozen spacing variants of punctuation ("▁!" for "Va !" typed
 * with an ASCII space, "\u202f?" for a narrow no-break space, ".￭" in
 * "e.g."). A text in the usual conventions has no codes at all.
 *
 * Tokens whose text itself begins or ends with "▁" or "￭" always carry both
 * codes explicitly, so parsing a token back into code + text + code is
 * unambiguous for any input. {@link wordCore} strips the codes.
 */
import type { Tokenizer, TokenizerSpec } from './tokenizer.js';

/** Written into a token when the gap is empty but the default is a space. */
export const GLUE = '\uFFED';
/** Written into a token when the gap is one ASCII space but the default is none. */
export const SPACE = '\u2581';

const ELISIONS = new Set(['l', 'd', 'j', 'm', 'n', 's', 't', 'c', 'ç', 'qu', 'jusqu', 'lorsqu', 'puisqu', 'quoiqu']);

const WORD_CHAR = String.raw`[\p{L}\p{M}\p{N}]`;
const WORD_SRC =
  String.raw`${WORD_CHAR}+(?:(?:[\-\u2010\u2011'\u2019]|(?<=\p{N})[.,:](?=\p{N})|(?<=\p{N})[\u00A0\u202F](?=\p{N}{3}(?!\p{N})))${WORD_CHAR}+)*`;
const SYMBOL_SRC =
  String.raw`(?:\.+|!+|\?+|\p{Regional_Indicator}{2}|[^\s])(?:[\p{M}\p{Emoji_Modifier}]|\u200D[^\s][\p{M}\p{Emoji_Modifier}]*)*`;
/** One whitespace run, word or symbol; `y` keeps matches contiguous. */
const PIECE = new RegExp(String.raw`(\s+)|(${WORD_SRC})|(${SYMBOL_SRC})`, 'uy');

const ELISION_PREFIX = /^(\p{L}+)['\u2019](?=[\p{L}\p{M}\p{N}])/u;
const CONTRACTION_SUFFIX = /^(.*\p{L})(n['\u2019]t|['\u2019](?:s|re|ve|ll|d|m))$/iu;

const IS_ELISION = /^\p{L}+['\u2019]$/u;
const IS_CONTRACTION = /^(?:n['\u2019]t|['\u2019](?:s|re|ve|ll|d|m))$/iu;
const STARTS_WORDLIKE = /^[\p{L}\p{M}\p{N}]/u;
const LEADING_WS = /^\s+/u;
const TRAILING_WS = /\s+$/u;
const ALL_WS = /^\s+$/u;

const OPENING = new Set(['(', '[', '{', '\u201C', '\u2018', '\u201E', '\u201A', '¿', '¡', '$', '£', '¥', '#', '@']);
const CLOSING = new Set([',', ';', ':', '…', ')', ']', '}', '\u201D', '\u2019', "'", '%', '‰', '‽']);
const CLOSING_RUN = /^(?:\.+|!+|\?+)$/;

/**
 * The rules above as data, for programs that re-implement this tokenizer
 * (the ONNX export's tokenizer.json): regular expressions as JavaScript
 * sources (Unicode property escapes; flags "u"), sets as arrays.
 */
export const WORD_RULES = {
  glue: GLUE,
  space: SPACE,
  piece: PIECE.source,
  elisions: [...ELISIONS],
  elisionPrefix: ELISION_PREFIX.source,
  contractionSuffix: CONTRACTION_SUFFIX.source,
  contractionSuffixFlags: 'iu',
  isElision: IS_ELISION.source,
  isContraction: IS_CONTRACTION.source,
  isContractionFlags: 'iu',
  startsWordlike: STARTS_WORDLIKE.source,
  opening: [...OPENING],
  closing: [...CLOSING],
  closingRun: CLOSING_RUN.source,
} as const;

function isClitic(core: string): boolean {
  return IS_ELISION.test(core) || IS_CONTRACTION.test(core);
}

/** A word for gap ownership: starts with a letter/mark/digit and is not an elision or contraction. */
function isWordish(core: string): boolean {
  return STARTS_WORDLIKE.test(core) && !isClitic(core);
}

function isMarkerChar(c: string): boolean {
  return c === GLUE || c === SPACE;
}

/** Tokens whose text starts or ends with a code character always carry both codes. */
function isMarkerCore(core: string): boolean {
  if (core === '') return false;
  return isMarkerChar(core[0]) || isMarkerChar(core[core.length - 1]);
}

/**
 * Default gaps for a core sequence: `gaps[i]` is the default between
 * cores[i-1] and cores[i] (gaps[0] before the first, gaps[n] after the last).
 */
function defaultGaps(cores: readonly string[]): string[] {
  const n = cores.length;
  // Straight double quotes alternate open / close.
  const opensRight: boolean[] = new Array(n);
  const attachesLeft: boolean[] = new Array(n);
  let quotes = 0;
  for (let i = 0; i < n; i++) {
    const c = cores[i];
    if (c === '"') {
      const opening = quotes % 2 === 0;
      quotes++;
      opensRight[i] = opening;
      attachesLeft[i] = !opening;
      continue;
    }
    opensRight[i] = OPENING.has(c) || c === '/' || IS_ELISION.test(c);
    attachesLeft[i] = CLOSING.has(c) || CLOSING_RUN.test(c) || c === '/' || IS_CONTRACTION.test(c);
  }
  const gaps: string[] = new Array(n + 1);
  gaps[0] = '';
  gaps[n] = '';
  for (let i = 1; i < n; i++) gaps[i] = opensRight[i - 1] || attachesLeft[i] ? '' : ' ';
  return gaps;
}

/** Who writes gap i (1 ≤ i < n): the left token's suffix or the right token's prefix. */
function gapOwnedByLeft(left: string, right: string): boolean {
  if (isMarkerCore(left)) return true;
  if (isMarkerCore(right)) return false;
  return !isWordish(left) && isWordish(right);
}

function encodeGap(gap: string): string {
  return gap === '' ? GLUE : gap === ' ' ? SPACE : gap;
}

interface ParsedToken {
  prefix: string | undefined;
  core: string;
  suffix: string | undefined;
}

function decodeCode(code: string): string {
  return code === GLUE ? '' : code === SPACE ? ' ' : code;
}

function parseToken(token: string): ParsedToken {
  if (ALL_WS.test(token)) return { prefix: token, core: '', suffix: undefined };
  let prefix: string | undefined;
  let suffix: string | undefined;
  let rest = token;
  const lead = LEADING_WS.exec(rest);
  if (lead) {
    prefix = lead[0];
    rest = rest.slice(prefix.length);
  } else if (rest.length > 1 && isMarkerChar(rest[0])) {
    prefix = decodeCode(rest[0]);
    rest = rest.slice(1);
  }
  const trail = TRAILING_WS.exec(rest);
  if (trail && trail[0].length < rest.length) {
    suffix = trail[0];
    rest = rest.slice(0, rest.length - suffix.length);
  } else if (rest.length > 1 && isMarkerChar(rest[rest.length - 1])) {
    suffix = decodeCode(rest[rest.length - 1]);
    rest = rest.slice(0, -1);
  }
  return { prefix, core: rest, suffix };
}

/** The token's text without spacing codes (e.g. "▁!" → "!", "\u202f?" → "?"). */
export function wordCore(token: string): string {
  return parseToken(token).core;
}

/** Splits a word match into elisions, the stem and an English contraction. */
function splitWord(word: string, out: string[]): void {
  let rest = word;
  for (;;) {
    const m = ELISION_PREFIX.exec(rest);
    if (!m || !ELISIONS.has(m[1].toLowerCase())) break;
    out.push(m[0]);
    rest = rest.slice(m[0].length);
  }
  const c = CONTRACTION_SUFFIX.exec(rest);
  if (c && !IS_ELISION.test(c[1])) {
    out.push(c[1], c[2]);
  } else {
    out.push(rest);
  }
}

/** Splits text into cores and the whitespace gaps around them (gaps.length = cores.length + 1). */
export function segmentWords(text: string): { cores: string[]; gaps: string[] } {
  const cores: string[] = [];
  const gaps: string[] = [''];
  PIECE.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    PIECE.lastIndex = pos;
    const m = PIECE.exec(text);
    if (!m) throw new Error(`word tokenizer: no token at offset ${pos}`); // unreachable: [^\s] matches any non-space
    pos += m[0].length;
    if (m[1] !== undefined) {
      gaps[gaps.length - 1] += m[1];
      continue;
    }
    const before = cores.length;
    if (m[2] !== undefined) splitWord(m[2], cores);
    else cores.push(m[3]);
    // gaps[k] is the whitespace before cores[k]; pieces of one word are glued.
    for (let i = before; i < cores.length; i++) gaps.push('');
  }
  return { cores, gaps };
}

/**
 * Word tokenizer with exact round trips: `detokenize(tokenize(s)) === s`
 * for every string s. See the module comment for the segmentation rules and
 * the spacing codes.
 */
export class WordTokenizer implements Tokenizer {
  readonly level = 'word' as const;

  tokenize(text: string): string[] {
    const { cores, gaps } = segmentWords(text);
    const n = cores.length;
    if (n === 0) return text === '' ? [] : [text];
    const defaults = defaultGaps(cores);
    const prefix: string[] = new Array(n).fill('');
    const suffix: string[] = new Array(n).fill('');
    const explicit = cores.map(isMarkerCore);
    for (let i = 0; i <= n; i++) {
      const gap = gaps[i];
      const leftOwns = i === n || (i > 0 && gapOwnedByLeft(cores[i - 1], cores[i]));
      const owner = leftOwns ? i - 1 : i;
      const code = gap === defaults[i] && !explicit[owner] ? '' : encodeGap(gap);
      if (leftOwns) suffix[i - 1] = code;
      else prefix[i] = code;
      // Marker-core tokens write both of their gaps, even one the neighbour owns.
      if (leftOwns && i < n && explicit[i]) prefix[i] = encodeGap(gap);
      if (!leftOwns && i > 0 && explicit[i - 1]) suffix[i - 1] = encodeGap(gap);
    }
    const tokens: string[] = new Array(n);
    for (let i = 0; i < n; i++) tokens[i] = prefix[i] + cores[i] + suffix[i];
    return tokens;
  }

  /**
   * Exact inverse of tokenize. Any token list is accepted (e.g. model
   * output): a gap is taken from the right token's prefix, else the left
   * token's suffix, else the default.
   */
  detokenize(tokens: string[]): string {
    const parsed: ParsedToken[] = [];
    let out = '';
    // Whitespace-only tokens (only produced for whitespace-only text) are copied as-is.
    const flush = (): string => {
      if (parsed.length === 0) return '';
      const cores = parsed.map((p) => p.core);
      const defaults = defaultGaps(cores);
      let s = parsed[0].prefix ?? defaults[0];
      for (let i = 0; i < parsed.length; i++) {
        s += parsed[i].core;
        const next = parsed[i + 1];
        s += next?.prefix ?? parsed[i].suffix ?? defaults[i + 1];
      }
      parsed.length = 0;
      return s;
    };
    for (const token of tokens) {
      const p = parseToken(token);
      if (p.core === '') {
        out += flush() + (p.prefix ?? '');
        continue;
      }
      parsed.push(p);
    }
    return out + flush();
  }

  toJSON(): TokenizerSpec {
    return { level: 'word' };
  }
}
