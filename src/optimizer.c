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

#include <math.h>
#include <string.h>

/* ---- kinds and parameters ---- */

static bool kind_valid(int32_t kind) { return kind >= GF_OPT_SGD && kind <= GF_OPT_ADAMW; }

static const char *kind_name(int32_t kind)
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

/* Domain of each parameter; NaN fails every test below by construction. */
static bool value_valid(int32_t param, double x)
{
    switch (param) {
    case GF_OPT_LR:
    case GF_OPT_EPS: return isfinite(x) && x > 0;
    case GF_OPT_WEIGHT_DECAY: return isfinite(x) && x >= 0;
    default: return x >= 0 && x < 1; /* mu, beta1, beta2, rho */
    }
}

static const char *domain_text(int32_t param)
{
    switch (param) {
    case GF_OPT_LR:
    case GF_OPT_EPS: return "finite and > 0";
    case GF_OPT_WEIGHT_DECAY: return "finite and >= 0";
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

int gfi_opt_prepare(gf_optimizer *o, size_t n)
{
    if (sized_for(o, n))
        return GF_OK;
    /* Allocate the new buffers before touching the old ones, so a failure
     * leaves the optimizer exactly as it was. */
    float *m = NULL, *v = NULL;
    if (needs_m(o->kind) && !(m = gfi_calloc(n, sizeof *m)))
        goto nomem;
    if (needs_v(o->kind) && !(v = gfi_calloc(n, sizeof *v)))
        goto nomem;
    gfi_opt_free_state(o);
    o->m = m;
    o->v = v;
    o->nparams = n;
    o->t = 0; /* fresh moments: bias corrections must start over too */
    return GF_OK;
nomem:
    gfi_free(m);
    return gfi_fail(GF_ERR_NOMEM, "optimizer: cannot allocate moment buffers for %zu parameters", n);
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

/* SGD, momentum and Nesterov: g' = g + wd w, then the kind's step. */
static void update_sgd_family(gf_optimizer *o, float *w, const float *g, size_t n)
{
    const float lr = (float)o->lr, mu = (float)o->mu, wd = (float)o->weight_decay;
    const bool decay = o->weight_decay != 0;
    float *vel = o->m;
    for (size_t i = 0; i < n; i++) {
        float gi = decay ? g[i] + wd * w[i] : g[i];
        if (o->kind == GF_OPT_SGD) {
            w[i] -= lr * gi;
        } else if (o->kind == GF_OPT_MOMENTUM) {
            vel[i] = mu * vel[i] + gi;
            w[i] -= lr * vel[i];
        } else {
            vel[i] = mu * vel[i] + gi;
            w[i] -= lr * (gi + mu * vel[i]);
        }
    }
}

/* RMSProp (s = rho s + (1-rho) g'^2) and Adagrad (s += g'^2), then
 * w -= lr g' / (sqrt s + eps). */
static void update_rms_family(gf_optimizer *o, float *w, const float *g, size_t n)
{
    const float lr = (float)o->lr, eps = (float)o->eps, wd = (float)o->weight_decay;
    const bool decay = o->weight_decay != 0, rms = o->kind == GF_OPT_RMSPROP;
    const float rho = (float)o->rho, one_minus_rho = (float)(1.0 - o->rho);
    float *s = o->v;
    for (size_t i = 0; i < n; i++) {
        float gi = decay ? g[i] + wd * w[i] : g[i];
        s[i] = rms ? rho * s[i] + one_minus_rho * gi * gi : s[i] + gi * gi;
        w[i] -= lr * (gi / (sqrtf(s[i]) + eps));
    }
}

/* Adam (L2 decay added to g) and AdamW (decoupled decay: w shrinks first). */
static void update_adam_family(gf_optimizer *o, float *w, const float *g, size_t n)
{
    const bool decoupled = o->kind == GF_OPT_ADAMW;
    const bool decay = !decoupled && o->weight_decay != 0;
    const float wd = (float)o->weight_decay, eps = (float)o->eps;
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float one_minus_b1 = (float)(1.0 - o->beta1), one_minus_b2 = (float)(1.0 - o->beta2);
    /* Bias corrections in double: beta^t is tiny for large t and its
     * complement must not round to a poor float early on. */
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t);
    const double bc2 = 1.0 - pow(o->beta2, (double)o->t);
    const float step = (float)(o->lr / bc1);
    const float sqrt_bc2 = (float)sqrt(bc2);
    const float shrink = (float)(1.0 - o->lr * o->weight_decay);
    float *m = o->m, *v = o->v;
    for (size_t i = 0; i < n; i++) {
        if (decoupled && o->weight_decay != 0)
            w[i] *= shrink;
        float gi = decay ? g[i] + wd * w[i] : g[i];
        m[i] = b1 * m[i] + one_minus_b1 * gi;
        v[i] = b2 * v[i] + one_minus_b2 * gi * gi;
        float denom = sqrtf(v[i]) / sqrt_bc2 + eps;
        w[i] -= step * (m[i] / denom);
    }
}

/* The float hyper-parameters of this step for the element-wise kernels;
 * the same values the scalar rules above compute. */
static void ew_params(const gf_optimizer *o, gfi_ew_opt *e)
{
    e->kind = o->kind;
    e->lr = (float)o->lr;
    e->mu = (float)o->mu;
    e->wd = (float)o->weight_decay;
    e->b1 = (float)o->beta1;
    e->b2 = (float)o->beta2;
    e->one_minus_b1 = (float)(1.0 - o->beta1);
    e->one_minus_b2 = (float)(1.0 - o->beta2);
    e->eps = (float)o->eps;
    if (is_adam(o->kind)) {
        e->step = (float)(o->lr / (1.0 - pow(o->beta1, (double)o->t)));
        e->sqrt_bc2 = (float)sqrt(1.0 - pow(o->beta2, (double)o->t));
        e->shrink = (float)(1.0 - o->lr * o->weight_decay);
    }
}

void gfi_opt_update_pool(gf_optimizer *o, struct gfi_pool *pool, float *w, const float *g, size_t n)
{
    /* The caller prepares the buffers for n parameters first; refusing an
     * unprepared call here keeps a caller bug from writing out of bounds. */
    if ((needs_m(o->kind) || needs_v(o->kind)) && !(o->nparams >= n && sized_for(o, o->nparams)))
        return;
    o->t++;
    if (gfi_ew_opt_fast(o->kind)) {
        gfi_ew_opt e;
        ew_params(o, &e);
        gfi_ew_opt_run(pool, &e, w, g, o->m, o->v, n);
        return;
    }
    switch (o->kind) {
    case GF_OPT_SGD:
    case GF_OPT_MOMENTUM:
    case GF_OPT_NESTEROV: update_sgd_family(o, w, g, n); break;
    case GF_OPT_RMSPROP:
    case GF_OPT_ADAGRAD: update_rms_family(o, w, g, n); break;
    default: update_adam_family(o, w, g, n); break;
    }
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
        return gfi_fail(GF_ERR_INVALID, "gf_optimizer_create: lr must be finite and > 0 (got %g)", lr);
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
                        kind_name(opt->kind));
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
                        kind_name(opt->kind));
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
