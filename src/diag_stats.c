/*
 * diag_stats.c — the single-pass reductions behind the diagnostics: sums and
 * squares in double (squares of floats cannot overflow or underflow a double,
 * so a norm of finite floats is always right), min/max/zero counts, and
 * NaN/Inf counts for the rare pass that needs them.
 *
 * Sums use four independent accumulators so the double adds do not serialize
 * on their latency.  A non-finite element always makes the double sum of
 * squares non-finite, which is how the fast passes detect one for free.
 */
#include "diag_stats.h"

#include <math.h>

void gfi_sq_scan(const float *v, size_t n, gfi_sq *out)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float x0 = v[i], x1 = v[i + 1], x2 = v[i + 2], x3 = v[i + 3];
        a0 += (double)x0 * x0;
        a1 += (double)x1 * x1;
        a2 += (double)x2 * x2;
        a3 += (double)x3 * x3;
        x0 = fabsf(x0), x1 = fabsf(x1), x2 = fabsf(x2), x3 = fabsf(x3);
        m0 = x0 > m0 ? x0 : m0;
        m1 = x1 > m1 ? x1 : m1;
        m2 = x2 > m2 ? x2 : m2;
        m3 = x3 > m3 ? x3 : m3;
    }
    for (; i < n; i++) {
        float x = v[i];
        a0 += (double)x * x;
        x = fabsf(x);
        m0 = x > m0 ? x : m0;
    }
    m0 = m1 > m0 ? m1 : m0;
    m2 = m3 > m2 ? m3 : m2;
    out->ss = (a0 + a1) + (a2 + a3);
    out->maxabs = m2 > m0 ? m2 : m0;
}

void gfi_moment_scan(const float *v, size_t n, double *sum, double *ss)
{
    double s0 = 0, s1 = 0, q0 = 0, q1 = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        double x0 = v[i], x1 = v[i + 1];
        s0 += x0;
        s1 += x1;
        q0 += x0 * x0;
        q1 += x1 * x1;
    }
    for (; i < n; i++) {
        double x = v[i];
        s0 += x;
        q0 += x * x;
    }
    *sum = s0 + s1;
    *ss = q0 + q1;
}

/* One parameter tensor and its gradient in the same loop: each is read once. */
void gfi_param_scan(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws)
{
    double gs0 = 0, gs1 = 0, gq0 = 0, gq1 = 0, wq0 = 0, wq1 = 0;
    float gmn = n ? g[0] : 0, gmx = gmn, wmx = 0;
    size_t gz = 0, wz = 0;
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        float g0 = g[i], g1 = g[i + 1], w0 = w[i], w1 = w[i + 1];
        gs0 += g0;
        gs1 += g1;
        gq0 += (double)g0 * g0;
        gq1 += (double)g1 * g1;
        wq0 += (double)w0 * w0;
        wq1 += (double)w1 * w1;
        float lo = g0 < g1 ? g0 : g1, hi = g0 < g1 ? g1 : g0;
        gmn = lo < gmn ? lo : gmn;
        gmx = hi > gmx ? hi : gmx;
        float a0 = fabsf(w0), a1 = fabsf(w1);
        float a = a0 > a1 ? a0 : a1;
        wmx = a > wmx ? a : wmx;
        gz += (size_t)(g0 == 0.0f) + (size_t)(g1 == 0.0f);
        wz += (size_t)(w0 == 0.0f) + (size_t)(w1 == 0.0f);
    }
    for (; i < n; i++) {
        float g0 = g[i], w0 = w[i];
        gs0 += g0;
        gq0 += (double)g0 * g0;
        wq0 += (double)w0 * w0;
        gmn = g0 < gmn ? g0 : gmn;
        gmx = g0 > gmx ? g0 : gmx;
        float a0 = fabsf(w0);
        wmx = a0 > wmx ? a0 : wmx;
        gz += (size_t)(g0 == 0.0f);
        wz += (size_t)(w0 == 0.0f);
    }
    gs->sum = gs0 + gs1;
    gs->ss = gq0 + gq1;
    gs->min = gmn;
    gs->max = gmx;
    gs->zeros = gz;
    ws->sum = 0;
    ws->ss = wq0 + wq1;
    ws->min = 0;
    ws->max = wmx; /* max |w| */
    ws->zeros = wz;
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
