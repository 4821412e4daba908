/*
 * fit_v2.c — the training loop people expect: validation data or a seeded
 * split, metrics, a learning-rate schedule, early stopping with best-weight
 * restore, a progress line, and one record per epoch kept in the net and
 * handed to a callback.
 *
 * gf_net_fit_v2 checks every argument and sizes every buffer (records,
 * row lists, gather buffers, the best-weight copy, the net's activations and
 * optimizer moments) before its first change, so a refused call changes
 * nothing and the epochs themselves allocate nothing.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define NOPTIONS (GF_FIT_SHUFFLE + 1)
#define INTEGER_MAX 9007199254740992.0 /* 2^53 */

struct gf_fit {
    uint32_t magic;
    double opt[NOPTIONS];
    const float *vx, *vt;
    size_t vx_count, vt_count;
    int64_t vn;
    gf_epoch_record_fn cb;
    void *user;
    bool has_sched;
    gfi_sched sched;
};

static const double option_defaults[NOPTIONS] = {1, 32, 0, 0, 0, -1, 0, -1, 1};

/* ---- the options handle ---- */

static int check_fit(const gf_fit *f, const char *fn)
{
    if (!f)
        return gfi_fail(GF_ERR_NULL, "%s: fit options are NULL", fn);
    if (f->magic != GFI_MAGIC_FIT)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_fit", fn);
    return GF_OK;
}

int gf_fit_create(gf_fit **out)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_fit_create: out is NULL");
    gf_fit *f = gfi_calloc(1, sizeof *f);
    *out = f;
    if (!f)
        return gfi_fail(GF_ERR_NOMEM, "gf_fit_create: out of memory");
    f->magic = GFI_MAGIC_FIT;
    memcpy(f->opt, option_defaults, sizeof f->opt);
    return GF_OK;
}

void gf_fit_destroy(gf_fit *f)
{
    if (!f || f->magic != GFI_MAGIC_FIT)
        return;
    f->magic = GFI_MAGIC_DEAD;
    gfi_free(f);
}

static bool is_int(double v, double lo, double hi) { return v >= lo && v <= hi && floor(v) == v; }

/* What value must be for option; NULL if it is acceptable. */
static const char *option_problem(int32_t option, double v)
{
    switch (option) {
    case GF_FIT_EPOCHS:
        return is_int(v, 1, INT32_MAX) ? NULL : "an integer in 1..2^31-1";
    case GF_FIT_BATCH:
        return is_int(v, 1, INTEGER_MAX) ? NULL : "an integer >= 1";
    case GF_FIT_VALIDATION_SPLIT:
        return v >= 0.0 && v < 1.0 ? NULL : "in [0, 1)";
    case GF_FIT_PATIENCE:
        return is_int(v, 0, INT32_MAX) ? NULL : "an integer >= 0";
    case GF_FIT_MIN_DELTA:
        return v >= 0.0 && isfinite(v) ? NULL : ">= 0 and finite";
    case GF_FIT_MONITOR:
        return is_int(v, -1, GF_MONITOR_VAL_METRIC) ? NULL : "-1 or a GF_MONITOR_* value";
    case GF_FIT_RESTORE_BEST:
    case GF_FIT_SHUFFLE:
        return v == 0.0 || v == 1.0 ? NULL : "0 or 1";
    case GF_FIT_PROGRESS:
        return is_int(v, -1, 2) ? NULL : "-1, 0, 1 or 2";
    default:
        return "";
    }
}

int gf_fit_set(gf_fit *f, int32_t option, double value)
{
    int rc = check_fit(f, "gf_fit_set");
    if (rc)
        return rc;
    const char *why = option_problem(option, value);
    if (why && !*why)
        return gfi_fail(GF_ERR_INVALID, "gf_fit_set: unknown option %d", (int)option);
    if (why)
        return gfi_fail(GF_ERR_INVALID, "gf_fit_set: option %d must be %s (got %g)", (int)option, why, value);
    f->opt[option] = value;
    return GF_OK;
}

int gf_fit_get(const gf_fit *f, int32_t option, double *value)
{
    int rc = check_fit(f, "gf_fit_get");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_fit_get: value is NULL");
    if (option < 0 || option >= NOPTIONS)
        return gfi_fail(GF_ERR_INVALID, "gf_fit_get: unknown option %d", (int)option);
    *value = f->opt[option];
    return GF_OK;
}

int gf_fit_set_validation(gf_fit *f, const float *x, size_t x_count, const float *target, size_t target_count,
                          int64_t n)
{
    int rc = check_fit(f, "gf_fit_set_validation");
    if (rc)
        return rc;
    if (x && (!target || n <= 0))
        return gfi_fail(target ? GF_ERR_INVALID : GF_ERR_NULL,
                        "gf_fit_set_validation: %s", target ? "n must be positive" : "target is NULL");
    /* Shapes are checked against the net by gf_net_fit_v2, which knows its widths. */
    f->vx = x;
    f->vt = x ? target : NULL;
    f->vx_count = x ? x_count : 0;
    f->vt_count = x ? target_count : 0;
    f->vn = x ? n : 0;
    return GF_OK;
}

int gf_fit_set_callback(gf_fit *f, gf_epoch_record_fn fn, void *user)
{
    int rc = check_fit(f, "gf_fit_set_callback");
    if (rc)
        return rc;
    f->cb = fn;
    f->user = user;
    return GF_OK;
}

int gf_fit_set_schedule(gf_fit *f, const gf_schedule *s)
{
    int rc = check_fit(f, "gf_fit_set_schedule");
    if (rc)
        return rc;
    if (s && s->magic != GFI_MAGIC_SCHED)
        return gfi_fail(GF_ERR_KIND, "gf_fit_set_schedule: handle is not a live gf_schedule");
    f->has_sched = s != NULL;
    if (s) {
        f->sched = s->cfg;
        gfi_sched_reset(&f->sched);
    }
    return GF_OK;
}

/* ---- buffers kept by the net ---- */

void gfi_fit_bufs_free(gfi_fit_bufs *fb)
{
    gfi_free(fb->records);
    gfi_free(fb->rows);
    gfi_free(fb->order);
    gfi_free(fb->bx);
    gfi_free(fb->bt);
    gfi_free(fb->best);
    memset(fb, 0, sizeof *fb);
}

/* Makes *slot hold at least n elems of size each; *cap is its capacity in
 * elems, updated right after a successful realloc so it never disagrees with
 * the block.  Never shrinks, and keeps the old contents (records stay
 * readable if a later step fails). */
static int grow(void **slot, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return GF_OK;
    if (n > SIZE_MAX / size)
        return GF_ERR_OVERFLOW;
    void *p = gfi_realloc(*slot, n * size);
    if (!p)
        return GF_ERR_NOMEM;
    *slot = p;
    *cap = n;
    return GF_OK;
}

/* Sizes every buffer of a fit.  Each buffer's capacity is checked on its
 * own: a failure part-way leaves every (buffer, capacity) pair consistent. */
static int reserve_bufs(gfi_fit_bufs *fb, int32_t epochs, int64_t n, int64_t batch, size_t xw, size_t tw,
                        size_t nbest)
{
    int rc;
    size_t bx, bt;
    if (!gfi_mul_size((size_t)batch, xw, &bx) || !gfi_mul_size((size_t)batch, tw, &bt))
        return GF_ERR_OVERFLOW;
    if ((rc = grow((void **)&fb->records, &fb->cap_records, (size_t)epochs, sizeof *fb->records)) ||
        (rc = grow((void **)&fb->rows, &fb->cap_rows, (size_t)n, sizeof(int64_t))) ||
        (rc = grow((void **)&fb->order, &fb->cap_order, (size_t)n, sizeof(int64_t))) ||
        (rc = grow((void **)&fb->bx, &fb->cap_bx, bx, sizeof(float))) ||
        (rc = grow((void **)&fb->bt, &fb->cap_bt, bt, sizeof(float))) ||
        (rc = grow((void **)&fb->best, &fb->cap_best, nbest, sizeof(float))))
        return rc;
    fb->xw = xw;
    fb->tw = tw;
    return GF_OK;
}

/* ---- one fit ---- */

typedef struct run {
    gf_net *net;
    const gf_fit *o;
    const float *x, *t;
    size_t x_count, t_count;
    int64_t n, ntrain, nval;
    const float *vx, *vt; /* validation data: the caller's, or x and t for a split */
    const int64_t *vrows; /* a split's validation rows; NULL: vx, vt in place */
    int64_t batch;
    int32_t epochs, patience, monitor, loss_kind;
    bool loss_per_step; /* with loss_kind, how the gathered targets are read (gfi_net_loss_rows) */
    bool higher, restore, shuffle, has_sched;
    const char *shuffled; /* why rows leave their batch positions (NULL: they keep them), for the layers' rule */
    gfi_sched sched;
    int64_t step;
    double best;
    int32_t best_epoch, wait;
    gfi_progress progress;
} run;

static const char *const FN = "gf_net_fit_v2";

static int check_net(gf_net *net)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "%s: net is NULL", FN);
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_net", FN);
    if (net->fb.running)
        return gfi_net_fail(net, GF_ERR_STATE, "%s: cannot fit from inside this net's fit callback", FN);
    return GF_OK;
}

/* Where validation comes from: the options' data, a split of n, or nowhere. */
static int plan_validation(run *r)
{
    const gf_fit *o = r->o;
    double split = o->opt[GF_FIT_VALIDATION_SPLIT];
    r->ntrain = r->n;
    if (o->vx) {
        if (split > 0.0)
            return gfi_net_fail(r->net, GF_ERR_INVALID, "%s: give validation data or a validation split, not both",
                                FN);
        r->vx = o->vx;
        r->vt = o->vt;
        r->nval = o->vn;
        return gfi_net_check_data(r->net, o->vx, o->vx_count, o->vt, o->vt_count, o->vn, "gf_net_fit_v2 (validation)");
    }
    if (split > 0.0) {
        r->ntrain = (int64_t)floor((double)r->n * (1.0 - split)); /* as Keras: the rest is held out */
        r->nval = r->n - r->ntrain;
        if (r->ntrain < 1 || r->nval < 1)
            return gfi_net_fail(r->net, GF_ERR_INVALID,
                                "%s: a split of %g leaves %lld training and %lld validation samples of %lld", FN, split,
                                (long long)r->ntrain, (long long)r->nval, (long long)r->n);
        r->vx = r->x;
        r->vt = r->t;
    }
    return GF_OK;
}

/* The watched value and whether larger is better. */
static int plan_monitor(run *r)
{
    gf_net *net = r->net;
    int32_t m = (int32_t)r->o->opt[GF_FIT_MONITOR];
    if (m < 0)
        m = r->nval ? GF_MONITOR_VAL_LOSS : GF_MONITOR_LOSS;
    if ((m == GF_MONITOR_VAL_LOSS || m == GF_MONITOR_VAL_METRIC) && !r->nval)
        return gfi_net_fail(net, GF_ERR_INVALID, "%s: the monitor watches validation data but there is none", FN);
    if ((m == GF_MONITOR_METRIC || m == GF_MONITOR_VAL_METRIC) && !net->nmetrics)
        return gfi_net_fail(net, GF_ERR_INVALID, "%s: the monitor watches a metric but the net has none "
                                                 "(gf_net_add_metric)", FN);
    r->monitor = m;
    r->higher = (m == GF_MONITOR_METRIC || m == GF_MONITOR_VAL_METRIC) &&
                gf_metric_higher_is_better(net->metrics[0].kind) == 1;
    return GF_OK;
}

static int plan(run *r)
{
    gf_net *net = r->net;
    const gf_fit *o = r->o;
    int rc;
    if ((rc = gfi_net_check_data(net, r->x, r->x_count, r->t, r->t_count, r->n, FN)) || (rc = plan_validation(r)) ||
        (rc = plan_monitor(r)))
        return rc;
    r->epochs = (int32_t)o->opt[GF_FIT_EPOCHS];
    r->batch = (int64_t)o->opt[GF_FIT_BATCH] < r->ntrain ? (int64_t)o->opt[GF_FIT_BATCH] : r->ntrain;
    r->patience = (int32_t)o->opt[GF_FIT_PATIENCE];
    r->restore = o->opt[GF_FIT_RESTORE_BEST] == 1.0;
    r->shuffle = o->opt[GF_FIT_SHUFFLE] == 1.0;
    r->loss_kind = net->loss.kind;
    r->loss_per_step = net->loss.per_step;
    r->has_sched = o->has_sched;
    if (o->has_sched) {
        r->sched = o->sched;
        if (r->sched.mode == -1)
            r->sched.mode = r->higher ? 1 : 0;
    }
    r->best = NAN;
    r->best_epoch = -1;
    /* Per-sample recurrent settings go by batch position: the rows must stay in place. */
    r->shuffled = r->shuffle ? "GF_FIT_SHUFFLE is on"
                  : r->nval && !o->vx ? "a validation split draws its rows at random"
                  : NULL;
    return gfi_fit_check_layer_batches(net, FN, r->shuffled, r->ntrain, r->nval, r->batch);
}

/* Sizes every buffer of the fit and of its steps; nothing observable
 * changes (the optimizer's state is kept by gfi_net_train_prepare_end). */
static int reserve(run *r, gfi_train_prep *prep)
{
    gf_net *net = r->net;
    size_t xw = (size_t)net->inputs, tw = (size_t)gfi_net_target_size(net);
    int rc = reserve_bufs(&net->fb, r->epochs, r->n, r->batch, xw, tw, r->restore ? net->nparams : 0);
    if (rc)
        return gfi_net_fail(net, rc, "%s: cannot allocate the buffers of a fit on %lld samples in batches of %lld", FN,
                            (long long)r->n, (long long)r->batch);
    return gfi_net_train_prepare(net, r->batch, prep, FN);
}

/* Fisher-Yates over positions 0..n-1 from the net's generator (gf_net_fit's draws). */
static void shuffle(gf_net *net, int64_t *v, int64_t n, bool draw)
{
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    for (int64_t i = n - 1; draw && i > 0; i--) {
        int64_t j = (int64_t)gfi_rng_below(&net->rng, (uint64_t)i + 1);
        int64_t t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

/* The rows of a split: a seeded permutation, training rows first. */
static void split_rows(run *r)
{
    gfi_fit_bufs *fb = &r->net->fb;
    shuffle(r->net, fb->rows, r->n, r->nval && !r->o->vx);
    r->vrows = r->nval && !r->o->vx ? fb->rows + r->ntrain : NULL;
}

/* The schedule's rate for unit t (an epoch, or a step with per_step) into the
 * optimizer.  A rate the optimizer cannot hold (a gamma > 1 growing it past
 * the largest float, or to Inf) ends the fit here, before the steps at that
 * rate write anything: the net stays as after the last good step. */
static int set_lr(run *r, int64_t t)
{
    if (!r->has_sched)
        return GF_OK;
    double lr = gfi_sched_lr(&r->sched, t);
    if (!gfi_opt_lr_valid(lr))
        return gfi_net_fail(r->net, GF_ERR_INVALID,
                            "%s: the schedule's rate at %s %lld is %g, not a learning rate: it must be %s; the fit "
                            "stopped before that %s, after %lld steps", FN, r->sched.per_step ? "step" : "epoch",
                            (long long)t, lr, GFI_LR_DOMAIN, r->sched.per_step ? "step" : "epoch", (long long)r->step);
    r->net->opt->lr = lr;
    return GF_OK;
}

static void gather(const float *src, size_t w, const int64_t *rows, const int64_t *order, int64_t n, float *dst)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * w, src + (size_t)rows[order[i]] * w, w * sizeof(float));
}

/* One pass over the training rows: loss and metrics into rec. */
static int train_epoch(run *r, int32_t e, gfi_record *rec)
{
    gf_net *net = r->net;
    gfi_fit_bufs *fb = &net->fb;
    int64_t steps, width; /* the loss's rows per sample, and their width */
    gfi_net_loss_rows(net, 1, &steps, &width);
    gfi_metric_acc acc[GF_MAX_METRICS] = {{0.0, 0.0}};
    double sum = 0.0;
    int rc = r->sched.per_step ? GF_OK : set_lr(r, e); /* before the shuffle: a refused epoch draws nothing */
    if (rc)
        return rc;
    shuffle(net, fb->order, r->ntrain, r->shuffle);
    for (int64_t s = 0; s < r->ntrain; s += r->batch) {
        int64_t b = r->ntrain - s < r->batch ? r->ntrain - s : r->batch;
        gather(r->x, fb->xw, fb->rows, fb->order + s, b, fb->bx);
        gather(r->t, fb->tw, fb->rows, fb->order + s, b, fb->bt);
        if (r->sched.per_step && (rc = set_lr(r, r->step)))
            return rc;
        double l = 0.0;
        if ((rc = gfi_net_train_validated(net, fb->bx, fb->bt, b, &l)))
            return rc;
        r->step++;
        sum += l * (double)b;
        for (int32_t i = 0; i < net->nmetrics; i++)
            gfi_metric_accumulate(&net->metrics[i], &net->loss, gfi_net_output(net), fb->bt, b * steps, width,
                                  &acc[i]);
        gfi_progress_batch(&r->progress, e, s + b, sum / (double)(s + b));
    }
    rec->pub.loss = sum / (double)r->ntrain;
    for (int32_t i = 0; i < net->nmetrics; i++)
        rec->metrics[i] = gfi_metric_value(&net->metrics[i], &acc[i]);
    return GF_OK;
}

static int validate(run *r, gfi_record *rec)
{
    gfi_fit_bufs *fb = &r->net->fb;
    for (int32_t i = 0; i < GF_MAX_METRICS; i++)
        rec->val_metrics[i] = NAN;
    rec->pub.val_loss = NAN;
    if (!r->nval)
        return GF_OK;
    return gfi_net_evaluate_rows(r->net, r->vx, r->vt, r->vrows, r->nval, r->batch, fb->bx, fb->bt, &rec->pub.val_loss,
                                 rec->val_metrics, FN);
}

static double monitored(const run *r, const gfi_record *rec)
{
    switch (r->monitor) {
    case GF_MONITOR_METRIC:
        return rec->metrics[0];
    case GF_MONITOR_VAL_LOSS:
        return rec->pub.val_loss;
    case GF_MONITOR_VAL_METRIC:
        return rec->val_metrics[0];
    default:
        return rec->pub.loss;
    }
}

/* Early stopping's bookkeeping and the plateau schedule; true: stop now. */
static bool judge(run *r, int32_t e, const gfi_record *rec)
{
    gf_net *net = r->net;
    double v = monitored(r, rec), d = r->o->opt[GF_FIT_MIN_DELTA];
    bool first = isnan(r->best);
    bool better = r->higher ? v > r->best + d : v < r->best - d;
    if (first ? !isnan(v) : better) {
        r->best = v;
        r->best_epoch = e;
        r->wait = 0;
        if (r->restore && net->nparams) /* a net of parameter-free layers has no arena (NULL) */
            memcpy(net->fb.best, net->params, net->nparams * sizeof(float));
    } else {
        r->wait++;
    }
    /* A plateau schedule judges the epochs that ran at its own rate, after warm-up. */
    if (r->has_sched && (double)e >= r->sched.warmup)
        gfi_sched_observe(&r->sched, v, r->higher);
    return r->patience > 0 && r->wait >= r->patience;
}

static int32_t net_verdict(const gf_net *net)
{
    int32_t v = GF_VERDICT_UNKNOWN;
    if (net->diag && net->diag_on && gf_diag_verdict(net->diag, -1, &v))
        v = GF_VERDICT_UNKNOWN;
    return v;
}

/* Trains, validates and records epoch e; *stop set when training should end. */
static int run_epoch(run *r, int32_t e, bool *stop)
{
    gf_net *net = r->net;
    gfi_record *rec = &net->fb.records[e];
    double start = gfi_now();
    gfi_progress_epoch_begin(&r->progress);
    int rc = train_epoch(r, e, rec);
    if (rc || (rc = validate(r, rec)))
        return rc;
    rec->pub.size = sizeof rec->pub;
    rec->pub.epoch = e;
    rec->pub.epochs = r->epochs;
    rec->pub.metric = net->nmetrics ? rec->metrics[0] : NAN;
    rec->pub.val_metric = net->nmetrics ? rec->val_metrics[0] : NAN;
    rec->pub.lr = net->opt->lr;
    rec->pub.steps = net->steps;
    rec->pub.verdict = net_verdict(net);
    *stop = judge(r, e, rec);
    rec->pub.best_epoch = r->best_epoch;
    rec->pub.seconds = gfi_now() - start;
    if (e == 0) { /* the previous fit's records are gone: theirs go with them (the list is fixed while fitting) */
        net->fb.rec_nmetrics = net->nmetrics;
        memcpy(net->fb.rec_metrics, net->metrics, sizeof net->fb.rec_metrics);
    }
    net->fb.nrecords = e + 1;
    gfi_progress_epoch_end(&r->progress, &rec->pub, r->nval > 0);
    if (r->o->cb && r->o->cb(r->o->user, &rec->pub))
        *stop = true;
    return GF_OK;
}

/* The callback may have swapped the loss, or turned GF_LOSS_PARAM_PER_STEP on or off: the targets were checked
 * and are gathered for the loss the fit began with, and another kind or layout would misread them (read past a
 * row, take a value as a label it was never checked to be). */
static int check_unchanged(run *r)
{
    return gfi_fit_check_loss_unchanged(r->net, FN, r->loss_kind, r->loss_per_step);
}

/* Before another epoch: the callback may have given a recurrent layer per-sample lengths or an initial state,
 * which plan() refuses for a fit that moves rows from their batch positions or has chunks of another batch; the
 * next epoch would silently hand them to other samples. */
static int check_layers_still_fit(run *r)
{
    return gfi_fit_check_layer_batches(r->net, "gf_net_fit_v2 (after its callback)", r->shuffled, r->ntrain, r->nval,
                                       r->batch);
}

static int train(run *r)
{
    gf_net *net = r->net;
    int32_t mode = (int32_t)r->o->opt[GF_FIT_PROGRESS];
    gfi_progress_begin(&r->progress, mode < 0 ? (net->progress ? 1 : 0) : mode, r->epochs, r->ntrain,
                       net->nmetrics ? gf_metric_name(net->metrics[0].kind) : NULL);
    net->fb.nrecords = 0;
    split_rows(r);
    bool stop = false;
    for (int32_t e = 0; e < r->epochs && !stop; e++) {
        int rc = run_epoch(r, e, &stop);
        if (rc || (rc = check_unchanged(r)) || (!stop && e + 1 < r->epochs && (rc = check_layers_still_fit(r))))
            return rc;
    }
    if (r->restore && r->best_epoch >= 0) {
        if (net->nparams)
            memcpy(net->params, net->fb.best, net->nparams * sizeof(float));
        /* Cached activations and gradients belong to the last epoch's weights. */
        net->forward_ready = net->backward_ready = net->grads_ready = false;
    }
    return GF_OK;
}

int gf_net_fit_v2(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count, int64_t n,
                  const gf_fit *options)
{
    int rc = check_net(net);
    if (rc)
        return rc;
    gf_fit defaults = {.magic = GFI_MAGIC_FIT};
    memcpy(defaults.opt, option_defaults, sizeof defaults.opt);
    if (options && (rc = check_fit(options, FN)))
        return gfi_net_fail(net, rc, "%s", gf_last_error());
    run r = {.net = net, .o = options ? options : &defaults, .x = x, .t = target, .x_count = x_count,
             .t_count = target_count, .n = n};
    gfi_train_prep prep;
    if ((rc = plan(&r)) || (rc = reserve(&r, &prep)))
        return rc;
    /* A fit whose first step fails (the guard, clipping meeting NaN) has
     * already split, shuffled and scheduled: the generator, the rate and the
     * previous records go back, so the failure changes nothing.  Later
     * failures keep the steps. */
    gfi_rng rng = net->rng;
    int64_t steps = net->steps;
    double lr = net->opt->lr;
    int32_t nrecords = net->fb.nrecords; /* the previous fit's, intact until an epoch completes */
    net->fb.running = true;
    rc = train(&r);
    net->fb.running = false;
    bool stepped = net->steps != steps;
    if (rc && !stepped) {
        net->rng = rng;
        net->opt->lr = lr;
        net->fb.nrecords = nrecords;
    }
    gfi_net_train_prepare_end(net, &prep, rc == GF_OK || stepped);
    return rc;
}

/* ---- reading the records ---- */

static int record_at(const gf_net *net, int32_t epoch, const char *fn, const gfi_record **rec)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "%s: net is NULL", fn);
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_net", fn);
    if (epoch < 0 || epoch >= net->fb.nrecords)
        return gfi_net_fail((gf_net *)net, GF_ERR_RANGE, "%s: epoch %d is outside the %d records of the latest fit",
                            fn, (int)epoch, (int)net->fb.nrecords);
    *rec = &net->fb.records[epoch];
    return GF_OK;
}

int32_t gf_net_epoch_count(const gf_net *net)
{
    if (!net || net->magic != GFI_MAGIC_NET)
        return -1;
    return net->fb.nrecords;
}

int gf_net_epoch_record(const gf_net *net, int32_t epoch, gf_epoch_record *record)
{
    const gfi_record *rec = NULL;
    int rc = record_at(net, epoch, "gf_net_epoch_record", &rec);
    if (rc)
        return rc;
    if (!record)
        return gfi_net_fail((gf_net *)net, GF_ERR_NULL, "gf_net_epoch_record: record is NULL");
    size_t want = record->size;
    if (want < offsetof(gf_epoch_record, epochs))
        return gfi_net_fail((gf_net *)net, GF_ERR_INVALID,
                            "gf_net_epoch_record: set record->size to sizeof(gf_epoch_record) (got %zu)", want);
    size_t n = want < sizeof rec->pub ? want : sizeof rec->pub;
    memcpy(record, &rec->pub, n);
    record->size = n;
    return GF_OK;
}

int gf_net_epoch_metric(const gf_net *net, int32_t epoch, int32_t index, int32_t validation, double *value)
{
    const gfi_record *rec = NULL;
    int rc = record_at(net, epoch, "gf_net_epoch_metric", &rec);
    if (rc)
        return rc;
    gf_net *m = (gf_net *)net; /* only the error slot is written */
    if (!value)
        return gfi_net_fail(m, GF_ERR_NULL, "gf_net_epoch_metric: value is NULL");
    const gfi_fit_bufs *fb = &net->fb;
    if (index < 0 || index >= fb->rec_nmetrics)
        return gfi_net_fail(m, GF_ERR_RANGE, "gf_net_epoch_metric: index %d is outside 0..%d (the metrics the latest "
                            "fit computed)", (int)index, (int)fb->rec_nmetrics - 1);
    if (validation != 0 && validation != 1)
        return gfi_net_fail(m, GF_ERR_INVALID, "gf_net_epoch_metric: validation must be 0 or 1 (got %d)",
                            (int)validation);
    /* The records hold the fit's metric i: read as the net's metric i only while that is the same one. */
    const gfi_metric *was = &fb->rec_metrics[index];
    if (index >= net->nmetrics || net->metrics[index].kind != was->kind ||
        memcmp(&net->metrics[index].param, &was->param, sizeof was->param))
        return gfi_net_fail(m, GF_ERR_STATE, "gf_net_epoch_metric: the latest fit computed metric %d as %s, but the "
                            "net's metrics changed since (metric %d is now %s)", (int)index, gf_metric_name(was->kind),
                            (int)index, index < net->nmetrics ? gf_metric_name(net->metrics[index].kind) : "none");
    *value = validation ? rec->val_metrics[index] : rec->metrics[index];
    return GF_OK;
}
