/*
 * gemm_avx512.c — the AVX-512 micro-kernel: a 12 x 32 tile of C held in 24
 * zmm accumulators; each step of k loads two vectors of packed B and
 * broadcasts twelve elements of packed A (folded into the FMAs), so the two
 * FMA ports see 24 independent chains.  Built with the AVX-512 flags (see the
 * Makefile's isa_flags); called only after gemm.c checked the CPU.
 */
#include "gemm.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define MR 12
#define NR 32

/* Row i of the tile: two FMAs against the current B vectors. */
#define ROW_FMA(i)                                                                                                     \
    do {                                                                                                               \
        __m512 a_ = _mm512_set1_ps(pa[(i)]);                                                                           \
        c##i##0 = _mm512_fmadd_ps(a_, b0, c##i##0);                                                                    \
        c##i##1 = _mm512_fmadd_ps(a_, b1, c##i##1);                                                                    \
    } while (0)

/* Row i of a full tile straight from the accumulators; the same arithmetic
 * as write_partial, so a value never depends on its tile. */
#define WRITE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        float *ci_ = c + (i) * ldc;                                                                                    \
        __m512 r0_ = _mm512_mul_ps(va, c##i##0), r1_ = _mm512_mul_ps(va, c##i##1);                                     \
        if (beta != 0.0f) {                                                                                            \
            r0_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci_), r0_);                                                      \
            r1_ = _mm512_fmadd_ps(vb, _mm512_loadu_ps(ci_ + 16), r1_);                                                 \
        }                                                                                                              \
        _mm512_storeu_ps(ci_, r0_);                                                                                    \
        _mm512_storeu_ps(ci_ + 16, r1_);                                                                               \
    } while (0)

#define STORE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        _mm512_store_ps(tile + (i) * NR, c##i##0);                                                                     \
        _mm512_store_ps(tile + (i) * NR + 16, c##i##1);                                                                \
    } while (0)

/* Applies X to rows 0..3, 0..7 or 0..11 of the tile. */
#define ROWS4(X) X(0); X(1); X(2); X(3)
#define ROWS8(X) ROWS4(X); X(4); X(5); X(6); X(7)
#define ROWS12(X) ROWS8(X); X(8); X(9); X(10); X(11)

/* The end of an R-row kernel: a full tile straight from the accumulators,
 * anything else through a spilled tile and write_partial. */
#define FINISH_ROWS(R, ROWS)                                                                                           \
    do {                                                                                                               \
        if (mr == (R) && nr == NR) {                                                                                   \
            __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                                              \
            ROWS(WRITE_ROW);                                                                                           \
            return;                                                                                                    \
        }                                                                                                              \
        _Alignas(64) float tile[(R) * NR];                                                                             \
        ROWS(STORE_ROW);                                                                                               \
        write_partial(tile, c, ldc, alpha, beta, mr, nr);                                                              \
    } while (0)

/* Writes the valid mr x nr corner of a spilled tile (rows of NR floats) into
 * C: alpha*acc, then fma(beta, c, .) unless beta == 0; columns past nr are
 * masked off, so those loads and stores never touch memory.  The same
 * arithmetic as WRITE_ROW, so a value never depends on its tile. */
static inline __attribute__((always_inline)) void write_partial(const float *tile, float *c, int64_t ldc,
                                                               float alpha, float beta, int mr, int nr)
{
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1u);
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, _mm512_load_ps(tile + i * NR));
        __m512 r1 = _mm512_mul_ps(va, _mm512_load_ps(tile + i * NR + 16));
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

/* Bring the C rows in while the products accumulate. */
static inline __attribute__((always_inline)) void prefetch_c(const float *c, int64_t ldc, int mr)
{
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
}

/* The last sliver of a row block often has fewer than 12 valid rows (m = 128
 * is 10 x 12 + 8).  These variants read the same packed sliver (MR floats per
 * step of k) but issue only 8 or 4 rows' FMAs, instead of computing padding:
 * each element still gets the same sequence of FMAs over k. */
#define STEP_ROWS(ROWS_FMA)                                                                                            \
    do {                                                                                                               \
        __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);                                                  \
        ROWS_FMA;                                                                                                      \
        pa += MR;                                                                                                      \
        pb += NR;                                                                                                      \
    } while (0)

static void avx512_ukernel4(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                            float beta, int mr, int nr)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    prefetch_c(c, ldc, mr);
    for (int64_t p = 0; p < kc; p++)
        STEP_ROWS(ROWS4(ROW_FMA));
    FINISH_ROWS(4, ROWS4);
}

static void avx512_ukernel8(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                            float beta, int mr, int nr)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    prefetch_c(c, ldc, mr);
    for (int64_t p = 0; p < kc; p++)
        STEP_ROWS(ROWS8(ROW_FMA));
    FINISH_ROWS(8, ROWS8);
}

static void avx512_ukernel(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                           float beta, int mr, int nr)
{
    if (mr <= 4) {
        avx512_ukernel4(kc, pa, pb, c, ldc, alpha, beta, mr, nr);
        return;
    }
    if (mr <= 8) {
        avx512_ukernel8(kc, pa, pb, c, ldc, alpha, beta, mr, nr);
        return;
    }
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    __m512 c80 = c00, c81 = c00, c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;
    prefetch_c(c, ldc, mr);
    for (int64_t p = 0; p < kc; p++)
        STEP_ROWS(ROWS12(ROW_FMA));
    FINISH_ROWS(MR, ROWS12);
}

/* ---- packing with 16 x 16 register transposes ---- */

/* The transposes must be fully unrolled: with a loop left, the compiler keeps
 * the 16-register arrays in memory and every shuffle goes through the stack. */
#define UNROLL16 _Pragma("GCC unroll 16")

/* Mask with the first n (clamped to 0..16) lanes set. */
static __mmask16 first_lanes(int64_t n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1u);
}

/* Transposes r[0..15] in place: afterwards r[j] lane i is the old r[i] lane j.
 * Four rounds of 16 shuffles: pairs within 128-bit lanes, quads within lanes,
 * then 128-bit lanes across registers twice. */
static inline __attribute__((always_inline)) void transpose16(__m512 r[16])
{
    __m512 t[16], u[16];
    UNROLL16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    UNROLL16
    for (int g = 0; g < 16; g += 4) {
        u[g] = _mm512_shuffle_ps(t[g], t[g + 2], 0x44);
        u[g + 1] = _mm512_shuffle_ps(t[g], t[g + 2], 0xee);
        u[g + 2] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0x44);
        u[g + 3] = _mm512_shuffle_ps(t[g + 1], t[g + 3], 0xee);
    }
    /* u[4g + c], 128-bit lane l, holds rows 4g..4g+3 of column 4l + c. */
    UNROLL16
    for (int c = 0; c < 4; c++) {
        __m512 vlo = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), vhi = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
        __m512 wlo = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
        __m512 whi = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
        r[c] = _mm512_shuffle_f32x4(vlo, wlo, 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(vlo, wlo, 0xdd);
        r[4 + c] = _mm512_shuffle_f32x4(vhi, whi, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(vhi, whi, 0xdd);
    }
}

/* Reads up to 16 rows (nrows valid, the rest zero) of 16 columns (ncols
 * valid) starting at src, row stride ld, and returns them transposed: r[q]
 * holds column q. */
static inline __attribute__((always_inline)) void load_transposed(__m512 r[16], const float *src, int64_t ld, int nrows, int64_t ncols)
{
    __mmask16 m = first_lanes(ncols);
    UNROLL16
    for (int i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_maskz_loadu_ps(m, src + i * ld) : _mm512_setzero_ps();
    transpose16(r);
}

static void avx512_pack_a(int mr, bool trans, const float *a, int64_t lda, int64_t i0, int64_t p0, int64_t mb,
                          int64_t kb, float *dst)
{
    (void)mr;
    const __mmask16 row_mask = (__mmask16)((1u << MR) - 1u);
    for (int64_t s = 0; s < mb; s += MR) {
        int rows = mb - s < MR ? (int)(mb - s) : MR;
        if (trans) {
            /* op(A)[i][p] = a[p*lda + i]: MR contiguous floats per p. */
            __mmask16 m = first_lanes(rows);
            const float *src = a + p0 * lda + i0 + s;
            for (int64_t p = 0; p < kb; p++)
                _mm512_mask_storeu_ps(dst + p * MR, row_mask, _mm512_maskz_loadu_ps(m, src + p * lda));
        } else {
            const float *src = a + (i0 + s) * lda + p0;
            int64_t p = 0;
            for (; p + 16 <= kb; p += 16) {
                __m512 r[16]; /* stays in registers: every index below is a constant */
                load_transposed(r, src + p, lda, rows, 16);
                UNROLL16
                for (int q = 0; q < 16; q++)
                    _mm512_mask_storeu_ps(dst + (p + q) * MR, row_mask, r[q]);
            }
            if (p < kb) {
                __m512 e[16];
                load_transposed(e, src + p, lda, rows, kb - p);
                for (int q = 0; q < kb - p; q++)
                    _mm512_mask_storeu_ps(dst + (p + q) * MR, row_mask, e[q]);
            }
        }
        dst += (int64_t)MR * kb;
    }
}

static void avx512_pack_b(int nr, bool trans, const float *b, int64_t ldb, int64_t p0, int64_t j0, int64_t kb,
                          int64_t nb, float *dst)
{
    (void)nr;
    if (!trans) {
        /* op(B)[p][j] = b[p*ldb + j]: walk B row by row (each row segment read
         * front to back, rows in order, which the hardware prefetcher follows)
         * and scatter each row's 32-float pieces to the slivers. */
        int64_t full = nb / NR * NR;
        __mmask16 m0 = first_lanes(nb - full), m1 = first_lanes(nb - full - 16);
        for (int64_t p = 0; p < kb; p++) {
            const float *src = b + (p0 + p) * ldb + j0;
            float *d = dst + p * NR;
            int64_t s = 0;
            for (; s < full; s += NR, d += NR * kb) {
                _mm512_store_ps(d, _mm512_loadu_ps(src + s));
                _mm512_store_ps(d + 16, _mm512_loadu_ps(src + s + 16));
            }
            if (s < nb) {
                _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, src + s));
                _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, src + s + 16));
            }
        }
        return;
    }
    for (int64_t s = 0; s < nb; s += NR) {
        int64_t cols = nb - s < NR ? nb - s : NR;
        {
            /* op(B)[p][j] = b[j*ldb + p]: transpose 16 rows of B at a time. */
            for (int half = 0; half < NR; half += 16) {
                int rows = cols - half <= 0 ? 0 : cols - half < 16 ? (int)(cols - half) : 16;
                const float *src = b + (j0 + s + half) * ldb + p0;
                int64_t p = 0;
                for (; p + 16 <= kb; p += 16) {
                    __m512 r[16]; /* stays in registers: every index below is a constant */
                    load_transposed(r, src + p, ldb, rows, 16);
                    UNROLL16
                    for (int q = 0; q < 16; q++)
                        _mm512_store_ps(dst + (p + q) * NR + half, r[q]);
                }
                if (p < kb) {
                    __m512 e[16];
                    load_transposed(e, src + p, ldb, rows, kb - p);
                    for (int q = 0; q < kb - p; q++)
                        _mm512_store_ps(dst + (p + q) * NR + half, e[q]);
                }
            }
        }
        dst += (int64_t)NR * kb;
    }
}

/* ---- small products straight from the operands (no packing) ---- */

/* alpha*acc + beta*C into the masked lanes of ci; C is not read when beta == 0. */
static inline void small_store(float *ci, __mmask16 m, __m512 acc, float alpha, float beta)
{
    __m512 r = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
    if (beta != 0.0f)
        r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m, ci), r);
    _mm512_mask_storeu_ps(ci, m, r);
}

/* op(B) = B: C row i, 16 columns at a time, is a sum of rows of B scaled by
 * op(A)[i][p]; two accumulators halve the FMA latency chain.  Column blocks
 * outside, rows inside, so a block's mask is built once; beta_zero is a
 * constant in each of the two instances, which keeps the test out of the
 * row loop. */
static inline __attribute__((always_inline)) void small_rows_impl(bool trans_a, int64_t m, int64_t n, int64_t k,
                                                                  float alpha, const float *a, int64_t lda,
                                                                  const float *b, int64_t ldb, float beta, float *c,
                                                                  int64_t ldc, const bool beta_zero)
{
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const int64_t sa_i = trans_a ? 1 : lda, sa_p = trans_a ? lda : 1; /* op(A)[i][p] = a[i*sa_i + p*sa_p] */
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 msk = first_lanes(n - j);
        const float *bj = b + j;
        for (int64_t i = 0; i < m; i++) {
            const float *ai = a + i * sa_i;
            __m512 s0 = _mm512_setzero_ps(), s1 = s0;
            int64_t p = 0;
            for (; p + 1 < k; p += 2) {
                s0 = _mm512_fmadd_ps(_mm512_set1_ps(ai[p * sa_p]), _mm512_maskz_loadu_ps(msk, bj + p * ldb), s0);
                s1 = _mm512_fmadd_ps(_mm512_set1_ps(ai[(p + 1) * sa_p]), _mm512_maskz_loadu_ps(msk, bj + (p + 1) * ldb),
                                     s1);
            }
            if (p < k)
                s0 = _mm512_fmadd_ps(_mm512_set1_ps(ai[p * sa_p]), _mm512_maskz_loadu_ps(msk, bj + p * ldb), s0);
            /* alpha*acc + beta*C, as small_store does. */
            float *ci = c + i * ldc + j;
            __m512 r = _mm512_mul_ps(va, _mm512_add_ps(s0, s1));
            if (!beta_zero)
                r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(msk, ci), r);
            _mm512_mask_storeu_ps(ci, msk, r);
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

/* Sixteen vectors in, one out: lane j of the result is the sum of the lanes
 * of v[j].  A butterfly of unpacks and 128-bit shuffles halves the vector
 * count at each of four levels (45 operations instead of 16 separate
 * horizontal sums); the lanes of each v[j] are added in a fixed order. */
static inline __attribute__((always_inline)) __m512 sum16(__m512 v[16])
{
    __m512 s[8], t[4], u[2];
    UNROLL16
    for (int i = 0; i < 8; i++) /* per 128-bit lane: [v2i, v2i+1, v2i, v2i+1] partial sums */
        s[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]), _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
    UNROLL16
    for (int i = 0; i < 4; i++) { /* per 128-bit lane: v4i .. v4i+3 */
        __m512d a = _mm512_castps_pd(s[2 * i]), b = _mm512_castps_pd(s[2 * i + 1]);
        t[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)), _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
    }
    UNROLL16
    for (int i = 0; i < 2; i++) /* 128-bit lanes: v8i..+3, v8i..+3, v8i+4..+7, v8i+4..+7 */
        u[i] = _mm512_add_ps(_mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(t[2 * i], t[2 * i + 1], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88), _mm512_shuffle_f32x4(u[0], u[1], 0xdd));
}

/* op(B) = B^T, op(A) = A: each element is a dot product of two contiguous
 * rows.  Sixteen outputs at a time: their products accumulate lane-wise over
 * k, then one butterfly (sum16) reduces all sixteen and a single masked
 * store writes them. */
static void small_dots(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                       int64_t ldb, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        const float *ai = a + i * lda;
        for (int64_t j0 = 0; j0 < n; j0 += 16) {
            int nj = n - j0 < 16 ? (int)(n - j0) : 16;
            __m512 acc[16]; /* in registers: fully unrolled, every index a constant */
            UNROLL16
            for (int j = 0; j < 16; j++)
                acc[j] = _mm512_setzero_ps();
            for (int64_t p = 0; p < k; p += 16) {
                __mmask16 msk = first_lanes(k - p);
                __m512 av = _mm512_maskz_loadu_ps(msk, ai + p);
                const float *bp = b + j0 * ldb + p;
                UNROLL16
                for (int j = 0; j < 16; j++)
                    if (j < nj)
                        acc[j] = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(msk, bp + j * ldb), acc[j]);
            }
            small_store(c + i * ldc + j0, first_lanes(nj), sum16(acc), alpha, beta);
        }
    }
}

/* mc 48 (four A slivers, 48 KiB at kc 256): measured against 192 in one process
 * (bench/step_ab.c, its mnist and wide steps), mnist -2 to -3 % and wide -6 to -8 % per step;
 * 24 to 60 all did about as well. */
const gfi_gemm_kernel_info gfi_gemm_avx512_info = {MR, NR, 48, 256, 512, avx512_ukernel, avx512_pack_a, avx512_pack_b,
                                                   small_rows, small_dots, 65536.0, true};

#else
/* Not an x86 build with AVX-512 flags: gemm.c never selects this kernel. */
#ifdef GFI_GEMM_HAVE_X86
const gfi_gemm_kernel_info gfi_gemm_avx512_info = {4, 16, 128, 256, 512, NULL, NULL, NULL, NULL, NULL, 0.0, false};
#else
typedef int gfi_gemm_avx512_unused;
#endif
#endif
