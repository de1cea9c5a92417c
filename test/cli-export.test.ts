/** `s2s train --checkpoint-dir`, `--resume` with it, and `s2s export`: what to ship and what to keep for training. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function s2s(args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(root, 'bin', 's2s.js'), ...args], { encoding: 'utf8', cwd: root, timeout: 300_000 });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const TINY = ['--samples', '300', '--latent-dim', '16', '--embedding-dim', '8', '--attention', 'dot', '--no-bidirectional', '--batch-size', '32', '--max-target-length', '40', '--examples', '0'];

test('train --checkpoint-dir keeps training state out of the model folder; resume needs it; export writes only the bundle', () => {
  const dir = mkdtempSync(join(tmpdir(), 's2s-export-'));
  const out = join(dir, 'model'), ckpt = join(dir, 'state');
  const first = s2s(['train', ...TINY, '--epochs', '1', '--out', out, '--checkpoint-dir', ckpt]);
  assert.equal(first.code, 0, first.err);
  assert.ok(!existsSync(join(out, 'checkpoints')), 'no checkpoints in the model folder');
  assert.ok(existsSync(join(ckpt, 'LATEST')));

  const lost = s2s(['train', '--resume', out, '--epochs', '2']);
  assert.notEqual(lost.code, 0);
  assert.match(lost.err, /no checkpoint to resume from \(if the run was trained with --checkpoint-dir, give it again\)/);
  const resumed = s2s(['train', '--resume', out, '--checkpoint-dir', ckpt, '--epochs', '2']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.match(resumed.err, /resuming .*: epoch 2, batch 0/);
  assert.match(resumed.err, /trained 2 epochs/);

  const shipped = join(dir, 'shipped');
  const ex = s2s(['export', '--model', out, '--out', shipped]);
  assert.equal(ex.code, 0, ex.err);
  assert.match(ex.out, /wrote 5 files/);
  assert.deepEqual(readdirSync(shipped).filter((f) => !/^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/.test(f)), []);
  const a = s2s(['translate', '--model', out, 'I am happy.', 'Where is the cat?']);
  const b = s2s(['translate', '--model', shipped, 'I am happy.', 'Where is the cat?']);
  assert.equal(a.code, 0, a.err);
  assert.equal(b.out, a.out);
  const refused = s2s(['export', '--model', out, '--out', dir]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /not empty/);
});
