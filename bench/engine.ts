/**
 * Engine benchmark: the seed model's training step (Keras character-level
 * seq2seq: encoder LSTM(256) over 71 symbols × 16 steps, decoder LSTM(256)
 * over 93 symbols × 59 steps, Dense(93) + softmax cross-entropy, RMSprop,
 * batch 64) built from engine ops, on
 *   (a) s2s native kernels, (b) s2s js kernels, (c) PyTorch CPU
 *       (bench/torch_seed_step.py, /usr/bin/python3, 2 threads)
 * over the padded workload (every sequence full length), then s2s native
 * over an epoch of real sequence lengths (first 10,000 pairs of
 * ../shared/data/fra-eng/fra.txt, bucketed and packed).
 *
 * Usage: npm run bench:engine [-- --steps 10 --js-steps 3 --warmup 3 --profile --no-js --no-torch --torch-libdir DIR]
 * See bench/README.md for the columns and the FLOP formula.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Tensor, ops, lstm, packedLayout, RMSprop, Rng, setKernels, loadNativeKernels, nativeLoadError, clearTape,
  glorotUniform, orthogonal, lstmBias, parameter, type Kernels, type PackedLayout,
} from '../src/engine/index.js';

// ------------------------------------------------------------ configuration

const ENC_VOCAB = 71, DEC_VOCAB = 93, ENC_STEPS = 16, DEC_STEPS = 59, HIDDEN = 256, BATCH = 64;
const EPOCH_PAIRS = 10_000;
const EPOCH_BATCHES = Math.ceil(EPOCH_PAIRS / BATCH); // 157
/** Batches' worth of pairs sorted together, as src/data/batching.ts's default poolFactor. */
const POOL_BATCHES = 100;

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..'); // dist/bench → repo root
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback;
};
const STEPS = option('steps', 10);
const WARMUP = option('warmup', 3);
const JS_STEPS = option('js-steps', 3);
const THREADS = option('threads', 2);
/** --torch-libdir DIR: put DIR first on PyTorch's library path (e.g. the OpenMP OpenBLAS) without touching the system's alternatives. */
const TORCH_LIBDIR = ((): string | undefined => {
  const i = args.indexOf('--torch-libdir');
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
})();

// ------------------------------------------------------------ FLOPs

/**
 * Dense-equivalent FLOPs of one training step on full-length sequences, the
 * same count for every backend (a multiply-add is 2 FLOPs):
 *   forward  F = 2·B·[Te·(Vin + H)·4H + Td·(Vout + H)·4H + Td·H·Vout]
 *   backward: every GEMM twice (input and weight gradients) except the
 *   one-hot input projections, which need only their weight gradient:
 *   total = 3·2·B·[Te·H·4H + Td·H·4H + Td·H·Vout] + 2·2·B·[Te·Vin·4H + Td·Vout·4H]
 * Elementwise work (gates, softmax, optimizer) is not counted. s2s replaces
 * the one-hot projections by row gathers, so it does fewer real FLOPs than
 * this count; GFLOPS here is the model's FLOPs per second, comparable across
 * backends.
 */
function stepFlops(B: number, Te: number, Td: number): number {
  const H = HIDDEN, G = 4 * HIDDEN;
  const recurrentAndDense = 2 * B * (Te * H * G + Td * H * G + Td * H * DEC_VOCAB);
  const inputProjections = 2 * B * (Te * ENC_VOCAB * G + Td * DEC_VOCAB * G);
  return 3 * recurrentAndDense + 2 * inputProjections;
}

// ------------------------------------------------------------ model

interface Model {
  encW: Tensor; encB: Tensor; encU: Tensor;
  decW: Tensor; decB: Tensor; decU: Tensor;
  denseW: Tensor; denseB: Tensor;
  params: Tensor[];
}

function buildModel(seed: number): Model {
  const rng = new Rng(seed);
  const G = 4 * HIDDEN;
  const encW = parameter('enc/kernel', [ENC_VOCAB, G], glorotUniform([ENC_VOCAB, G], rng));
  const encU = parameter('enc/recurrent_kernel', [HIDDEN, G], orthogonal([HIDDEN, G], rng));
  const encB = parameter('enc/bias', [G], lstmBias(HIDDEN));
  const decW = parameter('dec/kernel', [DEC_VOCAB, G], glorotUniform([DEC_VOCAB, G], rng));
  const decU = parameter('dec/recurrent_kernel', [HIDDEN, G], orthogonal([HIDDEN, G], rng));
  const decB = parameter('dec/bias', [G], lstmBias(HIDDEN));
  const denseW = parameter('dense/kernel', [HIDDEN, DEC_VOCAB], glorotUniform([HIDDEN, DEC_VOCAB], rng));
  const denseB = parameter('dense/bias', [DEC_VOCAB], new Float32Array(DEC_VOCAB));
  return { encW, encB, encU, decW, decB, decU, denseW, denseB, params: [encW, encU, encB, decW, decU, decB, denseW, denseB] };
}

/** One batch, already packed: ids and targets in packed-row order. */
interface PackedBatch {
  size: number;
  encLayout: PackedLayout;
  encIds: Int32Array;
  decLayout: PackedLayout;
  decIds: Int32Array;
  targets: Int32Array;
  /** For decoder sequence b (decoder order): its encoder row; null when both orders agree. */
  encRowOfDec: Int32Array | null;
}

/**
 * One training step: one-hot input projections as row gathers of the input
 * kernels plus bias, packed LSTMs, the decoder starting from the encoder's
 * final state, Dense + softmax cross-entropy over packed rows, RMSprop.
 */
function trainStep(model: Model, opt: RMSprop, batch: PackedBatch): number {
  const B = batch.size;
  const encX = ops.add(ops.gatherRows(model.encW, batch.encIds), model.encB);
  const zeros = Tensor.zeros([B, HIDDEN]);
  const enc = lstm(encX, model.encU, zeros, zeros, batch.encLayout, { reuseInput: true }); // as RecurrentLayer does
  const h0 = batch.encRowOfDec ? ops.gatherRows(enc.h, batch.encRowOfDec) : enc.h;
  const c0 = batch.encRowOfDec ? ops.gatherRows(enc.c, batch.encRowOfDec) : enc.c;
  const decX = ops.add(ops.gatherRows(model.decW, batch.decIds), model.decB);
  const dec = lstm(decX, model.decU, h0, c0, batch.decLayout, { reuseInput: true });
  const logits = ops.add(ops.matmul(dec.output, model.denseW), model.denseB);
  const loss = ops.softmaxCrossEntropy(logits, batch.targets);
  loss.backward();
  opt.update();
  opt.zeroGrad();
  clearTape();
  return loss.item();
}

/** Packs sequences given as per-sequence id arrays (any order) for one side of a batch. */
function packSide(seqs: Int32Array[]): { layout: PackedLayout; ids: Int32Array; order: number[] } {
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[b].length - seqs[a].length || a - b);
  const layout = packedLayout(order.map((i) => seqs[i].length));
  const ids = new Int32Array(layout.total);
  for (let t = 0; t < layout.steps; t++) {
    const off = layout.offsets[t];
    for (let b = 0; b < layout.batchSizes[t]; b++) ids[off + b] = seqs[order[b]][t];
  }
  return { layout, ids, order };
}

/** A batch of pairs: encoder ids, decoder inputs and decoder targets (same length). */
function makeBatch(src: Int32Array[], decIn: Int32Array[], decOut: Int32Array[]): PackedBatch {
  const enc = packSide(src);
  const dec = packSide(decIn);
  const targets = new Int32Array(dec.layout.total);
  for (let t = 0; t < dec.layout.steps; t++) {
    const off = dec.layout.offsets[t];
    for (let b = 0; b < dec.layout.batchSizes[t]; b++) targets[off + b] = decOut[dec.order[b]][t];
  }
  const encRowOf = new Int32Array(src.length);
  enc.order.forEach((pair, row) => { encRowOf[pair] = row; });
  const encRowOfDec = Int32Array.from(dec.order, (pair) => encRowOf[pair]);
  const identity = encRowOfDec.every((r, i) => r === i);
  return {
    size: src.length, encLayout: enc.layout, encIds: enc.ids, decLayout: dec.layout, decIds: dec.ids, targets,
    encRowOfDec: identity ? null : encRowOfDec,
  };
}

function paddedBatch(rng: Rng): PackedBatch {
  const rand = (n: number, v: number): Int32Array => Int32Array.from({ length: n }, () => rng.int(v));
  const src = Array.from({ length: BATCH }, () => rand(ENC_STEPS, ENC_VOCAB));
  const decIn = Array.from({ length: BATCH }, () => rand(DEC_STEPS, DEC_VOCAB));
  const decOut = Array.from({ length: BATCH }, () => rand(DEC_STEPS, DEC_VOCAB));
  return makeBatch(src, decIn, decOut);
}

// ------------------------------------------------------------ real lengths

interface RealEpoch {
  batches: PackedBatch[];
  pairs: number;
  encTokens: number;
  decTokens: number;
}

/**
 * The first 10,000 pairs of fra.txt as the Keras seed reads them: characters
 * of the English side in, "\t" + French + "\n" out (decoder input drops the
 * last symbol, target drops the first). Pools of POOL_BATCHES batches are sorted by
 * target length and cut into batches of 64; batch order is shuffled.
 */
function realEpoch(path: string, seed: number): RealEpoch {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.includes('\t')).slice(0, EPOCH_PAIRS);
  const inChars = new Map<string, number>(), outChars = new Map<string, number>();
  const idOf = (m: Map<string, number>, ch: string): number => {
    let id = m.get(ch);
    if (id === undefined) { id = m.size; m.set(ch, id); }
    return id;
  };
  const pairs = lines.map((line) => {
    const [en, fr] = line.split('\t');
    const src = Int32Array.from(Array.from(en), (ch) => idOf(inChars, ch) % ENC_VOCAB);
    const tgt = Int32Array.from(Array.from(`\t${fr}\n`), (ch) => idOf(outChars, ch) % DEC_VOCAB);
    return { src, decIn: tgt.subarray(0, tgt.length - 1), decOut: tgt.subarray(1) };
  });
  const rng = new Rng(seed);
  const idx = Array.from(pairs.keys());
  rng.shuffle(idx);
  const POOL = POOL_BATCHES * BATCH;
  const batches: PackedBatch[] = [];
  for (let p = 0; p < idx.length; p += POOL) {
    const pool = idx.slice(p, p + POOL).sort((a, b) => pairs[b].decIn.length - pairs[a].decIn.length || pairs[b].src.length - pairs[a].src.length);
    for (let i = 0; i < pool.length; i += BATCH) {
      const members = pool.slice(i, i + BATCH).map((j) => pairs[j]);
      batches.push(makeBatch(members.map((m) => m.src), members.map((m) => m.decIn), members.map((m) => m.decOut)));
    }
  }
  rng.shuffle(batches);
  let encTokens = 0, decTokens = 0;
  for (const b of batches) { encTokens += b.encLayout.total; decTokens += b.decLayout.total; }
  return { batches, pairs: pairs.length, encTokens, decTokens };
}

// ------------------------------------------------------------ profiling

/** Wraps every kernel function with a timer; time spent outside kernels is JS (copies, tape, allocation). */
function profiled(k: Kernels): { kernels: Kernels; report: () => Map<string, number>; reset: () => void } {
  const totals = new Map<string, number>();
  const wrapped: Record<string, unknown> = { ...k };
  for (const [name, fn] of Object.entries(k)) {
    if (typeof fn !== 'function') continue;
    wrapped[name] = (...a: unknown[]): unknown => {
      const t0 = process.hrtime.bigint();
      const r = (fn as (...x: unknown[]) => unknown)(...a);
      const label = name === 'gemm' ? `gemm ${a[0] ? 'T' : 'N'}${a[1] ? 'T' : 'N'}` : name;
      totals.set(label, (totals.get(label) ?? 0) + Number(process.hrtime.bigint() - t0) / 1e9);
      return r;
    };
  }
  return { kernels: wrapped as unknown as Kernels, report: () => totals, reset: () => totals.clear() };
}

// ------------------------------------------------------------ timing

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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
class Interference {
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
  /** Other processes' CPU as a fraction of all cores over the measured time. */
  get others(): number {
    return Math.max(0, this.busy - this.own) / (this.wall * availableParallelism());
  }
}

function timeSteps(kernelSet: Kernels | 'js' | 'native', warmup: number, steps: number, batch: PackedBatch, busy?: Interference): number[] {
  setKernels(kernelSet);
  const model = buildModel(1);
  const opt = new RMSprop(model.params, { learningRate: 0.001, rho: 0.9, epsilon: 1e-7 });
  for (let i = 0; i < warmup; i++) trainStep(model, opt, batch);
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const run = (): number => {
      const t0 = performance.now();
      const loss = trainStep(model, opt, batch);
      times.push((performance.now() - t0) / 1000);
      return loss;
    };
    const loss = busy ? busy.measure(run) : run();
    if (!Number.isFinite(loss)) throw new Error(`loss is ${loss}`);
  }
  return times;
}

interface TorchResult {
  median?: number;
  times?: number[];
  blas?: string;
  blasVariant?: string;
  torch?: string;
  threads?: number;
  others?: number;
  error?: string;
}

function runTorch(): TorchResult {
  const script = join(root, 'bench', 'torch_seed_step.py');
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return { error: `${python} not found` };
  const r = spawnSync(python, [script, '--threads', String(THREADS), '--warmup', String(WARMUP), '--steps', String(STEPS)], {
    encoding: 'utf8',
    env: {
      ...process.env,
      OMP_NUM_THREADS: String(THREADS),
      ...(TORCH_LIBDIR ? { LD_LIBRARY_PATH: [TORCH_LIBDIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {}),
    },
  });
  if (r.stderr) for (const line of r.stderr.trim().split('\n')) console.log(`  ${line}`);
  if (r.status !== 0) return { error: `torch_seed_step.py exited with ${r.status}` };
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as TorchResult;
  } catch {
    return { error: `unexpected output from torch_seed_step.py: ${last.slice(0, 200)}` };
  }
}

// ------------------------------------------------------------ main

function fmt(x: number, digits = 3): string {
  return x.toFixed(digits);
}

function pct(x: number): string {
  return Number.isNaN(x) ? '?%' : `${(100 * x).toFixed(0)}%`;
}

function main(): void {
  const flops = stepFlops(BATCH, ENC_STEPS, DEC_STEPS);
  const native = loadNativeKernels();
  console.log('s2s engine benchmark: seed model training step');
  console.log(`  encoder LSTM(${HIDDEN}) over ${ENC_VOCAB} symbols × ${ENC_STEPS}, decoder LSTM(${HIDDEN}) over ${DEC_VOCAB} symbols × ${DEC_STEPS}, Dense(${DEC_VOCAB}) softmax, batch ${BATCH}, RMSprop`);
  console.log(`  model FLOPs per padded batch: ${fmt(flops / 1e9, 3)} GFLOP (dense-equivalent; formula in bench/README.md)`);
  console.log(`  load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes on this machine skew timings)`);
  console.log(`  native kernels: ${native ? native.description : `unavailable (${nativeLoadError()})`}`);

  const batch = paddedBatch(new Rng(7));
  const rows: { name: string; sec: number; detail: string }[] = [];

  if (native) {
    const busy = new Interference();
    const t = timeSteps('native', WARMUP, STEPS, batch, busy);
    rows.push({ name: 's2s native', sec: median(t), detail: `${STEPS} steps after ${WARMUP} warm-up; others used ${pct(busy.others)} CPU` });
  }
  if (!flag('no-js')) {
    const busy = new Interference();
    const t = timeSteps('js', Math.min(WARMUP, 1), JS_STEPS, batch, busy);
    rows.push({ name: 's2s js', sec: median(t), detail: `${JS_STEPS} steps after ${Math.min(WARMUP, 1)} warm-up; others used ${pct(busy.others)} CPU` });
  }
  let torch: TorchResult = { error: 'skipped (--no-torch)' };
  if (!flag('no-torch')) {
    console.log('PyTorch reference (bench/torch_seed_step.py):');
    torch = runTorch();
    if (torch.median !== undefined) rows.push({ name: `PyTorch ${torch.torch} CPU`, sec: torch.median, detail: `${STEPS} steps after ${WARMUP} warm-up, ${torch.threads} threads, OpenBLAS ${torch.blasVariant}; others used ${pct(torch.others ?? NaN)} CPU` });
    else console.log(`  PyTorch skipped: ${torch.error}`);
  }

  const torchSec = torch.median;
  console.log('');
  console.log('Padded workload (all sequences full length):');
  console.log(`${'backend'.padEnd(22)}${'s/batch'.padStart(10)}${'s/epoch'.padStart(10)}${'GFLOPS'.padStart(9)}${'vs PyTorch'.padStart(12)}  measured`);
  for (const r of rows) {
    const ratio = torchSec ? `${fmt(r.sec / torchSec, 2)}×` : 'n/a';
    console.log(`${r.name.padEnd(22)}${fmt(r.sec).padStart(10)}${fmt(r.sec * EPOCH_BATCHES, 1).padStart(10)}${fmt(flops / r.sec / 1e9, 1).padStart(9)}${ratio.padStart(12)}  ${r.detail}`);
  }
  console.log(`(s/epoch = s/batch × ${EPOCH_BATCHES} batches of a ${EPOCH_PAIRS.toLocaleString('en')}-pair epoch; target: s2s native ≤ 0.80× PyTorch)`);

  // Real sequence lengths.
  const data = join(root, '..', 'shared', 'data', 'fra-eng', 'fra.txt');
  console.log('');
  if (!native) {
    console.log('Real-length epoch skipped: native kernels unavailable.');
  } else if (!existsSync(data)) {
    console.log(`Real-length epoch skipped: ${data} not found.`);
  } else {
    const epoch = realEpoch(data, 11);
    const encPad = epoch.batches.reduce((s, b) => s + b.size * ENC_STEPS, 0);
    const decPad = epoch.batches.reduce((s, b) => s + b.size * DEC_STEPS, 0);
    console.log(`Real lengths: first ${epoch.pairs.toLocaleString('en')} pairs of ${data}`);
    console.log(`  ${epoch.batches.length} batches (pools of ${POOL_BATCHES} batches sorted by length, packed): encoder ${epoch.encTokens} steps (${fmt((100 * epoch.encTokens) / encPad, 1)}% of padded), decoder ${epoch.decTokens} steps (${fmt((100 * epoch.decTokens) / decPad, 1)}% of padded)`);
    const prof = flag('profile') ? profiled(native) : null;
    setKernels(prof ? prof.kernels : 'native');
    const model = buildModel(2);
    const opt = new RMSprop(model.params, { learningRate: 0.001, rho: 0.9, epsilon: 1e-7 });
    for (let i = 0; i < WARMUP; i++) trainStep(model, opt, epoch.batches[i % epoch.batches.length]);
    prof?.reset();
    const busy = new Interference();
    const t0 = performance.now();
    let lossSum = 0;
    for (const b of epoch.batches) lossSum += busy.measure(() => trainStep(model, opt, b));
    const sec = (performance.now() - t0) / 1000;
    console.log(`  s2s native real-length epoch: ${fmt(sec, 2)} s (mean loss ${fmt(lossSum / epoch.batches.length, 3)}; others used ${pct(busy.others)} CPU)`);
    if (prof) printProfile(prof.report(), sec, 1, 'real-length epoch (s)');
    if (torchSec) {
      const torchEpoch = torchSec * EPOCH_BATCHES;
      console.log(`  PyTorch padded epoch: ${fmt(torchEpoch, 2)} s → s2s real-length / PyTorch padded = ${fmt(sec / torchEpoch, 3)} (target ≤ 0.333)`);
    }
    const nativeRow = rows.find((r) => r.name === 's2s native');
    if (nativeRow) console.log(`  s2s native padded epoch: ${fmt(nativeRow.sec * EPOCH_BATCHES, 2)} s → packing saves ${fmt(100 * (1 - sec / (nativeRow.sec * EPOCH_BATCHES)), 1)}%`);
  }

  if (flag('profile') && native) {
    const p = profiled(native);
    console.log('');
    console.log('Profile of one padded s2s native step (kernel time; the rest is JS: copies, tape, allocation):');
    const steps = 5;
    const t = timeSteps(p.kernels, 2, 0, batch);
    void t;
    p.reset();
    const times = timeSteps(p.kernels, 0, steps, batch);
    const total = times.reduce((s, x) => s + x, 0) / steps;
    printProfile(p.report(), total, steps, 'padded step (ms)');
  }
}

/** Kernel times (per step, or for the whole epoch) and the rest, which is JS: copies, tape, allocation. */
function printProfile(totals: Map<string, number>, total: number, divisor: number, unit: string): void {
  const scale = unit.endsWith('(ms)') ? 1000 : 1;
  const u = scale === 1000 ? 'ms' : 's';
  let inKernels = 0;
  const entries = [...totals.entries()].sort((a, b) => b[1] - a[1]);
  for (const [name, sec] of entries) {
    const per = sec / divisor;
    inKernels += per;
    console.log(`  ${name.padEnd(22)}${fmt(scale * per, 2).padStart(9)} ${u}  ${fmt((100 * per) / total, 1).padStart(5)}%`);
  }
  console.log(`  ${'outside kernels'.padEnd(22)}${fmt(scale * (total - inKernels), 2).padStart(9)} ${u}  ${fmt((100 * (total - inKernels)) / total, 1).padStart(5)}%`);
  console.log(`  ${'total'.padEnd(22)}${fmt(scale * total, 2).padStart(9)} ${u}  (${unit.replace(/ \(.*\)/, '')})`);
}

main();
