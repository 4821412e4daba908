/* test_activation.c — activation values, derivatives, stability and the gf_activation handle. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NKINDS 9
#define SELU_LAMBDA 1.0507009873554805

static gf_activation *make(int32_t kind)
{
    gf_activation *a = NULL;
    assert_int_equal(gf_activation_create(&a, kind), GF_OK);
    assert_non_null(a);
    return a;
}

static float apply1(const gf_activation *a, float x)
{
    float y = NAN;
    assert_int_equal(gf_activation_apply(a, &x, &y, 1), GF_OK);
    return y;
}

static float deriv1(const gf_activation *a, float x)
{
    float d = NAN;
    assert_int_equal(gf_activation_derivative(a, &x, &d, 1), GF_OK);
    return d;
}

/* Norm-wise relative error of the analytic derivative against a central
 * difference in double of the float forward, over points away from the kink
 * at 0.  h = 1/128 and the points are dyadic, so x +- h is exact in float. */
static double fd_relative_error(const gf_activation *a)
{
    static const float pts[] = {-3.5f, -1.25f, -0.5f, -0.25f, 0.25f, 0.75f, 1.5f, 2.125f, 4.5f};
    const double h = 1.0 / 128.0;
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < sizeof pts / sizeof pts[0]; i++) {
        double fd = ((double)apply1(a, (float)(pts[i] + h)) - (double)apply1(a, (float)(pts[i] - h))) / (2.0 * h);
        double an = (double)deriv1(a, pts[i]);
        num += (an - fd) * (an - fd);
        den += fd * fd;
    }
    return sqrt(num) / fmax(sqrt(den), 1e-12);
}

/* ---- derivatives ---- */

static void test_derivative_matches_central_difference_for_every_kind(void **state)
{
    (void)state;
    for (int32_t k = 0; k < NKINDS; k++) {
        gf_activation *a = make(k);
        double err = fd_relative_error(a);
        if (err > 1e-3)
            fail_msg("%s: relative error %g > 1e-3", gf_activation_name(k), err);
        gf_activation_destroy(a);
    }
}

static void test_derivative_matches_central_difference_with_custom_parameters(void **state)
{
    (void)state;
    gf_activation *leaky = make(GF_ACT_LEAKY_RELU), *elu = make(GF_ACT_ELU);
    assert_int_equal(gf_activation_set(leaky, GF_ACT_PARAM_SLOPE, 0.3), GF_OK);
    assert_int_equal(gf_activation_set(elu, GF_ACT_PARAM_ALPHA, 2.5), GF_OK);
    assert_true(fd_relative_error(leaky) <= 1e-3);
    assert_true(fd_relative_error(elu) <= 1e-3);
    gf_activation_destroy(leaky);
    gf_activation_destroy(elu);
}

static void test_relu_derivative_at_zero_is_zero(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_RELU);
    assert_true(deriv1(a, 0.0f) == 0.0f);
    assert_true(deriv1(a, 1e-30f) == 1.0f);
    gf_activation_destroy(a);
}

static void test_backward_is_upstream_times_derivative_with_and_without_output(void **state)
{
    (void)state;
    float z[] = {-6.0f, -2.0f, -0.3f, 0.4f, 1.7f, 5.0f};
    float dy[] = {0.5f, -1.0f, 2.0f, -0.25f, 3.0f, 1.0f};
    enum { N = sizeof z / sizeof z[0] };
    for (int32_t k = 0; k < NKINDS; k++) {
        gfi_act a;
        gfi_act_default(&a, k);
        float y[N], d[N], dz_y[N], dz_noy[N];
        gfi_act_forward(&a, z, y, N);
        gfi_act_derivative(&a, z, d, N);
        gfi_act_backward(&a, z, y, dy, dz_y, N);
        gfi_act_backward(&a, z, NULL, dy, dz_noy, N);
        for (int i = 0; i < N; i++) {
            double want = (double)dy[i] * (double)d[i];
            /* y is rounded to float (ulp <= 1.2e-7 for |y| <= 1), and 1 - y^2 or
             * y(1 - y) turn that into an absolute error of a few 1e-7 per unit dy. */
            if (fabs(dz_y[i] - want) > 1e-6 * fabs(dy[i]) + 1e-5 * fabs(want) ||
                fabs(dz_noy[i] - want) > 1e-6 * (fabs(want) + 1e-6))
                fail_msg("%s at %g: %g / %g vs %g", gf_activation_name(k), (double)z[i], (double)dz_y[i],
                         (double)dz_noy[i], want);
        }
    }
}

/* ---- gradients through layers ---- */

/* ELU (alpha 1 and 0.3) and SELU far on the negative side, where a slope
 * taken from the float output as y + alpha cancels to nothing (elu'(-20)
 * came out as 0, selu' stuck at 2.3e-8).  Each layer has one unit with
 * weight 1 and bias 0, so its input gradient is dy f'(x) with one rounding:
 * it must equal gf_activation_derivative times dy to float rounding. */
#define NFAR 4
static const float far_x[NFAR] = {-8.0f, -12.0f, -20.0f, -30.0f};
static const float far_dy[NFAR] = {0.75f, -1.5f, 2.0f, 0.5f};

typedef struct {
    int32_t kind;
    double alpha; /* 0: the kind's default */
} far_case;

static const far_case far_cases[] = {{GF_ACT_ELU, 0.0}, {GF_ACT_ELU, 0.3}, {GF_ACT_SELU, 0.0}};

static gf_activation *far_activation(const far_case *c)
{
    gf_activation *a = make(c->kind);
    if (c->alpha > 0.0)
        assert_int_equal(gf_activation_set(a, GF_ACT_PARAM_ALPHA, c->alpha), GF_OK);
    return a;
}

static void set_block(gf_layer *l, const char *name, float v)
{
    int32_t i;
    assert_int_equal(gf_layer_param_block_find(l, name, &i), GF_OK);
    assert_int_equal(gf_layer_set_param(l, i, &v, 1), GF_OK);
}

/* Forward far_x (NFAR values, batch samples), backward from far_dy, and
 * compare the input gradient with dy * gf_activation_derivative(x).  The
 * first mismatch goes to msg and returns false; the caller destroys the net
 * before failing, so a failure leaks nothing into the tests after it. */
static bool input_grad_is_derivative_times_upstream(gf_net *net, gf_layer *l, const far_case *c, int64_t batch,
                                                    const char *layer, char *msg, size_t cap)
{
    gf_activation *a = far_activation(c);
    float d[NFAR], dx[NFAR];
    bool ok = gf_layer_set_activation(l, a) == GF_OK && gf_net_set_input_grad(net, 1) == GF_OK &&
              gf_activation_derivative(a, far_x, d, NFAR) == GF_OK &&
              gf_net_forward(net, far_x, NFAR, batch, NULL, 0) == GF_OK &&
              gf_net_backward_from(net, far_dy, NFAR) == GF_OK && gf_net_input_grad(net, dx, NFAR) == GF_OK;
    gf_activation_destroy(a);
    if (!ok) {
        snprintf(msg, cap, "%s: a call failed: %s", layer, gf_net_last_error(net));
        return false;
    }
    for (int i = 0; i < NFAR; i++) {
        double want = (double)far_dy[i] * (double)d[i];
        /* one rounding of dy f'(x) against dy times f'(x) rounded: 2^-23 relative each */
        if (!(want != 0.0) || fabs((double)dx[i] - want) > 2.5e-7 * fabs(want)) {
            snprintf(msg, cap, "%s %s (alpha %s) at x = %g: input gradient %.8e, dy * derivative %.8e", layer,
                     gf_activation_name(c->kind), c->alpha > 0.0 ? "0.3" : "default", (double)far_x[i],
                     (double)dx[i], want);
            return false;
        }
    }
    return true;
}

static void test_dense_backward_of_elu_and_selu_is_derivative_times_upstream_far_below_zero(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof far_cases / sizeof far_cases[0]; k++) {
        gf_net *net;
        gf_layer *l;
        assert_int_equal(gf_net_create(&net, 1, 1), GF_OK);
        assert_int_equal(gf_net_add_dense(net, 1, far_cases[k].kind, &l), GF_OK);
        set_block(l, "weight", 1.0f);
        set_block(l, "bias", 0.0f);
        char msg[256];
        bool ok = input_grad_is_derivative_times_upstream(net, l, &far_cases[k], NFAR, "dense", msg, sizeof msg);
        gf_net_destroy(net);
        if (!ok)
            fail_msg("%s", msg);
    }
}

static void test_conv2d_backward_of_elu_and_selu_is_derivative_times_upstream_far_below_zero(void **state)
{
    (void)state;
    const int64_t dims[3] = {1, 1, NFAR}; /* C x H x W */
    for (size_t k = 0; k < sizeof far_cases / sizeof far_cases[0]; k++) {
        gf_net *net;
        gf_layer *l;
        assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, dims, 3, 1), GF_OK);
        assert_int_equal(gf_net_add_conv2d(net, 1, 1, 1, 0, far_cases[k].kind, &l), GF_OK);
        set_block(l, "weight", 1.0f);
        set_block(l, "bias", 0.0f);
        char msg[256];
        bool ok = input_grad_is_derivative_times_upstream(net, l, &far_cases[k], 1, "conv2d", msg, sizeof msg);
        gf_net_destroy(net);
        if (!ok)
            fail_msg("%s", msg);
    }
}

static void test_rnn_backward_of_elu_and_selu_is_derivative_times_upstream_far_below_zero(void **state)
{
    (void)state;
    const int64_t dims[2] = {NFAR, 1}; /* T x F; W_hh = 0 makes each step its own unit */
    for (size_t k = 0; k < sizeof far_cases / sizeof far_cases[0]; k++) {
        gf_net *net;
        gf_layer *l;
        assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
        assert_int_equal(gf_net_add_rnn(net, 1, far_cases[k].kind, 1, &l), GF_OK);
        set_block(l, "weight_ih_l0", 1.0f);
        set_block(l, "weight_hh_l0", 0.0f);
        set_block(l, "bias_ih_l0", 0.0f);
        set_block(l, "bias_hh_l0", 0.0f);
        char msg[256];
        bool ok = input_grad_is_derivative_times_upstream(net, l, &far_cases[k], 1, "rnn", msg, sizeof msg);
        gf_net_destroy(net);
        if (!ok)
            fail_msg("%s", msg);
    }
}

/* ---- stability ---- */

static void test_outputs_and_derivatives_are_finite_at_plus_minus_1e4(void **state)
{
    (void)state;
    float x[] = {-1e4f, -1e3f, -100.0f, -89.0f, 89.0f, 100.0f, 1e3f, 1e4f};
    enum { N = sizeof x / sizeof x[0] };
    for (int32_t k = 0; k < NKINDS; k++) {
        gf_activation *a = make(k);
        float y[N], d[N];
        assert_int_equal(gf_activation_apply(a, x, y, N), GF_OK);
        assert_int_equal(gf_activation_derivative(a, x, d, N), GF_OK);
        for (int i = 0; i < N; i++)
            if (!isfinite(y[i]) || !isfinite(d[i]))
                fail_msg("%s(%g) = %g, f' = %g", gf_activation_name(k), (double)x[i], (double)y[i], (double)d[i]);
        gf_activation_destroy(a);
    }
}

static void test_saturating_kinds_reach_their_limits_at_plus_minus_1e4(void **state)
{
    (void)state;
    gf_activation *s = make(GF_ACT_SIGMOID), *sp = make(GF_ACT_SOFTPLUS), *g = make(GF_ACT_GELU);
    assert_true(apply1(s, -1e4f) == 0.0f);
    assert_true(apply1(s, 1e4f) == 1.0f);
    assert_true(apply1(sp, 1e4f) == 1e4f);
    assert_true(apply1(sp, -1e4f) == 0.0f);
    assert_true(apply1(g, 1e4f) == 1e4f);
    assert_true(apply1(g, -1e4f) == 0.0f);
    assert_true(deriv1(sp, -1e4f) == 0.0f);
    gf_activation_destroy(s);
    gf_activation_destroy(sp);
    gf_activation_destroy(g);
}

/* ---- known values ---- */

static void test_sigmoid_of_zero_is_one_half(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_SIGMOID);
    assert_true(apply1(a, 0.0f) == 0.5f);
    assert_true(deriv1(a, 0.0f) == 0.25f);
    gf_activation_destroy(a);
}

static void test_selu_of_one_is_lambda(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_SELU);
    assert_float_equal(apply1(a, 1.0f), (float)SELU_LAMBDA, 1e-7);
    /* selu(-1) = lambda * alpha * (e^-1 - 1) */
    assert_float_equal(apply1(a, -1.0f), (float)(SELU_LAMBDA * 1.6732632423543772 * expm1(-1.0)), 1e-6);
    gf_activation_destroy(a);
}

static void test_gelu_of_one_is_phi_of_one(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_GELU);
    assert_float_equal(apply1(a, 1.0f), 0.8413447f, 1e-6);
    /* gelu'(1) = Phi(1) + phi(1) = 0.8413447 + 0.2419707 */
    assert_float_equal(deriv1(a, 1.0f), 1.0833154f, 1e-6);
    gf_activation_destroy(a);
}

static void test_softplus_of_zero_is_log_two(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_SOFTPLUS);
    assert_float_equal(apply1(a, 0.0f), 0.6931472f, 1e-7);
    assert_true(deriv1(a, 0.0f) == 0.5f);
    gf_activation_destroy(a);
}

static void test_tanh_relu_and_identity_known_values(void **state)
{
    (void)state;
    gf_activation *t = make(GF_ACT_TANH), *r = make(GF_ACT_RELU), *id = make(GF_ACT_IDENTITY);
    assert_float_equal(apply1(t, 0.5f), 0.46211716f, 1e-7);
    assert_true(apply1(r, -3.0f) == 0.0f);
    assert_true(apply1(r, 3.0f) == 3.0f);
    assert_true(apply1(id, -7.25f) == -7.25f);
    assert_true(deriv1(id, -7.25f) == 1.0f);
    gf_activation_destroy(t);
    gf_activation_destroy(r);
    gf_activation_destroy(id);
}

static void test_leaky_relu_uses_its_slope(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_LEAKY_RELU);
    assert_float_equal(apply1(a, -2.0f), -0.02f, 1e-8);
    assert_float_equal(deriv1(a, -2.0f), 0.01f, 1e-8);
    assert_int_equal(gf_activation_set(a, GF_ACT_PARAM_SLOPE, 0.2), GF_OK);
    assert_float_equal(apply1(a, -2.0f), -0.4f, 1e-7);
    assert_float_equal(deriv1(a, -2.0f), 0.2f, 1e-7);
    gf_activation_destroy(a);
}

static void test_elu_uses_its_alpha(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_ELU);
    assert_float_equal(apply1(a, -1.0f), (float)expm1(-1.0), 1e-7);
    assert_int_equal(gf_activation_set(a, GF_ACT_PARAM_ALPHA, 2.0), GF_OK);
    assert_float_equal(apply1(a, -1.0f), (float)(2.0 * expm1(-1.0)), 1e-7);
    assert_float_equal(apply1(a, -1e4f), -2.0f, 1e-7);
    gf_activation_destroy(a);
}

static void test_apply_works_in_place(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_RELU);
    float x[] = {-1.0f, 2.0f, -3.0f, 4.0f};
    assert_int_equal(gf_activation_apply(a, x, x, 4), GF_OK);
    assert_true(x[0] == 0.0f && x[1] == 2.0f && x[2] == 0.0f && x[3] == 4.0f);
    gf_activation_destroy(a);
}

/* ---- parameters ---- */

static void test_defaults_are_slope_0_01_and_alpha_1(void **state)
{
    (void)state;
    gf_activation *leaky = make(GF_ACT_LEAKY_RELU), *elu = make(GF_ACT_ELU);
    double v = 0.0;
    assert_int_equal(gf_activation_get(leaky, GF_ACT_PARAM_SLOPE, &v), GF_OK);
    assert_true(v == 0.01);
    assert_int_equal(gf_activation_get(elu, GF_ACT_PARAM_ALPHA, &v), GF_OK);
    assert_true(v == 1.0);
    gf_activation_destroy(leaky);
    gf_activation_destroy(elu);
}

static void test_set_then_get_round_trips(void **state)
{
    (void)state;
    gf_activation *leaky = make(GF_ACT_LEAKY_RELU);
    double v = 0.0;
    assert_int_equal(gf_activation_set(leaky, GF_ACT_PARAM_SLOPE, 0.0), GF_OK);
    assert_int_equal(gf_activation_get(leaky, GF_ACT_PARAM_SLOPE, &v), GF_OK);
    assert_true(v == 0.0);
    gf_activation_destroy(leaky);
}

static void test_set_rejects_a_parameter_of_another_kind(void **state)
{
    (void)state;
    gf_activation *leaky = make(GF_ACT_LEAKY_RELU), *elu = make(GF_ACT_ELU), *relu = make(GF_ACT_RELU);
    double v = 0.0;
    assert_int_equal(gf_activation_set(leaky, GF_ACT_PARAM_ALPHA, 0.5), GF_ERR_INVALID);
    assert_int_equal(gf_activation_set(elu, GF_ACT_PARAM_SLOPE, 0.5), GF_ERR_INVALID);
    assert_int_equal(gf_activation_set(relu, GF_ACT_PARAM_SLOPE, 0.5), GF_ERR_INVALID);
    assert_int_equal(gf_activation_get(relu, GF_ACT_PARAM_SLOPE, &v), GF_ERR_INVALID);
    assert_int_equal(gf_activation_get(leaky, GF_ACT_PARAM_SLOPE, &v), GF_OK);
    assert_true(v == 0.01);
    assert_int_equal(gf_activation_get(elu, GF_ACT_PARAM_ALPHA, &v), GF_OK);
    assert_true(v == 1.0);
    assert_non_null(strstr(gf_last_error(), "gf_activation_get"));
    gf_activation_destroy(leaky);
    gf_activation_destroy(elu);
    gf_activation_destroy(relu);
}

static void test_set_rejects_out_of_domain_values_and_keeps_the_old_one(void **state)
{
    (void)state;
    gf_activation *leaky = make(GF_ACT_LEAKY_RELU), *elu = make(GF_ACT_ELU);
    double v = 0.0;
    assert_int_equal(gf_activation_set(leaky, GF_ACT_PARAM_SLOPE, -0.1), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "gf_activation_set"));
    assert_int_equal(gf_activation_set(leaky, GF_ACT_PARAM_SLOPE, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_activation_set(leaky, GF_ACT_PARAM_SLOPE, INFINITY), GF_ERR_INVALID);
    assert_int_equal(gf_activation_set(elu, GF_ACT_PARAM_ALPHA, 0.0), GF_ERR_INVALID);
    assert_int_equal(gf_activation_set(elu, GF_ACT_PARAM_ALPHA, -1.0), GF_ERR_INVALID);
    assert_int_equal(gf_activation_set(elu, GF_ACT_PARAM_ALPHA, -INFINITY), GF_ERR_INVALID);
    assert_int_equal(gf_activation_get(leaky, GF_ACT_PARAM_SLOPE, &v), GF_OK);
    assert_true(v == 0.01);
    assert_int_equal(gf_activation_get(elu, GF_ACT_PARAM_ALPHA, &v), GF_OK);
    assert_true(v == 1.0);
    gf_activation_destroy(leaky);
    gf_activation_destroy(elu);
}

static void test_set_and_get_reject_unknown_parameter(void **state)
{
    (void)state;
    gf_activation *leaky = make(GF_ACT_LEAKY_RELU);
    double v = 42.0;
    assert_int_equal(gf_activation_set(leaky, 7, 0.1), GF_ERR_INVALID);
    assert_int_equal(gf_activation_get(leaky, -1, &v), GF_ERR_INVALID);
    assert_true(v == 42.0);
    gf_activation_destroy(leaky);
}

/* ---- handle and argument checks ---- */

static void test_create_rejects_unknown_kind_and_null_out(void **state)
{
    (void)state;
    gf_activation *a = (gf_activation *)(uintptr_t)0x1;
    assert_int_equal(gf_activation_create(&a, -1), GF_ERR_INVALID);
    assert_int_equal(gf_activation_create(&a, NKINDS), GF_ERR_INVALID);
    assert_ptr_equal(a, (gf_activation *)(uintptr_t)0x1);
    assert_int_equal(gf_activation_create(NULL, GF_ACT_RELU), GF_ERR_NULL);
    assert_non_null(strstr(gf_last_error(), "gf_activation_create"));
}

static void test_kind_reports_the_created_kind_and_minus_one_for_null(void **state)
{
    (void)state;
    for (int32_t k = 0; k < NKINDS; k++) {
        gf_activation *a = make(k);
        assert_int_equal(gf_activation_kind(a), k);
        gf_activation_destroy(a);
    }
    assert_int_equal(gf_activation_kind(NULL), -1);
}

static void test_destroy_null_is_a_no_op(void **state)
{
    (void)state;
    int64_t live = gf_live_allocations();
    gf_activation_destroy(NULL);
    assert_int_equal(gf_live_allocations(), live);
}

static void test_null_arguments_return_err_null(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_TANH);
    float x = 1.0f, y = 5.0f;
    double v;
    assert_int_equal(gf_activation_apply(NULL, &x, &y, 1), GF_ERR_NULL);
    assert_int_equal(gf_activation_apply(a, NULL, &y, 1), GF_ERR_NULL);
    assert_int_equal(gf_activation_apply(a, &x, NULL, 1), GF_ERR_NULL);
    assert_int_equal(gf_activation_derivative(a, NULL, &y, 1), GF_ERR_NULL);
    assert_int_equal(gf_activation_derivative(a, &x, NULL, 1), GF_ERR_NULL);
    assert_int_equal(gf_activation_set(NULL, GF_ACT_PARAM_SLOPE, 0.1), GF_ERR_NULL);
    assert_int_equal(gf_activation_get(NULL, GF_ACT_PARAM_SLOPE, &v), GF_ERR_NULL);
    assert_int_equal(gf_activation_get(a, GF_ACT_PARAM_SLOPE, NULL), GF_ERR_NULL);
    assert_true(y == 5.0f);
    gf_activation_destroy(a);
}

static void test_empty_input_is_accepted_with_null_buffers(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_SIGMOID);
    assert_int_equal(gf_activation_apply(a, NULL, NULL, 0), GF_OK);
    assert_int_equal(gf_activation_derivative(a, NULL, NULL, 0), GF_OK);
    gf_activation_destroy(a);
}

static void test_nonfinite_input_is_refused_and_output_untouched(void **state)
{
    (void)state;
    gf_activation *a = make(GF_ACT_SIGMOID);
    float x[] = {0.0f, NAN, 1.0f}, y[] = {7.0f, 7.0f, 7.0f};
    assert_int_equal(gf_activation_apply(a, x, y, 3), GF_ERR_NONFINITE);
    x[1] = INFINITY;
    assert_int_equal(gf_activation_derivative(a, x, y, 3), GF_ERR_NONFINITE);
    assert_true(y[0] == 7.0f && y[1] == 7.0f && y[2] == 7.0f);
    assert_non_null(strstr(gf_last_error(), "gf_activation_derivative"));
    gf_activation_destroy(a);
}

static void test_wrong_handle_kind_is_err_kind(void **state)
{
    (void)state;
    gf_init *init = NULL;
    assert_int_equal(gf_init_create(&init, GF_INIT_ZEROS), GF_OK);
    gf_activation *wrong = (gf_activation *)(void *)init;
    float x = 1.0f, y = 0.0f;
    double v;
    assert_int_equal(gf_activation_apply(wrong, &x, &y, 1), GF_ERR_KIND);
    assert_int_equal(gf_activation_set(wrong, GF_ACT_PARAM_SLOPE, 0.1), GF_ERR_KIND);
    assert_int_equal(gf_activation_get(wrong, GF_ACT_PARAM_SLOPE, &v), GF_ERR_KIND);
    assert_int_equal(gf_activation_kind(wrong), -1);
    gf_init_destroy(init);
}

static int64_t fail_after; /* allocations allowed before failing */
static void *failing_malloc(void *u, size_t n)
{
    (void)u;
    return fail_after-- > 0 ? malloc(n) : NULL;
}
static void *plain_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void plain_free(void *u, void *p) { (void)u; free(p); }

static void test_create_reports_nomem_when_allocation_fails(void **state)
{
    (void)state;
    fail_after = 0;
    assert_int_equal(gf_set_allocator(failing_malloc, plain_realloc, plain_free, NULL), GF_OK);
    gf_activation *a = NULL;
    int rc = gf_activation_create(&a, GF_ACT_RELU);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(rc, GF_ERR_NOMEM);
    assert_null(a);
}

/* ---- names and families ---- */

static void test_names_are_stable_and_unknown_is_question_mark(void **state)
{
    (void)state;
    static const char *const want[NKINDS] = {"identity", "sigmoid", "tanh",     "relu", "leaky_relu",
                                             "elu",      "selu",    "softplus", "gelu"};
    for (int32_t k = 0; k < NKINDS; k++)
        assert_string_equal(gf_activation_name(k), want[k]);
    assert_string_equal(gf_activation_name(NKINDS), "?");
    assert_string_equal(gf_activation_name(-1), "?");
}

static void test_families_classify_relu_and_saturating_kinds(void **state)
{
    (void)state;
    for (int32_t k = 0; k < NKINDS; k++) {
        assert_true(gfi_act_kind_valid(k));
        assert_int_equal(gfi_act_is_relu_family(k), k == GF_ACT_RELU || k == GF_ACT_LEAKY_RELU);
        assert_int_equal(gfi_act_is_saturating(k), k == GF_ACT_SIGMOID || k == GF_ACT_TANH);
    }
    assert_false(gfi_act_kind_valid(NKINDS));
    assert_false(gfi_act_kind_valid(-1));
}

static void test_parameters_outside_float_range_are_refused(void **state)
{
    (void)state;
    gf_activation *a;
    assert_int_equal(gf_activation_create(&a, GF_ACT_LEAKY_RELU), GF_OK);
    assert_int_equal(gf_activation_set(a, GF_ACT_PARAM_SLOPE, 1e300), GF_ERR_INVALID);
    double v;
    assert_int_equal(gf_activation_get(a, GF_ACT_PARAM_SLOPE, &v), GF_OK);
    assert_true(v == 0.01);
    gf_activation_destroy(a);
}

/* A negative count converted to size_t ((size_t)-1) reached the vector kernels as -1 and crashed: a count of
 * more floats than an array can hold is GF_ERR_OVERFLOW, before either array is touched. */
static void test_a_count_beyond_any_array_is_refused_as_overflow(void **state)
{
    (void)state;
    gf_activation *a;
    assert_int_equal(gf_activation_create(&a, GF_ACT_RELU), GF_OK);
    float x[4] = {1, -1, 2, -2}, y[4] = {7, 7, 7, 7};
    assert_int_equal(gf_activation_apply(a, x, y, (size_t)-1), GF_ERR_OVERFLOW);
    assert_int_equal(gf_activation_derivative(a, x, y, (size_t)PTRDIFF_MAX / sizeof(float) + 1), GF_ERR_OVERFLOW);
    for (int i = 0; i < 4; i++)
        assert_true(y[i] == 7.0f);
    gf_activation_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_derivative_matches_central_difference_for_every_kind),
        cmocka_unit_test(test_derivative_matches_central_difference_with_custom_parameters),
        cmocka_unit_test(test_relu_derivative_at_zero_is_zero),
        cmocka_unit_test(test_backward_is_upstream_times_derivative_with_and_without_output),
        cmocka_unit_test(test_dense_backward_of_elu_and_selu_is_derivative_times_upstream_far_below_zero),
        cmocka_unit_test(test_conv2d_backward_of_elu_and_selu_is_derivative_times_upstream_far_below_zero),
        cmocka_unit_test(test_rnn_backward_of_elu_and_selu_is_derivative_times_upstream_far_below_zero),
        cmocka_unit_test(test_outputs_and_derivatives_are_finite_at_plus_minus_1e4),
        cmocka_unit_test(test_saturating_kinds_reach_their_limits_at_plus_minus_1e4),
        cmocka_unit_test(test_sigmoid_of_zero_is_one_half),
        cmocka_unit_test(test_selu_of_one_is_lambda),
        cmocka_unit_test(test_gelu_of_one_is_phi_of_one),
        cmocka_unit_test(test_softplus_of_zero_is_log_two),
        cmocka_unit_test(test_tanh_relu_and_identity_known_values),
        cmocka_unit_test(test_leaky_relu_uses_its_slope),
        cmocka_unit_test(test_elu_uses_its_alpha),
        cmocka_unit_test(test_apply_works_in_place),
        cmocka_unit_test(test_defaults_are_slope_0_01_and_alpha_1),
        cmocka_unit_test(test_set_then_get_round_trips),
        cmocka_unit_test(test_set_rejects_a_parameter_of_another_kind),
        cmocka_unit_test(test_set_rejects_out_of_domain_values_and_keeps_the_old_one),
        cmocka_unit_test(test_set_and_get_reject_unknown_parameter),
        cmocka_unit_test(test_create_rejects_unknown_kind_and_null_out),
        cmocka_unit_test(test_kind_reports_the_created_kind_and_minus_one_for_null),
        cmocka_unit_test(test_destroy_null_is_a_no_op),
        cmocka_unit_test(test_null_arguments_return_err_null),
        cmocka_unit_test(test_empty_input_is_accepted_with_null_buffers),
        cmocka_unit_test(test_nonfinite_input_is_refused_and_output_untouched),
        cmocka_unit_test(test_wrong_handle_kind_is_err_kind),
        cmocka_unit_test(test_create_reports_nomem_when_allocation_fails),
        cmocka_unit_test(test_names_are_stable_and_unknown_is_question_mark),
        cmocka_unit_test(test_families_classify_relu_and_saturating_kinds),
        cmocka_unit_test(test_parameters_outside_float_range_are_refused),
        cmocka_unit_test(test_a_count_beyond_any_array_is_refused_as_overflow),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (gf_live_allocations() != 0) {
        print_error("leak: %lld live allocations\n", (long long)gf_live_allocations());
        return 1;
    }
    return rc;
}
