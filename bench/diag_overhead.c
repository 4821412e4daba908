/*
 * diag_overhead.c — cost of the diagnostics on the 784-512-512-10 ReLU net at
 * batch 128 (SGD with momentum): ms per train step with the diagnostics off,
 * on (every statistic, every step, origin on), and on with the guard.
 *
 * Build and run from the repository root after `make`:
 *     cc -std=c11 -O2 -Iinclude -Isrc bench/diag_overhead.c lib/libgradflow.a -lm -lpthread -o diag_overhead
 *     ./diag_overhead [steps per round, 20] [rounds, 7] [dead | vanishing | adam]
 * With "dead", layer 0's biases are -100 first, so every unit of it is dead;
 * "vanishing" times a 30-layer tanh net whose first gradients are near 1e-35
 * instead (vanishing_step below); "adam" trains the mnist net with Adam
 * (lr 1e-3), whose measured update is bound by its square root and divisions.
 * The rounds alternate off / on / guard so drift in clock speed hits each alike;
 * the median round of each is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "steps.h"

/* 30 tanh layers of 256 with weights N(0, 0.004), then 10 outputs, batch 64,
 * SGD with momentum, MSE: each layer shrinks the gradient about tenfold, so
 * the first layers' gradients are near 1e-35, below what a float square
 * can hold. */
static bench_step vanishing_step(void)
{
    enum { B = 64, IN = 256, OUT = 10 };
    bench_step s = {NULL, NULL, NULL, B * IN, B * OUT, B};
    CHECK(gf_net_create(&s.net, IN, 1));
    gf_init *init;
    CHECK(gf_init_create(&init, GF_INIT_NORMAL));
    CHECK(gf_init_set_range(init, 0.0, 0.004));
    for (int l = 0; l < 30; l++) {
        gf_layer *layer;
        CHECK(gf_net_add_dense(s.net, 256, GF_ACT_TANH, &layer));
        CHECK(gf_layer_set_weight_init(layer, init));
    }
    gf_init_destroy(init);
    CHECK(gf_net_add_dense(s.net, OUT, GF_ACT_IDENTITY, NULL));
    CHECK(gf_net_reinit(s.net, 1));
    step_train(s.net, GF_OPT_MOMENTUM, 0.01, GF_LOSS_MSE);
    step_data(&s, false, OUT);
    return s;
}

int main(int argc, char **argv)
{
    int steps = argc > 1 ? atoi(argv[1]) : 20;
    if (steps < 1)
        steps = 1;
    bool vanishing = argc > 3 && !strcmp(argv[3], "vanishing");
    bool adam = argc > 3 && !strcmp(argv[3], "adam");
    bench_step st = vanishing ? vanishing_step() : mnist_step();
    if (adam)
        step_train(st.net, GF_OPT_ADAM, 1e-3, GF_LOSS_SOFTMAX_CE_LABELS);
    bool dead = argc > 3 && !strcmp(argv[3], "dead");
    if (dead) { /* every unit of layer 0 dead: the all-zero tensors a dead layer leaves */
        static float b[512];
        for (int i = 0; i < 512; i++)
            b[i] = -100.0f;
        CHECK(gf_layer_set_bias(gf_net_layer(st.net, 0), b, 512));
    }
    gf_diag *d;
    CHECK(gf_diag_create(&d, st.net));
    time_steps(&st, 2); /* warm up: buffers, optimizer state */
    double all[3][64];
    int R = argc > 2 ? atoi(argv[2]) : 7;
    if (R < 1 || R > 64)
        R = 7;
    for (int round = 0; round < R; round++) {
        for (int mode = 0; mode < 3; mode++) {
            CHECK(gf_diag_enable(d, mode != 0));
            CHECK(gf_diag_set_option(d, GF_DIAG_GUARD, mode == 2));
            double ms = time_steps(&st, steps);
            all[mode][round] = ms;
        }
    }
    double med[3];
    for (int m = 0; m < 3; m++)
        med[m] = median(all[m], R);
    printf("%s, batch %lld, %s, %d steps x %d rounds (median round)\n",
           vanishing ? "30 x 256 tanh, vanishing" : dead ? "784-512-512-10 relu, layer 0 dead" : "784-512-512-10 relu",
           (long long)st.batch, adam ? "Adam" : "momentum", steps, R);
    printf("diagnostics off          %8.3f ms/step\n", med[0]);
    printf("diagnostics on           %8.3f ms/step  (%+.2f%%, %+.3f ms)\n", med[1],
           100.0 * (med[1] / med[0] - 1.0), med[1] - med[0]);
    printf("diagnostics on + guard   %8.3f ms/step  (%+.2f%%, %+.3f ms)\n", med[2],
           100.0 * (med[2] / med[0] - 1.0), med[2] - med[0]);
    gf_diag_destroy(d);
    step_free(&st);
    return 0;
}
