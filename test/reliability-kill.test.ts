/**
 * Training survives being killed. `s2s train` is SIGKILLed at seeded
 * moments counted in events, not time — at the n-th announcement of a seeded
 * step of a checkpoint write (the S2S_TEST_SLOW_CHECKPOINT_MS hook pauses and
 * announces each step), or a few milliseconds after the n-th new checkpoint
 * (somewhere in the training steps between saves) — and resumed with
 * `--resume` until it completes. After every kill the latest checkpoint must
 * load and must not be older than before; at the end the weights (checkpoint
 * and bundle) must be bit-identical to an uninterrupted run on the same
 * kernels. Where exactly a kill lands, and so how many land before training
 * ends, depends on the machine's speed: the count is reported, and only
 * asserted to be non-zero (with at least one kill inside a save).
 *
 * Also: an unwritable --out is refused before training, and a full disk
 * during a checkpoint write stops training without harming the previous
 * checkpoint (S2S_TEST_FAIL_WRITE injects ENOSPC).
 */
import { Rng } from '../src/engine/rng.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBundle } from '../src/bundle/bundle.js';
import { saveCheckpoint, loadLatestCheckpoint, checkpointsDir, type LoadedCheckpoint } from '../src/train/checkpoint.js';
import { Trainer } from '../src/train/trainer.js';
import type { Tensor } from '../src/engine/index.js';
import { tinySetup, bundlePartsFor } from './helpers/tiny.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 's2s.js');

/** Small but complete: adam slots, dropout randomness (embeddings), 3 epochs of 23 batches, a checkpoint every 2 steps. */
const TRAIN_ARGS = [
  '--samples', '400', '--latent-dim', '24', '--embedding-dim', '12', '--dropout', '0.1', '--optimizer', 'adam',
  '--epochs', '3', '--batch-size', '16', '--checkpoint-every', '2', '--seed', '3', '--examples', '0',
];
/** The same for a Transformer (issue 12): dropout and attention dropout, Adam, post-LN blocks with learned positions. */
const TRANSFORMER_ARGS = [
  '--samples', '400', '--arch', 'transformer', '--model-dim', '16', '--heads', '2', '--ff-dim', '32', '--layers', '1', '--post-norm', '--positions', 'learned',
  '--dropout', '0.1', '--attention-dropout', '0.1', '--optimizer', 'adam',
  '--epochs', '3', '--batch-size', '16', '--checkpoint-every', '2', '--seed', '3', '--examples', '0',
];
const KILL_SEED = 0x5eed2;
const KILL_ATTEMPTS = 13;

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, S2S_KERNELS: 'js', ...extra };
  for (const k of ['S2S_TEST_SLOW_CHECKPOINT_MS', 'S2S_TEST_FAIL_WRITE']) if (!(k in extra)) delete env[k];
  return env;
}


function s2sSync(args: string[], env = cleanEnv()): { code: number; err: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: root, env, timeout: 120_000 });
  return { code: r.status ?? -1, err: r.stderr };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 's2s-kill-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const latestOf = (dir: string): string | null => {
  try {
    return readFileSync(join(checkpointsDir(dir), 'LATEST'), 'utf8').trim();
  } catch {
    return null;
  }
};

function bytesOf(params: readonly Tensor[]): Buffer[] {
  return params.map((p) => Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength));
}

/** Weights, optimizer slots and trainer state must match bit for bit (wall-clock fields aside). */
function assertSameRun(actual: LoadedCheckpoint, expected: LoadedCheckpoint, what: string): void {
  assert.equal(actual.path.split('/').pop(), expected.path.split('/').pop(), `${what}: final checkpoint name`);
  const a = bytesOf(actual.bundle.model.parameters()), e = bytesOf(expected.bundle.model.parameters());
  a.forEach((buf, i) => assert.ok(buf.equals(e[i]), `${what}: parameter ${actual.bundle.model.parameters()[i].name} differs from the uninterrupted run`));
  const untimed = (st: LoadedCheckpoint['state']) => ({
    ...st,
    epochSeconds: 0,
    elapsedSeconds: 0,
    history: st.history.map((h) => ({ ...h, seconds: 0, tokensPerSecond: 0 })),
    optimizer: st.optimizer ? { ...st.optimizer, slots: null } : null,
  });
  assert.deepEqual(untimed(actual.state), untimed(expected.state), `${what}: trainer state`);
  const slotsA = actual.state.optimizer?.slots ?? {}, slotsE = expected.state.optimizer?.slots ?? {};
  assert.deepEqual(Object.keys(slotsA).sort(), Object.keys(slotsE).sort());
  for (const [param, slots] of Object.entries(slotsE)) {
    for (const [slot, data] of Object.entries(slots)) {
      const got = slotsA[param][slot];
      assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength)), `${what}: optimizer slot ${param}#${slot}`);
    }
  }
}

function assertSameBundle(dir: string, refDir: string, what: string): void {
  const got = loadBundle(dir), want = loadBundle(refDir);
  const a = bytesOf(got.model.parameters()), e = bytesOf(want.model.parameters());
  a.forEach((buf, i) => assert.ok(buf.equals(e[i]), `${what}: bundle parameter ${got.model.parameters()[i].name} differs from the uninterrupted run`));
  assert.deepEqual(got.history.map((h) => [h.epoch, h.step, h.trainLoss, h.valLoss]), want.history.map((h) => [h.epoch, h.step, h.trainLoss, h.valLoss]));
}

const referenceDirs = new Map<readonly string[], Promise<string>>();
/** The uninterrupted run of `args` (shared by the tests of this file). */
function reference(args: readonly string[] = TRAIN_ARGS): Promise<string> {
  let dir = referenceDirs.get(args);
  if (!dir) {
    dir = (async () => {
      const out = join(tmp(), 'model');
      const r = s2sSync(['train', ...args, '--out', out]);
      assert.equal(r.code, 0, r.err);
      return out;
    })();
    referenceDirs.set(args, dir);
  }
  return dir;
}

interface KillOutcome {
  /** 'between saves', or where the kill landed in a save (the pause announced last). */
  landed: string;
  killed: boolean;
  code: number | null;
  stderr: string;
}

/** Save steps the slow-save hook announces, plus any step of a save of the --out bundle itself. */
const SAVE_STEPS = ['half-written', 'before-rename', 'checkpoint-written', 'checkpoint-renamed', 'checkpoint-published', 'out-bundle'] as const;
type KillPlan = { kind: 'after-checkpoint'; changes: number; delayMs: number } | { kind: 'pause'; at: (typeof SAVE_STEPS)[number]; occurrence: number };

/**
 * Runs one `s2s train` (fresh or --resume) and SIGKILLs it per `plan`:
 * after-checkpoint: after `changes` (≥ 1) LATEST updates, wait `delayMs`, kill;
 * pause: with the slow-save hook on, kill when the `occurrence`-th pause at
 * save step `at` is announced (the process sleeps there meanwhile).
 */
async function runAndKill(dir: string, plan: KillPlan, trainArgs: readonly string[] = TRAIN_ARGS): Promise<KillOutcome> {
  const resume = latestOf(dir) !== null;
  const args = resume ? ['train', '--resume', dir] : ['train', ...trainArgs, '--out', dir];
  const env = cleanEnv(plan.kind === 'pause' ? { S2S_TEST_SLOW_CHECKPOINT_MS: '10' } : {});
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let pauses = 0;
  let lastPause = '';
  let killed = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  let done = false;
  void exited.then(() => { done = true; });
  const kill = (): void => {
    if (!done && !killed) {
      killed = child.kill('SIGKILL');
    }
  };
  child.stderr.setEncoding('utf8');
  let pending = '';
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      const m = /^\[s2s test pause\] (\S+) (.*)$/.exec(line);
      if (!m || plan.kind !== 'pause') continue;
      const matches = plan.at === 'out-bundle' ? dirname(m[2]) === dir : m[1] === plan.at;
      if (matches && ++pauses === plan.occurrence) {
        lastPause = `${m[1]} ${m[2].slice(dir.length + 1)}`;
        kill();
      }
    }
  });
  if (plan.kind === 'after-checkpoint') {
    let seen = latestOf(dir), changes = 0;
    while (!done && changes < plan.changes) {
      await sleep(2);
      const now = latestOf(dir);
      if (now !== seen) {
        seen = now;
        changes++;
      }
    }
    await sleep(plan.delayMs);
    kill();
  }
  const { code, signal } = await exited;
  killed = killed && signal === 'SIGKILL';
  return { landed: plan.kind === 'after-checkpoint' ? 'between saves' : lastPause, killed, code, stderr };
}

/** Kills `s2s train <trainArgs>` at seeded moments, resumes it to the end, and compares with the uninterrupted run. */
async function killAndResume(trainArgs: readonly string[], attempts: number, what: string): Promise<void> {
  const t0 = performance.now();
  const refDir = await reference(trainArgs);
  const refSeconds = (performance.now() - t0) / 1000;
  const dir = join(tmp(), 'model');
  const rng = new Rng(KILL_SEED);
  const rand = (): number => rng.next();
  const landings: string[] = [];
  let kills = 0, runs = 0, bestStep = -1, hadCheckpoint = false, finished = false;
  for (let attempt = 0; attempt < attempts && !finished; attempt++) {
    // Each plan lets the run advance one or two checkpoints (23 batches an
    // epoch, a checkpoint every 2 steps: ~35 saves), so the attempts fit in
    // one training run on any machine that is not pathologically slow.
    const plan: KillPlan = attempt % 2 === 0
      ? { kind: 'pause', at: SAVE_STEPS[(attempt / 2) % SAVE_STEPS.length], occurrence: 1 + Math.floor(rand() * 2) }
      : { kind: 'after-checkpoint', changes: 1 + Math.floor(rand() * 2), delayMs: Math.floor(rand() * 40) };
    const r = await runAndKill(dir, plan, trainArgs);
    runs++;
    if (!r.killed) {
      // The run ended before the kill: it must have completed normally.
      assert.equal(r.code, 0, `run ${runs} (${JSON.stringify(plan)}) failed:\n${r.stderr}`);
      finished = true;
      break;
    }
    kills++;
    landings.push(r.landed);
    // After every kill: the latest checkpoint is there (once one was written), loads, and is not older than before.
    const latest = latestOf(dir);
    if (hadCheckpoint) assert.ok(latest !== null, `kill ${kills} (${r.landed}) lost LATEST`);
    if (latest !== null) {
      const ckpt = loadLatestCheckpoint(dir);
      assert.ok(ckpt, `kill ${kills}: LATEST names ${latest} but nothing loads`);
      assert.ok(ckpt.state.step >= bestStep, `kill ${kills} (${r.landed}): latest checkpoint went back from step ${bestStep} to ${ckpt.state.step}`);
      bestStep = ckpt.state.step;
      hadCheckpoint = true;
    }
    // The bundle in --out is complete whenever its index exists.
    if (existsSync(join(dir, 'weights.json'))) loadBundle(dir);
  }
  // Resume to the end without interruption.
  while (!finished) {
    const r = s2sSync(latestOf(dir) === null ? ['train', ...trainArgs, '--out', dir] : ['train', '--resume', dir]);
    runs++;
    assert.equal(r.code, 0, r.err);
    finished = true;
  }
  const seconds = (performance.now() - t0) / 1000;
  const inSave = landings.filter((l) => l !== 'between saves');
  console.log(`# kill test (${what}): ${kills} of ${attempts} planned SIGKILLs landed and were survived over ${runs} runs (${inSave.length} at a save step: ${inSave.join(', ')}); ` +
    `reference run ${refSeconds.toFixed(1)} s, whole test ${seconds.toFixed(1)} s`);
  // How many kills land before training ends depends on speed (reported above); that some did, and one inside a save, does not.
  assert.ok(kills >= 1 && inSave.length >= 1, `no kill landed (${kills} kills, ${inSave.length} in a save)`);

  const got = loadLatestCheckpoint(dir), want = loadLatestCheckpoint(refDir);
  assert.ok(got && want);
  assertSameRun(got, want, 'resumed run');
  assertSameBundle(dir, refDir, 'resumed run');
  // Killed writers' temporaries are cleaned up by later saves.
  const leftovers = readdirSync(checkpointsDir(dir)).filter((f) => f.startsWith('.'));
  assert.deepEqual(leftovers, [], 'temporary files left in the checkpoints directory');
  rmSync(dirname(dir), { recursive: true, force: true });
}

test('training SIGKILLed at seeded moments (and mid-checkpoint-write) and resumed ends bit-identical to an uninterrupted run', async () => {
  await killAndResume(TRAIN_ARGS, KILL_ATTEMPTS, 'LSTM');
});

test('a Transformer run SIGKILLed at seeded moments (and mid-checkpoint-write) and resumed ends bit-identical to an uninterrupted run', async () => {
  await killAndResume(TRANSFORMER_ARGS, 9, 'Transformer');
  assert.equal(loadBundle(await reference(TRANSFORMER_ARGS)).config.model.arch, 'transformer');
});

test('a full disk during a checkpoint write stops training with a clear message; the previous checkpoint is intact and the run resumes bit-identically', async () => {
  const refDir = await reference();
  const dir = join(tmp(), 'model');
  const r = s2sSync(['train', ...TRAIN_ARGS, '--out', dir], cleanEnv({ S2S_TEST_FAIL_WRITE: 'step-000000020' }));
  assert.equal(r.code, 1);
  assert.match(r.err, /could not write the checkpoint of step 20 .*disk full: ENOSPC.*the previous checkpoint \(step-000000018\) is intact.*s2s train --resume/);
  const ckpt = loadLatestCheckpoint(dir);
  assert.ok(ckpt);
  assert.equal(ckpt.state.step, 18);
  assert.deepEqual(readdirSync(checkpointsDir(dir)).filter((f) => f.startsWith('.')), [], 'the failed write left temporaries');
  // The same for the bundle in --out (written at the end of each improving epoch).
  const r2 = s2sSync(['train', '--resume', dir], cleanEnv({ S2S_TEST_FAIL_WRITE: join(dir, 'weights.json') }));
  assert.equal(r2.code, 1);
  assert.match(r2.err, /could not write the model bundle to .*disk full: ENOSPC.*is intact/);
  const resumed = s2sSync(['train', '--resume', dir]);
  assert.equal(resumed.code, 0, resumed.err);
  const got = loadLatestCheckpoint(dir), want = loadLatestCheckpoint(refDir);
  assert.ok(got && want);
  assertSameRun(got, want, 'run resumed after ENOSPC');
  assertSameBundle(dir, refDir, 'run resumed after ENOSPC');
  rmSync(dirname(dir), { recursive: true, force: true });
});


test('saveCheckpoint: an injected ENOSPC leaves the previous checkpoint and LATEST untouched; a same-step re-save never removes the latest', async () => {
  const setup = tinySetup(16);
  const parts = bundlePartsFor(setup);
  const trainer = new Trainer(setup.model, { train: setup.examples, validation: [] }, { epochs: 1, batchSize: 8, optimizer: 'adam' });
  await trainer.run();
  const dir = tmp();
  const state = trainer.snapshot();
  saveCheckpoint(dir, parts, { ...state, step: 1 });
  const before = loadLatestCheckpoint(dir) as LoadedCheckpoint;
  for (const file of ['weights-', 'weights.json', 'vocab.json', 'optimizer.bin', 'trainer.json', 'LATEST']) {
    process.env.S2S_TEST_FAIL_WRITE = file === 'LATEST' ? join(checkpointsDir(dir), 'LATEST') : `step-000000002-${process.pid}/${file}`;
    try {
      setup.model.outputBias.data[0] += 1; // the failed checkpoint would hold different weights
      assert.throws(() => saveCheckpoint(dir, parts, { ...state, step: 2 }), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC', file);
    } finally {
      delete process.env.S2S_TEST_FAIL_WRITE;
    }
    if (file === 'LATEST') {
      // The new directory is complete and renamed, but LATEST still names the previous one.
      assert.equal(latestOf(dir), 'step-000000001');
    }
    const after = loadLatestCheckpoint(dir) as LoadedCheckpoint;
    assert.equal(after.state.step, 1, `after a failed ${file} write`);
    bytesOf(after.bundle.model.parameters()).forEach((b, i) => assert.ok(b.equals(bytesOf(before.bundle.model.parameters())[i])));
    assert.deepEqual(readdirSync(checkpointsDir(dir)).filter((f) => f.startsWith('.')), [], `temporaries left after a failed ${file} write`);
  }
  // Saving the step LATEST names again writes a new directory instead of replacing it.
  saveCheckpoint(dir, parts, { ...state, step: 2 });
  assert.equal(latestOf(dir), 'step-000000002');
  saveCheckpoint(dir, parts, { ...state, step: 2 });
  assert.equal(latestOf(dir), 'step-000000002-1');
  saveCheckpoint(dir, parts, { ...state, step: 2 });
  assert.equal(latestOf(dir), 'step-000000002');
  saveCheckpoint(dir, parts, { ...state, step: 3 });
  assert.deepEqual(readdirSync(checkpointsDir(dir)).filter((f) => f.startsWith('step-')).sort(), ['step-000000002-1', 'step-000000003']);
  assert.equal(loadLatestCheckpoint(dir)?.state.step, 3);
  rmSync(dir, { recursive: true });
});

test('an unwritable or impossible --out is refused before any data is read', { skip: process.platform !== 'linux' && 'Linux paths' }, () => {
  const dir = tmp();
  const file = join(dir, 'a-file');
  writeFileSync(file, 'not a directory');
  const cases: [string, RegExp][] = [
    [join(file, 'model'), /--out .*a-file\/model: cannot write there \(a component of the path is a file, not a directory, ENOTDIR\); nothing was trained/],
    ['/proc/s2s-no-such-dir/model', /--out \/proc\/s2s-no-such-dir\/model: cannot write there \(a parent directory is missing and cannot be created, ENOENT\)/],
  ];
  if (process.getuid?.() !== 0) {
    // Permissions only bind non-root users.
    const ro = join(dir, 'read-only');
    spawnSync('mkdir', ['-m', '0500', ro]);
    cases.push([join(ro, 'model'), /cannot write there \(permission denied, EACCES\)/]);
  }
  for (const [out, message] of cases) {
    const r = s2sSync(['train', ...TRAIN_ARGS, '--out', out]);
    assert.equal(r.code, 1, out);
    assert.match(r.err, message);
    assert.doesNotMatch(r.err, /corpus|epoch/, 'the check comes before reading data');
  }
  const missing = s2sSync(['train', '--resume', join(dir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /--resume .*nope: no such directory/);
  rmSync(dir, { recursive: true });
});
