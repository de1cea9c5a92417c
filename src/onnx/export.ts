/**
 * `exportOnnx` (`s2s export-onnx`): a bundle (a folder, or its parts in
 * memory) → encoder.onnx, decoder_step.onnx, tokenizer.json, vocab.json,
 * model.json and README.md in a folder. The graphs come from the
 * architecture's exporter (recurrent.ts for RNNs); each file is written
 * atomically (bundle/atomic.ts), the README last, so a folder with a README
 * is a complete export.
 */
import { mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadBundle, S2S_VERSION, type BundleParts } from '../bundle/bundle.js';
import { writeFileAtomic } from '../bundle/atomic.js';
import { describeArchitecture } from '../model/config.js';
import { Seq2Seq } from '../model/seq2seq.js';
import { S2SError } from '../errors.js';
import { IR_VERSION, OPSET } from './graph.js';
import { type ExportedGraphs, type GraphExportOptions, type OnnxContract } from './contract.js';
import { exportRecurrentGraphs } from './recurrent.js';
import { exportTransformerGraphs } from './transformer.js';
import { Transformer } from '../model/transformer.js';
import { tokenizerJson, vocabJson } from './tokenizer-json.js';
import { exportReadme } from './readme.js';
import { PAD_ID, BOS_ID, EOS_ID, UNK_ID } from '../data/vocab.js';

/** An export that cannot be made (bad model folder, unsupported architecture, output folder problems). */
export class OnnxExportError extends S2SError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OnnxExportError';
  }
}

/** Options of `exportOnnx`. */
export interface OnnxExportOptions {
  /** Extra metadata_props for both graphs (besides s2s's own: architecture, s2s version). Default none. */
  metadata?: Record<string, string>;
}

/** What `exportOnnx` wrote. */
export interface OnnxExportResult {
  outDir: string;
  /** File names written, in order. */
  files: string[];
  /** Total bytes written. */
  bytes: number;
  contract: OnnxContract;
}

/** The files of an export, in the order they are written. */
export const ONNX_EXPORT_FILES = ['encoder.onnx', 'decoder_step.onnx', 'tokenizer.json', 'vocab.json', 'model.json', 'README.md'] as const;

/** The two graphs of any model s2s trains. */
export function exportGraphs(parts: BundleParts, options: GraphExportOptions): ExportedGraphs {
  const model = parts.model;
  if (model instanceof Seq2Seq) return exportRecurrentGraphs(model, options);
  if (model instanceof Transformer) return exportTransformerGraphs(model, options);
  throw new OnnxExportError(`ONNX export of ${describeArchitecture(model.config)} (arch "${model.config.arch}") is not supported by this version of s2s`);
}

function load(source: BundleParts | string): BundleParts {
  if (typeof source !== 'string') return source;
  try {
    return loadBundle(source);
  } catch (e) {
    if (e instanceof S2SError) throw new OnnxExportError(`--model ${source}: ${e.message}`, { cause: e });
    throw e;
  }
}

/** Writes the ONNX export of a bundle (a folder or its parts) into outDir (created if needed; files there of the same names are replaced). */
export function exportOnnx(source: BundleParts | string, outDir: string, options: OnnxExportOptions = {}): OnnxExportResult {
  const parts = load(source);
  if (typeof source === 'string' && resolve(source) === resolve(outDir)) throw new OnnxExportError(`${outDir}: the output folder must not be the model folder`);
  const c = parts.config;
  const metadata = { s2s_version: S2S_VERSION, architecture: describeArchitecture(c.model), ...options.metadata };
  const graphs = exportGraphs(parts, { producerVersion: S2S_VERSION, metadata });
  const contract: OnnxContract = {
    format: 's2s-onnx', version: 1,
    architecture: describeArchitecture(c.model),
    config: { ...c.model } as unknown as Record<string, unknown>,
    opset: OPSET, irVersion: IR_VERSION,
    weights: parts.model.parameters().some((p) => p.int8) ? 'int8' : 'float32',
    ...graphs.contract,
    targetTokens: { pad: PAD_ID, bos: BOS_ID, eos: EOS_ID, unk: UNK_ID },
    maxSourceLength: c.data.maxSourceLength ?? null,
    maxOutputLength: c.data.maxTargetLength,
  };
  const tokenizer = tokenizerJson(c.tokenizers);
  const contents: [string, string | Uint8Array][] = [
    ['encoder.onnx', graphs.encoder],
    ['decoder_step.onnx', graphs.decoder],
    ['tokenizer.json', JSON.stringify(tokenizer, null, 1) + '\n'],
    ['vocab.json', JSON.stringify(vocabJson(parts.vocabs)) + '\n'],
    ['model.json', JSON.stringify(contract, null, 2) + '\n'],
    ['README.md', exportReadme(contract, tokenizer)],
  ];
  try {
    mkdirSync(outDir, { recursive: true });
    if (!statSync(outDir).isDirectory()) throw new OnnxExportError(`${outDir}: not a directory`);
  } catch (e) {
    if (e instanceof OnnxExportError) throw e;
    throw new OnnxExportError(`${outDir}: cannot create the output folder (${(e as Error).message})`, { cause: e });
  }
  let bytes = 0;
  for (const [name, data] of contents) {
    try {
      writeFileAtomic(join(outDir, name), data);
    } catch (e) {
      throw new OnnxExportError(`${join(outDir, name)}: cannot write (${(e as Error).message})`, { cause: e });
    }
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  }
  return { outDir, files: contents.map(([n]) => n), bytes, contract };
}
