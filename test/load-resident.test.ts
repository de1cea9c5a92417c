/**
 * Loading a model is cheap and leaves it where the kernels want it (issue 13,
 * "first translation within 1 s"; "wasm ≥ 5× js one sentence at a time"):
 * a loaded bundle never draws initial weights (createModel(config, null)),
 * its weights are the file's, and on the wasm kernels every parameter lives
 * in the wasm memory, so translating stages activations only — never the
 * weights again (counted in bytes, no timing).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/engine/rng.js';
import { kernels, setKernels, loadWasmKernelsSync, wasmLoadError } from '../src/engine/kernels/index.js';
import { createModel } from '../src/model/model.js';
import { saveBundle, loadBundle, makeTranslator } from '../src/bundle/bundle.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';

/** Counts calls of every drawing method of Rng while `f` runs. */
function countDraws<T>(f: () => T): { result: T; draws: number } {
  const proto = Rng.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const names = ['next', 'uniform', 'normal', 'int', 'keepMask'];
  const saved = names.map((n) => proto[n]);
  let draws = 0;
  names.forEach((n, i) => {
    proto[n] = function (this: unknown, ...a: unknown[]) {
      draws++;
      return saved[i].apply(this, a);
    };
  });
  try {
    return { result: f(), draws };
  } finally {
    names.forEach((n, i) => (proto[n] = saved[i]));
  }
}

describe('loading a bundle', () => {
  test('draws no initial weights, and the weights are the file\'s', () => {
    const setup = tinySetup(12, { attention: 'general', embeddingDim: 8, bidirectional: true });
    const dir = mkdtempSync(join(tmpdir(), 's2s-load-'));
    try {
      saveBundle(dir, bundlePartsFor(setup));
      const { result: loaded, draws } = countDraws(() => loadBundle(dir));
      assert.equal(draws, 0, 'no Rng draws while loading');
      const want = new Map(setup.model.parameters().map((p) => [p.name, p.data]));
      for (const p of loaded.model.parameters()) assert.deepEqual(p.data, want.get(p.name), `${p.name} as saved`);
      const sources = setup.pairs.slice(0, 3).map((p) => p.source);
      assert.deepEqual(loaded.translator.translate(sources).map((t) => t.text), makeTranslator(bundlePartsFor(setup)).translate(sources).map((t) => t.text));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('createModel(config, null) draws nothing and is all zero; a seed still initialises', () => {
    const config = { srcVocabSize: 20, tgtVocabSize: 22, latentDim: 16, embeddingDim: 8, attention: 'general' as const };
    const { result: empty, draws } = countDraws(() => createModel(config, null));
    assert.equal(draws, 0);
    // Every matrix is zero (biases may hold constants, such as the LSTM forget gate's ones, which are not drawn).
    for (const p of empty.parameters().filter((q) => q.shape.length === 2)) assert.ok(p.data.every((v) => v === 0), `${p.name} is zero`);
    const { result: t, draws: tDraws } = countDraws(() => createModel({ ...config, arch: 'transformer', modelDim: 8, heads: 2, ffDim: 16, layers: 1 }, null));
    assert.equal(tDraws, 0);
    assert.ok(t.parameters().filter((p) => p.shape.length === 2).every((p) => p.data.every((v) => v === 0)));
    const seeded = createModel(config, 0);
    assert.ok(seeded.parameters().some((p) => p.data.some((v) => v !== 0)), 'seeded weights are drawn');
  });
});

const wasm = loadWasmKernelsSync();
describe('a model loaded on the wasm kernels', { skip: wasm ? false : `wasm kernels not built (${wasmLoadError()})` }, () => {
  test('keeps its parameters in the wasm memory: translating stages activations, not weights', () => {
    const W = wasm as NonNullable<typeof wasm>;
    const initial = kernels();
    const dir = mkdtempSync(join(tmpdir(), 's2s-load-'));
    try {
      const setup = tinySetup(12, { attention: 'general', embeddingDim: 32, latentDim: 64 });
      saveBundle(dir, bundlePartsFor(setup));
      setKernels(W);
      const { model, translator } = loadBundle(dir);
      const params = model.parameters();
      for (const p of params) assert.ok(W.contains(p.data), `${p.name} is in the wasm memory`);
      const weightBytes = params.reduce((n, p) => n + p.data.byteLength, 0);
      const sentence = [setup.pairs[0].source];
      const staged = (): number => {
        const before = W.counters.stagedBytes;
        translator.translate(sentence, { batchSize: 1, maxLength: 6 }); // an untrained model would run to the limit
        return W.counters.stagedBytes - before;
      };
      const first = staged(), second = staged();
      assert.equal(second, first, 'the same sentence stages the same bytes again');
      // Weights re-uploaded per call would stage the decoder's matrices once per step (7 steps here): more than weightBytes.
      assert.ok(second < weightBytes, `a translation staged ${second} bytes, less than the ${weightBytes} bytes of weights`);
    } finally {
      setKernels(initial);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
