/**
 * Decoding defaults, declared once: the translator, greedy and beam search,
 * the command line and the server all read them from here.
 */

export const DECODE_DEFAULTS = {
  /** Sentences decoded together. */
  batchSize: 64,
  /** Beam size; 1 is greedy decoding. */
  beam: 1,
  /** Beam size of `beamSearch` when called without one. */
  beamSearchSize: 5,
  /**
   * GNMT length-penalty exponent α for ranking beam results
   * (score = logProb / ((5 + |Y|) / 6)^α). 0.6 is the usual GNMT /
   * Tensor2Tensor value; 0 ranks by raw log-probability, which favours
   * short outputs.
   */
  lengthPenalty: 0.6,
  /** n-best list size; 1 = no list. */
  nBest: 1,
  /** Output limit in tokens for greedy/beam search called without a model's own limit. */
  maxLength: 100,
  /** Input limit in code points for translators built without one (the longest a bundle may declare). */
  maxInputLength: 100_000,
} as const;
