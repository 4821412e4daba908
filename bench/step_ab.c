/*
 * step_ab.c — in-process A/B timing of the mnist training step (784-512-512-10 ReLU, batch 128,
 * momentum, 1 thread): one net, rounds of `steps` steps alternating variant A and B, median round
 * of each.  Separate `make bench` runs drift by several % on the shared guest; alternating inside
 * one process cancels most of that (A/A spread about +-0.7 %).
 *
 * The variant is chosen through an int the library under test may define for an experiment
 * (e.g. `int gfi_exp;` in src/gemm.c, read where the variants differ); it is a weak reference here,
 * so against an unmodified library both halves run the same code (an A/A noise measurement).
 *
 * With a fourth argument `wide`, the step is the bench's wide workload instead (1024-2048-2048-1024
 * ReLU, batch 256, plain SGD, MSE, 1 thread); use rounds of 2 steps there.
 *
 *   cc -std=c11 -O2 -Iinclude -Isrc bench/step_ab.c lib/libgradflow.a -lm -lpthread -o step_ab
 *   ./step_ab [steps per round, 10] [rounds, 31] [value B sets gfi_exp to, 1] [mnist | wide]
 */
#define _POSIX_C_SOURCE 200809L
extern int gfi_exp __attribute__((weak));

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "steps.h"

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    int value = argc > 3 ? atoi(argv[3]) : 1;
    bool wide = argc > 4 && !strcmp(argv[4], "wide");
    if (argc > 4 && !wide && strcmp(argv[4], "mnist")) {
        fprintf(stderr, "usage: step_ab [steps] [rounds] [value] [mnist | wide]\n");
        return 2;
    }
    if (steps < 1)
        steps = 1;
    bench_step st = wide ? wide_step() : mnist_step();
    time_steps(&st, 2); /* warm up: buffers, optimizer state */
    double all[3][64];
    int R = argc > 2 ? atoi(argv[2]) : 31;
    if (R < 1 || R > 64)
        R = 31;
    for (int round = 0; round < R; round++) {
        for (int mode = 0; mode < 2; mode++) {
            if (&gfi_exp)
                gfi_exp = mode ? value : 0;
            double ms = time_steps(&st, steps);
            all[mode][round] = ms;
        }
    }
    double med[2];
    for (int m = 0; m < 2; m++)
        med[m] = median(all[m], R);
    printf("%s %s: A (gfi_exp = 0) %.4f ms/step, B (gfi_exp = %d) %.4f ms/step (%+.2f%%)\n",
           wide ? "wide" : "mnist", &gfi_exp ? "A/B" : "A/A (no gfi_exp hook in the library)", med[0], value, med[1],
           100.0 * (med[1] / med[0] - 1.0));
    step_free(&st);
    return 0;
}
