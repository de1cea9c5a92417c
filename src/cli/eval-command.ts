/**
 * `s2s eval`: prints what the library's evaluate() returns — the scores,
 * the number of sentences scored and each metric's signature, or all of it
 * as one JSON object with --json.
 */
import { evaluate, type EvalSplit, type EvaluateResult } from '../eval/evaluate.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { ConfigError } from '../model/config.js';

export interface EvalCliOptions {
  model?: string;
  data?: string;
  split?: EvalSplit;
  hyp?: string;
  multiRef?: boolean;
  report?: string;
  limit?: number;
  json?: boolean;
  batchSize: number;
  maxLength?: number;
  beam: number;
  lengthPenalty: number;
}

/** The JSON object `s2s eval --json` prints: everything but the per-sentence lists. */
export function evalJson(r: EvaluateResult): Record<string, unknown> {
  return {
    corpus: r.corpus, split: r.split, hypothesisFile: r.hypothesisFile, multiRef: r.multiRef,
    sentences: r.sentences, pairs: r.pairCount, references: r.references, nrefs: r.nrefs,
    bleu: { name: r.bleu.name, score: r.bleu.score, precisions: r.bleu.precisions, bp: r.bleu.bp, sysLen: r.bleu.sysLen, refLen: r.bleu.refLen, signature: r.bleu.signature },
    chrf: { name: r.chrf.name, score: r.chrf.score, signature: r.chrf.signature },
    exactMatch: r.exactMatch,
    failed: r.failed,
    seconds: r.seconds, sentencesPerSecond: r.sentencesPerSecond,
  };
}

export function evalCommand(o: EvalCliOptions): void {
  if (!o.model && !o.hyp) throw new ConfigError('s2s eval needs --model (to translate) or --hyp (a file of translations to score)');
  if (o.hyp && !o.data) throw new ConfigError('--hyp: give --data FILE, the pairs whose targets are the references');
  const r = evaluate({
    model: o.model, data: o.data, split: o.split, hypotheses: o.hyp, multiRef: o.multiRef, limit: o.limit,
    batchSize: o.batchSize, maxLength: o.maxLength, beam: o.beam, lengthPenalty: o.lengthPenalty,
  });
  for (const f of r.failed.slice(0, 10)) process.stderr.write(`s2s: warning: ${f.message}; scored as an empty translation\n`);
  if (r.failed.length > 10) process.stderr.write(`s2s: warning: … and ${r.failed.length - 10} more\n`);
  if (o.report) {
    // With several references they are joined by " ||| " (Moses's separator) in one column.
    const rows = r.segments.map((s) => [s.source, s.references.join(' ||| '), s.hypothesis].map((c) => c.replace(/[\t\n]/g, ' ')).join('\t'));
    writeFileAtomic(o.report, [`source\treference${r.multiRef ? 's' : ''}\thypothesis`, ...rows].join('\n') + '\n');
  }
  if (o.json) {
    console.log(JSON.stringify(evalJson(r)));
    return;
  }
  const what = r.split === 'all' ? `all of ${r.corpus}` : `${r.split} split of ${r.corpus}`;
  const counted = r.multiRef
    ? `${r.sentences} distinct sources against ${r.references} references (nrefs:${r.nrefs})`
    : `${r.sentences} sentences`;
  const speed = r.sentencesPerSecond === null ? `hypotheses from ${r.hypothesisFile ?? 'the caller'}` : `${r.sentencesPerSecond.toFixed(1)} sentences/s`;
  console.log(`scored: ${what} (${counted}, ${speed})`);
  if (r.failed.length) console.log(`untranslatable: ${r.failed.length} sentences (too long for the model), scored as empty translations`);
  console.log(`BLEU: ${r.bleu.score.toFixed(2)}  (${r.bleu.precisions.map((p) => p.toFixed(1)).join('/')}, BP ${r.bleu.bp.toFixed(3)}, ratio ${(r.bleu.sysLen / Math.max(1, r.bleu.refLen)).toFixed(3)})`);
  console.log(`  signature: ${r.bleu.signature}`);
  console.log(`chrF: ${r.chrf.score.toFixed(2)}  (${r.chrf.name})`);
  console.log(`  signature: ${r.chrf.signature}`);
  console.log(`exact match: ${(r.exactMatch * 100).toFixed(2)}%`);
  if (o.report) console.log(`report: ${o.report}`);
}
