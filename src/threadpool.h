/*
 * threadpool.h — a fixed thread pool for splitting one computation over threads.
 *
 * The workers are created once, with the pool; gfi_pool_run then splits one
 * function into nthreads shares that the threads (the caller included, which
 * always runs share 0) claim one at a time, and returns when every share is
 * done, without creating threads or allocating.  A share nobody has started
 * is taken over by whichever thread is free first, so a worker the OS is not
 * running does not hold the run up.
 */
#ifndef GF_THREADPOOL_H
#define GF_THREADPOOL_H

#include "internal.h"

#define GFI_POOL_MAX_THREADS 64

struct gfi_pool;

/* Creates a pool of nthreads (1..64) threads: the caller plus nthreads-1
 * workers.  GF_ERR_NULL (out NULL), GF_ERR_INVALID (nthreads out of range),
 * GF_ERR_NOMEM, GF_ERR_UNSUPPORTED (threads cannot be created, or this build
 * has no C11 threads and nthreads > 1).  *out is untouched on failure. */
int gfi_pool_create(struct gfi_pool **out, int nthreads);
/* Stops and joins the workers, frees the pool.  NULL is a no-op.  Must not be
 * called while gfi_pool_run is running on the pool. */
void gfi_pool_destroy(struct gfi_pool *pool);
/* Thread count, caller included; 1 for NULL. */
int gfi_pool_threads(const struct gfi_pool *pool);
/* Runs fn(arg, tid, nthreads) once for each share tid 0..nthreads-1 and
 * returns when all have returned.  Share 0 runs on the caller; any other
 * share runs on whichever pool thread claims it first (the caller included,
 * once share 0 is done), so fn must pick its work and scratch from tid only
 * and must not wait for another share (one thread may run several in turn).
 * Calls from several threads are serialised; fn must not call gfi_pool_run
 * on the same pool. */
void gfi_pool_run(struct gfi_pool *pool, void (*fn)(void *arg, int tid, int nthreads), void *arg);

#endif /* GF_THREADPOOL_H */
