/**
 * Named parameters to and from one binary blob (little-endian, each tensor
 * 4-byte aligned) plus a JSON index with names, shapes, dtypes, offsets and
 * CRC-32 checksums. No file system here, so the browser can read bundles;
 * the bundle layer writes the files.
 *
 * Version 1: every tensor float32. Version 2 (written only when some tensor
 * is int8, so float32 bundles stay readable by older s2s): a dtype per
 * tensor, `float32` or `int8`; an int8 tensor is `length` int8 values in its
 * row-major order followed (4-aligned, at `scaleOffset`) by one float32
 * scale per channel along `scaleAxis` (0: per row, 1: per column), value =
 * int8 × scale, each part with its own CRC.
 */
import { Tensor, shapeSize } from './tensor.js';
import { int8FromLogical, int8Logical, attachInt8 } from './int8.js';
import { S2SError } from '../errors.js';

export const WEIGHTS_FORMAT = 's2s-weights';
/** The newest weights index version this s2s writes and reads. */
export const WEIGHTS_VERSION = 2;
/** The version of an index whose tensors are all float32 (what s2s before int8 bundles reads). */
export const WEIGHTS_VERSION_FLOAT32 = 1;

export type WeightsDtype = 'float32' | 'int8';

export interface WeightsEntry {
  name: string;
  shape: number[];
  /** Version 2 (absent in version 1, where every tensor is float32). */
  dtype?: WeightsDtype;
  /** Byte offset in the blob. */
  offset: number;
  /** Number of values (float32 or int8). */
  length: number;
  crc32: number;
  /** int8: the axis the scales run along (0: one per row, 1: one per column). */
  scaleAxis?: 0 | 1;
  /** int8: byte offset of the shape[scaleAxis] float32 scales (after the values, 4-aligned). */
  scaleOffset?: number;
  /** int8: CRC-32 of the scales' bytes. */
  scaleCrc32?: number;
}

export interface WeightsIndex {
  format: typeof WEIGHTS_FORMAT;
  version: number;
  /** Version 1 only: every tensor's dtype. */
  dtype?: 'float32';
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

/** Slicing-by-8 tables: T[k·256 + b] is the CRC of byte b followed by k zero bytes. */
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  return t;
})();

/**
 * CRC-32 (IEEE), as zip and PNG use. Eight bytes per step (slicing-by-8):
 * the weights of a bundle are checked once whole and once per tensor on
 * every load, and a byte at a time that was most of a browser's parse time.
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  const t = CRC_TABLES;
  let c = ~seed;
  const n = bytes.length;
  let i = 0;
  for (const end = n - 7; i < end; i += 8) {
    const lo = c ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^ t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
      t[768 + bytes[i + 4]] ^ t[512 + bytes[i + 5]] ^ t[256 + bytes[i + 6]] ^ t[bytes[i + 7]];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** a·b mod the CRC-32 polynomial, in its bit-reflected form (bit 31 is x⁰). */
function multiplyModPoly(a: number, b: number): number {
  let m = 0x80000000, p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ 0xedb88320 : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod the polynomial for k = 0 … 31. */
const X_POW_2K = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x¹
  for (let k = 0; k < 32; k++) {
    t[k] = p;
    p = multiplyModPoly(p, p);
  }
  return t;
})();

/**
 * CRC-32 of A followed by B from crc32(A), crc32(B) and B's length (the
 * zlib crc32_combine identity: A's CRC shifted over len(B) zero bytes, XOR
 * B's), in O(log len) — so one pass over a blob yields each tensor's CRC and
 * the whole blob's.
 */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  let shift = 0x80000000; // x⁰
  // x^(8·lengthB): the length's bits select powers x^(2^k) from k = 3 (a byte is 2³ bits).
  for (let n = lengthB, k = 3; n > 0; n = Math.floor(n / 2), k++) if (n % 2 === 1) shift = multiplyModPoly(X_POW_2K[k & 31], shift);
  return (multiplyModPoly(shift, crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}

/** The CRC-32 of each consecutive `blockSize`-byte block of a blob (the last block may be shorter). */
export interface BlockChecksums {
  blockSize: number;
  /** Bytes in all: the blob's length. */
  length: number;
  crcs: Uint32Array;
}

/**
 * Block CRCs of a byte stream, taken as its chunks arrive (a download): the
 * blob's checks then cost no pass of their own after the last byte
 * (deserializeWeights' `checksums`).
 */
export class StreamChecksums {
  /** 16 KiB: few blocks to combine, and little to re-read at the edges of each tensor. */
  static readonly BLOCK_SIZE = 1 << 14;
  private readonly crcs: number[] = [];
  private crc = 0;
  private filled = 0;
  private length = 0;
  update(chunk: Uint8Array): void {
    const size = StreamChecksums.BLOCK_SIZE;
    for (let at = 0; at < chunk.length;) {
      const take = Math.min(size - this.filled, chunk.length - at);
      this.crc = crc32(chunk.subarray(at, at + take), this.crc);
      this.filled += take;
      at += take;
      if (this.filled === size) {
        this.crcs.push(this.crc);
        this.crc = 0;
        this.filled = 0;
      }
    }
    this.length += chunk.length;
  }
  finish(): BlockChecksums {
    const crcs = this.filled > 0 ? [...this.crcs, this.crc] : this.crcs;
    return { blockSize: StreamChecksums.BLOCK_SIZE, length: this.length, crcs: Uint32Array.from(crcs) };
  }
}

/**
 * The whole blob's CRC built from the CRCs of its regions, taken in order:
 * the gaps between regions are checksummed as they are passed, each region
 * once (its own CRC is returned and folded into the whole). With block CRCs
 * taken as the blob streamed in, a region's CRC is its blocks' combined, and
 * only the partial blocks at its two ends are read again.
 */
class BlobChecksum {
  private at = 0;
  private crc = 0;
  constructor(private readonly blob: Uint8Array, private readonly blocks?: BlockChecksums) {}
  /** crc32 of blob[start, end), which must not begin before the previous region's end. */
  region(start: number, end: number): number {
    if (this.blocks) return this.fromBlocks(start, end, this.blocks);
    if (start > this.at) this.crc = crc32(this.blob.subarray(this.at, start), this.crc);
    const own = crc32(this.blob.subarray(start, end));
    this.crc = crc32Combine(this.crc, own, end - start);
    this.at = end;
    return own;
  }
  /** The whole blob's CRC (the rest after the last region included). */
  whole(): number {
    if (this.blocks) {
      const { blockSize, crcs, length } = this.blocks;
      let c = 0;
      for (let b = 0; b < crcs.length; b++) c = crc32Combine(c, crcs[b], Math.min(blockSize, length - b * blockSize));
      return c;
    }
    return this.at < this.blob.length ? crc32(this.blob.subarray(this.at), this.crc) : this.crc;
  }
  private fromBlocks(start: number, end: number, { blockSize, crcs }: BlockChecksums): number {
    const firstWhole = Math.ceil(start / blockSize) * blockSize;
    if (firstWhole + blockSize > end) return crc32(this.blob.subarray(start, end));
    let c = crc32(this.blob.subarray(start, firstWhole));
    let at = firstWhole;
    for (; at + blockSize <= end; at += blockSize) c = crc32Combine(c, crcs[at / blockSize], blockSize);
    return crc32(this.blob.subarray(at, end), c);
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new WeightsError('weights I/O needs a little-endian host');
}

/** What serializeWeights takes: a name, a shape and float32 data, or an int8 payload (Tensor fits). */
export interface NamedWeights {
  name?: string;
  shape: readonly number[];
  data: Float32Array;
  int8?: import('./tensor.js').Int8Weight | null;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** Packs named tensors into a blob and its index (order preserved): version 1 when all are float32, else version 2. */
export function serializeWeights(tensors: readonly NamedWeights[]): { index: WeightsIndex; blob: Uint8Array } {
  assertLittleEndian();
  const anyInt8 = tensors.some((t) => t.int8);
  let byteLength = 0;
  for (const t of tensors) {
    if (t.int8) byteLength = align4(byteLength + t.int8.values.length) + t.int8.scales.length * 4;
    else byteLength += t.data.length * 4;
  }
  const blob = new Uint8Array(byteLength);
  const entries: WeightsEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    if (!t.name) throw new WeightsError('serializeWeights: every tensor needs a name');
    if (seen.has(t.name)) throw new WeightsError(`serializeWeights: duplicate name "${t.name}"`);
    seen.add(t.name);
    if (t.int8) {
      const values = int8Logical(t.int8);
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.length);
      blob.set(bytes, offset);
      const scaleOffset = align4(offset + bytes.length);
      const scaleBytes = new Uint8Array(t.int8.scales.buffer, t.int8.scales.byteOffset, t.int8.scales.length * 4);
      blob.set(scaleBytes, scaleOffset);
      entries.push({
        name: t.name, shape: [...t.shape], dtype: 'int8', offset, length: values.length, crc32: crc32(bytes),
        scaleAxis: t.int8.axis, scaleOffset, scaleCrc32: crc32(scaleBytes),
      });
      offset = scaleOffset + scaleBytes.length;
      continue;
    }
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.length * 4);
    blob.set(bytes, offset);
    entries.push({ name: t.name, shape: [...t.shape], ...(anyInt8 ? { dtype: 'float32' as const } : {}), offset, length: t.data.length, crc32: crc32(bytes) });
    offset += bytes.length;
  }
  const index: WeightsIndex = anyInt8
    ? { format: WEIGHTS_FORMAT, version: WEIGHTS_VERSION, byteLength, crc32: crc32(blob), tensors: entries }
    : { format: WEIGHTS_FORMAT, version: WEIGHTS_VERSION_FLOAT32, dtype: 'float32', byteLength, crc32: crc32(blob), tensors: entries };
  return { index, blob };
}

/** True when an index (already validated or not) holds int8 tensors. */
export function indexHasInt8(indexJson: unknown): boolean {
  const t = (indexJson as { tensors?: unknown } | null)?.tensors;
  return Array.isArray(t) && t.some((e) => (e as { dtype?: unknown } | null)?.dtype === 'int8');
}

/**
 * Validates an index against its blob and returns the tensors by name.
 * Every number in the index is checked against the blob before anything is
 * allocated, and tensors must lie in the blob in order without overlapping,
 * so a hostile index cannot make the reader allocate or checksum more bytes
 * than the blob holds. The tensors own copies of their data, unless
 * `views` is set: then float32 tensors whose bytes are 4-aligned in the
 * blob's buffer are views of it (no copy; for callers that copy them on,
 * as assignWeights does, and leave the blob alone meanwhile). `checksums`,
 * the blob's block CRCs taken while it downloaded (StreamChecksums), spare
 * the pass over its bytes that the CRCs would take.
 */
export function deserializeWeights(indexJson: unknown, blob: Uint8Array, source = 'weights', options: { views?: boolean; checksums?: BlockChecksums } = {}): Map<string, Tensor> {
  assertLittleEndian();
  const fail = (msg: string): never => {
    throw new WeightsError(`${source}: ${msg}`);
  };
  if (typeof indexJson !== 'object' || indexJson === null) fail('index is not a JSON object');
  const index = indexJson as Partial<WeightsIndex>;
  if (index.format !== WEIGHTS_FORMAT) fail(`index field "format" must be "${WEIGHTS_FORMAT}", got ${JSON.stringify(index.format)}`);
  if (index.version !== WEIGHTS_VERSION_FLOAT32 && index.version !== WEIGHTS_VERSION) {
    fail(`weights format version ${JSON.stringify(index.version)} is not supported (this s2s reads versions ${WEIGHTS_VERSION_FLOAT32} and ${WEIGHTS_VERSION}); was it written by a newer s2s?`);
  }
  const v1 = index.version === WEIGHTS_VERSION_FLOAT32;
  if (v1 && index.dtype !== 'float32') fail(`index field "dtype" must be "float32", got ${JSON.stringify(index.dtype)}`);
  if (index.byteLength !== blob.length) fail(`blob has ${blob.length} bytes but the index says ${JSON.stringify(index.byteLength)}: the file is truncated or does not belong to this index`);
  if (!Array.isArray(index.tensors)) fail('index field "tensors" must be an array');
  const corrupted = (): never => fail('checksum mismatch: the weights file is corrupted');
  // Each tensor's bytes are checksummed once, for its own CRC and (combined) the blob's. The blob's is
  // judged first, as if checked before everything else: a corrupted file says so, whatever else is wrong.
  const blocks = options.checksums;
  if (blocks && (blocks.length !== blob.length || !(blocks.blockSize > 0) || blocks.crcs.length !== Math.ceil(blob.length / blocks.blockSize))) {
    fail(`block checksums of ${blocks.length} bytes in ${blocks.crcs.length} blocks do not describe this ${blob.length}-byte blob`);
  }
  const sums = new BlobChecksum(blob, blocks);
  const mismatches: string[] = [];
  const out = new Map<string, Tensor>();
  try {
    readEntries(index, blob, sums, mismatches, out, options, fail);
  } catch (err) {
    if (crc32(blob) !== index.crc32) corrupted();
    throw err;
  }
  if (sums.whole() !== index.crc32) corrupted();
  if (mismatches.length > 0) fail(mismatches[0]);
  return out;
}

/** The tensor entries of an index, checked against the blob; their checksums go to `sums`, mismatches to `mismatches`. */
function readEntries(
  index: Partial<WeightsIndex>, blob: Uint8Array, sums: BlobChecksum, mismatches: string[], out: Map<string, Tensor>,
  options: { views?: boolean }, fail: (msg: string) => never,
): void {
  const v1 = index.version === WEIGHTS_VERSION_FLOAT32;
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
    const dtype = v1 ? 'float32' : e.dtype;
    if (dtype !== 'float32' && dtype !== 'int8') fail(`${where} ("${name}"): field "dtype" must be "float32" or "int8", got ${JSON.stringify(e.dtype)}`);
    if (dtype === 'int8') {
      end = readInt8Entry(e, name, where, size, offset, end, blob, sums, mismatches, out, fail);
      return;
    }
    if (offset + size * 4 > blob.length) fail(`${where} ("${name}"): bytes [${offset}, ${offset + size * 4}) lie outside the ${blob.length}-byte blob`);
    if (offset < end) fail(`${where} ("${name}"): bytes from ${offset} overlap the previous tensor (which ends at ${end}); tensors must be stored in order`);
    end = offset + size * 4;
    const bytes = blob.subarray(offset, offset + size * 4);
    if (sums.region(offset, offset + size * 4) !== e.crc32) mismatches.push(`${where} ("${name}"): checksum mismatch`);
    const at = blob.byteOffset + offset;
    const view = options.views === true && at % 4 === 0;
    const data = view ? new Float32Array(blob.buffer, at, size) : new Float32Array(size);
    if (!view) new Uint8Array(data.buffer).set(bytes);
    out.set(name, new Tensor(data, e.shape as number[], false, name));
  });
}

/** Checks and reads one int8 entry of a version-2 index; returns where it ends. */
function readInt8Entry(
  e: Partial<WeightsEntry>, name: string, where: string, size: number, offset: number, end: number, blob: Uint8Array,
  sums: BlobChecksum, mismatches: string[], out: Map<string, Tensor>, fail: (msg: string) => never,
): number {
  const shape = e.shape as number[];
  if (shape.length !== 2) fail(`${where} ("${name}"): an int8 tensor must be a matrix, got shape [${shape.join(', ')}]`);
  if (e.scaleAxis !== 0 && e.scaleAxis !== 1) fail(`${where} ("${name}"): field "scaleAxis" must be 0 or 1, got ${JSON.stringify(e.scaleAxis)}`);
  const axis = e.scaleAxis as 0 | 1;
  const channels = shape[axis];
  if (offset < end) fail(`${where} ("${name}"): bytes from ${offset} overlap the previous tensor (which ends at ${end}); tensors must be stored in order`);
  if (offset + size > blob.length) fail(`${where} ("${name}"): bytes [${offset}, ${offset + size}) lie outside the ${blob.length}-byte blob`);
  const so = e.scaleOffset;
  if (!Number.isSafeInteger(so) || (so as number) % 4 !== 0 || (so as number) < offset + size) {
    fail(`${where} ("${name}"): bad scaleOffset ${JSON.stringify(so)} (the scales follow the ${size} int8 values, 4-byte aligned)`);
  }
  const scaleOffset = so as number;
  if (scaleOffset + channels * 4 > blob.length) fail(`${where} ("${name}"): the ${channels} scales at [${scaleOffset}, ${scaleOffset + channels * 4}) lie outside the ${blob.length}-byte blob`);
  const bytes = blob.subarray(offset, offset + size);
  if (sums.region(offset, offset + size) !== e.crc32) mismatches.push(`${where} ("${name}"): checksum mismatch`);
  const scaleBytes = blob.subarray(scaleOffset, scaleOffset + channels * 4);
  if (sums.region(scaleOffset, scaleOffset + channels * 4) !== e.scaleCrc32) mismatches.push(`${where} ("${name}"): scale checksum mismatch`);
  const values = new Int8Array(size);
  new Uint8Array(values.buffer).set(bytes);
  const scales = new Float32Array(channels);
  new Uint8Array(scales.buffer).set(scaleBytes);
  for (let c = 0; c < channels; c++) {
    if (!(Number.isFinite(scales[c]) && scales[c] >= 0)) fail(`${where} ("${name}"): scale ${c} is ${scales[c]}; scales must be finite and non-negative`);
  }
  for (let i = 0; i < size; i++) if (values[i] === -128) fail(`${where} ("${name}"): value ${i} is −128; symmetric int8 weights lie in [−127, 127]`);
  out.set(name, Tensor.quantized(shape, int8FromLogical(shape, axis, values, scales), name));
  return scaleOffset + channels * 4;
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
  for (const p of params) {
    const w = loaded.get(p.name as string) as Tensor;
    if (w.int8) attachInt8(p, w.int8); // the parameter keeps the int8 payload and drops its float32 data
    else if (p.int8) {
      p.int8 = null;
      (p as { data: Float32Array }).data = w.data.slice();
    } else p.data.set(w.data);
  }
}
