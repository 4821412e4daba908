/*
 * metric.c — metrics (accuracy for labels, one-hot/probability rows and
 * binary logits; top-k; MAE; RMSE), the net's metric list, and evaluation of
 * a data set in batches.
 *
 * A metric is a running sum and a count, so batches of any size add up to
 * the value of the whole set: accuracies count correct rows (or elements),
 * the errors sum |e| or e^2 over elements.  Sums are kept in double.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_TOP_K 5.0

bool gfi_metric_kind_valid(int32_t kind) { return kind >= GF_METRIC_ACCURACY && kind <= GF_METRIC_BINARY_ACCURACY; }

const char *gf_metric_name(int32_t kind)
{
    static const char *const names[] = {"accuracy", "top_k", "mae", "rmse", "binary_accuracy"};
    return gfi_metric_kind_valid(kind) ? names[kind] : "?";
}

int32_t gf_metric_higher_is_better(int32_t kind)
{
    if (!gfi_metric_kind_valid(kind))
        return -1;
    return kind == GF_METRIC_MAE || kind == GF_METRIC_RMSE ? 0 : 1;
}

/* ---- how a metric reads a row ---- */

enum { READ_LABEL, READ_ARGMAX, READ_BINARY, READ_ERROR };

/* How accuracy-like metrics compare pred with target, from the loss's target layout. */
static int read_mode(const gfi_metric *m, const gfi_loss *loss, int64_t width, double *threshold)
{
    *threshold = m->param;
    switch (m->kind) {
    case GF_METRIC_MAE:
    case GF_METRIC_RMSE:
        return READ_ERROR;
    case GF_METRIC_BINARY_ACCURACY:
        return READ_BINARY;
    case GF_METRIC_TOP_K:
        return loss->kind == GF_LOSS_SOFTMAX_CE_LABELS ? READ_LABEL : READ_ARGMAX;
    default: /* accuracy: as the loss implies */
        if (loss->kind == GF_LOSS_SOFTMAX_CE_LABELS)
            return READ_LABEL;
        if (loss->kind == GF_LOSS_BCE_LOGITS || width == 1) {
            *threshold = loss->kind == GF_LOSS_BCE_LOGITS ? 0.0 : 0.5;
            return READ_BINARY;
        }
        return READ_ARGMAX;
    }
}

int gfi_metric_check(const gfi_metric *m, const gfi_loss *loss, int64_t width, const char *fn)
{
    double th;
    int mode = read_mode(m, loss, width, &th);
    if (loss->kind == GF_LOSS_SOFTMAX_CE_LABELS && (mode == READ_ERROR || mode == READ_BINARY))
        return gfi_fail(GF_ERR_INVALID, "%s: metric %s needs targets as wide as the output, but the loss %s reads "
                                        "class labels",
                        fn, gf_metric_name(m->kind), gfi_loss_name(loss->kind));
    return GF_OK;
}

/* Index of the largest value of row (the first of equals); -1 if the row holds a NaN. */
static int64_t argmax(const float *row, int64_t width)
{
    int64_t best = 0;
    for (int64_t j = 0; j < width; j++) {
        if (isnan(row[j]))
            return -1;
        if (row[j] > row[best])
            best = j;
    }
    return best;
}

/* Whether class c is among the k largest of row: fewer than k values beat it. */
static bool in_top_k(const float *row, int64_t width, int64_t c, double k)
{
    if (c < 0 || isnan(row[c]))
        return false;
    int64_t above = 0;
    for (int64_t j = 0; j < width; j++) {
        if (isnan(row[j]))
            return false;
        above += row[j] > row[c];
    }
    return (double)above < k;
}

static void accumulate_rows(const gfi_metric *m, int mode, const float *pred, const float *target, int64_t batch,
                            int64_t width, gfi_metric_acc *acc)
{
    for (int64_t r = 0; r < batch; r++) {
        const float *p = pred + r * width;
        int64_t c = mode == READ_LABEL ? (int64_t)target[r] : argmax(target + r * width, width);
        bool ok = m->kind == GF_METRIC_TOP_K ? in_top_k(p, width, c, m->param) : (c >= 0 && argmax(p, width) == c);
        acc->sum += ok;
    }
    acc->count += (double)batch;
}

static void accumulate_elements(const gfi_metric *m, int mode, double threshold, const float *pred,
                                const float *target, size_t n, gfi_metric_acc *acc)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)pred[i] - (double)target[i];
        if (mode == READ_BINARY)
            sum += !isnan(pred[i]) && ((double)pred[i] > threshold) == (target[i] >= 0.5f);
        else
            sum += m->kind == GF_METRIC_MAE ? fabs(e) : e * e;
    }
    acc->sum += sum;
    acc->count += (double)n;
}

void gfi_metric_accumulate(const gfi_metric *m, const gfi_loss *loss, const float *pred, const float *target,
                           int64_t batch, int64_t width, gfi_metric_acc *acc)
{
    double threshold;
    int mode = read_mode(m, loss, width, &threshold);
    if (mode == READ_LABEL || mode == READ_ARGMAX)
        accumulate_rows(m, mode, pred, target, batch, width, acc);
    else
        accumulate_elements(m, mode, threshold, pred, target, (size_t)batch * (size_t)width, acc);
}

double gfi_metric_value(const gfi_metric *m, const gfi_metric_acc *acc)
{
    if (acc->count <= 0.0)
        return NAN;
    double mean = acc->sum / acc->count;
    return m->kind == GF_METRIC_RMSE ? sqrt(mean) : mean;
}

/* ---- parameters ---- */

/* Fills m from kind and param (NaN: the default); GF_ERR_INVALID with a message naming fn. */
static int metric_make(gfi_metric *m, int32_t kind, double param, const char *fn)
{
    if (!gfi_metric_kind_valid(kind))
        return gfi_fail(GF_ERR_INVALID, "%s: unknown metric kind %d", fn, (int)kind);
    m->kind = kind;
    m->param = 0.0;
    if (kind == GF_METRIC_TOP_K) {
        m->param = isnan(param) ? DEFAULT_TOP_K : param;
        if (!(m->param >= 1.0 && m->param <= 2147483647.0) || floor(m->param) != m->param)
            return gfi_fail(GF_ERR_INVALID, "%s: top-k needs an integer k >= 1 (got %g)", fn, param);
    } else if (kind == GF_METRIC_BINARY_ACCURACY) {
        m->param = isnan(param) ? 0.0 : param;
        if (!isfinite(m->param))
            return gfi_fail(GF_ERR_INVALID, "%s: the binary threshold must be finite (got %g)", fn, param);
    }
    return GF_OK;
}

int gf_metric_compute(const gf_loss *loss, int32_t kind, double param, const float *pred, const float *target,
                      int64_t batch, int64_t width, double *value)
{
    const char *fn = "gf_metric_compute";
    if (!pred || !target || !value)
        return gfi_fail(GF_ERR_NULL, "%s: %s is NULL", fn, !pred ? "pred" : !target ? "target" : "value");
    if (loss && loss->magic != GFI_MAGIC_LOSS)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_loss", fn);
    gfi_loss mse;
    gfi_loss_default(&mse, GF_LOSS_MSE);
    const gfi_loss *lc = loss ? &loss->cfg : &mse;
    gfi_metric m;
    size_t n;
    int rc;
    if ((rc = metric_make(&m, kind, param, fn)) || (rc = gfi_metric_check(&m, lc, width, fn)))
        return rc;
    if ((rc = gfi_checked_count(batch, width, &n)))
        return gfi_fail(rc, "%s: batch and width must be positive and addressable (got %lld x %lld)", fn,
                        (long long)batch, (long long)width);
    if ((rc = gfi_loss_check_target(lc, target, batch, width))) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gfi_fail(rc, "%s: %s", fn, msg);
    }
    gfi_metric_acc acc = {0.0, 0.0};
    gfi_metric_accumulate(&m, lc, pred, target, batch, width, &acc);
    *value = gfi_metric_value(&m, &acc);
    return GF_OK;
}

/* ---- the net's metric list ---- */

static int check_net(const gf_net *net, const char *fn)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "%s: net is NULL", fn);
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_net", fn);
    return GF_OK;
}

/* The list is read by a running fit: changing it from the callback is refused. */
static int check_not_fitting(gf_net *net, const char *fn)
{
    if (net->fb.running)
        return gfi_net_fail(net, GF_ERR_STATE, "%s: cannot change the metrics during gf_net_fit_v2", fn);
    return GF_OK;
}

int gf_net_add_metric(gf_net *net, int32_t kind, double param)
{
    const char *fn = "gf_net_add_metric";
    int rc = check_net(net, fn);
    if (rc || (rc = check_not_fitting(net, fn)))
        return rc;
    gfi_metric m;
    if ((rc = metric_make(&m, kind, param, fn)))
        return gfi_net_fail(net, rc, "%s", gf_last_error());
    if (net->nmetrics == GF_MAX_METRICS)
        return gfi_net_fail(net, GF_ERR_RANGE, "%s: a net carries at most %d metrics", fn, GF_MAX_METRICS);
    net->metrics[net->nmetrics++] = m;
    return GF_OK;
}

int gf_net_clear_metrics(gf_net *net)
{
    int rc = check_net(net, "gf_net_clear_metrics");
    if (rc || (rc = check_not_fitting(net, "gf_net_clear_metrics")))
        return rc;
    net->nmetrics = 0;
    return GF_OK;
}

int32_t gf_net_metric_count(const gf_net *net) { return check_net(net, "gf_net_metric_count") ? -1 : net->nmetrics; }

int gf_net_metric(const gf_net *net, int32_t index, int32_t *kind, double *param)
{
    int rc = check_net(net, "gf_net_metric");
    if (rc)
        return rc;
    gf_net *m = (gf_net *)net; /* only the error slot is written */
    if (index < 0 || index >= net->nmetrics)
        return gfi_net_fail(m, GF_ERR_RANGE, "gf_net_metric: index %d is outside 0..%d", (int)index,
                            (int)net->nmetrics - 1);
    if (kind)
        *kind = net->metrics[index].kind;
    if (param)
        *param = net->metrics[index].param;
    return GF_OK;
}

/* ---- evaluation in batches ---- */

static void gather(const float *src, size_t w, const int64_t *rows, int64_t n, float *dst)
{
    for (int64_t r = 0; r < n; r++)
        memcpy(dst + (size_t)r * w, src + (size_t)rows[r] * w, w * sizeof(float));
}

int gfi_net_evaluate_rows(gf_net *net, const float *x, const float *target, const int64_t *rows, int64_t n,
                          int64_t batch, float *bx, float *bt, double *loss, double *values, const char *fn)
{
    int64_t steps, width; /* the loss's rows per sample, and their width */
    gfi_net_loss_rows(net, 1, &steps, &width);
    size_t xw = (size_t)net->inputs, tw = (size_t)gfi_net_target_size(net);
    gfi_metric_acc acc[GF_MAX_METRICS] = {{0.0, 0.0}};
    double sum = 0.0;
    for (int64_t s = 0; s < n; s += batch) {
        int64_t b = n - s < batch ? n - s : batch;
        const float *px = x + (size_t)s * xw, *pt = target + (size_t)s * tw, *out;
        if (rows) {
            gather(x, xw, rows + s, b, bx);
            gather(target, tw, rows + s, b, bt);
            px = bx;
            pt = bt;
        }
        int rc = gfi_net_infer(net, px, b, &out, fn);
        if (rc)
            return rc;
        sum += gfi_loss_eval(&net->loss, out, pt, b * steps, width, NULL) * (double)b;
        for (int32_t i = 0; i < net->nmetrics; i++)
            gfi_metric_accumulate(&net->metrics[i], &net->loss, out, pt, b * steps, width, &acc[i]);
    }
    *loss = sum / (double)n + gfi_net_penalty(net);
    for (int32_t i = 0; i < net->nmetrics; i++)
        values[i] = gfi_metric_value(&net->metrics[i], &acc[i]);
    return GF_OK;
}

int gfi_net_check_data(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                           int64_t n, const char *fn)
{
    if (net->nlayers == 0)
        return gfi_net_fail(net, GF_ERR_STATE, "%s: the net has no layers", fn);
    if (!x || !target)
        return gfi_net_fail(net, GF_ERR_NULL, "%s: %s is NULL", fn, x ? "target" : "x");
    size_t xn, tn;
    int rc;
    if ((rc = gfi_checked_count(n, net->inputs, &xn)) || (rc = gfi_checked_count(n, gfi_net_target_size(net), &tn)))
        return gfi_net_fail(net, rc, "%s: n must be positive and n samples addressable (got %lld)", fn, (long long)n);
    int64_t rows, width; /* after the count check: n x T rows are addressable */
    gfi_net_loss_rows(net, n, &rows, &width);
    if (x_count != xn || target_count != tn)
        return gfi_net_fail(net, GF_ERR_SHAPE, "%s: %lld samples need %zu x values and %zu target values (got %zu "
                                               "and %zu)",
                            fn, (long long)n, xn, tn, x_count, target_count);
    for (int32_t i = 0; i < net->nmetrics; i++)
        if ((rc = gfi_metric_check(&net->metrics[i], &net->loss, width, fn)))
            return gfi_net_fail(net, rc, "%s", gf_last_error());
    if ((rc = gfi_data_check(net, x, n, fn)))
        return rc;
    if ((rc = gfi_loss_check_target(&net->loss, target, rows, width))) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", gf_last_error());
        return gfi_net_fail(net, rc, "%s: %s", fn, msg);
    }
    return GF_OK;
}

int gf_net_evaluate_v2(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                       int64_t n, int64_t batch, double *loss, double *values, size_t values_count)
{
    const char *fn = "gf_net_evaluate_v2";
    int rc = check_net(net, fn);
    if (rc)
        return rc;
    if (!loss)
        return gfi_net_fail(net, GF_ERR_NULL, "%s: loss is NULL", fn);
    if (values_count > GFI_COUNT_MAX(sizeof(double)))
        return gfi_net_fail(net, GF_ERR_OVERFLOW, "%s: values_count = %zu is more doubles than an array can hold (at "
                            "most %zu): a negative size converted to size_t?", fn, values_count,
                            GFI_COUNT_MAX(sizeof(double)));
    if (values_count < (size_t)net->nmetrics)
        return gfi_net_fail(net, GF_ERR_BUFFER, "%s: values holds %zu but the net has %d metrics", fn, values_count,
                            (int)net->nmetrics);
    if (net->nmetrics && !values)
        return gfi_net_fail(net, GF_ERR_NULL, "%s: values is NULL but the net has %d metrics", fn,
                            (int)net->nmetrics);
    if ((rc = gfi_net_check_data(net, x, x_count, target, target_count, n, fn)))
        return rc;
    if (batch <= 0 || batch > n)
        batch = n;
    /* Per-sample recurrent settings fix the batch of every pass: refuse before the first one. */
    if ((rc = gfi_check_layer_chunks(net, fn, "evaluation", n, batch)))
        return rc;
    double l, v[GF_MAX_METRICS];
    if ((rc = gfi_net_evaluate_rows(net, x, target, NULL, n, batch, NULL, NULL, &l, v, fn)))
        return rc;
    *loss = l;
    if (net->nmetrics)
        memcpy(values, v, (size_t)net->nmetrics * sizeof(double));
    return GF_OK;
}
