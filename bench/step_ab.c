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
 *   cc -std=c11 -O2 -Iinclude -Isrc bench/step_ab.c lib/libgradflow.a -lm -lpthread -o step_ab
 *   ./step_ab [steps per round, 10] [rounds, 31] [value B sets gfi_exp to, 1]
 */
#define _POSIX_C_SOURCE 200809L
extern int gfi_exp __attribute__((weak));

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gradflow.h"

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

#define CHECK(call)                                                                                                  \
    do {                                                                                                             \
        int rc_ = (call);                                                                                            \
        if (rc_) {                                                                                                   \
            fprintf(stderr, "%s failed: %s\n", #call, gf_last_error());                                             \
            exit(1);                                                                                                 \
        }                                                                                                            \
    } while (0)

enum { IN = 784, H = 512, OUT = 10, BATCH = 128 };

/* ms per step over `steps` train steps. */
static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double time_steps(gf_net *net, const float *x, const float *t, int steps)
{
    double t0 = now();
    for (int s = 0; s < steps; s++)
        CHECK(gf_net_train_step(net, x, (size_t)BATCH * IN, t, BATCH, BATCH, NULL));
    return (now() - t0) * 1e3 / steps;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 10;
    int value = argc > 3 ? atoi(argv[3]) : 1;
    if (steps < 1)
        steps = 1;
    gf_net *net;
    CHECK(gf_net_create(&net, IN, 1));
    CHECK(gf_net_add_dense(net, H, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(net, H, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(net, OUT, GF_ACT_IDENTITY, NULL));
    gf_optimizer *opt;
    CHECK(gf_optimizer_create(&opt, GF_OPT_MOMENTUM, 0.01));
    CHECK(gf_net_set_optimizer(net, opt));
    gf_loss *loss;
    CHECK(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
    float *x = malloc(sizeof(float) * BATCH * IN), *t = malloc(sizeof(float) * BATCH);
    srand(1);
    for (int i = 0; i < BATCH * IN; i++)
        x[i] = (float)((double)rand() / RAND_MAX);
    for (int i = 0; i < BATCH; i++)
        t[i] = (float)(rand() % OUT);
    time_steps(net, x, t, 2); /* warm up: buffers, optimizer state */
    double all[3][64];
    int R = argc > 2 ? atoi(argv[2]) : 31;
    if (R < 1 || R > 64)
        R = 31;
    for (int round = 0; round < R; round++) {
        for (int mode = 0; mode < 2; mode++) {
            if (&gfi_exp)
                gfi_exp = mode ? value : 0;
            double ms = time_steps(net, x, t, steps);
            all[mode][round] = ms;
        }
    }
    double med[2];
    for (int m = 0; m < 2; m++) {
        qsort(all[m], (size_t)R, sizeof(double), cmp);
        med[m] = all[m][R / 2];
    }
    printf("%s: A (gfi_exp = 0) %.4f ms/step, B (gfi_exp = %d) %.4f ms/step (%+.2f%%)\n",
           &gfi_exp ? "A/B" : "A/A (no gfi_exp hook in the library)", med[0], value, med[1],
           100.0 * (med[1] / med[0] - 1.0));
    gf_net_destroy(net);
    free(x);
    free(t);
    return 0;
}
