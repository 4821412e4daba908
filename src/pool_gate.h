/*
 * pool_gate.h — whether a training step uses the net's thread pool, decided
 * from how the last measured pooled step went.
 *
 * A pool run waits for every worker.  When another process holds a core, a
 * worker is often not running when a run is posted, and each of the dozens
 * of runs in a step then waits for the scheduler to give it the core back:
 * on the 2-core guest, a competing load made the deep workload 6 - 9 x
 * slower on two threads than on one.  The waiting caller is then mostly
 * asleep, so its thread CPU time falls well below the step's wall time,
 * while in a quiet step it spins through the short waits and the two stay
 * close.  So one step in GFI_GATE_SAMPLE is measured (the first one too;
two clock reads, one of them a system call, so nets whose step is only a
few microseconds of work are not gated at all); a pooled step whose
 * caller ran less than GFI_GATE_BUSY of the time closes the gate for a
 * number of steps that doubles with each busy probe (up to GFI_GATE_MAX_SKIP)
 * and resets on a quiet one.  Results do not depend on the thread count, so
 * the gate changes only the speed.
 */
#ifndef GF_POOL_GATE_H
#define GF_POOL_GATE_H

#include <stdbool.h>
#include <stdint.h>

#define GFI_GATE_SAMPLE 4       /* steps per measured step while the gate is open */
#define GFI_GATE_MIN_WORK 1e6   /* 6 x parameters x batch: smaller steps are never gated */
#define GFI_GATE_BUSY 0.6       /* caller CPU time / wall time below this: busy */
#define GFI_GATE_MIN_SKIP 32    /* steps on one thread after the first busy probe */
#define GFI_GATE_MAX_SKIP 4096  /* the most steps on one thread between probes */
#define GFI_GATE_MIN_WALL 50e-6 /* seconds: shorter steps say nothing */

typedef struct gfi_pool_gate {
    uint32_t count; /* steps since the last measured one, minus one */
    uint32_t skip;  /* steps left to run on one thread */
    uint32_t backoff; /* the next closure's length (0: none yet) */
} gfi_pool_gate;

/* What the next step does: *use_pool whether it runs on the pool, *measure
 * whether it is to be timed (then gfi_gate_record must follow it). */
void gfi_gate_next(gfi_pool_gate *g, bool *use_pool, bool *measure);
/* The measured pooled step took `wall` seconds, `cpu` of them running on
 * the calling thread. */
void gfi_gate_record(gfi_pool_gate *g, double wall, double cpu);
/* Wall and calling-thread CPU clocks in seconds; false where the system has
 * no thread CPU clock (the gate then stays open). */
bool gfi_gate_clocks(double *wall, double *cpu);

#endif /* GF_POOL_GATE_H */
