/**
 * The Transformer ops of the engine: values against straightforward
 * references (float64 loops, torch values for GELU and label smoothing) and
 * finite-difference gradient checks, masks, causal offsets and dropout
 * included.
 */
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import assert from 'node:assert/strict';
import { Tensor, ShapeError, noGrad } from '../src/engine/tensor.js';
import * as ops from '../src/engine/ops.js';
import { sinusoidalPositions } from '../src/engine/positions.js';
import { projectedCrossEntropy } from '../src/engine/output-loss.js';
import { erf, erfc, gelu } from '../src/engine/kernels/erf.js';
import { Rng } from '../src/engine/rng.js';
import { gradcheck, randomTensor, assertClose, kernelName } from './helpers/gradcheck.js';

const seeded = (seed: number): Rng => new Rng(seed);

describe('erf and GELU', () => {
  it('erf and erfc agree with libm to ~1e-13 relative, tails included', () => {
    const erfRef: [number, number][] = [[0.25, 0.2763263901682369], [1, 0.8427007929497149], [-1.7, -0.9837904585907745],
      [2.2, 0.9981371537020182], [3.1, 0.9999883513426328], [4.5, 0.9999999998033839]];
    for (const [x, e] of erfRef) assert.ok(Math.abs(erf(x) - e) <= 1e-14, `erf(${x}) = ${erf(x)}, expected ${e}`);
    const erfcRef: [number, number][] = [[2.2, 0.0018628462979818894], [3.1, 1.1648657367199589e-05], [4.5, 1.9661604415428873e-10], [6, 2.1519736712498916e-17]];
    for (const [x, e] of erfcRef) assert.ok(Math.abs(erfc(x) - e) <= 1e-12 * e, `erfc(${x}) = ${erfc(x)}, expected ${e}`);
    for (let x = -5; x <= 5; x += 0.37) assert.ok(Math.abs(erf(x) + erfc(x) - 1) < 1e-15, `erf + erfc = 1 at ${x}`);
    assert.equal(erf(0), 0);
    assert.equal(erf(40), 1);
    assert.equal(erf(-40), -1);
    assert.ok(Number.isNaN(erf(NaN)) && Number.isNaN(erfc(NaN)));
  });
  it('gelu matches torch.nn.functional.gelu (float64)', () => {
    const xs = [-6, -3, -1, -0.1, 0, 0.3, 1, 2.5, 5];
    const ref = [-5.919525869479969e-09, -0.00404969409489031, -0.15865525393145702, -0.0460172162722971, 0, 0.1853734266566858,
      0.841344746068543, 2.4844758366855597, 4.999998566742141];
    xs.forEach((x, i) => assert.ok(Math.abs(gelu(x) - ref[i]) <= 1e-13 * Math.max(1e-3, Math.abs(ref[i])), `gelu(${x}) = ${gelu(x)}, expected ${ref[i]}`));
    const t = ops.gelu(Tensor.from(xs));
    assertClose(t.data, Float32Array.from(ref), `ops.gelu (${kernelName()} kernels)`, 1e-6, 1e-7);
  });
  it(`gradcheck: gelu (${kernelName()} kernels)`, () => {
    const x = randomTensor(seeded(1), [3, 7], -3, 3);
    gradcheck('gelu', [x], () => ops.gelu(x), { eps: 1e-3 });
  });
});

describe('dropout masks', () => {
  it('Rng.keepMask draws exactly what rng.next() ≥ p would, and leaves the generator where they would', () => {
    for (const p of [0, 0.1, 0.5, 0.9]) {
      const a = new Rng(77), b = new Rng(77);
      const mask = a.keepMask(2049, p);
      for (let i = 0; i < mask.length; i++) assert.equal(mask[i], b.next() >= p ? 1 : 0, `p=${p} element ${i}`);
      assert.equal(a.next(), b.next());
    }
  });
  it('ops.dropout keeps the draws of one rng.next() per element', () => {
    const x = randomTensor(seeded(3), [7, 9], -1, 1, false);
    const y = ops.dropout(x, 0.3, new Rng(4), true);
    const r = new Rng(4);
    for (let i = 0; i < x.size; i++) assert.equal(y.data[i], r.next() >= 0.3 ? Math.fround(x.data[i] * Math.fround(1 / 0.7)) : 0);
  });
});

describe('linear with a fused activation', () => {
  for (const activation of ['none', 'relu', 'gelu'] as const) {
    for (const withBias of [true, false]) {
      it(`${activation}, ${withBias ? 'with' : 'without'} bias: matches matmul + add + activation, and gradcheck`, () => {
        const rng = seeded(2);
        const x = randomTensor(rng, [2, 3, 4]);
        const w = randomTensor(rng, [4, 5]);
        const b = withBias ? randomTensor(rng, [5]) : null;
        const got = noGrad(() => ops.linear(x, w, b, activation));
        assert.deepEqual(got.shape, [2, 3, 5]);
        const ref = noGrad(() => {
          let z = ops.matmul(x, w);
          if (b) z = ops.add(z, b);
          return activation === 'relu' ? ops.relu(z) : activation === 'gelu' ? ops.gelu(z) : z;
        });
        assertClose(got.data, ref.data, 'linear vs reference', 1e-5, 1e-6);
        // Away from relu's kink: shift the pre-activations by moving x slightly if needed is not necessary
        // with eps 1e-3 on random data of this size, but keep the check tight anyway.
        const inputs = b ? [x, w, b] : [x, w];
        gradcheck(`linear ${activation}`, inputs, () => ops.linear(x, w, b, activation), { eps: 1e-3 });
      });
    }
  }
  it('rejects mismatched shapes and unknown activations', () => {
    const x = Tensor.zeros([2, 3]);
    assert.throws(() => ops.linear(x, Tensor.zeros([4, 2]), null), /does not fit/);
    assert.throws(() => ops.linear(x, Tensor.zeros([3, 2]), Tensor.zeros([3])), /bias/);
    assert.throws(() => ops.linear(x, Tensor.zeros([3, 2]), null, 'tanh' as never), /unknown activation/);
  });
});

describe('layerNorm (fused kernel)', () => {
  it('matches the float64 formula', () => {
    const rng = seeded(3);
    const x = randomTensor(rng, [4, 6], -2, 2, false);
    const gain = randomTensor(rng, [6], 0.5, 1.5, false), bias = randomTensor(rng, [6], -1, 1, false);
    const y = ops.layerNorm(x, gain, bias, 1e-5);
    for (let r = 0; r < 4; r++) {
      let mu = 0, v = 0;
      for (let j = 0; j < 6; j++) mu += x.data[r * 6 + j] / 6;
      for (let j = 0; j < 6; j++) v += (x.data[r * 6 + j] - mu) ** 2 / 6;
      for (let j = 0; j < 6; j++) {
        const e = ((x.data[r * 6 + j] - mu) / Math.sqrt(v + 1e-5)) * gain.data[j] + bias.data[j];
        assert.ok(Math.abs(y.data[r * 6 + j] - e) < 1e-5, `row ${r} col ${j}`);
      }
    }
  });
  it('gradcheck w.r.t. input, gain and bias (and with only some of them requiring grad)', () => {
    const rng = seeded(4);
    const x = randomTensor(rng, [3, 2, 7], -2, 2);
    const gain = randomTensor(rng, [7], 0.5, 1.5);
    const bias = randomTensor(rng, [7]);
    gradcheck('layerNorm', [x, gain, bias], () => ops.layerNorm(x, gain, bias), { eps: 1e-3, atol: 3e-3 });
    const constGain = randomTensor(rng, [7], 0.5, 1.5, false);
    gradcheck('layerNorm x only', [x], () => ops.layerNorm(x, constGain, bias.detach()), { eps: 1e-3, atol: 3e-3 });
  });
});

describe('softmaxCrossEntropy with label smoothing', () => {
  const logits = (): Tensor => Tensor.from([0.5, -1, 2, 0.1, 1, 1, -2, 0.3, 0.2, 0.4, 0.6, -0.8], [3, 4], true);
  const targets = Int32Array.from([2, -1, 0]);
  it('matches torch.nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=ε)', () => {
    assert.ok(Math.abs(ops.softmaxCrossEntropy(logits(), targets, 0.1).item() - 0.9643870940012226) < 1e-6);
    assert.ok(Math.abs(ops.softmaxCrossEntropy(logits(), targets).item() - 0.8793870940012226) < 1e-6);
    assert.ok(Math.abs(ops.softmaxCrossEntropy(logits(), targets, 0).item() - 0.8793870940012226) < 1e-6);
  });
  it('ε = 0 is bit-identical to the unsmoothed loss and gradient', () => {
    const a = logits(), b = logits();
    const la = ops.softmaxCrossEntropy(a, targets);
    la.backward();
    const lb = ops.softmaxCrossEntropy(b, targets, 0);
    lb.backward();
    assert.equal(la.item(), lb.item());
    assert.deepEqual(Array.from(a.grad!), Array.from(b.grad!));
  });
  for (const eps of [0.1, 0.5, 1]) {
    it(`gradcheck ε=${eps}, ignored rows get no gradient`, () => {
      const x = randomTensor(seeded(5), [2, 3, 5], -2, 2);
      const t = Int32Array.from([4, -1, 0, 2, -100, 2]);
      const { analytic } = gradcheck(`xent ls=${eps}`, [x], () => ops.softmaxCrossEntropy(x, t, eps));
      for (const r of [1, 4]) for (let j = 0; j < 5; j++) assert.equal(analytic[0][r * 5 + j], 0);
    });
  }
  it('rejects ε outside [0, 1]', () => {
    assert.throws(() => ops.softmaxCrossEntropy(logits(), targets, -0.1), RangeError);
    assert.throws(() => ops.softmaxCrossEntropy(logits(), targets, 1.5), RangeError);
  });
});

describe(`projectedCrossEntropy: the output layer and loss fused (${kernelName()} kernels)`, () => {
  const n = 7, D = 5, V = 11;
  const targets = Int32Array.from([3, -1, 0, 10, 4, -1, 7]);
  /** The unfused chain on copies of the inputs: logits, loss, gradients of h, W, b for an upstream gradient `upstream`. */
  const chain = (h: Tensor, w: Tensor, b: Tensor | null, transposed: boolean, eps: number, upstream: number) => {
    const [hc, wc, bc] = [h, w, b].map((t) => (t ? new Tensor(t.data.slice(), t.shape, true) : null)) as [Tensor, Tensor, Tensor | null];
    const logits = transposed ? ops.matmul(hc, wc, false, true) : ops.linear(hc, wc, bc, 'none');
    const loss = ops.scale(ops.softmaxCrossEntropy(logits, targets, eps), upstream);
    loss.backward();
    const best = Array.from({ length: n }, (_, r) => {
      const row = Array.from(logits.data.subarray(r * V, (r + 1) * V));
      return row.indexOf(Math.max(...row));
    });
    return { loss: loss.item(), best, dh: hc.grad!, dw: wc.grad!, db: bc?.grad ?? null };
  };
  for (const transposed of [true, false]) {
    for (const chunkRows of [1, 3, undefined]) {
      for (const eps of [0, 0.1]) {
        it(`${transposed ? 'tied h·Wᵀ' : 'h·W + b'}, chunks of ${chunkRows ?? 'default'} rows, ε=${eps}: the chain's loss, argmax and gradients`, () => {
          const h = randomTensor(seeded(11), [n, D], -1, 1);
          const w = randomTensor(seeded(12), transposed ? [V, D] : [D, V], -1, 1);
          const b = transposed ? null : randomTensor(seeded(13), [V], -1, 1);
          const ref = chain(h, w, b, transposed, eps, 2.5);
          // Gradients already there are added to, an upstream gradient ≠ 1 scales.
          h.grad = new Float32Array(h.size).fill(0.25);
          w.grad = new Float32Array(w.size).fill(-0.5);
          const r = projectedCrossEntropy(h, w, targets, { transposed, bias: b, labelSmoothing: eps, chunkRows });
          const loss = ops.scale(r.loss, 2.5);
          loss.backward();
          assert.ok(Math.abs(loss.item() - ref.loss) < 1e-5, `loss ${loss.item()} vs ${ref.loss}`);
          assert.deepEqual(Array.from(r.predictions), ref.best);
          assertClose(h.grad!, ref.dh.map((g) => g + 0.25), 'dh', 1e-5, 1e-6);
          assertClose(w.grad!, ref.dw.map((g) => g - 0.5), 'dW', 1e-5, 1e-6);
          if (b) assertClose(b.grad!, ref.db!, 'db', 1e-5, 1e-6);
        });
      }
    }
    it(`gradcheck ${transposed ? 'tied' : 'with bias'}, ε=0.1, chunks of 2 rows`, () => {
      const h = randomTensor(seeded(21), [n, D], -1, 1);
      const w = randomTensor(seeded(22), transposed ? [V, D] : [D, V], -1, 1);
      const b = transposed ? null : randomTensor(seeded(23), [V], -1, 1);
      gradcheck('projectedCrossEntropy', b ? [h, w, b] : [h, w],
        () => projectedCrossEntropy(h, w, targets, { transposed, bias: b, labelSmoothing: 0.1, chunkRows: 2 }).loss);
    });
  }
  it('without gradients: the same loss and argmax, nothing recorded, a handed-over dh when the upstream gradient is 1', () => {
    const h = randomTensor(seeded(31), [n, D], -1, 1);
    const w = randomTensor(seeded(32), [V, D], -1, 1);
    const recorded = projectedCrossEntropy(h, w, targets, { transposed: true, labelSmoothing: 0.1, chunkRows: 2 });
    const quiet = noGrad(() => projectedCrossEntropy(h, w, targets, { transposed: true, labelSmoothing: 0.1, chunkRows: 2 }));
    assert.equal(quiet.loss.item(), recorded.loss.item());
    assert.deepEqual(quiet.predictions, recorded.predictions);
    assert.equal(quiet.loss.requiresGrad, false);
    recorded.loss.backward();
    const ref = chain(h, w, null, true, 0.1, 1);
    assertClose(h.grad!, ref.dh, 'dh', 1e-5, 1e-6);
  });
  it('rejects shapes that do not fit, out-of-range targets and bad options', () => {
    const h = randomTensor(seeded(41), [n, D], -1, 1, false);
    const w = randomTensor(seeded(42), [V, D], -1, 1, false);
    assert.throws(() => projectedCrossEntropy(h, w, targets), ShapeError); // [V, D] used untransposed
    assert.throws(() => projectedCrossEntropy(h, w, targets.subarray(1), { transposed: true }), ShapeError);
    assert.throws(() => projectedCrossEntropy(h, w, Int32Array.from([11, 0, 0, 0, 0, 0, 0]), { transposed: true }), ShapeError);
    assert.throws(() => projectedCrossEntropy(h, w, targets, { transposed: true, bias: Tensor.zeros([V]) }), ShapeError);
    assert.throws(() => projectedCrossEntropy(h, w, targets, { transposed: true, chunkRows: 0 }), RangeError);
    assert.throws(() => projectedCrossEntropy(h, w, targets, { transposed: true, labelSmoothing: 2 }), RangeError);
  });
});

describe('embedPositions and sinusoidalPositions', () => {
  it('sinusoidal table: even columns sin, odd columns cos of p / 10000^(2i/dim)', () => {
    const pe = sinusoidalPositions(7, 6);
    assert.deepEqual(pe.shape, [7, 6]);
    assert.equal(pe.requiresGrad, false);
    for (let p = 0; p < 7; p++) {
      for (let i = 0; i < 3; i++) {
        const a = p / Math.pow(10000, (2 * i) / 6);
        assert.ok(Math.abs(pe.data[p * 6 + 2 * i] - Math.sin(a)) < 1e-7);
        assert.ok(Math.abs(pe.data[p * 6 + 2 * i + 1] - Math.cos(a)) < 1e-7);
      }
    }
    const odd = sinusoidalPositions(3, 5);
    assert.ok(Math.abs(odd.data[2 * 5 + 4] - Math.sin(2 / Math.pow(10000, 4 / 5))) < 1e-7, 'odd width ends with a sin column');
  });
  it('value: table[id]·scale + positions[pos], negative ids give zero parts', () => {
    const table = Tensor.from([1, 2, 3, 4, 5, 6], [3, 2]);
    const pos = Tensor.from([10, 20, 30, 40], [2, 2]);
    const y = ops.embedPositions(table, Int32Array.from([2, 0, -1, 1]), 2, pos, Int32Array.from([0, 1, 1, -1]));
    assert.deepEqual(Array.from(y.data), [20, 32, 32, 44, 30, 40, 6, 8]);
  });
  it('gradcheck: learned positions, repeated ids and positions, padding', () => {
    const rng = seeded(6);
    const table = randomTensor(rng, [5, 4]);
    const pos = randomTensor(rng, [6, 4]);
    const ids = Int32Array.from([3, 1, 3, -1, 0, 4, 3]);
    const pids = Int32Array.from([0, 1, 2, 3, 0, 1, 5]);
    gradcheck('embedPositions', [table, pos], () => ops.embedPositions(table, ids, Math.sqrt(4), pos, pids));
  });
  it('gradcheck: constant (sinusoidal) positions get no gradient buffer', () => {
    const table = randomTensor(seeded(7), [4, 6]);
    const pe = sinusoidalPositions(5, 6);
    gradcheck('embedPositions sinusoidal', [table], () => ops.embedPositions(table, Int32Array.from([1, 2, 3, 1]), 0.7, pe, Int32Array.from([0, 1, 2, 3])));
    assert.equal(pe.grad, null);
  });
  it('rejects out-of-range ids and mismatched widths', () => {
    const table = Tensor.zeros([3, 2]), pos = Tensor.zeros([2, 2]);
    assert.throws(() => ops.embedPositions(table, Int32Array.of(3), 1, pos, Int32Array.of(0)), /id 3/);
    assert.throws(() => ops.embedPositions(table, Int32Array.of(0), 1, pos, Int32Array.of(2)), /position 2/);
    assert.throws(() => ops.embedPositions(table, Int32Array.of(0), 1, Tensor.zeros([2, 3]), Int32Array.of(0)), /width/);
  });
});

// ------------------------------------------------------------------ attention

interface Case {
  name: string;
  B: number; H: number; tq: number; tk: number; hd: number;
  keyMask?: number[];
  causal?: boolean;
}

/** float64 reference: per (b, h) scores, masks, softmax, weighted sum. */
function referenceAttention(q: Float32Array, k: Float32Array, v: Float32Array, c: Case, dropMask?: Float32Array): { out: Float64Array; probs: Float64Array } {
  const { B, H, tq, tk, hd } = c;
  const D = H * hd;
  const out = new Float64Array(B * tq * D), probs = new Float64Array(B * H * tq * tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < tq; i++) {
        const s = new Float64Array(tk).fill(-Infinity);
        for (let j = 0; j < tk; j++) {
          if (c.keyMask && !c.keyMask[b * tk + j]) continue;
          if (c.causal && j > i + tk - tq) continue;
          let d = 0;
          for (let x = 0; x < hd; x++) d += q[(b * tq + i) * D + h * hd + x] * k[(b * tk + j) * D + h * hd + x];
          s[j] = d / Math.sqrt(hd);
        }
        const max = Math.max(...s);
        if (max === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < tk; j++) sum += s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
        for (let j = 0; j < tk; j++) {
          const p = s[j] === -Infinity ? 0 : Math.exp(s[j] - max) / sum;
          const pi = ((b * H + h) * tq + i) * tk + j;
          probs[pi] = p;
          const w = dropMask ? p * dropMask[pi] : p;
          for (let x = 0; x < hd; x++) out[(b * tq + i) * D + h * hd + x] += w * v[(b * tk + j) * D + h * hd + x];
        }
      }
    }
  }
  return { out, probs };
}

const CASES: Case[] = [
  { name: 'one head, no masks', B: 2, H: 1, tq: 3, tk: 3, hd: 4 },
  { name: 'three heads, Tq≠Tk, key padding', B: 2, H: 3, tq: 2, tk: 4, hd: 2, keyMask: [1, 1, 1, 0, 1, 1, 0, 0] },
  { name: 'a sentence whose keys are all padding (fully masked rows)', B: 3, H: 2, tq: 2, tk: 3, hd: 3, keyMask: [1, 1, 0, 0, 0, 0, 1, 0, 1] },
  { name: 'causal self-attention with padding', B: 2, H: 2, tq: 4, tk: 4, hd: 3, causal: true, keyMask: [1, 1, 1, 1, 1, 1, 0, 0] },
  { name: 'causal with a key cache (Tq < Tk: offset Tk − Tq)', B: 2, H: 2, tq: 2, tk: 5, hd: 2, causal: true },
  { name: 'causal single query over a cache (Tq = 1 sees every key)', B: 2, H: 4, tq: 1, tk: 3, hd: 2, causal: true },
  { name: 'causal with Tq > Tk (early queries see nothing)', B: 1, H: 2, tq: 4, tk: 2, hd: 2, causal: true },
];

function inputs(c: Case, seed: number): [Tensor, Tensor, Tensor] {
  const rng = seeded(seed);
  const D = c.H * c.hd;
  return [randomTensor(rng, [c.B * c.tq, D], -1.5, 1.5), randomTensor(rng, [c.B * c.tk, D], -1.5, 1.5), randomTensor(rng, [c.B * c.tk, D])];
}

describe(`multiHeadAttention (${kernelName()} kernels)`, () => {
  CASES.forEach((c, ci) => {
    it(`${c.name}: output and weights match the float64 reference`, () => {
      const [q, k, v] = inputs(c, 10 + ci);
      const keyMask = c.keyMask ? Uint8Array.from(c.keyMask) : undefined;
      const { out, weights } = noGrad(() => ops.multiHeadAttention(q, k, v, { batch: c.B, heads: c.H, queryLen: c.tq, keyLen: c.tk, keyMask, causal: c.causal, returnWeights: true }));
      const ref = referenceAttention(q.data, k.data, v.data, c);
      assert.deepEqual(out.shape, [c.B * c.tq, c.H * c.hd]);
      assertClose(out.data, ref.out, 'out', 1e-5, 1e-6);
      assert.ok(weights);
      assertClose(weights, ref.probs, 'weights', 1e-5, 1e-7);
      for (let r = 0; r < c.B * c.H * c.tq; r++) {
        let s = 0, visible = false;
        for (let j = 0; j < c.tk; j++) s += weights[r * c.tk + j];
        for (let j = 0; j < c.tk; j++) visible ||= ref.probs[r * c.tk + j] > 0;
        assert.ok(visible ? Math.abs(s - 1) < 1e-5 : s === 0, `row ${r} sums to ${s}`);
      }
    });
    it(`${c.name}: gradcheck in q, k, v`, () => {
      const [q, k, v] = inputs(c, 10 + ci);
      const keyMask = c.keyMask ? Uint8Array.from(c.keyMask) : undefined;
      gradcheck(`attention ${c.name}`, [q, k, v], () => ops.multiHeadAttention(q, k, v, { batch: c.B, heads: c.H, queryLen: c.tq, keyLen: c.tk, keyMask, causal: c.causal }).out,
        { eps: 1e-3, atol: 3e-3 });
    });
  });
  it('fully masked rows give zero output and no gradient', () => {
    const c = CASES[2];
    const [q, k, v] = inputs(c, 30);
    const keyMask = Uint8Array.from(c.keyMask!);
    const { analytic } = gradcheck('attention masked rows', [q, k, v], () => ops.multiHeadAttention(q, k, v, { batch: c.B, heads: c.H, queryLen: c.tq, keyLen: c.tk, keyMask }).out, { eps: 1e-3 });
    const D = c.H * c.hd;
    // Sentence 1 has no real key: its queries, keys and values get nothing.
    for (let r = c.tq; r < 2 * c.tq; r++) for (let x = 0; x < D; x++) assert.equal(analytic[0][r * D + x], 0);
    for (let r = c.tk; r < 2 * c.tk; r++) for (let x = 0; x < D; x++) {
      assert.equal(analytic[1][r * D + x], 0);
      assert.equal(analytic[2][r * D + x], 0);
    }
    const out = noGrad(() => ops.multiHeadAttention(q, k, v, { batch: c.B, heads: c.H, queryLen: c.tq, keyLen: c.tk, keyMask }).out);
    for (let r = c.tq; r < 2 * c.tq; r++) for (let x = 0; x < D; x++) assert.equal(out.data[r * D + x], 0);
  });
  it('dropout on the probabilities: seeded, matches the reference with the same mask, gradcheck', () => {
    const c: Case = { name: 'dropout', B: 2, H: 2, tq: 3, tk: 4, hd: 2, keyMask: [1, 1, 1, 1, 1, 1, 1, 0], causal: true };
    const [q, k, v] = inputs(c, 31);
    const keyMask = Uint8Array.from(c.keyMask!);
    const opts = (rng: Rng) => ({ batch: c.B, heads: c.H, queryLen: c.tq, keyLen: c.tk, keyMask, causal: true, dropout: 0.3, rng, training: true, returnWeights: true });
    const a = noGrad(() => ops.multiHeadAttention(q, k, v, opts(new Rng(5))));
    const b = noGrad(() => ops.multiHeadAttention(q, k, v, opts(new Rng(5))));
    assert.deepEqual(Array.from(a.out.data), Array.from(b.out.data), 'same seed, same result');
    // The mask is one rng.next() per probability, in [b, h, i, j] order.
    const r = new Rng(5), n = c.B * c.H * c.tq * c.tk;
    const mask = new Float32Array(n);
    for (let i = 0; i < n; i++) mask[i] = r.next() >= 0.3 ? 1 / 0.7 : 0;
    const ref = referenceAttention(q.data, k.data, v.data, c, mask);
    assertClose(a.out.data, ref.out, 'dropout out', 1e-5, 1e-6);
    assertClose(a.weights!, ref.probs, 'weights are before dropout', 1e-5, 1e-7);
    const plain = noGrad(() => ops.multiHeadAttention(q, k, v, { ...opts(new Rng(5)), training: false }));
    assertClose(plain.out.data, referenceAttention(q.data, k.data, v.data, c).out, 'no dropout when not training', 1e-5, 1e-6);
    gradcheck('attention dropout', [q, k, v], () => ops.multiHeadAttention(q, k, v, opts(new Rng(5))).out, { eps: 1e-3, atol: 3e-3 });
  });
  it('composes: projections, attention, output projection and a loss (q = k = v source)', () => {
    const rng = seeded(32);
    const B = 2, T = 3, D = 4, H = 2;
    const x = randomTensor(rng, [B * T, D]);
    const wq = randomTensor(rng, [D, D]), wk = randomTensor(rng, [D, D]), wv = randomTensor(rng, [D, D]), wo = randomTensor(rng, [D, D]);
    const keyMask = Uint8Array.from([1, 1, 0, 1, 1, 1]);
    gradcheck('self-attention block', [x, wq, wk, wv, wo], () => {
      const { out } = ops.multiHeadAttention(ops.linear(x, wq, null), ops.linear(x, wk, null), ops.linear(x, wv, null), { batch: B, heads: H, queryLen: T, keyLen: T, keyMask, causal: true });
      return ops.linear(out, wo, null);
    }, { eps: 1e-3, atol: 3e-3 });
  });
  it('rejects shapes that do not fit', () => {
    const q = Tensor.zeros([6, 4]), k = Tensor.zeros([4, 4]);
    const base = { batch: 2, heads: 2, queryLen: 3, keyLen: 2 };
    assert.doesNotThrow(() => ops.multiHeadAttention(q, k, k, base));
    assert.throws(() => ops.multiHeadAttention(q, k, k, { ...base, heads: 3 }), /divisible/);
    assert.throws(() => ops.multiHeadAttention(q, k, k, { ...base, queryLen: 2 }), /q has 6 rows/);
    assert.throws(() => ops.multiHeadAttention(q, k, k, { ...base, keyLen: 3 }), /k and v/);
    assert.throws(() => ops.multiHeadAttention(q, k, Tensor.zeros([4, 2]), base), /equal width/);
    assert.throws(() => ops.multiHeadAttention(q, k, k, { ...base, keyMask: new Uint8Array(3) }), /keyMask/);
    assert.throws(() => ops.multiHeadAttention(q, k, k, { ...base, dropout: 1 }), RangeError);
  });
});

describe('an out-of-date native addon', () => {
  it('is reported as not loadable (naming what it lacks) instead of failing mid-run', () => {
    // A stand-in "addon" with only the kernels of an older build.
    const dir = mkdtempSync(join(tmpdir(), 's2s-stale-addon-'));
    const fake = join(dir, 'stale.cjs');
    writeFileSync(fake, 'module.exports = { info: () => "old", gemm() {}, softmaxRows() {} };\n');
    const index = pathToFileURL(fileURLToPath(new URL('../src/engine/kernels/index.js', import.meta.url))).href;
    const script = `import(${JSON.stringify(index)}).then((m) => { console.log(JSON.stringify({ native: m.loadNativeKernels() !== null, error: m.nativeLoadError(), active: m.kernels().name })); })`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, S2S_NATIVE_ADDON: fake, S2S_KERNELS: '' } });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { native: boolean; error: string; active: string };
    assert.equal(out.native, false);
    // auto falls back to the wasm kernels, or to the TypeScript ones without a wasm build.
    const wasmBuilt = existsSync(fileURLToPath(new URL('../wasm/s2s-kernels-mt.wasm', import.meta.url)));
    assert.equal(out.active, wasmBuilt ? 'wasm' : 'js');
    assert.match(out.error, /out of date \(no .*attentionForward.*\); rebuild it with `npm run build:native`/);
  });
});
