/**
 * Model bundles on disk. The blob's file name carries its checksum and is
 * written first, the index that names it last, so a bundle interrupted
 * mid-save still loads (old or new weights, never a mix). The format itself
 * is in format.ts.
 */
import { readFileSync, existsSync, readdirSync, unlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { serializeWeights } from '../engine/index.js';
import type { Translator } from '../decode/translator.js';
import { writeFileAtomic, ensureDir, processGone } from './atomic.js';
import { BundleError, bundleFromFiles, makeTranslator, type BundleParts } from './format.js';

export * from './format.js';

/** A bundle loaded from disk, with a translator ready to use. */
export interface LoadedBundle extends BundleParts {
  translator: Translator;
  dir: string;
}

/** Writes (or updates) a bundle directory. */
export function saveBundle(dir: string, parts: BundleParts): void {
  ensureDir(dir);
  const { index, blob } = serializeWeights(parts.model.parameters());
  const blobName = `weights-${index.crc32.toString(16).padStart(8, '0')}.bin`;
  writeFileAtomic(join(dir, blobName), blob);
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(parts.config, null, 2));
  writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify({ source: parts.vocabs.source.toJSON(), target: parts.vocabs.target.toJSON() }));
  writeFileAtomic(join(dir, 'history.json'), JSON.stringify(parts.history, null, 1));
  // The index last: until it is renamed into place the bundle is the previous one (or none, on a first save).
  writeFileAtomic(join(dir, 'weights.json'), JSON.stringify({ ...index, file: blobName }, null, 1));
  for (const f of readdirSync(dir)) {
    // Older blobs are no longer named by the index; temporaries of killed writers are garbage.
    const stale = (/^weights-[0-9a-f]{8}\.bin$/.test(f) && f !== blobName) || processGone(Number(/^\..+\.(\d+)\.\d+\.tmp$/.exec(f)?.[1] ?? process.pid));
    if (stale) {
      try { unlinkSync(join(dir, f)); } catch { /* a concurrent save removed it */ }
    }
  }
}

/** JSON files larger than this are refused (real ones are a few MB at most). */
const MAX_JSON_BYTES = 256 * 1024 * 1024;

/** Reads a file of the bundle; I/O failures become BundleErrors naming the file. */
function readBytes(path: string, maxBytes = Infinity): Buffer {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new BundleError(`${path}: not a regular file`);
    if (st.size > maxBytes) throw new BundleError(`${path}: ${st.size} bytes is too large for this file (at most ${maxBytes})`);
    return readFileSync(path);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`${path}: cannot read (${(err as Error).message})`);
  }
}

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new BundleError(`${path}: missing (is this an s2s model directory?)`);
  const text = readBytes(path, MAX_JSON_BYTES).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

/** Loads a bundle directory; any inconsistency is a BundleError naming the file. */
export function loadBundle(dir: string): LoadedBundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError(`${dir}: not a directory`);
  const config = readJson(join(dir, 'config.json'));
  const vocab = readJson(join(dir, 'vocab.json'));
  const weightsIndex = readJson(join(dir, 'weights.json')) as { file?: unknown };
  const file = weightsIndex?.file;
  if (typeof file !== 'string' || !/^weights-[0-9a-f]{8}\.bin$/.test(file)) {
    throw new BundleError(`${join(dir, 'weights.json')}: field "file" must name the weights blob (weights-XXXXXXXX.bin)`);
  }
  const blobPath = join(dir, file);
  if (!existsSync(blobPath)) throw new BundleError(`${blobPath}: missing (the weights index names it)`);
  const blob = new Uint8Array(readBytes(blobPath));
  const historyPath = join(dir, 'history.json');
  let history: unknown = [];
  if (existsSync(historyPath)) {
    try { history = JSON.parse(readBytes(historyPath, MAX_JSON_BYTES).toString('utf8')); } catch { history = []; }
  }
  const parts = bundleFromFiles({ config, vocab, weightsIndex, weightsBlob: blob, history }, dir);
  return { ...parts, translator: makeTranslator(parts), dir };
}

/** Files a bundle directory holds; `exportBundle` writes exactly these. */
const BUNDLE_FILES = /^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/;

/**
 * Copies what translation needs — config, vocabularies, weights, history —
 * from a bundle directory (which may also hold a training run's
 * checkpoints) into a clean folder to ship. The content written is the
 * parsed, validated bundle, never bytes copied through links; the corpus
 * path (and validation/test file paths) are reduced to file names, so no path of the training machine
 * leaves with the model. `out` must not exist or be empty, or hold an
 * earlier export (only bundle files).
 */
export function exportBundle(modelDir: string, out: string): { dir: string; files: string[]; bytes: number } {
  const bundle = loadBundle(modelDir);
  if (existsSync(out)) {
    if (!statSync(out).isDirectory()) throw new BundleError(`${out}: exists and is not a directory`);
    const foreign = readdirSync(out).filter((f) => !BUNDLE_FILES.test(f));
    if (foreign.length) throw new BundleError(`${out}: not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); export into a new or empty folder`);
  }
  const config = structuredClone(bundle.config);
  config.data.corpus = basename(config.data.corpus);
  if (config.data.validData) config.data.validData = basename(config.data.validData);
  if (config.data.testData) config.data.testData = basename(config.data.testData);
  saveBundle(out, { config, vocabs: bundle.vocabs, model: bundle.model, history: bundle.history });
  const files = readdirSync(out).filter((f) => BUNDLE_FILES.test(f)).sort();
  return { dir: out, files, bytes: files.reduce((n, f) => n + statSync(join(out, f)).size, 0) };
}
