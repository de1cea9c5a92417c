/**
 * Several references per sentence. A pair file such as fra.txt lists the
 * same source on several lines, one translation each; scoring each line on
 * its own counts that source several times against one reference each,
 * while sacreBLEU's multi-reference mode scores it once against all of
 * them. These helpers turn pairs into that layout.
 */
import { ConfigError } from '../errors.js';

/** One distinct source with every target it has in the file, in file order. */
export interface SourceGroup {
  source: string;
  references: string[];
  /** Index (0-based, in the pairs given) of the source's first appearance. */
  first: number;
}

/**
 * Groups pairs by identical source, in order of first appearance, keeping
 * every target (duplicates too: they are separate lines of the file).
 */
export function groupBySource(pairs: ReadonlyArray<{ source: string; target: string }>): SourceGroup[] {
  const groups: SourceGroup[] = [];
  const bySource = new Map<string, SourceGroup>();
  pairs.forEach((p, i) => {
    let g = bySource.get(p.source);
    if (!g) {
      g = { source: p.source, references: [], first: i };
      bySource.set(p.source, g);
      groups.push(g);
    }
    g.references.push(p.target);
  });
  return groups;
}

/**
 * Per-segment reference lists as sacreBLEU's reference streams
 * (`streams[k][i]` = k-th reference of segment i, null where segment i has
 * fewer than k + 1), the layout corpusBleu, corpusChrf and exactMatch take.
 */
export function referenceStreams(references: ReadonlyArray<ReadonlyArray<string>>): (string | null)[][] {
  let most = 0;
  for (const refs of references) {
    if (refs.length === 0) throw new ConfigError('referenceStreams: a segment has no reference');
    most = Math.max(most, refs.length);
  }
  return Array.from({ length: most }, (_, k) => references.map((refs) => refs[k] ?? null));
}
