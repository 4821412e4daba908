/*
 * test_ew.c — the element-wise passes of the training step (src/ew.h): every
 * version this CPU runs against double-precision formulas, on row widths
 * that leave vector tails (1, 10, 17, 33 columns).
 *
 * Tolerances: tanh and sigmoid within 4e-7 relative (+1e-30 absolute) of the
 * double value, i.e. a few float ulps; their gradients within 1e-6 * |dy| of
 * dy * f'(z) computed in double from the float y; identity and ReLU exact.
 * Bias gradients are sums in double, so they match the double reference to
 * float rounding (1.2e-7 relative).  Optimizer updates equal the portable
 * version bit for bit (same operations, no fused multiply-adds).  The AVX2
 * and AVX-512 versions compute the same formulas, so they agree bit for bit
 * on every activation and gradient.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ew.h"
#include "gemm.h"
#include "threadpool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The versions to check: portable always, AVX2 and AVX-512 when this CPU
 * runs them. */
static const gfi_ew_ops *versions(int i)
{
    const gfi_ew_ops *all[3] = {&gfi_ew_portable, NULL, NULL};
    int n = 1;
#if defined(__x86_64__) || defined(__i386__)
    if (gfi_gemm_kernel_available(GFI_GEMM_AVX2))
        all[n++] = &gfi_ew_avx2;
    if (gfi_gemm_kernel_available(GFI_GEMM_AVX512))
        all[n++] = &gfi_ew_avx512;
#endif
    return i >= 0 && i < n ? all[i] : NULL;
}

static uint64_t lcg = 12345;
static float uniform(float lo, float hi)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((double)(lcg >> 40) / (double)(1ull << 24));
}

#define SLOPE 0.013 /* leaky ReLU's, not a float: the negative side is SLOPE x in double */

static double ref_act(int32_t kind, double x)
{
    switch (kind) {
    case GF_ACT_RELU: return x > 0 ? x : 0;
    case GF_ACT_LEAKY_RELU: return x > 0 ? x : SLOPE * x;
    case GF_ACT_ELU: return x > 0 ? x : SLOPE * expm1(x); /* the pass's parameter is ELU's alpha */
    case GF_ACT_SELU: return GFI_SELU_LAMBDA * (x > 0 ? x : GFI_SELU_ALPHA * expm1(x));
    case GF_ACT_SOFTPLUS: return fmax(x, 0) + log1p(exp(-fabs(x)));
    case GF_ACT_GELU: return x * 0.5 * erfc(-x / sqrt(2.0));
    case GF_ACT_TANH: return tanh(x);
    case GF_ACT_SIGMOID: return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
    default: return x;
    }
}

static const int32_t kinds[] = {GF_ACT_IDENTITY, GF_ACT_RELU,       GF_ACT_TANH, GF_ACT_SIGMOID,
                                GF_ACT_ELU,      GF_ACT_LEAKY_RELU, GF_ACT_SELU, GF_ACT_SOFTPLUS,
                                GF_ACT_GELU};
#define NKINDS 9

/* GELU's slope Phi(x) + x phi(x), in double. */
static double gelu_slope(double x) { return 0.5 * erfc(-x / sqrt(2.0)) + x * exp(-0.5 * x * x) / sqrt(2.0 * 3.14159265358979323846); }
static const int64_t widths[] = {1, 10, 17, 33};

static void test_bias_act_on_a_block_of_columns_matches_the_whole_rows_and_leaves_the_rest(void **state)
{
    (void)state;
    enum { R = 4, LD = 53, C0 = 16, C = 21 };
    const int32_t kinds[4] = {GF_ACT_IDENTITY, GF_ACT_RELU, GF_ACT_TANH, GF_ACT_SIGMOID};
    float b[LD], z0[R * LD], z[R * LD], y[R * LD], zw[R * LD], yw[R * LD];
    for (int i = 0; i < LD; i++)
        b[i] = uniform(-1, 1);
    for (int i = 0; i < R * LD; i++)
        z0[i] = uniform(-3, 3);
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < 4; k++) {
            memcpy(z, z0, sizeof z);
            memcpy(zw, z0, sizeof zw);
            for (int i = 0; i < R * LD; i++)
                y[i] = yw[i] = -9.0f;
            versions(v)->bias_act(kinds[k], SLOPE, b + C0, z + C0, y + C0, R, C, LD);
            versions(v)->bias_act(kinds[k], SLOPE, b, zw, yw, R, LD, LD);
            for (int r = 0; r < R; r++)
                for (int j = 0; j < LD; j++) {
                    int i = r * LD + j;
                    bool in = j >= C0 && j < C0 + C;
                    assert_true(z[i] == (in ? zw[i] : z0[i]));
                    assert_true(y[i] == (in ? yw[i] : -9.0f));
                }
        }
}

static void test_bias_act_matches_double_formulas_on_every_width(void **state)
{
    (void)state;
    enum { ROWS = 5, MAXC = 33 };
    float b[MAXC], z0[ROWS * MAXC], z[ROWS * MAXC], y[ROWS * MAXC];
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < NKINDS; k++)
            for (int w = 0; w < 4; w++) {
                int64_t cols = widths[w];
                for (int64_t j = 0; j < cols; j++)
                    b[j] = uniform(-1, 1);
                for (int64_t i = 0; i < ROWS * cols; i++)
                    z0[i] = z[i] = uniform(-12, 12) * (i % 3 == 0 ? 0.04f : 1.0f);
                versions(v)->bias_act(kinds[k], SLOPE, b, z, y, ROWS, cols, cols);
                for (int64_t i = 0; i < ROWS * cols; i++) {
                    float zi = z0[i] + b[i % cols];
                    double want = ref_act(kinds[k], zi);
                    if (z[i] != zi || fabs(y[i] - want) > 4e-7 * fabs(want) + 1e-30)
                        fail_msg("version %d kind %d cols %lld: f(%g) = %.9g, want %.9g", v, (int)kinds[k],
                                 (long long)cols, (double)zi, (double)y[i], want);
                }
            }
}

/* The reference formulas of the sweeps below, in double: value and slope of x, for the pass's parameter. */
typedef double (*ref_fn)(double x, double param);
static double elu_y(double x, double a) { return x > 0 ? x : a * expm1(x); }
static double elu_s(double x, double a) { return x > 0 ? 1 : a * exp(x); }
static double selu_y(double x, double a) { return GFI_SELU_LAMBDA * elu_y(x, GFI_SELU_ALPHA); }
static double selu_s(double x, double a) { return GFI_SELU_LAMBDA * elu_s(x, GFI_SELU_ALPHA); }
static double softplus_y(double x, double a) { return ref_act(GF_ACT_SOFTPLUS, x); }
static double softplus_s(double x, double a) { return ref_act(GF_ACT_SIGMOID, x); }
static double gelu_y(double x, double a) { return ref_act(GF_ACT_GELU, x); }
static double gelu_s(double x, double a) { return gelu_slope(x); }

/* Every version's y = f(x) and dz = dy f'(x) over a sweep of lo .. hi (two values in three) and of magnitudes
 * 1e-30 .. 10 (negative, or of both signs when both_signs), against fy and dy fs in double: within rel of
 * the value, plus dy_abs |dy| for the gradient (where f' crosses 0 any float result is relatively off). */
static void check_sweep(int32_t kind, double param, double lo, double hi, bool both_signs, ref_fn fy, ref_fn fs,
                        double rel, double dy_abs)
{
    enum { N = 6001 };
    static float z[N], z0[N], y[N], dy[N], dz[N], b[N];
    float db[1];
    for (int i = 0; i < N; i++) {
        double t = (double)i / (N - 1);
        z0[i] = i % 3 ? (float)(lo + (hi - lo) * t)
                      : (float)((both_signs && i % 2 ? 1 : -1) * pow(10.0, -30.0 + 31.0 * t));
        dy[i] = uniform(-2, 2);
    }
    for (int v = 0; versions(v); v++) {
        memcpy(z, z0, sizeof z);
        versions(v)->bias_act(kind, param, b, z, y, 1, N, N);
        /* one row per value, so db holds each dz again and the sums stay out of the way */
        versions(v)->act_grad_colsum(kind, param, z, y, dy, dz, db, N, 1, 1);
        for (int i = 0; i < N; i++) {
            double x = z[i], want_y = fy(x, param), want_dz = (double)dy[i] * fs(x, param);
            if (fabs(y[i] - want_y) > rel * fabs(want_y) + 1e-44 ||
                fabs(dz[i] - want_dz) > rel * fabs(want_dz) + dy_abs * fabs(dy[i]) + 1e-44)
                fail_msg("version %d kind %d, x = %.9g: y %.9g dz %.9g, want %.9g and %.9g", v, (int)kind, x,
                         (double)y[i], (double)dz[i], want_y, want_dz);
        }
    }
}

/* ELU (alpha 1 and 0.3) and SELU against their double formulas: within 2.5e-7 relative (the vector versions'
 * float expm1 and exp are within ~1.5e-7; the portable one rounds the double formula once), over -30 .. 5. */
static void test_elu_and_selu_are_accurate_on_a_dense_sweep(void **state)
{
    (void)state;
    check_sweep(GF_ACT_ELU, 1.0, -30.0, 5.0, false, elu_y, elu_s, 2.5e-7, 0.0);
    check_sweep(GF_ACT_ELU, 0.3, -30.0, 5.0, false, elu_y, elu_s, 2.5e-7, 0.0);
    check_sweep(GF_ACT_SELU, 0.0, -30.0, 5.0, false, selu_y, selu_s, 2.5e-7, 0.0);
}

/* ELU and SELU at the edges: the limits -alpha and -lambda alpha far below 0 and at -inf, +inf and signed
 * zeros kept (as alpha expm1(-0) = -0), NaN propagated, and a slope alpha e^z that underflows to 0 below
 * about -104 rather than turning NaN. */
static void test_elu_and_selu_keep_limits_signed_zeros_and_nan(void **state)
{
    (void)state;
    const float in[7] = {-1e4f, -INFINITY, INFINITY, -0.0f, 0.0f, NAN, -150.0f};
    float b[7], z[7], y[7], dy[7] = {1, 1, 1, 1, 1, 1, 1}, dz[7], db[1];
    for (int i = 0; i < 7; i++)
        b[i] = -0.0f;
    for (int v = 0; versions(v); v++) {
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_ELU, 0.3, b, z, y, 1, 7, 7);
        versions(v)->act_grad_colsum(GF_ACT_ELU, 0.3, z, y, dy, dz, db, 7, 1, 1);
        assert_true(y[0] == -0.3f && y[1] == -0.3f && y[2] == INFINITY && y[6] == -0.3f);
        assert_true(y[3] == 0.0f && signbit(y[3]) && y[4] == 0.0f && !signbit(y[4]) && isnan(y[5]));
        assert_true(dz[0] == 0.0f && dz[1] == 0.0f && dz[2] == 1.0f && dz[3] == 0.3f && isnan(dz[5]) && dz[6] == 0.0f);
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_SELU, 0.0, b, z, y, 1, 7, 7);
        float lim = (float)(-GFI_SELU_LAMBDA * GFI_SELU_ALPHA);
        assert_true(y[0] == lim && y[1] == lim && y[2] == INFINITY && y[6] == lim);
        assert_true(y[3] == 0.0f && signbit(y[3]) && y[4] == 0.0f && !signbit(y[4]) && isnan(y[5]));
    }
}

/* softplus against log1p(e^-|x|) + max(x, 0) and its gradient dy sigmoid(z): within 3e-7 relative (the vector
 * versions' float exp and log1p: 2.1e-7 at most over a sweep of 2e6 values), over -90 .. 30; far below 0 the
 * output e^x stays relative down to the smallest normal floats. */
static void test_softplus_is_accurate_on_a_dense_sweep(void **state)
{
    (void)state;
    check_sweep(GF_ACT_SOFTPLUS, 0.0, -90.0, 30.0, true, softplus_y, softplus_s, 3e-7, 0.0);
}

/* softplus at the edges: +inf, x itself far above 0, 0 at -inf and far below, NaN propagated. */
static void test_softplus_keeps_limits_and_nan(void **state)
{
    (void)state;
    const float in[6] = {INFINITY, 1e4f, -1e4f, -INFINITY, NAN, 0.0f};
    float b[6], z[6], y[6], dy[6] = {1, 1, 1, 1, 1, 1}, dz[6], db[1];
    for (int i = 0; i < 6; i++)
        b[i] = -0.0f;
    for (int v = 0; versions(v); v++) {
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_SOFTPLUS, 0.0, b, z, y, 1, 6, 6);
        versions(v)->act_grad_colsum(GF_ACT_SOFTPLUS, 0.0, z, y, dy, dz, db, 6, 1, 1);
        assert_true(y[0] == INFINITY && y[1] == 1e4f && y[2] == 0.0f && y[3] == 0.0f && isnan(y[4]));
        assert_true(fabsf(y[5] - 0.693147181f) <= 1e-7f);
        assert_true(dz[0] == 1.0f && dz[1] == 1.0f && dz[2] == 0.0f && dz[3] == 0.0f && isnan(dz[4]) && dz[5] == 0.5f);
    }
}

/* GELU against x Phi(x) and dy (Phi(x) + x phi(x)) in double: about one rounding (the vector versions work in
 * double from a Mills'-ratio fit), so within 1.2e-7 relative, the gradient also within 1e-12 dy where
 * Phi + x phi crosses 0 (x = -0.75); over -20 .. 20. */
static void test_gelu_is_accurate_on_a_dense_sweep(void **state)
{
    (void)state;
    check_sweep(GF_ACT_GELU, 0.0, -20.0, 20.0, true, gelu_y, gelu_s, 1.2e-7, 1e-12);
}

/* GELU at the edges gives the portable version's values: NaN at -inf (-inf times 0, as in double), +inf, 0
 * far below 0, signed zeros at 0, NaN propagated, the gradient's NaN at +-inf (x phi(x) = inf times 0).  (A
 * gradient that underflows far below 0 may be 0 of the other sign: the vector versions take the tail past
 * |x| = 20 as 0, where double still holds e^-210.) */
static void test_gelu_edges_match_the_double_formulas_bits(void **state)
{
    (void)state;
    enum { N = 14 };
    const float in[N] = {INFINITY, -INFINITY, 1e4f, -1e4f, 20.0f, -20.0f, 20.5f, -20.5f,
                         0.0f,     -0.0f,     NAN,  1e-40f, -1e-40f, -14.0f};
    float b[N], z[N], y[N], yp[N], dy[N], dz[N], dzp[N], db[1];
    for (int i = 0; i < N; i++) {
        b[i] = -0.0f;
        dy[i] = i % 2 ? -1.0f : 1.0f;
    }
    memcpy(z, in, sizeof z);
    gfi_ew_portable.bias_act(GF_ACT_GELU, 0.0, b, z, yp, 1, N, N);
    gfi_ew_portable.act_grad_colsum(GF_ACT_GELU, 0.0, z, yp, dy, dzp, db, N, 1, 1);
    assert_true(isnan(yp[1]) && yp[0] == INFINITY && isnan(dzp[0]) && isnan(dzp[1]));
    for (int v = 1; versions(v); v++) {
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_GELU, 0.0, b, z, y, 1, N, N);
        versions(v)->act_grad_colsum(GF_ACT_GELU, 0.0, z, y, dy, dz, db, N, 1, 1);
        for (int i = 0; i < N; i++)
            if (!(y[i] == yp[i] || (isnan(y[i]) && isnan(yp[i]))) ||
                (!isnan(y[i]) && signbit(y[i]) != signbit(yp[i])) || /* a NaN's sign means nothing */
                !(dz[i] == dzp[i] || (isnan(dz[i]) && isnan(dzp[i]))))
                fail_msg("version %d, x = %g: y %.9g dz %.9g, the double formulas %.9g and %.9g", v, (double)in[i],
                         (double)y[i], (double)dz[i], (double)yp[i], (double)dzp[i]);
    }
}

/* Leaky ReLU in every version: the bits of activation.c's formulas (x > 0 ? x : slope x, and dy times the slope,
 * in double and rounded once), on both sides, at 0 and -0, on subnormals, huge values, infinities and NaN. */
static void test_leaky_relu_passes_give_the_bits_of_the_scalar_formulas(void **state)
{
    (void)state;
    enum { N = 24 };
    const float in[N] = {0.0f,   -0.0f,   1e-40f, -1e-40f, -1e-45f, 1.5f,     -1.5f,    -3.0f,
                         1e4f,   -1e4f,   3e38f,  -3e38f,  -1e-38f, INFINITY, -INFINITY, NAN,
                         0.125f, -0.125f, 7.7f,   -7.7f,   2e-7f,   -2e-7f,   -65504.f, -1.0f};
    float b[N], z[N], y[N], want_y[N], dy[N], dz[N], want_dz[N], db[N];
    for (int i = 0; i < N; i++)
        b[i] = -0.0f; /* x + -0 is x for every x, -0 included */
    gfi_act a;
    gfi_act_default(&a, GF_ACT_LEAKY_RELU);
    a.slope = SLOPE;
    for (int i = 0; i < N; i++)
        dy[i] = i % 5 == 0 ? -1e-39f : uniform(-2, 2);
    gfi_act_forward(&a, in, want_y, N);
    gfi_act_backward(&a, in, want_y, dy, want_dz, N);
    for (int v = 0; versions(v); v++) {
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_LEAKY_RELU, SLOPE, b, z, y, 1, N, N);
        versions(v)->act_grad_colsum(GF_ACT_LEAKY_RELU, SLOPE, z, y, dy, dz, db, 1, N, N);
        for (int i = 0; i < N; i++)
            if (memcmp(&y[i], &want_y[i], sizeof(float)) || memcmp(&dz[i], &want_dz[i], sizeof(float)))
                fail_msg("version %d, x = %g: y %.9g dz %.9g, want %.9g and %.9g", v, (double)in[i], (double)y[i],
                         (double)dz[i], (double)want_y[i], (double)want_dz[i]);
    }
}

static void test_tanh_and_sigmoid_are_accurate_on_a_dense_sweep(void **state)
{
    (void)state;
    enum { N = 4001 };
    static float z[N], y[N];
    float b[N] = {0};
    for (int v = 0; versions(v); v++)
        for (int k = 2; k < 4; k++) {
            for (int i = 0; i < N; i++)
                z[i] = -20.0f + 40.0f * (float)i / (N - 1);
            versions(v)->bias_act(kinds[k], SLOPE, b, z, y, 1, N, N);
            for (int i = 0; i < N; i++) {
                double want = ref_act(kinds[k], z[i]);
                if (fabs(y[i] - want) > 4e-7 * fabs(want) + 1e-30)
                    fail_msg("version %d kind %d: f(%.9g) = %.9g, want %.9g", v, (int)kinds[k], (double)z[i],
                             (double)y[i], want);
            }
        }
}

static void test_saturating_kinds_give_exact_limits_and_keep_nan(void **state)
{
    (void)state;
    float z[6], y[6], b[6] = {0};
    for (int v = 0; versions(v); v++) {
        const float in[6] = {-1e4f, 1e4f, -INFINITY, INFINITY, NAN, 0.0f};
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_TANH, SLOPE, b, z, y, 1, 6, 6);
        assert_true(y[0] == -1.0f && y[1] == 1.0f && y[2] == -1.0f && y[3] == 1.0f && isnan(y[4]) && y[5] == 0.0f);
        memcpy(z, in, sizeof z);
        versions(v)->bias_act(GF_ACT_SIGMOID, SLOPE, b, z, y, 1, 6, 6);
        assert_true(y[0] == 0.0f && y[1] == 1.0f && y[2] == 0.0f && y[3] == 1.0f && isnan(y[4]) && y[5] == 0.5f);
    }
}

static void test_act_grad_colsum_matches_double_reference(void **state)
{
    (void)state;
    enum { ROWS = 7, MAXC = 33 };
    float z[ROWS * MAXC], y[ROWS * MAXC], dy[ROWS * MAXC], dz[ROWS * MAXC], db[MAXC], b[MAXC] = {0};
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < NKINDS; k++)
            for (int w = 0; w < 4; w++) {
                int64_t cols = widths[w];
                for (int64_t i = 0; i < ROWS * cols; i++) {
                    z[i] = uniform(-3, 3);
                    dy[i] = uniform(-2, 2);
                }
                gfi_ew_portable.bias_act(kinds[k], SLOPE, b, z, y, ROWS, cols, cols);
                versions(v)->act_grad_colsum(kinds[k], SLOPE, z, y, dy, dz, db, ROWS, cols, cols);
                for (int64_t j = 0; j < cols; j++) {
                    double sum = 0, mag = 0;
                    for (int64_t r = 0; r < ROWS; r++) {
                        int64_t i = r * cols + j;
                        double s = kinds[k] == GF_ACT_RELU         ? (z[i] > 0)
                                   : kinds[k] == GF_ACT_LEAKY_RELU ? (z[i] > 0 ? 1 : SLOPE)
                                   : kinds[k] == GF_ACT_ELU        ? (z[i] > 0 ? 1 : SLOPE * exp(z[i]))
                                   : kinds[k] == GF_ACT_SELU
                                       ? GFI_SELU_LAMBDA * (z[i] > 0 ? 1 : GFI_SELU_ALPHA * exp(z[i]))
                                   : kinds[k] == GF_ACT_SOFTPLUS ? ref_act(GF_ACT_SIGMOID, z[i])
                                   : kinds[k] == GF_ACT_GELU     ? gelu_slope(z[i])
                                   : kinds[k] == GF_ACT_TANH       ? 1 - (double)y[i] * y[i]
                                   : kinds[k] == GF_ACT_SIGMOID ? (double)y[i] * (1 - (double)y[i])
                                                                : 1;
                        double want = dy[i] * s;
                        if (fabs(dz[i] - want) > 1e-6 * fabs(dy[i]))
                            fail_msg("version %d kind %d: dz %.9g, want %.9g", v, (int)kinds[k], (double)dz[i], want);
                        sum += dz[i];
                        mag += fabs(dz[i]);
                    }
                    if (fabs(db[j] - sum) > 1.2e-7 * mag + 1e-30)
                        fail_msg("version %d kind %d col %lld: db %.9g, want %.9g", v, (int)kinds[k],
                                 (long long)j, (double)db[j], sum);
                }
            }
}

static void test_act_grad_colsum_sums_columns_in_row_order_on_wide_layers(void **state)
{
    (void)state;
    /* Wider than the AVX-512 kernel's 256-column block, and not a multiple of 16. */
    enum { ROWS = 9, COLS = 601 };
    static float z[ROWS * COLS], y[ROWS * COLS], dy[ROWS * COLS], dz0[ROWS * COLS], dz1[ROWS * COLS], b[COLS];
    float db0[COLS], db1[COLS];
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < NKINDS; k++) {
            for (int64_t i = 0; i < ROWS * COLS; i++) {
                z[i] = uniform(-3, 3);
                dy[i] = uniform(-2, 2);
            }
            gfi_ew_portable.bias_act(kinds[k], SLOPE, b, z, y, ROWS, COLS, COLS);
            gfi_ew_portable.act_grad_colsum(kinds[k], SLOPE, z, y, dy, dz0, db0, ROWS, COLS, COLS);
            versions(v)->act_grad_colsum(kinds[k], SLOPE, z, y, dy, dz1, db1, ROWS, COLS, COLS);
            /* each column's sum: its own dz added in double in row order, whatever the blocking */
            for (int64_t j = 0; j < COLS; j++) {
                double sum = 0.0;
                for (int64_t r = 0; r < ROWS; r++)
                    sum += dz1[r * COLS + j];
                if (db1[j] != (float)sum)
                    fail_msg("version %d kind %d col %lld: db %.9g, row-order sum %.9g", v, (int)kinds[k],
                             (long long)j, (double)db1[j], sum);
            }
            /* ReLU, leaky ReLU and identity slopes are exact, so dz and db equal the portable kernel's */
            if (kinds[k] == GF_ACT_RELU || kinds[k] == GF_ACT_LEAKY_RELU || kinds[k] == GF_ACT_IDENTITY) {
                assert_memory_equal(dz0, dz1, sizeof dz0);
                assert_memory_equal(db0, db1, sizeof db0);
            }
        }
}

static gfi_ew_opt opt_params(int32_t kind, float wd)
{
    gfi_ew_opt o = {kind, 0.05f, 0.9f, wd, 0.9f, 0.999f, 0.1f, 0.001f, 1e-8f, 0.05f / 0.19f, 0.0447f, 1 - 0.05f * wd};
    return o;
}

static void test_optimizer_updates_equal_the_portable_loop_bit_for_bit(void **state)
{
    (void)state;
    enum { N = 37 };
    const int32_t okinds[] = {GF_OPT_SGD, GF_OPT_MOMENTUM, GF_OPT_NESTEROV, GF_OPT_ADAM, GF_OPT_ADAMW};
    float w0[N], g[N], m0[N], v0[N];
    for (int i = 0; i < N; i++) {
        w0[i] = uniform(-1, 1);
        g[i] = uniform(-1, 1);
        m0[i] = uniform(-0.1f, 0.1f);
        v0[i] = uniform(0, 0.01f);
    }
    for (int v = 1; versions(v); v++)
        for (int k = 0; k < 5; k++)
            for (int d = 0; d < 2; d++) {
                gfi_ew_opt o = opt_params(okinds[k], d ? 0.01f : 0.0f);
                float wa[N], ma[N], va[N], wb[N], mb[N], vb[N];
                memcpy(wa, w0, sizeof wa), memcpy(wb, w0, sizeof wb);
                memcpy(ma, m0, sizeof ma), memcpy(mb, m0, sizeof mb);
                memcpy(va, v0, sizeof va), memcpy(vb, v0, sizeof vb);
                gfi_ew_portable.opt_update(&o, wa, g, ma, va, N);
                versions(v)->opt_update(&o, wb, g, mb, vb, N);
                assert_memory_equal(wa, wb, sizeof wa);
                assert_memory_equal(ma, mb, sizeof ma);
                assert_memory_equal(va, vb, sizeof va);
            }
}

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fmax(fabs(want), 1e-300)))
        fail_msg("got %.17g, want %.17g (relative tolerance %g)", got, want, tol);
}

/* Double-loop statistics of a stepped range: old weights w0, gradient g,
 * new weights w1, n elements, with min/max seeded by g[0]; *gmag gets the
 * sum of |g|. */
static gfi_ew_pstats reference_stats(const float *w0, const float *g, const float *w1, size_t n, double *gmag)
{
    gfi_ew_pstats r = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
    *gmag = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)w1[i] - (double)w0[i];
        *gmag += fabs((double)g[i]);
        r.gsum += g[i], r.gss += (double)g[i] * g[i], r.wss += (double)w0[i] * w0[i], r.d2 += d * d;
        r.gmin = fminf(r.gmin, g[i]), r.gmax = fmaxf(r.gmax, g[i]), r.wmax = fmaxf(r.wmax, fabsf(w0[i]));
        r.gzeros += g[i] == 0.0f, r.wzeros += w0[i] == 0.0f;
    }
    return r;
}

/* The gradient's sum and squares, the old weights' squares and the
 * changes' squares may come from float partial sums of at most 8 terms per
 * lane (gfi_float_sums_trusted, gfi_float_moments_trusted in ew.h): within
 * 2^-21 of the sum of |g| and of each total. */
#define FLOAT_PARTIALS_REL 1e-6

static void assert_stats_equal(const gfi_ew_pstats *s, const gfi_ew_pstats *r, double gmag)
{
    if (!(fabs(s->gsum - r->gsum) <= FLOAT_PARTIALS_REL * gmag))
        fail_msg("gsum %.17g, want %.17g (sum of |g| %.3g)", s->gsum, r->gsum, gmag);
    assert_close(s->gss, r->gss, FLOAT_PARTIALS_REL);
    assert_close(s->wss, r->wss, FLOAT_PARTIALS_REL);
    assert_close(s->d2, r->d2, FLOAT_PARTIALS_REL);
    assert_true(s->gmin == r->gmin && s->gmax == r->gmax && s->wmax == r->wmax);
    assert_int_equal(s->gzeros, r->gzeros);
    assert_int_equal(s->wzeros, r->wzeros);
}

/* The measured update stores what opt_update stores, and its statistics
 * equal a double loop over old and new values (within the float partials'
 * rounding, see above; min, max and zero counts exactly); a second call
 * adds into the first's results. */
static void test_measured_update_steps_like_opt_update_and_sums_like_a_double_loop(void **state)
{
    (void)state;
    enum { N = 1000 + 7 };
    const int32_t okinds[] = {GF_OPT_SGD, GF_OPT_MOMENTUM, GF_OPT_NESTEROV, GF_OPT_ADAM, GF_OPT_ADAMW};
    static float w0[N], g[N], m0[N], v0[N];
    for (int i = 0; i < N; i++) {
        w0[i] = i % 17 == 0 ? 0.0f : uniform(-1, 1);
        g[i] = i % 13 == 0 ? 0.0f : uniform(-2e19f, 2e19f) * (i % 2 ? 1.0f : 1e-38f);
        m0[i] = uniform(-0.1f, 0.1f);
        v0[i] = uniform(0, 0.01f);
    }
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < 5; k++) {
            gfi_ew_opt o = opt_params(okinds[k], 0.01f);
            static float wa[N], ma[N], va[N], wb[N], mb[N], vb[N];
            memcpy(wa, w0, sizeof wa), memcpy(wb, w0, sizeof wb);
            memcpy(ma, m0, sizeof ma), memcpy(mb, m0, sizeof mb);
            memcpy(va, v0, sizeof va), memcpy(vb, v0, sizeof vb);
            gfi_ew_portable.opt_update(&o, wa, g, ma, va, N);
            gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
            const size_t cut = 333; /* two calls, the second adding into the first */
            assert_int_equal(versions(v)->opt_update_stats(&o, wb, g, mb, vb, cut, &s), cut);
            assert_int_equal(versions(v)->opt_update_stats(&o, wb + cut, g + cut, mb + cut, vb + cut, N - cut, &s),
                             N - cut);
            assert_memory_equal(wa, wb, sizeof wa);
            if (okinds[k] != GF_OPT_SGD)
                assert_memory_equal(ma, mb, sizeof ma);
            if (okinds[k] >= GF_OPT_ADAM)
                assert_memory_equal(va, vb, sizeof va);
            double gmag;
            gfi_ew_pstats r = reference_stats(w0, g, wa, N, &gmag);
            assert_stats_equal(&s, &r, gmag);
            assert_close(s.gss, r.gss, 1e-12); /* float squares of 2e19 overflow: summed in double instead */
            assert_true(isfinite(s.gss) && s.gss > 1e38);
            assert_false(s.state_bad);
        }
}

/* A NaN or Inf gradient or old weight stops the measured update before the
 * vector that holds it: the prefix it returns is stepped and measured as
 * opt_update and a double loop would, and nothing from there on changes
 * (so the caller can still count the bad values in the old weights). */
static void test_measured_update_stops_before_a_non_finite_input(void **state)
{
    (void)state;
    enum { N = 83 };
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int v = 0; versions(v); v++)
        for (int in_w = 0; in_w < 2; in_w++)
            for (int at = 0; at < N; at += 9) {
                float w0[N], g[N], m0[N], wa[N], ma[N], wb[N], mb[N];
                for (int i = 0; i < N; i++) {
                    w0[i] = uniform(-1, 1);
                    g[i] = uniform(-1, 1);
                    m0[i] = uniform(-0.1f, 0.1f);
                }
                (in_w ? w0 : g)[at] = bad[at % 3];
                memcpy(wa, w0, sizeof wa), memcpy(wb, w0, sizeof wb);
                memcpy(ma, m0, sizeof ma), memcpy(mb, m0, sizeof mb);
                gfi_ew_opt o = opt_params(GF_OPT_MOMENTUM, 0.0f);
                gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
                size_t k = versions(v)->opt_update_stats(&o, wb, g, mb, NULL, N, &s);
                assert_true(k <= (size_t)at && (size_t)at - k < 16);
                gfi_ew_portable.opt_update(&o, wa, g, ma, NULL, k);
                assert_memory_equal(wa, wb, sizeof wa); /* the prefix stepped, the rest as it was */
                assert_memory_equal(ma, mb, sizeof ma);
                if (k > 0) {
                    double gmag;
                    gfi_ew_pstats r = reference_stats(w0, g, wa, k, &gmag);
                    assert_stats_equal(&s, &r, gmag);
                }
                assert_false(s.state_bad);
            }
}

/* Gradients whose float squares underflow (1e-25^2 < FLT_MIN), with signs
 * that cancel in the sum, get the sums double accumulation gives: a
 * vanishing gradient's norm is not read as 0. */
static void test_measured_update_sums_tiny_gradients_exactly(void **state)
{
    (void)state;
    enum { N = 1000 + 7 };
    static float w[N], g[N], m[N], w0[N];
    for (int v = 0; versions(v); v++) {
        for (int i = 0; i < N; i++) {
            w0[i] = w[i] = uniform(-1, 1);
            g[i] = i % 2 ? 1e-25f : -1e-25f;
            m[i] = 0.0f;
        }
        gfi_ew_opt o = opt_params(GF_OPT_MOMENTUM, 0.0f);
        gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
        assert_int_equal(versions(v)->opt_update_stats(&o, w, g, m, NULL, N, &s), N);
        double gmag;
        gfi_ew_pstats r = reference_stats(w0, g, w, N, &gmag);
        assert_close(s.gss, r.gss, 1e-12);
        assert_true(s.gss > 1e-48);
        assert_true(fabs(s.gsum - r.gsum) <= 1e-12 * gmag);
    }
}

/* Old weights and changes whose float squares underflow (1e-25^2 <
 * FLT_MIN) get the sums double accumulation gives, as tiny gradients do: a
 * collapsed layer's weight norm and a vanishing net's steps are not read
 * as 0. */
static void test_measured_update_sums_tiny_weights_and_changes_exactly(void **state)
{
    (void)state;
    enum { N = 3000 + 7 };
    static float w[N], g[N], m[N], w0[N];
    for (int v = 0; versions(v); v++) {
        for (int i = 0; i < N; i++) {
            w0[i] = w[i] = (i % 2 ? 1e-25f : -2e-25f) * uniform(1, 1.5f);
            g[i] = (i % 3 ? 1e-26f : -1e-26f) * uniform(1, 2);
            m[i] = 0.0f;
        }
        gfi_ew_opt o = opt_params(GF_OPT_SGD, 0.0f);
        o.lr = 1.0f;
        gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
        assert_int_equal(versions(v)->opt_update_stats(&o, w, g, m, NULL, N, &s), N);
        double gmag;
        gfi_ew_pstats r = reference_stats(w0, g, w, N, &gmag);
        assert_true(r.wss > 1e-48 && r.d2 > 1e-50);
        assert_close(s.wss, r.wss, 1e-12);
        assert_close(s.d2, r.d2, 1e-12);
    }
}

/* Old weights and changes whose float squares overflow (2e19^2 > FLT_MAX)
 * are summed in double: finite, as the double loop's. */
static void test_measured_update_sums_huge_weights_and_changes_in_double(void **state)
{
    (void)state;
    enum { N = 3000 + 7 };
    static float w[N], g[N], m[N], w0[N];
    for (int v = 0; versions(v); v++) {
        for (int i = 0; i < N; i++) {
            w0[i] = w[i] = (i % 2 ? 2e19f : -3e19f) * uniform(1, 1.5f);
            g[i] = (i % 3 ? 6e19f : -6e19f) * uniform(1, 2);
            m[i] = 0.0f;
        }
        gfi_ew_opt o = opt_params(GF_OPT_SGD, 0.0f);
        o.lr = 1.0f;
        gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
        assert_int_equal(versions(v)->opt_update_stats(&o, w, g, m, NULL, N, &s), N);
        double gmag;
        gfi_ew_pstats r = reference_stats(w0, g, w, N, &gmag);
        assert_true(isfinite(r.wss) && r.wss > 1e39 && isfinite(r.d2) && r.d2 > 1e39);
        assert_close(s.wss, r.wss, FLOAT_PARTIALS_REL);
        assert_close(s.d2, r.d2, FLOAT_PARTIALS_REL);
    }
}

/* A new state value that is NaN or Inf is reported, here a velocity (or
 * Adam's second moment) that overflows from finite inputs (0.9 * 3e38 +
 * 3e38, or (3e38)^2) in the tail lanes of the last vector or in the first
 * vector, with a learning rate of 0 or not. */
static void test_measured_update_reports_non_finite_state(void **state)
{
    (void)state;
    enum { N = 35 };
    const int32_t kinds[] = {GF_OPT_MOMENTUM, GF_OPT_NESTEROV, GF_OPT_ADAM};
    const float lrs[] = {0.0f, 0.01f};
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < 3; k++)
            for (int l = 0; l < 2; l++)
                for (int at = 0; at < N; at += 17) {
                    float w[N], g[N], m[N], var[N];
                    for (int i = 0; i < N; i++)
                        w[i] = 1.0f, g[i] = 0.5f, m[i] = 0.0f, var[i] = 0.0f;
                    g[at] = 3e38f;
                    m[at] = 3e38f;
                    gfi_ew_opt o = opt_params(kinds[k], 0.0f);
                    o.lr = lrs[l];
                    o.step = lrs[l] / 0.19f; /* Adam: lr / bc1 */
                    gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
                    assert_int_equal(versions(v)->opt_update_stats(&o, w, g, m, var, N, &s), N);
                    assert_true(s.state_bad);
                    assert_true(kinds[k] == GF_OPT_ADAM ? isinf(var[at]) : isinf(m[at]));
                }
}

/* Weights that overflow while the state stays finite (a velocity of -2e38
 * times a learning rate of 2 from 2e38) make the change's sum non-finite
 * but are not reported as bad state. */
static void test_measured_update_keeps_state_good_when_only_weights_overflow(void **state)
{
    (void)state;
    enum { N = 35 };
    const int32_t kinds[] = {GF_OPT_SGD, GF_OPT_MOMENTUM, GF_OPT_NESTEROV};
    for (int v = 0; versions(v); v++)
        for (int k = 0; k < 3; k++) {
            float w[N], g[N], m[N];
            for (int i = 0; i < N; i++)
                w[i] = 1.0f, g[i] = 0.5f, m[i] = 0.0f;
            w[20] = 2e38f;
            g[20] = -2e38f;
            gfi_ew_opt o = opt_params(kinds[k], 0.0f);
            o.lr = 2.0f;
            gfi_ew_pstats s = {0.0, 0.0, 0.0, 0.0, g[0], g[0], 0.0f, 0, 0, false};
            assert_int_equal(versions(v)->opt_update_stats(&o, w, g, m, NULL, N, &s), N);
            assert_true(isinf(w[20]));
            assert_false(isfinite(s.d2));
            assert_false(s.state_bad);
        }
}

/* The pooling rule written out per window (ew.h): take v when v > best or v
 * is NaN, in row order, starting from -Inf at the window's first index. */
static void reference_max_2x2(const float *x, int64_t w, int64_t sh, int64_t sw, float *y, int32_t *arg, int64_t oh,
                              int64_t ow)
{
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            int64_t i = oy * sh * w + ox * sw, at[4] = {i, i + 1, i + w, i + w + 1}, where = i;
            float best = -INFINITY;
            for (int k = 0; k < 4; k++)
                if (x[at[k]] > best || isnan(x[at[k]]))
                    best = x[at[k]], where = at[k];
            y[oy * ow + ox] = best;
            arg[oy * ow + ox] = (int32_t)where;
        }
}

/* Every version's 2 x 2 max pooling gives the rule's values (bit for bit,
 * NaN payloads and signed zeros included) and indices: planes whose output
 * rows are not a multiple of the vector width, values drawn from a few
 * levels so windows hold ties, NaNs of different payloads (two in some
 * windows), row strides 1 and 2, column strides 2 (the vector path) and 1
 * and 3 (handed to the portable loop), and no index array. */
static void test_max_pool_2x2_versions_follow_the_rule_on_ties_nan_and_edges(void **state)
{
    (void)state;
    enum { H = 9, W = 71 };
    static float x[H * W], y[H * W], want[H * W];
    static int32_t arg[H * W], want_arg[H * W];
    const float levels[] = {-1.0f, -0.0f, 0.0f, 0.5f, 2.0f};
    const float nan1 = NAN, nan2 = -nan1;
    for (int v = 0; versions(v); v++)
        for (int64_t sh = 1; sh <= 2; sh++)
            for (int64_t sw = 1; sw <= 3; sw++)
                for (int64_t w = 2; w <= W; w += 7)
                    for (int trial = 0; trial < 3; trial++) {
                        for (int i = 0; i < H * W; i++) {
                            int r = rand() % 100;
                            x[i] = r < 3 ? (r ? nan1 : nan2) : r < 60 ? levels[r % 5] : uniform(-3, 3);
                        }
                        int64_t oh = (H - 2) / sh + 1, ow = (w - 2) / sw + 1;
                        reference_max_2x2(x, w, sh, sw, want, want_arg, oh, ow);
                        memset(arg, 0xff, sizeof arg);
                        versions(v)->max_pool_2x2(x, w, sh, sw, y, arg, oh, ow);
                        assert_memory_equal(y, want, (size_t)(oh * ow) * sizeof *y);
                        assert_memory_equal(arg, want_arg, (size_t)(oh * ow) * sizeof *arg);
                        assert_true(arg[oh * ow] == -1); /* nothing written past the output */
                        memset(y, 0, sizeof y);
                        versions(v)->max_pool_2x2(x, w, sh, sw, y, NULL, oh, ow);
                        assert_memory_equal(y, want, (size_t)(oh * ow) * sizeof *y);
                    }
}

/* Every version's copy_rows copies planes of rows of 0 - 40 floats between
 * strides and writes nothing else: the gaps between destination rows and
 * planes, and what follows the last, keep their contents. */
static void test_copy_rows_copies_each_row_and_nothing_else(void **state)
{
    (void)state;
    enum { ROWS = 5, LDS = 53, LDD = 47, PLANES = 3, SPLANE = ROWS * LDS + 7, DPLANE = ROWS * LDD + 5 };
    static float src[PLANES * SPLANE], dst[(PLANES + 1) * DPLANE], want[(PLANES + 1) * DPLANE];
    for (int i = 0; i < PLANES * SPLANE; i++)
        src[i] = uniform(-1, 1);
    for (int v = 0; versions(v); v++)
        for (int64_t planes = 0; planes <= PLANES; planes++)
            for (int64_t cols = 0; cols <= 40; cols++)
                for (int64_t rows = 0; rows <= ROWS; rows++) {
                    for (int i = 0; i < (PLANES + 1) * DPLANE; i++)
                        dst[i] = want[i] = (float)-i;
                    for (int64_t q = 0; q < planes; q++)
                        for (int64_t r = 0; r < rows; r++)
                            for (int64_t c = 0; c < cols; c++)
                                want[q * DPLANE + r * LDD + c] = src[q * SPLANE + r * LDS + c + 3];
                    versions(v)->copy_rows(dst, LDD, DPLANE, src + 3, LDS, SPLANE, planes, rows, cols);
                    assert_memory_equal(dst, want, sizeof dst);
                }
}

/* Every version's add_rows adds rows of 0 - 40 floats between strides,
 * each element once, and writes nothing else. */
static void test_add_rows_adds_each_row_and_nothing_else(void **state)
{
    (void)state;
    enum { ROWS = 5, LDS = 53, LDD = 47 };
    static float src[ROWS * LDS], dst[(ROWS + 1) * LDD], want[(ROWS + 1) * LDD];
    for (int i = 0; i < ROWS * LDS; i++)
        src[i] = uniform(-1, 1);
    for (int v = 0; versions(v); v++)
        for (int64_t cols = 0; cols <= 40; cols++)
            for (int64_t rows = 0; rows <= ROWS; rows++) {
                for (int i = 0; i < (ROWS + 1) * LDD; i++)
                    dst[i] = want[i] = uniform(-1, 1);
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t c = 0; c < cols; c++)
                        want[r * LDD + c] += src[r * LDS + c + 3];
                versions(v)->add_rows(dst, LDD, src + 3, LDS, rows, cols);
                assert_memory_equal(dst, want, sizeof dst);
            }
}

/* Every version's run_sum16 gives the portable loop's bits: runs of 0 - 40
 * floats spread over forty binades (so any other order of the adds rounds
 * differently), a run of -0 only, and an Inf. */
static void test_run_sum16_versions_give_the_portable_sums_bits(void **state)
{
    (void)state;
    enum { N = 41 };
    static float x[N + 1];
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i <= N; i++)
            x[i] = uniform(-1, 1) * ldexpf(1.0f, (int)uniform(-20, 20));
        for (int v = 1; versions(v); v++)
            for (int64_t n = 0; n <= N; n++) {
                double want = gfi_ew_portable.run_sum16(x + 1, n), got = versions(v)->run_sum16(x + 1, n);
                assert_memory_equal(&got, &want, sizeof got);
            }
    }
    static float zeros[N];
    for (int i = 0; i < N; i++)
        zeros[i] = -0.0f;
    for (int v = 0; versions(v); v++) {
        double z = versions(v)->run_sum16(zeros, N);
        assert_true(z == 0.0 && !signbit(z));
        zeros[37] = INFINITY;
        assert_true(isinf(versions(v)->run_sum16(zeros, N)));
        zeros[37] = -0.0f;
    }
}

static void test_first_nonfinite_finds_the_first_nan_or_inf(void **state)
{
    (void)state;
    enum { N = 50 };
    float x[N];
    for (int v = 0; versions(v); v++) {
        for (int i = 0; i < N; i++)
            x[i] = uniform(-1e30f, 1e30f);
        assert_int_equal(versions(v)->first_nonfinite(x, N), N);
        assert_int_equal(versions(v)->first_nonfinite(x, 0), 0);
        for (int at = 0; at < N; at += 7) {
            float saved = x[at];
            x[at] = at % 2 ? NAN : -INFINITY;
            x[N - 1] = INFINITY;
            assert_int_equal(versions(v)->first_nonfinite(x, N), at);
            assert_int_equal(versions(v)->first_nonfinite(x, (size_t)at), at); /* past n is not read */
            x[at] = saved;
            x[N - 1] = 1.0f;
        }
    }
}

static void test_optimizer_split_over_two_threads_matches_one_bit_for_bit(void **state)
{
    (void)state;
    enum { N = 200003 };
    static float w1[N], w2[N], g[N], m1[N], m2[N], v1[N], v2[N];
    for (int i = 0; i < N; i++) {
        w1[i] = w2[i] = uniform(-1, 1);
        g[i] = uniform(-1, 1);
        m1[i] = m2[i] = v1[i] = v2[i] = 0;
    }
    struct gfi_pool *pool;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_OK);
    gfi_ew_opt o = opt_params(GF_OPT_ADAM, 0.0f);
    gfi_ew_opt_run(NULL, &o, w1, g, m1, v1, N);
    gfi_ew_opt_run(pool, &o, w2, g, m2, v2, N);
    assert_memory_equal(w1, w2, sizeof w1);
    assert_memory_equal(m1, m2, sizeof m1);
    assert_memory_equal(v1, v2, sizeof v1);
    gfi_pool_destroy(pool);
}

/* A layer big enough to be split (300 x 333: 21 column blocks, an odd row
 * count), every fast kind: the pool's passes equal one thread's bit for bit. */
static void test_layer_passes_split_over_two_threads_match_one_bit_for_bit(void **state)
{
    (void)state;
    enum { R = 300, C = 333, N = R * C };
    static float b[C], z1[N], z2[N], y1[N], y2[N], dy[N], dz1[N], dz2[N], db1[C], db2[C];
    struct gfi_pool *pool;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_OK);
    for (int k = 0; k < NKINDS; k++) {
        for (int j = 0; j < C; j++)
            b[j] = uniform(-1, 1);
        for (int i = 0; i < N; i++) {
            z1[i] = z2[i] = uniform(-3, 3);
            dy[i] = uniform(-2, 2);
        }
        gfi_ew_bias_act_run(NULL, kinds[k], SLOPE, b, z1, y1, R, C);
        gfi_ew_bias_act_run(pool, kinds[k], SLOPE, b, z2, y2, R, C);
        assert_memory_equal(z1, z2, sizeof z1);
        assert_memory_equal(y1, y2, sizeof y1);
        gfi_ew_act_grad_colsum_run(NULL, kinds[k], SLOPE, z1, y1, dy, dz1, db1, R, C);
        gfi_ew_act_grad_colsum_run(pool, kinds[k], SLOPE, z2, y2, dy, dz2, db2, R, C);
        assert_memory_equal(dz1, dz2, sizeof dz1);
        assert_memory_equal(db1, db2, sizeof db1);
    }
    gfi_pool_destroy(pool);
}

/* ld > cols: a column block inside a wider matrix is read and written in
 * place, and the columns around it are left alone. */
static void test_act_grad_colsum_honours_the_row_stride(void **state)
{
    (void)state;
    enum { R = 5, LD = 40, C0 = 16, C = 17 };
    float z[R * LD], y[R * LD], dy[R * LD], dz[R * LD], db[C], want_dz[R * C], want_db[C], b[LD] = {0};
    float zs[R * C], ys[R * C], dys[R * C];
    for (int v = 0; versions(v); v++) {
        for (int i = 0; i < R * LD; i++) {
            z[i] = uniform(-3, 3);
            dy[i] = uniform(-2, 2);
            dz[i] = -7.0f;
        }
        gfi_ew_portable.bias_act(GF_ACT_TANH, SLOPE, b, z, y, R, LD, LD);
        for (int r = 0; r < R; r++)
            for (int j = 0; j < C; j++) {
                zs[r * C + j] = z[r * LD + C0 + j];
                ys[r * C + j] = y[r * LD + C0 + j];
                dys[r * C + j] = dy[r * LD + C0 + j];
            }
        versions(v)->act_grad_colsum(GF_ACT_TANH, SLOPE, zs, ys, dys, want_dz, want_db, R, C, C);
        versions(v)->act_grad_colsum(GF_ACT_TANH, SLOPE, z + C0, y + C0, dy + C0, dz + C0, db, R, C, LD);
        for (int r = 0; r < R; r++)
            for (int j = 0; j < LD; j++) {
                float got = dz[r * LD + j];
                if (j >= C0 && j < C0 + C)
                    assert_true(got == want_dz[r * C + j - C0]);
                else
                    assert_true(got == -7.0f);
            }
        assert_memory_equal(db, want_db, sizeof db);
    }
}

/* Both vector versions evaluate the same float formulas (AVX2 builds 2^n
 * from two exact powers of two where AVX-512 has scalef), so they agree bit
 * for bit: a net does not change its outputs when it moves between CPUs. */
static void test_avx2_and_avx512_activations_agree_bit_for_bit(void **state)
{
    (void)state;
#if defined(__x86_64__) || defined(__i386__)
    if (!gfi_gemm_kernel_available(GFI_GEMM_AVX512) || !gfi_gemm_kernel_available(GFI_GEMM_AVX2))
        skip();
    enum { N = 4099 };
    static float b[N], z1[N], z2[N], y1[N], y2[N], dy[N], dz1[N], dz2[N];
    float db1[N], db2[N];
    memset(b, 0, sizeof b);
    for (int k = 0; k < NKINDS; k++) {
        for (int i = 0; i < N; i++) {
            /* a sweep over the series / exp / saturated ranges, with both signs */
            float x = (float)(i - N / 2) * (float)(i % 7 == 0 ? 0.031 : 0.00053);
            z1[i] = z2[i] = i == 17 ? NAN : i == 18 ? -INFINITY : i == 19 ? 1e-30f : x;
            dy[i] = uniform(-2, 2);
        }
        gfi_ew_avx2.bias_act(kinds[k], SLOPE, b, z1, y1, 1, N, N);
        gfi_ew_avx512.bias_act(kinds[k], SLOPE, b, z2, y2, 1, N, N);
        assert_memory_equal(y1, y2, sizeof y1);
        gfi_ew_avx2.act_grad_colsum(kinds[k], SLOPE, z1, y1, dy, dz1, db1, 1, N, N);
        gfi_ew_avx512.act_grad_colsum(kinds[k], SLOPE, z2, y2, dy, dz2, db2, 1, N, N);
        assert_memory_equal(dz1, dz2, sizeof dz1);
        assert_memory_equal(db1, db2, sizeof db1);
    }
#else
    skip();
#endif
}

/* gfi_ew_force picks the version gfi_ew() hands out (the benchmark's
 * --isa uses it), refuses unknown ids and keeps its choice when refused. */
static void test_ew_force_selects_a_version_and_refuses_unknown_ids(void **state)
{
    (void)state;
    const gfi_ew_ops *best = gfi_ew();
    assert_int_equal(gfi_ew_force(GFI_GEMM_PORTABLE), GF_OK);
    assert_ptr_equal(gfi_ew(), &gfi_ew_portable);
    assert_int_equal(gfi_ew_force(GFI_GEMM_NKERNELS), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "gfi_ew_force"));
    assert_ptr_equal(gfi_ew(), &gfi_ew_portable);
    assert_int_equal(gfi_ew_force(GFI_GEMM_AUTO), GF_OK);
    assert_ptr_equal(gfi_ew(), best);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bias_act_matches_double_formulas_on_every_width),
        cmocka_unit_test(test_bias_act_on_a_block_of_columns_matches_the_whole_rows_and_leaves_the_rest),
        cmocka_unit_test(test_tanh_and_sigmoid_are_accurate_on_a_dense_sweep),
        cmocka_unit_test(test_leaky_relu_passes_give_the_bits_of_the_scalar_formulas),
        cmocka_unit_test(test_elu_and_selu_are_accurate_on_a_dense_sweep),
        cmocka_unit_test(test_elu_and_selu_keep_limits_signed_zeros_and_nan),
        cmocka_unit_test(test_softplus_is_accurate_on_a_dense_sweep),
        cmocka_unit_test(test_softplus_keeps_limits_and_nan),
        cmocka_unit_test(test_gelu_is_accurate_on_a_dense_sweep),
        cmocka_unit_test(test_gelu_edges_match_the_double_formulas_bits),
        cmocka_unit_test(test_saturating_kinds_give_exact_limits_and_keep_nan),
        cmocka_unit_test(test_act_grad_colsum_matches_double_reference),
        cmocka_unit_test(test_act_grad_colsum_sums_columns_in_row_order_on_wide_layers),
        cmocka_unit_test(test_optimizer_updates_equal_the_portable_loop_bit_for_bit),
        cmocka_unit_test(test_measured_update_steps_like_opt_update_and_sums_like_a_double_loop),
        cmocka_unit_test(test_measured_update_stops_before_a_non_finite_input),
        cmocka_unit_test(test_measured_update_sums_tiny_gradients_exactly),
        cmocka_unit_test(test_measured_update_sums_tiny_weights_and_changes_exactly),
        cmocka_unit_test(test_measured_update_sums_huge_weights_and_changes_in_double),
        cmocka_unit_test(test_measured_update_reports_non_finite_state),
        cmocka_unit_test(test_measured_update_keeps_state_good_when_only_weights_overflow),
        cmocka_unit_test(test_first_nonfinite_finds_the_first_nan_or_inf),
        cmocka_unit_test(test_optimizer_split_over_two_threads_matches_one_bit_for_bit),
        cmocka_unit_test(test_layer_passes_split_over_two_threads_match_one_bit_for_bit),
        cmocka_unit_test(test_act_grad_colsum_honours_the_row_stride),
        cmocka_unit_test(test_avx2_and_avx512_activations_agree_bit_for_bit),
        cmocka_unit_test(test_ew_force_selects_a_version_and_refuses_unknown_ids),
        cmocka_unit_test(test_max_pool_2x2_versions_follow_the_rule_on_ties_nan_and_edges),
        cmocka_unit_test(test_copy_rows_copies_each_row_and_nothing_else),
        cmocka_unit_test(test_add_rows_adds_each_row_and_nothing_else),
        cmocka_unit_test(test_run_sum16_versions_give_the_portable_sums_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
