/*
 * threadpool.h — a fixed thread pool for splitting one computation over threads.
 *
 * The workers are created once, with the pool; gfi_pool_run then hands every
 * thread (the caller included, as thread 0) the same function and waits for
 * all of them, without creating threads or allocating.
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
/* Runs fn(arg, tid, nthreads) once on each thread, tid 0..nthreads-1 (tid 0
 * on the caller), and returns when all have returned.  Calls from several
 * threads are serialised; fn must not call gfi_pool_run on the same pool. */
void gfi_pool_run(struct gfi_pool *pool, void (*fn)(void *arg, int tid, int nthreads), void *arg);

#endif /* GF_THREADPOOL_H */
