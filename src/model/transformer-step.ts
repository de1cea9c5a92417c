/**
 * The Transformer's inference-only incremental decoder step: no tape, no
 * Tensor per op. A session (one per encoded batch) owns preallocated
 * buffers sized for its rows and reuses them every step:
 *   - self-attention keys/values per block in [rows, heads, capacity,
 *     headDim] storage, the new position written in place, the capacity
 *     doubled (one block copy) when full; beam reordering gathers rows into
 *     a second buffer and swaps the two, nothing is reallocated;
 *   - cross-attention keys/values as the encoder's projection [B·S, 2D],
 *     read through a row → sentence index: dropping finished rows or
 *     reordering beams never copies them;
 *   - per block one GEMM for q, k, v; one attentionStep call over all heads
 *     (that also appends the new key/value); the residual add fused with the
 *     next layer norm (addLayerNorm); bias + activation of the feed-forward
 *     in one pass; the output projection followed by log-softmax.
 * Few-row GEMMs (batch 1, a beam) take the kernels' unpacked path; int8
 * weights (quantized bundles) the int8 GEMM, activations quantized per row.
 *
 * States are values to their holders, as the interface promises: a state
 * carries its session and the session's version when it was made. Stepping
 * or reordering the newest state works in place; an older one (stepped
 * twice, or after a reordering) is first rebuilt in a new session by
 * replaying its tokens, which every state keeps (rows × steps ids).
 */
import { kernels, ShapeError, int8Product, int8GatherRows, type Int8Weight } from '../engine/index.js';

/**
 * A weight matrix as the step reads it: float32 [in, out] (x·W; a table
 * [rows, D] where it is read by row), or the int8 payload of a quantized
 * bundle (channels along out for x·W, along rows for tables).
 */
export type StepMatrix = Float32Array | Int8Weight;

/** A dense layer: kernel and float32 bias. */
export interface StepDense {
  kernel: StepMatrix;
  bias: Float32Array;
}

/** Weights of one decoder block. */
export interface StepBlockWeights {
  norm1: { gain: Float32Array; bias: Float32Array };
  norm2: { gain: Float32Array; bias: Float32Array };
  norm3: { gain: Float32Array; bias: Float32Array };
  qkv: StepDense;
  selfOut: StepDense;
  crossQuery: StepDense;
  crossKV: StepDense;
  crossOut: StepDense;
  inner: StepDense;
  outer: StepDense;
}

/** What the step needs of the model: shapes, weights, and the target embedding and positions. */
export interface StepWeights {
  dim: number;
  heads: number;
  ffDim: number;
  vocab: number;
  activation: 'relu' | 'gelu';
  postNorm: boolean;
  blocks: StepBlockWeights[];
  /** Final decoder layer norm (pre-LN), or null. */
  finalNorm: { gain: Float32Array; bias: Float32Array } | null;
  /** Target embedding [V, D]. */
  embedding: StepMatrix;
  /** Output layer: the tied embedding (x·Eᵀ) when null, else x·W + b. */
  output: StepDense | null;
  /** The position table covering position `p` and the row to use for it (learned positions clamp). */
  position(p: number): { table: Float32Array; row: number };
}

/** The encoded batch every session of it reads: cross keys/values per block, the source mask. */
interface Memory {
  /** Per block: keys in columns [0, D), values in [D, 2D) of [sentences·srcLen, 2D]. */
  kv: Float32Array[];
  srcMask: Uint8Array;
  srcLen: number;
}

const INITIAL_POSITIONS = 16;
const LN_EPS = 1e-5;

/**
 * out [n, cols] = x [n, depth] · W (no bias), or x · Tᵀ for a table T
 * [cols, depth] read by row (`byTable`: the tied output layer). float32:
 * a GEMM; int8 (channel-major either way): x quantized per row and the int8
 * GEMM, the products the tape's ops run on the same weights.
 */
function multiply(n: number, cols: number, depth: number, x: Float32Array, w: StepMatrix, out: Float32Array, byTable = false): void {
  if (!(w instanceof Float32Array)) int8Product(x, n, w, null, out, false);
  else if (byTable) kernels().gemm(false, true, n, cols, depth, 1, x, depth, w, depth, 0, out, cols);
  else kernels().gemm(false, false, n, cols, depth, 1, x, depth, w, cols, 0, out, cols);
}

/** Decoder state of the incremental step. Opaque outside the model. */
export interface IncrementalState {
  readonly kind: 'incremental';
  readonly session: Session;
  /** The session's version when this state was made (stale when it has moved on). */
  readonly version: number;
  readonly rows: number;
  /** Positions decoded so far. */
  readonly steps: number;
  /** Row → encoded sentence (its cross keys/values and source mask). */
  readonly origin: Int32Array;
  /** The tokens fed so far, rows × steps. */
  readonly history: Int32Array;
}

/** One step's outputs. */
export interface IncrementalStep {
  logits: Float32Array;
  logProbs: Float32Array;
  /** Last block's cross-attention averaged over heads, [rows, srcLen]. */
  attention: Float32Array;
  state: IncrementalState;
}

/** The working buffers of one encoded batch (see the module comment). */
export class Session {
  version = 0;
  private rowCap = 0;
  private posCap = 0;
  private selfK: Float32Array[] = [];
  private selfV: Float32Array[] = [];
  private spareK: (Float32Array | null)[] = [];
  private spareV: (Float32Array | null)[] = [];
  private x = new Float32Array(0);
  private h = new Float32Array(0);
  private qkv = new Float32Array(0);
  private q = new Float32Array(0);
  private att = new Float32Array(0);
  private proj = new Float32Array(0);
  private ff = new Float32Array(0);
  private probs = new Float32Array(0);
  private mean = new Float32Array(0);
  private rstd = new Float32Array(0);
  private positionIds = new Int32Array(0);
  private rowIds = new Int32Array(0);

  constructor(readonly w: StepWeights, readonly memory: Memory, rows: number) {
    this.ensureRows(rows);
    this.ensurePositions(INITIAL_POSITIONS, 0, 0);
  }

  /** A state of `rows` rows at step 0 in this session. */
  start(origin: Int32Array): IncrementalState {
    this.version++;
    return { kind: 'incremental', session: this, version: this.version, rows: origin.length, steps: 0, origin, history: new Int32Array(0) };
  }

  /** Room for `rows` rows (new, empty caches: the caller fills them). */
  private ensureRows(rows: number): void {
    if (rows <= this.rowCap) return;
    const cap = Math.max(rows, 2 * this.rowCap);
    const { dim: D, ffDim: F, heads: H } = this.w;
    this.x = new Float32Array(cap * D); this.h = new Float32Array(cap * D); this.qkv = new Float32Array(cap * 3 * D);
    this.q = new Float32Array(cap * D); this.att = new Float32Array(cap * D); this.proj = new Float32Array(cap * D);
    this.ff = new Float32Array(cap * F); this.probs = new Float32Array(cap * H * this.memory.srcLen);
    this.mean = new Float32Array(cap); this.rstd = new Float32Array(cap); this.positionIds = new Int32Array(cap);
    this.rowIds = Int32Array.from({ length: cap }, (_, i) => i);
    const block = H * this.posCap * (D / H);
    for (let l = 0; l < this.w.blocks.length; l++) {
      this.selfK[l] = new Float32Array(cap * block); this.selfV[l] = new Float32Array(cap * block);
      this.spareK[l] = null; this.spareV[l] = null;
    }
    this.rowCap = cap;
  }

  /** 0, 1, …, n − 1 (row ids of already-gathered rows). */
  private iota(n: number): Int32Array {
    return this.rowIds.subarray(0, n);
  }

  /** Room for `positions` positions per row, the first `steps` of the first `rows` rows kept (one block copy). */
  private ensurePositions(positions: number, rows: number, steps: number): void {
    if (positions <= this.posCap) return;
    let cap = Math.max(this.posCap, INITIAL_POSITIONS);
    while (cap < positions) cap *= 2;
    const { dim: D, heads: H } = this.w, hd = D / H, K = kernels();
    for (let l = 0; l < this.w.blocks.length; l++) {
      const k = new Float32Array(this.rowCap * H * cap * hd), v = new Float32Array(this.rowCap * H * cap * hd);
      if (rows > 0 && steps > 0) {
        K.copyBlock(rows * H, steps * hd, this.selfK[l], this.posCap * hd, k, cap * hd, false);
        K.copyBlock(rows * H, steps * hd, this.selfV[l], this.posCap * hd, v, cap * hd, false);
      }
      this.selfK[l] = k; this.selfV[l] = v; this.spareK[l] = null; this.spareV[l] = null;
    }
    this.posCap = cap;
  }

  /** The previous token of every row → logits, log-probabilities, attention and the state one position longer. */
  step(tokens: Int32Array, state: IncrementalState): IncrementalStep {
    const w = this.w, K = kernels();
    const n = state.rows, T = state.steps, D = w.dim, H = w.heads, hd = D / H, F = w.ffDim, V = w.vocab;
    const S = this.memory.srcLen;
    if (tokens.length !== n) throw new ShapeError(`decodeStep: ${tokens.length} tokens for a state of ${n} rows`);
    for (let i = 0; i < n; i++) {
      if (tokens[i] >= V) throw new ShapeError(`embedPositions: id ${tokens[i]} at position ${i} is out of range for ${V} rows`);
    }
    this.ensurePositions(T + 1, n, T);
    const pos = w.position(T);
    const positionIds = this.positionIds.subarray(0, n).fill(pos.row);
    const x = this.x.subarray(0, n * D), h = this.h.subarray(0, n * D), qkv = this.qkv.subarray(0, n * 3 * D);
    const q = this.q.subarray(0, n * D), att = this.att.subarray(0, n * D), proj = this.proj.subarray(0, n * D), ff = this.ff.subarray(0, n * F);
    const probs = this.probs.subarray(0, n * H * S);
    if (w.embedding instanceof Float32Array) {
      K.embedPositions(D, w.embedding, tokens, Math.sqrt(D), pos.table, positionIds, x);
    } else {
      // int8 table: the rows dequantized first (into h, not yet in use), then the same fused scale + position add.
      int8GatherRows(w.embedding, tokens, h);
      K.embedPositions(D, h, this.iota(n), Math.sqrt(D), pos.table, positionIds, x);
    }
    const last = w.blocks.length - 1;
    const cap = this.posCap;
    // Pre-LN: h is the normed input of the next sublayer, x the residual stream. Post-LN: both are x.
    if (!w.postNorm) {
      const n1 = w.blocks[0].norm1;
      K.layerNormForward(n, D, x, n1.gain, n1.bias, LN_EPS, h, this.mean, this.rstd);
    }
    const inp = w.postNorm ? x : h;
    for (let l = 0; l <= last; l++) {
      const b = w.blocks[l];
      // Causal self-attention over the cache, the new position appended by the kernel.
      multiply(n, 3 * D, D, inp, b.qkv.kernel, qkv);
      K.addRowVector(n, 3 * D, qkv, b.qkv.bias);
      K.attentionStep(n, H, hd, T + 1, qkv, 3 * D, qkv.subarray(D), qkv.subarray(2 * D), 3 * D, this.selfK[l], this.selfV[l],
        H * cap * hd, cap * hd, hd, null, null, att, null);
      multiply(n, D, D, att, b.selfOut.kernel, proj);
      const nA = w.postNorm ? b.norm1 : b.norm2;
      K.addLayerNorm(n, D, x, proj, b.selfOut.bias, nA.gain, nA.bias, LN_EPS, inp);
      // Cross-attention over the sentence's memory.
      multiply(n, D, D, inp, b.crossQuery.kernel, q);
      K.addRowVector(n, D, q, b.crossQuery.bias);
      const kv = this.memory.kv[l];
      K.attentionStep(n, H, hd, S, q, D, null, null, 0, kv, kv.subarray(D), S * 2 * D, hd, 2 * D, state.origin, this.memory.srcMask,
        att, l === last ? probs : null);
      multiply(n, D, D, att, b.crossOut.kernel, proj);
      const nB = w.postNorm ? b.norm2 : b.norm3;
      K.addLayerNorm(n, D, x, proj, b.crossOut.bias, nB.gain, nB.bias, LN_EPS, inp);
      // Feed-forward: bias and activation in one pass.
      multiply(n, F, D, inp, b.inner.kernel, ff);
      K.biasActivation(n, F, ff, b.inner.bias, w.activation, null, ff);
      multiply(n, D, F, ff, b.outer.kernel, proj);
      // The residual add with the next block's first norm (or the final norm; post-LN: this block's third).
      const nC = w.postNorm ? b.norm3 : l < last ? w.blocks[l + 1].norm1 : (w.finalNorm as { gain: Float32Array; bias: Float32Array });
      K.addLayerNorm(n, D, x, proj, b.outer.bias, nC.gain, nC.bias, LN_EPS, inp);
    }
    const final = inp;
    const logits = new Float32Array(n * V), logProbs = new Float32Array(n * V);
    if (w.output) {
      multiply(n, V, D, final, w.output.kernel, logits);
      K.addRowVector(n, V, logits, w.output.bias);
    } else {
      multiply(n, V, D, final, w.embedding, logits, true);
    }
    K.softmaxRows(n, V, logits, logProbs, true);
    const attention = meanOverHeads(probs, n, H, S);
    const history = new Int32Array(n * (T + 1));
    for (let r = 0; r < n; r++) {
      history.set(state.history.subarray(r * T, (r + 1) * T), r * (T + 1));
      history[r * (T + 1) + T] = tokens[r];
    }
    this.version++;
    const next: IncrementalState = { kind: 'incremental', session: this, version: this.version, rows: n, steps: T + 1, origin: state.origin, history };
    return { logits, logProbs, attention, state: next };
  }

  /** The rows `index` of the newest state (rows may repeat): caches gathered into the spare buffers, then swapped. */
  select(state: IncrementalState, index: Int32Array): IncrementalState {
    const m = index.length, T = state.steps, K = kernels();
    for (let i = 0; i < m; i++) {
      if (!(index[i] >= 0 && index[i] < state.rows)) throw new RangeError(`selectState: row ${index[i]} at ${i} is out of range for ${state.rows} rows`);
    }
    if (m > this.rowCap) {
      // Grow: the gathered rows go straight into the new, larger buffers.
      const oldK = this.selfK.slice(), oldV = this.selfV.slice(), cap = this.posCap;
      this.ensureRows(m);
      const block = this.w.heads * cap * (this.w.dim / this.w.heads);
      for (let l = 0; l < oldK.length; l++) {
        K.gatherRows(block, oldK[l], index, this.selfK[l].subarray(0, m * block));
        K.gatherRows(block, oldV[l], index, this.selfV[l].subarray(0, m * block));
      }
    } else if (T > 0) {
      const block = this.w.heads * this.posCap * (this.w.dim / this.w.heads);
      for (let l = 0; l < this.selfK.length; l++) {
        const sk = this.spareK[l] ?? new Float32Array(this.selfK[l].length), sv = this.spareV[l] ?? new Float32Array(this.selfV[l].length);
        K.gatherRows(block, this.selfK[l], index, sk.subarray(0, m * block));
        K.gatherRows(block, this.selfV[l], index, sv.subarray(0, m * block));
        this.spareK[l] = this.selfK[l]; this.spareV[l] = this.selfV[l];
        this.selfK[l] = sk; this.selfV[l] = sv;
      }
    }
    const origin = index.map((i) => state.origin[i]);
    const history = new Int32Array(m * T);
    for (let i = 0; i < m; i++) history.set(state.history.subarray(index[i] * T, (index[i] + 1) * T), i * T);
    this.version++;
    return { kind: 'incremental', session: this, version: this.version, rows: m, steps: T, origin, history };
  }
}

/** The session's newest state equal to `state`: itself, or rebuilt in a new session by replaying its tokens. */
export function current(state: IncrementalState): IncrementalState {
  if (state.session.version === state.version) return state;
  const old = state.session;
  const session = new Session(old.w, old.memory, Math.max(1, state.rows));
  let s = session.start(state.origin);
  const T = state.steps, tokens = new Int32Array(state.rows);
  for (let t = 0; t < T; t++) {
    for (let r = 0; r < state.rows; r++) tokens[r] = state.history[r * T + t];
    s = session.step(tokens, s).state;
  }
  return s;
}

/** The cross-attention keys/values of every block for an encoded batch: memory [B·S, D] · W_kv + b. */
export function encodeMemory(w: StepWeights, memory: Float32Array, sentences: number, srcLen: number, srcMask: Uint8Array): Memory {
  const K = kernels(), D = w.dim, rows = sentences * srcLen;
  const kv = w.blocks.map((b) => {
    const out = new Float32Array(rows * 2 * D);
    if (rows > 0) {
      multiply(rows, 2 * D, D, memory, b.crossKV.kernel, out);
      K.addRowVector(rows, 2 * D, out, b.crossKV.bias);
    }
    return out;
  });
  return { kv, srcMask, srcLen };
}

/** Attention probabilities [n, heads, S] → their mean over heads, [n, S]. */
export function meanOverHeads(probs: Float32Array, n: number, heads: number, S: number): Float32Array {
  const out = new Float32Array(n * S);
  for (let r = 0; r < n; r++) {
    for (let h = 0; h < heads; h++) {
      const base = (r * heads + h) * S;
      for (let s = 0; s < S; s++) out[r * S + s] += probs[base + s];
    }
  }
  for (let i = 0; i < out.length; i++) out[i] /= heads;
  return out;
}
