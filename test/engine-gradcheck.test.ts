/**
 * Finite-difference gradient checks for every op in src/engine/ops.ts and
 * for the fused packed LSTM and GRU (backward through time).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, record, needsGrad } from '../src/engine/tensor.js';
import * as ops from '../src/engine/ops.js';
import { lstm, gru, packedLayout } from '../src/engine/rnn.js';
import { Rng } from '../src/engine/rng.js';
import { gradcheck, randomTensor, awayFromZero, kernelName } from './helpers/gradcheck.js';

const seeded = (seed: number): Rng => new Rng(seed);

/** x² with a deliberately wrong backward (2x + 0.05), to prove the checker bites. */
function badSquare(x: Tensor): Tensor {
  const out = new Tensor(x.data.map((v) => v * v), x.shape);
  if (needsGrad(x)) {
    record(out, () => {
      if (!out.grad) return;
      const d = x.gradBuffer();
      for (let i = 0; i < d.length; i++) d[i] += out.grad[i] * (2 * x.data[i] + 0.05);
    });
  }
  return out;
}

describe('gradcheck helper', () => {
  it('rejects a subtly wrong backward and an output that is ignored by the backward', () => {
    const x = randomTensor(seeded(0), [3, 4]);
    assert.throws(() => gradcheck('bad square', [x], () => badSquare(x)), /gradcheck bad square .*failed/s);
    // The second output depends on x but its tape closure is missing: the projection must notice.
    const forgetful = (): Tensor[] => [ops.scale(x, 2), new Tensor(x.data.map((v) => 3 * v), x.shape)];
    assert.throws(() => gradcheck('forgetful', [x], forgetful), /failed/);
  });
});

describe(`gradcheck: matmul (${kernelName()} kernels)`, () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`matrix · matrix, transA=${transA} transB=${transB}`, () => {
        const rng = seeded(1);
        const a = randomTensor(rng, transA ? [4, 3] : [3, 4]);
        const b = randomTensor(rng, transB ? [5, 4] : [4, 5]);
        const out = ops.matmul(a, b, transA, transB);
        assert.deepEqual(out.shape, [3, 5]);
        gradcheck(`matmul ${transA}/${transB}`, [a, b], () => ops.matmul(a, b, transA, transB));
      });
    }
  }
  for (const transB of [false, true]) {
    it(`rank-3 left operand [2, 3, 4] (a Dense layer over time), transB=${transB}`, () => {
      const rng = seeded(2);
      const a = randomTensor(rng, [2, 3, 4]);
      const b = randomTensor(rng, transB ? [5, 4] : [4, 5]);
      assert.deepEqual(ops.matmul(a, b, false, transB).shape, [2, 3, 5]);
      gradcheck('matmul rank-3', [a, b], () => ops.matmul(a, b, false, transB));
    });
  }
  it('rank-1 left operand (vector · matrix)', () => {
    const rng = seeded(3);
    const a = randomTensor(rng, [4]);
    const b = randomTensor(rng, [4, 5]);
    assert.deepEqual(ops.matmul(a, b).shape, [5]);
    gradcheck('matmul rank-1', [a, b], () => ops.matmul(a, b));
  });
  it('operand used twice (a·aᵀ) accumulates both contributions', () => {
    const a = randomTensor(seeded(4), [3, 4]);
    gradcheck('matmul a·aᵀ', [a], () => ops.matmul(a, a, false, true));
  });
});

describe('gradcheck: bmm', () => {
  for (const transA of [false, true]) {
    for (const transB of [false, true]) {
      it(`transA=${transA} transB=${transB}`, () => {
        const rng = seeded(5);
        const a = randomTensor(rng, transA ? [2, 4, 3] : [2, 3, 4]);
        const b = randomTensor(rng, transB ? [2, 5, 4] : [2, 4, 5]);
        assert.deepEqual(ops.bmm(a, b, transA, transB).shape, [2, 3, 5]);
        gradcheck(`bmm ${transA}/${transB}`, [a, b], () => ops.bmm(a, b, transA, transB));
      });
    }
  }
});

describe('gradcheck: elementwise', () => {
  const binary: [string, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', ops.add],
    ['sub', ops.sub],
    ['mul', ops.mul],
  ];
  for (const [name, f] of binary) {
    it(`${name}: same shape`, () => {
      const rng = seeded(6);
      const a = randomTensor(rng, [3, 4]);
      const b = randomTensor(rng, [3, 4]);
      gradcheck(`${name} same`, [a, b], () => f(a, b));
    });
    it(`${name}: row [cols] broadcast over a rank-3 tensor`, () => {
      const rng = seeded(7);
      const a = randomTensor(rng, [2, 3, 4]);
      const b = randomTensor(rng, [4]);
      gradcheck(`${name} row`, [a, b], () => f(a, b));
    });
    it(`${name}: row [1, cols] broadcast`, () => {
      const rng = seeded(8);
      const a = randomTensor(rng, [3, 4]);
      const b = randomTensor(rng, [1, 4]);
      gradcheck(`${name} row [1, cols]`, [a, b], () => f(a, b));
    });
    it(`${name}: the same tensor on both sides`, () => {
      const a = randomTensor(seeded(9), [3, 4]);
      gradcheck(`${name} a,a`, [a], () => f(a, a), { allowZero: name === 'sub' ? [0] : [] });
    });
  }
  it('scale', () => {
    const a = randomTensor(seeded(10), [3, 4]);
    gradcheck('scale', [a], () => ops.scale(a, -2.5));
  });
  it('sigmoid', () => {
    const a = randomTensor(seeded(11), [3, 4], -3, 3);
    gradcheck('sigmoid', [a], () => ops.sigmoid(a));
  });
  it('tanh', () => {
    const a = randomTensor(seeded(12), [3, 4], -2, 2);
    gradcheck('tanh', [a], () => ops.tanh(a));
  });
  it('relu (inputs kept away from the kink)', () => {
    const a = new Tensor(awayFromZero(seeded(13), 12), [3, 4], true);
    gradcheck('relu', [a], () => ops.relu(a), { eps: 1e-3 });
  });
});

describe('gradcheck: softmax family', () => {
  it('softmax without mask', () => {
    const x = randomTensor(seeded(14), [3, 5], -2, 2);
    gradcheck('softmax', [x], () => ops.softmax(x));
  });
  it('softmax with a full-size mask, including a fully masked row', () => {
    const x = randomTensor(seeded(15), [3, 5], -2, 2);
    const mask = Uint8Array.from([1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1]);
    const y = ops.softmax(x, mask);
    for (let j = 0; j < 5; j++) assert.equal(y.data[5 + j], 0, 'a fully masked row gives zeros');
    assert.equal(y.data[2], 0);
    const { analytic } = gradcheck('softmax mask', [x], () => ops.softmax(x, mask));
    for (let i = 0; i < 15; i++) if (!mask[i]) assert.equal(analytic[0][i], 0, `masked position ${i} gets no gradient`);
  });
  it('softmax of [B, T, S] attention scores with a [B, S] mask', () => {
    const B = 2, T = 3, S = 4;
    const x = randomTensor(seeded(16), [B, T, S], -2, 2);
    const mask = Uint8Array.from([1, 1, 1, 0, 1, 1, 0, 0]);
    const y = ops.softmax(x, mask);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let j = 0; j < S; j++) {
          const v = y.data[(b * T + t) * S + j];
          if (!mask[b * S + j]) assert.equal(v, 0, `b=${b} t=${t} s=${j} is masked`);
          s += v;
        }
        assert.ok(Math.abs(s - 1) < 1e-6, 'rows sum to one');
      }
    }
    gradcheck('softmax [B,T,S] mask', [x], () => ops.softmax(x, mask));
  });
  it('logSoftmax', () => {
    const x = randomTensor(seeded(17), [2, 3, 4], -2, 2);
    gradcheck('logSoftmax', [x], () => ops.logSoftmax(x));
  });
  it('softmaxCrossEntropy with ignored (negative-target) rows', () => {
    const x = randomTensor(seeded(18), [2, 3, 5], -2, 2);
    const targets = Int32Array.from([4, -1, 0, 2, -100, 2]);
    const { analytic } = gradcheck('softmaxCrossEntropy', [x], () => ops.softmaxCrossEntropy(x, targets));
    for (const r of [1, 4]) for (let j = 0; j < 5; j++) assert.equal(analytic[0][r * 5 + j], 0, `ignored row ${r} gets no gradient`);
  });
  it('softmaxCrossEntropy with every row ignored is 0 with zero gradient', () => {
    const x = randomTensor(seeded(19), [2, 3]);
    const targets = Int32Array.from([-1, -1]);
    assert.equal(ops.softmaxCrossEntropy(x, targets).item(), 0);
    gradcheck('softmaxCrossEntropy all ignored', [x], () => ops.softmaxCrossEntropy(x, targets), { allowZero: [0] });
  });
});

describe('gradcheck: gathering and shaping', () => {
  it('gatherRows with repeated and negative indices', () => {
    const table = randomTensor(seeded(20), [5, 3]);
    const index = Int32Array.from([2, 0, 2, -1, 4, 2, -1]);
    const { analytic } = gradcheck('gatherRows', [table], () => ops.gatherRows(table, index));
    for (let j = 0; j < 3; j++) {
      assert.equal(analytic[0][1 * 3 + j], 0, 'row 1 is never gathered');
      assert.equal(analytic[0][3 * 3 + j], 0, 'row 3 is never gathered');
    }
  });
  it('gatherRows from a rank-3 table (rows of the flattened view)', () => {
    const table = randomTensor(seeded(21), [2, 3, 2]);
    gradcheck('gatherRows rank-3', [table], () => ops.gatherRows(table, Int32Array.from([5, 0, 5, 3])));
  });
  // takeRows and concatRows carry attention training (the decoder runs step by
  // step over a shrinking prefix of rows, then the steps are concatenated).
  it('takeRows: a view of the first rows; rows left out get no gradient', () => {
    const x = randomTensor(seeded(40), [5, 3]);
    const { analytic } = gradcheck('takeRows', [x], () => ops.takeRows(x, 3));
    for (const r of [3, 4]) for (let j = 0; j < 3; j++) assert.equal(analytic[0][r * 3 + j], 0, `row ${r} is not taken`);
    assert.equal(ops.takeRows(x, 5), x, 'all rows: the tensor itself');
  });
  it('takeRows of takeRows, and the base used directly too (gradients accumulate into the base)', () => {
    const x = randomTensor(seeded(41), [6, 2]);
    const w = randomTensor(seeded(42), [2, 3]);
    gradcheck('takeRows nested', [x, w], () => [ops.matmul(ops.takeRows(ops.takeRows(x, 4), 2), w), ops.mul(x, x)]);
  });
  it('takeRows of a rank-3 tensor', () => {
    const x = randomTensor(seeded(43), [4, 2, 3]);
    gradcheck('takeRows rank-3', [x], () => ops.takeRows(x, 3), { allowZero: [] });
  });
  it('concatRows: parts of different row counts, one part twice, views as parts', () => {
    const a = randomTensor(seeded(44), [2, 3]);
    const b = randomTensor(seeded(45), [1, 3]);
    const c = randomTensor(seeded(46), [4, 3]);
    const w = randomTensor(seeded(47), [3, 2]);
    gradcheck('concatRows', [a, b, c, w], () => ops.matmul(ops.concatRows([a, b, ops.takeRows(c, 3), a, c]), w));
  });
  it('concatRows of rank-3 parts and of a single part', () => {
    const a = randomTensor(seeded(48), [1, 2, 2]);
    const b = randomTensor(seeded(49), [3, 2, 2]);
    gradcheck('concatRows rank-3', [a, b], () => ops.concatRows([b, a]));
    gradcheck('concatRows one part', [b], () => ops.concatRows([b]));
  });
  it('reshape', () => {
    const x = randomTensor(seeded(22), [2, 6]);
    gradcheck('reshape', [x], () => ops.reshape(x, [3, 2, 2]));
  });
  it('concat of three rank-3 parts', () => {
    const rng = seeded(23);
    const a = randomTensor(rng, [2, 3, 1]), b = randomTensor(rng, [2, 3, 4]), c = randomTensor(rng, [2, 3, 2]);
    const empty = Tensor.zeros([2, 3, 0], true);
    gradcheck('concat', [a, b, c], () => ops.concat([a, empty, b, c]));
  });
  it('slice', () => {
    const x = randomTensor(seeded(24), [3, 6]);
    gradcheck('slice', [x], () => ops.slice(x, 1, 4));
  });
  it('split (every piece feeds the loss)', () => {
    const x = randomTensor(seeded(25), [2, 2, 7]);
    gradcheck('split', [x], () => ops.split(x, [2, 0, 4, 1]));
  });
});

describe('gradcheck: reductions, dropout, layerNorm', () => {
  it('sum', () => {
    const x = randomTensor(seeded(26), [3, 4]);
    gradcheck('sum', [x], () => ops.sum(x));
  });
  it('mean', () => {
    const x = randomTensor(seeded(27), [3, 4]);
    gradcheck('mean', [x], () => ops.mean(x));
  });
  it('dropout with a fixed rng', () => {
    const x = randomTensor(seeded(28), [4, 5]);
    const { analytic } = gradcheck('dropout', [x], () => ops.dropout(x, 0.4, new Rng(99), true));
    const y = ops.dropout(x, 0.4, new Rng(99), true);
    for (let i = 0; i < x.size; i++) {
      if (y.data[i] === 0) assert.equal(analytic[0][i], 0);
      else assert.ok(Math.abs(analytic[0][i]) > 0);
    }
  });
  it('dropout is the identity when not training', () => {
    const x = randomTensor(seeded(29), [2, 3]);
    assert.equal(ops.dropout(x, 0.5, new Rng(1), false), x);
    gradcheck('dropout eval', [x], () => ops.dropout(x, 0.5, new Rng(1), false));
  });
  it('layerNorm w.r.t. input, gain and bias', () => {
    const rng = seeded(30);
    const x = randomTensor(rng, [2, 3, 5], -2, 2);
    const gain = randomTensor(rng, [5], 0.5, 1.5);
    const bias = randomTensor(rng, [5]);
    gradcheck('layerNorm', [x, gain, bias], () => ops.layerNorm(x, gain, bias), { eps: 1e-3, atol: 3e-3 });
  });
});

describe('gradcheck: composite graphs', () => {
  it('Dense → tanh → Dense → softmaxCrossEntropy', () => {
    const rng = seeded(31);
    const x = randomTensor(rng, [4, 3]);
    const w1 = randomTensor(rng, [3, 5]), b1 = randomTensor(rng, [5]);
    const w2 = randomTensor(rng, [5, 4]), b2 = randomTensor(rng, [4]);
    const targets = Int32Array.from([1, 3, -1, 0]);
    gradcheck('mlp', [x, w1, b1, w2, b2], () =>
      ops.softmaxCrossEntropy(ops.add(ops.matmul(ops.tanh(ops.add(ops.matmul(x, w1), b1)), w2), b2), targets));
  });
  it('dot-product attention: bmm → masked softmax → bmm', () => {
    const rng = seeded(32);
    const q = randomTensor(rng, [2, 3, 4]), k = randomTensor(rng, [2, 5, 4]), v = randomTensor(rng, [2, 5, 3]);
    const mask = Uint8Array.from([1, 1, 1, 1, 0, 1, 1, 0, 0, 0]);
    gradcheck('attention', [q, k, v], () => ops.bmm(ops.softmax(ops.bmm(q, k, false, true), mask), v));
  });
});

// ------------------------------------------------------------------ RNNs

const LENGTHS = [5, 3, 3, 1, 0];

describe('gradcheck: fused packed LSTM', () => {
  for (const lengths of [LENGTHS, [4, 4, 2], [1]]) {
    it(`lengths [${lengths.join(', ')}], loss on outputs, final h and final c`, () => {
      const layout = packedLayout(lengths);
      const H = 3, B = layout.batch;
      const rng = seeded(40 + lengths.length);
      const xProj = randomTensor(rng, [layout.total, 4 * H]);
      const wHH = randomTensor(rng, [H, 4 * H], -0.8, 0.8);
      const h0 = randomTensor(rng, [B, H]);
      const c0 = randomTensor(rng, [B, H]);
      gradcheck(`lstm [${lengths}]`, [xProj, wHH, h0, c0], () => {
        const r = lstm(xProj, wHH, h0, c0, layout);
        return [r.output, r.h, r.c];
      });
    });
  }
  it('loss on the final states only (gradients reach every step through time)', () => {
    const layout = packedLayout(LENGTHS);
    const H = 2, rng = seeded(47);
    const xProj = randomTensor(rng, [layout.total, 4 * H]);
    const wHH = randomTensor(rng, [H, 4 * H]);
    const h0 = randomTensor(rng, [layout.batch, H]);
    const c0 = randomTensor(rng, [layout.batch, H]);
    gradcheck('lstm finals', [xProj, wHH, h0, c0], () => {
      const r = lstm(xProj, wHH, h0, c0, layout);
      return [r.h, r.c];
    });
  });
  it('loss on the outputs only, through a Dense input projection and an output head', () => {
    const layout = packedLayout([4, 2, 1]);
    const H = 3, D = 2, rng = seeded(48);
    const x = randomTensor(rng, [layout.total, D]);
    const wIH = randomTensor(rng, [D, 4 * H]);
    const b = randomTensor(rng, [4 * H]);
    const wHH = randomTensor(rng, [H, 4 * H]);
    const h0 = randomTensor(rng, [layout.batch, H]);
    const c0 = randomTensor(rng, [layout.batch, H]);
    gradcheck('lstm dense', [x, wIH, b, wHH, h0, c0], () => ops.tanh(lstm(ops.add(ops.matmul(x, wIH), b), wHH, h0, c0, layout).output));
  });
  it('two stacked layers', () => {
    const layout = packedLayout([3, 2, 2]);
    const H = 2, rng = seeded(49);
    const xProj = randomTensor(rng, [layout.total, 4 * H]);
    const w1 = randomTensor(rng, [H, 4 * H]);
    const wIH2 = randomTensor(rng, [H, 4 * H]);
    const w2 = randomTensor(rng, [H, 4 * H]);
    const z = (): Tensor => randomTensor(seeded(50), [layout.batch, H], 0, 0, false);
    const h0 = z(), c0 = z();
    gradcheck('lstm stacked', [xProj, w1, wIH2, w2], () => {
      const l1 = lstm(xProj, w1, h0, c0, layout);
      const l2 = lstm(ops.matmul(l1.output, wIH2), w2, l1.h, l1.c, layout);
      return [l2.output, l2.h, l2.c];
    });
  });
});

describe('gradcheck: fused packed GRU (reset-after)', () => {
  for (const lengths of [LENGTHS, [4, 4, 2], [1]]) {
    it(`lengths [${lengths.join(', ')}], loss on outputs and final h`, () => {
      const layout = packedLayout(lengths);
      const H = 3, B = layout.batch;
      const rng = seeded(60 + lengths.length);
      const xProj = randomTensor(rng, [layout.total, 3 * H]);
      const wHH = randomTensor(rng, [H, 3 * H], -0.8, 0.8);
      const bHH = randomTensor(rng, [3 * H]);
      const h0 = randomTensor(rng, [B, H]);
      gradcheck(`gru [${lengths}]`, [xProj, wHH, bHH, h0], () => {
        const r = gru(xProj, wHH, bHH, h0, layout);
        return [r.output, r.h];
      });
    });
  }
  it('loss on the final state only', () => {
    const layout = packedLayout(LENGTHS);
    const H = 2, rng = seeded(67);
    const xProj = randomTensor(rng, [layout.total, 3 * H]);
    const wHH = randomTensor(rng, [H, 3 * H]);
    const bHH = randomTensor(rng, [3 * H]);
    const h0 = randomTensor(rng, [layout.batch, H]);
    gradcheck('gru final', [xProj, wHH, bHH, h0], () => gru(xProj, wHH, bHH, h0, layout).h);
  });
});
