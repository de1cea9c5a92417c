/**
 * The kernel interface: every numerically heavy primitive the engine needs.
 * Three implementations exist — the native addon (C, OpenBLAS), the same C
 * compiled to WebAssembly (wasm.ts) and plain TypeScript — and tests hold
 * them to the same results.
 *
 * Conventions: matrices are row-major Float32Array views; `rows`/`cols`
 * describe the logical shape. Functions write into caller-provided outputs
 * so that hot loops allocate nothing.
 */
export interface Kernels {
  readonly name: 'native' | 'js' | 'wasm';
  /** Human-readable description (e.g. which BLAS is used). */
  readonly description: string;

  /**
   * Where long-lived buffers (parameters, their gradients, optimizer slots)
   * should live, when the kernel set has a memory of its own (wasm: arrays
   * in its memory are passed without copies). A zeroed array of n floats, or
   * null when none can be had; absent on kernel sets that take any array.
   */
  allocFloat32?(n: number): Float32Array | null;
  /** The same for int8 weights (quantized bundles). */
  allocInt8?(n: number): Int8Array | null;

  /**
   * C = alpha · op(A) · op(B) + beta · C, with op(X) = X or Xᵀ.
   * op(A) is m×k, op(B) is k×n, C is m×n; lda/ldb/ldc are row strides.
   */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number,
    alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
    beta: number, c: Float32Array, ldc: number,
  ): void;

  /**
   * One LSTM step for `rows` sequences (Keras gate order i, f, g, o).
   * `gates` (rows×4H) holds pre-activations on entry and activations on exit.
   * c = f⊙cPrev + i⊙g;  h = o⊙tanh(c).
   */
  lstmCellForward(rows: number, hidden: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array, h: Float32Array): void;

  /**
   * Backward of one LSTM step. Reads activated `gates`, `cPrev`, `c` and the
   * incoming gradients `dh` and `dc` (rows×H, gradient w.r.t. this step's h
   * and c); writes pre-activation gate gradients into `dGates` (rows×4H) and
   * overwrites `dc` with the gradient w.r.t. cPrev.
   */
  lstmCellBackward(
    rows: number, hidden: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array,
    dh: Float32Array, dc: Float32Array, dGates: Float32Array,
  ): void;

  /**
   * One GRU step, reset-after variant (Keras reset_after=True / cuDNN), gate
   * order z, r, n. `xGates` (rows×3H) = x·W + b_input; `hGates` (rows×3H) =
   * hPrev·U + b_recurrent. On exit `xGates` holds [z, r, n] activations and
   * `hGates` is unchanged (its n-part is needed by the backward).
   * n = tanh(x_n + r⊙h_n);  h = z⊙hPrev + (1−z)⊙n.
   */
  gruCellForward(rows: number, hidden: number, xGates: Float32Array, hGates: Float32Array, hPrev: Float32Array, h: Float32Array): void;

  /**
   * Backward of one GRU step. `dh` is the gradient w.r.t. this step's h and
   * is overwritten by the part of the gradient w.r.t. hPrev that flows
   * directly (z⊙dh); `dxGates` receives gradients w.r.t. the input
   * pre-activations, `dhGates` w.r.t. the recurrent pre-activations.
   */
  gruCellBackward(
    rows: number, hidden: number, gates: Float32Array, hGates: Float32Array, hPrev: Float32Array,
    dh: Float32Array, dxGates: Float32Array, dhGates: Float32Array,
  ): void;

  /**
   * Softmax cross-entropy over `rows` rows of `cols` logits with integer
   * targets and label smoothing ε (the target distribution is
   * (1−ε)·onehot + ε/cols, as torch's CrossEntropyLoss(label_smoothing)).
   * Rows whose target is negative are ignored (padding). Writes
   * `scale · (softmax − target distribution)` into `dLogits` (0 for ignored
   * rows) when given, and returns the summed loss over non-ignored rows.
   */
  softmaxCrossEntropy(
    rows: number, cols: number, logits: Float32Array, targets: Int32Array, dLogits: Float32Array | null, scale: number,
    labelSmoothing: number,
  ): number;

  /** Row-wise softmax (logSoftmax when `log`), numerically stable. */
  softmaxRows(rows: number, cols: number, x: Float32Array, out: Float32Array, log: boolean): void;

  /** Elementwise activations: out = f(x). */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array): void;
  /** dx += dy ⊙ f'(x) expressed through the forward output y. */
  unaryBackward(op: UnaryOp, y: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /** x[r, :] += bias for every row. */
  addRowVector(rows: number, cols: number, x: Float32Array, bias: Float32Array): void;
  /** out[:] += Σ_r x[r, :] (bias gradients). */
  sumRows(rows: number, cols: number, x: Float32Array, out: Float32Array): void;

  /** out[i, :] = src[index[i], :], or zeros where index[i] < 0. */
  gatherRows(cols: number, src: Float32Array, index: Int32Array, out: Float32Array): void;
  /** dst[index[i], :] += src[i, :] for index[i] ≥ 0. */
  scatterAddRows(cols: number, src: Float32Array, index: Int32Array, dst: Float32Array): void;

  /** Σ x² accumulated in double precision. */
  sumSquares(x: Float32Array): number;
  /** x *= s. */
  scale(x: Float32Array, s: number): void;

  /**
   * Scaled dot-product attention over all (batch, head) pairs. q is
   * [batch·tq, heads·headDim], k and v [batch·tk, heads·headDim]; head h
   * owns columns [h·headDim, (h+1)·headDim). Scores are q·kᵀ/√headDim;
   * key j is hidden from query i when keyMask[b·tk + j] = 0 or (causal)
   * j > i + tk − tq. Writes the softmax probabilities into `probs`
   * [batch, heads, tq, tk] (a row with no visible key is all zeros) and
   * out = (probs ⊙ dropMask·keepScale)·v into `out` [batch·tq, heads·headDim];
   * dropMask (same size as probs: 1 = kept, 0 = dropped) may be null.
   */
  attentionForward(
    batch: number, heads: number, tq: number, tk: number, headDim: number,
    q: Float32Array, k: Float32Array, v: Float32Array, keyMask: Uint8Array | null, causal: boolean,
    dropMask: Uint8Array | null, keepScale: number, probs: Float32Array, out: Float32Array,
  ): void;
  /**
   * Backward of attentionForward from its `probs` and dOut: adds the
   * gradients into dq, dk and dv (each may be null when not wanted).
   */
  attentionBackward(
    batch: number, heads: number, tq: number, tk: number, headDim: number,
    q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array, dropMask: Uint8Array | null, keepScale: number,
    dOut: Float32Array, dq: Float32Array | null, dk: Float32Array | null, dv: Float32Array | null,
  ): void;

  /**
   * Attention of one new query per row over cached keys and values
   * (incremental decoding), all heads in one call. Row r reads block
   * b = block ? block[r] : r; key j of head h of block b is the headDim
   * floats at k[b·blockStride + h·headStride + j·posStride] (v likewise), for
   * j < keys. q of row r, head h is at q[r·qStride + h·headDim]. When kNew
   * and vNew are given (then block must be null), row r first writes
   * kNew[r·newStride + h·headDim …] and vNew's as its key/value `keys − 1`
   * (self-attention appending the new position). keyMask [blocks·keys]
   * (1 = real) or null. Writes out[r·heads·headDim + h·headDim …] =
   * softmax(q·kᵀ/√headDim)·v, and the probabilities into probs
   * [rows, heads, keys] when given; a row that sees no key gives zeros.
   */
  attentionStep(
    rows: number, heads: number, headDim: number, keys: number, q: Float32Array, qStride: number,
    kNew: Float32Array | null, vNew: Float32Array | null, newStride: number, k: Float32Array, v: Float32Array,
    blockStride: number, headStride: number, posStride: number, block: Int32Array | null, keyMask: Uint8Array | null,
    out: Float32Array, probs: Float32Array | null,
  ): void;

  /**
   * The residual add and the next layer norm in one pass: per row,
   * x += delta (+ bias) (either may be null), then out = (x − μ)/√(σ² + eps)·gain + lnBias.
   * out may be x (post-norm blocks).
   */
  addLayerNorm(
    rows: number, cols: number, x: Float32Array, delta: Float32Array | null, bias: Float32Array | null,
    gain: Float32Array, lnBias: Float32Array, eps: number, out: Float32Array,
  ): void;

  /**
   * Layer normalisation of each row: out = (x − μ)/√(σ² + eps)·gain + bias;
   * also writes μ into `mean` and 1/√(σ² + eps) into `rstd` (one per row).
   */
  layerNormForward(
    rows: number, cols: number, x: Float32Array, gain: Float32Array, bias: Float32Array, eps: number,
    out: Float32Array, mean: Float32Array, rstd: Float32Array,
  ): void;
  /** Backward of layerNormForward: adds into dx, dGain and dBias (each may be null). */
  layerNormBackward(
    rows: number, cols: number, x: Float32Array, gain: Float32Array, mean: Float32Array, rstd: Float32Array,
    dy: Float32Array, dx: Float32Array | null, dGain: Float32Array | null, dBias: Float32Array | null,
  ): void;

  /**
   * z = x + bias (bias a row of `cols`, or null), written to `pre` when
   * given, and out = act(z). Elementwise, so out and pre may alias x.
   */
  biasActivation(
    rows: number, cols: number, x: Float32Array, bias: Float32Array | null, act: Activation,
    pre: Float32Array | null, out: Float32Array,
  ): void;
  /**
   * dx = dy ⊙ act'(z), overwriting dx. For 'gelu' `z` is the
   * pre-activation; for 'relu' the output will do (same sign).
   */
  activationBackward(act: Activation, z: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /**
   * out[i] = table[ids[i]]·scale + positions[positionIds[i]] (rows of
   * `cols`; a negative id or position id contributes zeros).
   */
  embedPositions(
    cols: number, table: Float32Array, ids: Int32Array, scale: number, positions: Float32Array,
    positionIds: Int32Array, out: Float32Array,
  ): void;
  /** Backward: dTable[ids[i]] += scale·dy[i], dPositions[positionIds[i]] += dy[i] (either may be null). */
  embedPositionsBackward(
    cols: number, dy: Float32Array, ids: Int32Array, scale: number, positionIds: Int32Array,
    dTable: Float32Array | null, dPositions: Float32Array | null,
  ): void;

  /**
   * Dropout keep-mask: for each element one xoshiro128** draw u from `state`
   * (4 uint32 words, advanced in place, as Rng.nextUint32), mask = u ≥ p·2³²
   * (i.e. rng.next() ≥ p). Integer arithmetic: both kernel sets give the same bits.
   */
  keepMask(state: Uint32Array, p: number, mask: Uint8Array): void;

  /**
   * Inverted dropout with a keep-mask: out[i] = mask[i] ? x[i]·scale : 0,
   * or added into out when `accumulate` (the backward).
   */
  dropoutApply(mask: Uint8Array, scale: number, x: Float32Array, out: Float32Array, accumulate: boolean): void;
  /**
   * A rows×cols block: dst[r·dstStride + j] = src[r·srcStride + j] (or +=
   * when `accumulate`); src and dst start at the block's first element.
   * Column slices, concatenations and their gradients.
   */
  copyBlock(rows: number, cols: number, src: Float32Array, srcStride: number, dst: Float32Array, dstStride: number, accumulate: boolean): void;

  /** out[r] = the index of the largest of row r's `cols` values (the first on ties; 0 when none is > −∞). */
  argmaxRows(rows: number, cols: number, x: Float32Array, out: Int32Array): void;

  // ------------------------------------------------------------ int8 inference (quantized bundles)
  //
  // Bit-exact contract: every kernel set must give the same bits as the js
  // kernels. Integer sums are exact; the float steps are spelled out below
  // as single float32 operations, each rounded to nearest-even (no FMA
  // contraction, no reassociation). roundEven(v) is round-half-to-even
  // (C lrintf / nearbyintf in the default mode, _mm256_cvtps_epi32, wasm
  // f32x4.nearest).

  /**
   * Symmetric per-row quantization of activations: for each of `rows` rows
   * of `cols` floats in x (row-major, contiguous), amax = max |x[r, j]|
   * (0 for an empty row); when amax > 0: inv = fl(127 / amax),
   * scales[r] = fl(amax / 127), q[r, j] = clamp(roundEven(fl(x[r, j] · inv)), −127, 127);
   * when amax = 0: scales[r] = 0 and the row of q is 0. q has rows·cols
   * entries, scales rows. NaN/±∞ inputs give unspecified (but in-bounds) results.
   */
  quantizeRowsInt8(rows: number, cols: number, x: Float32Array, q: Int8Array, scales: Float32Array): void;

  /**
   * int8 GEMM with dequantization: a is [m, k] row-major (quantized
   * activations, one scale per row in aScales[m]), b is [n, k] row-major
   * (channel-major weights: row j holds output channel j's k weights, one
   * scale per channel in bScales[n]). With s = Σ_p a[i, p]·b[j, p] in exact
   * integer arithmetic (|s| < 2³¹; k ≤ 131072 guarantees it for values in
   * [−127, 127]):
   *   v = fl(float32(s) · fl(aScales[i] · bScales[j]))     (float32(s): s rounded to nearest-even float32)
   *   v = fl(v + bias[j])            when bias is given (n entries)
   *   out[i·n + j] = accumulate ? fl(out[i·n + j] + v) : v
   * out is [m, n] row-major (contiguous). Results must not depend on how a
   * kernel splits the work (threads, blocks).
   */
  gemmInt8(
    m: number, n: number, k: number, a: Int8Array, aScales: Float32Array, b: Int8Array, bScales: Float32Array,
    bias: Float32Array | null, accumulate: boolean, out: Float32Array,
  ): void;

  /**
   * Dequantizing row gather from an int8 table with one scale per row
   * (embedding lookups): out[i, j] = fl(float32(table[index[i]·cols + j]) · scales[index[i]]),
   * or 0 where index[i] < 0. out has index.length·cols entries.
   */
  gatherRowsInt8(cols: number, table: Int8Array, scales: Float32Array, index: Int32Array, out: Float32Array): void;

  /** RMSprop (Keras): ms = ρ·ms + (1−ρ)·g²; p −= lr·g / (√ms + ε). */
  rmspropUpdate(p: Float32Array, g: Float32Array, ms: Float32Array, lr: number, rho: number, eps: number): void;
  /** Adam with bias correction folded into `lrT` = lr·√(1−β₂ᵗ)/(1−β₁ᵗ), ε as in Keras. */
  adamUpdate(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lrT: number, beta1: number, beta2: number, eps: number): void;
}

export type UnaryOp = 'sigmoid' | 'tanh' | 'relu';

/** Activations fused into a linear layer's epilogue ('gelu' is the exact erf form, torch's default). */
export type Activation = 'none' | 'relu' | 'gelu';
