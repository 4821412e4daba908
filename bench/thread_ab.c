/*
 * thread_ab.c — two-thread scaling of a `make bench` dense workload, measured in one process: the same
 * workload built with 1 and with 2 threads, rounds that time the two nets back to back (in alternating
 * order), and the median of the rounds' ratios (the rates printed are each side's median round).
 * Separate runs on the shared 2-core guest drift by more than the effect; a ratio of two timings a
 * fraction of a second apart shares the drift.  With `busy`, a child process spins on one core for the whole
 * measurement (a competing build, say), which shows what the pool costs when a core is taken: the ratio
 * should stay near 1 rather than fall far below it.
 *
 *   cc -std=c11 -O2 -Iinclude bench/thread_ab.c lib/libgradflow.a -lm -lpthread -o thread_ab
 *   ./thread_ab [tiny|small|mnist|deep|wide] [rounds, 15] [seconds per round and side, 0.2] [busy]
 * Prints: <workload> 1T <steps/s> 2T <steps/s> ratio <median of the rounds' 2T / 1T> (busy: with a spinner)
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gradflow.h"

typedef struct {
    const char *name;
    int64_t widths[24];
    int n, batch;
    int32_t act, opt;
} workload;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "thread_ab: %s: %s\n", what, gf_last_error());
        exit(1);
    }
}

static gf_net *build(const workload *w, int threads)
{
    gf_net *net;
    check(gf_net_create(&net, w->widths[0], 1), "gf_net_create");
    for (int i = 1; i < w->n; i++)
        check(gf_net_add_dense(net, w->widths[i], i + 1 < w->n ? w->act : GF_ACT_IDENTITY, NULL), "add_dense");
    gf_optimizer *opt;
    check(gf_optimizer_create(&opt, w->opt, 1e-3), "optimizer");
    check(gf_net_set_optimizer(net, opt), "set_optimizer");
    check(gf_net_set_threads(net, threads), "set_threads");
    return net;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Steps per second of net over about `seconds`. */
static double rate(gf_net *net, const float *x, size_t nx, const float *t, size_t nt, int64_t b, double seconds)
{
    double loss, t0 = now(), el;
    int64_t steps = 0;
    do {
        check(gf_net_train_step(net, x, nx, t, nt, b, &loss), "train_step");
        steps++;
        el = now() - t0;
    } while (el < seconds);
    return (double)steps / el;
}

int main(int argc, char **argv)
{
    workload ws[] = {
        {"tiny", {2, 16, 16, 1}, 4, 1, GF_ACT_TANH, GF_OPT_SGD},
        {"small", {64, 128, 128, 10}, 4, 32, GF_ACT_RELU, GF_OPT_ADAM},
        {"mnist", {784, 512, 512, 10}, 4, 128, GF_ACT_RELU, GF_OPT_MOMENTUM},
        {"deep", {0}, 22, 64, GF_ACT_TANH, GF_OPT_SGD},
        {"wide", {1024, 2048, 2048, 1024}, 4, 256, GF_ACT_RELU, GF_OPT_SGD},
    };
    for (int i = 0; i < 22; i++)
        ws[3].widths[i] = 256;
    const char *name = argc > 1 ? argv[1] : "deep";
    int rounds = argc > 2 ? atoi(argv[2]) : 15;
    double seconds = argc > 3 ? atof(argv[3]) : 0.2;
    int busy = argc > 4 && !strcmp(argv[4], "busy");
    const workload *w = NULL;
    for (size_t i = 0; i < sizeof ws / sizeof *ws; i++)
        if (!strcmp(ws[i].name, name))
            w = &ws[i];
    if (!w || rounds < 1 || rounds > 101 || seconds <= 0) {
        fprintf(stderr, "usage: thread_ab [tiny|small|mnist|deep|wide] [rounds 1..101] [seconds] [busy]\n");
        return 2;
    }
    int64_t in = w->widths[0], out = w->widths[w->n - 1], b = w->batch;
    size_t nx = (size_t)(b * in), nt = (size_t)(b * out);
    float *x = malloc(nx * sizeof *x), *t = malloc(nt * sizeof *t);
    if (!x || !t)
        return 1;
    srand(1);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    for (size_t i = 0; i < nt; i++)
        t[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
    gf_net *net[2] = {build(w, 1), build(w, 2)};
    pid_t spinner = -1;
    if (busy && (spinner = fork()) == 0)
        for (volatile unsigned long spin = 0;; spin++)
            ;
    double r[2][101], ratio[101];
    for (int k = 0; k < 2; k++)
        rate(net[k], x, nx, t, nt, b, seconds / 2); /* warm-up */
    for (int i = 0; i < rounds; i++) {
        for (int j = 0; j < 2; j++) {
            int k = (i + j) % 2; /* 1T, 2T; then 2T, 1T */
            r[k][i] = rate(net[k], x, nx, t, nt, b, seconds);
        }
        ratio[i] = r[1][i] / r[0][i];
    }
    if (spinner > 0) {
        kill(spinner, SIGKILL);
        waitpid(spinner, NULL, 0);
    }
    for (int k = 0; k < 2; k++)
        qsort(r[k], (size_t)rounds, sizeof r[k][0], cmp_double);
    qsort(ratio, (size_t)rounds, sizeof ratio[0], cmp_double);
    double one = r[0][rounds / 2], two = r[1][rounds / 2];
    printf("%s 1T %.1f 2T %.1f ratio %.3f%s\n", w->name, one, two, ratio[rounds / 2],
           busy ? " (busy: a spinner holds a core)" : "");
    gf_net_destroy(net[0]);
    gf_net_destroy(net[1]);
    free(x);
    free(t);
    return 0;
}
