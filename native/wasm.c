/*
 * s2s WebAssembly kernels: native/kernels.c (the same C the native addon
 * runs) plus a 128-bit SIMD GEMM, compiled by scripts/build-wasm.mjs with
 * clang --target=wasm32 -msimd128 (no relaxed SIMD, so results do not depend
 * on the engine's FMA choice) into dist/wasm/s2s-kernels.wasm and, with
 * -matomics over a shared memory, s2s-kernels-mt.wasm.
 *
 * Freestanding: no libc, no allocator. The memory is imported and managed by
 * src/engine/kernels/wasm.ts, which passes every buffer as a byte offset and
 * hands the GEMM and attention their scratch; so the module has no mutable
 * static data and several instances (one per worker thread) can share one
 * memory, each with its own stack (__stack_pointer is exported for that).
 * Every routine trusts its arguments: wasm.ts checks lengths first.
 */
#include "kernels.c"

#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/* ------------------------------------------------------------ GEMM */

/*
 * C += alpha·op(A)·op(B). Two paths:
 *   - few rows of C (decoding: batch 1–8 against a weight matrix): no
 *     packing, B streamed once from where it lies (packing a weight matrix
 *     for a GEMV would cost as much as the GEMV);
 *   - otherwise Goto-style: op(B) packed into KC×NC panels of 8-wide strips,
 *     op(A) into MC×KC blocks of 4-tall strips (alpha folded in, edges
 *     zero-padded), and a 4×8 register tile (8 v128 accumulators, which with
 *     the two B vectors and the broadcast A value fit in the 16 vector
 *     registers of x86-64 and arm64 engines) runs over them.
 * No FMA in plain simd128: products are rounded before the add, which keeps
 * results within float32 rounding of the js kernels' double sums.
 */
#define GMR 4
#define GNR 8
#define GKC 256
#define GMC 128
#define GNC 1024
#define DIRECT_ROWS 8

/* Floats of packing workspace gemm needs (wasm.ts reserves this per thread). */
EXPORT(s2s_gemm_workspace) int s2s_gemm_workspace(void) { return GMC * GKC + GKC * GNC; }

S2S_INLINE float a_at(int transA, const float *a, int lda, int i, int p) {
  return transA ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
}

/* R rows × 4·NV columns of C += A·B with B row-major (not transposed), straight from memory. */
S2S_INLINE void direct_nn_block(int R, int NV, int transA, int k, float alpha, const float *a, int lda, int i0,
                                const float *b, int ldb, int j0, float *c, int ldc) {
  v128_t acc[4][8];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_splat(0.0f);
  for (int p = 0; p < k; p++) {
    const float *brow = b + (size_t)p * ldb + j0;
    v128_t bv[8];
    for (int v = 0; v < NV; v++) bv[v] = wasm_v128_load(brow + 4 * v);
    for (int r = 0; r < R; r++) {
      v128_t av = wasm_f32x4_splat(alpha * a_at(transA, a, lda, i0 + r, p));
      for (int v = 0; v < NV; v++) acc[r][v] = wasm_f32x4_add(acc[r][v], wasm_f32x4_mul(av, bv[v]));
    }
  }
  for (int r = 0; r < R; r++) {
    float *crow = c + (size_t)(i0 + r) * ldc + j0;
    for (int v = 0; v < NV; v++) wasm_v128_store(crow + 4 * v, wasm_f32x4_add(wasm_v128_load(crow + 4 * v), acc[r][v]));
  }
}

/* The same R rows over all n columns: wide blocks, then 4-wide, then scalar columns. */
S2S_INLINE void direct_nn_rows(int R, int NV, int transA, int n, int k, float alpha, const float *a, int lda, int i0,
                               const float *b, int ldb, float *c, int ldc) {
  int j = 0;
  for (; j + 4 * NV <= n; j += 4 * NV) direct_nn_block(R, NV, transA, k, alpha, a, lda, i0, b, ldb, j, c, ldc);
  for (; j + 4 <= n; j += 4) direct_nn_block(R, 1, transA, k, alpha, a, lda, i0, b, ldb, j, c, ldc);
  for (; j < n; j++)
    for (int r = 0; r < R; r++) {
      float s = 0.0f;
      for (int p = 0; p < k; p++) s += a_at(transA, a, lda, i0 + r, p) * b[(size_t)p * ldb + j];
      c[(size_t)(i0 + r) * ldc + j] += alpha * s;
    }
}

/*
 * The direct NN path when a workspace is at hand: B streamed row by row
 * (8 rows at a time, each read front to back) into per-row accumulators in
 * `ws`, instead of down 32-column strips (a strip touches a new cache line
 * and page on every row, which halved the bandwidth of a batch-1 GEMV over
 * a wide output layer). Same arithmetic per element as direct_nn_block:
 * acc = Σ_p (alpha·a[i,p])·b[p,j] from 0 in p order, then c += acc; the
 * n % 4 last columns as direct_nn_rows does them. Columns are taken in
 * chunks of STREAM_NC (rows of B read in long runs, the accumulators in L1–L2).
 */
#define STREAM_NC 8192
#define STREAM_PK 8

/* Four columns of R rows' accumulators from STREAM_PK rows of B. */
S2S_INLINE void stream_nn_step(int R, const float *b0, int ldb, int j, v128_t av[4][STREAM_PK], float *ws) {
  v128_t bv[STREAM_PK];
  for (int q = 0; q < STREAM_PK; q++) bv[q] = wasm_v128_load(b0 + (size_t)q * ldb + j);
  for (int r = 0; r < R; r++) {
    float *acc = ws + r * STREAM_NC + j;
    v128_t s = wasm_v128_load(acc);
    for (int q = 0; q < STREAM_PK; q++) s = wasm_f32x4_add(s, wasm_f32x4_mul(av[r][q], bv[q]));
    wasm_v128_store(acc, s);
  }
}

S2S_INLINE void stream_nn_rows(int R, int transA, int n, int k, float alpha, const float *a, int lda, int i0,
                               const float *b, int ldb, float *c, int ldc, float *ws) {
  const int nv = n & ~3;
  for (int j0 = 0; j0 < nv; j0 += STREAM_NC) {
    const int nc = nv - j0 < STREAM_NC ? nv - j0 : STREAM_NC;
    for (int r = 0; r < R; r++)
      for (int j = 0; j < nc; j += 4) wasm_v128_store(ws + r * STREAM_NC + j, wasm_f32x4_splat(0.0f));
    for (int p0 = 0; p0 < k; p0 += STREAM_PK) {
      const int pk = k - p0 < STREAM_PK ? k - p0 : STREAM_PK;
      v128_t av[4][STREAM_PK];
      for (int r = 0; r < R; r++)
        for (int q = 0; q < pk; q++) av[r][q] = wasm_f32x4_splat(alpha * a_at(transA, a, lda, i0 + r, p0 + q));
      const float *b0 = b + (size_t)p0 * ldb + j0;
      if (pk == STREAM_PK) {
        for (int j = 0; j < nc; j += 4) stream_nn_step(R, b0, ldb, j, av, ws);
      } else {
        for (int j = 0; j < nc; j += 4)
          for (int r = 0; r < R; r++) {
            float *acc = ws + r * STREAM_NC + j;
            v128_t s = wasm_v128_load(acc);
            for (int q = 0; q < pk; q++) s = wasm_f32x4_add(s, wasm_f32x4_mul(av[r][q], wasm_v128_load(b0 + (size_t)q * ldb + j)));
            wasm_v128_store(acc, s);
          }
      }
    }
    for (int r = 0; r < R; r++) {
      float *crow = c + (size_t)(i0 + r) * ldc + j0;
      const float *acc = ws + r * STREAM_NC;
      for (int j = 0; j < nc; j += 4) wasm_v128_store(crow + j, wasm_f32x4_add(wasm_v128_load(crow + j), wasm_v128_load(acc + j)));
    }
  }
  for (int j = nv; j < n; j++)
    for (int r = 0; r < R; r++) {
      float s = 0.0f;
      for (int p = 0; p < k; p++) s += a_at(transA, a, lda, i0 + r, p) * b[(size_t)p * ldb + j];
      c[(size_t)(i0 + r) * ldc + j] += alpha * s;
    }
}

static void stream_nn(int transA, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc, float *ws) {
  int i = 0;
  for (; i + 4 <= m; i += 4) stream_nn_rows(4, transA, n, k, alpha, a, lda, i, b, ldb, c, ldc, ws);
  for (; i + 2 <= m; i += 2) stream_nn_rows(2, transA, n, k, alpha, a, lda, i, b, ldb, c, ldc, ws);
  for (; i < m; i++) stream_nn_rows(1, transA, n, k, alpha, a, lda, i, b, ldb, c, ldc, ws);
}

static void direct_nn(int transA, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc) {
  int i = 0;
  for (; i + 4 <= m; i += 4) direct_nn_rows(4, 2, transA, n, k, alpha, a, lda, i, b, ldb, c, ldc);
  for (; i + 2 <= m; i += 2) direct_nn_rows(2, 4, transA, n, k, alpha, a, lda, i, b, ldb, c, ldc);
  for (; i < m; i++) direct_nn_rows(1, 8, transA, n, k, alpha, a, lda, i, b, ldb, c, ldc);
}

S2S_INLINE float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* R rows × NJ columns of C += A·Bᵀ (A row-major, B stored n×k): dot products along k, 4 lanes at a time. */
S2S_INLINE void direct_nt_block(int R, int NJ, int k, float alpha, const float *a, int lda, int i0, const float *b,
                                int ldb, int j0, float *c, int ldc, const float *ahead) {
  v128_t acc[2][4];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NJ; q++) acc[r][q] = wasm_f32x4_splat(0.0f);
  int p = 0;
  /* wasm has no prefetch: one word of each cache line of the next block's rows is loaded while this block computes, so
     those lines are on their way from memory before they are needed (cold weights streamed at 7 instead of 25 GB/s). */
  unsigned touched = 0;
  if (ahead)
    for (int q = 0; q < NJ; q++)
      for (int pp = 0; pp < k; pp += 16) touched ^= *(const unsigned *)(ahead + (size_t)q * ldb + pp);
  for (; p + 4 <= k; p += 4) {
    v128_t av[2], bv[4];
    for (int r = 0; r < R; r++) av[r] = wasm_v128_load(a + (size_t)(i0 + r) * lda + p);
    for (int q = 0; q < NJ; q++) bv[q] = wasm_v128_load(b + (size_t)(j0 + q) * ldb + p);
    for (int r = 0; r < R; r++)
      for (int q = 0; q < NJ; q++) acc[r][q] = wasm_f32x4_add(acc[r][q], wasm_f32x4_mul(av[r], bv[q]));
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NJ; q++) {
      float s = hsum(acc[r][q]);
      const float *ar = a + (size_t)(i0 + r) * lda, *br = b + (size_t)(j0 + q) * ldb;
      for (int pp = p; pp < k; pp++) s += ar[pp] * br[pp];
      c[(size_t)(i0 + r) * ldc + j0 + q] += alpha * s;
    }
  if (touched == 0x7fc00001u) c[(size_t)i0 * ldc + j0] += 0.0f; /* keeps the touches: their value is used */
}

static void direct_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb, float *c,
                      int ldc) {
  int i = 0;
#define NT_AHEAD(j) ((j) + 8 <= n ? b + (size_t)((j) + 4) * ldb : NULL)
  for (; i + 2 <= m; i += 2) {
    int j = 0;
    for (; j + 4 <= n; j += 4) direct_nt_block(2, 4, k, alpha, a, lda, i, b, ldb, j, c, ldc, NT_AHEAD(j));
    for (; j < n; j++) direct_nt_block(2, 1, k, alpha, a, lda, i, b, ldb, j, c, ldc, NULL);
  }
  for (; i < m; i++) {
    int j = 0;
    for (; j + 4 <= n; j += 4) direct_nt_block(1, 4, k, alpha, a, lda, i, b, ldb, j, c, ldc, NT_AHEAD(j));
    for (; j < n; j++) direct_nt_block(1, 1, k, alpha, a, lda, i, b, ldb, j, c, ldc, NULL);
  }
#undef NT_AHEAD
}

static void pack_a4(int transA, const float *a, int lda, int i0, int mc, int p0, int kc, float alpha, float *out) {
  for (int ir = 0; ir < mc; ir += GMR) {
    int mr = mc - ir < GMR ? mc - ir : GMR;
    float *dst = out + (size_t)ir * kc;
    if (!transA) {
      for (int i = 0; i < GMR; i++) {
        if (i < mr) {
          const float *src = a + (size_t)(i0 + ir + i) * lda + p0;
          for (int p = 0; p < kc; p++) dst[p * GMR + i] = alpha * src[p];
        } else
          for (int p = 0; p < kc; p++) dst[p * GMR + i] = 0.0f;
      }
    } else {
      for (int p = 0; p < kc; p++) {
        const float *src = a + (size_t)(p0 + p) * lda + i0 + ir;
        int i = 0;
        for (; i < mr; i++) dst[p * GMR + i] = alpha * src[i];
        for (; i < GMR; i++) dst[p * GMR + i] = 0.0f;
      }
    }
  }
}

static void pack_b8(int transB, const float *b, int ldb, int p0, int kc, int j0, int nc, float *out) {
  for (int jr = 0; jr < nc; jr += GNR) {
    int nr = nc - jr < GNR ? nc - jr : GNR;
    float *dst = out + (size_t)jr * kc;
    if (!transB) {
      for (int p = 0; p < kc; p++) {
        const float *src = b + (size_t)(p0 + p) * ldb + j0 + jr;
        if (nr == GNR) {
          wasm_v128_store(dst + p * GNR, wasm_v128_load(src));
          wasm_v128_store(dst + p * GNR + 4, wasm_v128_load(src + 4));
        } else {
          int j = 0;
          for (; j < nr; j++) dst[p * GNR + j] = src[j];
          for (; j < GNR; j++) dst[p * GNR + j] = 0.0f;
        }
      }
    } else {
      for (int j = 0; j < GNR; j++) {
        if (j < nr) {
          const float *src = b + (size_t)(j0 + jr + j) * ldb + p0;
          for (int p = 0; p < kc; p++) dst[p * GNR + j] = src[p];
        } else
          for (int p = 0; p < kc; p++) dst[p * GNR + j] = 0.0f;
      }
    }
  }
}

static void micro_4x8(int kc, const float *ap, const float *bp, float *c, int ldc, int mr, int nr) {
  v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (int p = 0; p < kc; p++) {
    const v128_t b0 = wasm_v128_load(bp + p * GNR), b1 = wasm_v128_load(bp + p * GNR + 4);
    const float *ar = ap + p * GMR;
    v128_t a0 = wasm_f32x4_splat(ar[0]);
    c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(a0, b0));
    c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(a0, b1));
    v128_t a1 = wasm_f32x4_splat(ar[1]);
    c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(a1, b0));
    c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(a1, b1));
    v128_t a2 = wasm_f32x4_splat(ar[2]);
    c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(a2, b0));
    c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(a2, b1));
    v128_t a3 = wasm_f32x4_splat(ar[3]);
    c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(a3, b0));
    c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(a3, b1));
  }
  if (mr == GMR && nr == GNR) {
    float *r0 = c, *r1 = c + ldc, *r2 = r1 + ldc, *r3 = r2 + ldc;
    wasm_v128_store(r0, wasm_f32x4_add(wasm_v128_load(r0), c00));
    wasm_v128_store(r0 + 4, wasm_f32x4_add(wasm_v128_load(r0 + 4), c01));
    wasm_v128_store(r1, wasm_f32x4_add(wasm_v128_load(r1), c10));
    wasm_v128_store(r1 + 4, wasm_f32x4_add(wasm_v128_load(r1 + 4), c11));
    wasm_v128_store(r2, wasm_f32x4_add(wasm_v128_load(r2), c20));
    wasm_v128_store(r2 + 4, wasm_f32x4_add(wasm_v128_load(r2 + 4), c21));
    wasm_v128_store(r3, wasm_f32x4_add(wasm_v128_load(r3), c30));
    wasm_v128_store(r3 + 4, wasm_f32x4_add(wasm_v128_load(r3 + 4), c31));
    return;
  }
  float tmp[GMR][GNR];
  wasm_v128_store(&tmp[0][0], c00);
  wasm_v128_store(&tmp[0][4], c01);
  wasm_v128_store(&tmp[1][0], c10);
  wasm_v128_store(&tmp[1][4], c11);
  wasm_v128_store(&tmp[2][0], c20);
  wasm_v128_store(&tmp[2][4], c21);
  wasm_v128_store(&tmp[3][0], c30);
  wasm_v128_store(&tmp[3][4], c31);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] += tmp[i][j];
}

static void gemm_packed(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float *c, int ldc, float *ws) {
  float *ap = ws, *bp = ws + GMC * GKC;
  for (int j0 = 0; j0 < n; j0 += GNC) {
    int nc = n - j0 < GNC ? n - j0 : GNC;
    for (int p0 = 0; p0 < k; p0 += GKC) {
      int kc = k - p0 < GKC ? k - p0 : GKC;
      pack_b8(transB, b, ldb, p0, kc, j0, nc, bp);
      for (int i0 = 0; i0 < m; i0 += GMC) {
        int mc = m - i0 < GMC ? m - i0 : GMC;
        pack_a4(transA, a, lda, i0, mc, p0, kc, alpha, ap);
        for (int jr = 0; jr < nc; jr += GNR) {
          int nr = nc - jr < GNR ? nc - jr : GNR;
          for (int ir = 0; ir < mc; ir += GMR) {
            int mr = mc - ir < GMR ? mc - ir : GMR;
            micro_4x8(kc, ap + (size_t)ir * kc, bp + (size_t)jr * kc, c + (size_t)(i0 + ir) * ldc + j0 + jr, ldc, mr,
                      nr);
          }
        }
      }
    }
  }
}

/* The whole gemm contract of types.ts (beta included); `ws` holds s2s_gemm_workspace() floats (0: the
   direct path without a workspace, for callers that have none). */
EXPORT(s2s_gemm)
void s2s_gemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
              float beta, float *c, int ldc, float *ws) {
  if (m == 0 || n == 0) return;
  if (beta != 1.0f) scale_matrix(m, n, beta, c, ldc);
  if (k == 0 || alpha == 0.0f) return;
  if (m <= DIRECT_ROWS && !transB && ws)
    stream_nn(transA, m, n, k, alpha, a, lda, b, ldb, c, ldc, ws);
  else if (m <= DIRECT_ROWS && !transB)
    direct_nn(transA, m, n, k, alpha, a, lda, b, ldb, c, ldc);
  else if (m <= DIRECT_ROWS && !transA)
    direct_nt(m, n, k, alpha, a, lda, b, ldb, c, ldc);
  else
    gemm_packed(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc, ws);
}

/* Rows [·] of the packed path alone (beta applied): what threads run on row blocks of a GEMM that
   s2s_gemm would pack, so that every block takes the packed path's arithmetic even when it has few rows. */
EXPORT(s2s_gemm_packed)
void s2s_gemm_packed_rows(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                          const float *b, int ldb, float beta, float *c, int ldc, float *ws) {
  if (m == 0 || n == 0) return;
  if (beta != 1.0f) scale_matrix(m, n, beta, c, ldc);
  if (k == 0 || alpha == 0.0f) return;
  gemm_packed(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc, ws);
}

/* ------------------------------------------------------------ the rest of the kernel set */

EXPORT(s2s_lstm_forward) void s2s_lstm_forward(int rows, int H, float *gates, const float *cPrev, float *c, float *h) {
  lstm_forward(rows, H, gates, cPrev, c, h);
}
EXPORT(s2s_lstm_backward)
void s2s_lstm_backward(int rows, int H, const float *gates, const float *cPrev, const float *c, const float *dh,
                       float *dc, float *dGates) {
  lstm_backward(rows, H, gates, cPrev, c, dh, dc, dGates);
}
EXPORT(s2s_gru_forward)
void s2s_gru_forward(int rows, int H, float *xGates, const float *hGates, const float *hPrev, float *h) {
  gru_forward(rows, H, xGates, hGates, hPrev, h);
}
EXPORT(s2s_gru_backward)
void s2s_gru_backward(int rows, int H, const float *gates, const float *hGates, const float *hPrev, float *dh,
                      float *dxGates, float *dhGates) {
  gru_backward(rows, H, gates, hGates, hPrev, dh, dxGates, dhGates);
}
EXPORT(s2s_softmax_xent)
double s2s_softmax_xent(int rows, int cols, const float *logits, const int32_t *targets, float *dLogits, float scale,
                        float eps) {
  return softmax_xent(rows, cols, logits, targets, dLogits, scale, eps);
}
EXPORT(s2s_softmax_rows) void s2s_softmax_rows(int rows, int cols, const float *x, float *out, int log_) {
  softmax_rows(rows, cols, x, out, log_);
}
EXPORT(s2s_unary) void s2s_unary(int op, size_t n, const float *x, float *out) { unary(op, n, x, out); }
EXPORT(s2s_unary_backward) void s2s_unary_backward(int op, size_t n, const float *y, const float *dy, float *dx) {
  unary_backward(op, n, y, dy, dx);
}
EXPORT(s2s_add_row_vector) void s2s_add_row_vector(int rows, int cols, float *x, const float *bias) {
  add_row_vector(rows, cols, x, bias);
}
EXPORT(s2s_sum_rows) void s2s_sum_rows(int rows, int cols, const float *x, float *out) { sum_rows(rows, cols, x, out); }
EXPORT(s2s_gather_rows)
void s2s_gather_rows(int cols, const float *src, const int32_t *index, size_t count, float *out) {
  gather_rows(cols, src, index, count, out);
}
EXPORT(s2s_scatter_add_rows)
void s2s_scatter_add_rows(int cols, const float *src, const int32_t *index, size_t count, float *dst) {
  scatter_add_rows(cols, src, index, count, dst);
}
EXPORT(s2s_sum_squares) double s2s_sum_squares(size_t n, const float *x) { return sum_squares(n, x); }
EXPORT(s2s_scale) void s2s_scale(size_t n, float *x, float s) { scale_vec(n, x, s); }
EXPORT(s2s_rmsprop)
void s2s_rmsprop(size_t n, float *p, const float *g, float *ms, float lr, float rho, float eps) {
  rmsprop(n, p, g, ms, lr, rho, eps);
}
EXPORT(s2s_adam)
void s2s_adam(size_t n, float *p, const float *g, float *m, float *v, float lrT, float beta1, float beta2, float eps) {
  adam(n, p, g, m, v, lrT, beta1, beta2, eps);
}

/* Floats of scratch attention needs for one call of these shapes. */
EXPORT(s2s_attention_scratch) int s2s_attention_scratch_floats(int tq, int tk, int hd) {
  s2s_attention a;
  a.tq = tq;
  a.tk = tk;
  a.hd = hd;
  return (int)s2s_attention_scratch(&a);
}

/* (batch, head) pairs [pair0, pair1) of one attention call (threads split the pairs). */
EXPORT(s2s_attention_forward)
void s2s_attention_forward(int batch, int heads, int tq, int tk, int hd, const float *q, const float *k, const float *v,
                           const uint8_t *keyMask, int causal, const uint8_t *dropMask, float keepScale, float *probs,
                           float *out, int pair0, int pair1, float *scratch) {
  s2s_attention a = {0};
  a.batch = batch, a.heads = heads, a.tq = tq, a.tk = tk, a.hd = hd, a.causal = causal;
  a.q = q, a.k = k, a.v = v, a.keyMask = keyMask, a.dropMask = dropMask, a.keepScale = keepScale;
  a.probs = probs, a.out = out;
  attention_forward(&a, pair0, pair1, scratch);
}
EXPORT(s2s_attention_backward)
void s2s_attention_backward(int batch, int heads, int tq, int tk, int hd, const float *q, const float *k,
                            const float *v, const float *probs, const uint8_t *dropMask, float keepScale,
                            const float *dOut, float *dq, float *dk, float *dv, int pair0, int pair1, float *scratch) {
  s2s_attention a = {0};
  a.batch = batch, a.heads = heads, a.tq = tq, a.tk = tk, a.hd = hd, a.causal = 0;
  a.q = q, a.k = k, a.v = v, a.probs = (float *)probs, a.dropMask = dropMask, a.keepScale = keepScale;
  a.dOut = dOut, a.dq = dq, a.dk = dk, a.dv = dv;
  attention_backward(&a, pair0, pair1, scratch);
}
EXPORT(s2s_layer_norm_forward)
void s2s_layer_norm_forward(int rows, int cols, const float *x, const float *gain, const float *bias, float eps,
                            float *out, float *mean, float *rstd) {
  layer_norm_forward(rows, cols, x, gain, bias, eps, out, mean, rstd);
}
EXPORT(s2s_layer_norm_backward)
void s2s_layer_norm_backward(int row0, int row1, int cols, const float *x, const float *gain, const float *mean,
                             const float *rstd, const float *dy, float *dx, float *dGain, float *dBias) {
  layer_norm_backward(row0, row1, cols, x, gain, mean, rstd, dy, dx, dGain, dBias);
}
EXPORT(s2s_bias_activation)
void s2s_bias_activation(int rows, int cols, const float *x, const float *bias, int act, float *pre, float *out) {
  bias_activation(rows, cols, x, bias, act, pre, out);
}
EXPORT(s2s_activation_backward)
void s2s_activation_backward(int act, size_t n, const float *z, const float *dy, float *dx) {
  activation_backward(act, n, z, dy, dx);
}
EXPORT(s2s_embed_positions)
void s2s_embed_positions(int cols, const float *table, const int32_t *ids, size_t count, float scale,
                         const float *positions, const int32_t *positionIds, float *out) {
  embed_positions(cols, table, ids, count, scale, positions, positionIds, out);
}
EXPORT(s2s_embed_positions_backward)
void s2s_embed_positions_backward(int cols, const float *dy, const int32_t *ids, size_t count, float scale,
                                  const int32_t *positionIds, float *dTable, float *dPositions) {
  embed_positions_backward(cols, dy, ids, count, scale, positionIds, dTable, dPositions);
}
EXPORT(s2s_keep_mask) void s2s_keep_mask(uint32_t *state, double threshold, size_t n, uint8_t *mask) {
  keep_mask(state, threshold, n, mask);
}
EXPORT(s2s_attention_step)
void s2s_attention_step_(int rows, int heads, int hd, int keys, const float *q, int qStride, const float *kNew,
                        const float *vNew, int newStride, float *k, float *v, int blockStride, int headStride,
                        int posStride, const int32_t *block, const uint8_t *keyMask, float *out, float *probs,
                        float *scratch) {
  s2s_attention_step a = {rows, heads, hd, keys, q, qStride, kNew, vNew, newStride, k, v, blockStride, headStride,
                          posStride, block, keyMask, out, probs};
  attention_step(&a, 0, rows, scratch);
}
EXPORT(s2s_add_layer_norm)
void s2s_add_layer_norm(int rows, int cols, float *x, const float *delta, const float *bias, const float *gain,
                        const float *lnBias, float eps, float *out) {
  add_layer_norm(rows, cols, x, delta, bias, gain, lnBias, eps, out);
}
EXPORT(s2s_argmax_rows) void s2s_argmax_rows(int rows, int cols, const float *x, int32_t *out) {
  argmax_rows(rows, cols, x, out);
}
EXPORT(s2s_dropout_apply)
void s2s_dropout_apply(size_t n, const uint8_t *mask, float scale, const float *x, float *out, int accumulate) {
  dropout_apply(n, mask, scale, x, out, accumulate);
}
EXPORT(s2s_copy_block)
void s2s_copy_block(int rows, int cols, const float *src, int srcStride, float *dst, int dstStride, int accumulate) {
  copy_block(rows, cols, src, srcStride, dst, dstStride, accumulate);
}

/* ------------------------------------------------------------ int8 inference */

/*
 * The bit-exact int8 contract of types.ts (quantizeRowsInt8, gemmInt8,
 * gatherRowsInt8). Integer dot products are exact in any order: int8 values
 * widened to i16 and multiplied pairwise into i32 lanes (i32x4.dot_i16x8_s);
 * each float step is one float32 operation (no FMA exists in simd128, and
 * build-wasm.mjs compiles with -ffp-contract=off besides).
 */
EXPORT(s2s_quantize_rows_int8) void s2s_quantize_rows_int8(int rows, int cols, const float *x, int8_t *q, float *scales) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    int8_t *qr = q + (size_t)r * cols;
    float amax = 0.0f;
    for (int j = 0; j < cols; j++) {
      float v = fabsf(xr[j]);
      amax = v > amax ? v : amax;
    }
    if (!(amax > 0.0f)) {
      scales[r] = 0.0f;
      memset(qr, 0, (size_t)cols);
      continue;
    }
    const float inv = 127.0f / amax;
    scales[r] = amax / 127.0f;
    for (int j = 0; j < cols; j++) {
      float v = __builtin_nearbyintf(xr[j] * inv); /* f32.nearest: half to even */
      v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
      qr[j] = (int8_t)(int)v;
    }
  }
}

S2S_INLINE void int8_store(float *o, int32_t s, float as, float bs, const float *bias, int j, int accumulate) {
  float cs = as * bs;
  float v = (float)s * cs;
  if (bias) v = v + bias[j];
  *o = accumulate ? *o + v : v;
}

S2S_INLINE int32_t hsum_i32(v128_t v) {
  return (wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1)) +
         (wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3));
}

/* R rows (1 or 2) × NJ channels (1 or 4) of dot products along k, 16 int8 at a time. */
S2S_INLINE void int8_block(int R, int NJ, int k, const int8_t *a, int i0, const int8_t *b, int j0, int32_t sums[2][4]) {
  v128_t acc[2][4];
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NJ; q++) acc[r][q] = wasm_i32x4_splat(0);
  int p = 0;
  for (; p + 16 <= k; p += 16) {
    v128_t al[2], ah[2];
    for (int r = 0; r < R; r++) {
      v128_t av = wasm_v128_load(a + (size_t)(i0 + r) * k + p);
      al[r] = wasm_i16x8_extend_low_i8x16(av);
      ah[r] = wasm_i16x8_extend_high_i8x16(av);
    }
    for (int q = 0; q < NJ; q++) {
      v128_t bv = wasm_v128_load(b + (size_t)(j0 + q) * k + p);
      v128_t bl = wasm_i16x8_extend_low_i8x16(bv), bh = wasm_i16x8_extend_high_i8x16(bv);
      for (int r = 0; r < R; r++)
        acc[r][q] = wasm_i32x4_add(acc[r][q], wasm_i32x4_add(wasm_i32x4_dot_i16x8(al[r], bl), wasm_i32x4_dot_i16x8(ah[r], bh)));
    }
  }
  for (int r = 0; r < R; r++)
    for (int q = 0; q < NJ; q++) {
      int32_t s = hsum_i32(acc[r][q]);
      const int8_t *ar = a + (size_t)(i0 + r) * k, *br = b + (size_t)(j0 + q) * k;
      for (int pp = p; pp < k; pp++) s += (int32_t)ar[pp] * (int32_t)br[pp];
      sums[r][q] = s;
    }
}

/* out[i, j] for j in [j0, j1) (threads may split the channels). */
S2S_INLINE void int8_rows(int R, int n, int k, const int8_t *a, const float *as, const int8_t *b, const float *bs,
                          const float *bias, int accumulate, float *out, int i0, int j0, int j1) {
  int32_t sums[2][4];
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    int8_block(R, 4, k, a, i0, b, j, sums);
    for (int r = 0; r < R; r++)
      for (int q = 0; q < 4; q++)
        int8_store(out + (size_t)(i0 + r) * n + j + q, sums[r][q], as[i0 + r], bs[j + q], bias, j + q, accumulate);
  }
  for (; j < j1; j++) {
    int8_block(R, 1, k, a, i0, b, j, sums);
    for (int r = 0; r < R; r++) int8_store(out + (size_t)(i0 + r) * n + j, sums[r][0], as[i0 + r], bs[j], bias, j, accumulate);
  }
}

EXPORT(s2s_gemm_int8)
void s2s_gemm_int8(int m, int n, int k, const int8_t *a, const float *as, const int8_t *b, const float *bs,
                   const float *bias, int accumulate, float *out, int j0, int j1) {
  int i = 0;
  for (; i + 2 <= m; i += 2) int8_rows(2, n, k, a, as, b, bs, bias, accumulate, out, i, j0, j1);
  for (; i < m; i++) int8_rows(1, n, k, a, as, b, bs, bias, accumulate, out, i, j0, j1);
}

EXPORT(s2s_gather_rows_int8)
void s2s_gather_rows_int8(int cols, const int8_t *table, const float *scales, const int32_t *index, size_t count,
                          float *out) {
  for (size_t i = 0; i < count; i++) {
    float *o = out + i * (size_t)cols;
    int32_t r = index[i];
    if (r < 0) {
      memset(o, 0, (size_t)cols * sizeof(float));
      continue;
    }
    const int8_t *t = table + (size_t)r * cols;
    const float s = scales[r];
    for (int j = 0; j < cols; j++) o[j] = (float)t[j] * s;
  }
}

_Static_assert(4 * STREAM_NC <= GMC * GKC + GKC * GNC, "the streaming GEMV's accumulators must fit the GEMM workspace");
