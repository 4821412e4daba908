/* test_shaped_nets.c — nets over sequences and images: gradients of dense-per-step and flatten against
 * central differences, and the diagnostics' unit view and per-time-step series on them.
 *
 * Gradient checks use tests/gradcheck.h: step 1e-2 on the float net, loss in double from
 * gf_net_evaluate, norm-wise relative error below 1e-2 per parameter block and for the input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gradflow.h"
#include "unit_span.h"

#include "gradcheck.h"

static gf_net *shaped(int32_t kind, const int64_t *dims, int32_t rank)
{
    gf_net *net;
    assert_int_equal(gf_net_create_shaped(&net, kind, dims, rank, 3), GF_OK);
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    return net;
}

static void test_dense_per_step_then_flatten_gradients_match_differences(void **state)
{
    (void)state;
    const int64_t d[2] = {5, 3};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    float x[45], t[6];
    gc_fill(x, 45);
    gc_fill(t, 6);
    gc_check_net(net, x, 45, t, 6, 3);
    gf_net_destroy(net);
}

static void test_sequence_to_sequence_dense_gradients_match_differences(void **state)
{
    (void)state;
    const int64_t d[2] = {6, 2};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_SIGMOID, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    float x[24], t[24];
    gc_fill(x, 24);
    gc_fill(t, 24);
    gc_check_net(net, x, 24, t, 24, 2);
    gf_net_destroy(net);
}

static void test_image_flatten_dense_gradients_match_differences(void **state)
{
    (void)state;
    const int64_t d[3] = {2, 3, 3};
    gf_net *net = shaped(GF_SHAPE_IMAGE, d, 3);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    float x[36], t[4];
    gc_fill(x, 36);
    gc_fill(t, 4);
    gc_check_net(net, x, 36, t, 4, 2);
    gf_net_destroy(net);
}

/* ---- diagnostics ---- */

static gf_diag *observe(gf_net *net)
{
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_enable(d, 1), GF_OK);
    return d;
}

/* Unit 0 is zero at every step, unit 1 is on at the last step only, unit 2
 * at every step: one unit of three is dead (counting (step, unit) positions
 * would say 5 of 9). */
static void test_a_unit_is_dead_only_when_off_at_every_time_step(void **state)
{
    (void)state;
    const int64_t d[2] = {3, 2};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, &l), GF_OK);
    const float w[6] = {0, 0, 1, 0, 0, 0}, b[3] = {-1, 0, 1};
    assert_int_equal(gf_layer_set_weights(l, w, 6), GF_OK);
    assert_int_equal(gf_layer_set_bias(l, b, 3), GF_OK);
    gf_diag *dg = observe(net);
    const float x[12] = {-1, 0, -1, 0, 1, 0, /* sample 2 */ -2, 5, -3, 5, 2, 5};
    float t[18] = {0};
    train_to_32_values(net, x, 12, t, 18, 2, 6);
    double dead;
    assert_int_equal(gf_diag_value(dg, 0, GF_STAT_DEAD_FRAC, &dead), GF_OK);
    assert_true(fabs(dead - 1.0 / 3.0) < 1e-12);
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

static void test_a_unit_saturated_at_every_step_counts_as_saturated(void **state)
{
    (void)state;
    const int64_t d[2] = {4, 1};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_SIGMOID, &l), GF_OK);
    const float w[2] = {0, 1}, b[2] = {20, 0};
    assert_int_equal(gf_layer_set_weights(l, w, 2), GF_OK);
    assert_int_equal(gf_layer_set_bias(l, b, 2), GF_OK);
    gf_diag *dg = observe(net);
    const float x[4] = {0.5f, -0.5f, 0.25f, 1};
    float t[8] = {0};
    train_to_32_values(net, x, 4, t, 8, 1, 4);
    double sat;
    assert_int_equal(gf_diag_value(dg, 0, GF_STAT_SATURATED_FRAC, &sat), GF_OK);
    assert_true(fabs(sat - 0.5) < 1e-12);
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

static void test_diagnostics_observe_every_layer_of_an_image_net(void **state)
{
    (void)state;
    const int64_t d[3] = {1, 4, 4};
    gf_net *net = shaped(GF_SHAPE_IMAGE, d, 3);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 8, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_diag *dg = observe(net);
    float x[64], t[8];
    gc_fill(x, 64);
    gc_fill(t, 8);
    for (int s = 0; s < 3; s++)
        assert_int_equal(gf_net_train_step(net, x, 64, t, 8, 4, NULL), GF_OK);
    assert_int_equal(gf_diag_layer_count(dg), 3);
    for (int32_t i = 0; i < 3; i++) {
        double v;
        assert_int_equal(gf_diag_value(dg, i, GF_STAT_DELTA_PRE_NORM, &v), GF_OK);
        assert_true(isfinite(v) && v > 0);
        assert_int_equal(gf_diag_value(dg, i, GF_STAT_ACT_VAR, &v), GF_OK);
        assert_true(isfinite(v));
    }
    double flat_in, dense_pre;
    /* flatten passes the gradient through unchanged: its delta is the next layer's input delta */
    assert_int_equal(gf_diag_value(dg, 0, GF_STAT_DELTA_PRE_NORM, &flat_in), GF_OK);
    assert_int_equal(gf_diag_value(dg, 1, GF_STAT_DELTA_IN_NORM, &dense_pre), GF_OK);
    assert_true(fabs(flat_in - dense_pre) <= 1e-12 * fmax(1.0, dense_pre));
    char buf[8192];
    size_t need;
    assert_int_equal(gf_diag_report(dg, GF_REPORT_TEXT, buf, sizeof buf, &need), GF_OK);
    assert_non_null(strstr(buf, "flatten"));
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

/* A flatten layer has no weights, so no update ratio: the spread of update
 * ratios across depth must not call it vanishing. */
static void test_a_parameter_free_layer_is_not_judged_by_its_update_ratio(void **state)
{
    (void)state;
    const int64_t d[3] = {1, 8, 8};
    gf_net *net = shaped(GF_SHAPE_IMAGE, d, 3);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, 32, GF_ACT_RELU, &l), GF_OK);
    gf_init *he;
    assert_int_equal(gf_init_create(&he, GF_INIT_HE_NORMAL), GF_OK);
    assert_int_equal(gf_layer_set_weight_init(l, he), GF_OK);
    gf_init_destroy(he);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_optimizer *adam;
    assert_int_equal(gf_optimizer_create(&adam, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, adam), GF_OK);
    gf_diag *dg = observe(net);
    static float x[64 * 64], t[64 * 4];
    gc_fill(x, 64 * 64);
    gc_fill(t, 64 * 4);
    for (int s = 0; s < 20; s++)
        assert_int_equal(gf_net_train_step(net, x, 64 * 64, t, 64 * 4, 64, NULL), GF_OK);
    int32_t v;
    assert_int_equal(gf_diag_verdict(dg, 0, &v), GF_OK);
    assert_int_equal(v, GF_VERDICT_HEALTHY);
    assert_int_equal(gf_diag_verdict(dg, -1, &v), GF_OK);
    assert_int_equal(v, GF_VERDICT_HEALTHY);
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

/* ---- the per-time-step series ---- */

static void test_time_series_gives_the_gradient_norm_at_every_step(void **state)
{
    (void)state;
    const int64_t d[2] = {3, 2};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, NULL), GF_OK);
    gf_diag *dg = observe(net);
    float x[12], gy[12];
    gc_fill(x, 12);
    for (int i = 0; i < 12; i++)
        gy[i] = (float)(i % 4) - 1.5f;
    assert_int_equal(gf_net_forward(net, x, 12, 2, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward_from(net, gy, 12), GF_OK);
    double s[3];
    int64_t n = -1;
    assert_int_equal(gf_diag_series(dg, 0, GF_SERIES_DELTA_TIME_NORM, s, 3, &n), GF_OK);
    assert_int_equal(n, 3);
    for (int t = 0; t < 3; t++) {
        double want = 0;
        for (int b = 0; b < 2; b++)
            for (int o = 0; o < 2; o++)
                want += (double)gy[(b * 3 + t) * 2 + o] * gy[(b * 3 + t) * 2 + o];
        assert_true(fabs(s[t] - sqrt(want)) < 1e-9);
    }
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

static void test_time_series_is_empty_before_an_observed_backward(void **state)
{
    (void)state;
    const int64_t d[2] = {3, 2};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, NULL), GF_OK);
    gf_diag *dg;
    assert_int_equal(gf_diag_create(&dg, net), GF_OK);
    int64_t n = -1;
    assert_int_equal(gf_diag_series_length(dg, 0, GF_SERIES_DELTA_TIME_NORM, &n), GF_OK);
    assert_int_equal(n, 0);
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

static void test_series_refuses_a_layer_without_it_and_a_short_buffer(void **state)
{
    (void)state;
    const int64_t d[2] = {4, 2};
    gf_net *net = shaped(GF_SHAPE_SEQUENCE, d, 2);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_diag *dg = observe(net);
    float x[8], t[1] = {0.5f};
    gc_fill(x, 8);
    assert_int_equal(gf_net_train_step(net, x, 8, t, 1, 1, NULL), GF_OK);
    int64_t n = -1;
    double s[4];
    assert_int_equal(gf_diag_series_length(dg, 2, GF_SERIES_DELTA_TIME_NORM, &n), GF_ERR_RANGE);
    assert_int_equal(gf_diag_series_length(dg, 1, GF_SERIES_DELTA_TIME_NORM, &n), GF_ERR_RANGE);
    assert_int_equal(gf_diag_series_length(dg, 0, 77, &n), GF_ERR_RANGE);
    assert_int_equal(gf_diag_series_length(dg, 3, GF_SERIES_DELTA_TIME_NORM, &n), GF_ERR_RANGE);
    assert_int_equal(gf_diag_series(dg, 0, GF_SERIES_DELTA_TIME_NORM, s, 3, &n), GF_ERR_BUFFER);
    assert_int_equal(n, 4);
    assert_int_equal(gf_diag_series(dg, 0, GF_SERIES_DELTA_TIME_NORM, NULL, 3, &n), GF_ERR_NULL);
    assert_int_equal(gf_diag_series_length(dg, 0, GF_SERIES_DELTA_TIME_NORM, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_series_length(NULL, 0, GF_SERIES_DELTA_TIME_NORM, &n), GF_ERR_NULL);
    gf_diag_destroy(dg);
    gf_net_destroy(net);
}

/* Threads split dense-per-step products like any other: bit-identical results. */
static void test_a_sequence_net_trains_identically_on_two_threads(void **state)
{
    (void)state;
    const int64_t d[2] = {8, 16};
    gf_net *a = shaped(GF_SHAPE_SEQUENCE, d, 2), *b = shaped(GF_SHAPE_SEQUENCE, d, 2);
    gf_net *nets[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        assert_int_equal(gf_net_add_dense(nets[k], 32, GF_ACT_RELU, NULL), GF_OK);
        assert_int_equal(gf_net_add_flatten(nets[k], NULL), GF_OK);
        assert_int_equal(gf_net_add_dense(nets[k], 3, GF_ACT_IDENTITY, NULL), GF_OK);
    }
    assert_int_equal(gf_net_set_threads(b, 2), GF_OK);
    static float x[16 * 128], t[16 * 3];
    gc_fill(x, 16 * 128);
    gc_fill(t, 16 * 3);
    for (int s = 0; s < 3; s++) {
        assert_int_equal(gf_net_train_step(a, x, 16 * 128, t, 48, 16, NULL), GF_OK);
        assert_int_equal(gf_net_train_step(b, x, 16 * 128, t, 48, 16, NULL), GF_OK);
    }
    static float wa[32 * 16], wb[32 * 16];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(a, 0), wa, 32 * 16), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(b, 0), wb, 32 * 16), GF_OK);
    assert_memory_equal(wa, wb, sizeof wa);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_per_step_then_flatten_gradients_match_differences),
        cmocka_unit_test(test_sequence_to_sequence_dense_gradients_match_differences),
        cmocka_unit_test(test_image_flatten_dense_gradients_match_differences),
        cmocka_unit_test(test_a_unit_is_dead_only_when_off_at_every_time_step),
        cmocka_unit_test(test_a_unit_saturated_at_every_step_counts_as_saturated),
        cmocka_unit_test(test_diagnostics_observe_every_layer_of_an_image_net),
        cmocka_unit_test(test_a_parameter_free_layer_is_not_judged_by_its_update_ratio),
        cmocka_unit_test(test_time_series_gives_the_gradient_norm_at_every_step),
        cmocka_unit_test(test_time_series_is_empty_before_an_observed_backward),
        cmocka_unit_test(test_series_refuses_a_layer_without_it_and_a_short_buffer),
        cmocka_unit_test(test_a_sequence_net_trains_identically_on_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
