/**
 * The `s2s` command line: train, translate, eval.
 */
import { Command, Option, InvalidArgumentError } from 'commander';
import { existsSync, writeFileSync, readFileSync, rmSync, mkdirSync, unlinkSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { kernels } from '../engine/index.js';
import { Seq2Seq } from '../model/seq2seq.js';
import { Trainer, type TrainerState } from '../train/trainer.js';
import { PRESETS } from '../train/options.js';
import { addTrainOptions, readConfigFile, resolveTraining } from './train-config.js';
import { prepareData } from '../train/prepare.js';
import { readSplit, BUILTIN_CORPUS } from '../data/read-split.js';
import { saveBundle, loadBundle, makeTranslator, type BundleConfig, type BundleParts } from '../bundle/bundle.js';
import { saveCheckpoint, loadLatestCheckpoint, checkpointsDir } from '../train/checkpoint.js';
import { corpusBleu, corpusChrf, exactMatch } from '../eval/index.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { tokenizerFromJSON } from '../data/tokenizer-factory.js';
import { evenlySpaced } from '../data/split.js';
import { createProgress } from './progress.js';
import { runServer } from '../serve/server.js';

const VERSION = '0.1.0';

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

interface TrainCliOptions {
  config?: string;
  resume?: string;
  /** Everything else: flags of the option table (camelCase), only those given. */
  [flag: string]: unknown;
}

/**
 * Fails fast, before any data is read, when the output directory cannot be
 * created or written: creates it (and missing parents, like mkdir -p), then
 * writes and removes a probe file in it.
 */
function checkWritableDir(dir: string, what: string): void {
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
    throw new Error(`${what} ${dir}: cannot write there (${why}${e.code ? `, ${e.code}` : ''}); nothing was trained. Choose a writable directory.`);
  }
}

/** A failed save stops training with a message saying what is still safe on disk. */
function saveFailed(err: unknown, what: string, outDir: string): Error {
  const e = err as NodeJS.ErrnoException;
  const latest = loadLatestName(outDir);
  const kept = latest ? `the previous checkpoint (${latest}) is intact; after fixing the cause, continue with \`s2s train --resume ${outDir}\`` : 'no checkpoint had been written yet';
  return new Error(`could not write ${what} (${e.code === 'ENOSPC' ? 'disk full: ' : ''}${e.message}); training stopped, ${kept}`, { cause: err });
}

function loadLatestName(outDir: string): string | null {
  try {
    return readFileSync(join(checkpointsDir(outDir), 'LATEST'), 'utf8').trim();
  } catch {
    return null;
  }
}

async function train(o: TrainCliOptions): Promise<void> {
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const resolved = resolveTraining(o.config ? readConfigFile(o.config) : {}, o);
  let outDir = resolved.out;
  let bundleConfig: BundleConfig;
  let state: TrainerState | null = null;
  let model: Seq2Seq;
  let data;
  if (o.resume) {
    outDir = o.resume;
    if (!existsSync(outDir)) throw new Error(`--resume ${outDir}: no such directory`);
    checkWritableDir(outDir, '--resume');
    if (existsSync(checkpointsDir(outDir))) checkWritableDir(checkpointsDir(outDir), '--resume');
    const ckpt = loadLatestCheckpoint(outDir);
    if (!ckpt) throw new Error(`${checkpointsDir(outDir)}: no checkpoint to resume from`);
    bundleConfig = ckpt.bundle.config;
    // Only the epoch count may change on resume (to train longer); everything else is the run's own.
    if (o.epochs !== undefined) bundleConfig.train.epochs = resolved.preset.train.epochs;
    model = ckpt.bundle.model;
    state = ckpt.state;
    // The run's own tokenizers and vocabularies, so ids match the checkpoint's weights.
    const tokenizers = { source: tokenizerFromJSON(bundleConfig.tokenizers.source), target: tokenizerFromJSON(bundleConfig.tokenizers.target) };
    data = prepareData(bundleConfig.data.corpus, bundleConfig.data, ckpt.bundle.vocabs, tokenizers);
    log(`resuming ${ckpt.path}: epoch ${state.epoch + 1}, batch ${state.batchInEpoch}, step ${state.step}`);
  } else {
    if (existsSync(`${checkpointsDir(outDir)}/LATEST`)) {
      throw new Error(`${outDir} already holds a training run; continue it with \`s2s train --resume ${outDir}\` or choose another --out`);
    }
    checkWritableDir(outDir, '--out');
    const preset = resolved.preset;
    const corpus = resolved.data ?? BUILTIN_CORPUS;
    if (resolved.data && !existsSync(resolved.data)) throw new Error(`${resolved.data}: no such file`);
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
    onCheckpoint: (st) => {
      try {
        saveCheckpoint(outDir, parts(st.history), st);
      } catch (err) {
        throw saveFailed(err, `the checkpoint of step ${st.step} to ${checkpointsDir(outDir)}`, outDir);
      }
    },
    // The bundle in --out is always the best model so far by the monitored validation metric.
    onBest: (st) => {
      try {
        saveBundle(outDir, parts(st.history));
      } catch (err) {
        throw saveFailed(err, `the model bundle to ${outDir}`, outDir);
      }
    },
    validationBleu: () => {
      // Evenly spaced over the split: corpora sorted by length (fra.txt is) would otherwise give only the shortest sentences.
      const sample = evenlySpaced(data.heldOut.validation, bundleConfig.train.bleuSamples);
      const hyps = makeTranslator(parts([])).translate(sample.map((p) => p.source)).map((t) => t.text);
      return corpusBleu(hyps, sample.map((p) => p.target)).score;
    },
    shouldStop: () => stopRequested,
  });
  if (state) trainer.restore(state);
  const t0 = performance.now();
  const final = await trainer.run();
  progress.stop();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (data.examples.validation.length === 0 || final.history.length === 0) saveBundle(outDir, parts(final.history));
  else updateHistory(outDir, final.history);
  if (stopRequested) {
    log(`stopped at step ${final.step}; continue with: s2s train --resume ${outDir}`);
    return;
  }
  const best = final.best ? ` (best epoch ${final.best.epoch}, validation ${bundleConfig.train.monitor} ${final.best.value.toFixed(4)})` : '';
  log(`trained ${final.epoch} epochs (${final.step} steps${final.stoppedEarly ? ', stopped early' : ''}) in ${((performance.now() - t0) / 1000).toFixed(1)} s; model saved to ${outDir}${best}`);
  const sample = (data.heldOut.test.length ? data.heldOut.test : data.heldOut.validation).slice(0, resolved.examples);
  if (sample.length) {
    const translator = loadBundle(outDir).translator;
    const hyps = translator.translate(sample.map((p) => p.source));
    log('examples from the held-out split:');
    sample.forEach((p, i) => log(`  ${p.source}\n    → ${hyps[i].text}\n    (reference: ${p.target})`));
  }
}

/** The bundle keeps the best epoch's weights; its history still records every epoch. */
function updateHistory(dir: string, history: unknown[]): void {
  writeFileAtomic(join(dir, 'history.json'), JSON.stringify(history, null, 1));
}

async function readStdinLines(): Promise<string[]> {
  const lines: string[] = [];
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) lines.push(line);
  return lines;
}

interface DecodeCliOptions {
  batchSize: number;
  maxLength?: number;
  beam: number;
  lengthPenalty: number;
  nBest?: number;
}

async function translate(texts: string[], o: DecodeCliOptions & { model: string; showUnknown?: boolean; attentionSvg?: string }): Promise<void> {
  const bundle = loadBundle(o.model);
  const inputs = texts.length ? texts : await readStdinLines();
  if (o.attentionSvg && bundle.config.model.attention === 'none') {
    throw new Error(`--attention-svg: the model in ${o.model} has no attention (trained with --attention none)`);
  }
  const results = bundle.translator.translate(inputs, {
    batchSize: o.batchSize, maxLength: o.maxLength, beam: o.beam, lengthPenalty: o.lengthPenalty, nBest: o.nBest,
    attention: Boolean(o.attentionSvg),
  });
  if (o.attentionSvg) {
    const { attentionSvg } = await import('../plot/index.js');
    // One file per sentence when several are translated: name.svg, name-2.svg, …
    results.forEach((r, i) => {
      if (!r.attention) return;
      const file = i === 0 ? o.attentionSvg as string : (o.attentionSvg as string).replace(/(\.svg)?$/i, `-${i + 1}.svg`);
      writeFileAtomic(file, attentionSvg(r.attention.sourceTokens, r.attention.outputTokens, r.attention.weights));
      process.stderr.write(`attention map: ${file}\n`);
    });
  }
  for (const r of results) {
    if (r.alternatives) {
      // n-best: one line per hypothesis, "rank<TAB>score<TAB>text", a blank line between sentences.
      r.alternatives.forEach((a, k) => process.stdout.write(`${k + 1}\t${a.score.toFixed(4)}\t${a.text}\n`));
      process.stdout.write('\n');
    } else process.stdout.write(r.text + '\n');
    if (o.showUnknown && r.unknown.length) process.stderr.write(`unknown in "${r.source}": ${r.unknown.map((u) => JSON.stringify(u)).join(' ')}\n`);
  }
}

async function evaluate(o: DecodeCliOptions & { model: string; data: string; split: 'train' | 'validation' | 'test'; report?: string; limit?: number }): Promise<void> {
  const bundle = loadBundle(o.model);
  const corpus = o.data === 'builtin' ? BUILTIN_CORPUS : o.data;
  if (corpus !== BUILTIN_CORPUS && !existsSync(corpus)) throw new Error(`${corpus}: no such file`);
  const { split } = readSplit(corpus, bundle.config.data);
  let pairs = split[o.split];
  if (o.limit !== undefined) pairs = pairs.slice(0, o.limit);
  if (pairs.length === 0) throw new Error(`the ${o.split} split of ${corpus} is empty`);
  const t0 = performance.now();
  const hyps = bundle.translator.translate(pairs.map((p) => p.source), {
    batchSize: o.batchSize, maxLength: o.maxLength, beam: o.beam, lengthPenalty: o.lengthPenalty,
  }).map((t) => t.text);
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
  await train({ out: o.out, epochs: o.epochs });
  const bundle = loadBundle(o.out);
  console.log('\ntranslating new sentences:');
  const results = bundle.translator.translate(DEMO_SENTENCES);
  for (const r of results) console.log(`  ${r.source}  →  ${r.text}`);
  console.log(`\ntranslate your own: node bin/s2s.js translate --model ${o.out} "I want the red apples."`);
}

function addDecodeOptions(cmd: Command): Command {
  return cmd
    .option('--beam <k>', 'beam size; 1 = greedy decoding', int('--beam', 1), 1)
    .option('--length-penalty <alpha>', 'GNMT length-penalty exponent for ranking beam results', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--length-penalty must be a number ≥ 0');
      return n;
    }, 0.6)
    .option('--batch-size <n>', 'sentences translated together', int('--batch-size', 1), 64)
    .option('--max-length <n>', 'longest output in tokens (default: the bundle\'s max target length)', int('--max-length', 1));
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('s2s').description('Sequence-to-sequence neural machine translation: train on sentence pairs, translate anywhere.').version(VERSION);
  const train_ = program
    .command('train')
    .description('train a model on a TSV file of sentence pairs (or the built-in corpus) and save it as a bundle')
    .option('--config <file.yaml>', 'options from a YAML file (keys are these flags); the command line overrides it')
    .option('--resume <dir>', 'continue the run saved in this bundle directory from its last checkpoint (--epochs may be raised)');
  addTrainOptions(train_).action((opts: TrainCliOptions) => train(opts));
  const translate_ = program
    .command('translate')
    .description('translate sentences given as arguments, or one per line from stdin')
    .argument('[text...]', 'sentences to translate (default: read stdin)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--show-unknown', 'report characters/tokens the model does not know (on stderr)')
    .option('--n-best <n>', 'print the N best translations of each sentence with their scores (needs --beam ≥ N)', int('--n-best', 1))
    .option('--attention-svg <file>', 'draw the attention heatmap (source against output tokens) as SVG; FILE-2.svg… for further sentences');
  addDecodeOptions(translate_).action((texts: string[], opts) => translate(texts, opts));
  const eval_ = program
    .command('eval')
    .description('BLEU, chrF and exact match on a split of a corpus, split exactly as in training')
    .requiredOption('--model <dir>', 'model bundle directory')
    .requiredOption('--data <path>', 'the corpus file (or "builtin" for the generated corpus)')
    .addOption(new Option('--split <name>', 'which split to score').choices(['train', 'validation', 'test']).default('test'))
    .option('--report <file>', 'write source, reference and hypothesis of every sentence (TSV)')
    .option('--limit <n>', 'score only the first N sentences of the split', int('--limit', 1));
  addDecodeOptions(eval_).action((opts) => evaluate(opts));
  program
    .command('serve')
    .description('HTTP JSON API: POST /translate, GET /health, GET /model (and static files with --web)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--port <n>', 'TCP port (0: any free port)', int('--port', 0), 8080)
    .option('--host <addr>', 'address to bind; anything but loopback is reachable from other machines', '127.0.0.1')
    .option('--web <dir>', 'serve the files of this folder at / (index.html for /)')
    .option('--batch-window <ms>', 'wait this long for concurrent requests to batch together (0: no wait)', int('--batch-window', 0), 5)
    .option('--max-batch <n>', 'sentences per translate call', int('--max-batch', 1), 32)
    .option('--max-queue <n>', 'sentences that may wait; beyond that requests get 503 + Retry-After', int('--max-queue', 1), 256)
    .option('--max-texts <n>', 'sentences in one request (413 beyond)', int('--max-texts', 1), 64)
    .option('--max-body <bytes>', 'request body limit (413 beyond)', int('--max-body', 1), 65536)
    .option('--timeout <ms>', 'time allowed to send the request headers, and again the body', int('--timeout', 1), 10000)
    .action((o) => runServer({
      model: o.model, port: o.port, host: o.host, webDir: o.web ?? null, batchWindowMs: o.batchWindow, maxBatch: o.maxBatch,
      maxQueue: o.maxQueue, maxTexts: o.maxTexts, maxBody: o.maxBody, headersTimeoutMs: o.timeout, bodyTimeoutMs: o.timeout,
    }));
  program
    .command('demo')
    .description('train a small model on the built-in corpus, then translate a few new sentences')
    .option('--out <dir>', 'model bundle directory (replaced)', 'models/demo')
    .option('--epochs <n>', `passes over the training split (default: ${PRESETS.demo.train.epochs})`, int('--epochs', 0))
    .action((opts) => demo(opts));
  program
    .command('export-web')
    .description('write a static web page that translates with the model in the browser (serve the folder from any static host)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .requiredOption('--out <dir>', 'folder to write (index.html, page.css, s2s-web.js, model/)')
    .action(async (o: { model: string; out: string }) => {
      const { exportWeb } = await import('../web/export.js');
      const r = exportWeb(o.model, o.out);
      console.log(`wrote ${r.files.length} files (${(r.bytes / 1024).toFixed(1)} KiB) to ${r.outDir}; try: cd ${r.outDir} && python3 -m http.server`);
    });
  const plot = program.command('plot').description('draw SVG plots of a model bundle: architecture diagrams, training history');
  plot
    .command('model')
    .description('diagrams of the training, inference encoder and one-step decoder models with tensor shapes (like Keras plot_model)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--out <dir-or-prefix>', 'a directory (model-training.svg, model-encoder.svg, model-decoder.svg in it) or a file prefix (PREFIX-training.svg, ...)', '.')
    .action(async (o: { model: string; out: string }) => {
      const { modelDiagrams, modelDiagramPaths } = await import('../plot/index.js');
      const { mkdirSync: mkdir, statSync } = await import('node:fs');
      const { dirname } = await import('node:path');
      const svgs = modelDiagrams(loadBundle(o.model).config.model);
      const paths = modelDiagramPaths(o.out, /[\\/]$/.test(o.out) || (existsSync(o.out) && statSync(o.out).isDirectory()));
      for (const name of ['training', 'encoder', 'decoder'] as const) {
        mkdir(dirname(paths[name]), { recursive: true });
        writeFileAtomic(paths[name], svgs[name]);
        console.log(paths[name]);
      }
    });
  plot
    .command('history')
    .description('training and validation loss per epoch, with validation BLEU and accuracy when recorded')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--out <file>', 'SVG file to write', 'history.svg')
    .action(async (o: { model: string; out: string }) => {
      const { historySvg, bestEpoch } = await import('../plot/index.js');
      const { mkdirSync: mkdir } = await import('node:fs');
      const { dirname } = await import('node:path');
      const bundle = loadBundle(o.model);
      if (bundle.history.length === 0) throw new Error(`${join(o.model, 'history.json')}: no epochs recorded`);
      mkdir(dirname(o.out), { recursive: true });
      writeFileAtomic(o.out, historySvg(bundle.history, { subtitle: o.model, bestEpoch: bestEpoch(bundle.history, bundle.config.train?.monitor ?? 'loss') }));
      console.log(o.out);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
