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

/* Sums the timed steps of one kind (and batch) until they pass GFI_GATE_MIN_WALL (one thread) or
 * GFI_GATE_WINDOW (pooled); then *fastest gets the fastest of them and true.  A short step alone says
 * little, and taking only the ones that pass a floor would compare outliers (an interrupt); the fastest
 * of a window is what the pool gives when nothing else holds it up, while on a busy machine every pooled
 * step is slow.  Pooled windows are longer: after a one-thread step the workers may have slept, and in a
 * guest a sleeping vCPU can take a millisecond to run again, so the steps right after one are slow on a
 * quiet machine too (a 25 us step: windows of about 10 timed steps, 40 steps). */
static bool window(gfi_pool_gate *g, int k, int64_t batch, double wall, double *fastest)
{
    if (!(wall >= 0.0 && wall < 1e9))
        return false;
    if (g->acc_n[k] && g->acc_batch[k] != batch)
        g->acc_n[k] = 0;
    if (!g->acc_n[k]) {
        g->acc_wall[k] = 0.0;
        g->acc_min[k] = wall;
    }
    g->acc_batch[k] = batch;
    g->acc_wall[k] += wall;
    g->acc_min[k] = wall < g->acc_min[k] ? wall : g->acc_min[k];
    g->acc_n[k]++;
    if (!(g->acc_wall[k] >= (k ? GFI_GATE_WINDOW : GFI_GATE_MIN_WALL)))
        return false;
    *fastest = g->acc_min[k];
    g->acc_n[k] = 0;
    return true;
}

void gfi_gate_record(gfi_pool_gate *g, int64_t batch, bool pooled, double wall)
{
    /* After a closure the workers have slept, and in a guest a sleeping vCPU can take a millisecond to run
     * again: the probe is judged on the steps after that, or a quiet machine would never reopen the gate
     * for short steps (a step that long itself is judged at once).  One timed pooled step stands for
     * GFI_GATE_SAMPLE steps. */
    if (pooled && g->warm > 0.0 && wall >= 0.0 && wall < GFI_GATE_WARM) {
        g->warm -= wall * GFI_GATE_SAMPLE;
        return;
    }
    if (!window(g, pooled, batch, wall, &wall))
        return;
    if (!pooled) {
        g->one_batch = batch;
        g->one_wall = wall;
        return;
    }
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
    /* and at most about GFI_GATE_MAX_CLOSED seconds of one-thread steps: a long step reaches the limit in
     * steps only after minutes on one thread, which a closure in a burst of load should not cost */
    double most = g->one_wall > 0.0 ? GFI_GATE_MAX_CLOSED / g->one_wall : (double)GFI_GATE_MAX_SKIP;
    if (most < (double)g->backoff)
        g->backoff = most > GFI_GATE_MIN_SKIP ? (uint32_t)most : GFI_GATE_MIN_SKIP;
    g->skip = g->backoff;
    g->warm = GFI_GATE_WARM;
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
