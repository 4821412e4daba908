/*
 * diag_overhead.c — cost of the diagnostics on the 784-512-512-10 ReLU net at
 * batch 128 (SGD with momentum): ms per train step with the diagnostics off,
 * on (every statistic, every step, origin on), and on with the guard.
 *
 * Build and run from the repository root after `make`:
 *     cc -std=c11 -O2 -Iinclude -Isrc bench/diag_overhead.c lib/libgradflow.a -lm -o diag_overhead
 *     ./diag_overhead [steps]          (default 20 steps per round, R rounds)
 * The rounds alternate off / on / guard so drift in clock speed hits each alike;
 * the best round of each is reported.
 */
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
    int steps = argc > 1 ? atoi(argv[1]) : 20;
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
        x[i] = (float)rand() / RAND_MAX;
    for (int i = 0; i < BATCH; i++)
        t[i] = (float)(rand() % OUT);
    gf_diag *d;
    CHECK(gf_diag_create(&d, net));
    time_steps(net, x, t, 2); /* warm up: buffers, optimizer state */
    double all[3][64];
    int R = argc > 2 ? atoi(argv[2]) : 7;
    if (R < 1 || R > 64)
        R = 7;
    for (int round = 0; round < R; round++) {
        for (int mode = 0; mode < 3; mode++) {
            CHECK(gf_diag_enable(d, mode != 0));
            CHECK(gf_diag_set_option(d, GF_DIAG_GUARD, mode == 2));
            double ms = time_steps(net, x, t, steps);
            all[mode][round] = ms;
        }
    }
    double med[3];
    for (int m = 0; m < 3; m++) {
        qsort(all[m], (size_t)R, sizeof(double), cmp);
        med[m] = all[m][R / 2];
    }
    printf("784-512-512-10 relu, batch %d, momentum, %d steps x %d rounds (median round)\n", BATCH, steps, R);
    printf("diagnostics off          %8.3f ms/step\n", med[0]);
    printf("diagnostics on           %8.3f ms/step  (%+.2f%%, %+.3f ms)\n", med[1],
           100.0 * (med[1] / med[0] - 1.0), med[1] - med[0]);
    printf("diagnostics on + guard   %8.3f ms/step  (%+.2f%%, %+.3f ms)\n", med[2],
           100.0 * (med[2] / med[0] - 1.0), med[2] - med[0]);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    free(x);
    free(t);
    return 0;
}
