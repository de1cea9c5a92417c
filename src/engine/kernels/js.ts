/**
 * Pure-TypeScript kernels: run anywhere (browser included). Arithmetic is
 * done in double precision by the JS engine and stored as float32.
 * GEMM is blocked for cache reuse and register-blocked over four rows of A.
 */
import type { Kernels, UnaryOp, Activation } from './types.js';
import { gelu, geluDerivative } from './erf.js';

const K_BLOCK = 256;
const N_BLOCK = 1024;

/** Round half to even (lrintf in the default mode): Math.round rounds halves up. */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

let scratchA = new Float32Array(0);
let scratchB = new Float32Array(0);

function transposeInto(src: Float32Array, ld: number, rows: number, cols: number, dst: Float32Array): void {
  // dst (cols×rows) = srcᵀ, where src is rows×cols with stride ld; tiles keep both sides in cache.
  const T = 32;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const base = r * ld;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[base + c];
      }
    }
  }
}

function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number,
  alpha: number, a: Float32Array, lda: number, b: Float32Array, ldb: number,
  beta: number, c: Float32Array, ldc: number,
): void {
  if (beta !== 1) {
    for (let i = 0; i < m; i++) {
      const base = i * ldc;
      if (beta === 0) c.fill(0, base, base + n);
      else for (let j = 0; j < n; j++) c[base + j] *= beta;
    }
  }
  if (m === 0 || n === 0 || k === 0 || alpha === 0) return;
  // Bring both operands to plain row-major form so one kernel serves all cases.
  let A = a, ldA = lda;
  if (transA) {
    if (scratchA.length < m * k) scratchA = new Float32Array(m * k);
    transposeInto(a, lda, k, m, scratchA);
    A = scratchA; ldA = k;
  }
  let B = b, ldB = ldb;
  if (transB) {
    if (scratchB.length < k * n) scratchB = new Float32Array(k * n);
    transposeInto(b, ldb, n, k, scratchB);
    B = scratchB; ldB = n;
  }
  for (let j0 = 0; j0 < n; j0 += N_BLOCK) {
    const j1 = Math.min(n, j0 + N_BLOCK);
    for (let p0 = 0; p0 < k; p0 += K_BLOCK) {
      const p1 = Math.min(k, p0 + K_BLOCK);
      let i = 0;
      for (; i + 4 <= m; i += 4) {
        const c0 = i * ldc, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        const a0 = i * ldA, a1 = a0 + ldA, a2 = a1 + ldA, a3 = a2 + ldA;
        for (let p = p0; p < p1; p++) {
          const x0 = alpha * A[a0 + p], x1 = alpha * A[a1 + p], x2 = alpha * A[a2 + p], x3 = alpha * A[a3 + p];
          if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue; // one-hot and masked rows are common
          const bRow = p * ldB;
          for (let j = j0; j < j1; j++) {
            const bv = B[bRow + j];
            c[c0 + j] += x0 * bv;
            c[c1 + j] += x1 * bv;
            c[c2 + j] += x2 * bv;
            c[c3 + j] += x3 * bv;
          }
        }
      }
      for (; i < m; i++) {
        const ci = i * ldc, ai = i * ldA;
        for (let p = p0; p < p1; p++) {
          const x = alpha * A[ai + p];
          if (x === 0) continue;
          const bRow = p * ldB;
          for (let j = j0; j < j1; j++) c[ci + j] += x * B[bRow + j];
        }
      }
    }
  }
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

function lstmCellForward(rows: number, H: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array, h: Float32Array): void {
  const G = 4 * H;
  for (let r = 0; r < rows; r++) {
    const g0 = r * G, s0 = r * H;
    for (let j = 0; j < H; j++) {
      const i = sigmoid(gates[g0 + j]);
      const f = sigmoid(gates[g0 + H + j]);
      const g = Math.tanh(gates[g0 + 2 * H + j]);
      const o = sigmoid(gates[g0 + 3 * H + j]);
      gates[g0 + j] = i; gates[g0 + H + j] = f; gates[g0 + 2 * H + j] = g; gates[g0 + 3 * H + j] = o;
      const cv = Math.fround(f * cPrev[s0 + j] + i * g);
      c[s0 + j] = cv;
      h[s0 + j] = o * Math.tanh(cv);
    }
  }
}

function lstmCellBackward(
  rows: number, H: number, gates: Float32Array, cPrev: Float32Array, c: Float32Array,
  dh: Float32Array, dc: Float32Array, dGates: Float32Array,
): void {
  const G = 4 * H;
  for (let r = 0; r < rows; r++) {
    const g0 = r * G, s0 = r * H;
    for (let j = 0; j < H; j++) {
      const i = gates[g0 + j], f = gates[g0 + H + j], g = gates[g0 + 2 * H + j], o = gates[g0 + 3 * H + j];
      const tc = Math.tanh(c[s0 + j]);
      const dhv = dh[s0 + j];
      const dct = dc[s0 + j] + dhv * o * (1 - tc * tc);
      dGates[g0 + j] = dct * g * i * (1 - i);
      dGates[g0 + H + j] = dct * cPrev[s0 + j] * f * (1 - f);
      dGates[g0 + 2 * H + j] = dct * i * (1 - g * g);
      dGates[g0 + 3 * H + j] = dhv * tc * o * (1 - o);
      dc[s0 + j] = dct * f;
    }
  }
}

function gruCellForward(rows: number, H: number, xGates: Float32Array, hGates: Float32Array, hPrev: Float32Array, h: Float32Array): void {
  const G = 3 * H;
  for (let r = 0; r < rows; r++) {
    const g0 = r * G, s0 = r * H;
    for (let j = 0; j < H; j++) {
      const z = sigmoid(xGates[g0 + j] + hGates[g0 + j]);
      const rr = sigmoid(xGates[g0 + H + j] + hGates[g0 + H + j]);
      const nn = Math.tanh(xGates[g0 + 2 * H + j] + rr * hGates[g0 + 2 * H + j]);
      xGates[g0 + j] = z; xGates[g0 + H + j] = rr; xGates[g0 + 2 * H + j] = nn;
      h[s0 + j] = z * hPrev[s0 + j] + (1 - z) * nn;
    }
  }
}

function gruCellBackward(
  rows: number, H: number, gates: Float32Array, hGates: Float32Array, hPrev: Float32Array,
  dh: Float32Array, dxGates: Float32Array, dhGates: Float32Array,
): void {
  const G = 3 * H;
  for (let r = 0; r < rows; r++) {
    const g0 = r * G, s0 = r * H;
    for (let j = 0; j < H; j++) {
      const z = gates[g0 + j], rr = gates[g0 + H + j], nn = gates[g0 + 2 * H + j];
      const hn = hGates[g0 + 2 * H + j];
      const dhv = dh[s0 + j];
      const dn = dhv * (1 - z) * (1 - nn * nn);
      const dz = dhv * (hPrev[s0 + j] - nn) * z * (1 - z);
      const dr = dn * hn * rr * (1 - rr);
      dxGates[g0 + j] = dz; dxGates[g0 + H + j] = dr; dxGates[g0 + 2 * H + j] = dn;
      dhGates[g0 + j] = dz; dhGates[g0 + H + j] = dr; dhGates[g0 + 2 * H + j] = dn * rr;
      dh[s0 + j] = dhv * z;
    }
  }
}

function softmaxCrossEntropy(
  rows: number, cols: number, logits: Float32Array, targets: Int32Array, dLogits: Float32Array | null, scale: number,
  labelSmoothing: number,
): number {
  const eps = labelSmoothing;
  const smoothGrad = (scale * eps) / cols;
  let loss = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const t = targets[r];
    if (t < 0) {
      if (dLogits) dLogits.fill(0, base, base + cols);
      continue;
    }
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (logits[base + j] > max) max = logits[base + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(logits[base + j] - max);
    const logSum = Math.log(sum);
    if (eps === 0) loss += logSum - (logits[base + t] - max);
    else {
      // (1−ε)·(−log p_t) + ε·mean_j(−log p_j), with −log p_j = logSum − (x_j − max).
      let mean = 0;
      for (let j = 0; j < cols; j++) mean += logits[base + j];
      mean /= cols;
      loss += logSum - (1 - eps) * (logits[base + t] - max) - eps * (mean - max);
    }
    if (dLogits) {
      const inv = scale / sum;
      if (eps === 0) for (let j = 0; j < cols; j++) dLogits[base + j] = Math.exp(logits[base + j] - max) * inv;
      else for (let j = 0; j < cols; j++) dLogits[base + j] = Math.exp(logits[base + j] - max) * inv - smoothGrad;
      dLogits[base + t] -= scale * (1 - eps);
    }
  }
  return loss;
}

function softmaxRows(rows: number, cols: number, x: Float32Array, out: Float32Array, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) if (x[base + j] > max) max = x[base + j];
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j] - max);
    if (log) {
      const ls = Math.log(sum) + max;
      for (let j = 0; j < cols; j++) out[base + j] = x[base + j] - ls;
    } else {
      for (let j = 0; j < cols; j++) out[base + j] = Math.exp(x[base + j] - max) / sum;
    }
  }
}

function unary(op: UnaryOp, x: Float32Array, out: Float32Array): void {
  const n = x.length;
  if (op === 'sigmoid') for (let i = 0; i < n; i++) out[i] = sigmoid(x[i]);
  else if (op === 'tanh') for (let i = 0; i < n; i++) out[i] = Math.tanh(x[i]);
  else for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? x[i] : 0;
}

function unaryBackward(op: UnaryOp, y: Float32Array, dy: Float32Array, dx: Float32Array): void {
  const n = y.length;
  if (op === 'sigmoid') for (let i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1 - y[i]);
  else if (op === 'tanh') for (let i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);
  else for (let i = 0; i < n; i++) if (y[i] > 0) dx[i] += dy[i];
}

// ---------------------------------------------------------------- Transformer kernels

function keepMask(state: Uint32Array, p: number, mask: Uint8Array): void {
  const threshold = p * 4294967296;
  let s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  for (let i = 0; i < mask.length; i++) {
    const m = Math.imul(s1, 5);
    const u = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    mask[i] = u >= threshold ? 1 : 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >>> 21);
  }
  state[0] = s0; state[1] = s1; state[2] = s2; state[3] = s3;
}

let scratchRow = new Float64Array(0);

/** The first key index hidden from query i by the causal mask (tk when not causal). */
function visibleEnd(causal: boolean, i: number, tq: number, tk: number): number {
  if (!causal) return tk;
  const end = i + tk - tq + 1;
  return end < 0 ? 0 : end > tk ? tk : end;
}

function attentionForward(
  batch: number, heads: number, tq: number, tk: number, hd: number,
  q: Float32Array, k: Float32Array, v: Float32Array, keyMask: Uint8Array | null, causal: boolean,
  dropMask: Uint8Array | null, keepScale: number, probs: Float32Array, out: Float32Array,
): void {
  const D = heads * hd;
  const scale = 1 / Math.sqrt(hd);
  if (scratchRow.length < tk) scratchRow = new Float64Array(tk);
  const s = scratchRow;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const pBase = (b * heads + h) * tq * tk;
      for (let i = 0; i < tq; i++) {
        const qo = (b * tq + i) * D + h * hd;
        const pRow = pBase + i * tk;
        const oo = qo;
        const jEnd = visibleEnd(causal, i, tq, tk);
        let max = -Infinity;
        for (let j = 0; j < tk; j++) {
          if (j >= jEnd || (keyMask !== null && keyMask[b * tk + j] === 0)) {
            s[j] = -Infinity;
            continue;
          }
          const ko = (b * tk + j) * D + h * hd;
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[qo + d] * k[ko + d];
          dot *= scale;
          s[j] = dot;
          if (dot > max) max = dot;
        }
        for (let d = 0; d < hd; d++) out[oo + d] = 0;
        if (max === -Infinity) {
          probs.fill(0, pRow, pRow + tk);
          continue;
        }
        let sum = 0;
        for (let j = 0; j < tk; j++) {
          const e = s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
          s[j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < tk; j++) {
          const p = Math.fround(s[j] * inv);
          probs[pRow + j] = p;
          const w = dropMask !== null ? (dropMask[pRow + j] ? p * keepScale : 0) : p;
          if (w === 0) continue;
          const vo = (b * tk + j) * D + h * hd;
          for (let d = 0; d < hd; d++) out[oo + d] += w * v[vo + d];
        }
      }
    }
  }
}

function attentionBackward(
  batch: number, heads: number, tq: number, tk: number, hd: number,
  q: Float32Array, k: Float32Array, v: Float32Array, probs: Float32Array, dropMask: Uint8Array | null, keepScale: number,
  dOut: Float32Array, dq: Float32Array | null, dk: Float32Array | null, dv: Float32Array | null,
): void {
  const D = heads * hd;
  const scale = 1 / Math.sqrt(hd);
  if (scratchRow.length < tk) scratchRow = new Float64Array(tk);
  const dp = scratchRow;
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const pBase = (b * heads + h) * tq * tk;
      for (let i = 0; i < tq; i++) {
        const qo = (b * tq + i) * D + h * hd;
        const pRow = pBase + i * tk;
        // dP_j = (dO_i · v_j)·m_j; dv_j += p_j·m_j·dO_i. Keys with p_j = 0 (masked) contribute nothing.
        let dot = 0;
        for (let j = 0; j < tk; j++) {
          const p = probs[pRow + j];
          if (p === 0) {
            dp[j] = 0;
            continue;
          }
          const m = dropMask !== null ? (dropMask[pRow + j] ? keepScale : 0) : 1;
          const vo = (b * tk + j) * D + h * hd;
          let g = 0;
          for (let d = 0; d < hd; d++) g += dOut[qo + d] * v[vo + d];
          g *= m;
          dp[j] = g;
          dot += p * g;
          if (dv !== null && m !== 0) {
            const w = p * m;
            for (let d = 0; d < hd; d++) dv[vo + d] += w * dOut[qo + d];
          }
        }
        // dS_j = p_j·(dP_j − Σ p·dP), scaled by 1/√headDim for q and k.
        for (let j = 0; j < tk; j++) {
          const p = probs[pRow + j];
          if (p === 0) continue;
          const ds = p * (dp[j] - dot) * scale;
          if (ds === 0) continue;
          const ko = (b * tk + j) * D + h * hd;
          if (dq !== null) for (let d = 0; d < hd; d++) dq[qo + d] += ds * k[ko + d];
          if (dk !== null) for (let d = 0; d < hd; d++) dk[ko + d] += ds * q[qo + d];
        }
      }
    }
  }
}

function layerNormForward(
  rows: number, cols: number, x: Float32Array, gain: Float32Array, bias: Float32Array, eps: number,
  out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let mu = 0;
    for (let j = 0; j < cols; j++) mu += x[base + j];
    mu /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) {
      const c = x[base + j] - mu;
      v += c * c;
    }
    const is = 1 / Math.sqrt(v / cols + eps);
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = is;
    for (let j = 0; j < cols; j++) out[base + j] = (x[base + j] - mu) * is * gain[j] + bias[j];
  }
}

function attentionStep(
  rows: number, heads: number, headDim: number, keys: number, q: Float32Array, qStride: number,
  kNew: Float32Array | null, vNew: Float32Array | null, newStride: number, k: Float32Array, v: Float32Array,
  blockStride: number, headStride: number, posStride: number, block: Int32Array | null, keyMask: Uint8Array | null,
  out: Float32Array, probs: Float32Array | null,
): void {
  const H = heads, hd = headDim, T = keys, D = H * hd;
  checkAttentionStep(rows, H, hd, T, q, qStride, kNew, vNew, newStride, k, v, blockStride, headStride, posStride, block, keyMask, out, probs);
  const scale = 1 / Math.sqrt(hd);
  const scores = probs ? null : new Float64Array(T);
  for (let r = 0; r < rows; r++) {
    const b = block ? block[r] : r;
    for (let h = 0; h < H; h++) {
      const kb = b * blockStride + h * headStride;
      if (kNew && vNew) {
        const at = kb + (T - 1) * posStride, from = r * newStride + h * hd;
        for (let d = 0; d < hd; d++) { k[at + d] = kNew[from + d]; v[at + d] = vNew[from + d]; }
      }
      const qo = r * qStride + h * hd, po = (r * H + h) * T;
      const p: Float32Array | Float64Array = probs ?? (scores as Float64Array);
      const pBase = probs ? po : 0;
      let max = -Infinity;
      for (let j = 0; j < T; j++) {
        let s = -Infinity;
        if (!keyMask || keyMask[b * T + j]) {
          s = 0;
          const ko = kb + j * posStride;
          for (let d = 0; d < hd; d++) s += q[qo + d] * k[ko + d];
          s *= scale;
        }
        p[pBase + j] = s;
        if (s > max) max = s;
      }
      const oo = r * D + h * hd;
      for (let d = 0; d < hd; d++) out[oo + d] = 0;
      if (max === -Infinity) {
        for (let j = 0; j < T; j++) p[pBase + j] = 0;
        continue;
      }
      let sum = 0;
      for (let j = 0; j < T; j++) {
        const e = Math.exp(p[pBase + j] - max);
        p[pBase + j] = e;
        sum += e;
      }
      const acc = new Float64Array(hd);
      for (let j = 0; j < T; j++) {
        const pj = p[pBase + j] / sum;
        p[pBase + j] = pj;
        if (pj === 0) continue;
        const vo = kb + j * posStride;
        for (let d = 0; d < hd; d++) acc[d] += pj * v[vo + d];
      }
      for (let d = 0; d < hd; d++) out[oo + d] = acc[d];
    }
  }
}

/** The argument checks every kernel set makes for attentionStep (the addon's messages). */
export function checkAttentionStep(
  rows: number, heads: number, headDim: number, keys: number, q: Float32Array, qStride: number,
  kNew: Float32Array | null, vNew: Float32Array | null, newStride: number, k: Float32Array, v: Float32Array,
  blockStride: number, headStride: number, posStride: number, block: Int32Array | null, keyMask: Uint8Array | null,
  out: Float32Array, probs: Float32Array | null,
): void {
  const fn = 'attentionStep', D = heads * headDim;
  const need = (name: string, have: number, want: number, what: string): void => {
    if (have < want) throw new RangeError(`${fn}: ${name} has ${have} elements but ${what} needs ${want}`);
  };
  for (const [name, x] of [['rows', rows], ['heads', heads], ['headDim', headDim], ['keys', keys], ['qStride', qStride], ['newStride', newStride],
    ['blockStride', blockStride], ['headStride', headStride], ['posStride', posStride]] as const) {
    if (!(x >= 0 && x <= 2147483647 && Math.floor(x) === x)) throw new RangeError(`${fn}: ${name} must be a non-negative integer below 2^31, got ${x}`);
  }
  if (qStride < D) throw new RangeError(`${fn}: qStride ${qStride} is smaller than heads·headDim ${D}`);
  if ((kNew === null) !== (vNew === null)) throw new TypeError(`${fn}: kNew and vNew must both be given or both be null`);
  if (kNew && block) throw new TypeError(`${fn}: kNew/vNew need block = null (a row appends to its own block)`);
  if (kNew && keys === 0) throw new RangeError(`${fn}: appending needs keys ≥ 1`);
  if (kNew && newStride < D) throw new RangeError(`${fn}: newStride ${newStride} is smaller than heads·headDim ${D}`);
  if (rows === 0) return;
  need('q', q.length, (rows - 1) * qStride + D, 'rows×qStride');
  if (kNew && vNew) {
    need('kNew', kNew.length, (rows - 1) * newStride + D, 'rows×newStride');
    need('vNew', vNew.length, (rows - 1) * newStride + D, 'rows×newStride');
  }
  let blocks = rows;
  if (block) {
    need('block', block.length, rows, 'one block per row');
    blocks = 0;
    for (let r = 0; r < rows; r++) {
      if (block[r] < 0) throw new RangeError(`${fn}: block ${block[r]} at row ${r} is negative`);
      if (block[r] + 1 > blocks) blocks = block[r] + 1;
    }
  }
  const extent = blocks === 0 || heads === 0 || keys === 0 || headDim === 0 ? 0
    : (blocks - 1) * blockStride + (heads - 1) * headStride + (keys - 1) * posStride + headDim;
  need('k', k.length, extent, "the cache's blocks, heads and keys");
  need('v', v.length, extent, "the cache's blocks, heads and keys");
  if (keyMask) need('keyMask', keyMask.length, blocks * keys, 'blocks·keys');
  need('out', out.length, rows * D, 'rows×heads·headDim');
  if (probs) need('probs', probs.length, rows * heads * keys, 'rows·heads·keys');
}

function addLayerNorm(
  rows: number, cols: number, x: Float32Array, delta: Float32Array | null, bias: Float32Array | null,
  gain: Float32Array, lnBias: Float32Array, eps: number, out: Float32Array,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    if (delta) for (let j = 0; j < cols; j++) x[base + j] += delta[base + j] + (bias ? bias[j] : 0);
    else if (bias) for (let j = 0; j < cols; j++) x[base + j] += bias[j];
  }
  layerNormForward(rows, cols, x, gain, lnBias, eps, out, null, null);
}

function layerNormBackward(
  rows: number, cols: number, x: Float32Array, gain: Float32Array, mean: Float32Array, rstd: Float32Array,
  dy: Float32Array, dx: Float32Array | null, dGain: Float32Array | null, dBias: Float32Array | null,
): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const mu = mean[r], is = rstd[r];
    let s1 = 0, s2 = 0;
    for (let j = 0; j < cols; j++) {
      const g = dy[base + j];
      const xh = (x[base + j] - mu) * is;
      const dxh = g * gain[j];
      s1 += dxh;
      s2 += dxh * xh;
      if (dGain !== null) dGain[j] += g * xh;
      if (dBias !== null) dBias[j] += g;
    }
    if (dx === null) continue;
    const c = is / cols;
    for (let j = 0; j < cols; j++) {
      const xh = (x[base + j] - mu) * is;
      dx[base + j] += c * (cols * dy[base + j] * gain[j] - s1 - xh * s2);
    }
  }
}

function biasActivation(
  rows: number, cols: number, x: Float32Array, bias: Float32Array | null, act: Activation,
  pre: Float32Array | null, out: Float32Array,
): void {
  // One loop per activation, so the per-element work has no branches on it.
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    if (bias !== null || pre !== null) {
      for (let j = 0; j < cols; j++) {
        const z = bias !== null ? Math.fround(x[base + j] + bias[j]) : x[base + j];
        if (pre !== null) pre[base + j] = z;
        out[base + j] = z; // the pre-activation for now, activated in place below
      }
    } else if (out !== x) out.set(x.subarray(base, base + cols), base);
    if (act === 'relu') for (let j = base; j < base + cols; j++) out[j] = out[j] > 0 ? out[j] : 0;
    else if (act === 'gelu') for (let j = base; j < base + cols; j++) out[j] = gelu(out[j]);
  }
}

function activationBackward(act: Activation, z: Float32Array, dy: Float32Array, dx: Float32Array): void {
  const n = z.length;
  if (act === 'none') dx.set(dy.subarray(0, n));
  else if (act === 'relu') for (let i = 0; i < n; i++) dx[i] = z[i] > 0 ? dy[i] : 0;
  else for (let i = 0; i < n; i++) dx[i] = dy[i] * geluDerivative(z[i]);
}

function embedPositions(
  cols: number, table: Float32Array, ids: Int32Array, scale: number, positions: Float32Array,
  positionIds: Int32Array, out: Float32Array,
): void {
  const s = Math.fround(scale);
  for (let i = 0; i < ids.length; i++) {
    const o = i * cols, t = ids[i] * cols, p = positionIds[i] * cols;
    if (ids[i] >= 0 && positionIds[i] >= 0) for (let j = 0; j < cols; j++) out[o + j] = table[t + j] * s + positions[p + j];
    else if (ids[i] >= 0) for (let j = 0; j < cols; j++) out[o + j] = table[t + j] * s;
    else if (positionIds[i] >= 0) for (let j = 0; j < cols; j++) out[o + j] = positions[p + j];
    else out.fill(0, o, o + cols);
  }
}

function embedPositionsBackward(
  cols: number, dy: Float32Array, ids: Int32Array, scale: number, positionIds: Int32Array,
  dTable: Float32Array | null, dPositions: Float32Array | null,
): void {
  const s = Math.fround(scale);
  for (let i = 0; i < ids.length; i++) {
    const o = i * cols;
    if (dTable !== null && ids[i] >= 0) {
      const t = ids[i] * cols;
      for (let j = 0; j < cols; j++) dTable[t + j] += s * dy[o + j];
    }
    if (dPositions !== null && positionIds[i] >= 0) {
      const p = positionIds[i] * cols;
      for (let j = 0; j < cols; j++) dPositions[p + j] += dy[o + j];
    }
  }
}

/** One output of gemmInt8: the dequantizing epilogue exactly as the contract spells it. */
function storeInt8(out: Float32Array, o: number, s: number, as: number, bs: number, bias: Float32Array | null, j: number, accumulate: boolean): void {
  let v = Math.fround(Math.fround(s) * Math.fround(as * bs));
  if (bias) v = Math.fround(v + bias[j]);
  out[o] = accumulate ? out[o] + v : v; // the Float32Array store rounds
}

/**
 * int8 GEMM, register-blocked over two rows of a and four channels of b
 * (each load feeds several sums); int32 arithmetic (`| 0`), exact while the
 * sums fit, which the contract guarantees.
 */
function gemmInt8Js(
  m: number, n: number, k: number, a: Int8Array, aScales: Float32Array, b: Int8Array, bScales: Float32Array,
  bias: Float32Array | null, accumulate: boolean, out: Float32Array,
): void {
  // Blocks of channels small enough to stay in cache while every row of a passes over them.
  const block = Math.max(4, (Math.floor(16384 / Math.max(k, 1)) >> 2) << 2);
  for (let j0 = 0; j0 < n; j0 += block) gemmInt8Block(m, n, k, a, aScales, b, bScales, bias, accumulate, out, j0, Math.min(n, j0 + block));
}

function gemmInt8Block(
  m: number, n: number, k: number, a: Int8Array, aScales: Float32Array, b: Int8Array, bScales: Float32Array,
  bias: Float32Array | null, accumulate: boolean, out: Float32Array, jStart: number, jEnd: number,
): void {
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const a0 = i * k, a1 = a0 + k, o0 = i * n, o1 = o0 + n;
    let j = jStart;
    for (; j + 4 <= jEnd; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = a[a0 + p], x1 = a[a1 + p];
        const w0 = b[b0 + p], w1 = b[b1 + p], w2 = b[b2 + p], w3 = b[b3 + p];
        s00 = (s00 + x0 * w0) | 0; s01 = (s01 + x0 * w1) | 0; s02 = (s02 + x0 * w2) | 0; s03 = (s03 + x0 * w3) | 0;
        s10 = (s10 + x1 * w0) | 0; s11 = (s11 + x1 * w1) | 0; s12 = (s12 + x1 * w2) | 0; s13 = (s13 + x1 * w3) | 0;
      }
      const as0 = aScales[i], as1 = aScales[i + 1];
      storeInt8(out, o0 + j, s00, as0, bScales[j], bias, j, accumulate);
      storeInt8(out, o0 + j + 1, s01, as0, bScales[j + 1], bias, j + 1, accumulate);
      storeInt8(out, o0 + j + 2, s02, as0, bScales[j + 2], bias, j + 2, accumulate);
      storeInt8(out, o0 + j + 3, s03, as0, bScales[j + 3], bias, j + 3, accumulate);
      storeInt8(out, o1 + j, s10, as1, bScales[j], bias, j, accumulate);
      storeInt8(out, o1 + j + 1, s11, as1, bScales[j + 1], bias, j + 1, accumulate);
      storeInt8(out, o1 + j + 2, s12, as1, bScales[j + 2], bias, j + 2, accumulate);
      storeInt8(out, o1 + j + 3, s13, as1, bScales[j + 3], bias, j + 3, accumulate);
    }
    for (; j < jEnd; j++) {
      const bj = j * k;
      let s0 = 0, s1 = 0;
      for (let p = 0; p < k; p++) {
        const w = b[bj + p];
        s0 = (s0 + a[a0 + p] * w) | 0;
        s1 = (s1 + a[a1 + p] * w) | 0;
      }
      storeInt8(out, o0 + j, s0, aScales[i], bScales[j], bias, j, accumulate);
      storeInt8(out, o1 + j, s1, aScales[i + 1], bScales[j], bias, j, accumulate);
    }
  }
  for (; i < m; i++) {
    const a0 = i * k, o0 = i * n, as0 = aScales[i];
    let j = jStart;
    for (; j + 4 <= jEnd; j += 4) {
      const b0 = j * k, b1 = b0 + k, b2 = b1 + k, b3 = b2 + k;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let p = 0; p < k; p++) {
        const x = a[a0 + p];
        s0 = (s0 + x * b[b0 + p]) | 0; s1 = (s1 + x * b[b1 + p]) | 0; s2 = (s2 + x * b[b2 + p]) | 0; s3 = (s3 + x * b[b3 + p]) | 0;
      }
      storeInt8(out, o0 + j, s0, as0, bScales[j], bias, j, accumulate);
      storeInt8(out, o0 + j + 1, s1, as0, bScales[j + 1], bias, j + 1, accumulate);
      storeInt8(out, o0 + j + 2, s2, as0, bScales[j + 2], bias, j + 2, accumulate);
      storeInt8(out, o0 + j + 3, s3, as0, bScales[j + 3], bias, j + 3, accumulate);
    }
    for (; j < jEnd; j++) {
      const bj = j * k;
      let s0 = 0;
      for (let p = 0; p < k; p++) s0 = (s0 + a[a0 + p] * b[bj + p]) | 0;
      storeInt8(out, o0 + j, s0, as0, bScales[j], bias, j, accumulate);
    }
  }
}

export const jsKernels: Kernels = {
  name: 'js',
  description: 'TypeScript kernels (blocked GEMM over Float32Array)',
  gemm,
  lstmCellForward,
  lstmCellBackward,
  gruCellForward,
  gruCellBackward,
  softmaxCrossEntropy,
  softmaxRows,
  unary,
  unaryBackward,
  attentionForward,
  attentionBackward,
  layerNormForward,
  layerNormBackward,
  attentionStep,
  addLayerNorm,
  biasActivation,
  activationBackward,
  embedPositions,
  embedPositionsBackward,
  keepMask,
  argmaxRows(rows, cols, x, out) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let best = 0, bestV = -Infinity;
      for (let j = 0; j < cols; j++) {
        if (x[base + j] > bestV) {
          bestV = x[base + j];
          best = j;
        }
      }
      out[r] = best;
    }
  },
  dropoutApply(mask, scale, x, out, accumulate) {
    const n = mask.length;
    if (accumulate) for (let i = 0; i < n; i++) { if (mask[i]) out[i] += x[i] * scale; }
    else for (let i = 0; i < n; i++) out[i] = mask[i] ? x[i] * scale : 0;
  },
  copyBlock(rows, cols, src, srcStride, dst, dstStride, accumulate) {
    for (let r = 0; r < rows; r++) {
      const s = r * srcStride, d = r * dstStride;
      if (accumulate) for (let j = 0; j < cols; j++) dst[d + j] += src[s + j];
      else dst.set(src.subarray(s, s + cols), d);
    }
  },
  addRowVector(rows, cols, x, bias) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let j = 0; j < cols; j++) x[base + j] += bias[j];
    }
  },
  sumRows(rows, cols, x, out) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let j = 0; j < cols; j++) out[j] += x[base + j];
    }
  },
  gatherRows(cols, src, index, out) {
    for (let i = 0; i < index.length; i++) {
      const s = index[i];
      if (s < 0) out.fill(0, i * cols, (i + 1) * cols);
      else out.set(src.subarray(s * cols, (s + 1) * cols), i * cols);
    }
  },
  scatterAddRows(cols, src, index, dst) {
    for (let i = 0; i < index.length; i++) {
      const d = index[i];
      if (d < 0) continue;
      const sb = i * cols, db = d * cols;
      for (let j = 0; j < cols; j++) dst[db + j] += src[sb + j];
    }
  },
  sumSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i] * x[i];
    return s;
  },
  scale(x, s) {
    for (let i = 0; i < x.length; i++) x[i] *= s;
  },
  quantizeRowsInt8(rows, cols, x, q, scales) {
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      let amax = 0;
      for (let j = 0; j < cols; j++) {
        const v = Math.abs(x[base + j]);
        if (v > amax) amax = v;
      }
      if (!(amax > 0)) {
        scales[r] = 0;
        q.fill(0, base, base + cols);
        continue;
      }
      const inv = Math.fround(127 / amax);
      scales[r] = Math.fround(amax / 127);
      for (let j = 0; j < cols; j++) {
        const v = roundEven(Math.fround(x[base + j] * inv));
        q[base + j] = v > 127 ? 127 : v < -127 ? -127 : v;
      }
    }
  },
  gemmInt8(m, n, k, a, aScales, b, bScales, bias, accumulate, out) {
    gemmInt8Js(m, n, k, a, aScales, b, bScales, bias, accumulate, out);
  },
  gatherRowsInt8(cols, table, scales, index, out) {
    for (let i = 0; i < index.length; i++) {
      const r = index[i], d = i * cols;
      if (r < 0) {
        out.fill(0, d, d + cols);
        continue;
      }
      const s = scales[r], base = r * cols;
      for (let j = 0; j < cols; j++) out[d + j] = table[base + j] * s;
    }
  },
  rmspropUpdate(p, g, ms, lr, rho, eps) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const m = rho * ms[i] + (1 - rho) * gi * gi;
      ms[i] = m;
      p[i] -= (lr * gi) / (Math.sqrt(m) + eps);
    }
  },
  adamUpdate(p, g, m, v, lrT, beta1, beta2, eps) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi; v[i] = vi;
      p[i] -= (lrT * mi) / (Math.sqrt(vi) + eps);
    }
  },
};
