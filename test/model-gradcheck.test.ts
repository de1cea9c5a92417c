import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../src/engine/index.js';
import { makeBatch } from '../src/data/batching.js';
import { tinySetup } from './helpers/tiny.js';
import { Rng } from '../src/engine/rng.js';

// Whole-model finite-difference checks: every parameter tensor of every
// architecture gets its analytic gradient compared at sampled entries.
const ARCHS = [
  { cell: 'lstm' as const },
  { cell: 'gru' as const, layers: 2, embeddingDim: 6 },
  { bidirectional: true, attention: 'additive' as const },
  { cell: 'gru' as const, bidirectional: true, attention: 'general' as const, layers: 2 },
  { attention: 'dot' as const, embeddingDim: 6 },
];

for (const arch of ARCHS) {
  test(`model gradients match finite differences: ${JSON.stringify(arch)}`, () => {
    const { model, examples } = tinySetup(5, { latentDim: 6, ...arch }, 2);
    const batch = makeBatch(examples, [0, 1, 2, 3, 4]);
    for (const p of model.parameters()) p.zeroGrad();
    model.forward(batch).loss.backward();
    const rng = new Rng(5);
    const eps = 1e-2;
    for (const p of model.parameters()) {
      const grad = (p.grad as Float32Array).slice();
      // Sample entries with a non-trivial gradient where possible (one-hot kernels are sparse).
      const candidates = Array.from(grad.keys()).filter((i) => Math.abs(grad[i]) > 1e-4);
      const picks = (candidates.length ? candidates : Array.from(grad.keys())).sort(() => rng.next() - 0.5).slice(0, 3);
      for (const i of picks) {
        const orig = p.data[i];
        const lossAt = (v: number): number => {
          p.data[i] = v;
          const l = noGrad(() => model.forward(batch).loss.item());
          p.data[i] = orig;
          return l;
        };
        const numeric = (lossAt(orig + eps) - lossAt(orig - eps)) / (2 * eps);
        const err = Math.abs(numeric - grad[i]);
        assert.ok(err <= 2e-3 + 5e-2 * Math.abs(numeric), `${p.name}[${i}]: analytic ${grad[i]} vs numeric ${numeric}`);
      }
    }
  });
}
