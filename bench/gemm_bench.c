/*
 * gemm_bench.c — throughput of gfi_gemm / gfi_gemm_pool against the FP32 FMA
 * peak measured with a register-only FMA loop.  Not part of `make bench`.
 * Build and run from the repository root:
 *   make && cc -std=c11 -O2 -Iinclude -Isrc bench/gemm_bench.c -o /tmp/gemm_bench lib/libgradflow.a -lm -lpthread
 *   /tmp/gemm_bench [kernel]      (kernel: portable, avx2, avx512; default auto)
 */
#define _POSIX_C_SOURCE 200809L
#include "gemm.h"
#include "threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Packing buffers for the current pool's threads (set in main). */
static struct gfi_gemm_ws *ws;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
/* 12 independent FMA chains: enough to keep two FMA ports busy despite the
 * 4-cycle latency; the empty asm keeps them in registers and alive. */
#define PEAK_FN(name, isa, vec, set1, fma, lanes, cons)                                                             \
    __attribute__((target(isa))) static double name(long iters)                                                     \
    {                                                                                                                  \
        vec a0 = set1(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,          \
            a10 = a0, a11 = a0, x = set1(0.9999999f), y = set1(1e-7f);                                                 \
        double t = now();                                                                                              \
        for (long i = 0; i < iters; i++) {                                                                             \
            a0 = fma(a0, x, y), a1 = fma(a1, x, y), a2 = fma(a2, x, y), a3 = fma(a3, x, y);                            \
            a4 = fma(a4, x, y), a5 = fma(a5, x, y), a6 = fma(a6, x, y), a7 = fma(a7, x, y);                            \
            a8 = fma(a8, x, y), a9 = fma(a9, x, y), a10 = fma(a10, x, y), a11 = fma(a11, x, y);                        \
            __asm__ volatile("" : "+" cons(a0), "+" cons(a1), "+" cons(a2), "+" cons(a3), "+" cons(a4),                \
                             "+" cons(a5), "+" cons(a6), "+" cons(a7), "+" cons(a8), "+" cons(a9), "+" cons(a10),      \
                             "+" cons(a11));                                                                           \
        }                                                                                                              \
        return (double)iters * 12 * lanes * 2 / (now() - t) / 1e9;                                                     \
    }
PEAK_FN(peak_avx512, "avx512f,fma", __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, "v")
PEAK_FN(peak_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, "x")
#define HAVE_PEAK 1
#endif

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

/* GFLOP/s of one product shape, best of a few timed batches. */
static double bench(struct gfi_pool *pool, bool ta, bool tb, int64_t m, int64_t n, int64_t k)
{
    float *a = malloc(sizeof(float) * (size_t)(m * k)), *b = malloc(sizeof(float) * (size_t)(k * n));
    float *c = malloc(sizeof(float) * (size_t)(m * n));
    fill(a, (size_t)(m * k), 1);
    fill(b, (size_t)(k * n), 2);
    int64_t lda = ta ? m : k, ldb = tb ? k : n;
    double flops = 2.0 * (double)m * (double)n * (double)k, best = 0;
    int reps = (int)(3e9 / flops) + 1;
    gfi_gemm_pool(pool, ws, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    for (int t = 0; t < 12; t++) {
        double t0 = now();
        for (int r = 0; r < reps; r++)
            gfi_gemm_pool(pool, ws, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        double g = flops * reps / (now() - t0) / 1e9;
        if (g > best)
            best = g;
    }
    free(a);
    free(b);
    free(c);
    return best;
}

/* The dense layer's three products for every layer of a net, per kind. */
static void bench_net(const char *name, const int64_t *widths, int nlayers, int64_t batch, struct gfi_pool *pool)
{
    static const char *kinds[3] = {"forward Z=X W^T (N,T)", "input grad dX=dZ W (N,N)", "weight grad dW=dZ^T X (T,N)"};
    for (int kind = 0; kind < 3; kind++) {
        double flops = 0, secs = 0;
        printf("  %-6s %-28s", name, kinds[kind]);
        for (int l = 0; l < nlayers; l++) {
            int64_t in = widths[l], out = widths[l + 1], m, n, k;
            bool ta = false, tb = false;
            if (kind == 0)
                m = batch, n = out, k = in, tb = true;
            else if (kind == 1)
                m = batch, n = in, k = out;
            else
                m = out, n = in, k = batch, ta = true;
            double g = bench(pool, ta, tb, m, n, k), f = 2.0 * (double)m * (double)n * (double)k;
            printf(" %6.1f", g);
            flops += f;
            secs += f / (g * 1e9);
        }
        printf("  | all layers %6.1f GFLOP/s\n", flops / secs / 1e9);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int kk = 0; kk < GFI_GEMM_NKERNELS; kk++)
            if (strcmp(argv[1], gfi_gemm_kernel_name(kk)) == 0 && gfi_gemm_force_kernel(kk) != 0) {
                fprintf(stderr, "kernel %s unavailable\n", argv[1]);
                return 1;
            }
    }
    printf("kernel: %s\n", gfi_gemm_kernel_name(gfi_gemm_kernel_active()));
#ifdef HAVE_PEAK
    if (gfi_gemm_kernel_available(GFI_GEMM_AVX512))
        printf("peak (1 thread, register-only FMA loop): avx512 %.1f GFLOP/s\n", peak_avx512(200000000L));
    if (gfi_gemm_kernel_available(GFI_GEMM_AVX2))
        printf("peak (1 thread, register-only FMA loop): avx2   %.1f GFLOP/s\n", peak_avx2(200000000L));
#endif
    static const int64_t mnist[] = {784, 512, 512, 10}, wide[] = {1024, 2048, 2048, 1024};
    for (int nt = 1; nt <= 2; nt++) {
        struct gfi_pool *pool = NULL;
        if (gfi_pool_create(&pool, nt) != 0 || gfi_gemm_ws_create(&ws, nt) != 0)
            return 1;
        printf("threads %d\n", nt);
        printf("  512x784 * 784x128 (NN)      %6.1f GFLOP/s\n", bench(pool, false, false, 512, 128, 784));
        printf("  2048x256 * 256x2048 (NN)    %6.1f GFLOP/s\n", bench(pool, false, false, 2048, 2048, 256));
        printf("  per layer GFLOP/s, then the net's total:\n");
        bench_net("mnist", mnist, 3, 128, pool);
        bench_net("wide", wide, 3, 256, pool);
        gfi_pool_destroy(pool);
        gfi_gemm_ws_destroy(ws);
    }
    return 0;
}
