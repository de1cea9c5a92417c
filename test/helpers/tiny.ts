/** Small, fast fixtures shared by model-level tests. */
import { generateCorpus } from '../../src/data/synthetic.js';
import { CharTokenizer } from '../../src/data/char.js';
import { Vocab } from '../../src/data/vocab.js';
import { encodePairs, type Example } from '../../src/data/batching.js';
import { Seq2Seq } from '../../src/model/seq2seq.js';
import type { ModelConfig } from '../../src/model/config.js';
import type { BundleParts } from '../../src/bundle/format.js';
import { PRESETS } from '../../src/train/options.js';
import type { DataOptions } from '../../src/data/options.js';

export interface TinySetup {
  pairs: { source: string; target: string }[];
  vocabs: { source: Vocab; target: Vocab };
  tokenizers: { source: CharTokenizer; target: CharTokenizer };
  examples: Example[];
  model: Seq2Seq;
}

export function tinySetup(n = 24, model: Partial<ModelConfig> = {}, seed = 3): TinySetup {
  const pairs = generateCorpus({ size: n, seed: 7, maxSourceLength: 24 });
  const tokenizers = { source: new CharTokenizer(), target: new CharTokenizer() };
  const vocabs = {
    source: Vocab.build(pairs.map((p) => tokenizers.source.tokenize(p.source))),
    target: Vocab.build(pairs.map((p) => tokenizers.target.tokenize(p.target))),
  };
  const { examples } = encodePairs(pairs, tokenizers, vocabs);
  const m = new Seq2Seq({ latentDim: 32, ...model, srcVocabSize: vocabs.source.size, tgtVocabSize: vocabs.target.size }, seed);
  return { pairs, vocabs, tokenizers, examples, model: m };
}

/** Bundle parts for a tiny setup (char tokenizers, the seed's options), with data options overridden as given. */
export function bundlePartsFor(setup: Pick<TinySetup, 'vocabs'> & { model: BundleParts['model'] }, data: Partial<DataOptions> = {}): BundleParts {
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
