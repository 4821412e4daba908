/*
 * threadpool.c — the fixed thread pool (C11 <threads.h>): gfi_pool_run
 * publishes a new job generation, workers run it, and the last one to finish
 * tells the caller.  A training step runs several products back to back, so
 * workers (and the waiting caller) first spin briefly on the atomic
 * generation / pending count and only then sleep on a condition variable;
 * a sleeper is woken only when it announced itself (the sleepers / waiting
 * counters), so a run where nobody slept takes no lock at all.  Builds
 * without C11 threads get a pool that only ever has the calling thread.
 */
#include "threadpool.h"

#ifndef __STDC_NO_THREADS__
#include <stdatomic.h>
#include <threads.h>
#endif

/* Spin iterations before sleeping: about 0.3 ms where a pause takes ~40 ns,
 * about 80 us where it takes 10 ns (measured on the same guest type in a
 * later session; 30000 spins there, ~0.3 ms, made 15x fewer threads sleep
 * but no difference in steps/s, see docs/performance.md).  A
 * training step runs a product every few tens of microseconds with
 * element-wise passes in between; a worker that falls asleep between them
 * costs a futex wake-up (~50 us in this VM) per product.  Measured on the
 * quiet 2-core guest (2 threads, steps/s): spin 300 -> deep 107, mnist 310;
 * 2000 -> 248, 349; 8000 -> 264, 370.  Earlier rounds kept 300 because a
 * long spin loses when another process holds a core (the spinner burns the
 * time slice the awaited thread needs: deep 110-118 vs 182-195 steps/s with
 * a 2000 spin), so machines shared with other busy processes are better
 * served by one thread. */
#define POOL_SPIN 8000

static inline void cpu_relax(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_ia32_pause();
#endif
}

typedef void (*pool_fn)(void *arg, int tid, int nthreads);

#ifndef __STDC_NO_THREADS__
/* The two wake-up handshakes below are Dekker pairs: each side writes its own
 * flag, then reads the other's, and a sleeper may only be missed if both
 * reads come before both writes.  Sequentially consistent atomics already
 * forbid that, but a full fence between the write and the read states it
 * where it matters and holds even where seq_cst accesses are weaker than
 * C11 says: qemu 7.2 running AArch64 code on an x86 host lets a
 * store-release pass a later load-acquire, and the pool then lost a wake-up
 * in about one run of test_pool in twenty.  A fence per handshake costs
 * nothing next to a pool run. */
static inline void handshake_fence(void) { atomic_thread_fence(memory_order_seq_cst); }
#endif

#ifndef __STDC_NO_THREADS__
struct pool_worker {
    struct gfi_pool *pool;
    int tid;
    thrd_t thread;
};
#endif

struct gfi_pool {
    int nthreads;
#ifndef __STDC_NO_THREADS__
    mtx_t run_mu; /* one run at a time */
    mtx_t mu;     /* guards the condition variables' waits */
    cnd_t wake;   /* workers: a new generation, or quit */
    cnd_t done;   /* caller: pending reached 0 */
    /* fn and arg are written before generation is bumped (release) and read
     * after it is seen (acquire); the next run writes them only after every
     * worker has counted itself out of pending. */
    pool_fn fn;
    void *arg;
    atomic_uint_fast64_t generation;
    atomic_int pending;  /* workers still running the current generation */
    atomic_int sleepers; /* workers asleep (or about to be) on wake */
    atomic_int waiting;  /* 1 while the caller sleeps (or is about to) on done */
    atomic_bool quit;
    struct pool_worker workers[GFI_POOL_MAX_THREADS - 1];
#endif
};

#ifndef __STDC_NO_THREADS__
/* Waits until generation differs from seen (or quit): spins, then sleeps.
 * The sleeper counts itself before its last check, and the caller bumps
 * generation before it reads the count (both sequentially consistent), so
 * either the worker sees the new generation or the caller sees the sleeper
 * and broadcasts under the mutex. */
static uint64_t wait_generation(struct gfi_pool *pool, uint64_t seen)
{
    for (int i = 0; i < POOL_SPIN; i++) {
        uint64_t g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load_explicit(&pool->quit, memory_order_relaxed))
            return g;
        cpu_relax();
    }
    mtx_lock(&pool->mu);
    atomic_fetch_add(&pool->sleepers, 1);
    handshake_fence();
    uint64_t g;
    while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->quit))
        cnd_wait(&pool->wake, &pool->mu);
    atomic_fetch_sub(&pool->sleepers, 1);
    mtx_unlock(&pool->mu);
    return g;
}

static int worker_main(void *p)
{
    struct pool_worker *w = p;
    struct gfi_pool *pool = w->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_generation(pool, seen);
        if (atomic_load(&pool->quit))
            break;
        pool->fn(pool->arg, w->tid, pool->nthreads);
        /* The last one out wakes the caller if it went to sleep (same
         * handshake as wait_generation, on pending / waiting). */
        bool last = atomic_fetch_sub(&pool->pending, 1) == 1;
        if (last)
            handshake_fence();
        if (last && atomic_load(&pool->waiting)) {
            mtx_lock(&pool->mu);
            cnd_signal(&pool->done);
            mtx_unlock(&pool->mu);
        }
    }
    return 0;
}

/* Stops and joins the first nworkers workers. */
static void stop_workers(struct gfi_pool *pool, int nworkers)
{
    mtx_lock(&pool->mu);
    atomic_store(&pool->quit, true);
    cnd_broadcast(&pool->wake);
    mtx_unlock(&pool->mu);
    for (int i = 0; i < nworkers; i++)
        thrd_join(pool->workers[i].thread, NULL);
}

/* Initialises the synchronisation objects; on failure none is left alive. */
static int init_sync(struct gfi_pool *pool)
{
    if (mtx_init(&pool->run_mu, mtx_plain) != thrd_success)
        return GF_ERR_UNSUPPORTED;
    if (mtx_init(&pool->mu, mtx_plain) != thrd_success)
        goto fail_mu;
    if (cnd_init(&pool->wake) != thrd_success)
        goto fail_wake;
    if (cnd_init(&pool->done) != thrd_success)
        goto fail_done;
    return GF_OK;
fail_done:
    cnd_destroy(&pool->wake);
fail_wake:
    mtx_destroy(&pool->mu);
fail_mu:
    mtx_destroy(&pool->run_mu);
    return GF_ERR_UNSUPPORTED;
}

static void destroy_sync(struct gfi_pool *pool)
{
    cnd_destroy(&pool->done);
    cnd_destroy(&pool->wake);
    mtx_destroy(&pool->mu);
    mtx_destroy(&pool->run_mu);
}
#endif

int gfi_pool_create(struct gfi_pool **out, int nthreads)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gfi_pool_create: out is NULL");
    if (nthreads < 1 || nthreads > GFI_POOL_MAX_THREADS)
        return gfi_fail(GF_ERR_INVALID, "gfi_pool_create: nthreads must be 1..%d (got %d)", GFI_POOL_MAX_THREADS,
                        nthreads);
#ifdef __STDC_NO_THREADS__
    if (nthreads > 1)
        return gfi_fail(GF_ERR_UNSUPPORTED, "gfi_pool_create: this build has no C11 threads (asked for %d)",
                        nthreads);
#endif
    struct gfi_pool *pool = gfi_calloc(1, sizeof *pool);
    if (!pool)
        return gfi_fail(GF_ERR_NOMEM, "gfi_pool_create: out of memory for the pool");
    pool->nthreads = nthreads;
#ifndef __STDC_NO_THREADS__
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->waiting, 0);
    atomic_init(&pool->quit, false);
    if (init_sync(pool) != GF_OK) {
        gfi_free(pool);
        return gfi_fail(GF_ERR_UNSUPPORTED, "gfi_pool_create: cannot initialise a mutex or condition variable");
    }
    for (int i = 0; i < nthreads - 1; i++) {
        struct pool_worker *w = &pool->workers[i];
        w->pool = pool;
        w->tid = i + 1;
        int rc = thrd_create(&w->thread, worker_main, w);
        if (rc != thrd_success) {
            stop_workers(pool, i);
            destroy_sync(pool);
            gfi_free(pool);
            return gfi_fail(rc == thrd_nomem ? GF_ERR_NOMEM : GF_ERR_UNSUPPORTED,
                            "gfi_pool_create: cannot start worker thread %d of %d", i + 1, nthreads - 1);
        }
    }
#endif
    *out = pool;
    return GF_OK;
}

void gfi_pool_destroy(struct gfi_pool *pool)
{
    if (!pool)
        return;
#ifndef __STDC_NO_THREADS__
    stop_workers(pool, pool->nthreads - 1);
    destroy_sync(pool);
#endif
    gfi_free(pool);
}

int gfi_pool_threads(const struct gfi_pool *pool) { return pool ? pool->nthreads : 1; }

void gfi_pool_run(struct gfi_pool *pool, void (*fn)(void *arg, int tid, int nthreads), void *arg)
{
    if (!fn)
        return;
    if (!pool || pool->nthreads == 1) {
        fn(arg, 0, 1);
        return;
    }
#ifndef __STDC_NO_THREADS__
    mtx_lock(&pool->run_mu);
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->pending, pool->nthreads - 1, memory_order_relaxed);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: publishes fn, arg, pending */
    handshake_fence();
    if (atomic_load(&pool->sleepers) > 0) {
        mtx_lock(&pool->mu);
        cnd_broadcast(&pool->wake);
        mtx_unlock(&pool->mu);
    }

    fn(arg, 0, pool->nthreads);

    int spins = 0;
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0 && spins++ < POOL_SPIN)
        cpu_relax();
    if (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) {
        mtx_lock(&pool->mu);
        atomic_store(&pool->waiting, 1);
        handshake_fence();
        while (atomic_load(&pool->pending) > 0)
            cnd_wait(&pool->done, &pool->mu);
        atomic_store(&pool->waiting, 0);
        mtx_unlock(&pool->mu);
    }
    mtx_unlock(&pool->run_mu);
#endif
}
