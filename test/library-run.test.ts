/**
 * The library does what the CLI does: train() with checkpoints in their own
 * directory, a stop signal and resume; evaluate(); exportBundle(); and the
 * CLI run with the same options trains the same model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train, type TrainRunOptions } from '../src/train/run.js';
import { evaluate } from '../src/eval/evaluate.js';
import { loadBundle, exportBundle, BundleError } from '../src/bundle/bundle.js';
import { ConfigError } from '../src/model/config.js';
import { DECODE_DEFAULTS } from '../src/decode/options.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Small enough to train in a few seconds on two cores. */
const TINY: TrainRunOptions = {
  samples: 300, latentDim: 16, embeddingDim: 8, attention: 'dot', bidirectional: false, batchSize: 32, epochs: 2,
  maxTargetLength: 40, examples: 2, seed: 5,
};
/** Two runs of the same options agree to within float32 rounding (they may run on different BLAS code paths). */
const LOSS_TOLERANCE = 1e-5;

test('train(): a run through the library, checkpoints in their own directory, epoch callbacks, examples', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-lib-'));
  const out = join(dir, 'model'), checkpointDir = join(dir, 'ckpt');
  const epochs: number[] = [];
  const logs: string[] = [];
  const r = await train({ ...TINY, out, checkpointDir, onEpoch: (rec, total) => void epochs.push(rec.epoch, total), onLog: (l) => void logs.push(l) });
  assert.deepEqual(epochs, [1, 2, 2, 2]);
  assert.equal(r.epochs, 2);
  assert.equal(r.interrupted, false);
  assert.equal(r.history.length, 2);
  assert.ok(r.steps > 0 && r.data.train > 0 && r.data.validation > 0, JSON.stringify(r.data));
  assert.equal(r.examples.length, 2);
  for (const e of r.examples) assert.equal(typeof e.translation, 'string');
  assert.ok(logs.some((l) => /^corpus <built-in>: \d+ pairs/.test(l)), logs.join('\n'));
  // The shipped folder holds no training state; the checkpoints are where they were asked to be.
  assert.ok(!existsSync(join(out, 'checkpoints')));
  assert.ok(existsSync(join(checkpointDir, 'LATEST')));
  assert.equal(r.checkpointDir, checkpointDir);
  assert.equal(loadBundle(out).history.length, 2);
});

test('train(): an aborted signal stops after a checkpoint; resume (with the checkpoint dir) finishes the run like an uninterrupted one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-lib-'));
  const whole = await train({ ...TINY, out: join(dir, 'whole') });
  const out = join(dir, 'stopped'), checkpointDir = join(dir, 'stopped-ckpt');
  const stop = new AbortController();
  const first = await train({ ...TINY, out, checkpointDir, signal: stop.signal, onBatch: (p) => { if (p.step === 3) stop.abort(); } });
  assert.equal(first.interrupted, true);
  assert.ok(first.steps >= 3 && first.steps < whole.steps, `${first.steps} of ${whole.steps}`);
  await assert.rejects(train({ resume: out }), (e: Error) => e instanceof ConfigError && /no checkpoint to resume from.*--checkpoint-dir/.test(e.message));
  const resumed = await train({ resume: out, checkpointDir });
  assert.equal(resumed.steps, whole.steps);
  assert.equal(resumed.history.length, whole.history.length);
  resumed.history.forEach((h, i) => {
    assert.ok(Math.abs(h.trainLoss - whole.history[i].trainLoss) <= LOSS_TOLERANCE * Math.abs(whole.history[i].trainLoss), `epoch ${i + 1} train loss ${h.trainLoss} vs ${whole.history[i].trainLoss}`);
  });
  // A new run into a folder that holds one is refused, naming the way to continue it.
  await assert.rejects(train({ ...TINY, out, checkpointDir }), /already holds a training run; continue it with `s2s train --resume .* --checkpoint-dir /);
});

test('the CLI with the same options trains the same model as train()', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-lib-'));
  const lib = await train({ ...TINY, epochs: 1, out: join(dir, 'lib') });
  const cli = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'train', '--out', join(dir, 'cli'), '--samples', '300', '--latent-dim', '16',
    '--embedding-dim', '8', '--attention', 'dot', '--no-bidirectional', '--batch-size', '32', '--epochs', '1', '--max-target-length', '40', '--examples', '2', '--seed', '5'],
  { encoding: 'utf8', cwd: root, timeout: 300_000 });
  assert.equal(cli.status, 0, cli.stderr);
  const cliHistory = loadBundle(join(dir, 'cli')).history;
  assert.equal(cliHistory.length, 1);
  assert.ok(Math.abs(cliHistory[0].trainLoss - lib.history[0].trainLoss) <= LOSS_TOLERANCE * lib.history[0].trainLoss);
  assert.equal(loadBundle(join(dir, 'cli')).config.train.seed, 5);
  // The CLI prints the examples train() returns.
  for (const e of lib.examples) assert.ok(cli.stderr.includes(`  ${e.source}\n`), cli.stderr);
});

test('train(): option values are checked like the command line\'s, naming the option', async () => {
  await assert.rejects(train({ latentDim: 0, out: join(mkdtempSync(join(tmpdir(), 's2s-lib-')), 'm') }), (e: Error) => e instanceof ConfigError && /train\(\) options: "latent-dim" must be an integer ≥ 1/.test(e.message));
  await assert.rejects(train({ data: '/nonexistent/pairs.tsv', out: join(mkdtempSync(join(tmpdir(), 's2s-lib-')), 'm') }), /\/nonexistent\/pairs.tsv: no such file/);
});

test('evaluate() scores a split as s2s eval does; exportBundle() ships a clean copy that translates the same', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-lib-'));
  const out = join(dir, 'model');
  await train({ ...TINY, epochs: 1, out });
  const r = evaluate({ model: out, data: 'builtin', split: 'validation', limit: 10 });
  assert.equal(r.sentences, 10);
  assert.equal(r.hypotheses.length, 10);
  assert.equal(r.pairs.length, 10);
  assert.ok(r.bleu.score >= 0 && r.bleu.score <= 100 && r.chrf.score >= 0 && r.chrf.score <= 100);
  assert.ok(r.exactMatch >= 0 && r.exactMatch <= 1);
  // A loaded bundle gives the same hypotheses (same kernels, same shapes: the same arithmetic).
  const again = evaluate({ model: loadBundle(out), data: 'builtin', split: 'validation', limit: 10, batchSize: DECODE_DEFAULTS.batchSize });
  assert.deepEqual(again.hypotheses, r.hypotheses);
  assert.throws(() => evaluate({ model: out, data: join(dir, 'missing.tsv') }), /missing.tsv: no such file/);

  // The training folder holds checkpoints; the export holds only the bundle files.
  assert.ok(existsSync(join(out, 'checkpoints')));
  const shipped = join(dir, 'shipped');
  const ex = exportBundle(out, shipped);
  assert.deepEqual(readdirSync(shipped).sort(), ex.files);
  assert.ok(ex.files.every((f) => /^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/.test(f)), ex.files.join());
  assert.equal(ex.files.length, 5);
  const sentences = r.pairs.slice(0, 10).map((p) => p.source);
  assert.deepEqual(loadBundle(shipped).translator.translate(sentences).map((t) => t.text), loadBundle(out).translator.translate(sentences).map((t) => t.text));
  // Exporting again over an export is fine; into a folder with other files it is refused.
  exportBundle(out, shipped);
  writeFileSync(join(dir, 'other.txt'), 'x');
  assert.throws(() => exportBundle(out, dir), (e: Error) => e instanceof BundleError && /not empty/.test(e.message));
});

test('exportBundle() writes parsed content, not bytes through links, and no path of the training machine', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-lib-'));
  const data = join(dir, 'secret-dir', 'pairs.tsv');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dirname(data));
  const { formatCorpusTsv, generateCorpus } = await import('../src/data/synthetic.js');
  writeFileSync(data, formatCorpusTsv(generateCorpus({ size: 200, seed: 4 })));
  const out = join(dir, 'model');
  await train({ ...TINY, data, samples: 'all', epochs: 1, out });
  // A hostile history.json: a link to a file outside the bundle.
  const secret = join(dir, 'secret.txt');
  writeFileSync(secret, 'do not ship');
  const { rmSync } = await import('node:fs');
  rmSync(join(out, 'history.json'));
  symlinkSync(secret, join(out, 'history.json'));
  const shipped = join(dir, 'shipped');
  // The link is refused (never followed), with a message naming it; nothing is written.
  assert.throws(() => exportBundle(out, shipped), (e: Error) => e instanceof BundleError && /history\.json: is a symbolic link/.test(e.message));
  assert.ok(!existsSync(shipped));
  rmSync(join(out, 'history.json'));
  writeFileSync(join(out, 'history.json'), JSON.stringify([{ epoch: 1, step: 2, trainLoss: 1, note: 'do not ship' }]));
  exportBundle(out, shipped);
  assert.ok(!readFileSync(join(shipped, 'history.json'), 'utf8').includes('do not ship'));
  const config = JSON.parse(readFileSync(join(shipped, 'config.json'), 'utf8'));
  assert.equal(config.data.corpus, 'pairs.tsv');
  assert.ok(!readFileSync(join(shipped, 'config.json'), 'utf8').includes('secret-dir'));
  // Scoring the shipped bundle without --data says where the missing name came from and what to pass.
  assert.throws(() => evaluate({ model: shipped, split: 'test', limit: 2 }), (e: Error) => e instanceof ConfigError && /pairs\.tsv: no such file \(the corpus recorded in the model bundle; pass --data/.test(e.message));
  assert.equal(evaluate({ model: shipped, data, split: 'test', limit: 2 }).sentences, 2);
});

test('the version bundles record is package.json\'s', async () => {
  const { S2S_VERSION } = await import('../src/bundle/bundle.js');
  assert.equal(S2S_VERSION, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
});
