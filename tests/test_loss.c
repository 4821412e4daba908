/*
 * test_loss.c — specification of the loss functions: gradients against
 * central finite differences, values worked out by hand, stability at logits
 * of +-1e4, argument validation, and the handle's life cycle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SENTINEL 42.0f

/*
 * Finite differences: points are multiples of 2^-16 below 128 in magnitude
 * and the step is 2^-12, so pred +- h is exact in float and the difference
 * quotient is formed from double loss values.  The losses are smooth away
 * from their kinks, so truncation error is ~h^2 and float rounding of the
 * analytic gradient ~1e-7: a norm-wise relative error of 1e-4 is ample.
 */
#define FD_STEP (1.0 / 4096.0)
#define FD_TOL 1e-4

static float quantize(double v) { return (float)(round(v * 65536.0) / 65536.0); }

static double uniform(gfi_rng *r, double a, double b) { return a + (b - a) * gfi_rng_uniform(r); }

/* A value in +-[lo, hi], so that kinks at 0 are avoided. */
static double away_from_zero(gfi_rng *r, double lo, double hi)
{
    double m = uniform(r, lo, hi);
    return gfi_rng_uniform(r) < 0.5 ? -m : m;
}

static gf_loss *make_loss(int32_t kind)
{
    gf_loss *l = NULL;
    assert_int_equal(gf_loss_create(&l, kind), GF_OK);
    assert_non_null(l);
    return l;
}

static double value_of(const gf_loss *l, const float *pred, const float *target, int64_t batch, int64_t width)
{
    double v = NAN;
    assert_int_equal(gf_loss_compute(l, pred, target, batch, width, &v, NULL), GF_OK);
    return v;
}

/* Norm-wise relative error of the analytic gradient against central differences. */
static double fd_relative_error(const gf_loss *l, float *pred, const float *target, int64_t batch, int64_t width)
{
    size_t n = (size_t)(batch * width);
    float *grad = calloc(n, sizeof *grad);
    assert_non_null(grad);
    double v;
    assert_int_equal(gf_loss_compute(l, pred, target, batch, width, &v, grad), GF_OK);
    double diff2 = 0.0, ref2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        float p = pred[i];
        pred[i] = (float)(p + FD_STEP);
        double up = value_of(l, pred, target, batch, width);
        pred[i] = (float)(p - FD_STEP);
        double down = value_of(l, pred, target, batch, width);
        pred[i] = p;
        double fd = (up - down) / (2.0 * FD_STEP);
        diff2 += (grad[i] - fd) * (grad[i] - fd);
        ref2 += fd * fd;
    }
    free(grad);
    assert_true(ref2 > 0.0);
    return sqrt(diff2 / ref2);
}

static void assert_fd_ok(const gf_loss *l, float *pred, const float *target, int64_t batch, int64_t width)
{
    double err = fd_relative_error(l, pred, target, batch, width);
    if (!(err <= FD_TOL))
        fail_msg("relative gradient error %g exceeds %g", err, FD_TOL);
}

static void fill_all(float *a, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        a[i] = v;
}

static void assert_all(const float *a, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        assert_true(a[i] == v);
}

static void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tol %g)", got, want, tol);
}

/* ---- gradients against finite differences ---------------------------- */

enum { B = 4, W = 5, N = B * W };

static void test_mse_gradient_matches_finite_differences(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 1);
    float pred[N], target[N];
    for (int i = 0; i < N; i++) {
        pred[i] = quantize(uniform(&r, -3, 3));
        target[i] = quantize(uniform(&r, -3, 3));
    }
    gf_loss *l = make_loss(GF_LOSS_MSE);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

static void test_mae_gradient_matches_finite_differences(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 2);
    float pred[N], target[N];
    for (int i = 0; i < N; i++) {
        target[i] = quantize(uniform(&r, -3, 3));
        pred[i] = quantize(target[i] + away_from_zero(&r, 0.05, 2)); /* away from the kink at 0 */
    }
    gf_loss *l = make_loss(GF_LOSS_MAE);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

/* Even elements differ by less than delta, odd ones by more. */
static void huber_points(gfi_rng *r, double delta, float *pred, float *target)
{
    for (int i = 0; i < N; i++) {
        target[i] = quantize(uniform(r, -2, 2));
        double d = i % 2 == 0 ? away_from_zero(r, 0.1 * delta, 0.8 * delta) : away_from_zero(r, 1.3 * delta, 3 * delta);
        pred[i] = quantize(target[i] + d);
    }
}

static void test_huber_gradient_matches_finite_differences_on_both_sides_of_delta(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 3);
    float pred[N], target[N];
    huber_points(&r, 1.0, pred, target);
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

static void test_huber_gradient_with_delta_0_3_matches_finite_differences(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 4);
    float pred[N], target[N];
    huber_points(&r, 0.3, pred, target);
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_DELTA, 0.3), GF_OK);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

static void test_bce_gradient_matches_finite_differences_with_fractional_targets(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 5);
    float pred[N], target[N];
    for (int i = 0; i < N; i++) {
        pred[i] = quantize(uniform(&r, -6, 6));
        target[i] = quantize(uniform(&r, 0, 1));
    }
    gf_loss *l = make_loss(GF_LOSS_BCE_LOGITS);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

/* Random probability rows; normalised unless `scale` != 1. */
static void probability_rows(gfi_rng *r, float *target, double scale)
{
    for (int b = 0; b < B; b++) {
        double raw[W], sum = 0.0;
        for (int k = 0; k < W; k++)
            sum += raw[k] = uniform(r, 0, 1);
        for (int k = 0; k < W; k++)
            target[b * W + k] = (float)(scale * raw[k] / sum);
    }
}

static void test_softmax_ce_gradient_matches_finite_differences_with_probability_targets(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 6);
    float pred[N], target[N];
    for (int i = 0; i < N; i++)
        pred[i] = quantize(uniform(&r, -4, 4));
    probability_rows(&r, target, 1.0);
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

static void test_softmax_ce_gradient_matches_finite_differences_with_unnormalised_targets(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 7);
    float pred[N], target[N];
    for (int i = 0; i < N; i++)
        pred[i] = quantize(uniform(&r, -4, 4));
    probability_rows(&r, target, 2.5);
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_fd_ok(l, pred, target, B, W);
    gf_loss_destroy(l);
}

static void test_softmax_ce_labels_gradient_matches_finite_differences(void **state)
{
    gfi_rng r;
    gfi_rng_seed(&r, 8);
    float pred[N], labels[B];
    for (int i = 0; i < N; i++)
        pred[i] = quantize(uniform(&r, -4, 4));
    for (int b = 0; b < B; b++)
        labels[b] = (float)gfi_rng_below(&r, W);
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE_LABELS);
    assert_fd_ok(l, pred, labels, B, W);
    gf_loss_destroy(l);
}

/* ---- values by hand -------------------------------------------------- */

static void test_mse_of_2x2_example_averages_over_all_elements(void **state)
{
    const float pred[4] = {1, 2, 3, 4}, target[4] = {0, 2, 5, 4};
    /* differences 1, 0, -2, 0: (1 + 4) / 4 elements; gradient 2 d / 4. */
    float grad[4];
    double v;
    gf_loss *l = make_loss(GF_LOSS_MSE);
    assert_int_equal(gf_loss_compute(l, pred, target, 2, 2, &v, grad), GF_OK);
    assert_near(v, 1.25, 1e-15);
    const float want[4] = {0.5f, 0.0f, -1.0f, 0.0f};
    for (int i = 0; i < 4; i++)
        assert_near(grad[i], want[i], 1e-7);
    gf_loss_destroy(l);
}

static void test_mae_of_2x2_example_has_zero_gradient_at_zero_difference(void **state)
{
    const float pred[4] = {1, 2, 3, 4}, target[4] = {0, 2, 5, 4};
    /* |1| + |0| + |-2| + |0| = 3 over 4 elements; gradient sign(d) / 4, sign(0) = 0. */
    float grad[4];
    double v;
    gf_loss *l = make_loss(GF_LOSS_MAE);
    assert_int_equal(gf_loss_compute(l, pred, target, 2, 2, &v, grad), GF_OK);
    assert_near(v, 0.75, 1e-15);
    const float want[4] = {0.25f, 0.0f, -0.25f, 0.0f};
    for (int i = 0; i < 4; i++)
        assert_near(grad[i], want[i], 1e-7);
    gf_loss_destroy(l);
}

static void test_huber_is_quadratic_inside_delta_and_linear_outside(void **state)
{
    const float pred[2] = {0.5f, -3.0f}, target[2] = {0.0f, 0.0f};
    /* 0.5 * 0.25 = 0.125 and 1 * (3 - 0.5) = 2.5, mean 1.3125; gradient (0.5, -1) / 2. */
    float grad[2];
    double v;
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    assert_int_equal(gf_loss_compute(l, pred, target, 1, 2, &v, grad), GF_OK);
    assert_near(v, 1.3125, 1e-15);
    assert_near(grad[0], 0.25, 1e-7);
    assert_near(grad[1], -0.5, 1e-7);
    gf_loss_destroy(l);
}

static void test_huber_with_delta_0_5_uses_that_delta(void **state)
{
    const float pred[2] = {1.25f, 2.0f}, target[2] = {1.0f, 0.0f};
    /* d = 0.25: 0.5 * 0.0625 = 0.03125; d = 2: 0.5 * (2 - 0.25) = 0.875; mean 0.453125. */
    float grad[2];
    double v;
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_DELTA, 0.5), GF_OK);
    assert_int_equal(gf_loss_compute(l, pred, target, 2, 1, &v, grad), GF_OK);
    assert_near(v, 0.453125, 1e-15);
    assert_near(grad[0], 0.125, 1e-7);
    assert_near(grad[1], 0.25, 1e-7);
    gf_loss_destroy(l);
}

static void test_bce_at_zero_logit_is_log_2(void **state)
{
    const float pred[2] = {0.0f, 0.0f}, target[2] = {0.0f, 1.0f};
    float grad[2];
    double v;
    gf_loss *l = make_loss(GF_LOSS_BCE_LOGITS);
    assert_int_equal(gf_loss_compute(l, pred, target, 2, 1, &v, grad), GF_OK);
    assert_near(v, log(2.0), 1e-15);
    /* (sigmoid(0) - t) / 2 */
    assert_near(grad[0], 0.25, 1e-7);
    assert_near(grad[1], -0.25, 1e-7);
    gf_loss_destroy(l);
}

static void test_bce_matches_the_negative_log_likelihood_of_the_sigmoid(void **state)
{
    const float pred[4] = {-2.0f, -0.5f, 1.0f, 3.0f}, target[4] = {0.0f, 0.25f, 1.0f, 0.7f};
    double want = 0.0;
    for (int i = 0; i < 4; i++) {
        double s = 1.0 / (1.0 + exp(-(double)pred[i]));
        want -= target[i] * log(s) + (1.0 - target[i]) * log(1.0 - s);
    }
    want /= 4.0;
    gf_loss *l = make_loss(GF_LOSS_BCE_LOGITS);
    assert_near(value_of(l, pred, target, 2, 2), want, 1e-12);
    gf_loss_destroy(l);
}

static void test_softmax_ce_of_uniform_logits_is_log_classes(void **state)
{
    const float pred[4] = {0.7f, 0.7f, 0.7f, 0.7f}, target[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    float grad[4];
    double v;
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_int_equal(gf_loss_compute(l, pred, target, 1, 4, &v, grad), GF_OK);
    assert_near(v, log(4.0), 1e-7); /* the targets sum to 1 only up to float rounding */
    for (int k = 0; k < 4; k++)
        assert_near(grad[k], 0.25 - target[k], 1e-7);
    gf_loss_destroy(l);
}

static void test_softmax_ce_labels_of_uniform_logits_is_log_classes_averaged_over_batch(void **state)
{
    float pred[3 * 5];
    fill_all(pred, 15, -1.5f);
    const float labels[3] = {0, 4, 2};
    float grad[15];
    double v;
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gf_loss_compute(l, pred, labels, 3, 5, &v, grad), GF_OK);
    assert_near(v, log(5.0), 1e-15); /* per-sample mean, not divided by the 5 classes */
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < 5; k++)
            assert_near(grad[b * 5 + k], (0.2 - (k == (int)labels[b])) / 3.0, 1e-7);
    gf_loss_destroy(l);
}

static void test_softmax_ce_matches_the_naive_formula(void **state)
{
    const float pred[6] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -1.0f};
    const float target[6] = {0.2f, 0.5f, 0.3f, 0.0f, 1.0f, 0.0f};
    double want = 0.0;
    for (int b = 0; b < 2; b++) {
        double z = 0.0;
        for (int k = 0; k < 3; k++)
            z += exp(pred[b * 3 + k]);
        for (int k = 0; k < 3; k++)
            want -= target[b * 3 + k] * log(exp(pred[b * 3 + k]) / z);
    }
    want /= 2.0;
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_near(value_of(l, pred, target, 2, 3), want, 1e-12);
    gf_loss_destroy(l);
}

static void test_softmax_ce_labels_equals_probability_ce_with_one_hot_targets(void **state)
{
    const float pred[6] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -1.0f};
    const float labels[2] = {2, 0}, onehot[6] = {0, 0, 1, 1, 0, 0};
    float g_labels[6], g_probs[6];
    double v_labels, v_probs;
    gf_loss *a = make_loss(GF_LOSS_SOFTMAX_CE_LABELS), *b = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_int_equal(gf_loss_compute(a, pred, labels, 2, 3, &v_labels, g_labels), GF_OK);
    assert_int_equal(gf_loss_compute(b, pred, onehot, 2, 3, &v_probs, g_probs), GF_OK);
    assert_near(v_labels, v_probs, 1e-15);
    for (int i = 0; i < 6; i++)
        assert_near(g_labels[i], g_probs[i], 1e-7);
    gf_loss_destroy(a);
    gf_loss_destroy(b);
}

static void test_softmax_ce_scales_with_unnormalised_target_rows(void **state)
{
    const float pred[3] = {1.0f, -2.0f, 0.5f};
    const float t1[3] = {0.25f, 0.5f, 0.25f}, t2[3] = {0.5f, 1.0f, 0.5f};
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_near(value_of(l, pred, t2, 1, 3), 2.0 * value_of(l, pred, t1, 1, 3), 1e-12);
    gf_loss_destroy(l);
}

static void test_null_grad_gives_the_same_value(void **state)
{
    const float pred[4] = {0.3f, -1.0f, 2.0f, 0.1f}, target[4] = {0.0f, 1.0f, 0.5f, 0.5f};
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_BCE_LOGITS; kind++) {
        gf_loss *l = make_loss(kind);
        float grad[4];
        double with, without;
        assert_int_equal(gf_loss_compute(l, pred, target, 2, 2, &with, grad), GF_OK);
        assert_int_equal(gf_loss_compute(l, pred, target, 2, 2, &without, NULL), GF_OK);
        assert_true(with == without);
        gf_loss_destroy(l);
    }
}

/* ---- stability at large logits -------------------------------------- */

static void assert_all_finite(const float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(isfinite(a[i]));
}

static void test_bce_is_finite_at_logits_plus_minus_1e4(void **state)
{
    const float pred[4] = {1e4f, -1e4f, 1e4f, -1e4f}, target[4] = {0.0f, 1.0f, 1.0f, 0.0f};
    /* Confidently wrong costs |x| each, confidently right costs 0: (1e4 + 1e4) / 4. */
    float grad[4];
    double v;
    gf_loss *l = make_loss(GF_LOSS_BCE_LOGITS);
    assert_int_equal(gf_loss_compute(l, pred, target, 4, 1, &v, grad), GF_OK);
    assert_true(isfinite(v));
    assert_all_finite(grad, 4);
    assert_near(v, 5e3, 1e-9);
    const float want[4] = {0.25f, -0.25f, 0.0f, 0.0f};
    for (int i = 0; i < 4; i++)
        assert_near(grad[i], want[i], 1e-7);
    gf_loss_destroy(l);
}

static void test_softmax_ce_is_finite_at_logits_plus_minus_1e4(void **state)
{
    /* Row 0 puts all mass on class 0 but the target is class 1: loss 2e4.
     * Row 1 ties two classes at 1e4 with the target split evenly: loss log 2. */
    const float pred[6] = {1e4f, -1e4f, -1e4f, 1e4f, 1e4f, -1e4f};
    const float target[6] = {0.0f, 1.0f, 0.0f, 0.5f, 0.5f, 0.0f};
    float grad[6];
    double v;
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_int_equal(gf_loss_compute(l, pred, target, 2, 3, &v, grad), GF_OK);
    assert_true(isfinite(v));
    assert_all_finite(grad, 6);
    assert_near(v, (2e4 + log(2.0)) / 2.0, 1e-9);
    const float want[6] = {0.5f, -0.5f, 0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 6; i++)
        assert_near(grad[i], want[i], 1e-7);
    gf_loss_destroy(l);
}

static void test_softmax_ce_labels_is_finite_at_logits_plus_minus_1e4(void **state)
{
    const float pred[6] = {1e4f, -1e4f, -1e4f, -1e4f, 1e4f, -1e4f};
    const float labels[2] = {2, 1}; /* row 0 wrong by 2e4, row 1 right */
    float grad[6];
    double v;
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gf_loss_compute(l, pred, labels, 2, 3, &v, grad), GF_OK);
    assert_true(isfinite(v));
    assert_all_finite(grad, 6);
    assert_near(v, 1e4, 1e-9);
    const float want[6] = {0.5f, 0.0f, -0.5f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < 6; i++)
        assert_near(grad[i], want[i], 1e-7);
    gf_loss_destroy(l);
}

/* Softmax ignores a common offset: two classes tied at c give log 2 and gradients of +-0.5 for any c, 1e30 included
 * (the offset added back before the subtraction lost log 2 from 1e16 up: loss 0, "probabilities" summing to 2). */
static void test_softmax_ce_of_two_tied_logits_is_log_2_at_any_offset(void **state)
{
    static const float offsets[] = {1e16f, -1e16f, 1e20f, -1e30f, 1e30f, 3e38f};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        const float pred[2] = {offsets[i], offsets[i]}, target[2] = {0.0f, 1.0f}, label[1] = {1.0f};
        float grad[2], lgrad[2];
        double v, lv;
        gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE), *ll = make_loss(GF_LOSS_SOFTMAX_CE_LABELS);
        assert_int_equal(gf_loss_compute(l, pred, target, 1, 2, &v, grad), GF_OK);
        assert_int_equal(gf_loss_compute(ll, pred, label, 1, 2, &lv, lgrad), GF_OK);
        assert_near(v, log(2.0), 1e-12);
        assert_near(lv, log(2.0), 1e-12);
        assert_near(grad[0], 0.5, 1e-7);
        assert_near(grad[1], -0.5, 1e-7);
        assert_near(lgrad[0], 0.5, 1e-7);
        assert_near(lgrad[1], -0.5, 1e-7);
        gf_loss_destroy(l);
        gf_loss_destroy(ll);
    }
}

/* ---- validation: every failure returns its code and writes nothing ---- */

/* Runs gf_loss_compute on a 2 x 3 problem and checks code and untouched outputs. */
static void expect_failure(int32_t kind, const float *pred, const float *target, int want)
{
    gf_loss *l = make_loss(kind);
    float grad[6];
    fill_all(grad, 6, SENTINEL);
    double v = SENTINEL;
    assert_int_equal(gf_loss_compute(l, pred, target, 2, 3, &v, grad), want);
    assert_true(v == SENTINEL);
    assert_all(grad, 6, SENTINEL);
    gf_loss_destroy(l);
}

static const float ok_pred[6] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};

static void test_label_out_of_range_is_range_error_and_leaves_grad_untouched(void **state)
{
    const float too_big[2] = {0, 3}, negative[2] = {-1, 0}, huge[2] = {1e30f, 0};
    expect_failure(GF_LOSS_SOFTMAX_CE_LABELS, ok_pred, too_big, GF_ERR_RANGE);
    expect_failure(GF_LOSS_SOFTMAX_CE_LABELS, ok_pred, negative, GF_ERR_RANGE);
    expect_failure(GF_LOSS_SOFTMAX_CE_LABELS, ok_pred, huge, GF_ERR_RANGE);
}

static void test_non_integer_label_is_invalid_and_leaves_grad_untouched(void **state)
{
    const float frac[2] = {1.5f, 0}, tiny[2] = {0, 1e-30f};
    expect_failure(GF_LOSS_SOFTMAX_CE_LABELS, ok_pred, frac, GF_ERR_INVALID);
    expect_failure(GF_LOSS_SOFTMAX_CE_LABELS, ok_pred, tiny, GF_ERR_INVALID);
}

static void test_nonfinite_target_is_nonfinite_error_and_leaves_grad_untouched(void **state)
{
    float t[6] = {0, 0, 0, 0, 0, 0};
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE; kind++) {
        t[4] = NAN;
        expect_failure(kind, ok_pred, t, GF_ERR_NONFINITE);
        t[4] = INFINITY;
        expect_failure(kind, ok_pred, t, GF_ERR_NONFINITE);
    }
    const float label[2] = {0, NAN};
    expect_failure(GF_LOSS_SOFTMAX_CE_LABELS, ok_pred, label, GF_ERR_NONFINITE);
}

static void test_nonfinite_prediction_is_nonfinite_error_and_leaves_grad_untouched(void **state)
{
    const float t[6] = {0, 0, 1, 0, 0, 1}, labels[2] = {2, 2};
    float p[6];
    memcpy(p, ok_pred, sizeof p);
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE_LABELS; kind++) {
        const float *target = kind == GF_LOSS_SOFTMAX_CE_LABELS ? labels : t;
        p[5] = NAN;
        expect_failure(kind, p, target, GF_ERR_NONFINITE);
        p[5] = -INFINITY;
        expect_failure(kind, p, target, GF_ERR_NONFINITE);
    }
}

static void test_bce_target_outside_unit_interval_is_invalid(void **state)
{
    const float above[6] = {0, 0, 1.5f, 0, 0, 0}, below[6] = {0, 0, 0, -0.01f, 0, 0};
    expect_failure(GF_LOSS_BCE_LOGITS, ok_pred, above, GF_ERR_INVALID);
    expect_failure(GF_LOSS_BCE_LOGITS, ok_pred, below, GF_ERR_INVALID);
}

static void test_negative_probability_target_is_invalid(void **state)
{
    const float t[6] = {0.5f, 0.6f, -0.1f, 0, 1, 0};
    expect_failure(GF_LOSS_SOFTMAX_CE, ok_pred, t, GF_ERR_INVALID);
}

/* Sizes are rejected before pred or target is read, so tiny arrays suffice. */
static void expect_size_failure(int64_t batch, int64_t width, int want)
{
    gf_loss *l = make_loss(GF_LOSS_MSE);
    float grad[1] = {SENTINEL}, one[1] = {0};
    double v = SENTINEL;
    assert_int_equal(gf_loss_compute(l, one, one, batch, width, &v, grad), want);
    assert_true(v == SENTINEL && grad[0] == SENTINEL);
    gf_loss_destroy(l);
}

static void test_zero_or_negative_batch_or_width_is_invalid_and_leaves_grad_untouched(void **state)
{
    expect_size_failure(0, 3, GF_ERR_INVALID);
    expect_size_failure(2, 0, GF_ERR_INVALID);
    expect_size_failure(-1, 3, GF_ERR_INVALID);
    expect_size_failure(2, -5, GF_ERR_INVALID);
}

static void test_batch_times_width_overflowing_is_overflow_error(void **state)
{
    expect_size_failure(INT64_MAX, 2, GF_ERR_OVERFLOW);
    expect_size_failure(INT64_C(1) << 32, INT64_C(1) << 32, GF_ERR_OVERFLOW);
}

static void test_null_arguments_are_null_errors_and_leave_grad_untouched(void **state)
{
    gf_loss *l = make_loss(GF_LOSS_MSE);
    const float t[6] = {0};
    float grad[6];
    fill_all(grad, 6, SENTINEL);
    double v = SENTINEL;
    assert_int_equal(gf_loss_compute(NULL, ok_pred, t, 2, 3, &v, grad), GF_ERR_NULL);
    assert_int_equal(gf_loss_compute(l, NULL, t, 2, 3, &v, grad), GF_ERR_NULL);
    assert_int_equal(gf_loss_compute(l, ok_pred, NULL, 2, 3, &v, grad), GF_ERR_NULL);
    assert_int_equal(gf_loss_compute(l, ok_pred, t, 2, 3, NULL, grad), GF_ERR_NULL);
    assert_true(v == SENTINEL);
    assert_all(grad, 6, SENTINEL);
    gf_loss_destroy(l);
}

static void test_wrong_handle_kind_is_kind_error(void **state)
{
    gf_loss fake;
    memset(&fake, 0, sizeof fake);
    fake.magic = GFI_MAGIC_PEN;
    const float t[6] = {0};
    float grad[6];
    fill_all(grad, 6, SENTINEL);
    double v = SENTINEL;
    assert_int_equal(gf_loss_compute(&fake, ok_pred, t, 2, 3, &v, grad), GF_ERR_KIND);
    assert_int_equal(gf_loss_set(&fake, GF_LOSS_PARAM_DELTA, 2.0), GF_ERR_KIND);
    assert_int_equal(gf_loss_get(&fake, GF_LOSS_PARAM_DELTA, &v), GF_ERR_KIND);
    assert_int_equal(gf_loss_kind(&fake), -1);
    assert_int_equal(gf_loss_target_width(&fake, 3), -1);
    assert_true(v == SENTINEL);
    assert_all(grad, 6, SENTINEL);
    gf_loss_destroy(&fake); /* not a loss: left alone */
    assert_int_equal(fake.magic, GFI_MAGIC_PEN);
}

static void test_error_message_names_function_row_and_value(void **state)
{
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE_LABELS);
    const float labels[2] = {0, 7};
    double v;
    assert_int_equal(gf_loss_compute(l, ok_pred, labels, 2, 3, &v, NULL), GF_ERR_RANGE);
    const char *msg = gf_last_error();
    assert_non_null(strstr(msg, "gf_loss_compute"));
    assert_non_null(strstr(msg, "row 1"));
    assert_non_null(strstr(msg, "7"));
    gf_loss_destroy(l);
}

/* MSE, MAE and Huber take any finite target (one vector scan): a NaN or Inf
 * is named by its row and column wherever it falls, past the first
 * vectors and in the ragged end. */
static void test_nonfinite_target_of_an_elementwise_loss_names_its_row_and_column(void **state)
{
    enum { B = 9, W = 7 };
    static float t[B * W];
    const int32_t kinds[] = {GF_LOSS_MSE, GF_LOSS_MAE, GF_LOSS_HUBER};
    const size_t at[] = {0, 40, B * W - 1};
    for (int k = 0; k < 3; k++)
        for (int a = 0; a < 3; a++) {
            for (size_t i = 0; i < B * W; i++)
                t[i] = (float)i * 0.25f - 3.0f;
            t[at[a]] = a == 1 ? INFINITY : NAN;
            gfi_loss c;
            gfi_loss_default(&c, kinds[k]);
            assert_int_equal(gfi_loss_check_target(&c, t, B, W), GF_ERR_NONFINITE);
            char want[64];
            snprintf(want, sizeof want, "row %zu, column %zu", at[a] / W, at[a] % W);
            assert_non_null(strstr(gf_last_error(), want));
        }
}

/* The element-wise losses add up in four interleaved partial sums: over a
 * length that is not a multiple of 4 the value still equals a plain double
 * loop's (to rounding) and every gradient element is written. */
static void test_elementwise_loss_over_a_ragged_length_matches_a_double_loop(void **state)
{
    enum { N = 1003 };
    static float pred[N], target[N], grad[N];
    const int32_t kinds[] = {GF_LOSS_MSE, GF_LOSS_MAE, GF_LOSS_HUBER};
    for (size_t i = 0; i < N; i++) {
        pred[i] = (float)sin((double)i) * 2.0f;
        target[i] = (float)cos((double)i * 0.7);
    }
    for (int k = 0; k < 3; k++) {
        double want = 0.0;
        for (size_t i = 0; i < N; i++) {
            double d = (double)pred[i] - target[i];
            want += kinds[k] == GF_LOSS_MSE ? d * d : kinds[k] == GF_LOSS_MAE ? fabs(d)
                    : fabs(d) <= 1.0    ? 0.5 * d * d
                                        : fabs(d) - 0.5;
        }
        want /= N;
        for (size_t i = 0; i < N; i++)
            grad[i] = NAN;
        gf_loss *l = make_loss(kinds[k]);
        double v;
        assert_int_equal(gf_loss_compute(l, pred, target, 1, N, &v, grad), GF_OK);
        assert_near(v, want, 1e-14 * want);
        for (size_t i = 0; i < N; i++)
            assert_true(isfinite(grad[i]));
        gf_loss_destroy(l);
    }
}

static void test_check_target_accepts_valid_targets_of_every_kind(void **state)
{
    const float t[6] = {0, 0.5f, 1, 0.25f, 0.75f, 0}, labels[2] = {2, -0.0f};
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE; kind++) {
        gfi_loss c;
        gfi_loss_default(&c, kind);
        assert_int_equal(gfi_loss_check_target(&c, t, 2, 3), GF_OK);
    }
    gfi_loss c;
    gfi_loss_default(&c, GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gfi_loss_check_target(&c, labels, 2, 3), GF_OK);
}

/* ---- handle --------------------------------------------------------- */

static void test_create_rejects_unknown_kind_and_null_out(void **state)
{
    int64_t before = gf_live_allocations();
    gf_loss *l = (gf_loss *)&l; /* any non-NULL marker */
    gf_loss *const marker = l;
    assert_int_equal(gf_loss_create(&l, -1), GF_ERR_INVALID);
    assert_int_equal(gf_loss_create(&l, GF_LOSS_SOFTMAX_CE_LABELS + 1), GF_ERR_INVALID);
    assert_ptr_equal(l, marker);
    assert_int_equal(gf_loss_create(NULL, GF_LOSS_MSE), GF_ERR_NULL);
    assert_int_equal(gf_live_allocations(), before);
}

static void test_huber_delta_defaults_to_one_and_round_trips(void **state)
{
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    double d = 0.0;
    assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_DELTA, &d), GF_OK);
    assert_true(d == 1.0);
    assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_DELTA, 2.5), GF_OK);
    assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_DELTA, &d), GF_OK);
    assert_true(d == 2.5);
    gf_loss_destroy(l);
}

static void test_set_delta_rejects_nonpositive_and_nonfinite_values(void **state)
{
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    const double bad[] = {0.0, -1.0, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_DELTA, bad[i]), GF_ERR_INVALID);
    double d = 0.0;
    assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_DELTA, &d), GF_OK);
    assert_true(d == 1.0);
    gf_loss_destroy(l);
}

static void test_delta_applies_only_to_huber(void **state)
{
    double d = SENTINEL;
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE_LABELS; kind++) {
        gf_loss *l = make_loss(kind);
        if (kind != GF_LOSS_HUBER) {
            assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_DELTA, 2.0), GF_ERR_INVALID);
            assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_DELTA, &d), GF_ERR_INVALID);
        }
        assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_PER_STEP + 1, 2.0), GF_ERR_INVALID);
        assert_int_equal(gf_loss_get(l, -1, &d), GF_ERR_INVALID);
        gf_loss_destroy(l);
    }
    assert_true(d == SENTINEL);
}

static void test_per_step_defaults_to_zero_and_round_trips_on_every_kind(void **state)
{
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE_LABELS; kind++) {
        gf_loss *l = make_loss(kind);
        double v = SENTINEL;
        assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_PER_STEP, &v), GF_OK);
        assert_true(v == 0.0);
        assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_PER_STEP, 1.0), GF_OK);
        assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_PER_STEP, &v), GF_OK);
        assert_true(v == 1.0);
        gf_loss_destroy(l);
    }
}

static void test_per_step_other_than_zero_or_one_is_refused_and_keeps_the_setting(void **state)
{
    gf_loss *l = make_loss(GF_LOSS_SOFTMAX_CE);
    assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_PER_STEP, 1.0), GF_OK);
    const double bad[] = {0.5, 2.0, -1.0, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(gf_loss_set(l, GF_LOSS_PARAM_PER_STEP, bad[i]), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "per-step must be 0 or 1"));
    double v = 0.0;
    assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_PER_STEP, &v), GF_OK);
    assert_true(v == 1.0);
    gf_loss_destroy(l);
}

static void test_set_and_get_reject_null(void **state)
{
    gf_loss *l = make_loss(GF_LOSS_HUBER);
    double d;
    assert_int_equal(gf_loss_set(NULL, GF_LOSS_PARAM_DELTA, 2.0), GF_ERR_NULL);
    assert_int_equal(gf_loss_get(NULL, GF_LOSS_PARAM_DELTA, &d), GF_ERR_NULL);
    assert_int_equal(gf_loss_get(l, GF_LOSS_PARAM_DELTA, NULL), GF_ERR_NULL);
    gf_loss_destroy(l);
}

static void test_kind_reports_the_kind_and_minus_one_for_null(void **state)
{
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE_LABELS; kind++) {
        gf_loss *l = make_loss(kind);
        assert_int_equal(gf_loss_kind(l), kind);
        gf_loss_destroy(l);
    }
    assert_int_equal(gf_loss_kind(NULL), -1);
}

static void test_target_width_is_one_for_labels_and_outputs_otherwise(void **state)
{
    for (int32_t kind = GF_LOSS_MSE; kind <= GF_LOSS_SOFTMAX_CE_LABELS; kind++) {
        gf_loss *l = make_loss(kind);
        assert_int_equal(gf_loss_target_width(l, 7), kind == GF_LOSS_SOFTMAX_CE_LABELS ? 1 : 7);
        assert_int_equal(gf_loss_target_width(l, 0), -1);
        gf_loss_destroy(l);
    }
    assert_int_equal(gf_loss_target_width(NULL, 7), -1);
}

static void *failing_malloc(void *u, size_t n) { (void)u; (void)n; return NULL; }
static void *plain_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void plain_free(void *u, void *p) { (void)u; free(p); }

static void test_create_reports_nomem_when_the_allocator_fails(void **state)
{
    assert_int_equal(gf_set_allocator(failing_malloc, plain_realloc, plain_free, NULL), GF_OK);
    gf_loss *l = NULL;
    int rc = gf_loss_create(&l, GF_LOSS_MSE);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(rc, GF_ERR_NOMEM);
    assert_null(l);
}

static void test_destroy_frees_and_null_is_a_noop(void **state)
{
    int64_t before = gf_live_allocations();
    gf_loss_destroy(NULL);
    gf_loss *l = make_loss(GF_LOSS_BCE_LOGITS);
    assert_int_equal(gf_live_allocations(), before + 1);
    gf_loss_destroy(l);
    assert_int_equal(gf_live_allocations(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: swapping the allocator needs no live allocations, which a
         * failed test (leaking its handle) elsewhere could break. */
        cmocka_unit_test(test_create_reports_nomem_when_the_allocator_fails),
        cmocka_unit_test(test_mse_gradient_matches_finite_differences),
        cmocka_unit_test(test_mae_gradient_matches_finite_differences),
        cmocka_unit_test(test_huber_gradient_matches_finite_differences_on_both_sides_of_delta),
        cmocka_unit_test(test_huber_gradient_with_delta_0_3_matches_finite_differences),
        cmocka_unit_test(test_bce_gradient_matches_finite_differences_with_fractional_targets),
        cmocka_unit_test(test_softmax_ce_gradient_matches_finite_differences_with_probability_targets),
        cmocka_unit_test(test_softmax_ce_gradient_matches_finite_differences_with_unnormalised_targets),
        cmocka_unit_test(test_softmax_ce_labels_gradient_matches_finite_differences),
        cmocka_unit_test(test_mse_of_2x2_example_averages_over_all_elements),
        cmocka_unit_test(test_mae_of_2x2_example_has_zero_gradient_at_zero_difference),
        cmocka_unit_test(test_huber_is_quadratic_inside_delta_and_linear_outside),
        cmocka_unit_test(test_huber_with_delta_0_5_uses_that_delta),
        cmocka_unit_test(test_bce_at_zero_logit_is_log_2),
        cmocka_unit_test(test_bce_matches_the_negative_log_likelihood_of_the_sigmoid),
        cmocka_unit_test(test_softmax_ce_of_uniform_logits_is_log_classes),
        cmocka_unit_test(test_softmax_ce_labels_of_uniform_logits_is_log_classes_averaged_over_batch),
        cmocka_unit_test(test_softmax_ce_matches_the_naive_formula),
        cmocka_unit_test(test_softmax_ce_labels_equals_probability_ce_with_one_hot_targets),
        cmocka_unit_test(test_softmax_ce_scales_with_unnormalised_target_rows),
        cmocka_unit_test(test_null_grad_gives_the_same_value),
        cmocka_unit_test(test_bce_is_finite_at_logits_plus_minus_1e4),
        cmocka_unit_test(test_softmax_ce_is_finite_at_logits_plus_minus_1e4),
        cmocka_unit_test(test_softmax_ce_labels_is_finite_at_logits_plus_minus_1e4),
        cmocka_unit_test(test_softmax_ce_of_two_tied_logits_is_log_2_at_any_offset),
        cmocka_unit_test(test_label_out_of_range_is_range_error_and_leaves_grad_untouched),
        cmocka_unit_test(test_non_integer_label_is_invalid_and_leaves_grad_untouched),
        cmocka_unit_test(test_nonfinite_target_is_nonfinite_error_and_leaves_grad_untouched),
        cmocka_unit_test(test_nonfinite_prediction_is_nonfinite_error_and_leaves_grad_untouched),
        cmocka_unit_test(test_bce_target_outside_unit_interval_is_invalid),
        cmocka_unit_test(test_negative_probability_target_is_invalid),
        cmocka_unit_test(test_zero_or_negative_batch_or_width_is_invalid_and_leaves_grad_untouched),
        cmocka_unit_test(test_batch_times_width_overflowing_is_overflow_error),
        cmocka_unit_test(test_null_arguments_are_null_errors_and_leave_grad_untouched),
        cmocka_unit_test(test_wrong_handle_kind_is_kind_error),
        cmocka_unit_test(test_error_message_names_function_row_and_value),
        cmocka_unit_test(test_nonfinite_target_of_an_elementwise_loss_names_its_row_and_column),
        cmocka_unit_test(test_elementwise_loss_over_a_ragged_length_matches_a_double_loop),
        cmocka_unit_test(test_check_target_accepts_valid_targets_of_every_kind),
        cmocka_unit_test(test_create_rejects_unknown_kind_and_null_out),
        cmocka_unit_test(test_huber_delta_defaults_to_one_and_round_trips),
        cmocka_unit_test(test_set_delta_rejects_nonpositive_and_nonfinite_values),
        cmocka_unit_test(test_delta_applies_only_to_huber),
        cmocka_unit_test(test_per_step_defaults_to_zero_and_round_trips_on_every_kind),
        cmocka_unit_test(test_per_step_other_than_zero_or_one_is_refused_and_keeps_the_setting),
        cmocka_unit_test(test_set_and_get_reject_null),
        cmocka_unit_test(test_kind_reports_the_kind_and_minus_one_for_null),
        cmocka_unit_test(test_target_width_is_one_for_labels_and_outputs_otherwise),
        cmocka_unit_test(test_destroy_frees_and_null_is_a_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
