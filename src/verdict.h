/*
 * verdict.h — private helpers shared by verdict.c, report.c and svg.c: the
 * verdict text of a layer (or of the net, layer -1).  The text sink is in
 * internal.h.
 */
#ifndef GF_VERDICT_H
#define GF_VERDICT_H

#include "diag.h"


enum { GFI_TEXT_REASON = 0, GFI_TEXT_REMEDY = 1 };
/* Verdict, flags and text of layer (or -1 for the net) of an observed diag
 * (count > 0); layer is assumed in range.  text may be NULL. */
int gfi_verdict_of(const gf_diag *d, int32_t layer, int32_t *verdict, uint32_t *flags, int which, gfi_sink *text);

/* The same text in a fresh gfi_malloc'd string (NULL when out of memory). */
char *gfi_verdict_string(const gf_diag *d, int32_t layer, int which);

/* A report reads every layer's verdict, and each call above analyses the whole history again: it analyses d once
 * (gfi_judge_of; NULL when out of memory, freed with gfi_free) and passes the judge to the calls below, which
 * are the calls above reading j (j NULL: they analyse d themselves). */
struct gfi_judge;
struct gfi_judge *gfi_judge_of(const gf_diag *d);
int gfi_verdict_by(const gf_diag *d, const struct gfi_judge *j, int32_t layer, int32_t *verdict, uint32_t *flags,
                   int which, gfi_sink *text);
char *gfi_verdict_string_by(const gf_diag *d, const struct gfi_judge *j, int32_t layer, int which);
/* verdict_conv.c: the backward gain of conv layer i's activation at the latest record,
 * ||d loss / d z|| / ||d loss / d y||; NaN for a layer that is not a conv with an activation,
 * the top layer, or one not measured. */
double gfi_conv_act_gain(const gf_diag *d, int32_t i);
/* Over every conv layer where the gain is measured: how many, the first and last, the first's
 * activation, their product and geometric mean (1 when there are none). */
typedef struct gfi_conv_gain {
    int32_t layers, lo, hi, act;
    double product, mean;
} gfi_conv_gain;
void gfi_conv_gain_scan(const gf_diag *d, gfi_conv_gain *g);
/* For a conv layer, "; dead filter maps: 1, 4, 7 of 16" (key GF_SERIES_DEAD_CHANNELS or _SATURATED_CHANNELS)
 * after a dead or saturated clause, so the reason names the channels; nothing for other layers. */
void gfi_conv_put_channels(const gf_diag *d, int32_t i, int32_t key, gfi_sink *s);

/* report.c: series `key` of layer i at the latest observation in a fresh gfi_malloc'd array of *n values;
 * NULL with *n = 0 when the layer has none (or nothing recorded), NULL with *n = -1 when out of memory. */
double *gfi_layer_series(const gf_diag *d, int32_t i, int32_t key, int64_t *n);
/* svg.c: the chart of gf_diag_report(GF_REPORT_SVG). */
int gfi_report_svg(const gf_diag *d, gfi_sink *s);

#endif /* GF_VERDICT_H */
