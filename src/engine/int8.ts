/**
 * int8 weights for inference (quantized bundles): symmetric quantization
 * with one float32 scale per output channel, the payload a parameter
 * tensor carries instead of its float32 data (Int8Weight in tensor.ts),
 * and the products the ops run on it. Activations are quantized per row on
 * the fly (as intgemm and CTranslate2 do), multiplied in int8 with int32
 * sums, and dequantized with row scale × channel scale (kernels/types.ts
 * spells out the arithmetic, bit-exact across kernel sets). Training never
 * sees int8: an op recording gradients through an int8 weight is an error.
 */
import { Tensor, ShapeError, needsGrad, shapeString, type Int8Weight } from './tensor.js';
import { kernels, jsKernels } from './kernels/index.js';
import { adoptLongLived, adoptLongLivedInt8 } from './buffers.js';
import { S2SError } from '../errors.js';

export type { Int8Weight } from './tensor.js';

/** An int8 weight used where gradients are recorded (training an int8 model). */
export class Int8TrainingError extends S2SError {
  constructor(name: string | undefined, op: string) {
    super(`${op}: parameter "${name ?? '?'}" holds int8 weights (a quantized bundle), which are for inference only; train or fine-tune from the float32 bundle`);
    this.name = 'Int8TrainingError';
  }
}

const EMPTY = new Float32Array(0);

/** Channels and depth of a matrix [rows, cols] quantized along `axis`. */
function dims(shape: readonly number[], axis: 0 | 1): { channels: number; depth: number } {
  if (shape.length !== 2) throw new ShapeError(`int8 weights must be matrices, got shape ${shapeString(shape)}`);
  return axis === 0 ? { channels: shape[0], depth: shape[1] } : { channels: shape[1], depth: shape[0] };
}

/** The transpose of a row-major rows×cols array (any element type). */
function transpose<T extends Float32Array | Int8Array>(src: T, rows: number, cols: number, dst: T): T {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
  return dst;
}

/**
 * Quantizes a float32 matrix with one scale per channel along `axis`, by
 * the activation rule (quantizeRowsInt8 on the channel-major values, with the
 * TypeScript kernels so every machine writes the same bundle).
 */
export function quantizeMatrix(values: Float32Array, shape: readonly number[], axis: 0 | 1): Int8Weight {
  const { channels, depth } = dims(shape, axis);
  if (values.length !== channels * depth) throw new ShapeError(`quantizeMatrix: ${values.length} values for shape ${shapeString(shape)}`);
  const channelMajor = axis === 0 ? values : transpose(values, shape[0], shape[1], new Float32Array(values.length));
  for (let i = 0; i < channelMajor.length; i++) {
    if (!Number.isFinite(channelMajor[i])) throw new S2SError(`quantizeMatrix: value ${channelMajor[i]} at ${i} is not finite`);
  }
  const q = new Int8Array(values.length), scales = new Float32Array(channels);
  jsKernels.quantizeRowsInt8(channels, depth, channelMajor, q, scales);
  return { axis, channels, depth, values: q, scales };
}

/**
 * An int8 payload from values in the tensor's own row-major order (as a
 * bundle stores them) and one scale per channel along `axis`.
 */
export function int8FromLogical(shape: readonly number[], axis: 0 | 1, logical: Int8Array, scales: Float32Array): Int8Weight {
  const { channels, depth } = dims(shape, axis);
  if (logical.length !== channels * depth || scales.length !== channels) throw new ShapeError(`int8 payload does not fit shape ${shapeString(shape)}`);
  const values = axis === 0 ? logical : transpose(logical, shape[0], shape[1], new Int8Array(logical.length));
  return { axis, channels, depth, values, scales };
}

/** The payload's values in the tensor's own row-major order (what a bundle stores). */
export function int8Logical(w: Int8Weight): Int8Array {
  return w.axis === 0 ? w.values : transpose(w.values, w.channels, w.depth, new Int8Array(w.values.length));
}

/** Makes `t` an int8 weight: it carries the payload and drops its float32 data. */
export function attachInt8(t: Tensor, w: Int8Weight): void {
  const { channels, depth } = dims(t.shape, w.axis);
  if (w.channels !== channels || w.depth !== depth || w.values.length !== channels * depth || w.scales.length !== channels) {
    throw new ShapeError(`attachInt8: payload [${w.channels}, ${w.depth}] along axis ${w.axis} does not fit ${t}`);
  }
  // In the kernels' own memory when they have one (wasm: the int8 GEMM then reads the weights without a copy).
  t.int8 = { ...w, values: adoptLongLivedInt8(w.values), scales: adoptLongLived(w.scales) };
  (t as { data: Float32Array }).data = EMPTY;
}

/** The float32 values an int8 tensor stands for, in its row-major order. */
export function dequantize(t: Tensor): Float32Array {
  const w = t.int8;
  if (!w) return t.data;
  const out = new Float32Array(w.channels * w.depth);
  const rows = new Int32Array(w.channels);
  for (let i = 0; i < rows.length; i++) rows[i] = i;
  jsKernels.gatherRowsInt8(w.depth, w.values, w.scales, rows, out);
  return w.axis === 0 ? out : transpose(out, w.channels, w.depth, new Float32Array(out.length));
}

/**
 * A float32 stand-in for an int8 tensor used in a way its layout does not
 * serve (an unusual bundle): correct, just not fast. Float tensors pass through.
 */
export function denseOf(t: Tensor, op: string): Tensor {
  if (!t.int8) return t;
  checkInference(t, op);
  return new Tensor(dequantize(t), t.shape, false, t.name);
}

/** Throws when an op on an int8 weight `w` (and other inputs) would record gradients. */
export function checkInference(w: Tensor, op: string, ...others: (Tensor | null | undefined)[]): void {
  if (needsGrad(w, ...others)) throw new Int8TrainingError(w.name, op);
}

/**
 * out (m×channels) = x·W (+ bias) (or += with `accumulate`) for m rows of
 * x (contiguous, `depth` wide) against an int8 weight: x quantized per row,
 * int8 GEMM, dequantized. `first`/`count` pick a block of channels (a
 * column block of the logical W: the q/k/v parts of a fused projection).
 */
export function int8Product(
  x: Float32Array, m: number, w: Int8Weight, bias: Float32Array | null, out: Float32Array, accumulate: boolean,
  first = 0, count = w.channels, quantized?: QuantizedRows,
): void {
  const k = w.depth;
  const K = kernels();
  const qx = quantized ?? quantizeRows(x, m, k);
  if (m === 0 || count === 0) return;
  K.gemmInt8(m, count, k, qx.values, qx.scales, first === 0 && count === w.channels ? w.values : w.values.subarray(first * k, (first + count) * k),
    first === 0 && count === w.channels ? w.scales : w.scales.subarray(first, first + count), bias, accumulate, out);
}

/** Activations quantized per row, reusable across several products with the same input. */
export interface QuantizedRows {
  values: Int8Array;
  scales: Float32Array;
}

export function quantizeRows(x: Float32Array, m: number, k: number): QuantizedRows {
  const values = new Int8Array(m * k), scales = new Float32Array(m);
  if (m > 0 && k > 0) kernels().quantizeRowsInt8(m, k, x, values, scales);
  return { values, scales };
}

/** Rows of an int8 table (one scale per row), dequantized: an embedding lookup. */
export function int8GatherRows(w: Int8Weight, index: Int32Array, out: Float32Array): void {
  kernels().gatherRowsInt8(w.depth, w.values, w.scales, index, out);
}
