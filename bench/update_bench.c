/*
 * update_bench.c — the optimizer update alone, plain and measured (every
 * statistic the diagnostics gather while stepping), by default on mnist's
 * 670 k parameters with momentum, for each instruction set this CPU runs.
 * Each round first writes 64 MiB elsewhere, so the parameters come from L3
 * or memory as inside a training step; the median of 41 rounds is printed.
 *
 *   make build/cc/bench/update_bench && build/cc/bench/update_bench [sgd|momentum|adam] [parameters]
 * Prints: update <isa> <optimizer> <parameters> plain <us> measured <us>
 * (small's Adam: `adam 26122`; its parameters stay in cache there anyway.)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ew.h"
#include "gemm.h"
#include "gradflow.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { ROUNDS = 41, EVICT = 64 << 20 };

int main(int argc, char **argv)
{
    int32_t kind = GF_OPT_MOMENTUM;
    if (argc > 1 && !strcmp(argv[1], "sgd"))
        kind = GF_OPT_SGD;
    else if (argc > 1 && !strcmp(argv[1], "adam"))
        kind = GF_OPT_ADAM;
    else if (argc > 1 && strcmp(argv[1], "momentum")) {
        fprintf(stderr, "usage: update_bench [sgd|momentum|adam] [parameters]\n");
        return 2;
    }
    long long asked = argc > 2 ? atoll(argv[2]) : 0;
    const size_t n = asked > 0 && asked < (1LL << 28) ? (size_t)asked
                                                     : 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10;
    float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g), *m = malloc(n * sizeof *m),
          *v = malloc(n * sizeof *v);
    char *other = malloc(EVICT);
    if (!w || !g || !m || !v || !other) {
        fprintf(stderr, "update_bench: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < n; i++) {
        w[i] = (float)(rand() / (double)RAND_MAX - 0.5) * 0.1f;
        g[i] = (float)(rand() / (double)RAND_MAX - 0.5) * 1e-3f;
        m[i] = 0.0f;
        v[i] = 0.0f;
    }
    gfi_ew_opt o;
    memset(&o, 0, sizeof o);
    o.kind = kind;
    o.lr = 1e-3f;
    o.mu = 0.9f;
    o.b1 = 0.9f, o.b2 = 0.999f, o.one_minus_b1 = 0.1f, o.one_minus_b2 = 0.001f, o.eps = 1e-8f;
    o.step = 1e-3f / 0.1f, o.sqrt_bc2 = 0.0316f; /* Adam's first step: lr / (1 - b1), sqrt(1 - b2) */
    for (int k = 0; k < GFI_GEMM_NKERNELS; k++) {
        if (gfi_ew_force(k))
            continue; /* not on this CPU */
        const gfi_ew_ops *ops = gfi_ew();
        double plain[ROUNDS], measured[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            memset(other, r, EVICT);
            double t0 = now();
            ops->opt_update(&o, w, g, m, v, n);
            plain[r] = now() - t0;
            memset(other, r + 1, EVICT);
            gfi_ew_pstats s;
            memset(&s, 0, sizeof s);
            s.gmin = s.gmax = g[0];
            t0 = now();
            if (ops->opt_update_stats(&o, w, g, m, v, n, &s) != n) {
                fprintf(stderr, "update_bench: the measured update stopped early\n");
                return 1;
            }
            measured[r] = now() - t0;
        }
        qsort(plain, ROUNDS, sizeof *plain, cmp_double);
        qsort(measured, ROUNDS, sizeof *measured, cmp_double);
        printf("update %s %s %zu plain %.1f measured %.1f\n", gfi_gemm_kernel_name(k), argc > 1 ? argv[1] : "momentum", n,
               plain[ROUNDS / 2] * 1e6,
               measured[ROUNDS / 2] * 1e6);
    }
    gfi_ew_force(GFI_GEMM_AUTO);
    free(w), free(g), free(m), free(v), free(other);
    return 0;
}
