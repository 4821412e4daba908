/*
 * report.c — diagnostics reports as text (per-layer table, the conv layers'
 * filter maps, verdict), CSV (the whole history) and JSON lines (history, the
 * conv layers' channels, then verdicts), into a caller buffer or a file.  The
 * SVG chart lives in svg.c.
 */
#include "verdict.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Verdict text of a layer (-1: net) in a fresh allocation; NULL when out of memory. */
char *gfi_verdict_string(const gf_diag *d, int32_t layer, int which)
{
    return gfi_verdict_string_by(d, NULL, layer, which);
}

char *gfi_verdict_string_by(const gf_diag *d, const struct gfi_judge *j, int32_t layer, int which)
{
    gfi_sink probe = {NULL, 0, 0, 0};
    if (gfi_verdict_by(d, j, layer, NULL, NULL, which, &probe))
        return NULL;
    char *buf = gfi_malloc(probe.len + 1);
    if (!buf)
        return NULL;
    gfi_sink s = {buf, probe.len + 1, 0, 0};
    if (gfi_verdict_by(d, j, layer, NULL, NULL, which, &s)) {
        gfi_free(buf);
        return NULL;
    }
    buf[s.len < probe.len ? s.len : probe.len] = '\0';
    return buf;
}

static double value_at(const gf_diag *d, int32_t ago, int32_t layer, int32_t stat)
{
    const double *p = gfi_diag_at(d, ago, layer, stat);
    return p ? *p : NAN;
}

static const char *layer_kind_name(const gf_diag *d, int32_t i, char *tmp, size_t n)
{
    if (!d->net || d->net->magic != GFI_MAGIC_NET || i >= d->net->nlayers) {
        snprintf(tmp, n, "?");
        return tmp;
    }
    const gf_layer *l = d->net->layers[i];
    snprintf(tmp, n, "%s/%s", l->ops->name, gf_activation_name(l->act.kind));
    return tmp;
}

/* ---- conv layers: the per-channel series ---- */

/* Layer i of d's net when it produces the per-channel series, else NULL. */
static const gf_layer *channel_layer(const gf_diag *d, int32_t i)
{
    const gf_net *net = d->net;
    if (!net || net->magic != GFI_MAGIC_NET || i >= net->nlayers)
        return NULL;
    const gf_layer *l = net->layers[i];
    return l->ops->series && l->ops->series(l, GF_SERIES_CHANNEL_ACTIVE_FRAC, NULL, 0) > 0 ? l : NULL;
}

/* Series key of l in a fresh allocation of *n values (*n = 0: none recorded); NULL when out of memory. */
static double *channel_series(const gf_layer *l, int32_t key, int64_t *n)
{
    *n = l->ops->series(l, key, NULL, 0);
    if (*n < 0)
        *n = 0;
    double *v = gfi_malloc((size_t)(*n ? *n : 1) * sizeof *v);
    if (v)
        l->ops->series(l, key, v, *n);
    return v;
}

/* The four series of a conv layer; GF_ERR_NOMEM leaves nothing allocated. */
typedef struct channels {
    double *dead, *sat, *live, *grad;
    int64_t ndead, nsat, nlive, ngrad;
} channels;

static void channels_free(channels *c)
{
    gfi_free(c->dead);
    gfi_free(c->sat);
    gfi_free(c->live);
    gfi_free(c->grad);
}

static int channels_read(const gf_layer *l, channels *c)
{
    c->dead = channel_series(l, GF_SERIES_DEAD_CHANNELS, &c->ndead);
    c->sat = channel_series(l, GF_SERIES_SATURATED_CHANNELS, &c->nsat);
    c->live = channel_series(l, GF_SERIES_CHANNEL_ACTIVE_FRAC, &c->nlive);
    c->grad = channel_series(l, GF_SERIES_CHANNEL_WGRAD_NORM, &c->ngrad);
    if (c->dead && c->sat && c->live && c->grad)
        return GF_OK;
    channels_free(c);
    return GF_ERR_NOMEM;
}

/* "none", or the channel indices "1, 4, 7" (at most 16, then "... (n in all)"). */
static void put_index_list(gfi_sink *s, const double *v, int64_t n)
{
    if (!n)
        gfi_sink_put(s, "none");
    for (int64_t k = 0; k < n && k < 16; k++)
        gfi_sink_put(s, k ? ", %.0f" : "%.0f", v[k]);
    if (n > 16)
        gfi_sink_put(s, ", ... (%lld in all)", (long long)n);
}

/* Index of the smallest (largest when max) of v[0..n). */
static int64_t extreme_at(const double *v, int64_t n, bool max)
{
    int64_t at = 0;
    for (int64_t k = 1; k < n; k++)
        if (max ? v[k] > v[at] : v[k] < v[at])
            at = k;
    return at;
}

/* One line per conv layer: which filter maps are dead or saturated, the least live map, the filters whose
 * gradients are the smallest and largest. */
static int report_channels_text(const gf_diag *d, gfi_sink *s)
{
    bool header = false;
    for (int32_t i = 0; i < d->nlayers; i++) {
        const gf_layer *l = channel_layer(d, i);
        channels c;
        if (!l)
            continue;
        if (channels_read(l, &c))
            return GF_ERR_NOMEM;
        if (!header)
            gfi_sink_put(s, "filter maps (conv layers, latest observed batch):\n");
        header = true;
        gfi_sink_put(s, "  layer %d %s, %lld channels: dead ", (int)i, l->ops->name, (long long)c.nlive);
        put_index_list(s, c.dead, c.ndead);
        gfi_sink_put(s, "; saturated ");
        put_index_list(s, c.sat, c.nsat);
        int64_t lo = extreme_at(c.live, c.nlive, false);
        gfi_sink_put(s, "; least live channel %lld (%.1f%% of its values live)", (long long)lo, 100 * c.live[lo]);
        if (c.ngrad) {
            int64_t gmin = extreme_at(c.grad, c.ngrad, false), gmax = extreme_at(c.grad, c.ngrad, true);
            gfi_sink_put(s, "; filter-gradient norm %.3g (channel %lld) .. %.3g (channel %lld)", c.grad[gmin],
                         (long long)gmin, c.grad[gmax], (long long)gmax);
        }
        gfi_sink_put(s, "\n");
        channels_free(&c);
    }
    return GF_OK;
}

double *gfi_layer_series(const gf_diag *d, int32_t i, int32_t key, int64_t *n)
{
    *n = 0;
    if (!d->net || d->net->magic != GFI_MAGIC_NET || i >= d->net->nlayers || d->count == 0)
        return NULL;
    const gf_layer *l = d->net->layers[i];
    int64_t len = l->ops->series ? l->ops->series(l, key, NULL, 0) : -1;
    if (len <= 0)
        return NULL;
    double *v = gfi_malloc((size_t)len * sizeof *v);
    if (!v) {
        *n = -1;
        return NULL;
    }
    *n = l->ops->series(l, key, v, len);
    return v;
}

/* Series that make a layer's time profile, in report order. */
static const int32_t time_keys[] = {GF_SERIES_DELTA_TIME_NORM, GF_SERIES_GATE_SATURATED_FRAC,
                                    GF_SERIES_FORGET_GATE_MEAN, GF_SERIES_CANDIDATE_SATURATED_FRAC};
static const char *const time_names[] = {"delta_time_norm", "gate_saturated_frac", "forget_gate_mean",
                                         "candidate_saturated_frac"};
#define NTIME ((int)(sizeof time_keys / sizeof *time_keys))

/* The time profile of layer i: every series it has (NULL where it has none).  GF_ERR_NOMEM, else GF_OK with
 * *any telling whether the layer has a profile at all. */
typedef struct profile {
    double *v[NTIME];
    int64_t n[NTIME];
} profile;

static void profile_free(profile *p)
{
    for (int k = 0; k < NTIME; k++)
        gfi_free(p->v[k]);
}

static int profile_read(const gf_diag *d, int32_t i, profile *p, bool *any)
{
    *any = false;
    memset(p, 0, sizeof *p);
    for (int k = 0; k < NTIME; k++) {
        p->v[k] = gfi_layer_series(d, i, time_keys[k], &p->n[k]);
        if (p->n[k] < 0) {
            profile_free(p);
            return GF_ERR_NOMEM;
        }
    }
    *any = p->n[0] > 0;
    return GF_OK;
}

/* ---- text ---- */

/* One line per layer with a time profile: ||dL/dh_t|| at about ten steps, the rate and the recurrent matrix. */
static int text_time_profiles(const gf_diag *d, gfi_sink *s)
{
    for (int32_t i = 0; i < d->nlayers; i++) {
        profile p;
        bool any;
        if (profile_read(d, i, &p, &any))
            return GF_ERR_NOMEM;
        if (any) {
            int64_t n = p.n[0], every = n > 11 ? (n - 1 + 9) / 10 : 1;
            double sigma = value_at(d, 0, i, GF_STAT_RECURRENT_SIGMA); /* NaN but for recurrent layers */
            gfi_sink_put(s, "time profile, layer %d: ||dL/d%s_t|| by step:", (int)i, isnan(sigma) ? "y" : "h");
            for (int64_t t = 0; t < n; t += every)
                gfi_sink_put(s, " %lld:%.2g", (long long)t, p.v[0][t]);
            if ((n - 1) % every)
                gfi_sink_put(s, " %lld:%.2g", (long long)(n - 1), p.v[0][n - 1]);
            double rate = value_at(d, 0, i, GF_STAT_TIME_RATE);
            if (isfinite(rate))
                gfi_sink_put(s, "; x%.3g per step back", rate);
            if (isfinite(sigma))
                gfi_sink_put(s, "; sigma_max(W_hh) %.3g", sigma);
            double bound = value_at(d, 0, i, GF_STAT_RECURRENT_BOUND), f = value_at(d, 0, i, GF_STAT_FORGET_GATE_MEAN);
            if (isfinite(bound))
                gfi_sink_put(s, " (bound 1/gamma %g)", bound);
            if (isfinite(f))
                gfi_sink_put(s, "; mean forget/update gate %.2f, %.0f%% gates saturated", f,
                             100 * value_at(d, 0, i, GF_STAT_GATE_SATURATED_FRAC));
            gfi_sink_put(s, "\n");
        }
        profile_free(&p);
    }
    return GF_OK;
}

/* A table cell: %12.3e, or nan/inf spelled the same on every platform. */
static const char *cell(double v, char *buf, size_t n)
{
    if (isfinite(v))
        snprintf(buf, n, "%12.3e", v);
    else
        snprintf(buf, n, "%12s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    return buf;
}

static int report_text_by(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s);

static int report_text(const gf_diag *d, gfi_sink *s)
{
    if (d->count == 0) {
        gfi_sink_put(s, "no observation yet (verdict unknown): run gf_diag_probe or train with the diag enabled\n");
        return GF_OK;
    }
    struct gfi_judge *j = gfi_judge_of(d); /* one analysis for every layer's verdict */
    if (!j)
        return GF_ERR_NOMEM;
    int rc = report_text_by(d, j, s);
    gfi_free(j);
    return rc;
}

static int report_text_by(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s)
{
    int64_t step = gfi_diag_step_at(d, 0);
    if (step < 0)
        gfi_sink_put(s, "probe (no update), %lld observations in all\n", (long long)d->observed);
    else
        gfi_sink_put(s, "step %lld, %lld observations in all\n", (long long)step, (long long)d->observed);
    gfi_sink_put(s, "%5s  %-18s %12s %12s %12s %12s %6s %6s %9s  %s\n", "layer", "kind/activation", "delta_in_norm",
                 "wgrad_norm", "update_ratio", "act_var", "dead%", "sat%", "nonfinite", "verdict");
    for (int32_t i = 0; i < d->nlayers; i++) {
        char kind[64];
        int32_t v;
        int rc = gfi_verdict_by(d, j, i, &v, NULL, 0, NULL);
        if (rc)
            return rc;
        char c0[32], c1[32], c2[32], c3[32];
        gfi_sink_put(s, "%5d  %-18s %s %s %s %s %6.1f %6.1f %9.0f  %s\n", (int)i, layer_kind_name(d, i, kind, sizeof kind),
                     cell(value_at(d, 0, i, GF_STAT_DELTA_IN_NORM), c0, sizeof c0),
                     cell(value_at(d, 0, i, GF_STAT_WGRAD_NORM), c1, sizeof c1),
                     cell(value_at(d, 0, i, GF_STAT_UPDATE_RATIO), c2, sizeof c2),
                     cell(value_at(d, 0, i, GF_STAT_ACT_VAR), c3, sizeof c3), 100 * value_at(d, 0, i, GF_STAT_DEAD_FRAC),
                     100 * value_at(d, 0, i, GF_STAT_SATURATED_FRAC), value_at(d, 0, i, GF_STAT_NONFINITE),
                     gf_verdict_name(v));
    }
    int32_t v;
    int rc = report_channels_text(d, s);
    if (!rc)
        rc = text_time_profiles(d, s);
    if (rc || (rc = gfi_verdict_by(d, j, -1, &v, NULL, 0, NULL)))
        return rc;
    gfi_sink_put(s, "net verdict: %s\nreason: ", gf_verdict_name(v));
    if ((rc = gfi_verdict_by(d, j, -1, NULL, NULL, GFI_TEXT_REASON, s)))
        return rc;
    gfi_sink_put(s, "\nremedy: ");
    if ((rc = gfi_verdict_by(d, j, -1, NULL, NULL, GFI_TEXT_REMEDY, s)))
        return rc;
    gfi_sink_put(s, "\n");
    return GF_OK;
}

/* ---- CSV ---- */

static void put_number(gfi_sink *s, double v, const char *nonfinite_as)
{
    if (isfinite(v))
        gfi_sink_put(s, "%.9g", v);
    else if (nonfinite_as)
        gfi_sink_put(s, "%s", nonfinite_as);
    else
        gfi_sink_put(s, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

/* After the statistics, when some layer has a time profile: an empty line, then a second table with its own
 * header, one row per layer and time step (a series the layer lacks is empty). */
static int csv_time_profiles(const gf_diag *d, gfi_sink *s)
{
    bool header = false;
    for (int32_t i = 0; i < d->nlayers; i++) {
        profile p;
        bool any;
        if (profile_read(d, i, &p, &any))
            return GF_ERR_NOMEM;
        if (any && !header) {
            gfi_sink_put(s, "\nlayer,t");
            for (int k = 0; k < NTIME; k++)
                gfi_sink_put(s, ",%s", time_names[k]);
            gfi_sink_put(s, "\n");
            header = true;
        }
        for (int64_t t = 0; any && t < p.n[0]; t++) {
            gfi_sink_put(s, "%d,%lld", (int)i, (long long)t);
            for (int k = 0; k < NTIME; k++) {
                gfi_sink_put(s, ",");
                if (t < p.n[k])
                    put_number(s, p.v[k][t], NULL);
            }
            gfi_sink_put(s, "\n");
        }
        profile_free(&p);
    }
    return GF_OK;
}

static int report_csv(const gf_diag *d, gfi_sink *s)
{
    gfi_sink_put(s, "step,layer");
    for (int32_t k = 0; k < GFI_NSTAT; k++)
        gfi_sink_put(s, ",%s", gf_stat_name(k));
    gfi_sink_put(s, "\n");
    for (int32_t a = d->count - 1; a >= 0; a--)
        for (int32_t i = 0; i < d->nlayers; i++) {
            gfi_sink_put(s, "%lld,%d", (long long)gfi_diag_step_at(d, a), (int)i);
            for (int32_t k = 0; k < GFI_NSTAT; k++) {
                gfi_sink_put(s, ",");
                put_number(s, value_at(d, a, i, k), NULL);
            }
            gfi_sink_put(s, "\n");
        }
    return csv_time_profiles(d, s);
}

/* ---- JSON lines ---- */

static void put_json_string(gfi_sink *s, const char *str)
{
    gfi_sink_write(s, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p == '"' || *p == '\\')
            gfi_sink_put(s, "\\%c", *p);
        else if (*p == '\n')
            gfi_sink_put(s, "\\n");
        else if (*p == '\t')
            gfi_sink_put(s, "\\t");
        else if (*p < 0x20)
            gfi_sink_put(s, "\\u%04x", *p);
        else
            gfi_sink_write(s, (const char *)p, 1);
    }
    gfi_sink_write(s, "\"", 1);
}

static int put_json_verdict(const gf_diag *d, const struct gfi_judge *j, gfi_sink *s, int32_t layer)
{
    int32_t v;
    uint32_t flags;
    int rc = gfi_verdict_by(d, j, layer, &v, &flags, 0, NULL);
    if (rc)
        return rc;
    char *reason = gfi_verdict_string_by(d, j, layer, GFI_TEXT_REASON);
    char *remedy = reason ? gfi_verdict_string_by(d, j, layer, GFI_TEXT_REMEDY) : NULL;
    if (!remedy) {
        gfi_free(reason);
        return GF_ERR_NOMEM;
    }
    gfi_sink_put(s, "{\"type\":\"verdict\",\"layer\":%d,\"verdict\":", (int)layer);
    put_json_string(s, gf_verdict_name(v));
    gfi_sink_put(s, ",\"flags\":[");
    bool first = true;
    for (int32_t k = GF_VERDICT_HEALTHY; k <= GF_VERDICT_UNKNOWN; k++)
        if (flags & (1u << k)) {
            if (!first)
                gfi_sink_put(s, ",");
            put_json_string(s, gf_verdict_name(k));
            first = false;
        }
    gfi_sink_put(s, "],\"reason\":");
    put_json_string(s, reason);
    gfi_sink_put(s, ",\"remedy\":");
    put_json_string(s, remedy);
    gfi_sink_put(s, "}\n");
    gfi_free(reason);
    gfi_free(remedy);
    return GF_OK;
}

static void put_json_numbers(gfi_sink *s, const char *name, const double *v, int64_t n)
{
    gfi_sink_put(s, ",\"%s\":[", name);
    for (int64_t k = 0; k < n; k++) {
        if (k)
            gfi_sink_put(s, ",");
        put_number(s, v[k], "null");
    }
    gfi_sink_put(s, "]");
}

/* {"type":"channels","layer":i,"dead":[..],"saturated":[..],"active_frac":[..],"wgrad_norm":[..]} per conv layer. */
static int report_channels_json(const gf_diag *d, gfi_sink *s)
{
    for (int32_t i = 0; i < d->nlayers; i++) {
        const gf_layer *l = channel_layer(d, i);
        channels c;
        if (!l)
            continue;
        if (channels_read(l, &c))
            return GF_ERR_NOMEM;
        gfi_sink_put(s, "{\"type\":\"channels\",\"layer\":%d", (int)i);
        put_json_numbers(s, "dead", c.dead, c.ndead);
        put_json_numbers(s, "saturated", c.sat, c.nsat);
        put_json_numbers(s, "active_frac", c.live, c.nlive);
        put_json_numbers(s, "wgrad_norm", c.grad, c.ngrad);
        gfi_sink_put(s, "}\n");
        channels_free(&c);
    }
    return GF_OK;
}

/* {"type":"time","step":..,"layer":i,"delta_time_norm":[..],...} per layer with a time profile (latest). */
static int json_time_profiles(const gf_diag *d, gfi_sink *s)
{
    for (int32_t i = 0; i < d->nlayers; i++) {
        profile p;
        bool any;
        if (profile_read(d, i, &p, &any))
            return GF_ERR_NOMEM;
        if (any) {
            gfi_sink_put(s, "{\"type\":\"time\",\"step\":%lld,\"layer\":%d", (long long)gfi_diag_step_at(d, 0), (int)i);
            for (int k = 0; k < NTIME; k++) {
                if (!p.v[k])
                    continue;
                gfi_sink_put(s, ",");
                put_json_string(s, time_names[k]);
                gfi_sink_put(s, ":[");
                for (int64_t t = 0; t < p.n[k]; t++) {
                    if (t)
                        gfi_sink_put(s, ",");
                    put_number(s, p.v[k][t], "null");
                }
                gfi_sink_put(s, "]");
            }
            gfi_sink_put(s, "}\n");
        }
        profile_free(&p);
    }
    return GF_OK;
}

static int report_json(const gf_diag *d, gfi_sink *s)
{
    for (int32_t a = d->count - 1; a >= 0; a--)
        for (int32_t i = 0; i < d->nlayers; i++) {
            gfi_sink_put(s, "{\"type\":\"stats\",\"step\":%lld,\"layer\":%d", (long long)gfi_diag_step_at(d, a), (int)i);
            for (int32_t k = 0; k < GFI_NSTAT; k++) {
                gfi_sink_put(s, ",");
                put_json_string(s, gf_stat_name(k));
                gfi_sink_put(s, ":");
                put_number(s, value_at(d, a, i, k), "null"); /* JSON has no NaN */
            }
            gfi_sink_put(s, "}\n");
        }
    if (d->count == 0) {
        gfi_sink_put(s, "{\"type\":\"verdict\",\"layer\":-1,\"verdict\":\"unknown\",\"flags\":[\"unknown\"],"
                        "\"reason\":\"nothing observed yet\",\"remedy\":\"run gf_diag_probe or train a step\"}\n");
        return GF_OK;
    }
    int rc = report_channels_json(d, s);
    if (!rc)
        rc = json_time_profiles(d, s);
    struct gfi_judge *j = rc ? NULL : gfi_judge_of(d); /* one analysis for every layer's verdict */
    if (!rc && !j)
        rc = GF_ERR_NOMEM;
    for (int32_t i = 0; i < d->nlayers && !rc; i++)
        rc = put_json_verdict(d, j, s, i);
    if (!rc)
        rc = put_json_verdict(d, j, s, -1);
    gfi_free(j);
    return rc;
}

/* ---- entry points ---- */

static int generate(const gf_diag *d, int32_t format, gfi_sink *s)
{
    switch (format) {
    case GF_REPORT_TEXT: return report_text(d, s);
    case GF_REPORT_CSV: return report_csv(d, s);
    case GF_REPORT_JSON: return report_json(d, s);
    default: return gfi_report_svg(d, s);
    }
}

static int check_format(const gf_diag *d, int32_t format, const char *fn)
{
    int rc = gfi_diag_check(d, fn);
    if (rc)
        return rc;
    if (format < GF_REPORT_TEXT || format > GF_REPORT_SVG)
        return gfi_fail(GF_ERR_INVALID, "%s: unknown report format %d", fn, (int)format);
    return GF_OK;
}

int gf_diag_report(const gf_diag *d, int32_t format, char *buf, size_t cap, size_t *needed)
{
    int rc = check_format(d, format, "gf_diag_report");
    if (rc)
        return rc;
    if (!buf && cap)
        return gfi_fail(GF_ERR_NULL, "gf_diag_report: buf is NULL but cap is %zu", cap);
    gfi_sink s = {buf, cap, 0, 0};
    if ((rc = generate(d, format, &s)))
        return gfi_fail(rc, "gf_diag_report: out of memory");
    return gfi_sink_finish(&s, needed, "gf_diag_report");
}

int gf_diag_report_file(const gf_diag *d, int32_t format, const char *path)
{
    int rc = check_format(d, format, "gf_diag_report_file");
    if (rc)
        return rc;
    if (!path)
        return gfi_fail(GF_ERR_NULL, "gf_diag_report_file: path is NULL");
    /* Measure, then render into one allocation and write it out. */
    gfi_sink m = {NULL, 0, 0, 0};
    if ((rc = generate(d, format, &m)))
        return gfi_fail(rc, "gf_diag_report_file: out of memory");
    char *buf = gfi_malloc(m.len + 1);
    if (!buf)
        return gfi_fail(GF_ERR_NOMEM, "gf_diag_report_file: cannot allocate %zu bytes", m.len + 1);
    gfi_sink s = {buf, m.len + 1, 0, 0};
    if ((rc = generate(d, format, &s))) {
        gfi_free(buf);
        return gfi_fail(rc, "gf_diag_report_file: out of memory");
    }
    size_t len = s.len < m.len ? s.len : m.len;
    /* Replaced atomically: a failure part way leaves the previous report whole. */
    rc = gfi_file_replace(path, buf, len, "gf_diag_report_file");
    gfi_free(buf);
    return rc;
}
