/**
 * `s2s/browser`: the part of s2s that runs without Node.js — in browsers,
 * web workers, Deno or Bun. Load a model folder over HTTP, translate (greedy,
 * beam search, n-best lists, attention), score with BLEU/chrF, draw plots.
 * Nothing in this module's import closure touches a Node built-in (a test
 * walks the closure to keep it so); file-system helpers, training and the
 * server are in the Node entry, `s2s`.
 *
 * ```ts
 * import { WebModel } from 's2s/browser';
 * const model = await WebModel.load('model/');
 * model.translator.translate(['I am happy.'], { beam: 5 })[0].text;
 * ```
 *
 * @packageDocumentation
 */

// Errors: everything s2s raises on purpose extends S2SError
export { S2SError, ConfigError } from './errors.js';

// Loading a model over HTTP (or from bytes you already have)
export { WebModel, type LoadOptions as WebLoadOptions, type ModelInfo, type WebTranslation } from './web/web-model.js';
export {
  bundleFromFiles,
  makeTranslator,
  validateBundleConfig,
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  BundleError,
  type BundleConfig,
  type BundleParts,
} from './bundle/format.js';

// Translating
export {
  Translator,
  InputTooLongError,
  DEFAULT_MAX_INPUT_LENGTH,
  type TranslateOptions,
  type Translation,
  type Alternative,
  type AttentionMap,
  type TranslatorParts,
} from './decode/translator.js';
export { DECODE_DEFAULTS } from './decode/options.js';
export { translateStream, translateLines, LineError, type StreamOptions, type StreamResult, type StreamLine, type LineErrorReason } from './decode/stream.js';

// The model
export { Seq2Seq } from './model/seq2seq.js';
export { Transformer, type TransformerState } from './model/transformer.js';
export { createModel, type TranslationModel, type StepResult } from './model/model.js';
export {
  MODEL_DEFAULTS, resolveModelConfig, describeArchitecture,
  type ModelConfig, type CellType, type AttentionType, type ArchType, type ActivationType, type PositionsType,
} from './model/config.js';

// Text → ids
export { type Tokenizer, type TokenizerSpec, type TokenizerLevel } from './data/tokenizer.js';
export { tokenizerFromJSON } from './data/tokenizer-factory.js';
export { CharTokenizer } from './data/char.js';
export { WordTokenizer } from './data/word.js';
export { BpeTokenizer, learnBpe, type BpeModel, type BpeSpec, type LearnBpeOptions } from './data/bpe.js';
export { Vocab, PAD_ID, BOS_ID, EOS_ID, UNK_ID, type VocabJSON, type VocabBuildOptions, type Encoded } from './data/vocab.js';
export { splitBySource, type DataSplit, type SplitOptions } from './data/split.js';

// Metrics
export {
  corpusBleu,
  sentenceBleu,
  corpusChrf,
  sentenceChrf,
  exactMatch,
  tokenize13a,
  type BleuOptions,
  type BleuResult,
  type ChrfOptions,
  type ChrfResult,
  type ExactMatchOptions,
  type CorpusReferences,
  type SmoothMethod,
  type BleuTokenizer,
  scoreCorpus,
  bleuSignature,
  chrfSignature,
  groupBySource,
  alignHypotheses,
  hypothesisLines,
  LineCountError,
  type CorpusScores,
  type BleuScore,
  type ChrfScore,
  type MetricOptions,
  type SourceGroup,
} from './eval/index.js';

// Plots (SVG documents as strings)
export { modelDiagrams, historySvg, attentionSvg, type HistoryPoint, type HistoryPlotOptions, type AttentionPlotOptions, type GraphName } from './plot/index.js';

// Compute kernels
export {
  kernels, setKernels, nativeLoadError, loadWasmKernels, wasmLoadError, wasmSimdSupported, sharedMemorySupported, WasmKernelsError,
  type Kernels, type WasmKernels, type LoadWasmOptions,
} from './engine/kernels/index.js';
export { WeightsError } from './engine/io.js';
export { ShapeError } from './engine/tensor.js';
