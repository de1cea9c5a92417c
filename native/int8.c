/*
 * int8 inference kernels (quantized bundles): per-row activation
 * quantization, an int8 GEMM with int32 accumulation and dequantization,
 * and a dequantizing row gather. The arithmetic contract is in
 * src/engine/kernels/types.ts (quantizeRowsInt8, gemmInt8, gatherRowsInt8):
 * every kernel set gives the same bits, so these files are compiled with
 * -ffp-contract=off (binding.gyp) — an FMA would round once where the
 * contract rounds twice.
 *
 * Compiled once per ISA, like kernels.c: -DS2S_INT8_VARIANT=generic (plain
 * C), avx2 (vpmovsxbw + vpmaddwd: exact, no vpmaddubsw saturation) and
 * avx512vnni (vpdpbusd on 256-bit vectors: activations shifted to u8 by
 * +128, the shift undone with each channel's sum, accumulated by the same
 * instruction against a vector of ones). addon.c picks the table at load time.
 */
#include "int8.h"

#include <math.h>
#include <string.h>

#if !defined(S2S_INT8_VARIANT)
#error "S2S_INT8_VARIANT must be defined (generic, avx2 or avx512vnni)"
#endif
#define S2S_I8_STR_(x) #x
#define S2S_I8_STR(x) S2S_I8_STR_(x)
#define S2S_I8_GENERIC 0
#define S2S_I8_AVX2 1
#define S2S_I8_AVX512VNNI 2
#define S2S_I8_LEVEL_generic S2S_I8_GENERIC
#define S2S_I8_LEVEL_avx2 S2S_I8_AVX2
#define S2S_I8_LEVEL_avx512vnni S2S_I8_AVX512VNNI
#define S2S_I8_LEVEL S2S_CAT(S2S_I8_LEVEL_, S2S_INT8_VARIANT)

#if S2S_I8_LEVEL >= S2S_I8_AVX2
#include <immintrin.h>
#endif

static void quantize_rows(int rows, int cols, const float *x, int8_t *q, float *scales) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    int8_t *qr = q + (size_t)r * cols;
    float amax = 0.0f;
    for (int j = 0; j < cols; j++) {
      float v = fabsf(xr[j]);
      if (v > amax) amax = v;
    }
    if (!(amax > 0.0f)) {
      scales[r] = 0.0f;
      memset(qr, 0, (size_t)cols);
      continue;
    }
    float inv = 127.0f / amax;
    scales[r] = amax / 127.0f;
    for (int j = 0; j < cols; j++) {
      float v = nearbyintf(xr[j] * inv); /* the default rounding mode: half to even */
      qr[j] = (int8_t)(v > 127.0f ? 127 : v < -127.0f ? -127 : (int)v);
    }
  }
}

/* The dequantizing epilogue of one output, exactly as the contract spells it. */
static inline void store_out(float *o, int32_t s, float as, float bs, const float *bias, int j, int accumulate) {
  float cs = as * bs;
  float v = (float)s * cs;
  if (bias) v = v + bias[j];
  *o = accumulate ? *o + v : v;
}

static inline int32_t dot_scalar(const int8_t *a, const int8_t *b, int k) {
  int32_t s = 0;
  for (int p = 0; p < k; p++) s += (int32_t)a[p] * (int32_t)b[p];
  return s;
}

#if S2S_I8_LEVEL == S2S_I8_GENERIC

static void gemm_int8(int m, int n, int k, const int8_t *a, const float *as, const int8_t *b, const float *bs,
                      const float *bias, int accumulate, float *out, int j0, int j1) {
  for (int i = 0; i < m; i++) {
    const int8_t *ai = a + (size_t)i * k;
    for (int j = j0; j < j1; j++) store_out(out + (size_t)i * n + j, dot_scalar(ai, b + (size_t)j * k, k), as[i], bs[j], bias, j, accumulate);
  }
}

#else

/* Four int32 lanes-sums of four 8-lane accumulators: [Σacc0, Σacc1, Σacc2, Σacc3]. */
static inline __m128i hsum4(__m256i a0, __m256i a1, __m256i a2, __m256i a3) {
  __m256i s01 = _mm256_hadd_epi32(a0, a1);
  __m256i s23 = _mm256_hadd_epi32(a2, a3);
  __m256i s = _mm256_hadd_epi32(s01, s23); /* [a0 a1 a2 a3 | a0 a1 a2 a3] halves */
  return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

#if S2S_I8_LEVEL == S2S_I8_AVX2

/* Σ a·b over 16 bytes at a time: sign-extended to int16, pairs multiplied and added into int32 (exact). */
#define DOT16(acc, av, bp) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(av, _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(bp)))))

static void gemm_int8(int m, int n, int k, const int8_t *a, const float *as, const int8_t *b, const float *bs,
                      const float *bias, int accumulate, float *out, int j0, int j1) {
  const int k16 = k & ~15;
  int i = 0;
  for (; i + 2 <= m; i += 2) { /* two rows of a share every load of b */
    const int8_t *a0 = a + (size_t)i * k, *a1 = a0 + k;
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
      const int8_t *b0 = b + (size_t)j * k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
      __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
      for (int p = 0; p < k16; p += 16) {
        __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a0 + p)));
        __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a1 + p)));
        __m256i w;
        w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b0 + p)));
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x0, w)); c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x1, w));
        w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b1 + p)));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x0, w)); c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x1, w));
        w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b2 + p)));
        c02 = _mm256_add_epi32(c02, _mm256_madd_epi16(x0, w)); c12 = _mm256_add_epi32(c12, _mm256_madd_epi16(x1, w));
        w = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b3 + p)));
        c03 = _mm256_add_epi32(c03, _mm256_madd_epi16(x0, w)); c13 = _mm256_add_epi32(c13, _mm256_madd_epi16(x1, w));
      }
      int32_t s0[4], s1[4];
      _mm_storeu_si128((__m128i *)s0, hsum4(c00, c01, c02, c03));
      _mm_storeu_si128((__m128i *)s1, hsum4(c10, c11, c12, c13));
      const int8_t *bc[4] = {b0, b1, b2, b3};
      for (int c = 0; c < 4; c++) {
        s0[c] += dot_scalar(a0 + k16, bc[c] + k16, k - k16);
        s1[c] += dot_scalar(a1 + k16, bc[c] + k16, k - k16);
        store_out(out + (size_t)i * n + j + c, s0[c], as[i], bs[j + c], bias, j + c, accumulate);
        store_out(out + (size_t)(i + 1) * n + j + c, s1[c], as[i + 1], bs[j + c], bias, j + c, accumulate);
      }
    }
    for (; j < j1; j++) {
      const int8_t *bj = b + (size_t)j * k;
      store_out(out + (size_t)i * n + j, dot_scalar(a0, bj, k), as[i], bs[j], bias, j, accumulate);
      store_out(out + (size_t)(i + 1) * n + j, dot_scalar(a1, bj, k), as[i + 1], bs[j], bias, j, accumulate);
    }
  }
  for (; i < m; i++) {
    const int8_t *a0 = a + (size_t)i * k;
    int j = j0;
    for (; j + 4 <= j1; j += 4) {
      const int8_t *b0 = b + (size_t)j * k, *b1 = b0 + k, *b2 = b1 + k, *b3 = b2 + k;
      __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
      for (int p = 0; p < k16; p += 16) {
        __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(a0 + p)));
        DOT16(c0, x0, b0 + p);
        DOT16(c1, x0, b1 + p);
        DOT16(c2, x0, b2 + p);
        DOT16(c3, x0, b3 + p);
      }
      int32_t s[4];
      _mm_storeu_si128((__m128i *)s, hsum4(c0, c1, c2, c3));
      const int8_t *bc[4] = {b0, b1, b2, b3};
      for (int c = 0; c < 4; c++) {
        s[c] += dot_scalar(a0 + k16, bc[c] + k16, k - k16);
        store_out(out + (size_t)i * n + j + c, s[c], as[i], bs[j + c], bias, j + c, accumulate);
      }
    }
    for (; j < j1; j++) store_out(out + (size_t)i * n + j, dot_scalar(a0, b + (size_t)j * k, k), as[i], bs[j], bias, j, accumulate);
  }
}

#else /* AVX-512 VNNI on 256-bit vectors */

/*
 * vpdpbusd multiplies unsigned by signed bytes, four products per int32
 * lane, without saturation. Activations are shifted to u = a + 128 (a xor
 * 0x80), so Σ u·b = Σ a·b + 128·Σ b; Σ b comes from the same instruction
 * with u = 1. Wrapping int32 arithmetic: the difference is exact whenever
 * the true sum fits in int32, which the contract guarantees. The k tail is
 * read with masked loads (zeros contribute nothing).
 */
/* Rows i (and i + 1 when TWO) × columns [j0, j1). TWO is a constant at each call, so a lone row (batch 1) does not
 * also compute a copy of itself: 8 instead of 12 vpdpbusd per 4 × 32 bytes of b. */
static inline __attribute__((always_inline)) void vnni_rows(const int TWO, int i, int n, int k, const int8_t *a,
                                                            const float *as, const int8_t *b, const float *bs,
                                                            const float *bias, int accumulate, float *out, int j0,
                                                            int j1) {
  const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi8(1);
  const int k32 = k & ~31;
  const __mmask32 tail = (__mmask32)(k - k32 == 0 ? 0 : (0xffffffffu >> (32 - (k - k32))));
  const int8_t *a0 = a + (size_t)i * k, *a1 = TWO ? a0 + k : a0;
  int j = j0;
  for (; j + 4 <= j1; j += 4) {
    const int8_t *b0 = b + (size_t)j * k;
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m256i z0 = c00, z1 = c00, z2 = c00, z3 = c00;
    for (int p = 0; p <= k32; p += 32) {
      __m256i x0, x1 = _mm256_setzero_si256(), w0, w1, w2, w3;
      if (p < k32) {
        x0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a0 + p)), flip);
        if (TWO) x1 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(a1 + p)), flip);
        w0 = _mm256_loadu_si256((const __m256i *)(b0 + p));
        w1 = _mm256_loadu_si256((const __m256i *)(b0 + k + p));
        w2 = _mm256_loadu_si256((const __m256i *)(b0 + 2 * (size_t)k + p));
        w3 = _mm256_loadu_si256((const __m256i *)(b0 + 3 * (size_t)k + p));
      } else {
        if (!tail) break;
        x0 = _mm256_maskz_mov_epi8(tail, _mm256_xor_si256(_mm256_maskz_loadu_epi8(tail, a0 + p), flip));
        if (TWO) x1 = _mm256_maskz_mov_epi8(tail, _mm256_xor_si256(_mm256_maskz_loadu_epi8(tail, a1 + p), flip));
        w0 = _mm256_maskz_loadu_epi8(tail, b0 + p);
        w1 = _mm256_maskz_loadu_epi8(tail, b0 + k + p);
        w2 = _mm256_maskz_loadu_epi8(tail, b0 + 2 * (size_t)k + p);
        w3 = _mm256_maskz_loadu_epi8(tail, b0 + 3 * (size_t)k + p);
      }
      c00 = _mm256_dpbusd_epi32(c00, x0, w0); c01 = _mm256_dpbusd_epi32(c01, x0, w1);
      c02 = _mm256_dpbusd_epi32(c02, x0, w2); c03 = _mm256_dpbusd_epi32(c03, x0, w3);
      if (TWO) {
        c10 = _mm256_dpbusd_epi32(c10, x1, w0); c11 = _mm256_dpbusd_epi32(c11, x1, w1);
        c12 = _mm256_dpbusd_epi32(c12, x1, w2); c13 = _mm256_dpbusd_epi32(c13, x1, w3);
      }
      z0 = _mm256_dpbusd_epi32(z0, ones, w0); z1 = _mm256_dpbusd_epi32(z1, ones, w1);
      z2 = _mm256_dpbusd_epi32(z2, ones, w2); z3 = _mm256_dpbusd_epi32(z3, ones, w3);
    }
    __m128i bsum = _mm_slli_epi32(hsum4(z0, z1, z2, z3), 7);
    int32_t s0[4], s1[4];
    _mm_storeu_si128((__m128i *)s0, _mm_sub_epi32(hsum4(c00, c01, c02, c03), bsum));
    if (TWO) _mm_storeu_si128((__m128i *)s1, _mm_sub_epi32(hsum4(c10, c11, c12, c13), bsum));
    for (int c = 0; c < 4; c++) {
      store_out(out + (size_t)i * n + j + c, s0[c], as[i], bs[j + c], bias, j + c, accumulate);
      if (TWO) store_out(out + (size_t)(i + 1) * n + j + c, s1[c], as[i + 1], bs[j + c], bias, j + c, accumulate);
    }
  }
  for (; j < j1; j++) {
    const int8_t *bj = b + (size_t)j * k;
    store_out(out + (size_t)i * n + j, dot_scalar(a0, bj, k), as[i], bs[j], bias, j, accumulate);
    if (TWO) store_out(out + (size_t)(i + 1) * n + j, dot_scalar(a1, bj, k), as[i + 1], bs[j], bias, j, accumulate);
  }
}

static void gemm_int8(int m, int n, int k, const int8_t *a, const float *as, const int8_t *b, const float *bs,
                      const float *bias, int accumulate, float *out, int j0, int j1) {
  int i = 0;
  for (; i + 2 <= m; i += 2) vnni_rows(1, i, n, k, a, as, b, bs, bias, accumulate, out, j0, j1);
  if (i < m) vnni_rows(0, i, n, k, a, as, b, bs, bias, accumulate, out, j0, j1);
}

#endif
#endif

static void gather_rows_int8(int cols, const int8_t *table, const float *scales, const int32_t *index, size_t count, float *out) {
  for (size_t i = 0; i < count; i++) {
    float *o = out + i * (size_t)cols;
    int32_t r = index[i];
    if (r < 0) {
      memset(o, 0, (size_t)cols * sizeof(float));
      continue;
    }
    const int8_t *t = table + (size_t)r * cols;
    float s = scales[r];
    for (int j = 0; j < cols; j++) o[j] = (float)t[j] * s;
  }
}

const s2s_int8_table S2S_CAT(s2s_int8_, S2S_INT8_VARIANT) = {
    .isa = S2S_I8_STR(S2S_INT8_VARIANT),
    .quantize_rows = quantize_rows,
    .gemm = gemm_int8,
    .gather_rows = gather_rows_int8,
};
