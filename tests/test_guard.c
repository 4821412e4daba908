/* test_guard.c — GF_DIAG_GUARD: a step that would make weights or optimizer state non-finite is refused with
 * GF_ERR_GUARD, leaves weights, moments and the step count bit-identical, and names the origin. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "gradflow.h"

/* 2 -> 3 (tanh) -> 2 (identity), Adam, hand-set weights. */
static gf_net *adam_net(void)
{
    gf_net *net;
    gf_layer *l0, *l1;
    assert_int_equal(gf_net_create(&net, 2, 5), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_TANH, &l0), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, &l1), GF_OK);
    const float w0[6] = {0.5f, -0.25f, 0.1f, 0.75f, -1.0f, 0.5f}, b0[3] = {0.1f, 0.0f, -0.2f};
    const float w1[6] = {1.5f, -0.5f, 0.25f, 0.3f, 0.2f, -0.8f}, b1[2] = {0.2f, -0.1f};
    assert_int_equal(gf_layer_set_weights(l0, w0, 6), GF_OK);
    assert_int_equal(gf_layer_set_bias(l0, b0, 3), GF_OK);
    assert_int_equal(gf_layer_set_weights(l1, w1, 6), GF_OK);
    assert_int_equal(gf_layer_set_bias(l1, b1, 2), GF_OK);
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    return net;
}

static gf_diag *guard_of(gf_net *net)
{
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_GUARD, 1), GF_OK);
    return d;
}

static const float gx[4] = {1.0f, 2.0f, -0.5f, 1.5f}, gt[4] = {0.5f, -0.5f, 1.0f, 0.0f};

static int step(gf_net *net) { return gf_net_train_step(net, gx, 4, gt, 4, 2, NULL); }

/* Every parameter of the net, for bitwise comparison. */
static void params_of(gf_net *net, float *dst)
{
    for (int32_t i = 0; i < 2; i++) {
        gf_layer *l = gf_net_layer(net, i);
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
        assert_int_equal(gf_layer_get_weights(l, dst, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias(l, dst + nw, nb), GF_OK);
        dst += nw + nb;
    }
}

#define NP 17 /* 6 + 3 + 6 + 2 */

static void test_refused_adam_step_keeps_weights_moments_and_step_count_bit_identical(void **state)
{
    (void)state;
    gf_net *net = adam_net(), *fresh = adam_net();
    gf_diag *d = guard_of(net);
    assert_int_equal(step(net), GF_OK);
    assert_int_equal(step(fresh), GF_OK);
    float before[NP], after[NP];
    params_of(net, before);
    /* the largest float lr: lr / (1 - beta1^t) overflows, the update becomes infinite */
    gf_optimizer *o = gf_net_optimizer(net);
    assert_int_equal(gf_optimizer_set(o, GF_OPT_LR, 3e38), GF_OK);
    assert_int_equal(step(net), GF_ERR_GUARD);
    params_of(net, after);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(gf_optimizer_steps(o), 1);
    assert_int_equal(gf_net_steps(net), 1);
    /* the moments are intact iff the next identical step matches a run that never saw the refused one */
    assert_int_equal(gf_optimizer_set(o, GF_OPT_LR, 0.01), GF_OK);
    assert_int_equal(step(net), GF_OK);
    assert_int_equal(step(fresh), GF_OK);
    float a[NP], b[NP];
    params_of(net, a);
    params_of(fresh, b);
    assert_memory_equal(a, b, sizeof a);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    gf_net_destroy(fresh);
}

static void test_refused_update_names_the_update_as_origin(void **state)
{
    (void)state;
    gf_net *net = adam_net();
    gf_diag *d = guard_of(net);
    assert_int_equal(gf_optimizer_set(gf_net_optimizer(net), GF_OPT_LR, 3e38), GF_OK);
    assert_int_equal(step(net), GF_ERR_GUARD);
    int32_t found, layer, phase, tensor;
    int64_t at;
    assert_int_equal(gf_diag_origin(d, &found, &at, &layer, &phase, &tensor), GF_OK);
    assert_int_equal(found, 1);
    assert_int_equal(at, 0);
    assert_int_equal(layer, 0);
    assert_int_equal(phase, GF_PHASE_UPDATE);
    assert_int_equal(tensor, GF_TENSOR_WEIGHT);
    assert_non_null(strstr(gf_net_last_error(net), "update"));
    assert_non_null(strstr(gf_net_last_error(net), "layer 0"));
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* 2 -> 2 (identity) -> 1 whose pre-activation overflows: the gradients become NaN/Inf. */
static gf_net *overflow_net(void)
{
    gf_net *net;
    gf_layer *l0, *l1;
    assert_int_equal(gf_net_create(&net, 2, 5), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, &l0), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, &l1), GF_OK);
    const float w0[4] = {1, 0, 0, 1}, b0[2] = {0, 0}, w1[2] = {3e38f, 3e38f}, b1[1] = {0};
    assert_int_equal(gf_layer_set_weights(l0, w0, 4), GF_OK);
    assert_int_equal(gf_layer_set_bias(l0, b0, 2), GF_OK);
    assert_int_equal(gf_layer_set_weights(l1, w1, 2), GF_OK);
    assert_int_equal(gf_layer_set_bias(l1, b1, 1), GF_OK);
    return net;
}

static const float ox[2] = {1, 1}, ot[1] = {0};

static void test_non_finite_gradients_are_refused_with_a_message_naming_the_origin(void **state)
{
    (void)state;
    gf_net *net = overflow_net();
    gf_diag *d = guard_of(net);
    float before[7], after[7];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 1), before, 2), GF_OK);
    assert_int_equal(gf_net_train_step(net, ox, 2, ot, 1, 1, NULL), GF_ERR_GUARD);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 1), after, 2), GF_OK);
    assert_memory_equal(before, after, 2 * sizeof(float));
    assert_int_equal(gf_net_steps(net), 0);
    const char *msg = gf_net_last_error(net);
    assert_non_null(strstr(msg, "layer 1"));
    assert_non_null(strstr(msg, "forward"));
    assert_non_null(strstr(msg, "pre_activation"));
    assert_string_equal(gf_last_error(), msg);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_guard_refuses_before_clipping_would_report_nonfinite(void **state)
{
    (void)state;
    gf_net *net = overflow_net();
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_NORM, 1.0), GF_OK);
    gf_diag *d = guard_of(net);
    assert_int_equal(gf_net_train_step(net, ox, 2, ot, 1, 1, NULL), GF_ERR_GUARD);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_gf_net_step_alone_is_guarded(void **state)
{
    (void)state;
    gf_net *net = overflow_net();
    gf_diag *d = guard_of(net);
    assert_int_equal(gf_net_forward(net, ox, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, ot, 1, NULL), GF_OK);
    assert_int_equal(gf_net_step(net), GF_ERR_GUARD);
    assert_non_null(strstr(gf_net_last_error(net), "gf_net_step"));
    assert_int_equal(gf_net_steps(net), 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_guard_also_protects_steps_that_every_skips(void **state)
{
    (void)state;
    gf_net *net = adam_net();
    gf_diag *d = guard_of(net);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_EVERY, 100), GF_OK);
    assert_int_equal(step(net), GF_OK); /* observed */
    float before[NP], after[NP];
    params_of(net, before);
    assert_int_equal(gf_optimizer_set(gf_net_optimizer(net), GF_OPT_LR, 3e38), GF_OK);
    assert_int_equal(step(net), GF_ERR_GUARD); /* not observed, still guarded */
    params_of(net, after);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(gf_diag_steps(d), 1);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_without_the_guard_a_non_finite_step_is_applied_and_its_origin_kept(void **state)
{
    (void)state;
    gf_net *net = adam_net();
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_optimizer_set(gf_net_optimizer(net), GF_OPT_LR, 3e38), GF_OK);
    assert_int_equal(step(net), GF_OK);
    assert_int_equal(gf_net_steps(net), 1);
    float p[NP];
    params_of(net, p);
    int bad = 0;
    for (int i = 0; i < NP; i++)
        bad += !isfinite(p[i]);
    assert_true(bad > 0);
    int32_t found, phase;
    assert_int_equal(gf_diag_origin(d, &found, NULL, NULL, &phase, NULL), GF_OK);
    assert_int_equal(found, 1);
    assert_int_equal(phase, GF_PHASE_UPDATE);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_guard_off_while_the_diag_is_disabled(void **state)
{
    (void)state;
    gf_net *net = adam_net();
    gf_diag *d = guard_of(net);
    assert_int_equal(gf_diag_enable(d, 0), GF_OK);
    assert_int_equal(gf_optimizer_set(gf_net_optimizer(net), GF_OPT_LR, 3e38), GF_OK);
    assert_int_equal(step(net), GF_OK);
    assert_int_equal(gf_diag_steps(d), 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_fit_stops_at_a_refused_step(void **state)
{
    (void)state;
    gf_net *net = adam_net();
    gf_diag *d = guard_of(net);
    assert_int_equal(gf_optimizer_set(gf_net_optimizer(net), GF_OPT_LR, 3e38), GF_OK);
    assert_int_equal(gf_net_fit(net, gx, 4, gt, 4, 2, 2, 3, NULL, NULL, NULL), GF_ERR_GUARD);
    assert_int_equal(gf_net_steps(net), 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refused_adam_step_keeps_weights_moments_and_step_count_bit_identical),
        cmocka_unit_test(test_refused_update_names_the_update_as_origin),
        cmocka_unit_test(test_non_finite_gradients_are_refused_with_a_message_naming_the_origin),
        cmocka_unit_test(test_guard_refuses_before_clipping_would_report_nonfinite),
        cmocka_unit_test(test_gf_net_step_alone_is_guarded),
        cmocka_unit_test(test_guard_also_protects_steps_that_every_skips),
        cmocka_unit_test(test_without_the_guard_a_non_finite_step_is_applied_and_its_origin_kept),
        cmocka_unit_test(test_guard_off_while_the_diag_is_disabled),
        cmocka_unit_test(test_fit_stops_at_a_refused_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
