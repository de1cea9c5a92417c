/**
 * The Transformer ops one by one, forward + backward, against PyTorch at the
 * reference shapes of issue 12 (B = 100 sentences × T = 30 tokens = 3,000
 * tokens, d_model 256, 4 heads, feed-forward 1024, vocabulary 8,000):
 *   s2s native kernels, (optionally) s2s js kernels, and PyTorch CPU
 *   (bench/torch_transformer_ops.py, /usr/bin/python3, 2 threads by default).
 * Each row is the fastest of --steps runs of forward + backward (a random
 * upstream gradient) after --warmup runs: the machine is shared, and the
 * minimum is what is least disturbed by other load (both sides are measured
 * the same way). ratio = s2s / PyTorch (< 1 is faster).
 *
 * --rounds R (default 3) alternates the s2s and PyTorch measurements R times
 * and keeps each one's fastest, so a burst of other load does not land on one
 * side only.
 *
 * Usage: npm run bench:transformer-ops [-- --steps 20 --warmup 3 --rounds 3 --threads 2 --js --no-torch]
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, ops, Rng, setKernels, loadNativeKernels, nativeLoadError, clearTape, sinusoidalPositions } from '../src/engine/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : fallback;
};
const STEPS = option('steps', 20), WARMUP = option('warmup', 3), THREADS = option('threads', 2), ROUNDS = option('rounds', 3);
const B = option('batch', 100), T = option('len', 30), D = option('dim', 256), H = option('heads', 4), FF = option('ff', 1024), V = option('vocab', 8000);
const N = B * T;

const rng = new Rng(7);
const randn = (n: number, s = 1): Float32Array => Float32Array.from({ length: n }, () => rng.normal() * s);
const leaf = (shape: number[], s = 1): Tensor => new Tensor(randn(shape.reduce((a, b) => a * b, 1), s), shape, true);

// Random lengths in [T/2, T], as the torch script draws them (not the same draws; the same distribution).
const keyMask = new Uint8Array(N);
for (let b = 0; b < B; b++) {
  const len = Math.floor(T / 2) + rng.int(T - Math.floor(T / 2) + 1);
  for (let t = 0; t < len; t++) keyMask[b * T + t] = 1;
}
const q = leaf([N, D]), k = leaf([N, D]), v = leaf([N, D]), x = leaf([N, D]);
const gain = leaf([D]), bias = leaf([D]);
const w1 = leaf([D, FF], 1 / Math.sqrt(D)), b1 = leaf([FF]);
const table = leaf([V, D], 0.1);
const positions = sinusoidalPositions(512, D);
const ids = Int32Array.from({ length: N }, () => rng.int(V));
const positionIds = Int32Array.from({ length: N }, (_, i) => i % T);
const logits = leaf([N, V]);
const targets = Int32Array.from({ length: N }, (_, i) => (keyMask[i] ? rng.int(V) : -1));
const leaves = [q, k, v, x, gain, bias, w1, b1, table, logits];

const OPS: [string, () => Tensor][] = [
  ['attention (self, key padding)', () => ops.multiHeadAttention(q, k, v, { batch: B, heads: H, queryLen: T, keyLen: T, keyMask }).out],
  ['attention (causal + padding)', () => ops.multiHeadAttention(q, k, v, { batch: B, heads: H, queryLen: T, keyLen: T, keyMask, causal: true }).out],
  ['layer norm', () => ops.layerNorm(x, gain, bias)],
  ['linear + ReLU (D→F)', () => ops.linear(x, w1, b1, 'relu')],
  ['linear + GELU (D→F)', () => ops.linear(x, w1, b1, 'gelu')],
  ['embedding·√D + positions', () => ops.embedPositions(table, ids, Math.sqrt(D), positions, positionIds)],
  ['cross-entropy, label smoothing 0.1', () => ops.softmaxCrossEntropy(logits, targets, 0.1)],
];

function time(fn: () => Tensor, steps: number, warmup: number): number {
  const out0 = fn();
  const seed = out0.size === 1 ? undefined : randn(out0.size);
  clearTape();
  const times: number[] = [];
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const out = fn();
    out.backward(seed);
    const dt = performance.now() - t0;
    if (i >= warmup) times.push(dt / 1000);
    for (const t of leaves) t.grad = null;
  }
  return Math.min(...times);
}

function torchTimes(): Record<string, number> | string {
  if (flag('no-torch')) return 'skipped (--no-torch)';
  const script = join(root, 'bench', 'torch_transformer_ops.py');
  const r = spawnSync('/usr/bin/python3', [script, '--threads', String(THREADS), '--warmup', String(WARMUP), '--steps', String(STEPS),
    '--batch', String(B), '--len', String(T), '--dim', String(D), '--heads', String(H), '--ff', String(FF), '--vocab', String(V)],
  { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
  if (r.error) return `not run: ${r.error.message}`;
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(last) as { ops?: Record<string, number>; error?: string };
    return parsed.ops ?? parsed.error ?? 'no result';
  } catch {
    return `unexpected output: ${last.slice(0, 200)}${r.stderr.slice(0, 200)}`;
  }
}

const native = loadNativeKernels();
const results: Record<string, Record<string, number>> = {};
let torch: Record<string, number> | string = 'not run';
const keepMin = (into: Record<string, number> | undefined, from: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(from).map(([k, v]) => [k, into && into[k] !== undefined ? Math.min(into[k], v) : v]));
console.log(native ? `s2s native: ${native.description}` : `s2s native: not available (${nativeLoadError()})`);
for (let round = 0; round < ROUNDS; round++) {
  if (native) {
    setKernels(native);
    results.native = keepMin(results.native, Object.fromEntries(OPS.map(([name, fn]) => [name, time(fn, STEPS, WARMUP)])));
  }
  if (flag('js') && round === 0) {
    setKernels('js');
    results.js = Object.fromEntries(OPS.map(([name, fn]) => [name, time(fn, Math.max(1, Math.floor(STEPS / 4)), 1)]));
  }
  const t = torchTimes();
  if (typeof t === 'string') {
    torch = t;
    if (round === 0) console.log(`PyTorch: ${t}`);
  } else torch = keepMin(typeof torch === 'string' ? undefined : torch, t);
}

const ms = (s: number | undefined): string => (s === undefined ? '—' : (s * 1000).toFixed(2));
console.log(`\nB=${B} T=${T} (${N} tokens), d_model ${D}, ${H} heads, ff ${FF}, vocab ${V}; forward + backward, fastest of ${ROUNDS}×${STEPS} (ms); load average ${loadavg()[0].toFixed(1)}`);
const header = ['op', 's2s native', ...(results.js ? ['s2s js'] : []), 'PyTorch', 'native / PyTorch'];
const rows = OPS.map(([name]) => {
  const t = typeof torch === 'string' ? undefined : torch[name];
  const n = results.native?.[name];
  return [name, ms(n), ...(results.js ? [ms(results.js[name])] : []), ms(t), n !== undefined && t ? (n / t).toFixed(2) : '—'];
});
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells: string[]): string => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(line(header));
console.log(`|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
