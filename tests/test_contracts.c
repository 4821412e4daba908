/* test_contracts.c — the call-order, handle-kind and failure contracts of docs/api.md and docs/errors.md, one
 * test per promise; each was once broken (issue 13) and its test failed before the fix. */
#define _POSIX_C_SOURCE 200809L /* mmap, sysconf: the guard-page allocator */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gradflow.h"

static gf_net *small_net(uint64_t seed)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, seed), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    return net;
}

static const float X[4 * 3] = {0.1f, -0.2f, 0.3f, 0.5f, 0.4f, -0.6f, -0.7f, 0.8f, 0.2f, 0.0f, 0.9f, -0.1f};
static const float T[4 * 2] = {1, 0, 0, 1, 1, 1, 0, 0};

static void get_params(gf_net *net, float *w)
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

/* ---- defect 2: one backward, one step ---- */

static void test_a_second_step_without_a_new_backward_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net = small_net(1);
    assert_int_equal(gf_net_forward(net, X, 12, 4, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, T, 8, NULL), GF_OK);
    assert_int_equal(gf_net_step(net), GF_OK);
    float before[26], after[26];
    get_params(net, before);
    assert_int_equal(gf_net_step(net), GF_ERR_STATE);
    get_params(net, after);
    assert_memory_equal(before, after, sizeof before);
    assert_int_equal(gf_net_steps(net), 1);
    assert_int_equal(gf_optimizer_steps(gf_net_optimizer(net)), 1);
    gf_net_destroy(net);
}

static void test_a_step_after_train_step_needs_a_new_backward(void **state)
{
    (void)state;
    gf_net *net = small_net(1);
    assert_int_equal(gf_net_train_step(net, X, 12, T, 8, 4, NULL), GF_OK);
    assert_int_equal(gf_net_step(net), GF_ERR_STATE);
    assert_int_equal(gf_net_steps(net), 1);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_second_step_without_a_new_backward_is_a_state_error),
        cmocka_unit_test(test_a_step_after_train_step_needs_a_new_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
