/*
 * bench.c — `make bench`: fixed training workloads for a fixed time each, against the FP32 FMA
 * peak this CPU reaches in a register-only loop.  Prints one line per workload and thread count:
 *   bench workload=<name> threads=<n> steps_per_sec=<x> samples_per_sec=<y> gflops=<z> peak_pct=<p>
 * (lines of two or more threads add scaling=<steps/s over one thread's, measured again in rounds
 * alternating between a net on one thread and one on n>, and on two threads the goal issue 20 set for
 * the workload, scaling_goal=<g>, with below_goal when it is not met)
 * then the diagnostics overhead (with its goal, 3 % where the kernels run AVX-512, 5 % on AVX2, and
 * over_goal when above it),
 * allocations per step and memory figures.
 * gflops counts 6 x parameters x batch per training step (forward 2, backward 4), as the
 * issue defines it (recurrent workloads: 6 x (G*H*(F+H) x T + dense parameters) x batch, the
 * recurrent weights being used at every one of the T steps); the library does not compute the first layer's input gradient (off by
 * default, gf_net_set_input_grad), so it does less arithmetic than that count (see
 * docs/performance.md for the rate of the arithmetic actually done).
 * The cnn workload (conv, pooling, dense) counts its arithmetic from its layers' sizes instead.
 * Options: --seconds S (time per measurement, default 1.5), --only NAME, --threads N (max, default 2),
 * --isa avx512|avx2|portable (pin the matrix kernels, element-wise passes and diagnostics scans to
 * that instruction set, and measure the peak with it: how the library runs on a CPU without the
 * wider units; the default is the best this CPU runs).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "gradflow.h"
#include "ew.h"   /* gfi_ew_force, for --isa */
#include "gemm.h" /* gfi_gemm_force_kernel */

/* ---- allocator that counts calls and live bytes ---- */

static int64_t alloc_calls, live_bytes, peak_live_bytes;

typedef struct {
    size_t size;
    size_t pad; /* keeps the payload 16-byte aligned */
} hdr;

static void *count_malloc(void *u, size_t n)
{
    (void)u;
    hdr *h = malloc(sizeof(hdr) + n);
    if (!h)
        return NULL;
    h->size = n;
    alloc_calls++;
    live_bytes += (int64_t)n;
    if (live_bytes > peak_live_bytes)
        peak_live_bytes = live_bytes;
    return h + 1;
}

static void *count_realloc(void *u, void *p, size_t n)
{
    (void)u;
    hdr *h = (hdr *)p - 1;
    size_t old = h->size;
    hdr *g = realloc(h, sizeof(hdr) + n);
    if (!g)
        return NULL;
    g->size = n;
    alloc_calls++;
    live_bytes += (int64_t)n - (int64_t)old;
    if (live_bytes > peak_live_bytes)
        peak_live_bytes = live_bytes;
    return g + 1;
}

static void count_free(void *u, void *p)
{
    (void)u;
    hdr *h = (hdr *)p - 1;
    live_bytes -= (int64_t)h->size;
    free(h);
}

/* ---- timing ---- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- FP32 FMA peak of one core ---- */

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
/* Twelve independent FMA chains keep both FMA ports busy despite the 4-cycle
 * latency; the empty asm pins the accumulators in registers. */
#define PEAK_LOOP(name, isa, vec, set1, fma, lanes, cons)                                                  \
    __attribute__((target(isa))) static double name(double seconds)                                       \
    {                                                                                                     \
        vec a0 = set1(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,      \
            a9 = a0, a10 = a0, a11 = a0, x = set1(0.9999999f), y = set1(1e-7f);                             \
        long iters = 0;                                                                                   \
        double t0 = now(), t;                                                                             \
        do {                                                                                              \
            for (int i = 0; i < 100000; i++) {                                                            \
                a0 = fma(a0, x, y), a1 = fma(a1, x, y), a2 = fma(a2, x, y), a3 = fma(a3, x, y);           \
                a4 = fma(a4, x, y), a5 = fma(a5, x, y), a6 = fma(a6, x, y), a7 = fma(a7, x, y);           \
                a8 = fma(a8, x, y), a9 = fma(a9, x, y), a10 = fma(a10, x, y), a11 = fma(a11, x, y);       \
                __asm__ volatile("" : "+" cons(a0), "+" cons(a1), "+" cons(a2), "+" cons(a3), "+" cons(a4), \
                                 "+" cons(a5), "+" cons(a6), "+" cons(a7), "+" cons(a8), "+" cons(a9),     \
                                 "+" cons(a10), "+" cons(a11));                                           \
            }                                                                                             \
            iters += 100000;                                                                              \
        } while ((t = now()) - t0 < seconds);                                                             \
        return (double)iters * 12 * lanes * 2 / (t - t0) / 1e9;                                           \
    }
PEAK_LOOP(peak_avx512, "avx512f,fma", __m512, _mm512_set1_ps, _mm512_fmadd_ps, 16, "v")
PEAK_LOOP(peak_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, 8, "x")
#endif

/* The portable kernels' peak: multiplies and adds (the portable code is
 * built without fused multiply-adds) on 64 independent chains, which the
 * compiler packs into whatever vectors the baseline has (SSE2 on x86-64,
 * NEON on aarch64), enough of them to cover the latency of both. */
static double portable_peak(double seconds)
{
    volatile float sink;
    float acc[64];
    for (int i = 0; i < 64; i++)
        acc[i] = 1.0f;
    long iters = 0;
    double t0 = now(), t;
    do {
        for (int k = 0; k < 10000; k++)
            for (int i = 0; i < 64; i++)
                acc[i] = acc[i] * 0.999999f + 1e-7f;
        iters += 10000;
    } while ((t = now()) - t0 < seconds);
    float all = 0.0f; /* every chain is used, so none can be dropped */
    for (int i = 0; i < 64; i++)
        all += acc[i];
    sink = all;
    (void)sink;
    return (double)iters * 64 * 2 / (t - t0) / 1e9;
}

/* The peak of the instruction set want names (a kernel name: "avx512",
 * "avx2", or "portable", which portable_peak measures). */
static double peak_once(const char **isa, double seconds, const char *want)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    if (!strcmp(want, "avx512")) {
        *isa = "avx512";
        return peak_avx512(seconds);
    }
    if (!strcmp(want, "avx2")) {
        *isa = "avx2";
        return peak_avx2(seconds);
    }
#else
    (void)want;
#endif
    *isa = "portable";
    return portable_peak(seconds);
}

/* The best of five 0.15 s measurements: on a shared machine another process
 * can only slow the loop down, and one slowed measurement would inflate every
 * peak_pct printed after it. */
static double measure_peak(const char **isa, const char *want)
{
    double best = 0.0;
    for (int i = 0; i < 5; i++) {
        double p = peak_once(isa, 0.15, want);
        if (p > best)
            best = p;
    }
    return best;
}

/* ---- workloads ---- */

typedef struct {
    const char *name;
    int64_t widths[24];
    int nwidths;
    int64_t batch;
    int32_t act, opt;
    int32_t rec;   /* 0, or GF_LAYER_LSTM / GF_LAYER_GRU: widths are F, H, outputs (last step -> dense) */
    int64_t steps; /* T of a recurrent workload */
} workload;

/* Floats of one input sample. */
static int64_t input_size(const workload *w) { return w->rec ? w->steps * w->widths[0] : w->widths[0]; }

static workload make_deep(void)
{
    workload w = {"deep", {0}, 22, 64, GF_ACT_TANH, GF_OPT_SGD, 0, 0};
    for (int i = 0; i < 22; i++)
        w.widths[i] = 256;
    return w;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench: %s failed: %s (%s)\n", what, gf_strerror(rc), gf_last_error());
    exit(1);
}

static gf_net *build(const workload *w, int threads, uint64_t seed)
{
    gf_net *net;
    int rc;
    const int64_t dims[2] = {w->steps, w->widths[0]};
    if ((rc = w->rec ? gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, seed)
                     : gf_net_create(&net, w->widths[0], seed)))
        die("gf_net_create", rc);
    if (w->rec && (rc = w->rec == GF_LAYER_LSTM ? gf_net_add_lstm(net, w->widths[1], 0, NULL)
                                                : gf_net_add_gru(net, w->widths[1], 0, NULL)))
        die("gf_net_add_lstm/gru", rc);
    for (int i = w->rec ? 2 : 1; i < w->nwidths; i++)
        if ((rc = gf_net_add_dense(net, w->widths[i], i + 1 < w->nwidths ? w->act : GF_ACT_IDENTITY, NULL)))
            die("gf_net_add_dense", rc);
    gf_optimizer *opt;
    if ((rc = gf_optimizer_create(&opt, w->opt, w->opt == GF_OPT_ADAM ? 1e-3 : 1e-3)) ||
        (rc = gf_net_set_optimizer(net, opt)))
        die("optimizer", rc);
    if ((rc = gf_net_set_threads(net, threads)))
        die("gf_net_set_threads", rc);
    return net;
}

static float *random_floats(size_t n, uint64_t seed)
{
    float *v = malloc(n * sizeof *v);
    if (!v) {
        fprintf(stderr, "bench: out of memory\n");
        exit(1);
    }
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
    return v;
}

typedef struct {
    double steps_per_sec;
    int64_t allocs_after_first;
    int64_t steps;
} result;

/* Runs train steps for `seconds` after a warm-up. */
static result run(const workload *w, int threads, double seconds)
{
    gf_net *net = build(w, threads, 1);
    int rc;
    int64_t in = input_size(w), out = w->widths[w->nwidths - 1], b = w->batch;
    float *x = random_floats((size_t)(b * in), 7), *t = random_floats((size_t)(b * out), 8);
    double loss;
    if ((rc = gf_net_train_step(net, x, (size_t)(b * in), t, (size_t)(b * out), b, &loss)))
        die("train_step", rc);
    int64_t calls0 = alloc_calls;
    /* Warm-up, then time whole batches of steps until the budget is spent. */
    for (int i = 0; i < 3; i++)
        gf_net_train_step(net, x, (size_t)(b * in), t, (size_t)(b * out), b, &loss);
    int64_t steps = 0;
    int64_t chunk = 1;
    double t0 = now(), el;
    do {
        for (int64_t i = 0; i < chunk; i++)
            if ((rc = gf_net_train_step(net, x, (size_t)(b * in), t, (size_t)(b * out), b, &loss)))
                die("train_step", rc);
        steps += chunk;
        el = now() - t0;
        if (chunk < 1 << 20 && el < seconds / 8)
            chunk *= 2;
    } while (el < seconds);
    result r = {steps / el, alloc_calls - calls0, steps + 3};
    gf_net_destroy(net);
    free(x);
    free(t);
    return r;
}

/* ---- the convolutional workload ---- */

/* cnn: batch 64 of 1 x 28 x 28, conv 3x3 -> 32 ReLU, max-pool 2, conv 3x3 -> 64 ReLU, max-pool 2, flatten,
 * dense 128 ReLU, dense 10; SGD lr 1e-3, MSE (bench/torch_ref.py builds the same net). */
enum { CNN_BATCH = 64, CNN_IN = 28 * 28, CNN_OUT = 10 };

static gf_net *build_cnn(int threads)
{
    gf_net *net;
    const int64_t dims[3] = {1, 28, 28};
    int rc;
    if ((rc = gf_net_create_shaped(&net, GF_SHAPE_IMAGE, dims, 3, 1)) ||
        (rc = gf_net_add_conv2d(net, 32, 3, 1, 0, GF_ACT_RELU, NULL)) || (rc = gf_net_add_maxpool2d(net, 2, 0, NULL)) ||
        (rc = gf_net_add_conv2d(net, 64, 3, 1, 0, GF_ACT_RELU, NULL)) || (rc = gf_net_add_maxpool2d(net, 2, 0, NULL)) ||
        (rc = gf_net_add_flatten(net, NULL)) || (rc = gf_net_add_dense(net, 128, GF_ACT_RELU, NULL)) ||
        (rc = gf_net_add_dense(net, CNN_OUT, GF_ACT_IDENTITY, NULL)))
        die("building the cnn", rc);
    gf_optimizer *opt;
    if ((rc = gf_optimizer_create(&opt, GF_OPT_SGD, 1e-3)) || (rc = gf_net_set_optimizer(net, opt)))
        die("optimizer", rc);
    if ((rc = gf_net_set_threads(net, threads)))
        die("gf_net_set_threads", rc);
    return net;
}

/* Multiply-adds of one sample's forward (x2 for flops): the convolutions' taps and the dense products. */
static double cnn_forward_flops(void)
{
    double conv1 = 32.0 * 26 * 26 * 9, conv2 = 64.0 * 11 * 11 * 32 * 9, dense = 1600.0 * 128 + 128.0 * 10;
    return 2.0 * (conv1 + conv2 + dense);
}

static result run_cnn(int threads, double seconds)
{
    gf_net *net = build_cnn(threads);
    size_t nx = (size_t)CNN_BATCH * CNN_IN, nt = (size_t)CNN_BATCH * CNN_OUT;
    float *x = random_floats(nx, 7), *t = random_floats(nt, 8);
    double loss;
    int rc;
    if ((rc = gf_net_train_step(net, x, nx, t, nt, CNN_BATCH, &loss)))
        die("train_step", rc);
    int64_t calls0 = alloc_calls;
    for (int i = 0; i < 3; i++)
        gf_net_train_step(net, x, nx, t, nt, CNN_BATCH, &loss);
    int64_t steps = 0;
    double t0 = now(), el;
    do {
        if ((rc = gf_net_train_step(net, x, nx, t, nt, CNN_BATCH, &loss)))
            die("train_step", rc);
        steps++;
        el = now() - t0;
    } while (el < seconds);
    result r = {steps / el, alloc_calls - calls0, steps + 3};
    gf_net_destroy(net);
    free(x);
    free(t);
    return r;
}

static int cmp_double(const void *a, const void *b);

/* Steps per second of net over at least `seconds` and 2 steps. */
static double round_rate(gf_net *net, const float *x, size_t nx, const float *t, size_t nt, int64_t b, double seconds)
{
    double loss, t0 = now(), el;
    int64_t steps = 0;
    do {
        int rc = gf_net_train_step(net, x, nx, t, nt, b, &loss);
        if (rc)
            die("train_step", rc);
        steps++;
        el = now() - t0;
    } while (el < seconds || steps < 2);
    return (double)steps / el;
}

/* The speed-up of net `many` over net `one` (the same workload on more threads and on one): rounds that
 * time the two nets back to back, in alternating order, and the median of the rounds' ratios.  Two
 * separate timings on a shared machine drift apart by more than the differences the goals are about; a
 * ratio of two timings a few tenths of a second apart shares the drift, as diag_overhead_pct's do. */
static double alternated_scaling(gf_net *one, gf_net *many, const float *x, size_t nx, const float *t, size_t nt,
                                 int64_t b, double seconds)
{
    enum { ROUNDS = 9 };
    double ratio[ROUNDS];
    round_rate(one, x, nx, t, nt, b, 0.02); /* warm-up */
    round_rate(many, x, nx, t, nt, b, 0.02);
    for (int i = 0; i < ROUNDS; i++) {
        double rate[2]; /* [0] one thread, [1] many */
        for (int k = 0; k < 2; k++) {
            int side = (i + k) % 2; /* one, many; then many, one */
            rate[side] = round_rate(side ? many : one, x, nx, t, nt, b, seconds / ROUNDS);
        }
        ratio[i] = rate[1] / rate[0];
    }
    qsort(ratio, ROUNDS, sizeof *ratio, cmp_double);
    return ratio[ROUNDS / 2];
}

static double scaling_dense(const workload *w, int threads, double seconds)
{
    gf_net *one = build(w, 1, 1), *many = build(w, threads, 1);
    int64_t in = input_size(w), out = w->widths[w->nwidths - 1], b = w->batch;
    float *x = random_floats((size_t)(b * in), 7), *t = random_floats((size_t)(b * out), 8);
    double s = alternated_scaling(one, many, x, (size_t)(b * in), t, (size_t)(b * out), b, seconds);
    gf_net_destroy(one);
    gf_net_destroy(many);
    free(x);
    free(t);
    return s;
}

static double scaling_cnn(int threads, double seconds)
{
    gf_net *one = build_cnn(1), *many = build_cnn(threads);
    size_t nx = (size_t)CNN_BATCH * CNN_IN, nt = (size_t)CNN_BATCH * CNN_OUT;
    float *x = random_floats(nx, 7), *t = random_floats(nt, 8);
    double s = alternated_scaling(one, many, x, nx, t, nt, CNN_BATCH, seconds);
    gf_net_destroy(one);
    gf_net_destroy(many);
    free(x);
    free(t);
    return s;
}

/* Parameters, counting a recurrent layer's weights once per step they are used in. */
static int64_t param_count(const workload *w)
{
    int64_t p = 0;
    for (int i = 1; i < w->nwidths; i++)
        if (w->rec && i == 1)
            p += (w->rec == GF_LAYER_LSTM ? 4 : 3) * w->widths[1] * (w->widths[0] + w->widths[1]) * w->steps;
        else
            p += w->widths[i - 1] * w->widths[i] + w->widths[i];
    return p;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Per-step time of `steps` train steps on net. */
static double step_seconds(gf_net *net, const workload *w, const float *x, const float *t, int steps)
{
    int64_t in = input_size(w), out = w->widths[w->nwidths - 1], b = w->batch;
    double loss, t0 = now();
    for (int i = 0; i < steps; i++) {
        int rc = gf_net_train_step(net, x, (size_t)(b * in), t, (size_t)(b * out), b, &loss);
        if (rc)
            die("train_step", rc);
    }
    return (now() - t0) / steps;
}

/* Diagnostics overhead on workload w, one thread: one net with a diag attached,
 * trained in pairs of rounds of 10 steps, one with the diag disabled (no
 * diagnostic work at all) and one enabled (every statistic at every step,
 * gf_diag_create's defaults), the order swapped from pair to pair; the
 * overhead is the median of the pairs' ratios.  Alternating inside one
 * process, on one net, cancels the drift of a shared machine and any effect
 * of where the buffers landed, which separate runs do not; taking the ratio
 * within each pair, not of the two sides' medians, keeps a slow stretch of
 * the host (seconds long on 2-core guests) out of the figure, and the swapped
 * order cancels a drift within a pair.  The counted allocations of the
 * observed steps go to *allocs. */
/* Workload w's net on one thread with a diag attached and enabled (gf_diag_create's defaults), a batch of
 * inputs and targets, after `warm` steps (buffers, optimizer state, the diag's history). */
typedef struct observed {
    gf_net *net;
    gf_diag *diag;
    float *x, *t;
} observed;

static observed observed_open(const workload *w, int warm)
{
    observed o;
    o.net = build(w, 1, 1);
    int rc;
    if ((rc = gf_diag_create(&o.diag, o.net)) || (rc = gf_diag_enable(o.diag, 1)))
        die("gf_diag_create", rc);
    int64_t in = input_size(w), out = w->widths[w->nwidths - 1], b = w->batch;
    o.x = random_floats((size_t)(b * in), 7);
    o.t = random_floats((size_t)(b * out), 8);
    step_seconds(o.net, w, o.x, o.t, warm);
    return o;
}

static void observed_close(observed *o)
{
    gf_diag_destroy(o->diag);
    gf_net_destroy(o->net);
    free(o->x);
    free(o->t);
}

static double diag_overhead_pct(const workload *w, double seconds, int64_t *allocs)
{
    observed o = observed_open(w, 3);
    gf_net *net = o.net;
    gf_diag *diag = o.diag;
    const float *x = o.x, *t = o.t;
    int rc;
    int64_t calls0 = alloc_calls;
    enum { ROUNDS = 61, STEPS = 10 };
    double ratio[ROUNDS];
    int rounds = 0;
    double t0 = now();
    do {
        double secs[2]; /* [0] diag off, [1] on */
        for (int k = 0; k < 2; k++) {
            int enabled = (rounds + k) % 2; /* off, on; then on, off */
            if ((rc = gf_diag_enable(diag, enabled)))
                die("gf_diag_enable", rc);
            secs[enabled] = step_seconds(net, w, x, t, STEPS);
        }
        ratio[rounds++] = secs[1] / secs[0];
    } while (rounds < ROUNDS && (rounds < 11 || now() - t0 < 2 * seconds));
    *allocs = alloc_calls - calls0;
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_double);
    observed_close(&o);
    return 100.0 * (ratio[rounds / 2] - 1.0);
}

/* The cost of asking for the net's verdict after every step, on workload w (one thread, every statistic on):
 * the time of gf_diag_verdict(diag, -1, ...) as a percentage of the observed step, the median over rounds of
 * 10 steps.  A deep net is where the verdict's work (every layer over the records of its windows) is largest
 * against the step's. */
static double verdict_pct(const workload *w, double seconds)
{
    observed o = observed_open(w, 30); /* a history that fills the verdict's windows */
    int rc;
    enum { ROUNDS = 31, STEPS = 10 };
    double pct[ROUNDS];
    int rounds = 0;
    double t0 = now();
    do {
        double step = 0, judge = 0;
        for (int i = 0; i < STEPS; i++) {
            step += step_seconds(o.net, w, o.x, o.t, 1);
            int32_t v;
            double j0 = now();
            if ((rc = gf_diag_verdict(o.diag, -1, &v)))
                die("gf_diag_verdict", rc);
            judge += now() - j0;
        }
        pct[rounds++] = 100.0 * judge / step;
    } while (rounds < ROUNDS && (rounds < 5 || now() - t0 < seconds));
    qsort(pct, (size_t)rounds, sizeof *pct, cmp_double);
    observed_close(&o);
    return pct[rounds / 2];
}

/* Issue 20's goals for two threads over one (steps per second), by workload; 0: none set. */
static double scaling_goal(const char *name)
{
    static const struct {
        const char *name;
        double goal;
    } goals[] = {{"small", 1.4}, {"mnist", 1.8}, {"deep", 1.6}, {"wide", 1.9}};
    for (size_t i = 0; i < sizeof goals / sizeof *goals; i++)
        if (!strcmp(goals[i].name, name))
            return goals[i].goal;
    return 0.0;
}

/* Appends a multi-thread line's speed-up over one thread, and on two threads the goal it is judged by. */
static void print_scaling(const char *name, int threads, double scaling)
{
    printf(" scaling=%.2f", scaling);
    double goal = threads == 2 ? scaling_goal(name) : 0.0;
    if (goal > 0.0)
        printf(" scaling_goal=%.2f%s", goal, scaling >= goal ? "" : " below_goal");
}

int main(int argc, char **argv)
{
    double seconds = 1.5;
    const char *only = NULL;
    int max_threads = 2;
    const char *want_isa = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            max_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc)
            want_isa = argv[++i];
        else {
            fprintf(stderr, "usage: bench [--seconds S] [--only NAME] [--threads N] [--isa avx512|avx2|portable]\n");
            return 2;
        }
    }
    if (want_isa) {
        int kernel = -1;
        for (int k = 0; k < GFI_GEMM_NKERNELS; k++)
            if (!strcmp(want_isa, gfi_gemm_kernel_name(k)))
                kernel = k;
        if (kernel < 0 || gfi_gemm_force_kernel(kernel) || gfi_ew_force(kernel)) {
            fprintf(stderr, "bench: --isa %s: %s\n", want_isa,
                    kernel < 0 ? "expected avx512, avx2 or portable" : gf_last_error());
            return 2;
        }
    }
    if (gf_set_allocator(count_malloc, count_realloc, count_free, NULL))
        die("gf_set_allocator", GF_ERR_STATE);
    /* The peak of the instruction set the matrix kernels run (a CPU with
     * AVX-512F but not the rest the kernel needs runs the AVX2 one). */
    const char *isa;
    double peak = measure_peak(&isa, gfi_gemm_kernel_name(gfi_gemm_kernel_active()));
    printf("bench cpu_isa=%s peak_gflops_1core=%.1f library=%s\n", isa, peak, gf_version_string());
    workload ws[7] = {
        {"tiny", {2, 16, 16, 1}, 4, 1, GF_ACT_TANH, GF_OPT_SGD, 0, 0},
        {"small", {64, 128, 128, 10}, 4, 32, GF_ACT_RELU, GF_OPT_ADAM, 0, 0},
        {"mnist", {784, 512, 512, 10}, 4, 128, GF_ACT_RELU, GF_OPT_MOMENTUM, 0, 0},
        make_deep(),
        {"wide", {1024, 2048, 2048, 1024}, 4, 256, GF_ACT_RELU, GF_OPT_SGD, 0, 0},
        /* batch 64, T 50, 32 features, 256 hidden, last step -> dense 10, SGD (issue 16) */
        {"lstm", {32, 256, 10}, 3, 64, GF_ACT_IDENTITY, GF_OPT_SGD, GF_LAYER_LSTM, 50},
        {"gru", {32, 256, 10}, 3, 64, GF_ACT_IDENTITY, GF_OPT_SGD, GF_LAYER_GRU, 50},
    };
    int64_t worst_allocs = 0;
    long rss_one_net_kib = 0;
    for (int k = 0; k < 7; k++) {
        const workload *w = &ws[k];
        if (only && strcmp(only, w->name))
            continue;
        for (int th = 1; th <= max_threads; th++) {
            result r = run(w, th, seconds);
            if (r.allocs_after_first > worst_allocs)
                worst_allocs = r.allocs_after_first;
            double gflops = 6.0 * (double)param_count(w) * (double)w->batch * r.steps_per_sec / 1e9;
            printf("bench workload=%s threads=%d steps_per_sec=%.1f samples_per_sec=%.0f gflops=%.2f peak_pct=%.1f",
                   w->name, th, r.steps_per_sec, r.steps_per_sec * (double)w->batch, gflops,
                   100.0 * gflops / (peak * th));
            if (th > 1) {
                /* The peak RSS the rss_mib line reports is the one net's at a time: the scaling below
                 * holds two of the workload's nets at once. */
                if (!strcmp(w->name, "wide") && !rss_one_net_kib) {
                    struct rusage ru;
                    getrusage(RUSAGE_SELF, &ru);
                    rss_one_net_kib = ru.ru_maxrss;
                }
                print_scaling(w->name, th, scaling_dense(w, th, seconds));
            }
            printf("\n");
            fflush(stdout);
        }
    }
    for (int th = 1; th <= max_threads && (!only || !strcmp(only, "cnn")); th++) {
        result r = run_cnn(th, seconds);
        if (r.allocs_after_first > worst_allocs)
            worst_allocs = r.allocs_after_first;
        /* Forward once, backward twice (weights and inputs), as the dense count; the first layer's input
         * gradient is not computed. */
        double gflops = 3.0 * cnn_forward_flops() * CNN_BATCH * r.steps_per_sec / 1e9;
        printf("bench workload=cnn threads=%d steps_per_sec=%.1f samples_per_sec=%.0f gflops=%.2f peak_pct=%.1f", th,
               r.steps_per_sec, r.steps_per_sec * CNN_BATCH, gflops, 100.0 * gflops / (peak * th));
        if (th > 1)
            print_scaling("cnn", th, scaling_cnn(th, seconds));
        printf("\n");
        fflush(stdout);
    }
    if (!only || !strcmp(only, "mnist")) {
        int64_t allocs;
        double pct = diag_overhead_pct(&ws[2], seconds, &allocs);
        if (allocs > worst_allocs)
            worst_allocs = allocs;
        double goal = gfi_gemm_kernel_active() == GFI_GEMM_AVX512 ? 3.0 : 5.0;
        printf("bench diag_overhead_pct=%.1f diag_overhead_goal_pct=%.0f%s\n", pct, goal,
               pct <= goal ? "" : " over_goal");
    }
    if (!only || !strcmp(only, "deep"))
        printf("bench verdict_pct=%.1f (deep: the net's verdict after every step, against the step)\n",
               verdict_pct(&ws[3], seconds));
    printf("bench allocs_per_step=%lld\n", (long long)worst_allocs);
    if (!only || !strcmp(only, "wide")) {
        /* Bytes the library holds for the wide net after its first step: parameters, gradients,
         * optimizer state and activation buffers, counted through the allocator. */
        gf_net *net = build(&ws[4], 1, 1);
        int64_t b = ws[4].batch, in = ws[4].widths[0], out = ws[4].widths[3];
        float *x = random_floats((size_t)(b * in), 1), *t = random_floats((size_t)(b * out), 2);
        double loss;
        gf_net_train_step(net, x, (size_t)(b * in), t, (size_t)(b * out), b, &loss);
        double model_mib = (double)live_bytes / (1024.0 * 1024.0);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        long rss = rss_one_net_kib ? rss_one_net_kib : ru.ru_maxrss;
        printf("bench rss_mib=%.1f model_mib=%.1f\n", (double)rss / 1024.0, model_mib);
        gf_net_destroy(net);
        free(x);
        free(t);
    }
    return 0;
}
