/*
 * pool_gate.h — whether a training step uses the net's thread pool, decided
 * by timing steps with and without it.
 *
 * When another process holds a core, a worker is often not running during
 * a pool run.  The caller takes over the shares such a worker has not
 * started (threadpool.c), but one it started and was then descheduled in
 * holds the run up until the scheduler gives it the core back, and a step
 * makes dozens of runs: on the 2-core guest beside a competing process, the
 * deep workload still ran at 0.5 x one thread's speed on two (0.1 x before
 * the shares were claimable).  So the gate compares: one step in
 * GFI_GATE_CALIBRATE runs on the calling thread alone and is timed, and one
 * in GFI_GATE_SAMPLE runs on the pool and is timed.  A pooled step of the
 * same batch that is not faster than GFI_GATE_RATIO times the last
 * one-thread step, twice in a row (GFI_GATE_STRIKES: one slow step is
 * often a page fault, an interrupt or a worker waking after a pause
 * between steps; a competing process makes every pooled step slow), closes
 * the gate for a number of steps that doubles with
 * each closure in a row (GFI_GATE_MIN_SKIP .. GFI_GATE_MAX_SKIP, and no
 * more than GFI_GATE_MAX_CLOSED seconds of one-thread steps); the last
 * of them is timed, and the step after it probes the pool again; a slow
 * probe closes it at once.  (The
 * calling thread's CPU time is no signal: with a quiet machine it sleeps in
 * many short waits too.)  Results do not depend on the thread count, so the
 * gate changes only the speed; the one-thread steps cost about 1 % where two
 * threads are twice as fast.
 *
 * "A step" above is a window of timed steps: one-thread steps until their
 * sum passes GFI_GATE_MIN_WALL, pooled ones until it passes GFI_GATE_WINDOW,
 * each window standing for its fastest step (a step that long alone is its
 * own window).  A 30 us step alone says little, and its slowest ones are
 * the outliers; a busy core slows every pooled step, so the fastest of a
 * window still shows it.  After a closure the workers have slept, and a
 * sleeping vCPU of the 2-core guest took up to 0.85 ms to run again: the
 * first GFI_GATE_WARM of pooled steps shorter than that go untimed, so a
 * probe of short steps is judged on a pool that is awake.
 */
#ifndef GF_POOL_GATE_H
#define GF_POOL_GATE_H

#include <stdbool.h>
#include <stdint.h>

#define GFI_GATE_SAMPLE 4       /* steps per timed pooled step */
#define GFI_GATE_CALIBRATE 128  /* steps per timed one-thread step while the gate is open */
#define GFI_GATE_RATIO 0.95     /* a pooled step slower than this x one-thread: the pool does not pay */
/* 6 x parameters x batch x positions (a sequence's T steps, a signal's or an image's places: the input's dims
 * after the channels; 1 for a vector): smaller steps are never gated.  Under the smallest pass the pool takes (a product of 5e4
 * m*n*k, gemm.c; an update of 16384 parameters, ew.c: 6 x 16384 = 98k), so every step that can use the pool
 * is gated; the positions count each time step and each place a filter is applied, as the passes do. */
#define GFI_GATE_MIN_WORK 9e4
#define GFI_GATE_MIN_SKIP 32    /* steps on one thread after the first closure */
#define GFI_GATE_MAX_SKIP 4096  /* the most steps on one thread between probes */
#define GFI_GATE_MAX_CLOSED 1.0 /* seconds: nor more steps than this many seconds of one-thread steps */
#define GFI_GATE_MIN_WALL 50e-6 /* seconds: shorter one-thread steps are timed in windows that pass it */
#define GFI_GATE_WINDOW 250e-6  /* seconds: pooled steps are timed in windows that pass it */
#define GFI_GATE_WARM 2e-3      /* seconds of pooled steps after a closure left untimed (workers waking) */
#define GFI_GATE_STRIKES 2      /* slow pooled steps in a row that close an open gate (a probe: one) */

typedef struct gfi_pool_gate {
    uint32_t count;   /* position in the open gate's cycle of GFI_GATE_CALIBRATE steps */
    uint32_t skip;    /* steps left to run on one thread */
    uint32_t backoff; /* the last closure's length (0: the last probe found the pool paying) */
    int64_t one_batch; /* batch of the last timed one-thread step (0: none) */
    double one_wall;   /* its seconds */
    uint32_t strikes;  /* slow pooled steps in a row while open */
    /* Timed steps, summed per kind ([0] one thread, [1] pooled) until their sum passes GFI_GATE_MIN_WALL
     * (one thread) or GFI_GATE_WINDOW (pooled): the fastest of them is the step that is recorded or
     * judged (a step that long alone: itself). */
    int64_t acc_batch[2];
    double acc_wall[2], acc_min[2];
    uint32_t acc_n[2];
    double warm; /* seconds of pooled steps still to pass untimed after a closure (about: timed ones x SAMPLE) */
} gfi_pool_gate;

/* What the next step does: *use_pool whether it runs on the pool, *measure
 * whether it is to be timed (then gfi_gate_record must follow it). */
void gfi_gate_next(gfi_pool_gate *g, bool *use_pool, bool *measure);
/* A timed step of `batch` samples took `wall` seconds, on the pool or not. */
void gfi_gate_record(gfi_pool_gate *g, int64_t batch, bool pooled, double wall);
/* Seconds on a monotonic clock where there is one. */
double gfi_gate_now(void);

#endif /* GF_POOL_GATE_H */
