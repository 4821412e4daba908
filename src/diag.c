/*
 * diag.c — the diagnostics object: attaching to a net, the hooks net.c calls
 * while training, per-layer statistics into the history ring, non-finite
 * counts, the origin of NaN/Inf, the guard, and the read-out API.
 *
 * An observed pass runs: forward_begin (decides, sizes lazily) -> per layer
 * forward -> loss -> per layer backward -> backward_end (gradient and weight
 * statistics; the record is committed) -> step (update ratio; the guard).
 * Everything is computed into w->cur and copied into the ring at commit, so a
 * read in the middle of a step never sees a half-filled record.  Buffers are
 * sized at create, enable, option changes and the first observation after the
 * net's shape changed; an observed step allocates nothing.
 */
#include "diag.h"
#include "diag_stats.h"
#include "ew.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Private state behind d->work. */
typedef struct diag_work {
    int64_t tick;           /* training forwards seen while enabled (GF_DIAG_EVERY) */
    bool force, force_probe; /* gfi_diag_observe_next */
    bool probe;             /* the pass being observed is a probe */
    bool pending;           /* the latest record awaits its optimizer step */
    bool grads_known, grads_finite;
    bool train_step;        /* inside gf_net_train_step (gfi_diag_train_step_begin/end) */
    bool deferred;          /* gradient and weight statistics are taken by the step */
    int64_t obs_step;       /* net step of the observed pass */
    int64_t pass;           /* observed passes, for the origin of this pass */
    double *cur;            /* record being filled: nlayers * GFI_NSTAT */
    int64_t *cur_nf;        /* its non-finite counts: nlayers * GFI_NTENSOR * 3 */
    unsigned char *unit;    /* per-unit flags for dead / saturated fractions */
    size_t unit_cap;
    /* Small batches (UNIT_SPAN): values per unit each layer's training passes have had, and per unit (nlayers x unit_cap)
     * the count at the end of the last pass in which it escaped the dead or saturated side. */
    int64_t *seen, *escaped;
    /* Targets of the training passes of a classifier (docs/verdicts.md, "Solved classifiers"): per output, the sum
     * of the BCE targets or of the softmax class probabilities (labels: counts), over prior_rows rows, for the
     * loss kind and output width they were taken for. */
    double *prior, prior_rows;
    double prior_ss; /* regression losses: the sum of the targets' squares (prior: their sums per output) */
    double prior_lo, prior_hi; /* regression losses: the smallest and the largest target */
    int32_t prior_loss;
    int64_t prior_width;
    int64_t batch;          /* batch of the observed pass */
    double in_var;          /* variance of the observed input */
    double loss;            /* loss + penalty of the pass (NaN: not known) */
    bool dy_bad;            /* the delta entering the current backward layer is non-finite */
    /* Origin candidate of this pass (the smallest key = earliest in step order). */
    bool cand;
    int64_t cand_key;
    int32_t cand_layer, cand_phase, cand_tensor;
    int64_t origin_pass, origin_key;
    /* The first GFI_EARLY complete training records: loss, then WGRAD_NORM per layer. */
    double *early;          /* GFI_EARLY * (1 + 2 nlayers): loss, gradient norms, weight norms */
    int32_t early_n;
    struct diag_save *save; /* gfi_diag_save / gfi_diag_restore */
} diag_work;

/* What an observed pass may change, kept so that a train step failing after
 * its backward can take it all back: every scalar (both structs whole), the
 * ring slot the pass writes, the latest non-finite counts and the early
 * gradient scale.  The buffers are sized with the ring (resize). */
typedef struct diag_save {
    gf_diag d;
    diag_work w;
    double *slot;       /* nlayers * GFI_NSTAT */
    int64_t slot_step;
    int64_t *nonfinite; /* nlayers * GFI_NTENSOR * 3 */
    double *early_grad; /* nlayers */
    double *early_weight; /* nlayers */
    int64_t *seen, *escaped; /* as diag_work's */
    double *prior;           /* as diag_work's */

    double *keeps;      /* every layer's kept values (per-step series) end to end */
    size_t keeps_cap;
} diag_save;

#define W(d) ((diag_work *)(d)->work)

static double *cur_rec(diag_work *w, int32_t layer) { return w->cur + (size_t)layer * GFI_NSTAT; }


static int64_t nf_total(const int64_t *c) { return c[0] + c[1] + c[2]; }

/* ------------------------------------------------------------------ */
/* Handles and sizing                                                  */
/* ------------------------------------------------------------------ */

int gfi_diag_check(const gf_diag *d, const char *fn)
{
    if (!d)
        return gfi_fail(GF_ERR_NULL, "%s: diag is NULL", fn);
    if (d->magic != GFI_MAGIC_DIAG)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_diag", fn);
    if (!d->net)
        return gfi_fail(GF_ERR_STATE, "%s: the diag's net was destroyed; destroy the diag too", fn);
    return GF_OK;
}

static void free_buffers(gf_diag *d)
{
    diag_work *w = W(d);
    gfi_free(d->hist);
    gfi_free(d->hist_step);
    gfi_free(d->nonfinite);
    gfi_free(w->cur);
    gfi_free(w->cur_nf);
    gfi_free(w->unit);
    gfi_free(w->early);
    gfi_free(d->early_grad);
    gfi_free(d->early_weight);
    gfi_free(w->save->slot);
    gfi_free(w->save->nonfinite);
    gfi_free(w->save->early_grad);
    gfi_free(w->save->early_weight);
    gfi_free(w->seen);
    gfi_free(w->escaped);
    gfi_free(w->save->seen);
    gfi_free(w->save->escaped);
    gfi_free(w->prior);
    gfi_free(w->save->prior);
    w->seen = w->escaped = w->save->seen = w->save->escaped = NULL;
    w->prior = w->save->prior = NULL;
    w->save->slot = w->save->early_grad = w->save->early_weight = NULL;
    w->save->nonfinite = NULL;
    w->early = NULL;
    d->early_grad = NULL;
    d->early_weight = NULL;
    d->hist = NULL;
    d->hist_step = NULL;
    d->nonfinite = NULL;
    w->cur = NULL;
    w->cur_nf = NULL;
    w->unit = NULL;
    w->unit_cap = 0;
}

/* Sizes every buffer for nlayers layers, a ring of cap records and units
 * per layer; keeps the latest records when only cap changes.  On failure
 * nothing changes. */
static int resize(gf_diag *d, int32_t nlayers, int32_t cap, size_t units)
{
    diag_work *w = W(d);
    size_t L = (size_t)nlayers, rec = L * GFI_NSTAT, nf = L * GFI_NTENSOR * 3;
    size_t ul = units ? units : 1;
    double *hist = gfi_calloc((size_t)cap * (rec ? rec : 1), sizeof *hist);
    int64_t *steps = gfi_calloc((size_t)cap, sizeof *steps);
    int64_t *nonf = gfi_calloc(nf ? nf : 1, sizeof *nonf);
    double *cur = gfi_calloc(rec ? rec : 1, sizeof *cur);
    int64_t *cur_nf = gfi_calloc(nf ? nf : 1, sizeof *cur_nf);
    unsigned char *unit = gfi_calloc(ul, 1);
    double *early = gfi_calloc((size_t)GFI_EARLY * (2 * L + 1), sizeof *early);
    double *early_grad = gfi_calloc(L ? L : 1, sizeof *early_grad);
    double *early_weight = gfi_calloc(L ? L : 1, sizeof *early_weight);
    double *sv_slot = gfi_calloc(rec ? rec : 1, sizeof *sv_slot);
    int64_t *sv_nf = gfi_calloc(nf ? nf : 1, sizeof *sv_nf);
    double *sv_early = gfi_calloc(L ? L : 1, sizeof *sv_early);
    double *sv_early_w = gfi_calloc(L ? L : 1, sizeof *sv_early_w);
    size_t nesc = (L ? L : 1) * ul;
    int64_t *seen = gfi_calloc(L ? L : 1, sizeof *seen), *escaped = gfi_calloc(nesc, sizeof *escaped);
    int64_t *sv_seen = gfi_calloc(L ? L : 1, sizeof *sv_seen), *sv_escaped = gfi_calloc(nesc, sizeof *sv_escaped);
    double *prior = gfi_calloc(ul, sizeof *prior), *sv_prior = gfi_calloc(ul, sizeof *sv_prior);
    if (!prior || !sv_prior ||
        !hist || !steps || !nonf || !cur || !cur_nf || !unit || !early || !early_grad || !early_weight || !sv_slot ||
        !sv_nf || !sv_early || !sv_early_w || !seen || !escaped || !sv_seen || !sv_escaped) {
        gfi_free(prior);
        gfi_free(sv_prior);
        gfi_free(seen);
        gfi_free(escaped);
        gfi_free(sv_seen);
        gfi_free(sv_escaped);
        gfi_free(sv_slot);
        gfi_free(sv_nf);
        gfi_free(sv_early);
        gfi_free(sv_early_w);
        gfi_free(early);
        gfi_free(early_grad);
        gfi_free(early_weight);
        gfi_free(hist);
        gfi_free(steps);
        gfi_free(nonf);
        gfi_free(cur);
        gfi_free(cur_nf);
        gfi_free(unit);
        return gfi_fail(GF_ERR_NOMEM, "diagnostics: cannot allocate buffers for %d layers x %d records", (int)nlayers,
                        (int)cap);
    }
    int32_t keep = 0;
    bool same = nlayers == d->nlayers && d->hist;
    if (same) {
        /* The early scale carries over too. */
        memcpy(early, w->early, (size_t)GFI_EARLY * (2 * L + 1) * sizeof *early);
        memcpy(early_grad, d->early_grad, L * sizeof *early_grad);
        memcpy(early_weight, d->early_weight, L * sizeof *early_weight);
        /* The small-batch unit counts too, unit by unit (unit_cap may have grown). */
        memcpy(seen, w->seen, L * sizeof *seen);
        for (size_t i = 0; i < L; i++)
            memcpy(escaped + i * ul, w->escaped + i * w->unit_cap, w->unit_cap * sizeof *escaped);
        memcpy(prior, w->prior, w->unit_cap * sizeof *prior);
        /* Same shape: carry the latest records over, oldest first. */
        keep = d->count < cap ? d->count : cap;
        for (int32_t r = 0; r < keep; r++) {
            int32_t ago = keep - 1 - r;
            const double *src = gfi_diag_at(d, ago, 0, 0);
            memcpy(hist + (size_t)r * rec, src, rec * sizeof *hist);
            steps[r] = gfi_diag_step_at(d, ago);
        }
        memcpy(nonf, d->nonfinite, nf * sizeof *nonf);
    }
    free_buffers(d);
    d->hist = hist;
    d->hist_step = steps;
    d->nonfinite = nonf;
    w->cur = cur;
    w->cur_nf = cur_nf;
    w->unit = unit;
    w->unit_cap = ul;
    w->seen = seen;
    w->escaped = escaped;
    w->save->seen = sv_seen;
    w->save->escaped = sv_escaped;
    w->prior = prior;
    w->save->prior = sv_prior;
    w->early = early;
    d->early_grad = early_grad;
    d->early_weight = early_weight;
    w->save->slot = sv_slot;
    w->save->nonfinite = sv_nf;
    w->save->early_grad = sv_early;
    w->save->early_weight = sv_early_w;
    if (!same) {
        w->prior_rows = 0;
        w->prior_width = 0;
        w->early_n = 0;
        d->early_ready = false;
        d->lr_peak = 0;
        d->lr_annealed_after = 0;
        d->lr_last = 0;
        d->lr_rose_after = 0;
        d->target_on = false;
        d->target_run = 0;
        d->stag_on = false;
    }
    d->nlayers = nlayers;
    d->cap = cap;
    d->count = keep;
    d->head = keep % cap;
    if (!keep)
        w->pending = false;
    return GF_OK;
}

/* Re-sizes when the net gained layers (or wider ones) since the last sizing. */
static int ensure_sized(gf_diag *d)
{
    const gf_net *net = d->net;
    if (d->hist && net->nlayers == d->nlayers && W(d)->unit_cap >= net->widest)
        return GF_OK;
    return resize(d, net->nlayers, d->cap, net->widest);
}

static void sync_net(gf_diag *d)
{
    if (d->net)
        d->net->diag_on = d->enabled || W(d)->force;
}

void gfi_diag_observe_next(gf_diag *d, bool probe)
{
    W(d)->force = true;
    W(d)->force_probe = probe;
    sync_net(d);
}

void gfi_diag_cancel_observe_next(gf_diag *d)
{
    W(d)->force = false;
    W(d)->force_probe = false;
    sync_net(d);
}

/* ------------------------------------------------------------------ */
/* Origin                                                              */
/* ------------------------------------------------------------------ */

/* Position of a tensor in step order: forward layers bottom-up, the loss,
 * backward layers top-down, penalties, clipping, the update. */
static int64_t step_key(const gf_diag *d, int32_t layer, int32_t phase, int32_t tensor)
{
    int64_t L = d->nlayers, band = 4 * (L + 1);
    switch (phase) {
    case GF_PHASE_FORWARD: return layer * 4 + (tensor == GF_TENSOR_PRE_ACTIVATION ? 0 : 1);
    case GF_PHASE_LOSS: return band;
    case GF_PHASE_BACKWARD: {
        int64_t o = tensor == GF_TENSOR_DELTA_PRE ? 0 : tensor == GF_TENSOR_WEIGHT_GRAD ? 1
                  : tensor == GF_TENSOR_BIAS_GRAD ? 2 : 3;
        return 2 * band + (L - 1 - layer) * 4 + o;
    }
    case GF_PHASE_PENALTY: return 3 * band + layer * 4 + (tensor == GF_TENSOR_BIAS_GRAD ? 1 : 0);
    case GF_PHASE_CLIP: return 4 * band;
    default: return 5 * band + layer * 4 + (tensor - GF_TENSOR_WEIGHT);
    }
}

/* A non-finite value was produced from finite inputs: keep the earliest in
 * step order for this pass, and the first ever as the origin. */
static void produced(gf_diag *d, int32_t layer, int32_t phase, int32_t tensor)
{
    diag_work *w = W(d);
    int64_t key = step_key(d, layer, phase, tensor);
    if (!w->cand || key < w->cand_key) {
        w->cand = true;
        w->cand_key = key;
        w->cand_layer = layer;
        w->cand_phase = phase;
        w->cand_tensor = tensor;
    }
    if (!d->origin)
        return;
    bool same_pass = d->origin_found && w->origin_pass == w->pass;
    if (!d->origin_found || (same_pass && key < w->origin_key)) {
        d->origin_found = true;
        d->origin_step = w->obs_step;
        d->origin_layer = layer;
        d->origin_phase = phase;
        d->origin_tensor = tensor;
        w->origin_pass = w->pass;
        w->origin_key = key;
    }
}

static bool layer_params_finite(const gf_layer *l)
{
    return gfi_all_finite(l->w, l->nweights) && gfi_all_finite(l->b, l->nbias);
}

/* ------------------------------------------------------------------ */
/* Hooks: forward                                                      */
/* ------------------------------------------------------------------ */

int gfi_diag_forward_begin(gf_net *net, int64_t batch)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    bool observe;
    if (w->force) {
        observe = true;
        w->probe = w->force_probe;
        w->force = false;
        sync_net(d);
    } else {
        observe = w->tick % d->every == 0;
        w->tick++;
        w->probe = false;
    }
    w->pending = false;
    w->grads_known = false;
    w->cand = false;
    w->obs_step = net->steps;
    w->pass++;
    net->diag_active = false;
    if (!observe)
        return GF_OK;
    int rc = ensure_sized(d);
    if (rc)
        return rc;
    memset(w->cur, 0, (size_t)d->nlayers * GFI_NSTAT * sizeof *w->cur);
    /* The kinds' own statistics are NaN (not measured) unless the kind fills them. */
    for (int32_t i = 0; i < d->nlayers; i++)
        for (int32_t k = GF_STAT_LOSS + 1; k < GFI_NSTAT; k++)
            cur_rec(w, i)[k] = NAN;
    memset(w->cur_nf, 0, (size_t)d->nlayers * GFI_NTENSOR * 3 * sizeof *w->cur_nf);
    size_t n = (size_t)batch * (size_t)net->inputs;
    double s, ss;
    gfi_moment_scan(net->xcopy, n, &s, &ss);
    w->in_var = gfi_variance(net->xcopy, n, s, ss);
    w->loss = NAN;
    w->dy_bad = false;
    w->batch = batch;
    net->diag_active = true;
    return GF_OK;
}

static double safe_ratio(double num, double den)
{
    if (den > 0)
        return num / den;
    return num > 0 ? INFINITY : 0.0;
}

/* Units of u[0..units) not marked yet. */
static size_t unmarked(const unsigned char *u, size_t units)
{
    size_t left = 0;
    for (size_t j = 0; j < units; j++)
        left += !u[j];
    return left;
}

/* Marks in u the units that escape saturation somewhere in y, read as rows
 * of (units x inner) values: sigmoid' = y (1 - y) (max 0.25), tanh' = 1 - y^2 (max 1).
 * Stops at the first row after which every unit is marked (a healthy layer:
 * the first row). */
static void mark_unsaturated(int32_t kind, const float *y, size_t rows, size_t units, size_t inner, unsigned char *u)
{
    size_t left = unmarked(u, units);
    for (size_t r = 0; r < rows && left; r++)
        for (size_t j = 0; j < units; j++) {
            if (u[j])
                continue;
            const float *v = y + (r * units + j) * inner;
            for (size_t k = 0; k < inner && !u[j]; k++)
                u[j] = (unsigned char)(kind == GF_ACT_SIGMOID ? v[k] * (1.0f - v[k]) >= 0.0025f
                                                              : 1.0f - v[k] * v[k] >= 0.01f);
            left -= u[j];
        }
}

/* Marks the units whose pre-activation z is positive somewhere (inner > 1: conv maps).  A unit never on that
 * side is dead for leaky ReLU, ELU and SELU too: its gradient is their negative side's sliver for every sample.
 * Stops once every unit is marked. */
static void mark_alive(const float *z, size_t rows, size_t units, size_t inner, unsigned char *u)
{
    size_t left = unmarked(u, units);
    for (size_t r = 0; r < rows && left; r++)
        for (size_t j = 0; j < units; j++) {
            if (u[j])
                continue;
            const float *v = z + (r * units + j) * inner;
            for (size_t k = 0; k < inner && !u[j]; k++)
                u[j] = (unsigned char)(v[k] > 0.0f);
            left -= u[j];
        }
}

/* Values (rows x positions) a unit must have stayed on the dead or saturated side over before it counts as such.
 * "Off for every sample of the batch" says little when the batch is small: a live ReLU unit that fires for a third
 * of the samples is off for a whole batch of 1 two times in three, so a 4-unit layer of a net trained one sample at
 * a time read three quarters dead on most steps.  Below UNIT_SPAN values a unit counts only once it has stayed off
 * over the last UNIT_SPAN values of training passes (this one and those before): then a unit live for a quarter of
 * the samples passes for dead with odds 0.75^32 = 1e-4.  A probe is judged on its own batch. */
#define UNIT_SPAN 32

/* How many of layer li's units are off (u[j] == 0: no escape in this pass of `vals` values per unit), counting the
 * passes before it when this one has fewer than UNIT_SPAN values; records the escapes of a training pass. */
static size_t units_off(diag_work *w, int32_t li, const unsigned char *u, size_t vals, size_t units)
{
    size_t off = 0;
    if (w->probe) {
        for (size_t j = 0; j < units; j++)
            off += (size_t)!u[j];
        return off;
    }
    int64_t *esc = w->escaped + (size_t)li * w->unit_cap, now = w->seen[li] + (int64_t)vals;
    bool small = vals < UNIT_SPAN;
    for (size_t j = 0; j < units; j++) {
        if (u[j])
            esc[j] = now;
        else
            off += (size_t)(!small || now - esc[j] >= UNIT_SPAN);
    }
    w->seen[li] = now;
    return off;
}

/* Mean and variance of y plus the fraction of units that are dead (ReLU,
 * leaky ReLU, ELU, SELU: on the negative side of z) or saturated
 * (sigmoid/tanh: derivative below 1% of its maximum) for every sample of the
 * batch and every position.  Units come from the kind's per-sample view outer
 * x units x inner (docs/design.md): a dense feature, a conv channel, a hidden
 * unit of a sequence output. */
static void activation_stats(diag_work *w, int32_t li, const gf_layer *l, const float *z, const float *y,
                             int64_t batch, const double *ym, double *mean, double *var, double *dead, double *sat)
{
    int64_t view[3];
    l->ops->units(l, view);
    size_t rows = (size_t)batch * (size_t)view[0], units = (size_t)view[1], inner = (size_t)view[2];
    size_t n = (size_t)batch * (size_t)l->out;
    double s, ss;
    int32_t kind = l->act.kind;
    bool negative_side = gfi_act_has_negative_side(kind), saturating = gfi_act_is_saturating(kind);
    bool relu_fast = kind == GF_ACT_RELU && inner == 1;
    unsigned char *u = w->unit; /* 1: the unit escaped the condition somewhere */
    if (ym) {
        /* Taken with the pre-activation's (fused_relu): moments and alive units already in hand. */
        s = ym[0];
        ss = ym[1];
    } else {
        if (negative_side || saturating)
            memset(u, 0, units);
        /* ReLU with one value per unit: moments and alive units (y > 0 exactly when z > 0) in one pass over y. */
        if (relu_fast)
            gfi_relu_scan(y, rows, units, &s, &ss, u);
        else
            gfi_moment_scan(y, n, &s, &ss);
    }
    *mean = s / (double)n;
    *var = gfi_variance(y, n, s, ss);
    *dead = *sat = 0.0;
    if (!negative_side && !saturating)
        return;
    if (negative_side && !relu_fast)
        mark_alive(z, rows, units, inner, u);
    else if (saturating)
        mark_unsaturated(kind, y, rows, units, inner, u);
    *(negative_side ? dead : sat) = (double)units_off(w, li, u, rows * inner, units) / (double)units;
}

void gfi_diag_forward_layer(gf_net *net, int32_t i, const float *x)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    const gf_layer *l = net->layers[i];
    int64_t batch = w->batch;
    size_t n = (size_t)batch * (size_t)l->out;
    double *rec = cur_rec(w, i);
    (void)x;

    double s, ss, ym[2];
    /* A dense ReLU layer's y is ReLU(z) value for value: one pass over z gives
     * the moments of both and the alive units. */
    int64_t view[3];
    l->ops->units(l, view);
    bool fused_relu = l->kind == GF_LAYER_DENSE && l->act.kind == GF_ACT_RELU && view[2] == 1;
    if (fused_relu) {
        size_t rows = (size_t)batch * (size_t)view[0], units = (size_t)view[1];
        memset(w->unit, 0, units);
        double zm[2];
        gfi_relu_pre_scan(net->z[i], net->y[i], rows, units, zm, ym, w->unit);
        s = zm[0];
        ss = zm[1];
    } else {
        gfi_moment_scan(net->z[i], n, &s, &ss);
    }
    double pmean = s / (double)n;
    rec[GF_STAT_PRE_MEAN] = pmean;
    rec[GF_STAT_PRE_STD] = sqrt(gfi_variance(net->z[i], n, s, ss));
    double mean, var, dead, sat;
    activation_stats(w, i, l, net->z[i], net->y[i], batch, fused_relu ? ym : NULL, &mean, &var, &dead, &sat);
    rec[GF_STAT_ACT_MEAN] = mean;
    rec[GF_STAT_ACT_VAR] = var;
    rec[GF_STAT_DEAD_FRAC] = dead;
    rec[GF_STAT_SATURATED_FRAC] = sat;
    double var_in = i ? cur_rec(w, i - 1)[GF_STAT_ACT_VAR] : w->in_var;
    rec[GF_STAT_ACT_GAIN] = safe_ratio(var, var_in);

    /* Non-finite values: counted only when a sum says there are some. */
    int64_t *in_nf = gfi_nf_at(w->cur_nf, i, GF_TENSOR_INPUT);
    if (i)
        memcpy(in_nf, gfi_nf_at(w->cur_nf, i - 1, GF_TENSOR_ACTIVATION), 3 * sizeof *in_nf);
    int64_t *z_nf = gfi_nf_at(w->cur_nf, i, GF_TENSOR_PRE_ACTIVATION);
    if (!isfinite(ss)) {
        gfi_count_nonfinite(net->z[i], n, z_nf);
        if (!nf_total(in_nf) && nf_total(z_nf) && layer_params_finite(l))
            produced(d, i, GF_PHASE_FORWARD, GF_TENSOR_PRE_ACTIVATION);
    }
    if (!isfinite(mean) || !isfinite(var)) {
        int64_t *y_nf = gfi_nf_at(w->cur_nf, i, GF_TENSOR_ACTIVATION);
        gfi_count_nonfinite(net->y[i], n, y_nf);
        if (!nf_total(z_nf) && nf_total(y_nf))
            produced(d, i, GF_PHASE_FORWARD, GF_TENSOR_ACTIVATION);
    }
}

/* ------------------------------------------------------------------ */
/* Hooks: loss and backward                                            */
/* ------------------------------------------------------------------ */

static bool classifier_loss(int32_t kind)
{
    return kind == GF_LOSS_BCE_LOGITS || kind == GF_LOSS_SOFTMAX_CE || kind == GF_LOSS_SOFTMAX_CE_LABELS;
}

/* The rows the prior reads targets in: the softmax losses' own rows (a time step each under
 * GF_LOSS_PARAM_PER_STEP), else a sample's whole output, whose element-wise losses per-step leaves alone. */
static void prior_rows(const gf_net *net, int64_t batch, int64_t *rows, int64_t *width)
{
    int32_t k = net->loss.kind;
    if (k == GF_LOSS_SOFTMAX_CE || k == GF_LOSS_SOFTMAX_CE_LABELS) {
        gfi_net_loss_rows(net, batch, rows, width);
        return;
    }
    *rows = batch;
    *width = gf_net_output_size(net);
}

static int64_t prior_width(const gf_net *net)
{
    int64_t rows, width;
    prior_rows(net, 1, &rows, &width);
    return width;
}

void gfi_diag_targets(gf_net *net, const float *t)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    int32_t kind = net->loss.kind;
    int64_t width, rows;
    prior_rows(net, net->batch, &rows, &width);
    bool regression = kind == GF_LOSS_MSE || kind == GF_LOSS_MAE || kind == GF_LOSS_HUBER;
    if (w->probe || (!classifier_loss(kind) && !regression) || width < 1 || (size_t)width > w->unit_cap)
        return;
    if (w->prior_loss != kind || w->prior_width != width) {
        memset(w->prior, 0, (size_t)width * sizeof *w->prior);
        w->prior_rows = w->prior_ss = 0;
        w->prior_lo = INFINITY;
        w->prior_hi = -INFINITY;
        w->prior_loss = kind;
        w->prior_width = width;
    }
    if (kind == GF_LOSS_SOFTMAX_CE_LABELS)
        for (int64_t r = 0; r < rows; r++)
            w->prior[(int64_t)t[r]] += 1; /* labels were checked against the classes */
    else if (regression) {
        /* fmin/fmax's NaN rule by comparison (a NaN v fails both and is skipped; lo and hi start at +-Inf): the libm
         * calls, one per target each, were 0.6 % of a small regression net's step */
        double ss = w->prior_ss, lo = w->prior_lo, hi = w->prior_hi;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < width; c++) {
                double v = t[r * width + c];
                w->prior[c] += v;
                ss += v * v;
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
        w->prior_ss = ss;
        w->prior_lo = lo;
        w->prior_hi = hi;
    }
    else
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < width; c++)
                w->prior[c] += t[r * width + c];
    w->prior_rows += (double)rows;
}

/* -p ln p - (1 - p) ln(1 - p), 0 at 0 and 1. */
static double binary_entropy(double p)
{
    if (!(p > 0 && p < 1))
        return 0;
    return -p * log(p) - (1 - p) * log1p(-p);
}

double gfi_diag_chance(const gf_diag *d)
{
    const diag_work *w = W(d);
    const gf_net *net = d->net;
    if (!net || !w || !w->prior || !(w->prior_rows > 0) || w->prior_loss != net->loss.kind ||
        w->prior_width != prior_width(net) || !classifier_loss(w->prior_loss))
        return NAN;
    double h = 0, n = w->prior_rows;
    if (w->prior_loss == GF_LOSS_BCE_LOGITS) {
        for (int64_t o = 0; o < w->prior_width; o++)
            h += binary_entropy(w->prior[o] / n);
        return h / (double)w->prior_width;
    }
    double total = 0;
    for (int64_t c = 0; c < w->prior_width; c++)
        total += w->prior[c];
    for (int64_t c = 0; c < w->prior_width && total > 0; c++)
        if (w->prior[c] > 0)
            h -= w->prior[c] / total * log(w->prior[c] / total);
    return h;
}

int64_t gfi_diag_batch(const gf_diag *d)
{
    const diag_work *w = W(d);
    return w ? w->batch : 0;
}

double gfi_diag_target_var(const gf_diag *d)
{
    const diag_work *w = W(d);
    const gf_net *net = d->net;
    if (!net || !w || !w->prior || !(w->prior_rows > 0) || w->prior_loss != net->loss.kind ||
        w->prior_width != prior_width(net) || classifier_loss(w->prior_loss))
        return NAN;
    double n = w->prior_rows, m2 = 0, ms = w->prior_ss / (n * (double)w->prior_width);
    for (int64_t c = 0; c < w->prior_width; c++)
        m2 += (w->prior[c] / n) * (w->prior[c] / n);
    /* Constant targets leave only the rounding of the mean square (float targets, summed in double): that is 0. */
    double v = ms - m2 / (double)w->prior_width;
    return v > 1e-10 * ms ? v : 0.0;
}

double gfi_diag_target_ends(const gf_diag *d, double *lo, double *hi)
{
    const diag_work *w = W(d);
    *lo = *hi = NAN;
    double v = gfi_diag_target_var(d);
    if (!isfinite(v) || !(w->prior_hi > w->prior_lo))
        return NAN;
    double n = w->prior_rows, R = w->prior_hi - w->prior_lo, room = 0;
    for (int64_t c = 0; c < w->prior_width; c++) {
        double m = w->prior[c] / n;
        room += (w->prior_hi - m) * (m - w->prior_lo);
    }
    *lo = w->prior_lo;
    *hi = w->prior_hi;
    /* Bhatia & Davis 2000: var <= (hi - mean)(mean - lo) for values in [lo, hi]; the gap is E[(hi - t)(t - lo)]. */
    return fmax(room / (double)w->prior_width - v, 0.0) / (R * R);
}

double gfi_diag_target_room(const gf_diag *d, double lo, double hi)
{
    const diag_work *w = W(d);
    double v = gfi_diag_target_var(d), R = hi - lo;
    if (!isfinite(v) || !(R > 0))
        return NAN;
    double n = w->prior_rows, ms = w->prior_ss / (n * (double)w->prior_width), mean = 0;
    for (int64_t c = 0; c < w->prior_width; c++)
        mean += w->prior[c] / n;
    mean /= (double)w->prior_width;
    /* E[(t - lo)(hi - t)] = (lo + hi) E[t] - E[t^2] - lo hi; a target outside [lo, hi] by o (a fraction of R)
     * adds -o (1 + o) to it where |.| adds o (1 + o): twice the farthest one's covers them all. */
    double off = fmax(fmax(lo - w->prior_lo, w->prior_hi - hi), 0.0) / R;
    return ((lo + hi) * mean - ms - lo * hi) / (R * R) + 2 * off * (1 + off);
}

double gfi_diag_majority_loss(const gf_diag *d)
{
    const diag_work *w = W(d);
    const gf_net *net = d->net;
    double lo, hi, gap = gfi_diag_target_ends(d, &lo, &hi);
    if (!isfinite(gap))
        return NAN;
    double R = hi - lo, a = R, delta = net->loss.delta, h = 0, n = w->prior_rows;
    int32_t kind = net->loss.kind;
    double miss = kind == GF_LOSS_MSE ? R * R : kind == GF_LOSS_MAE ? R : a <= delta ? 0.5 * a * a : delta * (a - 0.5 * delta);
    for (int64_t c = 0; c < w->prior_width; c++) {
        double p = fmin(fmax((w->prior[c] / n - lo) / R, 0.0), 1.0);
        h += fmin(p, 1 - p) * miss;
    }
    return h / (double)w->prior_width;
}

void gfi_diag_loss(gf_net *net, double loss, double penalty, bool have_loss)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    int32_t top = net->nlayers - 1;
    w->loss = have_loss ? loss + penalty : NAN;
    /* LOSS counts: the loss value and its gradient d loss / d output. */
    int64_t *c = gfi_nf_at(w->cur_nf, top, GF_TENSOR_LOSS);
    size_t n = (size_t)w->batch * (size_t)net->layers[top]->out;
    if (!gfi_all_finite(net->dbuf[0], n))
        gfi_count_nonfinite(net->dbuf[0], n, c);
    float lv = (float)loss;
    if (have_loss && !isfinite(loss))
        gfi_count_nonfinite(&lv, 1, c);
    bool out_finite = !nf_total(gfi_nf_at(w->cur_nf, top, GF_TENSOR_ACTIVATION));
    if (out_finite && nf_total(c)) {
        produced(d, top, GF_PHASE_LOSS, GF_TENSOR_LOSS);
    } else if (have_loss && isfinite(loss) && !isfinite(penalty)) {
        for (int32_t i = 0; i < net->nlayers; i++)
            if (!isfinite(gfi_layer_penalty_value(net, net->layers[i])) && layer_params_finite(net->layers[i])) {
                produced(d, i, GF_PHASE_PENALTY, GF_TENSOR_LOSS);
                break;
            }
    }
    w->dy_bad = nf_total(c) != 0;
}

void gfi_diag_backward_layer(gf_net *net, int32_t i, const float *dy, const float *dx)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    const gf_layer *l = net->layers[i];
    double *rec = cur_rec(w, i);
    size_t nz = (size_t)net->batch * (size_t)l->out, nx = (size_t)net->batch * (size_t)l->in;
    (void)dy;
    if (l->ops->diag_stats)
        l->ops->diag_stats(net->layers[i], rec);
    gfi_sq q;
    gfi_sq_scan(net->dz, nz, &q);
    rec[GF_STAT_DELTA_PRE_NORM] = sqrt(q.ss);
    rec[GF_STAT_DELTA_PRE_RMS] = sqrt(q.ss / (double)nz);
    rec[GF_STAT_DELTA_PRE_MAXABS] = q.maxabs;
    int64_t *dz_nf = gfi_nf_at(w->cur_nf, i, GF_TENSOR_DELTA_PRE);
    if (!isfinite(q.ss)) {
        gfi_count_nonfinite(net->dz, nz, dz_nf);
        bool fwd_finite = !nf_total(gfi_nf_at(w->cur_nf, i, GF_TENSOR_PRE_ACTIVATION)) &&
                          !nf_total(gfi_nf_at(w->cur_nf, i, GF_TENSOR_ACTIVATION));
        if (!w->dy_bad && fwd_finite && nf_total(dz_nf))
            produced(d, i, GF_PHASE_BACKWARD, GF_TENSOR_DELTA_PRE);
    }
    int64_t *dx_nf = gfi_nf_at(w->cur_nf, i, GF_TENSOR_DELTA_IN);
    if (!dx) {
        /* The first layer's input gradient was not computed (gf_net_set_input_grad
         * is off): not measured, which the record says with NaN. */
        rec[GF_STAT_DELTA_IN_NORM] = rec[GF_STAT_DELTA_IN_RMS] = rec[GF_STAT_DELTA_IN_MAXABS] = NAN;
        w->dy_bad = false;
        return;
    }
    gfi_sq_scan(dx, nx, &q);
    rec[GF_STAT_DELTA_IN_NORM] = sqrt(q.ss);
    rec[GF_STAT_DELTA_IN_RMS] = sqrt(q.ss / (double)nx);
    rec[GF_STAT_DELTA_IN_MAXABS] = q.maxabs;
    if (!isfinite(q.ss)) {
        gfi_count_nonfinite(dx, nx, dx_nf);
        if (!nf_total(dz_nf) && nf_total(dx_nf) && gfi_all_finite(l->w, l->nweights))
            produced(d, i, GF_PHASE_BACKWARD, GF_TENSOR_DELTA_IN);
    }
    w->dy_bad = nf_total(dx_nf) != 0;
}

/* Penalty gradient alone at element k of a layer's W (bias: is_bias). */
static bool penalty_grad_finite(const gf_net *net, const gf_layer *l, size_t k, bool is_bias)
{
    const gfi_penalty *ps[2] = {net->has_pen ? &net->pen : NULL, l->has_pen ? &l->pen : NULL};
    float g = 0.0f;
    for (int j = 0; j < 2; j++) {
        if (!ps[j] || !gfi_penalty_active(ps[j]) || (is_bias && !ps[j]->include_bias))
            continue;
        gfi_penalty_grad(ps[j], is_bias ? l->b + k : l->w + k, &g, 1);
    }
    return isfinite(g);
}

/* Statistics of one gradient tensor v[0..n), scanned into g, into rec at base (WGRAD_* or BGRAD_*). */
static void grad_stats(double *rec, int32_t base, const gfi_full *g, const float *v, size_t n)
{
    rec[base + 0] = sqrt(g->ss);
    rec[base + 1] = g->sum / (double)n;
    rec[base + 2] = sqrt(gfi_variance(v, n, g->sum, g->ss));
    rec[base + 3] = g->min;
    rec[base + 4] = g->max;
    rec[base + 5] = fmax(fabs(g->min), fabs(g->max));
    rec[base + 6] = (double)g->zeros / (double)n;
}

/* A gradient tensor (W or b) with non-finite values: count them and decide
 * whether backward or a penalty produced them from finite inputs. */
static void bad_grad(gf_diag *d, int32_t i, bool is_bias, size_t from)
{
    /* Elements before `from` are known finite, gradient and parameter alike
     * (the measured step already updated them). */
    diag_work *w = W(d);
    const gf_net *net = d->net;
    const gf_layer *l = net->layers[i];
    const float *g = is_bias ? l->db : l->dw, *p = is_bias ? l->b : l->w;
    size_t n = is_bias ? l->nbias : l->nweights;
    int32_t tensor = is_bias ? GF_TENSOR_BIAS_GRAD : GF_TENSOR_WEIGHT_GRAD;
    gfi_count_nonfinite(g + from, n - from, gfi_nf_at(w->cur_nf, i, tensor));
    bool inputs_finite = !nf_total(gfi_nf_at(w->cur_nf, i, GF_TENSOR_DELTA_PRE)) &&
                         !nf_total(gfi_nf_at(w->cur_nf, i, GF_TENSOR_INPUT)) && gfi_all_finite(p + from, n - from);
    if (!inputs_finite)
        return;
    size_t k = from + gfi_first_nonfinite(g + from, n - from);
    produced(d, i, penalty_grad_finite(net, l, k, is_bias) ? GF_PHASE_BACKWARD : GF_PHASE_PENALTY, tensor);
}

/* The lower median of the finite ones of v[0], v[stride], ... (n values),
 * sorted in tmp; NaN if none is finite. */
static double median_of(double *tmp, const double *v, int32_t n, size_t stride)
{
    int32_t m = 0;
    for (int32_t k = 0; k < n; k++)
        if (isfinite(v[(size_t)k * stride]))
            tmp[m++] = v[(size_t)k * stride];
    if (!m)
        return NAN;
    qsort(tmp, (size_t)m, sizeof *tmp, gfi_cmp_double);
    return tmp[(m - 1) / 2];
}

/* Takes the latest record into the early scale until GFI_EARLY training
 * records are in.  Called by commit before it writes the next record: the
 * latest one is complete by then (its step's statistics are in). */
static void take_early(gf_diag *d)
{
    diag_work *w = W(d);
    if (d->early_ready || d->count < 1 || gfi_diag_step_at(d, 0) < 0)
        return;
    size_t L = (size_t)d->nlayers;
    size_t stride = 2 * L + 1;
    double *row = w->early + (size_t)w->early_n * stride;
    row[0] = *gfi_diag_at(d, 0, 0, GF_STAT_LOSS);
    for (size_t i = 0; i < L; i++) {
        row[1 + i] = *gfi_diag_at(d, 0, (int32_t)i, GF_STAT_WGRAD_NORM);
        row[1 + L + i] = *gfi_diag_at(d, 0, (int32_t)i, GF_STAT_WEIGHT_NORM);
    }
    if (++w->early_n < GFI_EARLY)
        return;
    double tmp[GFI_EARLY];
    /* The larger of the first step's value and the median: the first is the scale at initialization, the median
     * keeps one easy first batch from setting it too low. */
    d->early_loss = fmax(median_of(tmp, w->early, GFI_EARLY, stride), w->early[0]);
    for (size_t i = 0; i < L; i++) {
        d->early_grad[i] = fmax(median_of(tmp, w->early + 1 + i, GFI_EARLY, stride), w->early[1 + i]);
        d->early_weight[i] = w->early[1 + L + i]; /* the first step's: the weights as initialized */
    }
    d->early_step = gfi_diag_step_at(d, 0);
    d->early_ready = true;
}

/* Whether the rate of the observed training step rose over the one before (gf_diag.lr_rose_after); kept before the
 * states advance over the step's record, so that its own rise is seen there. */
static void note_rate_rise(gf_diag *d)
{
    diag_work *w = W(d);
    if (w->probe || !d->net)
        return;
    const gf_optimizer *o = d->net->opt;
    int32_t kind = o ? o->kind : GF_OPT_SGD;
    double lr = o ? o->lr : 0.01;
    if (kind != d->lr_peak_kind)
        d->lr_last = 0; /* another optimizer's rates are not comparable */
    if (d->lr_last > 0 && lr > d->lr_last)
        d->lr_rose_after = w->obs_step + 1;
    d->lr_last = lr;
}

static void commit(gf_diag *d)
{
    diag_work *w = W(d);
    take_early(d);
    note_rate_rise(d);
    gfi_states_advance(d);
    size_t rec = (size_t)d->nlayers * GFI_NSTAT;
    memcpy(d->hist + (size_t)d->head * rec, w->cur, rec * sizeof *w->cur);
    memcpy(d->nonfinite, w->cur_nf, (size_t)d->nlayers * GFI_NTENSOR * 3 * sizeof *w->cur_nf);
    d->hist_step[d->head] = w->probe ? -1 : w->obs_step;
    if (!w->probe && d->net) {
        const gf_optimizer *o = d->net->opt;
        int32_t kind = o ? o->kind : GF_OPT_SGD; /* gf_net_step's default: SGD at 0.01 */
        if (kind != d->lr_peak_kind)
            d->lr_peak = 0;
        d->lr_peak_kind = kind;
        d->lr_peak = fmax(d->lr_peak, o ? o->lr : 0.01);
        if (o && o->lr < d->lr_peak / GFI_LR_ANNEALED)
            d->lr_annealed_after = w->obs_step + 1;
    }
    d->head = (d->head + 1) % d->cap;
    if (d->count < d->cap)
        d->count++;
    d->observed++;
}

/* Recomputes the NONFINITE statistic of layer i from its counts (the input
 * is the layer below's activation, so it is not counted twice). */
static double nonfinite_stat(const int64_t *nf, int32_t i)
{
    int64_t t = 0;
    for (int32_t k = GF_TENSOR_PRE_ACTIVATION; k < GFI_NTENSOR; k++)
        t += nf_total(gfi_nf_at((int64_t *)nf, i, k));
    return (double)t;
}

/* The scans of one parameter tensor (W or b) and its gradient. */
typedef struct param_scan {
    gfi_full g, p;
} param_scan;

/* Gradient and parameter statistics of one tensor into rec; non-finite
 * values past `from` counted into w->cur_nf (see bad_grad).  Returns whether
 * the gradient was finite. */
static bool param_stats(gf_diag *d, int32_t i, bool is_bias, const param_scan *s, double *rec, size_t from)
{
    diag_work *w = W(d);
    const gf_layer *l = d->net->layers[i];
    size_t n = is_bias ? l->nbias : l->nweights;
    grad_stats(rec, is_bias ? GF_STAT_BGRAD_NORM : GF_STAT_WGRAD_NORM, &s->g, is_bias ? l->db : l->dw, n);
    if (!is_bias) {
        rec[GF_STAT_WEIGHT_NORM] = sqrt(s->p.ss);
        rec[GF_STAT_WEIGHT_MAXABS] = s->p.max;
        rec[GF_STAT_WEIGHT_ZERO_FRAC] = (double)s->p.zeros / (double)n;
    }
    if (!isfinite(s->p.ss))
        gfi_count_nonfinite((is_bias ? l->b : l->w) + from, n - from,
                            gfi_nf_at(w->cur_nf, i, is_bias ? GF_TENSOR_BIAS : GF_TENSOR_WEIGHT));
    if (!isfinite(s->g.ss) || !isfinite(s->g.sum)) {
        bad_grad(d, i, is_bias, from);
        return false;
    }
    return true;
}

/* Whether the step that follows this backward may take the gradient and
 * weight statistics itself, reading each tensor once for both: only inside
 * gf_net_train_step, for an observed training pass, with nothing between
 * backward and update that reads or changes the gradients (no guard, no
 * clipping), and with the optimizer ready so the step cannot fail first. */
static bool can_defer(const gf_diag *d)
{
    const diag_work *w = W(d);
    const gf_net *net = d->net;
    return w->train_step && !w->probe && !(d->guard && d->enabled) && net->clip_mode == GF_CLIP_NONE && net->opt &&
           net->opt->nparams == net->nparams && net->nparams > 0;
}

void gfi_diag_backward_end(gf_net *net)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    bool finite = true;
    w->deferred = can_defer(d);
    for (int32_t i = 0; i < net->nlayers && !w->deferred; i++) {
        const gf_layer *l = net->layers[i];
        param_scan sw, sb;
        gfi_param_scan(l->dw, l->w, l->nweights, &sw.g, &sw.p);
        gfi_param_scan(l->db, l->b, l->nbias, &sb.g, &sb.p);
        finite &= param_stats(d, i, false, &sw, cur_rec(w, i), 0);
        finite &= param_stats(d, i, true, &sb, cur_rec(w, i), 0);
    }
    for (int32_t i = 0; i < net->nlayers; i++) {
        double *rec = cur_rec(w, i);
        /* Layer 0's delta-in not measured (no input gradient): neither is its gain, even
         * where safe_ratio would turn the NaN over a zero denominator into 0, or at the top. */
        rec[GF_STAT_DELTA_GAIN] =
            i == 0 && !net->want_dinput ? NAN
            : i == net->nlayers - 1     ? 1.0
                                        : safe_ratio(rec[GF_STAT_DELTA_IN_NORM], cur_rec(w, i + 1)[GF_STAT_DELTA_IN_NORM]);
        rec[GF_STAT_LOSS] = w->loss;
        rec[GF_STAT_NONFINITE] = nonfinite_stat(w->cur_nf, i);
        rec[GF_STAT_UPDATE_RATIO] = 0.0;
    }
    w->grads_known = !w->deferred;
    w->grads_finite = finite;
    commit(d);
    w->pending = !w->probe;
    net->diag_active = false;
}

void gfi_diag_backward_begin(gf_net *net) { W(net->diag)->grads_known = false; }

/* ------------------------------------------------------------------ */
/* Hooks: the guard and the step                                       */
/* ------------------------------------------------------------------ */

static bool guard_on(const gf_diag *d) { return d->guard && d->enabled; }

static int refuse(gf_diag *d, const char *fn, const char *what)
{
    diag_work *w = W(d);
    if (w->cand)
        return gfi_net_fail(d->net, GF_ERR_GUARD,
                            "%s: guard refused the step (%s): first produced at layer %d, phase %s, tensor %s, step "
                            "%lld; weights and optimizer state unchanged",
                            fn, what, (int)w->cand_layer, gf_phase_name(w->cand_phase), gf_tensor_name(w->cand_tensor),
                            (long long)w->obs_step);
    return gfi_net_fail(d->net, GF_ERR_GUARD,
                        "%s: guard refused the step (%s): passed on from non-finite inputs, step %lld; weights and "
                        "optimizer state unchanged",
                        fn, what, (long long)w->obs_step);
}

/* Whether every gradient is finite; on an unobserved pass the first bad
 * tensor in backward order is where the guard caught it. */
static bool grads_finite(gf_diag *d)
{
    diag_work *w = W(d);
    if (w->grads_known)
        return w->grads_finite;
    const gf_net *net = d->net;
    bool ok = true;
    for (int32_t i = net->nlayers - 1; i >= 0 && ok; i--) {
        const gf_layer *l = net->layers[i];
        if (!gfi_all_finite(l->dw, l->nweights)) {
            produced(d, i, GF_PHASE_BACKWARD, GF_TENSOR_WEIGHT_GRAD);
            ok = false;
        } else if (!gfi_all_finite(l->db, l->nbias)) {
            produced(d, i, GF_PHASE_BACKWARD, GF_TENSOR_BIAS_GRAD);
            ok = false;
        }
    }
    w->grads_known = true;
    w->grads_finite = ok;
    return ok;
}

int gfi_diag_guard_grads(gf_net *net, const char *fn)
{
    gf_diag *d = net->diag;
    if (!guard_on(d) || grads_finite(d))
        return GF_OK;
    return refuse(d, fn, "non-finite gradients");
}

/* The latest record's statistics of layer i. */
static double *latest(gf_diag *d, int32_t i)
{
    int32_t slot = (d->head - 1 + d->cap) % d->cap;
    return d->hist + ((size_t)slot * (size_t)d->nlayers + (size_t)i) * GFI_NSTAT;
}

static bool state_finite(const gf_optimizer *o, size_t off, size_t n)
{
    return (!o->m || gfi_all_finite(o->m + off, n)) && (!o->v || gfi_all_finite(o->v + off, n));
}

/* Weights, gradients and optimizer state of layer i are all finite (the
 * inputs of its update, before it is applied). */
static bool update_inputs_finite(const gf_net *net, int32_t i)
{
    const gf_layer *l = net->layers[i];
    size_t n = l->nweights + l->nbias;
    return gfi_all_finite(l->w, n) && gfi_all_finite(l->dw, n) && state_finite(net->opt, l->param_offset, n);
}

/* Post-step (or, refused, would-be) counts of W, b and state into the latest record. */
static void record_update_counts(gf_diag *d, int32_t i, bool applied)
{
    const gf_net *net = d->net;
    const gf_layer *l = net->layers[i];
    const gf_optimizer *o = net->opt;
    int64_t *cw = gfi_nf_at(d->nonfinite, i, GF_TENSOR_WEIGHT), *cb = gfi_nf_at(d->nonfinite, i, GF_TENSOR_BIAS);
    int64_t *cs = gfi_nf_at(d->nonfinite, i, GF_TENSOR_OPTIMIZER_STATE);
    memset(cw, 0, 3 * sizeof *cw);
    memset(cb, 0, 3 * sizeof *cb);
    memset(cs, 0, 3 * sizeof *cs);
    size_t off = l->param_offset, n = l->nweights + l->nbias;
    if (applied) {
        gfi_count_nonfinite(l->w, l->nweights, cw);
        gfi_count_nonfinite(l->b, l->nbias, cb);
        if (o->m)
            gfi_count_nonfinite(o->m + off, n, cs);
        if (o->v)
            gfi_count_nonfinite(o->v + off, n, cs);
    } else {
        gfi_opt_update_count(o, net->params, net->grads, off, l->nweights, cw, cs);
        gfi_opt_update_count(o, net->params, net->grads, off + l->nweights, l->nbias, cb, cs);
    }
    latest(d, i)[GF_STAT_NONFINITE] = nonfinite_stat(d->nonfinite, i);
}

/* Applies the step to one parameter tensor of layer i (W, or b with is_bias)
 * and measures it: *d2 gets the sum of squared weight changes, *state_bad
 * whether any new state value is non-finite.  With stats (a deferred
 * observation), the gradient and weights are scanned in the loop that
 * updates them, so memory is read once for both, and the statistics go
 * into the latest record.  Returns whether the gradient was finite. */
static bool measured_step(gf_diag *d, int32_t i, bool is_bias, bool stats, double *d2, bool *state_bad)
{
    gf_net *net = d->net;
    gf_optimizer *o = net->opt;
    const gf_layer *l = net->layers[i];
    size_t n = is_bias ? l->nbias : l->nweights, off = l->param_offset + (is_bias ? l->nweights : 0);
    const float *p = net->params + off, *g = net->grads + off;
    float seed = gfi_minmax_seed(g, n);
    gfi_ew_pstats e = {0.0, 0.0, 0.0, 0.0, seed, seed, 0.0f, 0, 0, false};
    /* One loop steps the tensor and gathers the gradient and weight
     * statistics and the squared change on the way; it stops short of the
     * first NaN/Inf gradient or weight, having changed nothing from there. */
    size_t k = gfi_opt_apply_range_stats(o, net->params, net->grads, off, n, &e);
    *d2 = e.d2;
    *state_bad = e.state_bad;
    bool finite = true;
    param_scan s = {{e.gsum, e.gss, e.gmin, e.gmax, e.gzeros}, {0.0, e.wss, 0.0f, e.wmax, e.wzeros}};
    if (stats) {
        /* Rarely k < n: the bad values are counted and located in the
         * untouched rest (the old weights are still there) before it is
         * stepped in one go. */
        if (k < n)
            gfi_param_scan_add(g + k, p + k, n - k, &s.g, &s.p);
        finite = param_stats(d, i, is_bias, &s, latest(d, i), k);
    }
    if (k < n) {
        double d2r, st;
        gfi_opt_update_range(o, net->params, net->grads, off + k, n - k, true, &d2r, &st);
        *d2 += d2r;
        *state_bad |= !isfinite(st);
    }
    return finite;
}

/* Elements per block of the guard's dry run: copies of a block's weights and
 * state stay in L1 while it is stepped and compared. */
#define STEP_BLOCK 2048

/* The guard's dry run over one parameter tensor of layer i: each block of
 * weights and state is copied, stepped with the plain update's kernel, and
 * compared; nothing of the net or the optimizer changes.  *d2 and
 * *state_bad as in measured_step. */
static void dry_step(gf_diag *d, int32_t i, bool is_bias, double *d2, bool *state_bad)
{
    const gf_net *net = d->net;
    const gf_optimizer *o = net->opt;
    const gf_layer *l = net->layers[i];
    size_t n = is_bias ? l->nbias : l->nweights, off = l->param_offset + (is_bias ? l->nweights : 0);
    float nw[STEP_BLOCK], nm[STEP_BLOCK], nv[STEP_BLOCK];
    *d2 = 0.0;
    *state_bad = false;
    for (size_t b = 0; b < n; b += STEP_BLOCK) {
        size_t k = n - b < STEP_BLOCK ? n - b : STEP_BLOCK;
        memcpy(nw, net->params + off + b, k * sizeof *nw);
        if (o->m)
            memcpy(nm, o->m + off + b, k * sizeof *nm);
        if (o->v)
            memcpy(nv, o->v + off + b, k * sizeof *nv);
        gfi_opt_apply_to(o, nw, net->grads + off + b, o->m ? nm : NULL, o->v ? nv : NULL, k);
        *d2 += gfi_diff_sq(nw, net->params + off + b, k);
        *state_bad |= (o->m && !gfi_all_finite(nm, k)) || (o->v && !gfi_all_finite(nv, k));
    }
}

/* After a deferred observation filled layer i's counts: the committed
 * record takes them. */
static void sync_layer_counts(gf_diag *d, int32_t i)
{
    memcpy(gfi_nf_at(d->nonfinite, i, 0), gfi_nf_at(W(d)->cur_nf, i, 0), GFI_NTENSOR * 3 * sizeof *d->nonfinite);
    latest(d, i)[GF_STAT_NONFINITE] = nonfinite_stat(d->nonfinite, i);
}

int gfi_diag_step(gf_net *net, const char *fn)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    gf_optimizer *o = net->opt;
    bool guard = guard_on(d), measure = w->pending, deferred = w->deferred;
    w->pending = w->deferred = false;
    if (!guard && !measure) {
        gfi_opt_update_pool(o, net->pool, net->params, net->grads, net->nparams);
        return GF_OK;
    }
    if (guard && !grads_finite(d))
        return refuse(d, fn, "non-finite gradients");
    /* Guarded: evaluate without storing, apply only if all is finite.
     * Otherwise: apply and measure in the same pass. */
    bool apply = !guard, any_bad = false, finite = true;
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        double d2w, sw, d2b, sb;
        if (apply) {
            bool bad_w, bad_b;
            finite &= measured_step(d, i, false, deferred, &d2w, &bad_w);
            finite &= measured_step(d, i, true, deferred, &d2b, &bad_b);
            sw = bad_w ? NAN : 0.0;
            sb = bad_b ? NAN : 0.0;
            if (deferred)
                sync_layer_counts(d, i);
        } else {
            bool bad_w, bad_b;
            dry_step(d, i, false, &d2w, &bad_w);
            dry_step(d, i, true, &d2b, &bad_b);
            sw = bad_w ? NAN : 0.0;
            sb = bad_b ? NAN : 0.0;
        }
        bool bad = !isfinite(d2w) || !isfinite(d2b) || !isfinite(sw) || !isfinite(sb);
        if (measure) {
            double *rec = latest(d, i);
            rec[GF_STAT_UPDATE_RATIO] = bad && guard ? 0.0 : safe_ratio(sqrt(d2w), rec[GF_STAT_WEIGHT_NORM]);
        }
        if (bad) {
            any_bad = true;
            int32_t tensor = !isfinite(d2w) ? GF_TENSOR_WEIGHT : !isfinite(d2b) ? GF_TENSOR_BIAS
                                                                         : GF_TENSOR_OPTIMIZER_STATE;
            /* Applied already, the old weights are gone, but they were finite
             * iff the observed pass counted none (the state is assumed so). */
            bool inputs = guard ? update_inputs_finite(net, i)
                                : !nf_total(gfi_nf_at(d->nonfinite, i, GF_TENSOR_WEIGHT)) &&
                                      !nf_total(gfi_nf_at(d->nonfinite, i, GF_TENSOR_BIAS)) &&
                                      gfi_all_finite(l->dw, l->nweights + l->nbias);
            if (inputs)
                produced(d, i, GF_PHASE_UPDATE, tensor);
        }
    }
    if (deferred) {
        w->grads_known = true;
        w->grads_finite = finite;
    }
    if (!guard)
        gfi_opt_advance(o);
    if (any_bad && measure)
        for (int32_t i = 0; i < net->nlayers; i++)
            record_update_counts(d, i, apply);
    if (guard && any_bad)
        return refuse(d, fn, "the update would make weights or optimizer state non-finite");
    if (guard)
        gfi_opt_update_pool(o, net->pool, net->params, net->grads, net->nparams);
    return GF_OK;
}

void gfi_diag_train_step_begin(gf_net *net) { W(net->diag)->train_step = true; }

void gfi_diag_train_step_end(gf_net *net)
{
    gf_diag *d = net->diag;
    diag_work *w = W(d);
    w->train_step = false;
    if (!w->deferred)
        return;
    /* The step did not run after a deferred observation: take the
     * statistics now, from the unchanged gradients and weights. */
    w->deferred = false;
    bool finite = true;
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        param_scan sw, sb;
        gfi_param_scan(l->dw, l->w, l->nweights, &sw.g, &sw.p);
        gfi_param_scan(l->db, l->b, l->nbias, &sb.g, &sb.p);
        finite &= param_stats(d, i, false, &sw, latest(d, i), 0);
        finite &= param_stats(d, i, true, &sb, latest(d, i), 0);
        sync_layer_counts(d, i);
    }
    w->grads_known = true;
    w->grads_finite = finite;
}

/* Values the layers keep between calls (a dense layer's per-step delta
 * norms on sequences): observation writes them, so a savepoint holds them. */
static size_t keeps_total(const gf_net *net)
{
    size_t n = 0;
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        if (l->keep && l->ops->keep_size)
            n += l->ops->keep_size(l);
    }
    return n;
}

/* Room for the layers' kept values first: growing it changes nothing
 * observable, while a resize drops records of another shape. */
static int ensure_keeps_room(diag_save *sv, size_t n)
{
    if (n <= sv->keeps_cap)
        return GF_OK;
    double *k = gfi_malloc(n * sizeof *k);
    if (!k)
        return gfi_fail(GF_ERR_NOMEM, "diagnostics: cannot allocate %zu kept values", n);
    gfi_free(sv->keeps);
    sv->keeps = k;
    sv->keeps_cap = n;
    return GF_OK;
}

int gfi_diag_prepare(gf_net *net)
{
    if (!net->diag || !net->diag_on)
        return GF_OK;
    int rc = ensure_keeps_room(W(net->diag)->save, keeps_total(net));
    return rc ? rc : ensure_sized(net->diag);
}

/* Copies every layer's kept values into (out) or back from (!out) the savepoint. */
static void move_keeps(gf_net *net, diag_save *sv, bool out)
{
    size_t at = 0;
    for (int32_t i = 0; i < net->nlayers; i++) {
        gf_layer *l = net->layers[i];
        size_t n = l->keep && l->ops->keep_size ? l->ops->keep_size(l) : 0;
        if (!n || at + n > sv->keeps_cap)
            continue;
        if (out)
            memcpy(sv->keeps + at, l->keep, n * sizeof *l->keep);
        else
            memcpy(l->keep, sv->keeps + at, n * sizeof *l->keep);
        at += n;
    }
}

void gfi_diag_save(gf_net *net)
{
    gf_diag *d = net->diag;
    if (!d)
        return;
    diag_save *sv = W(d)->save;
    sv->d = *d;
    sv->w = *W(d);
    size_t L = (size_t)d->nlayers, rec = L * GFI_NSTAT;
    memcpy(sv->slot, d->hist + (size_t)d->head * rec, rec * sizeof *sv->slot);
    sv->slot_step = d->hist_step[d->head];
    memcpy(sv->nonfinite, d->nonfinite, L * GFI_NTENSOR * 3 * sizeof *sv->nonfinite);
    memcpy(sv->early_grad, d->early_grad, L * sizeof *sv->early_grad);
    memcpy(sv->early_weight, d->early_weight, L * sizeof *sv->early_weight);
    memcpy(sv->seen, W(d)->seen, L * sizeof *sv->seen);
    memcpy(sv->escaped, W(d)->escaped, L * W(d)->unit_cap * sizeof *sv->escaped);
    memcpy(sv->prior, W(d)->prior, W(d)->unit_cap * sizeof *sv->prior);

    move_keeps(net, sv, true);
}

void gfi_diag_restore(gf_net *net)
{
    gf_diag *d = net->diag;
    if (!d)
        return;
    diag_save *sv = W(d)->save;
    /* Buffers are sized before the save (gfi_diag_prepare), so the pass
     * cannot have moved them; if it did, the saved pointers are stale. */
    if (sv->d.hist != d->hist || sv->w.cur != W(d)->cur)
        return;
    *d = sv->d;
    *W(d) = sv->w;
    size_t L = (size_t)d->nlayers, rec = L * GFI_NSTAT;
    memcpy(d->hist + (size_t)d->head * rec, sv->slot, rec * sizeof *sv->slot);
    d->hist_step[d->head] = sv->slot_step;
    memcpy(d->nonfinite, sv->nonfinite, L * GFI_NTENSOR * 3 * sizeof *sv->nonfinite);
    memcpy(d->early_grad, sv->early_grad, L * sizeof *sv->early_grad);
    memcpy(d->early_weight, sv->early_weight, L * sizeof *sv->early_weight);
    memcpy(W(d)->seen, sv->seen, L * sizeof *sv->seen);
    memcpy(W(d)->escaped, sv->escaped, L * W(d)->unit_cap * sizeof *sv->escaped);
    memcpy(W(d)->prior, sv->prior, W(d)->unit_cap * sizeof *sv->prior);

    move_keeps(net, sv, false);
    net->diag_active = false;
}

void gfi_diag_net_destroyed(gf_net *net)
{
    net->diag->net = NULL;
    net->diag = NULL;
    net->diag_on = net->diag_active = false;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

#define DEFAULT_HISTORY 64
#define MAX_HISTORY 1000000

int gf_diag_create(gf_diag **out, gf_net *net)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_diag_create: out is NULL");
    *out = NULL;
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_diag_create: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_diag_create: handle is not a live gf_net");
    if (net->diag)
        return gfi_net_fail(net, GF_ERR_STATE, "gf_diag_create: the net already has a diagnostics object");
    gf_diag *d = gfi_calloc(1, sizeof *d);
    diag_work *w = d ? gfi_calloc(1, sizeof *w) : NULL;
    struct gfi_remedy_cache *remedy = w ? gfi_remedy_cache_new() : NULL;
    diag_save *sv = remedy ? gfi_calloc(1, sizeof *sv) : NULL;
    if (!sv) {
        gfi_remedy_cache_free(remedy);
        gfi_free(w);
        gfi_free(d);
        return gfi_fail(GF_ERR_NOMEM, "gf_diag_create: out of memory");
    }
    d->remedy = remedy;
    w->save = sv;
    d->magic = GFI_MAGIC_DIAG;
    d->work = w;
    d->origin = true;
    d->every = 1;
    d->cap = DEFAULT_HISTORY;
    d->nlayers = -1; /* forces the first sizing */
    gfi_diag_default_thresholds(d->threshold);
    if (resize(d, net->nlayers, DEFAULT_HISTORY, net->widest)) {
        gfi_remedy_cache_free(remedy);
        gfi_free(sv);
        gfi_free(w);
        gfi_free(d);
        return gfi_fail(GF_ERR_NOMEM, "gf_diag_create: cannot allocate the history");
    }
    d->net = net;
    d->enabled = true;
    net->diag = d;
    sync_net(d);
    *out = d;
    return GF_OK;
}

void gf_diag_destroy(gf_diag *d)
{
    if (!d || d->magic != GFI_MAGIC_DIAG)
        return;
    if (d->net) {
        d->net->diag = NULL;
        d->net->diag_on = d->net->diag_active = false;
    }
    free_buffers(d);
    gfi_free(W(d)->save->keeps);
    gfi_free(W(d)->save);
    gfi_free(d->work);
    gfi_remedy_cache_free(d->remedy);
    d->magic = GFI_MAGIC_DEAD;
    gfi_free(d);
}

int gf_diag_enable(gf_diag *d, int32_t on)
{
    int rc = gfi_diag_check(d, "gf_diag_enable");
    if (rc)
        return rc;
    if (on != 0 && on != 1)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_enable: on must be 0 or 1 (got %d)", (int)on);
    if (on && (rc = ensure_sized(d)))
        return gfi_fail(rc, "gf_diag_enable: %s", gf_last_error());
    d->enabled = on != 0;
    if (!on) {
        W(d)->pending = false;
        d->net->diag_active = false;
    }
    W(d)->tick = 0;
    sync_net(d);
    return GF_OK;
}

static const char *option_name(int32_t option)
{
    switch (option) {
    case GF_DIAG_HISTORY: return "GF_DIAG_HISTORY";
    case GF_DIAG_GUARD: return "GF_DIAG_GUARD";
    case GF_DIAG_ORIGIN: return "GF_DIAG_ORIGIN";
    default: return "GF_DIAG_EVERY";
    }
}

int gf_diag_set_option(gf_diag *d, int32_t option, double value)
{
    int rc = gfi_diag_check(d, "gf_diag_set_option");
    if (rc)
        return rc;
    if (option < GF_DIAG_HISTORY || option > GF_DIAG_EVERY)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_set_option: unknown option %d", (int)option);
    double lo = 0, hi = 1;
    if (option == GF_DIAG_HISTORY)
        lo = 1, hi = MAX_HISTORY;
    else if (option == GF_DIAG_EVERY)
        lo = 1, hi = INT32_MAX;
    if (!(value >= lo && value <= hi) || value != floor(value))
        return gfi_fail(GF_ERR_INVALID, "gf_diag_set_option: %s must be an integer in [%g, %g] (got %g)",
                        option_name(option), lo, hi, value);
    switch (option) {
    case GF_DIAG_HISTORY:
        if ((int32_t)value != d->cap && (rc = resize(d, d->nlayers < 0 ? 0 : d->nlayers, (int32_t)value,
                                                      W(d)->unit_cap)))
            return gfi_fail(rc, "gf_diag_set_option: %s", gf_last_error());
        break;
    case GF_DIAG_GUARD: d->guard = value != 0; break;
    case GF_DIAG_ORIGIN: d->origin = value != 0; break;
    default:
        d->every = (int32_t)value;
        W(d)->tick = 0;
        break;
    }
    return GF_OK;
}

int gf_diag_get_option(const gf_diag *d, int32_t option, double *value)
{
    int rc = gfi_diag_check(d, "gf_diag_get_option");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_diag_get_option: value is NULL");
    switch (option) {
    case GF_DIAG_HISTORY: *value = d->cap; break;
    case GF_DIAG_GUARD: *value = d->guard; break;
    case GF_DIAG_ORIGIN: *value = d->origin; break;
    case GF_DIAG_EVERY: *value = d->every; break;
    default: return gfi_fail(GF_ERR_INVALID, "gf_diag_get_option: unknown option %d", (int)option);
    }
    return GF_OK;
}

int gf_diag_reset(gf_diag *d)
{
    int rc = gfi_diag_check(d, "gf_diag_reset");
    if (rc)
        return rc;
    diag_work *w = W(d);
    d->count = d->head = 0;
    d->observed = 0;
    d->origin_found = false;
    d->early_ready = false;
    w->early_n = 0;
    d->lr_peak = 0;
    d->lr_annealed_after = 0;
    d->lr_last = 0;
    d->lr_rose_after = 0;
    d->target_on = false;
    d->target_run = 0;
    d->stag_on = false;
    d->origin_step = 0;
    d->origin_layer = d->origin_phase = d->origin_tensor = 0;
    if (d->nlayers > 0) {
        memset(d->nonfinite, 0, (size_t)d->nlayers * GFI_NTENSOR * 3 * sizeof *d->nonfinite);
        /* The small-batch evidence of dead and saturated units is observation too. */
        memset(w->seen, 0, (size_t)d->nlayers * sizeof *w->seen);
        memset(w->escaped, 0, (size_t)d->nlayers * w->unit_cap * sizeof *w->escaped);
    }
    /* So are the targets behind the chance level (the next observed pass starts them again). */
    w->prior_rows = 0;
    w->prior_width = 0;
    /* The remedy cache is keyed by the observation counts, which start again from 0: a later observation would
     * find the plan of one before the reset fresh. */
    gfi_remedy_cache_forget(d->remedy);
    w->pending = w->cand = false;
    w->tick = 0;
    return GF_OK;
}

int32_t gf_diag_layer_count(const gf_diag *d)
{
    if (gfi_diag_check(d, "gf_diag_layer_count"))
        return -1;
    return d->nlayers;
}

int64_t gf_diag_steps(const gf_diag *d)
{
    if (gfi_diag_check(d, "gf_diag_steps"))
        return -1;
    return d->observed;
}

int32_t gf_diag_history_length(const gf_diag *d)
{
    if (gfi_diag_check(d, "gf_diag_history_length"))
        return -1;
    return d->count;
}

/* Shared checks of the read-out calls: layer and stat (or tensor) in range,
 * at least one observation. */
static int check_read(const gf_diag *d, int32_t layer, int32_t idx, int32_t lo, int32_t hi, const char *what,
                      const char *fn)
{
    if (idx < lo || idx > hi)
        return gfi_fail(GF_ERR_RANGE, "%s: %s %d is outside %d..%d", fn, what, (int)idx, (int)lo, (int)hi);
    if (layer < 0 || layer >= d->nlayers)
        return gfi_fail(GF_ERR_RANGE, "%s: layer %d is outside 0..%d", fn, (int)layer, (int)d->nlayers - 1);
    if (d->count == 0)
        return gfi_fail(GF_ERR_STATE, "%s: nothing observed yet; train a step (or probe) first", fn);
    return GF_OK;
}

static int read_value(const gf_diag *d, int32_t layer, int32_t stat, int32_t ago, double *value, int64_t *step,
                      const char *fn)
{
    int rc = gfi_diag_check(d, fn);
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "%s: value is NULL", fn);
    if ((rc = check_read(d, layer, stat, 0, GFI_NSTAT - 1, "stat", fn)))
        return rc;
    if (ago < 0 || ago >= d->count)
        return gfi_fail(GF_ERR_RANGE, "%s: ago %d is outside 0..%d (records kept)", fn, (int)ago, (int)d->count - 1);
    *value = *gfi_diag_at(d, ago, layer, stat);
    if (step)
        *step = gfi_diag_step_at(d, ago);
    return GF_OK;
}

int gf_diag_value(const gf_diag *d, int32_t layer, int32_t stat, double *value)
{
    return read_value(d, layer, stat, 0, value, NULL, "gf_diag_value");
}

int gf_diag_history(const gf_diag *d, int32_t layer, int32_t stat, int32_t ago, double *value, int64_t *step)
{
    return read_value(d, layer, stat, ago, value, step, "gf_diag_history");
}

int gf_diag_nonfinite(const gf_diag *d, int32_t layer, int32_t tensor, int64_t *nan, int64_t *pos_inf,
                      int64_t *neg_inf)
{
    int rc = gfi_diag_check(d, "gf_diag_nonfinite");
    if (rc)
        return rc;
    if (!nan || !pos_inf || !neg_inf)
        return gfi_fail(GF_ERR_NULL, "gf_diag_nonfinite: nan, pos_inf and neg_inf must not be NULL");
    if ((rc = check_read(d, layer, tensor, GF_TENSOR_INPUT, GFI_NTENSOR - 1, "tensor", "gf_diag_nonfinite")))
        return rc;
    const int64_t *c = gfi_nf_at(d->nonfinite, layer, tensor);
    *nan = c[0];
    *pos_inf = c[1];
    *neg_inf = c[2];
    return GF_OK;
}

int gf_diag_origin(const gf_diag *d, int32_t *found, int64_t *step, int32_t *layer, int32_t *phase, int32_t *tensor)
{
    int rc = gfi_diag_check(d, "gf_diag_origin");
    if (rc)
        return rc;
    if (!found)
        return gfi_fail(GF_ERR_NULL, "gf_diag_origin: found is NULL");
    bool f = d->origin_found;
    *found = f;
    if (step)
        *step = f ? d->origin_step : -1;
    if (layer)
        *layer = f ? d->origin_layer : -1;
    if (phase)
        *phase = f ? d->origin_phase : GF_PHASE_NONE;
    if (tensor)
        *tensor = f ? d->origin_tensor : GF_TENSOR_NONE;
    return GF_OK;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

static const char *const stat_names[GFI_NSTAT] = {
    "delta_in_norm",  "delta_in_rms",     "delta_in_maxabs", "delta_pre_norm",  "delta_pre_rms",
    "delta_pre_maxabs", "wgrad_norm",     "wgrad_mean",      "wgrad_std",       "wgrad_min",
    "wgrad_max",      "wgrad_maxabs",     "wgrad_zero_frac", "bgrad_norm",      "bgrad_mean",
    "bgrad_std",      "bgrad_min",        "bgrad_max",       "bgrad_maxabs",    "bgrad_zero_frac",
    "weight_norm",    "weight_maxabs",    "weight_zero_frac", "update_ratio",   "act_mean",
    "act_var",        "pre_mean",         "pre_std",         "dead_frac",       "saturated_frac",
    "nonfinite",      "act_gain",         "delta_gain",      "loss",            "time_rate",
    "recurrent_sigma", "recurrent_bound", "gate_saturated_frac", "forget_gate_mean", "candidate_saturated_frac",
    "candidate_dead_frac"};

static const char *const tensor_names[GFI_NTENSOR] = {
    "none",      "input",     "pre_activation", "activation", "loss",   "delta_pre",
    "delta_in",  "weight_grad", "bias_grad",    "weight",     "bias",   "optimizer_state"};

static const char *const phase_names[] = {"none", "forward", "loss", "backward", "penalty", "clip", "update"};

const char *gf_stat_name(int32_t stat) { return stat >= 0 && stat < GFI_NSTAT ? stat_names[stat] : "?"; }

const char *gf_tensor_name(int32_t tensor)
{
    return tensor >= 0 && tensor < GFI_NTENSOR ? tensor_names[tensor] : "?";
}

const char *gf_phase_name(int32_t phase)
{
    return phase >= GF_PHASE_NONE && phase <= GF_PHASE_UPDATE ? phase_names[phase] : "?";
}

/* ------------------------------------------------------------------ */
/* Per-layer series (a layer kind's extra lists: docs/design.md)       */
/* ------------------------------------------------------------------ */

/* The layer's series key: its length (>= 0), or a failure. */
static int series_of(const gf_diag *d, int32_t layer, int32_t key, double *dst, int64_t cap, int64_t *len,
                     const char *fn)
{
    int rc = gfi_diag_check(d, fn);
    if (rc)
        return rc;
    if (!len)
        return gfi_fail(GF_ERR_NULL, "%s: length is NULL", fn);
    const gf_net *net = d->net;
    if (layer < 0 || layer >= net->nlayers)
        return gfi_fail(GF_ERR_RANGE, "%s: layer %d is outside 0..%d", fn, (int)layer, (int)net->nlayers - 1);
    const gf_layer *l = net->layers[layer];
    /* A layer keeps the series of the last observed pass of its net, whichever diag observed it: this diag has
     * none before its first observation (since create or reset). */
    bool seen = d->observed > 0;
    int64_t n = l->ops->series ? l->ops->series(l, key, seen ? dst : NULL, seen ? cap : 0) : -1;
    if (n < 0)
    {
        char in[96];
        return gfi_fail(GF_ERR_RANGE, "%s: layer %d (%s on %s) has no series %d", fn, (int)layer, l->ops->name,
                        gfi_shape_str(&l->in_shape, in, sizeof in), (int)key);
    }
    *len = seen ? n : 0;
    return GF_OK;
}

int gf_diag_series_length(const gf_diag *d, int32_t layer, int32_t key, int64_t *length)
{
    return series_of(d, layer, key, NULL, 0, length, "gf_diag_series_length");
}

int gf_diag_series(const gf_diag *d, int32_t layer, int32_t key, double *dst, size_t cap, int64_t *length)
{
    if (!dst && cap)
        return gfi_fail(GF_ERR_NULL, "gf_diag_series: dst is NULL but cap is %zu", cap);
    if (cap > GFI_COUNT_MAX(sizeof(double)))
        return gfi_fail(GF_ERR_OVERFLOW, "gf_diag_series: cap = %zu is more doubles than an array can hold (at most "
                        "%zu): a negative size converted to size_t?", cap, GFI_COUNT_MAX(sizeof(double)));
    int64_t n;
    int rc = series_of(d, layer, key, NULL, 0, &n, "gf_diag_series");
    if (rc)
        return rc;
    if (length)
        *length = n;
    if ((uint64_t)n > (uint64_t)cap)
        return gfi_fail(GF_ERR_BUFFER, "gf_diag_series: the series has %lld values but dst has room for %zu",
                        (long long)n, cap);
    return series_of(d, layer, key, dst, n, &n, "gf_diag_series");
}
