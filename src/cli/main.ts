/**
 * The `s2s` command line: train, translate, eval.
 */
import { Command, Option, InvalidArgumentError } from 'commander';
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { kernels } from '../engine/index.js';
import { Seq2Seq } from '../model/seq2seq.js';
import type { ModelConfig } from '../model/config.js';
import { Trainer, type TrainerState } from '../train/trainer.js';
import { getPreset, validateTrainOptions, PRESETS, type Preset } from '../train/options.js';
import { prepareData, readSplit, BUILTIN_CORPUS } from '../train/prepare.js';
import { saveBundle, loadBundle, makeTranslator, type BundleConfig, type BundleParts } from '../bundle/bundle.js';
import { saveCheckpoint, loadLatestCheckpoint, checkpointsDir } from '../bundle/checkpoint.js';
import { corpusBleu, corpusChrf, exactMatch } from '../eval/index.js';
import { createProgress } from './progress.js';

const VERSION = '0.1.0';

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

function float(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
    return n;
  };
}

function samplesArg(v: string): number | 'all' {
  if (v === 'all') return 'all';
  return int('--samples', 1)(v);
}

interface TrainCliOptions {
  data?: string;
  preset?: string;
  out: string;
  resume?: string;
  samples?: number | 'all';
  split?: 'hash' | 'keras';
  normalizeSpaces?: boolean;
  skipBadLines?: boolean;
  maxSourceLength?: number;
  maxTargetLength?: number;
  cell?: 'lstm' | 'gru';
  latentDim?: number;
  layers?: number;
  embeddingDim?: number;
  dropout?: number;
  epochs?: number;
  batchSize?: number;
  optimizer?: 'rmsprop' | 'adam';
  lr?: number;
  clipNorm?: number;
  seed?: number;
  checkpointEvery?: number;
  examples: number;
}

/** Preset values overridden by whatever the command line set. */
function resolveTrainConfig(o: TrainCliOptions): Preset {
  const preset = getPreset(o.preset ?? (o.data ? 'seed' : 'demo'));
  const set = <T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void => {
    if (value !== undefined) target[key] = value;
  };
  set(preset.data, 'samples', o.samples);
  set(preset.data, 'split', o.split);
  set(preset.data, 'normalizeSpaces', o.normalizeSpaces);
  set(preset.data, 'skipBadLines', o.skipBadLines);
  set(preset.data, 'maxSourceLength', o.maxSourceLength);
  set(preset.data, 'maxTargetLength', o.maxTargetLength);
  const m = preset.model as Partial<ModelConfig>;
  set(m, 'cell', o.cell);
  set(m, 'latentDim', o.latentDim);
  set(m, 'layers', o.layers);
  set(m, 'embeddingDim', o.embeddingDim);
  set(m, 'dropout', o.dropout);
  set(preset.train, 'epochs', o.epochs);
  set(preset.train, 'batchSize', o.batchSize);
  set(preset.train, 'optimizer', o.optimizer);
  set(preset.train, 'learningRate', o.lr);
  set(preset.train, 'clipNorm', o.clipNorm);
  set(preset.train, 'seed', o.seed);
  set(preset.train, 'checkpointEvery', o.checkpointEvery);
  validateTrainOptions(preset.train);
  return preset;
}

async function train(o: TrainCliOptions): Promise<void> {
  const log = (s: string): void => void process.stderr.write(s + '\n');
  let outDir = o.out;
  let bundleConfig: BundleConfig;
  let state: TrainerState | null = null;
  let model: Seq2Seq;
  let data;
  if (o.resume) {
    outDir = o.resume;
    const ckpt = loadLatestCheckpoint(outDir);
    if (!ckpt) throw new Error(`${checkpointsDir(outDir)}: no checkpoint to resume from`);
    bundleConfig = ckpt.bundle.config;
    // Only the epoch count may change on resume (to train longer); everything else is the run's own.
    if (o.epochs !== undefined) bundleConfig.train.epochs = o.epochs;
    model = ckpt.bundle.model;
    state = ckpt.state;
    data = prepareData(bundleConfig.data.corpus, bundleConfig.data, ckpt.bundle.vocabs);
    log(`resuming ${ckpt.path}: epoch ${state.epoch + 1}, batch ${state.batchInEpoch}, step ${state.step}`);
  } else {
    if (existsSync(`${checkpointsDir(outDir)}/LATEST`)) {
      throw new Error(`${outDir} already holds a training run; continue it with \`s2s train --resume ${outDir}\` or choose another --out`);
    }
    const preset = resolveTrainConfig(o);
    const corpus = o.data ?? BUILTIN_CORPUS;
    if (o.data && !existsSync(o.data)) throw new Error(`${o.data}: no such file`);
    data = prepareData(corpus, preset.data);
    const modelConfig = { ...preset.model, srcVocabSize: data.vocabs.source.size, tgtVocabSize: data.vocabs.target.size };
    model = new Seq2Seq(modelConfig, preset.train.seed);
    bundleConfig = {
      format: 's2s-model', version: 1, model: model.config,
      tokenizers: { source: data.tokenizers.source.toJSON(), target: data.tokenizers.target.toJSON() },
      data: { ...preset.data, corpus },
      train: preset.train,
      createdBy: `s2s ${VERSION}`,
    };
  }
  const s = data.stats;
  log(
    `corpus ${data.corpus}: ${s.kept} pairs (${s.tooLong} too long, ${s.badLines} bad lines skipped) → ` +
      `train ${data.examples.train.length}, validation ${data.examples.validation.length}, test ${data.examples.test.length}`,
  );
  log(`vocabulary: source ${data.vocabs.source.size}, target ${data.vocabs.target.size} | model: ${model.config.cell} ${model.config.layers}×${model.config.latentDim}, ${model.parameterCount().toLocaleString('en')} parameters | kernels: ${kernels().description}`);
  const parts = (history: BundleParts['history']): BundleParts => ({ config: bundleConfig, vocabs: data.vocabs, model, history });
  const progress = createProgress();
  let stopRequested = false;
  const onSignal = (sig: string): void => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    progress.stop();
    log(`\n${sig}: saving a checkpoint and stopping (press again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const trainer = new Trainer(model, { train: data.examples.train, validation: data.examples.validation }, bundleConfig.train, {
    onBatch: (p) => progress.batch(p),
    onEpoch: (r) => progress.epoch(r, bundleConfig.train.epochs),
    onCheckpoint: (st, reason) => {
      saveCheckpoint(outDir, parts(st.history), st);
      if (reason !== 'step') saveBundle(outDir, parts(st.history));
    },
    shouldStop: () => stopRequested,
  });
  if (state) trainer.restore(state);
  const t0 = performance.now();
  const final = await trainer.run();
  progress.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  saveBundle(outDir, parts(final.history));
  if (stopRequested) {
    log(`stopped at step ${final.step}; continue with: s2s train --resume ${outDir}`);
    return;
  }
  log(`trained ${final.epoch} epochs (${final.step} steps) in ${((performance.now() - t0) / 1000).toFixed(1)} s; model saved to ${outDir}`);
  const sample = (data.split.test.length ? data.split.test : data.split.validation).slice(0, o.examples);
  if (sample.length) {
    const translator = makeTranslator(parts(final.history));
    const hyps = translator.translate(sample.map((p) => p.source));
    log('examples from the held-out split:');
    sample.forEach((p, i) => log(`  ${p.source}\n    → ${hyps[i].text}\n    (reference: ${p.target})`));
  }
}

async function readStdinLines(): Promise<string[]> {
  const lines: string[] = [];
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) lines.push(line);
  return lines;
}

async function translate(texts: string[], o: { model: string; showUnknown?: boolean; batchSize: number; maxLength?: number }): Promise<void> {
  const bundle = loadBundle(o.model);
  const inputs = texts.length ? texts : await readStdinLines();
  const results = bundle.translator.translate(inputs, { batchSize: o.batchSize, maxLength: o.maxLength });
  for (const r of results) {
    process.stdout.write(r.text + '\n');
    if (o.showUnknown && r.unknown.length) process.stderr.write(`unknown in "${r.source}": ${r.unknown.map((u) => JSON.stringify(u)).join(' ')}\n`);
  }
}

async function evaluate(o: { model: string; data: string; split: 'train' | 'validation' | 'test'; report?: string; batchSize: number; limit?: number }): Promise<void> {
  const bundle = loadBundle(o.model);
  const corpus = o.data === 'builtin' ? BUILTIN_CORPUS : o.data;
  if (corpus !== BUILTIN_CORPUS && !existsSync(corpus)) throw new Error(`${corpus}: no such file`);
  const { split } = readSplit(corpus, bundle.config.data);
  let pairs = split[o.split];
  if (o.limit !== undefined) pairs = pairs.slice(0, o.limit);
  if (pairs.length === 0) throw new Error(`the ${o.split} split of ${corpus} is empty`);
  const t0 = performance.now();
  const hyps = bundle.translator.translate(pairs.map((p) => p.source), { batchSize: o.batchSize }).map((t) => t.text);
  const seconds = (performance.now() - t0) / 1000;
  const refs = pairs.map((p) => p.target);
  const bleu = corpusBleu(hyps, refs);
  const chrf = corpusChrf(hyps, refs);
  const em = exactMatch(hyps, refs);
  console.log(`split: ${o.split} (${pairs.length} sentences, ${(pairs.length / seconds).toFixed(1)} sentences/s)`);
  console.log(`BLEU: ${bleu.score.toFixed(2)}  (${bleu.precisions.map((p) => p.toFixed(1)).join('/')}, BP ${bleu.bp.toFixed(3)})`);
  console.log(`chrF: ${chrf.score.toFixed(2)}`);
  console.log(`exact match: ${(em * 100).toFixed(2)}%`);
  if (o.report) {
    const rows = pairs.map((p, i) => [p.source, p.target, hyps[i]].map((c) => c.replace(/[\t\n]/g, ' ')).join('\t'));
    writeFileSync(o.report, ['source\treference\thypothesis', ...rows].join('\n') + '\n');
    console.log(`report: ${o.report}`);
  }
}

/** New sentences for the demo: not in the built-in corpus as written, but within its grammar. */
const DEMO_SENTENCES = ['I am happy.', 'She is tired.', 'We see the cat.', 'They don\'t eat bread.', 'Is the dog hungry?'];

async function demo(o: { out: string; epochs?: number }): Promise<void> {
  // The demo always starts fresh: an earlier demo run in the same folder is replaced.
  rmSync(o.out, { recursive: true, force: true });
  await train({ out: o.out, epochs: o.epochs, examples: 5 });
  const bundle = loadBundle(o.out);
  console.log('\ntranslating new sentences:');
  const results = bundle.translator.translate(DEMO_SENTENCES);
  for (const r of results) console.log(`  ${r.source}  →  ${r.text}`);
  console.log(`\ntranslate your own: node bin/s2s.js translate --model ${o.out} "I want the red apples."`);
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('s2s').description('Sequence-to-sequence neural machine translation: train on sentence pairs, translate anywhere.').version(VERSION);
  const presetNames = Object.keys(PRESETS).join('|');
  const seed = PRESETS.seed;
  program
    .command('train')
    .description('train a model on a TSV file of sentence pairs (or the built-in corpus) and save it as a bundle')
    .option('--data <path>', 'source<TAB>target file, e.g. fra.txt (default: the built-in generated corpus)')
    .option('--preset <name>', `${presetNames} (default: seed with --data, demo without)`)
    .requiredOption('--out <dir>', 'model bundle directory to write', 'models/demo')
    .option('--resume <dir>', 'continue the run saved in this bundle directory from its last checkpoint')
    .option('--samples <n|all>', `first N pairs of the file (default: ${seed.data.samples} for seed, all for demo)`, samplesArg)
    .addOption(new Option('--split <kind>', 'hash: 90/5/5 keyed by source sentence; keras: last 20% as validation (default: hash)').choices(['hash', 'keras']))
    .option('--normalize-spaces', 'fold U+202F/U+00A0/U+2009 to plain spaces (default: keep)')
    .option('--skip-bad-lines', 'skip and count malformed lines instead of failing (default: fail)')
    .option('--max-source-length <n>', `skip pairs with longer sources, in characters (default: ${seed.data.maxSourceLength})`, int('--max-source-length', 1))
    .option('--max-target-length <n>', `skip pairs with longer targets; also the translation length limit (default: ${seed.data.maxTargetLength})`, int('--max-target-length', 1))
    .addOption(new Option('--cell <type>', 'recurrent cell (default: lstm)').choices(['lstm', 'gru']))
    .option('--latent-dim <n>', `units per recurrent layer (default: ${seed.model.latentDim} seed, ${PRESETS.demo.model.latentDim} demo)`, int('--latent-dim', 1))
    .option('--layers <n>', 'recurrent layers in encoder and decoder (default: 1)', int('--layers', 1))
    .option('--embedding-dim <n>', 'learned embedding size; 0 = one-hot inputs as in the seed (default: 0)', int('--embedding-dim', 0))
    .option('--dropout <p>', 'dropout between layers and on embeddings (default: 0)', float('--dropout'))
    .option('--epochs <n>', `passes over the training split (default: ${seed.train.epochs} seed, ${PRESETS.demo.train.epochs} demo)`, int('--epochs', 0))
    .option('--batch-size <n>', `sentence pairs per batch (default: ${seed.train.batchSize})`, int('--batch-size', 1))
    .addOption(new Option('--optimizer <name>', `(default: ${seed.train.optimizer} seed, ${PRESETS.demo.train.optimizer} demo)`).choices(['rmsprop', 'adam']))
    .option('--lr <x>', `learning rate (default: ${seed.train.learningRate} seed, ${PRESETS.demo.train.learningRate} demo)`, float('--lr'))
    .option('--clip-norm <x>', `clip gradients to this global norm, 0 = off (default: ${seed.train.clipNorm} seed, ${PRESETS.demo.train.clipNorm} demo)`, float('--clip-norm'))
    .option('--seed <n>', `random seed for weights, data order and dropout (default: ${seed.train.seed})`, int('--seed', 0))
    .option('--checkpoint-every <steps>', 'also checkpoint every N steps, 0 = only at epoch ends (default: 0)', int('--checkpoint-every', 0))
    .option('--examples <n>', 'held-out sentences to translate at the end', int('--examples', 0), 5)
    .action((opts: TrainCliOptions) => train(opts));
  program
    .command('translate')
    .description('translate sentences given as arguments, or one per line from stdin')
    .argument('[text...]', 'sentences to translate (default: read stdin)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--show-unknown', 'report characters/tokens the model does not know (on stderr)')
    .option('--batch-size <n>', 'sentences translated together', int('--batch-size', 1), 64)
    .option('--max-length <n>', 'longest output in tokens (default: the bundle\'s max target length)', int('--max-length', 1))
    .action((texts: string[], opts) => translate(texts, opts));
  program
    .command('eval')
    .description('BLEU, chrF and exact match on a split of a corpus, split exactly as in training')
    .requiredOption('--model <dir>', 'model bundle directory')
    .requiredOption('--data <path>', 'the corpus file (or "builtin" for the generated corpus)')
    .addOption(new Option('--split <name>', 'which split to score').choices(['train', 'validation', 'test']).default('test'))
    .option('--report <file>', 'write source, reference and hypothesis of every sentence (TSV)')
    .option('--limit <n>', 'score only the first N sentences of the split', int('--limit', 1))
    .option('--batch-size <n>', 'sentences translated together', int('--batch-size', 1), 64)
    .action((opts) => evaluate(opts));
  program
    .command('demo')
    .description('train a small model on the built-in corpus, then translate a few new sentences')
    .option('--out <dir>', 'model bundle directory (replaced)', 'models/demo')
    .option('--epochs <n>', `passes over the training split (default: ${PRESETS.demo.train.epochs})`, int('--epochs', 0))
    .action((opts) => demo(opts));
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
