/* diag_stats.h — single-pass reductions used by diag.c (see diag_stats.c). */
#ifndef GF_DIAG_STATS_H
#define GF_DIAG_STATS_H

#include "internal.h"

typedef struct gfi_sq {
    double ss;    /* sum of squares */
    float maxabs;
} gfi_sq;

typedef struct gfi_full {
    double sum, ss;
    float min, max;
    size_t zeros;
} gfi_full;

/* Sum of squares and max |v|. */
void gfi_sq_scan(const float *v, size_t n, gfi_sq *out);
/* Sum and sum of squares. */
void gfi_moment_scan(const float *v, size_t n, double *sum, double *ss);
/* Gradient g: sum, squares, min, max, zeros.  Weights w: squares, max |w|
 * (in ws->max) and zeros.  One pass over both. */
void gfi_param_scan(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws);
/* Adds NaN, +Inf, -Inf counts of v to c[0..2]. */
void gfi_count_nonfinite(const float *v, size_t n, int64_t c[3]);
bool gfi_all_finite(const float *v, size_t n);
/* Index of the first NaN/Inf, or n. */
size_t gfi_first_nonfinite(const float *v, size_t n);

#endif /* GF_DIAG_STATS_H */
