/**
 * The output layer and its loss as one op: softmax cross-entropy (label
 * smoothed) of h·Wᵀ (a tied embedding table W [V, D]) or h·W + b (a kernel
 * [D, V]), without the [rows, V] logits ever existing whole. Rows go through
 * in chunks of a few megabytes: a chunk's logits, its loss and argmax, and —
 * when recording — its gradient, which is multiplied straight back into dh
 * and dW while it is still in cache. At a Transformer's 3,000 tokens × 8,000
 * words the unfused chain wrote and re-read two 96 MB tensors per step
 * (logits and their gradient), each freshly mapped memory.
 */
import { Tensor, ShapeError, needsGrad, record, shapeString } from './tensor.js';
import { kernels } from './kernels/index.js';
import { uninitializedFloat32 } from './buffers.js';
import { matmul, linear, softmaxCrossEntropy } from './ops.js';

/** Logits per chunk: about 16 MB of them (and as much again for their gradient). */
const CHUNK_FLOATS = 1 << 22;

export interface ProjectedLossResult {
  /** Mean (label-smoothed) cross-entropy over the rows whose target is ≥ 0, as ops.softmaxCrossEntropy. */
  loss: Tensor;
  /** The argmax of each row's logits (first index on ties), as argmaxRows. */
  predictions: Int32Array;
}

export interface ProjectedLossOptions {
  /** W is a table [V, D] used as h·Wᵀ (tied embeddings). Default false: a kernel [D, V]. */
  transposed?: boolean;
  /** Bias [V] (untransposed weights only). Default none. */
  bias?: Tensor | null;
  /** Label smoothing ε, as ops.softmaxCrossEntropy. Default 0. */
  labelSmoothing?: number;
  /** Rows per chunk. Default: about CHUNK_FLOATS logits' worth (tests pick small ones). */
  chunkRows?: number;
}

/**
 * softmaxCrossEntropy(h·Wᵀ, targets, ε) when `transposed` (W [V, D], no
 * bias), else softmaxCrossEntropy(h·W + b, targets, ε) (W [D, V], b [V] or
 * none), with the same values and gradients (for h, W and b) as that chain.
 */
export function projectedCrossEntropy(h: Tensor, w: Tensor, targets: Int32Array, o: ProjectedLossOptions = {}): ProjectedLossResult {
  const transposed = o.transposed ?? false, b = o.bias ?? null, labelSmoothing = o.labelSmoothing ?? 0;
  if (h.rank !== 2 || w.rank !== 2) throw new ShapeError(`projectedCrossEntropy: needs matrices, got ${shapeString(h.shape)} and ${shapeString(w.shape)}`);
  const n = h.rows, D = h.cols;
  const V = transposed ? w.shape[0] : w.shape[1];
  if ((transposed ? w.shape[1] : w.shape[0]) !== D) {
    throw new ShapeError(`projectedCrossEntropy: ${shapeString(h.shape)} does not fit weights ${shapeString(w.shape)}${transposed ? 'ᵀ' : ''}`);
  }
  if (b && (transposed || b.size !== V)) throw new ShapeError(`projectedCrossEntropy: a bias needs untransposed weights and ${V} elements, got ${shapeString(b.shape)}`);
  if (targets.length !== n) throw new ShapeError(`projectedCrossEntropy: ${targets.length} targets for ${n} rows`);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new RangeError(`projectedCrossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const K = kernels();
  const predictions = new Int32Array(n);
  if (w.int8 || b?.int8 || h.int8) {
    // int8 weights (inference): the unfused chain, which routes them to the int8 kernels.
    const logits = transposed ? matmul(h, w, false, true) : linear(h, w, b, 'none');
    if (n > 0) K.argmaxRows(n, V, logits.data, predictions);
    return { loss: softmaxCrossEntropy(logits, targets, labelSmoothing), predictions };
  }
  let count = 0;
  for (let i = 0; i < n; i++) {
    const t = targets[i];
    if (t >= V) throw new ShapeError(`projectedCrossEntropy: target ${t} at row ${i} is out of range for ${V} classes`);
    if (t >= 0) count++;
  }
  const grad = needsGrad(h, w, b);
  const dh = grad && h.requiresGrad ? uninitializedFloat32(n * D) : null; // every chunk writes its rows
  const dw = grad && w.requiresGrad ? new Float32Array(w.size) : null;
  const db = grad && b?.requiresGrad ? new Float32Array(V) : null;
  if (o.chunkRows !== undefined && !(Number.isInteger(o.chunkRows) && o.chunkRows > 0)) throw new RangeError(`projectedCrossEntropy: chunkRows must be a positive integer, got ${o.chunkRows}`);
  const chunk = Math.max(1, Math.min(n, o.chunkRows ?? Math.floor(CHUNK_FLOATS / Math.max(1, V))));
  const logits = uninitializedFloat32(chunk * V);
  const dLogits = grad ? uninitializedFloat32(chunk * V) : null;
  const scaleBy = count > 0 ? 1 / count : 0;
  let lossSum = 0;
  for (let r0 = 0; r0 < n; r0 += chunk) {
    const m = Math.min(chunk, n - r0);
    const hc = h.data.subarray(r0 * D, (r0 + m) * D);
    const lc = logits.subarray(0, m * V);
    if (D > 0) K.gemm(false, transposed, m, V, D, 1, hc, D, w.data, transposed ? D : V, 0, lc, V);
    else lc.fill(0);
    if (b) K.addRowVector(m, V, lc, b.data);
    K.argmaxRows(m, V, lc, predictions.subarray(r0, r0 + m));
    const dc = dLogits ? dLogits.subarray(0, m * V) : null;
    lossSum += K.softmaxCrossEntropy(m, V, lc, targets.subarray(r0, r0 + m), dc, scaleBy, labelSmoothing);
    if (!dc || D === 0) continue;
    // dh = dL·W (tied [V, D]) or dL·Wᵀ; dW += dLᵀ·h (tied) or hᵀ·dL; db += Σ dL.
    if (dh) K.gemm(false, !transposed, m, D, V, 1, dc, V, w.data, transposed ? D : V, 0, dh.subarray(r0 * D, (r0 + m) * D), D);
    if (dw) {
      if (transposed) K.gemm(true, false, V, D, m, 1, dc, V, hc, D, 1, dw, D);
      else K.gemm(true, false, D, V, m, 1, hc, D, dc, V, 1, dw, V);
    }
    if (db) K.sumRows(m, V, dc, db);
  }
  if (dh && D === 0) dh.fill(0);
  const loss = Tensor.scalar(count > 0 ? lossSum / count : 0);
  if (grad) {
    record(loss, () => {
      const g = loss.grad;
      if (!g) return;
      const s = g[0];
      if (dh) {
        if (s === 1 && !h.grad && !h.base) h.grad = dh; // computed for this closure alone: hand it over
        else addScaled(h.gradBuffer(), dh, s);
      }
      if (dw) addScaled(w.gradBuffer(), dw, s);
      if (db && b) addScaled(b.gradBuffer(), db, s);
    });
  }
  return { loss, predictions };
}

/** dst += s·src (src is scratch: scaled in place). */
function addScaled(dst: Float32Array, src: Float32Array, s: number): void {
  const K = kernels();
  if (s !== 1) K.scale(src, s);
  if (dst.length >= 4096) K.addRowVector(1, dst.length, dst, src);
  else for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}
