/**
 * The mteval-v13a tokenizer as sacreBLEU applies it (its default `13a`
 * tokenizer), plus the Python whitespace helpers the metrics rely on.
 *
 * sacreBLEU is Python, so "whitespace" there means `str.isspace()`. That set
 * differs from JavaScript's `\s`: it adds U+001C–U+001F and U+0085 and lacks
 * U+FEFF. Scores only match sacreBLEU bit for bit if we split the same way.
 */
import { ConfigError } from '../errors.js';

/** Python's `str.isspace()` set, as a regex class body. */
const PY_WS = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_WS_RUN = new RegExp(`[${PY_WS}]+`, 'u');
const PY_WS_ANY = new RegExp(`[${PY_WS}]+`, 'gu');
const PY_WS_TRAILING = new RegExp(`[${PY_WS}]+$`, 'u');

/** Python `s.split()`: split on runs of whitespace, dropping empty pieces. */
export function splitWhitespace(s: string): string[] {
  if (s.length === 0) return [];
  const parts = s.split(PY_WS_RUN);
  // Leading/trailing whitespace yields an empty first/last piece.
  return parts.filter((p) => p.length > 0);
}

/** Python `''.join(s.split())`: every whitespace character removed. */
export function removeWhitespace(s: string): string {
  return s.replace(PY_WS_ANY, '');
}

/** Python `s.rstrip()`. */
export function rstripWhitespace(s: string): string {
  return s.replace(PY_WS_TRAILING, '');
}

// Regexes of mteval-v13a's language-dependent part (Western languages),
// applied in this order. Python's `[0-9]` on str patterns is ASCII digits
// only, as here.
const V13A_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // Pad ASCII symbols: { | } ~  [ \ ] ^ _ `  space ! " # $ % &  ( ) * +  : ; < = > ? @  /
  [/([\x7B-\x7E\x5B-\x60\x20-\x26\x28-\x2B\x3A-\x40\x2F])/gu, ' $1 '],
  // Period and comma split off unless preceded by a digit...
  [/([^0-9])([.,])/gu, '$1 $2 '],
  // ...and unless followed by a digit (so "3.14" and "1,000" stay whole).
  [/([.,])([^0-9])/gu, ' $1 $2'],
  // A dash after a digit is split ("1990-1995" -> "1990 - 1995").
  [/([0-9])(-)/gu, '$1 $2 '],
];

/** Tokenize one line with sacreBLEU's `13a` tokenizer. */
export function tokenize13a(line: string): string {
  // Language-independent part of mteval-v13a.
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&')) {
    // Sequential, so "&amp;quot;" becomes "&quot;" and is not unescaped twice.
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  // The padding spaces let the period/comma rules see a neighbour at both ends.
  s = ` ${s} `;
  for (const [re, repl] of V13A_RULES) s = s.replace(re, repl);
  return splitWhitespace(s).join(' ');
}

/** Tokenizers available to BLEU: `13a` (default) or `none` (split on whitespace only). */
export type BleuTokenizer = '13a' | 'none';

export function getTokenizer(name: BleuTokenizer): (line: string) => string {
  switch (name) {
    case '13a':
      return tokenize13a;
    case 'none':
      return (line) => line;
    default:
      throw new ConfigError(`unknown BLEU tokenizer: ${String(name)}`);
  }
}
