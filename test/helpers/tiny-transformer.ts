/** Small Transformer fixtures: the built-in corpus with char tokenizers, optionally one vocabulary for both sides. */
import { generateCorpus } from '../../src/data/synthetic.js';
import { CharTokenizer } from '../../src/data/char.js';
import { Vocab } from '../../src/data/vocab.js';
import { encodePairs, type Example } from '../../src/data/batching.js';
import { Transformer } from '../../src/model/transformer.js';
import type { ModelConfig } from '../../src/model/config.js';
import type { BundleParts } from '../../src/bundle/format.js';
import { PRESETS } from '../../src/train/options.js';

export interface TinyTransformerSetup {
  pairs: { source: string; target: string }[];
  vocabs: { source: Vocab; target: Vocab };
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
  return { pairs, vocabs, examples, model: m };
}

/** Bundle parts for a tiny Transformer setup (char tokenizers, the seed's data and training options). */
export function transformerBundleParts(setup: TinyTransformerSetup): BundleParts {
  return {
    config: {
      format: 's2s-model', version: 1, model: setup.model.config,
      tokenizers: { source: { level: 'char' }, target: { level: 'char' } },
      data: { ...PRESETS.seed.data, corpus: '<built-in>' },
      train: { ...PRESETS.seed.train, epochs: 1, batchSize: 8 },
      createdBy: 'test',
    },
    vocabs: setup.vocabs,
    model: setup.model,
    history: [],
  };
}
