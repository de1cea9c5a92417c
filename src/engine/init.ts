/**
 * Weight initialisers matching Keras's defaults for recurrent layers:
 * Glorot-uniform kernels, orthogonal recurrent kernels, zero biases with the
 * LSTM forget gate set to one. All draw from a seeded Rng, so a seed fixes
 * every initial weight. Given no Rng (null) they draw nothing and return
 * zeros, already in long-lived storage: for a model whose weights are
 * assigned next (a loaded bundle), where drawing them — the orthogonal
 * recurrent kernels above all — was most of the load time.
 */
import { adoptLongLived, longLivedFloat32 } from './buffers.js';
import type { Rng } from './rng.js';
import { Tensor, shapeSize, type Shape } from './tensor.js';

/** Fan-in/fan-out as Keras computes them for 2-D kernels [in, out]. */
function fans(shape: Shape): [number, number] {
  if (shape.length === 1) return [shape[0], shape[0]];
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

export function glorotUniform(shape: Shape, rng: Rng | null): Float32Array {
  if (!rng) return longLivedFloat32(shapeSize(shape));
  const [fanIn, fanOut] = fans(shape);
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const out = new Float32Array(shapeSize(shape));
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
  return out;
}

export function uniform(shape: Shape, rng: Rng | null, limit: number): Float32Array {
  if (!rng) return longLivedFloat32(shapeSize(shape));
  const out = new Float32Array(shapeSize(shape));
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
  return out;
}

/**
 * Orthogonal matrix as Keras builds it: QR of a normal matrix with the
 * signs of R's diagonal folded into Q. Modified Gram–Schmidt gives R a
 * positive diagonal directly, which is the same Q.
 */
export function orthogonal(shape: Shape, rng: Rng | null, gain = 1): Float32Array {
  if (!rng) return longLivedFloat32(shapeSize(shape));
  const cols = shape[shape.length - 1];
  const rows = shapeSize(shape) / cols;
  // Work on a tall matrix (m ≥ n) and transpose back if needed.
  const tall = rows >= cols;
  const m = tall ? rows : cols, n = tall ? cols : rows;
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  // Columns of a (m×n, row-major) orthonormalised in place.
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < m; i++) dot += a[i * n + j] * a[i * n + k];
      for (let i = 0; i < m; i++) a[i * n + j] -= dot * a[i * n + k];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[i * n + j] * a[i * n + j];
    norm = Math.sqrt(norm);
    for (let i = 0; i < m; i++) a[i * n + j] /= norm;
  }
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      if (tall) out[i * cols + j] = gain * a[i * n + j];
      else out[j * cols + i] = gain * a[i * n + j];
    }
  }
  return out;
}

/** LSTM bias with Keras's unit_forget_bias: zeros, ones on the forget gate [H, 2H). */
export function lstmBias(hidden: number): Float32Array {
  const b = new Float32Array(4 * hidden);
  b.fill(1, hidden, 2 * hidden);
  return b;
}

/** A named trainable parameter. */
export function parameter(name: string, shape: Shape, data: Float32Array): Tensor {
  return new Tensor(adoptLongLived(data), shape, true, name);
}
