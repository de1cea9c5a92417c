/*
 * s2s_native: the Kernels interface of src/engine/kernels/types.ts as a
 * Node-API addon (plain node_api.h, no node-addon-api).
 *
 * Every exported function takes the same arguments, in the same order, as
 * its TypeScript counterpart in src/engine/kernels/js.ts and has the same
 * semantics. Arguments are checked cheaply (count, types, that every array is
 * long enough for the shapes given, that indices and targets are in range)
 * and violations throw TypeError/RangeError before any output is touched, so
 * bad calls cannot read or write out of bounds.
 *
 * GEMM goes to OpenBLAS's cblas_sgemm when binding.gyp found OpenBLAS at
 * configure time (S2S_OPENBLAS=1), otherwise to the built-in blocked GEMM in
 * kernels.c. Elementwise kernels come from kernels.c, in the AVX2+FMA build
 * when the CPU supports it and the baseline build otherwise.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "kernels.h"
#include "int8.h"

#ifndef S2S_OPENBLAS
#define S2S_OPENBLAS 0
#endif

#if S2S_OPENBLAS
/*
 * The few OpenBLAS entry points used, declared here rather than through
 * cblas.h (whose location differs between distributions). LP64 interface:
 * 32-bit integers, CBLAS enum values as in the reference cblas.h.
 */
enum { S2S_CblasRowMajor = 101, S2S_CblasNoTrans = 111, S2S_CblasTrans = 112 };
extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *b, int ldb, float beta, float *c, int ldc);
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
extern int openblas_get_num_threads(void);
extern int openblas_get_parallel(void);
extern void openblas_set_num_threads(int num_threads);
#endif

/* The kernels in use: one ISA variant's table, with the cell kernels of a wider variant patched in (see choose_kernels). */
static s2s_kernel_table active;
static const s2s_kernel_table *K = &active;
static char kernel_isa[32] = "generic";
/* The int8 inference kernels in use (native/int8.c), chosen with the others. */
static const s2s_int8_table *I8 = &s2s_int8_generic;
static char info_text[320];
static const char *malloc_note = "";

/* ------------------------------------------------------------ argument checking */

#define MAX_ARGS 20
#define MAX_THREADS 16

static int throw_fmt(napi_env env, int range, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (range)
    napi_throw_range_error(env, NULL, msg);
  else
    napi_throw_type_error(env, NULL, msg);
  return 0;
}
#define TYPE_ERROR(...) throw_fmt(env, 0, __VA_ARGS__)
#define RANGE_ERROR(...) throw_fmt(env, 1, __VA_ARGS__)

/* One call's arguments, with the function name for messages. */
typedef struct {
  napi_env env;
  const char *fn;
  napi_value argv[MAX_ARGS];
} args_t;

static int get_args(napi_env env, napi_callback_info info, const char *fn, size_t want, args_t *a) {
  size_t argc = MAX_ARGS;
  a->env = env;
  a->fn = fn;
  if (napi_get_cb_info(env, info, &argc, a->argv, NULL, NULL) != napi_ok) return TYPE_ERROR("%s: cannot read arguments", fn);
  if (argc != want) return TYPE_ERROR("%s: expected %zu arguments, got %zu", fn, want, argc);
  return 1;
}

typedef struct {
  float *data;
  int64_t length;
} f32_t;

typedef struct {
  int32_t *data;
  int64_t length;
} i32_t;

/* argument i (0-based) as a Float32Array; data already points at the view's first element */
static int arg_f32(args_t *a, int i, const char *name, f32_t *out) {
  napi_env env = a->env;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float32_array)
    return TYPE_ERROR("%s: argument %d (%s) must be a Float32Array", a->fn, i + 1, name);
  out->data = (float *)data;
  out->length = (int64_t)length;
  return 1;
}

static int arg_f32_or_null(args_t *a, int i, const char *name, f32_t *out) {
  napi_valuetype t;
  if (napi_typeof(a->env, a->argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined)) {
    out->data = NULL;
    out->length = 0;
    return 1;
  }
  napi_env env = a->env;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_float32_array)
    return TYPE_ERROR("%s: argument %d (%s) must be a Float32Array or null", a->fn, i + 1, name);
  out->data = (float *)data;
  out->length = (int64_t)length;
  return 1;
}

static int arg_i32(args_t *a, int i, const char *name, i32_t *out) {
  napi_env env = a->env;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array)
    return TYPE_ERROR("%s: argument %d (%s) must be an Int32Array", a->fn, i + 1, name);
  out->data = (int32_t *)data;
  out->length = (int64_t)length;
  return 1;
}

static int arg_number(args_t *a, int i, const char *name, double *out) {
  napi_env env = a->env;
  if (napi_get_value_double(env, a->argv[i], out) != napi_ok)
    return TYPE_ERROR("%s: argument %d (%s) must be a number", a->fn, i + 1, name);
  return 1;
}

/* a non-negative integer that fits in int32 (dimensions, strides) */
static int arg_dim(args_t *a, int i, const char *name, int *out) {
  napi_env env = a->env;
  double d = 0;
  if (napi_get_value_double(env, a->argv[i], &d) != napi_ok)
    return TYPE_ERROR("%s: argument %d (%s) must be a number", a->fn, i + 1, name);
  if (!(d >= 0 && d <= 2147483647.0) || d != floor(d))
    return RANGE_ERROR("%s: argument %d (%s) must be a non-negative integer below 2^31, got %g", a->fn, i + 1, name, d);
  *out = (int)d;
  return 1;
}

static int arg_bool(args_t *a, int i, const char *name, int *out) {
  napi_env env = a->env;
  bool b;
  if (napi_get_value_bool(env, a->argv[i], &b) != napi_ok)
    return TYPE_ERROR("%s: argument %d (%s) must be a boolean", a->fn, i + 1, name);
  *out = b ? 1 : 0;
  return 1;
}

static int arg_unary_op(args_t *a, int i, int *out) {
  napi_env env = a->env;
  char buf[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, a->argv[i], buf, sizeof buf, &len) != napi_ok)
    return TYPE_ERROR("%s: argument %d (op) must be a string", a->fn, i + 1);
  if (strcmp(buf, "sigmoid") == 0)
    *out = S2S_SIGMOID;
  else if (strcmp(buf, "tanh") == 0)
    *out = S2S_TANH;
  else if (strcmp(buf, "relu") == 0)
    *out = S2S_RELU;
  else
    return RANGE_ERROR("%s: unknown op \"%s\" (expected sigmoid, tanh or relu)", a->fn, buf);
  return 1;
}

static int arg_activation(args_t *a, int i, int *out) {
  napi_env env = a->env;
  char buf[16];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, a->argv[i], buf, sizeof buf, &len) != napi_ok)
    return TYPE_ERROR("%s: argument %d (act) must be a string", a->fn, i + 1);
  if (strcmp(buf, "none") == 0)
    *out = S2S_ACT_NONE;
  else if (strcmp(buf, "relu") == 0)
    *out = S2S_ACT_RELU;
  else if (strcmp(buf, "gelu") == 0)
    *out = S2S_ACT_GELU;
  else
    return RANGE_ERROR("%s: unknown activation \"%s\" (expected none, relu or gelu)", a->fn, buf);
  return 1;
}

static int arg_u8_or_null(args_t *a, int i, const char *name, const uint8_t **data, int64_t *length) {
  napi_env env = a->env;
  napi_valuetype t;
  if (napi_typeof(env, a->argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined)) {
    *data = NULL;
    *length = 0;
    return 1;
  }
  napi_typedarray_type type;
  size_t len;
  void *p;
  if (napi_get_typedarray_info(env, a->argv[i], &type, &len, &p, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return TYPE_ERROR("%s: argument %d (%s) must be a Uint8Array or null", a->fn, i + 1, name);
  *data = (const uint8_t *)p;
  *length = (int64_t)len;
  return 1;
}

/* the array must hold at least `need` elements */
static int need_len(args_t *a, const char *name, int64_t have, int64_t need, const char *what) {
  napi_env env = a->env;
  if (have < need)
    return RANGE_ERROR("%s: %s has %lld elements but %s needs %lld", a->fn, name, (long long)have, what,
                       (long long)need);
  return 1;
}

/* elements a row-major rows×cols matrix with stride ld occupies */
static int64_t matrix_extent(int64_t rows, int64_t cols, int64_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

#define CHECK(x) \
  do {           \
    if (!(x)) return NULL; \
  } while (0)

static napi_value make_number(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/* ------------------------------------------------------------ threads */

/*
 * A fork/join over [0, n): up to `threads` threads, each with one
 * contiguous chunk (the caller runs the first), on the persistent pool
 * below (or, when another JS thread holds it, on threads made for the
 * call). Results never depend on the split: every piece is computed by one
 * thread with the same arithmetic.
 */
typedef void (*range_fn)(void *ctx, int tid, int begin, int end);
typedef struct {
  range_fn fn;
  void *ctx;
  int tid, begin, end;
} chunk_t;

static int thread_count = 1;

static void *run_chunk(void *p) {
  chunk_t *c = (chunk_t *)p;
  c->fn(c->ctx, c->tid, c->begin, c->end);
  return NULL;
}

/* Threads worth using for `work` (roughly flops) split n ways: one per ~0.1 ms of work, at most thread_count. */
static int threads_for(double work, int n) {
  int t = (int)(work / 2e5);
  if (t > thread_count) t = thread_count;
  if (t > n) t = n;
  return t < 1 ? 1 : t;
}

/*
 * Threads for a product of few rows (decoding) over `blocks` column blocks: from 10^5 multiply-adds (a 256×384
 * float32 matrix, ~0.4 MB streamed) the pool's handoff pays, so a batch-1 step's products split across cores
 * (bench:transformer greedy batch 1: 68–88 sentences/s with threads made per call and a 2·10^6 threshold, 93–100 with
 * the pool and this one).
 */
static int few_row_threads(double macs, int blocks) {
  int threads = macs >= 1e5 ? thread_count : 1;
  return threads > blocks ? blocks : threads;
}

/* One fork/join with a thread per chunk: the fallback when the pool is taken (another JS thread of this process uses it). */
static void parallel_for_spawn(int n, int threads, range_fn fn, void *ctx) {
  pthread_t th[MAX_THREADS];
  chunk_t ch[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 0; t < threads; t++) {
    ch[t].fn = fn;
    ch[t].ctx = ctx;
    ch[t].tid = t;
    ch[t].begin = (int)((int64_t)n * t / threads);
    ch[t].end = (int)((int64_t)n * (t + 1) / threads);
  }
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&th[t], NULL, run_chunk, &ch[t]) == 0;
  run_chunk(&ch[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t])
      pthread_join(th[t], NULL);
    else
      run_chunk(&ch[t]); /* could not start a thread: do its share here */
  }
}

/*
 * A pool of persistent workers, so that splitting work pays from a few
 * microseconds up instead of the tens a pthread_create costs (a decoding
 * step at batch 1 is a chain of small matrix-vector products). The caller
 * publishes a job as one atomic word (generation << 8 | threads), runs
 * chunk 0 itself and spins until the others report done. Workers spin on
 * the word for a while after each job, then sleep on a condition variable.
 * One JS thread at a time owns the pool (data-parallel replicas are worker
 * threads of one process); another that finds it taken spawns threads.
 */
#define POOL_SPIN_NS 200000L
#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ __volatile__("yield")
#else
#define CPU_RELAX() ((void)0)
#endif
static struct {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int started;
  unsigned long word;
  range_fn fn;
  void *ctx;
  int n;
  int done;
  int busy;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL, NULL, 0, 0, 0};
/* The word when each worker was made, before the job that made it was published (which it must not miss). */
static unsigned long pool_start_word[MAX_THREADS];

static long elapsed_ns(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static void *pool_worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned long seen = pool_start_word[id];
  for (;;) {
    unsigned long w = __atomic_load_n(&pool.word, __ATOMIC_ACQUIRE);
    if (w == seen) {
      struct timespec t0;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      for (int spins = 0; (w = __atomic_load_n(&pool.word, __ATOMIC_ACQUIRE)) == seen; spins++) {
        CPU_RELAX();
        if ((spins & 255) == 255 && elapsed_ns(&t0) > POOL_SPIN_NS) {
          pthread_mutex_lock(&pool.lock);
          while ((w = __atomic_load_n(&pool.word, __ATOMIC_ACQUIRE)) == seen) pthread_cond_wait(&pool.wake, &pool.lock);
          pthread_mutex_unlock(&pool.lock);
          break;
        }
      }
    }
    seen = w;
    int threads = (int)(w & 0xff);
    if (id >= threads) continue;
    int n = pool.n;
    chunk_t c = {pool.fn, pool.ctx, id, (int)((int64_t)n * id / threads), (int)((int64_t)n * (id + 1) / threads)};
    run_chunk(&c);
    __atomic_fetch_add(&pool.done, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

static int pool_grow(int wanted) {
  while (pool.started < wanted) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pool_start_word[pool.started + 1] = __atomic_load_n(&pool.word, __ATOMIC_RELAXED);
    int ok = pthread_create(&t, &attr, pool_worker, (void *)(intptr_t)(pool.started + 1)) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) break;
    pool.started++;
  }
  return pool.started;
}

static void parallel_for(int n, int threads, range_fn fn, void *ctx) {
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads > n) threads = n;
  if (threads <= 1) {
    fn(ctx, 0, 0, n);
    return;
  }
  int expected = 0;
  if (!__atomic_compare_exchange_n(&pool.busy, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
    parallel_for_spawn(n, threads, fn, ctx);
    return;
  }
  if (pool_grow(threads - 1) < threads - 1) {
    __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
    parallel_for_spawn(n, threads, fn, ctx);
    return;
  }
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  __atomic_store_n(&pool.done, 0, __ATOMIC_RELAXED);
  unsigned long next = ((__atomic_load_n(&pool.word, __ATOMIC_RELAXED) >> 8) + 1) << 8 | (unsigned long)threads;
  pthread_mutex_lock(&pool.lock);
  __atomic_store_n(&pool.word, next, __ATOMIC_RELEASE);
  pthread_cond_broadcast(&pool.wake);
  pthread_mutex_unlock(&pool.lock);
  chunk_t c = {fn, ctx, 0, 0, (int)((int64_t)n / threads)};
  run_chunk(&c);
  while (__atomic_load_n(&pool.done, __ATOMIC_ACQUIRE) < threads - 1) CPU_RELAX();
  __atomic_store_n(&pool.busy, 0, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------ gemm */

typedef struct {
  int transB, m, k;
  float alpha;
  const float *a;
  int lda;
  const float *b;
  int ldb;
  float beta;
  float *c;
  int ldc, n, blocks;
} small_gemm_job;

/* Column blocks [begin, end) of 32 columns each (the last one may be narrower). */
static void small_gemm_range(void *ctx, int tid, int begin, int end) {
  small_gemm_job *j = (small_gemm_job *)ctx;
  (void)tid;
  int j0 = begin * 32, j1 = end * 32 > j->n ? j->n : end * 32;
  K->gemm_small(j->transB, j->m, j0, j1, j->k, j->alpha, j->a, j->lda, j->b, j->ldb, j->beta, j->c, j->ldc);
}

static napi_value js_gemm(napi_env env, napi_callback_info info) {
  args_t a;
  int tA = 0, tB = 0, m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  double alpha = 0, beta = 0;
  f32_t A = {0}, B = {0}, C = {0};
  CHECK(get_args(env, info, "gemm", 13, &a));
  CHECK(arg_bool(&a, 0, "transA", &tA) && arg_bool(&a, 1, "transB", &tB));
  CHECK(arg_dim(&a, 2, "m", &m) && arg_dim(&a, 3, "n", &n) && arg_dim(&a, 4, "k", &k));
  CHECK(arg_number(&a, 5, "alpha", &alpha));
  CHECK(arg_f32(&a, 6, "a", &A) && arg_dim(&a, 7, "lda", &lda));
  CHECK(arg_f32(&a, 8, "b", &B) && arg_dim(&a, 9, "ldb", &ldb));
  CHECK(arg_number(&a, 10, "beta", &beta));
  CHECK(arg_f32(&a, 11, "c", &C) && arg_dim(&a, 12, "ldc", &ldc));

  /* op(A) is m×k: stored k×m when transposed; op(B) is k×n: stored n×k when transposed */
  int aRows = tA ? k : m, aCols = tA ? m : k;
  int bRows = tB ? n : k, bCols = tB ? k : n;
  char what[96];
  if (lda < aCols) return RANGE_ERROR("gemm: lda %d is smaller than the %d columns of a", lda, aCols), NULL;
  if (ldb < bCols) return RANGE_ERROR("gemm: ldb %d is smaller than the %d columns of b", ldb, bCols), NULL;
  if (ldc < n) return RANGE_ERROR("gemm: ldc %d is smaller than the %d columns of c", ldc, n), NULL;
  snprintf(what, sizeof what, "a %s%d×%d matrix with lda %d", tA ? "transposed " : "", aRows, aCols, lda);
  CHECK(need_len(&a, "a", A.length, matrix_extent(aRows, aCols, lda), what));
  snprintf(what, sizeof what, "a %s%d×%d matrix with ldb %d", tB ? "transposed " : "", bRows, bCols, ldb);
  CHECK(need_len(&a, "b", B.length, matrix_extent(bRows, bCols, ldb), what));
  snprintf(what, sizeof what, "a %d×%d matrix with ldc %d", m, n, ldc);
  CHECK(need_len(&a, "c", C.length, matrix_extent(m, n, ldc), what));

  if (m == 0 || n == 0) return NULL;
  if (k == 0 || alpha == 0) {
    if (beta != 1) K->scale_matrix(m, n, (float)beta, C.data, ldc);
    return NULL;
  }
  if (!tA && m <= S2S_SMALL_ROWS) {
    /* Few rows (decoding): B streamed once, unpacked; columns split across the pool's threads when there is enough of it. */
    int blocks = (n + 31) / 32;
    small_gemm_job job = {tB, m, k, (float)alpha, A.data, lda, B.data, ldb, (float)beta, C.data, ldc, n, blocks};
    double macs = (double)m * n * k;
    parallel_for(blocks, few_row_threads(macs, blocks), small_gemm_range, &job);
    return NULL;
  }
#if S2S_OPENBLAS
  cblas_sgemm(S2S_CblasRowMajor, tA ? S2S_CblasTrans : S2S_CblasNoTrans, tB ? S2S_CblasTrans : S2S_CblasNoTrans, m, n,
              k, (float)alpha, A.data, lda, B.data, ldb, (float)beta, C.data, ldc);
#else
  if (beta != 1) K->scale_matrix(m, n, (float)beta, C.data, ldc);
  K->gemm(tA, tB, m, n, k, (float)alpha, A.data, lda, B.data, ldb, C.data, ldc);
#endif
  return NULL;
}

/* ------------------------------------------------------------ recurrent cells */

static int check_hidden(args_t *a, int rows, int H, int gatesPerUnit) {
  napi_env env = a->env;
  if ((int64_t)H * gatesPerUnit > 2147483647)
    return RANGE_ERROR("%s: hidden size %d is too large", a->fn, H);
  (void)rows;
  return 1;
}

static napi_value js_lstm_forward(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, H = 0;
  f32_t gates = {0}, cPrev = {0}, c = {0}, h = {0};
  CHECK(get_args(env, info, "lstmCellForward", 6, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "hidden", &H) && check_hidden(&a, rows, H, 4));
  CHECK(arg_f32(&a, 2, "gates", &gates) && arg_f32(&a, 3, "cPrev", &cPrev) && arg_f32(&a, 4, "c", &c) &&
        arg_f32(&a, 5, "h", &h));
  int64_t s = (int64_t)rows * H;
  CHECK(need_len(&a, "gates", gates.length, 4 * s, "rows×4·hidden"));
  CHECK(need_len(&a, "cPrev", cPrev.length, s, "rows×hidden"));
  CHECK(need_len(&a, "c", c.length, s, "rows×hidden"));
  CHECK(need_len(&a, "h", h.length, s, "rows×hidden"));
  K->lstm_forward(rows, H, gates.data, cPrev.data, c.data, h.data);
  return NULL;
}

static napi_value js_lstm_backward(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, H = 0;
  f32_t gates = {0}, cPrev = {0}, c = {0}, dh = {0}, dc = {0}, dGates = {0};
  CHECK(get_args(env, info, "lstmCellBackward", 8, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "hidden", &H) && check_hidden(&a, rows, H, 4));
  CHECK(arg_f32(&a, 2, "gates", &gates) && arg_f32(&a, 3, "cPrev", &cPrev) && arg_f32(&a, 4, "c", &c) &&
        arg_f32(&a, 5, "dh", &dh) && arg_f32(&a, 6, "dc", &dc) && arg_f32(&a, 7, "dGates", &dGates));
  int64_t s = (int64_t)rows * H;
  CHECK(need_len(&a, "gates", gates.length, 4 * s, "rows×4·hidden"));
  CHECK(need_len(&a, "cPrev", cPrev.length, s, "rows×hidden"));
  CHECK(need_len(&a, "c", c.length, s, "rows×hidden"));
  CHECK(need_len(&a, "dh", dh.length, s, "rows×hidden"));
  CHECK(need_len(&a, "dc", dc.length, s, "rows×hidden"));
  CHECK(need_len(&a, "dGates", dGates.length, 4 * s, "rows×4·hidden"));
  K->lstm_backward(rows, H, gates.data, cPrev.data, c.data, dh.data, dc.data, dGates.data);
  return NULL;
}

static napi_value js_gru_forward(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, H = 0;
  f32_t xGates = {0}, hGates = {0}, hPrev = {0}, h = {0};
  CHECK(get_args(env, info, "gruCellForward", 6, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "hidden", &H) && check_hidden(&a, rows, H, 3));
  CHECK(arg_f32(&a, 2, "xGates", &xGates) && arg_f32(&a, 3, "hGates", &hGates) && arg_f32(&a, 4, "hPrev", &hPrev) &&
        arg_f32(&a, 5, "h", &h));
  int64_t s = (int64_t)rows * H;
  CHECK(need_len(&a, "xGates", xGates.length, 3 * s, "rows×3·hidden"));
  CHECK(need_len(&a, "hGates", hGates.length, 3 * s, "rows×3·hidden"));
  CHECK(need_len(&a, "hPrev", hPrev.length, s, "rows×hidden"));
  CHECK(need_len(&a, "h", h.length, s, "rows×hidden"));
  K->gru_forward(rows, H, xGates.data, hGates.data, hPrev.data, h.data);
  return NULL;
}

static napi_value js_gru_backward(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, H = 0;
  f32_t gates = {0}, hGates = {0}, hPrev = {0}, dh = {0}, dxGates = {0}, dhGates = {0};
  CHECK(get_args(env, info, "gruCellBackward", 8, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "hidden", &H) && check_hidden(&a, rows, H, 3));
  CHECK(arg_f32(&a, 2, "gates", &gates) && arg_f32(&a, 3, "hGates", &hGates) && arg_f32(&a, 4, "hPrev", &hPrev) &&
        arg_f32(&a, 5, "dh", &dh) && arg_f32(&a, 6, "dxGates", &dxGates) && arg_f32(&a, 7, "dhGates", &dhGates));
  int64_t s = (int64_t)rows * H;
  CHECK(need_len(&a, "gates", gates.length, 3 * s, "rows×3·hidden"));
  CHECK(need_len(&a, "hGates", hGates.length, 3 * s, "rows×3·hidden"));
  CHECK(need_len(&a, "hPrev", hPrev.length, s, "rows×hidden"));
  CHECK(need_len(&a, "dh", dh.length, s, "rows×hidden"));
  CHECK(need_len(&a, "dxGates", dxGates.length, 3 * s, "rows×3·hidden"));
  CHECK(need_len(&a, "dhGates", dhGates.length, 3 * s, "rows×3·hidden"));
  K->gru_backward(rows, H, gates.data, hGates.data, hPrev.data, dh.data, dxGates.data, dhGates.data);
  return NULL;
}

/* ------------------------------------------------------------ softmax family */

typedef struct {
  int cols;
  const float *logits;
  const int32_t *targets;
  float *dLogits;
  float scale, eps;
  double loss[MAX_THREADS];
} xent_job;

static void xent_range(void *ctx, int tid, int begin, int end) {
  xent_job *j = (xent_job *)ctx;
  size_t off = (size_t)begin * j->cols;
  j->loss[tid] = K->softmax_xent(end - begin, j->cols, j->logits + off, j->targets + begin, j->dLogits ? j->dLogits + off : NULL,
                                 j->scale, j->eps);
}

static napi_value js_softmax_xent(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t logits = {0}, dLogits = {0};
  i32_t targets = {0};
  double scale = 0;
  double eps = 0;
  CHECK(get_args(env, info, "softmaxCrossEntropy", 7, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "logits", &logits) && arg_i32(&a, 3, "targets", &targets) &&
        arg_f32_or_null(&a, 4, "dLogits", &dLogits) && arg_number(&a, 5, "scale", &scale) &&
        arg_number(&a, 6, "labelSmoothing", &eps));
  if (!(eps >= 0 && eps <= 1))
    return RANGE_ERROR("softmaxCrossEntropy: labelSmoothing must be in [0, 1], got %g", eps), NULL;
  int64_t s = (int64_t)rows * cols;
  CHECK(need_len(&a, "logits", logits.length, s, "rows×cols"));
  CHECK(need_len(&a, "targets", targets.length, rows, "one target per row"));
  if (dLogits.data) CHECK(need_len(&a, "dLogits", dLogits.length, s, "rows×cols"));
  for (int r = 0; r < rows; r++) {
    if (targets.data[r] >= cols)
      return RANGE_ERROR("softmaxCrossEntropy: target %d at row %d is out of range for %d classes", targets.data[r], r,
                         cols),
             NULL;
  }
  xent_job job = {cols, logits.data, targets.data, dLogits.data, (float)scale, (float)eps, {0}};
  int threads = threads_for((double)rows * cols * 8.0, rows);
  parallel_for(rows, threads, xent_range, &job);
  double loss = 0.0;
  for (int t = 0; t < threads && t < MAX_THREADS; t++) loss += job.loss[t]; /* in thread order: deterministic */
  return make_number(env, loss);
}

static napi_value js_softmax_rows(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0, log_ = 0;
  f32_t x = {0}, out = {0};
  CHECK(get_args(env, info, "softmaxRows", 5, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32(&a, 3, "out", &out) && arg_bool(&a, 4, "log", &log_));
  int64_t s = (int64_t)rows * cols;
  CHECK(need_len(&a, "x", x.length, s, "rows×cols"));
  CHECK(need_len(&a, "out", out.length, s, "rows×cols"));
  K->softmax_rows(rows, cols, x.data, out.data, log_);
  return NULL;
}

/* ------------------------------------------------------------ elementwise */

static napi_value js_unary(napi_env env, napi_callback_info info) {
  args_t a;
  int op = 0;
  f32_t x = {0}, out = {0};
  CHECK(get_args(env, info, "unary", 3, &a));
  CHECK(arg_unary_op(&a, 0, &op) && arg_f32(&a, 1, "x", &x) && arg_f32(&a, 2, "out", &out));
  CHECK(need_len(&a, "out", out.length, x.length, "one element per element of x"));
  K->unary(op, (size_t)x.length, x.data, out.data);
  return NULL;
}

static napi_value js_unary_backward(napi_env env, napi_callback_info info) {
  args_t a;
  int op = 0;
  f32_t y = {0}, dy = {0}, dx = {0};
  CHECK(get_args(env, info, "unaryBackward", 4, &a));
  CHECK(arg_unary_op(&a, 0, &op) && arg_f32(&a, 1, "y", &y) && arg_f32(&a, 2, "dy", &dy) && arg_f32(&a, 3, "dx", &dx));
  CHECK(need_len(&a, "dy", dy.length, y.length, "one element per element of y"));
  CHECK(need_len(&a, "dx", dx.length, y.length, "one element per element of y"));
  K->unary_backward(op, (size_t)y.length, y.data, dy.data, dx.data);
  return NULL;
}

static napi_value js_add_row_vector(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t x = {0}, bias = {0};
  CHECK(get_args(env, info, "addRowVector", 4, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32(&a, 3, "bias", &bias));
  CHECK(need_len(&a, "x", x.length, (int64_t)rows * cols, "rows×cols"));
  CHECK(need_len(&a, "bias", bias.length, cols, "cols"));
  K->add_row_vector(rows, cols, x.data, bias.data);
  return NULL;
}

static napi_value js_sum_rows(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t x = {0}, out = {0};
  CHECK(get_args(env, info, "sumRows", 4, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32(&a, 3, "out", &out));
  CHECK(need_len(&a, "x", x.length, (int64_t)rows * cols, "rows×cols"));
  CHECK(need_len(&a, "out", out.length, cols, "cols"));
  K->sum_rows(rows, cols, x.data, out.data);
  return NULL;
}

/* Row indices of a gather/scatter must address rows that exist; `what` names the matrix for the message. */
static int rows_in_range(args_t *a, const i32_t *index, int64_t rows, const char *what) {
  napi_env env = a->env;
  for (int64_t i = 0; i < index->length; i++) {
    if (index->data[i] >= rows) {
      RANGE_ERROR("%s: index %d at position %lld is out of range for %s of %lld rows", a->fn, index->data[i], (long long)i, what,
                  (long long)rows);
      return 0;
    }
  }
  return 1;
}

static napi_value js_gather_rows(napi_env env, napi_callback_info info) {
  args_t a;
  int cols = 0;
  f32_t src = {0}, out = {0};
  i32_t index = {0};
  CHECK(get_args(env, info, "gatherRows", 4, &a));
  CHECK(arg_dim(&a, 0, "cols", &cols) && arg_f32(&a, 1, "src", &src) && arg_i32(&a, 2, "index", &index) &&
        arg_f32(&a, 3, "out", &out));
  CHECK(need_len(&a, "out", out.length, index.length * cols, "index.length×cols"));
  CHECK(rows_in_range(&a, &index, cols > 0 ? src.length / cols : INT64_MAX, "a source"));
  K->gather_rows(cols, src.data, index.data, (size_t)index.length, out.data);
  return NULL;
}

static napi_value js_scatter_add_rows(napi_env env, napi_callback_info info) {
  args_t a;
  int cols = 0;
  f32_t src = {0}, dst = {0};
  i32_t index = {0};
  CHECK(get_args(env, info, "scatterAddRows", 4, &a));
  CHECK(arg_dim(&a, 0, "cols", &cols) && arg_f32(&a, 1, "src", &src) && arg_i32(&a, 2, "index", &index) &&
        arg_f32(&a, 3, "dst", &dst));
  CHECK(need_len(&a, "src", src.length, index.length * cols, "index.length×cols"));
  CHECK(rows_in_range(&a, &index, cols > 0 ? dst.length / cols : INT64_MAX, "a destination"));
  K->scatter_add_rows(cols, src.data, index.data, (size_t)index.length, dst.data);
  return NULL;
}

static napi_value js_sum_squares(napi_env env, napi_callback_info info) {
  args_t a;
  f32_t x = {0};
  CHECK(get_args(env, info, "sumSquares", 1, &a));
  CHECK(arg_f32(&a, 0, "x", &x));
  return make_number(env, K->sum_squares((size_t)x.length, x.data));
}

static napi_value js_scale(napi_env env, napi_callback_info info) {
  args_t a;
  f32_t x = {0};
  double s = 0;
  CHECK(get_args(env, info, "scale", 2, &a));
  CHECK(arg_f32(&a, 0, "x", &x) && arg_number(&a, 1, "s", &s));
  K->scale((size_t)x.length, x.data, (float)s);
  return NULL;
}

static napi_value js_rmsprop(napi_env env, napi_callback_info info) {
  args_t a;
  f32_t p = {0}, g = {0}, ms = {0};
  double lr = 0, rho = 0, eps = 0;
  CHECK(get_args(env, info, "rmspropUpdate", 6, &a));
  CHECK(arg_f32(&a, 0, "p", &p) && arg_f32(&a, 1, "g", &g) && arg_f32(&a, 2, "ms", &ms));
  CHECK(arg_number(&a, 3, "lr", &lr) && arg_number(&a, 4, "rho", &rho) && arg_number(&a, 5, "eps", &eps));
  CHECK(need_len(&a, "g", g.length, p.length, "one element per parameter"));
  CHECK(need_len(&a, "ms", ms.length, p.length, "one element per parameter"));
  K->rmsprop((size_t)p.length, p.data, g.data, ms.data, (float)lr, (float)rho, (float)eps);
  return NULL;
}

static napi_value js_adam(napi_env env, napi_callback_info info) {
  args_t a;
  f32_t p = {0}, g = {0}, m = {0}, v = {0};
  double lrT = 0, b1 = 0, b2 = 0, eps = 0;
  CHECK(get_args(env, info, "adamUpdate", 8, &a));
  CHECK(arg_f32(&a, 0, "p", &p) && arg_f32(&a, 1, "g", &g) && arg_f32(&a, 2, "m", &m) && arg_f32(&a, 3, "v", &v));
  CHECK(arg_number(&a, 4, "lrT", &lrT) && arg_number(&a, 5, "beta1", &b1) && arg_number(&a, 6, "beta2", &b2) &&
        arg_number(&a, 7, "eps", &eps));
  CHECK(need_len(&a, "g", g.length, p.length, "one element per parameter"));
  CHECK(need_len(&a, "m", m.length, p.length, "one element per parameter"));
  CHECK(need_len(&a, "v", v.length, p.length, "one element per parameter"));
  K->adam((size_t)p.length, p.data, g.data, m.data, v.data, (float)lrT, (float)b1, (float)b2, (float)eps);
  return NULL;
}

/* ------------------------------------------------------------ Transformer kernels */

typedef struct {
  const s2s_attention *a;
  int backward;
  int failed;
} attention_job;

static void attention_range(void *ctx, int tid, int begin, int end) {
  attention_job *job = (attention_job *)ctx;
  float *scratch = (float *)malloc(s2s_attention_scratch(job->a) * sizeof(float));
  (void)tid;
  if (!scratch) {
    job->failed = 1; /* written by several threads, only ever to 1 */
    return;
  }
  if (job->backward)
    K->attention_backward(job->a, begin, end, scratch);
  else
    K->attention_forward(job->a, begin, end, scratch);
  free(scratch);
}

/* Reads the shape arguments shared by attentionForward and attentionBackward (arguments 0–7). */
static int attention_shape(args_t *a, s2s_attention *at, f32_t *q, f32_t *k, f32_t *v) {
  napi_env env = a->env;
  if (!(arg_dim(a, 0, "batch", &at->batch) && arg_dim(a, 1, "heads", &at->heads) && arg_dim(a, 2, "tq", &at->tq) &&
        arg_dim(a, 3, "tk", &at->tk) && arg_dim(a, 4, "headDim", &at->hd))) return 0;
  if (!(arg_f32(a, 5, "q", q) && arg_f32(a, 6, "k", k) && arg_f32(a, 7, "v", v))) return 0;
  int64_t D = (int64_t)at->heads * at->hd;
  int64_t pairs = (int64_t)at->batch * at->heads;
  if (D > 2147483647 || pairs > 2147483647 || (int64_t)at->tq * at->tk > 2147483647 ||
      (int64_t)at->batch * at->tq > 2147483647 || (int64_t)at->batch * at->tk > 2147483647)
    return RANGE_ERROR("%s: shapes too large", a->fn);
  if (!(need_len(a, "q", q->length, (int64_t)at->batch * at->tq * D, "batch·tq×heads·headDim"))) return 0;
  if (!(need_len(a, "k", k->length, (int64_t)at->batch * at->tk * D, "batch·tk×heads·headDim"))) return 0;
  if (!(need_len(a, "v", v->length, (int64_t)at->batch * at->tk * D, "batch·tk×heads·headDim"))) return 0;
  at->q = q->data;
  at->k = k->data;
  at->v = v->data;
  return 1;
}

static int64_t attention_probs(const s2s_attention *at) {
  return (int64_t)at->batch * at->heads * at->tq * at->tk;
}

static napi_value run_attention(napi_env env, s2s_attention *at, int backward) {
  int pairs = at->batch * at->heads;
  if (pairs == 0 || at->tq == 0) return NULL;
  attention_job job = {at, backward, 0};
  double work = (double)pairs * at->tq * (at->tk + 1) * (at->hd + 1) * (backward ? 4.0 : 2.0);
  parallel_for(pairs, threads_for(work, pairs), attention_range, &job);
  if (job.failed) napi_throw_error(env, NULL, "attention: out of memory for scratch");
  return NULL;
}

static napi_value js_attention_forward(napi_env env, napi_callback_info info) {
  args_t a;
  s2s_attention at;
  memset(&at, 0, sizeof at);
  f32_t q = {0}, k = {0}, v = {0}, probs = {0}, out = {0};
  const uint8_t *mask = NULL, *drop = NULL;
  int64_t maskLen = 0, dropLen = 0;
  double keep = 1;
  CHECK(get_args(env, info, "attentionForward", 14, &a));
  CHECK(attention_shape(&a, &at, &q, &k, &v));
  CHECK(arg_u8_or_null(&a, 8, "keyMask", &mask, &maskLen) && arg_bool(&a, 9, "causal", &at.causal) &&
        arg_u8_or_null(&a, 10, "dropMask", &drop, &dropLen) && arg_number(&a, 11, "keepScale", &keep) &&
        arg_f32(&a, 12, "probs", &probs) && arg_f32(&a, 13, "out", &out));
  int64_t np = attention_probs(&at);
  if (mask) CHECK(need_len(&a, "keyMask", maskLen, (int64_t)at.batch * at.tk, "batch·tk"));
  if (drop) CHECK(need_len(&a, "dropMask", dropLen, np, "batch·heads·tq·tk"));
  CHECK(need_len(&a, "probs", probs.length, np, "batch·heads·tq·tk"));
  CHECK(need_len(&a, "out", out.length, (int64_t)at.batch * at.tq * at.heads * at.hd, "batch·tq×heads·headDim"));
  at.keyMask = mask;
  at.dropMask = drop;
  at.keepScale = (float)keep;
  at.probs = probs.data;
  at.out = out.data;
  return run_attention(env, &at, 0);
}

static napi_value js_attention_backward(napi_env env, napi_callback_info info) {
  args_t a;
  s2s_attention at;
  memset(&at, 0, sizeof at);
  f32_t q = {0}, k = {0}, v = {0}, probs = {0}, dOut = {0}, dq = {0}, dk = {0}, dv = {0};
  const uint8_t *drop = NULL;
  int64_t dropLen = 0;
  double keep = 1;
  CHECK(get_args(env, info, "attentionBackward", 15, &a));
  CHECK(attention_shape(&a, &at, &q, &k, &v));
  CHECK(arg_f32(&a, 8, "probs", &probs) && arg_u8_or_null(&a, 9, "dropMask", &drop, &dropLen) &&
        arg_number(&a, 10, "keepScale", &keep) && arg_f32(&a, 11, "dOut", &dOut) && arg_f32_or_null(&a, 12, "dq", &dq) &&
        arg_f32_or_null(&a, 13, "dk", &dk) && arg_f32_or_null(&a, 14, "dv", &dv));
  int64_t np = attention_probs(&at);
  int64_t nq = (int64_t)at.batch * at.tq * at.heads * at.hd, nk = (int64_t)at.batch * at.tk * at.heads * at.hd;
  CHECK(need_len(&a, "probs", probs.length, np, "batch·heads·tq·tk"));
  if (drop) CHECK(need_len(&a, "dropMask", dropLen, np, "batch·heads·tq·tk"));
  CHECK(need_len(&a, "dOut", dOut.length, nq, "batch·tq×heads·headDim"));
  if (dq.data) CHECK(need_len(&a, "dq", dq.length, nq, "batch·tq×heads·headDim"));
  if (dk.data) CHECK(need_len(&a, "dk", dk.length, nk, "batch·tk×heads·headDim"));
  if (dv.data) CHECK(need_len(&a, "dv", dv.length, nk, "batch·tk×heads·headDim"));
  /* causal is not an argument: probs already hold zeros for hidden keys, and the kernel skips them */
  at.causal = 0;
  at.probs = probs.data;
  at.dropMask = drop;
  at.keepScale = (float)keep;
  at.dOut = dOut.data;
  at.dq = dq.data;
  at.dk = dk.data;
  at.dv = dv.data;
  return run_attention(env, &at, 1);
}

typedef struct {
  const s2s_attention_step *a;
  int failed;
} attention_step_job;

static void attention_step_range(void *ctx, int tid, int begin, int end) {
  attention_step_job *job = (attention_step_job *)ctx;
  float stack[1024];
  float *scratch = job->a->keys <= 1024 ? stack : (float *)malloc((size_t)job->a->keys * sizeof(float));
  (void)tid;
  if (!scratch) {
    job->failed = 1;
    return;
  }
  K->attention_step(job->a, begin, end, scratch);
  if (scratch != stack) free(scratch);
}

static int arg_i32_or_null(args_t *a, int i, const char *name, i32_t *out) {
  napi_valuetype t;
  if (napi_typeof(a->env, a->argv[i], &t) == napi_ok && (t == napi_null || t == napi_undefined)) {
    out->data = NULL;
    out->length = 0;
    return 1;
  }
  return arg_i32(a, i, name, out);
}

/* Elements a block/head/position-strided cache must hold for `blocks` blocks of `heads` heads × `keys` keys. */
static int64_t cache_extent(int64_t blocks, int heads, int keys, int hd, int64_t bs, int64_t hs, int64_t ps) {
  if (blocks == 0 || heads == 0 || keys == 0 || hd == 0) return 0;
  return (blocks - 1) * bs + (int64_t)(heads - 1) * hs + (int64_t)(keys - 1) * ps + hd;
}

static napi_value js_attention_step(napi_env env, napi_callback_info info) {
  args_t a;
  s2s_attention_step at;
  memset(&at, 0, sizeof at);
  f32_t q = {0}, kNew = {0}, vNew = {0}, k = {0}, v = {0}, out = {0}, probs = {0};
  i32_t block = {0};
  const uint8_t *mask = NULL;
  int64_t maskLen = 0;
  int qStride = 0, newStride = 0, bs = 0, hs = 0, ps = 0;
  CHECK(get_args(env, info, "attentionStep", 18, &a));
  CHECK(arg_dim(&a, 0, "rows", &at.rows) && arg_dim(&a, 1, "heads", &at.heads) && arg_dim(&a, 2, "headDim", &at.hd) &&
        arg_dim(&a, 3, "keys", &at.keys));
  CHECK(arg_f32(&a, 4, "q", &q) && arg_dim(&a, 5, "qStride", &qStride) && arg_f32_or_null(&a, 6, "kNew", &kNew) &&
        arg_f32_or_null(&a, 7, "vNew", &vNew) && arg_dim(&a, 8, "newStride", &newStride) && arg_f32(&a, 9, "k", &k) &&
        arg_f32(&a, 10, "v", &v) && arg_dim(&a, 11, "blockStride", &bs) && arg_dim(&a, 12, "headStride", &hs) &&
        arg_dim(&a, 13, "posStride", &ps) && arg_i32_or_null(&a, 14, "block", &block) &&
        arg_u8_or_null(&a, 15, "keyMask", &mask, &maskLen) && arg_f32(&a, 16, "out", &out) &&
        arg_f32_or_null(&a, 17, "probs", &probs));
  const int rows = at.rows, H = at.heads, hd = at.hd, T = at.keys;
  const int64_t D = (int64_t)H * hd;
  if (D > 2147483647 || (int64_t)rows * H * (T > 0 ? T : 1) > 2147483647) return RANGE_ERROR("attentionStep: shapes too large"), NULL;
  if (qStride < D) return RANGE_ERROR("attentionStep: qStride %d is smaller than heads·headDim %lld", qStride, (long long)D), NULL;
  if ((kNew.data == NULL) != (vNew.data == NULL)) return TYPE_ERROR("attentionStep: kNew and vNew must both be given or both be null"), NULL;
  if (kNew.data && block.data) return TYPE_ERROR("attentionStep: kNew/vNew need block = null (a row appends to its own block)"), NULL;
  if (kNew.data && T == 0) return RANGE_ERROR("attentionStep: appending needs keys ≥ 1"), NULL;
  if (kNew.data && newStride < D) return RANGE_ERROR("attentionStep: newStride %d is smaller than heads·headDim %lld", newStride, (long long)D), NULL;
  if (rows == 0) return NULL;
  CHECK(need_len(&a, "q", q.length, (int64_t)(rows - 1) * qStride + D, "rows×qStride"));
  if (kNew.data) {
    CHECK(need_len(&a, "kNew", kNew.length, (int64_t)(rows - 1) * newStride + D, "rows×newStride"));
    CHECK(need_len(&a, "vNew", vNew.length, (int64_t)(rows - 1) * newStride + D, "rows×newStride"));
  }
  int64_t blocks = rows;
  if (block.data) {
    CHECK(need_len(&a, "block", block.length, rows, "one block per row"));
    blocks = 0;
    for (int r = 0; r < rows; r++) {
      if (block.data[r] < 0) return RANGE_ERROR("attentionStep: block %d at row %d is negative", block.data[r], r), NULL;
      if (block.data[r] + 1 > blocks) blocks = block.data[r] + 1;
    }
  }
  int64_t extent = cache_extent(blocks, H, T, hd, bs, hs, ps);
  CHECK(need_len(&a, "k", k.length, extent, "the cache's blocks, heads and keys"));
  CHECK(need_len(&a, "v", v.length, extent, "the cache's blocks, heads and keys"));
  if (mask) CHECK(need_len(&a, "keyMask", maskLen, blocks * T, "blocks·keys"));
  CHECK(need_len(&a, "out", out.length, (int64_t)rows * D, "rows×heads·headDim"));
  if (probs.data) CHECK(need_len(&a, "probs", probs.length, (int64_t)rows * H * T, "rows·heads·keys"));
  at.q = q.data;
  at.qStride = qStride;
  at.kNew = kNew.data;
  at.vNew = vNew.data;
  at.newStride = newStride;
  at.k = k.data;
  at.v = v.data;
  at.blockStride = bs;
  at.headStride = hs;
  at.posStride = ps;
  at.block = block.data;
  at.keyMask = mask;
  at.out = out.data;
  at.probs = probs.data;
  attention_step_job job = {&at, 0};
  double work = (double)rows * H * (T + 1) * hd * 4.0;
  parallel_for(rows, threads_for(work, rows), attention_step_range, &job);
  if (job.failed) napi_throw_error(env, NULL, "attentionStep: out of memory for scratch");
  return NULL;
}

static napi_value js_add_layer_norm(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t x = {0}, delta = {0}, bias = {0}, gain = {0}, lnBias = {0}, out = {0};
  double eps = 0;
  CHECK(get_args(env, info, "addLayerNorm", 9, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32_or_null(&a, 3, "delta", &delta) && arg_f32_or_null(&a, 4, "bias", &bias) &&
        arg_f32(&a, 5, "gain", &gain) && arg_f32(&a, 6, "lnBias", &lnBias) && arg_number(&a, 7, "eps", &eps) &&
        arg_f32(&a, 8, "out", &out));
  int64_t s = (int64_t)rows * cols;
  CHECK(need_len(&a, "x", x.length, s, "rows×cols"));
  if (delta.data) CHECK(need_len(&a, "delta", delta.length, s, "rows×cols"));
  if (bias.data) CHECK(need_len(&a, "bias", bias.length, cols, "cols"));
  CHECK(need_len(&a, "gain", gain.length, cols, "cols"));
  CHECK(need_len(&a, "lnBias", lnBias.length, cols, "cols"));
  CHECK(need_len(&a, "out", out.length, s, "rows×cols"));
  if (rows == 0 || cols == 0) return NULL;
  K->add_layer_norm(rows, cols, x.data, delta.data, bias.data, gain.data, lnBias.data, (float)eps, out.data);
  return NULL;
}

typedef struct {
  int cols;
  const float *x, *gain, *bias;
  float eps;
  float *out, *mean, *rstd;
} ln_forward_job;

static void ln_forward_range(void *ctx, int tid, int begin, int end) {
  ln_forward_job *j = (ln_forward_job *)ctx;
  size_t off = (size_t)begin * j->cols;
  (void)tid;
  K->layer_norm_forward(end - begin, j->cols, j->x + off, j->gain, j->bias, j->eps, j->out + off, j->mean + begin,
                        j->rstd + begin);
}

static napi_value js_layer_norm_forward(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  double eps = 0;
  f32_t x = {0}, gain = {0}, bias = {0}, out = {0}, mean = {0}, rstd = {0};
  CHECK(get_args(env, info, "layerNormForward", 9, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32(&a, 3, "gain", &gain) && arg_f32(&a, 4, "bias", &bias) &&
        arg_number(&a, 5, "eps", &eps) && arg_f32(&a, 6, "out", &out) && arg_f32(&a, 7, "mean", &mean) &&
        arg_f32(&a, 8, "rstd", &rstd));
  int64_t s = (int64_t)rows * cols;
  CHECK(need_len(&a, "x", x.length, s, "rows×cols"));
  CHECK(need_len(&a, "gain", gain.length, cols, "cols"));
  CHECK(need_len(&a, "bias", bias.length, cols, "cols"));
  CHECK(need_len(&a, "out", out.length, s, "rows×cols"));
  CHECK(need_len(&a, "mean", mean.length, rows, "rows"));
  CHECK(need_len(&a, "rstd", rstd.length, rows, "rows"));
  if (cols == 0) return NULL;
  ln_forward_job job = {cols, x.data, gain.data, bias.data, (float)eps, out.data, mean.data, rstd.data};
  parallel_for(rows, threads_for((double)s * 6.0, rows), ln_forward_range, &job);
  return NULL;
}

typedef struct {
  int cols;
  const float *x, *gain, *mean, *rstd, *dy;
  float *dx, *dGain, *dBias;
  float *partial; /* per thread ≥ 1: 2·cols floats for its dGain and dBias */
} ln_job;

static void ln_backward_range(void *ctx, int tid, int begin, int end) {
  ln_job *j = (ln_job *)ctx;
  float *dg = j->dGain, *db = j->dBias;
  if (tid > 0) {
    float *p = j->partial + (size_t)(tid - 1) * 2 * j->cols;
    dg = dg ? p : NULL;
    db = db ? p + j->cols : NULL;
  }
  K->layer_norm_backward(begin, end, j->cols, j->x, j->gain, j->mean, j->rstd, j->dy, j->dx, dg, db);
}

static napi_value js_layer_norm_backward(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t x = {0}, gain = {0}, mean = {0}, rstd = {0}, dy = {0}, dx = {0}, dGain = {0}, dBias = {0};
  CHECK(get_args(env, info, "layerNormBackward", 10, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32(&a, 3, "gain", &gain) && arg_f32(&a, 4, "mean", &mean) &&
        arg_f32(&a, 5, "rstd", &rstd) && arg_f32(&a, 6, "dy", &dy) && arg_f32_or_null(&a, 7, "dx", &dx) &&
        arg_f32_or_null(&a, 8, "dGain", &dGain) && arg_f32_or_null(&a, 9, "dBias", &dBias));
  int64_t s = (int64_t)rows * cols;
  CHECK(need_len(&a, "x", x.length, s, "rows×cols"));
  CHECK(need_len(&a, "gain", gain.length, cols, "cols"));
  CHECK(need_len(&a, "mean", mean.length, rows, "rows"));
  CHECK(need_len(&a, "rstd", rstd.length, rows, "rows"));
  CHECK(need_len(&a, "dy", dy.length, s, "rows×cols"));
  if (dx.data) CHECK(need_len(&a, "dx", dx.length, s, "rows×cols"));
  if (dGain.data) CHECK(need_len(&a, "dGain", dGain.length, cols, "cols"));
  if (dBias.data) CHECK(need_len(&a, "dBias", dBias.length, cols, "cols"));
  if (cols == 0 || rows == 0) return NULL;
  ln_job job = {cols, x.data, gain.data, mean.data, rstd.data, dy.data, dx.data, dGain.data, dBias.data, NULL};
  int threads = threads_for((double)s * 12.0, rows);
  if (threads > 1 && (dGain.data || dBias.data)) {
    job.partial = (float *)calloc((size_t)(threads - 1) * 2 * cols, sizeof(float));
    if (!job.partial) threads = 1;
  }
  parallel_for(rows, threads, ln_backward_range, &job);
  if (job.partial) {
    /* fold the other threads' sums in thread order (deterministic for a given thread count) */
    for (int t = 0; t < threads - 1; t++) {
      const float *p = job.partial + (size_t)t * 2 * cols;
      if (dGain.data)
        for (int j = 0; j < cols; j++) dGain.data[j] += p[j];
      if (dBias.data)
        for (int j = 0; j < cols; j++) dBias.data[j] += p[cols + j];
    }
    free(job.partial);
  }
  return NULL;
}

typedef struct {
  int cols, act;
  const float *x, *bias;
  float *pre, *out;
} bias_act_job;

static void bias_act_range(void *ctx, int tid, int begin, int end) {
  bias_act_job *j = (bias_act_job *)ctx;
  size_t off = (size_t)begin * j->cols;
  (void)tid;
  K->bias_activation(end - begin, j->cols, j->x + off, j->bias, j->act, j->pre ? j->pre + off : NULL, j->out + off);
}

static napi_value js_bias_activation(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0, act = 0;
  f32_t x = {0}, bias = {0}, pre = {0}, out = {0};
  CHECK(get_args(env, info, "biasActivation", 7, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols));
  CHECK(arg_f32(&a, 2, "x", &x) && arg_f32_or_null(&a, 3, "bias", &bias) && arg_activation(&a, 4, &act) &&
        arg_f32_or_null(&a, 5, "pre", &pre) && arg_f32(&a, 6, "out", &out));
  int64_t s = (int64_t)rows * cols;
  CHECK(need_len(&a, "x", x.length, s, "rows×cols"));
  if (bias.data) CHECK(need_len(&a, "bias", bias.length, cols, "cols"));
  if (pre.data) CHECK(need_len(&a, "pre", pre.length, s, "rows×cols"));
  CHECK(need_len(&a, "out", out.length, s, "rows×cols"));
  bias_act_job job = {cols, act, x.data, bias.data, pre.data, out.data};
  double per = act == S2S_ACT_GELU ? 40.0 : 2.0;
  parallel_for(rows, threads_for((double)s * per, rows), bias_act_range, &job);
  return NULL;
}

typedef struct {
  int act;
  size_t n;
  const float *z, *dy;
  float *dx;
} act_back_job;

static void act_back_range(void *ctx, int tid, int begin, int end) {
  act_back_job *j = (act_back_job *)ctx;
  size_t from = (size_t)begin * 4096, to = (size_t)end * 4096;
  (void)tid;
  if (to > j->n) to = j->n;
  if (from < to) K->activation_backward(j->act, to - from, j->z + from, j->dy + from, j->dx + from);
}

static napi_value js_activation_backward(napi_env env, napi_callback_info info) {
  args_t a;
  int act = 0;
  f32_t z = {0}, dy = {0}, dx = {0};
  CHECK(get_args(env, info, "activationBackward", 4, &a));
  CHECK(arg_activation(&a, 0, &act) && arg_f32(&a, 1, "z", &z) && arg_f32(&a, 2, "dy", &dy) && arg_f32(&a, 3, "dx", &dx));
  CHECK(need_len(&a, "dy", dy.length, z.length, "one element per element of z"));
  CHECK(need_len(&a, "dx", dx.length, z.length, "one element per element of z"));
  if (dx.data == dy.data || dx.data == z.data) {
    if (act == S2S_ACT_NONE) return NULL; /* dx = dy in place */
    return RANGE_ERROR("activationBackward: dx must not share its buffer with z or dy"), NULL;
  }
  /* in blocks of 4096 elements, so the split never cuts below a vector */
  act_back_job job = {act, (size_t)z.length, z.data, dy.data, dx.data};
  int64_t blocks = (z.length + 4095) / 4096;
  if (blocks > 2147483647) blocks = 2147483647;
  parallel_for((int)blocks, threads_for((double)z.length * (act == S2S_ACT_GELU ? 40.0 : 2.0), (int)blocks), act_back_range, &job);
  return NULL;
}

static napi_value js_embed_positions(napi_env env, napi_callback_info info) {
  args_t a;
  int cols = 0;
  double scale = 0;
  f32_t table = {0}, positions = {0}, out = {0};
  i32_t ids = {0}, pids = {0};
  CHECK(get_args(env, info, "embedPositions", 7, &a));
  CHECK(arg_dim(&a, 0, "cols", &cols) && arg_f32(&a, 1, "table", &table) && arg_i32(&a, 2, "ids", &ids) &&
        arg_number(&a, 3, "scale", &scale) && arg_f32(&a, 4, "positions", &positions) &&
        arg_i32(&a, 5, "positionIds", &pids) && arg_f32(&a, 6, "out", &out));
  CHECK(need_len(&a, "positionIds", pids.length, ids.length, "one position id per id"));
  CHECK(need_len(&a, "out", out.length, ids.length * cols, "ids.length×cols"));
  CHECK(rows_in_range(&a, &ids, cols > 0 ? table.length / cols : INT64_MAX, "a table"));
  CHECK(rows_in_range(&a, &pids, cols > 0 ? positions.length / cols : INT64_MAX, "a position table"));
  K->embed_positions(cols, table.data, ids.data, (size_t)ids.length, (float)scale, positions.data, pids.data, out.data);
  return NULL;
}

static napi_value js_embed_positions_backward(napi_env env, napi_callback_info info) {
  args_t a;
  int cols = 0;
  double scale = 0;
  f32_t dy = {0}, dTable = {0}, dPos = {0};
  i32_t ids = {0}, pids = {0};
  CHECK(get_args(env, info, "embedPositionsBackward", 7, &a));
  CHECK(arg_dim(&a, 0, "cols", &cols) && arg_f32(&a, 1, "dy", &dy) && arg_i32(&a, 2, "ids", &ids) &&
        arg_number(&a, 3, "scale", &scale) && arg_i32(&a, 4, "positionIds", &pids) &&
        arg_f32_or_null(&a, 5, "dTable", &dTable) && arg_f32_or_null(&a, 6, "dPositions", &dPos));
  CHECK(need_len(&a, "positionIds", pids.length, ids.length, "one position id per id"));
  CHECK(need_len(&a, "dy", dy.length, ids.length * cols, "ids.length×cols"));
  if (dTable.data) CHECK(rows_in_range(&a, &ids, cols > 0 ? dTable.length / cols : INT64_MAX, "a table"));
  if (dPos.data) CHECK(rows_in_range(&a, &pids, cols > 0 ? dPos.length / cols : INT64_MAX, "a position table"));
  K->embed_positions_backward(cols, dy.data, ids.data, (size_t)ids.length, (float)scale, pids.data, dTable.data,
                              dPos.data);
  return NULL;
}

static napi_value js_keep_mask(napi_env env, napi_callback_info info) {
  args_t a;
  double p = 0;
  napi_typedarray_type type;
  size_t slen = 0, mlen = 0;
  void *sdata = NULL, *mdata = NULL;
  CHECK(get_args(env, info, "keepMask", 3, &a));
  if (napi_get_typedarray_info(env, a.argv[0], &type, &slen, &sdata, NULL, NULL) != napi_ok || type != napi_uint32_array)
    return TYPE_ERROR("keepMask: argument 1 (state) must be a Uint32Array"), NULL;
  if (slen < 4) return RANGE_ERROR("keepMask: state has %zu words but needs 4", slen), NULL;
  CHECK(arg_number(&a, 1, "p", &p));
  if (napi_get_typedarray_info(env, a.argv[2], &type, &mlen, &mdata, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return TYPE_ERROR("keepMask: argument 3 (mask) must be a Uint8Array"), NULL;
  K->keep_mask((uint32_t *)sdata, p * 4294967296.0, mlen, (uint8_t *)mdata);
  return NULL;
}

static napi_value js_dropout_apply(napi_env env, napi_callback_info info) {
  args_t a;
  const uint8_t *mask = NULL;
  int64_t maskLen = 0;
  double scale = 0;
  int acc = 0;
  f32_t x = {0}, out = {0};
  CHECK(get_args(env, info, "dropoutApply", 5, &a));
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, a.argv[0], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array)
    return TYPE_ERROR("dropoutApply: argument 1 (mask) must be a Uint8Array"), NULL;
  mask = (const uint8_t *)data;
  maskLen = (int64_t)len;
  CHECK(arg_number(&a, 1, "scale", &scale) && arg_f32(&a, 2, "x", &x) && arg_f32(&a, 3, "out", &out) &&
        arg_bool(&a, 4, "accumulate", &acc));
  CHECK(need_len(&a, "x", x.length, maskLen, "one element per mask entry"));
  CHECK(need_len(&a, "out", out.length, maskLen, "one element per mask entry"));
  if (maskLen == 0) return NULL;
  K->dropout_apply((size_t)maskLen, mask, (float)scale, x.data, out.data, acc);
  return NULL;
}

static napi_value js_argmax_rows(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t x = {0};
  i32_t out = {0};
  CHECK(get_args(env, info, "argmaxRows", 4, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols) && arg_f32(&a, 2, "x", &x) && arg_i32(&a, 3, "out", &out));
  CHECK(need_len(&a, "x", x.length, (int64_t)rows * cols, "rows×cols"));
  CHECK(need_len(&a, "out", out.length, rows, "one index per row"));
  if (cols == 0) {
    for (int r = 0; r < rows; r++) out.data[r] = 0;
    return NULL;
  }
  K->argmax_rows(rows, cols, x.data, out.data);
  return NULL;
}

static napi_value js_copy_block(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0, ls = 0, ld = 0, acc = 0;
  f32_t src = {0}, dst = {0};
  CHECK(get_args(env, info, "copyBlock", 7, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols) && arg_f32(&a, 2, "src", &src) &&
        arg_dim(&a, 3, "srcStride", &ls) && arg_f32(&a, 4, "dst", &dst) && arg_dim(&a, 5, "dstStride", &ld) &&
        arg_bool(&a, 6, "accumulate", &acc));
  if (rows > 1 && (ls < cols || ld < cols))
    return RANGE_ERROR("copyBlock: strides %d and %d must be at least the %d columns", ls, ld, cols), NULL;
  CHECK(need_len(&a, "src", src.length, matrix_extent(rows, cols, ls), "rows×cols with srcStride"));
  CHECK(need_len(&a, "dst", dst.length, matrix_extent(rows, cols, ld), "rows×cols with dstStride"));
  if (rows == 0 || cols == 0) return NULL;
  K->copy_block(rows, cols, src.data, ls, dst.data, ld, acc);
  return NULL;
}

/* ------------------------------------------------------------ int8 inference */

typedef struct {
  int8_t *data;
  int64_t length;
} i8_t;

static int arg_i8(args_t *a, int i, const char *name, i8_t *out) {
  napi_env env = a->env;
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, a->argv[i], &type, &length, &data, NULL, NULL) != napi_ok || type != napi_int8_array)
    return TYPE_ERROR("%s: argument %d (%s) must be an Int8Array", a->fn, i + 1, name);
  out->data = (int8_t *)data;
  out->length = (int64_t)length;
  return 1;
}

static napi_value js_quantize_rows_int8(napi_env env, napi_callback_info info) {
  args_t a;
  int rows = 0, cols = 0;
  f32_t x = {0}, scales = {0};
  i8_t q = {0};
  CHECK(get_args(env, info, "quantizeRowsInt8", 5, &a));
  CHECK(arg_dim(&a, 0, "rows", &rows) && arg_dim(&a, 1, "cols", &cols) && arg_f32(&a, 2, "x", &x) && arg_i8(&a, 3, "q", &q) &&
        arg_f32(&a, 4, "scales", &scales));
  CHECK(need_len(&a, "x", x.length, (int64_t)rows * cols, "rows×cols"));
  CHECK(need_len(&a, "q", q.length, (int64_t)rows * cols, "rows×cols"));
  CHECK(need_len(&a, "scales", scales.length, rows, "rows"));
  I8->quantize_rows(rows, cols, x.data, q.data, scales.data);
  return NULL;
}

typedef struct {
  int m, n, k, accumulate;
  const int8_t *a, *b;
  const float *as, *bs, *bias;
  float *out;
} gemm_int8_job;

/* Channels [4·begin, 4·end) of one gemmInt8 call (blocks of four keep the kernel's register tiles whole). */
static void gemm_int8_range(void *ctx, int tid, int begin, int end) {
  const gemm_int8_job *g = (const gemm_int8_job *)ctx;
  int j0 = 4 * begin, j1 = 4 * end < g->n ? 4 * end : g->n;
  (void)tid;
  /* Blocks of channels (about 16 KB of b) stay in L1 while every row of a passes over them. */
  int block = g->k > 0 ? (16384 / g->k) & ~3 : 64;
  if (block < 4) block = 4;
  for (int j = j0; j < j1; j += block)
    I8->gemm(g->m, g->n, g->k, g->a, g->as, g->b, g->bs, g->bias, g->accumulate, g->out, j, j + block < j1 ? j + block : j1);
}

static napi_value js_gemm_int8(napi_env env, napi_callback_info info) {
  args_t a;
  int m = 0, n = 0, k = 0, acc = 0;
  i8_t A = {0}, B = {0};
  f32_t as = {0}, bs = {0}, bias = {0}, out = {0};
  CHECK(get_args(env, info, "gemmInt8", 10, &a));
  CHECK(arg_dim(&a, 0, "m", &m) && arg_dim(&a, 1, "n", &n) && arg_dim(&a, 2, "k", &k));
  CHECK(arg_i8(&a, 3, "a", &A) && arg_f32(&a, 4, "aScales", &as) && arg_i8(&a, 5, "b", &B) && arg_f32(&a, 6, "bScales", &bs));
  CHECK(arg_f32_or_null(&a, 7, "bias", &bias) && arg_bool(&a, 8, "accumulate", &acc) && arg_f32(&a, 9, "out", &out));
  if (k > 131072) return RANGE_ERROR("gemmInt8: k %d is above 131072 (int32 sums could overflow)", k), NULL;
  CHECK(need_len(&a, "a", A.length, (int64_t)m * k, "m×k"));
  CHECK(need_len(&a, "aScales", as.length, m, "m"));
  CHECK(need_len(&a, "b", B.length, (int64_t)n * k, "n×k"));
  CHECK(need_len(&a, "bScales", bs.length, n, "n"));
  if (bias.data) CHECK(need_len(&a, "bias", bias.length, n, "n"));
  CHECK(need_len(&a, "out", out.length, (int64_t)m * n, "m×n"));
  if (m == 0 || n == 0) return NULL;
  gemm_int8_job job = {m, n, k, acc, A.data, B.data, as.data, bs.data, bias.data, out.data};
  int blocks = (n + 3) / 4;
  /* The float few-row rule: with the earlier 8·10^5 threshold (on m·n·k / 4) none of a batch-1 step's int8 products
     (0.2–1.3 M) was split, and the int8 fra-attention bundle was only 1.34× faster than float32 one at a time
     (bench:int8); 1.44–1.75× with this rule, 1.14–1.53× from 5·10^5 (the pool's worker sleeps between the few
     products left to split). */
  parallel_for(blocks, few_row_threads((double)m * n * k, blocks), gemm_int8_range, &job);
  return NULL;
}

static napi_value js_gather_rows_int8(napi_env env, napi_callback_info info) {
  args_t a;
  int cols = 0;
  i8_t table = {0};
  f32_t scales = {0}, out = {0};
  i32_t index = {0};
  CHECK(get_args(env, info, "gatherRowsInt8", 5, &a));
  CHECK(arg_dim(&a, 0, "cols", &cols) && arg_i8(&a, 1, "table", &table) && arg_f32(&a, 2, "scales", &scales) &&
        arg_i32(&a, 3, "index", &index) && arg_f32(&a, 4, "out", &out));
  CHECK(need_len(&a, "out", out.length, index.length * cols, "index.length×cols"));
  int64_t rows = cols > 0 ? table.length / cols : INT64_MAX;
  if (rows > scales.length) rows = scales.length;
  CHECK(rows_in_range(&a, &index, rows, "a table (and its scales)"));
  I8->gather_rows(cols, table.data, scales.data, index.data, (size_t)index.length, out.data);
  return NULL;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, info_text, NAPI_AUTO_LENGTH, &out);
  return out;
}

/*
 * setThreads(n): the threads every kernel of this process may use (OpenBLAS's
 * and the kernels that split work themselves), returning the previous count.
 * Data-parallel training sets 1, so that each replica's thread keeps to its
 * core instead of the replicas' GEMMs fighting over both.
 */
static napi_value js_set_threads(napi_env env, napi_callback_info info) {
  args_t a;
  int n = 0;
  CHECK(get_args(env, info, "setThreads", 1, &a));
  CHECK(arg_dim(&a, 0, "threads", &n));
  if (n < 1) return RANGE_ERROR("setThreads: threads must be at least 1, got %d", n), NULL;
  int previous = thread_count;
  thread_count = n > MAX_THREADS ? MAX_THREADS : n;
#if S2S_OPENBLAS
  openblas_set_num_threads(thread_count);
#endif
  napi_value out;
  napi_create_int32(env, previous, &out);
  return out;
}

/* ------------------------------------------------------------ module setup */

/*
 * Picks the widest kernel build the CPU runs. The AVX-512 build only pays
 * off for the transcendental-heavy kernels (LSTM/GRU cells, activations:
 * about 1.6× over AVX2); the short rows of softmax and the memory-bound
 * kernels are as fast or faster at 256 bits, so those stay on AVX2.
 */
static void choose_kernels(void) {
  active = s2s_kernels_generic;
  snprintf(kernel_isa, sizeof kernel_isa, "%s", active.isa);
  /* S2S_NATIVE_ISA=generic|avx2 caps the choice (tests run every variant this way). */
  const char *cap = getenv("S2S_NATIVE_ISA");
  int maxLevel = cap && strcmp(cap, "generic") == 0 ? 0 : cap && strcmp(cap, "avx2") == 0 ? 1 : 2;
  (void)maxLevel;
#if defined(S2S_HAVE_AVX2_VARIANT) && defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (maxLevel >= 1 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    active = s2s_kernels_avx2;
    snprintf(kernel_isa, sizeof kernel_isa, "%s", active.isa);
#if defined(S2S_HAVE_AVX512_VARIANT)
    if (maxLevel >= 2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) {
      active.lstm_forward = s2s_kernels_avx512.lstm_forward;
      active.lstm_backward = s2s_kernels_avx512.lstm_backward;
      active.gru_forward = s2s_kernels_avx512.gru_forward;
      active.gru_backward = s2s_kernels_avx512.gru_backward;
      active.unary = s2s_kernels_avx512.unary;
      active.bias_activation = s2s_kernels_avx512.bias_activation;
      active.activation_backward = s2s_kernels_avx512.activation_backward;
      active.gemm_small = s2s_kernels_avx512.gemm_small; /* 32 registers: 8 rows of a GEMV in one pass */
      snprintf(kernel_isa, sizeof kernel_isa, "avx2+avx512");
    }
#endif
    I8 = &s2s_int8_avx2;
    if (maxLevel >= 2 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512f"))
      I8 = &s2s_int8_avx512vnni;
  }
#endif
}

/*
 * Every training step allocates and frees the same large Float32Arrays
 * (gates, their gradients: ~15 MB each for the seed model). With glibc's
 * defaults those come from fresh mmap()s, so every step pays a page fault
 * per 4 KB plus the kernel's zeroing — about 15% of a step. Raising the mmap
 * threshold to its maximum (32 MB) and the trim threshold to 256 MB keeps
 * them in the heap for reuse. Process-wide, so S2S_MALLOC_TUNING=0 turns it
 * off.
 */
static void tune_malloc(void) {
#if defined(__GLIBC__)
  const char *env = getenv("S2S_MALLOC_TUNING");
  if (env && strcmp(env, "0") == 0) {
    malloc_note = "; malloc tuning off";
    return;
  }
  if (mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) && mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024)) return;
  malloc_note = "; malloc tuning failed";
#endif
}

static void describe(void) {
#if S2S_OPENBLAS
  /* openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64" */
  char version[64] = "OpenBLAS";
  const char *cfg = openblas_get_config();
  if (cfg && strncmp(cfg, "OpenBLAS ", 9) == 0) {
    size_t n = strcspn(cfg + 9, " ");
    if (n > 40) n = 40;
    snprintf(version, sizeof version, "OpenBLAS %.*s", (int)n, cfg + 9);
  }
  int par = openblas_get_parallel();
  const char *mode = par == 2 ? "openmp" : par == 1 ? "pthread" : "sequential";
  int threads = openblas_get_num_threads();
  const char *core = openblas_get_corename();
  snprintf(info_text, sizeof info_text, "native (%s, %s, %d thread%s, %s core; %s kernels, int8 %s, %d threads for attention%s)", version, mode,
           threads, threads == 1 ? "" : "s", core ? core : "unknown", kernel_isa, I8->isa, thread_count, malloc_note);
#else
  snprintf(info_text, sizeof info_text, "native (built-in blocked GEMM; OpenBLAS not found; %s kernels, int8 %s, %d threads for attention%s)",
           kernel_isa, I8->isa, thread_count, malloc_note);
  fprintf(stderr,
          "s2s: native addon built without OpenBLAS; using its built-in blocked GEMM "
          "(install libopenblas-dev and run `npm run build:native` for full speed)\n");
#endif
}

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

/* Threads for the kernels that split work themselves (attention, layer norm backward): the online cores, or S2S_NATIVE_THREADS. */
static void choose_threads(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  const char *env = getenv("S2S_NATIVE_THREADS");
  if (env && *env) n = strtol(env, NULL, 10);
  thread_count = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

static void setup(void) {
  choose_kernels();
  choose_threads();
  tune_malloc();
  describe();
}

NAPI_MODULE_INIT() {
  pthread_once(&setup_once, setup); /* once per process, also when worker threads load the addon */
  const napi_property_attributes attr = napi_enumerable | napi_writable | napi_configurable;
  napi_property_descriptor props[] = {
      {"gemm", NULL, js_gemm, NULL, NULL, NULL, attr, NULL},
      {"lstmCellForward", NULL, js_lstm_forward, NULL, NULL, NULL, attr, NULL},
      {"lstmCellBackward", NULL, js_lstm_backward, NULL, NULL, NULL, attr, NULL},
      {"gruCellForward", NULL, js_gru_forward, NULL, NULL, NULL, attr, NULL},
      {"gruCellBackward", NULL, js_gru_backward, NULL, NULL, NULL, attr, NULL},
      {"softmaxCrossEntropy", NULL, js_softmax_xent, NULL, NULL, NULL, attr, NULL},
      {"softmaxRows", NULL, js_softmax_rows, NULL, NULL, NULL, attr, NULL},
      {"unary", NULL, js_unary, NULL, NULL, NULL, attr, NULL},
      {"unaryBackward", NULL, js_unary_backward, NULL, NULL, NULL, attr, NULL},
      {"addRowVector", NULL, js_add_row_vector, NULL, NULL, NULL, attr, NULL},
      {"sumRows", NULL, js_sum_rows, NULL, NULL, NULL, attr, NULL},
      {"gatherRows", NULL, js_gather_rows, NULL, NULL, NULL, attr, NULL},
      {"scatterAddRows", NULL, js_scatter_add_rows, NULL, NULL, NULL, attr, NULL},
      {"sumSquares", NULL, js_sum_squares, NULL, NULL, NULL, attr, NULL},
      {"scale", NULL, js_scale, NULL, NULL, NULL, attr, NULL},
      {"rmspropUpdate", NULL, js_rmsprop, NULL, NULL, NULL, attr, NULL},
      {"adamUpdate", NULL, js_adam, NULL, NULL, NULL, attr, NULL},
      {"attentionForward", NULL, js_attention_forward, NULL, NULL, NULL, attr, NULL},
      {"attentionBackward", NULL, js_attention_backward, NULL, NULL, NULL, attr, NULL},
      {"layerNormForward", NULL, js_layer_norm_forward, NULL, NULL, NULL, attr, NULL},
      {"layerNormBackward", NULL, js_layer_norm_backward, NULL, NULL, NULL, attr, NULL},
      {"biasActivation", NULL, js_bias_activation, NULL, NULL, NULL, attr, NULL},
      {"activationBackward", NULL, js_activation_backward, NULL, NULL, NULL, attr, NULL},
      {"embedPositions", NULL, js_embed_positions, NULL, NULL, NULL, attr, NULL},
      {"embedPositionsBackward", NULL, js_embed_positions_backward, NULL, NULL, NULL, attr, NULL},
      {"keepMask", NULL, js_keep_mask, NULL, NULL, NULL, attr, NULL},
      {"dropoutApply", NULL, js_dropout_apply, NULL, NULL, NULL, attr, NULL},
      {"copyBlock", NULL, js_copy_block, NULL, NULL, NULL, attr, NULL},
      {"argmaxRows", NULL, js_argmax_rows, NULL, NULL, NULL, attr, NULL},
      {"attentionStep", NULL, js_attention_step, NULL, NULL, NULL, attr, NULL},
      {"addLayerNorm", NULL, js_add_layer_norm, NULL, NULL, NULL, attr, NULL},
      {"quantizeRowsInt8", NULL, js_quantize_rows_int8, NULL, NULL, NULL, attr, NULL},
      {"gemmInt8", NULL, js_gemm_int8, NULL, NULL, NULL, attr, NULL},
      {"gatherRowsInt8", NULL, js_gather_rows_int8, NULL, NULL, NULL, attr, NULL},
      {"info", NULL, js_info, NULL, NULL, NULL, attr, NULL},
      {"setThreads", NULL, js_set_threads, NULL, NULL, NULL, attr, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
