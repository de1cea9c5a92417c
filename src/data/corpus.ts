/**
 * Reader for tab-separated sentence-pair files such as Tatoeba's fra.txt:
 * `source<TAB>target[<TAB>attribution…]`, one pair per line.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { S2SError } from '../errors.js';

/** One source/target pair of a corpus file. */
export interface SentencePair {
  source: string;
  target: string;
  /** 1-based line number in the file the pair came from. */
  line: number;
}

/** What reading a corpus file kept and skipped. */
export interface CorpusStats {
  /** Lines examined (parsing stops early once `samples` pairs are kept). */
  lines: number;
  /** Empty or whitespace-only lines, skipped silently. */
  blank: number;
  /** Malformed lines skipped because `skipBadLines` was set. */
  badLines: number;
  /** Pairs skipped for exceeding `maxSourceLength` / `maxTargetLength`. */
  tooLong: number;
  /** Pairs returned. */
  kept: number;
}

/** The pairs read from a corpus file and the reading statistics. */
export interface Corpus {
  pairs: SentencePair[];
  stats: CorpusStats;
}

/** Options of `readPairs`, `readPairsSync` and `parsePairs`. */
export interface ReadPairsOptions {
  /** Skip and count malformed lines instead of throwing. Default false. */
  skipBadLines?: boolean;
  /**
   * Fold U+00A0, U+202F and U+2009 (French typography) to an ASCII space and
   * delete U+200B and U+00AD. Default false: text is kept as written.
   */
  normalizeSpaces?: boolean;
  /** Keep only the first N valid pairs, as the Keras example does. Default 'all'. */
  samples?: number | 'all';
  /** Longest source kept, in code points; longer pairs are skipped. Default Infinity. */
  maxSourceLength?: number;
  /** Longest target kept, in code points; longer pairs are skipped. Default Infinity. */
  maxTargetLength?: number;
}

/** A malformed corpus line; `message` starts with `file:line:`. */
export class CorpusError extends S2SError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'CorpusError';
  }
}

/** Reads and parses a pair file (the whole file is read; fra.txt is ~12 MB). */
export async function readPairs(path: string, options: ReadPairsOptions = {}): Promise<Corpus> {
  const bytes = await readFile(path);
  return parsePairs(bytes, path, options);
}

/** Synchronous twin of {@link readPairs}, for scripts and tests. */
export function readPairsSync(path: string, options: ReadPairsOptions = {}): Corpus {
  return parsePairs(readFileSync(path), path, options);
}

/**
 * Parses pair-file contents. Pass raw bytes to get invalid UTF-8 reported
 * with its line number; a string is taken as already decoded (but lone
 * surrogates are still reported).
 */
export function parsePairs(
  text: string | Uint8Array,
  fileName: string,
  options: ReadPairsOptions = {},
): Corpus {
  const skipBadLines = options.skipBadLines ?? false;
  const normalizeSpaces = options.normalizeSpaces ?? false;
  const samples = options.samples ?? 'all';
  const maxSourceLength = options.maxSourceLength ?? Infinity;
  const maxTargetLength = options.maxTargetLength ?? Infinity;
  if (samples !== 'all' && !(Number.isInteger(samples) && samples >= 0)) {
    throw new RangeError(`samples must be a non-negative integer or 'all', got ${String(samples)}`);
  }
  const limit = samples === 'all' ? Infinity : samples;

  if (typeof text !== 'string' && text.length >= 2 && ((text[0] === 0xff && text[1] === 0xfe) || (text[0] === 0xfe && text[1] === 0xff))) {
    throw new CorpusError(fileName, 1, 'the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8');
  }
  // null marks a line whose bytes are not valid UTF-8.
  const lines: (string | null)[] = typeof text === 'string' ? splitLines(stripBom(text)) : decodeLines(text);

  const stats: CorpusStats = { lines: 0, blank: 0, badLines: 0, tooLong: 0, kept: 0 };
  const pairs: SentencePair[] = [];
  const bad = (line: number, reason: string): void => {
    if (!skipBadLines) throw new CorpusError(fileName, line, reason);
    stats.badLines++;
  };

  // A trailing newline leaves one empty final "line" that is not a real line.
  const lineCount = lines.length > 0 && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length;
  for (let i = 0; i < lineCount && stats.kept < limit; i++) {
    const lineNo = i + 1;
    stats.lines++;
    let raw = lines[i];
    if (raw === null) {
      bad(lineNo, 'invalid UTF-8');
      continue;
    }
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    if (raw.trim() === '') {
      stats.blank++;
      continue;
    }
    if (raw.includes('\0')) {
      bad(lineNo, 'NUL character in the line; is the file UTF-16? Save it as UTF-8');
      continue;
    }
    if (raw.includes('\r')) {
      // Lines end at LF (or CRLF); a CR inside is most likely a file with CR-only line endings read as one line.
      bad(lineNo, 'carriage return (CR) inside the line; if the file has CR-only (classic Mac) line endings, convert them to LF');
      continue;
    }
    if (LONE_SURROGATE.test(raw)) {
      bad(lineNo, 'invalid text (unpaired UTF-16 surrogate)');
      continue;
    }
    const tab = raw.indexOf('\t');
    if (tab < 0) {
      bad(lineNo, 'no TAB between source and target');
      continue;
    }
    const nextTab = raw.indexOf('\t', tab + 1);
    const source = cleanSide(raw.slice(0, tab), normalizeSpaces);
    const target = cleanSide(raw.slice(tab + 1, nextTab < 0 ? raw.length : nextTab), normalizeSpaces);
    if (source === '') {
      bad(lineNo, 'empty source sentence');
      continue;
    }
    if (target === '') {
      bad(lineNo, 'empty target sentence');
      continue;
    }
    if (codePointLength(source) > maxSourceLength || codePointLength(target) > maxTargetLength) {
      stats.tooLong++;
      continue;
    }
    pairs.push({ source, target, line: lineNo });
    stats.kept++;
  }
  return { pairs, stats };
}

/** Number of Unicode code points (what a character-level model sees). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Skip the low half of a surrogate pair.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const ODD_SPACES = /[\u00a0\u202f\u2009]/g;
const INVISIBLES = /[\u200b\u00ad]/g;

function cleanSide(side: string, normalizeSpaces: boolean): string {
  // Fold and delete before composing: deleting U+200B between a letter and a combining mark must still give NFC.
  const s = normalizeSpaces ? side.replace(ODD_SPACES, ' ').replace(INVISIBLES, '') : side;
  return s.normalize('NFC').trim();
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function splitLines(text: string): string[] {
  return text.split('\n');
}

function decodeLines(bytes: Uint8Array): (string | null)[] {
  // Fast path: the whole file is valid UTF-8 (the decoder drops a leading BOM).
  try {
    return splitLines(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    // Fall through to find which lines are broken.
  }
  // ignoreBOM keeps a stray BOM inside the file; only the file's own BOM goes.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const lines: (string | null)[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i < bytes.length && bytes[i] !== 0x0a) continue;
    try {
      const line = decoder.decode(bytes.subarray(start, i));
      lines.push(lines.length === 0 ? stripBom(line) : line);
    } catch {
      lines.push(null);
    }
    start = i + 1;
  }
  return lines;
}
