/**
 * Forward values of the ops against hand-computed results, tape semantics
 * (accumulation, noGrad, clearing) and shape errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, noGrad, tapeLength, clearTape, isGradEnabled, shapeSize } from '../src/engine/tensor.js';
import * as ops from '../src/engine/ops.js';
import { lstm, gru, packedLayout } from '../src/engine/rnn.js';
import { Rng } from '../src/engine/rng.js';
import { assertClose, randomTensor, kernelName } from './helpers/gradcheck.js';

const T = (values: number[], shape: number[], requiresGrad = false): Tensor => new Tensor(Float32Array.from(values), shape, requiresGrad);

describe(`ops forward values (${kernelName()} kernels)`, () => {
  it('matmul and its transposes', () => {
    const a = T([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = T([7, 8, 9, 10, 11, 12], [3, 2]);
    assert.deepEqual(ops.matmul(a, b).toArray(), [58, 64, 139, 154]);
    assert.deepEqual(ops.matmul(a, a, false, true).toArray(), [14, 32, 32, 77]);
    assert.deepEqual(ops.matmul(a, a, true, false).toArray(), [17, 22, 27, 22, 29, 36, 27, 36, 45]);
    assert.deepEqual(ops.matmul(b, a, true, true).toArray(), [7 + 18 + 33, 28 + 45 + 66, 8 + 20 + 36, 32 + 50 + 72]);
    const a3 = T([1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0], [2, 2, 3]);
    const y = ops.matmul(a3, b);
    assert.deepEqual(y.shape, [2, 2, 2]);
    assert.deepEqual(y.toArray(), [58, 64, 139, 154, 7, 8, 9, 10]);
    const v = ops.matmul(T([1, 0, -1], [3]), b);
    assert.deepEqual(v.shape, [2]);
    assert.deepEqual(v.toArray(), [-4, -4]);
  });

  it('matmul larger than the GEMM blocks matches a naive product', () => {
    const rng = new Rng(3);
    const m = 7, k = 300, n = 9;
    const a = randomTensor(rng, [m, k], -1, 1, false), b = randomTensor(rng, [k, n], -1, 1, false);
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) want[i * n + j] += a.data[i * k + p] * b.data[p * n + j];
    assertClose(ops.matmul(a, b).data, want, 'gemm', 1e-4, 1e-4);
  });

  it('bmm multiplies batch by batch', () => {
    const a = T([1, 2, 3, 4, 2, 0, 0, 2], [2, 2, 2]);
    const b = T([1, 0, 0, 1, 1, 1, 1, 1], [2, 2, 2]);
    assert.deepEqual(ops.bmm(a, b).toArray(), [1, 2, 3, 4, 2, 2, 2, 2]);
    assert.deepEqual(ops.bmm(a, a, false, true).toArray(), [5, 11, 11, 25, 4, 0, 0, 4]);
  });

  it('add / sub / mul with row broadcasting, scale', () => {
    const a = T([1, 2, 3, 4, 5, 6], [2, 3]);
    const r = T([10, 20, 30], [3]);
    assert.deepEqual(ops.add(a, r).toArray(), [11, 22, 33, 14, 25, 36]);
    assert.deepEqual(ops.sub(a, r).toArray(), [-9, -18, -27, -6, -15, -24]);
    assert.deepEqual(ops.mul(a, T([1, 0, -1], [1, 3])).toArray(), [1, 0, -3, 4, 0, -6]);
    assert.deepEqual(ops.add(a, a).toArray(), [2, 4, 6, 8, 10, 12]);
    assert.deepEqual(ops.scale(a, 0.5).toArray(), [0.5, 1, 1.5, 2, 2.5, 3]);
    assert.deepEqual(a.toArray(), [1, 2, 3, 4, 5, 6], 'inputs are not modified');
  });

  it('activations', () => {
    const x = T([-2, 0, 3], [3]);
    assertClose(ops.sigmoid(x).data, [1 / (1 + Math.exp(2)), 0.5, 1 / (1 + Math.exp(-3))], 'sigmoid', 1e-6);
    assertClose(ops.tanh(x).data, [Math.tanh(-2), 0, Math.tanh(3)], 'tanh', 1e-6);
    assert.deepEqual(ops.relu(x).toArray(), [0, 0, 3]);
    assertClose(ops.sigmoid(T([-100, 100], [2])).data, [0, 1], 'sigmoid saturates without NaN', 0, 1e-30);
  });

  it('softmax, logSoftmax and their stability for large logits', () => {
    const x = T([1, 2, 3, 1000, 1000, 1000], [2, 3]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    assertClose(ops.softmax(x).data, [e[0] / s, e[1] / s, e[2] / s, 1 / 3, 1 / 3, 1 / 3], 'softmax', 1e-6);
    const ls = ops.logSoftmax(x).data;
    assertClose(ls.subarray(0, 3), [1 - Math.log(s), 2 - Math.log(s), 3 - Math.log(s)], 'logSoftmax', 1e-6, 1e-6);
    // Large logits: finite and correct to float32 resolution at the inputs' magnitude (ulp(1000) ≈ 6e-5).
    assertClose(ls.subarray(3), [-Math.log(3), -Math.log(3), -Math.log(3)], 'logSoftmax of large logits', 0, 1e-4);
  });

  it('softmax with a [B, S] mask over [B, T, S] and with a single broadcast row', () => {
    const x = T([0, 0, 0, 1, 2, 3, 5, 5, 5, 0, 0, 0], [2, 2, 3]);
    const y = ops.softmax(x, Uint8Array.from([1, 1, 0, 0, 1, 1]));
    const e = Math.exp(1) / (1 + Math.exp(1));
    assertClose(y.data, [0.5, 0.5, 0, 1 - e, e, 0, 0, 0.5, 0.5, 0, 0.5, 0.5], 'masked softmax', 1e-6, 1e-7);
    const z = ops.softmax(x, Uint8Array.from([0, 1, 1]));
    assertClose(z.data.subarray(0, 3), [0, 0.5, 0.5], 'row mask', 1e-6);
  });

  it('softmaxCrossEntropy is the mean over non-ignored rows', () => {
    const logits = T([1, 2, 3, 0, 0, 0, 9, 9, 9, 3, 1, 0], [4, 3]);
    const lse = (a: number[]): number => Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
    const want = (lse([1, 2, 3]) - 1 + (lse([0, 0, 0]) - 0) + (lse([3, 1, 0]) - 3)) / 3;
    const loss = ops.softmaxCrossEntropy(logits, Int32Array.from([0, 2, -1, 0]));
    assertClose([loss.item()], [want], 'cross-entropy', 1e-6);
    // With the same logits logSoftmax agrees.
    const ls = ops.logSoftmax(logits);
    assertClose([loss.item()], [-(ls.data[0] + ls.data[5] + ls.data[9]) / 3], 'via logSoftmax', 1e-6);
  });

  it('gatherRows picks rows, zero rows for negative indices', () => {
    const table = T([1, 2, 3, 4, 5, 6], [3, 2]);
    const y = ops.gatherRows(table, Int32Array.from([2, -1, 0, 2]));
    assert.deepEqual(y.shape, [4, 2]);
    assert.deepEqual(y.toArray(), [5, 6, 0, 0, 1, 2, 5, 6]);
    assert.deepEqual(ops.gatherRows(table, new Int32Array(0)).shape, [0, 2]);
  });

  it('reshape / concat / slice / split', () => {
    const a = T([1, 2, 3, 4, 5, 6], [2, 3]);
    assert.deepEqual(ops.reshape(a, [3, 2]).shape, [3, 2]);
    const c = ops.concat([a, T([7, 8], [2, 1])]);
    assert.deepEqual(c.shape, [2, 4]);
    assert.deepEqual(c.toArray(), [1, 2, 3, 7, 4, 5, 6, 8]);
    const e = ops.concat([Tensor.zeros([2, 0]), a, Tensor.zeros([2, 0])]);
    assert.deepEqual(e.shape, [2, 3], 'zero-width parts are allowed');
    assert.deepEqual(e.toArray(), a.toArray());
    assert.deepEqual(ops.slice(a, 1, 3).toArray(), [2, 3, 5, 6]);
    const [p, q] = ops.split(a, [1, 2]);
    assert.deepEqual(p.toArray(), [1, 4]);
    assert.deepEqual(q.toArray(), [2, 3, 5, 6]);
    assert.deepEqual(q.shape, [2, 2]);
  });

  it('sum / mean', () => {
    const a = T([1, 2, 3, 4], [2, 2]);
    assert.equal(ops.sum(a).item(), 10);
    assert.equal(ops.mean(a).item(), 2.5);
    assert.equal(ops.mean(Tensor.zeros([0, 3])).item(), 0);
  });

  it('dropout: deterministic for a seed, rate ≈ p, survivors scaled by 1/(1−p)', () => {
    const x = new Tensor(new Float32Array(20000).fill(1), [100, 200]);
    const a = ops.dropout(x, 0.3, new Rng(5), true);
    const b = ops.dropout(x, 0.3, new Rng(5), true);
    assert.deepEqual(a.data, b.data);
    let zeros = 0;
    for (const v of a.data) {
      if (v === 0) zeros++;
      else assert.equal(v, Math.fround(1 / 0.7));
    }
    assert.ok(Math.abs(zeros / x.size - 0.3) < 0.02, `dropped fraction ${zeros / x.size}`);
    assert.equal(ops.dropout(x, 0, new Rng(1), true), x, 'p = 0 is the identity');
    assert.throws(() => ops.dropout(x, 1, new Rng(1), true), /p must be in \[0, 1\)/);
    assert.throws(() => ops.dropout(x, -0.1, new Rng(1), true), RangeError);
  });

  it('layerNorm normalises each row and applies gain and bias', () => {
    const x = T([1, 2, 3, 4, -1, -1, -1, -1], [2, 4]);
    const y = ops.layerNorm(x, T([1, 1, 1, 1], [4]), T([0, 0, 0, 0], [4]));
    const sd = Math.sqrt(1.25 + 1e-5);
    assertClose(y.data, [-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd, 0, 0, 0, 0], 'layerNorm', 1e-5, 1e-6);
    const z = ops.layerNorm(x, T([2, 2, 2, 2], [4]), T([1, 0, 0, 0], [4]));
    assertClose(z.data.subarray(4), [1, 0, 0, 0], 'constant row → bias', 0, 1e-6);
  });
});

describe('tape semantics', () => {
  it('gradients accumulate across two backward calls', () => {
    clearTape();
    const w = T([1, -2, 3], [3], true);
    const x = T([2, 1, 0.5, -1, 4, 2], [2, 3]);
    const run = (): void => ops.sum(ops.mul(ops.tanh(x), w)).backward();
    run();
    const once = (w.grad as Float32Array).slice();
    assert.equal(tapeLength(), 0, 'backward consumes the tape');
    run();
    assertClose(w.grad as Float32Array, Array.from(once, (v) => 2 * v), 'accumulated', 1e-6);
    w.zeroGrad();
    assert.deepEqual(Array.from(w.grad as Float32Array), [0, 0, 0]);
    run();
    assertClose(w.grad as Float32Array, once, 'after zeroGrad', 1e-6);
  });

  it('a tensor used by several ops receives the sum of their gradients', () => {
    clearTape();
    const x = T([0.5, -1], [2], true);
    const y = ops.add(ops.add(ops.scale(x, 3), ops.mul(x, x)), x); // 4x + x²
    ops.sum(y).backward();
    assertClose(x.grad as Float32Array, [4 + 1, 4 - 2], 'dy/dx = 4 + 2x', 1e-6);
  });

  it('lstm and gru gradients accumulate across two backward calls', () => {
    clearTape();
    const layout = packedLayout([3, 2]);
    const rng = new Rng(7);
    const H = 2;
    const xl = randomTensor(rng, [layout.total, 4 * H]), wl = randomTensor(rng, [H, 4 * H]);
    const xg = randomTensor(rng, [layout.total, 3 * H]), wg = randomTensor(rng, [H, 3 * H]), bg = randomTensor(rng, [3 * H]);
    const h0 = randomTensor(rng, [2, H]), c0 = randomTensor(rng, [2, H]);
    const run = (): void => {
      const l = lstm(xl, wl, h0, c0, layout);
      const g = gru(xg, wg, bg, h0, layout);
      ops.add(ops.add(ops.sum(l.output), ops.sum(ops.mul(l.c, l.h))), ops.sum(ops.tanh(g.h))).backward();
    };
    run();
    const first = [xl, wl, xg, wg, bg, h0, c0].map((t) => (t.grad as Float32Array).slice());
    run();
    [xl, wl, xg, wg, bg, h0, c0].forEach((t, i) => assertClose(t.grad as Float32Array, Array.from(first[i], (v) => 2 * v), `param ${i}`, 1e-5, 1e-6));
  });

  it('noGrad records nothing and allocates no gradients', () => {
    clearTape();
    const rng = new Rng(8);
    const w = randomTensor(rng, [3, 4]);
    const x = randomTensor(rng, [2, 3]);
    const layout = packedLayout([2, 1]);
    const out = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      const y = ops.softmax(ops.add(ops.matmul(x, w), T([1, 2, 3, 4], [4])));
      const l = lstm(randomTensor(rng, [3, 8]), randomTensor(rng, [2, 8]), Tensor.zeros([2, 2], true), Tensor.zeros([2, 2]), layout);
      const g = gru(randomTensor(rng, [3, 6]), randomTensor(rng, [2, 6]), randomTensor(rng, [6]), Tensor.zeros([2, 2]), layout);
      ops.softmaxCrossEntropy(y, Int32Array.from([1, 2]));
      ops.layerNorm(y, randomTensor(rng, [4]), randomTensor(rng, [4]));
      ops.gatherRows(w, Int32Array.from([0, 2]));
      return [y, l.output, l.h, g.h];
    });
    assert.equal(isGradEnabled(), true);
    assert.equal(tapeLength(), 0);
    for (const t of out) {
      assert.equal(t.requiresGrad, false);
      assert.equal(t.grad, null);
    }
    assert.equal(w.grad, null);
    // noGrad restores the previous state even when fn throws.
    assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
    assert.equal(isGradEnabled(), true);
  });

  it('ops on tensors that need no grad record nothing', () => {
    clearTape();
    const a = randomTensor(new Rng(9), [2, 2], -1, 1, false);
    ops.sum(ops.tanh(ops.matmul(a, a)));
    assert.equal(tapeLength(), 0);
  });

  it('backward of a non-scalar needs a seed; of a constant is an error', () => {
    clearTape();
    const x = T([1, 2], [2], true);
    const y = ops.scale(x, 3);
    assert.throws(() => y.backward(), /needs a scalar, got shape \[2\]/);
    y.backward(Float32Array.from([1, 10]));
    assert.deepEqual(Array.from(x.grad as Float32Array), [3, 30]);
    assert.throws(() => T([1], [1]).backward(), /does not depend on anything that requires grad/);
    clearTape();
  });
});

describe('shape errors carry clear messages', () => {
  const m = (r: number, c: number): Tensor => Tensor.zeros([r, c]);
  const cases: [string, () => unknown, RegExp][] = [
    ['Tensor data/shape mismatch', () => new Tensor(new Float32Array(5), [2, 3]), /data of length 5 does not fit shape \[2, 3\]/],
    ['negative dimension', () => shapeSize([2, -1]), /invalid dimension -1/],
    ['item() on a vector', () => m(1, 2).item(), /item\(\) needs a single-element tensor, got shape \[1, 2\]/],
    ['matmul inner dims', () => ops.matmul(m(2, 3), m(4, 5)), /matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/],
    ['matmul rank-3 right', () => ops.matmul(m(2, 3), Tensor.zeros([1, 3, 2])), /right operand must be a matrix/],
    ['matmul transposed rank-3 left', () => ops.matmul(Tensor.zeros([1, 3, 2]), m(3, 2), true), /transposed left operand must be a matrix/],
    ['bmm batch mismatch', () => ops.bmm(Tensor.zeros([2, 3, 4]), Tensor.zeros([3, 4, 5])), /bmm: needs \[B, m, k\] and \[B, k, n\], got \[2, 3, 4\] and \[3, 4, 5\]/],
    ['bmm inner dims', () => ops.bmm(Tensor.zeros([2, 3, 4]), Tensor.zeros([2, 3, 5])), /bmm: inner dimensions differ/],
    ['add mismatch', () => ops.add(m(2, 3), m(3, 2)), /add: shapes \[2, 3\] and \[3, 2\] do not match/],
    ['sub mismatch', () => ops.sub(m(2, 3), m(2, 2)), /sub: shapes/],
    ['mul bad row', () => ops.mul(m(2, 3), Tensor.zeros([2])), /mul: shapes \[2, 3\] and \[2\] do not match \(b may be a row of 3\)/],
    ['softmax mask size', () => ops.softmax(m(2, 3), new Uint8Array(4)), /softmax: mask of length 4 does not fit \[2, 3\]/],
    ['softmax mask not a whole number of rows', () => ops.softmax(Tensor.zeros([2, 3, 4]), new Uint8Array(6)), /softmax: mask of length 6 does not fit \[2, 3, 4\]/],
    ['softmax empty mask', () => ops.softmax(m(2, 3), new Uint8Array(0)), /softmax: mask of length 0/],
    ['cross-entropy target count', () => ops.softmaxCrossEntropy(m(3, 4), new Int32Array(2)), /2 targets for 3 rows of logits \[3, 4\]/],
    ['cross-entropy target range', () => ops.softmaxCrossEntropy(m(2, 4), Int32Array.from([1, 4])), /target 4 at row 1 is out of range for 4 classes/],
    ['gatherRows range', () => ops.gatherRows(m(3, 2), Int32Array.from([0, 3])), /gatherRows: index 3 at position 1 is out of range for 3 rows/],
    ['reshape size', () => ops.reshape(m(2, 3), [4, 2]), /do not fit shape \[4, 2\]/],
    ['concat nothing', () => ops.concat([]), /concat: nothing to concatenate/],
    ['concat rows', () => ops.concat([m(2, 3), m(3, 3)]), /concat: leading shapes differ: \[2, 3\] vs \[3, 3\]/],
    ['concat leading axes', () => ops.concat([Tensor.zeros([2, 3, 1]), Tensor.zeros([3, 2, 1])]), /concat: leading shapes differ/],
    ['slice range', () => ops.slice(m(2, 3), 2, 4), /slice: \[2, 4\) is outside the last axis of \[2, 3\]/],
    ['split widths', () => ops.split(m(2, 3), [1, 1]), /split: widths sum to 2, last axis of \[2, 3\] is 3/],
    ['layerNorm params', () => ops.layerNorm(m(2, 3), Tensor.zeros([2]), Tensor.zeros([3])), /layerNorm: gain\/bias must have 3 elements/],
  ];
  for (const [name, f, re] of cases) {
    it(name, () => {
      assert.throws(f, (err: unknown) => {
        assert.ok(err instanceof ShapeError, `expected a ShapeError, got ${String(err)}`);
        assert.match((err as Error).message, re);
        return true;
      });
    });
  }
});
