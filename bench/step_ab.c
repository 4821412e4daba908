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

#include "mnist_step.h"

enum { W_IN = 1024, W_H = 2048, W_OUT = 1024, W_BATCH = 256 };

/* The bench's wide workload, with random inputs and targets in [0, 1] (caller frees x and t). */
static gf_net *wide_net(float **x, float **t)
{
    gf_net *net;
    CHECK(gf_net_create(&net, W_IN, 1));
    CHECK(gf_net_add_dense(net, W_H, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(net, W_H, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(net, W_OUT, GF_ACT_IDENTITY, NULL));
    gf_optimizer *opt;
    CHECK(gf_optimizer_create(&opt, GF_OPT_SGD, 0.01));
    CHECK(gf_net_set_optimizer(net, opt));
    gf_loss *loss;
    CHECK(gf_loss_create(&loss, GF_LOSS_MSE));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
    *x = malloc(sizeof(float) * W_BATCH * W_IN);
    *t = malloc(sizeof(float) * W_BATCH * W_OUT);
    if (!*x || !*t) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    srand(1);
    for (int i = 0; i < W_BATCH * W_IN; i++)
        (*x)[i] = (float)((double)rand() / RAND_MAX);
    for (int i = 0; i < W_BATCH * W_OUT; i++)
        (*t)[i] = (float)((double)rand() / RAND_MAX);
    return net;
}

static double time_wide(gf_net *net, const float *x, const float *t, int steps)
{
    double t0 = now();
    for (int s = 0; s < steps; s++)
        CHECK(gf_net_train_step(net, x, (size_t)W_BATCH * W_IN, t, (size_t)W_BATCH * W_OUT, W_BATCH, NULL));
    return (now() - t0) * 1e3 / steps;
}

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
    float *x, *t;
    gf_net *net = wide ? wide_net(&x, &t) : mnist_net(&x, &t);
    double (*timer)(gf_net *, const float *, const float *, int) = wide ? time_wide : time_steps;
    timer(net, x, t, 2); /* warm up: buffers, optimizer state */
    double all[3][64];
    int R = argc > 2 ? atoi(argv[2]) : 31;
    if (R < 1 || R > 64)
        R = 31;
    for (int round = 0; round < R; round++) {
        for (int mode = 0; mode < 2; mode++) {
            if (&gfi_exp)
                gfi_exp = mode ? value : 0;
            double ms = timer(net, x, t, steps);
            all[mode][round] = ms;
        }
    }
    double med[2];
    for (int m = 0; m < 2; m++)
        med[m] = median(all[m], R);
    printf("%s %s: A (gfi_exp = 0) %.4f ms/step, B (gfi_exp = %d) %.4f ms/step (%+.2f%%)\n",
           wide ? "wide" : "mnist", &gfi_exp ? "A/B" : "A/A (no gfi_exp hook in the library)", med[0], value, med[1],
           100.0 * (med[1] / med[0] - 1.0));
    gf_net_destroy(net);
    free(x);
    free(t);
    return 0;
}
