/*
 * diag_stats_avx512.c — AVX-512 versions of the diagnostics scans: sixteen
 * floats per step, widened to two vectors of eight doubles for every sum and
 * sum of squares (so the DESIGN rule holds: a norm of finite floats cannot
 * overflow or underflow however it is summed), float min/max, mask-counted
 * zeros.  The _f kernels and the ReLU scans first add up to 8 values and
 * 8 squares per lane in float; diag_stats.c redoes them with the plain
 * kernels when gfi_float_sums_trusted / gfi_float_moments_trusted (ew.h) say
 * a square may have overflowed or underflowed or the variance cancels.  Each kernel takes the
 * longest prefix that is a multiple of 16 (the _f ones: 32) and returns its
 * length; diag_stats.c finishes the tail with the portable loop and calls
 * these only after checking the CPU (see the Makefile's isa_flags).
 */
#include "diag_stats.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)
#include <immintrin.h>

static __m512d lo_pd(__m512 x) { return _mm512_cvtps_pd(_mm512_castps512_ps256(x)); }
static __m512d hi_pd(__m512 x) { return _mm512_cvtps_pd(_mm512_extractf32x8_ps(x, 1)); }
static __m512 abs_ps(__m512 x) { return _mm512_abs_ps(x); }
/* Eight floats at p widened straight from memory: the same values as lo_pd /
 * hi_pd of a loaded vector, without the shuffle that extracts the upper half
 * (the shuffle port is what limits these scans). */
static __m512d load_pd(const float *p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }

/* uint32 lane counters are flushed every CHUNK elements, long before they could wrap. */
#define CHUNK ((size_t)1 << 28)

static size_t sum_epi32(__m512i v)
{
    uint32_t c[16];
    _mm512_storeu_si512((void *)c, v);
    size_t s = 0;
    for (int k = 0; k < 16; k++)
        s += c[k];
    return s;
}

size_t gfi_sq_scan_avx512(const float *v, size_t n, double *ss, float *maxabs)
{
    __m512d q0 = _mm512_setzero_pd(), q1 = q0, q2 = q0, q3 = q0;
    __m512 m0 = _mm512_setzero_ps(), m1 = m0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_loadu_ps(v + i), b = _mm512_loadu_ps(v + i + 16);
        __m512d al = load_pd(v + i), ah = load_pd(v + i + 8), bl = load_pd(v + i + 16), bh = load_pd(v + i + 24);
        q0 = _mm512_fmadd_pd(al, al, q0);
        q1 = _mm512_fmadd_pd(ah, ah, q1);
        q2 = _mm512_fmadd_pd(bl, bl, q2);
        q3 = _mm512_fmadd_pd(bh, bh, q3);
        m0 = _mm512_max_ps(abs_ps(a), m0);
        m1 = _mm512_max_ps(abs_ps(b), m1);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 a = _mm512_loadu_ps(v + i);
        __m512d al = lo_pd(a), ah = hi_pd(a);
        q0 = _mm512_fmadd_pd(al, al, q0);
        q1 = _mm512_fmadd_pd(ah, ah, q1);
        m0 = _mm512_max_ps(abs_ps(a), m0);
    }
    *ss = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
    *maxabs = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    return i;
}

/* Float partial sums: each of the float accumulators takes GROUP vectors (so
 * at most GROUP terms per lane) before it is widened and added into the
 * double totals.  The caller checks the totals (gfi_float_sums_trusted and
 * gfi_float_moments_trusted, ew.h) and redoes the scan in double when they
 * cannot be trusted. */
#define GROUP 8

static inline void flush_ps(__m512 *f, __m512d *d0, __m512d *d1)
{
    *d0 = _mm512_add_pd(*d0, lo_pd(*f));
    *d1 = _mm512_add_pd(*d1, hi_pd(*f));
    *f = _mm512_setzero_ps();
}

size_t gfi_moment_scan_f_avx512(const float *v, size_t n, double *sum, double *ss)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
    size_t i = 0;
    while (i + 32 <= n) {
        __m512 fs0 = _mm512_setzero_ps(), fs1 = fs0, fq0 = fs0, fq1 = fs0;
        size_t stop = n - i >= 32 * GROUP ? i + 32 * GROUP : n;
        for (; i + 32 <= stop; i += 32) {
            __m512 a = _mm512_loadu_ps(v + i), b = _mm512_loadu_ps(v + i + 16);
            fs0 = _mm512_add_ps(fs0, a);
            fs1 = _mm512_add_ps(fs1, b);
            fq0 = _mm512_fmadd_ps(a, a, fq0);
            fq1 = _mm512_fmadd_ps(b, b, fq1);
        }
        flush_ps(&fs0, &s0, &s1);
        flush_ps(&fs1, &s0, &s1);
        flush_ps(&fq0, &q0, &q1);
        flush_ps(&fq1, &q0, &q1);
    }
    *sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    *ss = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
    return i;
}

size_t gfi_sq_scan_f_avx512(const float *v, size_t n, double *ss, float *maxabs)
{
    __m512d q0 = _mm512_setzero_pd(), q1 = q0;
    __m512 m0 = _mm512_setzero_ps(), m1 = m0;
    size_t i = 0;
    while (i + 32 <= n) {
        __m512 fq0 = _mm512_setzero_ps(), fq1 = fq0;
        size_t stop = n - i >= 32 * GROUP ? i + 32 * GROUP : n;
        for (; i + 32 <= stop; i += 32) {
            __m512 a = _mm512_loadu_ps(v + i), b = _mm512_loadu_ps(v + i + 16);
            fq0 = _mm512_fmadd_ps(a, a, fq0);
            fq1 = _mm512_fmadd_ps(b, b, fq1);
            m0 = _mm512_max_ps(abs_ps(a), m0);
            m1 = _mm512_max_ps(abs_ps(b), m1);
        }
        flush_ps(&fq0, &q0, &q1);
        flush_ps(&fq1, &q0, &q1);
    }
    *ss = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
    *maxabs = _mm512_reduce_max_ps(_mm512_max_ps(m0, m1));
    return i;
}

size_t gfi_moment_scan_avx512(const float *v, size_t n, double *sum, double *ss)
{
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d al = load_pd(v + i), ah = load_pd(v + i + 8);
        s0 = _mm512_add_pd(s0, al);
        s1 = _mm512_add_pd(s1, ah);
        q0 = _mm512_fmadd_pd(al, al, q0);
        q1 = _mm512_fmadd_pd(ah, ah, q1);
    }
    *sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    *ss = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
    return i;
}

size_t gfi_param_scan_avx512(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws)
{
    __m512d gs0 = _mm512_setzero_pd(), gs1 = gs0, gq0 = gs0, gq1 = gs0, wq0 = gs0, wq1 = gs0;
    __m512 gmn = _mm512_set1_ps(gs->min), gmx = _mm512_set1_ps(gs->max), wmx = _mm512_set1_ps(ws->max);
    const __m512 zero = _mm512_setzero_ps();
    const __m512i one = _mm512_set1_epi32(1);
    size_t i = 0;
    while (i + 16 <= n) {
        __m512i gz = _mm512_setzero_si512(), wz = gz;
        size_t stop = n - i > CHUNK ? i + CHUNK : n;
        for (; i + 16 <= stop; i += 16) {
            __m512 g16 = _mm512_loadu_ps(g + i), w16 = _mm512_loadu_ps(w + i);
            __m512d gl = lo_pd(g16), gh = hi_pd(g16), wl = lo_pd(w16), wh = hi_pd(w16);
            gs0 = _mm512_add_pd(gs0, gl);
            gs1 = _mm512_add_pd(gs1, gh);
            gq0 = _mm512_fmadd_pd(gl, gl, gq0);
            gq1 = _mm512_fmadd_pd(gh, gh, gq1);
            wq0 = _mm512_fmadd_pd(wl, wl, wq0);
            wq1 = _mm512_fmadd_pd(wh, wh, wq1);
            /* new value first: a NaN lane keeps the running min/max */
            gmn = _mm512_min_ps(g16, gmn);
            gmx = _mm512_max_ps(g16, gmx);
            wmx = _mm512_max_ps(abs_ps(w16), wmx);
            gz = _mm512_mask_add_epi32(gz, _mm512_cmp_ps_mask(g16, zero, _CMP_EQ_OQ), gz, one);
            wz = _mm512_mask_add_epi32(wz, _mm512_cmp_ps_mask(w16, zero, _CMP_EQ_OQ), wz, one);
        }
        gs->zeros += sum_epi32(gz);
        ws->zeros += sum_epi32(wz);
    }
    gs->sum += _mm512_reduce_add_pd(_mm512_add_pd(gs0, gs1));
    gs->ss += _mm512_reduce_add_pd(_mm512_add_pd(gq0, gq1));
    ws->ss += _mm512_reduce_add_pd(_mm512_add_pd(wq0, wq1));
    gs->min = _mm512_reduce_min_ps(gmn);
    gs->max = _mm512_reduce_max_ps(gmx);
    ws->max = _mm512_reduce_max_ps(wmx);
    return i;
}

size_t gfi_diff_sq_avx512(const float *a, const float *b, size_t n, double *d2)
{
    /* The difference is rounded to float (relative error 2^-24, plenty for
     * a ratio) and squared in double.  A float difference of two finite
     * values can overflow; the caller sees a non-finite sum then and redoes
     * the range in double. */
    __m512d q0 = _mm512_setzero_pd(), q1 = q0, q2 = q0, q3 = q0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 x = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512 y = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
        __m512d xl = lo_pd(x), xh = hi_pd(x), yl = lo_pd(y), yh = hi_pd(y);
        q0 = _mm512_fmadd_pd(xl, xl, q0);
        q1 = _mm512_fmadd_pd(xh, xh, q1);
        q2 = _mm512_fmadd_pd(yl, yl, q2);
        q3 = _mm512_fmadd_pd(yh, yh, q3);
    }
    for (; i + 16 <= n; i += 16) {
        __m512 x = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        __m512d xl = lo_pd(x), xh = hi_pd(x);
        q0 = _mm512_fmadd_pd(xl, xl, q0);
        q1 = _mm512_fmadd_pd(xh, xh, q1);
    }
    *d2 = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
    return i;
}

bool gfi_all_finite_avx512(const float *v, size_t n)
{
    /* |x| as an integer is at least that of +Inf exactly when x is NaN or
     * +-Inf; a running unsigned max has a one-cycle dependency. */
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __m512i m0 = _mm512_setzero_si512(), m1 = m0;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_loadu_si512((const void *)(v + i)), magnitude));
        m1 = _mm512_max_epu32(m1, _mm512_and_si512(_mm512_loadu_si512((const void *)(v + i + 16)), magnitude));
    }
    for (; i < n; i += 16) {
        __mmask16 m = (__mmask16)(n - i >= 16 ? 0xFFFFu : (1u << (n - i)) - 1u);
        m0 = _mm512_max_epu32(m0, _mm512_and_si512(_mm512_maskz_loadu_epi32(m, v + i), magnitude));
    }
    return _mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1)) < 0x7f800000u;
}

/* alive[j] |= 1 for the lanes j of set (within the m lanes in range). */
static inline void mark_alive16(unsigned char *alive, __mmask16 m, __mmask16 set)
{
    __m128i u = _mm_maskz_loadu_epi8(m, alive);
    _mm_mask_storeu_epi8(alive, m, _mm_or_si128(u, _mm_maskz_mov_epi8(set, _mm_set1_epi8(1))));
}

void gfi_relu_scan_avx512(const float *y, size_t rows, size_t cols, double *sum, double *ss, unsigned char *alive)
{
    /* sums in float partials of GROUP vectors (diag_stats.c checks them) */
    __m512d s0 = _mm512_setzero_pd(), s1 = s0, q0 = s0, q1 = s0;
    __m512 fs = _mm512_setzero_ps(), fq = fs;
    int in_group = 0;
    const __m512 zero = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols;
        for (size_t j = 0; j < cols; j += 16) {
            __mmask16 m = (__mmask16)(cols - j >= 16 ? 0xFFFFu : (1u << (cols - j)) - 1u);
            __m512 a = _mm512_maskz_loadu_ps(m, yr + j);
            fs = _mm512_add_ps(fs, a);
            fq = _mm512_fmadd_ps(a, a, fq);
            if (++in_group == GROUP) {
                flush_ps(&fs, &s0, &s1);
                flush_ps(&fq, &q0, &q1);
                in_group = 0;
            }
            /* a unit is alive once its output was not exactly 0 (NaN counts as not 0) */
            __mmask16 nz = _mm512_mask_cmp_ps_mask(m, a, zero, _CMP_NEQ_UQ);
            mark_alive16(alive + j, m, nz);
        }
    }
    flush_ps(&fs, &s0, &s1);
    flush_ps(&fq, &q0, &q1);
    *sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
    *ss = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
}

void gfi_relu_pre_scan_avx512(const float *z, size_t rows, size_t cols, double m[4], unsigned char *alive)
{
    /* z's and y = ReLU(z)'s sums in float partials of GROUP vectors
     * (diag_stats.c checks them); y is z where z > 0, else 0 (NaN gives 0,
     * as in the forward kernel) */
    __m512d zs0 = _mm512_setzero_pd(), zs1 = zs0, zq0 = zs0, zq1 = zs0, ys0 = zs0, ys1 = zs0, yq0 = zs0, yq1 = zs0;
    __m512 fzs = _mm512_setzero_ps(), fzq = fzs, fys = fzs, fyq = fzs;
    int in_group = 0;
    const __m512 zero = _mm512_setzero_ps();
    for (size_t r = 0; r < rows; r++) {
        const float *zr = z + r * cols;
        for (size_t j = 0; j < cols; j += 16) {
            __mmask16 m = (__mmask16)(cols - j >= 16 ? 0xFFFFu : (1u << (cols - j)) - 1u);
            __m512 a = _mm512_maskz_loadu_ps(m, zr + j);
            __mmask16 pos = _mm512_mask_cmp_ps_mask(m, a, zero, _CMP_GT_OQ);
            __m512 y = _mm512_maskz_mov_ps(pos, a);
            fzs = _mm512_add_ps(fzs, a);
            fzq = _mm512_fmadd_ps(a, a, fzq);
            fys = _mm512_add_ps(fys, y);
            fyq = _mm512_fmadd_ps(y, y, fyq);
            if (++in_group == GROUP) {
                flush_ps(&fzs, &zs0, &zs1);
                flush_ps(&fzq, &zq0, &zq1);
                flush_ps(&fys, &ys0, &ys1);
                flush_ps(&fyq, &yq0, &yq1);
                in_group = 0;
            }
            /* a unit is alive once its output was not 0: z > 0 */
            mark_alive16(alive + j, m, pos);
        }
    }
    flush_ps(&fzs, &zs0, &zs1);
    flush_ps(&fzq, &zq0, &zq1);
    flush_ps(&fys, &ys0, &ys1);
    flush_ps(&fyq, &yq0, &yq1);
    m[0] = _mm512_reduce_add_pd(_mm512_add_pd(zs0, zs1));
    m[1] = _mm512_reduce_add_pd(_mm512_add_pd(zq0, zq1));
    m[2] = _mm512_reduce_add_pd(_mm512_add_pd(ys0, ys1));
    m[3] = _mm512_reduce_add_pd(_mm512_add_pd(yq0, yq1));
}

#else
/* Not built with the AVX-512 flags: diag_stats.c never calls into this file. */
typedef int gfi_diag_stats_avx512_unused;
#endif
