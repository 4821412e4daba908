/*
 * threadpool.c — the fixed thread pool (C11 <threads.h>): workers sleep on a
 * condition variable until gfi_pool_run publishes a new job generation, run
 * it, and the last one to finish wakes the caller.  Builds without C11
 * threads get a pool that only ever has the calling thread.
 */
#include "threadpool.h"

#ifndef __STDC_NO_THREADS__
#include <threads.h>
#endif

typedef void (*pool_fn)(void *arg, int tid, int nthreads);

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
    mtx_t mu;     /* guards everything below */
    cnd_t wake;   /* workers: a new generation, or quit */
    cnd_t done;   /* caller: pending reached 0 */
    pool_fn fn;
    void *arg;
    uint64_t generation;
    int pending; /* workers still running the current generation */
    bool quit;
    struct pool_worker workers[GFI_POOL_MAX_THREADS - 1];
#endif
};

#ifndef __STDC_NO_THREADS__
static int worker_main(void *p)
{
    struct pool_worker *w = p;
    struct gfi_pool *pool = w->pool;
    uint64_t seen = 0;
    mtx_lock(&pool->mu);
    for (;;) {
        while (!pool->quit && pool->generation == seen)
            cnd_wait(&pool->wake, &pool->mu);
        if (pool->quit)
            break;
        seen = pool->generation;
        pool_fn fn = pool->fn;
        void *arg = pool->arg;
        mtx_unlock(&pool->mu);
        fn(arg, w->tid, pool->nthreads);
        mtx_lock(&pool->mu);
        if (--pool->pending == 0)
            cnd_signal(&pool->done);
    }
    mtx_unlock(&pool->mu);
    return 0;
}

/* Stops and joins the first nworkers workers. */
static void stop_workers(struct gfi_pool *pool, int nworkers)
{
    mtx_lock(&pool->mu);
    pool->quit = true;
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
    mtx_lock(&pool->mu);
    pool->fn = fn;
    pool->arg = arg;
    pool->pending = pool->nthreads - 1;
    pool->generation++;
    cnd_broadcast(&pool->wake);
    mtx_unlock(&pool->mu);

    fn(arg, 0, pool->nthreads);

    mtx_lock(&pool->mu);
    while (pool->pending > 0)
        cnd_wait(&pool->done, &pool->mu);
    mtx_unlock(&pool->mu);
    mtx_unlock(&pool->run_mu);
#endif
}
