/*
 * diag_stats.c — the single-pass reductions behind the diagnostics: sums and
 * squares in double (squares of floats cannot overflow or underflow a double,
 * so a norm of finite floats is always right), min/max/zero counts, and
 * NaN/Inf counts for the rare pass that needs them.
 *
 * Where SSE2 is available (every x86-64) the loops take four floats at a
 * time and sum squares as doubles in two-lane vectors; several independent
 * accumulators keep the double adds off their latency.  AVX2 and AVX-512
 * versions (diag_stats_avx2.c / _avx512.c) take 8 / 16 at a time where the
 * element-wise passes run those instruction sets.  A non-finite element always makes the double sum of
 * squares non-finite, which is how the fast passes detect one for free.
 * The squares and moments scans there (inputs, activations,
 * pre-activations, deltas) add up to 8 values and 8 squares per lane in
 * float before widening; when gfi_float_sums_trusted or
 * gfi_float_moments_trusted (ew.h) cannot vouch for the totals (a NaN/Inf,
 * an overflowed or underflowed square, a variance that cancels) the scan is
 * redone in double (docs/design.md, "Sums and squares in float partials"),
 * and gfi_variance takes a variance that double sums would still blur in
 * two passes.
 */
#include "diag_stats.h"
#include "ew.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The AVX-512 and AVX2 kernels (diag_stats_avx512.c, diag_stats_avx2.c) run
 * where the element-wise passes run theirs: the same CPU requirements
 * (decided once, see ew.c), and pinned with them by gfi_ew_force.  Other
 * CPUs build and run the loops below only. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define HAVE_X86_FILES 1
static bool use_avx512(void) { return gfi_ew() == &gfi_ew_avx512; }
static bool use_avx2(void) { return gfi_ew() == &gfi_ew_avx2; }
#endif

#if defined(__SSE2__)
static double hsum_pd(__m128d v) { return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v))); }

static float hmin_ps(__m128 v)
{
    v = _mm_min_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_min_ss(v, _mm_shuffle_ps(v, v, 1)));
}

static float hmax_ps(__m128 v)
{
    v = _mm_max_ps(v, _mm_movehl_ps(v, v));
    return _mm_cvtss_f32(_mm_max_ss(v, _mm_shuffle_ps(v, v, 1)));
}

static size_t hsum_epi32(__m128i v)
{
    uint32_t c[4];
    _mm_storeu_si128((__m128i *)(void *)c, v);
    return (size_t)c[0] + c[1] + c[2] + c[3];
}
#endif

void gfi_sq_scan(const float *v, size_t n, gfi_sq *out)
{
    double a0 = 0;
    float m0 = 0;
    size_t i = 0;
#ifdef HAVE_X86_FILES
    /* all zero (a dead layer's deltas): max |v| = 0 and a NaN would have made
     * the sum NaN, so the float sum of 0 is exact */
    if (use_avx512()) {
        i = gfi_sq_scan_f_avx512(v, n, &a0, &m0);
        if (gfi_float_sums_trusted(a0, 0.0, i) || (a0 == 0.0 && m0 == 0.0f))
            goto tail;
        i = gfi_sq_scan_avx512(v, n, &a0, &m0);
        goto tail;
    }
    if (use_avx2()) {
        i = gfi_sq_scan_f_avx2(v, n, &a0, &m0);
        if (gfi_float_sums_trusted(a0, 0.0, i) || (a0 == 0.0 && m0 == 0.0f))
            goto tail;
        i = gfi_sq_scan_avx2(v, n, &a0, &m0);
        goto tail;
    }
#endif
#if defined(__SSE2__)
    {
        const __m128 sign = _mm_set1_ps(-0.0f);
        __m128d q0 = _mm_setzero_pd(), q1 = q0;
        __m128 mx = _mm_setzero_ps();
        for (; i + 4 <= n; i += 4) {
            __m128 x4 = _mm_loadu_ps(v + i);
            __m128d lo = _mm_cvtps_pd(x4), hi = _mm_cvtps_pd(_mm_movehl_ps(x4, x4));
            q0 = _mm_add_pd(q0, _mm_mul_pd(lo, lo));
            q1 = _mm_add_pd(q1, _mm_mul_pd(hi, hi));
            mx = _mm_max_ps(_mm_andnot_ps(sign, x4), mx);
        }
        a0 = hsum_pd(_mm_add_pd(q0, q1));
        m0 = hmax_ps(mx);
    }
#endif
    goto tail; /* keeps the label used on every build */
tail:
    for (; i < n; i++) {
        float x = v[i];
        a0 += (double)x * x;
        x = fabsf(x);
        m0 = x > m0 ? x : m0;
    }
    out->ss = a0;
    out->maxabs = m0;
}

void gfi_moment_exact(const float *v, size_t n, double *sum, double *ss)
{
    double s0 = 0, q0 = 0;
    size_t i = 0;
#ifdef HAVE_X86_FILES
    if (use_avx512()) {
        i = gfi_moment_scan_avx512(v, n, &s0, &q0);
        goto tail;
    }
    if (use_avx2()) {
        i = gfi_moment_scan_avx2(v, n, &s0, &q0);
        goto tail;
    }
#endif
#if defined(__SSE2__)
    {
        __m128d a = _mm_setzero_pd(), b = a, c = a, d = a;
        for (; i + 4 <= n; i += 4) {
            __m128 x4 = _mm_loadu_ps(v + i);
            __m128d lo = _mm_cvtps_pd(x4), hi = _mm_cvtps_pd(_mm_movehl_ps(x4, x4));
            a = _mm_add_pd(a, lo);
            b = _mm_add_pd(b, hi);
            c = _mm_add_pd(c, _mm_mul_pd(lo, lo));
            d = _mm_add_pd(d, _mm_mul_pd(hi, hi));
        }
        s0 = hsum_pd(_mm_add_pd(a, b));
        q0 = hsum_pd(_mm_add_pd(c, d));
    }
#endif
    goto tail;
tail:
    for (; i < n; i++) {
        double x = v[i];
        s0 += x;
        q0 += x * x;
    }
    *sum = s0;
    *ss = q0;
}

void gfi_moment_scan(const float *v, size_t n, double *sum, double *ss)
{
#ifdef HAVE_X86_FILES
    if (use_avx512() || use_avx2()) {
        double s0, q0;
        size_t i = use_avx512() ? gfi_moment_scan_f_avx512(v, n, &s0, &q0) : gfi_moment_scan_f_avx2(v, n, &s0, &q0);
        if (gfi_float_moments_trusted(q0, s0, i)) {
            for (; i < n; i++) {
                double x = v[i];
                s0 += x;
                q0 += x * x;
            }
            *sum = s0;
            *ss = q0;
            return;
        }
    }
#endif
    gfi_moment_exact(v, n, sum, ss);
}

double gfi_variance(const float *v, size_t n, double sum, double ss)
{
    if (!n)
        return 0.0;
    double q = ss / (double)n, mean = sum / (double)n, var = q - mean * mean;
    if (!(var < 0x1p-30 * q)) /* well conditioned, or NaN / Inf */
        return fmax(var, 0.0);
    /* four interleaved sums, so each add does not wait on the one before
     * (a saturated layer takes this pass at every step) */
    double c[4] = {0.0, 0.0, 0.0, 0.0}, d2[4] = {0.0, 0.0, 0.0, 0.0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++) {
            double x = (double)v[i + (size_t)k] - mean;
            c[k] += x;
            d2[k] += x * x;
        }
    for (int k = 0; i < n; i++, k++) {
        double x = (double)v[i] - mean;
        c[k] += x;
        d2[k] += x * x;
    }
    double cs = (c[0] + c[1]) + (c[2] + c[3]), ds = (d2[0] + d2[1]) + (d2[2] + d2[3]);
    return fmax((ds - cs * cs / (double)n) / (double)n, 0.0);
}

/* Scalar tail (and the whole scan where no vector path exists): adds into the partial results. */
static void param_scan_tail(const float *g, const float *w, size_t i, size_t n, gfi_full *gs, gfi_full *ws)
{
    for (; i < n; i++) {
        float g0 = g[i], w0 = w[i], a0 = fabsf(w0);
        gs->sum += g0;
        gs->ss += (double)g0 * g0;
        ws->ss += (double)w0 * w0;
        gs->min = g0 < gs->min ? g0 : gs->min;
        gs->max = g0 > gs->max ? g0 : gs->max;
        ws->max = a0 > ws->max ? a0 : ws->max;
        gs->zeros += (size_t)(g0 == 0.0f);
        ws->zeros += (size_t)(w0 == 0.0f);
    }
}

#if defined(__SSE2__)
/* Four floats per iteration; squares are summed as doubles in two-lane
 * vectors, so sums keep their double range. */
static size_t param_scan_sse2(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws)
{
    const __m128 sign = _mm_set1_ps(-0.0f), zero = _mm_setzero_ps();
    __m128d gs0 = _mm_setzero_pd(), gs1 = gs0, gq0 = gs0, gq1 = gs0, wq0 = gs0, wq1 = gs0;
    __m128 gmn = _mm_set1_ps(gs->min), gmx = _mm_set1_ps(gs->max), wmx = _mm_set1_ps(ws->max);
    size_t i = 0;
    while (i + 4 <= n) {
        /* int32 zero counters are flushed before they could wrap */
        __m128i gz = _mm_setzero_si128(), wz = gz;
        size_t stop = n - i > ((size_t)1 << 30) ? i + ((size_t)1 << 30) : n;
        for (; i + 4 <= stop; i += 4) {
            __m128 g4 = _mm_loadu_ps(g + i), w4 = _mm_loadu_ps(w + i);
            __m128d glo = _mm_cvtps_pd(g4), ghi = _mm_cvtps_pd(_mm_movehl_ps(g4, g4));
            __m128d wlo = _mm_cvtps_pd(w4), whi = _mm_cvtps_pd(_mm_movehl_ps(w4, w4));
            gs0 = _mm_add_pd(gs0, glo);
            gs1 = _mm_add_pd(gs1, ghi);
            gq0 = _mm_add_pd(gq0, _mm_mul_pd(glo, glo));
            gq1 = _mm_add_pd(gq1, _mm_mul_pd(ghi, ghi));
            wq0 = _mm_add_pd(wq0, _mm_mul_pd(wlo, wlo));
            wq1 = _mm_add_pd(wq1, _mm_mul_pd(whi, whi));
            /* new value first: a NaN lane keeps the running min/max */
            gmn = _mm_min_ps(g4, gmn);
            gmx = _mm_max_ps(g4, gmx);
            wmx = _mm_max_ps(_mm_andnot_ps(sign, w4), wmx);
            gz = _mm_sub_epi32(gz, _mm_castps_si128(_mm_cmpeq_ps(g4, zero)));
            wz = _mm_sub_epi32(wz, _mm_castps_si128(_mm_cmpeq_ps(w4, zero)));
        }
        gs->zeros += hsum_epi32(gz);
        ws->zeros += hsum_epi32(wz);
    }
    gs->sum += hsum_pd(_mm_add_pd(gs0, gs1));
    gs->ss += hsum_pd(_mm_add_pd(gq0, gq1));
    ws->ss += hsum_pd(_mm_add_pd(wq0, wq1));
    gs->min = hmin_ps(gmn);
    gs->max = hmax_ps(gmx);
    ws->max = hmax_ps(wmx);
    return i;
}
#endif

void gfi_param_scan_add(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws)
{
    size_t i = 0;
#ifdef HAVE_X86_FILES
    if (use_avx512())
        i = gfi_param_scan_avx512(g, w, n, gs, ws);
    else if (use_avx2())
        i = gfi_param_scan_avx2(g, w, n, gs, ws);
    else
#endif
    {
#if defined(__SSE2__)
        i = param_scan_sse2(g, w, n, gs, ws);
#endif
    }
    param_scan_tail(g, w, i, n, gs, ws);
}

float gfi_minmax_seed(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            return v[i];
    return n ? NAN : 0.0f;
}

void gfi_param_scan(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws)
{
    gs->sum = gs->ss = ws->sum = ws->ss = 0.0;
    gs->min = gs->max = gfi_minmax_seed(g, n);
    ws->min = ws->max = 0.0f;
    gs->zeros = ws->zeros = 0;
    gfi_param_scan_add(g, w, n, gs, ws);
}

double gfi_diff_sq(const float *a, const float *b, size_t n)
{
    double d2 = 0.0;
    size_t i = 0;
#ifdef HAVE_X86_FILES
    if (use_avx512() || use_avx2()) {
        i = use_avx512() ? gfi_diff_sq_avx512(a, b, n, &d2) : gfi_diff_sq_avx2(a, b, n, &d2);
        if (!isfinite(d2)) /* a float difference overflowed, or a value is NaN/Inf: redo in double */
            i = 0, d2 = 0.0;
    }
#endif
    for (; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        d2 += d * d;
    }
    return d2;
}

#ifdef HAVE_X86_FILES
/* After a ReLU scan: its sums are 0 and no unit is marked alive, so every
 * value was exactly 0 (a NaN marks its unit) and the sums are exact: a dead
 * layer needs no second pass.  (Marks left from before only make this say
 * no.) */
static bool all_zero(double sum, double ss, const unsigned char *alive, size_t cols)
{
    if (sum != 0.0 || ss != 0.0)
        return false;
    for (size_t j = 0; j < cols; j++)
        if (alive[j])
            return false;
    return true;
}
#endif

void gfi_relu_scan(const float *y, size_t rows, size_t cols, double *sum, double *ss, unsigned char *alive)
{
#ifdef HAVE_X86_FILES
    /* The kernels sum in float partials: where the totals cannot be trusted
     * (see gfi_float_moments_trusted), the moments are taken again in double. */
    if (use_avx512()) {
        gfi_relu_scan_avx512(y, rows, cols, sum, ss, alive);
        if (!gfi_float_moments_trusted(*ss, *sum, rows * cols) && !all_zero(*sum, *ss, alive, cols))
            gfi_moment_exact(y, rows * cols, sum, ss);
        return;
    }
    if (use_avx2()) {
        size_t full = gfi_relu_scan_avx2(y, rows, cols, sum, ss, alive);
        double s0 = *sum, q0 = *ss;
        bool trusted = gfi_float_moments_trusted(q0, s0, rows * full);
        for (size_t r = 0; full < cols && r < rows; r++) /* the columns past the last 8 */
            for (size_t j = full; j < cols; j++) {
                double x = y[r * cols + j];
                s0 += x;
                q0 += x * x;
                alive[j] |= (unsigned char)(y[r * cols + j] != 0.0f);
            }
        *sum = s0;
        *ss = q0;
        if (!trusted && !all_zero(s0, q0, alive, cols))
            gfi_moment_exact(y, rows * cols, sum, ss);
        return;
    }
#endif
    gfi_moment_scan(y, rows * cols, sum, ss);
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * cols;
        for (size_t j = 0; j < cols; j++)
            alive[j] |= (unsigned char)(yr[j] != 0.0f);
    }
}

void gfi_relu_pre_scan(const float *z, const float *y, size_t rows, size_t cols, double zm[2], double ym[2],
                       unsigned char *alive)
{
#ifdef HAVE_X86_FILES
    if (use_avx512() || use_avx2()) {
        double m[4];
        size_t full = cols;
        if (use_avx512())
            gfi_relu_pre_scan_avx512(z, rows, cols, m, alive);
        else
            full = gfi_relu_pre_scan_avx2(z, rows, cols, m, alive);
        size_t n = rows * full;
        bool z_ok = gfi_float_moments_trusted(m[1], m[0], n),
             y_ok = gfi_float_moments_trusted(m[3], m[2], n) || (m[2] == 0.0 && m[3] == 0.0); /* y >= 0 */
        for (size_t r = 0; full < cols && r < rows; r++) /* the columns past the last 8 */
            for (size_t j = full; j < cols; j++) {
                double a = z[r * cols + j], b = a > 0 ? a : 0.0;
                m[0] += a;
                m[1] += a * a;
                m[2] += b;
                m[3] += b * b;
                alive[j] |= (unsigned char)(a > 0);
            }
        /* Where the float partials cannot vouch for a pair, it is taken again in double. */
        if (z_ok) {
            zm[0] = m[0];
            zm[1] = m[1];
        } else {
            gfi_moment_exact(z, rows * cols, &zm[0], &zm[1]);
        }
        if (y_ok) {
            ym[0] = m[2];
            ym[1] = m[3];
        } else {
            gfi_moment_exact(y, rows * cols, &ym[0], &ym[1]);
        }
        return;
    }
#endif
    gfi_moment_scan(z, rows * cols, &zm[0], &zm[1]);
    gfi_relu_scan(y, rows, cols, &ym[0], &ym[1], alive);
}

void gfi_count_nonfinite(const float *v, size_t n, int64_t c[3])
{
    for (size_t i = 0; i < n; i++) {
        float x = v[i];
        if (isnan(x))
            c[0]++;
        else if (isinf(x))
            c[x > 0 ? 1 : 2]++;
    }
}

bool gfi_all_finite(const float *v, size_t n)
{
#ifdef HAVE_X86_FILES
    if (use_avx512())
        return gfi_all_finite_avx512(v, n);
    if (use_avx2()) {
        bool finite;
        size_t i = gfi_all_finite_avx2(v, n, &finite);
        for (; finite && i < n; i++)
            finite = isfinite(v[i]);
        return finite;
    }
#endif
    gfi_sq s;
    gfi_sq_scan(v, n, &s);
    return isfinite(s.ss);
}

size_t gfi_first_nonfinite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return n;
}
