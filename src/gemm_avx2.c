/*
 * gemm_avx2.c — the AVX2 + FMA micro-kernel: a 6 x 16 tile of C held in 12
 * ymm accumulators; each step of k loads two vectors of packed B and
 * broadcasts six elements of packed A.  Built with -mavx2 -mfma (see the
 * Makefile's isa_flags); called only after gemm.c checked the CPU.
 */
#include "gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define MR 6
#define NR 16

#define ROW_FMA(i)                                                                                                     \
    do {                                                                                                               \
        __m256 a_ = _mm256_broadcast_ss(pa + (i));                                                                     \
        c##i##0 = _mm256_fmadd_ps(a_, b0, c##i##0);                                                                    \
        c##i##1 = _mm256_fmadd_ps(a_, b1, c##i##1);                                                                    \
    } while (0)

#define STEP()                                                                                                         \
    do {                                                                                                               \
        __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);                                                   \
        ROW_FMA(0);                                                                                                    \
        ROW_FMA(1);                                                                                                    \
        ROW_FMA(2);                                                                                                    \
        ROW_FMA(3);                                                                                                    \
        ROW_FMA(4);                                                                                                    \
        ROW_FMA(5);                                                                                                    \
        pa += MR;                                                                                                      \
        pb += NR;                                                                                                      \
    } while (0)

#define STORE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        _mm256_store_ps(tile + (i) * NR, c##i##0);                                                                     \
        _mm256_store_ps(tile + (i) * NR + 8, c##i##1);                                                                 \
    } while (0)

/* Lane mask with the first count (clamped to 0..8) lanes set. */
static __m256i first_lanes(int count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static void avx2_ukernel(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha, float beta,
                         int mr, int nr)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;

    for (int i = 0; i < mr; i++)
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        STEP();
        STEP();
        STEP();
        STEP();
    }
    for (; p < kc; p++)
        STEP();

    _Alignas(32) float tile[MR * NR];
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);

    /* Masked-off lanes are neither read nor written, so edges are safe. */
    __m256i m0 = first_lanes(nr), m1 = first_lanes(nr - 8);
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
        const __m256i msk = first_lanes(n - j < 8 ? (int)(n - j) : 8);
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
                __m256i msk = first_lanes(k - p < 8 ? (int)(k - p) : 8);
                __m256 av = _mm256_maskload_ps(ai + p, msk);
                const float *bp = b + j0 * ldb + p;
                _Pragma("GCC unroll 8") for (int j = 0; j < 8; j++) if (j < nj) acc[j] =
                    _mm256_fmadd_ps(av, _mm256_maskload_ps(bp + j * ldb, msk), acc[j]);
            }
            float *ci = c + i * ldc + j0;
            __m256i out = first_lanes(nj);
            __m256 r = _mm256_mul_ps(va, sum8(acc));
            if (beta != 0.0f)
                r = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, out), r);
            _mm256_maskstore_ps(ci, out, r);
        }
    }
}

/* op(A) = A^T and op(B) = B^T (unused by the dense layer): plain loops. */
static void small_scalar(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                         int64_t ldb, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t p = 0; p < k; p++)
                s += a[p * lda + i] * b[j * ldb + p];
            float v = alpha * s;
            c[i * ldc + j] = beta != 0.0f ? beta * c[i * ldc + j] + v : v;
        }
}

static void avx2_small(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (!trans_b)
        small_rows(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (!trans_a)
        small_dots(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        small_scalar(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* The small path up to 16384 m*n*k, and not for skinny products: against
 * packing (in-process A/B, AVX2 forced), the small workload's 10-unit output
 * layer (32 x 10 x 128) ran 6 % faster per step packed, and mnist's (128 x
 * 10 x 512, skinny) 1.3 - 2.7 %; any limit from 4096 to 32768 measured the
 * same, and the tiny workload's products (at most 256) gain 2.6 x. */
const gfi_gemm_kernel_info gfi_gemm_avx2_info = {MR, NR, 192, 256, 512, avx2_ukernel, gfi_gemm_pack_a_generic,
                                               gfi_gemm_pack_b_generic, avx2_small, 16384.0, false};

#else
#ifdef GFI_GEMM_HAVE_X86
const gfi_gemm_kernel_info gfi_gemm_avx2_info = {4, 16, 128, 256, 512, NULL, NULL, NULL, NULL, 0.0, false};
#else
typedef int gfi_gemm_avx2_unused;
#endif
#endif
