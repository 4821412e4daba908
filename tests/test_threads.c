/* test_threads.c — separate handles on separate threads at once (the C thread contract, docs/api.md): four nets
 * trained on four threads, each with its own two-thread pool, give bit for bit the weights of the same nets
 * trained one after another; the error message is per thread.  `make check TSAN=1` runs this suite and
 * test_pool under ThreadSanitizer. */
#define _POSIX_C_SOURCE 200809L /* pthreads: ThreadSanitizer intercepts them, not C11 thrd_* */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

enum { NETS = 4, IN = 64, HID = 256, OUT = 10, BATCH = 64, STEPS = 4 };
static float X[BATCH * IN], Y[BATCH * OUT];

typedef struct {
    uint64_t seed;
    int32_t threads;
    float *params; /* out: every weight and bias, flat */
    int64_t nparams;
    int rc;
} job;

/* Builds and trains one net (with diagnostics and Adam, the pool splitting the 64x256x256 products). */
static void *train_one(void *arg)
{
    job *j = arg;
    gf_net *net;
    gf_diag *d;
    gf_optimizer *adam;
    int rc = gf_net_create(&net, IN, j->seed);
    rc = rc ? rc : gf_net_add_dense(net, HID, GF_ACT_RELU, NULL);
    rc = rc ? rc : gf_net_add_dense(net, HID, GF_ACT_TANH, NULL);
    rc = rc ? rc : gf_net_add_dense(net, OUT, GF_ACT_IDENTITY, NULL);
    rc = rc ? rc : gf_optimizer_create(&adam, GF_OPT_ADAM, 1e-3);
    rc = rc ? rc : gf_net_set_optimizer(net, adam);
    rc = rc ? rc : gf_net_set_threads(net, j->threads);
    rc = rc ? rc : gf_diag_create(&d, net);
    for (int s = 0; s < STEPS && !rc; s++)
        rc = gf_net_train_step(net, X, BATCH * IN, Y, BATCH * OUT, BATCH, NULL);
    j->nparams = gf_net_param_count(net);
    j->params = malloc((size_t)j->nparams * sizeof(float));
    size_t off = 0;
    for (int32_t i = 0; i < gf_net_layer_count(net) && !rc; i++) {
        gf_layer *l = gf_net_layer(net, i);
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
        rc = gf_layer_get_weights(l, j->params + off, nw);
        rc = rc ? rc : gf_layer_get_bias(l, j->params + off + nw, nb);
        off += nw + nb;
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
    j->rc = rc;
    return NULL;
}

static void make_data(void)
{
    for (int i = 0; i < BATCH * IN; i++)
        X[i] = (float)sin(0.13 * i);
    for (int i = 0; i < BATCH * OUT; i++)
        Y[i] = (float)cos(0.07 * i);
}

static void test_four_nets_on_four_threads_match_a_sequential_run_bit_for_bit(void **state)
{
    (void)state;
    make_data();
    job par[NETS], seq[NETS];
    pthread_t t[NETS];
    for (int i = 0; i < NETS; i++) {
        par[i] = (job){.seed = 100 + (uint64_t)i, .threads = 2};
        seq[i] = (job){.seed = 100 + (uint64_t)i, .threads = 1};
        assert_int_equal(pthread_create(&t[i], NULL, train_one, &par[i]), 0);
    }
    for (int i = 0; i < NETS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < NETS; i++) {
        train_one(&seq[i]);
        assert_int_equal(par[i].rc, GF_OK);
        assert_int_equal(seq[i].rc, GF_OK);
        assert_int_equal(par[i].nparams, seq[i].nparams);
        assert_memory_equal(par[i].params, seq[i].params, (size_t)seq[i].nparams * sizeof(float));
        free(par[i].params);
        free(seq[i].params);
    }
    assert_int_equal(gf_live_allocations(), 0);
}

/* Each thread fails its own way, many times, while the other does too. */
typedef struct {
    int which;
    int wrong; /* messages that were the other thread's */
} failer;

static void *fail_repeatedly(void *arg)
{
    failer *f = arg;
    const char *mine = f->which ? "inputs must be positive" : "out is NULL";
    for (int k = 0; k < 2000; k++) {
        gf_net *net = NULL;
        int rc = f->which ? gf_net_create(&net, -1, 1) : gf_net_create(NULL, 1, 1);
        if (rc == GF_OK || !strstr(gf_last_error(), mine))
            f->wrong++;
    }
    return NULL;
}

static void test_the_error_message_belongs_to_the_thread_that_failed(void **state)
{
    (void)state;
    failer f[2] = {{0, 0}, {1, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, fail_repeatedly, &f[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(f[0].wrong, 0);
    assert_int_equal(f[1].wrong, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_nets_on_four_threads_match_a_sequential_run_bit_for_bit),
        cmocka_unit_test(test_the_error_message_belongs_to_the_thread_that_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
