/**
 * --shared-vocab: one tokenizer (BPE merges learned on both sides together)
 * and one vocabulary for source and target, stored in the bundle as two equal
 * halves (so every loader, old or new, reads it), with tied embeddings when
 * the model has tables to tie; resume keeps it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareData, BUILTIN_CORPUS, readSplit } from '../src/train/prepare.js';
import { getPreset } from '../src/train/options.js';
import { BpeTokenizer, learnBpe } from '../src/data/bpe.js';
import { UNK_ID } from '../src/data/vocab.js';
import { train } from '../src/train/run.js';
import { loadBundle } from '../src/bundle/bundle.js';
import { averageCheckpoints, lastCheckpoints } from '../src/train/average.js';
import { MODEL_DEFAULTS } from '../src/model/config.js';

const base = { ...getPreset('demo').data, level: 'bpe' as const, bpeMerges: 200, sharedVocab: true };

test('prepareData with sharedVocab: one BPE learned on sources and targets together, one vocabulary for both sides', () => {
  const shared = prepareData(BUILTIN_CORPUS, base);
  assert.equal(shared.tokenizers.source, shared.tokenizers.target);
  assert.equal(shared.vocabs.source, shared.vocabs.target);
  const train = readSplit(BUILTIN_CORPUS, base).split.train;
  const joint = new BpeTokenizer(learnBpe([...train.map((p) => p.source), ...train.map((p) => p.target)], { merges: 200 }));
  assert.deepEqual(shared.tokenizers.source.toJSON(), joint.toJSON());
  // Both languages' pieces are in the one vocabulary: no training token is unknown on either side.
  for (const ex of shared.examples.train) assert.ok(!ex.src.includes(UNK_ID) && !ex.tgt.includes(UNK_ID));
  const separate = prepareData(BUILTIN_CORPUS, { ...base, sharedVocab: false });
  assert.ok(shared.vocabs.source.size > separate.vocabs.source.size && shared.vocabs.source.size > separate.vocabs.target.size);
  assert.ok(shared.vocabs.source.size < separate.vocabs.source.size + separate.vocabs.target.size, 'pieces common to both sides are counted once');
  // Words and characters share too.
  for (const level of ['word', 'char'] as const) {
    const p = prepareData(BUILTIN_CORPUS, { ...base, level });
    assert.equal(p.vocabs.source, p.vocabs.target);
    for (const ex of p.examples.train) assert.ok(!ex.src.includes(UNK_ID) && !ex.tgt.includes(UNK_ID), level);
  }
});

test('train({ sharedVocab }): the bundle stores one vocabulary on both sides, ties embeddings, translates and resumes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-shared-'));
  const out = join(dir, 'model');
  const opts = {
    out, sharedVocab: true, level: 'bpe' as const, bpeMerges: 150, samples: 300, latentDim: 16, embeddingDim: 16, attention: 'dot' as const,
    bidirectional: false, batchSize: 32, epochs: 1, maxTargetLength: 40, examples: 1, seed: 5,
  };
  const logs: string[] = [];
  const r = await train({ ...opts, onLog: (l) => void logs.push(l) });
  assert.ok(logs.some((l) => /vocabulary: shared \d+/.test(l)), logs.join('\n'));
  const vocab = JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8'));
  assert.deepEqual(vocab.source, vocab.target);
  const b = loadBundle(out);
  assert.equal(b.config.data.sharedVocab, true);
  assert.deepEqual(b.config.tokenizers.source, b.config.tokenizers.target);
  assert.equal(b.config.model.srcVocabSize, b.config.model.tgtVocabSize);
  // Tied embeddings unless told otherwise, once model configs have the field (the model branch adds it).
  if ('tieEmbeddings' in MODEL_DEFAULTS) {
    assert.equal((b.config.model as { tieEmbeddings?: boolean }).tieEmbeddings, true);
    const untied = await train({ ...opts, out: join(dir, 'untied'), tieEmbeddings: false } as Parameters<typeof train>[0]);
    assert.equal((loadBundle(untied.out).config.model as { tieEmbeddings?: boolean }).tieEmbeddings, false);
  }
  assert.equal(typeof b.translator.translate(['I am happy.'])[0].text, 'string');
  assert.equal(r.examples.length, 1);
  // Resume (one more epoch) reuses the stored vocabulary and tokenizer.
  const resumed = await train({ resume: out, epochs: 2 });
  assert.equal(resumed.epochs, 2);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8')), vocab);
});

test('a Transformer with the whole recipe (shared vocabulary, label smoothing, noam warmup, token batches, accumulation, β2 0.98) trains, resumes and averages', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-shared-tf-'));
  const out = join(dir, 'tf');
  const opts = {
    out, arch: 'transformer', modelDim: 16, heads: 2, ffDim: 32, layers: 1, dropout: 0.1, sharedVocab: true, level: 'bpe' as const, bpeMerges: 100,
    samples: 200, maxTargetLength: 40, labelSmoothing: 0.1, lrSchedule: 'noam' as const, warmupSteps: 4, lr: 0.005, optimizer: 'adam' as const,
    adamBeta2: 0.98, batchTokens: 400, accumulate: 2, epochs: 1, checkpointEvery: 1, keepCheckpoints: 2, examples: 0, seed: 3,
  };
  const r = await train(opts as Parameters<typeof train>[0]);
  assert.ok(r.steps >= 2, `${r.steps} updates`);
  const b = loadBundle(out);
  assert.equal((b.config.model as { arch?: string }).arch, 'transformer');
  assert.equal((b.config.model as { tieEmbeddings?: boolean }).tieEmbeddings, true);
  assert.equal(b.history[0].learningRate, 0.005 * Math.min(r.steps ** -0.5, r.steps * 4 ** -1.5) * 2);
  const resumed = await train({ resume: out, epochs: 2 });
  assert.equal(resumed.epochs, 2);
  const avg = averageCheckpoints(lastCheckpoints(out, 2), join(dir, 'avg'));
  assert.equal(typeof loadBundle(avg.out).translator.translate(['I am happy.'])[0].text, 'string');
});
