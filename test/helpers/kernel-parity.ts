/**
 * The parity suite of a compiled kernel set (native addon, wasm) against the
 * TypeScript kernels: every Kernels function on the same random inputs (odd
 * sizes, all GEMM transposes, strided and offset subarray views), the fused
 * lstm/gru and Transformer ops forward and backward, and bad arguments,
 * which must throw rather than corrupt memory. Values must agree within 1e-4
 * relative (with the array's mean magnitude as the floor for elements near
 * zero). Used by kernels-parity.test.ts (native) and kernels-wasm.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { jsKernels, setKernels, kernels, type Kernels, type UnaryOp } from '../../src/engine/kernels/index.js';
import { Tensor } from '../../src/engine/tensor.js';
import { lstm, gru, packedLayout } from '../../src/engine/rnn.js';
import * as ops from '../../src/engine/ops.js';
import { Rng } from '../../src/engine/rng.js';

const J = jsKernels;
const RTOL = 1e-4;

/** Registers the suites for `candidate` (labelled `label`: 'native' or 'wasm'); all skipped with `skip` when it is null. */
export function kernelParitySuites(candidate: Kernels | null, label: 'native' | 'wasm', skip: string | false): void {
  const N = candidate as Kernels;

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
      if (!(Math.abs(a - e) <= tol)) assert.fail(`${what}[${i}]: ${label} ${a} vs js ${e} (|diff| ${Math.abs(a - e)} > ${tol})`);
    }
  }

  function assertScalarClose(a: number, e: number, what: string): void {
    assert.ok(Math.abs(a - e) <= RTOL * Math.abs(e) + 1e-6, `${what}: ${label} ${a} vs js ${e}`);
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

  describe(`${label} kernels vs js kernels`, { skip }, () => {
    test('description', (t) => {
      t.diagnostic(`${label}: ${N.description}`);
      assert.equal(N.name, label);
      assert.match(N.description, label === 'native' ? /^native \(/ : /^wasm kernels \(WebAssembly 128-bit SIMD, /);
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

    test('gemm with few rows (decoding, a beam): m = 1…17 against js, and on the few-row path each row the same bits as on its own', () => {
      // n and k off every vector and column-tile edge; k = 256 and n = 1030 are the Transformer's shapes.
      // Up to 16 rows in native (S2S_SMALL_ROWS), 8 in wasm (DIRECT_ROWS), every row takes the few-row path, whose sums
      // must not depend on how many rows share a call; past that the packed path (or BLAS) takes over.
      const fewRows = label === 'native' ? 16 : 8;
      for (const tB of [false, true]) {
        for (const [n, k] of [[37, 300], [1030, 256], [5, 17]]) {
          const B = randn(n * k);
          const ldb = tB ? k : n;
          for (let m = 1; m <= 17; m++) {
            const A = randn(m * k);
            const r = both([A, B, new Float32Array(m * n)], (K, [a, b, c]) => K.gemm(false, tB, m, n, k, 1, a, k, b, ldb, 0, c, n));
            assertClose(r.n[2], r.j[2], `gemm few rows tB=${tB} m=${m} n=${n} k=${k}`);
            for (let i = 0; i < m && m <= fewRows; i++) {
              const alone = new Float32Array(n);
              candidate!.gemm(false, tB, 1, n, k, 1, A.subarray(i * k, (i + 1) * k), k, B, ldb, 0, alone, n);
              assert.deepEqual(r.n[2].subarray(i * n, (i + 1) * n), alone, `row ${i} of ${m} (tB=${tB} n=${n} k=${k})`);
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

  function runLstm(k: Kernels, lengths: number[], H: number, inputs: Float32Array[]): RnnRun {
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

  function runGru(k: Kernels, lengths: number[], H: number, inputs: Float32Array[]): RnnRun {
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

  describe(`fused lstm/gru ops: ${label} vs js, forward and backward`, { skip }, () => {
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
        const j = runLstm(J, lengths, H, inputs);
        const n = runLstm(N, lengths, H, inputs);
        setKernels(initial);
        ['output', 'h', 'c', 'loss'].forEach((name, i) => assertClose(n.values[i], j.values[i], `lstm ${name}`));
        ['dxProj', 'dW_hh', 'dh0', 'dc0'].forEach((name, i) => assertClose(n.grads[i], j.grads[i], `lstm ${name}`));
      });

      test(`gru lengths=[${lengths}] H=${H}`, () => {
        const layout = packedLayout(lengths);
        const B = lengths.length;
        const inputs = [randn(layout.total * 3 * H), randn(H * 3 * H, 0.3), randn(3 * H, 0.1), randn(B * H), randn(layout.total * H), randn(B * H)];
        const j = runGru(J, lengths, H, inputs);
        const n = runGru(N, lengths, H, inputs);
        setKernels(initial);
        ['output', 'h', 'loss'].forEach((name, i) => assertClose(n.values[i], j.values[i], `gru ${name}`));
        ['dxProj', 'dW_hh', 'db_hh', 'dh0'].forEach((name, i) => assertClose(n.grads[i], j.grads[i], `gru ${name}`));
      });
    }
  });

  // ------------------------------------------------------------ bad arguments

  describe(`${label} kernels reject bad arguments instead of crashing`, { skip }, () => {
    const f = (n: number) => new Float32Array(n);

    // The addon checks JS types at run time; the TypeScript-side kernel sets rely on the compiler.
    test('wrong argument counts and types throw TypeError', { skip: label !== 'native' && 'types are checked by TypeScript for this kernel set' }, () => {
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

  if (label === 'native') describe('native addon in worker threads', { skip }, () => {
    test('loads in several workers at once, unloads when they exit, and still works on the main thread', async () => {
      const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
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

  // ------------------------------------------------------------ Transformer kernels

  describe(`Transformer kernels: ${label} vs js`, { skip }, () => {
    const attnCases = [
      { B: 2, H: 1, tq: 3, tk: 3, hd: 4, causal: false, mask: false, drop: false },
      { B: 3, H: 2, tq: 5, tk: 7, hd: 3, causal: false, mask: true, drop: false },
      { B: 2, H: 4, tq: 9, tk: 9, hd: 16, causal: true, mask: true, drop: true },
      { B: 2, H: 2, tq: 3, tk: 8, hd: 5, causal: true, mask: false, drop: false },
      { B: 1, H: 3, tq: 6, tk: 2, hd: 2, causal: true, mask: true, drop: false },
      { B: 3, H: 4, tq: 1, tk: 11, hd: 8, causal: true, mask: true, drop: true },
      // the reference shape's head width, enough pairs to be split across threads
      { B: 12, H: 4, tq: 30, tk: 31, hd: 64, causal: false, mask: true, drop: true },
      { B: 12, H: 4, tq: 29, tk: 29, hd: 64, causal: true, mask: true, drop: false },
    ];
    for (const c of attnCases) {
      test(`attentionForward / attentionBackward B=${c.B} H=${c.H} tq=${c.tq} tk=${c.tk} hd=${c.hd}${c.causal ? ' causal' : ''}${c.mask ? ' keyMask' : ''}${c.drop ? ' dropout' : ''}`, () => {
        const D = c.H * c.hd, np = c.B * c.H * c.tq * c.tk;
        let keyMask: Uint8Array | null = null;
        if (c.mask) {
          keyMask = new Uint8Array(c.B * c.tk);
          for (let b = 0; b < c.B; b++) {
            const len = b === 0 && c.B > 1 ? 0 : 1 + rng.int(c.tk); // one sentence with no real key at all
            for (let j = 0; j < len; j++) keyMask[b * c.tk + j] = 1;
          }
        }
        const drop = c.drop ? Uint8Array.from({ length: np }, () => (rng.next() < 0.2 ? 0 : 1)) : null;
        const q = randn(c.B * c.tq * D, 1.5), k = randn(c.B * c.tk * D, 1.5), v = randn(c.B * c.tk * D);
        const f = both([q, k, v, new Float32Array(np).fill(3), new Float32Array(c.B * c.tq * D).fill(3)],
          (K, [qi, ki, vi, p, o]) => K.attentionForward(c.B, c.H, c.tq, c.tk, c.hd, qi, ki, vi, keyMask, c.causal, drop, 1.25, p, o));
        assertClose(f.n[3], f.j[3], 'probs');
        assertClose(f.n[4], f.j[4], 'out');
        const probs = f.j[3];
        const b = both([q, k, v, probs, randn(c.B * c.tq * D), randn(c.B * c.tq * D), randn(c.B * c.tk * D), randn(c.B * c.tk * D)],
          (K, [qi, ki, vi, p, dO, dq, dk, dv]) => K.attentionBackward(c.B, c.H, c.tq, c.tk, c.hd, qi, ki, vi, p, drop, 1.25, dO, dq, dk, dv));
        assertClose(b.n[5], b.j[5], 'dq');
        assertClose(b.n[6], b.j[6], 'dk');
        assertClose(b.n[7], b.j[7], 'dv');
        // Gradients that are not wanted are simply not written.
        const only = both([q, k, v, probs, randn(c.B * c.tq * D), randn(c.B * c.tk * D)],
          (K, [qi, ki, vi, p, dO, dv]) => K.attentionBackward(c.B, c.H, c.tq, c.tk, c.hd, qi, ki, vi, p, null, 1, dO, null, null, dv));
        assertClose(only.n[5], only.j[5], 'dv alone');
      });
    }

    test('attention results do not depend on the number of threads (the same bits with 1 and 2)', () => {
      // Each (batch, head) pair is computed whole by one thread, so the split cannot change any value.
      const B = 16, H = 4, T = 30, hd = 64, D = H * hd;
      const q = randn(B * T * D), k = randn(B * T * D), v = randn(B * T * D);
      const probs = new Float32Array(B * H * T * T), out = new Float32Array(B * T * D);
      N.attentionForward(B, H, T, T, hd, q, k, v, null, true, null, 1, probs, out);
      const probs1 = new Float32Array(probs.length), out1 = new Float32Array(out.length);
      for (let b = 0; b < B; b++) {
        // one batch entry at a time: at most H pairs per call, below the threading threshold
        const sl = (x: Float32Array, n: number) => x.subarray(b * n, (b + 1) * n);
        N.attentionForward(1, H, T, T, hd, sl(q, T * D), sl(k, T * D), sl(v, T * D), null, true, null, 1, sl(probs1, H * T * T), sl(out1, T * D));
      }
      assert.deepEqual(probs1, probs);
      assert.deepEqual(out1, out);
    });

    test('layerNormForward / layerNormBackward (rows split across threads included)', () => {
      for (const [rows, cols] of [[1, 1], [3, 17], [7, 256], [3000, 256], [5, 1030]]) {
        const x = randn(rows * cols, 2);
        for (let i = 0; i < x.length; i++) x[i] += 3; // an offset the mean must remove
        const gain = randn(cols, 0.5), bias = randn(cols);
        const f = both([x, gain, bias, new Float32Array(rows * cols), new Float32Array(rows), new Float32Array(rows)],
          (K, [xi, g, bi, o, m, s]) => K.layerNormForward(rows, cols, xi, g, bi, 1e-5, o, m, s));
        assertClose(f.n[3], f.j[3], `layerNorm out ${rows}×${cols}`);
        assertClose(f.n[4], f.j[4], `layerNorm mean ${rows}×${cols}`);
        assertClose(f.n[5], f.j[5], `layerNorm rstd ${rows}×${cols}`);
        const b = both([x, gain, f.j[4], f.j[5], randn(rows * cols), randn(rows * cols), randn(cols), randn(cols)],
          (K, [xi, g, m, s, dy, dx, dg, db]) => K.layerNormBackward(rows, cols, xi, g, m, s, dy, dx, dg, db));
        assertClose(b.n[5], b.j[5], `layerNorm dx ${rows}×${cols}`);
        assertClose(b.n[6], b.j[6], `layerNorm dGain ${rows}×${cols}`);
        assertClose(b.n[7], b.j[7], `layerNorm dBias ${rows}×${cols}`);
        const gOnly = both([x, gain, f.j[4], f.j[5], randn(rows * cols), randn(cols)],
          (K, [xi, g, m, s, dy, dg]) => K.layerNormBackward(rows, cols, xi, g, m, s, dy, null, dg, null));
        assertClose(gOnly.n[5], gOnly.j[5], `layerNorm dGain alone ${rows}×${cols}`);
      }
    });

    test('biasActivation and activationBackward (none, relu, gelu; with and without bias; in place)', () => {
      for (const act of ['none', 'relu', 'gelu'] as const) {
        for (const [rows, cols] of [[1, 1], [3, 17], [9, 300], [2, 1024]]) {
          const x = randn(rows * cols, 3);
          x[0] = 0;
          const bias = randn(cols);
          for (const withBias of [true, false]) {
            const f = both([x, bias, new Float32Array(rows * cols), new Float32Array(rows * cols)],
              (K, [xi, bi, pre, o]) => K.biasActivation(rows, cols, xi, withBias ? bi : null, act, pre, o));
            assertClose(f.n[2], f.j[2], `biasActivation ${act} pre`);
            assertClose(f.n[3], f.j[3], `biasActivation ${act} out`);
            // x, pre and out the same buffer (as ops.linear calls it)
            const inPlace = both([x, bias], (K, [xi, bi]) => K.biasActivation(rows, cols, xi, withBias ? bi : null, act, act === 'gelu' ? xi : null, xi));
            assertClose(inPlace.n[0], inPlace.j[0], `biasActivation ${act} in place`);
          }
          const b = both([x, randn(rows * cols), new Float32Array(rows * cols).fill(9)], (K, [z, dy, dx]) => K.activationBackward(act, z, dy, dx));
          assertClose(b.n[2], b.j[2], `activationBackward ${act}`);
        }
      }
    });

    test('gelu is accurate to float precision over the whole range, tails included', () => {
      const xs: number[] = [0, 1e-7, -1e-7, 1e-3, -1e-3];
      for (let x = -14; x <= 14; x += 0.0137) xs.push(x);
      const x = Float32Array.from(xs);
      const on = new Float32Array(x.length), oj = new Float32Array(x.length);
      N.biasActivation(1, x.length, x, null, 'gelu', null, on);
      J.biasActivation(1, x.length, x, null, 'gelu', null, oj);
      for (let i = 0; i < x.length; i++) {
        // Relative 2e-6 down to GELU values of 1e-6 (x ≈ −5); beyond, the float32 rounding of x²/2 in the exponent dominates.
        const tol = 2e-6 * Math.abs(oj[i]) + 1e-12;
        assert.ok(Math.abs(on[i] - oj[i]) <= tol, `gelu(${x[i]}): ${label} ${on[i]} vs js ${oj[i]}`);
      }
      const dy = new Float32Array(x.length).fill(1), gn = new Float32Array(x.length), gj = new Float32Array(x.length);
      N.activationBackward('gelu', x, dy, gn);
      J.activationBackward('gelu', x, dy, gj);
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(gn[i] - gj[i]) <= 2e-6 * Math.abs(gj[i]) + 1e-7, `gelu'(${x[i]}): ${label} ${gn[i]} vs js ${gj[i]}`);
    });

    test('embedPositions / embedPositionsBackward (negative ids, repeats)', () => {
      for (const cols of [1, 7, 256]) {
        const V = 11, P = 9, n = 40;
        const ids = Int32Array.from({ length: n }, (_, i) => (i % 9 === 8 ? -1 : rng.int(V)));
        const pids = Int32Array.from({ length: n }, (_, i) => (i % 7 === 6 ? -1 : rng.int(P)));
        const f = both([randn(V * cols), randn(P * cols), new Float32Array(n * cols).fill(5)],
          (K, [t, p, o]) => K.embedPositions(cols, t, ids, 16, p, pids, o));
        assertClose(f.n[2], f.j[2], `embedPositions cols=${cols}`);
        const b = both([randn(n * cols), randn(V * cols), randn(P * cols)],
          (K, [dy, dt, dp]) => K.embedPositionsBackward(cols, dy, ids, 16, pids, dt, dp));
        assertClose(b.n[1], b.j[1], `embedPositionsBackward dTable cols=${cols}`);
        assertClose(b.n[2], b.j[2], `embedPositionsBackward dPositions cols=${cols}`);
      }
    });

    test('softmaxCrossEntropy with label smoothing', () => {
      for (const eps of [0.1, 0.5, 1]) {
        // (one class would give a gradient of exactly 0 in one set and rounding noise in the other)
        for (const [rows, cols] of [[1, 2], [3, 17], [65, 93], [17, 257]]) {
          const logits = randn(rows * cols, 4);
          const targets = new Int32Array(rows);
          for (let r = 0; r < rows; r++) targets[r] = r % 5 === 4 ? -1 : rng.int(cols);
          const r = both([logits, new Float32Array(rows * cols).fill(7)], (K, [x, d]) => K.softmaxCrossEntropy(rows, cols, x, targets, d, 1 / rows, eps));
          assertScalarClose(r.rn, r.rj, `smoothed loss ε=${eps} rows=${rows} cols=${cols}`);
          assertClose(r.n[1], r.j[1], `smoothed dLogits ε=${eps} rows=${rows} cols=${cols}`);
        }
      }
    });

    test('keepMask: the same bits and the same advanced state as the TypeScript kernel and Rng.next()', () => {
      for (const [n, p] of [[0, 0.5], [1, 0.1], [1000, 0.1], [100003, 0.37], [4096, 0], [333, 0.999]] as const) {
        const sn = Uint32Array.of(0x9e3779b9, 12345, 0xdeadbeef, 7), sj = sn.slice();
        const mn = new Uint8Array(n), mj = new Uint8Array(n);
        N.keepMask(sn, p, mn);
        J.keepMask(sj, p, mj);
        assert.deepEqual(mn, mj, `mask n=${n} p=${p}`);
        assert.deepEqual(sn, sj, `state n=${n} p=${p}`);
      }
      const r = new Rng(11), ref = new Rng(11);
      const mask = new Uint8Array(5000);
      N.keepMask((r as unknown as { s: Uint32Array }).s, 0.25, mask);
      for (let i = 0; i < mask.length; i++) assert.equal(mask[i], ref.next() >= 0.25 ? 1 : 0);
      assert.equal(r.nextUint32(), ref.nextUint32());
    });

    test('argmaxRows (ties take the first, NaN never wins, all −∞ gives 0)', () => {
      for (const [rows, cols] of [[1, 1], [7, 3], [65, 93], [3, 8000]]) {
        const x = randn(rows * cols);
        const on = new Int32Array(rows), oj = new Int32Array(rows);
        N.argmaxRows(rows, cols, x, on);
        J.argmaxRows(rows, cols, x, oj);
        assert.deepEqual(on, oj, `argmaxRows ${rows}×${cols}`);
      }
      const x = Float32Array.from([1, 3, 3, 2, NaN, 5, -Infinity, -Infinity, NaN, -Infinity, NaN, 0.5, NaN, 0.5]);
      const on = new Int32Array(4), oj = new Int32Array(4);
      N.argmaxRows(4, 3, x.subarray(0, 12), on);
      J.argmaxRows(4, 3, x.subarray(0, 12), oj);
      assert.deepEqual(Array.from(on), [1, 2, 0, 2]);
      assert.deepEqual(on, oj);
    });

    test('dropoutApply and copyBlock (forward and accumulating)', () => {
      for (const n of [0, 1, 17, 4099]) {
        const mask = Uint8Array.from({ length: n }, () => (rng.next() < 0.3 ? 0 : 1));
        for (const acc of [false, true]) {
          const r = both([randn(n), randn(n)], (K, [x, o]) => K.dropoutApply(mask, 1.25, x, o, acc));
          assertClose(r.n[1], r.j[1], `dropoutApply n=${n} accumulate=${acc}`);
        }
      }
      for (const [rows, cols, ls, ld] of [[1, 1, 1, 1], [5, 3, 7, 4], [300, 256, 768, 256], [4, 17, 17, 40]]) {
        for (const acc of [false, true]) {
          const r = both([randn(rows * ls), randn(rows * ld)], (K, [s, d]) => K.copyBlock(rows, cols, s.subarray(ls - cols), ls, d.subarray(ld - cols), ld, acc));
          assertClose(r.n[1], r.j[1], `copyBlock ${rows}×${cols} strides ${ls}/${ld} accumulate=${acc}`);
        }
      }
    });

    test('new kernels reject bad arguments', () => {
      const f = (n: number): Float32Array => new Float32Array(n);
      const anyN = N as unknown as Record<string, (...a: unknown[]) => unknown>;
      assert.throws(() => N.attentionForward(2, 2, 3, 3, 2, f(23), f(24), f(24), null, false, null, 1, f(36), f(24)), { name: 'RangeError', message: /q has 23 elements/ });
      assert.throws(() => N.attentionForward(2, 2, 3, 3, 2, f(24), f(24), f(24), new Uint8Array(5), false, null, 1, f(36), f(24)), { name: 'RangeError', message: /keyMask/ });
      assert.throws(() => N.attentionForward(2, 2, 3, 3, 2, f(24), f(24), f(24), null, false, new Uint8Array(35), 1, f(36), f(24)), { name: 'RangeError', message: /dropMask/ });
      assert.throws(() => N.attentionForward(2, 2, 3, 3, 2, f(24), f(24), f(24), null, false, null, 1, f(35), f(24)), { name: 'RangeError', message: /probs/ });
      if (label === 'native') assert.throws(() => anyN.attentionForward(2, 2, 3, 3, 2, f(24), f(24), f(24), f(6), false, null, 1, f(36), f(24)), { name: 'TypeError', message: /Uint8Array or null/ });
      assert.throws(() => N.attentionBackward(2, 2, 3, 3, 2, f(24), f(24), f(24), f(36), null, 1, f(24), f(24), f(23), null), { name: 'RangeError', message: /dk/ });
      assert.throws(() => N.layerNormForward(2, 3, f(6), f(2), f(3), 1e-5, f(6), f(2), f(2)), { name: 'RangeError', message: /gain/ });
      assert.throws(() => N.layerNormBackward(2, 3, f(6), f(3), f(2), f(1), f(6), null, null, null), { name: 'RangeError', message: /rstd/ });
      assert.throws(() => anyN.biasActivation(1, 2, f(2), null, 'tanh', null, f(2)), { name: 'RangeError', message: /unknown activation/ });
      assert.throws(() => N.activationBackward('gelu', f(4), f(4), f(3)), { name: 'RangeError', message: /dx/ });
      const x = f(4);
      assert.throws(() => N.activationBackward('gelu', x, f(4), x), { name: 'RangeError', message: /must not share/ });
      assert.throws(() => N.embedPositions(2, f(6), Int32Array.of(3), 1, f(4), Int32Array.of(0), f(2)), { name: 'RangeError', message: /index 3/ });
      assert.throws(() => N.embedPositionsBackward(2, f(2), Int32Array.of(0), 1, Int32Array.of(2), null, f(4)), { name: 'RangeError', message: /index 2/ });
      assert.throws(() => N.softmaxCrossEntropy(1, 2, f(2), Int32Array.of(0), null, 1, 1.5), { name: 'RangeError', message: /labelSmoothing/ });
      if (label === 'native') assert.throws(() => anyN.softmaxCrossEntropy(1, 2, f(2), Int32Array.of(0), null, 1), { name: 'TypeError', message: /expected 7 arguments/ });
      assert.throws(() => N.keepMask(new Uint32Array(3), 0.5, new Uint8Array(2)), { name: 'RangeError', message: /4/ });
      if (label === 'native') assert.throws(() => anyN.keepMask(new Uint32Array(4), 0.5, f(2)), { name: 'TypeError', message: /Uint8Array/ });
      assert.throws(() => N.dropoutApply(new Uint8Array(4), 2, f(3), f(4), false), { name: 'RangeError', message: /x has 3/ });
      assert.throws(() => N.copyBlock(2, 3, f(5), 3, f(6), 3, false), { name: 'RangeError', message: /src has 5/ });
      assert.throws(() => N.copyBlock(2, 3, f(6), 2, f(6), 3, false), { name: 'RangeError', message: /strides/ });
    });
  });

  /** The Transformer ops end to end on one kernel set: outputs and gradients of a small attention + FFN block. */
  function runTransformerOps(which: Kernels, inputs: Float32Array[], keyMask: Uint8Array): Float32Array[] {
    setKernels(which);
    const B = 3, T = 7, D = 16, H = 4, F = 24, V = 13;
    const [table, posData, w1, b1, w2, g, be, logitsW] = inputs.map((x) => x.slice());
    const emb = new Tensor(table, [V, D], true), pos = new Tensor(posData, [T, D], true);
    const W1 = new Tensor(w1, [D, F], true), B1 = new Tensor(b1, [F], true), W2 = new Tensor(w2, [F, D], true);
    const G = new Tensor(g, [D], true), Be = new Tensor(be, [D], true), Wo = new Tensor(logitsW, [D, V], true);
    const ids = Int32Array.from({ length: B * T }, (_, i) => (keyMask[i] ? (i * 7) % V : -1));
    const pids = Int32Array.from({ length: B * T }, (_, i) => i % T);
    const x = ops.embedPositions(emb, ids, 4, pos, pids);
    const h = ops.layerNorm(x, G, Be);
    const att = ops.multiHeadAttention(h, h, h, { batch: B, heads: H, queryLen: T, keyLen: T, keyMask, causal: true, dropout: 0.1, rng: new Rng(3), training: true });
    const y = ops.add(x, ops.linear(ops.linear(att.out, W1, B1, 'gelu'), W2, null, 'relu'));
    const targets = Int32Array.from(ids, (id) => (id < 0 ? -1 : (id + 1) % V));
    const loss = ops.softmaxCrossEntropy(ops.linear(y, Wo, null), targets, 0.1);
    loss.backward();
    return [loss.data, emb.grad!, pos.grad!, W1.grad!, B1.grad!, W2.grad!, G.grad!, Be.grad!, Wo.grad!];
  }

  describe(`Transformer ops: ${label} vs js, forward and backward`, { skip }, () => {
    test('embedPositions → layerNorm → causal masked attention with dropout → GELU/ReLU FFN → smoothed loss', () => {
      const initial = kernels();
      const keyMask = Uint8Array.from({ length: 21 }, (_, i) => (i % 7 < [7, 4, 1][Math.floor(i / 7)] ? 1 : 0));
      const inputs = [randn(13 * 16), randn(7 * 16, 0.5), randn(16 * 24, 0.3), randn(24, 0.1), randn(24 * 16, 0.3), randn(16, 0.2), randn(16, 0.1), randn(16 * 13, 0.3)];
      for (let i = 0; i < 16; i++) inputs[5][i] += 1;
      const j = runTransformerOps(J, inputs, keyMask);
      const n = runTransformerOps(N, inputs, keyMask);
      setKernels(initial);
      ['loss', 'dTable', 'dPositions', 'dW1', 'db1', 'dW2', 'dGain', 'dBias', 'dWout'].forEach((name, i) => assertClose(n[i], j[i], `transformer ${name}`, 2e-4));
    });
  });
}
