/** Small Transformer fixtures: the built-in corpus with char tokenizers, optionally one vocabulary for both sides. */
import { generateCorpus } from '../../src/data/synthetic.js';
import { CharTokenizer } from '../../src/data/char.js';
import { Vocab } from '../../src/data/vocab.js';
import { encodePairs, type Example } from '../../src/data/batching.js';
import { Transformer } from '../../src/model/transformer.js';
import type { ModelConfig } from '../../src/model/config.js';
import { bundlePartsFor } from './tiny.js';

export interface TinyTransformerSetup {
  pairs: { source: string; target: string }[];
  vocabs: { source: Vocab; target: Vocab };
  tokenizers: { source: CharTokenizer; target: CharTokenizer };
  examples: Example[];
  model: Transformer;
}

/** Tiny widths by default (d 8, 2 heads, 1+1 blocks, ff 16); a shared vocabulary when `tieEmbeddings`. */
export function tinyTransformer(n: number, model: Partial<ModelConfig> = {}, seed = 3): TinyTransformerSetup {
  const pairs = generateCorpus({ size: n, seed: 7, maxSourceLength: 24 });
  const tok = new CharTokenizer();
  const src = pairs.map((p) => tok.tokenize(p.source)), tgt = pairs.map((p) => tok.tokenize(p.target));
  const shared = model.tieEmbeddings ? Vocab.build([...src, ...tgt]) : null;
  const vocabs = shared ? { source: shared, target: shared } : { source: Vocab.build(src), target: Vocab.build(tgt) };
  const { examples } = encodePairs(pairs, { source: tok, target: tok }, vocabs);
  const m = new Transformer({
    arch: 'transformer', modelDim: 8, heads: 2, ffDim: 16, layers: 1, maxPositions: 64,
    ...model, srcVocabSize: vocabs.source.size, tgtVocabSize: vocabs.target.size,
  }, seed);
  return { pairs, vocabs, tokenizers: { source: tok, target: tok }, examples, model: m };
}

/** The application tests' Transformer: 1 + 1 blocks of width 16, 2 heads, ff 32, the default 1024 positions (overridable). */
export const TINY_TRANSFORMER: Partial<ModelConfig> = { arch: 'transformer', modelDim: 16, heads: 2, ffDim: 32, layers: 1, maxPositions: 1024 };

/** A TINY_TRANSFORMER on `n` pairs of the built-in corpus. */
export function tinyTransformerSetup(n = 16, model: Partial<ModelConfig> = {}, seed = 3): TinyTransformerSetup {
  return tinyTransformer(n, { ...TINY_TRANSFORMER, ...model }, seed);
}

/** Bundle parts for a tiny Transformer setup: the same as the RNN tests' (char tokenizers, the seed's options). */
export const transformerBundleParts = bundlePartsFor;
