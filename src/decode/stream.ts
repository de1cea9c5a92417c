/**
 * Streaming translation: lines in, results out, chunk by chunk, in input
 * order, holding one chunk at a time whatever the input's size. A line that
 * cannot be translated (longer than the model accepts, not valid UTF-8)
 * yields an error result naming its line number and the rest goes on; with
 * `onError: 'fail'` the first such line throws instead. Browser-safe: no
 * Node imports (TextDecoder is a global in both).
 */
import { InputTooLongError, type Translator, type TranslateOptions, type Translation } from './translator.js';
import { S2SError } from '../errors.js';

/** A line as text, or as the raw bytes of one line (decoded here, strictly, so invalid UTF-8 is caught). */
export type StreamLine = string | Uint8Array;

/**
 * Not a line: "no more input for now". translateStream translates the lines
 * it holds when it sees one, without waiting for a full chunk, so a line
 * typed at a terminal is translated at once. splitLines yields one after
 * the lines of each block it reads.
 */
export const FLUSH: unique symbol = Symbol('s2s.stream.flush');

/** Options of translateStream: the translator's, plus chunking and what a bad line does. */
export interface StreamOptions extends TranslateOptions {
  /**
   * Lines translated together (and held in memory) at a time; each chunk's
   * results are yielded as soon as it is done. Default: `batchSize` (64).
   */
  chunkSize?: number;
  /** 'skip' (default): a bad line yields an error result and the rest goes on. 'fail': it throws a LineError. */
  onError?: 'skip' | 'fail';
}

/** Why a line was not translated: too long for the model, invalid UTF-8, invalid text (lone surrogate), or the translator failed on it. */
export type LineErrorReason = 'too-long' | 'invalid-utf8' | 'invalid-text' | 'failed';

/** A line that could not be translated; the message starts with `line N:`. */
export class LineError extends S2SError {
  constructor(readonly line: number, readonly reason: LineErrorReason, detail: string, options?: { cause?: unknown }) {
    super(`line ${line}: ${detail}`, options);
    this.name = 'LineError';
  }
}

/** One result per input line, in input order: its translation, or why it has none. */
export type StreamResult =
  | { line: number; ok: true; translation: Translation }
  | { line: number; ok: false; source: string; error: LineError };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Text of one input line, or why it has none. */
function decodeLine(raw: StreamLine, line: number): string | LineError {
  let text: string;
  if (typeof raw === 'string') {
    // A decoder that was not strict leaves U+FFFD where the bytes were invalid.
    if (raw.includes('\uFFFD')) return new LineError(line, 'invalid-utf8', 'contains U+FFFD (the replacement character a decoder puts for bytes that are not valid UTF-8)');
    text = raw;
  } else {
    try {
      text = strictUtf8.decode(raw);
    } catch {
      return new LineError(line, 'invalid-utf8', 'not valid UTF-8');
    }
  }
  if (LONE_SURROGATE.test(text)) return new LineError(line, 'invalid-text', 'invalid text (unpaired UTF-16 surrogate)');
  return text;
}

/**
 * Translates a chunk, setting aside every line the translator rejects. The
 * translator validates a whole call before decoding anything, so retrying
 * without a rejected line costs no decoding; any other failure is narrowed
 * down to its line by translating the chunk's lines one by one. Results are
 * keyed by each entry's `key`; `lineName` gives the line number for messages.
 */
function translateChunk(
  translator: Translator,
  entries: { key: number; text: string }[],
  options: TranslateOptions,
  lineName: (key: number) => number = (key) => key,
): Map<number, Translation | LineError> {
  const out = new Map<number, Translation | LineError>();
  let pending = entries;
  while (pending.length > 0) {
    try {
      const results = translator.translate(pending.map((e) => e.text), options);
      pending.forEach((e, i) => out.set(e.key, results[i]));
      return out;
    } catch (err) {
      if (err instanceof InputTooLongError && pending[err.index]) {
        const bad = pending[err.index];
        out.set(bad.key, new LineError(lineName(bad.key), 'too-long', `${err.length} characters long; this model accepts at most ${err.limit} (the longest source it was trained on); split it into sentences`, { cause: err }));
        pending = pending.filter((_, i) => i !== err.index);
        continue;
      }
      if (pending.length === 1) {
        out.set(pending[0].key, new LineError(lineName(pending[0].key), 'failed', (err as Error)?.message ?? String(err), { cause: err }));
        return out;
      }
      for (const e of pending) for (const [k, v] of translateChunk(translator, [e], options, lineName)) out.set(k, v);
      return out;
    }
  }
  return out;
}

/**
 * The per-line error handling of translateStream for texts already in
 * memory: one Translation or LineError per input, in order. `lineNumbers`
 * names each input in errors (default 1, 2, …), e.g. its line in a file.
 */
export function translateLines(
  texts: readonly StreamLine[],
  translator: Translator,
  options: TranslateOptions & { lineNumbers?: readonly number[] } = {},
): (Translation | LineError)[] {
  const { lineNumbers, ...translateOptions } = options;
  // Bad options (beam, nBest…) are the caller's error, not every line's: translating nothing checks them.
  translator.translate([], translateOptions);
  if (lineNumbers && lineNumbers.length !== texts.length) throw new RangeError(`lineNumbers has ${lineNumbers.length} entries for ${texts.length} texts`);
  // Keyed by position, so repeated line numbers cannot collide.
  const decoded = texts.map((raw, i) => ({ at: i, line: lineNumbers?.[i] ?? i + 1, text: decodeLine(raw, lineNumbers?.[i] ?? i + 1) }));
  const good = decoded.filter((d): d is { at: number; line: number; text: string } => typeof d.text === 'string');
  const results = translateChunk(translator, good.map((d) => ({ key: d.at, text: d.text })), translateOptions, (at) => decoded[at].line);
  return decoded.map((d) => (typeof d.text === 'string' ? results.get(d.at) as Translation | LineError : d.text));
}

/**
 * Translates lines as they arrive, `chunkSize` at a time, yielding one
 * result per input line (1-based `line`) in input order. Memory stays that
 * of one chunk: lines are pulled from `lines` only as results are consumed.
 */
export async function* translateStream(
  lines: AsyncIterable<StreamLine | typeof FLUSH> | Iterable<StreamLine | typeof FLUSH>,
  translator: Translator,
  options: StreamOptions = {},
): AsyncGenerator<StreamResult, void, undefined> {
  const { chunkSize: chunkOption, onError = 'skip', ...translateOptions } = options;
  const chunkSize = chunkOption ?? translateOptions.batchSize ?? 64;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new RangeError(`chunkSize must be an integer >= 1, got ${chunkSize}`);
  if (onError !== 'skip' && onError !== 'fail') throw new RangeError(`onError must be 'skip' or 'fail', got ${JSON.stringify(onError)}`);
  translator.translate([], translateOptions);
  let lineNo = 0;
  let chunk: { line: number; raw: StreamLine }[] = [];
  const flush = function* (): Generator<StreamResult> {
    const decoded = chunk.map((c) => ({ line: c.line, raw: c.raw, text: decodeLine(c.raw, c.line) }));
    const good = decoded.filter((d): d is { line: number; raw: StreamLine; text: string } => typeof d.text === 'string');
    // Fail fast: nothing after the first bad line is translated.
    const firstBad = onError === 'fail' ? decoded.find((d) => typeof d.text !== 'string') : undefined;
    const toTranslate = firstBad ? good.filter((d) => d.line < firstBad.line) : good;
    const results = translateChunk(translator, toTranslate.map((d) => ({ key: d.line, text: d.text })), translateOptions);
    for (const d of decoded) {
      const r = typeof d.text === 'string' ? results.get(d.line) : d.text;
      if (r === undefined) break; // only after the first bad line in 'fail' mode, which threw before
      if (r instanceof LineError) {
        if (onError === 'fail') throw r;
        yield { line: d.line, ok: false, source: typeof d.raw === 'string' ? d.raw : new TextDecoder().decode(d.raw), error: r };
      } else yield { line: d.line, ok: true, translation: r };
    }
    chunk = [];
  };
  for await (const raw of lines) {
    if (raw === FLUSH) {
      if (chunk.length > 0) yield* flush();
      continue;
    }
    chunk.push({ line: ++lineNo, raw });
    if (chunk.length >= chunkSize) yield* flush();
  }
  if (chunk.length > 0) yield* flush();
}

/**
 * Splits a byte stream (a file or stdin read in blocks) into lines, as raw
 * bytes for translateStream to decode: LF ends a line, a CR before it is
 * dropped, a final line without LF still counts. Holds only the current
 * line. After the lines of each block comes FLUSH (see there).
 */
export async function* splitLines(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array | typeof FLUSH, void, undefined> {
  let carry: Uint8Array[] = [];
  let carryLength = 0;
  const take = (piece: Uint8Array): Uint8Array => {
    let line = piece;
    if (carryLength > 0) {
      line = new Uint8Array(carryLength + piece.length);
      let at = 0;
      for (const c of carry) {
        line.set(c, at);
        at += c.length;
      }
      line.set(piece, at);
      carry = [];
      carryLength = 0;
    }
    return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, line.length - 1) : line;
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      yield take(chunk.slice(start, nl));
      start = nl + 1;
    }
    if (start < chunk.length) {
      // Copied: the caller may reuse its buffer for the next block.
      carry.push(chunk.slice(start));
      carryLength += chunk.length - start;
    }
    yield FLUSH;
  }
  if (carryLength > 0) yield take(new Uint8Array(0));
}
