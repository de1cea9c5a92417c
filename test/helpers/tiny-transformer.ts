/** A tiny Transformer bundle (char tokenizers, untrained or trained briefly) for the application tests. */
import { generateCorpus } from '../../src/data/synthetic.js';
import { CharTokenizer } from '../../src/data/char.js';
import { Vocab } from '../../src/data/vocab.js';
import { encodePairs, type Example } from '../../src/data/batching.js';
import { createModel, type TranslationModel } from '../../src/model/model.js';
import type { ModelConfig } from '../../src/model/config.js';
import type { BundleParts } from '../../src/bundle/format.js';
import { PRESETS } from '../../src/train/options.js';
import type { DataOptions } from '../../src/data/options.js';

/** A small Transformer: 1 + 1 blocks of width 16, 2 heads, ff 32 (overridable). */
export const TINY_TRANSFORMER: Partial<ModelConfig> = { arch: 'transformer', modelDim: 16, heads: 2, ffDim: 32, layers: 1 };

export interface TinyTransformerSetup {
  pairs: { source: string; target: string }[];
  vocabs: { source: Vocab; target: Vocab };
  tokenizers: { source: CharTokenizer; target: CharTokenizer };
  examples: Example[];
  model: TranslationModel;
}

export function tinyTransformerSetup(n = 16, model: Partial<ModelConfig> = {}, seed = 3): TinyTransformerSetup {
  const pairs = generateCorpus({ size: n, seed: 7, maxSourceLength: 24 });
  const tok = new CharTokenizer();
  const vocabs = {
    source: Vocab.build(pairs.map((p) => tok.tokenize(p.source))),
    target: Vocab.build(pairs.map((p) => tok.tokenize(p.target))),
  };
  const tokenizers = { source: tok, target: new CharTokenizer() };
  const { examples } = encodePairs(pairs, tokenizers, vocabs);
  const m = createModel({ ...TINY_TRANSFORMER, ...model, srcVocabSize: vocabs.source.size, tgtVocabSize: vocabs.target.size }, seed);
  return { pairs, vocabs, tokenizers, examples, model: m };
}

/** Bundle parts for a tiny Transformer (char tokenizers, the seed's options), with data options overridden as given. */
export function transformerBundleParts(setup: TinyTransformerSetup, data: Partial<DataOptions> = {}): BundleParts {
  return {
    config: {
      format: 's2s-model', version: 1, model: setup.model.config,
      tokenizers: { source: { level: 'char' }, target: { level: 'char' } },
      data: { ...PRESETS.seed.data, ...data, corpus: '<built-in>' },
      train: { ...PRESETS.seed.train, epochs: 1, batchSize: 8 },
      createdBy: 'test',
    },
    vocabs: setup.vocabs,
    model: setup.model,
    history: [],
  };
}
