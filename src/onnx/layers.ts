/**
 * Reusable subgraphs over a GraphBuilder, each the ONNX form of one s2s
 * computation: weights as initializers, linear layers, embedding lookups,
 * masked softmax (s2s's: masked positions get weight 0, and a row with no
 * real position is all zeros), layer norm, exact GELU, and the shape
 * plumbing (reshape, transpose, unsqueeze, …) that opset 13+ takes as inputs.
 */
import type { GraphBuilder, Value } from './graph.js';
import { int8Logical, type Int8Weight } from '../engine/index.js';

/**
 * A weight as s2s stores it (an engine Tensor fits): row-major float32 data and its shape, or, in an int8
 * bundle, an int8 payload (then `data` is empty) with one scale per channel along `int8.axis`.
 */
export interface Weight {
  readonly data: Float32Array;
  readonly shape: readonly number[];
  readonly int8?: Int8Weight | null;
}

/** Float32 lowest value: what masked scores are set to before the softmax (exp underflows to exactly 0). */
const LOWEST = -3.4028234663852886e38;

/**
 * A weight as an initializer, optionally with another shape (same element count). An int8 weight stays
 * int8 in the file: its values (row-major) and scales feed a per-axis DequantizeLinear whose output is the
 * float32 weight s2s's `dequantize` gives; every use of the returned value shares that one int8 tensor.
 */
export function weight(g: GraphBuilder, name: string, w: Weight, shape: readonly number[] = w.shape): Value {
  if (!w.int8) return g.initializer(name, w.data, shape);
  if (shape.length !== w.shape.length || shape.some((d, i) => d !== w.shape[i])) throw new Error(`ONNX int8 weight ${name}: cannot be reshaped to [${shape.join(', ')}]`);
  return dequantized(g, name, int8Logical(w.int8), w.int8.scales, w.shape, w.int8.axis);
}

/**
 * int8 `values` of shape `dims` (row-major) with one float32 scale per index of `axis` (symmetric: zero
 * point 0) → DequantizeLinear (opset ≥ 13, per-axis) → the float32 tensor values × scale. The output is
 * named `name`; the initializers are `name`/int8 and `name`/scale.
 */
export function dequantized(g: GraphBuilder, name: string, values: Int8Array, scales: Float32Array, dims: readonly number[], axis: number): Value {
  if (scales.length !== dims[axis]) throw new Error(`ONNX int8 weight ${name}: ${scales.length} scales for axis ${axis} of [${dims.join(', ')}]`);
  const q = g.initializer(`${name}/int8`, values, dims);
  const s = g.initializer(`${name}/scale`, scales, [scales.length]);
  return g.op('DequantizeLinear', [q, s, g.int8Zeros(scales.length)], { axis }, name);
}

/** x·W (+ b): W is [in, out] (s2s's layout), x is [..., in]. */
export function linear(g: GraphBuilder, x: Value, kernel: Value, bias?: Value, name = 'linear'): Value {
  const y = g.op('MatMul', [x, kernel], {}, `${name}/matmul`);
  return bias ? g.op('Add', [y, bias], {}, `${name}/add`) : y;
}

/** Rows of `table` [V, D] for integer ids of any shape → [...ids, D]. */
export function embedding(g: GraphBuilder, table: Value, ids: Value, name = 'embedding'): Value {
  return g.op('Gather', [table, ids], { axis: 0 }, name);
}

/**
 * Softmax over `axis` where `mask` (bool, broadcastable to scores) is true; masked entries are 0, and a row
 * with no true entry is all zeros (as s2s's masked softmax).
 */
export function maskedSoftmax(g: GraphBuilder, scores: Value, mask: Value, axis = -1, name = 'masked_softmax'): Value {
  const filled = g.op('Where', [mask, scores, g.float([LOWEST])], {}, `${name}/fill`);
  const p = g.op('Softmax', [filled], { axis }, name);
  return g.op('Where', [mask, p, g.float([0])], {}, `${name}/zero`);
}

/** LayerNormalization over the last axis (opset 17). */
export function layerNorm(g: GraphBuilder, x: Value, gamma: Value, beta: Value, epsilon: number, name = 'layer_norm'): Value {
  return g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: { float: epsilon } }, name);
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)) (no Gelu operator before opset 20). */
export function gelu(g: GraphBuilder, x: Value, name = 'gelu'): Value {
  const e = g.op('Erf', [g.op('Mul', [x, g.float([Math.SQRT1_2])], {}, `${name}/scale`)], {}, `${name}/erf`);
  const onePlus = g.op('Add', [e, g.float([1])], {}, `${name}/one_plus`);
  return g.op('Mul', [g.op('Mul', [x, g.float([0.5])], {}, `${name}/half`), onePlus], {}, name);
}

export function reshape(g: GraphBuilder, x: Value, shape: readonly number[], name = 'reshape'): Value {
  return g.op('Reshape', [x, g.int64(shape)], {}, name);
}

export function transpose(g: GraphBuilder, x: Value, perm: readonly number[], name = 'transpose'): Value {
  return g.op('Transpose', [x], { perm: [...perm] }, name);
}

export function unsqueeze(g: GraphBuilder, x: Value, axes: readonly number[], name = 'unsqueeze'): Value {
  return g.op('Unsqueeze', [x, g.int64(axes)], {}, name);
}

export function squeeze(g: GraphBuilder, x: Value, axes: readonly number[], name = 'squeeze'): Value {
  return g.op('Squeeze', [x, g.int64(axes)], {}, name);
}

export function concat(g: GraphBuilder, xs: readonly Value[], axis: number, name = 'concat'): Value {
  return xs.length === 1 ? xs[0] : g.op('Concat', xs, { axis }, name);
}

/** x[starts:ends] along `axes` (ends may be a large number for "to the end"). */
export function slice(g: GraphBuilder, x: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[], name = 'slice'): Value {
  return g.op('Slice', [x, g.int64(starts), g.int64(ends), g.int64(axes)], {}, name);
}

/** Splits x along `axis` into parts of the given sizes. */
export function split(g: GraphBuilder, x: Value, sizes: readonly number[], axis: number, name = 'split'): Value[] {
  return g.node('Split', [x, g.int64(sizes)], { axis }, sizes.length, name);
}

/** Cast to an ONNX element type (DataType code: 1 float, 6 int32, 7 int64, 9 bool). */
export function cast(g: GraphBuilder, x: Value, to: number, name = 'cast'): Value {
  return g.op('Cast', [x], { to }, name);
}

/** The size of x along `axis`, as an int64 vector of one element (for building shapes with Concat). */
export function dim(g: GraphBuilder, x: Value, axis: number, name = 'dim'): Value {
  return g.op('Gather', [g.op('Shape', [x], {}, `${name}/shape`), g.int64([axis])], { axis: 0 }, name);
}
