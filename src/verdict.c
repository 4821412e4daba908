/*
 * verdict.c — the verdict API: thresholds (defaults and domains), names, and the public calls that judge a diag's
 * records (judge.c measures the signals, rules.c holds the rules and their reason text, remedy.c plans and checks
 * the remedies).  The rules and why each threshold has its value: docs/verdicts.md.
 */
#include "judge.h"
#include "verdict_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Thresholds                                                          */
/* ------------------------------------------------------------------ */

/* Documented in docs/api.md (table of defaults); why each has its value: docs/verdicts.md. */
void gfi_diag_default_thresholds(double *th)
{
    th[GF_TH_VANISH_FACTOR] = 0.1;   /* end-to-end delta gain: a decade lost between the top and the bottom */
    th[GF_TH_EXPLODE_FACTOR] = 10.0; /* and a decade gained */
    th[GF_TH_GRAD_FLOOR] = 1e-8;
    th[GF_TH_UPDATE_RATIO_SPREAD] = 2.0;
    th[GF_TH_DEAD_FRAC] = 0.5;
    th[GF_TH_SATURATED_FRAC] = 0.20;
    th[GF_TH_AVALANCHE] = 100.0;
    th[GF_TH_PLATEAU] = 1e-4;
    th[GF_TH_WEIGHT_FLOOR] = 1e-4;
    th[GF_TH_LOSS_RISE] = 0.1;
    th[GF_TH_UPDATE_FLOOR] = 1e-5;
    th[GF_TH_WEIGHT_SHRINK] = 0.1;
    th[GF_TH_WEIGHT_GROWTH] = 10.0;
    th[GF_TH_TIME_VANISH] = 1e-3;   /* across time: the whole sequence, first state over last */
    th[GF_TH_TIME_EXPLODE] = 1e3;
    th[GF_TH_TIME_VANISH_FLOOR] = 1e-8;
    th[GF_TH_TIME_EXPLODE_FLOOR] = 1e-4;
    th[GF_TH_GATE_SHUT] = 0.1192; /* sigmoid(-2) */
}

/* Domain of each threshold: NULL when value is allowed, else what is wrong. */
static const char *threshold_domain(int32_t t, double v)
{
    if (!isfinite(v))
        return "must be finite";
    switch (t) {
    case GF_TH_VANISH_FACTOR:
    case GF_TH_TIME_VANISH:
    case GF_TH_GATE_SHUT:
        return v > 0 && v < 1 ? NULL : "must be in (0, 1)";
    case GF_TH_EXPLODE_FACTOR:
    case GF_TH_TIME_EXPLODE:
    case GF_TH_AVALANCHE:
    case GF_TH_WEIGHT_GROWTH:
        return v > 1 ? NULL : "must be > 1";
    case GF_TH_DEAD_FRAC:
    case GF_TH_SATURATED_FRAC:
    case GF_TH_WEIGHT_SHRINK:
        return v > 0 && v <= 1 ? NULL : "must be in (0, 1]";
    case GF_TH_UPDATE_RATIO_SPREAD:
    case GF_TH_PLATEAU:
    case GF_TH_LOSS_RISE:
        return v > 0 ? NULL : "must be > 0";
    default: /* the floors */
        return v >= 0 ? NULL : "must be >= 0";
    }
}

int gf_diag_set_threshold(gf_diag *d, int32_t threshold, double value)
{
    int rc = gfi_diag_check(d, "gf_diag_set_threshold");
    if (rc)
        return rc;
    if (threshold < 0 || threshold >= GFI_NTHRESHOLD)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_set_threshold: unknown threshold %d", (int)threshold);
    const char *bad = threshold_domain(threshold, value);
    if (bad)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_set_threshold: threshold %d %s (got %g)", (int)threshold, bad, value);
    d->threshold[threshold] = value;
    return GF_OK;
}

int gf_diag_get_threshold(const gf_diag *d, int32_t threshold, double *value)
{
    int rc = gfi_diag_check(d, "gf_diag_get_threshold");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_diag_get_threshold: value is NULL");
    if (threshold < 0 || threshold >= GFI_NTHRESHOLD)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_get_threshold: unknown threshold %d", (int)threshold);
    *value = d->threshold[threshold];
    return GF_OK;
}

const char *gf_verdict_name(int32_t verdict)
{
    switch (verdict) {
    case GF_VERDICT_HEALTHY: return "healthy";
    case GF_VERDICT_VANISHING: return "vanishing";
    case GF_VERDICT_EXPLODING: return "exploding";
    case GF_VERDICT_DEAD: return "dead";
    case GF_VERDICT_SATURATED: return "saturated";
    case GF_VERDICT_UNKNOWN: return "unknown";
    default: return "?";
    }
}

gfi_judge *gfi_judge_of(const gf_diag *d)
{
    gfi_judge *j = gfi_malloc(sizeof *j);
    if (j)
        gfi_j_analyse(d, j);
    return j;
}

int gfi_verdict_of(const gf_diag *d, int32_t layer, int32_t *verdict, uint32_t *flags, int which, gfi_sink *text)
{
    return gfi_verdict_by(d, NULL, layer, verdict, flags, which, text);
}

int gfi_verdict_by(const gf_diag *d, const gfi_judge *judged, int32_t layer, int32_t *verdict, uint32_t *flags,
                   int which, gfi_sink *text)
{
    gfi_judge *own = judged ? NULL : gfi_judge_of(d);
    if (!judged && !own)
        return GF_ERR_NOMEM;
    const gfi_judge *j = judged ? judged : own;
    uint32_t why = layer >= 0 ? gfi_j_why_at(j, layer) : j->net_why;
    uint32_t tf = gfi_time_flags(d, layer); /* the rules across time (verdict_time.c) */
    uint32_t f = gfi_flags_of(why) | tf;
    if (verdict)
        *verdict = gfi_verdict_of_flags(f);
    if (flags)
        *flags = f ? f : 1u << GF_VERDICT_HEALTHY;
    if (text) {
        bool first = true;
        int32_t v = gfi_verdict_of_flags(f);
        if (tf && !why) {
            gfi_sink_put(text, "%s: ", gf_verdict_name(v));
        } else {
            if (tf && v != gfi_verdict_of_flags(gfi_flags_of(why)))
                gfi_sink_put(text, "%s: ", gf_verdict_name(v)); /* the rules across time found the graver one */
            first = false;
            if (which == GFI_TEXT_REASON)
                gfi_put_reason(j, text, layer);
            else
                gfi_put_remedy(j, text, layer);
        }
        gfi_time_text(d, layer, which, gfi_flags_of(why), text, &first);
    }
    gfi_free(own);
    return text && text->rc ? text->rc : GF_OK; /* a remedy's check ran out of memory */
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_layer(const gf_diag *d, int32_t layer, const char *fn)
{
    int rc = gfi_diag_check(d, fn);
    if (rc)
        return rc;
    if (layer < -1 || layer >= d->nlayers)
        return gfi_fail(GF_ERR_RANGE, "%s: layer %d is outside -1..%d", fn, (int)layer, (int)d->nlayers - 1);
    return GF_OK;
}

int gf_diag_verdict(const gf_diag *d, int32_t layer, int32_t *verdict)
{
    int rc = check_layer(d, layer, "gf_diag_verdict");
    if (rc)
        return rc;
    if (!verdict)
        return gfi_fail(GF_ERR_NULL, "gf_diag_verdict: verdict is NULL");
    if (d->count == 0) {
        *verdict = GF_VERDICT_UNKNOWN;
        return GF_OK;
    }
    rc = gfi_verdict_of(d, layer, verdict, NULL, 0, NULL);
    return rc ? gfi_fail(rc, "gf_diag_verdict: out of memory") : GF_OK;
}

int gf_diag_verdict_flags(const gf_diag *d, int32_t layer, uint32_t *flags)
{
    int rc = check_layer(d, layer, "gf_diag_verdict_flags");
    if (rc)
        return rc;
    if (!flags)
        return gfi_fail(GF_ERR_NULL, "gf_diag_verdict_flags: flags is NULL");
    if (d->count == 0) {
        *flags = 1u << GF_VERDICT_UNKNOWN;
        return GF_OK;
    }
    rc = gfi_verdict_of(d, layer, NULL, flags, 0, NULL);
    return rc ? gfi_fail(rc, "gf_diag_verdict_flags: out of memory") : GF_OK;
}

static int verdict_text(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed, int which,
                        const char *fn)
{
    int rc = check_layer(d, layer, fn);
    if (rc)
        return rc;
    if (!buf && cap)
        return gfi_fail(GF_ERR_NULL, "%s: buf is NULL but cap is %zu", fn, cap);
    gfi_sink s = {buf, cap, 0, 0};
    if (d->count == 0)
        gfi_sink_put(&s, which == GFI_TEXT_REASON ? "unknown: nothing observed yet"
                                                  : "run gf_diag_probe or train a step with the diag enabled");
    else if ((rc = gfi_verdict_of(d, layer, NULL, NULL, which, &s)))
        return gfi_fail(rc, "%s: out of memory", fn);
    return gfi_sink_finish(&s, needed, fn);
}

int gf_diag_verdict_reason(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed)
{
    return verdict_text(d, layer, buf, cap, needed, GFI_TEXT_REASON, "gf_diag_verdict_reason");
}

int gf_diag_verdict_remedy(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed)
{
    return verdict_text(d, layer, buf, cap, needed, GFI_TEXT_REMEDY, "gf_diag_verdict_remedy");
}

int gf_diag_remedy_value(const gf_diag *d, int32_t remedy, int32_t *present, double *value)
{
    int rc = gfi_diag_check(d, "gf_diag_remedy_value");
    if (rc)
        return rc;
    if (!present || !value)
        return gfi_fail(GF_ERR_NULL, "gf_diag_remedy_value: %s is NULL", present ? "value" : "present");
    if (remedy < GF_REMEDY_INIT_SCALE || remedy > GF_REMEDY_CLIP)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_remedy_value: unknown remedy %d", (int)remedy);
    rc = gfi_remedy_value(d, remedy, present, value);
    return rc ? gfi_fail(rc, "gf_diag_remedy_value: out of memory") : GF_OK;
}
