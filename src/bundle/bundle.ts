/**
 * The model bundle: a directory that holds everything needed to translate —
 * config.json (architecture, data options, format version), vocab.json,
 * the weights (weights.json index + the binary blob it names, with CRC-32s)
 * and history.json. Loading rebuilds the training and inference models.
 *
 * The blob's file name carries its checksum and is written before the index
 * that names it, so a bundle interrupted mid-save still loads (old or new
 * weights, never a mix).
 */
import { readFileSync, existsSync, readdirSync, unlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { serializeWeights, deserializeWeights, assignWeights, WeightsError } from '../engine/index.js';
import { Seq2Seq } from '../model/seq2seq.js';
import { resolveModelConfig, type ModelConfig } from '../model/config.js';
import { Vocab, type VocabJSON } from '../data/vocab.js';
import { tokenizerFromJSON, type TokenizerSpec } from '../data/tokenizer.js';
import { Translator } from '../decode/translator.js';
import type { EpochRecord } from '../train/trainer.js';
import type { TrainOptions, DataOptions } from '../train/options.js';
import { writeFileAtomic, ensureDir } from './atomic.js';

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

export interface LoadedBundle extends BundleParts {
  translator: Translator;
  dir: string;
}

export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

/** Writes (or updates) a bundle directory. */
export function saveBundle(dir: string, parts: BundleParts): void {
  ensureDir(dir);
  const { index, blob } = serializeWeights(parts.model.parameters());
  const blobName = `weights-${index.crc32.toString(16).padStart(8, '0')}.bin`;
  writeFileAtomic(join(dir, blobName), blob);
  writeFileAtomic(join(dir, 'weights.json'), JSON.stringify({ ...index, file: blobName }, null, 1));
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(parts.config, null, 2));
  writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify({ source: parts.vocabs.source.toJSON(), target: parts.vocabs.target.toJSON() }));
  writeFileAtomic(join(dir, 'history.json'), JSON.stringify(parts.history, null, 1));
  // Older blobs are no longer named by the index.
  for (const f of readdirSync(dir)) {
    if (/^weights-[0-9a-f]{8}\.bin$/.test(f) && f !== blobName) {
      try { unlinkSync(join(dir, f)); } catch { /* a concurrent save removed it */ }
    }
  }
}

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new BundleError(`${path}: missing (is this an s2s model directory?)`);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${path}: invalid JSON (${(err as Error).message})`);
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

/** Loads a bundle directory; any inconsistency is a BundleError naming the file. */
export function loadBundle(dir: string): LoadedBundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError(`${dir}: not a directory`);
  const config = readJson(join(dir, 'config.json'));
  const vocab = readJson(join(dir, 'vocab.json'));
  const weightsIndex = readJson(join(dir, 'weights.json')) as { file?: unknown };
  const file = weightsIndex?.file;
  if (typeof file !== 'string' || !/^weights-[0-9a-f]{8}\.bin$/.test(file)) {
    throw new BundleError(`${join(dir, 'weights.json')}: field "file" must name the weights blob (weights-XXXXXXXX.bin)`);
  }
  const blobPath = join(dir, file);
  if (!existsSync(blobPath)) throw new BundleError(`${blobPath}: missing (the weights index names it)`);
  const blob = new Uint8Array(readFileSync(blobPath));
  const historyPath = join(dir, 'history.json');
  let history: unknown = [];
  if (existsSync(historyPath)) {
    try { history = JSON.parse(readFileSync(historyPath, 'utf8')); } catch { history = []; }
  }
  const parts = bundleFromFiles({ config, vocab, weightsIndex, weightsBlob: blob, history }, dir);
  return { ...parts, translator: makeTranslator(parts), dir };
}
