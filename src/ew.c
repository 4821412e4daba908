/*
 * ew.c — portable versions of the element-wise passes (see ew.h) and the
 * run-time choice between them and the AVX2 / AVX-512 ones.  The activation
 * formulas here are activation.c's (evaluated in double, rounded once); the
 * optimizer rules are optimizer.c's, one loop per kind so the compiler sees
 * plain streams.
 */
#include "ew.h"
#include "gemm.h"
#include "threadpool.h"

#include <math.h>
#include <string.h>

bool gfi_ew_act_fast(int32_t kind)
{
    return kind == GF_ACT_IDENTITY || kind == GF_ACT_RELU || kind == GF_ACT_LEAKY_RELU || kind == GF_ACT_ELU ||
           kind == GF_ACT_SELU || kind == GF_ACT_SOFTPLUS || kind == GF_ACT_GELU || kind == GF_ACT_TANH ||
           kind == GF_ACT_SIGMOID;
}

bool gfi_ew_opt_fast(int32_t kind)
{
    return kind == GF_OPT_SGD || kind == GF_OPT_MOMENTUM || kind == GF_OPT_NESTEROV || kind == GF_OPT_ADAM ||
           kind == GF_OPT_ADAMW;
}

/* exp() only ever sees a non-positive argument, so it cannot overflow. */
static double sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Phi(x) through erfc (accurate in the left tail) and phi(x), as activation.c. */
static double normal_cdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }
static double normal_pdf(double x) { return 0.39894228040143267794 * exp(-0.5 * x * x); }

static float act_value(int32_t kind, double slope, float x)
{
    switch (kind) {
    case GF_ACT_RELU: return x > 0.0f ? x : 0.0f;
    case GF_ACT_LEAKY_RELU: return x > 0.0f ? x : (float)(slope * (double)x);
    case GF_ACT_ELU: return x > 0.0f ? x : (float)(slope * expm1((double)x));
    case GF_ACT_SELU: return (float)(GFI_SELU_LAMBDA * (x > 0.0f ? (double)x : GFI_SELU_ALPHA * expm1((double)x)));
    case GF_ACT_SOFTPLUS: return (float)(fmax((double)x, 0.0) + log1p(exp(-fabs((double)x))));
    case GF_ACT_GELU: return (float)((double)x * normal_cdf((double)x));
    case GF_ACT_TANH: return (float)tanh((double)x);
    case GF_ACT_SIGMOID: return (float)sigmoid((double)x);
    default: return x;
    }
}

static void bias_act(int32_t kind, double slope, const float *b, float *z, float *y, int64_t rows, int64_t cols,
                     int64_t ld)
{
    for (int64_t r = 0; r < rows; r++) {
        float *zr = z + r * ld, *yr = y + r * ld;
        for (int64_t j = 0; j < cols; j++) {
            zr[j] += b[j];
            yr[j] = act_value(kind, slope, zr[j]);
        }
    }
}

/* f'(z) from y = f(z) (ReLU from z: relu'(0) = 0). */
static double act_slope(int32_t kind, double slope, float z, float y)
{
    switch (kind) {
    case GF_ACT_RELU: return z > 0.0f ? 1.0 : 0.0;
    case GF_ACT_LEAKY_RELU: return z > 0.0f ? 1.0 : slope;
    /* ELU and SELU from z (alpha e^z), not from y: y + alpha cancels in float (activation.c) */
    case GF_ACT_ELU: return z > 0.0f ? 1.0 : slope * exp((double)z);
    case GF_ACT_SELU: return GFI_SELU_LAMBDA * (z > 0.0f ? 1.0 : GFI_SELU_ALPHA * exp((double)z));
    case GF_ACT_SOFTPLUS: return sigmoid((double)z);
    case GF_ACT_GELU: return normal_cdf((double)z) + (double)z * normal_pdf((double)z);
    case GF_ACT_TANH: return 1.0 - (double)y * (double)y;
    case GF_ACT_SIGMOID: return (double)y * (1.0 - (double)y);
    default: return 1.0;
    }
}

static void act_grad_colsum(int32_t kind, double slope, const float *z, const float *y, const float *dy, float *dz,
                            float *db, int64_t rows, int64_t cols, int64_t ld)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t i = r * ld + j;
            dz[i] = kind == GF_ACT_IDENTITY ? dy[i] : (float)((double)dy[i] * act_slope(kind, slope, z[i], y[i]));
        }
    for (int64_t j = 0; j < cols; j++) {
        double s = 0.0;
        for (int64_t r = 0; r < rows; r++)
            s += dz[r * ld + j];
        db[j] = (float)s;
    }
}

static void update_sgd(const gfi_ew_opt *o, float *restrict w, const float *restrict g, size_t n)
{
    const float lr = o->lr, wd = o->wd;
    if (wd != 0.0f)
        for (size_t i = 0; i < n; i++)
            w[i] -= lr * (g[i] + wd * w[i]);
    else
        for (size_t i = 0; i < n; i++)
            w[i] -= lr * g[i];
}

static void update_momentum(const gfi_ew_opt *o, float *restrict w, const float *restrict g, float *restrict vel,
                            size_t n)
{
    const float lr = o->lr, mu = o->mu, wd = o->wd;
    const bool nesterov = o->kind == GF_OPT_NESTEROV;
    for (size_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * w[i] : g[i];
        vel[i] = mu * vel[i] + gi;
        w[i] -= nesterov ? lr * (gi + mu * vel[i]) : lr * vel[i];
    }
}

static void update_adam(const gfi_ew_opt *o, float *restrict w, const float *restrict g, float *restrict m,
                        float *restrict v, size_t n)
{
    const bool decoupled = o->kind == GF_OPT_ADAMW, decay = !decoupled && o->wd != 0.0f;
    const bool shrink = decoupled && o->wd != 0.0f;
    for (size_t i = 0; i < n; i++) {
        if (shrink)
            w[i] *= o->shrink;
        float gi = decay ? g[i] + o->wd * w[i] : g[i];
        m[i] = o->b1 * m[i] + o->one_minus_b1 * gi;
        v[i] = o->b2 * v[i] + o->one_minus_b2 * gi * gi;
        float denom = sqrtf(v[i]) / o->sqrt_bc2 + o->eps;
        w[i] -= o->step * (m[i] / denom);
    }
}

static void opt_update(const gfi_ew_opt *o, float *w, const float *g, float *m, float *v, size_t n)
{
    switch (o->kind) {
    case GF_OPT_SGD: update_sgd(o, w, g, n); break;
    case GF_OPT_MOMENTUM:
    case GF_OPT_NESTEROV: update_momentum(o, w, g, m, n); break;
    default: update_adam(o, w, g, m, v, n); break;
    }
}

static size_t first_nonfinite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return n;
}

void gfi_ew_pstats_add(gfi_ew_pstats *s, const float *ow, const float *g, const float *nw, const float *m,
                       const float *v, size_t n)
{
    double gsum = 0, gss = 0, wss = 0, d2 = 0;
    float gmn = s->gmin, gmx = s->gmax, wmx = s->wmax;
    size_t gz = 0, wz = 0;
    bool bad = false;
    for (size_t i = 0; i < n; i++) {
        float gi = g[i], wi = ow[i], ai = fabsf(wi);
        double d = (double)nw[i] - (double)wi;
        gsum += gi;
        gss += (double)gi * gi;
        wss += (double)wi * wi;
        d2 += d * d;
        gmn = gi < gmn ? gi : gmn;
        gmx = gi > gmx ? gi : gmx;
        wmx = ai > wmx ? ai : wmx;
        gz += (size_t)(gi == 0.0f);
        wz += (size_t)(wi == 0.0f);
        bad |= (m && !isfinite(m[i])) || (v && !isfinite(v[i]));
    }
    s->gsum += gsum;
    s->gss += gss;
    s->wss += wss;
    s->d2 += d2;
    s->gmin = gmn;
    s->gmax = gmx;
    s->wmax = wmx;
    s->gzeros += gz;
    s->wzeros += wz;
    s->state_bad |= bad;
}

bool gfi_float_sums_trusted(double ss, double s, size_t n)
{
    return isfinite(ss) && isfinite(s) && ss >= (double)n * 0x1p-100;
}

bool gfi_float_moments_trusted(double ss, double s, size_t n)
{
    /* n ss - s^2 = n^2 var >= 2^-6 n ss */
    return gfi_float_sums_trusted(ss, s, n) && s * s <= (1.0 - 0x1p-6) * (double)n * ss;
}

size_t gfi_ew_finite_prefix(const gfi_ew_ops *ops, const float *g, const float *w, size_t n)
{
    size_t k = ops->first_nonfinite(g, n);
    return ops->first_nonfinite(w, k);
}

/* Steps a chunk at a time, each measured from a copy of its old weights on
 * the stack, over the prefix in which every gradient and weight is finite. */
static size_t opt_update_stats(const gfi_ew_opt *o, float *w, const float *g, float *m, float *v, size_t n,
                               gfi_ew_pstats *s)
{
    enum { CHUNK = 256 };
    float ow[CHUNK];
    size_t k = gfi_ew_finite_prefix(&gfi_ew_portable, g, w, n);
    for (size_t at = 0; at < k; at += CHUNK) {
        size_t c = k - at < CHUNK ? k - at : CHUNK;
        float *mc = m ? m + at : NULL, *vc = v ? v + at : NULL;
        memcpy(ow, w + at, c * sizeof *ow);
        opt_update(o, w + at, g + at, mc, vc, c);
        gfi_ew_pstats_add(s, ow, g + at, w + at, mc, vc, c);
    }
    return k;
}

/* One window's rule (see ew.h), unrolled: the plain "v > best" as integer
 * selects and a max, which the compiler emits without a branch on the data
 * (a branch on which of four values is largest mispredicts most of the
 * time); a window holding a NaN is taken again by the full rule. */
void gfi_max_pool_2x2_portable(const float *x, int64_t w, int64_t sh, int64_t sw, float *y, int32_t *arg, int64_t oh,
                               int64_t ow)
{
    for (int64_t oy = 0; oy < oh; oy++)
        for (int64_t ox = 0; ox < ow; ox++) {
            const int64_t i = oy * sh * w + ox * sw, at[4] = {i, i + 1, i + w, i + w + 1};
            int64_t where = i;
            float best = x[i];
            int nan = best != best;
            for (int k = 1; k < 4; k++) {
                float v = x[at[k]];
                where += (at[k] - where) & -(int64_t)(v > best);
                best = v > best ? v : best;
                nan |= v != v;
            }
            if (nan) /* a NaN wins, and a later NaN replaces it */
                for (int k = 0; k < 4; k++)
                    if (x[at[k]] != x[at[k]])
                        best = x[at[k]], where = at[k];
            y[oy * ow + ox] = best;
            if (arg)
                arg[oy * ow + ox] = (int32_t)where;
        }
}

static void copy_rows(float *d, int64_t ldd, int64_t dplane, const float *s, int64_t lds, int64_t splane,
                      int64_t planes, int64_t rows, int64_t cols)
{
    for (int64_t q = 0; q < planes; q++)
        for (int64_t r = 0; r < rows; r++)
            memcpy(d + q * dplane + r * ldd, s + q * splane + r * lds, (size_t)cols * sizeof *d);
}

static void add_rows(float *d, int64_t ldd, const float *s, int64_t lds, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++, d += ldd, s += lds) {
        float *restrict dr = d;
        const float *restrict sr = s;
        for (int64_t c = 0; c < cols; c++)
            dr[c] += sr[c];
    }
}

static double run_sum16(const float *x, int64_t n)
{
    double part[16] = {0}, s = 0.0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            part[j] += x[i + j];
    for (int j = 0; i + j < n; j++)
        part[j] += x[i + j];
    for (int j = 0; j < 16; j++)
        s += part[j];
    return s;
}

const gfi_ew_ops gfi_ew_portable = {bias_act,         act_grad_colsum, opt_update,
                                    first_nonfinite,  opt_update_stats, gfi_max_pool_2x2_portable,
                                    copy_rows,        run_sum16,        add_rows};

/* The version for a gemm kernel id (the same CPU requirements, since each
 * ew file is built with its kernel file's flags). */
static const gfi_ew_ops *ew_for(int kernel)
{
    switch (kernel) {
#ifdef GFI_GEMM_HAVE_X86
    case GFI_GEMM_AVX512: return &gfi_ew_avx512;
    case GFI_GEMM_AVX2: return &gfi_ew_avx2;
#endif
    default: return &gfi_ew_portable;
    }
}

static const gfi_ew_ops *_Atomic forced_ew;

const gfi_ew_ops *gfi_ew(void)
{
    const gfi_ew_ops *f = forced_ew;
    if (f)
        return f;
    static const gfi_ew_ops *_Atomic best;
    const gfi_ew_ops *b = best;
    if (!b) {
        int k = GFI_GEMM_PORTABLE;
        for (int i = GFI_GEMM_NKERNELS - 1; i > GFI_GEMM_PORTABLE; i--)
            if (gfi_gemm_kernel_available(i)) {
                k = i;
                break;
            }
        b = ew_for(k);
        best = b;
    }
    return b;
}

int gfi_ew_force(int kernel)
{
    if (kernel == GFI_GEMM_AUTO) {
        forced_ew = NULL;
        return GF_OK;
    }
    if (kernel < 0 || kernel >= GFI_GEMM_NKERNELS)
        return gfi_fail(GF_ERR_INVALID, "gfi_ew_force: unknown version (%d)", kernel);
    if (!gfi_gemm_kernel_available(kernel))
        return gfi_fail(GF_ERR_UNSUPPORTED, "gfi_ew_force: version %s is not available on this CPU or build",
                        gfi_gemm_kernel_name(kernel));
    forced_ew = ew_for(kernel);
    return GF_OK;
}

/* ---- the optimizer update split over a pool ---- */

/* Parameters; below this a pool run costs more than half the update saves.  65536 while the workers slept
 * between runs; with them spinning through a step, small's Adam update of 26k parameters was 15 % of its
 * two-thread step, on the caller alone (docs/performance.md, tenth round). */
#ifndef OPT_SPLIT_MIN
#define OPT_SPLIT_MIN 16384
#endif

typedef struct opt_job {
    const gfi_ew_ops *ops;
    const gfi_ew_opt *o;
    float *w, *m, *v;
    const float *g;
    size_t n;
} opt_job;

/* Thread tid of nt takes a contiguous range, cut at multiples of 16. */
static void opt_job_run(void *arg, int tid, int nt)
{
    const opt_job *j = arg;
    size_t units = (j->n + 15) / 16;
    size_t lo = units * (size_t)tid / (size_t)nt * 16, hi = units * (size_t)(tid + 1) / (size_t)nt * 16;
    if (hi > j->n)
        hi = j->n;
    if (lo >= hi)
        return;
    gfi_fpmode fp = gfi_ftz_begin(); /* each worker, like the caller */
    j->ops->opt_update(j->o, j->w + lo, j->g + lo, j->m ? j->m + lo : NULL, j->v ? j->v + lo : NULL, hi - lo);
    gfi_ftz_end(fp);
}

void gfi_ew_opt_run(struct gfi_pool *pool, const gfi_ew_opt *o, float *w, const float *g, float *m, float *v,
                    size_t n)
{
    opt_job j = {gfi_ew(), o, w, m, v, g, n};
    gfi_fpmode fp = gfi_ftz_begin();
    if (n < OPT_SPLIT_MIN || gfi_pool_threads(pool) <= 1)
        j.ops->opt_update(o, w, g, m, v, n);
    else
        gfi_pool_run(pool, opt_job_run, &j);
    gfi_ftz_end(fp);
}

/* ---- the layer passes split over a pool ---- */

#define EW_SPLIT_MIN 32768 /* elements; smaller layers stay on the caller */

typedef struct layer_job {
    const gfi_ew_ops *ops;
    int32_t kind;
    double slope;
    const float *b, *z, *y, *dy;
    float *zw, *yw, *dz, *db;
    int64_t rows, cols;
} layer_job;

static void bias_act_job(void *arg, int tid, int nt)
{
    const layer_job *j = arg;
    int64_t r0 = j->rows * tid / nt, r1 = j->rows * (tid + 1) / nt;
    if (r0 < r1)
        j->ops->bias_act(j->kind, j->slope, j->b, j->zw + r0 * j->cols, j->yw + r0 * j->cols, r1 - r0, j->cols,
                         j->cols);
}

void gfi_ew_bias_act_run(struct gfi_pool *pool, int32_t kind, double slope, const float *b, float *z, float *y,
                         int64_t rows, int64_t cols)
{
    layer_job j = {gfi_ew(), kind, slope, b, NULL, NULL, NULL, z, y, NULL, NULL, rows, cols};
    if (rows * cols < EW_SPLIT_MIN || rows < 2 || gfi_pool_threads(pool) <= 1)
        j.ops->bias_act(kind, slope, b, z, y, rows, cols, cols);
    else
        gfi_pool_run(pool, bias_act_job, &j);
}

/* Thread tid of nt takes a contiguous range of 16-column blocks. */
static void act_grad_job(void *arg, int tid, int nt)
{
    const layer_job *j = arg;
    int64_t units = (j->cols + 15) / 16;
    int64_t c0 = units * tid / nt * 16, c1 = units * (tid + 1) / nt * 16;
    if (c1 > j->cols)
        c1 = j->cols;
    if (c0 < c1)
        j->ops->act_grad_colsum(j->kind, j->slope, j->z + c0, j->y + c0, j->dy + c0, j->dz + c0, j->db + c0, j->rows,
                                c1 - c0, j->cols);
}

void gfi_ew_act_grad_colsum_run(struct gfi_pool *pool, int32_t kind, double slope, const float *z, const float *y,
                                const float *dy, float *dz, float *db, int64_t rows, int64_t cols)
{
    layer_job j = {gfi_ew(), kind, slope, NULL, z, y, dy, NULL, NULL, dz, db, rows, cols};
    if (rows * cols < EW_SPLIT_MIN || cols < 32 || gfi_pool_threads(pool) <= 1)
        j.ops->act_grad_colsum(kind, slope, z, y, dy, dz, db, rows, cols, cols);
    else
        gfi_pool_run(pool, act_grad_job, &j);
}
