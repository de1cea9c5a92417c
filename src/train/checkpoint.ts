/**
 * Training checkpoints: a complete bundle plus the trainer state (data-order
 * and dropout RNG states, position in the epoch, history) and the optimizer
 * slots. Each checkpoint is written into a temporary directory, fsynced and
 * renamed into place; only then does LATEST (written atomically) point to it.
 * A kill at any moment leaves the previous checkpoint intact and named.
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { serializeWeights, deserializeWeights, Tensor, type OptimizerState } from '../engine/index.js';
import type { TrainerState } from './trainer.js';
import { saveBundle, loadBundle, BundleError, type BundleParts, type LoadedBundle } from '../bundle/bundle.js';
import { writeFileAtomic, ensureDir, fsyncDir, testPause, processGone } from '../bundle/atomic.js';

const KEEP = 2;

/** Checkpoint directory names: step-<9 digits>, with -<n> when a step is saved again while its first save is the latest. */
const NAME = /^step-(\d{9})(?:-(\d+))?$/;

/** The default checkpoint directory of a run writing its model to `outDir`. */
export function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

function nameOrder(a: string, b: string): number {
  const ma = NAME.exec(a) as RegExpExecArray, mb = NAME.exec(b) as RegExpExecArray;
  return Number(ma[1]) - Number(mb[1]) || Number(ma[2] ?? 0) - Number(mb[2] ?? 0);
}

function latestName(root: string): string | null {
  try {
    return readFileSync(join(root, 'LATEST'), 'utf8').trim();
  } catch {
    return null;
  }
}

/** Removes temporary files and directories left by killed writers (never a running process's). */
function removeStaleTemporaries(root: string): void {
  for (const f of readdirSync(root)) {
    const m = /^\.tmp-step-\d{9}-(\d+)$/.exec(f) ?? /^\..+\.(\d+)\.\d+\.tmp$/.exec(f);
    if (m && processGone(Number(m[1]))) rmSync(join(root, f), { recursive: true, force: true });
  }
}

/**
 * Writes a checkpoint and makes it the latest. On failure (a full disk, an
 * I/O error) the temporary directory is removed and the error rethrown; the
 * previous checkpoint and LATEST are untouched.
 */
export function saveCheckpoint(outDir: string, parts: BundleParts, state: TrainerState, root = checkpointsDir(outDir)): string {
  ensureDir(root);
  removeStaleTemporaries(root);
  const base = `step-${String(state.step).padStart(9, '0')}`;
  const tmp = join(root, `.tmp-${base}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  // Never replace the directory LATEST names: a kill between removing it and renaming would lose the checkpoint.
  const latest = latestName(root);
  let name = base;
  for (let n = 1; name === latest; n++) name = `${base}-${n}`;
  const final = join(root, name);
  try {
    saveBundle(tmp, parts);
    const opt = state.optimizer;
    const slotTensors: Tensor[] = [];
    if (opt) {
      for (const [param, slots] of Object.entries(opt.slots)) {
        for (const [slot, data] of Object.entries(slots)) slotTensors.push(new Tensor(data, [data.length], false, `${param}#${slot}`));
      }
    }
    const { index, blob } = serializeWeights(slotTensors);
    writeFileAtomic(join(tmp, 'optimizer.bin'), blob);
    writeFileAtomic(join(tmp, 'optimizer.json'), JSON.stringify(index));
    const { optimizer: _omit, ...rest } = state;
    const trainerJson = { ...rest, optimizer: opt ? { kind: opt.kind, step: opt.step, learningRate: opt.learningRate } : null };
    writeFileAtomic(join(tmp, 'trainer.json'), JSON.stringify(trainerJson));
    testPause(`checkpoint-written ${tmp}`);
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
    fsyncDir(root);
    testPause(`checkpoint-renamed ${final}`);
    writeFileAtomic(join(root, 'LATEST'), name + '\n');
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  testPause(`checkpoint-published ${final}`);
  // Prune older checkpoints, never the one LATEST names.
  const all = readdirSync(root).filter((f) => NAME.test(f)).sort(nameOrder);
  for (const old of all.slice(0, Math.max(0, all.length - KEEP))) {
    if (old !== name) rmSync(join(root, old), { recursive: true, force: true });
  }
  return final;
}

export interface LoadedCheckpoint {
  bundle: LoadedBundle;
  state: TrainerState;
  path: string;
}

/**
 * Loads the checkpoint LATEST names in `root` (by default OUT/checkpoints);
 * null when the directory has none. Any damage is a BundleError naming the file.
 */
export function loadLatestCheckpoint(outDir: string, root = checkpointsDir(outDir)): LoadedCheckpoint | null {
  const latest = join(root, 'LATEST');
  if (!existsSync(latest)) return null;
  const name = readFileSync(latest, 'utf8').trim();
  if (!NAME.test(name)) throw new BundleError(`${latest}: does not name a checkpoint (${JSON.stringify(name.slice(0, 100))})`);
  const path = join(root, name);
  const bundle = loadBundle(path);
  const readJson = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(join(path, file), 'utf8'));
    } catch (err) {
      throw new BundleError(`${join(path, file)}: ${(err as Error).message}`);
    }
  };
  const trainer = readJson('trainer.json') as Omit<TrainerState, 'optimizer'> & { optimizer: Omit<OptimizerState, 'slots'> | null };
  checkTrainerJson(trainer, join(path, 'trainer.json'));
  let optimizer: OptimizerState | null = null;
  if (trainer.optimizer) {
    const index = readJson('optimizer.json');
    const blobPath = join(path, 'optimizer.bin');
    if (!existsSync(blobPath) || !statSync(blobPath).isFile()) throw new BundleError(`${blobPath}: missing`);
    const blob = new Uint8Array(readFileSync(blobPath));
    const slots: OptimizerState['slots'] = {};
    let tensors;
    try {
      tensors = deserializeWeights(index, blob, join(path, 'optimizer'));
    } catch (err) {
      throw new BundleError((err as Error).message);
    }
    for (const [key, t] of tensors) {
      const cut = key.lastIndexOf('#');
      const param = key.slice(0, cut), slot = key.slice(cut + 1);
      (slots[param] ??= {})[slot] = t.data;
    }
    optimizer = { ...trainer.optimizer, slots };
  }
  return { bundle, state: { ...trainer, optimizer } as TrainerState, path };
}

/** The fields a resumed trainer relies on, checked so a damaged file is an error here rather than a crash later. */
function checkTrainerJson(t: unknown, where: string): void {
  const fail = (msg: string): never => {
    throw new BundleError(`${where}: ${msg}`);
  };
  if (typeof t !== 'object' || t === null || Array.isArray(t)) fail('expected a JSON object');
  const o = t as Record<string, unknown>;
  for (const k of ['epoch', 'batchInEpoch', 'step']) {
    if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 0) fail(`field "${k}" must be a non-negative integer`);
  }
  for (const k of ['epochRngState', 'dataRngState', 'dropoutRngState']) {
    const v = o[k];
    if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff)) fail(`field "${k}" must be 4 unsigned 32-bit integers`);
  }
  if (!Array.isArray(o.history)) fail('field "history" must be an array');
  const opt = o.optimizer;
  if (opt !== null && (typeof opt !== 'object' || Array.isArray(opt))) fail('field "optimizer" must be an object or null');
}
