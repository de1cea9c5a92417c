/**
 * Scoring a hypothesis file someone else produced (another toolkit, an
 * earlier run): its lines line up with the pairs of a data file.
 */
import type { SourceGroup } from './references.js';
import { S2SError } from '../errors.js';

/** The hypothesis file and the data file disagree on how many sentences there are. */
export class LineCountError extends S2SError {
  constructor(message: string, readonly hypothesisLines: number, readonly expected: number) {
    super(message);
    this.name = 'LineCountError';
  }
}

/**
 * The lines of a hypothesis file: every line counts, empty ones too (an
 * empty translation is a hypothesis); one final newline ends the last line
 * rather than starting another; CRLF endings are accepted.
 */
export function hypothesisLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

/**
 * Checks that there is one hypothesis per pair of the data file and, with
 * `groups` (multi-reference scoring), returns one per distinct source: a
 * file with one line per pair gives each source the hypothesis of its first
 * line; a file with one line per distinct source is taken as it is.
 */
export function alignHypotheses(
  hypotheses: readonly string[],
  pairCount: number,
  names: { hypothesis: string; data: string },
  groups?: readonly SourceGroup[],
): string[] {
  if (hypotheses.length === pairCount) return groups ? groups.map((g) => hypotheses[g.first]) : hypotheses.slice();
  if (groups && hypotheses.length === groups.length) return hypotheses.slice();
  const want = groups ? `${pairCount} (one per sentence pair) or ${groups.length} (one per distinct source)` : `${pairCount}, one per sentence pair`;
  throw new LineCountError(
    `${names.hypothesis} has ${hypotheses.length} lines but ${names.data} has ${pairCount} sentence pairs; the hypothesis file needs ${want}, in the same order`,
    hypotheses.length,
    pairCount,
  );
}
