/*
 * loss.c — loss functions: MSE, MAE, Huber, BCE on logits and the two softmax
 * cross-entropies; their handles, target validation and mean value + gradient.
 *
 * Reductions follow PyTorch's defaults: the element-wise losses (MSE, MAE,
 * Huber, BCE with logits) average over all batch*width elements; the softmax
 * cross-entropies average the per-sample loss over the batch.  Everything is
 * evaluated in double; only the gradient is stored as float.
 */
#include "ew.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool loss_kind_valid(int32_t kind) { return kind >= GF_LOSS_MSE && kind <= GF_LOSS_SOFTMAX_CE_LABELS; }

static bool is_softmax(int32_t kind) { return kind == GF_LOSS_SOFTMAX_CE || kind == GF_LOSS_SOFTMAX_CE_LABELS; }

void gfi_loss_default(gfi_loss *c, int32_t kind)
{
    c->kind = kind;
    c->delta = 1.0; /* PyTorch HuberLoss default; unused by the other kinds */
    c->per_step = false;
}

int64_t gfi_loss_target_width(const gfi_loss *c, int64_t outputs)
{
    return c->kind == GF_LOSS_SOFTMAX_CE_LABELS ? 1 : outputs;
}

/* ---- target validation ---------------------------------------------- */

static int check_label(float v, int64_t row, int64_t classes)
{
    if (floorf(v) != v)
        return gfi_fail(GF_ERR_INVALID, "target row %lld: label %g is not an integer", (long long)row, (double)v);
    if (v < 0.0f || (double)v >= (double)classes)
        return gfi_fail(GF_ERR_RANGE, "target row %lld: label %g is outside [0, %lld)", (long long)row, (double)v,
                        (long long)classes);
    return GF_OK;
}

static int check_value(const gfi_loss *c, float v, int64_t row, int64_t col)
{
    if (c->kind == GF_LOSS_BCE_LOGITS && !(v >= 0.0f && v <= 1.0f))
        return gfi_fail(GF_ERR_INVALID, "target row %lld, column %lld: %g is outside [0, 1] for BCE",
                        (long long)row, (long long)col, (double)v);
    if (c->kind == GF_LOSS_SOFTMAX_CE && v < 0.0f)
        return gfi_fail(GF_ERR_INVALID, "target row %lld, column %lld: probability %g is negative", (long long)row,
                        (long long)col, (double)v);
    return GF_OK;
}

/* width is the prediction width (the class count for label targets). */
int gfi_loss_check_target(const gfi_loss *c, const float *target, int64_t batch, int64_t width)
{
    int64_t tw = gfi_loss_target_width(c, width);
    if (c->kind == GF_LOSS_MSE || c->kind == GF_LOSS_MAE || c->kind == GF_LOSS_HUBER) {
        /* Any finite target will do: one vector scan (a wide net's targets
         * are as many floats as its outputs, read on the calling thread). */
        size_t n = (size_t)batch * (size_t)tw, i = gfi_ew()->first_nonfinite(target, n);
        if (i < n)
            return gfi_fail(GF_ERR_NONFINITE, "target row %lld, column %lld is %g", (long long)(i / (size_t)tw),
                            (long long)(i % (size_t)tw), (double)target[i]);
        return GF_OK;
    }
    for (int64_t r = 0; r < batch; r++) {
        for (int64_t k = 0; k < tw; k++) {
            float v = target[r * tw + k];
            if (!isfinite(v))
                return gfi_fail(GF_ERR_NONFINITE, "target row %lld, column %lld is %g", (long long)r, (long long)k,
                                (double)v);
            int rc = c->kind == GF_LOSS_SOFTMAX_CE_LABELS ? check_label(v, r, width) : check_value(c, v, r, k);
            if (rc != GF_OK)
                return rc;
        }
    }
    return GF_OK;
}

/* ---- evaluation ----------------------------------------------------- */

/* log(1 + e^-|x|) never overflows; sigmoid picks the branch whose exp is <= 1. */
static double sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

static double huber(double d, double delta, double *dl)
{
    double a = fabs(d);
    if (a <= delta) {
        *dl = d;
        return 0.5 * d * d;
    }
    *dl = d > 0.0 ? delta : -delta;
    return delta * (a - 0.5 * delta);
}

/* Loss of one element and its derivative *dl with respect to the prediction. */
static double element_loss(const gfi_loss *c, double x, double t, double *dl)
{
    double d = x - t;
    switch (c->kind) {
    case GF_LOSS_MSE:
        *dl = 2.0 * d;
        return d * d;
    case GF_LOSS_MAE:
        *dl = d > 0.0 ? 1.0 : d < 0.0 ? -1.0 : 0.0; /* subgradient 0 at the kink */
        return fabs(d);
    case GF_LOSS_HUBER:
        return huber(d, c->delta, dl);
    default: /* GF_LOSS_BCE_LOGITS */
        *dl = sigmoid(x) - t;
        return fmax(x, 0.0) - x * t + log1p(exp(-fabs(x)));
    }
}

/* The sum runs in four interleaved partial sums (element i into sum i mod 4,
 * added as (s0 + s1) + (s2 + s3)): a single running sum would wait on its
 * own add at every element, which made MSE over a wide net's outputs a
 * visible part of its step.  The order is fixed, so the value is the same
 * on every run and thread count. */
static inline double element_at(const gfi_loss *c, const float *pred, const float *target, size_t i, float *grad,
                                double inv_n)
{
    double dl, v = element_loss(c, pred[i], target[i], &dl);
    if (grad)
        grad[i] = (float)(dl * inv_n);
    return v;
}

static double eval_elementwise(const gfi_loss *c, const float *pred, const float *target, size_t n, float *grad)
{
    double inv_n = 1.0 / (double)n, s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += element_at(c, pred, target, i, grad, inv_n);
        s1 += element_at(c, pred, target, i + 1, grad, inv_n);
        s2 += element_at(c, pred, target, i + 2, grad, inv_n);
        s3 += element_at(c, pred, target, i + 3, grad, inv_n);
    }
    if (i < n)
        s0 += element_at(c, pred, target, i, grad, inv_n);
    if (i + 1 < n)
        s1 += element_at(c, pred, target, i + 1, grad, inv_n);
    if (i + 2 < n)
        s2 += element_at(c, pred, target, i + 2, grad, inv_n);
    return ((s0 + s1) + (s2 + s3)) * inv_n;
}

/* log sum_k exp(x_k - m) of a row, m its maximum (*max_out), so no exp overflows.  The caller keeps m apart:
 * m + log(s) would lose log(s) against logits of 1e16 and above (x - (m + log s) then reads 0 for every class
 * that ties the maximum, and the "probabilities" of {c, c} summed to 2 with a loss of 0). */
static double row_log_sum(const float *x, int64_t w, double *max_out)
{
    double m = x[0];
    for (int64_t k = 1; k < w; k++)
        m = fmax(m, (double)x[k]);
    double s = 0.0;
    for (int64_t k = 0; k < w; k++)
        s += exp((double)x[k] - m);
    *max_out = m;
    return log(s);
}

/*
 * One row of softmax cross-entropy.  With target weights t (sum S) the loss
 * is sum_k t_k (lse - x_k) and its gradient S softmax_k - t_k; a label is the
 * one-hot case.  lse - x_k is taken as log(s) - (x_k - m), the offset m
 * never added to a small number.  `scale` is 1/batch.
 */
static double softmax_row(const float *x, int64_t w, const float *t, bool label, double scale, float *g)
{
    double m, ls = row_log_sum(x, w, &m);
    int64_t y = label ? (int64_t)t[0] : -1;
    double loss = 0.0, tsum = 0.0;
    if (label) {
        loss = ls - ((double)x[y] - m);
        tsum = 1.0;
    } else {
        for (int64_t k = 0; k < w; k++) {
            loss += (double)t[k] * (ls - ((double)x[k] - m));
            tsum += t[k];
        }
    }
    if (g) {
        for (int64_t k = 0; k < w; k++) {
            double p = exp(((double)x[k] - m) - ls);
            double tk = label ? (k == y ? 1.0 : 0.0) : t[k];
            g[k] = (float)((tsum * p - tk) * scale);
        }
    }
    return loss;
}

static double eval_softmax(const gfi_loss *c, const float *pred, const float *target, int64_t batch, int64_t width,
                           float *grad)
{
    bool label = c->kind == GF_LOSS_SOFTMAX_CE_LABELS;
    int64_t tw = label ? 1 : width;
    double scale = 1.0 / (double)batch, sum = 0.0;
    for (int64_t r = 0; r < batch; r++)
        sum += softmax_row(pred + r * width, width, target + r * tw, label, scale, grad ? grad + r * width : NULL);
    return sum * scale;
}

double gfi_loss_eval(const gfi_loss *c, const float *pred, const float *target, int64_t batch, int64_t width,
                     float *grad)
{
    if (is_softmax(c->kind))
        return eval_softmax(c, pred, target, batch, width, grad);
    return eval_elementwise(c, pred, target, (size_t)batch * (size_t)width, grad);
}

/* ---- public handle -------------------------------------------------- */

static int check_handle(const gf_loss *loss, const char *fn)
{
    if (!loss)
        return gfi_fail(GF_ERR_NULL, "%s: loss is NULL", fn);
    if (loss->magic != GFI_MAGIC_LOSS)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_loss (magic 0x%08x)", fn, (unsigned)loss->magic);
    return GF_OK;
}

int gf_loss_create(gf_loss **out, int32_t kind)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_loss_create: out is NULL");
    if (!loss_kind_valid(kind))
        return gfi_fail(GF_ERR_INVALID, "gf_loss_create: unknown loss kind (%d)", (int)kind);
    gf_loss *l = gfi_malloc(sizeof *l);
    if (!l)
        return gfi_fail(GF_ERR_NOMEM, "gf_loss_create: out of memory");
    l->magic = GFI_MAGIC_LOSS;
    gfi_loss_default(&l->cfg, kind);
    *out = l;
    return GF_OK;
}

void gf_loss_destroy(gf_loss *loss)
{
    if (!loss || loss->magic != GFI_MAGIC_LOSS)
        return;
    loss->magic = GFI_MAGIC_DEAD;
    gfi_free(loss);
}

int gf_loss_set(gf_loss *loss, int32_t param, double value)
{
    int rc = check_handle(loss, "gf_loss_set");
    if (rc != GF_OK)
        return rc;
    if (param == GF_LOSS_PARAM_PER_STEP) {
        if (value != 0.0 && value != 1.0)
            return gfi_fail(GF_ERR_INVALID, "gf_loss_set: per-step must be 0 or 1 (got %g)", value);
        loss->cfg.per_step = value == 1.0;
        return GF_OK;
    }
    if (param != GF_LOSS_PARAM_DELTA || loss->cfg.kind != GF_LOSS_HUBER)
        return gfi_fail(GF_ERR_INVALID, "gf_loss_set: parameter %d does not apply to loss kind %d", (int)param,
                        (int)loss->cfg.kind);
    if (!isfinite(value) || value <= 0.0)
        return gfi_fail(GF_ERR_INVALID, "gf_loss_set: Huber delta must be finite and > 0 (got %g)", value);
    loss->cfg.delta = value;
    return GF_OK;
}

int gf_loss_get(const gf_loss *loss, int32_t param, double *value)
{
    int rc = check_handle(loss, "gf_loss_get");
    if (rc != GF_OK)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_loss_get: value is NULL");
    if (param == GF_LOSS_PARAM_PER_STEP) {
        *value = loss->cfg.per_step ? 1.0 : 0.0;
        return GF_OK;
    }
    if (param != GF_LOSS_PARAM_DELTA || loss->cfg.kind != GF_LOSS_HUBER)
        return gfi_fail(GF_ERR_INVALID, "gf_loss_get: parameter %d does not apply to loss kind %d", (int)param,
                        (int)loss->cfg.kind);
    *value = loss->cfg.delta;
    return GF_OK;
}

int32_t gf_loss_kind(const gf_loss *loss)
{
    if (check_handle(loss, "gf_loss_kind") != GF_OK)
        return -1;
    return loss->cfg.kind;
}

int64_t gf_loss_target_width(const gf_loss *loss, int64_t outputs)
{
    if (check_handle(loss, "gf_loss_target_width") != GF_OK)
        return -1;
    if (outputs <= 0) {
        gfi_fail(GF_ERR_INVALID, "gf_loss_target_width: outputs must be > 0 (got %lld)", (long long)outputs);
        return -1;
    }
    return gfi_loss_target_width(&loss->cfg, outputs);
}

/* Re-issues the latest internal message under the public function's name. */
static int fail_as(const char *fn, int code)
{
    char msg[256];
    snprintf(msg, sizeof msg, "%s", gf_last_error());
    return gfi_fail(code, "%s: %s", fn, msg);
}

static int check_pred(const float *pred, int64_t width, size_t n)
{
    size_t i = gfi_ew()->first_nonfinite(pred, n);
    if (i < n)
        return gfi_fail(GF_ERR_NONFINITE, "gf_loss_compute: pred row %lld, column %lld is %g",
                        (long long)(i / (size_t)width), (long long)(i % (size_t)width), (double)pred[i]);
    return GF_OK;
}

int gf_loss_compute(const gf_loss *loss, const float *pred, const float *target, int64_t batch, int64_t width,
                    double *value, float *grad)
{
    int rc = check_handle(loss, "gf_loss_compute");
    if (rc != GF_OK)
        return rc;
    if (!pred || !target || !value)
        return gfi_fail(GF_ERR_NULL, "gf_loss_compute: %s is NULL", !pred ? "pred" : !target ? "target" : "value");
    size_t n;
    if ((rc = gfi_checked_count(batch, width, &n)) != GF_OK)
        return fail_as("gf_loss_compute", rc);
    if ((rc = check_pred(pred, width, n)) != GF_OK)
        return rc;
    if ((rc = gfi_loss_check_target(&loss->cfg, target, batch, width)) != GF_OK)
        return fail_as("gf_loss_compute", rc);
    *value = gfi_loss_eval(&loss->cfg, pred, target, batch, width, grad);
    return GF_OK;
}

const char *gfi_loss_name(int32_t kind)
{
    static const char *const names[] = {"mse", "mae", "huber", "bce_logits", "softmax_ce", "softmax_ce_labels"};
    return kind >= 0 && kind < (int32_t)(sizeof names / sizeof *names) ? names[kind] : "?";
}
