/* test_contracts.c — the call-order, handle-kind and failure contracts of docs/api.md and docs/errors.md, one
 * test per promise; each was once broken (issue 13) and its test failed before the fix. */
#define _DEFAULT_SOURCE /* mmap with MAP_ANONYMOUS, sysconf: the guard-page allocator */
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

/* ---- defect 3: a handle of another kind is refused before anything of it is read ---- */

/* A guard-page allocator: every block ends exactly where an inaccessible page
 * begins, so a read one byte past a handle faults in a plain build too, not
 * only under ASan.  Blocks are tracked in a small table for free/realloc. */
typedef struct {
    void *p, *base;
    size_t n, len;
} guarded;
static guarded blocks[4096];

static void *guarded_malloc(void *u, size_t n)
{
    (void)u;
    size_t page = (size_t)sysconf(_SC_PAGESIZE), want = (n + 15) & ~(size_t)15;
    size_t len = (want + page - 1) / page * page + page;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED)
        return NULL;
    mprotect(base + len - page, page, PROT_NONE);
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        if (!blocks[i].p) {
            blocks[i] = (guarded){base + len - page - want, base, n, len};
            return blocks[i].p;
        }
    munmap(base, len);
    return NULL;
}

static guarded *find_block(void *p)
{
    for (size_t i = 0; i < sizeof blocks / sizeof *blocks; i++)
        if (blocks[i].p == p)
            return &blocks[i];
    return NULL;
}

static void guarded_free(void *u, void *p)
{
    (void)u;
    guarded *b = p ? find_block(p) : NULL;
    if (!b)
        return;
    munmap(b->base, b->len);
    b->p = NULL;
}

static void *guarded_realloc(void *u, void *p, size_t n)
{
    void *q = guarded_malloc(u, n);
    guarded *b = p ? find_block(p) : NULL;
    if (q && b) {
        memcpy(q, p, b->n < n ? b->n : n);
        guarded_free(u, p);
    }
    return q;
}

/* Every layer entry point that copies a tensor, on a handle of each other kind. */
static void test_layer_copies_refuse_every_other_handle_kind_before_reading_it(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(guarded_malloc, guarded_realloc, guarded_free, NULL), GF_OK);
    gf_loss *loss;
    gf_activation *act;
    gf_init *init;
    gf_penalty *pen;
    assert_int_equal(gf_loss_create(&loss, GF_LOSS_MSE), GF_OK);
    assert_int_equal(gf_activation_create(&act, GF_ACT_RELU), GF_OK);
    assert_int_equal(gf_init_create(&init, GF_INIT_ZEROS), GF_OK);
    assert_int_equal(gf_penalty_create(&pen, 0.1, 0.0), GF_OK);
    void *handles[] = {loss, act, init, pen};
    float buf[4] = {0};
    for (size_t k = 0; k < sizeof handles / sizeof *handles; k++) {
        gf_layer *l = handles[k];
        assert_int_equal(gf_layer_get_weights(l, buf, 4), GF_ERR_KIND);
        assert_int_equal(gf_layer_set_weights(l, buf, 4), GF_ERR_KIND);
        assert_int_equal(gf_layer_get_bias(l, buf, 4), GF_ERR_KIND);
        assert_int_equal(gf_layer_set_bias(l, buf, 4), GF_ERR_KIND);
        assert_int_equal(gf_layer_get_weight_grad(l, buf, 4), GF_ERR_KIND);
        assert_int_equal(gf_layer_get_bias_grad(l, buf, 4), GF_ERR_KIND);
        assert_int_equal(gf_layer_set_weight_init(l, init), GF_ERR_KIND);
        assert_int_equal(gf_layer_set_bias_init(l, init), GF_ERR_KIND);
    }
    gf_loss_destroy(loss);
    gf_activation_destroy(act);
    gf_init_destroy(init);
    gf_penalty_destroy(pen);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

/* ---- defect 4: an empty net ---- */

/* memcpy(NULL, p, 0) is undefined behaviour: UBSan (make check SANITIZE=1) aborted here. */
static void test_reinit_of_a_net_without_layers_succeeds_and_changes_only_the_seed(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_reinit(net, 99), GF_OK);
    assert_int_equal(gf_net_param_count(net), 0);
    assert_int_equal(gf_net_layer_count(net), 0);
    /* The new seed took: a layer added now draws the same values as in a net created with it. */
    gf_net *fresh;
    assert_int_equal(gf_net_create(&fresh, 3, 99), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(fresh, 2, GF_ACT_RELU, NULL), GF_OK);
    float a[6], b[6];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), a, 6), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(fresh, 0), b, 6), GF_OK);
    assert_memory_equal(a, b, sizeof a);
    gf_net_destroy(net);
    gf_net_destroy(fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_second_step_without_a_new_backward_is_a_state_error),
        cmocka_unit_test(test_a_step_after_train_step_needs_a_new_backward),
        cmocka_unit_test(test_layer_copies_refuse_every_other_handle_kind_before_reading_it),
        cmocka_unit_test(test_reinit_of_a_net_without_layers_succeeds_and_changes_only_the_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
