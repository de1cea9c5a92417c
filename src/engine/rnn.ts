/**
 * Fused recurrent layers over packed sequences, the way cuDNN and oneDNN run
 * them: the caller computes the input projection of every step in one large
 * GEMM (or an embedding gather); here each step does one h·W_hh GEMM and one
 * fused elementwise cell kernel, and the backward through time is written by
 * hand.
 *
 * Packed layout (PyTorch's PackedSequence): sequences sorted by length,
 * longest first; step t holds the rows of the batchSizes[t] sequences still
 * running, stored contiguously. Padding therefore costs nothing and cannot
 * leak into states: a sequence's final state is its state at its own last step.
 */
import { Tensor, ShapeError, needsGrad, record, shapeString } from './tensor.js';
import { kernels } from './kernels/index.js';
import { copyFloat32, uninitializedFloat32 } from './ops.js';
import { checkInference, denseOf, int8Product } from './int8.js';

export interface PackedLayout {
  /** Sequence lengths, non-increasing. */
  readonly lengths: Int32Array;
  /** Number of sequences running at each step (non-increasing). */
  readonly batchSizes: Int32Array;
  /** offsets[t] = first packed row of step t; offsets[T] = total rows. */
  readonly offsets: Int32Array;
  readonly batch: number;
  readonly steps: number;
  readonly total: number;
}

/** Layout for sequences of the given lengths, which must be sorted longest first. */
export function packedLayout(lengths: Int32Array | number[]): PackedLayout {
  const len = Int32Array.from(lengths);
  for (let i = 0; i < len.length; i++) {
    if (len[i] < 0) throw new ShapeError(`packedLayout: negative length ${len[i]} at row ${i}`);
    if (i > 0 && len[i] > len[i - 1]) {
      throw new ShapeError(`packedLayout: lengths must be sorted longest first, row ${i} has ${len[i]} after ${len[i - 1]}`);
    }
  }
  const steps = len.length > 0 ? len[0] : 0;
  const batchSizes = new Int32Array(steps);
  for (let t = 0; t < steps; t++) {
    let n = 0;
    while (n < len.length && len[n] > t) n++;
    batchSizes[t] = n;
  }
  const offsets = new Int32Array(steps + 1);
  for (let t = 0; t < steps; t++) offsets[t + 1] = offsets[t] + batchSizes[t];
  return { lengths: len, batchSizes, offsets, batch: len.length, steps, total: offsets[steps] };
}

/**
 * For packed row p (step t, sequence b): the row b·stride + t of a
 * batch-major padded [B, stride] array. Gathering padded ids or vectors with
 * it packs them.
 */
export function packIndex(layout: PackedLayout, stride: number): Int32Array {
  const idx = new Int32Array(layout.total);
  for (let t = 0; t < layout.steps; t++) {
    const off = layout.offsets[t];
    for (let b = 0; b < layout.batchSizes[t]; b++) idx[off + b] = b * stride + t;
  }
  return idx;
}

/** For padded position b·stride + t: its packed row, or −1 for padding. */
export function unpackIndex(layout: PackedLayout, stride: number): Int32Array {
  const idx = new Int32Array(layout.batch * stride).fill(-1);
  for (let t = 0; t < layout.steps; t++) {
    const off = layout.offsets[t];
    for (let b = 0; b < layout.batchSizes[t]; b++) idx[b * stride + t] = off + b;
  }
  return idx;
}

/** For packed row (t, b): the packed row (len_b − 1 − t, b). Reverses each sequence in place of its own length. */
export function reverseIndex(layout: PackedLayout): Int32Array {
  const idx = new Int32Array(layout.total);
  for (let t = 0; t < layout.steps; t++) {
    const off = layout.offsets[t];
    for (let b = 0; b < layout.batchSizes[t]; b++) idx[off + b] = layout.offsets[layout.lengths[b] - 1 - t] + b;
  }
  return idx;
}

/** For each sequence b: the packed row of its last step (−1 for empty sequences). */
export function lastStepIndex(layout: PackedLayout): Int32Array {
  const idx = new Int32Array(layout.batch);
  for (let b = 0; b < layout.batch; b++) idx[b] = layout.lengths[b] > 0 ? layout.offsets[layout.lengths[b] - 1] + b : -1;
  return idx;
}

function checkRnnShapes(kind: string, xProj: Tensor, gatesPerUnit: number, wHH: Tensor, h0: Tensor, layout: PackedLayout): number {
  const H = h0.cols;
  const G = gatesPerUnit * H;
  if (xProj.rank !== 2 || xProj.shape[0] !== layout.total || xProj.shape[1] !== G) {
    throw new ShapeError(`${kind}: input projection must be [${layout.total}, ${G}] (packed rows × ${gatesPerUnit}·hidden), got ${shapeString(xProj.shape)}`);
  }
  if (wHH.rank !== 2 || wHH.shape[0] !== H || wHH.shape[1] !== G) {
    throw new ShapeError(`${kind}: recurrent kernel must be [${H}, ${G}], got ${shapeString(wHH.shape)}`);
  }
  if (h0.rank !== 2 || h0.shape[0] !== layout.batch) {
    throw new ShapeError(`${kind}: initial state must be [${layout.batch}, hidden], got ${shapeString(h0.shape)}`);
  }
  return H;
}

/** Final states of every sequence, gathered from the packed per-step states. */
function gatherFinal(layout: PackedLayout, H: number, all: Float32Array, initial: Float32Array): Float32Array {
  const out = new Float32Array(layout.batch * H);
  for (let b = 0; b < layout.batch; b++) {
    const L = layout.lengths[b];
    const src = L > 0 ? all.subarray((layout.offsets[L - 1] + b) * H, (layout.offsets[L - 1] + b + 1) * H) : initial.subarray(b * H, (b + 1) * H);
    out.set(src, b * H);
  }
  return out;
}

/** Packed h_{t−1} for every packed row (h0 for step 0). */
function previousStates(layout: PackedLayout, H: number, out: Float32Array, h0: Float32Array): Float32Array {
  const prev = uninitializedFloat32(layout.total * H); // every row is written
  for (let t = 0; t < layout.steps; t++) {
    const n = layout.batchSizes[t], off = layout.offsets[t];
    const src = t === 0 ? h0.subarray(0, n * H) : out.subarray(layout.offsets[t - 1] * H, (layout.offsets[t - 1] + n) * H);
    prev.set(src, off * H);
  }
  return prev;
}

export interface RnnOptions {
  /**
   * The caller never reads xProj's values again (e.g. it is the fresh output
   * of x·W + b made for this call), so its buffer may be overwritten with the
   * gates instead of copied: one [total, 4H] (or 3H) copy less per call.
   * Default false.
   */
  reuseInput?: boolean;
}

export interface LstmResult {
  /** Hidden state of every packed row, [total, H]. */
  output: Tensor;
  /** Final hidden state of every sequence, [B, H]. */
  h: Tensor;
  /** Final cell state of every sequence, [B, H]. */
  c: Tensor;
}

/**
 * LSTM over packed sequences (Keras gate order i, f, g, o).
 * xProj: [total, 4H] = x·W_ih + b for every packed row; wHH: [H, 4H];
 * h0, c0: [B, H] in the layout's (sorted) order.
 */
export function lstm(xProj: Tensor, wHH: Tensor, h0: Tensor, c0: Tensor, layout: PackedLayout, options: RnnOptions = {}): LstmResult {
  const H = checkRnnShapes('lstm', xProj, 4, wHH, h0, layout);
  if (c0.rank !== 2 || c0.shape[0] !== layout.batch || c0.shape[1] !== H) throw new ShapeError(`lstm: c0 must be [${layout.batch}, ${H}], got ${shapeString(c0.shape)}`);
  const K = kernels();
  const G = 4 * H;
  const N = layout.total;
  if (wHH.int8?.axis === 1) checkInference(wHH, 'lstm', xProj, h0, c0);
  else wHH = denseOf(wHH, 'lstm');
  const w8 = wHH.int8;
  // Every step writes all of its rows of these, so none needs zero-filling.
  const gates = options.reuseInput ? xProj.data : copyFloat32(xProj.data);
  const cAll = uninitializedFloat32(N * H);
  const output = new Tensor(uninitializedFloat32(N * H), [N, H]);
  const hAll = output.data;
  const h0Zero = layout.steps > 0 && isZero(h0.data, layout.batchSizes[0] * H); // e.g. an encoder's initial state
  for (let t = 0; t < layout.steps; t++) {
    const n = layout.batchSizes[t], off = layout.offsets[t];
    const prevOff = t === 0 ? 0 : layout.offsets[t - 1];
    const hPrev = t === 0 ? h0.data : hAll.subarray(prevOff * H);
    const cPrev = t === 0 ? c0.data : cAll.subarray(prevOff * H);
    const g = gates.subarray(off * G, (off + n) * G);
    if (t > 0 || !h0Zero) {
      if (w8) int8Product(hPrev, n, w8, null, g, true);
      else K.gemm(false, false, n, G, H, 1, hPrev, H, wHH.data, G, 1, g, G);
    }
    K.lstmCellForward(n, H, g, cPrev, cAll.subarray(off * H, (off + n) * H), hAll.subarray(off * H, (off + n) * H));
  }
  const h = new Tensor(gatherFinal(layout, H, hAll, h0.data), [layout.batch, H]);
  const c = new Tensor(gatherFinal(layout, H, cAll, c0.data), [layout.batch, H]);
  if (needsGrad(xProj, wHH, h0, c0)) {
    // One closure for the three outputs: registered on `output`, and the final
    // states are marked so their gradients are allocated and read here.
    let done = false;
    const run = (): void => {
      if (done) return;
      done = true;
      const dh = new Float32Array(layout.batch * H);
      const dc = new Float32Array(layout.batch * H);
      // Final-state gradients seed the carries; a sequence's carry stays untouched until the backward pass reaches its last step.
      if (h.grad) dh.set(h.grad);
      if (c.grad) dc.set(c.grad);
      const dOut = output.grad;
      const dGates = uninitializedFloat32(N * G); // the cell backward writes every row
      const T = layout.steps;
      const back = recurrentBackMatrix(wHH.data, H, G, T);
      // dh holds the gradient w.r.t. h_t of the running rows. The output gradient of step t−1 is copied in
      // before the product with Wᵀ accumulates onto it; only rows whose sequence ends at t−1 need an add.
      if (dOut && T > 0) addRange(dh, 0, dOut, layout.offsets[T - 1] * H, layout.batchSizes[T - 1] * H);
      for (let t = T - 1; t >= 0; t--) {
        const n = layout.batchSizes[t], off = layout.offsets[t];
        const prevOff = t === 0 ? 0 : layout.offsets[t - 1];
        const cPrev = t === 0 ? c0.data : cAll.subarray(prevOff * H);
        const dg = dGates.subarray(off * G, (off + n) * G);
        K.lstmCellBackward(n, H, gates.subarray(off * G, (off + n) * G), cPrev, cAll.subarray(off * H, (off + n) * H), dh, dc, dg);
        let beta = 0;
        if (dOut && t > 0) {
          const pn = layout.batchSizes[t - 1];
          dh.set(dOut.subarray(prevOff * H, (prevOff + n) * H));
          if (pn > n) addRange(dh, n * H, dOut, (prevOff + n) * H, (pn - n) * H);
          beta = 1;
        }
        if (t > 0 || h0.requiresGrad) K.gemm(false, back.trans, n, H, G, 1, dg, G, back.w, back.ld, beta, dh, H); // at t = 0 only h0 needs it
      }
      // dGates is ours alone: hand it over as the gradient rather than adding it into fresh zeros.
      if (xProj.requiresGrad) {
        if (!xProj.grad) xProj.grad = dGates;
        else addTo(xProj.grad, dGates);
      }
      if (wHH.requiresGrad && N > 0) {
        const prev = previousStates(layout, H, hAll, h0.data);
        K.gemm(true, false, H, G, N, 1, prev, H, dGates, G, 1, wHH.gradBuffer(), G);
      }
      if (h0.requiresGrad) addTo(h0.gradBuffer(), dh);
      if (c0.requiresGrad) addTo(c0.gradBuffer(), dc);
    };
    record(output, run);
    record(h, run);
    record(c, run);
  }
  return { output, h, c };
}

export interface GruResult {
  output: Tensor;
  h: Tensor;
}

/**
 * GRU over packed sequences, reset-after variant (Keras reset_after=True,
 * cuDNN), gate order z, r, n. xProj: [total, 3H] = x·W + b_input;
 * wHH: [H, 3H]; bHH: [3H] recurrent bias; h0: [B, H].
 */
export function gru(xProj: Tensor, wHH: Tensor, bHH: Tensor, h0: Tensor, layout: PackedLayout, options: RnnOptions = {}): GruResult {
  const H = checkRnnShapes('gru', xProj, 3, wHH, h0, layout);
  const G = 3 * H;
  if (bHH.size !== G) throw new ShapeError(`gru: recurrent bias must have ${G} elements, got ${shapeString(bHH.shape)}`);
  const K = kernels();
  const N = layout.total;
  if (wHH.int8?.axis === 1) checkInference(wHH, 'gru', xProj, bHH, h0);
  else wHH = denseOf(wHH, 'gru');
  const w8 = wHH.int8;
  const gates = options.reuseInput ? xProj.data : copyFloat32(xProj.data);
  const hGates = uninitializedFloat32(N * G);
  const output = new Tensor(uninitializedFloat32(N * H), [N, H]);
  const hAll = output.data;
  const h0Zero = layout.steps > 0 && isZero(h0.data, layout.batchSizes[0] * H);
  for (let t = 0; t < layout.steps; t++) {
    const n = layout.batchSizes[t], off = layout.offsets[t];
    const hPrev = t === 0 ? h0.data : hAll.subarray(layout.offsets[t - 1] * H);
    const hg = hGates.subarray(off * G, (off + n) * G);
    for (let r = 0; r < n; r++) hg.set(bHH.data, r * G);
    if (t > 0 || !h0Zero) {
      if (w8) int8Product(hPrev, n, w8, null, hg, true);
      else K.gemm(false, false, n, G, H, 1, hPrev, H, wHH.data, G, 1, hg, G);
    }
    K.gruCellForward(n, H, gates.subarray(off * G, (off + n) * G), hg, hPrev, hAll.subarray(off * H, (off + n) * H));
  }
  const h = new Tensor(gatherFinal(layout, H, hAll, h0.data), [layout.batch, H]);
  if (needsGrad(xProj, wHH, bHH, h0)) {
    let done = false;
    const run = (): void => {
      if (done) return;
      done = true;
      const dh = new Float32Array(layout.batch * H);
      if (h.grad) dh.set(h.grad); // seeds the carry, as in lstm
      const dOut = output.grad;
      const dx = uninitializedFloat32(N * G);
      const dhg = uninitializedFloat32(N * G);
      const back = recurrentBackMatrix(wHH.data, H, G, layout.steps);
      for (let t = layout.steps - 1; t >= 0; t--) {
        const n = layout.batchSizes[t], off = layout.offsets[t];
        if (dOut) addRange(dh, 0, dOut, off * H, n * H);
        const hPrev = t === 0 ? h0.data : hAll.subarray(layout.offsets[t - 1] * H);
        const dhgT = dhg.subarray(off * G, (off + n) * G);
        K.gruCellBackward(n, H, gates.subarray(off * G, (off + n) * G), hGates.subarray(off * G, (off + n) * G), hPrev, dh, dx.subarray(off * G, (off + n) * G), dhgT);
        if (t > 0 || h0.requiresGrad) K.gemm(false, back.trans, n, H, G, 1, dhgT, G, back.w, back.ld, 1, dh, H); // at t = 0 only h0 needs it
      }
      if (xProj.requiresGrad) {
        if (!xProj.grad) xProj.grad = dx;
        else addTo(xProj.grad, dx);
      }
      if (wHH.requiresGrad && N > 0) {
        const prev = previousStates(layout, H, hAll, h0.data);
        K.gemm(true, false, H, G, N, 1, prev, H, dhg, G, 1, wHH.gradBuffer(), G);
      }
      if (bHH.requiresGrad) K.sumRows(N, G, dhg, bHH.gradBuffer());
      if (h0.requiresGrad) addTo(h0.gradBuffer(), dh);
    };
    record(output, run);
    record(h, run);
  }
  return { output, h };
}

/** True when x[0, n) holds only zeros (then h0·W can be skipped). */
function isZero(x: Float32Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (x[i] !== 0) return false;
  return true;
}

function addTo(dst: Float32Array, src: Float32Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}

/** dst[at, at + n) += src[from, from + n). A top-level function, so V8 optimises the loop once for every closure. */
function addRange(dst: Float32Array, at: number, src: Float32Array, from: number, n: number): void {
  for (let i = 0; i < n; i++) dst[at + i] += src[from + i];
}

/**
 * W_hh [H, G] as the backward pass multiplies it (dh = dGates·Wᵀ): over many
 * steps the product runs faster with Wᵀ stored, so it is transposed once; a
 * single step (input-fed decoders run one per call) does not repay the copy
 * and uses W with a transposed GEMM.
 */
function recurrentBackMatrix(w: Float32Array, H: number, G: number, steps: number): { w: Float32Array; trans: boolean; ld: number } {
  return steps > 1 ? { w: transposed(w, H, G), trans: false, ld: H } : { w, trans: true, ld: G };
}

/** The cols×rows transpose of a row-major rows×cols matrix: strips of 8 source rows, written contiguously. */
function transposed(src: Float32Array, rows: number, cols: number): Float32Array {
  const dst = uninitializedFloat32(rows * cols);
  for (let r0 = 0; r0 < rows; r0 += 8) {
    const r1 = Math.min(rows, r0 + 8);
    for (let c = 0; c < cols; c++) {
      for (let r = r0, d = c * rows + r0, s = r0 * cols + c; r < r1; r++, d++, s += cols) dst[d] = src[s];
    }
  }
  return dst;
}
