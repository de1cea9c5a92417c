/*
 * s2s native kernels, written as plain C loops that gcc/clang auto-vectorise
 * (restrict pointers, no branches in inner loops, a polynomial expf).
 *
 * This file is compiled once per ISA variant: binding.gyp builds it with
 * -DS2S_VARIANT=generic (baseline flags), -DS2S_VARIANT=avx2 -mavx2 -mfma and
 * -DS2S_VARIANT=avx512 -mavx512f...; each build exports one s2s_kernel_table
 * named s2s_kernels_<variant>.
 * Only the built-in GEMM and the elementwise work live here; the OpenBLAS
 * path is in addon.c.
 *
 * Numerics: the TypeScript kernels compute in double and round to float32;
 * these compute in float32 (reductions that feed losses and norms in double),
 * with a Cephes-style expf (max relative error ≈ 2 ulp) from which sigmoid and
 * tanh are built. Results agree with the TypeScript kernels to ~1e-6 relative.
 * NaN inputs propagate to NaN outputs as they do in TypeScript.
 */
#include "kernels.h"

#if defined(__wasm__)
/*
 * WebAssembly build (native/wasm.c includes this file): freestanding, no libc.
 * The few libc pieces used map to compiler builtins (memcpy/memset/memmove
 * lower to memory.copy/fill with -mbulk-memory; fabsf, copysignf and sqrtf
 * are single instructions); log() of a double comes from the host (Math.log).
 * The built-in blocked GEMM below (which allocates its packing buffers) and
 * the kernel table are left out: wasm.c has its own 128-bit SIMD GEMM that
 * takes its packing buffers from the caller.
 */
#define S2S_WASM 1
#define memcpy __builtin_memcpy
#define memset __builtin_memset
#define memmove __builtin_memmove
#define fabsf __builtin_fabsf
#define copysignf __builtin_copysignf
#define sqrtf __builtin_sqrtf
#define INFINITY __builtin_inff()
__attribute__((import_module("env"), import_name("log"))) double s2s_host_log(double);
#define S2S_LOG(x) s2s_host_log(x)
#else
#include <math.h>
#include <stdlib.h>
#include <string.h>
#define S2S_LOG(x) log(x)
#endif

#ifndef S2S_VARIANT
#error "S2S_VARIANT must be defined (avx2 or generic)"
#endif
#define S2S_STR_(x) #x
#define S2S_STR(x) S2S_STR_(x)

#if defined(__GNUC__)
#define S2S_INLINE static inline __attribute__((always_inline))
#else
#define S2S_INLINE static inline
#endif

/* ------------------------------------------------------------ fast math */

S2S_INLINE int32_t f2i(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}
S2S_INLINE float i2f(int32_t i) {
  float f;
  memcpy(&f, &i, sizeof f);
  return f;
}

/*
 * expf: Cody–Waite range reduction x = n·ln2 + r, |r| ≤ ln2/2, then the
 * Cephes degree-6 polynomial for e^r and 2^n spliced into the exponent.
 * Branch-free so loops vectorise; comparisons are written so NaN falls
 * through every clamp and comes out as NaN.
 */
#define EXP_HI 88.3762626647949f
#define EXP_LO (-87.3365447505531f) /* log(FLT_MIN): below it the result is 0 */
S2S_INLINE float fast_exp(float x) {
  float xc = x > EXP_HI ? EXP_HI : x;
  xc = xc < EXP_LO ? EXP_LO : xc;
  const float shifter = 12582912.0f; /* 1.5·2^23: adding it rounds to an integer */
  float t = xc * 1.44269504088896341f + shifter;
  int32_t n = f2i(t) - f2i(shifter);
  float fn = t - shifter;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  float y = i2f(f2i(p) + (int32_t)((uint32_t)n << 23));
  return x < EXP_LO ? 0.0f : y;
}

S2S_INLINE float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

/* tanh: odd polynomial (Cephes tanhf) for |x| < 0.625, 1 − 2/(e^{2|x|}+1) beyond. */
S2S_INLINE float fast_tanh(float x) {
  float ax = fabsf(x);
  float z = x * x;
  float ps = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
              3.33332819422e-1f) * z * x + x;
  float e = fast_exp(2.0f * ax);
  float pl = 1.0f - 2.0f / (e + 1.0f);
  pl = copysignf(pl, x);
  return ax < 0.625f ? ps : pl;
}

/* ------------------------------------------------------------ built-in GEMM */

/*
 * Goto-style blocked GEMM: op(B) is packed into KC×NC panels of NR-wide
 * strips, op(A) into MC×KC blocks of MR-tall strips (alpha folded in, edges
 * zero-padded), and a 6×16 register-blocked micro-kernel written with GCC
 * vector extensions runs over them (12 ymm accumulators with AVX2; the
 * generic build lowers the same code to SSE2). Packing absorbs both
 * transposes, so one kernel serves all four cases.
 */
#define MR 6
#define NR 16
#define KC 256
#define MC 96
#define NC 2048

typedef float v8f __attribute__((vector_size(32)));

#if !defined(S2S_WASM)

/*
 * Packing buffers are allocated per call (2.1 MB; glibc serves that from the
 * heap without a syscall once warm) rather than kept per thread: thread-local
 * state with destructors would outlive the addon when Node unloads it after a
 * worker thread exits.
 */
typedef struct {
  float *a, *b;
} pack_scratch;

static int scratch_alloc(pack_scratch *s) {
  void *pa = NULL, *pb = NULL;
  if (posix_memalign(&pa, 64, (size_t)MC * KC * sizeof(float)) != 0) return 0;
  if (posix_memalign(&pb, 64, (size_t)KC * NC * sizeof(float)) != 0) {
    free(pa);
    return 0;
  }
  s->a = (float *)pa;
  s->b = (float *)pb;
  return 1;
}

static void pack_a(int transA, const float *a, int lda, int i0, int mc, int p0, int kc, float alpha, float *restrict out) {
  for (int ir = 0; ir < mc; ir += MR) {
    int mr = mc - ir < MR ? mc - ir : MR;
    float *dst = out + (size_t)ir * kc;
    if (!transA) {
      for (int i = 0; i < MR; i++) {
        if (i < mr) {
          const float *src = a + (size_t)(i0 + ir + i) * lda + p0;
          for (int p = 0; p < kc; p++) dst[p * MR + i] = alpha * src[p];
        } else {
          for (int p = 0; p < kc; p++) dst[p * MR + i] = 0.0f;
        }
      }
    } else {
      for (int p = 0; p < kc; p++) {
        const float *src = a + (size_t)(p0 + p) * lda + i0 + ir;
        int i = 0;
        for (; i < mr; i++) dst[p * MR + i] = alpha * src[i];
        for (; i < MR; i++) dst[p * MR + i] = 0.0f;
      }
    }
  }
}

static void pack_b(int transB, const float *b, int ldb, int p0, int kc, int j0, int nc, float *restrict out) {
  for (int jr = 0; jr < nc; jr += NR) {
    int nr = nc - jr < NR ? nc - jr : NR;
    float *dst = out + (size_t)jr * kc;
    if (!transB) {
      for (int p = 0; p < kc; p++) {
        const float *src = b + (size_t)(p0 + p) * ldb + j0 + jr;
        int j = 0;
        for (; j < nr; j++) dst[p * NR + j] = src[j];
        for (; j < NR; j++) dst[p * NR + j] = 0.0f;
      }
    } else {
      for (int j = 0; j < NR; j++) {
        if (j < nr) {
          const float *src = b + (size_t)(j0 + jr + j) * ldb + p0;
          for (int p = 0; p < kc; p++) dst[p * NR + j] = src[p];
        } else {
          for (int p = 0; p < kc; p++) dst[p * NR + j] = 0.0f;
        }
      }
    }
  }
}

static void micro_kernel(int kc, const float *restrict ap, const float *restrict bp, float *restrict c, int ldc, int mr,
                         int nr) {
  v8f acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = (v8f){0};
  for (int p = 0; p < kc; p++) {
    v8f b0, b1;
    memcpy(&b0, bp + p * NR, sizeof b0);
    memcpy(&b1, bp + p * NR + 8, sizeof b1);
    for (int i = 0; i < MR; i++) {
      float av = ap[p * MR + i];
      acc[i][0] += av * b0;
      acc[i][1] += av * b1;
    }
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++) {
      v8f c0, c1;
      float *row = c + (size_t)i * ldc;
      memcpy(&c0, row, sizeof c0);
      memcpy(&c1, row + 8, sizeof c1);
      c0 += acc[i][0];
      c1 += acc[i][1];
      memcpy(row, &c0, sizeof c0);
      memcpy(row + 8, &c1, sizeof c1);
    }
  } else {
    float tmp[MR][NR];
    for (int i = 0; i < MR; i++) {
      memcpy(&tmp[i][0], &acc[i][0], sizeof acc[i][0]);
      memcpy(&tmp[i][8], &acc[i][1], sizeof acc[i][1]);
    }
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) c[(size_t)i * ldc + j] += tmp[i][j];
  }
}

static void gemm_blocked(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float *c, int ldc) {
  pack_scratch scratch;
  if (!scratch_alloc(&scratch)) abort(); /* 2.1 MB of scratch; nothing sensible to do without it */
  float *ap = scratch.a, *bp = scratch.b;
  for (int j0 = 0; j0 < n; j0 += NC) {
    int nc = n - j0 < NC ? n - j0 : NC;
    for (int p0 = 0; p0 < k; p0 += KC) {
      int kc = k - p0 < KC ? k - p0 : KC;
      pack_b(transB, b, ldb, p0, kc, j0, nc, bp);
      for (int i0 = 0; i0 < m; i0 += MC) {
        int mc = m - i0 < MC ? m - i0 : MC;
        pack_a(transA, a, lda, i0, mc, p0, kc, alpha, ap);
        for (int jr = 0; jr < nc; jr += NR) {
          int nr = nc - jr < NR ? nc - jr : NR;
          for (int ir = 0; ir < mc; ir += MR) {
            int mr = mc - ir < MR ? mc - ir : MR;
            micro_kernel(kc, ap + (size_t)ir * kc, bp + (size_t)jr * kc, c + (size_t)(i0 + ir) * ldc + j0 + jr, ldc,
                         mr, nr);
          }
        }
      }
    }
  }
  free(scratch.a);
  free(scratch.b);
}

#endif /* !S2S_WASM */

static void scale_matrix(int m, int n, float beta, float *c, int ldc) {
  for (int i = 0; i < m; i++) {
    float *restrict row = c + (size_t)i * ldc;
    if (beta == 0.0f)
      memset(row, 0, (size_t)n * sizeof(float));
    else
      for (int j = 0; j < n; j++) row[j] *= beta;
  }
}

/* ------------------------------------------------------------ recurrent cells */

/*
 * Each cell kernel processes one row at a time through a helper whose
 * pointers are restrict parameters: that is what lets gcc prove the gate
 * slices independent and vectorise the whole fused loop body.
 */
static void lstm_forward_row(int H, float *restrict gi, float *restrict gf, float *restrict gg, float *restrict go,
                             const float *restrict cp, float *restrict cr, float *restrict hr) {
  for (int j = 0; j < H; j++) {
    float i = fast_sigmoid(gi[j]);
    float f = fast_sigmoid(gf[j]);
    float g = fast_tanh(gg[j]);
    float o = fast_sigmoid(go[j]);
    gi[j] = i;
    gf[j] = f;
    gg[j] = g;
    go[j] = o;
    float cv = f * cp[j] + i * g;
    cr[j] = cv;
    hr[j] = o * fast_tanh(cv);
  }
}

static void lstm_forward(int rows, int H, float *gates, const float *cPrev, float *c, float *h) {
  for (int r = 0; r < rows; r++) {
    float *g = gates + (size_t)r * 4 * H;
    lstm_forward_row(H, g, g + H, g + 2 * H, g + 3 * H, cPrev + (size_t)r * H, c + (size_t)r * H, h + (size_t)r * H);
  }
}

static void lstm_backward_row(int H, const float *restrict gi, const float *restrict gf, const float *restrict gg,
                              const float *restrict go, const float *restrict cp, const float *restrict cr,
                              const float *restrict dhr, float *restrict dcr, float *restrict di, float *restrict df,
                              float *restrict dg, float *restrict dO) {
  for (int j = 0; j < H; j++) {
    float i = gi[j], f = gf[j], g = gg[j], o = go[j];
    float tc = fast_tanh(cr[j]);
    float dhv = dhr[j];
    float dct = dcr[j] + dhv * o * (1.0f - tc * tc);
    di[j] = dct * g * i * (1.0f - i);
    df[j] = dct * cp[j] * f * (1.0f - f);
    dg[j] = dct * i * (1.0f - g * g);
    dO[j] = dhv * tc * o * (1.0f - o);
    dcr[j] = dct * f;
  }
}

static void lstm_backward(int rows, int H, const float *gates, const float *cPrev, const float *c, const float *dh,
                          float *dc, float *dGates) {
  for (int r = 0; r < rows; r++) {
    const float *g = gates + (size_t)r * 4 * H;
    float *d = dGates + (size_t)r * 4 * H;
    size_t s = (size_t)r * H;
    lstm_backward_row(H, g, g + H, g + 2 * H, g + 3 * H, cPrev + s, c + s, dh + s, dc + s, d, d + H, d + 2 * H,
                      d + 3 * H);
  }
}

static void gru_forward_row(int H, float *restrict xz, float *restrict xr, float *restrict xn, const float *restrict hz,
                            const float *restrict hr, const float *restrict hn, const float *restrict hp,
                            float *restrict ho) {
  for (int j = 0; j < H; j++) {
    float z = fast_sigmoid(xz[j] + hz[j]);
    float rr = fast_sigmoid(xr[j] + hr[j]);
    float nn = fast_tanh(xn[j] + rr * hn[j]);
    xz[j] = z;
    xr[j] = rr;
    xn[j] = nn;
    ho[j] = z * hp[j] + (1.0f - z) * nn;
  }
}

static void gru_forward(int rows, int H, float *xGates, const float *hGates, const float *hPrev, float *h) {
  for (int r = 0; r < rows; r++) {
    float *x = xGates + (size_t)r * 3 * H;
    const float *hg = hGates + (size_t)r * 3 * H;
    gru_forward_row(H, x, x + H, x + 2 * H, hg, hg + H, hg + 2 * H, hPrev + (size_t)r * H, h + (size_t)r * H);
  }
}

static void gru_backward_row(int H, const float *restrict gz, const float *restrict gr, const float *restrict gn,
                             const float *restrict hn, const float *restrict hp, float *restrict dhr,
                             float *restrict dxz, float *restrict dxr, float *restrict dxn, float *restrict dhz,
                             float *restrict dhrr, float *restrict dhn) {
  for (int j = 0; j < H; j++) {
    float z = gz[j], rr = gr[j], nn = gn[j];
    float dhv = dhr[j];
    float dn = dhv * (1.0f - z) * (1.0f - nn * nn);
    float dz = dhv * (hp[j] - nn) * z * (1.0f - z);
    float dr = dn * hn[j] * rr * (1.0f - rr);
    dxz[j] = dz;
    dxr[j] = dr;
    dxn[j] = dn;
    dhz[j] = dz;
    dhrr[j] = dr;
    dhn[j] = dn * rr;
    dhr[j] = dhv * z;
  }
}

static void gru_backward(int rows, int H, const float *gates, const float *hGates, const float *hPrev, float *dh,
                         float *dxGates, float *dhGates) {
  for (int r = 0; r < rows; r++) {
    size_t g3 = (size_t)r * 3 * H, s = (size_t)r * H;
    const float *g = gates + g3;
    float *dx = dxGates + g3, *dhg = dhGates + g3;
    gru_backward_row(H, g, g + H, g + 2 * H, hGates + g3 + 2 * H, hPrev + s, dh + s, dx, dx + H, dx + 2 * H, dhg,
                     dhg + H, dhg + 2 * H);
  }
}

/* ------------------------------------------------------------ softmax family */

#define LANES 8

/* Max over a row, ignoring NaN like the TypeScript `if (x > max)` scan. */
static float row_max(int cols, const float *restrict x) {
  float lane[LANES];
  for (int l = 0; l < LANES; l++) lane[l] = -INFINITY;
  int j = 0;
  for (; j + LANES <= cols; j += LANES)
    for (int l = 0; l < LANES; l++) lane[l] = x[j + l] > lane[l] ? x[j + l] : lane[l];
  float m = -INFINITY;
  for (int l = 0; l < LANES; l++) m = lane[l] > m ? lane[l] : m;
  for (; j < cols; j++) m = x[j] > m ? x[j] : m;
  return m;
}

/* Σ exp(x − max), writing the exponentials to `e` when non-null. */
static float row_exp_sum(int cols, const float *restrict x, float max, float *restrict e) {
  float lane[LANES] = {0};
  int j = 0;
  if (e) {
    for (; j + LANES <= cols; j += LANES)
      for (int l = 0; l < LANES; l++) {
        float v = fast_exp(x[j + l] - max);
        e[j + l] = v;
        lane[l] += v;
      }
  } else {
    for (; j + LANES <= cols; j += LANES)
      for (int l = 0; l < LANES; l++) lane[l] += fast_exp(x[j + l] - max);
  }
  float s = 0.0f;
  for (; j < cols; j++) {
    float v = fast_exp(x[j] - max);
    if (e) e[j] = v;
    s += v;
  }
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}

/* Σ x over a row, in eight float lanes then double. */
static double row_sum(int cols, const float *restrict x) {
  float lane[LANES] = {0};
  int j = 0;
  for (; j + LANES <= cols; j += LANES)
    for (int l = 0; l < LANES; l++) lane[l] += x[j + l];
  double s = 0.0;
  for (; j < cols; j++) s += x[j];
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}

/*
 * Label smoothing ε: loss = (1−ε)·(−log p_t) + ε·mean_j(−log p_j) and
 * gradient scale·(softmax − (1−ε)·onehot − ε/cols). ε = 0 takes exactly the
 * unsmoothed arithmetic.
 */
static double softmax_xent(int rows, int cols, const float *logits, const int32_t *targets, float *dLogits,
                           float scale, float eps) {
  double loss = 0.0;
  float smooth = (float)((double)scale * (double)eps / (double)cols);
  for (int r = 0; r < rows; r++) {
    const float *x = logits + (size_t)r * cols;
    float *d = dLogits ? dLogits + (size_t)r * cols : NULL;
    int32_t t = targets[r];
    if (t < 0) {
      if (d) memset(d, 0, (size_t)cols * sizeof(float));
      continue;
    }
    float max = row_max(cols, x);
    float sum = row_exp_sum(cols, x, max, d);
    if (eps == 0.0f)
      loss += S2S_LOG((double)sum) - ((double)x[t] - (double)max);
    else {
      double mean = row_sum(cols, x) / cols;
      loss += S2S_LOG((double)sum) - (1.0 - (double)eps) * ((double)x[t] - (double)max) - (double)eps * (mean - (double)max);
    }
    if (d) {
      float inv = (float)((double)scale / (double)sum);
      if (eps == 0.0f) {
        for (int j = 0; j < cols; j++) d[j] *= inv;
        d[t] -= scale;
      } else {
        for (int j = 0; j < cols; j++) d[j] = d[j] * inv - smooth;
        d[t] -= (float)((double)scale * (1.0 - (double)eps));
      }
    }
  }
  return loss;
}

static void softmax_rows(int rows, int cols, const float *x, float *out, int log_) {
  for (int r = 0; r < rows; r++) {
    const float *restrict xr = x + (size_t)r * cols;
    float *restrict o = out + (size_t)r * cols;
    float max = row_max(cols, xr);
    if (log_) {
      float sum = row_exp_sum(cols, xr, max, NULL);
      float ls = (float)(S2S_LOG((double)sum) + (double)max);
      for (int j = 0; j < cols; j++) o[j] = xr[j] - ls;
    } else {
      float sum = row_exp_sum(cols, xr, max, o);
      float inv = 1.0f / sum;
      for (int j = 0; j < cols; j++) o[j] *= inv;
    }
  }
}

/* ------------------------------------------------------------ elementwise */

static void unary(int op, size_t n, const float *restrict x, float *restrict out) {
  if (op == S2S_SIGMOID)
    for (size_t i = 0; i < n; i++) out[i] = fast_sigmoid(x[i]);
  else if (op == S2S_TANH)
    for (size_t i = 0; i < n; i++) out[i] = fast_tanh(x[i]);
  else
    for (size_t i = 0; i < n; i++) out[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* Not restrict: callers may pass the same buffer for y and dx. */
static void unary_backward(int op, size_t n, const float *y, const float *dy, float *dx) {
  if (op == S2S_SIGMOID)
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
  else if (op == S2S_TANH)
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1.0f - y[i] * y[i]);
  else
    for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}

static void add_row_vector(int rows, int cols, float *x, const float *bias) {
  for (int r = 0; r < rows; r++) {
    float *restrict row = x + (size_t)r * cols;
    const float *restrict b = bias;
    for (int j = 0; j < cols; j++) row[j] += b[j];
  }
}

static void sum_rows(int rows, int cols, const float *x, float *out) {
  for (int r = 0; r < rows; r++) {
    const float *restrict row = x + (size_t)r * cols;
    float *restrict o = out;
    for (int j = 0; j < cols; j++) o[j] += row[j];
  }
}

static void gather_rows(int cols, const float *src, const int32_t *index, size_t count, float *out) {
  size_t bytes = (size_t)cols * sizeof(float);
  for (size_t i = 0; i < count; i++) {
    int32_t s = index[i];
    if (s < 0)
      memset(out + i * cols, 0, bytes);
    else
      memmove(out + i * cols, src + (size_t)s * cols, bytes);
  }
}

static void scatter_add_rows(int cols, const float *src, const int32_t *index, size_t count, float *dst) {
  for (size_t i = 0; i < count; i++) {
    int32_t d = index[i];
    if (d < 0) continue;
    const float *restrict s = src + i * cols;
    float *restrict t = dst + (size_t)d * cols;
    for (int j = 0; j < cols; j++) t[j] += s[j];
  }
}

static double sum_squares(size_t n, const float *restrict x) {
  double lane[LANES] = {0};
  size_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int l = 0; l < LANES; l++) lane[l] += (double)x[i + l] * (double)x[i + l];
  double s = 0.0;
  for (; i < n; i++) s += (double)x[i] * (double)x[i];
  for (int l = 0; l < LANES; l++) s += lane[l];
  return s;
}

static void scale_vec(size_t n, float *restrict x, float s) {
  for (size_t i = 0; i < n; i++) x[i] *= s;
}

static void rmsprop(size_t n, float *restrict p, const float *restrict g, float *restrict ms, float lr, float rho,
                    float eps) {
  float one_minus = 1.0f - rho;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float m = rho * ms[i] + one_minus * gi * gi;
    ms[i] = m;
    p[i] -= (lr * gi) / (sqrtf(m) + eps);
  }
}

static void adam(size_t n, float *restrict p, const float *restrict g, float *restrict m, float *restrict v, float lrT,
                 float beta1, float beta2, float eps) {
  float c1 = 1.0f - beta1, c2 = 1.0f - beta2;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = beta1 * m[i] + c1 * gi;
    float vi = beta2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= (lrT * mi) / (sqrtf(vi) + eps);
  }
}

/* ------------------------------------------------------------ Transformer kernels */

S2S_INLINE void axpy(int n, float a, const float *restrict x, float *restrict y) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* The first key hidden from query i by the causal mask (tk when not causal). */
S2S_INLINE int visible_end(int causal, int i, int tq, int tk) {
  if (!causal) return tk;
  int end = i + tk - tq + 1;
  return end < 0 ? 0 : end > tk ? tk : end;
}

/*
 * C (m×n) = or += A (m×k) · B (k×n), all row-major with their own strides:
 * the per-(batch, head) products of attention (k and n are 30–64 there, too
 * small for a packing GEMM). 4×16 register blocks of two 8-float vectors;
 * columns past the last multiple of 16 take a scalar loop.
 */
#define SG_MR 4
#define SG_NR 16
static void small_gemm(int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
                       int accumulate) {
  const int n16 = n & ~(SG_NR - 1);
  for (int i0 = 0; i0 < m; i0 += SG_MR) {
    const int mr = m - i0 < SG_MR ? m - i0 : SG_MR;
    const float *a0 = A + (size_t)i0 * lda;
    for (int j0 = 0; j0 < n16; j0 += SG_NR) {
      v8f acc[SG_MR][2];
      for (int r = 0; r < SG_MR; r++) acc[r][0] = acc[r][1] = (v8f){0};
      if (mr == SG_MR) {
        for (int p = 0; p < k; p++) {
          v8f b0, b1;
          memcpy(&b0, B + (size_t)p * ldb + j0, sizeof b0);
          memcpy(&b1, B + (size_t)p * ldb + j0 + 8, sizeof b1);
          for (int r = 0; r < SG_MR; r++) {
            const float av = a0[(size_t)r * lda + p];
            acc[r][0] += av * b0;
            acc[r][1] += av * b1;
          }
        }
      } else {
        for (int p = 0; p < k; p++) {
          v8f b0, b1;
          memcpy(&b0, B + (size_t)p * ldb + j0, sizeof b0);
          memcpy(&b1, B + (size_t)p * ldb + j0 + 8, sizeof b1);
          for (int r = 0; r < mr; r++) {
            const float av = a0[(size_t)r * lda + p];
            acc[r][0] += av * b0;
            acc[r][1] += av * b1;
          }
        }
      }
      for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)(i0 + r) * ldc + j0;
        if (accumulate) {
          v8f c0, c1;
          memcpy(&c0, c, sizeof c0);
          memcpy(&c1, c + 8, sizeof c1);
          acc[r][0] += c0;
          acc[r][1] += c1;
        }
        memcpy(c, &acc[r][0], sizeof acc[r][0]);
        memcpy(c + 8, &acc[r][1], sizeof acc[r][1]);
      }
    }
    for (int r = 0; r < mr; r++) {
      for (int j = n16; j < n; j++) {
        float sum = 0.0f;
        for (int p = 0; p < k; p++) sum += a0[(size_t)r * lda + p] * B[(size_t)p * ldb + j];
        float *c = C + (size_t)(i0 + r) * ldc + j;
        *c = accumulate ? *c + sum : sum;
      }
    }
  }
}

/* dst[d·ldd + j] = scale·src[j·lds + d] for j < rows, d < cols; columns rows … ldd−1 of dst are zeroed. */
static void pack_transposed(int rows, int cols, const float *src, int lds, float scale, float *restrict dst, int ldd) {
  for (int d = 0; d < cols; d++)
    for (int j = rows; j < ldd; j++) dst[(size_t)d * ldd + j] = 0.0f;
  for (int j = 0; j < rows; j++) {
    const float *row = src + (size_t)j * lds;
    for (int d = 0; d < cols; d++) dst[(size_t)d * ldd + j] = row[d] * scale;
  }
}

S2S_INLINE int round16(int n) { return (n + 15) & ~15; }

/*
 * Per (b, h): S = q·kᵀ/√hd (kᵀ packed, rows padded to 16), masked keys set
 * to −∞, row softmax into probs, out = (probs ⊙ dropMask)·v. With the causal
 * mask, each block of 4 query rows computes only the keys its last row sees.
 * Scratch: kᵀ [hd × tkp] and S [tq × tkp], tkp = tk rounded up to 16.
 */
static void attention_forward(const s2s_attention *a, int pair0, int pair1, float *scratch) {
  const int H = a->heads, tq = a->tq, tk = a->tk, hd = a->hd, D = H * hd, tkp = round16(tk);
  const float scale = 1.0f / sqrtf((float)hd);
  float *kt = scratch, *S = scratch + (size_t)hd * tkp;
  for (int pr = pair0; pr < pair1; pr++) {
    const int b = pr / H, h = pr % H;
    const float *q = a->q + (size_t)b * tq * D + (size_t)h * hd;
    const float *k = a->k + (size_t)b * tk * D + (size_t)h * hd;
    const float *v = a->v + (size_t)b * tk * D + (size_t)h * hd;
    const uint8_t *km = a->keyMask ? a->keyMask + (size_t)b * tk : NULL;
    float *P = a->probs + (size_t)pr * tq * tk;
    const uint8_t *M = a->dropMask ? a->dropMask + (size_t)pr * tq * tk : NULL;
    const float ks = a->keepScale;
    float *o = a->out + (size_t)b * tq * D + (size_t)h * hd;
    pack_transposed(tk, hd, k, D, scale, kt, tkp);
    for (int i0 = 0; i0 < tq; i0 += SG_MR) {
      const int rows = tq - i0 < SG_MR ? tq - i0 : SG_MR;
      const int nmax = visible_end(a->causal, i0 + rows - 1, tq, tk);
      small_gemm(rows, round16(nmax), hd, q + (size_t)i0 * D, D, kt, tkp, S + (size_t)i0 * tkp, tkp, 0);
      for (int r = 0; r < rows; r++) {
        const int i = i0 + r;
        const int n = visible_end(a->causal, i, tq, tk);
        float *sr = S + (size_t)i * tkp;
        float *pr_ = P + (size_t)i * tk;
        if (km)
          for (int j = 0; j < n; j++) sr[j] = km[j] ? sr[j] : -INFINITY;
        const float max = row_max(n, sr);
        if (max == -INFINITY) {
          memset(pr_, 0, (size_t)tk * sizeof(float));
          memset(sr, 0, (size_t)tkp * sizeof(float));
          continue;
        }
        const float sum = row_exp_sum(n, sr, max, pr_); /* exp(−∞) = 0 for masked keys */
        const float inv = 1.0f / sum;
        for (int j = 0; j < n; j++) pr_[j] *= inv;
        for (int j = n; j < tk; j++) pr_[j] = 0.0f;
        /* the row of (probs ⊙ dropMask) that multiplies v, zero past the visible keys */
        if (M) {
          const uint8_t *mr = M + (size_t)i * tk;
          for (int j = 0; j < n; j++) sr[j] = mr[j] ? pr_[j] * ks : 0.0f;
        } else
          memcpy(sr, pr_, (size_t)n * sizeof(float));
        for (int j = n; j < tkp; j++) sr[j] = 0.0f;
      }
      small_gemm(rows, hd, nmax, S + (size_t)i0 * tkp, tkp, v, D, o + (size_t)i0 * D, D, 0);
    }
  }
}

/*
 * Per (b, h), as four small GEMMs around a row pass:
 *   dP = dO·vᵀ (vᵀ packed), dP̃ = dP ⊙ m, dS = p ⊙ (dP̃ − rowsum(p ⊙ dP̃))/√hd,
 *   dv += (p ⊙ m)ᵀ·dO,  dq += dS·k,  dk += dSᵀ·q.
 * Scratch: vᵀ [hd × tkp], dS [tq × tkp], (p ⊙ m)ᵀ and dSᵀ [tk × tq].
 */
static void attention_backward(const s2s_attention *a, int pair0, int pair1, float *scratch) {
  const int H = a->heads, tq = a->tq, tk = a->tk, hd = a->hd, D = H * hd, tkp = round16(tk);
  const float scale = 1.0f / sqrtf((float)hd);
  float *vt = scratch, *dS = vt + (size_t)hd * tkp, *pT = dS + (size_t)tq * tkp, *dST = pT + (size_t)tk * tq;
  for (int pr = pair0; pr < pair1; pr++) {
    const int b = pr / H, h = pr % H;
    const size_t qOff = (size_t)b * tq * D + (size_t)h * hd, kOff = (size_t)b * tk * D + (size_t)h * hd;
    const float *q = a->q + qOff, *k = a->k + kOff, *v = a->v + kOff, *dO = a->dOut + qOff;
    const float *P = a->probs + (size_t)pr * tq * tk;
    const uint8_t *M = a->dropMask ? a->dropMask + (size_t)pr * tq * tk : NULL;
    const float ks = a->keepScale;
    pack_transposed(tk, hd, v, D, 1.0f, vt, tkp);
    small_gemm(tq, tkp, hd, dO, D, vt, tkp, dS, tkp, 0);
    for (int i = 0; i < tq; i++) {
      const float *pr_ = P + (size_t)i * tk;
      const uint8_t *mr = M ? M + (size_t)i * tk : NULL;
      float *ds = dS + (size_t)i * tkp;
      if (mr)
        for (int j = 0; j < tk; j++) ds[j] = mr[j] ? ds[j] * ks : 0.0f;
      float lane[LANES] = {0};
      int j = 0;
      for (; j + LANES <= tk; j += LANES)
        for (int l = 0; l < LANES; l++) lane[l] += pr_[j + l] * ds[j + l];
      float dot = 0.0f;
      for (; j < tk; j++) dot += pr_[j] * ds[j];
      for (int l = 0; l < LANES; l++) dot += lane[l];
      for (j = 0; j < tk; j++) {
        const float p = pr_[j];
        /* p = 0 (hidden or underflowed key): no gradient, whatever dP holds */
        const float g = p == 0.0f ? 0.0f : p * (ds[j] - dot) * scale;
        ds[j] = g;
        dST[(size_t)j * tq + i] = g;
        pT[(size_t)j * tq + i] = mr ? (mr[j] ? p * ks : 0.0f) : p;
      }
    }
    if (a->dv) small_gemm(tk, hd, tq, pT, tq, dO, D, a->dv + kOff, D, 1);
    if (a->dq) small_gemm(tq, hd, tk, dS, tkp, k, D, a->dq + qOff, D, 1);
    if (a->dk) small_gemm(tk, hd, tq, dST, tq, q, D, a->dk + kOff, D, 1);
  }
}

/* Mean and 1/sqrt(variance + eps) of one row, the variance summed in LANES partial sums. */
static void row_moments(int cols, const float *restrict xr, float eps, float *mean, float *rstd) {
  const float mu = (float)(row_sum(cols, xr) / cols);
  float lane[LANES] = {0};
  int j = 0;
  for (; j + LANES <= cols; j += LANES)
    for (int l = 0; l < LANES; l++) {
      float c = xr[j + l] - mu;
      lane[l] += c * c;
    }
  float var = 0.0f;
  for (; j < cols; j++) var += (xr[j] - mu) * (xr[j] - mu);
  for (int l = 0; l < LANES; l++) var += lane[l];
  *mean = mu;
  *rstd = 1.0f / sqrtf(var / (float)cols + eps);
}

static void layer_norm_forward(int rows, int cols, const float *x, const float *gain, const float *bias, float eps,
                               float *out, float *mean, float *rstd) {
  for (int r = 0; r < rows; r++) {
    const float *restrict xr = x + (size_t)r * cols;
    float *restrict o = out + (size_t)r * cols;
    float mu, is;
    row_moments(cols, xr, eps, &mu, &is);
    mean[r] = mu;
    rstd[r] = is;
    for (int j = 0; j < cols; j++) o[j] = (xr[j] - mu) * is * gain[j] + bias[j];
  }
}

static void layer_norm_backward(int row0, int row1, int cols, const float *x, const float *gain, const float *mean,
                                const float *rstd, const float *dy, float *dx, float *dGain, float *dBias) {
  for (int r = row0; r < row1; r++) {
    const float *restrict xr = x + (size_t)r * cols;
    const float *restrict g = dy + (size_t)r * cols;
    const float mu = mean[r], is = rstd[r];
    float l1[LANES] = {0}, l2[LANES] = {0};
    int j = 0;
    for (; j + LANES <= cols; j += LANES)
      for (int l = 0; l < LANES; l++) {
        float xh = (xr[j + l] - mu) * is;
        float dxh = g[j + l] * gain[j + l];
        l1[l] += dxh;
        l2[l] += dxh * xh;
      }
    float s1 = 0.0f, s2 = 0.0f;
    for (; j < cols; j++) {
      float xh = (xr[j] - mu) * is;
      float dxh = g[j] * gain[j];
      s1 += dxh;
      s2 += dxh * xh;
    }
    for (int l = 0; l < LANES; l++) {
      s1 += l1[l];
      s2 += l2[l];
    }
    if (dGain) {
      float *restrict dg = dGain;
      for (j = 0; j < cols; j++) dg[j] += g[j] * ((xr[j] - mu) * is);
    }
    if (dBias) {
      float *restrict db = dBias;
      for (j = 0; j < cols; j++) db[j] += g[j];
    }
    if (dx) {
      float *restrict d = dx + (size_t)r * cols;
      const float c = is / (float)cols, n = (float)cols;
      for (j = 0; j < cols; j++) d[j] += c * (n * g[j] * gain[j] - s1 - ((xr[j] - mu) * is) * s2);
    }
  }
}

/*
 * Φ(x) = erfc(−x/√2)/2 with erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2),
 * z = |x|/√2 and P a degree-10 least-squares fit of log(erfc(z)/t) + z² on
 * z ∈ [0, 9] (relative error of erfc ≈ 1.5e-8 in exact arithmetic, a few
 * float32 ulp here). Branch-free, so the GELU loops vectorise.
 */
S2S_INLINE float fast_normal_cdf(float x) {
  float z = fabsf(x) * 0.70710678118654752f;
  float t = 1.0f / (1.0f + 0.5f * z);
  float p = -0.158390665f;
  p = p * t + 1.07222295f;
  p = p * t - 3.05582311f;
  p = p * t + 4.65237499f;
  p = p * t - 3.96183408f;
  p = p * t + 1.93725891f;
  p = p * t - 0.831215098f;
  p = p * t + 0.260518923f;
  p = p * t + 0.348143027f;
  p = p * t + 1.00234595f;
  p = p * t - 1.2656018f;
  float half = 0.5f * t * fast_exp(p - z * z);
  return x < 0.0f ? half : 1.0f - half;
}

S2S_INLINE float fast_gelu(float x) { return x * fast_normal_cdf(x); }
S2S_INLINE float fast_gelu_grad(float x) {
  return fast_normal_cdf(x) + x * 0.39894228040143268f * fast_exp(-0.5f * x * x);
}

#define ACT_CHUNK 256

/* z = x + bias per row (through a local buffer, so x, pre and out may alias), pre = z, out = act(z). */
static void bias_activation(int rows, int cols, const float *x, const float *bias, int act, float *pre, float *out) {
  float zb[ACT_CHUNK];
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    float *pr = pre ? pre + (size_t)r * cols : NULL;
    float *o = out + (size_t)r * cols;
    for (int j0 = 0; j0 < cols; j0 += ACT_CHUNK) {
      const int n = cols - j0 < ACT_CHUNK ? cols - j0 : ACT_CHUNK;
      if (bias)
        for (int j = 0; j < n; j++) zb[j] = xr[j0 + j] + bias[j0 + j];
      else
        for (int j = 0; j < n; j++) zb[j] = xr[j0 + j];
      if (pr)
        for (int j = 0; j < n; j++) pr[j0 + j] = zb[j];
      if (act == S2S_ACT_RELU)
        for (int j = 0; j < n; j++) o[j0 + j] = zb[j] > 0.0f ? zb[j] : 0.0f;
      else if (act == S2S_ACT_GELU)
        for (int j = 0; j < n; j++) o[j0 + j] = fast_gelu(zb[j]);
      else
        for (int j = 0; j < n; j++) o[j0 + j] = zb[j];
    }
  }
}

static void activation_backward(int act, size_t n, const float *restrict z, const float *restrict dy,
                                float *restrict dx) {
  if (act == S2S_ACT_RELU)
    for (size_t i = 0; i < n; i++) dx[i] = z[i] > 0.0f ? dy[i] : 0.0f;
  else if (act == S2S_ACT_GELU)
    for (size_t i = 0; i < n; i++) dx[i] = dy[i] * fast_gelu_grad(z[i]);
  else
    memcpy(dx, dy, n * sizeof(float));
}

static void embed_positions(int cols, const float *table, const int32_t *ids, size_t count, float scale,
                            const float *positions, const int32_t *positionIds, float *out) {
  for (size_t i = 0; i < count; i++) {
    float *restrict o = out + i * cols;
    const int32_t t = ids[i], p = positionIds[i];
    const float *restrict tr = t >= 0 ? table + (size_t)t * cols : NULL;
    const float *restrict pr = p >= 0 ? positions + (size_t)p * cols : NULL;
    if (tr && pr)
      for (int j = 0; j < cols; j++) o[j] = tr[j] * scale + pr[j];
    else if (tr)
      for (int j = 0; j < cols; j++) o[j] = tr[j] * scale;
    else if (pr)
      memcpy(o, pr, (size_t)cols * sizeof(float));
    else
      memset(o, 0, (size_t)cols * sizeof(float));
  }
}

static void embed_positions_backward(int cols, const float *dy, const int32_t *ids, size_t count, float scale,
                                     const int32_t *positionIds, float *dTable, float *dPositions) {
  for (size_t i = 0; i < count; i++) {
    const float *restrict g = dy + i * cols;
    if (dTable && ids[i] >= 0) axpy(cols, scale, g, dTable + (size_t)ids[i] * cols);
    if (dPositions && positionIds[i] >= 0) {
      float *restrict d = dPositions + (size_t)positionIds[i] * cols;
      for (int j = 0; j < cols; j++) d[j] += g[j];
    }
  }
}

/* xoshiro128** draws u (as Rng.nextUint32 in rng.ts), mask = u ≥ threshold. */
static void keep_mask(uint32_t *state, double threshold, size_t n, uint8_t *mask) {
  uint32_t s0 = state[0], s1 = state[1], s2 = state[2], s3 = state[3];
  for (size_t i = 0; i < n; i++) {
    uint32_t m = s1 * 5u;
    uint32_t u = ((m << 7) | (m >> 25)) * 9u;
    mask[i] = (double)u >= threshold;
    uint32_t t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 11) | (s3 >> 21);
  }
  state[0] = s0;
  state[1] = s1;
  state[2] = s2;
  state[3] = s3;
}

/* The vectorised max first, then the first index holding it: the TypeScript scan's answer (NaN never wins). */
static void argmax_rows(int rows, int cols, const float *x, int32_t *out) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    const float m = row_max(cols, xr);
    int best = 0;
    if (m != -INFINITY)
      for (int j = 0; j < cols; j++)
        if (xr[j] == m) {
          best = j;
          break;
        }
    out[r] = best;
  }
}

static void dropout_apply(size_t n, const uint8_t *restrict mask, float scale, const float *restrict x,
                          float *restrict out, int accumulate) {
  if (accumulate)
    for (size_t i = 0; i < n; i++) out[i] += mask[i] ? x[i] * scale : 0.0f;
  else
    for (size_t i = 0; i < n; i++) out[i] = mask[i] ? x[i] * scale : 0.0f;
}

static void copy_block(int rows, int cols, const float *src, int srcStride, float *dst, int dstStride, int accumulate) {
  for (int r = 0; r < rows; r++) {
    const float *restrict s = src + (size_t)r * srcStride;
    float *restrict d = dst + (size_t)r * dstStride;
    if (accumulate)
      for (int j = 0; j < cols; j++) d[j] += s[j];
    else
      memmove(d, s, (size_t)cols * sizeof(float));
  }
}

/* ------------------------------------------------------------ incremental decoding */

/*
 * One new query per row over cached keys/values (see attentionStep in
 * types.ts), rows [r0, r1). With kNew/vNew, the row's new key/value is first
 * written as key `keys − 1`. Scores go to `probs` when given, else to
 * `scratch` (keys floats); a row that sees no key gives zeros.
 */
static void attention_step(const s2s_attention_step *a, int r0, int r1, float *scratch) {
  const int H = a->heads, hd = a->hd, T = a->keys;
  const float scale = 1.0f / sqrtf((float)hd);
  for (int r = r0; r < r1; r++) {
    const int b = a->block ? a->block[r] : r;
    const uint8_t *km = a->keyMask ? a->keyMask + (size_t)b * T : NULL;
    for (int h = 0; h < H; h++) {
      const float *restrict q = a->q + (size_t)r * a->qStride + (size_t)h * hd;
      float *kb = a->k + (size_t)b * a->blockStride + (size_t)h * a->headStride;
      float *vb = a->v + (size_t)b * a->blockStride + (size_t)h * a->headStride;
      if (a->kNew) {
        memcpy(kb + (size_t)(T - 1) * a->posStride, a->kNew + (size_t)r * a->newStride + (size_t)h * hd, (size_t)hd * sizeof(float));
        memcpy(vb + (size_t)(T - 1) * a->posStride, a->vNew + (size_t)r * a->newStride + (size_t)h * hd, (size_t)hd * sizeof(float));
      }
      float *restrict p = a->probs ? a->probs + ((size_t)r * H + h) * T : scratch;
      float *restrict o = a->out + (size_t)r * H * hd + (size_t)h * hd;
      for (int j = 0; j < T; j++) {
        const float *restrict kj = kb + (size_t)j * a->posStride;
        float lane[LANES] = {0};
        int d = 0;
        for (; d + LANES <= hd; d += LANES)
          for (int l = 0; l < LANES; l++) lane[l] += q[d + l] * kj[d + l];
        float s = 0.0f;
        for (; d < hd; d++) s += q[d] * kj[d];
        for (int l = 0; l < LANES; l++) s += lane[l];
        p[j] = km && !km[j] ? -INFINITY : s * scale;
      }
      const float max = row_max(T, p);
      for (int d = 0; d < hd; d++) o[d] = 0.0f;
      if (max == -INFINITY) {
        for (int j = 0; j < T; j++) p[j] = 0.0f;
        continue;
      }
      float sum = 0.0f;
      for (int j = 0; j < T; j++) {
        const float e = fast_exp(p[j] - max);
        p[j] = e;
        sum += e;
      }
      const float inv = 1.0f / sum;
      for (int j = 0; j < T; j++) {
        const float pj = p[j] * inv;
        p[j] = pj;
        if (pj == 0.0f) continue;
        const float *restrict vj = vb + (size_t)j * a->posStride;
        for (int d = 0; d < hd; d++) o[d] += pj * vj[d];
      }
    }
  }
}

/* x += delta (+ bias) per row, then out = layer norm of x (out may be x). */
static void add_layer_norm(int rows, int cols, float *x, const float *delta, const float *bias, const float *gain,
                           const float *lnBias, float eps, float *out) {
  for (int r = 0; r < rows; r++) {
    float *restrict xr = x + (size_t)r * cols;
    const float *restrict dr = delta ? delta + (size_t)r * cols : NULL;
    if (dr && bias)
      for (int j = 0; j < cols; j++) xr[j] += dr[j] + bias[j];
    else if (dr)
      for (int j = 0; j < cols; j++) xr[j] += dr[j];
    else if (bias)
      for (int j = 0; j < cols; j++) xr[j] += bias[j];
    float mu_, is_;
    row_moments(cols, xr, eps, &mu_, &is_);
    float *o = out + (size_t)r * cols;
    for (int j = 0; j < cols; j++) o[j] = (xr[j] - mu_) * is_ * gain[j] + lnBias[j];
  }
}

#if !defined(S2S_WASM)
/*
 * C = alpha·A·op(B) + beta·C for few rows of A (m ≤ S2S_SMALL_ROWS; decoding
 * at batch 1 or a beam): B streamed once from where it lies, no packing (a
 * packing GEMM copies the whole weight matrix for one output row). Each row's
 * arithmetic is the same whatever m is, so a sentence alone and in a small
 * batch get the same bits here.
 */
#if defined(__AVX512F__)
#define SV 16 /* floats per vector */
#define SGR 8 /* rows per pass: 8 rows × 2 vectors of accumulators fit the 32 zmm registers */
#else
#define SV 8
#define SGR 6 /* 6 × 2 accumulators + 2 loads fit the 16 ymm registers */
#endif
typedef float vsf __attribute__((vector_size(SV * 4)));
/* Every vector helper is inlined: no vector crosses a call, so the ABI note gcc gives for narrower builds does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

S2S_INLINE vsf loadv(const float *p) {
  vsf v;
  memcpy(&v, p, sizeof v);
  return v;
}
S2S_INLINE void storev(float *p, vsf v) { memcpy(p, &v, sizeof v); }
S2S_INLINE void small_epilogue(float *c, float v, float alpha, float beta) {
  *c = beta == 0.0f ? alpha * v : alpha * v + beta * *c;
}

/* Vectors of columns per pass for R rows (R·NV accumulators, the rest of the registers for loads): wide tiles read
 * each row of B as one long contiguous run, which the hardware prefetchers follow (two vectors per row, as before,
 * touched a new 4 KB page every 128 bytes and streamed at half the speed). */
#if SV == 16
#define NN_VECTORS(R) ((R) == 1 ? 16 : (R) == 2 ? 10 : (R) == 3 ? 7 : (R) == 4 ? 6 : (R) <= 6 ? 4 : 3)
#else
#define NN_VECTORS(R) ((R) == 1 ? 8 : (R) == 2 ? 6 : (R) == 3 ? 4 : (R) == 4 ? 3 : 2)
#endif
#define NN_MAX_VECTORS 16
/* Rows of B ahead that a pass prefetches (its own columns, a few hundred cycles of work ahead). */
#define NN_PREFETCH_ROWS 8

/* R rows, columns [j0, j0 + SV·NV) of C from B row-major [k × n]. Every element of C is one multiply-add chain over
 * p = 0, 1, …, k − 1 whatever R and NV are, so tiling never changes a bit. */
S2S_INLINE void small_nn_block(int R, int NV, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                               int j0, float beta, float *c, int ldc) {
  vsf acc[SGR][NN_MAX_VECTORS];
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) acc[r][v] = (vsf){0};
  for (int p = 0; p < k; p++) {
    const float *brow = b + (size_t)p * ldb + j0;
    if (p + NN_PREFETCH_ROWS < k) {
#pragma GCC unroll 16
      for (int v = 0; v < NV; v += 64 / (SV * 4)) __builtin_prefetch(brow + (size_t)NN_PREFETCH_ROWS * ldb + SV * v);
    }
    vsf av[SGR]; /* a[r][p] broadcast once per row of B, not once per multiply-add */
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) av[r] = (vsf){0} + a[(size_t)r * lda + p];
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) {
      const vsf bv = loadv(brow + SV * v);
#pragma GCC unroll 8
      for (int r = 0; r < R; r++) acc[r][v] += av[r] * bv;
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; r++)
#pragma GCC unroll 16
    for (int v = 0; v < NV; v++) {
      float *cp = c + (size_t)r * ldc + j0 + SV * v;
      storev(cp, beta == 0.0f ? alpha * acc[r][v] : alpha * acc[r][v] + beta * loadv(cp));
    }
}

S2S_INLINE void small_nn_rows(int R, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                              float beta, float *c, int ldc) {
  const int NV = NN_VECTORS(R);
  int j = 0;
  for (; j + SV * NV <= n; j += SV * NV) small_nn_block(R, NV, k, alpha, a, lda, b, ldb, j, beta, c, ldc);
  if (NV > 4)
    for (; j + 4 * SV <= n; j += 4 * SV) small_nn_block(R, 4, k, alpha, a, lda, b, ldb, j, beta, c, ldc);
  for (; j + 2 * SV <= n; j += 2 * SV) small_nn_block(R, 2, k, alpha, a, lda, b, ldb, j, beta, c, ldc);
  for (; j + SV <= n; j += SV) small_nn_block(R, 1, k, alpha, a, lda, b, ldb, j, beta, c, ldc);
  for (; j < n; j++)
    for (int r = 0; r < R; r++) {
      float s = 0.0f;
      for (int p = 0; p < k; p++) s += a[(size_t)r * lda + p] * b[(size_t)p * ldb + j];
      small_epilogue(c + (size_t)r * ldc + j, s, alpha, beta);
    }
}

/*
 * Lane sums of N ≤ 24 vectors at once, each by the same fixed pairwise tree (lane l plus lane l + w for w = SV/2, …,
 * 1; so a column's bits do not depend on how many rows or columns share the call), by transposing as it adds: each level adds pairs of vectors into one that holds both halves, so a level costs two
 * shuffles and an add per pair instead of per vector. sums[i] is vector i's lane sum.
 */
S2S_INLINE void hsum_many(int N, vsf *v, float *sums) {
  int n = N;
#if SV == 16
  for (int i = 0; i < n; i += 2) { /* w = 8: [a₀…₇ + a₈…₁₅ | b₀…₇ + b₈…₁₅] */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
               __builtin_shufflevector(x, y, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  }
  n = (n + 1) / 2;
  for (int i = 0; i < n; i += 2) { /* w = 4: groups of 8 → groups of 4 */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
               __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  }
  n = (n + 1) / 2;
  for (int i = 0; i < n; i += 2) { /* w = 2: groups of 4 → groups of 2 */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) +
               __builtin_shufflevector(x, y, 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31);
  }
  n = (n + 1) / 2;
  for (int i = 0; i < n; i += 2) { /* w = 1: groups of 2 → sums */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) +
               __builtin_shufflevector(x, y, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  }
  n = (n + 1) / 2;
#else
  for (int i = 0; i < n; i += 2) { /* w = 4 */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 1, 2, 3, 8, 9, 10, 11) + __builtin_shufflevector(x, y, 4, 5, 6, 7, 12, 13, 14, 15);
  }
  n = (n + 1) / 2;
  for (int i = 0; i < n; i += 2) { /* w = 2 */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 1, 4, 5, 8, 9, 12, 13) + __builtin_shufflevector(x, y, 2, 3, 6, 7, 10, 11, 14, 15);
  }
  n = (n + 1) / 2;
  for (int i = 0; i < n; i += 2) { /* w = 1 */
    vsf x = v[i], y = i + 1 < n ? v[i + 1] : v[i];
    v[i / 2] = __builtin_shufflevector(x, y, 0, 2, 4, 6, 8, 10, 12, 14) + __builtin_shufflevector(x, y, 1, 3, 5, 7, 9, 11, 13, 15);
  }
  n = (n + 1) / 2;
#endif
  for (int i = 0; i < n; i++) memcpy(sums + (size_t)i * SV, &v[i], sizeof v[i]);
  (void)N;
}

/* R rows × J columns of C from B stored [n × k] (x·Bᵀ: tied output layers): dot products along k, J columns at a
 * time so that each row of A loaded from L1 feeds J independent multiply-add chains, R·J ≤ 24 lane sums at once. */
S2S_INLINE void small_nt_block(int R, int J, int k, float alpha, const float *a, int lda, const float *bj, int ldb,
                               float beta, float *c, int ldc) {
  const int kv = k - k % SV;
  vsf acc[24];
  float sums[24 * SV / 2 + SV];
  for (int i = 0; i < R * J; i++) acc[i] = (vsf){0};
  for (int p = 0; p < kv; p += SV) {
    vsf bv[4];
    for (int q = 0; q < J; q++) bv[q] = loadv(bj + (size_t)q * ldb + p);
    for (int r = 0; r < R; r++) {
      const vsf av = loadv(a + (size_t)r * lda + p);
      for (int q = 0; q < J; q++) acc[r * J + q] += av * bv[q];
    }
  }
  hsum_many(R * J, acc, sums);
  for (int r = 0; r < R; r++)
    for (int q = 0; q < J; q++) {
      float s = sums[r * J + q];
      for (int p = kv; p < k; p++) s += a[(size_t)r * lda + p] * bj[(size_t)q * ldb + p];
      small_epilogue(c + (size_t)r * ldc + q, s, alpha, beta);
    }
}

S2S_INLINE void small_nt_rows(int R, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                              float beta, float *c, int ldc) {
  const int J = R <= 6 ? 4 : 2;
  int j = 0;
  for (; j + J <= n; j += J) small_nt_block(R, J, k, alpha, a, lda, b + (size_t)j * ldb, ldb, beta, c + j, ldc);
  for (; j < n; j++) small_nt_block(R, 1, k, alpha, a, lda, b + (size_t)j * ldb, ldb, beta, c + j, ldc);
}

#if SGR == 8
#define SMALL_CASES(FN, ...) case 7: FN(7, __VA_ARGS__); break; case 8: FN(8, __VA_ARGS__); break;
#else
#define SMALL_CASES(FN, ...)
#endif
#define SMALL_DISPATCH(FN, ...)                      \
  switch (R) {                                       \
    case 1: FN(1, __VA_ARGS__); break;               \
    case 2: FN(2, __VA_ARGS__); break;               \
    case 3: FN(3, __VA_ARGS__); break;               \
    case 4: FN(4, __VA_ARGS__); break;               \
    case 5: FN(5, __VA_ARGS__); break;               \
    SMALL_CASES(FN, __VA_ARGS__)                     \
    default: FN(SGR > 6 ? 6 : SGR, __VA_ARGS__); break; \
  }

/* Columns [j0, j1) of C (threads split columns; every column's arithmetic is the same whatever the split). */
static void gemm_small(int transB, int m, int j0, int j1, int k, float alpha, const float *a, int lda, const float *b,
                       int ldb, float beta, float *c, int ldc) {
  const int n = j1 - j0;
  for (int i0 = 0; i0 < m; i0 += SGR) {
    const int R = m - i0 < SGR ? m - i0 : SGR;
    const float *ai = a + (size_t)i0 * lda;
    float *ci = c + (size_t)i0 * ldc + j0;
    if (transB) {
      const float *bj = b + (size_t)j0 * ldb;
      SMALL_DISPATCH(small_nt_rows, n, k, alpha, ai, lda, bj, ldb, beta, ci, ldc)
    } else {
      const float *bj = b + j0;
      SMALL_DISPATCH(small_nn_rows, n, k, alpha, ai, lda, bj, ldb, beta, ci, ldc)
    }
  }
}
#endif

#if !defined(S2S_WASM)
const s2s_kernel_table S2S_CAT(s2s_kernels_, S2S_VARIANT) = {
    .isa = S2S_STR(S2S_VARIANT),
    .gemm = gemm_blocked,
    .scale_matrix = scale_matrix,
    .lstm_forward = lstm_forward,
    .lstm_backward = lstm_backward,
    .gru_forward = gru_forward,
    .gru_backward = gru_backward,
    .softmax_xent = softmax_xent,
    .softmax_rows = softmax_rows,
    .unary = unary,
    .unary_backward = unary_backward,
    .add_row_vector = add_row_vector,
    .sum_rows = sum_rows,
    .gather_rows = gather_rows,
    .scatter_add_rows = scatter_add_rows,
    .sum_squares = sum_squares,
    .scale = scale_vec,
    .rmsprop = rmsprop,
    .adam = adam,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .layer_norm_forward = layer_norm_forward,
    .layer_norm_backward = layer_norm_backward,
    .bias_activation = bias_activation,
    .activation_backward = activation_backward,
    .embed_positions = embed_positions,
    .embed_positions_backward = embed_positions_backward,
    .keep_mask = keep_mask,
    .dropout_apply = dropout_apply,
    .argmax_rows = argmax_rows,
    .copy_block = copy_block,
    .attention_step = attention_step,
    .add_layer_norm = add_layer_norm,
    .gemm_small = gemm_small,
};
#endif
