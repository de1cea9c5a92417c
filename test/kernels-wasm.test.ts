/**
 * The WebAssembly kernels (dist/wasm, scripts/build-wasm.mjs): the shared
 * parity suites against the TypeScript kernels (helpers/kernel-parity.ts),
 * GEMM against the native addon when it is built, the memory design of
 * wasm.ts (zero-copy views, staged and aliased arguments, growth of shared
 * and plain memories, the js fallback), and full forward/backward passes of
 * small RNN and Transformer models, gradients included, wasm vs js within
 * 1e-4 relative.
 *
 * Skipped with a message when the .wasm files are not built (no clang).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import {
  jsKernels, loadNativeKernels, loadWasmKernelsSync, wasmLoadError, loadWasmKernels, setKernels, kernels, createWasmKernels,
  WASM_FILES, startNodeThreads, type Kernels,
} from '../src/engine/kernels/index.js';
import { Rng } from '../src/engine/rng.js';
import { makeBatch } from '../src/data/batching.js';
import { kernelParitySuites } from './helpers/kernel-parity.js';
import { int8Digest } from './helpers/int8-digest.js';
import { quantizeModel } from '../src/bundle/quantize.js';
import { makeSourceBatch } from '../src/data/batching.js';
import { noGrad } from '../src/engine/tensor.js';
import { tinySetup } from './helpers/tiny.js';
import { tinyTransformer } from './helpers/tiny-transformer.js';
import type { TranslationModel } from '../src/model/translation-model.js';

const wasm = loadWasmKernelsSync();
const skip = wasm ? false : `wasm kernels not built (${wasmLoadError()}); run \`npm run build:wasm\``;
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const RTOL = 1e-4;

kernelParitySuites(wasm, 'wasm', skip);

const rng = new Rng(77);
function randn(n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}
/** Within rtol of each value plus the array's mean magnitude, and an absolute floor `atol`. */
function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = RTOL, atol = 1e-30): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let mean = 0;
  for (let i = 0; i < expected.length; i++) mean += Math.abs(expected[i]);
  mean = expected.length ? mean / expected.length : 0;
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * (Math.abs(expected[i]) + mean) + atol;
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) assert.fail(`${what}[${i}]: ${actual[i]} vs ${expected[i]} (|diff| ${Math.abs(actual[i] - expected[i])} > ${tol})`);
  }
}

describe('wasm kernels: GEMM paths and against native', { skip }, () => {
  const W = wasm as Kernels;
  const native = loadNativeKernels();
  // Direct (few rows: GEMV-like decoding) and packed paths, every transpose, edges of the 4×8 tile and of the blocks.
  const shapes = [[1, 1, 1], [1, 37, 19], [2, 64, 128], [3, 13, 5], [4, 9, 300], [8, 33, 17], [9, 70, 260], [131, 1030, 259]];
  test('all transposes, direct and packed, weights in wasm memory or not', () => {
    for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
      for (const [m, n, k] of shapes) {
        const a = randn(m * k), c0 = randn(m * n);
        const inMemory = (W.allocFloat32?.(k * n) ?? null) as Float32Array;
        inMemory.set(randn(k * n));
        const b = inMemory;
        const cj = c0.slice(), cw = c0.slice();
        jsKernels.gemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, 0.5, cj, n);
        W.gemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, 0.5, cw, n);
        assertClose(cw, cj, `gemm tA=${tA} tB=${tB} ${m}×${n}×${k}`);
        if (native) {
          const cn = c0.slice();
          native.gemm(tA, tB, m, n, k, 0.75, a, tA ? m : k, b, tB ? k : n, 0.5, cn, n);
          assertClose(cw, cn, `gemm vs native tA=${tA} tB=${tB} ${m}×${n}×${k}`);
        }
      }
    }
  });

  test('the other kernels against native: cells, softmax, layer norm, attention', { skip: native ? false : 'native addon not built' }, () => {
    const N = native as Kernels;
    const rows = 5, H = 33;
    const gates = randn(rows * 4 * H), cPrev = randn(rows * H);
    const run = (K: Kernels) => {
      const g = gates.slice(), c = new Float32Array(rows * H), h = new Float32Array(rows * H);
      K.lstmCellForward(rows, H, g, cPrev, c, h);
      const logits = new Float32Array(rows * 101).map((_, i) => Math.sin(i) * 4);
      const sm = new Float32Array(rows * 101);
      K.softmaxRows(rows, 101, logits, sm, true);
      const out = new Float32Array(rows * H), mean = new Float32Array(rows), rstd = new Float32Array(rows);
      K.layerNormForward(rows, H, h, new Float32Array(H).fill(1.5), new Float32Array(H).fill(0.1), 1e-5, out, mean, rstd);
      const q = new Float32Array(2 * 7 * 16).map((_, i) => Math.cos(i)), probs = new Float32Array(2 * 2 * 7 * 7), ao = new Float32Array(2 * 7 * 16);
      K.attentionForward(2, 2, 7, 7, 8, q, q, q, null, true, null, 1, probs, ao);
      return [g, c, h, sm, out, probs, ao];
    };
    const w = run(W), n = run(N);
    w.forEach((arr, i) => assertClose(arr, n[i], `kernel output ${i} vs native`));
  });
});

describe('wasm kernels: memory', { skip }, () => {
  const W = wasm as NonNullable<typeof wasm>;

  test('views of the wasm memory are passed without copies; other arrays are staged', () => {
    const m = 3, n = 5, k = 4;
    const a = randn(m * k), b = randn(k * n);
    const cj = new Float32Array(m * n);
    jsKernels.gemm(false, false, m, n, k, 1, a, k, b, n, 0, cj, n);
    const aw = W.allocFloat32(m * k) as Float32Array, bw = W.allocFloat32(k * n) as Float32Array, cw = W.allocFloat32(m * n) as Float32Array;
    assert.ok(aw.buffer === W.memory.buffer || W.shared, 'allocations are views of the memory');
    aw.set(a); bw.set(b);
    W.gemm(false, false, m, n, k, 1, aw, k, bw, n, 0, cw, n);
    assertClose(cw, cj, 'gemm on views of the memory');
    const cs = new Float32Array(m * n);
    W.gemm(false, false, m, n, k, 1, aw, k, b, n, 0, cs, n);
    assertClose(cs, cj, 'gemm mixing views and plain arrays');
  });

  test('aliased and overlapping arguments behave as on the js kernels', () => {
    const base = randn(64);
    const cases: [string, (K: Kernels, x: Float32Array) => void][] = [
      ['biasActivation in place (out = pre = x)', (K, x) => K.biasActivation(4, 8, x.subarray(0, 32), x.subarray(32, 40), 'gelu', x.subarray(0, 32), x.subarray(0, 32))],
      ['unaryBackward with y = dx', (K, x) => K.unaryBackward('tanh', x.subarray(0, 16), x.subarray(16, 32), x.subarray(0, 16))],
      ['copyBlock overlapping forward', (K, x) => K.copyBlock(3, 10, x.subarray(0, 30), 10, x.subarray(5, 35), 10, false)],
      ['copyBlock accumulating into another part of its buffer', (K, x) => K.copyBlock(2, 12, x.subarray(0, 24), 12, x.subarray(30, 54), 12, true)],
      ['gatherRows from its own output buffer', (K, x) => K.gatherRows(8, x.subarray(0, 32), Int32Array.of(3, 0, -1, 1), x.subarray(32, 64))],
      ['addRowVector with the bias inside x', (K, x) => K.addRowVector(3, 8, x.subarray(8, 32), x.subarray(0, 8))],
    ];
    for (const [what, run] of cases) {
      const xj = base.slice(), xw = base.slice();
      run(jsKernels, xj);
      run(W, xw);
      assertClose(xw, xj, `${what} (plain array)`);
      const xm = W.allocFloat32(64) as Float32Array;
      xm.set(base);
      run(W, xm);
      assertClose(xm, xj, `${what} (wasm memory)`);
    }
  });

  test('a shared memory grows without detaching earlier views; scratch grows for large staged operands', () => {
    assert.equal(W.shared, true, 'Node uses the shared-memory build');
    const early = W.allocFloat32(1000) as Float32Array;
    early.fill(2.5);
    const before = W.memory.buffer.byteLength;
    W.allocFloat32(4 << 20); // 16 MiB: forces growth
    const big = randn(3 << 20), out = new Float32Array(big.length); // 12 MiB staged in and out: more than the initial scratch
    W.unary('relu', big, out);
    assert.ok(W.memory.buffer.byteLength > before, 'the memory grew');
    assert.equal(early[999], 2.5, 'an early view still reads its values');
    const expect = new Float32Array(big.length);
    jsKernels.unary('relu', big, expect);
    assert.deepEqual(out, expect);
  });

  test('a plain memory refuses to grow once long-lived views exist, and falls back to js for oversized calls', () => {
    const file = join(root, 'dist', 'wasm', WASM_FILES.plain);
    if (!existsSync(file)) return;
    const P = createWasmKernels(new WebAssembly.Module(readFileSync(file)), { shared: false, scratchBytes: 1 << 16 });
    P.reserve(1 << 20);
    const kept = P.allocFloat32(1000) as Float32Array;
    kept.fill(1.25);
    const pages = P.memory.buffer.byteLength;
    assert.equal(P.allocFloat32(64 << 20), null, 'no 256 MiB allocation without growing');
    const x = randn(1 << 20), out = new Float32Array(x.length), expect = new Float32Array(x.length);
    P.unary('tanh', x, out); // 8 MiB staged: more than the scratch, and the memory may not grow
    jsKernels.unary('tanh', x, expect);
    assertClose(out, expect, 'oversized call on the js fallback');
    assert.equal(P.memory.buffer.byteLength, pages, 'the memory did not grow');
    assert.equal(kept[999], 1.25, 'long-lived views stay attached');
    const small = randn(100), so = new Float32Array(100), se = new Float32Array(100);
    P.unary('sigmoid', small, so);
    jsKernels.unary('sigmoid', small, se);
    assertClose(so, se, 'small calls still run in wasm');
  });

  test('S2S_KERNELS-style selection: setKernels("wasm") and loadWasmKernels() give the one instance', async () => {
    const initial = kernels();
    try {
      assert.equal(setKernels('wasm'), W);
      assert.equal(await loadWasmKernels(), W);
      assert.equal(kernels().name, 'wasm');
    } finally {
      setKernels(initial);
    }
  });
});

// ------------------------------------------------------------ whole models

/** Loss, logits and every parameter's gradient of one teacher-forced batch, on kernel set K. */
function forwardBackward(K: Kernels, build: () => { model: TranslationModel; examples: Parameters<typeof makeBatch>[0] }, dropout: boolean): { loss: number; logits: Float32Array; grads: Float32Array[] } {
  const initial = kernels();
  setKernels(K);
  try {
    const { model, examples } = build();
    const r = model.forward(makeBatch(examples, [0, 1, 2, 3, 4, 5]), dropout ? { training: true, rng: new Rng(5), labelSmoothing: 0.1 } : {});
    r.loss.backward();
    return { loss: r.loss.item(), logits: r.logits.data.slice(), grads: model.parameters().map((p) => (p.grad as Float32Array).slice()) };
  } finally {
    setKernels(initial);
  }
}

describe('whole models: wasm vs js, forward and backward', { skip }, () => {
  const W = wasm as NonNullable<typeof wasm>;
  const rnnCases: [string, Parameters<typeof tinySetup>[1]][] = [
    ['LSTM, bidirectional, general attention', { cell: 'lstm', bidirectional: true, attention: 'general', embeddingDim: 16 }],
    ['GRU, 2 layers, additive attention', { cell: 'gru', layers: 2, attention: 'additive', embeddingDim: 12 }],
    ['LSTM without attention, one-hot inputs', { cell: 'lstm' }],
  ];
  for (const [what, config] of rnnCases) {
    test(`RNN: ${what}`, () => {
      const run = (K: Kernels) => forwardBackward(K, () => tinySetup(12, config), false);
      const j = run(jsKernels), w = run(W);
      assert.ok(Math.abs(w.loss - j.loss) <= RTOL * Math.abs(j.loss), `loss ${w.loss} vs ${j.loss}`);
      assertClose(w.logits, j.logits, 'logits');
      // Gradients of ~1e-12 (a parameter that barely matters) differ by rounding only: an absolute floor far below any that counts.
      w.grads.forEach((g, i) => assertClose(g, j.grads[i], `gradient ${i}`, 2e-4, 1e-9));
    });
  }
  test('Transformer (pre-LN, GELU, dropout and label smoothing)', () => {
    const config = { modelDim: 16, heads: 2, ffDim: 32, layers: 2, activation: 'gelu' as const, dropout: 0.1 };
    const run = (K: Kernels) => forwardBackward(K, () => tinyTransformer(12, config), true);
    const j = run(jsKernels), w = run(W);
    assert.ok(Math.abs(w.loss - j.loss) <= RTOL * Math.abs(j.loss), `loss ${w.loss} vs ${j.loss}`);
    assertClose(w.logits, j.logits, 'logits');
    // Gradients of ~1e-12 (a parameter that barely matters) differ by rounding only: an absolute floor far below any that counts.
      w.grads.forEach((g, i) => assertClose(g, j.grads[i], `gradient ${i}`, 2e-4, 1e-9));
  });
  test('parameters built under wasm live in its memory (no copies per call)', () => {
    const initial = kernels();
    setKernels(W);
    try {
      const { model } = tinySetup(4, { attention: 'dot' });
      const r = model.forward(makeBatch(tinySetup(4, { attention: 'dot' }).examples, [0, 1]));
      r.loss.backward();
      for (const p of model.parameters()) {
        assert.ok(W.contains(p.data), `${p.name} is in the wasm memory`);
        assert.ok(W.contains(p.grad as Float32Array), `${p.name}'s gradient is in the wasm memory`);
      }
      assert.ok(!W.contains(r.logits.data), 'activations are ordinary arrays');
    } finally {
      setKernels(initial);
    }
  });
});

// ------------------------------------------------------------ int8

describe('wasm int8 kernels', { skip }, () => {
  const W = wasm as NonNullable<typeof wasm>;
  test('quantizeRowsInt8, gemmInt8, gatherRowsInt8 equal the TypeScript kernels bit for bit (plain arrays and wasm memory)', () => {
    assert.deepEqual(int8Digest(W), int8Digest(jsKernels));
    // The same with the weights and outputs inside the wasm memory (zero copy).
    const m = 3, n = 37, k = 77;
    const q = W.allocInt8(m * k) as Int8Array, w = W.allocInt8(n * k) as Int8Array;
    for (let i = 0; i < q.length; i++) q[i] = ((i * 37) % 255) - 127;
    for (let i = 0; i < w.length; i++) w[i] = ((i * 91) % 255) - 127;
    const as = Float32Array.from({ length: m }, (_, i) => 0.01 * (i + 1)), bs = Float32Array.from({ length: n }, (_, j) => 0.003 * (j + 1));
    const oj = new Float32Array(m * n), ow = W.allocFloat32(m * n) as Float32Array;
    jsKernels.gemmInt8(m, n, k, q, as, w, bs, null, false, oj);
    W.gemmInt8(m, n, k, q, as, w, bs, null, false, ow);
    assert.deepEqual(Array.from(ow), Array.from(oj));
  });

  test('bad arguments throw instead of reading or writing out of bounds', () => {
    assert.throws(() => W.gemmInt8(2, 2, 4, new Int8Array(7), new Float32Array(2), new Int8Array(8), new Float32Array(2), null, false, new Float32Array(4)), RangeError);
    assert.throws(() => W.gemmInt8(1, 2, 4, new Int8Array(4), new Float32Array(1), new Int8Array(8), new Float32Array(1), null, false, new Float32Array(2)), RangeError);
    assert.throws(() => W.gemmInt8(1, 1, 200000, new Int8Array(200000), new Float32Array(1), new Int8Array(200000), new Float32Array(1), null, false, new Float32Array(1)), /131072/);
    assert.throws(() => W.gatherRowsInt8(2, new Int8Array(4), new Float32Array(2), Int32Array.of(2), new Float32Array(2)), RangeError);
    assert.throws(() => W.gatherRowsInt8(2, new Int8Array(4), new Float32Array(1), Int32Array.of(1), new Float32Array(2)), RangeError);
    assert.throws(() => W.quantizeRowsInt8(2, 3, new Float32Array(6), new Int8Array(5), new Float32Array(2)), RangeError);
  });

  test('a quantized RNN decodes on wasm as on js (int8 weights in the wasm memory)', () => {
    const run = (K: Kernels) => {
      const initial = kernels();
      setKernels(K);
      try {
        const setup = tinySetup(12, { cell: 'lstm', bidirectional: true, attention: 'general', embeddingDim: 16 });
        quantizeModel(setup.model);
        const int8 = setup.model.parameters().filter((p) => p.int8);
        assert.ok(int8.length > 0, 'some weights are int8');
        if (K === W) for (const p of int8) assert.ok(W.contains((p.int8 as { values: Int8Array }).values), `${p.name}'s int8 values are in the wasm memory`);
        const b = makeSourceBatch(setup.examples.slice(0, 4).map((e) => e.src));
        return noGrad(() => {
          const state = setup.model.encode({ ids: b.srcIds, lengths: b.srcLengths, maxLen: b.srcMaxLen });
          return setup.model.decodeStep(Int32Array.from({ length: 4 }, () => 1), state).logits.data.slice();
        });
      } finally {
        setKernels(initial);
      }
    };
    assertClose(run(W), run(jsKernels), 'int8 model logits');
  });
});

// ------------------------------------------------------------ threads

describe('wasm threads (node:worker_threads over the shared memory)', { skip }, () => {
  const W = wasm as NonNullable<typeof wasm>;
  /** Every call that splits across threads, on fixed inputs; each result array. */
  function workload(): Float32Array[] {
    const r = new Rng(99);
    const f = (n: number): Float32Array => Float32Array.from({ length: n }, () => r.normal());
    const out: Float32Array[] = [];
    // direct path (columns split), packed path (row blocks split), every transpose
    // (each above the 2^21 multiply-adds from which calls are split; the test checks that they were)
    for (const [m, n, k, tA, tB] of [[1, 8213, 256, 0, 0], [3, 2400, 300, 1, 0], [2, 2100, 513, 0, 1], [64, 300, 260, 0, 0], [40, 200, 300, 1, 1]] as const) {
      const a = f(m * k), b = f(k * n), c = f(m * n);
      W.gemm(!!tA, !!tB, m, n, k, 0.7, a, tA ? m : k, b, tB ? k : n, 0.3, c, n);
      out.push(c);
    }
    const m = 3, n = 2100, k = 333;
    const q = Int8Array.from({ length: m * k }, (_, i) => ((i * 37) % 255) - 127), w = Int8Array.from({ length: n * k }, (_, i) => ((i * 91) % 255) - 127);
    const o = f(m * n);
    W.gemmInt8(m, n, k, q, f(m).map(Math.abs), w, f(n).map(Math.abs), f(n), true, o);
    out.push(o);
    const B = 4, H = 4, T = 48, hd = 64, D = H * hd;
    const qq = f(B * T * D), kk = f(B * T * D), vv = f(B * T * D), probs = new Float32Array(B * H * T * T), ao = new Float32Array(B * T * D);
    W.attentionForward(B, H, T, T, hd, qq, kk, vv, null, true, null, 1, probs, ao);
    const dq = new Float32Array(B * T * D), dk = new Float32Array(B * T * D), dv = new Float32Array(B * T * D);
    W.attentionBackward(B, H, T, T, hd, qq, kk, vv, probs, null, 1, f(B * T * D), dq, dk, dv);
    out.push(probs, ao, dq, dk, dv);
    return out;
  }

  test('results are bit-identical with 1, 2 and 3 threads, and the workers stop', async () => {
    const one = workload();
    try {
      for (const threads of [2, 3]) {
        await startNodeThreads(W, threads);
        assert.equal(W.threads, threads);
        assert.match(W.description, new RegExp(`${threads} threads\\)$`));
        const splits = W.counters.splitCalls;
        const many = workload();
        assert.equal(W.counters.splitCalls - splits, 8, `all 8 calls were split across ${threads} threads`);
        one.forEach((x, i) => assert.deepEqual(many[i], x, `result ${i} with ${threads} threads`));
        // A batch-1 decoder GEMV (256 × 4848, 1.2 M multiply-adds) stays on one thread.
        const before = W.counters.splitCalls;
        W.gemm(false, false, 1, 4848, 256, 1, new Float32Array(256), 256, new Float32Array(256 * 4848), 4848, 0, new Float32Array(4848), 4848);
        assert.equal(W.counters.splitCalls, before, 'a batch-1 GEMV is not split');
      }
    } finally {
      W.stopThreads();
    }
    assert.equal(W.threads, 1);
    assert.match(W.description, /1 thread\)$/);
    one.forEach((x, i) => assert.deepEqual(workload()[i], x, `result ${i} after stopping`));
  });

  test('loadWasmKernels({ threads }) starts and stops them; a plain memory refuses', async () => {
    await loadWasmKernels({ threads: 2 });
    assert.equal(W.threads, 2);
    await loadWasmKernels({ threads: 1 });
    assert.equal(W.threads, 1);
    const file = join(root, 'dist', 'wasm', WASM_FILES.plain);
    const P = createWasmKernels(new WebAssembly.Module(readFileSync(file)), { shared: false });
    await assert.rejects(startNodeThreads(P, 2), /shared-memory build/);
  });
});
