/*
 * gemm_avx2.c — the AVX2 + FMA micro-kernel: a 6 x 16 tile of C held in 12
 * ymm accumulators; each step of k loads two vectors of packed B and
 * broadcasts six elements of packed A.  Built with -mavx2 -mfma (see the
 * Makefile's isa_flags); called only after gemm.c checked the CPU.
 */
#include "gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "simd_avx2.h"

#define MR 6
#define NR 16

#define ROW_FMA(i)                                                                                                     \
    do {                                                                                                               \
        __m256 a_ = _mm256_broadcast_ss(pa + (i));                                                                     \
        c##i##0 = _mm256_fmadd_ps(a_, b0, c##i##0);                                                                    \
        c##i##1 = _mm256_fmadd_ps(a_, b1, c##i##1);                                                                    \
    } while (0)

/* One step of k for ROWS_FMA's rows: the packed sliver always holds MR
 * floats of A per step, whatever rows are computed. */
#define STEP_ROWS(ROWS_FMA)                                                                                            \
    do {                                                                                                               \
        __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);                                                   \
        ROWS_FMA;                                                                                                      \
        pa += MR;                                                                                                      \
        pb += NR;                                                                                                      \
    } while (0)

/* Applies X to rows 0..1, 0..3 or 0..5 of the tile. */
#define ROWS2(X) X(0); X(1)
#define ROWS4(X) ROWS2(X); X(2); X(3)
#define ROWS6(X) ROWS4(X); X(4); X(5)

/* Row i of a full tile straight from the accumulators: alpha*acc, then
 * fma(beta, c, .) unless beta == 0, as write_partial does. */
#define WRITE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        float *ci_ = c + (i) * ldc;                                                                                    \
        __m256 r0_ = _mm256_mul_ps(va, c##i##0), r1_ = _mm256_mul_ps(va, c##i##1);                                     \
        if (beta != 0.0f) {                                                                                            \
            r0_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci_), r0_);                                                      \
            r1_ = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci_ + 8), r1_);                                                  \
        }                                                                                                              \
        _mm256_storeu_ps(ci_, r0_);                                                                                    \
        _mm256_storeu_ps(ci_ + 8, r1_);                                                                                \
    } while (0)

#define STORE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        _mm256_store_ps(tile + (i) * NR, c##i##0);                                                                     \
        _mm256_store_ps(tile + (i) * NR + 8, c##i##1);                                                                 \
    } while (0)

/* Writes the valid mr x nr corner of a spilled tile (rows of NR floats):
 * the same arithmetic as WRITE_ROW, through masked loads and stores, so
 * masked-off lanes are neither read nor written. */
static inline __attribute__((always_inline)) void write_partial(const float *tile, float *c, int64_t ldc, float alpha,
                                                               float beta, int mr, int nr)
{
    __m256i m0 = gfi_avx2_lanes(nr), m1 = gfi_avx2_lanes(nr - 8);
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        __m256 r0 = _mm256_mul_ps(va, _mm256_load_ps(tile + i * NR));
        __m256 r1 = _mm256_mul_ps(va, _mm256_load_ps(tile + i * NR + 8));
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, m0), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8, m1), r1);
        }
        _mm256_maskstore_ps(ci, m0, r0);
        _mm256_maskstore_ps(ci + 8, m1, r1);
    }
}

/* The end of an R-row kernel: a full tile straight from the accumulators
 * (masked stores are slow on some AVX2 CPUs), anything else through a
 * spilled tile and write_partial. */
#define FINISH_ROWS(R, ROWS)                                                                                           \
    do {                                                                                                               \
        if (mr == (R) && nr == NR) {                                                                                   \
            __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);                                              \
            ROWS(WRITE_ROW);                                                                                           \
            return;                                                                                                    \
        }                                                                                                              \
        _Alignas(32) float tile[(R) * NR];                                                                             \
        ROWS(STORE_ROW);                                                                                               \
        write_partial(tile, c, ldc, alpha, beta, mr, nr);                                                              \
    } while (0)

/* R rows of the tile, 4 steps of k per loop turn. */
#define KERNEL_BODY(ROWS)                                                                                              \
    do {                                                                                                               \
        for (int i = 0; i < mr; i++)                                                                                   \
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);                                                    \
        int64_t p = 0;                                                                                                 \
        for (; p + 4 <= kc; p += 4) {                                                                                  \
            STEP_ROWS(ROWS(ROW_FMA));                                                                                  \
            STEP_ROWS(ROWS(ROW_FMA));                                                                                  \
            STEP_ROWS(ROWS(ROW_FMA));                                                                                  \
            STEP_ROWS(ROWS(ROW_FMA));                                                                                  \
        }                                                                                                              \
        for (; p < kc; p++)                                                                                            \
            STEP_ROWS(ROWS(ROW_FMA));                                                                                  \
    } while (0)

/* The last sliver of a row block often has fewer than 6 valid rows (m = 128
 * is 21 x 6 + 2).  These variants read the same packed sliver but issue only
 * the first 2 or 4 rows' FMAs instead of computing padding; each element
 * still gets the same sequence of FMAs over k. */
static __attribute__((noinline)) void avx2_ukernel2(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                          float beta, int mr, int nr)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    KERNEL_BODY(ROWS2);
    FINISH_ROWS(2, ROWS2);
}

static __attribute__((noinline)) void avx2_ukernel4(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                          float beta, int mr, int nr)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    KERNEL_BODY(ROWS4);
    FINISH_ROWS(4, ROWS4);
}

static void avx2_ukernel(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha, float beta,
                         int mr, int nr)
{
    if (mr <= 2) {
        avx2_ukernel2(kc, pa, pb, c, ldc, alpha, beta, mr, nr);
        return;
    }
    if (mr <= 4) {
        avx2_ukernel4(kc, pa, pb, c, ldc, alpha, beta, mr, nr);
        return;
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    KERNEL_BODY(ROWS6);
    FINISH_ROWS(MR, ROWS6);
}

/* ---- packing with 8 x 8 register transposes ---- */

/* Transposes r[0..7] in place: afterwards r[j] lane i is the old r[i] lane j
 * (pairs, then quads within 128-bit halves, then the halves). */
static inline __attribute__((always_inline)) void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    /* u[c], 128-bit half h: rows 0-3 (u0-u3) or 4-7 (u4-u7) of column c + 4h */
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Reads up to 8 rows (nrows valid, the rest zero) of 8 columns (ncols
 * valid, the rest zero; columns past ncols are not read) at src, row stride
 * ld, and returns them transposed: r[q] holds column q. */
static inline __attribute__((always_inline)) void load_transposed(__m256 r[8], const float *src, int64_t ld, int nrows,
                                                                  int64_t ncols)
{
    if (ncols >= 8) {
        _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) r[i] =
            i < nrows ? _mm256_loadu_ps(src + i * ld) : _mm256_setzero_ps();
    } else {
        __m256i m = gfi_avx2_lanes((int)ncols);
        _Pragma("GCC unroll 8") for (int i = 0; i < 8; i++) r[i] =
            i < nrows ? _mm256_maskload_ps(src + i * ld, m) : _mm256_setzero_ps();
    }
    transpose8(r);
}

/* op(A) into slivers of MR = 6 rows: dst[s*6*kb + p*6 + r] = op(A)[i0+s+r][p0+p],
 * zero past row mb.  Each step of p is written as a full 8-float vector whose
 * last two lanes the next step overwrites (the last one lands in the next
 * sliver, packed after, or in the buffer's slack), so no masked store is
 * needed (they are slow on some AVX2 CPUs). */
static void avx2_pack_a(int mr, bool trans, const float *a, int64_t lda, int64_t i0, int64_t p0, int64_t mb,
                        int64_t kb, float *restrict dst)
{
    (void)mr; /* always MR */
    for (int64_t s = 0; s < mb; s += MR) {
        int rows = mb - s < MR ? (int)(mb - s) : MR;
        if (trans) {
            /* op(A)[i][p] = a[p*lda + i]: each step of p is 6 contiguous floats */
            const __m256i m = gfi_avx2_lanes(rows);
            const float *src = a + p0 * lda + i0 + s;
            for (int64_t p = 0; p < kb; p++)
                _mm256_storeu_ps(dst + p * MR, _mm256_maskload_ps(src + p * lda, m));
        } else {
            const float *src = a + (i0 + s) * lda + p0;
            for (int64_t p = 0; p < kb; p += 8) {
                __m256 r[8];
                load_transposed(r, src + p, lda, rows, kb - p);
                int q_end = kb - p < 8 ? (int)(kb - p) : 8;
                for (int q = 0; q < q_end; q++)
                    _mm256_storeu_ps(dst + (p + q) * MR, r[q]);
            }
        }
        dst += (int64_t)MR * kb;
    }
}

/* op(B) = B into slivers of NR = 16 columns, one row of B at a time: each
 * row is read front to back, which the hardware prefetcher follows, and its
 * 16-column pieces go to the slivers (in cache: the panel is at most
 * kc x nc), and the next row is fetched while this one is copied.  Reading
 * a sliver's column strip down the rows instead touched a new page every row
 * and waited on memory for each: B is a weight matrix of several MiB in the
 * input-gradient product.  Packing a 2048 x 2048 W out of cache (Zen 3):
 * 2.0 - 2.1 ms by strips, 1.6 by rows, 1.2 with the prefetch. */
static void pack_b_rows(const float *b, int64_t ldb, int64_t p0, int64_t j0, int64_t kb, int64_t nb,
                        float *restrict dst)
{
    const int64_t full = nb / NR * NR;
    const int tail = (int)(nb - full);
    const __m256i m0 = gfi_avx2_lanes(tail), m1 = gfi_avx2_lanes(tail - 8);
    for (int64_t p = 0; p < kb; p++) {
        const float *src = b + (p0 + p) * ldb + j0;
        float *d = dst + p * NR;
        const float *next = p + 1 < kb ? src + ldb : src; /* fetched a row ahead, a line per piece */
        for (int64_t s = 0; s < full; s += NR) {
            _mm_prefetch((const char *)(next + s), _MM_HINT_T0);
            __m256 x0 = _mm256_loadu_ps(src + s), x1 = _mm256_loadu_ps(src + s + 8);
            _mm256_store_ps(d + s * kb, x0);
            _mm256_store_ps(d + s * kb + 8, x1);
        }
        if (tail) {
            _mm256_store_ps(d + full * kb, _mm256_maskload_ps(src + full, m0));
            _mm256_store_ps(d + full * kb + 8, _mm256_maskload_ps(src + full + 8, m1));
        }
    }
}

/* op(B) into slivers of NR = 16 columns: dst[s*16*kb + p*16 + j] =
 * op(B)[p0+p][j0+s+j], zero past column nb. */
static void avx2_pack_b(int nr, bool trans, const float *b, int64_t ldb, int64_t p0, int64_t j0, int64_t kb, int64_t nb,
                        float *restrict dst)
{
    (void)nr; /* always NR */
    if (!trans) {
        pack_b_rows(b, ldb, p0, j0, kb, nb, dst);
        return;
    }
    for (int64_t s = 0; s < nb; s += NR) {
        int cols = nb - s < NR ? (int)(nb - s) : NR;
        /* op(B)[p][j] = b[j*ldb + p]: 8 x 8 blocks (8 of the sliver's
         * columns, 8 steps of p) transposed in registers */
        for (int h = 0; h < NR; h += 8) {
            int rows = cols - h < 0 ? 0 : cols - h > 8 ? 8 : cols - h;
            const float *src = b + (j0 + s + h) * ldb + p0;
            for (int64_t p = 0; p < kb; p += 8) {
                __m256 r[8];
                load_transposed(r, src + p, ldb, rows, kb - p);
                int q_end = kb - p < 8 ? (int)(kb - p) : 8;
                for (int q = 0; q < q_end; q++)
                    _mm256_store_ps(dst + (p + q) * NR + h, r[q]);
            }
        }
        dst += (int64_t)NR * kb;
    }
}

/* ---- small products straight from the operands (no packing) ---- */

/* op(B) = B: C row i, 8 columns at a time, is a sum of rows of B scaled by
 * op(A)[i][p]; two accumulators halve the FMA latency chain.  Column blocks
 * outside, rows inside, so a block's mask is built once; beta_zero is a
 * constant in each of the two instances (C is not read when it holds). */
static inline __attribute__((always_inline)) void small_rows_impl(bool trans_a, int64_t m, int64_t n, int64_t k,
                                                                  float alpha, const float *a, int64_t lda,
                                                                  const float *b, int64_t ldb, float beta, float *c,
                                                                  int64_t ldc, const bool beta_zero)
{
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    const int64_t sa_i = trans_a ? 1 : lda, sa_p = trans_a ? lda : 1; /* op(A)[i][p] = a[i*sa_i + p*sa_p] */
    for (int64_t j = 0; j < n; j += 8) {
        const __m256i msk = gfi_avx2_lanes(n - j < 8 ? (int)(n - j) : 8);
        const float *bj = b + j;
        for (int64_t i = 0; i < m; i++) {
            const float *ai = a + i * sa_i;
            __m256 s0 = _mm256_setzero_ps(), s1 = s0;
            int64_t p = 0;
            for (; p + 1 < k; p += 2) {
                s0 = _mm256_fmadd_ps(_mm256_set1_ps(ai[p * sa_p]), _mm256_maskload_ps(bj + p * ldb, msk), s0);
                s1 = _mm256_fmadd_ps(_mm256_set1_ps(ai[(p + 1) * sa_p]), _mm256_maskload_ps(bj + (p + 1) * ldb, msk),
                                     s1);
            }
            if (p < k)
                s0 = _mm256_fmadd_ps(_mm256_set1_ps(ai[p * sa_p]), _mm256_maskload_ps(bj + p * ldb, msk), s0);
            float *ci = c + i * ldc + j;
            __m256 r = _mm256_mul_ps(va, _mm256_add_ps(s0, s1));
            if (!beta_zero)
                r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, msk), r);
            _mm256_maskstore_ps(ci, msk, r);
        }
    }
}

static void small_rows(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                       const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (beta == 0.0f)
        small_rows_impl(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
    else
        small_rows_impl(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, false);
}

/* Eight vectors in, one out: lane j of the result is the sum of the lanes of
 * v[j], added in a fixed order (pairs, quads within 128-bit halves, then the
 * two halves). */
static inline __attribute__((always_inline)) __m256 sum8(const __m256 v[8])
{
    __m256 t0 = _mm256_hadd_ps(v[0], v[1]), t1 = _mm256_hadd_ps(v[2], v[3]);
    __m256 t2 = _mm256_hadd_ps(v[4], v[5]), t3 = _mm256_hadd_ps(v[6], v[7]);
    __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3); /* halves: v0..v3 / v4..v7 partial sums */
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

/* op(B) = B^T, op(A) = A: each element is a dot product of two contiguous
 * rows.  Eight outputs at a time: their products accumulate lane-wise over
 * k, then sum8 reduces all eight and one masked store writes them. */
static void small_dots(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float beta, float *c, int64_t ldc)
{
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int64_t i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        for (int64_t j0 = 0; j0 < n; j0 += 8) {
            int nj = n - j0 < 8 ? (int)(n - j0) : 8;
            __m256 acc[8];
            _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) acc[j] = _mm256_setzero_ps();
            for (int64_t p = 0; p < k; p += 8) {
                __m256i msk = gfi_avx2_lanes(k - p < 8 ? (int)(k - p) : 8);
                __m256 av = _mm256_maskload_ps(ai + p, msk);
                const float *bp = b + j0 * ldb + p;
                _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) if (j < nj) acc[j] =
                    _mm256_fmadd_ps(av, _mm256_maskload_ps(bp + j * ldb, msk), acc[j]);
            }
            float *ci = c + i * ldc + j0;
            __m256i out = gfi_avx2_lanes(nj);
            __m256 r = _mm256_mul_ps(va, sum8(acc));
            if (beta != 0.0f)
                r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, out), r);
            _mm256_maskstore_ps(ci, out, r);
        }
    }
}

/* The small path up to 16384 m*n*k, and not for skinny products: against
 * packing (in-process A/B, AVX2 forced), the small workload's 10-unit output
 * layer (32 x 10 x 128) ran 6 % faster per step packed, and mnist's (128 x
 * 10 x 512, skinny) 1.3 - 2.7 %; any limit from 4096 to 32768 measured the
 * same, and the tiny workload's products (at most 256) gain 2.6 x. */
const gfi_gemm_kernel_info gfi_gemm_avx2_info = {MR, NR, 192, 256, 512, avx2_ukernel, avx2_pack_a, avx2_pack_b,
                                               small_rows, small_dots, 16384.0, false};

#else
#ifdef GFI_GEMM_HAVE_X86
const gfi_gemm_kernel_info gfi_gemm_avx2_info = {4, 16, 128, 256, 512, NULL, NULL, NULL, NULL, NULL, 0.0, false};
#else
typedef int gfi_gemm_avx2_unused;
#endif
#endif
