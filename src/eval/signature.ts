/**
 * sacreBLEU-style signatures: the `key:value|…` strings that say exactly how
 * a score was computed, so a reader can tell whether two scores compare.
 *
 * Fields and their order are sacreBLEU 2.x's (`nrefs` first, the metric's
 * own fields, `version` last), with the same spellings (`case:mixed|lc`,
 * `smooth:floor[0.10]`, `nrefs:var` when segments have different numbers
 * of references). Only `version` differs: the numbers come from s2s's own
 * implementation, so it names s2s and the sacreBLEU release whose results
 * it reproduces (test/fixtures/sacrebleu.json), e.g.
 * `version:s2s-0.1.0+sacrebleu-2.6.0`. A sacreBLEU signature with
 * `version:2.6.0` and the same other fields describes the same computation.
 */
import type { BleuOptions, SmoothMethod } from './bleu.js';
import type { ChrfOptions } from './chrf.js';
import { S2S_VERSION } from '../bundle/format.js';

/** The sacreBLEU release the metrics are checked against (test/fixtures/sacrebleu.json). */
export const SACREBLEU_VERSION = '2.6.0';

/** What `version:` holds in every signature s2s prints. */
export const SIGNATURE_VERSION = `s2s-${S2S_VERSION}+sacrebleu-${SACREBLEU_VERSION}`;

/** References per segment: one count when every segment has the same, else 'var' (sacreBLEU's `nrefs:var`). */
export type ReferenceCount = number | 'var';

/** sacreBLEU's defaults for the smoothing methods that take a value. */
const SMOOTH_DEFAULTS: Record<SmoothMethod, number | null> = { none: null, floor: 0.1, 'add-k': 1, exp: null };

/**
 * The reference count of a corpus given as corpusBleu takes it (`string[]`,
 * or streams `refs[k][i]` with null for a missing reference): the number of
 * non-null references when every segment has the same, else 'var'.
 * (sacreBLEU also drops empty-string references; s2s scores them as
 * given, and references read from pair files are never empty.)
 */
export function referenceCount(references: ReadonlyArray<string> | ReadonlyArray<ReadonlyArray<string | null>>): ReferenceCount {
  if (references.length === 0) return 0;
  if (typeof references[0] === 'string') return 1;
  const streams = references as ReadonlyArray<ReadonlyArray<string | null>>;
  const counts = new Set<number>();
  for (let i = 0; i < streams[0].length; i++) {
    let n = 0;
    for (const stream of streams) if (stream[i] !== null && stream[i] !== undefined) n++;
    counts.add(n);
    if (counts.size > 1) return 'var';
  }
  return counts.size === 1 ? [...counts][0] : streams.length;
}

function format(fields: ReadonlyArray<readonly [string, string | number]>): string {
  return fields.map(([k, v]) => `${k}:${v}`).join('|');
}

/**
 * The BLEU signature for these options, e.g.
 * `nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:…`.
 *
 * @param effectiveOrderDefault what `effectiveOrder` means when unset:
 *   false for corpus BLEU (the default), true for sentence BLEU
 */
export function bleuSignature(options: BleuOptions = {}, nrefs: ReferenceCount = 1, effectiveOrderDefault = false): string {
  const method = options.smoothMethod ?? 'exp';
  const def = SMOOTH_DEFAULTS[method];
  // Python's f'{v:.2f}', as sacreBLEU writes the value of methods that take one.
  const smooth = def === null ? method : `${method}[${(options.smoothValue ?? def).toFixed(2)}]`;
  return format([
    ['nrefs', nrefs],
    ['case', options.lowercase ? 'lc' : 'mixed'],
    ['eff', (options.effectiveOrder ?? effectiveOrderDefault) ? 'yes' : 'no'],
    ['tok', options.tokenize ?? '13a'],
    ['smooth', smooth],
    ['version', SIGNATURE_VERSION],
  ]);
}

/**
 * The chrF signature, e.g. `nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:…`.
 * As in sacreBLEU, β is not a field: it is part of the metric's name (chrfName).
 */
export function chrfSignature(options: ChrfOptions = {}, nrefs: ReferenceCount = 1): string {
  return format([
    ['nrefs', nrefs],
    ['case', options.lowercase ? 'lc' : 'mixed'],
    // 'eff' is yes for the effective-order averaging, no with epsilon smoothing.
    ['eff', options.epsSmoothing ? 'no' : 'yes'],
    ['nc', options.charOrder ?? 6],
    ['nw', options.wordOrder ?? 0],
    ['space', options.whitespace ? 'yes' : 'no'],
    ['version', SIGNATURE_VERSION],
  ]);
}

/** sacreBLEU's name for a chrF variant: `chrF2`, `chrF2++` with word n-grams, `chrF1` with β = 1. */
export function chrfName(options: ChrfOptions = {}): string {
  return `chrF${options.beta ?? 2}${(options.wordOrder ?? 0) > 0 ? '++' : ''}`;
}
