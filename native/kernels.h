/*
 * s2s native kernels: the compute routines behind the N-API addon.
 *
 * kernels.c is compiled once per ISA (see binding.gyp): baseline flags
 * (table s2s_kernels_generic) and, on x64, -mavx2 -mfma (s2s_kernels_avx2)
 * and -mavx512f/dq/bw/vl (s2s_kernels_avx512). addon.c picks at load time
 * with __builtin_cpu_supports, so the addon is safe on any x86-64 CPU and
 * fast on AVX2/AVX-512 ones.
 *
 * Every routine trusts its arguments: addon.c validates counts, types and
 * lengths before calling in. Matrices are row-major float32.
 */
#ifndef S2S_NATIVE_KERNELS_H
#define S2S_NATIVE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define S2S_CAT_(a, b) a##b
#define S2S_CAT(a, b) S2S_CAT_(a, b)

typedef enum { S2S_SIGMOID = 0, S2S_TANH = 1, S2S_RELU = 2 } s2s_unary_op;
typedef enum { S2S_ACT_NONE = 0, S2S_ACT_RELU = 1, S2S_ACT_GELU = 2 } s2s_activation;

/* Shapes and operands of one multi-head attention call (see attentionForward in types.ts). */
typedef struct {
  int batch, heads, tq, tk, hd;
  int causal;
  const float *q, *k, *v;
  const uint8_t *keyMask; /* [batch·tk] or NULL */
  const uint8_t *dropMask; /* like probs (1 = kept), or NULL */
  float keepScale;         /* what a kept probability is multiplied by */
  float *probs;           /* [batch, heads, tq, tk] */
  float *out;             /* forward: [batch·tq, heads·hd] */
  const float *dOut;      /* backward */
  float *dq, *dk, *dv;    /* backward, each may be NULL */
} s2s_attention;

/* One attentionStep call (see types.ts): one query per row over cached keys/values. */
typedef struct {
  int rows, heads, hd, keys;
  const float *q;
  int qStride;
  const float *kNew, *vNew; /* or NULL */
  int newStride;
  float *k, *v;
  long long blockStride, headStride, posStride;
  const int32_t *block;    /* row → block, or NULL (row r reads block r) */
  const uint8_t *keyMask;  /* [blocks·keys] or NULL */
  float *out;              /* [rows, heads·hd] */
  float *probs;            /* [rows, heads, keys] or NULL */
} s2s_attention_step;

/* Rows of A a GEMM takes the unpacked few-rows path for (gemm_small). */
#define S2S_SMALL_ROWS 16

/* The kernel table one ISA variant provides. */
typedef struct s2s_kernel_table {
  const char *isa;
  /* C += alpha·op(A)·op(B) (beta already applied by the caller); built-in blocked GEMM. */
  void (*gemm)(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float *c, int ldc);
  /* C *= beta over an m×n block (beta == 0 writes zeros, NaN-free). */
  void (*scale_matrix)(int m, int n, float beta, float *c, int ldc);
  void (*lstm_forward)(int rows, int H, float *gates, const float *cPrev, float *c, float *h);
  void (*lstm_backward)(int rows, int H, const float *gates, const float *cPrev, const float *c,
                        const float *dh, float *dc, float *dGates);
  void (*gru_forward)(int rows, int H, float *xGates, const float *hGates, const float *hPrev, float *h);
  void (*gru_backward)(int rows, int H, const float *gates, const float *hGates, const float *hPrev,
                       float *dh, float *dxGates, float *dhGates);
  double (*softmax_xent)(int rows, int cols, const float *logits, const int32_t *targets, float *dLogits,
                         float scale, float labelSmoothing);
  /* (batch, head) pairs [pair0, pair1) of an attention call; pairs touch disjoint outputs, so threads may split them.
     `scratch` holds at least s2s_attention_scratch(a) floats. */
  void (*attention_forward)(const s2s_attention *a, int pair0, int pair1, float *scratch);
  void (*attention_backward)(const s2s_attention *a, int pair0, int pair1, float *scratch);
  void (*layer_norm_forward)(int rows, int cols, const float *x, const float *gain, const float *bias, float eps,
                             float *out, float *mean, float *rstd);
  /* dGain/dBias accumulate over rows [row0, row1); dx (may be NULL) likewise. */
  void (*layer_norm_backward)(int row0, int row1, int cols, const float *x, const float *gain, const float *mean,
                              const float *rstd, const float *dy, float *dx, float *dGain, float *dBias);
  void (*bias_activation)(int rows, int cols, const float *x, const float *bias, int act, float *pre, float *out);
  void (*activation_backward)(int act, size_t n, const float *z, const float *dy, float *dx);
  void (*embed_positions)(int cols, const float *table, const int32_t *ids, size_t count, float scale,
                          const float *positions, const int32_t *positionIds, float *out);
  void (*keep_mask)(uint32_t *state, double threshold, size_t n, uint8_t *mask);
  void (*argmax_rows)(int rows, int cols, const float *x, int32_t *out);
  void (*dropout_apply)(size_t n, const uint8_t *mask, float scale, const float *x, float *out, int accumulate);
  void (*copy_block)(int rows, int cols, const float *src, int srcStride, float *dst, int dstStride, int accumulate);
  void (*embed_positions_backward)(int cols, const float *dy, const int32_t *ids, size_t count, float scale,
                                   const int32_t *positionIds, float *dTable, float *dPositions);
  /* rows [r0, r1) of an attention step; scratch holds `keys` floats */
  void (*attention_step)(const s2s_attention_step *a, int r0, int r1, float *scratch);
  void (*add_layer_norm)(int rows, int cols, float *x, const float *delta, const float *bias, const float *gain,
                         const float *lnBias, float eps, float *out);
  /* C (columns [j0, j1)) = alpha·A·op(B) + beta·C for m rows (any m; meant for m ≤ S2S_SMALL_ROWS) */
  void (*gemm_small)(int transB, int m, int j0, int j1, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc);
  void (*softmax_rows)(int rows, int cols, const float *x, float *out, int log);
  void (*unary)(int op, size_t n, const float *x, float *out);
  void (*unary_backward)(int op, size_t n, const float *y, const float *dy, float *dx);
  void (*add_row_vector)(int rows, int cols, float *x, const float *bias);
  void (*sum_rows)(int rows, int cols, const float *x, float *out);
  void (*gather_rows)(int cols, const float *src, const int32_t *index, size_t count, float *out);
  void (*scatter_add_rows)(int cols, const float *src, const int32_t *index, size_t count, float *dst);
  double (*sum_squares)(size_t n, const float *x);
  void (*scale)(size_t n, float *x, float s);
  void (*rmsprop)(size_t n, float *p, const float *g, float *ms, float lr, float rho, float eps);
  void (*adam)(size_t n, float *p, const float *g, float *m, float *v, float lrT, float beta1, float beta2,
               float eps);
} s2s_kernel_table;

/* Floats of scratch one thread needs for attention_forward/backward. */
static inline size_t s2s_attention_scratch(const s2s_attention *a) {
  size_t tkp = ((size_t)a->tk + 15) & ~(size_t)15; /* kᵀ or vᵀ of one head and the score rows, padded to 16 keys */
  return ((size_t)a->hd + (size_t)a->tq) * tkp + 2 * (size_t)a->tk * (size_t)a->tq + 16;
}

extern const s2s_kernel_table s2s_kernels_generic;
#if defined(S2S_HAVE_AVX2_VARIANT)
extern const s2s_kernel_table s2s_kernels_avx2;
#endif
#if defined(S2S_HAVE_AVX512_VARIANT)
extern const s2s_kernel_table s2s_kernels_avx512;
#endif

#endif
