/**
 * Every training option, described once: its flag, where it lands in the
 * resolved config (data / model / train), how a value is checked, and its
 * help text. The same table drives the command line, `--config FILE.yaml`
 * (keys are the flag names, kebab-case or camelCase) and the library's
 * `train()` options (camelCase flag names), so every option is available
 * everywhere, with the same defaults; the command line overrides the file.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { ModelConfig } from '../model/config.js';
import { ConfigError } from '../model/config.js';
import { getPreset, validateTrainOptions, PRESETS, type Preset } from './options.js';
import { LR_SCHEDULES } from './lr-schedule.js';

type Section = 'data' | 'model' | 'train' | 'run';
export type OptionKind = 'int' | 'float' | 'bool' | 'string' | 'samples';

export interface OptionSpec {
  flag: string;
  section: Section;
  key: string;
  kind: OptionKind;
  choices?: string[];
  min?: number;
  help: string;
}

const seed = PRESETS.seed, demo = PRESETS.demo;
const both = (get: (p: Preset) => unknown): string => {
  const a = get(seed), b = get(demo);
  return a === b ? String(a) : `${a} seed, ${b} demo`;
};

export const TRAIN_SPECS: readonly OptionSpec[] = [
  { flag: 'data', section: 'run', key: 'data', kind: 'string', help: 'source<TAB>target file, e.g. fra.txt (default: the built-in generated corpus)' },
  { flag: 'preset', section: 'run', key: 'preset', kind: 'string', choices: Object.keys(PRESETS), help: 'starting point for every default (default: seed with --data, demo without)' },
  { flag: 'out', section: 'run', key: 'out', kind: 'string', help: 'model bundle directory to write (default: models/demo)' },
  { flag: 'checkpoint-dir', section: 'run', key: 'checkpointDir', kind: 'string', help: 'where checkpoints (weights + optimizer state, for --resume) go; keep them out of the folder you ship (default: OUT/checkpoints)' },
  { flag: 'examples', section: 'run', key: 'examples', kind: 'int', min: 0, help: 'held-out sentences to translate at the end (default: 5)' },
  // data
  { flag: 'samples', section: 'data', key: 'samples', kind: 'samples', help: `first N pairs of the file, or "all" (default: ${both((p) => p.data.samples)})` },
  { flag: 'valid-data', section: 'data', key: 'validData', kind: 'string', help: 'validation (dev) file of pairs; with it all of --data is training data and no split is made (default: a hash split of --data)' },
  { flag: 'test-data', section: 'data', key: 'testData', kind: 'string', help: 'test file of pairs, with --valid-data (default: none)' },
  { flag: 'split', section: 'data', key: 'split', kind: 'string', choices: ['hash', 'keras'], help: 'hash: 90/5/5 keyed by source sentence; keras: last 20% as validation (default: hash)' },
  { flag: 'level', section: 'data', key: 'level', kind: 'string', choices: ['char', 'word', 'bpe'], help: `token level (default: ${both((p) => p.data.level)})` },
  { flag: 'bpe-merges', section: 'data', key: 'bpeMerges', kind: 'int', min: 0, help: `BPE merges learned from the training split (default: ${both((p) => p.data.bpeMerges)})` },
  { flag: 'normalize-spaces', section: 'data', key: 'normalizeSpaces', kind: 'bool', help: 'fold U+202F/U+00A0/U+2009 to plain spaces (default: keep)' },
  { flag: 'skip-bad-lines', section: 'data', key: 'skipBadLines', kind: 'bool', help: 'skip and count malformed lines instead of failing (default: fail)' },
  { flag: 'max-source-length', section: 'data', key: 'maxSourceLength', kind: 'int', min: 1, help: `skip pairs with longer sources, in characters (default: ${both((p) => p.data.maxSourceLength)})` },
  { flag: 'shared-vocab', section: 'data', key: 'sharedVocab', kind: 'bool', help: 'one vocabulary for both sides (BPE merges learned on source and target together; char/word too), and tied embeddings (tie-embeddings on unless given) (default: off)' },
  { flag: 'max-target-length', section: 'data', key: 'maxTargetLength', kind: 'int', min: 1, help: `skip pairs with longer targets; also the translation length limit (default: ${both((p) => p.data.maxTargetLength)})` },
  // model
  { flag: 'cell', section: 'model', key: 'cell', kind: 'string', choices: ['lstm', 'gru'], help: 'recurrent cell (default: lstm)' },
  { flag: 'latent-dim', section: 'model', key: 'latentDim', kind: 'int', min: 1, help: `units per recurrent layer (default: ${both((p) => p.model.latentDim)})` },
  { flag: 'layers', section: 'model', key: 'layers', kind: 'int', min: 1, help: 'recurrent layers in encoder and decoder (default: 1)' },
  { flag: 'bidirectional', section: 'model', key: 'bidirectional', kind: 'bool', help: `bidirectional encoder (default: ${both((p) => (p.model.bidirectional ? 'on' : 'off'))})` },
  { flag: 'attention', section: 'model', key: 'attention', kind: 'string', choices: ['none', 'dot', 'general', 'additive'], help: `attention over encoder outputs, with input feeding (default: ${both((p) => p.model.attention ?? 'none')})` },
  { flag: 'embedding-dim', section: 'model', key: 'embeddingDim', kind: 'int', min: 0, help: `learned embedding size; 0 = one-hot inputs as in the seed (default: ${both((p) => p.model.embeddingDim ?? 0)})` },
  { flag: 'dropout', section: 'model', key: 'dropout', kind: 'float', help: 'dropout between layers, on embeddings and attentional vectors (default: 0)' },
  { flag: 'arch', section: 'model', key: 'arch', kind: 'string', choices: ['rnn', 'transformer'], help: 'model family: recurrent encoder-decoder or Transformer (default: rnn)' },
  { flag: 'model-dim', section: 'model', key: 'modelDim', kind: 'int', min: 1, help: 'Transformer width d_model (default: 256)' },
  { flag: 'heads', section: 'model', key: 'heads', kind: 'int', min: 1, help: 'Transformer attention heads; must divide --model-dim (default: 4)' },
  { flag: 'ff-dim', section: 'model', key: 'ffDim', kind: 'int', min: 1, help: 'Transformer feed-forward inner width (default: 1024)' },
  { flag: 'encoder-layers', section: 'model', key: 'encoderLayers', kind: 'int', min: 0, help: 'Transformer encoder blocks, 0 = --layers (default: 0)' },
  { flag: 'decoder-layers', section: 'model', key: 'decoderLayers', kind: 'int', min: 0, help: 'Transformer decoder blocks, 0 = --layers (default: 0)' },
  { flag: 'attention-dropout', section: 'model', key: 'attentionDropout', kind: 'float', help: 'Transformer dropout on attention probabilities (default: 0)' },
  { flag: 'activation', section: 'model', key: 'activation', kind: 'string', choices: ['relu', 'gelu'], help: 'Transformer feed-forward activation (default: relu)' },
  { flag: 'post-norm', section: 'model', key: 'postNorm', kind: 'bool', help: 'Transformer layer norm after each residual add (the original paper) instead of before each sublayer (default: pre-norm)' },
  { flag: 'positions', section: 'model', key: 'positions', kind: 'string', choices: ['sinusoidal', 'learned'], help: 'Transformer position encoding (default: sinusoidal)' },
  { flag: 'tie-embeddings', section: 'model', key: 'tieEmbeddings', kind: 'bool', help: 'one embedding table for source, target and output layer; needs one vocabulary for both sides (default: off)' },
  // train
  { flag: 'epochs', section: 'train', key: 'epochs', kind: 'int', min: 0, help: `passes over the training split (default: ${both((p) => p.train.epochs)})` },
  { flag: 'batch-size', section: 'train', key: 'batchSize', kind: 'int', min: 1, help: `sentence pairs per batch; with --batch-tokens, training and validation batches are filled to the token budget instead (default: ${both((p) => p.train.batchSize)})` },
  { flag: 'optimizer', section: 'train', key: 'optimizer', kind: 'string', choices: ['rmsprop', 'adam'], help: `(default: ${both((p) => p.train.optimizer)})` },
  { flag: 'lr', section: 'train', key: 'learningRate', kind: 'float', help: `learning rate (default: ${both((p) => p.train.learningRate)})` },
  { flag: 'clip-norm', section: 'train', key: 'clipNorm', kind: 'float', help: `clip gradients to this global norm, 0 = off (default: ${both((p) => p.train.clipNorm)})` },
  { flag: 'seed', section: 'train', key: 'seed', kind: 'int', min: 0, help: `random seed for weights, data order and dropout (default: ${seed.train.seed})` },
  { flag: 'checkpoint-every', section: 'train', key: 'checkpointEvery', kind: 'int', min: 0, help: 'also checkpoint every N steps, 0 = only at epoch ends (default: 0)' },
  { flag: 'monitor', section: 'train', key: 'monitor', kind: 'string', choices: ['loss', 'bleu'], help: 'validation metric that picks the saved model (default: loss)' },
  { flag: 'patience', section: 'train', key: 'patience', kind: 'int', min: 0, help: 'stop after N epochs without improvement, 0 = never (default: 0)' },
  { flag: 'lr-decay', section: 'train', key: 'lrDecay', kind: 'float', help: 'multiply the learning rate by this on a plateau, 1 = off (default: 1)' },
  { flag: 'lr-patience', section: 'train', key: 'lrPatience', kind: 'int', min: 1, help: 'epochs without improvement before decaying (default: 2)' },
  { flag: 'min-lr', section: 'train', key: 'minLearningRate', kind: 'float', help: 'learning-rate floor (default: 1e-5)' },
  { flag: 'max-minutes', section: 'train', key: 'maxMinutes', kind: 'float', help: 'stop after this much training time (the best model so far is kept), 0 = no limit (default: 0)' },
  { flag: 'nan-policy', section: 'train', key: 'nanPolicy', kind: 'string', choices: ['stop', 'skip-batch'], help: 'on a NaN/infinite loss: stop keeping the last checkpoint, or skip the batch (default: stop)' },
  { flag: 'label-smoothing', section: 'train', key: 'labelSmoothing', kind: 'float', help: 'label smoothing ε of the training loss: ε/V on every class (as torch); validation loss stays the plain NLL so curves compare (default: 0)' },
  { flag: 'lr-schedule', section: 'train', key: 'lrSchedule', kind: 'string', choices: [...LR_SCHEDULES], help: 'per update: constant = --lr; inverse-sqrt = --lr·step/warmup during warmup, then --lr·√(warmup/step); noam = --lr·min(step^-0.5, step·warmup^-1.5)·warmup^0.5 (the same curve); --lr-decay scales the whole curve (default: constant)' },
  { flag: 'warmup-steps', section: 'train', key: 'warmupSteps', kind: 'int', min: 0, help: 'warmup updates of --lr-schedule inverse-sqrt/noam (default: 4000)' },
  { flag: 'batch-tokens', section: 'train', key: 'batchTokens', kind: 'int', min: 0, help: 'fill batches to N padded tokens (sentences × the longest max(source, target+1)) instead of --batch-size sentences, still bucketed by length; 0 = off (default: 0)' },
  { flag: 'accumulate', section: 'train', key: 'accumulate', kind: 'int', min: 1, help: 'batches per optimizer update (gradient accumulation, weighted by tokens: N batches = one N× larger batch) (default: 1)' },
  { flag: 'adam-beta1', section: 'train', key: 'adamBeta1', kind: 'float', help: 'Adam β1 (default: 0.9)' },
  { flag: 'adam-beta2', section: 'train', key: 'adamBeta2', kind: 'float', help: 'Adam β2; Transformers often use 0.98 (default: 0.999)' },
  { flag: 'data-parallel', section: 'train', key: 'dataParallel', kind: 'int', min: 1, help: 'replicas of the model, one per thread, each training a part of every batch (as Marian\'s --cpu-threads); their kernels run single-threaded, and with 2 on 2 cores a Transformer step took 0.83 of the time of one replica on 2 threads; dropout draws differ from 1, the rest is the same batch\'s gradient (default: 1)' },
  { flag: 'keep-checkpoints', section: 'train', key: 'keepCheckpoints', kind: 'int', min: 1, help: 'checkpoints kept on disk, the last K (for s2s average --last K) (default: 2)' },
  { flag: 'bleu-samples', section: 'train', key: 'bleuSamples', kind: 'int', min: 0, help: 'validation sentences (evenly spaced over the split) translated for BLEU each epoch, 0 = off (default: 0)' },
];

/** The camelCase name of a flag, as `train()` and YAML files accept it (`latent-dim` → `latentDim`). */
export const camel = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function coerce(spec: OptionSpec, raw: unknown, where: string): unknown {
  const bad = (what: string): never => {
    throw new ConfigError(`${where}: "${spec.flag}" ${what}, got ${JSON.stringify(raw)}`);
  };
  let v: unknown = raw;
  switch (spec.kind) {
    case 'bool':
      if (typeof raw === 'string') v = raw === 'true' ? true : raw === 'false' ? false : bad('must be true or false');
      if (typeof v !== 'boolean') bad('must be true or false');
      break;
    case 'int':
      v = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < (spec.min ?? -Infinity)) bad(`must be an integer ≥ ${spec.min ?? 0}`);
      break;
    case 'float':
      v = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isFinite(v)) bad('must be a number');
      break;
    case 'samples':
      if (raw === 'all') break;
      v = typeof raw === 'string' ? Number(raw) : raw;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) bad('must be a positive integer or "all"');
      break;
    case 'string':
      if (typeof raw !== 'string') bad('must be a string');
      if (spec.choices && !spec.choices.includes(raw as string)) bad(`must be one of ${spec.choices.join(', ')}`);
      break;
  }
  return v;
}

/** Values from a YAML config file, keyed by flag; unknown keys are errors naming the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${path}: expected a mapping of option names to values`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const spec = TRAIN_SPECS.find((s) => s.flag === k || camel(s.flag) === k || s.key === k);
    if (!spec) throw new ConfigError(`${path}: unknown option "${k}" (options are the flags of \`s2s train\`, e.g. latent-dim)`);
    out[spec.flag] = coerce(spec, v, path);
  }
  return out;
}

export interface ResolvedTraining {
  preset: Preset;
  data?: string;
  out: string;
  /** Checkpoint directory when given; otherwise OUT/checkpoints. */
  checkpointDir?: string;
  examples: number;
}

/** Where `s2s train` writes its model when no --out is given. */
export const DEFAULT_OUT = 'models/demo';
/** Held-out sentences translated at the end of a run when not told otherwise. */
export const DEFAULT_EXAMPLES = 5;

/**
 * Preset → config file → explicit options, later ones winning. `given` holds
 * only the options actually given (camelCase flag names), from the command
 * line or a `train()` call; `where` names their origin in error messages.
 */
export function resolveTraining(file: Record<string, unknown>, given: Record<string, unknown>, where = 'command line'): ResolvedTraining {
  const merged: Record<string, unknown> = { ...file };
  for (const spec of TRAIN_SPECS) {
    const v = given[camel(spec.flag)];
    if (v !== undefined) merged[spec.flag] = coerce(spec, v, where);
  }
  const data = merged.data as string | undefined;
  const preset = getPreset((merged.preset as string | undefined) ?? (data ? 'seed' : 'demo'));
  for (const spec of TRAIN_SPECS) {
    const v = merged[spec.flag];
    if (v === undefined || spec.section === 'run') continue;
    const target = spec.section === 'model' ? (preset.model as Record<string, unknown>) : (preset[spec.section] as unknown as Record<string, unknown>);
    target[spec.key] = v;
  }
  validateTrainOptions(preset.train);
  return {
    preset,
    data,
    out: (merged.out as string | undefined) ?? DEFAULT_OUT,
    checkpointDir: merged['checkpoint-dir'] as string | undefined,
    examples: (merged.examples as number | undefined) ?? DEFAULT_EXAMPLES,
  };
}

export type { ModelConfig };
