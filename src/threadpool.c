/*
 * threadpool.c — the fixed thread pool: gfi_pool_run publishes a new job
 * generation with its shares, and every thread, the caller included, claims
 * shares until none is left.  A share is claimed with one atomic step, so a
 * worker the OS is not running (another process holds its core) costs no
 * wait: the caller, done with share 0, takes over the shares nobody started,
 * and the run waits only for shares already running.  Which thread runs a
 * share never changes its work (the share index, not the thread, picks the
 * range and the buffers), so results do not depend on it.
 * A training step runs several products back to back, so workers (and the
 * waiting caller) first spin briefly on the atomic claim word / pending count
 * and only then sleep on a condition variable; a sleeper is woken only when it
 * announced itself (the sleepers / waiting counters), so a run where nobody
 * slept takes no lock at all.  Threads are POSIX threads where the system has
 * them (ThreadSanitizer sees those; it does not intercept C11 thrd_*), C11
 * <threads.h> elsewhere; builds with neither get a pool that only ever has
 * the calling thread.
 */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L
#endif
#include "threadpool.h"

#if defined(__unix__) || defined(__APPLE__)
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#define POOL_THREADS 1
#define POOL_PTHREADS 1
#elif !defined(__STDC_NO_THREADS__)
#include <stdatomic.h>
#include <threads.h>
#define POOL_THREADS 1
#define POOL_PTHREADS 0
#else
#define POOL_THREADS 0
#endif

#if POOL_THREADS
/* The few primitives the pool needs, on either thread API: init returns
 * whether it worked; start returns GF_OK, GF_ERR_NOMEM or GF_ERR_UNSUPPORTED. */
#if POOL_PTHREADS
typedef pthread_t pool_thread;
typedef pthread_mutex_t pool_mutex;
typedef pthread_cond_t pool_cond;
static bool mutex_init(pool_mutex *m) { return pthread_mutex_init(m, NULL) == 0; }
static void mutex_destroy(pool_mutex *m) { pthread_mutex_destroy(m); }
static void mutex_lock(pool_mutex *m) { pthread_mutex_lock(m); }
static void mutex_unlock(pool_mutex *m) { pthread_mutex_unlock(m); }
static bool cond_init(pool_cond *c) { return pthread_cond_init(c, NULL) == 0; }
static void cond_destroy(pool_cond *c) { pthread_cond_destroy(c); }
static void cond_wait(pool_cond *c, pool_mutex *m) { pthread_cond_wait(c, m); }
static void cond_signal(pool_cond *c) { pthread_cond_signal(c); }
static void cond_broadcast(pool_cond *c) { pthread_cond_broadcast(c); }
static int worker_main(void *p);
static void *worker_entry(void *p)
{
    worker_main(p);
    return NULL;
}
static int thread_start(pool_thread *t, void *arg)
{
    int rc = pthread_create(t, NULL, worker_entry, arg);
    return rc == 0 ? GF_OK : rc == ENOMEM ? GF_ERR_NOMEM : GF_ERR_UNSUPPORTED;
}
static void thread_join(pool_thread t) { pthread_join(t, NULL); }
#else
typedef thrd_t pool_thread;
typedef mtx_t pool_mutex;
typedef cnd_t pool_cond;
static bool mutex_init(pool_mutex *m) { return mtx_init(m, mtx_plain) == thrd_success; }
static void mutex_destroy(pool_mutex *m) { mtx_destroy(m); }
static void mutex_lock(pool_mutex *m) { mtx_lock(m); }
static void mutex_unlock(pool_mutex *m) { mtx_unlock(m); }
static bool cond_init(pool_cond *c) { return cnd_init(c) == thrd_success; }
static void cond_destroy(pool_cond *c) { cnd_destroy(c); }
static void cond_wait(pool_cond *c, pool_mutex *m) { cnd_wait(c, m); }
static void cond_signal(pool_cond *c) { cnd_signal(c); }
static void cond_broadcast(pool_cond *c) { cnd_broadcast(c); }
static int worker_main(void *p);
static int thread_start(pool_thread *t, void *arg)
{
    int rc = thrd_create(t, worker_main, arg);
    return rc == thrd_success ? GF_OK : rc == thrd_nomem ? GF_ERR_NOMEM : GF_ERR_UNSUPPORTED;
}
static void thread_join(pool_thread t) { thrd_join(t, NULL); }
#endif
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
 * served by one thread.  30000 since session 26: 8000 was about one 30 us
 * step on this guest, so the gate's one-thread timing step put the workers
 * to sleep, and a sleeping vCPU took up to 0.85 ms to run again; the gate
 * (pool_gate.h) now keeps a busy machine on one thread instead. */
#define POOL_SPIN 30000

static inline void cpu_relax(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_ia32_pause();
#endif
}

typedef void (*pool_fn)(void *arg, int tid, int nthreads);

#if POOL_THREADS
/* The two wake-up handshakes below are Dekker pairs: each side writes its own
 * flag, then reads the other's, and a sleeper may only be missed if both
 * reads come before both writes.  Sequentially consistent atomics already
 * forbid that, but a full fence between the write and the read states it
 * where it matters and holds even where seq_cst accesses are weaker than
 * C11 says: qemu 7.2 running AArch64 code on an x86 host lets a
 * store-release pass a later load-acquire, and the pool then lost a wake-up
 * in about one run of test_pool in twenty.  A fence per handshake costs
 * nothing next to a pool run. */
#if defined(__SANITIZE_THREAD__)
#define POOL_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define POOL_TSAN 1
#endif
#endif
#ifdef POOL_TSAN
/* ThreadSanitizer does not model fences (gcc refuses them under -Werror);
 * the seq_cst accesses around each handshake suffice in the C11 model it checks. */
static inline void handshake_fence(void) {}
#else
static inline void handshake_fence(void) { atomic_thread_fence(memory_order_seq_cst); }
#endif
#endif

#if POOL_THREADS
struct pool_worker {
    struct gfi_pool *pool;
    int tid;
    pool_thread thread;
};
#endif

struct gfi_pool {
    int nthreads;
#if POOL_THREADS
    pool_mutex run_mu; /* one run at a time */
    pool_mutex mu;     /* guards the condition variables' waits */
    pool_cond wake;    /* workers: a new generation, or quit */
    pool_cond done;    /* caller: pending reached 0 */
    /* fn and arg are written before the claim word moves to a new generation
     * (seq_cst) and read only after a share of it was claimed; the next run
     * writes them only after every claimed share has counted itself out of
     * pending. */
    pool_fn fn;
    void *arg;
    /* The run's generation (upper bits) and its next unclaimed share (lower
     * CLAIM_BITS): one word, so a claim cannot take a share of a run that
     * has already ended. */
    atomic_uint_fast64_t claim;
    atomic_int pending;  /* shares 1..nthreads-1 not yet finished */
    atomic_int sleepers; /* workers asleep (or about to be) on wake */
    atomic_int waiting;  /* 1 while the caller sleeps (or is about to) on done */
    atomic_bool quit;
    struct pool_worker workers[GFI_POOL_MAX_THREADS - 1];
#endif
};

#if POOL_THREADS
#define CLAIM_BITS 8 /* shares 0..64 fit */
#define CLAIM_SHARE_MASK ((UINT64_C(1) << CLAIM_BITS) - 1)

static uint64_t generation_of(uint64_t claim) { return claim >> CLAIM_BITS; }

/* Waits until the claim word's generation differs from seen (or quit):
 * spins, then sleeps.  The sleeper counts itself before its last check, and
 * the caller moves the word before it reads the count (both sequentially
 * consistent), so either the worker sees the new generation or the caller
 * sees the sleeper and broadcasts under the mutex. */
static uint64_t wait_generation(struct gfi_pool *pool, uint64_t seen)
{
    for (int i = 0; i < POOL_SPIN; i++) {
        uint64_t g = generation_of(atomic_load_explicit(&pool->claim, memory_order_acquire));
        if (g != seen || atomic_load_explicit(&pool->quit, memory_order_relaxed))
            return g;
        cpu_relax();
    }
    mutex_lock(&pool->mu);
    atomic_fetch_add(&pool->sleepers, 1);
    handshake_fence();
    uint64_t g;
    while ((g = generation_of(atomic_load(&pool->claim))) == seen && !atomic_load(&pool->quit))
        cond_wait(&pool->wake, &pool->mu);
    atomic_fetch_sub(&pool->sleepers, 1);
    mutex_unlock(&pool->mu);
    return g;
}

/* Claims the next unstarted share of generation g: its index, or -1 when
 * none is left or the run is over. */
static int claim_share(struct gfi_pool *pool, uint64_t g)
{
    uint64_t c = atomic_load(&pool->claim);
    while (generation_of(c) == g && (int)(c & CLAIM_SHARE_MASK) < pool->nthreads)
        if (atomic_compare_exchange_weak(&pool->claim, &c, c + 1))
            return (int)(c & CLAIM_SHARE_MASK);
    return -1;
}

/* Runs a claimed share (1..nthreads-1); the last one out wakes the caller if
 * it went to sleep (same handshake as wait_generation, on pending / waiting). */
static void run_share(struct gfi_pool *pool, int share)
{
    pool->fn(pool->arg, share, pool->nthreads);
    bool last = atomic_fetch_sub(&pool->pending, 1) == 1;
    if (last)
        handshake_fence();
    if (last && atomic_load(&pool->waiting)) {
        mutex_lock(&pool->mu);
        cond_signal(&pool->done);
        mutex_unlock(&pool->mu);
    }
}

static void run_unclaimed_shares(struct gfi_pool *pool, uint64_t g)
{
    int share;
    while ((share = claim_share(pool, g)) >= 0)
        run_share(pool, share);
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
        run_unclaimed_shares(pool, seen);
    }
    return 0;
}

/* Waits until every claimed share has finished: spins, then sleeps. */
static void wait_shares_done(struct gfi_pool *pool)
{
    int spins = 0;
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0 && spins++ < POOL_SPIN)
        cpu_relax();
    if (atomic_load_explicit(&pool->pending, memory_order_acquire) == 0)
        return;
    mutex_lock(&pool->mu);
    atomic_store(&pool->waiting, 1);
    handshake_fence();
    while (atomic_load(&pool->pending) > 0)
        cond_wait(&pool->done, &pool->mu);
    atomic_store(&pool->waiting, 0);
    mutex_unlock(&pool->mu);
}

/* Stops and joins the first nworkers workers. */
static void stop_workers(struct gfi_pool *pool, int nworkers)
{
    mutex_lock(&pool->mu);
    atomic_store(&pool->quit, true);
    cond_broadcast(&pool->wake);
    mutex_unlock(&pool->mu);
    for (int i = 0; i < nworkers; i++)
        thread_join(pool->workers[i].thread);
}

/* Initialises the synchronisation objects; on failure none is left alive. */
static int init_sync(struct gfi_pool *pool)
{
    if (!mutex_init(&pool->run_mu))
        return GF_ERR_UNSUPPORTED;
    if (!mutex_init(&pool->mu))
        goto fail_mu;
    if (!cond_init(&pool->wake))
        goto fail_wake;
    if (!cond_init(&pool->done))
        goto fail_done;
    return GF_OK;
fail_done:
    cond_destroy(&pool->wake);
fail_wake:
    mutex_destroy(&pool->mu);
fail_mu:
    mutex_destroy(&pool->run_mu);
    return GF_ERR_UNSUPPORTED;
}

static void destroy_sync(struct gfi_pool *pool)
{
    cond_destroy(&pool->done);
    cond_destroy(&pool->wake);
    mutex_destroy(&pool->mu);
    mutex_destroy(&pool->run_mu);
}
#endif

int gfi_pool_create(struct gfi_pool **out, int nthreads)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gfi_pool_create: out is NULL");
    if (nthreads < 1 || nthreads > GFI_POOL_MAX_THREADS)
        return gfi_fail(GF_ERR_INVALID, "gfi_pool_create: nthreads must be 1..%d (got %d)", GFI_POOL_MAX_THREADS,
                        nthreads);
#if !POOL_THREADS
    if (nthreads > 1)
        return gfi_fail(GF_ERR_UNSUPPORTED, "gfi_pool_create: this build has no threads (asked for %d)",
                        nthreads);
#endif
    struct gfi_pool *pool = gfi_calloc(1, sizeof *pool);
    if (!pool)
        return gfi_fail(GF_ERR_NOMEM, "gfi_pool_create: out of memory for the pool");
    pool->nthreads = nthreads;
#if POOL_THREADS
    atomic_init(&pool->claim, 0);
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
        int rc = thread_start(&w->thread, w);
        if (rc != GF_OK) {
            stop_workers(pool, i);
            destroy_sync(pool);
            gfi_free(pool);
            return gfi_fail(rc, "gfi_pool_create: cannot start worker thread %d of %d", i + 1, nthreads - 1);
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
#if POOL_THREADS
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
#if POOL_THREADS
    mutex_lock(&pool->run_mu);
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->pending, pool->nthreads - 1, memory_order_relaxed);
    /* The next generation, with share 0 already the caller's (seq_cst:
     * publishes fn, arg, pending). */
    uint64_t g = generation_of(atomic_load_explicit(&pool->claim, memory_order_relaxed)) + 1;
    atomic_store(&pool->claim, (g << CLAIM_BITS) | 1);
    handshake_fence();
    if (atomic_load(&pool->sleepers) > 0) {
        mutex_lock(&pool->mu);
        cond_broadcast(&pool->wake);
        mutex_unlock(&pool->mu);
    }

    fn(arg, 0, pool->nthreads);
    run_unclaimed_shares(pool, g);
    wait_shares_done(pool);
    mutex_unlock(&pool->run_mu);
#endif
}
