/**
 * The `s2s` command line: train, translate, eval.
 */
import { Command, Option, InvalidArgumentError } from 'commander';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PRESETS } from '../train/options.js';
import { train, type TrainRunOptions } from '../train/run.js';
import { addTrainOptions } from './train-flags.js';
import { loadBundle, exportBundle, S2S_VERSION, BundleError } from '../bundle/bundle.js';
import { ConfigError } from '../errors.js';
import { translateCommand } from './translate-command.js';
import { evalCommand } from './eval-command.js';
import { DECODE_DEFAULTS } from '../decode/options.js';
import { SERVE_DEFAULTS } from '../serve/options.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { createProgress } from './progress.js';
import { runServer } from '../serve/run.js';
import { canonicalHostName, canonicalOrigin } from '../serve/origin.js';

/** A repeatable flag whose values are checked (and made canonical) by `check`; a bad value is a usage error. */
function collect(check: (v: string) => string) {
  return (value: string, previous: string[]): string[] => {
    try {
      return [...previous, check(value)];
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function int(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}${max < Number.MAX_SAFE_INTEGER ? ` and ≤ ${max}` : ''}`);
    }
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
    .description('translate sentences given as arguments, or one per line from stdin or --input, streaming to stdout or --output')
    .argument('[text...]', 'sentences to translate (default: read stdin)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--input <file>', 'read sentences from this file, one per line (default: stdin)')
    .option('--output <file>', 'write translations to this file (it appears complete at the end; default: stdout)')
    .option('--json', 'one JSON object per input line: line, source, text, unknown tokens, logProb, finished, nBest (with --n-best), error')
    .option('--attention', 'with --json: add each translation\'s attention weights (models with attention)')
    .addOption(new Option('--on-error <what>', 'a line that cannot be translated (too long, invalid UTF-8): skip = empty output line, a warning, exit code 3 at the end; fail = stop there').choices(['skip', 'fail']).default('skip'))
    .option('--progress', 'show progress on stderr (default: when the output is not a terminal and stderr is)')
    .option('--no-progress', 'never show progress')
    .option('--show-unknown', 'report characters/tokens the model does not know (on stderr)')
    .option('--n-best <n>', 'print the N best translations of each sentence with their scores (needs --beam ≥ N)', int('--n-best', 1))
    .option('--attention-svg <file>', 'draw the attention heatmap (source against output tokens) as SVG; FILE-N.svg for line N > 1');
  addDecodeOptions(translate_).action((texts: string[], opts) => translateCommand(texts, opts));
  const eval_ = program
    .command('eval')
    .description('BLEU, chrF and exact match, with sacreBLEU-style signatures: a model on a split of a corpus (split exactly as in training) or on every line of a file, or a hypothesis file against a file\'s targets')
    .option('--model <dir>', 'model bundle directory (not needed with --hyp)')
    .option('--data <path>', 'the pairs file (or "builtin" for the generated corpus); default: the corpus the model was trained on')
    .addOption(new Option('--split <name>', 'which pairs to score: a split as in training (with --valid-data/--test-data models: those files), or all = every line of --data (default: test; all with --hyp)').choices(['train', 'validation', 'test', 'all']))
    .option('--hyp <file>', 'score this file of translations (one line per pair of --data, in order) instead of translating; no model needed')
    .option('--multi-ref', 'score each distinct source once against all its targets in the file (sacreBLEU with several references)')
    .option('--json', 'print one JSON object: scores, signatures, counts, speed')
    .option('--report <file>', 'write source, reference(s) and hypothesis of every sentence (TSV)')
    .option('--limit <n>', 'score only the first N pairs of the split', int('--limit', 1));
  addDecodeOptions(eval_).action((opts) => evalCommand(opts));
  program
    .command('serve')
    .description('HTTP JSON API: POST /translate, GET /health, GET /ready, GET /model (and static files with --web)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .option('--port <n>', 'TCP port (0: any free port)', int('--port', 0, 65535), SERVE_DEFAULTS.port)
    .option('--host <addr>', 'address to bind; anything but loopback is reachable from other machines', SERVE_DEFAULTS.host)
    .option('--web <dir>', 'serve the files of this folder at / (index.html for /)')
    .option('--batch-window <ms>', 'wait this long for concurrent requests to batch together (0: no wait)', int('--batch-window', 0), SERVE_DEFAULTS.batchWindowMs)
    .option('--max-batch <n>', 'sentences per translate call', int('--max-batch', 1), SERVE_DEFAULTS.maxBatch)
    .option('--max-queue <n>', 'sentences that may wait; beyond that requests get 503 + Retry-After', int('--max-queue', 1), SERVE_DEFAULTS.maxQueue)
    .option('--max-texts <n>', 'sentences in one request (413 beyond)', int('--max-texts', 1), SERVE_DEFAULTS.maxTexts)
    .option('--max-body <bytes>', 'request body limit (413 beyond)', int('--max-body', 1), SERVE_DEFAULTS.maxBody)
    .option('--timeout <ms>', 'time allowed to send the request headers, and again the body', int('--timeout', 1), SERVE_DEFAULTS.headersTimeoutMs)
    .option('--write-timeout <ms>', 'drop a connection whose reply makes no progress this long (a client that does not read)', int('--write-timeout', 1), SERVE_DEFAULTS.writeTimeoutMs)
    .option('--max-output-tokens <n>', "output tokens per sentence at most (caps the model's maxTargetLength)", int('--max-output-tokens', 1), SERVE_DEFAULTS.maxOutputTokens)
    .option('--max-response-bytes <n>', 'largest reply; a request that could exceed it gets 413 before translation', int('--max-response-bytes', 1), SERVE_DEFAULTS.maxResponseBytes)
    .option('--max-connections <n>', 'open connections at most', int('--max-connections', 1), SERVE_DEFAULTS.maxConnections)
    .option('--allow-host <name>', 'also answer requests whose Host is NAME (repeatable; e.g. the name a reverse proxy sends)', collect(canonicalHostName), [])
    .option('--allow-origin <origin>', 'let pages of ORIGIN (scheme://host[:port]) call the API, with CORS (repeatable)', collect(canonicalOrigin), [])
    .action((o) => runServer({
      model: o.model, port: o.port, host: o.host, webDir: o.web ?? null, batchWindowMs: o.batchWindow, maxBatch: o.maxBatch,
      maxQueue: o.maxQueue, maxTexts: o.maxTexts, maxBody: o.maxBody, headersTimeoutMs: o.timeout, bodyTimeoutMs: o.timeout,
      writeTimeoutMs: o.writeTimeout, maxOutputTokens: o.maxOutputTokens, maxResponseBytes: o.maxResponseBytes, maxConnections: o.maxConnections,
      allowHosts: o.allowHost, allowOrigins: o.allowOrigin,
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
    .command('quantize')
    .description('store the embeddings and every weight matrix as int8 (one float32 scale per output channel; biases and layer norms stay float32): a bundle about 4× smaller that translates faster; training needs the float32 bundle')
    .requiredOption('--model <dir>', 'float32 model bundle directory')
    .requiredOption('--out <dir>', 'folder to write the int8 bundle into (new, or empty)')
    .action(async (o: { model: string; out: string }) => {
      const { quantizeBundle } = await import('../bundle/quantize.js');
      const r = quantizeBundle(o.model, o.out);
      const mib = (b: number): string => (b / 1024 / 1024).toFixed(2);
      console.log(
        `quantized ${r.tensors} matrices (${r.values.toLocaleString('en')} weights) to int8, ${r.floatTensors} tensors (${r.floatValues.toLocaleString('en')} values) left float32: ` +
          `${mib(r.bytes)} MiB (${(r.bytes / r.sourceBytes).toFixed(2)}× the ${mib(r.sourceBytes)} MiB of ${o.model}) in ${r.dir}: ${r.files.join(', ')}`,
      );
    });
  program
    .command('average')
    .description('average the weights of checkpoints or bundles of one model into a new bundle (fairseq/Marian checkpoint averaging); with --last K, the last K checkpoints of a run')
    .argument('<dirs...>', 'checkpoint or bundle directories; with --last, one run: its model folder (checkpoints in it) or its --checkpoint-dir')
    .requiredOption('--out <dir>', 'bundle folder to write (new, empty, or an earlier average)')
    .option('--last <k>', 'average the last K checkpoints of the run (train with --keep-checkpoints K to keep them)', int('--last', 1))
    .action(async (dirs: string[], o: { out: string; last?: number }) => {
      const { averageCheckpoints, lastCheckpoints } = await import('../train/average.js');
      if (o.last !== undefined && dirs.length !== 1) throw new ConfigError(`--last ${o.last} takes one run folder, got ${dirs.length}`);
      const inputs = o.last !== undefined ? lastCheckpoints(dirs[0], o.last) : dirs;
      const r = averageCheckpoints(inputs, o.out);
      console.log(`averaged ${r.inputs.length} (${r.inputs.join(', ')}): ${r.parameters.toLocaleString('en')} weights → ${r.out}`);
    });
  program
    .command('export-web')
    .description('write a static web page that translates with the model in the browser (serve the folder from any static host)')
    .requiredOption('--model <dir>', 'model bundle directory')
    .requiredOption('--out <dir>', 'folder to write (index.html, page.css, s2s-web.js, the .wasm kernels, _headers, model/)')
    .action(async (o: { model: string; out: string }) => {
      const { exportWeb } = await import('../web/export.js');
      const r = exportWeb(o.model, o.out);
      for (const w of r.warnings) console.error(`warning: ${w}`);
      if (r.replaced.length) console.log(`replaced an earlier export in ${o.out}/model (${r.replaced.join(', ')})`);
      console.log(`wrote ${r.files.length} files (${(r.bytes / 1024).toFixed(1)} KiB) to ${r.outDir}; try: cd ${r.outDir} && python3 -m http.server`);
      if (!r.files.some((f) => f.endsWith('.wasm'))) console.log('note: this build has no wasm kernels (npm run build:wasm needs clang-16 and lld-16); the page runs on the js kernels');
      console.log('note: _headers asks Netlify / Cloudflare Pages for the COOP/COEP headers that give the wasm kernels a shared memory (s2s serve sends them; other hosts: see the file)');
    });
  program
    .command('export-onnx')
    .description('export the model to ONNX (encoder.onnx, decoder_step.onnx, tokenizer.json, vocab.json, model.json, README.md) for ONNX Runtime, Triton, …')
    .requiredOption('--model <dir>', 'model bundle directory')
    .requiredOption('--out <dir>', 'folder to write')
    .action(async (o: { model: string; out: string }) => {
      const { exportOnnx } = await import('../onnx/export.js');
      const r = exportOnnx(o.model, o.out);
      console.log(`wrote ${r.files.join(', ')} (${(r.bytes / 1024).toFixed(1)} KiB) to ${r.outDir}: ${r.contract.architecture}, ${r.contract.weights} weights, opset ${r.contract.opset}; the contract is in ${r.outDir}/README.md`);
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
      if (bundle.history.length === 0) throw new BundleError(`${join(o.model, 'history.json')}: no epochs recorded`);
      mkdir(dirname(o.out), { recursive: true });
      writeFileAtomic(o.out, historySvg(bundle.history, { subtitle: o.model, bestEpoch: bestEpoch(bundle.history, bundle.config.train?.monitor ?? 'loss') }));
      console.log(o.out);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // Usage errors reject with a CommanderError instead of exiting, so bin/s2s.js picks the exit code (cli/exit.ts).
  const overrideExit = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(overrideExit);
  };
  overrideExit(program);
  await program.parseAsync(argv);
}
