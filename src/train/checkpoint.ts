/**
 * Training checkpoints: a complete bundle plus the trainer state (data-order
 * and dropout RNG states, position in the epoch, history) and the optimizer
 * slots. Each checkpoint is written into a temporary directory, fsynced and
 * renamed into place; only then does LATEST (written atomically) point to it.
 * A kill at any moment leaves the previous checkpoint intact and named.
 */
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { serializeWeights, deserializeWeights, Tensor, type OptimizerState } from '../engine/index.js';
import type { TrainerState } from './trainer.js';
import { saveBundle, loadBundle, BundleError, readBundleFile, readBundleJson, lstatExists, type BundleParts, type LoadedBundle, type ReadLimit } from '../bundle/bundle.js';
import { checkJsonDepth } from '../bundle/format.js';
import { writeFileAtomic, ensureDir, fsyncDir, testPause, processGone, TEMPORARY_NAME } from '../bundle/atomic.js';

/** LATEST holds one checkpoint name (`step-000012000\n`, 15 bytes). */
const LATEST_LIMIT: ReadLimit = { bytes: 1024, what: 'LATEST' };

/** The slots each optimizer keeps per parameter (engine/optim.ts); nothing else is accepted from optimizer.json. */
const OPTIMIZER_SLOTS: Readonly<Record<string, readonly string[]>> = { rmsprop: ['ms'], adam: ['m', 'v'] };

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
    return readBundleFile(join(root, 'LATEST'), LATEST_LIMIT).toString('utf8').trim();
  } catch {
    return null;
  }
}

/** Removes temporary files and directories left by killed writers (never a running process's). */
function removeStaleTemporaries(root: string): void {
  for (const f of readdirSync(root)) {
    const m = /^\.tmp-step-\d{9}-(\d+)$/.exec(f) ?? TEMPORARY_NAME.exec(f);
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
  if (!lstatExists(latest)) return null;
  const name = readBundleFile(latest, LATEST_LIMIT).toString('utf8').trim();
  if (!NAME.test(name)) throw new BundleError(`${latest}: does not name a checkpoint (${JSON.stringify(name.slice(0, 100))})`);
  const path = join(root, name);
  const bundle = loadBundle(path);
  const trainer = readBundleJson(join(path, 'trainer.json')) as Omit<TrainerState, 'optimizer'> & { optimizer: Omit<OptimizerState, 'slots'> | null };
  checkJsonDepth(trainer, join(path, 'trainer.json'));
  checkTrainerJson(trainer, join(path, 'trainer.json'));
  let optimizer: OptimizerState | null = null;
  if (trainer.optimizer) {
    const indexPath = join(path, 'optimizer.json');
    const index = readBundleJson(indexPath);
    const blob = new Uint8Array(readBundleFile(join(path, 'optimizer.bin')));
    let tensors;
    try {
      tensors = deserializeWeights(index, blob, join(path, 'optimizer'));
    } catch (err) {
      throw new BundleError((err as Error).message);
    }
    optimizer = { ...trainer.optimizer, slots: optimizerSlots(tensors, bundle, String(trainer.optimizer.kind), indexPath) };
  }
  return { bundle, state: { ...trainer, optimizer } as TrainerState, path };
}


/**
 * The optimizer slots from optimizer.json's tensors `<parameter>#<slot>`.
 * Only names of the model's own parameters and the optimizer's own slots are
 * accepted, each once and of the parameter's size, and they go into
 * null-prototype objects: a name like `__proto__#x` or `constructor#x` is an
 * error naming it, never a write to Object.prototype.
 */
function optimizerSlots(tensors: Map<string, Tensor>, bundle: LoadedBundle, kind: string, where: string): OptimizerState['slots'] {
  const sizes = new Map(bundle.model.parameters().map((p) => [p.name as string, p.size]));
  const known = Object.hasOwn(OPTIMIZER_SLOTS, kind) ? OPTIMIZER_SLOTS[kind] : null;
  if (!known) throw new BundleError(`${where}: unknown optimizer kind ${JSON.stringify(kind.slice(0, 40))} (trainer.json's "optimizer.kind"; expected ${Object.keys(OPTIMIZER_SLOTS).join(' or ')})`);
  const slots = Object.create(null) as OptimizerState['slots'];
  for (const [key, t] of tensors) {
    const cut = key.lastIndexOf('#');
    const param = key.slice(0, cut), slot = key.slice(cut + 1);
    const shown = JSON.stringify(key.length > 80 ? key.slice(0, 80) + '…' : key);
    if (cut < 0 || !sizes.has(param)) throw new BundleError(`${where}: tensor ${shown} does not name a parameter of the model (expected "<parameter>#<slot>")`);
    if (!known.includes(slot)) throw new BundleError(`${where}: tensor ${shown}: ${kind} has no slot ${JSON.stringify(slot.slice(0, 40))} (its slots: ${known.join(', ')})`);
    if (t.data.length !== sizes.get(param)) throw new BundleError(`${where}: tensor ${shown} has ${t.data.length} values, the parameter has ${sizes.get(param)}`);
    const perParam = Object.hasOwn(slots, param) ? slots[param] : (slots[param] = Object.create(null) as Record<string, Float32Array>);
    perParam[slot] = t.data;
  }
  return slots;
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
