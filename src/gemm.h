/*
 * gemm.h — the internal interface of the single-precision matrix product:
 * kernel selection (for tests and benchmarks), the pool-parallel entry point,
 * and the micro-kernel contract the per-ISA files implement.
 *
 * gfi_gemm and struct gfi_gemm_ws are declared in internal.h; everything here
 * is private.
 */
#ifndef GF_GEMM_H
#define GF_GEMM_H

#include "internal.h"

struct gfi_pool;

/* Kernels, in order of preference (a higher value is faster when available). */
enum gfi_gemm_kernel {
    GFI_GEMM_AUTO = -1,    /* best kernel this CPU runs */
    GFI_GEMM_PORTABLE = 0, /* plain C, any CPU */
    GFI_GEMM_AVX2 = 1,     /* AVX2 + FMA, 6 x 16 register tile */
    GFI_GEMM_AVX512 = 2,   /* AVX-512F, 12 x 32 register tile */
    GFI_GEMM_NKERNELS = 3
};

/* 1 when the kernel was compiled in and the CPU (and OS) can run it. */
int gfi_gemm_kernel_available(int kernel);
/* Makes every later product use kernel (GFI_GEMM_AUTO restores automatic
 * choice).  Process-wide; not meant to be changed while products run.
 * GF_ERR_INVALID for an unknown kernel, GF_ERR_UNSUPPORTED for one this CPU
 * cannot run; the previous choice is then kept. */
int gfi_gemm_force_kernel(int kernel);
/* The kernel products use now (never GFI_GEMM_AUTO). */
int gfi_gemm_kernel_active(void);
/* "portable", "avx2", "avx512"; "auto" for -1; "unknown" otherwise. */
const char *gfi_gemm_kernel_name(int kernel);

/*
 * Workspace: the packing buffers of nthreads threads (one pair of 64-byte
 * aligned buffers each, ~770 KiB), allocated through gfi_malloc.  A net owns
 * one sized for its pool, so products allocate nothing and the library keeps
 * no large thread-local storage.  A workspace serves one product at a time.
 * gfi_gemm_ws_create: GF_ERR_NULL (out NULL), GF_ERR_INVALID (nthreads
 * outside 1..GFI_POOL_MAX_THREADS), GF_ERR_NOMEM; *out untouched on failure.
 */
int gfi_gemm_ws_create(struct gfi_gemm_ws **out, int nthreads);
/* NULL is a no-op. */
void gfi_gemm_ws_destroy(struct gfi_gemm_ws *ws);
/* Threads it has buffers for; 0 for NULL. */
int gfi_gemm_ws_threads(const struct gfi_gemm_ws *ws);

/* gfi_gemm split over the pool's threads: each thread computes a disjoint
 * block of C (a range of columns or of rows), so the result does not depend
 * on the thread count; thread t packs into ws's buffer pair t.  ws must not
 * be NULL.  pool NULL or single-threaded, or ws with fewer buffer pairs than
 * the pool has threads: same as gfi_gemm on the caller. */
void gfi_gemm_pool(struct gfi_pool *pool, struct gfi_gemm_ws *ws, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                   float *c, int64_t ldc);

/* How gfi_gemm_pool would compute a product on this pool: on the caller
 * alone (GFI_GEMM_ONE), or shared out by columns or by rows of C. */
enum { GFI_GEMM_ONE = 0, GFI_GEMM_BY_COLS = 1, GFI_GEMM_BY_ROWS = 2 };
int gfi_gemm_pool_split(const struct gfi_pool *pool, const struct gfi_gemm_ws *ws, bool trans_a, bool trans_b,
                        int64_t m, int64_t n, int64_t k);
/* Thread tid's share of a product that gfi_gemm_pool_split said is split
 * `split` over nt threads: the columns (BY_COLS) or rows [*lo, *hi) of C
 * that gfi_gemm_pool gives that thread (empty when *lo >= *hi). */
void gfi_gemm_share_range(int split, int64_t m, int64_t n, int tid, int nt, int64_t *lo, int64_t *hi);
/* Computes that share, packing into buffer pair tid; the elements get the
 * same values as in gfi_gemm.  Any range [lo, hi) of rows or columns of
 * any product may be asked for: the path (the kernel's small path or the
 * packed one) is chosen on the whole m x n x k product, and each element's
 * arithmetic depends on k alone, so parts cut anywhere add up to the whole
 * product bit for bit.  For callers that run their own pool job and
 * pair the product with a pass over the same block (a layer's bias and
 * activation, or its activation gradient before the weight gradient), so
 * the pass takes no pool run of its own. */
void gfi_gemm_share(struct gfi_gemm_ws *ws, int tid, int split, int64_t lo, int64_t hi, bool trans_a, bool trans_b,
                    int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float beta, float *c, int64_t ldc);

/* op(B) packed once for many products with the same B (a recurrent layer's
 * weight_hh_l0 times each step's state): gfi_gemm_pre_pack packs op(B)
 * (k x n; B^T when trans_b) into buf, which holds gfi_gemm_pre_floats(k, n)
 * floats (any alignment), and describes it in *pre; gfi_gemm_pool_pre is
 * gfi_gemm_pool with that op(B), packing nothing.  Same panels, same kernel
 * calls, so the same result bit for bit; it falls back to b itself when the
 * kernel changed since the pack, or the product takes the small path.  B
 * must not change between the pack and the products. */
typedef struct gfi_gemm_pre {
    const float *p; /* NULL: nothing packed */
    int kernel;
    bool trans_b;
    int64_t k, n;
} gfi_gemm_pre;
size_t gfi_gemm_pre_floats(int64_t k, int64_t n);
void gfi_gemm_pre_pack(gfi_gemm_pre *pre, float *buf, bool trans_b, int64_t k, int64_t n, const float *b,
                       int64_t ldb);
void gfi_gemm_pool_pre(struct gfi_pool *pool, struct gfi_gemm_ws *ws, bool trans_a, int64_t m, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, const gfi_gemm_pre *pre, float beta,
                       float *c, int64_t ldc);

/* gfi_gemm packing into ws's buffer pair tid (0 <= tid < gfi_gemm_ws_threads(ws)), for callers that split
 * their work over a pool themselves and give each thread whole products (conv layers, by chunks of samples).
 * Same result as gfi_gemm and gfi_gemm_pool. */
void gfi_gemm_tid(struct gfi_gemm_ws *ws, int tid, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc);

/*
 * Micro-kernel contract.  pa is an MR x kc sliver of op(A) packed column by
 * column (MR floats per step of p), pb a kc x NR sliver of op(B) packed row by
 * row (NR floats per step); both zero-padded past the matrix edge and 64-byte
 * aligned.  The kernel forms the MR x NR product and writes its top-left
 * mr x nr corner into c (row stride ldc) as alpha*AB + beta*C, never reading
 * C when beta == 0.  Every tile, full or partial, goes through the same
 * arithmetic so the value of an element does not depend on its tile.
 */
typedef void (*gfi_gemm_ukernel_fn)(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                                    float beta, int mr, int nr);

/*
 * Packing.  pack_a copies rows [i0, i0+mb) x columns [p0, p0+kb) of op(A)
 * (op(A) = A, or A^T when trans) into ceil(mb/mr) slivers laid out as
 * dst[s*mr*kb + p*mr + r] = op(A)[i0 + s*mr + r][p0 + p], zero past row mb.
 * pack_b copies rows [p0, p0+kb) x columns [j0, j0+nb) of op(B) into slivers
 * dst[s*nr*kb + p*nr + j] = op(B)[p0 + p][j0 + s*nr + j], zero past column nb.
 * The generic versions (gemm.c) serve any tile; a kernel may bring faster
 * ones for its own tile.
 */
typedef void (*gfi_gemm_pack_fn)(int tile, bool trans, const float *src, int64_t ld, int64_t r0, int64_t c0,
                                 int64_t rows, int64_t cols, float *dst);
void gfi_gemm_pack_a_generic(int mr, bool trans, const float *a, int64_t lda, int64_t i0, int64_t p0, int64_t mb,
                             int64_t kb, float *dst);
void gfi_gemm_pack_b_generic(int nr, bool trans, const float *b, int64_t ldb, int64_t p0, int64_t j0, int64_t kb,
                             int64_t nb, float *dst);

/* A kernel's register tile, cache blocking and routines. */
typedef struct gfi_gemm_kernel_info {
    int mr, nr; /* register tile */
    int mc, kc, nc; /* cache blocks: mc % mr == 0, nc % nr == 0 */
    gfi_gemm_ukernel_fn ukernel;
    gfi_gemm_pack_fn pack_a, pack_b;
    /* Optional: a whole small product (m*n*k <= small_work, k > 0,
     * alpha != 0) computed straight from the operands, where packing would
     * cost more than the arithmetic, in two forms: op(B) = B (small_rows,
     * either op(A)), and A B^T (small_dots).  gemm.c takes A^T B^T to
     * gfi_gemm_small_scalar.  Same contract as gfi_gemm otherwise. */
    void (*small_rows)(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
    void (*small_dots)(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float beta, float *c, int64_t ldc);
    double small_work; /* m*n*k up to which small takes the product */
    bool small_skinny; /* small_dots also takes skinny A B^T products (GFI_GEMM_SKINNY) */
} gfi_gemm_kernel_info;

/* C = alpha A^T B^T + beta C by plain loops, for the kernels' small paths
 * (C is not read when beta == 0). */
void gfi_gemm_small_scalar(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                           int64_t ldb, float beta, float *c, int64_t ldc);

#define GFI_GEMM_SKINNY 16 /* A B^T with m or n at most this: small path too (under 2e6 m*n*k) */

/* Upper bounds over all kernels, which size the packing buffers. */
#define GFI_GEMM_MAX_MC 192
#define GFI_GEMM_MAX_KC 256
#define GFI_GEMM_MAX_NC 512

extern const gfi_gemm_kernel_info gfi_gemm_portable_info;
#if defined(__x86_64__) || defined(__i386__)
#define GFI_GEMM_HAVE_X86 1
extern const gfi_gemm_kernel_info gfi_gemm_avx2_info;
extern const gfi_gemm_kernel_info gfi_gemm_avx512_info;
#endif

#endif /* GF_GEMM_H */
