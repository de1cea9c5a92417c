/**
 * A corpus scored with every metric s2s reports, each with its
 * sacreBLEU-style signature and the counts a reader needs to cite it.
 */
import { corpusBleu, type BleuOptions, type BleuResult, type CorpusReferences } from './bleu.js';
import { corpusChrf, type ChrfOptions, type ChrfResult } from './chrf.js';
import { exactMatch } from './exact-match.js';
import { bleuSignature, chrfSignature, chrfName, referenceCount, type ReferenceCount } from './signature.js';

/** Options of the metrics scoreCorpus computes (sacreBLEU's defaults when absent). */
export interface MetricOptions {
  bleu?: BleuOptions;
  chrf?: ChrfOptions;
}

/** BLEU with its name and signature. */
export interface BleuScore extends BleuResult {
  name: 'BLEU';
  signature: string;
}

/** chrF with its sacreBLEU name (chrF2, chrF2++, …) and signature. */
export interface ChrfScore extends ChrfResult {
  name: string;
  signature: string;
}

/** Every score of a corpus, with the counts and signatures needed to cite it. */
export interface CorpusScores {
  /** Hypotheses scored (segments). */
  sentences: number;
  /** References per segment, or 'var'. */
  nrefs: ReferenceCount;
  /** References in all (equals sentences with one reference each). */
  references: number;
  bleu: BleuScore;
  chrf: ChrfScore;
  /** Fraction (0..1) of hypotheses equal to one of their references. */
  exactMatch: number;
}

/** BLEU, chrF and exact match of hypotheses against references (corpusBleu's layouts). */
export function scoreCorpus(hypotheses: ReadonlyArray<string>, references: CorpusReferences, options: MetricOptions = {}): CorpusScores {
  const bleu = corpusBleu(hypotheses, references, options.bleu);
  const chrf = corpusChrf(hypotheses, references, options.chrf);
  const nrefs = referenceCount(references);
  let total = 0;
  if (references.length > 0 && typeof references[0] !== 'string') {
    for (const stream of references as ReadonlyArray<ReadonlyArray<string | null>>) for (const r of stream) if (r !== null && r !== undefined) total++;
  } else total = references.length;
  return {
    sentences: hypotheses.length,
    nrefs,
    references: total,
    bleu: { ...bleu, name: 'BLEU', signature: bleuSignature(options.bleu, nrefs) },
    chrf: { ...chrf, name: chrfName(options.chrf), signature: chrfSignature(options.chrf, nrefs) },
    exactMatch: exactMatch(hypotheses, references),
  };
}
