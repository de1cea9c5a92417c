/**
 * `s2s`: sequence-to-sequence translation for Node.js. Everything the CLI
 * does, as functions: train a model, load it, translate, evaluate, serve it,
 * export it for the browser. The browser-safe part (`s2s/browser`) is
 * re-exported here too, so one import covers both.
 *
 * ```ts
 * import { loadBundle } from 's2s';
 * const { translator } = loadBundle('models/demo');
 * translator.translate(['I am happy.'], { beam: 5 })[0].text;
 * ```
 *
 * Only what this module exports is public API; paths under `s2s/dist/…`
 * are internal and may change in any release.
 *
 * @packageDocumentation
 */

export * from './browser.js';

// Model bundles on disk
export { loadBundle, saveBundle, exportBundle, type LoadedBundle } from './bundle/bundle.js';

// Training and evaluating, as `s2s train` and `s2s eval` do
export { train, SaveError, type TrainRunOptions, type TrainRunResult } from './train/run.js';
export { PRESETS, getPreset, TRAIN_DEFAULTS, type TrainOptions, type DataOptions, type Preset } from './train/options.js';
export { NonFiniteLossError, type EpochRecord, type BatchProgress } from './train/trainer.js';
export { averageCheckpoints, lastCheckpoints, type AverageResult } from './train/average.js';
export { evaluate, type EvaluateOptions, type EvaluateResult, type EvalSplit } from './eval/evaluate.js';

// Sentence-pair files and the built-in corpus
export { readSplit, BUILTIN_CORPUS } from './data/read-split.js';
export { readPairs, readPairsSync, parsePairs, CorpusError, type Corpus, type CorpusStats, type ReadPairsOptions, type SentencePair } from './data/corpus.js';
export { generateCorpus, formatCorpusTsv, writeCorpusTsv, type GeneratedPair, type GenerateCorpusOptions } from './data/synthetic.js';

// Serving
export { createServer, type ServeOptions, type ServeLimits, type S2SServer } from './serve/server.js';
export { runServer } from './serve/run.js';
export { SERVE_DEFAULTS } from './serve/options.js';
export { HttpError } from './serve/http.js';
export { QueueFullError, BatcherClosedError } from './serve/batcher.js';

// The browser page
export { exportWeb, type ExportOptions, type ExportResult } from './web/export.js';
export { exportOnnx, OnnxExportError, ONNX_EXPORT_FILES, type OnnxExportOptions, type OnnxExportResult } from './onnx/export.js';
export type { OnnxContract, TensorDoc } from './onnx/contract.js';
