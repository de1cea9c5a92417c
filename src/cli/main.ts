/**
 * The `s2s` command line: train, translate, eval.
 */
import { Command, Option, InvalidArgumentError } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PRESETS } from '../train/options.js';
import { train, type TrainRunOptions } from '../train/run.js';
import { addTrainOptions } from './train-flags.js';
import { loadBundle, exportBundle, S2S_VERSION } from '../bundle/bundle.js';
import { evaluate, type EvalSplit } from '../eval/evaluate.js';
import { DECODE_DEFAULTS } from '../decode/options.js';
import { SERVE_DEFAULTS } from '../serve/options.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { createProgress } from './progress.js';
import { runServer } from '../serve/run.js';

function int(name: string, min = 0) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

/** `s2s train`: the library's train() with a progress bar, signal handling and printed examples. */
async function trainCommand(o: TrainRunOptions): Promise<void> {
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const progress = createProgress();
  const stop = new AbortController();
  const onSignal = (sig: string): void => {
    if (stop.signal.aborted) process.exit(130);
    stop.abort();
    progress.stop();
    log(`\n${sig}: saving a checkpoint and stopping (press again to quit at once)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await train({
      ...o, signal: stop.signal, onLog: log,
      onBatch: (p) => progress.batch(p),
      onEpoch: (r, total) => progress.epoch(r, total),
    });
    progress.stop();
    if (result.examples.length) {
      log('examples from the held-out split:');
      for (const e of result.examples) log(`  ${e.source}\n    → ${e.translation}\n    (reference: ${e.target})`);
    }
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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

async function evaluateCommand(o: DecodeCliOptions & { model: string; data: string; split: EvalSplit; report?: string; limit?: number }): Promise<void> {
  const r = evaluate({
    model: o.model, data: o.data, split: o.split, limit: o.limit,
    batchSize: o.batchSize, maxLength: o.maxLength, beam: o.beam, lengthPenalty: o.lengthPenalty,
  });
  console.log(`split: ${r.split} (${r.sentences} sentences, ${r.sentencesPerSecond.toFixed(1)} sentences/s)`);
  console.log(`BLEU: ${r.bleu.score.toFixed(2)}  (${r.bleu.precisions.map((p) => p.toFixed(1)).join('/')}, BP ${r.bleu.bp.toFixed(3)})`);
  console.log(`chrF: ${r.chrf.score.toFixed(2)}`);
  console.log(`exact match: ${(r.exactMatch * 100).toFixed(2)}%`);
  if (o.report) {
    const rows = r.pairs.map((p, i) => [p.source, p.target, r.hypotheses[i]].map((c) => c.replace(/[\t\n]/g, ' ')).join('\t'));
    writeFileAtomic(o.report, ['source\treference\thypothesis', ...rows].join('\n') + '\n');
    console.log(`report: ${o.report}`);
  }
}

/** New sentences for the demo: not in the built-in corpus as written, but within its grammar. */
const DEMO_SENTENCES = ['I am happy.', 'She is tired.', 'We see the cat.', 'They don\'t eat bread.', 'Is the dog hungry?'];

async function demo(o: { out: string; epochs?: number }): Promise<void> {
  // The demo always starts fresh: an earlier demo run in the same folder is replaced.
  rmSync(o.out, { recursive: true, force: true });
  await trainCommand({ out: o.out, epochs: o.epochs });
  const bundle = loadBundle(o.out);
  console.log('\ntranslating new sentences:');
  const results = bundle.translator.translate(DEMO_SENTENCES);
  for (const r of results) console.log(`  ${r.source}  →  ${r.text}`);
  console.log(`\ntranslate your own: node bin/s2s.js translate --model ${o.out} "I want the red apples."`);
}

function addDecodeOptions(cmd: Command): Command {
  return cmd
    .option('--beam <k>', 'beam size; 1 = greedy decoding', int('--beam', 1), DECODE_DEFAULTS.beam)
    .option('--length-penalty <alpha>', 'GNMT length-penalty exponent for ranking beam results', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('--length-penalty must be a number ≥ 0');
      return n;
    }, DECODE_DEFAULTS.lengthPenalty)
    .option('--batch-size <n>', 'sentences translated together', int('--batch-size', 1), DECODE_DEFAULTS.batchSize)
    .option('--max-length <n>', 'longest output in tokens (default: the bundle\'s max target length)', int('--max-length', 1));
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('s2s').description('Sequence-to-sequence neural machine translation: train on sentence pairs, translate anywhere.').version(S2S_VERSION);
  const train_ = program
    .command('train')
    .description('train a model on a TSV file of sentence pairs (or the built-in corpus) and save it as a bundle')
    .option('--config <file.yaml>', 'options from a YAML file (keys are these flags); the command line overrides it')
    .option('--resume <dir>', 'continue the run saved in this bundle directory from its last checkpoint (--epochs may be raised)');
  addTrainOptions(train_).action((opts: TrainRunOptions) => trainCommand(opts));
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
  addDecodeOptions(eval_).action((opts) => evaluateCommand(opts));
  program
    .command('serve')
    .description('HTTP JSON API: POST /translate, GET /health, GET /model (and static files with --web)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--port <n>', 'TCP port (0: any free port)', int('--port', 0), SERVE_DEFAULTS.port)
    .option('--host <addr>', 'address to bind; anything but loopback is reachable from other machines', SERVE_DEFAULTS.host)
    .option('--web <dir>', 'serve the files of this folder at / (index.html for /)')
    .option('--batch-window <ms>', 'wait this long for concurrent requests to batch together (0: no wait)', int('--batch-window', 0), SERVE_DEFAULTS.batchWindowMs)
    .option('--max-batch <n>', 'sentences per translate call', int('--max-batch', 1), SERVE_DEFAULTS.maxBatch)
    .option('--max-queue <n>', 'sentences that may wait; beyond that requests get 503 + Retry-After', int('--max-queue', 1), SERVE_DEFAULTS.maxQueue)
    .option('--max-texts <n>', 'sentences in one request (413 beyond)', int('--max-texts', 1), SERVE_DEFAULTS.maxTexts)
    .option('--max-body <bytes>', 'request body limit (413 beyond)', int('--max-body', 1), SERVE_DEFAULTS.maxBody)
    .option('--timeout <ms>', 'time allowed to send the request headers, and again the body', int('--timeout', 1), SERVE_DEFAULTS.headersTimeoutMs)
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
    .command('export')
    .description('copy just what translation needs (config, vocabularies, weights, history; no checkpoints) into a clean folder to ship')
    .requiredOption('--model <dir>', 'model bundle directory (e.g. the --out of s2s train)')
    .requiredOption('--out <dir>', 'folder to write (new, or empty)')
    .action((o: { model: string; out: string }) => {
      const r = exportBundle(o.model, o.out);
      console.log(`wrote ${r.files.length} files (${(r.bytes / 1024 / 1024).toFixed(2)} MiB) to ${r.dir}: ${r.files.join(', ')}`);
    });
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
