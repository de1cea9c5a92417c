/**
 * int8 against float32 (issue 13): one float32 bundle and its int8
 * quantization (made in a temporary folder by quantizeBundle, or --int8 DIR),
 * translated in the same run on the same sentences of the corpus's test
 * split (fra.txt for the fra-attention model): bundle sizes, and
 * milliseconds per sentence one at a time (batch 1, greedy) and in batches
 * of 32, on the native kernels (--kernels js for the TypeScript ones).
 * Rounds alternate float32 and int8 and each side keeps its fastest round,
 * so a burst of load from other processes skews both alike.
 *
 * Without a trained Transformer bundle, --seeded-transformer adds the
 * fra-transformer shape (d_model 256, 4 heads, 3 + 3 blocks, ff 1024, a
 * tied 8,000-token vocabulary) with seeded weights, speed only: encode a
 * 12-token sentence and run 20 decoder steps at batch 1, float32 and int8.
 *
 * Usage: npm run bench:int8 [-- --model /work/models/fra-attention --sentences 100 --rounds 3 --kernels native --seeded-transformer]
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle, type LoadedBundle } from '../src/bundle/bundle.js';
import { quantizeBundle } from '../src/bundle/quantize.js';
import { readSplit } from '../src/data/read-split.js';
import { setKernels, kernels, noGrad } from '../src/engine/index.js';
import { Transformer } from '../src/model/transformer.js';
import { quantizeModel } from '../src/bundle/quantize.js';

const args = process.argv.slice(2);
const option = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const MODEL = option('model', '/work/models/fra-attention');
const SENTENCES = Number(option('sentences', '100'));
const ROUNDS = Number(option('rounds', '3'));
const KERNELS = option('kernels', 'native') as 'native' | 'js';
const DATA = option('data', '');

setKernels(KERNELS);

function folderBytes(dir: string): number {
  return readdirSync(dir).filter((f) => /^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/.test(f)).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

const tmp = mkdtempSync(join(tmpdir(), 's2s-bench-int8-'));
const int8Dir = option('int8', join(tmp, 'int8'));
if (int8Dir.startsWith(tmp)) quantizeBundle(MODEL, int8Dir);
const f32 = loadBundle(MODEL), i8 = loadBundle(int8Dir);
const corpus = DATA || f32.config.data.corpus;
const { split } = readSplit(corpus, f32.config.data);
// The shortest test sentences first (as the browser measurements), SENTENCES of them.
const sources = [...new Set(split.test.map((p) => p.source))].sort((a, b) => a.length - b.length || (a < b ? -1 : 1)).slice(0, SENTENCES);

/** Milliseconds for the whole list: one sentence per call (batch 1), or batches of 32. */
function timeIt(b: LoadedBundle, batch: number): number {
  const t0 = performance.now();
  if (batch === 1) for (const s of sources) b.translator.translate([s], { batchSize: 1 });
  else b.translator.translate(sources, { batchSize: batch });
  return performance.now() - t0;
}

const best = { f32: { one: Infinity, batched: Infinity }, i8: { one: Infinity, batched: Infinity } };
const load0 = loadavg();
timeIt(f32, 1); timeIt(i8, 1); // warm-up: JIT, allocator, caches
for (let r = 0; r < ROUNDS; r++) {
  for (const [side, b] of [['f32', f32], ['i8', i8]] as const) {
    best[side].one = Math.min(best[side].one, timeIt(b, 1));
    best[side].batched = Math.min(best[side].batched, timeIt(b, 32));
  }
}
let same = 0;
const a = f32.translator.translate(sources), c = i8.translator.translate(sources);
for (let i = 0; i < a.length; i++) if (a[i].text === c[i].text) same++;

const mib = (n: number): string => (n / 1024 / 1024).toFixed(2);
const per = (ms: number): string => (ms / sources.length).toFixed(2);
const sizeF = folderBytes(MODEL), sizeI = folderBytes(int8Dir);
console.log(`\nint8 vs float32: ${MODEL} (${f32.model.parameterCount().toLocaleString('en')} parameters), ${sources.length} shortest test sentences of ${corpus}, greedy`);
console.log(`kernels: ${kernels().description}`);
console.log('');
console.log('| | float32 | int8 | int8 / float32 |');
console.log('|---|---:|---:|---:|');
console.log(`| bundle size (MiB) | ${mib(sizeF)} | ${mib(sizeI)} | ${(sizeI / sizeF).toFixed(3)}× |`);
console.log(`| ms/sentence, one at a time | ${per(best.f32.one)} | ${per(best.i8.one)} | ${(best.f32.one / best.i8.one).toFixed(2)}× faster |`);
console.log(`| ms/sentence, batches of 32 | ${per(best.f32.batched)} | ${per(best.i8.batched)} | ${(best.f32.batched / best.i8.batched).toFixed(2)}× faster |`);
console.log(`\nsame greedy output: ${same}/${sources.length} sentences; fastest of ${ROUNDS} alternating rounds`);
console.log(`conditions: ${availableParallelism()} CPUs, OPENBLAS_NUM_THREADS=${process.env.OPENBLAS_NUM_THREADS ?? '(default)'}, S2S_NATIVE_THREADS=${process.env.S2S_NATIVE_THREADS ?? '(default)'}, ` +
  `load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${loadavg().map((x) => x.toFixed(2)).join(' ')} at end`);

if (args.includes('--seeded-transformer')) {
  const shape = { arch: 'transformer' as const, modelDim: 256, heads: 4, ffDim: 1024, layers: 3, tieEmbeddings: true, srcVocabSize: 8000, tgtVocabSize: 8000 };
  const float = new Transformer(shape, 1), int8 = new Transformer(shape, 1);
  quantizeModel(int8);
  const run = (m: Transformer): number => noGrad(() => {
    const t0 = performance.now();
    for (let s = 0; s < 10; s++) {
      const ids = Int32Array.from({ length: 12 }, (_, i) => 4 + ((s * 131 + i * 17) % 7000));
      let state = m.encode({ ids, lengths: Int32Array.of(12), maxLen: 12 });
      let token = Int32Array.of(1);
      for (let t = 0; t < 20; t++) {
        const r = m.decodeStep(token, state);
        state = r.state;
        token = Int32Array.of(4 + ((t * 37 + s) % 7000)); // teacher tokens: seeded weights never stop on their own
      }
    }
    return (performance.now() - t0) / 10;
  });
  run(float); run(int8);
  let bf = Infinity, bi = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    bf = Math.min(bf, run(float));
    bi = Math.min(bi, run(int8));
  }
  console.log(`\nseeded Transformer of the fra-transformer shape (${float.parameterCount().toLocaleString('en')} parameters), batch 1, encode 12 tokens + 20 decoder steps:`);
  console.log(`| | float32 | int8 | int8 / float32 |`);
  console.log('|---|---:|---:|---:|');
  console.log(`| ms/sentence | ${bf.toFixed(2)} | ${bi.toFixed(2)} | ${(bf / bi).toFixed(2)}× faster |`);
}
rmSync(tmp, { recursive: true, force: true });
