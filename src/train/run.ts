/**
 * A whole training run, as `s2s train` does it: options resolved from a
 * preset, a YAML file and explicit values; data prepared; the model trained
 * with checkpoints (kill-safe resume), the best model kept as a bundle,
 * validation BLEU, early stopping and a stop request honoured. The CLI only
 * parses flags, shows progress and prints; a program gets the same run with
 * `await train({ ... })`.
 */
import { existsSync, writeFileSync, readFileSync, mkdirSync, unlinkSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { kernels } from '../engine/index.js';
import { createModel, type TranslationModel } from '../model/model.js';
import { describeArchitecture, MODEL_DEFAULTS, type ModelConfig } from '../model/config.js';
import { tokenizerFromJSON } from '../data/tokenizer-factory.js';
import { evenlySpaced } from '../data/split.js';
import type { SentencePair } from '../data/corpus.js';
import { saveBundle, loadBundle, makeTranslator, S2S_VERSION, type BundleConfig, type BundleParts, type LoadedBundle } from '../bundle/bundle.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { saveCheckpoint, loadLatestCheckpoint, checkpointsDir, DEFAULT_KEEP_CHECKPOINTS } from './checkpoint.js';
import { corpusBleu } from '../eval/index.js';
import { Trainer, type TrainerState, type EpochRecord, type BatchProgress } from './trainer.js';
import type { DataOptions, TrainOptions } from './options.js';
import { prepareData, type PreparedData } from './prepare.js';
import { BUILTIN_CORPUS } from '../data/read-split.js';
import { readConfigFile, resolveTraining } from './config.js';
import { ConfigError } from '../model/config.js';
import { S2SError } from '../errors.js';

/**
 * Options of a training run: every `s2s train` flag in camelCase, with the
 * same defaults (those of the preset: `seed` when `data` is given, `demo`
 * otherwise; `s2s train --help` lists them). Values given here override
 * the `config` file, which overrides the preset.
 */
export interface TrainRunOptions {
  /** A YAML file of options (keys are the flag names), as `--config`. */
  config?: string;
  /** Continue the run whose model is in this directory from its last checkpoint. Only `epochs` may change. */
  resume?: string;
  /** source⟨TAB⟩target file; without it, the built-in generated corpus. */
  data?: string;
  /** Starting point for every default: `seed` (the Keras example) or `demo`. */
  preset?: string;
  /** Model bundle directory to write (default `models/demo`). */
  out?: string;
  /** Checkpoint directory (default OUT/checkpoints). */
  checkpointDir?: string;
  /** Held-out sentences translated at the end and returned in `examples` (default 5). */
  examples?: number;
  // data
  samples?: number | 'all';
  split?: DataOptions['split'];
  level?: DataOptions['level'];
  bpeMerges?: number;
  normalizeSpaces?: boolean;
  skipBadLines?: boolean;
  maxSourceLength?: number;
  maxTargetLength?: number;
  /** Validation (dev) file of pairs (`--valid-data`): all of `data` is then training data, no split is made. */
  validData?: string;
  /** Test file of pairs (`--test-data`), with `validData`. */
  testData?: string;
  /** One vocabulary for both sides (`--shared-vocab`); the model gets tied embeddings unless told otherwise. */
  sharedVocab?: boolean;
  // model
  cell?: ModelConfig['cell'];
  latentDim?: number;
  layers?: number;
  bidirectional?: boolean;
  attention?: ModelConfig['attention'];
  embeddingDim?: number;
  dropout?: number;
  /** `rnn` (default) or `transformer`. */
  arch?: ModelConfig['arch'];
  /** Transformer width d_model (`--model-dim`). */
  modelDim?: number;
  heads?: number;
  ffDim?: number;
  /** Transformer blocks per side when they differ (0 = `layers`). */
  encoderLayers?: number;
  decoderLayers?: number;
  attentionDropout?: number;
  activation?: ModelConfig['activation'];
  /** Post-layer-norm blocks (the original Transformer) instead of pre-LN. */
  postNorm?: boolean;
  positions?: ModelConfig['positions'];
  /** One embedding table for source, target (and output); needs a shared vocabulary. */
  tieEmbeddings?: boolean;
  // training
  epochs?: number;
  batchSize?: number;
  optimizer?: TrainOptions['optimizer'];
  /** Learning rate (`--lr`). */
  lr?: number;
  clipNorm?: number;
  seed?: number;
  checkpointEvery?: number;
  monitor?: TrainOptions['monitor'];
  patience?: number;
  lrDecay?: number;
  lrPatience?: number;
  /** Learning-rate floor (`--min-lr`). */
  minLr?: number;
  maxMinutes?: number;
  nanPolicy?: TrainOptions['nanPolicy'];
  bleuSamples?: number;
  /** Label smoothing ε of the training loss (validation loss stays the plain NLL). */
  labelSmoothing?: number;
  lrSchedule?: TrainOptions['lrSchedule'];
  warmupSteps?: number;
  /** Padded tokens per batch instead of `batchSize` sentences (0: off). */
  batchTokens?: number;
  /** Batches per optimizer update (gradient accumulation). */
  accumulate?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  /** Checkpoints kept on disk (the last K, for averaging). */
  keepCheckpoints?: number;
  /** Model replicas training the parts of each batch at once, one thread each (`--data-parallel`). */
  dataParallel?: number;
  // not flags: hooks for programs
  /** After every batch. */
  onBatch?(progress: BatchProgress): void;
  /** After every epoch, with its record (losses, accuracy, BLEU, speed). */
  onEpoch?(record: EpochRecord, totalEpochs: number): void;
  /** Lines `s2s train` would print (corpus, vocabulary, model, resume and save messages). */
  onLog?(line: string): void;
  /** Aborting it stops the run cleanly after a checkpoint; `train --resume` continues it. */
  signal?: AbortSignal;
}

/** What a training run did. */
export interface TrainRunResult {
  /** The model bundle directory (the best model by the monitored metric). */
  out: string;
  checkpointDir: string;
  /** Completed epochs and optimizer steps, over all resumes of the run. */
  epochs: number;
  steps: number;
  /** True when early stopping or the time budget ended the run. */
  stoppedEarly: boolean;
  /** True when `signal` stopped the run; continue it with `resume`. */
  interrupted: boolean;
  best: { epoch: number; value: number; metric: TrainOptions['monitor'] } | null;
  history: EpochRecord[];
  /** Wall-clock seconds of this call. */
  seconds: number;
  /** Held-out pairs translated by the saved model at the end. */
  examples: Array<SentencePair & { translation: string }>;
  /** Corpus statistics and split sizes. */
  data: { corpus: string; kept: number; tooLong: number; badLines: number; train: number; validation: number; test: number };
}

/** Option names of TrainRunOptions that are not flags. */
const HOOKS = new Set(['onBatch', 'onEpoch', 'onLog', 'signal', 'config', 'resume']);

/**
 * Fails fast, before any data is read, when a directory cannot be created
 * or written: creates it (and missing parents, like mkdir -p), then writes
 * and removes a probe file in it.
 */
export function checkWritableDir(dir: string, what: string): void {
  const probe = join(dir, `.s2s-write-probe-${process.pid}`);
  try {
    // Parent by parent: mkdirSync's recursive mode can spin forever on some paths (e.g. under /proc).
    const missing: string[] = [];
    for (let d = resolve(dir); !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.push(d);
    for (const d of missing.reverse()) mkdirSync(d);
    writeFileSync(probe, 'probe');
    unlinkSync(probe);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOTDIR' || e.code === 'EEXIST' ? 'a component of the path is a file, not a directory'
      : e.code === 'ENOENT' ? 'a parent directory is missing and cannot be created'
        : e.code === 'EACCES' || e.code === 'EPERM' ? 'permission denied'
          : e.code === 'EROFS' ? 'the file system is read-only'
            : e.code === 'ENOSPC' ? 'the disk is full' : e.message;
    throw new ConfigError(`${what} ${dir}: cannot write there (${why}${e.code ? `, ${e.code}` : ''}); nothing was trained. Choose a writable directory.`);
  }
}

function latestName(root: string): string | null {
  try {
    return readFileSync(join(root, 'LATEST'), 'utf8').trim();
  } catch {
    return null;
  }
}

/** A checkpoint or bundle write failed (disk full, I/O error); the message says what is still safe on disk. */
export class SaveError extends S2SError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SaveError';
  }
}

/** A failed save stops training with a message saying what is still safe on disk. */
function saveFailed(err: unknown, what: string, outDir: string, root: string, resumeHint: string): Error {
  const e = err as NodeJS.ErrnoException;
  const latest = latestName(root);
  const kept = latest ? `the previous checkpoint (${latest}) is intact; after fixing the cause, continue with \`${resumeHint}\`` : 'no checkpoint had been written yet';
  return new SaveError(`could not write ${what} (${e.code === 'ENOSPC' ? 'disk full: ' : ''}${e.message}); training stopped, ${kept}`, { cause: err });
}

/** The command that continues a run (for messages). */
function resumeCommand(outDir: string, root: string): string {
  const custom = resolve(root) !== resolve(checkpointsDir(outDir));
  return `s2s train --resume ${outDir}${custom ? ` --checkpoint-dir ${root}` : ''}`;
}

/** The validation and test files exist (checked before anything is read), and a test file comes with a validation file. */
function checkHeldOutFiles(data: DataOptions): void {
  if (data.testData && !data.validData) {
    throw new ConfigError(`--test-data ${data.testData} needs --valid-data too (with a validation file, all of --data is training data; without one, validation and test are split from --data)`);
  }
  for (const [flag, file] of [['--valid-data', data.validData], ['--test-data', data.testData]] as const) {
    if (file !== undefined && !existsSync(file)) throw new ConfigError(`${flag} ${file}: no such file`);
  }
}

/**
 * A resumed run reads the data files its checkpoint names, exactly those (the
 * run must see the same data to continue it). A checkpoint may come from
 * someone else, so each must be a regular file (links to one are fine): a
 * device (/dev/zero), FIFO or directory is refused before anything is read.
 */
function checkRecordedDataFiles(data: DataOptions & { corpus: string }): void {
  for (const [what, file] of [['corpus', data.corpus], ['validation file', data.validData], ['test file', data.testData]] as const) {
    if (file === undefined || file === BUILTIN_CORPUS) continue;
    if (!existsSync(file)) throw new ConfigError(`${file}: no such file (the ${what} recorded in the checkpoint); a resumed run reads the files it was trained on`);
    if (!statSync(file).isFile()) throw new ConfigError(`${file}: not a regular file (the ${what} recorded in the checkpoint); a resumed run reads the files it was trained on`);
  }
}

/**
 * A shared vocabulary means tied embeddings unless the options say otherwise
 * (`tieEmbeddings` given), for models that have embedding tables to tie
 * (Transformers, or RNNs with embeddingDim > 0; one-hot RNN inputs have none).
 * Before model configs know the field, nothing is added.
 */
function withSharedVocab<T extends Partial<ModelConfig>>(config: T, data: DataOptions): T {
  const c = config as T & { tieEmbeddings?: boolean; arch?: string };
  if (!data.sharedVocab || c.tieEmbeddings !== undefined || !('tieEmbeddings' in MODEL_DEFAULTS)) return config;
  if (c.arch !== 'transformer' && !((c.embeddingDim ?? 0) > 0)) return config;
  return { ...c, tieEmbeddings: true };
}

/** Trains a model as `s2s train` does; see TrainRunOptions. */
export async function train(options: TrainRunOptions = {}): Promise<TrainRunResult> {
  const log = options.onLog ?? ((): void => {});
  const given: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!HOOKS.has(k) && v !== undefined) given[k] = v;
  const resolved = resolveTraining(options.config ? readConfigFile(options.config) : {}, given, 'train() options');
  let outDir = resolved.out;
  let bundleConfig: BundleConfig;
  let state: TrainerState | null = null;
  let model: TranslationModel;
  let data: PreparedData;
  const t0 = performance.now();
  if (options.resume) {
    outDir = options.resume;
    if (!existsSync(outDir)) throw new ConfigError(`--resume ${outDir}: no such directory`);
  }
  const root = resolved.checkpointDir ?? checkpointsDir(outDir);
  const resumeHint = resumeCommand(outDir, root);
  if (options.resume) {
    checkWritableDir(outDir, '--resume');
    if (existsSync(root)) checkWritableDir(root, '--resume');
    const ckpt = loadLatestCheckpoint(outDir, root);
    if (!ckpt) {
      throw new ConfigError(`${root}: no checkpoint to resume from${resolved.checkpointDir ? '' : ' (if the run was trained with --checkpoint-dir, give it again)'}`);
    }
    bundleConfig = ckpt.bundle.config;
    // Only the epoch count may change on resume (to train longer); everything else is the run's own.
    if (options.epochs !== undefined) bundleConfig.train.epochs = resolved.preset.train.epochs;
    model = ckpt.bundle.model;
    state = ckpt.state;
    // The run's own tokenizers and vocabularies, so ids match the checkpoint's weights.
    const tokenizers = { source: tokenizerFromJSON(bundleConfig.tokenizers.source), target: tokenizerFromJSON(bundleConfig.tokenizers.target) };
    checkHeldOutFiles(bundleConfig.data);
    checkRecordedDataFiles(bundleConfig.data);
    log(`resume reads the corpus recorded in the checkpoint: ${bundleConfig.data.corpus}` +
      `${bundleConfig.data.validData ? `, validation ${bundleConfig.data.validData}` : ''}${bundleConfig.data.testData ? `, test ${bundleConfig.data.testData}` : ''}`);
    data = prepareData(bundleConfig.data.corpus, bundleConfig.data, ckpt.bundle.vocabs, tokenizers);
    log(`resuming ${ckpt.path}: epoch ${state.epoch + 1}, batch ${state.batchInEpoch}, step ${state.step}`);
  } else {
    if (existsSync(join(root, 'LATEST'))) {
      throw new ConfigError(`${outDir} already holds a training run; continue it with \`${resumeHint}\` or choose another --out`);
    }
    checkWritableDir(outDir, '--out');
    if (resolved.checkpointDir) checkWritableDir(root, '--checkpoint-dir');
    const preset = resolved.preset;
    const corpus = resolved.data ?? BUILTIN_CORPUS;
    if (resolved.data && !existsSync(resolved.data)) throw new ConfigError(`${resolved.data}: no such file`);
    checkHeldOutFiles(preset.data);
    data = prepareData(corpus, preset.data);
    const modelConfig = withSharedVocab({ ...preset.model, srcVocabSize: data.vocabs.source.size, tgtVocabSize: data.vocabs.target.size }, preset.data);
    model = createModel(modelConfig, preset.train.seed);
    bundleConfig = {
      format: 's2s-model', version: 1, model: model.config,
      tokenizers: { source: data.tokenizers.source.toJSON(), target: data.tokenizers.target.toJSON() },
      data: { ...preset.data, corpus },
      train: preset.train,
      createdBy: `s2s ${S2S_VERSION}`,
    };
  }
  const s = data.stats;
  const sizes = { train: data.examples.train.length, validation: data.examples.validation.length, test: data.examples.test.length };
  const files = bundleConfig.data.validData ? ` (all of it: no split) | validation ${bundleConfig.data.validData}${bundleConfig.data.testData ? `, test ${bundleConfig.data.testData}` : ''}` : '';
  log(`corpus ${data.corpus}: ${s.kept} pairs (${s.tooLong} too long, ${s.badLines} bad lines skipped) → train ${sizes.train}, validation ${sizes.validation}, test ${sizes.test}${files}`);
  log(`vocabulary: ${bundleConfig.data.sharedVocab ? `shared ${data.vocabs.source.size}` : `source ${data.vocabs.source.size}, target ${data.vocabs.target.size}`} | model: ${describeArchitecture(model.config)}, ${model.parameterCount().toLocaleString('en')} parameters | kernels: ${kernels().description}`);
  const parts = (history: BundleParts['history']): BundleParts => ({ config: bundleConfig, vocabs: data.vocabs, model, history });
  const trainer = new Trainer(model, { train: data.examples.train, validation: data.examples.validation }, bundleConfig.train, {
    onBatch: options.onBatch,
    onEpoch: options.onEpoch ? (r): void => options.onEpoch?.(r, bundleConfig.train.epochs) : undefined,
    onCheckpoint: (st) => {
      try {
        saveCheckpoint(outDir, parts(st.history), st, root, bundleConfig.train.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS);
      } catch (err) {
        throw saveFailed(err, `the checkpoint of step ${st.step} to ${root}`, outDir, root, resumeHint);
      }
    },
    // The bundle in --out is always the best model so far by the monitored validation metric.
    onBest: (st) => {
      try {
        saveBundle(outDir, parts(st.history));
      } catch (err) {
        throw saveFailed(err, `the model bundle to ${outDir}`, outDir, root, resumeHint);
      }
    },
    validationBleu: () => {
      // Evenly spaced over the split: corpora sorted by length (fra.txt is) would otherwise give only the shortest sentences.
      const sample = evenlySpaced(data.heldOut.validation, bundleConfig.train.bleuSamples);
      const hyps = makeTranslator(parts([])).translate(sample.map((p) => p.source)).map((t) => t.text);
      return corpusBleu(hyps, sample.map((p) => p.target)).score;
    },
    shouldStop: () => options.signal?.aborted === true,
  });
  if (state) trainer.restore(state);
  const final = await trainer.run();
  // The bundle keeps the best epoch's weights; its history still records every epoch.
  if (data.examples.validation.length === 0 || final.history.length === 0) saveBundle(outDir, parts(final.history));
  else writeFileAtomic(join(outDir, 'history.json'), JSON.stringify(final.history, null, 1));
  const interrupted = options.signal?.aborted === true;
  const result: TrainRunResult = {
    out: outDir, checkpointDir: root, epochs: final.epoch, steps: final.step, stoppedEarly: final.stoppedEarly, interrupted,
    best: final.best ? { ...final.best, metric: bundleConfig.train.monitor } : null,
    history: final.history, seconds: (performance.now() - t0) / 1000, examples: [],
    data: { corpus: data.corpus, kept: s.kept, tooLong: s.tooLong, badLines: s.badLines, ...sizes },
  };
  if (interrupted) {
    log(`stopped at step ${final.step}; continue with: ${resumeHint}`);
    return result;
  }
  const best = final.best ? ` (best epoch ${final.best.epoch}, validation ${bundleConfig.train.monitor} ${final.best.value.toFixed(4)})` : '';
  log(`trained ${final.epoch} epochs (${final.step} steps${final.stoppedEarly ? ', stopped early' : ''}) in ${result.seconds.toFixed(1)} s; model saved to ${outDir}${best}`);
  const sample = (data.heldOut.test.length ? data.heldOut.test : data.heldOut.validation).slice(0, resolved.examples);
  if (sample.length) {
    const saved: LoadedBundle = loadBundle(outDir);
    const hyps = saved.translator.translate(sample.map((p) => p.source));
    result.examples = sample.map((p, i) => ({ ...p, translation: hyps[i].text }));
  }
  return result;
}
