/**
 * The native addon against the TypeScript kernels: every Kernels function on
 * the same random inputs (odd sizes, all GEMM transposes, strided and
 * offset subarray views), the fused lstm/gru ops of rnn.ts forward and
 * backward over unequal sequence lengths, and bad arguments, which must
 * throw rather than crash. Values must agree within 1e-4 relative (with the
 * array's mean magnitude as the floor for elements near zero).
 *
 * Skipped with a message when the addon is not built. Set S2S_NATIVE_ADDON
 * to test another build (e.g. the OpenBLAS-free fallback).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { jsKernels, loadNativeKernels, nativeLoadError, setKernels, kernels, type Kernels, type UnaryOp } from '../src/engine/kernels/index.js';
import { Tensor } from '../src/engine/tensor.js';
import { lstm, gru, packedLayout } from '../src/engine/rnn.js';
import * as ops from '../src/engine/ops.js';
import { Rng } from '../src/engine/rng.js';

const native = loadNativeKernels();
const skip = native ? false : `native addon not built (${nativeLoadError() || 'no build/Release/s2s_native.node'}); run \`npm run build:native\``;
const N = native as Kernels;
const J = jsKernels;
const RTOL = 1e-4;

const rng = new Rng(20240611);

function randn(n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** A view of `n` elements at a random offset inside a larger buffer whose margins hold a sentinel. */
const SENTINEL = 1234.5;
function padded(values: Float32Array): { view: Float32Array; backing: Float32Array; offset: number } {
  const offset = 1 + rng.int(7);
  const backing = new Float32Array(offset + values.length + 5).fill(SENTINEL);
  backing.set(values, offset);
  return { view: backing.subarray(offset, offset + values.length), backing, offset };
}

function assertMargins(p: { view: Float32Array; backing: Float32Array; offset: number }, what: string): void {
  for (let i = 0; i < p.offset; i++) assert.equal(p.backing[i], SENTINEL, `${what}: wrote before its view`);
  for (let i = p.offset + p.view.length; i < p.backing.length; i++) assert.equal(p.backing[i], SENTINEL, `${what}: wrote past its view`);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = RTOL): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let mean = 0;
  for (let i = 0; i < expected.length; i++) mean += Math.abs(expected[i]);
  mean = expected.length ? mean / expected.length : 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e)) {
      assert.ok(Number.isNaN(a), `${what}[${i}]: expected NaN, got ${a}`);
      continue;
    }
    const tol = rtol * (Math.abs(e) + mean) + 1e-30;
    if (!(Math.abs(a - e) <= tol)) assert.fail(`${what}[${i}]: native ${a} vs js ${e} (|diff| ${Math.abs(a - e)} > ${tol})`);
  }
}

function assertScalarClose(a: number, e: number, what: string): void {
  assert.ok(Math.abs(a - e) <= RTOL * Math.abs(e) + 1e-6, `${what}: native ${a} vs js ${e}`);
}

/** Runs `run(k, arrays)` on copies of the inputs for both kernel sets; returns both sets of arrays. */
function both<T>(inputs: Float32Array[], run: (k: Kernels, arrays: Float32Array[]) => T): { n: Float32Array[]; j: Float32Array[]; rn: T; rj: T } {
  const pn = inputs.map((x) => padded(x));
  const aj = inputs.map((x) => x.slice());
  const rn = run(N, pn.map((p) => p.view));
  const rj = run(J, aj);
  pn.forEach((p, i) => assertMargins(p, `array ${i}`));
  return { n: pn.map((p) => p.view), j: aj, rn, rj };
}

describe('native kernels vs js kernels', { skip }, () => {
  test('description', (t) => {
    t.diagnostic(`native: ${N.description}`);
    assert.equal(N.name, 'native');
    assert.match(N.description, /^native \(/);
  });

  test('gemm: all transposes, odd sizes, alpha/beta, strides and offset views', () => {
    const sizes = [1, 3, 17, 65, 257];
    const scalars: [number, number][] = [[1, 0], [0.75, 1], [-1.5, 0.5]];
    let count = 0;
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        for (const m of sizes) {
          for (const n of sizes) {
            for (const k of sizes) {
              const [alpha, beta] = scalars[count++ % scalars.length];
              const pad = count % 2; // every other case uses strides larger than the row length
              const aRows = tA ? k : m, aCols = tA ? m : k;
              const bRows = tB ? n : k, bCols = tB ? k : n;
              const lda = aCols + pad * 3, ldb = bCols + pad * 2, ldc = n + pad;
              const A = randn((aRows - 1) * lda + aCols);
              const B = randn((bRows - 1) * ldb + bCols);
              const C = randn((m - 1) * ldc + n);
              const r = both([A, B, C], (K, [a, b, c]) => K.gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc));
              assertClose(r.n[2], r.j[2], `gemm tA=${tA} tB=${tB} m=${m} n=${n} k=${k}`);
            }
          }
        }
      }
    }
  });

  test('gemm: k = 0 and alpha = 0 only scale C', () => {
    for (const [k, alpha, beta] of [[0, 1, 0.5], [5, 0, 2], [0, 1, 0]] as const) {
      const A = randn(3 * Math.max(k, 1)), B = randn(Math.max(k, 1) * 4), C = randn(12);
      const r = both([A, B, C], (K, [a, b, c]) => K.gemm(false, false, 3, 4, k, alpha, a, Math.max(k, 1), b, 4, beta, c, 4));
      assertClose(r.n[2], r.j[2], `gemm k=${k} alpha=${alpha} beta=${beta}`);
    }
  });

  test('lstmCellForward / lstmCellBackward', () => {
    for (const [rows, H] of [[1, 1], [3, 17], [17, 65], [64, 256], [5, 3]]) {
      const gates = randn(rows * 4 * H, 3);
      gates[0] = 40; // saturated gates exercise the exp clamps
      if (gates.length > 1) gates[gates.length - 1] = -95;
      const cPrev = randn(rows * H);
      const f = both([gates, cPrev, new Float32Array(rows * H), new Float32Array(rows * H)], (K, [g, cp, c, h]) => K.lstmCellForward(rows, H, g, cp, c, h));
      for (let i = 0; i < 4; i++) assertClose(f.n[i], f.j[i], `lstmCellForward rows=${rows} H=${H} out ${['gates', 'cPrev', 'c', 'h'][i]}`);
      const [g, cp, c] = f.j;
      const dh = randn(rows * H), dc = randn(rows * H);
      const b = both([g, cp, c, dh, dc, new Float32Array(rows * 4 * H)], (K, [g2, cp2, c2, dh2, dc2, dG]) => K.lstmCellBackward(rows, H, g2, cp2, c2, dh2, dc2, dG));
      assertClose(b.n[4], b.j[4], `lstmCellBackward rows=${rows} H=${H} dc`);
      assertClose(b.n[5], b.j[5], `lstmCellBackward rows=${rows} H=${H} dGates`);
    }
  });

  test('gruCellForward / gruCellBackward', () => {
    for (const [rows, H] of [[1, 1], [3, 17], [17, 65], [64, 256]]) {
      const xG = randn(rows * 3 * H, 2), hG = randn(rows * 3 * H, 2), hPrev = randn(rows * H);
      xG[0] = 50;
      const f = both([xG, hG, hPrev, new Float32Array(rows * H)], (K, [x, hg, hp, h]) => K.gruCellForward(rows, H, x, hg, hp, h));
      assertClose(f.n[0], f.j[0], `gruCellForward rows=${rows} H=${H} gates`);
      assertClose(f.n[1], f.j[1], `gruCellForward rows=${rows} H=${H} hGates unchanged`);
      assertClose(f.n[3], f.j[3], `gruCellForward rows=${rows} H=${H} h`);
      const [gates] = f.j;
      const dh = randn(rows * H);
      const b = both([gates, hG, hPrev, dh, new Float32Array(rows * 3 * H), new Float32Array(rows * 3 * H)], (K, [g, hg, hp, d, dx, dhg]) =>
        K.gruCellBackward(rows, H, g, hg, hp, d, dx, dhg),
      );
      assertClose(b.n[3], b.j[3], `gruCellBackward rows=${rows} H=${H} dh`);
      assertClose(b.n[4], b.j[4], `gruCellBackward rows=${rows} H=${H} dxGates`);
      assertClose(b.n[5], b.j[5], `gruCellBackward rows=${rows} H=${H} dhGates`);
    }
  });

  test('softmaxCrossEntropy with ignored rows, with and without gradients', () => {
    for (const [rows, cols] of [[1, 1], [3, 17], [65, 93], [17, 257], [4, 3]]) {
      const logits = randn(rows * cols, 4);
      const targets = new Int32Array(rows);
      for (let r = 0; r < rows; r++) targets[r] = r % 5 === 4 ? -1 : rng.int(cols);
      const scale = 1 / rows;
      const r = both([logits, new Float32Array(rows * cols).fill(7)], (K, [x, d]) => K.softmaxCrossEntropy(rows, cols, x, targets, d, scale, 0));
      assertScalarClose(r.rn, r.rj, `softmaxCrossEntropy loss rows=${rows} cols=${cols}`);
      assertClose(r.n[1], r.j[1], `softmaxCrossEntropy dLogits rows=${rows} cols=${cols}`);
      const lossN = N.softmaxCrossEntropy(rows, cols, logits, targets, null, scale, 0);
      const lossJ = J.softmaxCrossEntropy(rows, cols, logits, targets, null, scale, 0);
      assertScalarClose(lossN, lossJ, `softmaxCrossEntropy loss without gradient rows=${rows} cols=${cols}`);
    }
  });

  test('softmaxRows (softmax and log-softmax)', () => {
    for (const log of [false, true]) {
      for (const [rows, cols] of [[1, 1], [3, 17], [65, 93], [2, 257]]) {
        const x = randn(rows * cols, 5);
        const r = both([x, new Float32Array(rows * cols)], (K, [xi, o]) => K.softmaxRows(rows, cols, xi, o, log));
        assertClose(r.n[1], r.j[1], `softmaxRows log=${log} rows=${rows} cols=${cols}`);
      }
    }
  });

  test('unary and unaryBackward', () => {
    for (const op of ['sigmoid', 'tanh', 'relu'] as UnaryOp[]) {
      for (const n of [1, 3, 17, 65, 257, 1000]) {
        const x = randn(n, 4);
        x[0] = 0;
        if (n > 2) { x[1] = 1e-5; x[2] = -100; }
        const f = both([x, new Float32Array(n)], (K, [xi, o]) => K.unary(op, xi, o));
        assertClose(f.n[1], f.j[1], `unary ${op} n=${n}`);
        const b = both([f.j[1], randn(n), randn(n)], (K, [y, dy, dx]) => K.unaryBackward(op, y, dy, dx));
        assertClose(b.n[2], b.j[2], `unaryBackward ${op} n=${n}`);
      }
    }
  });

  test('tanh and sigmoid are accurate near zero and at large magnitudes', () => {
    const x = Float32Array.from([0, 1e-7, -1e-6, 1e-3, 0.3, 0.6249, 0.6251, -0.7, 5, 9, 20, -20, 44, 88, -88, 100, -100, -1000, 1000]);
    for (const op of ['tanh', 'sigmoid'] as UnaryOp[]) {
      const out = new Float32Array(x.length);
      N.unary(op, x, out);
      for (let i = 0; i < x.length; i++) {
        const e = op === 'tanh' ? Math.tanh(x[i]) : 1 / (1 + Math.exp(-x[i]));
        assert.ok(Math.abs(out[i] - e) <= 2e-6 * Math.abs(e) + 1e-37, `${op}(${x[i]}) = ${out[i]}, expected ${e}`);
      }
    }
    const nan = new Float32Array(1);
    N.unary('tanh', Float32Array.of(NaN), nan);
    assert.ok(Number.isNaN(nan[0]), 'tanh(NaN) is NaN');
    N.unary('sigmoid', Float32Array.of(NaN), nan);
    assert.ok(Number.isNaN(nan[0]), 'sigmoid(NaN) is NaN');
  });

  test('addRowVector and sumRows', () => {
    for (const [rows, cols] of [[1, 1], [3, 17], [65, 93], [257, 3]]) {
      const a = both([randn(rows * cols), randn(cols)], (K, [x, b]) => K.addRowVector(rows, cols, x, b));
      assertClose(a.n[0], a.j[0], `addRowVector rows=${rows} cols=${cols}`);
      const s = both([randn(rows * cols), randn(cols)], (K, [x, o]) => K.sumRows(rows, cols, x, o));
      assertClose(s.n[1], s.j[1], `sumRows rows=${rows} cols=${cols}`);
    }
  });

  test('gatherRows (negative index gives zeros) and scatterAddRows (repeats accumulate)', () => {
    for (const [srcRows, cols, count] of [[1, 1, 3], [5, 17, 9], [93, 65, 200], [71, 1024, 64]]) {
      const index = new Int32Array(count);
      for (let i = 0; i < count; i++) index[i] = i % 4 === 3 ? -1 : rng.int(srcRows);
      const g = both([randn(srcRows * cols), new Float32Array(count * cols).fill(3)], (K, [src, out]) => K.gatherRows(cols, src, index, out));
      assertClose(g.n[1], g.j[1], `gatherRows cols=${cols} count=${count}`);
      const s = both([randn(count * cols), randn(srcRows * cols)], (K, [src, dst]) => K.scatterAddRows(cols, src, index, dst));
      assertClose(s.n[1], s.j[1], `scatterAddRows cols=${cols} count=${count}`);
    }
  });

  test('sumSquares and scale', () => {
    for (const n of [0, 1, 3, 17, 65, 257, 100003]) {
      const x = randn(n, 3);
      const r = both([x], (K, [xi]) => K.sumSquares(xi));
      assertScalarClose(r.rn, r.rj, `sumSquares n=${n}`);
      const s = both([x], (K, [xi]) => K.scale(xi, -0.37));
      assertClose(s.n[0], s.j[0], `scale n=${n}`);
    }
  });

  test('rmspropUpdate and adamUpdate over several steps', () => {
    for (const n of [1, 3, 17, 65, 257, 4099]) {
      const p = randn(n), ms = new Float32Array(n), m = new Float32Array(n), v = new Float32Array(n);
      const rp = both([p, ms], (K, [pi, msi]) => {
        for (let step = 0; step < 3; step++) K.rmspropUpdate(pi, randnFixed(n, step), msi, 0.001, 0.9, 1e-7);
      });
      assertClose(rp.n[0], rp.j[0], `rmspropUpdate p n=${n}`);
      assertClose(rp.n[1], rp.j[1], `rmspropUpdate ms n=${n}`);
      const ra = both([p, m, v], (K, [pi, mi, vi]) => {
        for (let step = 1; step <= 3; step++) {
          const lrT = (0.001 * Math.sqrt(1 - 0.999 ** step)) / (1 - 0.9 ** step);
          K.adamUpdate(pi, randnFixed(n, step), mi, vi, lrT, 0.9, 0.999, 1e-7);
        }
      });
      for (let i = 0; i < 3; i++) assertClose(ra.n[i], ra.j[i], `adamUpdate ${['p', 'm', 'v'][i]} n=${n}`);
    }
  });
});

/** Deterministic gradients per (n, step) so both kernel sets see the same ones. */
const fixedCache = new Map<string, Float32Array>();
function randnFixed(n: number, step: number): Float32Array {
  const key = `${n}:${step}`;
  let g = fixedCache.get(key);
  if (!g) {
    const r = new Rng(n * 31 + step);
    g = new Float32Array(n);
    for (let i = 0; i < n; i++) g[i] = r.normal() * 0.1;
    fixedCache.set(key, g);
  }
  return g;
}

// ------------------------------------------------------------ fused recurrent ops

interface RnnRun {
  values: Float32Array[];
  grads: Float32Array[];
}

function param(data: Float32Array, shape: number[]): Tensor {
  return new Tensor(data.slice(), shape, true);
}

/** Weighted sum of a tensor with fixed weights: a scalar loss that gives every element its own gradient. */
function weighted(x: Tensor, w: Float32Array): Tensor {
  return ops.sum(ops.mul(x, new Tensor(w, x.shape)));
}

function runLstm(k: 'js' | 'native', lengths: number[], H: number, inputs: Float32Array[]): RnnRun {
  setKernels(k);
  const layout = packedLayout(lengths);
  const [xd, wd, h0d, c0d, wo, wh, wc] = inputs;
  const xProj = param(xd, [layout.total, 4 * H]);
  const wHH = param(wd, [H, 4 * H]);
  const h0 = param(h0d, [layout.batch, H]);
  const c0 = param(c0d, [layout.batch, H]);
  const r = lstm(xProj, wHH, h0, c0, layout);
  const loss = ops.add(ops.add(weighted(r.output, wo), weighted(r.h, wh)), weighted(r.c, wc));
  loss.backward();
  return {
    values: [r.output.data, r.h.data, r.c.data, loss.data],
    grads: [xProj.grad!, wHH.grad!, h0.grad!, c0.grad!],
  };
}

function runGru(k: 'js' | 'native', lengths: number[], H: number, inputs: Float32Array[]): RnnRun {
  setKernels(k);
  const layout = packedLayout(lengths);
  const [xd, wd, bd, h0d, wo, wh] = inputs;
  const xProj = param(xd, [layout.total, 3 * H]);
  const wHH = param(wd, [H, 3 * H]);
  const bHH = param(bd, [3 * H]);
  const h0 = param(h0d, [layout.batch, H]);
  const r = gru(xProj, wHH, bHH, h0, layout);
  const loss = ops.add(weighted(r.output, wo), weighted(r.h, wh));
  loss.backward();
  return {
    values: [r.output.data, r.h.data, loss.data],
    grads: [xProj.grad!, wHH.grad!, bHH.grad!, h0.grad!],
  };
}

describe('fused lstm/gru ops: native vs js, forward and backward', { skip }, () => {
  const cases: { lengths: number[]; H: number }[] = [
    { lengths: [7, 5, 5, 2, 1], H: 17 },
    { lengths: [16, 13, 9, 9, 4, 3, 1, 1], H: 64 },
    { lengths: [12, 11, 3, 0], H: 5 },
  ];
  const initial = kernels();

  for (const { lengths, H } of cases) {
    test(`lstm lengths=[${lengths}] H=${H}`, () => {
      const layout = packedLayout(lengths);
      const B = lengths.length;
      const inputs = [randn(layout.total * 4 * H), randn(H * 4 * H, 0.3), randn(B * H), randn(B * H), randn(layout.total * H), randn(B * H), randn(B * H)];
      const j = runLstm('js', lengths, H, inputs);
      const n = runLstm('native', lengths, H, inputs);
      setKernels(initial);
      ['output', 'h', 'c', 'loss'].forEach((name, i) => assertClose(n.values[i], j.values[i], `lstm ${name}`));
      ['dxProj', 'dW_hh', 'dh0', 'dc0'].forEach((name, i) => assertClose(n.grads[i], j.grads[i], `lstm ${name}`));
    });

    test(`gru lengths=[${lengths}] H=${H}`, () => {
      const layout = packedLayout(lengths);
      const B = lengths.length;
      const inputs = [randn(layout.total * 3 * H), randn(H * 3 * H, 0.3), randn(3 * H, 0.1), randn(B * H), randn(layout.total * H), randn(B * H)];
      const j = runGru('js', lengths, H, inputs);
      const n = runGru('native', lengths, H, inputs);
      setKernels(initial);
      ['output', 'h', 'loss'].forEach((name, i) => assertClose(n.values[i], j.values[i], `gru ${name}`));
      ['dxProj', 'dW_hh', 'db_hh', 'dh0'].forEach((name, i) => assertClose(n.grads[i], j.grads[i], `gru ${name}`));
    });
  }
});

// ------------------------------------------------------------ bad arguments

describe('native kernels reject bad arguments instead of crashing', { skip }, () => {
  const f = (n: number) => new Float32Array(n);

  test('wrong argument counts and types throw TypeError', () => {
    const anyN = N as unknown as Record<string, (...args: unknown[]) => unknown>;
    assert.throws(() => anyN.gemm(false, false, 2, 2, 2), { name: 'TypeError', message: /gemm: expected 13 arguments, got 5/ });
    assert.throws(() => anyN.sumSquares(), TypeError);
    assert.throws(() => anyN.sumSquares(new Float64Array(4)), { name: 'TypeError', message: /Float32Array/ });
    assert.throws(() => anyN.sumSquares([1, 2, 3]), TypeError);
    assert.throws(() => anyN.gemm(0, false, 1, 1, 1, 1, f(1), 1, f(1), 1, 0, f(1), 1), { name: 'TypeError', message: /transA/ });
    assert.throws(() => anyN.gemm(false, false, '1', 1, 1, 1, f(1), 1, f(1), 1, 0, f(1), 1), TypeError);
    assert.throws(() => anyN.gatherRows(2, f(4), Float32Array.of(0), f(2)), { name: 'TypeError', message: /Int32Array/ });
    assert.throws(() => anyN.unary(3, f(2), f(2)), TypeError);
    assert.throws(() => anyN.softmaxCrossEntropy(1, 2, f(2), Int32Array.of(0), 'x', 1, 0), { name: 'TypeError', message: /Float32Array or null/ });
    assert.throws(() => anyN.softmaxRows(1, 2, f(2), f(2), 1), TypeError);
  });

  test('gemm whose matrices exceed the arrays throws RangeError', () => {
    assert.throws(() => N.gemm(false, false, 4, 4, 4, 1, f(15), 4, f(16), 4, 0, f(16), 4), { name: 'RangeError', message: /a has 15 elements/ });
    assert.throws(() => N.gemm(false, true, 4, 4, 4, 1, f(16), 4, f(15), 4, 0, f(16), 4), { name: 'RangeError', message: /b has 15 elements/ });
    assert.throws(() => N.gemm(false, false, 4, 4, 4, 1, f(16), 4, f(16), 4, 0, f(15), 4), { name: 'RangeError', message: /c has 15 elements/ });
    assert.throws(() => N.gemm(true, false, 1000, 1000, 1000, 1, f(16), 1000, f(16), 1000, 0, f(16), 1000), RangeError);
    assert.throws(() => N.gemm(false, false, 4, 4, 4, 1, f(64), 3, f(16), 4, 0, f(16), 4), { name: 'RangeError', message: /lda 3/ });
    assert.throws(() => N.gemm(false, false, -1, 4, 4, 1, f(16), 4, f(16), 4, 0, f(16), 4), RangeError);
    assert.throws(() => N.gemm(false, false, 1.5, 4, 4, 1, f(16), 4, f(16), 4, 0, f(16), 4), RangeError);
    assert.throws(() => N.gemm(false, false, 2 ** 40, 1, 1, 1, f(1), 1, f(1), 1, 0, f(1), 1), RangeError);
    // A subarray view is only as long as the view, whatever its buffer holds.
    const big = f(100);
    assert.throws(() => N.gemm(false, false, 4, 4, 4, 1, big.subarray(90), 4, f(16), 4, 0, f(16), 4), RangeError);
  });

  test('short arrays, bad indices, targets and ops throw RangeError', () => {
    assert.throws(() => N.lstmCellForward(2, 4, f(31), f(8), f(8), f(8)), { name: 'RangeError', message: /gates has 31 elements/ });
    assert.throws(() => N.lstmCellBackward(2, 4, f(32), f(8), f(8), f(8), f(7), f(32)), /dc has 7 elements/);
    assert.throws(() => N.gruCellForward(2, 4, f(24), f(24), f(7), f(8)), RangeError);
    assert.throws(() => N.gruCellBackward(2, 4, f(24), f(24), f(8), f(8), f(24), f(23)), RangeError);
    assert.throws(() => N.gatherRows(2, f(4), Int32Array.of(0, 2), f(4)), { name: 'RangeError', message: /index 2 at position 1/ });
    assert.throws(() => N.gatherRows(2, f(4), Int32Array.of(0, 1), f(3)), RangeError);
    assert.throws(() => N.scatterAddRows(2, f(4), Int32Array.of(5, 0), f(4)), RangeError);
    assert.throws(() => N.softmaxCrossEntropy(2, 3, f(6), Int32Array.of(0, 3), null, 1, 0), { name: 'RangeError', message: /target 3 at row 1/ });
    assert.throws(() => N.softmaxCrossEntropy(2, 3, f(6), Int32Array.of(0), null, 1, 0), RangeError);
    assert.throws(() => N.softmaxRows(2, 3, f(6), f(5), false), RangeError);
    assert.throws(() => N.unary('gelu' as UnaryOp, f(2), f(2)), { name: 'RangeError', message: /unknown op "gelu"/ });
    assert.throws(() => N.unary('tanh', f(3), f(2)), RangeError);
    assert.throws(() => N.unaryBackward('relu', f(3), f(3), f(2)), RangeError);
    assert.throws(() => N.addRowVector(3, 4, f(12), f(3)), RangeError);
    assert.throws(() => N.sumRows(3, 4, f(11), f(4)), RangeError);
    assert.throws(() => N.rmspropUpdate(f(4), f(3), f(4), 0.1, 0.9, 1e-7), RangeError);
    assert.throws(() => N.adamUpdate(f(4), f(4), f(4), f(3), 0.1, 0.9, 0.999, 1e-7), RangeError);
  });

  test('a rejected call leaves its outputs untouched', () => {
    const dst = f(4).fill(1);
    assert.throws(() => N.scatterAddRows(2, Float32Array.of(1, 1, 1, 1), Int32Array.of(0, 9), dst), RangeError);
    assert.deepEqual(Array.from(dst), [1, 1, 1, 1]);
  });

  test('empty inputs are fine', () => {
    N.gemm(false, false, 0, 0, 0, 1, f(0), 0, f(0), 0, 0, f(0), 0);
    N.lstmCellForward(0, 4, f(0), f(0), f(0), f(0));
    assert.equal(N.sumSquares(f(0)), 0);
    assert.equal(N.softmaxCrossEntropy(0, 5, f(0), new Int32Array(0), null, 1, 0), 0);
    N.gatherRows(3, f(0), new Int32Array(0), f(0));
  });
});

// ------------------------------------------------------------ worker threads

describe('native addon in worker threads', { skip }, () => {
  test('loads in several workers at once, unloads when they exit, and still works on the main thread', async () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const addonPath = process.env.S2S_NATIVE_ADDON ?? join(root, 'build', 'Release', 's2s_native.node');
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const a = require(workerData);
      const n = 130, x = new Float32Array(n * n).fill(1), c = new Float32Array(n * n);
      a.gemm(false, true, n, n, n, 0.5, x, n, x, n, 0, c, n);
      parentPort.postMessage(c[n * n - 1]);`;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([0, 1, 2].map(() => new Promise<number>((done, fail) => {
        const w = new Worker(code, { eval: true, workerData: addonPath });
        let value = NaN;
        w.on('message', (m: number) => { value = m; });
        w.on('error', fail);
        w.on('exit', (codeOut) => (codeOut === 0 ? done(value) : fail(new Error(`worker exited with ${codeOut}`))));
      })));
      assert.deepEqual(results, [65, 65, 65]);
    }
    const c = new Float32Array(4);
    N.gemm(false, false, 2, 2, 1, 1, Float32Array.of(1, 2), 1, Float32Array.of(3, 4), 2, 0, c, 2);
    assert.deepEqual(Array.from(c), [3, 4, 6, 8]);
  });
});
