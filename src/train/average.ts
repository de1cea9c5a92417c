/**
 * Checkpoint averaging (`s2s average`), as fairseq's average_checkpoints.py
 * and Marian's exponential smoothing offer it: the elementwise mean of the
 * weights of several checkpoints (or bundles) of one run, written as an
 * ordinary model bundle. The last few checkpoints of a run usually translate
 * a little better averaged than any one of them.
 */
import { existsSync, lstatSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { loadBundle, saveBundle, BundleError, type LoadedBundle } from '../bundle/bundle.js';
import { fsyncDir } from '../bundle/atomic.js';
import { checkpointsDir, listCheckpoints } from './checkpoint.js';
import { ConfigError } from '../errors.js';

/** What an average wrote. */
export interface AverageResult {
  /** The bundle directory written. */
  out: string;
  /** The directories averaged, in the order given. */
  inputs: string[];
  /** Number of weights averaged. */
  parameters: number;
}

/**
 * The last `k` checkpoints of a run, oldest first. `run` is the run's model
 * folder (its checkpoints in `run/checkpoints`) or the checkpoint folder itself.
 */
export function lastCheckpoints(run: string, k: number): string[] {
  if (!(Number.isInteger(k) && k >= 1)) throw new ConfigError(`--last must be an integer ≥ 1, got ${k}`);
  const root = existsSync(join(run, 'LATEST')) ? run : checkpointsDir(run);
  const all = listCheckpoints(root);
  if (all.length === 0) throw new ConfigError(`${root}: no checkpoints (give the run's model folder or its --checkpoint-dir)`);
  if (all.length < k) {
    throw new ConfigError(`${root}: ${all.length} checkpoint${all.length === 1 ? '' : 's'}, fewer than --last ${k} (train with --keep-checkpoints ${k} to keep more)`);
  }
  return all.slice(-k);
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Every input must be the same model: architecture, tokenizers and vocabularies. */
function checkCompatible(first: LoadedBundle, other: LoadedBundle): void {
  const where = `${other.dir} and ${first.dir}`;
  if (!same(first.config.model, other.config.model)) throw new BundleError(`${where}: different model configs (config.json "model"); only checkpoints of one model can be averaged`);
  if (!same(first.config.tokenizers, other.config.tokenizers)) throw new BundleError(`${where}: different tokenizers (config.json "tokenizers")`);
  for (const side of ['source', 'target'] as const) {
    if (!same(first.vocabs[side].toJSON(), other.vocabs[side].toJSON())) throw new BundleError(`${where}: different ${side} vocabularies (vocab.json)`);
  }
  const a = first.model.parameters(), b = other.model.parameters();
  if (a.length !== b.length || a.some((p, i) => p.name !== b[i].name || p.size !== b[i].size)) {
    throw new BundleError(`${where}: different parameters (weights.json)`);
  }
}

/** Averaging needs the float32 weights: an int8 bundle (s2s quantize) is refused. */
function refuseInt8(b: LoadedBundle): void {
  if (b.model.parameters().some((p) => p.int8)) throw new BundleError(`${b.dir}: holds int8 weights (a quantized bundle); average the float32 checkpoints, then quantize the average`);
}

/** Only bundle files (or nothing) may be in an existing output folder: it is replaced, never merged into a foreign folder. */
const BUNDLE_FILE = /^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/;

/**
 * Averages the weights of `inputs` (checkpoint or bundle directories of one
 * model) into a new bundle at `out`, with the config and history of the last
 * input. Sums are taken in double precision. A new `out` is written into a
 * temporary folder and renamed into place; an existing one (an earlier
 * average: only bundle files) is updated the way every bundle save is, the
 * weights index last.
 */
export function averageCheckpoints(inputs: readonly string[], out: string): AverageResult {
  if (inputs.length === 0) throw new ConfigError('average: no checkpoints or bundles given');
  const outAbs = resolve(out);
  for (const dir of inputs) if (resolve(dir) === outAbs) throw new ConfigError(`--out ${out} is one of the inputs; write the average to a new folder`);
  let existing = false;
  try {
    const st = lstatSync(out);
    if (st.isSymbolicLink() || !st.isDirectory()) throw new ConfigError(`--out ${out}: exists and is not a folder`);
    const foreign = readdirSync(out).filter((f) => !BUNDLE_FILE.test(f));
    if (foreign.length) throw new ConfigError(`--out ${out}: not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); write the average to a new or empty folder`);
    existing = true;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
  }
  // The last input gives the config and history; the others are added into double-precision sums one at a time.
  const last = loadBundle(inputs[inputs.length - 1]);
  refuseInt8(last);
  const params = last.model.parameters();
  const sums = params.map((p) => Float64Array.from(p.data));
  for (const dir of inputs.slice(0, -1)) {
    const other = loadBundle(dir);
    refuseInt8(other);
    checkCompatible(last, other);
    other.model.parameters().forEach((p, i) => {
      const s = sums[i], d = p.data;
      for (let j = 0; j < d.length; j++) s[j] += d[j];
    });
  }
  let parameters = 0;
  params.forEach((p, i) => {
    const s = sums[i];
    for (let j = 0; j < s.length; j++) p.data[j] = s[j] / inputs.length;
    parameters += s.length;
  });
  const parts = { config: last.config, vocabs: last.vocabs, model: last.model, history: last.history };
  if (existing) {
    saveBundle(out, parts);
  } else {
    const tmp = join(dirname(outAbs), `.${basename(outAbs)}.average-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      saveBundle(tmp, parts);
      renameSync(tmp, outAbs);
      fsyncDir(dirname(outAbs));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  return { out, inputs: [...inputs], parameters };
}
