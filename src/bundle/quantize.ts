/**
 * int8 quantization of a bundle (`s2s quantize`): embeddings and every
 * weight matrix become int8 with one float32 scale per output channel
 * (symmetric), biases and layer norms stay float32; the model's int8Plan
 * says which matrices and along which axis. The result is a version-2
 * bundle that translates with the int8 kernels and keeps no float32 copy of
 * the quantized matrices. Training needs the float32 bundle.
 */
import { quantizeMatrix, attachInt8 } from '../engine/index.js';
import type { TranslationModel } from '../model/model.js';
import { BUNDLE_VERSION, BundleError, type BundleParts } from './format.js';
import { loadBundle, writeBundleExport, type ExportedBundle } from './bundle.js';
import { statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** What quantizing changed. */
export interface QuantizeSummary {
  /** Matrices now int8, and the values they hold. */
  tensors: number;
  values: number;
  /** Parameters left float32 (biases, layer norms), and their values. */
  floatTensors: number;
  floatValues: number;
}

/** Quantizes a model's weight matrices in place (those already int8 are left alone). */
export function quantizeModel(model: TranslationModel): QuantizeSummary {
  const planned = new Set<unknown>();
  let tensors = 0, values = 0;
  for (const { param, axis } of model.int8Plan()) {
    planned.add(param);
    if (param.int8) continue;
    attachInt8(param, quantizeMatrix(param.data, param.shape, axis));
    tensors++;
    values += param.size;
  }
  const rest = model.parameters().filter((p) => !planned.has(p));
  return { tensors, values, floatTensors: rest.length, floatValues: rest.reduce((n, p) => n + p.size, 0) };
}

/** quantizeModel on a bundle in memory; its config becomes version 2 (what saveBundle writes for int8 weights). */
export function quantizeParts(parts: BundleParts): QuantizeSummary {
  const summary = quantizeModel(parts.model);
  parts.config.version = BUNDLE_VERSION;
  return summary;
}

/** What quantizeBundle wrote. */
export interface QuantizedBundle extends ExportedBundle, QuantizeSummary {
  /** Bytes of the source bundle's files (config, vocab, weights, history; checkpoints not counted). */
  sourceBytes: number;
}

const BUNDLE_FILE = /^(config|vocab|weights|history)\.json$|^weights-[0-9a-f]{8}\.bin$/;

function bundleBytes(dir: string): number {
  return readdirSync(dir).filter((f) => BUNDLE_FILE.test(f)).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
}

/**
 * Reads the bundle in `modelDir`, quantizes it and writes the int8 bundle
 * into `out` (a new or empty folder, as `s2s export`: only what translation
 * needs, the corpus reduced to its file name).
 */
export function quantizeBundle(modelDir: string, out: string): QuantizedBundle {
  const bundle = loadBundle(modelDir);
  if (bundle.model.parameters().every((p) => p.int8 || !bundle.model.int8Plan().some((e) => e.param === p))) {
    throw new BundleError(`${modelDir}: already quantized (its weight matrices are int8)`);
  }
  const summary = quantizeParts(bundle);
  const written = writeBundleExport(bundle, out);
  return { ...written, ...summary, sourceBytes: bundleBytes(modelDir) };
}

