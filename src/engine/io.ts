/**
 * Named parameters to and from one binary blob (float32, little-endian, each
 * tensor 4-byte aligned) plus a JSON index with names, shapes, offsets and
 * CRC-32 checksums. No file system here, so the browser can read bundles;
 * the bundle layer writes the files.
 */
import { Tensor, shapeSize } from './tensor.js';
import { S2SError } from '../errors.js';

export const WEIGHTS_FORMAT = 's2s-weights';
export const WEIGHTS_VERSION = 1;

export interface WeightsEntry {
  name: string;
  shape: number[];
  /** Byte offset in the blob. */
  offset: number;
  /** Number of float32 values. */
  length: number;
  crc32: number;
}

export interface WeightsIndex {
  format: typeof WEIGHTS_FORMAT;
  version: number;
  dtype: 'float32';
  byteLength: number;
  crc32: number;
  tensors: WeightsEntry[];
}

/** A weights index or blob that is malformed, truncated, corrupted or does not fit the model. */
export class WeightsError extends S2SError {
  constructor(message: string) {
    super(message);
    this.name = 'WeightsError';
  }
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE), as zip and PNG use. */
export function crc32(bytes: Uint8Array, seed = 0): number {
  let c = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new WeightsError('weights I/O needs a little-endian host');
}

/** Packs named tensors into a blob and its index (order preserved). */
export function serializeWeights(tensors: readonly { name?: string; shape: readonly number[]; data: Float32Array }[]): { index: WeightsIndex; blob: Uint8Array } {
  assertLittleEndian();
  const byteLength = tensors.reduce((s, t) => s + t.data.length * 4, 0);
  const blob = new Uint8Array(byteLength);
  const entries: WeightsEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (!t.name) throw new WeightsError('serializeWeights: every tensor needs a name');
    if (seen.has(t.name)) throw new WeightsError(`serializeWeights: duplicate name "${t.name}"`);
    seen.add(t.name);
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4);
    blob.set(bytes, offset);
    entries.push({ name: t.name, shape: [...t.shape], offset, length: t.data.length, crc32: crc32(bytes) });
    offset += bytes.length;
  }
  return {
    index: { format: WEIGHTS_FORMAT, version: WEIGHTS_VERSION, dtype: 'float32', byteLength, crc32: crc32(blob), tensors: entries },
    blob,
  };
}

/**
 * Validates an index against its blob and returns the tensors by name.
 * Every number in the index is checked against the blob before anything is
 * allocated, and tensors must lie in the blob in order without overlapping,
 * so a hostile index cannot make the reader allocate or checksum more bytes
 * than the blob holds.
 */
export function deserializeWeights(indexJson: unknown, blob: Uint8Array, source = 'weights'): Map<string, Tensor> {
  assertLittleEndian();
  const fail = (msg: string): never => {
    throw new WeightsError(`${source}: ${msg}`);
  };
  if (typeof indexJson !== 'object' || indexJson === null) fail('index is not a JSON object');
  const index = indexJson as Partial<WeightsIndex>;
  if (index.format !== WEIGHTS_FORMAT) fail(`index field "format" must be "${WEIGHTS_FORMAT}", got ${JSON.stringify(index.format)}`);
  if (index.version !== WEIGHTS_VERSION) fail(`weights format version ${JSON.stringify(index.version)} is not supported (this s2s reads version ${WEIGHTS_VERSION})`);
  if (index.dtype !== 'float32') fail(`index field "dtype" must be "float32", got ${JSON.stringify(index.dtype)}`);
  if (index.byteLength !== blob.length) fail(`blob has ${blob.length} bytes but the index says ${JSON.stringify(index.byteLength)}: the file is truncated or does not belong to this index`);
  if (!Array.isArray(index.tensors)) fail('index field "tensors" must be an array');
  if (crc32(blob) !== index.crc32) fail('checksum mismatch: the weights file is corrupted');
  const out = new Map<string, Tensor>();
  let end = 0;
  (index.tensors as unknown[]).forEach((raw, i) => {
    const e = raw as Partial<WeightsEntry>;
    const where = `tensors[${i}]`;
    if (typeof e !== 'object' || e === null) fail(`${where} is not an object`);
    if (typeof e.name !== 'string' || e.name.length === 0 || e.name.length > 256) fail(`${where}.name must be a non-empty string`);
    const name = e.name as string;
    if (out.has(name)) fail(`${where}: duplicate tensor name "${name}"`);
    if (!Array.isArray(e.shape) || e.shape.length > 8 || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0 && d <= blob.length)) {
      fail(`${where} ("${name}"): shape must be an array of at most 8 non-negative integers`);
    }
    const size = shapeSize(e.shape as number[]);
    if (e.length !== size) fail(`${where} ("${name}"): length ${JSON.stringify(e.length)} does not match shape [${(e.shape as number[]).join(', ')}]`);
    if (!Number.isSafeInteger(e.offset) || (e.offset as number) < 0 || (e.offset as number) % 4 !== 0) fail(`${where} ("${name}"): bad offset ${JSON.stringify(e.offset)}`);
    const offset = e.offset as number;
    if (offset + size * 4 > blob.length) fail(`${where} ("${name}"): bytes [${offset}, ${offset + size * 4}) lie outside the ${blob.length}-byte blob`);
    if (offset < end) fail(`${where} ("${name}"): bytes from ${offset} overlap the previous tensor (which ends at ${end}); tensors must be stored in order`);
    end = offset + size * 4;
    const bytes = blob.subarray(offset, offset + size * 4);
    if (crc32(bytes) !== e.crc32) fail(`${where} ("${name}"): checksum mismatch`);
    const data = new Float32Array(size);
    new Uint8Array(data.buffer).set(bytes);
    out.set(name, new Tensor(data, e.shape as number[], false, name));
  });
  return out;
}

/**
 * Copies loaded values into existing parameters, checking that names and
 * shapes match exactly (a model/bundle mismatch is a clear error).
 */
export function assignWeights(params: readonly Tensor[], loaded: Map<string, Tensor>, source = 'weights'): void {
  const missing = params.filter((p) => !loaded.has(p.name as string)).map((p) => p.name);
  if (missing.length) throw new WeightsError(`${source}: missing parameters ${missing.join(', ')}`);
  const known = new Set(params.map((p) => p.name));
  const extra = [...loaded.keys()].filter((n) => !known.has(n));
  if (extra.length) throw new WeightsError(`${source}: unexpected parameters ${extra.join(', ')} (does the config match these weights?)`);
  // Validate every shape before copying anything, so a mismatch leaves the model untouched.
  for (const p of params) {
    const w = loaded.get(p.name as string) as Tensor;
    if (w.shape.length !== p.shape.length || w.shape.some((d, i) => d !== p.shape[i])) {
      throw new WeightsError(`${source}: parameter "${p.name}" has shape [${w.shape.join(', ')}] but the model expects [${p.shape.join(', ')}]`);
    }
  }
  for (const p of params) p.data.set((loaded.get(p.name as string) as Tensor).data);
}
