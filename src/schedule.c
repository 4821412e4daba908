/*
 * schedule.c — learning-rate schedules: step, exponential, cosine (with SGDR
 * warm restarts), reduce-on-plateau, each optionally after a linear warm-up.
 *
 * The closed-form kinds are pure functions of the unit count t, so a fit can
 * ask for any step's rate without replaying the ones before it.  Formulas
 * and defaults follow torch.optim.lr_scheduler (StepLR, ExponentialLR,
 * CosineAnnealingLR, CosineAnnealingWarmRestarts, LinearLR, ReduceLROnPlateau),
 * except that cosine without restarts stays at its minimum past the period
 * instead of rising again.
 */
#include "internal.h"

#include <math.h>

#define PLATEAU_EPS 1e-8 /* a reduction smaller than this is skipped, as in PyTorch */
#define INTEGER_MAX 9007199254740992.0 /* 2^53: every integer below is exact in a double */
#define PI 3.14159265358979323846

static bool kind_valid(int32_t kind) { return kind >= GF_SCHED_CONSTANT && kind <= GF_SCHED_PLATEAU; }

static void sched_default(gfi_sched *s, int32_t kind, double base)
{
    s->kind = kind;
    s->base = base;
    s->period = 10.0;
    s->gamma = kind == GF_SCHED_EXPONENTIAL ? 0.95 : 0.1;
    s->min_lr = 0.0;
    s->mult = 0.0;
    s->warmup = 0.0;
    s->warmup_start = 1.0 / 3.0;
    s->patience = 10.0;
    s->threshold = 1e-4;
    s->cooldown = 0.0;
    s->mode = -1;
    s->per_step = false;
    gfi_sched_reset(s);
}

void gfi_sched_reset(gfi_sched *s)
{
    s->cur_lr = s->base;
    s->best = NAN; /* no observation yet */
    s->bad = 0;
    s->cool_left = 0;
}

/* ---- rates ---- */

static double cosine(const gfi_sched *s, double tcur, double period)
{
    return s->min_lr + (s->base - s->min_lr) * (1.0 + cos(PI * tcur / period)) / 2.0;
}

/* SGDR: the position inside the current period and that period's length.
 * Period and multiplier are integers up to 2^53 each, so period * mult can
 * pass INT64_MAX (2^32 * 2^32 wrapped to 0 and the loop never ended): once
 * the next period would not fit an int64 it is longer than any u left, so
 * u lies in it and only its length is needed, in double.  With mult >= 2
 * the loop runs at most 63 rounds. */
static double cosine_restarts(const gfi_sched *s, int64_t u)
{
    int64_t period = (int64_t)s->period, mult = (int64_t)s->mult;
    if (mult == 1)
        return cosine(s, (double)(u % period), (double)period);
    while (u >= period) {
        u -= period;
        if (period > INT64_MAX / mult)
            return cosine(s, (double)u, (double)period * (double)mult);
        period *= mult;
    }
    return cosine(s, (double)u, (double)period);
}

/* The schedule after warm-up, at unit u >= 0. */
static double inner_lr(const gfi_sched *s, int64_t u)
{
    switch (s->kind) {
    case GF_SCHED_STEP:
        return s->base * pow(s->gamma, floor((double)u / s->period));
    case GF_SCHED_EXPONENTIAL:
        return s->base * pow(s->gamma, (double)u);
    case GF_SCHED_COSINE:
        if (s->mult >= 1.0)
            return cosine_restarts(s, u);
        return (double)u >= s->period ? s->min_lr : cosine(s, (double)u, s->period);
    case GF_SCHED_PLATEAU:
        return s->cur_lr;
    default:
        return s->base;
    }
}

double gfi_sched_lr(const gfi_sched *s, int64_t t)
{
    if ((double)t < s->warmup)
        return s->base * (s->warmup_start + (1.0 - s->warmup_start) * (double)t / s->warmup);
    return inner_lr(s, t - (int64_t)s->warmup);
}

/* ReduceLROnPlateau's step with relative threshold. */
void gfi_sched_observe(gfi_sched *s, double value, bool higher)
{
    if (s->kind != GF_SCHED_PLATEAU)
        return;
    bool max = s->mode == 1 || (s->mode == -1 && higher);
    bool first = isnan(s->best);
    bool better = max ? value > s->best * (1.0 + s->threshold) : value < s->best * (1.0 - s->threshold);
    if (first ? !isnan(value) : better) {
        s->best = value;
        s->bad = 0;
    } else {
        s->bad++;
    }
    if (s->cool_left > 0) {
        s->cool_left--;
        s->bad = 0;
    }
    if ((double)s->bad > s->patience) {
        double lr = fmax(s->cur_lr * s->gamma, s->min_lr);
        if (s->cur_lr - lr > PLATEAU_EPS)
            s->cur_lr = lr;
        s->cool_left = (int64_t)s->cooldown;
        s->bad = 0;
    }
}

/* ---- the handle ---- */

static int check_sched(const gf_schedule *s, const char *fn)
{
    if (!s)
        return gfi_fail(GF_ERR_NULL, "%s: schedule is NULL", fn);
    if (s->magic != GFI_MAGIC_SCHED)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_schedule", fn);
    return GF_OK;
}

static bool is_count(double v, double lo) { return v >= lo && v <= INTEGER_MAX && floor(v) == v; }

int gf_schedule_create(gf_schedule **out, int32_t kind, double base_lr)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_schedule_create: out is NULL");
    *out = NULL;
    if (!kind_valid(kind))
        return gfi_fail(GF_ERR_INVALID, "gf_schedule_create: unknown schedule kind %d", (int)kind);
    if (!gfi_opt_lr_valid(base_lr))
        return gfi_fail(GF_ERR_INVALID, "gf_schedule_create: base_lr must be a learning rate an optimizer takes: %s "
                                        "(got %g)", GFI_LR_DOMAIN, base_lr);
    gf_schedule *s = gfi_calloc(1, sizeof *s);
    if (!s)
        return gfi_fail(GF_ERR_NOMEM, "gf_schedule_create: out of memory");
    s->magic = GFI_MAGIC_SCHED;
    sched_default(&s->cfg, kind, base_lr);
    *out = s;
    return GF_OK;
}

void gf_schedule_destroy(gf_schedule *s)
{
    if (!s || s->magic != GFI_MAGIC_SCHED)
        return;
    s->magic = GFI_MAGIC_DEAD;
    gfi_free(s);
}

int32_t gf_schedule_kind(const gf_schedule *s) { return check_sched(s, "gf_schedule_kind") ? -1 : s->cfg.kind; }

/* Why value cannot be param of a schedule of this kind; NULL if it can. */
static const char *param_problem(const gfi_sched *s, int32_t param, double v)
{
    switch (param) {
    case GF_SCHED_PERIOD:
        return is_count(v, 1.0) ? NULL : "an integer >= 1";
    case GF_SCHED_GAMMA:
        if (s->kind == GF_SCHED_PLATEAU)
            return v > 0.0 && v < 1.0 ? NULL : "in (0, 1) for a plateau schedule";
        return v > 0.0 && isfinite(v) ? NULL : "positive and finite";
    case GF_SCHED_MIN_LR:
        return gfi_opt_lr_valid(v) ? NULL : "a learning rate an optimizer takes: " GFI_LR_DOMAIN;
    case GF_SCHED_THRESHOLD:
        return v >= 0.0 && isfinite(v) ? NULL : ">= 0 and finite";
    case GF_SCHED_RESTART_MULT:
        return v == 0.0 || is_count(v, 1.0) ? NULL : "0 or an integer >= 1";
    case GF_SCHED_WARMUP:
    case GF_SCHED_PATIENCE:
    case GF_SCHED_COOLDOWN:
        return is_count(v, 0.0) ? NULL : "an integer >= 0";
    case GF_SCHED_WARMUP_START:
        return v >= 0.0 && v <= 1.0 ? NULL : "in [0, 1]";
    case GF_SCHED_MODE:
        return v == -1.0 || v == 0.0 || v == 1.0 ? NULL : "-1, 0 or 1";
    case GF_SCHED_PER_STEP:
        if (s->kind == GF_SCHED_PLATEAU && v == 1.0)
            return "0: a plateau schedule watches a per-epoch value";
        return v == 0.0 || v == 1.0 ? NULL : "0 or 1";
    default:
        return "";
    }
}

static double *param_slot(gfi_sched *s, int32_t param)
{
    double *slots[] = {&s->period, &s->gamma, &s->min_lr, &s->mult, &s->warmup, &s->warmup_start, &s->patience,
                       &s->threshold, &s->cooldown};
    return param >= 0 && param < (int32_t)(sizeof slots / sizeof *slots) ? slots[param] : NULL;
}

int gf_schedule_set(gf_schedule *s, int32_t param, double value)
{
    int rc = check_sched(s, "gf_schedule_set");
    if (rc)
        return rc;
    const char *why = param_problem(&s->cfg, param, value);
    if (why && !*why)
        return gfi_fail(GF_ERR_INVALID, "gf_schedule_set: unknown parameter %d", (int)param);
    if (why)
        return gfi_fail(GF_ERR_INVALID, "gf_schedule_set: parameter %d must be %s (got %g)", (int)param, why, value);
    double *slot = param_slot(&s->cfg, param);
    if (slot)
        *slot = value;
    else if (param == GF_SCHED_MODE)
        s->cfg.mode = (int32_t)value;
    else
        s->cfg.per_step = value == 1.0;
    gfi_sched_reset(&s->cfg);
    return GF_OK;
}

int gf_schedule_get(const gf_schedule *s, int32_t param, double *value)
{
    int rc = check_sched(s, "gf_schedule_get");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_schedule_get: value is NULL");
    double *slot = param_slot((gfi_sched *)&s->cfg, param);
    if (slot)
        *value = *slot;
    else if (param == GF_SCHED_MODE)
        *value = s->cfg.mode;
    else if (param == GF_SCHED_PER_STEP)
        *value = s->cfg.per_step;
    else
        return gfi_fail(GF_ERR_INVALID, "gf_schedule_get: unknown parameter %d", (int)param);
    return GF_OK;
}

int gf_schedule_lr(const gf_schedule *s, int64_t t, double *lr)
{
    int rc = check_sched(s, "gf_schedule_lr");
    if (rc)
        return rc;
    if (!lr)
        return gfi_fail(GF_ERR_NULL, "gf_schedule_lr: lr is NULL");
    if (t < 0)
        return gfi_fail(GF_ERR_RANGE, "gf_schedule_lr: t must be >= 0 (got %lld)", (long long)t);
    *lr = gfi_sched_lr(&s->cfg, t);
    return GF_OK;
}

int gf_schedule_observe(gf_schedule *s, double value, double *lr)
{
    int rc = check_sched(s, "gf_schedule_observe");
    if (rc)
        return rc;
    gfi_sched_observe(&s->cfg, value, false);
    if (lr)
        *lr = s->cfg.kind == GF_SCHED_PLATEAU ? s->cfg.cur_lr : gfi_sched_lr(&s->cfg, 0);
    return GF_OK;
}

int gf_schedule_reset(gf_schedule *s)
{
    int rc = check_sched(s, "gf_schedule_reset");
    if (rc)
        return rc;
    gfi_sched_reset(&s->cfg);
    return GF_OK;
}
