/**
 * Differentiable operations. Each computes its forward value with the active
 * kernels and, when recording, registers a closure that accumulates input
 * gradients. Ops that act "along the last axis" treat a tensor as a
 * rows×cols matrix, cols being the last dimension.
 */
import { Tensor, ShapeError, needsGrad, record, shapeString, type Shape } from './tensor.js';
import { kernels, type UnaryOp, type Activation } from './kernels/index.js';
import type { Rng } from './rng.js';
import { uninitializedFloat32, copyFloat32 } from './buffers.js';
import { checkInference, denseOf, int8Product, int8GatherRows } from './int8.js';

/** dst += src elementwise; long arrays through the kernels (a one-row addRowVector), which is native under Node. */
function addInto(dst: Float32Array, src: Float32Array): void {
  if (dst.length >= 4096) kernels().addRowVector(1, dst.length, dst, src);
  else for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

export { uninitializedFloat32, copyFloat32 } from './buffers.js';

// ---------------------------------------------------------------- matmul

/**
 * op(a)·op(b) for matrices. Without transA, `a` may have leading axes, which
 * are flattened into rows (a Dense layer over [batch, time, features]).
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (b.rank !== 2) throw new ShapeError(`matmul: right operand must be a matrix, got ${shapeString(b.shape)}`);
  if (transA && a.rank !== 2) throw new ShapeError(`matmul: a transposed left operand must be a matrix, got ${shapeString(a.shape)}`);
  if (a.rank < 1) throw new ShapeError('matmul: left operand is a scalar');
  const m = transA ? a.shape[1] : a.rows;
  const k = transA ? a.shape[0] : a.cols;
  const kb = transB ? b.shape[1] : b.shape[0];
  const n = transB ? b.shape[0] : b.shape[1];
  if (k !== kb) {
    throw new ShapeError(`matmul: inner dimensions differ: ${shapeString(a.shape)}${transA ? 'ᵀ' : ''} · ${shapeString(b.shape)}${transB ? 'ᵀ' : ''}`);
  }
  const outShape = transA || a.rank === 1 ? [m, n] : [...a.shape.slice(0, -1), n];
  if (a.rank === 1) outShape.splice(0, 1);
  const out = new Tensor(uninitializedFloat32(m * n), a.rank === 1 ? [n] : outShape); // gemm with beta = 0 overwrites it
  // int8 weights (inference): x·W with W's channels along its columns, or x·Wᵀ with them along its rows.
  if (b.int8 && !transA && !a.int8 && b.int8.axis === (transB ? 0 : 1)) {
    checkInference(b, 'matmul', a);
    int8Product(a.data, m, b.int8, null, out.data, false);
    return out;
  }
  a = denseOf(a, 'matmul');
  b = denseOf(b, 'matmul');
  const K = kernels();
  const lda = a.cols, ldb = b.cols;
  K.gemm(transA, transB, m, n, k, 1, a.data, lda, b.data, ldb, 0, out.data, n);
  if (needsGrad(a, b)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      if (a.requiresGrad) {
        // dA = g·op(B)ᵀ, or op(B)·gᵀ when A was transposed.
        if (!transA && !a.grad && !a.base) {
          const da = uninitializedFloat32(a.size); // written whole (beta 0), no zero-fill
          K.gemm(false, !transB, m, k, n, 1, g, n, b.data, ldb, 0, da, lda);
          a.grad = da;
        } else if (!transA) K.gemm(false, !transB, m, k, n, 1, g, n, b.data, ldb, 1, a.gradBuffer(), lda);
        else K.gemm(transB, true, k, m, n, 1, b.data, ldb, g, n, 1, a.gradBuffer(), lda);
      }
      if (b.requiresGrad) {
        // dB = op(A)ᵀ·g, or gᵀ·op(A) when B was transposed.
        if (!transB) K.gemm(!transA, false, k, n, m, 1, a.data, lda, g, n, 1, b.gradBuffer(), ldb);
        else K.gemm(true, transA, n, k, m, 1, g, n, a.data, lda, 1, b.gradBuffer(), ldb);
      }
    });
  }
  return out;
}

/** Batched matmul: a [B, m, k]·b [B, k, n] (either transposed per batch). */
export function bmm(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`bmm: needs [B, m, k] and [B, k, n], got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  }
  const B = a.shape[0];
  const [ar, ac] = [a.shape[1], a.shape[2]];
  const [br, bc] = [b.shape[1], b.shape[2]];
  const m = transA ? ac : ar, k = transA ? ar : ac;
  const kb = transB ? bc : br, n = transB ? br : bc;
  if (k !== kb) throw new ShapeError(`bmm: inner dimensions differ: ${shapeString(a.shape)} · ${shapeString(b.shape)}`);
  const out = Tensor.zeros([B, m, n]);
  const K = kernels();
  const aS = ar * ac, bS = br * bc, oS = m * n;
  for (let i = 0; i < B; i++) {
    K.gemm(transA, transB, m, n, k, 1, a.data.subarray(i * aS, (i + 1) * aS), ac, b.data.subarray(i * bS, (i + 1) * bS), bc, 0, out.data.subarray(i * oS, (i + 1) * oS), n);
  }
  if (needsGrad(a, b)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      for (let i = 0; i < B; i++) {
        const gi = g.subarray(i * oS, (i + 1) * oS);
        const ai = a.data.subarray(i * aS, (i + 1) * aS), bi = b.data.subarray(i * bS, (i + 1) * bS);
        if (a.requiresGrad) {
          const da = a.gradBuffer().subarray(i * aS, (i + 1) * aS);
          if (!transA) K.gemm(false, !transB, m, k, n, 1, gi, n, bi, bc, 1, da, ac);
          else K.gemm(transB, true, k, m, n, 1, bi, bc, gi, n, 1, da, ac);
        }
        if (b.requiresGrad) {
          const db = b.gradBuffer().subarray(i * bS, (i + 1) * bS);
          if (!transB) K.gemm(!transA, false, k, n, m, 1, ai, ac, gi, n, 1, db, bc);
          else K.gemm(true, transA, n, k, m, 1, gi, n, ai, ac, 1, db, bc);
        }
      }
    });
  }
  return out;
}

// ---------------------------------------------------------------- elementwise

type Broadcast = 'same' | 'row';

function broadcastKind(op: string, a: Tensor, b: Tensor): Broadcast {
  if (a.size === b.size && a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])) return 'same';
  if (b.size === a.cols && (b.rank === 1 || (b.rank === 2 && b.shape[0] === 1))) return 'row';
  throw new ShapeError(`${op}: shapes ${shapeString(a.shape)} and ${shapeString(b.shape)} do not match (b may be a row of ${a.cols})`);
}

/** a + b, b of the same shape or a bias row broadcast over a's rows. */
export function add(a: Tensor, b: Tensor): Tensor {
  return addSub('add', a, b, 1);
}

/** a − b, with the same broadcasting as add. */
export function sub(a: Tensor, b: Tensor): Tensor {
  return addSub('sub', a, b, -1);
}

function addSub(op: string, a: Tensor, b: Tensor, sign: 1 | -1): Tensor {
  const kind = broadcastKind(op, a, b);
  const out = new Tensor(copyFloat32(a.data), a.shape);
  const K = kernels();
  if (kind === 'same') {
    const o = out.data, bd = b.data;
    if (sign === 1) addInto(o, bd);
    else for (let i = 0; i < o.length; i++) o[i] -= bd[i];
  } else if (sign === 1) K.addRowVector(a.rows, a.cols, out.data, b.data);
  else {
    const neg = b.data.map((v) => -v);
    K.addRowVector(a.rows, a.cols, out.data, neg);
  }
  if (needsGrad(a, b)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      if (a.requiresGrad) {
        if (!a.grad && a !== b) a.grad = copyFloat32(g); // a native copy beats zero-fill plus a JS add loop
        else addInto(a.gradBuffer(), g);
      }
      if (b.requiresGrad) {
        if (kind === 'same') {
          const db = b.gradBuffer();
          if (sign === 1) addInto(db, g);
          else for (let i = 0; i < db.length; i++) db[i] -= g[i];
        } else if (sign === 1) K.sumRows(a.rows, a.cols, g, b.gradBuffer());
        else {
          const tmp = new Float32Array(b.size);
          K.sumRows(a.rows, a.cols, g, tmp);
          const db = b.gradBuffer();
          for (let i = 0; i < db.length; i++) db[i] -= tmp[i];
        }
      }
    });
  }
  return out;
}

/** a ⊙ b, b of the same shape or a row broadcast over a's rows. */
export function mul(a: Tensor, b: Tensor): Tensor {
  const kind = broadcastKind('mul', a, b);
  const out = Tensor.zeros(a.shape);
  const o = out.data, ad = a.data, bd = b.data, cols = a.cols;
  if (kind === 'same') for (let i = 0; i < o.length; i++) o[i] = ad[i] * bd[i];
  else for (let i = 0; i < o.length; i++) o[i] = ad[i] * bd[i % cols];
  if (needsGrad(a, b)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      if (a.requiresGrad) {
        const da = a.gradBuffer();
        if (kind === 'same') for (let i = 0; i < da.length; i++) da[i] += g[i] * bd[i];
        else for (let i = 0; i < da.length; i++) da[i] += g[i] * bd[i % cols];
      }
      if (b.requiresGrad) {
        const db = b.gradBuffer();
        if (kind === 'same') for (let i = 0; i < db.length; i++) db[i] += g[i] * ad[i];
        else for (let i = 0; i < g.length; i++) db[i % cols] += g[i] * ad[i];
      }
    });
  }
  return out;
}

/** s · a for a constant s. */
export function scale(a: Tensor, s: number): Tensor {
  const out = new Tensor(a.data.map((v) => v * s), a.shape);
  if (needsGrad(a)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      const da = a.gradBuffer();
      for (let i = 0; i < da.length; i++) da[i] += s * g[i];
    });
  }
  return out;
}

function activation(op: UnaryOp, x: Tensor): Tensor {
  const out = Tensor.zeros(x.shape);
  const K = kernels();
  K.unary(op, x.data, out.data);
  if (needsGrad(x)) {
    record(out, () => {
      if (out.grad) K.unaryBackward(op, out.data, out.grad, x.gradBuffer());
    });
  }
  return out;
}

export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', x);
export const tanh = (x: Tensor): Tensor => activation('tanh', x);
export const relu = (x: Tensor): Tensor => activation('relu', x);

// ---------------------------------------------------------------- softmax family

/**
 * Softmax along the last axis. With `mask` (1 = keep, 0 = masked; same size
 * as x, or one row per batch entry broadcast over the middle axis), masked
 * positions get probability 0; a fully masked row gives all zeros.
 */
export function softmax(x: Tensor, mask?: Uint8Array): Tensor {
  const rows = x.rows, cols = x.cols;
  const out = Tensor.zeros(x.shape);
  const K = kernels();
  if (!mask) K.softmaxRows(rows, cols, x.data, out.data, false);
  else {
    // The mask must be whole rows of `cols`, and its rows must divide x's rows evenly.
    const maskRows = cols > 0 ? mask.length / cols : 0;
    if (mask.length !== x.size && !(Number.isInteger(maskRows) && maskRows > 0 && rows % maskRows === 0)) {
      throw new ShapeError(`softmax: mask of length ${mask.length} does not fit ${shapeString(x.shape)}`);
    }
    maskedSoftmax(x.data, mask, rows, cols, out.data);
  }
  if (needsGrad(x)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      const dx = x.gradBuffer(), y = out.data;
      for (let r = 0; r < rows; r++) {
        const base = r * cols;
        let dot = 0;
        for (let j = 0; j < cols; j++) dot += g[base + j] * y[base + j];
        for (let j = 0; j < cols; j++) dx[base + j] += y[base + j] * (g[base + j] - dot);
      }
    });
  }
  return out;
}

function maskedSoftmax(x: Float32Array, mask: Uint8Array, rows: number, cols: number, out: Float32Array): void {
  const maskRows = mask.length / cols;
  const rowsPerMask = rows / maskRows; // e.g. [B, T, S] scores with a [B, S] mask
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const mb = Math.floor(r / rowsPerMask) * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (mask[mb + j] && x[base + j] > max) max = x[base + j];
    if (max === -Infinity) {
      out.fill(0, base, base + cols);
      continue;
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) {
      const e = mask[mb + j] ? Math.exp(x[base + j] - max) : 0;
      out[base + j] = e;
      sum += e;
    }
    for (let j = 0; j < cols; j++) out[base + j] /= sum;
  }
}

/** log(softmax(x)) along the last axis, computed stably. */
export function logSoftmax(x: Tensor): Tensor {
  const rows = x.rows, cols = x.cols;
  const out = Tensor.zeros(x.shape);
  kernels().softmaxRows(rows, cols, x.data, out.data, true);
  if (needsGrad(x)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      const dx = x.gradBuffer(), y = out.data;
      for (let r = 0; r < rows; r++) {
        const base = r * cols;
        let gs = 0;
        for (let j = 0; j < cols; j++) gs += g[base + j];
        for (let j = 0; j < cols; j++) dx[base + j] += g[base + j] - Math.exp(y[base + j]) * gs;
      }
    });
  }
  return out;
}

/**
 * Mean sparse softmax cross-entropy over the rows whose target is ≥ 0
 * (negative targets mark padding and contribute nothing). Fused: the
 * gradient (softmax − target distribution)/count is produced in the same
 * pass. With label smoothing ε the target distribution is
 * (1−ε)·onehot + ε/classes, as torch.nn.CrossEntropyLoss(label_smoothing=ε).
 */
export function softmaxCrossEntropy(logits: Tensor, targets: Int32Array, labelSmoothing = 0): Tensor {
  const rows = logits.rows, cols = logits.cols;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new RangeError(`softmaxCrossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  if (targets.length !== rows) throw new ShapeError(`softmaxCrossEntropy: ${targets.length} targets for ${rows} rows of logits ${shapeString(logits.shape)}`);
  let count = 0;
  for (let i = 0; i < rows; i++) {
    const t = targets[i];
    if (t >= cols) throw new ShapeError(`softmaxCrossEntropy: target ${t} at row ${i} is out of range for ${cols} classes`);
    if (t >= 0) count++;
  }
  const K = kernels();
  const grad = needsGrad(logits);
  const dLogits = grad ? uninitializedFloat32(logits.size) : null; // every row is written
  const scaleBy = count > 0 ? 1 / count : 0;
  const lossSum = K.softmaxCrossEntropy(rows, cols, logits.data, targets, dLogits, scaleBy, labelSmoothing);
  const out = Tensor.scalar(count > 0 ? lossSum / count : 0);
  if (grad && dLogits) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      const s = g[0];
      if (!logits.grad && s === 1) {
        logits.grad = dLogits; // computed for this closure alone: hand it over
        return;
      }
      const dx = logits.gradBuffer();
      for (let i = 0; i < dx.length; i++) dx[i] += s * dLogits[i];
    });
  }
  return out;
}

// ---------------------------------------------------------------- gathering and shaping

/**
 * Rows of `table` picked by `index` (index < 0 gives a zero row): an
 * embedding lookup, or packing/unpacking/permuting sequence rows. The output
 * has shape [index.length, cols]; backward scatter-adds.
 */
export function gatherRows(table: Tensor, index: Int32Array): Tensor {
  const cols = table.cols, rows = table.rows;
  for (let i = 0; i < index.length; i++) {
    if (index[i] >= rows) throw new ShapeError(`gatherRows: index ${index[i]} at position ${i} is out of range for ${rows} rows`);
  }
  const out = new Tensor(uninitializedFloat32(index.length * cols), [index.length, cols]); // every row is written
  if (table.int8?.axis === 0) {
    checkInference(table, 'gatherRows');
    int8GatherRows(table.int8, index, out.data);
    return out;
  }
  table = denseOf(table, 'gatherRows');
  const K = kernels();
  K.gatherRows(cols, table.data, index, out.data);
  if (needsGrad(table)) {
    record(out, () => {
      if (out.grad) K.scatterAddRows(cols, out.grad, index, table.gradBuffer());
    });
  }
  return out;
}

/** Embedding lookup: table [V, D], ids → [ids.length, D]. */
export const embedding = gatherRows;

/** A view with another shape: same data, and its gradient is the input's (no copy, nothing recorded). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (size !== x.size) throw new ShapeError(`reshape: ${x.size} elements of ${shapeString(x.shape)} do not fit shape ${shapeString(shape)} (size ${size})`);
  return Tensor.view(x, 0, shape);
}

/** Concatenation along the last axis; all leading shapes must match. */
export function concat(parts: Tensor[]): Tensor {
  if (parts.length === 0) throw new ShapeError('concat: nothing to concatenate');
  const lead = parts[0].shape.slice(0, -1);
  const rows = lead.reduce((s, d) => s * d, 1); // not .rows, which is 0 for a zero-width part
  for (const p of parts) {
    if (p.rank !== parts[0].rank || p.shape.some((d, i) => i < lead.length && d !== lead[i])) {
      throw new ShapeError(`concat: leading shapes differ: ${parts.map((q) => shapeString(q.shape)).join(' vs ')}`);
    }
  }
  const widths = parts.map((p) => p.cols);
  const total = widths.reduce((s, w) => s + w, 0);
  const out = new Tensor(uninitializedFloat32(rows * total), [...lead, total]); // every element is written
  const K = kernels();
  let offset = 0;
  for (let p = 0; p < parts.length; p++) {
    const w = widths[p];
    if (rows > 0 && w > 0) K.copyBlock(rows, w, parts[p].data, w, out.data.subarray(offset), total, false);
    offset += w;
  }
  if (needsGrad(...parts)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      let off = 0;
      for (let p = 0; p < parts.length; p++) {
        const w = widths[p];
        if (parts[p].requiresGrad && rows > 0 && w > 0) K.copyBlock(rows, w, g.subarray(off), total, parts[p].gradBuffer(), w, true);
        off += w;
      }
    });
  }
  return out;
}

/** Columns [start, end) of the last axis. */
export function slice(x: Tensor, start: number, end: number): Tensor {
  const cols = x.cols, rows = x.rows;
  if (!(0 <= start && start <= end && end <= cols)) throw new ShapeError(`slice: [${start}, ${end}) is outside the last axis of ${shapeString(x.shape)}`);
  const w = end - start;
  const out = new Tensor(uninitializedFloat32(rows * w), [...x.shape.slice(0, -1), w]); // every element is written
  const K = kernels();
  if (rows > 0 && w > 0) K.copyBlock(rows, w, x.data.subarray(start), cols, out.data, w, false);
  if (needsGrad(x)) {
    record(out, () => {
      const g = out.grad;
      if (!g || rows === 0 || w === 0) return;
      K.copyBlock(rows, w, g, w, x.gradBuffer().subarray(start), cols, true);
    });
  }
  return out;
}

/** Splits the last axis into pieces of the given widths. */
export function split(x: Tensor, widths: number[]): Tensor[] {
  const total = widths.reduce((s, w) => s + w, 0);
  if (total !== x.cols) throw new ShapeError(`split: widths sum to ${total}, last axis of ${shapeString(x.shape)} is ${x.cols}`);
  const out: Tensor[] = [];
  let off = 0;
  for (const w of widths) {
    out.push(slice(x, off, off + w));
    off += w;
  }
  return out;
}

// ---------------------------------------------------------------- reductions, regularisation, normalisation

export function sum(x: Tensor): Tensor {
  let s = 0;
  for (let i = 0; i < x.size; i++) s += x.data[i];
  const out = Tensor.scalar(s);
  if (needsGrad(x)) {
    record(out, () => {
      if (!out.grad) return;
      const d = x.gradBuffer(), g = out.grad[0];
      for (let i = 0; i < d.length; i++) d[i] += g;
    });
  }
  return out;
}

export function mean(x: Tensor): Tensor {
  return scale(sum(x), x.size === 0 ? 0 : 1 / x.size);
}

/**
 * Inverted dropout: zeroes each element with probability p and scales the
 * rest by 1/(1−p). Identity when not training or p = 0.
 */
export function dropout(x: Tensor, p: number, rng: Rng, training: boolean): Tensor {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const keep = Math.fround(1 / (1 - p));
  const n = x.size;
  const mask = rng.keepMask(n, p);
  const out = new Tensor(uninitializedFloat32(n), x.shape); // every element is written
  const K = kernels();
  K.dropoutApply(mask, keep, x.data, out.data, false);
  if (needsGrad(x)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      if (!x.grad) {
        const d = uninitializedFloat32(n);
        K.dropoutApply(mask, keep, g, d, false);
        x.grad = d;
      } else K.dropoutApply(mask, keep, g, x.gradBuffer(), true);
    });
  }
  return out;
}

/** Layer normalisation over the last axis with learned gain and bias (one fused kernel each way). */
export function layerNorm(x: Tensor, gain: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const rows = x.rows, cols = x.cols;
  if (gain.size !== cols || bias.size !== cols) throw new ShapeError(`layerNorm: gain/bias must have ${cols} elements`);
  const out = new Tensor(uninitializedFloat32(x.size), x.shape); // every element is written
  const mean = new Float32Array(rows), rstd = new Float32Array(rows);
  const K = kernels();
  K.layerNormForward(rows, cols, x.data, gain.data, bias.data, eps, out.data, mean, rstd);
  if (needsGrad(x, gain, bias)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      K.layerNormBackward(rows, cols, x.data, gain.data, mean, rstd, g,
        x.requiresGrad ? x.gradBuffer() : null, gain.requiresGrad ? gain.gradBuffer() : null, bias.requiresGrad ? bias.gradBuffer() : null);
    });
  }
  return out;
}

// ---------------------------------------------------------------- Transformer layers

/**
 * x·W + b with the activation fused into the epilogue: 'none', 'relu' or
 * 'gelu' (exact erf GELU, torch's default). x [..., in], w [in, out],
 * b [out] or null; the output is [..., out].
 */
export function linear(x: Tensor, w: Tensor, b: Tensor | null, activation: Activation = 'none'): Tensor {
  if (w.rank !== 2 || x.rank < 1 || x.cols !== w.shape[0]) {
    throw new ShapeError(`linear: input ${shapeString(x.shape)} does not fit weights ${shapeString(w.shape)} ([in, out])`);
  }
  const m = x.rows, k = w.shape[0], n = w.shape[1];
  if (b && b.size !== n) throw new ShapeError(`linear: bias ${shapeString(b.shape)} does not have ${n} elements`);
  if (activation !== 'none' && activation !== 'relu' && activation !== 'gelu') throw new RangeError(`linear: unknown activation "${String(activation)}"`);
  const K = kernels();
  const z = uninitializedFloat32(m * n);
  if (w.int8?.axis === 1) {
    checkInference(w, 'linear', x, b);
    int8Product(x.data, m, w.int8, null, z, false);
  } else {
    w = denseOf(w, 'linear');
    K.gemm(false, false, m, n, k, 1, x.data, k, w.data, n, 0, z, n);
  }
  // 'gelu' keeps the pre-activation for its backward; 'relu' can use its output instead.
  const out = activation === 'gelu' ? uninitializedFloat32(m * n) : z;
  K.biasActivation(m, n, z, b ? b.data : null, activation, activation === 'gelu' ? z : null, out);
  const result = new Tensor(out, [...x.shape.slice(0, -1), n]);
  if (needsGrad(x, w, b)) {
    record(result, () => {
      const g = result.grad;
      if (!g) return;
      let dz = g;
      if (activation !== 'none') {
        dz = uninitializedFloat32(m * n);
        K.activationBackward(activation, z, g, dz);
      }
      if (x.requiresGrad) {
        // A first gradient is written (beta 0) into an unzeroed buffer rather than added to a zero-filled one.
        if (!x.grad && !x.base) {
          const dx = uninitializedFloat32(m * k);
          K.gemm(false, true, m, k, n, 1, dz, n, w.data, n, 0, dx, k);
          x.grad = dx;
        } else K.gemm(false, true, m, k, n, 1, dz, n, w.data, n, 1, x.gradBuffer(), k);
      }
      if (w.requiresGrad) K.gemm(true, false, k, n, m, 1, x.data, k, dz, n, 1, w.gradBuffer(), n);
      if (b && b.requiresGrad) K.sumRows(m, n, dz, b.gradBuffer());
    });
  }
  return result;
}

/** Exact GELU, x·Φ(x) (torch.nn.GELU() with approximate='none'). */
export function gelu(x: Tensor): Tensor {
  const K = kernels();
  const out = new Tensor(uninitializedFloat32(x.size), x.shape);
  K.biasActivation(x.rows, x.cols, x.data, null, 'gelu', null, out.data);
  if (needsGrad(x)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      const dx = uninitializedFloat32(x.size);
      K.activationBackward('gelu', x.data, g, dx);
      if (!x.grad) x.grad = dx;
      else addInto(x.gradBuffer(), dx);
    });
  }
  return out;
}

/**
 * table[ids]·scale + positions[positionIds], fused: the embedding lookup
 * with its √D scale and the positional encoding. A negative id (or position
 * id) contributes a zero row. positions may be a constant (sinusoidal) or a
 * parameter (learned); each gets gradients when it requires them.
 */
export function embedPositions(table: Tensor, ids: Int32Array, scale: number, positions: Tensor, positionIds: Int32Array): Tensor {
  const cols = table.cols;
  if (positions.cols !== cols) throw new ShapeError(`embedPositions: positions ${shapeString(positions.shape)} and table ${shapeString(table.shape)} differ in width`);
  if (positionIds.length !== ids.length) throw new ShapeError(`embedPositions: ${ids.length} ids but ${positionIds.length} position ids`);
  const rows = table.rows, maxPos = positions.rows;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] >= rows) throw new ShapeError(`embedPositions: id ${ids[i]} at position ${i} is out of range for ${rows} rows`);
    if (positionIds[i] >= maxPos) throw new ShapeError(`embedPositions: position ${positionIds[i]} at ${i} is out of range for ${maxPos} positions`);
  }
  const K = kernels();
  const out = new Tensor(uninitializedFloat32(ids.length * cols), [ids.length, cols]); // every row is written
  if (table.int8 || positions.int8) {
    // int8 tables (inference): their rows gathered and dequantized first, then the same fused kernel over them.
    if (table.int8) checkInference(table, 'embedPositions', positions);
    if (positions.int8) checkInference(positions, 'embedPositions', table);
    const rowsOf = (t: Tensor, index: Int32Array): Float32Array => {
      const r = uninitializedFloat32(index.length * cols);
      if (t.int8?.axis === 0) int8GatherRows(t.int8, index, r);
      else K.gatherRows(cols, denseOf(t, 'embedPositions').data, index, r);
      return r;
    };
    const iota = new Int32Array(ids.length);
    for (let i = 0; i < iota.length; i++) iota[i] = i;
    const tableRows = table.int8 ? rowsOf(table, ids) : null;
    const positionRows = positions.int8 ? rowsOf(positions, positionIds) : null;
    K.embedPositions(cols, tableRows ?? table.data, tableRows ? iota : ids, scale, positionRows ?? positions.data, positionRows ? iota : positionIds, out.data);
    return out;
  }
  K.embedPositions(cols, table.data, ids, scale, positions.data, positionIds, out.data);
  if (needsGrad(table, positions)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      K.embedPositionsBackward(cols, g, ids, scale, positionIds,
        table.requiresGrad ? table.gradBuffer() : null, positions.requiresGrad ? positions.gradBuffer() : null);
    });
  }
  return out;
}

export { multiHeadAttention, type AttentionOptions, type AttentionResult } from './attention.js';
export { residualAdd, linearSplit } from './fused.js';

// ---------------------------------------------------------------- row views

/**
 * The first n entries along axis 0, as a view (no copy): decoders running
 * sorted batches shrink to the sequences still active this way.
 */
export function takeRows(x: Tensor, n: number): Tensor {
  if (x.rank < 1 || n < 0 || n > x.shape[0]) throw new ShapeError(`takeRows: cannot take ${n} rows of ${shapeString(x.shape)}`);
  if (n === x.shape[0]) return x;
  return Tensor.view(x, 0, [n, ...x.shape.slice(1)]);
}

/** Concatenation along axis 0 (trailing shapes must match). */
export function concatRows(parts: Tensor[]): Tensor {
  if (parts.length === 0) throw new ShapeError('concatRows: nothing to concatenate');
  const tail = parts[0].shape.slice(1);
  let rows = 0;
  for (const p of parts) {
    if (p.rank !== parts[0].rank || p.shape.slice(1).some((d, i) => d !== tail[i])) {
      throw new ShapeError(`concatRows: trailing shapes differ: ${parts.map((q) => shapeString(q.shape)).join(' vs ')}`);
    }
    rows += p.shape[0];
  }
  const out = Tensor.zeros([rows, ...tail]);
  let off = 0;
  for (const p of parts) {
    out.data.set(p.data, off);
    off += p.size;
  }
  if (needsGrad(...parts)) {
    record(out, () => {
      const g = out.grad;
      if (!g) return;
      let o = 0;
      for (const p of parts) {
        if (p.requiresGrad) {
          const d = p.gradBuffer();
          for (let i = 0; i < d.length; i++) d[i] += g[o + i];
        }
        o += p.size;
      }
    });
  }
  return out;
}
