/*
 * ew.h — the element-wise passes of a training step (bias + activation,
 * activation gradient + bias gradient, optimizer updates, the NaN/Inf scan),
 * with a portable version in ew.c and AVX2 / AVX-512 ones in ew_avx2.c /
 * ew_avx512.c, chosen at run time.  Everything here is private.
 */
#ifndef GF_EW_H
#define GF_EW_H

#include "internal.h"

#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
#endif

/*
 * Optimizer updates run with denormals flushed to zero (MXCSR FTZ: denormal
 * results become 0; DAZ: denormal inputs read as 0), the caller's mode
 * restored afterwards.  The moment estimates of units whose gradient vanished
 * decay geometrically into the denormal range, where x86 arithmetic takes
 * microcode assists; a 64-128-128-10 Adam net slowed from 362 k to 264 k
 * samples/s over 18 k steps that way.  Every path that computes an update
 * (vector, scalar, dry run, measured step, worker threads) enters this mode,
 * so they keep agreeing bit for bit.  AArch64 gets the same through FPCR.FZ
 * (flushes denormal inputs and results alike), so both give the same
 * numbers; elsewhere a no-op.
 */
typedef unsigned gfi_fpmode;
static inline gfi_fpmode gfi_ftz_begin(void)
{
#if defined(__x86_64__) || defined(__SSE2__)
    unsigned m = _mm_getcsr();
    _mm_setcsr(m | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return m;
#elif defined(__aarch64__) && defined(__GNUC__)
    unsigned long long m;
    __asm__ volatile("mrs %0, fpcr" : "=r"(m));
    __asm__ volatile("msr fpcr, %0" : : "r"(m | (1ull << 24))); /* FZ: denormal inputs and results are 0 */
    return (gfi_fpmode)m; /* FPCR's defined bits are all below bit 32 */
#else
    return 0;
#endif
}
static inline void gfi_ftz_end(gfi_fpmode m)
{
#if defined(__x86_64__) || defined(__SSE2__)
    _mm_setcsr(m);
#elif defined(__aarch64__) && defined(__GNUC__)
    unsigned long long v = m;
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
#else
    (void)m;
#endif
}

/* The optimizer hyper-parameters of one update, already in float; the
 * per-element arithmetic of every version follows optimizer.c's rules. */
typedef struct gfi_ew_opt {
    int32_t kind;          /* GF_OPT_SGD, _MOMENTUM, _NESTEROV, _ADAM, _ADAMW */
    float lr, mu, wd;      /* wd != 0: L2 decay added to g (AdamW: shrink w) */
    float b1, b2, one_minus_b1, one_minus_b2, eps;
    float step, sqrt_bc2, shrink; /* Adam: lr / bc1, sqrt(bc2), 1 - lr wd */
} gfi_ew_opt;

/* What the measured update gathers while it steps, added into by each call:
 * the gradient's sum, squares, min and max (running; a NaN is skipped) and
 * zeros; the old weights' squares, max |w| and zeros; the squared weight
 * change sum ((double)new - (double)old)^2; whether a new optimizer state
 * value is NaN/Inf.  Sums in double (a norm of finite floats cannot
 * overflow or underflow); the vector kernels build the gradient's squares
 * from float partials first (see gfi_float_sums_trusted), and the AVX2 one
 * the old weights' and the changes' squares too, redone in double for each
 * block of 1024 whose float sum it cannot trust (ew_avx2.c): every sum is
 * within 2^-21 of the double loop's. */
typedef struct gfi_ew_pstats {
    double gsum, gss, wss, d2;
    float gmin, gmax, wmax;
    size_t gzeros, wzeros;
    bool state_bad;
} gfi_ew_pstats;

typedef struct gfi_ew_ops {
    /* z[r][j] += b[j], then y = f(z), for rows x cols (element (r, j) at
     * r*ld + j, ld >= cols) and a kind that gfi_ew_act_fast accepts; slope
     * is the kind's parameter (gfi_ew_act_param: leaky ReLU's slope, ELU's
     * alpha; the other kinds ignore it). */
    void (*bias_act)(int32_t kind, double slope, const float *b, float *z, float *y, int64_t rows, int64_t cols,
                     int64_t ld);
    /* dz = dy * f'(z) (f' taken from y where cheaper), and
     * db[j] = sum over rows of dz[r][j], summed in double in row order;
     * element (r, j) of z, y, dy and dz is at r*ld + j (ld >= cols), so a
     * block of columns can be handed to another thread. */
    void (*act_grad_colsum)(int32_t kind, double slope, const float *z, const float *y, const float *dy, float *dz,
                            float *db, int64_t rows, int64_t cols, int64_t ld);
    /* One optimizer update of w[0..n) (SGD family and Adam family). */
    void (*opt_update)(const gfi_ew_opt *o, float *w, const float *g, float *m, float *v, size_t n);
    /* Index of the first NaN/Inf in x[0..n), or n when all are finite. */
    size_t (*first_nonfinite)(const float *x, size_t n);
    /* opt_update, measured, over the longest prefix w[0..k) it can vouch
     * for: it stops before the first vector in which a gradient or an old
     * weight is NaN or Inf, so k <= the index of that value, and returns k
     * (n when all are finite).  The prefix is stepped exactly as opt_update
     * steps it and its statistics are added into *s; from k on, nothing is
     * read into *s or changed, so a caller can count and locate the bad
     * values in the old weights without a saved copy. */
    size_t (*opt_update_stats)(const gfi_ew_opt *o, float *w, const float *g, float *m, float *v, size_t n,
                               gfi_ew_pstats *s);
    /* 2 x 2 max pooling of one plane (row length w) without padding, row
     * stride sh and column stride sw: window (oy, ox) covers rows oy sh and
     * oy sh + 1 and columns ox sw and ox sw + 1; y[oy ow + ox] gets its max
     * and arg (unless NULL) the index into x of the value taken, by
     * PyTorch's rule over the window in row order: take v when v > best or
     * v is NaN (ties keep the first; with a NaN, the last NaN).  Every
     * version gives the same values and indices; the vector ones handle
     * sw == 2 and hand other strides to the portable one. */
    void (*max_pool_2x2)(const float *x, int64_t w, int64_t sh, int64_t sw, float *y, int32_t *arg, int64_t oh,
                         int64_t ow);
    /* d[q dplane + r ldd + c] = s[q splane + r lds + c] for q < planes,
     * r < rows, c < cols: im2col's short rows (7 - 26 floats) of every
     * sample in one call. */
    void (*copy_rows)(float *d, int64_t ldd, int64_t dplane, const float *s, int64_t lds, int64_t splane,
                      int64_t planes, int64_t rows, int64_t cols);
    /* The sum of x[0..n) in double: element i into partial sum i % 16, the
     * 16 partials added in order.  Every version gives the same bits (a
     * convolution's bias gradient, summed per (sample, channel) plane). */
    double (*run_sum16)(const float *x, int64_t n);
    /* d[r ldd + c] += s[r lds + c] for r < rows, c < cols: col2im's rows
     * (each element one float add, so every version gives the same bits). */
    void (*add_rows)(float *d, int64_t ldd, const float *s, int64_t lds, int64_t rows, int64_t cols);
} gfi_ew_ops;

/* A sum of squares ss of n floats built from float partials of at most 8
 * squares per lane, then widened and accumulated in double, beside their
 * sum s: ss equals double accumulation up to the partials' rounding
 * (relative 2^-21 at worst) when this holds: ss and s finite (no square
 * overflowed; a NaN/Inf input also fails it) and ss >= n 2^-100 (the
 * squares that underflowed, each below 2^-126 and at most n of them, are
 * below 2^-26 of ss).  Otherwise the caller redoes the sums in double.
 * (For sums s from float partials as well, see gfi_float_moments_trusted.) */
bool gfi_float_sums_trusted(double ss, double s, size_t n);
/* A sum s and sum of squares ss of n floats, both built from float
 * partials of at most 8 terms per lane and then accumulated in double, for
 * a mean s/n and a variance ss/n - (s/n)^2.  s is within 2^-21 of
 * sum |x| <= sqrt(n ss) (so the mean is within 2^-21 of the values' RMS),
 * ss within 2^-21 of itself, so the variance is within 3 2^-21 ss/n.
 * Trusted when gfi_float_sums_trusted holds and the variance is at least
 * 2^-6 of ss/n: it is then within 2^-13 of itself.  Otherwise (values
 * nearly equal, as a saturated sigmoid's) the caller redoes the sums in
 * double and takes the variance with gfi_variance (diag_stats.h). */
bool gfi_float_moments_trusted(double ss, double s, size_t n);
/* The length of the longest prefix of g[0..n) and w[0..n) that holds no
 * NaN or Inf, found with ops->first_nonfinite. */
size_t gfi_ew_finite_prefix(const gfi_ew_ops *ops, const float *g, const float *w, size_t n);
/* Adds to *s the statistics of one stepped range: ow the old weights, g the
 * gradient, nw the new weights, m / v the new state (either may be NULL).
 * The portable half of opt_update_stats, shared with optimizer.c. */
void gfi_ew_pstats_add(gfi_ew_pstats *s, const float *ow, const float *g, const float *nw, const float *m,
                       const float *v, size_t n);

/* The best version this CPU runs (decided once), or the one forced. */
const gfi_ew_ops *gfi_ew(void);
/* Tests and the benchmark: use the version for gemm kernel id `kernel`
 * (GFI_GEMM_PORTABLE / _AVX2 / _AVX512, same CPU requirements) from now on,
 * or the best one again for GFI_GEMM_AUTO.  GF_ERR_INVALID for an unknown
 * id, GF_ERR_UNSUPPORTED for one this CPU or build cannot run; the choice
 * is unchanged on failure.  Not meant to be called while nets train. */
int gfi_ew_force(int kernel);
/* Kinds bias_act and act_grad_colsum handle: identity, ReLU, leaky ReLU,
 * ELU, SELU, softplus, GELU, tanh, sigmoid.  Leaky ReLU gives
 * activation.c's bits in every version (the negative side is slope * x in
 * double, rounded once); the vector versions take ELU's, SELU's and
 * softplus's exp, expm1 and log1p in float (a few ulps) and GELU's Phi in
 * double (about one rounding), the portable one activation.c's double
 * formulas. */
bool gfi_ew_act_fast(int32_t kind);
/* GELU in the vector versions, evaluated in double: Q(a) = P(X > a) for a
 * standard normal X and a >= 0 is phi(a) R(a), with Mills' ratio R(a) =
 * t S(t), t = 1 / (1 + a/4), S a degree-13 polynomial fitted here by least
 * squares on Chebyshev nodes of t against erfc (relative error of R below
 * 6e-11 on 0 <= a <= 20).  Coefficients from t^0 up. */
#define GFI_GELU_MILLS_DEG 13
static const double gfi_gelu_mills[GFI_GELU_MILLS_DEG + 1] = {
    0.24999999998528188,
    0.2500000066787018,
    0.23437448651701126,
    0.2031404809438482,
    0.15893763250647908,
    0.11065082430201906,
    0.04517732844861571,
    0.07220713530187678,
    -0.15730535558566677,
    0.26709214472958676,
    -0.3723382243877291,
    0.2818879547638094,
    -0.10685876405043367,
    0.01634848718640617};

/* The parameter bias_act and act_grad_colsum take for a's kind: leaky
 * ReLU's slope, ELU's alpha (0 for the others). */
static inline double gfi_ew_act_param(const gfi_act *a)
{
    return a->kind == GF_ACT_LEAKY_RELU ? a->slope : a->kind == GF_ACT_ELU ? a->alpha : 0.0;
}
/* Kinds opt_update handles. */
bool gfi_ew_opt_fast(int32_t kind);

struct gfi_pool;
/* opt_update over w[0..n), split into disjoint ranges over the pool's
 * threads when n is large (each element's arithmetic is unchanged, so the
 * result does not depend on the thread count).  pool may be NULL. */
void gfi_ew_opt_run(struct gfi_pool *pool, const gfi_ew_opt *o, float *w, const float *g, float *m, float *v,
                    size_t n);
/* bias_act / act_grad_colsum over a rows x cols layer, split over the
 * pool's threads for large layers (bias_act by rows, act_grad_colsum by
 * blocks of 16 columns, so every element and every column sum is computed
 * exactly as on one thread).  pool may be NULL. */
void gfi_ew_bias_act_run(struct gfi_pool *pool, int32_t kind, double slope, const float *b, float *z, float *y,
                         int64_t rows, int64_t cols);
void gfi_ew_act_grad_colsum_run(struct gfi_pool *pool, int32_t kind, double slope, const float *z, const float *y,
                                const float *dy, float *dz, float *db, int64_t rows, int64_t cols);
/* optimizer.c: the diagnostics' measured step t + 1 over w[off .. off+n)
 * (calling thread), as opt_update_stats: over the longest prefix
 * [off, off+k) in which no gradient or old weight is NaN/Inf, it stores
 * exactly what gfi_opt_update would and adds its statistics into *s, and
 * returns k; from off+k on, nothing is changed.  Advances nothing. */
size_t gfi_opt_apply_range_stats(gf_optimizer *o, float *w, const float *g, size_t off, size_t n, gfi_ew_pstats *s);
/* optimizer.c: gfi_opt_update with the element-wise work split over pool. */
void gfi_opt_update_pool(gf_optimizer *o, struct gfi_pool *pool, float *w, const float *g, size_t n);

extern const gfi_ew_ops gfi_ew_portable;
/* The portable 2 x 2 max pooling (any strides), for the vector versions' other strides. */
void gfi_max_pool_2x2_portable(const float *x, int64_t w, int64_t sh, int64_t sw, float *y, int32_t *arg, int64_t oh,
                               int64_t ow);
#if defined(__x86_64__) || defined(__i386__)
extern const gfi_ew_ops gfi_ew_avx512;
extern const gfi_ew_ops gfi_ew_avx2;
#endif

#endif /* GF_EW_H */
