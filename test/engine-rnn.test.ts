/**
 * Packed layouts and the fused LSTM/GRU forward passes: index helpers,
 * agreement with a plain float64 reference cell, isolation of sequences
 * (no padding leak), zero-length sequences and shape errors.
 * (Gradients are checked by finite differences in engine-gradcheck.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, clearTape } from '../src/engine/tensor.js';
import * as ops from '../src/engine/ops.js';
import { lstm, gru, packedLayout, packIndex, unpackIndex, reverseIndex, lastStepIndex, type PackedLayout } from '../src/engine/rnn.js';
import { Rng } from '../src/engine/rng.js';
import { assertClose, assertSameBits, randomTensor, kernelName } from './helpers/gradcheck.js';

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** Packed row of (step t, sequence b). */
const row = (layout: PackedLayout, t: number, b: number): number => layout.offsets[t] + b;

/** Plain per-sequence LSTM in float64 (gate order i, f, g, o). */
function referenceLstm(layout: PackedLayout, H: number, xProj: Float32Array, wHH: Float32Array, h0: Float32Array, c0: Float32Array) {
  const G = 4 * H;
  const output = new Float64Array(layout.total * H);
  const hN = new Float64Array(layout.batch * H), cN = new Float64Array(layout.batch * H);
  for (let b = 0; b < layout.batch; b++) {
    let h = Array.from(h0.subarray(b * H, (b + 1) * H)), c = Array.from(c0.subarray(b * H, (b + 1) * H));
    for (let t = 0; t < layout.lengths[b]; t++) {
      const r = row(layout, t, b);
      const z = Array.from(xProj.subarray(r * G, (r + 1) * G));
      for (let j = 0; j < G; j++) for (let k = 0; k < H; k++) z[j] += h[k] * wHH[k * G + j];
      const nh: number[] = [], nc: number[] = [];
      for (let j = 0; j < H; j++) {
        const i = sig(z[j]), f = sig(z[H + j]), g = Math.tanh(z[2 * H + j]), o = sig(z[3 * H + j]);
        nc[j] = f * c[j] + i * g;
        nh[j] = o * Math.tanh(nc[j]);
      }
      h = nh; c = nc;
      output.set(h, r * H);
    }
    hN.set(h, b * H); cN.set(c, b * H);
  }
  return { output, h: hN, c: cN };
}

/** Plain per-sequence reset-after GRU in float64 (gate order z, r, n). */
function referenceGru(layout: PackedLayout, H: number, xProj: Float32Array, wHH: Float32Array, bHH: Float32Array, h0: Float32Array) {
  const G = 3 * H;
  const output = new Float64Array(layout.total * H);
  const hN = new Float64Array(layout.batch * H);
  for (let b = 0; b < layout.batch; b++) {
    let h = Array.from(h0.subarray(b * H, (b + 1) * H));
    for (let t = 0; t < layout.lengths[b]; t++) {
      const r = row(layout, t, b);
      const hz = Array.from(bHH);
      for (let j = 0; j < G; j++) for (let k = 0; k < H; k++) hz[j] += h[k] * wHH[k * G + j];
      const nh: number[] = [];
      for (let j = 0; j < H; j++) {
        const z = sig(xProj[r * G + j] + hz[j]);
        const rr = sig(xProj[r * G + H + j] + hz[H + j]);
        const n = Math.tanh(xProj[r * G + 2 * H + j] + rr * hz[2 * H + j]);
        nh[j] = z * h[j] + (1 - z) * n;
      }
      h = nh;
      output.set(h, r * H);
    }
    hN.set(h, b * H);
  }
  return { output, h: hN };
}

describe('packed layout and index helpers', () => {
  it('batch sizes and offsets for lengths [5, 3, 3, 1, 0]', () => {
    const L = packedLayout([5, 3, 3, 1, 0]);
    assert.deepEqual(Array.from(L.batchSizes), [4, 3, 3, 1, 1]);
    assert.deepEqual(Array.from(L.offsets), [0, 4, 7, 10, 11, 12]);
    assert.equal(L.total, 12);
    assert.equal(L.steps, 5);
    assert.equal(L.batch, 5);
  });

  it('empty and all-zero layouts', () => {
    const E = packedLayout([]);
    assert.equal(E.total, 0);
    assert.equal(E.steps, 0);
    const Z = packedLayout([0, 0]);
    assert.equal(Z.total, 0);
    assert.equal(Z.batch, 2);
  });

  it('rejects unsorted and negative lengths', () => {
    assert.throws(() => packedLayout([2, 3]), (e: unknown) => e instanceof ShapeError && /sorted longest first, row 1 has 3 after 2/.test((e as Error).message));
    assert.throws(() => packedLayout([2, -1]), /negative length -1 at row 1/);
  });

  it('packIndex / unpackIndex are inverse; padding maps to −1', () => {
    const L = packedLayout([4, 2, 1]);
    const stride = 6;
    const pack = packIndex(L, stride), unpack = unpackIndex(L, stride);
    assert.deepEqual(Array.from(pack), [0, 6, 12, 1, 7, 2, 3]);
    for (let p = 0; p < L.total; p++) assert.equal(unpack[pack[p]], p);
    let pads = 0;
    for (const v of unpack) if (v < 0) pads++;
    assert.equal(pads, 3 * stride - L.total);
    // Pack a padded [B, stride, D] batch with gatherRows and unpack it again.
    const D = 2;
    const padded = new Tensor(Float32Array.from({ length: 3 * stride * D }, (_, i) => i + 1), [3 * stride, D]);
    const packed = ops.gatherRows(padded, pack);
    const back = ops.gatherRows(packed, unpack);
    for (let b = 0; b < 3; b++) {
      for (let t = 0; t < stride; t++) {
        for (let d = 0; d < D; d++) {
          const i = (b * stride + t) * D + d;
          assert.equal(back.data[i], t < L.lengths[b] ? padded.data[i] : 0);
        }
      }
    }
  });

  it('reverseIndex reverses each sequence within its own length and is an involution', () => {
    const L = packedLayout([4, 2, 1]);
    const rev = reverseIndex(L);
    for (let b = 0; b < L.batch; b++) {
      for (let t = 0; t < L.lengths[b]; t++) assert.equal(rev[row(L, t, b)], row(L, L.lengths[b] - 1 - t, b));
    }
    for (let p = 0; p < L.total; p++) assert.equal(rev[rev[p]], p);
  });

  it('lastStepIndex points at each sequence\'s last row, −1 for empty ones', () => {
    const L = packedLayout([5, 3, 3, 1, 0]);
    assert.deepEqual(Array.from(lastStepIndex(L)), [11, 8, 9, 3, -1]);
  });
});

describe(`fused LSTM forward (${kernelName()} kernels)`, () => {
  for (const lengths of [[5, 3, 3, 1, 0], [6, 6, 6], [1, 1], [0]]) {
    it(`matches a float64 reference cell for lengths [${lengths.join(', ')}]`, () => {
      const L = packedLayout(lengths);
      const H = 4, rng = new Rng(100 + lengths.length);
      const xProj = randomTensor(rng, [L.total, 4 * H], -1.5, 1.5, false);
      const wHH = randomTensor(rng, [H, 4 * H], -0.7, 0.7, false);
      const h0 = randomTensor(rng, [L.batch, H], -1, 1, false);
      const c0 = randomTensor(rng, [L.batch, H], -1, 1, false);
      const got = lstm(xProj, wHH, h0, c0, L);
      const want = referenceLstm(L, H, xProj.data, wHH.data, h0.data, c0.data);
      assert.deepEqual(got.output.shape, [L.total, H]);
      assert.deepEqual(got.h.shape, [L.batch, H]);
      assertClose(got.output.data, want.output, 'output', 1e-5, 1e-6);
      assertClose(got.h.data, want.h, 'h', 1e-5, 1e-6);
      assertClose(got.c.data, want.c, 'c', 1e-5, 1e-6);
      // Final states equal the output at each sequence's last step (h0/c0 for empty ones).
      const last = lastStepIndex(L);
      for (let b = 0; b < L.batch; b++) {
        const src = last[b] >= 0 ? got.output.data.subarray(last[b] * H, (last[b] + 1) * H) : h0.data.subarray(b * H, (b + 1) * H);
        assert.deepEqual(Array.from(got.h.data.subarray(b * H, (b + 1) * H)), Array.from(src));
        if (last[b] < 0) assert.deepEqual(Array.from(got.c.data.subarray(b * H, (b + 1) * H)), Array.from(c0.data.subarray(b * H, (b + 1) * H)));
      }
    });
  }
});

describe(`fused GRU forward (${kernelName()} kernels)`, () => {
  for (const lengths of [[5, 3, 3, 1, 0], [6, 6, 6], [1, 1], [0]]) {
    it(`matches a float64 reference cell for lengths [${lengths.join(', ')}]`, () => {
      const L = packedLayout(lengths);
      const H = 4, rng = new Rng(200 + lengths.length);
      const xProj = randomTensor(rng, [L.total, 3 * H], -1.5, 1.5, false);
      const wHH = randomTensor(rng, [H, 3 * H], -0.7, 0.7, false);
      const bHH = randomTensor(rng, [3 * H], -0.5, 0.5, false);
      const h0 = randomTensor(rng, [L.batch, H], -1, 1, false);
      const got = gru(xProj, wHH, bHH, h0, L);
      const want = referenceGru(L, H, xProj.data, wHH.data, bHH.data, h0.data);
      assertClose(got.output.data, want.output, 'output', 1e-5, 1e-6);
      assertClose(got.h.data, want.h, 'h', 1e-5, 1e-6);
    });
  }
});

describe('no padding leak: a sequence alone or batched with longer ones', () => {
  const lengths = [5, 3, 3, 1, 0];
  const L = packedLayout(lengths);
  const H = 3;

  /** Rows of `data` (width w) for sequence b, in packed order of its own solo layout. */
  const rowsOf = (data: Float32Array, w: number, b: number): Float32Array => {
    const out = new Float32Array(lengths[b] * w);
    for (let t = 0; t < lengths[b]; t++) out.set(data.subarray(row(L, t, b) * w, (row(L, t, b) + 1) * w), t * w);
    return out;
  };
  const same = (a: Float32Array, b: Float32Array, label: string): void => {
    // Alone and batched are products of different row counts, which a BLAS
    // (or a future blocked kernel) may sum in another order: a leak of padding
    // would show as O(1) differences, reordered sums as a few ulps.
    assertClose(a, b, label, 1e-6, 1e-7);
  };

  it('LSTM: outputs, final h and c, and gradients w.r.t. the sequence\'s inputs', () => {
    const rng = new Rng(300);
    const xProj = randomTensor(rng, [L.total, 4 * H]);
    const wHH = randomTensor(rng, [H, 4 * H]);
    const h0 = randomTensor(rng, [L.batch, H]), c0 = randomTensor(rng, [L.batch, H]);
    clearTape();
    const all = lstm(xProj, wHH, h0, c0, L);
    // Loss on every output and final state of the batch.
    ops.add(ops.sum(ops.tanh(all.output)), ops.add(ops.sum(all.h), ops.sum(ops.mul(all.c, all.c)))).backward();
    for (let b = 0; b < L.batch; b++) {
      const solo = packedLayout([lengths[b]]);
      const x1 = new Tensor(rowsOf(xProj.data, 4 * H, b), [lengths[b], 4 * H], true);
      const h1 = new Tensor(h0.data.slice(b * H, (b + 1) * H), [1, H], true);
      const c1 = new Tensor(c0.data.slice(b * H, (b + 1) * H), [1, H], true);
      clearTape();
      const one = lstm(x1, wHH.detach(), h1, c1, solo);
      same(one.output.data, rowsOf(all.output.data, H, b), `sequence ${b} output`);
      same(one.h.data, all.h.data.slice(b * H, (b + 1) * H), `sequence ${b} final h`);
      same(one.c.data, all.c.data.slice(b * H, (b + 1) * H), `sequence ${b} final c`);
      ops.add(ops.sum(ops.tanh(one.output)), ops.add(ops.sum(one.h), ops.sum(ops.mul(one.c, one.c)))).backward();
      // Sequences are independent, so the batched gradient of b's rows equals the solo one.
      assertClose(x1.grad ?? new Float32Array(x1.size), rowsOf(xProj.grad as Float32Array, 4 * H, b), `sequence ${b} dxProj`, 1e-5, 1e-6);
      assertClose(h1.grad as Float32Array, (h0.grad as Float32Array).slice(b * H, (b + 1) * H), `sequence ${b} dh0`, 1e-5, 1e-6);
      assertClose(c1.grad as Float32Array, (c0.grad as Float32Array).slice(b * H, (b + 1) * H), `sequence ${b} dc0`, 1e-5, 1e-6);
    }
  });

  it('GRU: outputs, final h, and gradients w.r.t. the sequence\'s inputs', () => {
    const rng = new Rng(301);
    const xProj = randomTensor(rng, [L.total, 3 * H]);
    const wHH = randomTensor(rng, [H, 3 * H]);
    const bHH = randomTensor(rng, [3 * H]);
    const h0 = randomTensor(rng, [L.batch, H]);
    clearTape();
    const all = gru(xProj, wHH, bHH, h0, L);
    ops.add(ops.sum(ops.tanh(all.output)), ops.sum(ops.mul(all.h, all.h))).backward();
    for (let b = 0; b < L.batch; b++) {
      const solo = packedLayout([lengths[b]]);
      const x1 = new Tensor(rowsOf(xProj.data, 3 * H, b), [lengths[b], 3 * H], true);
      const h1 = new Tensor(h0.data.slice(b * H, (b + 1) * H), [1, H], true);
      clearTape();
      const one = gru(x1, wHH.detach(), bHH.detach(), h1, solo);
      same(one.output.data, rowsOf(all.output.data, H, b), `sequence ${b} output`);
      same(one.h.data, all.h.data.slice(b * H, (b + 1) * H), `sequence ${b} final h`);
      ops.add(ops.sum(ops.tanh(one.output)), ops.sum(ops.mul(one.h, one.h))).backward();
      assertClose(x1.grad ?? new Float32Array(x1.size), rowsOf(xProj.grad as Float32Array, 3 * H, b), `sequence ${b} dxProj`, 1e-5, 1e-6);
      assertClose(h1.grad as Float32Array, (h0.grad as Float32Array).slice(b * H, (b + 1) * H), `sequence ${b} dh0`, 1e-5, 1e-6);
    }
  });

  it('a backward LSTM via reverseIndex equals running each reversed sequence alone', () => {
    const rng = new Rng(302);
    const xProj = randomTensor(rng, [L.total, 4 * H], -1, 1, false);
    const wHH = randomTensor(rng, [H, 4 * H], -1, 1, false);
    const z = Tensor.zeros([L.batch, H]);
    const rev = reverseIndex(L);
    const out = ops.gatherRows(lstm(ops.gatherRows(xProj, rev), wHH, z, z, L).output, rev);
    for (let b = 0; b < L.batch; b++) {
      const n = lengths[b];
      const fwd = rowsOf(xProj.data, 4 * H, b);
      const reversed = new Float32Array(fwd.length);
      for (let t = 0; t < n; t++) reversed.set(fwd.subarray((n - 1 - t) * 4 * H, (n - t) * 4 * H), t * 4 * H);
      const one = lstm(new Tensor(reversed, [n, 4 * H]), wHH, Tensor.zeros([1, H]), Tensor.zeros([1, H]), packedLayout([n])).output.data;
      const mine = rowsOf(out.data, H, b);
      for (let t = 0; t < n; t++) same(mine.subarray(t * H, (t + 1) * H), one.subarray((n - 1 - t) * H, (n - t) * H), `sequence ${b} step ${t}`);
    }
  });
});

describe('RNN shape errors', () => {
  const L = packedLayout([3, 2]);
  const z = (r: number, c: number): Tensor => Tensor.zeros([r, c]);
  const cases: [string, () => unknown, RegExp][] = [
    ['lstm xProj rows', () => lstm(z(4, 8), z(2, 8), z(2, 2), z(2, 2), L), /lstm: input projection must be \[5, 8\] \(packed rows × 4·hidden\), got \[4, 8\]/],
    ['lstm xProj width', () => lstm(z(5, 6), z(2, 8), z(2, 2), z(2, 2), L), /lstm: input projection must be \[5, 8\]/],
    ['lstm wHH', () => lstm(z(5, 8), z(2, 6), z(2, 2), z(2, 2), L), /lstm: recurrent kernel must be \[2, 8\], got \[2, 6\]/],
    ['lstm h0 batch', () => lstm(z(5, 8), z(2, 8), z(3, 2), z(2, 2), L), /lstm: initial state must be \[2, hidden\], got \[3, 2\]/],
    ['lstm c0', () => lstm(z(5, 8), z(2, 8), z(2, 2), z(2, 3), L), /lstm: c0 must be \[2, 2\], got \[2, 3\]/],
    ['gru xProj', () => gru(z(5, 8), z(2, 6), Tensor.zeros([6]), z(2, 2), L), /gru: input projection must be \[5, 6\] \(packed rows × 3·hidden\)/],
    ['gru bias', () => gru(z(5, 6), z(2, 6), Tensor.zeros([4]), z(2, 2), L), /gru: recurrent bias must have 6 elements, got \[4\]/],
  ];
  for (const [name, f, re] of cases) {
    it(name, () => {
      assert.throws(f, (err: unknown) => err instanceof ShapeError && re.test((err as Error).message));
    });
  }
});

describe('reuseInput: gates computed in the input projection\'s buffer', () => {
  // Same values and gradients as with a copy, for one step (input-fed decoders) and many.
  for (const lengths of [[4, 3, 3, 1], [1, 1]]) {
    for (const cell of ['lstm', 'gru'] as const) {
      it(`${cell}, lengths ${lengths.join(',')}`, () => {
        const layout = packedLayout(lengths);
        const H = 3, G = (cell === 'lstm' ? 4 : 3) * H;
        const run = (reuseInput: boolean) => {
          const rng = new Rng(21);
          const x = randomTensor(rng, [layout.total, G]);
          const w = randomTensor(rng, [H, G]);
          const h0 = randomTensor(rng, [layout.batch, H]);
          const c0 = randomTensor(rng, [layout.batch, H]);
          const bHH = randomTensor(rng, [G]);
          const xProj = ops.mul(x, x); // a fresh intermediate, as in RecurrentLayer
          const out = cell === 'lstm'
            ? lstm(xProj, w, h0, c0, layout, { reuseInput }).output
            : gru(xProj, w, bHH, h0, layout, { reuseInput }).output;
          const value = out.data.slice();
          ops.sum(ops.mul(out, out)).backward();
          return { value, grads: [x, w, h0, c0, bHH].map((t) => (t.grad ?? new Float32Array(0)).slice()), xProj: xProj.data };
        };
        const copied = run(false), reused = run(true);
        assertSameBits(reused.value, copied.value, 'output');
        reused.grads.forEach((g, i) => assertSameBits(g, copied.grads[i], `gradient ${i}`));
        // The point of the option: the projection's buffer now holds the gates.
        assert.ok(reused.xProj.some((v, i) => v !== copied.xProj[i]));
      });
    }
  }
});
