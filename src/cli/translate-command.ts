/**
 * `s2s translate`: streams sentences (arguments, stdin or --input FILE) to
 * stdout or --output FILE, chunk by chunk in input order, with flat memory.
 * A line that cannot be translated gets an empty output line and a warning
 * naming its line number; the rest goes on and the exit code says some
 * lines failed (--on-error fail stops at the first instead).
 *
 * --output is written to a temporary file beside the target and renamed at
 * the end (the project's atomic writes): a reader never sees half a file,
 * and a failed run leaves an earlier FILE as it was. Memory stays flat
 * either way, since lines go to the temporary file as they are translated.
 */
import { createReadStream, statSync, fstatSync } from 'node:fs';
import { loadBundle } from '../bundle/bundle.js';
import { openAtomicWriter, writeFileAtomic, type AtomicWriter } from '../bundle/atomic.js';
import { translateStream, splitLines, LineError, type FLUSH, type StreamLine, type StreamResult } from '../decode/stream.js';
import { ConfigError } from '../model/config.js';
import { createLineProgress, type LineProgress } from './line-progress.js';
import { EXIT_CODES } from './exit.js';

/** Exit code when some lines could not be translated (the others were). */
export const EXIT_SOME_LINES_FAILED = EXIT_CODES.someLinesFailed;

export interface TranslateCliOptions {
  model: string;
  batchSize: number;
  maxLength?: number;
  beam: number;
  lengthPenalty: number;
  nBest?: number;
  showUnknown?: boolean;
  attentionSvg?: string;
  input?: string;
  output?: string;
  json?: boolean;
  attention?: boolean;
  onError: 'skip' | 'fail';
  /** true/false from --progress/--no-progress; undefined: automatic. */
  progress?: boolean;
}

/** Reports the bytes of each line (with its newline) passing through, for the progress bar. */
async function* countLines<T>(source: AsyncIterable<T>, onLine: (bytes: number) => void): AsyncGenerator<T> {
  for await (const item of source) {
    if (item instanceof Uint8Array) onLine(item.length + 1);
    yield item;
  }
}

/** The size of stdin when it is a regular file (`< file`), else null. */
function stdinSize(): number | null {
  try {
    const st = fstatSync(0);
    return st.isFile() ? st.size : null;
  } catch {
    return null;
  }
}

function jsonRecord(r: StreamResult, withAttention: boolean): Record<string, unknown> {
  if (!r.ok) return { line: r.line, source: r.source, text: '', error: r.error.message, reason: r.error.reason };
  const t = r.translation;
  const out: Record<string, unknown> = { line: r.line, source: t.source, text: t.text, unknown: t.unknown, logProb: t.logProb, finished: t.finished };
  if (t.alternatives) out.nBest = t.alternatives;
  if (withAttention && t.attention) out.attention = t.attention;
  return out;
}

export async function translateCommand(texts: string[], o: TranslateCliOptions): Promise<void> {
  if (texts.length && o.input) throw new ConfigError('give sentences as arguments or --input FILE, not both');
  if (o.attention && !o.json) throw new ConfigError('--attention adds attention weights to --json output; give --json too (or draw them with --attention-svg)');
  const bundle = loadBundle(o.model);
  if ((o.attentionSvg || o.attention) && !bundle.model.hasAttention) {
    throw new ConfigError(`${o.attentionSvg ? '--attention-svg' : '--attention'}: the model in ${o.model} has no attention (trained with --attention none)`);
  }
  if (o.input) {
    try {
      if (!statSync(o.input).isFile()) throw new ConfigError(`--input ${o.input}: not a file`);
    } catch (err) {
      if (err instanceof ConfigError) throw err;
      throw new ConfigError(`--input ${o.input}: no such file`);
    }
  }

  // Bytes of the lines handed to the translator so far (a chunk ahead of the output at most).
  let bytesRead = 0;
  let lines: AsyncIterable<StreamLine | typeof FLUSH> | Iterable<StreamLine>;
  let totalBytes: number | null = null;
  if (texts.length) lines = texts;
  else if (o.input) {
    totalBytes = statSync(o.input).size;
    lines = countLines(splitLines(createReadStream(o.input)), (n) => void (bytesRead += n));
  } else {
    totalBytes = stdinSize();
    lines = countLines(splitLines(process.stdin), (n) => void (bytesRead += n));
  }

  // A bar only where someone watches it: stdout goes elsewhere and stderr is a terminal (or asked for).
  const stderr = process.stderr;
  const showProgress = o.progress ?? (!texts.length && !(o.output === undefined && process.stdout.isTTY) && Boolean(stderr.isTTY));
  const progress: LineProgress | null = showProgress ? createLineProgress(stderr, totalBytes) : null;
  const warn = (s: string): void => {
    progress?.clear();
    stderr.write(s + '\n');
  };

  const writer: AtomicWriter | null = o.output ? openAtomicWriter(o.output) : null;
  const write = (s: string): void => {
    if (writer) writer.write(s);
    else process.stdout.write(s);
  };
  const plot = o.attentionSvg ? (await import('../plot/index.js')).attentionSvg : null;

  const inputName = o.input ?? (texts.length ? 'arguments' : 'stdin');
  let count = 0;
  let failed = 0;
  try {
    const stream = translateStream(lines, bundle.translator, {
      batchSize: o.batchSize, maxLength: o.maxLength, beam: o.beam, lengthPenalty: o.lengthPenalty, nBest: o.nBest,
      attention: Boolean(o.attentionSvg || o.attention), onError: o.onError,
    });
    for await (const r of stream) {
      count++;
      if (!r.ok) {
        failed++;
        warn(`s2s: warning: ${inputName} ${r.error.message}; writing an empty line`);
      }
      // Each result is written as it comes: a chunk's results come together, as soon as the chunk is translated.
      if (o.json) write(JSON.stringify(jsonRecord(r, Boolean(o.attention))) + '\n');
      // A failed line is an empty line (in n-best mode: an empty list, just the separating blank line).
      else if (!r.ok) write('\n');
      else if (r.translation.alternatives) {
        // n-best: one line per hypothesis, "rank<TAB>score<TAB>text", a blank line between sentences.
        write(r.translation.alternatives.map((a, k) => `${k + 1}\t${a.score.toFixed(4)}\t${a.text}\n`).join('') + '\n');
      } else write(r.translation.text + '\n');
      if (r.ok && o.showUnknown && r.translation.unknown.length) {
        warn(`unknown in "${r.translation.source}": ${r.translation.unknown.map((u) => JSON.stringify(u)).join(' ')}`);
      }
      if (r.ok && plot && r.translation.attention) {
        // One file per sentence: name.svg for the first line, name-N.svg for line N.
        const a = r.translation.attention;
        const file = r.line === 1 ? o.attentionSvg as string : (o.attentionSvg as string).replace(/(\.svg)?$/i, `-${r.line}.svg`);
        writeFileAtomic(file, plot(a.sourceTokens, a.outputTokens, a.weights));
        warn(`attention map: ${file}`);
      }
      progress?.update(count, bytesRead);
    }
    writer?.commit();
  } catch (err) {
    writer?.abort();
    progress?.clear();
    // --on-error fail: name the input the line is in.
    if (err instanceof LineError) throw new LineError(err.line, err.reason, `${err.message.replace(/^line \d+: /, '')} (in ${inputName}; nothing more was translated${o.output ? `, ${o.output} not written` : ''})`, { cause: err });
    throw err;
  }
  progress?.stop();
  if (failed > 0) {
    stderr.write(`s2s: ${failed} of ${count} lines could not be translated (empty lines in the output)\n`);
    process.exitCode = EXIT_SOME_LINES_FAILED;
  }
}
