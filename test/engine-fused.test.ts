/**
 * The fused sublayer ops (src/engine/fused.ts): residualAdd equals
 * ops.add(x, ops.dropout(y)) with the same rng, linearSplit equals
 * ops.split(ops.linear(...)); finite-difference gradient checks of both.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, noGrad } from '../src/engine/tensor.js';
import * as ops from '../src/engine/ops.js';
import { Rng } from '../src/engine/rng.js';
import { gradcheck, randomTensor, assertClose, kernelName } from './helpers/gradcheck.js';

const seeded = (seed: number): Rng => new Rng(seed);

describe(`residualAdd (${kernelName()} kernels)`, () => {
  for (const [p, training] of [[0, true], [0.3, true], [0.3, false]] as const) {
    it(`x + dropout(y) with p=${p} training=${training}: the values and gradients of add(x, dropout(y)) with the same rng`, () => {
      const rng = seeded(1);
      const x = randomTensor(rng, [5, 6]), y = randomTensor(rng, [5, 6]);
      const seed = randomTensor(rng, [5, 6], -1, 1, false).data;
      const got = ops.residualAdd(x, y, p, seeded(9), training);
      got.backward(seed);
      const [gx, gy] = [x.grad!.slice(), y.grad!.slice()];
      x.zeroGrad();
      y.zeroGrad();
      const ref = ops.add(x, ops.dropout(y, p, seeded(9), training));
      ref.backward(seed);
      assertClose(got.data, ref.data, 'residualAdd values', 1e-6, 1e-7);
      assertClose(gx, x.grad!, 'dx', 1e-6, 1e-7);
      assertClose(gy, y.grad!, 'dy', 1e-6, 1e-7);
    });
  }
  it('gradcheck with dropout, and the gradient accumulates into existing gradients', () => {
    const rng = seeded(2);
    const x = randomTensor(rng, [4, 3]), y = randomTensor(rng, [4, 3]);
    gradcheck('residualAdd', [x, y], () => ops.residualAdd(ops.scale(x, 1.5), ops.mul(y, y), 0.25, seeded(3), true));
    gradcheck('residualAdd shared input', [x], () => ops.residualAdd(x, x, 0.25, seeded(3), true));
  });
  it('rejects mismatched shapes and a bad p', () => {
    assert.throws(() => ops.residualAdd(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]), 0, seeded(1), false), /differ/);
    assert.throws(() => ops.residualAdd(Tensor.zeros([2, 3]), Tensor.zeros([2, 3]), 1, seeded(1), true), /p must be/);
  });
});

describe(`linearSplit (${kernelName()} kernels)`, () => {
  it('equals split(linear(x, W, b)) in value, gradcheck of x, W and b', () => {
    const rng = seeded(4);
    const x = randomTensor(rng, [2, 3, 4]), w = randomTensor(rng, [4, 7]), b = randomTensor(rng, [7]);
    const widths = [3, 0, 4];
    const got = noGrad(() => ops.linearSplit(x, w, b, widths));
    const ref = noGrad(() => ops.split(ops.linear(x, w, b), widths));
    got.forEach((t, i) => {
      assert.deepEqual(t.shape, ref[i].shape);
      assertClose(t.data, ref[i].data, `part ${i}`, 1e-6, 1e-7);
    });
    gradcheck('linearSplit', [x, w, b], () => ops.linearSplit(x, w, b, widths), { eps: 1e-3 });
    gradcheck('linearSplit without bias, one part unused', [x, w], () => ops.linearSplit(x, w, null, [2, 5])[1], { eps: 1e-3 });
  });
  it('rejects widths that do not cover the weights and a bias of the wrong size', () => {
    const x = Tensor.zeros([2, 3]);
    assert.throws(() => ops.linearSplit(x, Tensor.zeros([3, 4]), null, [2, 1]), /do not sum/);
    assert.throws(() => ops.linearSplit(x, Tensor.zeros([3, 4]), Tensor.zeros([3]), [2, 2]), /bias/);
    assert.throws(() => ops.linearSplit(x, Tensor.zeros([2, 4]), null, [2, 2]), /does not fit/);
  });
});
