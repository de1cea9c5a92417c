/**
 * The model bundle's format, independent of any file system so the browser
 * can load bundles too: config.json (architecture, tokenizers, data and
 * training options, format version), vocab.json, the weights index and
 * blob, history.json. Node-side reading and writing is in bundle.ts.
 */
import { deserializeWeights, assignWeights, WeightsError } from '../engine/index.js';
import { Seq2Seq } from '../model/seq2seq.js';
import { resolveModelConfig, type ModelConfig } from '../model/config.js';
import { Vocab, type VocabJSON } from '../data/vocab.js';
import { tokenizerFromJSON, type TokenizerSpec } from '../data/tokenizer.js';
import { Translator } from '../decode/translator.js';
import type { EpochRecord } from '../train/trainer.js';
import type { TrainOptions, DataOptions } from '../train/options.js';

export const BUNDLE_FORMAT = 's2s-model';
export const BUNDLE_VERSION = 1;

export interface BundleConfig {
  format: typeof BUNDLE_FORMAT;
  version: number;
  model: ModelConfig;
  tokenizers: { source: TokenizerSpec; target: TokenizerSpec };
  data: DataOptions & { corpus: string };
  train: TrainOptions;
  createdBy: string;
}

export interface BundleParts {
  config: BundleConfig;
  vocabs: { source: Vocab; target: Vocab };
  model: Seq2Seq;
  history: EpochRecord[];
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** Checks config.json's fields and version. */
export function validateBundleConfig(raw: unknown, where: string): BundleConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BundleError(`${where}: expected a JSON object`);
  const c = raw as Partial<BundleConfig>;
  if (c.format !== BUNDLE_FORMAT) throw new BundleError(`${where}: field "format" must be "${BUNDLE_FORMAT}", got ${JSON.stringify(c.format)}`);
  if (c.version !== BUNDLE_VERSION) {
    throw new BundleError(`${where}: bundle format version ${JSON.stringify(c.version)} is not supported by this s2s (it reads version ${BUNDLE_VERSION})`);
  }
  if (typeof c.model !== 'object' || c.model === null) throw new BundleError(`${where}: field "model" must be an object`);
  try {
    c.model = resolveModelConfig(c.model as ModelConfig, `${where}: "model"`);
  } catch (err) {
    throw new BundleError((err as Error).message);
  }
  if (typeof c.tokenizers !== 'object' || c.tokenizers === null) throw new BundleError(`${where}: field "tokenizers" must be an object`);
  return c as BundleConfig;
}

/** Rebuilds a bundle from its already-read files (shared by Node and the browser). */
export function bundleFromFiles(files: { config: unknown; vocab: unknown; weightsIndex: unknown; weightsBlob: Uint8Array; history?: unknown }, where: string): BundleParts {
  const config = validateBundleConfig(files.config, `${where}/config.json`);
  const v = files.vocab as { source?: unknown; target?: unknown } | null;
  if (typeof v !== 'object' || v === null) throw new BundleError(`${where}/vocab.json: expected an object with "source" and "target"`);
  let vocabs: { source: Vocab; target: Vocab };
  try {
    vocabs = { source: Vocab.fromJSON(v.source as VocabJSON), target: Vocab.fromJSON(v.target as VocabJSON) };
  } catch (err) {
    throw new BundleError(`${where}/vocab.json: ${(err as Error).message}`);
  }
  if (vocabs.source.size !== config.model.srcVocabSize || vocabs.target.size !== config.model.tgtVocabSize) {
    throw new BundleError(
      `${where}: vocabulary sizes (source ${vocabs.source.size}, target ${vocabs.target.size}) do not match config.json's model ` +
        `(srcVocabSize ${config.model.srcVocabSize}, tgtVocabSize ${config.model.tgtVocabSize})`,
    );
  }
  const model = new Seq2Seq(config.model);
  try {
    assignWeights(model.parameters(), deserializeWeights(files.weightsIndex, files.weightsBlob, `${where}/weights`), `${where}/weights`);
  } catch (err) {
    if (err instanceof WeightsError) throw new BundleError(err.message);
    throw err;
  }
  const history = Array.isArray(files.history) ? (files.history as EpochRecord[]) : [];
  return { config, vocabs, model, history };
}

export function makeTranslator(parts: BundleParts): Translator {
  return new Translator({
    model: parts.model,
    sourceVocab: parts.vocabs.source,
    targetVocab: parts.vocabs.target,
    sourceTokenizer: tokenizerFromJSON(parts.config.tokenizers.source),
    targetTokenizer: tokenizerFromJSON(parts.config.tokenizers.target),
    maxOutputLength: parts.config.data.maxTargetLength,
  });
}

