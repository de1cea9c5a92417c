/**
 * From a pair file (or the built-in corpus) to encoded training examples:
 * read and split (data/read-split.ts), tokenize, build vocabularies from the
 * training split only, encode. Pure data plumbing shared by `s2s train`,
 * resume and benchmarks.
 */
import type { CorpusStats, SentencePair } from '../data/corpus.js';
import type { DataSplit } from '../data/split.js';
import { readSplit } from '../data/read-split.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { CharTokenizer } from '../data/char.js';
import { WordTokenizer } from '../data/word.js';
import { BpeTokenizer, learnBpe } from '../data/bpe.js';
import { Vocab } from '../data/vocab.js';
import { encodePairs, PackedExamples } from '../data/batching.js';
import type { DataOptions } from '../data/options.js';
import { S2SError, ConfigError } from '../errors.js';

// Reading and splitting moved to the data layer (eval/ needs it too); re-exported for existing imports.
export { BUILTIN_CORPUS, builtinCorpusText, readSplit } from '../data/read-split.js';

export interface PreparedData {
  /** File path, or BUILTIN_CORPUS. */
  corpus: string;
  stats: CorpusStats;
  /**
   * The held-out pairs as text (references for BLEU and examples). The
   * training pairs' text is not kept: only their ids are needed, and every
   * object the process keeps makes the garbage collector's full passes
   * during training slower.
   */
  heldOut: Pick<DataSplit<SentencePair>, 'validation' | 'test'>;
  tokenizers: { source: Tokenizer; target: Tokenizer };
  vocabs: { source: Vocab; target: Vocab };
  examples: { train: PackedExamples; validation: PackedExamples; test: PackedExamples };
}

/**
 * Builds the source and target tokenizers for `options.level` from the
 * training pairs only. BPE merges are learned separately for each side
 * (`options.bpeMerges` each): the two languages have their own vocabularies
 * and embeddings, so a joint model would only add the other language's
 * subwords to each vocabulary. With `sharedVocab` one tokenizer serves both
 * sides: BPE merges (`bpeMerges` in all) learned on sources and targets
 * together, as for a joint vocabulary with tied embeddings. Deterministic for
 * the same pairs and options. Options saved before `level` existed mean 'char'.
 */
export function buildTokenizers(train: readonly SentencePair[], options: Pick<DataOptions, 'level' | 'bpeMerges' | 'sharedVocab'>): { source: Tokenizer; target: Tokenizer } {
  const level = options.level ?? 'char';
  if (options.sharedVocab && level === 'bpe') {
    const merges = options.bpeMerges ?? 8000;
    if (!(Number.isInteger(merges) && merges >= 0)) throw new ConfigError(`data.bpeMerges must be an integer ≥ 0, got ${JSON.stringify(merges)}`);
    const joint = new BpeTokenizer(learnBpe(bothSides(train), { merges }));
    return { source: joint, target: joint };
  }
  switch (level) {
    case 'char':
      return { source: new CharTokenizer(), target: new CharTokenizer() };
    case 'word':
      return { source: new WordTokenizer(), target: new WordTokenizer() };
    case 'bpe': {
      const merges = options.bpeMerges ?? 8000;
      if (!(Number.isInteger(merges) && merges >= 0)) throw new ConfigError(`data.bpeMerges must be an integer ≥ 0, got ${JSON.stringify(merges)}`);
      return {
        source: new BpeTokenizer(learnBpe(train.map((p) => p.source), { merges })),
        target: new BpeTokenizer(learnBpe(train.map((p) => p.target), { merges })),
      };
    }
    default:
      throw new ConfigError(`data.level must be char, word or bpe, got ${JSON.stringify(level)}`);
  }
}

function* bothSides(pairs: readonly SentencePair[]): Generator<string> {
  for (const p of pairs) yield p.source;
  for (const p of pairs) yield p.target;
}

/** The source and target vocabularies of the training split: one, shared by both sides, with `sharedVocab`. */
export function buildVocabs(train: readonly SentencePair[], tokenizers: { source: Tokenizer; target: Tokenizer }, sharedVocab = false): { source: Vocab; target: Vocab } {
  if (sharedVocab) {
    const joint = Vocab.build((function* () {
      for (const p of train) yield tokenizers.source.tokenize(p.source);
      for (const p of train) yield tokenizers.target.tokenize(p.target);
    })());
    return { source: joint, target: joint };
  }
  return {
    source: Vocab.build(train.map((p) => tokenizers.source.tokenize(p.source))),
    target: Vocab.build(train.map((p) => tokenizers.target.tokenize(p.target))),
  };
}

/**
 * Prepares a corpus for training. With `vocabs` given (resuming), they are
 * reused instead of rebuilt, so ids match the checkpoint; pass the bundle's
 * stored `tokenizers` too (tokenizerFromJSON of its specs) so tokens match
 * as well. Without them the tokenizers are rebuilt from the training split,
 * which gives the same ones for the same corpus and options.
 */
export function prepareData(
  corpus: string,
  options: DataOptions,
  vocabs?: { source: Vocab; target: Vocab },
  tokenizers?: { source: Tokenizer; target: Tokenizer },
): PreparedData {
  const { stats, split } = readSplit(corpus, options);
  if (split.train.length === 0) throw new S2SError(`${corpus}: no training pairs after reading and splitting (${stats.kept} pairs kept)`);
  const level = options.level ?? 'char';
  if (tokenizers) {
    for (const side of ['source', 'target'] as const) {
      if (tokenizers[side].level !== level) {
        throw new ConfigError(`${side} tokenizer is ${tokenizers[side].level}-level but data.level is ${JSON.stringify(level)}`);
      }
    }
  }
  const t = tokenizers ?? buildTokenizers(split.train, options);
  const v = vocabs ?? buildVocabs(split.train, t, options.sharedVocab);
  const encode = (pairs: SentencePair[]): PackedExamples => new PackedExamples(encodePairs(pairs, t, v).examples);
  const examples = { train: encode(split.train), validation: encode(split.validation), test: encode(split.test) };
  // The BPE segmentation cache now holds every training word; drop it for the same reason.
  for (const side of new Set([t.source, t.target])) if (side instanceof BpeTokenizer) side.clearCache();
  return { corpus, stats, heldOut: { validation: split.validation, test: split.test }, tokenizers: t, vocabs: v, examples };
}
