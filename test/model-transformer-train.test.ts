/**
 * The Transformer through the training front ends: the model flags in the
 * CLI table, a YAML file and train() options; a run whose bundle loads as a
 * Transformer and translates; an interrupted run resumed from its checkpoint
 * ends like an uninterrupted one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train, type TrainRunOptions } from '../src/train/run.js';
import { readConfigFile, resolveTraining } from '../src/train/config.js';
import { loadBundle } from '../src/bundle/bundle.js';
import { Transformer } from '../src/model/transformer.js';
import { ConfigError } from '../src/model/config.js';

const TINY: TrainRunOptions = {
  arch: 'transformer', modelDim: 16, heads: 2, ffDim: 32, layers: 1, decoderLayers: 2, dropout: 0.1, attentionDropout: 0.1,
  activation: 'gelu', samples: 200, batchSize: 32, epochs: 2, maxTargetLength: 40, examples: 1, seed: 5, optimizer: 'adam', lr: 0.003,
};

test('model flags: YAML keys and train() options reach the model config; bad values name the flag', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-tfm-'));
  try {
    const yaml = join(dir, 'run.yaml');
    writeFileSync(yaml, 'arch: transformer\nmodel-dim: 64\nheads: 8\nff-dim: 128\nencoder-layers: 2\ndecoder-layers: 1\npost-norm: true\npositions: learned\nactivation: gelu\nattention-dropout: 0.1\ntie-embeddings: false\n');
    const r = resolveTraining(readConfigFile(yaml), { heads: 4 });
    assert.deepEqual(
      { arch: r.preset.model.arch, modelDim: r.preset.model.modelDim, heads: r.preset.model.heads, ffDim: r.preset.model.ffDim, encoderLayers: r.preset.model.encoderLayers, decoderLayers: r.preset.model.decoderLayers, postNorm: r.preset.model.postNorm, positions: r.preset.model.positions, activation: r.preset.model.activation, attentionDropout: r.preset.model.attentionDropout, tieEmbeddings: r.preset.model.tieEmbeddings },
      { arch: 'transformer', modelDim: 64, heads: 4, ffDim: 128, encoderLayers: 2, decoderLayers: 1, postNorm: true, positions: 'learned', activation: 'gelu', attentionDropout: 0.1, tieEmbeddings: false },
    );
    assert.throws(() => resolveTraining({}, { arch: 'lstm' }), (e: Error) => e instanceof ConfigError && e.message.includes('"arch"'));
    assert.throws(() => resolveTraining({}, { positions: 'rotary' }), (e: Error) => e instanceof ConfigError && e.message.includes('"positions"'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('train() with arch transformer: the bundle is a Transformer that translates; a stopped run resumes to the same result', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-tfm-'));
  try {
    const whole = await train({ ...TINY, out: join(dir, 'whole') });
    assert.equal(whole.history.length, 2);
    assert.ok(whole.history[1].trainLoss < whole.history[0].trainLoss, 'the loss falls');
    const bundle = loadBundle(join(dir, 'whole'));
    assert.ok(bundle.model instanceof Transformer);
    assert.equal(bundle.config.model.decoderLayers, 2);
    const t = bundle.translator.translate(['I am happy.'], { beam: 2, attention: true })[0];
    assert.equal(typeof t.text, 'string');
    assert.ok(t.attention && t.attention.weights.length === t.attention.outputTokens.length);

    const out = join(dir, 'stopped');
    const stop = new AbortController();
    const first = await train({ ...TINY, out, signal: stop.signal, onBatch: (p) => { if (p.step === 3) stop.abort(); } });
    assert.equal(first.interrupted, true);
    const resumed = await train({ resume: out });
    assert.equal(resumed.steps, whole.steps);
    resumed.history.forEach((h, i) => {
      assert.ok(Math.abs(h.trainLoss - whole.history[i].trainLoss) <= 1e-5 * Math.abs(whole.history[i].trainLoss), `epoch ${i + 1} train loss ${h.trainLoss} vs ${whole.history[i].trainLoss}`);
    });
    const a = loadBundle(out).model.parameters(), b = bundle.model.parameters();
    a.forEach((p, i) => {
      for (let j = 0; j < p.size; j++) assert.ok(Math.abs(p.data[j] - b[i].data[j]) <= 1e-4, `${p.name}[${j}] ${p.data[j]} vs ${b[i].data[j]}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
