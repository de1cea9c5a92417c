/**
 * Fused sublayer ops of the Transformer: the residual connection with its
 * dropout (x + dropout(y)) and a linear layer whose output columns are
 * split into separate tensors (the fused q/k/v projection). Each replaces a
 * chain of ops with fewer passes over memory and no intermediate tensors.
 */
import { Tensor, ShapeError, needsGrad, record, shapeString } from './tensor.js';
import { kernels } from './kernels/index.js';
import { uninitializedFloat32, copyFloat32 } from './buffers.js';
import type { Rng } from './rng.js';
import { checkInference, denseOf, int8Product, quantizeRows } from './int8.js';

/** dst += src; long arrays through the kernels (native under Node). */
function addInto(dst: Float32Array, src: Float32Array): void {
  if (dst.length >= 4096) kernels().addRowVector(1, dst.length, dst, src);
  else for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

/**
 * x + dropout(y, p) (inverted dropout, as ops.dropout, drawing the same
 * keep-mask from `rng`), x and y of the same shape. Without training or
 * with p = 0 it is x + y. Gradients: dx = g, dy = g·mask/(1−p).
 */
export function residualAdd(x: Tensor, y: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`residualAdd: p must be in [0, 1), got ${p}`);
  if (x.size !== y.size || x.rank !== y.rank || x.shape.some((d, i) => d !== y.shape[i])) {
    throw new ShapeError(`residualAdd: shapes ${shapeString(x.shape)} and ${shapeString(y.shape)} differ`);
  }
  const K = kernels();
  const n = x.size;
  const drop = training && p > 0;
  const keep = drop ? Math.fround(1 / (1 - p)) : 1;
  const mask = drop ? rng.keepMask(n, p) : null;
  const out = new Tensor(copyFloat32(x.data), x.shape);
  if (mask) K.dropoutApply(mask, keep, y.data, out.data, true);
  else addInto(out.data, y.data);
  if (needsGrad(x, y)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      if (x.requiresGrad) {
        if (!x.grad && x !== y) x.grad = copyFloat32(g);
        else addInto(x.gradBuffer(), g);
      }
      if (y.requiresGrad) {
        if (!y.grad) y.grad = mask ? dropped(mask, keep, g) : copyFloat32(g);
        else if (mask) K.dropoutApply(mask, keep, g, y.gradBuffer(), true);
        else addInto(y.gradBuffer(), g);
      }
    });
  }
  return out;
}

function dropped(mask: Uint8Array, keep: number, g: Float32Array): Float32Array {
  const d = uninitializedFloat32(g.length);
  kernels().dropoutApply(mask, keep, g, d, false);
  return d;
}

/**
 * x·W + b with W [in, Σ widths] and its output columns returned as separate
 * tensors [..., widths[i]] (the fused q/k/v projection without a split
 * copy): one GEMM per part against a column block of W.
 */
export function linearSplit(x: Tensor, w: Tensor, b: Tensor | null, widths: number[]): Tensor[] {
  if (w.rank !== 2 || x.rank < 1 || x.cols !== w.shape[0]) {
    throw new ShapeError(`linearSplit: input ${shapeString(x.shape)} does not fit weights ${shapeString(w.shape)} ([in, out])`);
  }
  const m = x.rows, k = w.shape[0], n = w.shape[1];
  const total = widths.reduce((s, v) => s + v, 0);
  if (total !== n || widths.some((v) => !Number.isInteger(v) || v < 0)) throw new ShapeError(`linearSplit: widths ${widths.join(', ')} do not sum to the ${n} columns of the weights`);
  if (b && b.size !== n) throw new ShapeError(`linearSplit: bias ${shapeString(b.shape)} does not have ${n} elements`);
  const K = kernels();
  const lead = x.shape.slice(0, -1);
  const outs: Tensor[] = [];
  let off = 0;
  if (w.int8?.axis === 1) {
    // int8 weights (inference): x quantized once, one int8 GEMM per channel block, the bias in its epilogue.
    checkInference(w, 'linearSplit', x, b);
    const qx = quantizeRows(x.data, m, k);
    for (const width of widths) {
      const z = uninitializedFloat32(m * width);
      if (m > 0 && width > 0) int8Product(x.data, m, w.int8, b ? b.data.subarray(off, off + width) : null, z, false, off, width, qx);
      outs.push(new Tensor(z, [...lead, width]));
      off += width;
    }
    return outs;
  }
  w = denseOf(w, 'linearSplit');
  for (const width of widths) {
    const z = uninitializedFloat32(m * width);
    if (m > 0 && width > 0) {
      if (k > 0) K.gemm(false, false, m, width, k, 1, x.data, k, w.data.subarray(off), n, 0, z, width);
      else z.fill(0);
      if (b) K.addRowVector(m, width, z, b.data.subarray(off, off + width));
    }
    outs.push(new Tensor(z, [...lead, width]));
    off += width;
  }
  if (needsGrad(x, w, b)) {
    for (const o of outs) o.requiresGrad = true;
    // One closure for all parts, recorded after them: it runs once every part's gradient is complete.
    record(outs[outs.length - 1], () => {
      let o = 0;
      let first = true;
      for (let i = 0; i < widths.length; i++) {
        const g = outs[i].grad, width = widths[i];
        if (g && m > 0 && width > 0 && k > 0) {
          if (x.requiresGrad) {
            if (first && !x.grad && !x.base) {
              const dx = uninitializedFloat32(m * k);
              K.gemm(false, true, m, k, width, 1, g, width, w.data.subarray(o), n, 0, dx, k);
              x.grad = dx;
            } else K.gemm(false, true, m, k, width, 1, g, width, w.data.subarray(o), n, 1, x.gradBuffer(), k);
            first = false;
          }
          if (w.requiresGrad) K.gemm(true, false, k, width, m, 1, x.data, k, g, width, 1, w.gradBuffer().subarray(o), n);
          if (b && b.requiresGrad) K.sumRows(m, width, g, b.gradBuffer().subarray(o, o + width));
        }
        o += width;
      }
    });
  }
  return outs;
}
