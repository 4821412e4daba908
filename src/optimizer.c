/*
 * optimizer.c — the optimizers (SGD, momentum, Nesterov, RMSProp, Adagrad,
 * Adam, AdamW): hyper-parameters, moment buffers and the in-place update.
 *
 * The update rules are PyTorch's (torch.optim with dampening 0, no amsgrad,
 * no lr decay), so a net trained here follows the same trajectory as one
 * trained there with the same hyper-parameters.  Per-element arithmetic is in
 * float; bias corrections, which involve powers of beta, are in double.
 *
 * Buffers: m holds the velocity (momentum, Nesterov) or Adam's first moment;
 * v holds the running squares (RMSProp, Adagrad, Adam's second moment).  Only
 * the buffers a kind needs are allocated.
 */
#include "ew.h"
#include "internal.h"

#include <float.h>
#include <math.h>
#include <string.h>

/* ---- kinds and parameters ---- */

static bool kind_valid(int32_t kind) { return kind >= GF_OPT_SGD && kind <= GF_OPT_ADAMW; }

const char *gfi_opt_name(int32_t kind)
{
    switch (kind) {
    case GF_OPT_SGD: return "sgd";
    case GF_OPT_MOMENTUM: return "momentum";
    case GF_OPT_NESTEROV: return "nesterov";
    case GF_OPT_RMSPROP: return "rmsprop";
    case GF_OPT_ADAGRAD: return "adagrad";
    case GF_OPT_ADAM: return "adam";
    case GF_OPT_ADAMW: return "adamw";
    default: return "?";
    }
}

static const char *param_name(int32_t param)
{
    switch (param) {
    case GF_OPT_LR: return "lr";
    case GF_OPT_MOMENTUM_MU: return "momentum mu";
    case GF_OPT_BETA1: return "beta1";
    case GF_OPT_BETA2: return "beta2";
    case GF_OPT_EPS: return "eps";
    case GF_OPT_RHO: return "rho";
    case GF_OPT_WEIGHT_DECAY: return "weight decay";
    default: return "?";
    }
}

static bool param_known(int32_t param) { return param >= GF_OPT_LR && param <= GF_OPT_WEIGHT_DECAY; }

static bool is_adam(int32_t kind) { return kind == GF_OPT_ADAM || kind == GF_OPT_ADAMW; }

/* Whether `kind` reads `param` (a known parameter) at all. */
static bool param_applies(int32_t kind, int32_t param)
{
    switch (param) {
    case GF_OPT_LR:
    case GF_OPT_WEIGHT_DECAY: return true;
    case GF_OPT_MOMENTUM_MU: return kind == GF_OPT_MOMENTUM || kind == GF_OPT_NESTEROV;
    case GF_OPT_BETA1:
    case GF_OPT_BETA2: return is_adam(kind);
    case GF_OPT_EPS: return kind == GF_OPT_RMSPROP || kind == GF_OPT_ADAGRAD || is_adam(kind);
    case GF_OPT_RHO: return kind == GF_OPT_RMSPROP;
    default: return false;
    }
}

static bool needs_m(int32_t kind) { return kind == GF_OPT_MOMENTUM || kind == GF_OPT_NESTEROV || is_adam(kind); }

static bool needs_v(int32_t kind) { return kind == GF_OPT_RMSPROP || kind == GF_OPT_ADAGRAD || is_adam(kind); }

/* Domain of each parameter; NaN fails every test below by construction.  The
 * update runs in float, so nothing may round to Inf there, and eps (a
 * divisor) must be a normal float: one that rounds to 0 writes 0/0 = NaN.
 * lr may be 0 or tiny, as in PyTorch (whose optimizers check 0 <= lr): a
 * cosine schedule ends at min_lr 0 and a decaying one passes through the
 * denormals, which the update reads as 0 (it flushes them); the step is then
 * w - 0*g = w.  gfi_opt_lr_valid is the one test of a rate: the optimizer's
 * create and set, the model loader (through create), a schedule's base and
 * minimum, and the rates a fit takes from its schedule. */
bool gfi_opt_lr_valid(double lr) { return lr >= 0.0 && lr <= FLT_MAX; }

static bool value_valid(int32_t param, double x)
{
    switch (param) {
    case GF_OPT_LR: return gfi_opt_lr_valid(x);
    case GF_OPT_EPS: return x >= FLT_MIN && x <= FLT_MAX;
    case GF_OPT_WEIGHT_DECAY: return x >= 0 && x <= FLT_MAX;
    default: return x >= 0 && x < 1; /* mu, beta1, beta2, rho */
    }
}

static const char *domain_text(int32_t param)
{
    switch (param) {
    case GF_OPT_LR: return GFI_LR_DOMAIN;
    case GF_OPT_EPS: return "a normal float: in [1.2e-38, 3.4e38]";
    case GF_OPT_WEIGHT_DECAY: return "in [0, 3.4e38]";
    default: return "in [0, 1)";
    }
}

static double *param_slot(gf_optimizer *o, int32_t param)
{
    switch (param) {
    case GF_OPT_LR: return &o->lr;
    case GF_OPT_MOMENTUM_MU: return &o->mu;
    case GF_OPT_BETA1: return &o->beta1;
    case GF_OPT_BETA2: return &o->beta2;
    case GF_OPT_EPS: return &o->eps;
    case GF_OPT_RHO: return &o->rho;
    default: return &o->weight_decay;
    }
}

static double param_value(const gf_optimizer *o, int32_t param)
{
    switch (param) {
    case GF_OPT_LR: return o->lr;
    case GF_OPT_MOMENTUM_MU: return o->mu;
    case GF_OPT_BETA1: return o->beta1;
    case GF_OPT_BETA2: return o->beta2;
    case GF_OPT_EPS: return o->eps;
    case GF_OPT_RHO: return o->rho;
    default: return o->weight_decay;
    }
}

/* ---- internal state ---- */

void gfi_opt_defaults(gf_optimizer *o, int32_t kind, double lr)
{
    memset(o, 0, sizeof *o);
    o->magic = GFI_MAGIC_OPT;
    o->kind = kind;
    o->lr = lr;
    o->mu = 0.9;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = kind == GF_OPT_ADAGRAD ? 1e-10 : 1e-8;
    o->rho = 0.99;
    o->weight_decay = kind == GF_OPT_ADAMW ? 0.01 : 0.0;
}

static bool sized_for(const gf_optimizer *o, size_t n)
{
    return o->nparams == n && (!needs_m(o->kind) || o->m) && (!needs_v(o->kind) || o->v);
}

int gfi_opt_prepare_begin(gf_optimizer *o, size_t n, gfi_opt_state *old)
{
    old->m = o->m;
    old->v = o->v;
    old->nparams = o->nparams;
    old->t = o->t;
    old->changed = false;
    if (sized_for(o, n))
        return GF_OK;
    /* Allocate the new buffers before touching the old ones, so a failure
     * leaves the optimizer exactly as it was. */
    float *m = NULL, *v = NULL;
    if (needs_m(o->kind) && !(m = gfi_calloc(n, sizeof *m)))
        goto nomem;
    if (needs_v(o->kind) && !(v = gfi_calloc(n, sizeof *v)))
        goto nomem;
    o->m = m;
    o->v = v;
    o->nparams = n;
    o->t = 0; /* fresh moments: bias corrections must start over too */
    old->changed = true;
    return GF_OK;
nomem:
    gfi_free(m);
    return gfi_fail(GF_ERR_NOMEM, "optimizer: cannot allocate moment buffers for %zu parameters", n);
}

void gfi_opt_prepare_end(gf_optimizer *o, gfi_opt_state *old, bool keep)
{
    if (!old->changed)
        return;
    if (keep) {
        gfi_free(old->m);
        gfi_free(old->v);
        return;
    }
    gfi_free(o->m);
    gfi_free(o->v);
    o->m = old->m;
    o->v = old->v;
    o->nparams = old->nparams;
    o->t = old->t;
}

int gfi_opt_prepare(gf_optimizer *o, size_t n)
{
    gfi_opt_state old;
    int rc = gfi_opt_prepare_begin(o, n, &old);
    if (!rc)
        gfi_opt_prepare_end(o, &old, true);
    return rc;
}

void gfi_opt_free_state(gf_optimizer *o)
{
    gfi_free(o->m);
    gfi_free(o->v);
    o->m = o->v = NULL;
    o->nparams = 0;
}

void gfi_opt_destroy_owned(gf_optimizer *o)
{
    if (!o)
        return;
    gfi_opt_free_state(o);
    o->magic = GFI_MAGIC_DEAD;
    gfi_free(o);
}

/* ---- the update rules ---- */

/*
 * One element's update is written once (update_one) and driven by loops that
 * either store the result (the plain step), or also measure it (the
 * diagnostics: sum of squared weight changes, sum of the new state), or only
 * evaluate it without storing (the guard's dry run).  Sharing the arithmetic
 * is what lets a dry run predict the applied step exactly, bit for bit.
 */

#if defined(__GNUC__) || defined(__clang__)
#define GFI_FORCE_INLINE static inline __attribute__((always_inline))
/* The update bodies run between the wrappers' gfi_ftz_begin / gfi_ftz_end;
 * kept out of line so the compiler cannot move their arithmetic across the
 * MXCSR writes (it does not treat the mode as a dependency). */
#define GFI_NOINLINE static __attribute__((noinline))
#else
#define GFI_FORCE_INLINE static inline
#define GFI_NOINLINE static
#endif

/* Hyper-parameters in the precision the update uses, for step number t. */
typedef struct hyper {
    int32_t kind;
    float lr, mu, wd, eps, rho, one_minus_rho;
    float b1, b2, one_minus_b1, one_minus_b2, step, sqrt_bc2, shrink;
    bool decay, decoupled_decay;
} hyper;

static void hyper_load(hyper *h, const gf_optimizer *o, int64_t t)
{
    memset(h, 0, sizeof *h);
    h->kind = o->kind;
    h->lr = (float)o->lr;
    h->mu = (float)o->mu;
    h->wd = (float)o->weight_decay;
    h->eps = (float)o->eps;
    h->rho = (float)o->rho;
    h->one_minus_rho = (float)(1.0 - o->rho);
    h->decoupled_decay = o->kind == GF_OPT_ADAMW && o->weight_decay != 0;
    h->decay = o->kind != GF_OPT_ADAMW && o->weight_decay != 0;
    if (is_adam(o->kind)) {
        h->b1 = (float)o->beta1;
        h->b2 = (float)o->beta2;
        h->one_minus_b1 = (float)(1.0 - o->beta1);
        h->one_minus_b2 = (float)(1.0 - o->beta2);
        /* Bias corrections in double: beta^t is tiny for large t and its
         * complement must not round to a poor float early on. */
        const double bc1 = 1.0 - pow(o->beta1, (double)t);
        const double bc2 = 1.0 - pow(o->beta2, (double)t);
        /* lr / bc1 can pass FLT_MAX for a huge lr: the step is then infinite, an
         * overflow of the update that the guard and the origin tracking report. */
        h->step = (float)(o->lr / bc1);
        h->sqrt_bc2 = (float)sqrt(bc2);
        h->shrink = (float)(1.0 - o->lr * o->weight_decay);
    }
}

/* New weight from w and g; *m and *v (the element's state) are updated in place.
 * SGD: g' = g + wd w, w -= lr g'.  Momentum: v = mu v + g', w -= lr v.
 * Nesterov: w -= lr (g' + mu v).  RMSProp: s = rho s + (1-rho) g'^2; Adagrad:
 * s += g'^2; both w -= lr g' / (sqrt s + eps).  Adam (L2 decay added to g) and
 * AdamW (decoupled: w shrinks first). */
GFI_FORCE_INLINE float update_one(const hyper *h, float w, float g, float *m, float *v)
{
    float gi;
    switch (h->kind) {
    case GF_OPT_SGD:
        gi = h->decay ? g + h->wd * w : g;
        return w - h->lr * gi;
    case GF_OPT_MOMENTUM:
        gi = h->decay ? g + h->wd * w : g;
        *m = h->mu * *m + gi;
        return w - h->lr * *m;
    case GF_OPT_NESTEROV:
        gi = h->decay ? g + h->wd * w : g;
        *m = h->mu * *m + gi;
        return w - h->lr * (gi + h->mu * *m);
    case GF_OPT_RMSPROP:
    case GF_OPT_ADAGRAD:
        gi = h->decay ? g + h->wd * w : g;
        *v = h->kind == GF_OPT_RMSPROP ? h->rho * *v + h->one_minus_rho * gi * gi : *v + gi * gi;
        return w - h->lr * (gi / (sqrtf(*v) + h->eps));
    default:
        if (h->decoupled_decay)
            w *= h->shrink;
        gi = h->decay ? g + h->wd * w : g;
        *m = h->b1 * *m + h->one_minus_b1 * gi;
        *v = h->b2 * *v + h->one_minus_b2 * gi * gi;
        return w - h->step * (*m / (sqrtf(*v) / h->sqrt_bc2 + h->eps));
    }
}

/* Element i: store (apply) and/or measure (stats).  A non-finite new weight or
 * state makes *d2 or *st non-finite, since finite squares summed in double
 * cannot overflow. */
GFI_FORCE_INLINE void step_elem(const hyper *h, float *w, const float *g, float *m, float *v, size_t i, bool apply,
                                bool stats, double *d2, double *st)
{
    float mi = m ? m[i] : 0.0f, vi = v ? v[i] : 0.0f;
    float nw = update_one(h, w[i], g[i], &mi, &vi);
    if (stats) {
        double d = (double)nw - (double)w[i];
        *d2 += d * d;
        *st += (double)mi + (double)vi;
    }
    if (apply) {
        w[i] = nw;
        if (m)
            m[i] = mi;
        if (v)
            v[i] = vi;
    }
}

/* Four independent accumulators keep the double sums off the add latency. */
GFI_FORCE_INLINE void step_loop(const hyper *h, float *w, const float *g, float *m, float *v, size_t n, bool apply,
                                bool stats, double *d2, double *st)
{
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0, s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        step_elem(h, w, g, m, v, i, apply, stats, &a0, &s0);
        step_elem(h, w, g, m, v, i + 1, apply, stats, &a1, &s1);
        step_elem(h, w, g, m, v, i + 2, apply, stats, &a2, &s2);
        step_elem(h, w, g, m, v, i + 3, apply, stats, &a3, &s3);
    }
    for (; i < n; i++)
        step_elem(h, w, g, m, v, i, apply, stats, &a0, &s0);
    if (stats) {
        *d2 = (a0 + a1) + (a2 + a3);
        *st = (s0 + s1) + (s2 + s3);
    }
}

static bool update_ready(const gf_optimizer *o, size_t end)
{
    /* The caller prepares the buffers first; refusing an unprepared call
     * keeps a caller bug from writing out of bounds. */
    return !(needs_m(o->kind) || needs_v(o->kind)) || (o->nparams >= end && sized_for(o, o->nparams));
}

GFI_NOINLINE void update_pool_impl(gf_optimizer *o, struct gfi_pool *pool, float *w, const float *g, size_t n)
{
    if (!update_ready(o, n))
        return;
    o->t++;
    hyper h;
    hyper_load(&h, o, o->t);
    if (!gfi_ew_opt_fast(o->kind)) {
        step_loop(&h, w, g, o->m, o->v, n, true, false, NULL, NULL);
        return;
    }
    /* The vector kernels do update_one's arithmetic, operation for operation,
     * so a dry run through step_loop still predicts this step bit for bit. */
    gfi_ew_opt e = {h.kind, h.lr, h.mu, h.wd, h.b1, h.b2, h.one_minus_b1, h.one_minus_b2, h.eps,
                    h.step, h.sqrt_bc2, h.shrink};
    gfi_ew_opt_run(pool, &e, w, g, o->m, o->v, n);
}

void gfi_opt_update_pool(gf_optimizer *o, struct gfi_pool *pool, float *w, const float *g, size_t n)
{
    gfi_fpmode fp = gfi_ftz_begin();
    update_pool_impl(o, pool, w, g, n);
    gfi_ftz_end(fp);
}

GFI_NOINLINE void update_range_impl(gf_optimizer *o, float *w, const float *g, size_t off, size_t n, bool apply,
                              double *d2, double *state)
{
    *d2 = *state = 0.0;
    if (!update_ready(o, off + n))
        return;
    hyper h;
    hyper_load(&h, o, o->t + 1);
    float *m = o->m ? o->m + off : NULL, *v = o->v ? o->v + off : NULL;
    if (apply)
        step_loop(&h, w + off, g + off, m, v, n, true, true, d2, state);
    else
        step_loop(&h, w + off, g + off, m, v, n, false, true, d2, state);
}

void gfi_opt_update_range(gf_optimizer *o, float *w, const float *g, size_t off, size_t n, bool apply, double *d2,
                          double *state)
{
    gfi_fpmode fp = gfi_ftz_begin();
    update_range_impl(o, w, g, off, n, apply, d2, state);
    gfi_ftz_end(fp);
}

/* The diagnostics' measured step: applies step t + 1 to w[off .. off+n) (a
 * block at a time, on the calling thread) with the plain update's own
 * kernel, so it stores what gfi_opt_update would; advances nothing. */
GFI_NOINLINE void apply_range_impl(gf_optimizer *o, float *w, const float *g, size_t off, size_t n)
{
    if (!update_ready(o, off + n))
        return;
    hyper h;
    hyper_load(&h, o, o->t + 1);
    float *m = o->m ? o->m + off : NULL, *v = o->v ? o->v + off : NULL;
    if (!gfi_ew_opt_fast(o->kind)) {
        step_loop(&h, w + off, g + off, m, v, n, true, false, NULL, NULL);
        return;
    }
    gfi_ew_opt e = {h.kind, h.lr, h.mu, h.wd, h.b1, h.b2, h.one_minus_b1, h.one_minus_b2, h.eps,
                    h.step, h.sqrt_bc2, h.shrink};
    gfi_ew()->opt_update(&e, w + off, g + off, m, v, n);
}

void gfi_opt_apply_range(gf_optimizer *o, float *w, const float *g, size_t off, size_t n)
{
    gfi_fpmode fp = gfi_ftz_begin();
    apply_range_impl(o, w, g, off, n);
    gfi_ftz_end(fp);
}

GFI_NOINLINE size_t apply_range_stats_impl(gf_optimizer *o, float *w, const float *g, size_t off, size_t n,
                                           gfi_ew_pstats *s)
{
    if (!update_ready(o, off + n))
        return 0;
    hyper h;
    hyper_load(&h, o, o->t + 1);
    float *m = o->m ? o->m + off : NULL, *v = o->v ? o->v + off : NULL;
    w += off;
    g += off;
    if (!gfi_ew_opt_fast(o->kind)) {
        /* A chunk at a time, measured from a copy of its old weights. */
        enum { CHUNK = 256 };
        float ow[CHUNK];
        size_t k = gfi_ew_finite_prefix(gfi_ew(), g, w, n);
        for (size_t at = 0; at < k; at += CHUNK) {
            size_t c = k - at < CHUNK ? k - at : CHUNK;
            float *mc = m ? m + at : NULL, *vc = v ? v + at : NULL;
            memcpy(ow, w + at, c * sizeof *ow);
            step_loop(&h, w + at, g + at, mc, vc, c, true, false, NULL, NULL);
            gfi_ew_pstats_add(s, ow, g + at, w + at, mc, vc, c);
        }
        return k;
    }
    gfi_ew_opt e = {h.kind, h.lr, h.mu, h.wd, h.b1, h.b2, h.one_minus_b1, h.one_minus_b2, h.eps,
                    h.step, h.sqrt_bc2, h.shrink};
    return gfi_ew()->opt_update_stats(&e, w, g, m, v, n, s);
}

size_t gfi_opt_apply_range_stats(gf_optimizer *o, float *w, const float *g, size_t off, size_t n, gfi_ew_pstats *s)
{
    gfi_fpmode fp = gfi_ftz_begin();
    size_t k = apply_range_stats_impl(o, w, g, off, n, s);
    gfi_ftz_end(fp);
    return k;
}

GFI_NOINLINE void apply_to_impl(const gf_optimizer *o, float *w, const float *g, float *m, float *v, size_t n)
{
    hyper h;
    hyper_load(&h, o, o->t + 1);
    if (!gfi_ew_opt_fast(o->kind)) {
        step_loop(&h, w, g, m, v, n, true, false, NULL, NULL);
        return;
    }
    gfi_ew_opt e = {h.kind, h.lr, h.mu, h.wd, h.b1, h.b2, h.one_minus_b1, h.one_minus_b2, h.eps,
                    h.step, h.sqrt_bc2, h.shrink};
    gfi_ew()->opt_update(&e, w, g, m, v, n);
}

void gfi_opt_apply_to(const gf_optimizer *o, float *w, const float *g, float *m, float *v, size_t n)
{
    gfi_fpmode fp = gfi_ftz_begin();
    apply_to_impl(o, w, g, m, v, n);
    gfi_ftz_end(fp);
}

void gfi_opt_advance(gf_optimizer *o) { o->t++; }

static void count_value(float x, int64_t c[3])
{
    if (isnan(x))
        c[0]++;
    else if (isinf(x))
        c[x > 0 ? 1 : 2]++;
}

GFI_NOINLINE void update_count_impl(const gf_optimizer *o, const float *w, const float *g, size_t off, size_t n,
                              int64_t wcount[3], int64_t scount[3])
{
    if (!update_ready(o, off + n))
        return;
    hyper h;
    hyper_load(&h, o, o->t + 1);
    for (size_t i = off; i < off + n; i++) {
        float mi = o->m ? o->m[i] : 0.0f, vi = o->v ? o->v[i] : 0.0f;
        count_value(update_one(&h, w[i], g[i], &mi, &vi), wcount);
        if (o->m)
            count_value(mi, scount);
        if (o->v)
            count_value(vi, scount);
    }
}

void gfi_opt_update_count(const gf_optimizer *o, const float *w, const float *g, size_t off, size_t n,
                          int64_t wcount[3], int64_t scount[3])
{
    gfi_fpmode fp = gfi_ftz_begin();
    update_count_impl(o, w, g, off, n, wcount, scount);
    gfi_ftz_end(fp);
}

void gfi_opt_update(gf_optimizer *o, float *w, const float *g, size_t n) { gfi_opt_update_pool(o, NULL, w, g, n); }

/* ---- public API ---- */

static int check_handle(const gf_optimizer *o, const char *fn)
{
    if (!o)
        return gfi_fail(GF_ERR_NULL, "%s: optimizer is NULL", fn);
    if (o->magic != GFI_MAGIC_OPT)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not an optimizer (magic 0x%08x)", fn, (unsigned)o->magic);
    return GF_OK;
}

int gf_optimizer_create(gf_optimizer **out, int32_t kind, double lr)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_optimizer_create: out is NULL");
    if (!kind_valid(kind))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_create: unknown optimizer kind (%d)", (int)kind);
    if (!value_valid(GF_OPT_LR, lr))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_create: lr must be %s (got %g)", GFI_LR_DOMAIN, lr);
    gf_optimizer *o = gfi_malloc(sizeof *o);
    if (!o)
        return gfi_fail(GF_ERR_NOMEM, "gf_optimizer_create: cannot allocate the optimizer");
    gfi_opt_defaults(o, kind, lr);
    *out = o;
    return GF_OK;
}

void gf_optimizer_destroy(gf_optimizer *opt)
{
    /* A net that owns the optimizer frees it with the net. */
    if (!opt || opt->magic != GFI_MAGIC_OPT || opt->owner)
        return;
    gfi_opt_destroy_owned(opt);
}

int gf_optimizer_set(gf_optimizer *opt, int32_t param, double value)
{
    int rc = check_handle(opt, "gf_optimizer_set");
    if (rc)
        return rc;
    if (!param_known(param))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_set: unknown optimizer parameter (%d)", (int)param);
    if (!param_applies(opt->kind, param))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_set: parameter %s does not apply to %s", param_name(param),
                        gfi_opt_name(opt->kind));
    if (!value_valid(param, value))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_set: %s must be %s (got %g)", param_name(param),
                        domain_text(param), value);
    *param_slot(opt, param) = value;
    return GF_OK;
}

int gf_optimizer_get(const gf_optimizer *opt, int32_t param, double *value)
{
    int rc = check_handle(opt, "gf_optimizer_get");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_optimizer_get: value is NULL");
    if (!param_known(param))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_get: unknown optimizer parameter (%d)", (int)param);
    if (!param_applies(opt->kind, param))
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_get: parameter %s does not apply to %s", param_name(param),
                        gfi_opt_name(opt->kind));
    *value = param_value(opt, param);
    return GF_OK;
}

int32_t gf_optimizer_kind(const gf_optimizer *opt)
{
    if (check_handle(opt, "gf_optimizer_kind"))
        return -1;
    return opt->kind;
}

int gf_optimizer_reset(gf_optimizer *opt)
{
    int rc = check_handle(opt, "gf_optimizer_reset");
    if (rc)
        return rc;
    /* Keep the buffers so the next step allocates nothing. */
    if (opt->m)
        memset(opt->m, 0, opt->nparams * sizeof *opt->m);
    if (opt->v)
        memset(opt->v, 0, opt->nparams * sizeof *opt->v);
    opt->t = 0;
    return GF_OK;
}

int64_t gf_optimizer_steps(const gf_optimizer *opt)
{
    if (check_handle(opt, "gf_optimizer_steps"))
        return -1;
    return opt->t;
}

/* ---- model files ---- */

bool gfi_opt_param_applies(int32_t kind, int32_t param) { return param_known(param) && param_applies(kind, param); }

double gfi_opt_param_value(const gf_optimizer *o, int32_t param) { return param_value(o, param); }

bool gfi_opt_needs_m(int32_t kind) { return needs_m(kind); }

bool gfi_opt_needs_v(int32_t kind) { return needs_v(kind); }
