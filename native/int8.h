/*
 * The int8 inference kernels (native/int8.c), one table per ISA variant;
 * addon.c validates arguments and picks the widest table the CPU runs.
 */
#ifndef S2S_NATIVE_INT8_H
#define S2S_NATIVE_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

typedef struct s2s_int8_table {
  const char *isa;
  /* Symmetric per-row quantization: q [rows, cols], scales [rows] (see quantizeRowsInt8 in types.ts). */
  void (*quantize_rows)(int rows, int cols, const float *x, int8_t *q, float *scales);
  /* out[i, j] for j in [j0, j1) (so threads may split the channels): a [m, k], b [n, k] channel-major, out [m, n]. */
  void (*gemm)(int m, int n, int k, const int8_t *a, const float *aScales, const int8_t *b, const float *bScales,
               const float *bias, int accumulate, float *out, int j0, int j1);
  /* out[i, :] = table[index[i], :]·scales[index[i]], zeros for a negative index. */
  void (*gather_rows)(int cols, const int8_t *table, const float *scales, const int32_t *index, size_t count, float *out);
} s2s_int8_table;

extern const s2s_int8_table s2s_int8_generic;
#if defined(S2S_HAVE_AVX2_VARIANT)
extern const s2s_int8_table s2s_int8_avx2;
extern const s2s_int8_table s2s_int8_avx512vnni;
#endif

#endif
