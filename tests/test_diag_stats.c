/*
 * test_diag_stats.c — the diagnostics scans (src/diag_stats.h) in every
 * version this CPU runs (portable / SSE2, AVX2, AVX-512, pinned through
 * gfi_ew_force, which the scans follow) against double-precision references,
 * on lengths that leave every kind of vector tail.
 *
 * Tolerances: sums and sums of squares are accumulated in double in an order
 * that differs between versions, so they match the reference to 1e-12
 * relative (of the sum of magnitudes), except where the vector kernels
 * start from float partials (FLOAT_PARTIALS_REL below); the vector gfi_diff_sq rounds each
 * difference to float before squaring it (2^-24 relative, see
 * diag_stats_avx512.c), so 3e-7 there.  Minima, maxima, zero counts, alive
 * flags and finiteness are exact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "diag_stats.h"
#include "ew.h"
#include "gemm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const size_t lengths[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 1000, 4099};
#define NLEN (sizeof lengths / sizeof lengths[0])

static uint64_t lcg = 777;
static float uniform(float lo, float hi)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((double)(lcg >> 40) / (double)(1ull << 24));
}

/* Random values over several magnitudes, every fifth one exactly 0. */
static void fill(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = i % 5 == 3 ? 0.0f : uniform(-1, 1) * powf(10.0f, uniform(-3, 3));
}

/* Runs body once per scan version this CPU runs, pinned; restores the choice. */
#define FOR_EACH_VERSION(k)                                                                                            \
    for (int k = 0; k < GFI_GEMM_NKERNELS; k++)                                                                        \
        if (gfi_gemm_kernel_available(k) && gfi_ew_force(k) == GF_OK)

static void unpin(void) { assert_int_equal(gfi_ew_force(GFI_GEMM_AUTO), GF_OK); }

static void assert_close(double got, double want, double scale, double rel)
{
    if (!(fabs(got - want) <= rel * scale + 1e-300))
        fail_msg("got %.17g, want %.17g (scale %.3g, rel %.1g)", got, want, scale, rel);
}

/* The vector kernels add sums and squares in float partials of at most 8
 * terms per lane before they widen to double (gfi_float_moments_trusted in
 * ew.h): within 2^-21 of the sum of magnitudes of double accumulation. */
#define FLOAT_PARTIALS_REL 1e-6

static void test_sq_scan_matches_double_reference_in_every_version(void **state)
{
    (void)state;
    static float v[4099];
    FOR_EACH_VERSION(k)
    {
        for (size_t t = 0; t < NLEN; t++) {
            size_t n = lengths[t];
            fill(v, n);
            double ss = 0;
            float mx = 0;
            for (size_t i = 0; i < n; i++) {
                ss += (double)v[i] * v[i];
                mx = fabsf(v[i]) > mx ? fabsf(v[i]) : mx;
            }
            gfi_sq s;
            gfi_sq_scan(v, n, &s);
            assert_close(s.ss, ss, ss, FLOAT_PARTIALS_REL);
            assert_true(s.maxabs == mx);
        }
    }
    unpin();
}

static void test_moment_scan_matches_double_reference_in_every_version(void **state)
{
    (void)state;
    static float v[4099];
    FOR_EACH_VERSION(k)
    {
        for (size_t t = 0; t < NLEN; t++) {
            size_t n = lengths[t];
            fill(v, n);
            double sum = 0, ss = 0, mag = 0;
            for (size_t i = 0; i < n; i++) {
                sum += v[i];
                mag += fabs((double)v[i]);
                ss += (double)v[i] * v[i];
            }
            double got_sum, got_ss;
            gfi_moment_scan(v, n, &got_sum, &got_ss);
            assert_close(got_sum, sum, mag, FLOAT_PARTIALS_REL);
            assert_close(got_ss, ss, ss, FLOAT_PARTIALS_REL);
        }
    }
    unpin();
}

/* Where a float square would overflow (2e19^2 > FLT_MAX) or underflow
 * (1e-25^2 < FLT_MIN), alone or among ordinary values, with signs that
 * cancel in the sum, the scans give what double accumulation gives: the
 * DESIGN examples 1024 x 2e19 (norm 6.4e20) and 1024 x 1e-25 (norm
 * 3.2e-24) among them. */
static void test_scans_are_exact_where_float_squares_overflow_or_underflow_in_every_version(void **state)
{
    (void)state;
    enum { N = 1024 };
    static float v[N];
    const float big = 2e19f, tiny = 1e-25f;
    FOR_EACH_VERSION(k)
    {
        for (int pattern = 0; pattern < 5; pattern++) {
            for (size_t i = 0; i < N; i++) {
                switch (pattern) {
                case 0: v[i] = big; break;
                case 1: v[i] = tiny; break;
                case 2: v[i] = i % 2 ? tiny : -tiny; break; /* the sum cancels to 0 */
                case 3: v[i] = i == 700 ? big : uniform(-1, 1); break;
                default: v[i] = i % 3 ? 0.0f : tiny; break;
                }
            }
            double sum = 0, ss = 0;
            for (size_t i = 0; i < N; i++) {
                sum += v[i];
                ss += (double)v[i] * v[i];
            }
            gfi_sq q;
            gfi_sq_scan(v, N, &q);
            assert_close(q.ss, ss, ss, 1e-12);
            double got_sum, got_ss;
            gfi_moment_scan(v, N, &got_sum, &got_ss);
            assert_close(got_ss, ss, ss, 1e-12);
            assert_close(got_sum, sum, fabs(sum), 1e-12);
            unsigned char alive[N];
            memset(alive, 0, sizeof alive);
            gfi_relu_scan(v, 16, N / 16, &got_sum, &got_ss, alive); /* the moments, whatever the sign */
            assert_close(got_ss, ss, ss, 1e-12);
            assert_close(got_sum, sum, fabs(sum), 1e-12);
        }
        double s0, q0;
        for (size_t i = 0; i < N; i++)
            v[i] = big;
        gfi_moment_scan(v, N, &s0, &q0);
        assert_close(sqrt(q0), 6.4e20, 6.4e20, 1e-6);
        for (size_t i = 0; i < N; i++)
            v[i] = tiny;
        gfi_moment_scan(v, N, &s0, &q0);
        assert_close(sqrt(q0), 3.2e-24, 3.2e-24, 1e-6);
    }
    unpin();
}

/* Continued over two calls (gfi_param_scan, then _add on the rest), as the
 * diagnostics scan a tensor block by block. */
static void test_param_scan_matches_double_reference_in_every_version(void **state)
{
    (void)state;
    static float g[4099], w[4099];
    FOR_EACH_VERSION(k)
    {
        for (size_t t = 0; t < NLEN; t++) {
            size_t n = lengths[t], cut = n / 3;
            fill(g, n);
            fill(w, n);
            double gsum = 0, gss = 0, wss = 0, mag = 0;
            float gmn = n ? g[0] : 0.0f, gmx = gmn, wmx = 0;
            size_t gz = 0, wz = 0;
            for (size_t i = 0; i < n; i++) {
                gsum += g[i];
                mag += fabs((double)g[i]);
                gss += (double)g[i] * g[i];
                wss += (double)w[i] * w[i];
                gmn = g[i] < gmn ? g[i] : gmn;
                gmx = g[i] > gmx ? g[i] : gmx;
                wmx = fabsf(w[i]) > wmx ? fabsf(w[i]) : wmx;
                gz += g[i] == 0.0f;
                wz += w[i] == 0.0f;
            }
            gfi_full gs, ws;
            gfi_param_scan(g, w, cut, &gs, &ws);
            if (cut == 0) /* the first call saw nothing: start min / max from the data */
                gs.min = gs.max = n ? g[0] : 0.0f;
            gfi_param_scan_add(g + cut, w + cut, n - cut, &gs, &ws);
            assert_close(gs.sum, gsum, mag, 1e-12);
            assert_close(gs.ss, gss, gss, 1e-12);
            assert_close(ws.ss, wss, wss, 1e-12);
            assert_true(gs.min == gmn);
            assert_true(gs.max == gmx);
            assert_true(ws.max == wmx);
            assert_int_equal(gs.zeros, gz);
            assert_int_equal(ws.zeros, wz);
        }
    }
    unpin();
}

/* A NaN gradient element poisons the sums (so the diagnostics see it) but
 * never becomes the minimum or maximum, wherever it falls, the first
 * element included. */
static void test_param_scan_keeps_nan_out_of_min_and_max_in_every_version(void **state)
{
    (void)state;
    enum { N = 37 };
    float g[N], w[N];
    FOR_EACH_VERSION(k)
    {
        for (size_t at = 0; at < N; at++) {
            for (size_t i = 0; i < N; i++) {
                g[i] = (float)i - 10.0f;
                w[i] = 0.5f;
            }
            g[at] = NAN;
            float want_min = at == 0 ? -9.0f : -10.0f;
            float want_max = at == N - 1 ? (float)N - 12.0f : (float)N - 11.0f;
            gfi_full gs, ws;
            gfi_param_scan(g, w, N, &gs, &ws);
            assert_true(isnan(gs.sum) && isnan(gs.ss));
            assert_true(gs.min == want_min);
            assert_true(gs.max == want_max);
        }
    }
    unpin();
}

/* Leading NaNs are skipped too, across the vector width and the scalar tail. */
static void test_param_scan_skips_a_run_of_leading_nans_in_every_version(void **state)
{
    (void)state;
    enum { N = 70 };
    float g[N], w[N];
    FOR_EACH_VERSION(k)
    {
        for (size_t lead = 1; lead < N; lead += 3) {
            for (size_t i = 0; i < N; i++) {
                g[i] = i < lead ? NAN : (float)(i % 7) - 3.0f + (float)i * 0.001f;
                w[i] = 1.0f;
            }
            float want_min = INFINITY, want_max = -INFINITY;
            for (size_t i = lead; i < N; i++) {
                want_min = g[i] < want_min ? g[i] : want_min;
                want_max = g[i] > want_max ? g[i] : want_max;
            }
            gfi_full gs, ws;
            gfi_param_scan(g, w, N, &gs, &ws);
            assert_true(gs.min == want_min);
            assert_true(gs.max == want_max);
        }
    }
    unpin();
}

/* With nothing but NaN there is no minimum or maximum to report: both NaN. */
static void test_param_scan_of_all_nan_gradient_gives_nan_min_and_max(void **state)
{
    (void)state;
    enum { N = 37 };
    float g[N], w[N];
    for (size_t i = 0; i < N; i++)
        g[i] = NAN, w[i] = 2.0f;
    FOR_EACH_VERSION(k)
    {
        gfi_full gs, ws;
        gfi_param_scan(g, w, N, &gs, &ws);
        assert_true(isnan(gs.min) && isnan(gs.max));
        assert_true(ws.max == 2.0f);
    }
    unpin();
}

static void test_minmax_seed_is_the_first_value_that_is_not_nan(void **state)
{
    (void)state;
    const float v[] = {NAN, NAN, -INFINITY, 1.0f};
    assert_true(gfi_minmax_seed(v, 4) == -INFINITY);
    assert_true(gfi_minmax_seed(v + 3, 1) == 1.0f);
    assert_true(isnan(gfi_minmax_seed(v, 2)));
    assert_true(gfi_minmax_seed(v, 0) == 0.0f);
}

static void test_diff_sq_matches_double_reference_in_every_version(void **state)
{
    (void)state;
    static float a[4099], b[4099];
    FOR_EACH_VERSION(k)
    {
        for (size_t t = 0; t < NLEN; t++) {
            size_t n = lengths[t];
            fill(a, n);
            for (size_t i = 0; i < n; i++)
                b[i] = a[i] + uniform(-1e-3f, 1e-3f) * fabsf(a[i]);
            double d2 = 0;
            for (size_t i = 0; i < n; i++) {
                double d = (double)a[i] - (double)b[i];
                d2 += d * d;
            }
            assert_close(gfi_diff_sq(a, b, n), d2, d2, 3e-7);
        }
    }
    unpin();
}

/* A float difference that overflows (1e38 - -3e38) is redone in double. */
static void test_diff_sq_survives_a_float_overflow_in_every_version(void **state)
{
    (void)state;
    enum { N = 40 };
    float a[N] = {0}, b[N] = {0};
    a[21] = 3e38f;
    b[21] = -3e38f;
    FOR_EACH_VERSION(k)
    {
        double want = 6e38 * 6e38;
        assert_close(gfi_diff_sq(a, b, N), want, want, 1e-6);
    }
    unpin();
}

static void test_relu_scan_matches_reference_in_every_version(void **state)
{
    (void)state;
    static const size_t widths[] = {1, 7, 8, 9, 17, 33};
    enum { ROWS = 5, MAXC = 33 };
    float y[ROWS * MAXC];
    unsigned char alive[MAXC + 8], want_alive[MAXC + 8];
    FOR_EACH_VERSION(k)
    {
        for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++) {
            size_t cols = widths[t];
            for (size_t i = 0; i < ROWS * cols; i++)
                y[i] = uniform(-1, 1) > 0.2f ? uniform(0, 3) : 0.0f;
            for (size_t j = 0; j < cols; j += 4) /* dead columns: 0 on every row */
                for (size_t r = 0; r < ROWS; r++)
                    y[r * cols + j] = 0.0f;
            if (cols > 2)
                y[3 * cols + 2] = NAN; /* NaN counts as alive */
            memset(alive, 0, sizeof alive);
            memset(want_alive, 0, sizeof want_alive);
            alive[cols] = want_alive[cols] = 0xAB; /* past the last column: untouched */
            double sum = 0, ss = 0;
            for (size_t r = 0; r < ROWS; r++)
                for (size_t j = 0; j < cols; j++) {
                    float x = y[r * cols + j];
                    if (!isnan(x)) {
                        sum += x;
                        ss += (double)x * x;
                    }
                    want_alive[j] |= x != 0.0f;
                }
            double got_sum, got_ss;
            gfi_relu_scan(y, ROWS, cols, &got_sum, &got_ss, alive);
            assert_memory_equal(alive, want_alive, cols + 1);
            if (cols > 2) {
                assert_true(isnan(got_sum) && isnan(got_ss));
            } else {
                assert_close(got_sum, sum, sum, FLOAT_PARTIALS_REL);
                assert_close(got_ss, ss, ss, FLOAT_PARTIALS_REL);
            }
        }
    }
    unpin();
}

/* A ReLU layer wide enough for many float partial groups per row (513 units,
 * 9 rows): the moments agree with double accumulation to the partials'
 * bound. */
static void test_relu_scan_moments_match_double_on_a_wide_layer_in_every_version(void **state)
{
    (void)state;
    enum { ROWS = 9, COLS = 513 };
    static float y[ROWS * COLS];
    static unsigned char alive[COLS];
    FOR_EACH_VERSION(k)
    {
        double sum = 0, ss = 0;
        for (size_t i = 0; i < ROWS * COLS; i++) {
            y[i] = uniform(-1, 1) > 0.0f ? uniform(0, 1) * powf(10.0f, uniform(-3, 3)) : 0.0f;
            sum += y[i];
            ss += (double)y[i] * y[i];
        }
        memset(alive, 0, sizeof alive);
        double got_sum, got_ss;
        gfi_relu_scan(y, ROWS, COLS, &got_sum, &got_ss, alive);
        assert_close(got_sum, sum, sum, FLOAT_PARTIALS_REL);
        assert_close(got_ss, ss, ss, FLOAT_PARTIALS_REL);
    }
    unpin();
}

/* One pass over a dense ReLU layer's z gives what a moment scan of z and a
 * ReLU scan of y = ReLU(z) give: z's and y's sums (to the float partials'
 * bound), the alive units exactly, a NaN in z poisoning z's sums but not
 * y's (ReLU(NaN) is 0 in the forward kernels), and sums that would lose a
 * float square taken exactly. */
static void test_relu_pre_scan_matches_separate_scans_of_z_and_y_in_every_version(void **state)
{
    (void)state;
    static const size_t widths[] = {1, 7, 8, 9, 17, 33, 100, 513};
    enum { ROWS = 7, MAXC = 513 };
    static float z[ROWS * MAXC], y[ROWS * MAXC];
    static unsigned char alive[MAXC + 1], want_alive[MAXC + 1];
    FOR_EACH_VERSION(k)
    {
        for (size_t t = 0; t < sizeof widths / sizeof widths[0]; t++)
            for (int pattern = 0; pattern < 4; pattern++) {
                size_t cols = widths[t], n = ROWS * cols;
                for (size_t i = 0; i < n; i++) {
                    float v = uniform(-1, 1) * powf(10.0f, uniform(-3, 3));
                    z[i] = pattern == 2 ? (i % 2 ? 1e-25f : -1e-25f) : pattern == 3 ? 2e19f * (i % 3 ? 1 : -1) : v;
                    if (i % cols == 0) /* the first unit is dead: z <= 0 on every row */
                        z[i] = -fabsf(z[i]);
                }
                if (pattern == 1)
                    z[n / 2] = NAN;
                double zs = 0, zq = 0, ys = 0, yq = 0, zmag = 0;
                memset(want_alive, 0, sizeof want_alive);
                for (size_t i = 0; i < n; i++) {
                    y[i] = z[i] > 0 ? z[i] : 0.0f;
                    zs += z[i], zq += (double)z[i] * z[i], zmag += fabs((double)z[i]);
                    ys += y[i], yq += (double)y[i] * y[i];
                    want_alive[i % cols] |= z[i] > 0;
                }
                memset(alive, 0, sizeof alive);
                alive[cols] = want_alive[cols] = 0xAB; /* past the last unit: untouched */
                double zm[2], ym[2];
                gfi_relu_pre_scan(z, y, ROWS, cols, zm, ym, alive);
                assert_memory_equal(alive, want_alive, cols + 1);
                if (pattern == 1) {
                    assert_true(isnan(zm[0]) && isnan(zm[1]));
                } else {
                    assert_close(zm[0], zs, zmag, FLOAT_PARTIALS_REL);
                    assert_close(zm[1], zq, zq, FLOAT_PARTIALS_REL);
                }
                assert_close(ym[0], ys, ys, FLOAT_PARTIALS_REL);
                assert_close(ym[1], yq, yq, FLOAT_PARTIALS_REL);
                if (pattern >= 2) { /* tiny or huge: exact, as double accumulation */
                    assert_close(zm[1], zq, zq, 1e-12);
                    assert_close(ym[1], yq, yq, 1e-12);
                }
            }
    }
    unpin();
}

/* Two-pass double variance of v[0..n): the reference. */
static double variance_two_pass(const float *v, size_t n)
{
    double mean = 0, d2 = 0;
    for (size_t i = 0; i < n; i++)
        mean += v[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        d2 += ((double)v[i] - mean) * ((double)v[i] - mean);
    return d2 / (double)n;
}

/* Nearly equal values (a saturated sigmoid's outputs, a ReLU layer whose
 * units all sit at the same positive value) have a variance far below the
 * mean's square; from the scans' sums and gfi_variance it matches a
 * two-pass double computation, down to a spread of 1e-7 around 1 (variance
 * 1e-14 of the squares' mean), where a float sum of squares would be all
 * rounding and a double one would keep two digits. */
static void test_variance_of_nearly_equal_values_matches_two_pass_double_in_every_version(void **state)
{
    (void)state;
    enum { ROWS = 8, COLS = 512, N = ROWS * COLS };
    static float v[N], y[N];
    static unsigned char alive[COLS];
    const double centre[] = {0.5, 0.99, 0.9999, 1.0 - 1e-6}, spread[] = {1e-3, 1e-4, 1e-5, 1e-7};
    FOR_EACH_VERSION(k)
    {
        for (int c = 0; c < 4; c++) {
            for (size_t i = 0; i < N; i++)
                v[i] = y[i] = (float)(centre[c] + spread[c] * uniform(-1.7f, 1.7f));
            double want = variance_two_pass(v, N), s, ss, zm[2], ym[2];
            gfi_moment_scan(v, N, &s, &ss);
            assert_close(gfi_variance(v, N, s, ss), want, want, 1e-6);
            double want_ragged = variance_two_pass(v, N - 3); /* a length that is not a multiple of 4 */
            gfi_moment_scan(v, N - 3, &s, &ss);
            assert_close(gfi_variance(v, N - 3, s, ss), want_ragged, want_ragged, 1e-6);
            memset(alive, 0, sizeof alive);
            gfi_relu_pre_scan(v, y, ROWS, COLS, zm, ym, alive);
            assert_close(gfi_variance(v, N, zm[0], zm[1]), want, want, 1e-6);
            assert_close(gfi_variance(y, N, ym[0], ym[1]), want, want, 1e-6);
            memset(alive, 0, sizeof alive);
            gfi_relu_scan(y, ROWS, COLS, &s, &ss, alive);
            assert_close(gfi_variance(y, N, s, ss), want, want, 1e-6);
        }
    }
    unpin();
}

static void test_all_finite_finds_nan_and_inf_anywhere_in_every_version(void **state)
{
    (void)state;
    enum { N = 45 };
    float v[N];
    const float bad[] = {NAN, INFINITY, -INFINITY};
    FOR_EACH_VERSION(k)
    {
        for (size_t i = 0; i < N; i++)
            v[i] = uniform(-1, 1) * 3e38f;
        assert_true(gfi_all_finite(v, N));
        assert_true(gfi_all_finite(v, 0));
        for (size_t at = 0; at < N; at++)
            for (int b = 0; b < 3; b++) {
                float keep = v[at];
                v[at] = bad[b];
                assert_false(gfi_all_finite(v, N));
                assert_true(gfi_all_finite(v, at)); /* past n is not read */
                v[at] = keep;
            }
    }
    unpin();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sq_scan_matches_double_reference_in_every_version),
        cmocka_unit_test(test_moment_scan_matches_double_reference_in_every_version),
        cmocka_unit_test(test_param_scan_matches_double_reference_in_every_version),
        cmocka_unit_test(test_param_scan_keeps_nan_out_of_min_and_max_in_every_version),
        cmocka_unit_test(test_param_scan_skips_a_run_of_leading_nans_in_every_version),
        cmocka_unit_test(test_param_scan_of_all_nan_gradient_gives_nan_min_and_max),
        cmocka_unit_test(test_minmax_seed_is_the_first_value_that_is_not_nan),
        cmocka_unit_test(test_diff_sq_matches_double_reference_in_every_version),
        cmocka_unit_test(test_diff_sq_survives_a_float_overflow_in_every_version),
        cmocka_unit_test(test_relu_scan_matches_reference_in_every_version),
        cmocka_unit_test(test_relu_scan_moments_match_double_on_a_wide_layer_in_every_version),
        cmocka_unit_test(test_scans_are_exact_where_float_squares_overflow_or_underflow_in_every_version),
        cmocka_unit_test(test_relu_pre_scan_matches_separate_scans_of_z_and_y_in_every_version),
        cmocka_unit_test(test_variance_of_nearly_equal_values_matches_two_pass_double_in_every_version),
        cmocka_unit_test(test_all_finite_finds_nan_and_inf_anywhere_in_every_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
