/*
 * blas_ref.c — the `wide` training step of `make bench` (1024-2048-2048-1024 ReLU, batch 256,
 * plain SGD, MSE) written with a system BLAS's cblas_sgemm for its three products, alternated
 * in one process with libgradflow's wide step (bench/steps.h), one thread each.  It answers
 * "would a tuned BLAS do better on this machine?" for the step, not for a product in isolation.
 *
 * Optional: it needs a CBLAS library, so `make check` does not build it.  `make blas-ref`
 * links build/cc/bench/blas_ref against BLAS_LIB (default -lblas, Debian's alternative; e.g.
 * apt-get install libopenblas-serial-dev) and runs it; by hand:
 *     build/cc/bench/blas_ref [rounds]
 * It re-runs itself with OPENBLAS_NUM_THREADS=1, BLIS_NUM_THREADS=1 and OMP_NUM_THREADS=1 set
 * when they are not, since those libraries read them when they load.
 *
 * Then the step's eight products one at a time, each alternated between cblas_sgemm and the
 * library's own product (gfi_gemm, one thread), which shows which form (Z = A W^T, dW = dZ^T A,
 * dA = dZ W) and which layer a difference in the step comes from.
 *
 * The BLAS step does what gf_net_train_step does for this net: forward with bias and ReLU,
 * MSE gradient, ReLU gradient, bias gradient, weight gradient, input gradient for every layer
 * but the first, then W -= lr dW and b -= lr db.  Flops are counted as `make bench` counts
 * them (6 x parameters x batch).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "../steps.h"
#include "gemm.h"

/* The CBLAS prototype and constants (the values every CBLAS uses), declared here so the
 * tool needs no particular library's header. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

#define NL 3
#define MAX_ROUNDS 101
static const int64_t dims[NL + 1] = {1024, 2048, 2048, 1024};
static const int64_t batch = 256;
static const float lr = 0.01f;

/* Parameters, gradients and activations of the BLAS step: z pre-activation, a output
 * (a[0] the input), da gradient of a[l] (da[NL] from the loss), one buffer each. */
typedef struct blas_net {
    float *w[NL], *dw[NL], *b[NL], *db[NL], *z[NL], *a[NL + 1], *da[NL + 1], *t;
} blas_net;

static double gemm_seconds; /* time inside cblas_sgemm, summed over every BLAS step */

static void gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                 int64_t ldb, float *c, int64_t ldc)
{
    double t0 = now();
    cblas_sgemm(ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
    gemm_seconds += now() - t0;
}

/* n floats, uniform in [-scale/2, scale/2] (zero for scale 0), 64-byte aligned. */
static float *buffer(size_t n, float scale)
{
    float *p = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = scale * (float)((double)rand() / RAND_MAX - 0.5);
    return p;
}

static void blas_net_make(blas_net *s)
{
    srand(2);
    s->a[0] = buffer((size_t)(batch * dims[0]), 2.0f);
    for (int l = 0; l < NL; l++) {
        size_t nw = (size_t)(dims[l] * dims[l + 1]), nz = (size_t)(batch * dims[l + 1]);
        s->w[l] = buffer(nw, 2.0f * sqrtf(6.0f / (float)dims[l])); /* He uniform */
        s->dw[l] = buffer(nw, 0.0f);
        s->b[l] = buffer((size_t)dims[l + 1], 0.0f);
        s->db[l] = buffer((size_t)dims[l + 1], 0.0f);
        s->z[l] = buffer(nz, 0.0f);
        s->a[l + 1] = buffer(nz, 0.0f);
        s->da[l + 1] = buffer(nz, 0.0f);
    }
    s->da[0] = NULL;
    s->t = buffer((size_t)(batch * dims[NL]), 1.0f);
}

static void blas_net_free(blas_net *s)
{
    free(s->a[0]);
    free(s->t);
    for (int l = 0; l < NL; l++) {
        free(s->w[l]);
        free(s->dw[l]);
        free(s->b[l]);
        free(s->db[l]);
        free(s->z[l]);
        free(s->a[l + 1]);
        free(s->da[l + 1]);
    }
}

static void blas_step(blas_net *s)
{
    for (int l = 0; l < NL; l++) {
        int64_t in = dims[l], out = dims[l + 1];
        bool relu = l < NL - 1;
        gemm(NO_TRANS, TRANS, batch, out, in, s->a[l], in, s->w[l], in, s->z[l], out); /* Z = A W^T */
        for (int64_t i = 0; i < batch; i++) {
            float *z = s->z[l] + i * out, *a = s->a[l + 1] + i * out;
            for (int64_t j = 0; j < out; j++) {
                z[j] += s->b[l][j];
                a[j] = relu && z[j] < 0.0f ? 0.0f : z[j];
            }
        }
    }
    int64_t nout = batch * dims[NL];
    float scale = 2.0f / (float)nout; /* d/dy of the mean of (y - t)^2 */
    for (int64_t i = 0; i < nout; i++)
        s->da[NL][i] = scale * (s->a[NL][i] - s->t[i]);
    for (int l = NL - 1; l >= 0; l--) {
        int64_t in = dims[l], out = dims[l + 1];
        float *dz = s->da[l + 1]; /* dZ overwrites dA in place */
        if (l < NL - 1)
            for (int64_t i = 0; i < batch * out; i++)
                dz[i] = s->z[l][i] > 0.0f ? dz[i] : 0.0f;
        memset(s->db[l], 0, sizeof(float) * (size_t)out);
        for (int64_t i = 0; i < batch; i++)
            for (int64_t j = 0; j < out; j++)
                s->db[l][j] += dz[i * out + j];
        gemm(TRANS, NO_TRANS, out, in, batch, dz, out, s->a[l], in, s->dw[l], in); /* dW = dZ^T A */
        if (l > 0)
            gemm(NO_TRANS, NO_TRANS, batch, in, out, dz, out, s->w[l], in, s->da[l], in); /* dA = dZ W */
    }
    for (int l = 0; l < NL; l++) {
        int64_t nw = dims[l] * dims[l + 1];
        for (int64_t i = 0; i < nw; i++)
            s->w[l][i] -= lr * s->dw[l][i];
        for (int64_t j = 0; j < dims[l + 1]; j++)
            s->b[l][j] -= lr * s->db[l][j];
    }
}

/* One product of the step: C (m x n) = op(A) op(B), row-major, operands from the BLAS net. */
typedef struct product {
    const char *what;
    int layer;
    bool ta, tb;
    int64_t m, n, k;
    const float *a, *b;
    float *c;
} product;

/* The step's products, in its order: the forward's, then per layer from the last dW and dA. */
static int step_products(blas_net *s, product *p)
{
    int n = 0;
    for (int l = 0; l < NL; l++)
        p[n++] = (product){"Z = A W^T ", l + 1, false, true, batch, dims[l + 1], dims[l], s->a[l], s->w[l], s->z[l]};
    for (int l = NL - 1; l >= 0; l--) {
        p[n++] = (product){"dW = dZ^T A", l + 1, true, false, dims[l + 1], dims[l], batch, s->da[l + 1], s->a[l],
                           s->dw[l]};
        if (l > 0)
            p[n++] = (product){"dA = dZ W ", l + 1, false, false, batch, dims[l], dims[l + 1], s->da[l + 1], s->w[l],
                               s->da[l]};
    }
    return n;
}

static void product_run(const product *p, bool blas, struct gfi_gemm_ws *ws)
{
    int64_t lda = p->ta ? p->m : p->k, ldb = p->tb ? p->k : p->n;
    if (blas)
        cblas_sgemm(ROW_MAJOR, p->ta ? TRANS : NO_TRANS, p->tb ? TRANS : NO_TRANS, (int)p->m, (int)p->n, (int)p->k,
                    1.0f, p->a, (int)lda, p->b, (int)ldb, 0.0f, p->c, (int)p->n);
    else
        gfi_gemm(ws, p->ta, p->tb, p->m, p->n, p->k, 1.0f, p->a, lda, p->b, ldb, 0.0f, p->c, p->n);
}

/* Each product alone, rounds of `reps` calls alternated between the BLAS and the library. */
static void compare_products(blas_net *s, int rounds)
{
    struct gfi_gemm_ws *ws;
    if (gfi_gemm_ws_create(&ws, 1)) {
        fprintf(stderr, "blas_ref: cannot create the product workspace\n");
        exit(1);
    }
    product p[3 * NL];
    int np = step_products(s, p);
    enum { REPS = 4 };
    printf("  per product, one thread (GFLOP/s, medians of %d rounds of %d calls, alternated):\n", rounds, REPS);
    double sum_b = 0.0, sum_g = 0.0, flops_all = 0.0;
    for (int i = 0; i < np; i++) {
        double tb[MAX_ROUNDS], tg[MAX_ROUNDS];
        product_run(&p[i], true, ws); /* warm-up */
        product_run(&p[i], false, ws);
        for (int r = 0; r < rounds; r++)
            for (int side = 0; side < 2; side++) {
                double t0 = now();
                for (int k = 0; k < REPS; k++)
                    product_run(&p[i], side == 0, ws);
                (side == 0 ? tb : tg)[r] = (now() - t0) / REPS;
            }
        double flops = 2.0 * (double)p[i].m * (double)p[i].n * (double)p[i].k;
        double b = median(tb, rounds), g = median(tg, rounds);
        sum_b += b;
        sum_g += g;
        flops_all += flops;
        printf("    layer %d %s %5lld x %5lld x %5lld   BLAS %6.1f   libgradflow %6.1f   BLAS / libgradflow time %.3f\n",
               p[i].layer, p[i].what, (long long)p[i].m, (long long)p[i].n, (long long)p[i].k, flops / b / 1e9,
               flops / g / 1e9, b / g);
    }
    printf("    all products                         BLAS %6.1f   libgradflow %6.1f   BLAS / libgradflow time %.3f\n",
           flops_all / sum_b / 1e9, flops_all / sum_g / 1e9, sum_b / sum_g);
    gfi_gemm_ws_destroy(ws);
}

/* The BLAS libraries read their thread count when they load: set it, then start again. */
static void one_thread(char **argv)
{
    if (getenv("OPENBLAS_NUM_THREADS") && getenv("BLIS_NUM_THREADS") && getenv("OMP_NUM_THREADS"))
        return;
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("BLIS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    execv("/proc/self/exe", argv);
    perror("blas_ref: re-running with one BLAS thread");
    exit(1);
}

int main(int argc, char **argv)
{
    one_thread(argv);
    int rounds = argc > 1 ? atoi(argv[1]) : 15;
    if (rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: %s [rounds 1..%d]\n", argv[0], MAX_ROUNDS);
        return 2;
    }
    blas_net s;
    blas_net_make(&s);
    bench_step g = wide_step();
    double flops = 0.0;
    for (int l = 0; l < NL; l++)
        flops += 6.0 * (double)(dims[l] * dims[l + 1] + dims[l + 1]) * (double)batch;

    blas_step(&s); /* warm-up: first touch of every buffer */
    time_steps(&g, 1);
    gemm_seconds = 0.0;
    enum { STEPS = 3 };
    double tb[MAX_ROUNDS], tg[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        for (int k = 0; k < STEPS; k++)
            blas_step(&s);
        tb[r] = (now() - t0) * 1e3 / STEPS;
        tg[r] = time_steps(&g, STEPS);
    }
    double gemm_ms = gemm_seconds * 1e3 / (rounds * STEPS);
    double mb = median(tb, rounds), mg = median(tg, rounds);
    printf("blas_ref wide: %d rounds of %d steps, alternated; medians\n", rounds, STEPS);
    printf("  BLAS step        %7.2f ms  %6.1f GFLOP/s (its sgemm calls: %.2f ms, mean)\n", mb, flops / mb / 1e6,
           gemm_ms);
    printf("  libgradflow step %7.2f ms  %6.1f GFLOP/s\n", mg, flops / mg / 1e6);
    printf("  BLAS / libgradflow time: %.3f\n", mb / mg);
    compare_products(&s, rounds);
    blas_net_free(&s);
    step_free(&g);
    return 0;
}
