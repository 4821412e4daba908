/*
 * svg.c — the diagnostics chart, a self-contained SVG meant for a report: the net's verdict with its whole reason
 * and remedy (wrapped), then
 *   (top)    the weight-gradient norm over the recorded steps of a few chosen layers (first, middle, last hidden,
 *            output), each with its own colour and dash, on a log axis with ticks;
 *   (bottom) the delta profile across the layers (delta_pre norm per layer, log axis) at a few chosen steps, with
 *            each layer's verdict as a coloured square under its tick.
 * A zero or non-finite value has no place on a log axis: the line has a gap there, and its position is marked
 * (a hollow circle at the foot of the axis for 0, a black cross on a pale red band for NaN/Inf).  A net with
 * conv layers gets a third panel: one square per filter map, shaded by its live share, dead and saturated maps
 * marked; a layer with a time profile (recurrent, or dense on a sequence) one of its gradient norm against the
 * time step.
 */
#include "verdict.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define W 980.0
#define LEFT 90.0
#define RIGHT 800.0 /* legends to the right of this */
#define PANEL_H 260.0
#define WRAP 150    /* characters per line of the reason and remedy */

static const char *const line_colour[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"};
static const char *const line_dash[] = {"", "6 3", "2 2", "8 3 2 3", "1 3"};

static double value_at(const gf_diag *d, int32_t ago, int32_t layer, int32_t stat)
{
    const double *p = gfi_diag_at(d, ago, layer, stat);
    return p ? *p : NAN;
}

static void put_xml_char(gfi_sink *s, char c)
{
    switch (c) {
    case '&': gfi_sink_put(s, "&amp;"); break;
    case '<': gfi_sink_put(s, "&lt;"); break;
    case '>': gfi_sink_put(s, "&gt;"); break;
    case '"': gfi_sink_put(s, "&quot;"); break;
    case '\'': gfi_sink_put(s, "&apos;"); break;
    default:
        if ((unsigned char)c >= 0x20 || c == '\t') /* XML 1.0 forbids most control characters */
            gfi_sink_write(s, &c, 1);
    }
}

/* Length of the next line of str: at most WRAP characters, broken after a space where there is one. */
static size_t line_length(const char *str)
{
    size_t n = strlen(str);
    if (n <= WRAP)
        return n;
    size_t cut = WRAP;
    while (cut > WRAP / 2 && str[cut] != ' ')
        cut--;
    return cut > WRAP / 2 ? cut + 1 : WRAP;
}

static int32_t wrapped_lines(const char *str)
{
    int32_t n = 0;
    for (const char *p = str; *p; p += line_length(p))
        n++;
    return n;
}

/* str wrapped into lines of text from y, 14 px apart, after a bold label; returns the y after it. */
static double put_wrapped(gfi_sink *s, const char *label, const char *str, double y)
{
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" font-weight=\"bold\">%s</text>\n", LEFT - 70, y,
                 label);
    for (const char *p = str; *p;) {
        size_t n = line_length(p);
        gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" xml:space=\"preserve\">", LEFT - 10, y);
        for (size_t k = 0; k < n; k++)
            put_xml_char(s, p[k]);
        gfi_sink_put(s, "</text>\n");
        p += n;
        y += 14;
    }
    return y + 4;
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

/* ---- axes ---- */

typedef struct {
    double top, h;    /* panel rectangle: LEFT..RIGHT x top..top+h */
    double lo, hi;    /* log10 range of y */
    double x0, x1;    /* data range of x */
} panel;

static double px(const panel *p, double x) { return p->x1 > p->x0 ? LEFT + 10 + (x - p->x0) / (p->x1 - p->x0) * (RIGHT - LEFT - 20) : (LEFT + RIGHT) / 2; }

/* y of a positive finite value on the panel's log axis (clamped into it). */
static double py(const panel *p, double v)
{
    double e = fmin(fmax(log10(v), p->lo), p->hi);
    return p->top + p->h - (e - p->lo) / (p->hi - p->lo) * p->h;
}

/* Decade range of the finite positive values of stat over layers [0, L) and the records ago in [0, n). */
static void decades(const gf_diag *d, int32_t stat, int32_t n, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int32_t a = 0; a < n; a++)
        for (int32_t i = 0; i < d->nlayers; i++) {
            double v = value_at(d, a, i, stat);
            if (isfinite(v) && v > 0) {
                mn = fmin(mn, log10(v));
                mx = fmax(mx, log10(v));
            }
        }
    *lo = isfinite(mn) ? floor(mn) : -1;
    *hi = isfinite(mx) ? ceil(mx) : 1;
    if (*hi - *lo < 1)
        *hi = *lo + 1;
}

/* A tick step of 1, 2 or 5 x 10^k giving at most 8 ticks over span. */
static double tick_step(double span)
{
    double raw = span / 8, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

/* How many ticks lo, lo + step, ... up to hi take (at most MAX_TICKS; 0 for an empty or non-finite range). */
#define MAX_TICKS 64
static int tick_count(double lo, double hi, double step)
{
    if (!(step > 0) || !isfinite(lo) || !isfinite(hi) || hi < lo)
        return 0;
    double n = floor((hi - lo) / step + 1e-9) + 1;
    return n < MAX_TICKS ? (int)n : MAX_TICKS;
}

static void frame(gfi_sink *s, const panel *p, const char *title, const char *ylabel, const char *xlabel)
{
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\">%s</text>\n", LEFT, p->top - 10,
                 title);
    gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#000\"/>\n", LEFT,
                 p->top, RIGHT - LEFT, p->h);
    /* Ticks by an integer count: a double loop counter can stop advancing. */
    double step = fmax(1.0, ceil((p->hi - p->lo) / 8.0));
    int nticks = tick_count(p->lo, p->hi, step);
    for (int k = 0; k < nticks; k++) {
        double e = p->lo + k * step;
        double y = p->top + p->h - (e - p->lo) / (p->hi - p->lo) * p->h;
        gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">1e%+d</text>\n",
                     LEFT, y, RIGHT, y, LEFT - 5, y, LEFT, y, LEFT - 8, y + 4, (int)e);
    }
    gfi_sink_put(s, "<text x=\"24\" y=\"%.1f\" font-size=\"12\" transform=\"rotate(-90 24 %.1f)\" "
                    "text-anchor=\"middle\">%s</text>\n",
                 p->top + p->h / 2, p->top + p->h / 2, ylabel);
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%s</text>\n",
                 (LEFT + RIGHT) / 2, p->top + p->h + 44, xlabel);
}

/* Ticks and labels of the x axis from x0 to x1 (integers).  The step is at
 * least the spacing of doubles at x1 (a step count of 2^61 has spacing 512),
 * and the ticks are counted, so every tick is a distinct value. */
static void x_ticks(gfi_sink *s, const panel *p)
{
    double big = fmax(fabs(p->x0), fabs(p->x1));
    double st = fmax(fmax(tick_step(p->x1 - p->x0), 1.0), nextafter(big, INFINITY) - big);
    double first = ceil(p->x0 / st) * st;
    int nticks = tick_count(first, p->x1, st);
    for (int k = 0; k < nticks; k++) {
        double x = first + k * st;
        double X = px(p, x), Y = p->top + p->h;
        gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#000\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.0f</text>\n",
                     X, Y, X, Y + 5, X, Y + 17, x);
    }
}

/* ---- series with gaps ---- */

static void mark_zero(gfi_sink *s, const panel *p, double x, const char *what)
{
    gfi_sink_put(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#fff\" stroke=\"#000\"><title>%s is 0</title>"
                    "</circle>\n",
                 px(p, x), p->top + p->h, what);
}

static void mark_nonfinite(gfi_sink *s, const panel *p, double x, const char *what)
{
    double X = px(p, x);
    gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"%.1f\" fill=\"#f4cccc\"/>"
                    "<path d=\"M%.1f %.1f l8 8 m0 -8 l-8 8\" stroke=\"#000\" stroke-width=\"2\"><title>%s is NaN or Inf"
                    "</title></path>\n",
                 X - 3, p->top, p->h, X - 4, p->top + 4, what);
}

static void open_line(gfi_sink *s, int style)
{
    gfi_sink_put(s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" stroke-dasharray=\"%s\" points=\"",
                 line_colour[style], line_dash[style]);
}

/* Polyline of the points (x[k], v[k]); a zero or non-finite v ends the segment (a gap) and is marked instead.
 * With few points each gets a dot, so a lone point between two gaps shows too. */
static void series(gfi_sink *s, const panel *p, const double *x, const double *v, int32_t n, int style,
                   const char *what)
{
    bool open = false;
    for (int32_t k = 0; k < n; k++) {
        bool ok = isfinite(v[k]) && v[k] > 0;
        if (ok) {
            if (!open)
                open_line(s, style);
            open = true;
            gfi_sink_put(s, "%.1f,%.1f ", px(p, x[k]), py(p, v[k]));
            continue;
        }
        if (open)
            gfi_sink_put(s, "\"/>\n");
        open = false;
        if (isfinite(v[k]))
            mark_zero(s, p, x[k], what);
        else
            mark_nonfinite(s, p, x[k], what);
    }
    if (open)
        gfi_sink_put(s, "\"/>\n");
    for (int32_t k = 0; n <= 64 && k < n; k++)
        if (isfinite(v[k]) && v[k] > 0)
            gfi_sink_put(s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\" fill=\"%s\"/>\n", px(p, x[k]), py(p, v[k]),
                         line_colour[style]);
}

static void legend_entry(gfi_sink *s, int k, double y, const char *label)
{
    gfi_sink_put(s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\" "
                    "stroke-dasharray=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>\n",
                 RIGHT + 16, y, RIGHT + 46, y, line_colour[k], line_dash[k], RIGHT + 52, y + 4, label);
}

/* ---- the two panels ---- */

/* x of record ago: its training step (a probe among training records sits at step -1), or its record number
 * when the history holds only probes. */
static double record_x(const gf_diag *d, int32_t ago, bool by_step)
{
    return by_step ? (double)gfi_diag_step_at(d, ago) : (double)(d->count - 1 - ago);
}

static bool any_training(const gf_diag *d)
{
    for (int32_t a = 0; a < d->count; a++)
        if (gfi_diag_step_at(d, a) >= 0)
            return true;
    return false;
}

/* Up to 4 layers worth a line: the first, the middle, the last hidden and the output layer. */
static int32_t chosen_layers(int32_t L, int32_t *out)
{
    int32_t cand[4] = {0, (L - 1) / 2, L - 2, L - 1}, n = 0;
    for (int k = 0; k < 4; k++) {
        bool dup = cand[k] < 0;
        for (int m = 0; m < n && !dup; m++)
            dup = out[m] == cand[k];
        if (!dup)
            out[n++] = cand[k];
    }
    return n;
}

static int gradient_panel(const gf_diag *d, gfi_sink *s, double top)
{
    int32_t n = d->count, layers[4], m = chosen_layers(d->nlayers, layers);
    bool by_step = any_training(d);
    panel p = {top, PANEL_H, 0, 0, record_x(d, n - 1, by_step), record_x(d, 0, by_step)};
    for (int32_t a = 0; a < n; a++) /* probes (step -1) may sit anywhere in the history */
        p.x0 = fmin(p.x0, record_x(d, a, by_step));
    decades(d, GF_STAT_WGRAD_NORM, n, &p.lo, &p.hi);
    frame(s, &p, "weight-gradient norm over the recorded steps (log scale)", "weight-gradient norm",
          by_step ? "training step" : "record");
    x_ticks(s, &p);
    double *x = gfi_malloc((size_t)(n ? n : 1) * sizeof *x), *v = gfi_malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!x || !v) {
        gfi_free(x);
        gfi_free(v);
        return GF_ERR_NOMEM;
    }
    for (int32_t k = 0; k < m; k++) {
        for (int32_t a = n - 1, j = 0; a >= 0; a--, j++) {
            x[j] = record_x(d, a, by_step);
            v[j] = value_at(d, a, layers[k], GF_STAT_WGRAD_NORM);
        }
        series(s, &p, x, v, n, k, "the weight-gradient norm");
        char label[64];
        snprintf(label, sizeof label, "layer %d%s", (int)layers[k],
                 layers[k] == d->nlayers - 1 ? " (output)" : layers[k] == 0 ? " (input side)" : "");
        legend_entry(s, k, top + 10 + 18 * k, label);
    }
    gfi_free(x);
    gfi_free(v);
    return GF_OK;
}

/* Up to 4 records for the profile: the oldest, two between, and the latest, without repeats (ago values). */
static int32_t chosen_records(int32_t n, int32_t *out)
{
    int32_t cand[4] = {n - 1, (2 * (n - 1)) / 3, (n - 1) / 3, 0}, m = 0;
    for (int k = 0; k < 4; k++) {
        bool dup = false;
        for (int j = 0; j < m && !dup; j++)
            dup = out[j] == cand[k];
        if (!dup && cand[k] >= 0)
            out[m++] = cand[k];
    }
    return m;
}

static int verdict_strip(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s, const panel *p)
{
    for (int32_t i = 0; i < d->nlayers; i++) {
        int32_t v;
        int rc = gfi_verdict_by(d, j, i, &v, NULL, 0, NULL);
        if (rc)
            return rc;
        gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"7\" height=\"7\" fill=\"%s\"><title>layer %d: %s</title>"
                        "</rect>\n",
                     px(p, i) - 3.5, p->top + p->h + 22, verdict_colour(v), (int)i, gf_verdict_name(v));
    }
    for (int32_t v = GF_VERDICT_HEALTHY; v <= GF_VERDICT_UNKNOWN; v++)
        gfi_sink_put(s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"%s\"/><text x=\"%.1f\" "
                        "y=\"%.1f\" font-size=\"11\">%s</text>\n",
                     RIGHT + 16, p->top + 110 + 15.0 * v, verdict_colour(v), RIGHT + 30, p->top + 119 + 15.0 * v,
                     gf_verdict_name(v));
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" font-weight=\"bold\">layer verdict (squares)</text>\n",
                 RIGHT + 16, p->top + 100);
    return GF_OK;
}

static int profile_panel(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s, double top)
{
    int32_t L = d->nlayers, recs[4], m = chosen_records(d->count, recs);
    bool by_step = any_training(d);
    panel p = {top, PANEL_H, 0, 0, 0, L > 1 ? L - 1 : 1};
    decades(d, GF_STAT_DELTA_PRE_NORM, d->count, &p.lo, &p.hi);
    frame(s, &p, "delta across the layers at chosen steps (delta_pre norm, log scale; input side left)",
          "delta_pre norm", "layer");
    x_ticks(s, &p);
    double *x = gfi_malloc((size_t)(L ? L : 1) * sizeof *x), *v = gfi_malloc((size_t)(L ? L : 1) * sizeof *v);
    if (!x || !v) {
        gfi_free(x);
        gfi_free(v);
        return GF_ERR_NOMEM;
    }
    for (int32_t k = 0; k < m; k++) {
        for (int32_t i = 0; i < L; i++) {
            x[i] = i;
            v[i] = value_at(d, recs[k], i, GF_STAT_DELTA_PRE_NORM);
        }
        series(s, &p, x, v, L, k, "delta_pre");
        char label[64];
        if (by_step && gfi_diag_step_at(d, recs[k]) < 0)
            snprintf(label, sizeof label, "probe");
        else
            snprintf(label, sizeof label, "%s %.0f", by_step ? "step" : "record", record_x(d, recs[k], by_step));
        legend_entry(s, k, top + 10 + 18 * k, label);
    }
    gfi_free(x);
    gfi_free(v);
    return verdict_strip(d, j, s, &p);
}

/* ---- the conv layers' filter maps ---- */

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
static void put_channel_square(gfi_sink *s, double x, double y, int32_t layer, int64_t k, double live, int32_t act)
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

static int channel_panel(const gf_diag *d, gfi_sink *s, double top)
{
    if (!channel_rows(d))
        return GF_OK;
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\">filter maps of the conv "
                    "layers (green: share live; grey with red border: dead; orange: saturated)</text>\n",
                 LEFT, top);
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
        double y = top + 12 + CHAN_ROW * row++;
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

/* ---- the time profile of recurrent layers ---- */

/* Whether any layer has a time profile at the latest record (GF_ERR_NOMEM through *rc). */
static bool has_time_profile(const gf_diag *d, int *rc)
{
    for (int32_t i = 0; i < d->nlayers && d->count; i++) {
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

/* Decade range of every time profile's finite positive values, and the longest profile. */
static int time_range(const gf_diag *d, panel *p)
{
    double mn = INFINITY, mx = -INFINITY;
    int64_t steps = 1;
    for (int32_t i = 0; i < d->nlayers; i++) {
        int64_t n;
        double *v = gfi_layer_series(d, i, GF_SERIES_DELTA_TIME_NORM, &n);
        if (n < 0)
            return GF_ERR_NOMEM;
        steps = n > steps ? n : steps;
        for (int64_t t = 0; t < n; t++)
            if (isfinite(v[t]) && v[t] > 0) {
                mn = fmin(mn, log10(v[t]));
                mx = fmax(mx, log10(v[t]));
            }
        gfi_free(v);
    }
    p->lo = isfinite(mn) ? floor(mn) : -1;
    p->hi = isfinite(mn) ? fmax(ceil(mx), p->lo + 1) : 1;
    p->x0 = 0;
    p->x1 = (double)(steps > 1 ? steps - 1 : 1);
    return GF_OK;
}

/* ||dL/dh_t|| (recurrent) or ||dL/dy_t|| (dense on a sequence) against t at the latest record, a line per layer. */
static int time_panel(const gf_diag *d, gfi_sink *s, double top)
{
    panel p = {top, PANEL_H, 0, 0, 0, 1};
    int rc = time_range(d, &p);
    if (rc)
        return rc;
    frame(s, &p, "gradient norm against the time step at the latest record (log scale; t = 0 is the initial state)",
          "||dL/dh_t||", "time step t");
    x_ticks(s, &p);
    int k = 0;
    for (int32_t i = 0; i < d->nlayers; i++) {
        int64_t n;
        double *v = gfi_layer_series(d, i, GF_SERIES_DELTA_TIME_NORM, &n);
        if (n < 0)
            return GF_ERR_NOMEM;
        if (n == 0)
            continue;
        double *x = gfi_malloc((size_t)n * sizeof *x);
        if (!x) {
            gfi_free(v);
            return GF_ERR_NOMEM;
        }
        for (int64_t t = 0; t < n; t++)
            x[t] = (double)t;
        series(s, &p, x, v, (int32_t)n, k % 5, "||dL/dh_t||");
        char label[64];
        snprintf(label, sizeof label, "layer %d (x%.2g/step)", (int)i, value_at(d, 0, i, GF_STAT_TIME_RATE));
        legend_entry(s, k % 5, top + 10 + 18 * (k % 5), label);
        k++;
        gfi_free(x);
        gfi_free(v);
    }
    return GF_OK;
}

/* ---- the chart ---- */

static int header(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s, char *reason, char *remedy,
                  double height)
{
    int32_t v = GF_VERDICT_UNKNOWN;
    if (d->count) {
        int rc = gfi_verdict_by(d, j, -1, &v, NULL, 0, NULL);
        if (rc)
            return rc;
    }
    gfi_sink_put(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
                    "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\">\n"
                    "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n",
                 W, height, W, height);
    gfi_sink_put(s, "<text x=\"%.1f\" y=\"26\" font-size=\"17\" font-weight=\"bold\" fill=\"%s\">libgradflow "
                    "diagnostics: net verdict %s</text>\n",
                 LEFT - 70, verdict_colour(v), gf_verdict_name(v));
    double y = 48;
    if (reason)
        y = put_wrapped(s, "reason", reason, y);
    if (remedy)
        put_wrapped(s, "remedy", remedy, y);
    return GF_OK;
}

static int report_svg_by(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s);

int gfi_report_svg(const gf_diag *d, gfi_sink *s)
{
    struct gfi_judge *j = NULL;
    if (d->count && !(j = gfi_judge_of(d))) /* one analysis for every layer's verdict */
        return GF_ERR_NOMEM;
    int rc = report_svg_by(d, j, s);
    gfi_free(j);
    return rc;
}

static int report_svg_by(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s)
{
    char *reason = NULL, *remedy = NULL;
    if (d->count) {
        reason = gfi_verdict_string_by(d, j, -1, GFI_TEXT_REASON);
        remedy = reason ? gfi_verdict_string_by(d, j, -1, GFI_TEXT_REMEDY) : NULL;
        if (!remedy) {
            gfi_free(reason);
            return GF_ERR_NOMEM;
        }
    }
    int32_t lines = (reason ? wrapped_lines(reason) : 0) + (remedy ? wrapped_lines(remedy) : 0);
    double top = 48 + 14.0 * lines + 40;
    int32_t rows = channel_rows(d);
    int trc = GF_OK;
    bool timed = has_time_profile(d, &trc);
    double chan_h = rows ? 30 + CHAN_ROW * rows : 0, time_top = top + 2 * PANEL_H + 150 + chan_h + 30;
    double height = top + 2 * PANEL_H + 140 + chan_h + (timed ? PANEL_H + 100 : 0);
    if (trc) {
        gfi_free(reason);
        gfi_free(remedy);
        return trc;
    }
    int rc = header(d, j, s, reason, remedy, height);
    if (!rc && d->count)
        rc = gradient_panel(d, s, top);
    if (!rc && d->count)
        rc = profile_panel(d, j, s, top + PANEL_H + 90);
    if (!rc && d->count)
        rc = channel_panel(d, s, top + 2 * PANEL_H + 150);
    if (!rc && timed)
        rc = time_panel(d, s, time_top);
    if (!rc)
        gfi_sink_put(s, "</svg>\n");
    gfi_free(reason);
    gfi_free(remedy);
    return rc;
}
