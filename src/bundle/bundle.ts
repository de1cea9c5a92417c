/**
 * Model bundles on disk. The blob's file name carries its checksum and is
 * written before the index that names it, so a bundle interrupted mid-save
 * still loads (old or new weights, never a mix). The format itself is in
 * format.ts.
 */
import { readFileSync, existsSync, readdirSync, unlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { serializeWeights } from '../engine/index.js';
import type { Translator } from '../decode/translator.js';
import { writeFileAtomic, ensureDir } from './atomic.js';
import { BundleError, bundleFromFiles, makeTranslator, type BundleParts } from './format.js';

export * from './format.js';

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
  writeFileAtomic(join(dir, 'weights.json'), JSON.stringify({ ...index, file: blobName }, null, 1));
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(parts.config, null, 2));
  writeFileAtomic(join(dir, 'vocab.json'), JSON.stringify({ source: parts.vocabs.source.toJSON(), target: parts.vocabs.target.toJSON() }));
  writeFileAtomic(join(dir, 'history.json'), JSON.stringify(parts.history, null, 1));
  // Older blobs are no longer named by the index.
  for (const f of readdirSync(dir)) {
    if (/^weights-[0-9a-f]{8}\.bin$/.test(f) && f !== blobName) {
      try { unlinkSync(join(dir, f)); } catch { /* a concurrent save removed it */ }
    }
  }
}

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new BundleError(`${path}: missing (is this an s2s model directory?)`);
  const text = readFileSync(path, 'utf8');
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
  const blob = new Uint8Array(readFileSync(blobPath));
  const historyPath = join(dir, 'history.json');
  let history: unknown = [];
  if (existsSync(historyPath)) {
    try { history = JSON.parse(readFileSync(historyPath, 'utf8')); } catch { history = []; }
  }
  const parts = bundleFromFiles({ config, vocab, weightsIndex, weightsBlob: blob, history }, dir);
  return { ...parts, translator: makeTranslator(parts), dir };
}
