/*
 * data_parallel_bound.c — how far splitting the batch over two threads could take `make bench`'s small
 * workload (64-128-128-10 ReLU, batch 32, Adam, MSE), measured with the public API only: the time of one
 * batch-32 step, of one batch-16 step, and of two batch-16 steps of two separate nets on two threads at once.
 *
 * Two separate nets on two threads are what a data-parallel step would be at best (each thread keeps its half
 * of the rows from forward to backward), before it pays for what it adds: summing the two halves' weight
 * gradients in a fixed order and the two waits of each step.  So batch-32 time / paired time bounds that
 * step's two-thread speed-up from above, and batch-32 time / batch-16 time bounds it as well on cores that
 * do not slow each other down (the update and each layer's fixed costs do not shrink with the batch).
 *
 * Build and run from the repository root after `make` (`make check` builds it too):
 *     cc -std=c11 -O2 -Iinclude bench/data_parallel_bound.c lib/libgradflow.a -lm -lpthread -o data_parallel_bound
 *     ./data_parallel_bound [rounds, 7] [steps per round, 20000]
 * Rounds alternate the three measurements; the medians are printed.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "steps.h"

static gf_net *small_net(void)
{
    gf_net *net;
    CHECK(gf_net_create(&net, 64, 1));
    CHECK(gf_net_add_dense(net, 128, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(net, 128, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_dense(net, 10, GF_ACT_IDENTITY, NULL));
    step_train(net, GF_OPT_ADAM, 1e-3, GF_LOSS_MSE);
    return net;
}

typedef struct job {
    gf_net *net;
    const float *x, *t;
    int64_t batch;
    int steps;
    double seconds;
} job;

static void *run(void *arg)
{
    job *j = arg;
    double t0 = now();
    for (int s = 0; s < j->steps; s++)
        CHECK(gf_net_train_step(j->net, j->x, (size_t)(j->batch * 64), j->t, (size_t)(j->batch * 10), j->batch,
                                NULL));
    j->seconds = now() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 7, steps = argc > 2 ? atoi(argv[2]) : 20000;
    if (rounds < 1 || rounds > 64)
        rounds = 7;
    if (steps < 1)
        steps = 20000;
    static float x[32 * 64], t[32 * 10];
    srand(1);
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = (float)((double)rand() / RAND_MAX);
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        t[i] = (float)((double)rand() / RAND_MAX);
    job whole = {small_net(), x, t, 32, steps, 0}, half = {small_net(), x, t, 16, steps, 0};
    job a = {small_net(), x, t, 16, steps, 0}, b = {small_net(), x + 16 * 64, t + 16 * 10, 16, steps, 0};
    double us[3][64];
    for (int r = 0; r < rounds; r++) {
        run(&whole);
        run(&half);
        pthread_t th;
        double t0 = now();
        if (pthread_create(&th, NULL, run, &b)) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
        run(&a);
        pthread_join(th, NULL);
        us[0][r] = whole.seconds / steps * 1e6;
        us[1][r] = half.seconds / steps * 1e6;
        us[2][r] = (now() - t0) / steps * 1e6;
    }
    double m[3];
    for (int k = 0; k < 3; k++)
        m[k] = median(us[k], rounds);
    printf("small, one thread: batch 32 %.2f us/step, batch 16 %.2f us/step\n", m[0], m[1]);
    printf("two batch-16 nets on two threads: %.2f us per pair of steps\n", m[2]);
    printf("data-parallel two-thread speed-up at most: %.2f (paired), %.2f (batch 32 / batch 16)\n", m[0] / m[2],
           m[0] / m[1]);
    gf_net_destroy(whole.net);
    gf_net_destroy(half.net);
    gf_net_destroy(a.net);
    gf_net_destroy(b.net);
    return 0;
}
