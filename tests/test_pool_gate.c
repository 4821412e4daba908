/*
 * test_pool_gate.c — the gate that decides whether a training step uses the
 * thread pool: which steps it times, when it closes (two pooled steps in a
 * row no faster than the last one-thread step), for how long, and when it opens again; and
 * that a net training on two threads beside processes spinning on every core
 * gives the weights one thread gives.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "internal.h"
#include "pool_gate.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Steps the gate lets onto the pool among the next n; *measured counts those it asks to time. */
static int pooled_of_next(gfi_pool_gate *g, int n, int *measured)
{
    int pooled = 0;
    *measured = 0;
    for (int i = 0; i < n; i++) {
        bool use, measure;
        gfi_gate_next(g, &use, &measure);
        pooled += use;
        *measured += measure;
    }
    return pooled;
}

/* A gate that has timed a one-thread step of batch 64 taking `one` seconds, and is at its next pooled
 * timing. */
static gfi_pool_gate calibrated_at(double one)
{
    gfi_pool_gate g = {0};
    bool use, measure;
    gfi_gate_next(&g, &use, &measure);
    assert_true(!use && measure);
    gfi_gate_record(&g, 64, false, one);
    gfi_gate_next(&g, &use, &measure);
    assert_true(use && measure);
    return g;
}

/* The same with a one-thread step of 10 ms. */
static gfi_pool_gate calibrated(void) { return calibrated_at(0.010); }

static void test_open_gate_times_one_pooled_step_in_a_sample_and_one_lone_step_in_a_cycle(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 64, true, 0.005);
    int measured;
    int pooled = pooled_of_next(&g, GFI_GATE_CALIBRATE, &measured);
    assert_int_equal(pooled, GFI_GATE_CALIBRATE - 1);
    assert_int_equal(measured, GFI_GATE_CALIBRATE / GFI_GATE_SAMPLE + 1);
}

static void test_pool_that_pays_keeps_the_gate_open(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 64, true, 0.0055);
    assert_int_equal(g.skip, 0);
}

static void test_pool_no_faster_than_one_thread_closes_the_gate_then_probes(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 64, true, 0.030); /* a worker the system did not run ... */
    assert_int_equal(g.skip, 0);
    gfi_gate_record(&g, 64, true, 0.030); /* ... twice in a row */
    int measured;
    assert_int_equal(pooled_of_next(&g, GFI_GATE_MIN_SKIP - 1, &measured), 0);
    bool use, measure;
    gfi_gate_next(&g, &use, &measure);
    assert_true(!use && measure); /* the last lone step is timed ... */
    gfi_gate_record(&g, 64, false, 0.010);
    gfi_gate_next(&g, &use, &measure);
    assert_true(use && measure); /* ... and the next one probes the pool */
}

static void test_one_slow_pooled_step_between_fast_ones_keeps_the_gate_open(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    for (int i = 0; i < 5; i++) {
        gfi_gate_record(&g, 64, true, 0.030); /* a page fault, or a worker waking after a pause */
        gfi_gate_record(&g, 64, true, 0.005);
    }
    assert_int_equal(g.skip, 0);
    assert_int_equal(g.backoff, 0);
}

static void test_slow_probe_closes_again_without_a_second_strike(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 64, true, 0.030);
    gfi_gate_record(&g, 64, true, 0.030);
    int measured;
    pooled_of_next(&g, GFI_GATE_MIN_SKIP + 1, &measured);
    gfi_gate_record(&g, 64, true, 0.030); /* the probe */
    assert_int_equal(g.skip, 2 * GFI_GATE_MIN_SKIP);
}

static void test_closures_in_a_row_double_up_to_the_limit(void **state)
{
    (void)state;
    /* one-thread steps of 100 us: GFI_GATE_MAX_CLOSED would allow 10,000 of them */
    gfi_pool_gate g = calibrated_at(100e-6);
    uint32_t expect = GFI_GATE_MIN_SKIP;
    gfi_gate_record(&g, 64, true, 0.030); /* the first strike; every later record is a probe's */
    for (int round = 0; round < 12; round++) {
        gfi_gate_record(&g, 64, true, 0.030);
        assert_int_equal(g.skip, expect);
        int measured;
        pooled_of_next(&g, (int)expect, &measured);
        bool use, measure;
        gfi_gate_next(&g, &use, &measure); /* the probe */
        assert_true(use && measure);
        expect = expect * 2 > GFI_GATE_MAX_SKIP ? GFI_GATE_MAX_SKIP : expect * 2;
    }
}

/* Closures of long steps stop doubling at about GFI_GATE_MAX_CLOSED seconds of one-thread steps (4.3 ms
 * steps: 232 steps, not 4096), so a burst of load costs the pool a second at most. */
static void test_closures_of_long_steps_last_at_most_a_second(void **state)
{
    (void)state;
    gfi_pool_gate g = {0};
    bool use, measure;
    gfi_gate_next(&g, &use, &measure);
    gfi_gate_record(&g, 128, false, 4.3e-3);
    gfi_gate_record(&g, 128, true, 4.3e-3);
    gfi_gate_record(&g, 128, true, 4.3e-3);
    uint32_t most = (uint32_t)(GFI_GATE_MAX_CLOSED / 4.3e-3), expect = GFI_GATE_MIN_SKIP;
    for (int round = 0; round < 12; round++) {
        assert_int_equal(g.skip, expect);
        for (uint32_t i = 0; i < expect; i++)
            gfi_gate_next(&g, &use, &measure);
        gfi_gate_record(&g, 128, false, 4.3e-3);
        gfi_gate_next(&g, &use, &measure); /* the probe, slow */
        gfi_gate_record(&g, 128, true, 4.3e-3);
        expect = expect * 2 > most ? most : expect * 2;
    }
    assert_int_equal(g.skip, most);
}

static void test_probe_that_pays_resets_the_closure_length(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 64, true, 0.030);
    gfi_gate_record(&g, 64, true, 0.030);
    int measured;
    pooled_of_next(&g, GFI_GATE_MIN_SKIP + 1, &measured);
    gfi_gate_record(&g, 64, true, 0.005);
    assert_int_equal(g.backoff, 0);
    assert_int_equal(g.skip, 0);
}

static void test_pooled_step_of_another_batch_asks_for_a_lone_timing_instead_of_judging(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 32, true, 0.030);
    assert_int_equal(g.skip, 0);
    bool use, measure;
    gfi_gate_next(&g, &use, &measure);
    assert_true(!use && measure);
}

static void test_steps_too_short_to_judge_change_nothing(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated();
    gfi_gate_record(&g, 64, true, GFI_GATE_MIN_WALL / 2);
    gfi_gate_record(&g, 64, true, NAN);
    assert_int_equal(g.skip, 0);
    assert_true(g.one_wall == 0.010);
}

/* A gate that has timed two one-thread steps of batch 32 taking 30 us each (one window). */
static gfi_pool_gate calibrated_short(void)
{
    gfi_pool_gate g = {0};
    gfi_gate_record(&g, 32, false, 30e-6);
    assert_true(g.one_wall == 0.0);
    gfi_gate_record(&g, 32, false, 30e-6);
    assert_true(g.one_batch == 32 && g.one_wall == 30e-6);
    return g;
}

/* Pooled steps of `us` microseconds until one window of them is judged. */
static void pooled_window(gfi_pool_gate *g, double us)
{
    int n = (int)(GFI_GATE_WINDOW / (us * 1e-6)) + 1;
    for (int i = 0; i < n; i++)
        gfi_gate_record(g, 32, true, us * 1e-6);
}

static void test_short_pooled_steps_slower_than_short_lone_ones_close_the_gate(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated_short();
    /* 40 us against 30: two windows, two strikes. */
    pooled_window(&g, 40);
    assert_int_equal(g.skip, 0);
    assert_int_equal(g.strikes, 1);
    pooled_window(&g, 40);
    assert_int_equal(g.skip, GFI_GATE_MIN_SKIP);
}

static void test_short_pooled_steps_faster_than_short_lone_ones_keep_the_gate_open(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated_short();
    for (int i = 0; i < 40; i++)
        gfi_gate_record(&g, 32, true, 22e-6);
    assert_int_equal(g.skip, 0);
    assert_int_equal(g.strikes, 0);
}

static void test_a_short_window_is_judged_by_its_fastest_step(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated_short();
    /* A worker waking after a one-thread step holds up the first steps of each window. */
    for (int w = 0; w < 6; w++) {
        gfi_gate_record(&g, 32, true, 90e-6);
        gfi_gate_record(&g, 32, true, 90e-6);
        for (int i = 0; i < 4; i++) /* 2 x 90 + 4 x 22 us: one window */
            gfi_gate_record(&g, 32, true, 22e-6);
    }
    assert_int_equal(g.strikes, 0);
    assert_int_equal(g.skip, 0);
}

static void test_a_probe_of_short_steps_is_judged_after_the_workers_had_time_to_wake(void **state)
{
    (void)state;
    gfi_pool_gate g = calibrated_short();
    pooled_window(&g, 40);
    pooled_window(&g, 40);
    assert_int_equal(g.skip, GFI_GATE_MIN_SKIP);
    bool use, measure;
    for (uint32_t i = 0; i < GFI_GATE_MIN_SKIP; i++)
        gfi_gate_next(&g, &use, &measure);
    gfi_gate_record(&g, 32, false, 30e-6);
    gfi_gate_next(&g, &use, &measure);
    assert_true(use && measure); /* the probe */
    /* The first ~2 ms of pooled steps wait for a sleeping vCPU: not judged. */
    for (int i = 0; i < 6; i++)
        gfi_gate_record(&g, 32, true, 90e-6);
    assert_int_equal(g.skip, 0);
    pooled_window(&g, 22);
    assert_int_equal(g.skip, 0);
    assert_int_equal(g.backoff, 0); /* the pool pays again */
}

/* 256-128-4 tanh, batch 64 (the first layer's products shared out), 12 steps on `threads` threads (while
 * `spinners` processes spin); layer 0's weights into w. */
static void train_deepish(int32_t threads, int spinners, float *w, size_t n)
{
    pid_t pid[4] = {0};
    for (int i = 0; i < spinners && i < 4; i++)
        if ((pid[i] = fork()) == 0)
            for (volatile unsigned long spin = 0;; spin++)
                ;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 256, 9), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 128, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_set_threads(net, threads), GF_OK);
    static float x[64 * 256], t[64 * 4];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = sinf((float)i * 0.11f);
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        t[i] = cosf((float)i);
    for (int s = 0; s < 12; s++)
        assert_int_equal(gf_net_train_step(net, x, 64 * 256, t, 64 * 4, 64, NULL), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w, n), GF_OK);
    gf_net_destroy(net);
    for (int i = 0; i < spinners && i < 4; i++)
        if (pid[i] > 0) {
            kill(pid[i], SIGKILL);
            waitpid(pid[i], NULL, 0);
        }
}

static void test_two_threads_beside_busy_processes_match_one_thread(void **state)
{
    (void)state;
    static float one[128 * 256], two[128 * 256];
    train_deepish(1, 0, one, 128 * 256);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    train_deepish(2, cores > 0 && cores < 4 ? (int)cores : 4, two, 128 * 256);
    assert_memory_equal(one, two, sizeof one);
}

/* Trains one step of net on two threads with inputs and targets of zeros; returns the gate's position. */
static uint32_t gate_count_after_a_step(gf_net *net, int64_t batch)
{
    assert_int_equal(gf_net_set_threads(net, 2), GF_OK);
    size_t nx = (size_t)(batch * gf_net_input_size(net)), nt = (size_t)(batch * gf_net_target_size(net));
    float *x = calloc(nx, sizeof *x), *t = calloc(nt, sizeof *t);
    assert_non_null(x);
    assert_non_null(t);
    assert_int_equal(gf_net_train_step(net, x, nx, t, nt, batch, NULL), GF_OK);
    free(x);
    free(t);
    return net->gate.count;
}

/* Few weights applied at 200 time steps: the work of the step is the steps' (6 x 37 parameters x batch 4 x 200
 * = 178k), over the floor below which steps are never gated, so the gate sees it. */
static void test_a_small_recurrent_net_over_many_steps_is_gated(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t dims[2] = {200, 2};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_rnn(net, 4, GF_ACT_TANH, 0, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gate_count_after_a_step(net, 4), 1);
    gf_net_destroy(net);
}

/* The same parameters on vectors: 6 x 17 x 4 = 408, a step no pass of which the pool takes, is not gated. */
static void test_a_tiny_vector_net_is_not_gated(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gate_count_after_a_step(net, 4), 0);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_gate_times_one_pooled_step_in_a_sample_and_one_lone_step_in_a_cycle),
        cmocka_unit_test(test_pool_that_pays_keeps_the_gate_open),
        cmocka_unit_test(test_pool_no_faster_than_one_thread_closes_the_gate_then_probes),
        cmocka_unit_test(test_one_slow_pooled_step_between_fast_ones_keeps_the_gate_open),
        cmocka_unit_test(test_slow_probe_closes_again_without_a_second_strike),
        cmocka_unit_test(test_closures_in_a_row_double_up_to_the_limit),
        cmocka_unit_test(test_closures_of_long_steps_last_at_most_a_second),
        cmocka_unit_test(test_probe_that_pays_resets_the_closure_length),
        cmocka_unit_test(test_pooled_step_of_another_batch_asks_for_a_lone_timing_instead_of_judging),
        cmocka_unit_test(test_steps_too_short_to_judge_change_nothing),
        cmocka_unit_test(test_short_pooled_steps_slower_than_short_lone_ones_close_the_gate),
        cmocka_unit_test(test_short_pooled_steps_faster_than_short_lone_ones_keep_the_gate_open),
        cmocka_unit_test(test_a_short_window_is_judged_by_its_fastest_step),
        cmocka_unit_test(test_a_probe_of_short_steps_is_judged_after_the_workers_had_time_to_wake),
        cmocka_unit_test(test_two_threads_beside_busy_processes_match_one_thread),
        cmocka_unit_test(test_a_small_recurrent_net_over_many_steps_is_gated),
        cmocka_unit_test(test_a_tiny_vector_net_is_not_gated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
