import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../src/engine/index.js';
import { makeBatch } from '../src/data/batching.js';
import type { ModelConfig } from '../src/model/config.js';
import { tinySetup } from './helpers/tiny.js';
import { kernelName } from './helpers/gradcheck.js';
import { Rng } from '../src/engine/rng.js';

// Whole-model finite-difference checks. Every architecture option appears:
// both cells, one and two layers, one-hot inputs and embeddings, one- and
// two-directional encoders (with their bridges), no attention and each
// attention type (with input feeding: the decoder's feed kernel), and
// dropout. For every parameter tensor the analytic gradient must exist and
// not be all zero (a parameter the backward forgets fails here), and sampled
// entries must match central differences: the largest gradients, random
// non-zero ones, and one whose gradient is zero (it must not move the loss).
const ARCHS: Partial<ModelConfig>[] = [
  { cell: 'lstm' },
  { cell: 'gru', embeddingDim: 6 },
  { cell: 'lstm', layers: 2, embeddingDim: 6 },
  { cell: 'gru', layers: 2, bidirectional: true },
  { cell: 'lstm', attention: 'dot', embeddingDim: 6 },
  { cell: 'gru', attention: 'dot', layers: 2 },
  { cell: 'lstm', attention: 'general', layers: 2, bidirectional: true },
  { cell: 'gru', attention: 'general', embeddingDim: 6 },
  { cell: 'lstm', attention: 'additive' },
  { cell: 'gru', attention: 'additive', bidirectional: true, layers: 2, embeddingDim: 6 },
  { cell: 'lstm', attention: 'general', embeddingDim: 6, layers: 2, dropout: 0.3 },
];

/**
 * The model computes in float32 (no float64 anywhere): the loss (≈ 2.5)
 * carries ~2e-7 of rounding, which a central difference with step 1e-2 turns
 * into ~1e-5 of noise, plus the step's O(eps²) truncation error. The worst
 * error measured over these configurations is ~25% of 5e-5 + 0.5% (on the
 * OpenBLAS, fallback and TypeScript kernels alike), and a wrong backward (a
 * missing term, a transposed weight) is off by tens of percent.
 */
const EPS = 1e-2;
const ATOL = 5e-5;
const RTOL = 5e-3;
const PICKS_LARGEST = 2;
const PICKS_RANDOM = 2;

for (const arch of ARCHS) {
  test(`model gradients match finite differences: ${JSON.stringify(arch)}`, () => {
    const { model, examples } = tinySetup(5, { latentDim: 6, ...arch }, 2);
    const batch = makeBatch(examples, [0, 1, 2, 3, 4]);
    assert.ok(new Set(examples.map((e) => e.src.length)).size > 1, 'the batch has padding');
    const dropout = (arch.dropout ?? 0) > 0;
    // Dropout masks are drawn from a generator re-seeded on every call, so every evaluation sees the same masks.
    const run = () => model.forward(batch, dropout ? { training: true, rng: new Rng(11) } : {});
    const params = model.parameters();
    const names = params.map((p) => p.name as string);
    if ((arch.attention ?? 'none') !== 'none') assert.ok(names.includes(`decoder/${arch.cell}_0/feed_kernel`), 'input feeding has its kernel');
    if (arch.bidirectional) assert.ok(names.some((n) => n.startsWith('bridge/')) && names.some((n) => n.endsWith('_reverse/kernel')));
    if (arch.embeddingDim) assert.ok(names.includes('encoder/embedding') && names.includes('decoder/embedding'));

    for (const p of params) p.zeroGrad();
    run().loss.backward();
    const rng = new Rng(5);
    const failures: string[] = [];
    let checked = 0, worst = 0;
    for (const p of params) {
      assert.ok(p.grad, `${p.name}: no gradient computed`);
      const grad = (p.grad as Float32Array).slice();
      assert.ok(grad.every(Number.isFinite), `${p.name}: non-finite gradient`);
      const nonZero = Array.from(grad.keys()).filter((i) => grad[i] !== 0);
      assert.ok(nonZero.length > 0, `${p.name}: the analytic gradient is identically zero`);
      const byMagnitude = [...nonZero].sort((a, b) => Math.abs(grad[b]) - Math.abs(grad[a]));
      const rest = byMagnitude.slice(PICKS_LARGEST);
      rng.shuffle(rest);
      const zeros = Array.from(grad.keys()).filter((i) => grad[i] === 0);
      const picks = [...byMagnitude.slice(0, PICKS_LARGEST), ...rest.slice(0, PICKS_RANDOM)];
      if (zeros.length) picks.push(zeros[rng.int(zeros.length)]);
      for (const i of picks) {
        const orig = p.data[i];
        const lossAt = (v: number): [number, number] => {
          p.data[i] = v;
          const actual = p.data[i]; // the float32 value really used
          const l = noGrad(() => run().loss.item());
          p.data[i] = orig;
          return [actual, l];
        };
        const [up, fUp] = lossAt(orig + EPS), [down, fDown] = lossAt(orig - EPS);
        const numeric = (fUp - fDown) / (up - down);
        const err = Math.abs(numeric - grad[i]);
        const bound = ATOL + RTOL * Math.max(Math.abs(numeric), Math.abs(grad[i]));
        worst = Math.max(worst, err / bound);
        checked++;
        if (!(err <= bound)) failures.push(`${p.name}[${i}]: analytic ${grad[i]} vs numeric ${numeric}`);
      }
    }
    if (process.env.S2S_GRADCHECK_VERBOSE) console.log(`${JSON.stringify(arch)}: ${params.length} tensors, ${checked} entries, worst ${(100 * worst).toFixed(1)}% of tolerance`);
    assert.deepEqual(failures, [], `${kernelName()} kernels`);
  });
}
