/**
 * Transformer benchmark (issue 12): the reference model — d_model 256, 4
 * heads, 3 + 3 layers, ff 1024, a joint 8,000-token BPE vocabulary with tied
 * embeddings, dropout 0.1, label smoothing 0.1, Adam — trained and decoded by
 * s2s and by PyTorch (torch.nn.Transformer, bench/torch_transformer.py) in
 * the same run, on the same data:
 *   - training steps on identical ~3,000-token batches of fra.txt (native
 *     kernels at 2 and 1 OpenBLAS threads, the TypeScript kernels, PyTorch at
 *     2 and 1 threads): ms/step, target tokens/s, GFLOPS, ratio to PyTorch;
 *   - decoding test-split sentences greedily and with beam 5 at batch 1 and
 *     64 with the same weights (s2s's, briefly trained, exported to PyTorch):
 *     sentences/s, ratio to PyTorch, and how many outputs agree token for token.
 * Every measurement runs in its own child process (this script with
 * --worker, or the Python script), one after another, with its thread count
 * set in the child's environment.
 *
 * With --model DIR (a trained bundle of the reference shape, e.g. one made
 * by configs/fra-transformer.yaml) the decoding rows use its weights and its
 * tokenization of its own test split instead of briefly pretrained ones, so
 * outputs are real translations; --no-train leaves out the training rows.
 *
 * Usage: npm run bench:transformer [-- --steps 10 --warmup 3 --js-steps 2 --no-js --no-torch --no-decode --no-train
 *        --batch-tokens 3000 --pretrain-steps 200 --pretrain-tokens 1000 --decode-threads 2 --torch-libdir DIR|system
 *        --model DIR --rounds N --work-dir DIR]
 * See bench/README.md ("Transformer benchmark") for the columns and the FLOP count.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Adam, Rng, kernels, setKernels, type Kernels, type Tensor } from '../src/engine/index.js';
import { createModel, type IdBatch, type TrainingBatch, type TranslationModel } from '../src/model/model.js';
import { greedyDecode } from '../src/decode/greedy.js';
import { beamSearch } from '../src/decode/beam.js';
import {
  BpeTokenizer, Vocab, encodePairs, evenlySpaced, learnBpe, makeBatch, readPairsSync, splitBySource,
  type Batch, type Example,
} from '../src/data/index.js';
import { PAD_ID } from '../src/data/vocab.js';
import { splitIndices } from '../src/data/batching.js';
import { ReplicaPool } from '../src/train/replica-pool.js';
import { loadBundle } from '../src/bundle/bundle.js';
import { readSplit } from '../src/data/read-split.js';

// ------------------------------------------------------------ configuration

/** The issue-12 reference model and recipe (both frameworks read it from the data file). */
const REFERENCE = {
  vocabSize: 8000,
  modelDim: 256,
  heads: 4,
  encoderLayers: 3,
  decoderLayers: 3,
  ffDim: 1024,
  dropout: 0.1,
  maxPositions: 1024,
  labelSmoothing: 0.1,
  learningRate: 5e-4,
  adamBeta1: 0.9,
  adamBeta2: 0.98,
  adamEpsilon: 1e-9,
};
export type ReferenceConfig = typeof REFERENCE;
/** 7,900 joint merges give 8,003 token types with the 4 reserved ids; the vocabulary keeps the 8,000 most frequent. */
const BPE_MERGES = 7900;

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..'); // dist/bench → repo root
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const stringOption = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
};
const option = (name: string, fallback: number): number => {
  const v = stringOption(name);
  return v === undefined ? fallback : Number(v);
};
const STEPS = option('steps', 10);
const WARMUP = option('warmup', 3);
const JS_STEPS = option('js-steps', 2);
const ROUNDS = option('rounds', 1);
const BATCH_TOKENS = option('batch-tokens', 3000);
/** Steps of s2s training (on other batches) before its weights are exported for decoding, so outputs end like translations. */
const PRETRAIN_STEPS = option('pretrain-steps', 200);
/** Sentences decoded before each decoding row's timed pass (in that row's batches; at least one batch), on both sides (BenchData.decode). */
const DECODE_WARMUP_SENTENCES = 8;
/** Token budget of the pretraining batches: small batches, many updates (outputs learn to end sooner per CPU-second). */
const PRETRAIN_TOKENS = option('pretrain-tokens', 1000);
const MAX_LENGTH = option('max-length', 100);
const LENGTH_PENALTY = 0.6;
/** Sentences decoded at batch 64 (and at batch 1). */
const DECODE_SENTENCES = option('decode-sentences', 128);
const DECODE_SINGLE = option('decode-single', 32);
const DECODE_THREADS = option('decode-threads', 2);
const DEFAULT_TORCH_LIBDIR = '/usr/lib/x86_64-linux-gnu/openblas-openmp';
/**
 * PyTorch is measured with the OpenMP OpenBLAS when it is installed (its own OpenMP team and a pthread
 * OpenBLAS pool oversubscribe the cores; bench/README.md, "BLAS configuration"); `--torch-libdir system` keeps
 * whatever libblas.so.3 resolves to.
 */
const TORCH_LIBDIR = ((): string | undefined => {
  const v = stringOption('torch-libdir');
  if (v === 'system') return undefined;
  return v ?? (existsSync(DEFAULT_TORCH_LIBDIR) ? DEFAULT_TORCH_LIBDIR : undefined);
})();
const CORPUS = join(root, '..', 'shared', 'data', 'fra-eng', 'fra.txt');
/** A trained bundle whose weights and test split the decoding rows use (instead of pretrained weights). */
const MODEL_DIR = stringOption('model');
const TRAIN_ROWS = !flag('no-train');
const DECODE_ROWS = !flag('no-decode');

// ------------------------------------------------------------ FLOPs

/** The padded shape of one batch. */
export interface BatchShape {
  size: number;
  srcMaxLen: number;
  tgtMaxLen: number;
}

/**
 * GEMM FLOPs of one forward pass over a padded batch (a multiply-add is 2;
 * B sentences, S source and T target positions, d model, f feed-forward, V vocabulary):
 *   encoder layer  2·B·S·(4d² + 2·d·f)                Q, K, V, output projections; two FF matrices
 *                + 2·2·B·S²·d                        scores Q·Kᵀ and probabilities·V, all heads
 *   decoder layer  2·B·T·(4d² + 2d² + 2·d·f)         self-attention projections; cross-attention Q and output; FF
 *                + 2·B·S·2d²                         cross-attention K, V of the encoder output
 *                + 2·2·B·T²·d + 2·2·B·T·S·d          self (full square, as computed) and cross attention
 *   output         2·B·T·d·V                          tied projection to the vocabulary
 * A training step is 3× the forward: the backward pass multiplies twice per
 * forward product (input and weight gradients). Embedding lookups, softmax,
 * layer norm, dropout and Adam are not counted.
 */
export function forwardFlops(b: BatchShape, c: Pick<ReferenceConfig, 'modelDim' | 'ffDim' | 'vocabSize' | 'encoderLayers' | 'decoderLayers'>): number {
  const { size: B, srcMaxLen: S, tgtMaxLen: T } = b;
  const d = c.modelDim, f = c.ffDim, V = c.vocabSize;
  const enc = 2 * B * S * (4 * d * d + 2 * d * f) + 4 * B * S * S * d;
  const dec = 2 * B * T * (6 * d * d + 2 * d * f) + 2 * B * S * 2 * d * d + 4 * B * T * T * d + 4 * B * T * S * d;
  return c.encoderLayers * enc + c.decoderLayers * dec + 2 * B * T * d * V;
}

// ------------------------------------------------------------ data

/** A batch as both frameworks read it (flat arrays, row-major, PAD-padded). */
export interface FileBatch {
  size: number;
  srcMaxLen: number;
  tgtMaxLen: number;
  srcIds: number[];
  srcLengths: number[];
  tgtIn: number[];
  tgtOut: number[];
  tgtLengths: number[];
}

interface DecodeRun {
  batch: number;
  beam: number;
  sentences: number;
}

/** The file bench/transformer.ts writes and both workers read. */
export interface BenchData {
  config: ReferenceConfig;
  /** Timed training steps: step i (warm-up included) trains on train[i % length]. */
  train: FileBatch[];
  /** s2s-only training before the weights are exported for decoding. */
  pretrain: FileBatch[];
  decode: { sources: number[][]; maxLength: number; lengthPenalty: number; warmupSentences: number; runs: DecodeRun[]; model?: string };
}

interface Prepared {
  data: BenchData;
  describe: string[];
}

/**
 * Token-budget batches, as fairseq's --max-tokens: each pool of examples
 * (shuffled, then sorted by source then target length) is cut so that a
 * batch's padded source and padded target (BOS/EOS included) each stay
 * within `budget` tokens. Batch order is shuffled.
 */
export function tokenBatches(examples: readonly Example[], budget: number, rng: Rng, poolBatches = 100): number[][] {
  const order = Array.from(examples.keys());
  rng.shuffle(order);
  const pool = Math.max(1, Math.round((poolBatches * budget) / 10)); // ~10 tokens a sentence
  const out: number[][] = [];
  for (let p = 0; p < order.length; p += pool) {
    const part = order.slice(p, p + pool).sort((a, b) => examples[a].src.length - examples[b].src.length || examples[a].tgt.length - examples[b].tgt.length);
    let cur: number[] = [], maxS = 0, maxT = 0;
    for (const i of part) {
      const s = Math.max(maxS, examples[i].src.length), t = Math.max(maxT, examples[i].tgt.length + 1);
      if (cur.length > 0 && Math.max(s, t) * (cur.length + 1) > budget) {
        out.push(cur);
        cur = []; maxS = 0; maxT = 0;
      }
      cur.push(i);
      maxS = Math.max(maxS, examples[i].src.length);
      maxT = Math.max(maxT, examples[i].tgt.length + 1);
    }
    if (cur.length > 0) out.push(cur);
  }
  rng.shuffle(out);
  return out;
}

function fileBatch(b: Batch): FileBatch {
  return {
    size: b.size, srcMaxLen: b.srcMaxLen, tgtMaxLen: b.tgtMaxLen,
    srcIds: Array.from(b.srcIds), srcLengths: Array.from(b.srcLengths),
    tgtIn: Array.from(b.tgtIn), tgtOut: Array.from(b.tgtOut), tgtLengths: Array.from(b.tgtLengths),
  };
}

function prepare(): Prepared {
  const t0 = performance.now();
  const { pairs } = readPairsSync(CORPUS, {});
  const split = splitBySource(pairs);
  const texts = split.train.flatMap((p) => [p.source, p.target]);
  const bpe = new BpeTokenizer(learnBpe(texts, { merges: BPE_MERGES }));
  const learnSec = (performance.now() - t0) / 1000;
  const vocab = Vocab.build(texts.map((t) => bpe.tokenize(t)), { maxSize: REFERENCE.vocabSize });
  const tokenizers = { source: bpe, target: bpe }, vocabs = { source: vocab, target: vocab };
  const { examples } = encodePairs(split.train, tokenizers, vocabs);
  const plan = tokenBatches(examples, BATCH_TOKENS, new Rng(12));
  const timed = WARMUP + STEPS;
  const train = plan.slice(0, timed).map((idx) => fileBatch(makeBatch(examples, idx)));
  const pretrain = tokenBatches(examples, PRETRAIN_TOKENS, new Rng(13)).slice(0, PRETRAIN_STEPS).map((idx) => fileBatch(makeBatch(examples, idx)));
  const trained = MODEL_DIR && DECODE_ROWS ? trainedDecodeSources(MODEL_DIR) : null;
  const sources = trained?.sources ?? encodePairs(evenlySpaced(split.test, DECODE_SENTENCES), tokenizers, vocabs).examples.map((e) => Array.from(e.src));
  const runs: DecodeRun[] = [
    { batch: 1, beam: 1, sentences: Math.min(DECODE_SINGLE, sources.length) },
    { batch: 64, beam: 1, sentences: sources.length },
    { batch: 1, beam: 5, sentences: Math.min(DECODE_SINGLE, sources.length) },
    { batch: 64, beam: 5, sentences: sources.length },
  ];
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const all = plan.map((idx) => makeBatch(examples, idx));
  const meanOf = (f: (b: Batch) => number): number => sum(all.map(f)) / all.length;
  const describe = [
    `data: ${CORPUS}, hash split: ${split.train.length.toLocaleString('en')} training pairs, ${split.test.length.toLocaleString('en')} test pairs`,
    `  joint BPE: ${BPE_MERGES.toLocaleString('en')} merges learned by s2s (src/data/bpe.ts) on both sides of every training pair (${learnSec.toFixed(1)} s), vocabulary ${vocab.size.toLocaleString('en')} (the most frequent types)`,
    `  batches: padded source and target each ≤ ${BATCH_TOKENS} tokens (fairseq's --max-tokens), pools sorted by length; the epoch's ${all.length.toLocaleString('en')} batches average ${meanOf((b) => b.size).toFixed(0)} sentences, ${meanOf((b) => b.tokens).toFixed(0)} target tokens (${meanOf((b) => b.size * b.tgtMaxLen).toFixed(0)} padded), ${meanOf((b) => sum(Array.from(b.srcLengths))).toFixed(0)} source tokens (${meanOf((b) => b.size * b.srcMaxLen).toFixed(0)} padded)`,
    ...(trained ? [`  decoding: ${trained.describe}`] : []),
    `  timed: the first ${timed} batches of that shuffled epoch (the same for every row: ${WARMUP} warm-up + ${STEPS} timed): ${sum(train.slice(WARMUP).map((b) => sum(b.tgtLengths)))} target tokens; decoding: ${sources.length} test sentences (evenly spaced), mean ${(sum(sources.map((s) => s.length)) / sources.length).toFixed(1)} tokens, max output ${MAX_LENGTH}`,
  ];
  return {
    data: {
      config: trained?.config ?? REFERENCE, train, pretrain,
      decode: { sources, maxLength: MAX_LENGTH, lengthPenalty: LENGTH_PENALTY, warmupSentences: DECODE_WARMUP_SENTENCES, runs, model: trained ? resolve(MODEL_DIR as string) : undefined },
    },
    describe,
  };
}

/**
 * --model DIR: the bundle's own test split (evenly spaced sentences), encoded
 * by its tokenizer and vocabulary, and the reference config with its
 * vocabulary size and position table. The bundle must have the reference
 * shape, which is what PyTorch's side builds.
 */
function trainedDecodeSources(dir: string): { sources: number[][]; config: ReferenceConfig; describe: string } {
  const bundle = loadBundle(dir);
  const m = bundle.config.model, r = REFERENCE;
  const shape = m.arch === 'transformer' && m.modelDim === r.modelDim && m.heads === r.heads && m.encoderLayers === r.encoderLayers
    && m.decoderLayers === r.decoderLayers && m.ffDim === r.ffDim && m.activation === 'relu' && !m.postNorm
    && m.positions === 'sinusoidal' && m.tieEmbeddings && m.srcVocabSize === m.tgtVocabSize;
  if (!shape) throw new Error(`--model ${dir}: not a bundle of the reference shape (d ${r.modelDim}, ${r.heads} heads, ${r.encoderLayers}+${r.decoderLayers} pre-LN ReLU layers, ff ${r.ffDim}, sinusoidal, tied shared vocabulary)`);
  const corpus = existsSync(bundle.config.data.corpus) ? bundle.config.data.corpus : CORPUS;
  const { split } = readSplit(corpus, bundle.config.data);
  const parts = bundle.translator.parts;
  const pairs = evenlySpaced(split.test, DECODE_SENTENCES);
  const { examples } = encodePairs(pairs, { source: parts.sourceTokenizer, target: parts.targetTokenizer }, bundle.vocabs);
  return {
    sources: examples.map((e) => Array.from(e.src)),
    config: { ...r, vocabSize: m.srcVocabSize, maxPositions: m.maxPositions },
    describe: `the trained bundle ${dir} (${bundle.history.length} epochs), ${examples.length} sentences of its test split of ${corpus} (evenly spaced), encoded by its tokenizer`,
  };
}

// ------------------------------------------------------------ measuring

/**
 * CPU seconds the whole machine has spent busy (all cores, /proc/stat), or
 * NaN off Linux. Compared with this process's own CPU time it shows how much
 * other processes competed with a measurement.
 */
function machineBusySeconds(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    return (total - f[3] - f[4]) / 100; // USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}

/** Measures the share of the machine's CPU that other processes used while `fn` ran. */
export class Interference {
  private busy = 0;
  private own = 0;
  private wall = 0;
  measure<T>(fn: () => T): T {
    const b0 = machineBusySeconds(), c0 = process.cpuUsage(), t0 = performance.now();
    const r = fn();
    const c = process.cpuUsage(c0);
    this.wall += (performance.now() - t0) / 1000;
    this.busy += machineBusySeconds() - b0;
    this.own += (c.user + c.system) / 1e6;
    return r;
  }
  async measureAsync<T>(fn: () => Promise<T>): Promise<T> {
    const b0 = machineBusySeconds(), c0 = process.cpuUsage(), t0 = performance.now();
    const r = await fn();
    const c = process.cpuUsage(c0); // the whole process: worker threads included
    this.wall += (performance.now() - t0) / 1000;
    this.busy += machineBusySeconds() - b0;
    this.own += (c.user + c.system) / 1e6;
    return r;
  }
  /** Other processes' CPU as a fraction of all cores over the measured time. */
  get others(): number {
    return Math.max(0, this.busy - this.own) / (this.wall * availableParallelism());
  }
}

const sumOf = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** What a training worker (either framework) reports. */
interface TrainResult {
  /** Seconds of each timed step. */
  times?: number[];
  /** Index into BenchData.train of each timed step's batch. */
  indices?: number[];
  warmup?: number;
  losses?: number[];
  others?: number;
  error?: string;
  /** s2s: kernel description; PyTorch: version, threads, BLAS. */
  kernels?: string;
  torch?: string;
  threads?: number;
  blasVariant?: string;
}

interface DecodeRunResult extends DecodeRun {
  seconds: number;
  others: number;
  outputs: number[][];
}

interface DecodeResult {
  runs?: DecodeRunResult[];
  error?: string;
  kernels?: string;
  torch?: string;
  threads?: number;
  blasVariant?: string;
  /** PyTorch: largest |logit| difference between its incremental decoder and nn.Transformer's full forward. */
  incrementalVsFull?: number;
  /** s2s: mean loss of the last pretraining steps. */
  pretrainLoss?: number;
  pretrainSeconds?: number;
}

/** This process's scheduling policy from /proc/self/stat ('normal', or e.g. 'SCHED_FIFO priority 10' under chrt -f 10). */
function schedulingPolicy(): string {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
    const rtPriority = Number(fields[40 - 3]), policy = Number(fields[41 - 3]);
    const names = ['normal (SCHED_OTHER)', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE'];
    return policy === 0 ? names[0] : `${names[policy] ?? `policy ${policy}`} priority ${rtPriority} (children inherit it)`;
  } catch {
    return 'unknown';
  }
}

function threadEnv(threads: number): NodeJS.ProcessEnv {
  // S2S_NATIVE_THREADS: the addon's own threads (attention, layer norm backward).
  return { OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads), S2S_NATIVE_THREADS: String(threads) };
}

/** Runs a child and parses the JSON object on the last line of its stdout; its stderr lines are echoed, indented. */
function runChild<T extends { error?: string }>(command: string, argv: string[], env: NodeJS.ProcessEnv, label: string): T {
  const r = spawnSync(command, argv, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 28 });
  if (r.stderr) for (const line of r.stderr.trim().split('\n')) console.log(`  [${label}] ${line}`);
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status !== 0) return { error: `${label} exited with ${r.status ?? r.signal}: ${last.slice(0, 300)}` } as T;
  try {
    return JSON.parse(last) as T;
  } catch {
    return { error: `unexpected output from ${label}: ${last.slice(0, 200)}` } as T;
  }
}

const PYTHON = '/usr/bin/python3';

function torchEnv(threads: number): NodeJS.ProcessEnv {
  return {
    ...threadEnv(threads),
    ...(TORCH_LIBDIR ? { LD_LIBRARY_PATH: [TORCH_LIBDIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {}),
  };
}

function torchTrain(dataFile: string, threads: number): TrainResult {
  if (!existsSync(PYTHON)) return { error: `${PYTHON} not found` };
  return runChild<TrainResult>(PYTHON, [join(root, 'bench', 'torch_transformer.py'), 'train', '--batches', dataFile, '--threads', String(threads), ...trainArgs(WARMUP, STEPS)], torchEnv(threads), `torch ${threads}t`);
}

function torchDecode(dataFile: string, weights: string): DecodeResult {
  if (!existsSync(PYTHON)) return { error: `${PYTHON} not found` };
  return runChild<DecodeResult>(PYTHON, [join(root, 'bench', 'torch_transformer.py'), 'decode', '--batches', dataFile, '--weights', weights, '--threads', String(DECODE_THREADS)], torchEnv(DECODE_THREADS), 'torch decode');
}

/**
 * Training workers (both frameworks) warm up on batches 0 … warmup−1 and time batches first … first+steps−1:
 * every row times the same batches (the js row fewer of them, after one warm-up step).
 */
function trainArgs(warmup: number, steps: number): string[] {
  return ['--warmup', String(warmup), '--first', String(WARMUP), '--steps', String(steps)];
}

function s2sTrain(dataFile: string, threads: number, kernels: 'native' | 'js', warmup: number, steps: number, dataParallel = 1): TrainResult {
  return runChild<TrainResult>(process.execPath, [fileURLToPath(import.meta.url), '--worker', 'train', '--data', dataFile, '--data-parallel', String(dataParallel), ...trainArgs(warmup, steps)],
    { ...threadEnv(threads), S2S_KERNELS: kernels }, `s2s ${kernels} ${threads}t${dataParallel > 1 ? ` ×${dataParallel}` : ''}`);
}

function s2sDecode(dataFile: string, weights: string): DecodeResult {
  return runChild<DecodeResult>(process.execPath, [fileURLToPath(import.meta.url), '--worker', 'decode', '--data', dataFile, '--weights', weights], { ...threadEnv(DECODE_THREADS), S2S_KERNELS: 'native' }, 's2s decode');
}

// ------------------------------------------------------------ s2s workers

function readData(): BenchData {
  return JSON.parse(readFileSync(stringOption('data') as string, 'utf8')) as BenchData;
}

/** The reference model as an s2s Transformer (attention dropout = dropout, as nn.Transformer's single dropout). */
function s2sModel(c: ReferenceConfig, seed: number): TranslationModel {
  return createModel({
    arch: 'transformer', modelDim: c.modelDim, heads: c.heads, encoderLayers: c.encoderLayers, decoderLayers: c.decoderLayers,
    layers: c.encoderLayers, ffDim: c.ffDim, activation: 'relu', postNorm: false, positions: 'sinusoidal', maxPositions: c.maxPositions,
    dropout: c.dropout, attentionDropout: c.dropout, tieEmbeddings: true, srcVocabSize: c.vocabSize, tgtVocabSize: c.vocabSize,
  }, seed);
}

function trainingBatch(b: FileBatch): TrainingBatch {
  return {
    size: b.size, srcIds: Int32Array.from(b.srcIds), srcLengths: Int32Array.from(b.srcLengths), srcMaxLen: b.srcMaxLen,
    tgtIn: Int32Array.from(b.tgtIn), tgtOut: Int32Array.from(b.tgtOut), tgtLengths: Int32Array.from(b.tgtLengths), tgtMaxLen: b.tgtMaxLen,
  };
}

/** One training step as the trainer takes it (no clipping): forward, backward, Adam. Returns the loss. */
function trainStep(model: TranslationModel, opt: Adam, batch: TrainingBatch, rng: Rng, labelSmoothing: number): number {
  opt.zeroGrad();
  const r = model.forward(batch, { training: true, rng, labelSmoothing });
  const loss = r.loss.item();
  r.loss.backward();
  opt.update();
  return loss;
}

function adamFor(model: TranslationModel, c: ReferenceConfig): Adam {
  return new Adam(model.parameters(), { learningRate: c.learningRate, beta1: c.adamBeta1, beta2: c.adamBeta2, epsilon: c.adamEpsilon });
}

/** A padded batch's rows as examples (source, target without EOS), so it can be split as the trainer splits batches. */
function batchExamples(b: FileBatch): Example[] {
  return Array.from({ length: b.size }, (_, r) => ({
    src: Int32Array.from(b.srcIds.slice(r * b.srcMaxLen, r * b.srcMaxLen + b.srcLengths[r])),
    tgt: Int32Array.from(b.tgtOut.slice(r * b.tgtMaxLen, r * b.tgtMaxLen + b.tgtLengths[r] - 1)),
    index: r,
  }));
}

/**
 * Child process: time s2s training steps on the data file's batches (see
 * trainArgs); with --data-parallel N, each step as `s2s train
 * --data-parallel N` takes it (the batch dealt to N replicas, one thread each).
 */
async function workerTrain(): Promise<TrainResult> {
  const data = readData();
  const c = data.config;
  const k = kernels();
  const model = s2sModel(c, 1);
  const opt = adamFor(model, c);
  const rng = new Rng(3);
  const parallel = option('data-parallel', 1);
  const pool = parallel > 1 ? new ReplicaPool(model, parallel - 1) : null;
  const batches = data.train.map(trainingBatch);
  const parts = data.train.map((b) => {
    const examples = batchExamples(b);
    return splitIndices(examples, examples.map((_, i) => i), parallel).map((g) => makeBatch(examples, g));
  });
  const n = batches.length;
  const step = async (i: number): Promise<number> => {
    if (!pool) return trainStep(model, opt, batches[i % n], rng, c.labelSmoothing);
    opt.zeroGrad();
    pool.syncParameters();
    const loss = await pool.pass(model, parts[i % n], batches[i % n].tgtLengths.reduce((a, b) => a + b, 0), { training: true, labelSmoothing: c.labelSmoothing }, rng);
    opt.update();
    return loss;
  };
  try {
    const warmup = option('warmup', 3), first = option('first', warmup), steps = option('steps', 10);
    for (let i = 0; i < warmup; i++) await step(i);
    const busy = new Interference();
    const times: number[] = [], indices: number[] = [], losses: number[] = [];
    for (let i = first; i < first + steps; i++) {
      const t0 = performance.now();
      losses.push(await busy.measureAsync(() => step(i)));
      times.push((performance.now() - t0) / 1000);
      indices.push(i % n);
    }
    return { times, indices, warmup, losses, others: busy.others, kernels: k.description + (pool ? ` (data-parallel: ${parallel} replicas, 1 thread each)` : '') };
  } finally {
    await pool?.close();
  }
}

/**
 * Child process (`--worker profile`, run by hand): where an s2s training
 * step's time goes. Every kernel call is timed (GEMMs by shape and
 * transposition), so the table shows kernel time per kernel and what is
 * left for JavaScript (tape closures, allocation, GC), per phase.
 */
function workerProfile(): TrainResult {
  const data = readData();
  const c = data.config;
  const base = kernels();
  const totals = new Map<string, { ms: number; calls: number; flops: number }>();
  let phase = 'forward';
  const wrapped: Record<string, unknown> = { ...base };
  for (const [name, fn] of Object.entries(base)) {
    if (typeof fn !== 'function') continue;
    wrapped[name] = (...a: unknown[]): unknown => {
      let key = `${phase} ${name}`, flops = 0;
      if (name === 'gemm') {
        const [tA, tB, m, n, k] = a as [boolean, boolean, number, number, number];
        // Token counts (which vary by batch) shown as N, so one row per product of the model.
        const d = (x: number): string => (x > 1100 && x !== 8000 ? 'N' : String(x));
        key = `${phase} gemm${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${d(m)}x${d(n)}x${d(k)}`;
        flops = 2 * m * n * k;
      }
      const t0 = performance.now();
      const r = (fn as (...x: unknown[]) => unknown).apply(base, a);
      const e = totals.get(key) ?? { ms: 0, calls: 0, flops: 0 };
      e.ms += performance.now() - t0; e.calls++; e.flops += flops;
      totals.set(key, e);
      return r;
    };
  }
  setKernels(wrapped as unknown as Kernels);
  const model = s2sModel(c, 1);
  const opt = adamFor(model, c);
  const rng = new Rng(3);
  const batches = data.train.map(trainingBatch);
  const warmup = option('warmup', 3), steps = option('steps', 10);
  const phases = { forward: 0, backward: 0, update: 0 };
  let usage0 = process.resourceUsage();
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) { totals.clear(); phases.forward = phases.backward = phases.update = 0; usage0 = process.resourceUsage(); }
    const b = batches[i % batches.length];
    let t = performance.now();
    phase = 'forward';
    opt.zeroGrad();
    const r = model.forward(b, { training: true, rng, labelSmoothing: c.labelSmoothing });
    r.loss.item();
    phases.forward += performance.now() - t; t = performance.now();
    phase = 'backward';
    r.loss.backward();
    phases.backward += performance.now() - t; t = performance.now();
    phase = 'update';
    opt.update();
    phases.update += performance.now() - t;
  }
  const usage = process.resourceUsage();
  const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const all = phases.forward + phases.backward + phases.update;
  console.log(`per step: user CPU ${((usage.userCPUTime - usage0.userCPUTime) / 1000 / steps).toFixed(0)} ms, system CPU ${((usage.systemCPUTime - usage0.systemCPUTime) / 1000 / steps).toFixed(0)} ms, ${Math.round((usage.minorPageFault - usage0.minorPageFault) / steps)} minor page faults`);
  console.log(`ms per step: ${(all / steps).toFixed(1)} (forward ${(phases.forward / steps).toFixed(1)}, backward ${(phases.backward / steps).toFixed(1)}, update ${(phases.update / steps).toFixed(1)})`);
  for (const ph of ['forward', 'backward', 'update'] as const) {
    const k = rows.filter(([key]) => key.startsWith(ph)).reduce((s, [, e]) => s + e.ms, 0);
    console.log(`  ${ph}: kernels ${(k / steps).toFixed(1)} ms, the rest (JS, allocation, GC) ${((phases[ph] - k) / steps).toFixed(1)} ms`);
  }
  console.log('kernel                                   ms/step  calls/step  share  GFLOPS');
  for (const [key, e] of rows.slice(0, option('top', 40))) {
    console.log(`${key.padEnd(40)} ${(e.ms / steps).toFixed(2).padStart(8)} ${(e.calls / steps).toFixed(0).padStart(11)} ${((100 * e.ms) / all).toFixed(1).padStart(5)}% ${e.flops ? (e.flops / e.ms / 1e6).toFixed(1).padStart(7) : ''}`);
  }
  return { warmup };
}

/**
 * s2s parameters under torch.nn.Transformer's names and layouts ([out, in]
 * weights; the cross-attention's query and key/value projections stacked
 * into in_proj_weight), for torch's load_state_dict.
 */
export function torchStateDict(model: TranslationModel): { name: string; shape: number[]; data: Float32Array }[] {
  const byName = new Map(model.parameters().map((p) => [p.name as string, p]));
  const get = (name: string): Tensor => {
    const p = byName.get(name);
    if (!p) throw new Error(`the s2s model has no parameter ${name}`);
    return p;
  };
  const transposed = (...names: string[]): { shape: number[]; data: Float32Array } => {
    // Kernels [in, out_i] stacked along out, transposed to [Σ out_i, in].
    const parts = names.map(get);
    const inDim = parts[0].rows;
    const outDim = parts.reduce((s, p) => s + p.cols, 0);
    const data = new Float32Array(outDim * inDim);
    let row = 0;
    for (const p of parts) {
      for (let o = 0; o < p.cols; o++, row++) for (let i = 0; i < inDim; i++) data[row * inDim + i] = p.data[i * p.cols + o];
    }
    return { shape: [outDim, inDim], data };
  };
  const concat = (...names: string[]): { shape: number[]; data: Float32Array } => {
    const parts = names.map(get);
    const data = new Float32Array(parts.reduce((s, p) => s + p.size, 0));
    let at = 0;
    for (const p of parts) { data.set(p.data, at); at += p.size; }
    return { shape: [data.length], data };
  };
  const out: { name: string; shape: number[]; data: Float32Array }[] = [];
  const put = (name: string, t: { shape: number[]; data: Float32Array }): void => { out.push({ name, ...t }); };
  const emb = get('embedding/shared');
  put('embedding.weight', { shape: [emb.rows, emb.cols], data: emb.data });
  const c = model.config;
  const blocks = (side: 'encoder' | 'decoder', count: number): void => {
    for (let l = 0; l < count; l++) {
      const s = `${side}/layer_${l}`, t = `transformer.${side}.layers.${l}`;
      put(`${t}.self_attn.in_proj_weight`, transposed(`${s}/self_attention/qkv_kernel`));
      put(`${t}.self_attn.in_proj_bias`, concat(`${s}/self_attention/qkv_bias`));
      put(`${t}.self_attn.out_proj.weight`, transposed(`${s}/self_attention/output_kernel`));
      put(`${t}.self_attn.out_proj.bias`, concat(`${s}/self_attention/output_bias`));
      if (side === 'decoder') {
        put(`${t}.multihead_attn.in_proj_weight`, transposed(`${s}/cross_attention/query_kernel`, `${s}/cross_attention/kv_kernel`));
        put(`${t}.multihead_attn.in_proj_bias`, concat(`${s}/cross_attention/query_bias`, `${s}/cross_attention/kv_bias`));
        put(`${t}.multihead_attn.out_proj.weight`, transposed(`${s}/cross_attention/output_kernel`));
        put(`${t}.multihead_attn.out_proj.bias`, concat(`${s}/cross_attention/output_bias`));
      }
      put(`${t}.linear1.weight`, transposed(`${s}/feed_forward/inner_kernel`));
      put(`${t}.linear1.bias`, concat(`${s}/feed_forward/inner_bias`));
      put(`${t}.linear2.weight`, transposed(`${s}/feed_forward/outer_kernel`));
      put(`${t}.linear2.bias`, concat(`${s}/feed_forward/outer_bias`));
      for (let n = 1; n <= (side === 'decoder' ? 3 : 2); n++) {
        put(`${t}.norm${n}.weight`, concat(`${s}/norm_${n}/gain`));
        put(`${t}.norm${n}.bias`, concat(`${s}/norm_${n}/bias`));
      }
    }
    put(`transformer.${side}.norm.weight`, concat(`${side}/final_norm/gain`));
    put(`transformer.${side}.norm.bias`, concat(`${side}/final_norm/bias`));
  };
  blocks('encoder', c.encoderLayers || c.layers);
  blocks('decoder', c.decoderLayers || c.layers);
  return out;
}

function writeWeights(model: TranslationModel, manifest: string): void {
  const tensors = torchStateDict(model);
  const total = tensors.reduce((s, t) => s + t.data.length, 0);
  const blob = new Float32Array(total);
  const entries: { name: string; shape: number[]; offset: number }[] = [];
  let at = 0;
  for (const t of tensors) {
    blob.set(t.data, at);
    entries.push({ name: t.name, shape: t.shape, offset: 4 * at });
    at += t.data.length;
  }
  const file = 'weights.bin';
  writeFileSync(join(dirname(manifest), file), new Uint8Array(blob.buffer)); // little-endian, as torch.frombuffer reads it on x86
  writeFileSync(manifest, JSON.stringify({ file, tensors: entries }));
}

function idBatch(sources: number[][]): IdBatch {
  const maxLen = Math.max(...sources.map((s) => s.length));
  const ids = new Int32Array(sources.length * maxLen).fill(PAD_ID);
  sources.forEach((s, i) => ids.set(s, i * maxLen));
  return { ids, lengths: Int32Array.from(sources, (s) => s.length), maxLen };
}

/** Child process: pretrain briefly (inverse-sqrt warm-up), export the weights (PyTorch names and layouts), decode. */
function workerDecode(): DecodeResult {
  const data = readData();
  const c = data.config;
  const k = kernels();
  const trained = data.decode.model;
  const model = trained ? loadBundle(trained).model : s2sModel(c, 2);
  const t0 = performance.now();
  const losses: number[] = [];
  if (!trained) {
    const opt = adamFor(model, c);
    const rng = new Rng(4);
    const warm = Math.max(1, Math.round(data.pretrain.length / 4)), peak = 1e-3;
    data.pretrain.forEach((b, i) => {
      opt.learningRate = peak * Math.min((i + 1) / warm, Math.sqrt(warm / (i + 1)));
      losses.push(trainStep(model, opt, trainingBatch(b), rng, c.labelSmoothing));
    });
  }
  const pretrainSeconds = trained ? undefined : (performance.now() - t0) / 1000;
  const tail = losses.slice(-10);
  writeWeights(model, stringOption('weights') as string);
  const { sources, maxLength, lengthPenalty } = data.decode;
  const runs: DecodeRunResult[] = [];
  for (const run of data.decode.runs) {
    const chosen = sources.slice(0, run.sentences);
    const decodeBatch = (part: number[][]): number[][] => {
      const src = idBatch(part);
      const hyps = run.beam === 1
        ? greedyDecode(model, src, { maxLength })
        : beamSearch(model, src, { beamSize: run.beam, maxLength, lengthPenalty }).map((h) => h[0]);
      return hyps.map((h) => Array.from(h.ids));
    };
    // Warm-up on the first max(batch, warmupSentences) sentences, so that one-at-a-time rows do not time the JIT's first
    // passes over the decoder (one sentence of warm-up left batch-1 greedy rows 1.6–4.1× apart).
    const warm = chosen.slice(0, Math.max(run.batch, data.decode.warmupSentences));
    for (let i = 0; i < warm.length; i += run.batch) decodeBatch(warm.slice(i, i + run.batch));
    const outputs: number[][] = [];
    const busy = new Interference();
    const t1 = performance.now();
    busy.measure(() => {
      for (let i = 0; i < chosen.length; i += run.batch) outputs.push(...decodeBatch(chosen.slice(i, i + run.batch)));
    });
    runs.push({ ...run, seconds: (performance.now() - t1) / 1000, others: busy.others, outputs });
  }
  return { runs, kernels: k.description, pretrainSeconds, pretrainLoss: sumOf(tail) / Math.max(1, tail.length) };
}

// ------------------------------------------------------------ report

const fmt = (x: number, digits = 1): string => x.toFixed(digits);
const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '?%' : `${(100 * x).toFixed(0)}%`);

interface TrainRow {
  name: string;
  threads: string;
  result: TrainResult;
  peer?: TrainResult;
}

function printTraining(rows: TrainRow[], data: BenchData): void {
  console.log('');
  console.log(`Training step (forward + backward + Adam; ms/step = median of the timed steps; tokens/s and GFLOPS = totals over them):`);
  console.log(`${'backend'.padEnd(30)}${'threads'.padStart(8)}${'ms/step'.padStart(10)}${'tgt tok/s'.padStart(11)}${'GFLOPS'.padStart(8)}${'vs PyTorch'.padStart(12)}  measured`);
  for (const r of rows) {
    const res = r.result;
    if (!res.times || !res.indices) {
      console.log(`${r.name.padEnd(30)}${r.threads.padStart(8)}  missing: ${res.error ?? 'no result'}`);
      continue;
    }
    const batches = res.indices.map((i) => data.train[i]);
    const flops = sumOf(batches.map((b) => 3 * forwardFlops(b, data.config)));
    const tokens = sumOf(batches.map((b) => sumOf(b.tgtLengths)));
    const total = sumOf(res.times);
    let ratio = 'n/a';
    const peer = r.peer;
    if (peer?.times && peer.indices) {
      // The peer's times on the same batches.
      const byIndex = new Map(peer.indices.map((i, k) => [i, peer.times![k]]));
      const peerTimes = res.indices.map((i) => byIndex.get(i)).filter((t): t is number => t !== undefined);
      if (peerTimes.length === res.times.length) ratio = `${(median(res.times) / median(peerTimes)).toFixed(2)}×`;
    }
    const rounds = ROUNDS > 1 && !r.name.startsWith('s2s js') ? `, fastest of ${ROUNDS} rounds` : '';
    const measured = `${res.times.length} steps after ${res.warmup} warm-up${rounds}; others used ${pct(res.others)} CPU`;
    console.log(`${r.name.padEnd(30)}${r.threads.padStart(8)}${fmt(1000 * median(res.times), 0).padStart(10)}${fmt(tokens / total, 0).padStart(11)}${fmt(flops / total / 1e9, 1).padStart(8)}${ratio.padStart(12)}  ${measured}`);
  }
  console.log('(vs PyTorch = s2s ms/step ÷ PyTorch ms/step on the same batches, at the same thread count (js: vs PyTorch 1 thread); target for s2s native: ≤ 0.70×)');
}

function printDecoding(s2s: DecodeResult, torch: DecodeResult): void {
  console.log('');
  console.log(`Decoding (the same weights on both sides, ${DECODE_THREADS} thread(s) each; sentences/s over the whole set after warm-up batches covering ${DECODE_WARMUP_SENTENCES} sentences; out len = s2s's mean output tokens):`);
  console.log(`${'search'.padEnd(10)}${'batch'.padStart(6)}${'sentences'.padStart(10)}${'out len'.padStart(8)}${'s2s sent/s'.padStart(12)}${'PyTorch sent/s'.padStart(16)}${'s2s/PyTorch'.padStart(13)}${'same tokens'.padStart(13)}  measured`);
  const runs = s2s.runs ?? torch.runs ?? [];
  for (const run of runs) {
    const a = s2s.runs?.find((r) => r.batch === run.batch && r.beam === run.beam);
    const b = torch.runs?.find((r) => r.batch === run.batch && r.beam === run.beam);
    const rate = (r: DecodeRunResult | undefined): string => (r ? fmt(r.sentences / r.seconds, 1) : 'missing');
    const ratio = a && b ? `${(b.seconds / a.seconds).toFixed(2)}×` : 'n/a';
    let same = 'n/a';
    if (a && b) {
      let k = 0;
      a.outputs.forEach((o, i) => { if (b.outputs[i] && o.length === b.outputs[i].length && o.every((t, j) => t === b.outputs[i][j])) k++; });
      same = `${k}/${a.outputs.length}`;
    }
    const search = run.beam === 1 ? 'greedy' : `beam ${run.beam}`;
    const outs = (a ?? b)?.outputs ?? [];
    const outLen = outs.length ? fmt(sumOf(outs.map((o) => o.length)) / outs.length, 1) : '?';
    console.log(`${search.padEnd(10)}${String(run.batch).padStart(6)}${String(run.sentences).padStart(10)}${outLen.padStart(8)}${rate(a).padStart(12)}${rate(b).padStart(16)}${ratio.padStart(13)}${same.padStart(13)}  others used ${pct(a?.others)} (s2s), ${pct(b?.others)} (PyTorch) CPU`);
  }
  if (!s2s.runs) console.log(`s2s rows missing: ${s2s.error}`);
  if (!torch.runs) console.log(`PyTorch rows missing: ${torch.error}`);
  console.log('(s2s/PyTorch = s2s sentences/s ÷ PyTorch sentences/s; target at batch 1: ≥ 2×)');
  if (torch.incrementalVsFull !== undefined) console.log(`PyTorch incremental decoder vs nn.Transformer full forward: max |Δlogit| ${torch.incrementalVsFull.toExponential(1)} over 6 steps of 8 sentences`);
}

async function main(): Promise<void> {
  if (args.includes('--worker')) {
    const role = stringOption('worker');
    const result = role === 'train' ? await workerTrain() : role === 'profile' ? workerProfile() : role === 'decode' ? workerDecode() : { error: `unknown worker ${role}` };
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  console.log('s2s Transformer benchmark (issue 12 reference model) vs torch.nn.Transformer');
  const c = REFERENCE;
  console.log(`  model: d_model ${c.modelDim}, ${c.heads} heads, ${c.encoderLayers}+${c.decoderLayers} layers, ff ${c.ffDim} ReLU, pre-LN, sinusoidal positions, joint vocabulary ${c.vocabSize} with tied embeddings, dropout ${c.dropout}, label smoothing ${c.labelSmoothing}, Adam (β ${c.adamBeta1}/${c.adamBeta2}, lr ${c.learningRate}), float32`);
  const load0 = loadavg();
  console.log(`  load average at start: ${load0.map((x) => x.toFixed(2)).join(' ')} on ${availableParallelism()} cores (other processes skew timings; "others used" below says how much)`);
  console.log(`  scheduling: ${schedulingPolicy()}`);
  console.log(`  threads: s2s native = OpenBLAS and addon threads (OPENBLAS_NUM_THREADS/OMP_NUM_THREADS/S2S_NATIVE_THREADS in the child's environment); PyTorch = torch.set_num_threads + the same variables; decoding uses ${DECODE_THREADS}`);
  console.log(`  PyTorch BLAS: ${TORCH_LIBDIR ? `${TORCH_LIBDIR} first on LD_LIBRARY_PATH` : 'whatever libblas.so.3 resolves to'}`);
  if (!existsSync(CORPUS)) {
    console.log(`Skipped: ${CORPUS} not found (the benchmark trains on fra.txt's real length distribution).`);
    return;
  }
  const prep = prepare();
  for (const line of prep.describe) console.log(`  ${line}`);
  // --work-dir DIR keeps the batches and weights files there (for debugging); by default a temporary directory is removed.
  const keep = stringOption('work-dir');
  const dir = keep ? (mkdirSync(keep, { recursive: true }), keep) : mkdtempSync(join(tmpdir(), 's2s-bench-transformer-'));
  try {
    const dataFile = join(dir, 'batches.json');
    writeFileSync(dataFile, JSON.stringify(prep.data));
    const skipTorch = flag('no-torch');
    const rows: TrainRow[] = [];
    // --rounds N alternates s2s and PyTorch N times per thread count and keeps each side's fastest round
    // (lowest median): on a shared machine, other work comes and goes.
    const best = (a: TrainResult | undefined, b: TrainResult): TrainResult =>
      !a?.times ? b : b.times && median(b.times) < median(a.times) ? b : a;
    for (const threads of TRAIN_ROWS ? [2, 1] : []) {
      let s2s: TrainResult | undefined, torch: TrainResult | undefined, parallel: TrainResult | undefined;
      for (let round = 0; round < ROUNDS; round++) {
        // Two cores as `s2s train --data-parallel 2` uses them: two replicas, one thread each.
        if (threads === 2) parallel = best(parallel, s2sTrain(dataFile, 1, 'native', WARMUP, STEPS, 2));
        s2s = best(s2s, s2sTrain(dataFile, threads, 'native', WARMUP, STEPS));
        torch = best(torch, skipTorch ? { error: 'skipped (--no-torch)' } : torchTrain(dataFile, threads));
      }
      if (!s2s || !torch) throw new Error('--rounds must be at least 1');
      if (parallel) rows.push({ name: 's2s native, --data-parallel 2', threads: '2 × 1', result: parallel, peer: torch });
      rows.push({ name: 's2s native', threads: String(threads), result: s2s, peer: torch });
      rows.push({ name: `PyTorch ${torch.torch ?? ''} nn.Transformer`.replace('  ', ' '), threads: String(threads), result: torch, peer: torch });
      if (s2s.kernels && threads === 2) console.log(`  s2s kernels: ${s2s.kernels}`);
      if (torch.blasVariant && threads === 2) console.log(`  PyTorch: ${torch.threads} threads, OpenBLAS ${torch.blasVariant}`);
    }
    if (!flag('no-js') && TRAIN_ROWS) {
      // No warm-up: a step takes about a minute, and its first-step costs (JIT, Adam's slots) are small next to that.
      const js = s2sTrain(dataFile, 1, 'js', 0, JS_STEPS);
      rows.push({ name: 's2s js (TypeScript kernels)', threads: '1', result: js, peer: rows.find((r) => r.name.startsWith('PyTorch') && r.threads === '1')?.result });
    }
    if (TRAIN_ROWS) printTraining(rows, prep.data);

    if (DECODE_ROWS) {
      const weights = join(dir, 'weights.json');
      const s2s = s2sDecode(dataFile, weights);
      if (s2s.pretrainSeconds !== undefined) console.log(`  s2s pretrained ${PRETRAIN_STEPS} steps of ≤ ${PRETRAIN_TOKENS}-token batches in ${s2s.pretrainSeconds.toFixed(0)} s (final loss ${s2s.pretrainLoss?.toFixed(2)}) and exported its weights for both decoders`);
      const torch = skipTorch ? { error: 'skipped (--no-torch)' } : existsSync(weights) ? torchDecode(dataFile, weights) : { error: 'no weights exported by s2s' };
      printDecoding(s2s, torch);
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
