/* test_diag.c — per-layer gradient-health statistics: each one against a value computed here, the history
 * ring, EVERY, the origin of NaN/Inf, allocation-free observation, lifetimes and misuse. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"
#include "diag.h" /* gfi_diag_chance */
#include "ew.h"
#include "gemm.h"

/* ---- helpers ---- */

static gf_net *net_of(int64_t inputs, int n, const int64_t *sizes, const int32_t *acts)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, inputs, 7), GF_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(gf_net_add_dense(net, sizes[i], acts[i], NULL), GF_OK);
    return net;
}

static void set_layer(gf_net *net, int32_t i, const float *w, size_t nw, const float *b, size_t nb)
{
    gf_layer *l = gf_net_layer(net, i);
    assert_int_equal(gf_layer_set_weights(l, w, nw), GF_OK);
    assert_int_equal(gf_layer_set_bias(l, b, nb), GF_OK);
}

static gf_diag *diag_of(gf_net *net)
{
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    return d;
}

static double val(const gf_diag *d, int32_t layer, int32_t stat)
{
    double v;
    assert_int_equal(gf_diag_value(d, layer, stat, &v), GF_OK);
    return v;
}

static void use_sgd(gf_net *net, double lr)
{
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_SGD, lr), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
}

static double norm_of(const float *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static double maxabs_of(const float *v, size_t n)
{
    double m = 0;
    /* A comparison, not fmax: gcc 12 for aarch64 crashes vectorizing an fmax reduction here. */
    for (size_t i = 0; i < n; i++)
        m = fabs(v[i]) > m ? fabs(v[i]) : m;
    return m;
}

static void assert_rel(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fmax(fabs(want), 1e-300)))
        fail_msg("got %.9g, want %.9g (relative tolerance %g)", got, want, tol);
}

/* 2 -> 3 (relu) -> 2 (identity) with hand-set weights; MSE. */
static gf_net *small_net(void)
{
    const int64_t sizes[2] = {3, 2};
    const int32_t acts[2] = {GF_ACT_RELU, GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 2, sizes, acts);
    const float w0[6] = {0.5f, -0.25f, 0.0f, 0.75f, -1.0f, 0.5f}, b0[3] = {0.1f, 0.0f, -0.2f};
    const float w1[6] = {1.5f, -0.5f, 0.25f, 0.3f, 0.0f, -0.8f}, b1[2] = {0.2f, -0.1f};
    set_layer(net, 0, w0, 6, b0, 3);
    set_layer(net, 1, w1, 6, b1, 2);
    return net;
}

static const float small_x[6] = {1.0f, 2.0f, -0.5f, 1.5f, 2.0f, -1.0f};
static const float small_t[6] = {0.5f, -0.5f, 1.0f, 0.0f, -1.0f, 2.0f};

static void train_small(gf_net *net, double *loss)
{
    assert_int_equal(gf_net_train_step(net, small_x, 6, small_t, 6, 3, loss), GF_OK);
}

/* ---- lifetime ---- */

static void test_second_diag_on_one_net_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net), *e = (gf_diag *)1;
    assert_int_equal(gf_diag_create(&e, net), GF_ERR_STATE);
    assert_null(e);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_destroying_the_net_first_detaches_the_diag(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    gf_net_destroy(net);
    double v;
    assert_int_equal(gf_diag_value(d, 0, GF_STAT_LOSS, &v), GF_ERR_STATE);
    assert_non_null(strstr(gf_last_error(), "gf_diag_value"));
    assert_int_equal(gf_diag_enable(d, 1), GF_ERR_STATE);
    assert_int_equal(gf_diag_steps(d), -1);
    gf_diag_destroy(d);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_destroying_the_diag_first_detaches_it_from_the_net(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    gf_diag_destroy(d);
    train_small(net, NULL);
    assert_int_equal(gf_net_steps(net), 2);
    gf_diag *e = diag_of(net); /* the net accepts a new one */
    gf_net_destroy(net);
    gf_diag_destroy(e);
    assert_int_equal(gf_live_allocations(), 0);
}

/* ---- delta statistics ---- */

static void test_delta_statistics_of_the_top_layer_match_the_loss_gradient_and_input_gradient(void **state)
{
    (void)state;
    const int64_t sizes[1] = {2};
    const int32_t acts[1] = {GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 1, sizes, acts);
    const float w[4] = {0.5f, -1.0f, 2.0f, 0.25f}, b[2] = {0.1f, -0.3f};
    set_layer(net, 0, w, 4, b, 2);
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    gf_diag *d = diag_of(net);
    const float x[4] = {1.0f, -2.0f, 0.5f, 3.0f}, t[4] = {0.0f, 1.0f, -1.0f, 0.5f};
    float y[4], dy[4], dx[4];
    assert_int_equal(gf_net_forward(net, x, 4, 2, y, 4), GF_OK);
    gf_loss *mse;
    assert_int_equal(gf_loss_create(&mse, GF_LOSS_MSE), GF_OK);
    double lv;
    assert_int_equal(gf_loss_compute(mse, y, t, 2, 2, &lv, dy), GF_OK);
    gf_loss_destroy(mse);
    assert_int_equal(gf_net_backward(net, t, 4, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(net, dx, 4), GF_OK);
    assert_int_equal(gf_net_step(net), GF_OK);
    /* identity: d loss / d pre-activation is the loss gradient itself */
    assert_rel(val(d, 0, GF_STAT_DELTA_PRE_NORM), norm_of(dy, 4), 1e-6);
    assert_rel(val(d, 0, GF_STAT_DELTA_PRE_RMS), norm_of(dy, 4) / 2.0, 1e-6);
    assert_rel(val(d, 0, GF_STAT_DELTA_PRE_MAXABS), maxabs_of(dy, 4), 1e-6);
    assert_rel(val(d, 0, GF_STAT_DELTA_IN_NORM), norm_of(dx, 4), 1e-6);
    assert_rel(val(d, 0, GF_STAT_DELTA_IN_RMS), norm_of(dx, 4) / 2.0, 1e-6);
    assert_rel(val(d, 0, GF_STAT_DELTA_IN_MAXABS), maxabs_of(dx, 4), 1e-6);
    assert_rel(val(d, 0, GF_STAT_LOSS), lv, 1e-9);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_delta_gain_is_the_ratio_of_delta_in_norms_and_one_at_the_top(void **state)
{
    (void)state;
    gf_net *net = small_net();
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    assert_rel(val(d, 1, GF_STAT_DELTA_GAIN), 1.0, 0);
    assert_rel(val(d, 0, GF_STAT_DELTA_GAIN), val(d, 0, GF_STAT_DELTA_IN_NORM) / val(d, 1, GF_STAT_DELTA_IN_NORM),
               1e-12);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_without_the_input_gradient_layer_0_delta_in_is_not_measured(void **state)
{
    (void)state;
    gf_net *net = small_net(); /* gf_net_set_input_grad left off, the default */
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_IN_NORM)));
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_IN_RMS)));
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_IN_MAXABS)));
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_GAIN)));
    /* the layers above are measured as always, and "not measured" is no NaN event */
    assert_true(val(d, 1, GF_STAT_DELTA_IN_NORM) > 0);
    assert_true(val(d, 0, GF_STAT_DELTA_PRE_NORM) > 0);
    assert_rel(val(d, 0, GF_STAT_NONFINITE), 0.0, 0);
    int32_t found = -1;
    assert_int_equal(gf_diag_origin(d, &found, NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(found, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_without_the_input_gradient_layer_0_delta_gain_stays_nan_when_no_delta_reaches_layer_1(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float zero[6] = {0};
    /* Top weights 0: layer 1's delta-in is exactly 0, so layer 0's gain has a zero
     * denominator.  Layer 0's delta-in was still not measured: NaN, not a gain of 0. */
    set_layer(net, 1, zero, 6, zero, 2);
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    assert_rel(val(d, 1, GF_STAT_DELTA_IN_NORM), 0.0, 0);
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_GAIN)));
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_without_the_input_gradient_a_single_layer_has_no_delta_gain(void **state)
{
    (void)state;
    const int64_t sizes[1] = {2};
    const int32_t acts[1] = {GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 1, sizes, acts);
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    /* Layer 0 is also the top layer; its delta-in was not measured, so neither is its gain. */
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_IN_NORM)));
    assert_true(isnan(val(d, 0, GF_STAT_DELTA_GAIN)));
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* ---- gradient and weight statistics ---- */

/* The gradient's squares may come from float partial sums of at most 8
 * terms per lane (ew.h, gfi_float_sums_trusted): equal to double
 * accumulation within 2^-21 of the total.  Its sum, which may cancel, is in
 * double. */
#define FLOAT_PARTIALS_REL 1e-6

static void check_grad_stats(const gf_diag *d, int32_t layer, int32_t base, const float *g, size_t n)
{
    double s = 0, mag = 0, mn = INFINITY, mx = -INFINITY;
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++) {
        s += g[i];
        mag += fabs((double)g[i]);
        mn = fmin(mn, g[i]);
        mx = fmax(mx, g[i]);
        zeros += g[i] == 0.0f;
    }
    double mean = s / (double)n, var = 0;
    for (size_t i = 0; i < n; i++)
        var += (g[i] - mean) * (g[i] - mean);
    assert_rel(val(d, layer, base + 0), norm_of(g, n), FLOAT_PARTIALS_REL);
    assert_true(fabs(val(d, layer, base + 1) - mean) <= 1e-12 * mag / (double)n);
    assert_true(fabs(val(d, layer, base + 2) - sqrt(var / (double)n)) < 1e-7);
    assert_rel(val(d, layer, base + 3), mn, 0);
    assert_rel(val(d, layer, base + 4), mx, 0);
    assert_rel(val(d, layer, base + 5), fmax(fabs(mn), fabs(mx)), 0);
    assert_rel(val(d, layer, base + 6), (double)zeros / (double)n, 0);
}

static void test_weight_and_bias_gradient_statistics_match_the_gradients(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    for (int32_t i = 0; i < 2; i++) {
        float g[6], gb[3];
        gf_layer *l = gf_net_layer(net, i);
        size_t nb = (size_t)gf_layer_bias_count(l);
        assert_int_equal(gf_layer_get_weight_grad(l, g, 6), GF_OK);
        assert_int_equal(gf_layer_get_bias_grad(l, gb, nb), GF_OK);
        check_grad_stats(d, i, GF_STAT_WGRAD_NORM, g, 6);
        check_grad_stats(d, i, GF_STAT_BGRAD_NORM, gb, nb);
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_gradient_zero_fraction_counts_rows_of_a_dead_unit(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float w0[6] = {0.5f, -0.25f, 0.0f, 0.0f, -1.0f, 0.5f}, b0[3] = {0.1f, -5.0f, -0.2f};
    set_layer(net, 0, w0, 6, b0, 3); /* unit 1 is off for every sample */
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    float g[6];
    assert_int_equal(gf_layer_get_weight_grad(gf_net_layer(net, 0), g, 6), GF_OK);
    size_t zeros = 0;
    for (int i = 0; i < 6; i++)
        zeros += g[i] == 0.0f;
    assert_true(zeros >= 2);
    assert_rel(val(d, 0, GF_STAT_WGRAD_ZERO_FRAC), zeros / 6.0, 0);
    assert_rel(val(d, 0, GF_STAT_WEIGHT_ZERO_FRAC), 2.0 / 6.0, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_weight_statistics_describe_the_weights_the_step_started_from(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    const float w1[6] = {1.5f, -0.5f, 0.25f, 0.3f, 0.0f, -0.8f};
    train_small(net, NULL);
    assert_rel(val(d, 1, GF_STAT_WEIGHT_NORM), norm_of(w1, 6), 1e-9);
    assert_rel(val(d, 1, GF_STAT_WEIGHT_MAXABS), 1.5, 0);
    assert_rel(val(d, 1, GF_STAT_WEIGHT_ZERO_FRAC), 1.0 / 6.0, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_sgd_update_ratio_is_lr_times_gradient_norm_over_weight_norm(void **state)
{
    (void)state;
    gf_net *net = small_net();
    use_sgd(net, 0.05);
    gf_diag *d = diag_of(net);
    float w[6], g[6];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 1), w, 6), GF_OK);
    train_small(net, NULL);
    assert_int_equal(gf_layer_get_weight_grad(gf_net_layer(net, 1), g, 6), GF_OK);
    assert_rel(val(d, 1, GF_STAT_UPDATE_RATIO), 0.05 * norm_of(g, 6) / norm_of(w, 6), 1e-5);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_weight_norm_of_1024_weights_of_2e19_is_6_4e20(void **state)
{
    (void)state;
    const int64_t sizes[1] = {1};
    const int32_t acts[1] = {GF_ACT_IDENTITY};
    gf_net *net = net_of(1024, 1, sizes, acts);
    float *w = malloc(1024 * sizeof *w), *x = calloc(1024, sizeof *x), b[1] = {0}, t[1] = {0};
    for (int i = 0; i < 1024; i++)
        w[i] = 2e19f;
    set_layer(net, 0, w, 1024, b, 1);
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_net_train_step(net, x, 1024, t, 1, 1, NULL), GF_OK);
    assert_rel(val(d, 0, GF_STAT_WEIGHT_NORM), 32.0 * (double)2e19f, 1e-12);
    assert_rel(val(d, 0, GF_STAT_WEIGHT_NORM), 6.4e20, 1e-6);
    assert_rel(val(d, 0, GF_STAT_WEIGHT_MAXABS), (double)2e19f, 0);
    free(w);
    free(x);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_weight_gradient_norm_of_1024_values_of_1e_minus_25_is_3_2e_minus_24(void **state)
{
    (void)state;
    const int64_t sizes[1] = {1};
    const int32_t acts[1] = {GF_ACT_IDENTITY};
    gf_net *net = net_of(1024, 1, sizes, acts);
    float *w = calloc(1024, sizeof *w), *x = malloc(1024 * sizeof *x), b[1] = {0.5f}, t[1] = {0};
    for (int i = 0; i < 1024; i++)
        x[i] = 1e-25f;
    set_layer(net, 0, w, 1024, b, 1); /* y = 0.5, MSE gradient 2 (y - t) = 1, so dW = x */
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_net_train_step(net, x, 1024, t, 1, 1, NULL), GF_OK);
    assert_rel(val(d, 0, GF_STAT_WGRAD_NORM), 32.0 * (double)1e-25f, 1e-6);
    assert_rel(val(d, 0, GF_STAT_WGRAD_NORM), 3.2e-24, 1e-6);
    assert_rel(val(d, 0, GF_STAT_WGRAD_MEAN), (double)1e-25f, 1e-6);
    free(w);
    free(x);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* ---- activation statistics ---- */

static void test_activation_and_pre_activation_moments_match_hand_values(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    /* layer 0 by hand: z = x W^T + b, y = relu(z) */
    const double w0[6] = {0.5, -0.25, 0.0, 0.75, -1.0, 0.5}, b0[3] = {0.1, 0.0, -0.2};
    const double x[6] = {1.0, 2.0, -0.5, 1.5, 2.0, -1.0};
    double zs = 0, zq = 0, ys = 0, yq = 0;
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 3; j++) {
            double z = x[2 * r] * (float)w0[2 * j] + x[2 * r + 1] * (float)w0[2 * j + 1] + (float)b0[j];
            double y = z > 0 ? z : 0;
            zs += z, zq += z * z, ys += y, yq += y * y;
        }
    double zm = zs / 9, ym = ys / 9;
    assert_true(fabs(val(d, 0, GF_STAT_PRE_MEAN) - zm) < 1e-6);
    assert_true(fabs(val(d, 0, GF_STAT_PRE_STD) - sqrt(zq / 9 - zm * zm)) < 1e-6);
    assert_true(fabs(val(d, 0, GF_STAT_ACT_MEAN) - ym) < 1e-6);
    assert_true(fabs(val(d, 0, GF_STAT_ACT_VAR) - (yq / 9 - ym * ym)) < 1e-6);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* A saturated sigmoid layer's outputs sit a hair below 1 (sigmoid(9) plus
 * a spread of about 1e-6): their variance, far below the mean's square,
 * matches a two-pass double computation over the same outputs on every
 * instruction set, where ss/n - mean^2 from float (or even double) sums
 * would be mostly rounding. */
static void test_act_var_of_a_saturated_sigmoid_layer_matches_two_pass_double(void **state)
{
    (void)state;
    enum { IN = 8, UNITS = 256, BATCH = 64 };
    static float w[UNITS * IN], b[UNITS], x[BATCH * IN], t[BATCH * UNITS], y[BATCH * UNITS];
    uint64_t r = 99;
    for (size_t i = 0; i < sizeof w / sizeof *w; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        w[i] = (float)((double)(r >> 40) / (double)(1ull << 24) - 0.5) * 2e-2f;
    }
    for (size_t i = 0; i < UNITS; i++)
        b[i] = 9.0f;
    for (size_t i = 0; i < sizeof x / sizeof *x; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(r >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    for (int k = 0; k < GFI_GEMM_NKERNELS; k++) {
        if (!gfi_gemm_kernel_available(k) || gfi_ew_force(k) != GF_OK)
            continue;
        const int64_t sizes[1] = {UNITS};
        const int32_t acts[1] = {GF_ACT_SIGMOID};
        gf_net *net = net_of(IN, 1, sizes, acts);
        set_layer(net, 0, w, UNITS * IN, b, UNITS);
        use_sgd(net, 1e-3);
        gf_diag *d = diag_of(net);
        assert_int_equal(gf_net_forward(net, x, BATCH * IN, BATCH, y, BATCH * UNITS), GF_OK);
        assert_int_equal(gf_net_backward(net, t, BATCH * UNITS, NULL), GF_OK);
        assert_int_equal(gf_net_step(net), GF_OK);
        double mean = 0, d2 = 0;
        for (size_t i = 0; i < BATCH * UNITS; i++)
            mean += y[i];
        mean /= BATCH * UNITS;
        for (size_t i = 0; i < BATCH * UNITS; i++)
            d2 += ((double)y[i] - mean) * ((double)y[i] - mean);
        double var = d2 / (BATCH * UNITS);
        assert_true(var > 0 && var < 1e-10 * mean * mean); /* the case: nearly equal values */
        assert_rel(val(d, 0, GF_STAT_ACT_VAR), var, 1e-6);
        gf_diag_destroy(d);
        gf_net_destroy(net);
    }
    assert_int_equal(gfi_ew_force(GFI_GEMM_AUTO), GF_OK);
}

static void test_act_gain_is_output_variance_over_input_variance(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    double s = 0, q = 0;
    for (int i = 0; i < 6; i++)
        s += small_x[i], q += (double)small_x[i] * small_x[i];
    double var_x = q / 6 - (s / 6) * (s / 6);
    assert_rel(val(d, 0, GF_STAT_ACT_GAIN), val(d, 0, GF_STAT_ACT_VAR) / var_x, 1e-9);
    assert_rel(val(d, 1, GF_STAT_ACT_GAIN), val(d, 1, GF_STAT_ACT_VAR) / val(d, 0, GF_STAT_ACT_VAR), 1e-12);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* Trains on the same batch of `batch` samples until 32 have been seen: a unit is counted dead or saturated over at least
 * 32 values (samples x positions), so a batch of 3 is seen 11 times. */
static void train_32_samples(gf_net *net, const float *x, size_t nx, const float *t, size_t nt, int64_t batch)
{
    for (int64_t seen = 0; seen < 32; seen += batch)
        assert_int_equal(gf_net_train_step(net, x, nx, t, nt, batch, NULL), GF_OK);
}

static void test_dead_fraction_counts_relu_units_with_bias_minus_5(void **state)
{
    (void)state;
    const int64_t sizes[2] = {4, 1};
    const int32_t acts[2] = {GF_ACT_RELU, GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 2, sizes, acts);
    const float w0[8] = {0.5f, 0.5f, -0.5f, 0.25f, 0.3f, -0.2f, 0.1f, 0.1f};
    const float b0[4] = {-5.0f, 0.1f, -5.0f, 0.2f}; /* units 0 and 2 stay off for inputs in [-2, 2] */
    const float w1[4] = {1, 1, 1, 1}, b1[1] = {0};
    set_layer(net, 0, w0, 8, b0, 4);
    set_layer(net, 1, w1, 4, b1, 1);
    gf_diag *d = diag_of(net);
    const float x[6] = {1, 2, -1, 0.5f, 2, -2}, t[3] = {0, 1, 0};
    train_32_samples(net, x, 6, t, 3, 3);
    assert_rel(val(d, 0, GF_STAT_DEAD_FRAC), 0.5, 0);
    assert_rel(val(d, 0, GF_STAT_SATURATED_FRAC), 0.0, 0);
    assert_rel(val(d, 1, GF_STAT_DEAD_FRAC), 0.0, 0); /* identity: never dead */
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* Units 0 and 2 of a 4-unit layer of `act` have bias -5: on the negative side for every sample. */
static double dead_fraction_of(int32_t act)
{
    const int64_t sizes[2] = {4, 1};
    const int32_t acts[2] = {act, GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 2, sizes, acts);
    const float w0[8] = {0.5f, 0.5f, -0.5f, 0.25f, 0.3f, -0.2f, 0.1f, 0.1f};
    const float b0[4] = {-5.0f, 0.1f, -5.0f, 0.2f};
    const float w1[4] = {1, 1, 1, 1}, b1[1] = {0};
    set_layer(net, 0, w0, 8, b0, 4);
    set_layer(net, 1, w1, 4, b1, 1);
    gf_diag *d = diag_of(net);
    const float x[6] = {1, 2, -1, 0.5f, 2, -2}, t[3] = {0, 1, 0};
    train_32_samples(net, x, 6, t, 3, 3);
    double dead = val(d, 0, GF_STAT_DEAD_FRAC);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    return dead;
}

static void test_dead_fraction_counts_leaky_relu_units_negative_for_every_sample(void **state)
{
    (void)state;
    assert_rel(dead_fraction_of(GF_ACT_LEAKY_RELU), 0.5, 0);
}

static void test_dead_fraction_counts_elu_units_negative_for_every_sample(void **state)
{
    (void)state;
    assert_rel(dead_fraction_of(GF_ACT_ELU), 0.5, 0);
}

static void test_dead_fraction_counts_selu_units_negative_for_every_sample(void **state)
{
    (void)state;
    assert_rel(dead_fraction_of(GF_ACT_SELU), 0.5, 0);
}

static void test_gelu_and_tanh_units_are_never_counted_dead(void **state)
{
    (void)state;
    assert_rel(dead_fraction_of(GF_ACT_GELU), 0.0, 0);
    assert_rel(dead_fraction_of(GF_ACT_TANH), 0.0, 0);
}

/* A unit that escapes saturation only on the batch's last sample is not
 * saturated, though every other unit's fate is known after the first: the
 * scan stops early only once every unit has escaped. */
static void test_a_tanh_unit_that_escapes_saturation_only_on_the_last_sample_is_not_saturated(void **state)
{
    (void)state;
    const int64_t sizes[2] = {3, 1};
    const int32_t acts[2] = {GF_ACT_TANH, GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 2, sizes, acts);
    /* unit 0: z = 100 x0 (saturated, saturated, then 0.1); unit 1: z = 100 x1 = 100 always; unit 2: small */
    const float w0[6] = {100, 0, 0, 100, 0.1f, 0};
    const float b0[3] = {0, 0, 0}, w1[3] = {1, 1, 1}, b1[1] = {0};
    set_layer(net, 0, w0, 6, b0, 3);
    set_layer(net, 1, w1, 3, b1, 1);
    gf_diag *d = diag_of(net);
    const float x[6] = {1, 1, -1, 1, 0.001f, 1}, t[3] = {0, 1, 0};
    train_32_samples(net, x, 6, t, 3, 3);
    assert_rel(val(d, 0, GF_STAT_SATURATED_FRAC), 1.0 / 3.0, 1e-12);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* Likewise a leaky ReLU unit positive only on the last sample is alive. */
static void test_a_leaky_relu_unit_positive_only_on_the_last_sample_is_alive(void **state)
{
    (void)state;
    const int64_t sizes[2] = {2, 1};
    const int32_t acts[2] = {GF_ACT_LEAKY_RELU, GF_ACT_IDENTITY};
    gf_net *net = net_of(1, 2, sizes, acts);
    /* unit 0: z = x (negative, negative, then positive); unit 1: z = -x - 10, negative always */
    const float w0[2] = {1, -1}, b0[2] = {0, -10}, w1[2] = {1, 1}, b1[1] = {0};
    set_layer(net, 0, w0, 2, b0, 2);
    set_layer(net, 1, w1, 2, b1, 1);
    gf_diag *d = diag_of(net);
    const float x[3] = {-1, -2, 3}, t[3] = {0, 1, 0};
    train_32_samples(net, x, 3, t, 3, 3);
    assert_rel(val(d, 0, GF_STAT_DEAD_FRAC), 0.5, 1e-12);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* A 1-input layer of two ReLU units, z0 = x and z1 = -x (unit 1 also off for every x when b1 = -100), trained one
 * sample at a time on x = 1, -1, 1, -1, ... (lr 1e-9: the weights stay put); layer 0's DEAD_FRAC after `steps`. */
static double dead_fraction_one_sample_at_a_time(float b1, int steps)
{
    const int64_t sizes[2] = {2, 1};
    const int32_t acts[2] = {GF_ACT_RELU, GF_ACT_IDENTITY};
    gf_net *net = net_of(1, 2, sizes, acts);
    const float w0[2] = {1, -1}, b0[2] = {0, b1}, w1[2] = {1, 1}, b_1[1] = {0};
    set_layer(net, 0, w0, 2, b0, 2);
    set_layer(net, 1, w1, 2, b_1, 1);
    use_sgd(net, 1e-9);
    gf_diag *d = diag_of(net);
    for (int s = 0; s < steps; s++) {
        const float x[1] = {s % 2 ? -1.0f : 1.0f}, t[1] = {0};
        assert_int_equal(gf_net_train_step(net, x, 1, t, 1, 1, NULL), GF_OK);
    }
    double dead = val(d, 0, GF_STAT_DEAD_FRAC);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    return dead;
}

/* Each unit is off for every other one-sample batch, on for the rest: neither is dead. */
static void test_a_unit_off_for_a_one_sample_batch_but_on_for_others_is_not_dead(void **state)
{
    (void)state;
    assert_rel(dead_fraction_one_sample_at_a_time(0.0f, 41), 0.0, 0); /* the last sample, x = 1, leaves unit 1 off */
}

static void test_a_unit_off_for_32_one_sample_batches_in_a_row_is_dead(void **state)
{
    (void)state;
    assert_rel(dead_fraction_one_sample_at_a_time(-100.0f, 32), 0.5, 0);
}

static void test_before_32_samples_of_one_sample_batches_no_unit_counts_dead(void **state)
{
    (void)state;
    assert_rel(dead_fraction_one_sample_at_a_time(-100.0f, 31), 0.0, 0);
}

static void test_saturated_fraction_counts_tanh_units_driven_by_huge_weights(void **state)
{
    (void)state;
    const int64_t sizes[2] = {4, 1};
    const int32_t acts[2] = {GF_ACT_TANH, GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 2, sizes, acts);
    /* units 0, 1, 3: |z| >= 50 for every sample (tanh' < 1e-40); unit 2 small */
    const float w0[8] = {100, 100, -100, -100, 0.1f, 0.1f, 100, -50};
    const float b0[4] = {0, 0, 0, 0}, w1[4] = {1, 1, 1, 1}, b1[1] = {0};
    set_layer(net, 0, w0, 8, b0, 4);
    set_layer(net, 1, w1, 4, b1, 1);
    gf_diag *d = diag_of(net);
    const float x[6] = {1, 1, 2, 1, 1, 0.5f}, t[3] = {0, 1, 0};
    train_32_samples(net, x, 6, t, 3, 3);
    assert_rel(val(d, 0, GF_STAT_SATURATED_FRAC), 0.75, 0);
    assert_rel(val(d, 0, GF_STAT_DEAD_FRAC), 0.0, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* A 1-input net of `outputs` outputs on `loss_kind`, one training step on 20 samples whose targets are t. */
static gf_diag *classifier_step(int32_t loss_kind, int64_t outputs, const float *t, size_t nt, gf_net **out)
{
    const int64_t sizes[2] = {4, outputs};
    const int32_t acts[2] = {GF_ACT_TANH, GF_ACT_IDENTITY};
    gf_net *net = net_of(1, 2, sizes, acts);
    gf_loss *l;
    assert_int_equal(gf_loss_create(&l, loss_kind), GF_OK);
    assert_int_equal(gf_net_set_loss(net, l), GF_OK);
    gf_loss_destroy(l);
    gf_diag *d = diag_of(net);
    float x[20];
    for (int i = 0; i < 20; i++)
        x[i] = (float)i / 10 - 1;
    assert_int_equal(gf_net_train_step(net, x, 20, t, nt, 20, NULL), GF_OK);
    *out = net;
    return d;
}

static void free_classifier(gf_diag *d, gf_net *net)
{
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* 2 positives in 20: the best constant prediction, 0.1, loses -0.1 ln 0.1 - 0.9 ln 0.9 a sample. */
static void test_the_chance_loss_of_bce_is_the_binary_entropy_of_the_target_rate(void **state)
{
    (void)state;
    gf_net *net;
    float t[20] = {0};
    t[3] = t[11] = 1;
    gf_diag *d = classifier_step(GF_LOSS_BCE_LOGITS, 1, t, 20, &net);
    assert_rel(gfi_diag_chance(d), -0.1 * log(0.1) - 0.9 * log(0.9), 1e-12);
    free_classifier(d, net);
}

static void test_the_chance_loss_of_softmax_labels_is_the_entropy_of_the_class_frequencies(void **state)
{
    (void)state;
    gf_net *net;
    float t[20];
    for (int i = 0; i < 20; i++)
        t[i] = i < 10 ? 0.0f : i < 15 ? 1.0f : 2.0f; /* 1/2, 1/4, 1/4 */
    gf_diag *d = classifier_step(GF_LOSS_SOFTMAX_CE_LABELS, 3, t, 20, &net);
    assert_rel(gfi_diag_chance(d), 1.5 * log(2.0), 1e-12);
    free_classifier(d, net);
}

static void test_a_regression_loss_has_no_chance_level(void **state)
{
    (void)state;
    gf_net *net;
    float t[20] = {0};
    gf_diag *d = classifier_step(GF_LOSS_MSE, 1, t, 20, &net);
    assert_true(isnan(gfi_diag_chance(d)));
    free_classifier(d, net);
}

/* Two outputs: 0, 1, ..., 19 (variance (20^2 - 1) / 12) and 1000 throughout (variance 0, its mean apart): the
 * per-output variances averaged, not one pooled over both outputs' means. */
static void test_the_target_variance_of_a_regression_is_per_output_and_averaged(void **state)
{
    (void)state;
    gf_net *net;
    float t[40];
    for (int r = 0; r < 20; r++) {
        t[2 * r] = (float)r;
        t[2 * r + 1] = 1000.0f;
    }
    gf_diag *d = classifier_step(GF_LOSS_MSE, 2, t, 40, &net);
    assert_rel(gfi_diag_target_var(d), (20.0 * 20.0 - 1) / 12 / 2, 1e-12);
    assert_true(isnan(gfi_diag_chance(d)));
    free_classifier(d, net);
}

static void test_a_probe_adds_nothing_to_the_chance_loss(void **state)
{
    (void)state;
    gf_net *net;
    float t[20] = {0};
    t[3] = t[11] = 1;
    gf_diag *d = classifier_step(GF_LOSS_BCE_LOGITS, 1, t, 20, &net);
    assert_int_equal(gf_diag_probe(d, 64, 5), GF_OK); /* its targets are 0/1 at even odds */
    assert_rel(gfi_diag_chance(d), -0.1 * log(0.1) - 0.9 * log(0.9), 1e-12);
    free_classifier(d, net);
}

static void test_loss_stat_is_the_loss_the_step_returned(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    double loss;
    train_small(net, &loss);
    assert_rel(val(d, 0, GF_STAT_LOSS), loss, 0);
    assert_rel(val(d, 1, GF_STAT_LOSS), loss, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* ---- history, EVERY, enable ---- */

static void test_history_keeps_the_latest_records_in_order_and_wraps_around(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 3), GF_OK);
    double losses[5];
    for (int s = 0; s < 5; s++)
        train_small(net, &losses[s]);
    assert_int_equal(gf_diag_steps(d), 5);
    assert_int_equal(gf_diag_history_length(d), 3);
    for (int ago = 0; ago < 3; ago++) {
        double v;
        int64_t step;
        assert_int_equal(gf_diag_history(d, 1, GF_STAT_LOSS, ago, &v, &step), GF_OK);
        assert_int_equal(step, 4 - ago);
        assert_rel(v, losses[4 - ago], 0);
    }
    double v;
    assert_int_equal(gf_diag_history(d, 1, GF_STAT_LOSS, 3, &v, NULL), GF_ERR_RANGE);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_shrinking_the_history_keeps_the_latest_records(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    double losses[4];
    for (int s = 0; s < 4; s++)
        train_small(net, &losses[s]);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 2), GF_OK);
    assert_int_equal(gf_diag_history_length(d), 2);
    double v;
    int64_t step;
    assert_int_equal(gf_diag_history(d, 0, GF_STAT_LOSS, 1, &v, &step), GF_OK);
    assert_int_equal(step, 2);
    assert_rel(v, losses[2], 0);
    train_small(net, NULL);
    assert_int_equal(gf_diag_history(d, 0, GF_STAT_LOSS, 1, &v, &step), GF_OK);
    assert_int_equal(step, 3);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_every_3_observes_steps_0_3_and_6_of_7(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_EVERY, 3), GF_OK);
    for (int s = 0; s < 7; s++)
        train_small(net, NULL);
    assert_int_equal(gf_diag_steps(d), 3);
    const int64_t want[3] = {6, 3, 0};
    for (int ago = 0; ago < 3; ago++) {
        double v;
        int64_t step;
        assert_int_equal(gf_diag_history(d, 0, GF_STAT_LOSS, ago, &v, &step), GF_OK);
        assert_int_equal(step, want[ago]);
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_disabled_diag_records_nothing(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_enable(d, 0), GF_OK);
    for (int s = 0; s < 3; s++)
        train_small(net, NULL);
    assert_int_equal(gf_diag_steps(d), 0);
    assert_int_equal(gf_diag_history_length(d), 0);
    double v;
    assert_int_equal(gf_diag_value(d, 0, GF_STAT_LOSS, &v), GF_ERR_STATE);
    assert_int_equal(gf_diag_enable(d, 1), GF_OK);
    train_small(net, NULL);
    assert_int_equal(gf_diag_steps(d), 1);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_diagnostics_do_not_change_the_training_trajectory(void **state)
{
    (void)state;
    gf_net *a = small_net(), *b = small_net();
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(a, o), GF_OK);
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(b, o), GF_OK);
    gf_diag *d = diag_of(b);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_GUARD, 1), GF_OK);
    for (int s = 0; s < 5; s++) {
        train_small(a, NULL);
        train_small(b, NULL);
    }
    for (int32_t i = 0; i < 2; i++) {
        float wa[6], wb[6];
        assert_int_equal(gf_layer_get_weights(gf_net_layer(a, i), wa, 6), GF_OK);
        assert_int_equal(gf_layer_get_weights(gf_net_layer(b, i), wb, 6), GF_OK);
        assert_memory_equal(wa, wb, sizeof wa);
    }
    gf_diag_destroy(d);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_reset_forgets_observations_and_the_origin(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 5), GF_OK);
    train_small(net, NULL);
    assert_int_equal(gf_diag_reset(d), GF_OK);
    assert_int_equal(gf_diag_steps(d), 0);
    assert_int_equal(gf_diag_history_length(d), 0);
    double v;
    assert_int_equal(gf_diag_get_option(d, GF_DIAG_HISTORY, &v), GF_OK);
    assert_rel(v, 5, 0);
    int32_t found = 1;
    assert_int_equal(gf_diag_origin(d, &found, NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(found, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* Evidence of the one-sample passes before a reset does not count after it: one pass since is fewer than 32 values,
 * so no unit is dead yet, as on a fresh diag. */
static void test_reset_forgets_the_small_batch_evidence_of_dead_units(void **state)
{
    (void)state;
    const int64_t sizes[2] = {2, 1};
    const int32_t acts[2] = {GF_ACT_RELU, GF_ACT_IDENTITY};
    gf_net *net = net_of(1, 2, sizes, acts);
    const float w0[2] = {1, -1}, b0[2] = {0, -100}, w1[2] = {1, 1}, b1[1] = {0};
    set_layer(net, 0, w0, 2, b0, 2);
    set_layer(net, 1, w1, 2, b1, 1);
    use_sgd(net, 1e-9);
    gf_diag *d = diag_of(net);
    const float x[1] = {1}, t[1] = {0};
    for (int s = 0; s < 40; s++)
        assert_int_equal(gf_net_train_step(net, x, 1, t, 1, 1, NULL), GF_OK);
    assert_rel(val(d, 0, GF_STAT_DEAD_FRAC), 0.5, 0);
    assert_int_equal(gf_diag_reset(d), GF_OK);
    assert_int_equal(gf_net_train_step(net, x, 1, t, 1, 1, NULL), GF_OK);
    assert_rel(val(d, 0, GF_STAT_DEAD_FRAC), 0.0, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* The targets seen before a reset are not the classifier's prior after it: nothing observed, no chance level. */
static void test_reset_forgets_the_targets_behind_the_chance_loss(void **state)
{
    (void)state;
    gf_net *net;
    float t[20] = {0};
    t[3] = t[11] = 1;
    gf_diag *d = classifier_step(GF_LOSS_BCE_LOGITS, 1, t, 20, &net);
    assert_true(isfinite(gfi_diag_chance(d)));
    assert_int_equal(gf_diag_reset(d), GF_OK);
    assert_true(isnan(gfi_diag_chance(d)));
    free_classifier(d, net);
}

/* A dense layer on a SEQUENCE keeps ||dL/dy_t|| per step; after a reset nothing is observed, so the series is empty
 * (length 0, as before the first observation), not the pass before the reset. */
static void test_reset_forgets_the_series_of_the_last_observed_pass(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t dims[2] = {3, 2};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_diag *d = diag_of(net);
    const float x[6] = {1, -1, 0.5f, 2, -0.5f, 1}, t[6] = {0, 1, 1, 0, -1, 0.5f};
    assert_int_equal(gf_net_train_step(net, x, 6, t, 6, 1, NULL), GF_OK);
    int64_t len = -1;
    assert_int_equal(gf_diag_series_length(d, 0, GF_SERIES_DELTA_TIME_NORM, &len), GF_OK);
    assert_int_equal(len, 3);
    assert_int_equal(gf_diag_reset(d), GF_OK);
    assert_int_equal(gf_diag_series_length(d, 0, GF_SERIES_DELTA_TIME_NORM, &len), GF_OK);
    assert_int_equal(len, 0);
    double dst[3] = {-1, -1, -1};
    assert_int_equal(gf_diag_series(d, 0, GF_SERIES_DELTA_TIME_NORM, dst, 3, &len), GF_OK);
    assert_int_equal(len, 0);
    assert_rel(dst[0], -1, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* A diag created on a net that another diag observed has observed nothing: its series are empty. */
static void test_a_new_diag_has_no_series_from_an_earlier_diag_of_the_net(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t dims[2] = {3, 2};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_diag *d = diag_of(net);
    const float x[6] = {1, -1, 0.5f, 2, -0.5f, 1}, t[6] = {0, 1, 1, 0, -1, 0.5f};
    assert_int_equal(gf_net_train_step(net, x, 6, t, 6, 1, NULL), GF_OK);
    gf_diag_destroy(d);
    d = diag_of(net);
    int64_t len = -1;
    assert_int_equal(gf_diag_series_length(d, 0, GF_SERIES_DELTA_TIME_NORM, &len), GF_OK);
    assert_int_equal(len, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* The stagnation rule reads the rate now against the largest of the observed training steps (a schedule's peak,
 * long out of the ring by the time it has annealed): kept across rates set lower, forgotten by a reset. */
static void test_the_largest_rate_of_the_observed_steps_is_kept_until_reset(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 2), GF_OK);
    static const double rates[] = {0.01, 0.1, 0.05, 1e-3, 1e-4};
    for (size_t k = 0; k < sizeof rates / sizeof *rates; k++) {
        use_sgd(net, rates[k]);
        train_small(net, NULL);
    }
    assert_true(d->lr_peak == 0.1);
    assert_int_equal(gf_diag_reset(d), GF_OK);
    assert_true(d->lr_peak == 0);
    train_small(net, NULL);
    assert_true(d->lr_peak == 1e-4);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* SGD's rates are 10 - 100x Adam's: a switch to Adam at 1e-3 after SGD at 0.1 is no annealing. */
static void test_a_step_by_another_optimizer_kind_starts_the_largest_rate_again(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    use_sgd(net, 0.1);
    train_small(net, NULL);
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    train_small(net, NULL);
    assert_true(d->lr_peak == 1e-3);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* ---- allocation ---- */

static long counted;
static void *count_malloc(void *u, size_t n) { (void)u; counted++; return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; counted++; return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

static void test_observed_steps_allocate_nothing_after_the_first(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    gf_net *net = small_net();
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_GUARD, 1), GF_OK);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 4), GF_OK);
    train_small(net, NULL);
    long before = counted;
    for (int i = 0; i < 10; i++)
        train_small(net, NULL);
    assert_int_equal(counted, before);
    assert_int_equal(gf_diag_steps(d), 11);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

/* ---- non-finite values and their origin ---- */

/* 2 -> 2 (identity, identity weights) -> 1 whose weights overflow its pre-activation. */
static gf_net *overflow_net(void)
{
    const int64_t sizes[3] = {2, 1, 1};
    const int32_t acts[3] = {GF_ACT_IDENTITY, GF_ACT_IDENTITY, GF_ACT_IDENTITY};
    gf_net *net = net_of(2, 3, sizes, acts);
    const float w0[4] = {1, 0, 0, 1}, b0[2] = {0, 0}, w1[2] = {3e38f, 3e38f}, b1[1] = {0}, w2[1] = {1}, b2[1] = {0};
    set_layer(net, 0, w0, 4, b0, 2);
    set_layer(net, 1, w1, 2, b1, 1);
    set_layer(net, 2, w2, 1, b2, 1);
    return net;
}

static const float ovf_x[2] = {1.0f, 1.0f}, ovf_t[1] = {0.0f};

static void test_overflowed_pre_activation_counts_one_positive_infinity(void **state)
{
    (void)state;
    gf_net *net = overflow_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_net_train_step(net, ovf_x, 2, ovf_t, 1, 1, NULL), GF_OK);
    int64_t nan, pinf, ninf;
    assert_int_equal(gf_diag_nonfinite(d, 1, GF_TENSOR_PRE_ACTIVATION, &nan, &pinf, &ninf), GF_OK);
    assert_int_equal(nan, 0);
    assert_int_equal(pinf, 1);
    assert_int_equal(ninf, 0);
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_PRE_ACTIVATION, &nan, &pinf, &ninf), GF_OK);
    assert_int_equal(nan + pinf + ninf, 0);
    assert_int_equal(gf_diag_nonfinite(d, 2, GF_TENSOR_INPUT, &nan, &pinf, &ninf), GF_OK);
    assert_int_equal(pinf, 1);
    assert_true(val(d, 1, GF_STAT_NONFINITE) >= 1);
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_ACTIVATION, &nan, &pinf, &ninf), GF_OK);
    assert_int_equal(nan + pinf + ninf, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_origin_is_the_layer_whose_pre_activation_overflowed(void **state)
{
    (void)state;
    gf_net *net = overflow_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_net_train_step(net, ovf_x, 2, ovf_t, 1, 1, NULL), GF_OK);
    int32_t found, layer, phase, tensor;
    int64_t step;
    assert_int_equal(gf_diag_origin(d, &found, &step, &layer, &phase, &tensor), GF_OK);
    assert_int_equal(found, 1);
    assert_int_equal(step, 0);
    assert_int_equal(layer, 1);
    assert_int_equal(phase, GF_PHASE_FORWARD);
    assert_int_equal(tensor, GF_TENSOR_PRE_ACTIVATION);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_origin_is_the_update_when_a_huge_learning_rate_overflows_the_weights(void **state)
{
    (void)state;
    gf_net *net = small_net();
    use_sgd(net, 3e38);
    gf_diag *d = diag_of(net);
    float t[6];
    for (int i = 0; i < 6; i++)
        t[i] = 100.0f * small_t[i]; /* gradients well above 1: lr * g overflows */
    assert_int_equal(gf_net_train_step(net, small_x, 6, t, 6, 3, NULL), GF_OK);
    int32_t found, layer, phase, tensor;
    int64_t step;
    assert_int_equal(gf_diag_origin(d, &found, &step, &layer, &phase, &tensor), GF_OK);
    assert_int_equal(found, 1);
    assert_int_equal(step, 0);
    assert_int_equal(layer, 0);
    assert_int_equal(phase, GF_PHASE_UPDATE);
    assert_int_equal(tensor, GF_TENSOR_WEIGHT);
    int64_t nan, pinf, ninf;
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_WEIGHT, &nan, &pinf, &ninf), GF_OK);
    assert_true(pinf + ninf > 0);
    /* the next step passes the Inf on: the origin stays the first one */
    gf_net_train_step(net, small_x, 6, small_t, 6, 3, NULL);
    assert_int_equal(gf_diag_origin(d, &found, &step, &layer, &phase, &tensor), GF_OK);
    assert_int_equal(step, 0);
    assert_int_equal(phase, GF_PHASE_UPDATE);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_origin_off_records_counts_but_no_origin(void **state)
{
    (void)state;
    gf_net *net = overflow_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_ORIGIN, 0), GF_OK);
    assert_int_equal(gf_net_train_step(net, ovf_x, 2, ovf_t, 1, 1, NULL), GF_OK);
    int32_t found = 1;
    assert_int_equal(gf_diag_origin(d, &found, NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(found, 0);
    assert_true(val(d, 1, GF_STAT_NONFINITE) >= 1);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* ---- options and misuse ---- */

static void test_options_have_documented_defaults(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    const double want[4] = {64, 0, 1, 1};
    for (int32_t k = 0; k < 4; k++) {
        double v;
        assert_int_equal(gf_diag_get_option(d, k, &v), GF_OK);
        assert_rel(v, want[k], 0);
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_bad_option_values_are_invalid_and_change_nothing(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 0), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 1e6 + 1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_HISTORY, 2.5), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_EVERY, 0), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_EVERY, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_GUARD, 2), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_ORIGIN, -1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, 4, 1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(d, -1, 1), GF_ERR_INVALID);
    double v;
    assert_int_equal(gf_diag_get_option(d, 4, &v), GF_ERR_INVALID);
    assert_int_equal(gf_diag_get_option(d, GF_DIAG_HISTORY, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_get_option(d, GF_DIAG_HISTORY, &v), GF_OK);
    assert_rel(v, 64, 0);
    assert_int_equal(gf_diag_enable(d, 2), GF_ERR_INVALID);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_null_and_wrong_handles_are_rejected(void **state)
{
    (void)state;
    gf_net *net = small_net();
    double v;
    int64_t a, b, c;
    int32_t f;
    assert_int_equal(gf_diag_create(NULL, net), GF_ERR_NULL);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_create(&d, (gf_net *)gf_net_layer(net, 0)), GF_ERR_KIND);
    gf_diag *wrong = (gf_diag *)gf_net_layer(net, 0);
    assert_int_equal(gf_diag_enable(NULL, 1), GF_ERR_NULL);
    assert_int_equal(gf_diag_enable(wrong, 1), GF_ERR_KIND);
    assert_int_equal(gf_diag_set_option(NULL, 0, 1), GF_ERR_NULL);
    assert_int_equal(gf_diag_get_option(wrong, 0, &v), GF_ERR_KIND);
    assert_int_equal(gf_diag_reset(NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_layer_count(NULL), -1);
    assert_int_equal(gf_diag_steps(wrong), -1);
    assert_int_equal(gf_diag_history_length(NULL), -1);
    assert_int_equal(gf_diag_value(NULL, 0, 0, &v), GF_ERR_NULL);
    assert_int_equal(gf_diag_value(wrong, 0, 0, &v), GF_ERR_KIND);
    assert_int_equal(gf_diag_history(NULL, 0, 0, 0, &v, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_nonfinite(wrong, 0, 1, &a, &b, &c), GF_ERR_KIND);
    assert_int_equal(gf_diag_origin(NULL, &f, NULL, NULL, NULL, NULL), GF_ERR_NULL);
    gf_diag_destroy(NULL);
    gf_diag_destroy(wrong); /* not a diag: ignored */
    gf_net_destroy(net);
}

static void test_reads_out_of_range_are_range_errors(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    train_small(net, NULL);
    double v;
    int64_t a, b, c;
    assert_int_equal(gf_diag_layer_count(d), 2);
    assert_int_equal(gf_diag_value(d, 2, 0, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_value(d, -1, 0, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_value(d, 0, GF_STAT_CANDIDATE_DEAD_FRAC + 1, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_value(d, 0, -1, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_value(d, 0, 0, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_history(d, 0, 0, -1, &v, NULL), GF_ERR_RANGE);
    assert_int_equal(gf_diag_history(d, 0, 0, 1, &v, NULL), GF_ERR_RANGE);
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_OPTIMIZER_STATE + 1, &a, &b, &c), GF_ERR_RANGE);
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_NONE, &a, &b, &c), GF_ERR_RANGE);
    assert_int_equal(gf_diag_nonfinite(d, 5, GF_TENSOR_WEIGHT, &a, &b, &c), GF_ERR_RANGE);
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_WEIGHT, NULL, &b, &c), GF_ERR_NULL);
    assert_int_equal(gf_diag_origin(d, NULL, NULL, NULL, NULL, NULL), GF_ERR_NULL);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_reads_before_any_observation_are_state_errors(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_diag *d = diag_of(net);
    double v;
    int64_t a, b, c, step;
    int32_t found, layer, phase, tensor;
    assert_int_equal(gf_diag_value(d, 0, GF_STAT_LOSS, &v), GF_ERR_STATE);
    assert_int_equal(gf_diag_history(d, 0, GF_STAT_LOSS, 0, &v, NULL), GF_ERR_STATE);
    assert_int_equal(gf_diag_nonfinite(d, 0, GF_TENSOR_WEIGHT, &a, &b, &c), GF_ERR_STATE);
    assert_int_equal(gf_diag_origin(d, &found, &step, &layer, &phase, &tensor), GF_OK);
    assert_int_equal(found, 0);
    assert_int_equal(layer, -1);
    assert_int_equal(phase, GF_PHASE_NONE);
    assert_int_equal(gf_diag_steps(d), 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_layers_added_after_create_are_observed(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 3), GF_OK);
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_layer_count(d), 0);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    train_small(net, NULL);
    assert_int_equal(gf_diag_layer_count(d), 2);
    assert_true(val(d, 1, GF_STAT_WEIGHT_NORM) > 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_names_of_stats_tensors_and_phases(void **state)
{
    (void)state;
    assert_string_equal(gf_stat_name(GF_STAT_DELTA_IN_NORM), "delta_in_norm");
    assert_string_equal(gf_stat_name(GF_STAT_UPDATE_RATIO), "update_ratio");
    assert_string_equal(gf_stat_name(GF_STAT_LOSS), "loss");
    assert_string_equal(gf_stat_name(GF_STAT_TIME_RATE), "time_rate");
    assert_string_equal(gf_stat_name(GF_STAT_CANDIDATE_DEAD_FRAC + 1), "?");
    assert_string_equal(gf_stat_name(-1), "?");
    assert_string_equal(gf_tensor_name(GF_TENSOR_PRE_ACTIVATION), "pre_activation");
    assert_string_equal(gf_tensor_name(GF_TENSOR_OPTIMIZER_STATE), "optimizer_state");
    assert_string_equal(gf_tensor_name(12), "?");
    assert_string_equal(gf_phase_name(GF_PHASE_UPDATE), "update");
    assert_string_equal(gf_phase_name(GF_PHASE_FORWARD), "forward");
    assert_string_equal(gf_phase_name(7), "?");
    for (int32_t k = 0; k <= GF_STAT_LOSS; k++)
        assert_string_not_equal(gf_stat_name(k), "?");
}

/* ---- gf_net_train_step's one-pass parameter statistics ----
 * From its second step (optimizer ready, no guard, no clipping) a train step
 * takes the gradient and weight statistics in the update's own pass, in
 * blocks of 2048 elements.  Each test runs the same two steps once through
 * gf_net_train_step and once through forward + backward + step (which scans
 * at the end of backward) and expects the same record, counts, origin and
 * weights. */

enum { BIG_IN = 3000, BIG_OUT = 2, BIG_B = 2, BIG_NW = BIG_IN * BIG_OUT };

typedef struct big_run {
    double stat[GF_STAT_LOSS + 1];
    int64_t nf[GF_TENSOR_OPTIMIZER_STATE + 1][3];
    int32_t found, layer, phase, tensor;
    int64_t step;
    float w[BIG_NW], b[BIG_OUT];
} big_run;

/* spike: 0 none; 1 x[2500] = 1e30 in the second step (gradient column 2500
 * overflows: its first Inf is in the second block); 2 the same in the first
 * step, so the second starts from weights 2500 and 5500 at +-Inf (second
 * and third blocks). */
static void run_big(big_run *r, bool train_step, int spike)
{
    const int64_t sizes[1] = {BIG_OUT};
    const int32_t acts[1] = {GF_ACT_IDENTITY};
    gf_net *net = net_of(BIG_IN, 1, sizes, acts);
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_MOMENTUM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    gf_diag *d = diag_of(net);
    static float x[BIG_B * BIG_IN], t[BIG_B * BIG_OUT];
    for (int i = 0; i < BIG_B * BIG_IN; i++)
        x[i] = (float)sin(0.37 * i);
    for (int i = 0; i < BIG_B * BIG_OUT; i++)
        t[i] = (float)cos(1.3 * i);
    for (int s = 0; s < 2; s++) {
        if (s == 1 && spike == 1)
            x[2500] = 1e30f;
        if (spike == 2)
            x[2500] = s == 0 ? 1e30f : (float)sin(0.37 * 2500);
        if (train_step) {
            assert_int_equal(gf_net_train_step(net, x, BIG_B * BIG_IN, t, BIG_B * BIG_OUT, BIG_B, NULL), GF_OK);
        } else {
            assert_int_equal(gf_net_forward(net, x, BIG_B * BIG_IN, BIG_B, NULL, 0), GF_OK);
            assert_int_equal(gf_net_backward(net, t, BIG_B * BIG_OUT, NULL), GF_OK);
            assert_int_equal(gf_net_step(net), GF_OK);
        }
    }
    for (int32_t k = 0; k <= GF_STAT_LOSS; k++)
        r->stat[k] = val(d, 0, k);
    for (int32_t k = GF_TENSOR_INPUT; k <= GF_TENSOR_OPTIMIZER_STATE; k++)
        assert_int_equal(gf_diag_nonfinite(d, 0, k, &r->nf[k][0], &r->nf[k][1], &r->nf[k][2]), GF_OK);
    assert_int_equal(gf_diag_origin(d, &r->found, &r->step, &r->layer, &r->phase, &r->tensor), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), r->w, BIG_NW), GF_OK);
    assert_int_equal(gf_layer_get_bias(gf_net_layer(net, 0), r->b, BIG_OUT), GF_OK);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void assert_same_runs(const big_run *a, const big_run *b)
{
    for (int32_t k = 0; k <= GF_STAT_LOSS; k++) {
        if (isnan(b->stat[k]))
            assert_true(isnan(a->stat[k]));
        else if (isinf(b->stat[k]))
            assert_true(a->stat[k] == b->stat[k]);
        else /* the same sums, added in another order (the gradient's squares from float partials in the fused step) */
            assert_rel(a->stat[k], b->stat[k], FLOAT_PARTIALS_REL);
    }
    assert_memory_equal(a->nf, b->nf, sizeof a->nf);
    assert_int_equal(a->found, b->found);
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->layer, b->layer);
    assert_int_equal(a->phase, b->phase);
    assert_int_equal(a->tensor, b->tensor);
    assert_memory_equal(a->w, b->w, sizeof a->w);
    assert_memory_equal(a->b, b->b, sizeof a->b);
}

static void test_train_step_records_what_separate_passes_record_on_a_6000_weight_layer(void **state)
{
    (void)state;
    static big_run a, b;
    run_big(&a, true, 0);
    run_big(&b, false, 0);
    assert_same_runs(&a, &b);
    assert_int_equal(a.found, 0);
    assert_true(a.stat[GF_STAT_WGRAD_NORM] > 0 && a.stat[GF_STAT_UPDATE_RATIO] > 0);
}

static void test_train_step_counts_and_locates_a_gradient_overflow_in_a_later_block(void **state)
{
    (void)state;
    static big_run a, b;
    run_big(&a, true, 1);
    run_big(&b, false, 1);
    assert_same_runs(&a, &b);
    assert_int_equal(a.nf[GF_TENSOR_WEIGHT_GRAD][1] + a.nf[GF_TENSOR_WEIGHT_GRAD][2], 2);
    assert_int_equal(a.found, 1);
    assert_int_equal(a.step, 1);
    assert_int_equal(a.phase, GF_PHASE_BACKWARD);
    assert_int_equal(a.tensor, GF_TENSOR_WEIGHT_GRAD);
}

static void test_train_step_counts_infinite_weights_in_later_blocks(void **state)
{
    (void)state;
    static big_run a, b;
    run_big(&a, true, 2);
    run_big(&b, false, 2);
    assert_same_runs(&a, &b);
    assert_false(isfinite(a.stat[GF_STAT_WEIGHT_NORM]));
    assert_true(a.nf[GF_TENSOR_WEIGHT][0] + a.nf[GF_TENSOR_WEIGHT][1] + a.nf[GF_TENSOR_WEIGHT][2] >= 2);
    assert_int_equal(a.step, 0); /* the origin stays the first step's overflow */
}

static void test_guard_refuses_an_update_that_overflows_only_in_a_later_block_and_changes_nothing(void **state)
{
    (void)state;
    const int64_t sizes[1] = {BIG_OUT};
    const int32_t acts[1] = {GF_ACT_IDENTITY};
    gf_net *net = net_of(BIG_IN, 1, sizes, acts);
    use_sgd(net, 3e38);
    gf_diag *d = diag_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_GUARD, 1), GF_OK);
    static float x[BIG_B * BIG_IN], t[BIG_B * BIG_OUT], before[BIG_NW], after[BIG_NW];
    for (int i = 0; i < BIG_B * BIG_IN; i++)
        x[i] = 1e-3f * (float)sin(0.37 * i);
    x[2500] = 10.0f; /* only gradient column 2500 is large enough for lr * g to overflow */
    for (int i = 0; i < BIG_B * BIG_OUT; i++)
        t[i] = 10.0f;
    gf_layer *l = gf_net_layer(net, 0);
    assert_int_equal(gf_layer_get_weights(l, before, BIG_NW), GF_OK);
    assert_int_equal(gf_net_train_step(net, x, BIG_B * BIG_IN, t, BIG_B * BIG_OUT, BIG_B, NULL), GF_ERR_GUARD);
    assert_int_equal(gf_layer_get_weights(l, after, BIG_NW), GF_OK);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(gf_net_steps(net), 0);
    int32_t found, layer, phase, tensor;
    int64_t step;
    assert_int_equal(gf_diag_origin(d, &found, &step, &layer, &phase, &tensor), GF_OK);
    assert_int_equal(found, 1);
    assert_int_equal(phase, GF_PHASE_UPDATE);
    assert_int_equal(tensor, GF_TENSOR_WEIGHT);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* gf_diag_series passed (int64_t)cap on: a cap of (size_t)-1 became -1.  Such a cap is refused first. */
static void test_series_with_a_cap_beyond_any_array_is_refused_as_overflow(void **state)
{
    (void)state;
    gf_net *net;
    gf_diag *d;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    double dst[4];
    int64_t len = -7;
    assert_int_equal(gf_diag_series(d, 0, 0, dst, (size_t)-1, &len), GF_ERR_OVERFLOW);
    assert_int_equal(len, -7);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* the allocator can only be swapped while nothing is live: first */
        cmocka_unit_test(test_observed_steps_allocate_nothing_after_the_first),
        cmocka_unit_test(test_second_diag_on_one_net_is_a_state_error),
        cmocka_unit_test(test_destroying_the_net_first_detaches_the_diag),
        cmocka_unit_test(test_destroying_the_diag_first_detaches_it_from_the_net),
        cmocka_unit_test(test_delta_statistics_of_the_top_layer_match_the_loss_gradient_and_input_gradient),
        cmocka_unit_test(test_without_the_input_gradient_layer_0_delta_in_is_not_measured),
        cmocka_unit_test(test_without_the_input_gradient_layer_0_delta_gain_stays_nan_when_no_delta_reaches_layer_1),
        cmocka_unit_test(test_without_the_input_gradient_a_single_layer_has_no_delta_gain),
        cmocka_unit_test(test_delta_gain_is_the_ratio_of_delta_in_norms_and_one_at_the_top),
        cmocka_unit_test(test_weight_and_bias_gradient_statistics_match_the_gradients),
        cmocka_unit_test(test_gradient_zero_fraction_counts_rows_of_a_dead_unit),
        cmocka_unit_test(test_weight_statistics_describe_the_weights_the_step_started_from),
        cmocka_unit_test(test_sgd_update_ratio_is_lr_times_gradient_norm_over_weight_norm),
        cmocka_unit_test(test_weight_norm_of_1024_weights_of_2e19_is_6_4e20),
        cmocka_unit_test(test_weight_gradient_norm_of_1024_values_of_1e_minus_25_is_3_2e_minus_24),
        cmocka_unit_test(test_activation_and_pre_activation_moments_match_hand_values),
        cmocka_unit_test(test_act_var_of_a_saturated_sigmoid_layer_matches_two_pass_double),
        cmocka_unit_test(test_act_gain_is_output_variance_over_input_variance),
        cmocka_unit_test(test_dead_fraction_counts_relu_units_with_bias_minus_5),
        cmocka_unit_test(test_dead_fraction_counts_leaky_relu_units_negative_for_every_sample),
        cmocka_unit_test(test_dead_fraction_counts_elu_units_negative_for_every_sample),
        cmocka_unit_test(test_dead_fraction_counts_selu_units_negative_for_every_sample),
        cmocka_unit_test(test_gelu_and_tanh_units_are_never_counted_dead),
        cmocka_unit_test(test_saturated_fraction_counts_tanh_units_driven_by_huge_weights),
        cmocka_unit_test(test_a_unit_off_for_a_one_sample_batch_but_on_for_others_is_not_dead),
        cmocka_unit_test(test_the_chance_loss_of_bce_is_the_binary_entropy_of_the_target_rate),
        cmocka_unit_test(test_the_chance_loss_of_softmax_labels_is_the_entropy_of_the_class_frequencies),
        cmocka_unit_test(test_a_regression_loss_has_no_chance_level),
        cmocka_unit_test(test_the_target_variance_of_a_regression_is_per_output_and_averaged),
        cmocka_unit_test(test_a_probe_adds_nothing_to_the_chance_loss),
        cmocka_unit_test(test_a_unit_off_for_32_one_sample_batches_in_a_row_is_dead),
        cmocka_unit_test(test_before_32_samples_of_one_sample_batches_no_unit_counts_dead),
        cmocka_unit_test(test_a_tanh_unit_that_escapes_saturation_only_on_the_last_sample_is_not_saturated),
        cmocka_unit_test(test_a_leaky_relu_unit_positive_only_on_the_last_sample_is_alive),
        cmocka_unit_test(test_loss_stat_is_the_loss_the_step_returned),
        cmocka_unit_test(test_history_keeps_the_latest_records_in_order_and_wraps_around),
        cmocka_unit_test(test_shrinking_the_history_keeps_the_latest_records),
        cmocka_unit_test(test_every_3_observes_steps_0_3_and_6_of_7),
        cmocka_unit_test(test_disabled_diag_records_nothing),
        cmocka_unit_test(test_diagnostics_do_not_change_the_training_trajectory),
        cmocka_unit_test(test_reset_forgets_observations_and_the_origin),
        cmocka_unit_test(test_reset_forgets_the_small_batch_evidence_of_dead_units),
        cmocka_unit_test(test_reset_forgets_the_targets_behind_the_chance_loss),
        cmocka_unit_test(test_reset_forgets_the_series_of_the_last_observed_pass),
        cmocka_unit_test(test_a_new_diag_has_no_series_from_an_earlier_diag_of_the_net),
        cmocka_unit_test(test_the_largest_rate_of_the_observed_steps_is_kept_until_reset),
        cmocka_unit_test(test_a_step_by_another_optimizer_kind_starts_the_largest_rate_again),
        cmocka_unit_test(test_overflowed_pre_activation_counts_one_positive_infinity),
        cmocka_unit_test(test_origin_is_the_layer_whose_pre_activation_overflowed),
        cmocka_unit_test(test_origin_is_the_update_when_a_huge_learning_rate_overflows_the_weights),
        cmocka_unit_test(test_origin_off_records_counts_but_no_origin),
        cmocka_unit_test(test_options_have_documented_defaults),
        cmocka_unit_test(test_bad_option_values_are_invalid_and_change_nothing),
        cmocka_unit_test(test_null_and_wrong_handles_are_rejected),
        cmocka_unit_test(test_reads_out_of_range_are_range_errors),
        cmocka_unit_test(test_reads_before_any_observation_are_state_errors),
        cmocka_unit_test(test_layers_added_after_create_are_observed),
        cmocka_unit_test(test_names_of_stats_tensors_and_phases),
        cmocka_unit_test(test_train_step_records_what_separate_passes_record_on_a_6000_weight_layer),
        cmocka_unit_test(test_train_step_counts_and_locates_a_gradient_overflow_in_a_later_block),
        cmocka_unit_test(test_train_step_counts_infinite_weights_in_later_blocks),
        cmocka_unit_test(test_guard_refuses_an_update_that_overflows_only_in_a_later_block_and_changes_nothing),
        cmocka_unit_test(test_series_with_a_cap_beyond_any_array_is_refused_as_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
