/*
 * mnist_step.h — shared by the step-timing tools (diag_overhead.c, step_ab.c): the mnist-shaped
 * training step (784-512-512-10 ReLU, batch 128, SGD momentum, softmax cross-entropy on labels,
 * 1 thread), a timer, and the median of timed rounds.  Header-only: each tool is one file to build.
 */
#ifndef GF_BENCH_MNIST_STEP_H
#define GF_BENCH_MNIST_STEP_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gradflow.h"

#define CHECK(call)                                                                                                  \
    do {                                                                                                             \
        int rc_ = (call);                                                                                            \
        if (rc_) {                                                                                                   \
            fprintf(stderr, "%s failed: %s\n", #call, gf_last_error());                                             \
            exit(1);                                                                                                 \
        }                                                                                                            \
    } while (0)

enum { IN = 784, H = 512, OUT = 10, BATCH = 128 };

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The net, and a fixed batch of inputs in [0, 1] and class labels (caller frees x and t). */
static gf_net *mnist_net(float **x, float **t)
{
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
    *x = malloc(sizeof(float) * BATCH * IN);
    *t = malloc(sizeof(float) * BATCH);
    if (!*x || !*t) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    srand(1);
    for (int i = 0; i < BATCH * IN; i++)
        (*x)[i] = (float)((double)rand() / RAND_MAX);
    for (int i = 0; i < BATCH; i++)
        (*t)[i] = (float)(rand() % OUT);
    return net;
}

/* ms per step over `steps` train steps. */
static double time_steps(gf_net *net, const float *x, const float *t, int steps)
{
    double t0 = now();
    for (int s = 0; s < steps; s++)
        CHECK(gf_net_train_step(net, x, (size_t)BATCH * IN, t, BATCH, BATCH, NULL));
    return (now() - t0) * 1e3 / steps;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

#endif
