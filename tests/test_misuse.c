/* test_misuse.c — bad input gets its own error code and a message naming the problem, and changes nothing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"
#include "picky_alloc.h"

static gf_net *small_net(void)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 3), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    return net;
}

static void snapshot(gf_net *net, float *w)
{
    size_t off = 0;
    for (int32_t i = 0; i < gf_net_layer_count(net); i++) {
        gf_layer *l = gf_net_layer(net, i);
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
        assert_int_equal(gf_layer_get_weights(l, w + off, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias(l, w + off + nw, nb), GF_OK);
        off += nw + nb;
    }
}

static void assert_message_mentions(const char *needle)
{
    if (!strstr(gf_last_error(), needle))
        fail_msg("message \"%s\" does not mention \"%s\"", gf_last_error(), needle);
}

static void test_null_handles_return_err_null(void **state)
{
    (void)state;
    const float x[2] = {0};
    float y[1];
    assert_int_equal(gf_net_create(NULL, 2, 1), GF_ERR_NULL);
    assert_int_equal(gf_net_forward(NULL, x, 2, 1, y, 1), GF_ERR_NULL);
    assert_message_mentions("net is NULL");
    assert_int_equal(gf_net_add(NULL, NULL), GF_ERR_NULL);
    assert_int_equal(gf_net_step(NULL), GF_ERR_NULL);
    assert_int_equal(gf_layer_set_weights(NULL, x, 2), GF_ERR_NULL);
    assert_int_equal(gf_net_param_count(NULL), -1);
    assert_null(gf_net_layer(NULL, 0));
    gf_net *net = small_net();
    assert_int_equal(gf_net_forward(net, NULL, 2, 1, NULL, 0), GF_ERR_NULL);
    assert_message_mentions("x is NULL");
    gf_net_destroy(net);
}

static void test_destroy_null_is_a_no_op_for_every_handle(void **state)
{
    (void)state;
    gf_net_destroy(NULL);
    gf_layer_destroy(NULL);
    gf_activation_destroy(NULL);
    gf_init_destroy(NULL);
    gf_loss_destroy(NULL);
    gf_optimizer_destroy(NULL);
    gf_penalty_destroy(NULL);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_zero_sizes_are_invalid(void **state)
{
    (void)state;
    gf_net *net = NULL;
    gf_layer *l = NULL;
    assert_int_equal(gf_net_create(&net, 0, 1), GF_ERR_INVALID);
    assert_null(net);
    assert_int_equal(gf_layer_dense_create(&l, 0, 3), GF_ERR_INVALID);
    assert_int_equal(gf_layer_dense_create(&l, 3, -1), GF_ERR_INVALID);
    assert_null(l);
}

static void test_batch_of_zero_is_invalid(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float x[2] = {1, 2};
    assert_int_equal(gf_net_forward(net, x, 0, 0, NULL, 0), GF_ERR_INVALID);
    assert_message_mentions("batch");
    gf_net_destroy(net);
}

static void test_mismatched_input_count_is_a_shape_error(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float x[4] = {1, 2, 3, 4};
    assert_int_equal(gf_net_forward(net, x, 3, 2, NULL, 0), GF_ERR_SHAPE);
    assert_message_mentions("x has 3 values");
    gf_net_destroy(net);
}

static void test_mismatched_target_count_is_a_shape_error_and_weights_stay(void **state)
{
    (void)state;
    gf_net *net = small_net();
    float before[13], after[13];
    snapshot(net, before);
    const float x[4] = {1, 2, 3, 4}, t[3] = {0};
    assert_int_equal(gf_net_train_step(net, x, 4, t, 3, 2, NULL), GF_ERR_SHAPE);
    assert_message_mentions("target has 3 values");
    snapshot(net, after);
    assert_memory_equal(before, after, sizeof before);
    gf_net_destroy(net);
}

static void test_layer_of_wrong_width_is_refused(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 5, 2), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_ERR_SHAPE);
    assert_int_equal(gf_net_layer_count(net), 2);
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_weight_count_mismatch_is_a_shape_error(void **state)
{
    (void)state;
    gf_net *net = small_net();
    float w[7];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w, 7), GF_ERR_SHAPE);
    assert_message_mentions("6 values");
    gf_net_destroy(net);
}

static void test_nan_input_is_refused_and_weights_stay(void **state)
{
    (void)state;
    gf_net *net = small_net();
    float before[13], after[13];
    snapshot(net, before);
    const float x[2] = {1, NAN}, t[1] = {0};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_ERR_NONFINITE);
    assert_message_mentions("feature 1");
    snapshot(net, after);
    assert_memory_equal(before, after, sizeof before);
    gf_net_destroy(net);
}

static void test_infinite_target_is_refused_and_weights_stay(void **state)
{
    (void)state;
    gf_net *net = small_net();
    float before[13], after[13];
    snapshot(net, before);
    const float x[2] = {1, 2}, t[1] = {INFINITY};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_ERR_NONFINITE);
    snapshot(net, after);
    assert_memory_equal(before, after, sizeof before);
    gf_net_destroy(net);
}

static void test_nan_weights_are_refused(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float w[6] = {0, 0, NAN, 0, 0, 0};
    assert_int_equal(gf_layer_set_weights(gf_net_layer(net, 0), w, 6), GF_ERR_NONFINITE);
    gf_net_destroy(net);
}

static void test_backward_before_forward_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float t[1] = {0};
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_ERR_STATE);
    assert_message_mentions("gf_net_forward");
    gf_net_destroy(net);
}

static void test_step_before_backward_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net = small_net();
    assert_int_equal(gf_net_step(net), GF_ERR_STATE);
    gf_net_destroy(net);
}

static void test_backward_after_step_needs_a_new_forward(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float x[2] = {1, 2}, t[1] = {0};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_ERR_STATE);
    gf_net_destroy(net);
}

static void test_layer_added_after_training_began_is_refused(void **state)
{
    (void)state;
    gf_net *net = small_net();
    const float x[2] = {1, 2}, t[1] = {0};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 1, 1), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_ERR_STATE);
    assert_message_mentions("training has begun");
    assert_int_equal(gf_net_layer_count(net), 2);
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_sizes_whose_product_overflows_are_refused(void **state)
{
    (void)state;
    gf_layer *l = NULL;
    assert_int_equal(gf_layer_dense_create(&l, INT64_MAX / 2, 4), GF_ERR_OVERFLOW);
    assert_null(l);
    assert_int_equal(gf_layer_dense_create(&l, (int64_t)1 << 40, (int64_t)1 << 40), GF_ERR_OVERFLOW);
    gf_net *net = small_net();
    const float x[2] = {1, 2};
    assert_int_equal(gf_net_forward(net, x, 2, INT64_MAX / 2, NULL, 0), GF_ERR_OVERFLOW);
    gf_net_destroy(net);
}

/* A value count no array can hold is GF_ERR_OVERFLOW, not a shape mismatch, and the layer keeps its values. */
static void test_layer_value_counts_beyond_any_array_are_overflow(void **state)
{
    (void)state;
    gf_net *net = small_net();
    gf_layer *l = gf_net_layer(net, 0);
    float before[64], w[64] = {0}, after[64];
    size_t n = (size_t)gf_layer_weight_count(l);
    assert_true(n <= 64);
    assert_int_equal(gf_layer_get_weights(l, before, n), GF_OK);
    const size_t huge[] = {(size_t)-1, (size_t)PTRDIFF_MAX / sizeof(float) + 1};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(gf_layer_set_weights(l, w, huge[i]), GF_ERR_OVERFLOW);
        assert_int_equal(gf_layer_set_bias(l, w, huge[i]), GF_ERR_OVERFLOW);
        assert_int_equal(gf_layer_get_weights(l, after, huge[i]), GF_ERR_OVERFLOW);
        assert_int_equal(gf_layer_get_bias(l, after, huge[i]), GF_ERR_OVERFLOW);
        assert_int_equal(gf_layer_set_param(l, 0, w, huge[i]), GF_ERR_OVERFLOW);
        assert_int_equal(gf_layer_get_param(l, 0, after, huge[i]), GF_ERR_OVERFLOW);
    }
    assert_message_mentions("negative count");
    assert_int_equal(gf_layer_get_weights(l, after, n), GF_OK);
    assert_memory_equal(before, after, n * sizeof(float));
    gf_net_destroy(net);
}

static void test_wrong_handle_kind_is_detected(void **state)
{
    (void)state;
    gf_loss *loss;
    assert_int_equal(gf_loss_create(&loss, GF_LOSS_MSE), GF_OK);
    assert_int_equal(gf_net_step((gf_net *)(void *)loss), GF_ERR_KIND);
    gf_loss_destroy(loss);
}

static void test_layer_index_out_of_range_returns_null(void **state)
{
    (void)state;
    gf_net *net = small_net();
    assert_null(gf_net_layer(net, 2));
    assert_non_null(strstr(gf_net_last_error(net), "index 2"));
    assert_null(gf_net_layer(net, -1));
    gf_net_destroy(net);
}

static void test_adding_a_layer_twice_is_refused(void **state)
{
    (void)state;
    gf_net *a = small_net(), *b = small_net();
    assert_int_equal(gf_net_add(b, gf_net_layer(a, 1)), GF_ERR_STATE);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_orthogonal_bias_init_is_refused_when_set(void **state)
{
    (void)state;
    gf_layer *l;
    gf_init *orth;
    assert_int_equal(gf_layer_dense_create(&l, 3, 5), GF_OK);
    assert_int_equal(gf_init_create(&orth, GF_INIT_ORTHOGONAL), GF_OK);
    assert_int_equal(gf_layer_set_bias_init(l, orth), GF_ERR_INVALID);
    assert_message_mentions("vector");
    assert_int_equal(gf_layer_set_weight_init(l, orth), GF_OK);
    gf_init_destroy(orth);
    gf_layer_destroy(l);
}


static void test_failed_add_after_a_forward_refuses_backward_instead_of_crashing(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(picky_malloc, picky_realloc, picky_free, NULL), GF_OK);
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, NULL), GF_OK);
    const float x[2] = {1, 2}, t[3] = {0, 0, 0};
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 3, 1), GF_OK);
    refuse_size = (9 + 4) * sizeof(float); /* the grown parameter arena */
    assert_int_equal(gf_net_add(net, l), GF_ERR_NOMEM);
    refuse_size = 0;
    assert_int_equal(gf_net_backward(net, t, 3, NULL), GF_ERR_STATE);
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 3, NULL), GF_OK);
    gf_layer_destroy(l);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_reinit_that_fails_midway_changes_no_weight(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(picky_malloc, picky_realloc, picky_free, NULL), GF_OK);
    gf_net *net;
    gf_layer *l1;
    gf_init *orth;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_layer_dense_create(&l1, 4, 7), GF_OK);
    assert_int_equal(gf_init_create(&orth, GF_INIT_ORTHOGONAL), GF_OK);
    assert_int_equal(gf_layer_set_weight_init(l1, orth), GF_OK);
    gf_init_destroy(orth);
    assert_int_equal(gf_net_add(net, l1), GF_OK);
    float before[51], after[51];
    snapshot(net, before);
    refuse_size = 7 * 4 * sizeof(double); /* layer 1's orthogonal scratch: layer 0 is drawn first */
    assert_int_equal(gf_net_reinit(net, 99), GF_ERR_NOMEM);
    refuse_size = 0;
    snapshot(net, after);
    assert_memory_equal(before, after, sizeof before);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_strerror_names_every_code(void **state)
{
    (void)state;
    for (int c = GF_OK; c <= GF_ERR_UNSUPPORTED; c++)
        assert_string_not_equal(gf_strerror(c), "unknown status code");
    assert_string_equal(gf_strerror(9999), "unknown status code");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_handles_return_err_null),
        cmocka_unit_test(test_destroy_null_is_a_no_op_for_every_handle),
        cmocka_unit_test(test_zero_sizes_are_invalid),
        cmocka_unit_test(test_batch_of_zero_is_invalid),
        cmocka_unit_test(test_mismatched_input_count_is_a_shape_error),
        cmocka_unit_test(test_mismatched_target_count_is_a_shape_error_and_weights_stay),
        cmocka_unit_test(test_layer_of_wrong_width_is_refused),
        cmocka_unit_test(test_weight_count_mismatch_is_a_shape_error),
        cmocka_unit_test(test_nan_input_is_refused_and_weights_stay),
        cmocka_unit_test(test_infinite_target_is_refused_and_weights_stay),
        cmocka_unit_test(test_nan_weights_are_refused),
        cmocka_unit_test(test_backward_before_forward_is_a_state_error),
        cmocka_unit_test(test_step_before_backward_is_a_state_error),
        cmocka_unit_test(test_backward_after_step_needs_a_new_forward),
        cmocka_unit_test(test_layer_added_after_training_began_is_refused),
        cmocka_unit_test(test_sizes_whose_product_overflows_are_refused),
        cmocka_unit_test(test_layer_value_counts_beyond_any_array_are_overflow),
        cmocka_unit_test(test_wrong_handle_kind_is_detected),
        cmocka_unit_test(test_layer_index_out_of_range_returns_null),
        cmocka_unit_test(test_adding_a_layer_twice_is_refused),
        cmocka_unit_test(test_orthogonal_bias_init_is_refused_when_set),
        cmocka_unit_test(test_failed_add_after_a_forward_refuses_backward_instead_of_crashing),
        cmocka_unit_test(test_reinit_that_fails_midway_changes_no_weight),
        cmocka_unit_test(test_strerror_names_every_code),
    };
    return cmocka_run_group_tests_name("misuse", tests, NULL, NULL);
}
