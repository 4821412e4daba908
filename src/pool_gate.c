/*
 * pool_gate.c — whether a training step uses the thread pool (pool_gate.h
 * says why and how).
 */
#if defined(__unix__) || defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_THREAD_CPUTIME_ID */
#include <time.h>
#include <unistd.h>
#endif
#include "pool_gate.h"

void gfi_gate_next(gfi_pool_gate *g, bool *use_pool, bool *measure)
{
    if (g->skip > 0) {
        /* Closed: this step runs on one thread; the first step after the
         * closure is measured (the probe). */
        if (--g->skip == 0)
            g->count = 0;
        *use_pool = false;
        *measure = false;
        return;
    }
    *use_pool = true;
    *measure = g->count == 0;
    g->count = (g->count + 1) % GFI_GATE_SAMPLE;
}

void gfi_gate_record(gfi_pool_gate *g, double wall, double cpu)
{
    if (!(wall >= GFI_GATE_MIN_WALL))
        return;
    if (cpu >= GFI_GATE_BUSY * wall) {
        g->backoff = 0;
        return;
    }
    g->backoff = g->backoff ? g->backoff * 2 : GFI_GATE_MIN_SKIP;
    if (g->backoff > GFI_GATE_MAX_SKIP)
        g->backoff = GFI_GATE_MAX_SKIP;
    g->skip = g->backoff;
    g->count = 0;
}

bool gfi_gate_clocks(double *wall, double *cpu)
{
#if defined(_POSIX_THREAD_CPUTIME) && _POSIX_THREAD_CPUTIME >= 0
    struct timespec w, c;
    if (clock_gettime(CLOCK_MONOTONIC, &w) || clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c))
        return false;
    *wall = (double)w.tv_sec + (double)w.tv_nsec * 1e-9;
    *cpu = (double)c.tv_sec + (double)c.tv_nsec * 1e-9;
    return true;
#else
    (void)wall;
    (void)cpu;
    return false;
#endif
}
