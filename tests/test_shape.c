/* test_shape.c — per-sample shapes, the chain checked at gf_net_add, keyed layer options and named parameter blocks. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

static gf_net *shaped(int32_t kind, const int64_t *dims, int32_t rank)
{
    gf_net *net;
    assert_int_equal(gf_net_create_shaped(&net, kind, dims, rank, 7), GF_OK);
    return net;
}

static gf_net *image_net(void)
{
    const int64_t d[3] = {3, 4, 4};
    return shaped(GF_SHAPE_IMAGE, d, 3);
}

static gf_net *sequence_net(int64_t T, int64_t F)
{
    const int64_t d[2] = {T, F};
    return shaped(GF_SHAPE_SEQUENCE, d, 2);
}

static void assert_message_has(const gf_net *net, const char *part)
{
    if (!strstr(gf_net_last_error(net), part))
        fail_msg("message \"%s\" lacks \"%s\"", gf_net_last_error(net), part);
}

/* ---- shapes ---- */

static void test_shaped_net_reports_its_input_shape_and_size(void **state)
{
    (void)state;
    gf_net *net = sequence_net(5, 3);
    int32_t kind, rank;
    int64_t d[4];
    assert_int_equal(gf_net_input_shape(net, &kind, d, 4, &rank), GF_OK);
    assert_int_equal(kind, GF_SHAPE_SEQUENCE);
    assert_int_equal(rank, 2);
    assert_int_equal(d[0], 5);
    assert_int_equal(d[1], 3);
    assert_int_equal(gf_net_input_size(net), 15);
    gf_net_destroy(net);
}

static void test_plain_net_is_a_vector_net(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 6, 1), GF_OK);
    int32_t kind, rank;
    int64_t d[1];
    assert_int_equal(gf_net_output_shape(net, &kind, d, 1, &rank), GF_OK);
    assert_int_equal(kind, GF_SHAPE_VECTOR);
    assert_int_equal(rank, 1);
    assert_int_equal(d[0], 6);
    gf_net_destroy(net);
}

static void test_shape_reader_gives_the_rank_when_dims_has_no_room(void **state)
{
    (void)state;
    gf_net *net = image_net();
    int32_t kind, rank = -1;
    assert_int_equal(gf_net_input_shape(net, &kind, NULL, 0, &rank), GF_ERR_BUFFER);
    assert_int_equal(rank, 3);
    int64_t d[2];
    assert_int_equal(gf_net_input_shape(net, &kind, d, 2, &rank), GF_ERR_BUFFER);
    assert_int_equal(gf_net_input_shape(net, &kind, NULL, 3, &rank), GF_ERR_NULL);
    assert_int_equal(gf_net_input_shape(net, NULL, d, 2, &rank), GF_ERR_NULL);
    gf_net_destroy(net);
}

static void test_create_shaped_refuses_a_rank_that_does_not_fit_the_kind(void **state)
{
    (void)state;
    gf_net *net = (gf_net *)1;
    const int64_t d[3] = {3, 4, 4};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d, 2, 1), GF_ERR_SHAPE);
    assert_null(net);
    assert_non_null(strstr(gf_last_error(), "rank 3"));
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_VECTOR, d, 3, 1), GF_ERR_SHAPE);
}

static void test_create_shaped_refuses_bad_kinds_dims_and_sizes(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t zero[2] = {4, 0}, huge[3] = {INT64_MAX / 4, 4, 4}, ok[2] = {2, 2};
    assert_int_equal(gf_net_create_shaped(&net, 9, ok, 2, 1), GF_ERR_INVALID);
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, zero, 2, 1), GF_ERR_INVALID);
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, huge, 3, 1), GF_ERR_OVERFLOW);
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, NULL, 2, 1), GF_ERR_NULL);
    assert_int_equal(gf_net_create_shaped(NULL, GF_SHAPE_SIGNAL, ok, 2, 1), GF_ERR_NULL);
    assert_int_equal(gf_live_allocations(), 0);
}

/* ---- the chain, checked at add ---- */

static void test_dense_after_an_image_without_flatten_is_refused_at_add(void **state)
{
    (void)state;
    gf_net *net = image_net();
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_DENSE), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_OUTPUTS, 4), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_ERR_SHAPE);
    assert_message_has(net, "layer 0 (dense)");
    assert_message_has(net, "VECTOR(F) or SEQUENCE(T x F)");
    assert_message_has(net, "got IMAGE(3 x 4 x 4)");
    assert_message_has(net, "flatten");
    assert_int_equal(gf_net_layer_count(net), 0);
    assert_int_equal(gf_net_param_count(net), 0);
    gf_layer_destroy(l); /* still the caller's */
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_add_dense_on_a_signal_is_refused_and_adds_nothing(void **state)
{
    (void)state;
    const int64_t d[2] = {2, 16};
    gf_net *net = shaped(GF_SHAPE_SIGNAL, d, 2);
    gf_layer *l = (gf_layer *)1;
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_RELU, &l), GF_ERR_SHAPE);
    assert_null(l);
    assert_message_has(net, "got SIGNAL(2 x 16)");
    assert_int_equal(gf_net_layer_count(net), 0);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_mismatched_explicit_input_size_is_refused_at_add(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 12, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 6, GF_ACT_TANH, NULL), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 10, 4), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_ERR_SHAPE);
    assert_message_has(net, "layer 1 (dense)");
    assert_message_has(net, "expects 10 input features");
    assert_message_has(net, "got VECTOR(6)");
    assert_int_equal(gf_net_layer_count(net), 1);
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_flatten_into_a_dense_of_the_wrong_width_is_refused_at_add(void **state)
{
    (void)state;
    gf_net *net = image_net();
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_DENSE), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_INPUTS, 47), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_OUTPUTS, 2), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_ERR_SHAPE);
    assert_message_has(net, "layer 1 (dense) expects 47 input features");
    assert_message_has(net, "got VECTOR(48)");
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_dense_without_outputs_is_refused_at_add(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_DENSE), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_ERR_INVALID);
    assert_message_has(net, "GF_LAYER_OUTPUTS");
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_flatten_turns_an_image_into_a_vector_of_its_product(void **state)
{
    (void)state;
    gf_net *net = image_net();
    gf_layer *f;
    assert_int_equal(gf_net_add_flatten(net, &f), GF_OK);
    int32_t kind, rank;
    int64_t d[3];
    assert_int_equal(gf_layer_output_shape(f, &kind, d, 3, &rank), GF_OK);
    assert_int_equal(kind, GF_SHAPE_VECTOR);
    assert_int_equal(rank, 1);
    assert_int_equal(d[0], 48);
    assert_int_equal(gf_layer_input_shape(f, &kind, d, 3, &rank), GF_OK);
    assert_int_equal(kind, GF_SHAPE_IMAGE);
    assert_int_equal(gf_layer_param_block_count(f), 0);
    assert_int_equal(gf_net_output_size(net), 48);
    gf_net_destroy(net);
}

static void test_flatten_keeps_each_sample_in_row_major_order(void **state)
{
    (void)state;
    gf_net *net = image_net();
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    float x[96], y[96];
    for (int i = 0; i < 96; i++)
        x[i] = (float)i * 0.25f - 3.0f;
    assert_int_equal(gf_net_predict(net, x, 96, 2, y, 96), GF_OK);
    assert_memory_equal(x, y, sizeof x);
    gf_net_destroy(net);
}

static void test_dense_on_a_sequence_gives_a_sequence_of_its_outputs(void **state)
{
    (void)state;
    gf_net *net = sequence_net(7, 3);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, 5, GF_ACT_TANH, &l), GF_OK);
    int32_t kind, rank;
    int64_t d[2];
    assert_int_equal(gf_net_output_shape(net, &kind, d, 2, &rank), GF_OK);
    assert_int_equal(kind, GF_SHAPE_SEQUENCE);
    assert_int_equal(d[0], 7);
    assert_int_equal(d[1], 5);
    assert_int_equal(gf_layer_weight_count(l), 15); /* shared by every step, like nn.Linear */
    assert_int_equal(gf_layer_input_size(l), 21);
    assert_int_equal(gf_layer_output_size(l), 35);
    gf_net_destroy(net);
}

/* y[n, t, :] = tanh(W x[n, t, :] + b) for every sample and step. */
static void test_dense_on_a_sequence_applies_the_same_weights_at_every_step(void **state)
{
    (void)state;
    const int64_t T = 4, F = 3, O = 2, N = 2;
    gf_net *net = sequence_net(T, F);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, O, GF_ACT_TANH, &l), GF_OK);
    float w[6] = {0.5f, -0.25f, 0.125f, -0.75f, 0.3f, 0.2f}, b[2] = {0.1f, -0.2f};
    assert_int_equal(gf_layer_set_weights(l, w, 6), GF_OK);
    assert_int_equal(gf_layer_set_bias(l, b, 2), GF_OK);
    float x[24], y[16];
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i * 7) % 11) / 5.0f - 1.0f;
    assert_int_equal(gf_net_predict(net, x, 24, N, y, 16), GF_OK);
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t o = 0; o < O; o++) {
                double z = b[o];
                for (int64_t f = 0; f < F; f++)
                    z += (double)w[o * F + f] * x[(n * T + t) * F + f];
                assert_true(fabs(tanh(z) - y[(n * T + t) * O + o]) < 1e-6);
            }
    gf_net_destroy(net);
}

static void test_a_layer_sized_for_a_vector_fits_every_step_of_a_sequence(void **state)
{
    (void)state;
    gf_net *net = sequence_net(6, 4);
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 4, 3), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_OK);
    assert_int_equal(gf_net_output_size(net), 18);
    gf_net_destroy(net);
}

/* ---- options ---- */

static void test_options_read_back_what_was_set(void **state)
{
    (void)state;
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_DENSE), GF_OK);
    double v = -1;
    assert_int_equal(gf_layer_get_option(l, GF_LAYER_INPUTS, &v), GF_OK);
    assert_true(v == 0.0); /* inferred by default */
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_OUTPUTS, 9), GF_OK);
    assert_int_equal(gf_layer_get_option(l, GF_LAYER_OUTPUTS, &v), GF_OK);
    assert_true(v == 9.0);
    gf_layer_destroy(l);
}

static void test_options_outside_the_kind_or_domain_are_refused(void **state)
{
    (void)state;
    gf_layer *d, *f;
    assert_int_equal(gf_layer_create(&d, GF_LAYER_DENSE), GF_OK);
    assert_int_equal(gf_layer_create(&f, GF_LAYER_FLATTEN), GF_OK);
    double v;
    assert_int_equal(gf_layer_set_option(f, GF_LAYER_OUTPUTS, 3), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "flatten"));
    assert_int_equal(gf_layer_get_option(f, GF_LAYER_OUTPUTS, &v), GF_ERR_INVALID);
    assert_int_equal(gf_layer_set_option(d, GF_LAYER_OUTPUTS, 2.5), GF_ERR_INVALID);
    assert_int_equal(gf_layer_set_option(d, GF_LAYER_OUTPUTS, 0), GF_ERR_INVALID);
    assert_int_equal(gf_layer_set_option(d, GF_LAYER_OUTPUTS, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_layer_set_option(d, 31, 1), GF_ERR_INVALID);
    assert_int_equal(gf_layer_set_option(d, -1, 1), GF_ERR_INVALID);
    assert_int_equal(gf_layer_set_option(d, 1000, 1), GF_ERR_INVALID);
    assert_int_equal(gf_layer_get_option(d, GF_LAYER_OUTPUTS, NULL), GF_ERR_NULL);
    assert_int_equal(gf_layer_set_option(NULL, GF_LAYER_OUTPUTS, 1), GF_ERR_NULL);
    gf_layer_destroy(d);
    gf_layer_destroy(f);
}

static void test_a_kind_lists_the_option_keys_it_takes(void **state)
{
    (void)state;
    gf_layer *d, *f;
    assert_int_equal(gf_layer_create(&d, GF_LAYER_DENSE), GF_OK);
    assert_int_equal(gf_layer_create(&f, GF_LAYER_FLATTEN), GF_OK);
    assert_int_equal(gf_layer_option_count(d), 2);
    assert_int_equal(gf_layer_option_key(d, 0), GF_LAYER_OUTPUTS);
    assert_int_equal(gf_layer_option_key(d, 1), GF_LAYER_INPUTS);
    assert_int_equal(gf_layer_option_key(d, 2), -1);
    assert_int_equal(gf_layer_option_key(d, -1), -1);
    assert_int_equal(gf_layer_option_count(f), 0);
    assert_int_equal(gf_layer_option_count(NULL), -1);
    gf_layer_destroy(d);
    gf_layer_destroy(f);
}

static void test_options_are_fixed_once_the_layer_is_in_a_net(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_RELU, &l), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_OUTPUTS, 5), GF_ERR_STATE);
    assert_int_equal(gf_layer_output_size(l), 4);
    gf_net_destroy(net);
}

static void test_unknown_layer_kind_is_refused(void **state)
{
    (void)state;
    gf_layer *l = (gf_layer *)1;
    assert_int_equal(gf_layer_create(&l, 99), GF_ERR_INVALID);
    assert_null(l);
    assert_int_equal(gf_layer_create(&l, -1), GF_ERR_INVALID);
    assert_int_equal(gf_layer_create(NULL, GF_LAYER_DENSE), GF_ERR_NULL);
    assert_string_equal(gf_layer_kind_name(GF_LAYER_FLATTEN), "flatten");
    assert_string_equal(gf_layer_kind_name(99), "?");
}

static void test_a_layer_not_yet_added_has_no_shape(void **state)
{
    (void)state;
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_DENSE), GF_OK);
    int32_t kind, rank;
    int64_t d[2];
    float w[1];
    assert_int_equal(gf_layer_output_shape(l, &kind, d, 2, &rank), GF_ERR_STATE);
    assert_int_equal(gf_layer_output_size(l), -1);
    assert_int_equal(gf_layer_weight_count(l), -1);
    assert_int_equal(gf_layer_get_weights(l, w, 0), GF_ERR_STATE);
    assert_int_equal(gf_layer_param_block_count(l), 0);
    gf_layer_destroy(l);
}

static void test_flatten_takes_no_activation(void **state)
{
    (void)state;
    gf_layer *l;
    gf_activation *a;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_FLATTEN), GF_OK);
    assert_int_equal(gf_activation_create(&a, GF_ACT_RELU), GF_OK);
    assert_int_equal(gf_layer_set_activation(l, a), GF_ERR_INVALID);
    gf_activation_destroy(a);
    gf_layer_destroy(l);
}

/* ---- named parameter blocks ---- */

static void test_dense_blocks_have_pytorch_names_and_dims(void **state)
{
    (void)state;
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 3, 5), GF_OK);
    assert_int_equal(gf_layer_param_block_count(l), 2);
    assert_string_equal(gf_layer_param_block_name(l, 0), "weight");
    assert_string_equal(gf_layer_param_block_name(l, 1), "bias");
    int64_t d[2];
    int32_t rank;
    assert_int_equal(gf_layer_param_block_dims(l, 0, d, 2, &rank), GF_OK);
    assert_int_equal(rank, 2);
    assert_int_equal(d[0], 5);
    assert_int_equal(d[1], 3);
    assert_int_equal(gf_layer_param_block_dims(l, 1, d, 2, &rank), GF_OK);
    assert_int_equal(rank, 1);
    assert_int_equal(d[0], 5);
    assert_int_equal(gf_layer_param_block_size(l, 0), 15);
    int32_t i = -1;
    assert_int_equal(gf_layer_param_block_find(l, "bias", &i), GF_OK);
    assert_int_equal(i, 1);
    gf_layer_destroy(l);
}

static void test_block_access_refuses_unknown_names_and_indices(void **state)
{
    (void)state;
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 3, 5), GF_OK);
    int32_t i;
    float v[15] = {0};
    int64_t d[1];
    int32_t rank;
    assert_int_equal(gf_layer_param_block_find(l, "weight_hh_l0", &i), GF_ERR_RANGE);
    assert_int_equal(gf_layer_param_block_find(l, NULL, &i), GF_ERR_NULL);
    assert_null(gf_layer_param_block_name(l, 2));
    assert_int_equal(gf_layer_param_block_size(l, -1), -1);
    assert_int_equal(gf_layer_get_param(l, 2, v, 15), GF_ERR_RANGE);
    assert_int_equal(gf_layer_get_param(l, 0, v, 14), GF_ERR_SHAPE);
    assert_int_equal(gf_layer_param_block_dims(l, 0, d, 1, &rank), GF_ERR_BUFFER);
    assert_int_equal(rank, 2);
    v[3] = NAN;
    assert_int_equal(gf_layer_set_param(l, 0, v, 15), GF_ERR_NONFINITE);
    gf_layer_destroy(l);
}

static void test_a_block_set_before_adding_is_kept_and_the_rest_drawn(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 3), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 2, 2), GF_OK);
    const float b[2] = {0.5f, -0.5f};
    int32_t ib;
    assert_int_equal(gf_layer_param_block_find(l, "bias", &ib), GF_OK);
    assert_int_equal(gf_layer_set_param(l, ib, b, 2), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_OK);
    float got[2], w[4];
    assert_int_equal(gf_layer_get_bias(l, got, 2), GF_OK);
    assert_memory_equal(got, b, sizeof b);
    assert_int_equal(gf_layer_get_param(l, 0, w, 4), GF_OK);
    assert_true(w[0] != 0.0f || w[1] != 0.0f); /* drawn from the initializer */
    gf_net_destroy(net);
}

static void test_block_gradients_match_the_weight_and_bias_gradients(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_SIGMOID, &l), GF_OK);
    const float x[6] = {1, -2, 0.5f, 0.25f, 1, -1}, t[4] = {0, 1, 1, 0};
    assert_int_equal(gf_net_forward(net, x, 6, 2, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 4, NULL), GF_OK);
    float a[6], b[6];
    assert_int_equal(gf_layer_get_param_grad(l, 0, a, 6), GF_OK);
    assert_int_equal(gf_layer_get_weight_grad(l, b, 6), GF_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(gf_layer_get_param_grad(l, 1, a, 2), GF_OK);
    assert_int_equal(gf_layer_get_bias_grad(l, b, 2), GF_OK);
    assert_memory_equal(a, b, 2 * sizeof(float));
    gf_net_destroy(net);
}

/* Dense keeps drawing exactly as before the shape scheme: W then b, same fans. */
static void test_generic_and_sized_dense_draw_the_same_weights(void **state)
{
    (void)state;
    gf_net *a, *b;
    assert_int_equal(gf_net_create(&a, 4, 11), GF_OK);
    assert_int_equal(gf_net_create(&b, 4, 11), GF_OK);
    gf_layer *la, *lb;
    assert_int_equal(gf_layer_dense_create(&la, 4, 3), GF_OK);
    assert_int_equal(gf_net_add(a, la), GF_OK);
    assert_int_equal(gf_net_add_dense(b, 3, GF_ACT_IDENTITY, &lb), GF_OK);
    float wa[15], wb[15];
    assert_int_equal(gf_layer_get_weights(la, wa, 12), GF_OK);
    assert_int_equal(gf_layer_get_bias(la, wa + 12, 3), GF_OK);
    assert_int_equal(gf_layer_get_weights(lb, wb, 12), GF_OK);
    assert_int_equal(gf_layer_get_bias(lb, wb + 12, 3), GF_OK);
    assert_memory_equal(wa, wb, sizeof wa);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_describe_names_the_shapes_of_a_shaped_net(void **state)
{
    (void)state;
    gf_net *net = image_net();
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_RELU, NULL), GF_OK);
    char buf[1024];
    size_t need;
    assert_int_equal(gf_net_describe(net, buf, sizeof buf, &need), GF_OK);
    assert_non_null(strstr(buf, "input: IMAGE(3 x 4 x 4)"));
    assert_non_null(strstr(buf, "[0] flatten IMAGE(3 x 4 x 4) -> VECTOR(48)"));
    assert_non_null(strstr(buf, "[1] dense 48 -> 2, activation relu, W 2x48"));
    gf_net_destroy(net);
}

/* ---- allocation ---- */

static long counted;
static void *count_malloc(void *u, size_t n) { (void)u; counted++; return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; counted++; return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

static void test_a_shaped_net_trains_without_allocating_after_the_first_step(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    gf_net *net = sequence_net(5, 3);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_enable(d, 1), GF_OK);
    float x[60], t[8] = {0};
    for (int i = 0; i < 60; i++)
        x[i] = (float)(i % 7) - 3.0f;
    assert_int_equal(gf_net_train_step(net, x, 60, t, 8, 4, NULL), GF_OK);
    long before = counted;
    for (int i = 0; i < 5; i++)
        assert_int_equal(gf_net_train_step(net, x, 60, t, 8, 4, NULL), GF_OK);
    assert_int_equal(counted, before);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static long fail_at, seen;
static void *failing_malloc(void *u, size_t n) { (void)u; return ++seen == fail_at ? NULL : malloc(n); }
static void *failing_realloc(void *u, void *p, size_t n) { (void)u; return ++seen == fail_at ? NULL : realloc(p, n); }

/* Each allocation of building and stepping a shaped net failing in turn gives
 * GF_ERR_NOMEM and leaks nothing. */
static void test_every_allocation_failure_of_a_shaped_net_is_reported(void **state)
{
    (void)state;
    int failures = 0;
    for (fail_at = 1; fail_at < 200; fail_at++) {
        seen = 0;
        assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, count_free, NULL), GF_OK);
        gf_net *net;
        const int64_t d[2] = {3, 2};
        int rc = gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, d, 2, 1);
        float x[12] = {1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1}, t[2] = {0};
        if (!rc) {
            if (!(rc = gf_net_add_dense(net, 4, GF_ACT_TANH, NULL)) && !(rc = gf_net_add_flatten(net, NULL)) &&
                !(rc = gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL)))
                rc = gf_net_train_step(net, x, 12, t, 2, 2, NULL);
            gf_net_destroy(net);
        }
        assert_int_equal(gf_live_allocations(), 0);
        assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
        if (seen < fail_at) {
            assert_int_equal(rc, GF_OK);
            break;
        }
        assert_int_equal(rc, GF_ERR_NOMEM);
        failures++;
    }
    assert_true(failures > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shaped_net_reports_its_input_shape_and_size),
        cmocka_unit_test(test_plain_net_is_a_vector_net),
        cmocka_unit_test(test_shape_reader_gives_the_rank_when_dims_has_no_room),
        cmocka_unit_test(test_create_shaped_refuses_a_rank_that_does_not_fit_the_kind),
        cmocka_unit_test(test_create_shaped_refuses_bad_kinds_dims_and_sizes),
        cmocka_unit_test(test_dense_after_an_image_without_flatten_is_refused_at_add),
        cmocka_unit_test(test_add_dense_on_a_signal_is_refused_and_adds_nothing),
        cmocka_unit_test(test_mismatched_explicit_input_size_is_refused_at_add),
        cmocka_unit_test(test_flatten_into_a_dense_of_the_wrong_width_is_refused_at_add),
        cmocka_unit_test(test_dense_without_outputs_is_refused_at_add),
        cmocka_unit_test(test_flatten_turns_an_image_into_a_vector_of_its_product),
        cmocka_unit_test(test_flatten_keeps_each_sample_in_row_major_order),
        cmocka_unit_test(test_dense_on_a_sequence_gives_a_sequence_of_its_outputs),
        cmocka_unit_test(test_dense_on_a_sequence_applies_the_same_weights_at_every_step),
        cmocka_unit_test(test_a_layer_sized_for_a_vector_fits_every_step_of_a_sequence),
        cmocka_unit_test(test_options_read_back_what_was_set),
        cmocka_unit_test(test_options_outside_the_kind_or_domain_are_refused),
        cmocka_unit_test(test_a_kind_lists_the_option_keys_it_takes),
        cmocka_unit_test(test_options_are_fixed_once_the_layer_is_in_a_net),
        cmocka_unit_test(test_unknown_layer_kind_is_refused),
        cmocka_unit_test(test_a_layer_not_yet_added_has_no_shape),
        cmocka_unit_test(test_flatten_takes_no_activation),
        cmocka_unit_test(test_dense_blocks_have_pytorch_names_and_dims),
        cmocka_unit_test(test_block_access_refuses_unknown_names_and_indices),
        cmocka_unit_test(test_a_block_set_before_adding_is_kept_and_the_rest_drawn),
        cmocka_unit_test(test_block_gradients_match_the_weight_and_bias_gradients),
        cmocka_unit_test(test_generic_and_sized_dense_draw_the_same_weights),
        cmocka_unit_test(test_describe_names_the_shapes_of_a_shaped_net),
        cmocka_unit_test(test_a_shaped_net_trains_without_allocating_after_the_first_step),
        cmocka_unit_test(test_every_allocation_failure_of_a_shaped_net_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
