/*
 * diag_stats_avx2.c — AVX2 versions of the diagnostics scans, for CPUs
 * without AVX-512: eight floats per step, widened to two vectors of four
 * doubles for every sum and sum of squares (so a norm of finite floats cannot
 * overflow or underflow however it is summed), float min/max, compare-counted
 * zeros.  The _f kernels and the ReLU scans first add up to 8 values and
 * 8 squares per lane in float; diag_stats.c redoes them in double when
 * gfi_float_sums_trusted / gfi_float_moments_trusted (ew.h) say a square may
 * have overflowed or underflowed or the variance cancels.  Each kernel takes the longest prefix that
 * is a multiple of 8 (the _f ones: 16) and returns its length (the ReLU
 * scans: of each row); diag_stats.c finishes
 * the tail with the portable loop.  Built with -mavx2 -mfma (the Makefile's
 * isa_flags) and called only where the element-wise passes run AVX2.
 */
#include "diag_stats.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "simd_avx2.h"

#define INLINE static inline __attribute__((always_inline))

/* Four floats at p widened to double. */
INLINE __m256d load_pd(const float *p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }

/* uint32 lane counters are flushed every CHUNK elements, long before they could wrap. */
#define CHUNK ((size_t)1 << 28)

size_t gfi_sq_scan_avx2(const float *v, size_t n, double *ss, float *maxabs)
{
    __m256d q0 = _mm256_setzero_pd(), q1 = q0, q2 = q0, q3 = q0;
    __m256 m0 = _mm256_setzero_ps(), m1 = m0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256d a0 = load_pd(v + i), a1 = load_pd(v + i + 4), a2 = load_pd(v + i + 8), a3 = load_pd(v + i + 12);
        q0 = _mm256_fmadd_pd(a0, a0, q0);
        q1 = _mm256_fmadd_pd(a1, a1, q1);
        q2 = _mm256_fmadd_pd(a2, a2, q2);
        q3 = _mm256_fmadd_pd(a3, a3, q3);
        m0 = _mm256_max_ps(gfi_avx2_abs_ps(_mm256_loadu_ps(v + i)), m0);
        m1 = _mm256_max_ps(gfi_avx2_abs_ps(_mm256_loadu_ps(v + i + 8)), m1);
    }
    for (; i + 8 <= n; i += 8) {
        __m256d a0 = load_pd(v + i), a1 = load_pd(v + i + 4);
        q0 = _mm256_fmadd_pd(a0, a0, q0);
        q1 = _mm256_fmadd_pd(a1, a1, q1);
        m0 = _mm256_max_ps(gfi_avx2_abs_ps(_mm256_loadu_ps(v + i)), m0);
    }
    *ss = gfi_avx2_sum_pd(_mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)));
    *maxabs = gfi_avx2_extreme_ps(_mm256_max_ps(m0, m1), 1);
    return i;
}

/* Float partial sums: each float accumulator takes GROUP vectors (at most
 * GROUP terms per lane) before it is widened and added into the double
 * totals; diag_stats.c checks the totals (gfi_float_sums_trusted and
 * gfi_float_moments_trusted, ew.h) and redoes the scan with the double
 * kernels above when they cannot be trusted. */
#define GROUP 8

INLINE void flush_ps(__m256 *f, __m256d *d)
{
    *d = _mm256_add_pd(*d, _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(*f)),
                                         _mm256_cvtps_pd(_mm256_extractf128_ps(*f, 1))));
    *f = _mm256_setzero_ps();
}

size_t gfi_sq_scan_f_avx2(const float *v, size_t n, double *ss, float *maxabs)
{
    __m256d q = _mm256_setzero_pd();
    __m256 m0 = _mm256_setzero_ps(), m1 = m0;
    size_t i = 0;
    while (i + 16 <= n) {
        __m256 f0 = _mm256_setzero_ps(), f1 = f0;
        size_t stop = n - i >= 16 * GROUP ? i + 16 * GROUP : n;
        for (; i + 16 <= stop; i += 16) {
            __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + i + 8);
            f0 = _mm256_fmadd_ps(a, a, f0);
            f1 = _mm256_fmadd_ps(b, b, f1);
            m0 = _mm256_max_ps(gfi_avx2_abs_ps(a), m0);
            m1 = _mm256_max_ps(gfi_avx2_abs_ps(b), m1);
        }
        flush_ps(&f0, &q);
        flush_ps(&f1, &q);
    }
    *ss = gfi_avx2_sum_pd(q);
    *maxabs = gfi_avx2_extreme_ps(_mm256_max_ps(m0, m1), 1);
    return i;
}

size_t gfi_moment_scan_f_avx2(const float *v, size_t n, double *sum, double *ss)
{
    __m256d s = _mm256_setzero_pd(), q = s;
    size_t i = 0;
    while (i + 16 <= n) {
        __m256 fs0 = _mm256_setzero_ps(), fs1 = fs0, fq0 = fs0, fq1 = fs0;
        size_t stop = n - i >= 16 * GROUP ? i + 16 * GROUP : n;
        for (; i + 16 <= stop; i += 16) {
            __m256 a = _mm256_loadu_ps(v + i), b = _mm256_loadu_ps(v + i + 8);
            fs0 = _mm256_add_ps(fs0, a);
            fs1 = _mm256_add_ps(fs1, b);
            fq0 = _mm256_fmadd_ps(a, a, fq0);
            fq1 = _mm256_fmadd_ps(b, b, fq1);
        }
        flush_ps(&fs0, &s);
        flush_ps(&fs1, &s);
        flush_ps(&fq0, &q);
        flush_ps(&fq1, &q);
    }
    *sum = gfi_avx2_sum_pd(s);
    *ss = gfi_avx2_sum_pd(q);
    return i;
}

size_t gfi_moment_scan_avx2(const float *v, size_t n, double *sum, double *ss)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d a0 = load_pd(v + i), a1 = load_pd(v + i + 4);
        s0 = _mm256_add_pd(s0, a0);
        s1 = _mm256_add_pd(s1, a1);
        q0 = _mm256_fmadd_pd(a0, a0, q0);
        q1 = _mm256_fmadd_pd(a1, a1, q1);
    }
    *sum = gfi_avx2_sum_pd(_mm256_add_pd(s0, s1));
    *ss = gfi_avx2_sum_pd(_mm256_add_pd(q0, q1));
    return i;
}

size_t gfi_param_scan_avx2(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws)
{
    __m256d gs0 = _mm256_setzero_pd(), gq0 = gs0, gq1 = gs0, wq0 = gs0, wq1 = gs0;
    __m256 gmn = _mm256_set1_ps(gs->min), gmx = _mm256_set1_ps(gs->max), wmx = _mm256_set1_ps(ws->max);
    const __m256 zero = _mm256_setzero_ps();
    size_t i = 0;
    while (i + 8 <= n) {
        __m256i gz = _mm256_setzero_si256(), wz = gz;
        size_t stop = n - i > CHUNK ? i + CHUNK : n;
        for (; i + 8 <= stop; i += 8) {
            __m256 g8 = _mm256_loadu_ps(g + i), w8 = _mm256_loadu_ps(w + i);
            __m256d gl = load_pd(g + i), gh = load_pd(g + i + 4), wl = load_pd(w + i), wh = load_pd(w + i + 4);
            gs0 = _mm256_add_pd(gs0, _mm256_add_pd(gl, gh));
            gq0 = _mm256_fmadd_pd(gl, gl, gq0);
            gq1 = _mm256_fmadd_pd(gh, gh, gq1);
            wq0 = _mm256_fmadd_pd(wl, wl, wq0);
            wq1 = _mm256_fmadd_pd(wh, wh, wq1);
            /* new value first: a NaN lane keeps the running min/max */
            gmn = _mm256_min_ps(g8, gmn);
            gmx = _mm256_max_ps(g8, gmx);
            wmx = _mm256_max_ps(gfi_avx2_abs_ps(w8), wmx);
            /* an equal lane is all ones, i.e. -1: subtracting counts it */
            gz = _mm256_sub_epi32(gz, _mm256_castps_si256(_mm256_cmp_ps(g8, zero, _CMP_EQ_OQ)));
            wz = _mm256_sub_epi32(wz, _mm256_castps_si256(_mm256_cmp_ps(w8, zero, _CMP_EQ_OQ)));
        }
        gs->zeros += gfi_avx2_sum_epu32(gz);
        ws->zeros += gfi_avx2_sum_epu32(wz);
    }
    gs->sum += gfi_avx2_sum_pd(gs0);
    gs->ss += gfi_avx2_sum_pd(_mm256_add_pd(gq0, gq1));
    ws->ss += gfi_avx2_sum_pd(_mm256_add_pd(wq0, wq1));
    gs->min = gfi_avx2_extreme_ps(gmn, 0);
    gs->max = gfi_avx2_extreme_ps(gmx, 1);
    ws->max = gfi_avx2_extreme_ps(wmx, 1);
    return i;
}

size_t gfi_diff_sq_avx2(const float *a, const float *b, size_t n, double *d2)
{
    /* As the AVX-512 kernel: the difference rounded to float, squared in
     * double; an overflowing float difference makes the sum non-finite and
     * the caller redoes the range in double. */
    __m256d q0 = _mm256_setzero_pd(), q1 = q0, q2 = q0, q3 = q0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 x = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 y = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), xh = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        __m256d yl = _mm256_cvtps_pd(_mm256_castps256_ps128(y)), yh = _mm256_cvtps_pd(_mm256_extractf128_ps(y, 1));
        q0 = _mm256_fmadd_pd(xl, xl, q0);
        q1 = _mm256_fmadd_pd(xh, xh, q1);
        q2 = _mm256_fmadd_pd(yl, yl, q2);
        q3 = _mm256_fmadd_pd(yh, yh, q3);
    }
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256d xl = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), xh = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
        q0 = _mm256_fmadd_pd(xl, xl, q0);
        q1 = _mm256_fmadd_pd(xh, xh, q1);
    }
    *d2 = gfi_avx2_sum_pd(_mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)));
    return i;
}

size_t gfi_all_finite_avx2(const float *v, size_t n, bool *finite)
{
    /* |x| as an integer is at least that of +Inf exactly when x is NaN or
     * +-Inf. */
    const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
    __m256i m0 = _mm256_setzero_si256(), m1 = m0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(v + i)), magnitude));
        m1 = _mm256_max_epu32(m1,
                              _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(v + i + 8)), magnitude));
    }
    for (; i + 8 <= n; i += 8)
        m0 = _mm256_max_epu32(m0, _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(v + i)), magnitude));
    /* some lane reached the exponent of +Inf: compare as signed (the values
     * are at most 0x7fffffff) */
    __m256i big = _mm256_cmpgt_epi32(_mm256_max_epu32(m0, m1), _mm256_set1_epi32(0x7f7fffff));
    *finite = _mm256_testz_si256(big, big) != 0;
    return i;
}

/* alive[0..8) |= 1 where the lane of mask (all ones or all zeros) is set:
 * the eight lanes packed to bytes and or-ed in. */
INLINE void mark_alive8(unsigned char *alive, __m256 mask)
{
    __m256i nz = _mm256_and_si256(_mm256_castps_si256(mask), _mm256_set1_epi32(1));
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(nz), _mm256_extracti128_si256(nz, 1));
    __m128i b = _mm_packus_epi16(w, w);
    __m128i cur = _mm_loadl_epi64((const __m128i *)(const void *)alive);
    _mm_storel_epi64((__m128i *)(void *)alive, _mm_or_si128(cur, b));
}

size_t gfi_relu_scan_avx2(const float *y, size_t rows, size_t cols, double *sum, double *ss, unsigned char *alive)
{
    /* sums in float partials of GROUP vectors (diag_stats.c checks them) */
    __m256d s = _mm256_setzero_pd(), q = s;
    __m256 fs = _mm256_setzero_ps(), fq = fs;
    int in_group = 0;
    const __m256 zero = _mm256_setzero_ps();
    const size_t full = cols / 8 * 8;
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols;
        for (size_t j = 0; j < full; j += 8) {
            __m256 a = _mm256_loadu_ps(yr + j);
            fs = _mm256_add_ps(fs, a);
            fq = _mm256_fmadd_ps(a, a, fq);
            if (++in_group == GROUP) {
                flush_ps(&fs, &s);
                flush_ps(&fq, &q);
                in_group = 0;
            }
            /* a unit is alive once its output was not exactly 0 (NaN counts as not 0) */
            mark_alive8(alive + j, _mm256_cmp_ps(a, zero, _CMP_NEQ_UQ));
        }
    }
    flush_ps(&fs, &s);
    flush_ps(&fq, &q);
    *sum = gfi_avx2_sum_pd(s);
    *ss = gfi_avx2_sum_pd(q);
    return full;
}

size_t gfi_relu_pre_scan_avx2(const float *z, size_t rows, size_t cols, double m[4], unsigned char *alive)
{
    /* z's and y = ReLU(z)'s sums in float partials of GROUP vectors
     * (diag_stats.c checks them); y is z where z > 0, else 0 (NaN gives 0,
     * as in the forward kernel) */
    __m256d zs = _mm256_setzero_pd(), zq = zs, ys = zs, yq = zs;
    __m256 fzs = _mm256_setzero_ps(), fzq = fzs, fys = fzs, fyq = fzs;
    int in_group = 0;
    const __m256 zero = _mm256_setzero_ps();
    const size_t full = cols / 8 * 8;
    for (size_t r = 0; r < rows; r++) {
        const float *zr = z + r * cols;
        for (size_t j = 0; j < full; j += 8) {
            __m256 a = _mm256_loadu_ps(zr + j);
            __m256 pos = _mm256_cmp_ps(a, zero, _CMP_GT_OQ);
            __m256 y = _mm256_and_ps(a, pos);
            fzs = _mm256_add_ps(fzs, a);
            fzq = _mm256_fmadd_ps(a, a, fzq);
            fys = _mm256_add_ps(fys, y);
            fyq = _mm256_fmadd_ps(y, y, fyq);
            if (++in_group == GROUP) {
                flush_ps(&fzs, &zs);
                flush_ps(&fzq, &zq);
                flush_ps(&fys, &ys);
                flush_ps(&fyq, &yq);
                in_group = 0;
            }
            /* a unit is alive once its output was not 0: z > 0 */
            mark_alive8(alive + j, pos);
        }
    }
    flush_ps(&fzs, &zs);
    flush_ps(&fzq, &zq);
    flush_ps(&fys, &ys);
    flush_ps(&fyq, &yq);
    m[0] = gfi_avx2_sum_pd(zs);
    m[1] = gfi_avx2_sum_pd(zq);
    m[2] = gfi_avx2_sum_pd(ys);
    m[3] = gfi_avx2_sum_pd(yq);
    return full;
}

#else
/* Not built with the AVX2 flags: diag_stats.c never calls into this file. */
typedef int gfi_diag_stats_avx2_unused;
#endif
