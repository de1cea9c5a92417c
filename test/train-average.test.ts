/**
 * Checkpoint averaging: --keep-checkpoints keeps the last K step checkpoints,
 * `averageCheckpoints` / `s2s average` writes their elementwise mean as a
 * bundle that loads and translates, and refuses checkpoints of different models.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { train, type TrainRunOptions } from '../src/train/run.js';
import { averageCheckpoints, lastCheckpoints } from '../src/train/average.js';
import { listCheckpoints } from '../src/train/checkpoint.js';
import { loadBundle, BundleError } from '../src/bundle/bundle.js';
import { ConfigError } from '../src/errors.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const TINY: TrainRunOptions = {
  samples: 200, latentDim: 16, embeddingDim: 8, attention: 'dot', bidirectional: false, batchSize: 32, epochs: 2,
  maxTargetLength: 40, examples: 0, seed: 5, checkpointEvery: 2, keepCheckpoints: 3,
};

test('--keep-checkpoints K keeps the last K; averaging two is their elementwise mean, a bundle that loads and translates', async () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-avg-'));
  const out = join(dir, 'run');
  await train({ ...TINY, out });
  const kept = listCheckpoints(join(out, 'checkpoints'));
  assert.equal(kept.length, 3, readdirSync(join(out, 'checkpoints')).join(' '));
  const last2 = lastCheckpoints(out, 2);
  assert.deepEqual(last2, kept.slice(-2));
  assert.deepEqual(lastCheckpoints(join(out, 'checkpoints'), 2), last2, 'the checkpoint folder itself works too');
  const [a, b] = last2.map((d) => loadBundle(d));
  const avgDir = join(dir, 'avg');
  const r = averageCheckpoints(last2, avgDir);
  assert.equal(r.parameters, a.model.parameterCount());
  const avg = loadBundle(avgDir);
  let differ = 0;
  avg.model.parameters().forEach((p, i) => {
    const pa = a.model.parameters()[i].data, pb = b.model.parameters()[i].data;
    for (let j = 0; j < p.size; j++) {
      // The mean of two float32s, computed in double and rounded once.
      assert.equal(p.data[j], Math.fround((pa[j] + pb[j]) / 2), `${p.name}[${j}]`);
      if (pa[j] !== pb[j]) differ++;
    }
  });
  assert.ok(differ > 0, 'the two checkpoints differ');
  assert.deepEqual(avg.config, b.config, 'config of the last input');
  assert.equal(typeof avg.translator.translate(['I am happy.'])[0].text, 'string');
  // Writing again over an earlier average is fine; into a foreign folder or over an input is not.
  averageCheckpoints(kept, avgDir);
  assert.throws(() => averageCheckpoints(kept, out), (e: Error) => e instanceof ConfigError && /not empty \(checkpoints/.test(e.message));
  assert.throws(() => averageCheckpoints(kept, kept[0]), /is one of the inputs/);
  assert.throws(() => lastCheckpoints(out, 4), /3 checkpoints, fewer than --last 4 \(train with --keep-checkpoints 4/);
  assert.throws(() => averageCheckpoints([], join(dir, 'none')), /no checkpoints or bundles given/);

  // A different model (another size) cannot be averaged in.
  const other = await train({ ...TINY, latentDim: 8, epochs: 1, out: join(dir, 'other') });
  assert.throws(() => averageCheckpoints([other.out, kept[2]], join(dir, 'mixed')), (e: Error) => e instanceof BundleError && /different model configs/.test(e.message));
  assert.ok(!existsSync(join(dir, 'mixed')), 'nothing written on failure');

  // The CLI: --last K of a run.
  const cliOut = join(dir, 'cli-avg');
  const cli = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'average', '--last', '2', '--out', cliOut, out], { encoding: 'utf8', cwd: root, timeout: 120_000 });
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /^averaged 2 \(.*step-\d+.*\): [\d,]+ weights → /);
  // The same two checkpoints as the library call above (whose result `avg` still holds).
  loadBundle(cliOut).model.parameters().forEach((p, i) => assert.deepEqual(p.data, avg.model.parameters()[i].data));
  const bad = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), 'average', '--last', '2', '--out', join(dir, 'x'), out, out], { encoding: 'utf8', cwd: root, timeout: 120_000 });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--last 2 takes one run folder, got 2/);
});
