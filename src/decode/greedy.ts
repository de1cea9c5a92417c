/**
 * Batched greedy decoding with the inference models: encode once, then call
 * the one-step decoder until every row has produced EOS or reached the
 * length limit. Finished rows are dropped from the batch so they cost nothing.
 */
import { noGrad, type Tensor } from '../engine/index.js';
import type { TranslationModel, IdBatch } from '../model/model.js';
import { BOS_ID, EOS_ID } from '../data/vocab.js';
import { DECODE_DEFAULTS } from './options.js';

export interface DecodeOptions {
  /** Longest output in tokens (EOS excluded). Default 100. */
  maxLength?: number;
}

export interface Hypothesis {
  /** Output token ids, without BOS and EOS. */
  ids: Int32Array;
  /** Sum of log-probabilities of the chosen tokens (EOS included when produced). */
  logProb: number;
  /** True when the model produced EOS (false: stopped at maxLength). */
  finished: boolean;
}

/**
 * Index of the largest value in each row, and its log-softmax value
 * (`normalized`: the values already are log-probabilities, taken as they are).
 */
export function argmaxRows(logits: Tensor, normalized = false): { ids: Int32Array; logProbs: Float64Array } {
  const V = logits.cols, rows = logits.rows, d = logits.data;
  const ids = new Int32Array(rows);
  const logProbs = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * V;
    let best = 0, max = -Infinity;
    for (let j = 0; j < V; j++) if (d[base + j] > max) { max = d[base + j]; best = j; }
    if (normalized) {
      ids[r] = best;
      logProbs[r] = max;
      continue;
    }
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(d[base + j] - max);
    ids[r] = best;
    logProbs[r] = -Math.log(sum);
  }
  return { ids, logProbs };
}

export function greedyDecode<S>(model: TranslationModel<S>, src: IdBatch, options: DecodeOptions = {}): Hypothesis[] {
  const maxLength = options.maxLength ?? DECODE_DEFAULTS.maxLength;
  return noGrad(() => {
    const B = src.lengths.length;
    const out: number[][] = Array.from({ length: B }, () => []);
    const logProb = new Float64Array(B);
    const finished = new Uint8Array(B);
    let state: S = model.encode(src);
    let rows: Int32Array = Int32Array.from({ length: B }, (_, i) => i); // batch row → sentence
    let tokens: Int32Array = new Int32Array(B).fill(BOS_ID);
    for (let step = 0; step <= maxLength && rows.length > 0; step++) {
      const r = model.decodeStep(tokens, state);
      const { ids, logProbs } = r.logProbs ? argmaxRows(r.logProbs, true) : argmaxRows(r.logits);
      const keep: number[] = [];
      for (let i = 0; i < rows.length; i++) {
        const s = rows[i];
        if (ids[i] === EOS_ID) {
          logProb[s] += logProbs[i];
          finished[s] = 1;
        } else if (step < maxLength) {
          logProb[s] += logProbs[i];
          out[s].push(ids[i]);
          keep.push(i);
        }
      }
      if (keep.length === rows.length) {
        state = r.state;
        tokens = ids;
      } else {
        const idx = Int32Array.from(keep);
        state = model.selectState(r.state, idx);
        tokens = idx.map((i) => ids[i]);
        rows = idx.map((i) => rows[i]);
      }
    }
    return out.map((ids, s) => ({ ids: Int32Array.from(ids), logProb: logProb[s], finished: finished[s] === 1 }));
  });
}
