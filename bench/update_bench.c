/*
 * update_bench.c — the optimizer update alone, plain and measured (every
 * statistic the diagnostics gather while stepping), on mnist's 670 k
 * parameters with momentum, for each instruction set this CPU runs.  Each
 * round first writes 64 MiB elsewhere, so the parameters come from L3 or
 * memory as inside a training step; the median of 41 rounds is printed.
 *
 *   make build/cc/bench/update_bench && build/cc/bench/update_bench
 * Prints: update <isa> plain <us> measured <us>
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

int main(void)
{
    const size_t n = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10;
    float *w = malloc(n * sizeof *w), *g = malloc(n * sizeof *g), *m = malloc(n * sizeof *m);
    char *other = malloc(EVICT);
    if (!w || !g || !m || !other) {
        fprintf(stderr, "update_bench: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < n; i++) {
        w[i] = (float)(rand() / (double)RAND_MAX - 0.5) * 0.1f;
        g[i] = (float)(rand() / (double)RAND_MAX - 0.5) * 1e-3f;
        m[i] = 0.0f;
    }
    gfi_ew_opt o;
    memset(&o, 0, sizeof o);
    o.kind = GF_OPT_MOMENTUM;
    o.lr = 1e-3f;
    o.mu = 0.9f;
    for (int k = 0; k < GFI_GEMM_NKERNELS; k++) {
        if (gfi_ew_force(k))
            continue; /* not on this CPU */
        const gfi_ew_ops *ops = gfi_ew();
        double plain[ROUNDS], measured[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            memset(other, r, EVICT);
            double t0 = now();
            ops->opt_update(&o, w, g, m, NULL, n);
            plain[r] = now() - t0;
            memset(other, r + 1, EVICT);
            gfi_ew_pstats s;
            memset(&s, 0, sizeof s);
            s.gmin = s.gmax = g[0];
            t0 = now();
            if (ops->opt_update_stats(&o, w, g, m, NULL, n, &s) != n) {
                fprintf(stderr, "update_bench: the measured update stopped early\n");
                return 1;
            }
            measured[r] = now() - t0;
        }
        qsort(plain, ROUNDS, sizeof *plain, cmp_double);
        qsort(measured, ROUNDS, sizeof *measured, cmp_double);
        printf("update %s plain %.0f measured %.0f\n", gfi_gemm_kernel_name(k), plain[ROUNDS / 2] * 1e6,
               measured[ROUNDS / 2] * 1e6);
    }
    gfi_ew_force(GFI_GEMM_AUTO);
    free(w), free(g), free(m), free(other);
    return 0;
}
