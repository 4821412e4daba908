/*
 * steps.h — shared by the step-timing tools (diag_overhead.c, step_ab.c, data_parallel_bound.c): two training steps of
 * `make bench`, one thread each, a timer, and the median of timed rounds.
 *   mnist: 784-512-512-10 ReLU, batch 128, SGD momentum, softmax cross-entropy on labels;
 *   wide:  1024-2048-2048-1024 ReLU, batch 256, plain SGD, MSE.
 * Header-only: each tool is one file to build.
 */
#ifndef GF_BENCH_STEPS_H
#define GF_BENCH_STEPS_H

#include <stdbool.h>
#include <stdint.h>
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

static double now(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A net, the fixed batch it trains on (inputs in [0, 1]; class labels or targets in [0, 1]),
 * and the sizes gf_net_train_step needs.  step_free releases all of it. */
typedef struct bench_step {
    gf_net *net;
    float *x, *t;
    size_t x_count, t_count;
    int64_t batch;
} bench_step;

/* The batch of s (x_count inputs in [0, 1]; t_count class labels below out, or targets in [0, 1]), the same
 * on every run. */
static inline void step_data(bench_step *s, bool labels, int64_t out)
{
    s->x = malloc(sizeof(float) * s->x_count);
    s->t = malloc(sizeof(float) * s->t_count);
    if (!s->x || !s->t) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    srand(1);
    for (size_t i = 0; i < s->x_count; i++)
        s->x[i] = (float)((double)rand() / RAND_MAX);
    for (size_t i = 0; i < s->t_count; i++)
        s->t[i] = labels ? (float)(rand() % out) : (float)((double)rand() / RAND_MAX);
}

/* Gives net an optimizer of opt_kind at learning rate lr and a loss of loss_kind. */
static inline void step_train(gf_net *net, int32_t opt_kind, double lr, int32_t loss_kind)
{
    gf_optimizer *opt;
    CHECK(gf_optimizer_create(&opt, opt_kind, lr));
    CHECK(gf_net_set_optimizer(net, opt));
    gf_loss *loss;
    CHECK(gf_loss_create(&loss, loss_kind));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
}

/* in -> hidden -> hidden (ReLU) -> out (identity). */
static bench_step step_make(int64_t in, int64_t hidden, int64_t out, int64_t batch, int32_t opt_kind,
                            int32_t loss_kind)
{
    bench_step s = {NULL, NULL, NULL, (size_t)(batch * in), 0, batch};
    bool labels = loss_kind == GF_LOSS_SOFTMAX_CE_LABELS;
    s.t_count = (size_t)(labels ? batch : batch * out);
    CHECK(gf_net_create(&s.net, in, 1));
    CHECK(gf_net_add_dense(s.net, hidden, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(s.net, hidden, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(s.net, out, GF_ACT_IDENTITY, NULL));
    step_train(s.net, opt_kind, 0.01, loss_kind);
    step_data(&s, labels, out);
    return s;
}

static inline bench_step mnist_step(void)
{
    return step_make(784, 512, 10, 128, GF_OPT_MOMENTUM, GF_LOSS_SOFTMAX_CE_LABELS);
}

static inline bench_step wide_step(void) { return step_make(1024, 2048, 1024, 256, GF_OPT_SGD, GF_LOSS_MSE); }

static inline void step_free(bench_step *s)
{
    gf_net_destroy(s->net);
    free(s->x);
    free(s->t);
}

/* ms per step over `steps` train steps. */
static inline double time_steps(const bench_step *s, int steps)
{
    double t0 = now();
    for (int k = 0; k < steps; k++)
        CHECK(gf_net_train_step(s->net, s->x, s->x_count, s->t, s->t_count, s->batch, NULL));
    return (now() - t0) * 1e3 / steps;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v). */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

#endif /* GF_BENCH_STEPS_H */
