/*
 * test_pool.c — the thread pool: fn runs once on each of exactly nthreads
 * distinct tids, the caller is tid 0, run waits for everyone, the caller
 * takes over a share whose worker is not running, no allocation per run,
 * argument checks and allocation failure.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads (ThreadSanitizer intercepts them, not C11 thrd_*), nanosleep */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "threadpool.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

typedef struct tally {
    atomic_int calls[GFI_POOL_MAX_THREADS];
    atomic_int bad_nthreads; /* calls that saw a wrong nthreads or tid */
    int expect;
    pthread_t tid0_thread;
    atomic_int tid0_seen;
} tally;

static void count_call(void *arg, int tid, int nthreads)
{
    tally *t = arg;
    if (nthreads != t->expect || tid < 0 || tid >= nthreads) {
        atomic_fetch_add(&t->bad_nthreads, 1);
        return;
    }
    atomic_fetch_add(&t->calls[tid], 1);
    if (tid == 0) {
        t->tid0_thread = pthread_self();
        atomic_store(&t->tid0_seen, 1);
    }
}

static void check_runs_once_per_tid(int nthreads, int runs)
{
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, nthreads), GF_OK);
    assert_int_equal(gfi_pool_threads(pool), nthreads);
    tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->expect = nthreads;
    for (int r = 0; r < runs; r++)
        gfi_pool_run(pool, count_call, t);
    gfi_pool_destroy(pool);
    assert_int_equal(atomic_load(&t->bad_nthreads), 0);
    for (int i = 0; i < GFI_POOL_MAX_THREADS; i++)
        assert_int_equal(atomic_load(&t->calls[i]), i < nthreads ? runs : 0);
    free(t);
}

static void test_pool_runs_fn_once_on_each_of_nthreads_distinct_tids(void **state)
{
    check_runs_once_per_tid(1, 10);
    check_runs_once_per_tid(2, 500);
    check_runs_once_per_tid(5, 100);
}

static void test_pool_with_64_threads_runs_every_tid(void **state) { check_runs_once_per_tid(GFI_POOL_MAX_THREADS, 3); }

static void test_pool_caller_runs_tid_zero(void **state)
{
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 3), GF_OK);
    tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->expect = 3;
    gfi_pool_run(pool, count_call, t);
    gfi_pool_destroy(pool);
    assert_int_equal(atomic_load(&t->tid0_seen), 1);
    assert_true(pthread_equal(t->tid0_thread, pthread_self()));
    free(t);
}

/* Each thread waits (briefly) before marking its slot: run must not return
 * before every slot is marked. */
typedef struct slow {
    atomic_int done[8];
} slow;

static void slow_call(void *arg, int tid, int nthreads)
{
    (void)nthreads;
    slow *s = arg;
    struct timespec ts = {0, 2000000 * (tid + 1)};
    nanosleep(&ts, NULL);
    atomic_store(&s->done[tid], 1);
}

static void test_pool_run_returns_only_after_every_thread_finished(void **state)
{
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 4), GF_OK);
    for (int r = 0; r < 5; r++) {
        slow s;
        memset(&s, 0, sizeof s);
        gfi_pool_run(pool, slow_call, &s);
        for (int i = 0; i < 4; i++)
            assert_int_equal(atomic_load(&s.done[i]), 1);
    }
    gfi_pool_destroy(pool);
}

static void test_pool_create_rejects_thread_counts_outside_1_to_64(void **state)
{
    struct gfi_pool *pool = (struct gfi_pool *)&pool; /* must stay untouched */
    struct gfi_pool *const sentinel = pool;
    assert_int_equal(gfi_pool_create(&pool, 0), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "gfi_pool_create"));
    assert_int_equal(gfi_pool_create(&pool, -3), GF_ERR_INVALID);
    assert_int_equal(gfi_pool_create(&pool, GFI_POOL_MAX_THREADS + 1), GF_ERR_INVALID);
    assert_ptr_equal(pool, sentinel);
}

static void test_pool_create_with_null_out_fails_with_null(void **state)
{
    assert_int_equal(gfi_pool_create(NULL, 2), GF_ERR_NULL);
}

static void *failing_malloc(void *u, size_t n) { (void)u; (void)n; return NULL; }
static void *failing_realloc(void *u, void *p, size_t n) { (void)u; (void)p; (void)n; return NULL; }
static void plain_free(void *u, void *p) { (void)u; free(p); }

static void test_pool_create_reports_nomem_when_allocator_fails(void **state)
{
    assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, plain_free, NULL), GF_OK);
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_ERR_NOMEM);
    assert_null(pool);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static atomic_long nallocs;
static void *count_malloc(void *u, size_t n) { (void)u; atomic_fetch_add(&nallocs, 1); return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; atomic_fetch_add(&nallocs, 1); return realloc(p, n); }

static void test_pool_run_allocates_nothing_and_destroy_frees_everything(void **state)
{
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, plain_free, NULL), GF_OK);
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 3), GF_OK);
    assert_true(gf_live_allocations() > 0);
    atomic_store(&nallocs, 0);
    tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->expect = 3;
    for (int r = 0; r < 20; r++)
        gfi_pool_run(pool, count_call, t);
    assert_int_equal(atomic_load(&nallocs), 0);
    gfi_pool_destroy(pool);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    free(t);
}

static void test_pool_destroy_null_is_a_no_op_and_null_pool_has_one_thread(void **state)
{
    gfi_pool_destroy(NULL);
    assert_int_equal(gfi_pool_threads(NULL), 1);
    tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->expect = 1;
    gfi_pool_run(NULL, count_call, t); /* runs on the caller as tid 0 of 1 */
    assert_int_equal(atomic_load(&t->calls[0]), 1);
    assert_int_equal(atomic_load(&t->bad_nthreads), 0);
    free(t);
}

/* Two threads sharing one pool: runs are serialised, none is lost. */
typedef struct shared_user {
    struct gfi_pool *pool;
    tally *t;
} shared_user;

static void *run_many(void *arg)
{
    shared_user *u = arg;
    for (int r = 0; r < 200; r++)
        gfi_pool_run(u->pool, count_call, u->t);
    return NULL;
}

static void test_pool_runs_from_two_threads_are_serialised(void **state)
{
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_OK);
    tally *t = calloc(1, sizeof *t);
    assert_non_null(t);
    t->expect = 2;
    shared_user u = {pool, t};
    pthread_t other;
    assert_int_equal(pthread_create(&other, NULL, run_many, &u), 0);
    run_many(&u);
    pthread_join(other, NULL);
    gfi_pool_destroy(pool);
    assert_int_equal(atomic_load(&t->calls[0]), 400);
    assert_int_equal(atomic_load(&t->calls[1]), 400);
    assert_int_equal(atomic_load(&t->bad_nthreads), 0);
    free(t);
}

/* Which thread ran each share; share 0 first sleeps, so that a running
 * worker claims share 1 before the caller is free to. */
typedef struct runners {
    pthread_t thread[2];
    long share0_ns;
} runners;

static void note_runner(void *arg, int tid, int nthreads)
{
    (void)nthreads;
    runners *r = arg;
    if (tid == 0 && r->share0_ns > 0) {
        struct timespec ts = {0, r->share0_ns};
        nanosleep(&ts, NULL);
    }
    r->thread[tid] = pthread_self();
}

/* A worker held in this handler is a worker the OS does not run. */
static atomic_int worker_held, worker_released;

static void hold_worker(int sig)
{
    (void)sig;
    atomic_store(&worker_held, 1);
    while (!atomic_load(&worker_released)) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The pool's worker, found as the thread that ran share 1 while the caller
 * was busy with share 0. */
static pthread_t find_worker(struct gfi_pool *pool)
{
    runners r = {.share0_ns = 20000000};
    for (int tries = 0; tries < 200; tries++) {
        gfi_pool_run(pool, note_runner, &r);
        if (!pthread_equal(r.thread[1], pthread_self()))
            return r.thread[1];
    }
    fail_msg("the worker never ran share 1 in 200 runs of 20 ms");
    return pthread_self();
}

static void test_pool_caller_runs_the_share_of_a_worker_that_is_not_running(void **state)
{
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_OK);
    pthread_t worker = find_worker(pool);
    /* Let the worker go to sleep on the pool's condition variable (it
     * spins well under a millisecond first), then hold it in a signal
     * handler; the pool's lock is not taken while it sleeps. */
    sleep_ms(100);
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = hold_worker;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    atomic_store(&worker_held, 0);
    atomic_store(&worker_released, 0);
    assert_int_equal(pthread_kill(worker, SIGUSR1), 0);
    while (!atomic_load(&worker_held))
        sleep_ms(1);

    alarm(60); /* a pool that waits for the held worker hangs: fail loudly instead */
    runners r = {.share0_ns = 0};
    gfi_pool_run(pool, note_runner, &r);
    alarm(0);
    atomic_store(&worker_released, 1);
    gfi_pool_destroy(pool);
    sigaction(SIGUSR1, &old, NULL);
    assert_true(pthread_equal(r.thread[0], pthread_self()));
    assert_true(pthread_equal(r.thread[1], pthread_self()));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_runs_fn_once_on_each_of_nthreads_distinct_tids),
        cmocka_unit_test(test_pool_with_64_threads_runs_every_tid),
        cmocka_unit_test(test_pool_caller_runs_tid_zero),
        cmocka_unit_test(test_pool_run_returns_only_after_every_thread_finished),
        cmocka_unit_test(test_pool_create_rejects_thread_counts_outside_1_to_64),
        cmocka_unit_test(test_pool_create_with_null_out_fails_with_null),
        cmocka_unit_test(test_pool_create_reports_nomem_when_allocator_fails),
        cmocka_unit_test(test_pool_run_allocates_nothing_and_destroy_frees_everything),
        cmocka_unit_test(test_pool_destroy_null_is_a_no_op_and_null_pool_has_one_thread),
        cmocka_unit_test(test_pool_runs_from_two_threads_are_serialised),
        cmocka_unit_test(test_pool_caller_runs_the_share_of_a_worker_that_is_not_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
