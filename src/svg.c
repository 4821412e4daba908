/*
 * svg.c — the diagnostics chart: a self-contained SVG with (top) each layer's
 * weight-gradient norm over the observed steps on a log scale, one polyline
 * per layer with a legend, and (bottom) each layer's delta-in norm at the
 * latest step as log-scale bars coloured by the layer's verdict.  Zero and
 * non-finite values cannot sit on a log axis: they are clamped to the axis
 * edge and marked (hollow circle for zero, red triangle for NaN/Inf).  A net
 * with conv layers gets a third panel: one square per filter map, shaded by
 * its live share, dead and saturated maps marked.  When a layer has a time
 * profile (a recurrent layer, or dense on a sequence), a panel below shows its
 * gradient norm against the time step, latest record.
 */
#include "verdict.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 960.0
#define LINE_TOP 70.0
#define LINE_H 300.0
#define BAR_TOP 460.0
#define BAR_H 200.0
#define LEFT 80.0
#define RIGHT 760.0 /* legend to the right of this */
#define HEIGHT 720.0
#define TIME_H 260.0 /* the time panel's plot, below the others */

static double value_at(const gf_diag *d, int32_t ago, int32_t layer, int32_t stat)
{
    const double *p = gfi_diag_at(d, ago, layer, stat);
    return p ? *p : NAN;
}

static void put_xml_text(gfi_sink *s, const char *str)
{
    for (const char *p = str; *p; p++) {
        switch (*p) {
        case '&': gfi_sink_put(s, "&amp;"); break;
        case '<': gfi_sink_put(s, "&lt;"); break;
        case '>': gfi_sink_put(s, "&gt;"); break;
        case '"': gfi_sink_put(s, "&quot;"); break;
        case '\'': gfi_sink_put(s, "&apos;"); break;
        default:
            /* XML 1.0 forbids most control characters. */
            if ((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t')
                gfi_sink_write(s, p, 1);
        }
    }
}

/* Decade range [lo, hi] of the finite positive values of stat (latest only or all records). */
static void decade_range(const gf_diag *d, int32_t stat, bool all, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    int32_t records = all ? d->count : (d->count ? 1 : 0);
    for (int32_t a = 0; a < records; a++)
        for (int32_t i = 0; i < d->nlayers; i++) {
            double v = value_at(d, a, i, stat);
            if (isfinite(v) && v > 0) {
                mn = fmin(mn, log10(v));
                mx = fmax(mx, log10(v));
            }
        }
    if (!isfinite(mn)) {
        *lo = -1;
        *hi = 1;
        return;
    }
    *lo = floor(mn);
    *hi = ceil(mx);
    if (*hi - *lo < 1)
        *hi = *lo + 1;
}

/* Layer colour: hue spread over the layers, input side blue, output side red. */
static void layer_colour(int32_t i, int32_t n, char *buf, size_t cap)
{
    double h = n > 1 ? 240.0 * (1.0 - (double)i / (n - 1)) : 240.0;
    snprintf(buf, cap, "hsl(%.0f,70%%,45%%)", h);
}

static const char *verdict_colour(int32_t v)
{
    switch (v) {
    case GF_VERDICT_HEALTHY: return "#2e8b57";
    case GF_VERDICT_VANISHING: return "#4169e1";
    case GF_VERDICT_EXPLODING: return "#d62728";
    case GF_VERDICT_DEAD: return "#555555";
    case GF_VERDICT_SATURATED: return "#ff8c00";
    default: return "#999999";
    }
}

static void y_axis(gfi_sink *s, double top, double h, double lo, double hi, const char *label)
{
    gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", LEFT, top, LEFT, top + h);
    int step = (int)ceil((hi - lo) / 8.0);
    for (double e = lo; e <= hi + 1e-9; e += step) {
        double y = top + h - (e - lo) / (hi - lo) * h;
        gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", LEFT, y, RIGHT, y);
        gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">1e%+d</text>\n", LEFT - 4,
                     y + 4, (int)e);
    }
    gfi_sink_put(s, "<text x=\"14\" y=\"%.1f\" font-size=\"12\" transform=\"rotate(-90 14 %.1f)\" "
                    "text-anchor=\"middle\">%s</text>\n",
                 top + h / 2, top + h / 2, label);
}

/* y coordinate of v on the log axis; *mark gets 0 (plain), 1 (zero/below, clamped) or 2 (non-finite). */
static double y_of(double v, double top, double h, double lo, double hi, int *mark)
{
    *mark = 0;
    if (!isfinite(v)) {
        *mark = 2;
        return top;
    }
    double e = v > 0 ? log10(v) : lo;
    if (v <= 0 || e < lo) {
        *mark = 1;
        e = lo;
    }
    if (e > hi)
        e = hi;
    return top + h - (e - lo) / (hi - lo) * h;
}

static void put_mark(gfi_sink *s, double x, double y, int mark, const char *what)
{
    if (mark == 1)
        gfi_sink_put(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"none\" stroke=\"#000\"><title>%s is 0 or "
                        "below the axis (clamped)</title></circle>\n",
                     x, y, what);
    else if (mark == 2)
        gfi_sink_put(s, "<path d=\"M%.1f %.1f l-5 9 h10 z\" fill=\"#d62728\"><title>%s is NaN or Inf</title></path>\n",
                     x, y, what);
}

static void line_panel(const gf_diag *d, gfi_sink *s)
{
    double lo, hi;
    decade_range(d, GF_STAT_WGRAD_NORM, true, &lo, &hi);
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">weight-gradient norm per layer "
                    "over the observed steps (log scale)</text>\n",
                 LEFT, LINE_TOP - 12);
    y_axis(s, LINE_TOP, LINE_H, lo, hi, "wgrad_norm");
    int32_t n = d->count;
    double dx = n > 1 ? (RIGHT - LEFT - 10) / (n - 1) : 0;
    gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n", LEFT, LINE_TOP + LINE_H,
                 RIGHT, LINE_TOP + LINE_H);
    if (n > 0)
        gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">step %lld</text>\n<text x=\"%.1f\" y=\"%.1f\" "
                        "font-size=\"11\" text-anchor=\"end\">step %lld</text>\n",
                     LEFT, LINE_TOP + LINE_H + 14, (long long)gfi_diag_step_at(d, n - 1), RIGHT,
                     LINE_TOP + LINE_H + 14, (long long)gfi_diag_step_at(d, 0));
    for (int32_t i = 0; i < d->nlayers; i++) {
        char col[32];
        layer_colour(i, d->nlayers, col, sizeof col);
        gfi_sink_put(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
        for (int32_t a = n - 1; a >= 0; a--) {
            int mark;
            double y = y_of(value_at(d, a, i, GF_STAT_WGRAD_NORM), LINE_TOP, LINE_H, lo, hi, &mark);
            gfi_sink_put(s, "%.1f,%.1f ", LEFT + 5 + dx * (n - 1 - a), y);
        }
        gfi_sink_put(s, "\"><title>layer %d</title></polyline>\n", (int)i);
        for (int32_t a = n - 1; a >= 0; a--) {
            int mark;
            double y = y_of(value_at(d, a, i, GF_STAT_WGRAD_NORM), LINE_TOP, LINE_H, lo, hi, &mark);
            put_mark(s, LEFT + 5 + dx * (n - 1 - a), y, mark, "wgrad_norm");
        }
    }
    /* Legend: one entry per layer, in columns when there are many. */
    int32_t per_col = 24;
    for (int32_t i = 0; i < d->nlayers; i++) {
        char col[32];
        layer_colour(i, d->nlayers, col, sizeof col);
        double x = RIGHT + 20 + 60 * (i / per_col), y = LINE_TOP + 12 * (i % per_col);
        gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">layer %d</text>\n",
                     x, y, x + 14, y, col, x + 17, y + 3, (int)i);
    }
}

/* Whether layer i's delta-in held NaN/Inf values in the latest record.  A measured
 * delta-in norm is NaN only then; other tensors of the layer (an update that
 * overflowed the weights) say nothing about a delta-in that was not computed. */
static bool delta_in_counted(const gf_diag *d, int32_t i)
{
    const int64_t *c = d->nonfinite ? gfi_nf_at(d->nonfinite, i, GF_TENSOR_DELTA_IN) : NULL;
    return c && c[0] + c[1] + c[2] > 0;
}

static int bar_panel(const gf_diag *d, gfi_sink *s)
{
    double lo, hi;
    decade_range(d, GF_STAT_DELTA_IN_NORM, false, &lo, &hi);
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">delta-in norm per layer at the "
                    "latest step (log scale; colour = verdict)</text>\n",
                 LEFT, BAR_TOP - 12);
    y_axis(s, BAR_TOP, BAR_H, lo, hi, "delta_in_norm");
    int32_t L = d->nlayers;
    double bw = L ? (RIGHT - LEFT - 10) / L : 0;
    for (int32_t i = 0; i < L && d->count; i++) {
        int32_t v;
        int rc = gfi_verdict_of(d, i, &v, NULL, 0, NULL);
        if (rc)
            return rc;
        int mark;
        double val = value_at(d, 0, i, GF_STAT_DELTA_IN_NORM);
        double x = LEFT + 5 + bw * i;
        if (isnan(val) && !delta_in_counted(d, i)) {
            /* Not measured (layer 0 without gf_net_set_input_grad): no bar, and no NaN mark. */
            gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\"><title>layer %d: "
                            "input gradient not computed</title>n/a</text>\n",
                         x + bw * 0.4, BAR_TOP + BAR_H - 3, (int)i);
        } else {
            double y = y_of(val, BAR_TOP, BAR_H, lo, hi, &mark);
            gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>layer %d: %g "
                            "(%s)</title></rect>\n",
                         x, y, bw * 0.8 > 1 ? bw * 0.8 : 1, BAR_TOP + BAR_H - y, verdict_colour(v), (int)i, val,
                         gf_verdict_name(v));
            put_mark(s, x + bw * 0.4, y, mark, "delta_in_norm");
        }
        if (L <= 32 || i % 5 == 0)
            gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">%d</text>\n",
                         x + bw * 0.4, BAR_TOP + BAR_H + 12, (int)i);
    }
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">layer (input side left)</text>\n",
                 (LEFT + RIGHT) / 2, BAR_TOP + BAR_H + 26);
    /* Verdict colour key. */
    for (int32_t v = GF_VERDICT_HEALTHY; v <= GF_VERDICT_UNKNOWN; v++)
        gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%.1f\" "
                        "y=\"%.1f\" font-size=\"10\">%s</text>\n",
                     RIGHT + 20, BAR_TOP + 14.0 * v, verdict_colour(v), RIGHT + 34, BAR_TOP + 14.0 * v + 9,
                     gf_verdict_name(v));
    return GF_OK;
}

/* ---- the conv layers' filter maps ---- */

#define CHAN_TOP (HEIGHT - 10)
#define CHAN_ROW 26.0
#define CHAN_MAX 96 /* squares drawn per layer; the rest are counted */

/* Layer i when it is a conv layer with channel series recorded, else NULL. */
static const gf_layer *channel_layer(const gf_diag *d, int32_t i)
{
    const gf_net *net = d->net;
    if (!net || net->magic != GFI_MAGIC_NET || i >= net->nlayers)
        return NULL;
    const gf_layer *l = net->layers[i];
    return l->ops->series && l->ops->series(l, GF_SERIES_CHANNEL_ACTIVE_FRAC, NULL, 0) > 0 ? l : NULL;
}

static int32_t channel_rows(const gf_diag *d)
{
    int32_t n = 0;
    for (int32_t i = 0; i < d->nlayers; i++)
        n += channel_layer(d, i) != NULL;
    return n;
}

/* One square per channel: the share of its values on the live side as the green's depth; a map live
 * nowhere is dark grey with a red border (dead, ReLU family) or orange (saturated, sigmoid/tanh). */
static void put_channel_square(gfi_sink *s, double x, double y, int32_t layer, int64_t k, double live,
                               int32_t act)
{
    bool off = live == 0.0, sat = off && gfi_act_is_saturating(act);
    const char *what = off ? (sat ? "saturated" : "dead") : "live";
    if (off)
        gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"14\" fill=\"%s\" stroke=\"%s\">", x, y,
                     sat ? "#ff8c00" : "#444", sat ? "#ff8c00" : "#d62728");
    else
        gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"14\" fill=\"hsl(146,50%%,%.0f%%)\">", x,
                     y, 90 - 55 * live);
    gfi_sink_put(s, "<title>layer %d channel %lld: %s, %.1f%% of its values live</title></rect>\n", (int)layer,
                 (long long)k, what, 100 * live);
}

static int channel_panel(const gf_diag *d, gfi_sink *s)
{
    if (!channel_rows(d))
        return GF_OK;
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">filter maps of the conv "
                    "layers (green: share live; grey with red border: dead; orange: saturated)</text>\n",
                 LEFT, CHAN_TOP);
    int32_t row = 0;
    for (int32_t i = 0; i < d->nlayers; i++) {
        const gf_layer *l = channel_layer(d, i);
        if (!l)
            continue;
        int64_t n = l->ops->series(l, GF_SERIES_CHANNEL_ACTIVE_FRAC, NULL, 0);
        double *live = gfi_malloc((size_t)n * sizeof *live);
        if (!live)
            return GF_ERR_NOMEM;
        l->ops->series(l, GF_SERIES_CHANNEL_ACTIVE_FRAC, live, n);
        double y = CHAN_TOP + 12 + CHAN_ROW * row++;
        gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">layer %d</text>\n",
                     LEFT - 4, y + 11, (int)i);
        int64_t off = 0;
        for (int64_t k = 0; k < n; k++) {
            off += live[k] == 0.0;
            if (k < CHAN_MAX)
                put_channel_square(s, LEFT + 9.0 * (double)k, y, i, k, live[k], l->act.kind);
        }
        gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%lld channels%s, %lld off</text>\n",
                     LEFT + 9.0 * (double)(n < CHAN_MAX ? n : CHAN_MAX) + 6, y + 11, (long long)n,
                     n > CHAN_MAX ? " (first 96 shown)" : "", (long long)off);
        gfi_free(live);
    }
    return GF_OK;
}

/* Whether any layer has a time profile at the latest record (GF_ERR_NOMEM through *rc). */
static bool has_time_profile(const gf_diag *d, int *rc)
{
    for (int32_t i = 0; i < d->nlayers; i++) {
        int64_t n;
        double *v = gfi_layer_series(d, i, GF_SERIES_DELTA_TIME_NORM, &n);
        gfi_free(v);
        if (n < 0)
            *rc = GF_ERR_NOMEM;
        if (n != 0)
            return true;
    }
    return false;
}

/* Decade range of the finite positive values of every time profile. */
static int time_range(const gf_diag *d, double *lo, double *hi, int64_t *steps)
{
    double mn = INFINITY, mx = -INFINITY;
    *steps = 1;
    for (int32_t i = 0; i < d->nlayers; i++) {
        int64_t n;
        double *v = gfi_layer_series(d, i, GF_SERIES_DELTA_TIME_NORM, &n);
        if (n < 0)
            return GF_ERR_NOMEM;
        *steps = n > *steps ? n : *steps;
        for (int64_t t = 0; t < n; t++)
            if (isfinite(v[t]) && v[t] > 0) {
                mn = fmin(mn, log10(v[t]));
                mx = fmax(mx, log10(v[t]));
            }
        gfi_free(v);
    }
    *lo = isfinite(mn) ? floor(mn) : -1;
    *hi = isfinite(mn) ? fmax(ceil(mx), *lo + 1) : 1;
    return GF_OK;
}

/* ||dL/dh_t|| (recurrent) or ||dL/dy_t|| (dense on a sequence) against t, one polyline per layer. */
static int time_panel(const gf_diag *d, gfi_sink *s, double top)
{
    double lo, hi;
    int64_t steps;
    int rc = time_range(d, &lo, &hi, &steps);
    if (rc)
        return rc;
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\">gradient norm against time "
                    "step at the latest step (log scale; t = 0 is the initial state)</text>\n",
                 LEFT, top - 12);
    y_axis(s, top, TIME_H, lo, hi, "||dL/dh_t||");
    gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>\n<text x=\"%.1f\" "
                    "y=\"%.1f\" font-size=\"11\">t = 0</text>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" "
                    "text-anchor=\"end\">t = %lld</text>\n",
                 LEFT, top + TIME_H, RIGHT, top + TIME_H, LEFT, top + TIME_H + 14, RIGHT,
                 top + TIME_H + 14, (long long)(steps - 1));
    double dx = steps > 1 ? (RIGHT - LEFT - 10) / (double)(steps - 1) : 0;
    for (int32_t i = 0; i < d->nlayers; i++) {
        int64_t n;
        double *v = gfi_layer_series(d, i, GF_SERIES_DELTA_TIME_NORM, &n);
        if (n < 0)
            return GF_ERR_NOMEM;
        if (n == 0)
            continue;
        char col[32];
        layer_colour(i, d->nlayers, col, sizeof col);
        gfi_sink_put(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
        for (int64_t t = 0; t < n; t++) {
            int mark;
            gfi_sink_put(s, "%.1f,%.1f ", LEFT + 5 + dx * (double)t, y_of(v[t], top, TIME_H, lo, hi, &mark));
        }
        gfi_sink_put(s, "\"><title>layer %d: x%.3g per step back</title></polyline>\n", (int)i,
                     value_at(d, 0, i, GF_STAT_TIME_RATE));
        for (int64_t t = 0; t < n; t++) {
            int mark;
            double y = y_of(v[t], top, TIME_H, lo, hi, &mark);
            put_mark(s, LEFT + 5 + dx * (double)t, y, mark, "||dL/dh_t||");
        }
        gfi_free(v);
    }
    return GF_OK;
}

int gfi_report_svg(const gf_diag *d, gfi_sink *s)
{
    int rc = GF_OK;
    bool timed = has_time_profile(d, &rc);
    if (rc)
        return rc;
    int32_t rows = channel_rows(d);
    double chan_h = rows ? 24 + CHAN_ROW * rows : 0, time_top = HEIGHT + chan_h + 40;
    double height = HEIGHT + chan_h + (timed ? TIME_H + 80 : 0);
    gfi_sink_put(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                    "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n",
                 W, height, W, height);
    gfi_sink_put(s, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    int32_t v = GF_VERDICT_UNKNOWN;
    if (d->count && (rc = gfi_verdict_of(d, -1, &v, NULL, 0, NULL)))
        return rc;
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"24\" font-size=\"16\" font-weight=\"bold\" fill=\"%s\">libgradflow "
                    "diagnostics: net verdict %s</text>\n",
                 LEFT, verdict_colour(v), gf_verdict_name(v));
    if (d->count) {
        char *reason = gfi_verdict_string(d, -1, GFI_TEXT_REASON);
        if (!reason)
            return GF_ERR_NOMEM;
        /* A browser does not wrap SVG text: show the start, keep the whole reason in a tooltip. */
        gfi_sink_put(s, "<text x=\"%.1f\" y=\"42\" font-size=\"11\"><title>", LEFT);
        put_xml_text(s, reason);
        gfi_sink_put(s, "</title>");
        if (strlen(reason) > 150)
            memcpy(reason + 147, "...", 4);
        put_xml_text(s, reason);
        gfi_sink_put(s, "</text>\n");
        gfi_free(reason);
    }
    line_panel(d, s);
    if ((rc = bar_panel(d, s)) || (rc = channel_panel(d, s)) || (timed && (rc = time_panel(d, s, time_top))))
        return rc;
    gfi_sink_put(s, "</svg>\n");
    return GF_OK;
}
