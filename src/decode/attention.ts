/**
 * Attention weights of chosen outputs, recovered by forced decoding: the
 * outputs are fed back through the one-step decoder and the weights of each
 * step recorded. Works the same for greedy and beam results and costs
 * nothing unless asked for.
 */
import { noGrad } from '../engine/index.js';
import type { TranslationModel, IdBatch } from '../model/model.js';
import { BOS_ID } from '../data/vocab.js';

/**
 * For each row: weights[outputStep][sourcePosition], one step per output
 * token plus one for the end of sentence. Null when the model has no attention.
 */
export function forcedAttention<State>(model: TranslationModel<State>, src: IdBatch, outputs: readonly Int32Array[]): number[][][] | null {
  if (!model.hasAttention) return null;
  return noGrad(() => {
    const B = outputs.length, S = src.maxLen;
    const steps = Math.max(0, ...outputs.map((o) => o.length)) + 1;
    const result: number[][][] = outputs.map(() => []);
    let state = model.encode(src);
    let tokens = new Int32Array(B).fill(BOS_ID);
    for (let t = 0; t < steps; t++) {
      const r = model.decodeStep(tokens, state);
      const w = r.attention;
      if (!w) return null;
      for (let b = 0; b < B; b++) {
        if (t <= outputs[b].length) result[b].push(Array.from(w.data.subarray(b * S, b * S + src.lengths[b])));
      }
      state = r.state;
      tokens = Int32Array.from(outputs, (o) => (t < o.length ? o[t] : BOS_ID));
    }
    return result;
  });
}
