/* test_contracts.c — the call-order, handle-kind and failure contracts of docs/api.md and docs/errors.md, one
 * test per promise; each was once broken (issue 13) and its test failed before the fix. */
#define _DEFAULT_SOURCE /* mmap with MAP_ANONYMOUS, sysconf: the guard-page allocator */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
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

/* ---- defect 5: a train step that fails after its backward changes nothing ---- */

static bool refuse_all; /* while set, every allocation fails */
static void *maybe_malloc(void *u, size_t n) { (void)u; return refuse_all ? NULL : malloc(n); }
static void *maybe_realloc(void *u, void *p, size_t n) { (void)u; return refuse_all ? NULL : realloc(p, n); }
static void plain_free(void *u, void *p) { (void)u; free(p); }

/* Gradients of every layer, W then b, flat. */
static void get_grads(gf_net *net, float *g)
{
    size_t off = 0;
    for (int32_t i = 0; i < gf_net_layer_count(net); i++) {
        gf_layer *l = gf_net_layer(net, i);
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
        assert_int_equal(gf_layer_get_weight_grad(l, g + off, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias_grad(l, g + off + nw, nb), GF_OK);
        off += nw + nb;
    }
}

/* What a failed call must leave as it was. */
typedef struct {
    float w[26], g[26];
    int64_t steps, opt_steps, diag_steps;
    int32_t found;
    double latest_loss;
} observable;

static void observe(gf_net *net, gf_diag *d, observable *o)
{
    memset(o, 0, sizeof *o);
    get_params(net, o->w);
    get_grads(net, o->g);
    o->steps = gf_net_steps(net);
    o->opt_steps = gf_net_optimizer(net) ? gf_optimizer_steps(gf_net_optimizer(net)) : -2;
    o->diag_steps = gf_diag_steps(d);
    assert_int_equal(gf_diag_origin(d, &o->found, NULL, NULL, NULL, NULL), GF_OK);
    if (gf_diag_value(d, 1, GF_STAT_LOSS, &o->latest_loss) != GF_OK)
        o->latest_loss = -1;
}

static void assert_same(const observable *a, const observable *b)
{
    assert_memory_equal(a->w, b->w, sizeof a->w);
    assert_memory_equal(a->g, b->g, sizeof a->g);
    assert_int_equal(a->steps, b->steps);
    assert_int_equal(a->opt_steps, b->opt_steps);
    assert_int_equal(a->diag_steps, b->diag_steps);
    assert_int_equal(a->found, b->found);
    assert_memory_equal(&a->latest_loss, &b->latest_loss, sizeof a->latest_loss);
}

static void test_a_train_step_out_of_memory_for_adams_moments_changes_nothing(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(maybe_malloc, maybe_realloc, plain_free, NULL), GF_OK);
    gf_net *net = small_net(5);
    gf_optimizer *adam;
    assert_int_equal(gf_optimizer_create(&adam, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, adam), GF_OK);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    /* A backward's gradients and record are in place; the moments are not yet. */
    assert_int_equal(gf_net_forward(net, X, 12, 4, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, T, 8, NULL), GF_OK);
    observable before, after;
    observe(net, d, &before);
    refuse_all = true;
    double loss = 12345.0;
    int rc = gf_net_train_step(net, X + 3, 9, T + 2, 6, 3, &loss);
    refuse_all = false;
    assert_int_equal(rc, GF_ERR_NOMEM);
    assert_true(loss == 12345.0);
    observe(net, d, &after);
    assert_same(&before, &after);
    /* The gradients are still the backward's: a step may still apply them. */
    assert_int_equal(gf_net_step(net), GF_OK);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_a_train_step_whose_clipping_meets_infinite_gradients_changes_nothing(void **state)
{
    (void)state;
    gf_net *net = small_net(5);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_NORM, 1.0), GF_OK);
    assert_int_equal(gf_net_train_step(net, X, 12, T, 8, 4, NULL), GF_OK);
    /* Finite weights whose outputs overflow: the gradients are infinite, and
     * with the guard off the clip is the first to see them.  Set before the
     * pending forward and backward (setting weights cancels a pending pass). */
    float big[8];
    for (int i = 0; i < 8; i++)
        big[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(net, 1), big, 8), GF_OK);
    assert_int_equal(gf_net_forward(net, X, 12, 4, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, T, 8, NULL), GF_OK);
    observable before, after;
    observe(net, d, &before);
    double loss = 12345.0;
    assert_int_equal(gf_net_train_step(net, X, 12, T, 8, 4, &loss), GF_ERR_NONFINITE);
    assert_true(loss == 12345.0);
    observe(net, d, &after);
    assert_same(&before, &after);
    assert_int_equal(gf_net_step(net), GF_OK);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* ---- defect 6: a failed fit leaves the generator where it was ---- */

static long fail_at; /* the allocation (1-based) to refuse once; 0: none */
static long allocs;
static void *oneshot_malloc(void *u, size_t n)
{
    (void)u;
    return ++allocs == fail_at ? NULL : malloc(n);
}
static void *oneshot_realloc(void *u, void *p, size_t n)
{
    (void)u;
    return ++allocs == fail_at ? NULL : realloc(p, n);
}

static void fit_data(float *x, float *t)
{
    for (int i = 0; i < 16 * 3; i++)
        x[i] = (float)sin(0.7 * i);
    for (int i = 0; i < 16 * 2; i++)
        t[i] = (float)cos(0.3 * i);
}

/* Out of memory at every point of a fit's first call, then a retry: the
 * weights match a fit that never failed, because no shuffle ran first. */
static void test_a_fit_that_ran_out_of_memory_retries_to_the_same_weights(void **state)
{
    (void)state;
    float x[16 * 3], t[16 * 2], want[26], got[26];
    fit_data(x, t);
    gf_net *ref = small_net(11);
    assert_int_equal(gf_net_fit(ref, x, 48, t, 32, 16, 5, 2, NULL, NULL, NULL), GF_OK);
    get_params(ref, want);
    gf_net_destroy(ref);
    assert_int_equal(gf_set_allocator(oneshot_malloc, oneshot_realloc, plain_free, NULL), GF_OK);
    int failures = 0;
    for (long k = 1;; k++) {
        gf_net *net = small_net(11);
        allocs = 0;
        fail_at = k;
        int rc = gf_net_fit(net, x, 48, t, 32, 16, 5, 2, NULL, NULL, NULL);
        fail_at = 0;
        if (rc == GF_OK) {
            gf_net_destroy(net);
            break;
        }
        assert_int_equal(rc, GF_ERR_NOMEM);
        failures++;
        assert_int_equal(gf_net_fit(net, x, 48, t, 32, 16, 5, 2, NULL, NULL, NULL), GF_OK);
        get_params(net, got);
        if (memcmp(got, want, sizeof got))
            fail_msg("a fit that failed at allocation %ld retried to different weights", k);
        gf_net_destroy(net);
    }
    assert_true(failures >= 3); /* fit buffers, activation buffers, optimizer at least */
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

/* ---- defect 7: exactly which destroy calls are safe to repeat (docs/api.md, "Destroying handles") ---- */

typedef void (*destroy_fn)(void *);
static void d_loss(void *h) { gf_loss_destroy(h); }
static void d_act(void *h) { gf_activation_destroy(h); }
static void d_init(void *h) { gf_init_destroy(h); }
static void d_pen(void *h) { gf_penalty_destroy(h); }
static void d_opt(void *h) { gf_optimizer_destroy(h); }
static void d_layer(void *h) { gf_layer_destroy(h); }
static void d_net(void *h) { gf_net_destroy(h); }
static void d_diag(void *h) { gf_diag_destroy(h); }

/* Every destroy call, given a live handle of every other kind, ignores it and
 * reads nothing past the handle's first word (the guard-page allocator). */
static void test_every_destroy_ignores_a_live_handle_of_another_kind(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(guarded_malloc, guarded_realloc, guarded_free, NULL), GF_OK);
    gf_loss *loss;
    gf_activation *act;
    gf_init *init;
    gf_penalty *pen;
    gf_optimizer *opt;
    gf_layer *layer;
    gf_net *net;
    gf_diag *d;
    assert_int_equal(gf_loss_create(&loss, GF_LOSS_MSE), GF_OK);
    assert_int_equal(gf_activation_create(&act, GF_ACT_RELU), GF_OK);
    assert_int_equal(gf_init_create(&init, GF_INIT_ZEROS), GF_OK);
    assert_int_equal(gf_penalty_create(&pen, 0.1, 0.0), GF_OK);
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_SGD, 0.1), GF_OK);
    assert_int_equal(gf_layer_dense_create(&layer, 2, 2), GF_OK);
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    void *h[] = {loss, act, init, pen, opt, layer, net, d};
    destroy_fn fn[] = {d_loss, d_act, d_init, d_pen, d_opt, d_layer, d_net, d_diag};
    int64_t live = gf_live_allocations();
    for (size_t i = 0; i < 8; i++)
        for (size_t j = 0; j < 8; j++)
            if (i != j)
                fn[i](h[j]);
    assert_int_equal(gf_live_allocations(), live);
    for (size_t i = 0; i < 8; i++)
        fn[i](h[i]);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_destroying_a_nets_own_layer_or_optimizer_is_ignored_any_number_of_times(void **state)
{
    (void)state;
    gf_net *net = small_net(1);
    gf_optimizer *opt;
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    gf_layer *l = gf_net_layer(net, 0);
    for (int k = 0; k < 3; k++) {
        gf_layer_destroy(l);
        gf_optimizer_destroy(opt);
    }
    assert_int_equal(gf_layer_output_size(l), 4);
    assert_int_equal(gf_optimizer_kind(opt), GF_OPT_ADAM);
    assert_int_equal(gf_net_train_step(net, X, 12, T, 8, 4, NULL), GF_OK);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_a_net_and_its_diag_may_be_destroyed_in_either_order(void **state)
{
    (void)state;
    for (int order = 0; order < 2; order++) {
        gf_net *net = small_net(1);
        gf_diag *d;
        assert_int_equal(gf_diag_create(&d, net), GF_OK);
        if (order) {
            gf_net_destroy(net);
            assert_int_equal(gf_diag_enable(d, 1), GF_ERR_STATE);
            gf_diag_destroy(d);
        } else {
            gf_diag_destroy(d);
            assert_int_equal(gf_net_train_step(net, X, 12, T, 8, 4, NULL), GF_OK);
            gf_net_destroy(net);
        }
        assert_int_equal(gf_live_allocations(), 0);
    }
}

/* Found by the fuzzer: a refused first step had created the default optimizer and sized its state. */
static void test_a_step_the_guard_refuses_creates_no_optimizer(void **state)
{
    (void)state;
    gf_net *net = small_net(3);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_set_option(d, GF_DIAG_GUARD, 1), GF_OK);
    float big[8];
    for (int i = 0; i < 8; i++)
        big[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(net, 1), big, 8), GF_OK);
    assert_int_equal(gf_net_forward(net, X, 12, 4, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, T, 8, NULL), GF_OK);
    assert_int_equal(gf_net_step(net), GF_ERR_GUARD);
    assert_null(gf_net_optimizer(net));
    assert_int_equal(gf_net_steps(net), 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* Found by the fuzzer: the per-step series a dense layer keeps on sequences was left from the failed step. */
static void test_a_failed_train_step_keeps_the_per_step_series(void **state)
{
    (void)state;
    const int64_t dims[2] = {4, 3};
    gf_net *net;
    gf_diag *d;
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_NORM, 1.0), GF_OK);
    float x[2 * 12], t[2 * 2] = {1, 0, 0, 1};
    for (int i = 0; i < 24; i++)
        x[i] = (float)sin(0.5 * i);
    assert_int_equal(gf_net_train_step(net, x, 24, t, 4, 2, NULL), GF_OK);
    double before[8], after[8];
    int64_t nb = 0, na = 0;
    assert_int_equal(gf_diag_series(d, 0, GF_SERIES_DELTA_TIME_NORM, before, 8, &nb), GF_OK);
    assert_int_equal(nb, 4);
    float big[16]; /* the top layer: 8 flattened features -> 2 */
    for (int i = 0; i < 16; i++)
        big[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(net, 2), big, 16), GF_OK);
    float x1[12];
    memcpy(x1, x, sizeof x1);
    assert_int_equal(gf_net_train_step(net, x1, 12, t, 2, 1, NULL), GF_ERR_NONFINITE);
    assert_int_equal(gf_diag_series(d, 0, GF_SERIES_DELTA_TIME_NORM, after, 8, &na), GF_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(after, before, (size_t)nb * sizeof *before);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

/* gf_net_fit_v2 splits, shuffles and schedules before its first step: a fit whose first step fails puts the
 * generator and the rate back, so it matches a net that never tried. */
static void test_a_fit_v2_whose_first_step_fails_leaves_the_generator_and_rate(void **state)
{
    (void)state;
    float x[16 * 3], t[16 * 2];
    fit_data(x, t);
    gf_net *a = small_net(21), *b = small_net(21);
    gf_fit *fit;
    assert_int_equal(gf_fit_create(&fit), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_EPOCHS, 2), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_BATCH, 4), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_VALIDATION_SPLIT, 0.25), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_PROGRESS, 0), GF_OK);
    gf_net *both[2] = {a, b};
    for (int k = 0; k < 2; k++)
        assert_int_equal(gf_net_set_clip(both[k], GF_CLIP_NORM, 1.0), GF_OK);
    float w[8], big[8];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(a, 1), w, 8), GF_OK);
    for (int i = 0; i < 8; i++)
        big[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(a, 1), big, 8), GF_OK);
    assert_int_equal(gf_net_fit_v2(a, x, 48, t, 32, 16, fit), GF_ERR_NONFINITE);
    assert_int_equal(gf_net_steps(a), 0);
    assert_int_equal(gf_layer_set_weights(gf_net_layer(a, 1), w, 8), GF_OK);
    assert_int_equal(gf_layer_set_weights(gf_net_layer(b, 1), w, 8), GF_OK);
    for (int k = 0; k < 2; k++)
        assert_int_equal(gf_net_fit_v2(both[k], x, 48, t, 32, 16, fit), GF_OK);
    float pa[26], pb[26];
    get_params(a, pa);
    get_params(b, pb);
    assert_memory_equal(pa, pb, sizeof pa);
    gf_fit_destroy(fit);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

/* Found by the fuzzer (UBSan, make check SANITIZE=1): restoring the best weights of a net without parameters
 * copied to and from its NULL arena. */
static void test_a_fit_v2_restoring_the_best_weights_of_a_net_without_parameters_succeeds(void **state)
{
    (void)state;
    const int64_t dims[2] = {2, 2};
    gf_net *net;
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    gf_fit *fit;
    assert_int_equal(gf_fit_create(&fit), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_EPOCHS, 2), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_RESTORE_BEST, 1), GF_OK);
    assert_int_equal(gf_fit_set(fit, GF_FIT_PROGRESS, 0), GF_OK);
    const float x[3 * 4] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    assert_int_equal(gf_net_fit_v2(net, x, 12, x, 12, 3, fit), GF_OK);
    assert_int_equal(gf_net_epoch_count(net), 2);
    gf_fit_destroy(fit);
    gf_net_destroy(net);
}

/* Found by the fuzzer (UBSan; CI's model fuzzer found the same in a loaded file): conv and pooling sizes near
 * the options' 2^62 limit overflowed int64 while the layer was being shaped; they are refused instead. */
static void test_conv_and_pooling_sizes_at_the_option_limit_are_refused_without_overflow(void **state)
{
    (void)state;
    const int64_t image[3] = {2, 4, 4};
    gf_net *net;
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, image, 3, 1), GF_OK);
    const double huge = 4611686018427387904.0, big = 1099511627777.0; /* 2^62, 2^40 + 1 */
    const int32_t conv_keys[] = {GF_LAYER_KERNEL_H, GF_LAYER_KERNEL_W, GF_LAYER_DILATION_H, GF_LAYER_PAD_W};
    const double conv_values[][4] = {{big, big, 1, 0}, {3, 3, huge, 0}, {3, 3, 1, huge}};
    for (int k = 0; k < 3; k++) {
        gf_layer *l;
        assert_int_equal(gf_layer_create(&l, GF_LAYER_CONV2D), GF_OK);
        assert_int_equal(gf_layer_set_option(l, GF_LAYER_OUTPUTS, 2), GF_OK);
        for (int i = 0; i < 4; i++)
            assert_int_equal(gf_layer_set_option(l, conv_keys[i], conv_values[k][i]), GF_OK);
        int rc = gf_net_add(net, l);
        assert_true(rc == GF_ERR_SHAPE || rc == GF_ERR_OVERFLOW || rc == GF_ERR_NOMEM);
        gf_layer_destroy(l);
    }
    gf_layer *p;
    assert_int_equal(gf_layer_create(&p, GF_LAYER_MAXPOOL2D), GF_OK);
    assert_int_equal(gf_layer_set_option(p, GF_LAYER_KERNEL_H, huge), GF_OK);
    assert_int_equal(gf_layer_set_option(p, GF_LAYER_KERNEL_W, 2), GF_OK);
    assert_int_equal(gf_layer_set_option(p, GF_LAYER_PAD_H, huge), GF_OK);
    int prc = gf_net_add(net, p);
    assert_true(prc == GF_ERR_INVALID || prc == GF_ERR_OVERFLOW);
    gf_layer_destroy(p);
    assert_int_equal(gf_net_layer_count(net), 0);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_second_step_without_a_new_backward_is_a_state_error),
        cmocka_unit_test(test_a_step_after_train_step_needs_a_new_backward),
        cmocka_unit_test(test_layer_copies_refuse_every_other_handle_kind_before_reading_it),
        cmocka_unit_test(test_reinit_of_a_net_without_layers_succeeds_and_changes_only_the_seed),
        cmocka_unit_test(test_a_train_step_out_of_memory_for_adams_moments_changes_nothing),
        cmocka_unit_test(test_a_train_step_whose_clipping_meets_infinite_gradients_changes_nothing),
        cmocka_unit_test(test_a_fit_that_ran_out_of_memory_retries_to_the_same_weights),
        cmocka_unit_test(test_every_destroy_ignores_a_live_handle_of_another_kind),
        cmocka_unit_test(test_destroying_a_nets_own_layer_or_optimizer_is_ignored_any_number_of_times),
        cmocka_unit_test(test_a_net_and_its_diag_may_be_destroyed_in_either_order),
        cmocka_unit_test(test_a_step_the_guard_refuses_creates_no_optimizer),
        cmocka_unit_test(test_a_failed_train_step_keeps_the_per_step_series),
        cmocka_unit_test(test_a_fit_v2_whose_first_step_fails_leaves_the_generator_and_rate),
        cmocka_unit_test(test_a_fit_v2_restoring_the_best_weights_of_a_net_without_parameters_succeeds),
        cmocka_unit_test(test_conv_and_pooling_sizes_at_the_option_limit_are_refused_without_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
