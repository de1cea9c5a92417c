import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '../src/engine/index.js';
import { makeBatch } from '../src/data/batching.js';
import { saveBundle, loadBundle, makeTranslator, BundleError } from '../src/bundle/bundle.js';
import { saveCheckpoint, loadLatestCheckpoint } from '../src/train/checkpoint.js';
import { Trainer, type TrainerState } from '../src/train/trainer.js';
import { Seq2Seq } from '../src/model/seq2seq.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';


const tmp = (): string => mkdtempSync(join(tmpdir(), 's2s-bundle-'));

for (const arch of [{}, { cell: 'gru' as const, layers: 2 }, { embeddingDim: 8, layers: 2, dropout: 0.2 }, { bidirectional: true, attention: 'additive' as const }, { cell: 'gru' as const, attention: 'general' as const, bidirectional: true, layers: 2 }, { attention: 'dot' as const, embeddingDim: 8 }]) {
  test(`bundle round trip gives identical translations and loss (${JSON.stringify(arch)})`, () => {
    const setup = tinySetup(10, arch);
    const parts = bundlePartsFor(setup, { maxTargetLength: 40 });
    const dir = tmp();
    saveBundle(dir, parts);
    const loaded = loadBundle(dir);
    const sources = setup.pairs.map((p) => p.source);
    const before = makeTranslator(parts).translate(sources).map((t) => t.text);
    const after = loaded.translator.translate(sources).map((t) => t.text);
    assert.deepEqual(after, before);
    const batch = makeBatch(setup.examples, [0, 1, 2, 3]);
    noGrad(() => assert.equal(loaded.model.forward(batch).loss.item(), setup.model.forward(batch).loss.item()));
    rmSync(dir, { recursive: true });
  });
}

test('corrupted bundles are rejected with a clear error', () => {
  const setup = tinySetup(6);
  const dir = tmp();
  saveBundle(dir, bundlePartsFor(setup, { maxTargetLength: 40 }));
  const blob = readdirSync(dir).find((f) => f.endsWith('.bin')) as string;
  const blobPath = join(dir, blob);
  const original = readFileSync(blobPath);

  // A flipped byte.
  const flipped = Buffer.from(original);
  flipped[flipped.length >> 1] ^= 0x40;
  writeFileSync(blobPath, flipped);
  assert.throws(() => loadBundle(dir), (e: Error) => e instanceof BundleError && /checksum/.test(e.message));

  // A truncated file.
  writeFileSync(blobPath, original);
  truncateSync(blobPath, original.length - 10);
  assert.throws(() => loadBundle(dir), (e: Error) => e instanceof BundleError && /truncated/.test(e.message));
  writeFileSync(blobPath, original);
  loadBundle(dir); // intact again

  // An unknown format version.
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configPath, 'utf8'));
  writeFileSync(configPath, JSON.stringify({ ...config, version: 99 }));
  assert.throws(() => loadBundle(dir), /version 99 is not supported/);

  // Vocabulary / shape mismatch.
  writeFileSync(configPath, JSON.stringify({ ...config, model: { ...config.model, tgtVocabSize: config.model.tgtVocabSize + 1 } }));
  assert.throws(() => loadBundle(dir), /vocabulary sizes/);
  writeFileSync(configPath, JSON.stringify({ ...config, model: { ...config.model, latentDim: 16 } }));
  assert.throws(() => loadBundle(dir), /has shape \[.*\] but the model expects/);

  // Not JSON.
  writeFileSync(configPath, '{"format": "s2s-model", ');
  assert.throws(() => loadBundle(dir), /config\.json: invalid JSON/);
  rmSync(dir, { recursive: true });
  assert.throws(() => loadBundle(dir), /not a directory/);
});

async function trainSteps(stopAt: number | null, dir: string | null): Promise<{ weights: Float32Array[]; state: TrainerState }> {
  const setup = tinySetup(40, { layers: 2, embeddingDim: 8, dropout: 0.1 }, 11);
  const parts = bundlePartsFor(setup, { maxTargetLength: 40 });
  const options = { epochs: 3, batchSize: 8, optimizer: 'adam' as const, learningRate: 0.01, clipNorm: 1, seed: 4, checkpointEvery: 3 };
  const trainer: Trainer = new Trainer(setup.model, { train: setup.examples, validation: setup.examples.slice(0, 5) }, options, {
    onCheckpoint: (st) => {
      if (dir) saveCheckpoint(dir, { ...parts, history: st.history }, st);
    },
    shouldStop: (): boolean => stopAt !== null && trainer.state.step >= stopAt,
  });
  const state = await trainer.run();
  return { weights: setup.model.parameters().map((p) => p.data.slice()), state };
}

test('a run stopped at any step and resumed from its checkpoint ends bit-identical to an uninterrupted run', async () => {
  const reference = await trainSteps(null, null);
  for (const stopAt of [1, 7, 15]) {
    const dir = tmp();
    await trainSteps(stopAt, dir);
    const ckpt = loadLatestCheckpoint(dir);
    assert.ok(ckpt);
    assert.equal(ckpt.state.step, stopAt);
    const setup = tinySetup(40, { layers: 2, embeddingDim: 8, dropout: 0.1 }, 11);
    const model = ckpt.bundle.model as Seq2Seq;
    const trainer = new Trainer(model, { train: setup.examples, validation: setup.examples.slice(0, 5) }, {
      epochs: 3, batchSize: 8, optimizer: 'adam', learningRate: 0.01, clipNorm: 1, seed: 4, checkpointEvery: 3,
    });
    trainer.restore(ckpt.state);
    const final = await trainer.run();
    assert.equal(final.step, reference.state.step);
    model.parameters().forEach((p, i) => assert.deepEqual(p.data, reference.weights[i], `parameter ${p.name} differs after resuming at step ${stopAt}`));
    assert.deepEqual(final.history.map((h) => h.trainLoss), reference.state.history.map((h) => h.trainLoss));
    rmSync(dir, { recursive: true });
  }
});
