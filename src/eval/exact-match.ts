/**
 * Exact match: the share of hypotheses identical to one of their references.
 */
import { toReferenceStreams, type CorpusReferences } from './bleu.js';

/** How exactMatch compares a hypothesis with its references. */
export interface ExactMatchOptions {
  /** Compare after trimming and collapsing whitespace runs to one space; default false. */
  normalizeWhitespace?: boolean;
  /** Compare case-insensitively; default false. */
  ignoreCase?: boolean;
}

/**
 * Fraction (0..1) of hypotheses identical to one of their references.
 * References take the same shapes as corpusBleu's. An empty corpus scores 0.
 */
export function exactMatch(
  hypotheses: ReadonlyArray<string>,
  references: CorpusReferences,
  options?: ExactMatchOptions,
): number {
  if (hypotheses.length === 0) return 0;
  const streams = toReferenceStreams(hypotheses.length, references, 'exactMatch');
  const norm = (s: string): string => {
    let t = s;
    if (options?.normalizeWhitespace) t = t.trim().replace(/\s+/gu, ' ');
    if (options?.ignoreCase) t = t.toLowerCase();
    return t;
  };
  let hits = 0;
  for (let i = 0; i < hypotheses.length; i++) {
    const h = norm(hypotheses[i]);
    if (streams.some((s) => s[i] !== null && s[i] !== undefined && norm(s[i] as string) === h)) hits++;
  }
  return hits / hypotheses.length;
}
