/**
 * Model bundles on disk. The blob's file name carries its checksum and is
 * written first, the index that names it last, so a bundle interrupted
 * mid-save still loads (old or new weights, never a mix). The format itself
 * is in format.ts.
 */
import { existsSync, readdirSync, unlinkSync, statSync, lstatSync, openSync, fstatSync, readSync, closeSync, constants } from 'node:fs';
import { basename, join } from 'node:path';
import { serializeWeights, WEIGHTS_VERSION_FLOAT32 } from '../engine/index.js';
import type { Translator } from '../decode/translator.js';
import { writeFileAtomic, ensureDir, processGone, TEMPORARY_NAME } from './atomic.js';
import { BundleError, bundleFromFiles, makeTranslator, checkJsonDepth, BUNDLE_VERSION, BUNDLE_VERSION_FLOAT32, type BundleParts } from './format.js';

export * from './format.js';

/** A bundle loaded from disk, with a translator ready to use. */
export interface LoadedBundle extends BundleParts {
  translator: Translator;
  dir: string;
  /** What was wrong but not fatal (an unparsable history.json, invalid history records dropped). */
  warnings: string[];
}

/** Writes (or updates) a bundle directory. */
export function saveBundle(dir: string, parts: BundleParts): void {
  ensureDir(dir);
  const { index, blob } = serializeWeights(parts.model.parameters());
  const blobName = `weights-${index.crc32.toString(16).padStart(8, '0')}.bin`;
  writeFileAtomic(join(dir, blobName), blob);
  // Version 2 only when the weights need it (int8), so float32 bundles stay readable by s2s before int8 bundles.
  const config = { ...parts.config, version: index.version === WEIGHTS_VERSION_FLOAT32 ? BUNDLE_VERSION_FLOAT32 : BUNDLE_VERSION };
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify({ source: parts.vocabs.source.toJSON(), target: parts.vocabs.target.toJSON() }));
  writeFileAtomic(join(dir, 'history.json'), JSON.stringify(parts.history, null, 1));
  // The index last: until it is renamed into place the bundle is the previous one (or none, on a first save).
  writeFileAtomic(join(dir, 'weights.json'), JSON.stringify({ ...index, file: blobName }, null, 1));
  for (const f of readdirSync(dir)) {
    // Older blobs are no longer named by the index; temporaries of killed writers are garbage.
    const stale = (/^weights-[0-9a-f]{8}\.bin$/.test(f) && f !== blobName) || processGone(Number(TEMPORARY_NAME.exec(f)?.[1] ?? process.pid));
    if (stale) {
      try { unlinkSync(join(dir, f)); } catch { /* a concurrent save removed it */ }
    }
  }
}

/**
 * Bundle and checkpoint JSON files larger than this are refused before they are
 * read. The largest real one, config.json of a BPE model with its merges
 * (fra-attention: 5,000 merges per side), is 559,187 bytes; 32 MiB leaves a 60× margin and
 * bounds what JSON.parse can be made to allocate.
 */
export const MAX_BUNDLE_JSON_BYTES = 32 * 1024 * 1024;

/** A size limit and the words an error uses for it. */
export interface ReadLimit {
  bytes: number;
  /** e.g. "bundle JSON files" */
  what: string;
}

export const BUNDLE_JSON_LIMIT: ReadLimit = { bytes: MAX_BUNDLE_JSON_BYTES, what: 'bundle JSON files' };

function sizeLabel(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

/**
 * Reads one file of a bundle or checkpoint without following links: a bundle
 * may come from someone else, and a `history.json` that is a link to
 * ~/.ssh/id_rsa must not be read, let alone served or exported. The path is
 * lstat'ed (links and non-regular files are refused), opened with O_NOFOLLOW,
 * and the descriptor fstat'ed (a swap between the two is refused too); the
 * size is checked before reading. Failures are BundleErrors naming the file.
 */
export function readBundleFile(path: string, limit?: ReadLimit): Buffer {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BundleError(`${path}: missing (is this an s2s model directory?)`);
    throw new BundleError(`${path}: cannot read (${(err as Error).message})`);
  }
  if (st.isSymbolicLink()) throw new BundleError(`${path}: is a symbolic link; bundle files must be regular files (s2s never writes links), so it is not followed`);
  if (!st.isFile()) throw new BundleError(`${path}: not a regular file`);
  const tooLarge = (size: number): BundleError => new BundleError(`${path}: ${size} bytes is more than the ${sizeLabel(limit?.bytes ?? 0)} limit for ${limit?.what}`);
  if (limit && st.size > limit.bytes) throw tooLarge(st.size);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new BundleError(`${path}: is a symbolic link; bundle files must be regular files (s2s never writes links), so it is not followed`);
    throw new BundleError(`${path}: cannot read (${(err as Error).message})`);
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) throw new BundleError(`${path}: not a regular file`);
    if (limit && fst.size > limit.bytes) throw tooLarge(fst.size);
    // Read what fstat reported, plus one byte to notice a file growing under us.
    const buf = Buffer.allocUnsafe(fst.size + 1);
    let off = 0;
    for (;;) {
      const n = readSync(fd, buf, off, buf.length - off, null);
      if (n === 0) break;
      off += n;
      if (off === buf.length) throw new BundleError(`${path}: changed size while being read`);
    }
    return buf.subarray(0, off);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(`${path}: cannot read (${(err as Error).message})`);
  } finally {
    closeSync(fd);
  }
}

/**
 * A bundle or checkpoint JSON file, read as readBundleFile does and parsed;
 * errors name the file. Nesting is capped here (checkJsonDepth), so no later
 * check that walks the value (trainer.json's, optimizer.json's) can overflow the stack.
 */
export function readBundleJson(path: string, limit: ReadLimit = BUNDLE_JSON_LIMIT): unknown {
  const text = readBundleFile(path, limit).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BundleError(`${path}: invalid JSON (${(err as Error).message})`);
  }
  checkJsonDepth(value, path);
  return value;
}

/** Loads a bundle directory; any inconsistency is a BundleError naming the file. */
export function loadBundle(dir: string): LoadedBundle {
  // The directory itself may be a link (a user's own `ln -s`); the files in it may not.
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new BundleError(`${dir}: not a directory`);
  const config = readBundleJson(join(dir, 'config.json'));
  const vocab = readBundleJson(join(dir, 'vocab.json'));
  const weightsIndex = readBundleJson(join(dir, 'weights.json')) as { file?: unknown };
  const file = weightsIndex?.file;
  if (typeof file !== 'string' || !/^weights-[0-9a-f]{8}\.bin$/.test(file)) {
    throw new BundleError(`${join(dir, 'weights.json')}: field "file" must name the weights blob (weights-XXXXXXXX.bin)`);
  }
  const blobPath = join(dir, file);
  if (!lstatExists(blobPath)) throw new BundleError(`${blobPath}: missing (the weights index names it)`);
  const blob = new Uint8Array(readBundleFile(blobPath));
  const historyPath = join(dir, 'history.json');
  let history: unknown = [];
  // history.json is optional and only informative: unparsable text is an empty history (with a warning),
  // but a link or a non-regular file is refused like any other bundle file.
  const warnings: string[] = [];
  if (lstatExists(historyPath)) {
    const text = readBundleFile(historyPath, BUNDLE_JSON_LIMIT).toString('utf8');
    try {
      history = JSON.parse(text);
    } catch (err) {
      warnings.push(`${historyPath}: invalid JSON (${(err as Error).message}); the history is left empty`);
    }
  }
  const parts = bundleFromFiles({ config, vocab, weightsIndex, weightsBlob: blob, history }, dir);
  return { ...parts, warnings: [...warnings, ...(parts.warnings ?? [])], translator: makeTranslator(parts), dir };
}

/** True when something (a link included, followed or not) is at path; checkpoints use it too. */
export function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Files a bundle directory holds; `exportBundle` writes exactly these. */
const BUNDLE_FILES = /^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/;

/** What an export wrote. */
export interface ExportedBundle {
  dir: string;
  files: string[];
  bytes: number;
  /** Files of an earlier export that were there before and are now replaced or removed. */
  replaced: string[];
}

/**
 * Copies what translation needs — config, vocabularies, weights, history —
 * from a bundle directory (which may also hold a training run's
 * checkpoints) into a clean folder to ship. The content written is the
 * parsed, validated bundle, never bytes copied through links; the corpus
 * path (and validation/test file paths) are reduced to file names, so no path of the training machine
 * leaves with the model. `out` must not exist or be empty, or hold an
 * earlier export (only bundle files).
 */
export function exportBundle(modelDir: string, out: string): ExportedBundle {
  return writeBundleExport(loadBundle(modelDir), out);
}

/**
 * exportBundle for a bundle already loaded (export-web reuses what it
 * validated rather than reading the folder again). `out` must not be a
 * symbolic link (its target would receive the files) and may hold only
 * bundle files, which are replaced: files written by rename, so a planted
 * link at a file's name is replaced, never written through.
 */
export function writeBundleExport(bundle: BundleParts, out: string): ExportedBundle {
  let replaced: string[] = [];
  let st;
  try {
    st = lstatSync(out);
  } catch {
    st = null;
  }
  if (st) {
    if (st.isSymbolicLink()) throw new BundleError(`${out}: is a symbolic link; export into a real folder (the link's target would receive the files)`);
    if (!st.isDirectory()) throw new BundleError(`${out}: exists and is not a directory`);
    const present = readdirSync(out);
    const foreign = present.filter((f) => !BUNDLE_FILES.test(f));
    if (foreign.length) throw new BundleError(`${out}: not empty (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); export into a new or empty folder`);
    replaced = present.sort();
  }
  const config = structuredClone(bundle.config);
  config.data.corpus = basename(config.data.corpus);
  if (config.data.validData) config.data.validData = basename(config.data.validData);
  if (config.data.testData) config.data.testData = basename(config.data.testData);
  saveBundle(out, { config, vocabs: bundle.vocabs, model: bundle.model, history: bundle.history });
  const files = readdirSync(out).filter((f) => BUNDLE_FILES.test(f)).sort();
  return { dir: out, files, bytes: files.reduce((n, f) => n + statSync(join(out, f)).size, 0), replaced };
}
