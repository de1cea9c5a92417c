/**
 * Optimizers (RMSprop, Adam) against hand-computed Keras updates, state
 * export/restore, gradient clipping; and the weight initialisers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor } from '../src/engine/tensor.js';
import { RMSprop, Adam, clipGradNorm, createOptimizer, type Optimizer, type OptimizerState } from '../src/engine/optim.js';
import { glorotUniform, orthogonal, lstmBias, uniform, parameter } from '../src/engine/init.js';
import { Rng } from '../src/engine/rng.js';
import { assertClose, assertSameBits, kernelName } from './helpers/gradcheck.js';

function param(name: string, values: number[]): Tensor {
  return new Tensor(Float32Array.from(values), [values.length], true, name);
}
function setGrad(p: Tensor, values: number[]): void {
  p.grad = Float32Array.from(values);
}

describe(`RMSprop (${kernelName()} kernels)`, () => {
  it('defaults are Keras\'s', () => {
    const o = new RMSprop([param('w', [0])]);
    assert.equal(o.learningRate, 0.001);
    assert.equal(o.rho, 0.9);
    assert.equal(o.epsilon, 1e-7);
  });

  it('three steps match ms = ρ·ms + (1−ρ)·g²; p −= lr·g/(√ms + ε)', () => {
    const p0 = [1, -2, 0.5, 0];
    const grads = [[0.1, -0.2, 0.3, 0], [0.5, 0.5, -1, 2e-4], [-0.3, 0.01, 0, -1]];
    const lr = 0.01, rho = 0.8, eps = 1e-7;
    const w = param('w', p0);
    const opt = new RMSprop([w], { learningRate: lr, rho, epsilon: eps });
    const p = [...p0], ms = [0, 0, 0, 0];
    for (const g of grads) {
      setGrad(w, g);
      opt.update();
      for (let i = 0; i < p.length; i++) {
        ms[i] = rho * ms[i] + (1 - rho) * g[i] * g[i];
        p[i] -= (lr * g[i]) / (Math.sqrt(ms[i]) + eps);
      }
      assertClose(w.data, p, `after step ${opt.step}`, 1e-6, 1e-7);
    }
    assert.equal(opt.step, 3);
    // The first step moves each parameter by lr/√(1−ρ) (for |g| ≫ ε), Keras's well-known jump.
    const v = param('v', [0]);
    const o2 = new RMSprop([v], { learningRate: lr, rho });
    setGrad(v, [3]);
    o2.update();
    assertClose(v.data, [-lr / Math.sqrt(1 - rho)], 'first-step size', 1e-5);
  });

  it('parameters without a gradient are left alone', () => {
    const a = param('a', [1, 2]), b = param('b', [3]);
    const opt = new RMSprop([a, b]);
    setGrad(a, [1, 1]);
    opt.update();
    assert.deepEqual(b.toArray(), [3]);
    assert.notDeepEqual(a.toArray(), [1, 2]);
    assert.deepEqual(Object.keys(opt.getState().slots), ['a']);
  });
});

describe('Adam', () => {
  it('defaults are Keras\'s', () => {
    const o = new Adam([param('w', [0])]);
    assert.equal(o.learningRate, 0.001);
    assert.equal(o.beta1, 0.9);
    assert.equal(o.beta2, 0.999);
    assert.equal(o.epsilon, 1e-7);
  });

  it('three steps match lrT = lr·√(1−β₂ᵗ)/(1−β₁ᵗ); p −= lrT·m/(√v + ε)', () => {
    const p0 = [1, -2, 0.5, 0];
    const grads = [[0.1, -0.2, 0.3, 0], [0.5, 0.5, -1, 2e-4], [-0.3, 0.01, 0, -1]];
    const lr = 0.02, b1 = 0.8, b2 = 0.95, eps = 1e-6;
    const w = param('w', p0);
    const opt = new Adam([w], { learningRate: lr, beta1: b1, beta2: b2, epsilon: eps });
    const p = [...p0], m = [0, 0, 0, 0], v = [0, 0, 0, 0];
    grads.forEach((g, k) => {
      const t = k + 1;
      setGrad(w, g);
      opt.update();
      const lrT = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      for (let i = 0; i < p.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        p[i] -= (lrT * m[i]) / (Math.sqrt(v[i]) + eps);
      }
      assertClose(w.data, p, `after step ${t}`, 1e-6, 1e-7);
    });
    // Keras's first step moves by ≈ lr·sign(g) whatever the scale of g.
    const u = param('u', [0, 0]);
    const o2 = new Adam([u], { learningRate: 0.01 });
    setGrad(u, [1e3, -0.1]);
    o2.update();
    assertClose(u.data, [-0.01, 0.01], 'first-step size', 1e-3);
  });
});

describe('optimizer state', () => {
  function run(opt: Optimizer, params: Tensor[], steps: number, seed: number): void {
    const rng = new Rng(seed);
    for (let s = 0; s < steps; s++) {
      for (const p of params) p.grad = Float32Array.from(p.data, (x) => x * 0.5 + rng.uniform(-1, 1));
      opt.update();
    }
  }
  const make = (): Tensor[] => [param('enc/kernel', [0.1, -0.2, 0.3, 0.4, 0.5]), param('dec/bias', [1, 2])];
  const clone = (ps: Tensor[]): Tensor[] => ps.map((p) => new Tensor(p.data.slice(), p.shape, true, p.name));
  /** Through plain JSON, as a checkpoint file would hold it. */
  const viaJson = (s: OptimizerState): OptimizerState => {
    const json = JSON.parse(JSON.stringify({ ...s, slots: Object.fromEntries(Object.entries(s.slots).map(([n, sl]) => [n, Object.fromEntries(Object.entries(sl).map(([k, v]) => [k, Array.from(v)]))])) }));
    json.slots = Object.fromEntries(Object.entries(json.slots as Record<string, Record<string, number[]>>).map(([n, sl]) => [n, Object.fromEntries(Object.entries(sl).map(([k, v]) => [k, Float32Array.from(v)]))]));
    return json as OptimizerState;
  };

  for (const kind of ['rmsprop', 'adam'] as const) {
    it(`${kind}: getState → setState on a fresh optimizer continues identically`, () => {
      const a = make();
      const optA = createOptimizer(kind, a, 0.01);
      run(optA, a, 3, 1);
      const b = clone(a);
      const optB = createOptimizer(kind, b, 0.5); // learning rate comes from the state
      optB.setState(viaJson(optA.getState()));
      assert.equal(optB.step, 3);
      assert.equal(optB.learningRate, 0.01);
      run(optA, a, 4, 2);
      run(optB, b, 4, 2);
      a.forEach((p, i) => assertSameBits(b[i].data, p.data, `${kind} ${p.name}`));
      assert.deepEqual(viaJson(optB.getState()), viaJson(optA.getState()));
    });

    it(`${kind}: a state snapshot is not changed by later updates, and can be restored in-memory`, () => {
      const a = make();
      const opt = createOptimizer(kind, a, 0.01);
      run(opt, a, 2, 3);
      const snap = opt.getState();
      const frozen = viaJson(snap);
      const saved = clone(a);
      run(opt, a, 3, 4);
      assert.deepEqual(viaJson(snap), frozen, 'getState() must return a copy, not the live slots');
      // Restore the snapshot twice into two optimizers: they must not share slot buffers.
      const b = clone(saved), c = clone(saved);
      const optB = createOptimizer(kind, b), optC = createOptimizer(kind, c);
      optB.setState(snap);
      optC.setState(snap);
      run(optB, b, 2, 5);
      run(optC, c, 2, 5);
      b.forEach((p, i) => assertSameBits(c[i].data, p.data, `${kind} restored twice`));
    });
  }

  it('setState rejects another optimizer\'s state and mis-sized slots', () => {
    const a = make();
    const r = new RMSprop(a);
    run(r, a, 1, 6);
    assert.throws(() => new Adam(make()).setState(r.getState()), /optimizer state is for rmsprop, this optimizer is adam/);
    const bad = viaJson(r.getState());
    bad.slots['dec/bias'].ms = new Float32Array(5);
    assert.throws(() => new RMSprop(make()).setState(bad), /optimizer slot dec\/bias\/ms has 5 values, parameter has 2/);
  });

  it('parameters need unique names', () => {
    assert.throws(() => new Adam([new Tensor(new Float32Array(1), [1], true)]), /every parameter needs a name/);
    assert.throws(() => new Adam([param('x', [1]), param('x', [2])]), /duplicate parameter name "x"/);
    assert.throws(() => createOptimizer('sgd' as never, []), /unknown optimizer "sgd"/);
  });

  it('zeroGrad zeroes every gradient', () => {
    const ps = make();
    ps.forEach((p) => (p.grad = new Float32Array(p.size).fill(3)));
    new Adam(ps).zeroGrad();
    for (const p of ps) assert.ok((p.grad as Float32Array).every((v) => v === 0));
  });
});

describe('clipGradNorm', () => {
  it('returns the global norm and rescales to maxNorm only when above it', () => {
    const a = param('a', [0, 0]), b = param('b', [0]), c = param('c', [5]);
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    // c has no gradient and is ignored.
    assert.equal(clipGradNorm([a, b, c], 100), 13);
    assert.deepEqual(Array.from(a.grad as Float32Array), [3, 4], 'below maxNorm nothing changes');
    assert.equal(clipGradNorm([a, b, c], 6.5), 13);
    assertClose(a.grad as Float32Array, [1.5, 2], 'clipped a', 1e-6);
    assertClose(b.grad as Float32Array, [6], 'clipped b', 1e-6);
    assertClose([clipGradNorm([a, b], Infinity)], [6.5], 'new norm', 1e-6);
    assert.equal(c.grad, null);
  });

  it('maxNorm ≤ 0 or ∞ disables clipping; a NaN norm is reported, not spread', () => {
    const a = param('a', [0, 0]);
    setGrad(a, [30, 40]);
    assert.equal(clipGradNorm([a], 0), 50);
    assert.equal(clipGradNorm([a], Infinity), 50);
    assert.deepEqual(Array.from(a.grad as Float32Array), [30, 40]);
    setGrad(a, [NaN, 1]);
    assert.ok(Number.isNaN(clipGradNorm([a], 1)));
    assert.equal((a.grad as Float32Array)[1], 1);
  });
});

// ------------------------------------------------------------------ init

function gramColumns(w: Float32Array, rows: number, cols: number): number[][] {
  const g = Array.from({ length: cols }, () => new Array<number>(cols).fill(0));
  for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) for (let r = 0; r < rows; r++) g[i][j] += w[r * cols + i] * w[r * cols + j];
  return g;
}
function gramRows(w: Float32Array, rows: number, cols: number): number[][] {
  const g = Array.from({ length: rows }, () => new Array<number>(rows).fill(0));
  for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) for (let c = 0; c < cols; c++) g[i][j] += w[i * cols + c] * w[j * cols + c];
  return g;
}
function assertIdentity(g: number[][], scale: number, label: string): void {
  for (let i = 0; i < g.length; i++) {
    for (let j = 0; j < g.length; j++) {
      const want = i === j ? scale : 0;
      assert.ok(Math.abs(g[i][j] - want) < 1e-5 * Math.max(1, scale), `${label}: [${i}][${j}] = ${g[i][j]}, expected ${want}`);
    }
  }
}

describe('initialisers', () => {
  it('orthogonal: tall WᵀW = I, wide WWᵀ = I (an LSTM recurrent kernel [H, 4H]), square both', () => {
    const tall = orthogonal([12, 5], new Rng(1));
    assertIdentity(gramColumns(tall, 12, 5), 1, 'tall WᵀW');
    const wide = orthogonal([8, 32], new Rng(2));
    assertIdentity(gramRows(wide, 8, 32), 1, 'wide WWᵀ');
    const sq = orthogonal([16, 16], new Rng(3));
    assertIdentity(gramColumns(sq, 16, 16), 1, 'square WᵀW');
    assertIdentity(gramRows(sq, 16, 16), 1, 'square WWᵀ');
    const g = orthogonal([6, 3], new Rng(4), 2);
    assertIdentity(gramColumns(g, 6, 3), 4, 'gain 2');
    // A rank-3 shape is flattened to [prod(leading), last].
    assertIdentity(gramColumns(orthogonal([2, 5, 4], new Rng(5)), 10, 4), 1, 'rank-3');
  });

  it('glorotUniform stays within ±√(6/(fanIn+fanOut)) and fills the range', () => {
    const w = glorotUniform([40, 60], new Rng(6));
    const limit = Math.sqrt(6 / 100);
    let max = 0, sum = 0, sq = 0;
    for (const v of w) {
      assert.ok(Math.abs(v) <= limit, `${v} exceeds ${limit}`);
      max = Math.max(max, Math.abs(v));
      sum += v;
      sq += v * v;
    }
    assert.ok(max > 0.98 * limit, 'values reach the limit');
    assert.ok(Math.abs(sum / w.length) < 0.01, 'mean ≈ 0');
    assertClose([sq / w.length], [(limit * limit) / 3], 'variance = limit²/3', 0.05);
    const b = glorotUniform([10], new Rng(7)); // fan = [10, 10]
    for (const v of b) assert.ok(Math.abs(v) <= Math.sqrt(6 / 20));
    for (const v of uniform([100], new Rng(8), 0.05)) assert.ok(Math.abs(v) <= 0.05);
  });

  it('the same seed gives identical bits; another seed does not', () => {
    assertSameBits(glorotUniform([7, 9], new Rng(42)), glorotUniform([7, 9], new Rng(42)), 'glorot');
    assertSameBits(orthogonal([9, 7], new Rng(42)), orthogonal([9, 7], new Rng(42)), 'orthogonal');
    assertSameBits(orthogonal([4, 16], new Rng(42)), orthogonal([4, 16], new Rng(42)), 'orthogonal wide');
    assert.notDeepEqual(glorotUniform([7, 9], new Rng(42)), glorotUniform([7, 9], new Rng(43)));
    // Known values pin the generator across platforms and refactors: these
    // literals are what Rng(42) drew when the seed format was fixed (checkpoints
    // and every seeded test depend on them).
    const r = new Rng(42);
    assert.deepEqual(r.getState(), [939911724, 3948730756, 321366731, 3317318717], 'splitmix32 expansion of seed 42');
    assert.deepEqual([r.nextUint32(), r.nextUint32(), r.nextUint32()], [2837322924, 544945897, 479756282]);
    assert.deepEqual(new Rng(0).getState(), [2462723854, 1020716019, 454327756, 1275600319], 'seed 0');
    const q = new Rng(42);
    assert.deepEqual([q.next(), q.normal(), q.int(1000), q.uniform(-1, 1)], [0.6606157226487994, 1.5517428767038857, 814, -0.84178869985044]);
    const shuffled = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    new Rng(42).shuffle(shuffled);
    assert.deepEqual(shuffled, [2, 8, 3, 4, 9, 7, 5, 0, 1, 6]);
    // And the steps are xoshiro128** as documented: an independent BigInt
    // implementation from the same state draws the same 100 numbers.
    const ref = [939911724n, 3948730756n, 321366731n, 3317318717n];
    const M = 0xffffffffn;
    const rot = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (32n - k))) & M;
    const xo = new Rng(42);
    for (let i = 0; i < 100; i++) {
      const want = (rot((ref[1] * 5n) & M, 7n) * 9n) & M;
      const t = (ref[1] << 9n) & M;
      ref[2] ^= ref[0]; ref[3] ^= ref[1]; ref[1] ^= ref[2]; ref[0] ^= ref[3]; ref[2] ^= t; ref[3] = rot(ref[3], 11n);
      assert.equal(xo.nextUint32(), Number(want), `draw ${i}`);
    }
    const s = new Rng(9);
    s.next();
    const state = s.getState();
    const x = [s.next(), s.normal(), s.int(10)];
    const t = new Rng(0);
    t.setState(state);
    assert.deepEqual([t.next(), t.normal(), t.int(10)], x, 'Rng state round trip');
  });

  it('lstmBias sets only the forget gate to one; parameter() names a trainable tensor', () => {
    assert.deepEqual(Array.from(lstmBias(2)), [0, 0, 1, 1, 0, 0, 0, 0]);
    const p = parameter('enc/kernel', [2, 3], new Float32Array(6));
    assert.equal(p.name, 'enc/kernel');
    assert.equal(p.requiresGrad, true);
    assert.deepEqual(p.shape, [2, 3]);
  });
});
