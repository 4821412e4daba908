/*
 * pool_gate.c — whether a training step uses the thread pool (pool_gate.h
 * says why and how).
 */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include "pool_gate.h"

#include <time.h>

void gfi_gate_next(gfi_pool_gate *g, bool *use_pool, bool *measure)
{
    if (g->skip > 0) {
        /* Closed: one thread; the last closed step is timed, and the next
         * step (count 1 below) probes the pool. */
        *use_pool = false;
        *measure = --g->skip == 0;
        if (*measure)
            g->count = 1;
        return;
    }
    uint32_t c = g->count;
    g->count = (c + 1) % GFI_GATE_CALIBRATE;
    *use_pool = c != 0;
    *measure = c == 0 || c % GFI_GATE_SAMPLE == 1;
}

void gfi_gate_record(gfi_pool_gate *g, int64_t batch, bool pooled, double wall)
{
    if (!pooled) {
        g->one_batch = batch;
        g->one_wall = wall;
        return;
    }
    /* Judged only against a one-thread step of at least GFI_GATE_MIN_WALL: below it only outliers (a page
     * fault, an interrupt) pass the floor, and one outlier against another says nothing of the pool. */
    if (!(wall >= GFI_GATE_MIN_WALL) || !(g->one_wall >= GFI_GATE_MIN_WALL))
        return;
    if (batch != g->one_batch) {
        g->count = 0; /* nothing to compare with: time the next step on one thread */
        return;
    }
    if (wall < GFI_GATE_RATIO * g->one_wall) {
        g->backoff = 0;
        g->strikes = 0;
        return;
    }
    /* Open (no closure before this one): one slow step is not enough. */
    if (!g->backoff && ++g->strikes < GFI_GATE_STRIKES)
        return;
    g->strikes = 0;
    g->backoff = g->backoff ? g->backoff * 2 : GFI_GATE_MIN_SKIP;
    if (g->backoff > GFI_GATE_MAX_SKIP)
        g->backoff = GFI_GATE_MAX_SKIP;
    g->skip = g->backoff;
}

double gfi_gate_now(void)
{
    struct timespec ts;
#if defined(_POSIX_MONOTONIC_CLOCK) || defined(CLOCK_MONOTONIC)
    if (clock_gettime(CLOCK_MONOTONIC, &ts) == 0)
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
#endif
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
