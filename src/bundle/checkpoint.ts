/**
 * Training checkpoints: a complete bundle plus the trainer state (data-order
 * and dropout RNG states, position in the epoch, history) and the optimizer
 * slots. Each checkpoint is written into a temporary directory, fsynced and
 * renamed into place; only then does LATEST (written atomically) point to it.
 * A kill at any moment leaves the previous checkpoint intact and named.
 */
import { existsSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { serializeWeights, deserializeWeights, Tensor, type OptimizerState } from '../engine/index.js';
import type { TrainerState } from '../train/trainer.js';
import { saveBundle, loadBundle, BundleError, type BundleParts, type LoadedBundle } from './bundle.js';
import { writeFileAtomic, ensureDir, fsyncDir } from './atomic.js';

const KEEP = 2;

export function checkpointsDir(outDir: string): string {
  return join(outDir, 'checkpoints');
}

export function saveCheckpoint(outDir: string, parts: BundleParts, state: TrainerState): string {
  const root = checkpointsDir(outDir);
  ensureDir(root);
  const name = `step-${String(state.step).padStart(9, '0')}`;
  const tmp = join(root, `.tmp-${name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
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
  const final = join(root, name);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  fsyncDir(root);
  writeFileAtomic(join(root, 'LATEST'), name + '\n');
  // Prune older checkpoints, never the one LATEST names.
  const all = readdirSync(root).filter((f) => /^step-\d{9}$/.test(f)).sort();
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

/** Loads the checkpoint LATEST names; null when the directory has none. */
export function loadLatestCheckpoint(outDir: string): LoadedCheckpoint | null {
  const root = checkpointsDir(outDir);
  const latest = join(root, 'LATEST');
  if (!existsSync(latest)) return null;
  const name = readFileSync(latest, 'utf8').trim();
  if (!/^step-\d{9}$/.test(name)) throw new BundleError(`${latest}: does not name a checkpoint (${JSON.stringify(name)})`);
  const path = join(root, name);
  const bundle = loadBundle(path);
  let trainer: Omit<TrainerState, 'optimizer'> & { optimizer: Omit<OptimizerState, 'slots'> | null };
  try {
    trainer = JSON.parse(readFileSync(join(path, 'trainer.json'), 'utf8'));
  } catch (err) {
    throw new BundleError(`${join(path, 'trainer.json')}: ${(err as Error).message}`);
  }
  let optimizer: OptimizerState | null = null;
  if (trainer.optimizer) {
    const index = JSON.parse(readFileSync(join(path, 'optimizer.json'), 'utf8'));
    const blob = new Uint8Array(readFileSync(join(path, 'optimizer.bin')));
    const slots: OptimizerState['slots'] = {};
    for (const [key, t] of deserializeWeights(index, blob, join(path, 'optimizer'))) {
      const cut = key.lastIndexOf('#');
      const param = key.slice(0, cut), slot = key.slice(cut + 1);
      (slots[param] ??= {})[slot] = t.data;
    }
    optimizer = { ...trainer.optimizer, slots };
  }
  return { bundle, state: { ...trainer, optimizer } as TrainerState, path };
}
