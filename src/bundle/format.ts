/**
 * The model bundle's format, independent of any file system so the browser
 * can load bundles too: config.json (architecture, tokenizers, data and
 * training options, format version), vocab.json, the weights index and
 * blob, history.json. Node-side reading and writing is in bundle.ts.
 */
import { deserializeWeights, assignWeights, indexHasInt8, WeightsError, type BlockChecksums } from '../engine/index.js';
import { createModel, type TranslationModel } from '../model/model.js';
import { resolveModelConfig, describeArchitecture, encoderLayerCount, decoderLayerCount, type ModelConfig } from '../model/config.js';
import { Vocab, type VocabJSON } from '../data/vocab.js';
import type { TokenizerSpec } from '../data/tokenizer.js';
import { tokenizerFromJSON } from '../data/tokenizer-factory.js';
import { Translator } from '../decode/translator.js';
import type { TrainOptions, DataOptions, EpochRecord } from '../model/training.js';
import { S2SError } from '../errors.js';

/** The `format` field of every bundle's config.json. */
export const BUNDLE_FORMAT = 's2s-model';
/**
 * The newest bundle format version this s2s reads and writes: 2, a dtype per
 * weights tensor (int8 bundles from `s2s quantize`). Bundles whose weights
 * are all float32 are still written as version 1, which s2s before int8
 * bundles reads; those refuse a version-2 bundle at config.json
 * ("bundle format version 2 is not supported by this s2s (it reads version 1)").
 */
export const BUNDLE_VERSION = 2;
/** The version of a bundle whose weights are all float32. */
export const BUNDLE_VERSION_FLOAT32 = 1;
/** This s2s's version (package.json's; a test holds them equal), recorded in bundles as `createdBy`. */
export const S2S_VERSION = '0.1.0';

/** A bundle's config.json: architecture, tokenizers, and the data and training options as resolved. */
export interface BundleConfig {
  format: typeof BUNDLE_FORMAT;
  version: number;
  model: ModelConfig;
  tokenizers: { source: TokenizerSpec; target: TokenizerSpec };
  data: DataOptions & { corpus: string };
  train: TrainOptions;
  createdBy: string;
}

/** What a bundle holds, in memory: config, vocabularies, model with its weights, training history. */
export interface BundleParts {
  config: BundleConfig;
  vocabs: { source: Vocab; target: Vocab };
  model: TranslationModel;
  history: EpochRecord[];
  /** What loading found wrong but not fatal (invalid history records dropped); absent when nothing was. */
  warnings?: string[];
}

/** A model bundle (or checkpoint) that is missing, unreadable or inconsistent; the message names the file. */
export class BundleError extends S2SError {
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
  if (c.version !== BUNDLE_VERSION && c.version !== BUNDLE_VERSION_FLOAT32) {
    const newer = typeof c.version === 'number' && c.version > BUNDLE_VERSION;
    throw new BundleError(
      `${where}: bundle format version ${JSON.stringify(c.version)} is not supported by this s2s ${S2S_VERSION} (it reads versions ${BUNDLE_VERSION_FLOAT32} and ${BUNDLE_VERSION})` +
        (newer ? `; it was written by a newer s2s${typeof c.createdBy === 'string' ? ` (${describe(c.createdBy)})` : ''}: upgrade s2s to load it` : ''),
    );
  }
  if (typeof c.model !== 'object' || c.model === null) throw new BundleError(`${where}: field "model" must be an object`);
  try {
    c.model = resolveModelConfig(c.model as ModelConfig, `${where}: "model"`);
  } catch (err) {
    throw new BundleError((err as Error).message);
  }
  if (typeof c.tokenizers !== 'object' || c.tokenizers === null) throw new BundleError(`${where}: field "tokenizers" must be an object`);
  for (const side of ['source', 'target'] as const) {
    try {
      tokenizerFromJSON(c.tokenizers[side]);
    } catch (err) {
      throw new BundleError(`${where}: "tokenizers.${side}": ${(err as Error).message}`);
    }
  }
  // The translator takes its length limits from here: they bound decoding time, so they are checked too.
  if (typeof c.data !== 'object' || c.data === null || Array.isArray(c.data)) throw new BundleError(`${where}: field "data" must be an object`);
  for (const k of ['maxSourceLength', 'maxTargetLength'] as const) {
    const v = c.data[k];
    if (!Number.isInteger(v) || v < 1 || v > MAX_SENTENCE_LENGTH) {
      throw new BundleError(`${where}: "data.${k}" must be an integer in [1, ${MAX_SENTENCE_LENGTH}], got ${describe(v)}`);
    }
  }
  return c as BundleConfig;
}

/** Longest sentence limit a bundle may declare (characters or tokens). */
export const MAX_SENTENCE_LENGTH = 100_000;

/** Deepest JSON nesting accepted in bundle files (the real ones nest 4 levels). */
const MAX_JSON_DEPTH = 64;

/** A short rendering of an untrusted value for error messages (never deep recursion, never megabytes). */
function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null || typeof v !== 'object') return String(v);
  return 'an object';
}

/** Rejects JSON nested deeper than MAX_JSON_DEPTH (iteratively, so the check itself cannot overflow the stack). */
export function checkJsonDepth(value: unknown, where: string): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= MAX_JSON_DEPTH) throw new BundleError(`${where}: JSON nested more than ${MAX_JSON_DEPTH} levels deep`);
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
}

/**
 * A lower bound on the parameters a model config implies (the largest
 * kernels only), computed without allocating; checked against the weights
 * blob before the model is built, so a config with absurd sizes cannot make
 * the loader allocate far more memory than the files hold.
 */
export function minimumParameterCount(m: ModelConfig): number {
  if (m.arch === 'transformer') {
    const D = m.modelDim, F = m.ffDim;
    const embeddings = m.tieEmbeddings ? m.srcVocabSize * D : (m.srcVocabSize + 2 * m.tgtVocabSize) * D;
    const positions = m.positions === 'learned' ? 2 * m.maxPositions * D : 0;
    return embeddings + positions + encoderLayerCount(m) * (4 * D * D + 2 * D * F) + decoderLayerCount(m) * (8 * D * D + 2 * D * F);
  }
  const H = m.latentDim, D = m.embeddingDim, L = m.layers, G = 3 * H;
  const dirs = m.bidirectional ? 2 : 1;
  const encoder = dirs * ((D > 0 ? D : m.srcVocabSize) * G + (L - 1) * dirs * H * G + L * H * G);
  const decoder = (D > 0 ? D : m.tgtVocabSize) * G + (L - 1) * H * G + L * H * G;
  const embeddings = D > 0 ? (m.tieEmbeddings ? m.srcVocabSize : m.srcVocabSize + m.tgtVocabSize) * D : 0;
  const output = m.tieEmbeddings && D === H ? 0 : H * m.tgtVocabSize;
  return encoder + decoder + embeddings + output;
}

/** Rebuilds a bundle from its already-read files (shared by Node and the browser). */
export function bundleFromFiles(
  files: { config: unknown; vocab: unknown; weightsIndex: unknown; weightsBlob: Uint8Array; weightsChecksums?: BlockChecksums; history?: unknown },
  where: string,
): BundleParts {
  checkJsonDepth(files.config, `${where}/config.json`);
  checkJsonDepth(files.vocab, `${where}/vocab.json`);
  checkJsonDepth(files.weightsIndex, `${where}/weights.json`);
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
  const int8 = indexHasInt8(files.weightsIndex);
  if (int8 && config.version < BUNDLE_VERSION) {
    throw new BundleError(`${where}/config.json: bundle format version ${config.version} cannot hold int8 weights, but weights.json has some (int8 bundles are version ${BUNDLE_VERSION})`);
  }
  let weights;
  try {
    // Views of the blob: assignWeights below copies them into the model's (long-lived) parameters.
    weights = deserializeWeights(files.weightsIndex, files.weightsBlob, `${where}/weights`, { views: true, checksums: files.weightsChecksums });
  } catch (err) {
    if (err instanceof WeightsError) throw new BundleError(err.message);
    throw err;
  }
  const needed = minimumParameterCount(config.model);
  const held = int8 ? files.weightsBlob.length : files.weightsBlob.length / 4; // at most one value per byte (int8) or per 4 bytes
  if (needed > 2 * held + 1024) {
    throw new BundleError(
      `${where}: config.json's model (${describeArchitecture(config.model)}${config.model.arch === 'rnn' ? `, embedding ${config.model.embeddingDim}` : ''}) ` +
        `needs at least ${needed} parameters but the weights blob holds ${int8 ? 'at most ' : ''}${held}`,
    );
  }
  const model = createModel(config.model, null); // no random draws: assignWeights fills every parameter
  try {
    assignWeights(model.parameters(), weights, `${where}/weights`);
  } catch (err) {
    if (err instanceof WeightsError) throw new BundleError(err.message);
    throw err;
  }
  const { history, warnings } = validateHistory(files.history ?? [], `${where}/history.json`);
  return { config, vocabs, model, history, ...(warnings.length ? { warnings } : {}) };
}

/** 'int8' when any of the model's weights is int8 (a quantized bundle), else 'float32'. */
export function weightsDtype(model: TranslationModel): 'float32' | 'int8' {
  return model.parameters().some((p) => p.int8) ? 'int8' : 'float32';
}

/** Most epochs a history may record (a real run has tens to a few thousand). */
export const MAX_HISTORY_RECORDS = 100_000;

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * history.json is only informative (curves, the page's model info), so an
 * invalid one does not stop a model from loading: the result holds only
 * valid records, each rebuilt from the known fields (so no nesting, extra
 * fields or strings an attacker put there survive into `/model`, exports or the page),
 * and `warnings` says what was dropped. A record needs non-negative integer
 * `epoch` and `step` and a finite `trainLoss`; `valLoss`, `valAccuracy`,
 * `valBleu` are finite or null (missing: null); `seconds`,
 * `tokensPerSecond`, `learningRate` are finite (missing or invalid: 0).
 */
export function validateHistory(raw: unknown, where: string): { history: EpochRecord[]; warnings: string[] } {
  if (!Array.isArray(raw)) return { history: [], warnings: [`${where}: expected an array of epoch records, got ${describe(raw)}; the history is left empty`] };
  const history: EpochRecord[] = [];
  let dropped = 0, firstBad = -1;
  for (let i = 0; i < raw.length && i < MAX_HISTORY_RECORDS; i++) {
    const r = raw[i] as Record<string, unknown> | null;
    const ok = typeof r === 'object' && r !== null && !Array.isArray(r) && Number.isSafeInteger(r.epoch) && (r.epoch as number) >= 0 &&
      Number.isSafeInteger(r.step) && (r.step as number) >= 0 && finite(r.trainLoss);
    if (!ok) {
      dropped++;
      if (firstBad < 0) firstBad = i;
      continue;
    }
    const orNull = (v: unknown): number | null => (finite(v) ? v : null);
    const orZero = (v: unknown): number => (finite(v) ? v : 0);
    history.push({
      epoch: r.epoch as number, step: r.step as number, trainLoss: r.trainLoss as number,
      valLoss: orNull(r.valLoss), valAccuracy: orNull(r.valAccuracy), valBleu: orNull(r.valBleu),
      seconds: orZero(r.seconds), tokensPerSecond: orZero(r.tokensPerSecond), learningRate: orZero(r.learningRate),
    });
  }
  const warnings: string[] = [];
  if (dropped) warnings.push(`${where}: ${dropped} record${dropped === 1 ? '' : 's'} without numeric epoch, step and trainLoss dropped (first at index ${firstBad})`);
  if (raw.length > MAX_HISTORY_RECORDS) warnings.push(`${where}: ${raw.length} records; only the first ${MAX_HISTORY_RECORDS} are kept`);
  return { history, warnings };
}

/** A Translator for a bundle's model, tokenizers and vocabularies, with the bundle's length limits. */
export function makeTranslator(parts: BundleParts): Translator {
  const { source, target } = parts.config.tokenizers;
  const sourceTokenizer = tokenizerFromJSON(source);
  // A shared vocabulary's two specs are equal: one tokenizer serves both sides (half the merges to load).
  const targetTokenizer = JSON.stringify(source) === JSON.stringify(target) ? sourceTokenizer : tokenizerFromJSON(target);
  return new Translator({
    model: parts.model,
    sourceVocab: parts.vocabs.source,
    targetVocab: parts.vocabs.target,
    sourceTokenizer,
    targetTokenizer,
    maxOutputLength: parts.config.data.maxTargetLength,
    maxInputLength: parts.config.data.maxSourceLength,
  });
}

